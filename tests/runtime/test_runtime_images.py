"""Reading every kind of image file a batch meets: broken ones fail clearly, odd ones decode right."""
import os
import struct
import subprocess
import sys
import textwrap
import zlib

import cv2
import numpy as np
import pytest
from nima_edge.runtime import ImageError, decode_image, load_image
from nima_edge.runtime.images import MAX_DECODE_PIXELS, image_header
from PIL import Image
from runtime_pages import render_page


@pytest.fixture(scope="module")
def page():
    return render_page(320, 240)


def _png_with_size(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


@pytest.mark.parametrize("name, content, message", [
    ("empty.jpg", b"", "empty file"),
    ("text.jpg", b"this is not an image\n", "not a readable image"),
    ("doc.jpg", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "not a readable image"),
])
def test_broken_files_give_one_line_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageError) as info:
        load_image(path)
    text = str(info.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text


def test_truncated_jpeg_and_png_are_refused(tmp_path, page):
    for suffix in (".jpg", ".png"):
        data = cv2.imencode(suffix, page)[1].tobytes()
        path = tmp_path / f"cut{suffix}"
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(ImageError, match=rf"{path.name}: (truncated JPEG|not a readable image)"):
            load_image(path)


def test_missing_directory_fifo_and_unreadable(tmp_path, page):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "folder.jpg").mkdir()
    with pytest.raises(ImageError, match="is a directory"):
        load_image(tmp_path / "folder.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    with pytest.raises(ImageError, match="not a regular file"):  # would block forever if read
        load_image(tmp_path / "pipe.jpg")
    locked = tmp_path / "locked.jpg"
    cv2.imwrite(str(locked), page)
    locked.chmod(0)
    if os.geteuid() != 0:  # root reads anything
        with pytest.raises(ImageError, match="permission denied"):
            load_image(locked)


def test_16bit_grey_and_rgba_png(tmp_path, page):
    sixteen = page.astype(np.uint16) * 257
    cv2.imwrite(str(tmp_path / "deep.png"), sixteen)
    image = load_image(tmp_path / "deep.png")
    assert image.dtype == np.uint8 and image.shape == page.shape
    assert np.abs(image.astype(int) - page).max() <= 1
    cv2.imwrite(str(tmp_path / "grey.jpg"), cv2.cvtColor(page, cv2.COLOR_BGR2GRAY))
    assert load_image(tmp_path / "grey.jpg").shape == page.shape
    cv2.imwrite(str(tmp_path / "alpha.png"), cv2.cvtColor(page, cv2.COLOR_BGR2BGRA))
    assert np.array_equal(load_image(tmp_path / "alpha.png"), page)


def test_cmyk_jpeg_decodes_to_the_right_colours(tmp_path):
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[:, :32] = (200, 30, 30)  # red half, white half
    rgb[:, 32:] = 255
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    bgr = load_image(tmp_path / "cmyk.jpg")
    assert bgr.shape == (64, 64, 3)
    assert np.abs(bgr[32, 10].astype(int) - (30, 30, 200)).max() < 25
    assert bgr[32, 50].min() > 230


def test_exif_rotated_photo_is_upright(tmp_path):
    stored = np.zeros((60, 100, 3), np.uint8)  # landscape as stored, marker in the top-left corner
    stored[:10, :10] = 255
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    image.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    upright = load_image(tmp_path / "phone.jpg")
    assert upright.shape[:2] == (100, 60)  # shown portrait
    assert upright[:10, -10:].mean() > 200  # the marker moved to the top-right


def test_header_sizes_of_every_format(page):
    for suffix, kind in ((".jpg", "JPEG"), (".png", "PNG"), (".bmp", "BMP"), (".webp", "WebP"), (".tif", "TIFF")):
        data = cv2.imencode(suffix, page)[1].tobytes()
        assert image_header(data) == (kind, 320, 240)


def test_huge_png_is_refused_before_decoding():
    with pytest.raises(ImageError, match=r"PNG of 20000x20000 \(400 MP\) is over the 50-MP decoding limit"):
        decode_image(_png_with_size(20000, 20000), name="huge.png")
    with pytest.raises(ImageError, match="declares an empty image"):
        decode_image(_png_with_size(0, 10), name="zero.png")


def test_huge_jpeg_is_decoded_reduced_in_bounded_memory(tmp_path):
    """A 20000x20000 JPEG decodes at 1/4 (5000x5000, the first DCT scale under 50 MP) without the
    1.2 GB full frame."""
    path = tmp_path / "huge.jpg"
    make = f"import cv2, numpy as np; cv2.imwrite({str(path)!r}, np.full((20000, 20000), 200, np.uint8))"
    subprocess.run([sys.executable, "-c", make], check=True, timeout=120)
    probe = textwrap.dedent(f"""
        import resource
        from nima_edge.runtime import load_image
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        image = load_image({str(path)!r})
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(image.shape[0], image.shape[1], (after - before) // 1024)
    """)
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    height, width, grown_mb = (int(v) for v in run.stdout.split())
    assert (height, width) == (5000, 5000)
    assert height * width <= MAX_DECODE_PIXELS
    assert grown_mb < 300, f"decoding grew the process by {grown_mb} MB"


def test_a_cut_off_jpeg_padded_by_the_decoder_is_refused(tmp_path, page, caplog):
    """A JPEG cut short but given an end-of-image marker decodes, 89% grey; libjpeg says so on
    stderr, and that makes it an error naming the file (or a warning naming it, when accepted)."""
    data = cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 3] + b"\xff\xd9")
    with pytest.raises(ImageError, match=rf"^{path}: damaged image data \(Corrupt JPEG data"):
        load_image(path)
    caplog.set_level("WARNING")
    image = load_image(path, accept_damaged=True)
    assert image.shape == page.shape
    assert any(str(path) in r.getMessage() and "Corrupt JPEG" in r.getMessage() for r in caplog.records)


