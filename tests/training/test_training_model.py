"""The Keras NIMA: spec, backbones, bins, the EMD loss, save/load with the spec inside."""
import json
import zipfile

import numpy as np
import pytest
from nima_edge.runtime.errors import ModelError
from nima_edge.training import metrics as M
from nima_edge.training.model import (
    BACKBONES,
    NimaSpec,
    SpecError,
    WeightsError,
    build_nima,
    imagenet_weights_path,
    load_nima,
    read_spec,
    save_nima,
    set_batchnorm_momentum,
)

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")


def test_spec_round_trip_and_unknown_keys():
    spec = NimaSpec(backbone="mobilenet_v3_small", alpha=0.75, input_size=128, score_values=(0, 1, 2, 3),
                    defect_labels=("defocus", "glare"), threshold=1.5, provenance={"data": "x.csv"})
    assert NimaSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    with pytest.raises(SpecError, match="unknown model spec keys: bins"):
        NimaSpec.from_dict({**spec.to_dict(), "bins": 4})
    with pytest.raises(SpecError, match="strictly increasing"):
        NimaSpec(score_values=(1, 3, 2))
    with pytest.raises(SpecError, match="unknown backbone 'resnet'"):
        NimaSpec(backbone="resnet")
    with pytest.raises(SpecError, match="threshold 11"):
        NimaSpec(threshold=11)


@pytest.mark.parametrize("backbone", list(BACKBONES))
def test_every_backbone_takes_uint8_pixels_flat(backbone):
    spec = NimaSpec(backbone=backbone, alpha=0.75 if "v3" in backbone else 0.25 if backbone == "mobilenet"
                    else 0.35, input_size=96, defect_labels=("defocus",))
    model = build_nima(spec)
    assert model.input.name == "image" and model.input.dtype == "uint8"
    assert tuple(model.input.shape) == (None, 96, 96, 3)
    # Flat: no nested sub-model (export's QAT path copies weights into a flat tf_keras twin).
    assert not any(isinstance(layer, keras.Model) for layer in model.layers)
    out = model(np.zeros((2, 96, 96, 3), np.uint8))
    assert out["distribution"].shape == (2, 10) and out["defects"].shape == (2, 1)
    np.testing.assert_allclose(np.sum(out["distribution"], axis=-1), 1.0, atol=1e-5)


