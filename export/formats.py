"""The export formats as one table of data, and the check that an option fits a format.

Each row says how its format is made — the converter settings (``optimize``, ``weight_type``,
``full_integer``) that export.convert applies, and whether it goes through quantization-aware
fine-tuning first (export.qat) — so adding a format means adding a row: the converter, the
pipeline, the CLI, the error messages and the README table all read this table, none branches on
a format's name.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from nima_edge.runtime.errors import NimaError


class ExportError(NimaError):
    """An export that cannot be made as asked (bad format, option, calibration set, model)."""


@dataclass(frozen=True)
class QatOptions:
    """Quantization-aware fine-tuning's knobs: the one source of their defaults (CLI and qat.py)."""

    epochs: int = 2
    learning_rate: float = 1e-5


# int8 keeps the network's stem in float: the input scaling, MobileNetV2's first convolution and its
# first three blocks (up to the first residual add), 11 ops of about 70. Their outputs span the
# widest ranges; quantized, their rounding reached every later layer and the ImageNet-started model
# missed the fidelity gate (SRCC 0.989, median |d mean| 0.078); with them in float it passes
# (0.9985, 0.030) at 2 KB more and no measured latency cost on x86 (models/MODEL_CARD.md, "int8
# against Keras").
FLOAT_STEM_OPS = 11

# Options every format takes (besides the model and --out).
COMMON_OPTIONS: frozenset[str] = frozenset(
    {"val", "val_format", "min_srcc", "max_median_delta", "min_agreement", "no_gate", "force"}
)


@dataclass(frozen=True)
class ExportFormat:
    """One row of the format table."""

    name: str
    quantization: str  # the metadata ``quantization`` value
    description: str
    options: frozenset[str]  # options this format takes beyond COMMON_OPTIONS
    needs_calibration: bool = False
    optimize: bool = False  # the converter's default optimisation (weights quantised)
    weight_type: str | None = None  # a TensorFlow dtype name the weights are stored as ("float16")
    full_integer: bool = False  # int8 activations (after a float stem), calibrated on the calibration set
    quantization_aware: bool = False  # fine-tuned with fake quantisation first (export.qat), then full integer
    float_stem: int = 0  # full integer: how many of the graph's first ops stay float (--float-stem)

    @property
    def accepted(self) -> frozenset[str]:
        return COMMON_OPTIONS | self.options

    def float_stem_ops(self, requested: int | None = None) -> int:
        """How many of the graph's first ops this format keeps in float: ``requested`` (--float-stem)
        or the row's own count for a post-training full-integer format, 0 for any other (the float
        formats quantize no activations; qat-int8 is quantized in its tf_keras child, whole)."""
        if not self.full_integer or self.quantization_aware:
            return 0
        return self.float_stem if requested is None else requested


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("float32", "float32", "the Keras graph as is; the reference for every other format",
                     frozenset()),
        ExportFormat("float16", "float16", "weights stored as float16 (half the size), computed in float32",
                     frozenset(), optimize=True, weight_type="float16"),
        ExportFormat("dynamic", "dynamic", "int8 weights, float activations; no calibration set needed",
                     frozenset(), optimize=True),
        ExportFormat("int8", "int8", "full-integer: uint8 raw-pixel input, int8 compute (the first --float-stem "
                     "ops in float), float32 output; calibrated on --calibration",
                     frozenset({"calibration", "batch_size", "float_stem"}),
                     needs_calibration=True, full_integer=True, float_stem=FLOAT_STEM_OPS),
        ExportFormat("qat-int8", "qat-int8", "quantization-aware fine-tuning (tfmot) then full-integer "
                     "conversion", frozenset({"calibration", "batch_size", "data", "data_format", "epochs",
                                              "learning_rate"}), needs_calibration=True, full_integer=True,
                     quantization_aware=True),
    )
}


def option_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def get_format(name: str) -> ExportFormat:
    """The table row for ``name``; an unknown name is refused with the choices and a near miss."""
    try:
        return FORMATS[name]
    except KeyError:
        close = difflib.get_close_matches(name, FORMATS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ExportError(f"unknown format {name!r}{hint}; choose from {', '.join(FORMATS)}") from None


def check_options(fmt: ExportFormat, given: Iterable[str]) -> None:
    """Refuse options the format does not take, naming the valid ones and the formats that take it."""
    for option in sorted(set(given) - fmt.accepted):
        takers = [f.name for f in FORMATS.values() if option in f.accepted]
        own = sorted(option_flag(o) for o in fmt.options) or ["no format-specific options"]
        raise ExportError(
            f"{option_flag(option)} does not apply to format {fmt.name} (it takes {', '.join(own)}); "
            f"{option_flag(option)} is for: {', '.join(takers)}"
        )


def format_table_markdown() -> str:
    """The format table as markdown, for the README and `nima export --help`."""
    lines = ["| format | quantization | options | what it is |", "|---|---|---|---|"]
    for f in FORMATS.values():
        options = ", ".join(option_flag(o) for o in sorted(f.options)) or "-"
        lines.append(f"| {f.name} | {f.quantization} | {options} | {f.description} |")
    return "\n".join(lines)
