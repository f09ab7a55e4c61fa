"""The Keras NIMA: a MobileNet backbone, global pooling, dropout and a softmax over score bins.

The model takes raw uint8 RGB pixels in one input named ``image``; the backbone's normalisation
lives inside the graph, so every later stage (export, calibration, runtime) feeds what
``nima_edge.runtime.preprocess.preprocess`` returns and nothing else. The backbone is built on
our input tensor (``input_tensor=``), so its layers sit flat in the NIMA graph instead of inside a
nested sub-model: export's QAT path copies the weights into a flat tf_keras twin of this model.

A saved model is a normal ``.keras`` zip with one extra entry, ``nima_spec.json``: the spec (score
values, input size, defect labels, provenance) travels with the weights. Keras ignores the entry.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nima_edge.runtime.errors import ModelError, NimaError
from nima_edge.runtime.fileio import atomic_output
from nima_edge.runtime.metadata import score_values_problem
from nima_edge.runtime.preprocess import resize_problem, view_problem
from nima_edge.runtime.strict import parse_json, unknown_keys

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


def dropout_problem(rate: Any) -> str | None:
    """Why ``rate`` cannot be the head's dropout, or None when it can: the spec's and the training
    config's one check."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        return f"dropout must lie in [0, 1), got {rate!r}"
    return None


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
    ``defects`` head (see nima_edge.runtime.defects). ``provenance`` records where the weights came
    from (dataset, run, epochs, metrics); it is informational and never changes the graph.
    """

    backbone: str = "mobilenet_v2"
    alpha: float = 1.0
    input_size: int = 224
    score_values: tuple[float, ...] = DEFAULT_SCORE_VALUES
    dropout: float = 0.75
    defect_labels: tuple[str, ...] = ()
    threshold: float = 5.0
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
        if not isinstance(data, dict):
            raise SpecError(f"a model spec must be a JSON object, got {type(data).__name__}")
        unknown = unknown_keys(cls, data)
        if unknown:
            raise SpecError(f"unknown model spec keys: {', '.join(unknown)}")
        kwargs = dict(data)
        try:
            if "score_values" in kwargs:
                kwargs["score_values"] = tuple(float(v) for v in kwargs["score_values"])
            if "defect_labels" in kwargs:
                if isinstance(kwargs["defect_labels"], str):
                    raise TypeError("defect_labels must be a list of names")
                kwargs["defect_labels"] = tuple(str(v) for v in kwargs["defect_labels"])
            for name in ("alpha", "dropout", "threshold"):
                if name in kwargs:
                    kwargs[name] = float(kwargs[name])
            if "input_size" in kwargs and not isinstance(kwargs["input_size"], int):
                raise TypeError(f"input_size must be an integer, got {kwargs['input_size']!r}")
        except (TypeError, ValueError) as exc:
            raise SpecError(f"malformed model spec: {exc}") from None
        return cls(**kwargs)

    def replace(self, **changes: Any) -> NimaSpec:
        return dataclasses.replace(self, **changes)


def imagenet_weights_path(spec: NimaSpec) -> Path:
    """Where keras.applications expects the backbone's ImageNet weights (its cache)."""
    try:  # the folder keras settled on when it was imported (KERAS_HOME or ~/.keras)
        from keras.src.backend.config import keras_home

        home = os.path.expanduser(keras_home())
    except ImportError:
        home = os.path.expanduser(os.environ.get("KERAS_HOME", os.path.join("~", ".keras")))
    if not os.access(home, os.W_OK):  # keras.utils.get_file falls back the same way
        home = os.path.join(tempfile.gettempdir(), ".keras")
    return Path(home) / "models" / BACKBONES[spec.backbone].weights_file(spec.alpha, spec.input_size)


def check_base_weights(spec: NimaSpec, base_weights: str | os.PathLike | None) -> str | None:
    """'none' -> None; 'imagenet' -> 'imagenet' if the cache file exists; PATH -> that file."""
    if base_weights is None or str(base_weights) == "none":
        return None
    backbone = BACKBONES[spec.backbone]
    if str(base_weights) == "imagenet":
        if float(spec.alpha) not in backbone.imagenet_alphas:
            raise WeightsError(
                f"{spec.backbone} has ImageNet weights only for alpha {', '.join(map(str, backbone.imagenet_alphas))}; "
                f"got alpha {spec.alpha} (use --base-weights none)")
        expected = imagenet_weights_path(spec)
        if not expected.is_file():
            raise WeightsError(
                f"ImageNet weights for {spec.backbone} alpha {spec.alpha} are not in the Keras cache: expected "
                f"{expected}. Download {backbone.weights_url(spec.alpha, spec.input_size)} on a machine with "
                f"network access and copy it there, pass the file with --base-weights PATH, or use --base-weights none")
        return "imagenet"
    path = Path(base_weights)
    if not path.is_file():
        raise WeightsError(f"{path}: base weights file not found (expected an .h5 of {spec.backbone} "
                           f"weights without the top, 'imagenet' or 'none')")
    return str(path)


