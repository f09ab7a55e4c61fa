"""Real photos as training and validation data: documents degraded under the synthetic label formula.

`nima realset SRC OUT` reads a folder of real photos (``SRC/docs/`` and ``SRC/nondocs/``, or
``SRC/manifest.csv`` with ``file, group, source_repo`` columns, as ``../shared/realdata`` has) and
writes two labelled sets in the CSV contract of `nima synth`:

* ``OUT/train/labels.csv``: every document of the training sources as it is, a slightly
  re-captured copy, a copy cropped to its text (the page filling the frame, as scanner apps
  deliver it), one against a side of the frame and one laid small on a plain ground against a side
  (a receipt in a flatbed's corner) and one laid end to end across a plain ground (a long receipt
  on a bed its own length) as clean examples, those last two again run off the frame into their
  text as cut-offs, one copy per degradation kind at a severity drawn in
  0.05..1, and one copy with two kinds at once; every non-document as it is and once more through
  a random camera defect (a noisy or blurred dog is still not a document).
* ``OUT/holdout/labels.csv``: whole sources held out (HOLDOUT_SOURCES, never random files), each
  document clean and at every kind at MILD and HEAVY severity, each non-document as it is. The
  ``group``, ``degradation``, ``level`` and ``page`` columns let `nima realcheck` report refusal
  per kind and the order of same-page pairs.

Labels come from synth.labels.usability, the formula behind every synthetic label: a degradation
is applied in the physical terms the formula reads (blur std dev against the measured character
height, exposure gain and flare on the measured paper and ink levels, sensor noise, washed-out page
fraction, fraction of the page's text out of frame (a cut-off is cropped into the text, never
just into the desk around it), JPEG quality, resolution), so "defocus 0.6" means the
same on a real receipt as on a rendered prescription. Real documents are not prescriptions and get
the formula's other-document factor. Heavy sensor noise is labelled as under-exposure: the grain
comes from low light, and "move to a brighter place" is what fixes it.

A review (``--review FILE``: a CSV of ``file, verdict, reason``, ``file`` relative to SRC and the
verdict ``exclude``) keeps photos out of both sets: photos a person looked at and found no example
of what their group claims (a receipt close-up whose text runs off the frame is not a whole page,
and a clean copy of it would teach that text running off the frame is fine). The set records the
review it was built with as ``OUT/review.csv``, so a rebuild can tell when the review changed.

Everything is keyed by (seed, file, copy), so a rebuild gives the same files whatever the number
of workers, and excluding a photo leaves every other photo's files as they were. Output images are
JPEG at quality 95 (the JPEG kind at its own quality), written under temporary names and renamed;
labels.csv is written once, atomically, at the end.
"""
from __future__ import annotations

import csv
import multiprocessing
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from nima_edge.runtime.defects import DEFECTS
from nima_edge.runtime.errors import ImageError
from nima_edge.runtime.fileio import OutputError, atomic_write_bytes, atomic_write_text
from nima_edge.runtime.images import IMAGE_SUFFIXES, load_image
from nima_edge.runtime.preprocess import shrink_long_side

from .camera import blur, camera, encode_jpeg, motion_blur
from .capture import CaptureInfo, apply_glare
from .dataset import csv_text
from .labels import label_for, usability
from .mix import SynthError
from .physics import (
    cutoff_fraction,
    defocus_sigma,
    expose,
    exposure_gain,
    exposure_veil,
    jpeg_quality_for,
    lowres_factor,
    motion_length,
    noise_gain,
)

