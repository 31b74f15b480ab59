"""The tariff as data: time-of-use energy prices, demand charges and the export price.

The default is OSINERGMIN MT3 at Iquitos (../shared/specs/iquitos_site.md): energy in the peak
window HP 18:00-23:00 and off-peak HFP, and per calendar month two demand charges on the highest
mean import power inside each window. Another tariff is the same structure with other data: a
YAML mapping of the fields (:meth:`Tariff.from_yaml`), or a params file's ``tariff:`` mapping.
Spot prices per period go straight into :class:`pvbess.SchedulingProblem` as arrays.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._spec import SpecBase
from .timeseries import DataError

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

    @classmethod
    def from_yaml(cls, source: str | os.PathLike[str] | Mapping[str, Any]) -> Tariff:
        """A tariff from a YAML file (or an already parsed mapping) of its fields.

        Fields not given keep their MT3 defaults; an unknown field is an error naming it.

        Examples
        --------
        >>> Tariff.from_yaml({"energy_hp_pen_per_kwh": 0.5}).energy_hp_pen_per_kwh
        0.5
        """
        if isinstance(source, Mapping):
            values, where = dict(source), "tariff mapping"
        else:
            import yaml

            path = Path(source)
            with path.open(encoding="utf-8") as fh:
                values, where = yaml.safe_load(fh) or {}, str(path)
            if not isinstance(values, Mapping):
                raise DataError(f"{where}: expected a mapping of tariff fields, got "
                                f"{type(values).__name__}")
        try:
            return cls.from_dict(dict(values))
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where}: {exc}") from None

    @classmethod
    def from_params(cls, tariff: Mapping[str, Any] | None = None,
                    tariff_path: str | os.PathLike[str] = "") -> Tariff:
        """The tariff of a notebook's (or params file's) ``tariff`` and ``tariff_path``.

        The YAML file ``tariff_path`` if given (else MT3), with the fields of the ``tariff``
        mapping set over it: every notebook that bills takes these two parameters, so a params
        file sets the whole tariff with either (``tariff: {demand_hp_pen_per_kw_month: 30.0}``).

        Examples
        --------
        >>> t = Tariff.from_params({"hp_start_h": 17.0, "export_pen_per_kwh": 0.1})
        >>> t.hp_start_h, t.hp_end_h, t.export_pen_per_kwh
        (17.0, 23.0, 0.1)
        """
        base = cls.from_yaml(tariff_path) if str(tariff_path) else cls()
        if tariff is None or (isinstance(tariff, Mapping) and not tariff):
            return base
        if not isinstance(tariff, Mapping):
            raise DataError(f"tariff: expected a mapping of tariff fields, got "
                            f"{type(tariff).__name__}")
        return cls.from_yaml({**base.asdict(), **tariff})

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

    def demand_group(self, index: pd.DatetimeIndex) -> np.ndarray:
        """The demand-charge group of each period: billing month and window, e.g.
        ``"2025-03 HP"`` (local clock of ``index``)."""
        window = np.where(self.is_peak(index), HP, HFP)
        month = np.asarray(index.strftime("%Y-%m"), dtype=object)
        return month + " " + window.astype(object)

    def demand_prices(self) -> dict[str, float]:
        """Price per kW of each window's monthly peak. [PEN/kW-month]"""
        return {HP: self.demand_hp_pen_per_kw_month, HFP: self.demand_hfp_pen_per_kw_month}

    def demand_charges(self, index: pd.DatetimeIndex) -> list[tuple[np.ndarray, float, float, str]]:
        """The demand-charge groups of ``index``: one per calendar month (local clock) and window.

        Returns
        -------
        list of (mask, price_per_kw, incumbent_kw, name)
            ``mask`` selects the group's periods; ``price_per_kw`` is the window's charge
            [PEN/kW-month] on the group's highest mean import power; ``incumbent_kw`` is 0 (no
            peak recorded before ``index[0]``); ``name`` e.g. ``"2025-03 HP"``
            (:meth:`demand_group`). Groups with a zero price are left out.
        """
        group = self.demand_group(index)
        prices = self.demand_prices()
        order = {HP: 0, HFP: 1}  # within a month: HP, then HFP
        names = sorted(set(group), key=lambda n: (n[:7], order[n[8:]]))
        out = []
        for name in names:
            price = prices[name[8:]]
            if price > 0:
                out.append((group == name, price, 0.0, str(name)))
        return out
