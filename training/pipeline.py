"""From Samples to cached model inputs: decode once through the shared preprocessing (TF-free; the
tf.data batches and augmentation are dataset.py).

Our synthetic captures are 1200-2000 px JPEGs; decoding them every epoch would cost more CPU
than training a small MobileNet. So each image goes through nima_edge.runtime.images.load_image
and nima_edge.runtime.preprocess.preprocess ONCE (threads: OpenCV releases the GIL), the uint8
results land in a .npy file (memory-mapped, so sets larger than RAM work) keyed by the inputs, and
every epoch reads from it. Images that fail to decode are counted, reported once, and dropped
before training starts, so nothing can fail mid-epoch.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from nima_edge.runtime.errors import ImageError
from nima_edge.runtime.images import load_image
from nima_edge.runtime.preprocess import preprocess

from .data import DataError, Samples

log = logging.getLogger(__name__)

AUGMENTATIONS = ("paper", "flip", "none")
# Those that show the model mirrored copies (runtime.preprocess.mirror_input), so its spec says
# mirror_average: a device scores each frame and its mirror.
MIRRORING_AUGMENTATIONS = ("paper", "flip")
# Refused by the config (before any image is cached) and by make_dataset alike.
FRAME_DROPOUT_NEEDS_MOSAIC = "frame_dropout hides a mosaic view's whole-frame tile; the frame view has no other tile"
# The paper resizes to 256 and crops 224: the stored image is this much larger than the input.
PAPER_SCALE = 256 / 224


def stored_size(input_size: int, augment: str) -> int:
    """Side of the cached image: larger than the input only when augmentation crops."""
    return round(input_size * PAPER_SCALE) if augment == "paper" else input_size


def _cache_key(samples: Samples, size: int, resize: str, view: str) -> str:
    # "frame" keys as before the view existed, so caches made then stay valid.
    digest = hashlib.sha256((f"{size}:{resize}" if view == "frame" else f"{size}:{resize}:{view}").encode())
    for path in samples.paths:
        try:
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{path}:missing\n".encode())
    return digest.hexdigest()[:16]


def _decode_one(path: Path, size: int, resize: str, view: str) -> np.ndarray | str:
    try:
        return preprocess(load_image(path), size, resize, view)
    except (ImageError, ValueError) as exc:
        return str(exc)


def cache_images(samples: Samples, size: int, cache_dir: str | Path | None = None, resize: str = "area",
                 workers: int | None = None, progress=None, view: str = "frame") -> tuple[Samples, np.ndarray]:
    """Decode and preprocess every image once -> (samples that decoded, uint8 array (n, size, size, 3)).

    With ``cache_dir`` the array is a .npy file there, reused by later runs on the same files
    (keyed by paths, sizes and modification times); without it the array lives in RAM.
    ``progress``: a callable given a line of text every 500 images.
    """
    workers = workers or min(4, os.cpu_count() or 1)
    key = _cache_key(samples, size, resize, view)
    target = bad_file = None
    if cache_dir is not None:
        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        target = cache_dir / f"images_{size}px_{key}.npy"
        bad_file = target.with_suffix(".bad.json")
        if target.is_file() and bad_file.is_file():
            bad = json.loads(bad_file.read_text())
            images = np.load(target, mmap_mode="r")
            return _drop_bad(samples, {int(k): v for k, v in bad.items()}), images
    n = len(samples)
    if target is not None:
        tmp = target.with_name(f".{target.name}.tmp.npy")
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, size, size, 3))
    else:
        array = np.empty((n, size, size, 3), dtype=np.uint8)
    bad: dict[int, str] = {}
    with ThreadPoolExecutor(workers) as pool:
        results = pool.map(lambda p: _decode_one(p, size, resize, view), samples.paths)
        for i, result in enumerate(results):
            if isinstance(result, str):
                bad[i] = result
            else:
                array[i] = result
            if progress is not None and (i + 1) % 500 == 0:
                progress(f"decoded {i + 1}/{n} images")
    keep = np.asarray([i for i in range(n) if i not in bad], dtype=np.int64)
    if target is not None:
        array.flush()
        del array
        if bad:  # rewrite without the holes so rows line up with the kept samples
            full = np.load(tmp, mmap_mode="r")
            compact = np.lib.format.open_memmap(tmp.with_name(tmp.name + "2.npy"), mode="w+", dtype=np.uint8,
                                                shape=(len(keep), size, size, 3))
            compact[:] = full[keep]
            compact.flush()
            del compact, full
            os.replace(tmp.with_name(tmp.name + "2.npy"), tmp)
        os.replace(tmp, target)
        bad_file.write_text(json.dumps(bad))
        images = np.load(target, mmap_mode="r")
    else:
        images = array[keep] if bad else array
    return _drop_bad(samples, bad), images


def _drop_bad(samples: Samples, bad: dict[int, str]) -> Samples:
    if not bad:
        return samples
    for message in bad.values():
        samples.problems.add("unreadable_images", message)
    log.warning("%s", samples.problems.summary(samples.source or "images"))
    kept = samples.drop(set(bad))
    if len(kept) == 0:
        raise DataError(f"{samples.source}: no image could be decoded ({samples.problems.summary('images')})")
    return kept


def targets_of(samples: Samples, with_defects: bool) -> dict[str, np.ndarray]:
    targets = {"distribution": samples.targets.astype(np.float32)}
    if with_defects:
        if samples.defects is None:
            raise DataError(f"{samples.source}: the model has a defect head but the labels have no defect_ columns")
        targets["defects"] = samples.defects.astype(np.float32)
    return targets


def defect_balance_weights(defects: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Per-image loss weights (mean 1) that lift rare defects above their share of the images.

    An image's group is its strongest defect of severity >= ``threshold``, or "clean". A group's
    weight goes as 1 / sqrt(its count): full inverse-frequency weighting would let a few hundred
    images of a rare defect outweigh thousands of clean ones and cost the ranking of the clean
    pages, while the square root still lifts a defect seen by 4% of the images about fourfold.
    """
    defects = np.asarray(defects, dtype=np.float32)
    strongest = defects.argmax(axis=1)
    group = np.where(defects.max(axis=1) >= threshold, strongest, defects.shape[1])
    counts = np.bincount(group, minlength=defects.shape[1] + 1).astype(np.float64)
    weights = 1.0 / np.sqrt(counts[group])
    return (weights / weights.mean()).astype(np.float32)