# Degradation kinds -> the defect column (and reason) each one is labelled with.
KIND_DEFECT: dict[str, str] = {
    "defocus": "defocus",
    "motion": "motion",
    "dark": "underexposed",
    "overexposed": "overexposed",
    "glare": "glare",
    "cutoff": "incomplete",
    "noise": "underexposed",
    "jpeg": "jpeg",
    "lowres": "lowres",
}
DEGRADATIONS: tuple[str, ...] = tuple(KIND_DEFECT)
MILD, HEAVY = 0.35, 0.9  # the holdout's two severities
# Whole sources kept out of training for validation: forms (OMR sheets, phone photos and scans),
# handwritten pages (phone photos), flatbed scans; classic benchmark photos, dogs, scene text.
HOLDOUT_SOURCES: tuple[str, ...] = (
    "Udayraj123/OMRChecker",
    "Breta01/handwriting-ocr",
    "softmatic/vision-data",
    "JingyunLiang/SwinIR",
    "After-today/YoloV4-dog",
    "yddcode/yolo-keras",
)
CUTOFF_STYLES = ("strip", "corner", "closeup")
STRIP_SIDES = ("left", "right", "top", "bottom")  # the side of the text a strip cut-off takes away
MIN_GLYPHS = 30  # fewer glyphs than this: no text to place a crop in (the frame stands for the page)
TEXT_BOX_PERCENTILE = 1.0  # the text block a cut-off cuts into
TIGHT_BOX_PERCENTILE = 0.2  # the text block a tight clean crop keeps whole
TIGHT_MARGIN = (0.01, 0.08)  # a tight clean crop's margin, of the text's size
EDGE_SIDES = ("l", "t", "r", "b", "lt", "tr", "rb", "bl")  # a page touching one side of the frame, or a corner
HEAVY_SIDE = (0.4, 1.0)  # the severities of the second cut-off and glare copy: the kinds a model misses most
GROUND_SCALE = (0.35, 0.95)  # a page laid on a plain ground: its size, of the largest that fits the frame
GROUND_MARGIN = (0.02, 0.10)  # the paper kept around its text, of the text's size
SPAN_SHARE = (0.3, 0.8)  # a page spanning the frame's length on a ground: its share of the frame's breadth
PAPER_BORDER = 0.8  # the share of a page crop's border that must be paper (PAPER_LEVEL of its level) for it
PAPER_LEVEL = 0.7   # to be laid on a ground: lets shading through, not a tilted page's desk corners
# Plain grounds a page is scanned or photographed on (BGR, 0..255): a scanner's white lid, grey and
# beige card, a dark lid-less scanner, a dark desk mat.
GROUNDS = ((235, 235, 232), (200, 200, 198), (150, 165, 180), (120, 125, 130), (45, 45, 48), (25, 28, 30))
REVIEW_COLUMNS = ("file", "verdict", "reason")
REVIEW_VERDICTS = ("exclude",)
SAVE_QUALITY = 95
# Low resolution as a resampler leaves it is soft; as a digital zoom, an enlarged thumbnail or another
# library's downscale (albumentations' Downscale) leaves it, blocky: each pixel repeated k x k, its
# block edges as sharp as print. The default makes none blocky (the shipped model's training copies).
BLOCKY_SHARE = 0.0
BLOCKY_STREAM = 11  # the blocky draw's own random stream, beside each photo's copy seed
BLOCKY_RECORD = "blocky_share.txt"  # in a set built with a share: the share, so a build can tell its set
# A photo is shrunk to this long side before it is measured and copied: ../shared/realdata's size, the
# scale measure_page's glyph limits and the severities are set for. A 12-megapixel original's heavy
# sensor noise or JPEG leaves 30-px characters legible while the formula, which reads per-pixel
# noise and block size, calls the page unusable.
LONG_SIDE = 1280
OPTICS_BLUR = 0.7  # px: what a sharp real capture already carries (lens, demosaicing, the source's JPEG)
BASE_NOISE = 1.5 / 255  # a sharp real capture's own sensor noise
SENSOR_NOISE_MAX = 60 / 255  # heavy grain: SNR about 2.5 on a typical page
CLEAN_PAPER_MIN = 0.6  # a usable capture's paper luminance, at least (see _legible)
CLEAN_CONTRAST_MIN = 0.6  # and its ink's relative contrast (paper - ink) / paper
COLUMNS_EXTRA = ("group", "degradation", "level", "severity", "page", "source", "char_height_px", "usability")
VOTE_COLUMNS = tuple(f"votes_{i}" for i in range(1, 11))
COLUMNS = ("path", *VOTE_COLUMNS, "mean", "std", "kind", *(f"defect_{d}" for d in DEFECTS), *COLUMNS_EXTRA)


@dataclass(frozen=True)
class RealPhoto:
    """One real photo: where it is, whether it shows a document, and which source it came from."""

    path: str
    document: bool
    source: str
    excluded: bool = False  # a review found it no example of its group: no copies of it are made


@dataclass(frozen=True)
class Copy:
    """One image to write: a photo, what is done to it, and under which name."""

    photo: RealPhoto
    name: str  # relative to the set's folder
    seed: int
    group: str  # clean | degraded | nondoc
    kinds: tuple[tuple[str, float], ...] = ()  # (degradation, severity) applied in order
    level: str = ""  # mild | heavy (holdout only)
    margin: float | None = None  # a clean copy cropped to its text with this margin (crop_to_text)
    sides: str = "ltrb"  # which sides of the frame that crop brings in to the text (left, top, right, bottom)
    ground: float | None = None  # that page laid on a plain ground at this scale, against ``sides`` (on_ground)
    span: float | None = None  # or laid end to end across the frame, this share of its breadth (spanning_ground)
    blocky: bool = False  # a low-resolution copy brought back to size by repeating pixels, not interpolating


def read_photos(src: str | os.PathLike, review: str | os.PathLike | None = None) -> list[RealPhoto]:
    """The photos of SRC: from SRC/manifest.csv when there is one, else SRC/docs and SRC/nondocs;
    those a ``review`` excludes (read_review) marked excluded. A review that names a file SRC does
    not hold is refused: it was written for other photos, or mistyped, and would exclude nothing."""
    src = Path(src)
    manifest = src / "manifest.csv"
    photos = _from_manifest(manifest) if manifest.is_file() else _from_folders(src)
    if review is None:
        return photos
    excluded = set(read_review(review))
    relative = [Path(photo.path).relative_to(src).as_posix() for photo in photos]
    unknown = sorted(excluded - set(relative))
    if unknown:
        raise SynthError(f"{review}: {len(unknown)} of its files are not among the photos of {src} "
                         f"(e.g. {unknown[0]})")
    return [RealPhoto(p.path, p.document, p.source, name in excluded) for p, name in zip(photos, relative)]


def _from_folders(src: Path) -> list[RealPhoto]:
    photos = []
    for folder, document in (("docs", True), ("nondocs", False)):
        for path in sorted((src / folder).glob("*")) if (src / folder).is_dir() else []:
            if path.suffix.lower() in IMAGE_SUFFIXES:
                photos.append(RealPhoto(str(path), document, path.stem.rsplit("_", 1)[0]))
    if not photos:
        raise SynthError(f"{src}: no manifest.csv and no images under docs/ or nondocs/")
    return photos


