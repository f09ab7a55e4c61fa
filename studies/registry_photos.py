"""A second real holdout: document photos and scans from sources no model here has seen, fetched
from the package registries this machine reaches (PyPI, npm, Debian).

    .venv/bin/python studies/registry_photos.py /tmp/registry            # fetch, verify, manifest.csv
    nima realset /tmp/registry data/registry --holdout npm:jscanify@1.4.3 --holdout pypi:htrflow@0.2.6 \\
        --holdout debian:tesseract@5.3.0-2 --holdout pypi:ocrmypdf@17.13.0 --holdout pypi:scikit-image@0.26.0
    nima realcheck data/registry/holdout/labels.csv --model models/default.tflite

Every decision in the model card was taken on one holdout (`../shared/realdata`'s three held-out
document sources), measured after each try; a second set that no decision has seen tells whether
its figures carry to other sources. These 19 pages are every real document photo or scan with a
short side of at least 400 px found in about 60 OCR, scanning and dewarping packages of the three
registries (2026-12-07), less near-duplicates, crops of another listed page, files OpenCV cannot
decode, and pages of Leptonica, which is already a training source:

- npm `jscanify` 1.4.3 (MIT): 9 phone photos of pages on desks and tables (letters, a filled-in
  form, a timetable, a receipt, a notepad, handwritten notes);
- PyPI `htrflow` 0.2.6 (EUPL-1.2): 6 scans of handwritten archive pages and open volumes;
- Debian `tesseract` 5.3.0-2, its test tarball (Apache-2.0): 2 scans (a magazine page, a paragraph);
- PyPI `ocrmypdf` 17.13.0 (per-file: GFDL-1.2-or-later or CC-BY-SA): 2 scans (a brochure page, a
  typewritten recipe).

And 8 non-documents, to check the refusal too on photos from elsewhere: the sample photos of the
PyPI `scikit-image` 0.26.0 wheel whose docstrings (`skimage/data/_fetchers.py`) release them (CC0
or public domain): a cat, a cup of coffee, a man with a camera, an astronaut, a rocket launch, and
brick, grass and gravel close up (a floor is a frame the app must refuse).

The files are written as the registries serve them; `nima realset` shrinks each to the 1,280-px
long side of ../shared/realdata's photos before copying it (`synth/real.py` `LONG_SIDE`). A first
run here, before it did, degraded 13 of these pages at their own 2,448-6,312 px: heavy sensor
noise and heavy JPEG left their 26-34 px characters plainly legible while the label formula called
them unusable.

The licence given is the package's, except where the package names one per file; the images are
only read here, never redistributed. Each archive and each file is checked against the SHA-256
below, so a registry that serves other bytes stops the script rather than changing the set.
The written images are third-party files: keep OUT outside the repository.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import sys
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from nima_edge.runtime.errors import ImageError
from nima_edge.runtime.fileio import atomic_write_text
from nima_edge.runtime.images import decode_image

MANIFEST_COLUMNS = ("file", "group", "kind", "source_repo", "commit", "source_path", "license", "width",
                    "height", "notes")
TIMEOUT_S = 120


@dataclass(frozen=True)
class Archive:
    source: str  # the manifest's source_repo: registry:package@version
    url: str
    sha256: str
    licence: str


@dataclass(frozen=True)
class Member:
    archive: Archive
    path: str  # inside the archive
    sha256: str
    kind: str  # phone_photo | scan | photo
    notes: str
    licence: str = ""  # when the package names one for this file; else the archive's
    group: str = "doc"  # doc | nondoc, as in ../shared/realdata's manifest


JSCANIFY = Archive("npm:jscanify@1.4.3", "https://registry.npmjs.org/jscanify/-/jscanify-1.4.3.tgz",
                   "d2dd660883a1219fc2e08a7e032d809f7ae76df35606d21978f3ba75fa4c187d", "MIT")
HTRFLOW = Archive("pypi:htrflow@0.2.6",
                  "https://files.pythonhosted.org/packages/ab/50/460f7fd5ed91fd6b04f7c706cb6e83fe5cc02c352dd285d7840d64de652b/"
                  "htrflow-0.2.6.tar.gz",
                  "6b27ba964af39ce9d401870357fb727e476da1877dcfb8c53a781b85eee39a9d", "EUPL-1.2")
TESSERACT = Archive("debian:tesseract@5.3.0-2",
                    "http://deb.debian.org/debian/pool/main/t/tesseract/tesseract_5.3.0.orig-test.tar.gz",
                    "2788d27de6e448f8ffa7dd19a22c5781768440dee60a34607099f0c66d44b911", "Apache-2.0")
OCRMYPDF = Archive("pypi:ocrmypdf@17.13.0",
                   "https://files.pythonhosted.org/packages/d9/1b/d35a3c9bb4e4959bd782808f0eb45cce16e66040a292b7f4eaa6a6e44ff1/"
                   "ocrmypdf-17.13.0.tar.gz",
                   "151c35d810eb628fbc5cb9bbe80b834ecf094737efa0e7a2e9e1fac3c730ed49", "MPL-2.0")
SKIMAGE = Archive("pypi:scikit-image@0.26.0",
                  "https://files.pythonhosted.org/packages/a5/2a/e71c1a7d90e70da67b88ccc609bd6ae54798d5847369b15d3a8052232f9d/"
                  "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
                  "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af", "BSD-3-Clause")


def _skimage(name: str, digest: str, notes: str, licence: str) -> Member:
    return Member(SKIMAGE, f"skimage/data/{name}", digest, "photo", notes, licence=licence, group="nondoc")


MEMBERS: tuple[Member, ...] = (
    Member(JSCANIFY, "package/docs/images/test/test.png",
           "e482a787047ad7b404675c0d9bdd443d2846177d09f9b94b4a1831e287765ff6", "phone_photo",
           "printed letter with a signature on a dark desk, a pen beside it (perhaps staged)"),
    Member(JSCANIFY, "package/docs/images/test/test10.jpg",
           "eca2f046d77bbe604553265b9ab6651b02d6cd8534aebaea4ba5753f590c9ddd", "phone_photo",
           "hand-filled change-of-address form (block capitals) on a table, in perspective"),
    Member(JSCANIFY, "package/docs/images/test/test2.png",
           "a24418ccb96eb3157f71294f4c7ccb7472133a35d89e6e76396efb912519018d", "phone_photo",
           "printed page on a wooden table"),
    Member(JSCANIFY, "package/docs/images/test/test3.jpg",
           "951f33af39289a2b00106fa98e705e3fc8ddfb3a1a3461e1186ef540d15f0c64", "phone_photo",
           "printed text page on a dark ground"),
    Member(JSCANIFY, "package/docs/images/test/test4.JPG",
           "59cb72bb0585097a0a1cdec1fdd48a300724fe7d1d78d0fd1bd7dae353b0448a", "phone_photo",
           "printed course timetable (a table) on a desk"),
    Member(JSCANIFY, "package/docs/images/test/test6.JPG",
           "471d600535151d97d11cf2b13361bbcc72836d1dcdd10678da3450485e01de81", "phone_photo",
           "printed text page at an angle on a wooden table"),
    Member(JSCANIFY, "package/docs/images/test/test7.JPG",
           "4a0a92ffa83fd1a17337b82d1790db36304e8c8080f6b0ef2ef19003d728da1c", "phone_photo",
           "lined notepad with a printed header and one handwritten word, on a wooden table"),
    Member(JSCANIFY, "package/docs/images/test/test8.JPG",
           "f9662be68bb73238d9a68564eccdf0a394c3d10e958c853fa2ff84943c0f10c5", "phone_photo",
           "dense handwritten maths notes"),
    Member(JSCANIFY, "package/docs/images/test/test9.jpg",
           "baff7d961e444164eb1b5680bace59709f584c6dbb5a5ccd44708499396cc325", "phone_photo",
           "till receipt on a dark surface"),
    Member(HTRFLOW, "htrflow-0.2.6/docs/examples/451511_1512_01.jpg",
           "1c9b4d28084399f2815fe7d5b75d2d53c29deab7eead91c32f649d6fa4b0697f", "scan",
           "handwritten Swedish letter (1800s), cursive on aged paper, colour"),
    Member(HTRFLOW, "htrflow-0.2.6/docs/examples/A0062408_00006.jpg",
           "27188c087d6af7040ad6d881ece05cfb3eb3b8760940cfd97610e703b82ff329", "scan",
           "handwritten archive page with a signature, greyscale, dark ground"),
    Member(HTRFLOW, "htrflow-0.2.6/docs/examples/A0062408_00007.jpg",
           "766cf555fe4b670f9bc90e6533390940e5edb88cf4394cde7d240212b3cdd72f", "scan",
           "handwritten archive page, greyscale, dark ground"),
    Member(HTRFLOW, "htrflow-0.2.6/examples/images/pages/A0068699_00021.jpg",
           "7ac03eae756bdbb746dfa8e2a527129ef426c13c5cc8baa0b8fa5b7027a0e10d", "scan",
           "open bound volume, two pages of handwritten records, greyscale"),
    Member(HTRFLOW, "htrflow-0.2.6/examples/images/pages/A0068699_00022.jpg",
           "6ecce0ef3bf157e8cafab11a1c0e9ea1355704d0ad8786598f936f478d418863", "scan",
           "open bound volume, two pages of handwritten records, greyscale"),
    Member(HTRFLOW, "htrflow-0.2.6/examples/images/pages/A0068699_00023.jpg",
           "70caaff51e6a3daa9ac2068434397bf116a8f037c29b28ae4c2b03dcc3c55502", "scan",
           "open bound volume, two pages of handwritten records, greyscale"),
    Member(TESSERACT, "tesseract-0.0~git20210423.3ea1099/testing/8071_093.3B.tif",
           "d4f01cba19c99f8894d94a6d43eb8ed8013f8cf17fc08af9346bb9fb3697d452", "scan",
           "magazine page with a photo, bilevel, landscape (UNLV-style; the page's own rights unknown)"),
    Member(TESSERACT, "tesseract-0.0~git20210423.3ea1099/testing/eurotext.tif",
           "7b9bd14aba7d5e30df686fbb6f71782a97f48f81b32dc201a1b75afe6de747d6", "scan",
           "a printed paragraph of pangrams in several languages, bilevel"),
    Member(OCRMYPDF, "ocrmypdf-17.13.0/tests/resources/linn.png",
           "dcd90f08a6b8a733612f818330153636c13283dd548e2e092cad1fe628ec7bf3", "scan",
           "product brochure page, two columns, bilevel (REUSE.toml: (C) 1985 Forat Electronics)",
           licence="GFDL-1.2-or-later OR CC-BY-SA-3.0"),
    Member(OCRMYPDF, "ocrmypdf-17.13.0/tests/resources/typewriter.png",
           "6f7a83685a83af954e9672b3e2db3253af165513d2826d780a48e175742f4469", "scan",
           "typewritten recipe, bilevel (REUSE.toml: (C) 2005 Ellywa, from Wikimedia Commons)",
           licence="GFDL-1.2-or-later OR CC-BY-SA-1.0 OR CC-BY-SA-2.0 OR CC-BY-SA-2.5 OR CC-BY-SA-3.0"),
    _skimage("chelsea.png", "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb", "a cat",
             "CC0 (Stefan van der Walt)"),
    _skimage("coffee.png", "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7", "a cup of coffee",
             "CC0 (Rachel Michetti)"),
    _skimage("camera.png", "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
             "a man with a camera, greyscale", "CC0 (Lav Varshney)"),
    _skimage("astronaut.png", "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
             "portrait of an astronaut", "public domain (NASA)"),
    _skimage("rocket.jpg", "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c", "a rocket launch",
             "public domain (SpaceX)"),
    _skimage("brick.png", "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
             "a brick wall close up, greyscale", "CC0 (CC0Textures)"),
    _skimage("grass.png", "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89",
             "grass close up, greyscale", "CC0"),
    _skimage("gravel.png", "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12",
             "gravel close up, greyscale", "CC0 (CC0Textures)"),
)


class FetchError(Exception):
    """An archive or a file that cannot be fetched, or whose bytes are not the pinned ones."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(archive: Archive) -> bytes:
    try:
        with urllib.request.urlopen(archive.url, timeout=TIMEOUT_S) as response:
            data = response.read()
    except OSError as exc:
        raise FetchError(f"{archive.url}: cannot download it ({exc})") from None
    if sha256(data) != archive.sha256:
        raise FetchError(f"{archive.url}: SHA-256 {sha256(data)}, expected {archive.sha256}")
    return data


