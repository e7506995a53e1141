"""edgekit's own ONNX -> TensorFlow lowering (the ``lower`` backend), op by op, in the ONNX layout.

onnx2tf moves tensors channels-last and rewrites every op for that layout; most
of its wrong results come from that guess. This backend does not guess: every
ONNX op is written with TensorFlow ops following the ONNX specification, on
tensors in the ONNX layout (a ``Conv`` transposes to channels-last around the
TF convolution and back). Shapes are static (edgekit fixes the inputs first),
so shape arithmetic is computed at conversion time. The result is a SavedModel
with the same signature as the onnx2tf backend's (keys = the ONNX names), so
edgekit's quantization and checks take it unchanged.

Modules: :mod:`.graph` (the walk over the graph, constants, errors),
:mod:`.ops_math`, :mod:`.ops_nn`, :mod:`.ops_shape`, :mod:`.ops_rnn`, :mod:`.ops_signal` (the op
table), :mod:`.convert` (the worker entry point).
"""
