"""Session fixtures for export tests: page-like captures and one tiny trained NIMA."""
from __future__ import annotations

import pytest
from nima_edge.export.tiny_cache import cache_dir
from nima_edge.export.tiny_pages import write_captures


@pytest.fixture(scope="session")
def captures(tmp_path_factory):
    """(calibration folder of 48 captures, validation folder of 30 others, calibration qualities)."""
    root = tmp_path_factory.mktemp("captures")
    qualities = write_captures(root / "calib", 48, seed=1)
    write_captures(root / "val", 30, seed=2)
    return root / "calib", root / "val", qualities


@pytest.fixture(scope="session")
def tiny_model(captures):
    """The tiny trained NIMA, built once per machine (~30 s) and cached in the temp folder."""
    calib, _, qualities = captures
    path = cache_dir("export-tests") / "tiny.keras"  # keyed by the builder's source and TF/Keras versions
    if not path.is_file():
        # Only a cache miss loads TensorFlow for the fixture (tiny_models imports it at its top).
        from nima_edge.export.tiny_models import fit_export_nima

        fit_export_nima(calib, qualities, path, steps=24)  # save_nima writes atomically
    return path


@pytest.fixture(scope="session")
def black_frames(tmp_path_factory):
    """A deliberately bad calibration set: 16 black frames (int8 ranges fitted to nothing)."""
    import cv2
    import numpy as np

    folder = tmp_path_factory.mktemp("black")
    for i in range(16):
        cv2.imwrite(str(folder / f"black_{i:02d}.png"), np.zeros((120, 90, 3), np.uint8))
    return folder
