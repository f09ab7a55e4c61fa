"""Dataset readers: AVA.txt, TID2013 mos_with_names.txt, idealo-style JSON and CSV -> Samples.

Readers never touch pixels; they turn a label file into image paths and target distributions
over the score bins. Bad rows and missing images are counted, reported once with a few
examples, and skipped. No TensorFlow here (evaluation of .tflite models uses these too).
"""
from __future__ import annotations

import csv
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from nima_edge.runtime.errors import NimaError
from nima_edge.runtime.strict import parse_json

log = logging.getLogger(__name__)

FORMATS = ("ava", "tid2013", "json", "csv")
MAX_LABEL_FILE_BYTES = 2**31  # a JSON label file is read whole: AVA's 255,000 rows are ~40 MB
MEAN_TOLERANCE = 0.01  # of a bin: how far a CSV's 'mean' may sit from its votes' mean (rounding only)
AVA_VALUES: tuple[float, ...] = tuple(float(v) for v in range(1, 11))
# TID2013's MOS comes from pairwise comparisons and lies in 0..9.
TID_VALUES: tuple[float, ...] = tuple(float(v) for v in range(10))
# When a label gives only a mean, the distribution gets this std (in bin spacings): close to
# AVA's typical per-image vote std (about 1.4 on its 1..10 scale).
DEFAULT_STD_BINS = 1.5
MAX_EXAMPLES = 3


class DataError(NimaError):
    """A label file that cannot be read at all, or yields no usable sample."""


@dataclass
class Problems:
    """Bad rows and missing images: counted, reported once with a few examples."""

    bad_rows: int = 0
    missing_images: int = 0
    unreadable_images: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, example: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        bucket = self.examples.setdefault(kind, [])
        if len(bucket) < MAX_EXAMPLES:
            bucket.append(example)

    @property
    def total(self) -> int:
        return self.bad_rows + self.missing_images + self.unreadable_images

    def summary(self, source: str) -> str:
        parts = []
        for kind in ("bad_rows", "missing_images", "unreadable_images"):
            count = getattr(self, kind)
            if count:
                shown = "; ".join(self.examples.get(kind, []))
                parts.append(f"{count} {kind.replace('_', ' ')} (e.g. {shown})")
        return f"{source}: skipped " + ", ".join(parts) if parts else f"{source}: no problems"

    def to_dict(self) -> dict:
        return {"bad_rows": self.bad_rows, "missing_images": self.missing_images,
                "unreadable_images": self.unreadable_images, "examples": self.examples}


@dataclass
class Samples:
    """Images with their target distributions (rows sum to 1) and optional defect severities."""

    paths: list[Path]
    targets: np.ndarray  # (n, bins) float32
    score_values: tuple[float, ...]
    defects: np.ndarray | None = None  # (n, len(defect_labels)) float32 in 0..1
    defect_labels: tuple[str, ...] = ()
    problems: Problems = field(default_factory=Problems)
    source: str = ""

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def means(self) -> np.ndarray:
        return self.targets.astype(np.float64) @ np.asarray(self.score_values, dtype=np.float64)

    @property
    def stds(self) -> np.ndarray:
        values = np.asarray(self.score_values, dtype=np.float64)
        var = self.targets @ values**2 - self.means**2
        return np.sqrt(np.maximum(var, 0.0))

    def subset(self, index: Sequence[int] | np.ndarray) -> Samples:
        index = np.asarray(index, dtype=np.int64)
        return Samples([self.paths[i] for i in index], self.targets[index], self.score_values,
                       None if self.defects is None else self.defects[index], self.defect_labels,
                       self.problems, self.source)

    def drop(self, bad: set[int]) -> Samples:
        return self.subset([i for i in range(len(self)) if i not in bad])

    @classmethod
    def concat(cls, parts: Sequence[Samples]) -> Samples:
        """One set from several label files, which must agree on the score bins and defect labels."""
        first = parts[0]
        for other in parts[1:]:
            if other.score_values != first.score_values:
                raise DataError(f"{other.source}: score values {other.score_values} differ from "
                                f"{first.source}'s {first.score_values}")
            if other.defect_labels != first.defect_labels:
                raise DataError(f"{other.source}: defect columns {list(other.defect_labels)} differ from "
                                f"{first.source}'s {list(first.defect_labels)}")
        problems = Problems()
        for part in parts:
            for kind in ("bad_rows", "missing_images", "unreadable_images"):
                setattr(problems, kind, getattr(problems, kind) + getattr(part.problems, kind))
        defects = None if first.defects is None else np.concatenate([p.defects for p in parts])
        return cls([path for p in parts for path in p.paths], np.concatenate([p.targets for p in parts]),
                   first.score_values, defects, first.defect_labels, problems, " + ".join(p.source for p in parts))


