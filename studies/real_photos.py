"""Write scikit-image's bundled real photographs to a folder: a small never-seen real-image check.

    python -m venv /tmp/sk && /tmp/sk/bin/pip install scikit-image
    /tmp/sk/bin/python studies/real_photos.py OUT_DIR
    nima score OUT_DIR

They are real photos and scans, none of them a usable document photo: 14 non-document photos
(people, animals, objects, textures, microscopy, astronomy) that must be refused, a small scan of a
printed page (`page.png`, 384x191 px) and a grazing-angle photo of handwritten formulas
(`text.png`). The project does not depend on scikit-image; this script runs in a scratch venv.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import skimage.data
import skimage.io

NON_DOCUMENTS = ("astronaut", "camera", "chelsea", "coffee", "rocket", "moon", "hubble_deep_field", "coins",
                 "brick", "grass", "gravel", "clock", "immunohistochemistry", "retina")
DOCUMENTS = ("page", "text")


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name in NON_DOCUMENTS + DOCUMENTS:
        image = np.asarray(getattr(skimage.data, name)())
        if image.dtype != np.uint8:
            image = (image * 255 if image.max() <= 1 else image).astype(np.uint8)
        skimage.io.imsave(out / f"{name}.png", image[..., :3] if image.ndim == 3 else image, check_contrast=False)
        print(out / f"{name}.png")


if __name__ == "__main__":
    main()
