"""studies/compare_peers.py: the metrics, the label reading and the report writing (no peers needed).

The peers themselves run only in their own venv; the end-to-end test runs when that venv exists.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "studies" / "compare_peers.py"


def _load():
    spec = importlib.util.spec_from_file_location("compare_peers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["compare_peers"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


cp = _load()


def test_balanced_accuracy_weighs_both_classes_equally():
    truth_ok = [True] * 8 + [False] * 2
    refuse_nothing = [False] * 10
    accuracy, balanced = cp.binary_scores(truth_ok, refuse_nothing)
    assert accuracy == pytest.approx(0.8)
    assert balanced == pytest.approx(0.5)
    perfect = [not ok for ok in truth_ok]
    assert cp.binary_scores(truth_ok, perfect) == (1.0, 1.0)


def test_fitted_cut_separates_a_separable_lower_is_better_score():
    scores = [10, 12, 15, 20, 60, 70, 80]
    truth_ok = [True, True, True, True, False, False, False]
    cut = cp.fit_refuse_threshold(scores, truth_ok)
    assert 20 < cut < 60
    assert cp.binary_scores(truth_ok, [s > cut for s in scores]) == (1.0, 1.0)


def test_halves_are_disjoint_and_cover_every_row():
    fit, held_out = cp.split_halves(7)
    assert sorted(fit + held_out) == list(range(7))
    assert not set(fit) & set(held_out)


def _write_labels(folder: Path, rows: list[tuple[str, float, str, float]]) -> Path:
    (folder / "images").mkdir()
    lines = ["path,mean,kind,defect_glare,defect_not_document"]
    for name, mean, kind, glare in rows:
        lines.append(f"images/{name},{mean},{kind},{glare},{1.0 if kind == 'junk' else 0.0}")
    path = folder / "labels.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_read_labels_skips_missing_images_and_honours_limit(tmp_path, capsys):
    labels = _write_labels(tmp_path, [(f"{i}.jpg", 3.0 + i, "receipt", 0.7) for i in range(6)])
    for i in (0, 2, 3, 4, 5):
        cv2.imwrite(str(tmp_path / "images" / f"{i}.jpg"), np.full((8, 8, 3), 128, np.uint8))
    images = cp.read_labels(labels, limit=4)
    assert [Path(image.path).name for image in images] == ["0.jpg", "2.jpg", "3.jpg", "4.jpg"]
    assert images[0].defects["glare"] == pytest.approx(0.7)
    assert [image.ok for image in images] == [False, True, True, True]
    assert "1.jpg: missing, skipped" in capsys.readouterr().err


def test_read_labels_rejects_a_csv_without_label_columns(tmp_path):
    bad = tmp_path / "votes.csv"
    bad.write_text("file,score\na.jpg,3\n")
    with pytest.raises(cp.CompareError, match="not a synthetic labels.csv"):
        cp.read_labels(bad, limit=None)


def test_report_replaces_only_the_marked_section(tmp_path):
    out = tmp_path / "peers.md"
    out.write_text(f"# Peers\nhand-written\n{cp.BEGIN_MARK}\nold table\n{cp.END_MARK}\nreading\n")
    cp.write_report(out, f"{cp.BEGIN_MARK}\nnew table\n{cp.END_MARK}\n", force=False)
    text = out.read_text()
    assert "new table" in text and "old table" not in text
    assert text.startswith("# Peers\nhand-written\n") and text.endswith("reading\n")


def test_report_refuses_to_overwrite_an_unmarked_file(tmp_path):
    out = tmp_path / "peers.md"
    out.write_text("someone else's notes\n")
    with pytest.raises(cp.CompareError, match="markers"):
        cp.write_report(out, "x", force=False)
    assert out.read_text() == "someone else's notes\n"


def test_summary_groups_junk_and_defects(tmp_path):
    images = [cp.LabelledImage("a", 7.0, "receipt", {"glare": 0.0}),
              cp.LabelledImage("b", 3.0, "receipt", {"glare": 0.9}),
              cp.LabelledImage("c", 1.5, "junk", {"not_document": 1.0}),
              cp.LabelledImage("d", 6.0, "letter", {"glare": 0.6})]
    method = cp.MethodResult("m", [7.0, 3.0, 1.0, 4.0], [False, True, True, True], [1.0] * 4)
    summary = cp.summarise(method, images)
    assert summary["srcc"] == pytest.approx(1.0) and summary["srcc_sign"] == "+"
    assert summary["refused_by_kind"]["junk"] == [1.0, 1]
    assert summary["refused_by_kind"]["documents, labelled ok"] == [0.5, 2]
    assert summary["refused_by_defect"] == {"glare": [1.0, 2]}


@pytest.mark.slow
@pytest.mark.skipif(not Path("/tmp/peers/bin/python").exists(), reason="peers venv not set up")
def test_worker_scores_a_real_image_in_the_peers_venv(tmp_path):
    image = tmp_path / "page.jpg"
    rng = np.random.default_rng(0)
    cv2.imwrite(str(image), rng.integers(0, 255, (300, 200, 3), dtype=np.uint8))
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    done = subprocess.run(["/tmp/peers/bin/python", str(SCRIPT), "--worker"], check=False, capture_output=True,
                          text=True,
                          input=f"{image}\n{tmp_path / 'broken.jpg'}\n", timeout=300)
    rows = [cp.json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0, done.stderr
    assert isinstance(rows[0]["brisque"], float) and 0 <= rows[0]["iqa_score"] <= 100
    assert "cannot decode" in rows[1]["error"]
