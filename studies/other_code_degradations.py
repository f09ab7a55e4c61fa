"""The real holdout's clean pages degraded by *another library's* code (albumentations), for `nima realcheck`.

    python3 -m venv /tmp/alb && /tmp/alb/bin/pip install albumentations==2.0.8   # its own venv:
    /tmp/alb/bin/python studies/other_code_degradations.py data/real/holdout/labels.csv /tmp/other
    nima realcheck /tmp/other/labels.csv --model models/default.tflite

Issue 17 says the model will be judged on real photos "degraded by other code". `nima realset`
degrades the holdout with this project's own synth/real.py, whose look the model was trained on.
This script applies albumentations' own transforms instead (defocus, motion blur, brightness,
sun flare, crop, Gaussian noise, JPEG, downscale, and a contrast loss the realset never makes), at a
mild and a heavy setting chosen by looking at the images. Once, after a first run, the heavy
dark, over-exposure and glare settings were made stronger because their images still showed the
text plainly (a heavy setting must make a page unusable); nothing was tuned on the model's scores.
It reads only the clean documents and the non-documents of the holdout and writes a labels.csv with the same columns `nima realcheck` reads (group, degradation,
level, page, source), so the report is the same table as the model card's.

albumentations brings its own OpenCV build, hence its own venv; nothing of nima_edge is imported
here. The written images are derived from ../shared/realdata: keep them outside the repository.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import albumentations as A
import cv2
import numpy as np

COLUMNS = ["path", "group", "degradation", "level", "page", "source", "kind"]


def transforms(height: int, width: int) -> dict[str, dict[str, A.BasicTransform]]:
    """{kind: {level: transform}} for a frame of this size. Sizes in pixels scale with it (the
    holdout's long side is 1,280); a cut-off is a random crop keeping 75% (mild) or 45% (heavy) of
    each side, wherever it falls."""
    px = max(height, width) / 1280.0

    def odd(value: float) -> int:
        return max(3, round(value * px) | 1)

    return {
        "defocus": {"mild": A.Defocus(radius=(odd(3), odd(3)), alias_blur=(0.1, 0.1), p=1),
                    "heavy": A.Defocus(radius=(odd(9), odd(9)), alias_blur=(0.3, 0.3), p=1)},
        "motion": {"mild": A.MotionBlur(blur_limit=(odd(9), odd(9)), p=1),
                   "heavy": A.MotionBlur(blur_limit=(odd(31), odd(31)), p=1)},
        "dark": {"mild": A.RandomBrightnessContrast(brightness_limit=(-0.45, -0.45), contrast_limit=(-0.3, -0.3), p=1),
                 "heavy": A.Compose([A.RandomBrightnessContrast(brightness_limit=(-0.75, -0.75), contrast_limit=(-0.5, -0.5), p=1),
                                     A.ISONoise(color_shift=(0.05, 0.05), intensity=(0.6, 0.6), p=1)])},
        "overexposed": {"mild": A.RandomBrightnessContrast(brightness_limit=(0.3, 0.3), contrast_limit=(0, 0), p=1),
                        "heavy": A.RandomBrightnessContrast(brightness_limit=(0.7, 0.7), contrast_limit=(-0.7, -0.7), p=1)},
        "glare": {"mild": A.RandomSunFlare(flare_roi=(0.3, 0.3, 0.7, 0.7), src_radius=int(250 * px),
                                           num_flare_circles_range=(2, 4), p=1),
                  "heavy": A.RandomSunFlare(flare_roi=(0.3, 0.3, 0.7, 0.7), src_radius=int(600 * px),
                                            num_flare_circles_range=(6, 10), method="physics_based", p=1)},
        "cutoff": {level: A.RandomCrop(height=int(height * keep), width=int(width * keep), p=1)
                   for level, keep in (("mild", 0.75), ("heavy", 0.45))},
        "noise": {"mild": A.GaussNoise(std_range=(0.06, 0.06), p=1),
                  "heavy": A.GaussNoise(std_range=(0.2, 0.2), p=1)},
        "jpeg": {"mild": A.ImageCompression(quality_range=(20, 20), p=1),
                 "heavy": A.ImageCompression(quality_range=(5, 5), p=1)},
        "lowres": {"mild": A.Downscale(scale_range=(0.4, 0.4), p=1),
                   "heavy": A.Downscale(scale_range=(0.15, 0.15), p=1)},
        "washed": {"mild": A.RandomBrightnessContrast(brightness_limit=(0.1, 0.1), contrast_limit=(-0.5, -0.5), p=1),
                   "heavy": A.RandomBrightnessContrast(brightness_limit=(0.25, 0.25), contrast_limit=(-0.8, -0.8), p=1)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", help="a `nima realset` holdout labels.csv")
    parser.add_argument("out", help="an empty or new folder (outside the repository)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    labels = Path(args.labels)
    out = Path(args.out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = [r for r in csv.DictReader(labels.open(newline="", encoding="utf-8"))
            if r["group"] in ("clean", "nondoc")]
    rng = np.random.default_rng(args.seed)
    written = []
    for index, row in enumerate(rows):
        image = cv2.imread(str(labels.parent / row["path"]), cv2.IMREAD_COLOR)
        if image is None:
            print(f"{row['path']}: cannot decode, left out", file=sys.stderr)
            continue
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        base = {"page": row["page"], "source": row["source"], "kind": row["kind"]}
        copies = [("", "", rgb)]
        if row["group"] == "clean":
            for kind, levels in transforms(*rgb.shape[:2]).items():
                for level, transform in levels.items():
                    transform.set_random_seed(int(rng.integers(1 << 31)))
                    copies.append((kind, level, transform(image=rgb)["image"]))
        for kind, level, picture in copies:
            name = f"images/{index:05d}_{kind or row['group']}{'_' + level if level else ''}.png"
            cv2.imwrite(str(out / name), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
            group = row["group"] if not kind else "degraded"
            written.append({"path": name, "group": group, "degradation": kind, "level": level, **base})
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(written)
    print(f"{len(written)} images, {out / 'labels.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
