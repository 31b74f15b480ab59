"""The record is append-only for every connection and verified before any resume."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess

import numpy as np
import pandas as pd
import pytest
from record_tamper import OPTIONS, SITE, raw, rows, set_value
from sched_synthetic import make_site, small_battery

from pvbess import DataError, HistoricalDataStore, HourlyEvent, replay
from pvbess.scheduler.controller import SimulatedController
from pvbess.scheduler.db import SCHEMA_VERSION, Database, DatabaseError
from pvbess.scheduler.events import HistoryError, chain_hash, event_bytes
from pvbess.scheduler.forecasts import PerfectForecast
from pvbess.scheduler.engine import OptimizationEngine
from pvbess.scheduler.manager import SimpleBatterySystemManager
from pvbess.scheduler.replay import site_actuals


@pytest.fixture
def recorded(tmp_path):
    """A file holding the first 30 periods of a replay of SITE."""
    path = tmp_path / "record.db"
    part = replay(SITE, db=path, stop_after=30, **OPTIONS)
    assert not part.complete and len(part.balance) == 30
    return path


# -- 1. no statement changes or removes a recorded row -----------------------------------------
REPLACE = {
    "events": "REPLACE INTO events SELECT * FROM t",
    "schedules": "INSERT OR REPLACE INTO schedules SELECT * FROM t",
    "meta": "INSERT OR REPLACE INTO meta SELECT * FROM t",
}
CHANGED = {"events": "pv_kwh = pv_kwh + 1", "schedules": "objective = objective + 1",
           "meta": "value = value || ' '"}


@pytest.mark.parametrize("table", sorted(REPLACE))
def test_replace_over_a_recorded_row_is_refused_for_a_foreign_connection(recorded, table):
    conn = raw(recorded, drop_triggers=False)  # plain sqlite3: no pragmas, default settings
    before = conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    conn.execute(f"CREATE TEMP TABLE t AS SELECT * FROM {table} ORDER BY rowid LIMIT 1")
    conn.execute(f"UPDATE t SET {CHANGED[table]}")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute(REPLACE[table])
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):  # an upsert too
        conn.execute(f"INSERT INTO {table} SELECT * FROM t WHERE true "
                     f"ON CONFLICT DO UPDATE SET {CHANGED[table]}")
    assert conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() == before
    conn.close()


def test_the_stores_own_behaviour_is_kept(recorded):
    with Database(recorded) as db:
        history = HistoricalDataStore(db)
        first = history.events()[0]
        assert history.record_event(first) is False  # identical: a no-op
        with pytest.raises(Exception, match="already recorded with other values"):
            history.record_event(first.replace(pv_kwh=first.pv_kwh + 1))
        assert db.put_meta("note", "a") is True and db.put_meta("note", "a") is False
        with pytest.raises(ValueError, match="append-only"):
            db.put_meta("note", "b")


def test_a_stale_chain_head_is_read_again_and_the_chain_stays_whole(tmp_path):
    """Recording a period is one INSERT on the chain head the writer keeps; a head that is
    wrong (here: forced back to the start) makes that INSERT fail on its sequence number,
    and the period is then chained to the head read from the file."""
    from pvbess.scheduler.record import verify_record

    index = pd.date_range("2024-01-01", periods=3, freq="h", tz="America/Lima")
    events = [HourlyEvent(timestamp=t, period=k, dt_h=1.0, soe_start_kwh=5.0, soe_end_kwh=5.0,
                          pv_kwh=1.0, load_kwh=1.0, grid_import_kwh=0.0, grid_export_kwh=0.0,
                          bess_charge_kwh=0.0, bess_discharge_kwh=0.0)
              for k, t in enumerate(index)]
    with Database(tmp_path / "h.sqlite") as db:
        history = HistoricalDataStore(db)
        assert history.record_event(events[0]) and history.record_event(events[1])
        db.event_head = (0, bytes(32))  # stale
        assert history.record_event(events[2]) is True
        assert db.event_head[0] == 3
        assert verify_record(db, dt_h=1.0, tz="America/Lima") == 3
        assert [e.timestamp for e in history.events()] == list(index)


# -- 2. a resume verifies the record -------------------------------------------------------
def resume(path):
    return replay(SITE, db=path, **OPTIONS)


def refused(path, match):
    with pytest.raises(HistoryError, match=match) as info:
        resume(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, DataError)
    return str(info.value)


def test_a_flipped_bit_in_a_stored_energy_is_refused(recorded):
    conn = raw(recorded)
    seq, value = 12, rows(raw(recorded))[11][8]  # soe_end_kwh of the 12th event
    flipped = np.frombuffer((np.float64(value).view(np.uint64) ^ np.uint64(1)).tobytes(), "<f8")
    set_value(conn, seq, "soe_end_kwh", float(flipped[0]))
    message = refused(recorded, "broken at period 11 of '2024-03-01'")
    assert "do not match its hash" in message


def test_an_edit_with_the_chain_rewritten_breaks_the_energy_continuity(recorded):
    """A forger who recomputes every hash still leaves the stored energy discontinuous."""
    conn = raw(recorded)
    set_value(conn, 20, "soe_start_kwh", rows(conn)[19][7] + 0.5)
    previous = rows(conn)[0][1]
    for row in rows(conn)[1:]:  # re-chain from the second event on
        previous = chain_hash(previous, event_bytes(row[0], *row[2:6], tuple(row[6:])))
        set_value(conn, row[0], "hash", previous)
    refused(recorded, r"period 19 of '2024-03-01'.*stored energy starts at")


@pytest.mark.parametrize("where", [5, 30])
def test_a_removed_event_is_refused(recorded, where):
    raw(recorded).execute("DELETE FROM events WHERE seq = ?", (where,))
    refused(recorded, "event #6 where #5|events removed")


def test_a_missing_chain_link_is_refused(recorded):
    set_value(raw(recorded), 3, "hash", bytes(32))
    refused(recorded, "period 2 of '2024-03-01'")


def test_events_without_a_stored_configuration_are_not_adopted(recorded):
    raw(recorded).execute("DELETE FROM meta")
    refused(recorded, "no replay configuration")


def test_a_foreign_event_outside_the_data_is_a_clear_error(recorded):
    with Database(recorded) as db:  # well chained, written through the store itself
        last = HistoricalDataStore(db).last_event()
        later = last.timestamp + pd.Timedelta(days=30)
        HistoricalDataStore(db).record_event(last.replace(timestamp=later))
    refused(recorded, "outside the replayed data")


def test_a_finished_replay_with_its_last_event_removed_is_refused(tmp_path):
    path = tmp_path / "done.db"
    assert replay(SITE, db=path, **OPTIONS).complete
    raw(path).execute("DELETE FROM events WHERE seq = 48")
    refused(path, "recorded 48 periods, the file holds 47")


def test_the_manager_start_up_verifies_the_record(recorded):
    set_value(raw(recorded), 7, "load_kwh", 1.0)
    actual = site_actuals(SITE)
    battery = OPTIONS["battery"]
    with pytest.raises(HistoryError, match="period 6 of '2024-03-01'"):
        SimpleBatterySystemManager(OptimizationEngine(battery),
                                   SimulatedController(actual, battery),
                                   PerfectForecast(actual), recorded)


def test_a_record_of_another_time_zone_is_foreign(recorded):
    actual = site_actuals(SITE).tz_convert("UTC")
    battery = OPTIONS["battery"]
    with pytest.raises(HistoryError, match="time zone 'America/Lima'.*foreign"):
        SimpleBatterySystemManager(OptimizationEngine(battery),
                                   SimulatedController(actual, battery),
                                   PerfectForecast(actual), recorded)


def test_an_intact_record_resumes_to_the_uninterrupted_result(recorded):
    whole = replay(SITE, **OPTIONS)
    pd.testing.assert_frame_equal(resume(recorded).balance, whole.balance, check_exact=True)


def test_an_older_schema_is_refused(recorded):
    raw(recorded).execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    with pytest.raises(DatabaseError, match=f"schema version {SCHEMA_VERSION - 1}"):
        resume(recorded)


# -- 3. days are local calendar days ---------------------------------------------------------
def test_days_are_local_calendar_days_across_a_daylight_saving_change():
    index = pd.date_range("2024-03-30", "2024-04-02", freq="h", tz="Europe/Madrid",
                          inclusive="left")
    assert len(index) == 24 + 23 + 24
    lima = make_site(days=3, seed=3)
    site = pd.DataFrame(lima.to_numpy()[:len(index)], columns=lima.columns, index=index)
    result = replay(site, start="2024-03-31", days=2, **OPTIONS)
    assert result.complete and len(result.balance) == 23 + 24
    assert result.balance.index[0] == pd.Timestamp("2024-03-31", tz="Europe/Madrid")
    assert result.balance.index[-1] == pd.Timestamp("2024-04-01 23:00", tz="Europe/Madrid")
    assert len(replay(site, **OPTIONS).balance) == len(index)  # all three days
    with pytest.raises(DataError, match="holds 2 whole day"):
        replay(site, start="2024-03-31", days=3, **OPTIONS)


# -- 4. a database this process may not write --------------------------------------------
def _make_read_only(path):
    """chmod; as root (which ignores modes) the immutable attribute instead, if available."""
    os.chmod(path, 0o555 if path.is_dir() else 0o444)
    if os.access(path, os.W_OK):
        if shutil.which("chattr") is None or subprocess.run(
                ["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            os.chmod(path, 0o644)
            pytest.skip("cannot make a file read-only for this user")
        return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)
    return lambda: None


@pytest.mark.parametrize("target", ["file", "folder"])
def test_an_unwritable_database_is_a_clear_error_and_leaves_no_side_files(tmp_path, target):
    folder = tmp_path / "db"
    folder.mkdir()
    path = folder / "record.db"
    replay(SITE, db=path, stop_after=3, **OPTIONS)
    undo = _make_read_only(path if target == "file" else folder)
    try:
        with pytest.raises(DatabaseError, match=f"{path}: permission denied"):
            resume(path)
        assert sorted(p.name for p in folder.iterdir()) == ["record.db"]
        with Database(path, read_only=True) as db:  # reading it still works
            assert len(HistoricalDataStore(db)) == 3
        assert sorted(p.name for p in folder.iterdir()) == ["record.db"]
    finally:
        undo()
        os.chmod(path, 0o644)
        os.chmod(folder, 0o755)
    assert len(resume(path).balance) == 48  # writable again: nothing left behind blocks it


# -- 5. any real number -----------------------------------------------------------------------
def test_numpy_numbers_are_accepted_where_a_number_is_asked():
    from pvbess import SchedulingProblem, simulate

    ts = pd.Timestamp("2024-03-01", tz="America/Lima")
    event = HourlyEvent(timestamp=ts, period=0, dt_h=np.int64(1), soe_start_kwh=np.float32(1),
                        soe_end_kwh=1, pv_kwh=0, load_kwh=np.int32(2), grid_import_kwh=2.0,
                        grid_export_kwh=0, bess_charge_kwh=0, bess_discharge_kwh=0)
    assert event.dt_h == 1.0 and type(event.load_kwh) is float
    with pytest.raises(TypeError, match="must be a number"):
        event.replace(dt_h=True)
    problem = SchedulingProblem.build([0.3] * 24, [0.0] * 24, [1.0] * 24, [0.0] * 24,
                                      small_battery(), dt_h=np.int64(1))
    assert problem.dt_h == 1.0
    with pytest.raises(DataError, match="dt_h = True"):
        SchedulingProblem.build([0.3] * 24, [0.0] * 24, [1.0] * 24, [0.0] * 24,
                                small_battery(), dt_h=True)
    actual = site_actuals(SITE, co2_price_per_kg=np.int64(0), co2_kg_per_kwh=np.float32(0.5))
    assert len(actual) == len(SITE)
    from pvbess.scheduler.forecasts import NoisyForecast
    assert NoisyForecast(actual, load_noise=np.float32(0.1), pv_noise=np.int64(0)) is not None
    assert len(simulate(SITE, small_battery(), co2_kg_per_kwh=np.float32(0.5))) == len(SITE)
