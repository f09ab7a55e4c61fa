#!/usr/bin/env bash
# `make model`: the whole pipeline with the project's own commands —
#   synthesize + real photos -> train from ImageNet weights -> calibrate -> export int8 (fidelity gate)
#   -> evaluate on held-out synthetic captures and on real photos held out by source -> install.
# Every step resumes or is skipped when its output exists, so a killed run is simply started again:
#   nohup make model > model.log 2>&1 &
# The recipe (alpha, size, view, epochs, ...) is models/recipe.env. Knobs (environment): REAL (a folder of real photos: docs/ + nondocs/ or a manifest.csv; default
# ../shared/realdata when it exists, else none), WEIGHTS (the folder of ImageNet MobileNetV2 backbones; default
# ../shared/weights when it exists, else the Keras cache), COUNT, TEST_COUNT, ALPHA, SIZE, VIEW, DROPOUT, FRAME_DROPOUT, COLOUR_SHIFT,
# AVERAGE_FROM (the first epoch whose weights the model averages; 0: off, the best epoch), EPOCHS,
# PHASE1 (head-only epochs), TIME_BUDGET (minutes), BALANCE, LR, INIT_FROM (a .keras to fine-tune), RUN, DATA, TEST,
# REALSET (where the real photos' training and holdout copies go), BLOCKY_SHARE (`nima realset --blocky-share`), REVIEW (a CSV of real photos to leave out,
# `nima realset --review`; default the recipe's RECIPE_REVIEW when REAL is ../shared/realdata, the photos it
# reviews; "none": no review), GATE (off: record a missed fidelity gate, go on).
# The epochs are what fits in the time budget on 2 cores (see the model card): the cosine schedule must reach
# its end inside it (a run cut short keeps its best epoch, but never cooled down).
set -euo pipefail
cd "$(dirname "$0")/.."
nima=${NIMA:-.venv/bin/nima}
data=${DATA:-data/synth}              # training + validation + calibration captures (seed 1)
test=${TEST:-data/synth_test}         # held out: never used for training or calibration (seed 2)
realset=${REALSET:-data/real}        # real photos: train/ (training sources) and holdout/ (whole sources held out)
run=${RUN:-runs/default}
. models/recipe.env  # the shipped recipe; the environment overrides it for one run
count=${COUNT:-$RECIPE_COUNT}; test_count=${TEST_COUNT:-$RECIPE_TEST_COUNT}
backbone=$RECIPE_BACKBONE; alpha=${ALPHA:-$RECIPE_ALPHA}; size=${SIZE:-$RECIPE_SIZE}; view=${VIEW:-$RECIPE_VIEW}
dropout=${DROPOUT:-$RECIPE_DROPOUT}; frame_dropout=${FRAME_DROPOUT:-$RECIPE_FRAME_DROPOUT}; colour_shift=${COLOUR_SHIFT:-$RECIPE_COLOUR_SHIFT}; batch=${BATCH_SIZE:-$RECIPE_BATCH_SIZE}; schedule=$RECIPE_LR_SCHEDULE
epochs=${EPOCHS:-$RECIPE_EPOCHS}; phase1=${PHASE1:-$RECIPE_PHASE1}; lr=${LR:-$RECIPE_LR}
average_from=${AVERAGE_FROM:-$RECIPE_AVERAGE_FROM}
budget=${TIME_BUDGET:-$RECIPE_TIME_BUDGET}; balance=${BALANCE:-$RECIPE_BALANCE}
real=${REAL-}; [ -z "$real" ] && [ -d ../shared/realdata ] && real=../shared/realdata
weights=${WEIGHTS-}; [ -z "$weights" ] && [ -d ../shared/weights ] && weights=../shared/weights
review=${REVIEW-}; [ -z "$review" ] && [ "$real" = ../shared/realdata ] && review=$RECIPE_REVIEW
[ "$review" = none ] && review=
blocky=${BLOCKY_SHARE:-$RECIPE_BLOCKY_SHARE}
alpha_tag=$(python3 -c "print('a%03d' % round(float('$alpha') * 100))")
if [ -n "${INIT_FROM:-}" ]; then
    start=(--init-from "$INIT_FROM" --base-weights none)
elif [ -n "$weights" ]; then
    start=(--base-weights "$weights/mobilenetv2_${alpha_tag}_224_no_top_imagenet.h5")
else
    start=(--base-weights imagenet)  # from the Keras cache; never downloaded
fi
extra=()
averaging=(); kept="the best epoch kept"
[ "$average_from" != 0 ] && averaging=(--average-from "$average_from") && kept="weights averaged from epoch $average_from"

