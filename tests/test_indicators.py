"""KPIs: hand-computed cases, annual vs monthly consistency, baselines."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvbess import VARIABLES, Battery, DataError, SixPhaseRules, Tariff, kpis, simulate
from pvbess.indicators import KPI_NAMES

TZ = "America/Lima"


def two_days() -> pd.DataFrame:
    """Jan 31 and Feb 1 (two calendar months), hourly."""
    idx = pd.date_range("2024-01-31", periods=48, freq="h", tz=TZ)
    h = idx.hour.to_numpy()
    mall = np.full(48, 100.0)
    mall[19] = 300.0  # Jan 31 19:00 (HP)
    mall[24 + 10] = 500.0  # Feb 1 10:00 (HFP)
    ev = np.where((h >= 9) & (h < 21), 10.0, 0.0)
    pv = np.where((h >= 8) & (h < 16), 150.0, 0.0)
    return pd.DataFrame({"pv_kwh": pv, "ev_kwh": ev, "mall_kwh": mall}, index=idx)


RULES = SixPhaseRules(peak_threshold_kw=250.0)


def test_grid_only_by_hand():
    site = two_days()
    k = kpis(simulate(site, Battery(), RULES, "grid_only"))
    load = site.ev_kwh + site.mall_kwh
    assert k["load_kwh"] == pytest.approx(load.sum())
    assert k["grid_import_kwh"] == pytest.approx(load.sum())
    assert k["self_sufficiency_frac"] == pytest.approx(0.0)
    assert k["self_consumption_frac"] == pytest.approx(0.0)  # all PV unused
    assert k["ev_grid_share_frac"] == 1.0 and k["ev_pv_share_frac"] == 0.0
    assert k["equivalent_full_cycles"] == 0.0
    # HP is 18:00-22:59: Jan 31 HP max 310 kW (19:00), Feb 1 HP max 110 kW (18-20 h with EVs);
    # HFP max: Jan 110 kW (EV hours), Feb 510 kW (10:00)
    assert k["demand_charge_hp_pen"] == pytest.approx((310 + 110) * 48.50)
    assert k["demand_charge_hfp_pen"] == pytest.approx((110 + 510) * 22.80)
    assert k["peak_grid_kw"] == 510.0 and k["peak_grid_hp_kw"] == 310.0
    hp = (site.index.hour >= 18) & (site.index.hour < 23)
    assert k["energy_cost_hp_pen"] == pytest.approx(load[hp].sum() * 0.45)
    assert k["energy_cost_hfp_pen"] == pytest.approx(load[~hp].sum() * 0.28)
    assert k["total_cost_pen"] == pytest.approx(
        load[hp].sum() * 0.45 + load[~hp].sum() * 0.28 + 420 * 48.5 + 620 * 22.8)
    # mall above 250 kW twice, before and after (no PV, no battery)
    assert k["hours_above_peak_before_h"] == 2.0 and k["hours_above_peak_after_h"] == 2.0
    # with PV and no battery, the 10:00 peak drops to 500 - (150 - 10) = 360 kWh: still above
    assert k["hours_above_peak_pv_only_h"] == 2.0
    assert k["co2_t"] == pytest.approx(load.sum() * 0.4521 / 1000)
    assert k["co2_avoided_vs_grid_only_t"] == pytest.approx(0.0, abs=1e-12)
    pv_only_import = np.maximum(load - site.pv_kwh, 0.0).sum()
    assert k["co2_baseline_pv_only_t"] == pytest.approx(pv_only_import * 0.4521 / 1000)
    assert k["closure_days"] == 2.0 and k["closure_miss_days"] == 0.0


def test_monthly_rows_add_up_to_the_year():
    site = two_days()
    b = simulate(site, Battery(capacity_kwh=500.0, power_charge_kw=100.0,
                               power_discharge_kw=100.0), RULES)
    a = kpis(b)
    m = kpis(b, freq="monthly")
    assert list(m.index.astype(str)) == ["2024-01", "2024-02"]
    additive = [n for n in KPI_NAMES if n.endswith(("_kwh", "_pen", "_t", "_days", "_h"))
                or n == "equivalent_full_cycles"]
    for name in additive:
        assert m[name].sum() == pytest.approx(a[name], rel=1e-12, abs=1e-9), name
    for name in ("peak_grid_kw", "peak_grid_hp_kw", "peak_grid_hfp_kw"):
        assert m[name].max() == a[name]
    assert a["self_sufficiency_frac"] == pytest.approx(
        1 - m["grid_import_kwh"].sum() / m["load_kwh"].sum())


def test_cycles_shares_and_export():
    # 06:00-08:00 charge 3 x 100 from PV (eta 0.9 -> 270 stored), evening closure drains it
    idx = pd.date_range("2024-03-01", periods=24, freq="h", tz=TZ)
    h = idx.hour.to_numpy()
    pv = np.where((h >= 6) & (h < 9), 400.0, 0.0)
    ev = np.where((h >= 17) & (h < 22), 20.0, 0.0)
    site = pd.DataFrame({"pv_kwh": pv, "ev_kwh": ev, "mall_kwh": 100.0}, index=idx)
    bat = Battery(capacity_kwh=1000.0, power_charge_kw=100.0, power_discharge_kw=100.0,
                  eta_charge=0.9, eta_discharge=0.9, soc_min=0.2, soc_initial=0.2)
    tariff = Tariff(export_pen_per_kwh=0.1)
    b = simulate(site, bat, SixPhaseRules(), tariff=tariff, co2_kg_per_kwh=0.5)
    k = kpis(b)
    assert k["bess_discharge_kwh"] == pytest.approx(270 * 0.9)
    assert k["equivalent_full_cycles"] == pytest.approx(270 / 800)
    assert k["ev_bess_share_frac"] == pytest.approx(1.0)  # 20 per step < 270*0.9/5 per step
    assert k["pv_export_kwh"] == pytest.approx(3 * 200.0)
    assert k["co2_export_displaced_t"] == pytest.approx(600 * 0.5 / 1000)
    assert k["export_revenue_pen"] == pytest.approx(60.0)
    assert k["self_consumption_frac"] == pytest.approx(1 - 600 / 1200)
    # the factor and the tariff came from attrs; overriding them changes the figures
    k2 = kpis(b, co2_kg_per_kwh=1.0, tariff=Tariff())
    assert k2["co2_t"] == pytest.approx(2 * k["co2_t"]) and k2["export_revenue_pen"] == 0.0


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), cap=st.floats(0.0, 3000.0))
def test_baselines_match_the_baseline_strategies(seed, cap):
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-05-01", periods=24 * 10, freq="h", tz=TZ)
    h = idx.hour.to_numpy()
    site = pd.DataFrame({"pv_kwh": np.clip(np.sin((h - 6) / 12 * np.pi), 0, None)
                         * rng.uniform(0, 3000, len(idx)),
                         "ev_kwh": rng.uniform(0, 200, len(idx)),
                         "mall_kwh": rng.uniform(0, 2500, len(idx))}, index=idx)
    bat = Battery(capacity_kwh=cap)
    k = kpis(simulate(site, bat))
    grid_only = kpis(simulate(site, bat, strategy="grid_only"))
    pv_only = kpis(simulate(site, bat, strategy="pv_only"))
    assert k["co2_baseline_grid_only_t"] == pytest.approx(grid_only["co2_t"], rel=1e-12)
    assert k["co2_baseline_pv_only_t"] == pytest.approx(pv_only["co2_t"], rel=1e-12)
    assert k["hours_above_peak_pv_only_h"] == pv_only["hours_above_peak_after_h"]
    assert k["hours_above_peak_before_h"] == grid_only["hours_above_peak_after_h"]
    assert k["co2_avoided_vs_pv_only_t"] == pytest.approx(
        pv_only["co2_t"] - k["co2_t"], rel=1e-9, abs=1e-9)
    assert 0.0 <= k["self_consumption_frac"] <= 1.0 + 1e-12


def test_quarter_hours_and_zero_denominators():
    idx = pd.date_range("2024-03-01", periods=96, freq="15min", tz=TZ)
    site = pd.DataFrame({"pv_kwh": 0.0, "ev_kwh": 0.0, "mall_kwh": 600.0}, index=idx)
    k = kpis(simulate(site, Battery(), SixPhaseRules(peak_threshold_kw=2000.0)))
    assert k["peak_grid_kw"] == 2400.0  # 600 kWh per quarter-hour
    assert math.isnan(k["self_consumption_frac"]) and math.isnan(k["ev_pv_share_frac"])
    # 2,400 kW above 2,000 kW all day: 24 h; the battery starts at soc_min and never charges
    # (no PV), so nothing is shaved
    assert k["hours_above_peak_before_h"] == 24.0 and k["hours_above_peak_after_h"] == 24.0
    assert k["grid_import_kwh"] == 96 * 600.0


def test_a_day_cut_before_close_h_is_not_a_closure_day():
    # 17:00-19:00 only: the energy at close_h is unknown, so the day is neither met nor missed
    idx = pd.date_range("2024-03-01 12:00", periods=8, freq="h", tz=TZ)
    site = pd.DataFrame({"pv_kwh": 0.0, "ev_kwh": 0.0, "mall_kwh": 300.0}, index=idx)
    b = simulate(site, Battery(soc_initial=0.9), SixPhaseRules())
    k = kpis(b)
    assert (k["closure_days"], k["closure_miss_days"]) == (0.0, 0.0)
    # two more hours reach 22:00: one closure day; met at 400 kW (1,400 kWh above E_min,
    # 1,365 kWh AC in 5 h = 273 kW), missed at 200 kW (the power did not allow it)
    idx = pd.date_range("2024-03-01 12:00", periods=10, freq="h", tz=TZ)
    longer = site.reindex(idx, fill_value=300.0).assign(pv_kwh=0.0, ev_kwh=0.0)
    k = kpis(simulate(longer, Battery(soc_initial=0.9), SixPhaseRules()))
    assert (k["closure_days"], k["closure_miss_days"]) == (1.0, 0.0)
    k = kpis(simulate(longer, Battery(soc_initial=0.9, power_discharge_kw=200.0),
                      SixPhaseRules()))
    assert (k["closure_days"], k["closure_miss_days"]) == (1.0, 1.0)
    assert k["closure_miss_power_allowed_days"] == 0.0


def test_names_units_and_errors():
    k = kpis(simulate(two_days()))
    assert list(k.index) == list(KPI_NAMES)
    documented = set(VARIABLES.loc[VARIABLES.kind == "kpi", "name"])
    assert documented == set(KPI_NAMES)
    with pytest.raises(ValueError, match="freq"):
        kpis(simulate(two_days()), freq="weekly")
    with pytest.raises(DataError, match="soe_end_kwh"):
        kpis(simulate(two_days()).drop(columns="soe_end_kwh"))
