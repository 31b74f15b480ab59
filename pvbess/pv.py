"""The PV plant specification (the pvlib model of it lives in :mod:`pvbess.inputs.pvmodel`)."""

from __future__ import annotations

from dataclasses import dataclass

from ._spec import SpecBase


@dataclass(frozen=True)
class PVPlant(SpecBase):
    """A grid-tied PV plant. Defaults are the Iquitos design (4,050 kWp DC / 3,342 kW AC).

    Parameters
    ----------
    dc_kwp : float
        DC nameplate at STC. [kWp]
    ac_kw : float
        Total inverter AC rating. [kW]
    tilt_deg : float
        Module tilt from horizontal. [deg]
    azimuth_deg : float
        Module azimuth, clockwise from north (0 = facing north). [deg]
    losses_pct : float
        PVWatts system losses (soiling, shading, mismatch, wiring, ...). [%]
    gamma_pdc_per_c : float
        Power temperature coefficient of the modules. [1/C]
    inverter_eta_nom : float
        Nominal inverter efficiency (PVWatts). [-]
    albedo : float
        Ground reflectance. [-]
    """

    dc_kwp: float = 4050.0
    ac_kw: float = 3342.0
    tilt_deg: float = 10.0
    azimuth_deg: float = 0.0
    losses_pct: float = 13.6
    gamma_pdc_per_c: float = -0.0037
    inverter_eta_nom: float = 0.96
    albedo: float = 0.2

    def __post_init__(self) -> None:
        self._positive("dc_kwp", "ac_kw")
        self._finite("tilt_deg", "azimuth_deg", "gamma_pdc_per_c")
        if not 0 <= self.tilt_deg <= 90:
            self._fail("tilt_deg", self.tilt_deg, "must lie in [0, 90] degrees")
        if not 0 <= self.azimuth_deg < 360:
            self._fail("azimuth_deg", self.azimuth_deg, "must lie in [0, 360) degrees")
        self._finite("losses_pct")
        if not 0 <= self.losses_pct < 100:
            self._fail("losses_pct", self.losses_pct, "must lie in [0, 100) percent")
        if self.gamma_pdc_per_c > 0:
            self._fail("gamma_pdc_per_c", self.gamma_pdc_per_c, "must be <= 0 per C")
        self._fraction("inverter_eta_nom", open_low=True)
        self._fraction("albedo")

    @property
    def dc_ac_ratio(self) -> float:
        """DC/AC ratio. [-]"""
        return self.dc_kwp / self.ac_kw
