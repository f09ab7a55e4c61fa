"""Tiny NIMA-shaped models for tests and device checks: the one builder tests and scripts share.

Three families, each for a kind of check that must not wait for (or depend on) the shipped model:

* ``write_random_nima`` — random weights fixed by a seed, any input size, float32 or full int8:
  ``scripts/pi_tiny_model.py`` (the Raspberry Pi check) and the capture-app tests.
* ``runtime_test_models`` — a small CNN fitted a few steps on generated pages, as float32, int8
  and without metadata, plus models that are not NIMAs or give no distribution: the runtime and
  archive tests.
* ``fit_export_nima`` — the real MobileNetV2 NIMA of training/model.py (alpha 0.35, 96 px) with
  BatchNorm re-estimated and fitted on ``write_captures`` pages: the export tests, which compare
  float and int8 and so need outputs that spread over the scale like a trained model's.

Every model depends on its input: a constant model would make every parity test pass vacuously.
TensorFlow is imported at the top: this module builds. Finding a cached model
(tiny_cache.py) and the generated images (tiny_pages.py) need no TensorFlow, so a test that only
reads a cached model imports this module only on a cache miss.
"""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from ..runtime.defects import DEFECTS
from ..runtime.fileio import atomic_output, atomic_write_bytes
from ..runtime.images import iter_image_paths, load_image
from ..runtime.metadata import ModelMetadata, embed_metadata
from ..runtime.preprocess import preprocess
from ..training.data import gaussian_distribution
from ..training.model import NimaSpec, build_nima, save_nima
from .tiny_cache import all_built, runtime_model_paths
from .tiny_pages import BINS, RUNTIME_SIZE, training_images

EXPORT_SIZE = 96


# ---- shared by the random and the runtime models ----------------------------------------------

