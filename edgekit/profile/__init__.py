"""Device-safe profiling: device profile schema and registry, per-op cost model, latency estimator,
activation-arena planner, XNNPACK delegate model and Edge TPU mapping. Never imports TensorFlow."""
