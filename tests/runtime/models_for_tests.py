"""Tiny real NIMA models for the runtime tests: Keras -> TFLite (float32 and full int8).

TensorFlow is used here (tests may), never in runtime/. The models are trained for a few steps
on generated images so that their outputs depend on the image: a constant model would make
every parity test pass vacuously. Built once and cached in the temp folder, keyed by a hash of
this file and the TensorFlow version, so a second test session starts at once.

Run as a script to (re)build the cache: ``python tests/runtime/models_for_tests.py``.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
from nima_edge.runtime.defects import DEFECTS
from nima_edge.runtime.metadata import ModelMetadata, embed_metadata

SIZE = 64
BINS = 10


def cache_dir() -> Path:
    from importlib.metadata import version  # not `import tensorflow`: a cache hit needs no TF

    key = hashlib.sha256(Path(__file__).read_bytes() + version("tensorflow").encode()).hexdigest()[:12]
    path = Path(os.environ.get("NIMA_TEST_CACHE", tempfile.gettempdir())) / f"nima-runtime-test-models-{key}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def training_images(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generated page-like images with brightness and blur that set their target score."""
    rng = np.random.default_rng(seed)
    images, dists, defects = [], [], []
    for _ in range(count):
        brightness = rng.uniform(0.15, 1.0)
        blur = rng.uniform(0.0, 3.0)
        img = np.full((SIZE, SIZE, 3), 255 * brightness, np.float32)
        for _ in range(6):  # "text" strokes
            y = int(rng.integers(8, SIZE - 8))
            x0, x1 = sorted(int(v) for v in rng.integers(4, SIZE - 4, 2))
            cv2.line(img, (x0, y), (x1 + 2, y), (20.0, 20.0, 20.0), 1)
        if blur > 0.3:
            img = cv2.GaussianBlur(img, (0, 0), blur)
        img = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
        quality = 1 + 9 * np.clip(brightness * (1 - blur / 3.5), 0, 1)
        values = np.arange(1, BINS + 1)
        dist = np.exp(-0.5 * ((values - quality) / 1.2) ** 2)
        images.append(img)
        dists.append(dist / dist.sum())
        flags = np.zeros(len(DEFECTS), np.float32)
        flags[DEFECTS.index("defocus")] = blur / 3.0
        flags[DEFECTS.index("underexposed")] = float(brightness < 0.4)
        defects.append(flags)
    return np.stack(images), np.stack(dists).astype(np.float32), np.stack(defects)


def build_keras_model():
    import keras
    from keras import layers

    inputs = keras.Input(shape=(SIZE, SIZE, 3), dtype="uint8", name="image")
    x = layers.Rescaling(1.0 / 255.0)(inputs)
    for filters in (8, 16, 24):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = {
        "distribution": layers.Dense(BINS, activation="softmax", name="distribution")(x),
        "defects": layers.Dense(len(DEFECTS), activation="sigmoid", name="defects")(x),
    }
    return keras.Model(inputs, outputs, name="tiny_nima")


def build_not_nima(channels: int, outputs: int):
    """A small classifier that is not a NIMA: wrong input channels or wrong number of outputs."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(SIZE, SIZE, channels), dtype="float32", name="image")
    x = layers.Conv2D(4, 3, strides=4, activation="relu")(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(outputs, activation="softmax")(x))


def build_dynamic_input():
    """A NIMA-shaped model whose input size is not fixed (None x None): the interpreter reports it as 1 x 1."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(None, None, 3), dtype="float32", name="image")
    x = layers.GlobalAveragePooling2D()(inputs)  # no convolution: any size, 1 x 1 included, allocates
    return keras.Model(inputs, {"distribution": layers.Dense(BINS, activation="softmax", name="distribution")(x)})


def build_broken_output(kind: str):
    """A real model whose 'distribution' is no distribution: all -1 ("negative") or NaN ("nan")."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(SIZE, SIZE, 3), dtype="uint8", name="image")
    x = layers.GlobalAveragePooling2D()(layers.Rescaling(1.0 / 255.0)(inputs))
    if kind == "nan":
        x = layers.Rescaling(float("nan"))(x)
    distribution = layers.Dense(BINS, name="distribution", kernel_initializer="zeros",
                                bias_initializer=keras.initializers.Constant(-1.0))(x)
    return keras.Model(inputs, {"distribution": distribution})


def train(model, steps: int = 320) -> None:
    import keras

    images, dists, defects = training_images(256)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss={"distribution": "kl_divergence", "defects": "binary_crossentropy"},
    )
    model.fit(images, {"distribution": dists, "defects": defects}, batch_size=32,
              epochs=max(1, steps // 8), verbose=0)


def convert(model, int8: bool) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        calibration, _, _ = training_images(32, seed=1)

        def representative():
            for img in calibration:
                yield [img[None].astype(np.uint8)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    return converter.convert()


def metadata(quantization: str) -> ModelMetadata:
    return ModelMetadata(
        input_size=(SIZE, SIZE),
        threshold=5.0,
        extra_outputs={"defects": DEFECTS},
        quantization=quantization,
        name="tiny-test-nima",
    )


def build_all(directory: Path | None = None) -> dict[str, Path]:
    """keras, float (with metadata), int8 (with metadata), bare (no metadata) model files, two
    models that are not NIMAs (wrong_output: 5 classes; wrong_input: one channel), and two whose
    output is no distribution (negative_output, nan_output), one without a fixed input size (dynamic_input)."""
    directory = directory or cache_dir()
    paths = {
        "keras": directory / "tiny.keras",
        "float": directory / "tiny_float.tflite",
        "int8": directory / "tiny_int8.tflite",
        "bare": directory / "tiny_bare.tflite",
        "wrong_output": directory / "wrong_output.tflite",
        "wrong_input": directory / "wrong_input.tflite",
        "negative_output": directory / "negative_output.tflite",
        "nan_output": directory / "nan_output.tflite",
        "dynamic_input": directory / "dynamic_input.tflite",
    }
    if all(p.exists() for p in paths.values()):
        return paths
    import keras

    keras.utils.set_random_seed(0)
    model = build_keras_model()
    train(model)
    float_bytes = convert(model, int8=False)
    int8_bytes = convert(model, int8=True)
    # Write each file through a temporary name so a killed build never leaves a half file cached.
    for path, data in (
        (paths["bare"], float_bytes),
        (paths["float"], embed_metadata(float_bytes, metadata("float32"))),
        (paths["int8"], embed_metadata(int8_bytes, metadata("int8"))),
        (paths["wrong_output"], convert(build_not_nima(3, 5), int8=False)),
        (paths["wrong_input"], convert(build_not_nima(1, BINS), int8=False)),
        (paths["dynamic_input"], convert(build_dynamic_input(), int8=False)),
        *((paths[f"{kind}_output"], embed_metadata(convert(build_broken_output(kind), int8=False),
                                                    ModelMetadata(input_size=(SIZE, SIZE), quantization="float32")))
          for kind in ("negative", "nan")),
    ):
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    tmp = directory / "tiny.tmp.keras"
    model.save(tmp)
    os.replace(tmp, paths["keras"])
    return paths


if __name__ == "__main__":
    for name, path in build_all().items():
        print(name, path, path.stat().st_size)
