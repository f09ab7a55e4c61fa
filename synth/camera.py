"""The camera model of a synthetic capture: optics (defocus, hand shake), the sensor's exposure
curve and noise, and the JPEG the phone saves. Shared by `nima synth` and `nima realset`, so a
real photo is degraded by the same camera the synthetic captures are rendered through.
"""
from __future__ import annotations

import cv2
import numpy as np

from .mix import NOISE, SynthError, stream_rng


def _motion_kernel(length: float, angle: float) -> np.ndarray:
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA)
    return kernel / kernel.sum()


def motion_blur(image: np.ndarray, length: float, angle: float) -> np.ndarray:
    """Hand-shake streak. Long streaks are applied at reduced resolution (cost of a long kernel
    grows with its area); the detail lost across the streak is small next to the streak itself."""
    if length <= 16:
        return cv2.filter2D(image, -1, _motion_kernel(length, angle), borderType=cv2.BORDER_REFLECT)
    h, w = image.shape[:2]
    factor = 16.0 / length
    small = cv2.resize(
        image, (max(1, int(w * factor)), max(1, int(h * factor))), interpolation=cv2.INTER_AREA
    )
    small = cv2.filter2D(small, -1, _motion_kernel(16.0, angle), borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; large sigmas go through a downscale so cost stays flat."""
    if sigma < 0.3:
        return image
    if sigma <= 6:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    factor = 3.0 / sigma
    h, w = image.shape[:2]
    small = cv2.resize(
        image, (max(1, int(w * factor)), max(1, int(h * factor))), interpolation=cv2.INTER_AREA
    )
    small = cv2.GaussianBlur(small, (0, 0), 3.0 * np.sqrt(max(1 - (1 / 3.0) ** 2, 0.1)))
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg",
        image,
        [
            cv2.IMWRITE_JPEG_QUALITY,
            int(quality),
            cv2.IMWRITE_JPEG_OPTIMIZE,
            0,
            cv2.IMWRITE_JPEG_PROGRESSIVE,
            0,
        ],
    )
    if not ok:
        raise SynthError("JPEG encoding failed")
    return buf.tobytes()


NOISE_TILE = 1031  # a prime-sized tile: repeats are not aligned with JPEG blocks or text lines


NOISE_CODE_SCALE = 32.0  # the tile stores 128 + 32 z (z ~ N(0, 1), clipped to +-4)
_noise_tile_cache: list[np.ndarray] = []


def _noise_tile() -> np.ndarray:
    """A fixed tile of sensor-like noise, luminance grain plus weaker colour noise, as uint8 codes.

    Drawing fresh normal samples for every pixel of every frame was the largest single cost of a
    capture; a cached tile at a per-frame offset looks the same to a camera model. It is wrapped
    out beyond the largest default frame so any window is one slice, and stored as codes so a
    frame's noise level is applied with two 256-entry lookups instead of arithmetic.
    """
    if not _noise_tile_cache:
        rng = np.random.default_rng(20240611)
        luma = rng.standard_normal((NOISE_TILE, NOISE_TILE, 1), dtype=np.float32)
        chroma = rng.standard_normal((NOISE_TILE, NOISE_TILE, 3), dtype=np.float32)
        z = (luma + 0.5 * chroma) / np.sqrt(1.25)
        tile = np.clip(np.round(128 + NOISE_CODE_SCALE * z), 0, 255).astype(np.uint8)
        _noise_tile_cache.append(cv2.copyMakeBorder(tile, 0, 2048, 0, 2048, cv2.BORDER_WRAP))
    return _noise_tile_cache[0]


def _add_noise(image: np.ndarray, seed: int, sigma: float) -> np.ndarray:
    """Add zero-mean noise of std `sigma` (8-bit levels) to a uint8 frame, saturating."""
    h, w = image.shape[:2]
    rng = stream_rng(seed, NOISE)
    oy, ox = (int(v) for v in rng.integers(0, NOISE_TILE, 2))
    big = _noise_tile()
    if h + oy > big.shape[0] or w + ox > big.shape[1]:  # frames beyond the cached size
        big = cv2.copyMakeBorder(big, 0, h, 0, w, cv2.BORDER_WRAP)
    codes = np.ascontiguousarray(big[oy : oy + h, ox : ox + w])
    z = (np.arange(256, dtype=np.float32) - 128.0) * (sigma / NOISE_CODE_SCALE)
    positive = np.clip(np.round(z), 0, 255).astype(np.uint8)
    negative = np.clip(np.round(-z), 0, 255).astype(np.uint8)
    image = cv2.add(image, cv2.LUT(codes, positive))
    return cv2.subtract(image, cv2.LUT(codes, negative))


def _exposure_lut(gain: float, veil: float) -> np.ndarray:
    """8-bit curve: exposure gain + flare, clipped at white (what the sensor keeps)."""
    out = np.arange(256, dtype=np.float32) * gain + veil * 255.0
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def camera(image: np.ndarray, seed: int, gain: float, veil: float, noise_sigma: float) -> np.ndarray:
    """Exposure, sensor noise and 8-bit quantisation of a uint8 frame (colour cast is in the light)."""
    image = cv2.LUT(image, _exposure_lut(gain, veil))
    return _add_noise(image, seed, noise_sigma * 255.0)
