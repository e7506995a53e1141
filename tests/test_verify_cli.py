"""`edgekit verify ORIGINAL CONVERTED.tflite` and `edgekit verify BUNDLE_DIR` end to end (TensorFlow-built fixtures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from verify_helpers import BLOCK_HEAVY_IMPORTS, SHAPE, cached_verify_models

from edgekit.cli import main

pytestmark = [pytest.mark.convert, pytest.mark.slow]


@pytest.fixture(scope="session")
def vm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("tensorflow")
    return cached_verify_models(tmp_path_factory)


def _verify(args: list[str]) -> tuple[int, dict, str]:
    result = CliRunner().invoke(main, ["verify", "--json", *args])
    stdout = result.stdout
    data = json.loads(stdout) if stdout.strip().startswith("{") else {}
    return result.exit_code, data, result.stderr


def _by_name(data: dict) -> dict[str, dict]:
    return {o["name"]: o for o in data["outputs"]}


def test_good_int8_passes_with_accuracy(vm: dict[str, Path]) -> None:
    code, data, _ = _verify([str(vm["keras"]), str(vm["good_int8"]), "--data", str(vm["data"]),
                             "--labels", str(vm["labels"])])
    assert code == 0, data
    assert data["passed"] is True and data["samples"] == 40 and data["input_source"] == "data"
    assert data["quantization"] == "int8" and data["runtime"]
    out = _by_name(data)["logits"]
    assert out["passed"] and out["cosine"] > 0.99 and out["top1_agreement"] >= 0.9 and out["failures"] == []
    acc = data["accuracy"]
    assert acc["original"] == 1.0  # labels are the float model's own predictions
    assert acc["drop"] == pytest.approx(acc["original"] - acc["converted"])


def test_human_report_shows_accuracy_drop(vm: dict[str, Path]) -> None:
    result = CliRunner().invoke(main, ["verify", str(vm["keras"]), str(vm["good_int8"]), "--data", str(vm["data"]),
                                       "--labels", str(vm["labels"])])
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.stdout and "Accuracy on 40 labelled samples (measured)" in result.stdout
    assert "drop" in result.stdout


@pytest.mark.parametrize("name", ["good_float_io", "float32"])
def test_float_io_and_float_models_pass(vm: dict[str, Path], name: str) -> None:
    code, data, _ = _verify([str(vm["keras"]), str(vm[name]), "--data", str(vm["data"])])
    assert code == 0, data
    assert data["passed"] is True
    if name == "float32":
        assert data["quantization"] == "float32" and data["thresholds"]["min_cosine"] == 0.9999
        assert _by_name(data)["logits"]["sqnr_db"] > 60


@pytest.mark.parametrize("name", ["wrong_weights", "const_calib"])
def test_broken_conversions_fail_with_exit_1_and_full_report(vm: dict[str, Path], name: str) -> None:
    code, data, stderr = _verify([str(vm["keras"]), str(vm[name]), "--data", str(vm["data"])])
    assert code == 1
    assert data["passed"] is False  # the whole JSON report was printed before the exit
    out = _by_name(data)["logits"]
    assert out["passed"] is False
    metrics = {f["metric"] for f in data["failures"]}
    assert "sqnr_db" in metrics and out["failures"]
    assert "Error: verify failed: 1 output(s) out of thresholds (logits)" in stderr

    human = CliRunner().invoke(main, ["verify", str(vm["keras"]), str(vm[name]), "--data", str(vm["data"])])
    assert human.exit_code == 1
    assert "FAILED: 1 of 1 output(s)" in human.stdout and "logits: " in human.stdout and "sqnr_db" in human.stdout


def test_multi_output_model(vm: dict[str, Path]) -> None:
    code, data, stderr = _verify([str(vm["multi_keras"]), str(vm["multi_int8"]), "--samples", "20"])
    assert code == 0, data
    outs = _by_name(data)
    assert set(outs) == {"logits", "box"}
    assert outs["logits"]["top1_agreement"] is not None
    assert outs["box"]["top1_agreement"] is None  # 4 box values are not class scores
    assert data["input_source"] == "synthetic" and data["samples"] == 20
    assert "SYNTHETIC" in stderr
    assert data["thresholds"]["min_top1"] is None  # not enforced on random inputs unless asked
    assert any("not enforced on synthetic inputs" in note for note in data["notes"])


def test_threshold_overrides(vm: dict[str, Path]) -> None:
    base = [str(vm["keras"]), str(vm["good_int8"]), "--data", str(vm["data"])]
    code, data, _ = _verify([*base, "--min-cosine", "0.999999", "--max-abs", "0.0001"])
    assert code == 1
    failing = {f["metric"] for f in data["failures"]}
    assert failing >= {"cosine", "max_abs_error"}
    assert data["thresholds"]["min_cosine"] == 0.999999 and data["thresholds"]["max_abs"] == 0.0001
    code, data, _ = _verify([str(vm["keras"]), str(vm["const_calib"]), "--data", str(vm["data"]),
                             "--min-cosine", "0.5", "--min-sqnr", "0", "--min-top1", "0.5"])
    assert code == 0 and data["passed"] is True
    result = CliRunner().invoke(main, ["verify", *base, "--min-top1", "95"])
    assert result.exit_code == 2 and "--min-top1 95.0 is outside [0, 1]" in result.stderr


def test_mismatch_errors_list_both_sides(vm: dict[str, Path]) -> None:
    result = CliRunner().invoke(main, ["verify", str(vm["multi_keras"]), str(vm["good_int8"]), "--samples", "2"])
    assert result.exit_code == 2
    assert "2 outputs given but the .tflite model" in result.stderr
    assert "logits [1, 10] float32, box [1, 4] float32" in result.stderr and "int8]" in result.stderr
    assert "Traceback" not in result.output


def test_labels_errors(vm: dict[str, Path], tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("0\n1\n")
    result = CliRunner().invoke(main, ["verify", str(vm["keras"]), str(vm["good_int8"]), "--data", str(vm["data"]),
                                       "--labels", str(labels)])
    assert result.exit_code == 2 and "has 2 labels for 40 samples" in result.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("file,name\na.png,x\n")
    result = CliRunner().invoke(main, ["verify", str(vm["keras"]), str(vm["good_int8"]), "--data", str(vm["data"]),
                                       "--labels", str(bad)])
    assert result.exit_code == 2 and "without a label column" in result.stderr


def test_labelled_image_folder(vm: dict[str, Path], tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(3)
    for cls in ("alpha", "beta"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 256, size=(SHAPE[1], SHAPE[2], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "imgs" / cls / f"{i}.png")
    code, data, _ = _verify([str(vm["keras"]), str(vm["good_int8"]), "--labels", str(tmp_path / "imgs")])
    assert code == 0, data
    assert data["samples"] == 6 and data["accuracy"]["samples"] == 6 and data["input_source"] == "data"
    assert any("sorted folder name: 0=alpha, 1=beta" in note for note in data["notes"])
    result = CliRunner().invoke(main, ["verify", str(vm["keras"]), str(vm["good_int8"]), "--data",
                                       str(tmp_path / "imgs"), "--labels", str(vm["labels"])])
    assert result.exit_code == 2 and "shuffled order" in result.stderr
    # a CSV naming the files (relative to the CSV's folder), labels in any class order
    table = tmp_path / "labels.csv"
    table.write_text("file,label_index,class_name\n" + "".join(
        f"imgs/{cls}/{i}.png,{idx},{cls}\n" for idx, cls in ((3, "alpha"), (1, "beta")) for i in range(3)))
    code, data, _ = _verify([str(vm["keras"]), str(vm["good_int8"]), "--labels", str(table), "--samples", "4"])
    assert code == 0, data
    assert data["samples"] == 4 and data["accuracy"]["samples"] == 4
    assert any("images listed in" in note for note in data["notes"])
    table.write_text("file,label\nimgs/alpha/9.png,0\n")
    result = CliRunner().invoke(main, ["verify", str(vm["keras"]), str(vm["good_int8"]), "--labels", str(table)])
    assert result.exit_code == 2 and "line 2: image 'imgs/alpha/9.png' not found" in result.stderr


def test_bad_arguments(vm: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["verify", str(vm["keras"])])
    assert result.exit_code == 2 and "not a bundle folder" in result.stderr
    result = CliRunner().invoke(main, ["verify", str(vm["good_int8"]), str(vm["good_int8"])])
    # a .tflite ORIGINAL must be the float model the converted one came from: an int8 one is refused
    assert result.exit_code == 2 and "ORIGINAL" in result.stderr and "FLOAT model it came from" in result.stderr
    result = CliRunner().invoke(main, ["verify", str(vm["bundle"]), "--data", str(vm["data"])])
    assert result.exit_code == 2 and "--data does not apply to a bundle" in result.stderr


def test_bundle_verifies_in_process(vm: dict[str, Path]) -> None:
    code, data, _ = _verify([str(vm["bundle"])])
    assert code == 0, data
    assert data["input_source"] == "bundle" and data["samples"] == 8
    assert _by_name(data)["logits"]["passed"] is True  # shown with the original's output name


def test_bundle_with_wrong_golden_outputs_fails(vm: dict[str, Path], tmp_path: Path) -> None:
    from edgekit.bundle import read_bundle, write_bundle

    b = read_bundle(vm["bundle"])
    wrong = {k: -v for k, v in b.golden_outputs.items()}
    target = write_bundle(tmp_path / "wrong", b.model_path.read_bytes(), b.manifest, b.golden_inputs, wrong, force=False)
    code, data, stderr = _verify([str(target)])
    assert code == 1 and data["passed"] is False and "cosine" in {f["metric"] for f in data["failures"]}


def test_bundle_verifies_without_tensorflow_in_a_subprocess(vm: dict[str, Path]) -> None:
    code = BLOCK_HEAVY_IMPORTS + textwrap.dedent(f"""
        import json
        from click.testing import CliRunner
        from edgekit.cli import main
        r = CliRunner().invoke(main, ["verify", "--json", {str(vm["bundle"])!r}])
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "onnx", "onnxruntime"))
        print(json.dumps({{"exit": r.exit_code, "stdout": r.stdout, "stderr": r.stderr, "heavy": heavy}}))
    """)
    env = dict(os.environ, EDGEKIT_RUNTIME="ai-edge-litert")
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=300, env=env, check=False)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert result["exit"] == 0, result
    report = json.loads(result["stdout"])
    assert report["passed"] is True and report["runtime"].startswith("ai-edge-litert")


def test_explain_ranks_layers_and_prints_keep_float(vm: dict[str, Path]) -> None:
    code, data, _ = _verify([str(vm["keras"]), str(vm["const_calib"]), "--data", str(vm["data"]),
                             "--samples", "16", "--explain"])
    assert code == 1
    explain = data["explain"]
    assert explain["layers"] and explain["layers"][0]["rank"] == 1
    ranks = [lay["rmse_per_scale"] for lay in explain["layers"]]
    assert ranks == sorted(ranks, reverse=True)
    assert {lay["op"] for lay in explain["layers"]} >= {"CONV_2D", "FULLY_CONNECTED"}
    assert explain["all_int8"]["sqnr_db"] > 0 and explain["trials_measured_on_samples"] == 16
    measured = [lay for lay in explain["layers"] if lay["sqnr_db_if_float"] is not None]
    assert measured  # the worst layers were each tried in float
    if explain["keep_float"]:
        assert explain["with_keep_float"]["sqnr_db"] > explain["all_int8"]["sqnr_db"]
        assert explain["command"].startswith("edgekit convert ") and "--keep-float" in explain["command"]
    assert "calibration" in explain["message"]  # verify failed: the calibration is the suspect


def test_end_to_end_convert_verify_explain_keep_float(vm: dict[str, Path], tmp_path: Path) -> None:
    """`edgekit convert` -> verify (file and bundle) -> --explain -> convert --keep-float -> smaller error."""
    out = tmp_path / "c.tflite"
    result = CliRunner().invoke(main, ["convert", str(vm["keras"]), "-o", str(out), "--calibration", str(vm["data"]),
                                       "--bundle", str(tmp_path / "bundle")])
    assert result.exit_code == 0, result.output
    base = [str(vm["keras"]), str(out), "--data", str(vm["data"])]
    code, data, _ = _verify([*base, "--explain", "--calibration", str(vm["data"])])
    assert code == 0, data
    rmse_int8 = _by_name(data)["logits"]["rmse"]
    keep = data["explain"]["keep_float"]
    assert keep
    code, bundle_data, _ = _verify([str(tmp_path / "bundle")])
    assert code == 0 and bundle_data["input_source"] == "bundle"
    # the original against the bundle's model, no --data: the bundle's golden inputs are used
    code, bundle_data, stderr = _verify([str(vm["keras"]), str(tmp_path / "bundle" / "model.tflite")])
    assert code == 0 and bundle_data["input_source"] == "bundle" and "SYNTHETIC" not in stderr

    mixed = tmp_path / "mixed.tflite"
    args = ["convert", str(vm["keras"]), "-o", str(mixed), "--calibration", str(vm["data"])]
    for name in keep:
        args += ["--keep-float", name]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    code, data, _ = _verify([str(vm["keras"]), str(mixed), "--data", str(vm["data"])])
    assert code == 0, data
    assert data["quantization"] in ("mixed", "int8")
    assert _by_name(data)["logits"]["rmse"] < rmse_int8
