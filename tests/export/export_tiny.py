"""A tiny NIMA that really depends on its input, and page-like test captures, for export tests.

A randomly initialised MobileNet gives every image the same distribution (its BatchNorm
statistics are those of nothing), so float-vs-int8 comparisons on it prove nothing. The model
here re-estimates BatchNorm statistics on the test images and fits a few steps towards a score
that follows brightness and sharpness, so its outputs spread over the scale like a trained one.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIZE = 96


def make_capture(rng: np.random.Generator, size: int = 160) -> tuple[np.ndarray, float]:
    """(BGR page-like capture, its quality in 1..10): text lines on paper, then exposure, blur, noise."""
    h, w = size, int(size * 0.75)
    page = np.full((h, w, 3), rng.uniform(200, 250), np.float32)
    for y in range(12, h - 10, 9):
        x = 8
        while x < w - 14:
            word = int(rng.integers(6, 22))
            cv2.line(page, (x, y), (min(x + word, w - 8), y), (40, 40, 40), int(rng.integers(1, 3)))
            x += word + 5
    gain = rng.uniform(0.25, 1.3)
    blur = rng.uniform(0.0, 3.0)
    image = page * gain
    if blur > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    image += rng.normal(0, rng.uniform(1, 12), image.shape)
    quality = 9.0 - 2.0 * blur - 4.0 * abs(gain - 0.9)
    return np.clip(image, 0, 255).astype(np.uint8), float(np.clip(quality, 1.5, 9.5))


def write_captures(folder: Path, count: int, seed: int) -> dict[str, float]:
    """Write ``count`` captures as JPEG -> {file name: quality}."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    qualities = {}
    for i in range(count):
        image, quality = make_capture(rng)
        name = f"cap_{seed}_{i:03d}.jpg"
        cv2.imwrite(str(folder / name), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        qualities[name] = quality
    return qualities


def build_tiny_model(folder: Path, qualities: dict[str, float], out: Path, steps: int = 30):
    """Build, fit and save the tiny NIMA (alpha 0.35, 96 px, a 2-label defects head) -> path."""
    import keras
    from nima_edge.runtime.images import iter_image_paths, load_image
    from nima_edge.runtime.preprocess import preprocess
    from nima_edge.training.data import gaussian_distribution
    from nima_edge.training.model import NimaSpec, build_nima, save_nima

    keras.utils.set_random_seed(7)
    spec = NimaSpec(alpha=0.35, input_size=SIZE, dropout=0.0, defect_labels=("defocus", "underexposed"),
                    provenance={"dataset": "tests/export/export_tiny.py", "steps": steps})
    model = build_nima(spec, "none")
    paths = sorted(iter_image_paths([folder]))
    x = np.stack([preprocess(load_image(p), SIZE) for p in paths])
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
    save_nima(model, spec, out, force=True)
    return out


def reestimate_batchnorm(model, x: np.ndarray) -> None:
    """Set every BatchNorm's moving statistics to those of ``x`` (one forward pass, momentum 0)."""
    import keras

    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    model(x, training=True)
    for layer, momentum in zip(layers, saved):
        layer.momentum = momentum
