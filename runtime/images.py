"""Reading images from disk into BGR uint8 frames, the one form every stage works on."""
from __future__ import annotations

import logging
import os
import stat
import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from .errors import ImageError
from .native import native_messages

# Decoding limits. A 48-MP phone photo decodes as is; a larger JPEG is decoded reduced by
# libjpeg's DCT scaling (1/2, 1/4, 1/8 — never materialising the full frame); any other image
# over the limit is refused before its pixels are allocated. The header sniffer below knows five
# formats; OpenCV's own limit, read once when cv2 is first imported, bounds every other decoder it
# has (GIF, HDR, PxM, AVIF...) and a header the sniffer could not find, whatever the file's name.
MAX_DECODE_PIXELS = 50_000_000
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_DECODE_PIXELS))
import cv2  # after the limit: OpenCV reads it once, at import

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
MAX_FILE_BYTES = 512 * 1024 * 1024
_REDUCED_JPEG = ((2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4), (8, cv2.IMREAD_REDUCED_COLOR_8))
# What libjpeg and libpng print when the data they decode is damaged: the image decodes, with the
# missing part filled in grey or garbage, and these lines on stderr are the only sign of it.
DAMAGE_MESSAGES = ("corrupt jpeg data", "premature end of jpeg file", "libpng error", "bogus", "huffman",
                   "invalid jpeg file structure")


