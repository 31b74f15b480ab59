"""The recorder's history, on answers built by the test (no Home Assistant needed): when
Home Assistant's logbook vouches for an interval, the state in force at an instant, and the
time-weighted mean of a step function."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvbess.live.ha import Reading
from pvbess.live.history import ran_through, state_at, time_mean

T0 = pd.Timestamp("2024-03-01 00:00", tz="UTC")


def at(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


@st.composite
def outages(draw):
    """Home Assistant's runs on [0, 1000] s: (start, end or None while it still runs, clean
    stop?), and the logbook they leave: 'started' at each start, 'stopped' at a clean end."""
    cuts = sorted(draw(st.lists(st.floats(1, 999), min_size=0, max_size=8, unique=True)))
    if len(cuts) % 2:
        cuts = cuts[:-1]
    edges = [0.0, *cuts]  # up from each even edge to the next odd one
    runs = []
    for i in range(0, len(edges), 2):
        end = edges[i + 1] if i + 1 < len(edges) else None
        runs.append((edges[i], end, draw(st.booleans())))
    log = []
    for start, end, clean in runs:
        log.append((at(start), "started"))
        if end is not None and clean:
            log.append((at(end), "stopped"))
    return runs, sorted(log)


def up_through(runs, s: float, e: float, strict: bool) -> bool:
    for start, end, _ in runs:
        end = np.inf if end is None else end
        if (start < s and e < end) if strict else (start <= s and e <= end):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(history=outages(), s=st.floats(0, 1000), length=st.floats(0, 300))
def test_the_logbook_vouches_only_for_intervals_home_assistant_ran_through(history, s, length):
    runs, log = history
    e = min(s + length, 1000.0)
    vouched = ran_through(log, at(s), at(e))
    # never for an interval it was down in (a crash leaves no 'stopped': it is doubted)
    if vouched:
        assert up_through(runs, s, e, strict=False)
    # with clean stops only, for every interval inside a run
    if all(clean for _, end, clean in runs if end is not None) and \
            up_through(runs, s, e, strict=True):
        assert vouched


def test_a_crash_before_a_restart_casts_doubt_back_to_the_last_event():
    log = [(at(0), "started"), (at(500), "started")]  # crashed somewhere in (0, 500)
    assert not ran_through(log, at(100), at(100))
    assert ran_through(log, at(600), at(700))
    assert not ran_through([(at(0), "started"), (at(50), "stopped"), (at(500), "started")],
                           at(100), at(100))  # stopped then: down
    assert ran_through([(at(0), "started"), (at(200), "stopped"), (at(500), "started")],
                       at(100), at(150))


@st.composite
def steps(draw):
    """A step function's states (seconds, value), the first at 0, and an interval inside."""
    n = draw(st.integers(1, 8))
    times = sorted(draw(st.lists(st.floats(1, 999), min_size=n - 1, max_size=n - 1,
                                 unique=True)))
    values = draw(st.lists(st.floats(0, 1e4), min_size=n, max_size=n))
    a = draw(st.floats(0, 990))
    b = draw(st.floats(a + 1, 1000))
    return [0.0, *times], values, a, b


def rows_of(times, values):
    return [{"last_updated": at(t).isoformat(), "state": str(v)} for t, v in zip(times, values)]


@settings(max_examples=300, deadline=None)
@given(step=steps())
def test_the_time_mean_holds_each_state_until_the_next(step):
    times, values, a, b = step
    mean = time_mean(rows_of(times, values), at(a), at(b), lambda r: float(r["state"]))
    # the same integral another way: the cumulative energy at each change, interpolated
    edges = np.array([*times, 1000.0])
    cumulative = np.concatenate([[0.0], np.cumsum(np.array(values) * np.diff(edges))])
    expected = (np.interp(b, edges, cumulative) - np.interp(a, edges, cumulative)) / (b - a)
    assert mean == pytest.approx(expected, rel=1e-9, abs=1e-6)
    held = [v for t, v, t_next in zip(times, values, [*times[1:], 1e9]) if t_next > a and t < b]
    assert min(held) - 1e-9 <= mean <= max(held) + 1e-9


def test_the_state_in_force_is_the_last_at_or_before_the_instant():
    rows = rows_of([0.0, 10.0, 20.0], [1.0, 2.0, 3.0])
    assert state_at(rows, at(-1)) is None
    assert state_at(rows, at(10))["state"] == "2.0"
    assert state_at(rows, at(19.9))["state"] == "2.0"
    assert state_at(rows, at(500))["state"] == "3.0"
    with pytest.raises(ValueError, match="no state in force"):
        time_mean(rows[1:], at(5), at(15), lambda r: float(r["state"]))


def test_a_reading_keeps_its_source_and_a_sampled_one_reads_as_before():
    reading = Reading(time=T0, soe_kwh=5.0, values={"pv": 1.0}, kinds={"pv": "energy"})
    assert "source" not in reading.to_json()  # the text stored before history existed
    recalled = Reading(time=T0, soe_kwh=5.0, values={"pv": 1.0}, kinds={"pv": "energy"},
                       source="history")
    assert Reading.from_json(recalled.to_json()) == recalled
    assert Reading.from_json(reading.to_json()).source == "sampled"
