"""Where `nima watch` sends its overlaid frames: a window and/or a video file.

The video is written under a unique temporary name beside the target and renamed only once it is
whole: a failed frame write (a full disk) ends the run with an error, and a file that does not read
back with every frame written is never put under the final name.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from .errors import SourceError
from .fileio import OutputError, publish
from .native import native_messages
from .overlay import Prompt, draw_overlay

WRITE_FAILED = "failed to write"  # what OpenCV's FFmpeg writer prints when a frame did not get out
WINDOW = "nima watch"


class FrameSink:
    """Overlays each frame and shows it, writes it, or both."""

    def __init__(self, out: Path | None, fps: float | None, show: bool, kiosk: bool):
        self.out, self.fps, self.show, self.kiosk = out, fps or 30.0, show, kiosk
        self.writer = None
        self.written = 0
        self.partial: Path | None = None
        if show:
            _open_window(kiosk)

    def __call__(self, frame: np.ndarray, prompt: Prompt) -> None:
        picture = draw_overlay(frame, prompt, kiosk=self.kiosk)
        if self.out is not None:
            self._write(picture)
        if self.show:
            cv2.imshow(WINDOW, picture)
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                raise KeyboardInterrupt

    def _write(self, picture: np.ndarray) -> None:
        if self.writer is None:
            fd, name = tempfile.mkstemp(prefix=f".{self.out.stem}.", suffix=f".partial{self.out.suffix}",
                                        dir=self.out.parent)
            os.close(fd)
            self.partial = Path(name)
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.out.suffix.lower() == ".mp4" else "MJPG"))
            height, width = picture.shape[:2]
            self.writer = cv2.VideoWriter(name, fourcc, self.fps, (width, height))
            if not self.writer.isOpened():
                raise OutputError(f"{self.out}: cannot open a video writer")
        with native_messages() as messages:
            self.writer.write(picture)
        failed = [m for m in messages if WRITE_FAILED in m.lower()]
        if failed:
            raise OutputError(f"{self.out}: cannot write the video (frame {self.written + 1}: the disk may be full); "
                              "nothing kept")
        self.written += 1

    def close(self, keep: bool) -> None:
        """Finish the video; with ``keep``, rename it to its final name once it reads back whole."""
        try:
            if self.writer is not None:
                with native_messages():
                    self.writer.release()
                self.writer = None
                if keep:
                    readable = _frame_count(self.partial)
                    if readable < self.written:
                        raise OutputError(f"{self.out}: the video did not write whole ({readable} of {self.written} "
                                          "frames read back; the disk may be full); nothing kept")
                    publish(self.partial, self.out)
        finally:
            if self.partial is not None:
                self.partial.unlink(missing_ok=True)
            if self.show:
                with contextlib.suppress(cv2.error):
                    cv2.destroyAllWindows()


def _frame_count(path: Path) -> int:
    with native_messages():
        capture = cv2.VideoCapture(str(path))
        try:
            return int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        finally:
            capture.release()


def _open_window(kiosk: bool) -> None:
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
        if kiosk:
            cv2.setWindowProperty(WINDOW, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)
    except cv2.error:
        raise SourceError("cannot open a window: this OpenCV has no GUI (opencv-python-headless) or there "
                          "is no display; use --out FILE.mp4, or install opencv-python") from None
