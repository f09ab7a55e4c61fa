"""What scoring each frame with its mirror changes, model by model: one pass against two.

    .venv/bin/python studies/mirror_gain.py data/real/holdout/labels.csv data/synth_test/labels.csv \
        models/default.tflite runs/edge32/model_int8.tflite [...] [--json OUT.json]

Each model is written twice to a temporary folder, its metadata's ``mirror_average`` set false and
true (the flatbuffer untouched), and each copy is measured as `nima realcheck` and `nima eval`
measure a model: on the real holdout, model + checks (clean pages accepted, heavy cut-offs and
heavy sensor noise refused, AUC) and on the synthetic held-out captures (ok/retake accuracy and
SRCC of the means, model alone). A model must have been trained on mirrored copies (the flip
augmentation) for its mirror to mean anything.

It also reports, for the two-pass copy, how far the clean pages and the heavy cut-offs overlap in
score: their AUC, and what a threshold that accepts 95% of clean pages would refuse of the heavy
cut-offs (and what one refusing 90% of them would accept of the clean pages): whether the
threshold or the ranking stands between the model and both targets.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from nima_edge.runtime.metadata import embed_metadata, read_metadata
from nima_edge.runtime.scorer import Scorer, mean_std
from nima_edge.training.data import read_datasets
from nima_edge.training.metrics import binary_accuracy, srcc
from nima_edge.training.predict_tflite import predict_tflite
from nima_edge.training.realcheck import auc, clean_and_heavy_cutoff, read_holdout, report, score_items

CLEAN_TARGET, CUTOFF_TARGET = 0.95, 0.90  # the clean-acceptance and heavy-refusal targets


def with_mirror(model: Path, mirror_average: bool, folder: Path) -> Path:
    """A copy of ``model`` whose metadata says ``mirror_average``."""
    copy = folder / f"{model.parent.name}-{model.stem}-{'mirror' if mirror_average else 'once'}.tflite"
    metadata = read_metadata(model).replace(mirror_average=mirror_average)
    copy.write_bytes(embed_metadata(model.read_bytes(), metadata))  # replaces the archive there
    return copy


def overlap(items, scores) -> dict:
    """How the clean pages' and the heavy cut-offs' scores (model + checks) overlap."""
    clean, cut = (np.array(means) for means in clean_and_heavy_cutoff(items, scores))
    clean_threshold = float(np.quantile(clean, 1 - CLEAN_TARGET))
    cut_threshold = float(np.quantile(cut, CUTOFF_TARGET))
    return {"auc_clean_vs_heavy_cutoff": auc(clean, cut),
            "threshold_accepting_95pct_clean": clean_threshold,
            "heavy_cutoffs_refused_there": float(np.mean(cut < clean_threshold)),
            "threshold_refusing_90pct_cutoffs": cut_threshold,
            "clean_accepted_there": float(np.mean(clean >= cut_threshold))}


def measure(model: Path, items, synthetic) -> dict:
    scores = score_items(items, Scorer(model, threads=1), warn=lambda message: None)["model+checks"]
    figures = report(items, scores)
    kept, distributions, _, view = predict_tflite(model, synthetic)
    means, _ = mean_std(distributions, np.asarray(view.score_values))
    truth = np.asarray(kept.means)
    return {"clean_accepted": figures["clean_accepted"], "heavy_cutoff_refused": figures["refused"]["cutoff"]["heavy"],
            "heavy_noise_refused": figures["refused"]["noise"]["heavy"], "auc": figures["auc"],
            "synthetic_accuracy": binary_accuracy(truth, means, view.threshold), "synthetic_srcc": srcc(means, truth),
            **overlap(items, scores)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("holdout", type=Path, help="a `nima realset` holdout labels.csv")
    parser.add_argument("synthetic", type=Path, help="held-out synthetic captures' labels.csv")
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    items = read_holdout(args.holdout)
    synthetic = read_datasets([args.synthetic], "csv")
    results = {}
    print("| model + checks, one pass → with the mirror | clean accepted | heavy cut-offs refused | heavy noise "
          "refused | AUC | synthetic accuracy | synthetic SRCC | clean vs heavy cut-off AUC (mirror) |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="nima-mirror-") as folder:
        for model in args.models:
            once, both = (measure(with_mirror(model, flag, Path(folder)), items, synthetic) for flag in (False, True))
            results[str(model)] = {"one_pass": once, "mirror": both}
            cells = [f"{once[key]:{form}} → {both[key]:{form}}" for key, form in (
                ("clean_accepted", ".0%"), ("heavy_cutoff_refused", ".0%"), ("heavy_noise_refused", ".0%"),
                ("auc", ".3f"), ("synthetic_accuracy", ".1%"), ("synthetic_srcc", ".3f"))]
            print(f"| {model} | {' | '.join(cells)} | {both['auc_clean_vs_heavy_cutoff']:.3f} |", flush=True)
    for model, result in results.items():
        both = result["mirror"]
        print(f"{model}: accepting 95% of clean pages needs a threshold of {both['threshold_accepting_95pct_clean']:.2f}, "
              f"which refuses {both['heavy_cutoffs_refused_there']:.0%} of heavy cut-offs; refusing 90% of them needs "
              f"{both['threshold_refusing_90pct_cutoffs']:.2f}, which accepts {both['clean_accepted_there']:.0%} of "
              f"clean pages")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