def _from_manifest(manifest: Path) -> list[RealPhoto]:
    rows = _csv_rows(manifest, ("file", "group", "source_repo"))
    # "degraded" captures have no sharp counterpart and no known severity: not usable as labels.
    return [RealPhoto(str(manifest.parent / r["file"]), r["group"] == "doc", r["source_repo"])
            for r in rows if r["group"] in ("doc", "nondoc")]


def _csv_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of a CSV that SRC or the user supplies (a manifest, a review), its columns checked."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise SynthError(f"{path}: cannot read it ({exc})") from None
    missing = set(required) - set(rows[0] if rows else {})
    if missing:
        raise SynthError(f"{path}: missing columns {', '.join(sorted(missing))} (need {', '.join(required)})")
    return rows


def plan(photos: list[RealPhoto], seed: int, holdout: Iterable[str] = HOLDOUT_SOURCES,
         blocky_share: float = BLOCKY_SHARE) -> dict[str, list[Copy]]:
    """{"train": copies, "holdout": copies}: which image gets which degradations, by seed.

    ``blocky_share``: the share of training copies whose one damage is low resolution that are
    brought back to size by repeating pixels (as a digital zoom or an enlarged thumbnail shows it)
    instead of by interpolation; the holdout is never changed by it."""
    if not 0.0 <= blocky_share <= 1.0:
        raise SynthError(f"blocky share must be in [0, 1], got {blocky_share}")
    held = set(holdout)
    copies: dict[str, list[Copy]] = {"train": [], "holdout": []}
    for index, photo in enumerate(photos):
        if photo.excluded:  # its index stays taken: every other photo keeps its seeds and file names
            continue
        stem = f"{index:05d}"
        if photo.source in held:
            copies["holdout"].extend(_holdout_copies(photo, stem, _copy_seed(seed, index)))
        else:
            copies["train"].extend(_train_copies(photo, stem, _copy_seed(seed, index), blocky_share))
    return copies


