"""Where the plant is: location, time zone and the grid's emission factor."""

from __future__ import annotations

from dataclasses import dataclass

from ._spec import SpecBase


@dataclass(frozen=True)
class Site(SpecBase):
    """A site. Defaults are Iquitos, Peru (isolated diesel grid).

    Parameters
    ----------
    name : str
    latitude, longitude : float
        Degrees north / east. [deg]
    altitude_m : float
        Height above sea level. [m]
    tz : str
        IANA time zone of the data's local clock.
    co2_kg_per_kwh : float
        Emission factor of grid imports. [kg CO2/kWh]
    pen_per_usd : float
        Exchange rate used when costs are shown in USD. [PEN/USD]
    """

    name: str = "Iquitos"
    latitude: float = -3.75
    longitude: float = -73.25
    altitude_m: float = 104.0
    tz: str = "America/Lima"
    co2_kg_per_kwh: float = 0.4521
    pen_per_usd: float = 3.75

    def __post_init__(self) -> None:
        self._finite("latitude", "longitude", "altitude_m")
        if not -90 <= self.latitude <= 90:
            self._fail("latitude", self.latitude, "must lie in [-90, 90] degrees")
        if not -180 <= self.longitude <= 180:
            self._fail("longitude", self.longitude, "must lie in [-180, 180] degrees")
        self._non_negative("co2_kg_per_kwh")
        self._positive("pen_per_usd")
        try:
            import zoneinfo

            zoneinfo.ZoneInfo(self.tz)
        except Exception:  # noqa: BLE001 - any failure means the name is unusable
            self._fail("tz", self.tz, "is not a known IANA time zone")
