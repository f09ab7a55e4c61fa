"""The JPEG quality a decoded frame was saved at, read from its pixels (used by checks.py).

The model's view barely shows blocking (on the training captures it scored quality-4 JPEGs 6.5
against labels of 1.9), but a decoded JPEG keeps its quantisation. On the 8x8 grid the DCT
coefficients of its luma sit on multiples of the quantiser steps, so the largest step that
explains the coefficients, read against the standard (IJG) tables, estimates the quality the file
was saved at. A frame that never went through JPEG, or one resized or cropped off the grid since,
shows no such steps and gets ``None``: no evidence, no penalty. So does a scan whose paper is
clipped to pure white: every block with ink then holds clipped pixels, which decoding pushed off
the grid.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

JPEG_BLOCKS = 300  # 8x8 blocks with ink measured for the JPEG quality estimate
STEP_VALUES = 128  # coefficients per quantiser-step search
FLAT_BLOCK = 8  # grey levels (any channel): a flatter block says nothing about JPEG quantisation


# The orthonormal 8-point DCT-II matrix: coefficients = DCT @ block @ DCT.T, as in JPEG.
_DCT = np.array([[math.sqrt((1 if k == 0 else 2) / 8) * math.cos((2 * n + 1) * k * math.pi / 16)
                  for n in range(8)] for k in range(8)], dtype=np.float32)
# (row, column) of a luma coefficient -> its step in the IJG table at quality 50, and the smallest
# coefficient magnitude taken as "not quantised to zero" (DC is never zero-heavy).
_JPEG_PROBES = {(0, 0): (16, 0.5), (0, 1): (11, 2.5), (1, 0): (12, 2.5), (1, 1): (12, 2.5),
                (0, 2): (10, 2.5), (2, 0): (14, 2.5)}
# Decoding rounds each channel: a level or two of slack. Steps start at 4 because with that slack
# any value is "a multiple" of 2 or 3, so qualities above ~85 (steps <= 3) read as no JPEG at all.
_STEPS = np.arange(4, 256, dtype=np.float32)[:, None]
_STEP_TOLERANCE = np.maximum(1.5, 0.06 * _STEPS)


def jpeg_quality(image: np.ndarray, max_blocks: int = JPEG_BLOCKS) -> float | None:
    """The JPEG quality (IJG scale, 1..~85) a decoded frame was saved at; None without a JPEG grid
    (or above ~85, where the steps are too fine to tell from none).

    Blocks with a clipped channel are left out (clipping after decoding moves their luma off the
    quantiser's grid), and so are flat ones: bare paper of one grey level is a "multiple" of any
    divisor of it, in a clean PNG as much as in a JPEG. Six low-frequency coefficients are read
    separately, and at least two must agree (agreed_quality).
    """
    image = image[..., None] if image.ndim == 2 else image[..., :3]
    channels = image.shape[2]
    rows, cols = image.shape[0] // 8, image.shape[1] // 8
    if rows * cols == 0:
        return None
    # Candidates from every stride-th row of blocks; most of a page is bare paper, so take many
    # and keep the few hundred that hold ink. Rows are picked before the columns are trimmed to
    # the grid, so only the picked bands are ever copied, not the frame.
    stride = max(1, math.ceil(rows * cols / (8 * max_blocks)))
    bands = image[: rows * 8].reshape(rows, 8, image.shape[1], channels)[::stride, :, : cols * 8]
    blocks = bands.reshape(-1, 8, cols, 8, channels).transpose(0, 2, 1, 3, 4).reshape(-1, 8, 8, channels)
    low, high = blocks.min(axis=(1, 2, 3)), blocks.max(axis=(1, 2, 3))
    blocks = blocks[(high < 255) & (low > 0) & (high.astype(np.int16) - low >= FLAT_BLOCK)]
    if len(blocks) < 50:
        return None
    blocks = blocks[np.linspace(0, len(blocks) - 1, min(len(blocks), max_blocks)).astype(int)]
    luma = blocks[..., 0] if channels == 1 else cv2.cvtColor(
        blocks.reshape(-1, 8, 3), cv2.COLOR_BGR2GRAY).reshape(-1, 8, 8)
    luma = luma.astype(np.float32)
    coefficients = _DCT @ (luma - 128.0) @ _DCT.T
    qualities = []
    for (row, col), (base_step, smallest) in _JPEG_PROBES.items():
        step = quantiser_step(coefficients[:, row, col], smallest)
        if step is not None:
            qualities.append(ijg_quality(step, base_step))
    return agreed_quality(qualities)


def quantiser_step(values: np.ndarray, smallest: float, min_count: int = 8) -> float | None:
    """The largest step (4..255) of which 85% of the values are nonzero multiples, or None.

    The multiples must include at least two different ones each holding 5% of the values: values
    bunched at one level (a washed-out page) are a multiple of any of its divisors.
    """
    values = values[np.abs(values) >= smallest]
    if values.size < min_count:
        return None
    values = values[:: math.ceil(values.size / STEP_VALUES)]  # a fraction needs no more, and it costs
    multiples = np.round(values / _STEPS)
    multiples = np.where(multiples == 0, np.sign(values), multiples)  # the nearest nonzero multiple
    fits = (np.abs(values - multiples * _STEPS) <= _STEP_TOLERANCE).mean(axis=1) >= 0.85
    for index in np.flatnonzero(fits)[::-1]:
        counts = np.unique(multiples[index], return_counts=True)[1]
        if np.count_nonzero(counts >= 0.05 * values.size) >= 2:
            return float(_STEPS[index, 0])
    return None


def agreed_quality(qualities: list[float], spread: float = 1.25) -> float | None:
    """The median of the largest group of at least two estimates within ``spread`` of each other.

    A page whose blocks sit at a few grey levels can fit a large step in one coefficient by
    coincidence; a real quantisation table shows in all of them.
    """
    groups = [[q for q in qualities if low <= q <= low * spread] for low in qualities]
    best = max(groups, key=len, default=[])
    return float(np.median(best)) if len(best) >= 2 else None


def ijg_quality(step: float, base_step: float) -> float:
    """The IJG quality whose table scales ``base_step`` (the quality-50 step) to ``step``."""
    scale = 100.0 * step / base_step
    return max(1.0, (200.0 - scale) / 2.0) if scale <= 100.0 else 5000.0 / scale
