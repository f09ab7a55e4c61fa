"""Fixtures for the Raspberry Pi and capture-app tests."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 64-px NIMA-shaped .tflite with a defects head (Keras -> TFLiteConverter, metadata embedded)."""
    pytest.importorskip("tensorflow")
    from nima_edge.export.tiny_models import write_random_nima

    return write_random_nima(tmp_path_factory.mktemp("model") / "tiny.tflite", size=64, defects=True)
