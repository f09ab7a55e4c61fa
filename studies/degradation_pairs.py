"""Does the score fall as a defect grows on the same page? Counted over pairs of severities.

    .venv/bin/python studies/degradation_pairs.py [--model MODEL.tflite] [--pages 20]
        [--real DIR] [--json FILE]

Synthetic twins: for each of --pages held-out pages (seeds 900000+, never in a training set, which
use seeds drawn from --seed 1) and each defect of synth.PAGE_DEFECTS, the same page is rendered at
severities 0, 0.25, 0.5, 0.75 and 1. Real pages (--real: every image in DIR, e.g. scans from
studies/real_scans.py): controlled OpenCV degradations at five strengths each (Gaussian blur,
motion blur, darkening, over-exposure, a glare blob, JPEG quality, down-sampling, cut-off).

A pair is (strength k, strength k+1) of the same page and defect; it counts as falling when the
score at k+1 is lower. Reported per defect, for the model alone and for the decision `nima score`
makes (model + runtime checks); the target of issue 6 is >= 95% of pairs.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from nima_edge.runtime import Scorer, load_image
from nima_edge.runtime.images import iter_image_paths
from nima_edge.runtime.policy import Assessor
from nima_edge.synth import PAGE_DEFECTS, render_capture

SEVERITIES = (0.0, 0.25, 0.5, 0.75, 1.0)
FIRST_SEED = 900_000
RISE_TOLERANCE = 0.05  # a score pinned at the floor cannot fall further; int8 steps are ~0.02


def _motion(image: np.ndarray, length: int) -> np.ndarray:
    if length <= 1:
        return image
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    return cv2.filter2D(image, -1, kernel)


def _glare(image: np.ndarray, s: float) -> np.ndarray:
    if s == 0:
        return image
    h, w = image.shape[:2]
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (w // 2, h // 2), (int(w * 0.35 * s), int(h * 0.25 * s)), 15, 0, 360, 1.0, cv2.FILLED)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.02 * w))[..., None]
    return np.clip(image * (1 - mask) + 255 * mask, 0, 255).astype(np.uint8)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    _ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def _downsample(image: np.ndarray, factor: float) -> np.ndarray:
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(8, int(w / factor)), max(8, int(h / factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _cut(image: np.ndarray, s: float) -> np.ndarray:
    out = image.copy()
    h = image.shape[0]
    out[: int(h * 0.45 * s)] = (70, 60, 50)  # the page slid out of frame: the desk shows instead
    return out


# name -> degradation(image, s) for s in SEVERITIES (s = 0 leaves the image as it is)
REAL_DEGRADATIONS = {
    "defocus": lambda im, s: cv2.GaussianBlur(im, (0, 0), 0.01 + 0.006 * max(im.shape[:2]) * s) if s else im,
    "motion": lambda im, s: _motion(im, int(1 + 0.03 * max(im.shape[:2]) * s)),
    "underexposed": lambda im, s: np.clip(im * (1 - 0.85 * s), 0, 255).astype(np.uint8),
    "overexposed": lambda im, s: np.clip(im * (1 + 2.5 * s) + 120 * s, 0, 255).astype(np.uint8),
    "glare": _glare,
    "jpeg": lambda im, s: _jpeg(im, round(90 - 85 * s)) if s else im,
    "lowres": lambda im, s: _downsample(im, 1 + 11 * s) if s else im,
    "incomplete": _cut,
}


def _scores(assessor: Assessor, image: np.ndarray) -> tuple[float, float]:
    assessment = assessor.assess(image)
    return assessment.model_mean, assessment.mean


def _count(series: dict[str, list[list[tuple[float, float]]]]) -> dict[str, dict]:
    report = {}
    for defect, pages in series.items():
        pairs = [(a, b) for scores in pages for a, b in itertools.pairwise(scores)]
        report[defect] = {
            "pairs": len(pairs),
            "model_falls": sum(b[0] < a[0] for a, b in pairs) / len(pairs),
            "decision_falls": sum(b[1] < a[1] for a, b in pairs) / len(pairs),
            "decision_never_rises": sum(b[1] <= a[1] + RISE_TOLERANCE for a, b in pairs) / len(pairs),
            "end_to_end_falls": sum(s[-1][1] < s[0][1] for s in pages) / len(pages),
        }
    return report


def _table(title: str, report: dict[str, dict]) -> str:
    lines = [f"{title}", "", ("| defect | pairs | score falls: model | score falls: model + checks | "
             "model + checks never rises (±0.05) | strongest < clean |"), "|---|---|---|---|---|---|"]
    for defect, r in report.items():
        lines.append(f"| {defect} | {r['pairs']} | {r['model_falls']:.0%} | {r['decision_falls']:.0%} | "
                     f"{r['decision_never_rises']:.0%} | {r['end_to_end_falls']:.0%} |")
    pairs = sum(r["pairs"] for r in report.values())
    model = sum(r["model_falls"] * r["pairs"] for r in report.values()) / pairs
    decision = sum(r["decision_falls"] * r["pairs"] for r in report.values()) / pairs
    never = sum(r["decision_never_rises"] * r["pairs"] for r in report.values()) / pairs
    lines.append(f"| **all** | {pairs} | {model:.0%} | {decision:.0%} | {never:.0%} | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="default: the shipped model")
    parser.add_argument("--pages", type=int, default=20, help="synthetic pages; 0 for real pages only")
    parser.add_argument("--size", type=int, default=1600, help="long side of the synthetic captures, px")
    parser.add_argument("--real", type=Path, help="a folder of real page images to degrade")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    assessor = Assessor(Scorer(args.model, threads=1))
    result = {}
    synthetic: dict[str, list] = {d: [] for d in PAGE_DEFECTS}
    for page in range(args.pages):
        for defect in PAGE_DEFECTS:
            kind = "handwritten_note" if defect == "scrawl" else "prescription"
            synthetic[defect].append([_scores(assessor, render_capture(FIRST_SEED + page, {defect: s}, kind=kind,
                                                                       size=args.size)[0]) for s in SEVERITIES])
        print(f"page {page + 1}/{args.pages}", file=sys.stderr, flush=True)
    if args.pages:
        result["synthetic"] = _count(synthetic)
        print(_table(f"Synthetic twins: {args.pages} held-out pages x {len(SEVERITIES)} severities", result["synthetic"]))
    if args.real:
        real: dict[str, list] = {d: [] for d in REAL_DEGRADATIONS}
        paths = list(iter_image_paths([args.real]))
        for path in paths:
            image = load_image(path)
            for defect, degrade in REAL_DEGRADATIONS.items():
                real[defect].append([_scores(assessor, degrade(image, s)) for s in SEVERITIES])
        result["real"] = _count(real)
        print(_table(f"Real pages from {args.real} ({len(paths)}), OpenCV degradations", result["real"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