def _copy_seed(seed: int, index: int) -> int:
    state = np.random.SeedSequence([int(seed), int(index), 7]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def _train_copies(photo: RealPhoto, stem: str, seed: int, blocky_share: float = BLOCKY_SHARE) -> list[Copy]:
    rng = np.random.default_rng(seed)
    if not photo.document:
        kind = DEGRADATIONS[int(rng.integers(len(DEGRADATIONS)))]
        return [Copy(photo, f"images/{stem}_0.jpg", seed, "nondoc"),
                Copy(photo, f"images/{stem}_1.jpg", seed + 1, "nondoc", ((kind, float(rng.uniform(0.05, 1))),))]
    out = [Copy(photo, f"images/{stem}_clean.jpg", seed, "clean"),
           # a second clean look: the same page through a mild camera (a little noise, a lower JPEG)
           Copy(photo, f"images/{stem}_clean2.jpg", seed + 1, "clean",
                (("noise", float(rng.uniform(0.0, 0.12))), ("jpeg", float(rng.uniform(0.0, 0.15)))))]
    # drawn apart from rng, so that every other copy keeps its draws whatever the share
    blocky = bool(np.random.default_rng([seed, BLOCKY_STREAM]).random() < blocky_share)
    for k, kind in enumerate(DEGRADATIONS):
        out.append(Copy(photo, f"images/{stem}_{kind}.jpg", seed + 2 + k, "degraded",
                        ((kind, float(rng.uniform(0.05, 1.0))),), blocky=blocky and kind == "lowres"))
    pair = rng.choice(len(DEGRADATIONS), 2, replace=False)
    kinds = tuple((DEGRADATIONS[int(i)], float(rng.uniform(0.05, 1.0))) for i in sorted(pair))
    out.append(Copy(photo, f"images/{stem}_pair.jpg", seed + 20, "degraded", kinds))
    # the page filling the frame, all its text kept: a good capture, not a cut-off
    out.append(Copy(photo, f"images/{stem}_tight.jpg", seed + 21, "clean", margin=float(rng.uniform(*TIGHT_MARGIN))))
    # the page against one or two sides of the frame, as a flatbed scan of a receipt laid in its corner
    # or a phone held close to one edge delivers it: its text whole, so still a good capture
    out.append(Copy(photo, f"images/{stem}_edge.jpg", seed + 22, "clean", margin=float(rng.uniform(*TIGHT_MARGIN)),
                    sides=EDGE_SIDES[int(rng.integers(len(EDGE_SIDES)))]))
    # the two kinds hardest to see at the model's input size get a second, heavier copy
    for k, kind in enumerate(("cutoff", "glare")):
        out.append(Copy(photo, f"images/{stem}_{kind}2.jpg", seed + 23 + k, "degraded",
                        ((kind, float(rng.uniform(*HEAVY_SIDE))),)))
    # a small page on a plain ground against the frame's sides (a receipt in a flatbed's corner) is
    # whole; the same page run off the frame into its text is cut off: the pair the model must tell apart
    ground = {"margin": float(rng.uniform(*GROUND_MARGIN)), "ground": float(rng.uniform(*GROUND_SCALE)),
              "sides": EDGE_SIDES[int(rng.integers(len(EDGE_SIDES)))]}
    out.append(Copy(photo, f"images/{stem}_ground.jpg", seed + 25, "clean", **ground))
    out.append(Copy(photo, f"images/{stem}_groundcut.jpg", seed + 26, "degraded",
                    (("cutoff", float(rng.uniform(*HEAVY_SIDE))),), **ground))
    # a long page scanned on a bed its own length touches both ends of the frame, its text whole;
    # the same page run off the frame is cut off: a page reaching the border is not cut off by itself
    spanning = {"margin": float(rng.uniform(*GROUND_MARGIN)), "span": float(rng.uniform(*SPAN_SHARE)),
                "sides": ("l", "r", "")[int(rng.integers(3))]}
    out.append(Copy(photo, f"images/{stem}_span.jpg", seed + 27, "clean", **spanning))
    out.append(Copy(photo, f"images/{stem}_spancut.jpg", seed + 28, "degraded",
                    (("cutoff", float(rng.uniform(*HEAVY_SIDE))),), **spanning))
    return out


def _holdout_copies(photo: RealPhoto, stem: str, seed: int) -> list[Copy]:
    if not photo.document:
        return [Copy(photo, f"images/{stem}.jpg", seed, "nondoc")]
    out = [Copy(photo, f"images/{stem}_clean.jpg", seed, "clean")]
    for k, kind in enumerate(DEGRADATIONS):
        for level, severity in (("mild", MILD), ("heavy", HEAVY)):
            out.append(Copy(photo, f"images/{stem}_{kind}_{level}.jpg", seed + 2 + k, "degraded",
                            ((kind, severity),), level))
    return out


# ---- measuring a real page -------------------------------------------------------------------------
@dataclass(frozen=True)
class Page:
    """What the label formula needs to know of a real capture, measured once on the clean photo."""

    char_px: float  # cap height of the text, px
    paper: float  # luminance 0..1 of the paper
    ink: float  # luminance 0..1 of the ink
    glyphs: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # (x0, y0, x1, y1) per glyph, px


def measure_page(image: np.ndarray) -> Page:
    """Character height from the ink's connected components; ink and paper levels on and around them.

    Levels are read at the text, not over the frame: a page on a dark desk has dark pixels that
    are not ink, and the formula's contrast is the ink's against the paper it is printed on.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    binary = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    heights, widths = stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_WIDTH]
    # Glyph-like blobs: a few pixels to a few dozen tall, not long rules or specks.
    is_glyph = (heights >= 4) & (heights <= 80) & (widths <= 3 * heights)
    if int(is_glyph.sum()) < MIN_GLYPHS:  # no text to measure: body text is about a hundredth of the long side
        return _legible(max(image.shape[:2]) / 100, float(np.percentile(grey, 95)) / 255,
                        float(np.percentile(grey, 2)) / 255)
    char_px = float(np.percentile(heights[is_glyph], 75))
    glyphs = np.concatenate([[False], is_glyph])[labels]
    around = cv2.dilate(glyphs.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool) & ~(binary > 0)
    ink = float(np.percentile(grey[glyphs], 10)) / 255
    paper = float(np.median(grey[around])) / 255 if around.any() else float(np.percentile(grey, 95)) / 255
    x, y = stats[1:, cv2.CC_STAT_LEFT][is_glyph], stats[1:, cv2.CC_STAT_TOP][is_glyph]
    boxes = np.stack([x, y, x + widths[is_glyph], y + heights[is_glyph]], axis=1).astype(np.float64)
    return _legible(char_px, paper, ink, boxes)


def _legible(char_px: float, paper: float, ink: float, glyphs: np.ndarray | None = None) -> Page:
    """The measured page, held to what a usable capture has: every document of the set was chosen as
    one. Measured levels are rough (a dim room, anti-aliased strokes, a coloured form's print), and
    read as they are they would label a good photo a retake before any degradation; held here,
    the degradations still move the same quantities from a sound starting point."""
    paper = float(np.clip(paper, CLEAN_PAPER_MIN, 1.0))
    ink = float(min(max(ink, 0.0), paper * (1.0 - CLEAN_CONTRAST_MIN)))
    return Page(char_px=float(np.clip(char_px, 3.0, 60.0)), paper=paper, ink=ink,
                glyphs=np.zeros((0, 4)) if glyphs is None else glyphs)


# ---- the degradations ----------------------------------------------------------------------------------
@dataclass
class State:
    """A capture being degraded, in the physical terms of synth.labels (CaptureInfo's fields)."""

    image: np.ndarray
    char_px: float
    paper: float
    ink: float
    blur_px: float = OPTICS_BLUR
    noise: float = BASE_NOISE
    gain: float = 1.0
    veil: float = 0.0
    glare_fraction: float = 0.0
    in_frame: float = 1.0  # fraction of the page's text inside the frame
    glyphs: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # the text, in this image's px
    jpeg_quality: int = SAVE_QUALITY
    resolution: float = 1.0  # the low-resolution defect's scale
    blocky: bool = False  # low resolution brought back by repeating pixels (nearest neighbour)
    defects: dict = field(default_factory=lambda: {name: 0.0 for name in DEFECTS})


def degrade(state: State, kind: str, severity: float, rng: np.random.Generator) -> State:
    """Apply one degradation kind at ``severity`` (0..1) -> the new state (image and facts)."""
    if kind not in KIND_DEFECT:
        raise SynthError(f"unknown degradation {kind!r}; choose from {', '.join(DEGRADATIONS)}")
    if severity <= 0:
        return state
    state = _APPLY[kind](state, float(severity), rng)
    column = KIND_DEFECT[kind]
    state.defects[column] = max(state.defects[column], float(severity))
    return state


def _defocus(s: State, severity: float, rng) -> State:
    sigma = defocus_sigma(severity, s.char_px)
    s.image = blur(s.image, sigma)
    s.blur_px = float(np.hypot(s.blur_px, sigma))
    return s


def _motion(s: State, severity: float, rng) -> State:
    length = motion_length(severity, s.char_px)
    if length >= 1.5:
        s.image = motion_blur(s.image, length, float(rng.uniform(0, np.pi)))
    s.blur_px = float(np.hypot(s.blur_px, length / np.sqrt(12.0)))
    return s


def _camera_curve(s: State, gain: float, veil: float, noise: float, rng) -> State:
    s.image = camera(s.image, int(rng.integers(1 << 31)), gain, veil, noise)  # nima synth's own sensor
    s.gain *= gain
    s.veil = s.veil * gain + veil
    s.noise = float(np.hypot(s.noise * gain, noise))
    return s


def _dark(s: State, severity: float, rng) -> State:
    # Low light: the scene is dimmer and the camera's gain lifts the read noise with it.
    extra_noise = BASE_NOISE * np.sqrt(max(noise_gain(severity) ** 2 - 1.0, 0.0))
    return _camera_curve(s, exposure_gain(severity, 0.0), 0.0, extra_noise, rng)


def _overexposed(s: State, severity: float, rng) -> State:
    return _camera_curve(s, exposure_gain(0.0, severity), exposure_veil(severity), 0.0, rng)


def _noise(s: State, severity: float, rng) -> State:
    return _camera_curve(s, 1.0, 0.0, SENSOR_NOISE_MAX * severity**1.2, rng)


def _glare_kind(s: State, severity: float, rng) -> State:
    h, w = s.image.shape[:2]
    alpha = np.full((h, w), 255, np.uint8)
    quad = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    s.image, washed = apply_glare(s.image, alpha, quad, severity, rng.uniform(0, 1, 3))
    s.glare_fraction = float(min(1.0, s.glare_fraction + washed))
    return s


def _cutoff(s: State, severity: float, rng) -> State:
    """Part of the page out of frame: a strip off one side, only a corner, or a close-up with no edge.

    The crop is placed in the text, not the frame: a strip of desk around a page is not part of
    the page, and cutting it off must not be called a cut-off (taught so, a page photographed
    edge to edge, as scanner apps deliver it, reads as cut off). The label counts the text left in
    frame. The crop is brought back to the frame's long side (the camera's resolution does not
    change when the page is cut off), so the text grows with the zoom, as it does when the phone is
    held closer.
    """
    h, w = s.image.shape[:2]
    style, side = cut_placement(rng)
    outside = cutoff_fraction(severity)
    bx0, by0, bx1, by1 = _text_box(s, w, h, TEXT_BOX_PERCENTILE)
    bw, bh = bx1 - bx0, by1 - by0
    x0, y0, x1, y1 = 0.0, 0.0, float(w), float(h)
    if style == "strip":  # one side of the text cut by `outside` of its extent
        if side == "left":
            x0 = bx0 + outside * bw
        elif side == "right":
            x1 = bx1 - outside * bw
        elif side == "top":
            y0 = by0 + outside * bh
        else:
            y1 = by1 - outside * bh
    elif style == "corner":  # both sides cut, a little deeper
        cut = 1.0 - np.sqrt(1.0 - min(0.9, 1.6 * outside))
        x0, x1 = (bx0 + cut * bw, x1) if rng.random() < 0.5 else (x0, bx1 - cut * bw)
        y0, y1 = (by0 + cut * bh, y1) if rng.random() < 0.5 else (y0, by1 - cut * bh)
    else:  # a close-up inside the text: no page edge at all
        scale = np.sqrt(1.0 - min(0.92, 0.35 + 1.05 * outside))
        cw, ch = scale * bw, scale * bh
        x0, y0 = bx0 + rng.uniform(0, bw - cw), by0 + rng.uniform(0, bh - ch)
        x1, y1 = x0 + cw, y0 + ch
    kept = _text_inside(s, (x0, y0, x1, y1), w, h)
    _crop_zoom(s, x0, y0, x1, y1)
    s.in_frame *= kept
    return s


def cut_placement(rng: np.random.Generator) -> tuple[str, str | None]:
    """A cut-off's first draws: its style (CUTOFF_STYLES) and, for a strip, the side of the text it
    cuts (one of STRIP_SIDES; None otherwise). Given a holdout copy's seed, a study tells which cut it got."""
    style = CUTOFF_STYLES[int(rng.integers(len(CUTOFF_STYLES)))]
    return style, STRIP_SIDES[int(rng.integers(len(STRIP_SIDES)))] if style == "strip" else None


def crop_to_text(s: State, margin: float, sides: str = "ltrb") -> State:
    """A clean page cropped to its text plus ``margin`` (of the text's size) on the given ``sides``
    (the others stay where the frame was), as a scanner app or a phone held close delivers it: the
    page fills the frame, or touches it on those sides, and nothing of its text is lost."""
    h, w = s.image.shape[:2]
    bx0, by0, bx1, by1 = _text_box(s, w, h, TIGHT_BOX_PERCENTILE)
    mx, my = margin * (bx1 - bx0), margin * (by1 - by0)
    box = (max(0.0, bx0 - mx) if "l" in sides else 0.0, max(0.0, by0 - my) if "t" in sides else 0.0,
           min(float(w), bx1 + mx) if "r" in sides else float(w), min(float(h), by1 + my) if "b" in sides else float(h))
    s.in_frame *= _text_inside(s, box, w, h)
    _crop_zoom(s, *box)
    return s


def on_ground(s: State, scale: float, sides: str, rng: np.random.Generator) -> State:
    """The capture (a page cropped to its text, see crop_to_text) laid on a plain ground in a frame
    of the same size: ``scale`` of the largest size that fits, against the frame's ``sides`` and
    anywhere along the others. The text is all in frame, so in_frame does not change; the text
    shrinks with the page. A crop whose border is not paper (a tilted page shows the desk in its
    corners) is left as it is: pasted on a ground it would be a photo in a photo, not a page."""
    if not _paper_border(s.image, s.paper):
        return s
    h, w = s.image.shape[:2]
    fit = scale * min(w / s.image.shape[1], h / s.image.shape[0])
    pw, ph = max(8, round(s.image.shape[1] * fit)), max(8, round(s.image.shape[0] * fit))
    page = cv2.resize(s.image, (pw, ph), interpolation=cv2.INTER_AREA if fit < 1 else cv2.INTER_CUBIC)
    x = 0 if "l" in sides else w - pw if "r" in sides else int(rng.integers(0, w - pw + 1))
    y = 0 if "t" in sides else h - ph if "b" in sides else int(rng.integers(0, h - ph + 1))
    return _lay_on_ground(s, page, fit, x, y, (h, w), rng)


def spanning_ground(s: State, share: float, sides: str, rng: np.random.Generator) -> State:
    """The capture (a page cropped to its text) laid end to end across a plain ground: it touches
    both ends of the frame along its long side and fills ``share`` of the frame's breadth, against
    the near ("l": left, or top for a wide page) or far ("r") side of that breadth, or anywhere
    across it (``sides`` empty). Its text is all in frame, at
    its own size. A crop whose border is not paper is left as it is (see on_ground)."""
    if not _paper_border(s.image, s.paper):
        return s
    ph, pw = s.image.shape[:2]
    tall = ph >= pw
    breadth = round((pw if tall else ph) / share)
    h, w = (ph, breadth) if tall else (breadth, pw)
    room = (w - pw) if tall else (h - ph)
    offset = 0 if "l" in sides else room if "r" in sides else int(rng.integers(0, room + 1))
    x, y = (offset, 0) if tall else (0, offset)
    return _lay_on_ground(s, s.image, 1.0, x, y, (h, w), rng)


def _lay_on_ground(s: State, page: np.ndarray, fit: float, x: int, y: int, size: tuple[int, int],
                   rng: np.random.Generator) -> State:
    """``page`` (the capture scaled by ``fit``) pasted at (x, y) on a plain ground of ``size``
    (h, w); its glyphs, character height and blur follow it."""
    canvas = _plain_ground(*size, rng)
    canvas[y:y + page.shape[0], x:x + page.shape[1]] = page
    s.image = canvas
    if len(s.glyphs):
        s.glyphs = s.glyphs * fit + np.array([x, y, x, y], np.float64)
    s.char_px *= fit
    s.blur_px *= fit
    return s


def _paper_border(image: np.ndarray, paper: float) -> bool:
    """Whether the outer band of ``image`` is paper: PAPER_BORDER of it at PAPER_LEVEL of the paper's level."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255
    band = max(2, round(0.03 * min(grey.shape)))
    ring = np.concatenate([grey[:band].ravel(), grey[-band:].ravel(), grey[:, :band].ravel(), grey[:, -band:].ravel()])
    return float(np.mean(ring > PAPER_LEVEL * paper)) >= PAPER_BORDER


def _plain_ground(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A plain surface: one of GROUNDS, a gentle light falloff and a fine card-like grain."""
    colour = np.array(GROUNDS[int(rng.integers(len(GROUNDS)))], np.float32) * rng.uniform(0.9, 1.08)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    falloff = 1.0 - rng.uniform(0.0, 0.15) * ((xx - cx) ** 2 + (yy - cy) ** 2) / float(w * w + h * h)
    grain = cv2.GaussianBlur(rng.normal(0.0, rng.uniform(2.0, 8.0), (h, w)).astype(np.float32), (0, 0), 0.8)
    ground = colour[None, None, :] * falloff[..., None] + grain[..., None]
    return np.clip(ground, 0, 255).astype(np.uint8)


def _text_box(s: State, w: int, h: int, percentile: float) -> tuple[float, float, float, float]:
    """Where the text is (glyph edges between the percentile and its complement: a speck of desk
    texture read as a glyph must not stretch it), or the whole frame when no text was found."""
    g = s.glyphs
    if len(g) < MIN_GLYPHS:
        return 0.0, 0.0, float(w), float(h)
    x0, y0 = np.percentile(g[:, 0], percentile), np.percentile(g[:, 1], percentile)
    x1, y1 = np.percentile(g[:, 2], 100 - percentile), np.percentile(g[:, 3], 100 - percentile)
    return float(x0), float(y0), float(max(x1, x0 + 8)), float(max(y1, y0 + 8))


def _text_inside(s: State, box: tuple[float, float, float, float], w: int, h: int) -> float:
    """Fraction of the text (glyph area) wholly inside ``box``; without text, of the frame's area."""
    x0, y0, x1, y1 = box
    g = s.glyphs
    if len(g) < MIN_GLYPHS:
        return float(max(x1 - x0, 0) * max(y1 - y0, 0) / (w * h))
    area = (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1])
    inside = (g[:, 0] >= x0) & (g[:, 1] >= y0) & (g[:, 2] <= x1) & (g[:, 3] <= y1)
    return float(area[inside].sum() / max(area.sum(), 1.0))


def _crop_zoom(s: State, x0: float, y0: float, x1: float, y1: float) -> None:
    """Crop to the box, bring it back to the frame's long side, and move what is measured with it."""
    h, w = s.image.shape[:2]
    ix0, iy0 = int(np.clip(round(x0), 0, w - 8)), int(np.clip(round(y0), 0, h - 8))
    ix1, iy1 = int(np.clip(round(x1), ix0 + 8, w)), int(np.clip(round(y1), iy0 + 8, h))
    crop = s.image[iy0:iy1, ix0:ix1]
    ch, cw = crop.shape[:2]
    zoom = max(h, w) / max(ch, cw)
    size = (max(8, round(cw * zoom)), max(8, round(ch * zoom)))
    s.image = cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC) if zoom > 1.001 else crop
    g = s.glyphs
    if len(g):
        inside = (g[:, 0] >= ix0) & (g[:, 1] >= iy0) & (g[:, 2] <= ix1) & (g[:, 3] <= iy1)
        s.glyphs = (g[inside] - np.array([ix0, iy0, ix0, iy0], np.float64)) * zoom
    s.char_px *= zoom
    s.blur_px *= zoom


def _jpeg(s: State, severity: float, rng) -> State:
    quality = jpeg_quality_for(severity, 90)
    data = encode_jpeg(s.image, quality)
    s.image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    s.jpeg_quality = min(s.jpeg_quality, quality)
    return s


def _lowres(s: State, severity: float, rng) -> State:
    factor = lowres_factor(severity, s.char_px)
    if factor < 0.999:
        h, w = s.image.shape[:2]
        small = cv2.resize(s.image, (max(8, int(w * factor)), max(8, int(h * factor))), interpolation=cv2.INTER_AREA)
        s.image = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST if s.blocky else cv2.INTER_LINEAR)
        s.blur_px = float(np.hypot(s.blur_px, 0.5 / factor))
    s.resolution *= factor
    return s


