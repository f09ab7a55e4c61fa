"""How much a model's verdicts on real pages hang on their colour: the holdout recoloured.

    .venv/bin/python studies/colour_probe.py data/real/holdout/labels.csv models/default.tflite \
        [runs/colour/model_int8.tflite ...] [--json OUT.json]

Every image of a `nima realset` holdout is scored as `nima realcheck` scores it (model + checks,
with the mirror where the model asks for it), once as it is and once under each recolouring: grey
(a greyscale scan, as many document scanners save), a warm cast and a cool one (each channel
scaled, the gains averaging 1 so a grey page keeps its brightness: tungsten light against shade).
None of them changes whether a page can be read, so a model that judges readability should give
the same verdicts under each; what moves is what the model learned of its training sources'
colours. The table (and --json) gives the clean pages, the heavy cut-offs and the non-documents,
read from realcheck.report and realcheck.clean_and_heavy_cutoff. The images are recoloured in
memory; nothing is written.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from nima_edge.runtime.errors import ImageError
from nima_edge.runtime.images import load_image
from nima_edge.runtime.policy import Assessor
from nima_edge.runtime.scorer import Scorer
from nima_edge.training.realcheck import (
    auc,
    clean_and_heavy_cutoff,
    mode_verdicts,
    percent,
    read_holdout,
    report,
)

# Channel gains in OpenCV's BGR order; each set averages 1.
CASTS = {"warm": (0.8, 1.0, 1.2), "cool": (1.2, 1.0, 0.8)}
RECOLOURINGS = ("as is", "grey", "warm", "cool")


def recolour(image: np.ndarray, how: str) -> np.ndarray:
    """``image`` (BGR uint8) as it would look saved grey or under a warm or cool light."""
    if how == "as is":
        return image
    if how == "grey":
        return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    scaled = image.astype(np.float32) * np.asarray(CASTS[how], dtype=np.float32)
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def measure(model: Path, items) -> dict:
    scorer = Scorer(model, threads=1)
    assessor = Assessor(scorer, checks=True)
    values = np.asarray(scorer.metadata.score_values, dtype=np.float64)
    # Per recolouring, one (mean, ok) per item or None, as realcheck.score_items lists them.
    scores: dict[str, list[tuple[float, bool] | None]] = {how: [] for how in RECOLOURINGS}
    for item in items:
        try:  # left out, as realcheck leaves out an image it cannot judge (undecodable, too small)
            image = load_image(item.path)
            inspected = [assessor.inspect(recolour(image, how)) for how in RECOLOURINGS]
        except ImageError:
            inspected = [None] * len(RECOLOURINGS)
        for how, seen in zip(RECOLOURINGS, inspected):
            if seen is None:
                scores[how].append(None)
                continue
            model_input, checks, _ = seen
            verdicts = mode_verdicts(scorer.score_input(model_input), checks, values, assessor.policy)
            scores[how].append(verdicts["model+checks"])
    figures = {}
    for how in RECOLOURINGS:
        figures_here = report(items, scores[how])
        clean, cut = clean_and_heavy_cutoff(items, scores[how])
        figures[how] = {
            "clean_accepted": figures_here["clean_accepted"],
            "clean_accepted_by_source": figures_here["clean_accepted_by_source"],
            "heavy_cutoffs_refused": figures_here["refused"]["cutoff"]["heavy"],
            "nondocs_refused": figures_here["nondoc_refused"],
            "auc_clean_vs_heavy_cutoff": auc(clean, cut),
            "clean_mean_score": float(np.mean(clean)),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("holdout")
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()
    items = read_holdout(args.holdout)
    results = {str(model): measure(model, items) for model in args.models}
    for model, figures in results.items():
        print(f"\n{model} (model + checks)\n")
        print("| recolouring | clean accepted | … by source | heavy cut-offs refused | non-documents refused "
              "| clean vs heavy cut-off AUC | clean pages' mean score |")
        print("|---|---|---|---|---|---|---|")
        for how, f in figures.items():
            sources = " / ".join(f"{share:.0%}" for share in f["clean_accepted_by_source"].values())
            print(f"| {how} | {f['clean_accepted']:.0%} | {sources} | {f['heavy_cutoffs_refused']:.0%} "
                  f"| {percent(f['nondocs_refused'])} | {f['auc_clean_vs_heavy_cutoff']:.3f} | {f['clean_mean_score']:.2f} |")
        print("\nsources: " + ", ".join(next(iter(figures.values()))["clean_accepted_by_source"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
