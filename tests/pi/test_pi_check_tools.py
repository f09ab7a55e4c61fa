"""The host/device comparison pi-check relies on (scripts/pi_check_tools.py)."""
from __future__ import annotations

from pi_fixtures import load_script

tools = load_script("pi_check_tools")


def record(**changes):
    base = {"path": "/host/inputs/page.jpg", "mean": 5.0, "distribution": [0.5, 0.5], "verdict": "ok",
            "ms": 3.0, "checks": {"blur_ratio": 4.24}}
    return {**base, **changes}


def test_equal_records_pass_and_timing_is_ignored():
    assert tools.differences([record()], [record(ms=900.0, path="/opt/pi-check/inputs/page.jpg")], 0.02) == []


def test_model_numbers_use_the_absolute_tolerance():
    assert tools.differences([record()], [record(mean=5.019)], 0.02) == []
    problems = tools.differences([record()], [record(distribution=[0.47, 0.53])], 0.02)
    assert len(problems) == 2 and "distribution[0]" in problems[0]


def test_checks_are_compared_relatively_but_decisions_exactly():
    assert tools.differences([record()], [record(checks={"blur_ratio": 4.276})], 0.02) == []
    assert tools.differences([record()], [record(checks={"blur_ratio": 4.9})], 0.02)
    assert tools.differences([record()], [record(verdict="retake")], 0.02) == ["[0].verdict: 'ok' != 'retake'"]


def test_missing_records_and_other_files_fail():
    assert tools.differences([record(), record()], [record()], 0.02) == [": 2 items on the host, 1 on the device"]
    assert tools.differences([record()], [record(path="/x/other.jpg")], 0.02)


def test_inputs_carry_the_hosts_decoded_frames_and_decode_diff_measures_against_them(tmp_path, capsys):
    import json

    import cv2

    written = tools.make_inputs(tmp_path)
    frames = sorted((tmp_path / "frames").glob("frame_*.png"))
    assert len(frames) == 30 and set(frames) <= set(written)
    tools.decode_diff(str(tmp_path / "capture.mp4"), str(tmp_path / "frames"), 5)
    same = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["max_grey_diff"] for r in same] == [0] * 5  # the same decoder reads the same pixels
    shifted = cv2.imread(str(frames[2]))
    cv2.imwrite(str(frames[2]), cv2.add(shifted, 3))
    tools.decode_diff(str(tmp_path / "capture.mp4"), str(tmp_path / "frames"), 5)
    changed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert changed[2]["max_grey_diff"] == 3 and changed[1]["max_grey_diff"] == 0
