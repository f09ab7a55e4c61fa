"""Compare our ok/retake verdicts with two peers that install here, on the same labelled images.

    .venv/bin/python studies/compare_peers.py LABELS.csv --model MODEL.tflite [--limit N]
        [--out docs/peers.md] [--json FILE] [--peers-venv DIR] [--force]

Peers (docs/peers.md): BRISQUE (the `brisque` package, lower = better, no verdict of its own) and
`image-quality-ai` (0-100 score and a `usable` verdict). They are not project dependencies: they run
in their own venv (--peers-venv, default /tmp/peers if it exists, else .cache/peers, created on first
use) through this same file in worker mode (`--worker`), which prints one JSON object a line.
Ours runs through `nima score --json --model MODEL` from the project's venv.

Ground truth: label mean >= 5.0 is ok, else retake. Per method: |Spearman| of its continuous score
with the label mean (sign kept), accuracy and balanced accuracy of its verdict, share refused per
kind (junk vs documents) and per defect (severity > 0.5), and time per image. BRISQUE's cut-off is
fitted on one half of the images (even rows) and every binary number is reported on the other half.

The worker imports only what the peers venv has (numpy, OpenCV, brisque, image_quality_ai); the
report side needs numpy and scipy. nima_edge is imported only for atomic writing of the outputs.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import itertools
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

OK_THRESHOLD = 5.0  # label mean at or above which a capture is "ok" (the model's retake line)
DEFECT_PRESENT = 0.5  # severity above which an image counts as having that defect
BRISQUE_LONG_SIDE = 512  # BRISQUE is pure-Python convolutions: ~10 s on a 1600 px frame, <1 s here
JUNK_KINDS = ("junk", "user_junk")
# brisque 0.2.0 calls float() on 1-element arrays, an error from numpy 2.4 on: pin numpy below it.
PEER_PACKAGES = ("brisque", "image-quality-ai", "opencv-python-headless", "numpy<2.4")
PEER_IMPORTS = "import cv2, brisque, image_quality_ai"
ROOT = Path(__file__).resolve().parents[1]
BEGIN_MARK = "<!-- compare_peers:begin -->"
END_MARK = "<!-- compare_peers:end -->"


class CompareError(Exception):
    """A problem with the inputs or a tool this comparison runs, with a one-line message."""


# --------------------------------------------------------------------------- worker (peers venv)

def run_worker(paths: list[str]) -> None:
    """Score each path with both peers and print one JSON line per image (the peers venv side)."""
    import cv2
    import image_quality_ai
    from brisque import BRISQUE

    brisque = BRISQUE(url=False)
    for path in paths:
        print(json.dumps(_score_one_with_peers(path, brisque, cv2, image_quality_ai)), flush=True)


def _score_one_with_peers(path, brisque, cv2, image_quality_ai) -> dict:
    row = {"path": path}
    try:
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError("OpenCV cannot decode it")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # decoded once, outside every timing, as ours is
        started = time.perf_counter()
        small = _resize_long_side(rgb, BRISQUE_LONG_SIDE, cv2)
        value = float(brisque.score(small))
        row["brisque"] = None if math.isnan(value) else value  # NaN: its feature fit failed
        row["brisque_ms"] = (time.perf_counter() - started) * 1000.0
        started = time.perf_counter()
        report = image_quality_ai.assess(rgb)
        row["iqa_ms"] = (time.perf_counter() - started) * 1000.0
        row["iqa_score"] = float(report.score)
        row["iqa_usable"] = bool(report.usable)
    except Exception as exc:  # noqa: BLE001 - third-party code: any failure on one image is that row's error
        row["error"] = f"{type(exc).__name__}: {exc}"
    return row


def _resize_long_side(image, long_side: int, cv2):
    height, width = image.shape[:2]
    scale = long_side / max(height, width)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


# --------------------------------------------------------------------------- inputs

@dataclass
class LabelledImage:
    path: str  # absolute
    mean: float
    kind: str
    defects: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.mean >= OK_THRESHOLD


def read_labels(csv_path: Path, limit: int | None) -> list[LabelledImage]:
    """The first `limit` rows of a synthetic labels.csv whose image file exists."""
    try:
        with open(csv_path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise CompareError(f"{csv_path}: cannot read ({exc.strerror or exc})") from None
    if not rows or not {"path", "mean", "kind"} <= set(rows[0]):
        raise CompareError(f"{csv_path}: not a synthetic labels.csv (needs path, mean, kind columns)")
    images = []
    for row in rows:
        path = (csv_path.parent / row["path"]).resolve()
        if not path.is_file():
            print(f"{path}: missing, skipped", file=sys.stderr)
            continue
        defects = {k[len("defect_"):]: float(v) for k, v in row.items() if k.startswith("defect_") and v}
        images.append(LabelledImage(str(path), float(row["mean"]), row["kind"], defects))
        if limit and len(images) >= limit:
            break
    if len(images) < 4:
        raise CompareError(f"{csv_path}: only {len(images)} readable images; need at least 4")
    return images


# --------------------------------------------------------------------------- running the methods

def run_ours(model: Path, paths: list[str]) -> tuple[dict[str, dict], float]:
    """`nima score --json` over the paths, one thread (the machine is shared); rows by path, wall s."""
    nima = Path(sys.executable).with_name("nima")
    command = [str(nima), "score", "--json", "--model", str(model), "--threads", "1", "--workers", "1"]
    started = time.perf_counter()
    done = subprocess.run(command + paths, check=False, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 2):  # 2 = some inputs failed, reported per row
        raise CompareError(f"nima score failed (exit {done.returncode}): {_last_line(done.stderr)}")
    return _rows_by_path(done.stdout), wall


def ensure_peers_venv(venv: Path) -> Path:
    """The peers venv's python, creating or completing the venv first (needs the network once)."""
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", PEER_IMPORTS], check=False, capture_output=True).returncode == 0:
        return python
    print(f"setting up the peers venv at {venv} ({' '.join(PEER_PACKAGES)})", file=sys.stderr)
    create = [] if python.exists() else [[sys.executable, "-m", "venv", str(venv)]]
    for command in [*create, [str(venv / "bin" / "pip"), "install", "-q", *PEER_PACKAGES]]:
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            raise CompareError(f"{venv}: cannot create the peers venv: {_last_line(done.stderr)}")
    return python


