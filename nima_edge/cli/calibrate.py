"""`nima calibrate`: pick a representative calibration set from a folder of captures."""
from __future__ import annotations

from pathlib import Path

import click

from nima_edge.calibration.select import LONG_SIDE
from nima_edge.cli.common import force_option, translate_errors


@click.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-n", "--n", "count", type=click.IntRange(1, 100000), default=200, show_default=True,
              help="How many images to pick.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the set and its manifest.json into.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random half of the pick.")
@click.option("--coverage", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Share picked for coverage of brightness/contrast/sharpness/quality; the rest at random.")
@click.option("--scan", "scan_limit", type=click.IntRange(1), default=2000, show_default=True,
              help="Look at most at this many images of SRC, drawn at random (by --seed).")
@click.option("--long-side", type=click.IntRange(64, 8000), default=LONG_SIDE, show_default=True,
              help="Long side of the written images, px: 1024 for a frame+detail model, whose detail tiles are "
                   "cut at that scale.")
@force_option
@translate_errors
def calibrate(src: Path, count: int, out: Path, seed: int, coverage: float, scan_limit: int, long_side: int,
              force: bool) -> None:
    """Pick COUNT representative images from SRC for int8 calibration.

    Covers the range of brightness, contrast, sharpness and (when SRC has a labels.csv with a
    mean column, as `nima synth` writes) quality, defective captures included; near-duplicates
    are dropped. Images are written with a long side of --long-side px (384) as JPEG, with manifest.json
    (sources, sha256 of source and written file, the set's hash).

    \b
    Examples:
      nima calibrate data/synth --n 200 --out calibration/default --force
      nima calibrate ~/captures --n 300 --out my_calibration
    """
    from nima_edge.calibration.select import choose, drop_near_duplicates, scan, write_set

    if out.exists() and not force:
        raise click.ClickException(f"{out}: already exists (use --force to overwrite)")
    candidates = scan(src, scan_limit, seed)
    unique = drop_near_duplicates(candidates)
    if len(unique) < count:
        click.echo(f"warning: {src} has {len(unique)} distinct images, fewer than --n {count}; using all",
                   err=True)
    selected = choose(unique, count, seed=seed, coverage_share=coverage)
    manifest = write_set(selected, src, out, force,
                         settings={"n": count, "seed": seed, "coverage_share": coverage, "scan_limit": scan_limit,
                                   "scanned": len(candidates), "near_duplicates_dropped":
                                   len(candidates) - len(unique)}, long_side=long_side)
    size = sum(f.stat().st_size for f in out.iterdir())
    click.echo(f"wrote {manifest['count']} images to {out} ({size / 1e6:.1f} MB; {len(candidates)} scanned, "
               f"{len(candidates) - len(unique)} near-duplicates dropped); set sha256 {manifest['sha256'][:16]}")
