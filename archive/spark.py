"""Scoring an archive on Apache Spark: the TFLite runtime inside every executor, never TensorFlow.

The driver checks the model (it loads, it is a NIMA, the threshold lies in its range) and
broadcasts its bytes, so each executor fetches them once. Every Python worker loads one
interpreter and keeps it for the tasks it runs (``spark.python.worker.reuse``, on by default).
Each Arrow batch of files is scored with ``mapInArrow``; every file gives one row of SCHEMA,
``nima score --json``'s fields, and a file that cannot be scored is a row with ``error`` set: one
bad upload among millions never fails the job. A broken model does (every file would fail alike).

    >>> scoring = prepare_scoring(spark, "models/default.tflite")
    >>> scores = score_files(read_images(spark, ["s3a://uploads/2024/"]), scoring)
    >>> write_scores(rank(scores, min_score=6), "s3a://reports/keep.parquet")

Run as ``python -m nima_edge.cli.archive`` or that file with spark-submit: the same options as
``nima spark-score`` (docs/spark.md).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pyarrow as pa
from nima_edge.archive.records import FIELDS, ArchiveError, local_path, record_of, score_contents
from nima_edge.runtime.batch import Result
from nima_edge.runtime.batch import score_paths as score_files_on_disk
from nima_edge.runtime.fileio import OutputError
from nima_edge.runtime.images import IMAGE_SUFFIXES
from nima_edge.runtime.policy import Assessor, threshold_problem
from nima_edge.runtime.scorer import Scorer
from pyspark import TaskContext
from pyspark.broadcast import Broadcast
from pyspark.errors import AnalysisException, PySparkRuntimeError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import ArrayType, DoubleType, StringType, StructField, StructType

_TYPES = {"path": StringType(), "mean": DoubleType(), "std": DoubleType(), "distribution": ArrayType(DoubleType()),
          "verdict": StringType(), "reasons": ArrayType(StringType()), "error": StringType()}
SCHEMA = StructType([StructField(name, _TYPES[name]) for name in FIELDS])
ARROW_SCHEMA = to_arrow_schema(SCHEMA)
# Files an Arrow batch carries to a Python worker at once. Spark's default (10,000 rows) would be
# gigabytes of photos; 64 phone photos are ~200 MB, enough to keep the decoding threads busy.
FILES_PER_BATCH = 64
NO_PATH = "a row without a path"
# pyspark warns about pandas 3 when a session starts and on every mapInArrow; no batch of ours
# goes through pandas.
_PANDAS_WARNING = "PySpark does not yet fully support pandas"


@dataclass(frozen=True)
class ArchiveScoring:
    """What every executor needs to score: the broadcast model and the decision's settings."""

    model: Broadcast  # the .tflite file's bytes
    model_name: str
    model_digest: str  # names the model in each worker's cache
    threshold: float | None = None  # None: the model's own
    checks: bool = True
    accept_damaged: bool = False


# ---------------------------------------------------------------- driver side
def spark_session(master: str | None = None, app_name: str = "nima spark-score") -> SparkSession:
    """The session to score with. Local Python workers run this interpreter, where nima-edge is
    installed (Spark's default, ``python3`` on PATH, may lack it); on a cluster
    spark.pyspark.python names theirs (docs/spark.md)."""
    builder = SparkSession.builder.appName(app_name).config(
        "spark.sql.execution.arrow.maxRecordsPerBatch", str(FILES_PER_BATCH))
    if master is not None:
        builder = builder.master(master)
    if _runs_locally(master):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # A local job talks to itself only: on the loopback, not the host's network address.
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    try:
        with _no_pandas_warning():
            return builder.getOrCreate()
    except PySparkRuntimeError as exc:  # no Java, or the JVM would not start
        raise ArchiveError(f"cannot start Spark ({_first_line(exc)}); it needs Java 17 (docs/spark.md)") from None


