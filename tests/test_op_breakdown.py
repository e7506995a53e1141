"""scripts/op_breakdown.py: each op cut out alone runs, with its static-weight chain and the graph's numbers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from profile_helpers import conv_chain_model

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import op_breakdown as ob  # noqa: E402

from edgekit.tflite.model import parse_model  # noqa: E402
from edgekit.tflite.runtime import load_interpreter  # noqa: E402


def _outputs_of_op(data: bytes, index: int) -> np.ndarray:
    """The value op ``index`` computes inside the whole graph (input all ones)."""
    interp = load_interpreter(data, num_threads=1, use_xnnpack=False, preserve_all_tensors=True)
    d = interp.get_input_details()[0]
    interp.set_tensor(d["index"], np.ones(d["shape"], d["dtype"]))
    interp.invoke()
    out = parse_model(data, "x").main.operators[index].outputs[0]
    return np.array(interp.get_tensor(out))


def test_one_op_model_computes_what_the_op_computes_in_the_graph() -> None:
    data = conv_chain_model("float32")
    model = parse_model(data, "chain")
    first = ob.one_op_model(data, model, 0)  # the first conv: its input is the graph's input
    alone = parse_model(first, "alone").main
    assert [o.name for o in alone.operators] == ["CONV_2D"] and len(alone.inputs) == 1
    interp = load_interpreter(first, num_threads=1, use_xnnpack=False)
    d = interp.get_input_details()[0]
    interp.set_tensor(d["index"], np.ones(d["shape"], d["dtype"]))
    interp.invoke()
    np.testing.assert_allclose(interp.get_tensor(interp.get_output_details()[0]["index"]), _outputs_of_op(data, 0),
                               rtol=1e-6)
    for op in model.main.operators:  # every op of the chain runs alone, with its weights still constants
        sub = parse_model(ob.one_op_model(data, model, op.index), "alone").main
        assert [o.name for o in sub.operators] == [op.name]
        assert all(sub.tensor(i).is_constant for i in sub.operators[0].inputs[1:] if i >= 0)
        assert ob.time_model(ob.one_op_model(data, model, op.index), 1, 0.01) > 0


def test_static_float16_weights_come_along() -> None:
    from test_profile_estimator import _float16_weights_model

    data = _float16_weights_model()
    model = parse_model(data, "fp16")
    sub = parse_model(ob.one_op_model(data, model, 1), "alone").main  # the conv, fed by DEQUANTIZE
    assert [o.name for o in sub.operators] == ["DEQUANTIZE", "CONV_2D"] and len(sub.inputs) == 1


def _with_data_after_the_flatbuffer(data: bytes) -> bytes:
    """The same model with every buffer's bytes stored after the flatbuffer (offset/size), as ai-edge-quantizer
    writes its files."""
    from edgekit.core.tflite_builder import pack, unpack

    m = unpack(data)
    blobs = []
    for buf in m.buffers:
        if buf.data is not None and len(buf.data) > 0:
            blobs.append((buf, bytes(np.asarray(buf.data, np.uint8))))
            buf.data = None
            buf.offset, buf.size = 2**40, 1  # placeholders: the fields' size does not depend on their value
    head = len(pack(m))
    head += -head % 16
    tail = b""
    for buf, blob in blobs:
        buf.offset, buf.size = head + len(tail), len(blob)
        tail += blob + b"\0" * (-len(blob) % 16)
    packed = pack(m)
    assert len(packed) <= head
    return packed + b"\0" * (head - len(packed)) + tail


def test_weights_stored_after_the_flatbuffer_stay_constants() -> None:
    data = _with_data_after_the_flatbuffer(conv_chain_model("float32"))
    model = parse_model(data, "offsets")
    assert model.weight_bytes > 0
    sub = parse_model(ob.one_op_model(data, model, 0), "alone").main
    assert len(sub.inputs) == 1 and all(sub.tensor(i).is_constant for i in sub.operators[0].inputs[1:] if i >= 0)
    interp = load_interpreter(ob.one_op_model(data, model, 0), num_threads=1, use_xnnpack=False)
    d = interp.get_input_details()[0]
    interp.set_tensor(d["index"], np.ones(d["shape"], d["dtype"]))
    interp.invoke()
    np.testing.assert_allclose(interp.get_tensor(interp.get_output_details()[0]["index"]),
                               _outputs_of_op(conv_chain_model("float32"), 0), rtol=1e-6)


def test_a_custom_op_xnnpack_runs_is_measured_alone(tmp_path: Path) -> None:
    """MediaPipe's transposed convolution (a custom op XNNPACK runs itself) is timed, not skipped as a custom op."""
    from importlib import resources

    from profile_helpers import tconv_model

    path = tmp_path / "tconv.tflite"
    path.write_bytes(tconv_model(custom=True))
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    text = (resources.files("edgekit.device_profiles") / "rpi4b.toml").read_text(encoding="utf-8")
    (profiles / "copy.toml").write_text(text.replace('id = "rpi4b"', 'id = "copy"', 1), encoding="utf-8")
    result = ob.breakdown(path, profiles, "copy", 1, 0.01)
    (row,) = result["ops"]
    assert row["op"] == "CUSTOM:Convolution2DTransposeBias" and row["why_not"] == ""
    assert row["measured_ms"] is not None and row["estimated_ms"] > 0
