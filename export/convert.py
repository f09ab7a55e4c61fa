"""Keras NIMA -> TFLite flatbuffer bytes, one function per step.

Why the int8 model looks the way it does:

* Input: the Keras NIMA takes uint8 RGB pixels and normalises inside the graph, so the int8 model
  keeps a uint8 input fed raw pixels (the converter adds a CAST at the front; the stem runs in
  float, then one QUANTIZE hands int8 to the rest; quantize_with_float_stem says why). A camera
  frame goes in with no scaling code on the device.
* Output: float32. The int8 softmax already holds probabilities in 1/256 steps; dequantizing its
  ten values at the end of the graph costs nothing and keeps every format's outputs
  interchangeable, so the runtime, the fidelity check and any third-party reader never have to
  apply (scale, zero_point) to get probabilities — a classic source of silent bugs. A uint8 output
  would save 30 bytes of memory and no time.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from nima_edge.runtime.errors import ImageError
from nima_edge.runtime.images import iter_image_paths, load_image
from nima_edge.runtime.preprocess import preprocess
from tensorflow.lite.python import convert as tflite_convert
from tensorflow.lite.python import schema_py_generated as tflite_schema
from tensorflow.lite.tools import flatbuffer_utils

from .formats import ExportError, ExportFormat

log = logging.getLogger(__name__)

MIN_CALIBRATION_WARN = 100
DEFAULT_BATCH_SIZE = 8


def default_calibration_dir() -> Path:
    """The shipped calibration set (calibration/default), found beside the installed package."""
    from nima_edge import calibration

    return Path(calibration.__file__).resolve().parent / "default"


@dataclass(frozen=True)
class ImageSet:
    """Preprocessed model inputs with the files they came from."""

    paths: tuple[Path, ...]
    inputs: np.ndarray  # (n, H, W, 3) uint8 RGB

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, indices: Sequence[int]) -> ImageSet:
        return ImageSet(tuple(self.paths[i] for i in indices), self.inputs[list(indices)])

    def content_hash(self) -> str:
        """sha256 over the model inputs in file-name order: what the calibration actually saw."""
        digest = hashlib.sha256()
        for path, image in sorted(zip((p.name for p in self.paths), self.inputs), key=lambda t: t[0]):
            digest.update(path.encode())
            digest.update(image.tobytes())
        return digest.hexdigest()


def load_image_set(source: str | os.PathLike, input_size: tuple[int, int], resize: str = "area",
                   what: str = "calibration", view: str = "frame") -> ImageSet:
    """Every readable image under ``source`` through the runtime's one preprocessing function.

    Unreadable files are skipped with a warning naming each; a source without images is an error.
    """
    source = Path(source)
    if not source.exists():
        raise ExportError(f"{source}: {what} folder not found")
    paths, inputs = [], []
    for path in iter_image_paths([source]):
        try:
            inputs.append(preprocess(load_image(path), input_size, resize, view))
        except ImageError as exc:
            log.warning("skipping %s", exc)
            continue
        paths.append(path)
    if not paths:
        raise ExportError(f"{source}: no readable images for the {what} set")
    return ImageSet(tuple(paths), np.stack(inputs))


def check_calibration_size(images: ImageSet, batch_size: int, source: str | os.PathLike) -> None:
    """Refuse fewer images than one batch; warn under MIN_CALIBRATION_WARN."""
    if len(images) < batch_size:
        raise ExportError(f"{source}: {len(images)} calibration images, fewer than the batch size {batch_size}")
    if len(images) < MIN_CALIBRATION_WARN:
        log.warning("%s: only %d calibration images; int8 ranges are more reliable with %d or more",
                    source, len(images), MIN_CALIBRATION_WARN)


def split_holdout(images: ImageSet, every: int = 5) -> tuple[ImageSet, ImageSet]:
    """(calibration, held-out validation): every ``every``-th image is held out, deterministically."""
    held = [i for i in range(len(images)) if i % every == every - 1]
    kept = [i for i in range(len(images)) if i % every != every - 1]
    return images.subset(kept), images.subset(held)


@contextlib.contextmanager
def _quiet_converter():
    """The converter prints its SavedModel signature (hundreds of lines) to stdout; keep it in logs."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), warnings.catch_warnings():
        # A uint8 input that is cast inside the graph has no quantization statistics; expected.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        yield
    log.debug("converter output:\n%s", buffer.getvalue())