def gaussian_distribution(mean: float, std: float, values: Sequence[float]) -> np.ndarray:
    """A distribution over ``values`` with the given mean and std: a discretised Gaussian.

    Why a Gaussian: among distributions with a given mean and variance it has maximum entropy,
    i.e. it adds no information the label does not carry (the NIMA paper does the same for
    TID2013, which publishes MOS and std but no vote histograms). Why the fit: sampling
    exp(-(v - m)^2 / 2s^2) at the bin values and cutting it at the scale's ends pulls the mean
    inward near the ends, so m and s are adjusted (a few fixed-point steps) until the discrete
    distribution reproduces the stated mean and std as closely as the bins allow.
    """
    v = np.asarray(values, dtype=np.float64)
    spacing = float(np.mean(np.diff(v)))
    std = max(float(std), 0.05 * spacing)
    mean = float(np.clip(mean, v[0], v[-1]))
    centre, width = mean, std
    p = _gaussian(v, centre, width)
    for _ in range(50):
        got_mean = float(p @ v)
        got_std = math.sqrt(max(float(p @ v**2) - got_mean**2, 1e-12))
        if abs(got_mean - mean) < 1e-4 * spacing and abs(got_std - std) < 1e-4 * spacing:
            break
        centre += mean - got_mean
        width = float(np.clip(width * std / got_std, 0.05 * spacing, v[-1] - v[0]))
        p = _gaussian(v, centre, width)
    # Near the ends some (mean, std) pairs are impossible on the bins; the mean matters more, so
    # settle it last by bisection on the centre (the mean rises monotonically with the centre).
    def mean_at(c: float) -> float:
        return float(_gaussian(v, c, width) @ v)

    low, high, reach = centre - spacing, centre + spacing, v[-1] - v[0]
    for _ in range(60):  # widen the bracket until it holds the target mean
        if mean_at(low) <= mean <= mean_at(high):
            break
        low, high, reach = low - reach, high + reach, 2 * reach
    for _ in range(100):
        if abs(float(p @ v) - mean) < 1e-5 * spacing:
            break
        centre = (low + high) / 2
        p = _gaussian(v, centre, width)
        if float(p @ v) < mean:
            low = centre
        else:
            high = centre
    return p.astype(np.float32)


def _gaussian(v: np.ndarray, centre: float, width: float) -> np.ndarray:
    logits = -((v - centre) ** 2) / (2 * width**2)
    p = np.exp(logits - logits.max())
    return p / p.sum()


def votes_to_distribution(votes: Sequence[float]) -> np.ndarray:
    counts = np.asarray(votes, dtype=np.float64)
    if counts.ndim != 1 or not np.all(np.isfinite(counts)) or np.any(counts < 0) or counts.sum() <= 0:
        raise ValueError("vote counts must be non-negative numbers with a positive total")
    return (counts / counts.sum()).astype(np.float32)


