"""`nima realcheck`: the real-photo report, on figures made by hand and end to end with the bundled model."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from nima_edge.models import DEFAULT_MODEL
from nima_edge.runtime.metadata import embed_metadata, read_metadata
from nima_edge.runtime.scorer import Scorer
from nima_edge.synth import real, render_capture
from nima_edge.training.data import DataError
from nima_edge.training.realcheck import (
    Item,
    auc,
    clean_and_heavy_cutoff,
    markdown,
    read_holdout,
    read_holdouts,
    report,
    score_items,
)

from nima_edge.cli import cli


def _items() -> list[Item]:
    items = []
    for page in ("a", "b"):
        items.append(Item(Path(f"{page}.jpg"), "clean", "", "", page, f"source-{page}"))
        for level in ("mild", "heavy"):
            items.append(Item(Path(f"{page}_{level}.jpg"), "degraded", "defocus", level, page))
    items.append(Item(Path("dog.jpg"), "nondoc", "", "", "dog.jpg"))
    return items


def test_report_counts_groups_kinds_and_pairs():
    items = _items()
    # page a: clean 8 > mild 6 > heavy 3 (all in order); page b: clean 7, mild 7.5 (out of order), heavy 4
    scores = [(8.0, True), (6.0, True), (3.0, False), (7.0, True), (7.5, True), (4.0, False), (6.0, True)]
    figures = report(items, scores)
    assert figures["clean_accepted"] == 1.0 and figures["clean_n"] == 2
    assert figures["clean_accepted_by_source"] == {"source-a": 1.0, "source-b": 1.0}
    assert figures["nondoc_refused"] == 0.0
    assert figures["refused"]["defocus"] == {"mild": 0.0, "mild_n": 2, "heavy": 1.0, "heavy_n": 2}
    assert figures["heavy_refused_min"] == 1.0
    assert figures["pairs_clean_gt_heavy"] == 1.0
    assert figures["pairs_clean_gt_mild"] == 0.5
    assert figures["pairs_mild_gt_heavy"] == 1.0
    # good: 8, 7; bad: heavy 3, 4 and the dog's 6 -> every good one above every bad one
    assert figures["auc"] == 1.0
    # an unreadable image is left out, not counted as refused
    figures = report(items, scores[:-1] + [None])
    assert figures["nondoc_n"] == 0 and figures["n"] == 6
    table = markdown({"model": report(items, scores), "model+checks": report(items, scores)})
    assert "| … defocus: refused mild / heavy | 0% / 100% |" in table
    assert "| … from source-b | 100% | 100% |  |" in table


def test_clean_and_heavy_cutoff_picks_the_two_groups_and_skips_unreadable_images():
    items = _items() + [Item(Path("a_cut_mild.jpg"), "degraded", "cutoff", "mild", "a"),
                        Item(Path("a_cut_heavy.jpg"), "degraded", "cutoff", "heavy", "a"),
                        Item(Path("b_cut_heavy.jpg"), "degraded", "cutoff", "heavy", "b")]
    scores = [(8.0, True), (6.0, True), (3.0, False), (7.0, True), (7.5, True), (4.0, False), (6.0, True),
              (5.5, True), (6.5, True), None]
    assert clean_and_heavy_cutoff(items, scores) == ([8.0, 7.0], [6.5])
    assert auc(*clean_and_heavy_cutoff(items, scores)) == 1.0


def test_auc_is_the_mann_whitney_statistic():
    assert auc([3, 4], [1, 2]) == 1.0
    assert auc([1, 2], [3, 4]) == 0.0
    assert auc([2], [2]) == 0.5
    rng = np.random.default_rng(0)
    good, bad = rng.normal(1, 1, 300), rng.normal(0, 1, 300)
    assert auc(good, bad) == pytest.approx(0.76, abs=0.05)  # Phi(1 / sqrt 2)


def test_not_a_holdout_is_one_line(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("path,mean\nx.jpg,5\n")
    with pytest.raises(DataError, match="labels.csv: not a `nima realset` holdout"):
        read_holdout(labels)


def test_end_to_end_with_the_bundled_model(tmp_path):
    (tmp_path / "src" / "docs").mkdir(parents=True)
    (tmp_path / "src" / "nondocs").mkdir()
    page, _ = render_capture(5, defects={}, kind="prescription", size=1000)
    cv2.imwrite(str(tmp_path / "src" / "docs" / "pages_0001.jpg"), page)
    scene = cv2.resize(np.random.default_rng(1).integers(0, 255, (6, 8, 3)).astype(np.uint8), (640, 480))
    cv2.imwrite(str(tmp_path / "src" / "nondocs" / "scenes_0001.jpg"), scene)
    cv2.imwrite(str(tmp_path / "src" / "nondocs" / "other_0001.jpg"), scene)
    parts = real.write_realset(tmp_path / "src", tmp_path / "set", holdout=("pages", "scenes"), warn=lambda m: None)
    (tmp_path / "set" / "holdout" / parts["holdout"].read_text().splitlines()[2].split(",")[0]).write_bytes(b"junk")
    result = CliRunner().invoke(cli, ["realcheck", str(parts["holdout"]), "--save", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "skipping" in result.output and "not a readable image" in result.output
    assert "| clean documents accepted (n=1) |" in result.output
    figures = json.loads((tmp_path / "r.json").read_text())
    for mode in ("model", "model+checks"):
        assert figures[mode]["n"] == 1 + 2 * len(real.DEGRADATIONS) + 1 - 1
        assert set(figures[mode]["refused"]) == set(real.DEGRADATIONS)
    again = CliRunner().invoke(cli, ["realcheck", str(parts["holdout"]), "--save", str(tmp_path / "r.json")])
    assert again.exit_code == 1 and "r.json" in again.output and "--force" in again.output
    assert figures["mirror_average"] is True  # what ran: the bundled model with its mirror

    # The bundled model is scored with its mirror; single_pass (`--single-pass`) scores it as a copy
    # whose metadata never said mirror_average would be.
    once = tmp_path / "once.tflite"
    once.write_bytes(embed_metadata(DEFAULT_MODEL.read_bytes(), read_metadata(DEFAULT_MODEL).replace(mirror_average=False)))
    items = read_holdout(parts["holdout"])
    quiet = {"warn": lambda message: None}
    two, single, copy = (score_items(items, Scorer(None, threads=1), **quiet),
                         score_items(items, Scorer(None, threads=1, single_pass=True), **quiet),
                         score_items(items, Scorer(once, threads=1), **quiet))
    assert single == copy
    assert two["model"] != single["model"]
    done = CliRunner().invoke(cli, ["realcheck", str(parts["holdout"]), "--single-pass", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output[done.output.index("{"):])["mirror_average"] is False


def test_two_holdouts_pool_into_one_report_and_pair_pages_only_within_their_own_set(tmp_path):
    """The same set twice, pooled: every count doubles, every share stays, and no page of one copy
    is paired with a copy of the other (they share their page names)."""
    (tmp_path / "src" / "docs").mkdir(parents=True)
    page, _ = render_capture(6, defects={}, kind="prescription", size=1000)
    cv2.imwrite(str(tmp_path / "src" / "docs" / "pages_0001.jpg"), page)
    labels = real.write_realset(tmp_path / "src", tmp_path / "set", holdout=("pages",), warn=lambda m: None)["holdout"]
    twin = tmp_path / "twin"
    (twin / "images").mkdir(parents=True)
    for image in (tmp_path / "set" / "holdout" / "images").iterdir():
        (twin / "images" / image.name).write_bytes(image.read_bytes())
    (twin / "labels.csv").write_text(labels.read_text())
    pooled = read_holdouts([labels, twin / "labels.csv"])
    assert len(pooled) == 2 * len(read_holdout(labels)) and len({item.page for item in pooled}) == 2
    one = CliRunner().invoke(cli, ["realcheck", str(labels), "--json"])
    both = CliRunner().invoke(cli, ["realcheck", str(labels), str(twin / "labels.csv"), "--json"])
    assert one.exit_code == 0 and both.exit_code == 0, both.output
    one, both = json.loads(one.output), json.loads(both.output)
    assert both["labels"] == f"{labels}, {twin / 'labels.csv'}"
    for mode in ("model", "model+checks"):
        assert both[mode]["n"] == 2 * one[mode]["n"] and both[mode]["clean_n"] == 2
        for key in ("clean_accepted", "heavy_refused_all", "pairs_clean_gt_heavy", "pairs_clean_gt_mild", "auc"):
            assert both[mode][key] == pytest.approx(one[mode][key])

