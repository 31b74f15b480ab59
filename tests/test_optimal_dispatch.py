"""Iquitos year: DP within 0.1 % of the exact optimum; demand charges and the six-phase row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pvbess import Battery, Site, Tariff, iquitos_optimal_dispatch
from pvbess.bill import demand_cost
from pvbess.studies.optimal_dispatch import STRATEGY_COLUMNS


def _synthetic_year(seed: int = 0) -> pd.DataFrame:
    """A synthetic Iquitos-like year (hourly): PV bell, mall daytime plateau, EV 09-21 h."""
    idx = pd.date_range("2025-01-01", periods=8760, freq="h", tz="America/Lima")
    rng = np.random.default_rng(seed)
    h = idx.hour.to_numpy()
    pv = np.clip(np.sin(np.pi * (h - 6) / 12), 0, None) * 3342 * rng.uniform(0.3, 1.0, 8760)
    mall = (500 + 1750 * np.clip(np.sin(np.pi * (h - 8) / 15), 0, None)) \
        * rng.uniform(0.9, 1.1, 8760)
    ev = np.where((h >= 9) & (h < 21), 100 * rng.uniform(0.5, 1.5, 8760), 0.0)
    return pd.DataFrame({"pv_kwh": pv, "ev_kwh": ev, "mall_kwh": mall}, index=idx)


@pytest.fixture(scope="module")
def year():
    return iquitos_optimal_dispatch(_synthetic_year(), Battery(), co2_price_pen_per_kg=0.1,
                                    charge_source="any", bill="energy")


@pytest.fixture(scope="module")
def full_year():
    return iquitos_optimal_dispatch(_synthetic_year(), Battery(), charge_source="pv")


def test_dp_within_0p1_percent_of_exact(year):
    _table, res = year
    dp, ex = res["dp_energy_only"], res["exact_energy_only"]
    assert ex.objective <= dp.objective + 1e-6 * abs(ex.objective)
    assert dp.objective - ex.objective <= 1e-3 * abs(ex.objective)
    assert dp.info["energy_step_kwh"] <= 10.0
    assert len(dp.soe_kwh) == 8761
    assert dp.periods.index.equals(_synthetic_year().index)


def test_rows_columns_and_the_bill_add_up(year):
    table, res = year
    assert list(table.index) == ["dp_energy_only", "exact_energy_only", "six_phase", "no_battery"]
    assert list(table.columns) == list(STRATEGY_COLUMNS)
    parts = table[["energy_cost_pen", "demand_cost_pen", "wear_cost_pen", "co2_cost_pen"]]
    np.testing.assert_allclose(parts.sum(axis=1), table["total_cost_pen"], rtol=1e-12)
    # site CO2 counts imports only; the grid-wide net subtracts what the exports displace
    f = Site().co2_kg_per_kwh
    np.testing.assert_allclose(table["co2_site_kg"], table["grid_import_kwh"] * f, rtol=1e-12)
    np.testing.assert_allclose(table["co2_net_kg"],
                               (table["grid_import_kwh"] - table["grid_export_kwh"]) * f,
                               rtol=1e-9)
    # the energy-only optimum beats every strategy on energy (+ CO2 price), not on the bill
    energy = table["energy_cost_pen"] + table["co2_cost_pen"] + table["wear_cost_pen"]
    assert energy["exact_energy_only"] <= energy.min() + 1e-6 * abs(energy.min())
    # every strategy starts from the battery's initial energy; the DP's plan starts there
    assert res["dp_energy_only"].soe_kwh[0] == Battery().e_initial_kwh


def test_full_bill_optimum_is_the_cheapest(full_year):
    table, res = full_year
    totals = table["total_cost_pen"]
    assert list(table.index) == ["dp", "exact", "six_phase", "no_battery"]
    assert totals["exact"] <= totals.min() + 1e-6 * abs(totals.min())
    assert totals["dp"] <= totals["exact"] * 1.005
    assert totals["dp"] < totals["six_phase"] < totals["no_battery"]
    # the DP's reported demand cost is the bill's
    assert res["dp"].summary["demand_cost"] == pytest.approx(table.loc["dp", "demand_cost_pen"],
                                                             rel=1e-9)


def test_pv_only_charging_never_imports_for_the_battery():
    site = _synthetic_year().iloc[: 24 * 14]
    table, res = iquitos_optimal_dispatch(site, Battery(), charge_source="surplus", bill="energy",
                                          exact=False, six_phase=False, no_battery=False)
    assert res["dp_energy_only"].periods["grid_to_bess_kwh"].max() <= 1e-9
    assert list(table.index) == ["dp_energy_only"]


def test_demand_cost_hand_case():
    idx = pd.date_range("2025-01-01", periods=48, freq="h", tz="America/Lima")
    imp = np.zeros(48)
    imp[19] = 10.0  # 19:00 is HP
    imp[3] = 20.0   # 03:00 is HFP
    t = Tariff()
    expected = 10 * t.demand_hp_pen_per_kw_month + 20 * t.demand_hfp_pen_per_kw_month
    assert demand_cost(imp, idx, t) == pytest.approx(expected)
    assert [g[3] for g in t.demand_charges(idx)] == ["2025-01 HP", "2025-01 HFP"]
    # an incumbent peak above the profile's is what the month pays
    assert demand_cost(imp, idx, t, incumbent_kw=[15.0, 0.0]) == pytest.approx(
        expected + 5 * t.demand_hp_pen_per_kw_month)