def read_dataset(data: str | Path, fmt: str, images: str | Path | None = None,
                 score_values: Sequence[float] | None = None, limit: int | None = None,
                 check_images: bool = True) -> Samples:
    """Read a label file of format ``fmt`` (one of FORMATS) -> Samples.

    ``images``: the folder holding the images (AVA, JSON; TID2013 defaults to the label file's
    ``distorted_images`` folder; CSV paths are relative to the CSV's folder unless given).
    ``score_values``: the bins' values; formats with fixed scales (AVA) insist on their own count.
    ``limit``: keep the first N rows. Missing image files are counted and skipped.
    """
    data = Path(data)
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if not data.is_file():
        raise DataError(f"{data}: no such label file")
    reader = {"ava": _read_ava, "tid2013": _read_tid2013, "json": _read_json, "csv": _read_csv}[fmt]
    samples = reader(data, Path(images) if images else None,
                     tuple(float(v) for v in score_values) if score_values else None, limit)
    samples.source = str(data)
    if check_images:
        missing = set()
        for i, path in enumerate(samples.paths):
            if not path.is_file():
                samples.problems.add("missing_images", str(path))
                missing.add(i)
        if missing:
            samples = samples.drop(missing)
    if samples.problems.total:
        log.warning("%s", samples.problems.summary(str(data)))
    if len(samples) == 0:
        raise DataError(f"{data}: no usable samples ({samples.problems.summary('labels')})")
    return samples


def read_datasets(data: Sequence[str | Path], fmt: str, images: str | Path | None = None,
                  score_values: Sequence[float] | None = None, limit: int | None = None) -> Samples:
    """read_dataset over several label files of one format, concatenated in order (``limit`` per file)."""
    return Samples.concat([read_dataset(d, fmt, images, score_values, limit) for d in data])


def _check_values(given: tuple[float, ...] | None, bins: int, default: tuple[float, ...], data: Path) -> tuple:
    if bins < 2:
        raise DataError(f"{data}: the labels have {bins} score bin(s); a distribution needs at least 2")
    if given is None:
        if len(default) != bins:
            return tuple(float(v) for v in range(1, bins + 1))
        return default
    if len(given) != bins:
        raise DataError(f"{data}: the labels have {bins} bins but {len(given)} score values were asked for")
    return given


def _read_ava(data: Path, images: Path | None, values, limit) -> Samples:
    """AVA.txt: index, image id, 10 vote counts (scores 1..10), two tag ids, challenge id."""
    if images is None:
        images = data.parent / "images"
    values = _check_values(values, 10, AVA_VALUES, data)
    problems = Problems()
    paths, targets = [], []
    for number, line in _lines(data, limit):
        fields = line.split()
        try:
            if len(fields) != 15:
                raise ValueError(f"expected 15 fields, got {len(fields)}")
            image_id = fields[1]
            targets.append(votes_to_distribution([float(x) for x in fields[2:12]]))
            paths.append(images / f"{image_id}.jpg")
        except ValueError as exc:
            problems.add("bad_rows", f"line {number}: {exc}")
    return Samples(paths, _stack(targets, 10), values, problems=problems)


def _read_tid2013(data: Path, images: Path | None, values, limit) -> Samples:
    """mos_with_names.txt: "<MOS> <file name>" per line; MOS in 0..9; mos_std.txt beside it if present."""
    if images is None:
        images = data.parent / "distorted_images"
        if not images.is_dir():
            images = data.parent
    values = _check_values(values, 10, TID_VALUES, data)
    stds = _tid_stds(data.parent / "mos_std.txt")
    spacing = float(np.mean(np.diff(values)))
    problems = Problems()
    paths, targets = [], []
    for index, (number, line) in enumerate(_lines(data, limit)):
        fields = line.split()
        try:
            if len(fields) != 2:
                raise ValueError(f"expected '<MOS> <file name>', got {len(fields)} fields")
            mos = float(fields[0])
            if not math.isfinite(mos) or not values[0] <= mos <= values[-1]:
                raise ValueError(f"MOS {fields[0]} outside {values[0]:g}..{values[-1]:g}")
            std = stds[index] if index < len(stds) else DEFAULT_STD_BINS * spacing
            targets.append(gaussian_distribution(mos, std, values))
            paths.append(_case_insensitive(images, fields[1]))
        except ValueError as exc:
            problems.add("bad_rows", f"line {number}: {exc}")
    return Samples(paths, _stack(targets, len(values)), values, problems=problems)


