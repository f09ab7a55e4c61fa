"""Which cut-offs a model lets through: the real holdout's cut-off copies by how they were cut.

    .venv/bin/python studies/cutoff_styles.py data/real/holdout/labels.csv A.tflite [B.tflite ...] \
        [--real ../shared/realdata] [--seed 0] [--json OUT.json]

`nima realset` cuts each holdout page one of three ways (synth.real.CUTOFF_STYLES): a strip off one
side of its text, only a corner, or a close-up with no page edge. Which one a copy got follows from
its seed, so the photos (REAL, the folder the set was built from, and the set's SEED) are needed
to replay synth.real.cut_placement; the images themselves are not re-made. Reported: for every
style (strips by the side they take away) at mild and heavy, how many copies and the share each
model refuses with the runtime's checks, as `nima score` decides (`nima realcheck`'s
"model + checks").
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np
from nima_edge.runtime.scorer import Scorer
from nima_edge.synth.real import cut_placement, plan, read_photos
from nima_edge.training.realcheck import read_holdout, score_items


def placements(real: str, seed: int) -> dict[str, str]:
    """{holdout copy name: "strip top" | "corner" | "closeup" ...} of the set built from REAL with SEED."""
    out = {}
    for copy in plan(read_photos(real), seed)["holdout"]:
        if copy.kinds and copy.kinds[0][0] == "cutoff":
            style, side = cut_placement(np.random.default_rng(copy.seed))
            out[copy.name] = f"strip {side}" if style == "strip" else style
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--real", default="../shared/realdata", help="the real photos the set was built from")
    parser.add_argument("--seed", type=int, default=0, help="the set's `nima realset --seed`")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    cut = placements(args.real, args.seed)
    items = [i for i in read_holdout(args.labels) if i.degradation == "cutoff"]
    names = [i.path.relative_to(i.path.parent.parent).as_posix() for i in items]
    missing = [n for n in names if n not in cut]
    if missing:
        raise SystemExit(f"{args.labels}: {len(missing)} cut-off copies (e.g. {missing[0]}) are not in the set "
                         f"built from {args.real} with seed {args.seed}")
    refused: dict[tuple[str, str, str], list[bool]] = defaultdict(list)
    for model in args.models:
        verdicts = score_items(items, Scorer(model, threads=1), warn=lambda message: None)["model+checks"]
        for item, name, verdict in zip(items, names, verdicts):
            if verdict is not None:
                refused[(model, cut[name], item.level)].append(not verdict[1])
    groups = sorted({(style, level) for _, style, level in refused})
    print("| cut | level | images | " + " | ".join(f"refused: {m}" for m in args.models) + " |")
    print("|---|---|---|" + "---|" * len(args.models))
    for style, level in groups:
        shares = [refused[(m, style, level)] for m in args.models]
        cells = " | ".join(f"{np.mean(s):.0%}" for s in shares)
        print(f"| {style} | {level} | {len(shares[0])} | {cells} |")
    if args.json:
        figures = {f"{style} {level}": {m: float(np.mean(refused[(m, style, level)])) for m in args.models}
                   | {"images": len(refused[(args.models[0], style, level)])} for style, level in groups}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=1)


if __name__ == "__main__":
    main()
