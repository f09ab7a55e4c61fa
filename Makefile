# nima-edge — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
NIMA   := $(VENV)/bin/nima
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONDONTWRITEBYTECODE = 1

# The shipped model's recipe (RECIPE_*): one file that make_model.sh and the model card read too.
include models/recipe.env
SYNTH_DIR ?= data/synth
SYNTH_COUNT ?= $(RECIPE_COUNT)
RUN_DIR ?= runs/default
# Real photos (docs/ + nondocs/, or a manifest.csv) and ImageNet backbones: empty = ../shared/... when it exists.
REAL ?=
WEIGHTS ?=
REAL_SET ?= data/real
# Real photos left out (`nima realset --review`): empty = the recipe's RECIPE_REVIEW for ../shared/realdata; none = no review.
REVIEW ?=
# What `make realset` reads and leaves out: the same defaults as scripts/make_model.sh.
REAL_PHOTOS = $(or $(REAL),../shared/realdata)
REVIEW_USED = $(or $(REVIEW),$(if $(filter ../shared/realdata,$(REAL_PHOTOS)),$(RECIPE_REVIEW),none))

CHROMIUM ?= /usr/bin/chromium

.PHONY: setup setup-runtime demo test test-slow test-deps lint synth realset train export calibrate model bench eval realcheck pi-check web clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Full install: runtime + training/export (TensorFlow) + test tools.
$(VENV)/.full: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e ".[train,dev]"
	touch $@

# Runtime-only install: what a kiosk needs (no TensorFlow).
$(VENV)/.runtime: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	touch $@

setup: $(VENV)/.full
setup-runtime: $(VENV)/.runtime

demo: $(VENV)/.runtime
	$(NIMA) score samples/
	$(NIMA) annotate samples/ --out demo-out --force
	@echo "annotated images written to demo-out/"

# What the tests need besides Python: the capture page's npm packages and Debian's chromium for
# tests/web, and Java 17 for Spark in tests/archive (installed as root, as CI runs).
test-deps: web/node_modules/.package-lock.json
	@test -x $(CHROMIUM) || (apt-get update -q && apt-get install -y -q chromium)
	@command -v java >/dev/null || (apt-get update -q && apt-get install -y -q openjdk-17-jre-headless)

test: setup test-deps
	$(PY) -m pytest -m "not slow" -q -p no:cacheprovider

test-slow: setup test-deps
	$(PY) -m pytest -m slow -q -p no:cacheprovider

# The browser capture page (web/README.md): npm packages, the bundled model beside the page.
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund

web: web/node_modules/.package-lock.json
	cp models/default.tflite web/model.tflite
	@echo "serve it: cd web && python3 -m http.server 8000, then open http://localhost:8000/?debug=1"

lint: setup
	$(VENV)/bin/ruff check .

synth: setup
	$(NIMA) synth $(SYNTH_DIR) --count $(SYNTH_COUNT) --seed 1 --workers 2 --preview $(SYNTH_DIR)/preview.png --resume

# The shipped recipe on the data at hand (make synth; make realset adds the real photos). `make model`
# is the whole pipeline, ImageNet start included.
train: setup
	$(NIMA) train --data $(SYNTH_DIR)/labels.csv $(if $(wildcard $(REAL_SET)/train/labels.csv),--data $(REAL_SET)/train/labels.csv) \
	    --format csv --backbone $(RECIPE_BACKBONE) --alpha $(RECIPE_ALPHA) --input-size $(RECIPE_SIZE) \
	    --view $(RECIPE_VIEW) --dropout $(RECIPE_DROPOUT) --frame-dropout $(RECIPE_FRAME_DROPOUT) --colour-shift $(RECIPE_COLOUR_SHIFT) \
	    --epochs $(RECIPE_EPOCHS) --phase1-epochs $(RECIPE_PHASE1) $(if $(filter-out 0,$(RECIPE_AVERAGE_FROM)),--average-from $(RECIPE_AVERAGE_FROM)) \
	    --lr $(RECIPE_LR) --lr-schedule $(RECIPE_LR_SCHEDULE) --batch-size $(RECIPE_BATCH_SIZE) --out $(RUN_DIR) --resume

calibrate: setup
	$(NIMA) calibrate $(SYNTH_DIR) --n $(RECIPE_CALIB_N) --out calibration/default --force

export: setup
	$(NIMA) export $(RUN_DIR)/model.keras --format int8 --out $(RUN_DIR)/model_int8.tflite --force

model: setup
	REAL="$(REAL)" WEIGHTS="$(WEIGHTS)" REALSET="$(REAL_SET)" REVIEW="$(REVIEW)" bash scripts/make_model.sh

realset: setup
	$(NIMA) realset $(REAL_PHOTOS) $(REAL_SET) --workers 2 --blocky-share $(RECIPE_BLOCKY_SHARE) $(if $(filter none,$(REVIEW_USED)),,--review $(REVIEW_USED))

realcheck: setup
	$(NIMA) realcheck $(REAL_SET)/holdout/labels.csv --model models/default.tflite

bench: setup
	$(NIMA) bench

eval: setup
	$(NIMA) eval models/default.tflite --data $(SYNTH_DIR)/labels.csv --format csv

pi-check:
	bash scripts/pi_check.sh

clean:
	rm -rf demo-out .pytest_cache build *.egg-info
