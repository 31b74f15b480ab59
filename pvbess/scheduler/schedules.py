"""What was planned: every optimization result, timestamped, in an append-only store."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .db import Database, open_database
from ..timeseries import epoch_ns
from .events import _aware, day_index

SCENARIOS: tuple[str, ...] = ("tomorrow", "hourly", "restart")

_COLUMNS = ("id", "created_ns", "tz", "day", "start_period", "day_periods", "dt_h", "scenario",
            "method", "objective", "columns", "data", "labels", "summary")
_SELECT = "SELECT " + ", ".join(_COLUMNS) + " FROM schedules"
# history_seq: how many events were recorded when the plan was stored, so a resume sees a
# recorded event removed from the end of the history (pvbess.scheduler.record)
_INSERT = (f"INSERT INTO schedules ({', '.join(_COLUMNS[1:])}, history_seq) "
           f"VALUES ({', '.join('?' * (len(_COLUMNS) - 1))}, "
           "(SELECT coalesce(max(seq), 0) FROM events))")


@dataclass(frozen=True)
class StoredSchedule:
    """One optimization result as stored.

    Parameters
    ----------
    created_at : pandas.Timestamp
        When the optimization ran (tz-aware; the simulated clock in a replay).
    day : str
        Local ISO date the plan is for.
    start_period : int
        First period of the day the plan covers (0 for a whole day).
    scenario : str
        ``"tomorrow"``, ``"hourly"`` or ``"restart"``.
    plan : pandas.DataFrame
        One row per planned period (``start_period`` .. end of day) on the tz-aware period
        starts; float columns (the plan table of
        :class:`~pvbess.scheduler.engine.OptimizationEngine`).
    objective : float
        The optimizer's objective. [currency]
    method : str
        Which optimizer made it.
    dt_h : float
        Period length. [h]
    day_periods : int
        Number of periods in the whole day (24, 96, ...).
    summary : dict
        Scalars reported by the optimizer (JSON-serialisable).
    id : int or None
        Row id once stored (insertion order).
    """

    created_at: pd.Timestamp
    day: str
    start_period: int
    scenario: str
    plan: pd.DataFrame
    objective: float
    method: str = "dp"
    dt_h: float = 1.0
    day_periods: int = 24
    summary: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "created_at", _aware(self.created_at))
        object.__setattr__(self, "day", str(self.day))
        if not isinstance(self.plan, pd.DataFrame) or not isinstance(self.plan.index,
                                                                      pd.DatetimeIndex):
            raise ValueError("StoredSchedule.plan: expected a DataFrame on a DatetimeIndex")
        _check_head(self.day, self.start_period, self.scenario, self.day_periods,
                    len(self.plan))

    @property
    def end_period(self) -> int:
        """One past the last planned period of the day."""
        return self.day_periods


def _check_head(day: str, start_period: int, scenario: str, day_periods: int,
                rows: int) -> None:
    """A schedule's scenario, start and number of planned periods (the rest of the day)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"StoredSchedule.scenario = {scenario!r}: must be one of "
                         f"{SCENARIOS}")
    if not 0 <= start_period < day_periods:
        raise ValueError(f"StoredSchedule.start_period = {start_period!r}: must lie in "
                         f"[0, {day_periods})")
    expected = day_periods - start_period
    if rows != expected:
        raise ValueError(f"StoredSchedule.plan: {rows} rows, expected {expected} "
                         f"(periods {start_period}..{day_periods - 1} of {day})")


def _pack(values: np.ndarray, names: Any, actions: Any) -> tuple[str, bytes, str]:
    """(column names, float64 values of shape (columns, periods) as bytes, action labels)."""
    return (_names_json(tuple(names)), np.ascontiguousarray(values, dtype="<f8").tobytes(),
            json.dumps([str(a) for a in actions]))


@functools.lru_cache(maxsize=16)
def _names_json(names: tuple[str, ...]) -> str:
    """The JSON of a plan's column names (the same for every plan of a manager)."""
    return json.dumps(list(names))


