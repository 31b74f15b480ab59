"""Iquitos year: DP within 0.1 % of the exact optimum; demand charges and the six-phase row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pvbess import Battery, Tariff, iquitos_optimal_dispatch


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
    return iquitos_optimal_dispatch(_synthetic_year(), Battery(), co2_price_pen_per_kg=0.1)


def test_dp_within_0p1_percent_of_exact(year):
    _table, res = year
    dp, ex = res["dp"], res["exact"]
    assert ex.objective <= dp.objective + 1e-6 * abs(ex.objective)
    assert dp.objective - ex.objective <= 1e-3 * abs(ex.objective)
    assert dp.info["energy_step_kwh"] <= 10.0
    assert len(dp.soe_kwh) == 8761
    assert dp.periods.index.equals(_synthetic_year().index)


def test_demand_charges_only_lower_with_the_exact_demand_model(year):
    table, _ = year
    # the exact model with demand charges has the lowest total of all strategies
    totals = table["total_cost_pen"]
    assert totals["exact_demand"] <= totals.min() + 1e-6 * abs(totals.min())
    assert table.loc["exact_demand", "demand_cost_pen"] <= table.loc["dp", "demand_cost_pen"]
    if "six_phase" in table.index:
        assert totals["exact_demand"] <= totals["six_phase"]
        assert totals["dp"] - table.loc["dp", "demand_cost_pen"] <= (
            totals["six_phase"] - table.loc["six_phase", "demand_cost_pen"] + 1e-6)
    for col in ("co2_kg", "import_kwh"):
        assert (table[col] >= 0).all()


def test_pv_only_charging_never_imports_for_the_battery():
    site = _synthetic_year().iloc[: 24 * 14]
    table, res = iquitos_optimal_dispatch(site, Battery(), allow_grid_charge=False, exact=False,
                                          with_demand=False, six_phase=False)
    assert res["dp"].periods["grid_to_battery_kwh"].max() <= 1e-9
    assert list(table.index) == ["dp"]


def test_demand_cost_hand_case():
    idx = pd.date_range("2025-01-01", periods=48, freq="h", tz="America/Lima")
    imp = np.zeros(48)
    imp[19] = 10.0  # 19:00 is HP
    imp[3] = 20.0   # 03:00 is HFP
    t = Tariff()
    assert t.demand_cost(imp, idx) == pytest.approx(10 * t.demand_hp_pen_per_kw_month
                                                     + 20 * t.demand_hfp_pen_per_kw_month)
    assert [g[3] for g in t.demand_charges(idx)] == ["2025-01 HP", "2025-01 HFP"]
