"""Quantize a float .tflite without TensorFlow (device-safe; ai-edge-quantizer from the ``quantize`` extra).

``floatmodel`` checks a float model and folds float16 weights; ``stats`` measures activation
ranges on calibration (and check) data; ``aeq`` turns a :class:`~edgekit.core.recipe.QuantRecipe`
into an ai-edge-quantizer run; ``equalize`` does cross-layer equalization and bias correction on
the float weights; ``pipeline`` is `edgekit convert MODEL.tflite`; ``check`` judges a conversion
with verify's metrics and thresholds.
"""
