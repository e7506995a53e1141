"""Device profiles: frozen dataclasses loaded from TOML (``schema_version = 1``).

A profile is data, not code. It holds the hardware figures of a board (cores,
clock, SIMD, peak MAC rates, memory bandwidth, RAM) and the *fitted* figures
that the estimator multiplies them by (efficiency per op class and dtype,
per-op overhead, thread-scaling curve, runtime memory overhead). ``edgekit
calibrate`` writes the same file format from measurements on the board.

File layout (every key carries its unit; unknown keys are rejected by name)::

    schema_version = 1
    id = "rpi4b"                     # what --device takes
    name = "Raspberry Pi 4 Model B"
    accelerator = "cpu"              # cpu | gpu | edgetpu ([gpu] / [edgetpu] section required then)
    fitted_on = ["..."]              # the published rows / measurements the fitted figures come from
    notes = "..."                    # optional
    [hardware]                       # the host CPU (the CPU that runs what no accelerator takes)
    [runtime]                        # delegate model, threads, overheads, memory overhead; optional
                                     # hybrid_handover_factor (a builtin dynamic-range depthwise after XNNPACK's
                                     # 1x1 dynamic-range conv: calibrate measures it)
    [runtime.thread_speedup]         # float32 = [1.0, s2, s3, s4]; int8 = [...]  (speed-up at 1..N threads)
    [efficiency.float32]             # fraction of peak MAC rate per op class (see OpClass)
    [efficiency.int8]
    [efficiency.float16] / [efficiency.int16]   # optional
    [op_efficiency.int8]             # optional: HARD_SWISH = 0.01 ... per op name, overrides the class figure;
                                     # CONV_2D_HYBRID, DEPTHWISE_CONV_2D_HYBRID_BUILTIN ...: dynamic-range ops
    [gemm]                           # optional: GEMM tile padding and per-output cost of conv/fully-connected,
                                     # hybrid_element_macs (a dynamic-range op's run-time quantization),
                                     # uint8_hybrid_input_macs / _output_macs (TF1's uint8-weight kernel's)
    [row_ns] / [row_ns.float32]      # optional: channel_tile and ns per narrow kernel row per op (edgekit.profile.rows)
    [builtin_efficiency.float32]     # optional: LiteRT's builtin kernels (ops outside XNNPACK, or delegate = "none")
    [memory]                         # optional: cache levels and their bandwidths (calibrate measures them)
    [parallel]                       # optional: which ops XNNPACK splits over threads, the cost per split
    [thread_scaling.float32]         # optional: per op key, the share of thread_speedup's gain it gets (calibrate)
    [edgetpu] / [gpu]                # accelerator figures, when accelerator says so
    [fit]                            # optional: how the fitted figures were obtained, rows and residuals
    [accuracy]                       # optional: the expected error band (leave-one-out or held-out validation)

The estimator's formula (per op) is documented in :mod:`edgekit.profile.estimator`.
"""

from __future__ import annotations

import tomllib
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from edgekit.errors import ProfileError
from edgekit.profile.schema_cpu import Gemm, Memory, Parallel, RowCost, ThreadScaling
from edgekit.profile.schema_fields import FRACTION, _check_op_table, _check_ranges, _rng, at_threads

SCHEMA_VERSION = 1


class OpClass(str, Enum):
    """Op classes that share one efficiency figure (keys of the [efficiency.*] tables)."""

    CONV = "conv"
    DEPTHWISE_CONV = "depthwise_conv"
    TRANSPOSE_CONV = "transpose_conv"
    FULLY_CONNECTED = "fully_connected"
    BATCH_MATMUL = "batch_matmul"
    POOL = "pool"
    ELEMENTWISE = "elementwise"
    SOFTMAX = "softmax"
    RESIZE = "resize"
    REDUCE = "reduce"
    DATA_MOVEMENT = "data_movement"
    OTHER = "other"


