"""Missed periods from Home Assistant's recorder: the meters' states at a boundary the runner
did not read, and whether Home Assistant was running then.

The recorder keeps every state change (``GET /api/history/period``), but it cannot say what a
meter showed while Home Assistant itself was down: asked for a time inside an outage, it
answers with the last state before the outage. The logbook records every start (``started``)
and every clean stop (``stopped``) of Home Assistant (``GET /api/logbook``), which decides it
(:func:`ran_through`): Home Assistant ran without a break over ``[start, end]`` when no start or
stop lies inside and the first one after ``end`` is not a start (a start with no stop before
it follows a crash at an unknown time, possibly inside). A boundary or period it cannot vouch
for stays missing: nothing is invented.

The logbook is only as current as the recorder's last commit (``commit_interval``, default 5 s),
and Home Assistant answers its API before it has started. So before it trusts the logbook,
:func:`recorder_is_current` asks that Home Assistant runs (``GET /api/config``: ``RUNNING``, its
start already fired), writes one logbook line (service ``logbook.log``) and waits until the
line can be read back: the recorder stores events in order, so everything before it, the start
included, is stored too.

Functions on the answers are pure (:func:`state_at`, :func:`ran_through`, :func:`time_mean`);
:func:`fetch_states` and :func:`fetch_runs` ask Home Assistant; :class:`Recorder` puts them
together for the controller.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from .client import RestClient

#: The logbook's messages of Home Assistant's own start and clean stop.
RUN_MESSAGES = frozenset({"started", "stopped"})
#: How long :func:`recorder_is_current` waits for its logbook line (a few commit intervals). [s]
RECORDER_WAIT_S = 20.0
#: Home Assistant's clock may differ from this machine's by up to this much. [s]
CLOCK_SKEW_S = 300.0
#: How long Home Assistant's starts and stops, once fetched, serve further boundaries. [s]
RUNS_KEPT_S = 30.0


class NotVouchedError(Exception):
    """The history cannot give an interval: Home Assistant was not running through it
    (``final``), or it is still starting (try later)."""

    def __init__(self, why: str, *, final: bool) -> None:
        super().__init__(why)
        self.final = final


class Recorder:
    """The recorder's history as the controller asks it (module docstring).

    The check that the recorder is current is made again after any request found Home
    Assistant unreachable (``client.unreachable``: it may have restarted); the logbook's starts
    and stops, fetched once, serve a batch of boundaries in time order for :data:`RUNS_KEPT_S`.
    """

    def __init__(self, client: RestClient) -> None:
        self.client = client
        self._current_at: int | None = None
        self._runs_kept: tuple | None = None  # (since, _current_at, monotonic s, runs)

    def _runs(self, since: pd.Timestamp, now: pd.Timestamp) -> list[tuple[pd.Timestamp, str]]:
        kept = self._runs_kept
        if kept is None or kept[0] > since or kept[1] != self._current_at or \
                time.monotonic() - kept[2] > RUNS_KEPT_S:
            kept = self._runs_kept = (since, self._current_at, time.monotonic(),
                                      fetch_runs(self.client, since, now))
        return [run for run in kept[3] if run[0] >= since]

    def states(self, entity_ids: Sequence[str], start: pd.Timestamp, end: pd.Timestamp,
               now: pd.Timestamp, lookback: pd.Timedelta = pd.Timedelta(0)
               ) -> dict[str, list[dict]]:
        """The states over ``[start - lookback, end]`` (:func:`fetch_states`), Home Assistant's
        time, if it ran through ``[start, end]`` (:func:`ran_through`; ``now``: its time now).

        Raises
        ------
        NotVouchedError
            Home Assistant was not running then, or is still starting.
        """
        if self._current_at != self.client.unreachable:
            if not recorder_is_current(self.client):
                raise NotVouchedError("Home Assistant is starting", final=False)
            self._current_at = self.client.unreachable
        if not ran_through(self._runs(start, now + pd.Timedelta(hours=1)), start, end):
            raise NotVouchedError("Home Assistant was not running then (its logbook)",
                                  final=True)
        return fetch_states(self.client, entity_ids, start - lookback,
                            end + pd.Timedelta(milliseconds=1))


def _time(row: dict, key: str = "last_updated") -> pd.Timestamp:
    return pd.Timestamp(row[key]).tz_convert("UTC")


def fetch_states(client: RestClient, entity_ids: Sequence[str], start: pd.Timestamp,
                 end: pd.Timestamp) -> dict[str, list[dict]]:
    """The recorder's states of ``entity_ids`` over ``[start, end]`` (Home Assistant's time):
    per entity, the state in force at ``start`` then every change, oldest first."""
    return client.history(list(entity_ids), start.tz_convert("UTC"), end.tz_convert("UTC"))


def fetch_runs(client: RestClient, start: pd.Timestamp,
               end: pd.Timestamp) -> list[tuple[pd.Timestamp, str]]:
    """Home Assistant's starts and clean stops from ``start`` to ``end``: ``(time, "started"
    or "stopped")``, oldest first."""
    entries = client.logbook(start.tz_convert("UTC"), end.tz_convert("UTC"))
    runs = [(_time(e, "when"), str(e["message"])) for e in entries
            if e.get("domain") == "homeassistant" and e.get("message") in RUN_MESSAGES]
    return sorted(runs, key=lambda run: run[0])


def recorder_is_current(client: RestClient, *, wait_s: float = RECORDER_WAIT_S,
                        sleep: Callable[[float], None] = time.sleep,
                        wall_clock: Callable[[], float] = time.time) -> bool:
    """True when Home Assistant runs and its recorder holds every event until now (module
    docstring); False when it is still starting or the line did not come back in ``wait_s``."""
    config = client.request("GET", "/api/config")
    if not isinstance(config, dict) or config.get("state") != "RUNNING":
        return False
    token = uuid.uuid4().hex[:12]
    client.call_service("logbook", "log", {"name": "pvbess",
                                           "message": f"reads the recorder's history ({token})"})
    deadline = wall_clock() + wait_s
    skew = pd.Timedelta(seconds=CLOCK_SKEW_S)
    while True:
        now = pd.Timestamp(wall_clock(), unit="s", tz="UTC")
        if any(token in str(entry.get("message", ""))
               for entry in client.logbook(now - skew, now + skew)):
            return True
        if wall_clock() > deadline:
            return False
        sleep(0.2)


def ran_through(runs: Sequence[tuple[pd.Timestamp, str]], start: pd.Timestamp,
                end: pd.Timestamp) -> bool:
    """True when Home Assistant ran without a break over ``[start, end]``.

    Parameters
    ----------
    runs : sequence of (time, "started" or "stopped")
        Every start and clean stop of Home Assistant after ``start`` up to now, oldest first
        (:func:`fetch_runs`).
    start, end : pandas.Timestamp
        The interval (``start == end``: one instant), Home Assistant's time.

    Notes
    -----
    A start or stop inside ``(start, end]`` breaks the interval. After it, the first event
    decides: none (running since before ``start``, as now), or a stop (it ran until then), vouch
    for it; a start without a stop before it follows a crash at an unknown time, which may lie
    inside, so it does not.

    Examples
    --------
    >>> t = pd.Timestamp("2024-03-01 10:00", tz="UTC")
    >>> h = pd.Timedelta(hours=1)
    >>> ran_through([], t, t + h), ran_through([(t + 2 * h, "stopped")], t, t + h)
    (True, True)
    >>> ran_through([(t + 2 * h, "started")], t, t + h)
    False
    """
    if any(start < when <= end for when, _ in runs):
        return False
    after = [message for when, message in runs if when > end]
    return not after or after[0] != "started"


def state_at(rows: Sequence[dict], at: pd.Timestamp) -> dict | None:
    """The state in force at ``at``: the last of ``rows`` (oldest first) updated at or before
    it, or None."""
    found = None
    for row in rows:
        if _time(row) > at:
            break
        found = row
    return found


def time_mean(rows: Sequence[dict], start: pd.Timestamp, end: pd.Timestamp,
              value: Callable[[dict], float]) -> float:
    """Time-weighted mean of the states over ``[start, end]``, each held until the next.

    Parameters
    ----------
    rows : sequence of dict
        States, oldest first; the first in force at ``start`` (:func:`fetch_states`).
    start, end : pandas.Timestamp
        The interval, ``start < end``.
    value : callable
        A state's value (in one unit, e.g. [kW]); raises where it has none.

    Raises
    ------
    ValueError
        No state in force at ``start``.

    Examples
    --------
    >>> t = pd.Timestamp("2024-03-01 10:00", tz="UTC")
    >>> rows = [{"last_updated": str(t), "state": "1"},
    ...         {"last_updated": str(t + pd.Timedelta(minutes=45)), "state": "5"}]
    >>> time_mean(rows, t, t + pd.Timedelta(hours=1), lambda r: float(r["state"]))
    2.0
    """
    if not rows or _time(rows[0]) > start:
        raise ValueError(f"no state in force at {start}")
    total = 0.0
    for row, following in zip(rows, [*rows[1:], None]):
        begin = max(_time(row), start)
        stop = end if following is None else min(_time(following), end)
        if stop > begin:
            total += value(row) * (stop - begin).total_seconds()
    return total / (end - start).total_seconds()


def unit_of(row: dict[str, Any]) -> str | None:
    """The ``unit_of_measurement`` of a state."""
    return (row.get("attributes") or {}).get("unit_of_measurement")
