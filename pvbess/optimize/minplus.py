"""One backward step of the DP: ``V_k(i) = min_m f_k(m) + V_{k+1}(i + m)`` on the energy grid,
plus the period's exact breakpoint moves scored against the interpolated ``V_{k+1}``.

:func:`pvbess.optimize.dp._backward_into` runs one step per period: :func:`_convex_step` where
``f_k`` and ``V_{k+1}`` are convex (a monotone two-pointer sweep, linear time), else
:func:`_general_step` (every state x every move). Both take ``f`` on the move grid (``f[m -
mlo]`` for the grid moves ``m = mlo..mhi``, ``inf`` where infeasible) and the breakpoints as
``(q_j, q_w, q_f)``: a move of ``q_j + q_w`` grid steps (``0 < q_w < 1``) costing ``q_f``.

The sweeps write each value as the same sums in the same order as they always did (a step's
values are bit for bit those of the straightforward loops: tests/test_dp_kernels.py); the hot
loop indexes with unsigned integers, which numba does not wrap around (a negative index costs
two instructions per load otherwise).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _plus_lerp(f, a, b, w):
    """``f + a + w * (b - a)`` (in that order: the sums of the energy-only DP stay bit for bit
    what they were); ``inf`` where either end is infeasible, never NaN."""
    if a == np.inf or b == np.inf:
        return np.inf
    return f + a + w * (b - a)


@njit(cache=True)
def _convex_run(f, lo, hi):
    """``(a, b, convex)`` for ``f[lo:hi+1]``: the first and last finite index (``b < a`` if
    none) and whether the finite values form one run (the feasible set is an interval) on
    which ``f`` is convex (second differences >= ``-1e-9 * (1 + max |f|)``). One pass. A hard
    import cap can make idle infeasible, so the feasible run need not contain the idle move."""
    a = hi + 1
    b = lo - 1
    scale = 0.0
    interval = True
    d2min = np.inf
    for m in range(lo, hi + 1):
        x = f[m]
        if x < np.inf:
            if a > hi:
                a = m
            elif b != m - 1:
                interval = False
            b = m
            if abs(x) > scale:
                scale = abs(x)
            if m - 2 >= a and interval:
                d2min = min(d2min, x - 2.0 * f[m - 1] + f[m - 2])
    return a, b, interval and not d2min < -1e-9 * (1.0 + scale)


@njit(cache=True, inline="always")
def _run_step(x, scale, d2min, p1, p2):
    """:func:`_convex_run`'s flag on the way: ``(scale, d2min, p1, p2)`` after the next value
    ``x`` of a sequence (start from ``(0, inf, nan, nan)``: no second difference for the first
    two; the same expression as ``_convex_run``). Only where every value is finite: else
    ``scale`` ends inf and ``_convex_run`` has to run."""
    ax = abs(x)
    scale = ax if ax > scale else scale
    d2 = x - 2.0 * p1 + p2
    d2min = d2 if d2 < d2min else d2min
    return scale, d2min, x, p1


@njit(cache=True, inline="always")
def _run_flag(scale, d2min):
    """The convexity flag of :func:`_run_step`'s sums (``scale`` finite)."""
    return not d2min < -1e-9 * (1.0 + scale)


@njit(cache=True)
def _score_breakpoint(cur, nxt, jq, w, fq, i_min, n):
    """``cur[i] = min(cur[i], fq + V_{k+1}(i + jq + w))`` for the window states ``i >= i_min``
    whose target ``i + jq + w`` (grid steps, ``0 < w < 1``) lies in the window."""
    for i in range(max(i_min, i_min - jq), min(n, n - jq - 1) + 1):
        j = i + jq
        cand = _plus_lerp(fq, nxt[j], nxt[j + 1], w)
        cur[i] = min(cur[i], cand)


