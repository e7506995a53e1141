"""A float .tflite prepared for the quantizer: lone activations fused into the op before them.

Runs where ai-edge-quantizer is installed (the quantize extra), like tests/test_tune.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tune_helpers import GraphBuilder, computed_reshape_model, dynamic_mul_model, run_once, write_case

from edgekit.cli import main
from edgekit.profile.delegate import runtime_delegated_ops
from edgekit.requant.densify import sparse_to_dense
from edgekit.requant.floatmodel import prepare_float
from edgekit.tflite.model import load_model, parse_model
from edgekit.tflite.runtime import load_interpreter

pytestmark = [pytest.mark.device, pytest.mark.quantize]


def _weights(rng: np.random.Generator, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    return (rng.standard_normal((n, m)) / np.sqrt(m)).astype(np.float32), rng.standard_normal(n).astype(np.float32) * 0.1


def _lone_activations_model(shared_branch: bool) -> bytes:
    """dense -> RELU -> dense -> ADD(const, no options) -> RELU6 [-> dense whose output feeds a RELU and an ADD]."""
    rng = np.random.default_rng(3)
    g = GraphBuilder([1, 16])
    g.dense(*_weights(rng, 24, 16)).unary("RELU")
    g.dense(*_weights(rng, 24, 24)).binary("ADD", rng.standard_normal((1, 24)).astype(np.float32)).unary("RELU6")
    if shared_branch:
        g.dense(*_weights(rng, 24, 24))
        d = g.current
        g.unary("RELU")  # its input has two readers: it stays
        g.binary("ADD", d)
    return g.build()




def test_lone_activations_are_fused_with_the_same_arithmetic() -> None:
    data = _lone_activations_model(shared_branch=True)
    fm = prepare_float(data, "m")
    ops = [(op.name, op.options.get("fused_activation_function")) for op in fm.model.main.operators]
    # the RELU whose input the last ADD also reads stays; the ADD written without options gets them
    assert ops == [("FULLY_CONNECTED", "RELU"), ("FULLY_CONNECTED", "NONE"), ("ADD", "RELU6"),
                   ("FULLY_CONNECTED", "NONE"), ("RELU", None), ("ADD", None)]
    assert any("2 activation op(s) fused" in n for n in fm.notes), fm.notes
    assert [t.name for t in (fm.model.main.tensor(i) for i in fm.model.main.outputs)] == \
        [t.name for t in (parse_model(data, "o").main.tensor(i) for i in parse_model(data, "o").main.outputs)]
    x = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32) * 3
    np.testing.assert_allclose(run_once(fm.data, x), run_once(data, x), rtol=0, atol=1e-6)


def test_int8_of_a_graph_with_lone_activations_stays_in_one_xnnpack_partition(tmp_path: Path) -> None:
    model, calib, _ = write_case(tmp_path, "act", _lone_activations_model(shared_branch=False), (1, 16))
    out = tmp_path / "q.tflite"
    result = CliRunner().invoke(main, ["convert", str(model), "-o", str(out), "--calibration", str(calib)])
    assert result.exit_code == 0, result.output
    assert "activation op(s) fused" in result.output
    ops = [op.name for op in load_model(out).main.operators]
    assert "RELU" not in ops and "RELU6" not in ops, ops  # an int8 RELU alone is an op XNNPACK refuses
    _, partitions = runtime_delegated_ops(load_interpreter(out.read_bytes(), num_threads=1))
    assert partitions == 1


def _csr_last_dim(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TFLite's sparse format of ``dense`` with every dimension DENSE but the last (SPARSE_CSR), as MediaPipe's
    sparse models store their weights: (values, segments, indices)."""
    rows = dense.reshape(-1, dense.shape[-1])
    segments, indices, values = [0], [], []
    for row in rows:
        nz = np.flatnonzero(row)
        indices += nz.tolist()
        values += row[nz].tolist()
        segments.append(len(indices))
    return np.asarray(values, dense.dtype), np.asarray(segments), np.asarray(indices)


