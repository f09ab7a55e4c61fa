"""Bounded fuzzing of the parsers that meet untrusted bytes: images and model metadata.

The property: our own error (ImageError / MetadataError) or a valid result — never another
exception, never a hang (pytest-timeout guards each test).
"""
import io
import json
import os
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nima_edge.runtime import (
    ImageError,
    MetadataError,
    ModelError,
    ModelMetadata,
    Scorer,
    decode_image,
    embed_metadata,
)
from nima_edge.runtime.images import image_header
from nima_edge.runtime.metadata import METADATA_ENTRY, read_metadata_bytes, strip_metadata

# Random locally (to keep finding new cases), a fixed sequence in CI (a red CI must be reproducible).
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=os.environ.get("CI") == "true", database=None)

_rng = np.random.default_rng(3)
_picture = cv2.GaussianBlur(_rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), (5, 5), 0)
SEEDS = {suffix: cv2.imencode(suffix, _picture)[1].tobytes() for suffix in (".jpg", ".png", ".bmp", ".webp", ".tif")}


def _decode_or_own_error(data: bytes) -> None:
    try:
        image = decode_image(data, name="fuzz")
    except ImageError as exc:
        assert str(exc).startswith("fuzz: ")
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


@pytest.mark.timeout(120)
@FUZZ
@given(st.binary(max_size=4096))
def test_decode_random_bytes(data):
    _decode_or_own_error(data)
    header = image_header(data)
    assert header is None or (isinstance(header[1], int) and isinstance(header[2], int))


@pytest.mark.timeout(120)
@FUZZ
@given(
    st.sampled_from(sorted(SEEDS)),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
    st.one_of(st.none(), st.integers(0, 10**6)),
)
def test_decode_mutated_images(suffix, flips, cut):
    data = bytearray(SEEDS[suffix])
    for position, value in flips:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % len(data)]
    _decode_or_own_error(bytes(data))


def _zip(document: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA_ENTRY, document)
    return buffer.getvalue()


SEED_MODEL = embed_metadata(b"TFL3" + bytes(200), ModelMetadata())
SEED_METADATA = read_metadata_bytes(SEED_MODEL)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=15), children, max_size=5),
    max_leaves=20,
)
metadata_keys = st.sampled_from([
    "score_values", "input_size", "color_order", "resize", "threshold", "distribution_output",
    "extra_outputs", "quantization", "name", "calibration", "training", "fidelity", "format", "bogus",
])


@pytest.mark.timeout(120)
@FUZZ
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
       st.one_of(st.none(), st.integers(0, 10**6)))
def test_metadata_archive_mutations(flips, cut):
    data = bytearray(SEED_MODEL)
    for position, value in flips:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % len(data)]
    try:
        result = read_metadata_bytes(bytes(data))
    except MetadataError:
        return
    # a damaged model is refused or reads exactly as it was (the bytes hit were not used): never a
    # different document, and "no metadata" only once every trace of the archive is gone
    assert result == SEED_METADATA or (result is None and METADATA_ENTRY.encode() not in data)


@pytest.mark.timeout(120)
@FUZZ
@given(st.dictionaries(metadata_keys, json_values, max_size=6))
def test_metadata_documents(document):
    base = ModelMetadata().to_dict()
    base.update(document)
    try:
        text = json.dumps(base).encode()
    except (ValueError, TypeError):
        return
    try:
        result = read_metadata_bytes(b"TFL3" + _zip(text))
    except MetadataError:
        return
    assert isinstance(result, ModelMetadata)


BUNDLED = Path(__file__).resolve().parents[2] / "models" / "default.tflite"
BUNDLED_METADATA = read_metadata_bytes(BUNDLED.read_bytes())


@pytest.mark.timeout(300)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true", database=None)
@given(st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=4),
       st.one_of(st.none(), st.floats(0.5, 1, exclude_max=True)))
def test_a_mutated_bundled_model_is_refused_or_unchanged(tmp_path_factory, flips, cut):
    """Bytes of models/default.tflite flipped or cut: the model is refused at load (its archive or
    the flatbuffer's digest no longer checks out, or what is left is no model), or the bytes hit
    were ones nothing reads and it loads exactly as shipped. Never a quiet fallback to defaults."""
    original = BUNDLED.read_bytes()
    data = bytearray(original)
    for where, xor in flips:
        data[int(where * len(data))] ^= xor
    if cut is not None:
        data = data[: int(cut * len(data))]
    path = tmp_path_factory.mktemp("mutated") / "model.tflite"
    path.write_bytes(bytes(data))
    try:
        scorer = Scorer(path, threads=1)
    except ModelError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    assert scorer.metadata == BUNDLED_METADATA
    assert strip_metadata(bytes(data)) == strip_metadata(original)  # the weights are the shipped ones
