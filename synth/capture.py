"""One synthetic capture: a document photographed on a surface, with graded defects.

`render_capture(seed, defects, kind, size)` is the public entry point. This module composes the
scene (page, surface, light, pose, thumb, glare, cut-off); the dataset mix is mix.py, the camera
(optics, exposure, noise, JPEG) camera.py, the severity scales physics.py. Everything random about a
capture comes from generators keyed by (seed, stream), each consumed in a fixed order:

- MIX: which kind of frame and which defects at what severities (only when not given),
- SCENE / PAGE / SURFACE: the page content, pose, surface, light, colour cast, camera,
- DEFECT: where a glare lands, which way the hand shakes, which side is cut off,
- NOISE: the sensor noise pattern.

So `render_capture(s, {"defocus": 0.3})` and `render_capture(s, {"defocus": 0.7})` show the same
page in the same place under the same light, differing only in focus: twins for label tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from nima_edge.runtime.defects import DEFECTS

from . import scene
from .camera import blur, camera, encode_jpeg, motion_blur
from .mix import (
    DEFECT,
    KINDS,
    PAGE,
    SCENE,
    SURFACE,
    SynthError,
    sample_mix,
    stream_rng,
    validate_defects,
)
from .page import DOCUMENT_KINDS, page_format, render_page
from .physics import (
    cutoff_fraction,
    defocus_sigma,
    expose,
    exposure_gain,
    exposure_veil,
    glare_core_fraction,
    glare_intensity,
    jpeg_quality_for,
    lowres_factor,
    motion_length,
    noise_gain,
)

# Of document frames: the page fills the frame edge to edge, as a scanner or a phone held close
# sees it (half of them scans: the frame has the page's own shape, flat and square-on). Without
# them every good training page floats on a desk, and the model learnt "no desk around it" as
# "cut off": it refused one clean scan in four (studies/scan_check.py).
FILL_SHARE = 0.25


@dataclass(frozen=True)
class CaptureInfo:
    """What was rendered, in the physical terms the label formula reads (see labels.py)."""

    seed: int
    kind: str
    defects: dict[str, float]  # every name in DEFECTS -> severity 0..1 (0 = absent)
    width: int
    height: int
    handwritten: bool = False
    page_coverage: float = 0.0  # fraction of the frame covered by (the visible part of) the page
    page_in_frame: float = 1.0  # fraction of the page inside the frame
    char_height_px: float = 0.0  # cap height of the body text in capture pixels
    effective_char_px: float = 0.0  # the same after the low-resolution defect
    blur_px: float = 0.0  # total blur std dev in capture pixels (optics+defocus+motion+resampling)
    contrast: float = 0.0  # ink-to-paper luminance difference after exposure, 0..1
    paper_level: float = 0.0  # paper luminance after exposure, 0..1
    noise: float = 0.0  # sensor noise std dev, 0..1 units
    glare_fraction: float = 0.0  # fraction of the page washed out by glare
    shadow_depth: float = 0.0  # darkest light loss over the page, 0..1
    jpeg_quality: int = 90
    base_quality: float = 1.0  # the scene's own small imperfections (0.9..1)
    source: str = ""  # the --junk-dir file a user_junk frame came from
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class _Scene:
    """Every scene-level random choice, drawn up front in a fixed order."""

    width: int
    height: int
    kind: str
    handwritten: bool
    size_mm: tuple[float, float]
    coverage: float
    angle: float
    tilt: np.ndarray
    centre: tuple[float, float]
    surface: str
    junk_scene: str
    light: np.ndarray
    shadow: np.ndarray
    cast: np.ndarray
    optics_blur: float
    noise: float
    jpeg_quality: int
    exposure_jitter: float
    thumb: np.ndarray  # [present?, edge, position along it, size, tone, angle]
    fit_margin: float = 0.97  # the page's span as a fraction of the frame's, at most (fills: up to 1.02)


def _draw_scene(seed: int, kind: str, size: int | None) -> _Scene:
    rng = stream_rng(seed, SCENE)
    long_side = int(rng.integers(1200, 2001))
    if size is not None:
        long_side = int(size)
    portrait = rng.random() < 0.75
    aspect = (4 / 3) if rng.random() < 0.8 else (16 / 9)
    short = round(long_side / aspect)
    width, height = (short, long_side) if portrait else (long_side, short)
    size_mm = page_format(rng, kind) if kind in DOCUMENT_KINDS else (210.0, 297.0)
    handwritten = bool(rng.random() < (0.65 if kind == "prescription" else 1.0))
    if kind in ("receipt", "letter"):
        handwritten = False
    coverage = float(rng.uniform(0.30, 0.95))
    angle = float(rng.normal(0, 6)) if rng.random() < 0.8 else float(rng.uniform(-35, 35))
    if rng.random() < 0.15:
        angle += 90.0  # page turned sideways in the frame
    tilt = rng.uniform(-1, 1, (4, 2)) * rng.uniform(0.0, 0.07)
    centre = (float(rng.uniform(0.4, 0.6)), float(rng.uniform(0.4, 0.6)))
    surface = list(scene.BACKGROUNDS)[int(rng.integers(len(scene.BACKGROUNDS)))]
    junk_scene = list(scene.JUNK_SCENES)[int(rng.integers(len(scene.JUNK_SCENES)))]
    light = rng.uniform(-1, 1, 6)
    shadow = rng.uniform(0, 1, 6)
    cast = rng.uniform(-1, 1, 3)
    optics_blur = float(rng.uniform(0.4, 0.9))
    noise = float(rng.uniform(1.0, 3.5)) / 255.0
    jpeg_quality = int(rng.integers(78, 96))
    exposure_jitter = float(rng.uniform(-0.08, 0.08))
    thumb = rng.uniform(0, 1, 6)
    fit_margin = 0.97
    # Drawn last, so every capture without it keeps the scene it had before fills existed.
    fill = rng.random(4)
    if kind in DOCUMENT_KINDS and fill[0] < FILL_SHARE:
        # Up to 2% past the frame: a scanner's crop or a phone held that close clips the blank
        # margin, which the label counts (page_in_frame) but barely.
        fit_margin = float(0.985 + 0.035 * fill[1])
        coverage = 2.0  # larger than the frame: _page_quad fits it to the margin
        angle = float(rng.normal(0, 0.8))
        tilt = tilt * 0.15
        centre = (0.5, 0.5)
        if fill[2] < 0.5:  # a scan: the frame takes the page's shape and orientation
            page_w, page_h = size_mm if size_mm[0] <= size_mm[1] else size_mm[::-1]
            width, height = round(long_side * page_w / page_h), long_side
            thumb = np.ones(6)  # no hand in a scanner
        elif (width > height) != (size_mm[0] > size_mm[1]):
            angle += 90.0  # held close, the phone turns with the page
    return _Scene(
        width,
        height,
        kind,
        handwritten,
        size_mm,
        coverage,
        angle,
        tilt,
        centre,
        surface,
        junk_scene,
        light,
        shadow,
        cast,
        optics_blur,
        noise,
        jpeg_quality,
        exposure_jitter,
        thumb,
        fit_margin,
    )


def _page_quad(sc: _Scene, page_w: float, page_h: float) -> np.ndarray:
    """Corners (TL, TR, BR, BL) of the page in the frame: rotated, tilted, fitted inside."""
    rect = np.array(
        [
            [-page_w / 2, -page_h / 2],
            [page_w / 2, -page_h / 2],
            [page_w / 2, page_h / 2],
            [-page_w / 2, page_h / 2],
        ],
        np.float64,
    )
    rect += sc.tilt * np.array([page_w, page_h])
    a = np.deg2rad(sc.angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    quad = rect @ rot.T
    # Shrink until the page fits with a small margin, then place it near the chosen centre.
    span = quad.max(0) - quad.min(0)
    fit = min(1.0, sc.fit_margin * sc.width / span[0], sc.fit_margin * sc.height / span[1])
    quad *= fit
    span = quad.max(0) - quad.min(0)
    lo = -quad.min(0)
    hi = np.array([sc.width, sc.height]) - quad.max(0)
    want = np.array([sc.centre[0] * sc.width, sc.centre[1] * sc.height])
    # A page wider than the frame (an overscanned fill) is centred: it overhangs both sides alike.
    return quad + np.where(lo <= hi, np.clip(want, lo, hi), (lo + hi) / 2)


def _area_inside(quad: np.ndarray, width: int, height: int) -> float:
    frame = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    area, _ = cv2.intersectConvexConvex(quad.astype(np.float32), frame)
    return float(area)


def _cut_off(quad: np.ndarray, sc: _Scene, fraction: float, direction: float) -> np.ndarray:
    """Slide the page out of frame along `direction` until `fraction` of it is outside."""
    if fraction <= 0:
        return quad
    total = abs(cv2.contourArea(quad.astype(np.float32)))
    step = np.array([np.cos(direction), np.sin(direction)])
    lo, hi = 0.0, 2.0 * max(sc.width, sc.height)
    for _ in range(30):
        mid = (lo + hi) / 2
        outside = 1 - _area_inside(quad + step * mid, sc.width, sc.height) / total
        lo, hi = (mid, hi) if outside < fraction else (lo, mid)
    return quad + step * hi


def _illumination(
    sc: _Scene, width: int, height: int, quad: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Uneven light at 1/8 resolution: a gradient, vignetting and a soft shadow of a hand or phone.

    Returns the light field and the shadow depth over the page (1 - darkest/median light on it).
    """
    sw, sh = max(8, width // 8), max(8, height // 8)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    xx /= sw
    yy /= sh
    lt = sc.light
    gain = 1.0 + 0.12 * lt[0] * (xx - 0.5) + 0.12 * lt[1] * (yy - 0.5)
    gain *= 1.0 - 0.25 * (0.5 + 0.5 * lt[2]) * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2)
    s = sc.shadow
    if s[0] < 0.55:  # a soft shadow blob entering the frame
        depth = 0.1 + 0.3 * s[1]
        blob = np.zeros((sh, sw), np.float32)
        axes = (int(sw * (0.15 + 0.35 * s[4])), int(sh * (0.1 + 0.3 * s[5])))
        cv2.ellipse(blob, (int(s[2] * sw), int(s[3] * sh)), axes, float(s[5] * 180), 0, 360, 1.0, -1)
        blob = cv2.GaussianBlur(blob, (0, 0), max(sw, sh) * 0.06)
        gain *= 1.0 - depth * blob
    gain = gain.astype(np.float32)
    depth_on_page = 0.0
    if quad is not None:
        page = np.zeros((sh, sw), np.uint8)
        cv2.fillConvexPoly(page, np.round(quad / 8).astype(np.int32), 1)
        values = gain[page > 0]
        if values.size:
            depth_on_page = float(max(0.0, 1.0 - values.min() / max(float(np.median(values)), 1e-3)))
    return gain, depth_on_page