def test_sparse_to_dense_decodes_csr_levels_and_blocks() -> None:
    rng = np.random.default_rng(4)
    dense = rng.standard_normal((3, 1, 2, 10)).astype(np.float16)
    dense[rng.random(dense.shape) < 0.6] = 0
    values, segments, indices = _csr_last_dim(dense)
    levels = [(0, 3, np.zeros(0), np.zeros(0)), (0, 1, np.zeros(0), np.zeros(0)), (0, 2, np.zeros(0), np.zeros(0)),
              (1, 0, segments, indices)]
    np.testing.assert_array_equal(sparse_to_dense(values, dense.shape, [0, 1, 2, 3], [], levels), dense)
    # blocks: a 2x4 matrix in 1x2 blocks (block_map [1]), stored row-major, the blocked column dimension CSR
    blocked = np.array([[1, 2, 0, 0], [0, 0, 3, 4]], np.float32)
    levels = [(0, 2, np.zeros(0), np.zeros(0)), (1, 0, np.array([0, 1, 2]), np.array([0, 1])),
              (0, 2, np.zeros(0), np.zeros(0))]
    out = sparse_to_dense(np.array([1, 2, 3, 4], np.float32), (2, 4), [0, 1, 2], [1], levels)
    np.testing.assert_array_equal(out, blocked)
    with pytest.raises(ValueError, match="addresses"):
        sparse_to_dense(values[:-1], dense.shape, [0, 1, 2, 3], [], [
            (0, 3, np.zeros(0), np.zeros(0)), (0, 1, np.zeros(0), np.zeros(0)), (0, 2, np.zeros(0), np.zeros(0)),
            (1, 0, segments, indices)])


def _sparse_weights_model() -> tuple[bytes, np.ndarray]:
    """dense(8 <- 12) whose weights are a sparse constant read by a DENSIFY op (MediaPipe's pose detector has 38)."""
    rng = np.random.default_rng(6)
    w = rng.standard_normal((8, 12)).astype(np.float32)
    w[rng.random(w.shape) < 0.6] = 0
    g = GraphBuilder([1, 12])
    S = g.S
    g.dense(w, rng.standard_normal(8).astype(np.float32))
    fc = g.ops[-1]
    values, segments, indices = _csr_last_dim(w)
    sparse = g._tensor("w_sparse", [8, 12], values)
    sp = S.SparsityParametersT()
    sp.traversalOrder, sp.blockMap = [0, 1], []
    rows, cols = S.DimensionMetadataT(), S.DimensionMetadataT()
    rows.format, rows.denseSize = S.DimensionType.DENSE, 8
    cols.format = S.DimensionType.SPARSE_CSR
    for attr, arr in (("arraySegments", segments), ("arrayIndices", indices)):
        vec = S.Int32VectorT()
        vec.values = [int(v) for v in arr]
        setattr(cols, attr, vec)
        setattr(cols, attr + "Type", S.SparseIndexVector.Int32Vector)
    sp.dimMetadata = [rows, cols]
    g.tensors[sparse].sparsity = sp
    dense_out = g._tensor("w_dense", [8, 12], None)
    op = S.OperatorT()
    op.opcodeIndex = g._code(S.BuiltinOperator.DENSIFY)
    op.inputs, op.outputs = [sparse], [dense_out]
    g.ops.insert(len(g.ops) - 1, op)
    fc.inputs[1] = dense_out
    return g.build(), w


def test_sparse_weights_are_stored_dense_with_the_same_outputs(tmp_path: Path) -> None:
    data, w = _sparse_weights_model()
    assert [op.name for op in parse_model(data, "m").main.operators] == ["DENSIFY", "FULLY_CONNECTED"]
    fm = prepare_float(data, "m")
    assert [op.name for op in fm.model.main.operators] == ["FULLY_CONNECTED"]
    assert any("1 sparse weight tensors (DENSIFY ops) stored dense" in n for n in fm.notes), fm.notes
    x = np.random.default_rng(0).standard_normal((1, 12)).astype(np.float32)
    np.testing.assert_array_equal(run_once(fm.data, x), run_once(data, x))
    # and such a model quantizes (it used to be refused)
    model, calib, _ = write_case(tmp_path, "sparse", data, (1, 12))
    out = tmp_path / "q.tflite"
    result = CliRunner().invoke(main, ["convert", str(model), "-o", str(out), "--calibration", str(calib)])
    assert result.exit_code == 0, result.output
    assert "DENSIFY" not in [op.name for op in load_model(out).main.operators]


