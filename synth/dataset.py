"""Writing a synthetic dataset: OUT/images/NNNNNN.jpg and OUT/labels.csv, in parallel, resumably.

Capture i of a run with seed S is rendered from image_seed(S, i), so the bytes of every file
depend only on (S, i, size, junk files) — not on the number of workers or on the order they
finish. Each image is written to a temporary name and renamed; each finished row is appended to
OUT/.labels.journal so an interrupted run can be continued with --resume; labels.csv is written
once, atomically, at the end (sorted by index), and the journal removed.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from nima_edge.runtime.defects import DEFECTS
from nima_edge.runtime.errors import ImageError
from nima_edge.runtime.fileio import OutputError, atomic_write_text
from nima_edge.runtime.images import iter_image_paths, load_image

from .capture import CaptureInfo, render_capture_jpeg
from .labels import label_for, usability
from .mix import SynthError, sample_mix

log = logging.getLogger(__name__)

JOURNAL = ".labels.journal"
RUN_FILE = ".synth_run.json"
USER_JUNK_SHARE = 0.5  # of junk frames, when --junk-dir is given

# The columns `nima train --format csv` reads, in this order; extra columns follow them.
CONTRACT_COLUMNS: tuple[str, ...] = tuple(
    ["path"]
    + [f"votes_{i}" for i in range(1, 11)]
    + ["mean", "std", "kind"]
    + [f"defect_{name}" for name in DEFECTS]
)
EXTRA_COLUMNS: tuple[str, ...] = (
    "seed",
    "width",
    "height",
    "usability",
    "page_coverage",
    "page_in_frame",
    "char_height_px",
    "effective_char_px",
    "blur_px",
    "contrast",
    "noise",
    "glare_fraction",
    "jpeg_quality",
    "source",
)
COLUMNS: tuple[str, ...] = CONTRACT_COLUMNS + EXTRA_COLUMNS


@dataclass(frozen=True)
class SynthConfig:
    """One `nima synth` run. Unknown keys are rejected by the dataclass constructor."""

    count: int
    seed: int = 0
    size: int | None = None
    junk_files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.count < 1:
            raise SynthError(f"count must be at least 1, got {self.count}")
        if self.size is not None and not 64 <= self.size <= 8000:
            raise SynthError(f"size {self.size} is outside 64..8000 pixels")


def image_seed(seed: int, index: int) -> int:
    """A well-mixed 63-bit seed for capture `index` of run `seed`."""
    state = np.random.SeedSequence([int(seed), int(index)]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def image_name(index: int) -> str:
    return f"images/{index:06d}.jpg"


def row_for(index: int, info: CaptureInfo) -> dict[str, str]:
    votes, mean, std = label_for(info)
    row = {"path": image_name(index)}
    row.update({f"votes_{i + 1}": str(int(v)) for i, v in enumerate(votes)})
    row.update(mean=f"{mean:.4f}", std=f"{std:.4f}", kind=info.kind)
    row.update({f"defect_{name}": f"{info.defects.get(name, 0.0):.4f}" for name in DEFECTS})
    row.update(
        seed=str(info.seed),
        width=str(info.width),
        height=str(info.height),
        usability=f"{usability(info):.4f}",
        page_coverage=f"{info.page_coverage:.4f}",
        page_in_frame=f"{info.page_in_frame:.4f}",
        char_height_px=f"{info.char_height_px:.2f}",
        effective_char_px=f"{info.effective_char_px:.2f}",
        blur_px=f"{info.blur_px:.3f}",
        contrast=f"{info.contrast:.4f}",
        noise=f"{info.noise:.5f}",
        glare_fraction=f"{info.glare_fraction:.4f}",
        jpeg_quality=str(info.jpeg_quality),
        source=info.source,
    )
    return row


def render_item(config: SynthConfig, index: int) -> tuple[bytes, CaptureInfo]:
    """The JPEG bytes and info of capture `index` of the run."""
    seed = image_seed(config.seed, index)
    kind, _ = sample_mix(seed)
    if kind == "junk" and config.junk_files:
        pick = np.random.default_rng([seed, 99]).random(2)
        if pick[0] < USER_JUNK_SHARE:
            path = config.junk_files[int(pick[1] * len(config.junk_files))]
            photo = load_image(path)
            return render_capture_jpeg(
                seed, kind="user_junk", size=config.size, junk_image=photo, source=Path(path).name
            )
    return render_capture_jpeg(seed, size=config.size)


def _write_item(out: Path, config: SynthConfig, index: int) -> dict[str, str]:
    data, info = render_item(config, index)
    final = out / image_name(index)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, final)
    return row_for(index, info)


_worker_state: dict = {}


def _init_worker(out: str, config: SynthConfig) -> None:
    cv2.setNumThreads(1)  # one process per core; OpenCV's own threads would only fight over them
    _worker_state["out"] = Path(out)
    _worker_state["config"] = config


def _work(index: int) -> tuple[int, dict[str, str]]:
    return index, _write_item(_worker_state["out"], _worker_state["config"], index)


def check_junk_dir(junk_dir: str | os.PathLike, warn: Callable[[str], None]) -> tuple[str, ...]:
    """Decodable images under `junk_dir`, sorted; each unreadable file is reported and skipped."""
    good = []
    for path in iter_image_paths([junk_dir]):
        try:
            load_image(path)
        except ImageError as exc:
            warn(f"skipping {exc}")
            continue
        good.append(str(path))
    if not good:
        raise SynthError(f"{junk_dir}: no readable images for --junk-dir")
    return tuple(good)


def _prepare_out(out: Path, config: SynthConfig, force: bool, resume: bool) -> dict[int, dict[str, str]]:
    """Create OUT, or refuse it; on --resume return the rows already finished."""
    run = {
        "count": config.count,
        "seed": config.seed,
        "size": config.size,
        "junk_files": [Path(p).name for p in config.junk_files],
    }
    done: dict[int, dict[str, str]] = {}
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if resume and (out / RUN_FILE).exists():
            try:
                previous = json.loads((out / RUN_FILE).read_text())
            except ValueError:
                previous = "unreadable"
            if previous != run:
                raise OutputError(
                    f"{out}: --resume with different settings than the interrupted run "
                    f"({previous}); use --force to start over"
                )
            done = _read_journal(out)
        elif not force:
            raise OutputError(f"{out}: folder is not empty (use --force to overwrite, or --resume)")
        else:
            (out / JOURNAL).unlink(missing_ok=True)
    (out / "images").mkdir(parents=True, exist_ok=True)
    for stray in (out / "images").glob(".*.tmp"):  # images a killed worker was still writing
        stray.unlink(missing_ok=True)
    (out / RUN_FILE).write_text(json.dumps(run))
    return done


def _read_journal(out: Path) -> dict[int, dict[str, str]]:
    """Finished rows from an interrupted run whose image is on disk (a torn last line is ignored)."""
    path = out / JOURNAL
    done: dict[int, dict[str, str]] = {}
    if not path.exists():  # a finished run: --resume again just rewrites the same labels.csv
        labels = out / "labels.csv"
        if labels.exists():
            with open(labels, newline="", encoding="utf-8") as handle:
                for index, row in enumerate(csv.DictReader(handle)):
                    if (out / row["path"]).exists():
                        done[index] = row
        return done
    for line in path.read_text().splitlines():
        try:
            index, row = json.loads(line)
        except (ValueError, TypeError):
            continue
        if (out / row["path"]).exists():
            done[int(index)] = row
    return done


def csv_text(rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> str:
    """A labels.csv's text: the header, then one row per capture."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_dataset(
    out: str | os.PathLike,
    config: SynthConfig,
    workers: int = 1,
    force: bool = False,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Render `config.count` captures into OUT; returns the path of labels.csv."""
    out = Path(out)
    done = _prepare_out(out, config, force, resume)
    todo = [i for i in range(config.count) if i not in done]
    rows = dict(done)
    with open(out / JOURNAL, "a", encoding="utf-8") as journal:
        for index, row in _run(out, config, todo, workers):
            rows[index] = row
            journal.write(json.dumps([index, row]) + "\n")
            journal.flush()
            if progress is not None:
                progress(len(rows), config.count)
    labels = atomic_write_text(
        out / "labels.csv", csv_text([rows[i] for i in range(config.count)]), force=True
    )
    (out / JOURNAL).unlink(missing_ok=True)
    return labels


def _run(
    out: Path, config: SynthConfig, todo: list[int], workers: int
) -> Iterator[tuple[int, dict[str, str]]]:
    if workers <= 1 or len(todo) < 2:
        _init_worker(str(out), config)
        for index in todo:
            yield _work(index)
        return
    # "spawn" would re-import numpy/cv2 per worker; fork is fine here (no threads started yet).
    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(str(out), config)) as pool:
        yield from pool.imap_unordered(_work, todo, chunksize=4)


class Throughput:
    """Captures per second, for the progress line."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def line(self, done: int, total: int) -> str:
        rate = done / max(time.perf_counter() - self.start, 1e-6)
        left = (total - done) / max(rate, 1e-6)
        return f"{done}/{total} captures, {rate:.1f}/s, ~{left / 60:.1f} min left"