def load_image(path: str | os.PathLike, accept_damaged: bool = False) -> np.ndarray:
    """Decode an image file to a BGR uint8 array, upright.

    cv2.IMREAD_COLOR applies the EXIF orientation, turns grayscale into three channels, drops
    alpha and scales 16-bit samples down to 8 bits, so every caller gets the same kind of frame.
    """
    path = Path(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            raise ImageError(f"{path}: not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise ImageError(f"{path}: file is over {MAX_FILE_BYTES // 2**20} MB; not an image this runtime decodes")
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
    return decode_image(data, name=str(path), accept_damaged=accept_damaged)


def decode_image(data: np.ndarray | bytes, name: str = "<bytes>", accept_damaged: bool = False) -> np.ndarray:
    """Decode encoded image bytes to BGR uint8; raises ImageError naming ``name``.

    The dimensions are read from the header first, so a huge image is decoded reduced (JPEG)
    or refused (other formats) before any pixel memory is allocated. A decode the codec reports
    as damaged (a cut-off or corrupt JPEG that libjpeg pads with grey, a PNG with a bad chunk) is
    an error unless ``accept_damaged``; the codec's other messages are logged with ``name``.
    """
    buffer = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data
    if buffer.size == 0:
        raise ImageError(f"{name}: empty file")
    flags = cv2.IMREAD_COLOR
    header = image_header(memoryview(buffer))  # the whole file: JPEG APP segments may precede SOF
    if header is not None:
        kind, width, height = header
        if width <= 0 or height <= 0:
            raise ImageError(f"{name}: {kind} header declares an empty image ({width}x{height})")
        if width * height > MAX_DECODE_PIXELS:
            flags = _reduced_flags(name, kind, width, height)
        if kind == "JPEG" and not _jpeg_complete(buffer):
            # libjpeg pads a truncated JPEG with grey and only warns: refuse it here instead.
            raise ImageError(f"{name}: truncated JPEG (no end-of-image marker after the image data)")
    with native_messages() as messages:
        try:
            image = cv2.imdecode(buffer, flags)
        except cv2.error as exc:
            image, error = None, str(exc).strip().splitlines()[-1]
        else:
            error = None
    damage = [m for m in messages if m.lower().startswith(DAMAGE_MESSAGES)]  # the codec's own line, as it begins
    for message in messages:
        if message not in damage or accept_damaged:
            log.warning("%s: %s", name, message)
    if error is not None:
        if "CV_IO_MAX_IMAGE_PIXELS" in error:
            raise ImageError(f"{name}: image is over the {MAX_DECODE_PIXELS / 1e6:.0f}-MP decoding limit; "
                             "downscale it first") from None
        raise ImageError(f"{name}: cannot decode image ({error})") from None
    if image is None:
        raise ImageError(f"{name}: not a readable image (unsupported format or corrupt data)")
    if damage and not accept_damaged:
        raise ImageError(f"{name}: damaged image data ({damage[0].strip()}); the decoder filled in the rest")
    return image


def _reduced_flags(name: str, kind: str, width: int, height: int) -> int:
    megapixels = width * height / 1e6
    if kind == "JPEG":
        for factor, flags in _REDUCED_JPEG:
            if width * height / factor**2 <= MAX_DECODE_PIXELS:
                return flags
    raise ImageError(
        f"{name}: {kind} of {width}x{height} ({megapixels:.0f} MP) is over the "
        f"{MAX_DECODE_PIXELS / 1e6:.0f}-MP decoding limit; downscale it first"
    )


def image_header(head: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) from the first bytes of a JPEG, PNG, BMP, WebP or TIFF; else None.

    Only the header is parsed; any inconsistency returns None and the decoder has the last word.
    """
    try:
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            width, height = struct.unpack(">II", head[16:24])
            return "PNG", width, height
        if head[:2] == b"\xff\xd8":
            return _jpeg_header(head)
        if head[:2] == b"BM" and len(head) >= 26:
            width, height = struct.unpack("<ii", head[18:26])
            return "BMP", abs(width), abs(height)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp_header(head)
        if head[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_header(head)
    except (struct.error, IndexError, ValueError):
        return None
    return None


def _jpeg_header(head: bytes) -> tuple[str, int, int] | None:
    pos = 2
    while pos + 4 <= len(head):
        if head[pos] != 0xFF:
            return None
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", head[pos + 2:pos + 4])
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", head[pos + 5:pos + 9])
            return "JPEG", width, height
        if length < 2:
            return None
        pos += 2 + length
    return None


def _jpeg_complete(buffer: np.ndarray) -> bool:
    """True when an end-of-image marker follows the main image's first scan.

    Entropy-coded data stuffs every 0xFF with 0x00, so 0xFFD9 after the first start-of-scan is a
    real marker; the search starts there so an EXIF thumbnail's own marker does not count.
    """
    data = buffer.tobytes() if buffer.size <= MAX_FILE_BYTES else b""
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xDA:  # start of scan
            return data.find(b"\xff\xd9", pos) != -1
        if marker in (0x01, *range(0xD0, 0xD8)):
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return True  # no scan found by this walk: let the decoder judge


def _webp_header(head: bytes) -> tuple[str, int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(head[24:27], "little")
        height = 1 + int.from_bytes(head[27:30], "little")
        return "WebP", width, height
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return "WebP", width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return "WebP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _tiff_header(head: bytes) -> tuple[str, int, int] | None:
    order = "<" if head[:2] == b"II" else ">"
    (offset,) = struct.unpack(order + "I", head[4:8])
    (count,) = struct.unpack(order + "H", head[offset:offset + 2])
    size: dict[int, int] = {}
    for i in range(min(count, 256)):
        entry = head[offset + 2 + 12 * i:offset + 14 + 12 * i]
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag in (256, 257):
            value = struct.unpack(order + ("H" if kind == 3 else "I"), entry[8:10] if kind == 3 else entry[8:12])[0]
            size[tag] = value
    if 256 in size and 257 in size:
        return "TIFF", size[256], size[257]
    return None


def iter_image_paths(paths: Iterable[str | os.PathLike],
                     skipped: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yield image files from files, folders (walked, sorted) and globs, lazily, in input order.

    A folder yields the files with an image suffix (IMAGE_SUFFIXES); every other file in it is
    handed to ``skipped``, so the caller can name it. A file named on its own is always yielded,
    whatever its suffix (the decoder has the last word), and so is a path or glob that names
    nothing, so the caller reports it as a per-item error.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                        yield Path(root) / name
                    elif skipped is not None:
                        skipped(Path(root) / name)
        elif not path.exists() and any(ch in str(raw) for ch in "*?["):
            matches = sorted(Path().glob(str(raw))) if not path.is_absolute() else sorted(
                Path(path.anchor).glob(str(path.relative_to(path.anchor))))
            files = [m for m in matches if m.is_file()]
            yield from files or [path]
        else:
            yield path
