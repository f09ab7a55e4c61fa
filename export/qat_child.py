"""The child of export.qat: quantization-aware fine-tuning in a tf_keras process.

    python -m nima_edge.export.qat_child WORKDIR    (started by export.qat.run_qat_subprocess)

tfmot 0.8 only accepts Keras 2 models (tf_keras), and TensorFlow reads TF_USE_LEGACY_KERAS=1 when
it is imported; export.qat starts this module with it set, so TensorFlow, tfmot and tf_keras are
imported at the top. The steps are export.qat's docstring; this process reads the work folder the
parent wrote and writes ``model.tflite`` (and one JSON line on stdout) into it. Errors go to
stderr as ``nima-qat: ...``, which the parent shows.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras
from nima_edge.training.spec import BACKBONES, NimaSpec
from tensorflow_model_optimization.python.core.quantization.keras import quant_ops

from .convert import configure_full_integer

TWIN_TOLERANCE = 1e-3  # max |Δ probability| between the Keras 3 model and its tf_keras twin


def _fail(message: str) -> None:
    print(f"nima-qat: {message}", file=sys.stderr)
    raise SystemExit(1)


def build_twin(spec):
    """The NIMA of ``spec`` built flat in tf_keras, mirroring training.model.build_nima layer for layer."""
    backbone = BACKBONES[spec.backbone]
    image = tf_keras.Input(shape=(spec.input_size, spec.input_size, 3), dtype="uint8", name="image")
    if backbone.own_preprocessing:
        features_in, extra = image, {"include_preprocessing": True}
    else:
        features_in = tf_keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="pixel_scaling")(image)
        extra = {}
    constructor = getattr(tf_keras.applications, backbone.constructor)
    trunk = constructor(input_tensor=features_in, include_top=False, weights=None, alpha=spec.alpha,
                        pooling="avg", **extra)
    dropped = tf_keras.layers.Dropout(spec.dropout, name="head_dropout")(trunk.output)
    outputs = {"distribution": tf_keras.layers.Dense(spec.bins, activation="softmax",
                                                     name="distribution")(dropped)}
    if spec.defect_labels:
        outputs["defects"] = tf_keras.layers.Dense(len(spec.defect_labels), activation="sigmoid",
                                                   name="defects")(dropped)
    return tf_keras.Model(inputs=image, outputs=outputs, name=f"nima_{spec.backbone}")


def _annotate(model):
    """Annotate every layer for QAT; Rescaling gets a no-op config (tfmot has no rule for it)."""
    quantize = tfmot.quantization.keras

    class NoOpQuantizeConfig(quantize.QuantizeConfig):
        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return []

        def get_config(self):
            return {}

    def annotate(layer):
        if isinstance(layer, (tf_keras.layers.InputLayer, tf_keras.layers.Rescaling)):
            return layer
        return quantize.quantize_annotate_layer(layer)

    annotated = tf_keras.models.clone_model(model, clone_function=annotate)
    annotated.set_weights(model.get_weights())
    return annotated, {"NoOpQuantizeConfig": NoOpQuantizeConfig}


@contextlib.contextmanager
def _fast_range_ema(decay: float):
    """Temporarily make tfmot's activation ranges follow the data quickly.

    tfmot starts every activation range at [-6, 6] and moves it with an EMA of decay 0.999 (fixed
    in MovingAverageQuantizer), so a fine-tuning of a few hundred steps ends with ranges still
    near the initial guess. A short forward-only warm-up with a fast EMA fits them to the
    calibration data first, as post-training calibration would.
    """
    original = quant_ops.MovingAvgQuantize

    def patched(*args, **kwargs):
        kwargs["ema_decay"] = decay
        return original(*args, **kwargs)

    quant_ops.MovingAvgQuantize = patched
    try:
        yield
    finally:
        quant_ops.MovingAvgQuantize = original


def warm_up_ranges(qat_model, inputs: np.ndarray, batch_size: int, steps: int = 40, decay: float = 0.8) -> None:
    """Forward passes in training mode (BatchNorm frozen, no weight update) to fit activation ranges."""
    with _fast_range_ema(decay):
        for step in range(steps):
            start = (step * batch_size) % max(1, len(inputs) - batch_size + 1)
            qat_model(inputs[start:start + batch_size], training=True)


def main(work: Path) -> None:
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":  # read by TensorFlow at import: too late to set here
        _fail("TF_USE_LEGACY_KERAS=1 must be set before this process starts (export.qat sets it)")
    spec = NimaSpec.from_dict(json.loads((work / "spec.json").read_text()))
    options = json.loads((work / "options.json").read_text())
    weights_file = np.load(work / "weights.npz")
    weights = [weights_file[f"arr_{i}"] for i in range(len(weights_file.files))]
    arrays = np.load(work / "arrays.npz")

    # Dropout off: its 1/(1-rate) training-time scaling would teach the quantizers ranges that
    # inference never sees; a few epochs of fine-tuning need no regularisation.
    twin = build_twin(spec.replace(dropout=0.0))
    if len(twin.get_weights()) != len(weights):
        _fail(f"tf_keras twin has {len(twin.get_weights())} weight arrays, the Keras model {len(weights)}")
    try:
        twin.set_weights(weights)
    except ValueError as exc:
        _fail(f"weights do not fit the tf_keras twin: {exc}")
    got = twin.predict(arrays["probe"], verbose=0)["distribution"]
    diff = float(np.max(np.abs(got - arrays["probe_expected"])))
    if diff > TWIN_TOLERANCE:
        _fail(f"tf_keras twin disagrees with the Keras model (max |Δp| {diff:.2e})")

    # BatchNorm stays in inference mode: small fine-tuning batches would replace statistics learnt
    # on the whole training set with noisy ones, undoing more than QAT gains.
    for layer in twin.layers:
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            layer.trainable = False
    annotated, scope = _annotate(twin)
    with tfmot.quantization.keras.quantize_scope(scope):
        qat = tfmot.quantization.keras.quantize_apply(annotated)

    warm_up_ranges(qat, arrays["calibration"], options["batch_size"])

    def emd(y_true, y_pred):
        cdf = tf.math.cumsum(y_true, axis=-1) - tf.math.cumsum(y_pred, axis=-1)
        return tf.sqrt(tf.reduce_mean(tf.square(cdf), axis=-1) + 1e-12)

    targets = {"distribution": arrays["distributions"]}
    losses = {"distribution": emd}
    if spec.defect_labels and arrays["defects"].size:
        targets["defects"] = arrays["defects"]
        losses["defects"] = "binary_crossentropy"
    qat.compile(optimizer=tf_keras.optimizers.Adam(options["learning_rate"]), loss=losses)
    history = qat.fit(arrays["inputs"], targets, batch_size=options["batch_size"], epochs=options["epochs"],
                      shuffle=True, verbose=0)

    # quantize_apply wraps the heads as quant_distribution / quant_defects, and the serving signature
    # takes its output names from output_names: restore the names the runtime looks up.
    qat.output_names = [name.removeprefix("quant_") for name in qat.output_names]
    converter = tf.lite.TFLiteConverter.from_keras_model(qat)
    configure_full_integer(converter, arrays["calibration"])
    with contextlib.redirect_stdout(io.StringIO()):
        model_bytes = converter.convert()
    (work / "model.tflite").write_bytes(model_bytes)
    print(json.dumps({"loss": [float(v) for v in history.history["loss"]], "twin_max_diff": diff}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m nima_edge.export.qat_child WORKDIR", file=sys.stderr)
        raise SystemExit(2)
    main(Path(sys.argv[1]))
