"""Helpers for scripts/pi_check.sh: test inputs and the host/device comparison (scoring itself goes
through the wheel's own `nima score` / `nima watch`).

    python scripts/pi_check_tools.py inputs DIR             # a few images and a short .mp4 video
    python scripts/pi_check_tools.py decode-diff VIDEO FRAMES_DIR --max-frames N
    python scripts/pi_check_tools.py compare HOST.jsonl DEVICE.jsonl --tol 0.02

Only numpy and OpenCV are imported, so the same file runs on the host and inside the arm64 chroot.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

# JSON fields that measure time, not the model: they differ between machines by design.
TIMING_KEYS = ("ms", "fps", "time", "elapsed", "latency", "seconds", "timestamp")
# The native-resolution OpenCV measurements under "checks" go through OpenCV's SIMD code, which
# rounds differently on NEON and AVX (measured: blur_ratio 4.240 on x86-64, 4.276 on arm64 for a
# heavily blurred page). They are compared relatively; the decisions made from them (verdict,
# reasons) must still be identical, and the model's numbers keep the absolute tolerance.
CHECKS_REL_TOL = 0.05


def make_inputs(folder: Path) -> list[Path]:
    """Write deterministic test images (a page, a blurred page, a dark page, noise) and a video."""
    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    page = np.full((480, 360, 3), 235, np.uint8)
    for row in range(40, 440, 22):
        width = int(rng.integers(120, 300))
        cv2.putText(page, "Rx " + "x" * (width // 20), (30, row), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (20, 20, 20), 1)
    scene = np.full((540, 720, 3), (60, 90, 120), np.uint8)
    scene[30:510, 180:540] = page
    images = {
        "page.jpg": scene,
        "blurred.jpg": cv2.GaussianBlur(scene, (0, 0), 6),
        "dark.png": (scene * 0.15).astype(np.uint8),
        "noise.png": rng.integers(0, 256, (300, 400, 3), dtype=np.uint8),
    }
    written = []
    for name, image in images.items():
        path = folder / name
        cv2.imwrite(str(path), image)
        written.append(path)
    video = folder / "capture.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (720, 540))
    if not writer.isOpened():
        raise SystemExit(f"{video}: OpenCV cannot write mp4v video")
    for i in range(30):
        # The page slides in and gets sharper, so frame scores change along the video.
        shift = max(0, 200 - 10 * i)
        frame = np.roll(scene, shift, axis=1)
        sigma = max(0.1, 4.0 - 0.2 * i)
        writer.write(cv2.GaussianBlur(frame, (0, 0), sigma))
    writer.release()
    written.append(video)
    # The video as this (host) machine decodes it, frame by frame: the device scores these exact
    # pixels, so the model comparison is not muddled by the decoders' rounding, which decode-diff
    # measures on its own.
    frames = folder / "frames"
    frames.mkdir(exist_ok=True)
    capture = cv2.VideoCapture(str(video))
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        written.append(frames / f"frame_{index:03d}.png")
        cv2.imwrite(str(written[-1]), frame)
        index += 1
    capture.release()
    return written


def decode_diff(video: str, frames_dir: str, max_frames: int) -> None:
    """This machine's decoding of VIDEO against the host's frames: grey-level differences per frame."""
    import cv2
    import numpy as np

    capture = cv2.VideoCapture(video)
    if not capture.isOpened():
        raise SystemExit(f"{video}: cannot open video")
    for index in range(max_frames):
        ok, frame = capture.read()
        reference = cv2.imread(str(Path(frames_dir) / f"frame_{index:03d}.png"), cv2.IMREAD_COLOR)
        if not ok or reference is None:
            break
        difference = np.abs(frame.astype(np.int16) - reference.astype(np.int16))
        print(json.dumps({"frame": index, "max_grey_diff": int(difference.max()),
                          "mean_grey_diff": round(float(difference.mean()), 4)}))
    capture.release()


def read_lines(path: Path) -> list[dict]:
    records = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def _is_timing(key: str) -> bool:
    key = key.lower()
    return any(key == t or key.endswith("_" + t) or key.startswith(t + "_") for t in TIMING_KEYS)


def differences(host, device, tol: float, where: str = "") -> list[str]:
    """Every place where two JSON values differ: numbers beyond ``tol``, anything else exactly."""
    if isinstance(host, dict) and isinstance(device, dict):
        problems = []
        for key in sorted(set(host) | set(device)):
            if _is_timing(key):
                continue
            if key not in host or key not in device:
                problems.append(f"{where}.{key}: present on one side only")
            elif key == "path":
                # Paths differ between host and chroot folders; the file name must not.
                if Path(str(host[key])).name != Path(str(device[key])).name:
                    problems.append(f"{where}.path: {host[key]} != {device[key]}")
            else:
                problems += differences(host[key], device[key], tol, f"{where}.{key}")
        return problems
    if isinstance(host, list) and isinstance(device, list):
        if len(host) != len(device):
            return [f"{where}: {len(host)} items on the host, {len(device)} on the device"]
        return [p for i, (a, b) in enumerate(zip(host, device)) for p in differences(a, b, tol, f"{where}[{i}]")]
    if isinstance(host, (int, float)) and isinstance(device, (int, float)) and not isinstance(host, bool):
        rel_tol = CHECKS_REL_TOL if ".checks." in where else 0.0
        if not math.isclose(host, device, rel_tol=rel_tol, abs_tol=tol):
            return [f"{where}: host {host:.5f} vs device {device:.5f} (tolerance {tol}, relative {rel_tol})"]
        return []
    return [] if host == device else [f"{where}: {host!r} != {device!r}"]


def compare(host_file: Path, device_file: Path, tol: float) -> int:
    host, device = read_lines(host_file), read_lines(device_file)
    if not host:
        print(f"FAIL {host_file}: no JSON lines")
        return 1
    problems = differences(host, device, tol, host_file.stem)
    worst = max_abs_difference(host, device, skip_checks=True)
    for problem in problems[:20]:
        print("  " + problem)
    print(f"{'FAIL' if problems else 'ok'} {host_file.stem}: {len(host)} records, "
          f"largest difference in model outputs {worst:.2e} (tolerance {tol})")
    return 1 if problems else 0


def max_abs_difference(host, device, skip_checks: bool = False) -> float:
    if isinstance(host, dict) and isinstance(device, dict):
        keys = [k for k in host if k in device and not _is_timing(k) and not (skip_checks and k == "checks")]
        return max((max_abs_difference(host[k], device[k], skip_checks) for k in keys), default=0.0)
    if isinstance(host, list) and isinstance(device, list):
        return max((max_abs_difference(a, b, skip_checks) for a, b in zip(host, device)), default=0.0)
    if isinstance(host, (int, float)) and isinstance(device, (int, float)) and not isinstance(host, bool):
        return abs(float(host) - float(device))
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inputs")
    p.add_argument("folder", type=Path)
    p = sub.add_parser("decode-diff")
    p.add_argument("video")
    p.add_argument("frames_dir")
    p.add_argument("--max-frames", type=int, default=20)
    p = sub.add_parser("compare")
    p.add_argument("host", type=Path)
    p.add_argument("device", type=Path)
    p.add_argument("--tol", type=float, default=0.02)
    args = parser.parse_args(argv)
    if args.command == "inputs":
        for path in make_inputs(args.folder):
            print(path)
    elif args.command == "decode-diff":
        decode_diff(args.video, args.frames_dir, args.max_frames)
    else:
        return compare(args.host, args.device, args.tol)
    return 0


if __name__ == "__main__":
    sys.exit(main())
