"""pvbess.balance: simulate's table (against a slow construction), its calendar cache, and the
one implementation of the energy identities (balance_residuals, max_residuals, check_balance)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pvbess
from pvbess import balance as bal
from pvbess import dispatch
from pvbess.timeseries import DataError, local_hours, step_hours

STRATEGIES = ("six_phase", "grid_only", "pv_only", "self_consumption", "schedule")


@pytest.fixture(scope="module")
def year() -> pd.DataFrame:
    return pvbess.load_iquitos()[["pv_kwh", "ev_kwh", "mall_kwh"]]


def setpoint_of(site: pd.DataFrame) -> np.ndarray:
    return np.sin(np.arange(len(site)) / 5.0) * 300.0


def slow_balance(site, battery, rules, strategy, tariff, co2_kg_per_kwh, setpoint=None):
    """The balance table built column by column from a fresh calendar, as simulate did before
    it cached the calendar and built one float block (the reference for its output)."""
    index = site.index
    pv, ev, mall = (site[c].to_numpy(dtype=np.float64) for c in ("pv_kwh", "ev_kwh", "mall_kwh"))
    sp = np.zeros(len(index)) if setpoint is None else np.asarray(setpoint, dtype=np.float64)
    dt = step_hours(index)
    out = dispatch.run(dispatch.STRATEGY_CODES[strategy], pv, ev, mall, local_hours(index), sp,
                       dt, dispatch.make_params(battery, rules))
    cols = {"pv_kwh": pv, "ev_kwh": ev, "mall_kwh": mall}
    names = ["pv_to_ev_kwh", "pv_to_bess_kwh", "pv_to_mall_kwh", "pv_export_kwh",
             "pv_curtailed_kwh", "bess_to_ev_kwh", "bess_to_mall_kwh", "bess_export_kwh",
             "grid_to_ev_kwh", "grid_to_mall_kwh", "grid_to_bess_kwh", "soe_end_kwh"]
    for row, name in enumerate(names):  # the O_* rows, in order
        cols[name] = out[row]
    cols["grid_import_kwh"] = (cols["grid_to_ev_kwh"] + cols["grid_to_mall_kwh"]
                               + cols["grid_to_bess_kwh"])
    charge = cols["pv_to_bess_kwh"] + cols["grid_to_bess_kwh"]
    discharge = cols["bess_to_ev_kwh"] + cols["bess_to_mall_kwh"] + cols["bess_export_kwh"]
    cols["bess_charge_kwh"], cols["bess_discharge_kwh"] = charge, discharge
    cols["bess_loss_kwh"] = ((1.0 - battery.eta_charge) * charge
                             + discharge * (1.0 / battery.eta_discharge - 1.0))
    cap = battery.capacity_kwh
    cols["soc_frac"] = out[dispatch.O_SOC] / cap if cap > 0 else np.zeros(len(index))
    cols["phase"] = out[dispatch.O_PHASE].astype(np.int8)
    cols["setpoint_kwh"] = sp if setpoint is not None else np.full(len(index), np.nan)
    cols["setpoint_deviation_kwh"] = ((charge - discharge) - sp if setpoint is not None
                                      else np.full(len(index), np.nan))
    cols["tariff_period"] = tariff.period(index)
    cols["energy_price_pen_per_kwh"] = tariff.energy_price(index)
    cols["energy_cost_pen"] = cols["grid_import_kwh"] * cols["energy_price_pen_per_kwh"]
    cols["co2_kg"] = cols["grid_import_kwh"] * float(co2_kg_per_kwh)
    frame = pd.DataFrame({name: cols[name] for name in bal.BALANCE_COLUMNS}, index=index)
    frame.attrs.update({
        "strategy": strategy, "battery": battery.asdict(), "rules": rules.asdict(),
        "tariff": tariff.asdict(), "co2_kg_per_kwh": float(co2_kg_per_kwh), "dt_h": dt,
        "e_initial_kwh": battery.e_initial_kwh, "allow_grid_charge": False,
        "charge_source": "surplus",
        "allow_battery_export": False})
    return frame


def assert_same_table(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert list(got.dtypes) == list(expected.dtypes)
    assert got.columns.dtype == expected.columns.dtype
    assert got.attrs == expected.attrs


# -- simulate: the same table as the slow construction, bit for bit --------------------------------
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_simulate_equals_the_slow_construction_on_the_iquitos_year(year, strategy):
    """All five strategies, bit for bit: values, dtypes, column index and attrs."""
    battery, rules, tariff = pvbess.Battery(), pvbess.SixPhaseRules(), pvbess.Tariff()
    setpoint = setpoint_of(year) if strategy == "schedule" else None
    expected = slow_balance(year, battery, rules, strategy, tariff, 0.4521, setpoint)
    for _ in range(2):  # computing the calendar, then reusing it
        got = pvbess.simulate(year, battery, rules, strategy, tariff=tariff, setpoint_kwh=setpoint)
        assert_same_table(got, expected)


def test_simulate_equals_the_slow_construction_other_specs_and_15_min_steps(year):
    site = (year.iloc[:24 * 40].resample("15min").ffill() / 4).iloc[:-1]
    site.index = pd.DatetimeIndex(site.index, freq="15min")
    battery = pvbess.Battery(capacity_kwh=0.0, power_charge_kw=0.0, power_discharge_kw=0.0)
    rules = pvbess.SixPhaseRules(peak_threshold_kw=1500.0, export_limit_kw=900.0)
    tariff = pvbess.Tariff(hp_start_h=17.5, hp_end_h=22.25, energy_hp_pen_per_kwh=0.6)
    for b in (battery, pvbess.Battery(capacity_kwh=900.0, power_charge_kw=150.0,
                                      power_discharge_kw=200.0, eta_charge=0.9)):
        for tf in (tariff, pvbess.Tariff()):
            got = pvbess.simulate(site, b, rules, tariff=tf, co2_kg_per_kwh=0.6)
            assert_same_table(got, slow_balance(site, b, rules, "six_phase", tf, 0.6))


# -- the calendar cache ----------------------------------------------------------------------------
def test_simulate_without_building_from_blocks(year, monkeypatch):
    """The path for a pandas without pandas.api.internals.create_dataframe_from_blocks."""
    expected = pvbess.simulate(year, strategy="self_consumption")
    monkeypatch.setattr(bal, "_from_blocks", None)
    assert_same_table(pvbess.simulate(year, strategy="self_consumption"), expected)


def test_changing_a_returned_table_changes_no_later_one(year):
    first = pvbess.simulate(year)
    expected = pvbess.simulate(year).copy(deep=True)
    first.loc[first.index[:5], "tariff_period"] = "XX"
    first.iloc[5, first.columns.get_loc("tariff_period")] = "YY"
    first.loc[first.index[:5], "energy_price_pen_per_kwh"] = -1.0
    first["pv_kwh"] *= 2.0
    first.columns.name = "changed"
    assert_same_table(pvbess.simulate(year), expected)
    assert pvbess.simulate(year).columns.name is None
    assert (year["pv_kwh"].to_numpy() * 2 == first["pv_kwh"].to_numpy()).all()  # site untouched


def test_calendar_cache_is_keyed_by_the_index_object_and_bounded(year):
    site = year.iloc[:48]
    twin = site.copy()
    twin.index = site.index.copy(deep=True)  # equal values, another object
    assert twin.index is not site.index
    assert_same_table(pvbess.simulate(twin), pvbess.simulate(site))
    for k in range(bal.CALENDAR_CACHE_SIZE + 3):
        other = year.iloc[k:k + 48]
        pvbess.simulate(other)
        assert bal._calendar(other.index).index is other.index
    assert len(bal._CALENDARS) <= bal.CALENDAR_CACHE_SIZE
    for k in range(bal.TARIFF_CACHE_SIZE + 3):
        pvbess.simulate(site, tariff=pvbess.Tariff(energy_hp_pen_per_kwh=1.0 + k))
    assert len(bal._calendar(site.index).tariffs) <= bal.TARIFF_CACHE_SIZE


def test_a_bad_index_is_an_error_every_time_and_not_cached(year):
    site = year.iloc[:48].iloc[[0, 1, 2, 5, 6]]
    for _ in range(2):
        with pytest.raises(DataError, match="gap"):
            pvbess.simulate(site)
    assert all(c.index is not site.index for c in bal._CALENDARS.values())


# -- the energy identities -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_weeks(year) -> pd.DataFrame:
    return pvbess.simulate(year.iloc[:14 * 24])


def test_balance_residuals_one_column_per_identity_all_zero(year, two_weeks):
    res = pvbess.balance_residuals(two_weeks)
    assert list(res.columns) == [k for k in bal.IDENTITIES if k != "run_closure"]
    assert res.index.equals(two_weeks.index)
    assert (res.abs() <= bal.TOL_KWH).all().all()
    top = pvbess.max_residuals(two_weeks)
    assert list(top.index) == list(bal.IDENTITIES)
    assert (top <= bal.TOL_KWH).all(), top
    for strategy in STRATEGIES:
        b = pvbess.simulate(year, strategy=strategy,
                            setpoint_kwh=setpoint_of(year) if strategy == "schedule" else None)
        assert (pvbess.max_residuals(b) <= bal.TOL_KWH).all(), strategy
        pvbess.check_balance(b)


def test_flow_identities_hold_for_sums_of_steps(two_weeks):
    daily = two_weeks.drop(columns=["tariff_period"]).resample("D").sum()
    assert (pvbess.flow_residuals(daily).abs() <= 1e-9 * daily["pv_kwh"].max()).all().all()
    assert list(pvbess.flow_residuals(daily).columns) == list(bal.IDENTITIES)[:6]


def broken(balance: pd.DataFrame, row: int, column: str, delta: float) -> pd.DataFrame:
    out = balance.copy()
    out.attrs = dict(balance.attrs)
    out.iloc[row, out.columns.get_loc(column)] += delta
    return out


@pytest.mark.parametrize("column, delta, identity, message", [
    ("pv_to_mall_kwh", 1e-6, "pv_split", "pv = pv_to_ev"),
    ("grid_to_ev_kwh", 1e-6, "ev_supply", "ev = pv_to_ev"),
    ("grid_import_kwh", 1e-6, "grid_import", "grid_import = grid_to_ev"),
    ("bess_charge_kwh", 1e-6, "charge_column", "bess_charge = pv_to_bess"),
    ("soe_end_kwh", 0.5, "storage", "E_next = E"),
])
def test_a_broken_identity_is_measured_and_named(two_weeks, column, delta, identity, message):
    row = 30
    table = broken(two_weeks, row, column, delta)
    res = pvbess.balance_residuals(table)
    assert abs(res[identity].iloc[row]) == pytest.approx(delta, rel=1e-3)
    assert pvbess.max_residuals(table)[identity] == pytest.approx(delta, rel=1e-3)
    assert res.drop(columns=[identity]).iloc[:row].abs().max().max() <= bal.TOL_KWH
    stamp = str(two_weeks.index[row])
    with pytest.raises(DataError, match=rf"{message}.*\[{identity}\].*row {row} \({stamp}\)"):
        pvbess.check_balance(table)


def test_window_power_and_whole_run_identities(two_weeks):
    battery = pvbess.Battery()
    assert pvbess.max_residuals(broken(two_weeks, 3, "soe_end_kwh", -1.0))["soc_bounds"] == \
        pytest.approx(1.0)  # the night's SOC sits at E_min
    charging = int(np.flatnonzero(two_weeks["bess_charge_kwh"].to_numpy() > 0)[0])
    both = broken(two_weeks, charging, "bess_to_mall_kwh", 2.0)
    assert pvbess.balance_residuals(both)["charge_and_discharge"].iloc[charging] == 0.0  # 2 vs col
    both = broken(both, charging, "bess_discharge_kwh", 2.0)
    assert pvbess.balance_residuals(both)["charge_and_discharge"].iloc[charging] == \
        pytest.approx(min(2.0, two_weeks["bess_charge_kwh"].iloc[charging]))
    over = broken(two_weeks, charging, "bess_charge_kwh", battery.power_charge_kw)
    assert pvbess.max_residuals(over)["charge_power"] > 0
    lost = broken(two_weeks, 40, "bess_loss_kwh", 1.0)  # energy vanishes: only the run notices
    top = pvbess.max_residuals(lost)
    assert top.drop("run_closure").max() <= bal.TOL_KWH
    assert top["run_closure"] * two_weeks[["pv_kwh", "grid_import_kwh"]].sum().sum() == \
        pytest.approx(1.0, rel=1e-3)
    with pytest.raises(DataError, match="bess_loss"):
        pvbess.check_balance(lost)


def test_identities_need_the_run_specs(two_weeks):
    table = two_weeks.copy()
    table.attrs = {}
    with pytest.raises(DataError, match=r"attrs\['battery'\]"):
        pvbess.balance_residuals(table)
    with pytest.raises(DataError, match="soe_end_kwh"):
        pvbess.balance_residuals(two_weeks.drop(columns=["soe_end_kwh"]))
