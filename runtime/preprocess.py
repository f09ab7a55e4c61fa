"""The one preprocessing function. Training, calibration, export and the runtime all call it,
so an image means the same input tensor at every stage."""
from __future__ import annotations

import cv2
import numpy as np

RESIZE_METHODS = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR}


def preprocess(image_bgr: np.ndarray, input_size: tuple[int, int] | int, resize: str = "area") -> np.ndarray:
    """BGR uint8 frame -> RGB uint8 array of shape (height, width, 3) for the model.

    The whole frame is squashed to the input size, never cropped: a capture missing its page
    edges must look that way to the model. INTER_AREA averages when shrinking, which is what a
    camera preview of a high-resolution frame looks like; the backbone's own normalisation lives
    inside the model graph, so raw pixels go in.
    """
    if isinstance(input_size, int):
        input_size = (input_size, input_size)
    height, width = input_size
    if image_bgr.ndim == 2:
        image_bgr = cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2BGR)
    elif image_bgr.ndim != 3 or image_bgr.shape[2] not in (3, 4):
        raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image, got shape {image_bgr.shape}")
    elif image_bgr.shape[2] == 4:
        image_bgr = cv2.cvtColor(image_bgr, cv2.COLOR_BGRA2BGR)
    if image_bgr.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {image_bgr.dtype}")
    try:
        interpolation = RESIZE_METHODS[resize]
    except KeyError:
        raise ValueError(f"unknown resize method {resize!r}; choose from {sorted(RESIZE_METHODS)}") from None
    if image_bgr.shape[:2] != (height, width):
        image_bgr = cv2.resize(image_bgr, (width, height), interpolation=interpolation)
    return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
