"""The one battery physics and the one site meter (numba; plain floats, most also arrays).

Every model in pvbess that moves energy through the battery calls these functions: the six-phase
rules and the other strategies (:mod:`pvbess.dispatch`), the batch runs, the DP and its plan
evaluator (:mod:`pvbess.optimize`), the scheduler's simulated plant and the reports. No other
module writes a battery or meter formula.

Battery (AC-coupled; energies per step in kWh):

- charging draws ``c`` kWh of AC and stores ``eta_c * c`` (:func:`stored_energy`); discharging
  delivers ``d`` kWh of AC and removes ``d / eta_d`` from storage (:func:`removed_energy`);
- a power limit ``P`` [kW] allows at most ``P * dt`` kWh of AC per step of ``dt`` hours;
- stored energy stays inside ``[e_min, e_max]`` exactly (:func:`apply_step` clamps
  floating-point overshoot of a few ulp; energy is never created or dropped beyond that);
- wear is charged per kWh stored (:func:`wear_cost`); equivalent full cycles count the energy
  taken out of storage per usable window (:func:`equivalent_full_cycles`).

Site meter (one period; every limit in kWh per period): :func:`clip_setpoint` turns an AC setpoint
into the charge ``c`` or discharge ``d`` the battery and the site allow, :func:`meter` turns
``(c, d)`` into grid import, export and curtailed PV, :func:`site_step` does both and the storage
update. The DP calls :func:`meter` for a given change of stored energy (:func:`ac_flows`); the
rules' schedule strategy adds its EV-before-mall split on top.

The ``@njit(cache=True)`` functions are also callable from Python (those marked "floats or
arrays" also with NumPy arrays); the site-meter functions are inlined into the kernels that call
them (``inline="always"``). numba's on-disk cache does not notice edits to a function called from
another module: after editing this module, delete every ``__pycache__/*.nbi`` and ``*.nbc`` under
``pvbess/`` so that the kernels calling these helpers are recompiled.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .timeseries import DataError

#: Feasibility tolerance of a given move (the DP's and the plan evaluator's check). [kWh]
TOL_KWH = 1e-9


# ----------------------------------------------------------------------------------------------
# battery
# ----------------------------------------------------------------------------------------------
def split_round_trip(round_trip_efficiency):
    """One-way efficiencies of a round-trip efficiency split evenly. [-]

    Parameters
    ----------
    round_trip_efficiency : float or array-like
        ``eta_c * eta_d`` in (0, 1]. [-] (not validated here)

    Returns
    -------
    tuple
        ``(eta_c, eta_d)``, both ``sqrt(round_trip_efficiency)`` (floats for a scalar, else the
        input's array type).

    Examples
    --------
    >>> split_round_trip(0.81)
    (0.9, 0.9)
    """
    if np.ndim(round_trip_efficiency) == 0:
        eta = math.sqrt(round_trip_efficiency)
    else:
        eta = np.sqrt(round_trip_efficiency)
    return eta, eta


@njit(cache=True)
def stored_energy(bess_charge_kwh, eta_charge):
    """Energy stored by an AC charge: ``eta_charge * bess_charge_kwh``. [kWh] (floats or arrays)"""
    return eta_charge * bess_charge_kwh


@njit(cache=True)
def removed_energy(bess_discharge_kwh, eta_discharge):
    """Energy taken out of storage by an AC discharge: ``bess_discharge_kwh / eta_discharge``. [kWh]"""
    return bess_discharge_kwh / eta_discharge


@njit(cache=True)
def energy_change(bess_charge_kwh, bess_discharge_kwh, eta_charge, eta_discharge):
    """Change of stored energy, ``eta_c * c - d / eta_d``. [kWh] (floats or arrays)

    Examples
    --------
    >>> energy_change(100.0, 0.0, 0.9, 0.8)
    90.0
    """
    return stored_energy(bess_charge_kwh, eta_charge) - removed_energy(bess_discharge_kwh, eta_discharge)


@njit(cache=True)
def ac_flows(delta_kwh, eta_charge, eta_discharge):
    """AC charge and discharge of a change of stored energy (the inverse of
    :func:`energy_change`). [kWh]

    Returns ``(delta / eta_c, 0)`` for ``delta >= 0``, else ``(0, -delta * eta_d)``.
    """
    if delta_kwh >= 0.0:
        return delta_kwh / eta_charge, 0.0
    return 0.0, -delta_kwh * eta_discharge


@njit(cache=True)
def deliverable(e_kwh, e_min_kwh, eta_discharge):
    """AC energy the stored energy above ``e_min_kwh`` can deliver, ``(e - e_min) * eta_d``.
    [kWh]"""
    return (e_kwh - e_min_kwh) * eta_discharge


@njit(cache=True)
def charge_limit(e_kwh: float, e_max_kwh: float, eta_charge: float, power_kw: float,
                 dt_h: float) -> float:
    """Most AC energy the battery can absorb in one step. [kWh]

    Parameters
    ----------
    e_kwh : float
        Stored energy at the start of the step. [kWh]
    e_max_kwh : float
        Highest allowed stored energy. [kWh]
    eta_charge : float
        Charging efficiency in (0, 1]. [-]
    power_kw : float
        Maximum AC charging power. [kW]
    dt_h : float
        Step length. [h]

    Returns
    -------
    float
        ``max(0, min(power_kw * dt_h, (e_max_kwh - e_kwh) / eta_charge))``. [kWh AC]

    Examples
    --------
    >>> charge_limit(1900.0, 2000.0, 0.5, 400.0, 1.0)
    200.0
    """
    room = (e_max_kwh - e_kwh) / eta_charge
    lim = power_kw * dt_h
    if room < lim:
        lim = room
    if lim < 0.0:
        lim = 0.0
    return lim


@njit(cache=True)
def discharge_limit(e_kwh: float, e_min_kwh: float, eta_discharge: float, power_kw: float,
                    dt_h: float) -> float:
    """Most AC energy the battery can deliver in one step. [kWh]

    ``max(0, min(power_kw * dt_h, deliverable(e_kwh, e_min_kwh, eta_discharge)))``; parameters
    as :func:`charge_limit` (``e_min_kwh``: lowest allowed stored energy [kWh]).

    Examples
    --------
    >>> discharge_limit(500.0, 400.0, 0.5, 400.0, 0.25)
    50.0
    """
    avail = deliverable(e_kwh, e_min_kwh, eta_discharge)
    lim = power_kw * dt_h
    if avail < lim:
        lim = avail
    if lim < 0.0:
        lim = 0.0
    return lim


@njit(cache=True)
def move_range(e_kwh, e_min_kwh, e_max_kwh, up_kwh, down_kwh):
    """Range ``(lo, hi)`` of the change of stored energy from ``e_kwh``. [kWh]

    ``up_kwh`` and ``down_kwh`` are the most energy the power limits let the battery store and
    remove in the period (:func:`stored_energy` of ``P_charge * dt``, :func:`removed_energy` of
    ``P_discharge * dt``); ``hi = max(min(e_max - e, up), 0)``, ``lo = min(-min(e - e_min,
    down), 0)``.
    """
    hi = min(e_max_kwh - e_kwh, up_kwh)
    hi = max(hi, 0.0)
    lo = -(min(e_kwh - e_min_kwh, down_kwh))
    lo = min(lo, 0.0)
    return lo, hi


@njit(cache=True)
def clamp_energy(e_kwh, e_min_kwh, e_max_kwh):
    """``e_kwh`` clamped to ``[e_min_kwh, e_max_kwh]``. [kWh]"""
    if e_kwh < e_min_kwh:
        return e_min_kwh
    if e_kwh > e_max_kwh:
        return e_max_kwh
    return e_kwh


@njit(cache=True)
def apply_step(e_kwh: float, bess_charge_kwh: float, bess_discharge_kwh: float, eta_charge: float,
               eta_discharge: float, e_min_kwh: float, e_max_kwh: float) -> float:
    """Stored energy at the end of a step. [kWh]

    ``e + eta_charge * bess_charge_kwh - bess_discharge_kwh / eta_discharge``, clamped to
    ``[e_min_kwh, e_max_kwh]``. Callers keep ``bess_charge_kwh`` and ``bess_discharge_kwh`` within
    :func:`charge_limit` and :func:`discharge_limit`, so the clamp only removes floating-point
    overshoot (a few ulp); it never hides a real violation of the window.

    Parameters
    ----------
    e_kwh : float
        Stored energy at the start of the step. [kWh]
    bess_charge_kwh, bess_discharge_kwh : float
        AC energy drawn into / delivered by the battery in the step (one of them is 0). [kWh]
    eta_charge, eta_discharge : float
        One-way efficiencies. [-]
    e_min_kwh, e_max_kwh : float
        The storage window. [kWh]

    Returns
    -------
    float
        Stored energy at the end of the step. [kWh]

    Examples
    --------
    >>> apply_step(1000.0, 100.0, 0.0, 0.9, 0.9, 400.0, 2000.0)
    1090.0
    """
    e = (e_kwh + stored_energy(bess_charge_kwh, eta_charge)
         - removed_energy(bess_discharge_kwh, eta_discharge))
    return clamp_energy(e, e_min_kwh, e_max_kwh)


@njit(cache=True)
def trajectory(e0_kwh, delta_kwh, e_lo_kwh, e_hi_kwh):
    """Stored energy over a run of changes, each end clamped to ``[e_lo, e_hi]``. [kWh]

    ``e[0] = e0``, ``e[k+1] = clamp(e[k] + delta[k])``; length ``len(delta) + 1``.
    """
    e = np.empty(delta_kwh.shape[0] + 1)
    e[0] = e0_kwh
    for k in range(delta_kwh.shape[0]):
        e[k + 1] = clamp_energy(e[k] + delta_kwh[k], e_lo_kwh, e_hi_kwh)
    return e


@njit(cache=True)
def step_loss(bess_charge_kwh, bess_discharge_kwh, eta_charge, eta_discharge):
    """Conversion loss of a step. [kWh] (floats or arrays)

    ``(1 - eta_charge) * bess_charge_kwh + bess_discharge_kwh * (1 / eta_discharge - 1)``: the AC energy
    drawn minus the energy stored, plus the energy removed from storage minus the AC delivered.

    Examples
    --------
    >>> round(step_loss(100.0, 0.0, 0.9, 0.9), 12)
    10.0
    """
    return (1.0 - eta_charge) * bess_charge_kwh + bess_discharge_kwh * (1.0 / eta_discharge - 1.0)


@njit(cache=True)
def wear_cost(stored_kwh, wear_cost_per_kwh):
    """Battery wear: ``wear_cost_per_kwh * stored_kwh`` (per kWh stored, :func:`stored_energy`).
    [currency] (floats or arrays)"""
    return wear_cost_per_kwh * stored_kwh


@njit(cache=True)
def equivalent_full_cycles(bess_discharge_kwh, eta_discharge, usable_kwh):
    """Equivalent full cycles: energy taken out of storage per usable window,
    ``(discharge / eta_d) / usable``. [-] (floats or arrays; ``usable_kwh > 0``)

    Examples
    --------
    >>> equivalent_full_cycles(800.0, 0.8, 500.0)
    2.0
    """
    return removed_energy(bess_discharge_kwh, eta_discharge) / usable_kwh


# ----------------------------------------------------------------------------------------------
# site meter
# ----------------------------------------------------------------------------------------------
#: Charge-source codes of the kernels (``grid_charge`` arguments; a bool keeps its old meaning:
#: False is "surplus", True is "any"): see :data:`pvbess.CHARGE_SOURCES`.
CHARGE_SURPLUS = 0  # at most the PV in excess of the load
CHARGE_ANY = 1  # the grid too
CHARGE_PV = 2  # at most the period's PV production (the six-phase rules' source)
CHARGE_CODES = {"surplus": CHARGE_SURPLUS, "any": CHARGE_ANY, "pv": CHARGE_PV}

#: Where the battery may take its charge from (one meaning for every strategy):
#: ``"any"`` the grid too; ``"pv"`` at most the PV production of the period (what the six-phase
#: rules do: they charge from PV before the load is served); ``"surplus"`` at most the PV in
#: excess of the load.
CHARGE_SOURCES = ("any", "pv", "surplus")


def resolve_charge_source(charge_source: str | None, allow_grid_charge: bool | None) -> str:
    """``charge_source`` checked, or derived from the older ``allow_grid_charge`` flag."""
    if charge_source is None:
        return "any" if allow_grid_charge is None or allow_grid_charge else "surplus"
    if charge_source not in CHARGE_SOURCES:
        raise DataError(f"charge_source = {charge_source!r}: must be one of {CHARGE_SOURCES}")
    implied = None if allow_grid_charge is None else ("any" if allow_grid_charge else "surplus")
    if implied is not None and implied != charge_source:
        raise DataError(f"allow_grid_charge = {allow_grid_charge!r} contradicts "
                        f"charge_source = {charge_source!r}")
    return charge_source



@njit(cache=True, inline="always")
def source_bound(pv_kwh, surplus_kwh, grid_charge):
    """Most AC charge the charging source allows: the surplus, the PV, or no bound. [kWh]"""
    if grid_charge == CHARGE_SURPLUS:
        return surplus_kwh
    if grid_charge == CHARGE_PV:
        return pv_kwh
    return np.inf


@njit(cache=True)
def surplus_deficit(load_kwh, pv_kwh):
    """``(max(pv - load, 0), max(load - pv, 0))``: PV left after the load, load left after PV."""
    return max(pv_kwh - load_kwh, 0.0), max(load_kwh - pv_kwh, 0.0)


@njit(cache=True, inline="always")
def import_cap(load_kwh, pv_kwh, import_limit_kwh, inverter_kwh):
    """Largest grid import of a period: the import limit, or the import with the battery idle
    if that is higher (the load is always served; the limit binds the battery only). [kWh]

    ``max(import_limit, load - min(pv, inverter))``.
    """
    return max(import_limit_kwh, load_kwh - min(pv_kwh, inverter_kwh))


@njit(cache=True)
def import_caps(load_kwh, pv_kwh, import_limit_kwh, inverter_kwh):
    """:func:`import_cap` of every period (arrays of equal length). [kWh]"""
    out = np.empty(load_kwh.shape[0])
    for k in range(out.shape[0]):
        out[k] = import_cap(load_kwh[k], pv_kwh[k], import_limit_kwh[k], inverter_kwh[k])
    return out


@njit(cache=True, inline="always")
def charge_bound(load_kwh, pv_kwh, surplus_kwh, grid_charge, import_limit_kwh, inverter_kwh):
    """Most AC charge the site allows in a period (the battery's own limits aside). [kWh]

    ``min(pv + inverter, import_cap - idle_import + overflow)`` with ``idle_import = load -
    min(pv, inverter)`` and the PV ``overflow = pv - min(pv, inverter)`` the inverter cannot take
    (charging absorbs it without importing); and the PV surplus when grid charging is not
    allowed (:func:`source_bound`: the PV surplus, or the PV for charge source "pv"). Never
    negative; exactly 0 when the load alone reaches the import limit.
    """
    b = np.inf
    if import_limit_kwh < np.inf or inverter_kwh < np.inf:  # (both inf: no bound)
        pv_ac = min(pv_kwh, inverter_kwh)
        headroom = (import_cap(load_kwh, pv_kwh, import_limit_kwh, inverter_kwh)
                    - (load_kwh - pv_ac))
        b = min(pv_kwh + inverter_kwh, headroom + (pv_kwh - pv_ac))
    return min(b, source_bound(pv_kwh, surplus_kwh, grid_charge))


@njit(cache=True, inline="always")
def discharge_bound(load_kwh, deficit_kwh, battery_export, export_limit_kwh, inverter_kwh):
    """Most AC discharge the site allows in a period (the battery's own limits aside). [kWh]

    ``min(inverter, load + export_limit)``, and the load deficit when battery export is not
    allowed. PV, not the battery, makes room under the export and inverter limits. Never
    negative.
    """
    b = min(inverter_kwh, load_kwh + export_limit_kwh)
    if not battery_export:
        b = min(b, deficit_kwh)
    return b


@njit(cache=True)
def within_limits(c, d, pv_kwh, surplus_kwh, deficit_kwh, charge_max_kwh, discharge_max_kwh,
                  grid_charge, battery_export):
    """True if a given charge ``c`` or discharge ``d`` [kWh AC] keeps the power limits and the
    charging-source and battery-export options (to :data:`TOL_KWH`; the site's meter limits are
    checked by :func:`meter`)."""
    if (c > charge_max_kwh * (1.0 + 1e-12) + TOL_KWH
            or d > discharge_max_kwh * (1.0 + 1e-12) + TOL_KWH):
        return False
    if c > source_bound(pv_kwh, surplus_kwh, grid_charge) + TOL_KWH:
        return False
    if (not battery_export) and d > deficit_kwh + TOL_KWH:
        return False
    return True


@njit(cache=True, inline="always")
def clip_setpoint(sp, e, load, pv, surplus, deficit, e_min, e_max, eta_c, eta_d, charge_max,
                  discharge_max, grid_charge, battery_export, export_limit, import_limit,
                  inverter):
    """The AC charge and discharge a setpoint gets: clipped by the battery and the site. [kWh]

    Parameters
    ----------
    sp : float
        AC setpoint, + charge / - discharge. [kWh]
    e : float
        Stored energy at the start of the period. [kWh]
    load, pv : float
        Site load and PV production of the period. [kWh]
    surplus, deficit : float
        PV left after the load and load left after PV, as the caller's site split computes them
        (:func:`surplus_deficit`, or the rules' EV-before-mall split). [kWh]
    e_min, e_max : float
        Storage window. [kWh]
    eta_c, eta_d : float
        One-way efficiencies. [-]
    charge_max, discharge_max : float
        AC power limits times the period length. [kWh]
    grid_charge : int or bool
        Charging source code (:data:`CHARGE_CODES`; True/False: "any"/"surplus").
    battery_export : bool
        Discharging into the grid allowed (else only into the load deficit).
    export_limit, import_limit, inverter : float
        Grid export and import limits and the hybrid-inverter AC limit (``inf``: none). [kWh]

    Returns
    -------
    tuple
        ``(c, d)``: one of them 0. [kWh AC]

    Notes
    -----
    ``c = min(sp, charge_limit, charge_bound)`` for ``sp > 0``,
    ``d = min(-sp, discharge_limit, discharge_bound)`` for ``sp < 0``
    (:func:`charge_limit`, :func:`discharge_limit`, :func:`charge_bound`,
    :func:`discharge_bound`). A clipped setpoint is always feasible for :func:`meter`.
    """
    c = 0.0
    d = 0.0
    if sp > 0.0:
        c = charge_limit(e, e_max, eta_c, charge_max, 1.0)
        c = min(c, sp)
        c = min(c, charge_bound(load, pv, surplus, grid_charge, import_limit, inverter))
    elif sp < 0.0:
        d = discharge_limit(e, e_min, eta_d, discharge_max, 1.0)
        d = min(d, -sp)
        d = min(d, discharge_bound(load, deficit, battery_export, export_limit, inverter))
    return c, d


@njit(cache=True, inline="always")
def meter_cost(net, buy, sell, icap, ipen):
    """Cost of a meter reading ``net`` (import > 0, export < 0), each kWh imported above the
    cap ``icap`` charged ``ipen`` more (a soft cap; a hard one, ``ipen = inf``, is enforced by
    :func:`meter`). [currency]"""
    if net <= 0.0:
        return sell * net
    cost = buy * net
    if net > icap and ipen < np.inf:
        cost += ipen * (net - icap)
    return cost


@njit(cache=True, inline="always")
def meter(c, d, load, pv, buy, sell, export_limit, import_limit, inverter, curtail,
          grid_charge, icap=np.inf, ipen=np.inf):
    """Grid import, export and curtailed PV of a period with AC charge ``c`` or discharge ``d``.

    Parameters
    ----------
    c, d : float
        AC charge and discharge of the battery (one of them 0). [kWh]
    load, pv : float
        Site load and PV production. [kWh]
    buy, sell : float
        Import and export prices (used only to decide curtailment). [currency/kWh]
    export_limit, import_limit, inverter : float
        Grid export and import limits, hybrid-inverter AC limit (``inf``: none). [kWh]
    curtail : bool
        Curtail PV wherever that is cheaper (negative prices); else only where forced.
    grid_charge : int or bool
        Charging-source code (:data:`CHARGE_CODES`): unless the grid may charge
        (:data:`CHARGE_ANY`), curtailment never makes a charge draw on the grid.
    icap, ipen : float
        An import cap [kWh] (a demand-charge cap of the full-bill search) and the penalty per
        kWh above it [currency/kWh]: ``ipen = inf`` makes it hard (the battery must keep the
        import under it, unlike ``import_limit``), a finite one soft (priced by
        :func:`meter_cost`).

    Returns
    -------
    tuple
        ``(imp, exp, u, ok)``: grid import, grid export, curtailed PV [kWh] and False if
        ``(c, d)`` breaks the inverter limit, needs more curtailment than the PV, or imports
        above :func:`import_cap` (to :data:`TOL_KWH`; then the flows are not meaningful).

    Notes
    -----
    With ``net0 = load + c - pv - d`` (the meter before curtailment):

    - forced curtailment: the inverter overflow ``max(pv - c + d - inverter, 0)`` (PV and battery
      on the inverter's DC side, ``|pv_used - c + d| <= inverter``), plus whatever export is then
      still above the export limit: ``u_min``; the battery's AC output is never curtailed;
    - curtailment by choice (``curtail``): ``u`` in ``[u_min, pv]`` minimising the cost of the
      meter ``buy * max(net, 0) + sell * min(net, 0)`` with ``net = net0 + u`` kept at or below
      :func:`import_cap`, at or below ``load + inverter`` (the inverter carries at most its limit
      from the AC side to the battery) and, without grid charging, at or below ``load`` (the PV
      still covers the charge: ``u <= pv - c``). The candidates are ``u_min``, the largest
      such ``u`` and the ``u`` that brings ``net`` to 0, in this order; a later one is taken
      only if it is cheaper by more than 1e-15;
    - ``imp = max(net, 0)``, ``exp = max(-net, 0)``; energy closes:
      ``pv + imp + d = load + c + exp + u``.
    """
    if c - pv - d > inverter + TOL_KWH:
        return 0.0, 0.0, 0.0, False
    net0 = load + c - pv - d
    umin = pv - c + d - inverter
    umin = max(umin, 0.0)
    e_raw = -(net0 + umin)
    if e_raw > export_limit:
        umin += e_raw - export_limit
    if umin > pv + TOL_KWH:
        return 0.0, 0.0, 0.0, False
    umin = min(umin, pv)
    u = umin
    imax = import_cap(load, pv, import_limit, inverter)
    if ipen == np.inf:
        imax = min(imax, icap)
    if curtail and pv > umin:
        # choose u in [umin, pv] minimising the meter cost (piecewise linear in net)
        n_lo = net0 + umin
        n_hi = net0 + pv
        n_hi = min(n_hi, imax)
        n_hi = min(n_hi, load + inverter)
        if grid_charge != CHARGE_ANY:
            n_hi = min(n_hi, load)
        if n_hi > n_lo:
            best_n = n_lo
            best = meter_cost(n_lo, buy, sell, icap, ipen)
            g = meter_cost(n_hi, buy, sell, icap, ipen)
            if g < best - 1e-15:
                best = g
                best_n = n_hi
            if n_lo < 0.0 < n_hi and 0.0 < best - 1e-15:
                best = 0.0
                best_n = 0.0
            if ipen < np.inf and n_lo < icap < n_hi:  # the soft cap's kink
                g = meter_cost(icap, buy, sell, icap, ipen)
                if g < best - 1e-15:
                    best = g
                    best_n = icap
            u = best_n - net0
    net = net0 + u
    imp = max(0.0, net)
    exp = -net if net < 0.0 else 0.0
    return imp, exp, u, imp <= imax + TOL_KWH


@njit(cache=True)
def site_step(sp, e, load, pv, buy, sell, e_min, e_max, eta_c, eta_d, charge_max, discharge_max,
              grid_charge, battery_export, export_limit, import_limit, inverter, curtail):
    """One period of the plant: clip the setpoint, meter the site, update the storage.

    Parameters are those of :func:`clip_setpoint` and :func:`meter` (all energies in kWh per
    period; the surplus and deficit are :func:`surplus_deficit` of ``load`` and ``pv``).

    Returns
    -------
    tuple
        ``(c, d, imp, exp, u, e_end)``: AC charge, AC discharge, grid import, grid export,
        curtailed PV and the stored energy at the end (:func:`apply_step`). [kWh]

    Examples
    --------
    >>> inf = float("inf")
    >>> site_step(-50.0, 50.0, 10.0, 50.0, 0.3, 0.1, 10.0, 90.0, 0.9, 0.8, 20.0, 30.0,
    ...           True, True, 25.0, inf, inf, True)
    (0.0, 30.0, 0.0, 25.0, 45.0, 12.5)
    """
    surplus, deficit = surplus_deficit(load, pv)
    c, d = clip_setpoint(sp, e, load, pv, surplus, deficit, e_min, e_max, eta_c, eta_d,
                         charge_max, discharge_max, grid_charge, battery_export, export_limit,
                         import_limit, inverter)
    imp, exp, u, _ = meter(c, d, load, pv, buy, sell, export_limit, import_limit, inverter,
                           curtail, grid_charge)
    return c, d, imp, exp, u, apply_step(e, c, d, eta_c, eta_d, e_min, e_max)
