"""Bad model files are refused at load with one clear message naming the file."""
import io
import json
import struct
import zipfile

import pytest
from nima_edge.runtime import MetadataError, ModelError, ModelMetadata, Scorer, embed_metadata, read_metadata
from nima_edge.runtime.metadata import MAX_METADATA_BYTES, METADATA_ENTRY, read_metadata_bytes, strip_metadata


def _with_document(model_bytes: bytes, document: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA_ENTRY, document)
    return strip_metadata(model_bytes) + buffer.getvalue()


@pytest.mark.parametrize("content", [b"", b"not a model at all\n", b"\x00" * 4096, b"TFL3" + b"\xff" * 500])
def test_corrupt_tflite(tmp_path, content):
    path = tmp_path / "broken.tflite"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=rf"^{path}: "):
        Scorer(path)


def test_truncated_tflite(tmp_path, float_model):
    path = tmp_path / "half.tflite"
    path.write_bytes(float_model.read_bytes()[:5000])
    with pytest.raises(ModelError, match=rf"^{path}: "):
        Scorer(path)


def test_missing_and_directory(tmp_path):
    with pytest.raises(ModelError, match="no such model file"):
        Scorer(tmp_path / "nope.tflite")
    with pytest.raises(ModelError, match="is a directory"):
        Scorer(tmp_path)


def test_models_that_are_not_nimas(tiny_models):
    with pytest.raises(ModelError, match=r"no output of shape \(1, 10\)"):
        Scorer(tiny_models["wrong_output"])
    with pytest.raises(ModelError, match=r"expected an input of shape \(1, H, W, 3\), got \(1, 64, 64, 1\)"):
        Scorer(tiny_models["wrong_input"])


def test_metadata_that_disagrees_with_the_tensors(tmp_path, float_model):
    path = tmp_path / "lie.tflite"
    path.write_bytes(embed_metadata(float_model.read_bytes(), ModelMetadata(input_size=(224, 224))))
    with pytest.raises(ModelError, match=r"metadata says input \(224, 224\), the model takes \(64, 64\)"):
        Scorer(path)
    path.write_bytes(embed_metadata(float_model.read_bytes(),
                                    ModelMetadata(input_size=(64, 64), score_values=tuple(range(1, 6)), threshold=3)))
    with pytest.raises(ModelError, match=r"distribution output has shape \(1, 10\), expected \(1, 5\)"):
        Scorer(path)


@pytest.mark.parametrize("document, message", [
    ({"score_values": []}, "score_values must have 2..1000 entries, got 0"),
    ({"score_values": list(range(5000))}, "score_values must have 2..1000 entries"),
    ({"input_size": [100000, 100000]}, "input_size must be two integers in 16..2048"),
    ({"input_size": [224]}, "input_size must be two integers"),
    ({"threshold": 50}, "lies outside the score range"),
    ({"score_values": [3, 2, 1]}, "strictly increasing"),
    ({"score_values": ["a", "b"]}, "malformed metadata"),
    ({"colour_order": "RGB"}, "unknown metadata keys: colour_order"),
    ({"format": "other/9"}, "unknown metadata format"),
    ([1, 2, 3], "must be a JSON object"),
])
def test_malformed_and_absurd_metadata(tmp_path, float_model, document, message):
    path = tmp_path / "bad.tflite"
    path.write_bytes(_with_document(float_model.read_bytes(), json.dumps(document).encode()))
    with pytest.raises(MetadataError, match=message):
        Scorer(path)
    with pytest.raises(MetadataError, match=rf"^{path}: "):
        read_metadata(path)


def test_metadata_not_json(tmp_path, float_model):
    path = tmp_path / "bad.tflite"
    path.write_bytes(_with_document(float_model.read_bytes(), b"{not json"))
    with pytest.raises(MetadataError, match="not valid JSON"):
        Scorer(path)


def test_oversized_metadata_is_refused(tmp_path, float_model):
    big = json.dumps({"training": {"notes": "x" * (MAX_METADATA_BYTES + 10)}}).encode()
    path = tmp_path / "big.tflite"
    path.write_bytes(_with_document(float_model.read_bytes(), big))
    with pytest.raises(MetadataError, match="over the 262144-byte limit"):
        Scorer(path)


