"""Scoring with real TFLite models: parity with Keras, int8, no TensorFlow, missing metadata."""
import logging
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from nima_edge.export.tiny_pages import training_images
from nima_edge.runtime import Scorer, preprocess
from nima_edge.runtime.metadata import embed_metadata, read_metadata
from nima_edge.runtime.preprocess import mirror_input
from runtime_pages import render_page


def _images():
    images, _, _ = training_images(6, seed=11)
    bgr = [img[..., ::-1].copy() for img in images]
    return bgr + [render_page(400, 300), render_page(400, 300, blur=2.0, brightness=0.4)]


def test_float_tflite_matches_keras_within_0_05(tiny_models):
    import keras

    model = keras.models.load_model(tiny_models["keras"])
    scorer = Scorer(tiny_models["float"], threads=1)
    values = np.arange(1, 11)
    means = []
    for image in _images():
        model_input = preprocess(image, scorer.input_size, scorer.metadata.resize)
        keras_dist = np.asarray(model(model_input[None], training=False)["distribution"])[0]
        keras_mean = float((keras_dist * values).sum())
        tflite_mean = scorer.score(image).mean
        assert abs(tflite_mean - keras_mean) <= 0.05
        means.append(tflite_mean)
    assert np.ptp(means) > 0.5  # the model's output depends on the image: parity is not vacuous


def test_int8_model_takes_raw_pixels_and_stays_close(tiny_models):
    f, q = Scorer(tiny_models["float"], threads=1), Scorer(tiny_models["int8"], threads=1)
    assert q._input["dtype"] == np.uint8  # raw pixels go straight in (no scale, or scale 1 and zero 0)
    assert tuple(q._input["quantization"]) in ((0.0, 0), (1.0, 0))
    for image in _images():
        a, b = f.score(image), q.score(image)
        assert abs(a.mean - b.mean) < 0.3
        assert set(b.extras["defects"]) == set(a.extras["defects"])


def test_model_without_metadata_loads_with_defaults_and_warns(tiny_models, caplog):
    with caplog.at_level(logging.WARNING):
        scorer = Scorer(tiny_models["bare"], threads=1)
    assert "no nima-edge metadata" in caplog.text
    assert scorer.metadata.input_size == (64, 64) and scorer.threshold == 5.0
    assert 1.0 <= scorer.score(render_page(320, 240)).mean <= 10.0


def test_runtime_scores_with_tensorflow_unimportable(tiny_models, page_files, tmp_path):
    """The runtime (library and CLI) works when `import tensorflow` fails."""
    script = textwrap.dedent(f"""
        import sys, json
        sys.modules["tensorflow"] = None  # any `import tensorflow` now raises ImportError
        sys.modules["keras"] = None
        from nima_edge.runtime import Scorer, load_image
        score = Scorer({str(tiny_models['int8'])!r}, threads=1).score(load_image({str(page_files['sharp'])!r}))
        assert 1 <= score.mean <= 10
        from click.testing import CliRunner
        from nima_edge.cli import cli
        result = CliRunner().invoke(cli, ["score", {str(page_files['sharp'])!r}, "--json",
                                          "--model", {str(tiny_models['float'])!r}])
        assert result.exit_code == 0, result.output
        record = json.loads(result.output.strip().splitlines()[-1])
        assert record["verdict"] in ("ok", "retake")
        loaded = [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras") and sys.modules[m] is not None]
        assert not loaded, loaded
        print("OK", score.mean)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("OK")


def test_default_model_missing_is_a_clear_error(monkeypatch, tmp_path):
    import nima_edge.models
    from nima_edge.runtime import ModelError

    monkeypatch.setattr(nima_edge.models, "DEFAULT_MODEL", tmp_path / "default.tflite")
    with pytest.raises(ModelError, match="bundled default model is not installed; pass --model"):
        Scorer()


def test_renamed_outputs_of_one_shape_are_refused_not_guessed(tiny_models, tmp_path):
    """With 10 bins and 10 defects both heads are (1, 10): an unnamed distribution must not be guessed."""
    from nima_edge.runtime import ModelError

    original = read_metadata(tiny_models["float"])
    renamed = original.replace(distribution_output="output_0",
                               extra_outputs={"output_1": original.extra_outputs["defects"]})
    path = tmp_path / "renamed.tflite"
    path.write_bytes(embed_metadata(tiny_models["float"].read_bytes(), renamed))
    with pytest.raises(ModelError, match="2 outputs have shape \\(1, 10\\) and none is named 'output_0'"):
        Scorer(path, threads=1)


def test_mirror_average_scores_the_input_and_its_mirror(tiny_models, tmp_path):
    """A model whose metadata says mirror_average is scored on the mean of its outputs for the
    input and the mirrored input; single_pass (the fidelity gate) runs the network once."""
    path = tmp_path / "mirrored.tflite"
    path.write_bytes(embed_metadata(tiny_models["float"].read_bytes(), read_metadata(tiny_models["float"]).replace(
        mirror_average=True)))
    assert not Scorer(tiny_models["float"], threads=1).mirror_average  # metadata without it: off
    averaged, single = Scorer(path, threads=1), Scorer(path, threads=1, single_pass=True)
    assert averaged.mirror_average
    moved = np.inf
    for image in _images():
        model_input = averaged.prepare(image)
        runs = single.run(model_input), single.run(mirror_input(model_input, averaged.metadata.view))
        once, mirrored = (run["distribution"] for run in runs)
        want = (once + mirrored) / 2
        score = averaged.score(image)
        np.testing.assert_allclose(score.distribution, want / want.sum(), atol=1e-6)
        np.testing.assert_allclose(single.score(image).distribution, once / once.sum(), atol=1e-6)
        # The defect sigmoids are averaged too: a reason must not come from one look alone.
        np.testing.assert_allclose(list(score.extras["defects"].values()),
                                   (runs[0]["defects"] + runs[1]["defects"]) / 2, atol=1e-6)
        moved = min(moved, float(np.abs(mirrored - once).max()),
                    float(np.abs(runs[1]["defects"] - runs[0]["defects"]).max()))
    # On every image both heads' two passes differ by far more than the tolerance: not vacuous.
    assert moved > 1e-5