def _runs_locally(master: str | None) -> bool:
    if master is not None:
        return master.startswith("local")
    # Under spark-submit (which hands its JVM over in PYSPARK_GATEWAY_PORT) the master may be a
    # cluster's; started from plain Python without a master, Spark runs local[*].
    return "PYSPARK_GATEWAY_PORT" not in os.environ


@contextlib.contextmanager
def _no_pandas_warning() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)
        yield


def prepare_scoring(spark: SparkSession, model: str | os.PathLike | None = None, threshold: float | None = None,
                    checks: bool = True, accept_damaged: bool = False) -> ArchiveScoring:
    """Check the model here, before any executor starts, and broadcast it (None: the bundled model)."""
    scorer = Scorer(model, threads=1)  # ModelError: missing, not a TFLite model, not a NIMA
    problem = None if threshold is None else threshold_problem(threshold, scorer.metadata.score_values)
    if problem:
        raise ArchiveError(f"threshold {threshold:g} is {problem}")
    content = scorer.path.read_bytes()
    return ArchiveScoring(spark.sparkContext.broadcast(content), scorer.path.name, hashlib.sha256(content).hexdigest(),
                          threshold, checks, accept_damaged)


def image_glob() -> str:
    """A Hadoop glob of the runtime's image suffixes in any case: ``*.{[jJ][pP][gG],...}``."""
    def any_case(suffix: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in suffix.lstrip("."))

    return "*.{" + ",".join(any_case(s) for s in sorted(IMAGE_SUFFIXES)) + "}"


def read_images(spark: SparkSession, locations: Sequence[str]) -> DataFrame:
    """Spark's binaryFile source over files, folders (walked) and globs, local or any Hadoop
    filesystem (s3a://, hdfs://), keeping files with an image suffix. Like every Spark file source
    it passes over names that start with "." or "_", and empty files: those get no row."""
    try:
        return (spark.read.format("binaryFile").option("recursiveFileLookup", "true")
                .option("pathGlobFilter", image_glob()).load(list(locations)))
    except AnalysisException as exc:
        raise ArchiveError(f"cannot list the images: {_first_line(exc)}") from None


def score_files(files: DataFrame, scoring: ArchiveScoring) -> DataFrame:
    """Score a DataFrame with binaryFile's ``path`` and ``content`` columns -> rows of SCHEMA."""
    with _no_pandas_warning():
        return files.select("path", "content").mapInArrow(partial(_score_file_batches, scoring), SCHEMA)


def score_paths(paths: DataFrame, scoring: ArchiveScoring, column: str = "path") -> DataFrame:
    """Score a DataFrame of file paths that every executor can open (a shared mount) -> rows of
    SCHEMA; the rows are `nima score --json`'s for the same paths, errors included."""
    with _no_pandas_warning():
        return paths.select(F.col(column).cast("string").alias("path")).mapInArrow(
            partial(_score_path_batches, scoring), SCHEMA)


def rank(scores: DataFrame, top: int | None = None, min_score: float | None = None) -> DataFrame:
    """As `nima rank`: the scored rows, best first (ties by path), those at least ``min_score``,
    the first ``top``."""
    kept = scores.where(F.col("error").isNull())
    if min_score is not None:
        kept = kept.where(F.col("mean") >= float(min_score))
    kept = kept.orderBy(F.col("mean").desc(), F.col("path"))
    return kept.limit(top) if top is not None else kept


@dataclass(frozen=True)
class Tally:
    """What a job scored: rows, errors among them, retakes among the rest."""

    rows: int
    errors: int
    retakes: int

    @classmethod
    def of(cls, scores: DataFrame) -> Tally:
        row = scores.agg(F.count(F.lit(1)).alias("rows"),
                         F.count("error").alias("errors"),
                         F.count(F.when(F.col("verdict") == "retake", 1)).alias("retakes")).first()
        return cls(int(row["rows"]), int(row["errors"]), int(row["retakes"]))


