"""Real training runs on generated page images: two phases, checkpoints, resume, eval, mirrored."""
import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from click.testing import CliRunner
from nima_edge.runtime.fileio import OutputError
from nima_edge.runtime.preprocess import mirror_input
from nima_edge.training.config import TrainConfig
from nima_edge.training.model import NimaSpec, SpecError, load_nima

from nima_edge.cli import cli

pytest.importorskip("tensorflow")

TINY = {"backbone": "mobilenet_v2", "alpha": 0.35, "input_size": 96, "batch_size": 8, "bn_momentum": 0.8, "limit": 64}


def _config(data, **changes) -> TrainConfig:
    return TrainConfig(data=str(data), format="csv", **{**TINY, **changes})


@pytest.fixture(scope="module")
def resumed_run(document_set, tmp_path_factory):
    """A 3-epoch run stopped by its time budget after epoch 1, then resumed to the end."""
    from nima_edge.training.train import train

    out = tmp_path_factory.mktemp("run") / "run"
    first_log: list[str] = []
    first = train(_config(document_set, epochs=3, phase1_epochs=1), out, echo=first_log.append,
                  time_budget_min=0.0)
    first_history = (out / "history.csv").read_text()
    second_log: list[str] = []
    second = train(_config(document_set, epochs=99), out, resume=True, echo=second_log.append)
    return out, first, first_history, first_log, second, second_log


def test_budget_stop_writes_outputs_and_resume_finishes(resumed_run):
    out, first, first_history, first_log, second, second_log = resumed_run
    assert first["epochs_done"] == 1 and first["finished"] is False
    assert len(first_history.strip().splitlines()) == 2  # header + epoch 1
    assert any("time budget" in line for line in first_log)
    assert any("resuming after epoch 1/3" in line for line in second_log)
    # The stored config wins on --resume (epochs=99 was ignored).
    assert second["epochs_done"] == 3 and second["finished"] is True
    rows = [line.split(",") for line in (out / "history.csv").read_text().strip().splitlines()[1:]]
    assert [int(r[0]) for r in rows] == [1, 2, 3]
    assert [int(r[1]) for r in rows] == [1, 2, 2]  # phase 1 head only, then all layers
    for name in ("model.keras", "config.json", "metrics.json", "checkpoints/last.weights.h5",
                 "checkpoints/last_optimizer.npz", "checkpoints/state.json"):
        assert (out / name).is_file(), name


def test_training_lowers_the_loss(resumed_run):
    out = resumed_run[0]
    losses = [float(line.split(",")[2]) for line in (out / "history.csv").read_text().strip().splitlines()[1:]]
    assert losses[-1] < losses[0]


def test_metrics_and_config_files(resumed_run):
    out = resumed_run[0]
    figures = json.loads((out / "metrics.json").read_text())
    for key in ("emd", "lcc_mean", "srcc_mean", "binary_accuracy", "confusion"):
        assert key in figures
    assert figures["n"] == figures["split"]["test"] == 6
    assert set(figures["defects"]) == {"defocus", "glare"}
    config = TrainConfig.load(out / "config.json")
    assert config.epochs == 3 and config.alpha == 0.35
    data = json.loads((out / "config.json").read_text())
    with pytest.raises(SpecError, match="unknown training config keys: epoch"):
        TrainConfig.from_dict({**data, "epoch": 3})
    _model, spec = load_nima(out / "model.keras")
    assert spec.defect_labels == ("defocus", "glare") and spec.input_size == 96
    assert spec.provenance["test"]["n"] == 6


def test_resume_of_a_finished_run_does_nothing(resumed_run):
    from nima_edge.training.train import train

    out = resumed_run[0]
    log: list[str] = []
    train(_config("unused.csv"), out, resume=True, echo=log.append)
    assert "nothing to do" in log[-1]


def test_existing_run_folder_is_not_overwritten(resumed_run):
    from nima_edge.training.train import train

    with pytest.raises(OutputError, match="use --resume to continue it or --force"):
        train(_config("unused.csv"), resumed_run[0], echo=lambda m: None)