resume_flag() { [ -e "$1" ] && echo --resume || true; }
review_matches() {
    if [ -n "$review" ]; then cmp -s "$review" "$realset/review.csv"; else [ ! -e "$realset/review.csv" ]; fi
}
blocky_matches() {  # the share the set was built with (none recorded: 0) against this run's
    local recorded=0
    [ -f "$realset/blocky_share.txt" ] && recorded=$(cat "$realset/blocky_share.txt")
    python3 -c "import sys; sys.exit(float('$recorded') != float('$blocky'))"
}
step() { echo "== $(date -u +%H:%M:%S) $*"; }

if [ ! -f "$data/labels.csv" ]; then
    step "synthesize $count training captures into $data"
    $nima synth "$data" --count "$count" --seed 1 --workers 2 $(resume_flag "$data/.synth_run.json")
fi
if [ ! -f "$test/labels.csv" ]; then
    step "synthesize $test_count held-out test captures into $test"
    $nima synth "$test" --count "$test_count" --seed 2 --workers 2 $(resume_flag "$test/.synth_run.json")
fi
if [ -n "$real" ]; then
    # A set built with another review (or none) or another blocky share is rebuilt: the set records both.
    if [ ! -f "$realset/holdout/labels.csv" ] || ! review_matches || ! blocky_matches; then
        step "real photos from $real${review:+ (review: $review)}, blocky share $blocky: training copies and the held-out sources into $realset"
        $nima realset "$real" "$realset" --seed 0 --workers 2 ${review:+--review "$review"} --blocky-share "$blocky" --force
    fi
    extra+=(--data "$realset/train/labels.csv")
fi
if [ ! -f "$run/metrics.json" ]; then
    step "train $backbone alpha $alpha at $size px ($view view, dropout $dropout, frame dropout $frame_dropout, colour shift $colour_shift, $kept, ${start[*]}) into $run"
    $nima train --data "$data/labels.csv" "${extra[@]}" --format csv --backbone "$backbone" --alpha "$alpha" \
        --input-size "$size" --view "$view" --dropout "$dropout" --frame-dropout "$frame_dropout" --colour-shift "$colour_shift" \
        --epochs "$epochs" --phase1-epochs "$phase1" --lr "$lr" --lr-schedule "$schedule" --batch-size "$batch" \
        --balance "$balance" "${start[@]}" "${averaging[@]}" --seed 0 \
        --time-budget "$budget" --out "$run" $(resume_flag "$run/config.json")
fi
if [ ! -f "$run/calibration/manifest.json" ]; then
    step "choose 200 calibration images from the training captures (at the detail tiles' 1024-px scale)"
    $nima calibrate "$data" --n "$RECIPE_CALIB_N" --scan "$RECIPE_CALIB_SCAN" --long-side "$RECIPE_CALIB_LONG_SIDE" \
        --out "$run/calibration" --force
fi
step "export int8 with the fidelity gate (validation: the held-out set)"
# The pipeline stops here when int8 strays from Keras (SRCC < 0.99, median |d mean| > 0.05 or verdict agreement
# < 98% on the held-out set; the files are still written, marked "passed": false). GATE=off records the figures
# and goes on. Fully int8, the ImageNet-started model missed the gate (SRCC 0.989); its stem kept in float
# (export/formats.py FLOAT_STEM_OPS) passes it (0.9985).
gate=(); [ "${GATE:-on}" = off ] && gate=(--no-gate)
$nima export "$run/model.keras" --format int8 --calibration "$run/calibration" "${gate[@]}" \
    --val "$test/labels.csv" --val-format csv --out "$run/model_int8.tflite" --force
step "evaluate on the held-out set"
$nima eval "$run/model.keras" --data "$test/labels.csv" --format csv --json --force > "$run/eval_keras.json"
$nima eval "$run/model_int8.tflite" --data "$test/labels.csv" --format csv --json \
    --plot "$run/eval_int8.png" --force > "$run/eval_int8.json"
$nima eval "$run/model_int8.tflite" --data "$test/labels.csv" --format csv --json --decision \
    --force > "$run/eval_int8_decision.json"
if [ -f "$realset/holdout/labels.csv" ]; then
    step "real photos held out by source, as nima score decides (model alone and model + checks)"
    $nima realcheck "$realset/holdout/labels.csv" --model "$run/model_int8.tflite" --save "$run/realcheck.json" \
        --force | tee "$run/realcheck.md"
fi
step "install into models/"
cp "$run/model_int8.tflite" models/default.tflite
cp "$run/model_int8.fidelity.json" models/default.fidelity.json
cp "$run/model.keras" models/default.keras
.venv/bin/python scripts/make_golden.py models/default.tflite models/golden --force
step "done: models/default.tflite ($(stat -c %s models/default.tflite) bytes)"
