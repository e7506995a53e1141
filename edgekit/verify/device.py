"""`edgekit verify BUNDLE_DIR` on the board: golden inputs through model.tflite vs the stored outputs.

Device-safe: numpy, the bundle reader and the TFLite runtime only. No original
model and no TensorFlow are needed; the stored outputs were computed by the
original model on the workstation when the bundle was made.

The work is done once, crash-isolated: :func:`verify_bundle` checks the bundle's
manifest and model hash here (a bad bundle is a BundleError naming the file, exit 2),
then hands the rest to a child (:func:`edgekit.tflite.sandbox.run_isolated`) that loads the model, runs
the golden inputs and compares; the parent only rebuilds the report from the
child's JSON. A native crash of the runtime on a hostile model is exit 3, and the
model is loaded once, not probed in one process and loaded again in another.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgekit.verify.compare import VerifyReport
from edgekit.verify.metrics import DEFAULT_MAP_THRESHOLD


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

    The manifest and the model's sha256 are checked here (:func:`edgekit.bundle.check_bundle`: no numpy),
    while the child started early (:mod:`edgekit.entry`) imports numpy and the runtime; the rest happens
    in the child: the golden arrays' checks (a BundleError there is raised here again, same class and
    message), the reader's checks of the model, the runtime, the comparison.
    """
    from edgekit.bundle import check_bundle
    from edgekit.prefork import BUNDLE_VERIFY_TARGET
    from edgekit.tflite.sandbox import run_isolated

    check_bundle(Path(bundle_dir))
    value = run_isolated(
        BUNDLE_VERIFY_TARGET,
        {"bundle_dir": os.fspath(bundle_dir), "overrides": overrides, "samples": samples, "num_threads": num_threads,
         "model_path": None if model_path is None else os.fspath(model_path), "map_threshold": map_threshold,
         "model_hash_checked": True},
        subject=Path(bundle_dir) / "model.tflite" if model_path is None else Path(model_path), action="verifying", fork=True,
    )
    return VerifyReport.from_dict(value)


def warm_up() -> None:
    """What the child of :func:`verify_bundle` imports while the parent still parses the command line.

    Called by :func:`edgekit.prefork.prefork` (from :mod:`edgekit.entry`): numpy, the runtime and
    the modules :func:`verify_bundle_in_this_process` uses, so that they load in parallel with click.
    """
    import numpy  # noqa: F401

    from edgekit.bundle import read_bundle  # noqa: F401
    from edgekit.report import jsonable  # noqa: F401
    from edgekit.tflite.runtime import runtime_info
    from edgekit.verify.compare import compare_outputs  # noqa: F401
    from edgekit.verify.tflite_runner import TFLiteRunner  # noqa: F401
    from edgekit.verify.thresholds import default_thresholds  # noqa: F401

    runtime_info()  # imports the interpreter module (a missing runtime is reported by the request itself)


def verify_bundle_in_this_process(
    bundle_dir: str,
    overrides: dict[str, float | None] | None = None,
    samples: int | None = None,
    num_threads: int | None = None,
    model_path: str | None = None,
    map_threshold: float = DEFAULT_MAP_THRESHOLD,
    model_hash_checked: bool = False,
) -> dict[str, Any]:
    """The child's side of :func:`verify_bundle`: the report as JSON-able data (unsafe in-process: the
    runtime may crash on a hostile model). The sandbox sends it with the C JSON encoder (no indent).

    ``model_hash_checked``: the parent has just checked the model's sha256 (:func:`verify_bundle`)."""
    from edgekit.report import jsonable

    report = _verify(Path(bundle_dir), overrides, samples, num_threads,
                     None if model_path is None else Path(model_path), map_threshold, not model_hash_checked)
    return dict(jsonable(report.to_dict()))


def _verify(
    bundle_dir: Path,
    overrides: dict[str, float | None] | None,
    samples: int | None,
    num_threads: int | None,
    model_path: Path | None = None,
    map_threshold: float = DEFAULT_MAP_THRESHOLD,
    check_model_hash: bool = True,
) -> VerifyReport:
    import numpy as np

    from edgekit.bundle import read_bundle
    from edgekit.verify.compare import InputSource, compare_outputs
    from edgekit.verify.tflite_runner import TFLiteRunner, Wanted, bind_tensors, canonical
    from edgekit.verify.thresholds import default_thresholds

    bundle = read_bundle(bundle_dir, check_model_hash)  # every check of the bundle, before the runtime sees its model
    model_file = bundle.model_path if model_path is None else model_path
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
    converted = {shown[n]: r for n, r in zip(out_names, results, strict=True)}
    reference = {
        shown[n]: canonical(np.asarray(bundle.golden_outputs[n][:count], dtype=np.float32), t, f"Golden output '{n}'")
        for n, t in zip(out_names, out_tensors, strict=True)
    }

    kind = model.quant_kind
    thresholds = default_thresholds(kind).with_overrides(**(overrides or {}))
    source = bundle.manifest.get("source") if isinstance(bundle.manifest.get("source"), dict) else {}
    report = VerifyReport(
        samples=count,
        runtime=runner.runtime,
        input_source=InputSource.BUNDLE,
        quantization=kind.value,
        thresholds=thresholds,
        outputs=compare_outputs(reference, converted, thresholds, map_threshold),
        model=str(model_file),
        reference=f"golden outputs stored in {bundle.dir.name}/golden.npz"
        + (f" (original: {source.get('file')})" if source and source.get("file") else ""),
    )
    return report


def _display_names(manifest: dict[str, Any], names: list[str]) -> dict[str, str]:
    """TFLite output name -> the original model's name from the manifest (when known and unique)."""
    entries = manifest.get("outputs") if isinstance(manifest.get("outputs"), list) else []
    source = {str(e.get("name")): str(e.get("source_name")) for e in entries or []
              if isinstance(e, dict) and e.get("source_name")}
    shown = {n: source.get(n, n) for n in names}
    return shown if len(set(shown.values())) == len(shown) else {n: n for n in names}
