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

# Gates a 96-px alpha-0.35 model trained for 24 steps meets in int8 throughout (--float-stem 0) with a
# decent calibration set (measured: SRCC 0.978, median |Δ mean| 0.36, agreement 93%); black-frame
# calibration misses all three by far (SRCC undefined, median |Δ mean| 1.69, agreement 57%).
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
    assert "--epochs does not apply to format int8 (it takes --batch-size, --calibration, --float-stem); " \
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


def _ops(path) -> list[tuple[str, str]]:
    """(op type, type of its first output) of each op in execution order: ("CONV_2D", "INT8")."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    types = {code: name for name, code in vars(schema.TensorType).items() if not name.startswith("_")}
    ops = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(strip_metadata(path.read_bytes())))
    graph = model.subgraphs[0]
    codes = [model.operatorCodes[op.opcodeIndex] for op in graph.operators]
    return [(ops[max(code.builtinCode, code.deprecatedBuiltinCode)], types[graph.tensors[op.outputs[0]].type])
            for code, op in zip(codes, graph.operators)]


def test_int8_float_stem_keeps_the_first_ops_float_and_a_whole_float_graph_matches_keras(tiny_model, captures,
                                                                                          tmp_path):
    calib, val, _ = captures
    reports = {}
    for stem in (0, 5, 10_000):
        out = tmp_path / f"stem{stem}.tflite"
        result = run("export", tiny_model, "--format", "int8", "--calibration", calib, "--val", val, "--out", out,
                     "--float-stem", stem, "--no-gate")
        assert result.exit_code == 0, result.output
        reports[stem] = json.loads(out.with_name(out.stem + ".fidelity.json").read_text())
        ops = _ops(out)
        assert ops[0] == ("CAST", "FLOAT32")  # uint8 pixels in
        compute = [t for op, t in ops[1:] if op not in ("QUANTIZE", "DEQUANTIZE")]
        scorer = Scorer(out, threads=1)  # the runtime runs the mixed graph: uint8 in, float32 out
        assert scorer.interpreter.get_input_details()[0]["dtype"] == np.uint8
        assert all(d["dtype"] == np.float32 for d in scorer.interpreter.get_output_details())
        assert 1.0 <= scorer.score(load_image(min(val.iterdir()))).mean <= 10.0
        calibration = read_metadata(out).calibration
        if stem == 0:
            assert set(compute) == {"INT8"} and "float_stem_ops" not in calibration
        elif stem == 5:  # five float ops (no QUANTIZE before them), then int8 to the end
            assert [t for _, t in ops[1:6]] == ["FLOAT32"] * 5 and ops[6][0] == "QUANTIZE"
            assert compute[:5] == ["FLOAT32"] * 5 and set(compute[5:]) == {"INT8"}
            assert calibration["float_stem_ops"] == 5
        else:
            assert set(compute) == {"FLOAT32"}
    assert reports[10_000]["median_abs_delta"] < 1e-3  # nothing quantized: the Keras model's scores
    assert reports[10_000]["median_abs_delta"] < reports[0]["median_abs_delta"]


def test_float_stem_is_for_int8_only(tiny_model, tmp_path):
    result = run("export", tiny_model, "--format", "qat-int8", "--float-stem", "3", "--out", tmp_path / "m.tflite")
    assert result.exit_code != 0
    assert "--float-stem does not apply to format qat-int8" in result.output
    assert "--float-stem is for: int8" in result.output


def test_gate_fails_on_black_frame_calibration_but_still_writes_a_marked_report(tiny_model, captures,
                                                                                black_frames, tmp_path):
    _, val, _ = captures
    out = tmp_path / "black_int8.tflite"
    # int8 throughout: with its stem in float the tiny model stays inside its loose gates even on
    # black-frame ranges (the stem is where wrong ranges hurt most).
    result = run("export", tiny_model, "--format", "int8", "--calibration", black_frames, "--val", val,
                 "--out", out, "--float-stem", "0", *TINY_INT8_GATES)
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
