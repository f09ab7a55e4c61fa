"""Quick OpenCV checks of a capture, at the frame's native resolution.

The model sees a small view of the frame (the bundled model: a 160-px mosaic of the whole frame and
three detail tiles, see preprocess.py). That view can still hide blur which ruins small
handwriting, so these checks look at the page where the pixels are: the coarse parts (page outline, exposure,
glare) on a small copy, the sharpness and the ink's contrast on a few full-resolution tiles of the
page. A few ms on a 720p frame.

Sharpness is measured as an edge width. A step edge of contrast C blurred by a Gaussian of sigma s
has a peak gradient of C / (s * sqrt(2 pi)), so ``sigma = C / (sqrt(2 pi) * peak gradient)`` in
native pixels whatever the contrast or lighting (contrast and gradient are taken as high
percentiles of each tile). What matters for legibility is that width relative to the pen strokes
it smears: ``blur_ratio = excess sigma / stroke``, the stroke taken as 1/PAGE_WIDTH_IN_STROKES
(1/350) of the page's width in pixels (a 0.6-mm pen line on an A4 page) and the excess sigma being what the capture adds to
the ~1 px that a sharp capture measures after pixel sampling, demosaicing and JPEG (a perfectly
sampled synthetic edge reads 0.8 px). A stroke width measured on
the ink itself would grow with the very blur it is meant to judge.

Ink contrast is read on the same tiles, ``(paper - ink) / paper`` from the same percentiles: the
quantity the synthetic labels' contrast factor is built on. It is relative, so dimming a frame
keeps it, while light that washes the ink out (over-exposure, glare on white paper) lowers it.

Broad glare is read as the share of the page's text that light has washed out: the page cut into
a grid on a copy of about 1024 px, a cell holding text (some ink contrast) counts as washed when its ink
contrast is low *and* its paper is brighter than the page's usual paper (or saturated). Light
added on top of the page lifts both, where faint print on evenly lit paper (a pale form, a ruled
line) lifts neither: the inkiest tiles above can miss a washed region, because they go to the ink
that is left.

JPEG damage is read from the pixels too, by jpeg_quality.py: the quality the file was saved at,
estimated from the quantisation a decoded JPEG keeps.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import cv2
import numpy as np

from .jpeg_quality import jpeg_quality
from .preprocess import search_copy

MAX_TILES = 8
MIN_TILE_RANGE = 40.0  # grey levels: tiles flatter than this hold no ink to measure
PAGE_WIDTH_IN_STROKES = 350.0
SAMPLING_SIGMA = 1.0  # what a sharp capture reads after pixel sampling, demosaicing and JPEG
SATURATED = 250
GLARE_CONTRAST = 15  # grey levels a glare blob stands above the paper's median
DARK = 8
WASHED_LONG_SIDE = 1024  # px, roughly: small print keeps its contrast here, unlike on the 256-px search copy
WASHED_GRID = 8  # cells a side, over the page's bounding box
TEXT_CONTRAST = 0.05  # a cell whose (paper - ink) / paper is below this holds no text, washed or not
WASHED_CONTRAST = 0.25  # below this a text cell's ink no longer reads
WASHED_LIFT = 10  # grey levels a washed cell's paper stands above the page's median paper


@dataclass(frozen=True)
class Checks:
    """What the quick checks found. Fractions are 0..1; coordinates are in native pixels."""

    width: int
    height: int
    page_found: bool
    page_quad: tuple[tuple[int, int], ...] | None  # 4 corners when the page outline is a quadrilateral
    coverage: float  # page area / frame area
    touches_edge: bool  # the page runs into the frame border: part of it is probably cut off
    brightness: float  # median grey level of the page (of the frame when no page is found)
    dark_fraction: float  # page pixels at or below DARK
    clipped_fraction: float  # page pixels at or above SATURATED
    glare_fraction: float  # page area covered by saturated blobs, as a fraction of the page
    blur_sigma: float | None  # edge blur sigma in native pixels at the 75th-percentile sharp tile
    stroke_px: float  # expected pen-stroke width in native pixels (from the page's size)
    blur_ratio: float | None  # blur beyond pixel sampling / stroke_px; None when no tile holds ink
    tiles: int  # tiles that held ink
    ink_contrast: float | None  # (paper - ink) / paper on the inkiest tiles, 0..1; None when no tile was measured
    jpeg_quality: float | None  # estimated JPEG quality (1..~85) the frame was saved at; None: no sign of JPEG
    ms: float
    washed_share: float | None = None  # share of the page's text cells washed out by light; None: no page or text

    def to_dict(self) -> dict:
        return {
            "page_found": self.page_found,
            "coverage": round(self.coverage, 3),
            "touches_edge": self.touches_edge,
            "brightness": round(self.brightness, 1),
            "clipped_fraction": round(self.clipped_fraction, 4),
            "glare_fraction": round(self.glare_fraction, 4),
            "blur_sigma": None if self.blur_sigma is None else round(self.blur_sigma, 2),
            "stroke_px": round(self.stroke_px, 2),
            "blur_ratio": None if self.blur_ratio is None else round(self.blur_ratio, 3),
            "ink_contrast": None if self.ink_contrast is None else round(self.ink_contrast, 3),
            "washed_share": None if self.washed_share is None else round(self.washed_share, 3),
            "jpeg_quality": None if self.jpeg_quality is None else round(self.jpeg_quality, 1),
        }


def run_checks(image_bgr: np.ndarray, search: np.ndarray | None = None) -> Checks:
    """Run every check on one BGR (or grey) uint8 frame.

    The page outline, exposure and glare are read on the frame's small copy, the one the
    preprocessing's tile search reads (preprocess.search_copy): ``search`` when the caller made it
    already, so a frame is shrunk once per assessment.
    """
    start = time.perf_counter()
    height, width = image_bgr.shape[:2]
    # Only the small copy and the chosen tiles are converted to grey: a full-frame conversion
    # would cost as much as all the rest.
    small = _grey(search_copy(image_bgr) if search is None else search)
    scale = small.shape[1] / width
    mask, contour = find_page(small)
    page_found = contour is not None
    histogram = cv2.calcHist([small], [0], mask if page_found else None, [256], [0, 256]).ravel()
    total = max(float(histogram.sum()), 1.0)
    brightness = float(np.searchsorted(np.cumsum(histogram), total / 2))  # the median grey level
    clipped = float(histogram[SATURATED:].sum()) / total
    dark = float(histogram[: DARK + 1].sum()) / total
    glare = glare_fraction(small, mask, brightness) if page_found else 0.0
    quad, touches, coverage = None, False, 0.0
    if page_found:
        coverage = float(np.count_nonzero(mask)) / mask.size
        touches = touches_border(contour, small.shape)
        quad = page_corners(contour, 1.0 / scale)
    sigma, tiles, ink_contrast = native_sharpness(image_bgr, small, mask if page_found else None, scale)
    # Stroke scale from the page's size: a pen stroke is about 1/350 of a page's width (0.6 mm on
    # A4). Unlike a stroke width measured on the ink, this does not grow as blur smears the ink.
    page_width = page_width_px(quad) if quad is not None else float(width)
    stroke = max(page_width / PAGE_WIDTH_IN_STROKES, 1.0)
    ratio = None if sigma is None else math.sqrt(max(sigma**2 - SAMPLING_SIGMA**2, 0.0)) / stroke
    return Checks(
        width=width, height=height, page_found=page_found, page_quad=quad, coverage=coverage,
        touches_edge=touches, brightness=brightness, dark_fraction=dark, clipped_fraction=clipped,
        glare_fraction=glare, blur_sigma=sigma, stroke_px=stroke, blur_ratio=ratio, tiles=tiles,
        ink_contrast=ink_contrast, jpeg_quality=jpeg_quality(image_bgr),
        washed_share=washed_text_share(image_bgr, mask) if page_found else None,
        ms=(time.perf_counter() - start) * 1000.0,
    )


def find_page(small: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The largest bright region (paper) of a small grey frame: its filled mask and contour.

    Paper is the brightest large thing in a prescription capture, so Otsu's threshold separates
    it from the desk; closing fills the dark text back in. A region under 8% of the frame is not
    taken for a page.
    """
    blurred = cv2.GaussianBlur(small, (5, 5), 0)
    _, bright = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7))
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, kernel)
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    mask = np.zeros_like(small)
    if not contours:
        return mask, None
    contour = max(contours, key=cv2.contourArea)
    if cv2.contourArea(contour) < 0.08 * small.size or not small.any():
        return mask, None
    cv2.drawContours(mask, [contour], -1, 255, thickness=cv2.FILLED)
    return mask, contour