def _images(n, size, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _train_steps(model, images, targets, steps, lr=1e-2):
    from nima_edge.training.losses import EMDLoss

    loss_fn, optimizer = EMDLoss(), keras.optimizers.Adam(lr)
    losses = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            loss = tf.reduce_mean(loss_fn(targets, outputs["distribution"]))
            if "defects" in outputs:
                loss += tf.reduce_mean(keras.losses.binary_crossentropy(tf.zeros_like(outputs["defects"]),
                                                                        outputs["defects"]))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        losses.append(float(loss))
    return losses


@pytest.mark.parametrize("values", [tuple(range(10)), tuple(range(1, 6)), tuple(range(100))])
def test_bin_scales_build_and_train(values):
    # The backbone does not matter here; MobileNet v1 has the fewest layers, so eager steps are quick.
    # Seeded: with a random initialisation, three steps lowered the loss in most runs, not all.
    import keras

    keras.utils.set_random_seed(0)
    spec = NimaSpec(backbone="mobilenet", alpha=0.25, input_size=32, score_values=values,
                    threshold=float(values[len(values) // 2]))
    model = build_nima(spec)
    assert model.output["distribution"].shape[-1] == len(values)
    targets = np.zeros((4, len(values)), np.float32)
    targets[:, len(values) // 3] = 1.0
    losses = _train_steps(model, _images(4, 32), targets, steps=3)
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_emd_loss_matches_the_numpy_reference():
    from nima_edge.training.losses import EMDLoss

    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(10), size=5).astype(np.float32)
    q = rng.dirichlet(np.ones(10), size=5).astype(np.float32)
    for r in (1, 2):
        got = np.asarray(EMDLoss(r=r).call(tf.constant(p), tf.constant(q)))
        np.testing.assert_allclose(got, M.emd(p, q, r=r), atol=1e-5)
    # Vote counts as targets are normalised.
    np.testing.assert_allclose(np.asarray(EMDLoss().call(tf.constant(p * 37), tf.constant(q))),
                               M.emd(p, q, r=2), atol=1e-5)


def test_save_and_load_keep_predictions_and_spec(tmp_path):
    spec = NimaSpec(alpha=0.35, input_size=32, defect_labels=("defocus", "glare"), provenance={"run": "t"})
    model = build_nima(spec)
    set_batchnorm_momentum(model, 0.5)
    images = _images(4, 32)
    _train_steps(model, images, np.full((4, 10), 0.1, np.float32), steps=2)  # moves BN statistics too
    path = save_nima(model, spec, tmp_path / "m.keras")
    with zipfile.ZipFile(path) as archive:
        assert "nima_spec.json" in archive.namelist()
    loaded, loaded_spec = load_nima(path)
    assert loaded_spec == spec
    # Eager calls in inference mode (no tracing): the same as predict, faster in a test.
    before, after = model(images, training=False), loaded(images, training=False)
    for name in ("distribution", "defects"):
        np.testing.assert_allclose(np.asarray(after[name]), np.asarray(before[name]), atol=1e-6)
    assert np.ptp(np.asarray(after["distribution"])[:, 0]) > 0  # not one constant distribution
    with pytest.raises(Exception, match="already exists"):
        save_nima(model, spec, path)


def test_plain_keras_file_is_not_a_nima(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.save(tmp_path / "plain.keras")
    with pytest.raises(ModelError, match=r"plain.keras: not a nima-edge model \(no nima_spec.json"):
        read_spec(tmp_path / "plain.keras")


def test_missing_imagenet_weights_name_the_expected_file():
    spec = NimaSpec(alpha=0.35, input_size=96)
    expected = imagenet_weights_path(spec)
    if expected.exists():
        pytest.skip(f"{expected} is present on this machine")
    assert expected.name == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
    with pytest.raises(WeightsError) as info:
        build_nima(spec, "imagenet")
    assert f"expected {expected}" in str(info.value) and "--base-weights" in str(info.value)
    with pytest.raises(WeightsError, match="only for alpha"):
        build_nima(NimaSpec(alpha=0.6, input_size=96), "imagenet")


def _backbone_weights_file(tmp_path, alpha: float, suffix: str = ".weights.h5"):
    """A backbone weights file as keras.applications writes one (no top), with recognisable values."""
    backbone = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=alpha, include_top=False,
                                              weights=None, pooling="avg")
    rng = np.random.default_rng(3)
    backbone.set_weights([rng.normal(0, 0.1, w.shape).astype(np.float32) for w in backbone.get_weights()])
    path = tmp_path / f"a{alpha}{suffix}"
    backbone.save_weights(path)
    return path, backbone


def test_base_weights_file_loads_into_the_backbone_and_a_misfit_names_the_file(tmp_path):
    path, donor = _backbone_weights_file(tmp_path, 0.35)
    model = build_nima(NimaSpec(alpha=0.35, input_size=32, defect_labels=("glare",)), path)
    for name in ("Conv1", "block_8_depthwise", "Conv_1_bn"):
        for got, want in zip(model.get_layer(name).get_weights(), donor.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)
    with pytest.raises(WeightsError) as info:
        build_nima(NimaSpec(alpha=1.0, input_size=32), path)
    message = str(info.value)
    assert message.startswith(f"{path}: cannot load as mobilenet_v2 alpha 1.0 weights") and "\n" not in message
    with pytest.raises(WeightsError, match="base weights file not found"):
        build_nima(NimaSpec(alpha=0.35, input_size=32), tmp_path / "missing.h5")


def test_phase_one_keeps_batchnorm_in_inference_mode(tmp_path):
    """Head-only training must not move the pretrained BatchNorm statistics; all-layers training does."""
    from nima_edge.training.model import set_backbone_trainable

    path, _ = _backbone_weights_file(tmp_path, 0.35)
    model = build_nima(NimaSpec(alpha=0.35, input_size=32), path)
    bn = model.get_layer("block_3_expand_BN")
    before = np.array(bn.moving_mean)
    images = tf.constant(np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3)).astype(np.uint8))
    targets = np.full((8, 10), 0.1, np.float32)
    set_backbone_trainable(model, False)
    head_before = np.array(model.get_layer("distribution").get_weights()[0])
    _train_steps(model, images, targets, steps=2)
    np.testing.assert_array_equal(np.array(bn.moving_mean), before)
    assert not np.allclose(model.get_layer("distribution").get_weights()[0], head_before)
    set_backbone_trainable(model, True)
    _train_steps(model, images, targets, steps=2)
    assert not np.allclose(np.array(bn.moving_mean), before)


def test_a_deeply_nested_spec_inside_a_keras_file_is_one_line(tmp_path):
    path = tmp_path / "deep.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("nima_spec.json", "[" * 2000 + "]" * 2000)
    with pytest.raises(ModelError, match=r"deep.keras: nima_spec.json is not valid JSON: JSON nested deeper"):
        read_spec(path)
