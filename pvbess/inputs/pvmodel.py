"""PV plant AC energy from weather with pvlib: transposition, cell temperature, PVWatts DC and inverter."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..pv import PVPlant
from ..site import Site
from ..timeseries import DataError, step_hours
from .weather import pvlib_quiet

_WEATHER_COLUMNS = {"ghi_wm2": "W/m2", "dni_wm2": "W/m2", "dhi_wm2": "W/m2",
                    "temp_air_c": "C", "wind_ms": "m/s"}


def _check_weather(weather: pd.DataFrame, names=tuple(_WEATHER_COLUMNS)) -> None:
    for name in names:
        unit = _WEATHER_COLUMNS[name]
        if name not in weather.columns:
            raise DataError(f"column {name!r} [{unit}] is missing; have {list(weather.columns)}")
        values = pd.to_numeric(weather[name], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            raise DataError(f"column {name!r} [{unit}]: missing or non-numeric value "
                            f"{weather[name].iloc[i]!r} at row {i} ({weather.index[i]})")
        if unit == "W/m2" or unit == "m/s":
            neg = np.flatnonzero(values < 0)
            if neg.size:
                i = int(neg[0])
                raise DataError(f"column {name!r} [{unit}]: negative value {values[i]} at "
                                f"row {i} ({weather.index[i]})")


def pv_ac_power(weather: pd.DataFrame, plant: PVPlant = PVPlant(), site: Site = Site()
                ) -> pd.DataFrame:
    """Plane-of-array irradiance, cell temperature and DC/AC power of the plant.

    Parameters
    ----------
    weather : pandas.DataFrame
        Regular tz-aware index labelled by interval start; columns ``ghi_wm2``, ``dni_wm2``,
        ``dhi_wm2`` (interval means [W/m2]), ``temp_air_c`` [C], ``wind_ms`` [m/s]. Without
        ``dni_wm2`` and ``dhi_wm2`` (a GHI-only file) GHI is split by the Erbs model.
    plant : PVPlant
        The plant (DC/AC rating, tilt, azimuth, losses, temperature coefficient, albedo).
    site : Site
        Location.

    Returns
    -------
    pandas.DataFrame
        Columns ``poa_wm2`` [W/m2], ``temp_cell_c`` [C], ``dc_kw`` (after system losses) [kW],
        ``ac_kw`` (clipped at ``plant.ac_kw``) [kW], interval means on the same index.

    Notes
    -----
    Solar position at mid-interval; Hay-Davies transposition; Faiman cell temperature;
    PVWatts DC ``P = pdc0 * G/1000 * (1 + gamma (T_cell - 25))`` times ``1 - losses``;
    PVWatts inverter with ``pdc0 = ac_kw / eta_nom`` so the AC output saturates at ``ac_kw``.
    """
    import pvlib

    dt_h = step_hours(weather.index)
    has_beam = [c in weather.columns for c in ("dni_wm2", "dhi_wm2")]
    if any(has_beam) and not all(has_beam):
        missing = "dhi_wm2" if has_beam[0] else "dni_wm2"
        raise DataError(f"column {missing!r} [W/m2] is missing; give both dni_wm2 and dhi_wm2 "
                        "or neither (then GHI is split by the Erbs model)")
    names = tuple(_WEATHER_COLUMNS) if all(has_beam) else ("ghi_wm2", "temp_air_c", "wind_ms")
    _check_weather(weather, names)
    mid = weather.index + pd.Timedelta(hours=dt_h / 2.0)
    loc = pvlib.location.Location(site.latitude, site.longitude, site.tz, site.altitude_m)
    with pvlib_quiet():
        sol = loc.get_solarposition(mid)
    ghi = weather["ghi_wm2"].to_numpy(dtype=float)
    zen = sol["apparent_zenith"].to_numpy()
    if all(has_beam):
        dni = weather["dni_wm2"].to_numpy(dtype=float)
        dhi = weather["dhi_wm2"].to_numpy(dtype=float)
    else:
        with pvlib_quiet():
            parts = pvlib.irradiance.erbs(ghi, zen, mid.day_of_year.to_numpy())
        dni = np.nan_to_num(np.asarray(parts["dni"], dtype=float))
        dhi = np.nan_to_num(np.asarray(parts["dhi"], dtype=float))
    azi = sol["azimuth"].to_numpy()
    dni_extra = pvlib.irradiance.get_extra_radiation(mid.day_of_year.to_numpy())
    with pvlib_quiet():
        poa = pvlib.irradiance.get_total_irradiance(
            plant.tilt_deg, plant.azimuth_deg, zen, azi, dni, ghi, dhi,
            dni_extra=dni_extra, albedo=plant.albedo, model="haydavies")
    poa_global = np.nan_to_num(np.asarray(poa["poa_global"], dtype=float))
    poa_global = np.maximum(poa_global, 0.0)
    temp_cell = np.asarray(pvlib.temperature.faiman(
        poa_global, weather["temp_air_c"].to_numpy(dtype=float),
        weather["wind_ms"].to_numpy(dtype=float)), dtype=float)
    dc = np.asarray(pvlib.pvsystem.pvwatts_dc(
        poa_global, temp_cell, plant.dc_kwp, plant.gamma_pdc_per_c), dtype=float)
    dc = np.maximum(dc, 0.0) * (1.0 - plant.losses_pct / 100.0)
    dc[dc < 1e-9] = 0.0  # sub-microwatt output: avoids overflow in the inverter's 1/P term
    ac = np.asarray(pvlib.inverter.pvwatts(
        dc, plant.ac_kw / plant.inverter_eta_nom, eta_inv_nom=plant.inverter_eta_nom),
        dtype=float)
    ac = np.clip(np.nan_to_num(ac), 0.0, plant.ac_kw)
    return pd.DataFrame({"poa_wm2": poa_global, "temp_cell_c": temp_cell,
                         "dc_kw": dc, "ac_kw": ac}, index=weather.index)


def pv_ac_kwh(weather: pd.DataFrame, plant: PVPlant = PVPlant(), site: Site = Site()
              ) -> pd.Series:
    """AC energy of the plant per step. [kWh]

    ``energy = power * dt`` with ``dt`` from the index (hourly or sub-hourly weather).
    See :func:`pv_ac_power` for the model and the required columns.

    Examples
    --------
    >>> from pvbess.inputs.weather import generate_weather
    >>> kwh = pv_ac_kwh(generate_weather(2025, seed=1))
    >>> bool(1250 < kwh.sum() / PVPlant().dc_kwp < 1450)  # specific yield [kWh/kWp]
    True
    """
    power = pv_ac_power(weather, plant, site)
    return (power["ac_kw"] * step_hours(weather.index)).rename("pv_kwh")
