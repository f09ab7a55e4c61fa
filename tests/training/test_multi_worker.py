"""Training across workers: two `nima train` processes on 127.0.0.1, one cluster in TF_CONFIG
(MultiWorkerMirroredStrategy), a tiny model; a chief killed after its first epoch and resumed."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from nima_edge.training.train import ClusterRole, TrainingError, cluster_role

EPOCHS = 3  # the resumed run's; the fast one trains 2
# A tiny network and 40 small pages (32/4/4 split), so that two TensorFlow processes sharing two cores finish fast.
TINY_RUN = ("--format", "csv", "--backbone", "mobilenet", "--alpha", "0.25", "--input-size", "32",
            "--batch-size", "8", "--limit", "40", "--bn-momentum", "0.8", "--strategy", "mirrored")
RUN_FILES = {"config.json", "history.csv", "metrics.json", "model.keras", "cache", "checkpoints"}


# ---------------------------------------------------------------- TF_CONFIG roles (no TensorFlow)
def _tf_config(task_type: str, index: int, workers: int = 2, chief: bool = False) -> str:
    cluster = {"worker": [f"127.0.0.1:{2000 + i}" for i in range(workers)]}
    if chief:
        cluster["chief"] = ["127.0.0.1:1999"]
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


def test_without_tf_config_a_process_is_its_own_chief():
    assert cluster_role("") == ClusterRole()
    assert cluster_role("").is_chief and not cluster_role("").multi_worker


def test_worker_0_is_the_chief_unless_the_cluster_names_one():
    assert cluster_role(_tf_config("worker", 0)).is_chief
    assert not cluster_role(_tf_config("worker", 1)).is_chief
    named = cluster_role(_tf_config("worker", 0, workers=1, chief=True))
    assert named.multi_worker and named.tasks == 2 and not named.is_chief
    assert cluster_role(_tf_config("chief", 0, workers=1, chief=True)).is_chief


def test_a_non_chief_writes_its_copy_beside_the_run_folder():
    out = Path("runs/doc")
    assert cluster_role(_tf_config("worker", 0)).run_folder(out) == out
    assert cluster_role(_tf_config("worker", 1)).run_folder(out) == Path("runs/doc.worker-1")


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"cluster": {"worker": 3}}'])
def test_a_tf_config_that_is_no_cluster_is_a_one_line_error(text):
    with pytest.raises(TrainingError, match="TF_CONFIG is not a cluster description"):
        cluster_role(text)


def test_an_evaluator_task_is_refused():
    with pytest.raises(TrainingError, match="task type 'evaluator'"):
        cluster_role(_tf_config("evaluator", 0))


# ---------------------------------------------------------------- two real workers
def _free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:  # all open at once, so the ports differ
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def _start_workers(labels: Path, out: Path, logs: Path, *extra: str) -> list[subprocess.Popen]:
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        log = (logs / f"worker-{index}.log").open("a")
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "nima_edge.cli", "train", "--data", str(labels), "--out", str(out), *TINY_RUN,
             *extra], stdout=log, stderr=subprocess.STDOUT, env=env))
        log.close()
    return workers


def _epochs_done(run: Path) -> int:
    try:
        return json.loads((run / "checkpoints" / "state.json").read_text())["epochs_done"]
    except (OSError, ValueError):
        return 0


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)  # no clean-up code runs
    process.wait()


def _weights(path: Path) -> dict[str, np.ndarray]:
    import h5py

    arrays: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: arrays.update({name: item[()]}) if isinstance(item, h5py.Dataset) else None)
    return arrays


@pytest.fixture(scope="module")
def two_worker_run(document_set, tmp_path_factory):
    """Two workers train one 2-epoch run to the end."""
    pytest.importorskip("tensorflow")
    root = tmp_path_factory.mktemp("cluster")
    out = root / "run"
    codes = [w.wait(timeout=400) for w in _start_workers(document_set, out, root, "--epochs", "2")]
    return out, codes, [(root / f"worker-{i}.log").read_text() for i in range(2)]


def _same_weights(run: Path) -> None:
    copy = run.with_name(f"{run.name}.worker-1")
    chief, worker = _weights(run / "checkpoints" / "last.weights.h5"), _weights(copy / "checkpoints" / "last.weights.h5")
    assert chief.keys() == worker.keys() and len(chief) > 50
    different = [name for name in chief if not np.array_equal(chief[name], worker[name])]
    assert different == []  # BatchNorm statistics included: they are synchronised across the workers
    optimizer = [np.load(folder / "checkpoints" / "last_optimizer.npz") for folder in (run, copy)]
    assert all(np.array_equal(optimizer[0][k], optimizer[1][k]) for k in optimizer[0].files)


def test_two_workers_train_one_run_to_the_end(two_worker_run):
    out, codes, logs = two_worker_run
    assert codes == [0, 0], logs[0][-3000:] + logs[1][-3000:]
    for log in logs:
        assert "strategy CollectiveAllReduceStrategy over 2 replicas" in log
    epochs = [int(line.split(",")[0]) for line in (out / "history.csv").read_text().strip().splitlines()[1:]]
    assert epochs == [1, 2]
    assert json.loads((out / "metrics.json").read_text())["epochs_done"] == 2
    # The two logged the same losses and validation figures: one model, trained on both.
    assert (out / "history.csv").read_text().split("\n")[1].split(",")[:6] == \
        (out.with_name("run.worker-1") / "history.csv").read_text().split("\n")[1].split(",")[:6]


def test_only_the_chief_writes_the_run_folder(two_worker_run):
    from nima_edge.training.model import read_spec

    out, _, logs = two_worker_run
    copy = out.with_name("run.worker-1")
    assert f"this worker's copy goes to {copy}" in logs[1]
    assert "this worker's copy" not in logs[0]
    assert {p.name for p in out.iterdir()} == RUN_FILES == {p.name for p in copy.iterdir()}
    # Each model names the folder of the process that wrote it.
    assert read_spec(out / "model.keras").provenance["run_dir"] == str(out)
    assert read_spec(copy / "model.keras").provenance["run_dir"] == str(copy)


def test_the_two_workers_end_with_identical_weights(two_worker_run):
    _same_weights(two_worker_run[0])


# Each start of the cluster costs TensorFlow's tracing of the training step, ~40 s a process on
# this 2-core machine, so the runs that start it twice are slow tests.
@pytest.mark.slow
def test_a_killed_chief_resumes_with_the_other_worker(document_set, tmp_path):
    """Once both have checkpointed epoch 1 the chief is killed (the other cannot go on without
    it and is stopped too); both start again with --resume and finish."""
    out = tmp_path / "run"
    workers = _start_workers(document_set, out, tmp_path, "--epochs", str(EPOCHS))
    deadline = time.monotonic() + 400
    try:
        while time.monotonic() < deadline and all(w.poll() is None for w in workers):
            if min(_epochs_done(out), _epochs_done(out.with_name("run.worker-1"))) >= 1:
                break
            time.sleep(0.05)
        killed_after = _epochs_done(out)
        running = [w.poll() is None for w in workers]
    finally:
        for worker in workers:
            _kill(worker)
    assert all(running) and 1 <= killed_after < EPOCHS, (tmp_path / "worker-0.log").read_text()[-3000:]
    codes = [w.wait(timeout=400) for w in _start_workers(document_set, out, tmp_path, "--resume")]
    logs = [(tmp_path / f"worker-{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], logs[0][-3000:] + logs[1][-3000:]
    for log in logs:
        assert f"resuming after epoch {killed_after}/{EPOCHS}" in log
    epochs = [int(line.split(",")[0]) for line in (out / "history.csv").read_text().strip().splitlines()[1:]]
    assert epochs == list(range(1, EPOCHS + 1))
    assert json.loads((out / "metrics.json").read_text())["epochs_done"] == EPOCHS
    _same_weights(out)


@pytest.mark.slow
def test_workers_stop_together_and_refuse_to_resume_from_different_epochs(document_set, tmp_path):
    """--time-budget 0: both stop after epoch 1, together; then one worker's checkpoint claims epoch 2."""
    pytest.importorskip("tensorflow")
    out = tmp_path / "run"
    copy = out.with_name("run.worker-1")
    first = _start_workers(document_set, out, tmp_path, "--epochs", "3", "--time-budget", "0")
    assert [w.wait(timeout=400) for w in first] == [0, 0]
    assert _epochs_done(out) == _epochs_done(copy) == 1
    state = copy / "checkpoints" / "state.json"
    state.write_text(json.dumps({**json.loads(state.read_text()), "epochs_done": 2}))
    assert [w.wait(timeout=400) for w in _start_workers(document_set, out, tmp_path, "--resume")] == [1, 1]
    for index in range(2):
        log = (tmp_path / f"worker-{index}.log").read_text()
        assert "the workers resume after different epochs (1, 2); copy the chief's checkpoints/" in log
