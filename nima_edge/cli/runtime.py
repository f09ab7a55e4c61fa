"""The runtime's commands: `nima score | watch | rank | info | annotate`.

Exit codes (docs/runtime.md): 0 everything scored; 2 some input could not be scored (each named
on its own line, the rest still scored); 1 `--fail-on-retake` saw a retake, or an error that stops
the command (model, source, output), printed as `Error: ...`.
"""
from __future__ import annotations

import csv
import io
import json
import math
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from nima_edge.cli.common import force_option, single_pass_option, translate_errors
from nima_edge.runtime.batch import Result, score_paths
from nima_edge.runtime.errors import NimaError, SourceError
from nima_edge.runtime.fileio import OutputError, atomic_output, atomic_write_text, check_writable
from nima_edge.runtime.images import IMAGE_SUFFIXES, iter_image_paths
from nima_edge.runtime.metadata import ModelMetadata, read_metadata
from nima_edge.runtime.policy import Assessor, threshold_problem
from nima_edge.runtime.scorer import Scorer

EXIT_OK, EXIT_RETAKE, EXIT_FAILED = 0, 1, 2
MAX_NAMED_SKIPS = 20  # files a folder walk passed over, named in its summary line

model_option = click.option(
    "--model", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="A nima-edge .tflite (default: the bundled model).")
threshold_option = click.option(
    "--threshold", type=float, default=None, help="Retake below this score (default: the model's own).")
threads_option = click.option(
    "--threads", type=click.IntRange(1, 64), default=None, help="Interpreter threads (default: all cores).")
workers_option = click.option(
    "--workers", type=click.IntRange(1, 32), default=None, help="Decoding threads (default: up to 4).")
checks_option = click.option(
    "--no-checks", is_flag=True, help="Model score only: skip the native-resolution OpenCV checks.")
damaged_option = click.option(
    "--accept-damaged", is_flag=True,
    help="Score images the decoder reports as damaged (cut short or corrupt, the rest filled in grey) "
         "instead of refusing them; the decoder's message is printed as a warning naming the file.")


def make_assessor(model: Path | None, threshold: float | None, threads: int | None, checks: bool = True,
                  single_pass: bool = False) -> Assessor:
    scorer = Scorer(model, threads=threads, single_pass=single_pass)
    problem = None if threshold is None else threshold_problem(threshold, scorer.metadata.score_values)
    if problem:
        raise click.BadParameter(f"{threshold} is {problem}", param_hint="--threshold")
    return Assessor(scorer, threshold=threshold, checks=checks)


