"""Raspberry Pi camera modules through picamera2, shaped like cv2.VideoCapture.

On Raspberry Pi OS Bookworm the camera modules (CSI ribbon cable) are driven by libcamera, which
OpenCV's V4L2 backend cannot open; USB webcams still work as V4L2 indices (`nima watch 0`).
picamera2 is the supported Python binding, but it ships with the OS (`apt`), not on PyPI, so it
is an optional import here and the error says how to get it.

The source hands out BGR uint8 frames like every other source. picamera2's format names follow
libcamera/DRM fourcc conventions, which describe a little-endian word: "RGB888" is laid out in
memory as [B, G, R] per pixel (the Picamera2 manual, "image formats"), exactly OpenCV's BGR, so
no conversion is needed; "XRGB8888" is [B, G, R, 255] and only loses its padding byte.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .errors import SourceError, SourceUnavailable

log = logging.getLogger(__name__)

PICAMERA_INSTALL_HINT = (
    "install it from Raspberry Pi OS with `sudo apt install python3-picamera2` (it is not on PyPI) "
    "and create the venv with `python3 -m venv --system-site-packages` so the venv can see it"
)
# "RGB888" is BGR in memory: what OpenCV and the rest of nima-edge expect.
CAPTURE_FORMAT = "RGB888"
STREAM = "main"


class PiCameraSource:
    """A started picamera2 camera with the duck type of cv2.VideoCapture: read(), release(), isOpened()."""

    def __init__(self, camera: Any, size: tuple[int, int]):
        self._camera = camera
        self.size = size  # (width, height) asked for; libcamera may align it slightly
        self._open = True

    def isOpened(self) -> bool:  # cv2.VideoCapture's spelling, so either source fits
        return self._open

    def read(self) -> tuple[bool, np.ndarray | None]:
        """(True, BGR uint8 frame) or (False, None) when the camera stopped delivering."""
        if not self._open:
            return False, None
        try:
            frame = self._camera.capture_array(STREAM)
        except Exception as exc:  # noqa: BLE001 - picamera2 raises RuntimeError, OSError, TimeoutError... from libcamera
            log.warning("picamera: capture failed: %s", exc)
            return False, None
        return True, to_bgr(frame)

    def release(self) -> None:
        """Stop and close the camera; safe to call more than once."""
        if not self._open:
            return
        self._open = False
        for step in ("stop", "close"):
            try:
                getattr(self._camera, step)()
            except Exception as exc:  # noqa: BLE001 - a camera that died mid-run must still let the loop exit
                log.warning("picamera: %s failed: %s", step, exc)

    def __enter__(self) -> PiCameraSource:  # noqa: PYI034 - typing.Self needs 3.11
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def to_bgr(frame: np.ndarray) -> np.ndarray:
    """A picamera2 RGB888 (already B, G, R in memory) or XRGB8888 array -> contiguous BGR uint8."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise SourceError(f"picamera: unexpected frame of shape {frame.shape} and type {frame.dtype}; "
                          f"expected {CAPTURE_FORMAT} (H, W, 3) uint8")
    # XRGB8888 is [B, G, R, 255]: drop the padding. capture_array may hand out a strided view.
    return np.ascontiguousarray(frame[..., :3])


def import_picamera2() -> type:
    """The Picamera2 class, or a SourceError that says how to install it."""
    try:
        from picamera2 import Picamera2
    except ImportError as exc:
        raise SourceUnavailable(f"picamera: picamera2 is not available ({exc}); {PICAMERA_INSTALL_HINT}") from None
    except ValueError as exc:
        # Bookworm's apt simplejpeg (imported by picamera2) is built for numpy 1.24; our venv has
        # numpy 2, and NumPy's ABI only runs forward (raspberrypi/picamera2 issues 1088, 1211).
        raise SourceUnavailable(
            f"picamera: picamera2 cannot load with this venv's numpy ({exc}); its apt simplejpeg was built "
            f"for numpy 1.x: install a numpy 2 build into the venv with `pip install --force-reinstall simplejpeg`"
        ) from None
    return Picamera2


def open_picamera(size: tuple[int, int] = (1280, 720), camera_num: int = 0) -> PiCameraSource:
    """Start a Pi camera module at ``size`` (width, height) and return it as a frame source.

    >>> source = open_picamera((1280, 720))
    >>> ok, frame = source.read()   # frame: BGR uint8, (720, 1280, 3)
    >>> source.release()
    """
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(f"size must be (width, height) in positive integers, got {size!r}")
    Picamera2 = import_picamera2()
    camera = None
    try:
        camera = Picamera2(camera_num)
        # A video configuration keeps more buffers queued than a still one: steady frames for a loop.
        config = camera.create_video_configuration(main={"format": CAPTURE_FORMAT, "size": tuple(size)})
        camera.configure(config)
        camera.start()
    except Exception as exc:  # noqa: BLE001 - no camera -> IndexError/RuntimeError, busy -> RuntimeError, ...
        if camera is not None:
            try:
                camera.close()
            except Exception as close_exc:  # noqa: BLE001 - already failing: report the first error
                log.debug("picamera: close after a failed start: %s", close_exc)
        raise SourceError(
            f"picamera: cannot start camera {camera_num} ({type(exc).__name__}: {exc}); check the ribbon "
            "cable, that no other program uses the camera, and `rpicam-hello --list-cameras`"
        ) from None
    log.info("picamera: camera %d started at %dx%d %s", camera_num, size[0], size[1], CAPTURE_FORMAT)
    return PiCameraSource(camera, tuple(size))
