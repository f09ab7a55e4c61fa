"""`nima realset`: real photos -> labelled training copies and a holdout split by source.

The "real photos" here are made by the test (rendered pages and textured scenes written as JPEGs),
so nothing depends on ../shared.
"""
from __future__ import annotations

import csv
import hashlib

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from nima_edge.runtime.fileio import OutputError
from nima_edge.runtime.preprocess import shrink_long_side
from nima_edge.synth import real, render_capture

from nima_edge.cli import cli


def _page(seed: int) -> np.ndarray:
    image, _ = render_capture(seed, defects={}, kind="prescription", size=900)
    return image


FLAT_PAPER = (200, 228, 250)  # BGR


def _flat_page() -> np.ndarray:
    """A page lying flat and square to the camera: printed lines, paper all round. The paper is a
    warm cream no plain ground of synth.real has, so a test can tell the page from the ground."""
    page = np.full((900, 700, 3), FLAT_PAPER, np.uint8)
    for row in range(14):
        cv2.putText(page, f"Rx {row} Amoxicillin 500 mg", (70, 110 + 50 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.9,
                    (30, 30, 30), 2, cv2.LINE_AA)
    return page


def _scene(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (12, 16, 3)).astype(np.uint8)
    return cv2.GaussianBlur(cv2.resize(small, (640, 480), interpolation=cv2.INTER_CUBIC), (0, 0), 3)


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("realphotos")
    (root / "docs").mkdir()
    (root / "nondocs").mkdir()
    for i, source in enumerate(["forms", "forms", "notes"]):
        cv2.imwrite(str(root / "docs" / f"{source}_{i:04d}.jpg"), _page(100 + i))
    for i, source in enumerate(["pets", "streets"]):
        cv2.imwrite(str(root / "nondocs" / f"{source}_{i:04d}.jpg"), _scene(i))
    (root / "docs" / "forms_9999.jpg").write_bytes(b"not a jpeg at all")
    return root


@pytest.fixture(scope="module")
def built(photo_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("realset")
    warnings = []
    parts = real.write_realset(photo_folder, out, seed=3, holdout=("notes", "streets"), warn=warnings.append)
    return out, parts, warnings


def _rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_sources_are_held_out_whole_and_every_kind_is_graded(built):
    out, parts, warnings = built
    train, holdout = _rows(parts["train"]), _rows(parts["holdout"])
    assert {r["source"] for r in train} == {"forms", "pets"}
    assert {r["source"] for r in holdout} == {"notes", "streets"}
    # one document held out: clean + every kind at mild and heavy; one non-document as it is
    docs = [r for r in holdout if r["group"] != "nondoc"]
    assert len(docs) == 1 + 2 * len(real.DEGRADATIONS)
    assert {(r["degradation"], r["level"]) for r in docs if r["group"] == "degraded"} == {
        (k, lv) for k in real.DEGRADATIONS for lv in ("mild", "heavy")}
    assert [r["group"] for r in holdout].count("nondoc") == 1
    # training: per document 6 clean looks (as is, re-captured, cropped to the text, against one or
    # two sides of the frame, small on a plain ground, end to end across a ground), one copy per
    # kind, one pair, a heavier cut-off and glare and the two ground copies run off the frame; per
    # non-document 2 looks
    assert len(train) == 2 * (6 + len(real.DEGRADATIONS) + 1 + 2 + 2) + 2
    for row in train + holdout:
        assert (out / ("train" if row in train else "holdout") / row["path"]).is_file()
    assert len(warnings) == 1 and "forms_9999.jpg" in warnings[0]


def test_labels_follow_the_synthetic_formula(built):
    _, parts, _ = built
    holdout = _rows(parts["holdout"])
    clean = next(r for r in holdout if r["group"] == "clean")
    assert float(clean["mean"]) > 6.5  # a sound page is a usable capture
    gaps = []
    for kind in real.DEGRADATIONS:
        mild = next(r for r in holdout if r["degradation"] == kind and r["level"] == "mild")
        heavy = next(r for r in holdout if r["degradation"] == kind and r["level"] == "heavy")
        # <= : a kind whose mild step already reaches the label's floor (over-exposure washes ink out fast)
        assert float(heavy["mean"]) <= float(mild["mean"]) <= float(clean["mean"]) + 0.3, kind
        gaps.append(float(mild["mean"]) - float(heavy["mean"]))
        assert float(heavy["mean"]) < 5, kind  # heavy is a retake whatever the page
        assert float(heavy[f"defect_{real.KIND_DEFECT[kind]}"]) == pytest.approx(real.HEAVY)
    assert sum(g > 1 for g in gaps) >= len(gaps) - 2
    nondoc = next(r for r in holdout if r["group"] == "nondoc")
    assert float(nondoc["mean"]) < 2 and nondoc["defect_not_document"] == "1.0000"


def test_same_seed_same_bytes_whatever_the_workers(photo_folder, built, tmp_path):
    out, _, _ = built
    again = real.write_realset(photo_folder, tmp_path / "again", seed=3, holdout=("notes", "streets"),
                               workers=2, warn=lambda m: None)
    def digest(folder):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("images/*.jpg"))}

    assert digest(out / "train") == digest(tmp_path / "again" / "train")
    assert again["holdout"].read_text() == (out / "holdout" / "labels.csv").read_text()
    other = real.plan(real.read_photos(photo_folder), seed=4, holdout=("notes",))
    first = real.plan(real.read_photos(photo_folder), seed=3, holdout=("notes",))
    assert [c.kinds for c in other["train"]] != [c.kinds for c in first["train"]]


