"""Helpers for the capture-page tests: the tools they need, a local server, the fake-camera clip.

Nothing here is skipped when a tool is missing: the page is part of the toolkit, so a machine that
cannot run its tests fails them, saying what to install (`make web` sets both up).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
MODEL = ROOT / "models" / "default.tflite"
GOLDEN = ROOT / "models" / "golden"
SAMPLES = ROOT / "samples"
HERE = Path(__file__).resolve().parent
CHROMIUM = Path(os.environ.get("NIMA_CHROMIUM", "/usr/bin/chromium"))
NODE_PACKAGES = ("@litertjs/core", "puppeteer-core")


def require_node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the capture page's tests run its JavaScript in node "
                    "(apt-get install -y nodejs npm, then `make web`)", pytrace=False)
    return node


def require_packages() -> None:
    missing = [name for name in NODE_PACKAGES if not (WEB / "node_modules" / name / "package.json").exists()]
    if missing:
        pytest.fail(f"web/node_modules lacks {', '.join(missing)}: run `make web` (npm ci in web/)", pytrace=False)


def require_chromium() -> Path:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: the capture page is tested in Debian's chromium; "
                    "install it as root with `apt-get install -y chromium` (make web does), "
                    "or point NIMA_CHROMIUM at one", pytrace=False)
    return CHROMIUM


def run_node(script: str, *args: str | os.PathLike, timeout: float = 90, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run a node script from tests/web, niced (the tests share the machine), failing on a non-zero exit."""
    command = ["nice", "-n", "19", require_node(), str(HERE / script), *map(str, args)]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout, input=stdin, cwd=HERE)
    if done.returncode != 0:
        pytest.fail(f"{script} failed ({done.returncode}):\n{done.stderr[-4000:]}\n{done.stdout[-2000:]}", pytrace=False)
    return done


# ---- the page's server ------------------------------------------------------------------------

class PageServer:
    """web/ over HTTP on 127.0.0.1 (a secure context, so the camera API exists), with the bundled
    model at /model.tflite, the goldens at /golden/, and POST /upload recording what it gets."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.uploads: list[dict] = []
        handler = partial(_Handler, self, directory=str(WEB))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(SimpleHTTPRequestHandler):
    ROUTES: ClassVar[dict[str, Path]] = {"/model.tflite": MODEL}

    def __init__(self, server_state: PageServer, *args, **kwargs):
        self.state = server_state
        super().__init__(*args, **kwargs)

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0]
        if clean in self.ROUTES:
            return str(self.ROUTES[clean])
        if clean.startswith("/golden/"):
            return str(GOLDEN / Path(clean).name)
        return super().translate_path(path)

    def do_GET(self) -> None:
        self.state.requests.append({"method": "GET", "path": self.path, "t": time.time()})
        super().do_GET()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.state.requests.append({"method": "POST", "path": self.path, "t": time.time()})
        if self.path != "/upload":
            self.send_error(404)
            return
        self.state.uploads.append({"type": self.headers.get("Content-Type"), "body": body, "t": time.time()})
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:  # keep pytest's output for failures
        pass


# ---- the fake camera's clip ---------------------------------------------------------------------

def write_y4m(path: Path, stretches: list[tuple[np.ndarray, int]], fps: int) -> Path:
    """A YUV4MPEG2 (4:2:0) clip: each (BGR frame, count) shown for count frames, in order.

    Chromium's fake camera (--use-file-for-fake-video-capture) plays it from the start when the
    page opens the camera, then loops.
    """
    height, width = stretches[0][0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame, count in stretches:
            if frame.shape[:2] != (height, width):
                raise ValueError("every frame of a clip must have the same size")
            planes = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes()
            for _ in range(count):
                out.write(b"FRAME\n")
                out.write(planes)
    return path


def read_result(out_dir: Path) -> dict:
    return json.loads((out_dir / "result.json").read_text())
