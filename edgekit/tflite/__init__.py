"""Device-safe TFLite support: the flatbuffer reader (model.py) and the one runtime loader (runtime.py)."""