_APPLY: dict[str, Callable[[State, float, np.random.Generator], State]] = {
    "defocus": _defocus, "motion": _motion, "dark": _dark, "overexposed": _overexposed, "glare": _glare_kind,
    "cutoff": _cutoff, "noise": _noise, "jpeg": _jpeg, "lowres": _lowres,
}


def capture_info(state: State, seed: int, document: bool) -> CaptureInfo:
    """The state as the CaptureInfo that synth.labels.usability reads."""
    if not document:
        defects = {name: 0.0 for name in DEFECTS}
        defects["not_document"] = 1.0
        return CaptureInfo(seed=seed, kind="user_junk", defects=defects, width=state.image.shape[1],
                           height=state.image.shape[0], page_in_frame=0.0)
    paper = expose((state.paper,) * 3, state.gain, state.veil)
    ink = expose((state.ink,) * 3, state.gain, state.veil)
    return CaptureInfo(
        seed=seed, kind="real_document", defects=dict(state.defects), width=state.image.shape[1],
        height=state.image.shape[0], page_in_frame=state.in_frame, char_height_px=state.char_px,
        effective_char_px=state.char_px * state.resolution, blur_px=state.blur_px,
        contrast=max(paper - ink, 0.0), paper_level=paper, noise=state.noise,
        glare_fraction=state.glare_fraction, jpeg_quality=state.jpeg_quality)


