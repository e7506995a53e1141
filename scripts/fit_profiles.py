"""Fit every shipped device profile on the published dataset and write the profiles (device_profiles/*.toml).

The fit is ``scripts/published_fit.py`` (least squares on log errors over every usable row whose model
is built; see its docstring for what is shared between profiles). Each profile gets:

* its fitted figures (efficiencies per op class for XNNPACK and for LiteRT's builtin kernels, fixed costs,
  memory efficiency, thread curves; the Edge TPU and GPU figures of the accelerator profiles);
* ``fitted_on``: the rows it was fitted on (id, what, published ms, source), and ``[fit.residuals]``: the
  fitted estimate / published - 1 of each;
* ``[accuracy]``: the leave-one-model-out error of its rows (``scripts/bench_profile_published.py --loo``
  computes the same), which ``edgekit profile`` prints as the estimate's band.

The written profiles are checked: ``estimate()`` with each of them, under each row's conditions, must give
the fit's own prediction (the fast fit mirrors the estimator op for op).

    .venv/bin/python scripts/fit_profiles.py [--dry-run] [--no-loo]
    .venv/bin/python scripts/fit_profiles.py --loo-json loo.json   # reuse bench_profile_published.py --loo --json

``--loo-json`` takes the leave-one-out estimates of a ``scripts/bench_profile_published.py --loo --json`` run
instead of refitting every model again (the slow part); it is refused unless that run had exactly these rows
and its all-rows fit gives the same estimates as this one (same data, same code).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import published_fit as pf  # noqa: E402

from edgekit.profile.schema import PUBLISHED_FIT_MACHINE, Accuracy, DeviceProfile, Fit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "device_profiles"
# accelerator profiles are judged on their accelerator's rows; the host-CPU rows are reported in the notes
ACCEL_KIND = {"edgetpu": "edgetpu", "gpu": "gpu", "cpu": "cpu"}


def _row_text(fr: pf.FitRow) -> str:
    return f"{fr.row.row_id} {fr.row.label} = {fr.row.latency_ms:g} ms [{fr.row.source}]"


def _default_kind(prof: DeviceProfile) -> str:
    return prof.accelerator.value if prof.accelerator.value in ("edgetpu", "gpu") else "cpu"


def accuracy_for(pid: str, prof: DeviceProfile, loo: list[pf.LooRow]) -> Accuracy | None:
    kind = _default_kind(prof)
    mine = [lr for lr in loo if lr.fit_row.profile_id == pid and lr.fit_row.kind == kind]
    note = ""
    if not mine and kind == "cpu":
        mine = [lr for lr in loo if lr.fit_row.kind == "cpu"
                and pf.core_of(pf.shipped()[lr.fit_row.profile_id]) == prof.hardware.core_type]
        if mine:
            note = (f"no published figure of this board: the band is that of the other {prof.hardware.core_type} "
                    f"boards it shares its fitted figures with")
    if not mine:
        return None
    errs = [pf.abs_error(lr.loo_ms, lr.fit_row.row.latency_ms) for lr in mine]
    s = pf.summary(errs)
    kinds = sorted({("XNNPACK" if lr.fit_row.sel.xnnpack else "builtin kernels") for lr in mine if kind == "cpu"})
    if kinds and kind == "cpu":
        note = (note + "; " if note else "") + f"rows measured with {' and '.join(kinds)}"
    return Accuracy(
        method="leave-one-model-out on the published dataset (scripts/bench_profile_published.py --loo): "
               "each row estimated by profiles refitted without its architecture",
        rows=int(s["rows"]), median_abs_error=round(s["median_abs_error"], 4), p90_abs_error=round(s["p90_abs_error"], 4),
        within_20=round(s["within_20"], 4), within_35=round(s["within_35"], 4), note=note)


def loo_from_json(path: Path, rows: list[pf.FitRow], fitted: np.ndarray) -> list[pf.LooRow]:
    """The leave-one-out rows of a ``bench_profile_published.py --loo --json`` run, checked against this fit."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("group") != "model":
        raise ValueError(f"the run left out {doc.get('group')!r}, not the model (architecture)")
    by_id = {r["row_id"]: r for r in doc["rows"]}
    ids = [fr.row.row_id for fr in rows]
    if sorted(by_id) != sorted(ids):
        raise ValueError(f"its rows differ from the rows with a built model here ({len(by_id)} vs {len(ids)})")
    out = []
    for fr, f in zip(rows, fitted, strict=True):
        r = by_id[fr.row.row_id]
        if abs(float(r["fitted_estimated_ms"]) / float(f) - 1.0) > 1e-3:
            raise ValueError(f"row {fr.row.row_id}: its all-rows fit gave {r['fitted_estimated_ms']} ms, this one "
                             f"{float(f):.4f} ms (another fit)")
        out.append(pf.LooRow(fr, float(r["loo_estimated_ms"]), float(f)))
    return out


