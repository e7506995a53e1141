"""The CPU cost model's measured sections of a device profile: ``[gemm]``, ``[row_ns]``, ``[memory]`` and
``[parallel]`` (``edgekit calibrate`` writes them; shipped profiles fitted on published figures have none).
:mod:`edgekit.profile.schema` loads them into a :class:`~edgekit.profile.schema.DeviceProfile`."""

from __future__ import annotations

from dataclasses import dataclass, field

from edgekit.errors import ProfileError
from edgekit.profile.schema_fields import _check_op_table, _check_ranges, _rng, at_threads


@dataclass(frozen=True)
class Gemm:
    """Optional GEMM-shape figures for CONV_2D / FULLY_CONNECTED (``edgekit calibrate`` writes them).

    The op's work is ``M * ceil(N / tile_n) * tile_n * (ceil(Cin / tile_k) * kh * kw + output_overhead_macs)``
    MAC-equivalents instead of ``M * N * Cin * kh * kw``: output channels are computed in SIMD tiles
    (a 24-channel conv pays for 32 with 16-wide tiles), int8 kernels also pad the input channels, and
    every output element costs a fixed amount on top of its dot product (accumulator set-up, bias,
    requantization, store), which dominates convs with a shallow contraction (Cin = 16, Cin = 3 stems).
    A convolution with more than one kernel tap runs XNNPACK's IGEMM kernels, whose tile can be wider:
    ``<dtype>_igemm_tile_n`` pads its output channels instead, when there are more than ``tile_n``.
    """

    float32_tile_n: int = field(default=1, metadata=_rng(1, 256))
    float32_tile_k: int = field(default=1, metadata=_rng(1, 256))
    int8_tile_n: int = field(default=1, metadata=_rng(1, 256))
    int8_tile_k: int = field(default=1, metadata=_rng(1, 256))
    float32_output_overhead_macs: float = field(default=0.0, metadata=_rng(0.0, 4096.0, unit="MACs"))
    int8_output_overhead_macs: float = field(default=0.0, metadata=_rng(0.0, 4096.0, unit="MACs"))
    # the spatial (IGEMM) kernels' output-channel tile where it differs, for more channels than tile_n (0: tile_n)
    float32_igemm_tile_n: int = field(default=0, metadata=_rng(0, 256))
    int8_igemm_tile_n: int = field(default=0, metadata=_rng(0, 256))
    # a dynamic-range ("hybrid") CONV_2D / FULLY_CONNECTED also quantizes its float input and scales its
    # output back on every call: this many MAC-equivalents per input and output element on top of its
    # int8 work (edgekit.profile.estimator.hybrid_elements)
    hybrid_element_macs: float = field(default=0.0, metadata=_rng(0.0, 4096.0, unit="MACs"))
    # LiteRT's builtin kernel for TF1's uint8 weights (CONV_2D_UINT8_HYBRID_BUILTIN) converts far more slowly:
    # this many MAC-equivalents more per float input and per float output element
    # (edgekit.calibrate.fit.fit_uint8_element_macs; 0: none beyond hybrid_element_macs)
    uint8_hybrid_input_macs: float = field(default=0.0, metadata=_rng(0.0, 4096.0, unit="MACs"))
    uint8_hybrid_output_macs: float = field(default=0.0, metadata=_rng(0.0, 4096.0, unit="MACs"))
    # a one-row float32 GEMM (FULLY_CONNECTED on one row, a 1x1 conv on one pixel) streams its weights at the
    # rate of the output-channel tile that pads them least, the wider on a tie (edgekit.calibrate.gemv);
    # one tile: one rate for all. Empty: such ops take the efficiency figures like the rest
    float32_gemv_tiles: tuple[int, ...] = field(default=(), metadata=_rng(1, 1024))
    float32_gemv_gb_per_s: tuple[float, ...] = field(default=(), metadata=_rng(0.0, 1e5, lo_open=True, unit="GB/s"))
    # a transposed convolution pays its fixed cost per output of every tap, at its own figure (XNNPACK's
    # deconvolution: edgekit.calibrate.fit.fit_tconv_overhead); absent: the conv's, once per input pixel
    float32_tconv_output_overhead_macs: float | None = field(default=None, metadata=_rng(0.0, 4096.0, unit="MACs"))
    int8_tconv_output_overhead_macs: float | None = field(default=None, metadata=_rng(0.0, 4096.0, unit="MACs"))

    def __post_init__(self) -> None:
        _check_ranges(self)
        if len(self.float32_gemv_tiles) != len(self.float32_gemv_gb_per_s):
            raise ProfileError(
                f"[gemm] float32_gemv_gb_per_s needs one rate per tile of float32_gemv_tiles "
                f"({len(self.float32_gemv_tiles)}), got {len(self.float32_gemv_gb_per_s)}.",
                hint="List one GB/s figure per tile, or leave both out.")
        if list(self.float32_gemv_tiles) != sorted(set(self.float32_gemv_tiles)):
            raise ProfileError(f"[gemm] float32_gemv_tiles must ascend without repeats: {self.float32_gemv_tiles}.",
                               hint="e.g. float32_gemv_tiles = [16, 32].")

    def gemv_gb_per_s(self, n: int) -> float | None:
        """The weight stream rate of a one-row float32 GEMM with ``n`` output channels (None: no figures)."""
        if not self.float32_gemv_tiles:
            return None
        # the tile that pads n least; on a tie the wider (its kernel reads more weights per step)
        pads = [(-(-n // t) * t - n, -t, g) for t, g in zip(self.float32_gemv_tiles, self.float32_gemv_gb_per_s,
                                                             strict=True)]
        return min(pads)[2]

    def tconv_overhead(self, dtype: str) -> float | None:
        """A transposed convolution's fixed cost per output and tap for a compute dtype, None without one."""
        return {"float32": self.float32_tconv_output_overhead_macs,
                "int8": self.int8_tconv_output_overhead_macs}.get(dtype)

    def figures(self, dtype: str) -> tuple[int, int, float, int] | None:
        """(tile_n, tile_k, output overhead MACs, IGEMM tile_n) of a compute dtype, None for dtypes it has no
        figures for."""
        if dtype == "float32":
            return (self.float32_tile_n, self.float32_tile_k, self.float32_output_overhead_macs,
                    self.float32_igemm_tile_n)
        if dtype == "int8":
            return self.int8_tile_n, self.int8_tile_k, self.int8_output_overhead_macs, self.int8_igemm_tile_n
        return None


@dataclass(frozen=True)
class RowCost:
    """Optional row figures (:mod:`edgekit.profile.rows`; ``edgekit calibrate`` measures them): nanoseconds per
    kernel row whose innermost run is shorter than ``channel_tile`` elements, per compute dtype and op name
    (``<OP>_BUILTIN``: LiteRT's builtin kernel), on top of the op's efficiency figure. The keys in
    ``every_width`` (XNNPACK's PAD and broadcast MUL: a fixed cost per kernel call whatever the row's length) are
    per row at every width instead, fitted together with the op's per-element figure."""

    channel_tile: int = field(default=16, metadata=_rng(2, 256))
    float32: dict[str, float] = field(default_factory=dict)
    int8: dict[str, float] = field(default_factory=dict)
    every_width: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_ranges(self)
        for name in ("float32", "int8"):
            _check_op_table(getattr(self, name), name, _rng(0.0, 1e6, unit="ns"))
        _check_op_table(dict.fromkeys(self.every_width, 1.0), "every_width")  # op names (1.0: any valid figure)

    def table(self, dtype: str) -> dict[str, float]:
        """The figures of a compute dtype (float16 uses float32's, int16 int8's)."""
        return self.int8 if dtype in ("int8", "int16") else self.float32


@dataclass(frozen=True)
class Memory:
    """The memory hierarchy as the CPU's kernels see it (``edgekit calibrate`` measures it; optional).

    ``cache_bytes`` are the cache levels that matter, smallest first (e.g. the per-core L2 and the shared
    last-level cache); ``bandwidth_gb_per_s`` holds one more entry than ``cache_bytes``: the copy bandwidth
    with the data in each level, then from DRAM. An op reads and writes at the bandwidth of the smallest level
    its working set (inputs + outputs + weights) fits in; its weights come from DRAM whenever the model's
    weights do not fit in the last level (whole models evict them between uses, micro-benchmarks do not).
    The first ``private_levels`` levels are per core: their bandwidth adds up over the threads.

    Optional, measured together by ``edgekit calibrate`` (:mod:`edgekit.calibrate.coldweights`): a whole model's
    invoke finds a share ``1 - weight_cache_bytes / working set`` of its weights no longer in cache (what survives
    between two uses of a weight is about ``weight_cache_bytes`` of the model's weights and activations), and each
    such byte costs ``1 / cold_weight_gb_per_s`` on top of the op's time in cache (one figure per thread count,
    from 1). With them, weights are otherwise read at the level they fit in; without them, from DRAM as above.

    Optional ``shared_speedup`` (one figure per thread count, from 1; :func:`edgekit.calibrate.gemv.measure_shared`):
    how many times one thread's bandwidth T threads draw together from the shared cache levels (each core has
    its own path into a shared L3: 1.75 at 2 threads on this project's host). Without it, 1 at every count.
    """

    cache_bytes: tuple[int, ...] = field(metadata=_rng(1, None, unit="bytes"))
    bandwidth_gb_per_s: tuple[float, ...] = field(metadata=_rng(0.0, 1e5, lo_open=True, unit="GB/s"))
    private_levels: int = field(default=1, metadata=_rng(0, 16))
    weight_cache_bytes: int | None = field(default=None, metadata=_rng(1, None, unit="bytes"))
    cold_weight_gb_per_s: tuple[float, ...] | None = field(default=None, metadata=_rng(0.0, 1e5, lo_open=True,
                                                                                       unit="GB/s"))
    shared_speedup: tuple[float, ...] | None = field(default=None, metadata=_rng(1.0, 1024.0))

    def __post_init__(self) -> None:
        _check_ranges(self)
        if len(self.bandwidth_gb_per_s) != len(self.cache_bytes) + 1:
            raise ProfileError(
                f"'bandwidth_gb_per_s' needs {len(self.cache_bytes) + 1} values (one per cache level, then DRAM), "
                f"got {len(self.bandwidth_gb_per_s)}.", hint="List the bandwidth of each level and of DRAM.")
        if list(self.cache_bytes) != sorted(self.cache_bytes):
            raise ProfileError("'cache_bytes' must grow from the first level to the last.",
                               hint="List the cache levels smallest first, e.g. [524288, 33554432].")
        if (self.weight_cache_bytes is None) != (not self.cold_weight_gb_per_s):
            raise ProfileError("[memory] needs both 'weight_cache_bytes' and 'cold_weight_gb_per_s', or neither.",
                               hint="Re-run `edgekit calibrate`, or remove the one that is there.")

    def shared_at(self, threads: int) -> float:
        """``shared_speedup`` at ``threads`` (its last figure beyond the list; 1 without it)."""
        if not self.shared_speedup or threads < 2:
            return 1.0
        return at_threads(self.shared_speedup, threads)

    def level_of(self, working_set_bytes: int) -> int:
        """Index of the level (len(cache_bytes) = DRAM) a working set of this size lives in."""
        for i, size in enumerate(self.cache_bytes):
            if working_set_bytes <= size:
                return i
        return len(self.cache_bytes)


@dataclass(frozen=True)
class Parallel:
    """Which ops XNNPACK splits over its threads, and what each split costs (``edgekit calibrate`` measures it;
    optional, :mod:`edgekit.profile.parallel`). Past one thread an op that spans more than one of XNNPACK's
    tiles is handed to the worker threads and waited for: ``dispatch_us`` per such op (one figure per thread
    count, from 1). A CONV_2D / FULLY_CONNECTED spans more than one tile with more than ``gemm_rows`` output
    rows (pixels) or more than ``<dtype>_gemm_channels`` output channels; a depthwise with more than one output
    row; any other op with an output of more than ``split_bytes``."""

    dispatch_us: tuple[float, ...] = field(metadata=_rng(0.0, 1e4, unit="microseconds"))
    gemm_rows: int = field(metadata=_rng(1, None))
    float32_gemm_channels: int = field(metadata=_rng(1, None))
    int8_gemm_channels: int = field(metadata=_rng(1, None))
    split_bytes: int = field(metadata=_rng(1, None, unit="bytes"))
    # a single-threaded builtin op right after XNNPACK split an op over its threads runs this share slower, up to
    # handoff_cap_us over the builtin ops until the next split (one figure per thread count, from 1; empty: none;
    # edgekit.calibrate.handoff)
    handoff_share: tuple[float, ...] = field(default=(), metadata=_rng(0.0, 10.0))
    handoff_cap_us: tuple[float, ...] = field(default=(), metadata=_rng(0.0, 1e5, unit="microseconds"))
    # the same for the ops XNNPACK runs inline (unsplit) after a split one: this share slower, up to inline_cap_us
    # over them until the next split (edgekit.calibrate.handoff)
    inline_share: tuple[float, ...] = field(default=(), metadata=_rng(0.0, 10.0))
    inline_cap_us: tuple[float, ...] = field(default=(), metadata=_rng(0.0, 1e5, unit="microseconds"))
    # each convolution LiteRT runs on its own thread pool (XNNPACK refused it) pays this much in a graph past one
    # thread, beyond its time alone (one figure per thread count, from 1; empty: none; edgekit.calibrate.builtinpool)
    builtin_pool_us: tuple[float, ...] = field(default=(), metadata=_rng(0.0, 1e5, unit="microseconds"))

    def __post_init__(self) -> None:
        _check_ranges(self)
        if not self.dispatch_us:
            raise ProfileError("[parallel] 'dispatch_us' is empty.",
                               hint="Give one figure per thread count from 1, e.g. [0.0, 0.3].")
        for share, cap in (("handoff_share", "handoff_cap_us"), ("inline_share", "inline_cap_us")):
            if len(getattr(self, share)) != len(getattr(self, cap)):
                raise ProfileError(
                    f"[parallel] '{cap}' needs one figure per '{share}' ({len(getattr(self, share))}), "
                    f"got {len(getattr(self, cap))}.", hint="Give both per thread count from 1, or leave both out.")


@dataclass(frozen=True)
class ThreadScaling:
    """Optional per-kernel thread scaling (``edgekit calibrate`` measures it; :func:`edgekit.profile.opfigures.
    op_thread_share`): per compute dtype and ``[op_efficiency]`` key, the share of ``[runtime.thread_speedup]``'s
    gain past one thread that the kernel gets, so its speed-up at T threads is ``1 + share * (curve[T] - 1)``
    (LiteRT's builtin kernels: of ``[runtime.thread_speedup_builtin]``'s curve where the profile has one; a builtin
    kernel's share holds whatever its op class, calibrate measured it).
    1 is the curve's; on a 2-core x86 host LiteRT's builtin uint8 dynamic-range convolutions were 0.2-0.36 (one
    thread does most of the work), its int8 HARD_SWISH and RELU 0. Keys without a figure follow the curve."""

    float32: dict[str, float] = field(default_factory=dict)
    int8: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("float32", "int8"):
            _check_op_table(getattr(self, name), name, _rng(0.0, 2.0))

    def share(self, dtype: str, key: str) -> float | None:
        """The key's share for a compute dtype (float16 uses float32's, int16 int8's), None without one."""
        return (self.int8 if dtype in ("int8", "int16") else self.float32).get(key)


__all__ = ["Gemm", "RowCost", "Memory", "Parallel", "ThreadScaling"]
