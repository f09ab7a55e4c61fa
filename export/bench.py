"""`nima bench`: Keras float vs every TFLite format on the same images, side by side.

Each measurement runs in its own process (export.bench_worker) so peak RSS belongs to one path:
a TFLite row never pays for TensorFlow, the Keras row does. The machine is shared and noisy, so
every row also carries its ratio to the Keras float path at the same thread count.
"""
from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .formats import FORMATS, ExportError

log = logging.getLogger(__name__)

TFLITE_FORMATS = ("float32", "float16", "dynamic", "int8")


@dataclass(frozen=True)
class BenchRow:
    path: str  # "keras", a TFLite format, or "laplacian"
    threads: int
    size_mb: float | None
    median_ms: float
    p95_ms: float
    per_s: float  # sequential single-image throughput
    peak_rss_mb: float
    speedup_vs_keras: float | None = None  # Keras median / this median, same threads
    size_vs_keras: float | None = None
    note: str = ""
    tensorflow_loaded: bool = False  # whether the measuring process had TensorFlow imported


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_average_at_start": list(os.getloadavg())}


def find_model(explicit: Path | None) -> tuple[Path | None, str]:
    """The Keras model to bench: --model, else models/default.keras, else runs/default/model.keras."""
    if explicit is not None:
        return explicit, str(explicit)
    from nima_edge.models import MODELS_DIR

    for candidate in (MODELS_DIR / "default.keras", Path("runs/default/model.keras")):
        if candidate.is_file():
            return candidate, str(candidate)
    return None, "untrained NIMA (MobileNetV2 alpha 1.0, 224 px; timings do not depend on the weights)"


def prepare_inputs(images: Path, input_size: tuple[int, int], resize: str, count: int, view: str = "frame"
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(model inputs, grey frames at stored size) for the first ``count`` images of ``images``."""
    from nima_edge.runtime.errors import ImageError
    from nima_edge.runtime.images import iter_image_paths, load_image
    from nima_edge.runtime.preprocess import preprocess

    inputs, greys = [], []
    for path in iter_image_paths([images]):
        if len(inputs) >= count:
            break
        try:
            frame = load_image(path)
        except ImageError as exc:
            log.warning("skipping %s", exc)
            continue
        inputs.append(preprocess(frame, input_size, resize, view))
        import cv2

        greys.append(cv2.cvtColor(cv2.resize(frame, (384, 288)), cv2.COLOR_BGR2GRAY))
    if len(inputs) < 5:
        raise ExportError(f"{images}: need at least 5 readable images to benchmark, found {len(inputs)}")
    return np.stack(inputs), np.stack(greys)


def run_worker(kind: str, model: Path | str, inputs: Path, threads: int, warmup: int) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-m", "nima_edge.export.bench_worker", kind, str(model), str(inputs),
                           str(threads), str(warmup)], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ExportError(f"benchmark of {kind} {model} failed: {tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarise(path: str, threads: int, size: int | None, result: dict, note: str = "") -> BenchRow:
    times = sorted(result["times_ms"])
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return BenchRow(path, threads, None if size is None else size / 1e6, statistics.median(times), p95,
                    len(times) / result["wall_s"], result["peak_rss_mb"], note=note,
                    tensorflow_loaded=bool(result.get("tensorflow_loaded", path == "keras")))


def with_ratios(rows: list[BenchRow]) -> list[BenchRow]:
    keras = {r.threads: r for r in rows if r.path == "keras"}
    out = []
    for row in rows:
        ref = (keras.get(row.threads) or keras[max(keras)]) if keras else None
        speed = ref.median_ms / row.median_ms if ref else None
        size = row.size_mb / ref.size_mb if ref and row.size_mb and ref.size_mb else None
        out.append(BenchRow(**{**asdict(row), "speedup_vs_keras": speed, "size_vs_keras": size}))
    return out


def markdown_table(rows: list[BenchRow]) -> str:
    lines = [("| path | threads | size MB | median ms | p95 ms | images/s | peak RSS MB | speed-up vs Keras | "
              "size vs Keras |"), "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        size = f"{r.size_mb:.2f}" if r.size_mb is not None else "-"
        speed = f"{r.speedup_vs_keras:.1f}x" if r.speedup_vs_keras else "-"
        ratio = f"{r.size_vs_keras:.2f}" if r.size_vs_keras else "-"
        lines.append(f"| {r.path}{' (' + r.note + ')' if r.note else ''} | {r.threads} | {size} | "
                     f"{r.median_ms:.2f} | {r.p95_ms:.2f} | {r.per_s:.1f} | {r.peak_rss_mb:.0f} | {speed} | {ratio} |")
    return "\n".join(lines)


def run_bench(model_path: Path | None, images: Path, count: int, threads: tuple[int, ...], warmup: int,
              formats: tuple[str, ...]) -> dict:
    from nima_edge.training.model import NimaSpec, build_nima, load_nima, save_nima

    from .convert import convert, load_image_set

    model_path, model_label = find_model(model_path)
    with tempfile.TemporaryDirectory(prefix="nima-bench-") as work:
        work = Path(work)
        if model_path is None:
            spec = NimaSpec()
            model = build_nima(spec, "none")
            model_path = save_nima(model, spec, work / "untrained.keras")
        model, spec = load_nima(model_path)
        inputs, greys = prepare_inputs(images, spec.input_hw, spec.resize, count, spec.view)
        np.save(work / "inputs.npy", inputs)
        np.save(work / "greys.npy", greys)
        files = {}
        calibration = None
        for name in formats:
            if FORMATS[name].needs_calibration and calibration is None:
                calibration = load_image_set(images, spec.input_hw, spec.resize, view=spec.view)
            log.info("converting to %s", name)
            files[name] = work / f"{name}.tflite"
            files[name].write_bytes(convert(model, FORMATS[name], calibration if name == "int8" else None))
        del model
        rows, batched = [], {}
        # A row times one pass of the network; a mirror_average model costs the runtime two a frame.
        passes_note = "one pass; a frame is two (mirror_average)" if spec.mirror_average else ""
        keras_size = model_path.stat().st_size
        for t in threads:
            log.info("keras, %d thread(s)", t)
            result = run_worker("keras", model_path, work / "inputs.npy", t, warmup)
            rows.append(summarise("keras", t, keras_size, result, note="predict_on_batch, batch 1"))
            batched[t] = result["batched_per_s"]
            for name in formats:
                log.info("%s, %d thread(s)", name, t)
                result = run_worker("tflite", files[name], work / "inputs.npy", t, warmup)
                rows.append(summarise(name, t, files[name].stat().st_size, result, note=passes_note))
        result = run_worker("laplacian", "-", work / "greys.npy", 1, warmup)
        rows.append(summarise("laplacian", 1, None, result, note="var of Laplacian, 384x288 grey"))
    rows = with_ratios(rows)
    return {"model": model_label, "images": str(images), "count": len(inputs), "input_size": list(spec.input_hw),
            "machine": machine(), "rows": [asdict(r) for r in rows], "keras_batched_per_s": batched}