class Accelerator(str, Enum):
    CPU = "cpu"
    GPU = "gpu"
    EDGETPU = "edgetpu"


class DelegateKind(str, Enum):
    """The CPU delegate the runtime applies by default on this device."""

    XNNPACK = "xnnpack"
    NONE = "none"


@dataclass(frozen=True)
class EfficiencyTable:
    """Fraction of the peak MAC rate that kernels of each op class reach (0 < e <= 1)."""

    conv: float = field(metadata=FRACTION)
    depthwise_conv: float = field(metadata=FRACTION)
    transpose_conv: float = field(metadata=FRACTION)
    fully_connected: float = field(metadata=FRACTION)
    batch_matmul: float = field(metadata=FRACTION)
    pool: float = field(metadata=FRACTION)
    elementwise: float = field(metadata=FRACTION)
    softmax: float = field(metadata=FRACTION)
    resize: float = field(metadata=FRACTION)
    reduce: float = field(metadata=FRACTION)
    data_movement: float = field(metadata=FRACTION)
    other: float = field(metadata=FRACTION)

    def __post_init__(self) -> None:
        _check_ranges(self)

    def of(self, op_class: OpClass) -> float:
        return float(getattr(self, op_class.value))


@dataclass(frozen=True)
class Efficiencies:
    """Efficiency tables per compute dtype. float16 falls back to float32, int16 to int8."""

    float32: EfficiencyTable
    int8: EfficiencyTable
    float16: EfficiencyTable | None = None
    int16: EfficiencyTable | None = None

    def table(self, dtype: str) -> EfficiencyTable:
        if dtype == "float16":
            return self.float16 or self.float32
        if dtype == "int16":
            return self.int16 or self.int8
        return self.int8 if dtype == "int8" else self.float32


@dataclass(frozen=True)
class OpEfficiency:
    """Optional per-op-name efficiencies that override the class table (``edgekit calibrate`` fits them).

    Measured where the runtime places the op, so they already include a refused op's slower builtin
    kernel: the estimator applies no builtin_kernel_factor on top.
    """

    float32: dict[str, float] = field(default_factory=dict)
    int8: dict[str, float] = field(default_factory=dict)
    float16: dict[str, float] = field(default_factory=dict)
    int16: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("float32", "int8", "float16", "int16"):
            _check_op_table(getattr(self, name), name)

    def get(self, dtype: str, op: str) -> float | None:
        table: dict[str, float] = getattr(self, dtype, None) or {}
        return table.get(op)


@dataclass(frozen=True)
class ThreadSpeedup:
    """Speed-up of compute-bound kernels at 1, 2, ... N threads (first entry 1.0); beyond N the last holds."""

    float32: tuple[float, ...] = field(metadata=_rng(0.0, 256.0, lo_open=True))
    int8: tuple[float, ...] = field(metadata=_rng(0.0, 256.0, lo_open=True))

    def __post_init__(self) -> None:
        _check_ranges(self)
        for name in ("float32", "int8"):
            curve = getattr(self, name)
            if not curve or abs(curve[0] - 1.0) > 1e-9:
                raise ProfileError(
                    f"'thread_speedup.{name}' must start with 1.0 (the speed-up at one thread), got {list(curve)}.",
                    hint="Write the speed-up relative to one thread, e.g. [1.0, 1.8, 2.4, 2.9] for 1-4 threads.",
                )

    def at(self, dtype: str, threads: int) -> float:
        curve = self.int8 if dtype in ("int8", "int16") else self.float32
        return at_threads(curve, threads)


