"""The DP's compiled fast paths against straightforward references, bit for bit.

- ``minplus._convex_step`` (the two-pointer sweep, unsigned indices, the convexity flag of
  ``V_k`` on the way) against the plain sweep it replaced plus :func:`_convex_run`, on noisy
  inputs; and against the brute-force minimum over every move on exactly convex inputs;
- ``dp._backward_into`` (period inputs repeated, the flags of ``f_k`` and ``V_k`` on the way)
  against one period at a time;
- ``forward._replay`` (grid moves bounded by the cost's chords, blocks of them by the least
  value of the block) against the replay that runs every grid move through the meter; the
  forward pass of a tail from the block minima of its backward pass against the plain per-move
  scan; and the block test against the per-move test of each move of the block.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pvbess import Battery
from pvbess.optimize.dp import _backward, _backward_into, _backward_pass, _grid, _same_inputs
from pvbess.optimize.forward import (VALUE_BLOCK, _block_minima, _chords, _grid_move,
                                     _interp, _move_cannot_win, _replay, _replay_blocks,
                                     _block_cannot_win)
from pvbess.optimize.minplus import _convex_run, _convex_step
from pvbess.optimize.period import _breakpoints, _move_nets, _move_steps, _NBREAK, _period
from pvbess.optimize.problem import SchedulingProblem
from pvbess.physics import move_range, removed_energy, stored_energy

_NO_NETS = (np.empty((0, 0)), np.zeros(0, dtype=np.bool_))


def _plus_lerp(f, a, b, w):
    return np.inf if a == np.inf or b == np.inf else f + a + w * (b - a)


# ---------------------------------------------------------------- one backward step
def _plain_convex_step(cur, nxt, f, a, b, mlo, width, n, i_min, q_j, q_w, q_f):
    """The sweep as first written (before issue 12's speed work), then ``_convex_run``."""
    slot = [-1] * (width + 2)
    full = []
    for q in range(len(q_j)):
        at = q_j[q] - mlo + 1
        full.append(not (0 <= at < width + 2 and slot[at] < 0))
        if not full[q]:
            slot[at] = q
    j = i_min
    for i in range(i_min, n + 1):
        jlo, jhi = max(i + a, i_min), min(i + b, n)
        if jlo > jhi:
            best = np.inf
            for q in range(len(q_j)):
                jj = i + q_j[q]
                if i_min <= jj < n:
                    best = min(best, _plus_lerp(q_f[q], nxt[jj], nxt[jj + 1], q_w[q]))
            cur[i] = best
            continue
        j = min(max(j, jlo), jhi)
        best = f[j - i - mlo] + nxt[j]
        while j < jhi:
            cand = f[j + 1 - i - mlo] + nxt[j + 1]
            if not cand <= best:
                break
            best, j = cand, j + 1
        at = j - i - mlo
        q = slot[at]
        if q >= 0 and i + q_j[q] >= i_min:
            jj = i + q_j[q]
            best = min(best, _plus_lerp(q_f[q], nxt[jj], nxt[jj + 1], q_w[q]))
        q = slot[at + 1]
        if q >= 0 and j < n:
            best = min(best, _plus_lerp(q_f[q], nxt[j], nxt[j + 1], q_w[q]))
        cur[i] = best
    for q in range(len(q_j)):
        if full[q]:
            for i in range(max(i_min, i_min - q_j[q]), min(n, n - q_j[q] - 1) + 1):
                jj = i + q_j[q]
                cur[i] = min(cur[i], _plus_lerp(q_f[q], nxt[jj], nxt[jj + 1], q_w[q]))
    return _convex_run(cur, i_min, n)[2]


def _run_convex_step(nxt, f, a, b, mlo, n, i_min, q_j, q_w, q_f):
    width = f.shape[0]
    slot = np.full(width + 2, -1, dtype=np.int64)
    full = np.empty(_NBREAK, dtype=np.bool_)
    pad = _NBREAK - len(q_j)
    cur = np.full(n + 1, np.nan)
    flag = _convex_step(cur, nxt, f, a, b, mlo, width, n, i_min, slot, full,
                        np.array(list(q_j) + [0] * pad, dtype=np.int64),
                        np.array(list(q_w) + [0.5] * pad), np.array(list(q_f) + [0.0] * pad),
                        len(q_j))
    assert (slot == -1).all()  # left as found
    return cur, flag


@st.composite
def noisy_steps(draw):
    """A step's inputs as the DP meets them: convex up to rounding, inf outside the feasible
    moves, V_{k+1} inf below the energy hard caps need, breakpoints anywhere (two in a cell)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(1, 40))
    i_min = draw(st.sampled_from([0, 0, 0, 1, 3]))
    i_min = min(i_min, n - 1)
    mlo, mhi = -draw(st.integers(0, n)), draw(st.integers(0, n))
    width = mhi - mlo + 1
    a = draw(st.integers(mlo, mhi))
    b = draw(st.integers(a, mhi))
    m = np.arange(mlo, mhi + 1)
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    f = np.cumsum(np.sort(rng.normal(0, 1, width))) * scale + rng.normal(0, 1e-13, width)
    if draw(st.booleans()):
        f = np.round(f, 1)  # flat stretches: ties
    f[(m < a) | (m > b)] = np.inf
    nxt = np.cumsum(np.sort(rng.normal(0, 1, n + 1))) * scale + rng.normal(0, 1e-13, n + 1)
    if draw(st.booleans()):
        nxt = np.round(nxt, 1)
    if draw(st.booleans()):  # a dent about the size of the convexity tolerance
        nxt[rng.integers(0, n + 1)] -= 10.0 ** rng.uniform(-10, -8) * (1 + np.abs(nxt).max())
    if draw(st.integers(0, 3)) == 0:
        nxt[: draw(st.integers(0, n + 1))] = np.inf
    nq = draw(st.integers(0, 6))
    q_j = [int(x) for x in rng.integers(mlo - 2, mhi + 2, nq)]
    q_w = list(rng.uniform(0.01, 0.99, nq))
    q_f = [float(x) for x in rng.normal(0, 1, nq) * scale]
    return nxt, f, a, b, mlo, n, i_min, q_j, q_w, q_f


#: idle only, V_{k+1} dented by 1e-7 at 1000: convex within 1e-9 * (1 + max |V|), not within 1e-9
_DENT = (np.array([1000.0, 1000.0, 1000.0 - 1e-7, 1000.0, 1000.0]), np.array([0.0]), 0, 0, 0, 4,
         0, [], [], [])


@settings(max_examples=300, deadline=None)
@given(noisy_steps())
@example(_DENT)
def test_convex_step_is_the_plain_sweep(step):
    nxt, f, a, b, mlo, n, i_min, q_j, q_w, q_f = step
    cur, flag = _run_convex_step(nxt, f, a, b, mlo, n, i_min, q_j, q_w, q_f)
    ref = np.full(n + 1, np.nan)
    ref_flag = _plain_convex_step(ref, nxt, f, a, b, mlo, f.shape[0], n, i_min, q_j, q_w, q_f)
    assert cur[i_min:].tobytes() == ref[i_min:].tobytes()  # bit for bit
    assert flag == ref_flag


@st.composite
def exact_steps(draw):
    """Exactly convex inputs (integers and quarters: every sum is exact): ``f`` samples a convex
    piecewise linear cost with kinks and feasible ends on quarter moves, the breakpoints are
    its kinks and ends off the grid."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(1, 40))
    i_min = min(draw(st.sampled_from([0, 0, 1, 4])), n - 1)
    mlo, mhi = -draw(st.integers(1, n)), draw(st.integers(1, n))
    # feasible ends lo_x <= hi_x (quarters) inside (mlo - 1, mhi + 1); kinks between them
    ends = np.sort(rng.integers(4 * mlo - 3, 4 * mhi + 4, 2)) / 4.0
    kinks = np.unique(rng.integers(int(4 * ends[0]), int(4 * ends[1]) + 1,
                                   draw(st.integers(0, 4))) / 4.0)
    knots = np.unique(np.concatenate((ends, kinks)))
    slopes = np.sort(rng.integers(-6, 7, max(len(knots) - 1, 0)))
    values = float(rng.integers(-20, 21)) + np.concatenate(([0.0],
                                                            np.cumsum(slopes * np.diff(knots))))

    def cost(x):
        if x < knots[0] or x > knots[-1]:
            return np.inf
        return float(np.interp(x, knots, values))  # exact on quarters

    m = np.arange(mlo, mhi + 1)
    f = np.array([cost(float(x)) for x in m])
    feasible = np.flatnonzero(np.isfinite(f))
    if feasible.size == 0:
        a, b = 1, 0  # no grid move: the caller takes the general path; skip below
    else:
        a, b = int(m[feasible[0]]), int(m[feasible[-1]])
    nxt = float(rng.integers(-50, 51)) + np.concatenate(
        ([0.0], np.cumsum(np.sort(rng.integers(-8, 9, n))).astype(float)))
    breaks = [x for x in knots if x != math.floor(x)]
    q_j = [math.floor(x) for x in breaks]
    q_w = [x - math.floor(x) for x in breaks]
    q_f = [cost(x) for x in breaks]
    return nxt, f, a, b, mlo, n, i_min, q_j, q_w, q_f


@settings(max_examples=300, deadline=None)
@given(exact_steps())
def test_convex_step_is_the_least_of_every_move(step):
    """Where ``f_k`` and ``V_{k+1}`` are convex the sweep's monotone pointer and the breakpoints
    beside it find the least of every grid move and every breakpoint move."""
    nxt, f, a, b, mlo, n, i_min, q_j, q_w, q_f = step
    if a > b:
        return
    cur, flag = _run_convex_step(nxt, f, a, b, mlo, n, i_min, q_j, q_w, q_f)
    for i in range(i_min, n + 1):
        best = min((f[j - i - mlo] + nxt[j] for j in range(max(i + a, i_min), min(i + b, n) + 1)),
                   default=np.inf)
        for jq, w, fq in zip(q_j, q_w, q_f):
            if i_min <= i + jq < n:
                best = min(best, _plus_lerp(fq, nxt[i + jq], nxt[i + jq + 1], w))
        assert cur[i] == best, i
    assert flag == _convex_run(cur, i_min, n)[2]


# ---------------------------------------------------------------- whole passes
def _problem(seed: int) -> tuple[SchedulingProblem, float]:
    """A random day (hourly prices over quarters repeat period inputs) and a grid step."""
    rng = np.random.default_rng(seed)
    quarter = rng.random() < 0.5
    t = int(rng.integers(4, 40)) if quarter else int(rng.integers(2, 16))
    dt = 0.25 if quarter else 1.0
    hours = (np.arange(t) * dt) % 24
    buy = 1.0 + 0.6 * np.sin(2 * np.pi * (hours - 8) / 24) + rng.normal(0, 0.25, t)
    sell = buy * rng.uniform(0.3, 0.9) - rng.uniform(0, 0.3)
    if rng.random() < 0.3:
        sell = sell - 0.8 * (rng.random(t) < 0.3)  # negative export prices
    if rng.random() < 0.2:
        sell = np.where(rng.random(t) < 0.15, buy + 0.2, sell)  # the general path
    if rng.random() < 0.2:
        buy = buy - 1.5 * (rng.random(t) < 0.2)  # negative buy prices
    pv = np.clip(rng.uniform(0, 8) * np.sin(np.pi * (hours - 6) / 12), 0, None) * dt
    load = rng.uniform(0.2, 3.0, t) * dt
    if quarter:  # hourly inputs over quarter hours: runs of equal periods
        for x in (buy, sell, pv, load):
            x[:] = x[(np.arange(t) // 4) * 4]
    soc_min = rng.uniform(0, 0.3)
    bat = Battery(capacity_kwh=rng.uniform(5, 30), power_charge_kw=rng.uniform(1, 10),
                  power_discharge_kw=rng.uniform(1, 10), eta_charge=rng.uniform(0.85, 1.0),
                  eta_discharge=rng.uniform(0.85, 1.0), soc_min=soc_min, soc_max=1.0,
                  soc_initial=soc_min, wear_cost_per_kwh=rng.uniform(0, 0.1))
    e0 = bat.e_min_kwh + rng.random() * bat.usable_kwh
    if soc_min > 0.05 and rng.random() < 0.25:
        e0 = bat.e_min_kwh * rng.uniform(0, 0.99)  # below the window: i_min > 0
    opts = {"dt_h": dt, "initial_kwh": e0, "terminal_value": rng.uniform(0, 1.5),
            "charge_source": ["any", "pv", "surplus"][rng.integers(3)],
            "allow_curtailment": bool(rng.random() < 0.5),
            "allow_battery_export": bool(rng.random() < 0.7),
            "export_limit_kw": [np.inf, 0.0, 1.0, 3.0][rng.integers(4)],
            "import_limit_kw": [np.inf, 2.0, 5.0][rng.integers(3)],
            "inverter_ac_limit_kw": [np.inf, 3.0, 6.0][rng.integers(3)]}
    if rng.random() < 0.2:
        opts["import_cap_kw"] = rng.uniform(1.0, 4.0)
    if rng.random() < 0.2:
        opts["export_price_floor"] = float(np.median(sell))  # no export below it
    p = SchedulingProblem.build(buy, sell, load, pv, bat, **opts)
    return p, p.battery.usable_kwh / int(rng.integers(20, 300))


def _kernel_args(p: SchedulingProblem, soft: bool, changed: bool = False) -> tuple:
    """The problem's kernel arguments; ``soft``: soft import caps as the cap search sets them
    (in runs of four periods too); ``changed``: each per-period input changed in one period of
    its own (the other inputs of that period keep their runs)."""
    rng = np.random.default_rng(p.periods)
    hourly = (np.arange(p.periods) // 4) * 4
    args = list(p.kernel_args(rng.uniform(0.2, 2.0, p.periods)[hourly],
                              rng.uniform(0.5, 5.0, p.periods)[hourly]) if soft
                else p.kernel_args())
    if changed and p.periods > 1:
        for q, a in enumerate(args):
            if isinstance(a, np.ndarray):
                args[q] = a = np.array(a)
                k = int(rng.integers(p.periods - 1))  # (a period with a next one)
                a[k] = 0.3 * a[k] + 0.05 if np.isfinite(a[k]) else 0.05
    return tuple(args)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans(), st.booleans(), st.booleans())
def test_backward_is_one_period_at_a_time(seed, soft, priced, changed):
    p, step = _problem(seed)
    e_lo, h, n, i_min = _grid(p, step)
    args = _kernel_args(p, soft, changed)
    v, fast = _backward(*args, e_lo, h, n, p.terminal_value, p.e_min_kwh, i_min)
    nets = _move_nets(*args, h, n) if priced else _NO_NETS
    if priced:  # the cap search's pass: the moves priced from their stored nets
        v = np.empty_like(v)
        v[-1] = _backward(*args, e_lo, h, n, p.terminal_value, p.e_min_kwh, i_min)[0][-1]
        fast = _backward_into(v, *args, h, n, i_min, *nets)
    ref = np.empty_like(v)
    ref[-1] = v[-1]
    for k in range(p.periods - 1, -1, -1):
        one = tuple(a[k:k + 1] if isinstance(a, np.ndarray) else a for a in args)
        one_nets = (nets[0][k:k + 1], nets[1][k:k + 1]) if priced else _NO_NETS
        block = ref[k:k + 2].copy()
        assert _backward_into(block, *one, h, n, i_min, *one_nets)[0] == fast[k], k
        ref[k] = block[0]
    assert v.tobytes() == ref.tobytes()
    if not priced:  # the fast path where f_k and V_{k+1} are convex (their flags on the way)
        (load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear, grid_charge,
         batt_export, curtail, icap, ipen) = args
        for k in range(p.periods):
            mlo, mhi = _move_steps(cmax[k], dmax[k], eta_c, eta_d, h, n)
            f = np.array([_period(m * h, load[k], pv[k], buy[k], sell[k], xlim[k], ilim[k],
                                  acap[k], eta_c, eta_d, cmax[k], dmax[k], wear, grid_charge,
                                  batt_export, curtail, icap[k], ipen[k])[0]
                          for m in range(mlo, mhi + 1)])
            flo, fhi, f_convex = _convex_run(f, 0, f.shape[0] - 1)
            assert fast[k] == (flo <= fhi and f_convex and _convex_run(v[k + 1], i_min, n)[2])


def test_same_inputs_compares_every_input_and_the_sign_of_zero():
    inputs = [np.array([x, x]) for x in (1.0, 0.0, 0.3, 0.1, np.inf, 2.0, np.inf, 1.5, 1.5,
                                         np.inf, np.inf)]
    assert _same_inputs(0, *inputs)
    for q in range(len(inputs)):
        changed = [a.copy() for a in inputs]
        changed[q][1] = 7.0
        assert not _same_inputs(0, *changed), q
    signed = [a.copy() for a in inputs]
    signed[1][1] = -0.0  # pv -0.0 after 0.0: not the same bits
    assert not _same_inputs(0, *signed)


def _replay_every_move(args, e_lo, h, n, v, e0, e_min, e_max, per_move_bound=False):
    """The forward pass as first written: every grid move through the meter; with
    ``per_move_bound`` the plain per-move scan (before blocks of grid moves were skipped): once
    the candidates are scored, a grid move whose chord lower bound plus ``V_{k+1}`` is not below
    the best less 1e-12 is not run through the meter."""
    (load, pv, buy, sell, xlim, ilim, acap, eta_c, eta_d, cmax, dmax, wear, grid_charge,
     batt_export, curtail, icap, ipen) = args
    soe, costs = [e0], []
    cands = np.empty(_NBREAK + 3)
    xs, ys, slopes = np.empty(_NBREAK + 3), np.empty(_NBREAK + 3), np.empty(_NBREAK + 3)
    e = e0

    def cost(k, dl):
        return _period(dl, load[k], pv[k], buy[k], sell[k], xlim[k], ilim[k], acap[k], eta_c,
                       eta_d, cmax[k], dmax[k], wear, grid_charge, batt_export, curtail,
                       icap[k], ipen[k])[0]

    for k in range(load.shape[0]):
        lo, hi = move_range(e, e_min, e_max, stored_energy(cmax[k], eta_c),
                            removed_energy(dmax[k], eta_d))
        nc = _breakpoints(load[k], pv[k], xlim[k], ilim[k], acap[k], eta_c, eta_d, cmax[k],
                          dmax[k], grid_charge, batt_export, curtail, cands, icap[k], ipen[k])
        best, best_d, best_c, fb_d, fb_c = np.inf, 0.0, 0.0, -np.inf, np.inf
        nk = 0
        for dl in list(cands[:nc]) + [0.0, hi, lo]:
            dl = max(min(dl, hi), lo)
            pc = cost(k, dl)
            if pc == np.inf:
                continue
            xs[nk], ys[nk], nk = dl, pc, nk + 1
            if dl > fb_d:
                fb_d, fb_c = dl, pc
            s = pc + _interp(v[k + 1], e + dl, e_lo, h, n)
            if s < best - 1e-12:
                best, best_d, best_c = s, dl, pc
        bound = (per_move_bound and icap[k] == np.inf and not (curtail and buy[k] < 0.0)
                 and nk > 1)
        margin = _chords(xs, ys, slopes, nk)
        seg = 0
        jlo = max(math.ceil((e + lo - e_lo) / h - 1e-9), 0)
        jhi = min(math.floor((e + hi - e_lo) / h + 1e-9), n)
        for j in range(jlo, jhi + 1):
            dl = max(min(e_lo + j * h - e, hi), lo)
            if bound and best - 1e-12 < np.inf:
                while dl > xs[seg + 1] and seg + 2 < nk:
                    seg += 1
                if (xs[seg] <= dl <= xs[seg + 1]
                        and ys[seg] + slopes[seg] * (dl - xs[seg]) - margin + v[k + 1, j]
                        >= best - 1e-12):
                    continue
            pc = cost(k, dl)
            if pc == np.inf:
                continue
            if dl > fb_d:
                fb_d, fb_c = dl, pc
            s = pc + v[k + 1, j]
            if s < best - 1e-12:
                best, best_d, best_c = s, dl, pc
        if best == np.inf:
            best_d, best_c = (fb_d if fb_c < np.inf else 0.0), fb_c
        costs.append(best_c)
        e = e + best_d
        if e > e_max and e - e_max < 1e-9:
            e = e_max
        if e < e_min and e_min - e < 1e-9 and e0 >= e_min:
            e = e_min
        soe.append(e)
    return np.array(soe), np.array(costs)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_replay_is_every_grid_move_through_the_meter(seed, soft):
    p, step = _problem(seed)
    e_lo, h, n, i_min = _grid(p, step)
    args = _kernel_args(p, soft)
    v, _ = _backward(*args, e_lo, h, n, p.terminal_value, p.e_min_kwh, i_min)
    got = _replay(*args, e_lo, h, n, v, p.initial_kwh, p.e_min_kwh, p.e_max_kwh)
    ref = _replay_every_move(args, e_lo, h, n, v, p.initial_kwh, p.e_min_kwh, p.e_max_kwh)
    assert got[0].tobytes() == ref[0].tobytes() and got[1].tobytes() == ref[1].tobytes()


def _replan_day(seed: int) -> tuple[SchedulingProblem, float]:
    """A day of hourly plans as the replay re-plans it: many grid steps per move, a two-price
    tariff (periods of equal prices: plans tied to the last bit) or noisy prices; sometimes
    negative prices, an import cap, PV-only charging; and a grid step."""
    rng = np.random.default_rng(seed)
    hours = np.arange(24)
    if rng.random() < 0.5:
        buy = np.where((hours >= 18) & (hours < 23), 0.45, 0.28)
        sell = np.full(24, rng.choice([0.0, 0.05]))
    else:
        buy = 0.35 + 0.15 * np.sin(2 * np.pi * (hours - 8) / 24) + rng.normal(0, 0.05, 24)
        sell = buy * rng.uniform(0.0, 0.9)
    if rng.random() < 0.25:
        sell = sell - 0.3 * (rng.random(24) < 0.3)  # negative export prices
    if rng.random() < 0.2:
        buy = buy - 0.5 * (rng.random(24) < 0.2)  # negative buy prices
    pv = np.clip(rng.uniform(0, 3) * np.sin(np.pi * (hours - 6) / 12), 0, None)
    load = rng.uniform(0.3, 1.5, 24)
    bat = Battery(capacity_kwh=10.0, power_charge_kw=rng.uniform(1, 5),
                  power_discharge_kw=rng.uniform(1, 5), eta_charge=rng.uniform(0.9, 1.0),
                  eta_discharge=rng.uniform(0.9, 1.0), soc_min=0.2, soc_max=1.0,
                  soc_initial=0.2)
    opts = {"initial_kwh": bat.e_min_kwh + rng.random() * bat.usable_kwh,
            "terminal_value": rng.uniform(0, 0.4), "allow_curtailment": bool(rng.random() < 0.5),
            "charge_source": "any" if rng.random() < 0.8 else "pv"}
    if rng.random() < 0.2:
        opts["import_cap_kw"] = rng.uniform(0.5, 1.5)
    p = SchedulingProblem.build(buy, sell, load, pv, bat, **opts)
    return p, p.battery.usable_kwh / int(rng.integers(100, 1000))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.0, 2.0, 50.0]), st.integers(0, 23),
       st.floats(0.0, 1.0))
