"""Measure the runtime on this machine: the numbers in docs/runtime.md come from this script.

    .venv/bin/python tests/runtime/measure_runtime.py [--work /tmp/nima-measure]

Builds an int8 MobileNetV2 NIMA (224 px, random weights with BatchNorm statistics re-estimated on
generated pages, so activations are realistic), then measures: per-frame latency (preprocess +
inference) at 1 thread, `nima watch` frames/s on a 1280x720 video, `nima score` images/s on a
folder of 1600-px JPEGs, peak RSS of those commands, and the runtime's import time.
TensorFlow is used only to build the model, in a subprocess of its own.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
VENV_BIN = Path(sys.executable).parent

BUILD = textwrap.dedent("""
    import sys, numpy as np, keras, tensorflow as tf
    sys.path.insert(0, {here!r})
    from runtime_pages import render_page
    from nima_edge.runtime.preprocess import preprocess
    from nima_edge.runtime.metadata import ModelMetadata, embed_metadata
    from nima_edge.runtime.defects import DEFECTS
    keras.utils.set_random_seed(0)
    inputs = keras.Input((224, 224, 3), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    base = keras.applications.MobileNetV2(input_shape=(224, 224, 3), include_top=False, weights=None, pooling="avg")
    x = base(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = {{"distribution": keras.layers.Dense(10, activation="softmax", name="distribution")(x),
               "defects": keras.layers.Dense(len(DEFECTS), activation="sigmoid", name="defects")(x)}}
    model = keras.Model(inputs, outputs)
    pages = np.stack([preprocess(render_page(800, 600, blur=b, brightness=l, seed=i), 224)
                      for i, (b, l) in enumerate([(0, 1), (1, .8), (2, .5), (0, .3), (.5, 1), (3, 1), (0, .6), (1.5, .9)])])
    for _ in range(3):  # re-estimate BatchNorm statistics (training-mode forward passes)
        model(pages, training=True)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([p[None]] for p in pages)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    conv.inference_output_type = tf.uint8
    meta = ModelMetadata(input_size=(224, 224), extra_outputs={{"defects": DEFECTS}}, quantization="int8",
                         name="mobilenetv2-int8-benchmark")
    open({out!r}, "wb").write(embed_metadata(conv.convert(), meta))
""")


def build_model(work: Path) -> Path:
    path = work / "mobilenetv2_int8.tflite"
    if not path.exists():
        subprocess.run([sys.executable, "-c", BUILD.format(here=str(HERE), out=str(path))], check=True,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return path


def latency(model: Path) -> dict:
    from nima_edge.runtime import Scorer
    from runtime_pages import render_page

    scorer = Scorer(model, threads=1)
    frame = render_page(1280, 720)
    for _ in range(20):
        scorer.score(frame)
    prep, infer, prep_cpu, infer_cpu = [], [], [], []
    for _ in range(200):
        t0, c0 = time.perf_counter(), time.thread_time()
        x = scorer.prepare(frame)
        t1, c1 = time.perf_counter(), time.thread_time()
        scorer.run(x)
        t2, c2 = time.perf_counter(), time.thread_time()
        prep.append((t1 - t0) * 1e3)
        infer.append((t2 - t1) * 1e3)
        prep_cpu.append((c1 - c0) * 1e3)
        infer_cpu.append((c2 - c1) * 1e3)
    from nima_edge.runtime.checks import run_checks

    checks = []
    for _ in range(100):
        t0 = time.perf_counter()
        run_checks(frame)
        checks.append((time.perf_counter() - t0) * 1e3)
    # Thread CPU time is what the work costs when it has a core to itself: on a shared machine the
    # wall time also counts the time other processes held the core.
    return {"preprocess_ms_median": statistics.median(prep), "inference_ms_median": statistics.median(infer),
            "preprocess_cpu_ms_median": statistics.median(prep_cpu),
            "inference_cpu_ms_median": statistics.median(infer_cpu),
            "frame_ms_median": statistics.median(p + i for p, i in zip(prep, infer)),
            "inference_ms_p90": sorted(infer)[int(0.9 * len(infer))], "checks_720p_ms_median": statistics.median(checks)}


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """(seconds, peak RSS in MB of the child, stdout)."""
    # A fresh wrapper process per command, so RUSAGE_CHILDREN is that command's own peak.
    wrapper = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
               "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
               "print('PEAK', u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr); "
               "sys.exit(code)")
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if run.returncode not in (0, 1):
        raise RuntimeError(run.stderr[-2000:])
    _, peak_kb, cpu = [line for line in run.stderr.splitlines() if line.startswith("PEAK")][-1].split()
    timed.last_cpu = float(cpu)  # CPU seconds of the command, all threads
    return seconds, int(peak_kb) // 1024, run.stdout


def watch_cpu_ms_per_frame(model: Path, work: Path) -> float:
    """CPU ms per frame of the whole watch loop (all threads), start-up subtracted."""
    cmd = [str(VENV_BIN / "nima"), "watch", str(work / "720p.mp4"), "--model", str(model), "--json", "--threads", "1"]
    timed(cmd)
    full = timed.last_cpu
    timed([*cmd, "--max-frames", "1"])
    return (full - timed.last_cpu) / 299 * 1e3


def watch_fps(model: Path, work: Path, threads: int, checks_every: int) -> tuple[float, int]:
    from conftest import write_video
    from runtime_pages import render_page

    video = work / "720p.mp4"
    if not video.exists():
        frames = [render_page(1280, 720, blur=(i % 60) / 30, seed=i % 5) for i in range(300)]
        write_video(video, frames)
    _, peak, out = timed([str(VENV_BIN / "nima"), "watch", str(video), "--model", str(model), "--json",
                       "--threads", str(threads), "--checks-every", str(checks_every)])
    end = [json.loads(line) for line in out.splitlines() if '"end"' in line][-1]
    return end["fps"], peak


def score_rate(model: Path, work: Path, threads: int) -> tuple[float, int]:
    from runtime_pages import render_page

    folder = work / "jpegs"
    if not folder.exists():
        folder.mkdir()
        for i in range(100):
            cv2.imwrite(str(folder / f"{i:03d}.jpg"), render_page(1600, 1200, blur=(i % 4) * 0.6, seed=i))
    seconds, peak, _ = timed([str(VENV_BIN / "nima"), "score", str(folder), "--json", "--model", str(model),
                              "--threads", str(threads)])
    return 100 / seconds, peak


def import_time() -> float:
    code = ("import time; t = time.perf_counter(); import nima_edge.runtime, nima_edge.cli.runtime, "
            "nima_edge.runtime.watch; print(time.perf_counter() - t)")
    return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout) for _ in range(5))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/nima-measure"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    model = build_model(args.work)
    results = {"model_bytes": model.stat().st_size, **latency(model)}
    results["import_s"] = import_time()
    for threads in (1, 2):
        fps, peak = watch_fps(model, args.work, threads, 1)
        results[f"watch_fps_threads{threads}"], results[f"watch_peak_rss_mb_threads{threads}"] = fps, peak
    results["watch_fps_threads2_checks_every2"], _ = watch_fps(model, args.work, 2, 2)
    cpu_per_frame = watch_cpu_ms_per_frame(model, args.work)
    results["watch_cpu_ms_per_frame_threads1"] = cpu_per_frame
    results["watch_fps_bound_by_cpu_1core"] = 1e3 / cpu_per_frame
    rate, peak = score_rate(model, args.work, 2)
    results["score_images_per_s"], results["score_peak_rss_mb"] = rate, peak
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
