"""Scoring frames with a NIMA .tflite: one thin class around the interpreter."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import MetadataError, ModelError
from .interpreter import dequantize, make_interpreter, quantize
from .metadata import ModelMetadata, read_metadata_bytes
from .preprocess import mirror_input, preprocess

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Score:
    """A model's judgement of one frame."""

    distribution: np.ndarray
    mean: float
    std: float
    extras: dict[str, dict[str, float]] = field(default_factory=dict)


def mean_std(distribution: np.ndarray, score_values: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of a distribution over the score values (last axis)."""
    p = np.asarray(distribution, dtype=np.float64)
    values = np.asarray(score_values, dtype=np.float64)
    p = p / p.sum(axis=-1, keepdims=True)
    mean = (p * values).sum(axis=-1)
    var = (p * (values - np.asarray(mean)[..., None]) ** 2).sum(axis=-1)
    return mean, np.sqrt(np.maximum(var, 0.0))


def default_model_path() -> Path:
    from nima_edge.models import DEFAULT_MODEL

    return DEFAULT_MODEL


class Scorer:
    """Loads a NIMA .tflite with its metadata and scores BGR frames.

    >>> scorer = Scorer("model.tflite")
    >>> scorer.score(cv2.imread("photo.jpg")).mean

    A model whose metadata says ``mirror_average`` is run on each input and on its mirror, and
    its outputs averaged (two invokes a frame); ``single_pass`` runs it once (the fidelity gate,
    which compares networks; `--single-pass` on a slow device).
    """

    def __init__(self, model_path: str | Path | None = None, threads: int | None = None,
                 single_pass: bool = False):
        self.path = Path(model_path) if model_path is not None else default_model_path()
        try:
            content = self.path.read_bytes()
        except FileNotFoundError:
            if model_path is None:
                raise ModelError(
                    f"{self.path}: the bundled default model is not installed; pass --model MODEL.tflite"
                ) from None
            raise ModelError(f"{self.path}: no such model file") from None
        except IsADirectoryError:
            raise ModelError(f"{self.path}: is a directory, not a .tflite model") from None
        except OSError as exc:
            raise ModelError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        try:
            metadata = read_metadata_bytes(content)
        except MetadataError as exc:
            raise MetadataError(f"{self.path}: {exc}") from None
        self.interpreter = make_interpreter(content, threads, name=str(self.path))
        self._input = self._check_input(self.interpreter.get_input_details())
        height, width = int(self._input["shape"][1]), int(self._input["shape"][2])
        if metadata is None:  # warned only once the file has proved to be a model
            try:
                metadata = ModelMetadata(input_size=(height, width), quantization=np.dtype(self._input["dtype"]).name)
            except MetadataError as exc:
                raise ModelError(f"{self.path}: {exc}") from None
            log.warning("%s has no nima-edge metadata; assuming scores 1..10, RGB input, threshold 5", self.path)
        if tuple(metadata.input_size) != (height, width):
            raise ModelError(f"{self.path}: metadata says input {metadata.input_size}, the model takes {(height, width)}")
        self.metadata = metadata
        self.mirror_average = metadata.mirror_average and not single_pass  # what score_outputs does
        self._outputs = self._map_outputs()
        self._values = np.asarray(metadata.score_values, dtype=np.float64)

    @property
    def input_detail(self) -> dict:
        """The interpreter's detail of the image input (shape, dtype, quantization)."""
        return self._input

    @property
    def output_details(self) -> dict[str, dict]:
        """Output name -> the interpreter's detail, the distribution under the metadata's name."""
        return dict(self._outputs)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.metadata.input_size

    @property
    def threshold(self) -> float:
        return self.metadata.threshold

    def _check_input(self, details: list[dict]) -> dict:
        if len(details) != 1:
            raise ModelError(f"{self.path}: a NIMA has one input, this model has {len(details)}")
        detail = details[0]
        shape = tuple(int(s) for s in detail["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
            raise ModelError(f"{self.path}: expected an input of shape (1, H, W, 3), got {shape}")
        return detail

    def _map_outputs(self) -> dict[str, dict]:
        """Output name -> tensor detail; the distribution under the metadata's name."""
        details = self.interpreter.get_output_details()
        bins = self.metadata.bins
        by_name: dict[str, dict] = {}
        try:
            runner_outputs = self.interpreter.get_signature_runner().get_output_details()
            by_index = {d["index"]: d for d in details}
            by_name = {name: by_index[d["index"]] for name, d in runner_outputs.items() if d["index"] in by_index}
        except (ValueError, RuntimeError, KeyError, AttributeError):
            by_name = {}
        wanted = self.metadata.distribution_output
        chosen: dict[str, dict] = {}
        if wanted in by_name:
            chosen[wanted] = by_name[wanted]
        else:
            candidates = [d for d in details if tuple(d["shape"]) == (1, bins)]
            if not candidates:
                shapes = [tuple(int(s) for s in d["shape"]) for d in details]
                raise ModelError(f"{self.path}: no output of shape (1, {bins}) for the score distribution; outputs are {shapes}")
            if len(candidates) > 1:
                raise ModelError(f"{self.path}: {len(candidates)} outputs have shape (1, {bins}) and none is named "
                                 f"{wanted!r}; name the distribution output in the metadata (distribution_output)")
            chosen[wanted] = candidates[0]
        # Extra heads whose signature names the converter did not keep are matched by shape,
        # among the outputs not already given to the distribution or another head.
        used = {chosen[wanted]["index"]}
        for name, labels in self.metadata.extra_outputs.items():
            detail = by_name.get(name)
            if detail is None or detail["index"] in used:
                match = [d for d in details if tuple(d["shape"]) == (1, len(labels)) and d["index"] not in used]
                detail = match[0] if len(match) == 1 else None  # ambiguous or absent: no reasons from it
            if detail is not None:
                chosen[name] = detail
                used.add(detail["index"])
        by_name = chosen
        shape = tuple(int(s) for s in by_name[wanted]["shape"])
        if shape != (1, bins):
            raise ModelError(f"{self.path}: distribution output has shape {shape}, expected (1, {bins})")
        return by_name

    def prepare(self, image_bgr: np.ndarray, search: np.ndarray | None = None) -> np.ndarray:
        """The model input for a BGR frame, through the shared preprocessing function (``search``:
        the frame's preprocess.search_copy, when the caller has made it)."""
        image = preprocess(image_bgr, self.metadata.input_size, self.metadata.resize, self.metadata.view, search)
        if self.metadata.color_order == "BGR":
            image = image[..., ::-1]
        return image

    def run(self, model_input: np.ndarray) -> dict[str, np.ndarray]:
        """Run one preprocessed input (H, W, 3 uint8 pixels); dequantized outputs by name."""
        batch = quantize(model_input[None].astype(np.float32), self._input) if self._input["dtype"] != np.uint8 \
            else model_input[None].astype(np.uint8)
        self.interpreter.set_tensor(self._input["index"], batch)
        self.interpreter.invoke()
        return {name: dequantize(self.interpreter.get_tensor(d["index"]), d)[0] for name, d in self._outputs.items()}

    def score_outputs(self, model_input: np.ndarray) -> dict[str, np.ndarray]:
        """The outputs a score is read from: one run, or with mirror_average the mean of the runs on
        the input and on its mirror (each head averaged, the defect sigmoids too)."""
        outputs = self.run(model_input)
        if not self.mirror_average:
            return outputs
        mirrored = self.run(mirror_input(model_input, self.metadata.view))
        return {name: (value + mirrored[name]) / 2 for name, value in outputs.items()}

    def score_input(self, model_input: np.ndarray) -> Score:
        return self.score_from_outputs(self.score_outputs(model_input))

    def score_from_outputs(self, outputs: dict[str, np.ndarray]) -> Score:
        """The Score of the model's outputs by name (Scorer.run's, or a mean of several runs')."""
        raw = outputs[self.metadata.distribution_output].astype(np.float64)
        # A damaged or wrong model must not pass for a uniform "5.5, ok": an output that is not a
        # probability distribution is the model's fault, whatever the image.
        if not np.all(np.isfinite(raw)) or raw.min() < -1e-3 or raw.sum() <= 0:
            shown = np.array2string(raw, precision=3, max_line_width=200)
            raise ModelError(f"{self.path}: the {self.metadata.distribution_output!r} output is not a probability "
                             f"distribution (got {shown}); the model is damaged or not a NIMA")
        distribution = np.clip(raw, 0.0, None)
        distribution = distribution / distribution.sum()
        mean, std = mean_std(distribution, self._values)
        extras = {
            name: dict(zip(labels, (float(x) for x in outputs[name])))
            for name, labels in self.metadata.extra_outputs.items()
            if name in outputs
        }
        return Score(distribution.astype(np.float32), float(mean), float(std), extras)

    def score(self, image_bgr: np.ndarray) -> Score:
        """Score one BGR frame."""
        return self.score_input(self.prepare(image_bgr))
