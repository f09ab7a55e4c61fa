"""The one preprocessing function. Training, calibration, export and the runtime all call it,
so an image means the same input tensor at every stage."""
from __future__ import annotations

import cv2
import numpy as np

RESIZE_METHODS = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR}
VIEWS = ("frame", "frame+detail")

# frame+detail: the frame is judged at two scales at once. A 160 px squash of a 12 MP photo
# leaves text a pixel tall, so a blurred, shaken or blocky page looks exactly like a sharp one;
# three tiles cut at this scale (the frame's long side brought to 1024 px, where a page's text
# is ~8-15 px tall) show the strokes themselves.
DETAIL_LONG_SIDE = 1024
DETAIL_TILES = 3
# The frame's one small copy (search_copy): where the detail tiles go is decided on it, so choosing
# costs little, and the runtime's quick checks (page outline, exposure, glare) read the same copy,
# so a frame is shrunk once.
SEARCH_LONG_SIDE = 256


def resize_problem(resize: str) -> str | None:
    """Why ``resize`` is not a resampler preprocess() knows, or None."""
    if resize not in RESIZE_METHODS:
        return f"resize must be one of {', '.join(RESIZE_METHODS)}, got {resize!r}"
    return None


def view_problem(view: str, height: int, width: int) -> str | None:
    """Why ``view`` cannot make an input of ``height`` x ``width``, or None when it can.

    The one check behind the model spec, the training config, the metadata and preprocess().
    """
    if view not in VIEWS:
        return f"unknown view {view!r}; choose from {', '.join(VIEWS)}"
    if view == "frame+detail" and (height % 2 or width % 2):
        return f"the {view} view needs an even input size, got {height}x{width}"
    return None


def preprocess(image_bgr: np.ndarray, input_size: tuple[int, int] | int, resize: str = "area",
               view: str = "frame", search: np.ndarray | None = None) -> np.ndarray:
    """BGR uint8 frame -> RGB uint8 array of shape (height, width, 3) for the model.

    view "frame": the whole frame is squashed to the input size, never cropped: a capture missing
    its page edges must look that way to the model. INTER_AREA averages when shrinking, which is
    what a camera preview of a high-resolution frame looks like; the backbone's own normalisation
    lives inside the model graph, so raw pixels go in.

    view "frame+detail": a 2x2 mosaic. Top left, the whole frame squashed to a quarter of the
    input; the other three quarters, the three windows with the most ink-like detail, cut at
    DETAIL_LONG_SIDE scale (see detail_windows), strongest first in reading order of the tiles.

    ``search``: the frame's search_copy when the caller already made it (the runtime shares it with
    the checks); the result is the same either way.
    """
    if isinstance(input_size, int):
        input_size = (input_size, input_size)
    height, width = input_size
    image_bgr = as_bgr(image_bgr)
    try:
        interpolation = RESIZE_METHODS[resize]
    except KeyError:
        raise ValueError(f"unknown resize method {resize!r}; choose from {sorted(RESIZE_METHODS)}") from None
    problem = view_problem(view, height, width)
    if problem:
        raise ValueError(problem)
    if view == "frame+detail":
        image_bgr = _frame_and_detail(image_bgr, height, width, interpolation,
                                      search_copy(image_bgr) if search is None else search)
    elif image_bgr.shape[:2] != (height, width):
        image_bgr = cv2.resize(image_bgr, (width, height), interpolation=interpolation)
    return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)


def as_bgr(image: np.ndarray) -> np.ndarray:
    """A grey, BGR or BGRA uint8 frame as BGR; anything else is refused."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image, got shape {image.shape}")
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {image.dtype}")
    return image


def search_copy(image_bgr: np.ndarray) -> np.ndarray:
    """The frame's one small BGR copy (long side SEARCH_LONG_SIDE, INTER_AREA), made once per frame
    and read by both the detail-tile search and the runtime's quick checks."""
    return shrink_long_side(as_bgr(image_bgr), SEARCH_LONG_SIDE)


def _frame_and_detail(image_bgr: np.ndarray, height: int, width: int, interpolation: int,
                      search: np.ndarray) -> np.ndarray:
    tile_h, tile_w = height // 2, width // 2
    mosaic = np.empty((height, width, 3), dtype=np.uint8)
    # From the search copy rather than the full frame: the same box average, at a fraction of the cost.
    mosaic[:tile_h, :tile_w] = cv2.resize(search, (tile_w, tile_h), interpolation=interpolation)
    corners = [(0, tile_w), (tile_h, 0), (tile_h, tile_w)]
    for (top, left), (y, x, h, w) in zip(corners, detail_windows(image_bgr.shape[:2], search, (tile_h, tile_w))):
        crop = image_bgr[y:y + h, x:x + w]
        shrinking = h >= tile_h and w >= tile_w
        mosaic[top:top + tile_h, left:left + tile_w] = cv2.resize(
            crop, (tile_w, tile_h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return mosaic


def shrink_long_side(image: np.ndarray, long_side: int) -> np.ndarray:
    """The image shrunk (INTER_AREA) so its long side is ``long_side``; a smaller image as it is."""
    scale = long_side / max(image.shape[:2])
    if scale >= 1:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def detail_windows(frame_hw: tuple[int, int], search_bgr: np.ndarray, tile_hw: tuple[int, int],
                   count: int = DETAIL_TILES) -> list[tuple[int, int, int, int]]:
    """(y, x, height, width) in frame pixels of the ``count`` detail windows, strongest first.

    A window is a tile's size at DETAIL_LONG_SIDE scale. Its strength is the mean black-hat
    response (dark strokes thinner than a few pixels on a lighter ground: ink on paper) of the
    search copy inside it; windows are taken greedily without overlap, and may overlap only when
    the frame is too small to hold them apart. Blur, shake and JPEG blocking at frame scale barely
    show at search scale, so the windows stay on the text of a degraded page too.
    """
    frame_h, frame_w = frame_hw
    scale = max(frame_hw) / DETAIL_LONG_SIDE  # frame pixels per detail pixel
    win_h = max(1, min(frame_h, round(tile_hw[0] * scale)))
    win_w = max(1, min(frame_w, round(tile_hw[1] * scale)))
    grey = cv2.cvtColor(search_bgr, cv2.COLOR_BGR2GRAY)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    ink = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel).astype(np.float32)
    to_search = search_bgr.shape[0] / frame_h
    box_h = max(1, min(grey.shape[0], round(win_h * to_search)))
    box_w = max(1, min(grey.shape[1], round(win_w * to_search)))
    # strength[i, j]: the ink summed over the box whose top-left corner is search pixel (i, j).
    integral = cv2.integral(ink)
    strength = (integral[box_h:, box_w:] - integral[:-box_h, box_w:] - integral[box_h:, :-box_w]
                + integral[:-box_h, :-box_w])
    free = np.ones(strength.shape, dtype=bool)
    taken = np.zeros(strength.shape, dtype=bool)
    windows = []
    for _ in range(count):
        candidates = np.where(free, strength, -np.inf)
        if not np.isfinite(candidates).any():  # no room left apart: overlapping beats repeating one
            candidates = np.where(taken, -np.inf, strength) if not taken.all() else strength
        i, j = np.unravel_index(int(np.argmax(candidates)), candidates.shape)
        free[max(0, i - box_h + 1):i + box_h, max(0, j - box_w + 1):j + box_w] = False
        taken[i, j] = True
        y = min(max(0, round(i / to_search)), frame_h - win_h)
        x = min(max(0, round(j / to_search)), frame_w - win_w)
        windows.append((y, x, win_h, win_w))
    return windows
