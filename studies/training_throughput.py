"""Measure training throughput (images/s) of backbone/alpha/size choices on cached inputs.

    python studies/training_throughput.py --steps 6 --warmup 2 \\
        --config mobilenet_v2:0.35 --config mobilenet_v3_small:1.0 --sizes 128,160,224

Each configuration: the real NIMA, compiled as `nima train` compiles it (Adam, all layers, EMD
loss), fed uint8 batches of 32 from the same tf.data pipeline as training (cached images,
flip augmentation). The first ``warmup`` steps (tracing) are not timed. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import time

import keras
import numpy as np
from nima_edge.training.config import TrainConfig
from nima_edge.training.dataset import make_dataset
from nima_edge.training.model import build_nima, set_batchnorm_momentum
from nima_edge.training.optimizers import compile_model
from nima_edge.training.spec import NimaSpec


def measure(backbone: str, alpha: float, size: int, batch: int, steps: int, warmup: int) -> tuple[float, float]:
    """-> (images per wall-clock second, images per CPU-second of this process).

    The machine is shared: wall-clock rates fall when others run, while CPU time spent per image
    barely moves, so the CPU rate (times the cores) is the fairer comparison between choices.
    """
    keras.backend.clear_session()
    model = build_nima(NimaSpec(backbone=backbone, alpha=alpha, input_size=size))
    set_batchnorm_momentum(model, 0.99)
    config = TrainConfig(data="unused.csv", format="csv", backbone=backbone, alpha=alpha, input_size=size,
                         batch_size=batch)
    compile_model(model, config, phase=2, steps_per_epoch=steps, with_defects=False)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (batch * 4, size, size, 3), dtype=np.uint8)
    targets = {"distribution": rng.dirichlet(np.ones(10), size=batch * 4).astype(np.float32)}
    dataset = make_dataset(images, targets, size, batch, augment="flip", shuffle=True).repeat()
    model.fit(dataset, epochs=1, steps_per_epoch=warmup, verbose=0, shuffle=False)
    started, cpu_started = time.perf_counter(), time.process_time()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return steps * batch / wall, steps * batch / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", help="backbone:alpha (repeatable)")
    parser.add_argument("--sizes", default="128,160,224")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    configs = args.config or ["mobilenet_v2:0.35", "mobilenet_v2:0.5", "mobilenet_v2:1.0",
                              "mobilenet_v3_small:0.75", "mobilenet_v3_small:1.0"]
    sizes = [int(s) for s in args.sizes.split(",")]
    print("images/s wall-clock (images per CPU-second) with batch", args.batch)
    print("| backbone | alpha | " + " | ".join(f"{s} px" for s in sizes) + " |")
    print("|---|---|" + "---|" * len(sizes))
    for item in configs:
        backbone, alpha = item.split(":")
        rates = [measure(backbone, float(alpha), size, args.batch, args.steps, args.warmup) for size in sizes]
        print(f"| {backbone} | {alpha} | " + " | ".join(f"{w:.1f} ({c:.1f})" for w, c in rates) + " |", flush=True)


if __name__ == "__main__":
    main()
