"""Golden input/output pairs for a NIMA .tflite, for app developers to test their integration against.

    python scripts/make_golden.py MODEL OUTDIR [--force]   # write OUTDIR/golden.json + images
    python scripts/make_golden.py --check MODEL OUTDIR     # does this runtime reproduce them?

The images are drawn here (a prescription-like page in several states of capture), so nothing is
downloaded and every run gives the same pixels. Most are PNGs at exactly the model's input size:
decoding is lossless and no resize happens, so an app that feeds the decoded RGB bytes must
reproduce the expected outputs within the "input_size" tolerance — any larger difference is a bug
in the app's tensor handling (colour order, layout, dtype, output order). One full-size JPEG also
exercises decoding and the squash resize (area interpolation); its tolerance is wider because
JPEG decoders and resamplers differ between platforms. The tolerances are stated in golden.json.

Only the runtime (numpy, OpenCV, LiteRT) is needed, not TensorFlow. See docs/capture-apps.md.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
from nima_edge.runtime import Scorer, load_image, preprocess
from nima_edge.runtime.errors import NimaError
from nima_edge.runtime.fileio import atomic_write_bytes, atomic_write_text, check_writable

GOLDEN_FORMAT = "nima-edge-golden/1"
GOLDEN_FILE = "golden.json"
FULL_SIZE = (1200, 1600)  # (height, width) of the full-size JPEG: a 2-megapixel phone preview
JPEG_QUALITY = 92

# Why these numbers: at input size the only difference between two correct integrations is the
# interpreter's kernels (XNNPACK, NNAPI/GPU delegates, float accumulation order). For an int8 model
# that is at most a step or two of the output quantization (1/256 = 0.004 per bin); 0.02 per bin
# and 0.1 on the mean leaves room for that but catches a swapped colour order or a wrong output.
# The full-size JPEG adds a JPEG decoder and a resampler, which differ per platform.
TOLERANCE = {
    "input_size": {"distribution": 0.02, "mean": 0.1, "std": 0.1, "defects": 0.05},
    "full_size": {"distribution": 0.06, "mean": 0.3, "std": 0.2, "defects": 0.1},
}


# ---- drawing the cases ------------------------------------------------------------------------

def draw_page(height: int = 1100, width: int = 850, seed: int = 3) -> np.ndarray:
    """A white prescription-like page: a header, lines of text, a signature scrawl."""
    rng = np.random.default_rng(seed)
    page = np.full((height, width, 3), 246, np.uint8)
    cv2.rectangle(page, (40, 40), (width - 40, 150), (120, 60, 20), 3)
    cv2.putText(page, "Dr. A. Example - General Practice", (60, 110), cv2.FONT_HERSHEY_SIMPLEX, 1.1,
                (120, 60, 20), 2, cv2.LINE_AA)
    y = 220
    while y < height - 200:
        words = " ".join("".join(chr(c) for c in rng.integers(97, 123, rng.integers(3, 9)))
                         for _ in range(rng.integers(3, 7)))
        cv2.putText(page, words, (70, y), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (25, 25, 25), 2, cv2.LINE_AA)
        y += 52
    points = np.cumsum(rng.normal(0, 9, (40, 2)), axis=0) + (width * 0.6, height - 120)
    cv2.polylines(page, [points.astype(np.int32)], False, (140, 40, 10), 3, cv2.LINE_AA)
    return page


def place_page(page: np.ndarray, size: tuple[int, int], coverage: float, shift: tuple[float, float] = (0, 0),
               background: tuple[int, int, int] = (70, 95, 120)) -> np.ndarray:
    """The page on a desk-coloured background, slightly rotated, scaled to ``coverage`` of the height."""
    height, width = size
    scale = coverage * height / page.shape[0]
    centre = (width / 2 + shift[0] * width, height / 2 + shift[1] * height)
    matrix = cv2.getRotationMatrix2D((page.shape[1] / 2, page.shape[0] / 2), 4.0, scale)
    matrix[:, 2] += np.array(centre) - np.array([page.shape[1] / 2, page.shape[0] / 2])
    scene = np.empty((height, width, 3), np.uint8)
    scene[:] = background
    return cv2.warpAffine(page, matrix, (width, height), dst=scene, borderMode=cv2.BORDER_TRANSPARENT,
                          flags=cv2.INTER_AREA)


def add_glare(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    mask = np.zeros((height, width), np.float32)
    cv2.ellipse(mask, (int(width * 0.45), int(height * 0.4)), (int(width * 0.18), int(height * 0.1)),
                20, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), width * 0.03)[..., None]
    return np.clip(image * (1 - mask) + 255 * mask, 0, 255).astype(np.uint8)


def not_a_document(size: tuple[int, int], seed: int = 5) -> np.ndarray:
    """A cluttered non-document scene: coloured blobs over a gradient."""
    rng = np.random.default_rng(seed)
    height, width = size
    scene = np.zeros((height, width, 3), np.uint8)
    scene[:] = np.linspace(30, 160, width, dtype=np.uint8)[None, :, None]
    for _ in range(25):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        radius = int(rng.integers(width // 20, width // 5))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.circle(scene, centre, radius, colour, -1, cv2.LINE_AA)
    return scene


def golden_scenes() -> dict[str, tuple[str, np.ndarray]]:
    """name -> (what it shows, full-resolution BGR scene). Drawn large, reduced like a camera preview."""
    page = draw_page()
    size = FULL_SIZE
    sharp = place_page(page, size, coverage=0.92)
    return {
        "page_sharp": ("the whole page, in focus, even light", sharp),
        "page_blurred": ("the same page out of focus (Gaussian blur, sigma 2% of the width)",
                         cv2.GaussianBlur(sharp, (0, 0), size[1] * 0.02)),
        "page_dark": ("the same page underexposed (x0.2)", (sharp * 0.2).astype(np.uint8)),
        "page_glare": ("the same page with a blown-out glare patch", add_glare(sharp)),
        "page_cut_off": ("the page pushed half out of the frame", place_page(page, size, 1.1, shift=(0.35, 0.2))),
        "not_a_document": ("coloured blobs on a gradient: no document", not_a_document(size)),
    }


# ---- writing and checking -----------------------------------------------------------------------

def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def describe(scorer: Scorer, image_bgr: np.ndarray) -> dict:
    """Expected outputs for one decoded image: what the runtime computes, rounded for JSON."""
    model_input = scorer.prepare(image_bgr)
    score = scorer.score_input(model_input)
    entry = {
        "model_input_sha256": sha256(np.ascontiguousarray(model_input).tobytes()),
        "distribution": [round(float(p), 6) for p in score.distribution],
        "mean": round(score.mean, 6),
        "std": round(score.std, 6),
        "model_verdict": "ok" if score.mean >= scorer.threshold else "retake",
    }
    if score.extras:
        entry["extras"] = {name: {k: round(v, 6) for k, v in values.items()} for name, values in score.extras.items()}
    return entry


def encode(image_bgr: np.ndarray, suffix: str) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if suffix == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 9]
    ok, data = cv2.imencode(suffix, image_bgr, params)
    if not ok:
        raise NimaError(f"cannot encode a {suffix} image")
    return data.tobytes()


def _notes(view: str, mirror_average: bool) -> list[str]:
    """How an integrator turns each case's file into the model input the hashes and outputs are for."""
    if view == "frame":
        prepare = ("input_size cases: decode the PNG to RGB uint8 and feed it as is (no resize); "
                   "model_input_sha256 is the SHA-256 of those H*W*3 RGB bytes, row-major.")
        full = ("full_size case: decode, squash-resize the whole frame to the input size with area "
                "interpolation (no crop), then as above.")
    else:
        prepare = (f"every case: decode to RGB uint8 and prepare it as the model's view ({view!r}) says "
                   "(docs/capture-apps.md, section 1: the frame squashed to the top-left quarter, three "
                   "detail tiles cut at 1024 px in the others; the PNGs are at the input size but are still "
                   "prepared, not fed as is); model_input_sha256 is the SHA-256 of the prepared H*W*3 RGB "
                   "bytes, row-major.")
        full = "full_size case: the same preparation on the full-size frame."
    notes = [prepare, full + " mean_if_resized_bilinear shows how far a different resampler alone moves the mean.",
             ("mean/std are the model's: sum p_i*v_i over score_values. The nima runtime's reported mean "
              "can be lower (native-resolution checks, see docs/runtime.md); model_verdict uses the "
              "model mean and threshold only.")]
    if mirror_average:
        notes.append("mirror_average: every output here is the mean of two runs, on the prepared input and on "
                     "its mirror (docs/capture-apps.md, section 2, 'Two passes'); one run alone misses the "
                     "tolerance on some cases.")
    return notes


