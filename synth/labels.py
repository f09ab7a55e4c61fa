"""Rater-vote labels for synthetic captures: a usability score, then ~200 simulated raters.

The formula (also in docs/synth.md). A document capture's usability U in [0, 1] is a product of
factors, each in (0, 1] and each falling as exactly one physical quantity gets worse, so a defect
made more severe on the same page can only lower the score:

    U = q_scene * F_sharp * F_size * F_contrast * F_snr * F_light * F_glare * F_frame * F_jpeg * F_scrawl

    F_sharp    = 1 / (1 + ((r - 0.04)+ / 0.2)^2)   r = total blur std dev / character cap height (capture
                                           px): optics, defocus, hand-shake streak (length / sqrt 12),
                                           resampling; blur under 4% of the cap height costs nothing
    F_size     = 1 / (1 + (4.5 / h)^3)     h = cap height after the low-resolution defect (px)
    F_contrast = 1 / (1 + (0.3 / c)^4)     c = (P - I) / P, the ink's relative contrast after exposure,
                                           P, I = paper, ink luminance (0..1) after gain, flare, clipping
    F_snr      = 1 / (1 + (4 / SNR)^2)     SNR = (P - I) / sensor noise std dev
    F_light    = 1 / (1 + (0.2 / P)^3) * (1 - 0.25 * shadow)  (dark frames; hand/phone shadow depth)
    F_glare    = exp(-4.5 g)               g = fraction of the page washed out by glare
    F_frame    = exp(-3.5 o)               o = fraction of the page outside the frame
    F_jpeg     = 1 / (1 + (10 / Q)^2 * sqrt(12 / h0))   Q = JPEG quality, h0 = cap height (px)
    F_scrawl   = 1 / (1 + (s / 0.42)^2.5)    handwritten pages only; s = scrawl severity

q_scene (0.96..1) covers small scene imperfections; documents other than prescriptions get 0.97
(legible paper, but not what the pharmacy asked for). Junk (not a document) gets U in [0, 0.06].
The target mean is mu = 1 + 9 U.

Votes: ~200 raters. Rater i has a fixed personal offset z_i ~ N(0, 1) clipped to +-2.3 (drawn from
the capture's seed) and votes round(mu + sd(mu) z_i), clipped to 1..10, where
sd(mu) = 0.75 + 0.85 (1 - ((mu - 5.5) / 4.5)^2) is widest mid-scale, as raters agree on clearly
good and clearly bad photos. 4% of raters are careless and vote a fixed random bin. Because
d/dmu (mu + sd(mu) z) >= 1 - 0.38 * 2.3 > 0, every rater's vote is non-decreasing in mu: a lower
usability can only lower the vote mean, which keeps the twin tests exact rather than statistical.
The CSV's mean and std are those of the drawn votes.
"""

from __future__ import annotations

import numpy as np

from .capture import CaptureInfo
from .mix import VOTES, stream_rng

BINS = np.arange(1, 11)
OTHER_DOCUMENT_FACTOR = 0.97


def sharpness_factor(blur_px: float, char_px: float) -> float:
    excess = max(blur_px / max(char_px, 1e-3) - 0.04, 0.0)
    return 1.0 / (1.0 + (excess / 0.2) ** 2)


def size_factor(char_px: float) -> float:
    return 1.0 / (1.0 + (4.5 / max(char_px, 1e-3)) ** 3)


def contrast_factor(paper: float, ink: float) -> float:
    relative = max(paper - ink, 1e-3) / max(paper, 1e-3)
    return 1.0 / (1.0 + (0.3 / relative) ** 4)


def snr_factor(paper: float, ink: float, noise: float) -> float:
    snr = max(paper - ink, 1e-4) / max(noise, 1e-4)
    return 1.0 / (1.0 + (4.0 / snr) ** 2)


def light_factor(paper: float, shadow_depth: float) -> float:
    return 1.0 / (1.0 + (0.2 / max(paper, 1e-3)) ** 3) * (1.0 - 0.25 * min(max(shadow_depth, 0.0), 1.0))


def glare_factor(fraction: float) -> float:
    return float(np.exp(-4.5 * fraction))


def frame_factor(outside: float) -> float:
    return float(np.exp(-3.5 * max(outside, 0.0)))


def jpeg_factor(quality: int, char_px: float) -> float:
    return 1.0 / (1.0 + (10.0 / max(quality, 1)) ** 2 * np.sqrt(12.0 / max(char_px, 1.0)))


def scrawl_factor(severity: float) -> float:
    return 1.0 / (1.0 + (severity / 0.42) ** 2.5)


def usability(info: CaptureInfo) -> float:
    """U in [0, 1] from the capture's physical facts; see the module docstring."""
    if info.kind in ("junk", "user_junk"):
        return float(stream_rng(info.seed, VOTES).uniform(0.0, 0.06))
    u = info.base_quality
    if info.kind != "prescription":
        u *= OTHER_DOCUMENT_FACTOR
    u *= sharpness_factor(info.blur_px, info.char_height_px)
    u *= size_factor(info.effective_char_px)
    paper, ink = info.paper_level, info.paper_level - info.contrast
    u *= contrast_factor(paper, ink)
    u *= snr_factor(paper, ink, info.noise)
    u *= light_factor(paper, info.shadow_depth)
    u *= glare_factor(info.glare_fraction)
    u *= frame_factor(1.0 - info.page_in_frame)
    u *= jpeg_factor(info.jpeg_quality, info.char_height_px)
    if info.handwritten:
        u *= scrawl_factor(info.defects.get("scrawl", 0.0))
    return float(np.clip(u, 0.0, 1.0))


def target_mean(info: CaptureInfo) -> float:
    return 1.0 + 9.0 * usability(info)


def rater_spread(mu: float) -> float:
    return 0.75 + 0.85 * (1.0 - ((mu - 5.5) / 4.5) ** 2)


def draw_votes(mu: float, seed: int) -> np.ndarray:
    """Vote counts over bins 1..10 from ~200 simulated raters (see the module docstring)."""
    rng = stream_rng(seed, VOTES)
    rng.uniform()  # the junk usability draw, kept so both kinds use the same stream positions
    raters = int(rng.integers(180, 221))
    offsets = np.clip(rng.standard_normal(raters), -2.3, 2.3)
    careless = rng.random(raters) < 0.04
    fixed = rng.integers(1, 11, raters)
    votes = np.clip(np.round(mu + rater_spread(mu) * offsets), 1, 10).astype(int)
    votes = np.where(careless, fixed, votes)
    return np.bincount(votes - 1, minlength=10)


def label_for(info: CaptureInfo) -> tuple[np.ndarray, float, float]:
    """(votes per bin 1..10, mean, std) for a capture: the rows of labels.csv."""
    votes = draw_votes(target_mean(info), info.seed)
    p = votes / votes.sum()
    mean = float((p * BINS).sum())
    std = float(np.sqrt((p * (BINS - mean) ** 2).sum()))
    return votes, mean, std
