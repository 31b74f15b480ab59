"""The live site's YAML: where Home Assistant is, which entities are the meters and the inverter.

Example (the ``home_assistant`` section of ``site.yaml``; README, "Live operation")::

    home_assistant:
      url: http://homeassistant.local:8123
      token_env: PVBESS_HA_TOKEN      # the long-lived token is read from this variable
      retries: 4                      # after a failed request, waits 1, 2, 4, 8 s (backoff_s)
      backoff_s: 1.0
      sensors:                        # W/kW/MW power is integrated over the period's samples,
        soc: sensor.battery_soc       # Wh/kWh/MWh counters are differenced; SOC in % or kWh
        pv: sensor.pv_power
        load: sensor.load_power
        grid_import: sensor.grid_import_energy
        grid_export: sensor.grid_export_energy
      stale_after_s: {load: 900}      # optional, per sensor: a state whose last_updated is
                                      # older is refused (opt-in; see HomeAssistantConfig)
      history: true                   # missed periods from the recorder's history (default)
      inverter:
        mode: input_select.inverter_mode
        options: {charge: Charge, discharge: Discharge, idle: Self use}
        power: input_number.inverter_power
        power_unit: kW
        import_limit: number.grid_import_limit   # optional: the period's import cap
        slots:                        # optional: time-of-use slots, written with every plan
          - {start: time.slot1_start, end: time.slot1_end, mode: select.slot1_mode,
             power: number.slot1_power, enabled: switch.slot1_enabled}
        safe_mode: idle               # written whenever the plan does not cover the period
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..timeseries import DataError

#: The meters a period's record needs.
SENSORS: tuple[str, ...] = ("soc", "pv", "load", "grid_import", "grid_export")
#: Units per kind, as the factor to kW (power), kWh (energy) or a fraction of capacity (SOC).
POWER_UNITS = {"W": 1e-3, "kW": 1.0, "MW": 1e3}
ENERGY_UNITS = {"Wh": 1e-3, "kWh": 1.0, "MWh": 1e3}
#: The inverter's modes (:func:`pvbess.tou_intervals`).
MODES: tuple[str, ...] = ("charge", "discharge", "idle")
#: Service domains that take a number / an option, and their services.
NUMBER_SERVICE = {"input_number": "set_value", "number": "set_value"}
SELECT_SERVICE = {"input_select": "select_option", "select": "select_option"}
#: Domains that take a time of day (a slot's start and end): service, and the data key.
TIME_SERVICE = {"input_datetime": ("set_datetime", "time"), "time": ("set_value", "time"),
                "input_text": ("set_value", "value"), "text": ("set_value", "value")}
#: Domains that switch a slot on and off.
SWITCH_DOMAINS = frozenset({"input_boolean", "switch"})


@dataclass(frozen=True)
class SlotConfig:
    """One time-of-use slot of the inverter (Growatt-style: a start and an end time of day, a
    mode and a power; ``enabled`` optional). :meth:`HomeAssistantController.write_slots`
    fills the slots with a plan's charge and discharge windows."""

    start: str
    end: str
    mode: str
    power: str
    enabled: str | None = None


@dataclass(frozen=True)
class InverterConfig:
    """Where the inverter takes its setting: a mode entity (with the option naming each of
    :data:`MODES`) and a power entity [``power_unit``], or a script called with the variables
    ``mode``, ``power_kw`` and ``import_limit_kw``; optionally an ``import_limit`` entity
    (the period's import cap [``power_unit``]) and time-of-use ``slots``."""

    mode: str | None = None
    options: dict[str, str] = field(default_factory=lambda: {m: m for m in MODES})
    power: str | None = None
    power_unit: str = "kW"
    script: str | None = None
    safe_mode: str = "idle"
    import_limit: str | None = None
    slots: tuple[SlotConfig, ...] = ()


@dataclass(frozen=True)
class HomeAssistantConfig:
    """The ``home_assistant`` section (module docstring).

    ``stale_after_s`` (opt-in, per sensor [s]): a state whose ``last_updated`` is older is
    refused. Home Assistant (2024.1) moves ``last_updated`` only when the state or its attributes
    change, so give it for a sensor that changes between readings (a load counter, a power
    sensor), not for one that may rest (a SOC while idle, PV at night). ``history`` (default
    on): a period whose boundary the runner did not read is rebuilt from the recorder's history
    where Home Assistant ran through it (:mod:`pvbess.live.history`).
    """

    url: str
    token: str = field(repr=False)
    sensors: dict[str, str]
    inverter: InverterConfig
    retries: int = 4
    backoff_s: float = 1.0
    timeout_s: float = 10.0
    stale_after_s: dict[str, float] = field(default_factory=dict)
    #: Largest plausible power of any meter; beyond it a reading is refused. [kW]
    max_power_kw: float = 1e6
    history: bool = True


def _need(section: dict, key: str, where: str) -> Any:
    if key not in section:
        raise DataError(f"{where}: '{key}' is missing")
    return section[key]


def _domain(entity: str | None, domains: Any, where: str) -> None:
    if entity is not None and str(entity).split(".")[0] not in domains:
        raise DataError(f"{where}: entity {entity!r} must be one of the domains "
                        f"{sorted(domains)}")


