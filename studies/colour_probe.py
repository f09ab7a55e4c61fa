"""How much a model's verdicts on real pages hang on their colour: the holdout recoloured.

    .venv/bin/python studies/colour_probe.py data/real/holdout/labels.csv models/default.tflite \
        [runs/colour/model_int8.tflite ...] [--json OUT.json]

The clean pages, the heavy cut-offs and the non-documents of a `nima realset` holdout are scored as
`nima realcheck` scores them (model + checks, with the mirror where the model asks for it), once as
they are and once under each recolouring: grey (a greyscale scan, as many document scanners save),
a warm cast and a cool one (each channel scaled, the gains averaging 1 so a grey page keeps its
brightness: tungsten light against shade). None of them changes whether a page can be read, so a
model that judges readability should give the same verdicts under each; what moves is what the
model learned of its training sources' colours. The images are recoloured in memory; nothing is
written.
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
from nima_edge.training.realcheck import auc, mode_verdicts, read_holdout

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


def group_of(item) -> str | None:
    if item.group == "clean":
        return "clean"
    if item.degradation == "cutoff" and item.level == "heavy":
        return "heavy_cutoff"
    if item.group == "nondoc":
        return "nondoc"
    return None


def measure(model: Path, items) -> dict:
    scorer = Scorer(model, threads=1)
    assessor = Assessor(scorer, checks=True)
    values = np.asarray(scorer.metadata.score_values, dtype=np.float64)
    verdicts = {how: {"clean": [], "heavy_cutoff": [], "nondoc": []} for how in RECOLOURINGS}
    clean_sources: dict[str, dict[str, list[bool]]] = {how: {} for how in RECOLOURINGS}
    for item in items:
        group = group_of(item)
        if group is None:
            continue
        try:  # left out, as realcheck leaves out an image it cannot judge (undecodable, too small)
            image = load_image(item.path)
            inspected = [assessor.inspect(recolour(image, how)) for how in RECOLOURINGS]
        except ImageError:
            continue
        for how, (model_input, checks, _) in zip(RECOLOURINGS, inspected):
            mean, ok = mode_verdicts(scorer.score_input(model_input), checks, values, assessor.policy)["model+checks"]
            verdicts[how][group].append((mean, ok))
            if group == "clean":
                clean_sources[how].setdefault(item.source, []).append(ok)
    figures = {}
    for how in RECOLOURINGS:
        clean, cut, nondoc = (verdicts[how][g] for g in ("clean", "heavy_cutoff", "nondoc"))
        figures[how] = {
            "clean_accepted": float(np.mean([ok for _, ok in clean])),
            "clean_accepted_by_source": {s: float(np.mean(oks)) for s, oks in sorted(clean_sources[how].items())},
            "heavy_cutoffs_refused": float(np.mean([not ok for _, ok in cut])),
            "nondocs_refused": float(np.mean([not ok for _, ok in nondoc])),
            "auc_clean_vs_heavy_cutoff": auc([m for m, _ in clean], [m for m, _ in cut]),
            "clean_mean_score": float(np.mean([m for m, _ in clean])),
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
                  f"| {f['nondocs_refused']:.0%} | {f['auc_clean_vs_heavy_cutoff']:.3f} | {f['clean_mean_score']:.2f} |")
        print("\nsources: " + ", ".join(next(iter(figures.values()))["clean_accepted_by_source"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
