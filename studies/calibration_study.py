"""How int8 fidelity moves with the calibration set's size and composition (calibration/README.md).

    python studies/calibration_study.py --model M.keras --pool data/calibration_pool \
        --val data/calibration_val [--sizes 10,50,200,500] [--good-only-n 100] [--json OUT]

For each calibration set the Keras model is converted to post-training int8 and scored against
Keras on the same validation images (the export's own fidelity code). Sets: ``nima calibrate``'s
selection (coverage + random) at each size; and, at one size, the same selection against only
good captures (label mean >= 6) and a random draw, so composition is compared at equal size.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from nima_edge.calibration.select import choose, describe, drop_near_duplicates, read_label_means, scan
from nima_edge.export.convert import ImageSet, convert, load_image_set
from nima_edge.export.fidelity import compare, keras_distributions, tflite_distributions
from nima_edge.export.formats import FORMATS
from nima_edge.runtime.images import load_image
from nima_edge.runtime.metadata import ModelMetadata
from nima_edge.runtime.preprocess import preprocess
from nima_edge.runtime.scorer import mean_std

log = logging.getLogger(__name__)

GOOD_MEAN = 6.0
DARK = 70.0  # mean luma below which a validation frame counts as dark


def image_set(candidates, spec) -> ImageSet:
    paths = tuple(c.path for c in candidates)
    return ImageSet(paths, np.stack([preprocess(load_image(p), spec.input_hw, spec.resize, spec.view) for p in paths]))


def measure(model, spec, calibration: ImageSet, validation: ImageSet, reference: np.ndarray,
            subsets: dict[str, np.ndarray] | None = None) -> dict:
    start = time.perf_counter()
    model_bytes = convert(model, FORMATS["int8"], calibration)
    metadata = ModelMetadata(score_values=tuple(spec.score_values), input_size=spec.input_hw, view=spec.view,
                             threshold=float(spec.threshold), quantization="int8")
    candidate, latency = tflite_distributions(model_bytes, metadata, validation.inputs)
    report = compare(reference, candidate, spec.score_values, spec.threshold, len(model_bytes), latency)
    row = {k: v for k, v in report.to_dict().items()
           if k in ("srcc", "lcc", "mean_abs_delta", "median_abs_delta", "max_abs_delta", "mean_emd", "agreement")}
    values = np.asarray(spec.score_values)
    delta = np.abs(mean_std(reference, values)[0] - mean_std(candidate, values)[0])
    for name, mask in (subsets or {}).items():  # where a narrow calibration set should hurt
        row[f"median_abs_delta_{name}"] = float(np.median(delta[mask])) if mask.any() else None
    row["calibration_images"] = len(calibration)
    row["seconds"] = round(time.perf_counter() - start, 1)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--pool", required=True, type=Path, help="folder of candidate captures (with labels.csv)")
    parser.add_argument("--val", required=True, type=Path, help="folder of validation captures")
    parser.add_argument("--sizes", default="10,50,200,500")
    parser.add_argument("--good-only-n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from nima_edge.training.model import load_nima

    model, spec = load_nima(args.model)
    unique = drop_near_duplicates(scan(args.pool))
    validation = load_image_set(args.val, spec.input_hw, spec.resize, "validation", spec.view)
    reference = keras_distributions(model, validation.inputs)
    # Validation subsets: dark frames and captures rated for a retake (label mean < 4).
    brightness = np.array([describe(load_image(p))[0] for p in validation.paths])
    labels = read_label_means(args.val.parent if args.val.name == "images" else args.val)
    rated = np.array([labels.get(p.resolve(), np.nan) for p in validation.paths])
    subsets = {"dark": brightness < DARK, "poor": rated < 4.0, "good": rated >= GOOD_MEAN}
    log.info("validation subsets: %s", {k: int(v.sum()) for k, v in subsets.items()})
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        chosen = choose(unique, n, seed=args.seed)
        rows.append({"set": f"full range, n={len(chosen)}", **measure(model, spec, image_set(chosen, spec),
                                                                       validation, reference, subsets)})
        log.info("%s", rows[-1])
    good = [c for c in unique if c.quality is not None and c.quality >= GOOD_MEAN]
    n = min(args.good_only_n, len(good))
    rng = np.random.default_rng(args.seed)
    compositions = {
        f"good only (label mean >= {GOOD_MEAN:g}), n={n}": choose(good, n, seed=args.seed),
        f"full range (nima calibrate), n={n}": choose(unique, n, seed=args.seed),
        f"random from the pool, n={n}": [unique[i] for i in sorted(rng.choice(len(unique), n, replace=False))],
    }
    dark = [c for c in unique if c.brightness < DARK]
    if len(dark) >= 10:  # the other extreme: only under-exposed captures
        compositions[f"dark only (luma < {DARK:g}), n={min(n, len(dark))}"] = choose(dark, min(n, len(dark)),
                                                                                    seed=args.seed)
    for name, chosen in compositions.items():
        rows.append({"set": name, **measure(model, spec, image_set(chosen, spec), validation, reference, subsets)})
        log.info("%s", rows[-1])
    result = {"model": str(args.model), "pool": str(args.pool), "validation": str(args.val),
              "validation_images": len(validation), "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(markdown(rows))


def markdown(rows: list[dict]) -> str:
    lines = [("| calibration set | SRCC | LCC | median abs Δ mean | ... on dark | ... on poor | ... on good | "
              "max abs Δ mean | mean EMD | agreement |"), "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def cell(value):
        return "-" if value is None else f"{value:.4f}"

    for r in rows:
        lines.append(f"| {r['set']} | {r['srcc']:.4f} | {r['lcc']:.4f} | {r['median_abs_delta']:.4f} | "
                     f"{cell(r.get('median_abs_delta_dark'))} | {cell(r.get('median_abs_delta_poor'))} | "
                     f"{cell(r.get('median_abs_delta_good'))} | {r['max_abs_delta']:.4f} | {r['mean_emd']:.4f} | "
                     f"{r['agreement']:.1%} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
