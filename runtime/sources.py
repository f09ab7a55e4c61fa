"""Frame sources for `nima watch`: camera index, video file, stream URL, or the Pi camera.

A reader thread pulls frames while the main loop scores the previous one. For a live source only
the newest frame is kept (a prompt about a stale frame is worse than a skipped frame); a video file
is read frame by frame, nothing dropped. A read that does not return within ``stall_timeout``
seconds counts as a dead source, so a camera that stops delivering cannot hang the loop.
"""
from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from .errors import SourceError, SourceUnavailable
from .native import native_messages

log = logging.getLogger(__name__)


class Capture(Protocol):
    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def release(self) -> None: ...


@dataclass(frozen=True)
class SourceSpec:
    """Where frames come from. ``live`` sources are retried when they die; files simply end."""

    description: str
    live: bool
    open: Callable[[], Capture]
    fps: float | None = None


def parse_source(spec: str, size: tuple[int, int] = (1280, 720)) -> SourceSpec:
    """A SOURCE argument -> how to open it. Raises SourceError for a file that does not exist."""
    text = str(spec).strip()
    if text == "picamera":
        return SourceSpec("Raspberry Pi camera", True, lambda: _open_picamera(size))
    if text.isdigit():
        index = int(text)
        return SourceSpec(f"camera {index}", True, lambda: _open_capture(index, f"camera {index}", size))
    if "://" in text:
        return SourceSpec(f"stream {text}", True, lambda: _open_capture(text, f"stream {text}", None))
    path = Path(text)
    if not path.is_file():
        raise SourceError(f"{text}: no such video file (a camera is a number such as 0, a stream a URL)")
    fps = _video_fps(path)
    return SourceSpec(f"video {text}", False, lambda: _open_capture(str(path), f"video {text}", None), fps)


def _video_fps(path: Path) -> float | None:
    capture = cv2.VideoCapture(str(path))
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
    finally:
        capture.release()
    return float(fps) if fps and 0 < fps < 1000 else None


def _open_capture(target: Any, description: str, size: tuple[int, int] | None) -> Capture:
    try:
        capture = cv2.VideoCapture(target)
    except cv2.error as exc:
        raise SourceError(f"{description}: cannot open ({str(exc).strip().splitlines()[-1]})") from None
    if not capture.isOpened():
        capture.release()
        hint = " — check that it is connected and not in use by another program" if description.startswith("camera") else ""
        raise SourceError(f"{description}: cannot open{hint}")
    if size is not None and description.startswith("camera"):
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
    return capture


def _open_picamera(size: tuple[int, int]) -> Capture:
    try:
        from . import picamera
    except ImportError as exc:
        raise SourceUnavailable(
            f"the Raspberry Pi camera helper is not available ({exc}); on a Pi install python3-picamera2 "
            "(apt) and use SOURCE=picamera, or use a camera index such as 0"
        ) from None
    try:
        return picamera.open_picamera(size)
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - the Pi library raises its own types; say what failed, one line
        raise SourceError(f"Raspberry Pi camera: cannot open ({type(exc).__name__}: {exc})") from None


_END = object()
MAX_BAD_READS = 30  # consecutive failed reads a video file may have before it counts as ended


class FrameReader:
    """Reads a capture in a background thread. ``read()`` -> frame, or None when the source ended.

    Raises SourceError when no frame (and no end) arrives within ``stall_timeout`` seconds. A
    video file with a damaged stretch fails a few reads and then delivers frames again, so a
    file ends only after MAX_BAD_READS failed reads in a row; ``bad_reads`` counts the failed
    reads that good frames followed (the ones at the very end are just the end).
    """

    def __init__(self, capture: Capture, live: bool, stall_timeout: float = 5.0, description: str = "source",
                 transform: Callable[[np.ndarray, int], Any] | None = None):
        self._capture = capture
        # Work done on each frame in the reader thread (OpenCV releases the GIL), so the next
        # frame is prepared while the interpreter runs on this one. read() then returns
        # (frame, transform(frame, index)).
        self._transform = transform
        self._index = 0
        self._live = live
        self._timeout = stall_timeout
        self._description = description
        self._queue: queue.Queue = queue.Queue(maxsize=1 if live else 4)
        self.bad_reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nima-capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failed = 0
        while not self._stop.is_set():
            with native_messages() as messages:  # FFmpeg's warnings name no file: they get this source's name
                try:
                    ok, frame = self._capture.read()
                except Exception:  # noqa: BLE001 - a driver error of any type ends this capture; the loop decides
                    ok, frame = False, None
            for message in messages:
                log.warning("%s: %s", self._description, message)
            item = frame if ok and frame is not None and frame.size else _END
            if item is _END and not self._live and failed + 1 < MAX_BAD_READS:
                failed += 1  # perhaps a damaged stretch: read on
                continue
            self.bad_reads += failed if item is not _END else 0
            failed = 0
            if item is not _END and self._transform is not None:
                try:
                    item = (frame, self._transform(frame, self._index))
                except Exception as exc:  # noqa: BLE001 - handed to the consumer, who decides
                    item = (frame, exc)
                self._index += 1
            if self._live and item is not _END:
                try:  # keep only the newest frame
                    self._queue.get_nowait()
                except queue.Empty:
                    pass
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if item is _END:
                return

    def read(self) -> Any:
        try:
            item = self._queue.get(timeout=self._timeout)
        except queue.Empty:
            raise SourceError(f"{self._description}: no frame for {self._timeout:g} s") from None
        return None if item is _END else item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        if not self._thread.is_alive():  # a read stuck in a driver keeps its capture; leave it
            with contextlib.suppress(Exception):  # a driver failing to release must not mask the real exit
                self._capture.release()
