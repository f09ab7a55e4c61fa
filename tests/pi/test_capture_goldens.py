"""scripts/make_golden.py: golden input/output pairs that app developers test their integration against.

A real tiny model (Keras -> TFLiteConverter, metadata embedded; nima_edge.export.tiny_models) is built,
goldens are regenerated for it, and the runtime must reproduce them within the stated tolerance —
while a typical integration bug (feeding BGR instead of RGB) must fall outside it.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from nima_edge.runtime import Scorer, load_image
from pi_fixtures import load_script


@pytest.fixture(scope="module")
def make_golden():
    return load_script("make_golden")


@pytest.fixture(scope="module")
def golden(make_golden, tiny_model, tmp_path_factory) -> tuple[Path, dict]:
    outdir = tmp_path_factory.mktemp("golden")
    document = make_golden.make_golden(tiny_model, outdir)
    return outdir, document


def test_runtime_reproduces_regenerated_goldens(make_golden, tiny_model, golden):
    outdir, document = golden
    assert make_golden.check_golden(tiny_model, outdir) == []
    on_disk = json.loads((outdir / "golden.json").read_text())
    assert on_disk == json.loads(json.dumps(document))
    assert on_disk["model"]["input"] == {"height": 64, "width": 64, "channels": 3, "dtype": "uint8",
                                         "color_order": "RGB", "resize": "area", "view": "frame"}
    assert "feed it as is" in on_disk["notes"][0]  # a frame-view model's PNGs are its inputs
    for case in on_disk["cases"]:
        assert abs(sum(case["distribution"]) - 1.0) < 1e-4
        assert set(case["extras"]["defects"]) == set(on_disk["model"]["extra_outputs"]["defects"])


def test_png_cases_need_no_resize_and_the_jpeg_does(golden):
    outdir, document = golden
    kinds = {case["file"]: case["tolerance"] for case in document["cases"]}
    assert sum(kind == "input_size" for kind in kinds.values()) >= 5
    for case in document["cases"]:
        image = load_image(outdir / case["file"])
        if case["tolerance"] == "input_size":
            assert case["file"].endswith(".png") and image.shape == (64, 64, 3)
            # The model input is the decoded PNG in RGB order, byte for byte.
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            assert hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest() == case["model_input_sha256"]
        else:
            assert case["file"].endswith(".jpg") and image.shape[0] > 64 * 10


def test_tolerance_catches_a_swapped_colour_order(tiny_model, golden):
    """An app that feeds BGR bytes must fail the golden check, else the tolerance proves nothing."""
    outdir, document = golden
    scorer = Scorer(tiny_model, threads=1)
    tolerance = document["tolerance"]["input_size"]
    caught = 0
    for case in document["cases"]:
        if case["tolerance"] != "input_size":
            continue
        wrong = scorer.score_input(np.ascontiguousarray(scorer.prepare(load_image(outdir / case["file"]))[..., ::-1]))
        off = np.abs(wrong.distribution - np.asarray(case["distribution"])).max()
        caught += off > tolerance["distribution"] or abs(wrong.mean - case["mean"]) > tolerance["mean"]
    assert caught >= 3


def test_cases_differ_from_each_other(golden):
    """Distinct scenes give distinct outputs, so a mixed-up file order is caught too."""
    _, document = golden
    means = [case["mean"] for case in document["cases"] if case["tolerance"] == "input_size"]
    assert max(means) - min(means) > 2 * document["tolerance"]["input_size"]["mean"]


def test_existing_goldens_are_not_overwritten(make_golden, tiny_model, golden):
    outdir, _ = golden
    before = (outdir / "golden.json").read_bytes()
    with pytest.raises(make_golden.NimaError, match="already exists"):
        make_golden.make_golden(tiny_model, outdir)
    assert (outdir / "golden.json").read_bytes() == before


def test_check_refuses_another_model(make_golden, golden, tmp_path):
    outdir, _ = golden
    from nima_edge.export.tiny_models import write_random_nima

    other = write_random_nima(tmp_path / "other.tflite", size=64, seed=1)
    problems = make_golden.check_golden(other, outdir)
    assert len(problems) == 1 and "not the model these goldens were made with" in problems[0]


def test_cli_check_exit_codes(make_golden, tiny_model, golden, capsys):
    outdir, _ = golden
    assert make_golden.main(["--check", str(tiny_model), str(outdir)]) == 0
    assert "ok:" in capsys.readouterr().out
    document = json.loads((outdir / "golden.json").read_text())
    document["cases"][0]["mean"] += 1.0
    broken = outdir.parent / "broken"
    broken.mkdir(exist_ok=True)
    for case in document["cases"]:
        (broken / case["file"]).write_bytes((outdir / case["file"]).read_bytes())
    (broken / "golden.json").write_text(json.dumps(document))
    assert make_golden.main(["--check", str(tiny_model), str(broken)]) == 1
    assert f"{document['cases'][0]['file']}: mean" in capsys.readouterr().out


def test_the_bundled_goldens_are_the_bundled_models_two_pass_outputs(make_golden):
    """models/golden is what the runtime gives the shipped model, scored with its mirror as its
    metadata says; the same network run once misses them (what an app that skips the second run
    would see)."""
    from nima_edge.models import DEFAULT_MODEL

    outdir = DEFAULT_MODEL.parent / "golden"
    document = json.loads((outdir / "golden.json").read_text())
    assert document["model"]["mirror_average"] is True and "mirror_average" in document["notes"][-1]
    assert make_golden.check_golden(DEFAULT_MODEL, outdir) == []
    once = Scorer(DEFAULT_MODEL, threads=1, single_pass=True)
    worst = 0.0
    for case in document["cases"]:
        got = make_golden.describe(once, load_image(outdir / case["file"]))
        worst = max(worst, float(np.max(np.abs(np.subtract(got["distribution"], case["distribution"])))))
    assert worst > document["tolerance"]["input_size"]["distribution"]
