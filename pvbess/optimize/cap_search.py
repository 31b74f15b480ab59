"""The cap search of the full-bill DP: each block's import caps by nested convex searches, the
blocks coupled through a backward and a forward sweep (the method:
:mod:`pvbess.optimize.full_bill`).

A block's ``F(caps)`` is one block-length DP (:func:`pvbess.optimize.dp._backward_into`) on the
coarse search grid with soft import caps, ending in the value of the later blocks, plus
``price . caps``; it is convex in the caps, and the 1-D minimiser of
:mod:`pvbess.optimize.convex_search` finds its minimum with a certificate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .convex_search import lower_convex_hull, minimise_convex
from .demand_groups import DemandGroups
from .dp import _backward_into
from .forward import _interp, _replay
from .period import _move_nets
from .problem import SchedulingProblem
from .result import _evaluate

__all__ = ["BlockDP", "lower_caps", "search_caps", "upper_caps"]

#: indices of the import-cap arrays in ``SchedulingProblem.kernel_args()``
_ICAP, _IPEN = 15, 16
#: ``_backward_into``'s move nets for a DP run once: none (every move through the meter)
_NO_NETS = (np.empty((0, 0)), np.zeros(0, dtype=np.bool_))


class BlockDP:
    """One block's DP on the search grid: ``F(caps)`` from a start energy to a terminal row.

    The value row at the block's start is kept per caps (for the current terminal row): a
    search that comes back to caps it has tried (the sweeps re-evaluate each search's result,
    a coupling sample starts where the first search ended) reads it instead of running the DP
    again. ``evaluations`` counts the DPs run."""

    def __init__(self, inp: SchedulingProblem, groups: DemandGroups, start: int, end: int,
                 gs: list[int], e_lo: float, h: float, n: int, i_min: int) -> None:
        self.start, self.end, self.gs = start, end, gs
        args = list(inp.kernel_args())
        for q, a in enumerate(args):
            if isinstance(a, np.ndarray):
                args[q] = a[start:end]
        self.icap = np.array(args[_ICAP], dtype=float)
        self.ipen = np.array(args[_IPEN], dtype=float)
        args[_ICAP] = self.icap
        args[_IPEN] = self.ipen
        self.args = tuple(args)
        self.member = [np.flatnonzero(groups.of[start:end] == g) for g in gs]
        self.price = groups.price[gs]
        self.dt = groups.dt
        self.e_lo, self.h, self.n, self.i_min = e_lo, h, n, i_min
        self.v = np.empty((end - start + 1, n + 1))
        # the meter of each move, once: the block's DPs differ only in their soft caps
        self.nets = _move_nets(*self.args, h, n)
        self.evaluations = 0
        self._terminal: np.ndarray | None = None
        self._rows: dict[tuple[float, ...], np.ndarray] = {}
        self._held: tuple[float, ...] | None = None  # the caps whose DP ``v`` holds
        self._last: tuple[float, ...] | None = None  # the caps of the last value()

    def set_caps(self, caps: Sequence[float]) -> None:
        for idx, c, p in zip(self.member, caps, self.price):
            self.icap[idx] = c * self.dt
            self.ipen[idx] = p / self.dt

    def _run(self, caps: tuple[float, ...]) -> None:
        self.set_caps(caps)
        self.v[-1] = self._terminal
        _backward_into(self.v, *self.args, self.h, self.n, self.i_min, *self.nets)
        self.evaluations += 1
        self._held = caps

    def value(self, caps: Sequence[float], terminal: np.ndarray, e_start: float) -> float:
        """``F``: the block's DP value at ``e_start`` plus ``sum_g price_g * c_g``."""
        key = tuple(float(c) for c in caps)
        if terminal is not self._terminal:
            self._terminal, self._rows, self._held = terminal, {}, None
        row = self._rows.get(key)
        if row is None:
            self._run(key)
            row = self._rows[key] = self.v[0].copy()
        self._last = key
        val = _interp(row, e_start, self.e_lo, self.h, self.n)
        return float(val + float(np.dot(self.price, caps)))

    def start_row(self) -> np.ndarray:
        """The value row at the block's start of the last :meth:`value`'s caps (read only)."""
        return self._rows[self._last]

    def replay(self, e_start: float, e_min: float, e_max: float) -> np.ndarray:
        """The stored energy along the block from the last :meth:`value`'s value functions."""
        if self._held != self._last:
            self._run(self._last)
        soe, _ = _replay(*self.args, self.e_lo, self.h, self.n, self.v, e_start, e_min, e_max)
        return soe


