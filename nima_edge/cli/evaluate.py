"""`nima eval`: a model's figures on a labelled set (training/evaluate.py does the work)."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import click

from nima_edge.cli.common import force_option, translate_errors
from nima_edge.runtime.errors import ModelError
from nima_edge.runtime.fileio import check_writable
from nima_edge.training.data import FORMATS
from nima_edge.training.evaluate import Predictor, evaluate_model, format_figures, plot_figures
from nima_edge.training.predict_tflite import predict_tflite


@click.command("eval")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Label file (AVA.txt, mos_with_names.txt, JSON or CSV).")
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS), help="Format of the label file.")
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of the images (default: beside the label file; see `nima train --help`).")
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N rows.")
@click.option("--threshold", type=float, help="Score at which a capture is ok (default: the model's).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option("--decision", is_flag=True,
              help=".tflite: judge the runtime's whole decision (native-resolution checks + policy, as "
                   "`nima score` decides), not the model alone; reasons given count as defects said.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Write predicted-vs-true means and histograms to this PNG (needs matplotlib).")
@force_option
@translate_errors
def eval_command(model: Path, data: Path, fmt: str, images: Path | None, limit: int | None,
                 threshold: float | None, as_json: bool, decision: bool, plot: Path | None, force: bool) -> None:
    """Evaluate a .keras or .tflite NIMA on labelled images.

    Prints EMD (r=1), LCC/SRCC of means and stds, binary accuracy, the ok/retake confusion matrix
    and, when the model and labels have defects, each reason's precision and recall.

    \b
    Example:
      nima eval runs/default/model.keras --data data/synth/labels.csv --format csv --limit 500
      nima eval models/default.tflite --data AVA.txt --format ava --images ava/images --json
      nima eval models/default.tflite --data data/synth_test/labels.csv --format csv --decision
    """
    if plot is not None:
        check_writable(plot, force)
    figures, arrays = evaluate_model(model, _predictor(model, decision), data, fmt, images, limit, threshold)
    figures["decision"] = decision
    if plot is not None:
        plot_figures(arrays, figures, plot, force)
    if as_json:
        click.echo(json.dumps(figures))
    else:
        click.echo(format_figures(figures))


def _predictor(model: Path, decision: bool) -> Predictor:
    """How this kind of model predicts. TensorFlow is imported here, and only for a .keras model
    (lazily, as the CLI imports every stage): the base install has none and evaluates a .tflite."""
    if model.suffix != ".keras":
        return functools.partial(predict_tflite, decision=decision)
    if decision:
        raise ModelError(f"{model}: --decision judges the device's decision; give the exported .tflite")
    from nima_edge.training.predict_keras import predict_keras

    return predict_keras
