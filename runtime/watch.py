"""The live loop of `nima watch`: score frames, smooth, decide when the capture is ready.

The raw per-frame score jitters; the prompt must not. The score is smoothed with an exponential
moving average, and the state only flips from "retake" to "ok" above ``threshold + hysteresis``
and back below ``threshold - hysteresis``. After ``ready_frames`` consecutive frames in the ok
state the capture is "ready" and the best frame of that good run is saved.
"""
from __future__ import annotations

import itertools
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import SourceError, SourceUnavailable
from .fileio import OutputError
from .overlay import Prompt
from .policy import Assessment, Assessor
from .sources import FrameReader, SourceSpec

STABLE_FRAMES = 100  # frames after which a reopened source counts as recovered
HEADLINES = {"retake": "RETAKE", "ok": "HOLD STILL", "ready": "READY"}


@dataclass(frozen=True)
class WatchConfig:
    alpha: float = 0.35  # EMA weight of the newest frame
    hysteresis: float = 0.25  # score units either side of the threshold
    ready_frames: int = 8
    retries: int = 3
    retry_delay: float = 0.5
    stall_timeout: float = 5.0
    max_frames: int | None = None
    checks_every: int = 1  # run the native-resolution checks every N frames (reuse in between)

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if self.ready_frames < 1 or self.retries < 0 or self.checks_every < 1:
            raise ValueError("ready_frames and checks_every must be >= 1 and retries >= 0")


class PromptState:
    """EMA + hysteresis + ready counter. ``update`` returns the new state when it changed."""

    def __init__(self, threshold: float, config: WatchConfig):
        self.threshold = threshold
        self.config = config
        self.ema: float | None = None
        self.state: str | None = None
        self.good_run = 0

    def update(self, score: float) -> str | None:
        alpha = self.config.alpha
        self.ema = score if self.ema is None else alpha * score + (1 - alpha) * self.ema
        good = self.state in ("ok", "ready")
        if self.state is None:
            good = self.ema >= self.threshold
        elif good and self.ema < self.threshold - self.config.hysteresis:
            good = False
        elif not good and self.ema >= self.threshold + self.config.hysteresis:
            good = True
        self.good_run = self.good_run + 1 if good else 0
        state = ("ready" if self.good_run >= self.config.ready_frames else "ok") if good else "retake"
        changed = state != self.state
        self.state = state
        return state if changed else None