def render_capture(
    seed: int,
    defects: dict[str, float] | None = None,
    kind: str | None = None,
    size: int | None = None,
    junk_image: np.ndarray | None = None,
    source: str = "",
) -> tuple[np.ndarray, CaptureInfo]:
    """Render capture `seed`: a BGR uint8 photo (already through its JPEG) and its CaptureInfo.

    With `defects` and `kind` left None the dataset's mix decides them; pass them to make twins
    ("the same page with defect X at severity s"). `size` sets the long side in pixels (default
    1200..2000 drawn per seed). Kind "user_junk" needs `junk_image` (a BGR photo).
    """
    data, info = render_capture_jpeg(seed, defects, kind, size, junk_image, source)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return image, info


def render_capture_jpeg(
    seed: int,
    defects: dict[str, float] | None = None,
    kind: str | None = None,
    size: int | None = None,
    junk_image: np.ndarray | None = None,
    source: str = "",
) -> tuple[bytes, CaptureInfo]:
    """As render_capture, but returns the JPEG file bytes (what the dataset writes)."""
    mix_kind, mix_defects = sample_mix(seed)
    if kind is None:
        kind = mix_kind
        if defects is None:
            defects = mix_defects
    if kind not in KINDS:
        raise SynthError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    if size is not None and not 64 <= int(size) <= 8000:
        raise SynthError(f"size {size} is outside 64..8000 pixels")
    full = validate_defects(defects)
    if kind in ("junk", "user_junk"):
        if kind == "user_junk" and junk_image is None:
            raise SynthError("kind 'user_junk' needs a junk_image")
        return _render_junk(seed, kind, size, junk_image, source)
    return _render_document(seed, kind, full, size)




