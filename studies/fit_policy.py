"""Fit the runtime checks' limits (runtime/policy.py Policy) to the labels of training images.

    .venv/bin/python studies/fit_policy.py MODEL.tflite data/synth/labels.csv data/real/train/labels.csv \
        [--sample 2000] [--cache /tmp/policy_fit.pkl] [--json OUT.json] \
        [--holdout data/synth_test/labels.csv --holdout data/real/holdout/labels.csv]

Each labels.csv is one set: a seeded sample of ``--sample`` of its rows (non-documents left out: the
model refuses them by itself) is decoded, checked and scored once, as `nima score` does. Then every
combination of the limits in GRID is tried on the stored scores and checks with runtime.policy.decide,
and each is judged by how often its verdict agrees with the label (ok when the label's mean is at least
the threshold), averaged over the sets so that a large set does not outvote a small one. It prints the
current limits' agreement, the best combination's, and the ten best.

Training images only: the held-out synthetic captures and real sources judge the result afterwards,
never choose it. With ``--holdout`` (every row of each set, scored the same way) it does that here:
the current limits, the best fit, and the best fit with the current washed-text allowance, each by
its agreement with the labels, the clean documents it accepts and the heavy cut-offs it refuses.
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


def read_rows(labels: Path) -> list[dict]:
    with labels.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def sample_documents(rows: list[dict], sample: int, seed: int = 0) -> list[dict]:
    documents = [row for row in rows
                 if row.get("group", "") != "nondoc" and row.get("kind", "") not in ("junk", "user_junk")]
    return random.Random(seed).sample(documents, min(sample, len(documents)))


def observe(scorer: Scorer, labels: Path, rows: list[dict]) -> list[tuple[dict, object, object]]:
    """(row, model Score, Checks) for each of ``rows`` of ``labels``."""
    assessor = Assessor(scorer, checks=True)
    observed = []
    for row in rows:
        model_input, checks, _ = assessor.inspect(load_image(labels.parent / row["path"]))
        observed.append((row, scorer.score_input(model_input), checks))
    return observed


def judge(observed, policy: Policy | None, values: np.ndarray, threshold: float) -> dict[str, float]:
    """Agreement of the verdicts with the labels (``policy`` None: the model alone); where the set has
    them, clean pages accepted and heavy cut-offs refused."""
    ok = np.array([(score.mean if policy is None else decide(score, checks, values, policy).mean) >= threshold
                   for _, score, checks in observed])
    labelled_ok = np.array([float(row["mean"]) >= threshold for row, _, _ in observed])
    figures = {"agreement": float(np.mean(ok == labelled_ok))}
    clean = np.array([row.get("group") == "clean" for row, _, _ in observed])
    cut = np.array([row.get("degradation") == "cutoff" and row.get("level") == "heavy" for row, _, _ in observed])
    if clean.any():
        figures["clean_accepted"] = float(ok[clean].mean())
    if cut.any():
        figures["heavy_cutoffs_refused"] = float(1 - ok[cut].mean())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("labels", type=Path, nargs="+")
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--cache", type=Path, help="keep the scored sample here, to refit without rescoring")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--holdout", type=Path, action="append", default=[],
                        help="a held-out labels.csv to judge the limits on afterwards; repeat for several")
    args = parser.parse_args()
    scorer = Scorer(args.model, threads=1)
    values = np.asarray(scorer.metadata.score_values, dtype=np.float64)
    if args.cache and args.cache.is_file():
        sets = pickle.loads(args.cache.read_bytes())
    else:
        sets = {str(labels): observe(scorer, labels, sample_documents(read_rows(labels), args.sample))
                for labels in args.labels}
        if args.cache:
            args.cache.write_bytes(pickle.dumps(sets))
    current = Policy(threshold=scorer.threshold)
    threshold = current.threshold
    model_alone = {name: judge(observed, None, values, threshold)["agreement"] for name, observed in sets.items()}
    results = []
    for combination in itertools.product(*GRID.values()):
        policy = replace(current, **dict(zip(GRID, combination)))
        if policy.blur_ratio_bad <= policy.blur_ratio_ok:
            continue
        per_set = {name: judge(observed, policy, values, threshold)["agreement"] for name, observed in sets.items()}
        results.append((float(np.mean(list(per_set.values()))), dict(zip(GRID, combination)), per_set))
    results.sort(key=lambda result: -result[0])
    baseline = {name: judge(observed, current, values, threshold)["agreement"] for name, observed in sets.items()}
    print(f"model alone: {model_alone}")
    print(f"current limits: {float(np.mean(list(baseline.values()))):.4f} {baseline}")
    for score, limits, per_set in results[:10]:
        print(f"{score:.4f} {limits} {per_set}")
    judged = {}
    if args.holdout:
        best = replace(current, **results[0][1])
        candidates = {"current": current, "best fit": best,
                      "best fit, current washed allowance": replace(best, washed_allowance=current.washed_allowance)}
        for labels in args.holdout:
            observed = observe(scorer, labels, read_rows(labels))
            judged[str(labels)] = {name: judge(observed, policy, values, threshold) for name, policy in candidates.items()}
            for name, figures in judged[str(labels)].items():
                print(f"{labels}: {name}: " + ", ".join(f"{key} {value:.3f}" for key, value in figures.items()))
    if args.json:
        args.json.write_text(json.dumps({"model_alone": model_alone, "current": {"limits": asdict(current), "per_set": baseline},
                                         "best": [{"agreement": s, "limits": lim, "per_set": ps}
                                                  for s, lim, ps in results[:10]], "holdout": judged}, indent=1))


if __name__ == "__main__":
    main()
