"""Pruning-aware sizing: sparsity, compressed size, what-if magnitude pruning, device fits.

Device-safe except :mod:`edgekit.sizing.source_size`, which reads .keras / SavedModel / .onnx
models on the workstation and imports TensorFlow/onnx only inside its functions.
"""
