"""qat-int8 through tfmot in a tf_keras subprocess (slow: ~1-3 min on 2 cores)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from nima_edge.runtime.images import load_image
from nima_edge.runtime.metadata import read_metadata
from nima_edge.runtime.scorer import Scorer

from nima_edge.cli import cli

pytestmark = pytest.mark.slow


def test_qat_int8_exports_from_labels_and_reports_against_post_training(tiny_model, captures, tmp_path):
    calib, val, qualities = captures
    labels = calib / "labels.csv"
    labels.write_text("path,mean,std\n" + "".join(f"{name},{q:.3f},1.2\n" for name, q in qualities.items()))
    out = tmp_path / "tiny_qat.tflite"
    result = CliRunner().invoke(cli, ["export", str(tiny_model), "--format", "qat-int8", "--data", str(labels),
                                      "--calibration", str(calib), "--val", str(val), "--epochs", "1",
                                      "--out", str(out), "--no-gate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "post-training int8 (median |Δ mean|" in result.output

    metadata = read_metadata(out)
    assert metadata.quantization == "qat-int8"
    assert metadata.training["qat"]["epochs"] == 1
    fidelity = metadata.fidelity
    assert isinstance(fidelity["beats_post_training_int8"], bool)
    assert set(fidelity["post_training_int8"]) >= {"srcc", "median_abs_delta", "agreement"}
    # QAT must still rank images like the float model (the tf_keras twin carried the weights over)
    assert fidelity["srcc"] > 0.9
    scorer = Scorer(out, threads=1)
    assert scorer.interpreter.get_input_details()[0]["dtype"].__name__ == "uint8"
    score = scorer.score(load_image(min(val.iterdir())))
    assert set(score.extras["defects"]) == {"defocus", "underexposed"}
