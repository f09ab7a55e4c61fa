"""studies/scan_check.py: clean scans are the page alone, deterministic, and the report counts them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "studies" / "scan_check.py"


def test_scans_are_deterministic_pages_filling_the_image(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--per-kind", "1", "--out", str(tmp_path)],
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "/5 clean scans accepted" in done.stdout and "handwritten_note" in done.stdout
    files = sorted(tmp_path.glob("*.png"))
    assert len(files) == 5
    for path in files:
        image = cv2.imread(str(path))
        assert 1600 <= max(image.shape[:2]) <= 3300
        # Edge to edge: paper right up to every border, no surface around it.
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        for border in (grey[:3], grey[-3:], grey[:, :3], grey[:, -3:]):
            assert np.median(border) > 180
    again = tmp_path / "again"
    subprocess.run([sys.executable, str(SCRIPT), "--per-kind", "1", "--out", str(again)], capture_output=True,
                   check=True, timeout=300)
    assert all(np.array_equal(cv2.imread(str(a)), cv2.imread(str(b)))
               for a, b in zip(files, sorted(again.glob("*.png")), strict=True))
