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


def _hull_by_definition(y, i_min):
    """The envelope from its definition: at each grid point the least chord value over all pairs
    of finite points around it (or the point itself)."""
    idx = [i for i in range(i_min, len(y)) if np.isfinite(y[i])]
    out = np.full(len(y), np.inf)
    out[:i_min] = y[:i_min]
    for x in range(idx[0], idx[-1] + 1) if idx else ():
        best = y[x] if np.isfinite(y[x]) else np.inf
        for a in idx:
            for b in idx:
                if a < x < b:
                    best = min(best, y[a] + (y[b] - y[a]) * (x - a) / (b - a))
        out[x] = best
    return out


@settings(max_examples=200, deadline=None)
@given(y=st.lists(st.one_of(st.floats(-1e3, 1e3), st.just(np.inf)), min_size=1, max_size=30),
       i_min=st.integers(0, 5))
def test_lower_convex_hull_is_the_greatest_convex_minorant(y, i_min):
    y = np.array(y)
    i_min = min(i_min, len(y))
    hull = lower_convex_hull(y, i_min)
    expected = _hull_by_definition(y, i_min)
    np.testing.assert_allclose(hull, expected, rtol=1e-9, atol=1e-9)
    finite = np.flatnonzero(np.isfinite(hull[i_min:])) + i_min
    assert (hull[finite] <= y[finite] + 1e-9).all()  # below the points, never above
    if finite.size >= 3:
        assert (np.diff(hull[finite[0]:finite[-1] + 1], 2) >= -1e-9).all()  # convex