def render_copy(copy: Copy, image: np.ndarray, page: Page | None) -> tuple[bytes, dict[str, str]]:
    """The JPEG bytes and the labels.csv row of one copy."""
    rng = np.random.default_rng(copy.seed)
    state = State(image=image, char_px=page.char_px if page else 10.0, paper=page.paper if page else 0.8,
                  ink=page.ink if page else 0.2, glyphs=page.glyphs if page else np.zeros((0, 4)),
                  blocky=copy.blocky)
    if copy.ground is not None:
        state = on_ground(crop_to_text(state, copy.margin or 0.0), copy.ground, copy.sides, rng)
    elif copy.span is not None:
        state = spanning_ground(crop_to_text(state, copy.margin or 0.0), copy.span, copy.sides, rng)
    elif copy.margin is not None:
        state = crop_to_text(state, copy.margin, copy.sides)
    for kind, severity in copy.kinds:
        state = degrade(state, kind, severity, rng)
    info = capture_info(state, copy.seed, copy.photo.document)
    u = usability(info)
    votes, mean, std = label_for(info)
    quality = state.jpeg_quality if any(k == "jpeg" for k, _ in copy.kinds) else SAVE_QUALITY
    data = encode_jpeg(state.image, quality)
    row = {"path": copy.name, **{c: str(int(v)) for c, v in zip(VOTE_COLUMNS, votes)},
           "mean": f"{mean:.4f}", "std": f"{std:.4f}",
           "kind": "real_document" if copy.photo.document else "real_nondocument",
           **{f"defect_{d}": f"{info.defects.get(d, 0.0):.4f}" for d in DEFECTS},
           "group": copy.group, "degradation": "+".join(k for k, _ in copy.kinds) if copy.group == "degraded" else "",
           "level": copy.level, "severity": "+".join(f"{s:.3f}" for _, s in copy.kinds),
           "page": Path(copy.photo.path).name, "source": copy.photo.source,
           "char_height_px": f"{info.char_height_px:.2f}", "usability": f"{u:.4f}"}
    return data, row


