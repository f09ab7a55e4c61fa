"""The JSON metadata a nima-edge .tflite carries inside itself.

The document is stored as ``nima_metadata.json`` in a small zip archive appended to the
flatbuffer — the same trick the TFLite Support metadata uses for associated files. Interpreters
ignore trailing bytes, and any zip reader finds the archive from the end of the file, so one file
carries its preprocessing, its score scale and its fidelity report, readable without TensorFlow.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import json
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import MetadataError
from .preprocess import resize_problem, view_problem
from .strict import Coerce, FieldProblem, float_tuple, of_kind, parse_json, strict_kwargs

METADATA_ENTRY = "nima_metadata.json"
METADATA_FORMAT = "nima-edge/1"
MAX_METADATA_BYTES = 256 * 1024  # the real document is a few kB; anything larger is refused
MAX_BINS = 1000
INPUT_SIZE_RANGE = (16, 2048)


def score_values_problem(values: tuple[float, ...]) -> str | None:
    """Why ``values`` cannot be a model's score bins, or None: the one check behind the model spec
    (training) and the metadata (runtime)."""
    if not 2 <= len(values) <= MAX_BINS:
        return f"score_values must have 2..{MAX_BINS} entries, got {len(values)}"
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        return "score_values must be finite numbers"
    if any(b <= a for a, b in itertools.pairwise(values)):
        return "score_values must be strictly increasing"
    return None


@dataclass(frozen=True)
class ModelMetadata:
    """What a runtime must know about a model besides its tensors."""

    score_values: tuple[float, ...] = tuple(float(v) for v in range(1, 11))
    input_size: tuple[int, int] = (224, 224)  # (height, width)
    color_order: str = "RGB"
    resize: str = "area"
    view: str = "frame"  # see nima_edge.runtime.preprocess.VIEWS
    threshold: float = 5.0
    # Trained on mirrored copies (the flip augmentation): the score is the mean of the outputs for
    # the input and for its mirror (preprocess.mirror_input), which steadies a verdict that one
    # pass leaves to chance. Off for a model whose metadata does not say so.
    mirror_average: bool = False
    distribution_output: str = "distribution"
    extra_outputs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # output name -> labels
    quantization: str = "float32"
    name: str = "nima"
    calibration: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    fidelity: dict[str, Any] = field(default_factory=dict)
    model_sha256: str = ""  # of the flatbuffer before the archive: a damaged file is refused, not run
    format: str = METADATA_FORMAT

    def __post_init__(self) -> None:
        values = self.score_values
        problem = score_values_problem(values)
        if problem:
            raise MetadataError(problem)
        low, high = INPUT_SIZE_RANGE
        if len(self.input_size) != 2 or not all(
            isinstance(s, int) and low <= s <= high for s in self.input_size
        ):
            raise MetadataError(f"input_size must be two integers in {low}..{high}, got {self.input_size}")
        if self.color_order not in ("RGB", "BGR"):
            raise MetadataError(f"color_order must be RGB or BGR, got {self.color_order!r}")
        problem = resize_problem(self.resize) or view_problem(self.view, *self.input_size)
        if problem:
            raise MetadataError(problem)
        if not isinstance(self.mirror_average, bool):  # a string "false" would read as true
            raise MetadataError(f"mirror_average must be true or false, got {self.mirror_average!r}")
        if not (isinstance(self.threshold, (int, float)) and values[0] <= self.threshold <= values[-1]):
            raise MetadataError(f"threshold {self.threshold!r} lies outside the score range {values[0]}..{values[-1]}")
        if self.format != METADATA_FORMAT:
            raise MetadataError(f"unknown metadata format {self.format!r}; this runtime reads {METADATA_FORMAT}")

    @property
    def bins(self) -> int:
        return len(self.score_values)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["score_values"] = list(self.score_values)
        data["input_size"] = list(self.input_size)
        data["extra_outputs"] = {k: list(v) for k, v in self.extra_outputs.items()}
        return data

    @classmethod
    def from_dict(cls, data: Any) -> ModelMetadata:
        """Build from a parsed JSON object; unknown keys and wrong types are errors, not ignored."""
        return cls(**strict_kwargs(cls, data, what="metadata", error=MetadataError, coerce=_COERCE, article=""))

    def replace(self, **changes: Any) -> ModelMetadata:
        return dataclasses.replace(self, **changes)


def _extra_outputs(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in value.values()):
        raise FieldProblem("must map each output name to a list of labels")
    return {str(k): tuple(str(x) for x in v) for k, v in value.items()}


# How each JSON field becomes a ModelMetadata field (strict_kwargs); the values are checked by
# __post_init__. JSON has no tuples, so the sequences arrive as lists.
_COERCE: dict[str, Coerce] = {
    "score_values": float_tuple,
    "input_size": tuple,
    "threshold": float,
    "mirror_average": of_kind(bool, "must be true or false"),
    "extra_outputs": _extra_outputs,
    **{name: of_kind(dict, "must be an object") for name in ("calibration", "training", "fidelity")},
    **{name: of_kind(str, "must be a string") for name in ("color_order", "resize", "view", "distribution_output",
                                                           "quantization", "name", "model_sha256", "format")},
}


def strip_metadata(model_bytes: bytes) -> bytes:
    """The flatbuffer without any appended metadata archive."""
    archive = _open_archive(model_bytes)
    if archive is None:
        return model_bytes
    with archive:
        start = min(info.header_offset for info in archive.infolist())
    return model_bytes[:start]


def embed_metadata(model_bytes: bytes, metadata: ModelMetadata) -> bytes:
    """Return the model with ``metadata`` appended (replacing metadata already there)."""
    base = strip_metadata(model_bytes)
    metadata = metadata.replace(model_sha256=hashlib.sha256(base).hexdigest())  # checked at every load
    document = json.dumps(metadata.to_dict(), indent=1, sort_keys=True).encode()
    if len(document) > MAX_METADATA_BYTES:
        raise MetadataError(f"metadata is {len(document)} bytes, over the {MAX_METADATA_BYTES}-byte limit")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA_ENTRY, document)
    # zipfile records offsets relative to the archive; readers correct for the prefix length.
    return base + buffer.getvalue()


def read_metadata_bytes(model_bytes: bytes) -> ModelMetadata | None:
    """Parse the metadata from model bytes; None when the model has none.

    Only a model with no trace of the archive is a bare one. A file whose archive is there but
    unreadable (cut short, a flipped bit), or whose flatbuffer no longer matches the digest its
    metadata records, is damaged: running it with default settings would score every frame
    wrongly and quietly, so it is refused.
    """
    archive = _open_archive(model_bytes)
    if archive is None:
        if _has_archive_traces(model_bytes):
            raise MetadataError("metadata archive is damaged (the file was cut short or altered); "
                                "re-export or re-download the model")
        return None
    with archive:
        try:
            info = archive.getinfo(METADATA_ENTRY)
        except KeyError:
            if _has_archive_traces(model_bytes):
                raise MetadataError(f"metadata archive is damaged (no readable {METADATA_ENTRY})") from None
            return None  # another tool's archive (e.g. TFLite Support's associated files)
        start = min(item.header_offset for item in archive.infolist())
        if info.file_size > MAX_METADATA_BYTES:
            raise MetadataError(f"metadata entry declares {info.file_size} bytes, over the {MAX_METADATA_BYTES}-byte limit")
        try:
            with archive.open(info) as stream:
                # Read one byte past the limit: a lying size header (zip bomb) is caught here.
                document = stream.read(MAX_METADATA_BYTES + 1)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError,
                ValueError) as exc:
            raise MetadataError(f"metadata archive is corrupt: {exc}") from None
    if len(document) > MAX_METADATA_BYTES:
        raise MetadataError(f"metadata is larger than the {MAX_METADATA_BYTES}-byte limit")
    try:
        data = parse_json(document, MAX_METADATA_BYTES)
    except ValueError as exc:
        raise MetadataError(f"metadata is not valid JSON: {exc}") from None
    metadata = ModelMetadata.from_dict(data)
    if metadata.model_sha256 and hashlib.sha256(model_bytes[:start]).hexdigest() != metadata.model_sha256:
        raise MetadataError("the model's bytes do not match the SHA-256 its metadata records: the file is damaged; "
                            "re-export or re-download it")
    return metadata


def _has_archive_traces(model_bytes: bytes) -> bool:
    """True when the metadata entry's name is still in the file: an archive was there."""
    return model_bytes.rfind(METADATA_ENTRY.encode()) != -1


def read_metadata(path: str | Path) -> ModelMetadata | None:
    """Read the metadata of a .tflite file; None when it has none. Errors name the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MetadataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return read_metadata_bytes(data)
    except MetadataError as exc:
        raise MetadataError(f"{path}: {exc}") from None


def _open_archive(model_bytes: bytes) -> zipfile.ZipFile | None:
    try:
        return zipfile.ZipFile(io.BytesIO(model_bytes))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, IndexError):
        return None
    except (NotImplementedError, UnicodeDecodeError, struct.error, KeyError) as exc:
        # A zip directory is there but it is damaged or exotic: that is a broken model, not a bare one.
        raise MetadataError(f"metadata archive is corrupt: {exc}") from None
