"""Where the tiny test models are cached, found without TensorFlow.

A test that only reads a tiny model asks here first and imports tiny_models.py (TensorFlow at its
top) only on a miss, so a second test session loads no TensorFlow for its fixtures. The key hashes
the builders' source read as text (importing them would load TensorFlow) and the installed
TensorFlow and Keras versions, so a stale model is never reused.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from importlib.metadata import version
from pathlib import Path

from nima_edge.runtime import metadata as metadata_module

# What the cached models are made of: the builders and the images they are fitted on.
BUILDER_SOURCES = ("tiny_models.py", "tiny_pages.py")

# runtime_test_models' files: name -> file name in its cache folder.
RUNTIME_MODEL_FILES = {
    "keras": "tiny.keras",
    "float": "tiny_float.tflite",
    "int8": "tiny_int8.tflite",
    "bare": "tiny_bare.tflite",
    "wrong_output": "wrong_output.tflite",
    "wrong_input": "wrong_input.tflite",
    "negative_output": "negative_output.tflite",
    "nan_output": "nan_output.tflite",
    "dynamic_input": "dynamic_input.tflite",
}


def cache_key() -> str:
    """12 hex digits of the builders' source, the metadata module's (it decides the document each
    model carries: a new field must not meet a model cached without it) and the TensorFlow and
    Keras versions (importlib.metadata: the installed version, without importing the package)."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in (*(here / name for name in BUILDER_SOURCES), Path(metadata_module.__file__)):
        digest.update(path.read_bytes())
    digest.update(version("tensorflow").encode() + version("keras").encode())
    return digest.hexdigest()[:12]


def cache_dir(purpose: str) -> Path:
    """A folder for built models, ``nima-PURPOSE-KEY`` under $NIMA_TEST_CACHE, else the temp folder."""
    root = Path(os.environ.get("NIMA_TEST_CACHE", tempfile.gettempdir()))
    path = root / f"nima-{purpose}-{cache_key()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def runtime_model_paths(directory: Path | None = None) -> dict[str, Path]:
    """Where runtime_test_models writes (or wrote) its models: ``directory``, default ``cache_dir``."""
    directory = directory or cache_dir("runtime-test-models")
    return {name: directory / file for name, file in RUNTIME_MODEL_FILES.items()}


def all_built(paths: dict[str, Path]) -> bool:
    """Every file there: each is written through a temporary name, so present means complete."""
    return all(path.is_file() for path in paths.values())