def convert(model, fmt: ExportFormat, calibration: ImageSet | None = None, float_stem: int | None = None) -> bytes:
    """Convert a Keras NIMA to TFLite bytes in ``fmt``, as its row of the format table says
    (a quantization-aware format goes through export.qat instead). ``float_stem``: how many of the
    graph's first ops a full-integer format keeps in float (ExportFormat.float_stem_ops)."""
    if fmt.quantization_aware:
        raise ExportError(f"format {fmt.name} is made by export.qat (quantization-aware fine-tuning first)")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if fmt.optimize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if fmt.weight_type:
        converter.target_spec.supported_types = [getattr(tf, fmt.weight_type)]
    stem = fmt.float_stem_ops(float_stem)
    if fmt.full_integer:
        if calibration is None:
            raise ExportError(f"{fmt.name} export needs a calibration set")
        configure_full_integer(converter, calibration.inputs)
    with _quiet_converter():
        try:
            if stem > 0:
                return quantize_with_float_stem(converter, stem)
            return converter.convert()
        except Exception as exc:  # noqa: BLE001 - the converter raises ConverterError, RuntimeError, ValueError...
            raise ExportError(f"TFLite conversion to {fmt.name} failed: {str(exc).strip().splitlines()[0]}") from None


def quantize_with_float_stem(converter, stem: int) -> bytes:
    """Full-integer post-training quantization with the graph's first ``stem`` ops left in float.

    ``converter`` is set up by configure_full_integer. Why: the first layers of an ImageNet-started
    MobileNetV2 see the whole 160-px frame and their outputs span wide ranges (block_2_project's
    138-wide range leaves an int8 step of 0.54), so their rounding reaches every later layer.
    Keeping the stem in float (a quantize op after it) cut the int8-vs-Keras median error 2.6-fold,
    where keeping the layers TFLite's quantization debugger ranks worst did not pass the gate at any
    count (models/MODEL_CARD.md, "int8 against Keras"). The interface stays uint8 in, float32 out.

    This is the two calls TFLiteConverter.convert() makes for full-integer quantization, calibrate
    then quantize, with the stem's op outputs passed as the quantizer's denylist: the same calls
    tf.lite.experimental.QuantizationDebugger makes (its get_nondebug_quantized_model), which would
    also build an instrumented debug model and drop the converter's input/output types.
    """
    supported = list(converter.target_spec.supported_ops)
    converter.target_spec.supported_ops = supported + [tf.lite.OpsSet.TFLITE_BUILTINS]  # float ops allowed
    converter._experimental_calibrate_only = True  # the debugger's route (private: no public calibrate-only API)
    try:
        calibrated = converter.convert()
    finally:
        converter._experimental_calibrate_only = False
        converter.target_spec.supported_ops = supported
    stem_outputs = [tensor for _, tensor in op_outputs(calibrated)[:stem]]
    return bytes(tflite_convert.mlir_quantize(
        calibrated,
        disable_per_channel=converter._experimental_disable_per_channel,
        fully_quantize=False,  # as convert() passes: the input/output types set the interface
        input_data_type=converter.inference_input_type,
        output_data_type=converter.inference_output_type,
        denylisted_nodes=stem_outputs,
    ))


def op_outputs(model_bytes: bytes) -> list[tuple[str, str]]:
    """(op type, first output tensor name) of each op of a TFLite graph in execution order, the
    converter's leading CAST of the uint8 input left out: the names the quantizer's denylist takes
    (they carry the Keras trace's suffixes, so they are read from the graph, never written down)."""
    names = {code: name for name, code in vars(tflite_schema.BuiltinOperator).items() if not name.startswith("_")}
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(model_bytes))
    graph = model.subgraphs[0]
    ops = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        name = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "?")
        if name != "CAST":
            ops.append((name, graph.tensors[op.outputs[0]].name.decode()))
    return ops


def configure_full_integer(converter, inputs: np.ndarray) -> None:
    """int8 ops only, uint8 raw-pixel input, float32 output (see the module docstring).

    ``inputs``: preprocessed calibration images (N, H, W, 3) uint8. Shared by the post-training
    and the QAT paths (the latter in its tf_keras child, export.qat_child; this module imports no
    Keras, so either Keras may be the one loaded).
    """
    def representative_dataset():
        for image in inputs:
            yield [image[None]]

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.float32


def signature_output_names(model_bytes: bytes) -> list[str]:
    """The output names of the model's serving signature (what the runtime matches first)."""
    from nima_edge.runtime.interpreter import make_interpreter

    interpreter = make_interpreter(model_bytes, threads=1)
    try:
        return list(interpreter.get_signature_runner().get_output_details())
    except (ValueError, RuntimeError):
        return []
