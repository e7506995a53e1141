"""Workstation-only conversion: loaders (keras, saved_model, onnx), calibration data, quantize, prune.

Nothing in this package may be imported by device-side code paths; heavy
packages are imported inside functions through :func:`edgekit.deps.require`.
"""
