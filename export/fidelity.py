"""Does the exported model still say what the Keras model says? The numbers and the gate.

The exported model is run through the runtime's own Scorer (the code a device runs), the Keras
model through ``predict``; both see the same preprocessed inputs.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from nima_edge.runtime.metadata import ModelMetadata, embed_metadata
from nima_edge.runtime.scorer import Scorer, mean_std
from nima_edge.training.metrics import emd, lcc, srcc

from .formats import ExportError


@dataclass(frozen=True)
class Gates:
    """The fidelity an export must reach; defaults from issue 5."""

    min_srcc: float = 0.99
    max_median_delta: float = 0.05
    min_agreement: float = 0.98

    def __post_init__(self) -> None:
        for name in ("min_srcc", "min_agreement"):
            value = getattr(self, name)
            if not -1.0 <= value <= 1.0:
                raise ExportError(f"--{name.replace('_', '-')} must lie in -1..1, got {value}")
        if self.max_median_delta < 0:
            raise ExportError(f"--max-median-delta must be >= 0, got {self.max_median_delta}")


@dataclass(frozen=True)
class FidelityReport:
    """Keras float vs exported model on one validation set."""

    images: int
    srcc: float
    lcc: float
    mean_abs_delta: float
    median_abs_delta: float
    max_abs_delta: float
    mean_emd: float
    agreement: float  # share of images with the same ok/retake verdict
    size_bytes: int
    latency_ms: float  # median single-image invoke at 1 thread
    keras_mean_range: tuple[float, float]

    def failures(self, gates: Gates) -> list[str]:
        """One line per missed gate; empty when every gate holds. NaN never passes."""
        missed = []
        if not self.srcc >= gates.min_srcc:
            missed.append(f"SRCC {self.srcc:.4f} < {gates.min_srcc}")
        if not self.median_abs_delta <= gates.max_median_delta:
            missed.append(f"median |Δ mean| {self.median_abs_delta:.4f} > {gates.max_median_delta}")
        if not self.agreement >= gates.min_agreement:
            missed.append(f"ok/retake agreement {self.agreement:.1%} < {gates.min_agreement:.0%}")
        return missed

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["keras_mean_range"] = list(self.keras_mean_range)
        # JSON has no NaN: a constant model (SRCC undefined) is reported as null.
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in data.items()}


def keras_distributions(model, inputs: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """The Keras model's score distributions for preprocessed uint8 inputs."""
    outputs = model.predict(inputs, batch_size=batch_size, verbose=0)
    if isinstance(outputs, dict):
        outputs = outputs["distribution"]
    return np.asarray(outputs, dtype=np.float64)


def tflite_distributions(model_bytes: bytes, metadata: ModelMetadata, inputs: np.ndarray
                         ) -> tuple[np.ndarray, float]:
    """(distributions, median latency ms) of the exported model run by the runtime at 1 thread."""
    fd, name = tempfile.mkstemp(suffix=".tflite")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(embed_metadata(model_bytes, metadata))
        scorer = Scorer(name, threads=1, single_pass=True)  # the gate compares the networks, pass for pass
        scorer.score_input(inputs[0])  # warm-up: the first invoke prepares the delegate
        distributions, times = [], []
        for model_input in inputs:
            start = time.perf_counter()
            distributions.append(scorer.score_input(model_input).distribution)
            times.append((time.perf_counter() - start) * 1000.0)
    finally:
        Path(name).unlink(missing_ok=True)
    return np.asarray(distributions, dtype=np.float64), statistics.median(times)


def compare(reference: np.ndarray, candidate: np.ndarray, score_values: tuple[float, ...], threshold: float,
            size_bytes: int, latency_ms: float) -> FidelityReport:
    """The fidelity figures of ``candidate`` distributions against ``reference`` ones."""
    if reference.shape != candidate.shape or len(reference) < 2:
        raise ExportError(f"need 2+ validation images with matching outputs, got {reference.shape} "
                          f"and {candidate.shape}")
    ref_mean, _ = mean_std(reference, np.asarray(score_values))
    cand_mean, _ = mean_std(candidate, np.asarray(score_values))
    delta = np.abs(ref_mean - cand_mean)
    return FidelityReport(
        images=len(reference),
        srcc=srcc(ref_mean, cand_mean),
        lcc=lcc(ref_mean, cand_mean),
        mean_abs_delta=float(delta.mean()),
        median_abs_delta=float(np.median(delta)),
        max_abs_delta=float(delta.max()),
        mean_emd=float(np.mean(emd(reference, candidate))),
        agreement=float(np.mean((ref_mean >= threshold) == (cand_mean >= threshold))),
        size_bytes=int(size_bytes),
        latency_ms=float(latency_ms),
        keras_mean_range=(float(ref_mean.min()), float(ref_mean.max())),
    )


def report_markdown(report: FidelityReport, fmt: str, gates: Gates, model_name: str, enforced: bool = True) -> str:
    """A short markdown table of the report, written beside the model."""
    missed = report.failures(gates)
    verdict = "passed" if not missed else "MISSED: " + "; ".join(missed)
    if not enforced:
        verdict += " (not enforced: --no-gate)"
    rows = [
        ("validation images", f"{report.images}"),
        ("SRCC of means", _fmt(report.srcc, 4) + f" (gate ≥ {gates.min_srcc})"),
        ("LCC of means", _fmt(report.lcc, 4)),
        ("mean / median / max abs Δ mean", (f"{report.mean_abs_delta:.4f} / {report.median_abs_delta:.4f} / "
                                            f"{report.max_abs_delta:.4f} (gate median ≤ {gates.max_median_delta})")),
        ("mean EMD (r=1) between distributions", f"{report.mean_emd:.4f}"),
        ("ok/retake agreement", f"{report.agreement:.1%} (gate ≥ {gates.min_agreement:.0%})"),
        ("file size", f"{report.size_bytes / 1e6:.2f} MB"),
        ("latency, 1 thread (median)", f"{report.latency_ms:.2f} ms"),
    ]
    lines = [f"# Fidelity of {model_name} ({fmt}) against the Keras float model", "",
             "| figure | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines += ["", f"Gate: {verdict}", ""]
    return "\n".join(lines)


def gates_dict(gates: Gates) -> dict[str, float]:
    return {f.name: getattr(gates, f.name) for f in fields(gates)}


def _fmt(value: float, digits: int) -> str:
    return f"{value:.{digits}f}" if np.isfinite(value) else "undefined (constant output)"
