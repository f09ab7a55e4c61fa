"""The retake decision: a model score, native-resolution sharpness and quick checks -> verdict + reasons.

The combination rule (documented in docs/runtime.md):

* The model scores its view of the frame. Fine blur can be invisible there, so the native-resolution
  ``blur_ratio`` of runtime.checks (blur beyond pixel sampling, in pen-stroke widths) sets a
  penalty ``lam = max_blur_penalty * clip((blur_ratio - blur_ratio_ok) / (blur_ratio_bad -
  blur_ratio_ok), 0, 1)``.
* JPEG blocking is as hard for the model to see, so the quality Q the frame was saved at, read
  from its quantisation by runtime.checks, sets a second penalty ``lam_jpeg = 1 / (1 + (Q /
  jpeg_half_quality)^2)``: the synthetic labels' own JPEG factor, which falls smoothly with Q, so a
  page saved at a lower quality always scores lower. Together ``lam = 1 - (1 - lam_blur) * (1 -
  lam_jpeg)``.
* The penalty moves that share of probability mass to the lowest score bin:
  ``p' = (1 - lam) * p + lam * onehot(lowest)``. So ``mean' = mean - lam * (mean - lowest value)``,
  and the JSON contract (docs/runtime.md: mean = sum p_i * v_i over the reported distribution) still holds.
  The model's own mean is kept as ``model_mean``.
* Faint ink caps the score: the ink's relative contrast c on the page's inkiest native tiles
  (runtime.checks) sets a ceiling ``lowest + (highest - lowest) / (1 + (contrast_half / c)^4)``,
  the synthetic labels' own contrast factor. A mean above it loses the share of mass that brings
  it down to the ceiling, the same way. A ceiling, not a penalty: where the model already scores
  washed-out text low nothing changes; where it is blind to it (real scans washed out by light)
  the score still falls as the ink fades.
* Washed-out text caps the score too: the share w of the page's text cells that light has washed
  out (runtime.checks) sets a ceiling ``lowest + (highest - lowest) * exp(-4.5 g)``, the labels'
  own glare factor, with ``g = (w - washed_allowance)+ / (1 - washed_allowance)``: a clean page's
  pale print reads up to about ``washed_allowance`` and is not glare. Applied like the faint-ink
  ceiling, after it.
* verdict = "ok" when mean' >= threshold (metadata, or ``--threshold``), else "retake".
* Reasons (only for a retake): the model's ``defects`` output above ``defect_threshold``, and what
  the checks found, most severe first, in REASONS' words. A retake with no cause above those limits
  names the model's likeliest defect when it reaches ``fallback_defect_threshold`` (a hint beats
  "not clear enough"); with none at all it says so.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .checks import Checks, run_checks
from .defects import REASONS
from .errors import ImageError
from .preprocess import search_copy
from .scorer import Score, Scorer, mean_std
from .strict import unknown_keys

GENERIC_REASON = "Retake: the photo is not clear enough"
MIN_SIDE = 32  # pixels: below this there is no document to judge (a 1x1 image is refused)
JPEG_REASON_PENALTY = 0.1  # below this (quality above ~25) compression is not worth naming
FAINT_REASON_PENALTY = 0.1  # likewise for the faint-ink ceiling and the washed-text one
GLARE_RATE = 4.5  # the synthetic labels' glare factor exp(-4.5 g) (synth/labels.py, F_glare)
BRIGHT_PAPER = 200  # page median grey level above which faint ink is blamed on the light


@dataclass(frozen=True)
class Policy:
    """Tunable limits of the decision. Unknown keys are rejected by ``from_dict``."""

    threshold: float = 5.0
    defect_threshold: float = 0.5
    fallback_defect_threshold: float = 0.2
    blur_ratio_ok: float = 0.3
    blur_ratio_bad: float = 0.7
    max_blur_penalty: float = 0.8
    # The JPEG quality that costs half the score above the floor. Fitted on 400 JPEG-damaged
    # training captures: the share of the model's excess over the label that had to go was 0.8 at
    # q <= 4, 0.45 at q 7-11, 0.15 at q 16-25 (the curve gives 0.82, 0.47, 0.15).
    jpeg_half_quality: float = 8.5
    # The ink contrast (paper - ink) / paper at which the ceiling is halfway down: the labels' own
    # (synth/labels.py, F_contrast). On the held-out synthetic set the ceiling moves no verdict.
    contrast_half: float = 0.3
    # The washed-text share a clean page can show from pale print alone: 15 of the 1,680 clean real
    # training pages (0.9%) read 0.3 or more, 2 read 0.5 or more (studies/rule_probes.py). Above
    # it, what is washed counts as glare; the ceiling refuses from about 0.43. 1.0 turns it off.
    washed_allowance: float = 0.3
    min_brightness: float = 70.0
    max_clipped: float = 0.5
    min_glare: float = 0.01
    min_coverage: float = 0.25

    @classmethod
    def from_dict(cls, data: dict) -> Policy:
        unknown = unknown_keys(cls, data)
        if unknown:
            raise ValueError(f"unknown policy keys: {', '.join(unknown)}")
        return cls(**data)

    def blur_penalty(self, checks: Checks | None) -> float:
        if checks is None or checks.blur_ratio is None:
            return 0.0
        span = self.blur_ratio_bad - self.blur_ratio_ok
        return self.max_blur_penalty * float(np.clip((checks.blur_ratio - self.blur_ratio_ok) / span, 0.0, 1.0))

    def jpeg_penalty(self, checks: Checks | None) -> float:
        if checks is None or checks.jpeg_quality is None:
            return 0.0
        return 1.0 / (1.0 + (checks.jpeg_quality / self.jpeg_half_quality) ** 2)

    def faint_penalty(self, checks: Checks | None, mean: float, values: np.ndarray) -> float:
        """The share of mass to move to the lowest bin so that ``mean`` stays under the faint-ink ceiling."""
        if checks is None or checks.ink_contrast is None:
            return 0.0
        lowest, highest = float(values[0]), float(values[-1])
        contrast = max(checks.ink_contrast, 1e-3)
        return _share_above(mean, lowest + (highest - lowest) / (1.0 + (self.contrast_half / contrast) ** 4), lowest)

    def washed_penalty(self, checks: Checks | None, mean: float, values: np.ndarray) -> float:
        """The share of mass to move to the lowest bin so that ``mean`` stays under the washed-text ceiling."""
        if checks is None or checks.washed_share is None or self.washed_allowance >= 1.0:
            return 0.0
        lowest, highest = float(values[0]), float(values[-1])
        glare = max(checks.washed_share - self.washed_allowance, 0.0) / (1.0 - self.washed_allowance)
        return _share_above(mean, lowest + (highest - lowest) * float(np.exp(-GLARE_RATE * glare)), lowest)


def _share_above(mean: float, ceiling: float, lowest: float) -> float:
    """The share of mass that, moved to the lowest bin, brings ``mean`` down to ``ceiling`` (0 when under it)."""
    if mean <= ceiling or mean <= lowest:
        return 0.0
    return (mean - ceiling) / (mean - lowest)


@dataclass(frozen=True)
class Assessment:
    """The decision for one frame."""

    mean: float
    std: float
    distribution: np.ndarray
    verdict: str
    reasons: list[str]
    reason_codes: list[str]
    model_mean: float
    blur_penalty: float
    checks: Checks | None = None
    extras: dict[str, dict[str, float]] = field(default_factory=dict)
    ms: float = 0.0
    jpeg_penalty: float = 0.0
    faint_penalty: float = 0.0
    washed_penalty: float = 0.0
    causes: list[str] = field(default_factory=list)  # what is wrong, most severe first, whatever the verdict

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def retake_reasons(self) -> list[str]:
        """What to tell the user when this frame is part of a retake, even if it passed on its own:
        `nima watch` decides on the smoothed score, and a RETAKE there must still say why."""
        return self.reasons if self.reasons else ([REASONS[c] for c in self.causes] or [GENERIC_REASON])

    def to_json(self, path: str) -> dict:
        """The JSON-lines record of docs/runtime.md ("nima score --json contract"), plus the raw model mean and what
        the checks saw."""
        record = {
            "path": path,
            "mean": round(self.mean, 4),
            "std": round(self.std, 4),
            "distribution": [round(float(p), 5) for p in self.distribution],
            "verdict": self.verdict,
            "reasons": self.reasons,
            "ms": round(self.ms, 2),
            "model_mean": round(self.model_mean, 4),
            "reason_codes": self.reason_codes,
        }
        if self.checks is not None:
            record["checks"] = self.checks.to_dict()
        return record


def decide(score: Score, checks: Checks | None, score_values: np.ndarray, policy: Policy) -> Assessment:
    """Combine a model score and the checks into a verdict with reasons (see the module doc)."""
    values = np.asarray(score_values, dtype=np.float64)
    blur, jpeg = policy.blur_penalty(checks), policy.jpeg_penalty(checks)
    penalty = 1.0 - (1.0 - blur) * (1.0 - jpeg)
    distribution = np.asarray(score.distribution, dtype=np.float64)
    if penalty > 0:
        distribution = _to_floor(distribution, penalty)
    faint = policy.faint_penalty(checks, float(mean_std(distribution, values)[0]), values)
    if faint > 0:
        distribution = _to_floor(distribution, faint)
    washed = policy.washed_penalty(checks, float(mean_std(distribution, values)[0]), values)
    if washed > 0:
        distribution = _to_floor(distribution, washed)
    mean, std = mean_std(distribution, values)
    verdict = "ok" if float(mean) >= policy.threshold else "retake"
    causes = rank_causes(score, checks, policy, blur_penalty=blur, jpeg_penalty=jpeg, faint_penalty=faint,
                         washed_penalty=washed)
    codes = causes if verdict == "retake" else []
    reasons = [REASONS[c] for c in codes] or ([GENERIC_REASON] if verdict == "retake" else [])
    return Assessment(
        mean=float(mean), std=float(std), distribution=distribution.astype(np.float32), verdict=verdict,
        reasons=reasons, reason_codes=codes, model_mean=score.mean, blur_penalty=blur, checks=checks,
        extras=score.extras, jpeg_penalty=jpeg, faint_penalty=faint, washed_penalty=washed, causes=causes,
    )


def _to_floor(distribution: np.ndarray, share: float) -> np.ndarray:
    """``share`` of the probability mass moved to the lowest bin."""
    moved = (1.0 - share) * distribution
    moved[0] += share
    return moved


def rank_causes(score: Score, checks: Checks | None, policy: Policy, blur_penalty: float = 0.0,
                jpeg_penalty: float = 0.0, faint_penalty: float = 0.0, washed_penalty: float = 0.0) -> list[str]:
    """Defect names, most severe first, from the model's defects output and the checks."""
    severity: dict[str, float] = {}

    def note(code: str, value: float) -> None:
        if code in REASONS:
            severity[code] = max(severity.get(code, 0.0), value)

    defects = score.extras.get("defects", {})
    for code, probability in defects.items():
        if probability >= policy.defect_threshold:
            note(code, probability)
    # The model saw a whole training set of these defects; the checks are rules of thumb. When the
    # model has a defects output its word comes first, except for native-resolution blur, which it
    # may not see in its view.
    weight = 0.6 if defects else 1.0
    if checks is not None:
        dark = checks.brightness < policy.min_brightness
        if dark:
            note("underexposed", 0.9 * weight)
        if checks.clipped_fraction > policy.max_clipped:
            note("overexposed", 0.7 * weight)
        elif checks.glare_fraction >= policy.min_glare:
            note("glare", 0.8 * weight)
        if not checks.page_found and not dark:
            note("not_document", 0.7 * weight)
        if checks.touches_edge:
            note("incomplete", 0.85 * weight)
        elif checks.page_found and checks.coverage < policy.min_coverage:
            note("lowres", 0.6 * weight)
        if blur_penalty > 0:
            blur = 0.5 + 0.5 * blur_penalty / max(policy.max_blur_penalty, 1e-9)
            # In a dark frame the camera's noise reduction and long exposure smear edges: light is
            # the cause to fix first, so blur ranks after it.
            note("defocus", blur * (0.5 if dark else 1.0))
        if jpeg_penalty >= JPEG_REASON_PENALTY:
            # Measured from the file's own quantisation, not guessed: ranks like native blur.
            note("jpeg", 0.5 + 0.5 * jpeg_penalty)
        if faint_penalty >= FAINT_REASON_PENALTY and checks.brightness >= BRIGHT_PAPER:
            # Measured too. On bright paper, light washing the ink out is the usual cause, and one
            # a retake can fix (underexposure keeps the ink's relative contrast). On dim paper
            # faint ink says nothing about the light: a blank wall has none.
            note("overexposed", 0.5 + 0.5 * faint_penalty)
        if washed_penalty >= FAINT_REASON_PENALTY:
            # Measured: light lifted the paper where the text fades, which is glare by definition.
            note("glare", 0.5 + 0.5 * washed_penalty)
    if not severity and defects:
        code, probability = max(defects.items(), key=lambda item: item[1])
        if probability >= policy.fallback_defect_threshold:
            note(code, probability)
    return sorted(severity, key=lambda code: -severity[code])


