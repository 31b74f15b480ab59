"""The inverter's setting written through Home Assistant: the period's mode and power, its grid
import cap, and Growatt-style time-of-use slots.

- The period's setting (:func:`write_setting`): the mode's option (``select.select_option``) and
  the power (``number.set_value``), or one script called with the variables ``mode``,
  ``power_kw`` and ``import_limit_kw`` (``null``: no cap). The script is called as its own
  service (``script.<name>``), so the call returns once the script has run and a script that
  fails is an error here.
- The import cap (``import_limit``, a number entity in ``power_unit``): the peak guard's cap of
  the period (:meth:`pvbess.SimpleBatterySystemManager.import_caps`); without a cap the
  entity's own ``max`` (no limit).
- Time-of-use slots (:func:`write_slots`, :func:`slot_windows`): Growatt-style inverters take a
  few slots of a start and end time of day with a mode and a power (Growatt: *battery first*
  slots charge, *grid first* slots discharge, *load first* outside every slot). The day's charge
  and discharge windows (:func:`pvbess.tou_intervals`) from the running period on fill the slots
  in time order; a window ending at midnight ends at 23:59:59; unused slots are switched off
  (``enabled``) and set idle, 00:00:00 to 00:00:00. Idle windows take no slot: outside its slots
  the inverter runs its own self-consumption, the safe mode ``idle``.
"""

from __future__ import annotations

import logging
import math

import pandas as pd

from ..scheduler.controller import tou_intervals
from .client import RestClient
from .config import (NUMBER_SERVICE, POWER_UNITS, SELECT_SERVICE, TIME_SERVICE, InverterConfig,
                     SlotConfig)

log = logging.getLogger("pvbess.live")

#: The variables a script gets (:func:`write_setting`).
SCRIPT_VARIABLES: tuple[str, ...] = ("mode", "power_kw", "import_limit_kw")
#: A slot ending at midnight ends here (a time of day has no 24:00).
END_OF_DAY = "23:59:59"
#: An unused slot's start and end.
NO_TIME = "00:00:00"


def _set_number(client: RestClient, entity: str, value: float) -> None:
    domain = entity.split(".")[0]
    client.call_service(domain, NUMBER_SERVICE[domain], {"entity_id": entity,
                                                         "value": round(value, 6)})


def _set_option(client: RestClient, entity: str, option: str) -> None:
    domain = entity.split(".")[0]
    client.call_service(domain, SELECT_SERVICE[domain], {"entity_id": entity, "option": option})


def _set_time(client: RestClient, entity: str, time_of_day: str) -> None:
    domain = entity.split(".")[0]
    service, key = TIME_SERVICE[domain]
    client.call_service(domain, service, {"entity_id": entity, key: time_of_day})


def write_import_limit(client: RestClient, inv: InverterConfig, limit_kw: float) -> float:
    """Write the import cap [kW] to ``inv.import_limit`` within the entity's ``min``/``max``
    (``inf``: its ``max``); returns the value written [``power_unit``]."""
    attributes = client.state(inv.import_limit).get("attributes") or {}
    low = float(attributes.get("min", 0.0))
    high = float(attributes.get("max", math.inf))
    value = min(max(limit_kw / POWER_UNITS[inv.power_unit], low), high)
    if not math.isfinite(value):
        raise ValueError(f"{inv.import_limit} has no max: cannot write 'no import limit'")
    _set_number(client, inv.import_limit, value)
    return value


def write_setting(client: RestClient, inv: InverterConfig, mode: str, power_kw: float,
                  import_limit_kw: float = math.inf) -> None:
    """Set the inverter for the period now running (module docstring).

    Parameters
    ----------
    mode : {"charge", "discharge", "idle"}
    power_kw : float
        AC power of the mode, >= 0. [kW]
    import_limit_kw : float
        The period's grid import cap (``inf``: none). [kW]
    """
    if inv.script is not None:
        limit = round(import_limit_kw, 6) if math.isfinite(import_limit_kw) else None
        client.call_service("script", inv.script.split(".", 1)[1], dict(zip(
            SCRIPT_VARIABLES, (mode, round(power_kw, 6), limit))))
    elif inv.mode is not None:
        _set_option(client, inv.mode, inv.options[mode])
        _set_number(client, inv.power, power_kw / POWER_UNITS[inv.power_unit])
    if inv.import_limit is not None:
        write_import_limit(client, inv, import_limit_kw)


def slot_windows(program: pd.Series, slots: int) -> pd.DataFrame:
    """The first ``slots`` charge and discharge windows of ``program`` (columns of
    :func:`pvbess.tou_intervals`).

    Parameters
    ----------
    program : pandas.Series
        Setpoints [kWh AC per period, + charge / - discharge] of the rest of one local day, from
        the running period on, on a regular tz-aware index (with its ``freq``).
    slots : int
        How many slots the inverter has.
    """
    windows = tou_intervals(program)
    return windows[windows["mode"] != "idle"].head(slots).reset_index(drop=True)


def _time_of_day(ts: pd.Timestamp, start: pd.Timestamp) -> str:
    if ts > start and ts == ts.normalize():
        return END_OF_DAY
    return ts.strftime("%H:%M:%S")


def _write_slot(client: RestClient, inv: InverterConfig, slot: SlotConfig,
                window: object | None) -> None:
    if window is None:
        start = end = NO_TIME
        mode, power_kw = "idle", 0.0
    else:
        start, end = _time_of_day(window.start, window.start), _time_of_day(window.end,
                                                                            window.start)
        mode, power_kw = window.mode, float(window.power_kw)
    _set_time(client, slot.start, start)
    _set_time(client, slot.end, end)
    _set_option(client, slot.mode, inv.options[mode])
    _set_number(client, slot.power, power_kw / POWER_UNITS[inv.power_unit])
    if slot.enabled is not None:
        domain = slot.enabled.split(".")[0]
        client.call_service(domain, "turn_on" if window is not None else "turn_off",
                            {"entity_id": slot.enabled})


def write_slots(client: RestClient, inv: InverterConfig, windows: pd.DataFrame | None) -> None:
    """Fill ``inv.slots`` with ``windows`` (:func:`slot_windows`), the rest unused (all of them
    with None)."""
    rows = [] if windows is None else list(windows.itertuples(index=False))
    for i, slot in enumerate(inv.slots):
        _write_slot(client, inv, slot, rows[i] if i < len(rows) else None)
    if rows:
        log.info("slots: %s", "; ".join(f"{w.start:%H:%M}-{w.end:%H:%M} {w.mode} "
                                         f"{w.power_kw:.3f} kW" for w in rows))
