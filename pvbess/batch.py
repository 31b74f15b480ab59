"""Many battery/rule configurations on one site in one compiled, parallel call.

:func:`simulate_many` is the engine of the sizing sweeps: every configuration runs the same
strategy kernel as :func:`pvbess.simulate` and reduces its year to the annual KPIs inside the
kernel (:mod:`pvbess.batch_kernel`, the accumulator of :mod:`pvbess.indicators` step for step),
so no per-step table is stored and memory stays flat however many configurations run. Row ``k``
of the result equals ``kpis(simulate(site, battery_k, rules_k, strategy))`` bit for bit.
:func:`kpi_table` runs designs a sweep has already checked.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from types import SimpleNamespace

import numpy as np
import pandas as pd

from . import dispatch as _d
from .balance import STRATEGIES, site_arrays
from .batch_kernel import kpi_sums
from .battery import Battery
from .indicators import KPI_NAMES, finalize_kpis, kpi_calendar
from .physics import split_round_trip
from .rules import SixPhaseRules
from .site import Site
from .tariff import Tariff
from .timeseries import DataError

_BATTERY_FIELDS = tuple(f.name for f in dataclasses.fields(Battery))
_RULES_FIELDS = tuple(f.name for f in dataclasses.fields(SixPhaseRules))
#: Configuration columns besides the Battery and SixPhaseRules field names.
EXTRA_COLUMNS = ("power_kw", "pv_scale", "round_trip_efficiency")


#: The last site calendar (index, tariff, kpi_calendar's arrays): a sweep calls
#: :func:`simulate_many` once per chunk on the same site.
_LAST_CALENDAR: list[tuple] = []


def _calendar(index: pd.DatetimeIndex, tariff: Tariff) -> tuple:
    """:func:`pvbess.indicators.kpi_calendar`, reused while the index object and tariff repeat
    (a DatetimeIndex cannot change)."""
    last = _LAST_CALENDAR[0] if _LAST_CALENDAR else None
    if last is not None and last[0] is index and last[1] == tariff:
        return last[2]
    out = kpi_calendar(index, tariff)
    _LAST_CALENDAR[:] = [(index, tariff, out)]
    return out


class _BatteryColumns(SimpleNamespace):
    """Battery fields as arrays (one value per design), with the Battery's derived energies."""

    e_min_kwh = Battery.e_min_kwh
    e_max_kwh = Battery.e_max_kwh
    e_initial_kwh = Battery.e_initial_kwh


def _column(configs: pd.DataFrame, name: str) -> np.ndarray:
    """One configuration column as floats; a value that is no number names its design."""
    values = configs[name]
    if values.dtype.kind in "iuf":
        return values.to_numpy(dtype=float)
    for label, value in values.items():
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise DataError(f"configs row {label!r}: {name} = {value!r}: must be a number")
    return values.to_numpy(dtype=float)


def design_columns(configs: pd.DataFrame, battery: Battery = Battery(),
                   rules: SixPhaseRules = SixPhaseRules()) -> dict[str, np.ndarray]:
    """Every Battery and SixPhaseRules field and ``pv_scale`` as one float array per name.

    Columns of ``configs`` override the fields of ``battery`` and ``rules``; ``power_kw`` sets
    both powers and ``round_trip_efficiency`` both efficiencies (split evenly). Not validated:
    see :func:`design_problems`.
    """
    n = len(configs)
    given = {name: _column(configs, name) for name in configs.columns}
    out: dict[str, np.ndarray] = {}
    for name, base in [*((f, battery) for f in _BATTERY_FIELDS),
                       *((f, rules) for f in _RULES_FIELDS)]:
        out[name] = given[name] if name in given else np.full(n, float(getattr(base, name)))
    if "power_kw" in given:
        out["power_charge_kw"] = out["power_discharge_kw"] = given["power_kw"]
    if "round_trip_efficiency" in given:
        out["eta_charge"], out["eta_discharge"] = split_round_trip(
            np.where(given["round_trip_efficiency"] > 0, given["round_trip_efficiency"], np.nan))
    out["pv_scale"] = given.get("pv_scale", np.ones(n))
    if "round_trip_efficiency" in given:
        out["round_trip_efficiency"] = given["round_trip_efficiency"]
    return out