def test_a_sound_image_decodes_with_no_codec_message(tmp_path, page, caplog):
    caplog.set_level("WARNING")
    for suffix in (".jpg", ".png", ".webp", ".tif"):
        path = tmp_path / f"sound{suffix}"
        cv2.imwrite(str(path), page)
        assert load_image(path).shape == page.shape
    assert not caplog.records


def _in_fresh_process(code: str) -> str:
    """Run under a new interpreter, as `nima` does: nima_edge imported before anything imports cv2."""
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_formats_the_header_sniffer_does_not_know_are_bounded_too(tmp_path):
    """A Radiance HDR (named .jpg) and a GIF claiming 12000x12000: refused before their pixels exist."""
    hdr = tmp_path / "photo.jpg"
    hdr.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 12000 +X 12000\n" + bytes(4096))
    gif = tmp_path / "big.gif"
    gif.write_bytes(b"GIF89a" + struct.pack("<HH", 12000, 12000) + b"\x00\x00\x00" + b",\x00\x00\x00\x00"
                    + struct.pack("<HH", 12000, 12000) + b"\x00\x02\x02D\x01\x00;")
    out = _in_fresh_process(f"""
        import resource
        from nima_edge.runtime import ImageError, load_image
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for path in ({str(hdr)!r}, {str(gif)!r}):
            try:
                load_image(path)
                print("decoded", path)
            except ImageError as exc:
                print(exc)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    lines = out.splitlines()
    assert lines[0] == f"{hdr}: image is over the 50-MP decoding limit; downscale it first"
    assert lines[1].startswith(f"{gif}: ") and "decoded" not in lines[1]
    assert int(lines[2]) < 200, out  # MB grown: the 144-MP frames were never allocated


def test_the_opencv_limit_is_the_runtime_limit():
    assert _in_fresh_process("import os, nima_edge; print(os.environ['OPENCV_IO_MAX_IMAGE_PIXELS'])") == str(
        MAX_DECODE_PIXELS)


def test_a_jpeg_size_marker_past_the_first_half_megabyte_is_still_read(page):
    """APP segments (64 kB each) may push the frame header far into the file: it is found wherever it is."""
    data = cv2.imencode(".jpg", page)[1].tobytes()
    padding = b"".join(b"\xff\xe1" + struct.pack(">H", 65535) + bytes(65533) for _ in range(10))
    padded = data[:2] + padding + data[2:]
    assert image_header(padded) == ("JPEG", 320, 240)
    huge = bytearray(padded)
    sof = padded.find(b"\xff\xc0", len(padding))
    struct.pack_into(">HH", huge, sof + 5, 30000, 30000)  # the header now claims 900 MP
    assert image_header(bytes(huge)) == ("JPEG", 30000, 30000)
    with pytest.raises(ImageError, match="^huge.jpg: "):
        decode_image(bytes(huge), name="huge.jpg")  # decoded at 1/8 at most, and found damaged


def test_a_codec_warning_names_the_file_it_is_about(tmp_path, caplog, capfd):
    """libpng's own line ("tEXt: CRC error" on an ancillary chunk: the pixels are sound) is logged
    with the file's name instead of reaching stderr bare."""
    data = cv2.imencode(".png", np.full((40, 50, 3), 120, np.uint8))[1].tobytes()
    chunk = b"tEXt" + b"Comment\x00hello"
    bad = struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk) ^ 1)
    path = tmp_path / "warned.png"
    path.write_bytes(data[:33] + bad + data[33:])  # after the signature and IHDR
    caplog.set_level("WARNING")
    assert load_image(path).shape == (40, 50, 3)
    assert [r.getMessage() for r in caplog.records] == [f"{path}: libpng warning: tEXt: CRC error"]
    assert "libpng" not in capfd.readouterr().err  # nothing bare on the terminal


