"""How far a model's scores stray from the labels on the document sources it was trained on, against
the sources held out: whether its misses on new photos are the photos' or the sources'.

    .venv/bin/python studies/source_gap.py MODEL.tflite data/real/train/labels.csv \
        data/real/holdout/labels.csv [--sample 700] [--json OUT.json]

For each document image (non-documents are left out: every model refuses them) the model alone
scores it as `nima score` does (with its mirror when its metadata says so) and the study reports,
per set and per kind of copy, the mean label, the mean score, their mean difference (score - label)
and how often the verdicts agree (ok at a mean of at least the model's retake threshold, as the
label says). The training copies are a seeded sample (``--sample``) of the training set's
documents; the model saw them, or other copies of the same pages, in training. A model that learned what makes a page good scores both
sets alike; one that learned the training pages scores the held-out ones differently.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
from collections import defaultdict
from pathlib import Path

import numpy as np
from nima_edge.runtime.images import load_image
from nima_edge.runtime.scorer import Scorer

MILD_BELOW = 0.5  # a training copy's severity below this counts as mild (the holdout's mild is 0.35)


def copy_kind(row: dict) -> str:
    """clean, or the degradation and its level (a training copy's level from its severity)."""
    if row["group"] == "clean":
        return "clean"
    if "+" in row["degradation"]:
        return "two kinds"
    level = row["level"] or ("mild" if max(float(s) for s in row["severity"].split("+")) < MILD_BELOW else "heavy")
    return f"{row['degradation']} {level}"


def document_rows(labels: Path, sample: int | None, seed: int = 0) -> list[dict]:
    with labels.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["group"] != "nondoc"]
    if sample is not None and sample < len(rows):
        rows = random.Random(seed).sample(rows, sample)
    return rows


def measure(scorer: Scorer, labels: Path, sample: int | None) -> dict[str, dict]:
    threshold = scorer.threshold
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in document_rows(labels, sample):
        score = scorer.score(load_image(labels.parent / row["path"]))
        groups[copy_kind(row)].append((float(row["mean"]), score.mean))
    figures = {}
    for kind, pairs in sorted(groups.items()):
        label, score = np.array(pairs).T
        figures[kind] = {"n": len(pairs), "label": float(label.mean()), "score": float(score.mean()),
                         "gap": float((score - label).mean()),
                         "agreement": float(np.mean((score >= threshold) == (label >= threshold)))}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("train", type=Path, help="the training copies' labels.csv")
    parser.add_argument("holdout", type=Path, help="the held-out sources' labels.csv")
    parser.add_argument("--sample", type=int, default=700, help="training copies to score (seeded sample)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    scorer = Scorer(args.model, threads=1)
    results = {"training sources": measure(scorer, args.train, args.sample),
               "held-out sources": measure(scorer, args.holdout, None)}
    kinds = sorted(set().union(*(figures.keys() for figures in results.values())))
    print("| copy | " + " | ".join(f"{name}: n, label, score, score - label, verdicts agree" for name in results) + " |")
    print("|---|" + "---|" * len(results))
    for kind in kinds:
        cells = []
        for figures in results.values():
            f = figures.get(kind)
            cells.append("" if f is None else
                         f"{f['n']}, {f['label']:.2f}, {f['score']:.2f}, {f['gap']:+.2f}, {f['agreement']:.0%}")
        print(f"| {kind} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
