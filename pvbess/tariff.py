"""Time-of-use energy prices and demand charges (OSINERGMIN MT3 by default)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._spec import SpecBase

HP = "HP"  # hora punta: peak hours
HFP = "HFP"  # hora fuera de punta: off-peak hours


@dataclass(frozen=True)
class Tariff(SpecBase):
    """A two-period tariff with energy and demand charges. Defaults: OSINERGMIN MT3, Iquitos.

    Parameters
    ----------
    hp_start_h, hp_end_h : float
        Peak (HP) window on the local clock, ``hp_start_h <= t < hp_end_h``. [h]
    energy_hp_pen_per_kwh, energy_hfp_pen_per_kwh : float
        Energy prices in and outside the peak window. [PEN/kWh]
    demand_hp_pen_per_kw_month, demand_hfp_pen_per_kw_month : float
        Demand charges on the month's maximum grid draw within each period. [PEN/kW-month]
    export_pen_per_kwh : float
        Compensation paid for exported PV. [PEN/kWh]
    """

    hp_start_h: float = 18.0
    hp_end_h: float = 23.0
    energy_hp_pen_per_kwh: float = 0.45
    energy_hfp_pen_per_kwh: float = 0.28
    demand_hp_pen_per_kw_month: float = 48.50
    demand_hfp_pen_per_kw_month: float = 22.80
    export_pen_per_kwh: float = 0.0

    def __post_init__(self) -> None:
        self._hour("hp_start_h", "hp_end_h")
        if self.hp_start_h >= self.hp_end_h:
            self._fail("hp_start_h", self.hp_start_h, f"must be before hp_end_h = {self.hp_end_h!r}")
        self._non_negative("energy_hp_pen_per_kwh", "energy_hfp_pen_per_kwh",
                           "demand_hp_pen_per_kw_month", "demand_hfp_pen_per_kw_month",
                           "export_pen_per_kwh")

    def is_peak(self, index: pd.DatetimeIndex) -> np.ndarray:
        """True where the step starts inside the HP window (local clock of ``index``)."""
        hour = np.asarray(index.hour + index.minute / 60.0, dtype=float)
        return (hour >= self.hp_start_h) & (hour < self.hp_end_h)

    def period(self, index: pd.DatetimeIndex) -> np.ndarray:
        """'HP' or 'HFP' per step."""
        return np.where(self.is_peak(index), HP, HFP)

    def energy_price(self, index: pd.DatetimeIndex) -> np.ndarray:
        """Energy price per step. [PEN/kWh]"""
        return np.where(self.is_peak(index), self.energy_hp_pen_per_kwh,
                        self.energy_hfp_pen_per_kwh)
