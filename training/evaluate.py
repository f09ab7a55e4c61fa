"""`nima eval`: a NIMA's predictions on labelled images against their labels, with the paper's figures.

No TensorFlow here, so the base install evaluates a .tflite. The predictions come from
predict_tflite.py (the runtime's Scorer, i.e. exactly what a device would compute) or from
predict_keras.py (a .keras model, which needs TensorFlow); the command picks one by the model file.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nima_edge.runtime.errors import ModelError, NimaError
from nima_edge.runtime.fileio import atomic_output, check_writable
from nima_edge.runtime.metadata import ModelMetadata, read_metadata

from . import metrics as M
from .data import Samples, read_dataset
from .spec import read_spec

# A defect "gives a reason" when its severity (label or prediction) reaches this.
DEFECT_THRESHOLD = 0.5


@dataclass(frozen=True)
class ModelView:
    """What evaluation needs to know about any model: its scale, threshold and defect labels."""

    score_values: tuple[float, ...]
    threshold: float
    defect_labels: tuple[str, ...] = ()


# What a model predicts for labelled images: (the samples that decoded, their distributions, the
# defect outputs or None, the model's scale and labels).
Prediction = tuple[Samples, np.ndarray, np.ndarray | None, ModelView]
Predictor = Callable[[Path, Samples], Prediction]  # predict_tflite.predict_tflite, predict_keras.predict_keras


def _safe(func, x, y) -> float | None:
    try:
        value = func(x, y)
    except ValueError:
        return None
    return None if np.isnan(value) else round(float(value), 6)


def evaluate_predictions(samples: Samples, predicted: np.ndarray, model, predicted_defects: np.ndarray | None = None,
                         threshold: float | None = None, defect_threshold: float = DEFECT_THRESHOLD) -> dict:
    """Figures for predicted distributions against the samples' targets.

    ``model``: anything with score_values, threshold and defect_labels (a NimaSpec, a ModelView).
    An image is "ok" when its mean score reaches the threshold, else "retake".
    """
    values = tuple(model.score_values)
    threshold = model.threshold if threshold is None else threshold
    true = samples.targets.astype(np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    true_mean, true_std = M.mean_std(true, values)
    pred_mean, pred_std = M.mean_std(predicted, values)
    true_ok, pred_ok = true_mean >= threshold, pred_mean >= threshold
    figures = {
        "n": len(true),
        "emd": round(float(np.mean(M.emd(true, predicted, r=1))), 6),
        "lcc_mean": _safe(M.lcc, true_mean, pred_mean),
        "srcc_mean": _safe(M.srcc, true_mean, pred_mean),
        "lcc_std": _safe(M.lcc, true_std, pred_std),
        "srcc_std": _safe(M.srcc, true_std, pred_std),
        "binary_accuracy": round(M.binary_accuracy(true_mean, pred_mean, threshold), 6),
        "threshold": threshold,
        "confusion": {
            "true_ok": {"pred_ok": int(np.sum(true_ok & pred_ok)), "pred_retake": int(np.sum(true_ok & ~pred_ok))},
            "true_retake": {"pred_ok": int(np.sum(~true_ok & pred_ok)),
                            "pred_retake": int(np.sum(~true_ok & ~pred_ok))},
        },
        "mean_true": round(float(np.mean(true_mean)), 6),
        "mean_predicted": round(float(np.mean(pred_mean)), 6),
    }
    labels = tuple(getattr(model, "defect_labels", ()) or ())
    if predicted_defects is not None and samples.defects is not None and labels:
        figures["defects"] = _defect_figures(samples, np.asarray(predicted_defects), labels, defect_threshold)
    return figures


def _defect_figures(samples: Samples, predicted: np.ndarray, labels: tuple[str, ...], cut: float) -> dict:
    """Per defect: accuracy, and precision/recall of the retake reason it would give."""
    out = {}
    for j, label in enumerate(labels):
        if label not in samples.defect_labels:
            continue
        truth = samples.defects[:, samples.defect_labels.index(label)] >= cut
        said = predicted[:, j] >= cut
        tp, fp, fn = int(np.sum(truth & said)), int(np.sum(~truth & said)), int(np.sum(truth & ~said))
        out[label] = {
            "accuracy": round(float(np.mean(truth == said)), 6),
            "precision": round(tp / (tp + fp), 6) if tp + fp else None,
            "recall": round(tp / (tp + fn), 6) if tp + fn else None,
            "support": int(truth.sum()),
        }
    return out


def model_scale(path: Path) -> tuple[float, ...]:
    """The score values of a model file, read without TensorFlow, so labels are read on its scale."""
    if path.suffix == ".keras":
        return read_spec(path).score_values
    if path.suffix == ".tflite":
        return (read_metadata(path) or ModelMetadata()).score_values
    raise ModelError(f"{path}: expected a .keras or .tflite model")


def evaluate_model(model_path: str | Path, predict: Predictor, data: str | Path, fmt: str,
                   images: str | Path | None = None, limit: int | None = None,
                   threshold: float | None = None) -> tuple[dict, dict]:
    """The figures of the model at ``model_path`` as ``predict`` runs it on a labelled set
    -> (figures, arrays for plotting: true/pred means and stds)."""
    model_path = Path(model_path)
    values = model_scale(model_path)
    samples = read_dataset(data, fmt, images, values, limit)
    kept, predicted, defects, view = predict(model_path, samples)
    figures = evaluate_predictions(kept, predicted, view, defects, threshold)
    figures["model"] = str(model_path)
    figures["data"] = str(data)
    figures["skipped"] = kept.problems.to_dict()
    true_mean, _ = M.mean_std(kept.targets, view.score_values)
    pred_mean, _ = M.mean_std(predicted, view.score_values)
    return figures, {"true_mean": true_mean, "pred_mean": pred_mean, "values": view.score_values,
                     "threshold": figures["threshold"]}


def plot_figures(arrays: dict, figures: dict, path: Path, force: bool) -> None:
    """Predicted against true means, and both histograms of means, to a PNG."""
    try:  # matplotlib is optional (nima-edge[plot]), so it loads only when a plot is asked for
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise NimaError("--plot needs matplotlib: pip install 'nima-edge[plot]'") from None
    check_writable(path, force)
    values = arrays["values"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    left.scatter(arrays["true_mean"], arrays["pred_mean"], s=8, alpha=0.5)
    left.plot([values[0], values[-1]], [values[0], values[-1]], "k--", lw=0.8)
    left.axhline(arrays["threshold"], color="r", lw=0.6)
    left.axvline(arrays["threshold"], color="r", lw=0.6)
    left.set_xlabel("true mean score")
    left.set_ylabel("predicted mean score")
    left.set_title(f"LCC {_fmt(figures['lcc_mean'])}  SRCC {_fmt(figures['srcc_mean'])}  (n={figures['n']})")
    bins = np.linspace(values[0], values[-1], 31)
    right.hist(arrays["true_mean"], bins=bins, alpha=0.6, label="true")
    right.hist(arrays["pred_mean"], bins=bins, alpha=0.6, label="predicted")
    right.axvline(arrays["threshold"], color="r", lw=0.6, label="threshold")
    right.set_xlabel("mean score")
    right.legend()
    fig.tight_layout()
    with atomic_output(path, force=True) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def format_figures(figures: dict) -> str:
    c = figures["confusion"]
    lines = [
        f"model  {figures['model']}",
        f"data   {figures['data']}  (n={figures['n']})",
        f"EMD (r=1)        {figures['emd']:.4f}",
        f"LCC / SRCC mean  {_fmt(figures['lcc_mean'])} / {_fmt(figures['srcc_mean'])}",
        f"LCC / SRCC std   {_fmt(figures['lcc_std'])} / {_fmt(figures['srcc_std'])}",
        f"binary accuracy  {figures['binary_accuracy']:.3f}  (ok when mean >= {figures['threshold']:g})",
        "",
        "                 predicted ok  predicted retake",
        f"  true ok        {c['true_ok']['pred_ok']:>12}  {c['true_ok']['pred_retake']:>16}",
        f"  true retake    {c['true_retake']['pred_ok']:>12}  {c['true_retake']['pred_retake']:>16}",
    ]
    if figures.get("defects"):
        lines += ["", f"  {'reason':<14}{'precision':>10}{'recall':>8}{'support':>9}{'accuracy':>10}"]
        for label, d in figures["defects"].items():
            lines.append(f"  {label:<14}{_fmt(d['precision']):>10}{_fmt(d['recall']):>8}{d['support']:>9}"
                         f"{d['accuracy']:>10.3f}")
    return "\n".join(lines)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
