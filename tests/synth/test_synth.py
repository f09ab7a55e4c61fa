"""nima synth: determinism, defect twins, label spread, the labels.csv contract, CLI behaviour."""

from __future__ import annotations

import csv
import itertools
import json

import numpy as np
import pytest
from click.testing import CliRunner
from nima_edge.runtime.defects import DEFECTS
from nima_edge.synth import CaptureInfo, label_for, render_capture
from nima_edge.synth.capture import render_capture_jpeg
from nima_edge.synth.dataset import CONTRACT_COLUMNS, JOURNAL
from nima_edge.synth.labels import target_mean
from nima_edge.synth.mix import PAGE_DEFECTS, SynthError

from nima_edge.cli import cli

SEVERITIES = (0.0, 0.25, 0.5, 0.75, 1.0)
# A handwritten prescription (scrawl applies to it); checked in test_twin_seed_is_handwritten.
TWIN_SEED = 3


def run(*args: str):
    return CliRunner().invoke(cli, ["synth", *args], catch_exceptions=False)


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_same_seed_same_bytes_and_different_seeds_differ():
    a, _ = render_capture_jpeg(11, size=400)
    b, _ = render_capture_jpeg(11, size=400)
    c, _ = render_capture_jpeg(12, size=400)
    assert a == b
    assert a != c


def test_render_capture_returns_bgr_at_requested_size():
    image, info = render_capture(5, {"defocus": 0.3}, kind="receipt", size=500)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert max(image.shape[:2]) == 500
    assert isinstance(info, CaptureInfo)
    assert info.kind == "receipt" and info.defects["defocus"] == 0.3
    assert set(info.defects) == set(DEFECTS)


def test_bad_requests_are_refused():
    with pytest.raises(SynthError, match="unknown defect 'fog'"):
        render_capture(1, {"fog": 0.5})
    with pytest.raises(SynthError, match=r"outside 0\.\.1"):
        render_capture(1, {"glare": 1.5})
    with pytest.raises(SynthError, match="unknown kind"):
        render_capture(1, kind="selfie")


def test_twin_seed_is_handwritten():
    _, info = render_capture_jpeg(TWIN_SEED, {}, kind="prescription", size=300)
    assert info.handwritten


@pytest.mark.parametrize("defect", PAGE_DEFECTS)
def test_each_defect_lowers_the_mean_of_the_same_page(defect):
    targets, vote_means = [], []
    for severity in SEVERITIES:
        _, info = render_capture_jpeg(TWIN_SEED, {defect: severity}, kind="prescription", size=1400)
        assert info.defects[defect] == severity
        targets.append(target_mean(info))
        vote_means.append(label_for(info)[1])
    assert all(b < a for a, b in itertools.pairwise(targets)), (defect, targets)
    assert all(b <= a for a, b in itertools.pairwise(vote_means)), (defect, vote_means)
    assert vote_means[0] > 7.0, "the clean twin is a good capture"
    assert vote_means[3] < 4.5 and vote_means[4] < 4.0, "severe defects land clearly below the retake line"


def test_junk_scores_low_and_is_marked_not_document():
    for seed in range(3):
        _, info = render_capture_jpeg(seed, kind="junk", size=300)
        votes, mean, std = label_for(info)
        assert info.defects["not_document"] == 1.0
        assert mean < 2.5 and 180 <= votes.sum() <= 220 and std > 0


def test_label_means_span_the_scale():
    means = []
    for seed in range(150):
        _, info = render_capture_jpeg(10_000 + seed, size=1200)
        means.append(label_for(info)[1])
    p5, p95 = np.percentile(means, [5, 95])
    assert p5 < 3.0 and p95 > 8.0, (p5, p95)
    middling = np.mean((np.array(means) > 4) & (np.array(means) < 7))
    assert middling > 0.06, "not only two clumps at the ends"


def test_votes_are_wider_mid_scale():
    from nima_edge.synth.labels import draw_votes

    def spread(mu):
        votes = draw_votes(mu, 7)
        p = votes / votes.sum()
        return float(np.sqrt((p * (np.arange(1, 11) - (p * np.arange(1, 11)).sum()) ** 2).sum()))

    assert spread(5.5) > spread(9.0) and spread(5.5) > spread(1.5)