def test_eval_command_on_the_trained_model(resumed_run, document_set, tmp_path):
    model = resumed_run[0] / "model.keras"
    plot = tmp_path / "eval.png"
    result = CliRunner().invoke(cli, ["eval", str(model), "--data", str(document_set), "--format", "csv",
                                      "--limit", "40", "--json", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["n"] == 40
    confusion = figures["confusion"]
    assert sum(confusion["true_ok"].values()) + sum(confusion["true_retake"].values()) == 40
    assert set(figures["defects"]["defocus"]) == {"accuracy", "precision", "recall", "support"}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = CliRunner().invoke(cli, ["eval", str(model), "--data", str(document_set), "--format", "csv",
                                     "--plot", str(plot)])
    assert again.exit_code == 1 and "already exists" in again.output
    table = CliRunner().invoke(cli, ["eval", str(model), "--data", str(document_set), "--format", "csv",
                                     "--limit", "20"])
    assert "EMD (r=1)" in table.output and "true retake" in table.output


def test_missing_imagenet_weights_fail_fast_with_the_file_to_place(tmp_path, document_set):
    from nima_edge.training.model import NimaSpec, imagenet_weights_path

    expected = imagenet_weights_path(NimaSpec(alpha=0.5, input_size=128))
    if expected.exists():
        pytest.skip(f"{expected} is present on this machine")
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", "--data", str(document_set), "--format", "csv", "--out", str(out),
                                      "--alpha", "0.5", "--input-size", "128", "--base-weights", "imagenet"])
    assert result.exit_code == 1
    assert f"expected {expected}" in result.output
    assert expected.name == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_128_no_top.h5"
    assert not out.exists()


MIRRORED_STEP = textwrap.dedent("""
    import json, sys
    import numpy as np
    from nima_edge.training.config import TrainConfig
    from nima_edge.training.model import NimaSpec, build_nima
    from nima_edge.training.dataset import make_dataset
    from nima_edge.training.train import compile_model, make_strategy, split_cpu
    split_cpu(2)
    config = TrainConfig(data="unused.csv", format="csv", strategy="mirrored", batch_size=8)
    strategy = make_strategy(config.strategy)
    with strategy.scope():
        model = build_nima(NimaSpec(backbone="mobilenet", alpha=0.25, input_size=32))
        compile_model(model, config, phase=2, steps_per_epoch=2, with_defects=False)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    targets = {"distribution": rng.dirichlet(np.ones(10), size=16).astype(np.float32)}
    history = model.fit(make_dataset(images, targets, 32, 8, shuffle=True), epochs=2, verbose=0).history
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "kind": type(strategy).__name__,
                      "loss": history["loss"]}))
""")


