"""`nima bench`: size and latency of each export format (export/bench.py does the work)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from nima_edge.cli.common import translate_errors
from nima_edge.export.bench import TFLITE_FORMATS, BenchRow, markdown_table, run_bench
from nima_edge.export.formats import ExportError


@click.command()
@click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Keras NIMA to bench [default: models/default.keras, runs/default/model.keras, or an "
                   "untrained MobileNetV2 NIMA].")
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Images to run [default: the shipped calibration set].")
@click.option("--count", type=click.IntRange(5, 10000), default=100, show_default=True,
              help="How many images each path runs.")
@click.option("--threads", "threads", type=click.IntRange(1, 64), multiple=True, default=(1, 2), show_default=True,
              help="Interpreter/TensorFlow thread counts to run (repeat the option).")
@click.option("--formats", default=",".join(TFLITE_FORMATS), show_default=True,
              help="Comma-separated TFLite formats to include.")
@click.option("--warmup", type=click.IntRange(0, 100), default=5, show_default=True, help="Untimed runs first.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of the table.")
@translate_errors
def bench(model: Path | None, images: Path | None, count: int, threads: tuple[int, ...], formats: str,
          warmup: int, as_json: bool) -> None:
    """Benchmark Keras float against TFLite float32/float16/dynamic/int8 on the same images.

    Each path runs in its own process: median and p95 latency per image, sequential throughput,
    peak RSS, file size, and ratios to Keras float at the same thread count; the classic
    variance-of-Laplacian sharpness check is timed for context.

    \b
    Examples:
      nima bench
      nima bench --model runs/default/model.keras --images data/val --json > bench.json
    """
    from nima_edge.export.convert import default_calibration_dir

    chosen = tuple(f.strip() for f in formats.split(",") if f.strip())
    for name in chosen:
        if name not in TFLITE_FORMATS:
            raise ExportError(f"--formats: {name!r} cannot be benchmarked; choose from {', '.join(TFLITE_FORMATS)}")
    start = time.perf_counter()
    report = run_bench(model, images or default_calibration_dir(), count, tuple(sorted(set(threads))), warmup,
                       chosen)
    report["seconds"] = round(time.perf_counter() - start, 1)
    if as_json:
        click.echo(json.dumps(report, indent=1))
        return
    rows = [BenchRow(**r) for r in report["rows"]]
    m = report["machine"]
    click.echo(f"model: {report['model']} ({report['input_size'][0]} px); {report['count']} images from "
               f"{report['images']}")
    click.echo(f"machine: {m['cpu']}, {m['cores']} cores, load {m['load_average_at_start'][0]:.2f} at start")
    click.echo(markdown_table(rows))
    batched = ", ".join(f"{t} thread(s): {v:.1f}" for t, v in report["keras_batched_per_s"].items())
    click.echo(f"Keras predict() batched throughput, images/s: {batched}")
