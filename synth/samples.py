"""Regenerate the demo captures in samples/: `python -m nima_edge.synth.samples samples/`.

Each sample is one `render_capture` call with a fixed seed, kind and defect, at a long side of
1000 px, so the set is reproducible and documents what each defect looks like.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from nima_edge.runtime.fileio import atomic_write_bytes

from .capture import render_capture_jpeg
from .labels import label_for

SIZE = 1000
MAX_BYTES = 160_000
# file name -> (seed, kind, defects, what it shows)
SAMPLES: dict[str, tuple[int, str, dict[str, float], str]] = {
    "prescription_good_handwritten.jpg": (4, "prescription", {}, "good capture, handwritten prescription"),
    "prescription_good_printed.jpg": (17, "prescription", {}, "good capture, printed prescription"),
    "prescription_blurred.jpg": (13, "prescription", {"defocus": 0.75}, "out of focus (defocus 0.75)"),
    "prescription_dark.jpg": (1, "prescription", {"underexposed": 0.75}, "under-exposed and noisy (0.75)"),
    "prescription_glare.jpg": (16, "prescription", {"glare": 0.7}, "glare spot washing out the text (0.7)"),
    "prescription_cut_off.jpg": (14, "prescription", {"incomplete": 0.75}, "page partly out of frame (0.75)"),
    "not_a_document.jpg": (5, "junk", {}, "no document at all (a procedural surface)"),
}


def _shrink(data: bytes) -> bytes:
    """Re-encode a capture above MAX_BYTES at lower quality: samples live in git (noisy dark
    frames compress badly), and a demo does not need the last few JPEG levels."""
    quality = 85
    while len(data) > MAX_BYTES and quality >= 40:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
        quality -= 10
    return data


def write_samples(folder: str | Path, force: bool = True) -> list[tuple[str, float, str]]:
    """Write the demo captures; returns (file, label mean, description) for the README."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (seed, kind, defects, what) in SAMPLES.items():
        data, info = render_capture_jpeg(seed, defects, kind=kind, size=SIZE)
        data = _shrink(data)
        atomic_write_bytes(folder / name, data, force=force)
        written.append((name, label_for(info)[1], what))
    return written


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    for name, mean, what in write_samples(args[0] if args else "samples"):
        print(f"| `{name}` | {mean:.1f} | {what} |")


if __name__ == "__main__":
    main()
