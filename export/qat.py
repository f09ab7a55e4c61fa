"""qat-int8: quantization-aware fine-tuning with tensorflow-model-optimization, in its own process.

tfmot 0.8 only accepts Keras 2 models (tf_keras), which TensorFlow uses only when
TF_USE_LEGACY_KERAS=1 is set before it is imported; our models are Keras 3. So the export process
(Keras 3) writes the spec, the weights, the training arrays and the calibration inputs to a work
folder, and ``python -m nima_edge.export.qat_child WORKDIR`` (a child started with that
environment, so TensorFlow, tfmot and tf_keras are imported at the top there):

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

import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .formats import ExportError, QatOptions

log = logging.getLogger(__name__)

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
            done = subprocess.run([sys.executable, "-m", "nima_edge.export.qat_child", str(work)], env=env,
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
