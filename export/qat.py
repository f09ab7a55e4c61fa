"""qat-int8: quantization-aware fine-tuning with tensorflow-model-optimization, in its own process.

tfmot 0.8 only accepts Keras 2 models (tf_keras), which TensorFlow uses only when
TF_USE_LEGACY_KERAS=1 is set before it is imported; our models are Keras 3. So the export process
(Keras 3) writes the spec, the weights, the training arrays and the calibration inputs to a work
folder, and ``python -m nima_edge.export.qat WORKDIR`` (a child with that environment):

1. rebuilds the same graph flat in tf_keras (backbone built with ``input_tensor=``, layer for layer
   what training.model.build_nima makes) and copies the weights in, then checks that the twin
   reproduces the Keras 3 outputs before going on;
2. annotates every layer for 8-bit QAT except the pixel Rescaling, which gets a no-op
   QuantizeConfig (tfmot has no rule for it; it is an affine map the converter folds anyway);
3. fine-tunes for a few epochs (EMD loss on the distribution, cross-entropy on defects) on the
   labelled data, or, without labels, towards the float model's own outputs (self-distillation:
   QAT then only has to learn to survive quantization, not to change its judgement);
4. converts to full-integer TFLite like post-training int8 (uint8 input, float32 output) and
   writes ``model.tflite`` into the work folder.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .convert import configure_full_integer
from .formats import ExportError, QatOptions

log = logging.getLogger(__name__)

TWIN_TOLERANCE = 1e-3  # max |Δ probability| between the Keras 3 model and its tf_keras twin


# ---------------------------------------------------------------------------------------------
# Parent side (Keras 3 process)


def run_qat_subprocess(request, model, spec, calibration, timeout: float = 3600.0) -> bytes:
    """Prepare the work folder, run the child, return the QAT int8 flatbuffer."""
    options = request.qat
    inputs, distributions, defects = _training_arrays(model, spec, options, calibration)
    with tempfile.TemporaryDirectory(prefix="nima-qat-") as work:
        work = Path(work)
        (work / "spec.json").write_text(json.dumps(spec.to_dict()))
        np.savez(work / "weights.npz", *model.get_weights())
        probe = calibration.inputs[:4]
        np.savez(work / "arrays.npz", inputs=inputs, distributions=distributions,
                 defects=defects if defects is not None else np.zeros((0,)),
                 calibration=calibration.inputs, probe=probe,
                 probe_expected=_predict_distribution(model, probe))
        (work / "options.json").write_text(json.dumps({
            "epochs": int(options.get("epochs", QatOptions.epochs)),
            "learning_rate": float(options.get("learning_rate", QatOptions.learning_rate)),
            "batch_size": int(request.batch_size),
        }))
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
        try:
            done = subprocess.run([sys.executable, "-m", "nima_edge.export.qat", str(work)], env=env,
                                  capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ExportError(f"quantization-aware training took longer than {timeout:.0f} s") from None
        if done.returncode != 0:
            log.debug("QAT child stderr:\n%s", done.stderr)
            lines = [line.strip() for line in done.stderr.strip().splitlines() if line.strip()]
            # our own message, else the exception line of a traceback, else the last line
            reason = next((line for line in reversed(lines) if line.startswith("nima-qat:")), None) or \
                next((line for line in reversed(lines) if re.match(r"^[\w.]+(Error|Exception): ", line)), None) or \
                (lines[-1] if lines else f"exit code {done.returncode}")
            raise ExportError(f"quantization-aware training failed: {reason.removeprefix('nima-qat: ')}")
        result = work / "model.tflite"
        if not result.is_file():
            raise ExportError("quantization-aware training wrote no model")
        return result.read_bytes()


def _predict_distribution(model, inputs: np.ndarray) -> np.ndarray:
    outputs = model.predict(inputs, verbose=0)
    return np.asarray(outputs["distribution"] if isinstance(outputs, dict) else outputs, np.float32)


def _training_arrays(model, spec, options: dict, calibration):
    """(inputs, target distributions, defect targets or None) for the fine-tuning."""
    data = options.get("data")
    if data is None:
        outputs = model.predict(calibration.inputs, verbose=0)
        defects = np.asarray(outputs["defects"], np.float32) if "defects" in outputs else None
        return calibration.inputs, np.asarray(outputs["distribution"], np.float32), defects
    from nima_edge.runtime.errors import ImageError
    from nima_edge.runtime.images import load_image
    from nima_edge.runtime.preprocess import preprocess
    from nima_edge.training.data import read_dataset

    samples = read_dataset(data, options.get("data_format", "csv"), score_values=spec.score_values)
    keep, inputs = [], []
    for i, path in enumerate(samples.paths):
        try:
            inputs.append(preprocess(load_image(path), spec.input_hw, spec.resize, spec.view))
            keep.append(i)
        except ImageError:
            continue
    if len(keep) < 2:
        raise ExportError(f"{data}: fewer than 2 readable training images for quantization-aware training")
    samples = samples.subset(keep)
    defects = None
    if spec.defect_labels:
        if samples.defects is not None and tuple(samples.defect_labels) == tuple(spec.defect_labels):
            defects = samples.defects.astype(np.float32)
        else:  # labels without defect columns: keep the defects head where the float model has it
            defects = np.asarray(model.predict(np.stack(inputs), verbose=0)["defects"], np.float32)
    return np.stack(inputs), samples.targets.astype(np.float32), defects


# ---------------------------------------------------------------------------------------------
# Child side (tf_keras process)


def _fail(message: str) -> None:
    print(f"nima-qat: {message}", file=sys.stderr)
    raise SystemExit(1)


def build_twin(spec, tf_keras):
    """The NIMA of ``spec`` built flat in tf_keras, mirroring training.model.build_nima layer for layer."""
    from nima_edge.training.spec import BACKBONES

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


def _annotate(model, tf_keras, tfmot):
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
    from tensorflow_model_optimization.python.core.quantization.keras import quant_ops

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


def child_main(work: Path) -> None:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"  # must precede the TensorFlow import
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras
    from nima_edge.training.spec import NimaSpec

    spec = NimaSpec.from_dict(json.loads((work / "spec.json").read_text()))
    options = json.loads((work / "options.json").read_text())
    weights_file = np.load(work / "weights.npz")
    weights = [weights_file[f"arr_{i}"] for i in range(len(weights_file.files))]
    arrays = np.load(work / "arrays.npz")

    # Dropout off: its 1/(1-rate) training-time scaling would teach the quantizers ranges that
    # inference never sees; a few epochs of fine-tuning need no regularisation.
    twin = build_twin(spec.replace(dropout=0.0), tf_keras)
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
    annotated, scope = _annotate(twin, tf_keras, tfmot)
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
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        model_bytes = converter.convert()
    (work / "model.tflite").write_bytes(model_bytes)
    print(json.dumps({"loss": [float(v) for v in history.history["loss"]], "twin_max_diff": diff}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m nima_edge.export.qat WORKDIR", file=sys.stderr)
        raise SystemExit(2)
    child_main(Path(sys.argv[1]))
