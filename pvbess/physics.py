"""The one battery physics: per-step energy limits and the storage update (numba, plain floats).

Every model in pvbess that moves energy through the battery (the six-phase rules and the other
strategies in :mod:`pvbess.dispatch`, the optimizer's plant check, the event-sourced scheduler's
simulated controller) calls these helpers, so they all agree to the last bit.

Conventions (AC-coupled battery, energies per step in kWh):

- charging draws ``c`` kWh of AC and stores ``c * eta_c``;
- discharging delivers ``d`` kWh of AC and removes ``d / eta_d`` from storage;
- a power limit ``P`` [kW] allows at most ``P * dt`` kWh of AC per step of ``dt`` hours;
- stored energy stays inside ``[e_min, e_max]`` exactly (floating-point overshoot of a few ulp is
  clamped; energy is never created or dropped beyond that rounding).

The functions are numba ``@njit(cache=True)``; they are also callable from plain Python.
numba's on-disk cache does not notice edits to a function called from another module: after
editing this module, delete ``pvbess/__pycache__/*.nbi`` and ``*.nbc`` so the kernels that call
these helpers (:mod:`pvbess.dispatch`, :mod:`pvbess.batch`, the scheduler) are recompiled.
"""

from __future__ import annotations

from numba import njit


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

    Parameters
    ----------
    e_kwh : float
        Stored energy at the start of the step. [kWh]
    e_min_kwh : float
        Lowest allowed stored energy. [kWh]
    eta_discharge : float
        Discharging efficiency in (0, 1]. [-]
    power_kw : float
        Maximum AC discharging power. [kW]
    dt_h : float
        Step length. [h]

    Returns
    -------
    float
        ``max(0, min(power_kw * dt_h, (e_kwh - e_min_kwh) * eta_discharge))``. [kWh AC]

    Examples
    --------
    >>> discharge_limit(500.0, 400.0, 0.5, 400.0, 0.25)
    50.0
    """
    avail = (e_kwh - e_min_kwh) * eta_discharge
    lim = power_kw * dt_h
    if avail < lim:
        lim = avail
    if lim < 0.0:
        lim = 0.0
    return lim


@njit(cache=True)
def apply_step(e_kwh: float, charge_kwh: float, discharge_kwh: float, eta_charge: float,
               eta_discharge: float, e_min_kwh: float, e_max_kwh: float) -> float:
    """Stored energy at the end of a step. [kWh]

    ``e + eta_charge * charge_kwh - discharge_kwh / eta_discharge``, clamped to
    ``[e_min_kwh, e_max_kwh]``. Callers keep ``charge_kwh`` and ``discharge_kwh`` within
    :func:`charge_limit` and :func:`discharge_limit`, so the clamp only removes floating-point
    overshoot (a few ulp); it never hides a real violation of the window.

    Parameters
    ----------
    e_kwh : float
        Stored energy at the start of the step. [kWh]
    charge_kwh, discharge_kwh : float
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
    e = e_kwh + eta_charge * charge_kwh - discharge_kwh / eta_discharge
    if e < e_min_kwh:
        e = e_min_kwh
    elif e > e_max_kwh:
        e = e_max_kwh
    return e


@njit(cache=True)
def step_loss(charge_kwh: float, discharge_kwh: float, eta_charge: float,
              eta_discharge: float) -> float:
    """Conversion loss of a step. [kWh]

    ``(1 - eta_charge) * charge_kwh + discharge_kwh * (1 / eta_discharge - 1)``: the AC energy
    drawn minus the energy stored, plus the energy removed from storage minus the AC delivered.

    Examples
    --------
    >>> round(step_loss(100.0, 0.0, 0.9, 0.9), 12)
    10.0
    """
    return (1.0 - eta_charge) * charge_kwh + discharge_kwh * (1.0 / eta_discharge - 1.0)
