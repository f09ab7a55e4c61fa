"""Archive scoring on a real Spark (local[2], a JVM): the rows equal `nima score --json` on the
same files, corrupt ones included, and ranking keeps what `nima rank` keeps."""
from __future__ import annotations

import json
import os
import shutil
import sys

import pytest
from click.testing import CliRunner

from nima_edge.cli import cli

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java 17 on PATH (apt-get install openjdk-17-jre-headless)", allow_module_level=True)

# After the skip: pyarrow comes with the spark extra.
import pyarrow.parquet as pq
from nima_edge.archive.records import FIELDS
from nima_edge.archive.spark import NO_PATH, SCHEMA, prepare_scoring, rank, score_files, score_paths

pytestmark = [pytest.mark.timeout(300),
              # createDataFrame asks for pandas (pandas 3 is not "fully supported" yet); nothing here uses it
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def spark():
    """One local[2] session for the module; `nima spark-score` below finds it (getOrCreate)."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2]").appName("nima-archive-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", "16")  # several batches per task
               .getOrCreate())
    yield session
    session.stop()


@pytest.fixture(scope="module")
def expected(archive, float_model) -> dict[str, dict]:
    """`nima score --json` on the archive folder, by path, cut to the archive's fields."""
    result = run("score", archive, archive / "missing.jpg", "--json", "--model", float_model)
    assert result.exit_code == 2  # the corrupt files and the missing one
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {line["path"]: {name: line.get(name) for name in FIELDS} for line in lines}


def test_the_schema_is_the_json_contract():
    assert tuple(SCHEMA.fieldNames()) == FIELDS == ("path", "mean", "std", "distribution", "verdict", "reasons",
                                                     "error")


def test_spark_rows_of_paths_equal_nima_score_json(spark, expected, float_model):
    paths = [*expected, None]  # a null path too: its own row, not a failed job
    frame = spark.createDataFrame([(p,) for p in paths], "path string")
    rows = [row.asDict() for row in score_paths(frame, prepare_scoring(spark, float_model)).collect()]
    assert len(rows) == len(paths)
    assert [r for r in rows if r["path"] is None] == [{**dict.fromkeys(FIELDS), "error": NO_PATH}]
    assert {r["path"]: r for r in rows if r["path"] is not None} == expected
    errors = {path.rsplit("/", 1)[-1] for path, row in expected.items() if row["error"]}
    assert errors == {"missing.jpg", "empty.png", "noise.jpg", "tiny.jpg", "truncated.jpg"}


def test_nima_spark_score_writes_the_rows_of_nima_score(spark, archive, expected, float_model, tmp_path):
    out = tmp_path / "scores.parquet"
    result = run("spark-score", "--master", "local[2]", archive, "--out", out, "--model", float_model)
    assert result.exit_code == 2, result.output  # as `nima score`: some files could not be scored
    scored = len(expected) - 5
    assert f"{scored + 3} images: {scored} scored (" in result.stderr and f"3 could not be scored -> {out}" in result.stderr
    rows = pq.read_table(out).to_pylist()
    # Not in Spark's listing: missing.jpg was only named on nima score's command line, and Spark's
    # file sources pass over empty files (docs/spark.md).
    unlisted = {str(archive / "missing.jpg"), str(archive / "bad" / "empty.png")}
    assert {r["path"]: r for r in rows} == {p: row for p, row in expected.items() if p not in unlisted}
    assert not any(name.startswith(".") for name in os.listdir(tmp_path))  # no staging left behind


def test_top_and_min_score_keep_what_nima_rank_keeps(spark, archive, float_model, tmp_path):
    means = sorted(row["mean"] for row in pq.read_table(_full_output(archive, float_model, tmp_path)).to_pylist()
                   if row["error"] is None)
    floor = means[len(means) // 2]
    ranked = run("rank", archive, "--model", float_model, "--top", 7, "--min-score", floor, "--out",
                 tmp_path / "rank.json")
    assert ranked.exit_code == 2  # the corrupt files
    nima_rank = [(r["path"], r["mean"]) for r in json.loads((tmp_path / "rank.json").read_text())]
    out = tmp_path / "top.parquet"
    result = run("spark-score", archive, "--out", out, "--model", float_model, "--top", 7, "--min-score", floor)
    assert result.exit_code == 2
    rows = pq.read_table(out).to_pylist()
    assert [(r["path"], r["mean"]) for r in rows] == nima_rank
    assert len(rows) == 7 and all(r["mean"] >= floor and r["error"] is None for r in rows)


def _full_output(archive, model, folder):
    out = folder / "all.parquet"
    assert run("spark-score", archive, "--out", out, "--model", model).exit_code == 2
    return out


def test_ranking_a_dataframe_drops_errors_and_orders_ties_by_path(spark, archive, float_model):
    from nima_edge.archive.spark import read_images

    scores = score_files(read_images(spark, [str(archive / "bad"), str(archive / "a")]),
                         prepare_scoring(spark, float_model, threshold=1.0))
    kept = rank(scores, min_score=1.0).collect()
    assert kept and all(r["error"] is None and r["verdict"] == "ok" for r in kept)
    assert [(-r["mean"], r["path"]) for r in kept] == sorted((-r["mean"], r["path"]) for r in kept)


def test_an_existing_output_is_kept_unless_forced(spark, archive, float_model, tmp_path):
    out = tmp_path / "scores.parquet"
    out.mkdir()
    (out / "keep.txt").write_text("someone's earlier output")
    refused = run("spark-score", archive / "bad", "--out", out, "--model", float_model)
    assert refused.exit_code == 1 and f"Error: {out}: already exists (use --force to overwrite)" in refused.output
    assert (out / "keep.txt").is_file()
    forced = run("spark-score", archive / "a", "--out", out, "--model", float_model, "--force")
    assert forced.exit_code == 0, forced.output
    assert not (out / "keep.txt").exists() and pq.read_table(out).num_rows == 150


def test_a_model_that_is_no_nima_stops_before_any_image_is_read(spark, archive, tiny_models, tmp_path):
    result = run("spark-score", archive, "--out", tmp_path / "x.parquet", "--model", tiny_models["wrong_output"])
    assert result.exit_code == 1 and result.output.startswith(f"Error: {tiny_models['wrong_output']}: ")
    outside = run("spark-score", archive, "--out", tmp_path / "x.parquet", "--model", tiny_models["float"],
                  "--threshold", 11)
    assert outside.exit_code == 1 and "threshold 11 is outside the model's score range 1..10" in outside.output
    assert not (tmp_path / "x.parquet").exists()


def test_a_location_that_does_not_exist_is_one_error_line(spark, float_model, tmp_path):
    result = run("spark-score", tmp_path / "nowhere", "--out", tmp_path / "x.parquet", "--model", float_model)
    assert result.exit_code == 1 and result.output.startswith("Error: cannot list the images: ")
    assert "nowhere" in result.output and len(result.output.strip().splitlines()) == 1
