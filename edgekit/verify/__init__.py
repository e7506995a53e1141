"""`edgekit verify`, device side: metrics, thresholds, comparison, labels and the .tflite runner
(numpy + the TFLite runtime). The workstation side lives in :mod:`edgekit.host.verify`.
"""
