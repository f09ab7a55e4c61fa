"""Physical severity scales: how far a defect's severity 0..1 moves a physical quantity.

Shared by rendering (capture.py, real.py) and the label formula (labels.py), so the label measures
what was drawn.
"""
from __future__ import annotations


def defocus_sigma(severity: float, char_px: float) -> float:
    """Defocus blur std dev: half a character height at full severity."""
    return 0.5 * severity * char_px


def motion_length(severity: float, char_px: float) -> float:
    """Hand-shake streak length: 1.8 character heights at full severity."""
    return 1.8 * severity * char_px


def exposure_gain(under: float, over: float, jitter: float = 0.0) -> float:
    """Multiplier on scene light: under-exposure down to 0.07x, over-exposure up to 4x."""
    return float((0.07**under) * (1.0 + 3.0 * over) * (1.0 + jitter))


def exposure_veil(over: float) -> float:
    """Flare / haze that lifts dark ink in an over-exposed frame (fraction of white)."""
    return 0.8 * over


def expose(bgr: tuple[float, float, float], gain: float, veil: float) -> float:
    """Luminance 0..1 of a 0..1 colour after exposure and clipping at white: what the sensor keeps."""
    b, g, r = (min(1.0, c * gain + veil) for c in bgr)
    return 0.114 * b + 0.587 * g + 0.299 * r


def noise_gain(under: float) -> float:
    """Dark frames are pushed by the camera's gain, which amplifies read noise."""
    return 1.0 + 7.0 * under


def lowres_factor(severity: float, char_px: float) -> float:
    """Resolution scale: at full severity the body text is about 1.5 pixels tall."""
    return float(min(1.0, (1.5 / max(char_px, 1.5)) ** severity))


def glare_core_fraction(severity: float) -> float:
    """Target page fraction washed out by the glare's saturated core."""
    return 0.45 * severity**1.3


def glare_intensity(severity: float) -> float:
    """Peak brightness the glare adds (1 = white), growing with severity as the spot grows."""
    return 0.7 + 0.5 * severity


def cutoff_fraction(severity: float) -> float:
    """Fraction of the page outside the frame."""
    return 0.55 * severity**1.3


def jpeg_quality_for(severity: float, base: int) -> int:
    """JPEG quality falls geometrically from the scene's own to 2."""
    return max(2, round(base * (2.0 / base) ** (severity**0.8)))