def build_nima(spec: NimaSpec, base_weights: str | os.PathLike | None = "none"):
    """Build the NIMA described by ``spec`` -> keras.Model.

    Input ``image``: (None, S, S, 3) uint8 RGB. Outputs: {"distribution": softmax over the bins}
    plus {"defects": sigmoid per defect label} when the spec names defect labels.
    ``base_weights``: "none" (random init), "imagenet" (from the Keras cache, never downloaded) or
    the path of a backbone weights file (.h5 without the top).
    """
    import keras

    weights = check_base_weights(spec, base_weights)
    backbone = BACKBONES[spec.backbone]
    image = keras.Input(shape=(spec.input_size, spec.input_size, 3), dtype="uint8", name=IMAGE_INPUT)
    if backbone.own_preprocessing:
        # MobileNetV3's include_preprocessing Rescaling casts the uint8 pixels itself.
        features_in = image
        extra = {"include_preprocessing": True}
    else:
        # MobileNet v1/v2 expect pixels in [-1, 1].
        features_in = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="pixel_scaling")(image)
        extra = {}
    constructor = getattr(keras.applications, backbone.constructor)
    try:
        trunk = constructor(input_tensor=features_in, include_top=False, weights=weights, alpha=spec.alpha,
                            pooling="avg", **extra)
    except (ValueError, OSError) as exc:
        if weights not in (None, "imagenet"):
            raise WeightsError(f"{weights}: cannot load as {spec.backbone} alpha {spec.alpha} weights: "
                               f"{str(exc).splitlines()[0]}") from None
        raise SpecError(f"cannot build {spec.backbone} alpha {spec.alpha} at {spec.input_size} px: "
                        f"{str(exc).splitlines()[0]}") from None
    pooled = trunk.output
    dropped = keras.layers.Dropout(spec.dropout, name="head_dropout")(pooled)
    outputs = {DISTRIBUTION_OUTPUT: keras.layers.Dense(spec.bins, activation="softmax",
                                                       name=DISTRIBUTION_OUTPUT)(dropped)}
    if spec.defect_labels:
        outputs[DEFECTS_OUTPUT] = keras.layers.Dense(len(spec.defect_labels), activation="sigmoid",
                                                     name=DEFECTS_OUTPUT)(dropped)
    return keras.Model(inputs=image, outputs=outputs, name=f"nima_{spec.backbone}")


HEAD_LAYERS = ("head_dropout", DISTRIBUTION_OUTPUT, DEFECTS_OUTPUT)


def copy_matching_weights(source, target) -> tuple[list[str], list[str]]:
    """Copy each weighted layer of ``source`` into the same-named layer of ``target`` when every
    array's shape matches -> (names copied, names of target layers left as they were).

    A head over other bins or other defect labels keeps its fresh weights; the caller decides
    whether what was copied is enough.
    """
    by_name = {layer.name: layer for layer in source.layers}
    copied, kept = [], []
    for layer in target.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        donor = by_name.get(layer.name)
        donor_weights = donor.get_weights() if donor is not None else []
        if len(donor_weights) == len(weights) and all(a.shape == b.shape for a, b in zip(donor_weights, weights)):
            layer.set_weights(donor_weights)
            copied.append(layer.name)
        else:
            kept.append(layer.name)
    return copied, kept


def set_backbone_trainable(model, trainable: bool) -> None:
    """Freeze or unfreeze every layer except the head (phase 1 trains the head only)."""
    for layer in model.layers:
        if layer.name not in HEAD_LAYERS:
            layer.trainable = trainable


def set_batchnorm_momentum(model, momentum: float) -> None:
    """Set every BatchNormalization's moving-average momentum.

    keras.applications' MobileNets use 0.999, tuned for fine-tuning ImageNet statistics; from
    random weights that takes thousands of steps to track the batch statistics, and until then
    the model predicts the same distribution for every image in inference mode.
    """
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)


def save_nima(model, spec: NimaSpec, path: str | os.PathLike, force: bool = False,
              include_optimizer: bool = False) -> Path:
    """Write ``model`` with ``spec`` inside it as one .keras file, atomically."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelError(f"{path}: a Keras model file must end in .keras")
    with atomic_output(path, force, suffix=".keras") as tmp:
        model.save(tmp, include_optimizer=include_optimizer)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(SPEC_ENTRY, json.dumps(spec.to_dict(), indent=1, sort_keys=True))
    return path


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


def load_nima(path: str | os.PathLike, compile: bool = False):
    """Load a .keras NIMA saved by save_nima -> (keras.Model, NimaSpec)."""
    import keras

    spec = read_spec(path)
    try:
        model = keras.models.load_model(path, compile=compile)
    except (ValueError, OSError, TypeError, KeyError) as exc:
        raise ModelError(f"{path}: cannot load the Keras model: {str(exc).splitlines()[0]}") from None
    names = list(model.output_names) if hasattr(model, "output_names") else []
    if names and DISTRIBUTION_OUTPUT not in names:
        raise ModelError(f"{path}: no {DISTRIBUTION_OUTPUT!r} output (outputs are {names})")
    return model, spec
