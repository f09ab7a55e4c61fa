"""`nima spark-score`: score an archive on Apache Spark into a Parquet table."""
from __future__ import annotations

import click

from nima_edge.cli.common import force_option, translate_errors
from nima_edge.cli.runtime import (
    EXIT_FAILED,
    EXIT_OK,
    checks_option,
    damaged_option,
    finite_number,
    model_option,
    threshold_option,
)

SPARK_HINT = "`nima spark-score` needs pyspark and Java 17: pip install 'nima-edge[spark]' (docs/spark.md)"


@click.command("spark-score")
@click.argument("paths", nargs=-1, required=True)
@click.option("--out", required=True, help="Parquet output (a folder): a local path, hdfs://... or s3a://...")
@click.option("--master", default=None,
              help="Spark master URL, e.g. local[2] or spark://host:7077 [default: spark-submit's, else local[*]].")
@model_option
@threshold_option
@checks_option
@damaged_option
@click.option("--top", type=click.IntRange(1), default=None, help="Keep the K best (as `nima rank`).")
@click.option("--min-score", type=float, default=None, callback=finite_number, help="Keep images scoring at least X.")
@force_option
@translate_errors
def spark_score(paths, out, master, model, threshold, no_checks, accept_damaged, top, min_score, force):
    """Score files, folders (walked) and globs on Spark: one row per image, `nima score --json`'s
    fields (path, mean, std, distribution, verdict, reasons, error). With --top or --min-score only
    the kept images, best first, as `nima rank` keeps them.

    Exit codes as `nima score`: 0 every image scored, 2 some could not be (their rows name the error).

    \b
    Examples:
      nima spark-score --master local[2] uploads/ --out scores.parquet
      nima spark-score 's3a://uploads/2024/*/' --out s3a://reports/keep.parquet --min-score 6
      spark-submit --master yarn nima_edge/cli/archive.py hdfs:///scans --out hdfs:///scores.parquet
    """
    try:
        from nima_edge.archive import spark as archive
    except ImportError as exc:
        raise click.ClickException(f"{SPARK_HINT} ({exc})") from None
    session = archive.spark_session(master)
    archive.check_output(session, out, force)  # before any image is scored
    scoring = archive.prepare_scoring(session, model, threshold, checks=not no_checks, accept_damaged=accept_damaged)
    scores = archive.score_files(archive.read_images(session, paths), scoring).persist()
    try:
        tally = archive.Tally.of(scores)  # scores every image once; the output below reads the cache
        kept = archive.rank(scores, top, min_score) if top is not None or min_score is not None else scores
        archive.write_scores(kept, out, force)
    finally:
        scores.unpersist()
        scoring.model.unpersist()
    click.echo(f"{tally.rows} images: {tally.rows - tally.errors} scored ({tally.retakes} retake), "
               f"{tally.errors} could not be scored -> {out}", err=True)
    raise SystemExit(EXIT_FAILED if tally.errors or tally.rows == 0 else EXIT_OK)


if __name__ == "__main__":
    # spark-submit's entry point (docs/spark.md): this file run as a script. The functions the
    # executors unpickle live in nima_edge.archive.spark, imported under its real name.
    spark_score.main(prog_name="python -m nima_edge.cli.archive")
