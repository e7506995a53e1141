"""LiteRT GPU delegate (OpenCL/OpenGL on Android): the builtin ops it takes.

The GPU delegate computes in float16 by default; quantized models are run by
dequantizing their weights. Ops outside this list stay on the CPU, with a
hand-over (tensor copy) at each GPU partition boundary.
"""

from __future__ import annotations

GPU_OPS = frozenset({
    "ABS", "ADD", "AVERAGE_POOL_2D", "BATCH_MATMUL", "CAST", "CONCATENATION", "CONV_2D", "COS",
    "DEPTH_TO_SPACE", "DEPTHWISE_CONV_2D", "DEQUANTIZE", "DIV", "ELU", "EXP", "FLOOR", "FULLY_CONNECTED",
    "HARD_SWISH", "LEAKY_RELU", "LOG", "LOGISTIC", "MAX_POOL_2D", "MAXIMUM", "MEAN", "MINIMUM", "MIRROR_PAD",
    "MUL", "NEG", "PACK", "PAD", "POW", "PRELU", "QUANTIZE", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "RELU",
    "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "RSQRT", "SIN", "SLICE",
    "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT", "SQRT", "SQUARE", "SQUARED_DIFFERENCE", "STRIDED_SLICE", "SUB", "SUM",
    "TANH", "TRANSPOSE", "TRANSPOSE_CONV",
})

__all__ = ["GPU_OPS"]
