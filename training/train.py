"""The fit loop: two phases (head only, then all layers), a checkpoint every epoch, resumable.

What it writes to RUN_DIR, and the checkpoints it resumes from, are checkpoints.py; where it runs
(replicas, workers) is distribute.py; the optimizers and compile step are optimizers.py.
"""
from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from . import metrics as M
from .checkpoints import (
    Checkpoints,
    RunState,
    TrainingError,
    append_history,
    prepare_run_dir,
    read_metrics,
    write_metrics,
)
from .config import TrainConfig, default_threshold
from .data import Samples, read_datasets, split_indices
from .dataset import make_dataset
from .distribute import (
    SINGLE_PROCESS,
    ClusterRole,
    across_workers,
    cluster_role,
    distributed_train_step,
    fit_epoch_across_workers,
    make_strategy,
    split_cpu,
    synchronize_batchnorm,
)
from .evaluate import evaluate_predictions
from .model import (
    build_nima,
    check_base_weights,
    copy_matching_weights,
    load_nima,
    save_nima,
    set_batchnorm_momentum,
)
from .optimizers import compile_model
from .pipeline import cache_images, defect_balance_weights, stored_size, targets_of
from .spec import NimaSpec, read_spec

log = logging.getLogger(__name__)

class Run:
    """One training run in RUN_DIR: prepares data, fits epoch by epoch, checkpoints, evaluates."""

    def __init__(self, config: TrainConfig, out: Path, echo: Callable[[str], None],
                 role: ClusterRole = SINGLE_PROCESS):
        self.config = config
        self.out = out
        self.echo = echo
        self.role = role
        self.checkpoints = Checkpoints(out)

    # ---- data -----------------------------------------------------------------------------
    def prepare_data(self) -> None:
        c = self.config
        samples = read_datasets(c.label_files, c.format, c.images, c.score_values, c.limit)
        # Skipped rows and images were already reported once, by the reader.
        self.echo(f"{len(samples)} labelled images from {', '.join(c.label_files)}")
        if c.defect_head and samples.defects is None:
            raise TrainingError(f"{c.data}: --defect-head needs defect_<name> columns in the labels")
        if c.balance == "defects" and samples.defects is None:
            raise TrainingError(f"{c.data}: --balance defects needs defect_<name> columns in the labels")
        self.with_defects = bool(samples.defect_labels) if c.defect_head is None else c.defect_head
        train_i, val_i, test_i = split_indices(len(samples), c.seed, (1 - c.val_fraction - c.test_fraction,
                                                                      c.val_fraction, c.test_fraction))
        if len(val_i) == 0 or len(train_i) == 0:
            raise TrainingError(f"{c.data}: {len(samples)} usable images are too few to split into train/val/test")
        augment = c.resolved_augment
        cache = self.out / "cache"
        started = time.monotonic()
        self.train, self.train_images = cache_images(samples.subset(train_i), stored_size(c.input_size, augment),
                                                     cache, progress=self.echo, view=c.view)
        self.val, self.val_images = cache_images(samples.subset(val_i), c.input_size, cache, view=c.view)
        self.test, self.test_images = cache_images(samples.subset(test_i), c.input_size, cache, view=c.view)
        self.echo(f"split {len(self.train)}/{len(self.val)}/{len(self.test)} (train/val/test, seed {c.seed}); "
                  f"images ready in {time.monotonic() - started:.1f}s")
        self.samples = samples
        values = samples.score_values
        self.spec = NimaSpec(
            backbone=c.backbone, alpha=c.alpha, input_size=c.input_size, score_values=values, dropout=c.dropout,
            view=c.view,
            defect_labels=samples.defect_labels if self.with_defects else (),
            threshold=c.threshold if c.threshold is not None else default_threshold(values),
            mirror_average=c.mirror_average,
            provenance={"data": ", ".join(c.label_files), "format": c.format, "base_weights": c.base_weights,
                        "run_dir": str(self.out), "seed": c.seed,
                        **({"init_from": c.init_from} if c.init_from else {})})

    def dataset(self, part: str, shuffle: bool):
        samples: Samples = getattr(self, part)
        images = getattr(self, f"{part}_images")
        # Only training is weighted: validation and test figures stay those of the data as it is.
        weights = defect_balance_weights(samples.defects) if shuffle and self.config.balance == "defects" else None
        return make_dataset(images, targets_of(samples, self.with_defects), self.config.input_size,
                            self.config.batch_size, self.config.resolved_augment if shuffle else "none",
                            shuffle=shuffle, seed=self.config.seed, view=self.config.view, weights=weights,
                            frame_dropout=self.config.frame_dropout,
                            colour_shift=self.config.colour_shift)

    # ---- fitting ----------------------------------------------------------------------------
    def fit(self, resume: bool, strategy, time_budget_min: float | None = None) -> RunState:
        c = self.config
        keras.utils.set_random_seed(c.seed)
        steps = -(-len(self.train) // c.batch_size)
        state = self.checkpoints.load_state() if resume and self.checkpoints.has_state() else RunState()
        if self.role.multi_worker:
            self.check_same_start(strategy, state.epochs_done)
        if state.epochs_done:
            self.echo(f"resuming after epoch {state.epochs_done}/{c.epochs} "
                      f"(best val EMD {state.best_val_emd:.4f} at epoch {state.best_epoch})")
        with strategy.scope():
            model = build_nima(self.spec, "none" if state.epochs_done else c.base_weights)
            if c.init_from and not state.epochs_done:
                self.start_from(model, Path(c.init_from))
            if c.resolved_bn_momentum is not None:
                set_batchnorm_momentum(model, c.resolved_bn_momentum)
        if self.role.multi_worker:
            synchronize_batchnorm(model)
        train_ds = self.dataset("train", shuffle=True)
        val_ds = self.dataset("val", shuffle=False)
        phase1 = c.resolved_phase1_epochs
        average = self.checkpoints.load_average(c.averaged_epochs(state.epochs_done))
        compiled_phase = step = None
        started = time.monotonic()
        verbose = 1 if sys.stderr.isatty() else 2
        for epoch in range(state.epochs_done, c.epochs):
            phase = 1 if epoch < phase1 else 2
            if phase != compiled_phase:
                with strategy.scope():
                    compile_model(model, c, phase, steps, self.with_defects)
                if epoch == state.epochs_done and state.epochs_done:
                    self.checkpoints.restore(model, restore_optimizer=(epoch < phase1) == (epoch - 1 < phase1))
                compiled_phase = phase
                step = distributed_train_step(model, strategy) if self.role.multi_worker else None
                self.echo(f"phase {phase}: {'head only' if phase == 1 else 'all layers'}")
            epoch_start = time.monotonic()
            if step is None:
                loss = model.fit(train_ds, epochs=epoch + 1, initial_epoch=epoch, verbose=verbose,
                                 shuffle=False).history["loss"][-1]  # tf.data shuffles
            else:
                loss = fit_epoch_across_workers(step, model, strategy, train_ds)
            val = self.validate(model, val_ds)
            state.epochs_done = epoch + 1
            improved = val["emd"] < state.best_val_emd
            if improved:
                state.best_val_emd, state.best_epoch = val["emd"], epoch + 1
                save_nima(model, self.spec.replace(provenance={**self.spec.provenance, "epoch": epoch + 1,
                                                               "val_emd": val["emd"]}),
                          self.out / "model.keras", force=True)
            append_history(self.out, {"epoch": epoch + 1, "phase": phase, "loss": loss,
                                 "val_emd": val["emd"], "val_lcc": val["lcc"], "val_srcc": val["srcc"],
                                 "lr": _current_lr(model), "seconds": time.monotonic() - epoch_start})
            if c.averaged_epochs(epoch + 1):
                average = _add_to_mean(average, model.get_weights(), c.averaged_epochs(epoch))
            self.checkpoints.save(model, state, average)
            self.echo(f"epoch {epoch + 1}/{c.epochs}: loss {loss:.4f}  val EMD {val['emd']:.4f}  "
                      f"LCC {_fmt(val['lcc'])}  SRCC {_fmt(val['srcc'])}" + ("  (best, saved)" if improved else ""))
            if self.budget_used(strategy, time_budget_min, time.monotonic() - started):
                self.echo(f"time budget of {time_budget_min:g} min used after epoch {epoch + 1}: stopping "
                          f"(--resume continues)")
                break
        state.finished = state.epochs_done >= c.epochs
        self.checkpoints.save_state(state)
        if state.finished and average is not None:
            self.save_average(model, average, state, val_ds)
        return state

    def save_average(self, model, average: list[np.ndarray], state: RunState, val_ds) -> None:
        """Make the run's model the mean of the weights after each epoch from average_from on
        (stochastic weight averaging, Izmailov et al. 2018): a flatter point of the same valley than any one epoch,
        which is what a model judged on photos from sources it never saw asks for (Cha et al.
        2021). It replaces the best single epoch whatever its validation EMD; both are said."""
        model.set_weights(average)
        val = self.validate(model, val_ds)
        first = self.config.average_from
        save_nima(model, self.spec.replace(provenance={**self.spec.provenance, "epoch": self.config.epochs,
                                                       "averaged_epochs": [first, self.config.epochs],
                                                       "val_emd": val["emd"]}),
                  self.out / "model.keras", force=True)
        self.echo(f"model: the mean of epochs {first}-{self.config.epochs}'s weights, val EMD {val['emd']:.4f} "
                  f"(the best single epoch, {state.best_epoch}: {state.best_val_emd:.4f})")

    def check_same_start(self, strategy, epochs_done: int) -> None:
        """Refuse a resume where the workers' checkpoints are of different epochs: each would run
        another number of steps and the first unmatched collective would wait for ever."""
        starts = sorted({int(v) for v in across_workers(strategy, epochs_done)})
        if len(starts) > 1:
            raise TrainingError(f"{self.out}: the workers resume after different epochs ({', '.join(map(str, starts))}); "
                                f"copy the chief's checkpoints/ into every worker's run folder, then --resume")

    def budget_used(self, strategy, budget_min: float | None, elapsed_s: float) -> bool:
        """Whether the time budget is used up; across workers, as soon as any one's is, so all
        stop after the same epoch (a worker that went on alone would wait for the others)."""
        used = budget_min is not None and elapsed_s > 60 * budget_min
        if not self.role.multi_worker:
            return used
        return max(across_workers(strategy, float(used))) > 0

    def start_from(self, model, path: Path) -> None:
        """Copy a trained NIMA's weights into the fresh ``model``; a head over other bins or other
        defect labels starts fresh, and is said so."""
        source, _ = load_nima(path)
        copied, kept = copy_matching_weights(source, model)
        if not copied:
            raise TrainingError(f"{path}: no layer matches this run's model; nothing to start from")
        note = f"; fresh: {', '.join(kept)}" if kept else ""
        self.echo(f"starting from {path}: {len(copied)} layers copied{note}")

    def validate(self, model, dataset) -> dict[str, float]:
        predicted = _predict_distribution(model, dataset)
        true = self.val.targets
        values = self.spec.score_values
        true_mean, _ = M.mean_std(true, values)
        pred_mean, _ = M.mean_std(predicted, values)
        return {"emd": float(np.mean(M.emd(true, predicted, r=1))),
                "lcc": _safe(M.lcc, true_mean, pred_mean), "srcc": _safe(M.srcc, true_mean, pred_mean)}

    # ---- test -------------------------------------------------------------------------------
    def evaluate_best(self) -> dict:
        model, spec = load_nima(self.out / "model.keras")
        dataset = self.dataset("test", shuffle=False)
        outputs = _predict(model, dataset)
        figures = evaluate_predictions(self.test, outputs["distribution"], spec,
                                       outputs.get("defects"))
        figures["split"] = {"train": len(self.train), "val": len(self.val), "test": len(self.test)}
        write_metrics(self.out, figures)
        save_nima(model, spec.replace(provenance={**spec.provenance, "test": _headline(figures)}),
                  self.out / "model.keras", force=True)
        return figures


def _add_to_mean(mean: list[np.ndarray] | None, weights: list[np.ndarray], count: int) -> list[np.ndarray]:
    """The mean of ``count`` weight sets, ``mean``, with one more set added."""
    if mean is None:
        return [np.array(w) for w in weights]
    # Counters such as a dropout layer's seed state are not weights to average: the latest stands.
    return [m + (w - m) / (count + 1) if np.issubdtype(w.dtype, np.floating) else np.array(w)
            for m, w in zip(mean, weights)]


def _images_only(images, labels):
    return images


def _predict(model, dataset) -> dict[str, np.ndarray]:
    outputs = model.predict(dataset.map(_images_only), verbose=0)
    return {k: np.asarray(v) for k, v in outputs.items()}


def _predict_distribution(model, dataset) -> np.ndarray:
    return _predict(model, dataset)["distribution"]


def _safe(func, x, y) -> float:
    try:
        return func(x, y)
    except ValueError:
        return float("nan")


def _fmt(value) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.3f}"