def make_golden(model: Path, outdir: Path, force: bool = False) -> dict:
    """Write the golden images and golden.json into ``outdir``; return the document."""
    scorer = Scorer(model, threads=1)
    meta = scorer.metadata
    height, width = meta.input_size
    check_writable(outdir / GOLDEN_FILE, force)
    cases = []
    scenes = golden_scenes()
    for name, (what, scene) in scenes.items():
        small = cv2.resize(scene, (width, height), interpolation=cv2.INTER_AREA)
        cases.append((f"{name}.png", what, "input_size", small))
    _, sharp = scenes["page_sharp"]
    cases.append(("page_sharp_full.jpg", (f"page_sharp at {FULL_SIZE[1]}x{FULL_SIZE[0]}, JPEG quality {JPEG_QUALITY}: "
                  "exercises decoding and the squash resize"), "full_size", sharp))
    entries = []
    for file_name, what, kind, image in cases:
        data = encode(image, Path(file_name).suffix)
        atomic_write_bytes(outdir / file_name, data, force=force)
        decoded = load_image(outdir / file_name)  # score what a reader of the file gets, not `image`
        entry = {"file": file_name, "shows": what, "tolerance": kind, "width": decoded.shape[1],
                 "height": decoded.shape[0], "file_sha256": sha256(data), **describe(scorer, decoded)}
        if kind == "full_size":
            # How much the resampler alone moves the score: bilinear instead of area interpolation.
            linear = preprocess(decoded, meta.input_size, "linear", meta.view)
            if meta.color_order == "BGR":
                linear = linear[..., ::-1]
            entry["mean_if_resized_bilinear"] = round(scorer.score_input(linear).mean, 6)
        entries.append(entry)
    document = {
        "format": GOLDEN_FORMAT,
        "model": {
            "file": model.name,
            "sha256": sha256(model.read_bytes()),
            "name": meta.name,
            "quantization": meta.quantization,
            "input": {"height": height, "width": width, "channels": 3, "dtype": "uint8",
                      "color_order": meta.color_order, "resize": meta.resize, "view": meta.view},
            "score_values": list(meta.score_values),
            "threshold": meta.threshold,
            "mirror_average": meta.mirror_average,
            "extra_outputs": {k: list(v) for k, v in meta.extra_outputs.items()},
        },
        "tolerance": TOLERANCE,
        "notes": _notes(meta.view, meta.mirror_average),
        "cases": entries,
    }
    atomic_write_text(outdir / GOLDEN_FILE, json.dumps(document, indent=1) + "\n", force=force)
    return document


