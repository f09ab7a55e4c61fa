"""The NIMA's spec: what a model is (backbone, width, input, view, score bins, defect labels), the
backbone table, and reading the spec back from a saved .keras — all without TensorFlow, so the CLI,
the training config and the export planner can validate a request before anything heavy loads.
The Keras model built from a spec is training/model.py.
"""
from __future__ import annotations

import dataclasses
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nima_edge.runtime.errors import ModelError, NimaError
from nima_edge.runtime.metadata import score_values_problem
from nima_edge.runtime.preprocess import resize_problem, view_problem
from nima_edge.runtime.strict import Coerce, float_tuple, parse_json, strict_kwargs

SPEC_ENTRY = "nima_spec.json"
MAX_SPEC_BYTES = 256 * 1024  # the spec is a few hundred bytes
DEFAULT_SCORE_VALUES: tuple[float, ...] = tuple(float(v) for v in range(1, 11))
IMAGE_INPUT = "image"
DISTRIBUTION_OUTPUT = "distribution"
DEFECTS_OUTPUT = "defects"


class SpecError(NimaError):
    """A model spec or training configuration with unknown keys or impossible values."""


class WeightsError(NimaError):
    """Base weights that cannot be found or loaded (e.g. ImageNet weights missing from the cache)."""


def rate_problem(name: str, rate: Any) -> str | None:
    """Why ``rate`` cannot be the share ``name`` (a number in [0, 1)), or None when it can."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        return f"{name} must lie in [0, 1), got {rate!r}"
    return None


def dropout_problem(rate: Any) -> str | None:
    """Why ``rate`` cannot be the head's dropout, or None when it can: the spec's and the training
    config's one check."""
    return rate_problem("dropout", rate)


@dataclass(frozen=True)
class Backbone:
    """How to build one keras.applications backbone and where its ImageNet weights live."""

    name: str
    constructor: str  # attribute of keras.applications
    own_preprocessing: bool  # MobileNetV3 rescales inside itself (include_preprocessing)
    imagenet_alphas: tuple[float, ...]
    imagenet_sizes: tuple[int, ...]  # sizes with their own weight files; others load the 224 file

    def weights_file(self, alpha: float, input_size: int) -> str:
        """The file name keras.applications looks for in <KERAS_HOME>/models for ImageNet weights."""
        rows = input_size if input_size in self.imagenet_sizes else 224
        if self.name == "mobilenet":
            alpha_text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0"}.get(float(alpha), "2_5")
            return f"mobilenet_{alpha_text}_{rows}_tf_no_top.h5"
        if self.name == "mobilenet_v2":
            return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}_no_top.h5"
        kind = self.name.rsplit("_", 1)[-1]  # small | large
        return f"weights_mobilenet_v3_{kind}_224_{float(alpha)}_float_no_top_v2.h5"

    def weights_url(self, alpha: float, input_size: int) -> str:
        folder = {"mobilenet": "mobilenet", "mobilenet_v2": "mobilenet_v2"}.get(self.name, "mobilenet_v3")
        return f"https://storage.googleapis.com/tensorflow/keras-applications/{folder}/" + self.weights_file(
            alpha, input_size)


BACKBONES: dict[str, Backbone] = {
    b.name: b
    for b in (
        Backbone("mobilenet", "MobileNet", False, (0.25, 0.5, 0.75, 1.0), (128, 160, 192, 224)),
        Backbone("mobilenet_v2", "MobileNetV2", False, (0.35, 0.5, 0.75, 1.0, 1.3, 1.4),
                 (96, 128, 160, 192, 224)),
        Backbone("mobilenet_v3_small", "MobileNetV3Small", True, (0.75, 1.0), ()),
        Backbone("mobilenet_v3_large", "MobileNetV3Large", True, (0.75, 1.0), ()),
    )
}


