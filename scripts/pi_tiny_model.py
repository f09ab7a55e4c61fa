"""Build a tiny NIMA-shaped .tflite for checks that must not wait for the shipped model.

    python scripts/pi_tiny_model.py OUT.tflite [--size 32] [--defects] [--seed 0] [--int8]

The model has the real contract: one uint8 input named "image" (1, H, W, 3, raw RGB pixels),
a "distribution" output (softmax over 10 score bins) and, with --defects, a "defects" output
(sigmoids, one per runtime.defects.DEFECTS label); the metadata is embedded with the runtime's
own embed_metadata. Its weights are random but fixed by --seed, and the layers look at colour and
edges, so different images get different distributions (a constant output would prove nothing).
The builder is nima_edge.export.tiny_models.write_random_nima, which the tests use too.
Needs TensorFlow (the [train] extra): it runs on the build host, never on the device.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")


def main(argv: list[str] | None = None) -> int:
    # Here, not at the top: tiny_models imports TensorFlow, which reads the settings above at import.
    from nima_edge.export.tiny_models import write_random_nima

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--defects", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--int8", action="store_true", help="full int8 with uint8 input")
    args = parser.parse_args(argv)
    path = write_random_nima(args.out, args.size, args.defects, args.seed, args.int8)
    print(f"{path}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
