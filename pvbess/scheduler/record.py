"""Verify a recorded history before resuming on it: chain, sequence, continuity, completeness.

A resume trusts nothing in the file. :func:`verify_record` re-reads every event in recording
order and refuses, with :class:`~pvbess.scheduler.events.HistoryError` naming the file and the
first bad period:

- a gap or a reordering in the sequence numbers (a row removed or moved);
- an event whose bytes do not give its stored hash (a value edited, a bit flipped, rows'
  values swapped, a row written by another program);
- stored energy that does not continue: ``soe_start_kwh`` of a period differs from
  ``soe_end_kwh`` of the period just before it, when both are recorded;
- an event of another period length or time zone than the manager's (a foreign record);
- a stored plan made after more events than the history holds (its last events removed).

The chain has no secret: it shows edits made without recomputing it (a tool, a stray
statement, a flipped bit), not a forger who rewrites every hash after the edit.
"""

from __future__ import annotations

import sqlite3
import struct

import pandas as pd

from .db import Database
from .events import EVENT_VALUES, GENESIS, HistoryError, chain_hash, event_bytes

_ROWS = ("SELECT seq, hash, ts_ns, tz, day, period, " + ", ".join(EVENT_VALUES)
         + " FROM events ORDER BY seq")
_VALUES = 6  # where EVENT_VALUES start in a row of _ROWS
_DT_H = EVENT_VALUES.index("dt_h")
_NS_PER_H = 3_600_000_000_000


def _where(db: Database, row: tuple, why: str) -> HistoryError:
    try:
        ts = str(pd.Timestamp(row[2], unit="ns", tz="UTC").tz_convert(str(row[3])))
    except Exception:  # a foreign row may hold anything
        ts = repr(row[2])
    return HistoryError(f"{db.path}: the recorded history is broken at period {row[5]!r} of "
                        f"{row[4]!r} ({ts}): {why}; refusing to resume on it")


def verify_record(db: Database, *, dt_h: float | None = None, tz: str | None = None) -> int:
    """Check the events (and the plans' view of them) of ``db``; return the number of events.

    Parameters
    ----------
    db : Database
    dt_h : float, optional
        The period length every event must have. [h]
    tz : str, optional
        The IANA zone every event must be recorded in.

    Raises
    ------
    HistoryError
        The record is broken or foreign (see the module docstring).
    """
    try:
        rows = db.conn.execute(_ROWS).fetchall()
    except sqlite3.Error as exc:
        raise HistoryError(f"{db.path}: the recorded history cannot be read ({exc})") from exc
    previous = GENESIS
    for expected, row in enumerate(rows, start=1):
        seq, digest, ts_ns, zone, day, period, *values = row
        if seq != expected:
            raise _where(db, row, f"recorded as event #{seq!r} where #{expected} was expected "
                                  "(an event removed or moved)")
        try:
            data = event_bytes(seq, ts_ns, zone, day, period, tuple(values))
        except (TypeError, AttributeError, ValueError, OverflowError, struct.error) as exc:
            raise _where(db, row, f"a value of the wrong type ({exc})") from None
        previous = chain_hash(previous, data)
        if digest != previous:
            raise _where(db, row, "its values do not match its hash (edited after recording, "
                                  "or written by another program)")
        if tz is not None and zone != tz:
            raise _where(db, row, f"recorded in time zone {zone!r}, this manager runs in "
                                  f"{tz!r} (a foreign record)")
        if dt_h is not None and values[_DT_H] != dt_h:
            raise _where(db, row, f"a period of {values[_DT_H]!r} h, this manager's is "
                                  f"{dt_h!r} h (a foreign record)")
    _check_continuity(db, rows)
    _check_plans(db, len(rows))
    return len(rows)


def _check_continuity(db: Database, rows: list[tuple]) -> None:
    soe_start, soe_end = EVENT_VALUES.index("soe_start_kwh"), EVENT_VALUES.index("soe_end_kwh")
    by_time = sorted(rows, key=lambda r: r[2])
    for before, row in zip(by_time, by_time[1:]):
        values_before, values = before[_VALUES:], row[_VALUES:]
        consecutive = row[2] - before[2] == round(values_before[_DT_H] * _NS_PER_H)
        if consecutive and values[soe_start] != values_before[soe_end]:
            raise _where(db, row, f"its stored energy starts at {values[soe_start]!r} kWh, the "
                                  f"period before ended at {values_before[soe_end]!r} kWh")


def _check_plans(db: Database, n_events: int) -> None:
    plan = db.conn.execute("SELECT history_seq, day, start_period FROM schedules "
                           "ORDER BY history_seq DESC, id LIMIT 1").fetchone()
    if plan is not None and plan[0] > n_events:
        raise HistoryError(
            f"{db.path}: the recorded history is broken before period {plan[2]} of {plan[1]}: "
            f"a plan for it was made after event #{plan[0]}, the history ends at #{n_events} "
            "(recorded events removed); refusing to resume on it")
