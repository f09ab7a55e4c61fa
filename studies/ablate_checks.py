"""Which runtime heuristics still earn their place? Each verdict-changing rule switched off in turn.

    .venv/bin/python studies/ablate_checks.py --model models/default.tflite \
        --real data/real/holdout/labels.csv --synth data/synth_test/labels.csv [--json OUT.json]

Four rules of runtime.policy move a score: the native-resolution blur penalty, the JPEG-quality
penalty, the faint-ink ceiling and the washed-text ceiling. Every image is scored once by the model and checked once by
runtime.checks; runtime.policy.decide then runs under each variant (all rules; all but one; none),
so the variants differ only in the rule. Reported on the real holdout (training.realcheck.report,
as `nima realcheck`) and on the held-out synthetic set (ok/retake agreement with the label at 5,
SRCC of the means).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
from nima_edge.runtime.checks import run_checks
from nima_edge.runtime.images import load_image
from nima_edge.runtime.policy import Policy, decide
from nima_edge.runtime.scorer import Scorer
from nima_edge.training import metrics as M
from nima_edge.training.data import read_dataset
from nima_edge.training.realcheck import read_holdout, report

OFF = {"blur": {"max_blur_penalty": 0.0}, "jpeg": {"jpeg_half_quality": 1e-9}, "faint": {"contrast_half": 0.0},
       "washed": {"washed_allowance": 1.0}}
VARIANTS = {"model + all checks": {}, **{f"without {name}": change for name, change in OFF.items()},
            "model alone": None}


def observe(scorer: Scorer, paths) -> list:
    """(score, checks) per path; None for an image that does not decode."""
    seen = []
    for path in paths:
        try:
            image = load_image(path)
        except Exception:  # noqa: BLE001 - a study: an unreadable image is simply left out
            seen.append(None)
            continue
        seen.append((scorer.score(image), run_checks(image)))
    return seen


def decided(seen, values, policy: Policy, use_checks: bool) -> list:
    out = []
    for item in seen:
        if item is None:
            out.append(None)
            continue
        a = decide(item[0], item[1] if use_checks else None, values, policy)
        out.append((a.mean, a.ok))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--real", type=Path, required=True)
    parser.add_argument("--synth", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    scorer = Scorer(args.model, threads=1)
    values = np.asarray(scorer.metadata.score_values, dtype=np.float64)
    base = dataclasses.replace(Policy(), threshold=scorer.threshold)
    items = read_holdout(args.real)
    real_seen = observe(scorer, [i.path for i in items])
    synth = read_dataset(args.synth, "csv")
    synth_seen = observe(scorer, synth.paths)
    rows = {}
    for name, change in VARIANTS.items():
        policy = dataclasses.replace(base, **(change or {}))
        figures = report(items, decided(real_seen, values, policy, change is not None))
        synth_scores = decided(synth_seen, values, policy, change is not None)
        keep = [i for i, s in enumerate(synth_scores) if s is not None]
        predicted = np.asarray([synth_scores[i][0] for i in keep])
        truth = synth.means[keep]
        figures["synth_accuracy"] = float(np.mean((predicted >= scorer.threshold) == (truth >= scorer.threshold)))
        figures["synth_srcc"] = M.srcc(truth, predicted)
        rows[name] = figures
    header = ("| rules | clean accepted | non-docs refused | heavy refused (all / worst kind) | clean > heavy | "
              "clean > mild | AUC | synthetic accuracy | synthetic SRCC |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|"]
    for name, f in rows.items():
        lines.append(f"| {name} | {f['clean_accepted']:.1%} | {f['nondoc_refused']:.1%} | "
                     f"{f['heavy_refused_all']:.1%} / {f['heavy_refused_min']:.1%} | "
                     f"{f['pairs_clean_gt_heavy']:.1%} | {f['pairs_clean_gt_mild']:.1%} | {f['auc']:.3f} | "
                     f"{f['synth_accuracy']:.1%} | {f['synth_srcc']:.3f} |")
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
