"""Fuzzing the device-side readers, loaders and CLI with mutated valid inputs (hypothesis, bounded).

Every mutated .tflite / .npz / manifest.json / profile TOML must give either a result or a clean
edgekit error (EdgekitError in the library; exit 1/2/3 with `Error:` + `Hint:` and no traceback
from the CLI). An exception of any other type, an "unexpected ... bug in edgekit" message or an
input that makes a call hang (watchdog) fails the test with the falsifying example.

Bounded: derandomized (same cases every run), 3,360 cases in all; EDGEKIT_FUZZ_SCALE=10 runs ten
times more, EDGEKIT_FUZZ_RANDOM=1 draws new cases. Inputs that once failed live in
tests/fuzz_corpus/ and are replayed by tests/test_fuzz_corpus.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from reliability_helpers import (
    BYTE_OPS,
    TREE_OPS,
    make_fc_tflite,
    mutate_bytes,
    mutate_tree,
    write_fc_bundle,
)

from edgekit.cli import main
from edgekit.core.profile_toml import dumps
from edgekit.errors import EdgekitError

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
SCALE = max(1, int(os.environ.get("EDGEKIT_FUZZ_SCALE", "1")))
WATCHDOG_S = 60


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples * SCALE,
        database=None,  # never write .hypothesis/ into the repo
        deadline=None,  # no timing assertions; hangs are caught by the watchdog
        derandomize=os.environ.get("EDGEKIT_FUZZ_RANDOM") != "1",
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        print_blob=True,
        # EDGEKIT_FUZZ_NO_SHRINK=1: report the first failure as found (faster while hunting)
        phases=[Phase.explicit, Phase.generate] if os.environ.get("EDGEKIT_FUZZ_NO_SHRINK") == "1" else list(Phase),
    )


byte_ops = st.lists(
    st.tuples(st.sampled_from(BYTE_OPS), st.integers(0, 2**20), st.integers(0, 2000)), min_size=1, max_size=6
)
tree_ops = st.lists(st.tuples(st.sampled_from(TREE_OPS), st.integers(0, 10_000), st.integers(0, 1000)), min_size=1,
                    max_size=4)


class FuzzHang(BaseException):
    """Raised by the watchdog; a BaseException so no `except Exception` in edgekit can swallow it."""


@contextlib.contextmanager
def watchdog(seconds: int = WATCHDOG_S) -> Iterator[None]:
    def on_alarm(signum: int, frame: Any) -> None:
        raise FuzzHang(f"no answer within {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _record(kind: str, data: bytes) -> None:
    """With EDGEKIT_FUZZ_FINDINGS=DIR, keep each failing input there (to add to tests/fuzz_corpus/)."""
    folder = os.environ.get("EDGEKIT_FUZZ_FINDINGS")
    if folder:
        import hashlib

        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{hashlib.sha256(data).hexdigest()[:12]}.{kind}").write_bytes(data)


def library_call_is_clean(kind: str, data: bytes, call: Callable[[], Any]) -> str:
    """Run ``call``; only a result or an EdgekitError is acceptable. Returns 'ok' or the error class."""
    try:
        with watchdog():
            call()
    except EdgekitError as exc:
        assert exc.message and "\n" not in exc.message and exc.hint, f"error without a one-line message/hint: {exc!r}"
        return type(exc).__name__
    except BaseException:
        _record(kind, data)
        raise
    return "ok"


def cli_is_clean(kind: str, data: bytes, args: list[str]) -> int:
    """Invoke the CLI in-process; a non-zero exit must be exactly an `Error:` + `Hint:` pair, no traceback."""
    try:
        with watchdog():
            result = CliRunner().invoke(main, args, catch_exceptions=False)
    except BaseException:
        _record(kind, data)
        raise
    if result.exit_code != 0:
        err = result.stderr
        problems = []
        if result.exit_code not in (1, 2, 3):
            problems.append(f"exit code {result.exit_code}")
        if "Traceback" in result.output:
            problems.append("a traceback")
        if "bug in edgekit" in err or "unexpected " in err:
            problems.append("an unexpected exception (edgekit bug)")
        if result.exit_code in (2, 3) and not ("Error: " in err and "Hint: " in err):
            problems.append("no Error:/Hint: pair")
        if problems:
            _record(kind, data)
            pytest.fail(f"edgekit {' '.join(args)} -> {', '.join(problems)}:\n{result.output}")
    return result.exit_code


# ------------------------------------------------------------------ seeds


def _seed_models() -> list[bytes]:
    """A float model built here and the committed int8 sample (a missing seed is an error, not a silent skip)."""
    return [make_fc_tflite()[0], (REPO / "sample_models" / "shapes_classifier_int8.tflite").read_bytes()]


SEED_MODELS = _seed_models()


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="edgekit-fuzz-") as tmp:
        yield Path(tmp)


# ------------------------------------------------------------------ .tflite


@fuzz_settings(1200)
@given(seed=st.integers(0, len(SEED_MODELS) - 1), ops=byte_ops)
def test_reader_survives_mutated_tflite(seed: int, ops: list[tuple[str, int, int]]) -> None:
    from edgekit.tflite.model import parse_model

    data = mutate_bytes(SEED_MODELS[seed], ops)

    def read_everything() -> None:
        model = parse_model(data, "fuzz.tflite")
        model.op_histogram()
        _ = (model.quant_kind, model.weight_bytes, model.custom_ops, model.inputs, model.outputs)
        for sg in model.subgraphs:
            for tensor in sg.tensors:
                tensor.data()

    library_call_is_clean("tflite", data, read_everything)


@fuzz_settings(300)
@given(seed=st.integers(0, len(SEED_MODELS) - 1), ops=byte_ops, as_json=st.booleans())
def test_inspect_cli_survives_mutated_tflite(workdir: Path, seed: int, ops: list[tuple[str, int, int]],
                                             as_json: bool) -> None:
    data = mutate_bytes(SEED_MODELS[seed], ops)
    path = workdir / "model.tflite"
    path.write_bytes(data)
    code = cli_is_clean("tflite", data, ["inspect", *(["--json"] if as_json else []), str(path)])
    assert code in (0, 2)
    assert path.read_bytes() == data  # the user's file is untouched


@st.composite
def structural_model(draw: st.DrawFn) -> bytes:
    """A valid model with one structural field changed through the flatbuffer object API."""
    from edgekit.core.tflite_builder import pack, unpack
    from edgekit.tflite import _schema as S

    seed = draw(st.integers(0, len(SEED_MODELS) - 1))
    model = unpack(SEED_MODELS[seed])
    sg = model.subgraphs[0]
    small = st.integers(-3, 12) | st.sampled_from([2**31 - 1, -(2**31), 65536])
    for _ in range(draw(st.integers(1, 3))):
        what = draw(st.sampled_from(["shape", "type", "buffer", "op_inputs", "opcode", "builtin", "io", "quant",
                                     "options"]))
        t = sg.tensors[draw(st.integers(0, len(sg.tensors) - 1))]
        op = sg.operators[draw(st.integers(0, len(sg.operators) - 1))]
        if what == "shape":
            t.shape = draw(st.lists(small, max_size=6))
        elif what == "type":
            t.type = draw(st.integers(0, 20))
        elif what == "buffer":
            t.buffer = draw(st.integers(0, len(model.buffers) + 2))
        elif what == "op_inputs":
            op.inputs = draw(st.lists(st.integers(-2, len(sg.tensors) + 2), max_size=5))
        elif what == "opcode":
            op.opcodeIndex = draw(st.integers(0, len(model.operatorCodes) + 1))
        elif what == "builtin":
            code = model.operatorCodes[draw(st.integers(0, len(model.operatorCodes) - 1))]
            code.builtinCode = draw(st.integers(0, 210))
            code.deprecatedBuiltinCode = min(code.builtinCode, 127)
        elif what == "io":
            sg.inputs = draw(st.lists(st.integers(-1, len(sg.tensors) + 1), max_size=3))
            sg.outputs = draw(st.lists(st.integers(-1, len(sg.tensors) + 1), max_size=3))
        elif what == "quant":
            q = S.QuantizationParametersT()
            q.scale = draw(st.lists(st.sampled_from([0.0, -1.0, 1e-3, float("nan"), float("inf"), 1e30]), max_size=4))
            q.zeroPoint = draw(st.lists(st.integers(-300, 300), max_size=4))
            q.quantizedDimension = draw(st.integers(0, 5))
            t.quantization = q
        elif what == "options" and op.builtinOptions is not None:
            for field in list(vars(op.builtinOptions)):
                if isinstance(getattr(op.builtinOptions, field), int):
                    setattr(op.builtinOptions, field, draw(st.integers(-2, 200)))
    try:
        return pack(model)
    except Exception:  # a value the schema cannot even encode (e.g. negative unsigned)
        return SEED_MODELS[seed]


@fuzz_settings(200)
@given(data=structural_model(), tool=st.sampled_from(["inspect", "profile", "size"]))
def test_cli_survives_structurally_broken_models(workdir: Path, data: bytes, tool: str) -> None:
    """Models that are valid flatbuffers with impossible contents: the estimator and sizing read them too."""
    path = workdir / "structural.tflite"
    path.write_bytes(data)
    args = {"inspect": ["inspect", "--json", str(path)],
            "profile": ["profile", str(path), "--device", "rpi4b"],
            "size": ["size", "--json", str(path)]}[tool]
    cli_is_clean("tflite", data, args)


# ------------------------------------------------------------------ bundle: manifest.json and golden.npz


@pytest.fixture(scope="module")
def bundle_seed(workdir: Path) -> Path:
    return write_fc_bundle(workdir / "seed-bundle")


def _bundle_with(workdir: Path, seed: Path, name: str, content: bytes) -> Path:
    target = workdir / "bundle"
    target.mkdir(exist_ok=True)
    for f in ("model.tflite", "manifest.json", "golden.npz"):
        (target / f).write_bytes((seed / f).read_bytes())
    (target / name).write_bytes(content)
    return target


@fuzz_settings(400)
@given(ops=tree_ops, textual=st.booleans(), text_ops=byte_ops)
def test_bundle_reader_survives_mutated_manifest(workdir: Path, bundle_seed: Path, ops: list[tuple[str, int, int]],
                                                 textual: bool, text_ops: list[tuple[str, int, int]]) -> None:
    from edgekit.bundle import read_bundle

    raw = (bundle_seed / "manifest.json").read_bytes()
    if textual:
        data = mutate_bytes(raw, text_ops)
    else:
        data = json.dumps(mutate_tree(json.loads(raw), ops)).encode()
    bundle = _bundle_with(workdir, bundle_seed, "manifest.json", data)
    library_call_is_clean("manifest.json", data, lambda: read_bundle(bundle))


@fuzz_settings(300)
@given(ops=byte_ops)
def test_bundle_reader_survives_mutated_golden_npz(workdir: Path, bundle_seed: Path,
                                                   ops: list[tuple[str, int, int]]) -> None:
    from edgekit.bundle import read_bundle

    data = mutate_bytes((bundle_seed / "golden.npz").read_bytes(), ops)
    bundle = _bundle_with(workdir, bundle_seed, "golden.npz", data)
    library_call_is_clean("npz", data, lambda: read_bundle(bundle))


@fuzz_settings(60)
@given(ops=tree_ops, target=st.sampled_from(["manifest.json", "golden.npz"]), bops=byte_ops)
def test_verify_bundle_cli_survives_mutations(workdir: Path, bundle_seed: Path, ops: list[tuple[str, int, int]],
                                              target: str, bops: list[tuple[str, int, int]]) -> None:
    """The model stays intact (its sha256 is checked), so the runtime only ever sees a valid model."""
    raw = (bundle_seed / target).read_bytes()
    if target == "manifest.json":
        data = json.dumps(mutate_tree(json.loads(raw), ops)).encode()
    else:
        data = mutate_bytes(raw, bops)
    bundle = _bundle_with(workdir, bundle_seed, target, data)
    cli_is_clean(target.split(".")[-1], data, ["verify", str(bundle)])


# ------------------------------------------------------------------ data .npz (calibration / verify --data)


ARRAY_VARIANTS = ("ok", "nan", "inf", "int", "bool", "complex", "str", "shape", "empty", "scalar", "extra_key",
                  "wrong_key", "huge_dim", "f16", "uint8")


def _data_npz(variant: str, n: int) -> bytes:
    import io

    x: Any = np.random.default_rng(n).standard_normal((n, 1, 4)).astype(np.float32)
    arrays: dict[str, Any] = {"input": x}
    if variant == "nan":
        x[0, 0, 0] = np.nan
    elif variant == "inf":
        x[-1, 0, -1] = -np.inf
    elif variant == "int":
        arrays["input"] = (x * 10).astype(np.int64)
    elif variant == "bool":
        arrays["input"] = x > 0
    elif variant == "complex":
        arrays["input"] = x.astype(np.complex64)
    elif variant == "str":
        arrays["input"] = np.array(["a"] * 4)
    elif variant == "shape":
        arrays["input"] = x.reshape(n, 2, 2)
    elif variant == "empty":
        arrays["input"] = x[:0]
    elif variant == "scalar":
        arrays["input"] = np.float32(1.0)
    elif variant == "extra_key":
        arrays["other"] = x
    elif variant == "wrong_key":
        arrays = {"not_input": x}
    elif variant == "huge_dim":
        arrays["input"] = np.zeros((1, 1, 4000), np.float32)
    elif variant == "f16":
        arrays["input"] = x.astype(np.float16)
    elif variant == "uint8":
        arrays["input"] = (np.abs(x) * 50).astype(np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@fuzz_settings(400)
@given(variant=st.sampled_from(ARRAY_VARIANTS), n=st.integers(1, 5), ops=st.lists(
    st.tuples(st.sampled_from(BYTE_OPS), st.integers(0, 2**20), st.integers(0, 2000)), max_size=4))
def test_data_loader_survives_mutated_npz(workdir: Path, variant: str, n: int, ops: list[tuple[str, int, int]]) -> None:
    from edgekit.core.source import TensorSpec
    from edgekit.data import load_samples

    data = mutate_bytes(_data_npz(variant, n), ops) if ops else _data_npz(variant, n)
    path = workdir / "data.npz"
    path.write_bytes(data)
    spec = TensorSpec(name="input", shape=(1, 4), dtype="float32")
    library_call_is_clean("npz", data, lambda: load_samples(path, [spec], None, 8))


# ------------------------------------------------------------------ device profiles (TOML)


def _seed_profiles() -> list[Path]:
    from importlib import resources

    return sorted(Path(str(p)) for p in resources.files("edgekit.device_profiles").iterdir() if p.name.endswith(".toml"))


@fuzz_settings(500)
@given(index=st.integers(0, 1000), ops=tree_ops, textual=st.booleans(), text_ops=byte_ops)
def test_profile_loader_survives_mutated_toml(workdir: Path, index: int, ops: list[tuple[str, int, int]],
                                              textual: bool, text_ops: list[tuple[str, int, int]]) -> None:
    seeds = _seed_profiles()
    assert seeds, "no shipped device profile found to mutate"
    from edgekit.profile.schema import load_profile

    raw = seeds[index % len(seeds)].read_bytes()
    if textual:
        data = mutate_bytes(raw, text_ops)
    else:
        data = dumps(mutate_tree(tomllib.loads(raw.decode()), ops), allow_non_finite=True).encode()
    path = workdir / "profile.toml"
    path.write_bytes(data)
    library_call_is_clean("toml", data, lambda: load_profile(path))
