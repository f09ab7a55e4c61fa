"""Each label reader on a fixture in its real file format, bad rows and missing images included."""
import logging
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nima_edge.training.data import DataError, read_dataset, split_indices


@pytest.fixture
def images_of(draw_page):
    page, write = draw_page

    def make(folder, names):
        rng = np.random.default_rng(1)
        for name in names:
            write(folder / name, page(0.5, rng))
        return folder

    return make


def _one_warning(caplog) -> str:
    records = [r for r in caplog.records if r.name == "nima_edge.training.data" and r.levelno == logging.WARNING]
    assert len(records) == 1, [r.getMessage() for r in records]
    return records[0].getMessage()


def test_ava_reader(tmp_path, fixture_copy, images_of, caplog):
    labels = fixture_copy("AVA.txt", tmp_path)
    images_of(tmp_path / "images", ["953619.jpg", "953958.jpg", "954184.jpg", "954113.jpg"])
    with caplog.at_level(logging.WARNING):
        samples = read_dataset(labels, "ava", tmp_path / "images")
    assert [p.name for p in samples.paths] == ["953619.jpg", "953958.jpg", "954184.jpg", "954113.jpg"]
    assert samples.score_values == tuple(float(v) for v in range(1, 11))
    # Line 1: votes 0 1 5 17 38 36 15 6 5 1 over scores 1..10.
    votes = np.array([0, 1, 5, 17, 38, 36, 15, 6, 5, 1], float)
    np.testing.assert_allclose(samples.targets[0], votes / votes.sum(), rtol=1e-6)
    assert samples.problems.bad_rows == 3  # 14 fields, no votes, a non-number
    assert samples.problems.missing_images == 1
    message = _one_warning(caplog)
    assert "3 bad rows" in message and "line 5: expected 15 fields, got 14" in message
    assert "1 missing images" in message and "999999.jpg" in message


def test_tid2013_reader_builds_distributions_from_mos_and_std(tmp_path, fixture_copy, images_of, caplog):
    labels = fixture_copy("mos_with_names.txt", tmp_path)
    fixture_copy("mos_std.txt", tmp_path)
    # The real set has the images in distorted_images/, some names in a different case.
    images_of(tmp_path / "distorted_images", ["i01_01_1.bmp", "i01_01_2.bmp", "i01_01_3.bmp", "I01_01_4.bmp"])
    with caplog.at_level(logging.WARNING):
        samples = read_dataset(labels, "tid2013")
    assert len(samples) == 4
    assert samples.paths[3].name == "I01_01_4.bmp"
    assert samples.score_values == tuple(float(v) for v in range(10))
    np.testing.assert_allclose(samples.means, [5.51429, 5.56757, 4.94444, 4.37838], atol=1e-3)
    np.testing.assert_allclose(samples.stds, [0.9, 1.1, 1.3, 0.7], atol=1e-3)
    assert samples.problems.bad_rows == 2 and samples.problems.missing_images == 1
    message = _one_warning(caplog)
    assert "MOS 12.5 outside 0..9" in message and "i01_02_2.bmp" in message


def test_json_reader(tmp_path, fixture_copy, images_of, caplog):
    labels = fixture_copy("ratings.json", tmp_path)
    images_of(tmp_path / "images", ["42039.jpg", "42040.jpg", "42041.jpg"])
    with caplog.at_level(logging.WARNING):
        samples = read_dataset(labels, "json")
    assert [p.name for p in samples.paths] == ["42039.jpg", "42040.jpg", "42041.jpg"]
    assert samples.problems.bad_rows == 3 and samples.problems.missing_images == 1
    assert "item 3: 3 vote counts where earlier rows have 10" in _one_warning(caplog)