def _first_invalid(columns: dict[str, np.ndarray], names: tuple[str, ...], spec
                   ) -> tuple[int, str] | None:
    """The first design whose ``spec`` (Battery or SixPhaseRules) fails its checks, and why.

    Each distinct combination of the fields is built once, so the spec's own checks (one
    place) run on a handful of objects however many designs share them.
    """
    table = np.column_stack([columns[name] for name in names])
    # first occurrences by hashing (np.unique(axis=0) sorts rows: 10x slower on a sweep grid)
    first = np.flatnonzero(~pd.DataFrame(table).duplicated().to_numpy())
    for k in first:
        try:
            spec(**dict(zip(names, table[k].tolist())))
        except ValueError as err:
            return int(k), str(err)
    return None


def design_problems(columns: dict[str, np.ndarray], battery: Battery = Battery(),
                    rules: SixPhaseRules = SixPhaseRules()) -> list[tuple[int, str]]:
    """The invalid designs of :func:`design_columns`: ``(position, reason)`` of the first one
    found by each check (round-trip efficiency, Battery, SixPhaseRules, PV scale), in design
    order. Empty when every design is valid."""
    found = []
    if "round_trip_efficiency" in columns:
        rte = columns["round_trip_efficiency"]
        bad = np.flatnonzero(~((rte > 0.0) & (rte <= 1.0)))  # NaN fails too
        if bad.size:
            found.append((int(bad[0]), f"round_trip_efficiency = {rte[bad[0]]!r}: must lie in "
                                       "(0, 1]"))
    for names, spec in ((_BATTERY_FIELDS, Battery), (_RULES_FIELDS, SixPhaseRules)):
        bad_spec = _first_invalid(columns, names, spec)
        if bad_spec is not None:
            found.append(bad_spec)
    scale = columns["pv_scale"]
    bad = np.flatnonzero(~(np.isfinite(scale) & (scale >= 0.0)))
    if bad.size:
        found.append((int(bad[0]), f"pv_scale = {scale[bad[0]]!r}: must be a finite number >= 0"))
    return sorted(found, key=lambda item: item[0])


def config_params(configs: pd.DataFrame, battery: Battery = Battery(),
                  rules: SixPhaseRules = SixPhaseRules()) -> np.ndarray:
    """The parameter matrix (one ``dispatch.P_*`` row per configuration), validated as arrays.

    Raises
    ------
    DataError
        An unknown column, or a value the Battery/SixPhaseRules checks reject: names the first
        offending row (its index label) and the field.
    """
    if not isinstance(configs, pd.DataFrame):
        raise TypeError(f"configs: expected a DataFrame, got {type(configs).__name__}")
    known = set(_BATTERY_FIELDS) | set(_RULES_FIELDS) | set(EXTRA_COLUMNS)
    unknown = sorted(set(configs.columns) - known)
    if unknown:
        raise DataError(f"configs: unknown column(s) {unknown}; use Battery fields "
                        f"{list(_BATTERY_FIELDS)}, SixPhaseRules fields {list(_RULES_FIELDS)} "
                        f"or {list(EXTRA_COLUMNS)}")
    if "power_kw" in configs.columns and {"power_charge_kw", "power_discharge_kw"} & set(
            configs.columns):
        raise DataError("configs: 'power_kw' sets both power_charge_kw and power_discharge_kw; "
                        "do not give them as well")
    if "round_trip_efficiency" in configs.columns and {"eta_charge", "eta_discharge"} & set(
            configs.columns):
        raise DataError("configs: 'round_trip_efficiency' sets eta_charge and eta_discharge; "
                        "do not give them as well")
    columns = design_columns(configs, battery, rules)
    problems = design_problems(columns, battery, rules)
    if problems:
        k, why = problems[0]
        raise DataError(f"configs row {configs.index[k]!r}: {why}")
    return design_params(columns)


def design_params(columns: dict[str, np.ndarray]) -> np.ndarray:
    """The parameter matrix (one ``dispatch.P_*`` row per design) of :func:`design_columns`.

    Not validated: for columns :func:`design_problems` found valid (:func:`config_params` checks
    and calls this).
    """
    fields = {name: columns[name] for name in _BATTERY_FIELDS}
    rules_fields = SimpleNamespace(**{name: columns[name] for name in _RULES_FIELDS})
    return _d.make_params(_BatteryColumns(**fields), rules_fields, pv_scale=columns["pv_scale"])


def _check_run(strategy: str, co2_kg_per_kwh: float) -> None:
    if strategy not in STRATEGIES or strategy == "schedule":
        choices = sorted(s for s in STRATEGIES if s != "schedule")
        raise ValueError(f"strategy = {strategy!r}: simulate_many runs one of {choices}")
    if not (isinstance(co2_kg_per_kwh, (int, float)) and math.isfinite(co2_kg_per_kwh)
            and co2_kg_per_kwh >= 0):
        raise ValueError(f"co2_kg_per_kwh = {co2_kg_per_kwh!r}: must be a finite number >= 0")


