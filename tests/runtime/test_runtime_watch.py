"""`nima watch` on video files standing in for cameras: states, hysteresis, saving, faults."""
import json
import time

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from nima_edge.runtime import Scorer, SourceError
from nima_edge.runtime.policy import Assessor
from nima_edge.runtime.sources import SourceSpec, parse_source
from nima_edge.runtime.watch import PromptState, WatchConfig, watch

from nima_edge.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def events(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_hysteresis_does_not_flicker_around_the_threshold():
    state = PromptState(5.0, WatchConfig(alpha=0.5, hysteresis=0.25, ready_frames=5))
    rng = np.random.default_rng(0)
    changes = [state.update(s) for s in 5.0 + rng.normal(0, 0.15, 200)]
    assert sum(c is not None for c in changes) <= 2  # jitter around the line: at most the first state


def test_states_go_retake_ok_ready_and_back():
    state = PromptState(5.0, WatchConfig(alpha=1.0, hysteresis=0.25, ready_frames=3))
    sequence = [2, 2, 6, 6, 6, 6, 4.9, 4.7, 2]
    assert [state.update(s) for s in sequence] == ["retake", None, "ok", None, "ready", None, None, "retake", None]


def test_watch_video_ready_saves_best_and_writes_overlay(capture_video, float_model, tmp_path):
    out, best = tmp_path / "overlay.mp4", tmp_path / "best"
    result = run("watch", capture_video, "--model", float_model, "--threshold", 4, "--json",
                 "--out", out, "--save-best", best, "--ready-frames", 5)
    assert result.exit_code == 0, result.output
    log = events(result.output)
    states = [e["state"] for e in log if e["event"] == "state"]
    assert states == ["retake", "ok", "ready"]
    assert log[0]["reasons"]  # a retake says why
    saved = [e for e in log if e["event"] == "saved"]
    assert len(saved) == 1 and cv2.imread(saved[0]["path"]).shape == (360, 640, 3)
    end = log[-1]
    assert end["event"] == "end" and end["reason"] == "video ended" and end["frames"] == 42
    video = cv2.VideoCapture(str(out))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 42
    video.release()
    assert not list(tmp_path.glob(".overlay.partial*"))


def test_watch_max_frames_and_human_output(capture_video, float_model):
    result = run("watch", capture_video, "--model", float_model, "--max-frames", 5)
    assert result.exit_code == 0
    assert "RETAKE" in result.output and "max frames: 5 frames" in result.output


def test_watch_refuses_existing_output_and_bad_sources(capture_video, float_model, tmp_path):
    out = tmp_path / "o.mp4"
    out.write_bytes(b"old")
    result = run("watch", capture_video, "--model", float_model, "--out", out)
    assert result.exit_code == 1 and "already exists" in result.output and out.read_bytes() == b"old"
    missing = run("watch", tmp_path / "nope.mp4", "--model", float_model)
    assert missing.exit_code == 1 and "no such video file" in missing.output
    not_video = tmp_path / "text.mp4"
    not_video.write_text("hello")
    broken = run("watch", not_video, "--model", float_model)
    assert broken.exit_code == 1 and "cannot open" in broken.output


def test_camera_that_does_not_open_is_retried_then_gives_up(float_model):
    start = time.monotonic()
    result = run("watch", "57", "--model", float_model, "--retries", 1, "--json")
    assert result.exit_code == 1
    assert "camera 57: cannot open" in result.output and "(2 attempts); giving up" in result.output
    assert time.monotonic() - start < 20


def test_show_without_a_gui_is_a_clear_error(capture_video, float_model):
    gui = [line for line in cv2.getBuildInformation().splitlines() if line.strip().startswith("GUI:")]
    if not gui or "NONE" not in gui[0]:
        pytest.skip("this OpenCV has a GUI")
    result = run("watch", capture_video, "--model", float_model, "--show", "--max-frames", 1)
    assert result.exit_code == 1 and "cannot open a window" in result.output


class _StallingCapture:
    """Frames from a real video, then silence: a camera whose driver stops delivering."""

    def __init__(self, path, frames):
        self.video, self.left = cv2.VideoCapture(str(path)), frames

    def read(self):
        if self.left <= 0:
            # Stall, then give up quietly. The stall must not end inside OpenCV: a daemon thread
            # that re-enters a cv2 call while the interpreter shuts down aborts the process.
            time.sleep(5)
            return False, None
        self.left -= 1
        return self.video.read()

    def release(self):
        self.video.release()


def test_live_source_that_stalls_is_reopened_then_abandoned(capture_video, float_model):
    opened = []

    def opener():
        opened.append(1)
        return _StallingCapture(capture_video, 4)

    spec = SourceSpec("camera test", live=True, open=opener)
    config = WatchConfig(retries=1, retry_delay=0.01, stall_timeout=0.3)
    log = []
    assessor = Assessor(Scorer(float_model, threads=1))
    start = time.monotonic()
    # The second capture also stalls: after one reopen the loop gives up.
    with pytest.raises(SourceError, match=r"camera test: no frame for 0.3 s; lost 2 times, giving up"):
        summary_frames(watch(assessor, spec, config, on_event=log.append, save_dir=None))
    assert time.monotonic() - start < 10
    assert any(e["event"] == "source_lost" for e in log)
    assert len(opened) >= 2


def summary_frames(summary):
    return summary.frames


def test_parse_source_kinds(capture_video):
    assert parse_source("0").live and parse_source("0").description == "camera 0"
    assert parse_source("rtsp://127.0.0.1/x").live
    video = parse_source(str(capture_video))
    assert not video.live and video.fps == pytest.approx(30.0)
    with pytest.raises(SourceError, match="no such video file"):
        parse_source("/nonexistent/clip.mp4")


class _DamagedStretch:
    """A real video whose reads fail for a stretch in the middle, as a damaged file's do."""

    def __init__(self, path, bad):
        self.video, self.bad, self.index = cv2.VideoCapture(str(path)), bad, 0

    def read(self):
        ok, frame = self.video.read()
        self.index += 1
        return (False, None) if self.index in self.bad else (ok, frame)

    def release(self):
        self.video.release()


def test_a_damaged_stretch_of_a_video_is_skipped_counted_and_reported(capture_video, float_model):
    spec = SourceSpec("video test", live=False, open=lambda: _DamagedStretch(capture_video, set(range(10, 18))))
    log = []
    summary = watch(Assessor(Scorer(float_model, threads=1)), spec, WatchConfig(), on_event=log.append)
    assert summary.frames == 42 - 8 and summary.end_reason == "video ended"
    assert log[-1]["event"] == "end" and log[-1]["bad_reads"] == 8 == summary.bad_reads


def test_ctrl_c_still_ends_with_the_end_event(capture_video, float_model):
    seen = []

    def interrupt(frame, prompt):
        seen.append(1)
        if len(seen) == 5:
            raise KeyboardInterrupt

    log = []
    spec = parse_source(str(capture_video))
    with pytest.raises(KeyboardInterrupt):
        watch(Assessor(Scorer(float_model, threads=1)), spec, WatchConfig(), on_event=log.append, on_frame=interrupt)
    assert log[-1]["event"] == "end" and log[-1]["reason"] == "interrupted" and log[-1]["frames"] == 5


def _fill_disk_after(limit_bytes):
    import resource
    import signal

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return limit


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_a_video_that_cannot_be_written_is_an_error_and_nothing_is_kept(capture_video, float_model, tmp_path,
                                                                        suffix):
    import subprocess
    import sys

    out = tmp_path / f"overlay{suffix}"
    done = subprocess.run([sys.executable, "-m", "nima_edge.cli", "watch", str(capture_video), "--model",
                           str(float_model), "--out", str(out)], capture_output=True, text=True, timeout=120,
                          preexec_fn=_fill_disk_after(60_000), check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    # caught at the frame that failed, or when the file did not read back whole at the end
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith(f"Error: {out}: ") and error.endswith("the disk may be full); nothing kept")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither the final name nor a partial file


def test_two_runs_into_one_output_or_folder_never_share_a_name(capture_video, float_model, tmp_path):
    from nima_edge.runtime.overlay import Prompt
    from nima_edge.runtime.sink import FrameSink
    from nima_edge.runtime.watch import _save_frame

    frame = np.full((120, 160, 3), 200, np.uint8)
    prompt = Prompt("READY", "", 8.0, 1, 10, 5, True, None)
    first, second = FrameSink(tmp_path / "o.mp4", 10, False, False), FrameSink(tmp_path / "o.mp4", 10, False, False)
    for _ in range(5):
        first(frame, prompt)
        second(frame, prompt)
    assert first.partial != second.partial
    first.close(keep=True)
    second.close(keep=True)
    assert [p.name for p in tmp_path.iterdir()] == ["o.mp4"]
    assert cv2.VideoCapture(str(tmp_path / "o.mp4")).get(cv2.CAP_PROP_FRAME_COUNT) == 5
    saved = [_save_frame(tmp_path / "best", frame, 0) for _ in range(3)]  # three runs, one second, index 0
    assert len(set(saved)) == 3 and all(p.is_file() for p in saved)
    assert sorted(p.name for p in (tmp_path / "best").iterdir()) == sorted(p.name for p in saved)


def test_a_smoothed_retake_says_why_even_when_this_frame_passed():
    """The per-frame verdict and the smoothed state can disagree; the RETAKE shown must carry a reason."""
    from nima_edge.runtime.policy import GENERIC_REASON, REASONS, Assessment
    from nima_edge.runtime.watch import _prompt, _state_event

    def frame(causes):
        return Assessment(mean=5.6, std=1.0, distribution=np.full(10, 0.1, np.float32), verdict="ok", reasons=[],
                          reason_codes=[], model_mean=5.6, blur_penalty=0.0, causes=causes)

    state = PromptState(5.0, WatchConfig(alpha=0.5, hysteresis=0.25, ready_frames=5))
    state.update(3.0)  # smoothed: retake
    for causes, expected in ((["glare"], REASONS["glare"]), ([], GENERIC_REASON)):
        assessment = frame(causes)
        assert assessment.ok and assessment.reasons == []
        assert _state_event("retake", state, assessment, 1)["reasons"][0] == expected
        prompt = _prompt(state, assessment, (1.0, 10.0))
        assert prompt.headline == "RETAKE" and prompt.reason == expected and not prompt.good
