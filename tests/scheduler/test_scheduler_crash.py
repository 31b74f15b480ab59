"""A replay killed (SIGKILL, a real separate process) and resumed equals an uninterrupted one."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from sched_synthetic import STEP_KWH, make_site, small_battery

from pvbess import replay
from pvbess.config import PROJECT_ROOT

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

HERE = Path(__file__).resolve().parent
DAYS = 3
OPTIONS = dict(forecast="noisy", forecast_options={"seed": 11}, compare=False,
               energy_step_kwh=STEP_KWH)

CHILD = textwrap.dedent("""
    import os, signal, sys, time
    sys.path[:0] = [{root!r}, {here!r}]
    from sched_synthetic import STEP_KWH, make_site, small_battery
    from pvbess import replay
    from pvbess.scheduler.schedules import ScheduleStore

    db, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    count = 0

    def kill():
        os.kill(os.getpid(), signal.SIGKILL)

    def on_period(event):  # after the period is recorded and re-planned
        global count
        count += 1
        if mode == "after_period" and count == n:
            kill()
        if mode == "poll":
            time.sleep(0.002)  # give the parent time to kill us anywhere in the loop

    if mode == "before_schedule":  # killed between recording a period and storing its re-plan
        insert = ScheduleStore._insert
        calls = [0]

        def dying_insert(self, *args):
            calls[0] += 1
            if calls[0] == n:
                kill()
            return insert(self, *args)

        ScheduleStore._insert = dying_insert
    replay(make_site(days={days}, seed=5), battery=small_battery(), db=db, on_period=on_period,
           forecast="noisy", forecast_options={{"seed": 11}}, compare=False,
           energy_step_kwh=STEP_KWH)
    print("FINISHED")
""").format(root=str(PROJECT_ROOT), here=str(HERE), days=DAYS)


@pytest.fixture(scope="module")
def site():
    return make_site(days=DAYS, seed=5)


@pytest.fixture(scope="module")
def uninterrupted(site):
    return replay(site, battery=small_battery(), **OPTIONS)


def _events(db: Path) -> int:
    conn = sqlite3.connect(db, timeout=5)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:  # schema not written yet
        return 0
    finally:
        conn.close()


@pytest.mark.parametrize("mode, n", [("after_period", 30), ("after_period", 24),
                                     ("before_schedule", 41), ("poll", 37)])
def test_killed_replay_resumes_to_the_same_result(tmp_path, site, uninterrupted, mode, n):
    db = tmp_path / "replay.sqlite"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.Popen([sys.executable, str(script), str(db), mode, str(n)],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    if mode == "poll":  # the parent kills it from outside, wherever it happens to be
        deadline = time.monotonic() + 120
        while _events(db) < n and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == -signal.SIGKILL, (out, err)
    assert "FINISHED" not in out
    recorded = _events(db)
    assert 0 < recorded < len(site)
    if mode == "after_period":
        assert recorded == n
    if mode == "before_schedule":
        # 1 tomorrow + (n - 2) hourly plans stored; the (n - 1)-th period and its re-plan are
        # one transaction, killed before its commit: n - 2 periods recorded, the resume runs
        # the lost one again
        assert recorded == n - 2
    resumed = replay(site, battery=small_battery(), db=db, **OPTIONS)
    assert resumed.complete and resumed.info["resumed_at"] == site.index[recorded]
    assert resumed.info["scenarios"]["restart"] == 1
    pd.testing.assert_frame_equal(resumed.balance, uninterrupted.balance, check_exact=True)
    # nothing lost, nothing doubled
    assert resumed.balance.index.equals(site.index)
    assert not os.path.exists(str(db) + ".lock")  # the lock is on the file: nothing beside it
