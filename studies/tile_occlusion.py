"""Which tile of a mosaic view carries a model's verdict on the pages it gets wrong: each tile greyed in turn.

    .venv/bin/python studies/tile_occlusion.py data/real/holdout/labels.csv models/default.tflite

For the holdout's clean pages and heavy cut-offs, the model alone (with its mirror when its metadata
says so) scores each input as it is and with one of the 2x2 mosaic's tiles set to grey 128, tile by
tile, and the study prints the mean change of the score per tile, over all the images of a group and
over those the model gets wrong (a clean page under the threshold, a heavy cut-off at or over it).
A grey tile is itself unlike anything trained on, so read the signs and the sizes, not the decimals.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from nima_edge.runtime.images import load_image
from nima_edge.runtime.preprocess import MOSAIC_VIEWS
from nima_edge.runtime.scorer import Scorer
from nima_edge.training.realcheck import read_holdout

TILES = ("whole frame", "detail 1", "detail 2", "detail 3 or edge")  # top left, top right, bottom left, bottom right
GREY = 128
GROUPS = {"clean": lambda item: item.group == "clean",
          "heavy cut-off": lambda item: item.degradation == "cutoff" and item.level == "heavy"}


def greyed(model_input: np.ndarray, tile: int) -> np.ndarray:
    """A copy of an (H, W, 3) mosaic input with one of its four tiles (TILES order) set to GREY."""
    copy = model_input.copy()
    height, width = copy.shape[0] // 2, copy.shape[1] // 2
    top, left = divmod(tile, 2)
    copy[top * height:(top + 1) * height, left * width:(left + 1) * width] = GREY
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("holdout", type=Path)
    parser.add_argument("model", type=Path)
    args = parser.parse_args()
    scorer = Scorer(args.model, threads=1)
    if scorer.metadata.view not in MOSAIC_VIEWS:
        raise SystemExit(f"{args.model}: view {scorer.metadata.view!r} is not a 2x2 mosaic")
    items = read_holdout(args.holdout)
    print("| group | images | " + " | ".join(f"{name} greyed: all / wrong" for name in TILES) + " |")
    print("|---|---|" + "---|" * len(TILES))
    for name, chosen in GROUPS.items():
        scores, changes = [], []
        for item in filter(chosen, items):
            model_input = scorer.prepare(load_image(item.path))
            base = scorer.score_input(model_input).mean
            scores.append(base)
            changes.append([scorer.score_input(greyed(model_input, tile)).mean - base for tile in range(len(TILES))])
        scores, changes = np.array(scores), np.array(changes)
        wrong = scores < scorer.threshold if name == "clean" else scores >= scorer.threshold
        cells = [f"{changes[:, t].mean():+.2f} / {changes[wrong, t].mean() if wrong.any() else float('nan'):+.2f}"
                 for t in range(len(TILES))]
        print(f"| {name} | {len(scores)} ({int(wrong.sum())} wrong) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
