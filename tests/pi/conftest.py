"""Fixtures for the Raspberry Pi and capture-app tests."""
from __future__ import annotations

from pathlib import Path

import pytest
from nima_edge.export.tiny_cache import cache_dir


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """A 64-px NIMA-shaped .tflite with a defects head (Keras -> TFLiteConverter, metadata embedded),
    built once per machine and cached like the other tiny models; the tests only read it."""
    path = cache_dir("pi-tests") / "tiny_64_defects.tflite"
    if not path.is_file():
        # Only a cache miss needs TensorFlow (tiny_models imports it at its top).
        pytest.importorskip("tensorflow")
        from nima_edge.export.tiny_models import write_random_nima

        write_random_nima(path, size=64, defects=True)  # written through a temporary name
    return path
