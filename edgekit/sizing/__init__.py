"""Pruning-aware sizing of .tflite files: sparsity, compressed size, what-if magnitude pruning, device fits.

Device-safe. Sizing of float source models (.keras / SavedModel / .onnx) is host-only:
:mod:`edgekit.host.source_size`.
"""
