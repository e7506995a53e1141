"""The reader's own flatbuffer access (edgekit.tflite.flat) against the runtime's generated schema module.

The reader walks ten TFLite tables by field slot instead of executing ``schema_py_generated`` (its ~480
classes cost a small board more than the rest of reading a model). Here every value it reads is checked
against what the generated module reads from the same bytes, on real converted models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgekit.tflite import names
from edgekit.tflite.model import TFLiteModel, load_model


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _generated_options(S: Any, op: Any) -> dict[str, Any]:  # noqa: N803
    from edgekit.tflite.options import _options_dict

    options = _options_dict(S.BuiltinOptionsCreator(op.BuiltinOptionsType(), op.BuiltinOptions()))
    if not options and op.BuiltinOptions2Type():
        options = _options_dict(S.BuiltinOptions2Creator(op.BuiltinOptions2Type(), op.BuiltinOptions2()))
    return options


def _vector(table: Any, name: str) -> list[Any]:
    return [] if getattr(table, f"{name}IsNone")() else getattr(table, f"{name}AsNumpy")().tolist()


def assert_same_as_generated(path: Path) -> int:
    """Compare every field the reader reads with the generated module's reading; returns the number of ops."""
    S = _schema()  # noqa: N806
    data = path.read_bytes()
    ours: TFLiteModel = load_model(path)
    gen = S.Model.GetRootAs(data, 0)
    assert ours.schema_version == gen.Version()
    assert ours.description == (gen.Description() or b"").decode()
    assert ours.metadata_names == tuple(gen.Metadata(i).Name().decode() for i in range(gen.MetadataLength()))
    assert len(ours.subgraphs) == gen.SubgraphsLength()
    ops = 0
    for sg, gsg in ((sg, gen.Subgraphs(sg.index)) for sg in ours.subgraphs):
        assert list(sg.inputs) == _vector(gsg, "Inputs") and list(sg.outputs) == _vector(gsg, "Outputs")
        assert len(sg.tensors) == gsg.TensorsLength() and len(sg.operators) == gsg.OperatorsLength()
        for t in sg.tensors:
            g = gsg.Tensors(t.index)
            assert t.name == g.Name().decode()
            assert list(t.shape) == _vector(g, "Shape")
            assert list(t.shape_signature) == (_vector(g, "ShapeSignature") or _vector(g, "Shape"))
            assert t.dtype == names.TENSOR_TYPE[g.Type()].lower()
            assert t.buffer == g.Buffer() and t.is_variable == g.IsVariable()
            assert t.sparse == (g.Sparsity() is not None)
            q = g.Quantization()
            if t.quant is None:
                assert q is None or q.ScaleLength() == 0
            else:
                assert t.quant.scales.tolist() == q.ScaleAsNumpy().tolist()
                assert t.quant.zero_points.tolist() == (_vector(q, "ZeroPoint") or [0] * q.ScaleLength())
                assert t.quant.quantized_dimension == q.QuantizedDimension()
            gbuf = gen.Buffers(g.Buffer())
            if t.is_constant and not gbuf.Offset():
                assert bytes(t._data or b"") == gbuf.DataAsNumpy().tobytes()
        for op in sg.operators:
            g = gsg.Operators(op.index)
            code = gen.OperatorCodes(g.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            assert op.builtin_code == builtin and op.version == code.Version()
            if builtin != S.BuiltinOperator.CUSTOM:
                assert op.name == next(k for k, v in vars(S.BuiltinOperator).items() if v == builtin)
            assert list(op.inputs) == _vector(g, "Inputs") and list(op.outputs) == _vector(g, "Outputs")
            if op.builtin:
                assert op.options == _generated_options(S, g), op.name
            ops += 1
    for sig, i in zip(ours.signatures, range(gen.SignatureDefsLength()), strict=True):
        gsig = gen.SignatureDefs(i)
        assert sig.key == gsig.SignatureKey().decode() and sig.subgraph_index == gsig.SubgraphIndex()
        assert sig.inputs == {gsig.Inputs(j).Name().decode(): gsig.Inputs(j).TensorIndex()
                              for j in range(gsig.InputsLength())}
    return ops


@pytest.mark.device
def test_name_tables_are_the_installed_runtimes() -> None:
    """names.py is the runtime's enum; a newer runtime's extra ops still get their names (from its schema)."""
    S = _schema()  # noqa: N806
    for table, cls in ((names.BUILTIN_OPERATOR, S.BuiltinOperator), (names.TENSOR_TYPE, S.TensorType)):
        runtime = {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}
        missing = sorted(set(runtime) - set(table))
        assert not missing, f"the runtime knows codes {missing}: run scripts/gen_tflite_names.py"
        assert {k: table[k] for k in runtime} == runtime


@pytest.mark.device
def test_sample_model_reads_as_the_generated_schema_reads_it(sample_int8: Path) -> None:
    assert assert_same_as_generated(sample_int8) > 0


@pytest.mark.device
def test_verify_does_not_execute_the_generated_schema(tmp_path: Path, sample_int8: Path) -> None:
    """Reading a model and its tensors, as `verify` does, leaves the generated module unimported; options load it."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom edgekit.tflite.model import load_model\n"
        f"m = load_model({str(sample_int8)!r})\n"
        "m.quant_kind; [t.dequantize for t in m.inputs]\n"
        "print('ai_edge_litert.schema_py_generated' in sys.modules)\n"
        "[op.options for op in m.main.operators]\n"
        "print('ai_edge_litert.schema_py_generated' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]


@pytest.mark.convert
def test_converted_variants_read_as_the_generated_schema_reads_them(variants: dict[str, Path]) -> None:
    """float32, dynamic range, float16, int8 (with and without float I/O) and int16x8 files from the TF converter."""
    assert sum(assert_same_as_generated(path) for path in variants.values()) > 0