def _slot(raw: Any, where: str) -> SlotConfig:
    if not isinstance(raw, dict) or set(raw) - {"start", "end", "mode", "power", "enabled"} \
            or not {"start", "end", "mode", "power"} <= set(raw):
        raise DataError(f"{where}: a slot takes the entities start, end, mode, power and "
                        f"optionally enabled, got {raw!r}")
    slot = SlotConfig(**{k: str(v) for k, v in raw.items()})
    for key, domains in (("start", TIME_SERVICE), ("end", TIME_SERVICE),
                         ("mode", SELECT_SERVICE), ("power", NUMBER_SERVICE),
                         ("enabled", SWITCH_DOMAINS)):
        _domain(getattr(slot, key), domains, f"{where}: {key}")
    return slot


def _inverter(raw: dict, where: str) -> InverterConfig:
    where = f"{where}: inverter"
    unknown = set(raw) - {"mode", "options", "power", "power_unit", "script", "safe_mode",
                          "import_limit", "slots"}
    if unknown:
        raise DataError(f"{where}: unknown field(s) {sorted(unknown)}")
    slots = raw.get("slots") or []
    if not isinstance(slots, list):
        raise DataError(f"{where}: slots must be a list of slots, got {slots!r}")
    inv = InverterConfig(mode=raw.get("mode"), power=raw.get("power"),
                         options={**{m: m for m in MODES}, **(raw.get("options") or {})},
                         power_unit=raw.get("power_unit", "kW"), script=raw.get("script"),
                         safe_mode=raw.get("safe_mode", "idle"),
                         import_limit=raw.get("import_limit"),
                         slots=tuple(_slot(s, f"{where}: slots[{i}]")
                                     for i, s in enumerate(slots)))
    if inv.script is None and (inv.mode is None) != (inv.power is None):
        raise DataError(f"{where}: give both 'mode' and 'power' entities")
    if inv.script is None and inv.mode is None and not inv.slots:
        raise DataError(f"{where}: give 'mode' and 'power' entities, a 'script' or 'slots'")
    for key, services in (("mode", SELECT_SERVICE), ("power", NUMBER_SERVICE),
                          ("import_limit", NUMBER_SERVICE)):
        _domain(getattr(inv, key), services, f"{where}: {key}")
    if inv.script is not None and not inv.script.startswith("script."):
        raise DataError(f"{where}: script {inv.script!r} must be a script.* entity")
    if inv.power_unit not in POWER_UNITS:
        raise DataError(f"{where}: power_unit {inv.power_unit!r} is not one of "
                        f"{sorted(POWER_UNITS)}")
    if inv.safe_mode not in MODES or set(inv.options) != set(MODES):
        raise DataError(f"{where}: safe_mode and the options' keys must be of {list(MODES)}")
    return inv


def home_assistant_config(raw: dict, *, where: str = "home_assistant",
                          environ: dict | None = None) -> HomeAssistantConfig:
    """The :class:`HomeAssistantConfig` of a parsed ``home_assistant`` section.

    The token comes from ``token`` (discouraged: a file that leaks), ``token_file`` or the
    environment variable named by ``token_env`` (default ``PVBESS_HA_TOKEN``).
    """
    environ = os.environ if environ is None else environ
    known = {"url", "token", "token_env", "token_file", "sensors", "inverter", "retries",
             "backoff_s", "timeout_s", "stale_after_s", "max_power_kw", "history"}
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected a mapping, got {type(raw).__name__}")
    if set(raw) - known:
        raise DataError(f"{where}: unknown field(s) {sorted(set(raw) - known)}")
    if "token" in raw:
        token = str(raw["token"])
    elif "token_file" in raw:
        token = Path(raw["token_file"]).expanduser().read_text(encoding="utf-8").strip()
    else:
        var = raw.get("token_env", "PVBESS_HA_TOKEN")
        token = environ.get(var, "")
        if not token:
            raise DataError(f"{where}: the access token variable ${var} is not set")
    sensors = dict(_need(raw, "sensors", where))
    missing = [s for s in SENSORS if s not in sensors]
    if missing or set(sensors) - set(SENSORS):
        raise DataError(f"{where}: sensors must name exactly {list(SENSORS)}; missing "
                        f"{missing}, unknown {sorted(set(sensors) - set(SENSORS))}")
    stale = {k: float(v) for k, v in (raw.get("stale_after_s") or {}).items()}
    if set(stale) - set(SENSORS) or any(v <= 0 for v in stale.values()):
        raise DataError(f"{where}: stale_after_s takes sensors of {list(SENSORS)} and "
                        f"seconds > 0, got {stale}")
    return HomeAssistantConfig(
        url=str(_need(raw, "url", where)), token=token, sensors=sensors,
        inverter=_inverter(dict(_need(raw, "inverter", where)), where),
        retries=int(raw.get("retries", 4)), backoff_s=float(raw.get("backoff_s", 1.0)),
        timeout_s=float(raw.get("timeout_s", 10.0)), stale_after_s=stale,
        max_power_kw=float(raw.get("max_power_kw", 1e6)),
        history=_flag(raw.get("history", True), f"{where}: history"))


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise DataError(f"{where}: expected true or false, got {value!r}")
    return value


def read_home_assistant_config(path: str | os.PathLike[str]) -> HomeAssistantConfig:
    """The ``home_assistant`` section of a site YAML file."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return home_assistant_config(_need(raw, "home_assistant", str(path)),
                                 where=f"{path}: home_assistant")