def _encode(plan: pd.DataFrame) -> tuple[str, bytes, str]:
    """(float column names, their float64 values as bytes, action labels) of a plan table."""
    floats = [c for c, t in plan.dtypes.items() if t.kind in "fiub"]
    other = [c for c in plan.columns if c not in floats]
    if len(other) > 1 or (other and other[0] != "action"):
        raise ValueError(f"plan columns {other}: only numeric columns and 'action' are stored")
    data = np.ascontiguousarray(plan[floats].to_numpy(dtype="<f8").T).tobytes()
    labels = [str(a) for a in plan["action"].to_numpy()] if other else []
    return json.dumps(floats), data, json.dumps(labels)


_JSON_PLAIN = frozenset((float, int, str, bool))


def _jsonable(value: Any) -> Any:
    if type(value) in _JSON_PLAIN or value is None:
        return value  # (the usual case first)
    if type(value) is dict and all(type(k) is str and type(v) in _JSON_PLAIN
                                   for k, v in value.items()):
        return value  # (a plan's summary: plain already)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def _schedule_from_row(row: tuple) -> StoredSchedule:
    (sid, created_ns, tz, day, start, day_periods, dt_h, scenario, method, objective,
     columns, data, labels, summary) = row
    index = day_index(day, dt_h, tz)[int(start):]
    names = json.loads(columns)
    values = np.frombuffer(data, dtype="<f8").reshape(len(names), len(index))
    plan = pd.DataFrame({n: values[i].copy() for i, n in enumerate(names)}, index=index)
    actions = json.loads(labels)
    if actions:
        plan["action"] = actions
    return StoredSchedule(
        created_at=pd.Timestamp(created_ns, unit="ns", tz="UTC").tz_convert(tz), day=day,
        start_period=int(start), scenario=scenario, plan=plan, objective=float(objective),
        method=method, dt_h=float(dt_h), day_periods=int(day_periods),
        summary=json.loads(summary), id=int(sid))




