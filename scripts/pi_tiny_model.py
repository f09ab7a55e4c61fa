"""Build a tiny NIMA-shaped .tflite for checks that must not wait for the shipped model.

    python scripts/pi_tiny_model.py OUT.tflite [--size 32] [--defects] [--seed 0] [--int8]

The model has the real contract: one uint8 input named "image" (1, H, W, 3, raw RGB pixels),
a "distribution" output (softmax over 10 score bins) and, with --defects, a "defects" output
(sigmoids, one per runtime.defects.DEFECTS label); the metadata is embedded with the runtime's
own embed_metadata. Its weights are random but fixed by --seed, and the layers look at colour and
edges, so different images get different distributions (a constant output would prove nothing).
Needs TensorFlow (the [train] extra): it runs on the build host, never on the device.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")


def build_keras_model(size: int, defects: bool, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    image = keras.Input(shape=(size, size, 3), dtype="uint8", name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(layers.Lambda(lambda t: keras.ops.cast(t, "float32"))(image))
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    # Large-ish weights so the softmax is not nearly uniform for every input.
    init = keras.initializers.RandomNormal(stddev=4.0, seed=seed)
    outputs = {"distribution": layers.Dense(10, activation="softmax", kernel_initializer=init, name="distribution")(x)}
    if defects:
        from nima_edge.runtime.defects import DEFECTS

        outputs["defects"] = layers.Dense(len(DEFECTS), activation="sigmoid", kernel_initializer=init,
                                          name="defects")(x)
    return keras.Model(image, outputs, name="tiny_nima")


def convert(model, int8: bool = False) -> bytes:
    """float32, or full int8 with raw uint8 pixels in (as `nima export --format int8` ships)."""
    import numpy as np
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        size = int(model.inputs[0].shape[1])
        rng = np.random.default_rng(0)

        def representative():
            for _ in range(16):
                # Smooth random images: flat noise would calibrate the ranges for noise only.
                small = rng.integers(0, 256, (1, 4, 4, 3)).astype(np.float32)
                yield [np.clip(tf.image.resize(small, (size, size)).numpy(), 0, 255).astype(np.uint8)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
    return converter.convert()


def make_tiny_model(out: Path, size: int = 32, defects: bool = False, seed: int = 0, int8: bool = False) -> Path:
    """Write the tiny model with metadata to ``out`` (overwriting) and return the path."""
    from nima_edge.runtime.defects import DEFECTS
    from nima_edge.runtime.metadata import ModelMetadata, embed_metadata

    model = build_keras_model(size, defects, seed)
    metadata = ModelMetadata(
        input_size=(size, size),
        name="tiny-test-model",
        quantization="int8" if int8 else "float32",
        extra_outputs={"defects": DEFECTS} if defects else {},
        training={"note": f"random weights (seed {seed}); a test fixture, not a quality model"},
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(embed_metadata(convert(model, int8), metadata))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--defects", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--int8", action="store_true", help="full int8 with uint8 input")
    args = parser.parse_args(argv)
    path = make_tiny_model(args.out, args.size, args.defects, args.seed, args.int8)
    print(f"{path}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
