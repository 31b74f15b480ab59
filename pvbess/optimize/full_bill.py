"""The full bill by dynamic programming: period costs plus demand charges (monthly peaks).

The bill of a site like Iquitos (scheduler spec, section 6) is the sum of the period costs of
section 1 and, for every demand-charge group ``g`` (a billing period x a tariff window, e.g.
January x HP), ``price_g * max(P_g0, max_{k in g} import_k / dt)``, where ``P_g0`` is the incumbent
peak: the highest import power already recorded in the group's billing period before the plan
starts (0 at the start of a month). :func:`full_bill_schedule` minimises it with the DP kernel of
:mod:`pvbess.optimize`, without an LP.

Notes
-----
**The method: an outer search over the group caps, with the DP inside.** For caps ``c_g`` (kW)
the full bill is at most

``F(c) = min_plan [ sum_k f_k + sum_g price_g * (c_g + sum_{k in g} (import_k / dt - c_g)^+) ]``

(``c_g >= P_g0``): the DP with a *soft* import cap per period (each kWh above ``c_g * dt``
costs ``price_g / dt`` more; kernel arguments ``icap``, ``ipen``). For any plan the penalty is at
least what raising the peak to its actual value costs (a sum of excesses >= their maximum), so
the plan the DP returns for any ``c`` has a true bill <= ``F(c)``; at the optimal peaks ``c*`` the
optimal plan pays no penalty, so ``min_c F(c)`` is the optimum (up to the DP's grid). ``F`` is
convex in ``c`` (a partial minimum of a jointly convex problem) and piecewise linear: slope about
``+price_g`` above the optimum, steeply negative below it. A soft cap rather than a hard one
keeps every ``F(c)`` finite and the value functions convex, so a cap slightly below what the
battery can hold costs a small penalty instead of an infeasible (inf) plan; with hard caps a
single grid rounding at the edge of feasibility made whole months infeasible.

Months are coupled only through the stored energy at their boundaries. The groups are split into
*blocks* (maximal sets of groups whose spans overlap: one calendar month for a monthly tariff),
and the caps are searched on a coarse energy grid (:func:`default_search_states`), each ``F`` a
block-length DP (:func:`pvbess.optimize.dp._backward_into`) that ends in the value of the later
blocks:

1. The energy-only plan (no demand charges) gives each block a predicted start energy and each
   group an upper bound on its cap (its peak there: above it ``F`` only grows); the lower bound
   is the import no plan can avoid (full discharge, inverter limit) or the incumbent peak.
2. Backward over the blocks (last first): the caps are searched for the predicted start energy,
   with the block's terminal row ``W`` = the value of the later blocks at *their* best caps.
   Fixed later caps would undervalue energy carried across a boundary (more energy at the start
   of a month can lower its caps), so where that can matter (the block's plan meets a binding cap
   before the battery has once been full, or it starts above empty) the caps are also searched
   for a full and an empty start, and ``W`` at the block's start is the lower convex envelope of
   ``V(E; c) + price . c`` over these samples (the exact ``W`` is convex in ``E``).
3. Forward over the blocks: from the true start energy (the replay of the blocks before), the
   caps are searched again, warm, where it differs from the sampled ones; the block is replayed.
4. One DP over the whole horizon on the fine grid (the grid of :func:`pvbess.optimize_schedule`)
   with the chosen soft caps gives the plan, evaluated exactly: the period costs by the plant
   rules and the demand cost from its actual peaks.

The search over a block's caps: for one group a 1-D convex minimisation; for two (HP and HFP)
a nested one, ``phi(x) = min_y F(x, y)`` (convex), because the two caps trade off along a
diagonal valley (shaving the HFP peak uses energy that the HP peak needs) where every point of the
valley floor is a coordinate-wise minimum and a coordinate search stalls (up to 14 % off on
random cases). Each 1-D minimisation grows a bracket from a start point and then places points by
secant cutting planes (secants of a convex function extended outward are lower bounds): ``F``
is piecewise linear, V-shaped around the optimum, so the vertex is usually found right after the
bracket, and the search stops with a certificate (best value within the cost of a fifth of the
cap tolerance of the lower bound; the tolerance is ``cap_tol`` times the cap's upper bound).
At Iquitos most optimal caps sit at the lower bound (the battery's
power limit), which the cold searches try first.

Why this method: it reuses the exact DP kernel (breakpoints, continuous replay, convex fast path)
unchanged, its inner problem stays convex and finite, and the month decomposition makes each cap
evaluation a month-long coarse DP (about 1 ms) instead of a year-long one; an hourly Iquitos year
takes about 400 of them. A Lagrangian on the caps needs many year-long DPs and gives no primal
plan directly (the DP at the optimal prices is degenerate in the peak); the peak as an extra state
multiplies the states by the peak levels of two windows.

Accuracy: the coarse search grid over-prices tight caps a little (the energy needed before a
critical stretch is rounded up), so the caps come out slightly high: about 0.04 % of the Iquitos
year's bill, up to a few tenths of a percent on short random months. Limitations: groups must be
disjoint (one cap per period); blocks of three or more groups are searched by rounds of nested
pair searches; the coupling samples are a full and an empty battery only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..timeseries import DataError
from .convex_search import lower_convex_hull, minimise_convex
from .dp import _backward, _backward_into, _grid, _interp, _last_nonconvex, _replay
from .problem import SchedulingProblem
from .result import ScheduleResult, _evaluate, build_result

__all__ = ["default_search_states", "full_bill_schedule"]

#: indices of the import-cap arrays in ``SchedulingProblem.kernel_args()``
_ICAP, _IPEN = 15, 16


# ----------------------------------------------------------------------------------------------
# demand-charge groups and blocks
# ----------------------------------------------------------------------------------------------
class _Groups:
    """Validated demand-charge groups: period -> group index, prices, incumbents, blocks."""

    def __init__(self, demand_charges: Sequence[tuple[Any, float]], incumbent: Any, t: int,
                 dt: float) -> None:
        masks, prices = [], []
        for mask, price in demand_charges:
            m = np.asarray(mask, dtype=bool).reshape(-1)
            if m.shape[0] != t:
                raise DataError(f"demand_charges: mask length {m.shape[0]} != periods {t}")
            p = float(price)
            if not (math.isfinite(p) and p >= 0):
                raise DataError(f"demand_charges: price {price!r} [currency/kW] must be >= 0")
            if m.any():
                masks.append(m)
                prices.append(p)
        self.n = len(masks)
        self.masks = masks
        self.price = np.array(prices, dtype=float)
        if incumbent is None:
            inc = np.zeros(len(demand_charges))
        else:
            inc = np.asarray(incumbent, dtype=float).reshape(-1)
            if inc.shape[0] != len(demand_charges):
                raise DataError(f"incumbent_peaks_kw: length {inc.shape[0]} != number of "
                                f"demand-charge groups {len(demand_charges)}")
            if not (np.isfinite(inc).all() and (inc >= 0).all()):
                raise DataError("incumbent_peaks_kw [kW]: must be finite and >= 0")
        keep = [i for i, (mask, _) in enumerate(demand_charges)
                if np.asarray(mask, dtype=bool).any()]
        self.incumbent = inc[keep] if len(keep) else np.zeros(0)
        self.of = np.full(t, -1, dtype=np.int64)
        for g, m in enumerate(masks):
            if (self.of[m] >= 0).any():
                raise DataError("demand_charges: groups overlap (the DP takes one cap per "
                                "period); use disjoint masks, e.g. month x window")
            self.of[m] = g
        self.first = np.array([int(np.flatnonzero(m)[0]) for m in masks], dtype=np.int64)
        self.last = np.array([int(np.flatnonzero(m)[-1]) for m in masks], dtype=np.int64)
        # blocks: groups whose spans overlap, in time order -> [(start, end, [groups])]
        order = np.argsort(self.first, kind="stable")
        blocks: list[tuple[int, int, list[int]]] = []
        for g in order:
            s, e = int(self.first[g]), int(self.last[g]) + 1
            if blocks and s < blocks[-1][1]:
                bs, be, gs = blocks[-1]
                blocks[-1] = (bs, max(be, e), gs + [int(g)])
            else:
                blocks.append((s, e, [int(g)]))
        self.blocks = blocks
        self.dt = dt

    def soft_caps(self, caps: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-period soft cap [kWh] and penalty [currency/kWh] for group caps [kW]."""
        icap = np.full(t, np.inf)
        ipen = np.full(t, np.inf)
        inside = self.of >= 0
        icap[inside] = caps[self.of[inside]] * self.dt
        ipen[inside] = self.price[self.of[inside]] / self.dt
        return icap, ipen

    def peaks(self, grid_import_kwh: np.ndarray) -> np.ndarray:
        """Peak import power per group. [kW]"""
        return np.array([float(grid_import_kwh[m].max()) / self.dt for m in self.masks])

    def demand_cost(self, grid_import_kwh: np.ndarray) -> float:
        """``sum_g price_g * max(P_g0, peak_g)``. [currency]"""
        if self.n == 0:
            return 0.0
        return float(self.price @ np.maximum(self.incumbent, self.peaks(grid_import_kwh)))


