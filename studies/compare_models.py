"""Two or more .tflite models on one real holdout: where they fail alike, and what their average does.

    .venv/bin/python studies/compare_models.py data/real/holdout/labels.csv A.tflite B.tflite [...] \
        [--synthetic data/synth_test/labels.csv] [--json OUT.json]

Each model sees each image through its own view (its metadata), as `nima score` would run it; the
runtime's checks are read once, on the first model's inspection. Reported:

* for every degradation kind at heavy, and for the clean documents, how many images each model
  gets wrong and how many of those every model gets wrong (errors shared: a property of the
  images or the labels; errors not shared: of one model's training);
* the average of the models (distributions and defect probabilities averaged, then decided by
  runtime.policy.decide with and without the checks) as `nima realcheck` reports a model, and
  how well it ranks the clean pages above the heavy cut-offs (their AUC, model + checks);
* with --synthetic, the average's ok/retake accuracy and SRCC of means on held-out synthetic
  captures, model alone, as `nima eval` measures one model.

It answers whether a miss is variance (the models fail on different images, and averaging or
more training helps) or bias (they fail on the same images, and the data or the view must change).
"""
from __future__ import annotations

import argparse
import json
from collections import Counter

import numpy as np
from nima_edge.runtime.images import load_image
from nima_edge.runtime.policy import Assessor, decide
from nima_edge.runtime.scorer import Score, Scorer, mean_std
from nima_edge.training.data import read_datasets
from nima_edge.training.metrics import binary_accuracy, srcc
from nima_edge.training.realcheck import (
    MODES,
    TARGETS,
    auc,
    clean_and_heavy_cutoff,
    inspect_item,
    markdown,
    mode_verdicts,
    read_holdout,
    report,
)


def average(scores: list[Score], values: np.ndarray) -> Score:
    distribution = np.mean([s.distribution for s in scores], axis=0)
    mean, std = mean_std(distribution, values)
    extras = {name: {label: float(np.mean([s.extras[name][label] for s in scores])) for label in labels}
              for name, labels in scores[0].extras.items()}
    return Score(distribution.astype(np.float32), float(mean), float(std), extras)


def synthetic_figures(labels: str, scorers: list[Scorer], values: np.ndarray) -> dict:
    """The average's ok/retake accuracy and SRCC of means on labelled synthetic captures, model alone."""
    samples = read_datasets([labels], "csv")
    means = np.asarray([average([s.score(load_image(path)) for s in scorers], values).mean for path in samples.paths])
    truth = np.asarray(samples.means)
    return {"accuracy": binary_accuracy(truth, means, scorers[0].threshold), "srcc": srcc(means, truth)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--synthetic", help="held-out synthetic captures' labels.csv: the average's figures there")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    items = read_holdout(args.labels)
    scorers = [Scorer(path, threads=1) for path in args.models]
    assessor = Assessor(scorers[0], checks=True)
    values = np.asarray(scorers[0].metadata.score_values, dtype=np.float64)
    averaged = {mode: [] for mode in MODES}
    wrong, shared, total = Counter(), Counter(), Counter()
    for item in items:
        inspected = inspect_item(item, assessor)
        if inspected is None:
            for mode in MODES:
                averaged[mode].append(None)
            continue
        image, model_input, checks = inspected
        scores = [scorers[0].score_input(model_input)] + [s.score(image) for s in scorers[1:]]
        # The group to judge: clean documents must pass, heavy degradations must not (model alone).
        group = "clean" if item.group == "clean" else (item.degradation if item.level == "heavy" else None)
        if group:
            total[group] += 1
            misses = [decide(s, None, values, assessor.policy).ok != (group == "clean") for s in scores]
            for path, missed in zip(args.models, misses):
                wrong[(group, path)] += missed
            shared[group] += all(misses)
        for mode, verdict in mode_verdicts(average(scores, values), checks, values, assessor.policy).items():
            averaged[mode].append(verdict)
    print("| group (model alone) | images | " + " | ".join(f"wrong: {p}" for p in args.models) + " | wrong in all |")
    print("|---|---|" + "---|" * len(args.models) + "---|")
    for group in sorted(total):
        cells = " | ".join(str(wrong[(group, p)]) for p in args.models)
        print(f"| {group} | {total[group]} | {cells} | {shared[group]} |")
    figures = {mode: report(items, averaged[mode]) for mode in MODES}
    figures.update(labels=args.labels, model_file="average of " + ", ".join(args.models), targets=TARGETS)
    print()
    print(markdown(figures))
    figures["auc_clean_vs_heavy_cutoff"] = auc(*clean_and_heavy_cutoff(items, averaged["model+checks"]))
    print(f"\nthe average, clean pages vs heavy cut-offs (model + checks): AUC {figures['auc_clean_vs_heavy_cutoff']:.3f}")
    if args.synthetic:
        figures["synthetic"] = synthetic_figures(args.synthetic, scorers, values)
        print(f"the average on {args.synthetic} (model alone): ok/retake accuracy "
              f"{figures['synthetic']['accuracy']:.1%}, SRCC {figures['synthetic']['srcc']:.3f}")
    if args.json:
        errors = {group: {"images": total[group], "shared": shared[group],
                          "wrong": {p: wrong[(group, p)] for p in args.models}} for group in total}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"errors": errors, "average": figures}, handle, indent=1)


if __name__ == "__main__":
    main()