def _gain3(field_small: np.ndarray, width: int, height: int, cast: np.ndarray | None = None) -> np.ndarray:
    """A smooth low-resolution light field (0..~2) as a full-size 3-channel uint8 fixed-point map,
    for cv2.multiply(..., scale=1/128), times a per-channel colour cast. Quantised and upsampled
    in uint8: it is smooth, and this is several times cheaper than float maths at full resolution."""
    g = cv2.resize(
        np.clip(field_small * 128.0 + 0.5, 0, 255).astype(np.uint8),
        (width, height),
        interpolation=cv2.INTER_LINEAR,
    )
    if cast is None:
        return cv2.merge([g, g, g])
    return cv2.merge(
        [cv2.LUT(g, np.clip(np.round(np.arange(256) * k), 0, 255).astype(np.uint8)) for k in cast]
    )


THUMB_SHARE = 0.2  # of document frames: the page is held in a hand, a thumb over its margin


def _draw_thumb(frame: np.ndarray, quad: np.ndarray, draws: np.ndarray) -> None:
    """A thumb holding the page: a shaded skin-toned ellipse straddling one edge, in the margin.

    It covers only the outer few millimetres (where pages have no text), so the label ignores it.
    """
    edge = int(draws[1] * 4) % 4
    a, b = quad[edge], quad[(edge + 1) % 4]
    t = 0.2 + 0.6 * draws[2]
    point = a * (1 - t) + b * t
    side = float(np.linalg.norm(b - a))
    along = (b - a) / max(side, 1e-6)
    outward = np.array([along[1], -along[0]])
    centre = quad.mean(0)
    if np.dot(point - centre, outward) < 0:
        outward = -outward
    scale = np.sqrt(abs(cv2.contourArea(quad.astype(np.float32))))
    # Long axis along `outward`: the thumb points into the page and its tip reaches ~4% across it.
    axes = (scale * (0.09 + 0.03 * draws[3]), scale * (0.045 + 0.015 * draws[3]))
    centre_px = point + outward * axes[0] * 0.55
    h, w = frame.shape[:2]
    angle = float(np.degrees(np.arctan2(outward[1], outward[0])))
    tone = np.array([60 + 80 * draws[4], 90 + 80 * draws[4], 130 + 90 * draws[4]])
    reach = axes[0] * 1.3
    x0, y0 = (max(0, int(v - reach)) for v in centre_px)
    x1, y1 = min(w, int(centre_px[0] + reach)), min(h, int(centre_px[1] + reach))
    if x1 <= x0 or y1 <= y0:
        return
    roi = frame[y0:y1, x0:x1]
    local = centre_px - np.array([x0, y0])

    def blob(centre: np.ndarray, size: tuple[float, float]) -> np.ndarray:
        mask = np.zeros(roi.shape[:2], np.float32)
        axes_px = (max(1, int(size[0])), max(1, int(size[1])))
        cv2.ellipse(mask, (int(centre[0]), int(centre[1])), axes_px, angle, 0, 360, 1.0, -1, cv2.LINE_AA)
        return mask

    finger = blob(local, axes)
    shade = cv2.GaussianBlur(finger, (0, 0), max(1.0, axes[1] * 0.35))  # rounder in the middle
    nail = cv2.GaussianBlur(
        blob(local - outward * axes[0] * 0.55, (axes[0] * 0.35, axes[1] * 0.6)), (0, 0), 1.0
    )
    skin = tone[None, None, :] * (0.7 + 0.35 * shade[..., None])
    skin = skin * (1 - 0.6 * nail[..., None]) + np.array([200.0, 205.0, 235.0]) * 0.6 * nail[..., None]
    mask = cv2.GaussianBlur(finger, (0, 0), 1.0)[..., None]
    roi[:] = np.clip(roi * (1 - mask) + skin * mask, 0, 255).astype(np.uint8)


