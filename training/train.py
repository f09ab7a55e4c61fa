"""The fit loop: two phases (head only, then all layers), a checkpoint every epoch, resumable.

RUN_DIR layout:
  config.json        the TrainConfig (reloads; unknown keys are errors)
  model.keras        the best model by validation EMD (r=1), with its NimaSpec inside
  history.csv        one row per epoch
  metrics.json       the test split's figures for model.keras
  checkpoints/       last.weights.h5 + last_optimizer.npz + state.json, rewritten after each epoch
  cache/             the preprocessed images (.npy), reused by --resume and later runs
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nima_edge.runtime.errors import NimaError
from nima_edge.runtime.fileio import OutputError

from . import metrics as M
from .config import TrainConfig, default_threshold, write_shared_text
from .data import Samples, read_datasets, split_indices
from .model import (
    HEAD_LAYERS,
    NimaSpec,
    build_nima,
    check_base_weights,
    copy_matching_weights,
    load_nima,
    read_spec,
    save_nima,
    set_backbone_trainable,
    set_batchnorm_momentum,
)
from .pipeline import cache_images, defect_balance_weights, make_dataset, stored_size, targets_of

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ("epoch", "phase", "loss", "val_emd", "val_lcc", "val_srcc", "lr", "seconds")


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


def split_cpu(replicas: int) -> None:
    """Present the CPU as ``replicas`` logical devices (MirroredStrategy tests); call before TF starts."""
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * replicas)
    except RuntimeError:
        raise TrainingError("cannot split the CPU into logical devices: TensorFlow is already initialised") from None


@dataclass(frozen=True)
class ClusterRole:
    """This process's task in the cluster TF_CONFIG describes (training across hosts)."""

    tasks: int = 1  # chief + workers
    task_type: str = "worker"
    index: int = 0
    has_chief_task: bool = False

    @property
    def multi_worker(self) -> bool:
        return self.tasks > 1

    @property
    def is_chief(self) -> bool:
        # TensorFlow's convention: the "chief" task, or worker 0 when the cluster names none.
        return self.task_type == "chief" or (self.task_type == "worker" and self.index == 0
                                             and not self.has_chief_task)

    @property
    def name(self) -> str:
        return f"{self.task_type}-{self.index}"

    def run_folder(self, out: Path) -> Path:
        """The chief writes RUN_DIR; every other worker its own copy beside it (RUN_DIR.worker-1),
        so two processes never write one file, and each resumes from its own checkpoints."""
        return out if self.is_chief else out.with_name(f"{out.name}.{self.name}")


def cluster_role(tf_config: str | None = None) -> ClusterRole:
    """The role TF_CONFIG (or ``tf_config``) gives this process; a single process without it."""
    text = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not text.strip():
        return ClusterRole()
    try:
        document = json.loads(text)
        cluster, task = document.get("cluster", {}), document.get("task", {})
        tasks = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
        role = ClusterRole(tasks=tasks, task_type=str(task.get("type", "worker")), index=int(task.get("index", 0)),
                           has_chief_task=bool(cluster.get("chief")))
    except (ValueError, AttributeError, TypeError) as exc:
        raise TrainingError(f"TF_CONFIG is not a cluster description ({exc}); see docs/training.md") from None
    if role.multi_worker and role.task_type not in ("chief", "worker"):
        raise TrainingError(f"TF_CONFIG task type {role.task_type!r}: nima train runs as a chief or worker task")
    return role


def make_strategy(name: str, role: ClusterRole | None = None):
    """default -> the current strategy; mirrored -> MirroredStrategy, or MultiWorkerMirroredStrategy
    when TF_CONFIG names several tasks (training across hosts)."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if (role or cluster_role()).multi_worker:
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=devices)


def make_optimizer(config: TrainConfig, phase: int, steps_per_epoch: int):
    import keras

    if config.optimizer == "adam":
        if phase == 1 or config.lr_schedule == "constant":
            return keras.optimizers.Adam(config.resolved_head_lr if phase == 1 else config.resolved_lr)
        # The step count lives in the optimizer state, which checkpoints keep, so a resumed run
        # continues the same curve.
        phase2_steps = (config.epochs - config.resolved_phase1_epochs) * max(1, steps_per_epoch)
        return keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
            config.resolved_lr, decay_steps=max(1, phase2_steps), alpha=0.05))
    # The paper: SGD, momentum 0.9, 3e-6 head / 3e-7 backbone, x0.95 every 10 epochs.
    schedule = keras.optimizers.schedules.ExponentialDecay(
        config.resolved_head_lr, decay_steps=10 * max(1, steps_per_epoch), decay_rate=0.95, staircase=True)
    return _scaled_sgd_class()(learning_rate=schedule, momentum=0.9,
                               backbone_scale=config.resolved_lr / config.resolved_head_lr)


def _scaled_sgd_class():
    import keras

    class BackboneScaledSGD(keras.optimizers.SGD):
        """SGD whose backbone gradients are scaled: with momentum SGD, scaling a gradient by k is
        exactly a learning rate k times smaller, which is how the paper's two rates are applied."""

        def __init__(self, backbone_scale: float = 0.1, **kwargs):
            super().__init__(**kwargs)
            self.backbone_scale = float(backbone_scale)

        def apply(self, grads, trainable_variables=None):
            variables = trainable_variables if trainable_variables is not None else self._trainable_variables
            grads = [g if g is None or v.path.split("/")[0] in HEAD_LAYERS else g * self.backbone_scale
                     for g, v in zip(grads, variables)]
            return super().apply(grads, trainable_variables)

        def get_config(self):
            return {**super().get_config(), "backbone_scale": self.backbone_scale}

    return BackboneScaledSGD


