"""What really happened: immutable period events and their append-only store.

A period is identified by its start timestamp (tz-aware) and, redundantly, by its local day and
its index within that day, so hourly days (24 periods) and quarter-hour days (96) are alike.

The record is tamper-evident: each event carries its recording sequence number ``seq`` and
``hash = sha256(previous hash + the event's bytes)`` (:func:`event_bytes`), and
:func:`pvbess.scheduler.record.verify_record` (run whenever a manager starts on a database)
refuses a record whose chain, sequence or stored-energy continuity is broken with
:class:`HistoryError`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import math
import numbers
import operator
import os
import sqlite3
import struct
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..timeseries import DataError
from ..variables import TABLE_COLUMNS
from .db import Database, open_database

#: Float fields of an event, in storage order. Energies per period [kWh], prices [currency/kWh].
EVENT_VALUES: tuple[str, ...] = TABLE_COLUMNS["event"]
_COLUMNS = ("ts_ns", "tz", "day", "period") + EVENT_VALUES
#: The energies of an event, each >= 0.
_ENERGIES = ("pv_kwh", "load_kwh", "grid_import_kwh", "grid_export_kwh", "bess_charge_kwh",
             "bess_discharge_kwh", "pv_curtailed_kwh")
_event_values = operator.attrgetter(*EVENT_VALUES)
_energy_values = operator.attrgetter(*_ENERGIES)
_SELECT = "SELECT " + ", ".join(_COLUMNS) + " FROM events"
_INSERT = (f"INSERT INTO events ({', '.join(_COLUMNS)}, seq, hash) "
           f"VALUES ({', '.join('?' * (len(_COLUMNS) + 2))})")
#: The hash before the first event.
GENESIS = bytes(32)


class EventConflictError(ValueError):
    """A period already recorded with different values (history is immutable)."""


class HistoryError(DataError):
    """The recorded history is broken (edited, reordered, cut) or foreign: a resume refuses it."""


def event_bytes(seq: int, ts_ns: int, tz: str, day: str, period: int,
                values: tuple[float, ...]) -> bytes:
    """The canonical bytes of one stored event that its hash covers: sequence number,
    timestamp [ns], zone, day, period (little-endian int64, length-prefixed UTF-8) and every
    value of :data:`EVENT_VALUES` as float64."""
    tz_b, day_b = tz.encode(), day.encode()
    return (struct.pack("<qqI", seq, ts_ns, len(tz_b)) + tz_b + struct.pack("<I", len(day_b))
            + day_b + struct.pack(f"<q{len(EVENT_VALUES)}d", period, *values))


def chain_hash(previous: bytes, data: bytes) -> bytes:
    """The hash of an event: sha256 over the previous event's hash and the event's bytes."""
    return hashlib.sha256(previous + data).digest()


def day_index(day: dt.date | str, dt_h: float, tz: str) -> pd.DatetimeIndex:
    """The period starts of one local day: 24 for ``dt_h = 1``, 96 for 0.25 (DST-aware).

    Parameters
    ----------
    day : datetime.date or ISO str
        The local calendar day.
    dt_h : float
        Period length. [h]
    tz : str
        IANA time zone of the local clock.
    """
    return _day_index(str(day), float(dt_h), _zone(tz))


@functools.lru_cache(maxsize=1024)
def _day_index(day: str, dt_h: float, tz: str | dt.tzinfo) -> pd.DatetimeIndex:
    midnight = pd.Timestamp(str(day))
    start = midnight.tz_localize(tz)
    end = (midnight + pd.Timedelta(days=1)).tz_localize(tz)
    # a fixed step runs in absolute time: counted in UTC (a third cheaper), shown on the local
    # clock; in ns, the unit the scheduler compares in (pandas >= 3 would make it "us")
    return pd.date_range(start.tz_convert("UTC"), end.tz_convert("UTC"), inclusive="left",
                         freq=pd.Timedelta(hours=dt_h), unit="ns").tz_convert(start.tz)


def _zone(tz: str | dt.tzinfo) -> str | dt.tzinfo:
    """An IANA zone by its name (the key the day caches share), other zones as they are."""
    if isinstance(tz, dt.tzinfo):
        return getattr(tz, "key", None) or getattr(tz, "zone", None) or tz  # zoneinfo, pytz
    return str(tz)


@functools.lru_cache(maxsize=1024)
def _day_periods(day: str, dt_h: float, tz: dt.tzinfo) -> dict[int, int]:
    """{period start [UTC ns]: index within the day} of one local day (:func:`day_index`)."""
    return {int(ns): k for k, ns in enumerate(_day_index(day, dt_h, _zone(tz)).asi8)}


def period_of(timestamp: pd.Timestamp, dt_h: float) -> tuple[str, int]:
    """(local ISO day, index within the day) of a tz-aware period start: its place in
    :func:`day_index` of its local day (the scheduler asks for each period several times, so
    the day's periods are looked up, not computed)."""
    global _last_period
    ts = _aware(timestamp)
    key = (ts.value, ts.tz, dt_h)
    last = _last_period  # (a period is asked for by its event, its record and its re-plan)
    if key == last[0]:
        return last[1]
    day = ts.date().isoformat()
    k = _day_periods(day, float(dt_h), ts.tz).get(ts.value)
    if k is None:
        raise ValueError(f"{ts}: not the start of a period of {dt_h} h")
    _last_period = (key, (day, k))  # one tuple: threads see a whole pair
    return day, k


_last_period: tuple = (None, None)


def _aware(timestamp: Any) -> pd.Timestamp:
    if type(timestamp) is pd.Timestamp and timestamp.tzinfo is not None:
        return timestamp  # (immutable: no copy needed)
    ts = pd.Timestamp(timestamp)
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts} must be tz-aware")
    return ts


