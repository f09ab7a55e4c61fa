"""The one preprocessing function. Training, calibration, export and the runtime all call it,
so an image means the same input tensor at every stage."""
from __future__ import annotations

import cv2
import numpy as np

RESIZE_METHODS = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR}
VIEWS = ("frame", "frame+detail", "frame+detail+edge")
MOSAIC_VIEWS = ("frame+detail", "frame+detail+edge")  # the 2x2 mosaics: an even input size

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
# frame+detail+edge: the last detail tile is the edge tile instead, a window on the frame's border
# where the most ink reaches it, cut at the same scale and reaching EDGE_OUTSIDE of its depth
# beyond the frame, filled with EDGE_FILL. Whether text runs off the frame (a cut-off page) or
# stops short of it (a whole page touching the edge: a receipt in a flatbed's corner) is a
# question of a few pixels at the border, invisible in the quarter-size frame and absent from
# tiles that go where the ink is densest; the fill marks where the frame ends.
EDGE_OUTSIDE_DIVISOR = 4  # a quarter of the edge tile lies beyond the frame
EDGE_FILL = 128
EDGE_SIDES = ("top", "bottom", "left", "right")  # the order ties are broken in
_INK_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
# Where the tiles go, the black-hat's dark thin strokes count in full only on paper: a pixel whose
# ground (the 5x5 closing) is at least PAPER_SHARE of the frame's paper level (the closing's
# PAPER_PERCENTILE) and whose ground colour (the 5x5 dilation of each channel) is grey enough:
# the largest channel at least PAPER_CHROMA_DIVISOR times the spread between channels. Elsewhere
# the response counts 1 / 2**OFF_PAPER_SHIFT: a carpet's fibres or a wooden table's grain answer
# the black-hat more strongly than a faint pencil page does, and sent every detail tile there,
# but a frame with no paper at all (a close-up of coloured card, a cat) still gets its tiles
# where the strokes are.
PAPER_PERCENTILE = 90
PAPER_SHARE = (3, 4)  # numerator, denominator: integers, so the web port compares exactly
PAPER_CHROMA_DIVISOR = 3
OFF_PAPER_SHIFT = 4


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
    if view in MOSAIC_VIEWS and (height % 2 or width % 2):
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

    view "frame+detail+edge": the same mosaic with two detail tiles, and bottom right the edge
    tile (see edge_window): the frame's border where the most ink reaches it, a quarter of the
    tile beyond the frame filled with EDGE_FILL grey.

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
    if view in MOSAIC_VIEWS:
        image_bgr = _frame_and_detail(image_bgr, height, width, interpolation,
                                      search_copy(image_bgr) if search is None else search,
                                      edge=view == "frame+detail+edge")
    elif image_bgr.shape[:2] != (height, width):
        image_bgr = cv2.resize(image_bgr, (width, height), interpolation=interpolation)
    return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)


def mirror_input(model_input: np.ndarray, view: str) -> np.ndarray:
    """``model_input`` (H, W, 3) as training's flip augmentation mirrors it: the whole input left to
    right, or with a mosaic view each of the four tiles in place, so the whole-frame tile stays top
    left. A model trained on such mirrored copies is scored on both (ModelMetadata.mirror_average)."""
    height, width = model_input.shape[:2]
    if view in MOSAIC_VIEWS:
        tiles = model_input.reshape(2, height // 2, 2, width // 2, -1)
        return np.ascontiguousarray(tiles[:, :, :, ::-1]).reshape(model_input.shape)
    return np.ascontiguousarray(model_input[:, ::-1])


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
                      search: np.ndarray, edge: bool = False) -> np.ndarray:
    tile_h, tile_w = height // 2, width // 2
    mosaic = np.empty((height, width, 3), dtype=np.uint8)
    # From the search copy rather than the full frame: the same box average, at a fraction of the cost.
    mosaic[:tile_h, :tile_w] = cv2.resize(search, (tile_w, tile_h), interpolation=interpolation)
    corners = [(0, tile_w), (tile_h, 0), (tile_h, tile_w)]
    ink = ink_response(search)
    windows = detail_windows(image_bgr.shape[:2], search, (tile_h, tile_w),
                             DETAIL_TILES - 1 if edge else DETAIL_TILES, ink=ink)
    crops = [image_bgr[y:y + h, x:x + w] for y, x, h, w in windows]
    if edge:
        window = edge_window(image_bgr.shape[:2], search, (tile_h, tile_w), ink=ink)
        crops.append(edge_crop(image_bgr, window))
    for (top, left), crop in zip(corners, crops):
        h, w = crop.shape[:2]
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


def ink_response(search_bgr: np.ndarray) -> np.ndarray:
    """Where the detail and edge tiles look for text (float32, search-copy pixels): the black-hat
    (dark strokes thinner than a few pixels on a lighter ground), in full on paper and
    1 / 2**OFF_PAPER_SHIFT of it elsewhere (paper_mask)."""
    grey = cv2.cvtColor(search_bgr, cv2.COLOR_BGR2GRAY)
    closed = cv2.morphologyEx(grey, cv2.MORPH_CLOSE, _INK_KERNEL)
    ink = closed - grey  # the black-hat: the closing is never below the image
    weighted = np.where(paper_mask(search_bgr, closed), ink, ink >> OFF_PAPER_SHIFT)
    return weighted.astype(np.float32)


