"""`nima realcheck`: how a model decides on real photos held out by source (no TensorFlow).

Reads the holdout labels.csv that `nima realset` writes (columns ``group`` clean | degraded |
nondoc, ``degradation``, ``level`` mild | heavy, ``page``) and scores every image as `nima score`
does: the .tflite through the runtime, with the OpenCV checks (model + checks) and without them
(model alone). The report (targets from issue 17, see the model card):

* clean documents accepted, non-documents refused;
* refusal per degradation kind at mild and at heavy severity;
* same-page pairs in order: clean above heavy, clean above mild, mild above heavy;
* AUC of the score between good (clean documents) and bad (heavy degradations and non-documents).
"""
from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from nima_edge.runtime.checks import Checks
from nima_edge.runtime.errors import ImageError
from nima_edge.runtime.images import load_image
from nima_edge.runtime.policy import Assessor, Policy, decide
from nima_edge.runtime.scorer import Score, Scorer

from .data import DataError

MODES = ("model", "model+checks")
TARGETS = {"clean_accepted": 0.95, "nondoc_refused": 0.97, "heavy_refused_min": 0.90,
           "pairs_clean_gt_heavy": 0.97, "pairs_clean_gt_mild": 0.90}


@dataclass(frozen=True)
class Item:
    """One row of a holdout set."""

    path: Path
    group: str
    degradation: str
    level: str
    page: str
    source: str = ""


def read_holdout(labels: str | Path) -> list[Item]:
    labels = Path(labels)
    try:
        with labels.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{labels}: cannot read ({exc})") from None
    needed = {"path", "group", "degradation", "level", "page"}
    if not rows or needed - set(rows[0]):
        raise DataError(f"{labels}: not a `nima realset` holdout (needs columns {', '.join(sorted(needed))})")
    return [Item(labels.parent / r["path"], r["group"], r["degradation"], r["level"], r["page"], r.get("source", ""))
            for r in rows]


def score_items(items: Sequence[Item], scorer: Scorer, warn: Callable[[str], None] = print
                ) -> dict[str, list[tuple[float, bool] | None]]:
    """{mode: [(mean, ok) or None for an unreadable image]} for both MODES.

    Each image is decoded, checked, preprocessed and scored once, as ``scorer`` scores (with its
    mirror when the model says mirror_average and the scorer is not single_pass); the two modes
    differ only in whether runtime.policy.decide is given the checks.
    """
    assessor = Assessor(scorer, checks=True)
    values = np.asarray(scorer.metadata.score_values, dtype=np.float64)
    results: dict[str, list] = {mode: [] for mode in MODES}
    for item in items:
        inspected = inspect_item(item, assessor, warn)
        if inspected is None:
            for mode in MODES:
                results[mode].append(None)
            continue
        _, model_input, checks = inspected
        for mode, verdict in mode_verdicts(scorer.score_input(model_input), checks, values, assessor.policy).items():
            results[mode].append(verdict)
    return results


def inspect_item(item: Item, assessor: Assessor, warn: Callable[[str], None] = print
                 ) -> tuple[np.ndarray, np.ndarray, Checks | None] | None:
    """(image, model input, checks) of one holdout image, or None, warned, when it cannot be judged
    (undecodable, or too small): left out, as nima score would."""
    try:
        image = load_image(item.path)
        model_input, checks, _ = assessor.inspect(image)
    except ImageError as exc:
        warn(f"skipping {exc}" if str(item.path) in str(exc) else f"skipping {item.path}: {exc}")
        return None
    return image, model_input, checks


def mode_verdicts(score: Score, checks: Checks | None, values: np.ndarray,
                  policy: Policy) -> dict[str, tuple[float, bool]]:
    """{mode: (mean, ok)} for both MODES: runtime.policy.decide without the checks, then with them."""
    verdicts = {}
    for mode, seen in zip(MODES, (None, checks)):
        decision = decide(score, seen, values, policy)
        verdicts[mode] = (decision.mean, decision.ok)
    return verdicts


def auc(good: Sequence[float], bad: Sequence[float]) -> float:
    """P(a good image scores above a bad one), ties counting half (the Mann-Whitney U statistic)."""
    g, b = np.asarray(good, dtype=np.float64), np.asarray(bad, dtype=np.float64)
    if not len(g) or not len(b):
        return float("nan")
    greater = (g[:, None] > b[None, :]).sum() + 0.5 * (g[:, None] == b[None, :]).sum()
    return float(greater / (len(g) * len(b)))


def clean_and_heavy_cutoff(items: Sequence[Item], scores: Sequence[tuple[float, bool] | None]
                           ) -> tuple[list[float], list[float]]:
    """The means of the clean pages and of the heavy cut-offs, the two groups no threshold has
    yet told apart well enough for both targets (models/MODEL_CARD.md, "Nine tries, one line")."""
    rows = [(item, s[0]) for item, s in zip(items, scores) if s is not None]
    clean = [mean for item, mean in rows if item.group == "clean"]
    cut = [mean for item, mean in rows if item.degradation == "cutoff" and item.level == "heavy"]
    return clean, cut


def _share(flags: Sequence[bool]) -> float:
    return float(np.mean(flags)) if len(flags) else float("nan")


