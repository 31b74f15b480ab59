"""The battery specification shared by the rules, the optimizer and the replays."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from ._spec import SpecBase
from .physics import split_round_trip

#: One-way efficiencies of the Iquitos design (round trip 0.95, split evenly). [-]
_ETA_CHARGE, _ETA_DISCHARGE = split_round_trip(0.95)


@dataclass(frozen=True)
class Battery(SpecBase):
    """A battery energy storage system (BESS), AC-coupled.

    Charging draws ``c`` kWh of AC and stores ``c * eta_charge``; discharging delivers ``d`` kWh
    of AC and removes ``d / eta_discharge`` from storage. Defaults are the Iquitos design.

    Parameters
    ----------
    capacity_kwh : float
        Nameplate energy. [kWh]
    power_charge_kw : float
        Maximum AC charging power. [kW]
    power_discharge_kw : float
        Maximum AC discharging power. [kW]
    eta_charge, eta_discharge : float
        One-way efficiencies in (0, 1]. [-]
    soc_min, soc_max : float
        Usable window as fractions of ``capacity_kwh``; ``soc_min < soc_max``. [-]
    soc_initial : float
        State of charge at the first step, inside the window. [-]
    wear_cost_per_kwh : float
        Cycle (wear) cost per kWh stored. [currency/kWh]

    Examples
    --------
    >>> b = Battery.from_round_trip(0.95, capacity_kwh=100.0)
    >>> round(b.eta_charge * b.eta_discharge, 12), b.usable_kwh
    (0.95, 80.0)
    """

    capacity_kwh: float = 2000.0
    power_charge_kw: float = 400.0
    power_discharge_kw: float = 400.0
    eta_charge: float = _ETA_CHARGE
    eta_discharge: float = _ETA_DISCHARGE
    soc_min: float = 0.2
    soc_max: float = 1.0
    soc_initial: float = 0.2
    wear_cost_per_kwh: float = 0.0

    def __post_init__(self) -> None:
        self._non_negative("capacity_kwh", "power_charge_kw", "power_discharge_kw",
                           "wear_cost_per_kwh")
        self._fraction("eta_charge", "eta_discharge", open_low=True)
        self._fraction("soc_min", "soc_max", "soc_initial")
        if self.soc_min >= self.soc_max:
            self._fail("soc_min", self.soc_min, f"must be below soc_max = {self.soc_max!r}")
        if not self.soc_min <= self.soc_initial <= self.soc_max:
            self._fail("soc_initial", self.soc_initial,
                       f"must lie in [soc_min, soc_max] = [{self.soc_min}, {self.soc_max}]")

    @classmethod
    def from_round_trip(cls, round_trip_efficiency: float = 0.95, **fields: float) -> "Battery":
        """A battery whose round-trip efficiency is split evenly: eta_c = eta_d = sqrt(rte)."""
        if (isinstance(round_trip_efficiency, bool)
                or not isinstance(round_trip_efficiency, numbers.Real)
                or not 0 < round_trip_efficiency <= 1):
            raise ValueError(
                f"Battery.round_trip_efficiency = {round_trip_efficiency!r}: must lie in (0, 1]")
        eta_c, eta_d = split_round_trip(round_trip_efficiency)
        return cls(eta_charge=eta_c, eta_discharge=eta_d, **fields)

    @property
    def round_trip_efficiency(self) -> float:
        """eta_charge * eta_discharge. [-]"""
        return self.eta_charge * self.eta_discharge

    @property
    def e_min_kwh(self) -> float:
        """Lowest allowed stored energy. [kWh]"""
        return self.soc_min * self.capacity_kwh

    @property
    def e_max_kwh(self) -> float:
        """Highest allowed stored energy. [kWh]"""
        return self.soc_max * self.capacity_kwh

    @property
    def e_initial_kwh(self) -> float:
        """Stored energy at the first step. [kWh]"""
        return self.soc_initial * self.capacity_kwh

    @property
    def usable_kwh(self) -> float:
        """Usable window e_max - e_min. [kWh]"""
        return self.e_max_kwh - self.e_min_kwh