# ----------------------------------------------------------------------------------------------
# the cap search
# ----------------------------------------------------------------------------------------------
class _Block:
    """One block's DP on the search grid: ``F(caps)`` from a start energy to a terminal row."""

    def __init__(self, inp: SchedulingProblem, groups: _Groups, start: int, end: int, gs: list[int],
                 e_lo: float, h: float, n: int, i_min: int) -> None:
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
        self.evaluations = 0

    def set_caps(self, caps: Sequence[float]) -> None:
        for idx, c, p in zip(self.member, caps, self.price):
            self.icap[idx] = c * self.dt
            self.ipen[idx] = p / self.dt

    def value(self, caps: Sequence[float], terminal: np.ndarray, e_start: float) -> float:
        """``F``: the block's DP value at ``e_start`` plus ``sum_g price_g * c_g``."""
        self.set_caps(caps)
        self.v[-1] = terminal
        _backward_into(self.v, *self.args, self.h, self.n, self.i_min)
        self.evaluations += 1
        val = _interp(self.v[0], e_start, self.e_lo, self.h, self.n)
        return float(val + float(np.dot(self.price, caps)))

    def replay(self, e_start: float, e_min: float, e_max: float) -> np.ndarray:
        """The stored energy along the block from the last :meth:`value`'s value functions."""
        soe, _ = _replay(*self.args, self.e_lo, self.h, self.n, self.v, e_start, e_min, e_max)
        return soe


