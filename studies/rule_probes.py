"""Two candidate runtime rules, probed before writing them: would they refuse what the model lets through?

    .venv/bin/python studies/rule_probes.py --model models/default.tflite \
        --real data/real/holdout/labels.csv [--real /tmp/other/labels.csv] [--real data/real/train/labels.csv] \
        --synth data/synth_test/labels.csv [--json OUT.json]

The shipped model's two weakest kinds are cut-offs (a close-up inside sharp text) and other code's
broad glare (a bright disc washing out part of the page). Each probe is a measurement a runtime
check could make at a few ms a frame; this script reports, per group, how often it fires, and how
many of the images the shipped decision (model + checks, as `nima score`) *accepts* it would turn
into a refusal. A rule is worth writing when it refuses many accepted bad images and almost no
accepted clean ones.

* **text cut by the frame** (`cut_strokes`): in a strip along each frame edge (4% of the short
  side deep, native pixels), character-sized ink blobs darker than the local paper (a morphological
  closing) that touch the border itself; the most on any one edge. A blob as deep as the strip (a
  ruled line, a table rule) is not a character. A page photographed whole has a margin there; a
  close-up cuts a text line at every edge.
* **washed text** (`washed_share`, now runtime.checks.washed_text_share): the page cut into an
  8 x 8 grid on a copy of about 1024 px; a cell holds text when its ink contrast ``(p90 - p2) / p90`` is at
  least 0.05, and is washed when that contrast is under 0.25 while its paper is brighter than the
  page's median paper (+10 grey levels) or saturated (>= 250); the share of text cells washed.

"Accepted" is the shipped decision without the washed-text ceiling (``washed_allowance=1.0``),
so both columns say what the rule adds. The probe that became a rule: washed text (its ceiling
in runtime.policy); the one that did not: text cut by the frame (it fires on too many clean pages).

Groups: a `nima realset` set's clean / nondoc / `<degradation>/<level>`; a synthetic set's
captures by their label (ok when the label mean >= the model's threshold).
"""
from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from nima_edge.runtime.images import load_image
from nima_edge.runtime.policy import Assessor, Policy
from nima_edge.runtime.scorer import Scorer

CUT_THRESHOLDS = (3, 4, 6, 8)
WASHED_THRESHOLDS = (0.2, 0.3, 0.4, 0.5)


def grey(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2GRAY)


def cut_strokes(grey_frame: np.ndarray) -> int:
    """The most character-sized ink blobs touching any one frame edge."""
    height, width = grey_frame.shape
    small = cv2.resize(grey_frame, (max(1, width // 4), max(1, height // 4)), interpolation=cv2.INTER_AREA)
    paper = float(np.percentile(small, 90))
    depth = max(12, round(0.04 * min(height, width)))
    size = max(5, (depth // 2) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    # Each strip oriented with row 0 on the frame border.
    strips = (grey_frame[:depth], grey_frame[::-1][:depth], grey_frame[:, :depth].T, grey_frame[:, ::-1][:, :depth].T)
    most = 0
    for strip in strips:
        strip = np.ascontiguousarray(strip)
        background = cv2.morphologyEx(strip, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_REPLICATE).astype(np.int16)
        ink = ((background - strip) > np.maximum(25, 0.25 * background)) & (background > 0.7 * paper)
        count, _, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
        blobs = stats[1:count]
        touching = ((blobs[:, cv2.CC_STAT_TOP] == 0) & (blobs[:, cv2.CC_STAT_WIDTH] <= depth)
                    & (blobs[:, cv2.CC_STAT_HEIGHT] >= 3) & (blobs[:, cv2.CC_STAT_HEIGHT] < 0.9 * depth)
                    & (blobs[:, cv2.CC_STAT_AREA] >= 6))
        most = max(most, int(touching.sum()))
    return most


def groups_of(labels: Path, threshold: float) -> list[tuple[Path, str]]:
    with labels.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if "group" in rows[0]:
        return [(labels.parent / r["path"], r["group"] if r["group"] != "degraded" else f"{r['degradation']}/{r['level']}")
                for r in rows]
    return [(labels.parent / r["path"], "synthetic ok" if float(r["mean"]) >= threshold else "synthetic retake")
            for r in rows]


def probe(assessor: Assessor, items: list[tuple[Path, str]]) -> dict[str, list[tuple[bool, int, float | None]]]:
    """{group: [(accepted by the shipped decision, cut_strokes, washed_share)]}."""
    seen = defaultdict(list)
    for path, group in items:
        try:
            image = load_image(path)
        except Exception:  # noqa: BLE001, S112 - a study: an unreadable image is simply left out
            continue
        assessment = assessor.assess(image)
        seen[group].append((assessment.ok, cut_strokes(grey(image)), assessment.checks.washed_share))
    return seen


def table(name: str, seen: dict) -> tuple[list[str], dict]:
    head = " | ".join([f"cut ≥ {t}" for t in CUT_THRESHOLDS] + [f"washed ≥ {t}" for t in WASHED_THRESHOLDS])
    lines = [f"\n{name}: fired on all (on the accepted: newly refused / accepted)\n",
             f"| group | n | accepted | {head} |", "|---|---|---|" + "---|" * (len(CUT_THRESHOLDS) + len(WASHED_THRESHOLDS))]
    figures = {}
    for group in sorted(seen):
        rows = seen[group]
        accepted = [r for r in rows if r[0]]
        cells, record = [], {"n": len(rows), "accepted": len(accepted)}
        for index, thresholds in ((1, CUT_THRESHOLDS), (2, WASHED_THRESHOLDS)):
            for t in thresholds:
                fired = sum((r[index] or 0) >= t for r in rows)
                newly = sum((r[index] or 0) >= t for r in accepted)
                cells.append(f"{fired / len(rows):.0%} ({newly}/{len(accepted)})")
                record[f"{'cut' if index == 1 else 'washed'}>={t}"] = {"fired": fired, "newly_refused": newly}
        figures[group] = record
        lines.append(f"| {group} | {len(rows)} | {len(accepted)} | " + " | ".join(cells) + " |")
    return lines, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--real", type=Path, action="append", default=[],
                        help="a `nima realset` labels.csv (its holdout or training copies)")
    parser.add_argument("--synth", type=Path, action="append", default=[], help="a synthetic labels.csv")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    scorer = Scorer(args.model, threads=1)
    # The decision as shipped before the washed-text ceiling: what each probe would add to it.
    assessor = Assessor(scorer, checks=True, policy=Policy(washed_allowance=1.0))
    report, lines = {}, []
    for labels in [*args.real, *args.synth]:
        part, figures = table(str(labels), probe(assessor, groups_of(labels, scorer.threshold)))
        lines += part
        report[str(labels)] = figures
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
