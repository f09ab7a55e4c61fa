"""`nima score | rank | info | annotate` through click's CliRunner: contract, exit codes, outputs."""
import csv
import json

import cv2
import pytest
from click.testing import CliRunner

from nima_edge.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.fixture()
def mixed_folder(tmp_path, page_files):
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    for name in ("sharp", "dark"):
        (folder / f"{name}.jpg").write_bytes(page_files[name].read_bytes())
    (folder / "sub" / "blurred.jpg").write_bytes(page_files["blurred"].read_bytes())
    (folder / "notes.txt").write_text("not walked: not an image suffix")
    return folder


def test_score_json_contract(page_files, float_model):
    result = run("score", page_files["sharp"], page_files["blurred"], "--json", "--model", float_model,
                 "--threshold", 4)
    assert result.exit_code == 0, result.output
    records = json_lines(result.output)
    assert [r["path"] for r in records] == [str(page_files["sharp"]), str(page_files["blurred"])]
    for record in records:
        assert set(record) >= {"path", "mean", "std", "distribution", "verdict", "reasons", "ms"}
        assert len(record["distribution"]) == 10 and abs(sum(record["distribution"]) - 1) < 1e-3
        assert abs(record["mean"] - sum((i + 1) * p for i, p in enumerate(record["distribution"]))) < 1e-3
        assert record["verdict"] in ("ok", "retake") and isinstance(record["reasons"], list)
    assert records[0]["verdict"] == "ok" and records[1]["verdict"] == "retake"
    assert records[1]["reasons"][0] == "Tap to focus: the text is blurred"


def test_score_exit_codes(page_files, float_model, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    assert run("score", page_files["sharp"], "--model", float_model, "--threshold", 4).exit_code == 0
    failed = run("score", page_files["sharp"], bad, "--json", "--model", float_model)
    assert failed.exit_code == 2
    assert json_lines(failed.output)[1] == {"path": str(bad), "error": f"{bad}: not a readable image (unsupported format or corrupt data)"}
    retake = run("score", page_files["blurred"], "--fail-on-retake", "--model", float_model, "--threshold", 4)
    assert retake.exit_code == 1
    ok = run("score", page_files["sharp"], "--fail-on-retake", "--model", float_model, "--threshold", 4)
    assert ok.exit_code == 0
    # A failure outranks a retake: the batch is incomplete.
    assert run("score", page_files["blurred"], bad, "--fail-on-retake", "--model", float_model).exit_code == 2


def test_score_walks_folders_and_globs_and_prints_a_table(mixed_folder, float_model):
    for name in ("photo.heic", "scan.pdf"):
        (mixed_folder / name).write_bytes(b"not walked, but named")
    result = run("score", mixed_folder, "--model", float_model)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("verdict")
    rows = [line for line in lines if line.startswith(("ok", "retake"))]
    assert len(rows) == 3 and any("sub/blurred.jpg" in row for row in rows)
    skipped = [line for line in lines if line.startswith("skipped")]
    assert len(skipped) == 1 and skipped[0].startswith("skipped 3 files without an image suffix")
    assert all(str(mixed_folder / n) in skipped[0] for n in ("notes.txt", "photo.heic", "scan.pdf"))
    named = run("score", mixed_folder / "photo.heic", "--model", float_model)  # named: tried, and refused
    assert named.exit_code == 2 and "not a readable image" in named.output
    nothing = run("score", mixed_folder / "sharp.jpg", str(mixed_folder / "*.png"), "--model", float_model)
    assert nothing.exit_code == 2 and f"{mixed_folder / '*.png'}: no such file" in nothing.output
    globbed = run("score", str(mixed_folder / "*.jpg"), "--json", "--model", float_model)
    assert [r["path"].rsplit("/", 1)[-1] for r in json_lines(globbed.output)] == ["dark.jpg", "sharp.jpg"]


def test_score_nothing_found_and_bad_options(tmp_path, float_model):
    (tmp_path / "empty").mkdir()
    result = run("score", tmp_path / "empty", "--model", float_model)
    assert result.exit_code == 2 and "no images found" in result.output
    bad = run("score", tmp_path, "--model", float_model, "--threshold", 42)
    assert bad.exit_code == 2 and "outside the model's score range 1..10" in bad.output
    for value in ("nan", "inf"):
        not_a_number = run("rank", tmp_path, "--model", float_model, "--min-score", value)
        assert not_a_number.exit_code == 2 and "must be a finite number" in not_a_number.output
        assert run("score", tmp_path, "--model", float_model, "--threshold", value).exit_code == 2


def test_score_model_errors_exit_1(tmp_path, page_files):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"garbage")
    result = run("score", page_files["sharp"], "--model", broken)
    assert result.exit_code == 1 and result.output.startswith(f"Error: {broken}: ")


