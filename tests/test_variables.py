"""The variables table documents every balance column and every KPI, with units that match."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pvbess import STRATEGIES, VARIABLES, kpis, simulate

SUFFIX_UNITS = {"_kwh": "kWh", "_frac": "-", "_pen": "PEN", "_kg": "kg", "_t": "t", "_kw": "kW",
                "_h": "h", "_days": "d", "_pen_per_kwh": "PEN/kWh"}


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
    assert VARIABLES["kind"].isin(["balance", "kpi"]).all()
    for _, row in VARIABLES.iterrows():
        suffix = max((s for s in SUFFIX_UNITS if row["name"].endswith(s)), key=len, default=None)
        if suffix is not None:
            assert row["unit"] == SUFFIX_UNITS[suffix], row["name"]
        else:  # unitless names: phase, tariff_period, equivalent_full_cycles
            assert row["unit"] == "-", row["name"]
