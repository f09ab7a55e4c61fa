"""One benchmark measurement in its own process, so its peak RSS is its own.

    python -m nima_edge.export.bench_worker KIND MODEL INPUTS.npy THREADS WARMUP

KIND is ``keras`` (MODEL a .keras NIMA, measured by export.bench_keras), ``tflite`` (MODEL a
.tflite, run by the runtime's interpreter, no TensorFlow imported) or ``laplacian`` (MODEL
ignored; INPUTS are grey frames).
Prints one JSON object: per-image latencies in ms, wall time, peak RSS.
"""
from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np


def _peak_rss_mb() -> float:
    """This process's peak resident memory.

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so a worker started
    by a parent holding TensorFlow would report the parent's 1.2 GB as its own.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def timed(run_one, inputs: np.ndarray, warmup: int) -> tuple[list[float], float]:
    for i in range(min(warmup, len(inputs))):
        run_one(inputs[i])
    times = []
    start = time.perf_counter()
    for x in inputs:
        t0 = time.perf_counter()
        run_one(x)
        times.append((time.perf_counter() - t0) * 1000.0)
    return times, time.perf_counter() - start


def measure_tflite(model: str, inputs: np.ndarray, threads: int, warmup: int) -> dict:
    from nima_edge.runtime.interpreter import make_interpreter

    with open(model, "rb") as stream:
        interpreter = make_interpreter(stream.read(), threads, name=model)
    detail = interpreter.get_input_details()[0]
    outputs = interpreter.get_output_details()

    def run_one(x):
        interpreter.set_tensor(detail["index"], x[None].astype(detail["dtype"]))
        interpreter.invoke()
        return [interpreter.get_tensor(o["index"]) for o in outputs]

    times, wall = timed(run_one, inputs, warmup)
    return {"times_ms": times, "wall_s": wall, "tensorflow_loaded": "tensorflow" in sys.modules}


def measure_laplacian(inputs: np.ndarray, warmup: int) -> dict:
    import cv2

    times, wall = timed(lambda g: cv2.Laplacian(g, cv2.CV_64F).var(), inputs, warmup)
    return {"times_ms": times, "wall_s": wall}


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    kind, model, inputs_path, threads, warmup = argv
    inputs = np.load(inputs_path)
    if kind == "tflite":
        result = measure_tflite(model, inputs, int(threads), int(warmup))
    elif kind == "keras":
        # Only this kind loads TensorFlow (bench_keras imports it at its top); the others must not.
        from .bench_keras import measure_keras

        result = measure_keras(model, inputs, int(threads), int(warmup))
    elif kind == "laplacian":
        result = measure_laplacian(inputs, int(warmup))
    else:
        print(f"unknown kind {kind!r}", file=sys.stderr)
        return 2
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
