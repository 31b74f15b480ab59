"""The EV socket queue: hand cases, FIFO invariants over random sessions, calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvbess.inputs.ev import MOTO, MOTOTAXI, EVFleet, draw_sessions, run_queue, simulate_ev
from pvbess.timeseries import DataError
from pvbess.inputs.weather import year_index

PROFILE_09_20_KW = [41, 47, 56, 69, 81, 91, 102, 111, 122, 129, 134, 137]


def _sessions(rows):
    frame = pd.DataFrame(rows, columns=["day", "arrival_min", "kind", "need_kwh", "power_kw"])
    return frame.astype({"day": np.int64, "arrival_min": np.int64, "kind": np.int64})


def test_single_vehicle_by_hand():
    fleet = EVFleet()
    out, hourly = run_queue(_sessions([(0, 600, MOTO, 2.0, 4.6)]), fleet, 1)
    row = out.iloc[0]
    # 4.6 kW -> 0.07667 kWh/min: 26 full minutes + a partial 27th
    assert (row.socket, row.start_min, row.end_min) == (0, 600, 627)
    assert row.delivered_kwh == pytest.approx(2.0)
    assert hourly[10, 0] == pytest.approx(2.0) and hourly.sum() == pytest.approx(2.0)


def test_charge_spanning_an_hour_boundary():
    out, hourly = run_queue(_sessions([(0, 590, MOTOTAXI, 2.0, 6.0)]), EVFleet(), 1)
    assert out.socket.iloc[0] == 30  # first mototaxi socket
    assert hourly[9, 30] == pytest.approx(1.0)  # 10 minutes at 6 kW
    assert hourly[10, 30] == pytest.approx(1.0)


def test_fifo_with_one_socket():
    fleet = EVFleet(moto_sockets=1, mototaxi_sockets=1)
    rows = [(0, 600, MOTO, 1.0, 6.0), (0, 601, MOTO, 1.0, 6.0), (0, 602, MOTO, 0.5, 6.0)]
    out, _ = run_queue(_sessions(rows), fleet, 1)
    assert out.start_min.tolist() == [600, 610, 620]
    assert out.end_min.tolist() == [610, 620, 625]


def test_site_closes_at_22():
    out, hourly = run_queue(_sessions([(0, 1310, MOTO, 4.0, 4.6)]), EVFleet(), 1)
    assert out.end_min.iloc[0] == 1320
    assert out.delivered_kwh.iloc[0] == pytest.approx(4.6 * 10 / 60)
    assert hourly[22:].sum() == 0


def test_zero_need_does_not_plug_in():
    out, hourly = run_queue(_sessions([(0, 600, MOTO, 0.0, 4.6)]), EVFleet(), 1)
    assert out.socket.iloc[0] == -1 and hourly.sum() == 0


def test_unsorted_sessions_are_rejected():
    with pytest.raises(ValueError, match="sorted"):
        run_queue(_sessions([(0, 700, MOTO, 1.0, 4.6), (0, 600, MOTO, 1.0, 4.6)]), EVFleet(), 1)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 4),
       st.floats(5.0, 120.0), st.floats(0.5, 3.0))
def test_queue_invariants(seed, moto_sockets, taxi_sockets, per_day, scale):
    fleet = EVFleet(moto_sockets=moto_sockets, mototaxi_sockets=taxi_sockets,
                    motos_per_day=per_day, mototaxis_per_day=per_day / 5, session_scale=scale)
    n_days = 2
    sessions = draw_sessions(fleet, n_days, np.random.default_rng(seed))
    out, hourly = run_queue(sessions, fleet, n_days)
    close = int(fleet.close_h * 60)
    assert (sessions.power_kw <= fleet.socket_kw).all()
    # energy: per socket and hour never above the rating; totals add up
    assert hourly.max() <= fleet.socket_kw * 1.0 + 1e-9
    assert hourly.min() >= 0
    assert hourly.sum() == pytest.approx(out.delivered_kwh.sum())
    assert (out.delivered_kwh <= out.need_kwh + 1e-9).all()
    hours = np.arange(hourly.shape[0]) % 24
    assert hourly[(hours < fleet.open_h) | (hours >= fleet.close_h)].sum() == 0
    served = out[out.socket >= 0]
    # a vehicle that finished before closing got exactly its need
    done = served.end_min < close
    np.testing.assert_allclose(served.delivered_kwh[done], served.need_kwh[done])
    # kinds use their own sockets
    taxi = served.kind == MOTOTAXI
    assert (served.socket[taxi] >= fleet.moto_sockets).all()
    assert (served.socket[~taxi] < fleet.moto_sockets).all()
    # duration = energy at the vehicle's power, rounded up to whole minutes
    minutes = np.ceil(served.delivered_kwh / (served.power_kw / 60.0) - 1e-9)
    np.testing.assert_array_equal((served.end_min - served.start_min).to_numpy(), minutes)
    for (day, kind), group in served.groupby(["day", "kind"]):
        # FIFO: service starts in arrival order, never before arrival
        assert (np.diff(group.start_min.to_numpy()) >= 0).all()
        assert (group.start_min >= group.arrival_min).all()
        # a socket holds one vehicle at a time
        for _, sock in group.groupby("socket"):
            s = sock.sort_values("start_min")
            assert (s.start_min.to_numpy()[1:] >= s.end_min.to_numpy()[:-1]).all()
        # a vehicle waits only while every socket of its kind is busy
        n_kind = fleet.moto_sockets if kind == MOTO else fleet.mototaxi_sockets
        for row in group[group.start_min > group.arrival_min].itertuples():
            t = row.arrival_min
            busy = group[(group.start_min <= t) & (group.end_min > t)].socket.nunique()
            assert busy == n_kind
    # a vehicle is left uncharged only when every socket of its kind is busy until closing
    left = out[(out.socket < 0) & (out.need_kwh > 0)]
    for row in left.itertuples():
        same = served[(served.day == row.day) & (served.kind == row.kind)]
        n_kind = fleet.moto_sockets if row.kind == MOTO else fleet.mototaxi_sockets
        assert same[same.end_min == close].socket.nunique() == n_kind


def test_annual_calibration():
    idx = year_index(2025)
    ev = simulate_ev(idx, seed=5)
    assert ev["ev_kwh"].sum() == pytest.approx(408_000, rel=0.02)
    daily = ev["ev_kwh"].groupby(idx.normalize()).sum()
    assert daily.mean() == pytest.approx(1119, rel=0.02)
    assert 40 < daily.std() < 70
    by_hour = ev["ev_kwh"].groupby(idx.hour).mean()
    np.testing.assert_allclose(by_hour.loc[9:20].to_numpy(), PROFILE_09_20_KW, rtol=0.05)
    assert by_hour.loc[0:8].sum() == 0 and by_hour.loc[22:23].sum() == 0
    sockets = ev.drop(columns="ev_kwh")
    assert sockets.shape[1] == 38
    np.testing.assert_allclose(sockets.sum(axis=1), ev["ev_kwh"])
    assert sockets.to_numpy().max() <= 7.4 + 1e-9


def test_default_fleet_delivers_the_needs():
    """A year of the default fleet: everyone is served; only a few late mototaxis are cut off
    at closing, so the delivered energy equals the sum of needs up to < 0.01 %."""
    fleet = EVFleet()
    sessions = draw_sessions(fleet, 365, np.random.default_rng(12))
    out, hourly = run_queue(sessions, fleet, 365)
    close = fleet.close_h * 60
    assert hourly.sum() == pytest.approx(out.delivered_kwh.sum(), rel=1e-12)
    assert hourly.sum() == pytest.approx(sessions.need_kwh.sum(), rel=1e-4)
    assert (out.socket[out.need_kwh > 0] >= 0).all()
    short = out[out.delivered_kwh < out.need_kwh - 1e-9]
    assert (short.end_min == close).all() and len(short) < 1e-3 * len(out)


def test_simulate_ev_needs_whole_hourly_days():
    idx = year_index(2025)
    with pytest.raises(DataError, match="hourly"):
        simulate_ev(year_index(2025, freq="15min")[:96])
    with pytest.raises(DataError, match="whole local days"):
        simulate_ev(idx[1:25])


def test_arrival_rate_shape():
    fleet = EVFleet()
    rate = fleet.arrival_rate(np.array([8.9, 9.0, 20.6, 20.75, 21.5]))
    assert rate[0] == 0 and rate[1] == pytest.approx(fleet.rate_knots[0])
    assert rate[2] == pytest.approx(1.0) and rate[3] == 0 and rate[4] == 0
    literal = EVFleet(rate_knots_h=(9, 18, 21), rate_knots=(0.3, 1, 1))
    np.testing.assert_allclose(literal.arrival_rate(np.array([9.0, 13.5, 18.0, 20.0])),
                               [0.3, 0.65, 1.0, 1.0])
    assert fleet.vehicle_kw(MOTO) == pytest.approx(4.6)
    assert fleet.vehicle_kw(MOTOTAXI) == pytest.approx(7.4 / 1.5)
    assert fleet.installed_kw == pytest.approx(281.2)


@pytest.mark.parametrize("change", [
    {"moto_sockets": -1}, {"moto_sockets": 2.5}, {"socket_kw": 0.0},
    {"soc_arrival_mean": 1.5}, {"open_h": 23.0}, {"rate_knots": (1.0,)},
    {"rate_knots_h": (8.0, 20.0), "rate_knots": (0.3, 1.0)},
    {"mototaxi_sockets": 0}, {"session_scale": 0.0},
])
def test_fleet_rejects_bad_parameters(change):
    with pytest.raises(ValueError):
        EVFleet(**change)


def test_fleet_round_trips_through_dict():
    fleet = EVFleet(session_scale=1.0)
    assert EVFleet.from_dict(fleet.asdict()) == fleet
