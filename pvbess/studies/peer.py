"""Reader of the bess-manager scenario files, so its users can replay their days with pvbess.

A scenario file (JSON) holds one day: prices (``base_prices`` with ``price_data`` formulas, or
final ``buy_price``/``sell_price``), ``home_consumption`` and ``solar_production`` [kWh per
period], a ``battery`` block (min/max SOE in kWh, powers, efficiencies, cycle cost), the period
length (``period_duration_hours``, absent = 1 h) and ``terminal_value_per_kwh`` (per kWh above the
minimum SOE). A golden file of the same name (``golden/`` beside ``scenarios/``) holds the peer
optimizer's SOE trajectory and cost.

Mapping to pvbess: ``capacity_kwh = max_soe_kwh``, ``soc_min = min_soe_kwh / max_soe_kwh``,
``soc_max = 1``; ``inverter_max_ac_power_kw > 0`` becomes ``inverter_ac_limit_kw =
max * (1 - inverter_ac_power_margin)``; an enabled and active export curtailment becomes
``export_price_floor``; otherwise PV is not curtailed by choice (``allow_curtailment=False``), as
in the peer's model. ``initial_cost_basis`` and ``home`` settings are not used.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..battery import Battery
from ..timeseries import DataError

__all__ = ["PeerScenario", "peer_prices", "peer_scenarios", "read_peer_scenario"]

# bess-manager defaults when a scenario has base_prices but no price_data
_PRICE_DEFAULTS = {"markup_rate": 0.08, "vat_multiplier": 1.25, "additional_costs": 0.773,
                   "tax_reduction": 0.1988, "spot_multiplier": 1.0,
                   "export_spot_multiplier": 1.0}


@dataclass(frozen=True)
class PeerScenario:
    """One bess-manager day scenario.

    Attributes
    ----------
    name : str
    buy, sell : numpy.ndarray
        Final import / export prices per period. [currency/kWh]
    load_kwh, pv_kwh : numpy.ndarray
        Home consumption and solar production per period. [kWh]
    battery : Battery
        The battery (window from min/max SOE). ``soc_initial`` is clamped into the window; use
        ``initial_kwh`` for the true start.
    dt_h : float
        Period length. [h]
    initial_kwh : float
        Initial stored energy (may lie below the minimum SOE). [kWh]
    terminal_value : float
        Value per kWh above the minimum SOE at the end. [currency/kWh]
    options : dict
        Keyword options for :func:`pvbess.optimize_schedule` (inverter limit, price floor,
        curtailment).
    expected : dict
        The file's ``expected_results`` (may be empty).
    golden : dict or None
        The golden file (``soe_trajectory``, ``battery_solar_cost``, ``intents``, ...) if found.
    path : str
    """

    name: str
    buy: np.ndarray
    sell: np.ndarray
    load_kwh: np.ndarray
    pv_kwh: np.ndarray
    battery: Battery
    dt_h: float
    initial_kwh: float
    terminal_value: float
    options: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)
    golden: dict | None = None
    path: str = ""

    @property
    def periods(self) -> int:
        return int(self.buy.shape[0])

    def kwargs(self) -> dict[str, Any]:
        """Arguments for ``optimize_schedule(**s.kwargs())`` / ``exact_schedule``."""
        return dict(buy=self.buy, sell=self.sell, load_kwh=self.load_kwh, pv_kwh=self.pv_kwh,
                    battery=self.battery, dt_h=self.dt_h, initial_kwh=self.initial_kwh,
                    terminal_value=self.terminal_value, **self.options)

    def golden_objective(self) -> float | None:
        """The golden plan's objective: cost - terminal_value * (E_T - E_min). [currency]"""
        if not self.golden:
            return None
        soe = self.golden["soe_trajectory"]
        return float(self.golden["battery_solar_cost"]
                     - self.terminal_value * (soe[-1] - self.battery.e_min_kwh))


