"""`nima realset`: real photos as labelled training and held-out validation sets."""
from __future__ import annotations

import os
from pathlib import Path

import click

from nima_edge.cli.common import force_option, translate_errors
from nima_edge.synth.real import BLOCKY_SHARE, HOLDOUT_SOURCES, write_realset


@click.command("realset")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, default=0, show_default=True, help="The same seed gives identical files.")
@click.option("--holdout", "holdout", multiple=True, metavar="SOURCE",
              help="A source (manifest source_repo, or file-name prefix) kept out of training for validation; "
                   f"repeat for several [default: {', '.join(HOLDOUT_SOURCES)}].")
@click.option("--review", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A CSV (file, verdict, reason) of photos a person found no example of their group, left "
                   "out of both sets (models/realdata_review.csv reviews ../shared/realdata).")
@click.option("--blocky-share", type=click.FloatRange(0.0, 1.0), default=BLOCKY_SHARE, show_default=True,
              help="The share of training copies whose one damage is low resolution brought back to size by "
                   "repeating pixels (a digital zoom, an enlarged thumbnail) instead of interpolating.")
@click.option("--workers", "-j", type=click.IntRange(min=1), default=min(2, os.cpu_count() or 1), show_default=True)
@force_option
@translate_errors
def realset(src: Path, out: Path, seed: int, holdout: tuple[str, ...], review: Path | None, blocky_share: float,
            workers: int, force: bool) -> None:
    """Build OUT/train and OUT/holdout labelled sets from the real photos in SRC.

    SRC holds docs/ and nondocs/ folders, or a manifest.csv (file, group doc|nondoc, source_repo).
    Documents become clean examples plus degraded copies (defocus, motion, dark, over-exposure,
    glare, cut-off, sensor noise, JPEG, low resolution) labelled by the synthetic label formula;
    non-documents become "not a document". Whole sources go to OUT/holdout, for `nima realcheck`.

    \b
    Example:
      nima realset ../shared/realdata data/real --review models/realdata_review.csv
      nima train --data data/synth/labels.csv --data data/real/train/labels.csv --format csv ...
    """
    parts = write_realset(src, out, seed=seed, holdout=holdout or HOLDOUT_SOURCES, workers=workers, force=force,
                          warn=lambda message: click.echo(message, err=True), review=review,
                          blocky_share=blocky_share)
    for part, labels in parts.items():
        rows = sum(1 for _ in labels.open(encoding="utf-8")) - 1
        click.echo(f"{part}: {rows} images, {labels}")
