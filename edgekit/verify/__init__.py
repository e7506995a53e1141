"""`edgekit verify`: metrics, thresholds, comparison and the .tflite runner are device-safe
(numpy + the TFLite runtime); :mod:`edgekit.verify.workstation` and :mod:`edgekit.verify.explain`
load original models and TensorFlow (inside functions) and run only on the workstation.
"""