def run_peers(python: Path, paths: list[str]) -> tuple[dict[str, dict], float]:
    """This file in --worker mode inside the peers venv; rows by path, wall seconds."""
    started = time.perf_counter()
    done = subprocess.run([str(python), str(Path(__file__).resolve()), "--worker"],
                          input="\n".join(paths) + "\n", check=False, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise CompareError(f"peers worker failed (exit {done.returncode}): {_last_line(done.stderr)}")
    return _rows_by_path(done.stdout), wall


def _rows_by_path(stdout: str) -> dict[str, dict]:
    rows = {}
    for line in stdout.splitlines():
        if line.strip().startswith("{"):
            row = json.loads(line)
            rows[str(Path(row["path"]).resolve())] = row
    return rows


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"


# --------------------------------------------------------------------------- metrics

@dataclass
class MethodResult:
    """One method's continuous score (higher = better after `sign`) and refuse verdicts per image."""
    name: str
    scores: list[float]
    refused: list[bool]
    ms: list[float]
    sign: int = 1  # -1 when lower raw scores mean better quality (BRISQUE)
    note: str = ""


def spearman(x, y) -> float:
    import warnings

    from scipy.stats import spearmanr

    with warnings.catch_warnings():  # a constant bootstrap resample: NaN, skipped by the caller
        warnings.simplefilter("ignore")
        return float(spearmanr(x, y).statistic)


def binary_scores(truth_ok: list[bool], refused: list[bool]) -> tuple[float, float]:
    """Accuracy and balanced accuracy (mean of ok-recall and retake-recall) of a refuse verdict."""
    pairs = list(zip(truth_ok, refused))
    accuracy = sum(ok != ref for ok, ref in pairs) / len(pairs)
    recalls = []
    for label in (True, False):
        group = [ok != ref for ok, ref in pairs if ok == label]
        if group:
            recalls.append(sum(group) / len(group))
    return accuracy, sum(recalls) / len(recalls)


def fit_refuse_threshold(scores: list[float], truth_ok: list[bool]) -> float:
    """The cut-off on a lower-is-better score that maximises balanced accuracy: refuse above it."""
    candidates = sorted(set(scores))
    cuts = [(a + b) / 2 for a, b in itertools.pairwise(candidates)] or candidates
    cuts = [candidates[0] - 1.0, *cuts, candidates[-1] + 1.0]
    return max(cuts, key=lambda cut: binary_scores(truth_ok, [s > cut for s in scores])[1])


def bootstrap_interval(n: int, statistic, resamples: int = 1000) -> tuple[float, float]:
    """95% percentile interval of `statistic(indices)` over resamples of 0..n-1 (fixed seed).

    With a hundred images the intervals are wide; the table shows them so nobody reads a 0.03
    difference as a ranking.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    values = []
    for _ in range(resamples):
        value = statistic(rng.integers(0, n, n).tolist())
        if not math.isnan(value):  # a constant resample has no Spearman
            values.append(value)
    if not values:
        return float("nan"), float("nan")
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def split_halves(n: int) -> tuple[list[int], list[int]]:
    """Even rows fit thresholds, odd rows are reported: deterministic and spread over the CSV."""
    return list(range(0, n, 2)), list(range(1, n, 2))


def build_methods(images, ours, peers, ours_wall, peers_wall) -> tuple[list[MethodResult], list[LabelledImage], dict]:
    """Keep the images every method scored; return the three methods' results and the BRISQUE fit."""
    kept, dropped = [], []
    for image in images:
        mine, theirs = ours.get(image.path, {}), peers.get(image.path, {})
        problem = mine.get("error") or theirs.get("error")
        if "verdict" not in mine and not problem:
            problem = "no output from nima score"
        if theirs.get("brisque") is None and not problem:
            problem = "BRISQUE returned NaN (its feature fit fails on this frame)"
        if problem:
            dropped.append(f"{image.path}: {problem}")
        else:
            kept.append(image)
    for line in dropped:
        print(f"{line}, left out", file=sys.stderr)
    if len(kept) < 4:
        raise CompareError(f"only {len(kept)} images were scored by every method; need at least 4")
    truth_ok = [image.ok for image in kept]
    brisque = [peers[i.path]["brisque"] for i in kept]
    fit, _ = split_halves(len(kept))
    cut = fit_refuse_threshold([brisque[i] for i in fit], [truth_ok[i] for i in fit])
    methods = [
        MethodResult("nima-edge (ours)", [ours[i.path]["mean"] for i in kept],
                     [ours[i.path]["verdict"] != "ok" for i in kept],
                     [ours[i.path].get("ms", float("nan")) for i in kept],
                     note="its own verdict (the model's threshold; OpenCV checks on)"),
        MethodResult("BRISQUE", brisque, [s > cut for s in brisque],
                     [peers[i.path]["brisque_ms"] for i in kept], sign=-1,
                     note=f"refuse when score > {cut:.1f}, cut fitted on the even rows"),
        MethodResult("image-quality-ai", [peers[i.path]["iqa_score"] for i in kept],
                     [not peers[i.path]["iqa_usable"] for i in kept],
                     [peers[i.path]["iqa_ms"] for i in kept], note="its own `usable`"),
    ]
    info = {"brisque_cut": cut, "dropped": dropped, "ours_wall_s": ours_wall, "peers_wall_s": peers_wall}
    return methods, kept, info


def summarise(method: MethodResult, images: list[LabelledImage]) -> dict:
    """Every number the table shows for one method, as plain JSON-able values."""
    truth_ok = [image.ok for image in images]
    _, held_out = split_halves(len(images))
    rho = spearman(method.scores, [image.mean for image in images])
    acc, bal = binary_scores([truth_ok[i] for i in held_out], [method.refused[i] for i in held_out])
    acc_all, bal_all = binary_scores(truth_ok, method.refused)
    ms = sorted(method.ms)
    means = [image.mean for image in images]
    srcc_low, srcc_high = bootstrap_interval(
        len(images), lambda idx: abs(spearman([method.scores[i] for i in idx], [means[i] for i in idx])))
    bal_low, bal_high = bootstrap_interval(len(held_out), lambda idx: binary_scores(
        [truth_ok[held_out[i]] for i in idx], [method.refused[held_out[i]] for i in idx])[1])
    return {
        "method": method.name, "note": method.note,
        "srcc": abs(rho), "srcc_sign": "+" if rho >= 0 else "-", "srcc_95": [srcc_low, srcc_high],
        "accuracy_held_out": acc, "balanced_accuracy_held_out": bal,
        "balanced_accuracy_held_out_95": [bal_low, bal_high],
        "accuracy_all": acc_all, "balanced_accuracy_all": bal_all,
        "refused_by_kind": _refused_share(method, images, _kind_groups(images)),
        "refused_by_defect": _refused_share(method, images, _defect_groups(images)),
        "median_ms": ms[len(ms) // 2],
    }


def _kind_groups(images) -> dict[str, list[int]]:
    groups = {"documents, labelled ok": [], "documents, labelled retake": [], "junk": []}
    for index, image in enumerate(images):
        if image.kind in JUNK_KINDS:
            groups["junk"].append(index)
        else:
            groups["documents, labelled " + ("ok" if image.ok else "retake")].append(index)
    return groups


def _defect_groups(images) -> dict[str, list[int]]:
    names = sorted({name for image in images for name in image.defects if name != "not_document"})
    return {name: [i for i, image in enumerate(images) if image.defects.get(name, 0.0) > DEFECT_PRESENT]
            for name in names}


def _refused_share(method, images, groups) -> dict[str, list]:
    """group -> [share refused, number of images] (share None for an empty group)."""
    return {name: [sum(method.refused[i] for i in idx) / len(idx) if idx else None, len(idx)]
            for name, idx in groups.items()}


# --------------------------------------------------------------------------- report

def render_markdown(summaries: list[dict], images, info: dict, command: str) -> str:
    n = len(images)
    _, held_out = split_halves(n)
    retake = sum(not image.ok for image in images)
    lines = [
        BEGIN_MARK,
        f"Command: `{command}`  ",
        (f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; machine: "
         f"{platform.machine()} Linux, {os.cpu_count()} cores shared with other jobs (times are indicative).  "),
        (f"Images: {n} ({retake} labelled retake = mean < {OK_THRESHOLD:g}); binary columns on the "
         f"{len(held_out)} held-out (odd) rows, BRISQUE's cut fitted on the other {n - len(held_out)}."
         " Brackets: 95% bootstrap intervals."),
        *_dropped_lines(info["dropped"]),
        "",
        ("| method | SRCC with label mean (sign) | accuracy, held-out | balanced acc., held-out "
         "| balanced acc., all rows | median ms / image | verdict rule |"),
        "|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        lines.append(
            f"| {s['method']} | {s['srcc']:.2f} ({s['srcc_sign']}) {_interval(s['srcc_95'])} | "
            f"{s['accuracy_held_out']:.2f} | {s['balanced_accuracy_held_out']:.2f} "
            f"{_interval(s['balanced_accuracy_held_out_95'])} | {s['balanced_accuracy_all']:.2f} | "
            f"{s['median_ms']:.0f} | {s['note']} |")
    lines += ["", "Share refused (all rows; for BRISQUE the even rows are in-sample for its cut):", ""]
    lines += _breakdown_table(summaries, images, "refused_by_kind", "kind")
    lines += ["", f"Share refused per defect (severity > {DEFECT_PRESENT}; the recall of that defect):", ""]
    lines += _breakdown_table(summaries, images, "refused_by_defect", "defect")
    lines += ["", (f"Wall time: nima score {info['ours_wall_s']:.1f} s (1 thread, incl. start-up), "
                   f"both peers {info['peers_wall_s']:.1f} s. BRISQUE ms include the resize to "
                   f"{BRISQUE_LONG_SIDE} px long side; ours are the `ms` nima score reports (checks, "
                   "resize, inference). No method's ms include JPEG decoding."), END_MARK]
    return "\n".join(lines) + "\n"


def _dropped_lines(dropped: list[str]) -> list[str]:
    if not dropped:
        return []
    shown = [f"- left out for every method: `{line}`" for line in dropped[:5]]
    return ["", *shown, *([f"- … and {len(dropped) - 5} more"] if len(dropped) > 5 else [])]


def _breakdown_table(summaries, images, key: str, label: str) -> list[str]:
    groups = list(summaries[0][key])
    truth = _truth_shares(images, groups, key)
    head = f"| {label} | n | labelled retake | " + " | ".join(s["method"] for s in summaries) + " |"
    lines = [head, "|---|---|---|" + "---|" * len(summaries)]
    for group in groups:
        count = summaries[0][key][group][1]
        cells = [_pct(s[key][group][0]) for s in summaries]
        lines.append(f"| {group} | {count} | {_pct(truth[group])} | " + " | ".join(cells) + " |")
    return lines


def _truth_shares(images, groups, key) -> dict:
    index = _kind_groups(images) if key == "refused_by_kind" else _defect_groups(images)
    return {g: (sum(not images[i].ok for i in index[g]) / len(index[g]) if index[g] else None) for g in groups}


def _interval(bounds) -> str:
    return f"[{bounds[0]:.2f}, {bounds[1]:.2f}]"


def _pct(share) -> str:
    return "–" if share is None else f"{100 * share:.0f}%"


def check_report_target(out: Path, force: bool) -> None:
    """Fail before any scoring when the report could not be written."""
    if out.exists() and not force:
        text = out.read_text()
        if BEGIN_MARK not in text or END_MARK not in text:
            raise CompareError(f"{out}: exists without {BEGIN_MARK} markers (use --force to overwrite)")


def write_report(out: Path, section: str, force: bool) -> None:
    """Replace the marked section of an existing report, or write a new file holding just the section."""
    from nima_edge.runtime.fileio import atomic_output

    if out.exists():
        text = out.read_text()
        if BEGIN_MARK in text and END_MARK in text:
            head, rest = text.split(BEGIN_MARK, 1)
            section = head + section.rstrip("\n") + rest.split(END_MARK, 1)[1]
            force = True  # only the generated section changes
        elif not force:
            raise CompareError(f"{out}: exists without {BEGIN_MARK} markers (use --force to overwrite)")
    with atomic_output(out, force=force) as tmp:
        tmp.write_text(section)


def write_json(path: Path, payload: dict, force: bool) -> None:
    from nima_edge.runtime.fileio import atomic_output

    with atomic_output(path, force=force) as tmp:
        tmp.write_text(json.dumps(payload, indent=2) + "\n")


# --------------------------------------------------------------------------- main

def default_peers_venv() -> Path:
    return Path("/tmp/peers") if Path("/tmp/peers/bin/python").exists() else ROOT / ".cache" / "peers"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("labels", type=Path, help="a synthetic labels.csv (nima synth)")
    parser.add_argument("--model", type=Path, required=True, help="our .tflite (nima export)")
    parser.add_argument("--limit", type=int, default=100, help="first N images (default 100)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "peers.md",
                        help="markdown report; an existing one has its marked section replaced")
    parser.add_argument("--json", type=Path, help="also write every number as JSON")
    parser.add_argument("--peers-venv", type=Path, default=None,
                        help="venv with brisque and image-quality-ai (default /tmp/peers, else .cache/peers)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --json file or an --out file without the markers")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        run_worker([line.strip() for line in sys.stdin if line.strip()])
        return 0
    args = parse_args(argv)
    from nima_edge.runtime.fileio import OutputError  # project venv only: the worker never gets here

    try:
        if not args.model.is_file():
            raise CompareError(f"{args.model}: no such model file")
        if args.limit < 4:
            raise CompareError(f"--limit {args.limit}: need at least 4 images")
        check_report_target(args.out, args.force)
        if args.json and args.json.exists() and not args.force:
            raise CompareError(f"{args.json}: already exists (use --force to overwrite)")
        images = read_labels(args.labels, args.limit)
        paths = [image.path for image in images]
        python = ensure_peers_venv(args.peers_venv or default_peers_venv())
        print(f"scoring {len(paths)} images with nima score ...", file=sys.stderr)
        ours, ours_wall = run_ours(args.model, paths)
        print("scoring with BRISQUE and image-quality-ai ...", file=sys.stderr)
        peers, peers_wall = run_peers(python, paths)
        methods, kept, info = build_methods(images, ours, peers, ours_wall, peers_wall)
        summaries = [summarise(method, kept) for method in methods]
        command = "studies/compare_peers.py " + shlex.join(argv)
        section = render_markdown(summaries, kept, info, command)
        write_report(args.out, section, force=args.force)
        if args.json:
            write_json(args.json, {"command": command, "images": len(kept), **info,
                                   "methods": summaries}, args.force)
    except (CompareError, OutputError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
