#!/usr/bin/env bash
# Choose the shipped model's backbone, width and input size by measurement: train each candidate
# briefly on the same synthetic subset, export it to int8, and tabulate accuracy against latency/size.
#   usage: scripts/compare_backbones.sh LABELS.csv OUT_DIR [LIMIT] [EPOCHS]
# Writes OUT_DIR/<candidate>/ (runs) and OUT_DIR/comparison.md.
set -euo pipefail
labels=${1:?labels.csv}; out=${2:?out dir}; limit=${3:-1500}; epochs=${4:-4}
nima=${NIMA:-.venv/bin/nima}
candidates=${CANDIDATES:-"mobilenet_v2:0.35:128 mobilenet_v2:0.35:160 mobilenet_v3_small:0.75:160 mobilenet_v2:0.5:160"}
mkdir -p "$out"
for candidate in $candidates; do
    IFS=: read -r backbone alpha size <<<"$candidate"
    run="$out/${backbone}_a${alpha}_${size}"
    if [ ! -f "$run/metrics.json" ]; then
        resume=""; [ -f "$run/config.json" ] && resume="--resume"
        $nima train --data "$labels" --format csv --limit "$limit" --epochs "$epochs" --batch-size 32 \
            --backbone "$backbone" --alpha "$alpha" --input-size "$size" --seed 0 --out "$run" $resume
    fi
    if [ ! -f "$run/model_int8.tflite" ]; then
        $nima export "$run/model.keras" --format int8 --out "$run/model_int8.tflite" --no-gate --force
    fi
done
.venv/bin/python - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
rows = ["| candidate | test SRCC (Keras) | test LCC | test EMD r=1 | int8 size (MB) | int8 1-thread latency (ms) | int8 vs Keras SRCC |",
        "|---|---|---|---|---|---|---|"]
for run in sorted(p for p in out.iterdir() if (p / "metrics.json").is_file()):
    m = json.loads((run / "metrics.json").read_text())
    f = json.loads((run / "model_int8.fidelity.json").read_text()) if (run / "model_int8.fidelity.json").is_file() else {}
    size = (run / "model_int8.tflite").stat().st_size / 1e6 if (run / "model_int8.tflite").is_file() else float("nan")
    def g(d, *keys):
        for k in keys:
            if isinstance(d, dict) and k in d:
                return d[k]
        return float("nan")
    rows.append(f"| {run.name} | {g(m, 'srcc_mean'):.3f} | {g(m, 'lcc_mean'):.3f} | {g(m, 'emd'):.4f} | {size:.2f} | "
                f"{g(f, 'latency_ms_1thread', 'latency_ms'):.2f} | {g(f, 'srcc'):.4f} |")
(out / "comparison.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
PY
