"""The Pi camera adapter (runtime/picamera.py).

No Pi camera or picamera2 exists on this machine, so the adapter logic is driven through a small
fake `picamera2` module placed in sys.modules. This is the one place a fake is justified: the
hardware is absent. The fake records the calls the adapter makes and hands out arrays laid out as
picamera2 documents them ("RGB888" is [B, G, R] in memory), so what is tested is our half of the
contract: configuration asked for, colour order, shape, release and the error messages.
"""
from __future__ import annotations

import json
import sys
import types
from typing import ClassVar

import numpy as np
import pytest
from nima_edge.runtime.errors import SourceError
from nima_edge.runtime.picamera import PiCameraSource, open_picamera, to_bgr


class FakePicamera2:
    """Records what the adapter asks of picamera2; frames are [B, G, R] like real RGB888 buffers."""

    instances: ClassVar[list[FakePicamera2]] = []
    fail_on: ClassVar[str | None] = None
    frame_format: ClassVar[str] = "RGB888"

    def __init__(self, camera_num: int = 0):
        if FakePicamera2.fail_on == "init":
            raise IndexError("list index out of range")
        self.camera_num = camera_num
        self.calls: list[str] = []
        self.config: dict | None = None
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, main: dict) -> dict:
        self.calls.append("create_video_configuration")
        return {"main": dict(main), "use_case": "video"}

    def configure(self, config: dict) -> None:
        self.calls.append("configure")
        self.config = config

    def start(self) -> None:
        if FakePicamera2.fail_on == "start":
            raise RuntimeError("Failed to start camera: Device or resource busy")
        self.calls.append("start")

    def capture_array(self, stream: str = "main") -> np.ndarray:
        if FakePicamera2.fail_on == "capture":
            raise RuntimeError("camera frontend timeout")
        self.calls.append(f"capture_array:{stream}")
        width, height = self.config["main"]["size"]
        channels = 4 if self.frame_format == "XRGB8888" else 3
        frame = np.zeros((height, width, channels), np.uint8)
        frame[..., 2] = 200  # red lives in the third byte of an RGB888 pixel
        frame[..., 0] = 10   # blue in the first
        if channels == 4:
            frame[..., 3] = 255
        return frame

    def stop(self) -> None:
        self.calls.append("stop")

    def close(self) -> None:
        self.calls.append("close")


@pytest.fixture
def fake_picamera2(monkeypatch):
    FakePicamera2.instances = []
    FakePicamera2.fail_on = None
    FakePicamera2.frame_format = "RGB888"
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return FakePicamera2


def test_missing_picamera2_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # makes `import picamera2` raise ImportError
    with pytest.raises(SourceError) as info:
        open_picamera()
    message = str(info.value)
    assert message.startswith("picamera: picamera2 is not available")
    assert "sudo apt install python3-picamera2" in message
    assert "--system-site-packages" in message


def test_picamera2_built_for_numpy_1_says_how_to_fix(monkeypatch, tmp_path):
    """The apt picamera2 imports simplejpeg, whose numpy-1 build fails under numpy 2 with ValueError."""
    package = tmp_path / "picamera2"
    package.mkdir()
    (package / "__init__.py").write_text(
        "raise ValueError('numpy.dtype size changed, may indicate binary incompatibility. "
        "Expected 96 from C header, got 88 from PyObject')\n")
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SourceError, match=r"pip install --force-reinstall simplejpeg"):
        open_picamera()


def test_frames_are_bgr_at_the_requested_size(fake_picamera2):
    source = open_picamera((320, 240))
    camera = fake_picamera2.instances[0]
    assert camera.config["main"] == {"format": "RGB888", "size": (320, 240)}
    assert camera.calls[:3] == ["create_video_configuration", "configure", "start"]
    ok, frame = source.read()
    assert ok and source.isOpened()
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    # OpenCV order: blue first, red last — a red scene must stay red for cv2 and for the model.
    assert tuple(frame[0, 0]) == (10, 0, 200)
    assert frame.flags["C_CONTIGUOUS"]


def test_xrgb8888_frames_lose_their_padding(fake_picamera2):
    fake_picamera2.frame_format = "XRGB8888"
    ok, frame = open_picamera((64, 48)).read()
    assert ok and frame.shape == (48, 64, 3) and tuple(frame[0, 0]) == (10, 0, 200)


def test_release_stops_and_closes_once(fake_picamera2):
    with open_picamera((64, 48)) as source:
        source.read()
    camera = fake_picamera2.instances[0]
    source.release()  # a second release is harmless
    assert camera.calls[-2:] == ["stop", "close"] and camera.calls.count("close") == 1
    assert not source.isOpened()
    assert source.read() == (False, None)


def test_capture_failure_ends_the_stream_like_videocapture(fake_picamera2):
    source = open_picamera((64, 48))
    fake_picamera2.fail_on = "capture"
    assert source.read() == (False, None)


@pytest.mark.parametrize("stage, expected", [("init", "IndexError"), ("start", "Device or resource busy")])
def test_camera_that_cannot_start_is_a_source_error(fake_picamera2, stage, expected):
    fake_picamera2.fail_on = stage
    with pytest.raises(SourceError, match=r"^picamera: cannot start camera 0 .*" + expected):
        open_picamera()
    if stage == "start":  # the half-opened camera is closed again, not leaked
        assert fake_picamera2.instances[0].calls[-1] == "close"


def test_bad_size_is_rejected():
    with pytest.raises(ValueError, match="width, height"):
        open_picamera((0, 480))


def test_unexpected_frame_layout_is_named():
    with pytest.raises(SourceError, match=r"unexpected frame of shape \(4, 4\)"):
        to_bgr(np.zeros((4, 4), np.uint8))


def test_source_fits_the_videocapture_duck_type():
    for name in ("read", "release", "isOpened"):
        assert callable(getattr(PiCameraSource, name))


def test_nima_watch_picamera_end_to_end(fake_picamera2, tiny_model, tmp_path):
    """`nima watch picamera` opens the adapter, scores its frames and saves the best one."""
    from click.testing import CliRunner

    from nima_edge.cli import cli

    result = CliRunner().invoke(cli, ["watch", "picamera", "--model", str(tiny_model), "--max-frames", "6",
                                      "--ready-frames", "2", "--json", "--save-best", str(tmp_path / "best")])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert events[-1]["event"] == "end" and events[-1]["frames"] == 6
    camera = fake_picamera2.instances[0]
    assert camera.config["main"]["format"] == "RGB888" and camera.calls[-1] == "close"
    assert sum(1 for e in events if e["event"] == "saved") == len(list((tmp_path / "best").glob("*.jpg")))


def test_nima_watch_picamera_without_picamera2_fails_at_once(monkeypatch, tiny_model):
    """A missing library is not a flaky camera: no retries, one clear error, exit 1."""
    from click.testing import CliRunner

    from nima_edge.cli import cli

    monkeypatch.setitem(sys.modules, "picamera2", None)
    result = CliRunner().invoke(cli, ["watch", "picamera", "--model", str(tiny_model), "--json"])
    assert result.exit_code == 1
    assert "picamera2 is not available" in result.output
    assert '"retry"' not in result.output
