#!/usr/bin/env bash
# `make model`: the whole pipeline with the project's own commands —
#   synthesize -> train -> calibrate -> export int8 (fidelity gate) -> evaluate on a held-out set -> install.
# Every step resumes or is skipped when its output exists, so a killed run is simply started again:
#   nohup make model > model.log 2>&1 &
# Knobs (environment): COUNT, TEST_COUNT, BACKBONE, ALPHA, SIZE, VIEW, DROPOUT, EPOCHS, TIME_BUDGET (minutes), BALANCE,
# LR, INIT_FROM (a .keras to fine-tune instead of training from scratch), RUN, DATA, TEST.
# 26 epochs is what fits: 125-155 s an epoch on 2 cores, and the cosine schedule must reach its end inside
# the time budget (a run cut short by the budget keeps its best epoch, but never cooled down).
set -euo pipefail
cd "$(dirname "$0")/.."
nima=${NIMA:-.venv/bin/nima}
data=${DATA:-data/synth}              # training + validation + calibration captures (seed 1)
test=${TEST:-data/synth_test}         # held out: never used for training or calibration (seed 2)
run=${RUN:-runs/default}
count=${COUNT:-12000}; test_count=${TEST_COUNT:-1000}
backbone=${BACKBONE:-mobilenet_v2}; alpha=${ALPHA:-0.35}; size=${SIZE:-160}; view=${VIEW:-frame+detail}
dropout=${DROPOUT:-0.75}
epochs=${EPOCHS:-26}; budget=${TIME_BUDGET:-75}; balance=${BALANCE:-none}
start=()
[ -n "${INIT_FROM:-}" ] && start+=(--init-from "$INIT_FROM")
[ -n "${LR:-}" ] && start+=(--lr "$LR")

resume_flag() { [ -e "$1" ] && echo --resume || true; }
step() { echo "== $(date -u +%H:%M:%S) $*"; }

if [ ! -f "$data/labels.csv" ]; then
    step "synthesize $count training captures into $data"
    $nima synth "$data" --count "$count" --seed 1 --workers 2 $(resume_flag "$data/.synth_run.json")
fi
if [ ! -f "$test/labels.csv" ]; then
    step "synthesize $test_count held-out test captures into $test"
    $nima synth "$test" --count "$test_count" --seed 2 --workers 2 $(resume_flag "$test/.synth_run.json")
fi
if [ ! -f "$run/metrics.json" ]; then
    step "train $backbone alpha $alpha at $size px ($view view, dropout $dropout) into $run"
    $nima train --data "$data/labels.csv" --format csv --backbone "$backbone" --alpha "$alpha" \
        --input-size "$size" --view "$view" --dropout "$dropout" --epochs "$epochs" --lr-schedule cosine --batch-size 32 \
        --base-weights none --balance "$balance" "${start[@]}" --seed 0 \
        --time-budget "$budget" --out "$run" $(resume_flag "$run/config.json")
fi
if [ ! -f "$run/calibration/manifest.json" ]; then
    step "choose 200 calibration images from the training captures"
    $nima calibrate "$data" --n 200 --scan 2000 --out "$run/calibration" --force
fi
step "export int8 with the fidelity gate (validation: the held-out set)"
$nima export "$run/model.keras" --format int8 --calibration "$run/calibration" \
    --val "$test/labels.csv" --val-format csv --out "$run/model_int8.tflite" --force
step "evaluate on the held-out set"
$nima eval "$run/model.keras" --data "$test/labels.csv" --format csv --json --force > "$run/eval_keras.json"
$nima eval "$run/model_int8.tflite" --data "$test/labels.csv" --format csv --json \
    --plot "$run/eval_int8.png" --force > "$run/eval_int8.json"
step "install into models/"
cp "$run/model_int8.tflite" models/default.tflite
cp "$run/model_int8.fidelity.json" models/default.fidelity.json
cp "$run/model.keras" models/default.keras
.venv/bin/python scripts/make_golden.py models/default.tflite models/golden --force
step "done: models/default.tflite ($(stat -c %s models/default.tflite) bytes)"