def notes_for(pid: str, prof: DeviceProfile, rows: list[pf.FitRow], extra: dict[str, Any]) -> str:
    mine = [fr for fr in rows if fr.profile_id == pid]
    parts = [f"Fitted by scripts/fit_profiles.py on the published dataset (device_profiles/published): "
             f"{len(mine)} rows of this profile; figures shared by core type ({prof.hardware.core_type}) with every "
             f"profile of that core, per board for memory and threads"]
    tie = pf.BOARD_TIES.get(pid)
    if tie:
        parts.append(f"memory efficiency and thread curves are {tie}'s (same CPU board, or the closest one)")
    kinds = {fr.sel.xnnpack for fr in mine if fr.kind == "cpu"}
    if kinds == {False}:
        parts.append("its CPU rows ran LiteRT's builtin kernels (an older runtime); its XNNPACK figures, which "
                     "`profile` uses by default, come from the other boards of its core type")
    if prof.edgetpu is not None:
        parts.append(f"Edge TPU chip figures shared by every Coral profile (MAC-array lanes {extra.get('lanes')}, "
                     f"parameter cache {extra.get('cache_bytes', 0) / 2**20:.1f} MiB chosen on a grid); link "
                     f"bandwidth, read-back bandwidth, invoke and transfer costs of this host")
        host = [fr for fr in mine if fr.kind == "cpu"]
        if host:
            parts.append(f"{len(host)} host-CPU rows (the source's CPU column) fit its CPU figures")
    if prof.gpu is not None:
        parts.append("GPU figures fitted on its GPU rows; CPU fallback on pixel4-cpu's figures")
    return "; ".join(parts) + "."


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="fit and check, write nothing")
    ap.add_argument("--no-loo", action="store_true", help="skip leave-one-out (keeps each profile's [accuracy])")
    ap.add_argument("--loo-json", type=Path, help="leave-one-out estimates from bench_profile_published.py --loo --json")
    ap.add_argument("--prior-weight", type=float, default=pf.PRIOR_WEIGHT)
    ap.add_argument("--out", type=Path, default=PROFILES, help="where to write the profiles")
    args = ap.parse_args(argv)

    rows, missing = pf.fit_rows()
    shipped = pf.shipped()
    model = pf.Model(shipped)
    fitter = pf.Fitter(model, rows, args.prior_weight)
    print(f"fit_profiles: {len(rows)} rows with a built model ({sum(len(v) for v in missing.values())} usable rows "
          f"without one), {len(model.p)} parameters", file=sys.stderr)
    loo: list[pf.LooRow]
    if args.loo_json is not None:
        theta, extra = fitter.fit()
        fitted = fitter.predict(theta, extra)
        try:
            loo = loo_from_json(args.loo_json, rows, fitted)
        except (OSError, ValueError, KeyError) as exc:
            print(f"Error: cannot use {args.loo_json}: {exc}\nHint: re-run scripts/bench_profile_published.py --loo "
                  f"--json on the same models, or leave out --loo-json", file=sys.stderr)
            return 2
    elif args.no_loo:
        theta, extra = fitter.fit()
        fitted = fitter.predict(theta, extra)
        loo = [pf.LooRow(fr, float("nan"), float(f)) for fr, f in zip(rows, fitted, strict=True)]
    else:
        loo, theta, extra = pf.leave_one_out(fitter, say=lambda m: print(m, file=sys.stderr, flush=True))
        fitted = np.array([lr.fitted_ms for lr in loo])
    profiles = {pid: pf.profile_from_theta(model, pid, theta, extra) for pid in shipped}
    bad = pf.check_against_estimator(profiles, rows, fitted)
    if bad:
        print("fit_profiles: the written profiles do not reproduce the fit:\n  " + "\n  ".join(bad[:20]), file=sys.stderr)
        return 1
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    by_profile: dict[str, list[tuple[pf.FitRow, float]]] = defaultdict(list)
    for fr, f in zip(rows, fitted, strict=True):
        by_profile[fr.profile_id].append((fr, float(f)))
    from edgekit.core.profile_toml import as_document, write
    from edgekit.profile.schema import profile_from_dict

    for pid, prof in sorted(profiles.items()):
        mine = by_profile.get(pid, [])
        shared = [] if mine else [(fr, f) for fr, f in zip(rows, fitted, strict=True)
                                  if fr.kind == "cpu" and shipped[fr.profile_id].hardware.core_type == prof.hardware.core_type]
        used = mine or shared
        residuals = {_row_text(fr): round(float(f) / fr.row.latency_ms - 1.0, 4) for fr, f in used}
        errs = np.abs(np.array(list(residuals.values()))) if residuals else np.zeros(1)
        fit = Fit(method=("scripts/fit_profiles.py: Levenberg-Marquardt on log errors of the published rows (weights "
                          "1/sqrt(rows per device and network)), Gaussian priors at the previous figures (weight "
                          f"{args.prior_weight}); figures shared by core type, board, Edge TPU chip"
                          + ("" if mine else "; this profile has no rows: the residuals are of the rows of the "
                             "boards it shares its figures with")),
                  date=date, machine=PUBLISHED_FIT_MACHINE, samples=len(used),
                  rms_relative_error=round(float(np.sqrt(np.mean(errs ** 2))), 4),
                  max_relative_error=round(float(errs.max()), 4), residuals=residuals)
        accuracy = prof.accuracy if args.no_loo else accuracy_for(pid, prof, loo)
        fitted_on = tuple(_row_text(fr) for fr, _ in used) or prof.fitted_on
        out = dataclasses.replace(prof, fitted_on=fitted_on, fit=fit, accuracy=accuracy,
                                  notes=notes_for(pid, prof, rows, extra))
        header = (f"edgekit device profile (schema_version 1), written by scripts/fit_profiles.py on {date}.\n"
                  f"Hardware figures: the board's published facts. Fitted figures: least squares on the published\n"
                  f"rows in fitted_on (device_profiles/published); [fit.residuals] = fitted estimate / published - 1;\n"
                  f"[accuracy] = leave-one-model-out error. Every number edgekit derives from it is an ESTIMATE.")
        band = accuracy.band if accuracy else "no band"
        print(f"{pid}: {len(used)} rows, fitted rms {fit.rms_relative_error:.1%}, {band}", file=sys.stderr)
        comments = {"": header, "fit.residuals": "fitted estimate / published - 1, per row of fitted_on"}
        if accuracy is not None:
            comments["accuracy"] = "leave-one-model-out: `edgekit profile` prints this as the estimate's band"
        target = args.out / f"{pid}.toml"
        if args.dry_run:
            continue

        def check(doc: dict[str, Any], where: Path = target) -> object:
            return profile_from_dict(doc, str(where))

        write(target, as_document(out), comments, check=check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
