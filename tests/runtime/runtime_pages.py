"""Rendered prescription-like pages for the runtime tests (OpenCV only, deterministic)."""
from __future__ import annotations

import cv2
import numpy as np

WORDS = ["Amoxicillin", "500mg", "tid", "x7d", "Rx", "Paracetamol", "1g", "prn", "Dr.", "Smith", "sig:"]


def render_page(width: int = 1600, height: int = 1200, *, blur: float = 0.0, brightness: float = 1.0,
                margin: float = 0.08, font_scale: float = 0.55, seed: int = 0,
                glare: bool = False, shift: tuple[int, int] = (0, 0), ink: int = 30) -> np.ndarray:
    """A white page with rows of small text (grey level ``ink``) on a dark desk, as a camera would see it (BGR)."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), (60, 50, 45), np.uint8)
    image[:] = np.clip(image.astype(np.int16) + rng.integers(-6, 6, image.shape), 0, 255).astype(np.uint8)
    x0, y0 = int(width * margin) + shift[0], int(height * margin) + shift[1]
    x1, y1 = width - int(width * margin) + shift[0], height - int(height * margin) + shift[1]
    cv2.rectangle(image, (x0, y0), (x1, y1), (238, 240, 242), thickness=cv2.FILLED)
    line_height = max(12, int(30 * font_scale / 0.55))
    y = y0 + 2 * line_height
    while y < y1 - line_height:
        x = x0 + 30
        while True:
            word = WORDS[int(rng.integers(len(WORDS)))]
            (tw, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
            if x + tw > x1 - 30:
                break
            cv2.putText(image, word, (x, y), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (ink, ink, ink + 10), 1, cv2.LINE_AA)
            x += tw + 12
        y += line_height
    image = (image.astype(np.float32) * brightness)
    if glare:  # a reflection: saturated whatever the exposure
        cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
        cv2.ellipse(image, (cx, cy), (width // 9, height // 12), 20, 0, 360, (255.0, 255.0, 255.0), cv2.FILLED)
    if blur > 0:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    image = image + rng.normal(0, 2.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def add_flare(image: np.ndarray, size: float, peak: float = 0.95) -> np.ndarray:
    """A broad light over the frame, as a lamp or the sun seen in a glossy page gives: a Gaussian
    disc ``size`` of the frame's width across (its sigma) that blends up to ``peak`` of the way to
    white, lifting paper and ink together."""
    height, width = image.shape[:2]
    ys, xs = np.mgrid[:height, :width]
    alpha = peak * np.exp(-((xs - 0.45 * width) ** 2 + (ys - 0.5 * height) ** 2) / (2.0 * (size * width) ** 2))
    alpha = alpha[..., None] if image.ndim == 3 else alpha
    return np.clip(image * (1.0 - alpha) + 255.0 * alpha, 0, 255).astype(np.uint8)
