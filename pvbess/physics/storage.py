"""Battery math (numba; plain floats, most also arrays): storage update, limits, losses, wear,
cycles and the round-trip split.

AC-coupled; energies per step in kWh:

- charging draws ``c`` kWh of AC and stores ``eta_c * c`` (:func:`stored_energy`); discharging
  delivers ``d`` kWh of AC and removes ``d / eta_d`` from storage (:func:`removed_energy`);
- a power limit ``P`` [kW] allows at most ``P * dt`` kWh of AC per step of ``dt`` hours;
- stored energy stays inside ``[e_min, e_max]`` exactly (:func:`apply_step` clamps
  floating-point overshoot of a few ulp; energy is never created or dropped beyond that);
- wear is charged per kWh stored (:func:`wear_cost`); equivalent full cycles count the energy
  taken out of storage per usable window (:func:`equivalent_full_cycles`).

The per-step functions are compiled with numba's ``numpy`` error model: a zero efficiency (which
the specs reject) gives inf, not ZeroDivisionError. Without an exception path the batch kernel's
lanes (:mod:`pvbess.batch_kernel`) run as SIMD code whichever kernel compiled them first.

Part of :mod:`pvbess.physics` (import the names from there).
"""


from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Feasibility tolerance of a given move (the DP's and the plan evaluator's check). [kWh]
TOL_KWH = 1e-9


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


@njit(cache=True, error_model="numpy")
def stored_energy(bess_charge_kwh, eta_charge):
    """Energy stored by an AC charge: ``eta_charge * bess_charge_kwh``. [kWh] (floats or arrays)"""
    return eta_charge * bess_charge_kwh


@njit(cache=True, error_model="numpy")
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


@njit(cache=True, error_model="numpy")
def deliverable(e_kwh, e_min_kwh, eta_discharge):
    """AC energy the stored energy above ``e_min_kwh`` can deliver, ``(e - e_min) * eta_d``.
    [kWh]"""
    return (e_kwh - e_min_kwh) * eta_discharge


@njit(cache=True, error_model="numpy")
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


@njit(cache=True, error_model="numpy")
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


@njit(cache=True, error_model="numpy")
def clamp_energy(e_kwh, e_min_kwh, e_max_kwh):
    """``e_kwh`` clamped to ``[e_min_kwh, e_max_kwh]``. [kWh]"""
    if e_kwh < e_min_kwh:
        return e_min_kwh
    if e_kwh > e_max_kwh:
        return e_max_kwh
    return e_kwh


@njit(cache=True, error_model="numpy")
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


@njit(cache=True, error_model="numpy")
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
