"""The Keras NIMA: a MobileNet backbone, global pooling, dropout and a softmax over score bins.

The model takes raw uint8 RGB pixels in one input named ``image``; the backbone's normalisation
lives inside the graph, so every later stage (export, calibration, runtime) feeds what
``nima_edge.runtime.preprocess.preprocess`` returns and nothing else. The backbone is built on
our input tensor (``input_tensor=``), so its layers sit flat in the NIMA graph instead of inside a
nested sub-model: export's QAT path copies the weights into a flat tf_keras twin of this model.

A saved model is a normal ``.keras`` zip with one extra entry, ``nima_spec.json``: the spec (score
values, input size, defect labels, provenance; training/spec.py, TF-free) travels with the weights.
Keras ignores the entry. TensorFlow (Keras 3) is imported at the top: this module is the model.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import keras
from nima_edge.runtime.errors import ModelError
from nima_edge.runtime.fileio import atomic_output

# The spec travels with the model: re-exported here, so `from .model import NimaSpec` keeps working.
from .spec import (  # noqa: F401
    BACKBONES,
    DEFAULT_SCORE_VALUES,
    DEFECTS_OUTPUT,
    DISTRIBUTION_OUTPUT,
    IMAGE_INPUT,
    MAX_SPEC_BYTES,
    SPEC_ENTRY,
    Backbone,
    NimaSpec,
    SpecError,
    WeightsError,
    dropout_problem,
    read_spec,
)


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


def load_nima(path: str | os.PathLike, compile: bool = False):
    """Load a .keras NIMA saved by save_nima -> (keras.Model, NimaSpec)."""
    spec = read_spec(path)
    try:
        model = keras.models.load_model(path, compile=compile)
    except (ValueError, OSError, TypeError, KeyError) as exc:
        raise ModelError(f"{path}: cannot load the Keras model: {str(exc).splitlines()[0]}") from None
    names = list(model.output_names) if hasattr(model, "output_names") else []
    if names and DISTRIBUTION_OUTPUT not in names:
        raise ModelError(f"{path}: no {DISTRIBUTION_OUTPUT!r} output (outputs are {names})")
    return model, spec
