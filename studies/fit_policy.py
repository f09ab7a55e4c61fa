"""Fit the runtime checks' limits (runtime/policy.py Policy) to the labels of training images.

    .venv/bin/python studies/fit_policy.py MODEL.tflite data/synth/labels.csv data/real/train/labels.csv \
        [--sample 2000] [--cache /tmp/policy_fit.pkl] [--json OUT.json]

Each labels.csv is one set: a seeded sample of ``--sample`` of its rows (non-documents left out: the
model refuses them by itself) is decoded, checked and scored once, as `nima score` does. Then every
combination of the limits in GRID is tried on the stored scores and checks with runtime.policy.decide,
and each is judged by how often its verdict agrees with the label (ok when the label's mean is at least
the threshold), averaged over the sets so that a large set does not outvote a small one. It prints the
current limits' agreement, the best combination's, and the ten best.

Training images only: the held-out synthetic captures and real sources judge the result afterwards
(`nima eval --decision`, `nima realcheck`), never choose it.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import pickle
import random
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from nima_edge.runtime.images import load_image
from nima_edge.runtime.policy import Assessor, Policy, decide
from nima_edge.runtime.scorer import Scorer

# The limits fitted, and the values tried for each (the current defaults among them).
GRID = {
    "blur_ratio_ok": (0.3, 0.4, 0.5, 0.6),
    "blur_ratio_bad": (0.7, 0.9, 1.1),
    "max_blur_penalty": (0.4, 0.6, 0.8),
    "jpeg_half_quality": (4.0, 6.0, 8.5),
    "washed_allowance": (0.3, 0.45, 0.6, 1.0),
}


def sample_rows(labels: Path, sample: int, seed: int = 0) -> list[dict]:
    with labels.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle)
                if row.get("group", "") != "nondoc" and row.get("kind", "") not in ("junk", "user_junk")]
    return random.Random(seed).sample(rows, min(sample, len(rows)))


def observe(scorer: Scorer, labels: Path, sample: int) -> list[tuple[float, object, object]]:
    """(label mean, model Score, Checks) for each sampled image."""
    assessor = Assessor(scorer, checks=True)
    observed = []
    for row in sample_rows(labels, sample):
        model_input, checks, _ = assessor.inspect(load_image(labels.parent / row["path"]))
        observed.append((float(row["mean"]), scorer.score_input(model_input), checks))
    return observed


def agreement(observed, policy: Policy, values: np.ndarray) -> float:
    return float(np.mean([(decide(score, checks, values, policy).mean >= policy.threshold) == (label >= policy.threshold)
                          for label, score, checks in observed]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("labels", type=Path, nargs="+")
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--cache", type=Path, help="keep the scored sample here, to refit without rescoring")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    scorer = Scorer(args.model, threads=1)
    values = np.asarray(scorer.metadata.score_values, dtype=np.float64)
    if args.cache and args.cache.is_file():
        sets = pickle.loads(args.cache.read_bytes())
    else:
        sets = {str(labels): observe(scorer, labels, args.sample) for labels in args.labels}
        if args.cache:
            args.cache.write_bytes(pickle.dumps(sets))
    current = Policy(threshold=scorer.threshold)
    model_alone = {name: float(np.mean([(score.mean >= current.threshold) == (label >= current.threshold)
                                        for label, score, _ in observed])) for name, observed in sets.items()}
    results = []
    for combination in itertools.product(*GRID.values()):
        policy = replace(current, **dict(zip(GRID, combination)))
        if policy.blur_ratio_bad <= policy.blur_ratio_ok:
            continue
        per_set = {name: agreement(observed, policy, values) for name, observed in sets.items()}
        results.append((float(np.mean(list(per_set.values()))), dict(zip(GRID, combination)), per_set))
    results.sort(key=lambda result: -result[0])
    baseline = {name: agreement(observed, current, values) for name, observed in sets.items()}
    print(f"model alone: {model_alone}")
    print(f"current limits: {float(np.mean(list(baseline.values()))):.4f} {baseline}")
    for score, limits, per_set in results[:10]:
        print(f"{score:.4f} {limits} {per_set}")
    if args.json:
        args.json.write_text(json.dumps({"model_alone": model_alone, "current": {"limits": asdict(current), "per_set": baseline},
                                         "best": [{"agreement": s, "limits": lim, "per_set": ps}
                                                  for s, lim, ps in results[:10]]}, indent=1))


if __name__ == "__main__":
    main()