@dataclass(frozen=True)
class NimaSpec:
    """Everything needed to rebuild a NIMA and to read its outputs.

    ``input_size`` is the side of the square input in pixels. ``score_values`` are the values of
    the bins, in order (default 1..10). ``defect_labels`` name the sigmoid outputs of the optional
    ``defects`` head (see nima_edge.runtime.defects). ``mirror_average``: the model was trained on
    mirrored copies, so it is scored on the input and its mirror (the metadata's field of that
    name). ``provenance`` records where the weights came
    from (dataset, run, epochs, metrics); it is informational and never changes the graph.
    """

    backbone: str = "mobilenet_v2"
    alpha: float = 1.0
    input_size: int = 224
    score_values: tuple[float, ...] = DEFAULT_SCORE_VALUES
    dropout: float = 0.75
    defect_labels: tuple[str, ...] = ()
    threshold: float = 5.0
    mirror_average: bool = False
    resize: str = "area"
    view: str = "frame"  # see nima_edge.runtime.preprocess.VIEWS
    color_order: str = "RGB"
    name: str = "nima"
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise SpecError(f"unknown backbone {self.backbone!r}; choose from {', '.join(BACKBONES)}")
        if not (isinstance(self.alpha, (int, float)) and 0 < self.alpha <= 4):
            raise SpecError(f"alpha must be a number in (0, 4], got {self.alpha!r}")
        if not (isinstance(self.input_size, int) and 32 <= self.input_size <= 2048):
            raise SpecError(f"input_size must be an integer in 32..2048, got {self.input_size!r}")
        values = self.score_values
        problem = score_values_problem(values)
        if problem:
            raise SpecError(problem)
        dropout = dropout_problem(self.dropout)
        if dropout:
            raise SpecError(dropout)
        if len(set(self.defect_labels)) != len(self.defect_labels) or not all(
                isinstance(x, str) and x for x in self.defect_labels):
            raise SpecError(f"defect_labels must be distinct non-empty names, got {list(self.defect_labels)}")
        if not values[0] <= self.threshold <= values[-1]:
            raise SpecError(f"threshold {self.threshold} lies outside the score range {values[0]}..{values[-1]}")
        problem = resize_problem(self.resize) or view_problem(self.view, self.input_size, self.input_size)
        if problem:
            raise SpecError(problem)
        if self.color_order != "RGB":
            raise SpecError(f"a Keras NIMA takes RGB input, got color_order {self.color_order!r}")
        if not isinstance(self.provenance, dict):
            raise SpecError("provenance must be a JSON object")
        if not isinstance(self.mirror_average, bool):
            raise SpecError(f"mirror_average must be true or false, got {self.mirror_average!r}")

    @property
    def bins(self) -> int:
        return len(self.score_values)

    @property
    def input_hw(self) -> tuple[int, int]:
        return (self.input_size, self.input_size)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["score_values"] = list(self.score_values)
        data["defect_labels"] = list(self.defect_labels)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> NimaSpec:
        """Build from parsed JSON; unknown keys and wrong types are errors, never ignored."""
        return cls(**strict_kwargs(cls, data, what="model spec", error=SpecError, coerce=_SPEC_COERCE))

    def replace(self, **changes: Any) -> NimaSpec:
        return dataclasses.replace(self, **changes)


def _defect_labels(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):  # a string is iterable: "blur" would become five labels
        raise TypeError("defect_labels must be a list of names")
    return tuple(str(v) for v in value)


def _integer(name: str) -> Coerce:
    def check(value: Any) -> int:
        if not isinstance(value, int):
            raise TypeError(f"{name} must be an integer, got {value!r}")
        return value
    return check


# How each JSON field becomes a NimaSpec field (strict_kwargs); __post_init__ checks the values.
_SPEC_COERCE: dict[str, Coerce] = {
    "score_values": float_tuple,
    "defect_labels": _defect_labels,
    "alpha": float,
    "dropout": float,
    "threshold": float,
    "input_size": _integer("input_size"),
}


def read_spec(path: str | os.PathLike) -> NimaSpec:
    """The NimaSpec stored in a .keras file (no TensorFlow needed)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                document = archive.read(SPEC_ENTRY)
            except KeyError:
                raise ModelError(f"{path}: not a nima-edge model (no {SPEC_ENTRY} inside; save it with "
                                 f"nima train)") from None
    except zipfile.BadZipFile:
        raise ModelError(f"{path}: not a .keras file (not a zip archive)") from None
    try:
        return NimaSpec.from_dict(parse_json(document, MAX_SPEC_BYTES))
    except ValueError as exc:
        raise ModelError(f"{path}: {SPEC_ENTRY} is not valid JSON: {exc}") from None
    except SpecError as exc:
        raise ModelError(f"{path}: {exc}") from None
