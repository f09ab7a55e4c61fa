"""Are clean, edge-to-edge pages accepted? Scores flatbed-like scans of synthetic pages.

    .venv/bin/python studies/scan_check.py [--model MODEL.tflite ...] [--per-kind 12] [--out DIR]

The synthetic captures the model trains on are photos: a page on a surface, through a camera. A
scan is the page alone, filling the image edge to edge, sharp and evenly lit. Each page here is
synth's own page renderer at a long side of 1600-3300 px, then a light scanner pipeline (Gaussian
optics sigma 0.7 px, sensor noise sigma 2 grey levels, JPEG quality 90): nothing wrong with it,
so every one should be accepted. Seeds 1000+ (never used by `nima synth`, whose pages come from
per-capture seeds). Prints the accepted count per document kind for each --model; --out keeps the
images.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from nima_edge.runtime import Scorer
from nima_edge.runtime.fileio import atomic_write_bytes
from nima_edge.synth.page import DOCUMENT_KINDS, page_format, render_page


def scan(kind: str, index: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    size_mm = page_format(rng, kind)
    long_side = int(rng.integers(1600, 3301))
    page = render_page(rng, kind, size_mm, long_side, handwritten=bool(index % 2))
    image = cv2.GaussianBlur(page.image, (0, 0), 0.7)
    image = np.clip(image.astype(np.float32) + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise SystemExit(f"cannot encode the {kind} scan {index}")
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", type=Path, help="a .tflite (repeat to compare; default: "
                                                                    "the shipped model)")
    parser.add_argument("--per-kind", type=int, default=12)
    parser.add_argument("--out", type=Path, help="also write the scans here")
    args = parser.parse_args()
    scorers = {str(path) if path else "default model": Scorer(path, threads=1) for path in args.model or [None]}
    accepted = {name: {} for name in scorers}
    for k, kind in enumerate(DOCUMENT_KINDS):
        for index in range(args.per_kind):
            image = scan(kind, index, 1000 + 100 * k + index)
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                _, encoded = cv2.imencode(".png", image)  # lossless: the file scores as the check did
                atomic_write_bytes(args.out / f"{kind}_{index:02d}.png", encoded.tobytes(), force=True)
            for name, scorer in scorers.items():
                score = scorer.score(image)
                accepted[name].setdefault(kind, []).append(score.mean >= scorer.threshold)
    for name, kinds in accepted.items():
        total = sum(sum(v) for v in kinds.values())
        count = sum(len(v) for v in kinds.values())
        per_kind = ", ".join(f"{kind} {sum(v)}/{len(v)}" for kind, v in kinds.items())
        print(f"{name}: {total}/{count} clean scans accepted ({100 * total / count:.0f}%) — {per_kind}")


if __name__ == "__main__":
    main()