def _hybrid_model() -> tuple[bytes, np.ndarray, np.ndarray]:
    """A dynamic-range file: dense(16 <- 12) with int8 weights (per channel) read directly by the float
    FULLY_CONNECTED, then dense(8 <- 16) with uint8 weights behind a DEQUANTIZE (the TF1-era form in facex's
    model). Returns (bytes, and the two weight matrices as the file's kernels see them)."""
    rng = np.random.default_rng(8)
    w1 = rng.standard_normal((16, 12)).astype(np.float32)
    w2 = rng.standard_normal((8, 16)).astype(np.float32)
    g = GraphBuilder([1, 12])
    S = g.S
    g.dense(w1, np.zeros(16, np.float32))
    g.dense(w2, np.zeros(8, np.float32))
    fc1, fc2 = g.ops
    scales1 = np.abs(w1).max(axis=1) / 127
    q1 = np.round(w1 / scales1[:, None]).astype(np.int8)
    t1 = g.tensors[fc1.inputs[1]]
    t1.type = S.TensorType.INT8
    g.buffers[t1.buffer].data = list(q1.tobytes())
    t1.quantization = S.QuantizationParametersT()
    t1.quantization.scale, t1.quantization.zeroPoint = [float(s) for s in scales1], [0] * 16
    t1.quantization.quantizedDimension = 0
    scale2, zero2 = float(np.ptp(w2) / 255), 128
    q2 = np.clip(np.round(w2 / scale2) + zero2, 0, 255).astype(np.uint8)
    t2 = g.tensors[fc2.inputs[1]]
    t2.type = S.TensorType.UINT8
    g.buffers[t2.buffer].data = list(q2.tobytes())
    t2.quantization = S.QuantizationParametersT()
    t2.quantization.scale, t2.quantization.zeroPoint = [scale2], [zero2]
    deq_out = g._tensor("w2_dequantized", [8, 16], None)
    op = S.OperatorT()
    op.opcodeIndex = g._code(S.BuiltinOperator.DEQUANTIZE)
    op.inputs, op.outputs = [fc2.inputs[1]], [deq_out]
    g.ops.insert(1, op)
    fc2.inputs[1] = deq_out
    return g.build(), q1 * scales1[:, None], (q2.astype(np.float32) - zero2) * scale2


def test_a_dynamic_range_model_is_quantized_from_the_weights_it_computes_with(tmp_path: Path) -> None:
    data, w1, w2 = _hybrid_model()
    assert parse_model(data, "h").quant_kind.value == "dynamic_range"
    fm = prepare_float(data, "h")
    assert [op.name for op in fm.model.main.operators] == ["FULLY_CONNECTED", "FULLY_CONNECTED"]
    assert any("2 int8/uint8 weight tensors of a dynamic-range model dequantized" in n for n in fm.notes), fm.notes
    sg = fm.model.main
    weights = [sg.tensor(op.inputs[1]) for op in sg.operators]
    assert [t.dtype for t in weights] == ["float32", "float32"]
    np.testing.assert_allclose(weights[0].data(), w1, rtol=0, atol=1e-6)
    np.testing.assert_allclose(weights[1].data(), w2, rtol=0, atol=1e-6)
    # the float model computes what the hybrid kernels compute, up to their on-the-fly int8 inputs
    x = np.random.default_rng(2).standard_normal((1, 12)).astype(np.float32)
    ref, got = run_once(data, x), run_once(fm.data, x)
    assert float(np.abs(ref - got).max()) < 0.03 * float(np.abs(ref).max())
    model, calib, _ = write_case(tmp_path, "hybrid", data, (1, 12))
    out = tmp_path / "q.tflite"
    result = CliRunner().invoke(main, ["convert", str(model), "-o", str(out), "--calibration", str(calib)])
    assert result.exit_code == 0, result.output
    assert load_model(out).quant_kind.value == "int8"