def _tid_stds(path: Path) -> list[float]:
    if not path.is_file():
        return []
    stds = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            stds.append(float(line.split()[0]))
        except (ValueError, IndexError):
            stds.append(float("nan"))
    return [s if math.isfinite(s) and s > 0 else 1.0 for s in stds]


def _case_insensitive(folder: Path, name: str) -> Path:
    """TID2013 lists some names in a different case than the files on disk."""
    path = folder / name
    if path.exists():
        return path
    for variant in (name.lower(), name.upper(), name[:1].upper() + name[1:].lower()):
        if (folder / variant).exists():
            return folder / variant
    return path


def _read_json(data: Path, images: Path | None, values, limit) -> Samples:
    """idealo-style: [{"image_id": "...", "label": [counts per bin]}, ...]."""
    if images is None:
        images = data.parent / "images"
    try:
        rows = parse_json(data.read_bytes(), MAX_LABEL_FILE_BYTES)
    except ValueError as exc:
        raise DataError(f"{data}: not valid JSON ({exc})") from None
    if not isinstance(rows, list):
        raise DataError(f"{data}: expected a JSON list of {{'image_id', 'label'}} objects")
    problems = Problems()
    paths, targets, bins = [], [], None
    for number, row in enumerate(rows[:limit] if limit else rows):
        try:
            if not isinstance(row, dict) or "image_id" not in row or "label" not in row:
                raise ValueError("expected an object with 'image_id' and 'label'")
            label = row["label"]
            if not isinstance(label, list):
                raise TypeError("'label' must be a list of vote counts")
            bins = bins or len(label)
            if len(label) != bins:
                raise ValueError(f"{len(label)} vote counts where earlier rows have {bins}")
            targets.append(votes_to_distribution([float(x) for x in label]))
            name = str(row["image_id"])
            paths.append(images / (name if Path(name).suffix else f"{name}.jpg"))
        except (ValueError, TypeError) as exc:
            problems.add("bad_rows", f"item {number}: {exc}")
    bins = bins or (len(values) if values else 10)
    values = _check_values(values, bins, AVA_VALUES, data)
    return Samples(paths, _stack(targets, bins), values, problems=problems)


def _read_csv(data: Path, images: Path | None, values, limit) -> Samples:
    """CSV: ``path`` (relative to the CSV's folder), votes_1..votes_N or mean (+ std), defect_<name>."""
    root = images or data.parent
    try:
        handle = data.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{data}: cannot read ({exc.strerror or exc})") from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            paths, targets, defects, labels, values, bins, problems = _csv_rows(reader, data, root, values, limit)
        except (UnicodeDecodeError, csv.Error) as exc:
            # the file as a whole is unreadable past this point (not UTF-8 text, a field over
            # csv's 128 kB limit): one line naming it, not a traceback
            if isinstance(exc, UnicodeDecodeError):  # decoded in blocks: the line is where reading stopped
                raise DataError(f"{data}: near line {reader.line_num + 1}: not UTF-8 text ({exc.reason})") from None
            raise DataError(f"{data}: line {reader.line_num}: {exc}") from None
    defect_array = np.asarray(defects, dtype=np.float32).reshape(len(paths), len(labels)) if labels else None
    return Samples(paths, _stack(targets, bins), values, defect_array, labels, problems)


