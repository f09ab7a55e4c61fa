"""Write the 1280x720 test video behind the model card's `nima watch` frame rate and peak RSS.

    .venv/bin/python studies/watch_video.py /tmp/v720.mp4
    /usr/bin/time -v .venv/bin/nima watch /tmp/v720.mp4 --json --threads 1

300 frames at 30 fps (mp4v): the bundled samples/ captures, 50 frames each in turn, stretched to
1280x720, so the loop sees good, blurred, dark, glared, cut-off and non-document frames.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2

SIZE = (1280, 720)
FRAMES = 300
FRAMES_EACH = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    samples = sorted(Path("samples").glob("*.jpg"))
    frames = [cv2.resize(cv2.imread(str(p)), SIZE) for p in samples[:FRAMES // FRAMES_EACH]]
    writer = cv2.VideoWriter(str(args.out), cv2.VideoWriter_fourcc(*"mp4v"), 30, SIZE)
    for i in range(FRAMES):
        writer.write(frames[(i // FRAMES_EACH) % len(frames)])
    writer.release()
    print(f"wrote {args.out} ({FRAMES} frames, {SIZE[0]}x{SIZE[1]})")


if __name__ == "__main__":
    main()