def finite_number(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """Click callback: NaN and infinity are no score to compare with (rank, spark-score --min-score)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number, got {value}", param=param)
    return value


def scoring_options(func):
    """The options every command that scores a batch of files takes (score, rank)."""
    for option in (damaged_option, single_pass_option, checks_option, workers_option, threads_option,
                   threshold_option, model_option):
        func = option(func)
    return func


def _paths_or_warn(paths: tuple[str, ...]) -> Iterator[Path]:
    """Image paths; at the end names on stderr the files a folder walk passed over, and warns when
    nothing at all was found."""
    found, passed_over = False, []
    for path in iter_image_paths(paths, skipped=passed_over.append):
        found = True
        yield path
    if passed_over:
        names = ", ".join(shown(p) for p in passed_over[:MAX_NAMED_SKIPS])
        more = f" and {len(passed_over) - MAX_NAMED_SKIPS} more" if len(passed_over) > MAX_NAMED_SKIPS else ""
        click.echo(f"skipped {len(passed_over)} file{'s' if len(passed_over) != 1 else ''} without an image suffix "
                   f"({' '.join(sorted(IMAGE_SUFFIXES))}): {names}{more}", err=True)
    if not found:
        click.echo(f"no images found in {', '.join(paths)}", err=True)


# ---------------------------------------------------------------- score
@click.command()
@click.argument("paths", nargs=-1, required=True)
@scoring_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line (docs/runtime.md, \"nima score --json contract\").")
@click.option("--fail-on-retake", is_flag=True, help="Exit 1 when any verdict is retake.")
@translate_errors
def score(paths, model, threshold, threads, workers, no_checks, single_pass, accept_damaged, as_json, fail_on_retake):
    """Score image files, folders (walked) and globs: verdict ok/retake with reasons.

    \b
    Examples:
      nima score photo.jpg
      nima score captures/ --json > scores.jsonl
      nima score 'inbox/*.jpg' --fail-on-retake && upload inbox/
    """
    assessor = make_assessor(model, threshold, threads, checks=not no_checks, single_pass=single_pass)
    scored = failed = retakes = 0
    if not as_json:
        click.echo(f"{'verdict':<8} {'mean':>5} {'ms':>7}  path  (reason)")
    for result in score_paths(assessor, _paths_or_warn(paths), workers, accept_damaged):
        if result.assessment is None:
            failed += 1
            if as_json:
                click.echo(json.dumps(result.to_json()))
            else:
                click.echo(f"error: {result.error}", err=True)
            continue
        scored += 1
        retakes += not result.assessment.ok
        if as_json:
            click.echo(json.dumps(result.to_json()))
        else:
            click.echo(_table_row(result))
    sys.stdout.flush()
    raise SystemExit(_exit_code(scored, failed, retakes, fail_on_retake))


def _table_row(result: Result) -> str:
    a = result.assessment
    reason = f"  ({a.reasons[0]})" if a.reasons else ""
    return f"{a.verdict:<8} {a.mean:>5.2f} {a.ms:>7.1f}  {shown(result.path)}{reason}"


def shown(path: Path) -> str:
    """A path for a one-line table: a newline or tab in a file name is escaped, not printed."""
    text = str(path)
    return text if text.isprintable() else text.encode("unicode_escape", "surrogateescape").decode("ascii")


def _exit_code(scored: int, failed: int, retakes: int, fail_on_retake: bool) -> int:
    if failed or scored == 0:
        return EXIT_FAILED
    if fail_on_retake and retakes:
        return EXIT_RETAKE
    return EXIT_OK


# ---------------------------------------------------------------- rank
@click.command()
@click.argument("folder", nargs=-1, required=True)
@scoring_options
@click.option("--top", type=click.IntRange(1), default=None, help="Keep the K best.")
@click.option("--min-score", type=float, default=None, callback=finite_number,
              help="Keep images scoring at least X.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the ranking to a .csv or .json file.")
@click.option("--copy-to", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Copy the kept images into this folder.")
@force_option
@translate_errors
def rank(folder, model, threshold, threads, workers, no_checks, single_pass, accept_damaged, top, min_score, out,
         copy_to, force):
    """Score a folder, best first; keep the top K and/or those above a score.

    \b
    Examples:
      nima rank captures/ --top 10
      nima rank captures/ --min-score 6 --out keep.csv --copy-to keepers/
    """
    if out is not None:
        if out.suffix.lower() not in (".csv", ".json"):
            raise click.BadParameter("must end in .csv or .json", param_hint="--out")
        check_writable(out, force)
    assessor = make_assessor(model, threshold, threads, checks=not no_checks, single_pass=single_pass)
    scored, failed = [], 0
    for result in score_paths(assessor, _paths_or_warn(folder), workers, accept_damaged):
        if result.assessment is None:
            failed += 1
            click.echo(f"error: {result.error}", err=True)
        else:
            scored.append(result)
    scored.sort(key=lambda r: -r.assessment.mean)
    kept = [r for r in scored if min_score is None or r.assessment.mean >= min_score][:top]
    for place, result in enumerate(kept, 1):
        click.echo(f"{place:>4}. {_table_row(result)}")
    if out is not None:
        atomic_write_text(out, _ranking_text(kept, out.suffix.lower()), force)
        click.echo(f"wrote {len(kept)} rows to {out}", err=True)
    if copy_to is not None:
        failed += _copy_keepers(kept, copy_to, force)
    raise SystemExit(_exit_code(len(scored), failed, 0, False))


def _ranking_text(kept: list[Result], suffix: str) -> str:
    rows = [{"rank": i, "path": str(r.path), "mean": round(r.assessment.mean, 4),
             "std": round(r.assessment.std, 4), "verdict": r.assessment.verdict,
             "reasons": r.assessment.reasons} for i, r in enumerate(kept, 1)]
    if suffix == ".json":
        return json.dumps(rows, indent=1) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["rank", "path", "mean", "std", "verdict", "reasons"])
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "reasons": "; ".join(row["reasons"])})
    return buffer.getvalue()


def _copy_keepers(kept: list[Result], folder: Path, force: bool) -> int:
    """Copy the kept images -> how many could not be read. A source that is gone is its own error
    line and the copy goes on; a destination that cannot be written stops it (OutputError)."""
    targets = _unique_targets([r.path for r in kept], folder, None)
    _refuse_existing(targets, force)
    missing = 0
    for result, target in zip(kept, targets):
        try:
            source = open(result.path, "rb")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            missing += 1
            click.echo(f"error: {shown(result.path)}: cannot copy ({exc.strerror or exc}); the rest are copied",
                       err=True)
            continue
        with source, atomic_output(target, force=True) as tmp, open(tmp, "wb") as copy:
            shutil.copyfileobj(source, copy)
    click.echo(f"copied {len(kept) - missing} images to {folder}", err=True)
    return missing


def _refuse_existing(targets: list[Path], force: bool) -> None:
    clashes = [str(t) for t in targets if t.exists()]
    if clashes and not force:
        more = f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""
        raise OutputError(f"{clashes[0]}: already exists{more} (use --force to overwrite)")


def _unique_targets(paths: list[Path], folder: Path, suffix: str | None) -> list[Path]:
    """One output name per input, never the same name twice in a run: a name already given — to an
    input of that name or as a numbered name made earlier (a.jpg, a.jpg, a-1.jpg) — gets the next
    free number."""
    taken: set[str] = set()
    targets = []
    for path in paths:
        extension = suffix or path.suffix
        name, number = path.stem + extension, 0
        while name.lower() in taken:  # lower: two names that differ in case are one file on macOS
            number += 1
            name = f"{path.stem}-{number}{extension}"
        taken.add(name.lower())
        targets.append(folder / name)
    return targets


# ---------------------------------------------------------------- info
@click.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metadata document as JSON.")
@translate_errors
def info(model, as_json):
    """Print a model's embedded metadata and tensors.

    \b
    Example:
      nima info models/default.tflite
    """
    metadata = read_metadata(model)
    scorer = Scorer(model, threads=1)  # proves it loads and is a NIMA; reads the tensors
    if as_json:
        document = metadata.to_dict() if metadata is not None else None
        report = {"path": str(model), "metadata": document, "tensors": _tensors(scorer)}
        click.echo(json.dumps(_finite(report), indent=1, allow_nan=False))  # NaN is not JSON: null
        return
    click.echo(_summary(model, scorer.metadata, scorer, metadata is not None))


def _finite(value):
    """The document with every NaN or infinity replaced by None, so it prints as valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _tensors(scorer: Scorer) -> dict:
    def describe(detail: dict) -> dict:
        scale, zero = detail["quantization"]
        return {"shape": [int(s) for s in detail["shape"]], "dtype": detail["dtype"].__name__,
                "scale": float(scale), "zero_point": int(zero)}

    return {"input": describe(scorer.input_detail),
            "outputs": {n: describe(d) for n, d in scorer.output_details.items()}}


def _summary(path: Path, meta: ModelMetadata, scorer: Scorer, embedded: bool) -> str:
    tensors = _tensors(scorer)
    size_mb = path.stat().st_size / 2**20
    lines = [
        f"model        {path} ({size_mb:.2f} MB){'' if embedded else '  [no metadata: defaults]'}",
        f"name         {meta.name}",
        (f"input        {meta.input_size[0]}x{meta.input_size[1]} {meta.color_order}, resize={meta.resize}, view={meta.view}, "
         f"{tensors['input']['dtype']} (scale {tensors['input']['scale']:g}, zero {tensors['input']['zero_point']})"),
        (f"scores       {meta.bins} bins, {meta.score_values[0]:g}..{meta.score_values[-1]:g}; "
         f"retake below {meta.threshold:g}"
         + ("; each frame scored with its mirror (mirror_average)" if meta.mirror_average else "")),
        f"quantization {meta.quantization}",
        "outputs      " + ", ".join(f"{n} {v['shape']}" for n, v in tensors["outputs"].items()),
    ]
    for name, labels in meta.extra_outputs.items():
        lines.append(f"  {name:<10} {', '.join(labels)}")
    for section in ("calibration", "training", "fidelity"):
        value = getattr(meta, section)
        if value:
            lines.append(f"{section:<12} {json.dumps(value, sort_keys=True)[:300]}")
    return "\n".join(lines)


# ---------------------------------------------------------------- annotate
@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the annotated JPEGs.")
@model_option
@threshold_option
@threads_option
@click.option("--kiosk", is_flag=True, help="Large text, as on a kiosk screen.")
@force_option
@translate_errors
def annotate(paths, out_dir, model, threshold, threads, kiosk, force):
    """Write each image with the prompt drawn on it (score bar, verdict, reason, page outline).

    \b
    Example:
      nima annotate samples/ --out demo-out --force
    """
    import cv2

    from nima_edge.runtime.images import load_image
    from nima_edge.runtime.overlay import draw_overlay

    assessor = make_assessor(model, threshold, threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = list(_paths_or_warn(paths))
    targets = _unique_targets(inputs, out_dir, ".jpg")
    _refuse_existing(targets, force)  # before any work: an existing output is the command's error, not an image's
    written = failed = 0
    for result, target in zip(score_paths(assessor, inputs), targets):
        if result.assessment is None:
            failed += 1
            click.echo(f"error: {result.error}", err=True)
            continue
        try:
            image = load_image(result.path)
            picture = draw_overlay(image, _file_prompt(assessor, result), kiosk=kiosk)
            ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 90])
            if not ok:
                raise OutputError(f"{target}: cannot encode the annotated image")
            with atomic_output(target, force) as tmp:
                tmp.write_bytes(encoded.tobytes())
        except NimaError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
            continue
        written += 1
        click.echo(f"{_table_row(result)} -> {target}")
    raise SystemExit(_exit_code(written, failed, 0, False))