def lower_caps(inp: SchedulingProblem, groups: DemandGroups) -> np.ndarray:
    """Per group, the import power no plan can avoid (full discharge, inverter limit) or the
    incumbent peak, whichever is higher: the lowest useful cap. [kW]"""
    dmax = inp.discharge_max_kwh
    if not inp.allow_battery_export:
        dmax = np.minimum(dmax, np.maximum(inp.load_kwh - inp.pv_kwh, 0))
    least = np.maximum(inp.load_kwh - inp.pv_kwh - dmax, inp.load_kwh - inp.inverter_limit_kwh)
    least = np.maximum(least, 0.0)
    return np.maximum(groups.incumbent, groups.peaks(least))


def upper_caps(inp: SchedulingProblem, groups: DemandGroups, lower: np.ndarray) -> np.ndarray:
    """Per group, the highest import power any plan can draw (the load, plus a full charge
    where the grid may charge; at most the import limit): above it ``F`` only grows. [kW]

    Not the energy-only plan's peak: the full bill can raise one group's peak above it to
    spend the battery's energy where another group's peak costs more (e.g. importing in HP so
    that a dear HFP peak is shaved before the battery is recharged)."""
    most = inp.load_kwh + (inp.charge_max_kwh if inp.grid_charge else 0.0)
    most = np.minimum(most, inp.import_limit_kwh)
    return np.maximum(groups.peaks(most), lower)


def _search_pair(block_f, cur: list[float], jo: int, ji: int, lower: np.ndarray,
                 upper: np.ndarray, x0: float, step: float, tol: np.ndarray, cold: bool,
                 eps_o: float, eps_i: float) -> None:
    """Minimise ``block_f`` over caps ``cur[jo]`` (outer) and ``cur[ji]`` (inner), in place:
    ``phi(x) = min_y F(x, y)`` is convex in ``x`` (a partial minimum of a convex function), so a
    1-D search on ``phi`` whose every value is a 1-D search on ``y`` finds the joint minimum even
    where the caps trade off along a diagonal valley (there every point of the valley floor is a
    coordinate-wise minimum, which stalls a coordinate search). Each inner search starts from
    the inner optimum of the nearest outer values already tried (a cold search starts the first
    at the inner cap's lower bound). ``phi`` is known only to the inner search's ``eps_i``, so
    the outer certificate allows for it."""
    seen: list[tuple[float, float]] = []  # (x, y*(x))
    span_i = upper[ji] - lower[ji]

    def inner(x: float) -> tuple[float, float]:
        trial = list(cur)
        trial[jo] = x
        if seen:
            near = sorted(seen, key=lambda q: abs(q[0] - x))
            y0 = near[0][1]
            spread = 0.0
            if len(near) > 1:  # along the valley y*(x) is locally linear: extrapolate
                (x1, y1), (x2, y2) = near[0], near[1]
                spread = abs(y2 - y1)
                if x2 != x1:
                    y0 = min(max(y1 + (y2 - y1) * (x - x1) / (x2 - x1), lower[ji]), upper[ji])
            step_i = max(2.0 * tol[ji], 0.25 * spread)
        else:
            y0 = lower[ji] if cold else cur[ji]
            step_i = max(2.0 * tol[ji], (0.01 if cold else 0.002) * span_i)

        def g(y: float) -> float:
            trial[ji] = y
            return block_f(trial)

        y, fy = minimise_convex(g, y0, lower[ji], upper[ji], step_i, tol[ji], eps_i)
        seen.append((x, y))
        return y, fy

    x, _ = minimise_convex(lambda x: inner(x)[1], x0, lower[jo], upper[jo], step, tol[jo],
                        eps_o + 2.0 * eps_i)
    y = min(seen, key=lambda q: abs(q[0] - x))[1]
    cur[jo], cur[ji] = x, y


