"""`nima export`: Keras NIMA -> .tflite with metadata and a fidelity gate."""
from __future__ import annotations

import logging
from pathlib import Path

import click

from nima_edge.cli.common import force_option, translate_errors
from nima_edge.export.fidelity import Gates
from nima_edge.export.formats import (
    FLOAT_STEM_OPS,
    FORMATS,
    QatOptions,
    check_options,
    format_table_markdown,
    get_format,
)

log = logging.getLogger(__name__)



def _given(ctx: click.Context) -> set[str]:
    """Options the user typed (not defaults): only these are checked against the format."""
    skip = {"model", "format_name", "out"}
    return {name for name in ctx.params if name not in skip
            and ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT}


@click.command(epilog="Formats:\n\n" + format_table_markdown().replace("\n", "\n\n"))
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "format_name", required=True, metavar="|".join(FORMATS),
              help="Output format (see the table below).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The .tflite to write; the fidelity report goes beside it (.fidelity.json/.md).")
@click.option("--calibration", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="int8/qat-int8: folder of calibration images [default: the shipped calibration/default].")
@click.option("--batch-size", type=click.IntRange(1, 1024), default=8, show_default=True,
              help="int8/qat-int8: batch size; a calibration set smaller than this is refused.")
@click.option("--float-stem", type=click.IntRange(0, 10_000), default=FLOAT_STEM_OPS, show_default=True,
              help="int8: how many of the graph's first ops stay float (0: int8 throughout); the stem's "
                   "wide activation ranges cost the most fidelity when quantized.")
@click.option("--val", type=click.Path(exists=True, path_type=Path),
              help="Validation images (folder) or label file; default: images held out of the calibration "
                   "set (float formats: the whole default set).")
@click.option("--val-format", type=click.Choice(["ava", "tid2013", "json", "csv"]), default="csv",
              show_default=True, help="Format of a --val label file.")
@click.option("--data", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="qat-int8: labelled training data for quantization-aware fine-tuning "
                   "[default: distil the Keras model on the calibration images].")
@click.option("--data-format", type=click.Choice(["ava", "tid2013", "json", "csv"]), default="csv",
              show_default=True, help="qat-int8: format of --data.")
@click.option("--epochs", type=click.IntRange(1, 1000), default=QatOptions.epochs, show_default=True,
              help="qat-int8: fine-tuning epochs.")
@click.option("--learning-rate", type=click.FloatRange(0, 1, min_open=True), default=QatOptions.learning_rate,
              show_default=True,
              help="qat-int8: fine-tuning learning rate.")
@click.option("--min-srcc", type=float, default=Gates.min_srcc, show_default=True, help="Gate: least SRCC of means.")
@click.option("--max-median-delta", type=float, default=Gates.max_median_delta, show_default=True,
              help="Gate: largest median |Δ mean| against Keras.")
@click.option("--min-agreement", type=float, default=Gates.min_agreement, show_default=True,
              help="Gate: least share of equal ok/retake verdicts.")
@click.option("--no-gate", is_flag=True, help="Report the fidelity figures but never fail on them.")
@force_option
@click.pass_context
@translate_errors
def export(ctx: click.Context, model: Path, format_name: str, out: Path, calibration: Path | None,
           batch_size: int, float_stem: int, val: Path | None, val_format: str, data: Path | None, data_format: str,
           epochs: int, learning_rate: float, min_srcc: float, max_median_delta: float,
           min_agreement: float, no_gate: bool, force: bool) -> None:
    """Convert a Keras NIMA to TFLite, check it against Keras, embed metadata.

    The exported model scores a validation set next to the Keras model; the report (SRCC, LCC,
    |Δ mean|, EMD, verdict agreement, size, latency) is written beside the model and inside its
    metadata. The command exits 1 when a gate is missed (the files are still written, marked
    "passed": false), unless --no-gate.

    \b
    Examples:
      nima export runs/default/model.keras --format int8 --out model_int8.tflite
      nima export model.keras --format float16 --out m16.tflite --val data/val/
      nima export model.keras --format qat-int8 --data data/synth/labels.csv --out m_qat.tflite
    """
    from nima_edge.export.pipeline import ExportRequest, run_export

    fmt = get_format(format_name)
    check_options(fmt, _given(ctx))
    request = ExportRequest(
        model=model, fmt=fmt, out=out, calibration=calibration, val=val, val_format=val_format,
        batch_size=batch_size, gates=Gates(min_srcc, max_median_delta, min_agreement), gate=not no_gate,
        force=force, float_stem=float_stem,
        qat={"data": data, "data_format": data_format, "epochs": epochs, "learning_rate": learning_rate}
        if fmt.quantization_aware else {},
    )
    result = run_export(request)
    r = result.report
    click.echo(f"wrote {result.out} ({r.size_bytes / 1e6:.2f} MB, {fmt.name}) in {result.seconds:.1f} s")
    click.echo(f"fidelity on {r.images} images: SRCC {r.srcc:.4f}, LCC {r.lcc:.4f}, median |Δ mean| "
               f"{r.median_abs_delta:.4f} (max {r.max_abs_delta:.4f}), EMD {r.mean_emd:.4f}, agreement "
               f"{r.agreement:.1%}, {r.latency_ms:.2f} ms/image at 1 thread")
    ptq = result.metadata.fidelity.get("post_training_int8")
    if ptq:
        verdict = "beats" if result.metadata.fidelity["beats_post_training_int8"] else "does not beat"
        click.echo(f"QAT {verdict} post-training int8 (median |Δ mean| {r.median_abs_delta:.4f} vs "
                   f"{ptq['median_abs_delta']:.4f}, agreement {r.agreement:.1%} vs {ptq['agreement']:.1%})")
    click.echo(f"report: {result.report_json}, {result.report_markdown}")
    if result.failures:
        raise click.ClickException("fidelity gate missed: " + "; ".join(result.failures)
                                   + " (use --no-gate to accept, or see " + str(result.report_markdown) + ")")