def paper_mask(search_bgr: np.ndarray, closed: np.ndarray) -> np.ndarray:
    """True where the search copy's ground looks like paper: bright for this frame and grey.

    ``closed`` is the grey copy's 5x5 closing (the ground under thin dark strokes). The paper
    level is the smallest closing value that PAPER_PERCENTILE percent of the pixels do not exceed.
    """
    counts = np.cumsum(np.bincount(closed.ravel(), minlength=256))
    level = int(np.searchsorted(counts * 100, PAPER_PERCENTILE * closed.size))
    numerator, denominator = PAPER_SHARE
    bright = closed.astype(np.int32) * denominator >= level * numerator
    # Channel by channel with OpenCV: numpy's max over the colour axis costs more than all the rest.
    blue, green, red = cv2.split(cv2.dilate(search_bgr, _INK_KERNEL))
    top = cv2.max(cv2.max(blue, green), red)
    spread = cv2.subtract(top, cv2.min(cv2.min(blue, green), red))
    grey_enough = spread.astype(np.int32) * PAPER_CHROMA_DIVISOR <= top
    return bright & grey_enough


def _window_size(frame_hw: tuple[int, int], tile_hw: tuple[int, int]) -> tuple[int, int]:
    """A tile's size at DETAIL_LONG_SIDE scale, in frame pixels (never more than the frame)."""
    scale = max(frame_hw) / DETAIL_LONG_SIDE  # frame pixels per detail pixel
    return (max(1, min(frame_hw[0], round(tile_hw[0] * scale))),
            max(1, min(frame_hw[1], round(tile_hw[1] * scale))))


def detail_windows(frame_hw: tuple[int, int], search_bgr: np.ndarray, tile_hw: tuple[int, int],
                   count: int = DETAIL_TILES,
                   ink: np.ndarray | None = None) -> list[tuple[int, int, int, int]]:
    """(y, x, height, width) in frame pixels of the ``count`` detail windows, strongest first.

    A window is a tile's size at DETAIL_LONG_SIDE scale. Its strength is the mean
    ink_response (dark thin strokes, in full on paper: see paper_mask) of the
    search copy inside it; windows are taken greedily without overlap, and may overlap only when
    the frame is too small to hold them apart. Blur, shake and JPEG blocking at frame scale barely
    show at search scale, so the windows stay on the text of a degraded page too.
    """
    frame_h, frame_w = frame_hw
    win_h, win_w = _window_size(frame_hw, tile_hw)
    ink = ink_response(search_bgr) if ink is None else ink
    to_search = search_bgr.shape[0] / frame_h
    box_h = max(1, min(ink.shape[0], round(win_h * to_search)))
    box_w = max(1, min(ink.shape[1], round(win_w * to_search)))
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


def edge_window(frame_hw: tuple[int, int], search_bgr: np.ndarray, tile_hw: tuple[int, int],
                ink: np.ndarray | None = None) -> tuple[int, int, int, int]:
    """(y, x, height, width) in frame pixels of the edge tile's window, which reaches beyond the
    frame: y or x is negative for the top or left side, y + height or x + width passes the frame
    for the bottom or right.

    The window is a detail window (a tile's size at DETAIL_LONG_SIDE scale) laid across one side
    of the frame with its outer quarter (1 / EDGE_OUTSIDE_DIVISOR, rounded down) beyond it. Where:
    the side and place whose strip along the border, that quarter deep, holds the most ink per
    search pixel (ink_response): where text is cut when a page runs off the frame. Ties go to the
    first side in EDGE_SIDES order, then to the first place along it.
    """
    frame_h, frame_w = frame_hw
    win_h, win_w = _window_size(frame_hw, tile_hw)
    ink = ink_response(search_bgr) if ink is None else ink
    search_h, search_w = ink.shape
    to_search = search_h / frame_h
    integral = cv2.integral(ink)
    best = None
    for side in EDGE_SIDES:
        horizontal = side in ("top", "bottom")
        along, deep = (win_w, win_h) if horizontal else (win_h, win_w)
        span, across = (search_w, search_h) if horizontal else (search_h, search_w)
        box = max(1, min(span, round(along * to_search)))
        depth = max(1, min(across, round(deep * to_search) // EDGE_OUTSIDE_DIVISOR))
        near, far = (0, depth) if side in ("top", "left") else (across - depth, across)
        # sums[k]: the ink in the strip's box starting k search pixels along the side.
        if horizontal:
            sums = integral[far, box:] - integral[far, :-box] - integral[near, box:] + integral[near, :-box]
        else:
            sums = integral[box:, far] - integral[:-box, far] - integral[box:, near] + integral[:-box, near]
        place = int(np.argmax(sums))
        strength = float(sums[place]) / (box * depth)
        if best is None or strength > best[0]:
            best = (strength, side, place)
    _, side, place = best
    if side in ("top", "bottom"):
        outside = win_h // EDGE_OUTSIDE_DIVISOR
        x = min(max(0, round(place / to_search)), frame_w - win_w)
        return (-outside if side == "top" else frame_h - win_h + outside), x, win_h, win_w
    outside = win_w // EDGE_OUTSIDE_DIVISOR
    y = min(max(0, round(place / to_search)), frame_h - win_h)
    return y, (-outside if side == "left" else frame_w - win_w + outside), win_h, win_w


def edge_crop(image_bgr: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels of a window that may reach beyond the frame, what lies beyond filled with EDGE_FILL."""
    y, x, h, w = window
    frame_h, frame_w = image_bgr.shape[:2]
    top, left = max(0, -y), max(0, -x)
    bottom, right = max(0, y + h - frame_h), max(0, x + w - frame_w)
    inside = image_bgr[y + top:y + h - bottom, x + left:x + w - right]
    return cv2.copyMakeBorder(inside, top, bottom, left, right, cv2.BORDER_CONSTANT,
                              value=(EDGE_FILL, EDGE_FILL, EDGE_FILL))
