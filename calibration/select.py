"""Choosing a representative calibration set: cover the range, keep the bulk, drop near-duplicates.

int8 calibration fixes each tensor's range from the images it sees. A set of only good captures
leaves dark, blurred or glared frames outside those ranges (clipped activations, wrong scores
exactly where a retake matters); a set of only extremes wastes resolution on them. So half of
the set is chosen for coverage (farthest-point sampling in a small feature space of brightness,
contrast, sharpness and, when labels exist, the quality score) and half at random for the
proportions of the source. Near-duplicates (a 64-bit difference hash within a few bits) count once.

numpy + OpenCV only: this runs where TensorFlow is not installed.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from nima_edge.runtime.errors import ImageError, NimaError
from nima_edge.runtime.fileio import OutputError
from nima_edge.runtime.images import iter_image_paths, load_image

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# Modest: more than a `frame` view of any NIMA input (224..384) needs, a few MB for 200 JPEGs. The
# frame+detail view cuts its tiles at runtime.preprocess.DETAIL_LONG_SIDE: calibrate it with
# --long-side 1024, or its detail tiles are calibrated on up-sampled, softer text than it will see.
LONG_SIDE = 384
JPEG_QUALITY = 90
DUPLICATE_BITS = 4  # dHash Hamming distance at or below which two images count as one


class CalibrationError(NimaError):
    """A calibration source or output that cannot be used."""


@dataclass(frozen=True)
class Candidate:
    """One source image and what the selection looks at."""

    path: Path
    brightness: float  # mean luma 0..255
    contrast: float  # luma std
    sharpness: float  # log10 of the variance of the Laplacian
    dhash: int
    quality: float | None = None  # label mean, when the source has labels.csv

    def features(self, with_quality: bool) -> list[float]:
        values = [self.brightness, self.contrast, self.sharpness]
        return values + [self.quality] if with_quality and self.quality is not None else values


def describe(image_bgr: np.ndarray) -> tuple[float, float, float, int]:
    """(brightness, contrast, sharpness, dhash) of a frame, on a 256-px thumbnail for speed."""
    gray = resize_long_side(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY), 256)
    laplacian = cv2.Laplacian(gray, cv2.CV_64F)
    return float(gray.mean()), float(gray.std()), float(np.log10(laplacian.var() + 1e-6)), dhash(gray)


def dhash(gray: np.ndarray) -> int:
    """64-bit difference hash: is each of 8x8 cells brighter than its right neighbour."""
    small = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def read_label_means(source: Path) -> dict[Path, float]:
    """{image path: label mean} from SRC/labels.csv (nima synth's format) when it has path and mean."""
    labels = source / "labels.csv"
    if not labels.is_file():
        return {}
    means = {}
    with open(labels, newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        if not reader.fieldnames or not {"path", "mean"} <= set(reader.fieldnames):
            return {}
        for row in reader:
            try:
                means[(source / row["path"]).resolve()] = float(row["mean"])
            except (TypeError, ValueError):
                continue
    return means


def scan(source: Path, limit: int | None = None, seed: int = 0) -> list[Candidate]:
    """Describe the readable images under ``source``; unreadable files are skipped with a warning.

    ``limit``: look at most at that many, drawn at random (by ``seed``) from the whole folder —
    a training set of tens of thousands of captures need not be decoded to pick 200 of them.
    """
    if not source.is_dir():
        raise CalibrationError(f"{source}: not a folder of images")
    means = read_label_means(source)
    paths = list(iter_image_paths([source]))
    if limit is not None and len(paths) > limit:
        picked = np.random.default_rng(seed).choice(len(paths), size=limit, replace=False)
        paths = [paths[i] for i in sorted(picked)]
    candidates = []
    for path in paths:
        try:
            image = load_image(path)
        except ImageError as exc:
            log.warning("skipping %s", exc)
            continue
        candidates.append(Candidate(path, *describe(image), quality=means.get(path.resolve())))
    if not candidates:
        raise CalibrationError(f"{source}: no readable images")
    return candidates


def drop_near_duplicates(candidates: list[Candidate], max_bits: int = DUPLICATE_BITS) -> list[Candidate]:
    """Keep the first of every group of images whose hashes differ in ``max_bits`` bits or fewer."""
    kept: list[Candidate] = []
    for candidate in candidates:
        if all(hamming(candidate.dhash, other.dhash) > max_bits for other in kept):
            kept.append(candidate)
    return kept


def choose(candidates: list[Candidate], n: int, seed: int = 0, coverage_share: float = 0.5) -> list[Candidate]:
    """``n`` candidates: ``coverage_share`` by farthest-point sampling, the rest at random."""
    if n >= len(candidates):
        return list(candidates)
    with_quality = all(c.quality is not None for c in candidates)
    x = np.array([c.features(with_quality) for c in candidates], dtype=np.float64)
    x = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-9)
    # Start at the most ordinary image, then repeatedly take the one farthest from all chosen.
    chosen = [int(np.argmin(np.linalg.norm(x, axis=1)))]
    distance = np.linalg.norm(x - x[chosen[0]], axis=1)
    for _ in range(max(0, round(n * coverage_share) - 1)):
        nxt = int(np.argmax(distance))
        chosen.append(nxt)
        distance = np.minimum(distance, np.linalg.norm(x - x[nxt], axis=1))
    rest = np.setdiff1d(np.arange(len(candidates)), chosen)
    rng = np.random.default_rng(seed)
    chosen += rng.choice(rest, size=n - len(chosen), replace=False).tolist()
    return [candidates[i] for i in sorted(chosen)]


def resize_long_side(image: np.ndarray, long_side: int = LONG_SIDE) -> np.ndarray:
    """Shrunk so its long side is ``long_side`` px (never enlarged); a short side never rounds to
    0 px (a 32x60000 strip would, and OpenCV refuses an empty size)."""
    height, width = image.shape[:2]
    scale = long_side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_set(selected: list[Candidate], source: Path, out: Path, force: bool = False,
              settings: dict | None = None, long_side: int = LONG_SIDE) -> dict:
    """Write the chosen images (``long_side`` px at most, JPEG) and manifest.json into ``out`` at once.

    Everything goes to a hidden folder beside ``out`` that replaces it by rename, so an
    interrupted run never leaves a half-written set under the output name.
    """
    if out.exists() and not force:
        raise OutputError(f"{out}: already exists (use --force to overwrite)")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())):
        # --force replaces a calibration set, never an unrelated file or folder.
        raise OutputError(f"{out}: exists and is not a calibration set (no {MANIFEST}); refusing to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        entries = []
        for index, candidate in enumerate(selected):
            name = f"calib_{index:04d}.jpg"
            image = resize_long_side(load_image(candidate.path), long_side)
            if not cv2.imwrite(str(staging / name), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
                raise OutputError(f"{staging / name}: cannot write")
            entries.append({
                "file": name,
                "source": _relative(candidate.path, source),
                "source_sha256": file_sha256(candidate.path),
                "sha256": file_sha256(staging / name),
                "brightness": round(candidate.brightness, 2),
                "contrast": round(candidate.contrast, 2),
                "sharpness": round(candidate.sharpness, 3),
                **({"quality": round(candidate.quality, 4)} if candidate.quality is not None else {}),
            })
        manifest = {
            "count": len(entries),
            "source": str(source),
            "long_side": long_side,
            "jpeg_quality": JPEG_QUALITY,
            "selection": settings or {},
            "sha256": set_hash(entries),
            "images": entries,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        _replace_dir(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return manifest


def set_hash(entries: list[dict]) -> str:
    """One hash for the whole set: the sorted (file, sha256) pairs."""
    digest = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: e["file"]):
        digest.update(f"{entry['file']} {entry['sha256']}\n".encode())
    return digest.hexdigest()


def _replace_dir(staging: Path, out: Path) -> None:
    if out.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.replace(out, trash / out.name)
        os.replace(staging, out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(staging, out)


def _relative(path: Path, source: Path) -> str:
    try:
        return str(path.resolve().relative_to(source.resolve()))
    except ValueError:
        return str(path)