def test_a_tails_replay_skips_blocks_as_the_per_move_scan(seed, rough, cut, where):
    """The forward pass of a tail from the block minima of the day's backward pass (as a re-plan
    reuses them) chooses bit for bit the moves of the plain per-move scan; for any value
    function too: the DP's with noise of up to ``rough`` grid steps at the highest buy price
    (grid moves then win often, next to blocks that cannot)."""
    p, step = _replan_day(seed)
    e_lo, h, n, i_min = _grid(p, step)
    args = p.kernel_args()
    v, _, block_min = _backward_pass(args, (e_lo, h, n, p.terminal_value, p.e_min_kwh, i_min))
    if rough:
        rng = np.random.default_rng(seed)
        v = v + rng.uniform(0.0, rough * h * np.abs(p.buy).max(), v.shape)
        block_min = _block_minima(v)
    tail = tuple(a[cut:] if isinstance(a, np.ndarray) else a for a in args)
    e0 = p.e_min_kwh + where * p.battery.usable_kwh
    got = _replay_blocks(*tail, e_lo, h, n, v[cut:], block_min[cut:], e0, p.e_min_kwh,
                         p.e_max_kwh)
    ref = _replay_every_move(tail, e_lo, h, n, v[cut:], e0, p.e_min_kwh, p.e_max_kwh,
                             per_move_bound=True)
    assert got[0].tobytes() == ref[0].tobytes() and got[1].tobytes() == ref[1].tobytes()


