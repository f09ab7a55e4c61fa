"""Pixel-repeated low resolution: how it reads, and what undoing it would change. Probed, not built.

    /tmp/alb/bin/python studies/other_code_degradations.py data/real/holdout/labels.csv /tmp/other
    .venv/bin/python studies/pixel_repeat.py /tmp/other/labels.csv data/real/holdout/labels.csv \
        --model models/default.tflite

albumentations' ``Downscale`` (the "degraded by other code" set's low resolution) shrinks a page and
brings it back with nearest-neighbour interpolation: every pixel of the small picture repeated
k x k times, a blocky page whose block edges are as sharp as print. The model, taught low resolution
as the soft page a camera's or a resampler's smoothing makes, passes most of them.

1. ``pixel_pitch`` reads k from a frame: the mean gap between the columns (and rows) where the
   picture changes (the 90th percentile over sampled lines of the absolute step, above 0.3 of its
   90th percentile over the frame), long blank runs left out. Printed per kind and level for each
   set: the median and largest reading and the share read as repeated (k >= 1.5), and, with
   ``--jpeg Q``, the repeated copies of the first set saved again as JPEG at quality Q.
2. With ``--model``: the first set's low-resolution copies and clean pages (model + checks, as `nima
   realcheck` decides) as they are, then each frame read as repeated brought back to its own pixels
   (INTER_AREA to 1/k of its size) before it is checked and scored.
"""
from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from nima_edge.runtime.images import load_image
from nima_edge.runtime.policy import Assessor
from nima_edge.runtime.scorer import Scorer
from nima_edge.training.realcheck import MODES, mode_verdicts, read_holdout, report

REPEATED = 1.5  # a pitch from here up reads as pixels repeated
LINES = 256  # lines sampled per axis
STEP_PERCENTILE = 90
CHANGE_SHARE = 0.3


def axis_pitch(grey: np.ndarray) -> float:
    """Mean gap between the columns of ``grey`` where the picture changes (1.0: every column)."""
    lines = grey[:: max(1, grey.shape[0] // LINES)].astype(np.int16)
    steps = np.percentile(np.abs(np.diff(lines, axis=1)), STEP_PERCENTILE, axis=0)
    top = np.percentile(steps, 90)
    changes = np.flatnonzero(steps > CHANGE_SHARE * top) if top > 0 else np.array([])
    if changes.size < 8:
        return 1.0
    gaps = np.diff(changes)
    return float(np.mean(gaps[gaps <= 4 * np.median(gaps)]))  # a blank margin is not a block


def pixel_pitch(image_bgr: np.ndarray) -> tuple[float, float]:
    """(k across, k down) of a frame; (1, 1) for a camera's own pixels."""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    return axis_pitch(grey), axis_pitch(grey.T)


def own_pixels(image_bgr: np.ndarray) -> np.ndarray:
    """The frame brought back to the picture's own pixels when they are repeated; else as it is."""
    across, down = pixel_pitch(image_bgr)
    if min(across, down) < REPEATED:
        return image_bgr
    height, width = image_bgr.shape[:2]
    size = (max(1, round(width / across)), max(1, round(height / down)))
    return cv2.resize(image_bgr, size, interpolation=cv2.INTER_AREA)


def jpeg_again(image_bgr: np.ndarray, quality: int) -> np.ndarray:
    encoded = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


def readings(labels: Path, quality: int | None) -> None:
    by_kind = defaultdict(list)
    with labels.open(newline="") as handle:
        for row in csv.DictReader(handle):
            kind = row["group"] if row["group"] == "nondoc" else (row["degradation"] or "clean")
            if quality is not None and kind != "lowres":
                continue
            image = load_image(labels.parent / row["path"])
            if quality is not None:
                image = jpeg_again(image, quality)
            by_kind[(kind, row["level"])].append(min(pixel_pitch(image)))
    where = f"{labels}" + (f", low resolution saved again as JPEG {quality}" if quality is not None else "")
    for (kind, level), pitches in sorted(by_kind.items()):
        pitches = np.array(pitches)
        print(f"| {where} | {kind} {level} | {len(pitches)} | {np.median(pitches):.2f} | {pitches.max():.2f} | "
              f"{np.mean(pitches >= REPEATED):.0%} |")


def undone(labels: Path, model: Path) -> None:
    items = [i for i in read_holdout(labels) if i.group == "clean" or i.degradation == "lowres"]
    scorer = Scorer(model, threads=1)
    assessor = Assessor(scorer, checks=True)
    values = np.asarray(scorer.metadata.score_values, dtype=np.float64)
    for label, prepare in (("as decoded", lambda image: image), ("repeated pixels undone", own_pixels)):
        verdicts = {mode: [] for mode in MODES}
        for item in items:
            model_input, checks, _ = assessor.inspect(prepare(load_image(item.path)))
            for mode, verdict in mode_verdicts(scorer.score_input(model_input), checks, values,
                                               assessor.policy).items():
                verdicts[mode].append(verdict)
        figures = report(items, verdicts["model+checks"])
        lowres = figures["refused"]["lowres"]
        print(f"| {label} | {figures['clean_accepted']:.0%} | {lowres['mild']:.0%} | {lowres['heavy']:.0%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", type=Path, nargs="+", help="`nima realset`-style labels.csv files")
    parser.add_argument("--jpeg", type=int, action="append", default=[], help="re-save the first set's "
                        "low-resolution copies as JPEG at this quality and read them again (repeatable)")
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    print("| set | kind | images | median pitch | largest | read as repeated |")
    print("|---|---|---|---|---|---|")
    for labels in args.labels:
        readings(labels, None)
    for quality in args.jpeg:
        readings(args.labels[0], quality)
    if args.model:
        print("\n| first set, model + checks | clean accepted | low resolution refused, mild | heavy |")
        print("|---|---|---|---|")
        undone(args.labels[0], args.model)


if __name__ == "__main__":
    main()
