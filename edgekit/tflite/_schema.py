"""The TFLite flatbuffer schema, from the ai-edge-litert wheel (see edgekit.tflite.model for why).

The object API (``ModelT`` and friends) is what :mod:`edgekit.core.tflite_builder` builds with.

Re-exported here so that exactly one module knows where the schema comes from.
"""

from __future__ import annotations

from edgekit.errors import MissingDependency

try:
    from ai_edge_litert.schema_py_generated import *  # noqa: F403
    from ai_edge_litert.schema_py_generated import (  # noqa: F401
        ActivationFunctionType,
        BufferT,
        BuiltinOperator,
        BuiltinOptions,
        BuiltinOptions2,
        BuiltinOptions2Creator,
        BuiltinOptionsCreator,
        CombinerType,
        FullyConnectedOptionsWeightsFormat,
        LSTMKernelType,
        MirrorPadMode,
        Model,
        ModelT,
        OperatorCodeT,
        OperatorT,
        Padding,
        QuantizationParametersT,
        SubGraphT,
        TensorT,
        TensorType,
    )
except ImportError as exc:  # pragma: no cover - base install always has it
    raise MissingDependency(
        f"Reading .tflite files needs the LiteRT schema from the 'ai-edge-litert' package ({exc}).",
        hint="pip install ai-edge-litert",
    ) from exc
