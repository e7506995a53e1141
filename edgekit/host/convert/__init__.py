"""`edgekit convert`: loaders (Keras, SavedModel; ONNX lives in :mod:`edgekit.host.onnx`), the TF converter,
pruning, and the validate stage. Host-only."""
