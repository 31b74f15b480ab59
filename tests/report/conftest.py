"""Fixtures of the report tests: two weeks of the Iquitos site and their balance."""

from __future__ import annotations

import pandas as pd
import pytest

import pvbess

DAYS = 14


@pytest.fixture(scope="module")
def site() -> pd.DataFrame:
    return pvbess.load_iquitos().iloc[:DAYS * 24][["pv_kwh", "ev_kwh", "mall_kwh"]]


@pytest.fixture(scope="module")
def balance(site) -> pd.DataFrame:
    b = pvbess.simulate(site, pvbess.Battery(), pvbess.SixPhaseRules())
    b.attrs.update(run_id="unit", pv_kwp=4050.0)
    return b
