"""`nima bench`: the table arithmetic (fast) and one real run on the tiny model (slow)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from nima_edge.export.bench import BenchRow, markdown_table, summarise, with_ratios

from nima_edge.cli import cli


def test_summary_and_ratios_follow_the_keras_row_of_the_same_thread_count():
    keras = summarise("keras", 1, 8_000_000, {"times_ms": [10.0] * 18 + [50.0, 50.0], "wall_s": 0.4,
                                               "peak_rss_mb": 900.0})
    assert keras.median_ms == 10.0 and keras.p95_ms == 50.0 and keras.per_s == pytest.approx(50.0)
    int8 = BenchRow("int8", 1, 2.0, 2.5, 3.0, 400.0, 40.0)
    int8_2 = BenchRow("int8", 2, 2.0, 2.0, 2.2, 500.0, 40.0)
    keras_2 = BenchRow("keras", 2, 8.0, 5.0, 6.0, 200.0, 950.0)
    rows = with_ratios([keras, int8, keras_2, int8_2])
    assert rows[1].speedup_vs_keras == pytest.approx(4.0) and rows[1].size_vs_keras == pytest.approx(0.25)
    assert rows[3].speedup_vs_keras == pytest.approx(2.5)
    table = markdown_table(rows)
    assert "| int8 | 1 | 2.00 | 2.50 | 3.00 | 400.0 | 40 | 4.0x | 0.25 |" in table


def test_bench_refuses_an_unknown_format():
    result = CliRunner().invoke(cli, ["bench", "--formats", "int8,float64"])
    assert result.exit_code == 1
    assert "--formats: 'float64' cannot be benchmarked; choose from float32, float16, dynamic, int8" in result.output


@pytest.mark.slow
def test_bench_runs_every_path_in_its_own_process(tiny_model, captures):
    calib, _, _ = captures
    result = CliRunner().invoke(cli, ["bench", "--model", str(tiny_model), "--images", str(calib), "--count", "10",
                                      "--threads", "1", "--warmup", "1", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    paths = [row["path"] for row in report["rows"]]
    assert paths == ["keras", "float32", "float16", "dynamic", "int8", "laplacian"]
    rows = {row["path"]: row for row in report["rows"]}
    # TFLite rows ran without TensorFlow, so their peak RSS is far below the Keras process's
    assert not any(rows[f]["tensorflow_loaded"] for f in ("float32", "float16", "dynamic", "int8"))
    assert rows["keras"]["tensorflow_loaded"]
    assert rows["int8"]["peak_rss_mb"] < rows["keras"]["peak_rss_mb"] / 2
    assert rows["int8"]["size_mb"] < rows["float32"]["size_mb"] / 2
    assert report["machine"]["cores"] >= 1 and report["count"] == 10