def test_cli_writes_contract_csv_deterministically_with_any_worker_count(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert run(str(one), "--count", "6", "--seed", "4", "--size", "256", "--workers", "1").exit_code == 0
    result = run(str(two), "--count", "6", "--seed", "4", "--size", "256", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert (one / "labels.csv").read_bytes() == (two / "labels.csv").read_bytes()
    for i in range(6):
        name = f"images/{i:06d}.jpg"
        assert (one / name).read_bytes() == (two / name).read_bytes()
    rows = read_csv(one / "labels.csv")
    header = list(rows[0])
    assert header[: len(CONTRACT_COLUMNS)] == list(CONTRACT_COLUMNS)
    assert CONTRACT_COLUMNS[:11] == ("path", *(f"votes_{i}" for i in range(1, 11)))
    for row in rows:
        assert (one / row["path"]).is_file()
        votes = np.array([int(row[f"votes_{i}"]) for i in range(1, 11)])
        assert 180 <= votes.sum() <= 220
        mean = (votes * np.arange(1, 11)).sum() / votes.sum()
        assert float(row["mean"]) == pytest.approx(mean, abs=1e-3)
        assert row["kind"] in {
            "prescription",
            "receipt",
            "form",
            "letter",
            "handwritten_note",
            "junk",
            "user_junk",
        }
        for name in DEFECTS:
            assert 0.0 <= float(row[f"defect_{name}"]) <= 1.0
        assert (float(row["defect_not_document"]) == 1.0) == (row["kind"] in ("junk", "user_junk"))
    other = tmp_path / "other"
    run(str(other), "--count", "6", "--seed", "5", "--size", "256", "--workers", "1")
    assert (other / "labels.csv").read_bytes() != (one / "labels.csv").read_bytes()


def test_non_empty_out_is_refused_without_force(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = run(str(out), "--count", "2", "--size", "200", "--workers", "1")
    assert result.exit_code == 1
    assert f"Error: {out}: folder is not empty (use --force to overwrite, or --resume)" in result.output
    result = run(str(out), "--count", "2", "--size", "200", "--workers", "1", "--force")
    assert result.exit_code == 0, result.output
    assert len(read_csv(out / "labels.csv")) == 2
    assert (out / "keep.txt").read_text() == "mine", "--force overwrites our outputs, not the user's files"


def test_resume_finishes_an_interrupted_run_identically(tmp_path):
    full, cut = tmp_path / "full", tmp_path / "cut"
    args = ["--count", "5", "--seed", "9", "--size", "200", "--workers", "1"]
    assert run(str(full), *args).exit_code == 0
    assert run(str(cut), *args).exit_code == 0
    # Make `cut` look like a run killed after 3 captures: journal of 3 rows, 2 images missing.
    rows = read_csv(cut / "labels.csv")
    (cut / "labels.csv").unlink()
    (cut / JOURNAL).write_text("".join(json.dumps([i, rows[i]]) + "\n" for i in range(3)) + '[3, {"pa')
    for i in (3, 4):
        (cut / rows[i]["path"]).unlink()
    (cut / "images" / ".000003.jpg.123.tmp").write_bytes(b"half an image")
    result = run(str(cut), *args, "--resume")
    assert result.exit_code == 0, result.output
    assert (cut / "labels.csv").read_bytes() == (full / "labels.csv").read_bytes()
    assert not (cut / JOURNAL).exists()
    assert not list((cut / "images").glob(".*.tmp"))
    again = run(str(cut), *args, "--resume")  # a finished run: nothing to render, same CSV
    assert again.exit_code == 0 and (cut / "labels.csv").read_bytes() == (full / "labels.csv").read_bytes()
    different = run(str(cut), "--count", "6", "--seed", "9", "--size", "200", "--resume")
    assert different.exit_code == 1 and "different settings" in different.output


def test_bad_junk_dir_file_is_skipped_with_a_message(tmp_path):
    import cv2

    junk = tmp_path / "junk"
    junk.mkdir()
    cv2.imwrite(str(junk / "cat.png"), np.full((60, 80, 3), 120, np.uint8))
    (junk / "broken.jpg").write_bytes(b"not a jpeg at all")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["synth", str(out), "--count", "3", "--size", "200", "--workers", "1", "--junk-dir", str(junk)]
    )
    assert result.exit_code == 0, result.output
    assert f"skipping {junk / 'broken.jpg'}: not a readable image" in result.output
    assert len(read_csv(out / "labels.csv")) == 3


def test_user_junk_uses_the_photo():
    photo = np.zeros((300, 400, 3), np.uint8)
    photo[:, :200] = (0, 0, 255)
    image, info = render_capture(1, kind="user_junk", size=200, junk_image=photo, source="red.png")
    assert info.kind == "user_junk" and info.source == "red.png" and info.defects["not_document"] == 1.0
    assert image[:, :60, 2].mean() > 150  # the red half survives the camera simulation
    assert label_for(info)[1] < 2.5


def test_preview_draws_a_sheet(tmp_path):
    out = tmp_path / "out"
    sheet = tmp_path / "sheet.png"
    result = run(str(out), "--count", "4", "--size", "200", "--workers", "1", "--preview", str(sheet))
    assert result.exit_code == 0, result.output
    import cv2

    image = cv2.imread(str(sheet))
    assert image is not None and image.shape[0] > 200 and image.shape[1] > 600


def test_a_share_of_pages_fill_the_frame_and_are_labelled_whole():
    """Scans and close-ups: the page spans the frame, none of it outside, so nothing is lost."""
    from nima_edge.synth.capture import FILL_SHARE, _draw_scene
    from nima_edge.synth.labels import frame_factor

    fills = [s for s in range(300) if _draw_scene(s, "prescription", 600).fit_margin > 0.97]
    assert 0.6 * FILL_SHARE < len(fills) / 300 < 1.4 * FILL_SHARE
    assert all(_draw_scene(s, "junk", 600).fit_margin == 0.97 for s in fills)  # junk has no page
    inside = [s for s in fills if _draw_scene(s, "prescription", 600).fit_margin <= 1.0][:2]
    overscan = [s for s in fills if _draw_scene(s, "prescription", 600).fit_margin > 1.01][:2]
    assert inside and overscan
    for seed in inside + overscan:
        _, whole = render_capture(seed, {}, kind="prescription", size=600)
        assert whole.page_coverage > 0.7  # a page of another shape than the frame leaves strips
        if seed in inside:
            assert whole.page_in_frame == pytest.approx(1.0, abs=1e-3)
        else:  # the blank margin clipped: counted, but the page stays a good capture
            assert 0.95 < whole.page_in_frame < 0.999 and frame_factor(1 - whole.page_in_frame) > 0.9
        _, cut = render_capture(seed, {"incomplete": 0.5}, kind="prescription", size=600)
        assert cut.page_in_frame < 0.9 and target_mean(cut) < target_mean(whole)
