"""What has the network learned to see? A linear probe of its pooled features, per defect.

    .venv/bin/python studies/feature_probe.py [--model models/default.keras] \
        [--data data/synth/labels.csv] [--rows 4000] [--seed 0]

Takes the first --rows captures of the training split that `nima train --seed SEED` made of --data
(so the model has seen them all), runs them through the shared preprocessing and the Keras model,
and reports per strongest defect (severity > 0.3):

  * the model's mean error against the labels (score - label) on its own training captures, and
  * how well a ridge regression from the pooled backbone features (the input of the head's
    dropout) predicts that defect's severity: fitted on three quarters of the rows, Pearson r on
    the last quarter.

A defect the model scores badly even on its training captures and that the features cannot
predict (r near 0) is one the backbone never learned to see: more epochs of the same, a loss
weight or a decision rule on the output cannot recover it; the features must change.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from nima_edge.training.data import read_dataset, split_indices
from nima_edge.training.model import DISTRIBUTION_OUTPUT, load_nima
from nima_edge.training.pipeline import cache_images

SEVERE = 0.3
RIDGE = 1.0


def _probe_model(model):
    """The model with its pooled features as a second output: one pass gives both."""
    import keras

    return keras.Model(model.input, [model.get_layer("head_dropout").input, model.output[DISTRIBUTION_OUTPUT]])


def _ridge_r(features: np.ndarray, target: np.ndarray, fit_rows: int) -> float:
    x = np.hstack([features, np.ones((len(features), 1), features.dtype)])
    fit, held = slice(0, fit_rows), slice(fit_rows, None)
    weights = np.linalg.solve(x[fit].T @ x[fit] + RIDGE * np.eye(x.shape[1]), x[fit].T @ target[fit])
    if target[held].std() == 0:
        return float("nan")
    return float(np.corrcoef(x[held] @ weights, target[held])[0, 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/default.keras"))
    parser.add_argument("--data", type=Path, default=Path("data/synth/labels.csv"))
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0, help="the training run's --seed (its split)")
    args = parser.parse_args()
    model, spec = load_nima(args.model)
    samples = read_dataset(args.data, "csv", None, None, None)
    if samples.defects is None:
        raise SystemExit(f"{args.data}: no defect_<name> columns to probe")
    # The training pipeline's own decoding: the shared preprocessing, unreadable files dropped.
    probed, images = cache_images(samples.subset(split_indices(len(samples), args.seed)[0][: args.rows]),
                                  spec.input_size, view=spec.view)
    features, distribution = _probe_model(model).predict(np.asarray(images), batch_size=64, verbose=0)
    error = distribution @ np.asarray(spec.score_values) - probed.means
    defects = probed.defects
    strongest = np.where(defects.max(1) > SEVERE, defects.argmax(1), -1)
    fit_rows = len(probed) * 3 // 4
    print(f"{args.model}: {len(probed)} training captures of {args.data} (split seed {args.seed})\n")
    print("| strongest defect | captures | mean error (score - label) | probe r (held quarter) |")
    print("|---|---|---|---|")
    print(f"| none | {np.sum(strongest == -1)} | {error[strongest == -1].mean():+.2f} | |")
    for k, name in enumerate(probed.defect_labels):
        chosen = strongest == k
        bias = f"{error[chosen].mean():+.2f}" if chosen.any() else "—"
        print(f"| {name} | {chosen.sum()} | {bias} | {_ridge_r(features, defects[:, k], fit_rows):.2f} |")


if __name__ == "__main__":
    main()
