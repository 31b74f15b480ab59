"""Plausibility ceilings: the one place that says how large a value a reader accepts.

A value beyond its ceiling is not a measurement but a unit mistake (W read as kW, F as C), a
missing-value code (EPW's 9999, 99.9, 999) or a corrupted cell (``1e300``); the readers refuse
it with a :class:`pvbess.DataError` naming the file, line, column, unit and the ceiling.

The ceilings are deliberately generous (physically impossible, not merely unusual), so a real
site never meets them:

- energy per step: a site of at most :data:`MAX_SITE_POWER_KW` (1 GW; the largest PV or
  storage plants are a few GW, a mall or an EV hub a few MW) for the length of the step;
- irradiance: above the solar constant (1361 W/m2) plus cloud-edge enhancement; DHI is at most
  about 80 % of that;
- air temperature: beyond the records on Earth (-89.2 C, +56.7 C) by a few degrees;
- wind speed at 10 m: beyond the strongest gusts measured at a surface station (113 m/s would
  be a tornado; 75 m/s is far beyond the hourly means of any weather file).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..timeseries import MAX_SITE_POWER_KW  # the one ceiling of site power, [kW]


@dataclass(frozen=True)
class Plausible:
    """The range a quantity must lie in, in its harmonised unit."""

    low: float
    high: float
    unit: str
    why: str


#: Weather quantity -> its plausible range (harmonised units of the weather readers).
PLAUSIBLE: dict[str, Plausible] = {
    "ghi_wm2": Plausible(0.0, 1500.0, "W/m2", "solar constant plus cloud enhancement"),
    "dni_wm2": Plausible(0.0, 1500.0, "W/m2", "solar constant plus cloud enhancement"),
    "dhi_wm2": Plausible(0.0, 1000.0, "W/m2", "diffuse light is a part of the global"),
    "temp_air_c": Plausible(-70.0, 60.0, "C", "beyond the air temperature records"),
    "wind_ms": Plausible(0.0, 75.0, "m/s", "beyond any hourly mean wind at 10 m"),
}


def max_energy_kwh(step_h: float) -> float:
    """The ceiling of the energy one meter records in one step of ``step_h`` hours. [kWh]"""
    return MAX_SITE_POWER_KW * float(step_h)