@dataclass(frozen=True)
class Hardware:
    """The host CPU and its memory."""

    cores: int = field(metadata=_rng(1, 1024))
    core_type: str
    clock_ghz: float = field(metadata=_rng(0.0, 10.0, lo_open=True, unit="GHz"))
    simd: str
    simd_width_bits: int = field(metadata=_rng(0, 2048, unit="bits"))
    dot_product: bool
    peak_fp32_gmacs_per_core: float = field(metadata=_rng(0.0, 1e5, lo_open=True, unit="10^9 MAC/s"))
    peak_int8_gmacs_per_core: float = field(metadata=_rng(0.0, 1e5, lo_open=True, unit="10^9 MAC/s"))
    memory_bandwidth_gb_per_s: float = field(metadata=_rng(0.0, 1e4, lo_open=True, unit="GB/s"))
    ram_bytes: int = field(metadata=_rng(1, None, lo_open=True, unit="bytes"))
    storage: str

    def __post_init__(self) -> None:
        _check_ranges(self)


@dataclass(frozen=True)
class Runtime:
    """How LiteRT runs on the device, and the fitted overheads."""

    delegate: DelegateKind
    default_threads: int = field(metadata=_rng(1, 1024))
    per_op_overhead_us: float = field(metadata=_rng(0.0, 1e6, unit="microseconds"))
    partition_overhead_us: float = field(metadata=_rng(0.0, 1e6, unit="microseconds"))
    invoke_overhead_us: float = field(metadata=_rng(0.0, 1e7, unit="microseconds"))
    builtin_kernel_factor: float = field(metadata=FRACTION)
    memory_efficiency: float = field(metadata=FRACTION)
    runtime_overhead_bytes: int = field(metadata=_rng(0, None, unit="bytes"))
    os_reserved_bytes: int = field(metadata=_rng(0, None, unit="bytes"))
    repack_weights: bool
    thread_speedup: ThreadSpeedup
    # LiteRT's builtin kernels (ops XNNPACK refuses, or every op with delegate = "none"): their own thread
    # curve (conv/depthwise/fully-connected are multi-threaded there, the rest runs on one thread) and their
    # own fixed cost per op; absent: the XNNPACK figures above
    thread_speedup_builtin: ThreadSpeedup | None = None
    builtin_per_op_overhead_us: float | None = field(default=None, metadata=_rng(0.0, 1e6, unit="microseconds"))
    # a builtin dynamic-range depthwise right after XNNPACK's 1x1 dynamic-range conv takes this many times its
    # time alone (measured by calibrate: edgekit.calibrate.handover); absent: 1
    hybrid_handover_factor: float | None = field(default=None, metadata=_rng(1.0, 100.0))
    # a streaming model's state ops (VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE, CALL_ONCE after the first
    # call) cost this each, wherever they run (measured by calibrate: edgekit.calibrate.overheads); absent:
    # the per-op cost of where they run, plus the bytes the variable ops copy
    state_op_us: float | None = field(default=None, metadata=_rng(0.0, 1e6, unit="microseconds"))

    def __post_init__(self) -> None:
        _check_ranges(self)


LINKS = ("usb2", "usb3", "pcie")