def test_zip_bomb_with_a_lying_size_header_is_refused(float_model):
    """The entry says it is 100 bytes; it inflates to 50 MB. Reading stops past the limit."""
    payload = b"{" + b" " * (50 * 2**20)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA_ENTRY, payload)
    archive_bytes = bytearray(buffer.getvalue())
    # Patch the uncompressed size in the local header (offset 22) and the central directory.
    struct.pack_into("<I", archive_bytes, 22, 100)
    central = archive_bytes.rfind(b"PK\x01\x02")
    struct.pack_into("<I", archive_bytes, central + 24, 100)
    model = strip_metadata(float_model.read_bytes()) + bytes(archive_bytes)
    with pytest.raises(MetadataError):
        read_metadata_bytes(model)


def test_missing_metadata_reads_as_none(tiny_models):
    assert read_metadata(tiny_models["bare"]) is None
    assert read_metadata(tiny_models["float"]).extra_outputs["defects"][0] == "defocus"


def _signed(float_model) -> bytes:
    """The test model with metadata embedded by this runtime (so it records the flatbuffer's digest)."""
    return embed_metadata(float_model.read_bytes(), read_metadata(float_model))


@pytest.mark.parametrize("damage", ["cut 10 bytes", "cut into the archive", "flip a bit near the end",
                                    "flip a weight"])
def test_a_damaged_model_is_refused_not_run_with_defaults(tmp_path, float_model, damage):
    data = bytearray(_signed(float_model))
    archive_start = len(strip_metadata(bytes(data)))
    if damage == "cut 10 bytes":
        data = data[:-10]
    elif damage == "cut into the archive":
        data = data[:archive_start + 200]
    elif damage == "flip a bit near the end":
        data[-30] ^= 0x01
    else:
        data[archive_start // 2] ^= 0x10
    path = tmp_path / "damaged.tflite"
    path.write_bytes(bytes(data))
    with pytest.raises(MetadataError, match=rf"^{path}: .*damaged") as info:
        Scorer(path)
    assert "\n" not in str(info.value)


def test_the_metadata_records_the_flatbuffer_digest(float_model):
    import hashlib

    signed = _signed(float_model)
    meta = read_metadata_bytes(signed)
    assert meta.model_sha256 == hashlib.sha256(strip_metadata(signed)).hexdigest()
    # re-embedding (a new threshold) signs the same flatbuffer again
    again = embed_metadata(signed, meta.replace(threshold=4.0))
    assert read_metadata_bytes(again).model_sha256 == meta.model_sha256


def test_a_bare_model_warns_once_and_only_after_it_loads(tmp_path, tiny_models, caplog):
    caplog.set_level("WARNING")
    Scorer(tiny_models["bare"])
    assert sum("no nima-edge metadata" in r.getMessage() for r in caplog.records) == 1
    caplog.clear()
    junk = tmp_path / "random.tflite"
    junk.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(ModelError, match="not a loadable TFLite model"):
        Scorer(junk)
    assert not any("no nima-edge metadata" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("document, message", [
    (b"[" * 1000 + b"]" * 1000, "nested deeper than"),
    (json.dumps({"name": "x", "training": {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}).encode(), "nested deeper than"),
    (json.dumps({"extra_outputs": "defects"}).encode(), "must map each output name to a list of labels"),
    (json.dumps({"extra_outputs": {"defects": "blur"}}).encode(), "must map each output name to a list of labels"),
    (json.dumps({"mirror_average": "yes"}).encode(), "mirror_average.*must be true or false"),
    (json.dumps({"mirror_average": 1}).encode(), "mirror_average.*must be true or false"),
])
def test_hostile_metadata_documents(tmp_path, float_model, document, message):
    path = tmp_path / "hostile.tflite"
    path.write_bytes(_with_document(float_model.read_bytes(), document))
    with pytest.raises(MetadataError, match=message):
        Scorer(path)


def test_the_interpreters_own_lines_are_kept_off_stderr(float_model, capfd, caplog):
    caplog.set_level("INFO")
    Scorer(float_model, threads=1)
    assert "XNNPACK" not in capfd.readouterr().err
    assert all(r.getMessage().startswith(str(float_model)) for r in caplog.records if "XNNPACK" in r.getMessage())


def test_a_model_without_a_fixed_input_size_is_an_error_naming_it(tiny_models):
    path = tiny_models["dynamic_input"]
    with pytest.raises(ModelError, match=rf"^{path}: input_size must be two integers in 16..2048, got \(1, 1\)$"):
        Scorer(path)


def test_mirror_average_must_be_a_boolean_however_the_metadata_is_made():
    """Built in code as well as read from JSON: a string "false" would be truthy and mirror."""
    for value in ("false", 1, None):
        with pytest.raises(MetadataError, match="mirror_average must be true or false"):
            ModelMetadata(mirror_average=value)
    assert ModelMetadata(mirror_average=True).mirror_average is True
