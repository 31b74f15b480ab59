"""``python -m pvbess.live --config site.yaml``: the live runner from one YAML file.

The file (README, "Live operation", has a full example for a Growatt-style inverter)::

    site: {timezone: Europe/Madrid, period_h: 1, database: live.sqlite, forecast: persistence}
    battery: {capacity_kwh: 10, power_charge_kw: 5, power_discharge_kw: 5, soc_min: 0.1,
              soc_max: 0.95, soc_initial: 0.5}
    prices: {buy: [24 values by local hour, or one number], sell: 0.05}   # [currency/kWh]
    tariff: {...}        # optional: pvbess.Tariff fields (or a YAML file of them, beside this one);
                         # its demand charges make full-bill plans
    fallback: {load_kwh: [24 values], pv_kwh: [24 values]}   # optional: the cold-start forecast
    home_assistant: {...}                                     # pvbess.live.config

``prices`` or ``tariff`` (or both) must be given. Energy prices come from ``prices`` when given,
else from the tariff (its windows' prices, the export price as sell). A tariff's demand charges
(:meth:`pvbess.Tariff.demand_charges`: each month's peak import power per window) enter every
plan: the peaks the record already holds this month are the incumbents, a plan pays only for
raising them, and the inverter gets the peak guard's import cap
(``home_assistant.inverter.import_limit`` or the script's ``import_limit_kw``).

Also a library: :func:`build_runner` returns the :class:`~pvbess.live.runner.LiveRunner`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..battery import Battery
from ..tariff import Tariff
from ..timeseries import DataError
from .client import HomeAssistantError
from .config import home_assistant_config
from .ha import HomeAssistantController
from .runner import LiveRunner

SECTIONS = {"site", "battery", "prices", "tariff", "fallback", "home_assistant"}


def _by_hour(value: Any, where: str) -> np.ndarray:
    """24 values by local hour from a list of 24 or one number."""
    arr = np.asarray(value, dtype=float).reshape(-1)
    if arr.size == 1:
        arr = np.full(24, arr[0])
    if arr.size != 24 or not np.all(np.isfinite(arr)):
        raise DataError(f"{where}: give one number or 24 finite values by local hour, "
                        f"got {value!r}")
    return arr


def hourly_prices(buy: Any, sell: Any, tz: str, where: str = "prices"
                  ) -> Callable[[pd.DatetimeIndex], tuple[np.ndarray, np.ndarray]]:
    """``prices(index) -> (buy, sell)`` from prices by local hour [currency/kWh]."""
    buy_h, sell_h = _by_hour(buy, f"{where}.buy"), _by_hour(sell, f"{where}.sell")

    def prices(index: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        hour = index.tz_convert(tz).hour
        return buy_h[hour], sell_h[hour]
    return prices


def tariff_prices(tariff: Tariff, tz: str
                  ) -> Callable[[pd.DatetimeIndex], tuple[np.ndarray, np.ndarray]]:
    """``prices(index) -> (buy, sell)`` of a tariff: its windows' energy prices and its export
    price [currency/kWh], on the local clock."""
    def prices(index: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        return (tariff.energy_price(index.tz_convert(tz)),
                np.full(len(index), tariff.export_pen_per_kwh))
    return prices


def build_runner(path: str | os.PathLike[str], *,
                 clock: Callable[[], pd.Timestamp] | None = None) -> LiveRunner:
    """The :class:`LiveRunner` a site YAML describes (module docstring)."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict) or set(raw) - SECTIONS:
        raise DataError(f"{path}: sections must be of {sorted(SECTIONS)}, got "
                        f"{sorted(raw) if isinstance(raw, dict) else raw!r}")
    for need in ("site", "battery", "home_assistant"):
        if need not in raw:
            raise DataError(f"{path}: section '{need}' is missing")
    if "prices" not in raw and "tariff" not in raw:
        raise DataError(f"{path}: give the energy prices: section 'prices' or 'tariff'")
    site = raw["site"]
    tz, dt_h = str(site.get("timezone", "UTC")), float(site.get("period_h", 1.0))
    try:
        battery = Battery(**raw["battery"])
    except TypeError as e:
        raise DataError(f"{path}: battery: {e}") from None
    tariff = None
    if "tariff" in raw:  # its fields, or a tariff YAML file beside the site's
        source = raw["tariff"] or {}
        try:
            tariff = Tariff.from_yaml(source if isinstance(source, dict)
                                      else path.parent / str(source))
        except (DataError, OSError) as e:
            raise DataError(f"{path}: tariff: {e}") from None
    if "prices" in raw:
        prices = hourly_prices(raw["prices"].get("buy"), raw["prices"].get("sell", 0.0), tz,
                               f"{path}: prices")
    else:
        prices = tariff_prices(tariff, tz)
    fallback = None
    if "fallback" in raw:
        fallback = (_by_hour(raw["fallback"]["load_kwh"], f"{path}: fallback.load_kwh"),
                    _by_hour(raw["fallback"]["pv_kwh"], f"{path}: fallback.pv_kwh"))
    ha = home_assistant_config(raw["home_assistant"], where=f"{path}: home_assistant")
    options = {} if clock is None else {"clock": clock}
    controller = HomeAssistantController(
        ha, battery, dt_h=dt_h, tz=tz,
        prices=lambda ts: tuple(float(a[0]) for a in prices(pd.DatetimeIndex([ts]))), **options)
    database = Path(site.get("database", "live.sqlite"))
    if not database.is_absolute():
        database = path.parent / database
    return LiveRunner(controller, battery, prices, database,
                      forecast=str(site.get("forecast", "persistence")), fallback=fallback,
                      tariff=tariff)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pvbess.live", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--config", required=True, help="the site YAML")
    parser.add_argument("--tick-s", type=float, default=10.0,
                        help="seconds between ticks (default 10)")
    parser.add_argument("--once", action="store_true", help="one tick, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        runner = build_runner(args.config)
    except (HomeAssistantError, DataError, OSError) as e:  # a bad config, token or URL
        print(f"pvbess.live: {e}", file=sys.stderr)
        return 2
    try:
        while True:
            runner.tick()
            if args.once:
                return 0
            time.sleep(args.tick_s)
    except KeyboardInterrupt:
        return 0
    finally:
        runner.manager.db.close()
