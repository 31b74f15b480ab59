"""The specs of a run, read back from its balance table.

:func:`pvbess.simulate` stores the run's specs in the balance table's ``attrs`` (as dicts, so
that :func:`pvbess.write_balance` / :func:`pvbess.read_balance` keep them). :func:`run_specs` is
the one reader: the KPIs, the energy identities and every figure take the battery, rules, tariff
and CO2 factor from it. A missing spec is an error naming it, never a default: a default would
be the Iquitos design, and a figure of another design would silently show the Iquitos battery.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .battery import Battery
from .rules import SixPhaseRules
from .tariff import Tariff
from .timeseries import DataError, step_hours

#: The ``attrs`` keys a balance table must carry (every table from :func:`pvbess.simulate` does).
REQUIRED_ATTRS = ("strategy", "battery", "rules", "tariff", "co2_kg_per_kwh", "e_initial_kwh")


@dataclass(frozen=True)
class RunSpecs:
    """What a run was made of, from a balance table's ``attrs``.

    Attributes
    ----------
    strategy : str
        The strategy of :data:`pvbess.STRATEGIES` that made the table.
    battery, rules, tariff
        The specs of the run.
    co2_kg_per_kwh : float
        Emission factor of grid imports. [kg CO2/kWh]
    e_initial_kwh : float
        Stored energy before the first step. [kWh]
    dt_h : float
        Step length (``attrs['dt_h']``, else from the index). [h]
    allow_grid_charge, allow_battery_export : bool
        What the run allowed (absent: False, the stricter check).
    pv_kwp : float or None
        PV size for labels, when the caller stored it. [kWp]
    run_id : str or None
        Report run id, when set.
    """

    strategy: str
    battery: Battery
    rules: SixPhaseRules
    tariff: Tariff
    co2_kg_per_kwh: float
    e_initial_kwh: float
    dt_h: float
    allow_grid_charge: bool = False
    allow_battery_export: bool = False
    pv_kwp: float | None = None
    run_id: str | None = None


def _spec(value, cls):
    return value if isinstance(value, cls) else cls.from_dict(value)


def run_specs(balance: pd.DataFrame, *, battery: Battery | None = None,
              rules: SixPhaseRules | None = None, tariff: Tariff | None = None,
              co2_kg_per_kwh: float | None = None) -> RunSpecs:
    """The specs of the run that made ``balance``, from its ``attrs``.

    Parameters
    ----------
    balance : DataFrame
        A table from :func:`pvbess.simulate` or :func:`pvbess.read_balance`.
    battery, rules, tariff, co2_kg_per_kwh : optional
        Given ones replace the stored ones (and need not be stored).

    Returns
    -------
    RunSpecs

    Raises
    ------
    DataError
        ``balance`` is not a DataFrame, or a spec of :data:`REQUIRED_ATTRS` that was not given is
        missing from ``attrs`` (the message lists every missing one).
    TypeError
        A given spec has the wrong type.

    Examples
    --------
    >>> import pandas as pd, pvbess
    >>> idx = pd.date_range("2024-01-01", periods=24, freq="h", tz="America/Lima")
    >>> site = pd.DataFrame({"pv_kwh": 0.0, "ev_kwh": 0.0, "mall_kwh": 100.0}, index=idx)
    >>> pvbess.run_specs(pvbess.simulate(site)).battery.capacity_kwh
    2000.0
    """
    if not isinstance(balance, pd.DataFrame):
        raise DataError(f"balance: expected a DataFrame, got {type(balance).__name__}")
    given = {"battery": battery, "rules": rules, "tariff": tariff,
             "co2_kg_per_kwh": co2_kg_per_kwh}
    for key, cls in (("battery", Battery), ("rules", SixPhaseRules), ("tariff", Tariff)):
        if given[key] is not None and not isinstance(given[key], cls):
            raise TypeError(f"{key}: expected a {cls.__name__}, got {type(given[key]).__name__}")
    attrs = balance.attrs
    missing = [k for k in REQUIRED_ATTRS if given.get(k) is None and attrs.get(k) is None]
    if missing:
        raise DataError(
            f"balance: the run's specs {missing} are missing from attrs (a table from "
            "pvbess.simulate or pvbess.read_balance carries them; pandas operations that make a "
            "new table may drop attrs: copy them with new.attrs = dict(balance.attrs))")
    dt = attrs.get("dt_h")
    pv_kwp = attrs.get("pv_kwp")
    return RunSpecs(
        strategy=str(attrs["strategy"]),
        battery=battery if battery is not None else _spec(attrs["battery"], Battery),
        rules=rules if rules is not None else _spec(attrs["rules"], SixPhaseRules),
        tariff=tariff if tariff is not None else _spec(attrs["tariff"], Tariff),
        co2_kg_per_kwh=float(co2_kg_per_kwh if co2_kg_per_kwh is not None
                             else attrs["co2_kg_per_kwh"]),
        e_initial_kwh=float(attrs["e_initial_kwh"]),
        dt_h=float(dt) if dt else step_hours(balance.index),
        allow_grid_charge=bool(attrs.get("allow_grid_charge", False)),
        allow_battery_export=bool(attrs.get("allow_battery_export", False)),
        pv_kwp=float(pv_kwp) if pv_kwp is not None else None,
        run_id=attrs.get("run_id"),
    )
