"""Invariants of a period measured from boundary readings (HomeAssistantController.read_period),
on readings given directly (:meth:`remember`): no Home Assistant needed, the REST client is
never called after the start check (the recorder's history is off: a boundary not read stays
unread)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pvbess
from pvbess.live.config import home_assistant_config
from pvbess.live.ha import Reading

from .helpers import BATTERY, SECTION, TZ

START = pd.Timestamp("2024-03-01 10:00", tz=TZ)
KINDS = {"pv": "power", "load": "power", "grid_import": "energy", "grid_export": "energy"}


class CheckedClient:
    """A client whose start check passes (Home Assistant not yet running: the entities are
    not checked); anything else is a test error."""

    def check(self) -> None:
        pass

    def request(self, method: str, path: str) -> dict:
        assert (method, path) == ("GET", "/api/config")
        return {"state": "NOT_RUNNING"}


def controller():
    cfg = home_assistant_config({**SECTION, "url": "http://unused", "history": False},
                                environ={"TEST_HA_TOKEN": "t"})
    return pvbess.HomeAssistantController(cfg, BATTERY, tz=TZ, client=CheckedClient())


energy = st.floats(0, 1e4, allow_nan=False)
power = st.floats(0, 50, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(pv=st.lists(power, min_size=2, max_size=7), load=st.lists(power, min_size=2, max_size=7),
       imp0=energy, exp0=energy, d_imp=st.floats(0, 20), d_exp=st.floats(0, 20),
       soe=st.tuples(st.floats(0, 10), st.floats(0, 10)),
       skew_s=st.integers(-120, 120))
def test_a_period_closes_and_integrates_its_samples(pv, load, imp0, exp0, d_imp, d_exp, soe,
                                                    skew_s):
    n = min(len(pv), len(load))
    ctl = controller()
    times = [START + pd.Timedelta(hours=k / (n - 1)) for k in range(n)]
    times[0] += pd.Timedelta(seconds=skew_s)  # a boundary read a little early or late
    for k, t in enumerate(times):
        last = k == n - 1
        ctl.remember(Reading(time=t, soe_kwh=soe[1] if last else soe[0], kinds=KINDS, values={
            "pv": pv[k], "load": load[k], "grid_import": imp0 + (d_imp if last else 0.0),
            "grid_export": exp0 + (d_exp if last else 0.0)}))
    event = ctl.read_period(START)
    span = (times[-1] - times[0]) / pd.Timedelta(hours=1)
    trapezoid = sum((times[k + 1] - times[k]) / pd.Timedelta(hours=1) * (pv[k] + pv[k + 1]) / 2
                    for k in range(n - 1)) / span
    assert event.pv_kwh == pytest.approx(trapezoid, rel=1e-9, abs=1e-9)
    assert event.grid_import_kwh == pytest.approx(d_imp, abs=1e-9 * (1 + imp0))
    assert event.grid_export_kwh == pytest.approx(d_exp, abs=1e-9 * (1 + exp0))
    net = event.pv_kwh + event.grid_import_kwh - event.load_kwh - event.grid_export_kwh
    assert event.bess_charge_kwh - event.bess_discharge_kwh == pytest.approx(net, abs=1e-9)
    assert min(event.bess_charge_kwh, event.bess_discharge_kwh) == 0.0
    assert (event.soe_start_kwh, event.soe_end_kwh) == soe
    # the next period has no end reading: missing
    assert ctl.read_period(START + pd.Timedelta(hours=1)) is None


@settings(max_examples=100, deadline=None)
@given(back=st.floats(1e-3, 100), skew_s=st.integers(121, 3000))
def test_a_counter_going_back_or_a_boundary_not_read_is_a_missing_period(back, skew_s):
    ctl = controller()
    values = {"pv": 1.0, "load": 1.0, "grid_import": 200.0, "grid_export": 0.0}
    ctl.remember(Reading(time=START, soe_kwh=5.0, kinds=KINDS, values=values))
    ctl.remember(Reading(time=START + pd.Timedelta(hours=1), soe_kwh=5.0, kinds=KINDS,
                         values={**values, "grid_import": 200.0 - back}))
    assert ctl.read_period(START) is None  # a counter reset
    late = controller()
    late.remember(Reading(time=START + pd.Timedelta(seconds=skew_s), soe_kwh=5.0, kinds=KINDS,
                          values=values))
    late.remember(Reading(time=START + pd.Timedelta(hours=1), soe_kwh=5.0, kinds=KINDS,
                          values=values))
    assert late.read_period(START) is None  # the start boundary was not read in time
