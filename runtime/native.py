"""What the native libraries under OpenCV (libjpeg, libpng, FFmpeg) print, caught and attributed.

They write their warnings straight to file descriptor 2, with no name of the file they are about,
and for a damaged JPEG or a video frame that failed to reach the disk that line is the only sign.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

MAX_MESSAGE_BYTES = 64 * 1024
# Lines of our own (the CLI's error lines, the logging format) that another thread wrote to stderr
# while a capture was open: handed back to stderr as they were, never taken for a codec's.
OWN_LINES = ("error:", "Error:", "WARNING ", "INFO ", "DEBUG ", "ERROR ", "skipped ", "no images found", "stopped")
_LOCK = threading.Lock()  # one stderr for the process: one capture at a time, so a line belongs to its call
_WRITE_LOCK = threading.Lock()  # a Python-level write to the terminal against the end of a capture


class _Terminal:
    """sys.stderr while a capture is open, when it was the process's fd 2: what Python code of any
    thread writes (click's error lines, a progress count) goes straight to the terminal's saved
    descriptor, so only native code's writes reach the capture. The lock keeps a write from racing
    the capture's end, when that descriptor is closed."""

    def __init__(self, stream):
        self.stream = stream
        self.fd: int | None = None

    def write(self, text: str) -> int:
        data = text.encode(getattr(self.stream, "encoding", None) or "utf-8", "backslashreplace")
        with _WRITE_LOCK, contextlib.suppress(OSError):
            os.write(2 if self.fd is None else self.fd, data)
        return len(text)

    def flush(self) -> None:
        pass

    def __getattr__(self, name):  # encoding, isatty, fileno, ...: the stream's own
        return getattr(self.stream, name)


@contextlib.contextmanager
def native_messages() -> Iterator[list[str]]:
    """The lines native code writes to stderr inside the block, kept off the terminal.

    Captures run one at a time (the lock), so each message belongs to the call that made it; only
    the call inside the block is serialised, the rest of the work on a frame still runs in parallel.
    Python's own writes to sys.stderr from other threads meanwhile bypass the capture (_Terminal);
    a line that reached fd 2 another way (a logging handler holding the old stream) and reads as
    ours (OWN_LINES) goes back to stderr unchanged.
    """
    messages: list[str] = []
    with _LOCK, tempfile.TemporaryFile() as sink:
        previous = sys.stderr
        with contextlib.suppress(AttributeError, ValueError, OSError):
            previous.flush()
        saved = os.dup(2)
        terminal = _Terminal(previous) if _is_fd2(previous) else None
        if terminal is not None:
            terminal.fd = saved
            sys.stderr = terminal
        os.dup2(sink.fileno(), 2)
        try:
            yield messages
        finally:
            with _WRITE_LOCK:
                os.dup2(saved, 2)
                if terminal is not None:
                    terminal.fd = None
                    if sys.stderr is terminal:
                        sys.stderr = previous
                os.close(saved)
            sink.seek(0)
            text = sink.read(MAX_MESSAGE_BYTES).decode("utf-8", "replace")
            for line in text.splitlines():
                if line.startswith(OWN_LINES):
                    with contextlib.suppress(OSError):
                        os.write(2, (line + "\n").encode("utf-8", "replace"))
                elif line.strip():
                    messages.append(line.strip())


def _is_fd2(stream) -> bool:
    """Whether ``stream`` writes to file descriptor 2 (not a test runner's or CliRunner's buffer)."""
    try:
        return stream.fileno() == 2
    except (AttributeError, ValueError, OSError):
        return False
