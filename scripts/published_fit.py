"""Least-squares fit of the shipped device profiles on the published dataset, and its leave-one-model-out test.

Shared by ``scripts/fit_profiles.py`` (fit and write every shipped profile) and
``scripts/bench_profile_published.py --loo`` (how far a profile refitted without a row's model is from that
row). Both need the models of ``scripts/published_models.py`` (built once, cached outside the repository).

**What is fitted.** The estimator's own formulas (``edgekit.profile.estimator``), with their figures as
parameters, in log space, by Levenberg-Marquardt on the rows' log errors, weighted so that every (device,
model) pair counts about the same (1/sqrt(rows of that model on that device)), with a Gaussian prior on
every parameter (its starting value, ``prior_weight``) that keeps figures the data cannot see where
they were. Parameters are shared where the hardware is:

* CPU, per core type (``hardware.core_type``): conv efficiency of XNNPACK float32 (``base``); the step to
  XNNPACK int8 and to the builtin kernels per dtype, shared by cores with / without 8-bit dot-product
  instructions (``kd``) plus a per-core deviation (``dev``); the ratio of each op class's efficiency to
  conv per kernel family and dtype, shared by all cores (``ratio``), and each core type's own deviation from
  it (``cdev``, a wide prior: the same kernel compiles to other code per ISA); fixed cost per op (XNNPACK and
  builtin), per invoke and per partition, in core cycles (so a clock change scales them);
* CPU, per board (profiles that share a board's CPU share these: coral-usb-rpi4 = rpi4b, pixel4-gpu =
  pixel4-cpu; rpi-zero-2w and coral-devboard take rpi3b-plus's, the other quad Cortex-A53): memory
  efficiency and the thread speed-up at 2..4 threads per kernel family and dtype;
* Edge TPU, per chip (all Coral profiles): conv and fully-connected efficiency, weight-tile fill cycles,
  activation and data-movement bandwidth, per-op cost, streaming overlap; the MAC-array lanes and the
  parameter cache size on a grid; per host (profile): link bandwidth, read-back bandwidth, invoke cost,
  per-transfer cost. Their priors are data-sheet values, not the shipped (fitted) figures;
* GPU (pixel3-gpu, pixel4-gpu): efficiency per op class (a base and shared ratios), launch cost, invoke cost,
  memory efficiency, the float32 arithmetic rate, the reduction step. Their priors, like the CPU's, are the
  shipped figures (docs/BENCHMARKS.md, "What the priors carry", measures what that lends a left-out model).

Stages: CPU rows first (the CPU figures, from two starts: see :meth:`Fitter._cpu_stage`), then the Edge TPU
rows and the GPU rows (two starts as well: :meth:`Fitter._gpu_stage`) with the CPU figures fixed, then every figure on every row from there (an accelerator
row's CPU part, e.g. DeepLab's 513x513 resize on the Edge TPU's host, informs the host's CPU figures too: the
staged fit alone left Coral's DeepLab rows at a tenth of their published time). The vectorized prediction
mirrors ``estimate()`` op for op; :func:`check_against_estimator` proves it on every row with the written profiles.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from published_models import DATASET, Build, build_for_row, cached  # noqa: E402

from edgekit.profile.conditions import Conditions  # noqa: E402
from edgekit.profile.costs import OpCost, graph_costs  # noqa: E402
from edgekit.profile.edgetpu import array_work, link_io, map_edgetpu, tpu_work  # noqa: E402
from edgekit.profile.estimator import MULTITHREADED_BUILTINS, cpu_placement  # noqa: E402
from edgekit.profile.gpu import (  # noqa: E402
    gpu_boundary,
    gpu_kernels,
    plan_gpu,  # noqa: E402
)
from edgekit.profile.indirection import indirection_ms, timed_pointer_bytes  # noqa: E402
from edgekit.profile.published import Mode, PublishedRow, Selection, load_dataset, usable_rows  # noqa: E402
from edgekit.profile.registry import ProfileEntry, ProfileOrigin, shipped_profiles  # noqa: E402
from edgekit.profile.schema import (  # noqa: E402
    Accelerator,
    DelegateKind,
    DeviceProfile,
    EfficiencyTable,
    OpClass,
)
from edgekit.tflite.model import TFLiteModel, load_model  # noqa: E402

CLASSES = [c.value for c in OpClass]
KINDS = ("xnnpack", "builtin")
DTYPES = ("float32", "int8")
MAX_THREADS = 4
# profiles that run another profile's CPU: its per-board figures (memory efficiency, thread curves)
BOARD_TIES = {"coral-usb-rpi4": "rpi4b", "pixel4-gpu": "pixel4-cpu", "pixel3-gpu": "pixel3-cpu",
              "coral-usb-rpi3b-plus": "rpi3b-plus", "rpi-zero-2w": "rpi3b-plus", "coral-devboard": "rpi3b-plus"}
PRIOR_WEIGHT = 0.1
# width (log space) of the prior on a core type's own ratio of an op class to conv, around the ratio all cores
# share: the same LiteRT kernel compiles to other code per ISA (an old x86 build ran generic C++ loops where
# the ARM build had NEON), so a core may differ by a factor of several on one class
CORE_CLASS_SIGMA = 2.0
# the second start of the CPU fit: every builtin non-GEMM class this much slower than conv (see Fitter._cpu_stage)
SLOW_START = 0.03
GPU_MEMORY_START = 0.2  # the second start of the GPU stage (see Fitter._gpu_stage)
GEMM_CLASSES = ("conv", "depthwise_conv", "transpose_conv", "fully_connected", "batch_matmul")
TPU_LANES = (8, 16, 32, 64, 128)
TPU_CACHE_MIB = (6.0, 6.5, 7.0, 7.5, 8.0)
TPU_PRIOR_LANES = 64  # 4 TOPS at ~500 MHz = 4,096 MACs per cycle
LINK_PRIOR_GB_PER_S = {"usb2": 0.035, "usb3": 0.4, "pcie": 0.4}  # usable payload rates


# ------------------------------------------------------------------------------------------------ rows

@dataclass(frozen=True)
class FitRow:
    row: PublishedRow
    sel: Selection
    build: Build
    path: Path

    @property
    def family(self) -> str:
        return self.row.device

    @property
    def profile_id(self) -> str:
        return self.sel.profile

    @property
    def group(self) -> str:
        """The leave-one-out group: the row's architecture (the dataset's ``model`` column)."""
        return self.row.model

    @property
    def network(self) -> str:
        """The row's network (architecture + variant as built: size, width, options)."""
        b = self.build
        return f"{self.row.model} {b.arch} {b.size[0]}x{b.size[1]} dm{b.dm:g} {dict(b.options)}"

    @property
    def conditions(self) -> Conditions:
        return Conditions(threads=self.sel.threads, xnnpack=self.sel.xnnpack, clock_ghz=self.sel.clock_ghz,
                          host_only=self.sel.mode == Mode.HOST_CPU, gpu_fp16=self.sel.gpu_fp16)

    @property
    def kind(self) -> str:
        """cpu | edgetpu | gpu: which part of the model predicts it."""
        if self.sel.mode == Mode.ACCELERATOR:
            return "edgetpu" if self.sel.profile.startswith("coral") else "gpu"
        return "cpu"


