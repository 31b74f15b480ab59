"""Strategy kernels: the six-phase rules and the comparison strategies, per step, in numba.

Everything here works on NumPy arrays and plain floats; :func:`pvbess.simulate` is the pandas
wrapper. The battery physics comes from :mod:`pvbess.physics` (one implementation for every model).

Strategies (integer codes, see ``STRATEGY_CODES``):

``six_phase`` (0)
    The Iquitos rules, exactly as ../shared/specs/six_phase_dispatch.md states them. Choices the
    spec leaves open (documented in :func:`_six_phase_step`): the closure takes PV back from a
    charge that happens in the same step before it discharges (as peak shaving does), and phase 4
    counts PV taken back by peak shaving as energy that peak shaving delivered.
``grid_only`` (1)
    No PV, no battery: the grid serves everything; the PV input is reported as curtailed so that the
    PV identity still holds. The battery is idle at its initial energy.
``pv_only`` (2)
    PV -> EV -> mall -> export (capped, rest curtailed); the battery is idle at its initial energy.
``self_consumption`` (3)
    PV -> EV -> mall; a PV surplus charges the battery, a deficit discharges it into EV then mall.
``schedule`` (4)
    Follow a per-step AC setpoint (+ charge, - discharge) clipped by the physics; the one site
    meter of :mod:`pvbess.physics` with the EV-before-mall split on top, see
    :func:`_schedule_step`.

All strategies share one output schema (the ``O_*`` rows of the output array) and obey
``grid_import = grid_to_ev + grid_to_mall + grid_to_bess``,
``bess_charge = pv_to_bess + grid_to_bess``,
``bess_discharge = bess_to_ev + bess_to_mall + bess_export``.

Note: numba's on-disk cache does not notice edits to functions called from another module; after
editing :mod:`pvbess.physics` or this module, delete ``pvbess/__pycache__/*.nb*``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .physics import (
    CHARGE_CODES,
    CHARGE_PV,
    apply_step,
    charge_limit,
    clip_setpoint,
    deliverable,
    discharge_limit,
    meter,
)

# -- strategy codes --------------------------------------------------------------------------
SIX_PHASE = 0
GRID_ONLY = 1
PV_ONLY = 2
SELF_CONSUMPTION = 3
SCHEDULE = 4
STRATEGY_CODES = {"six_phase": SIX_PHASE, "grid_only": GRID_ONLY, "pv_only": PV_ONLY,
                  "self_consumption": SELF_CONSUMPTION, "schedule": SCHEDULE}

# -- parameter vector layout (one float64 array per run) -------------------------------------
P_CAP = 0  # capacity [kWh]
P_PC = 1  # charge power [kW]
P_PD = 2  # discharge power [kW]
P_ETAC = 3  # charge efficiency [-]
P_ETAD = 4  # discharge efficiency [-]
P_EMIN = 5  # [kWh]
P_EMAX = 6  # [kWh]
P_E0 = 7  # initial stored energy [kWh]
P_CHARGE_START = 8  # [h]
P_EV_START = 9  # [h]
P_PEAK_START = 10  # [h]
P_CLOSURE_START = 11  # [h]
P_CLOSE = 12  # [h]
P_HOLD = 13  # hold SOC [-]
P_THR_KW = 14  # peak threshold [kW]
P_EXPORT_KW = 15  # export limit [kW] (inf = none)
P_PV_SCALE = 16  # PV multiplier [-]
P_ALLOW_GRID = 17  # schedule: charge-source code (physics.CHARGE_CODES: 0 surplus, 1 any, 2 pv)
P_ALLOW_EXPORT = 18  # schedule: 1.0 allows battery export
P_IMPORT_KW = 19  # schedule: grid import limit [kW] (inf = none; binds the battery only)
P_INVERTER_KW = 20  # schedule: hybrid-inverter AC limit [kW] (inf = none)
N_PARAMS = 21

# -- output rows (one float64 row per quantity, one column per step) ------------------------
O_PV_EV = 0
O_PV_BESS = 1
O_PV_MALL = 2
O_PV_EXPORT = 3
O_PV_CURT = 4
O_BESS_EV = 5
O_BESS_MALL = 6
O_BESS_EXPORT = 7
O_GRID_EV = 8
O_GRID_MALL = 9
O_GRID_BESS = 10
O_SOC = 11  # stored energy at the END of the step [kWh]
O_PHASE = 12
N_OUT = 13


def make_params(battery, rules, *, pv_scale=1.0, charge_source: str = "surplus",
                allow_battery_export: bool = False, import_limit_kw: float = np.inf,
                inverter_ac_limit_kw: float = np.inf) -> np.ndarray:
    """The parameter vector of a run from a Battery and SixPhaseRules. [mixed units, see P_*]

    ``import_limit_kw`` and ``inverter_ac_limit_kw`` (default: none) apply to the ``schedule``
    and ``self_consumption`` strategies, as in :func:`pvbess.physics.meter`. Fields (and
    ``pv_scale``) may also be arrays of one value per run (:func:`pvbess.batch.config_params`):
    the result is then the matrix of one parameter row per run.
    """
    values = {
        P_CAP: battery.capacity_kwh, P_PC: battery.power_charge_kw,
        P_PD: battery.power_discharge_kw, P_ETAC: battery.eta_charge,
        P_ETAD: battery.eta_discharge, P_EMIN: battery.e_min_kwh, P_EMAX: battery.e_max_kwh,
        P_E0: battery.e_initial_kwh, P_CHARGE_START: rules.charge_start_h,
        P_EV_START: rules.ev_start_h, P_PEAK_START: rules.peak_start_h,
        P_CLOSURE_START: rules.closure_start_h, P_CLOSE: rules.close_h, P_HOLD: rules.hold_soc,
        P_THR_KW: rules.peak_threshold_kw, P_EXPORT_KW: rules.export_limit_kw,
        P_PV_SCALE: pv_scale, P_ALLOW_GRID: float(CHARGE_CODES[charge_source]),
        P_ALLOW_EXPORT: 1.0 if allow_battery_export else 0.0, P_IMPORT_KW: import_limit_kw,
        P_INVERTER_KW: inverter_ac_limit_kw,
    }
    shape = np.broadcast_shapes(*(np.shape(v) for v in values.values()))
    p = np.zeros((*shape, N_PARAMS))
    for column, value in values.items():
        p[..., column] = value
    return p


@njit(cache=True, inline="always")
def _pos(x):
    """Clamp floating-point dust below zero to 0."""
    return x if x > 0.0 else 0.0


@njit(cache=True, inline="always")
def _six_phase_step(pv, ev, mall, t, e, dt, p):
    """One step of the six-phase rules.

    Parameters
    ----------
    pv, ev, mall : float
        Energies of the step. [kWh]
    t : float
        Local clock time of the step start. [h]
    e : float
        Stored energy at the start of the step. [kWh]
    dt : float
        Step length. [h]
    p : ndarray
        Parameter vector (``P_*`` layout).

    Returns
    -------
    tuple
        (pv_to_ev, pv_to_bess, pv_to_mall, pv_export, pv_curtailed, bess_to_ev, bess_to_mall,
        e_next, phase); energies in kWh AC per step.

    Notes
    -----
    Night (t >= close_h or t < charge_start_h), phase 6: idle; PV -> EV -> mall -> export.
    Morning (charge_start_h <= t < ev_start_h), phase 1: PV -> battery (``charge_limit``) -> EV ->
    mall -> export; no discharge.
    Day (ev_start_h <= t < close_h): SOC = e / capacity at the step start. SOC < hold_soc (phase 2):
    PV -> EV -> battery -> mall; else (phase 3) PV -> EV -> mall. Then one discharge budget
    ``D = discharge_limit(e)`` is shared in this order:

    1. phase 5: the EV demand PV left is served by the battery, ``d5 = min(ev - pv_to_ev, D)``;
    2. phase 4 (t >= peak_start_h): with ``g`` the mall's remaining grid draw and
       ``thr = peak_threshold_kw * dt``, the excess ``g - thr`` is first met by taking PV back from
       this step's charge to the mall (no losses), then by discharging ``d4 <= D``;
    3. closure (t >= closure_start_h): target ``T = (e - e_min) * eta_d * dt / (close_h - t)``;
       ``R = T - d5 - d4``. If ``R > 0``: PV charged in this step is first taken back to the mall's
       remaining draw (a step never charges and discharges; taking back does not move stored energy,
       so it does not count toward ``T``); if the charge is fully taken back, the battery delivers
       ``min(R, D, g)`` to the mall.

    The phase label is 5 if the battery delivered to the EVs or for the closure, else 4 if peak
    shaving moved energy (PV taken back from the charge or battery delivery), else 2/3 (1/6
    outside the day window). PV taken back by the closure alone leaves the label at 2.
    Surplus PV is exported up to ``export_limit_kw * dt`` and the rest curtailed.
    """
    emin = p[P_EMIN]
    etad = p[P_ETAD]
    close_h = p[P_CLOSE]
    pv_ev = pv if pv < ev else ev
    rest = pv - pv_ev
    c = 0.0
    pv_mall = 0.0
    d_ev = 0.0
    d_mall = 0.0
    if t >= close_h or t < p[P_CHARGE_START]:
        phase = 6
        pv_mall = rest if rest < mall else mall
        rest = rest - pv_mall
    elif t < p[P_EV_START]:
        phase = 1
        c = charge_limit(e, p[P_EMAX], p[P_ETAC], p[P_PC], dt)
        if pv < c:
            c = pv
        rest = pv - c
        pv_ev = rest if rest < ev else ev
        rest = rest - pv_ev
        pv_mall = rest if rest < mall else mall
        rest = rest - pv_mall
    else:
        cap = p[P_CAP]
        soc = e / cap if cap > 0.0 else 0.0
        if soc < p[P_HOLD]:
            phase = 2
            c = charge_limit(e, p[P_EMAX], p[P_ETAC], p[P_PC], dt)
            if rest < c:
                c = rest
            rest = rest - c
        else:
            phase = 3
        pv_mall = rest if rest < mall else mall
        rest = rest - pv_mall
        budget = discharge_limit(e, emin, etad, p[P_PD], dt)
        # phase 5: EV deficit first
        ev_def = _pos(ev - pv_ev)
        d_ev = ev_def if ev_def < budget else budget
        budget = _pos(budget - d_ev)
        g = _pos(mall - pv_mall)
        moved4 = 0.0
        d4 = 0.0
        if t >= p[P_PEAK_START]:
            thr = p[P_THR_KW] * dt
            if g > thr:
                need = g - thr
                if c > 0.0:
                    x = c if c < need else need
                    if x == c:
                        c = 0.0  # the whole charge is taken back: exactly zero
                    else:
                        c = c - x
                    pv_mall += x
                    g = _pos(g - x)
                    need = _pos(need - x)
                    moved4 += x
                if need > 0.0 and c == 0.0:
                    d4 = need if need < budget else budget
                    budget = _pos(budget - d4)
                    d_mall += d4
                    g = _pos(g - d4)
                    moved4 += d4
        dcl = 0.0
        if t >= p[P_CLOSURE_START]:
            target = deliverable(e, emin, etad) * dt / (close_h - t)
            r = target - d_ev - d4
            if r > 0.0:
                if c > 0.0 and g > 0.0:
                    x = c if c < g else g
                    if x == c:
                        c = 0.0
                    else:
                        c = c - x
                    pv_mall += x
                    g = _pos(g - x)
                if c == 0.0:
                    dcl = r if r < budget else budget
                    if g < dcl:
                        dcl = g
                    d_mall += dcl
                    budget = _pos(budget - dcl)
        if d_ev > 0.0 or dcl > 0.0:
            phase = 5
        elif moved4 > 0.0:
            phase = 4
    xcap = p[P_EXPORT_KW] * dt
    export = rest if rest < xcap else xcap
    curt = _pos(rest - export)
    e_next = apply_step(e, c, d_ev + d_mall, p[P_ETAC], etad, emin, p[P_EMAX])
    return pv_ev, c, pv_mall, export, curt, d_ev, d_mall, e_next, phase


@njit(cache=True, inline="always")
def _schedule_step(pv, ev, mall, sp, e, dt, p, follow_pv_surplus):
    """One step of a battery that follows an AC setpoint (schedule / self-consumption).

    The battery and the grid meter are :mod:`pvbess.physics`: :func:`~pvbess.physics.clip_setpoint`
    then :func:`~pvbess.physics.meter` (site load ``ev + mall``; export, import and inverter limits
    ``P_EXPORT_KW``, ``P_IMPORT_KW``, ``P_INVERTER_KW``; curtailment only where forced: the rules
    have no prices). On top of it, the EV-before-mall split: PV serves EV, then the mall, then the
    battery, then export; battery discharge serves EV, then the mall, then export; the grid covers
    the rest.

    Parameters
    ----------
    sp : float
        Setpoint: AC energy, + charge, - discharge. [kWh]
    follow_pv_surplus : bool
        True for self-consumption: the setpoint is ignored; the battery charges the PV surplus and
        discharges into the deficit.

    Notes
    -----
    The setpoint is clipped with the PV surplus and the EV + mall deficit of this split, so
    without grid charging (P_ALLOW_GRID = 0) ``grid_to_bess`` is exactly 0 and without battery
    export (P_ALLOW_EXPORT = 0) ``bess_export`` is at most a few ulp. The PV the meter curtails
    comes off the PV export first; what is left (the battery's output has priority over PV at the
    export and inverter limits) off the PV serving the mall, then the EVs, whose deficit the
    battery's discharge then serves. PV charging the battery is never curtailed.

    Returns
    -------
    tuple
        (pv_to_ev, pv_to_bess, pv_to_mall, pv_export, pv_curtailed, bess_to_ev, bess_to_mall,
        bess_export, grid_to_bess, e_next). [kWh]
    """
    pv_ev = pv if pv < ev else ev
    rest = pv - pv_ev
    pv_mall = rest if rest < mall else mall
    rest = rest - pv_mall
    ev_def = _pos(ev - pv_ev)
    mall_def = _pos(mall - pv_mall)
    deficit = ev_def + mall_def
    if follow_pv_surplus:
        if rest > 0.0:
            sp = rest
        else:
            sp = -deficit
    load = ev + mall
    xcap = p[P_EXPORT_KW] * dt
    icap = p[P_IMPORT_KW] * dt
    acap = p[P_INVERTER_KW] * dt
    source = int(p[P_ALLOW_GRID])
    c, d = clip_setpoint(sp, e, load, pv, rest, deficit, p[P_EMIN], p[P_EMAX], p[P_ETAC],
                         p[P_ETAD], p[P_PC] * dt, p[P_PD] * dt, source,
                         p[P_ALLOW_EXPORT] != 0.0, xcap, icap, acap)
    if source == CHARGE_PV and c > 0.0:
        # PV charges the battery before it serves EV and mall (as the six-phase rules do)
        pv_ev = pv - c if pv - c < ev else ev
        rest = pv - c - pv_ev
        pv_mall = rest if rest < mall else mall
        rest = _pos(rest - pv_mall) + c  # the battery's share is taken from rest below
        ev_def = _pos(ev - pv_ev)
        mall_def = _pos(mall - pv_mall)
    curt = 0.0
    if xcap < np.inf or acap < np.inf:  # else nothing forces curtailment (and no prices here)
        curt = meter(c, d, load, pv, 0.0, 0.0, xcap, icap, acap, False, source)[2]
    pv_b = 0.0
    grid_b = 0.0
    export = rest
    if c > 0.0:
        pv_b = rest if rest < c else c
        grid_b = _pos(c - pv_b)
        export = _pos(rest - pv_b)
    if curt > 0.0:
        x = curt - export  # curtailed beyond the PV export: off the PV serving mall, then EV
        export = _pos(export - curt)
        if x > 0.0:
            y = x if x < pv_mall else pv_mall
            pv_mall -= y
            mall_def += y
            x -= y
            y = x if x < pv_ev else pv_ev
            pv_ev -= y
            ev_def += y
    d_ev = 0.0
    d_mall = 0.0
    d_x = 0.0
    if d > 0.0:
        d_ev = ev_def if ev_def < d else d
        left = _pos(d - d_ev)
        d_mall = mall_def if mall_def < left else left
        d_x = _pos(left - d_mall)
    e_next = apply_step(e, pv_b + grid_b, d_ev + d_mall + d_x, p[P_ETAC], p[P_ETAD], p[P_EMIN],
                        p[P_EMAX])
    return pv_ev, pv_b, pv_mall, export, curt, d_ev, d_mall, d_x, grid_b, e_next


@njit(cache=True, inline="always")
def _step(code, pv, ev, mall, t, sp, e, dt, p):
    """One step of any strategy.

    Returns
    -------
    tuple
        (pv_to_ev, pv_to_bess, pv_to_mall, pv_export, pv_curtailed, bess_to_ev, bess_to_mall,
        bess_export, grid_to_ev, grid_to_mall, grid_to_bess, e_next, phase). [kWh], phase int
    """
    pv_b = 0.0
    d_x = 0.0
    grid_b = 0.0
    d_ev = 0.0
    d_mall = 0.0
    phase = 0
    if code == SIX_PHASE:
        pv_ev, pv_b, pv_mall, export, curt, d_ev, d_mall, e_next, phase = _six_phase_step(
            pv, ev, mall, t, e, dt, p)
    elif code == GRID_ONLY:
        pv_ev = 0.0
        pv_mall = 0.0
        export = 0.0
        curt = pv
        e_next = e
    elif code == PV_ONLY:
        pv_ev = pv if pv < ev else ev
        rest = pv - pv_ev
        pv_mall = rest if rest < mall else mall
        rest = rest - pv_mall
        xcap = p[P_EXPORT_KW] * dt
        export = rest if rest < xcap else xcap
        curt = _pos(rest - export)
        e_next = e
    else:
        pv_ev, pv_b, pv_mall, export, curt, d_ev, d_mall, d_x, grid_b, e_next = _schedule_step(
            pv, ev, mall, sp, e, dt, p, code == SELF_CONSUMPTION)
    grid_ev = _pos(ev - pv_ev - d_ev)
    grid_mall = _pos(mall - pv_mall - d_mall)
    return (pv_ev, pv_b, pv_mall, export, curt, d_ev, d_mall, d_x, grid_ev, grid_mall, grid_b,
            e_next, phase)


@njit(cache=True)
def run(code, pv, ev, mall, hour, setpoint, dt, p):
    """Run one strategy over arrays.

    Parameters
    ----------
    code : int
        Strategy code (``STRATEGY_CODES``).
    pv, ev, mall : ndarray of float64
        Energies per step (``pv`` is multiplied by ``p[P_PV_SCALE]``). [kWh]
    hour : ndarray of float64
        Local clock time of each step start. [h]
    setpoint : ndarray of float64
        AC setpoint per step for ``schedule`` (+ charge, - discharge); ignored otherwise. [kWh]
    dt : float
        Step length. [h]
    p : ndarray of float64
        Parameter vector (``P_*`` layout, see :func:`make_params`).

    Returns
    -------
    ndarray, shape (N_OUT, n)
        One row per ``O_*`` quantity; ``O_SOC`` is the stored energy at the end of each step.
    """
    n = pv.shape[0]
    out = np.empty((N_OUT, n))
    e = p[P_E0]
    scale = p[P_PV_SCALE]
    for i in range(n):
        (pv_ev, pv_b, pv_mall, export, curt, d_ev, d_mall, d_x, grid_ev, grid_mall, grid_b,
         e, phase) = _step(code, pv[i] * scale, ev[i], mall[i], hour[i], setpoint[i], e, dt, p)
        out[O_PV_EV, i] = pv_ev
        out[O_PV_BESS, i] = pv_b
        out[O_PV_MALL, i] = pv_mall
        out[O_PV_EXPORT, i] = export
        out[O_PV_CURT, i] = curt
        out[O_BESS_EV, i] = d_ev
        out[O_BESS_MALL, i] = d_mall
        out[O_BESS_EXPORT, i] = d_x
        out[O_GRID_EV, i] = grid_ev
        out[O_GRID_MALL, i] = grid_mall
        out[O_GRID_BESS, i] = grid_b
        out[O_SOC, i] = e
        out[O_PHASE, i] = phase
    return out
