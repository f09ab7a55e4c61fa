"""Choose backbone, width, input size and view by measurement: accuracy against cost, same budget.

    .venv/bin/python studies/compare_backbones.py --data data/synth/labels.csv \
        --test data/synth_test/labels.csv [--limit 4000] [--epochs 8] [--out runs/compare] [--only NAME]

Every candidate trains from scratch with the project's own commands on the first --limit rows of
--data (the same rows, split and seed for all), for the same number of epochs with a cosine
schedule, then:
  * `nima eval` of its Keras model on the held-out --test set (SRCC/LCC of means, EMD, accuracy);
  * `nima bench --formats int8 --threads 1` (int8 size and latency, through the real converter and
    interpreter, on the shipped calibration images).
Wall time per epoch comes from the run's history.csv. A candidate whose results exist is skipped,
so a killed comparison is simply started again. The table goes to OUT/table.md and stdout.

The runs are short on purpose (the full model takes ~1 hour on this machine), so the figures rank
the candidates rather than predict the finished model's accuracy.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path

# name -> (backbone, alpha, input size, view)
CANDIDATES = {
    "v2-0.35-160-frame": ("mobilenet_v2", 0.35, 160, "frame"),
    "v2-0.35-160-detail": ("mobilenet_v2", 0.35, 160, "frame+detail"),
    "v2-0.5-160-detail": ("mobilenet_v2", 0.5, 160, "frame+detail"),
    "v3s-0.75-160-detail": ("mobilenet_v3_small", 0.75, 160, "frame+detail"),
}


def nima(*args: str) -> str:
    done = subprocess.run([str(Path(sys.executable).with_name("nima")), *args], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise SystemExit(f"nima {' '.join(args[:2])} failed:\n{tail}")
    return done.stdout


def run_candidate(name: str, args: argparse.Namespace) -> dict:
    backbone, alpha, size, view = CANDIDATES[name]
    run = args.out / name
    result_file = run / "comparison.json"
    if result_file.is_file():
        return json.loads(result_file.read_text())
    print(f"== {name}", file=sys.stderr, flush=True)
    if not (run / "metrics.json").is_file():
        nima("train", "--data", str(args.data), "--format", "csv", "--backbone", backbone, "--alpha", str(alpha),
             "--input-size", str(size), "--view", view, "--epochs", str(args.epochs), "--lr-schedule", "cosine",
             "--limit", str(args.limit), "--batch-size", "32", "--base-weights", "none", "--seed", "0",
             "--bn-momentum", str(args.bn_momentum),
             "--out", str(run), *(["--resume"] if (run / "config.json").is_file() else []))
    quality = json.loads(nima("eval", str(run / "model.keras"), "--data", str(args.test), "--format", "csv", "--json"))
    bench = json.loads(nima("bench", "--model", str(run / "model.keras"), "--formats", "int8", "--threads", "1",
                           "--count", "30", "--json"))
    int8 = next(row for row in bench["rows"] if row["path"] == "int8" and row["threads"] == 1)
    with (run / "history.csv").open() as handle:
        seconds = [float(row["seconds"]) for row in csv.DictReader(handle)]
    result = {
        "name": name, "backbone": backbone, "alpha": alpha, "input_size": size, "view": view,
        "srcc": quality["srcc_mean"], "lcc": quality["lcc_mean"], "emd": quality["emd"],
        "accuracy": quality["binary_accuracy"], "defects": quality.get("defects", {}),
        "int8_mb": int8["size_mb"], "int8_ms_median": int8["median_ms"],
        "epoch_seconds_median": statistics.median(seconds), "epochs": len(seconds), "train_rows": args.limit,
    }
    result_file.write_text(json.dumps(result, indent=1))
    return result


def table(results: list[dict], args: argparse.Namespace) -> str:
    lines = [(f"Each trained from scratch on the first {args.limit} rows of `{args.data}` for {args.epochs} epochs "
             f"(cosine, BatchNorm momentum {args.bn_momentum}); quality of the Keras model on `{args.test}`; int8 via `nima bench` (1 thread)."), "",
             ("| candidate | view | SRCC | LCC | EMD | accuracy | recall motion / defocus / jpeg / lowres | "
             "int8 size | int8 latency | s / epoch |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        recall = " / ".join(_fmt(r["defects"].get(k, {}).get("recall")) for k in ("motion", "defocus", "jpeg", "lowres"))
        lines.append(f"| {r['backbone']} α {r['alpha']}, {r['input_size']} px | {r['view']} | {r['srcc']:.3f} | "
                     f"{r['lcc']:.3f} | {r['emd']:.3f} | {r['accuracy']:.1%} | {recall} | "
                     f"{r['int8_mb']:.2f} MB | {r['int8_ms_median']:.2f} ms | {r['epoch_seconds_median']:.0f} |")
    return "\n".join(lines) + "\n"


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--bn-momentum", type=float, default=0.9,
                        help="lower than a full run's 0.99 so inference-mode statistics settle within a short run")
    parser.add_argument("--out", type=Path, default=Path("runs/compare"))
    parser.add_argument("--only", action="append", choices=sorted(CANDIDATES))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = [run_candidate(name, args) for name in (args.only or CANDIDATES)]
    text = table(results, args)
    (args.out / "table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
