"""HistoricalDataStore, ScheduleStore and the database file: guarantees and failure modes."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvbess import HistoricalDataStore, HourlyEvent, ScheduleStore, StoredSchedule
from pvbess.config import PROJECT_ROOT
from pvbess.scheduler.db import (
    APPLICATION_ID,
    PAGE_SIZE,
    Database,
    DatabaseError,
    DatabaseLockedError,
    ReadOnlyError,
)
from pvbess.scheduler.events import EVENT_VALUES, EventConflictError, day_index

TZ = "America/Lima"


def event(hour: int = 0, day: str = "2024-03-01", dt_h: float = 1.0, **changes) -> HourlyEvent:
    ts = pd.Timestamp(day, tz=TZ) + pd.Timedelta(hours=hour * dt_h)
    values = dict(timestamp=ts, period=hour, dt_h=dt_h, soe_start_kwh=100.0, soe_end_kwh=110.0,
                  pv_kwh=50.0, load_kwh=30.0, grid_import_kwh=0.0, grid_export_kwh=9.4736842,
                  bess_charge_kwh=10.526315789, bess_discharge_kwh=0.0,
                  pv_curtailed_kwh=0.0, buy_price=0.28, sell_price=0.0, wear_cost=0.0)
    values.update(changes)
    return HourlyEvent(**values)


def plan_table(day: str, start: int, dt_h: float = 1.0, seed: int = 0) -> pd.DataFrame:
    index = day_index(day, dt_h, TZ)[start:]
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"load_kwh": rng.random(len(index)) * 100,
                          "setpoint_kwh": rng.normal(0, 10, len(index)) / 3.0},
                         index=index)
    table["action"] = np.where(table["setpoint_kwh"] > 0, "grid_charging",
                               "load_support")
    return table


def schedule(day: str = "2024-03-01", start: int = 0, scenario: str = "hourly",
             created: str | None = None, seed: int = 0, dt_h: float = 1.0) -> StoredSchedule:
    n = int(round(24 / dt_h))
    created_at = (pd.Timestamp(created, tz=TZ) if created else
                  pd.Timestamp(day, tz=TZ) + pd.Timedelta(hours=start * dt_h))
    return StoredSchedule(created_at=created_at, day=day, start_period=start,
                          scenario=scenario, plan=plan_table(day, start, dt_h, seed),
                          objective=float(seed) + 0.1, dt_h=dt_h, day_periods=n,
                          summary={"seed": seed, "x": np.float64(1.5)})


# -- events ---------------------------------------------------------------------------------
def test_event_round_trip_is_exact_and_tz_aware():
    store = HistoricalDataStore()
    e = event(5, soe_end_kwh=1 / 3)
    assert store.record_event(e) is True
    back = store.get_event(e.timestamp)
    assert back == e and back.timestamp.tz is not None and str(back.timestamp.tz) == TZ
    assert store.get_period_event("2024-03-01", 5) == e
    assert store.get_completed_periods("2024-03-01") == [5]
    assert store.get_event(e.timestamp + pd.Timedelta(hours=1)) is None


def test_same_event_twice_is_a_no_op_and_other_values_are_an_error():
    store = HistoricalDataStore()
    e = event(3)
    assert store.record_event(e)
    assert store.record_event(e) is False
    with pytest.raises(EventConflictError, match="period 3 of 2024-03-01.*load_kwh"):
        store.record_event(e.replace(load_kwh=31.0))
    with pytest.raises(EventConflictError):  # one ulp is a different value
        store.record_event(e.replace(pv_kwh=np.nextafter(50.0, 60.0)))
    assert len(store) == 1 and store.get_event(e.timestamp) == e


def test_sql_update_and_delete_are_rejected_by_triggers():
    store = HistoricalDataStore()
    store.record_event(event(0))
    sched = ScheduleStore(store.db)
    sched.store_schedule(schedule())
    store.db.put_meta("k", "v")
    assert store.db.put_meta("k", "v") is False
    with pytest.raises(ValueError, match="append-only"):
        store.db.put_meta("k", "w")
    conn = store.db.conn
    for sql in ("UPDATE events SET load_kwh = 0", "DELETE FROM events",
                "UPDATE schedules SET objective = 0", "DELETE FROM schedules",
                "DELETE FROM meta", "UPDATE meta SET value = 'x'"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
    assert len(store) == 1 and len(sched) == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 23), st.sampled_from([10.0, 20.0, 1 / 3])),
                min_size=1, max_size=40))
def test_store_keeps_the_first_version_of_every_period(writes):
    """Any sequence of writes (repeats, conflicts): first write wins, nothing changes after."""
    store = HistoricalDataStore()
    first: dict[int, float] = {}
    for hour, load in writes:
        e = event(hour, load_kwh=load)
        if hour not in first:
            assert store.record_event(e)
            first[hour] = load
        elif first[hour] == load:
            assert store.record_event(e) is False
        else:
            with pytest.raises(EventConflictError):
                store.record_event(e)
    assert len(store) == len(first)
    assert store.get_completed_periods("2024-03-01") == sorted(first)
    frame = store.to_frame()
    assert frame["load_kwh"].tolist() == [first[h] for h in sorted(first)]
    assert frame.index.is_monotonic_increasing and str(frame.index.tz) == TZ


def test_event_validation():
    with pytest.raises(ValueError, match="period = 6.*is period 5"):
        event(5).replace(period=6)
    with pytest.raises(ValueError, match="load_kwh.*>= 0"):
        event(1, load_kwh=-1.0)
    with pytest.raises(ValueError, match="tz-aware"):
        event(1, timestamp=pd.Timestamp("2024-03-01 01:00"))
    with pytest.raises(ValueError, match="finite"):
        event(1, pv_kwh=float("nan"))
    with pytest.raises(TypeError):
        HistoricalDataStore().record_event({"period": 1})  # type: ignore[arg-type]


_ENERGIES = ("pv_kwh", "load_kwh", "grid_import_kwh", "grid_export_kwh", "bess_charge_kwh",
             "bess_discharge_kwh", "pv_curtailed_kwh")
_FLOAT = st.one_of(st.floats(), st.sampled_from([1e308, -1e308, -0.0, 0.0, float("nan")]))
_OTHER_NUMBER = st.one_of(st.integers(-3, 3), st.integers(-3, 3).map(np.int64),
                          st.floats(width=32).map(np.float32), st.booleans())


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries({name: _FLOAT for name in EVENT_VALUES if name != "dt_h"}),
       st.dictionaries(st.sampled_from([n for n in EVENT_VALUES if n != "dt_h"]),
                       _OTHER_NUMBER, max_size=2),
       st.sampled_from([1.0, 1, np.float64(1.0), 0.0, -1.0, float("nan"), float("inf")]))
def test_an_event_holds_exactly_real_finite_numbers(values, others, dt_h):
    """The rule, value by value in field order: a number (not a bool), finite, dt_h > 0,
    energies >= 0; what passes is stored as a plain float (sums that overflow included)."""
    fields = {"dt_h": dt_h, **values, **others}
    error = None
    for name in EVENT_VALUES:
        value = fields[name]
        if isinstance(value, (bool, np.bool_)):
            error = (TypeError, f"{name} = .*must be a number")
        elif not np.isfinite(float(value)):
            error = (ValueError, f"{name} = .*must be finite")
        if error:
            break
    if error is None and not float(dt_h) > 0:
        error = (ValueError, "dt_h = .*must be > 0")
    if error is None:
        negative = [name for name in _ENERGIES if float(fields[name]) < 0]
        error = (ValueError, f"{negative[0]} = .*must be >= 0") if negative else None
    ts = pd.Timestamp("2024-03-01 01:00", tz=TZ)
    if error is not None:
        with pytest.raises(error[0], match=error[1]):
            HourlyEvent(timestamp=ts, period=1, **fields)
        return
    made = HourlyEvent(timestamp=ts, period=1, **fields)
    for name in EVENT_VALUES:
        assert type(getattr(made, name)) is float
        assert getattr(made, name) == float(fields[name])
    assert made.values() == tuple(float(fields[name]) for name in EVENT_VALUES)


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 12, 31)),
       st.sampled_from(["America/Lima", "Europe/Berlin", "America/New_York",
                        "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"]),
       st.sampled_from([1.0, 0.5, 0.25]))
def test_a_day_index_is_the_local_days_fixed_steps(day, tz, dt_h):
    """The periods of a local day (DST days 23 or 25 hours, half-hour shifts) exactly as
    pandas lays fixed steps from local midnight to the next, in ns, with the step as freq."""
    midnight = pd.Timestamp(day)
    expected = pd.date_range(midnight.tz_localize(tz),
                             (midnight + pd.Timedelta(days=1)).tz_localize(tz),
                             freq=pd.Timedelta(hours=dt_h), inclusive="left").as_unit("ns")
    got = day_index(day, dt_h, tz)
    pd.testing.assert_index_equal(got, expected, exact=True)
    assert got.freq == expected.freq and str(got.dtype) == str(expected.dtype)
    assert got[0] == midnight.tz_localize(tz)


def test_quarter_hour_periods():
    store = HistoricalDataStore()
    e = event(95, dt_h=0.25)
    assert e.timestamp.hour == 23 and e.timestamp.minute == 45
    store.record_event(e)
    assert store.get_completed_periods("2024-03-01") == [95]
    assert len(day_index("2024-03-01", 0.25, TZ)) == 96


# -- schedules ------------------------------------------------------------------------------
def test_schedule_round_trip_and_queries():
    store = ScheduleStore()
    ids = [store.store_schedule(schedule(start=0, scenario="tomorrow", seed=1,
                                         created="2024-02-29 23:55")),
           store.store_schedule(schedule(start=1, seed=2)),
           store.store_schedule(schedule(start=2, seed=3)),
           store.store_schedule(schedule(day="2024-03-02", start=0, scenario="tomorrow",
                                         seed=4, created="2024-03-01 23:55"))]
    assert ids == sorted(ids) and len(store) == 4
    latest = store.get_latest_schedule()
    assert latest.id == ids[3] and latest.day == "2024-03-02"
    day1 = store.get_latest_schedule("2024-03-01")
    original = schedule(start=2, seed=3)
    assert day1.id == ids[2] and day1.objective == original.objective
    pd.testing.assert_frame_equal(day1.plan, original.plan, check_exact=True,
                                  check_freq=False)
    assert day1.summary == {"seed": 3, "x": 1.5}
    assert [s.scenario for s in store.get_all_schedules("2024-03-01")] == \
        ["tomorrow", "hourly", "hourly"]
    at = store.get_schedule_at_time(pd.Timestamp("2024-03-01 01:30", tz=TZ))
    assert at.id == ids[1]
    assert store.get_schedule_at_time(pd.Timestamp("2024-02-29 12:00", tz=TZ)) is None
    assert store.get_schedule_at_time(pd.Timestamp("2024-03-02 12:00", tz=TZ),
                                      day="2024-03-01").id == ids[2]
    assert store.scenario_counts() == {"tomorrow": 2, "hourly": 2, "restart": 0}


def test_schedule_validation():
    with pytest.raises(ValueError, match="scenario"):
        schedule(scenario="weekly")
    good = schedule(start=3)
    with pytest.raises(ValueError, match="rows"):
        StoredSchedule(created_at=good.created_at, day=good.day, start_period=2,
                       scenario="hourly", plan=good.plan, objective=0.0)
    shifted = good.plan.copy()
    shifted.index = shifted.index + pd.Timedelta(minutes=30)
    with pytest.raises(ValueError, match="index"):
        ScheduleStore().store_schedule(StoredSchedule(
            created_at=good.created_at, day=good.day, start_period=3, scenario="hourly",
            plan=shifted, objective=0.0))


def test_quarter_hour_schedule():
    store = ScheduleStore()
    store.store_schedule(schedule(start=37, dt_h=0.25))
    back = store.get_latest_schedule()
    assert back.day_periods == 96 and len(back.plan) == 59
    assert back.plan.index[0] == pd.Timestamp("2024-03-01 09:15", tz=TZ)


# -- the file: persistence, read-only, corruption, foreign files, locks --------------------
def test_file_persists_and_read_only_refuses_writes(tmp_path):
    path = tmp_path / "s.sqlite"
    with Database(path) as db:
        HistoricalDataStore(db).record_event(event(2))
        ScheduleStore(db).store_schedule(schedule())
    reader = HistoricalDataStore(path, read_only=True)
    assert reader.get_completed_periods("2024-03-01") == [2]
    with pytest.raises(ReadOnlyError):
        reader.record_event(event(3))
    with pytest.raises(ReadOnlyError):
        ScheduleStore(reader.db).store_schedule(schedule())
    reader.db.close()


def test_a_new_file_has_small_pages_an_old_file_keeps_its_own(tmp_path):
    """New files get PAGE_SIZE pages (a period's commit writes fewer WAL bytes); a file made
    with other pages opens and works as it is."""
    with Database(tmp_path / "new.sqlite") as db:
        assert db.conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
        assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    old = tmp_path / "old.sqlite"
    with Database(old) as db:
        HistoricalDataStore(db).record_event(event(2))
    conn = sqlite3.connect(old)  # rebuilt with 4 KiB pages, as earlier versions made files
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA page_size=4096")
    conn.execute("VACUUM")
    conn.close()
    with Database(old) as db:
        assert db.conn.execute("PRAGMA page_size").fetchone()[0] == 4096
        HistoricalDataStore(db).record_event(event(3))
        assert HistoricalDataStore(db).get_completed_periods("2024-03-01") == [2, 3]


def test_schedule_ids_run_as_in_files_made_with_autoincrement(tmp_path, monkeypatch):
    """New files number schedules by rowid (no AUTOINCREMENT page to write per commit): on an
    append-only table that is the same 1, 2, 3, ... as a file made with AUTOINCREMENT, across
    refused inserts and reopening, and such an older file keeps working."""
    import pvbess.scheduler.db as db_module

    new, old = tmp_path / "new.sqlite", tmp_path / "old.sqlite"
    with monkeypatch.context() as m:
        m.setattr(db_module, "_SCHEMA", db_module._SCHEMA.replace(
            "id INTEGER PRIMARY KEY,", "id INTEGER PRIMARY KEY AUTOINCREMENT,"))
        Database(old).close()
    Database(new).close()
    ddl = {path: sqlite3.connect(path).execute(
        "SELECT sql FROM sqlite_master WHERE name = 'schedules'").fetchone()[0]
        for path in (new, old)}
    assert "AUTOINCREMENT" in ddl[old] and "AUTOINCREMENT" not in ddl[new]

    def ids(path) -> list[int]:
        got = []
        for seed in range(3):
            with Database(path) as db:  # reopened: the next id follows the last
                store = ScheduleStore(db)
                got.append(store.store_schedule(schedule(start=seed, seed=seed)))
                with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                    db.conn.execute("INSERT INTO schedules SELECT * FROM schedules WHERE id = 1")
                with pytest.raises(ValueError, match="not finite"):
                    store.store_plan(np.zeros((1, 24)), ["x"], ["idle"] * 24,
                                     index=day_index("2024-03-01", 1.0, TZ),
                                     created_at="2024-03-01 00:00-05:00", day="2024-03-01",
                                     start_period=0, scenario="hourly", objective=np.nan)
        with Database(path, read_only=True) as db:
            got.append([row[0] for row in db.conn.execute("SELECT id FROM schedules")])
        return got

    assert ids(new) == ids(old) == [1, 2, 3, [1, 2, 3]]


def test_random_bytes_file_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.sqlite"
    path.write_bytes(np.random.default_rng(0).bytes(8192))
    with pytest.raises(DatabaseError, match="not a pvbess scheduler database"):
        HistoricalDataStore(path)
    assert path.read_bytes()[:4] != b"SQLi"  # untouched


def test_text_file_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("timestamp,pv_kwh\n2024-01-01,3\n" * 200)
    with pytest.raises(DatabaseError, match="not a pvbess scheduler database"):
        ScheduleStore(path)


def test_foreign_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE events (x)")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="foreign SQLite file"):
        HistoricalDataStore(path)
    conn = sqlite3.connect(path)  # not modified
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["events"]
    conn.close()


def test_other_schema_version_is_refused(tmp_path):
    path = tmp_path / "v.sqlite"
    Database(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(DatabaseError, match="schema version 99"):
        Database(path)


def test_corrupted_database_is_a_clear_error(tmp_path):
    path = tmp_path / "c.sqlite"
    with Database(path) as db:
        store = HistoricalDataStore(db)
        for h in range(24):
            store.record_event(event(h))
        ScheduleStore(db).store_schedule(schedule())
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) >= 3 * page
    data[page:3 * page] = b"\xff" * (2 * page)  # smash the b-tree pages after the header
    path.write_bytes(bytes(data))
    with pytest.raises(DatabaseError, match="corrupted|not a pvbess"):
        db = Database(path)
        HistoricalDataStore(db).events()


def test_two_writers_on_one_file_are_refused(tmp_path):
    path = tmp_path / "w.sqlite"
    first = HistoricalDataStore(path)
    with pytest.raises(DatabaseLockedError, match="another manager"):
        HistoricalDataStore(path)
    with pytest.raises(DatabaseLockedError):
        ScheduleStore(path)
    reader = HistoricalDataStore(path, read_only=True)  # readers are fine
    first.record_event(event(1))
    assert reader.get_completed_periods("2024-03-01") == [1]
    first.db.close()
    second = HistoricalDataStore(path)  # the lock is released on close
    second.record_event(event(2))
    second.db.close()
    reader.db.close()


def test_a_writer_in_another_process_is_refused(tmp_path):
    path = tmp_path / "p.sqlite"
    holder = Database(path)
    code = textwrap.dedent(f"""
        from pvbess.scheduler.db import Database, DatabaseLockedError
        try:
            Database({str(path)!r})
        except DatabaseLockedError as exc:
            print("REFUSED", exc)
        else:
            print("OPENED")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=PROJECT_ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("REFUSED") and "another manager" in out.stdout
    holder.close()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=PROJECT_ROOT)
    assert out.stdout.startswith("OPENED"), out.stdout + out.stderr
