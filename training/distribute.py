"""Where training runs: one process, the CPU split into replicas, or a cluster of workers
(TF_CONFIG), and the collectives a multi-worker run needs that Keras's own fit() lacks."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from .checkpoints import TrainingError


def split_cpu(replicas: int) -> None:
    """Present the CPU as ``replicas`` logical devices (MirroredStrategy tests); call before TF starts."""
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


SINGLE_PROCESS = ClusterRole()  # no TF_CONFIG: one process, which is its own chief


def cluster_role(tf_config: str | None = None) -> ClusterRole:
    """The role TF_CONFIG (or ``tf_config``) gives this process; a single process without it."""
    text = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not text.strip():
        return SINGLE_PROCESS
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
    if name == "default":
        return tf.distribute.get_strategy()
    if (role or cluster_role()).multi_worker:
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=devices)


def synchronize_batchnorm(model) -> None:
    """BatchNorm statistics over the global batch. Keras creates the moving mean and variance
    without aggregation, so across workers each would follow its own shard of every batch and the
    workers' models would drift apart (the chief saving statistics of half the data)."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True


def distributed_train_step(model, strategy):
    """``model.train_step`` on every replica, its loss averaged over them: one tf.function, traced
    once a phase. Keras 3.15's own fit() fails under MultiWorkerMirroredStrategy: it reduces its
    first batch and its scalar logs with ``strategy.reduce(..., axis=0)``, which that strategy
    cannot do ("Attempt to convert a value (PerReplica...", "Invalid reduction dimension 0")."""
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
    @tf.function
    def gather():
        return tf.distribute.get_replica_context().all_gather(tf.constant([float(value)], tf.float32), axis=0)

    local = strategy.experimental_local_results(strategy.run(gather))[0]
    return [float(v) for v in local.numpy()]
