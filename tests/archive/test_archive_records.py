"""The archive's row contract without Spark: one row per file, `nima score --json`'s fields."""
from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from nima_edge.archive.records import FIELDS, local_path, record_of, score_contents
from nima_edge.runtime.batch import score_paths
from nima_edge.runtime.errors import ModelError
from nima_edge.runtime.policy import Assessor
from nima_edge.runtime.scorer import Scorer


@pytest.fixture(scope="module")
def assessor(float_model) -> Assessor:
    return Assessor(Scorer(float_model, threads=1))


def test_a_file_uri_names_the_local_path_and_other_uris_stay():
    assert local_path("file:/data/a b.jpg") == "/data/a b.jpg"
    assert local_path("file:///data/a.jpg") == "/data/a.jpg"
    assert local_path("s3a://bucket/x/a.jpg") == "s3a://bucket/x/a.jpg"
    assert local_path("hdfs://nn:8020/x/a.jpg") == "hdfs://nn:8020/x/a.jpg"


def test_bytes_give_the_rows_of_the_same_files_read_from_disk(assessor, archive):
    paths = sorted(p for p in archive.rglob("*") if p.is_file() and p.suffix != ".txt")[:40]
    paths += sorted((archive / "bad").iterdir())
    on_disk = {str(r.path): record_of(str(r.path), r) for r in score_paths(assessor, paths, workers=2)}
    with ThreadPoolExecutor(2) as pool:
        from_bytes = {name: record_of(name, r)
                      for name, r in score_contents(assessor, [(str(p), p.read_bytes()) for p in paths], pool)}
    assert from_bytes == on_disk
    assert all(set(row) == set(FIELDS) for row in from_bytes.values())
    errors = {name: row["error"] for name, row in from_bytes.items() if row["error"]}
    assert set(errors) == {str(archive / name) for name in ("bad/truncated.jpg", "bad/noise.jpg", "bad/empty.png",
                                                             "bad/tiny.jpg")}
    assert errors[str(archive / "bad/empty.png")] == f"{archive / 'bad/empty.png'}: empty file"
    assert all(from_bytes[name]["mean"] is None for name in errors)


def test_a_row_keeps_the_uri_it_was_given(assessor, archive):
    good = (archive / "a/0001.jpg").read_bytes()
    with ThreadPoolExecutor(1) as pool:
        [(name, result)] = score_contents(assessor, [("s3a://bucket/a/0001.jpg", good)], pool)
    row = record_of(name, result)
    assert row["path"] == "s3a://bucket/a/0001.jpg" and row["error"] is None
    assert row["verdict"] in ("ok", "retake") and len(row["distribution"]) == 10


def test_a_broken_model_stops_the_batch_instead_of_blaming_each_file(tiny_models, archive):
    broken = Assessor(Scorer(tiny_models["negative_output"], threads=1))
    with ThreadPoolExecutor(1) as pool, pytest.raises(ModelError, match="not a probability distribution"):
        list(score_contents(broken, [("a.jpg", (archive / "a/0001.jpg").read_bytes())], pool))


def test_the_spark_module_never_imports_tensorflow():
    pytest.importorskip("pyspark")
    blocker = ("import sys\n"
               "class Block:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'):\n"
               "            raise ImportError(f'{name} is blocked')\n"
               "sys.meta_path.insert(0, Block())\n"
               "import nima_edge.archive.spark, nima_edge.cli.archive\n"
               "print(sorted(m for m in sys.modules if m.startswith(('tensorflow', 'keras'))))\n")
    done = subprocess.run([sys.executable, "-c", blocker], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
