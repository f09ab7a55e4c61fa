"""RUN_DIR: the run folder `nima train` writes, its run state, and the checkpoint it resumes from.

RUN_DIR layout:
  config.json        the TrainConfig (reloads; unknown keys are errors)
  model.keras        the best model by validation EMD (r=1), or the averaged one (average_from), with its NimaSpec
  history.csv        one row per epoch
  metrics.json       the test split's figures for model.keras
  checkpoints/       last.weights.h5 + last_optimizer.npz + state.json, rewritten after each epoch;
                     average.npz, the running mean of the weights, when the run averages them
  cache/             the preprocessed images (.npy), reused by --resume and later runs

No TensorFlow here: a checkpoint is written and read through the model's own methods.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nima_edge.runtime.errors import NimaError
from nima_edge.runtime.fileio import OutputError

from .config import TrainConfig, write_shared_text

HISTORY_COLUMNS = ("epoch", "phase", "loss", "val_emd", "val_lcc", "val_srcc", "lr", "seconds")
RUN_FILES = ("model.keras", "history.csv", "metrics.json", "config.json")  # what --force removes


class TrainingError(NimaError):
    """A run directory or set-up that cannot be trained."""


@dataclass
class RunState:
    """What the last finished epoch left behind; checkpoints/state.json."""

    epochs_done: int = 0
    best_val_emd: float = float("inf")
    best_epoch: int = 0
    finished: bool = False

    @classmethod
    def load(cls, path: Path) -> RunState:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**data)

    def save(self, path: Path) -> None:
        write_shared_text(path, json.dumps(self.__dict__, indent=1))


class Checkpoints:
    """RUN_DIR/checkpoints: the weights, optimizer state and RunState of the last finished epoch."""

    def __init__(self, out: Path):
        self.folder = out / "checkpoints"
        self.state_path = self.folder / "state.json"
        self.average_path = self.folder / "average.npz"

    def has_state(self) -> bool:
        return self.state_path.is_file()

    def load_state(self) -> RunState:
        return RunState.load(self.state_path)

    def save_state(self, state: RunState) -> None:
        state.save(self.state_path)

    def save(self, model, state: RunState, average: list[np.ndarray] | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / ".next.weights.h5"
        model.save_weights(tmp, overwrite=True)
        opt_tmp = self.folder / ".next_optimizer.npz"
        with opt_tmp.open("wb") as handle:
            np.savez(handle, *[np.asarray(v.numpy()) for v in model.optimizer.variables])
        average_tmp = self.folder / ".next_average.npz"
        if average is not None:
            with average_tmp.open("wb") as handle:
                np.savez(handle, *average)
        # Weights, optimizer state, average, then the state file: the state file names a complete set.
        os.replace(tmp, self.folder / "last.weights.h5")
        os.replace(opt_tmp, self.folder / "last_optimizer.npz")
        if average is not None:
            os.replace(average_tmp, self.average_path)
        self.save_state(state)

    def load_average(self, count: int) -> list[np.ndarray] | None:
        """The running mean of ``count`` epochs' weights, or None when it is of none."""
        if not count:
            return None
        if not self.average_path.is_file():
            raise TrainingError(f"{self.state_path}: the run has averaged {count} epochs, "
                                f"but {self.average_path} is missing")
        saved = np.load(self.average_path)
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]

    def restore(self, model, restore_optimizer: bool) -> None:
        with warnings.catch_warnings():
            # Keras also stores the optimizer in .weights.h5 and warns when a new phase's optimizer
            # differs; the optimizer state is restored from last_optimizer.npz below instead.
            warnings.simplefilter("ignore", UserWarning)
            model.load_weights(self.folder / "last.weights.h5")
        if not restore_optimizer:
            return  # the run stopped at the phase boundary: phase 2 starts with a fresh optimizer
        saved = np.load(self.folder / "last_optimizer.npz")
        arrays = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        variables = model.optimizer.variables
        if len(arrays) != len(variables):
            raise TrainingError(f"{self.folder}: optimizer checkpoint has {len(arrays)} variables, "
                                f"the model needs {len(variables)}")
        for variable, value in zip(variables, arrays):
            variable.assign(value)


def append_history(out: Path, row: dict) -> None:
    """Add one epoch's row to RUN_DIR/history.csv."""
    path = out / "history.csv"
    rows = []
    if path.is_file():
        with path.open(newline="") as handle:
            # A resumed run replays from the checkpoint: drop rows of epochs it will redo.
            rows = [r for r in csv.DictReader(handle) if int(r["epoch"]) < row["epoch"]]
    rows.append({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_shared_text(path, buffer.getvalue())


def write_metrics(out: Path, figures: dict) -> None:
    write_shared_text(out / "metrics.json", json.dumps(figures, indent=1) + "\n")


def read_metrics(out: Path) -> dict | None:
    """The figures of a finished run, or None when it has none yet."""
    path = out / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


def prepare_run_dir(config: TrainConfig, out: Path, resume: bool, force: bool) -> TrainConfig:
    """Check RUN_DIR; on --resume of an existing run, the stored config wins."""
    stored = out / "config.json"
    if resume and stored.is_file():
        return TrainConfig.load(stored)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise OutputError(f"{out}: run folder exists and is not empty (use --resume to continue it "
                              f"or --force to start over)")
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    config.save(stored)
    return config
