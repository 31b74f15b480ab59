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

    def demand_charges(self, index: pd.DatetimeIndex) -> list[tuple[np.ndarray, float, float, str]]:
        """The demand-charge groups of ``index``: one per calendar month (local clock) and window.

        Returns
        -------
        list of (mask, price_per_kw, incumbent_kw, name)
            ``mask`` selects the group's periods; ``price_per_kw`` is the window's charge
            [PEN/kW-month] on the group's highest mean import power; ``incumbent_kw`` is 0 (no
            peak recorded before ``index[0]``); ``name`` e.g. ``"2025-03 HP"``.
        """
        peak = self.is_peak(index)
        months = np.asarray(index.year * 12 + index.month - 1)
        groups = []
        for m in np.unique(months):
            in_month = months == m
            label = f"{m // 12:04d}-{m % 12 + 1:02d}"
            for window, mask, price in ((HP, in_month & peak, self.demand_hp_pen_per_kw_month),
                                        (HFP, in_month & ~peak, self.demand_hfp_pen_per_kw_month)):
                if mask.any():
                    groups.append((mask, price, 0.0, f"{label} {window}"))
        return groups

    def demand_cost(self, import_kwh: np.ndarray, index: pd.DatetimeIndex) -> float:
        """Demand charges of an import profile on ``index``: each group's price times its
        highest mean import power. [PEN]"""
        from .timeseries import step_hours

        kw = np.asarray(import_kwh, dtype=float) / step_hours(index)
        return float(sum(price * kw[mask].max() for mask, price, _, _ in self.demand_charges(index)))