def search_block(block: BlockDP, start_caps: Sequence[float], lower: np.ndarray,
                  upper: np.ndarray, terminal: np.ndarray, e_start: float, tol: np.ndarray,
                  cold: bool) -> list[float]:
    """The block's caps minimising ``F``: 1-D for one group, nested for two, and for more a few
    rounds of nested searches over consecutive pairs. A cold search starts every cap at its
    lower bound with steps of 1 % of its range; a warm one at ``start_caps`` with small steps.
    ``tol`` is the width to which each cap is searched (per group). [kW]"""
    gs = block.gs
    cur = [float(c) for c in start_caps]
    lo = lower[gs]
    hi = upper[gs]
    tl = tol[gs]
    # the certificate's slack per cap: the cost of a fifth of the cap tolerance
    eps = 0.2 * tl * block.price + 1e-12

    def block_f(trial: list[float]) -> float:
        return block.value(trial, terminal, e_start)

    def first(j: int) -> tuple[float, float]:
        span = hi[j] - lo[j]
        if cold:
            return lo[j], max(2.0 * tl[j], 0.01 * span)
        return cur[j], max(2.0 * tl[j], 0.002 * span)

    if len(gs) == 1:
        x0, step = first(0)
        cur[0], _ = minimise_convex(lambda x: block_f([x]), x0, lo[0], hi[0], step, tl[0],
                                    eps[0])
        return cur
    # inner: the group with the highest price (its optimum most often sits at its lower bound,
    # which makes the inner searches short)
    order = sorted(range(len(gs)), key=lambda j: block.price[j])
    pairs = [(order[q], order[q + 1]) for q in range(len(gs) - 1)]
    rounds = 1 if len(gs) == 2 else 3
    for r in range(rounds):
        before = list(cur)
        for jo, ji in pairs:
            x0, step = first(jo)
            if r or not cold:
                x0 = cur[jo]
            _search_pair(block_f, cur, jo, ji, lo, hi, x0, step, tl, cold and r == 0, eps[jo],
                         eps[ji])
        if all(abs(a - b) <= t for a, b, t in zip(before, cur, tl)):
            break
    return cur


def _binds_before_full(block: BlockDP, soe: np.ndarray, caps: Sequence[float], e_max: float
                       ) -> bool:
    """Whether more energy at the block's start could lower its caps: the replayed plan meets a
    binding cap (import at or above it) before the battery has once been full. Once it has been
    full, a higher start only saves charging (which the fixed-cap value function prices)."""
    full = np.flatnonzero(soe >= e_max - 0.5 * block.h)
    first_full = int(full[0]) if full.size else soe.shape[0]
    if first_full == 0:
        return False
    
    out = _evaluate(soe, *block.args)
    imp = out[:, 3]
    for idx, c in zip(block.member, caps):
        hit = idx[imp[idx] >= c * block.dt - 1e-6]
        if hit.size and int(hit[0]) < first_full:
            return True
    return False


def _stretch_back(inp: SchedulingProblem, start: int, end: int, row: np.ndarray, h: float, n: int,
                  i_min: int) -> np.ndarray:
    """The value row at ``start`` from ``row`` at ``end`` over an uncapped stretch."""
    if end <= start:
        return row
    args = tuple(a[start:end] if isinstance(a, np.ndarray) else a for a in inp.kernel_args())
    v = np.empty((end - start + 1, n + 1))
    v[-1] = row
    _backward_into(v, *args, h, n, i_min, *_NO_NETS)
    return v[0].copy()


@dataclass
class _Sampled:
    """One block after the backward sweep: its DP, the value row at its end (the later blocks
    at their best caps), the value row at its start (the lower convex envelope of the sampled
    ``V(E; c) + price . c``) and the samples ``(start energy, caps)``."""

    block: BlockDP
    terminal: np.ndarray
    start_row: np.ndarray
    samples: list[tuple[float, np.ndarray]]


def _sample_block(inp: SchedulingProblem, block: BlockDP, row: np.ndarray, e0: float,
                  start_caps: np.ndarray, lower: np.ndarray, upper: np.ndarray, tol: np.ndarray,
                  needed: bool) -> _Sampled:
    """The block's caps searched for the predicted start energy ``e0`` and, where more (or
    less) energy at the start could move them (and the block's start value is ``needed``),
    also for a full (or empty) battery; its start row from these samples."""
    i_min = block.i_min
    h = block.h
    c0 = search_block(block, start_caps, lower, upper, row, e0, tol, cold=True)
    block.value(c0, row, e0)
    env = block.start_row() + float(np.dot(block.price, c0))
    samples = [(e0, np.array(c0))]
    others = []
    if e0 > inp.e_min_kwh + h and needed:
        others.append(inp.e_min_kwh)
    if needed and e0 < inp.e_max_kwh - h:
        soe0 = block.replay(e0, inp.e_min_kwh, inp.e_max_kwh)
        if _binds_before_full(block, soe0, c0, inp.e_max_kwh):
            others.append(inp.e_max_kwh)
    for e1 in others:
        c1 = search_block(block, c0, lower, upper, row, e1, tol, cold=False)
        block.value(c1, row, e1)
        env = np.minimum(env, block.start_row() + float(np.dot(block.price, c1)))
        samples.append((e1, np.array(c1)))
    return _Sampled(block, row, lower_convex_hull(env, i_min), samples)