@dataclass(frozen=True)
class EdgeTPU:
    """A Coral Edge TPU attached to the host described by [hardware] (see :mod:`edgekit.profile.edgetpu`).

    The chip: a weight-stationary MAC array ``array_lanes`` square (kh*kw*Cin by Cout, padded to the lanes;
    depthwise: taps by channels), each weight tile loaded in ``tile_fill_cycles`` before the pixels stream
    through, at ``efficiency`` of ``peak_int8_gmacs`` (fully connected: its own). Activations move at
    ``data_gb_per_s``, ops without MACs at ``move_gb_per_s``, each op costs ``per_op_overhead_us``. Parameters
    beyond the on-chip cache (``parameter_cache_bytes``) stream over the link, hidden behind compute by
    ``stream_overlap``; inputs cross the link, outputs are read back at ``readback_gb_per_s``.
    """

    peak_int8_gmacs: float = field(metadata=_rng(0.0, 1e6, lo_open=True, unit="10^9 MAC/s"))
    efficiency: float = field(metadata=FRACTION)
    parameter_cache_bytes: int = field(metadata=_rng(0, None, unit="bytes"))
    link: str
    link_bandwidth_gb_per_s: float = field(metadata=_rng(0.0, 1e4, lo_open=True, unit="GB/s"))
    per_op_overhead_us: float = field(metadata=_rng(0.0, 1e6, unit="microseconds"))
    invoke_overhead_us: float = field(metadata=_rng(0.0, 1e7, unit="microseconds"))
    array_lanes: int = field(default=1, metadata=_rng(1, 1024))
    fully_connected_efficiency: float | None = field(default=None, metadata=FRACTION)
    data_gb_per_s: float | None = field(default=None, metadata=_rng(0.0, 1e5, lo_open=True, unit="GB/s"))
    stream_overlap: float = field(default=0.0, metadata=_rng(0.0, 1.0))
    transfer_overhead_us: float = field(default=0.0, metadata=_rng(0.0, 1e6, unit="microseconds"))
    tile_fill_cycles: float = field(default=0.0, metadata=_rng(0.0, 1e6, unit="cycles"))
    move_gb_per_s: float | None = field(default=None, metadata=_rng(0.0, 1e5, lo_open=True, unit="GB/s"))
    readback_gb_per_s: float | None = field(default=None, metadata=_rng(0.0, 1e4, lo_open=True, unit="GB/s"))

    def __post_init__(self) -> None:
        _check_ranges(self)
        if self.link not in LINKS:
            raise ProfileError(f"'link' = {self.link!r} is not one of {', '.join(LINKS)}.",
                               hint='Use link = "usb3" (USB Accelerator), "usb2" or "pcie" (Dev Board, M.2/PCIe).')


@dataclass(frozen=True)
class GPU:
    """A mobile GPU behind LiteRT's GPU delegate (computes in float16 by default)."""

    name: str
    peak_fp16_gmacs: float = field(metadata=_rng(0.0, 1e6, lo_open=True, unit="10^9 MAC/s"))
    memory_bandwidth_gb_per_s: float = field(metadata=_rng(0.0, 1e4, lo_open=True, unit="GB/s"))
    per_op_overhead_us: float = field(metadata=_rng(0.0, 1e6, unit="microseconds"))
    invoke_overhead_us: float = field(metadata=_rng(0.0, 1e7, unit="microseconds"))
    transfer_gb_per_s: float = field(metadata=_rng(0.0, 1e4, lo_open=True, unit="GB/s"))
    runtime_overhead_bytes: int = field(metadata=_rng(0, None, unit="bytes"))
    efficiency: EfficiencyTable
    # float32 arithmetic rate relative to float16 (mobile GPUs run half-precision ALUs at twice the rate)
    fp32_rate: float = field(default=0.5, metadata=FRACTION)
    # what the delegate computes in unless told otherwise (LiteRT: float16 unless precision loss is refused)
    precision: str = "float16"
    memory_efficiency: float = field(default=1.0, metadata=FRACTION)
    partition_overhead_us: float = field(default=0.0, metadata=_rng(0.0, 1e6, unit="microseconds"))
    # a kernel's per-thread chain: each GPU thread walks its reduction (kh*kw*Cin of a conv) serially, one
    # dependent load per step, so a kernel takes at least reduction x this long however few threads it has
    # (a memory-latency figure, not an ALU one: what bounds kernels that cannot fill the GPU)
    reduction_ns: float = field(default=0.0, metadata=_rng(0.0, 1e6, unit="nanoseconds"))

    def __post_init__(self) -> None:
        _check_ranges(self)
        if self.precision not in ("float16", "float32"):
            raise ProfileError(f"'precision' = {self.precision!r} is not float16 or float32.",
                               hint='Use precision = "float16" (the delegate\'s default) or "float32".')


