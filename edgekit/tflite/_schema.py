"""The TFLite flatbuffer schema, from the ai-edge-litert wheel (see edgekit.tflite.model for why).

Re-exported here so that exactly one module knows where the schema comes from.
"""

from __future__ import annotations

from edgekit.errors import MissingDependency

try:
    from ai_edge_litert.schema_py_generated import *  # noqa: F403
    from ai_edge_litert.schema_py_generated import (  # noqa: F401
        ActivationFunctionType,
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
        Padding,
        TensorType,
    )
except ImportError as exc:  # pragma: no cover - base install always has it
    raise MissingDependency(
        f"Reading .tflite files needs the LiteRT schema from the 'ai-edge-litert' package ({exc}).",
        hint="pip install ai-edge-litert",
    ) from exc
