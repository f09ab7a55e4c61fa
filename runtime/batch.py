"""Scoring many files: decode and check in a thread pool while the interpreter runs, streaming.

At most ``2 * workers`` images are in flight at once, so a folder of 10,000 images is never
held in memory; results come back in input order. OpenCV releases the GIL while it decodes and
resizes, so threads overlap with inference without a process pool's start-up cost.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checks import Checks
from .errors import ImageError, ModelError, NimaError
from .images import load_image
from .policy import Assessment, Assessor


@dataclass(frozen=True)
class Result:
    """One input's outcome: an assessment, or an error line that names the file."""

    path: Path
    assessment: Assessment | None = None
    error: str | None = None

    def to_json(self) -> dict:
        if self.assessment is None:
            return {"path": str(self.path), "error": self.error}
        return self.assessment.to_json(str(self.path))


def inspect_decoded(assessor: Assessor, name: str | Path,
                    decode: Callable[[], np.ndarray]) -> tuple[np.ndarray, Checks | None, float] | str:
    """Decode (``decode`` raises ImageError naming the file), check, preprocess. An error comes back
    as one line naming the file: the same lines for a file on disk and for bytes from an archive."""
    try:
        image = decode()
    except ImageError as exc:
        return str(exc)
    try:
        return assessor.inspect(image)
    except (NimaError, ValueError) as exc:
        return f"{name}: {exc}"


def _prepare(assessor: Assessor, path: Path, accept_damaged: bool) -> tuple[np.ndarray, Checks | None, float] | str:
    """Worker side of score_paths."""
    return inspect_decoded(assessor, path, lambda: load_image(path, accept_damaged=accept_damaged))


def score_paths(assessor: Assessor, paths: Iterable[Path], workers: int | None = None,
                accept_damaged: bool = False) -> Iterator[Result]:
    """Assess every path lazily, in input order, with a bounded number of images in flight.

    An image its decoder reports as damaged is an error for that image unless ``accept_damaged``.
    """
    workers = max(1, workers or min(4, os.cpu_count() or 1))
    pending: deque[tuple[Path, Future]] = deque()
    source = iter(paths)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nima-decode") as pool:
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * workers:
                try:
                    path = next(source)
                except StopIteration:
                    exhausted = True
                    break
                pending.append((path, pool.submit(_prepare, assessor, path, accept_damaged)))
            if not pending:
                return
            path, future = pending.popleft()
            prepared = future.result()
            if isinstance(prepared, str):
                yield Result(path, error=prepared)
                continue
            try:
                yield Result(path, assessment=assessor.finish(*prepared))
            except ModelError:
                raise  # the model's fault, not this image's: every later image would fail the same way
            except NimaError as exc:
                yield Result(path, error=f"{path}: {exc}")