def extract(archive_bytes: bytes, member: Member) -> bytes:
    """One file of a tarball (sdist, npm package, Debian source) or of a zip (wheel)."""
    handle = io.BytesIO(archive_bytes)
    try:
        if member.archive.url.endswith(".whl"):
            with zipfile.ZipFile(handle) as wheel:
                data = wheel.read(member.path)
        else:
            with tarfile.open(fileobj=handle) as tar:
                data = tar.extractfile(member.path).read()
    except (KeyError, AttributeError):
        raise FetchError(f"{member.archive.url}: no file {member.path}") from None
    if sha256(data) != member.sha256:
        raise FetchError(f"{member.archive.url}: {member.path} has SHA-256 {sha256(data)}, expected {member.sha256}")
    return data


def manifest_row(member: Member, file: str, data: bytes) -> dict[str, str]:
    try:  # the runtime's decoder, the one `nima realset` reads the file with
        height, width = decode_image(data, name=member.path).shape[:2]
    except ImageError as exc:
        raise FetchError(str(exc)) from None
    # "commit" pins a repository's file in ../shared/realdata's manifest; a registry's is pinned by its archive.
    return {"file": file, "group": member.group, "kind": member.kind, "source_repo": member.archive.source,
            "commit": member.archive.sha256, "source_path": member.path,
            "license": member.licence or f"{member.archive.licence} (the package's; no licence given per file)",
            "width": str(width), "height": str(height), "notes": member.notes}


