"""Numpy reference metrics for NIMA evaluation (no TensorFlow, no scipy).

All take arrays whose last axis is the score bins (distributions) or 1-D arrays of scores.
"""
from __future__ import annotations

import numpy as np
from nima_edge.runtime.scorer import mean_std

__all__ = ["binary_accuracy", "emd", "lcc", "mean_std", "rank", "srcc"]


def _normalised(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    total = p.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("every distribution needs a positive total")
    return p / total


def emd(p: np.ndarray, q: np.ndarray, r: float = 1) -> np.ndarray | float:
    """Earth mover's distance between distributions over the same ordered bins, as in NIMA:

        EMD(p, q) = ( 1/N * sum_k |CDF_p(k) - CDF_q(k)|^r ) ^ (1/r)

    Bins are one unit apart whatever their score values (the paper's definition), so the result
    compares across score scales with the same number of bins. Returns one value per row.
    """
    p, q = _normalised(p), _normalised(q)
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"distributions have {p.shape[-1]} and {q.shape[-1]} bins")
    diff = np.abs(np.cumsum(p, axis=-1) - np.cumsum(q, axis=-1))
    out = np.mean(diff ** r, axis=-1) ** (1.0 / r)
    return float(out) if np.ndim(out) == 0 else out


def lcc(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's linear correlation coefficient; nan when either side is constant."""
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"need two equally long sequences of 2+ values, got {x.size} and {y.size}")
    xc, yc = x - x.mean(), y - y.mean()
    denom = np.sqrt((xc * xc).sum() * (yc * yc).sum())
    return float((xc * yc).sum() / denom) if denom > 0 else float("nan")


def rank(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (what Spearman's rho needs)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(x.size, dtype=np.float64)
    sorted_x = x[order]
    # Boundaries of runs of equal values; each run gets the mean of its positions.
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], x.size]
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return ranks


def srcc(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation coefficient (Pearson on tie-averaged ranks)."""
    return lcc(rank(x), rank(y))


def binary_accuracy(true_scores: np.ndarray, predicted_scores: np.ndarray, threshold: float = 5.0) -> float:
    """Share of items put on the same side of ``threshold`` (a score >= threshold is "ok")."""
    t = np.asarray(true_scores, dtype=np.float64) >= threshold
    p = np.asarray(predicted_scores, dtype=np.float64) >= threshold
    if t.shape != p.shape or t.size == 0:
        raise ValueError(f"need two equally long non-empty sequences, got {t.size} and {p.size}")
    return float(np.mean(t == p))
