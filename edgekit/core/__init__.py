"""The neutral core: the vocabulary every part of edgekit shares.

Device-safe (numpy, the standard library, the LiteRT flatbuffer schema and tomli-w)
and importing nothing from :mod:`edgekit.host`: source formats and tensor specs (:mod:`.source`), the
quantization modes and the one quantize/dequantize (:mod:`.quant`), input-shape
resolution (:mod:`.shapes`), progress of long work (:mod:`.progress`), what every
command's result shares (:mod:`.result`), the ``.tflite`` builder
(:mod:`.tflite_builder`) and the device-profile TOML writer (:mod:`.profile_toml`). Host-only code depends on
this package, never the reverse; ``tests/test_import_graph.py`` holds that.
"""
