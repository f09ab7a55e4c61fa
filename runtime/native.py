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


@contextlib.contextmanager
def native_messages() -> Iterator[list[str]]:
    """The lines native code writes to stderr inside the block, kept off the terminal.

    Captures run one at a time (the lock), so each message belongs to the call that made it; only
    the call inside the block is serialised, the rest of the work on a frame still runs in parallel.
    A line another thread of ours printed meanwhile (OWN_LINES) goes back to stderr unchanged.
    """
    messages: list[str] = []
    with _LOCK, tempfile.TemporaryFile() as sink:
        with contextlib.suppress(AttributeError, ValueError, OSError):
            sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield messages
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read(MAX_MESSAGE_BYTES).decode("utf-8", "replace")
            for line in text.splitlines():
                if line.startswith(OWN_LINES):
                    with contextlib.suppress(OSError):
                        os.write(2, (line + "\n").encode("utf-8", "replace"))
                elif line.strip():
                    messages.append(line.strip())
