"""Pareto front: no point on it is dominated, every point off it is (checked by brute force)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvbess.studies.pareto import pareto_front


def _dominates(a, b):
    return a[0] <= b[0] and a[1] <= b[1] and (a[0] < b[0] or a[1] < b[1])


# small integer grids make ties and duplicates frequent; floats cover the general case
_values = st.one_of(st.integers(0, 6).map(float), st.floats(-1e6, 1e6), st.just(float("nan")))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_values, _values), max_size=40))
def test_front_is_exactly_the_non_dominated_set(points):
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    front = pareto_front(x, y)
    valid = [i for i in range(len(points)) if not (np.isnan(x[i]) or np.isnan(y[i]))]
    for i in range(len(points)):
        if i not in valid:
            assert not front[i]
            continue
        dominated = any(_dominates((x[j], y[j]), (x[i], y[i])) for j in valid)
        assert front[i] == (not dominated), (i, points)


def test_hand_case():
    #        A       B       C (dominated by B)  D (dominated by B)  E (duplicate of B)
    x = [1.0, 2.0, 3.0, 2.0, 2.0]
    y = [3.0, 1.0, 2.0, 2.0, 1.0]
    assert pareto_front(x, y).tolist() == [True, True, False, False, True]


def test_shape_errors_and_empty():
    assert pareto_front([], []).tolist() == []
    with pytest.raises(ValueError, match="equal length"):
        pareto_front([1.0, 2.0], [1.0])


def test_scales_to_a_million_points():
    rng = np.random.default_rng(0)
    x = rng.random(1_000_000)
    front = pareto_front(x, 1.0 - x + 0.01 * rng.random(x.size))
    assert 0 < front.sum() < x.size