def fit_rows(dataset: Path = DATASET) -> tuple[list[FitRow], dict[str, list[PublishedRow]]]:
    """Usable rows whose model is built, and (reason -> rows) for the usable rows without a model."""
    rows = load_dataset(dataset)
    out: list[FitRow] = []
    missing: dict[str, list[PublishedRow]] = defaultdict(list)
    for row, sel in usable_rows(rows):
        b = build_for_row(row)
        if isinstance(b, str):
            missing[b].append(row)
            continue
        path = cached(b)
        if path is None:
            missing[f"not built yet: {b.key} (scripts/published_models.py --build)"].append(row)
            continue
        out.append(FitRow(row, sel, b, path))
    return out, dict(missing)


_MODELS: dict[Path, TFLiteModel] = {}
_COSTS: dict[Path, list[OpCost]] = {}


def model_of(path: Path) -> TFLiteModel:
    if path not in _MODELS:
        _MODELS[path] = load_model(path)
        _COSTS[path] = graph_costs(_MODELS[path].main, _MODELS[path].subgraphs)
    return _MODELS[path]


def costs_of(path: Path) -> list[OpCost]:
    model_of(path)
    return _COSTS[path]


# ------------------------------------------------------------------------------------------------ parameters

@dataclass
class Params:
    """Named log-space parameters with their priors (log value and width) and bounds."""

    names: list[str] = field(default_factory=list)
    prior: list[float] = field(default_factory=list)
    sigma: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, value: float, sigma: float, hi: float = math.inf) -> int:
        if name in self.index:
            return self.index[name]
        self.index[name] = len(self.names)
        self.names.append(name)
        self.prior.append(math.log(max(value, 1e-12)))
        self.sigma.append(sigma)
        self.hi.append(math.log(hi) if math.isfinite(hi) else math.inf)
        return self.index[name]

    def __len__(self) -> int:
        return len(self.names)

    def theta0(self) -> np.ndarray:
        return np.array(self.prior, dtype=float)


def core_of(p: DeviceProfile) -> str:
    return p.hardware.core_type


def dot_group(p: DeviceProfile) -> str:
    return "dot" if p.hardware.dot_product else "nodot"


def board_of(profile_id: str) -> str:
    return BOARD_TIES.get(profile_id, profile_id)


def _prior_eff(p: DeviceProfile, kind: str, dtype: str, cls: str) -> float:
    table = getattr(p.efficiency, dtype)
    if kind == "builtin":
        bt = getattr(p.builtin_efficiency, dtype) if p.builtin_efficiency is not None else None
        if bt is not None:
            return float(getattr(bt, cls))
        return float(getattr(table, cls)) * p.runtime.builtin_kernel_factor
    return float(getattr(table, cls))


def _prior_curve(p: DeviceProfile, kind: str, dtype: str, t: int) -> float:
    rt = p.runtime
    curve = (rt.thread_speedup_builtin or rt.thread_speedup) if kind == "builtin" else rt.thread_speedup
    return curve.at(dtype, t)


class Model:
    """The parameter layout of every shipped profile and the mapping back to profile figures."""

    def __init__(self, profiles: dict[str, DeviceProfile], neutral: bool = True) -> None:
        """``neutral``: the ratios between kernel families, dtypes and op classes start at 1 (the hardware
        figures already hold the int8/float32 and per-class peak differences), so a ratio the data cannot see
        stays neutral; otherwise they start from the current profiles' values."""
        self.profiles = profiles
        self.neutral = neutral
        self.p = Params()
        # CPU: per core
        first_of_core: dict[str, DeviceProfile] = {}
        for _pid, prof in sorted(profiles.items()):
            first_of_core.setdefault(core_of(prof), prof)
        for core, prof in first_of_core.items():
            conv = _prior_eff(prof, "xnnpack", "float32", "conv")
            self.p.add(f"base/{core}", conv, 2.0, hi=1.0)
            for kind in KINDS:
                for dt in DTYPES:
                    self.p.add(f"dev/{core}/{kind}/{dt}", 1.0, 0.5)
                    for cls in CLASSES:
                        if cls != "conv":
                            self.p.add(f"cdev/{core}/{kind}/{dt}/{cls}", 1.0, CORE_CLASS_SIGMA)
                self.p.add(f"ovh/{core}/{kind}", prof.runtime.per_op_overhead_us * prof.hardware.clock_ghz, 1.5)
            self.p.add(f"invoke/{core}", max(prof.runtime.invoke_overhead_us, 1.0) * prof.hardware.clock_ghz, 1.5)
            self.p.add(f"part/{core}", max(prof.runtime.partition_overhead_us, 1.0) * prof.hardware.clock_ghz, 1.5)
        ref = profiles["rpi4b"]
        for grp in ("dot", "nodot"):
            refp = next(p for p in profiles.values() if dot_group(p) == grp)
            for kind in KINDS:
                for dt in DTYPES:
                    if kind == "xnnpack" and dt == "float32":
                        continue
                    v = _prior_eff(refp, kind, dt, "conv") / _prior_eff(refp, "xnnpack", "float32", "conv")
                    self.p.add(f"kd/{grp}/{kind}/{dt}", 1.0 if neutral else v, 1.0)
        for kind in KINDS:
            for dt in DTYPES:
                for cls in CLASSES:
                    if cls == "conv":
                        continue
                    v = _prior_eff(ref, "xnnpack", "float32", cls) / _prior_eff(ref, "xnnpack", "float32", "conv")
                    self.p.add(f"ratio/{kind}/{dt}/{cls}", 1.0 if neutral else v, 1.0)
        for pid in sorted({board_of(i) for i in profiles}):
            prof = profiles[pid]
            self.p.add(f"mem/{pid}", prof.runtime.memory_efficiency, 1.0, hi=1.0)
            for kind in KINDS:
                for dt in DTYPES:
                    for t in range(2, MAX_THREADS + 1):
                        self.p.add(f"thr/{pid}/{kind}/{dt}/{t}", min(_prior_curve(prof, kind, dt, t), t), 0.5, hi=t)
        # Edge TPU: per chip and per host
        tpus = {pid: p for pid, p in profiles.items() if p.edgetpu is not None}
        if tpus:
            # priors from the chip and link data sheets, not from the shipped (already fitted) figures, so that a
            # left-out architecture cannot reach its own fit through them
            self.p.add("tpu/eff", 0.5, 1.5, hi=1.0)
            self.p.add("tpu/fc", 0.5, 2.0, hi=1.0)
            self.p.add("tpu/data", 20.0, 2.0)
            self.p.add("tpu/move", 20.0, 2.0)
            self.p.add("tpu/fill", float(TPU_PRIOR_LANES), 1.5)  # loading a lanes-row weight tile: ~lanes cycles
            self.p.add("tpu/ovh", 10.0, 1.5)
            self.p.add("tpu/overlap", 0.7, 1.0, hi=1.0)
            for pid, prof in tpus.items():
                tp = prof.edgetpu
                assert tp is not None
                self.p.add(f"link/{pid}", LINK_PRIOR_GB_PER_S[tp.link], 0.5)
                self.p.add(f"rb/{pid}", LINK_PRIOR_GB_PER_S[tp.link], 2.0)
                self.p.add(f"tinv/{pid}", 100.0, 1.5)
                self.p.add(f"xfer/{pid}", 10.0, 1.5)
        gpus = {pid: p for pid, p in profiles.items() if p.gpu is not None}
        for pid, prof in gpus.items():
            g = prof.gpu
            assert g is not None
            self.p.add(f"gpu/{pid}/base", g.efficiency.conv, 2.0, hi=1.0)
            for cls in CLASSES:
                if cls != "conv":
                    self.p.add(f"gpu/ratio/{cls}", 1.0 if neutral else getattr(g.efficiency, cls) / g.efficiency.conv, 1.0)
            self.p.add(f"gpu/{pid}/launch", max(g.per_op_overhead_us, 1.0), 1.5)
            self.p.add(f"gpu/{pid}/invoke", max(g.invoke_overhead_us, 1.0), 1.5)
            self.p.add(f"gpu/{pid}/mem", g.memory_efficiency, 1.0, hi=1.0)
            self.p.add(f"gpu/{pid}/fp32", g.fp32_rate, 0.25, hi=1.0)
            self.p.add(f"gpu/{pid}/part", max(g.partition_overhead_us, 10.0), 1.5)
            self.p.add(f"gpu/{pid}/red", g.reduction_ns or 100.0, 2.0)

    # -- keys
    def eff_keys(self, prof: DeviceProfile, kind: str, dt: str, cls: str) -> list[int]:
        core = core_of(prof)
        keys = [self.p.index[f"base/{core}"], self.p.index[f"dev/{core}/{kind}/{dt}"]]
        if not (kind == "xnnpack" and dt == "float32"):
            keys.append(self.p.index[f"kd/{dot_group(prof)}/{kind}/{dt}"])
        if cls != "conv":
            keys.append(self.p.index[f"ratio/{kind}/{dt}/{cls}"])
            keys.append(self.p.index[f"cdev/{core}/{kind}/{dt}/{cls}"])
        return keys

    def eff(self, theta: np.ndarray, prof: DeviceProfile, kind: str, dt: str, cls: str) -> float:
        return float(min(1.0, math.exp(sum(theta[k] for k in self.eff_keys(prof, kind, dt, cls)))))


