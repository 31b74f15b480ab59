"""The generated Iquitos dataset: one hourly year of weather, PV, EV and mall energy.

``generate_iquitos`` builds it from the published site facts with pvbess's own models
(:mod:`pvbess.inputs.weather`, :mod:`pvbess.inputs.pvmodel`, :mod:`pvbess.inputs.ev`, :mod:`pvbess.inputs.mall`);
``write_iquitos`` writes ``data/iquitos/`` (byte-deterministic for a seed); ``load_iquitos``
reads it back, validated. Regenerate with ``python -m pvbess.inputs.dataset`` (``make data``).

Files
-----
iquitos_hourly.csv
    The hourly table (columns in :data:`COLUMNS`), index ``time`` = local interval start
    with its UTC offset.
ev_sockets_hourly.csv
    Energy per hour of each of the 38 EV sockets (``socket_00_kwh`` ..). [kWh]
provenance.json
    Generator, version, seed, every parameter, how each column was made, file checksums.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..config import IQUITOS_DIR
from ..pv import PVPlant
from ..site import Site
from ..timeseries import DataError, check_tz
from ._csv import _HOUR_NS, _check_steps, _read_table, _where
from ._numbers import _energy_kwh, _parse_numbers
from .limits import PLAUSIBLE

if TYPE_CHECKING:  # the models pull in numba and pvlib; load_iquitos needs neither
    from .ev import EVFleet
    from .mall import MallLoad
    from .weather import WeatherModel

DEFAULT_SEED = 2025
DEFAULT_YEAR = 2025
HOURLY_FILE = "iquitos_hourly.csv"
SOCKETS_FILE = "ev_sockets_hourly.csv"
PROVENANCE_FILE = "provenance.json"

#: Columns of the hourly table: name -> (unit, how it was made).
COLUMNS: dict[str, tuple[str, str]] = {
    "pv_kwh": ("kWh", ("AC energy of the PV plant (pvbess.inputs.pvmodel.pv_ac_kwh: Hay-Davies POA, "
                      "Faiman cell temperature, PVWatts DC with system losses, PVWatts inverter "
                      "clipped at ac_kw) from the weather columns")),
    "ev_kwh": ("kWh", ("EV charging energy of the site, sum of the socket columns "
                      "(pvbess.inputs.ev.simulate_ev: FIFO socket queue at 1-minute resolution)")),
    "mall_kwh": ("kWh", ("mall energy (pvbess.inputs.mall.simulate_mall: monthly level x AR(1) daily "
                        "factor x mean hourly profile + AR(1) hourly noise, soft peak ceiling, "
                        "rescaled to the monthly energies)")),
    "ghi_wm2": ("W/m2", ("global horizontal irradiance, interval mean (pvbess.inputs.weather: pvlib "
                        "Ineichen clear sky x stochastic clear-sky index)")),
    "dni_wm2": ("W/m2", "direct normal irradiance, interval mean (Erbs decomposition of GHI)"),
    "dhi_wm2": ("W/m2", "diffuse horizontal irradiance, interval mean (Erbs decomposition)"),
    "temp_air_c": ("C", "air temperature (monthly mean + daily cycle + AR(1) daily anomaly)"),
    "wind_ms": ("m/s", ("wind speed at 10 m (log-normal AR(1) noise around the mean with an "
                       "afternoon maximum)")),
}
_DECIMALS = {"pv_kwh": 3, "ev_kwh": 4, "mall_kwh": 3, "ghi_wm2": 2, "dni_wm2": 2,
             "dhi_wm2": 2, "temp_air_c": 2, "wind_ms": 2}
_SOCKET_DECIMALS = 4


def generate_iquitos(seed: int = DEFAULT_SEED, year: int = DEFAULT_YEAR, site: Site = Site(),
                     plant: PVPlant = PVPlant(), weather_model: WeatherModel | None = None,
                     fleet: EVFleet | None = None, mall: MallLoad | None = None) -> pd.DataFrame:
    """Generate the hourly Iquitos year.

    Parameters
    ----------
    seed : int
        Seed; weather, EV and mall draw from independent child streams of
        ``numpy.random.SeedSequence(seed)`` (changing one model leaves the others unchanged).
    year : int
        Calendar year (8,760 rows unless it is a leap year).
    site, plant, weather_model, fleet, mall : specs
        Models and their parameters (None or default: the Iquitos facts).

    Returns
    -------
    pandas.DataFrame
        Tz-aware hourly index (interval start, ``site.tz``), the columns of :data:`COLUMNS`
        followed by the per-socket EV columns ``socket_00_kwh`` .., rounded as written to disk
        (kWh to 3 decimals, EV and sockets 4, weather 2).

    Examples
    --------
    >>> df = generate_iquitos(seed=1)
    >>> df.shape[0], round(float(df["mall_kwh"].sum()), -3)
    (8760, 12369000.0)
    """
    from .ev import EVFleet, simulate_ev, socket_columns
    from .mall import MallLoad, simulate_mall
    from .pvmodel import pv_ac_kwh
    from .weather import WeatherModel, generate_weather

    weather_model = WeatherModel() if weather_model is None else weather_model
    fleet = EVFleet() if fleet is None else fleet
    mall = MallLoad() if mall is None else mall
    weather_ss, ev_ss, mall_ss = np.random.SeedSequence(seed).spawn(3)
    weather = generate_weather(year, site, model=weather_model,
                               rng=np.random.default_rng(weather_ss))
    index = weather.index.rename("time")
    ev = simulate_ev(index, fleet, rng=np.random.default_rng(ev_ss))
    mall_kwh = simulate_mall(index, mall, rng=np.random.default_rng(mall_ss))
    sockets = ev[socket_columns(fleet)].round(_SOCKET_DECIMALS)
    table = pd.DataFrame({
        "pv_kwh": pv_ac_kwh(weather, plant, site).to_numpy(),
        "ev_kwh": sockets.sum(axis=1).to_numpy(),
        "mall_kwh": mall_kwh.to_numpy(),
        "ghi_wm2": weather["ghi_wm2"].to_numpy(),
        "dni_wm2": weather["dni_wm2"].to_numpy(),
        "dhi_wm2": weather["dhi_wm2"].to_numpy(),
        "temp_air_c": weather["temp_air_c"].to_numpy(),
        "wind_ms": weather["wind_ms"].to_numpy(),
    }, index=index)
    table = table.round(_DECIMALS)
    return pd.concat([table, sockets], axis=1)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    index = frame.index.strftime("%Y-%m-%dT%H:%M:%S%z")
    out = frame.copy()
    out.index = pd.Index(index, name="time")
    # the values are already rounded: 10 significant digits print them exactly, 0 as "0"
    return out.to_csv(lineterminator="\n", float_format="%.10g").encode("utf-8")


def _spec_dict(spec) -> dict:
    def plain(value):
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, np.generic):
            return value.item()
        return value

    return {k: plain(v) for k, v in spec.asdict().items()}


def write_iquitos(directory: str | os.PathLike = IQUITOS_DIR, seed: int = DEFAULT_SEED,
                  year: int = DEFAULT_YEAR, frame: pd.DataFrame | None = None,
                  site: Site = Site(), plant: PVPlant = PVPlant(),
                  weather_model: WeatherModel | None = None, fleet: EVFleet | None = None,
                  mall: MallLoad | None = None) -> Path:
    """Generate (unless ``frame`` is given) and write the dataset folder; returns its path.

    Writes ``iquitos_hourly.csv``, ``ev_sockets_hourly.csv`` and ``provenance.json``, each
    through a temporary file moved into place. The output is byte-deterministic for a seed
    (no timestamps in it). ``frame``, when given, must come from :func:`generate_iquitos`
    with the same ``seed``, ``year`` and specs (the provenance records them).
    """
    import numba
    import pvlib
    import scipy

    from .. import __version__
    from .ev import EVFleet, socket_columns
    from .mall import MallLoad
    from .weather import WeatherModel

    weather_model = WeatherModel() if weather_model is None else weather_model
    fleet = EVFleet() if fleet is None else fleet
    mall = MallLoad() if mall is None else mall
    directory = Path(directory)
    if frame is None:
        frame = generate_iquitos(seed, year, site, plant, weather_model, fleet, mall)
    missing = [c for c in [*COLUMNS, *socket_columns(fleet)] if c not in frame.columns]
    if missing:
        raise DataError(f"frame: column(s) {missing} missing; pass generate_iquitos() output")
    hourly = frame[list(COLUMNS)]
    sockets = frame[socket_columns(fleet)]
    files = {HOURLY_FILE: _csv_bytes(hourly), SOCKETS_FILE: _csv_bytes(sockets)}
    provenance = {
        "generator": "pvbess.inputs.dataset.generate_iquitos",
        "command": f"python -m pvbess.inputs.dataset --seed {seed} --year {year}",
        "pvbess_version": __version__,
        "libraries": {"numpy": np.__version__, "pandas": pd.__version__,
                      "pvlib": pvlib.__version__, "scipy": scipy.__version__,
                      "numba": numba.__version__},
        "seed": seed,
        "year": year,
        "rows": len(frame),
        "index": "local interval start (time zone in parameters.site.tz), ISO 8601 with UTC "
                 "offset; values are energy per hour or interval means",
        "random_streams": "numpy.random.SeedSequence(seed).spawn(3) -> weather, ev, mall",
        "parameters": {
            "site": _spec_dict(site), "pv_plant": _spec_dict(plant),
            "weather": _spec_dict(weather_model), "ev_fleet": _spec_dict(fleet),
            "mall": _spec_dict(mall),
        },
        "columns": {name: {"unit": unit, "file": HOURLY_FILE, "how": how}
                    for name, (unit, how) in COLUMNS.items()},
        "socket_columns": {
            "file": SOCKETS_FILE, "unit": "kWh",
            "how": "energy per hour of each socket from the FIFO queue (sockets "
                   f"0-{fleet.moto_sockets - 1} motos, {fleet.moto_sockets}-"
                   f"{fleet.n_sockets - 1} mototaxis); ev_kwh is their sum",
        },
        "facts": "shared/specs/iquitos_site.md (published site facts; no measured series "
                 "is copied)",
        "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                  for name, data in files.items()},
    }
    for name, data in files.items():
        _atomic_write_bytes(directory / name, data)
    text = json.dumps(provenance, indent=2, sort_keys=True) + "\n"
    _atomic_write_bytes(directory / PROVENANCE_FILE, text.encode("utf-8"))
    return directory


class MissingDatasetError(DataError, FileNotFoundError):
    """The dataset file is absent: a :class:`DataError` that is also a ``FileNotFoundError``."""


def _read_checked(path: Path, tz: str, energies: list[str] | None) -> pd.DataFrame:
    """A dataset CSV read and checked cell by cell; every error names the file and line.

    ``energies`` lists the energy columns (None: every column is one) [kWh]; the weather
    columns of :data:`COLUMNS` are held to their plausible ranges.
    """
    if not path.is_file():
        raise MissingDatasetError(f"{path} not found; regenerate it with `python -m "
                                  f"pvbess.inputs.dataset` (make data)")
    table = _read_table(path, ",")
    time_col = table.frame.columns[0]
    texts = table.frame[time_col].to_numpy(dtype=object)
    stamps = pd.to_datetime(table.frame[time_col], format="%Y-%m-%dT%H:%M:%S%z", utc=True,
                            errors="coerce")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise DataError(f"{path}: line {table.line(i)}, column {time_col!r}: unparseable "
                        f"timestamp {texts[i]!r} (expected e.g. {texts[0]!r})")
    index = pd.DatetimeIndex(stamps).tz_convert(tz)  # its unit as pandas parses it (recorded)

    def where(i: int) -> str:
        return f"line {table.line(i)} ({texts[i]})"

    _check_steps(index.as_unit("ns"), _HOUR_NS, where, str(path))
    data = {}
    for col in table.frame.columns[1:]:
        if energies is None or col in energies:
            data[col] = _energy_kwh(table, col, texts, "kWh", ".", _HOUR_NS, False, True)
            continue
        unit = COLUMNS[col][0] if col in COLUMNS else "-"
        values = _parse_numbers(table, col, texts, unit, ".", col == "temp_air_c", explicit=True)
        limit = PLAUSIBLE.get(col)
        if limit is not None:
            out = np.flatnonzero((values < limit.low) | (values > limit.high))
            if out.size:
                i = int(out[0])
                raise DataError(f"{_where(table, texts, i)}, column {col!r} [{unit}]: value "
                                f"{values[i]:g} outside the plausible range [{limit.low:g}, "
                                f"{limit.high:g}] ({limit.why}; pvbess.inputs.limits)")
        data[col] = values
    frame = pd.DataFrame(data, index=pd.DatetimeIndex(index, name="time"))
    return frame


def load_iquitos(path: str | os.PathLike = IQUITOS_DIR, sockets: bool = False,
                 tz: str = "America/Lima") -> pd.DataFrame:
    """Read the hourly Iquitos table, validated.

    Parameters
    ----------
    path : path-like
        The dataset folder (or the hourly CSV file itself).
    sockets : bool
        Also join the per-socket EV columns ``socket_00_kwh`` ...
    tz : str
        Time zone of the returned index.

    Returns
    -------
    pandas.DataFrame
        Hourly, tz-aware index labelled by interval start; the columns of :data:`COLUMNS`
        (energies [kWh], irradiance [W/m2], temperature [C], wind [m/s]).

    Raises
    ------
    MissingDatasetError
        If the files are absent (a ``DataError`` and a ``FileNotFoundError``).
    DataError
        Naming the file, line and column: a bad timestamp, rows out of order or missing, a
        missing column, a missing, non-numeric or negative value, a value above its ceiling
        (:mod:`pvbess.inputs.limits`), an unknown time zone.
    """
    check_tz(tz)
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    hourly_path = path if path.is_file() else folder / HOURLY_FILE
    frame = _read_checked(hourly_path, tz, ["pv_kwh", "ev_kwh", "mall_kwh"])
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{hourly_path}: line 1 (header): column(s) {missing} missing; have "
                        f"{list(frame.columns)}")
    frame.index.freq = "h"
    if len(frame) not in (8760, 8784):
        raise DataError(f"{hourly_path}: expected 8,760 hourly rows (a full year), got "
                        f"{len(frame):,} (lines 2 to {len(frame) + 1})")
    if sockets:
        socks = _read_checked(folder / SOCKETS_FILE, tz, None)
        if not socks.index.equals(frame.index):
            raise DataError(f"{folder / SOCKETS_FILE}: its hours differ from {hourly_path} "
                            f"({len(socks):,} rows from {socks.index[0]}, against "
                            f"{len(frame):,} from {frame.index[0]})")
        frame = frame.join(socks)
    return frame


def main(argv: list[str] | None = None) -> int:
    """``python -m pvbess.inputs.dataset [--seed N] [--year Y] [--out DIR]``: regenerate the folder."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m pvbess.inputs.dataset",
                                     description="Regenerate the Iquitos dataset folder.")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument("--year", type=int, default=DEFAULT_YEAR, help="calendar year")
    parser.add_argument("--out", type=Path, default=IQUITOS_DIR, help="output folder")
    args = parser.parse_args(argv)
    out = write_iquitos(args.out, seed=args.seed, year=args.year)
    table = load_iquitos(out)
    print(f"wrote {out}: {len(table)} rows; PV {table['pv_kwh'].sum() / 1e3:,.0f} MWh, "
          f"EV {table['ev_kwh'].sum() / 1e3:,.0f} MWh, mall {table['mall_kwh'].sum() / 1e3:,.0f} "
          "MWh")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
