"""One export, start to finish: load, convert, compare with Keras, write model + report atomically.

Everything is computed in memory and written at the very end (model last), so an export that
is killed or fails leaves no file under the output names.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from nima_edge.runtime.fileio import atomic_write_bytes, atomic_write_text, check_writable
from nima_edge.runtime.images import iter_image_paths
from nima_edge.runtime.metadata import ModelMetadata, embed_metadata
from nima_edge.training.model import load_nima

from . import convert as conv
from .fidelity import (
    FidelityReport,
    Gates,
    compare,
    gates_dict,
    keras_distributions,
    report_markdown,
    tflite_distributions,
)
from .formats import ExportError, ExportFormat

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportRequest:
    """What `nima export` was asked to do (validated against the format table by the CLI)."""

    model: Path
    fmt: ExportFormat
    out: Path
    calibration: Path | None = None  # default: the shipped calibration set
    val: Path | None = None  # images folder or a label file; default: held out of the calibration set
    val_format: str = "csv"
    batch_size: int = conv.DEFAULT_BATCH_SIZE
    gates: Gates = field(default_factory=Gates)
    gate: bool = True
    force: bool = False
    qat: dict[str, Any] = field(default_factory=dict)  # data, data_format, epochs, learning_rate
    float_stem: int | None = None  # --float-stem; None: the format's own (ExportFormat.float_stem_ops)


@dataclass(frozen=True)
class ExportResult:
    out: Path
    report_json: Path
    report_markdown: Path
    report: FidelityReport
    failures: list[str]
    metadata: ModelMetadata
    seconds: float


def report_paths(out: Path) -> tuple[Path, Path]:
    """Where the fidelity report goes: beside the model, named after it."""
    return out.with_name(out.stem + ".fidelity.json"), out.with_name(out.stem + ".fidelity.md")


def run_export(request: ExportRequest) -> ExportResult:
    """Make the export; raise ExportError before writing anything when it cannot be made."""
    start = time.perf_counter()
    json_path, md_path = report_paths(request.out)
    for path in (request.out, json_path, md_path):  # fail now, not after minutes of conversion
        check_writable(path, request.force)

    model, spec = load_nima(request.model)
    calibration, validation, val_source = _image_sets(request, spec.input_hw, spec.resize, spec.view)

    log.info("converting %s to %s", request.model, request.fmt.name)
    if request.fmt.quantization_aware:
        from .qat import run_qat_subprocess

        model_bytes = run_qat_subprocess(request, model, spec, calibration)
    else:
        model_bytes = conv.convert(model, request.fmt, calibration, request.float_stem)

    metadata = build_metadata(spec, request, model_bytes, calibration)
    log.info("scoring %d validation images with Keras and %s", len(validation), request.fmt.name)
    reference = keras_distributions(model, validation.inputs, request.batch_size)
    candidate, latency = tflite_distributions(model_bytes, metadata, validation.inputs)
    size = len(embed_metadata(model_bytes, metadata))
    report = compare(reference, candidate, spec.score_values, spec.threshold, size, latency)
    failures = report.failures(request.gates) if request.gate else []
    comparison = _compare_with_post_training(model, spec, request, calibration, validation, reference) \
        if request.fmt.quantization_aware else {}

    fidelity = fidelity_document(report, request, val_source, comparison)
    metadata = metadata.replace(fidelity=fidelity)
    # Reports first, the model last: a model under the output name always has its report beside it.
    atomic_write_text(json_path, json.dumps(fidelity, indent=1, sort_keys=True) + "\n", request.force)
    atomic_write_text(md_path, _markdown(report, request, fidelity), request.force)
    atomic_write_bytes(request.out, embed_metadata(model_bytes, metadata), request.force)
    return ExportResult(request.out, json_path, md_path, report, failures, metadata,
                        time.perf_counter() - start)


def fidelity_document(report: FidelityReport, request: ExportRequest, val_source: str,
                      comparison: dict[str, Any]) -> dict[str, Any]:
    """The report as stored in the metadata and the .fidelity.json file."""
    fidelity = {
        **report.to_dict(),
        "format": request.fmt.name,
        "validation": val_source,
        "gates": gates_dict(request.gates),
        "gated": request.gate,
        "passed": not report.failures(request.gates),
        **comparison,
    }
    if comparison:
        fidelity["beats_post_training_int8"] = beats_post_training(fidelity)
    return fidelity


def _markdown(report: FidelityReport, request: ExportRequest, fidelity: dict[str, Any]) -> str:
    markdown = report_markdown(report, request.fmt.name, request.gates, request.out.name, request.gate)
    ptq = fidelity.get("post_training_int8")
    if ptq:
        markdown += (f"Post-training int8 on the same images: SRCC {ptq['srcc']:.4f}, median |Δ mean| "
                     f"{ptq['median_abs_delta']:.4f}, agreement {ptq['agreement']:.1%}. QAT "
                     f"{'beats' if fidelity['beats_post_training_int8'] else 'does not beat'} it.\n")
    return markdown


def _compare_with_post_training(model, spec, request: ExportRequest, calibration, validation,
                                reference: np.ndarray) -> dict[str, Any]:
    """QAT is only worth its cost when it beats post-training int8 on the same images: measure it."""
    from .formats import FORMATS

    log.info("converting post-training int8 for comparison with QAT")
    ptq_bytes = conv.convert(model, FORMATS["int8"], calibration)
    metadata = build_metadata(spec, request, ptq_bytes, calibration).replace(quantization="int8")
    candidate, latency = tflite_distributions(ptq_bytes, metadata, validation.inputs)
    ptq = compare(reference, candidate, spec.score_values, spec.threshold, len(ptq_bytes), latency)
    figures = {k: v for k, v in ptq.to_dict().items()
               if k in ("srcc", "lcc", "mean_abs_delta", "median_abs_delta", "max_abs_delta", "mean_emd", "agreement")}
    return {"post_training_int8": figures}


def beats_post_training(fidelity: dict[str, Any]) -> bool | None:
    """QAT beats post-training int8: a smaller median |Δ mean| and no lower verdict agreement."""
    ptq = fidelity.get("post_training_int8")
    if not ptq:
        return None
    return fidelity["median_abs_delta"] < ptq["median_abs_delta"] and fidelity["agreement"] >= ptq["agreement"]


def _image_sets(request: ExportRequest, input_hw: tuple[int, int], resize: str, view: str
                ) -> tuple[conv.ImageSet | None, conv.ImageSet, str]:
    """(calibration set or None, validation set, description of where validation came from)."""
    source = request.calibration or conv.default_calibration_dir()
    if request.fmt.needs_calibration:
        images = conv.load_image_set(source, input_hw, resize, "calibration", view)
        if request.val is None:
            calibration, validation = conv.split_holdout(images)
            conv.check_calibration_size(calibration, request.batch_size, source)
            return calibration, validation, f"{len(validation)} images held out of {source}"
        conv.check_calibration_size(images, request.batch_size, source)
        return images, _validation_set(request, input_hw, resize, view), str(request.val)
    if request.val is None:
        # Nothing is calibrated on these images, so all of them can validate a float format.
        return None, conv.load_image_set(source, input_hw, resize, "validation", view), str(source)
    return None, _validation_set(request, input_hw, resize, view), str(request.val)


def _validation_set(request: ExportRequest, input_hw: tuple[int, int], resize: str, view: str) -> conv.ImageSet:
    val = request.val
    assert val is not None
    if val.is_file() and val.suffix.lower() not in {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}:
        from nima_edge.training.data import read_dataset

        paths = read_dataset(val, request.val_format).paths
        return _images_from_paths(paths, input_hw, resize, view, str(val))
    return conv.load_image_set(val, input_hw, resize, "validation", view)


def _images_from_paths(paths: list[Path], input_hw: tuple[int, int], resize: str, view: str,
                       source: str) -> conv.ImageSet:
    from nima_edge.runtime.errors import ImageError
    from nima_edge.runtime.images import load_image
    from nima_edge.runtime.preprocess import preprocess

    kept, inputs = [], []
    for path in iter_image_paths(paths):
        try:
            inputs.append(preprocess(load_image(path), input_hw, resize, view))
            kept.append(path)
        except ImageError as exc:
            log.warning("skipping %s", exc)
    if len(kept) < 2:
        raise ExportError(f"{source}: fewer than 2 readable validation images")
    return conv.ImageSet(tuple(kept), np.stack(inputs))


def build_metadata(spec, request: ExportRequest, model_bytes: bytes, calibration: conv.ImageSet | None
                   ) -> ModelMetadata:
    """The runtime's metadata document from the Keras spec, matched to the converted outputs."""
    names = conv.signature_output_names(model_bytes)
    extra = {}
    if spec.defect_labels:
        # The runtime matches outputs by signature name, then by shape; keep the Keras name when the
        # converter kept it (it does for dict outputs), else the runtime falls back to the shape.
        extra["defects"] = tuple(spec.defect_labels)
    if names and "distribution" not in names:
        log.warning("converted model has outputs %s; the runtime will find the distribution by shape", names)
    calibration_doc: dict[str, Any] = {}
    if calibration is not None:
        calibration_doc = {
            # the shipped set is named, not located: an absolute path says nothing on another machine
            "source": str(request.calibration) if request.calibration else "calibration/default (shipped)",
            "images": len(calibration),
            "sha256": calibration.content_hash(),
        }
        stem = request.fmt.float_stem_ops(request.float_stem)
        if stem:
            calibration_doc["float_stem_ops"] = stem
    training = {
        **spec.provenance,
        "keras_model": request.model.name,
        "keras_sha256": _file_sha256(request.model),
        "backbone": spec.backbone,
        "alpha": spec.alpha,
    }
    if request.fmt.quantization_aware:
        training["qat"] = {k: str(v) if isinstance(v, Path) else v for k, v in request.qat.items()}
    return ModelMetadata(
        score_values=tuple(float(v) for v in spec.score_values),
        input_size=spec.input_hw,
        color_order=spec.color_order,
        resize=spec.resize,
        view=spec.view,
        threshold=float(spec.threshold),
        mirror_average=spec.mirror_average,
        distribution_output="distribution",
        extra_outputs=extra,
        quantization=request.fmt.quantization,
        name=spec.name,
        calibration=calibration_doc,
        training=training,
    )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
