"""Small tools for convex functions known by their values: a 1-D minimiser and a lower envelope.

Used by :mod:`pvbess.optimize.cap_search` to search demand-charge caps (each value of the
function is a DP) and to build the value of a month's start energy from a few sampled cap
choices. The minimiser is plain Python on floats (the work is in the function evaluations);
the envelope's scan is compiled (a scheduler builds one per re-plan).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["lower_convex_hull", "minimise_convex"]


def minimise_convex(f, x0: float, lo: float, hi: float, step: float, tol: float, eps: float
                    ) -> tuple[float, float]:
    """Minimum of a convex, piecewise-linear-like ``f`` on ``[lo, hi]``.

    A bracket is grown from ``x0`` (downhill steps tripling from ``step``); then each step
    bounds ``f`` from below on the intervals next to the best point(s) with the secants beyond
    their ends (for a convex ``f`` the secant through two points, extended beyond them, lies
    below ``f``) and evaluates ``f`` where that bound is lowest. The search stops when the best
    value is within ``eps`` of the bound (a certificate, up to the noise of ``f``) or those
    intervals are narrower than ``tol``. For a V-shaped ``f`` (two linear pieces) the vertex is
    found exactly once both pieces are known. Returns ``(x, f(x))``.
    """
    x0 = min(max(x0, lo), hi)
    pts: dict[float, float] = {}

    def fx(x: float) -> float:
        if x not in pts:
            pts[x] = f(x)
        return pts[x]

    fb = fx(x0)
    xr = min(x0 + step, hi)
    xl = max(x0 - step, lo)
    direction = 0.0
    # (a neighbour closer than tol is no information: secants over it are rounding noise)
    if xr - x0 > 0.5 * tol and fx(xr) < fb:
        direction, c, fc = 1.0, xr, pts[xr]
    elif x0 - xl > 0.5 * tol and fx(xl) < fb:
        direction, c, fc = -1.0, xl, pts[xl]
    if direction:
        s = step
        while True:  # walk downhill until f rises or the bound is reached
            s *= 3.0
            xn = min(max(c + direction * s, lo), hi)
            if xn == c or fx(xn) >= fc:
                break
            c, fc = xn, pts[xn]
    for _ in range(60):
        xs = sorted(pts)
        fs = [pts[x] for x in xs]
        best_f = min(fs)
        # the points at the minimum (a run: f is convex) and the intervals next to them, where
        # the minimum lies; on each, a lower bound from the secants beyond its ends (for a
        # convex f the secant through two points, extended beyond them, lies below f)
        run = [q for q in range(len(xs)) if fs[q] <= best_f]
        best_x = xs[run[0]]
        bound = best_f
        cand = None
        for j in range(max(run[0] - 1, 0), min(run[-1] + 1, len(xs) - 1)):
            u, w = xs[j], xs[j + 1]
            if w - u <= tol:
                continue
            lines = []
            # (over at least tol / 10: a much shorter secant is rounding noise of f)
            if j >= 1 and u - xs[j - 1] >= 0.1 * tol:
                lines.append(_secant(xs[j - 1], fs[j - 1], u, fs[j]))
            if j + 2 < len(xs) and xs[j + 2] - w >= 0.1 * tol:
                lines.append(_secant(w, fs[j + 1], xs[j + 2], fs[j + 2]))
            lb, at = _max_lines_min(lines, u, w)
            if lb < bound:
                bound, cand = lb, (at, u, w)
        if cand is None or best_f - bound <= eps:
            return best_x, best_f
        at, u, w = cand
        # keep the new point off the interval's ends (a point too close teaches little)
        margin = 0.1 * (w - u)
        x_new = u + 0.5 * (w - u) if at is None else min(max(at, u + margin), w - margin)
        if x_new in pts:
            return best_x, best_f
        fx(x_new)
    xs = sorted(pts)
    i = int(np.argmin([pts[x] for x in xs]))
    return xs[i], pts[xs[i]]


def _secant(x1: float, f1: float, x2: float, f2: float) -> tuple[float, float]:
    """The line through two points as ``(slope, intercept)``."""
    slope = (f2 - f1) / (x2 - x1)
    return slope, f1 - slope * x1


def _max_lines_min(lines: list[tuple[float, float]], u: float, w: float
                   ) -> tuple[float, float | None]:
    """``min over [u, w] of max(lines)`` and where it is (``-inf, None`` without lines)."""
    if not lines:
        return -np.inf, None
    cands = [u, w]
    if len(lines) == 2:
        (s1, b1), (s2, b2) = lines
        if s1 != s2:
            x = (b2 - b1) / (s1 - s2)
            if u < x < w:
                cands.append(x)
    vals = [max(sl * x + b for sl, b in lines) for x in cands]
    q = int(np.argmin(vals))
    return vals[q], cands[q]


@njit(cache=True)
def _hull_points(y, i_min):
    """The grid points ``i >= i_min`` of the lower convex hull of the finite ``y[i]``, in order
    (a monotone-chain scan)."""
    hull = np.empty(y.shape[0], dtype=np.int64)
    m = 0
    for i in range(i_min, y.shape[0]):
        if not np.isfinite(y[i]):
            continue
        while m >= 2:
            i0, i1 = hull[m - 2], hull[m - 1]
            # drop i1 if it lies on or above the chord i0 -> i
            if (y[i1] - y[i0]) * (i - i0) >= (y[i] - y[i0]) * (i1 - i0):
                m -= 1
            else:
                break
        hull[m] = i
        m += 1
    return hull[:m]


def lower_convex_hull(y: np.ndarray, i_min: int = 0) -> np.ndarray:
    """The lower convex envelope of ``y`` on the window's grid ``i_min..n`` (inf entries are
    ignored; states below the window, where the value is not convex, are kept as they are)."""
    hull = _hull_points(y, i_min)
    if not hull.size:
        return y.copy()
    out = np.full_like(y, np.inf)
    out[:i_min] = y[:i_min]
    lo, hi = int(hull[0]), int(hull[-1])
    out[lo:hi + 1] = np.interp(np.arange(lo, hi + 1, dtype=float), hull.astype(float), y[hull])
    return out