@dataclass(frozen=True)
class Fit:
    """How the fitted figures were obtained (calibrate writes this; shipped profiles describe their fit)."""

    method: str
    date: str = ""
    machine: str = ""
    samples: int = field(default=0, metadata=_rng(0, None))
    rms_relative_error: float | None = field(default=None, metadata=_rng(0.0, None))
    max_relative_error: float | None = field(default=None, metadata=_rng(0.0, None))
    residuals: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_ranges(self)

    @property
    def from_published(self) -> bool:
        """Fitted on published figures (scripts/fit_profiles.py), not by calibrating a machine."""
        return self.machine == PUBLISHED_FIT_MACHINE


# ``Fit.machine`` of the shipped profiles fitted on the published dataset
PUBLISHED_FIT_MACHINE = "published figures"


@dataclass(frozen=True)
class Accuracy:
    """How far this profile's estimates were from measurements it was not fitted on (``profile`` prints the
    band next to every estimate). Written by ``scripts/fit_profiles.py`` from leave-one-model-out residuals on
    the published dataset, or by ``edgekit calibrate`` from its held-out validation models."""

    method: str
    rows: int = field(metadata=_rng(0, None))
    median_abs_error: float = field(metadata=_rng(0.0, None))
    p90_abs_error: float | None = field(default=None, metadata=_rng(0.0, None))
    within_20: float | None = field(default=None, metadata=_rng(0.0, 1.0))
    within_35: float | None = field(default=None, metadata=_rng(0.0, 1.0))
    note: str = ""

    def __post_init__(self) -> None:
        _check_ranges(self)

    @property
    def band(self) -> str:
        """e.g. '±18% (LOO, 23 rows)'."""
        kind = "LOO" if "leave-one" in self.method else self.method.split(":")[0]
        return f"±{100 * self.median_abs_error:.0f}% ({kind}, {self.rows} rows)"


