"""Economics: a hand-computed three-year case, edge cases and the replacement schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvbess.studies.economics import (
    Economics,
    annuity_factor,
    appraise,
    battery_life_years,
    cost_per_tonne_co2,
    replacement_present_value,
    simple_payback,
)

# A tiny case small enough to do by hand: 3 years at 10 %, 4 PEN/USD.
ECON = Economics(pv_capex_usd_per_kwp=1000.0, battery_capex_usd_per_kwh=200.0,
                 battery_capex_usd_per_kw=100.0, pv_om_frac_per_year=0.01,
                 battery_om_frac_per_year=0.02, battery_cycle_life=3000.0,
                 battery_calendar_life_years=20.0, battery_replacement_frac=0.5,
                 discount_rate=0.10, lifetime_years=3, pen_per_usd=4.0)
AF = 1 / 1.1 + 1 / 1.1**2 + 1 / 1.1**3  # 2.4868519...


def _hand_case():
    return appraise(ECON, pv_kwp=100.0, capacity_kwh=100.0, power_kw=50.0,
                    cycles_per_year=2000.0, discharge_kwh_per_year=100_000.0,
                    bill_pen_per_year=50_000.0, bill_grid_only_pen_per_year=200_000.0,
                    bill_pv_only_pen_per_year=80_000.0, co2_t_per_year=40.0,
                    co2_grid_only_t_per_year=100.0, co2_pv_only_t_per_year=60.0,
                    charge_cost_pen_per_year=1_000.0).iloc[0]


def test_hand_computed_case():
    row = _hand_case()
    # capex: PV 100 kWp * 1000 USD * 4 = 400,000; battery (100*200 + 50*100) * 4 = 100,000
    assert row["capex_pv_pen"] == pytest.approx(400_000.0)
    assert row["capex_bess_pen"] == pytest.approx(100_000.0)
    # O&M: 1 % of 400,000 + 2 % of 100,000
    assert row["om_pen_per_year"] == pytest.approx(6_000.0)
    # life: 3000 cycles / 2000 per year = 1.5 yr < 20 yr calendar; one replacement at 1.5 yr
    # (the next, at 3.0 yr, is not before the end of the 3-year period)
    assert row["bess_life_years"] == pytest.approx(1.5)
    assert row["bess_replacements"] == 1
    rep = 0.5 * 200.0 * 100.0 * 4.0 / 1.1**1.5  # 40,000 PEN discounted 1.5 years
    assert row["replacement_pv_pen"] == pytest.approx(rep, rel=1e-12)
    npv_grid = -500_000.0 + AF * (150_000.0 - 6_000.0) - rep
    npv_pv = -100_000.0 + AF * (30_000.0 - 2_000.0) - rep
    assert row["npv_vs_grid_pen"] == pytest.approx(npv_grid, rel=1e-12)
    assert row["npv_vs_grid_pen"] == pytest.approx(-176_564.68, abs=0.01)
    assert row["npv_vs_pv_pen"] == pytest.approx(npv_pv, rel=1e-12)
    assert row["payback_vs_grid_years"] == pytest.approx(500_000.0 / 144_000.0)
    assert row["payback_vs_pv_years"] == pytest.approx(100_000.0 / 28_000.0)
    lcos = (100_000.0 + rep + AF * (2_000.0 + 1_000.0)) / (AF * 100_000.0)
    assert row["lcos_pen_per_kwh"] == pytest.approx(lcos, rel=1e-12)
    assert row["cost_per_tco2_vs_grid_pen"] == pytest.approx(-npv_grid / AF / 60.0, rel=1e-12)
    assert row["cost_per_tco2_vs_pv_pen"] == pytest.approx(-npv_pv / AF / 20.0, rel=1e-12)
    eac = (500_000.0 + rep) / AF + 6_000.0 + 50_000.0
    assert row["eac_pen_per_year"] == pytest.approx(eac, rel=1e-12)


def test_annuity_factor():
    assert annuity_factor(0.1, 3) == pytest.approx(AF, rel=1e-14)
    assert annuity_factor(0.0, 25) == 25.0


def test_zero_discount_npv_is_plain_sum():
    econ = ECON.replace(discount_rate=0.0, battery_cycle_life=1e9)  # calendar life 20 > 3 yr
    row = appraise(econ, pv_kwp=10.0, capacity_kwh=10.0, power_kw=5.0, cycles_per_year=100.0,
                   discharge_kwh_per_year=1.0, bill_pen_per_year=0.0,
                   bill_grid_only_pen_per_year=30_000.0, bill_pv_only_pen_per_year=10_000.0,
                   co2_t_per_year=0.0, co2_grid_only_t_per_year=1.0,
                   co2_pv_only_t_per_year=1.0).iloc[0]
    invest = 10 * 1000 * 4 + (10 * 200 + 5 * 100) * 4  # 40,000 + 10,000
    om = 0.01 * 40_000 + 0.02 * 10_000
    assert row["bess_replacements"] == 0
    assert row["npv_vs_grid_pen"] == pytest.approx(-invest + 3 * (30_000 - om))


def test_no_battery_has_no_replacement_and_no_lcos():
    row = appraise(ECON, pv_kwp=10.0, capacity_kwh=0.0, power_kw=50.0, cycles_per_year=0.0,
                   discharge_kwh_per_year=0.0, bill_pen_per_year=1.0,
                   bill_grid_only_pen_per_year=1.0, bill_pv_only_pen_per_year=1.0,
                   co2_t_per_year=1.0, co2_grid_only_t_per_year=1.0,
                   co2_pv_only_t_per_year=1.0).iloc[0]
    assert row["bess_replacements"] == 0 and row["replacement_pv_pen"] == 0.0
    assert row["capex_bess_pen"] == 0.0  # no battery: no converter is bought either
    assert math.isnan(row["lcos_pen_per_kwh"])
    assert math.isnan(row["cost_per_tco2_vs_grid_pen"])  # nothing avoided
    assert row["payback_vs_grid_years"] == math.inf


def test_vectorised_matches_scalar_rows():
    sizes = np.array([0.0, 50.0, 100.0])
    table = appraise(ECON, pv_kwp=100.0, capacity_kwh=sizes, power_kw=sizes / 2,
                     cycles_per_year=np.array([0.0, 500.0, 2000.0]),
                     discharge_kwh_per_year=sizes * 300, bill_pen_per_year=50_000.0 - sizes,
                     bill_grid_only_pen_per_year=200_000.0, bill_pv_only_pen_per_year=80_000.0,
                     co2_t_per_year=40.0, co2_grid_only_t_per_year=100.0,
                     co2_pv_only_t_per_year=60.0)
    for i, c in enumerate(sizes):
        one = appraise(ECON, pv_kwp=100.0, capacity_kwh=c, power_kw=c / 2,
                       cycles_per_year=[0.0, 500.0, 2000.0][i], discharge_kwh_per_year=c * 300,
                       bill_pen_per_year=50_000.0 - c, bill_grid_only_pen_per_year=200_000.0,
                       bill_pv_only_pen_per_year=80_000.0, co2_t_per_year=40.0,
                       co2_grid_only_t_per_year=100.0, co2_pv_only_t_per_year=60.0)
        np.testing.assert_array_equal(table.iloc[i].to_numpy(), one.iloc[0].to_numpy())


@settings(max_examples=200, deadline=None)
@given(cycles=st.floats(0.0, 5000.0), years=st.integers(1, 40), rate=st.floats(0.0, 0.3),
       cal=st.floats(0.5, 30.0), cycle_life=st.floats(100.0, 20_000.0))
def test_replacements_fall_strictly_inside_the_period(cycles, years, rate, cal, cycle_life):
    econ = ECON.replace(lifetime_years=years, discount_rate=rate,
                        battery_calendar_life_years=cal, battery_cycle_life=cycle_life)
    life = float(battery_life_years(econ, cycles))
    assert life == pytest.approx(min(cal, cycle_life / cycles if cycles > 0 else math.inf))
    times = []
    k = 1
    while k * life < years:
        times.append(k * life)
        k += 1
    pv, n = replacement_present_value(econ, capacity_kwh=10.0, cycles_per_year=cycles)
    assert int(n) == len(times)
    unit = econ.battery_replacement_frac * econ.battery_capex_usd_per_kwh * 4.0 * 10.0
    assert float(pv) == pytest.approx(sum(unit / (1 + rate) ** t for t in times), rel=1e-9)


def test_payback_and_abatement_edge_cases():
    np.testing.assert_array_equal(simple_payback([100.0, 100.0, 0.0], [-1.0, 0.0, 5.0]),
                                  [math.inf, math.inf, 0.0])
    assert math.isnan(float(cost_per_tonne_co2(ECON, 1.0, -2.0)))


@pytest.mark.parametrize("field, value", [
    ("discount_rate", -0.01), ("discount_rate", 1.0), ("lifetime_years", 0),
    ("lifetime_years", 2.5), ("battery_cycle_life", 0.0), ("pv_capex_usd_per_kwp", -1.0),
    ("pen_per_usd", 0.0),
])
def test_invalid_economics(field, value):
    with pytest.raises(ValueError, match=field):
        Economics(**{field: value})


def test_exchange_rate_falls_back_to_the_site():
    assert Economics().fx(3.0) == 3.0
    assert Economics(pen_per_usd=4.0).fx(3.0) == 4.0
    assert Economics().fx() == 3.75


_size = st.one_of(st.just(0.0), st.just(5e-324), st.floats(0.0, 1e7))


@settings(max_examples=200, deadline=None)
@given(cap=_size, power=_size, cycles=_size, discharge=_size, bill=_size, saving=_size,
       co2=_size, avoided=_size)
def test_appraise_is_warning_free_and_sane_on_extreme_inputs(cap, power, cycles, discharge, bill,
                                                            saving, co2, avoided):
    row = appraise(ECON, pv_kwp=100.0, capacity_kwh=cap, power_kw=power, cycles_per_year=cycles,
                   discharge_kwh_per_year=discharge, bill_pen_per_year=bill,
                   bill_grid_only_pen_per_year=bill + saving,
                   bill_pv_only_pen_per_year=bill + saving, co2_t_per_year=co2,
                   co2_grid_only_t_per_year=co2 + avoided,
                   co2_pv_only_t_per_year=co2 + avoided).iloc[0]
    assert row["capex_bess_pen"] >= 0 and np.isfinite(row["capex_bess_pen"])
    assert 0 < row["bess_life_years"] <= ECON.battery_calendar_life_years
    assert row["payback_vs_pv_years"] >= 0  # inf when it never pays back
    assert np.isnan(row["lcos_pen_per_kwh"]) or row["lcos_pen_per_kwh"] >= 0
    # more saving never lowers the NPV; the NPV identity holds
    assert row["npv_vs_pv_pen"] == pytest.approx(
        -row["capex_bess_pen"] + AF * (saving - 0.02 * row["capex_bess_pen"])
        - row["replacement_pv_pen"], rel=1e-9, abs=1e-6)
