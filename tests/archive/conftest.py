"""Fixtures for the archive tests: a folder of small generated captures with a few that cannot be
scored. The tiny TFLite NIMAs (tiny_models, float_model) come from tests/conftest.py."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from nima_edge.export.tiny_pages import make_capture

GOOD_IMAGES = 300
# name -> bytes of files the runtime refuses, each for its own reason
BAD_FILES = {
    "bad/truncated.jpg": lambda good: good[: len(good) // 2],
    "bad/noise.jpg": lambda good: np.random.default_rng(1).integers(0, 256, 900, dtype=np.uint8).tobytes(),
    "bad/empty.png": lambda good: b"",
    "bad/tiny.jpg": lambda good: cv2.imencode(".jpg", np.full((20, 20, 3), 200, np.uint8))[1].tobytes(),
}


def write_archive(folder: Path, count: int = GOOD_IMAGES) -> Path:
    """``count`` captures (JPEG at several qualities, PNG, some .JPG) in two sub-folders, the
    BAD_FILES, and a notes.txt that no walk scores."""
    rng = np.random.default_rng(0)
    for i in range(count):
        image, _ = make_capture(rng, size=64)  # 64 x 48: small, every one different
        kind = i % 3
        name = f"{'a' if i % 2 else 'b'}/{i:04d}" + (".png", ".jpg", ".JPG")[kind]
        params = [] if kind == 0 else [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 95))]
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(cv2.imencode(".png" if kind == 0 else ".jpg", image, params)[1].tobytes())
    good = (folder / "a/0001.jpg").read_bytes()
    for name, make in BAD_FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(make(good))
    (folder / "notes.txt").write_text("not an image suffix: walked past")
    return folder


@pytest.fixture(scope="session")
def archive(tmp_path_factory) -> Path:
    return write_archive(tmp_path_factory.mktemp("archive"))
