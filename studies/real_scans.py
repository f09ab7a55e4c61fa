"""Write real scans of printed and typed pages to a folder: the real-document check of issue 6.

    .venv/bin/python studies/real_scans.py OUT_DIR [--sdist ocrmypdf-17.13.0.tar.gz] [--dpi 200]
    nima score OUT_DIR
    .venv/bin/python studies/degradation_pairs.py --real OUT_DIR

No labelled real document photos exist here, but OCRmyPDF's source distribution on PyPI carries
real scans in its test resources (tests/resources/README.rst names the sources: Wikimedia
Commons, Project Gutenberg; CC-BY-SA or public domain). They are fetched with pip at run time
rather than copied into this repository. Every one is a legible, whole document page that a
pharmacy would accept as a scan, so each should be accepted:

- linn.png: a 300-dpi scan of a printed product sheet (two columns, a logo);
- skew.pdf, rotated_skew.pdf: the same sheet scanned askew, and askew and rotated;
- c03-29.pdf: a scanned book page from Project Gutenberg (yellowed paper, an illustration);
- typewriter.png: a typewritten recipe, scanned, cropped to the text;
- epson.pdf, masks.pdf: printed Wikipedia articles as their printers' PDFs (not camera images).

PDFs are rendered with Ghostscript (`gs`, Debian package ghostscript) at --dpi; without it only
the PNGs are written.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SDIST = "ocrmypdf==17.13.0"
IMAGES = ("linn.png", "typewriter.png")
PDFS = ("skew.pdf", "rotated_skew.pdf", "c03-29.pdf", "epson.pdf", "masks.pdf")


def page_name(resource: str) -> str:
    """The file a resource is written as: PNGs as they are, PDF pages rendered to PNG."""
    return Path(resource).stem + ".png"


def fetch_sdist(into: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", SDIST, "--no-binary", ":all:", "--no-deps",
                    "--quiet", "--dest", str(into)], check=True)
    return next(into.glob("ocrmypdf-*.tar.gz"))


def extract(sdist: Path, names: tuple[str, ...], into: Path) -> dict[str, Path]:
    found = {}
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            name = Path(member.name).name
            if name in names and "/tests/resources/" in member.name:
                # The "data" filter refuses links and paths out of the folder (Python >= 3.11.4).
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                archive.extract(member, into, **safe)
                found[name] = into / member.name
    missing = sorted(set(names) - set(found))
    if missing:
        raise SystemExit(f"{sdist}: not in its tests/resources: {', '.join(missing)}")
    return found


def render_pdf(pdf: Path, png: Path, dpi: int) -> None:
    subprocess.run(["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=png16m", f"-r{dpi}",
                    "-dFirstPage=1", "-dLastPage=1", f"-sOutputFile={png}", str(pdf)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sdist", type=Path, help="an ocrmypdf sdist already downloaded (default: pip download)")
    parser.add_argument("--dpi", type=int, default=200, help="resolution the PDFs are rendered at")
    parser.add_argument("--force", action="store_true", help="overwrite pages already in OUT_DIR")
    args = parser.parse_args()
    existing = [page_name(name) for name in IMAGES + PDFS if (args.out / page_name(name)).exists()]
    if existing and not args.force:
        raise SystemExit(f"{args.out}: {', '.join(existing)} already there (use --force to overwrite)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        sdist = args.sdist or fetch_sdist(scratch)
        can_render = shutil.which("gs") is not None
        files = extract(sdist, IMAGES + (PDFS if can_render else ()), scratch)
        for name in IMAGES:
            shutil.copyfile(files[name], args.out / name)
            print(args.out / name)
        if not can_render:
            print("Ghostscript (gs) not found: the PDF pages were skipped", file=sys.stderr)
        for name in PDFS if can_render else ():
            png = args.out / page_name(name)
            render_pdf(files[name], png, args.dpi)
            print(png)


if __name__ == "__main__":
    main()
