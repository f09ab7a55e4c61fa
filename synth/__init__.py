"""Synthetic prescription captures with graded defects and rater-vote labels (`nima synth`).

numpy + OpenCV only (never TensorFlow). The API other stages and tests use:

    image_bgr, info = render_capture(seed, defects={"defocus": 0.6}, kind="prescription", size=1600)
    votes, mean, std = label_for(info)

The same seed with different `defects` renders the same page in the same scene ("twins").
"""

from .capture import CaptureInfo, render_capture, render_capture_jpeg
from .labels import label_for, target_mean, usability
from .mix import KINDS, PAGE_DEFECTS, SynthError

__all__ = [
    "KINDS",
    "PAGE_DEFECTS",
    "CaptureInfo",
    "SynthError",
    "label_for",
    "render_capture",
    "render_capture_jpeg",
    "target_mean",
    "usability",
]