def test_degradations_grade_one_quantity_each():
    page = _page(7)
    measured = real.measure_page(page)
    assert 4 <= measured.char_px <= 40 and measured.paper > measured.ink
    facts = {}
    for severity in (0.3, 0.9):
        state = real.State(image=page.copy(), char_px=measured.char_px, paper=measured.paper, ink=measured.ink)
        facts[severity] = {kind: real.degrade(real.State(**{**state.__dict__, "defects": dict(state.defects)}),
                                              kind, severity, np.random.default_rng(0))
                           for kind in real.DEGRADATIONS}
    assert facts[0.9]["defocus"].blur_px > facts[0.3]["defocus"].blur_px > real.OPTICS_BLUR
    assert facts[0.9]["cutoff"].in_frame < facts[0.3]["cutoff"].in_frame < 1
    assert facts[0.9]["noise"].noise > facts[0.3]["noise"].noise
    assert facts[0.9]["jpeg"].jpeg_quality < facts[0.3]["jpeg"].jpeg_quality
    assert facts[0.9]["dark"].gain < facts[0.3]["dark"].gain < 1
    assert facts[0.9]["glare"].glare_fraction > facts[0.3]["glare"].glare_fraction
    assert facts[0.9]["lowres"].resolution < facts[0.3]["lowres"].resolution < 1
    with pytest.raises(real.SynthError, match="unknown degradation 'smudge'"):
        real.degrade(state, "smudge", 0.5, np.random.default_rng(0))


