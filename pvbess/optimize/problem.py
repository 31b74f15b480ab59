"""The scheduling problem: one definition, built once, taken by every solver and by the referee.

A :class:`SchedulingProblem` holds everything section 1 of ../shared/specs/scheduler.md names:
prices, load, PV, the battery, the period length, the grid and inverter limits and the options,
validated and turned into per-period arrays (energies per period: a power limit ``P`` [kW]
becomes ``P * dt_h`` kWh). The DP (:func:`pvbess.optimize_schedule`), the exact solver
(:func:`pvbess.exact_schedule`), the plan evaluator (:func:`pvbess.evaluate_plan`), the
scheduler and the studies all take one, so an option means the same thing everywhere.

Build it from arrays with :meth:`SchedulingProblem.build` or from a site table and a tariff
with :meth:`SchedulingProblem.from_site`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ..battery import Battery
from ..physics import CHARGE_CODES, CHARGE_SOURCES, resolve_charge_source
from ..tariff import Tariff
from ..timeseries import DataError, check_energy_columns, step_hours

__all__ = ["CHARGE_SOURCES", "DemandCharge", "SchedulingProblem"]


@dataclass(frozen=True, eq=False)
class DemandCharge:
    """One demand-charge group: a set of periods billed on their highest import power.

    Parameters
    ----------
    mask : numpy.ndarray of bool
        The periods of the group (e.g. the HP hours of one calendar month).
    price_per_kw : float
        Price of the group's peak import power (mean over a period). [currency/kW]
    incumbent_kw : float
        Highest import power already recorded in the group's billing period before the plan
        starts: the plan pays only for raising the peak above it. [kW]
    name : str
        A label (e.g. ``"2025-03 HP"``).
    """

    mask: np.ndarray
    price_per_kw: float
    incumbent_kw: float = 0.0
    name: str = ""


def _array(obj: Any, name: str, unit: str) -> np.ndarray:
    try:
        a = np.asarray(obj, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(f"{name} [{unit}]: not numeric") from None
    if not np.isfinite(a).all():  # (the row is looked for only when there is one)
        i = int(np.flatnonzero(~np.isfinite(a))[0])
        raise DataError(f"{name} [{unit}]: {a[i]} (missing or infinite) at row {i}")
    return a


def _initial_kwh(battery: Battery, value: Any) -> float:
    e0 = float(value)
    if not (math.isfinite(e0) and 0.0 <= e0 <= battery.capacity_kwh + 1e-9):
        raise DataError(f"initial_kwh = {value!r} [kWh]: must lie in "
                        f"[0, capacity_kwh = {battery.capacity_kwh}]")
    return e0


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only copy: a problem owns its arrays, so a caller's later writes cannot change it
    (and a :meth:`SchedulingProblem.tail` of it is the same problem for good)."""
    a = np.array(a, dtype=np.float64, order="C")
    a.setflags(write=False)
    return a


#: The per-period arrays of a problem besides the optional import caps.
_PER_PERIOD = ("load_kwh", "pv_kwh", "energy_price", "buy", "sell", "import_limit_kwh",
               "export_limit_kwh", "inverter_limit_kwh")
_LIMITS = ("charge_max_kwh", "discharge_max_kwh")  # cached on first use; a tail cuts them