def check_golden(model: Path, outdir: Path) -> list[str]:
    """Score every golden image with this runtime; return the differences beyond tolerance."""
    document = json.loads((outdir / GOLDEN_FILE).read_text())
    if document.get("format") != GOLDEN_FORMAT:
        return [f"{outdir / GOLDEN_FILE}: format {document.get('format')!r}, expected {GOLDEN_FORMAT}"]
    if sha256(model.read_bytes()) != document["model"]["sha256"]:
        return [f"{model}: not the model these goldens were made with (sha256 differs)"]
    scorer = Scorer(model, threads=1)
    problems = []
    for case in document["cases"]:
        tolerance = document["tolerance"][case["tolerance"]]
        got = describe(scorer, load_image(outdir / case["file"]))
        name = case["file"]
        for key in ("mean", "std"):
            if not math.isclose(got[key], case[key], abs_tol=tolerance[key]):
                problems.append(f"{name}: {key} {got[key]:.4f}, expected {case[key]:.4f} +- {tolerance[key]}")
        worst = float(np.max(np.abs(np.subtract(got["distribution"], case["distribution"]))))
        if worst > tolerance["distribution"]:
            problems.append(f"{name}: distribution off by {worst:.4f} (tolerance {tolerance['distribution']})")
        for head, values in case.get("extras", {}).items():
            for label, expected in values.items():
                value = got.get("extras", {}).get(head, {}).get(label)
                if value is None or abs(value - expected) > tolerance["defects"]:
                    problems.append(f"{name}: {head}.{label} {value}, expected {expected} +- {tolerance['defects']}")
        if case["tolerance"] == "input_size" and got["model_input_sha256"] != case["model_input_sha256"]:
            problems.append(f"{name}: model input bytes differ from the golden's (decoding or colour order)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="the .tflite (with nima-edge metadata)")
    parser.add_argument("outdir", type=Path, help="folder for golden.json and the images, e.g. models/golden")
    parser.add_argument("--force", action="store_true", help="overwrite existing golden files")
    parser.add_argument("--check", action="store_true", help="verify existing goldens instead of writing")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check_golden(args.model, args.outdir)
            for problem in problems:
                print(problem)
            print(f"{'FAIL' if problems else 'ok'}: {args.outdir / GOLDEN_FILE} against {args.model}")
            return 1 if problems else 0
        document = make_golden(args.model, args.outdir, args.force)
    except (NimaError, OSError, json.JSONDecodeError, KeyError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    for case in document["cases"]:
        print(f"{case['file']:<24} mean {case['mean']:.3f}  std {case['std']:.3f}  {case['model_verdict']}")
    print(f"wrote {args.outdir / GOLDEN_FILE} ({len(document['cases'])} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
