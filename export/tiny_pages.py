"""Generated page-like images for the tiny test models: numpy and OpenCV only, no TensorFlow.

The builders in tiny_models.py fit on these, and the tests that only read cached models (or write
captures to calibrate on) use them without loading TensorFlow. A change here changes what the
models learn, so tiny_cache.py keys the cached models by this file too.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..runtime.defects import DEFECTS

BINS = 10
RUNTIME_SIZE = 64


def training_images(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(RGB images, target distributions, defect targets): generated page-like images whose
    brightness and blur set their target score."""
    rng = np.random.default_rng(seed)
    images, dists, defects = [], [], []
    for _ in range(count):
        brightness = rng.uniform(0.15, 1.0)
        blur = rng.uniform(0.0, 3.0)
        img = np.full((RUNTIME_SIZE, RUNTIME_SIZE, 3), 255 * brightness, np.float32)
        for _ in range(6):  # "text" strokes
            y = int(rng.integers(8, RUNTIME_SIZE - 8))
            x0, x1 = sorted(int(v) for v in rng.integers(4, RUNTIME_SIZE - 4, 2))
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
