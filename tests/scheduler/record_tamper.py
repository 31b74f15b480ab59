"""Helpers of the record tests: a short resumable replay and edits made behind the store's back
(a plain sqlite3 connection, no pragmas, the append-only triggers dropped first)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sched_synthetic import make_site, small_battery

from pvbess.scheduler.events import EVENT_VALUES

#: Two hourly days in Lima: 48 periods.
SITE = make_site(days=2, seed=5)
#: A small battery and an energy-only bill keep a replay of the two days near 0.3 s.
OPTIONS = dict(battery=small_battery(capacity_kwh=40.0, power_charge_kw=10.0,
                                     power_discharge_kw=10.0),
               energy_step_kwh=1.0, bill="energy", compare=False)
ROW = ("seq", "hash", "ts_ns", "tz", "day", "period", *EVENT_VALUES)


def raw(path: Path, *, drop_triggers: bool = True) -> sqlite3.Connection:
    """A foreign connection to the file (autocommit), optionally without the triggers."""
    conn = sqlite3.connect(path, isolation_level=None)
    if drop_triggers:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'")]
        for name in names:
            conn.execute(f"DROP TRIGGER {name}")
    return conn


def rows(conn: sqlite3.Connection) -> list[tuple]:
    """The events in recording order, columns :data:`ROW`."""
    return conn.execute(f"SELECT {', '.join(ROW)} FROM events ORDER BY seq").fetchall()


def set_value(conn: sqlite3.Connection, seq: int, column: str, value: object) -> None:
    conn.execute(f"UPDATE events SET {column} = ? WHERE seq = ?", (value, seq))