def write_set(out: Path) -> list[dict[str, str]]:
    rows = []
    for archive in dict.fromkeys(member.archive for member in MEMBERS):
        print(f"fetching {archive.url}", file=sys.stderr)
        archive_bytes = fetch(archive)
        folder = archive.source.split(":", 1)[1].split("@", 1)[0]
        for member in (m for m in MEMBERS if m.archive == archive):
            data = extract(archive_bytes, member)
            file = f"{member.group}s/{folder}_{Path(member.path).name}"
            (out / file).parent.mkdir(parents=True, exist_ok=True)
            (out / file).write_bytes(data)
            rows.append(manifest_row(member, file, data))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=MANIFEST_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    # Last and whole: a fetch stopped half way leaves no manifest, so no half set is ever read.
    atomic_write_text(out / "manifest.csv", text.getvalue())
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the images and manifest.csv (outside the repository)")
    args = parser.parse_args(argv)
    if (args.out / "manifest.csv").exists():
        print(f"{args.out}/manifest.csv exists; remove the folder to fetch again", file=sys.stderr)
        return 1
    try:
        rows = write_set(args.out)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sources = sorted({row["source_repo"] for row in rows})
    documents = sum(row["group"] == "doc" for row in rows)
    print(f"{documents} documents and {len(rows) - documents} non-documents from {len(sources)} sources "
          f"into {args.out}/manifest.csv; hold them all out:")
    print("  " + " ".join(f"--holdout {source}" for source in sources))
    return 0


if __name__ == "__main__":
    sys.exit(main())