def _run_python(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
    return subprocess.run([sys.executable, "-c", script, *args], check=False, capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_mirrored_training_step_over_two_logical_cpus():
    done = _run_python(MIRRORED_STEP)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["kind"] == "MirroredStrategy" and result["replicas"] == 2
    assert all(np.isfinite(result["loss"]))


@pytest.mark.slow
def test_nima_train_mirrored_end_to_end(document_set, tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "nima_edge.cli", "train", "--data", str(document_set), "--format",
                           "csv", "--out", str(out), "--alpha", "0.35", "--input-size", "32", "--batch-size", "8",
                           "--epochs", "1", "--limit", "24", "--strategy", "mirrored", "--cpu-replicas", "2"],
                          check=False, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "strategy MirroredStrategy over 2 replicas" in done.stderr
    assert np.isfinite(json.loads((out / "metrics.json").read_text())["emd"])


def _train_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "nima_edge.cli", "train", "--format", "csv", "--alpha", "0.35", "--input-size",
            "96", "--batch-size", "8", "--limit", "64", "--bn-momentum", "0.8", *args]


@pytest.mark.slow
def test_run_killed_after_epoch_one_resumes_to_the_full_count(document_set, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
    process = subprocess.Popen(_train_cli("--data", str(document_set), "--out", str(out), "--epochs", "4"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    state = out / "checkpoints" / "state.json"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if state.is_file() and json.loads(state.read_text())["epochs_done"] >= 1:
                break
            time.sleep(0.2)
    finally:
        process.kill()  # SIGKILL: no clean-up code runs
        process.wait()
    done_before = json.loads(state.read_text())["epochs_done"]
    assert 1 <= done_before < 4
    resumed = subprocess.run(_train_cli("--data", str(document_set), "--out", str(out), "--resume"),
                             check=False, capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming after epoch {done_before}/4" in resumed.stderr
    epochs = [int(line.split(",")[0]) for line in (out / "history.csv").read_text().strip().splitlines()[1:]]
    assert epochs == [1, 2, 3, 4]
    assert json.loads((out / "metrics.json").read_text())["epochs_done"] == 4


@pytest.mark.slow
def test_eval_of_a_tflite_conversion_matches_keras(resumed_run, document_set, tmp_path):
    import tensorflow as tf
    from nima_edge.runtime.metadata import ModelMetadata, embed_metadata

    model, spec = load_nima(resumed_run[0] / "model.keras")
    assert spec.mirror_average  # trained with flips: both evals score each image with its mirror
    flat = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    metadata = ModelMetadata(score_values=spec.score_values, input_size=spec.input_hw, threshold=spec.threshold,
                             view=spec.view, mirror_average=spec.mirror_average,
                             extra_outputs={"defects": spec.defect_labels})
    tflite = tmp_path / "model.tflite"
    tflite.write_bytes(embed_metadata(flat, metadata))
    args = ["--data", str(document_set), "--format", "csv", "--limit", "30", "--json"]
    keras_run = CliRunner().invoke(cli, ["eval", str(resumed_run[0] / "model.keras"), *args])
    lite_run = CliRunner().invoke(cli, ["eval", str(tflite), *args])
    assert lite_run.exit_code == 0, lite_run.output
    a = json.loads(keras_run.output.strip().splitlines()[-1])
    b = json.loads(lite_run.output.strip().splitlines()[-1])
    assert b["n"] == a["n"] == 30
    assert b["emd"] == pytest.approx(a["emd"], abs=1e-3)
    assert b["mean_predicted"] == pytest.approx(a["mean_predicted"], abs=1e-3)
    assert set(b["defects"]) == {"defocus", "glare"}
    # --decision judges what a device decides: the blur penalty can only lower the means.
    decided = CliRunner().invoke(cli, ["eval", str(tflite), *args, "--decision"])
    assert decided.exit_code == 0, decided.output
    c = json.loads(decided.output.strip().splitlines()[-1])
    assert c["decision"] is True and c["n"] == 30
    assert c["mean_predicted"] <= b["mean_predicted"] + 1e-6
    keras_decision = CliRunner().invoke(cli, ["eval", str(resumed_run[0] / "model.keras"), *args, "--decision"])
    assert keras_decision.exit_code == 1 and "give the exported .tflite" in keras_decision.output


def test_keras_eval_scores_a_mirror_average_model_with_its_mirror(tiny_models, document_set, tmp_path):
    """nima eval on a .keras whose spec says mirror_average averages the two passes, as the
    runtime does on the exported file. (The tiny runtime-test model: its outputs follow the image.)"""
    import keras
    from nima_edge.training.data import read_datasets
    from nima_edge.training.model import save_nima
    from nima_edge.training.pipeline import cache_images
    from nima_edge.training.predict_keras import predict_keras

    model = keras.models.load_model(tiny_models["keras"])
    spec = NimaSpec(alpha=0.35, input_size=int(model.input_shape[1]), mirror_average=True)
    path = save_nima(model, spec, tmp_path / "mirrored.keras")
    samples = read_datasets([document_set], "csv", limit=6)
    _, distributions, _, _ = predict_keras(path, samples)
    _, images = cache_images(samples, spec.input_size, view=spec.view)
    once = model.predict(np.asarray(images), verbose=0)["distribution"]
    mirrored = model.predict(np.stack([mirror_input(image, spec.view) for image in images]), verbose=0)["distribution"]
    np.testing.assert_allclose(distributions, (once + mirrored) / 2, atol=1e-6)
    assert np.abs(once - mirrored).max() > 1e-5  # not mirror-symmetric: the check is not vacuous


def test_flip_of_the_detail_view_mirrors_each_tile_in_place():
    from nima_edge.training.dataset import make_dataset

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    copies = np.repeat(image[None], 16, axis=0)
    targets = {"distribution": np.full((16, 10), 0.1, np.float32)}
    tiles = [(slice(0, 8), slice(0, 8)), (slice(0, 8), slice(8, 16)), (slice(8, 16), slice(0, 8)),
             (slice(8, 16), slice(8, 16))]
    batch, _ = next(iter(make_dataset(copies, targets, 16, 16, augment="flip", shuffle=True, view="frame+detail")))
    flipped = 0
    for out in np.asarray(batch):
        mirrored = [np.array_equal(out[r, c], image[r, c][:, ::-1]) for r, c in tiles]
        kept = [np.array_equal(out[r, c], image[r, c]) for r, c in tiles]
        assert all(kept) or all(mirrored)  # every tile stays in its quadrant
        # ... and the mirrored copy is the runtime's, which a mirror_average model is scored on.
        assert all(kept) or np.array_equal(out, mirror_input(image, "frame+detail"))
        flipped += all(mirrored)
    assert 0 < flipped < 16  # each image draws its own coin
    frame_batch, _ = next(iter(make_dataset(copies, targets, 16, 16, augment="flip", shuffle=True, view="frame")))
    assert {np.array_equal(out, mirror_input(image, "frame")) for out in np.asarray(frame_batch)} == {True, False}


def test_frame_dropout_flattens_only_the_whole_frame_tile_and_only_in_training():
    from nima_edge.training.dataset import flat_frame_tile, make_dataset

    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    copies = np.repeat(image[None], 64, axis=0)
    targets = {"distribution": np.full((64, 10), 0.1, np.float32)}
    frame_mean = np.round(image[:8, :8].reshape(-1, 3).mean(axis=0))
    expected = image.copy()
    expected[:8, :8] = frame_mean
    assert np.array_equal(np.asarray(flat_frame_tile(image)), expected)

    batch, _ = next(iter(make_dataset(copies, targets, 16, 64, augment="none", shuffle=True,
                                      view="frame+detail+edge", frame_dropout=0.5)))
    outs = np.asarray(batch)
    flat = [np.array_equal(out, expected) for out in outs]
    assert all(f or np.array_equal(out, image) for f, out in zip(flat, outs))
    assert 12 < sum(flat) < 52  # about half, each input drawing its own coin
    evaluation, _ = next(iter(make_dataset(copies, targets, 16, 64, view="frame+detail+edge", frame_dropout=0.5)))
    assert all(np.array_equal(out, image) for out in np.asarray(evaluation))
    with pytest.raises(ValueError, match="frame view has no other tile"):
        make_dataset(copies, targets, 16, 8, shuffle=True, frame_dropout=0.5)


def test_frame_dropout_is_checked_before_any_image_is_cached():
    assert TrainConfig(data="x.csv", format="csv", view="frame+detail", frame_dropout=0.25).frame_dropout == 0.25
    with pytest.raises(SpecError, match="frame view has no other tile"):
        TrainConfig(data="x.csv", format="csv", frame_dropout=0.25)
    for rate in (1.0, -0.1, "0.5", True):
        with pytest.raises(SpecError, match=r"frame_dropout must lie in \[0, 1\), got"):
            TrainConfig(data="x.csv", format="csv", view="frame+detail", frame_dropout=rate)


def test_colour_shift_recolours_training_inputs_but_keeps_their_brightness():
    from nima_edge.training.dataset import make_dataset, shift_colour

    rng = np.random.default_rng(2)
    # A grey page in mid-tones, so no channel clips and the brightness kept can be checked exactly.
    grey = np.repeat(rng.integers(60, 150, (16, 16, 1), dtype=np.uint8), 3, axis=-1)
    tints = set()
    for draw in range(8):
        out = np.asarray(shift_colour(grey, 0.2, [7, draw])).astype(np.float64)
        # Exposure is part of the label: a grey pixel keeps its brightness (rounding aside) ...
        assert np.abs(out.mean(axis=-1) - grey[..., 0]).max() <= 1.0
        # ... but takes a tint, the same for the whole input, within the gains (1 ± 0.2, rescaled)
        # and the saturation (1 ± 0.4) allowed.
        ratio = out / grey
        assert np.abs(ratio - ratio[0, 0]).max() < 0.05
        assert np.abs(ratio - 1).max() < 0.6
        tints.add(tuple(np.round(ratio[0, 0], 2)))
    assert len(tints) == 8
    image = rng.integers(60, 190, (16, 16, 3), dtype=np.uint8)
    copies = np.repeat(image[None], 32, axis=0)
    targets = {"distribution": np.full((32, 10), 0.1, np.float32)}
    batch, _ = next(iter(make_dataset(copies, targets, 16, 32, shuffle=True, view="frame+detail", colour_shift=0.2)))
    outs = np.asarray(batch).astype(np.int64)
    recoloured = [np.abs(out - image).max() > 2 for out in outs]
    assert sum(recoloured) >= 28  # each input draws its own colours
    assert len({tuple(np.round(out.reshape(-1, 3).mean(axis=0))) for out in outs}) > 16
    evaluation, _ = next(iter(make_dataset(copies, targets, 16, 32, view="frame+detail", colour_shift=0.2)))
    assert all(np.array_equal(out, image) for out in np.asarray(evaluation))
    with pytest.raises(ValueError, match=r"colour_shift must lie in \[0, 1\)"):
        make_dataset(copies, targets, 16, 8, shuffle=True, colour_shift=1.0)
    for strength in (1.0, -0.1, "0.2"):
        with pytest.raises(SpecError, match=r"colour_shift must lie in \[0, 1\), got"):
            TrainConfig(data="x.csv", format="csv", colour_shift=strength)


def test_augmentation_is_a_function_of_the_seed_and_moves_on_each_epoch():
    """Two datasets of one seed give the same batches epoch for epoch (a rerun trains the same
    network); each epoch draws anew, and another seed draws otherwise."""
    from nima_edge.training.dataset import make_dataset

    rng = np.random.default_rng(4)
    images = rng.integers(40, 200, (32, 16, 16, 3), dtype=np.uint8)
    targets = {"distribution": np.full((32, 10), 0.1, np.float32)}

    def two_epochs(seed):
        dataset = make_dataset(images, targets, 16, 32, augment="flip", shuffle=True, seed=seed,
                               view="frame+detail", frame_dropout=0.3, colour_shift=0.2)
        return [np.asarray(next(iter(dataset))[0]) for _ in range(2)]

    first, again, other = two_epochs(3), two_epochs(3), two_epochs(4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], first[1])
    assert not np.array_equal(first[0], other[0])


def test_weight_averaging_keeps_the_mean_of_the_last_epochs_across_resumes(document_set, tmp_path):
    """Stopped by its budget after every epoch and resumed, a run averaging from epoch 2 ends with
    the mean of epoch 2's and epoch 3's weights as its model, not its best epoch."""
    from nima_edge.training.checkpoints import Checkpoints
    from nima_edge.training.train import train

    out = tmp_path / "run"
    config = _config(document_set, epochs=3, phase1_epochs=1, average_from=2)
    checkpoints = Checkpoints(out)
    epoch_weights = []
    for call in range(3):
        train(config, out, resume=call > 0, echo=lambda m: None, time_budget_min=0.0)
        model, _ = load_nima(out / "model.keras")
        checkpoints.restore(model, restore_optimizer=False)
        epoch_weights.append(model.get_weights())
    state = checkpoints.load_state()
    assert state.finished and config.averaged_epochs(state.epochs_done) == 2
    averaged, spec = load_nima(out / "model.keras")
    assert spec.provenance["averaged_epochs"] == [2, 3]
    floats = [i for i, w in enumerate(epoch_weights[2]) if np.issubdtype(w.dtype, np.floating)]
    moved = [i for i in floats if not np.allclose(epoch_weights[1][i], epoch_weights[2][i])]
    assert moved  # the last epoch changed the weights, so the mean differs from either epoch
    for i in floats:
        np.testing.assert_allclose(averaged.get_weights()[i], (epoch_weights[1][i] + epoch_weights[2][i]) / 2,
                                   rtol=1e-5, atol=1e-6)


def test_average_from_must_name_an_epoch_of_the_run():
    assert TrainConfig(data="x.csv", format="csv", epochs=4, average_from=4).average_from == 4
    for first in (0, 5, True, "2", 2.0):
        with pytest.raises(SpecError, match=r"average_from must be an epoch in 1\.\.epochs"):
            TrainConfig(data="x.csv", format="csv", epochs=4, average_from=first)


def test_only_a_model_trained_on_mirrored_copies_is_scored_on_its_mirror():
    assert TrainConfig(data="x.csv", format="csv").mirror_average  # flip
    assert TrainConfig(data="AVA.txt", format="ava").mirror_average  # paper: crops and flips
    assert not TrainConfig(data="x.csv", format="csv", augment="none").mirror_average


def test_the_paper_crop_is_refused_for_the_detail_view():
    with pytest.raises(SpecError, match="paper augmentation"):
        TrainConfig(data="x.csv", format="csv", view="frame+detail", augment="paper")
    with pytest.raises(SpecError, match="even input size"):
        TrainConfig(data="x.csv", format="csv", view="frame+detail", input_size=97)
    assert TrainConfig(data="x.csv", format="ava", view="frame+detail").resolved_augment == "flip"
    # The config refuses a bad dropout before minutes of image caching, in the spec's own words.
    for rate in (1.0, -0.1, "0.5"):
        with pytest.raises(SpecError, match=r"dropout must lie in \[0, 1\), got") as from_config:
            TrainConfig(data="x.csv", format="csv", dropout=rate)
        with pytest.raises(SpecError) as from_spec:
            NimaSpec(dropout=rate)
        assert str(from_config.value) == str(from_spec.value)


def test_a_detail_view_model_keeps_its_view_through_export(document_set, tmp_path):
    """Trained on mosaics, exported, scored by the runtime: the runtime builds the same mosaic.
    The dropout asked for is the one the model carries.

    No gate: two epochs on 40 images leave near-constant predictions, whose rank order is noise.
    """
    from nima_edge.runtime import Scorer, load_image, preprocess
    from nima_edge.training.train import train

    out = tmp_path / "run"
    train(_config(document_set, epochs=2, view="frame+detail", lr_schedule="cosine", limit=40, dropout=0.3), out,
          echo=lambda _: None)
    history = (out / "history.csv").read_text().strip().splitlines()[1:]
    rates = [float(line.split(",")[6]) for line in history]
    assert rates[1] < rates[0]  # the cosine schedule decays
    model, spec = load_nima(out / "model.keras")
    assert spec.view == "frame+detail" and spec.dropout == 0.3
    assert json.loads((out / "config.json").read_text())["dropout"] == 0.3
    tflite = tmp_path / "model.tflite"
    done = CliRunner().invoke(cli, ["export", str(out / "model.keras"), "--format", "float32", "--no-gate", "--val",
                                    str(document_set.parent / "img"), "--out", str(tflite)])
    assert done.exit_code == 0, done.output
    scorer = Scorer(tflite, threads=1)
    assert scorer.metadata.view == "frame+detail"
    # Trained with flips (a document set's default), so scored on each input and its mirror.
    assert spec.mirror_average and scorer.mirror_average
    values = np.arange(1, 11)
    for path in sorted((document_set.parent / "img").iterdir())[:4]:
        image = load_image(path)
        model_input = preprocess(image, 96, view="frame+detail")
        assert np.array_equal(scorer.prepare(image), model_input)
        both = np.stack([model_input, mirror_input(model_input, "frame+detail")])
        keras_dist = np.asarray(model(both, training=False)["distribution"]).mean(axis=0)
        assert scorer.score(image).mean == pytest.approx(float((keras_dist * values).sum()), abs=0.05)


def test_defect_balance_weights_lift_a_rare_defect_by_the_square_root_of_its_rarity():
    from nima_edge.training.pipeline import defect_balance_weights

    # columns: blur, glare. 9 clean pages, 4 blurred (one also faintly glared), 1 glared.
    defects = np.array([[0, 0]] * 9 + [[0.9, 0], [0.6, 0.2], [0.7, 0], [0.5, 0], [0.1, 0.8]], np.float32)
    weights = defect_balance_weights(defects)
    assert weights.mean() == pytest.approx(1.0)
    clean, blur, glare = weights[0], weights[9], weights[13]
    assert np.allclose(weights[:9], clean) and np.allclose(weights[9:13], blur)
    assert blur / clean == pytest.approx(np.sqrt(9 / 4)) and glare / clean == pytest.approx(3.0)
    assert defect_balance_weights(np.array([[0.4, 0.0], [0.0, 0.0]]))[0] == pytest.approx(1.0)  # under 0.5: clean


def test_a_weighted_dataset_keeps_each_images_own_weight_through_the_shuffle():
    from nima_edge.training.dataset import make_dataset

    n = 24
    images = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None, None], 8, axis=1).repeat(8, 2).repeat(3, 3)
    targets = {"distribution": np.full((n, 10), 0.1, np.float32), "defects": np.zeros((n, 2), np.float32)}
    weights = np.arange(n, dtype=np.float32) / 10
    seen = 0
    for batch, labels, batch_weights in make_dataset(images, targets, 8, 5, augment="flip", shuffle=True,
                                                      weights=weights):
        ids = np.asarray(batch)[:, 0, 0, 0]
        assert set(batch_weights) == set(targets)
        for name in targets:
            assert np.allclose(np.asarray(batch_weights[name]), weights[ids])
        seen += len(ids)
    assert seen == n
    with pytest.raises(ValueError, match="3 weights for 24 images"):
        make_dataset(images, targets, 8, 5, weights=weights[:3])


def test_copy_matching_weights_copies_the_network_and_leaves_a_different_head_fresh():
    from nima_edge.training.model import NimaSpec, build_nima, copy_matching_weights

    spec = NimaSpec(backbone="mobilenet_v2", alpha=0.35, input_size=64)
    source, same = build_nima(spec), build_nima(spec)
    copied, kept = copy_matching_weights(source, same)
    assert kept == [] and len(copied) > 50
    image = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    assert np.allclose(np.asarray(source(image)["distribution"]), np.asarray(same(image)["distribution"]), atol=1e-6)
    five_bins = build_nima(spec.replace(score_values=(1.0, 2.0, 3.0, 4.0, 5.0)))
    copied, kept = copy_matching_weights(source, five_bins)
    assert kept == ["distribution"] and "Conv1" in copied


def test_a_run_starts_from_a_trained_model_with_balanced_defects(resumed_run, document_set, tmp_path):
    from nima_edge.training.train import TrainingError, train

    source = resumed_run[0] / "model.keras"
    log: list[str] = []
    figures = train(_config(document_set, epochs=1, init_from=str(source), balance="defects"), tmp_path / "ft",
                    echo=log.append)
    assert any(line.startswith(f"starting from {source}:") and "layers copied" in line for line in log)
    assert figures["finished"] is True
    config = TrainConfig.load(tmp_path / "ft" / "config.json")
    assert config.init_from == str(source) and config.balance == "defects"
    assert config.resolved_lr == 1e-4  # fine-tuning rate, not the from-scratch one
    _, spec = load_nima(tmp_path / "ft" / "model.keras")
    assert spec.provenance["init_from"] == str(source)
    # Another width cannot start from it: refused before any image is decoded or folder made.
    with pytest.raises(TrainingError, match="alpha 0.35 .* cannot start a mobilenet_v2 alpha 0.5"):
        train(_config(document_set, alpha=0.5, init_from=str(source)), tmp_path / "wide", echo=log.append)
    assert not (tmp_path / "wide").exists()
    with pytest.raises(SpecError, match="base_weights must stay none"):
        _config(document_set, init_from=str(source), base_weights="imagenet")


def test_init_from_a_file_that_is_no_nima_model_is_a_one_line_error(document_set, tmp_path):
    bogus = tmp_path / "weights.keras"
    bogus.write_bytes(b"not a zip")
    done = CliRunner().invoke(cli, ["train", "--data", str(document_set), "--format", "csv", "--alpha", "0.35",
                                    "--init-from", str(bogus), "--out", str(tmp_path / "run")])
    assert done.exit_code == 1
    assert done.output.strip() == f"Error: {bogus}: not a .keras file (not a zip archive)"
    assert not (tmp_path / "run").exists()
