"""nima-edge: image-quality scoring (NIMA) from Keras training to an on-device TFLite runtime.

The import package maps the repository's stage folders: ``nima_edge.runtime`` is runtime/,
``nima_edge.training`` is training/, and so on (see pyproject.toml).
"""

import os

__version__ = "0.1.0"

# OpenCV reads its decoding limit once, when cv2 is first imported: set here, before any stage can
# import cv2, it bounds every decoder OpenCV has. The value is runtime.images.MAX_DECODE_PIXELS (a
# test holds them equal); a limit the user set in the environment wins.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", "50000000")
# FFmpeg's decoder logs from its own threads, at any moment and naming no file, so its lines cannot be
# attributed to a source; they are silenced (a read that fails is counted: `bad_reads` in watch's end
# event), while OpenCV's own warnings are caught around each call and logged with the source's name.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