# ---- writing a set -------------------------------------------------------------------------------
def _render_photo(job: tuple[str, list[Copy]]) -> list[dict[str, str]] | str:
    """All copies of one photo (decoded and measured once) -> their rows, or why the photo is unreadable."""
    out_dir, copies = job
    try:
        image = shrink_long_side(load_image(copies[0].photo.path), LONG_SIDE)
    except ImageError as exc:
        return str(exc)
    page = measure_page(image) if copies[0].photo.document else None
    rows = []
    for copy in copies:
        data, row = render_copy(copy, image.copy(), page)
        final = Path(out_dir) / copy.name
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, final)
        rows.append(row)
    return rows


def read_review(path: str | os.PathLike) -> list[str]:
    """The files a review excludes (its ``file`` column, relative to the photos' folder).

    Every row must say ``exclude`` and give a reason: a review is a record of what was looked at
    and why, and a row without one is a mistake, not a decision."""
    path = Path(path)
    rows = _csv_rows(path, REVIEW_COLUMNS)
    for number, row in enumerate(rows, start=2):
        if row["verdict"] not in REVIEW_VERDICTS or not (row["file"] or "").strip() or not (row["reason"] or "").strip():
            raise SynthError(f"{path}: line {number}: need a file, the verdict "
                             f"{' or '.join(REVIEW_VERDICTS)} and a reason, got {row['file']!r}, {row['verdict']!r}")
    return [row["file"].strip() for row in rows]


