"""One archive row per image: the runtime's assessment of encoded bytes, as `nima score --json` has it.

No Spark here, so the row contract is tested without a JVM. Spark's own file sources name files
by URI; a local file's row names it by its path, as `nima score` does for the same file.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from pathlib import Path

import numpy as np
from nima_edge.runtime.batch import Result, inspect_decoded
from nima_edge.runtime.checks import Checks
from nima_edge.runtime.errors import ModelError, NimaError
from nima_edge.runtime.images import decode_image
from nima_edge.runtime.policy import Assessor

# The fields of a `nima score --json` line that a row keeps (docs/runtime.md): a scored image has
# every one but error, an image that could not be scored only path and error.
FIELDS = ("path", "mean", "std", "distribution", "verdict", "reasons", "error")

Prepared = tuple[np.ndarray, Checks | None, float]


class ArchiveError(NimaError):
    """An archive job that cannot run: its inputs, its model settings or its output."""


def record_of(path: str | None, result: Result) -> dict:
    """The row for ``result``: exactly FIELDS, the values rounded as `nima score --json` prints them."""
    line = result.to_json()
    return {**{name: line.get(name) for name in FIELDS}, "path": path}


def local_path(uri: str) -> str:
    """``file:/data/a.jpg`` -> ``/data/a.jpg``; any other URI (s3a://, hdfs://) as it is."""
    if not uri.startswith("file:"):
        return uri
    return "/" + uri[len("file:"):].lstrip("/")


def prepare_content(assessor: Assessor, name: str, content: bytes | None, accept_damaged: bool) -> Prepared | str:
    """Decode, check and preprocess one file's bytes (runtime.batch.inspect_decoded: the same error
    lines as for a file read from disk)."""
    return inspect_decoded(assessor, name, lambda: decode_image(content or b"", name=name,
                                                                  accept_damaged=accept_damaged))


def score_contents(assessor: Assessor, files: Iterable[tuple[str, bytes | None]], pool: Executor,
                   accept_damaged: bool = False) -> Iterator[tuple[str, Result]]:
    """(name, result) for every (name, bytes), in order; decoding runs in ``pool`` while the
    interpreter scores. A bad file is a result with an error; a model that fails raises ModelError
    (every later file would fail the same way)."""
    files = list(files)
    prepared = pool.map(lambda item: prepare_content(assessor, item[0], item[1], accept_damaged), files)
    for (name, _), ready in zip(files, prepared):
        if isinstance(ready, str):
            yield name, Result(Path(name), error=ready)
            continue
        try:
            yield name, Result(Path(name), assessment=assessor.finish(*ready))
        except ModelError:
            raise
        except NimaError as exc:
            yield name, Result(Path(name), error=f"{name}: {exc}")
