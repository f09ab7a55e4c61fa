"""A contact sheet of a synthetic dataset, sorted by label mean, with a histogram of the means.

A person should agree with the ordering: junk and ruined captures at the top left, sharp, well-lit,
complete pages at the bottom right.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import cv2
import numpy as np
from nima_edge.runtime.errors import ImageError
from nima_edge.runtime.fileio import atomic_write_bytes
from nima_edge.runtime.images import load_image

from .mix import SynthError

THUMB = 130
COLUMNS = 8
ROWS = 5


def read_rows(labels_csv: str | os.PathLike) -> list[dict[str, str]]:
    with open(labels_csv, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _thumb(path: Path, mean: float, kind: str, defects: str, size: int = THUMB) -> np.ndarray:
    cell = np.full((size + 34, max(size, 130), 3), 255, np.uint8)
    try:
        image = load_image(path)
    except ImageError:
        image = np.zeros((THUMB, THUMB, 3), np.uint8)
    h, w = image.shape[:2]
    s = size / max(h, w)
    small = cv2.resize(image, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
    y0, x0 = (size - small.shape[0]) // 2, (cell.shape[1] - small.shape[1]) // 2
    # 32 levels per channel: invisible at this size, and it keeps the PNG small enough to commit.
    cell[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small & 0xF8
    color = (0, 0, 200) if mean < 5 else (0, 140, 0)
    cv2.putText(
        cell, f"{mean:.1f} {kind[:12]}", (3, size + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1, cv2.LINE_AA
    )
    cv2.putText(
        cell, defects[:26], (3, size + 28), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (60, 60, 60), 1, cv2.LINE_AA
    )
    return cell


def _defect_text(row: dict[str, str]) -> str:
    parts = [
        f"{k[7:]}{float(v):.1f}"
        for k, v in row.items()
        if k.startswith("defect_") and k != "defect_not_document" and float(v) > 0
    ]
    return " ".join(parts) if parts else "clean"


def _histogram(means: np.ndarray, width: int, height: int = 220) -> np.ndarray:
    panel = np.full((height, width, 3), 255, np.uint8)
    counts, edges = np.histogram(means, bins=36, range=(1, 10))
    left, bottom, top = 40, height - 30, 25
    bar_w = (width - left - 20) / len(counts)
    peak = max(int(counts.max()), 1)
    for i, c in enumerate(counts):
        x0 = int(left + i * bar_w)
        y0 = int(bottom - (bottom - top) * c / peak)
        color = (60, 60, 210) if edges[i + 1] <= 5.0 else (70, 160, 70)
        cv2.rectangle(panel, (x0 + 1, y0), (int(x0 + bar_w) - 1, bottom), color, -1)
    for score in range(1, 11):
        x = int(left + (score - 1) / 9 * (width - left - 20))
        cv2.putText(
            panel, str(score), (x - 4, bottom + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA
        )
    x5 = int(left + 4 / 9 * (width - left - 20))
    cv2.line(panel, (x5, top - 5), (x5, bottom), (0, 0, 0), 1)
    pct = np.percentile(means, [5, 50, 95])
    cv2.putText(
        panel,
        f"label means of {len(means)} captures: p5 {pct[0]:.2f}  median {pct[1]:.2f}  "
        f"p95 {pct[2]:.2f}  retake (<5) {np.mean(means < 5):.0%}",
        (left, 16),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    return panel


def make_preview(
    labels_csv: str | os.PathLike,
    out_png: str | os.PathLike,
    force: bool = False,
    columns: int = COLUMNS,
    rows: int = ROWS,
    thumb: int = THUMB,
) -> Path:
    """Draw the sheet: columns x rows captures spread evenly over the sorted means, then the histogram.

    PNG (lossless, for the labels' small text) or any other suffix OpenCV can write, e.g. .jpg.
    """
    labels_csv = Path(labels_csv)
    table = read_rows(labels_csv)
    if not table:
        raise SynthError(f"{labels_csv}: no rows to preview")
    order = sorted(range(len(table)), key=lambda i: float(table[i]["mean"]))
    n = min(columns * rows, len(order))
    picks = [order[round(j)] for j in np.linspace(0, len(order) - 1, n)]
    cells = [
        _thumb(
            labels_csv.parent / table[i]["path"],
            float(table[i]["mean"]),
            table[i]["kind"],
            _defect_text(table[i]),
            thumb,
        )
        for i in picks
    ]
    blank = np.full_like(cells[0], 255)
    cells += [blank] * (-len(cells) % columns)
    grid = np.vstack([np.hstack(cells[r : r + columns]) for r in range(0, len(cells), columns)])
    sheet = np.vstack([grid, _histogram(np.array([float(r["mean"]) for r in table]), grid.shape[1])])
    ok, buf = cv2.imencode(Path(out_png).suffix or ".png", sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise SynthError(f"{out_png}: cannot encode the preview (use .png or .jpg)")
    return atomic_write_bytes(out_png, buf.tobytes(), force=force)
