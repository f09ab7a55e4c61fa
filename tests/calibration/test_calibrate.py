"""`nima calibrate` and the shipped default calibration set (numpy + OpenCV only, no TensorFlow)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from nima_edge.calibration.select import (
    Candidate,
    choose,
    describe,
    dhash,
    hamming,
    scan,
)

from nima_edge.cli import cli

DEFAULT_SET = Path(__file__).resolve().parents[2] / "calibration" / "default"


def page(seed: int, gain: float = 1.0, blur: float = 0.0, size: int = 500) -> np.ndarray:
    """A page-like frame: random dark strokes on paper, then an exposure gain and a blur."""
    rng = np.random.default_rng(seed)
    image = np.full((size, int(size * 0.8), 3), 225, np.float32)
    for _ in range(60):
        x, y = rng.integers(10, image.shape[1] - 60), rng.integers(10, image.shape[0] - 10)
        cv2.line(image, (int(x), int(y)), (int(x + rng.integers(10, 50)), int(y)), (30, 30, 30), 2)
    image *= gain
    if blur:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture
def source(tmp_path):
    """24 distinct pages across exposure and blur, one recompressed near-duplicate, one broken file."""
    folder = tmp_path / "src"
    folder.mkdir()
    for i in range(24):
        cv2.imwrite(str(folder / f"p{i:02d}.jpg"), page(i, gain=0.2 + 0.05 * i, blur=(i % 4) * 1.5))
    cv2.imwrite(str(folder / "p00_again.jpg"), cv2.imread(str(folder / "p00.jpg")), [cv2.IMWRITE_JPEG_QUALITY, 70])
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return folder


def test_dhash_sees_a_recompressed_copy_as_a_near_duplicate_and_another_page_as_different():
    a = cv2.cvtColor(page(1), cv2.COLOR_BGR2GRAY)
    _, jpeg = cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, 60])
    again = cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)
    other = cv2.cvtColor(page(2), cv2.COLOR_BGR2GRAY)
    assert hamming(dhash(a), dhash(again)) <= 4
    assert hamming(dhash(a), dhash(other)) > 4


def test_describe_orders_brightness_and_sharpness():
    dark, bright = describe(page(3, gain=0.3)), describe(page(3, gain=1.0))
    sharp, blurred = describe(page(3)), describe(page(3, blur=4.0))
    assert dark[0] < bright[0]
    assert blurred[2] < sharp[2] - 0.5


def test_choose_covers_both_ends_of_every_feature():
    rng = np.random.default_rng(0)
    candidates = [Candidate(Path(f"{i}.jpg"), float(b), float(c), float(s), i)
                  for i, (b, c, s) in enumerate(rng.normal([120, 40, 2], [40, 10, 0.5], (300, 3)))]
    chosen = choose(candidates, 20, seed=1)
    assert len(chosen) == 20 and len({c.path for c in chosen}) == 20
    for index in range(3):
        values = sorted(c.features(False)[index] for c in candidates)
        picked = [c.features(False)[index] for c in chosen]
        # the picked set reaches into the outer 5% at both ends of each feature
        assert min(picked) <= values[15] and max(picked) >= values[-16]


def test_calibrate_writes_a_small_set_with_a_manifest(source, tmp_path, caplog):
    out = tmp_path / "calib"
    result = CliRunner().invoke(cli, ["calibrate", str(source), "--n", "10", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "broken.jpg" in caplog.text  # skipped with a warning, the rest goes on
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["count"] == 10 and manifest["selection"]["near_duplicates_dropped"] == 1
    files = sorted(p.name for p in out.glob("*.jpg"))
    assert files == sorted(e["file"] for e in manifest["images"])
    for entry in manifest["images"]:
        written = out / entry["file"]
        assert hashlib.sha256(written.read_bytes()).hexdigest() == entry["sha256"]
        assert hashlib.sha256((source / entry["source"]).read_bytes()).hexdigest() == entry["source_sha256"]
        assert max(cv2.imread(str(written)).shape[:2]) == 384
    brightness = [e["brightness"] for e in manifest["images"]]
    all_brightness = [c.brightness for c in scan(source)]
    assert min(brightness) == pytest.approx(min(all_brightness), abs=0.01)  # the darkest page is in
    assert max(brightness) == pytest.approx(max(all_brightness), abs=0.01)  # and the brightest


def test_calibrate_refuses_to_overwrite_and_to_replace_an_unrelated_folder(source, tmp_path):
    out = tmp_path / "calib"
    runner = CliRunner()
    assert runner.invoke(cli, ["calibrate", str(source), "--n", "5", "--out", str(out)]).exit_code == 0
    result = runner.invoke(cli, ["calibrate", str(source), "--n", "5", "--out", str(out)])
    assert result.exit_code == 1 and f"{out}: already exists (use --force to overwrite)" in result.output
    assert runner.invoke(cli, ["calibrate", str(source), "--n", "6", "--out", str(out), "--force"]).exit_code == 0
    assert json.loads((out / "manifest.json").read_text())["count"] == 6
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left behind

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    result = runner.invoke(cli, ["calibrate", str(source), "--n", "5", "--out", str(precious), "--force"])
    assert result.exit_code == 1 and "is not a calibration set (no manifest.json)" in result.output
    assert (precious / "thesis.txt").exists()


def test_fewer_distinct_images_than_asked_uses_all_with_a_warning(source, tmp_path):
    out = tmp_path / "calib"
    result = CliRunner().invoke(cli, ["calibrate", str(source), "--n", "100", "--out", str(out)])
    assert result.exit_code == 0
    assert "has 24 distinct images, fewer than --n 100; using all" in result.output
    assert len(list(out.glob("*.jpg"))) == 24


def test_shipped_default_set_matches_its_manifest_and_spans_the_quality_range():
    manifest = json.loads((DEFAULT_SET / "manifest.json").read_text())
    files = sorted(DEFAULT_SET.glob("*.jpg"))
    assert len(files) == manifest["count"] >= 150
    assert sum(f.stat().st_size for f in files) < 5_000_000
    by_name = {e["file"]: e for e in manifest["images"]}
    for path in files:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == by_name[path.name]["sha256"]
    quality = [e["quality"] for e in manifest["images"]]
    assert min(quality) < 2.5 and max(quality) > 7.0  # retake-worthy and good captures both present
    brightness = [e["brightness"] for e in manifest["images"]]
    assert min(brightness) < 60 and max(brightness) > 200


def test_scan_limit_draws_a_reproducible_random_subset(source):
    everything = {c.path for c in scan(source)}
    first, again = scan(source, limit=10, seed=3), scan(source, limit=10, seed=3)
    other = scan(source, limit=10, seed=4)
    assert len(first) <= 10 and {c.path for c in first} <= everything  # the broken file may be drawn
    assert [c.path for c in first] == [c.path for c in again]
    assert {c.path for c in first} != {c.path for c in other}


def test_a_very_long_strip_is_described_and_written_not_a_crash(source, tmp_path):
    """A 32x60000 PNG, which `nima score` accepts: every shrink keeps at least a pixel a side."""
    strip = np.tile(page(99)[:32, :60], (1, 1000, 1))
    assert strip.shape[:2] == (32, 60000)
    cv2.imwrite(str(source / "strip.png"), strip)
    brightness, _, _, _ = describe(strip)
    assert 0 < brightness < 255
    out = tmp_path / "calib"
    result = CliRunner().invoke(cli, ["calibrate", str(source), "--n", "25", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    strip_entry = [e for e in manifest["images"] if e["source"] == "strip.png"]
    assert strip_entry and cv2.imread(str(out / strip_entry[0]["file"])).shape[:2] == (1, 384)