@dataclass(frozen=True, eq=False)
class SchedulingProblem:
    """A battery-scheduling problem: validated per-period arrays and the options.

    Build with :meth:`build` (arrays) or :meth:`from_site` (a site table and a tariff); the
    fields are read-only. Energies are per period [kWh]; limits are converted from kW.

    Attributes
    ----------
    index : pandas.DatetimeIndex or None
        The periods' tz-aware starts when the inputs were Series on one, else None.
    dt_h : float
        Period length. [h]
    battery : Battery
        Window, power limits, efficiencies, wear cost per kWh stored.
    load_kwh, pv_kwh : numpy.ndarray
        Site load and PV production per period. [kWh]
    energy_price : numpy.ndarray
        Import price per period without the CO2 price. [currency/kWh]
    buy, sell : numpy.ndarray
        Import price including the CO2 price (``energy_price + co2_price_per_kg *
        co2_kg_per_kwh``) and export price. [currency/kWh]
    import_limit_kwh, export_limit_kwh, inverter_limit_kwh : numpy.ndarray
        Grid import and export limits and the hybrid inverter's AC limit per period (``inf``:
        none). [kWh]
    initial_kwh : float
        Stored energy at the start (may lie below ``battery.e_min_kwh``). [kWh]
    terminal_value : float
        Value of each kWh stored above ``e_min_kwh`` at the end. [currency/kWh]
    charge_source : str
        One of :data:`CHARGE_SOURCES`.
    allow_battery_export, allow_curtailment : bool
        Battery discharge into the grid; PV curtailment by choice (where it pays).
    export_price_floor : float or None
        No export in periods whose sell price is below it. [currency/kWh]
    co2_price_per_kg, co2_kg_per_kwh : float
        CO2 price [currency/kg] and grid emission factor [kg/kWh].
    demand_charges : tuple of DemandCharge
        Demand-charge groups (empty: energy-only).
    import_cap_kwh : numpy.ndarray or None
        A hard import cap per period that the battery must keep the import under (unlike
        ``import_limit_kwh``, which never forces it to cover load); None: none. [kWh]
    tail_of : tuple or None
        ``(problem, start)`` when this problem is a :meth:`tail` of ``problem`` from its period
        ``start`` (the first problem built, for a tail of a tail), else None. A DP re-plan
        reuses the backward pass of the problem it is a tail of
        (:class:`pvbess.optimize.replan.BackwardCache`).
    """

    index: pd.DatetimeIndex | None
    dt_h: float
    battery: Battery
    load_kwh: np.ndarray
    pv_kwh: np.ndarray
    energy_price: np.ndarray
    buy: np.ndarray
    sell: np.ndarray
    import_limit_kwh: np.ndarray
    export_limit_kwh: np.ndarray
    inverter_limit_kwh: np.ndarray
    initial_kwh: float
    terminal_value: float = 0.0
    charge_source: str = "any"
    allow_battery_export: bool = True
    allow_curtailment: bool = True
    export_price_floor: float | None = None
    co2_price_per_kg: float = 0.0
    co2_kg_per_kwh: float = 0.0
    demand_charges: tuple[DemandCharge, ...] = field(default=())
    import_cap_kwh: np.ndarray | None = None
    tail_of: tuple[SchedulingProblem, int] | None = field(default=None, init=False, repr=False)

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def build(cls, buy: Any, sell: Any, load_kwh: Any, pv_kwh: Any, battery: Battery, *,
              dt_h: float | None = None, initial_kwh: float | None = None,
              terminal_value: float = 0.0, charge_source: str | None = None,
              allow_grid_charge: bool | None = None, allow_battery_export: bool = True,
              allow_curtailment: bool = True, import_limit_kw: Any = np.inf,
              export_limit_kw: Any = np.inf, inverter_ac_limit_kw: float = np.inf,
              export_price_floor: float | None = None, co2_price_per_kg: float = 0.0,
              co2_kg_per_kwh: float = 0.0,
              demand_charges: Sequence[DemandCharge | tuple] = (),
              incumbent_peaks_kw: Sequence[float] | None = None,
              import_cap_kw: Any = np.inf) -> SchedulingProblem:
        """A problem from per-period arrays (or Series on one tz-aware index).

        Parameters
        ----------
        buy, sell : array-like or pandas.Series
            Import (without the CO2 price) and export price per period. [currency/kWh]
        load_kwh, pv_kwh : array-like or pandas.Series
            Site load and PV production per period. [kWh]
        battery : pvbess.Battery
            Window ``[e_min_kwh, e_max_kwh]``, AC power limits, efficiencies and wear cost.
        dt_h : float, optional
            Period length. [h] Default: the step of a tz-aware Series index, else 1.0.
        initial_kwh : float, optional
            Stored energy at the start. [kWh] Default ``battery.e_initial_kwh``. It may lie below
            ``e_min_kwh`` (the battery then may not discharge until it is back in the window).
        terminal_value : float
            Value of each kWh stored above ``e_min_kwh`` at the end. [currency/kWh]
        charge_source : {"any", "pv", "surplus"}, optional
            Where the battery may charge from (:data:`CHARGE_SOURCES`). Default ``"any"``.
        allow_grid_charge : bool, optional
            The older spelling: True is ``charge_source="any"``, False ``"surplus"``.
        allow_battery_export : bool
            If False the battery discharges only into the load deficit.
        allow_curtailment : bool
            If True, PV may be curtailed wherever that is cheaper (sell < 0). PV that cannot be
            exported (export limit, inverter limit) is always curtailed.
        import_limit_kw, export_limit_kw : float or array-like
            Grid connection limits, scalar or per period. [kW] The import limit binds the
            battery's charging only: load above it is still served (the battery is never forced
            to cover it).
        inverter_ac_limit_kw : float
            AC limit of a hybrid inverter with the PV and the battery on its DC side:
            ``|pv_used - c + d| <= limit * dt``. [kW]
        export_price_floor : float, optional
            No export in periods whose sell price is below this floor. [currency/kWh]
        co2_price_per_kg, co2_kg_per_kwh : float
            CO2 price [currency/kg] and grid emission factor [kg/kWh]; their product is added to
            the buy price (exports earn no CO2 credit).
        demand_charges : sequence of DemandCharge or (mask, price_per_kw[, incumbent_kw])
            Demand-charge groups: the price per kW of each group's highest import power.
        incumbent_peaks_kw : sequence of float, optional
            Each group's incumbent peak (replaces those of ``demand_charges``). [kW]
        import_cap_kw : float or array-like
            A hard import cap the battery must keep the import under (inf: none). [kW]

        Raises
        ------
        DataError
            Naming the input, its unit and the first bad row.
        """
        if not isinstance(battery, Battery):
            raise TypeError(f"battery: expected a pvbess.Battery, got {type(battery).__name__}")
        index = None
        for name, obj in (("buy", buy), ("sell", sell), ("load_kwh", load_kwh),
                          ("pv_kwh", pv_kwh)):
            if isinstance(obj, pd.Series) and isinstance(obj.index, pd.DatetimeIndex):
                if index is None:
                    index = obj.index
                elif not obj.index.equals(index):
                    raise DataError(f"{name}: its index differs from the other inputs' index")
        if index is not None:
            dt_idx = step_hours(index) if len(index) > 1 or index.freq is not None else None
            if dt_h is None:
                dt_h = dt_idx if dt_idx is not None else 1.0
            elif dt_idx is not None and abs(dt_idx - dt_h) > 1e-9:
                raise DataError(f"dt_h = {dt_h} h disagrees with the index step {dt_idx} h")
        if dt_h is None:
            dt_h = 1.0
        if isinstance(dt_h, bool) or not (isinstance(dt_h, numbers.Real)  # numpy too
                                          and math.isfinite(dt_h) and dt_h > 0):
            raise DataError(f"dt_h = {dt_h!r} [h]: must be a finite number > 0")
        dt_h = float(dt_h)
        arrays = {name: _array(obj, name, unit) for name, obj, unit in (
            ("buy", buy, "currency/kWh"), ("sell", sell, "currency/kWh"),
            ("load_kwh", load_kwh, "kWh"), ("pv_kwh", pv_kwh, "kWh"))}
        t_len = arrays["buy"].shape[0]
        if t_len < 1:
            raise DataError("buy [currency/kWh]: need at least one period")
        for name, a in arrays.items():
            unit = "kWh" if name.endswith("_kwh") else "currency/kWh"
            if a.shape[0] != t_len:
                raise DataError(f"{name} [{unit}]: length {a.shape[0]} != length of buy {t_len}")
            if unit == "kWh" and a.min() < 0:
                i = int(np.flatnonzero(a < 0)[0])
                raise DataError(f"{name} [{unit}]: negative value {a[i]} at row {i}")
        for name, val in (("co2_price_per_kg", co2_price_per_kg),
                          ("co2_kg_per_kwh", co2_kg_per_kwh)):
            if not (math.isfinite(val) and val >= 0):
                raise DataError(f"{name} = {val!r}: must be a finite number >= 0")
        source = resolve_charge_source(charge_source, allow_grid_charge)

        def limit(value: Any, name: str) -> np.ndarray:
            if isinstance(value, float) and value >= 0:  # one limit for all (NaN fails >= 0)
                return np.full(t_len, value * dt_h)
            a = np.asarray(value, dtype=np.float64).reshape(-1)
            if a.size == 1:
                a = np.full(t_len, a[0])
            if a.shape[0] != t_len:
                raise DataError(f"{name} [kW]: length {a.shape[0]} != number of periods {t_len}")
            bad = np.flatnonzero(np.isnan(a) | (a < 0))
            if bad.size:
                i = int(bad[0])
                raise DataError(f"{name} [kW]: {a[i]} at row {i} (must be >= 0, inf for no limit)")
            return a * dt_h

        sell_arr = arrays["sell"]
        xlim = limit(export_limit_kw, "export_limit_kw")
        if export_price_floor is not None:
            xlim = np.where(sell_arr < export_price_floor, 0.0, xlim)
        acap = float(inverter_ac_limit_kw)
        if math.isnan(acap) or acap <= 0:
            raise DataError(f"inverter_ac_limit_kw = {inverter_ac_limit_kw!r} [kW]: must be > 0 "
                            "(inf for no limit)")
        e0 = _initial_kwh(battery, battery.e_initial_kwh if initial_kwh is None else initial_kwh)
        if not math.isfinite(terminal_value):
            raise DataError(f"terminal_value = {terminal_value!r} [currency/kWh]: must be finite")
        energy = arrays["buy"]
        cap = limit(import_cap_kw, "import_cap_kw")
        return cls(
            index=index if index is not None and len(index) == t_len else None, dt_h=dt_h,
            battery=battery, load_kwh=_frozen(arrays["load_kwh"]),
            pv_kwh=_frozen(arrays["pv_kwh"]), energy_price=_frozen(energy),
            buy=_frozen(energy + float(co2_price_per_kg) * float(co2_kg_per_kwh)),
            sell=_frozen(sell_arr), import_limit_kwh=_frozen(limit(import_limit_kw,
                                                                   "import_limit_kw")),
            export_limit_kwh=_frozen(xlim), inverter_limit_kwh=_frozen(np.full(t_len, acap * dt_h)),
            initial_kwh=float(e0), terminal_value=float(terminal_value), charge_source=source,
            allow_battery_export=bool(allow_battery_export),
            allow_curtailment=bool(allow_curtailment), export_price_floor=export_price_floor,
            co2_price_per_kg=float(co2_price_per_kg), co2_kg_per_kwh=float(co2_kg_per_kwh),
            demand_charges=_demand_charges(demand_charges, t_len, incumbent_peaks_kw),
            import_cap_kwh=_frozen(cap) if np.isfinite(cap).any() else None)

    @classmethod
    def from_site(cls, site: pd.DataFrame, battery: Battery, tariff: Tariff | None = None, *,
                  co2_kg_per_kwh: float | None = None, co2_price_per_kg: float = 0.0,
                  export_price: float | None = None, demand_charges: bool = False,
                  charge_source: str = "pv", allow_battery_export: bool = False,
                  **options: Any) -> SchedulingProblem:
        """The problem of a site table under a tariff.

        Parameters
        ----------
        site : pandas.DataFrame
            ``pv_kwh`` and either ``load_kwh`` or ``ev_kwh`` + ``mall_kwh`` (energy per period)
            on a regular tz-aware index [kWh]; optional ``buy_price`` (without a CO2 price) and
            ``sell_price`` columns [currency/kWh] replace the tariff's prices.
        battery : Battery
        tariff : Tariff, optional
            Energy prices per window and the export price; default ``Tariff()`` (MT3).
        co2_kg_per_kwh : float, optional
            Grid emission factor; default ``Site().co2_kg_per_kwh``. [kg/kWh]
        co2_price_per_kg : float
            CO2 price added to the buy price. [currency/kg]
        export_price : float, optional
            Export price where the table has no ``sell_price``; default the tariff's
            ``export_pen_per_kwh``. [currency/kWh]
        demand_charges : bool
            True: the tariff's demand charges (one group per calendar month and window) are
            part of the problem.
        charge_source : {"any", "pv", "surplus"}
            Default ``"pv"``, as the six-phase rules charge.
        allow_battery_export : bool
            Default False, as the rules never discharge into the grid.
        **options
            Further keywords of :meth:`build` (``initial_kwh``, ``terminal_value``, limits).
        """
        from ..site import Site

        tariff = Tariff() if tariff is None else tariff
        if not isinstance(site, pd.DataFrame):
            raise DataError(f"site: expected a DataFrame, got {type(site).__name__}")
        if "load_kwh" in site.columns:
            check_energy_columns(site, ("load_kwh", "pv_kwh"), "kWh")
            load = site["load_kwh"].to_numpy(dtype=float)
        else:
            check_energy_columns(site, ("pv_kwh", "ev_kwh", "mall_kwh"), "kWh")
            load = site["ev_kwh"].to_numpy(dtype=float) + site["mall_kwh"].to_numpy(dtype=float)
        index = site.index
        factor = Site().co2_kg_per_kwh if co2_kg_per_kwh is None else float(co2_kg_per_kwh)
        groups = tariff.demand_charges(index) if demand_charges else ()
        if "buy_price" in site.columns:
            buy = _array(site["buy_price"], "column 'buy_price'", "currency/kWh")
        else:
            buy = np.asarray(tariff.energy_price(index), dtype=float)
        if "sell_price" in site.columns:
            sell = _array(site["sell_price"], "column 'sell_price'", "currency/kWh")
        else:
            sell = np.full(len(index), tariff.export_pen_per_kwh if export_price is None
                           else float(export_price))
        return cls.build(pd.Series(buy, index=index), pd.Series(sell, index=index),
                         pd.Series(load, index=index),
                         pd.Series(site["pv_kwh"].to_numpy(dtype=float), index=index), battery,
                         co2_kg_per_kwh=factor, co2_price_per_kg=co2_price_per_kg,
                         charge_source=charge_source, allow_battery_export=allow_battery_export,
                         demand_charges=groups, **options)

    def replace(self, **changes: Any) -> SchedulingProblem:
        """A copy with some fields changed (e.g. ``initial_kwh``, ``terminal_value``)."""
        return replace(self, **changes)

    def tail(self, start: int, initial_kwh: float) -> SchedulingProblem:
        """Periods ``start`` .. the end from ``initial_kwh`` (a re-plan of the rest of the
        horizon from a measured state): views of this problem's arrays and cached limits, so it
        equals the problem built from the tail's inputs, unchecked again; demand-charge groups
        with no period left are dropped, as a tariff does. :class:`DataError` for a ``start``
        outside the periods or an ``initial_kwh`` outside ``[0, capacity_kwh]``."""
        if not 0 <= start < self.periods:
            raise DataError(f"tail: start {start!r} outside periods 0..{self.periods - 1}")
        groups = tuple(DemandCharge(g.mask[start:], g.price_per_kw, g.incumbent_kw, g.name)
                       for g in self.demand_charges if g.mask[start:].any())
        cap, (root, offset) = self.import_cap_kwh, self.tail_of or (self, 0)
        mine, tail = self.__dict__, object.__new__(type(self))  # no checks to run again
        tail.__dict__.update(
            {name: mine[name] for name in _FIELDS if name in mine},
            index=None if self.index is None else self.index[start:],
            initial_kwh=_initial_kwh(self.battery, initial_kwh), demand_charges=groups,
            import_cap_kwh=None if cap is None or not np.isfinite(cap[start:]).any()
            else cap[start:], tail_of=(root, offset + start),
            **{name: mine[name][start:] for name in _PER_PERIOD + _LIMITS if name in mine})
        return tail

    # -- derived quantities ----------------------------------------------------------------------
    @property
    def periods(self) -> int:
        """Number of periods."""
        return int(self.load_kwh.shape[0])

    @property
    def e_min_kwh(self) -> float:
        return float(self.battery.e_min_kwh)

    @property
    def e_max_kwh(self) -> float:
        return float(self.battery.e_max_kwh)

    @property
    def eta_charge(self) -> float:
        return float(self.battery.eta_charge)

    @property
    def eta_discharge(self) -> float:
        return float(self.battery.eta_discharge)

    @property
    def wear_cost_per_kwh(self) -> float:
        return float(self.battery.wear_cost_per_kwh)

    @cached_property
    def charge_max_kwh(self) -> np.ndarray:
        """AC charge limit per period. [kWh]"""
        return _frozen(np.full(self.periods, self.battery.power_charge_kw * self.dt_h))

    @cached_property
    def discharge_max_kwh(self) -> np.ndarray:
        """AC discharge limit per period. [kWh]"""
        return _frozen(np.full(self.periods, self.battery.power_discharge_kw * self.dt_h))

    @property
    def grid_charge(self) -> bool:
        """True where the battery may charge from the grid (``charge_source == "any"``)."""
        return self.charge_source == "any"

    def kernel_args(self, icap: np.ndarray | None = None, ipen: np.ndarray | None = None
                    ) -> tuple:
        """The arrays and scalars the compiled period model takes, in its order.

        ``icap``, ``ipen``: per-period import caps [kWh] and the penalty per kWh above them
        [currency/kWh] (``inf``: a hard cap); default none (the full-bill search sets them).
        """
        if icap is None and self.import_cap_kwh is not None:
            icap = self.import_cap_kwh
        if icap is None or ipen is None:
            none = np.full(self.periods, np.inf)
            icap = none if icap is None else icap
            ipen = none if ipen is None else ipen
        return (self.load_kwh, self.pv_kwh, self.buy, self.sell, self.export_limit_kwh,
                self.import_limit_kwh, self.inverter_limit_kwh, self.eta_charge,
                self.eta_discharge, self.charge_max_kwh, self.discharge_max_kwh,
                self.wear_cost_per_kwh, CHARGE_CODES[self.charge_source],
                self.allow_battery_export, self.allow_curtailment, icap, ipen)


