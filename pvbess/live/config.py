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
      stale_after_s: {soc: 900}       # optional, per sensor: older readings are refused
      inverter:
        mode: input_select.inverter_mode
        options: {charge: Charge, discharge: Discharge, idle: Self use}
        power: input_number.inverter_power
        power_unit: kW
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


@dataclass(frozen=True)
class InverterConfig:
    """Where the inverter takes its setting: a mode entity (with the option naming each of
    :data:`MODES`) and a power entity [``power_unit``], or a script called with the variables
    ``mode`` and ``power_kw``."""

    mode: str | None = None
    options: dict[str, str] = field(default_factory=lambda: {m: m for m in MODES})
    power: str | None = None
    power_unit: str = "kW"
    script: str | None = None
    safe_mode: str = "idle"


@dataclass(frozen=True)
class HomeAssistantConfig:
    """The ``home_assistant`` section (module docstring)."""

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


def _need(section: dict, key: str, where: str) -> Any:
    if key not in section:
        raise DataError(f"{where}: '{key}' is missing")
    return section[key]


def _inverter(raw: dict, where: str) -> InverterConfig:
    where = f"{where}: inverter"
    unknown = set(raw) - {"mode", "options", "power", "power_unit", "script", "safe_mode"}
    if unknown:
        raise DataError(f"{where}: unknown field(s) {sorted(unknown)}")
    inv = InverterConfig(mode=raw.get("mode"), power=raw.get("power"),
                         options={**{m: m for m in MODES}, **(raw.get("options") or {})},
                         power_unit=raw.get("power_unit", "kW"), script=raw.get("script"),
                         safe_mode=raw.get("safe_mode", "idle"))
    if inv.script is None and (inv.mode is None or inv.power is None):
        raise DataError(f"{where}: give 'mode' and 'power' entities, or a 'script'")
    for key, services in (("mode", SELECT_SERVICE), ("power", NUMBER_SERVICE)):
        entity = getattr(inv, key)
        if entity is not None and entity.split(".")[0] not in services:
            raise DataError(f"{where}: {key} entity {entity!r} must be one of the domains "
                            f"{sorted(services)}")
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
             "backoff_s", "timeout_s", "stale_after_s", "max_power_kw"}
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
        max_power_kw=float(raw.get("max_power_kw", 1e6)))


def read_home_assistant_config(path: str | os.PathLike[str]) -> HomeAssistantConfig:
    """The ``home_assistant`` section of a site YAML file."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return home_assistant_config(_need(raw, "home_assistant", str(path)),
                                 where=f"{path}: home_assistant")