@njit(cache=True)
def _general_step(cur, nxt, f, mlo, mhi, n, i_min, q_j, q_w, q_f, nq):
    """``cur[i]`` (window states ``i >= i_min``) = the least of every feasible grid move and
    every breakpoint move; targets stay in the window."""
    for i in range(i_min, n + 1):
        best = np.inf
        jlo = max(i + mlo, i_min)
        jhi = min(i + mhi, n)
        for j in range(jlo, jhi + 1):
            cand = f[j - i - mlo] + nxt[j]
            best = min(best, cand)
        cur[i] = best
    for q in range(nq):
        _score_breakpoint(cur, nxt, q_j[q], q_w[q], q_f[q], i_min, n)


@njit(cache=True)
def _convex_step(cur, nxt, f, a, b, mlo, width, n, i_min, slot, full, q_j, q_w, q_f, nq):
    """``cur[i]`` (window states ``i >= i_min``) where ``f`` (feasible moves ``a..b``, one
    interval) and ``nxt`` are convex; returns whether ``cur`` is convex on the window
    (:func:`_convex_run`'s flag, computed on the way).

    ``f + V_{k+1}`` is convex in the move, so the best grid move ``j(i) - i`` follows a monotone
    pointer ``j`` (walked up while the next move is no worse), and a breakpoint can only beat it
    if it lies within one step of it: ``slot[m - mlo + 1]`` holds the breakpoint in ``(m, m +
    1)`` (-1: none; all -1 on entry and on return, ``len(slot) >= width + 2`` for the ``width``
    grid moves of ``f``); a second one in the same cell (``full``) is scored for every state.
    ``full``: room for ``nq`` flags.

    Notes
    -----
    A documented compiled kernel (over 100 lines would split its hot loop).
    """
    any_full = False
    for q in range(nq):
        at = q_j[q] - mlo + 1
        full[q] = not (0 <= at < width + 2 and slot[at] < 0)
        if full[q]:
            any_full = True
        else:
            slot[at] = q
    one = np.uint64(1)
    # _convex_run(cur, i_min, n)'s flag on the way (it runs after the sweep where a value is
    # inf or a breakpoint is scored for every state)
    scale, d2min, p1, p2 = 0.0, np.inf, np.nan, np.nan
    j = i_min
    for i in range(i_min, n + 1):
        jlo = max(i + a, i_min)
        jhi = min(i + b, n)
        if jlo > jhi:
            # no feasible grid move from this state (e.g. a forced discharge larger than the
            # energy above e_min): only the breakpoints may be feasible
            best = np.inf
            for q in range(nq):
                jj = i + q_j[q]
                if i_min <= jj < n:
                    cand = _plus_lerp(q_f[q], nxt[jj], nxt[jj + 1], q_w[q])
                    best = min(best, cand)
        else:
            j = max(j, jlo)
            j = min(j, jhi)
            # the walk, on unsigned indices: p = j - i - mlo
            p = np.uint64(j - i - mlo)
            uj = np.uint64(j)
            ujhi = np.uint64(jhi)
            best = f[p] + nxt[uj]
            while uj < ujhi:
                cand = f[p + one] + nxt[uj + one]
                if cand <= best:
                    best = cand
                    uj += one
                    p += one
                else:
                    break
            j = np.int64(uj)
            # breakpoints in (m - 1, m) and (m, m + 1), m = j - i
            q = slot[p]
            if q >= 0:
                jj = i + q_j[q]
                if jj >= i_min:
                    cand = _plus_lerp(q_f[q], nxt[jj], nxt[jj + 1], q_w[q])
                    best = min(best, cand)
            q = slot[p + one]
            if q >= 0:
                if j < n:
                    cand = _plus_lerp(q_f[q], nxt[j], nxt[j + 1], q_w[q])
                    best = min(best, cand)
        cur[i] = best
        scale, d2min, p1, p2 = _run_step(best, scale, d2min, p1, p2)
    for q in range(nq):
        if full[q]:
            _score_breakpoint(cur, nxt, q_j[q], q_w[q], q_f[q], i_min, n)
        else:
            slot[q_j[q] - mlo + 1] = -1
    if any_full or scale == np.inf:
        return _convex_run(cur, i_min, n)[2]
    return _run_flag(scale, d2min)
