"""Shared helpers for the training tests: small generated images and label files (no synth/)."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def page_image(quality: float, rng: np.random.Generator, size: tuple[int, int] = (120, 160)) -> np.ndarray:
    """A white 'page' of black text lines, blurred more the lower ``quality`` (0..1) is."""
    height, width = size
    image = np.full((height, width, 3), 245, np.uint8)
    for y in range(8, height - 6, 9):
        x0 = int(rng.integers(5, 20))
        cv2.line(image, (x0, y), (width - int(rng.integers(5, 30)), y), (20, 20, 20), 2)
    blur = (1.0 - quality) * 6.0
    if blur > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    return image


def write_image(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def make_document_set(root: Path, n: int, seed: int = 0) -> Path:
    """labels.csv (path, mean, std, defect_defocus, defect_glare) + img/*.jpg; mean follows sharpness."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    with (root / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "mean", "std", "defect_defocus", "defect_glare"])
        for i in range(n):
            quality = float(rng.uniform(0, 1))
            write_image(root / "img" / f"{i:04d}.jpg", page_image(quality, rng))
            writer.writerow([f"img/{i:04d}.jpg", f"{1 + 9 * quality:.3f}", "1.0", f"{1 - quality:.3f}", "0"])
    return root / "labels.csv"


def copy_fixture(name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(FIXTURES / name, folder / name))


@pytest.fixture(scope="session")
def document_set(tmp_path_factory) -> Path:
    """120 generated page images with labels, shared by the training tests."""
    return make_document_set(tmp_path_factory.mktemp("docs"), 120)


@pytest.fixture
def make_docs():
    return make_document_set


@pytest.fixture
def fixture_copy():
    return copy_fixture


@pytest.fixture
def draw_page():
    return page_image, write_image
