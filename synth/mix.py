"""What a synthetic dataset is made of: the kinds of frame, the defects a page can get, how one
seed draws its kind and defects, and the random streams every capture is keyed by.

Each stream of a capture (MIX, SCENE, PAGE, SURFACE, DEFECT, NOISE, VOTES) is its own generator
keyed by (seed, stream) and consumed in a fixed order, so two captures that differ in one defect
are twins in everything else (see capture.py).
"""
from __future__ import annotations

import numpy as np
from nima_edge.runtime.defects import DEFECTS
from nima_edge.runtime.errors import NimaError

from .page import DOCUMENT_KINDS

KINDS: tuple[str, ...] = (*DOCUMENT_KINDS, "junk", "user_junk")


# Defects a generated document can get (not_document is a kind, not something added to a page).
PAGE_DEFECTS: tuple[str, ...] = tuple(d for d in DEFECTS if d != "not_document")


MIX, SCENE, PAGE, SURFACE, DEFECT, NOISE, VOTES = range(7)


JUNK_SHARE = 0.12  # of all frames


CLEAN_SHARE = 0.42  # of document frames (so ~37% of all frames are clean-ish good captures)


KIND_WEIGHTS = {"prescription": 0.68, "receipt": 0.07, "form": 0.07, "letter": 0.08, "handwritten_note": 0.10}


class SynthError(NimaError):
    """A bad request to the generator (unknown defect or kind, severity out of range)."""


def stream_rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, stream])


def validate_defects(defects: dict[str, float] | None) -> dict[str, float]:
    """Full defect dict (every name, 0 for absent) from a partial one; rejects unknown names."""
    full = {name: 0.0 for name in DEFECTS}
    for name, severity in (defects or {}).items():
        if name not in full:
            raise SynthError(f"unknown defect {name!r}; choose from {', '.join(DEFECTS)}")
        if not 0.0 <= float(severity) <= 1.0:
            raise SynthError(f"defect {name!r}: severity {severity} is outside 0..1")
        full[name] = float(severity)
    return full


def sample_mix(seed: int) -> tuple[str, dict[str, float]]:
    """The dataset's mix for one seed: (kind, defects).

    ~12% junk; of documents ~42% clean, the rest one (70%) or two (30%) defects at severities
    uniform in 0.05..1. (Scrawl drawn for a prescription that turns out printed is dropped.)
    """
    rng = stream_rng(seed, MIX)
    draws = rng.random(8)
    order = rng.permutation(len(PAGE_DEFECTS))
    severities = rng.uniform(0.05, 1.0, 2)
    if draws[0] < JUNK_SHARE:
        return "junk", {}
    kinds = list(KIND_WEIGHTS)
    kind = kinds[int(np.searchsorted(np.cumsum(list(KIND_WEIGHTS.values())), draws[1] * 0.9999))]
    if draws[2] < CLEAN_SHARE:
        return kind, {}
    count = 1 if draws[3] < 0.7 else 2
    chosen: list[str] = []
    for name in (PAGE_DEFECTS[i] for i in order):
        if len(chosen) < count and kind_can_have(kind, name) and not _contradicts(name, chosen):
            chosen.append(name)
    return kind, dict(zip(chosen, severities.tolist(), strict=False))


def _contradicts(defect: str, chosen: list[str]) -> bool:
    """Under- and over-exposure in one frame would cancel out into a normal exposure."""
    return {defect, *chosen} >= {"underexposed", "overexposed"}


def kind_can_have(kind: str, defect: str) -> bool:
    return not (defect == "scrawl" and kind in ("receipt", "letter"))
