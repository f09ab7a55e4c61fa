"""The capture page in a real browser: Debian's chromium, headless, driven by puppeteer-core.

Two runs. One scores the goldens inside the page (the browser's own image decoder, the JS
preprocessing, LiteRT.js on WASM) and uses the file-input fallback. The other opens the page on a
fake camera playing a clip made from the sample captures and checks what a person would see: the
retake prompt with its reason on the bad stretch, "ready" and an auto-captured photo on the good
one, the same verdicts as `nima score --no-checks` on the very frames the page judged, and no
image leaving the page before "Use this photo".
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from nima_edge.runtime import load_image
from nima_edge.runtime.defects import REASONS
from nima_edge.runtime.metadata import read_metadata
from nima_edge.runtime.watch import PromptState, WatchConfig
from web_support import (
    GOLDEN,
    MODEL,
    SAMPLES,
    PageServer,
    read_result,
    require_chromium,
    require_packages,
    run_node,
    write_y4m,
)

from nima_edge.cli import cli

BAD_SAMPLE = "prescription_dark.jpg"  # samples/README.md: retake, underexposed
GOOD_SAMPLE = "prescription_good_printed.jpg"  # samples/README.md: ok
FILE_SAMPLE = "prescription_blurred.jpg"
CLIP_FPS = 3
BAD_FRAMES, GOOD_FRAMES = 12, 21  # 4 s of the bad capture, then 7 s of the good one, looped
DRIVER_TIMEOUT_S = 150


@pytest.fixture(scope="module")
def browser_ready():
    require_packages()
    require_chromium()


@pytest.fixture(scope="module")
def golden() -> dict:
    document = json.loads((GOLDEN / "golden.json").read_text())
    if document["model"]["sha256"] != hashlib.sha256(MODEL.read_bytes()).hexdigest():
        pytest.fail("models/golden/golden.json belongs to another model than models/default.tflite: "
                    "regenerate it (python scripts/make_golden.py models/default.tflite models/golden --force)")
    return document


def nima_score(*paths) -> list[dict]:
    """`nima score --no-checks --json`: the model-only decision the page makes."""
    result = CliRunner().invoke(cli, ["score", "--no-checks", "--json", "--threads", "1", *map(str, paths)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def drive(mode: str, url: str, out_dir, *extra) -> dict:
    run_node("drive_page.mjs", mode, url, out_dir, *extra, timeout=DRIVER_TIMEOUT_S)
    return read_result(out_dir)


def close(got, want, tolerance) -> bool:
    return math.isclose(got, want, abs_tol=tolerance)


def test_page_reproduces_the_goldens_and_scores_a_chosen_photo(browser_ready, golden, tmp_path):
    with PageServer() as server:
        output = drive("goldens", server.url, tmp_path, SAMPLES / FILE_SAMPLE)
    result = output["result"]
    by_file = {case["file"]: case for case in result["cases"]}
    assert set(by_file) == {case["file"] for case in golden["cases"]}
    problems = []
    for case in golden["cases"]:
        got = by_file[case["file"]]
        tolerance = golden["tolerance"][case["tolerance"]]
        if case["tolerance"] == "input_size" and got["sha256"] != case["model_input_sha256"]:
            problems.append(f"{case['file']}: the page's model input differs from the golden's (decoding or preprocessing)")
        worst = float(np.max(np.abs(np.subtract(got["distribution"], case["distribution"]))))
        if worst > tolerance["distribution"]:
            problems.append(f"{case['file']}: distribution off by {worst:.4f} (tolerance {tolerance['distribution']})")
        for key in ("mean", "std"):
            if not close(got[key], case[key], tolerance[key]):
                problems.append(f"{case['file']}: {key} {got[key]:.4f}, expected {case[key]:.4f} +- {tolerance[key]}")
        for head, values in case.get("extras", {}).items():
            for label, expected in values.items():
                value = got["extras"].get(head, {}).get(label)
                if value is None or abs(value - expected) > tolerance["defects"]:
                    problems.append(f"{case['file']}: {head}.{label} {value}, expected {expected} +- {tolerance['defects']}")
    assert not problems, "\n".join(problems)

    # No camera in this browser: the page says so and the file input takes over. The chosen
    # photo (decoded by the browser) gets the verdict and first reason nima gives the same file.
    assert result["noCameraPrompt"]["headline"] == "NO CAMERA" and "choose a photo" in result["noCameraPrompt"]["reason"]
    [expected] = nima_score(SAMPLES / FILE_SAMPLE)
    chosen = result["chosenFile"]
    assert chosen["event"]["verdict"] == expected["verdict"]
    assert chosen["event"]["reasons"][:1] == expected["reasons"][:1]
    assert close(chosen["event"]["mean"], expected["mean"], golden["tolerance"]["full_size"]["mean"])
    assert chosen["reviewVisible"] and chosen["reviewNote"]
    print(json.dumps({"modelMedianMs": result["modelMedianMs"], "oneRunMedianMs": result["oneRunMedianMs"],
                      "stats": result["stats"],
                      "preprocessMs": {c["file"]: round(c["ms"]["preprocess"], 1) for c in result["cases"]}}))


def test_live_capture_on_a_fake_camera(browser_ready, golden, tmp_path):
    bad, good = load_image(SAMPLES / BAD_SAMPLE), load_image(SAMPLES / GOOD_SAMPLE)
    clip = write_y4m(tmp_path / "clip.y4m", [(bad, BAD_FRAMES), (good, GOOD_FRAMES)], CLIP_FPS)
    out_dir = tmp_path / "run"
    with PageServer() as server:
        output = drive("camera", f"{server.url}?debug=1&keep=3&upload=/upload", out_dir, clip)
        requests, uploads = list(server.requests), list(server.uploads)
    result = output["result"]
    metadata = read_metadata(MODEL)
    threshold = metadata.threshold
    tolerance = golden["tolerance"]["input_size"]

    # The frames the page judged, scored by `nima score` on the same pixels (lossless PNGs).
    judged = result["badFrames"] + result["goodFrames"]
    assert result["badFrames"] and result["goodFrames"]
    nima = {record["path"]: record for record in nima_score(*(frame["path"] for frame in judged))}
    for frame in judged:
        expected = nima[frame["path"]]
        assert frame["verdict"] == expected["verdict"], frame["path"]
        assert frame["reasonCodes"] == expected["reason_codes"], frame["path"]
        assert close(frame["mean"], expected["mean"], tolerance["mean"]), (frame["path"], frame["mean"], expected["mean"])

    # Bad stretch: the retake prompt, with the reason nima gives that frame and the sample itself.
    [sample_verdict] = nima_score(SAMPLES / BAD_SAMPLE)
    assert sample_verdict["verdict"] == "retake"
    prompt = result["retakePrompt"]
    assert (prompt["headline"], prompt["state"]) == ("RETAKE", "retake")
    assert all(frame["verdict"] == "retake" for frame in result["badFrames"])
    latest = nima[result["badFrames"][-1]["path"]]  # the frame the prompt shows
    assert prompt["reason"] == latest["reasons"][0] == REASONS[sample_verdict["reason_codes"][0]]

    # Good stretch: "ready", and the best frame of the good run captured automatically.
    events = result["events"]
    states = [e["state"] for e in events if e["event"] == "state"]
    assert states[:3] == ["retake", "ok", "ready"]
    ready = next(e for e in events if e["event"] == "state" and e["state"] == "ready")
    captured = next(e for e in events if e["event"] == "captured")
    assert captured["frame"] == ready["frame"] and result["reviewVisible"]
    [photo] = nima_score(out_dir / "captured-1.png")
    assert photo["verdict"] == "ok" and close(photo["mean"], result["firstCapture"]["mean"], tolerance["mean"])
    assert photo["mean"] >= threshold
    [good_sample] = nima_score(SAMPLES / GOOD_SAMPLE)
    assert good_sample["verdict"] == "ok"

    # The page's prompt states are PromptState's on the page's own per-frame means.
    runs, current = [], []
    for entry in result["log"]:
        if entry["frame"] == 1 and current:  # "Retake" starts the session over
            runs.append(current)
            current = []
        current.append(entry)
    runs.append(current)
    assert len(runs) == 2
    for run in runs:
        state = PromptState(threshold, WatchConfig())
        for entry in run:
            state.update(entry["mean"])
            assert entry["state"] == state.state and entry["ema"] == pytest.approx(state.ema, abs=1e-9)

    # "Retake" went back to the live view and captured again; "Use this photo" sent that one.
    assert [e["event"] for e in events].count("captured") == 2
    assert result["sendStatus"].startswith("Sent")
    assert len(uploads) == 1 and uploads[0]["type"] == "image/jpeg"
    sent = cv2.imdecode(np.frombuffer(uploads[0]["body"], np.uint8), cv2.IMREAD_COLOR)
    assert sent is not None and sent.shape[:2] == (result["secondCapture"]["height"], result["secondCapture"]["width"])
    # Nothing left the page before the person accepted: only GETs of the page, LiteRT and the model.
    accepted = result["acceptedAt"] / 1000
    early = [r for r in requests if r["t"] < accepted]
    assert early and all(r["method"] == "GET" and is_page_asset(r["path"]) for r in early), early
    assert uploads[0]["t"] >= accepted
    seen_by_browser = [r for r in output["requests"] if r["t"] / 1000 < accepted]
    assert all(r["method"] == "GET" and r["url"].startswith(server.url) for r in seen_by_browser)

    # The debug overlay shows the frame rate and the per-frame milliseconds.
    assert "fps" in result["debugText"] and "ms" in result["debugText"]
    assert all(entry["ms"]["total"] > 0 for entry in result["log"])
    target = os.environ.get("NIMA_WEB_SCREENSHOT")
    if target:  # how docs/web-capture.png is made: NIMA_WEB_SCREENSHOT=docs/web-capture.png pytest tests/web
        shutil.copyfile(out_dir / "live.png", target)
    print(json.dumps({"stats": result["stats"], "ms": summarise_ms(result["log"]), "userAgent": output["userAgent"]}))


def is_page_asset(path: str) -> bool:
    """The page, its style and modules, LiteRT.js and its WASM, the model: what loading it fetches."""
    path = path.split("?", 1)[0]
    return path in ("/", "/style.css", "/model.tflite") or path.startswith(("/js/", "/node_modules/@litertjs/"))


def summarise_ms(log: list[dict]) -> dict:
    """Median per-frame milliseconds of the run (the first frames warm the JIT and are left out)."""
    steady = log[3:] or log
    return {key: float(np.median([entry["ms"][key] for entry in steady])) for key in ("grab", "preprocess", "model", "total")}
