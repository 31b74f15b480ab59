"""The manager's three scenarios, the optimization engine and the daily view."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sched_synthetic import STEP_KWH, make_site, small_battery

from pvbess import (
    DailyViewBuilder,
    OptimizationEngine,
    PerfectForecast,
    PersistenceForecast,
    SimpleBatterySystemManager,
    SimulatedController,
    Tariff,
)
from pvbess.optimize.exact import exact_schedule
from pvbess.scheduler.db import DatabaseLockedError
from pvbess.scheduler.engine import OptimizationInput
from pvbess.scheduler.replay import site_actuals

TZ = "America/Lima"


def setup(days=2, dt_h=1.0, forecast=PerfectForecast, db=":memory:", battery=None, **site):
    actual = site_actuals(make_site(days=days, dt_h=dt_h, **site))
    battery = small_battery() if battery is None else battery
    ctl = SimulatedController(actual, battery)
    engine = OptimizationEngine(battery, energy_step_kwh=STEP_KWH)
    mgr = SimpleBatterySystemManager(engine, ctl, forecast(actual), db)
    return actual, ctl, mgr


def run(mgr, ctl, periods):
    """Run the plant and the hourly updates for ``periods`` periods."""
    plans = []
    for _ in range(periods):
        ev = ctl.run_period()
        plans.append(mgr.update_hourly_schedule(ev.timestamp))
    return plans


def test_tomorrow_hourly_and_end_of_day():
    actual, ctl, mgr = setup(days=1)
    day = actual.index[0].date()
    plan = mgr.create_tomorrows_schedule(day)
    stored = mgr.schedules.get_latest_schedule()
    assert stored.scenario == "tomorrow" and stored.start_period == 0 and len(plan.table) == 24
    assert stored.created_at == pd.Timestamp("2024-02-29 23:55", tz=TZ)
    assert plan.table.index.equals(actual.index[:24])
    pd.testing.assert_frame_equal(stored.plan, plan.table, check_exact=True, check_freq=False)
    assert plan.table["soe_start_kwh"].iloc[0] == ctl.read_energy_kwh()  # real state, not min
    np.testing.assert_array_equal([ctl.programmed(t) for t in actual.index[:24]],
                                  plan.setpoints.to_numpy())
    plans = run(mgr, ctl, 24)
    assert all(p is not None for p in plans[:-1]) and plans[-1] is None
    assert [len(p.table) for p in plans[:-1]] == list(range(23, 0, -1))
    assert mgr.history.get_completed_periods(day.isoformat()) == list(range(24))
    assert mgr.schedules.scenario_counts() == {"tomorrow": 1, "hourly": 23, "restart": 0}
    last = mgr.schedules.get_latest_schedule()
    assert last.start_period == 23 and last.created_at == actual.index[23]
    events = mgr.history.to_frame()
    np.testing.assert_array_equal(events["soe_start_kwh"].to_numpy()[1:],
                                  events["soe_end_kwh"].to_numpy()[:-1])  # nothing lost


def test_perfect_foresight_day_is_near_the_plan_and_above_the_exact_optimum():
    actual, ctl, mgr = setup(days=1, seed=5)
    plan = mgr.create_tomorrows_schedule(actual.index[0].date())
    run(mgr, ctl, 24)
    ev = mgr.history.to_frame()
    realised = float((ev["grid_import_kwh"] * ev["buy_price"]
                      - ev["grid_export_kwh"] * ev["sell_price"] + ev["wear_cost"]).sum())
    b = small_battery()
    bound = exact_schedule(actual["buy_price"], actual["sell_price"], actual["load_kwh"],
                           actual["pv_kwh"], b, initial_kwh=b.e_initial_kwh)
    scale = float((actual["load_kwh"] * actual["buy_price"]).sum())
    assert realised >= bound.cost - 1e-6 * scale
    assert realised <= plan.objective + 1e-3 * scale
    assert realised < float((np.maximum(actual["load_kwh"] - actual["pv_kwh"], 0)
                             * actual["buy_price"]).sum())  # the battery earns something


def test_hourly_update_needs_the_controllers_measurements():
    actual, ctl, mgr = setup(days=1)
    mgr.create_tomorrows_schedule(actual.index[0].date())
    with pytest.raises(RuntimeError, match="no measurements"):
        mgr.update_hourly_schedule(actual.index[0])  # the period has not run yet
    with pytest.raises(ValueError, match="not the start of a period"):
        mgr.update_hourly_schedule(actual.index[0] + pd.Timedelta(minutes=20))


def test_restart_fills_gaps_from_the_controller_and_replans():
    """The manager dies at 07:00; the plant keeps running its program; restart at 10:00."""
    actual, ctl, mgr = setup(days=1)
    mgr.create_tomorrows_schedule(actual.index[0].date())
    run(mgr, ctl, 7)
    program = [ctl.programmed(t) for t in actual.index[7:10]]
    for _ in range(3):  # no manager: the inverter follows the last program
        ctl.run_period()
    engine = OptimizationEngine(small_battery(), energy_step_kwh=STEP_KWH)
    fresh = SimpleBatterySystemManager(engine, ctl, mgr.forecast, mgr.db)
    plan = fresh.restart_and_reconstruct(actual.index[10])
    assert fresh.last_reconstruction == {"recovered": [7, 8, 9], "missing": []}
    events = fresh.history.to_frame()
    assert events["period"].tolist() == list(range(10))
    charged = events["bess_charge_kwh"] - events["bess_discharge_kwh"]
    np.testing.assert_allclose(charged.to_numpy()[7:10], program, atol=1e-9)
    stored = fresh.schedules.get_latest_schedule()
    assert stored.scenario == "restart" and stored.start_period == 10 and len(plan.table) == 14
    assert plan.table["soe_start_kwh"].iloc[0] == ctl.read_energy_kwh()
    run(fresh, ctl, 14)
    assert fresh.history.get_completed_periods(actual.index[0].date().isoformat()) == \
        list(range(24))


def test_restart_without_controller_records_reports_the_gap():
    actual, ctl, mgr = setup(days=1)
    mgr.create_tomorrows_schedule(actual.index[0].date())
    run(mgr, ctl, 4)
    blind = SimulatedController(actual, small_battery(), start=actual.index[6],
                                initial_kwh=ctl.read_energy_kwh())
    engine = OptimizationEngine(small_battery(), energy_step_kwh=STEP_KWH)
    fresh = SimpleBatterySystemManager(engine, blind, mgr.forecast, mgr.db)
    fresh.restart_and_reconstruct(actual.index[6])
    assert fresh.last_reconstruction == {"recovered": [], "missing": [4, 5]}


def test_engine_is_pure_and_deterministic():
    actual = site_actuals(make_site(days=1))
    engine = OptimizationEngine(small_battery(), energy_step_kwh=STEP_KWH)
    inputs = OptimizationInput(index=actual.index[3:], load_kwh=actual["load_kwh"].iloc[3:],
                               pv_kwh=actual["pv_kwh"].iloc[3:],
                               buy_price=actual["buy_price"].iloc[3:],
                               sell_price=actual["sell_price"].iloc[3:], initial_kwh=77.0)
    a, b = engine.optimize(inputs), engine.optimize(inputs)
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    assert a.table["soe_start_kwh"].iloc[0] == 77.0 and a.method == "dp"
    assert set(a.tou_intervals()["mode"]) <= {"charge", "discharge", "idle"}
    with pytest.raises(ValueError, match="shape"):
        OptimizationInput(index=actual.index, load_kwh=np.zeros(3), pv_kwh=np.zeros(24),
                          buy_price=np.zeros(24), sell_price=np.zeros(24), initial_kwh=1.0)


# -- the daily view ---------------------------------------------------------------------------
@pytest.mark.parametrize("dt_h", [1.0, 0.25])
def test_daily_view_at_several_times_of_day(dt_h):
    actual, ctl, mgr = setup(days=1, dt_h=dt_h, forecast=PersistenceForecast, seed=9)
    n = len(actual)
    builder = DailyViewBuilder(mgr.history, mgr.schedules, dt_h=dt_h)
    mgr.create_tomorrows_schedule(actual.index[0].date())
    views = {}
    checkpoints = sorted({0, 1, n // 4, (15 * n) // 24, n - 1})
    for k in range(n):
        if k in checkpoints:
            views[k] = builder.build_daily_view(actual.index[k])
        ev = ctl.run_period()
        mgr.update_hourly_schedule(ev.timestamp)
    for k, view in views.items():
        assert len(view.periods) == n and view.periods.index.equals(actual.index)
        assert view.data_sources == ["actual"] * k + ["predicted"] * (n - k)
        assert view.actual_periods == k and view.current_period == k
        events = mgr.history.to_frame().iloc[:k]
        np.testing.assert_array_equal(view.periods["grid_import_kwh"].to_numpy()[:k],
                                      events["grid_import_kwh"].to_numpy())
        in_force = [s for s in mgr.schedules.get_all_schedules(view.day)
                    if s.start_period <= k][-1]
        assert in_force.start_period == k and view.schedule_id == in_force.id
        np.testing.assert_array_equal(view.periods["load_kwh"].to_numpy()[k:],
                                      in_force.plan["load_kwh"].to_numpy())
        p = view.periods
        recomputed = (p["load_kwh"] * p["buy_price"]
                      - (p["grid_import_kwh"] * p["buy_price"] - p["grid_export_kwh"] * p["sell_price"]
                         + p["wear_cost"])).sum()
        assert view.total_savings == pytest.approx(recomputed, rel=1e-12, abs=1e-9)
        assert view.total_cost + view.total_savings == pytest.approx(view.total_grid_only_cost)
        # the view built later "as of" period k is the one seen live at k
        again = builder.build_daily_view(actual.index[k])
        pd.testing.assert_frame_equal(again.periods, view.periods, check_exact=True)


def test_daily_view_marks_missing_and_uses_older_plans_for_gaps():
    actual, ctl, mgr = setup(days=1)
    builder = DailyViewBuilder(mgr.history, mgr.schedules)
    empty = builder.build_daily_view(actual.index[5])
    assert set(empty.data_sources) == {"missing"} and empty.total_savings == 0.0
    mgr.create_tomorrows_schedule(actual.index[0].date())
    for k in range(6):
        ctl.run_period()
        if k != 3:  # period 3 never reaches the store
            mgr.update_hourly_schedule(actual.index[k])
    view = builder.build_daily_view(actual.index[6])
    assert view.data_sources[:6] == ["actual"] * 3 + ["predicted"] + ["actual"] * 2
    assert view.actual_periods == 5
    tomorrow = mgr.schedules.get_all_schedules(view.day)
    plan_for_3 = [s for s in tomorrow if s.start_period <= 3][-1]
    assert view.periods["load_kwh"].iloc[3] == plan_for_3.plan.loc[actual.index[3], "load_kwh"]


def test_two_managers_cannot_write_one_database(tmp_path):
    db = tmp_path / "m.sqlite"
    actual, ctl, first = setup(days=1, db=db)
    engine = OptimizationEngine(small_battery(), energy_step_kwh=STEP_KWH)
    with pytest.raises(DatabaseLockedError, match="another manager"):
        SimpleBatterySystemManager(engine, ctl, first.forecast, db)
    first.create_tomorrows_schedule(actual.index[0].date())
    first.db.close()
    second = SimpleBatterySystemManager(engine, ctl, first.forecast, db)  # after release
    assert len(second.schedules) == 1
    second.db.close()


def _full_bill_manager(actual, db=":memory:"):
    battery = small_battery()
    ctl = SimulatedController(actual, battery)
    engine = OptimizationEngine(battery, tariff=Tariff(), energy_step_kwh=STEP_KWH)
    return ctl, SimpleBatterySystemManager(engine, ctl, PerfectForecast(actual), db)


def test_incumbent_peaks_are_the_recorded_ones_and_survive_a_restart(tmp_path):
    actual = site_actuals(make_site(days=2))
    db = tmp_path / "peaks.sqlite"
    ctl, mgr = _full_bill_manager(actual, db)
    mgr.create_tomorrows_schedule(actual.index[0].date())
    run(mgr, ctl, 30)
    events = mgr.history.to_frame()
    expected = (events["grid_import_kwh"]
                .groupby(Tariff().demand_group(events.index)).max().to_dict())
    assert mgr.peaks_kw == pytest.approx(expected, rel=0, abs=0)
    mgr.db.close()
    _, again = _full_bill_manager(actual, db)  # a restart reads them back from the history
    assert again.peaks_kw == mgr.peaks_kw
    # every plan of the month starts from them: the engine's problem carries them
    inputs = OptimizationInput(index=actual.index[30:48],
                               load_kwh=actual["load_kwh"].to_numpy()[30:48],
                               pv_kwh=actual["pv_kwh"].to_numpy()[30:48],
                               buy_price=actual["buy_price"].to_numpy()[30:48],
                               sell_price=actual["sell_price"].to_numpy()[30:48],
                               initial_kwh=50.0, incumbent_peaks_kw=again.peaks_kw)
    problem = again.engine.problem(inputs)
    assert {g.name: g.incumbent_kw for g in problem.demand_charges} == {
        g.name: again.peaks_kw.get(g.name, 0.0) for g in problem.demand_charges}
    again.db.close()


def test_daily_view_savings_are_on_the_full_bill():
    actual = site_actuals(make_site(days=2))
    ctl, mgr = _full_bill_manager(actual)
    mgr.create_tomorrows_schedule(actual.index[0].date())
    run(mgr, ctl, 24)
    mgr.create_tomorrows_schedule(actual.index[24].date())
    run(mgr, ctl, 10)
    energy_only = DailyViewBuilder(mgr.history, mgr.schedules).build_daily_view(actual.index[34])
    view = DailyViewBuilder(mgr.history, mgr.schedules, tariff=Tariff()).build_daily_view(
        actual.index[34])
    assert view.demand_cost >= 0.0
    assert view.total_savings == pytest.approx(energy_only.total_savings + view.demand_savings)
    assert view.total_cost == pytest.approx(energy_only.total_cost + view.demand_cost)
    assert view.total_cost + view.total_savings == pytest.approx(view.total_grid_only_cost)
    # by hand: the day's HFP and HP peaks against those recorded the day before
    first = mgr.history.to_frame().iloc[:24]
    tariff = Tariff()
    before = first["grid_import_kwh"].groupby(tariff.demand_group(first.index)).max()
    p = view.periods
    groups = tariff.demand_group(p.index)
    cost = 0.0
    for name in set(groups):
        price = tariff.demand_prices()[name[8:]]
        p0 = float(before.get(name, 0.0))
        cost += price * (max(p0, p["grid_import_kwh"][groups == name].max()) - p0)
    assert view.demand_cost == pytest.approx(cost)


@pytest.mark.parametrize("tariff", [None, Tariff()])
def test_engine_plan_is_the_optimizers_table(tariff):
    """The plan's columns (read as arrays, without the result's table) are the optimizer's."""
    from pvbess import optimize_schedule
    from pvbess.optimize.full_bill import full_bill_schedule
    from pvbess.scheduler.engine import PLAN_COLUMNS

    actual = site_actuals(make_site(days=1, seed=3))
    for search_states in (None, 32):
        engine = OptimizationEngine(small_battery(), tariff=tariff, energy_step_kwh=STEP_KWH,
                                    search_states=search_states)
        rows = actual.index[5:]
        inputs = OptimizationInput(
            index=rows, load_kwh=actual["load_kwh"].to_numpy()[5:],
            pv_kwh=actual["pv_kwh"].to_numpy()[5:], buy_price=actual["buy_price"].to_numpy()[5:],
            sell_price=actual["sell_price"].to_numpy()[5:], initial_kwh=70.0,
            incumbent_peaks_kw={"2024-03 HFP": 150.0})
        plan = engine.optimize(inputs)
        problem = engine.problem(inputs)
        if tariff is not None and search_states is not None:
            ref = full_bill_schedule(problem, energy_step_kwh=STEP_KWH,
                                     search_states=search_states)
        else:
            ref = optimize_schedule(problem, energy_step_kwh=STEP_KWH)
        for name in PLAN_COLUMNS:
            np.testing.assert_array_equal(plan.column(name), ref.periods[name].to_numpy(),
                                          err_msg=name)
        assert list(plan.actions) == ref.periods["action"].tolist()
        assert plan.objective == ref.objective


def test_engine_demand_groups_of_suffixes_are_the_tariffs():
    """The engine cuts a day's re-plans' groups from the first plan's: same as the tariff's."""
    tariff = Tariff()
    engine = OptimizationEngine(small_battery(), tariff=tariff)
    index = pd.date_range("2024-01-31 12:00", periods=24, freq="h", tz=TZ)  # two months
    for cut in (0, 3, 11, 12, 17, 23, 5):
        rows = index[cut:]
        n = len(rows)
        inputs = OptimizationInput(index=rows, load_kwh=np.ones(n), pv_kwh=np.zeros(n),
                                   buy_price=np.ones(n), sell_price=np.zeros(n),
                                   initial_kwh=50.0)
        got = engine.problem(inputs).demand_charges
        want = tariff.demand_charges(rows)
        assert [g.name for g in got] == [w[3] for w in want]
        for g, (mask, price, _, _) in zip(got, want):
            np.testing.assert_array_equal(g.mask, mask)
            assert g.price_per_kw == price
