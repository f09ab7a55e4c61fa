"""Writing outputs atomically: a temporary file beside the target, then one rename."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import NimaError


class OutputError(NimaError):
    """An output that exists (without --force) or cannot be written."""


def check_writable(path: str | os.PathLike, force: bool = False) -> Path:
    """Refuse an existing output unless forced, and a folder we cannot write into."""
    path = Path(path)
    if path.exists() and not force:
        raise OutputError(f"{path}: already exists (use --force to overwrite)")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{parent}: cannot create output folder ({exc.strerror or exc})") from None
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{parent}: output folder is not writable")
    return path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, force: bool = False, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` in one rename.

    ``suffix`` is the temporary file's ending, for writers that insist on one (Keras: ".keras").

    An exception (or a kill) before the rename leaves no partial file under the final name.
    """
    path = check_writable(path, force)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        publish(tmp, path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        tmp.unlink(missing_ok=True)


def publish(tmp: Path, path: Path) -> None:
    """Rename a finished temporary file (made by mkstemp) over ``path``, first giving it the
    permissions a plain open() would: mkstemp makes it owner-only."""
    if tmp.exists():
        os.chmod(tmp, 0o666 & ~_current_umask())
    os.replace(tmp, path)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes, force: bool = False) -> Path:
    with atomic_output(path, force) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, force: bool = False) -> Path:
    # surrogateescape: a file name that is not UTF-8 (os.fsdecode keeps its bytes as surrogates) is
    # written back as the bytes it has on disk, so a ranking's paths open the files they name.
    return atomic_write_bytes(path, text.encode("utf-8", "surrogateescape"), force)