_FIELDS = tuple(f.name for f in fields(SchedulingProblem))


def _demand_charges(groups: Sequence[DemandCharge | tuple], t_len: int,
                    incumbent_peaks_kw: Sequence[float] | None = None
                    ) -> tuple[DemandCharge, ...]:
    groups = [g if isinstance(g, DemandCharge) else DemandCharge(*g) for g in groups]
    if incumbent_peaks_kw is not None:
        if len(incumbent_peaks_kw) != len(groups):
            raise DataError(f"incumbent_peaks_kw: length {len(incumbent_peaks_kw)} != number of "
                            f"demand-charge groups {len(groups)}")
        groups = [replace(g, incumbent_kw=float(p0)) for g, p0 in zip(groups, incumbent_peaks_kw)]
    out = []
    for g, group in enumerate(groups):
        mask = np.array(group.mask, dtype=bool).reshape(-1)  # a copy: the problem owns it
        if mask.shape[0] != t_len:
            raise DataError(f"demand_charges[{g}]: mask length {mask.shape[0]} != periods {t_len}")
        for name, val, unit in (("price_per_kw", group.price_per_kw, "currency/kW"),
                                ("incumbent_kw", group.incumbent_kw, "kW")):
            if not (math.isfinite(val) and val >= 0):
                raise DataError(f"demand_charges[{g}].{name} = {val!r} [{unit}]: must be a "
                                "finite number >= 0")
        mask.setflags(write=False)
        out.append(DemandCharge(mask, float(group.price_per_kw), float(group.incumbent_kw),
                                group.name))
    return tuple(out)


def as_problem(problem: Any, args: tuple, options: dict) -> SchedulingProblem:
    """``problem`` itself if it is a :class:`SchedulingProblem` (then no further arguments),
    else ``SchedulingProblem.build(problem, *args, **options)`` (``problem`` is the buy price)."""
    if problem is None:  # the arrays given by keyword: buy=..., sell=..., ...
        if "buy" not in options:
            raise TypeError("give a SchedulingProblem, or buy, sell, load_kwh, pv_kwh, battery")
        problem = options.pop("buy")
    if isinstance(problem, SchedulingProblem):
        if args or options:
            raise TypeError("give a SchedulingProblem or the arrays and options, not both "
                            f"(extra: {len(args)} positional, {sorted(options)})")
        return problem
    return SchedulingProblem.build(problem, *args, **options)
