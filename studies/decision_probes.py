"""Two ways to decide differently with the same network, probed before building either.

    .venv/bin/python studies/decision_probes.py data/real/holdout/labels.csv data/synth_test/labels.csv \
        models/default.tflite

1. **The defects head's word on cut-offs.** The model's ``defects`` output has an ``incomplete``
   sigmoid that today only names the reason for a retake. Would refusing a frame when it reaches a
   limit, whatever the mean, tell clean pages from heavy cut-offs better than the mean does? Printed:
   the clean-vs-heavy-cut-off AUC of the mean (model + checks) and of the sigmoid, and the clean
   pages accepted and heavy cut-offs refused by the shipped decision with the sigmoid rule added.
2. **More looks a frame.** The runtime averages the input and its mirror (``mirror_average``).
   The mosaic's two detail tiles can also trade places (the densest ink top right or bottom left):
   would averaging four looks (as is, mirrored, swapped, both) steady the verdicts further? Printed:
   clean pages, heavy cut-offs and heavy noise refused (model + checks), non-documents, the AUC, the
   clean-vs-cut-off AUC and the synthetic int8 accuracy, for one look, two (shipped) and four.

Each image is decoded, checked and preprocessed once; every look is a run of the same interpreter.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from nima_edge.runtime.images import load_image
from nima_edge.runtime.policy import Assessor, decide
from nima_edge.runtime.preprocess import mirror_input
from nima_edge.runtime.scorer import Score, Scorer
from nima_edge.training.data import read_datasets
from nima_edge.training.realcheck import auc, inspect_item, read_holdout

LOOK_SETS = {"one look (as is)": ("as_is",), "two looks (+ mirror, shipped)": ("as_is", "mirror"),
             "four looks (+ detail tiles swapped)": ("as_is", "mirror", "swapped", "swapped_mirror")}
INCOMPLETE_LIMITS = (0.3, 0.5, 0.7)


def swap_details(model_input: np.ndarray) -> np.ndarray:
    """The mosaic with its top-right and bottom-left tiles (the two detail tiles) traded."""
    height, width = model_input.shape[:2]
    h, w = height // 2, width // 2
    swapped = model_input.copy()
    swapped[:h, w:], swapped[h:, :w] = model_input[h:, :w], model_input[:h, w:]
    return swapped


def looks(scorer: Scorer, model_input: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    view = scorer.metadata.view
    inputs = {"as_is": model_input, "mirror": mirror_input(model_input, view), "swapped": swap_details(model_input)}
    inputs["swapped_mirror"] = mirror_input(inputs["swapped"], view)
    return {name: scorer.run(x) for name, x in inputs.items()}


def averaged(scorer: Scorer, runs: dict[str, dict[str, np.ndarray]], names: tuple[str, ...]) -> Score:
    """The Score of the mean of the named looks' outputs, as Scorer.score_input scores two."""
    return scorer.score_from_outputs({head: np.mean([runs[name][head] for name in names], axis=0)
                                      for head in runs[names[0]]})


def is_clean(item) -> bool:
    return item.group == "clean"


def is_heavy_cutoff(item) -> bool:
    return item.degradation == "cutoff" and item.level == "heavy"


def share(flags) -> str:
    return f"{np.mean(flags):.0%}" if len(flags) else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("holdout", type=Path, help="a `nima realset` holdout labels.csv")
    parser.add_argument("synthetic", type=Path, help="held-out synthetic captures' labels.csv")
    parser.add_argument("model", type=Path, help="a .tflite with a defects output, trained with flips")
    args = parser.parse_args()
    scorer = Scorer(args.model, threads=1)
    assessor = Assessor(scorer, checks=True)
    values = np.asarray(scorer.metadata.score_values, dtype=np.float64)
    real = []
    for item in read_holdout(args.holdout):
        inspected = inspect_item(item, assessor, warn=lambda message: None)
        if inspected is not None:
            _, model_input, checks = inspected
            real.append((item, checks, looks(scorer, model_input)))
    synthetic = read_datasets([args.synthetic], "csv")
    synthetic_runs = [looks(scorer, scorer.prepare(load_image(path))) for path in synthetic.paths]
    truth = np.asarray(synthetic.means) >= scorer.threshold

    def group(decisions, test):
        return [d for (item, _, _), d in zip(real, decisions) if test(item)]

    print("| looks a frame (model + checks) | clean accepted | heavy cut-offs refused | heavy noise refused | "
          "non-documents refused | AUC | clean vs heavy cut-off AUC | synthetic int8 accuracy (model alone) |")
    print("|---|---|---|---|---|---|---|---|")
    judged = {}
    for label, names in LOOK_SETS.items():
        scores = [averaged(scorer, runs, names) for _, _, runs in real]
        decisions = [decide(score, checks, values, assessor.policy) for score, (_, checks, _) in zip(scores, real)]
        judged[label] = scores, decisions
        clean, cut = group(decisions, is_clean), group(decisions, is_heavy_cutoff)
        noise = group(decisions, lambda item: item.degradation == "noise" and item.level == "heavy")
        nondoc = group(decisions, lambda item: item.group == "nondoc")
        bad = group(decisions, lambda item: item.level == "heavy" or item.group == "nondoc")
        means = np.array([averaged(scorer, runs, names).mean for runs in synthetic_runs])
        print(f"| {label} | {share([d.ok for d in clean])} | {share([not d.ok for d in cut])} | "
              f"{share([not d.ok for d in noise])} | {share([not d.ok for d in nondoc])} | "
              f"{auc([d.mean for d in clean], [d.mean for d in bad]):.3f} | "
              f"{auc([d.mean for d in clean], [d.mean for d in cut]):.3f} | "
              f"{np.mean((means >= scorer.threshold) == truth):.1%} |")

    scores, decisions = judged["two looks (+ mirror, shipped)"]
    incomplete = [score.extras.get("defects", {}).get("incomplete", float("nan")) for score in scores]
    clean = group(list(zip(decisions, incomplete)), is_clean)
    cut = group(list(zip(decisions, incomplete)), is_heavy_cutoff)
    print()
    print(f"clean vs heavy cut-off AUC: the mean (model + checks) {auc([d.mean for d, _ in clean], [d.mean for d, _ in cut]):.3f}, "
          f"the defects head's incomplete sigmoid {auc([-p for _, p in clean], [-p for _, p in cut]):.3f}")
    print("| refuse also when incomplete reaches | clean accepted | heavy cut-offs refused |")
    print("|---|---|---|")
    print(f"| (never: shipped) | {share([d.ok for d, _ in clean])} | {share([not d.ok for d, _ in cut])} |")
    for limit in INCOMPLETE_LIMITS:
        print(f"| {limit} | {share([d.ok and p < limit for d, p in clean])} | "
              f"{share([not (d.ok and p < limit) for d, p in cut])} |")


if __name__ == "__main__":
    main()
