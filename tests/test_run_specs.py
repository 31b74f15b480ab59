"""pvbess.run_specs: the one reader of a run's specs from a balance table's attrs. A table
without them is an error naming what is missing, in the KPIs, the energy identities and every
figure (never the Iquitos defaults drawn for another design)."""

from __future__ import annotations

import ast

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pvbess
from pvbess.plotting import FIGURES
from pvbess.balance_specs import REQUIRED_ATTRS, run_specs
from pvbess.timeseries import DataError


@pytest.fixture(scope="module")
def balance() -> pd.DataFrame:
    """Two days of a design that is not Iquitos's (so a fallback would show)."""
    idx = pd.date_range("2025-03-01", periods=48, freq="h", tz="America/Lima")
    h = idx.hour
    site = pd.DataFrame({"pv_kwh": ((h >= 7) & (h < 17)) * 900.0, "ev_kwh": 20.0,
                         "mall_kwh": 500.0}, index=idx)
    battery = pvbess.Battery(capacity_kwh=700.0, power_charge_kw=150.0, power_discharge_kw=150.0)
    return pvbess.simulate(site, battery, co2_kg_per_kwh=0.3, tariff=pvbess.Tariff(
        energy_hp_pen_per_kwh=0.9))


def stripped(balance: pd.DataFrame) -> pd.DataFrame:
    table = balance.copy()
    table.attrs = {}
    return table


def test_specs_come_back_as_simulate_stored_them(balance):
    specs = run_specs(balance)
    assert specs.battery == pvbess.Battery(capacity_kwh=700.0, power_charge_kw=150.0,
                                           power_discharge_kw=150.0)
    assert specs.rules == pvbess.SixPhaseRules()
    assert specs.tariff == pvbess.Tariff(energy_hp_pen_per_kwh=0.9)
    assert (specs.strategy, specs.co2_kg_per_kwh, specs.dt_h) == ("six_phase", 0.3, 1.0)
    assert specs.e_initial_kwh == specs.battery.e_initial_kwh


@settings(max_examples=40, deadline=None)
@given(drop=st.sets(st.sampled_from(REQUIRED_ATTRS), min_size=1))
def test_every_missing_spec_is_named(balance, drop):
    table = balance.copy()
    table.attrs = {k: v for k, v in balance.attrs.items() if k not in drop}
    with pytest.raises(DataError, match="missing from attrs") as err:
        run_specs(table)
    named = ast.literal_eval(str(err.value).split("specs ")[1].split(" are missing")[0])
    assert named == [k for k in REQUIRED_ATTRS if k in drop]


def test_given_specs_need_not_be_stored(balance):
    table = balance.copy()
    table.attrs = {k: v for k, v in balance.attrs.items()
                   if k not in ("battery", "tariff", "co2_kg_per_kwh")}
    specs = run_specs(table, battery=pvbess.Battery(), tariff=pvbess.Tariff(),
                      co2_kg_per_kwh=0.5)
    assert specs.battery == pvbess.Battery() and specs.co2_kg_per_kwh == 0.5
    with pytest.raises(TypeError, match="battery"):
        run_specs(balance, battery={"capacity_kwh": 1.0})


def test_kpis_need_the_run_specs(balance):
    with pytest.raises(DataError, match=r"'battery', 'rules', 'tariff', 'co2_kg_per_kwh'"):
        pvbess.kpis(stripped(balance))


def test_check_balance_needs_the_run_specs(balance):
    pvbess.check_balance(balance)
    for check in (pvbess.check_balance, pvbess.max_residuals, pvbess.balance_residuals):
        with pytest.raises(DataError, match="missing from attrs"):
            check(stripped(balance))


@pytest.mark.parametrize("spec", FIGURES, ids=lambda s: s.name)
def test_every_figure_needs_the_run_specs(balance, spec):
    """No figure draws a design whose specs are missing (before: the Iquitos battery, rules and
    CO2 factor were drawn silently), not even with its scenario line given."""
    with pytest.raises(DataError, match="missing from attrs"):
        spec.function(stripped(balance), scenario="given")
    with pytest.raises(DataError, match="missing from attrs"):
        pvbess.scenario_label(stripped(balance))
