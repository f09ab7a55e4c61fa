"""Procedural surfaces and non-document scenes, all vectorised (no per-pixel Python).

Backgrounds are what a page lies on (wood, cloth, tiles, floor, clutter); junk scenes are frames
with no document at all (textures, objects, skin, floors, screens, outdoor-ish scenes). Most are
drawn at half resolution and upscaled: the fine detail a camera would resolve comes back from the
sensor-noise step, and it halves the cost.
"""

from __future__ import annotations

import cv2
import numpy as np


def _smooth_noise(rng: np.random.Generator, width: int, height: int, cells: int) -> np.ndarray:
    """Value noise in about [-1, 1]: a coarse random grid, bicubically upsampled."""
    gw = max(2, cells)
    gh = max(2, round(cells * height / max(width, 1)))
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)


def _fractal(
    rng: np.random.Generator, width: int, height: int, octaves: int = 4, base: int = 4
) -> np.ndarray:
    out = np.zeros((height, width), np.float32)
    amp = 1.0
    for i in range(octaves):
        out += amp * _smooth_noise(rng, width, height, base * 2**i)
        amp *= 0.5
    return out / 1.9


def _colorise(field: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Map a [-1, 1] field onto a colour ramp through a 256-entry lookup table (fast, uint8)."""
    index = np.clip(field * 127.5 + 128.0, 0, 255).astype(np.uint8)
    t = np.linspace(0, 1, 256, dtype=np.float32)[:, None]
    lut = np.clip(low[None, :] * (1 - t) + high[None, :] * t, 0, 255).astype(np.uint8).reshape(256, 1, 3)
    return cv2.LUT(cv2.merge([index, index, index]), lut)


def _rand_color(rng: np.random.Generator, lo: int = 30, hi: int = 230) -> np.ndarray:
    """A muted colour: real desks, cloths and floors are rarely saturated."""
    grey = rng.uniform(lo, hi)
    saturation = rng.uniform(0.1, 0.55)
    hue = rng.uniform(lo, hi, 3)
    return (grey + saturation * (hue - grey)).astype(np.float32)


def wood(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    angle = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    warp = _fractal(rng, width, height, 3, 3) * rng.uniform(10, 40)
    period = rng.uniform(6, 22)
    rings = np.sin((u + warp) / period * 2 * np.pi) * 0.6 + _smooth_noise(rng, width, height, 40) * 0.25
    base = np.array([rng.uniform(20, 70), rng.uniform(60, 110), rng.uniform(110, 190)], np.float32)
    base = base * rng.uniform(0.5, 1.15)  # dark walnut to pale pine
    return _colorise(rings, base * 0.65, base * 1.15)


def cloth(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    period = rng.uniform(2.5, 6)
    weave = np.sin(xx / period * np.pi) * np.sin(yy / period * np.pi)
    folds = _fractal(rng, width, height, 3, 2)
    color = _rand_color(rng)
    field = 0.25 * weave + 0.6 * folds
    if rng.random() < 0.4:  # checked / striped fabric
        stripe = (np.sin(xx / rng.uniform(15, 50)) > 0.3).astype(np.float32)
        other = _rand_color(rng)
        img = color[None, None, :] * (1 - stripe[..., None]) + other[None, None, :] * stripe[..., None]
        return img * (1 + 0.15 * field[..., None])
    return color[None, None, :] * (1 + 0.2 * field[..., None])


def tiles(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    size = rng.uniform(40, 160)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    grout = ((xx % size) < 3) | ((yy % size) < 3)
    color = _rand_color(rng, 80, 240)
    cell = (np.floor(xx / size) + np.floor(yy / size) * 7) % 3
    img = color[None, None, :] * (0.94 + 0.04 * cell[..., None])
    img = img * (1 + 0.06 * _fractal(rng, width, height, 3, 8)[..., None])
    img[grout] = color * 0.55
    return img


def floor(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Speckled stone / terrazzo / carpet."""
    speck = cv2.GaussianBlur(rng.standard_normal((height, width), dtype=np.float32), (0, 0), 0.8)
    field = 0.5 * _fractal(rng, width, height, 4, 6) + rng.uniform(0.2, 0.6) * speck
    return _colorise(field, _rand_color(rng, 20, 120), _rand_color(rng, 100, 230))


def clutter(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A desk: a surface with random boxes, discs and pens in soft shading."""
    surfaces = (wood, cloth, floor)
    img = surfaces[int(rng.integers(len(surfaces)))](rng, width, height).copy()
    for _ in range(int(rng.integers(4, 14))):
        color = tuple(float(c) for c in _rand_color(rng, 10, 245))
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        s = int(rng.uniform(0.04, 0.25) * max(width, height))
        shape = rng.integers(3)
        if shape == 0:
            box = cv2.boxPoints(((cx, cy), (s, s * rng.uniform(0.3, 1.0)), rng.uniform(0, 180)))
            cv2.fillConvexPoly(img, box.astype(np.int32), color, cv2.LINE_AA)
        elif shape == 1:
            cv2.circle(img, (cx, cy), s // 2, color, -1, cv2.LINE_AA)
        else:
            end = (cx + int(s * np.cos(rng.uniform(0, 6.3))), cy + int(s * np.sin(rng.uniform(0, 6.3))))
            cv2.line(img, (cx, cy), end, color, max(2, s // 12), cv2.LINE_AA)
    return img


def skin(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    tone = np.array([rng.uniform(60, 170), rng.uniform(90, 190), rng.uniform(130, 235)], np.float32)
    field = 0.6 * _fractal(rng, width, height, 4, 3) + 0.1 * rng.standard_normal((height, width)).astype(
        np.float32
    )
    img = tone[None, None, :] * (1 + 0.15 * field[..., None])
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for _ in range(int(rng.integers(0, 4))):  # finger / palm creases
        a, c = rng.uniform(-1, 1), rng.uniform(0, height)
        line = np.abs(yy - (a * xx + c)) < rng.uniform(1, 3)
        img[line] *= 0.8
    return img


def screen(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A monitor or phone photographed: dark bezel, bright panel of UI blocks, moire stripes."""
    img = np.full((height, width, 3), rng.uniform(10, 40), np.float32)
    x0, y0 = int(width * rng.uniform(0.02, 0.2)), int(height * rng.uniform(0.02, 0.2))
    x1, y1 = int(width * rng.uniform(0.8, 0.98)), int(height * rng.uniform(0.8, 0.98))
    img[y0:y1, x0:x1] = _rand_color(rng, 150, 255)
    for _ in range(int(rng.integers(3, 12))):
        bx, by = rng.integers(x0, x1), rng.integers(y0, y1)
        bw, bh = int(rng.uniform(0.05, 0.4) * width), int(rng.uniform(0.02, 0.15) * height)
        cv2.rectangle(
            img,
            (int(bx), int(by)),
            (int(min(bx + bw, x1)), int(min(by + bh, y1))),
            tuple(float(c) for c in _rand_color(rng)),
            -1,
        )
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    moire = np.sin((xx * rng.uniform(-0.3, 0.3) + yy) / rng.uniform(2, 5)) * rng.uniform(5, 20)
    return img + moire[..., None]


def outdoor(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Sky, a horizon, ground and a few building blocks."""
    horizon = int(height * rng.uniform(0.3, 0.7))
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    sky_top, sky_low = _rand_color(rng, 150, 255), _rand_color(rng, 180, 255)
    img = np.broadcast_to(sky_top * (1 - yy) + sky_low * yy, (height, width, 3)).copy()
    ground = floor(rng, width, height - horizon)
    img[horizon:] = ground
    for _ in range(int(rng.integers(2, 8))):
        bx = int(rng.integers(0, width))
        bw, bh = int(rng.uniform(0.05, 0.3) * width), int(rng.uniform(0.1, 0.5) * height)
        cv2.rectangle(
            img, (bx, horizon - bh), (bx + bw, horizon), tuple(float(c) for c in _rand_color(rng)), -1
        )
    return img


def blank_paper(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A hard negative: a sheet (or card, envelope back) with no writing, on a surface."""
    surfaces = (wood, cloth, floor, tiles)
    img = surfaces[int(rng.integers(len(surfaces)))](rng, width, height)
    img = np.clip(img, 0, 255).astype(np.uint8)
    side = rng.uniform(0.5, 0.9) * min(width, height)
    box = cv2.boxPoints(
        (
            (width * rng.uniform(0.35, 0.65), height * rng.uniform(0.35, 0.65)),
            (side, side * rng.uniform(0.7, 1.5)),
            rng.uniform(-30, 30),
        )
    )
    tint = rng.uniform(200, 250) + rng.uniform(-10, 10, 3)
    cv2.fillConvexPoly(img, box.astype(np.int32), tuple(float(v) for v in tint), cv2.LINE_AA)
    return img


BACKGROUNDS = {"wood": wood, "cloth": cloth, "tiles": tiles, "floor": floor, "clutter": clutter}
JUNK_SCENES = {
    "wood": wood,
    "cloth": cloth,
    "tiles": tiles,
    "floor": floor,
    "clutter": clutter,
    "skin": skin,
    "screen": screen,
    "outdoor": outdoor,
    "blank_paper": blank_paper,
}


def draw_surface(rng: np.random.Generator, name: str, width: int, height: int) -> np.ndarray:
    """One surface of the given name at (width, height), drawn at a third of the size and upscaled
    (BGR uint8): surfaces are smooth at that scale, and it cuts their cost by nine."""
    small_w, small_h = max(8, width // 3), max(8, height // 3)
    img = JUNK_SCENES[name](rng, small_w, small_h)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)
