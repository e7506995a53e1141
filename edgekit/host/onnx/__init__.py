"""ONNX in (host-only): graph helpers (:mod:`.graph`), the onnx2tf worker process (:mod:`.worker`),
loading and converting (:mod:`.load`), the onnxruntime-vs-float-TFLite check (:mod:`.check`) and the
onnxruntime reference for verify (:mod:`.reference`)."""
