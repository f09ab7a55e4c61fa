"""The typed training configuration stored as RUN_DIR/config.json (reloads; unknown keys are errors)."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nima_edge.runtime.fileio import atomic_write_text
from nima_edge.runtime.preprocess import view_problem
from nima_edge.runtime.strict import (
    Coerce,
    FieldProblem,
    float_tuple,
    of_kind,
    optional,
    parse_json,
    strict_kwargs,
)

from .data import FORMATS
from .pipeline import AUGMENTATIONS, FRAME_DROPOUT_NEEDS_MOSAIC, MIRRORING_AUGMENTATIONS
from .spec import BACKBONES, SpecError, dropout_problem, rate_problem

MAX_CONFIG_BYTES = 1024 * 1024  # a run's config.json is about 1 kB
OPTIMIZERS = ("adam", "sgd-paper")
STRATEGIES = ("default", "mirrored")
LR_SCHEDULES = ("constant", "cosine")
BALANCES = ("none", "defects")


def write_shared_text(path: str | Path, text: str) -> Path:
    """Atomic write of a run file (replacing the previous one)."""
    return atomic_write_text(path, text, force=True)


def default_threshold(values: tuple[float, ...]) -> float:
    """5 on the 1..10 scale (the AVA convention), else the middle of the scale."""
    if tuple(values) == tuple(float(v) for v in range(1, 11)):
        return 5.0
    return (values[0] + values[-1]) / 2


@dataclass(frozen=True)
class TrainConfig:
    """Every choice a training run made, so a run can be resumed and reproduced."""

    data: str
    format: str
    extra_data: tuple[str, ...] = ()  # more label files of the same format (e.g. real photos beside synthetic ones)
    images: str | None = None
    backbone: str = "mobilenet_v2"
    alpha: float = 1.0
    input_size: int = 224
    score_values: tuple[float, ...] | None = None  # None: the labels' own scale
    epochs: int = 10
    phase1_epochs: int | None = None  # None: 0 from scratch, else min(2, epochs - 1)
    batch_size: int = 32
    base_weights: str = "none"
    init_from: str | None = None  # a nima .keras whose weights start the run (fine-tuning it)
    optimizer: str = "adam"
    lr: float | None = None  # all layers (phase 2); None: see resolved_lr
    head_lr: float | None = None  # the head (phase 1, and sgd-paper's head); None: see resolved_head_lr
    loss_r: float = 2.0
    augment: str | None = None  # None: paper, except csv (documents) -> flip
    view: str = "frame"  # see nima_edge.runtime.preprocess.VIEWS
    lr_schedule: str = "constant"  # constant, or cosine: decays to 5% over the run's epochs
    defect_head: bool | None = None  # None: on when the labels have defect_ columns
    defect_weight: float = 1.0
    dropout: float = 0.75
    # Mosaic views: the share of training inputs whose whole-frame tile is flattened to its own mean
    # colour, so the verdict cannot rest on the frame tile alone (see make_dataset).
    frame_dropout: float = 0.0
    # Training inputs recoloured as under another light or on another paper, by this strength
    # (0: off; see dataset.shift_colour).
    colour_shift: float = 0.0
    # Stochastic weight averaging: when set, the run's model is the mean of the weights after each
    # epoch from this one (1-based) to the last, instead of the best single epoch (see train.py).
    average_from: int | None = None
    balance: str = "none"  # defects: 1/sqrt-frequency loss weights per strongest defect (pipeline.py)
    bn_momentum: float | None = None  # None: 0.99 from scratch, the backbone's own when pretrained
    threshold: float | None = None  # None: the middle of the score scale
    seed: int = 0
    limit: int | None = None
    strategy: str = "default"
    val_fraction: float = 0.1
    test_fraction: float = 0.1

    def __post_init__(self) -> None:
        view = view_problem(self.view, self.input_size, self.input_size)
        dropout = dropout_problem(self.dropout)
        frame_dropout = rate_problem("frame_dropout", self.frame_dropout)
        colour_shift = rate_problem("colour_shift", self.colour_shift)
        checks = [
            (self.format in FORMATS, f"format must be one of {', '.join(FORMATS)}"),
            (self.backbone in BACKBONES, f"backbone must be one of {', '.join(BACKBONES)}"),
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.phase1_epochs is None or 0 <= self.phase1_epochs <= self.epochs,
             "phase1_epochs must lie in 0..epochs"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.augment is None or self.augment in AUGMENTATIONS,
             f"augment must be one of {', '.join(AUGMENTATIONS)}"),
            (self.strategy in STRATEGIES, f"strategy must be one of {', '.join(STRATEGIES)}"),
            (view is None, view),
            (self.view == "frame" or self.augment != "paper",
             f"the paper augmentation crops across the {self.view} view's tiles; use flip or none"),
            (self.init_from is None or self.base_weights == "none",
             "init_from already sets every weight; base_weights must stay none"),
            (self.balance in BALANCES, f"balance must be one of {', '.join(BALANCES)}"),
            (self.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}"),
            (self.loss_r > 0, "loss_r must be positive"),
            (self.bn_momentum is None or 0 <= self.bn_momentum < 1, "bn_momentum must lie in [0, 1)"),
            (dropout is None, dropout),
            (frame_dropout is None, frame_dropout),
            (colour_shift is None, colour_shift),
            (self.frame_dropout == 0 or self.view != "frame", FRAME_DROPOUT_NEEDS_MOSAIC),
            (self.average_from is None or (isinstance(self.average_from, int) and not isinstance(self.average_from, bool)
                                           and 1 <= self.average_from <= self.epochs),
             "average_from must be an epoch in 1..epochs"),
            (self.limit is None or self.limit >= 1, "limit must be at least 1"),
            (0 < self.val_fraction < 0.5 and 0 < self.test_fraction < 0.5, "val/test fractions must lie in (0, 0.5)"),
        ]
        for ok, message in checks:
            if not ok:
                raise SpecError(message)

    @property
    def from_scratch(self) -> bool:
        return self.base_weights == "none" and self.init_from is None

    @property
    def resolved_phase1_epochs(self) -> int:
        if self.phase1_epochs is not None:
            return self.phase1_epochs
        # A random backbone gains nothing from training the head on its features first; nor does a
        # trained NIMA, whose head already reads its backbone.
        return 0 if self.base_weights == "none" else min(2, self.epochs - 1)

    @property
    def resolved_lr(self) -> float:
        """Adam: 1e-3 from scratch, 1e-4 fine-tuning (pretrained backbone or --init-from); sgd-paper: the paper's 3e-7 for the backbone."""
        if self.lr is not None:
            return self.lr
        if self.optimizer == "sgd-paper":
            return 3e-7
        return 1e-3 if self.from_scratch else 1e-4

    @property
    def resolved_head_lr(self) -> float:
        """Adam: 1e-3; sgd-paper: the paper's 3e-6 (ten times the backbone's)."""
        if self.head_lr is not None:
            return self.head_lr
        return 3e-6 if self.optimizer == "sgd-paper" else 1e-3

    @property
    def resolved_bn_momentum(self) -> float | None:
        if self.bn_momentum is not None:
            return self.bn_momentum
        return 0.99 if self.base_weights == "none" else None

    @property
    def resolved_augment(self) -> str:
        if self.augment is not None:
            return self.augment
        # A document set must keep its page edges: their absence is what a label measures.
        return "flip" if self.format == "csv" or self.view != "frame" else "paper"

    def averaged_epochs(self, epochs_done: int) -> int:
        """How many of the first ``epochs_done`` epochs' weights the run's average holds."""
        return 0 if self.average_from is None else max(0, epochs_done - self.average_from + 1)

    @property
    def mirror_average(self) -> bool:
        """Trained on mirrored copies, so scored on the input and its mirror (the spec's field)."""
        return self.resolved_augment in MIRRORING_AUGMENTATIONS

    @property
    def label_files(self) -> tuple[str, ...]:
        return (self.data, *self.extra_data)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["extra_data"] = list(self.extra_data)
        if self.score_values is not None:
            data["score_values"] = list(self.score_values)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> TrainConfig:
        return cls(**strict_kwargs(cls, data, what="training config", error=SpecError, coerce=_CONFIG_COERCE))

    def save(self, path: str | Path) -> None:
        write_shared_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            data = parse_json(path.read_bytes(), MAX_CONFIG_BYTES)
        except (OSError, ValueError) as exc:
            raise SpecError(f"{path}: cannot read the training config ({exc})") from None
        try:
            return cls.from_dict(data)
        except SpecError as exc:
            raise SpecError(f"{path}: {exc}") from None


def _paths(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FieldProblem("must be a list of paths")
    return tuple(value)


# How each JSON field becomes a TrainConfig field (strict_kwargs); __post_init__ checks the values.
# Numbers pass through as they are: JSON's 1 is a valid float, but 1.0 no valid int.
_CONFIG_COERCE: dict[str, Coerce] = {
    "score_values": optional(float_tuple),
    "extra_data": _paths,
    **{name: of_kind((int, float), "must be a float") for name in ("alpha", "loss_r")},
    **{name: of_kind(int, "must be a int") for name in ("input_size", "epochs", "batch_size", "seed")},
}
