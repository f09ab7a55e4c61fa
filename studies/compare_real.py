"""Choose backbone width, input size and view on real photos: frozen ImageNet features, one probe each.

    .venv/bin/python studies/compare_real.py --real data/real --synth data/synth/labels.csv \
        --weights ../shared/weights [--synth-limit 3000] [--out runs/compare_real] [--only NAME]

For every candidate (MobileNetV2 alpha, input size, view) the pretrained backbone is frozen and
its pooled features are read for the `nima realset` training copies plus --synth-limit synthetic
captures; a ridge regression from the features to the label mean (the cheapest head there is) is
fitted on them and scores the real holdout, which `training.realcheck.report` judges exactly as
`nima realcheck` judges a model (ok when the predicted mean reaches 5). Latency: the backbone with
the head, converted to int8 by the real TFLite converter (50 calibration images), timed by the
LiteRT interpreter at one thread over 200 runs.

A frozen-feature probe ranks what each backbone *sees*, at minutes per candidate; it does not
predict the fine-tuned model's figures. Results go to OUT/table.md and OUT/<name>.json; a candidate
whose JSON exists is skipped, so a killed comparison simply starts again.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from nima_edge.runtime.interpreter import make_interpreter
from nima_edge.training.data import read_dataset
from nima_edge.training.model import NimaSpec, build_nima
from nima_edge.training.pipeline import cache_images
from nima_edge.training.realcheck import markdown, read_holdout, report

# name -> (alpha, input size, view, weights file)
CANDIDATES = {
    "a035-160-detail": (0.35, 160, "frame+detail", "mobilenetv2_a035_224_no_top_imagenet.h5"),
    "a035-160-frame": (0.35, 160, "frame", "mobilenetv2_a035_224_no_top_imagenet.h5"),
    "a035-224-detail": (0.35, 224, "frame+detail", "mobilenetv2_a035_224_no_top_imagenet.h5"),
    "a100-160-detail": (1.0, 160, "frame+detail", "mobilenetv2_a100_224_no_top_imagenet.h5"),
    "a100-224-detail": (1.0, 224, "frame+detail", "mobilenetv2_a100_224_no_top_imagenet.h5"),
}
RIDGE = 10.0
THRESHOLD = 5.0


def features(model, images: np.ndarray, batch: int = 64) -> np.ndarray:
    import keras

    trunk = keras.Model(model.input, model.get_layer("head_dropout").input)
    return np.concatenate([trunk.predict(np.asarray(images[i:i + batch]), verbose=0)
                           for i in range(0, len(images), batch)])


def ridge_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    w = np.linalg.solve(z.T @ z + RIDGE * len(z) / 1000 * np.eye(z.shape[1]), z.T @ (y - y.mean()))
    return (mu, sd, w), y.mean()


def int8_latency(model, images: np.ndarray) -> tuple[float, int]:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    sample = [np.asarray(images[i:i + 1]) for i in range(min(50, len(images)))]
    converter.representative_dataset = lambda: ([s] for s in sample)
    data = converter.convert()
    interpreter = make_interpreter(data, threads=1)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    times = []
    for i in range(220):
        interpreter.set_tensor(index, sample[i % len(sample)])
        start = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[20:]), len(data)


def run(name: str, args, out: Path) -> dict:
    alpha, size, view, weights = CANDIDATES[name]
    real = read_dataset(args.real / "train" / "labels.csv", "csv")
    synth = read_dataset(args.synth, "csv", limit=args.synth_limit)
    items = read_holdout(args.real / "holdout" / "labels.csv")
    holdout = read_dataset(args.real / "holdout" / "labels.csv", "csv")
    cache = out / "cache"
    model = build_nima(NimaSpec(alpha=alpha, input_size=size, view=view), args.weights / weights)
    started = time.monotonic()
    fitted_x, fitted_y = [], []
    for samples in (real, synth):
        kept, images = cache_images(samples, size, cache, view=view)
        fitted_x.append(features(model, images))
        fitted_y.append(kept.means)
    kept, images = cache_images(holdout, size, cache, view=view)
    if len(kept) != len(items):
        raise SystemExit(f"{name}: {len(items) - len(kept)} holdout images did not decode")
    held = features(model, images)
    (mu, sd, w), bias = ridge_fit(np.concatenate(fitted_x), np.concatenate(fitted_y))
    predicted = ((held - mu) / sd) @ w + bias
    figures = report(items, [(float(m), bool(m >= THRESHOLD)) for m in predicted])
    ms, size_bytes = int8_latency(model, images)
    result = {"name": name, "alpha": alpha, "input_size": size, "view": view, "probe": figures,
              "int8_ms_1thread": ms, "int8_bytes": size_bytes, "seconds": time.monotonic() - started}
    (out / f"{name}.json").write_text(json.dumps(result, indent=1))
    print(f"{name}: {markdown({'model': figures, 'model+checks': figures}).splitlines()[2]}  {ms:.2f} ms",
          flush=True)
    return result


def table(results: list[dict]) -> str:
    header = ("| candidate | clean accepted | non-docs refused | heavy refused (all / worst kind) | "
              "clean > heavy | clean > mild | AUC | int8 ms (1 thread) | int8 MB |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        f = r["probe"]
        lines.append(f"| {r['name']} | {f['clean_accepted']:.0%} | {f['nondoc_refused']:.0%} | "
                     f"{f['heavy_refused_all']:.0%} / {f['heavy_refused_min']:.0%} | "
                     f"{f.get('pairs_clean_gt_heavy', float('nan')):.0%} | "
                     f"{f.get('pairs_clean_gt_mild', float('nan')):.0%} | {f['auc']:.3f} | "
                     f"{r['int8_ms_1thread']:.2f} | {r['int8_bytes'] / 1e6:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, required=True, help="a `nima realset` output folder")
    parser.add_argument("--synth", type=Path, required=True, help="a `nima synth` labels.csv")
    parser.add_argument("--weights", type=Path, required=True, help="the folder of pretrained backbones")
    parser.add_argument("--synth-limit", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=Path("runs/compare_real"))
    parser.add_argument("--only", choices=sorted(CANDIDATES), action="append")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.only or CANDIDATES:
        done = args.out / f"{name}.json"
        results.append(json.loads(done.read_text()) if done.is_file() else run(name, args, args.out))
    text = table(results)
    (args.out / "table.md").write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