def write_realset(src: str | os.PathLike, out: str | os.PathLike, seed: int = 0,
                  holdout: Iterable[str] = HOLDOUT_SOURCES, workers: int = 1, force: bool = False,
                  warn: Callable[[str], None] = print, review: str | os.PathLike | None = None,
                  blocky_share: float = BLOCKY_SHARE) -> dict[str, Path]:
    """Build OUT/train and OUT/holdout from the real photos of SRC -> {part: labels.csv path}.

    A photo that cannot be decoded is reported once and skipped. A part no photo goes to is not
    written: with every source held out, OUT is a holdout of new sources for `nima realcheck` alone.
    An OUT that holds a finished set is refused without ``force``. ``review``: a CSV of photos to
    leave out (read_review), copied to OUT/review.csv once the set is written (and an old copy
    removed when there is none). ``blocky_share``: see plan; a share above 0 is written to
    OUT/blocky_share.txt the same way.
    """
    out = Path(out)
    photos = read_photos(src, review)
    copies = {part: items for part, items in plan(photos, seed, holdout, blocky_share).items() if items}
    if not copies:
        raise SynthError(f"{src}: no photo to make copies of (none a doc or nondoc, or the review leaves out all)")
    done = {}
    for part, items in copies.items():
        folder = out / part
        if (folder / "labels.csv").exists() and not force:
            raise OutputError(f"{folder / 'labels.csv'}: exists (use --force to rebuild)")
        (folder / "images").mkdir(parents=True, exist_ok=True)
        by_photo: dict[str, list[Copy]] = {}
        for item in items:
            by_photo.setdefault(item.photo.path, []).append(item)
        jobs = [(str(folder), group) for group in by_photo.values()]
        rows = []
        for result in _map(jobs, workers):
            if isinstance(result, str):
                warn(f"skipping {result}")
            else:
                rows.extend(result)
        if not rows:
            raise SynthError(f"{src}: no readable photo for the {part} set")
        rows.sort(key=lambda r: r["path"])
        done[part] = atomic_write_text(folder / "labels.csv", csv_text(rows, COLUMNS), force=True)
    record = out / "review.csv"
    if review:  # byte for byte: `make model` compares the two with cmp
        atomic_write_bytes(record, Path(review).read_bytes(), force=True)
    elif record.exists():
        record.unlink()
    blocky_record = out / BLOCKY_RECORD
    if blocky_share:  # `make model` compares it with the recipe's share and rebuilds the set when they differ
        atomic_write_text(blocky_record, f"{blocky_share}\n", force=True)
    elif blocky_record.exists():
        blocky_record.unlink()
    return done


def _map(jobs: list, workers: int):
    if workers <= 1 or len(jobs) < 2:
        yield from map(_render_photo, jobs)
        return
    # spawn, not fork: a caller that already runs threads (TensorFlow's, OpenCV's) can leave a forked
    # child waiting forever on a lock one of them held.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=cv2.setNumThreads, initargs=(1,)) as pool:
        yield from pool.imap(_render_photo, jobs, chunksize=2)