def _file_prompt(assessor: Assessor, result: Result):
    from nima_edge.runtime.overlay import Prompt

    a = result.assessment
    return Prompt.of(a, "OK" if a.ok else "RETAKE", a.ok, a.mean, assessor.score_range, assessor.policy.threshold)


# ---------------------------------------------------------------- watch
@click.command()
@click.argument("source")
@model_option
@threshold_option
@threads_option
@single_pass_option
@click.option("--show", is_flag=True, help="Show the overlay in a window (needs a display and GUI OpenCV).")
@click.option("--kiosk", is_flag=True, help="Full-screen window with large text (implies --show unless --out).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the overlaid frames to a video (.mp4 mp4v or .avi MJPG).")
@click.option("--save-best", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Save the best frame into this folder each time the capture is ready.")
@click.option("--json", "as_json", is_flag=True, help="One JSON event a line (state changes, saved frames, end).")
@click.option("--ready-frames", type=click.IntRange(1), default=8, show_default=True,
              help="Consecutive good frames before 'ready'.")
@click.option("--retries", type=click.IntRange(0), default=3, show_default=True,
              help="Times a dead camera or stream is reopened before giving up.")
@click.option("--checks-every", type=click.IntRange(1), default=1, show_default=True,
              help="Run the native-resolution checks every N frames.")
@click.option("--stall-timeout", type=click.FloatRange(0.1), default=5.0, show_default=True,
              help="Seconds without a frame before the source counts as dead.")
@click.option("--max-frames", type=click.IntRange(1), default=None, help="Stop after N frames.")
@force_option
@translate_errors
def watch(source, model, threshold, threads, single_pass, show, kiosk, out, save_best, as_json, ready_frames,
          retries, checks_every, stall_timeout, max_frames, force):
    """Live prompt from a camera index, a video file, a stream URL or `picamera`.

    \b
    Examples:
      nima watch 0 --show
      nima watch picamera --kiosk --save-best captures/
      nima watch clip.mp4 --out overlay.mp4 --json --max-frames 300
    """
    from nima_edge.runtime.sink import FrameSink
    from nima_edge.runtime.sources import parse_source
    from nima_edge.runtime.watch import WatchConfig
    from nima_edge.runtime.watch import watch as run_watch

    if kiosk and out is None:
        show = True
    if out is not None:
        if out.suffix.lower() not in (".mp4", ".avi"):
            raise click.BadParameter("must end in .mp4 or .avi", param_hint="--out")
        check_writable(out, force)
    spec = parse_source(source)
    assessor = make_assessor(model, threshold, threads, single_pass=single_pass)
    config = WatchConfig(ready_frames=ready_frames, retries=retries, checks_every=checks_every,
                         stall_timeout=stall_timeout, max_frames=max_frames)
    emit = (lambda event: click.echo(json.dumps(event))) if as_json else _human_event
    sink = FrameSink(out, spec.fps, show, kiosk)
    try:
        run_watch(assessor, spec, config, on_event=emit, on_frame=sink if (show or out) else None,
                  save_dir=save_best)
    except SourceError as exc:  # what was seen up to the loss is kept: it is whole
        sink.close(keep=True)
        raise click.ClickException(str(exc)) from None
    except OutputError:
        sink.close(keep=False)
        raise
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    sink.close(keep=True)


def _human_event(event: dict) -> None:
    kind = event["event"]
    if kind == "state":
        reason = f" — {event['reasons'][0]}" if event.get("reasons") else ""
        click.echo(f"frame {event['frame']:>5}: {event['state'].upper():<7} {event['mean']:.2f}{reason}")
    elif kind == "saved":
        click.echo(f"frame {event['frame']:>5}: saved {event['path']} ({event['mean']:.2f})")
    elif kind == "retry":
        click.echo(f"attempt {event['attempt']} failed: {event['detail']}", err=True)
    elif kind == "source_lost":
        click.echo(f"lost: {event['detail']}", err=True)
    elif kind == "end":
        skipped = f", {event['bad_reads']} unreadable frames skipped" if event.get("bad_reads") else ""
        click.echo(f"{event['reason'] or 'stopped'}: {event['frames']} frames, {event['fps']} frames/s, "
                   f"{event['saved']} saved{skipped}")
