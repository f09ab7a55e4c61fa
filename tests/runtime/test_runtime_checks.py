"""The native-resolution OpenCV checks on rendered pages."""

import cv2
import numpy as np
import pytest
from nima_edge.runtime.checks import jpeg_quality, run_checks
from runtime_pages import add_flare, render_page


def test_sharp_page_is_found_whole_and_sharp():
    checks = run_checks(render_page())
    assert checks.page_found
    assert 0.6 < checks.coverage < 0.8  # the page fills 84% x 84% of the frame
    assert not checks.touches_edge
    assert len(checks.page_quad) == 4
    assert checks.brightness > 200 and checks.glare_fraction == 0
    assert checks.blur_ratio is not None and checks.blur_ratio < 0.2


def test_blur_estimate_grows_with_blur_and_reads_sigma():
    ratios, sigmas = [], []
    for blur in (0.0, 1.0, 1.5, 2.0, 3.0):
        checks = run_checks(render_page(blur=blur))
        ratios.append(checks.blur_ratio)
        sigmas.append(checks.blur_sigma)
    assert ratios == sorted(ratios) and ratios[-1] > 3 * max(ratios[0], 0.1)
    # The estimator reads the Gaussian's sigma (plus pixel sampling) within ~25%.
    assert sigmas[3] == pytest.approx(np.hypot(2.0, 0.8), rel=0.25)


def test_blur_ratio_does_not_depend_on_lighting():
    bright = run_checks(render_page(blur=1.5)).blur_ratio
    dim = run_checks(render_page(blur=1.5, brightness=0.5)).blur_ratio
    assert dim == pytest.approx(bright, rel=0.2)


def test_ink_contrast_reads_how_far_the_ink_stands_from_the_paper():
    """Paper at grey 240: ink at level L reads (240 - L) / 240, whatever the exposure."""
    readings = [run_checks(render_page(ink=ink)).ink_contrast for ink in (30, 120, 180, 215)]
    assert readings == pytest.approx([(240 - ink) / 240 for ink in (30, 120, 180, 215)], abs=0.03)
    # Too faint for a blur measure, still measured: faint ink is what the reading is for.
    assert run_checks(render_page(ink=215)).blur_ratio is None
    # A relative contrast: dimming the whole frame keeps it.
    assert run_checks(render_page(brightness=0.4)).ink_contrast == pytest.approx(readings[0], abs=0.05)
    assert run_checks(np.full((720, 1280, 3), 90, np.uint8)).ink_contrast == pytest.approx(0.0, abs=0.02)  # no ink
    assert run_checks(np.zeros((40, 40), np.uint8)).ink_contrast is None  # no tile to read


def test_cut_off_page_touches_the_frame_edge():
    assert run_checks(render_page(shift=(500, 0))).touches_edge
    assert run_checks(render_page(margin=-0.05)).touches_edge


def test_dark_glare_and_blank_frames():
    assert run_checks(render_page(brightness=0.2)).brightness < 70
    assert run_checks(render_page(glare=True, brightness=0.85)).glare_fraction > 0.01
    blank = run_checks(np.full((720, 1280, 3), 90, np.uint8))
    assert blank.blur_ratio is None  # no ink anywhere: nothing to judge, no crash


def test_washed_share_grows_with_a_broad_light_and_ignores_pale_print():
    """Light over part of the page lifts paper and ink: that share of the text is washed. Pale ink
    on evenly lit paper is faint everywhere but lifted nowhere: not glare (the faint-ink ceiling's)."""
    page = render_page()
    shares = [run_checks(add_flare(page, size)).washed_share for size in (0.15, 0.25, 0.35)]
    assert run_checks(page).washed_share == pytest.approx(0.0, abs=0.02)
    assert shares[0] < shares[1] < shares[2] and shares[2] > 0.4
    assert run_checks(render_page(ink=195)).washed_share == pytest.approx(0.0, abs=0.02)
    assert run_checks(np.full((720, 1280, 3), 90, np.uint8)).washed_share is None  # no page, nothing to wash


def test_small_and_grey_frames():
    checks = run_checks(np.zeros((40, 40), np.uint8))
    assert not checks.page_found and checks.blur_ratio is None


def _through_jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    _ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


@pytest.mark.parametrize("quality", [4, 10, 25, 50])
def test_jpeg_quality_is_read_from_the_quantisation(quality):
    page = render_page(blur=1.0)  # a camera's own softness
    assert jpeg_quality(_through_jpeg(page, quality)) == pytest.approx(quality, rel=0.15)


def test_no_jpeg_grid_means_no_jpeg_estimate():
    page = render_page(blur=1.0)
    never_compressed = jpeg_quality(page)
    assert never_compressed is None or never_compressed > 80
    saved_well = jpeg_quality(_through_jpeg(page, 95))
    assert saved_well is None or saved_well > 80
    # Cropped off the 8x8 grid after saving: the quantisation no longer shows, so no claim is made.
    shifted = jpeg_quality(_through_jpeg(page, 10)[3:, 5:])
    assert shifted is None or shifted > 80
    washed_out = np.full((720, 1280, 3), 252, np.uint8)
    assert jpeg_quality(_through_jpeg(washed_out, 10)) is None  # one grey level fits any step
    assert run_checks(_through_jpeg(page, 10)).jpeg_quality == pytest.approx(10, rel=0.15)