# ------------------------------------------------------------------------------------------------ features

@dataclass
class Terms:
    """Every row's prediction as arrays of terms (the vectorized estimator)."""

    n_rows: int
    # CPU op terms
    c_row: list[int] = field(default_factory=list)
    c_work: list[float] = field(default_factory=list)  # MACs / peak MAC rate per ms: ms at efficiency 1, 1 thread
    c_eff: list[list[int]] = field(default_factory=list)  # parameter keys summed in log space
    c_thr: list[int] = field(default_factory=list)  # thread parameter (-1: 1.0)
    c_mem: list[float] = field(default_factory=list)  # bytes / bandwidth per ms: ms at memory efficiency 1
    # XNNPACK's indirection pointers of a spatial CONV_2D (edgekit.profile.indirection): ms at memory efficiency 1
    # and one thread, added to the op's time
    c_ptr: list[float] = field(default_factory=list)
    c_memk: list[int] = field(default_factory=list)
    c_ovh: list[int] = field(default_factory=list)  # per-op cost (cycles)
    c_clock: list[float] = field(default_factory=list)  # GHz of the row
    # fixed terms per row: (row, parameter key, multiplier): time += multiplier * exp(theta[key])
    k_row: list[int] = field(default_factory=list)
    k_key: list[int] = field(default_factory=list)
    k_mul: list[float] = field(default_factory=list)
    # Edge TPU op terms
    t_row: list[int] = field(default_factory=list)
    t_compute: list[float] = field(default_factory=list)  # ms at efficiency 1 of the rows through the array
    t_fill: list[float] = field(default_factory=list)  # ms at efficiency 1 per weight-tile fill cycle
    t_effk: list[int] = field(default_factory=list)
    t_datak: list[int] = field(default_factory=list)  # tpu/data (MAC ops) or tpu/move (ops without MACs)
    t_data: list[float] = field(default_factory=list)  # bytes / 1e6 (ms at 1 GB/s)
    t_stream: list[float] = field(default_factory=list)  # bytes / 1e6
    t_link: list[int] = field(default_factory=list)
    t_isop: list[float] = field(default_factory=list)  # 1: a mapped op (pays the per-op cost); 0: link I/O bytes
    # GPU kernel terms
    g_row: list[int] = field(default_factory=list)
    g_compute: list[float] = field(default_factory=list)  # ms at efficiency 1 and the float16 rate
    g_effk: list[list[int]] = field(default_factory=list)
    g_fp32: list[int] = field(default_factory=list)  # fp32 parameter key (-1: float16)
    g_mem: list[float] = field(default_factory=list)  # ms at memory efficiency 1
    g_memk: list[int] = field(default_factory=list)
    g_launch: list[int] = field(default_factory=list)
    g_red: list[float] = field(default_factory=list)  # reduction length (ms at 1 ns per element: x 1e-6)
    g_redk: list[int] = field(default_factory=list)
    fixed: list[float] = field(default_factory=list)  # per row: ms from hardware figures alone (GPU hand-over copies)

    def arrays(self) -> dict[str, Any]:
        def ragged(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
            width = max((len(x) for x in lists), default=1)
            keys = np.zeros((len(lists), width), dtype=int)
            mask = np.zeros((len(lists), width), dtype=float)
            for i, ks in enumerate(lists):
                keys[i, :len(ks)] = ks
                mask[i, :len(ks)] = 1.0
            return keys, mask

        out: dict[str, Any] = {k: np.array(v) for k, v in dataclasses.asdict(self).items()
                               if isinstance(v, list) and k not in ("c_eff", "g_effk", "fixed")}
        out["fixed"] = np.array(self.fixed if self.fixed else [0.0] * self.n_rows)
        out["c_eff"], out["c_effm"] = ragged(self.c_eff)
        out["g_eff"], out["g_effm"] = ragged(self.g_effk)
        out["n_rows"] = self.n_rows
        return out


def _cpu_terms(m: Model, terms: Terms, r: int, prof: DeviceProfile, fr: FitRow, include: list[bool],
               threads: int) -> None:
    """The CPU ops of one row (those in ``include``), as estimate()'s _cpu_ops sees them."""
    from edgekit.profile.delegate import count_graph_partitions, folded_note, unpacked_at_init

    model = model_of(fr.path)
    sg = model.main
    costs = costs_of(fr.path)
    placement, _ = cpu_placement(prof, sg)
    board = board_of(fr.profile_id)
    core = core_of(prof)
    t = max(1, min(threads, prof.hardware.cores))
    for cost, inc, deleg in zip(costs, include, placement, strict=True):
        node = sg.operators[cost.index]
        if not inc or (deleg and unpacked_at_init(sg, node)) or folded_note(sg, node, placement):
            continue  # the estimator charges these 0 (unpacked at load; run inside a neighbour)
        delegated = deleg and prof.runtime.delegate != DelegateKind.NONE
        kind = "xnnpack" if delegated else "builtin"
        dt = "int8" if cost.compute_dtype in ("int8", "int16") else "float32"
        peak = prof.peak_gmacs_per_core(cost.compute_dtype) * 1e6  # MACs per ms
        terms.c_row.append(r)
        terms.c_work.append(cost.macs / peak)
        terms.c_eff.append(m.eff_keys(prof, kind, dt, cost.op_class.value))
        multi = delegated or cost.op_class in MULTITHREADED_BUILTINS
        tt = min(t, MAX_THREADS)
        terms.c_thr.append(m.p.index[f"thr/{board}/{kind}/{dt}/{tt}"] if (multi and tt > 1) else -1)
        terms.c_mem.append(cost.bytes / (prof.hardware.memory_bandwidth_gb_per_s * 1e6))
        terms.c_ptr.append(indirection_ms(prof, timed_pointer_bytes(prof, sg, node, delegated), memory_efficiency=1.0))
        terms.c_memk.append(m.p.index[f"mem/{board}"])
        terms.c_ovh.append(m.p.index[f"ovh/{core}/{kind}"])
        terms.c_clock.append(prof.hardware.clock_ghz)
    deleg_mask = [d and i and prof.runtime.delegate != DelegateKind.NONE for d, i in zip(placement, include, strict=True)]
    parts = count_graph_partitions(sg, deleg_mask)
    if any(include):
        if parts > 1:
            terms.k_row.append(r)
            terms.k_key.append(m.p.index[f"part/{core}"])
            terms.k_mul.append((parts - 1) / prof.hardware.clock_ghz / 1000.0)
        terms.k_row.append(r)
        terms.k_key.append(m.p.index[f"invoke/{core}"])
        terms.k_mul.append(1.0 / prof.hardware.clock_ghz / 1000.0)


def build_terms(m: Model, rows: Sequence[FitRow], lanes: int = 64, cache_bytes: int | None = None) -> Terms:
    """Terms of every row under its conditions; Edge TPU rows with ``lanes`` and ``cache_bytes``."""
    terms = Terms(len(rows), fixed=[0.0] * len(rows))
    for r, fr in enumerate(rows):
        prof = fr.conditions.apply(m.profiles[fr.profile_id])
        threads = fr.sel.threads
        model = model_of(fr.path)
        sg = model.main
        costs = costs_of(fr.path)
        n = len(costs)
        if fr.kind == "cpu":
            _cpu_terms(m, terms, r, prof, fr, [True] * n, threads)
        elif fr.kind == "edgetpu":
            tpu = prof.edgetpu
            assert tpu is not None
            cache = cache_bytes if cache_bytes is not None else tpu.parameter_cache_bytes
            mapping = map_edgetpu(model, cache)
            pid = fr.profile_id
            for w in tpu_work(sg, mapping, [c.macs for c in costs]):
                terms.t_row.append(r)
                eff_key = "tpu/fc" if w.kind == "fully_connected" else "tpu/eff"
                mac_op = w.macs > 0 and w.kind != "data"
                rows_, fill = array_work(w, lanes, 0.0) if mac_op else (0.0, 0.0)
                terms.t_compute.append(rows_ / (tpu.peak_int8_gmacs * 1e6))
                terms.t_fill.append(fill / (tpu.peak_int8_gmacs * 1e6))
                terms.t_effk.append(m.p.index[eff_key])
                terms.t_datak.append(m.p.index["tpu/data" if mac_op else "tpu/move"])
                terms.t_data.append(w.data_bytes / 1e6)
                terms.t_stream.append(w.streamed_bytes / 1e6)
                terms.t_link.append(m.p.index[f"link/{pid}"])
                terms.t_isop.append(1.0)
            if mapping.mapped_ops:
                into, out, transfers = link_io(sg, mapping.mapped)
                terms.k_row += [r, r]
                terms.k_key += [m.p.index[f"tinv/{pid}"], m.p.index[f"xfer/{pid}"]]
                terms.k_mul += [1.0 / 1000.0, transfers / 1000.0]
                # bytes in over the link and read back: terms in 1/bandwidth -- as stream terms with no compute
                for nbytes, key in ((into, f"link/{pid}"), (out, f"rb/{pid}")):
                    terms.t_row.append(r)
                    terms.t_compute.append(0.0)
                    terms.t_fill.append(0.0)
                    terms.t_effk.append(m.p.index["tpu/eff"])
                    terms.t_datak.append(m.p.index["tpu/data"])
                    terms.t_data.append(0.0)
                    terms.t_stream.append(nbytes / 1e6)
                    terms.t_link.append(m.p.index[key])
                    terms.t_isop.append(0.0)
            cpu_include = [not x for x in mapping.mapped]
            if any(cpu_include):
                _cpu_terms(m, terms, r, prof, fr, cpu_include, threads)
        else:  # gpu
            gpu = prof.gpu
            assert gpu is not None
            pid = fr.profile_id
            plan = plan_gpu(sg)
            fp16 = gpu.precision == "float16"
            for k in gpu_kernels(sg, costs, plan.kernels):
                terms.g_row.append(r)
                terms.g_compute.append(k.macs / (gpu.peak_fp16_gmacs * 1e6) if k.macs else 0.0)
                keys = [m.p.index[f"gpu/{pid}/base"]]
                if k.op_class.value != "conv":
                    keys.append(m.p.index[f"gpu/ratio/{k.op_class.value}"])
                terms.g_effk.append(keys)
                terms.g_fp32.append(-1 if fp16 else m.p.index[f"gpu/{pid}/fp32"])
                terms.g_mem.append(k.elements * (2 if fp16 else 4) / (gpu.memory_bandwidth_gb_per_s * 1e6))
                terms.g_memk.append(m.p.index[f"gpu/{pid}/mem"])
                terms.g_launch.append(m.p.index[f"gpu/{pid}/launch"])
                terms.g_red.append(k.reduction * 1e-6)
                terms.g_redk.append(m.p.index[f"gpu/{pid}/red"])
            terms.k_row.append(r)
            terms.k_key.append(m.p.index[f"gpu/{pid}/invoke"])
            terms.k_mul.append(plan.partitions / 1000.0)
            cpu_include = [not x for x in plan.on_gpu]
            if any(cpu_include):
                _cpu_terms(m, terms, r, prof, fr, cpu_include, threads)
                boundary, crossings = gpu_boundary(sg, plan.on_gpu)
                terms.k_row.append(r)
                terms.k_key.append(m.p.index[f"gpu/{pid}/part"])
                terms.k_mul.append(crossings / 1000.0)
                # the copies at the hand-overs, at the profile's transfer bandwidth (a hardware figure)
                terms.fixed[r] += 1000.0 * boundary / (gpu.transfer_gb_per_s * 1e9)
    return terms


def predict(theta: np.ndarray, a: dict[str, Any]) -> np.ndarray:
    """Milliseconds per row (the vectorized estimator)."""
    n = a["n_rows"]
    e = np.exp(theta)
    out = np.array(a["fixed"], dtype=float).copy()
    if len(a["c_row"]):
        log_eff = (theta[a["c_eff"]] * a["c_effm"]).sum(axis=1)
        eff = np.minimum(np.exp(log_eff), 1.0)
        thr = np.where(a["c_thr"] >= 0, e[np.maximum(a["c_thr"], 0)], 1.0)
        compute = a["c_work"] / (eff * thr)
        mem = np.minimum(e[a["c_memk"]], 1.0)
        memory = a["c_mem"] / mem
        ovh = np.where(a["c_ovh"] >= 0, e[np.maximum(a["c_ovh"], 0)] / a["c_clock"] / 1000.0, 0.0)
        pointers = a["c_ptr"] / (mem * thr)
        out += np.bincount(a["c_row"], np.maximum(compute, memory) + pointers + ovh, minlength=n)
    if len(a["k_row"]):
        out += np.bincount(a["k_row"], a["k_mul"] * e[a["k_key"]], minlength=n)
    if len(a["t_row"]):
        k_fill, k_overlap, k_ovh = a["tpu_keys"]
        eff = np.minimum(e[a["t_effk"]], 1.0)
        compute = (a["t_compute"] + a["t_fill"] * e[k_fill]) / eff
        data = a["t_data"] / e[a["t_datak"]]
        busy = np.maximum(compute, data)
        stream = a["t_stream"] / e[a["t_link"]]
        overlap = min(1.0, float(e[k_overlap]))
        ovh = a["t_isop"] * e[k_ovh] / 1000.0
        out += np.bincount(a["t_row"], busy + stream - overlap * np.minimum(busy, stream) + ovh, minlength=n)
    if len(a["g_row"]):
        log_eff = (theta[a["g_eff"]] * a["g_effm"]).sum(axis=1)
        eff = np.minimum(np.exp(log_eff), 1.0)
        rate = np.where(a["g_fp32"] >= 0, np.minimum(e[np.maximum(a["g_fp32"], 0)], 1.0), 1.0)
        compute = a["g_compute"] / (eff * rate)
        memory = a["g_mem"] / np.minimum(e[a["g_memk"]], 1.0)
        chain = a["g_red"] * e[a["g_redk"]]
        launch = np.where(a["g_launch"] >= 0, e[np.maximum(a["g_launch"], 0)] / 1000.0, 0.0)
        out += np.bincount(a["g_row"], np.maximum(np.maximum(compute, memory), chain) + launch, minlength=n)
    return out


# ------------------------------------------------------------------------------------------------ fitting

def _weights(rows: Sequence[FitRow]) -> np.ndarray:
    count: dict[tuple[str, str], int] = defaultdict(int)
    for fr in rows:
        count[(fr.family, fr.network)] += 1
    return np.array([1.0 / math.sqrt(count[(fr.family, fr.network)]) for fr in rows])


def used_params(a: dict[str, Any]) -> set[int]:
    keys: set[int] = set()
    for name in ("c_thr", "c_memk", "c_ovh", "k_key", "t_effk", "t_datak", "t_link", "g_fp32", "g_memk", "g_launch", "g_redk"):
        keys.update(int(k) for k in np.asarray(a[name]).ravel() if k >= 0)
    for name, mask in (("c_eff", "c_effm"), ("g_eff", "g_effm")):
        arr = np.asarray(a[name])
        if arr.size:
            keys.update(int(k) for k, w in zip(arr.ravel(), np.asarray(a[mask]).ravel(), strict=True) if w > 0)
    return keys


def jacobian(theta: np.ndarray, a: dict[str, Any]) -> np.ndarray:
    """d(ms per row) / d(theta), analytically (rows x parameters): the derivative of :func:`predict`."""
    n = a["n_rows"]
    e = np.exp(theta)
    jac = np.zeros((n, theta.size))

    def add(rows: np.ndarray, keys: np.ndarray, values: np.ndarray) -> None:
        ok = keys >= 0
        np.add.at(jac, (rows[ok], keys[ok]), values[ok])

    if len(a["c_row"]):
        log_eff = (theta[a["c_eff"]] * a["c_effm"]).sum(axis=1)
        capped = np.exp(log_eff) >= 1.0
        eff = np.minimum(np.exp(log_eff), 1.0)
        thr = np.where(a["c_thr"] >= 0, e[np.maximum(a["c_thr"], 0)], 1.0)
        compute = a["c_work"] / (eff * thr)
        mem_raw = e[a["c_memk"]]
        memory = a["c_mem"] / np.minimum(mem_raw, 1.0)
        cbound = compute >= memory
        d_eff = np.where(cbound & ~capped, -compute, 0.0)
        for col in range(a["c_eff"].shape[1]):
            add(a["c_row"], np.where(a["c_effm"][:, col] > 0, a["c_eff"][:, col], -1), d_eff)
        add(a["c_row"], a["c_thr"], np.where(cbound, -compute, 0.0))
        add(a["c_row"], a["c_memk"], np.where(~cbound & (mem_raw < 1.0), -memory, 0.0))
        pointers = a["c_ptr"] / (np.minimum(mem_raw, 1.0) * thr)
        add(a["c_row"], a["c_thr"], -pointers)
        add(a["c_row"], a["c_memk"], np.where(mem_raw < 1.0, -pointers, 0.0))
        ovh = np.where(a["c_ovh"] >= 0, e[np.maximum(a["c_ovh"], 0)] / a["c_clock"] / 1000.0, 0.0)
        add(a["c_row"], a["c_ovh"], ovh)
    if len(a["k_row"]):
        add(a["k_row"], a["k_key"], a["k_mul"] * e[a["k_key"]])
    if len(a["t_row"]):
        k_fill, k_overlap, k_ovh = a["tpu_keys"]
        eff_raw = e[a["t_effk"]]
        compute = (a["t_compute"] + a["t_fill"] * e[k_fill]) / np.minimum(eff_raw, 1.0)
        data = a["t_data"] / e[a["t_datak"]]
        busy = np.maximum(compute, data)
        stream = a["t_stream"] / e[a["t_link"]]
        ov = float(e[k_overlap])
        overlap = min(1.0, ov)
        d_busy = 1.0 - overlap * (busy < stream)
        d_stream = 1.0 - overlap * (stream <= busy)
        rows = a["t_row"]
        add(rows, a["t_effk"], np.where((compute >= data) & (eff_raw < 1.0), -compute * d_busy, 0.0))
        add(rows, a["t_datak"], np.where(data > compute, -data * d_busy, 0.0))
        fill_ms = a["t_fill"] * e[k_fill] / np.minimum(eff_raw, 1.0)
        add(rows, np.full(rows.size, k_fill), np.where(compute >= data, fill_ms * d_busy, 0.0))
        add(rows, a["t_link"], -stream * d_stream)
        if ov < 1.0:
            add(rows, np.full(rows.size, k_overlap), -overlap * np.minimum(busy, stream))
        add(rows, np.full(rows.size, k_ovh), a["t_isop"] * e[k_ovh] / 1000.0)
    if len(a["g_row"]):
        log_eff = (theta[a["g_eff"]] * a["g_effm"]).sum(axis=1)
        capped = np.exp(log_eff) >= 1.0
        eff = np.minimum(np.exp(log_eff), 1.0)
        rate_raw = np.where(a["g_fp32"] >= 0, e[np.maximum(a["g_fp32"], 0)], 1.0)
        compute = a["g_compute"] / (eff * np.minimum(rate_raw, 1.0))
        mem_raw = e[a["g_memk"]]
        memory = a["g_mem"] / np.minimum(mem_raw, 1.0)
        chain = a["g_red"] * e[a["g_redk"]]
        cbound = (compute >= memory) & (compute >= chain)
        mbound = (memory > compute) & (memory >= chain)
        rbound = ~cbound & ~mbound
        for col in range(a["g_eff"].shape[1]):
            add(a["g_row"], np.where(a["g_effm"][:, col] > 0, a["g_eff"][:, col], -1),
                np.where(cbound & ~capped, -compute, 0.0))
        add(a["g_row"], a["g_fp32"], np.where(cbound & (rate_raw < 1.0), -compute, 0.0))
        add(a["g_row"], a["g_memk"], np.where(mbound & (mem_raw < 1.0), -memory, 0.0))
        add(a["g_row"], a["g_redk"], np.where(rbound, chain, 0.0))
        launch = np.where(a["g_launch"] >= 0, e[np.maximum(a["g_launch"], 0)] / 1000.0, 0.0)
        add(a["g_row"], a["g_launch"], launch)
    return jac


def levenberg_marquardt(residual: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, hi: np.ndarray,
                        iterations: int = 100,
                        jac_fn: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Minimise ||residual(x)||^2 (``jac_fn``'s Jacobian, or a numerical one; upper bounds by clipping)."""
    x = np.minimum(x0.copy(), hi)
    r = residual(x)
    cost = float(r @ r)
    mu = 1e-2
    h = 1e-4
    for _ in range(iterations):
        if jac_fn is not None:
            jac = jac_fn(x)
        else:
            jac = np.empty((r.size, x.size))
            for j in range(x.size):
                xj = x.copy()
                xj[j] += h
                jac[:, j] = (residual(xj) - r) / h
        g = jac.T @ r
        a = jac.T @ jac
        improved = False
        for _ in range(10):
            step = np.linalg.solve(a + mu * np.diag(np.diag(a) + 1e-9), -g)
            xn = np.minimum(x + step, hi)
            rn = residual(xn)
            cn = float(rn @ rn)
            if cn < cost:
                x, r, cost = xn, rn, cn
                mu = max(mu / 3.0, 1e-7)
                improved = True
                break
            mu *= 4.0
        if not improved or float(np.max(np.abs(step))) < 1e-5:
            break
    return x


def subset(a: dict[str, Any], rows: Sequence[int]) -> dict[str, Any]:
    """The terms of ``rows`` (indices into the rows ``a`` was built for), renumbered 0..len(rows)-1."""
    remap = np.full(a["n_rows"], -1, dtype=int)
    remap[np.asarray(rows, dtype=int)] = np.arange(len(rows))
    out: dict[str, Any] = {"n_rows": len(rows), "tpu_keys": a["tpu_keys"], "fixed": np.asarray(a["fixed"])[list(rows)]}
    for prefix in ("c_", "k_", "t_", "g_"):
        keep = remap[a[prefix + "row"]] >= 0 if len(a[prefix + "row"]) else np.zeros(0, dtype=bool)
        for name, value in a.items():
            if name.startswith(prefix):
                out[name] = value[keep] if len(value) else value
        out[prefix + "row"] = remap[a[prefix + "row"][keep]] if len(a[prefix + "row"]) else a[prefix + "row"]
    return out


class Fitter:
    """Fits on any subset of one row set, reusing its terms (built once per Edge TPU lanes/cache choice)."""

    def __init__(self, m: Model, rows: Sequence[FitRow], prior_weight: float = PRIOR_WEIGHT, tpu_grid: bool = True) -> None:
        self.m = m
        self.rows = list(rows)
        self.prior_weight = prior_weight
        self.grid = [(ln, int(c * 2**20)) for ln in TPU_LANES for c in TPU_CACHE_MIB] if tpu_grid else [(64, 7 * 2**20)]
        has_tpu = any(fr.kind == "edgetpu" for fr in self.rows)
        self.base = arrays_of(m, self.rows)
        self.tpu_arrays = {g: arrays_of(m, self.rows, *g) for g in self.grid} if has_tpu else {}
        self.target = np.log(np.array([fr.row.latency_ms for fr in self.rows]))

    def _stage(self, a: dict[str, Any], idx: list[int], theta: np.ndarray,
               prefixes: tuple[str, ...]) -> tuple[np.ndarray, float, float]:
        """Fit the parameters named by ``prefixes`` on rows ``idx`` from ``theta``: (theta, the rows' weighted
        squared log error, the whole objective with the priors)."""
        sub = subset(a, idx)
        used = used_params(sub) | (set(sub["tpu_keys"]) if len(sub["t_row"]) else set())
        m = self.m
        free_idx = np.array(sorted(i for i in used if m.p.names[i].startswith(prefixes)), dtype=int)
        target = self.target[idx]
        w = np.sqrt(_weights([self.rows[i] for i in idx]))
        prior = np.array(m.p.prior)
        sigma = np.array(m.p.sigma)
        hi = np.array(m.p.hi)
        lam = math.sqrt(self.prior_weight)

        def residual(x: np.ndarray) -> np.ndarray:
            th = theta.copy()
            th[free_idx] = x
            pred = predict(th, sub)
            return np.concatenate([w * (np.log(np.maximum(pred, 1e-9)) - target),
                                   lam * (x - prior[free_idx]) / sigma[free_idx]])

        def jac_fn(x: np.ndarray) -> np.ndarray:
            th = theta.copy()
            th[free_idx] = x
            pred = np.maximum(predict(th, sub), 1e-9)
            d = jacobian(th, sub)[:, free_idx] * (w / pred)[:, None]
            return np.vstack([d, np.diag(lam / sigma[free_idx])])

        out = theta.copy()
        if free_idx.size:
            out[free_idx] = levenberg_marquardt(residual, theta[free_idx], hi[free_idx], jac_fn=jac_fn)
        pred = predict(out, sub)
        err = float(np.sum(w ** 2 * (np.log(pred) - target) ** 2))
        objective = err + float(np.sum((lam * (out[free_idx] - prior[free_idx]) / sigma[free_idx]) ** 2))
        return out, err, objective

    def _cpu_stage(self, idx: list[int], theta: np.ndarray) -> np.ndarray:
        """The CPU figures, fitted from two starts: the priors, and the priors with every builtin non-GEMM
        class far slower than conv (``SLOW_START``). An op bound by memory gives its efficiency no gradient (the
        ``max`` of the estimate), so a fit started where an op class is memory-bound can never find that the
        old runtime's kernel for it is slow (LiteRT's generic uint8 resize, broadcast multiply); the start
        that makes them compute-bound can. The start with the lower objective (data and priors) wins."""
        alt = theta.copy()
        alt[self.slow_start_params(idx)] += math.log(SLOW_START)
        return self._better_start(idx, theta, alt, CPU_PREFIXES)

    def _gpu_stage(self, idx: list[int], theta: np.ndarray) -> np.ndarray:
        """The GPU figures, from two starts: the priors, and the priors with the memory efficiency at
        ``GPU_MEMORY_START``. At its bound of 1.0 the memory efficiency has no gradient, nor below it while no
        kernel is memory-bound (a kernel's time is the largest of its arithmetic, memory and chain terms), so a
        fit started there keeps it whatever the rows say. The start with the lower objective wins."""
        alt = theta.copy()
        mem = [i for name, i in self.m.p.index.items() if name.startswith("gpu/") and name.endswith("/mem")]
        alt[mem] = np.minimum(alt[mem], math.log(GPU_MEMORY_START))
        return self._better_start(idx, theta, alt, ("gpu/",))

    def _better_start(self, idx: list[int], theta: np.ndarray, alt: np.ndarray, prefixes: tuple[str, ...]
                      ) -> np.ndarray:
        """The figures under ``prefixes`` fitted from ``theta`` and from ``alt``: the one with the lower objective."""
        first, _, objective = self._stage(self.base, idx, theta, prefixes)
        second, _, objective2 = self._stage(self.base, idx, alt, prefixes)
        return second if objective2 < objective else first

    def slow_start_params(self, idx: list[int]) -> list[int]:
        """The builtin non-GEMM class ratios the rows ``idx`` see (the rest keeps its prior at either start)."""
        used = used_params(subset(self.base, idx))
        gemm = tuple(f"/{c}" for c in GEMM_CLASSES)
        return [i for name, i in self.m.p.index.items()
                if i in used and name.startswith("ratio/builtin/") and not name.endswith(gemm)]

    def fit(self, exclude: Callable[[FitRow], bool] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Theta fitted on the rows not excluded: CPU, then Edge TPU (best grid point), then GPU, then all
        figures on all rows (:meth:`_joint_stage`)."""
        keep = [i for i, fr in enumerate(self.rows) if not (exclude and exclude(fr))]
        theta = self.m.p.theta0()
        cpu = [i for i in keep if self.rows[i].kind == "cpu"]
        if cpu:
            theta = self._cpu_stage(cpu, theta)
        extra: dict[str, Any] = {}
        tpu = [i for i in keep if self.rows[i].kind == "edgetpu"]
        if tpu:
            best: tuple[float, np.ndarray, tuple[int, int]] | None = None
            for g in self.grid:
                th, err, _ = self._stage(self.tpu_arrays[g], tpu, theta, TPU_PREFIXES)
                if best is None or err < best[0]:
                    best = (err, th, g)
            assert best is not None
            theta = best[1]
            extra = {"lanes": best[2][0], "cache_bytes": best[2][1]}
        gpu = [i for i in keep if self.rows[i].kind == "gpu"]
        if gpu:
            theta = self._gpu_stage(gpu, theta)
        if (tpu or gpu) and cpu:
            theta = self._joint_stage(keep, theta, extra)
        return theta, extra

    def _joint_stage(self, idx: list[int], theta: np.ndarray, extra: dict[str, Any]) -> np.ndarray:
        """Every figure again on every row, from the staged fit: an accelerator row's CPU part (DeepLab's
        513x513 resize after the Edge TPU) then informs the host's CPU figures too."""
        a = self.tpu_arrays[(extra["lanes"], extra["cache_bytes"])] if extra else self.base
        out, _, _ = self._stage(a, idx, theta, CPU_PREFIXES + TPU_PREFIXES + ("gpu/",))
        return out

    def predict(self, theta: np.ndarray, extra: dict[str, Any], idx: Sequence[int] | None = None) -> np.ndarray:
        idx = list(range(len(self.rows))) if idx is None else list(idx)
        a = self.base
        if extra and self.tpu_arrays:
            a = self.tpu_arrays[(extra["lanes"], extra["cache_bytes"])]
        return predict(theta, subset(a, idx))


TPU_PREFIXES = ("tpu/", "link/", "rb/", "tinv/", "xfer/")
CPU_PREFIXES = ("base/", "dev/", "cdev/", "kd/", "ratio/", "ovh/", "invoke/", "part/", "mem/", "thr/")


def fit_all(m: Model, rows: Sequence[FitRow], prior_weight: float = PRIOR_WEIGHT,
            tpu_grid: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """Fit every stage on ``rows``; returns theta and the discrete Edge TPU choices (lanes, cache bytes)."""
    return Fitter(m, rows, prior_weight, tpu_grid).fit()


def arrays_of(m: Model, rows: Sequence[FitRow], lanes: int = 64, cache_bytes: int | None = None) -> dict[str, Any]:
    a = build_terms(m, rows, lanes, cache_bytes).arrays()
    idx = m.p.index
    a["tpu_keys"] = (idx["tpu/fill"], idx["tpu/overlap"], idx["tpu/ovh"]) if "tpu/fill" in idx else (0, 0, 0)
    return a


def predict_rows(m: Model, theta: np.ndarray, rows: Sequence[FitRow], extra: dict[str, Any]) -> np.ndarray:
    return predict(theta, arrays_of(m, rows, extra.get("lanes", 64), extra.get("cache_bytes")))


@dataclass(frozen=True)
class LooRow:
    fit_row: FitRow
    loo_ms: float
    fitted_ms: float


def leave_one_out(fitter: Fitter, group: Callable[[FitRow], str] = lambda fr: fr.group,
                  say: Callable[[str], None] | None = None) -> tuple[list[LooRow], np.ndarray, dict[str, Any]]:
    """For every group (default: the row's architecture), fit without it and estimate its rows.
    Returns the rows with their leave-one-out and all-rows estimates, and the all-rows fit."""
    theta, extra = fitter.fit()
    fitted = fitter.predict(theta, extra)
    loo = np.zeros(len(fitter.rows))
    groups = sorted({group(fr) for fr in fitter.rows})
    for n, g in enumerate(groups, 1):
        idx = [i for i, fr in enumerate(fitter.rows) if group(fr) == g]
        def left_out(fr: FitRow, g: str = g) -> bool:
            return group(fr) == g

        th, ex = fitter.fit(exclude=left_out)
        loo[idx] = fitter.predict(th, ex, idx)
        if say:
            err = np.median(np.abs(loo[idx] / np.array([fitter.rows[i].row.latency_ms for i in idx]) - 1))
            say(f"loo {n}/{len(groups)} {g}: {len(idx)} rows, median |error| {err:.0%}")
    return [LooRow(fr, float(lo), float(fi)) for fr, lo, fi in zip(fitter.rows, loo, fitted, strict=True)], theta, extra


def abs_error(est: float, pub: float) -> float:
    """|estimated / published - 1| (the error the issue's thresholds are in)."""
    return abs(est / pub - 1.0)


def summary(errors: Sequence[float]) -> dict[str, float]:
    arr = np.asarray(errors, dtype=float)
    if not arr.size:
        return {"rows": 0, "median_abs_error": float("nan"), "p90_abs_error": float("nan"),
                "within_20": float("nan"), "within_30": float("nan"), "within_35": float("nan")}
    return {"rows": int(arr.size), "median_abs_error": float(np.median(arr)), "p90_abs_error": float(np.percentile(arr, 90)),
            "within_20": float(np.mean(arr <= 0.20)), "within_30": float(np.mean(arr <= 0.30)),
            "within_35": float(np.mean(arr <= 0.35))}


# ------------------------------------------------------------------------------------------------ profiles

def _round(v: float, digits: int = 4) -> float:
    return float(f"{v:.{digits}g}")


def profile_from_theta(m: Model, pid: str, theta: np.ndarray, extra: dict[str, Any]) -> DeviceProfile:
    """The shipped profile ``pid`` with every fitted figure replaced by its value in ``theta``."""
    prof = m.profiles[pid]
    e = np.exp(theta)
    core = core_of(prof)
    board = board_of(pid)
    clock = prof.hardware.clock_ghz

    def table(kind: str, dt: str) -> EfficiencyTable:
        return EfficiencyTable(**{c: max(1e-5, _round(m.eff(theta, prof, kind, dt, c))) for c in CLASSES})

    def curve(kind: str, dt: str) -> tuple[float, ...]:
        vals = [1.0] + [_round(min(float(e[m.p.index[f"thr/{board}/{kind}/{dt}/{t}"]]), t), 3)
                        for t in range(2, MAX_THREADS + 1)]
        while len(vals) < prof.hardware.cores:
            vals.append(vals[-1])
        return tuple(vals[:max(1, prof.hardware.cores)])

    from edgekit.profile.schema import Efficiencies, ThreadSpeedup

    rt = dataclasses.replace(
        prof.runtime,
        per_op_overhead_us=_round(float(e[m.p.index[f"ovh/{core}/xnnpack"]]) / clock),
        builtin_per_op_overhead_us=_round(float(e[m.p.index[f"ovh/{core}/builtin"]]) / clock),
        invoke_overhead_us=_round(float(e[m.p.index[f"invoke/{core}"]]) / clock),
        partition_overhead_us=_round(float(e[m.p.index[f"part/{core}"]]) / clock),
        memory_efficiency=_round(min(1.0, float(e[m.p.index[f"mem/{board}"]]))),
        builtin_kernel_factor=min(1.0, max(1e-4, _round(m.eff(theta, prof, "builtin", "int8", "conv")
                                                        / max(1e-9, m.eff(theta, prof, "xnnpack", "int8", "conv"))))),
        thread_speedup=ThreadSpeedup(float32=curve("xnnpack", "float32"), int8=curve("xnnpack", "int8")),
        thread_speedup_builtin=ThreadSpeedup(float32=curve("builtin", "float32"), int8=curve("builtin", "int8")),
    )
    out = dataclasses.replace(
        prof, runtime=rt,
        efficiency=Efficiencies(float32=table("xnnpack", "float32"), int8=table("xnnpack", "int8")),
        builtin_efficiency=Efficiencies(float32=table("builtin", "float32"), int8=table("builtin", "int8")),
    )
    if prof.edgetpu is not None and "tpu/eff" in m.p.index:
        t = prof.edgetpu
        out = dataclasses.replace(out, edgetpu=dataclasses.replace(
            t, efficiency=_round(min(1.0, float(e[m.p.index["tpu/eff"]]))),
            fully_connected_efficiency=_round(min(1.0, float(e[m.p.index["tpu/fc"]]))),
            data_gb_per_s=_round(float(e[m.p.index["tpu/data"]])),
            move_gb_per_s=_round(float(e[m.p.index["tpu/move"]])),
            tile_fill_cycles=_round(float(e[m.p.index["tpu/fill"]])),
            readback_gb_per_s=_round(float(e[m.p.index[f"rb/{pid}"]])),
            per_op_overhead_us=_round(float(e[m.p.index["tpu/ovh"]])),
            stream_overlap=_round(min(1.0, float(e[m.p.index["tpu/overlap"]]))),
            link_bandwidth_gb_per_s=_round(float(e[m.p.index[f"link/{pid}"]])),
            invoke_overhead_us=_round(float(e[m.p.index[f"tinv/{pid}"]])),
            transfer_overhead_us=_round(float(e[m.p.index[f"xfer/{pid}"]])),
            array_lanes=int(extra.get("lanes", t.array_lanes)),
            parameter_cache_bytes=int(extra.get("cache_bytes") or t.parameter_cache_bytes),
        ))
    if prof.gpu is not None:
        g = prof.gpu
        base = float(e[m.p.index[f"gpu/{pid}/base"]])
        eff = {c: max(1e-5, _round(min(1.0, base * (1.0 if c == "conv" else float(e[m.p.index[f"gpu/ratio/{c}"]])))))
               for c in CLASSES}
        out = dataclasses.replace(out, gpu=dataclasses.replace(
            g, efficiency=EfficiencyTable(**eff),
            per_op_overhead_us=_round(float(e[m.p.index[f"gpu/{pid}/launch"]])),
            invoke_overhead_us=_round(float(e[m.p.index[f"gpu/{pid}/invoke"]])),
            memory_efficiency=_round(min(1.0, float(e[m.p.index[f"gpu/{pid}/mem"]]))),
            fp32_rate=_round(min(1.0, float(e[m.p.index[f"gpu/{pid}/fp32"]]))),
            partition_overhead_us=_round(float(e[m.p.index[f"gpu/{pid}/part"]])),
            reduction_ns=_round(float(e[m.p.index[f"gpu/{pid}/red"]])),
        ))
    return out


def check_against_estimator(profiles: dict[str, DeviceProfile], rows: Sequence[FitRow],
                            predicted: np.ndarray) -> list[str]:
    """estimate() with the written profiles under each row's conditions vs the fit's prediction (rounding of the
    written figures aside they must agree); returns the rows that differ by more than 2%."""
    from edgekit.profile.estimator import estimate

    bad = []
    for fr, pred in zip(rows, predicted, strict=True):
        prof = fr.conditions.apply(profiles[fr.profile_id])
        est = estimate(model_of(fr.path), ProfileEntry(prof, ProfileOrigin.SHIPPED, "<fit>"), fr.sel.threads)
        if abs(est.latency_ms / pred - 1.0) > 0.02:
            bad.append(f"{fr.row.row_id} {fr.row.label}: estimate() {est.latency_ms:.3f} ms vs fit {pred:.3f} ms")
    return bad


def shipped() -> dict[str, DeviceProfile]:
    return {e.profile.id: e.profile for e in shipped_profiles()}


__all__ = ["FitRow", "fit_rows", "Model", "Fitter", "fit_all", "predict_rows", "leave_one_out", "LooRow", "summary",
           "abs_error", "profile_from_theta", "check_against_estimator", "shipped", "Accelerator"]
