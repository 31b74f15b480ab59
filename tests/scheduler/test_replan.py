"""Re-plans of a tail of the planned problem reuse its backward pass, other problems do not, and
the plan is bit for bit the plan of a fresh DP (pvbess.optimize.replan); a tail is the problem
built from the tail's inputs (SchedulingProblem.tail)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sched_synthetic import STEP_KWH, make_site, small_battery

import pvbess
from pvbess import SchedulingProblem
from pvbess.optimize.dp import dp_schedule
from pvbess.optimize.replan import BackwardCache
from pvbess.scheduler import replay as replay_module
from pvbess.scheduler.engine import OptimizationEngine

SITE = make_site(days=2, seed=11)
LOAD = (SITE["ev_kwh"] + SITE["mall_kwh"]).to_numpy()
PV = SITE["pv_kwh"].to_numpy()
BUY = np.where((SITE.index.hour >= 18) & (SITE.index.hour < 23), 0.45, 0.28)
SELL = np.full(len(SITE), 0.05)


def _problem(start: int, initial_kwh: float, load=LOAD, source="any", buy=BUY
             ) -> SchedulingProblem:
    return SchedulingProblem.build(buy[start:24], SELL[start:24], load[start:24], PV[start:24],
                                   small_battery(), initial_kwh=initial_kwh,
                                   charge_source=source, terminal_value=0.1)


def _same(a, b) -> None:
    np.testing.assert_array_equal(a.soe_kwh, b.soe_kwh)
    assert a.cost == b.cost and a.objective == b.objective
    for name, column in a.columns.items():
        np.testing.assert_array_equal(column, b.columns[name])


@settings(max_examples=40, deadline=None)
@given(starts=st.lists(st.integers(0, 23), min_size=2, max_size=8),
       energies=st.lists(st.floats(0.0, 200.0), min_size=8, max_size=8),
       bump=st.sampled_from([None, 0, 5, 12, 19, 23]),
       source=st.sampled_from(["any", "pv", "surplus"]))
def test_a_tail_replan_is_the_fresh_plan(starts, energies, bump, source):
    """Any sequence of tails (shrinking, growing, the same again, tails of tails), any initial
    energy (below the window too: another grid), a forecast re-issued in one period (a new
    problem) or not: each plan equals the DP of the tail built from its inputs, bit for bit."""
    tails = BackwardCache()
    load, buy = LOAD.copy(), BUY.copy()
    day = _problem(0, energies[0], load, source, buy)
    previous = day
    for i, start in enumerate(starts):
        if bump is not None and i == 1:  # a re-issued forecast: a new problem
            load[bump] += 30.0
            buy[bump] *= 4.0
            day = previous = _problem(0, energies[0], load, source, buy)
        base, offset = (previous, previous.tail_of[1]) if previous.tail_of and i % 2 \
            and start >= previous.tail_of[1] else (day, 0)
        problem = base.tail(start - offset, energies[i])
        built = _problem(start, energies[i], load, source, buy)
        expected = dp_schedule(built, STEP_KWH)
        _same(dp_schedule(problem, STEP_KWH, tails=tails), expected)
        _same(dp_schedule(problem, STEP_KWH), expected)  # the tail is the built problem
        previous = problem
    assert tails.hits + tails.misses == len(starts)


def test_tails_are_reused_other_problems_are_not():
    tails = BackwardCache()
    day = _problem(0, 120.0)
    for start in (0, 1, 5, 23):
        dp_schedule(day.tail(start, 120.0), STEP_KWH, tails=tails)
    assert (tails.hits, tails.misses) == (3, 1)
    dp_schedule(day.tail(3, 120.0).tail(4, 90.0), STEP_KWH, tails=tails)  # period 7 of day
    assert (tails.hits, tails.misses) == (4, 1)
    dp_schedule(_problem(6, 120.0), STEP_KWH, tails=tails)  # equal arrays, but built anew
    dp_schedule(_problem(0, 120.0).tail(7, 120.0), STEP_KWH, tails=tails)  # another problem's
    dp_schedule(day.tail(2, 120.0), STEP_KWH, tails=tails)  # the day again: its pass is gone
    dp_schedule(day.tail(8, 120.0), 2.0, tails=tails)  # another grid
    dp_schedule(day.tail(8, 120.0).replace(terminal_value=0.3), STEP_KWH, tails=tails)
    assert (tails.hits, tails.misses) == (4, 6)


def test_a_replay_day_reuses_every_replan(monkeypatch):
    """Persistence forecasts do not change within a day: one backward pass per day."""
    engines = []

    class Engine(OptimizationEngine):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            engines.append(self)

    monkeypatch.setattr(replay_module, "OptimizationEngine", Engine)
    pvbess.replay(make_site(days=3, seed=2), battery=small_battery(), forecast="persistence",
                  bill="energy", start="2024-03-02", days=2, energy_step_kwh=STEP_KWH,
                  progress=False, compare=False)
    tails = engines[0]._tails
    assert tails.misses == 2 and tails.hits == 2 * 24 - 2  # the day plans + 23 re-plans each


def test_a_callers_later_write_is_not_seen_by_a_problem_or_its_tails():
    """A problem owns its arrays: a write into the caller's arrays after building changes
    neither the problem nor its tails, so a reused pass stays the problem's."""
    load = LOAD.copy()
    tails = BackwardCache()
    day = _problem(0, 120.0, load)
    first = dp_schedule(day.tail(3, 120.0), STEP_KWH)
    dp_schedule(day, STEP_KWH, tails=tails)
    load[19] += 40.0
    assert not day.load_kwh.flags.writeable and day.load_kwh[19] == LOAD[19]
    _same(dp_schedule(day.tail(3, 120.0), STEP_KWH, tails=tails), first)
    changed = _problem(3, 120.0, load)
    _same(dp_schedule(changed, STEP_KWH, tails=tails), dp_schedule(changed, STEP_KWH))
    assert (tails.hits, tails.misses) == (1, 2)


