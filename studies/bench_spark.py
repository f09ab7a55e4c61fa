"""From what archive size does Spark pay off? `nima score` in one process against `nima spark-score`
on Spark local[1] and local[2], on the same generated captures.

    .venv/bin/python studies/bench_spark.py [--images DIR] [--count 2000] [--model MODEL.tflite]
        [--json FILE]

The captures are the synthetic set's own (synth.render_capture_jpeg, seeds 700000+, long side
1600 px, JPEG), written once to --images and reused. Every run is the command a user types, in a
subprocess, timed from start to exit:

* `nima score DIR --json > /dev/null`: one process, the runtime's decode threads and all cores
  for the interpreter; and with `--threads 1 --workers 1`, about one core's worth;
* `nima spark-score --master local[K] DIR --out OUT.parquet` for K = 1, 2: a JVM, K Python
  workers, each with its own interpreter, then the Parquet written.

Each command also runs on a folder of the first STARTUP_IMAGES captures; that wall time is the
job's fixed cost (a JVM, a session, Python workers, a model load, a listing, a write), and the
rate is what the remaining images add: (count - STARTUP_IMAGES) / (wall - fixed). Spark beats one
process from N = fixed_spark - fixed_score over (1 / rate_score - 1 / rate_spark) images on.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

FIRST_SEED = 700_000
LONG_SIDE = 1600
STARTUP_IMAGES = 8
NIMA = [sys.executable, "-m", "nima_edge.cli"]


def _write_capture(job: tuple[Path, int]) -> None:
    from nima_edge.synth.capture import render_capture_jpeg

    path, seed = job
    if not path.is_file():
        data, _ = render_capture_jpeg(seed, size=LONG_SIDE)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)


def make_captures(folder: Path, count: int) -> list[Path]:
    """``count`` captures in ``folder`` (those already there are kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(folder / f"capture_{i:05d}.jpg", FIRST_SEED + i) for i in range(count)]
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(_write_capture, jobs, chunksize=16))
    return [path for path, _ in jobs]


def startup_folder(captures: list[Path], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in captures[:STARTUP_IMAGES]:
        if not (folder / path.name).exists():
            shutil.copyfile(path, folder / path.name)
    return folder


def timed(command: list[str]) -> float:
    """Wall seconds of ``command``; exit 0 or 2 (an image not scored) count as done."""
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall


def score_command(folder: Path, model: list[str]) -> list[str]:
    return [*NIMA, "score", str(folder), "--json", *model]


def spark_command(folder: Path, model: list[str], master: str, out: Path) -> list[str]:
    return [*NIMA, "spark-score", "--master", master, str(folder), "--out", str(out), "--force", *model]


def measure(name: str, cores: int, fixed: float, wall: float, count: int) -> dict:
    rate = (count - STARTUP_IMAGES) / max(wall - fixed, 1e-9)
    return {"run": name, "cores": cores, "images": count, "wall_s": round(wall, 1), "fixed_s": round(fixed, 1),
            "images_per_s": round(rate, 1), "overall_images_per_s": round(count / wall, 1)}


def break_even(single: dict, spark: dict) -> float | None:
    """Images from which ``spark`` finishes first (None: never, its rate is not higher)."""
    gain = 1 / single["images_per_s"] - 1 / spark["images_per_s"]
    return (spark["fixed_s"] - single["fixed_s"]) / gain if gain > 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=Path(tempfile.gettempdir()) / "nima-bench-spark",
                        help="Folder for the captures (made once, reused).")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--model", type=Path, default=None, help="Default: the bundled model.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = parser.parse_args()
    model = ["--model", str(args.model)] if args.model else []
    load = os.getloadavg()[0]  # the machine may be shared: said with the figures
    started = time.perf_counter()
    captures = make_captures(args.images / "all", args.count)
    print(f"{len(captures)} captures in {args.images / 'all'} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    small = startup_folder(captures, args.images / "startup")
    with tempfile.TemporaryDirectory(prefix="nima-bench-out-") as scratch:
        out = Path(scratch) / "scores.parquet"
        rows = [measure("nima score (one process)", os.cpu_count() or 1, timed(score_command(small, model)),
                        timed(score_command(args.images / "all", model)), len(captures))]
        one_core = [*model, "--threads", "1", "--workers", "1"]
        rows.append(measure("nima score --threads 1 --workers 1", 1, timed(score_command(small, one_core)),
                            timed(score_command(args.images / "all", one_core)), len(captures)))
        for cores in (1, 2):
            master = f"local[{cores}]"
            fixed = timed(spark_command(small, model, master, out))
            rows.append(measure(f"nima spark-score --master {master}", cores, fixed,
                                timed(spark_command(args.images / "all", model, master, out)), len(captures)))
            shutil.rmtree(out, ignore_errors=True)
    report = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": platform.platform(),
              "cpus": os.cpu_count(), "load_average_at_start": load, "runs": rows,
              "break_even_images": {r["run"]: break_even(rows[0], r) for r in rows[2:]}}
    print("| run | cores | wall s | fixed s | images/s after start-up | overall images/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['run']} | {r['cores']} | {r['wall_s']} | {r['fixed_s']} | {r['images_per_s']} | "
              f"{r['overall_images_per_s']} |")
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