def _current_lr(model) -> float:
    try:
        return float(np.asarray(model.optimizer.learning_rate))
    except (TypeError, ValueError, AttributeError):
        return float("nan")


def _headline(figures: dict) -> dict:
    return {k: figures[k] for k in ("emd", "lcc_mean", "srcc_mean", "binary_accuracy", "n") if k in figures}


def check_init_from(config: TrainConfig) -> None:
    """Refuse, before any image is decoded, a starting model another network or view than the run's."""
    spec = read_spec(config.init_from)
    mine = (config.backbone, float(config.alpha), config.view)
    theirs = (spec.backbone, float(spec.alpha), spec.view)
    if mine != theirs:
        raise TrainingError(f"{config.init_from}: a {theirs[0]} alpha {theirs[1]:g} ({theirs[2]} view) cannot start "
                            f"a {mine[0]} alpha {mine[1]:g} ({mine[2]} view) run; pass the same --backbone, "
                            f"--alpha and --view")


def train(config: TrainConfig, out: str | Path, resume: bool = False, force: bool = False,
          echo: Callable[[str], None] = print, cpu_replicas: int = 0, time_budget_min: float | None = None) -> dict:
    """Train per ``config`` into RUN_DIR ``out``; returns the test figures (also in metrics.json).

    ``time_budget_min`` belongs to this invocation, not the run: training stops after the epoch
    that passes it, outputs are still written, and a later --resume continues.
    """
    role = cluster_role()
    out = role.run_folder(Path(out))
    if not role.is_chief:
        echo(f"{role.name} of {role.tasks} tasks: the chief writes the run folder; this worker's copy goes to {out}")
    if not (resume and (out / "config.json").is_file()):
        # Fail before any folder is made or image decoded when the base weights are not there.
        check_base_weights(NimaSpec(backbone=config.backbone, alpha=config.alpha, input_size=config.input_size),
                           config.base_weights)
        if config.init_from:
            check_init_from(config)
    given = config
    config = prepare_run_dir(config, out, resume, force)
    if config != given:
        changed = sorted(k for k, v in given.to_dict().items() if config.to_dict()[k] != v)
        echo(f"resuming with {out / 'config.json'}; ignoring the options that differ ({', '.join(changed)})")
    if cpu_replicas:
        split_cpu(cpu_replicas)
    run = Run(config, out, echo, role)
    if resume and run.checkpoints.has_state():
        state = run.checkpoints.load_state()
        finished = read_metrics(out) if state.finished else None
        if finished is not None:
            echo(f"{out}: run already complete ({state.epochs_done} epochs); nothing to do")
            return finished
    run.prepare_data()
    strategy = make_strategy(config.strategy, role)
    if config.strategy != "default":
        echo(f"strategy {type(strategy).__name__} over {strategy.num_replicas_in_sync} replicas")
    state = run.fit(resume, strategy, time_budget_min)
    figures = run.evaluate_best()
    figures["epochs_done"] = state.epochs_done
    figures["finished"] = state.finished
    write_metrics(out, figures)
    echo(f"test: EMD {figures['emd']:.4f}  LCC {_fmt(figures['lcc_mean'])}  SRCC {_fmt(figures['srcc_mean'])}  "
         f"binary accuracy {figures['binary_accuracy']:.3f} (n={figures['n']}) -> {out / 'model.keras'}")
    return figures
