"""EMD against hand-computed values; LCC/SRCC against scipy; the Gaussian label conversion."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nima_edge.training import metrics as M
from nima_edge.training.data import gaussian_distribution
from scipy import stats


def test_emd_identical_is_zero():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    assert M.emd(p, p) == pytest.approx(0.0, abs=1e-12)
    assert M.emd(p, p, r=2) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("p", "q", "r", "expected"),
    [
        # One unit of mass moved one bin over 2 bins: CDFs differ in 1 of 2 positions.
        ([1, 0], [0, 1], 1, 0.5),
        ([1, 0, 0], [0, 1, 0], 1, 1 / 3),
        ([1, 0, 0], [0, 1, 0], 2, math.sqrt(1 / 3)),
        # Moved two bins: CDFs differ by 1 at two of three positions.
        ([1, 0, 0], [0, 0, 1], 1, 2 / 3),
        ([1, 0, 0], [0, 0, 1], 2, math.sqrt(2 / 3)),
        # Half the mass moved one bin: CDF difference 0.5 at one of four positions.
        ([0.5, 0.5, 0, 0], [0, 1, 0, 0], 1, 0.5 / 4),
        # Vote counts are normalised first.
        ([2, 0], [0, 5], 1, 0.5),
    ],
)
def test_emd_known_shifts(p, q, r, expected):
    assert M.emd(np.array(p, float), np.array(q, float), r=r) == pytest.approx(expected, abs=1e-12)


def test_emd_is_per_row_and_symmetric():
    p = np.array([[1, 0, 0], [0, 1, 0]], float)
    q = np.array([[0, 0, 1], [0, 1, 0]], float)
    np.testing.assert_allclose(M.emd(p, q), [2 / 3, 0.0], atol=1e-12)
    np.testing.assert_allclose(M.emd(q, p), M.emd(p, q))


def test_emd_rejects_mismatched_bins():
    with pytest.raises(ValueError, match="bins"):
        M.emd(np.ones(3), np.ones(4))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-20, 20), st.integers(-20, 20)), min_size=3, max_size=40))
def test_lcc_and_srcc_match_scipy(pairs):
    x = np.array([a for a, _ in pairs], float)
    y = np.array([b for _, b in pairs], float)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        assert math.isnan(M.lcc(x, y))
        return
    assert M.lcc(x, y) == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-9)
    assert M.srcc(x, y) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-9)  # ties included


def test_binary_accuracy_counts_sides_of_threshold():
    assert M.binary_accuracy([6, 4, 5, 2], [7, 6, 5, 1], threshold=5) == pytest.approx(0.75)


@pytest.mark.parametrize("values", [tuple(range(1, 11)), tuple(range(10)), tuple(range(1, 6)), tuple(range(100))])
def test_gaussian_label_reproduces_mean_and_std(values):
    lo, hi = values[0], values[-1]
    spacing = 1.0
    for mean in (lo + 0.3 * (hi - lo), (lo + hi) / 2, lo + 0.8 * (hi - lo)):
        std = 0.1 * (hi - lo) + 0.5
        p = gaussian_distribution(mean, std, values)
        assert p.sum() == pytest.approx(1.0, abs=1e-5)
        got_mean, got_std = M.mean_std(p, values)
        assert got_mean == pytest.approx(mean, abs=1e-3 * spacing)
        assert got_std == pytest.approx(std, abs=1e-3 * spacing)


def test_gaussian_label_at_the_edge_keeps_the_mean():
    p = gaussian_distribution(1.2, 1.5, range(1, 11))
    assert M.mean_std(p, range(1, 11))[0] == pytest.approx(1.2, abs=1e-3)