class ScheduleStore:
    """Append-only store of every optimization result (SQLite, same file as the history).

    Parameters
    ----------
    db : Database, path or ``":memory:"``
    read_only : bool
        Open a path without the writer lock (reads only).
    """

    def __init__(self, db: Database | str | os.PathLike[str] = ":memory:", *,
                 read_only: bool = False) -> None:
        self.db = open_database(db, read_only=read_only)

    def store_schedule(self, schedule: StoredSchedule) -> int:
        """Append a schedule; returns its id (ids grow in insertion order)."""
        if not isinstance(schedule, StoredSchedule):
            raise TypeError(f"expected a StoredSchedule, got {type(schedule).__name__}")
        self.db.check_writable()
        columns, data, labels = _encode(schedule.plan)
        head = {"day": schedule.day, "start_period": int(schedule.start_period),
                "scenario": schedule.scenario, "day_periods": int(schedule.day_periods),
                "dt_h": float(schedule.dt_h), "method": str(schedule.method),
                "objective": float(schedule.objective), "summary": schedule.summary}
        return self._insert(schedule.created_at, schedule.plan.index, head, columns, data,
                            labels)

    def store_plan(self, values: np.ndarray, columns: Any, actions: Any, *, index: Any,
                   created_at: Any, day: str, start_period: int, scenario: str,
                   objective: float, method: str = "dp", dt_h: float = 1.0,
                   day_periods: int = 24, summary: dict[str, Any] | None = None) -> int:
        """Append a schedule given as arrays (the manager's fast path; same checks and row as
        :meth:`store_schedule`).

        Parameters
        ----------
        values : numpy.ndarray
            Shape ``(len(columns), periods)``: the plan's float columns.
        columns : sequence of str
            Their names.
        actions : sequence of str
            The action label of each period.
        index : pandas.DatetimeIndex
            The planned periods: ``start_period`` .. end of ``day``.
        created_at, day, start_period, scenario, objective, method, dt_h, day_periods, summary
            As :class:`StoredSchedule`.
        """
        self.db.check_writable()
        columns = list(columns)
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (len(columns), len(index)) or len(actions) != len(index):
            raise ValueError(f"schedule for {day}: values {values.shape}, {len(actions)} actions "
                             f"and {len(index)} periods do not match {len(columns)} columns")
        # the same checks as StoredSchedule, without building its (empty) plan table
        _check_head(str(day), start_period, scenario, day_periods, len(index))
        head = {"day": str(day), "start_period": int(start_period), "scenario": scenario,
                "day_periods": int(day_periods), "dt_h": float(dt_h), "method": str(method),
                "objective": float(objective), "summary": summary or {}}
        return self._insert(_aware(created_at), index, head, *_pack(values, columns, actions))

    def _insert(self, created_at: pd.Timestamp, index: pd.DatetimeIndex, head: dict[str, Any],
                columns: str, data: bytes, labels: str) -> int:
        day, start, periods = head["day"], head["start_period"], head["day_periods"]
        if not math.isfinite(head["objective"]):
            raise ValueError(f"schedule for {day}: objective {head['objective']!r} "
                             "is not finite")
        tz = str(index.tz)
        expected = day_index(day, head["dt_h"], tz)
        if len(expected) != periods or len(index) != periods - start or \
                epoch_ns(index).tobytes() != epoch_ns(expected)[start:].tobytes():
            raise ValueError(f"schedule for {day}: the plan's index is not periods "
                             f"{start}..{periods - 1} of that day at {head['dt_h']} h")
        cur = self.db.conn.execute(_INSERT, (
            int(created_at.value), tz, day, start, periods, head["dt_h"], head["scenario"],
            head["method"], head["objective"], columns, data, labels,
            json.dumps(_jsonable(head["summary"]))))
        return int(cur.lastrowid)

    def get_latest_schedule(self, day: dt.date | str | None = None) -> StoredSchedule | None:
        """The last stored schedule (for one local day if given), or None."""
        if day is None:
            row = self.db.conn.execute(_SELECT + " ORDER BY id DESC LIMIT 1").fetchone()
        else:
            row = self.db.conn.execute(_SELECT + " WHERE day = ? ORDER BY id DESC LIMIT 1",
                                       (str(day),)).fetchone()
        return None if row is None else _schedule_from_row(row)

    def get_schedule_at_time(self, timestamp: Any,
                             day: dt.date | str | None = None) -> StoredSchedule | None:
        """The schedule in force at ``timestamp``: the last one created at or before it."""
        ts_ns = int(_aware(timestamp).value)
        sql = _SELECT + " WHERE created_ns <= ?"
        args: tuple = (ts_ns,)
        if day is not None:
            sql += " AND day = ?"
            args += (str(day),)
        row = self.db.conn.execute(sql + " ORDER BY created_ns DESC, id DESC LIMIT 1",
                                   args).fetchone()
        return None if row is None else _schedule_from_row(row)

    def get_all_schedules(self, day: dt.date | str) -> list[StoredSchedule]:
        """Every schedule made for one local day, in insertion order."""
        rows = self.db.conn.execute(_SELECT + " WHERE day = ? ORDER BY id",
                                    (str(day),)).fetchall()
        return [_schedule_from_row(r) for r in rows]

    def scenario_counts(self) -> dict[str, int]:
        """How many schedules each scenario made."""
        rows = self.db.conn.execute(
            "SELECT scenario, count(*) FROM schedules GROUP BY scenario").fetchall()
        return {s: 0 for s in SCENARIOS} | {str(s): int(n) for s, n in rows}

    def __len__(self) -> int:
        return int(self.db.conn.execute("SELECT count(*) FROM schedules").fetchone()[0])

    def __repr__(self) -> str:
        return f"ScheduleStore({self.db!r}, {len(self)} schedules)"