def report(items: Sequence[Item], scores: Sequence[tuple[float, bool] | None]) -> dict:
    """The figures of one mode (see the module docstring); unreadable images are left out."""
    rows = [(item, s) for item, s in zip(items, scores) if s is not None]
    clean = [s for i, s in rows if i.group == "clean"]
    by_source: dict[str, list[bool]] = defaultdict(list)
    for item, (_, ok) in rows:
        if item.group == "clean":
            by_source[item.source].append(ok)
    nondoc = [s for i, s in rows if i.group == "nondoc"]
    refused: dict[str, dict[str, float]] = defaultdict(dict)
    by_kind_level: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for item, (_, ok) in rows:
        if item.group == "degraded":
            by_kind_level[(item.degradation, item.level)].append(not ok)
    for (kind, level), flags in sorted(by_kind_level.items()):
        refused[kind][level] = _share(flags)
        refused[kind][f"{level}_n"] = len(flags)
    means: dict[tuple[str, str, str], float] = {}
    for item, (mean, _) in rows:
        means[(item.page, item.degradation, item.level)] = mean
    clean_mean = {page: m for (page, kind, _), m in means.items() if kind == ""}
    pairs: dict[str, list[bool]] = defaultdict(list)
    for (page, kind, level), m in means.items():
        if kind and page in clean_mean:
            pairs[f"clean_gt_{level}"].append(clean_mean[page] > m)
        if kind and level == "heavy" and (page, kind, "mild") in means:
            pairs["mild_gt_heavy"].append(means[(page, kind, "mild")] > m)
    heavy = [m for (page, kind, level), m in means.items() if level == "heavy"]
    heavy_refused = [refused[k]["heavy"] for k in refused if "heavy" in refused[k]]
    return {
        "n": len(rows),
        "clean_accepted": _share([ok for _, ok in clean]),
        "clean_n": len(clean),
        # which kind of document is refused: a source is one kind of page (scans, forms, notes)
        "clean_accepted_by_source": {src: _share(flags) for src, flags in sorted(by_source.items())},
        "nondoc_refused": _share([not ok for _, ok in nondoc]),
        "nondoc_n": len(nondoc),
        "heavy_refused_all": _share([f for (k, lv), fl in by_kind_level.items() if lv == "heavy" for f in fl]),
        "heavy_refused_min": min(heavy_refused) if heavy_refused else float("nan"),
        "refused": dict(refused),
        **{f"pairs_{name}": _share(flags) for name, flags in sorted(pairs.items())},
        "auc": auc([m for m, _ in clean], heavy + [m for m, _ in nondoc]),
    }


def read_holdouts(labels: Sequence[str | Path]) -> list[Item]:
    """The items of one holdout or of several pooled, each page named by its set's place in
    ``labels`` too: two sets may name pages alike, and a page is paired only with its own copies."""
    return [replace(item, page=f"{index}:{item.page}")
            for index, path in enumerate(labels) for item in read_holdout(path)]


def check(labels: Sequence[str | Path], model: str | Path | None, threads: int = 1,
          warn: Callable[[str], None] = print, single_pass: bool = False) -> dict:
    """Score one holdout or several, pooled, in both modes -> {"model": figures, "model+checks":
    figures, "targets": ...}."""
    items = read_holdouts(labels)
    scorer = Scorer(model, threads=threads, single_pass=single_pass)
    scores = score_items(items, scorer, warn)
    return {"labels": ", ".join(str(path) for path in labels), "model_file": str(model or "bundled"),
            "mirror_average": scorer.mirror_average,
            **{mode: report(items, scores[mode]) for mode in MODES}, "targets": TARGETS}


def percent(value: float) -> str:
    """A share as a table cell; n/a where the holdout has none of that group."""
    return "n/a" if math.isnan(value) else f"{100 * value:.0f}%"


def _row(label: str, model_alone: str, with_checks: str, target: str) -> str:
    return f"| {label} | {model_alone} | {with_checks} | {target} |"


def markdown(figures: dict) -> str:
    """The report as the table the model card and README show."""
    a, b = figures["model"], figures["model+checks"]
    nan = float("nan")
    lines = ["| real holdout | model alone | model + checks | target |", "|---|---|---|---|",
             _row(f"clean documents accepted (n={a['clean_n']})", percent(a["clean_accepted"]),
                  percent(b["clean_accepted"]), "≥ 95%"),
             *(_row(f"… from {src or 'unnamed source'}", percent(share), percent(b["clean_accepted_by_source"][src]), "")
               for src, share in a.get("clean_accepted_by_source", {}).items()),
             _row(f"non-documents refused (n={a['nondoc_n']})", percent(a["nondoc_refused"]),
                  percent(b["nondoc_refused"]), "≥ 97%"),
             _row("heavy degradations refused, all kinds", percent(a["heavy_refused_all"]),
                  percent(b["heavy_refused_all"]), ""),
             _row("heavy degradations refused, worst kind", percent(a["heavy_refused_min"]),
                  percent(b["heavy_refused_min"]), "≥ 90%")]
    for kind in sorted(a["refused"]):
        ra, rb = a["refused"][kind], b["refused"][kind]
        lines.append(_row(f"… {kind}: refused mild / heavy",
                          f"{percent(ra.get('mild', nan))} / {percent(ra.get('heavy', nan))}",
                          f"{percent(rb.get('mild', nan))} / {percent(rb.get('heavy', nan))}", "heavy ≥ 90%"))
    for name, target in (("clean_gt_heavy", "≥ 97%"), ("clean_gt_mild", "≥ 90%"), ("mild_gt_heavy", "")):
        lines.append(_row(f"same-page pairs {name.replace('_gt_', ' > ')}", percent(a.get(f"pairs_{name}", nan)),
                          percent(b.get(f"pairs_{name}", nan)), target))
    lines.append(_row("AUC, clean vs heavy + non-documents", f"{a['auc']:.3f}", f"{b['auc']:.3f}", "≥ 0.97"))
    return "\n".join(lines) + "\n"
