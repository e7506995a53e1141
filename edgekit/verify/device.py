"""`edgekit verify BUNDLE_DIR` on the board: golden inputs through model.tflite vs the stored outputs.

Device-safe: numpy, the bundle reader and the TFLite runtime only. No original
model and no TensorFlow are needed; the stored outputs were computed by the
original model on the workstation when the bundle was made.

The work is done once, crash-isolated: :func:`verify_bundle` checks the bundle's
manifest and model hash here (a bad bundle is a BundleError naming the file, exit 2),
then hands the rest to a child (:func:`edgekit.tflite.sandbox.run_isolated`) that loads the model, runs
the golden inputs and measures every output; the parent judges the child's figures
against the thresholds and makes the report. A native crash of the runtime on a hostile model is exit 3, and the
model is loaded once, not probed in one process and loaded again in another.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.verify.metrics import DEFAULT_MAP_THRESHOLD

if TYPE_CHECKING:
    from edgekit.verify.compare import VerifyReport


def verify_bundle(
    bundle_dir: Path,
    overrides: dict[str, float | None] | None = None,
    samples: int | None = None,
    num_threads: int | None = None,
    model_path: Path | None = None,
    map_threshold: float = DEFAULT_MAP_THRESHOLD,
) -> VerifyReport:
    """Run the bundle's model (or ``model_path``: another .tflite of the same model, e.g. a pruned variant) on
    its golden inputs and judge it against the golden outputs.

    The manifest and the model's sha256 are checked here (:func:`edgekit.bundle.check_bundle`: no numpy)
    while the child started early (:mod:`edgekit.entry`) imports numpy and the runtime. The child checks
    the golden arrays (a BundleError there is raised here again, same class and message) and the model,
    runs it and measures every output (:func:`measure_bundle_in_this_process`); this process judges the
    figures against the thresholds and makes the report, so the child never imports the report's classes.
    """
    from edgekit.bundle import check_bundle
    from edgekit.core.quant import QuantKind
    from edgekit.prefork import BUNDLE_VERIFY_TARGET
    from edgekit.tflite.sandbox import run_isolated
    from edgekit.verify.compare import InputSource, OutputResult, VerifyReport, range_notes
    from edgekit.verify.thresholds import default_thresholds

    check_bundle(Path(bundle_dir))
    measured = run_isolated(
        BUNDLE_VERIFY_TARGET,
        {"bundle_dir": os.fspath(bundle_dir), "samples": samples, "num_threads": num_threads,
         "model_path": None if model_path is None else os.fspath(model_path), "map_threshold": map_threshold,
         "model_hash_checked": True},
        subject=Path(bundle_dir) / "model.tflite" if model_path is None else Path(model_path), action="verifying", fork=True,
    )
    thresholds = default_thresholds(QuantKind(measured["quantization"])).with_overrides(**(overrides or {}))
    outputs = [OutputResult.judged(o, thresholds) for o in measured["outputs"]]
    return VerifyReport(
        samples=int(measured["samples"]),
        runtime=str(measured["runtime"]),
        input_source=InputSource.BUNDLE,
        quantization=str(measured["quantization"]),
        thresholds=thresholds,
        outputs=outputs,
        model=str(measured["model"]),
        reference=str(measured["reference"]),
        notes=range_notes(outputs, thresholds),
    )


def warm_up() -> None:
    """What the child of :func:`verify_bundle` imports while the parent still parses the command line.

    Called by :func:`edgekit.prefork.prefork` (from :mod:`edgekit.entry`): numpy, the runtime and
    the modules :func:`measure_bundle_in_this_process` uses, so that they load in parallel with click.
    """
    import zipfile  # noqa: F401 - np.load's, for golden.npz

    import numpy  # noqa: F401

    from edgekit.bundle import read_bundle  # noqa: F401
    from edgekit.report import jsonable  # noqa: F401
    from edgekit.tflite.runtime import runtime_info
    from edgekit.verify.bounds import range_widths  # noqa: F401
    from edgekit.verify.distribution import output_distribution  # noqa: F401
    from edgekit.verify.metrics import compute_metrics  # noqa: F401
    from edgekit.verify.ranked import align_ranked  # noqa: F401
    from edgekit.verify.tflite_runner import TFLiteRunner  # noqa: F401

    runtime_info()  # imports the interpreter module (a missing runtime is reported by the request itself)


def measure_bundle_in_this_process(
    bundle_dir: str,
    samples: int | None = None,
    num_threads: int | None = None,
    model_path: str | None = None,
    map_threshold: float = DEFAULT_MAP_THRESHOLD,
    model_hash_checked: bool = False,
) -> dict[str, Any]:
    """The child's side of :func:`verify_bundle` (unsafe in-process: the runtime may crash on a hostile
    model): every output measured, as JSON-able data the sandbox sends with the C JSON encoder.

    ``{"samples", "runtime", "quantization", "model", "reference", "outputs": [{"name", <the metrics of
    OutputMetrics.to_dict>, "distribution"}]}``; ``model_hash_checked``: the parent has just checked the
    model's sha256 (:func:`verify_bundle`)."""
    import numpy as np

    from edgekit.bundle import read_bundle
    from edgekit.report import jsonable
    from edgekit.verify.bounds import range_widths
    from edgekit.verify.distribution import output_distribution
    from edgekit.verify.metrics import compute_metrics
    from edgekit.verify.ranked import align_ranked, ranked_rows
    from edgekit.verify.tflite_runner import TFLiteRunner, Wanted, bind_tensors, canonical

    # every check of the bundle, before the runtime sees its model
    bundle = read_bundle(Path(bundle_dir), check_model_hash=not model_hash_checked)
    model_file = bundle.model_path if model_path is None else Path(model_path)
    runner = TFLiteRunner(model_file, num_threads=num_threads, probe=False)  # we are the sandbox
    model = runner.model
    count = bundle.samples if samples is None else max(1, min(samples, bundle.samples))

    in_names = list(bundle.golden_inputs)
    out_names = list(bundle.golden_outputs)
    in_tensors = bind_tensors(
        "input",
        [Wanted(n, tuple(bundle.golden_inputs[n].shape[1:]), str(bundle.golden_inputs[n].dtype)) for n in in_names],
        model,
    )
    out_tensors = bind_tensors(
        "output",
        [Wanted(n, tuple(bundle.golden_outputs[n].shape[1:]), "float32") for n in out_names],
        model,
    )
    feeds = [
        canonical(bundle.golden_inputs[n][:count], t, f"Golden input '{n}'")
        for n, t in zip(in_names, in_tensors, strict=True)
    ]
    results = runner.run(in_tensors, feeds, out_tensors)
    shown = _display_names(bundle.manifest, out_names)
    outputs = []
    widths = range_widths(model, [t.index for t in out_tensors])
    ranks = ranked_rows(model, [t.index for t in out_tensors])
    for n, t, converted, width, k in zip(out_names, out_tensors, results, widths, ranks, strict=True):
        reference = canonical(np.asarray(bundle.golden_outputs[n][:count], dtype=np.float32), t, f"Golden output '{n}'")
        reference, converted, alignment = align_ranked(reference, converted, k, map_threshold)
        metrics = compute_metrics(shown[n], reference, converted, map_threshold, width, alignment)
        outputs.append({"name": shown[n], **metrics.to_dict(),
                        "distribution": output_distribution(reference, converted).to_dict()})
    source = bundle.manifest.get("source") if isinstance(bundle.manifest.get("source"), dict) else {}
    return dict(jsonable({
        "samples": count,
        "runtime": runner.runtime,
        "quantization": model.quant_kind.value,
        "model": str(model_file),
        "reference": f"golden outputs stored in {bundle.dir.name}/golden.npz"
        + (f" (original: {source.get('file')})" if source and source.get("file") else ""),
        "outputs": outputs,
    }))


def _display_names(manifest: dict[str, Any], names: list[str]) -> dict[str, str]:
    """TFLite output name -> the original model's name from the manifest (when known and unique)."""
    entries = manifest.get("outputs") if isinstance(manifest.get("outputs"), list) else []
    source = {str(e.get("name")): str(e.get("source_name")) for e in entries or []
              if isinstance(e, dict) and e.get("source_name")}
    shown = {n: source.get(n, n) for n in names}
    return shown if len(set(shown.values())) == len(shown) else {n: n for n in names}
