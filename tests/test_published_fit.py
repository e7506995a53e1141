"""The published fit (scripts/published_fit.py) is the estimator: its fast prediction, its Jacobian and the
profiles it writes agree with estimate() on every kind of row (CPU with and without XNNPACK, threads, clock,
host CPU, Edge TPU, GPU in float16 and float32). Tiny models, no TensorFlow, no cached builds."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from profile_helpers import profile_builder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import published_fit as pf  # noqa: E402
from published_models import Build  # noqa: E402

from edgekit.core.tflite_builder import Quant  # noqa: E402
from edgekit.profile.published import Mode, PublishedRow, Selection  # noqa: E402

pytestmark = pytest.mark.device

SAME = {"padding": "SAME", "stride_w": 1, "stride_h": 1}


def _net(dtype: str, swish: bool = False) -> bytes:
    """conv3x3 -> [swish] -> depthwise -> conv1x1 -> add -> mean -> fully connected, on 16x16."""
    b = profile_builder()
    bias_dt = "int32" if dtype == "int8" else "float32"
    x = b.tensor("input", (1, 16, 16, 8), dtype)
    w1 = b.constant("w1", np.ones((16, 3, 3, 8), dtype))
    y1 = b.tensor("y1", (1, 16, 16, 16), dtype)
    b.operator("CONV_2D", [x, w1, b.constant("b1", np.zeros(16, bias_dt))], [y1], {**SAME, "fused_activation_function": "RELU6"})
    act = y1
    if swish:  # x * sigmoid(x): XNNPACK runs the int8 MUL inside the LOGISTIC, which the estimator charges 0
        sig = b.tensor("sig", (1, 16, 16, 16), dtype, quant=Quant.per_tensor(1 / 256, -128) if dtype == "int8" else None)
        b.operator("LOGISTIC", [y1], [sig])
        act = b.tensor("act", (1, 16, 16, 16), dtype)
        b.operator("MUL", [y1, sig], [act])
    w2 = b.constant("w2", np.ones((1, 3, 3, 16), dtype))
    y2 = b.tensor("y2", (1, 16, 16, 16), dtype)
    b.operator("DEPTHWISE_CONV_2D", [act, w2, b.constant("b2", np.zeros(16, bias_dt))], [y2], {**SAME, "depth_multiplier": 1})
    w3 = b.constant("w3", np.ones((16, 1, 1, 16), dtype))
    y3 = b.tensor("y3", (1, 16, 16, 16), dtype)
    b.operator("CONV_2D", [y2, w3, b.constant("b3", np.zeros(16, bias_dt))], [y3], SAME)
    y4 = b.tensor("y4", (1, 16, 16, 16), dtype)
    b.operator("ADD", [y3, y1], [y4])
    y5 = b.tensor("y5", (1, 1, 1, 16), dtype)
    b.operator("MEAN", [y4, b.constant("axes", np.array([1, 2], np.int32))], [y5], {"keep_dims": True})
    y6 = b.tensor("y6", (1, 16), dtype)
    b.operator("RESHAPE", [y5, b.constant("shape", np.array([1, 16], np.int32))], [y6])
    y7 = b.tensor("y7", (1, 10), dtype)
    b.operator("FULLY_CONNECTED", [y6, b.constant("w7", np.ones((10, 16), dtype)), b.constant("b7", np.zeros(10, bias_dt))], [y7])
    return b.build([x], [y7])


def _row(device: str, dtype: str, threads: int | None, delegate: str, ms: float, line: int) -> PublishedRow:
    return PublishedRow(file="test.csv", line=line, source_url="https://example.org/x", source_date="", model="TestNet",
                        variant="v", input_size=(16, 16), depth_multiplier=None, dtype=dtype, threads=threads,
                        delegate=delegate, runtime="tflite", runtime_version="", device=device, clock_ghz=None,
                        latency_ms=ms, note="")


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[pf.FitRow]:
    d = tmp_path_factory.mktemp("fit")
    paths = {}
    for dt in ("float32", "int8"):
        paths[dt] = d / f"net_{dt}.tflite"
        paths[dt].write_bytes(_net(dt))
    cases = [
        ("rpi4b", "float32", 1, "xnnpack", Selection(True, "", "rpi4b", Mode.CPU, 1, True, 1.5)),
        ("rpi4b", "int8", 4, "none", Selection(True, "", "rpi4b", Mode.CPU, 4, False, 1.5)),
        ("rpi3b", "float32", 2, "xnnpack", Selection(True, "", "rpi3b-plus", Mode.CPU, 2, True, 1.2)),
        ("embedded-a53", "int8", 1, "none", Selection(True, "", "coral-devboard", Mode.HOST_CPU, 1, False)),
        ("coral-usb-desktop", "int8", 1, "edgetpu", Selection(True, "", "coral-usb-desktop", Mode.ACCELERATOR, 1, False)),
        ("pixel4-gpu", "float32", 4, "gpu", Selection(True, "", "pixel4-gpu", Mode.ACCELERATOR, 4, False, None, True)),
        ("pixel4-gpu", "float32", 4, "gpu", Selection(True, "", "pixel4-gpu", Mode.ACCELERATOR, 4, False, None, False)),
    ]
    out = []
    for i, (device, dt, threads, delegate, sel) in enumerate(cases):
        row = _row(device, dt, threads, delegate, 1.0 + i, i + 2)
        out.append(pf.FitRow(row, sel, Build("test", (16, 16), dt), paths[dt]))
    return out


def test_the_fast_prediction_is_the_estimator(rows: list[pf.FitRow]) -> None:
    m = pf.Model(pf.shipped())
    rng = np.random.default_rng(1)
    for scale in (0.0, 0.3):
        # within the parameters' upper bounds, as the fit keeps them (a thread speed-up above its thread count is not a profile)
        theta = np.minimum(m.p.theta0() + rng.normal(0, scale, len(m.p)), np.array(m.p.hi))
        extra = {"lanes": 16, "cache_bytes": 2000}  # a tiny cache: the Edge TPU row streams parameters
        pred = pf.predict_rows(m, theta, rows, extra)
        profiles = {pid: pf.profile_from_theta(m, pid, theta, extra) for pid in m.profiles}
        assert pf.check_against_estimator(profiles, rows, pred) == []


def test_the_fast_prediction_charges_nothing_for_what_xnnpack_runs_inside_a_neighbour(tmp_path: Path) -> None:
    """An int8 XNNPACK row: the swish MUL the estimator charges 0 (edgekit.profile.delegate.fused_swish) is no term."""
    path = tmp_path / "net_int8.tflite"
    path.write_bytes(_net("int8", swish=True))
    sel = Selection(True, "", "rpi4b", Mode.CPU, 1, True, 1.5)
    rows = [pf.FitRow(_row("rpi4b", "int8", 1, "xnnpack", 1.0, 2), sel, Build("test", (16, 16), "int8"), path)]
    m = pf.Model(pf.shipped())
    theta = m.p.theta0()
    pred = pf.predict_rows(m, theta, rows, {"lanes": 16, "cache_bytes": 2000})
    profiles = {pid: pf.profile_from_theta(m, pid, theta, {"lanes": 16, "cache_bytes": 2000}) for pid in m.profiles}
    assert pf.check_against_estimator(profiles, rows, pred) == []


def test_the_jacobian_is_the_derivative(rows: list[pf.FitRow]) -> None:
    m = pf.Model(pf.shipped())
    a = pf.arrays_of(m, rows, 16, 2000)
    theta = m.p.theta0() + np.random.default_rng(2).normal(0, 0.2, len(m.p))
    jac = pf.jacobian(theta, a)
    p0 = pf.predict(theta, a)
    h = 1e-6
    for j in pf.used_params(a):
        t = theta.copy()
        t[j] += h
        num = (pf.predict(t, a) - p0) / h
        np.testing.assert_allclose(num, jac[:, j], rtol=1e-3, atol=1e-6 * p0.max())


def test_a_fit_moves_estimates_toward_the_published_figures(rows: list[pf.FitRow]) -> None:
    m = pf.Model(pf.shipped())
    fitter = pf.Fitter(m, rows, tpu_grid=False)
    published = np.array([fr.row.latency_ms for fr in rows])
    before = np.abs(np.log(fitter.predict(m.p.theta0(), {}) / published))
    theta, extra = fitter.fit()
    after = np.abs(np.log(fitter.predict(theta, extra) / published))
    assert after.sum() < before.sum()


def test_the_cpu_fit_keeps_the_better_of_two_starts_and_leaves_unseen_figures_alone(rows: list[pf.FitRow]) -> None:
    """The CPU stage starts from the priors and from slow builtin non-GEMM classes (an op bound by memory gives
    its efficiency no gradient); it keeps the start with the lower objective, and a figure no row sees stays at
    its prior whichever start wins."""
    m = pf.Model(pf.shipped())
    fitter = pf.Fitter(m, rows, tpu_grid=False)
    cpu = [i for i, fr in enumerate(rows) if fr.kind == "cpu"]
    theta0 = m.p.theta0()
    _, _, one_start = fitter._stage(fitter.base, cpu, theta0, pf.CPU_PREFIXES)
    chosen = fitter._cpu_stage(cpu, theta0)
    a = pf.subset(fitter.base, cpu)
    _, _, objective = fitter._stage(fitter.base, cpu, chosen, pf.CPU_PREFIXES)
    assert objective <= one_start + 1e-9
    used = pf.used_params(a)
    unseen = [i for i, name in enumerate(m.p.names) if i not in used and name.startswith(pf.CPU_PREFIXES)]
    assert unseen and np.array_equal(chosen[unseen], theta0[unseen])
    slow = fitter.slow_start_params(cpu)
    assert slow and set(slow) <= used  # the rows see builtin non-GEMM classes: the second start is a real one


def test_the_joint_stage_fits_every_row_at_least_as_well_as_the_stages(rows: list[pf.FitRow],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """After the CPU, Edge TPU and GPU stages, every figure is refitted on every row (an accelerator row's CPU
    part then informs the host's CPU figures): the whole objective can only go down, and it does move."""
    m = pf.Model(pf.shipped())
    fitter = pf.Fitter(m, rows, tpu_grid=False)
    everything = list(range(len(rows)))
    prefixes = pf.CPU_PREFIXES + pf.TPU_PREFIXES + ("gpu/",)
    joint, extra = fitter.fit()
    a = fitter.tpu_arrays[(extra["lanes"], extra["cache_bytes"])]
    monkeypatch.setattr(pf.Fitter, "_joint_stage", lambda self, idx, theta, extra: theta)
    staged, _ = fitter.fit()

    def objective(theta: np.ndarray) -> float:
        # the objective at theta itself: a stage with nothing free evaluates it
        return fitter._stage(a, everything, theta, ("nothing/",))[2] + float(np.sum(
            (np.sqrt(fitter.prior_weight) * (theta - np.array(m.p.prior)) / np.array(m.p.sigma))[
                [i for i, n in enumerate(m.p.names) if n.startswith(prefixes) and i in pf.used_params(a)]] ** 2))

    assert objective(joint) <= objective(staged) + 1e-9
    assert not np.allclose(joint, staged)


def test_the_gpu_fit_keeps_the_better_of_two_starts(rows: list[pf.FitRow]) -> None:
    """The GPU stage starts from the priors and from a low memory efficiency: at its bound of 1.0 the figure gets
    no gradient (nor where no kernel is memory-bound: a kernel's time is the largest of its arithmetic, memory
    and chain terms), so a one-start fit never moves it (pixel3-gpu's stayed at 1.0; the second start finds
    0.24 and halves its leave-one-model-out error). The start with the lower objective is kept."""
    m = pf.Model(pf.shipped())
    fitter = pf.Fitter(m, rows, tpu_grid=False)
    gpu = [i for i, fr in enumerate(rows) if fr.kind == "gpu"]
    mem = m.p.index["gpu/pixel4-gpu/mem"]
    a = pf.subset(fitter.base, gpu)
    assert mem in pf.used_params(a)
    capped = m.p.theta0()
    capped[mem] = 0.0  # 1.0, its upper bound (the shipped pixel3-gpu value before the second start)
    assert not np.any(pf.jacobian(capped, a)[:, mem])  # no gradient: a fit started here never moves it
    low = capped.copy()
    low[mem] = math.log(pf.GPU_MEMORY_START)
    assert np.any(pf.jacobian(low, a)[:, mem])  # from the second start the rows do move it
    theta0 = m.p.theta0()
    _, _, one_start = fitter._stage(fitter.base, gpu, theta0, ("gpu/",))
    chosen = fitter._gpu_stage(gpu, theta0)
    _, _, objective = fitter._stage(fitter.base, gpu, chosen, ("gpu/",))
    assert objective <= one_start + 1e-9
