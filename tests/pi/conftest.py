"""Fixtures for the Raspberry Pi and capture-app tests."""
from __future__ import annotations

from pathlib import Path

import pytest
from pi_fixtures import load_script


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 64-px NIMA-shaped .tflite with a defects head (Keras -> TFLiteConverter, metadata embedded)."""
    pytest.importorskip("tensorflow")
    tiny = load_script("pi_tiny_model")
    return tiny.make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.tflite", size=64, defects=True)