@dataclass(frozen=True)
class HourlyEvent:
    """One completed period as measured (hourly or shorter: ``dt_h``).

    Parameters
    ----------
    timestamp : pandas.Timestamp
        Start of the period, tz-aware.
    period : int
        Index of the period within its local day (0..23 hourly, 0..95 quarter-hourly).
    dt_h : float
        Period length. [h]
    soe_start_kwh, soe_end_kwh : float
        Stored energy at the start and end of the period. [kWh]
    pv_kwh, load_kwh : float
        PV generation and site load. [kWh]
    grid_import_kwh, grid_export_kwh : float
        Energy bought from and sold to the grid. [kWh]
    bess_charge_kwh, bess_discharge_kwh : float
        AC energy into and out of the battery. [kWh]
    pv_curtailed_kwh : float
        PV that could not be used nor exported. [kWh]
    buy_price, sell_price : float
        Prices of the period (buy including any CO2 price). [currency/kWh]
    wear_cost : float
        Battery wear charged in the period. [currency]
    """

    timestamp: pd.Timestamp
    period: int
    dt_h: float
    soe_start_kwh: float
    soe_end_kwh: float
    pv_kwh: float
    load_kwh: float
    grid_import_kwh: float
    grid_export_kwh: float
    bess_charge_kwh: float
    bess_discharge_kwh: float
    pv_curtailed_kwh: float = 0.0
    buy_price: float = 0.0
    sell_price: float = 0.0
    wear_cost: float = 0.0

    def __post_init__(self) -> None:
        ts = _aware(self.timestamp)
        object.__setattr__(self, "timestamp", ts)
        values = _event_values(self)
        # plain finite floats, the usual case, pass in one check (a sum of finite floats
        # overflows only beyond 1e308: then the check per value below decides)
        if set(map(type, values)) != {float} or not math.isfinite(sum(values)):
            self._check_values(ts)
        if self.dt_h <= 0:
            raise ValueError(f"HourlyEvent.dt_h = {self.dt_h!r} at {ts}: must be > 0 [h]")
        if min(_energy_values(self)) < 0:
            for name in _ENERGIES:
                if getattr(self, name) < 0:
                    raise ValueError(f"HourlyEvent.{name} = {getattr(self, name)!r} at {ts}: "
                                     "must be >= 0 [kWh]")
        day, k = period_of(ts, self.dt_h)
        if k != self.period:
            raise ValueError(f"HourlyEvent.period = {self.period!r} at {ts}: the timestamp is "
                             f"period {k} of {day} for dt_h = {self.dt_h} h")

    def _check_values(self, ts: pd.Timestamp) -> None:
        for name in EVENT_VALUES:
            value = getattr(self, name)
            if type(value) is not float:
                if isinstance(value, bool) or not isinstance(value, numbers.Real):
                    raise TypeError(f"HourlyEvent.{name} = {value!r} at {ts}: must be a number")
                value = float(value)
                object.__setattr__(self, name, value)
            if not math.isfinite(value):
                raise ValueError(f"HourlyEvent.{name} = {value!r} at {ts}: must be finite")

    @property
    def day(self) -> str:
        """Local date of the period, ISO (``'2024-03-01'``)."""
        return period_of(self.timestamp, self.dt_h)[0]

    @property
    def cost(self) -> float:
        """import * buy - export * sell + wear. [currency]"""
        return (self.grid_import_kwh * self.buy_price - self.grid_export_kwh * self.sell_price
                + self.wear_cost)

    def values(self) -> tuple[float, ...]:
        """The float fields in :data:`EVENT_VALUES` order."""
        return _event_values(self)

    def as_row(self) -> dict[str, Any]:
        """A flat dict (timestamp, day, period and the values)."""
        return {"timestamp": self.timestamp, "day": self.day, "period": self.period,
                **{name: getattr(self, name) for name in EVENT_VALUES}}

    def replace(self, **changes: Any) -> HourlyEvent:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _tz_name(ts: pd.Timestamp) -> str:
    return str(ts.tz)


