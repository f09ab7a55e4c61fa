"""The shared preprocessing: the whole-frame view and the frame+detail and frame+detail+edge mosaics."""
import cv2
import numpy as np
import pytest
from nima_edge.runtime.errors import MetadataError
from nima_edge.runtime.metadata import ModelMetadata
from nima_edge.runtime.preprocess import (
    DETAIL_LONG_SIDE,
    EDGE_FILL,
    EDGE_OUTSIDE_DIVISOR,
    detail_windows,
    edge_window,
    ink_response,
    mirror_input,
    paper_mask,
    preprocess,
    search_copy,
    shrink_long_side,
)
from runtime_pages import render_page


def _sharpness(tile_rgb: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(tile_rgb, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def _detail_tiles(mosaic: np.ndarray) -> list[np.ndarray]:
    half = mosaic.shape[0] // 2
    return [mosaic[:half, half:], mosaic[half:, :half], mosaic[half:, half:]]


def test_frame_view_squashes_the_whole_frame():
    page = render_page(800, 600)
    out = preprocess(page, 64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    expected = cv2.cvtColor(cv2.resize(page, (64, 64), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    assert np.array_equal(out, expected)


def test_mosaic_top_left_is_the_whole_frame_at_quarter_size():
    page = render_page(1600, 1200)
    mosaic = preprocess(page, 160, view="frame+detail")
    assert mosaic.shape == (160, 160, 3) and mosaic.dtype == np.uint8
    whole = preprocess(page, 80)
    assert np.abs(mosaic[:80, :80].astype(int) - whole.astype(int)).mean() < 3


def test_detail_tiles_show_blur_the_frame_view_hides():
    """The reason for the view: a 160 px squash barely changes when the page blurs; the tiles do."""
    sharp, blurred = render_page(2000, 1500), render_page(2000, 1500, blur=2.5)
    frame_ratio = _sharpness(preprocess(blurred, 160)) / _sharpness(preprocess(sharp, 160))
    tiles_sharp = _detail_tiles(preprocess(sharp, 160, view="frame+detail"))
    tiles_blurred = _detail_tiles(preprocess(blurred, 160, view="frame+detail"))
    detail_ratio = np.mean([_sharpness(b) / _sharpness(s) for s, b in zip(tiles_sharp, tiles_blurred)])
    assert detail_ratio < 0.4
    assert detail_ratio < frame_ratio - 0.3


def test_windows_land_on_the_ink():
    """A plain grey frame with one block of text in a corner: every window covers some of it."""
    frame = np.full((1500, 2000, 3), 200, np.uint8)
    text = (1100, 1450, 1300, 1900)  # y0, x0, y1, x1
    for row, y in enumerate(range(text[0] + 30, text[2], 40)):
        cv2.putText(frame, f"Amoxicillin 500 mg tid {row}", (text[1], y), cv2.FONT_HERSHEY_SIMPLEX, 0.9,
                    (20, 20, 20), 2, cv2.LINE_AA)
    windows = detail_windows(frame.shape[:2], shrink_long_side(frame, 256), (80, 80))
    assert len(windows) == 3
    size = round(80 * 2000 / DETAIL_LONG_SIDE)
    for y, x, h, w in windows:
        assert (h, w) == (size, size)
        assert y < text[2] and y + h > text[0] and x < text[3] and x + w > text[1]
    assert len(set(windows)) == 3  # three different windows, not one three times


def test_windows_stay_on_the_page_however_blurred():
    """Blur at frame scale hardly shows at search scale, so a blurred page is still looked at."""
    width, height, margin = 2000, 1500, 0.08
    for blur in (0.0, 3.0, 6.0):
        page = render_page(width, height, blur=blur, seed=3, margin=margin)
        for y, x, h, w in detail_windows(page.shape[:2], shrink_long_side(page, 256), (80, 80)):
            assert width * margin <= x and x + w <= width * (1 - margin)
            assert height * margin <= y and y + h <= height * (1 - margin)


def test_a_frame_too_small_to_hold_three_windows_apart_still_gets_three():
    frame = render_page(1024, 1024)
    windows = detail_windows(frame.shape[:2], shrink_long_side(frame, 256), (600, 600))  # only one fits apart
    assert len(set(windows)) == 3


@pytest.mark.parametrize("shape", [(5, 7, 3), (90, 3000, 3), (3000, 90), (40, 40, 4)])
def test_mosaic_of_odd_shaped_frames(shape):
    rng = np.random.default_rng(0)
    out = preprocess(rng.integers(0, 255, shape, dtype=np.uint8), 96, view="frame+detail")
    assert out.shape == (96, 96, 3)


def test_bad_view_and_odd_size_are_refused():
    page = render_page(320, 240)
    with pytest.raises(ValueError, match="unknown view"):
        preprocess(page, 64, view="tiles")
    with pytest.raises(ValueError, match="even input size"):
        preprocess(page, 65, view="frame+detail")
    with pytest.raises(ValueError, match="even input size"):
        preprocess(page, 65, view="frame+detail+edge")


def test_metadata_carries_the_view():
    for view in ("frame+detail", "frame+detail+edge"):
        meta = ModelMetadata.from_dict({"input_size": [160, 160], "view": view})
        assert meta.view == view
        assert ModelMetadata.from_dict(meta.to_dict()) == meta
    assert ModelMetadata.from_dict({}).view == "frame"  # models exported before the view existed
    with pytest.raises(MetadataError, match="view"):
        ModelMetadata.from_dict({"view": "crops"})



def test_one_search_copy_serves_the_checks_and_the_mosaic(monkeypatch, float_model):
    """A frame is shrunk once per assessment: the copy the assessor hands on gives the same model
    input and the same checks as each making its own, and neither makes another."""
    import importlib
    from dataclasses import replace

    from nima_edge.runtime.scorer import Scorer

    # the package re-exports functions named like these modules: import the modules themselves
    checks_module, policy_module, preprocess_module = (
        importlib.import_module(f"nima_edge.runtime.{name}") for name in ("checks", "policy", "preprocess"))

    page = render_page(1600, 1200)
    search = preprocess_module.search_copy(page)
    assert max(search.shape[:2]) == preprocess_module.SEARCH_LONG_SIDE
    for view in ("frame+detail", "frame+detail+edge"):
        assert np.array_equal(preprocess(page, 96, view=view, search=search), preprocess(page, 96, view=view))
    shared, own = checks_module.run_checks(page, search), checks_module.run_checks(page)
    assert replace(shared, ms=0.0) == replace(own, ms=0.0)

    made = []
    def counted(image):
        made.append(image.shape)
        return search
    for module in (preprocess_module, checks_module, policy_module):
        monkeypatch.setattr(module, "search_copy", counted)
    preprocess(page, 96, view="frame+detail", search=search)
    preprocess(page, 96, view="frame+detail+edge", search=search)
    checks_module.run_checks(page, search)
    assert made == []
    policy_module.Assessor(Scorer(float_model)).inspect(page)
    assert made == [page.shape]


# The edge tile: where the frame's border meets the most ink, a quarter of it beyond the frame.

def _text_box(width: int, height: int, margin: float = 0.08) -> tuple[int, int, int, int]:
    """(y0, x0, y1, x1): a bound on where render_page writes its text."""
    x0, y0, x1, y1 = int(width * margin), int(height * margin), width - int(width * margin), height - int(height * margin)
    return y0, x0 + 30, y1, x1 - 30


def test_edge_tile_goes_where_text_runs_off_the_frame():
    """A page cut through its text on the right: the edge tile lies across that border, its
    outer quarter the fill, the text running into it."""
    page = render_page(2000, 1500, seed=4)
    frame = page[:, :1500]  # every text line runs off the right side
    window = edge_window(frame.shape[:2], search_copy(frame), (80, 80))
    y, x, h, w = window
    assert (h, w) == (round(80 * 1500 / DETAIL_LONG_SIDE),) * 2
    assert x + w - frame.shape[1] == w // EDGE_OUTSIDE_DIVISOR  # a quarter beyond the right side
    text_y0, _, text_y1, _ = _text_box(2000, 1500)
    assert text_y0 < y + h and y < text_y1
    tile = preprocess(frame, 160, view="frame+detail+edge")[80:, 80:]
    outside = 80 // EDGE_OUTSIDE_DIVISOR
    assert (tile[:, -(outside - 2):] == EDGE_FILL).all()
    next_to_it = cv2.cvtColor(tile[:, -outside - 12:-outside - 2], cv2.COLOR_RGB2GRAY)
    assert next_to_it.min() < 120  # ink, cut by the frame


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_edge_window_reaches_past_whichever_side_the_ink_meets(turns):
    """Marks along one border only, the frame turned to put them on each side in turn."""
    frame = np.full((1200, 1200, 3), 210, np.uint8)
    for x in range(300, 900, 40):
        cv2.line(frame, (x, 0), (x, 20), (20, 20, 20), 3)  # strokes cut by the top border
    frame = np.ascontiguousarray(np.rot90(frame, turns))  # counter-clockwise: top -> left -> bottom -> right
    y, x, h, w = edge_window(frame.shape[:2], search_copy(frame), (80, 80))
    side = ("top", "left", "bottom", "right")[turns]
    size = round(80 * 1200 / DETAIL_LONG_SIDE)
    assert (h, w) == (size, size)
    reach = {"top": -y, "left": -x, "bottom": y + h - 1200, "right": x + w - 1200}
    assert reach[side] == size // EDGE_OUTSIDE_DIVISOR
    assert all(value < 0 for name, value in reach.items() if name != side)  # inside the frame elsewhere
    along = (x, x + w) if side in ("top", "bottom") else (y, y + h)
    assert along[0] < 900 and along[1] > 300  # on the marks (300..900 along every side), not elsewhere


# Where the tiles look for text: the black-hat, in full only on paper.

_ELLIPSE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))


def _grey_morphology(frame: np.ndarray, operation: int) -> np.ndarray:
    """The frame's grey levels under a morphology with the 5x5 ellipse (the closing, the black-hat)."""
    return cv2.morphologyEx(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), operation, _ELLIPSE)


def _faint_page_on_grain(seed: int = 0) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A 1500 x 2000 frame: a page with faint pencil lines on a brown ground whose grain answers
    the black-hat far more strongly than the pencil; and the page's box (y0, x0, y1, x1)."""
    rng = np.random.default_rng(seed)
    grain = rng.integers(0, 110, (1500 // 8, 2000 // 8, 1), dtype=np.uint8).repeat(3, axis=2)
    frame = cv2.resize(grain, (2000, 1500), interpolation=cv2.INTER_NEAREST)
    frame = cv2.add(frame, np.full_like(frame, (40, 90, 140)))  # BGR: brown wood or carpet
    box = (400, 600, 1100, 1400)
    frame[box[0]:box[2], box[1]:box[3]] = 215
    for y in range(box[0] + 60, box[2] - 60, 36):
        cv2.line(frame, (box[1] + 60, y), (box[3] - 60, y), (175, 175, 175), 3)
    return frame, box


def test_detail_tiles_go_to_faint_text_on_paper_not_to_the_grain_around_it():
    frame, (y0, x0, y1, x1) = _faint_page_on_grain()
    search = search_copy(frame)
    for y, x, h, w in detail_windows(frame.shape[:2], search, (80, 80)):
        centre_y, centre_x = y + h // 2, x + w // 2
        assert y0 <= centre_y < y1 and x0 <= centre_x < x1, (y, x, h, w)
    # The plain black-hat would have sent a tile to the grain: what the paper weighting is for.
    plain = _grey_morphology(search, cv2.MORPH_BLACKHAT)
    plain_windows = detail_windows(frame.shape[:2], search, (80, 80), ink=plain.astype(np.float32))
    assert any(not (y0 <= y + h // 2 < y1 and x0 <= x + w // 2 < x1) for y, x, h, w in plain_windows)


def test_ink_off_paper_still_counts_where_there_is_no_paper():
    """A frame with no paper in it (strokes on brown card) keeps its tiles on the strokes."""
    frame = np.full((1200, 1600, 3), (40, 90, 140), np.uint8)
    for y in range(700, 1100, 30):
        cv2.line(frame, (900, y), (1500, y), (10, 20, 40), 3)
    ink = ink_response(search_copy(frame))
    assert ink.max() > 0  # counted, if weakly
    for y, x, h, w in detail_windows(frame.shape[:2], search_copy(frame), (80, 80), count=2):
        assert y + h > 700 and x + w > 900


def test_paper_mask_takes_bright_grey_ground_and_leaves_coloured_or_dim_ground():
    frame = np.zeros((64, 192, 3), np.uint8)
    frame[:, :64] = 220  # white paper
    frame[:, 64:128] = (120, 200, 250)  # BGR light wood: bright enough, but coloured
    frame[:, 128:] = 90  # grey, but dim against the paper
    closed = _grey_morphology(frame, cv2.MORPH_CLOSE)
    assert int(closed[0, 96]) * 4 >= 220 * 3  # the wood fails on its colour alone
    mask = paper_mask(frame, closed)
    assert mask[:, :60].all()
    assert not mask[:, 68:124].any() and not mask[:, 132:].any()


def boundary_frame() -> np.ndarray:
    """BGR 20 x 120, blocks of ground at the paper tests' limits, with a dark line through each:
    72 columns of grey 200 (the paper level), then 12 each of grey 150 (exactly 3/4 of it), grey
    149, a colour whose channel spread times 3 equals its largest channel (201, spread 67),
    and one a level past it (201, spread 68: 204)."""
    frame = np.empty((20, 120, 3), np.uint8)
    frame[:, :72] = 200
    frame[:, 72:84] = 150
    frame[:, 84:96] = 149
    frame[:, 96:108] = (134, 167, 201)
    frame[:, 108:] = (133, 167, 201)
    frame[10] //= 2
    return frame


def test_paper_mask_limits_are_inclusive():
    frame = boundary_frame()
    closed = _grey_morphology(frame, cv2.MORPH_CLOSE)
    mask = paper_mask(frame, closed)
    inside = {name: mask[3:17, start + 3:start + 9] for name, start in
              (("level", 60), ("three quarters", 72), ("below", 84), ("spread at the limit", 96), ("past it", 108))}
    assert inside["level"].all() and inside["three quarters"].all() and inside["spread at the limit"].all()
    assert not inside["below"].any() and not inside["past it"].any()
    black_hat = _grey_morphology(frame, cv2.MORPH_BLACKHAT)
    ink = ink_response(frame)
    assert black_hat[10, 78] > 0 and ink[10, 78] == black_hat[10, 78]  # on paper: in full
    assert black_hat[10, 90] > 0 and ink[10, 90] == black_hat[10, 90] >> 4  # off it: a sixteenth


def test_paper_level_is_the_first_grey_level_that_ninety_percent_do_not_exceed():
    """Exactly 90% of the ground at grey 100, the rest at 200: the level is 100, so the grey-100
    ground is paper (a level of 200, the next one up, would make it too dim)."""
    frame = np.full((10, 100, 3), 100, np.uint8)
    frame[:, 90:] = 200
    closed = _grey_morphology(frame, cv2.MORPH_CLOSE)
    assert np.count_nonzero(closed <= 100) == 900
    assert paper_mask(frame, closed).all()


@pytest.mark.parametrize("view, height, width", [("frame", 160, 160), ("frame+detail", 96, 128),
                                                 ("frame+detail+edge", 160, 160)])
def test_mirror_input_mirrors_each_tile_in_place(view, height, width):
    model_input = np.random.default_rng(3).integers(0, 256, (height, width, 3), dtype=np.uint8)
    mirrored = mirror_input(model_input, view)
    assert mirrored.shape == model_input.shape and mirrored.flags.c_contiguous
    assert np.array_equal(mirror_input(mirrored, view), model_input)
    if view == "frame":
        assert np.array_equal(mirrored, model_input[:, ::-1])
        return
    half_h, half_w = height // 2, width // 2
    for top in (0, half_h):
        for left in (0, half_w):
            tile = model_input[top:top + half_h, left:left + half_w]
            # The whole-frame tile stays top left: each tile is mirrored where it is, none moves.
            assert np.array_equal(mirrored[top:top + half_h, left:left + half_w], tile[:, ::-1])
