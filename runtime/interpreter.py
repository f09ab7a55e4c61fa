"""Finding a TFLite interpreter without TensorFlow, and small pycoral-style tensor helpers."""
from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from .errors import ModelError
from .native import native_messages

log = logging.getLogger(__name__)

INSTALL_HINT = "install one with `pip install ai-edge-litert` (the maintained successor of tflite-runtime)"


def interpreter_class() -> tuple[type, str]:
    """The first importable interpreter: ai_edge_litert, then tflite_runtime.

    tflite-runtime 2.14 (its last release) breaks under numpy 2 and cannot load models from
    current converters, so it is only a fallback. TensorFlow's own tf.lite is never tried: the
    runtime does not import TensorFlow (docs/architecture.md), and ai-edge-litert is a dependency.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai_edge_litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite_runtime"
    except (ImportError, AttributeError):  # AttributeError: tflite-runtime built for numpy 1
        pass
    raise ModelError(f"no TFLite interpreter found; {INSTALL_HINT}")


def make_interpreter(model_content: bytes, threads: int | None = None, name: str = "<model>") -> Any:
    """An allocated interpreter for the model bytes. ``threads`` defaults to all cores."""
    cls, _ = interpreter_class()
    threads = threads or os.cpu_count() or 1
    with native_messages() as messages:  # the runtime's own lines, kept to say which model they are about
        try:
            interpreter = cls(model_content=model_content, num_threads=threads)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        else:
            error = None
    for message in messages:
        # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on every load is not news
        (log.info if message.startswith("INFO:") else log.warning)("%s: %s", name, message)
    if error is not None:
        raise ModelError(f"{name}: not a loadable TFLite model ({error})") from None
    return interpreter


def quantize(values: np.ndarray, detail: dict) -> np.ndarray:
    """Float values -> the tensor's dtype using its (scale, zero_point); float tensors pass through."""
    dtype = detail["dtype"]
    if np.issubdtype(dtype, np.floating):
        return values.astype(dtype)
    scale, zero_point = detail["quantization"]
    if scale == 0:  # not quantized: an integer tensor fed raw
        return values.astype(dtype)
    info = np.iinfo(dtype)
    quantized = np.round(values.astype(np.float64) / scale + zero_point)
    return np.clip(quantized, info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    """Tensor values -> float32, widening to int64 before removing the zero point (as pycoral does)."""
    if np.issubdtype(values.dtype, np.floating):
        return values.astype(np.float32)
    scale, zero_point = detail["quantization"]
    if scale == 0:
        return values.astype(np.float32)
    return (scale * (values.astype(np.int64) - zero_point)).astype(np.float32)
