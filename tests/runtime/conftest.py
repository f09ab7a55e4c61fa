"""Fixtures for the runtime tests: rendered pages and small video files. The tiny TFLite NIMAs
(tiny_models, float_model, int8_model) come from tests/conftest.py."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runtime_pages import render_page


@pytest.fixture(scope="session")
def page_files(tmp_path_factory) -> dict[str, Path]:
    """A few 1600x1200 captures as JPEG files: sharp, blurred, dark, glare, cut off."""
    folder = tmp_path_factory.mktemp("pages")
    variants = {
        "sharp": render_page(),
        "blurred": render_page(blur=1.8),
        "dark": render_page(brightness=0.2),
        "glare": render_page(glare=True, brightness=0.85),
        "cut": render_page(shift=(500, 0)),
    }
    paths = {}
    for name, image in variants.items():
        paths[name] = folder / f"{name}.jpg"
        cv2.imwrite(str(paths[name]), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return paths


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    fourcc = "mp4v" if path.suffix == ".mp4" else "MJPG"
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"cannot write {path}"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="session")
def capture_video(tmp_path_factory) -> Path:
    """640x360 mp4: 12 dark frames (retake), then 30 bright sharp frames (good)."""
    dark = render_page(640, 360, brightness=0.15, font_scale=0.4)
    good = render_page(640, 360, font_scale=0.4)
    frames = [dark] * 12 + [good] * 30
    return write_video(tmp_path_factory.mktemp("video") / "capture.mp4", frames)
