"""`nima export`: every format from a tiny trained NIMA, scored by the runtime; metadata; the gate."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner
from nima_edge.runtime.images import load_image
from nima_edge.runtime.metadata import read_metadata, strip_metadata
from nima_edge.runtime.scorer import Scorer

from nima_edge.cli import cli

# Gates a 96-px alpha-0.35 model trained for 24 steps meets in int8 with a decent calibration set
# (measured: SRCC 0.978, median |Δ mean| 0.36, agreement 93%); black-frame calibration misses all
# three by far (SRCC undefined, median |Δ mean| 1.69, agreement 57%).
TINY_INT8_GATES = ["--min-srcc", "0.9", "--max-median-delta", "0.8", "--min-agreement", "0.8"]


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_unknown_format_is_refused_with_the_choices_and_a_near_miss(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"not used")
    result = run("export", model, "--format", "int9", "--out", tmp_path / "m.tflite")
    assert result.exit_code == 1
    assert "unknown format 'int9' (did you mean 'int8'?); choose from float32, float16, dynamic, int8, " \
           "qat-int8" in result.output


def test_option_the_format_does_not_take_is_refused_naming_the_valid_ones(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"not used")
    result = run("export", model, "--format", "float16", "--calibration", tmp_path, "--out", tmp_path / "m.tflite")
    assert result.exit_code == 1
    assert "--calibration does not apply to format float16 (it takes no format-specific options); " \
           "--calibration is for: int8, qat-int8" in result.output
    result = run("export", model, "--format", "int8", "--epochs", "3", "--out", tmp_path / "m.tflite")
    assert "--epochs does not apply to format int8 (it takes --batch-size, --calibration); " \
           "--epochs is for: qat-int8" in result.output
    assert not (tmp_path / "m.tflite").exists()


@pytest.mark.parametrize("fmt, max_median_delta", [("float32", 1e-4), ("float16", 0.03), ("dynamic", 0.1)])
def test_float_formats_export_score_and_carry_metadata(tiny_model, captures, tmp_path, fmt, max_median_delta):
    _, val, _ = captures
    out = tmp_path / f"tiny_{fmt}.tflite"
    result = run("export", tiny_model, "--format", fmt, "--out", out, "--val", val)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output

    metadata = read_metadata(out)
    assert metadata.quantization == fmt
    assert metadata.input_size == (96, 96)
    assert metadata.score_values == tuple(float(v) for v in range(1, 11))
    assert metadata.extra_outputs == {"defects": ("defocus", "underexposed")}
    assert metadata.training["backbone"] == "mobilenet_v2" and len(metadata.training["keras_sha256"]) == 64
    fidelity = metadata.fidelity
    assert fidelity["images"] == 30 and fidelity["passed"] is True
    assert fidelity["median_abs_delta"] <= max_median_delta
    assert fidelity["srcc"] >= 0.99
    # the model really spreads over the scale, so the figures above are not about a constant
    low, high = fidelity["keras_mean_range"]
    assert high - low > 2.0

    report = json.loads(out.with_name(out.stem + ".fidelity.json").read_text())
    assert report == fidelity
    assert "| SRCC of means |" in out.with_name(out.stem + ".fidelity.md").read_text()

    scorer = Scorer(out, threads=1)
    score = scorer.score(load_image(min(val.iterdir())))
    assert 1.0 <= score.mean <= 10.0
    assert set(score.extras["defects"]) == {"defocus", "underexposed"}


def test_int8_has_raw_uint8_input_float_output_and_passes_with_good_calibration(tiny_model, captures, tmp_path,
                                                                                  caplog):
    calib, val, _ = captures
    out = tmp_path / "tiny_int8.tflite"
    result = run("export", tiny_model, "--format", "int8", "--calibration", calib, "--val", val, "--out", out,
                 *TINY_INT8_GATES)
    assert result.exit_code == 0, result.output
    assert "only 48 calibration images" in caplog.text  # under 100: warned, not refused

    scorer = Scorer(out, threads=1)
    (detail,) = scorer.interpreter.get_input_details()
    assert detail["dtype"] == np.uint8
    assert tuple(detail["quantization"]) in {(0.0, 0), (1.0, 0)}  # raw pixels go straight in
    assert all(d["dtype"] == np.float32 for d in scorer.interpreter.get_output_details())
    metadata = read_metadata(out)
    assert metadata.quantization == "int8"
    assert metadata.calibration["images"] == 48 and len(metadata.calibration["sha256"]) == 64
    assert metadata.fidelity["passed"] is True

    # the same flatbuffer without its metadata still loads, with defaults and a warning
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(strip_metadata(out.read_bytes()))
    caplog.clear()
    plain = Scorer(bare, threads=1)
    assert "has no nima-edge metadata" in caplog.text
    frame = load_image(min(val.iterdir()))
    assert plain.score(frame).mean == pytest.approx(scorer.score(frame).mean, abs=1e-6)


def test_gate_fails_on_black_frame_calibration_but_still_writes_a_marked_report(tiny_model, captures,
                                                                                black_frames, tmp_path):
    _, val, _ = captures
    out = tmp_path / "black_int8.tflite"
    result = run("export", tiny_model, "--format", "int8", "--calibration", black_frames, "--val", val,
                 "--out", out, *TINY_INT8_GATES)
    assert result.exit_code == 1
    assert "fidelity gate missed: " in result.output
    assert read_metadata(out).fidelity["passed"] is False


def test_calibration_smaller_than_the_batch_is_refused(tiny_model, black_frames, tmp_path):
    out = tmp_path / "m.tflite"
    result = run("export", tiny_model, "--format", "int8", "--calibration", black_frames, "--batch-size", "32",
                 "--val", black_frames, "--out", out)
    assert result.exit_code == 1
    assert f"{black_frames}: 16 calibration images, fewer than the batch size 32" in result.output
    assert not out.exists()


def test_existing_output_is_not_overwritten_without_force(tiny_model, tmp_path):
    out = tmp_path / "m.tflite"
    out.write_bytes(b"keep me")
    result = run("export", tiny_model, "--format", "float32", "--out", out)
    assert result.exit_code == 1
    assert f"{out}: already exists (use --force to overwrite)" in result.output
    assert out.read_bytes() == b"keep me"


def test_killed_export_leaves_no_partial_file(tiny_model, captures, tmp_path):
    _, val, _ = captures
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(
        [sys.executable, "-m", "nima_edge.cli", "-v", "export", str(tiny_model), "--format", "float32",
         "--val", str(val), "--out", str(out_dir / "m.tflite")],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    deadline = time.monotonic() + 120
    try:
        for line in process.stderr:  # kill while the converter is at work
            if "converting" in line or time.monotonic() > deadline:
                break
        time.sleep(1.0)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert list(out_dir.iterdir()) == []
