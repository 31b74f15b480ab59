"""The convex-search tools of the full-bill DP: a 1-D minimiser and a lower convex envelope."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvbess.optimize.convex_search import lower_convex_hull, minimise_convex


@settings(max_examples=200, deadline=None)
@given(vertex=st.floats(0.0, 100.0), left=st.floats(0.1, 500.0), right=st.floats(0.1, 500.0),
       x0=st.floats(0.0, 100.0), step=st.floats(0.01, 10.0))
def test_v_shaped_function_minimised_to_its_vertex(vertex, left, right, x0, step):
    calls = []

    def f(x):
        calls.append(x)
        return left * (vertex - x) if x < vertex else right * (x - vertex)

    x, fx = minimise_convex(f, x0, 0.0, 100.0, step, tol=1e-3, eps=1e-6)
    # it stops on its certificate (f(x) - min f <= eps) or with the minimum bracketed within tol
    assert fx <= 1e-6 + 1e-12 or abs(x - vertex) <= 1e-3
    assert len(calls) <= 40


@settings(max_examples=100, deadline=None)
@given(a=st.floats(-50.0, 150.0), x0=st.floats(0.0, 100.0))
def test_smooth_convex_function_and_bounds(a, x0):
    def f(x):
        return (x - a) ** 2

    x, fx = minimise_convex(f, x0, 0.0, 100.0, 1.0, tol=1e-4, eps=1e-6)
    best = min(max(a, 0.0), 100.0)  # the minimum on [0, 100]
    assert 0.0 <= x <= 100.0
    assert fx <= f(best) + 1e-6 or abs(x - best) <= 1e-4


def test_flat_bottom_returns_a_point_on_it():
    def f(x):
        return max(0.0, 3.0 - x, x - 7.0)

    x, fx = minimise_convex(f, 0.0, 0.0, 10.0, 0.5, tol=1e-6, eps=1e-9)
    assert fx == pytest.approx(0.0, abs=1e-9) and 3.0 - 1e-9 <= x <= 7.0 + 1e-9


def test_lower_convex_hull():
    y = np.array([4.0, 1.0, 3.0, 0.0, 2.0, np.inf])
    hull = lower_convex_hull(y)
    np.testing.assert_allclose(hull[:5], [4.0, 1.0, 0.5, 0.0, 2.0])
    assert hull[5] == np.inf
    assert (hull[:5] <= y[:5] + 1e-12).all()
    d2 = np.diff(hull[:5], 2)
    assert (d2 >= -1e-12).all()
    # below the window (i_min) the values are kept as they are
    hull = lower_convex_hull(y, i_min=2)
    np.testing.assert_allclose(hull[:2], y[:2])
    np.testing.assert_allclose(hull[2:5], [3.0, 0.0, 2.0])