def compile_model(model, config: TrainConfig, phase: int, steps_per_epoch: int, with_defects: bool) -> None:
    import keras

    from .losses import EMDLoss

    set_backbone_trainable(model, phase == 2)
    losses = {"distribution": EMDLoss(r=config.loss_r)}
    weights = {"distribution": 1.0}
    if with_defects:
        # Severities 0..1 are soft targets for the per-defect sigmoids.
        losses["defects"] = keras.losses.BinaryCrossentropy()
        weights["defects"] = config.defect_weight
    model.compile(optimizer=make_optimizer(config, phase, steps_per_epoch), loss=losses, loss_weights=weights,
                  jit_compile=False)
    # Build the slots now (inside the strategy scope) so a checkpoint's state can be assigned.
    model.optimizer.build(model.trainable_variables)


class Run:
    """One training run in RUN_DIR: prepares data, fits epoch by epoch, checkpoints, evaluates."""

    def __init__(self, config: TrainConfig, out: Path, echo: Callable[[str], None],
                 role: ClusterRole = ClusterRole()):
        self.config = config
        self.out = out
        self.echo = echo
        self.role = role
        self.ckpt_dir = out / "checkpoints"
        self.state_path = self.ckpt_dir / "state.json"

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
                            shuffle=shuffle, seed=self.config.seed, view=self.config.view, weights=weights)

    # ---- fitting ----------------------------------------------------------------------------
    def fit(self, resume: bool, strategy, time_budget_min: float | None = None) -> RunState:
        import keras

        c = self.config
        keras.utils.set_random_seed(c.seed)
        steps = -(-len(self.train) // c.batch_size)
        state = RunState.load(self.state_path) if resume and self.state_path.is_file() else RunState()
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
        compiled_phase = step = None
        started = time.monotonic()
        verbose = 1 if sys.stderr.isatty() else 2
        for epoch in range(state.epochs_done, c.epochs):
            phase = 1 if epoch < phase1 else 2
            if phase != compiled_phase:
                with strategy.scope():
                    compile_model(model, c, phase, steps, self.with_defects)
                if epoch == state.epochs_done and state.epochs_done:
                    self.restore_checkpoint(model, restore_optimizer=(epoch < phase1) == (epoch - 1 < phase1))
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
            self.append_history({"epoch": epoch + 1, "phase": phase, "loss": loss,
                                 "val_emd": val["emd"], "val_lcc": val["lcc"], "val_srcc": val["srcc"],
                                 "lr": _current_lr(model), "seconds": time.monotonic() - epoch_start})
            self.save_checkpoint(model, state)
            self.echo(f"epoch {epoch + 1}/{c.epochs}: loss {loss:.4f}  val EMD {val['emd']:.4f}  "
                      f"LCC {_fmt(val['lcc'])}  SRCC {_fmt(val['srcc'])}" + ("  (best, saved)" if improved else ""))
            if self.budget_used(strategy, time_budget_min, time.monotonic() - started):
                self.echo(f"time budget of {time_budget_min:g} min used after epoch {epoch + 1}: stopping "
                          f"(--resume continues)")
                break
        state.finished = state.epochs_done >= c.epochs
        state.save(self.state_path)
        return state

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

    def append_history(self, row: dict) -> None:
        path = self.out / "history.csv"
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

    def save_checkpoint(self, model, state: RunState) -> None:
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        weights = self.ckpt_dir / "last.weights.h5"
        tmp = self.ckpt_dir / ".next.weights.h5"
        model.save_weights(tmp, overwrite=True)
        opt_tmp = self.ckpt_dir / ".next_optimizer.npz"
        with opt_tmp.open("wb") as handle:
            np.savez(handle, *[np.asarray(v.numpy()) for v in model.optimizer.variables])
        # Weights, optimizer state, then the state file: the state file names a complete set.
        os.replace(tmp, weights)
        os.replace(opt_tmp, self.ckpt_dir / "last_optimizer.npz")
        state.save(self.state_path)

    def restore_checkpoint(self, model, restore_optimizer: bool) -> None:
        with warnings.catch_warnings():
            # Keras also stores the optimizer in .weights.h5 and warns when a new phase's optimizer
            # differs; the optimizer state is restored from last_optimizer.npz below instead.
            warnings.simplefilter("ignore", UserWarning)
            model.load_weights(self.ckpt_dir / "last.weights.h5")
        if not restore_optimizer:
            return  # the run stopped at the phase boundary: phase 2 starts with a fresh optimizer
        saved = np.load(self.ckpt_dir / "last_optimizer.npz")
        arrays = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        variables = model.optimizer.variables
        if len(arrays) != len(variables):
            raise TrainingError(f"{self.ckpt_dir}: optimizer checkpoint has {len(arrays)} variables, "
                                f"the model needs {len(variables)}")
        for variable, value in zip(variables, arrays):
            variable.assign(value)

    # ---- test -------------------------------------------------------------------------------
    def evaluate_best(self) -> dict:
        from .evaluate import evaluate_predictions
        from .model import load_nima

        model, spec = load_nima(self.out / "model.keras")
        dataset = self.dataset("test", shuffle=False)
        outputs = _predict(model, dataset)
        figures = evaluate_predictions(self.test, outputs["distribution"], spec,
                                       outputs.get("defects"))
        figures["split"] = {"train": len(self.train), "val": len(self.val), "test": len(self.test)}
        write_shared_text(self.out / "metrics.json", json.dumps(figures, indent=1) + "\n")
        save_nima(model, spec.replace(provenance={**spec.provenance, "test": _headline(figures)}),
                  self.out / "model.keras", force=True)
        return figures


def synchronize_batchnorm(model) -> None:
    """BatchNorm statistics over the global batch. Keras creates the moving mean and variance
    without aggregation, so across workers each would follow its own shard of every batch and the
    workers' models would drift apart (the chief saving statistics of half the data)."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True


def distributed_train_step(model, strategy):
    """``model.train_step`` on every replica, its loss averaged over them: one tf.function, traced
    once a phase. Keras 3.15's own fit() fails under MultiWorkerMirroredStrategy: it reduces its
    first batch and its scalar logs with ``strategy.reduce(..., axis=0)``, which that strategy
    cannot do ("Attempt to convert a value (PerReplica...", "Invalid reduction dimension 0")."""
    import tensorflow as tf

    @tf.function
    def step(batch):
        logs = strategy.run(model.train_step, args=(batch,))
        return strategy.reduce(tf.distribute.ReduceOp.MEAN, logs["loss"], axis=None)

    return step


def fit_epoch_across_workers(step, model, strategy, dataset) -> float:
    """One pass over ``dataset`` split across the workers (each computes its share of every
    global batch); the epoch's mean loss, as fit() reports it."""
    model.reset_metrics()
    loss = float("nan")
    for batch in strategy.experimental_distribute_dataset(dataset):
        loss = float(step(batch))  # the running mean of the epoch: the last one is the epoch's
    return loss


def across_workers(strategy, value: float) -> list[float]:
    """``value`` of every replica in the cluster, gathered (one collective: every worker must call it)."""
    import tensorflow as tf

    @tf.function
    def gather():
        return tf.distribute.get_replica_context().all_gather(tf.constant([float(value)], tf.float32), axis=0)

    local = strategy.experimental_local_results(strategy.run(gather))[0]
    return [float(v) for v in local.numpy()]


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


def prepare_run_dir(config: TrainConfig, out: Path, resume: bool, force: bool) -> TrainConfig:
    """Check RUN_DIR; on --resume of an existing run, the stored config wins."""
    stored = out / "config.json"
    if resume and stored.is_file():
        return TrainConfig.load(stored)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise OutputError(f"{out}: run folder exists and is not empty (use --resume to continue it "
                              f"or --force to start over)")
        for name in ("model.keras", "history.csv", "metrics.json", "config.json"):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    config.save(stored)
    return config


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
    if resume and run.state_path.is_file():
        state = RunState.load(run.state_path)
        if state.finished and (out / "metrics.json").is_file():
            echo(f"{out}: run already complete ({state.epochs_done} epochs); nothing to do")
            return json.loads((out / "metrics.json").read_text())
    run.prepare_data()
    strategy = make_strategy(config.strategy, role)
    if config.strategy != "default":
        echo(f"strategy {type(strategy).__name__} over {strategy.num_replicas_in_sync} replicas")
    state = run.fit(resume, strategy, time_budget_min)
    figures = run.evaluate_best()
    figures["epochs_done"] = state.epochs_done
    figures["finished"] = state.finished
    write_shared_text(out / "metrics.json", json.dumps(figures, indent=1) + "\n")
    echo(f"test: EMD {figures['emd']:.4f}  LCC {_fmt(figures['lcc_mean'])}  SRCC {_fmt(figures['srcc_mean'])}  "
         f"binary accuracy {figures['binary_accuracy']:.3f} (n={figures['n']}) -> {out / 'model.keras'}")
    return figures