def page_corners(contour: np.ndarray, factor: float) -> tuple[tuple[int, int], ...]:
    """Four corners of the page in native pixels: the polygon fit when it has four, else the
    minimum-area rectangle."""
    perimeter = cv2.arcLength(contour, True)
    approx = cv2.approxPolyDP(contour, 0.02 * perimeter, True).reshape(-1, 2)
    points = approx if len(approx) == 4 else cv2.boxPoints(cv2.minAreaRect(contour))
    return tuple((round(float(x) * factor), round(float(y) * factor)) for x, y in points)


def page_width_px(quad: tuple[tuple[int, int], ...]) -> float:
    """The page's shorter side, in native pixels (a portrait page seen rotated is still a page)."""
    rect = cv2.minAreaRect(np.array(quad, dtype=np.float32))
    return float(min(rect[1]))


def touches_border(contour: np.ndarray, shape: tuple[int, int], margin: int = 2) -> bool:
    """True when a stretch of the page outline (over 10% of a side) lies along the frame border."""
    height, width = shape
    points = contour.reshape(-1, 2)
    xs, ys = points[:, 0], points[:, 1]
    for on_edge, side in (
        (xs <= margin, height), (xs >= width - 1 - margin, height),
        (ys <= margin, width), (ys >= height - 1 - margin, width),
    ):
        along = ys[on_edge] if side == height else xs[on_edge]
        if along.size >= 2 and float(along.max() - along.min()) > 0.1 * side:
            return True
    return False


