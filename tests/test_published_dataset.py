"""The published-latency dataset (device_profiles/published/): clean, complete, and honestly selected."""

from __future__ import annotations

import collections
import shutil
from pathlib import Path

import pytest

from edgekit.errors import DataError
from edgekit.profile.published import (
    COLUMNS,
    DEVICE_PROFILES,
    load_dataset,
    read_dataset,
    select,
    source_tag,
    usable_rows,
)
from edgekit.profile.registry import shipped_profiles

pytestmark = pytest.mark.device

DATASET = Path(__file__).resolve().parent.parent / "device_profiles" / "published"


@pytest.fixture(scope="module")
def rows():  # type: ignore[no-untyped-def]
    return load_dataset(DATASET)


def test_the_dataset_is_clean(rows) -> None:  # type: ignore[no-untyped-def]
    parsed, errors = read_dataset(DATASET)
    assert errors == []
    assert len(parsed) == len(rows)


def test_the_dataset_is_broad(rows) -> None:  # type: ignore[no-untyped-def]
    """The issue's floor: >= 150 rows over >= 25 architectures; Coral, Android and Raspberry Pi all present."""
    assert len(rows) >= 150
    assert len({r.model for r in rows}) >= 25
    devices = {r.device for r in rows}
    assert {"coral-usb-desktop", "coral-devboard", "pixel3-cpu", "pixel4-gpu", "rpi3b-plus", "rpi4b", "rpi5"} <= devices
    usable = usable_rows(rows)
    assert len(usable) >= 150
    assert len({r.model for r, _ in usable}) >= 25


def test_every_row_names_its_source_and_conditions(rows) -> None:  # type: ignore[no-untyped-def]
    for r in rows:
        assert r.source_url.startswith("https://"), r.row_id
        assert r.latency_ms > 0, r.row_id
        assert r.dtype and r.runtime and r.delegate and r.device, r.row_id
        assert source_tag(r.source_url), r.row_id


def test_every_source_is_documented(rows) -> None:  # type: ignore[no-untyped-def]
    """SOURCES.md explains every source a row cites (by its URL, or its repository for pinned GitHub files)."""
    text = (DATASET / "SOURCES.md").read_text(encoding="utf-8")
    for url in {r.source_url for r in rows}:
        anchor = url.split("/blob/")[0].split("/tree/")[0] if "github.com" in url else url.rstrip("/")
        assert anchor.replace("https://", "") in text, url


def test_the_rows_are_unique_and_ids_stable(rows) -> None:  # type: ignore[no-untyped-def]
    ids = [r.row_id for r in rows]
    assert len(ids) == len(set(ids))
    keyed = collections.Counter((r.label, r.source) for r in rows)
    dup = [k for k, n in keyed.items() if n > 1]
    # the same label from the same source can only differ in the figure itself (e.g. two clocks): named apart
    for label, source in dup:
        same = [r for r in rows if r.label == label and r.source == source]
        assert len({(r.latency_ms, r.clock_ghz, r.source_url) for r in same}) == len(same), label


def test_every_row_is_either_used_or_says_why_not(rows) -> None:  # type: ignore[no-untyped-def]
    reasons = collections.Counter()
    for r in rows:
        s = select(r)
        if s.usable:
            assert s.profile and s.threads >= 1, r.row_id
        else:
            assert s.reason, r.row_id
            reasons[s.reason.split(":")[0]] += 1
    # what the issue and SOURCES.md say must not be fitted on
    for r in rows:
        s = select(r)
        if r.runtime != "tflite" or r.flagged or r.delegate in ("nnapi", "hexagon", "unstated"):
            assert not s.usable, r.row_id
        if r.source.startswith("Qengineering"):
            assert not s.usable, r.row_id
    assert reasons


def test_usable_rows_map_to_shipped_profiles(rows) -> None:  # type: ignore[no-untyped-def]
    ids = {e.profile.id for e in shipped_profiles()}
    assert {p for p, *_ in DEVICE_PROFILES.values()} <= ids
    for r, s in usable_rows(rows):
        assert s.profile in ids, r.row_id
        assert s.mode in ("cpu", "host-cpu", "accelerator"), r.row_id


def test_gpu_precision_follows_the_source(rows) -> None:  # type: ignore[no-untyped-def]
    fp32 = [r for r, s in usable_rows(rows) if r.device == "pixel4-gpu" and not s.gpu_fp16]
    fp16 = [r for r, s in usable_rows(rows) if r.device == "pixel4-gpu" and s.gpu_fp16]
    assert fp32 and fp16
    assert all("precision_loss_allowed=false" in r.note for r in fp32)


def test_the_checker_finds_bad_rows(tmp_path: Path) -> None:
    shutil.copy(DATASET / "coral.csv", tmp_path / "coral.csv")
    text = (tmp_path / "coral.csv").read_text(encoding="utf-8").splitlines()
    cells = text[1].split(",")
    bad = list(text)
    bad.append(text[1])  # a duplicate figure
    bad.append(",".join(cells[:7] + ["not-a-thread"] + cells[8:]))
    bad.append(text[1].replace(",int8,", ",int3,", 1))
    (tmp_path / "coral.csv").write_text("\n".join(bad) + "\n", encoding="utf-8")
    _, errors = read_dataset(tmp_path)
    joined = "\n".join(errors)
    assert "the same figure as" in joined
    assert "threads is not an integer" in joined
    assert "dtype 'int3'" in joined
    with pytest.raises(DataError):
        load_dataset(tmp_path)
    (tmp_path / "coral.csv").write_text(",".join(COLUMNS[:-1]) + "\n", encoding="utf-8")
    assert "header" in read_dataset(tmp_path)[1][0]
