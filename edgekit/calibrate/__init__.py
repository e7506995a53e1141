"""`edgekit calibrate`: fit a device profile for the machine it runs on (device-safe, no TensorFlow).

microbench.py  single-op models, built with the core's .tflite builder (edgekit.core.tflite_builder)
blocks.py      small-block models (inverted residual, squeeze-excite + hard-swish, bottleneck, dense)
runner.py      timing (process CPU time at one thread), delegate placement, peak-RSS probes
fit.py         least squares of the profile's figures from the measurements
machine.py     cores, clock, SIMD, RAM, measured copy bandwidth
pipeline.py    measure -> fit -> validate through edgekit.profile.schema -> write (edgekit.core.profile_toml)
"""
