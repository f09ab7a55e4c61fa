"""Drawing the prompt onto a frame: score bar, verdict, reason, page outline."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from .policy import Assessment

GREEN = (60, 180, 75)
RED = (40, 40, 220)
AMBER = (0, 170, 255)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)


@dataclass(frozen=True)
class Prompt:
    """What the overlay says: a headline, an optional reason, a score on a scale with its threshold."""

    headline: str
    reason: str
    score: float
    low: float
    high: float
    threshold: float
    good: bool
    quad: tuple[tuple[int, int], ...] | None = None

    @classmethod
    def of(cls, assessment: Assessment, headline: str, good: bool, score: float,
           score_range: tuple[float, float], threshold: float) -> Prompt:
        """The one way a decision becomes a prompt (annotate, watch): a retake always says why —
        in `nima watch` the frame on screen may have passed on its own while the smoothed score
        has not, and RETAKE with no reason tells the user nothing."""
        reason = "" if good else assessment.retake_reasons()[0]
        quad = assessment.checks.page_quad if assessment.checks is not None else None
        return cls(headline, reason, float(score), score_range[0], score_range[1], threshold, good, quad)


def draw_overlay(frame: np.ndarray, prompt: Prompt, kiosk: bool = False) -> np.ndarray:
    """A copy of ``frame`` with the prompt drawn. ``kiosk`` uses large text for a small screen."""
    out = frame.copy() if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    height, width = out.shape[:2]
    colour = GREEN if prompt.good else RED
    if prompt.quad is not None:
        cv2.polylines(out, [np.array(prompt.quad, np.int32)], True, colour, max(2, width // 400), cv2.LINE_AA)
    unit = max(width, height) / 1000.0
    band = int((150 if kiosk else 70) * unit)
    shade = out[height - band:, :].astype(np.float32) * 0.35
    out[height - band:, :] = shade.astype(np.uint8)
    # Score bar along the bottom band, with a tick at the threshold.
    span = max(prompt.high - prompt.low, 1e-9)
    fill = float(np.clip((prompt.score - prompt.low) / span, 0.0, 1.0))
    bar_h = max(4, int((22 if kiosk else 10) * unit))
    x0, x1 = int(0.03 * width), int(0.97 * width)
    y1 = height - int(0.12 * band)
    y0 = y1 - bar_h
    cv2.rectangle(out, (x0, y0), (x1, y1), WHITE, 1)
    cv2.rectangle(out, (x0, y0), (x0 + int(fill * (x1 - x0)), y1), colour, cv2.FILLED)
    tick = x0 + int(float(np.clip((prompt.threshold - prompt.low) / span, 0, 1)) * (x1 - x0))
    cv2.line(out, (tick, y0 - bar_h // 2), (tick, y1 + bar_h // 2), AMBER, max(1, int(2 * unit)))
    # Headline and reason above the bar.
    font = cv2.FONT_HERSHEY_SIMPLEX
    big = (1.6 if kiosk else 0.8) * unit
    small = (1.0 if kiosk else 0.55) * unit
    thick = max(1, int((4 if kiosk else 2) * unit))
    headline = f"{prompt.headline}  {prompt.score:.1f}"
    _put(out, headline, (x0, y0 - int(0.45 * band) if prompt.reason else y0 - int(0.2 * band)), font, big, colour, thick)
    if prompt.reason:
        _put(out, prompt.reason, (x0, y0 - int(0.12 * band)), font, small, WHITE, max(1, thick // 2))
    return out


def _put(image: np.ndarray, text: str, origin: tuple[int, int], font: int, scale: float,
         colour: tuple[int, int, int], thickness: int) -> None:
    # A dark outline keeps the text readable over any background. It is the same text at the same
    # thickness shifted around the origin: OpenCV 5's font engine widens glyphs with thickness, so
    # a thicker black copy would not line up with the coloured one.
    step = max(1, thickness // 2 + 1)
    x, y = origin
    for dx, dy in ((-step, 0), (step, 0), (0, -step), (0, step)):
        cv2.putText(image, text, (x + dx, y + dy), font, scale, BLACK, thickness, cv2.LINE_AA)
    cv2.putText(image, text, origin, font, scale, colour, thickness, cv2.LINE_AA)