def _lower_caps(inp: SchedulingProblem, groups: _Groups) -> np.ndarray:
    """Per group, the import power no plan can avoid (full discharge, inverter limit) or the
    incumbent peak, whichever is higher: the lowest useful cap. [kW]"""
    dmax = inp.discharge_max_kwh if inp.allow_battery_export else np.minimum(inp.discharge_max_kwh, np.maximum(inp.load_kwh - inp.pv_kwh, 0))
    least = np.maximum(inp.load_kwh - inp.pv_kwh - dmax, inp.load_kwh - inp.inverter_limit_kwh)
    least = np.maximum(least, 0.0)
    return np.maximum(groups.incumbent, groups.peaks(least))


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


def _search_block(block: _Block, start_caps: Sequence[float], lower: np.ndarray,
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


def _binds_before_full(block: _Block, soe: np.ndarray, caps: Sequence[float], e_max: float
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
    _backward_into(v, *args, h, n, i_min)
    return v[0].copy()


def _search(inp: SchedulingProblem, groups: _Groups, guess: np.ndarray, lower: np.ndarray,
            upper: np.ndarray, e_guess: np.ndarray, e_lo: float, h: float, n: int, i_min: int,
            tol: np.ndarray) -> tuple[np.ndarray, int, dict]:
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
    blocks = groups.blocks
    nb = len(blocks)
    row = np.array([-inp.terminal_value * (e_lo + i * h - inp.e_min_kwh) for i in range(n + 1)])
    row_end = inp.periods
    terminals: list[np.ndarray] = [row] * nb
    start_rows: list[np.ndarray] = [row] * nb
    samples: list[list[tuple[float, np.ndarray]]] = [[] for _ in range(nb)]
    made: list[_Block | None] = [None] * nb
    caps = guess.copy()
    extra = 0
    researched = 0
    for b in range(nb - 1, -1, -1):
        start, end, gs = blocks[b]
        row = _stretch_back(inp, end, row_end, row, h, n, i_min)
        terminals[b] = row
        block = _Block(inp, groups, start, end, gs, e_lo, h, n, i_min)
        made[b] = block
        e0 = float(e_guess[start])
        c0 = _search_block(block, caps[gs], lower, upper, row, e0, tol, cold=True)
        block.value(c0, row, e0)
        env = block.v[0] + float(np.dot(block.price, c0))
        samples[b].append((e0, np.array(c0)))
        others = []
        # (the first block's start value is needed only to replay a stretch before it)
        needed = b > 0 or start > 0
        if e0 > inp.e_min_kwh + h and needed:
            others.append(inp.e_min_kwh)
        if needed and e0 < inp.e_max_kwh - h:
            soe0 = block.replay(e0, inp.e_min_kwh, inp.e_max_kwh)
            if _binds_before_full(block, soe0, c0, inp.e_max_kwh):
                others.append(inp.e_max_kwh)
        for e1 in others:
            c1 = _search_block(block, c0, lower, upper, row, e1, tol, cold=False)
            block.value(c1, row, e1)
            env = np.minimum(env, block.v[0] + float(np.dot(block.price, c1)))
            samples[b].append((e1, np.array(c1)))
            extra += 1
        row = lower_convex_hull(env, i_min)
        start_rows[b] = row
        row_end = start
        for j, g in enumerate(gs):
            caps[g] = c0[j]
    # forward
    e = inp.initial_kwh
    done = 0
    for b in range(nb):
        start, end, gs = blocks[b]
        block = made[b]
        if start > done:  # uncapped stretch: replay it on its own values
            args = tuple(a[done:start] if isinstance(a, np.ndarray) else a
                         for a in inp.kernel_args())
            v = np.empty((start - done + 1, n + 1))
            v[-1] = start_rows[b]
            _backward_into(v, *args, h, n, i_min)
            soe, _ = _replay(*args, e_lo, h, n, v, e, inp.e_min_kwh, inp.e_max_kwh)
            e = float(soe[-1])
        near = min(samples[b], key=lambda q: abs(q[0] - e))
        cb = list(near[1])
        if abs(near[0] - e) > 0.5 * h:
            # warm start: the caps interpolated between the samples around the true start
            below = [q for q in samples[b] if q[0] <= e]
            above = [q for q in samples[b] if q[0] > e]
            if below and above:
                e1, c1 = max(below, key=lambda q: q[0])
                e2, c2 = min(above, key=lambda q: q[0])
                cb = list(c1 + (c2 - c1) * (e - e1) / (e2 - e1))
            cb = _search_block(block, cb, lower, upper, terminals[b], e, tol, cold=False)
            researched += 1
        block.value(cb, terminals[b], e)
        soe = block.replay(e, inp.e_min_kwh, inp.e_max_kwh)
        e = float(soe[-1])
        done = end
        for j, g in enumerate(gs):
            caps[g] = cb[j]
    evaluations = sum(blk.evaluations for blk in made if blk is not None)
    return caps, evaluations, {"coupling_samples": extra, "forward_searches": researched}


def default_search_states(periods: int) -> int:
    """States of the cap search's energy grid: ``clip(400_000 // periods, 64, 1024)``.

    A coarse grid over-prices tight caps (the energy needed before a critical stretch is rounded
    up to grid points, and near a cap the value function is steep), which biases the search
    toward higher caps: about 0.3 % of the bill at 64 states on a random month, 0.1 % at 256,
    0.03 % at 1,024. The work of a search grows with periods x states, so the grid is as fine as
    a fixed budget allows: 64 states for an hourly year (where the bias is small: a 1,600 kWh
    window against monthly peaks set by the power limit), 537 for a month, 1,024 for a fortnight.
    """
    return int(min(1024, max(64, 400_000 // max(int(periods), 1))))


def full_bill_schedule(problem: SchedulingProblem, *, energy_step_kwh: float | None = None,
                       search_states: int | None = None, cap_tol: float = 2e-4
                       ) -> ScheduleResult:
    """Least full bill (period costs + demand charges) by an outer cap search around the DP.

    Parameters
    ----------
    problem : SchedulingProblem
        With its demand charges (disjoint groups, e.g. :meth:`pvbess.Tariff.demand_charges`:
        calendar month x HP/HFP window), each billed ``price * max(incumbent, peak import
        power)``; :func:`pvbess.optimize_schedule` calls this when a problem has them.
    energy_step_kwh : float, optional
        The final DP's grid step (as :func:`pvbess.optimize_schedule`). [kWh]
    search_states : int, optional
        States of the coarse energy grid of the cap search. Default
        :func:`default_search_states` (64 for an hourly year, 537 for a month).
    cap_tol : float
        Width to which each cap is searched, as a fraction of its upper bound (the group's peak
        in the energy-only plan): 2e-4 is about 0.5 kW at Iquitos. [-]

    Returns
    -------
    ScheduleResult
        ``method = "dp"``. ``cost`` and ``objective`` include the demand cost;
        ``summary['energy_cost']`` is the sum of the period costs (energy, export, wear, CO2
        price), ``summary['demand_cost']`` the demand charges (incumbents included),
        ``summary['peaks_kw']`` the plan's peak per group. ``info`` holds the caps, the number
        of block DPs and the search and final times.

    Notes
    -----
    See the module docstring (:mod:`pvbess.optimize.full_bill`): the method and why.

    Examples
    --------
    >>> import numpy as np
    >>> from pvbess import Battery, optimize_schedule
    >>> b = Battery(capacity_kwh=10, power_charge_kw=5, power_discharge_kw=5, eta_charge=1.0,
    ...             eta_discharge=1.0, soc_min=0.0, soc_initial=0.0)
    >>> mask = np.array([True, True])
    >>> r = optimize_schedule([1.0, 1.0], [0.0, 0.0], [0.0, 4.0], [0.0, 0.0], b,
    ...                       demand_charges=[(mask, 10.0)])
    >>> round(r.summary['demand_cost'], 6), round(r.cost, 6)  # charge 2, import 2 + 2
    (20.0, 24.0)
    """
    t0 = time.perf_counter()
    if problem.import_cap_kwh is not None:
        raise DataError("import_cap_kw with demand charges is not supported: the demand charges "
                        "already set the (soft) caps")
    inp = problem
    groups = _Groups([(g.mask, g.price_per_kw) for g in problem.demand_charges],
                     [g.incumbent_kw for g in problem.demand_charges], inp.periods, inp.dt_h)
    if search_states is None:
        search_states = default_search_states(inp.periods)
    if not (isinstance(search_states, int | np.integer) and search_states >= 4):
        raise ValueError(f"search_states = {search_states!r}: must be an integer >= 4")
    e_lo_f, h_f, n_f, i_min_f = _grid(inp, energy_step_kwh)
    # the search grid: coarse; like the fine one it reaches down to a start below e_min. Periods
    # whose cost is not convex (sell > buy, negative prices) take the DP's general path, whose
    # work grows with states squared: the search grid then stays at 32 states
    n_s = int(search_states)
    if _last_nonconvex(*inp.kernel_args(), (inp.e_max_kwh - inp.e_min_kwh) / n_s, n_s) >= 0:
        n_s = min(n_s, 32)
    h_s = (inp.e_max_kwh - inp.e_min_kwh) / n_s
    e_lo_s, h_s, n_s, i_min_s = _grid(inp, h_s)
    # the energy-only plan on the search grid: the first caps (its peaks) and the upper bounds
    args = inp.kernel_args()
    v, _ = _backward(*args, e_lo_s, h_s, n_s, inp.terminal_value, inp.e_min_kwh, i_min_s)
    soe, _ = _replay(*args, e_lo_s, h_s, n_s, v, inp.initial_kwh, inp.e_min_kwh, inp.e_max_kwh)
    evaluations = 0
    lower = _lower_caps(inp, groups)
    if groups.n:
        
        out = _evaluate(soe, *args)
        upper = np.maximum(groups.peaks(out[:, 3]), lower)
        tol = np.maximum(float(cap_tol) * upper, 1e-9)
        caps, evaluations, counts = _search(inp, groups, upper.copy(), lower, upper, soe,
                                            e_lo_s, h_s, n_s, i_min_s, tol)
    else:
        caps, counts = np.zeros(0), {"coupling_samples": 0, "forward_searches": 0}
    t_search = time.perf_counter() - t0
    # the final DP on the fine grid with the chosen soft caps
    args = inp.kernel_args(*groups.soft_caps(caps, inp.periods))
    v, fast = _backward(*args, e_lo_f, h_f, n_f, inp.terminal_value, inp.e_min_kwh, i_min_f)
    soe, _ = _replay(*args, e_lo_f, h_f, n_f, v, inp.initial_kwh, inp.e_min_kwh, inp.e_max_kwh)
    # the plan through the plant without the soft caps: true period costs
    elapsed = time.perf_counter() - t0
    res = build_result(inp, soe, method="dp", solve_time_s=elapsed)
    imp = res.periods["grid_import_kwh"].to_numpy()
    peaks = groups.peaks(imp) if groups.n else np.zeros(0)
    demand = groups.demand_cost(imp)
    energy = res.cost
    summary = dict(res.summary)
    summary.update({"energy_cost": energy, "demand_cost": demand,
                    "peaks_kw": peaks.tolist(), "objective": res.objective + demand})
    info = {"energy_step_kwh": h_f, "states": n_f + 1, "convex_periods": int(fast.sum()),
            "caps_kw": caps.tolist(), "lower_caps_kw": lower.tolist(),
            "search_states": n_s + 1 - i_min_s, "block_evaluations": evaluations, **counts,
            "search_time_s": t_search, "final_time_s": elapsed - t_search}
    return ScheduleResult(objective=res.objective + demand, cost=energy + demand,
                          soe_kwh=res.soe_kwh, setpoint_kwh=res.setpoint_kwh,
                          periods=res.periods, summary=summary, method="dp",
                          solve_time_s=elapsed, info=info)