def _kpi_frame(site: pd.DataFrame, arrays: tuple, params: np.ndarray, index: pd.Index,
               strategy: str, tariff: Tariff, co2_kg_per_kwh: float) -> pd.DataFrame:
    """The KPI table of checked designs (``arrays``: :func:`pvbess.balance.site_arrays`)."""
    pv, ev, mall, dt = arrays
    hour, day, month, labels, peak, price = _calendar(site.index, tariff)
    sums, mmax = kpi_sums(_d.STRATEGY_CODES[strategy], pv, ev, mall, hour, day, month, peak,
                          price, dt, params, len(labels))
    values = finalize_kpis(
        sums, mmax[:, :, 0].max(axis=1), mmax[:, :, 1].max(axis=1),
        (mmax[:, :, 0] * tariff.demand_hp_pen_per_kw_month).sum(axis=1),
        (mmax[:, :, 1] * tariff.demand_hfp_pen_per_kw_month).sum(axis=1),
        params[:, _d.P_ETAD], params[:, _d.P_EMAX] - params[:, _d.P_EMIN], dt,
        float(co2_kg_per_kwh), tariff)
    # one 2-D block (a table of 60 separate columns would be consolidated, column by column)
    block = np.empty((len(index), len(KPI_NAMES)))
    for j, name in enumerate(KPI_NAMES):
        block[:, j] = values[name]
    return pd.DataFrame(block, index=index, columns=list(KPI_NAMES))


def kpi_table(site: pd.DataFrame, params: np.ndarray, index: pd.Index, *,
              strategy: str = "six_phase", tariff: Tariff = Tariff(),
              co2_kg_per_kwh: float = Site.co2_kg_per_kwh) -> pd.DataFrame:
    """:func:`simulate_many` of designs already checked: ``params`` from :func:`design_params`
    of columns :func:`design_problems` found valid (a sweep checks its whole grid once, then
    runs it in chunks). One row per design, labelled by ``index``."""
    _check_run(strategy, co2_kg_per_kwh)
    return _kpi_frame(site, site_arrays(site), params, index, strategy, tariff, co2_kg_per_kwh)


def simulate_many(site: pd.DataFrame, configs: pd.DataFrame, *, battery: Battery = Battery(),
                  rules: SixPhaseRules = SixPhaseRules(), strategy: str = "six_phase",
                  tariff: Tariff = Tariff(),
                  co2_kg_per_kwh: float = Site.co2_kg_per_kwh) -> pd.DataFrame:
    """Annual KPIs of many configurations on one site, in one parallel compiled call.

    Parameters
    ----------
    site : DataFrame
        ``pv_kwh``, ``ev_kwh``, ``mall_kwh`` on a regular tz-aware index (as for
        :func:`pvbess.simulate`). [kWh per step]
    configs : DataFrame
        One row per configuration. Columns: any :class:`~pvbess.Battery` field, any
        :class:`~pvbess.SixPhaseRules` field, ``power_kw`` (sets charge and discharge power
        together) [kW], ``round_trip_efficiency`` (sets eta_c = eta_d = sqrt) [-] and
        ``pv_scale`` (multiplies the PV column) [-]. Missing fields come from ``battery`` and
        ``rules``.
    battery, rules : Battery, SixPhaseRules
        The base configuration.
    strategy : str
        Any of :data:`pvbess.STRATEGIES` except ``"schedule"``.
    tariff : Tariff
        Energy prices and demand charges.
    co2_kg_per_kwh : float
        Emission factor of grid imports. [kg/kWh]

    Returns
    -------
    DataFrame
        Index = ``configs.index``; columns = the annual KPIs (:data:`pvbess.indicators.KPI_NAMES`),
        equal to ``kpis(simulate(...))`` of each configuration.

    Examples
    --------
    >>> import pandas as pd, pvbess
    >>> idx = pd.date_range("2024-01-01", periods=48, freq="h", tz="America/Lima")
    >>> site = pd.DataFrame({"pv_kwh": 0.0, "ev_kwh": 0.0, "mall_kwh": 100.0}, index=idx)
    >>> out = pvbess.simulate_many(site, pd.DataFrame({"capacity_kwh": [0.0, 500.0]}))
    >>> out["grid_import_kwh"].tolist()
    [4800.0, 4800.0]
    """
    _check_run(strategy, co2_kg_per_kwh)
    arrays = site_arrays(site)
    params = config_params(configs, battery, rules)
    return _kpi_frame(site, arrays, params, configs.index, strategy, tariff, co2_kg_per_kwh)
