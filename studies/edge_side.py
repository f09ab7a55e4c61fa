"""Where the edge tile goes on the real holdout's strip cut-offs, and where paper meets the frame.

    .venv/bin/python studies/edge_side.py data/real/holdout/labels.csv [--model M.tflite] \
        [--real ../shared/realdata] [--seed 0]

Asked before changing the view: would an edge tile sent to where *paper* reaches the frame (rather
than where the most ink does, runtime.preprocess.edge_window) show the model the cut of the strips
it lets through? Model-free. For every heavy strip cut-off (synth.real.cut_placement replayed, as
studies/cutoff_styles.py does), it reports whether the edge tile's side is the side the strip was
cut from, and whether the side with the largest paper share along the border (runtime.preprocess
.paper_mask over the band the edge tile reads, a quarter of a detail window deep) is. For the
clean pages it reports how often some side of the frame is mostly paper anyway: how much a "paper
reaches the frame" cue would also fire on pages that are whole. With ``--model``, the strips that
model alone accepts (its mean at or above its threshold, with its mirror where its metadata says so)
are counted apart: whether the tile already showed it the cut it let through.
"""
from __future__ import annotations

import argparse
from collections import defaultdict

import cv2
import numpy as np
from cutoff_styles import placements
from nima_edge.runtime.images import load_image
from nima_edge.runtime.preprocess import (  # private helpers: the very band and kernel the runtime reads
    _INK_KERNEL,
    EDGE_OUTSIDE_DIVISOR,
    _window_size,
    edge_window,
    paper_mask,
    search_copy,
)
from nima_edge.runtime.scorer import Scorer
from nima_edge.training.realcheck import read_holdout

TILE = (80, 80)  # the shipped model's tile: a 160-px mosaic
MOSTLY_PAPER = 0.5


def window_side(window: tuple[int, int, int, int], frame_hw: tuple[int, int]) -> str:
    """Which side of the frame an edge window reaches beyond (edge_window's (y, x, height, width))."""
    y, x, h, _ = window
    if y < 0:
        return "top"
    if y + h > frame_hw[0]:
        return "bottom"
    return "left" if x < 0 else "right"


def paper_shares(search: np.ndarray, frame_hw: tuple[int, int]) -> dict[str, float]:
    """Each side's share of paper pixels in the border band the edge tile reads."""
    grey = cv2.cvtColor(search, cv2.COLOR_BGR2GRAY)
    paper = paper_mask(search, cv2.morphologyEx(grey, cv2.MORPH_CLOSE, _INK_KERNEL))
    win_h, win_w = _window_size(frame_hw, TILE)
    to_search = search.shape[0] / frame_hw[0]
    deep_h = max(1, round(win_h * to_search) // EDGE_OUTSIDE_DIVISOR)
    deep_w = max(1, round(win_w * to_search) // EDGE_OUTSIDE_DIVISOR)
    return {"top": float(paper[:deep_h].mean()), "bottom": float(paper[-deep_h:].mean()),
            "left": float(paper[:, :deep_w].mean()), "right": float(paper[:, -deep_w:].mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels")
    parser.add_argument("--model", help="also count the strips this .tflite model alone accepts")
    parser.add_argument("--real", default="../shared/realdata", help="the real photos the set was built from")
    parser.add_argument("--seed", type=int, default=0, help="the set's `nima realset --seed`")
    args = parser.parse_args()
    cut = placements(args.real, args.seed)
    scorer = Scorer(args.model, threads=1) if args.model else None
    strips: dict[str, list[tuple[bool, bool, float, bool]]] = defaultdict(list)
    clean_mostly_paper = []
    for item in read_holdout(args.labels):
        name = item.path.relative_to(item.path.parent.parent).as_posix()
        is_strip = item.degradation == "cutoff" and item.level == "heavy" and cut[name].startswith("strip")
        if not is_strip and item.group != "clean":
            continue
        image = load_image(item.path)
        search = search_copy(image)
        shares = paper_shares(search, image.shape[:2])
        if not is_strip:
            clean_mostly_paper.append(max(shares.values()) > MOSTLY_PAPER)
            continue
        side = cut[name].split()[1]
        tile_side = window_side(edge_window(image.shape[:2], search, TILE), image.shape[:2])
        accepted = scorer is not None and scorer.score(image).mean >= scorer.threshold
        strips[side].append((tile_side == side, max(shares, key=shares.get) == side, shares[side], accepted))
    print("| strip cut off the | images | edge tile on the cut side | most-paper side is the cut side | "
          "paper share of the cut side (median) |")
    print("|---|---|---|---|---|")
    for side in sorted(strips):
        rows = strips[side]
        print(f"| {side} | {len(rows)} | {sum(r[0] for r in rows)} | {sum(r[1] for r in rows)} | "
              f"{np.median([r[2] for r in rows]):.2f} |")
    every = [r for rows in strips.values() for r in rows]
    print(f"| all | {len(every)} | {sum(r[0] for r in every)} | {sum(r[1] for r in every)} | "
          f"{np.median([r[2] for r in every]):.2f} |")
    if scorer is not None:
        passed = [r for r in every if r[3]]
        print(f"\nstrips {args.model} alone accepts: {len(passed)}; the edge tile on the cut side in "
              f"{sum(r[0] for r in passed)} of them")
    print(f"\nclean pages with a side more than {MOSTLY_PAPER:.0%} paper: "
          f"{sum(clean_mostly_paper)} of {len(clean_mostly_paper)}")


if __name__ == "__main__":
    main()
