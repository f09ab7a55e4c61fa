"""Streaming batch scoring: bounded memory, input order, bad files do not stop the batch."""
import cv2
import numpy as np
from nima_edge.runtime import Scorer
from nima_edge.runtime.batch import score_paths
from nima_edge.runtime.policy import Assessor
from runtime_pages import render_page


def test_ten_thousand_images_stream_with_bounded_memory(tmp_path, float_model):
    """10,000 inputs from a generator: never more than 2 x workers read ahead of the output.

    Boundedness is checked structurally at every result (how far the generator has been pulled),
    which holds for any folder size; memory then cannot grow with the number of files.
    """
    files = []
    for i in range(20):
        path = tmp_path / f"img{i:02d}.png"
        cv2.imwrite(str(path), render_page(64, 48, seed=i))
        files.append(path)
    (tmp_path / "broken.jpg").write_bytes(b"nope")
    consumed = 0

    def paths():
        nonlocal consumed
        for i in range(10_000):
            consumed += 1
            yield tmp_path / "broken.jpg" if i % 1000 == 7 else files[i % len(files)]

    assessor = Assessor(Scorer(float_model, threads=1), checks=False)
    results = score_paths(assessor, paths(), workers=2)
    first = next(results)
    assert consumed <= 5  # 2 x workers queued, plus the one being returned
    errors, count, order_ok, max_ahead = 0, 1, first.path == files[0], 0
    for index, result in enumerate(results, start=1):
        count += 1
        errors += result.error is not None
        order_ok &= result.path == (tmp_path / "broken.jpg" if index % 1000 == 7 else files[index % len(files)])
        max_ahead = max(max_ahead, consumed - index)
    assert count == 10_000 and errors == 10 and order_ok
    assert max_ahead <= 5


def test_results_keep_input_order_and_name_bad_files(tmp_path, float_model, page_files):
    bad = tmp_path / "bad.jpg"
    bad.write_text("text, not an image")
    inputs = [page_files["sharp"], bad, tmp_path / "missing.jpg", page_files["dark"]]
    results = list(score_paths(Assessor(Scorer(float_model, threads=1)), inputs, workers=2))
    assert [r.path for r in results] == inputs
    assert results[0].assessment is not None and results[3].assessment is not None
    assert results[1].error.startswith(str(bad)) and "not a readable image" in results[1].error
    assert results[2].error == f"{tmp_path / 'missing.jpg'}: no such file"


def test_tiny_image_is_refused_with_a_reason(tmp_path, float_model):
    path = tmp_path / "dot.png"
    cv2.imwrite(str(path), np.zeros((1, 1, 3), np.uint8))
    (result,) = score_paths(Assessor(Scorer(float_model, threads=1)), [path])
    assert result.error == f"{path}: image is 1x1 px, too small to judge (at least 32 px a side)"
