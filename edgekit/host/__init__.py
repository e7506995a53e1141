"""Host-only code: runs on the workstation with the ``convert`` extra (TensorFlow, onnx, onnx2tf).

Conversion (:mod:`.convert`), ONNX loading, checking and the onnxruntime
reference (:mod:`.onnx`), verify's workstation side (:mod:`.verify`) and sizing
of float source models (:mod:`.source_size`). Modules here depend on
:mod:`edgekit.core` and the device-safe packages; no device-safe module imports
them (``tests/test_import_graph.py``). Heavy packages are imported inside
functions through :func:`edgekit.deps.require`, so a light install still gets a
clear ``pip install 'edgekit[convert]'`` instead of an ImportError.
"""
