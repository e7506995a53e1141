"""Make the example HTML reports and their screenshots in docs/img/ (the README shows them).

Real runs, nothing drawn by hand:

- ``verify``: the sample classifier (sample_models/) against its int8 conversion, on the 120 labelled test
  images, with ``--explain``;
- ``size``: the sample classifier converted again with a bundle of 32 golden images, and its what-if pruning
  verified on that bundle (``--verify-on``): how far it can be pruned before verify fails;
- ``profile``, ``bench``: a MobileNetV3-Small built here with keras.applications (random weights: no
  download; 96x96 input), converted to int8 by ``edgekit convert`` calibrated on the sample images.
  Its hard-swish ops are what the Edge TPU does not map, so the profile shows where the graph leaves it;
  bench measures on this machine (a shared one: expect the busy-machine warning when it is);
- ``tune``: MediaPipe's BlazeFace (the float16 face_detection_short_range.tflite inside the mediapipe wheel:
  ``pip install --no-deps mediapipe==0.10.18``, see docs/ZOO.md) tuned for rpi4b on drawn faces from
  scripts/make_tune_data.py (calibration and held-out splits): plain int8 fails verify, tune finds the recipe.
  Skipped, saying so, when the wheel is not installed.

    .venv/bin/python scripts/make_report_examples.py [--out DIR] [--keep]

Needs the convert and report extras and Chromium (``scripts/test`` installs them). The reports
themselves go to DIR (default: a temporary folder; --keep keeps it); the screenshots to docs/img/.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_models"
IMG = REPO / "docs" / "img"
EDGEKIT = [str(Path(sys.executable).with_name("edgekit"))]  # the venv's console script


def run(args: list[str], out: Path | None = None, ok: tuple[int, ...] = (0,)) -> None:
    print("$ edgekit " + " ".join(args), flush=True)
    with open(out, "w", encoding="utf-8") if out else open(os.devnull, "w") as fh:
        proc = subprocess.run([*EDGEKIT, *args], stdout=fh, check=False)
    if proc.returncode not in ok:
        sys.exit(f"edgekit {args[0]} exited {proc.returncode}")


def mobilenet(work: Path) -> Path:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV3Small(input_shape=(96, 96, 3), weights=None, classes=10,
                                                include_preprocessing=False)
    path = work / "mobilenet_v3_small.keras"
    model.save(path)
    return path


def screenshot(page: Path, png: Path) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from browser_helpers import Browser, is_blank  # the tests' DevTools client
    from PIL import Image

    browser = Browser()
    try:
        look = browser.look(page, width=1100)
    finally:
        browser.close()
    if is_blank(look.screenshot) or look.console:
        sys.exit(f"{page}: blank or console messages {look.console}")
    with Image.open(io.BytesIO(look.screenshot)) as im:
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            png, optimize=True)
    print(f"  {png.relative_to(REPO)}: {png.stat().st_size // 1024} KiB, {look.page['width']}x{look.page['height']}")


def tune_example(out: Path) -> bool:
    """tune on a real network (BlazeFace from the mediapipe wheel); False when its wheel is not installed."""
    sys.path.insert(0, str(REPO / "scripts"))
    import zoo

    try:
        model = Path(zoo.locate("mp-face-detection-short"))
    except zoo.ModelNotInstalledError as exc:
        print(f"tune example skipped: {exc}", file=sys.stderr)
        return False
    data = out / "tune_data"
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_tune_data.py"), str(data), "--only", "faces"],
                   check=True)
    run(["tune", str(model), "--device", "rpi4b", "--calibration", str(data / "faces" / "calib"), "--data",
         str(data / "faces" / "heldout"), "--preprocess", "symmetric", "-o", str(out / "blazeface_int8.tflite"),
         "--html", str(out / "tune.html"), "--force", "--json"], out / "tune.json")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help="Folder for the reports and JSON (default: temporary).")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder.")
    opts = parser.parse_args()
    out = opts.out or Path(tempfile.mkdtemp(prefix="edgekit-reports-"))
    out.mkdir(parents=True, exist_ok=True)
    IMG.mkdir(parents=True, exist_ok=True)

    keras_model = mobilenet(out)
    tflite = out / "mobilenet_v3_small_int8.tflite"
    run(["convert", str(keras_model), "-o", str(tflite), "--calibration", str(SAMPLES / "calibration"), "--force"])

    run(["profile", str(tflite), "--device", "rpi4b", "--device", "coral-usb-rpi4", "--html", str(out / "profile.html"),
         "--force", "--json"], out / "profile.json")
    run(["bench", str(tflite), "--sweep-threads", "1,2", "--runs", "100", "--html", str(out / "bench.html"), "--force",
         "--json"], out / "bench.json")
    bundle = out / "shapes_bundle"
    run(["convert", str(SAMPLES / "shapes_classifier.keras"), "-o", str(out / "shapes_int8.tflite"), "--calibration",
         str(SAMPLES / "calibration"), "--bundle", str(bundle), "--golden-samples", "32", "--force"])
    run(["size", str(bundle / "model.tflite"), "--what-if", "0.1,0.25,0.5,0.75,0.9", "--verify-on", str(bundle),
         "--html", str(out / "size.html"), "--force", "--json"], out / "size.json")
    run(["verify", str(SAMPLES / "shapes_classifier.keras"), str(SAMPLES / "shapes_classifier_int8.tflite"),
         "--data", str(SAMPLES / "test"), "--labels", str(SAMPLES / "test_labels.csv"), "--samples", "120",
         "--explain", "--calibration", str(SAMPLES / "calibration"), "--html", str(out / "verify.html"), "--force",
         "--json"], out / "verify.json", ok=(0, 1))

    kinds = ["verify", "profile", "bench", "size"]
    if tune_example(out):
        kinds.append("tune")
    for kind in kinds:
        screenshot(out / f"{kind}.html", IMG / f"report-{kind}.png")
    print(f"reports in {out}" if (opts.out or opts.keep) else "done")
    if not (opts.out or opts.keep):
        import shutil

        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