class _Files:
    """The few Hadoop FileSystem calls that publish an output, so hdfs:// and s3a:// work as a local path does."""

    def __init__(self, spark: SparkSession, path: str):
        jvm = spark.sparkContext._jvm
        self._path = jvm.org.apache.hadoop.fs.Path
        self.fs = self._path(path).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(self._path(path)))

    def rename(self, source: str, target: str) -> bool:
        return bool(self.fs.rename(self._path(source), self._path(target)))

    def delete(self, path: str) -> None:
        self.fs.delete(self._path(path), True)


def check_output(spark: SparkSession, out: str | os.PathLike, force: bool = False) -> None:
    """Refuse an existing output unless ``force``; called before any image is scored."""
    out = os.fspath(out)
    if not force and _Files(spark, out).exists(out):
        raise OutputError(f"{out}: already exists (use --force to overwrite)")


def write_scores(scores: DataFrame, out: str | os.PathLike, force: bool = False) -> None:
    """Parquet at ``out``, whole or not at all: Spark writes it beside ``out`` under a temporary
    name, which is renamed into place once complete (a rename is atomic on HDFS and local disks;
    object stores copy)."""
    spark, out = scores.sparkSession, os.fspath(out)
    check_output(spark, out, force)
    files = _Files(spark, out)
    parent, name = out.rstrip("/").rsplit("/", 1) if "/" in out.rstrip("/") else (".", out)
    staging = f"{parent}/.{name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        scores.write.mode("error").parquet(staging)
        replaced = f"{staging}.old"
        if files.exists(out) and not files.rename(out, replaced):
            raise OutputError(f"{out}: cannot move the old output aside")
        if not files.rename(staging, out):
            raise OutputError(f"{out}: cannot rename {staging} into place")
        files.delete(replaced)
    finally:
        files.delete(staging)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# ---------------------------------------------------------------- executor side
# One Assessor (one interpreter) per Python worker and model: loading a model costs more than scoring a photo.
_ASSESSORS: dict[tuple, Assessor] = {}


def _cores() -> int:
    """The cores this task may use (spark.task.cpus); 1 outside a task."""
    context = TaskContext.get()
    return max(1, int(context.cpus())) if context is not None else 1


def _assessor(scoring: ArchiveScoring, threads: int) -> Assessor:
    key = (scoring.model_digest, scoring.threshold, scoring.checks, threads)
    if key not in _ASSESSORS:
        # The Scorer reads a file; it keeps the bytes, so the copy goes once loaded.
        with tempfile.TemporaryDirectory(prefix="nima-model-") as folder:
            path = Path(folder) / scoring.model_name
            path.write_bytes(scoring.model.value)
            scorer = Scorer(path, threads=threads)
        _ASSESSORS[key] = Assessor(scorer, threshold=scoring.threshold, checks=scoring.checks)
    return _ASSESSORS[key]


def _score_file_batches(scoring: ArchiveScoring, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    threads = _cores()
    assessor = _assessor(scoring, threads)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="nima-decode") as pool:
        for batch in batches:
            names = [local_path(uri) for uri in batch.column("path").to_pylist()]
            results = score_contents(assessor, zip(names, batch.column("content").to_pylist()), pool,
                                     scoring.accept_damaged)
            yield pa.RecordBatch.from_pylist([record_of(name, r) for name, r in results], schema=ARROW_SCHEMA)


def _score_path_batches(scoring: ArchiveScoring, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    threads = _cores()
    assessor = _assessor(scoring, threads)
    for batch in batches:
        paths = batch.column("path").to_pylist()
        scored = score_files_on_disk(assessor, [Path(p) for p in paths if p is not None], workers=threads,
                                     accept_damaged=scoring.accept_damaged)
        # A null path is that row's error, not the job's.
        rows = [record_of(p, next(scored)) if p is not None else record_of(None, Result(Path(), error=NO_PATH))
                for p in paths]
        yield pa.RecordBatch.from_pylist(rows, schema=ARROW_SCHEMA)