def _csv_rows(reader: csv.DictReader, data: Path, root: Path, values, limit):
    columns = reader.fieldnames or []
    if "path" not in columns:
        raise DataError(f"{data}: no 'path' column (columns are {', '.join(columns) or 'none'})")
    vote_columns = _vote_columns(columns, data)
    if not vote_columns and "mean" not in columns:
        raise DataError(f"{data}: needs vote columns votes_1..votes_N or a 'mean' column")
    defect_columns = [c for c in columns if c.startswith("defect_") and len(c) > 7]
    bins = len(vote_columns) if vote_columns else (len(values) if values else 10)
    values = _check_values(values, bins, AVA_VALUES, data)
    spacing = float(np.mean(np.diff(values)))
    check_mean = bool(vote_columns) and "mean" in columns  # both given: they must tell the same story
    problems = Problems()
    paths, targets, defects = [], [], []
    disagree = 0
    for number, row in enumerate(reader, start=2):
        if limit and len(paths) + problems.bad_rows >= limit:
            break
        try:
            if not row.get("path"):
                raise ValueError("empty path")
            if vote_columns:
                target = votes_to_distribution([float(row[c]) for c in vote_columns])
                if check_mean and row.get("mean") not in (None, ""):
                    implied = float(np.dot(target, values))
                    if abs(implied - float(row["mean"])) > MEAN_TOLERANCE * spacing:
                        disagree += 1
                        raise ValueError(f"the votes' mean {implied:.3f} is not the 'mean' column's {row['mean']}")
            else:
                mean = float(row["mean"])
                std = float(row["std"]) if row.get("std") not in (None, "") else DEFAULT_STD_BINS * spacing
                if not (math.isfinite(mean) and values[0] <= mean <= values[-1]):
                    raise ValueError(f"mean {row['mean']} outside {values[0]:g}..{values[-1]:g}")
                if not (math.isfinite(std) and std >= 0):
                    raise ValueError(f"std {row['std']} is not a non-negative number")
                target = gaussian_distribution(mean, std, values)
            severities = [float(row[c]) for c in defect_columns]
            if not all(0.0 <= s <= 1.0 for s in severities):
                raise ValueError("defect severities must lie in 0..1")
        except (ValueError, TypeError) as exc:
            problems.add("bad_rows", f"line {number}: {exc}")
            continue
        paths.append(root / row["path"])
        targets.append(target)
        defects.append(severities)
    if disagree and disagree >= len(paths):
        raise DataError(f"{data}: in {disagree} rows the votes {vote_columns[0]}..{vote_columns[-1]} disagree with the "
                        "'mean' column: is a votes_N column missing?")
    labels = tuple(c[len("defect_"):] for c in defect_columns)
    return paths, targets, defects, labels, values, bins, problems


def _vote_columns(columns: list[str], data: Path) -> list[str]:
    votes = [c for c in columns if c.startswith("votes_")]
    if not votes:
        return []
    expected = [f"votes_{i}" for i in range(1, len(votes) + 1)]
    if sorted(votes, key=lambda c: int(c[6:]) if c[6:].isdigit() else -1) != expected:
        raise DataError(f"{data}: vote columns must be votes_1..votes_N, got {', '.join(votes)}")
    return expected


def _lines(path: Path, limit: int | None):
    """(line number, stripped text) of non-blank lines, at most ``limit`` of them."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    taken = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if limit and taken >= limit:
            return
        taken += 1
        yield number, line.strip()


def _stack(targets: list[np.ndarray], bins: int) -> np.ndarray:
    return np.stack(targets).astype(np.float32) if targets else np.zeros((0, bins), np.float32)


def split_indices(n: int, seed: int, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic train/val/test split of range(n) by ``seed``; val and test get >= 1 item when n >= 3."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(n * fractions[1])) if n >= 3 else 0
    n_test = max(1, round(n * fractions[2])) if n >= 3 else 0
    n_train = n - n_val - n_test
    return (np.sort(order[:n_train]), np.sort(order[n_train:n_train + n_val]),
            np.sort(order[n_train + n_val:]))