@st.composite
def blocks_of_moves(draw):
    """A block of grid moves in a chord, the values of their targets and a threshold on the edge
    of some move's per-move test (a few ulps either side)."""
    fin = st.floats(-50.0, 50.0)
    e_lo, h, e = draw(st.floats(0.0, 100.0)), draw(st.floats(0.01, 5.0)), draw(st.floats(0, 150))
    start = draw(st.integers(0, 100))
    jend = start + draw(st.integers(1, VALUE_BLOCK - 1))
    lo, hi = -draw(st.floats(0.0, 200.0)), draw(st.floats(0.0, 200.0))
    first, last = _grid_move(start, e_lo, h, e, lo, hi), _grid_move(jend, e_lo, h, e, lo, hi)
    # the chord: around the block, or ending inside it
    x0 = draw(st.sampled_from([first, first - 1.0, first + 0.5 * (last - first)]))
    x1 = draw(st.sampled_from([last, last + 1.0, first + 0.5 * (last - first)]))
    sl = draw(st.one_of(st.just(np.nan), st.just(0.0), st.floats(-3.0, 3.0)))
    y0, margin = draw(fin), draw(st.sampled_from([0.0, 1e-9, 1e-6]))
    base, trend = draw(st.floats(-1e4, 1e4)), draw(st.floats(-3.0, 3.0))
    noise = draw(st.lists(st.floats(0.0, 1e-6), min_size=jend - start + 1,
                          max_size=jend - start + 1))
    values = base + trend * h * np.arange(jend - start + 1) + np.array(noise)
    if draw(st.booleans()):
        values[draw(st.integers(0, jend - start))] = np.inf
    at = draw(st.integers(0, jend - start))
    thr = y0 + sl * (_grid_move(start + at, e_lo, h, e, lo, hi) - x0) - margin + values[at]
    if not np.isfinite(thr):
        thr = base
    ulps = draw(st.integers(-3, 3))
    for _ in range(abs(ulps)):
        thr = np.nextafter(thr, np.inf if ulps > 0 else -np.inf)
    return e_lo, h, e, lo, hi, start, jend, x0, x1, y0, sl, margin, values, thr


@settings(max_examples=500, deadline=None)
@given(blocks_of_moves())
def test_a_block_is_skipped_only_if_each_of_its_moves_would_be(block):
    """The forward pass skips a block of grid moves at once only where the per-move test (the
    chord lower bound plus the target's value, not below the threshold) holds for every move of
    the block."""
    e_lo, h, e, lo, hi, start, jend, x0, x1, y0, sl, margin, values, thr = block
    first, last = _grid_move(start, e_lo, h, e, lo, hi), _grid_move(jend, e_lo, h, e, lo, hi)
    if _block_cannot_win(first, last, x0, x1, y0, sl, margin, values.min(), thr):
        for j in range(start, jend + 1):
            dl = _grid_move(j, e_lo, h, e, lo, hi)
            assert _move_cannot_win(dl, x0, x1, y0, sl, margin, values[j - start], thr), j
