"""Re-plans of a plan's tail reuse its backward pass only when the tail's inputs are unchanged,
and the plan is then bit for bit the plan of a fresh DP (pvbess.optimize.replan)."""

from __future__ import annotations

import numpy as np
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
       energies=st.lists(st.floats(40.0, 200.0), min_size=8, max_size=8),
       bump=st.sampled_from([None, 0, 5, 12, 19, 23]),
       source=st.sampled_from(["any", "pv", "surplus"]))
def test_a_tail_replan_is_the_fresh_plan(starts, energies, bump, source):
    """Any sequence of tails (shrinking, growing, the same again), any initial energy, a forecast
    that changes in one period or not: each plan equals the DP without a cache, bit for bit."""
    tails = BackwardCache()
    load, buy = LOAD.copy(), BUY.copy()
    for i, start in enumerate(sorted(starts)):
        if bump is not None and i == 1:  # a re-issued forecast: the old tail must not serve
            load[bump] += 30.0
            buy[bump] *= 4.0
        problem = _problem(start, energies[i], load, source, buy)
        _same(dp_schedule(problem, STEP_KWH, tails=tails), dp_schedule(problem, STEP_KWH))
    assert tails.hits + tails.misses == len(starts)


def test_unchanged_tails_are_reused_changed_ones_are_not():
    tails = BackwardCache()
    for start in (0, 1, 5, 23):
        dp_schedule(_problem(start, 120.0), STEP_KWH, tails=tails)
    assert (tails.hits, tails.misses) == (3, 1)
    dp_schedule(_problem(6, 120.0, LOAD + 1.0), STEP_KWH, tails=tails)
    dp_schedule(_problem(7, 120.0, LOAD + 1.0), STEP_KWH, tails=tails)
    dp_schedule(_problem(8, 120.0, LOAD + 1.0), 2.0, tails=tails)  # another grid
    assert (tails.hits, tails.misses) == (4, 3)


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