def small_nima(size: int, filters: tuple[int, ...], scale: float, offset: float = 0.0,
               defects: bool = True, head_initializer=None):
    """uint8 "image" -> strided convolutions -> "distribution" (softmax over BINS) and, with
    ``defects``, "defects" (one sigmoid per runtime.defects.DEFECTS label)."""
    image = keras.Input(shape=(size, size, 3), dtype="uint8", name="image")
    x = layers.Rescaling(scale, offset=offset)(image)  # casts the uint8 pixels to float first
    for count in filters:
        x = layers.Conv2D(count, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    head = {} if head_initializer is None else {"kernel_initializer": head_initializer}
    outputs = {"distribution": layers.Dense(BINS, activation="softmax", name="distribution", **head)(x)}
    if defects:
        outputs["defects"] = layers.Dense(len(DEFECTS), activation="sigmoid", name="defects", **head)(x)
    return keras.Model(image, outputs, name="tiny_nima")


def to_tflite(model, calibration: np.ndarray | None = None, uint8_output: bool = False) -> bytes:
    """float32 without ``calibration``; with it (uint8 images, N x H x W x 3), full int8 with raw
    uint8 pixels in (as `nima export --format int8` ships) and float32 out unless ``uint8_output``."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if calibration is not None:
        def representative():
            for image in calibration:
                yield [image[None].astype(np.uint8)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        if uint8_output:
            converter.inference_output_type = tf.uint8
    return converter.convert()


# ---- random weights, fixed by a seed (device checks, capture-app tests) ------------------------

def smooth_random_images(count: int, size: int, seed: int = 0) -> np.ndarray:
    """Random 4x4 colour fields scaled up to ``size``: int8 ranges calibrated on flat noise would
    fit noise only."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        small = rng.integers(0, 256, (1, 4, 4, 3)).astype(np.float32)
        images.append(np.clip(tf.image.resize(small, (size, size)).numpy(), 0, 255).astype(np.uint8)[0])
    return np.stack(images)


def write_random_nima(out: Path, size: int = 32, defects: bool = False, seed: int = 0,
                      int8: bool = False) -> Path:
    """Write a NIMA-shaped .tflite with random weights (fixed by ``seed``) and embedded metadata
    to ``out`` (overwriting) -> ``out``. Its layers look at colour and edges and its head weights
    are large, so different images get clearly different distributions."""
    keras.utils.set_random_seed(seed)
    # Large-ish head weights so the softmax is not nearly uniform for every input.
    head = keras.initializers.RandomNormal(stddev=4.0, seed=seed)
    model = small_nima(size, (8, 16), scale=1.0 / 127.5, offset=-1.0, defects=defects, head_initializer=head)
    calibration = smooth_random_images(16, size) if int8 else None
    metadata = ModelMetadata(
        input_size=(size, size),
        name="tiny-test-model",
        quantization="int8" if int8 else "float32",
        extra_outputs={"defects": DEFECTS} if defects else {},
        training={"note": f"random weights (seed {seed}); a test fixture, not a quality model"},
    )
    return atomic_write_bytes(out, embed_metadata(to_tflite(model, calibration), metadata), force=True)


# ---- fitted on generated pages, with broken siblings (runtime and archive tests) ---------------

def fit_on_pages(model, steps: int = 320) -> None:
    """A few epochs on ``training_images``: enough for outputs that follow brightness and blur."""
    images, dists, defects = training_images(256)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss={"distribution": "kl_divergence", "defects": "binary_crossentropy"},
    )
    model.fit(images, {"distribution": dists, "defects": defects}, batch_size=32,
              epochs=max(1, steps // 8), verbose=0)


def not_a_nima(channels: int, outputs: int):
    """A small classifier that is not a NIMA: wrong input channels or wrong number of outputs."""
    inputs = keras.Input(shape=(RUNTIME_SIZE, RUNTIME_SIZE, channels), dtype="float32", name="image")
    x = layers.Conv2D(4, 3, strides=4, activation="relu")(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(outputs, activation="softmax")(x))


def dynamic_input_nima():
    """A NIMA-shaped model whose input size is not fixed (None x None): the interpreter reports it as 1 x 1."""
    inputs = keras.Input(shape=(None, None, 3), dtype="float32", name="image")
    x = layers.GlobalAveragePooling2D()(inputs)  # no convolution: any size, 1 x 1 included, allocates
    return keras.Model(inputs, {"distribution": layers.Dense(BINS, activation="softmax", name="distribution")(x)})


def broken_output_nima(kind: str):
    """A real model whose 'distribution' is no distribution: all -1 ("negative") or NaN ("nan")."""
    inputs = keras.Input(shape=(RUNTIME_SIZE, RUNTIME_SIZE, 3), dtype="uint8", name="image")
    x = layers.GlobalAveragePooling2D()(layers.Rescaling(1.0 / 255.0)(inputs))
    if kind == "nan":
        x = layers.Rescaling(float("nan"))(x)
    distribution = layers.Dense(BINS, name="distribution", kernel_initializer="zeros",
                                bias_initializer=keras.initializers.Constant(-1.0))(x)
    return keras.Model(inputs, {"distribution": distribution})


def runtime_metadata(quantization: str) -> ModelMetadata:
    return ModelMetadata(
        input_size=(RUNTIME_SIZE, RUNTIME_SIZE),
        threshold=5.0,
        extra_outputs={"defects": DEFECTS},
        quantization=quantization,
        name="tiny-test-nima",
    )


def runtime_test_models(directory: Path | None = None) -> dict[str, Path]:
    """keras, float (with metadata), int8 (with metadata), bare (no metadata) model files, two
    models that are not NIMAs (wrong_output: 5 classes; wrong_input: one channel), two whose
    output is no distribution (negative_output, nan_output), one without a fixed input size
    (dynamic_input). Built once into ``directory`` (default: ``tiny_cache.cache_dir``) and reused."""
    paths = runtime_model_paths(directory)
    if all_built(paths):
        return paths
    keras.utils.set_random_seed(0)
    model = small_nima(RUNTIME_SIZE, (8, 16, 24), scale=1.0 / 255.0)
    fit_on_pages(model)
    float_bytes = to_tflite(model)
    calibration, _, _ = training_images(32, seed=1)
    int8_bytes = to_tflite(model, calibration, uint8_output=True)
    broken_metadata = ModelMetadata(input_size=(RUNTIME_SIZE, RUNTIME_SIZE), quantization="float32")
    # Each file goes through a temporary name so a killed build never leaves a half file cached.
    for path, data in (
        (paths["bare"], float_bytes),
        (paths["float"], embed_metadata(float_bytes, runtime_metadata("float32"))),
        (paths["int8"], embed_metadata(int8_bytes, runtime_metadata("int8"))),
        (paths["wrong_output"], to_tflite(not_a_nima(3, 5))),
        (paths["wrong_input"], to_tflite(not_a_nima(1, BINS))),
        (paths["dynamic_input"], to_tflite(dynamic_input_nima())),
        *((paths[f"{kind}_output"], embed_metadata(to_tflite(broken_output_nima(kind)), broken_metadata))
          for kind in ("negative", "nan")),
    ):
        atomic_write_bytes(path, data, force=True)
    with atomic_output(paths["keras"], force=True, suffix=".keras") as tmp:
        model.save(tmp)
    return paths


# ---- the real MobileNetV2 NIMA, fitted on page captures (export tests) -------------------------

def fit_export_nima(folder: Path, qualities: dict[str, float], out: Path, steps: int = 30) -> Path:
    """Build, fit on the captures in ``folder`` and save the MobileNetV2 NIMA (alpha 0.35, 96 px,
    a 2-label defects head) as .keras -> ``out``.

    A randomly initialised MobileNet gives every image the same distribution (its BatchNorm
    statistics are those of nothing); re-estimating them on the captures and a few steps towards
    ``qualities`` spread its outputs over the scale."""
    keras.utils.set_random_seed(7)
    spec = NimaSpec(alpha=0.35, input_size=EXPORT_SIZE, dropout=0.0, defect_labels=("defocus", "underexposed"),
                    provenance={"dataset": "nima_edge.export.tiny_models", "steps": steps})
    model = build_nima(spec, "none")
    paths = sorted(iter_image_paths([folder]))
    x = np.stack([preprocess(load_image(p), EXPORT_SIZE) for p in paths])
    q = np.array([qualities[p.name] for p in paths])
    reestimate_batchnorm(model, x)
    targets = np.stack([gaussian_distribution(v, 1.2, spec.score_values) for v in q])
    defects = np.zeros((len(x), 2), np.float32)
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss={"distribution": "categorical_crossentropy", "defects": "binary_crossentropy"})
    batches = max(1, len(x) // 16)
    model.fit(x, {"distribution": targets, "defects": defects}, batch_size=16,
              epochs=max(1, steps // batches), verbose=0)
    reestimate_batchnorm(model, x)  # the fit moved the weights; refresh the statistics to match
    return save_nima(model, spec, out, force=True)


def reestimate_batchnorm(model, x: np.ndarray) -> None:
    """Set every BatchNorm's moving statistics to those of ``x`` (one forward pass, momentum 0)."""
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    model(x, training=True)
    for layer, momentum in zip(norms, saved):
        layer.momentum = momentum