def test_manifest_groups_and_sources(tmp_path):
    (tmp_path / "docs").mkdir()
    cv2.imwrite(str(tmp_path / "docs" / "a.jpg"), _page(1))
    cv2.imwrite(str(tmp_path / "docs" / "b.jpg"), _scene(1))
    with open(tmp_path / "manifest.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "group", "source_repo"])
        writer.writerows([["docs/a.jpg", "doc", "owner/pages"], ["docs/b.jpg", "nondoc", "owner/scenes"],
                          ["docs/c.jpg", "degraded", "owner/pages"]])
    photos = real.read_photos(tmp_path)
    assert [(p.document, p.source) for p in photos] == [(True, "owner/pages"), (False, "owner/scenes")]


def test_command_refuses_to_overwrite_and_names_the_file(photo_folder, tmp_path):
    runner = CliRunner()
    args = ["realset", str(photo_folder), str(tmp_path / "set"), "--holdout", "notes", "--workers", "1"]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "holdout:" in first.output and "train:" in first.output
    second = runner.invoke(cli, args)
    assert second.exit_code == 1 and "labels.csv: exists (use --force" in second.output
    with pytest.raises(OutputError):
        real.write_realset(photo_folder, tmp_path / "set", holdout=("notes",), warn=lambda m: None)
    empty = tmp_path / "empty"
    empty.mkdir()
    third = runner.invoke(cli, ["realset", str(empty), str(tmp_path / "x")])
    assert third.exit_code == 1 and "no manifest.csv and no images" in third.output


def test_a_set_with_every_source_held_out_writes_the_holdout_alone(photo_folder, built, tmp_path):
    _, parts, _ = built
    runner = CliRunner()
    args = ["realset", str(photo_folder), str(tmp_path / "set"), "--seed", "3", "--workers", "1"]
    for source in ("forms", "notes", "pets", "streets"):
        args += ["--holdout", source]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "holdout:" in result.output and "train:" not in result.output
    assert not (tmp_path / "set" / "train").exists()
    pages = {r["page"] for r in _rows(tmp_path / "set" / "holdout" / "labels.csv")}
    assert {"forms_0000.jpg", "notes_0002.jpg"} <= pages  # the training sources' pages, now held out
    assert {r["page"] for r in _rows(parts["holdout"])} < pages


def test_a_photo_longer_than_the_long_side_is_copied_as_its_shrunk_self(tmp_path):
    page = _page(7)  # 900 px: 3x is 2,700, over LONG_SIDE
    big = cv2.resize(page, (page.shape[1] * 3, page.shape[0] * 3), interpolation=cv2.INTER_CUBIC)
    shrunk = shrink_long_side(big, real.LONG_SIDE)
    assert max(shrunk.shape[:2]) == real.LONG_SIDE
    built = {}
    for name, image in (("big", big), ("shrunk", shrunk)):
        src = tmp_path / name / "photos"
        (src / "docs").mkdir(parents=True)
        cv2.imwrite(str(src / "docs" / "pages_0000.png"), image)  # PNG: both decode to exactly these pixels
        labels = real.write_realset(src, tmp_path / name / "set", seed=5, holdout=("pages",), warn=lambda m: None)
        built[name] = _rows(labels["holdout"])
    assert built["big"] == built["shrunk"] and len(built["big"]) > 10
    for row in built["big"]:
        big_copy = (tmp_path / "big" / "set" / "holdout" / row["path"]).read_bytes()
        assert big_copy == (tmp_path / "shrunk" / "set" / "holdout" / row["path"]).read_bytes()


def _write_review(path, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(real.REVIEW_COLUMNS)
        writer.writerows(rows)


def test_a_reviewed_photo_is_left_out_and_every_other_file_stays_the_same(photo_folder, built, tmp_path):
    out, parts, _ = built
    review = tmp_path / "review.csv"
    _write_review(review, [["docs/forms_0001.jpg", "exclude", "its text runs off the frame"]])
    runner = CliRunner()
    args = ["realset", str(photo_folder), str(tmp_path / "set"), "--seed", "3", "--holdout", "notes",
            "--holdout", "streets", "--workers", "1", "--review", str(review)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    unreviewed = _rows(parts["train"])
    reviewed = _rows(tmp_path / "set" / "train" / "labels.csv")
    left_out = [r for r in unreviewed if r["page"] == "forms_0001.jpg"]
    assert left_out and reviewed == [r for r in unreviewed if r["page"] != "forms_0001.jpg"]
    for row in reviewed:  # the same seeds, so the same bytes: excluding one photo moves no other
        assert (tmp_path / "set" / "train" / row["path"]).read_bytes() == (out / "train" / row["path"]).read_bytes()
    assert (tmp_path / "set" / "holdout" / "labels.csv").read_text() == parts["holdout"].read_text()
    assert (tmp_path / "set" / "review.csv").read_bytes() == review.read_bytes()  # csv.writer's \r\n kept
    # rebuilt without a review, the set holds the photo again and no longer claims the review
    again = runner.invoke(cli, [*args[:-2], "--force"])
    assert again.exit_code == 0, again.output
    assert _rows(tmp_path / "set" / "train" / "labels.csv") == unreviewed
    assert not (tmp_path / "set" / "review.csv").exists()


def test_blocky_low_resolution_changes_only_the_training_low_resolution_copies(photo_folder, built, tmp_path):
    out, parts, _ = built
    runner = CliRunner()
    result = runner.invoke(cli, ["realset", str(photo_folder), str(tmp_path / "set"), "--seed", "3", "--holdout",
                                 "notes", "--holdout", "streets", "--workers", "1", "--blocky-share", "1"])
    assert result.exit_code == 0, result.output
    train = _rows(parts["train"])
    assert _rows(tmp_path / "set" / "train" / "labels.csv") == train  # the same damage, so the same labels
    assert (tmp_path / "set" / "holdout" / "labels.csv").read_text() == parts["holdout"].read_text()
    for row in _rows(parts["holdout"]):
        assert (tmp_path / "set" / "holdout" / row["path"]).read_bytes() == (out / "holdout" / row["path"]).read_bytes()
    shrunk = {r["path"] for r in train if r["degradation"] == "lowres"
              and real.lowres_factor(float(r["severity"]), float(r["char_height_px"])) < 0.999}
    changed = {r["path"] for r in train
               if (tmp_path / "set" / "train" / r["path"]).read_bytes() != (out / "train" / r["path"]).read_bytes()}
    assert shrunk and changed == shrunk
    assert (tmp_path / "set" / real.BLOCKY_RECORD).read_text() == "1.0\n"
    assert not (out / real.BLOCKY_RECORD).exists()
    bad = runner.invoke(cli, ["realset", str(photo_folder), str(tmp_path / "other"), "--blocky-share", "1.5"])
    assert bad.exit_code == 2 and "--blocky-share" in bad.output


def test_blocky_low_resolution_repeats_pixels_where_the_soft_one_interpolates():
    noise = np.random.default_rng(0).integers(0, 255, (120, 160, 3)).astype(np.uint8)
    looks = {}
    for blocky in (False, True):
        state = real.State(image=noise.copy(), char_px=20.0, paper=0.8, ink=0.2, blocky=blocky)
        looks[blocky] = real.degrade(state, "lowres", 0.9, np.random.default_rng(0))
    assert looks[True].resolution == looks[False].resolution < 0.5  # the same loss of detail, so the same label
    def repeated_columns(image):  # away from the borders, which an interpolation clamps
        inner = image[:, 16:-16]
        return float(np.mean(np.all(inner[:, 1:] == inner[:, :-1], axis=(0, 2))))
    assert repeated_columns(looks[True].image) > 0.5
    assert repeated_columns(looks[False].image) < 0.05
    with pytest.raises(real.SynthError, match="blocky share must be in"):
        real.plan([], seed=0, blocky_share=-0.1)


@pytest.mark.parametrize("rows, columns, problem", [
    ([["docs/forms_0042.jpg", "exclude", "cut off"]], None, r"review.csv: 1 of its files are not among the photos"),
    ([["docs/forms_0001.jpg", "exclude", ""]], None, r"review.csv: line 2: need a file, the verdict exclude and a reason"),
    ([["docs/forms_0001.jpg", "keep", "fine"]], None, r"review.csv: line 2: .*'keep'"),
    ([["docs/forms_0001.jpg", "exclude"]], ["file", "verdict"], r"review.csv: missing columns reason"),
])
def test_a_review_that_cannot_be_followed_is_refused_naming_it(photo_folder, tmp_path, rows, columns, problem):
    review = tmp_path / "review.csv"
    if columns is None:
        _write_review(review, rows)
    else:
        review.write_text(",".join(columns) + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    with pytest.raises(real.SynthError, match=problem):
        real.read_photos(photo_folder, review)
    result = CliRunner().invoke(cli, ["realset", str(photo_folder), str(tmp_path / "set"), "--review", str(review)])
    assert result.exit_code == 1 and "review.csv" in result.output
    assert not (tmp_path / "set" / "train" / "labels.csv").exists()


def _state(image: np.ndarray) -> real.State:
    page = real.measure_page(image)
    return real.State(image=image.copy(), char_px=page.char_px, paper=page.paper, ink=page.ink, glyphs=page.glyphs)


def test_a_cutoff_cuts_into_the_text_not_the_desk_around_it():
    page = _page(7)
    on_desk = cv2.copyMakeBorder(page, 300, 300, 300, 300, cv2.BORDER_CONSTANT, value=(40, 60, 90))
    assert len(real.measure_page(on_desk).glyphs) >= real.MIN_GLYPHS
    for severity in (real.MILD, real.HEAVY):
        lost = real.cutoff_fraction(severity)
        for seed in range(8):  # every style, several sides
            cut = real.degrade(_state(on_desk), "cutoff", severity, np.random.default_rng(seed))
            # the crop lies in the text (a strip of the frame this size would take only desk)
            assert 0.0 <= cut.in_frame < 1.0 - 0.5 * lost, (severity, seed)
            assert cut.defects["incomplete"] == severity


def test_a_strip_cutoff_takes_away_the_side_its_placement_names():
    """cut_placement is the cut-off's own first draws: a study reading it from a copy's seed learns
    the cut the copy got (a strip off the left or right leaves a narrower frame, off the top or bottom
    a wider one)."""
    on_desk = cv2.copyMakeBorder(_page(7), 300, 300, 300, 300, cv2.BORDER_CONSTANT, value=(40, 60, 90))
    aspect = on_desk.shape[1] / on_desk.shape[0]
    seen = set()
    for seed in range(40):
        style, side = real.cut_placement(np.random.default_rng(seed))
        if style != "strip":
            assert side is None
            continue
        cut = real.degrade(_state(on_desk), "cutoff", real.HEAVY, np.random.default_rng(seed))
        narrower = cut.image.shape[1] / cut.image.shape[0] < aspect
        assert narrower == (side in ("left", "right")), (seed, side)
        seen.add(side)
    assert seen == set(real.STRIP_SIDES)


def test_a_page_cropped_to_its_text_is_a_clean_capture():
    on_desk = cv2.copyMakeBorder(_page(7), 300, 300, 300, 300, cv2.BORDER_CONSTANT, value=(40, 60, 90))
    before = _state(on_desk)
    tight = real.crop_to_text(_state(on_desk), 0.03)
    assert tight.in_frame > 0.97  # nothing of the text lost
    assert max(tight.image.shape[:2]) == max(on_desk.shape[:2])  # the camera's resolution, zoomed in
    assert tight.char_px > before.char_px * 1.2
    desk = np.all(np.abs(tight.image.astype(int) - (40, 60, 90)) < 12, axis=2)
    assert desk.mean() < 0.1  # the desk is (almost) gone: the page fills the frame
    copy = real.Copy(real.RealPhoto("p.jpg", True, "s"), "images/p_tight.jpg", 5, "clean", margin=0.03)
    _, row = real.render_copy(copy, on_desk.copy(), real.measure_page(on_desk))
    _, plain = real.render_copy(real.Copy(copy.photo, "images/p.jpg", 5, "clean"), on_desk.copy(),
                                real.measure_page(on_desk))
    assert float(row["mean"]) > 6.5 and abs(float(row["mean"]) - float(plain["mean"])) < 0.5


@pytest.mark.parametrize("sides", ["t", "rb"])
def test_a_page_against_one_or_two_sides_of_the_frame_is_a_clean_capture(sides):
    """A receipt laid in the scanner's corner: the frame comes in to the text on those sides only,
    the desk stays on the others, and nothing of the text is lost, so the label stays clean."""
    desk_bgr = (40, 60, 90)
    on_desk = cv2.copyMakeBorder(_page(7), 300, 300, 300, 300, cv2.BORDER_CONSTANT, value=desk_bgr)
    edge = real.crop_to_text(_state(on_desk), 0.03, sides)
    assert edge.in_frame > 0.97
    desk = np.all(np.abs(edge.image.astype(int) - desk_bgr) < 12, axis=2)
    h, w = desk.shape
    strips = {"l": desk[:, : w // 20], "t": desk[: h // 20], "r": desk[:, -w // 20:], "b": desk[-h // 20:]}
    for side, strip in strips.items():
        if side in sides:
            assert strip.mean() < 0.5, side  # the page reaches this side of the frame
        else:
            assert strip.mean() > 0.9, side  # the desk is still there
    photo = real.RealPhoto("p.jpg", True, "s")
    _, row = real.render_copy(real.Copy(photo, "images/p_edge.jpg", 5, "clean", margin=0.03, sides=sides),
                              on_desk.copy(), real.measure_page(on_desk))
    assert float(row["mean"]) > 6.5 and float(row["defect_incomplete"]) == 0.0


@pytest.mark.parametrize("sides", ["t", "bl"])
def test_a_small_page_on_a_plain_ground_against_the_frame_is_clean_and_run_off_it_is_cut_off(sides):
    """A receipt in a flatbed's corner: the page, shrunk, lies on a plain ground and reaches the
    frame's ``sides``, all its text in frame (clean); the same copy run off the frame into its text
    is a cut-off. The frame keeps its size."""
    on_desk = cv2.copyMakeBorder(_flat_page(), 300, 300, 300, 300, cv2.BORDER_CONSTANT, value=(40, 60, 90))
    page = real.measure_page(on_desk)
    tight = real.crop_to_text(_state(on_desk), 0.05)
    laid = real.on_ground(real.crop_to_text(_state(on_desk), 0.05), 0.5, sides, np.random.default_rng(1))
    assert laid.image.shape == tight.image.shape and laid.in_frame > 0.97
    assert laid.char_px == pytest.approx(tight.char_px * 0.5, rel=0.05)
    paper = np.all(np.abs(laid.image.astype(int) - FLAT_PAPER) < 20, axis=2)
    assert 0.1 < paper.mean() < 0.5  # a small page, the ground all round it
    strips = {"l": paper[:, :3], "t": paper[:3], "r": paper[:, -3:], "b": paper[-3:]}
    for side, strip in strips.items():
        assert (strip.mean() > 0.3) == (side in sides), side  # the page reaches these sides, no other
    _assert_glyphs_on_paper(laid.glyphs, paper)
    _assert_clean_and_its_cut_twin(on_desk, page, "ground", {"margin": 0.05, "ground": 0.5, "sides": sides})


@pytest.mark.parametrize(("sides", "page_size"), [("l", (1200, 700)), ("", (700, 1200))])
def test_a_page_end_to_end_across_a_ground_is_clean_and_run_off_it_is_cut_off(sides, page_size):
    """A long receipt on a flatbed its own length: the page reaches both ends of the frame along
    its long side, with ground beside it, all its text in frame at its own size (clean); the same
    copy run off the frame into its text is a cut-off."""
    flat = cv2.resize(_flat_page(), page_size[::-1])
    on_desk = cv2.copyMakeBorder(flat, 300, 300, 300, 300, cv2.BORDER_CONSTANT, value=(40, 60, 90))
    page = real.measure_page(on_desk)
    tight = real.crop_to_text(_state(on_desk), 0.05)
    laid = real.spanning_ground(real.crop_to_text(_state(on_desk), 0.05), 0.5, sides, np.random.default_rng(1))
    tall = tight.image.shape[0] >= tight.image.shape[1]
    along, across = (0, 1) if tall else (1, 0)
    assert laid.image.shape[along] == tight.image.shape[along]
    assert laid.image.shape[across] == pytest.approx(2 * tight.image.shape[across], abs=2)
    assert laid.in_frame > 0.97 and laid.char_px == tight.char_px
    paper = np.all(np.abs(laid.image.astype(int) - FLAT_PAPER) < 20, axis=2)
    ends = (paper[:3], paper[-3:]) if tall else (paper[:, :3], paper[:, -3:])
    assert all(end.mean() > 0.3 for end in ends)  # it reaches both ends of the frame
    assert 0.35 < paper.mean() < 0.65  # and half the breadth
    if sides == "l":
        assert paper[:, :3].mean() > 0.9 and paper[:, -3:].mean() < 0.1
    _assert_glyphs_on_paper(laid.glyphs, paper)
    _assert_clean_and_its_cut_twin(on_desk, page, "span", {"margin": 0.05, "span": 0.5, "sides": sides})


def _assert_glyphs_on_paper(box: np.ndarray, paper: np.ndarray) -> None:
    """The text moved with the page: the glyphs lie inside the page's paper."""
    ys, xs = np.nonzero(paper)
    assert box[:, 0].min() >= xs.min() and box[:, 2].max() <= xs.max() + 1
    assert box[:, 1].min() >= ys.min() and box[:, 3].max() <= ys.max() + 1


def _assert_clean_and_its_cut_twin(on_desk: np.ndarray, page, name: str, placed: dict) -> None:
    """The placed copy, rendered, is a good capture; the same copy run off the frame is a cut-off."""
    photo = real.RealPhoto("p.jpg", True, "s")
    _, clean = real.render_copy(real.Copy(photo, f"images/p_{name}.jpg", 5, "clean", **placed), on_desk.copy(), page)
    _, cut = real.render_copy(real.Copy(photo, f"images/p_{name}cut.jpg", 5, "degraded", (("cutoff", 0.7),), **placed),
                              on_desk.copy(), page)
    assert float(clean["mean"]) > 6.5 and float(clean["defect_incomplete"]) == 0.0
    assert float(cut["mean"]) < 4.0 and float(cut["defect_incomplete"]) == 0.7


def test_a_tilted_page_is_not_pasted_on_a_ground():
    """A crop that shows the desk at its border is a photo, not a page: it is left as it is."""
    on_desk = cv2.copyMakeBorder(_page(7), 300, 300, 300, 300, cv2.BORDER_CONSTANT, value=(40, 60, 90))
    h, w = on_desk.shape[:2]
    tilted = cv2.warpAffine(on_desk, cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0), (w, h),
                            borderValue=(40, 60, 90))
    state = real.crop_to_text(_state(tilted), 0.05)
    before = state.image.copy()
    assert np.array_equal(real.on_ground(state, 0.5, "t", np.random.default_rng(1)).image, before)


def test_every_training_page_gets_an_edge_copy_and_heavier_cutoff_and_glare_copies(photo_folder):
    copies = real.plan(real.read_photos(photo_folder), seed=3, holdout=("notes",))["train"]
    documents = {c.photo.path for c in copies if c.photo.document}
    names = [c.name.rsplit("_", 1)[1] for c in copies if c.photo.document]
    for suffix in ("edge.jpg", "cutoff2.jpg", "glare2.jpg"):
        assert names.count(suffix) == len(documents), suffix
    for c in copies:
        if c.name.endswith(("cutoff2.jpg", "glare2.jpg")):
            assert real.HEAVY_SIDE[0] <= c.kinds[0][1] <= real.HEAVY_SIDE[1]
        if c.name.endswith("edge.jpg"):
            assert c.group == "clean" and c.sides in real.EDGE_SIDES and c.margin is not None
    for clean, cut in _twins(copies, "ground", len(documents)):
        assert (clean.margin, clean.ground, clean.sides) == (cut.margin, cut.ground, cut.sides)
        assert real.GROUND_SCALE[0] <= clean.ground <= real.GROUND_SCALE[1] and clean.sides in real.EDGE_SIDES
    for clean, cut in _twins(copies, "span", len(documents)):
        assert (clean.margin, clean.span, clean.sides) == (cut.margin, cut.span, cut.sides)
        assert real.SPAN_SHARE[0] <= clean.span <= real.SPAN_SHARE[1] and clean.sides in ("l", "r", "")


def _twins(copies, name: str, documents: int) -> list:
    """(clean, cut) for every ``_<name>.jpg`` copy and its ``_<name>cut.jpg`` twin, one pair a document;
    the pair differs only by the cut-off (the caller checks the same page, ground and sides)."""
    cleans = {c.name.rsplit("_", 1)[0]: c for c in copies if c.name.endswith(f"_{name}.jpg")}
    cuts = [c for c in copies if c.name.endswith(f"_{name}cut.jpg")]
    assert len(cleans) == len(cuts) == documents
    pairs = [(cleans[cut.name.rsplit("_", 1)[0]], cut) for cut in cuts]
    for clean, cut in pairs:
        assert clean.group == "clean" and not clean.kinds and cut.kinds[0][0] == "cutoff"
    return pairs