def _warp_into_frame(
    page: np.ndarray, M: np.ndarray, quad: np.ndarray, width: int, height: int
) -> np.ndarray:
    """warpPerspective of the page into a frame-sized canvas, computed over the page's bounding box only."""
    x0, y0 = (max(0, int(np.floor(v)) - 1) for v in quad.min(0))
    x1, y1 = min(width, int(np.ceil(quad[:, 0].max())) + 2), min(height, int(np.ceil(quad[:, 1].max())) + 2)
    frame = np.zeros((height, width, 3), np.uint8)
    if x1 <= x0 or y1 <= y0:
        return frame
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
    # Replicated border, so the anti-aliased mask (not a black fringe) decides the page edge.
    frame[y0:y1, x0:x1] = cv2.warpPerspective(
        page, shift @ M, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return frame


def _render_document(
    seed: int, kind: str, defects: dict[str, float], size: int | None
) -> tuple[bytes, CaptureInfo]:
    sc = _draw_scene(seed, kind, size)
    d_draws = stream_rng(seed, DEFECT).uniform(0, 1, 8)
    if not sc.handwritten:
        defects = {**defects, "scrawl": 0.0}
    W, H = sc.width, sc.height
    # Page size in pixels from the coverage target, then the pose.
    pw_mm, ph_mm = sc.size_mm
    area = sc.coverage * W * H
    page_w = np.sqrt(area * pw_mm / ph_mm)
    page_h = area / page_w
    quad = _page_quad(sc, page_w, page_h)
    scale = np.sqrt(abs(cv2.contourArea(quad.astype(np.float32))) / (page_w * page_h))
    page_w, page_h = page_w * scale, page_h * scale
    page = render_page(
        stream_rng(seed, PAGE),
        kind,
        sc.size_mm,
        round(max(page_w, page_h)),
        defects["scrawl"],
        handwritten=sc.handwritten,
    )
    ph_px, pw_px = page.image.shape[:2]
    char_px = page.char_height * (max(page_w, page_h) / max(pw_px, ph_px))
    quad = _cut_off(quad, sc, cutoff_fraction(defects["incomplete"]), d_draws[0] * 2 * np.pi)
    # Compose in uint8 (4x less memory traffic than float): surface with the page's drop shadow,
    # the page warped into place through an anti-aliased mask, then uneven light.
    surface = scene.draw_surface(stream_rng(seed, SURFACE), sc.surface, W, H)
    src = np.array([[0, 0], [pw_px, 0], [pw_px, ph_px], [0, ph_px]], np.float32)
    M = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    warped = _warp_into_frame(page.image, M, quad, W, H)
    mask = np.zeros((H, W), np.uint8)
    cv2.fillConvexPoly(mask, np.round(quad * 16).astype(np.int32), 255, cv2.LINE_AA, 4)
    light_small, shadow_depth = _illumination(sc, W, H, quad)
    lh, lw = light_small.shape
    small_mask = cv2.resize(mask, (lw, lh), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    drop = np.roll(cv2.GaussianBlur(small_mask, (0, 0), max(W, H) * 0.006 / 8 + 0.5), (1, 1), (0, 1))
    surface = cv2.multiply(surface, cv2.merge([255 - mask] * 3), scale=1 / 255)
    warped = cv2.multiply(warped, cv2.merge([mask] * 3), scale=1 / 255)
    cast = 1.0 + 0.06 * sc.cast
    surface = cv2.multiply(surface, _gain3(light_small * (1.0 - 0.35 * drop), W, H, cast), scale=1 / 128)
    frame = cv2.add(surface, cv2.multiply(warped, _gain3(light_small, W, H, cast), scale=1 / 128))
    if sc.thumb[0] < THUMB_SHARE:
        _draw_thumb(frame, quad, sc.thumb)
    alpha = mask
    in_frame = _area_inside(quad, W, H)
    page_area = abs(cv2.contourArea(quad.astype(np.float32)))
    glare_fraction = 0.0
    if defects["glare"] > 0:
        frame, glare_fraction = apply_glare(frame, alpha, quad, defects["glare"], d_draws[1:4])
    # Optics: base blur, defocus, hand shake.
    sigma = float(np.hypot(sc.optics_blur, defocus_sigma(defects["defocus"], char_px)))
    frame = blur(frame, sigma)
    streak = motion_length(defects["motion"], char_px)
    if streak >= 1.5:
        frame = motion_blur(frame, streak, d_draws[4] * np.pi)
    # Sensor: exposure, cast, noise; resolution; JPEG.
    gain = exposure_gain(defects["underexposed"], defects["overexposed"], sc.exposure_jitter)
    veil = exposure_veil(defects["overexposed"])
    noise_sigma = sc.noise * noise_gain(defects["underexposed"])
    factor = lowres_factor(defects["lowres"], char_px)
    if factor < 0.999:
        small = cv2.resize(
            frame, (max(8, int(W * factor)), max(8, int(H * factor))), interpolation=cv2.INTER_AREA
        )
        image = camera(small, seed, gain, veil, noise_sigma)
        image = cv2.resize(image, (W, H), interpolation=cv2.INTER_LINEAR)
    else:
        image = camera(frame, seed, gain, veil, noise_sigma)
    quality = jpeg_quality_for(defects["jpeg"], sc.jpeg_quality)
    data = encode_jpeg(image, quality)
    paper = expose(page.paper_bgr, gain, veil)
    ink = expose(page.ink_bgr, gain, veil)
    resample_blur = 0.5 / factor if factor < 0.999 else 0.0
    motion_std = streak / np.sqrt(12.0)
    info = CaptureInfo(
        seed=seed,
        kind=kind,
        defects=dict(defects),
        width=W,
        height=H,
        handwritten=sc.handwritten,
        page_coverage=in_frame / (W * H),
        page_in_frame=min(1.0, in_frame / max(page_area, 1.0)),
        char_height_px=float(char_px),
        effective_char_px=float(char_px * factor),
        blur_px=float(np.sqrt(sigma**2 + motion_std**2 + resample_blur**2)),
        contrast=float(max(paper - ink, 0.0)),
        paper_level=float(paper),
        noise=float(noise_sigma),
        glare_fraction=float(glare_fraction),
        shadow_depth=shadow_depth,
        jpeg_quality=quality,
        base_quality=float(1.0 - 0.04 * abs(sc.exposure_jitter) / 0.08),
    )
    return data, info


def apply_glare(
    frame: np.ndarray, alpha: np.ndarray, quad: np.ndarray, severity: float, draws: np.ndarray
) -> tuple[np.ndarray, float]:
    """A specular spot on the page: a saturated core (text gone) in a soft halo.

    Computed on a quarter-resolution grid (it is smooth), measured there, then upsampled.
    """
    H, W = alpha.shape
    sw, sh = max(8, W // 4), max(8, H // 4)
    small_alpha = cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    page_small = max(float((small_alpha > 0.5).sum()), 1.0)
    page_area = page_small * (W / sw) * (H / sh)
    # Centre: a point inside the page (bilinear mix of its corners).
    u, v = 0.2 + 0.6 * draws[0], 0.2 + 0.6 * draws[1]
    top = quad[0] * (1 - u) + quad[1] * u
    bottom = quad[3] * (1 - u) + quad[2] * u
    cx, cy = top * (1 - v) + bottom * v
    core_r = np.sqrt(glare_core_fraction(severity) * page_area / np.pi) * (0.9 + 0.2 * draws[2])
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    d = np.hypot(xx * (W / sw) - cx, yy * (H / sh) - cy)
    halo_r = core_r * 1.8 + 10
    strength = np.clip(1.0 - (d - core_r) / (halo_r - core_r), 0, 1) ** 2
    strength = np.where(d < core_r, 1.0, strength).astype(np.float32) * glare_intensity(severity)
    strength = cv2.GaussianBlur(strength, (0, 0), max(1.0, core_r / (W / sw) / 12 + 0.5))
    # Washed out: the added light lifts ink to within ~15% of the paper, so the text is gone.
    washed = float(((strength > 0.75) & (small_alpha > 0.5)).sum()) / page_small
    add = cv2.resize(
        np.clip(strength * 255.0, 0, 255).astype(np.uint8), (W, H), interpolation=cv2.INTER_LINEAR
    )
    add = cv2.multiply(add, alpha, scale=1 / 255)  # sharp page edge: glare is on the paper only
    return cv2.add(frame, cv2.merge([add, add, add])), washed


def _fit_junk_image(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Cover-crop a user photo to the frame size."""
    h, w = image.shape[:2]
    s = max(width / w, height / h)
    resized = cv2.resize(
        image,
        (max(width, round(w * s)), max(height, round(h * s))),
        interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
    )
    y0 = (resized.shape[0] - height) // 2
    x0 = (resized.shape[1] - width) // 2
    return resized[y0 : y0 + height, x0 : x0 + width]


def _render_junk(
    seed: int, kind: str, size: int | None, junk_image: np.ndarray | None, source: str
) -> tuple[bytes, CaptureInfo]:
    sc = _draw_scene(seed, kind, size)
    W, H = sc.width, sc.height
    if kind == "user_junk":
        frame = _fit_junk_image(junk_image, W, H)
    else:
        frame = scene.draw_surface(stream_rng(seed, SURFACE), sc.junk_scene, W, H)
        light, _ = _illumination(sc, W, H)
        frame = cv2.multiply(frame, _gain3(light, W, H, 1.0 + 0.06 * sc.cast), scale=1 / 128)
        frame = blur(frame, sc.optics_blur * 1.5)
    image = camera(frame, seed, 1.0 + sc.exposure_jitter, 0.0, sc.noise)
    data = encode_jpeg(image, sc.jpeg_quality)
    defects = {name: 0.0 for name in DEFECTS}
    defects["not_document"] = 1.0
    info = CaptureInfo(
        seed=seed,
        kind=kind,
        defects=defects,
        width=W,
        height=H,
        page_coverage=0.0,
        page_in_frame=0.0,
        noise=sc.noise,
        jpeg_quality=sc.jpeg_quality,
        source=source,
        extra={"junk_scene": float(list(scene.JUNK_SCENES).index(sc.junk_scene))},
    )
    return data, info