def threshold_problem(threshold: float, score_values) -> str | None:
    """Why ``threshold`` cannot be a model's retake threshold ("outside the model's score range
    1..10"), or None: the one check behind `nima score --threshold` and `nima spark-score --threshold`."""
    low, high = score_values[0], score_values[-1]
    if not low <= threshold <= high:
        return f"outside the model's score range {low:g}..{high:g}"
    return None


class Assessor:
    """A Scorer, the quick checks and a Policy: one call from a BGR frame to an Assessment.

    The work is split in two so batch scoring can overlap them: ``inspect`` (OpenCV only:
    checks and the model input, safe in worker threads) and ``finish`` (the interpreter).
    """

    def __init__(self, scorer: Scorer, threshold: float | None = None, checks: bool = True,
                 policy: Policy | None = None):
        base = policy or Policy()
        self.scorer = scorer
        self.policy = Policy.from_dict({**base.__dict__, "threshold": scorer.threshold if threshold is None else threshold})
        self.use_checks = checks
        self._values = np.asarray(scorer.metadata.score_values, dtype=np.float64)

    @property
    def score_range(self) -> tuple[float, float]:
        """The lowest and highest score the model gives."""
        return float(self._values[0]), float(self._values[-1])

    def inspect(self, image_bgr: np.ndarray) -> tuple[np.ndarray, Checks | None, float]:
        """(model input, checks, ms spent). Refuses frames too small to hold a document."""
        start = time.perf_counter()
        height, width = image_bgr.shape[:2]
        if min(height, width) < MIN_SIDE:
            raise ImageError(f"image is {width}x{height} px, too small to judge (at least {MIN_SIDE} px a side)")
        if not self.use_checks:
            return self.scorer.prepare(image_bgr), None, (time.perf_counter() - start) * 1000.0
        search = search_copy(image_bgr)  # one small copy, for the checks and the model's input
        checks = run_checks(image_bgr, search)
        return self.scorer.prepare(image_bgr, search), checks, (time.perf_counter() - start) * 1000.0

    def finish(self, model_input: np.ndarray, checks: Checks | None, ms: float = 0.0) -> Assessment:
        start = time.perf_counter()
        score = self.scorer.score_input(model_input)
        assessment = decide(score, checks, self._values, self.policy)
        total = ms + (time.perf_counter() - start) * 1000.0
        return Assessment(**{**assessment.__dict__, "ms": total})

    def assess(self, image_bgr: np.ndarray) -> Assessment:
        return self.finish(*self.inspect(image_bgr))