def test_a_tail_checks_its_start_and_state():
    day = _problem(0, 120.0)
    for start, energy in ((-1, 120.0), (24, 120.0), (3, float("nan")), (3, -1.0),
                          (3, day.battery.capacity_kwh + 1.0)):
        with pytest.raises(pvbess.DataError):
            day.tail(start, energy)


@settings(max_examples=30, deadline=None)
@given(start=st.integers(0, 23), energy=st.floats(0.0, 200.0),
       floor=st.sampled_from([None, 0.04, 0.06]), cap_kw=st.sampled_from([np.inf, 60.0]),
       co2=st.sampled_from([0.0, 0.05]))
def test_a_tail_is_the_problem_built_from_the_tail_inputs(start, energy, floor, cap_kw, co2):
    """Every field of ``tail(start, e)`` equals that of the problem built from the inputs of
    periods ``start``.. (export floor, import caps, CO2 price, demand charges included)."""
    hp = (SITE.index.hour >= 18) & (SITE.index.hour < 23)
    options = dict(charge_source="any", terminal_value=0.1, export_price_floor=floor,
                   co2_price_per_kg=co2, co2_kg_per_kwh=0.45)

    def build(first: int, initial_kwh: float) -> SchedulingProblem:
        caps = np.where(hp[first:24], cap_kw, np.inf)
        groups = [(hp[first:24], 12.0, 30.0, "HP"), (~hp[first:24], 3.0, 0.0, "HFP")]
        groups = [g for g in groups if g[0].any()]
        return SchedulingProblem.build(BUY[first:24], SELL[first:24], LOAD[first:24],
                                       PV[first:24], small_battery(), initial_kwh=initial_kwh,
                                       import_cap_kw=caps, demand_charges=groups, **options)

    tail, built = build(0, 120.0).tail(start, energy), build(start, energy)
    assert tail.tail_of[1] == start and built.tail_of is None
    for name in ("load_kwh", "pv_kwh", "energy_price", "buy", "sell", "import_limit_kwh",
                 "export_limit_kwh", "inverter_limit_kwh", "charge_max_kwh",
                 "discharge_max_kwh"):
        assert getattr(tail, name).tobytes() == getattr(built, name).tobytes(), name
        assert not getattr(tail, name).flags.writeable
    assert (tail.import_cap_kwh is None) == (built.import_cap_kwh is None)
    if tail.import_cap_kwh is not None:
        assert tail.import_cap_kwh.tobytes() == built.import_cap_kwh.tobytes()
    assert [(g.mask.tolist(), g.price_per_kw, g.incumbent_kw, g.name)
            for g in tail.demand_charges] == [(g.mask.tolist(), g.price_per_kw,
                                                g.incumbent_kw, g.name)
                                               for g in built.demand_charges]
    for name in ("dt_h", "initial_kwh", "terminal_value", "charge_source", "co2_price_per_kg",
                 "export_price_floor", "allow_battery_export", "allow_curtailment"):
        assert getattr(tail, name) == getattr(built, name), name
    assert tail.tail(0, energy).tail_of == (tail.tail_of[0], start)  # a tail of a tail


def _bits(result) -> list[bytes]:
    """Every number of a result, as bytes (-0.0 is not 0.0)."""
    return [np.asarray(result.soe_kwh).tobytes(), np.float64(result.objective).tobytes(),
            np.float64(result.info["value_kwh0"]).tobytes()] + [
        np.asarray(column).tobytes() for column in result.columns.values()]


@settings(max_examples=40, deadline=None)
@given(e0=st.sampled_from([0.0, 20.0, 77.7, 150.0, 200.0]),
       moves=st.lists(st.tuples(st.integers(1, 6), st.sampled_from(["follow", "ulp", "other"])),
                      min_size=1, max_size=8),
       source=st.sampled_from(["any", "pv"]))
def test_a_replan_from_the_planned_energy_reuses_the_forward_pass(e0, moves, source):
    """A plant that ran the plan starts the next re-plan at, bit for bit, the energy the plan
    stored for that period: on the same backward pass, the last forward pass's suffix is the
    plan (counted as reused); one ulp off, or another energy, plans anew. Either way it is the
    fresh DP of the built tail, bit for bit."""
    tails = BackwardCache()
    day = _problem(0, e0, source=source)
    start, last = 0, dp_schedule(day, STEP_KWH, tails=tails)
    for step, how in moves:
        if start + step > 23:
            break
        planned = float(last.soe_kwh[step])
        energy = {"follow": planned, "ulp": float(np.nextafter(planned, 1e9)),
                  "other": 100.0 if planned != 100.0 else 50.0}[how]
        start += step
        hits, backward_hits = tails.forward_hits, tails.hits
        got = dp_schedule(day.tail(start, energy), STEP_KWH, tails=tails)
        same_pass = tails.hits == backward_hits + 1  # (below e_min the grid is another)
        assert tails.forward_hits == hits + (how == "follow" and same_pass)
        assert _bits(got) == _bits(dp_schedule(_problem(start, energy, source=source), STEP_KWH))
        assert not got.soe_kwh.flags.writeable  # shared with the cache: read-only
        last = got