def test_csv_reader_with_means_and_defects(tmp_path, fixture_copy, images_of, caplog):
    labels = fixture_copy("labels_mean.csv", tmp_path)
    images_of(tmp_path / "img", ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg"])
    with caplog.at_level(logging.WARNING):
        samples = read_dataset(labels, "csv")
    assert [p.name for p in samples.paths] == ["a.jpg", "b.jpg", "c.jpg", "f.jpg"]
    assert samples.paths[0] == tmp_path / "img" / "a.jpg"  # relative to the CSV's folder
    np.testing.assert_allclose(samples.means, [7.5, 2.5, 5.0, 4.0], atol=1e-3)
    assert samples.stds[0] == pytest.approx(1.2, abs=1e-3)
    assert samples.defect_labels == ("defocus", "glare")
    np.testing.assert_allclose(samples.defects, [[0.0, 0.1], [0.9, 0.0], [0.3, 0.7], [0.2, 0.2]])
    assert samples.problems.bad_rows == 3 and samples.problems.missing_images == 1
    message = _one_warning(caplog)
    assert "mean 11.0 outside 1..10" in message and "empty path" in message


def test_csv_reader_with_votes_and_limit(tmp_path, fixture_copy, images_of):
    labels = fixture_copy("labels_votes.csv", tmp_path)
    images_of(tmp_path / "img", ["a.jpg", "b.jpg", "c.jpg"])
    samples = read_dataset(labels, "csv")
    assert samples.score_values == (1.0, 2.0, 3.0, 4.0, 5.0)
    np.testing.assert_allclose(samples.targets[1], np.array([7, 8, 3, 1, 0]) / 19, rtol=1e-6)
    assert samples.defects is None
    assert len(read_dataset(labels, "csv", limit=1)) == 1
    with pytest.raises(DataError, match="5 bins but 10 score values"):
        read_dataset(labels, "csv", score_values=range(1, 11))


def test_csv_without_usable_rows_is_a_clear_error(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("path,mean\nnothing.jpg,5\n")
    with pytest.raises(DataError, match=r"labels.csv: no usable samples .*1 missing images"):
        read_dataset(labels, "csv")
    labels.write_text("file,mean\na.jpg,5\n")
    with pytest.raises(DataError, match="no 'path' column"):
        read_dataset(labels, "csv")


def test_split_is_deterministic_and_disjoint():
    a = split_indices(100, seed=3)
    b = split_indices(100, seed=3)
    c = split_indices(100, seed=4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    assert [len(x) for x in a] == [80, 10, 10]
    assert sorted(np.concatenate(a).tolist()) == list(range(100))


def _synth_like_csv(path, rows=20, drop=None):
    """A CSV in the synth contract (votes_1..votes_10 plus the mean they imply)."""
    rng = np.random.default_rng(0)
    columns = [f"votes_{i}" for i in range(1, 11) if i != drop]
    lines = ["path," + ",".join(columns) + ",mean"]
    for row in range(rows):
        votes = rng.integers(0, 20, 10)
        votes[9] += 5
        mean = float((votes * np.arange(1, 11)).sum() / votes.sum())
        kept = [str(v) for i, v in enumerate(votes, 1) if i != drop]
        lines.append(f"img/{row}.jpg," + ",".join(kept) + f",{mean:.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_missing_a_vote_column_is_an_error_not_fewer_bins(tmp_path):
    good = _synth_like_csv(tmp_path / "good.csv")
    assert read_dataset(good, "csv", check_images=False).targets.shape == (20, 10)
    missing = _synth_like_csv(tmp_path / "missing.csv", drop=10)
    with pytest.raises(DataError, match=r"missing.csv: in \d+ rows the votes votes_1..votes_9 disagree with the "
                                        r"'mean' column: is a votes_N column missing\?"):
        read_dataset(missing, "csv", check_images=False)


def test_csv_that_is_not_utf8_or_has_a_huge_field_is_one_line(tmp_path):
    text = _synth_like_csv(tmp_path / "base.csv").read_bytes()
    binary = tmp_path / "binary.csv"
    binary.write_bytes(text[:200] + b"\xff\xfe" + text[200:])
    with pytest.raises(DataError, match=r"binary.csv: near line \d+: not UTF-8 text"):
        read_dataset(binary, "csv", check_images=False)
    huge = tmp_path / "huge.csv"
    huge.write_bytes(text + b"img/x.jpg," + b"1" * 200_000 + b"\n")
    with pytest.raises(DataError, match=r"huge.csv: line \d+: field larger than field limit"):
        read_dataset(huge, "csv", check_images=False)


def test_deeply_nested_json_labels_are_one_line(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(DataError, match=r"deep.json: not valid JSON \(JSON nested deeper than 64 levels\)"):
        read_dataset(deep, "json", check_images=False)


LABELS_SEED = (b"path,votes_1,votes_2,votes_3,mean,std,defect_glare\n"
               b"a.jpg,1,2,3,2.3333,0.7454,0.5\nb.jpg,0,0,4,3.0000,0.0000,0\n")


@pytest.mark.timeout(120)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
          derandomize=os.environ.get("CI") == "true", database=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
       st.one_of(st.none(), st.integers(0, 10**6)), st.sampled_from(["csv", "json"]))
def test_mutated_label_files_are_read_or_refused_in_one_line(tmp_path, flips, cut, fmt):
    data = bytearray(LABELS_SEED if fmt == "csv" else b'[{"image_id": "a", "label": [1, 2, 3]}]')
    for position, value in flips:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % len(data)]
    path = tmp_path / f"labels.{fmt}"
    path.write_bytes(bytes(data))
    try:
        samples = read_dataset(path, fmt, check_images=False)
    except DataError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    assert samples.targets.shape[0] == len(samples.paths) > 0
    assert np.all(np.isfinite(samples.targets)) and np.allclose(samples.targets.sum(1), 1, atol=1e-5)