def _backward_sweep(inp: SchedulingProblem, groups: DemandGroups, guess: np.ndarray,
                    lower: np.ndarray, upper: np.ndarray, e_guess: np.ndarray, e_lo: float,
                    h: float, n: int, i_min: int, tol: np.ndarray) -> list[_Sampled]:
    """The blocks, last first, each sampled against the value of the later ones."""
    nb = len(groups.blocks)
    row = -inp.terminal_value * (e_lo + np.arange(n + 1) * h - inp.e_min_kwh)
    row_end = inp.periods
    sampled: list[_Sampled | None] = [None] * nb
    for b in range(nb - 1, -1, -1):
        start, end, gs = groups.blocks[b]
        row = _stretch_back(inp, end, row_end, row, h, n, i_min)
        block = BlockDP(inp, groups, start, end, gs, e_lo, h, n, i_min)
        # (the first block's start value is needed only to replay a stretch before it)
        sampled[b] = _sample_block(inp, block, row, float(e_guess[start]), guess[gs], lower,
                                   upper, tol, needed=b > 0 or start > 0)
        row = sampled[b].start_row
        row_end = start
    return sampled


def _forward_caps(block: BlockDP, sampled: _Sampled, e: float, lower: np.ndarray,
                  upper: np.ndarray, tol: np.ndarray) -> tuple[list[float], bool]:
    """The block's caps for its true start energy ``e``: the nearest sample's, or, where ``e``
    is off the samples, a warm search from the caps interpolated between the samples around
    it. Returns the caps and whether it searched."""
    near = min(sampled.samples, key=lambda q: abs(q[0] - e))
    cb = list(near[1])
    if abs(near[0] - e) <= 0.5 * block.h:
        return cb, False
    below = [q for q in sampled.samples if q[0] <= e]
    above = [q for q in sampled.samples if q[0] > e]
    if below and above:
        e1, c1 = max(below, key=lambda q: q[0])
        e2, c2 = min(above, key=lambda q: q[0])
        cb = list(c1 + (c2 - c1) * (e - e1) / (e2 - e1))
    return search_block(block, cb, lower, upper, sampled.terminal, e, tol, cold=False), True


def search_caps(inp: SchedulingProblem, groups: DemandGroups, guess: np.ndarray,
                lower: np.ndarray, upper: np.ndarray, e_guess: np.ndarray, e_lo: float, h: float,
                n: int, i_min: int, tol: np.ndarray) -> tuple[np.ndarray, int, dict]:
    """The caps of every block: a backward sweep over the blocks, then a forward one.

    Backward (last block first): the block's terminal row is the value of the later blocks at
    their best caps, ``W``; the caps are searched for the start energy the energy-only plan has
    there (``e_guess``) and, where more (or less) energy at the start could move them, also for
    a full (or empty) battery; ``W`` at the block's start is the lower convex envelope of the
    sampled ``V(E; c) + price . c`` (the exact ``W`` is convex). Forward: from the true start
    energy of each block (the replay of the blocks before it), the caps are searched again,
    warm, where that energy differs from the sampled ones; the block is replayed.
    Returns the caps, the number of block DPs and the counts of extra (coupling) samples and
    forward re-searches.
    """
    sampled = _backward_sweep(inp, groups, guess, lower, upper, e_guess, e_lo, h, n, i_min, tol)
    caps = guess.copy()
    e = inp.initial_kwh
    done = 0
    researched = 0
    for (start, end, gs), smp in zip(groups.blocks, sampled):
        if start > done:  # uncapped stretch: replay it on its own values
            args = tuple(a[done:start] if isinstance(a, np.ndarray) else a
                         for a in inp.kernel_args())
            v = np.empty((start - done + 1, n + 1))
            v[-1] = smp.start_row
            _backward_into(v, *args, h, n, i_min, *_NO_NETS)
            soe, _ = _replay(*args, e_lo, h, n, v, e, inp.e_min_kwh, inp.e_max_kwh)
            e = float(soe[-1])
        cb, searched = _forward_caps(smp.block, smp, e, lower, upper, tol)
        researched += searched
        smp.block.value(cb, smp.terminal, e)
        e = float(smp.block.replay(e, inp.e_min_kwh, inp.e_max_kwh)[-1])
        done = end
        caps[gs] = cb
    evaluations = sum(smp.block.evaluations for smp in sampled)
    extra = sum(len(smp.samples) - 1 for smp in sampled)
    return caps, evaluations, {"coupling_samples": extra, "forward_searches": researched}
