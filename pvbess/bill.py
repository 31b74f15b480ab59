"""The bill the site pays, one way for every strategy.

Every comparison in pvbess (the optimal-dispatch study, the scheduler's replay, the sizing sweeps)
prices a strategy's grid profile here, so the rules, the optimum, the forecast-driven scheduler
and a learned agent are read off the same bill (../shared/specs/scheduler.md section 6):

- energy: import at the energy price of its period minus export at the export price;
- demand: per group (calendar month x tariff window) the price per kW times the highest mean
  import power of the group (or the incumbent peak, where a peak was already recorded);
- wear: the battery's cost per kWh stored;
- CO2: the site's CO2 is import x factor; the grid-wide net is (import - export) x factor
  (exports displace diesel elsewhere on an isolated grid). A CO2 price applies to the site's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .physics import stored_energy, wear_cost
from .tariff import Tariff
from .timeseries import DataError, step_hours

#: Columns of every strategy comparison, in order. Costs [PEN], CO2 [kg], energies [kWh].
BILL_COLUMNS: tuple[str, ...] = (
    "energy_cost_pen", "demand_cost_pen", "wear_cost_pen", "co2_cost_pen", "total_cost_pen",
    "co2_site_kg", "co2_net_kg", "grid_import_kwh", "grid_export_kwh", "bess_charge_kwh",
    "bess_discharge_kwh", "final_stored_kwh",
)


def demand_cost(grid_import_kwh: Any, index: pd.DatetimeIndex, tariff: Tariff,
                incumbent_kw: Sequence[float] | None = None) -> float:
    """Demand charges of an import profile. [PEN]

    ``sum_g price_g * max(incumbent_g, max_{k in g} import_k / dt)`` over the tariff's groups
    on ``index`` (:meth:`pvbess.Tariff.demand_charges`); ``incumbent_kw`` (one per group, default
    0) are the peaks already recorded in each group's billing period.
    """
    kw = np.asarray(grid_import_kwh, dtype=float) / step_hours(index)
    groups = tariff.demand_charges(index)
    if incumbent_kw is None:
        incumbent_kw = [g[2] for g in groups]
    if len(incumbent_kw) != len(groups):
        raise DataError(f"incumbent_kw: {len(incumbent_kw)} values for {len(groups)} "
                        "demand-charge groups")
    return float(sum(price * max(float(p0), float(kw[mask].max()))
                     for (mask, price, _, _), p0 in zip(groups, incumbent_kw)))


def site_bill(grid_import_kwh: Any, grid_export_kwh: Any, index: pd.DatetimeIndex,
              tariff: Tariff, *, co2_kg_per_kwh: float, co2_price_per_kg: float = 0.0,
              energy_price: Any = None, sell_price: Any = None, bess_charge_kwh: Any = 0.0,
              bess_discharge_kwh: Any = 0.0, wear_cost_per_kwh_stored: float = 0.0,
              eta_charge: float = 1.0, final_stored_kwh: float = float("nan"),
              demand: bool = True) -> dict[str, float]:
    """The bill of one strategy's grid and battery profile: :data:`BILL_COLUMNS`.

    Parameters
    ----------
    grid_import_kwh, grid_export_kwh : array-like
        Grid meter per period. [kWh]
    index : pandas.DatetimeIndex
        The periods (tz-aware, regular): the tariff windows and billing months.
    tariff : Tariff
        Energy and export prices and the demand charges.
    co2_kg_per_kwh : float
        Grid emission factor. [kg/kWh]
    co2_price_per_kg : float
        CO2 price on the site's emissions. [PEN/kg]
    energy_price, sell_price : array-like, optional
        Per-period prices replacing the tariff's (e.g. a site table's ``buy_price``). [PEN/kWh]
    bess_charge_kwh, bess_discharge_kwh : array-like or float
        AC energy drawn / delivered by the battery per period. [kWh]
    wear_cost_per_kwh_stored, eta_charge : float
        The battery's wear cost [PEN/kWh stored] and charging efficiency [-].
    final_stored_kwh : float
        Stored energy at the end (reported as is). [kWh]
    demand : bool
        False: an energy-only bill (``demand_cost_pen`` = 0).
    """
    imp = np.asarray(grid_import_kwh, dtype=float)
    exp = np.asarray(grid_export_kwh, dtype=float)
    buy = np.asarray(tariff.energy_price(index) if energy_price is None else energy_price,
                     dtype=float)
    sell = (np.full(imp.shape, tariff.export_pen_per_kwh) if sell_price is None
            else np.asarray(sell_price, dtype=float))
    charge = np.broadcast_to(np.asarray(bess_charge_kwh, dtype=float), imp.shape)
    discharge = np.broadcast_to(np.asarray(bess_discharge_kwh, dtype=float), imp.shape)
    energy = float(imp @ buy - exp @ sell)
    dem = demand_cost(imp, index, tariff) if demand else 0.0
    wear = float(wear_cost(stored_energy(charge.sum(), eta_charge), wear_cost_per_kwh_stored))
    co2_site = float(imp.sum() * co2_kg_per_kwh)
    co2_cost = co2_site * co2_price_per_kg
    return {"energy_cost_pen": energy, "demand_cost_pen": dem, "wear_cost_pen": wear,
            "co2_cost_pen": co2_cost, "total_cost_pen": energy + dem + wear + co2_cost,
            "co2_site_kg": co2_site, "co2_net_kg": float((imp.sum() - exp.sum()) * co2_kg_per_kwh),
            "grid_import_kwh": float(imp.sum()), "grid_export_kwh": float(exp.sum()),
            "bess_charge_kwh": float(charge.sum()), "bess_discharge_kwh": float(discharge.sum()),
            "final_stored_kwh": float(final_stored_kwh)}


def bill_table(rows: dict[str, dict[str, float]], *, extra: Sequence[str] = ()) -> pd.DataFrame:
    """Rows of :func:`site_bill` as a table: one row per strategy, :data:`BILL_COLUMNS` first."""
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "strategy"
    return table[list(BILL_COLUMNS) + [c for c in extra if c in table.columns]]