def test_rank_sorts_filters_writes_and_copies(mixed_folder, float_model, tmp_path):
    out_csv, keep = tmp_path / "rank.csv", tmp_path / "keep"
    result = run("rank", mixed_folder, "--model", float_model, "--top", 2, "--out", out_csv, "--copy-to", keep)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 2 and float(rows[0]["mean"]) >= float(rows[1]["mean"])
    assert sorted(p.name for p in keep.iterdir()) == sorted(r["path"].rsplit("/", 1)[-1] for r in rows)
    # Outputs are never overwritten without --force.
    again = run("rank", mixed_folder, "--model", float_model, "--out", out_csv)
    assert again.exit_code == 1 and "already exists (use --force to overwrite)" in again.output
    out_json = tmp_path / "rank.json"
    forced = run("rank", mixed_folder, "--model", float_model, "--min-score", 0, "--out", out_json, "--force")
    assert forced.exit_code == 0 and len(json.loads(out_json.read_text())) == 3
    none_kept = run("rank", mixed_folder, "--model", float_model, "--min-score", 9.99, "--out", out_json, "--force")
    assert json.loads(out_json.read_text()) == [] and none_kept.exit_code == 0


def test_copy_to_never_gives_two_inputs_one_name(page_files, float_model, tmp_path):
    """a.jpg in two folders and an a-1.jpg: three copies, each the image it came from."""
    inbox = tmp_path / "inbox"
    sources = {inbox / "x" / "a.jpg": "sharp", inbox / "y" / "a.jpg": "dark", inbox / "z" / "a-1.jpg": "blurred"}
    for path, name in sources.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(page_files[name].read_bytes())
    keep = tmp_path / "keep"
    result = run("rank", inbox, "--model", float_model, "--min-score", 0, "--out", tmp_path / "r.csv",
                 "--copy-to", keep)
    assert result.exit_code == 0, result.output
    copies = sorted(keep.iterdir())
    assert len(copies) == 3 and "copied 3 images" in result.output
    assert sorted(c.read_bytes() for c in copies) == sorted(p.read_bytes() for p in sources)


@pytest.mark.parametrize("kind", ["negative", "nan"])
def test_a_model_whose_output_is_no_distribution_is_an_error_naming_it(page_files, tiny_models, kind):
    model = tiny_models[f"{kind}_output"]
    result = run("score", page_files["sharp"], page_files["dark"], "--model", model)
    assert result.exit_code == 1, result.output
    assert f"Error: {model}: the 'distribution' output is not a probability distribution" in result.output
    assert "ok" not in result.output.split("Error:")[0]  # nothing was scored with it


def test_info_json_is_valid_json_when_a_figure_is_nan(float_model, tmp_path):
    from nima_edge.runtime import embed_metadata, read_metadata

    meta = read_metadata(float_model).replace(fidelity={"srcc": float("nan"), "agreement": 0.98})
    path = tmp_path / "nan.tflite"
    path.write_bytes(embed_metadata(float_model.read_bytes(), meta))
    result = run("info", path, "--json")
    assert result.exit_code == 0 and "NaN" not in result.output
    assert json.loads(result.output)["metadata"]["fidelity"] == {"srcc": None, "agreement": 0.98}


def test_info_prints_metadata(float_model, tiny_models):
    readable = run("info", float_model)
    assert readable.exit_code == 0 and "64x64 RGB" in readable.output and "defocus" in readable.output
    document = json.loads(run("info", float_model, "--json").output)
    assert document["metadata"]["input_size"] == [64, 64]
    assert document["tensors"]["outputs"]["distribution"]["shape"] == [1, 10]
    bare = run("info", tiny_models["bare"])  # the scorer's one warning goes to the log
    assert bare.exit_code == 0 and "[no metadata: defaults]" in bare.output
    not_nima = run("info", tiny_models["wrong_output"])
    assert not_nima.exit_code == 1 and "no output of shape (1, 10)" in not_nima.output


