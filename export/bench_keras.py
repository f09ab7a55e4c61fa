"""The Keras side of one benchmark measurement (export.bench_worker's ``keras`` kind).

Its own module so TensorFlow can be imported at the top here while bench_worker stays free of it:
a ``tflite`` measurement's peak RSS and ``tensorflow_loaded`` must be those of the runtime alone.
"""
from __future__ import annotations

import time

import numpy as np
import tensorflow as tf
from nima_edge.training.model import load_nima

from .bench_worker import timed


def measure_keras(model: str, inputs: np.ndarray, threads: int, warmup: int) -> dict:
    # Before the first op: TensorFlow refuses new thread counts once its runtime has started.
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras_model, _ = load_nima(model)
    times, wall = timed(lambda x: keras_model.predict_on_batch(x[None]), inputs, max(warmup, 2))
    # Batched throughput: what Keras is good at, for context.
    start = time.perf_counter()
    keras_model.predict(inputs, batch_size=32, verbose=0)
    batched = len(inputs) / (time.perf_counter() - start)
    return {"times_ms": times, "wall_s": wall, "batched_per_s": batched}
