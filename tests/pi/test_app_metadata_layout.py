"""The byte layout docs/capture-apps.md tells app developers to parse, re-implemented step by step.

The Kotlin and Swift snippets in the guide cannot be compiled here (no Android or iOS toolchain),
so this test follows the same steps in Python on a real exported-style model and checks that
they recover the metadata, and that the naive approach the guide warns about really fails.
"""
from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib

import pytest
from nima_edge.runtime.metadata import METADATA_ENTRY, ModelMetadata, embed_metadata, read_metadata_bytes

EOCD_SIGNATURE = b"PK\x05\x06"
LOCAL_HEADER_SIGNATURE = b"PK\x03\x04"


def find_eocd(data: bytes) -> int | None:
    """Step 1 of the guide: scan backwards over the last 22 + 65535 bytes for the EOCD signature."""
    lowest = max(0, len(data) - 22 - 0xFFFF)
    for i in range(len(data) - 22, lowest - 1, -1):
        if data[i:i + 4] == EOCD_SIGNATURE:
            return i
    return None


def archive_slice(data: bytes) -> bytes:
    """Step 2: archive start = EOCD position - central directory size - central directory offset."""
    eocd = find_eocd(data)
    assert eocd is not None
    cd_size, cd_offset = struct.unpack_from("<II", data, eocd + 12)
    start = eocd - cd_size - cd_offset
    assert start >= 0
    return data[start:]


def read_first_entry_like_a_stream(archive: bytes) -> tuple[str, bytes]:
    """Step 3, as ZipInputStream / the Swift snippet do: parse the local header, inflate raw DEFLATE."""
    assert archive[:4] == LOCAL_HEADER_SIGNATURE
    (method,) = struct.unpack_from("<H", archive, 8)
    (compressed_size,) = struct.unpack_from("<I", archive, 18)
    name_len, extra_len = struct.unpack_from("<HH", archive, 26)
    name = archive[30:30 + name_len].decode()
    body = archive[30 + name_len + extra_len:30 + name_len + extra_len + compressed_size]
    if method == 8:  # DEFLATE without zlib header: wbits=-15 (Apple's COMPRESSION_ZLIB is the same)
        return name, zlib.decompress(body, -15)
    assert method == 0
    return name, body


@pytest.fixture(scope="module")
def model_bytes(tiny_model) -> bytes:
    return tiny_model.read_bytes()


def test_guide_steps_recover_the_metadata(model_bytes):
    archive = archive_slice(model_bytes)
    name, document = read_first_entry_like_a_stream(archive)
    assert name == METADATA_ENTRY
    parsed = json.loads(document)
    assert parsed == read_metadata_bytes(model_bytes).to_dict()
    assert parsed["input_size"] == [64, 64] and parsed["color_order"] == "RGB"
    # A zip reader given only the slice sees an ordinary archive from its first byte.
    with zipfile.ZipFile(io.BytesIO(archive)) as plain:
        assert plain.namelist() == [METADATA_ENTRY]


def test_archive_starts_right_after_the_flatbuffer(model_bytes):
    archive = archive_slice(model_bytes)
    flatbuffer = model_bytes[:len(model_bytes) - len(archive)]
    assert flatbuffer[4:8] == b"TFL3"  # the flatbuffer's file identifier
    assert find_eocd(model_bytes) == len(model_bytes) - 22  # no archive comment: EOCD is the last 22 bytes


def test_streaming_from_the_start_finds_nothing(model_bytes):
    """Why ZipInputStream on the whole file fails: it expects a local header at byte 0."""
    assert model_bytes[:4] != LOCAL_HEADER_SIGNATURE
    # The recorded offsets count from the archive, not the file: used as absolute file
    # offsets (what a reader that does not correct for prepended data does) they miss.
    eocd = find_eocd(model_bytes)
    _, cd_offset = struct.unpack_from("<II", model_bytes, eocd + 12)
    assert model_bytes[cd_offset:cd_offset + 4] != b"PK\x01\x02"


def test_replacing_metadata_keeps_one_archive():
    """Re-embedding (e.g. after calibration) replaces the archive, so the guide's scan finds the new one."""
    base = b"\x1c\x00\x00\x00TFL3" + bytes(200)
    first = embed_metadata(base, ModelMetadata(threshold=4.0))
    second = embed_metadata(first, ModelMetadata(threshold=6.5))
    _, document = read_first_entry_like_a_stream(archive_slice(second))
    assert json.loads(document)["threshold"] == 6.5
    assert second.count(EOCD_SIGNATURE) == 1
