"""Reading images from disk into BGR uint8 frames, the one form every stage works on."""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from .errors import ImageError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to a BGR uint8 array, upright.

    cv2.IMREAD_COLOR applies the EXIF orientation, turns grayscale into three channels, drops
    alpha and scales 16-bit samples down to 8 bits, so every caller gets the same kind of frame.
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory, not an image") from None
    except PermissionError:
        raise ImageError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if data.size == 0:
        raise ImageError(f"{path}: empty file")
    return decode_image(data, name=str(path))


def decode_image(data: np.ndarray | bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to BGR uint8; raises ImageError naming ``name``."""
    buffer = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray)) else data
    if buffer.size == 0:
        raise ImageError(f"{name}: empty file")
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageError(f"{name}: cannot decode image ({str(exc).strip().splitlines()[-1]})") from None
    if image is None:
        raise ImageError(f"{name}: not a readable image (unsupported format or corrupt data)")
    return image


def iter_image_paths(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Yield image files from files, folders (walked, sorted) and globs, lazily, in input order.

    A path that names nothing is yielded as-is so the caller reports it as a per-item error.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                        yield Path(root) / name
        elif not path.exists() and any(ch in str(raw) for ch in "*?["):
            matches = sorted(Path().glob(str(raw))) if not path.is_absolute() else sorted(
                Path(path.anchor).glob(str(path.relative_to(path.anchor))))
            yield from (m for m in matches if m.is_file())
        else:
            yield path
