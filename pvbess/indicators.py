"""Key performance indicators of a balance table, annual or monthly.

:func:`kpis` reduces a balance table (from :func:`pvbess.simulate`) to the spec's KPIs. The
reduction is a numba accumulator (:func:`_acc_step`, :func:`_closure_step`) that the batch kernel
of :func:`pvbess.simulate_many` (:mod:`pvbess.batch_kernel`) repeats step for step, so a batch run
and ``kpis(simulate(...))`` compute the same numbers the same way (tests hold them equal bit for
bit). Every KPI is documented in :data:`pvbess.VARIABLES` (kind ``"kpi"``).

Definitions (sums over the period; ``load = ev + mall``):

- self-sufficiency ``1 - grid_import / load``;
  self-consumption ``1 - (pv_export + pv_curtailed) / pv``;
- EV supply shares: ``pv_to_ev / ev``, ``bess_to_ev / ev``, ``grid_to_ev / ev``;
- equivalent full cycles ``(bess_discharge / eta_d) / usable_kwh`` (energy taken out of storage);
- closure days: local days with steps in ``closure_start_h <= t < close_h`` up to close_h (a
  last day whose data end before close_h is not counted). A
  closure-miss day is one whose stored energy at the end of its last such step (i.e. at
  ``close_h``) is above ``E_min + 1e-6`` kWh. A miss "the power allowed" is a miss where, at the
  start of the day's first closure step (clock ``t0``, stored energy ``E0``), the energy above
  E_min could have been delivered at full discharge power in the hours left,
  ``(E0 - E_min) * eta_d <= P_discharge * (close_h - t0)`` (+1e-9 kWh). The six-phase closure
  delivers at the constant rate ``(E0 - E_min) * eta_d / (close_h - t0)``, so such a miss can
  only come from a load too small to absorb that rate or from PV charging inside the window;
  on a site like Iquitos it must be 0;
- hours above the peak threshold: the steps (times dt) in which the mall's demand alone
  (``before``), the mall's grid draw with PV and no battery (``pv_only``) and the mall's grid
  draw in this run (``after``) exceed ``peak_threshold_kw * dt`` by more than 1e-9 kWh;
- peak grid draw: the largest ``grid_import / dt`` (all steps, HP steps, HFP steps) [kW];
- CO2: ``grid_import * factor``; baselines (a) no PV and no battery: ``load * factor``;
  (b) PV without battery: ``max(0, load - pv) * factor`` per step; CO2 avoided against each;
  exported PV (and battery export) displacing diesel elsewhere is its own line;
- cost: energy cost per tariff period (HP/HFP) plus demand charges: for every calendar month,
  the maximum grid draw [kW] within HP steps times the HP rate, and likewise HFP; an annual
  figure sums the months; export revenue is subtracted in ``total_cost_pen``.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
from numba import njit

from .battery import Battery
from .physics import deliverable, equivalent_full_cycles
from .rules import SixPhaseRules
from .balance_specs import run_specs
from .step_calendar import step_calendar
from .tariff import Tariff
from .timeseries import DataError, step_hours

# -- accumulator fields (per group) ----------------------------------------------------------
_SUM_FIELDS = (
    "pv_kwh", "ev_kwh", "mall_kwh", "pv_to_ev_kwh", "pv_to_bess_kwh", "pv_to_mall_kwh",
    "pv_export_kwh", "pv_curtailed_kwh", "bess_to_ev_kwh", "bess_to_mall_kwh", "bess_export_kwh",
    "grid_to_ev_kwh", "grid_to_mall_kwh", "grid_to_bess_kwh", "grid_import_kwh",
    "bess_charge_kwh", "bess_discharge_kwh", "bess_loss_kwh",
)
F_PV, F_EV, F_MALL, F_PV_EV, F_PV_BESS, F_PV_MALL, F_PV_X, F_PV_CURT, F_B_EV, F_B_MALL, F_B_X, \
    F_G_EV, F_G_MALL, F_G_BESS, F_GRID, F_CHARGE, F_DISCHARGE, F_LOSS = range(18)
F_GRID_HP = 18
F_GRID_HFP = 19
F_COST_HP = 20
F_COST_HFP = 21
F_PVONLY_GRID = 22
F_ABOVE_BEFORE = 23  # steps
F_ABOVE_PVONLY = 24
F_ABOVE_AFTER = 25
F_CL_DAYS = 26
F_CL_MISS = 27
F_CL_MISS_OK = 28
F_STEPS = 29
N_FIELDS = 30

#: Tolerance of a closure miss: stored energy above E_min by more than this at close_h. [kWh]
CLOSURE_TOL_KWH = 1e-6

#: The KPI names, in order (documented in VARIABLES, kind "kpi").
KPI_NAMES = (
    *_SUM_FIELDS, "load_kwh",
    "self_sufficiency_frac", "self_consumption_frac",
    "ev_pv_share_frac", "ev_bess_share_frac", "ev_grid_share_frac",
    "equivalent_full_cycles",
    "closure_days", "closure_miss_days", "closure_miss_power_allowed_days",
    "hours_above_peak_before_h", "hours_above_peak_pv_only_h", "hours_above_peak_after_h",
    "peak_grid_kw", "peak_grid_hp_kw", "peak_grid_hfp_kw",
    "co2_t", "co2_baseline_grid_only_t", "co2_baseline_pv_only_t",
    "co2_avoided_vs_grid_only_t", "co2_avoided_vs_pv_only_t", "co2_export_displaced_t",
    "grid_import_hp_kwh", "grid_import_hfp_kwh",
    "energy_cost_hp_pen", "energy_cost_hfp_pen", "energy_cost_pen",
    "demand_charge_hp_pen", "demand_charge_hfp_pen", "demand_charge_pen",
    "export_revenue_pen", "total_cost_pen",
)


@njit(cache=True)
def _acc_step(sums, mmax, g, m, peak, price, dt, thr_kwh, pv, ev, mall, pv_ev, pv_b, pv_mall,
              pv_x, pv_c, b_ev, b_mall, b_x, g_ev, g_mall, g_b, grid, charge, discharge, loss):
    """Add one step to group ``g`` of ``sums`` and to month ``m`` of ``mmax`` (max kW HP/HFP)."""
    sums[g, F_PV] += pv
    sums[g, F_EV] += ev
    sums[g, F_MALL] += mall
    sums[g, F_PV_EV] += pv_ev
    sums[g, F_PV_BESS] += pv_b
    sums[g, F_PV_MALL] += pv_mall
    sums[g, F_PV_X] += pv_x
    sums[g, F_PV_CURT] += pv_c
    sums[g, F_B_EV] += b_ev
    sums[g, F_B_MALL] += b_mall
    sums[g, F_B_X] += b_x
    sums[g, F_G_EV] += g_ev
    sums[g, F_G_MALL] += g_mall
    sums[g, F_G_BESS] += g_b
    sums[g, F_GRID] += grid
    sums[g, F_CHARGE] += charge
    sums[g, F_DISCHARGE] += discharge
    sums[g, F_LOSS] += loss
    kw = grid / dt
    if peak:
        sums[g, F_GRID_HP] += grid
        sums[g, F_COST_HP] += grid * price
        if kw > mmax[m, 0]:
            mmax[m, 0] = kw
    else:
        sums[g, F_GRID_HFP] += grid
        sums[g, F_COST_HFP] += grid * price
        if kw > mmax[m, 1]:
            mmax[m, 1] = kw
    short = ev + mall - pv
    if short > 0.0:
        sums[g, F_PVONLY_GRID] += short
    lim = thr_kwh + 1e-9
    if mall > lim:
        sums[g, F_ABOVE_BEFORE] += 1.0
    surplus = pv - ev
    if surplus < 0.0:
        surplus = 0.0
    if mall - surplus > lim:
        sums[g, F_ABOVE_PVONLY] += 1.0
    if g_mall > lim:
        sums[g, F_ABOVE_AFTER] += 1.0
    sums[g, F_STEPS] += 1.0


@njit(cache=True)
def _closure_finish(cst, sums, emin, etad, pd_kw):
    """Book the pending closure day in ``cst`` (see :func:`_closure_step`)."""
    if cst[1] == 0.0:
        return
    cst[1] = 0.0
    if cst[6] == 0.0:  # the data end before close_h: the energy at close_h is unknown
        return
    gg = int(cst[5])
    sums[gg, F_CL_DAYS] += 1.0
    if cst[4] > emin + CLOSURE_TOL_KWH:
        sums[gg, F_CL_MISS] += 1.0
        if deliverable(cst[2], emin, etad) <= pd_kw * cst[3] + 1e-9:
            sums[gg, F_CL_MISS_OK] += 1.0


@njit(cache=True)
def _closure_step(cst, sums, day, g, t, dt, e_start, e_end, closure_start, close_h, emin, etad,
                  pd_kw):
    """Track closure days.

    ``cst`` = [day, active, E0, hours left at t0, E at the end of the last closure step, group,
    1 if that step ends at or after close_h]. A day is booked when the next one starts (or at the
    end of the data) by :func:`_closure_finish`.
    """
    if t >= closure_start and t < close_h:
        if cst[1] == 0.0 or cst[0] != day:
            _closure_finish(cst, sums, emin, etad, pd_kw)
            cst[0] = day
            cst[1] = 1.0
            cst[2] = e_start
            cst[3] = close_h - t
        cst[4] = e_end
        cst[5] = g
        cst[6] = 1.0 if t + dt >= close_h - 1e-9 else 0.0


@njit(cache=True)
def _accumulate_balance(cols, e0, group, month, day, hour, peak, price, n_groups, n_months, dt,
                        thr_kwh, closure_start, close_h, emin, etad, pd_kw):
    """Reduce balance columns (rows in ``_SUM_FIELDS`` order, then soe_end_kwh) to sums per group."""
    sums = np.zeros((n_groups, N_FIELDS))
    mmax = np.zeros((n_months, 2))
    cst = np.zeros(7)
    e = e0
    n = cols.shape[1]
    for i in range(n):
        _acc_step(sums, mmax, group[i], month[i], peak[i], price[i], dt, thr_kwh,
                  cols[0, i], cols[1, i], cols[2, i], cols[3, i], cols[4, i], cols[5, i],
                  cols[6, i], cols[7, i], cols[8, i], cols[9, i], cols[10, i], cols[11, i],
                  cols[12, i], cols[13, i], cols[14, i], cols[15, i], cols[16, i], cols[17, i])
        e_end = cols[18, i]
        _closure_step(cst, sums, day[i], group[i], hour[i], dt, e, e_end, closure_start, close_h,
                      emin, etad, pd_kw)
        e = e_end
    _closure_finish(cst, sums, emin, etad, pd_kw)
    return sums, mmax


def kpi_calendar(index: pd.DatetimeIndex, tariff: Tariff):
    """Per-step local hour, day key, month code (0..M-1), month labels, HP flag and price.

    From the index's one calendar (:func:`pvbess.step_calendar.step_calendar`, shared with
    :func:`pvbess.simulate`); the arrays are the caller's own copies.
    """
    cal = step_calendar(index)
    day, month, labels = cal.local_days()
    _, price, peak = cal.tariff_columns(tariff)
    return cal.hour_h.copy(), day.copy(), month.copy(), labels, peak.copy(), price.copy()


def exported_kwh(pv_export_kwh, bess_export_kwh):
    """Energy the site feeds into the grid: PV export plus battery export. [kWh]

    The one definition of what displaces generation elsewhere (``co2_export_displaced_t``,
    figure 15) and what earns the export price (``export_revenue_pen``). Battery export counts
    whatever charged the battery: a grid-charged kWh is already in the site's own imports, so
    its export displaces the same diesel as exported PV does. Floats or arrays (per step or
    summed), as long as both are of one kind.
    """
    return pv_export_kwh + bess_export_kwh


def _ratio(num, den):
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    ok = den > 0
    return np.where(ok, num / np.where(ok, den, 1.0), np.nan)


def finalize_kpis(sums: np.ndarray, peak_hp_kw, peak_hfp_kw, demand_hp_pen, demand_hfp_pen,
              eta_d, usable_kwh, dt, co2_kg_per_kwh: float, tariff: Tariff) -> dict:
    """KPI columns (arrays of length K) from raw sums (K, N_FIELDS) and demand figures."""
    s = {name: sums[:, k] for k, name in enumerate(_SUM_FIELDS)}
    load = s["ev_kwh"] + s["mall_kwh"]
    out = dict(s)
    out["load_kwh"] = load
    out["self_sufficiency_frac"] = 1.0 - _ratio(s["grid_import_kwh"], load)
    out["self_consumption_frac"] = 1.0 - _ratio(s["pv_export_kwh"] + s["pv_curtailed_kwh"],
                                                s["pv_kwh"])
    out["ev_pv_share_frac"] = _ratio(s["pv_to_ev_kwh"], s["ev_kwh"])
    out["ev_bess_share_frac"] = _ratio(s["bess_to_ev_kwh"], s["ev_kwh"])
    out["ev_grid_share_frac"] = _ratio(s["grid_to_ev_kwh"], s["ev_kwh"])
    usable = np.broadcast_to(np.asarray(usable_kwh, dtype=float), load.shape)
    efc = equivalent_full_cycles(np.ascontiguousarray(s["bess_discharge_kwh"]),
                                 np.full(load.shape, eta_d, dtype=float),
                                 np.where(usable > 0, usable, 1.0))
    out["equivalent_full_cycles"] = np.where(usable > 0, efc, 0.0)
    out["closure_days"] = sums[:, F_CL_DAYS]
    out["closure_miss_days"] = sums[:, F_CL_MISS]
    out["closure_miss_power_allowed_days"] = sums[:, F_CL_MISS_OK]
    out["hours_above_peak_before_h"] = sums[:, F_ABOVE_BEFORE] * dt
    out["hours_above_peak_pv_only_h"] = sums[:, F_ABOVE_PVONLY] * dt
    out["hours_above_peak_after_h"] = sums[:, F_ABOVE_AFTER] * dt
    out["peak_grid_kw"] = np.maximum(peak_hp_kw, peak_hfp_kw)
    out["peak_grid_hp_kw"] = np.asarray(peak_hp_kw, dtype=float)
    out["peak_grid_hfp_kw"] = np.asarray(peak_hfp_kw, dtype=float)
    f = co2_kg_per_kwh / 1000.0
    out["co2_t"] = s["grid_import_kwh"] * f
    out["co2_baseline_grid_only_t"] = load * f
    out["co2_baseline_pv_only_t"] = sums[:, F_PVONLY_GRID] * f
    out["co2_avoided_vs_grid_only_t"] = out["co2_baseline_grid_only_t"] - out["co2_t"]
    out["co2_avoided_vs_pv_only_t"] = out["co2_baseline_pv_only_t"] - out["co2_t"]
    exported = exported_kwh(s["pv_export_kwh"], s["bess_export_kwh"])
    out["co2_export_displaced_t"] = exported * f
    out["grid_import_hp_kwh"] = sums[:, F_GRID_HP]
    out["grid_import_hfp_kwh"] = sums[:, F_GRID_HFP]
    out["energy_cost_hp_pen"] = sums[:, F_COST_HP]
    out["energy_cost_hfp_pen"] = sums[:, F_COST_HFP]
    out["energy_cost_pen"] = sums[:, F_COST_HP] + sums[:, F_COST_HFP]
    out["demand_charge_hp_pen"] = np.asarray(demand_hp_pen, dtype=float)
    out["demand_charge_hfp_pen"] = np.asarray(demand_hfp_pen, dtype=float)
    out["demand_charge_pen"] = out["demand_charge_hp_pen"] + out["demand_charge_hfp_pen"]
    out["export_revenue_pen"] = exported * tariff.export_pen_per_kwh
    out["total_cost_pen"] = (out["energy_cost_pen"] + out["demand_charge_pen"]
                             - out["export_revenue_pen"])
    return {name: np.asarray(out[name], dtype=float) for name in KPI_NAMES}


def kpis(balance: pd.DataFrame, *, battery: Battery | None = None,
         rules: SixPhaseRules | None = None, tariff: Tariff | None = None,
         co2_kg_per_kwh: float | None = None, freq: str = "annual"):
    """KPIs of a balance table, over the whole table or per calendar month.

    Parameters
    ----------
    balance : DataFrame
        A table from :func:`pvbess.simulate` (at least the flow columns and ``soe_end_kwh``).
    battery, rules, tariff : optional
        Default: the ones stored in ``balance.attrs`` by :func:`pvbess.simulate`
        (:func:`pvbess.run_specs`). ``battery`` gives eta_d, the usable window and the power
        limit of the closure test; ``rules`` the closure hours and the peak threshold; ``tariff``
        the prices.
    co2_kg_per_kwh : float, optional
        Emission factor of grid imports (default: the one in ``balance.attrs``). [kg/kWh]
    freq : {"annual", "monthly"}
        ``"annual"``: one figure per KPI over the whole table (one year in practice; demand charges
        summed over its calendar months). ``"monthly"``: one row per local calendar month.

    Returns
    -------
    Series or DataFrame
        ``"annual"``: a Series indexed by KPI name (:data:`KPI_NAMES`); ``"monthly"``: a DataFrame
        with one row per month (PeriodIndex ``month``) and one column per KPI. Units are in the
        names and in :data:`pvbess.VARIABLES`. Ratios with a zero denominator are NaN.

    Raises
    ------
    DataError
        A column is missing, the table is empty, or a spec of the run that was not given is
        missing from ``attrs`` (:func:`pvbess.run_specs`).

    Examples
    --------
    >>> import pandas as pd, pvbess
    >>> idx = pd.date_range("2024-01-01", periods=48, freq="h", tz="America/Lima")
    >>> site = pd.DataFrame({"pv_kwh": 0.0, "ev_kwh": 0.0, "mall_kwh": 100.0}, index=idx)
    >>> k = pvbess.kpis(pvbess.simulate(site))
    >>> float(k["self_sufficiency_frac"]), float(k["co2_t"])
    (0.0, 2.17008)
    """
    if freq not in ("annual", "monthly"):
        raise ValueError(f"freq = {freq!r}: must be 'annual' or 'monthly'")
    if not isinstance(balance, pd.DataFrame):
        raise DataError(f"balance: expected a DataFrame, got {type(balance).__name__}")
    need = (*_SUM_FIELDS, "soe_end_kwh")
    missing = [c for c in need if c not in balance.columns]
    if missing:
        raise DataError(f"balance: missing column(s) {missing} [kWh per step]; "
                        "pass a table from pvbess.simulate")
    if len(balance) == 0:
        raise DataError("balance: the table has no rows")
    specs = run_specs(balance, battery=battery, rules=rules, tariff=tariff,
                      co2_kg_per_kwh=co2_kg_per_kwh)
    battery, rules, tariff = specs.battery, specs.rules, specs.tariff
    co2_kg_per_kwh, e0 = specs.co2_kg_per_kwh, specs.e_initial_kwh
    index = balance.index
    dt = step_hours(index)
    cols = np.ascontiguousarray(np.vstack([balance[c].to_numpy(dtype=np.float64) for c in need]))
    hour, day, month, labels, peak, price = kpi_calendar(index, tariff)
    n_months = len(labels)
    if freq == "monthly":
        group, n_groups = month, n_months
    else:
        group, n_groups = np.zeros(len(index), dtype=np.int64), 1
    sums, mmax = _accumulate_balance(
        cols, e0, group, month, day, hour, peak, price, n_groups, n_months, dt,
        rules.peak_threshold_kw * dt, rules.closure_start_h, rules.close_h, battery.e_min_kwh,
        battery.eta_discharge, battery.power_discharge_kw)
    dem_hp = mmax[:, 0] * tariff.demand_hp_pen_per_kw_month
    dem_hfp = mmax[:, 1] * tariff.demand_hfp_pen_per_kw_month
    if freq == "monthly":
        values = finalize_kpis(sums, mmax[:, 0], mmax[:, 1], dem_hp, dem_hfp, battery.eta_discharge,
                           battery.usable_kwh, dt, co2_kg_per_kwh, tariff)
        return pd.DataFrame(values, index=labels)
    values = finalize_kpis(sums, mmax[:, 0].max(keepdims=True), mmax[:, 1].max(keepdims=True),
                       dem_hp.sum(keepdims=True), dem_hfp.sum(keepdims=True),
                       battery.eta_discharge, battery.usable_kwh, dt, co2_kg_per_kwh, tariff)
    return pd.Series({name: float(v[0]) for name, v in values.items()}, name="annual")