def test_shapes_computed_at_run_time_are_folded_and_written() -> None:
    from edgekit.profile.delegate import place_xnnpack

    data = computed_reshape_model()
    fm = prepare_float(data, "m")
    assert any("3 shape-arithmetic op(s) folded into constants" in n for n in fm.notes), fm.notes
    sg = fm.model.main
    assert [op.name for op in sg.operators] == ["RESHAPE", "MUL", "FULLY_CONNECTED"]
    reshape = sg.operators[0]
    assert sg.tensor(reshape.inputs[1]).is_constant and sg.tensor(reshape.inputs[1]).data().tolist() == [1, 48]
    assert list(sg.tensor(reshape.outputs[0]).shape) == [1, 48]  # the placeholder 1x1 replaced
    before = parse_model(data, "b").main
    assert [p.delegated for p in place_xnnpack(before)] == [False, False, False, False, True, True]  # computed
    assert [p.delegated for p in place_xnnpack(sg)] == [True, True, True]
    x = np.random.default_rng(0).standard_normal((1, 8, 6)).astype(np.float32)
    np.testing.assert_array_equal(run_once(fm.data, x), run_once(data, x))


def test_expand_dims_and_squeeze_become_reshapes_with_the_same_outputs() -> None:
    """basic-pitch has 19 EXPAND_DIMS: no integer rule in ai-edge-quantizer, not an XNNPACK op."""
    from edgekit.core.tflite_builder import TFLiteBuilder
    from edgekit.profile.delegate import place_xnnpack

    g = TFLiteBuilder("expand squeeze")
    x = g.tensor("x", (1, 12))
    wide = g.tensor("wide", (1, 1, 12))
    g.operator("EXPAND_DIMS", [x, g.constant("axis", np.array(1, np.int32))], [wide])
    flat = g.tensor("flat", (1, 12))
    g.operator("SQUEEZE", [wide], [flat], {"squeeze_dims": [1]}, options_type="SqueezeOptions")
    y = g.tensor("y", (1, 4))
    w = np.random.default_rng(1).standard_normal((4, 12)).astype(np.float32)
    g.operator("FULLY_CONNECTED", [flat, g.constant("w", w), g.constant("b", np.zeros(4, np.float32))], [y])
    data = g.build([x], [y])
    fm = prepare_float(data, "m")
    sg = fm.model.main
    assert [op.name for op in sg.operators] == ["RESHAPE", "RESHAPE", "FULLY_CONNECTED"]
    assert [sg.tensor(op.inputs[1]).data().tolist() for op in sg.operators[:2]] == [[1, 1, 12], [1, 12]]
    assert any("2 EXPAND_DIMS/SQUEEZE op(s) written as the RESHAPE" in n for n in fm.notes), fm.notes
    assert all(p.delegated for p in place_xnnpack(sg))
    xs = np.random.default_rng(0).standard_normal((1, 12)).astype(np.float32)
    np.testing.assert_array_equal(run_once(fm.data, xs), run_once(data, xs))


def test_a_tflite_with_dynamic_inputs_converts_with_input_shape(tmp_path: Path) -> None:
    """openWakeWord's melspectrogram model takes [-1, -1] audio: --input-shape fixes it, the rest follows."""
    model = tmp_path / "dynamic.tflite"
    model.write_bytes(dynamic_mul_model())
    out = tmp_path / "q.tflite"
    refused = CliRunner().invoke(main, ["convert", str(model), "-o", str(out)])
    assert refused.exit_code == 2 and "--input-shape NAME=DIMS" in refused.stderr and "x [-1, -1]" in refused.stderr
    assert not out.exists()
    ok = CliRunner().invoke(main, ["convert", str(model), "-o", str(out), "--input-shape", "x=1,16", "--json"])
    assert ok.exit_code == 0, ok.output
    assert "input shapes fixed: x=[1, 16]" in ok.stderr
    converted = load_model(out).main
    assert [list(converted.tensor(i).shape) for i in converted.inputs] == [[1, 16]]
    assert [list(i["shape"]) for i in json.loads(ok.stdout)["inputs"]] == [[1, 16]]
