"""`nima synth`: write synthetic prescription captures with rater-vote labels."""

from __future__ import annotations

import os
from pathlib import Path

import click

from nima_edge.cli.common import force_option, translate_errors
from nima_edge.runtime.fileio import check_writable
from nima_edge.synth.dataset import SynthConfig, Throughput, check_junk_dir, write_dataset


@click.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--count", "-n", type=click.IntRange(min=1), required=True, help="How many captures to write.")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Run seed: the same seed gives identical files."
)
@click.option(
    "--size",
    type=click.IntRange(64, 8000),
    default=None,
    help="Long side of every capture in pixels [default: drawn per capture in 1200..2000].",
)
@click.option(
    "--junk-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A folder of your own non-document photos, used for half of the junk frames.",
)
@click.option(
    "--preview",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also draw a contact sheet (sorted by score) with a histogram of label means.",
)
@click.option(
    "--workers",
    "-j",
    type=click.IntRange(min=1),
    default=min(2, os.cpu_count() or 1),
    show_default=True,
    help="Processes rendering in parallel (output does not depend on it).",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run in OUT (same settings).")
@force_option
@translate_errors
def synth(
    out: Path,
    count: int,
    seed: int,
    size: int | None,
    junk_dir: Path | None,
    preview: Path | None,
    workers: int,
    resume: bool,
    force: bool,
) -> None:
    """Write COUNT synthetic document captures to OUT/images and OUT/labels.csv.

    Each capture is a prescription (or receipt, form, letter, note) photographed on a surface,
    with graded defects (defocus, motion, exposure, glare, cut-off, low resolution, JPEG,
    scrawl), or a non-document frame; labels are ~200 simulated rater votes over scores 1..10
    plus one defect_<name> severity column per defect. See docs/synth.md for the label formula.

    \b
    Examples:
      nima synth data/synth --count 20000 --seed 1 --workers 2 --preview docs/synth_preview.png
      nima synth data/small -n 200 --size 1000 --junk-dir ~/Pictures/not-documents
    """
    if preview is not None:
        check_writable(preview, force)  # fail before an hour of rendering, not after
    junk_files = check_junk_dir(junk_dir, lambda msg: click.echo(msg, err=True)) if junk_dir else ()
    config = SynthConfig(count=count, seed=seed, size=size, junk_files=junk_files)
    meter = Throughput()
    step = max(1, count // 20)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            click.echo(meter.line(done, total), err=True)

    labels = write_dataset(out, config, workers=workers, force=force, resume=resume, progress=progress)
    click.echo(f"wrote {count} captures and {labels}")
    if preview is not None:
        from nima_edge.synth.preview import make_preview

        sheet = make_preview(labels, preview, force=force)
        click.echo(f"wrote {sheet}")