@dataclass(frozen=True)
class DeviceProfile:
    schema_version: int
    id: str
    name: str
    accelerator: Accelerator
    fitted_on: tuple[str, ...]
    hardware: Hardware
    runtime: Runtime
    efficiency: Efficiencies
    notes: str = ""
    op_efficiency: OpEfficiency | None = None
    gemm: Gemm | None = None
    row_ns: RowCost | None = None
    # LiteRT's builtin kernels per class (ops outside XNNPACK); absent: efficiency x builtin_kernel_factor
    builtin_efficiency: Efficiencies | None = None
    memory: Memory | None = None
    parallel: Parallel | None = None
    thread_scaling: ThreadScaling | None = None
    edgetpu: EdgeTPU | None = None
    gpu: GPU | None = None
    fit: Fit | None = None
    accuracy: Accuracy | None = None

    def __post_init__(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise ProfileError(
                f"'schema_version' = {self.schema_version} is not supported.",
                hint=f"This edgekit reads schema_version = {SCHEMA_VERSION}.",
            )
        if not self.id or not all(c.isalnum() or c in "-_." for c in self.id):
            raise ProfileError(
                f"'id' = {self.id!r} is not a valid device id.",
                hint="Use letters, digits, '-', '_' or '.', e.g. id = \"rpi4b\".",
            )
        if not self.fitted_on:
            raise ProfileError(
                "'fitted_on' is empty.",
                hint="Name the published rows or measurements the fitted figures come from.",
            )
        need = {Accelerator.EDGETPU: ("edgetpu", self.edgetpu), Accelerator.GPU: ("gpu", self.gpu)}
        for acc, (section, value) in need.items():
            if self.accelerator == acc and value is None:
                raise ProfileError(
                    f"accelerator = \"{acc.value}\" needs a [{section}] section.",
                    hint=f"Add the [{section}] figures or set accelerator = \"cpu\".",
                )
            if self.accelerator != acc and value is not None:
                raise ProfileError(
                    f"a [{section}] section is given but accelerator = \"{self.accelerator.value}\".",
                    hint=f"Set accelerator = \"{acc.value}\" or remove the [{section}] section.",
                )

    @property
    def usable_ram_bytes(self) -> int:
        return max(0, self.hardware.ram_bytes - self.runtime.os_reserved_bytes)

    def peak_gmacs_per_core(self, dtype: str) -> float:
        """Peak MAC rate of one core for a compute dtype (int16 kernels run at half the int8 rate)."""
        hw = self.hardware
        if dtype == "int8":
            return hw.peak_int8_gmacs_per_core
        if dtype == "int16":
            return hw.peak_int8_gmacs_per_core / 2.0
        return hw.peak_fp32_gmacs_per_core


# ------------------------------------------------------------------------------------------------ loading


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp is float:
        return "a number"
    if tp is int:
        return "an integer"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    if isinstance(tp, type) and issubclass(tp, Enum):
        return "one of " + ", ".join(f'"{m.value}"' for m in tp)
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0])}s"
    if origin is dict:
        return "a table of numbers"
    if is_dataclass(tp):
        return "a table"
    return str(tp)


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(value, args[0], where)
    bad = ProfileError(f"'{where}' must be {_type_name(tp)}, got {value!r}.", hint="Fix the value's type in the profile.")
    if tp is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise bad
        return value
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            raise bad from None
    if origin is tuple:
        if not isinstance(value, list):
            raise bad
        elem = typing.get_args(tp)[0]
        return tuple(_convert(v, elem, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise bad
        return {str(k): _convert(v, float, f"{where}.{k}") for k, v in value.items()}
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise bad
        return _build(tp, value, where)
    raise bad  # pragma: no cover - every schema type is handled above


def _build(cls: Any, table: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from a TOML table, rejecting unknown keys and missing required keys by name."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    prefix = f"{where}." if where else ""
    section = f"[{where}]" if where else "the top level"
    for key in table:
        if key not in known:
            raise ProfileError(
                f"unknown key '{prefix}{key}' in {section}.",
                hint=f"Allowed keys there: {', '.join(known)}.",
            )
    kwargs: dict[str, Any] = {}
    for name, f in known.items():
        if name in table:
            kwargs[name] = _convert(table[name], hints[name], f"{prefix}{name}")
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ProfileError(
                f"missing key '{prefix}{name}' in {section}.",
                hint=f"{section} needs: {', '.join(n for n, g in known.items() if g.default is MISSING and g.default_factory is MISSING)}.",
            )
    try:
        return cls(**kwargs)
    except ProfileError as exc:
        msg = exc.message
        if where and msg.startswith("'"):
            msg = f"'{prefix}{msg[1:]}"
        raise ProfileError(msg, hint=exc.hint) from None


def profile_from_dict(data: dict[str, Any], source: str = "<profile>") -> DeviceProfile:
    """Validate a parsed TOML document; every error names ``source`` and the key."""
    try:
        profile: DeviceProfile = _build(DeviceProfile, data, "")
    except ProfileError as exc:
        raise ProfileError(f"device profile {source}: {exc.message}", hint=exc.hint) from None
    return profile


def load_profile(path: str | Path) -> DeviceProfile:
    """Read and validate one profile TOML file (ProfileError, exit 2, for anything wrong)."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read device profile {p}: {exc.strerror or exc}.", hint="Check the path.") from None
    except UnicodeDecodeError:
        raise ProfileError(f"device profile {p} is not UTF-8 text.", hint="Save the profile as a UTF-8 TOML file.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"device profile {p} is not valid TOML: {exc}.", hint="Fix the TOML syntax.") from None
    return profile_from_dict(data, str(p))


__all__ = [
    "SCHEMA_VERSION", "OpClass", "Accelerator", "DelegateKind", "EfficiencyTable", "Efficiencies",
    "ThreadSpeedup", "OpEfficiency", "Gemm", "RowCost", "Hardware", "Runtime", "EdgeTPU", "GPU", "Fit", "Accuracy", "Memory", "Parallel", "ThreadScaling", "LINKS",
    "DeviceProfile",
    "profile_from_dict", "load_profile",
]
