"""The variables table documents every balance column and every KPI, with units that match."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pvbess import STRATEGIES, TABLE_COLUMNS, VARIABLES, kpis, simulate
from pvbess.optimize.result import PERIOD_COLUMNS
from pvbess.scheduler.daily_view import VIEW_COLUMNS
from pvbess.scheduler.events import EVENT_VALUES, HourlyEvent
from pvbess.scheduler.engine import PLAN_COLUMNS

SUFFIX_UNITS = {"_kwh": "kWh", "_frac": "-", "_pen": "PEN", "_kg": "kg", "_t": "t", "_kw": "kW",
                "_h": "h", "_days": "d", "_pen_per_kwh": "PEN/kWh", "_price": "currency/kWh",
                "_cost": "currency", "savings_vs_grid_only": "currency",
                "savings_vs_solar_only": "currency"}


def small_site() -> pd.DataFrame:
    idx = pd.date_range("2024-06-01", periods=48, freq="h", tz="America/Lima")
    h = idx.hour.to_numpy()
    return pd.DataFrame({"pv_kwh": np.clip(np.sin((h - 6) / 12 * np.pi), 0, None) * 2500,
                         "ev_kwh": np.where((h >= 9) & (h < 22), 80.0, 0.0),
                         "mall_kwh": 1500.0}, index=idx)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_balance_columns_are_the_documented_ones(strategy):
    site = small_site()
    kw = {"setpoint_kwh": np.zeros(len(site))} if strategy == "schedule" else {}
    b = simulate(site, strategy=strategy, **kw)
    documented = VARIABLES.loc[VARIABLES.kind == "balance", "name"].tolist()
    assert b.columns.tolist() == documented


def test_kpis_are_the_documented_ones():
    k = kpis(simulate(small_site()))
    assert k.index.tolist() == VARIABLES.loc[VARIABLES.kind == "kpi", "name"].tolist()
    m = kpis(simulate(small_site()), freq="monthly")
    assert m.columns.tolist() == k.index.tolist()


def test_rows_are_complete_and_units_match_names():
    assert set(VARIABLES.columns) == {"name", "kind", "unit", "sign", "meaning"}
    assert not VARIABLES.duplicated(["name", "kind"]).any()
    assert (VARIABLES["meaning"].str.len() > 5).all()
    assert VARIABLES["kind"].isin(["balance", "kpi", "scheduler"]).all()
    for _, row in VARIABLES.iterrows():
        suffix = max((s for s in SUFFIX_UNITS if row["name"].endswith(s)), key=len, default=None)
        if suffix is not None:
            assert row["unit"] == SUFFIX_UNITS[suffix], row["name"]
        else:  # unitless names: phase, tariff_period, equivalent_full_cycles
            assert row["unit"] == "-", row["name"]


def test_one_name_per_quantity_across_the_tables():
    """Every column of the scheduler's tables has exactly one documenting row, a balance row when
    the balance table holds the same quantity (no second name, no second meaning)."""
    per_step = VARIABLES[VARIABLES.kind != "kpi"]
    assert not per_step["name"].duplicated().any()
    documented = set(per_step["name"])
    for table, columns in TABLE_COLUMNS.items():
        assert len(set(columns)) == len(columns), table
        assert set(columns) <= documented, (table, set(columns) - documented)
    scheduler_only = set(VARIABLES.loc[VARIABLES.kind == "scheduler", "name"])
    used = set().union(*TABLE_COLUMNS.values())
    assert scheduler_only <= used, scheduler_only - used


def test_the_modules_use_the_one_column_list():
    assert PERIOD_COLUMNS == TABLE_COLUMNS["plan"]
    assert PLAN_COLUMNS == TABLE_COLUMNS["schedule"]
    assert EVENT_VALUES == TABLE_COLUMNS["event"]
    assert VIEW_COLUMNS == TABLE_COLUMNS["daily_view"]
    fields = [f for f in HourlyEvent.__dataclass_fields__ if f not in ("timestamp", "period")]
    assert set(fields) == set(EVENT_VALUES)


def test_labels_are_words_with_units():
    from pvbess.variables import format_value, label, unit_of

    assert label("grid_import_kwh") == "grid import [kWh]"
    assert label("self_sufficiency_frac") == "self-sufficiency [%]"
    assert label("npv_vs_pv_pen") == "NPV vs PV [PEN]"  # the economics table has better words
    assert label("lcos_pen_per_kwh") == "LCOS [PEN/kWh]"
    assert label("equivalent_full_cycles") == "equivalent full cycles"
    for name in VARIABLES["name"]:  # every documented name reads as words, unit as documented
        text = label(name)
        assert "_" not in text, text
        unit = VARIABLES.loc[VARIABLES.name == name, "unit"].iloc[0]
        assert unit_of(name) == unit
        if unit != "-":
            assert text.endswith(f"[{unit}]"), text
    assert format_value("grid_import_kwh", 8188386.54) == "8,188,387"
    assert format_value("self_sufficiency_frac", 0.35906) == "35.9"
    assert format_value("closure_miss_days", 0.0) == "0"
    assert format_value("lcos_pen_per_kwh", 0.51234) == "0.5123"
    assert format_value("co2_t", float("nan")) == "n/a"


def test_a_value_that_rounds_to_zero_shows_no_minus_sign():
    from pvbess.variables import format_value

    assert format_value("optimal_saving_share_frac", -0.00048) == "0.0"  # -0.048 %
    assert format_value("energy_cost_pen", -0.004) == "0.00"
    assert format_value("energy_cost_pen", -0.006) == "-0.01"