@dataclass
class WatchSummary:
    frames: int = 0
    seconds: float = 0.0
    saved: int = 0
    end_reason: str = ""
    bad_reads: int = 0  # failed reads of a video file that later frames followed (a damaged stretch)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def watch(
    assessor: Assessor,
    source: SourceSpec,
    config: WatchConfig = WatchConfig(),
    on_event: Callable[[dict], None] = lambda event: None,
    on_frame: Callable[[np.ndarray, Prompt], None] | None = None,
    save_dir: Path | None = None,
) -> WatchSummary:
    """Run the loop until the source ends, ``max_frames`` or a dead source (SourceError)."""
    state = PromptState(assessor.policy.threshold, config)
    summary = WatchSummary()
    best: tuple[float, np.ndarray | None] = (-np.inf, None)
    last_checks = None  # with checks_every > 1, frames in between reuse the last checks
    def prepare(frame: np.ndarray, index: int):
        if index % config.checks_every == 0:
            return assessor.inspect(frame)
        return assessor.scorer.prepare(frame), None, 0.0

    reader = _open_with_retries(source, config, on_event, prepare, attempt_first=True)
    losses, frames_since_open = 0, 0
    interrupted = False
    start = time.perf_counter()
    try:
        while config.max_frames is None or summary.frames < config.max_frames:
            try:
                frame = reader.read()
            except SourceError as exc:
                frame, stalled = None, exc
            else:
                stalled = None
            if frame is None:
                if not source.live:  # a file has nothing to retry: it ended, or it hangs
                    if stalled is not None:
                        raise stalled
                    summary.end_reason = "video ended"
                    break
                reader.close()
                detail = str(stalled) if stalled else f"{source.description}: no more frames"
                on_event({"event": "source_lost", "source": source.description, "detail": detail})
                # A source that dies again soon after each reopen is as dead as one that never opens.
                losses = losses + 1 if frames_since_open < STABLE_FRAMES else 1
                if losses > config.retries:
                    raise SourceError(f"{detail}; lost {losses} times, giving up")
                reader = _open_with_retries(source, config, on_event, prepare, attempt_first=False)
                frames_since_open = 0
                continue
            frames_since_open += 1
            frame, prepared = frame
            if isinstance(prepared, Exception):
                raise SourceError(f"{source.description}: {prepared}")
            model_input, checks, ms = prepared
            checks = last_checks if checks is None else checks
            last_checks = checks
            assessment = assessor.finish(model_input, checks, ms)
            summary.frames += 1
            changed = state.update(assessment.mean)
            if state.state == "retake":
                best = (-np.inf, None)
            elif assessment.mean > best[0]:
                best = (assessment.mean, frame.copy())
            if changed:
                on_event(_state_event(changed, state, assessment, summary.frames))
                if changed == "ready" and save_dir is not None and best[1] is not None:
                    path = _save_frame(save_dir, best[1], summary.saved)
                    summary.saved += 1
                    on_event({"event": "saved", "path": str(path), "frame": summary.frames,
                              "mean": round(best[0], 4)})
            if on_frame is not None:
                on_frame(frame, _prompt(state, assessment, assessor.score_range))
        else:
            summary.end_reason = "max frames"
    except KeyboardInterrupt:  # Ctrl-C: the run still ends with its end event, then the caller stops
        summary.end_reason, interrupted = "interrupted", True
    finally:
        reader.close()
        summary.bad_reads += reader.bad_reads
        summary.seconds = time.perf_counter() - start
    on_event({"event": "end", "reason": summary.end_reason, "frames": summary.frames,
              "fps": round(summary.fps, 1), "saved": summary.saved, "bad_reads": summary.bad_reads})
    if interrupted:
        raise KeyboardInterrupt
    return summary


def _open_with_retries(source: SourceSpec, config: WatchConfig, on_event: Callable[[dict], None],
                       prepare: Callable, attempt_first: bool) -> FrameReader:
    """Open the source; a live one is retried ``retries`` times before giving up."""
    attempts = 1 + (config.retries if source.live else 0)
    last = None
    for attempt in range(attempts):
        if attempt > 0 or not attempt_first:
            time.sleep(config.retry_delay)
        try:
            capture = source.open()
        except SourceUnavailable:
            raise
        except SourceError as exc:
            last = exc
            on_event({"event": "retry", "source": source.description, "attempt": attempt + 1, "detail": str(exc)})
            continue
        return FrameReader(capture, source.live, config.stall_timeout, source.description, prepare)
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    raise SourceError(f"{last}{tries}; giving up")


def _state_event(state_name: str, state: PromptState, assessment: Assessment, frame: int) -> dict:
    return {"event": "state", "state": state_name, "frame": frame, "mean": round(float(state.ema), 4),
            "reasons": assessment.retake_reasons() if state_name == "retake" else []}


def _prompt(state: PromptState, assessment: Assessment, score_range: tuple[float, float]) -> Prompt:
    name = state.state or "retake"
    return Prompt.of(assessment, HEADLINES[name], name != "retake", float(state.ema), score_range, state.threshold)


def _save_frame(folder: Path, frame: np.ndarray, index: int) -> Path:
    """Write the frame under a name no other file (nor another run saving into the same folder in
    the same second) has: the finished file is hard-linked to the first free name, which fails
    rather than overwrite."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise SourceError(f"{folder}: cannot encode the frame")
    fd, tmp_name = tempfile.mkstemp(prefix=".best-", suffix=".jpg.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(encoded.tobytes())
        os.chmod(tmp_name, 0o644)
        for number in itertools.count(index):
            path = folder / f"best-{stamp}-{number:03d}.jpg"
            try:
                os.link(tmp_name, path)
            except FileExistsError:
                continue
            return path
    except OSError as exc:
        raise OutputError(f"{folder}: cannot save the frame ({exc.strerror or exc})") from None
    finally:
        Path(tmp_name).unlink(missing_ok=True)