def test_our_own_stderr_lines_during_a_decode_are_not_taken_for_the_codecs(tmp_path, page, caplog, capfd):
    """Another thread printing the CLI's error line for a damaged file while this one decodes a sound
    file: the line goes back to stderr as it was, and the sound file is not called damaged."""
    import os
    import threading

    from nima_edge.runtime import native

    path = tmp_path / "sound.jpg"
    cv2.imwrite(str(path), page)
    line = b"error: other.jpg: damaged image data (Corrupt JPEG data: premature end of data segment)\n"
    inside = threading.Event()
    original = cv2.imdecode

    def decode_while_another_thread_prints(buffer, flags):
        printer = threading.Thread(target=lambda: os.write(2, line))
        printer.start()
        printer.join()
        inside.set()
        return original(buffer, flags)

    caplog.set_level("WARNING")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cv2, "imdecode", decode_while_another_thread_prints)
        assert load_image(path).shape == page.shape
    assert inside.is_set() and not caplog.records
    assert line.decode().strip() in capfd.readouterr().err
    assert native.OWN_LINES[0] == "error:"


def test_a_progress_line_another_thread_writes_to_sys_stderr_during_a_decode_reaches_the_terminal(
        tmp_path, page, caplog):
    """Training's cache build prints 'decoded N/M images' while decoder threads capture fd 2: such a
    line (any Python write to the process's stderr) must reach the terminal, not be logged as the
    codec's message for whichever file was decoding."""
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "sound.jpg"
    cv2.imwrite(str(path), page)
    script = textwrap.dedent(f"""
        import logging, sys, threading
        import cv2
        from nima_edge.runtime.images import load_image
        logging.basicConfig(level=logging.WARNING, format="WARNING %(name)s: %(message)s")
        original = cv2.imdecode
        def decode_while_another_thread_prints(buffer, flags):
            printer = threading.Thread(target=lambda: print("decoded 500/1000 images", file=sys.stderr, flush=True))
            printer.start()
            printer.join()
            return original(buffer, flags)
        cv2.imdecode = decode_while_another_thread_prints
        assert load_image({str(path)!r}).shape[:2] == {page.shape[:2]!r}
        assert sys.stderr is sys.__stderr__  # put back when the capture ends
    """)
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines().count("decoded 500/1000 images") == 1
    assert "WARNING" not in done.stderr
