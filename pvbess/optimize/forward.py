"""The DP's forward pass: the plan replayed from the true (continuous) initial energy.

At each period the grid moves, idle, the window's bounds and the period's exact breakpoints
(:func:`pvbess.optimize.period._breakpoints`) are scored by their exact period cost plus the
linearly interpolated value ``V_{k+1}`` of the backward pass (:mod:`pvbess.optimize.dp`), in a
fixed order; the first candidate that beats the best so far by more than 1e-12 is kept.

Most grid moves cannot win, and two bounds skip them without running the meter. Between its
breakpoints a period's cost is affine (tests/test_optimize.py), so the chord between the two
breakpoints around a grid move, less a margin, bounds its cost from below (:func:`_chords`,
:func:`_move_cannot_win`). And ``block_min`` (:func:`_block_minima`, once per backward pass, kept
for the re-plans that reuse it: :mod:`pvbess.optimize.replan`) holds the least value of each
block of :data:`VALUE_BLOCK` grid states, so one test skips a whole block of grid moves
(:func:`_block_cannot_win`): the per-move test at the block's two ends with the block's least
value. Rounding is monotone, so that test holds only where the per-move test holds for every move
of the block: the moves taken are bit for bit those of the per-move scan, and of the scan that
runs every grid move through the meter (tests/test_dp_kernels.py).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..physics import move_range, removed_energy, stored_energy
from .period import _NBREAK, _breakpoints, _period, _period_inline

#: Grid states per block of :func:`_block_minima`: the forward pass skips a block of grid moves
#: with one test. 8 does the least work in the re-plans of an Iquitos day on a 913-state grid
#: (moves of up to 223 steps): 4, 16 and 32 do 1.4 %, 4.6 % and 6.7 % more.
VALUE_BLOCK = 8


@njit(cache=True)
def _interp(row, x, e_lo, h, n):
    """Linear interpolation of a grid function (linear extrapolation outside). [currency]"""
    p = (x - e_lo) / h
    if n == 0:
        return row[0]
    i = math.floor(p)
    if i < 0:
        i = 0
    elif i > n - 1:
        i = n - 1
    w = p - i
    if row[i] == np.inf or row[i + 1] == np.inf:
        if abs(w) < 1e-9:  # on a grid point (up to rounding): its value, even beside an inf one
            return row[i]
        if abs(w - 1.0) < 1e-9:
            return row[i + 1]
        return np.inf
    return row[i] + w * (row[i + 1] - row[i])


@njit(cache=True)
def _chords(xs, ys, slopes, nk):
    """Sort the knots ``(xs, ys)[:nk]`` of a period's cost by ``xs`` (in place), write the
    slopes of the chords between neighbours to ``slopes[:nk - 1]`` (``nan`` where two knots
    are closer than 1e-9 kWh) and return a margin [currency] that covers the rounding of the
    costs and of the chords."""
    for q in range(1, nk):  # insertion sort: at most _NBREAK + 3 knots
        x, y = xs[q], ys[q]
        r = q - 1
        while r >= 0 and xs[r] > x:
            xs[r + 1] = xs[r]
            ys[r + 1] = ys[r]
            r -= 1
        xs[r + 1] = x
        ys[r + 1] = y
    scale = 0.0
    for q in range(nk):
        scale = max(scale, abs(ys[q]))
        if q + 1 < nk:
            gap = xs[q + 1] - xs[q]
            slopes[q] = (ys[q + 1] - ys[q]) / gap if gap > 1e-9 else np.nan
    return 1e-8 * (1.0 + scale)


@njit(cache=True, inline="always")
def _grid_move(j, e_lo, h, e, lo, hi):
    """The move [kWh] from ``e`` to grid state ``j`` (``e_lo + j * h``), within ``[lo, hi]``;
    it rises with ``j`` (rounding is monotone)."""
    dl = e_lo + j * h - e
    dl = min(dl, hi)
    return max(dl, lo)


@njit(cache=True, inline="always")
def _move_cannot_win(dl, x0, x1, y0, sl, margin, value, thr):
    """Whether a move ``dl`` [kWh] in the chord ``x0 <= dl <= x1`` (cost at least ``y0 + sl *
    (dl - x0) - margin``; ``sl`` nan: no chord) plus ``value`` (``V_{k+1}`` at its target)
    cannot score below ``thr``."""
    return x0 <= dl <= x1 and y0 + sl * (dl - x0) - margin + value >= thr


@njit(cache=True, inline="always")
def _block_cannot_win(d_first, d_last, x0, x1, y0, sl, margin, low, thr):
    """Whether no move ``d_first <= dl <= d_last`` of a block whose targets' values are at least
    ``low`` can score below ``thr``: :func:`_move_cannot_win` at both ends with ``low``. The
    sums round monotonically (in ``dl``, either way by the sign of ``sl``, and in the value), so
    the test then holds for every move of the block with its own value."""
    return (_move_cannot_win(d_first, x0, x1, y0, sl, margin, low, thr)
            and _move_cannot_win(d_last, x0, x1, y0, sl, margin, low, thr))


@njit(cache=True)
def _block_minima(v):
    """``block_min[k, b]``: the least of ``v[k, i]`` over the states ``i`` of block ``b``
    (``b * VALUE_BLOCK <= i < (b + 1) * VALUE_BLOCK``). [currency]"""
    rows, states = v.shape
    blocks = (states + VALUE_BLOCK - 1) // VALUE_BLOCK
    block_min = np.empty((rows, blocks))
    for k in range(rows):
        for b in range(blocks):
            low = np.inf
            for i in range(b * VALUE_BLOCK, min(b * VALUE_BLOCK + VALUE_BLOCK, states)):
                x = v[k, i]
                low = x if x < low else low
            block_min[k, b] = low
    return block_min


@njit(cache=True)
def _replay(load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
            grid_charge, batt_export, curtail, icap, ipen, e_lo, h, n, v, e0, e_min, e_max):
    """:func:`_replay_blocks` with the block minima of ``v`` computed here (for a caller that
    replays each backward pass once)."""
    return _replay_blocks(load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
                          grid_charge, batt_export, curtail, icap, ipen, e_lo, h, n, v,
                          _block_minima(v), e0, e_min, e_max)


@njit(cache=True)
def _replay_blocks(load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear,
                   grid_charge, batt_export, curtail, icap, ipen, e_lo, h, n, v, block_min, e0,
                   e_min, e_max):
    """Forward pass from the true initial energy; returns the stored energy (T+1) and the
    period costs. ``block_min``: :func:`_block_minima` of ``v``.

    With hard import caps the interpolated ``V_{k+1}`` can be ``inf`` at every candidate (the
    continuous state lies next to the edge of the caps' feasible energies); the period then takes
    its feasible move that keeps the most energy. A period with no feasible move at all (a cap
    the battery cannot meet) idles and gets cost ``inf``: the caller sees the violation.

    Notes
    -----
    Each period scores its candidates in a fixed order and keeps the first that beats the best
    so far by more than 1e-12 (a score below ``thr``). Between its breakpoints the period cost
    is affine (tests/test_optimize.py), so once the candidates have been scored, the chord
    between the two breakpoints around a grid move, less a margin, bounds its cost from below:
    a grid move whose bound plus ``V_{k+1}`` is not below ``thr`` is not run through the meter
    (it would not have been taken). A block of grid moves in one chord is skipped at once when
    the bound at either end of the block plus the block's least ``V_{k+1}`` is not below
    ``thr``: the same sums, and rounding is monotone, so every move of the block would have been
    skipped at its turn (``thr`` only falls during the scan, and blocks are skipped only while
    it is finite: until then every feasible move counts for the fallback). Periods with an
    import cap or a curtailment choice at a negative buy price score every grid move. Grid
    moves are run through the meter inlined (a call costs as much as the meter). A documented
    compiled kernel (over 100 lines).
    """
    t_len = load.shape[0]
    soe = np.empty(t_len + 1)
    soe[0] = e0
    costs = np.zeros(t_len)
    cands = np.empty(_NBREAK + 3)
    xs = np.empty(_NBREAK + 3)
    ys = np.empty(_NBREAK + 3)
    slopes = np.empty(_NBREAK + 3)
    e = e0
    for k in range(t_len):
        lo, hi = move_range(e, e_min, e_max, stored_energy(cmax[k], eta_c),
                            removed_energy(dmax[k], eta_d))
        # exact candidate actions: idle, the period's breakpoints (cover the net load, absorb
        # the PV surplus, full feasible power, the ends of forced curtailment, ...) and the
        # window's bounds
        nc = _breakpoints(load[k], pv[k], xlim[k], ilim[k], acap[k], eta_c, eta_d, cmax[k],
                          dmax[k], grid_charge, batt_export, curtail,
                          cands, icap[k], ipen[k])
        cands[nc] = 0.0
        cands[nc + 1] = hi
        cands[nc + 2] = lo
        nc += 3
        best = np.inf
        best_d = 0.0
        best_c = 0.0
        fb_d = -np.inf  # fallback: the feasible move that keeps the most energy
        fb_c = np.inf
        nk = 0  # the feasible candidates: knots of the period cost
        for q in range(nc):
            dl = cands[q]
            dl = min(dl, hi)
            dl = max(dl, lo)
            pc = _period(dl, load[k], pv[k], buy[k], sell[k], xlim[k], ilim[k], acap[k], eta_c,
                         eta_d, cmax[k], dmax[k], wear, grid_charge, batt_export, curtail,
                         icap[k], ipen[k])[0]
            if pc == np.inf:
                continue
            xs[nk] = dl
            ys[nk] = pc
            nk += 1
            if dl > fb_d:
                fb_d = dl
                fb_c = pc
            s = pc + _interp(v[k + 1], e + dl, e_lo, h, n)
            if s < best - 1e-12:
                best = s
                best_d = dl
                best_c = pc
        bound = icap[k] == np.inf and not (curtail and buy[k] < 0.0) and nk > 1
        margin = _chords(xs, ys, slopes, nk)
        # the chord under the grid move: x0 <= dl <= x1, cost y0 + sl * (dl - x0) (nan: none)
        seg = 0
        x0, x1, y0, sl = (xs[0], xs[1], ys[0], slopes[0]) if bound else (0.0, 0.0, 0.0, np.nan)
        nxt = v[k + 1]
        low = block_min[k + 1]
        thr = best - 1e-12  # a move must score below this to be taken
        # grid moves, block by block
        jlo = math.ceil((e + lo - e_lo) / h - 1e-9)
        jhi = math.floor((e + hi - e_lo) / h + 1e-9)
        jlo = max(jlo, 0)
        jhi = min(jhi, n)
        start = jlo
        while start <= jhi:
            blk = start // VALUE_BLOCK
            jend = min(blk * VALUE_BLOCK + VALUE_BLOCK - 1, jhi)
            if bound and thr < np.inf and jend > start:
                d_first = _grid_move(start, e_lo, h, e, lo, hi)
                d_last = _grid_move(jend, e_lo, h, e, lo, hi)
                while d_first > x1 and seg + 2 < nk:
                    seg += 1
                    x0, x1, y0, sl = xs[seg], xs[seg + 1], ys[seg], slopes[seg]
                if _block_cannot_win(d_first, d_last, x0, x1, y0, sl, margin, low[blk], thr):
                    start = jend + 1
                    continue
            for j in range(start, jend + 1):
                dl = _grid_move(j, e_lo, h, e, lo, hi)
                if bound and thr < np.inf:  # (while none is feasible, each counts: fallback)
                    while dl > x1 and seg + 2 < nk:
                        seg += 1
                        x0, x1, y0, sl = xs[seg], xs[seg + 1], ys[seg], slopes[seg]
                    if _move_cannot_win(dl, x0, x1, y0, sl, margin, nxt[j], thr):
                        continue
                pc = _period_inline(dl, load[k], pv[k], buy[k], sell[k], xlim[k], ilim[k],
                                    acap[k], eta_c, eta_d, cmax[k], dmax[k], wear, grid_charge,
                                    batt_export, curtail, icap[k], ipen[k])[0]
                if pc == np.inf:
                    continue
                if dl > fb_d:
                    fb_d = dl
                    fb_c = pc
                s = pc + nxt[j]
                if s < thr:
                    best = s
                    best_d = dl
                    best_c = pc
                    thr = best - 1e-12
            start = jend + 1
        if best == np.inf:
            best_d = fb_d if fb_c < np.inf else 0.0
            best_c = fb_c
        costs[k] = best_c
        e = e + best_d
        if e > e_max and e - e_max < 1e-9:
            e = e_max
        if e < e_min and e_min - e < 1e-9 and e0 >= e_min:
            e = e_min
        soe[k + 1] = e
    return soe, costs