def _event_from_row(row: tuple) -> HourlyEvent:
    ts = pd.Timestamp(row[0], unit="ns", tz="UTC").tz_convert(row[1])
    values = dict(zip(EVENT_VALUES, row[4:]))
    return HourlyEvent(timestamp=ts, period=int(row[3]), **values)


class HistoricalDataStore:
    """Append-only, immutable store of completed periods (SQLite).

    Writing a period that is already stored with identical values is a no-op; with any other
    value it raises :class:`EventConflictError`. There is no update or delete (and SQLite
    triggers reject them, and any insert over a recorded period, for every connection). Each
    event is stored with its sequence number and chain hash (see the module docstring).

    Parameters
    ----------
    db : Database, path or ``":memory:"``
        Share one :class:`~pvbess.scheduler.db.Database` with a ScheduleStore to keep both in
        one file under one writer lock.
    read_only : bool
        Open a path without the writer lock (reads only).
    """

    def __init__(self, db: Database | str | os.PathLike[str] = ":memory:", *,
                 read_only: bool = False) -> None:
        self.db = open_database(db, read_only=read_only)

    # -- writes -------------------------------------------------------------------------
    def record_event(self, event: HourlyEvent) -> bool:
        """Append one completed period.

        Returns
        -------
        bool
            True if written, False if the identical event was already stored.

        Raises
        ------
        EventConflictError
            The period (timestamp or day/period) is stored with other values.
        """
        if not isinstance(event, HourlyEvent):
            raise TypeError(f"expected an HourlyEvent, got {type(event).__name__}")
        self.db.check_writable()
        conn = self.db.conn
        row = (int(event.timestamp.value), _tz_name(event.timestamp), event.day, event.period,
               *event.values())
        for _ in range(2):  # a second time only if the kept chain head was stale
            head = self.db.event_head
            if head is None:
                head = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
                                    ).fetchone() or (0, GENESIS)
            seq = head[0] + 1
            digest = chain_hash(head[1], event_bytes(seq, *row[:4], row[4:]))
            try:  # one statement, atomic on its own; the triggers refuse a recorded period
                conn.execute(_INSERT, (*row, seq, digest))
            except sqlite3.IntegrityError:
                self.db.event_head = None
                if self._already_recorded(event):
                    return False
                continue
            self.db.event_head = (seq, digest)
            return True
        raise HistoryError(f"{self.db.path}: cannot append period {event.period} of "
                           f"{event.day}: the record's sequence is taken")

    def _already_recorded(self, event: HourlyEvent) -> bool:
        """True if ``event`` is stored as it is; raises if its period holds other values;
        False if its period is free."""
        old = self.db.conn.execute(_SELECT + " WHERE ts_ns = ? OR (day = ? AND period = ?)",
                                   (int(event.timestamp.value), event.day, event.period)
                                   ).fetchall()
        if not old:
            return False
        stored = _event_from_row(old[0])
        if len(old) == 1 and stored.timestamp == event.timestamp and \
                stored.values() == event.values() and stored.period == event.period:
            return True
        diff = [name for name in EVENT_VALUES if getattr(stored, name) != getattr(event, name)]
        raise EventConflictError(
            f"period {event.period} of {event.day} ({event.timestamp}) is already "
            f"recorded with other values (differs in {diff or ['timestamp/period']}: "
            + ", ".join(f"{n} stored {getattr(stored, n)!r} vs new {getattr(event, n)!r}"
                        for n in diff[:3]) + "); history is append-only")

    # -- reads --------------------------------------------------------------------------
    def get_event(self, timestamp: Any) -> HourlyEvent | None:
        """The event of the period starting at ``timestamp``, or None."""
        ts = _aware(timestamp)
        row = self.db.conn.execute(_SELECT + " WHERE ts_ns = ?", (int(ts.value),)).fetchone()
        return None if row is None else _event_from_row(row)

    def get_period_event(self, day: dt.date | str, period: int) -> HourlyEvent | None:
        """The event of period ``period`` of local day ``day``, or None."""
        row = self.db.conn.execute(_SELECT + " WHERE day = ? AND period = ?",
                                   (str(day), int(period))).fetchone()
        return None if row is None else _event_from_row(row)

    def get_completed_periods(self, day: dt.date | str) -> list[int]:
        """Indices of the recorded periods of a local day, ascending."""
        rows = self.db.conn.execute("SELECT period FROM events WHERE day = ? ORDER BY period",
                                    (str(day),)).fetchall()
        return [int(r[0]) for r in rows]

    def events(self, day: dt.date | str | None = None) -> list[HourlyEvent]:
        """All events (of one local day if given), in time order."""
        if day is None:
            rows = self.db.conn.execute(_SELECT + " ORDER BY ts_ns").fetchall()
        else:
            rows = self.db.conn.execute(_SELECT + " WHERE day = ? ORDER BY ts_ns",
                                        (str(day),)).fetchall()
        return [_event_from_row(r) for r in rows]

    def last_event(self) -> HourlyEvent | None:
        """The latest recorded period, or None when the store is empty."""
        row = self.db.conn.execute(_SELECT + " ORDER BY ts_ns DESC LIMIT 1").fetchone()
        return None if row is None else _event_from_row(row)

    def to_frame(self, day: dt.date | str | None = None) -> pd.DataFrame:
        """The events as a table on their tz-aware index (columns: day, period, the values)."""
        if day is None:
            rows = self.db.conn.execute(_SELECT + " ORDER BY ts_ns").fetchall()
        else:
            rows = self.db.conn.execute(_SELECT + " WHERE day = ? ORDER BY ts_ns",
                                        (str(day),)).fetchall()
        frame = pd.DataFrame(rows, columns=list(_COLUMNS))
        if frame.empty:
            index = pd.DatetimeIndex([], tz="UTC", name="timestamp")
            return pd.DataFrame({c: pd.Series(dtype=float) for c in EVENT_VALUES},
                                index=index).assign(day=pd.Series(dtype=object, index=index),
                                                    period=pd.Series(dtype="int64", index=index))
        tzs = frame["tz"].unique()
        index = pd.DatetimeIndex(pd.to_datetime(frame["ts_ns"].to_numpy(), unit="ns", utc=True))
        if len(tzs) == 1:
            index = index.tz_convert(tzs[0])
        index.name = "timestamp"
        out = frame.drop(columns=["ts_ns", "tz"]).set_index(index)
        return out[["day", "period", *EVENT_VALUES]]

    def __len__(self) -> int:
        return int(self.db.conn.execute("SELECT count(*) FROM events").fetchone()[0])

    def __repr__(self) -> str:
        return f"HistoricalDataStore({self.db!r}, {len(self)} events)"