def test_annotate_writes_overlays_and_refuses_to_overwrite(mixed_folder, float_model, tmp_path):
    out = tmp_path / "annotated"
    result = run("annotate", mixed_folder, "--out", out, "--model", float_model)
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.iterdir())
    assert written == ["blurred.jpg", "dark.jpg", "sharp.jpg"]
    picture = cv2.imread(str(out / "dark.jpg"))
    original = cv2.imread(str(mixed_folder / "dark.jpg"))
    assert picture.shape == original.shape
    assert abs(picture.astype(int) - original).mean() > 1  # something was drawn
    again = run("annotate", mixed_folder, "--out", out, "--model", float_model)
    assert again.exit_code == 1 and "Error: " in again.output and "(and 2 more) (use --force to overwrite)" in again.output
    assert run("annotate", mixed_folder, "--out", out, "--model", float_model, "--force").exit_code == 0


def test_every_runtime_command_has_help_with_an_example():
    for name in ("score", "watch", "rank", "info", "annotate"):
        result = run(name, "--help")
        assert result.exit_code == 0 and "Example" in result.output, name


def test_a_damaged_jpeg_is_an_error_for_that_file_unless_accepted(page_files, float_model, tmp_path):
    data = page_files["sharp"].read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 10] + b"\xff\xd9")  # libjpeg pads the rest with grey
    result = run("score", cut, page_files["sharp"], "--json", "--model", float_model)
    assert result.exit_code == 2
    records = json_lines(result.output)
    assert records[0]["error"].startswith(f"{cut}: damaged image data") and "mean" in records[1]
    accepted = run("score", cut, "--json", "--model", float_model, "--accept-damaged")
    assert accepted.exit_code == 0 and "mean" in json_lines(accepted.output)[0]


def test_file_names_that_are_not_utf8_or_hold_a_newline(page_files, float_model, tmp_path):
    import os

    folder = tmp_path / "odd"
    folder.mkdir()
    raw = os.fsencode(folder) + b"/a\xff.jpg"
    with open(raw, "wb") as handle:
        handle.write(page_files["sharp"].read_bytes())
    (folder / "new\nline.jpg").write_bytes(page_files["sharp"].read_bytes())
    out = tmp_path / "keep.csv"
    result = run("rank", folder, "--model", float_model, "--out", out, "--copy-to", tmp_path / "keep")
    assert result.exit_code == 0, result.output
    with open(out, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(os.fsencode(r["path"]) for r in rows) == sorted([raw, os.fsencode(folder / "new\nline.jpg")])
    assert len(os.listdir(tmp_path / "keep")) == 2
    table = [line for line in result.output.splitlines() if line.strip().startswith(("1.", "2."))]
    assert len(table) == 2 and any("new\\nline.jpg" in line for line in table)  # one row each


def test_a_full_standard_output_is_one_error_line(page_files, float_model):
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "nima_edge.cli", "score", str(page_files["sharp"]), "--json",
                               "--model", str(float_model)], stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=120, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == "Error: cannot write the output (No space left on device)"


def test_a_kept_image_that_vanished_before_the_copy_is_its_own_error(mixed_folder, float_model, tmp_path):
    from nima_edge.runtime.batch import score_paths

    from nima_edge.cli.runtime import _copy_keepers, make_assessor

    kept = list(score_paths(make_assessor(float_model, None, 1), sorted(mixed_folder.rglob("*.jpg"))))
    kept[0].path.unlink()  # deleted by someone else between scoring and copying
    missing = _copy_keepers(kept, tmp_path / "keep", force=False)
    assert missing == 1
    assert sorted(p.name for p in (tmp_path / "keep").iterdir()) == sorted(r.path.name for r in kept[1:])


def test_single_pass_runs_a_mirror_average_model_once(page_files, float_model, tmp_path):
    """A model whose metadata says mirror_average is scored with its mirror unless --single-pass."""
    import numpy as np
    from nima_edge.runtime import Scorer, load_image
    from nima_edge.runtime.metadata import embed_metadata, read_metadata

    mirrored = tmp_path / "mirrored.tflite"
    mirrored.write_bytes(embed_metadata(float_model.read_bytes(), read_metadata(float_model).replace(mirror_average=True)))
    image = load_image(page_files["sharp"])
    got = {}
    for flags in ((), ("--single-pass",)):
        result = run("score", page_files["sharp"], "--json", "--no-checks", "--model", mirrored, *flags)
        assert result.exit_code == 0, result.output
        got[flags] = np.array(json_lines(result.output)[0]["distribution"])
    both, once = Scorer(mirrored, threads=1), Scorer(mirrored, threads=1, single_pass=True)
    np.testing.assert_allclose(got[()], both.score(image).distribution, atol=2e-5)
    np.testing.assert_allclose(got[("--single-pass",)], once.score(image).distribution, atol=2e-5)
    assert np.abs(got[()] - got[("--single-pass",)]).max() > 1e-4