def peer_prices(data: dict) -> tuple[np.ndarray, np.ndarray]:
    """Buy and sell prices of a scenario dict. [currency/kWh]

    ``buy = (p * spot_multiplier + markup_rate) * vat_multiplier + additional_costs`` and
    ``sell = p * export_spot_multiplier + tax_reduction`` from ``base_prices`` ``p``, or the
    final ``buy_price``/``sell_price`` when given.
    """
    if "buy_price" in data:
        return (np.asarray(data["buy_price"], dtype=float),
                np.asarray(data["sell_price"], dtype=float))
    p = np.asarray(data["base_prices"], dtype=float)
    pd_ = {**_PRICE_DEFAULTS, **(data.get("price_data") or {})}
    buy = (p * pd_["spot_multiplier"] + pd_["markup_rate"]) * pd_["vat_multiplier"] \
        + pd_["additional_costs"]
    sell = p * pd_["export_spot_multiplier"] + pd_["tax_reduction"]
    return buy, sell


def read_peer_scenario(path: str | Path) -> PeerScenario:
    """Read one bess-manager scenario (and its golden file, if present).

    Parameters
    ----------
    path : str or Path
        ``.../scenarios/<name>.json``; the golden file is looked up as
        ``.../golden/<name>.json``.

    Returns
    -------
    PeerScenario
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read scenario ({exc})") from exc
    try:
        buy, sell = peer_prices(data)
        load = np.asarray(data["home_consumption"], dtype=float)
        pv = np.asarray(data["solar_production"], dtype=float)
        b = data["battery"]
        e_min, e_max = float(b["min_soe_kwh"]), float(b["max_soe_kwh"])
        e0 = float(b["initial_soe"])
    except KeyError as exc:
        raise DataError(f"{path}: missing field {exc}") from exc
    if not (buy.shape == sell.shape == load.shape == pv.shape):
        raise DataError(f"{path}: prices, home_consumption and solar_production differ in length")
    soc_min = e_min / e_max
    battery = Battery(capacity_kwh=e_max, power_charge_kw=float(b["max_charge_power_kw"]),
                      power_discharge_kw=float(b["max_discharge_power_kw"]),
                      eta_charge=float(b["efficiency_charge"]),
                      eta_discharge=float(b["efficiency_discharge"]), soc_min=soc_min,
                      soc_max=1.0, soc_initial=min(max(e0 / e_max, soc_min), 1.0),
                      wear_cost_per_kwh=float(b.get("cycle_cost_per_kwh", 0.0)))
    options: dict[str, Any] = {"allow_curtailment": False}
    cap = float(b.get("inverter_max_ac_power_kw") or 0.0)
    if cap > 0:
        options["inverter_ac_limit_kw"] = cap * (1.0 - float(b.get("inverter_ac_power_margin")
                                                             or 0.0))
    if b.get("export_curtailment_enabled") and b.get("export_curtailment_active"):
        options["export_price_floor"] = float(b.get("export_curtailment_price_floor") or 0.0)
    dt = float(data.get("period_duration_hours") or 1.0)
    tv = float(data.get("terminal_value_per_kwh") or 0.0)
    if not math.isfinite(tv):
        raise DataError(f"{path}: terminal_value_per_kwh = {tv}")
    golden = None
    gpath = path.parent.parent / "golden" / path.name
    if gpath.is_file():
        golden = json.loads(gpath.read_text())
    return PeerScenario(name=str(data.get("name", path.stem)), buy=buy, sell=sell,
                        load_kwh=load, pv_kwh=pv, battery=battery, dt_h=dt, initial_kwh=e0,
                        terminal_value=tv, options=options,
                        expected=dict(data.get("expected_results") or {}), golden=golden,
                        path=str(path))


def peer_scenarios(folder: str | Path) -> list[PeerScenario]:
    """All scenarios under ``folder`` (the corpus root or its ``scenarios/``), sorted by name."""
    folder = Path(folder)
    if (folder / "scenarios").is_dir():
        folder = folder / "scenarios"
    files = sorted(folder.glob("*.json"))
    if not files:
        raise DataError(f"{folder}: no scenario files (*.json)")
    return [read_peer_scenario(f) for f in files]
