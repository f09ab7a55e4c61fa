"""`nima realcheck`: a real holdout scored as `nima score` decides (training/realcheck.py does the work)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from nima_edge.cli.common import force_option, single_pass_option, translate_errors
from nima_edge.runtime.fileio import atomic_write_text, check_writable
from nima_edge.training.realcheck import check, markdown


@click.command("realcheck")
@click.argument("labels", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A nima-edge .tflite (default: the bundled model).")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True)
@single_pass_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON instead of a table.")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON here.")
@force_option
@translate_errors
def realcheck(labels: tuple[Path, ...], model: Path | None, threads: int, single_pass: bool, as_json: bool,
              save: Path | None, force: bool) -> None:
    """Score a `nima realset` holdout as `nima score` does; report per group, kind and pair.

    Several LABELS are pooled into one report (each set's pages paired only within it).

    \b
    Example:
      nima realset ../shared/realdata data/real
      nima realcheck data/real/holdout/labels.csv --model models/default.tflite
      nima realcheck data/real/holdout/labels.csv data/registry/holdout/labels.csv   # pooled
    """
    if save is not None:
        check_writable(save, force)  # before minutes of scoring, not after
    figures = check(labels, model, threads, warn=lambda m: click.echo(m, err=True), single_pass=single_pass)
    if save is not None:
        atomic_write_text(save, json.dumps(figures, indent=1) + "\n", force=force)
    click.echo(json.dumps(figures, indent=1) if as_json else markdown(figures), nl=True)
