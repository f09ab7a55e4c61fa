"""Shared test setup and the fixtures more than one test folder uses. Other TensorFlow-heavy
fixtures live in each stage's own test folder."""
import os
from pathlib import Path

import pytest
from nima_edge.export.tiny_cache import all_built, runtime_model_paths

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")


@pytest.fixture(scope="session")
def tiny_models() -> dict[str, Path]:
    """Paths of the cached tiny NIMA models (runtime and archive tests): 'keras', 'float', 'int8',
    'bare' and the broken ones; see nima_edge.export.tiny_models.runtime_test_models."""
    paths = runtime_model_paths()
    if all_built(paths):
        return paths
    # Only a cache miss loads TensorFlow (tiny_models imports it at its top): a second session,
    # or a machine with the cache, runs the runtime and archive tests without it.
    from nima_edge.export.tiny_models import runtime_test_models

    return runtime_test_models()


@pytest.fixture(scope="session")
def float_model(tiny_models) -> Path:
    return tiny_models["float"]


@pytest.fixture(scope="session")
def int8_model(tiny_models) -> Path:
    return tiny_models["int8"]
