"""The capture page's JavaScript (web/js) against the Python runtime, run in node.

The page must prepare a frame exactly as runtime/preprocess.py does, read the model's metadata as
runtime/metadata.py does, and decide and prompt as runtime/policy.py and runtime/watch.py do. Each
test feeds both sides the same input and compares: the model input byte for byte, the rest exactly
(means to 1e-12). Decoding is kept out of it: Python decodes each image once and both sides get
those pixels (the browser's own decoder is tested in test_web_chromium.py).
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile

import cv2
import numpy as np
import pytest
from nima_edge.runtime import load_image, preprocess
from nima_edge.runtime.errors import MetadataError
from nima_edge.runtime.interpreter import make_interpreter
from nima_edge.runtime.metadata import METADATA_ENTRY, read_metadata, strip_metadata
from nima_edge.runtime.policy import Policy, decide
from nima_edge.runtime.preprocess import ink_response, mirror_input
from nima_edge.runtime.scorer import Score
from nima_edge.runtime.watch import PromptState, WatchConfig
from web_support import GOLDEN, MODEL, SAMPLES, run_node


def model_spec() -> dict:
    meta = read_metadata(MODEL)
    return {"inputSize": list(meta.input_size), "resize": meta.resize, "view": meta.view, "colorOrder": meta.color_order}


def python_input(bgr: np.ndarray, spec: dict) -> bytes:
    """What the Python runtime feeds the model (Scorer.prepare) for this spec."""
    image = preprocess(bgr, tuple(spec["inputSize"]), spec["resize"], spec["view"])
    if spec["colorOrder"] == "BGR":
        image = image[..., ::-1]
    return np.ascontiguousarray(image).tobytes()


def page_on_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """RGB: a page of one random colour (grey or tinted, so the colour test goes either way) with
    faint lines, on a brown, strongly textured ground that the colour test refuses."""
    ground = np.empty((height, width, 3), np.uint8)
    ground[:] = (150, 100, 60)
    ground = cv2.add(ground, rng.integers(0, 90, (height, width, 1), dtype=np.uint8).repeat(3, axis=2))
    top, left = height // 4, width // 4
    page = ground[top:height - top, left:width - left]
    page[:] = rng.integers(150, 235, (1, 1, 3), dtype=np.uint8)
    page[::4] -= 40  # faint lines
    return ground


def paper_limit_frames() -> dict[str, np.ndarray]:
    """RGB frames on the paper tests' limits: exactly 90% of the ground at grey 100 (the level is
    100, not the 200 above it); and, against a level of 200, grey 150 (exactly 3/4 of it) and 149,
    and colours whose channel spread times 3 equals their largest channel (201, spread 67) or
    passes it (spread 68). A dark line crosses each so the black-hat answers there."""
    tie = np.full((10, 100, 3), 100, np.uint8)
    tie[:, 90:] = 200
    tie[5, :90] = 40
    limits = np.empty((20, 120, 3), np.uint8)
    for start, colour in ((0, (200, 200, 200)), (72, (150, 150, 150)), (84, (149, 149, 149)),
                          (96, (201, 167, 134)), (108, (201, 167, 133))):
        limits[:, start:] = colour
    limits[10] //= 2
    return {"tie": tie, "limits": limits}


def frames_to_check() -> dict[str, np.ndarray]:
    """Decoded BGR frames: the goldens, the sample captures, and camera-like sizes and contents
    that reach every branch of the port (integer and fractional area factors, enlarging tiles,
    a frame too small for apart windows, flat frames where every window ties)."""
    frames = {f"golden-{p.name}": load_image(p) for p in sorted(GOLDEN.glob("*")) if p.suffix in (".png", ".jpg")}
    frames.update({f"sample-{p.name}": load_image(p) for p in sorted(SAMPLES.glob("*.jpg"))})
    page = load_image(SAMPLES / "prescription_good_printed.jpg")
    for height, width in [(480, 640), (720, 1280), (1080, 1920), (1280, 720), (1001, 757), (200, 1200), (60, 100), (48, 48)]:
        frames[f"camera-{width}x{height}"] = cv2.resize(page, (width, height), interpolation=cv2.INTER_AREA)
    frames["flat-grey"] = np.full((480, 640, 3), 128, np.uint8)
    frames["two-tone"] = np.full((480, 640, 3), 200, np.uint8)
    frames["two-tone"][:240, :320] = 60  # no ink anywhere: sides tie, and places along a side
    # A strip of text lines: the edge window is as tall as the frame and the bottom side wins.
    frames["strip-20x1000"] = cv2.resize(page[300:], (1000, 20), interpolation=cv2.INTER_AREA)
    frames["noise"] = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    # Paper and coloured grain side by side: the ink counts in full on one, weakly on the other.
    frames["page-on-grain"] = page_on_texture(np.random.default_rng(1), 720, 960)[..., ::-1].copy()
    return frames


OTHER_SPECS = [  # the same port must serve any model the exporter can write
    {"inputSize": [160, 160], "resize": "linear", "view": "frame+detail", "colorOrder": "RGB"},
    {"inputSize": [224, 224], "resize": "area", "view": "frame", "colorOrder": "RGB"},
    {"inputSize": [224, 224], "resize": "linear", "view": "frame", "colorOrder": "BGR"},
    {"inputSize": [96, 128], "resize": "area", "view": "frame+detail", "colorOrder": "BGR"},
    {"inputSize": [160, 160], "resize": "area", "view": "frame+detail+edge", "colorOrder": "RGB"},
    {"inputSize": [96, 128], "resize": "linear", "view": "frame+detail+edge", "colorOrder": "BGR"},
]
# Frames every spec is checked on: a page, and the sizes and contents where windows clamp, tie
# (flat grey, and a dark quarter: no ink anywhere, and the side and place that win the tie show), or hang past a
# frame smaller than a tile; a 20 x 1000 strip puts the edge tile on the bottom side, its window clamped to the frame;
# a page on coloured grain weighs the ink in full on the paper and weakly off it.
EVERY_SPEC_FRAMES = ("sample-prescription_good_printed.jpg", "camera-640x480", "camera-757x1001", "camera-1200x200",
                     "camera-100x60", "camera-48x48", "flat-grey", "two-tone", "noise", "strip-20x1000",
                     "page-on-grain")


def test_js_preprocess_gives_the_python_input_bytes(tmp_path):
    spec = model_spec()
    golden = {case["file"]: case for case in json.loads((GOLDEN / "golden.json").read_text())["cases"]}
    manifest, expected, mirrors = [], {}, {}
    for name, bgr in frames_to_check().items():
        specs = [spec] + (OTHER_SPECS if name in EVERY_SPEC_FRAMES else [])
        for k, item_spec in enumerate(specs):
            key = f"{name}-{k}"
            rgb_path = tmp_path / f"{key}.rgb"
            rgb_path.write_bytes(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).tobytes())
            manifest.append({"name": key, "width": bgr.shape[1], "height": bgr.shape[0], "rgb": str(rgb_path), "spec": item_spec})
            expected[key] = python_input(bgr, item_spec)
            shape = (*item_spec["inputSize"], 3)
            mirrors[key] = mirror_input(np.frombuffer(expected[key], np.uint8).reshape(shape), item_spec["view"]).tobytes()
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    done = run_node("preprocess_frames.mjs", tmp_path / "manifest.json", tmp_path)
    results = {r["name"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert set(results) == set(expected)
    problems = []
    for key, want in expected.items():
        got = (tmp_path / f"{key}.bin").read_bytes()
        if got != want:
            differ = np.count_nonzero(np.frombuffer(got, np.uint8) != np.frombuffer(want, np.uint8)) if len(got) == len(want) else "all"
            problems.append(f"{key}: {differ} of {len(want)} bytes differ from the Python runtime's")
        assert results[key]["sha256"] == hashlib.sha256(got).hexdigest()
        # The mirror the page scores beside it (mirror_average) is the Python runtime's too.
        if (tmp_path / f"{key}.mirror.bin").read_bytes() != mirrors[key]:
            problems.append(f"{key}: the mirrored input differs from mirror_input's")
    assert not problems, "\n".join(problems)
    # The goldens record the input bytes of each case (model_input_sha256): the JS input is theirs.
    for file, case in golden.items():
        assert results[f"golden-{file}-0"]["sha256"] == case["model_input_sha256"], file


def test_js_image_operations_are_opencvs(tmp_path):
    """The OpenCV calls preprocess() makes, each on random and smooth images of many sizes:
    cv2.resize (INTER_AREA with integer and fractional factors, enlarging, mixed; INTER_LINEAR),
    cv2.cvtColor(BGR2GRAY), the black-hat with the 5x5 ellipse, and ink_response (the black-hat
    weighted to paper) on frames with paper, coloured and grey ground and on the paper tests'
    limits, byte for byte."""
    rng = np.random.default_rng(5)
    sizes = [((160, 160), (80, 80)), ((1000, 750), (256, 192)), ((256, 192), (80, 80)), ((12, 12), (80, 80)),
             ((78, 78), (80, 80)), ((100, 100), (80, 80)), ((720, 1280), (144, 256)), ((97, 61), (80, 80)),
             ((30, 50), (80, 80)), ((300, 90), (80, 80)), ((240, 240), (80, 80)), ((50, 200), (80, 80)),
             ((13, 17), (5, 3)), ((40, 40), (85, 83)), ((200, 170), (83, 85)), ((9, 11), (7, 5))]
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    manifest, expected = [], {}

    def add(name, op, image, want, **args):
        src = tmp_path / f"{name}.src"
        src.write_bytes(np.ascontiguousarray(image).tobytes())
        height, width = image.shape[:2]
        channels = 1 if image.ndim == 2 else image.shape[2]
        manifest.append({"name": name, "op": op, "width": width, "height": height, "channels": channels,
                         "src": str(src), "args": args})
        expected[name] = np.ascontiguousarray(want).tobytes()

    for k, ((sh, sw), (dh, dw)) in enumerate(sizes):
        for channels in (3, 1):
            noise = rng.integers(0, 256, (sh, sw, channels), dtype=np.uint8)
            smooth = cv2.GaussianBlur(noise, (0, 0), 3).reshape(sh, sw, channels)
            for kind, image in (("noise", noise), ("smooth", smooth)):
                for method, flag in (("area", cv2.INTER_AREA), ("linear", cv2.INTER_LINEAR)):
                    add(f"resize-{k}-{channels}-{kind}-{method}", "resize", image[..., 0] if channels == 1 else image,
                        cv2.resize(image, (dw, dh), interpolation=flag), width=dw, height=dh, method=method)
    colours = np.concatenate([rng.integers(0, 256, (200_000, 3)), np.array(np.meshgrid(*[[0, 1, 127, 128, 254, 255]] * 3)).reshape(3, -1).T])
    colours = colours.astype(np.uint8).reshape(1, -1, 3)  # as RGB; OpenCV gets the BGR copy
    add("grey", "grey", colours, cv2.cvtColor(colours[..., ::-1].copy(), cv2.COLOR_BGR2GRAY))
    for k, (height, width) in enumerate([(192, 256), (256, 144), (7, 5), (3, 3), (1, 9)]):
        grey = cv2.GaussianBlur(rng.integers(0, 256, (height, width), dtype=np.uint8), (0, 0), 1.2)
        add(f"blackhat-{k}", "blackhat", grey, cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel))
    for k, (height, width) in enumerate([(192, 256), (256, 144), (7, 5), (1, 9)]):
        noise = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        for kind, rgb in (("noise", noise), ("smooth", cv2.GaussianBlur(noise, (0, 0), 1.2)),
                          ("page", page_on_texture(rng, height, width))):
            add(f"ink-{k}-{kind}", "ink", rgb, ink_response(rgb[..., ::-1].copy()).astype(np.uint8))
    for name, rgb in paper_limit_frames().items():
        add(f"ink-{name}", "ink", rgb, ink_response(rgb[..., ::-1].copy()).astype(np.uint8))
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    run_node("image_ops.mjs", tmp_path / "manifest.json", tmp_path)
    differ = [name for name, want in expected.items() if (tmp_path / f"{name}.out").read_bytes() != want]
    assert not differ, f"{len(differ)} of {len(expected)} differ from OpenCV: {differ[:10]}"


def test_js_reads_the_model_metadata_and_refuses_damaged_models(tmp_path):
    content = MODEL.read_bytes()
    flipped = bytearray(content)
    flipped[len(content) // 3] ^= 0x01  # inside the flatbuffer: its SHA-256 no longer matches
    (tmp_path / "flipped.tflite").write_bytes(bytes(flipped))
    (tmp_path / "cut.tflite").write_bytes(content[:-40])  # the archive's end record is gone
    (tmp_path / "bare.tflite").write_bytes(strip_metadata(content))
    job = {"models": [str(MODEL), str(tmp_path / "flipped.tflite"), str(tmp_path / "cut.tflite"), str(tmp_path / "bare.tflite")],
           "static_batch_dir": str(tmp_path)}
    model, flipped_result, cut, bare = json.loads(run_node("run_ports.mjs", stdin=json.dumps(job)).stdout)["models"]

    assert "error" not in model, model
    assert model["metadata"] == read_metadata(MODEL).to_dict()
    assert model["flatbufferBytes"] == len(strip_metadata(content))
    assert "SHA-256" in flipped_result["error"] and flipped_result["errorType"] == "MetadataError"
    assert "damaged" in cut["error"]
    assert bare["metadata"] is None

    # The tensor types and quantization the JS reads from the flatbuffer are the interpreter's.
    interpreter = make_interpreter(content, 1, name=str(MODEL))
    details = interpreter.get_input_details() + interpreter.get_output_details()
    ours = model["io"]["inputs"] + model["io"]["outputs"]
    assert [(d["name"], np.dtype(d["dtype"]).name, d["quantization"]) for d in details] == \
           [(d["name"], d["dtype"], (pytest.approx(d["scale"]), d["zeroPoint"])) for d in ours]
    # withStaticBatch: the batch dimension is fixed to 1 and the model computes the same outputs.
    static = make_interpreter((tmp_path / "static-0.tflite").read_bytes(), 1, name="static")
    assert all(-1 not in d["shape_signature"] for d in static.get_tensor_details())
    frame = np.random.default_rng(1).integers(0, 256, interpreter.get_input_details()[0]["shape"], dtype=np.uint8)
    outputs = []
    for it in (interpreter, static):
        it.set_tensor(it.get_input_details()[0]["index"], frame)
        it.invoke()
        outputs.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
    assert all(np.array_equal(a, b) for a, b in zip(*outputs))


def test_js_prompt_state_follows_python_watch():
    """Smoothing, hysteresis and the ready counter on score runs that cross the threshold, sit on
    it and on threshold +- hysteresis exactly (the comparisons' edges)."""
    rng = np.random.default_rng(7)
    runs = []
    for threshold in (5.0, 4.2):
        config = WatchConfig()
        walk = threshold + np.cumsum(rng.normal(0, 0.6, 300))
        edges = [threshold, threshold + config.hysteresis, threshold - config.hysteresis]
        runs.append({"threshold": threshold, "scores": [float(s) for s in np.clip(walk, 1, 10)]})
        runs.append({"threshold": threshold, "scores": [edges[i % 3] for i in range(40)] + [9.0] * 12 + [1.0] * 3})
    got = json.loads(run_node("run_ports.mjs", stdin=json.dumps({"prompt_state": runs})).stdout)["prompt_state"]
    for run, js_states in zip(runs, got):
        state = PromptState(run["threshold"], WatchConfig())
        for score, js in zip(run["scores"], js_states, strict=True):
            changed = state.update(score)
            assert (js["state"], js["changed"], js["goodRun"]) == (state.state, changed, state.good_run)
            assert js["ema"] == pytest.approx(state.ema, abs=1e-12)
    assert any(s["state"] == "ready" for states in got for s in states)
    assert any(s["changed"] == "retake" for states in got[1:] for s in states)


def test_js_decision_and_reasons_follow_python_policy():
    """decide() without checks: the verdict on the mean, the model's defects ranked into reasons,
    the fallback hint below 0.5 and the generic reason below 0.2, ties kept in label order."""
    meta = read_metadata(MODEL)
    labels = list(meta.extra_outputs.get("defects", ())) or ["defocus", "glare", "incomplete"]
    values = np.asarray(meta.score_values, dtype=np.float64)
    rng = np.random.default_rng(3)
    cases = []
    for k in range(300):
        distribution = rng.dirichlet(np.full(len(values), 0.5)).astype(np.float32)
        scale = [1.0, 0.45, 0.15][k % 3]  # some above the limit, some only the fallback, some neither
        defects = {label: float(np.float32(rng.random() * scale)) for label in labels}
        if k % 10 == 0:
            defects[labels[0]] = defects[labels[-1]] = 0.75  # a tie
        cases.append({"distribution": [float(p) for p in distribution], "defects": defects})
    for top in (0.5, 0.4999999, 0.2, 0.1999999):  # on and just under the two limits
        cases.append({"distribution": [1.0] + [0.0] * (len(values) - 1),
                      "defects": {label: (top if i == 1 else 0.01) for i, label in enumerate(labels)}})
    cases.append({"distribution": [1.0] + [0.0] * (len(values) - 1), "defects": None})  # no defects head
    job = {"decide": {"values": list(values), "threshold": meta.threshold, "cases": cases}}
    got = json.loads(run_node("run_ports.mjs", stdin=json.dumps(job)).stdout)["decide"]
    policy = Policy(threshold=meta.threshold)
    verdicts = set()
    for case, js in zip(cases, got, strict=True):
        distribution = np.asarray(case["distribution"], dtype=np.float32)
        extras = {"defects": case["defects"]} if case["defects"] else {}
        expected = decide(Score(distribution, 0.0, 0.0, extras), None, values, policy)
        assert (js["verdict"], js["reasonCodes"], js["reasons"]) == (expected.verdict, expected.reason_codes, expected.reasons)
        # a smoothed RETAKE over this frame says what the Python watch loop would
        assert (js["causes"], js["retakeReasons"]) == (expected.causes, expected.retake_reasons())
        assert js["mean"] == pytest.approx(expected.mean, abs=1e-12) and js["std"] == pytest.approx(expected.std, abs=1e-12)
        verdicts.add((expected.verdict, len(expected.reason_codes)))
    assert {("ok", 0), ("retake", 1), ("retake", 0)} <= verdicts


def test_js_sum_is_numpys():
    """np.sum adds pairwise; the JS sum does too, so means agree to the last bit."""
    rng = np.random.default_rng(11)
    arrays = [list(rng.random(n) * 10.0 ** rng.integers(-8, 8, n)) for n in (1, 5, 8, 10, 17, 129, 300)]
    got = json.loads(run_node("run_ports.mjs", stdin=json.dumps({"sums": arrays})).stdout)["sums"]
    assert got == [float(np.sum(np.asarray(a))) for a in arrays]


@pytest.mark.parametrize("value", ["false", 1, None])
def test_js_refuses_a_mirror_average_that_is_not_a_boolean(tmp_path, value):
    """As ModelMetadata does: a string "false" must not read as true and make the page mirror."""
    buffer = io.BytesIO()
    document = {**read_metadata(MODEL).to_dict(), "mirror_average": value}
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA_ENTRY, json.dumps(document))
    path = tmp_path / "hostile.tflite"
    path.write_bytes(strip_metadata(MODEL.read_bytes()) + buffer.getvalue())
    with pytest.raises(MetadataError, match="mirror_average.*must be true or false"):
        read_metadata(path)
    [model] = json.loads(run_node("run_ports.mjs", stdin=json.dumps({"models": [str(path)]})).stdout)["models"]
    assert model["errorType"] == "MetadataError" and "mirror_average" in model["error"] \
        and "must be true or false" in model["error"]
