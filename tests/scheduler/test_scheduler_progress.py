"""The replay's progress: the first period apart (the one-time compile), then one step per local
day, then one per compared strategy; totals right on a fresh and a resumed replay; silent when off."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from sched_synthetic import STEP_KWH, make_site, small_battery
from tqdm.std import tqdm

from pvbess import replay
from pvbess.scheduler.progress import day_ends

SITE = make_site(days=4, seed=21)
KW = dict(battery=small_battery(), energy_step_kwh=STEP_KWH, forecast="persistence")


class Recorder(tqdm):
    """A tqdm that writes nowhere and records, for each update, its count and the periods the
    replay had recorded at that moment (``periods[0]``, kept by the replay's ``on_period``)."""

    bars: list = []
    periods = [0]

    def __init__(self, *args, **kwargs):
        kwargs["file"] = io.StringIO()
        super().__init__(*args, **kwargs)
        self.moves: list[tuple[int, int]] = []
        Recorder.bars.append(self)

    def update(self, n=1):
        out = super().update(n)
        self.moves.append((self.n, Recorder.periods[0]))
        return out


@pytest.fixture
def recorded(monkeypatch):
    """Run a replay with the recording bars; return {desc: (total, initial, moves)}."""
    monkeypatch.setattr("tqdm.auto.tqdm", Recorder)

    def run(**kwargs):
        Recorder.bars, Recorder.periods = [], [0]

        def counted(event):
            Recorder.periods[0] += 1

        replay(SITE, on_period=counted, progress=True, **{**KW, **kwargs})
        return {b.desc: (b.total, b.initial, b.moves) for b in Recorder.bars}

    return run


def test_bars_move_per_day_with_the_first_period_apart(recorded):
    bars = recorded()
    assert list(bars) == ["replay persistence: first period (compiles once)",
                          "replay persistence", "replay persistence: comparison"]
    # the first period alone: the bar that pays the compile
    assert bars["replay persistence: first period (compiles once)"] == (1, 0, [(1, 1)])
    # then one step at the end of each local day (24 periods each), to the total
    assert bars["replay persistence"] == (4, 0, [(1, 24), (2, 48), (3, 72), (4, 96)])
    # then the perfect-foresight DP, the exact bound, the rules and no battery
    total, _, moves = bars["replay persistence: comparison"]
    assert total == 4 and [n for n, _ in moves] == [1, 2, 3, 4]


def test_a_resumed_replay_counts_the_days_already_done(recorded, tmp_path):
    db = tmp_path / "r.sqlite"
    part = recorded(db=db, stop_after=30, compare=False)
    assert part["replay persistence"] == (4, 0, [(1, 24)])  # stopped inside day 2
    rest = recorded(db=db, compare=False)
    # periods 31.. (the first on its own bar): day 1 done before, days 2-4 end at 48, 72, 96
    assert rest["replay persistence: first period (compiles once)"] == (1, 0, [(1, 1)])
    assert rest["replay persistence"] == (4, 1, [(2, 48 - 30), (3, 72 - 30), (4, 96 - 30)])
    finished = recorded(db=db)  # a finished replay: nothing to run, only the comparison
    assert list(finished) == ["replay persistence: comparison"]


def test_progress_shows_on_the_console_and_is_silent_when_off(capsys):
    replay(SITE, progress=True, **KW)
    err = capsys.readouterr().err
    assert "replay persistence: first period (compiles once)" in err
    assert "4/4 [" in err and "day" in err
    # the comparison names each strategy as it runs; no rate (its steps differ in work)
    comparison = [ln for ln in err.replace("\r", "\n").splitlines() if "comparison" in ln]
    for words in ("perfect-foresight DP", "exact bound (LP)", "six-phase rules", "no battery"):
        assert any(words in ln for ln in comparison), words
    assert comparison and not any("strategy/s" in ln or "s/strategy" in ln for ln in comparison)
    assert re.search(r"4/4 \|█+\| \[[\d:]+\]$", comparison[-1].rstrip())  # done: no name
    replay(SITE, progress=False, **KW)
    assert capsys.readouterr() == ("", "")


def test_day_ends_follow_the_local_calendar():
    """A local day of 23 or 25 periods (daylight saving) ends where its clock says."""
    index = pd.date_range("2024-03-30", "2024-04-01 23:00", freq="h", tz="Europe/Berlin")
    assert list(day_ends(index)) == [24, 47, 71]
    assert list(day_ends(index[24:], first=24)) == [47, 71]
    assert list(day_ends(SITE.index)) == list(np.arange(1, 5) * 24)