def glare_fraction(small: np.ndarray, mask: np.ndarray, paper: float) -> float:
    """Saturated blobs inside the page, as a fraction of the page area.

    Glare is a blob clearly brighter than the paper around it: on a page whose median is already
    near saturation (white paper in strong light) clipped areas are exposure, not glare. Single
    clipped pixels are noise; a blob must span at least 1% of the page to count.
    """
    if paper >= SATURATED - GLARE_CONTRAST:
        return 0.0
    page_area = max(int(np.count_nonzero(mask)), 1)
    saturated = ((cv2.blur(small, (3, 3)) >= SATURATED) & (mask > 0)).astype(np.uint8)
    if not saturated.any():
        return 0.0
    count, _, stats, _ = cv2.connectedComponentsWithStats(saturated, connectivity=8)
    areas = stats[1:count, cv2.CC_STAT_AREA]
    return float(areas[areas >= 0.01 * page_area].sum()) / page_area


def washed_text_share(image: np.ndarray, mask: np.ndarray) -> float | None:
    """The share of the page's text cells that light has washed out (see the module doc); None when
    fewer than four cells hold text. ``mask`` is the page on the small copy."""
    height, width = image.shape[:2]
    # Shrunk by a whole factor, to a long side near WASHED_LONG_SIDE (683..1536 px): a box average
    # by a whole factor costs a fifth of an arbitrary one, and a 720p frame is read as it is.
    factor = max(1, round(max(height, width) / WASHED_LONG_SIDE))
    size = (max(1, width // factor), max(1, height // factor))
    grey = _grey(image)  # grey first: one channel to shrink, not three
    if factor > 1:
        grey = cv2.resize(grey[: size[1] * factor, : size[0] * factor], size, interpolation=cv2.INTER_AREA)
    page = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    x, y, w, h = cv2.boundingRect(page)
    cell_h, cell_w = h // WASHED_GRID, w // WASHED_GRID
    if cell_h < 2 or cell_w < 2:
        return None

    def cells(plane: np.ndarray) -> np.ndarray:  # (GRID * GRID, pixels of a cell), row by row
        box = plane[y:y + cell_h * WASHED_GRID, x:x + cell_w * WASHED_GRID]
        return box.reshape(WASHED_GRID, cell_h, WASHED_GRID, cell_w).swapaxes(1, 2).reshape(WASHED_GRID**2, -1)

    # Only cells wholly inside the page: one over the outline would read the desk as ink.
    inside = cells(grey)[cells(page).min(axis=1) > 0]
    if len(inside) == 0:
        return None
    # The 2nd and 90th percentiles of every cell from its histogram (a sort would cost 5x more).
    counts = np.cumsum([cv2.calcHist([row[None, :]], [0], None, [256], [0, 256]).ravel() for row in inside], axis=1)
    pixels = counts[:, -1:]
    ink = np.argmax(counts >= 0.02 * pixels, axis=1).astype(np.float64)
    paper = np.argmax(counts >= 0.9 * pixels, axis=1).astype(np.float64)
    contrast = (paper - ink) / np.maximum(paper, 1.0)
    text = contrast >= TEXT_CONTRAST
    if text.sum() < 4:
        return None
    lifted = paper >= min(float(SATURATED), float(np.median(paper)) + WASHED_LIFT)
    return float(np.count_nonzero(text & (contrast < WASHED_CONTRAST) & lifted)) / float(text.sum())


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def native_sharpness(
    image: np.ndarray, small: np.ndarray, mask: np.ndarray | None, scale: float
) -> tuple[float | None, int, float | None]:
    """Edge sigma (native pixels) on the inkiest full-resolution tiles of the page, how many tiles
    held ink, and the ink's relative contrast on those tiles.

    Tiles are chosen on the small copy (highest grey-level spread, wholly inside the page), then
    measured at native resolution. The tile at the 75th percentile of sharpness stands for the
    page: the best tile can be a lucky edge, the median may sit in a region with less ink or out
    of the depth of field. Contrast is read on every chosen tile, even one too faint for a blur
    measure: faint ink is what it looks for. Its 75th percentile stands for the page, so one bold
    logo cannot vouch for washed-out text and one blank tile cannot condemn a page.
    """
    height, width = image.shape[:2]
    tile = max(48, round(max(height, width) / 25))
    rows, cols = height // tile, width // tile
    if rows == 0 or cols == 0:
        return None, 0, None
    # Per-tile statistics of the small copy, all at once: the mean of a resize is a box average.
    crop = small[: max(1, int(rows * tile * scale)), : max(1, int(cols * tile * scale))].astype(np.float32)
    mean = cv2.resize(crop, (cols, rows), interpolation=cv2.INTER_AREA)
    spread = cv2.resize(crop * crop, (cols, rows), interpolation=cv2.INTER_AREA) - mean * mean
    if mask is not None:
        # A pixel in from the outline: on the small copy a tile over the page's own edge (paper
        # against desk, the highest spread there is) can still read as wholly inside it.
        core = cv2.erode(mask[: crop.shape[0], : crop.shape[1]], np.ones((3, 3), np.uint8))
        inside = cv2.resize(core, (cols, rows), interpolation=cv2.INTER_AREA)
        spread[inside < 250] = -1.0
    order = np.argsort(spread, axis=None)[::-1][:MAX_TILES]
    sigmas, contrasts = [], []
    for flat in order:
        if spread.flat[flat] <= 0:
            break
        r, c = divmod(int(flat), cols)
        patch = _grey(image[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile])
        ink, paper = tile_levels(patch)
        contrasts.append((paper - ink) / max(paper, 1.0))
        sigma = tile_sigma(patch, paper - ink)
        if sigma is not None:
            sigmas.append(sigma)
    contrast = float(np.percentile(contrasts, 75)) if contrasts else None
    if not sigmas:
        return None, 0, contrast
    sigmas.sort()
    return float(sigmas[math.floor(0.25 * (len(sigmas) - 1))]), len(sigmas), contrast  # 75th pct of sharpness


def tile_levels(patch: np.ndarray) -> tuple[float, float]:
    """(ink, paper) grey levels of one native tile: its 0.5th and 99.5th percentiles."""
    flat = patch.reshape(-1)
    k = max(1, flat.size // 200)  # by partial sort
    ordered = np.partition(flat, (k, flat.size - 1 - k))
    return float(ordered[k]), float(ordered[flat.size - 1 - k])


def tile_sigma(patch: np.ndarray, contrast: float) -> float | None:
    """The blur sigma of the edges in one native tile of ink-to-paper ``contrast`` (grey levels);
    None when it holds no ink."""
    if contrast < MIN_TILE_RANGE:
        return None
    values = patch.astype(np.float32)
    gx = cv2.Sobel(values, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(values, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = cv2.magnitude(gx, gy)[1:-1, 1:-1].reshape(-1) / 8.0  # /8: Sobel's gain on a ramp
    j = magnitude.size - 1 - max(1, magnitude.size // 200)
    peak = float(np.partition(magnitude, j)[j])
    if peak <= 0:
        return None
    return contrast / (math.sqrt(2 * math.pi) * peak)
