"""The full bill (energy + demand charges): the DP's cap search against the exact LP bound.

- the Iquitos year (default design, charge source "pv", MT3 tariff): DP within 0.5 % of the LP
  and below the six-phase rules; the LP reproduces the spec's reference numbers;
- the LP against a second formulation written here with scipy's linprog;
- random months and designs: LP <= DP <= 1.01 LP (with regression examples found by hypothesis);
- a mid-month re-plan that knows the month's incumbent peaks never bills more than one that
  ignores them, and materially less where the incumbents are well above what the rest of the
  month needs (Iquitos months; random months);
- invariants of the DP's plans (energy closes, window, no simultaneous charge and discharge,
  charge sources, hard caps).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from pvbess import Battery, Tariff, exact_schedule, optimize_schedule
from pvbess.bill import demand_cost

pytestmark = pytest.mark.filterwarnings("error")

SOURCES = ("any", "pv", "surplus")


# ---------------------------------------------------------------- an independent LP (scipy)
def demand_charge_groups(index, tariff):
    """(mask, price per kW) of the tariff's demand-charge groups on ``index``."""
    return [(mask, price) for mask, price, _, _ in tariff.demand_charges(index)]


def linprog_full_bill(buy, sell, load, pv, battery, *, dt, e0, tv, charge_source, batt_export,
                      groups, incumbent):
    """The full-bill LP written from the spec (section 1 and 6), solved by scipy's linprog.

    Variables per period: c, d, imp, exp, u (curtailed PV), E_{k+1}; one peak per group.
    Returns the optimal objective: sum(buy imp - sell exp + wear eta_c c) + sum(price peak)
    - tv (E_T - E_min).
    """
    t = len(buy)
    g_n = len(groups)
    nv = 6 * t + g_n
    ic, idd, ii, ie, iu, ie_ = (np.arange(t) + q * t for q in range(6))
    ip = 6 * t + np.arange(g_n)
    cost = np.zeros(nv)
    cost[ii] = buy
    cost[ie] = -np.asarray(sell)
    cost[ic] = battery.wear_cost_per_kwh * battery.eta_charge
    cost[ie_[-1]] = -tv
    cost[ip] = [price for _, price in groups]
    cmax = np.full(t, battery.power_charge_kw * dt)
    if charge_source == "pv":
        cmax = np.minimum(cmax, pv)
    elif charge_source == "surplus":
        cmax = np.minimum(cmax, np.maximum(pv - load, 0.0))
    dmax = np.full(t, battery.power_discharge_kw * dt)
    if not batt_export:
        dmax = np.minimum(dmax, np.maximum(load - pv, 0.0))
    bounds = ([(0, cm) for cm in cmax] + [(0, dm) for dm in dmax] + [(0, None)] * (2 * t)
              + [(0, p) for p in pv] + [(battery.e_min_kwh, battery.e_max_kwh)] * t
              + [(p0, None) for p0 in incumbent])
    rows, cols, vals = [], [], []
    b_eq = []
    # meter: imp - exp - c + d - u = load - pv
    for k in range(t):
        for col, v in ((ii[k], 1.0), (ie[k], -1.0), (ic[k], -1.0), (idd[k], 1.0),
                       (iu[k], -1.0)):
            rows.append(k)
            cols.append(col)
            vals.append(v)
        b_eq.append(load[k] - pv[k])
    # storage: E_{k+1} - E_k - eta_c c + d / eta_d = 0 (E_0 = e0)
    for k in range(t):
        r = t + k
        for col, v in ((ie_[k], 1.0), (ic[k], -battery.eta_charge),
                       (idd[k], 1.0 / battery.eta_discharge)):
            rows.append(r)
            cols.append(col)
            vals.append(v)
        if k:
            rows.append(r)
            cols.append(ie_[k - 1])
            vals.append(-1.0)
        b_eq.append(e0 if k == 0 else 0.0)
    a_eq = sp.csr_matrix((vals, (rows, cols)), shape=(2 * t, nv))
    # peaks: imp_k / dt - peak_g <= 0
    rows, cols, vals = [], [], []
    r = 0
    for g, (mask, _) in enumerate(groups):
        for k in np.flatnonzero(mask):
            rows += [r, r]
            cols += [ii[k], ip[g]]
            vals += [1.0 / dt, -1.0]
            r += 1
    a_ub = sp.csr_matrix((vals, (rows, cols)), shape=(r, nv))
    res = linprog(cost, A_ub=a_ub, b_ub=np.zeros(r), A_eq=a_eq, b_eq=np.array(b_eq),
                  bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return float(res.fun) + tv * battery.e_min_kwh


# ---------------------------------------------------------------- random months
def _month(rng, *, days, dt=1.0, month=None, day0=1):
    """A noisy month-like stretch: PV bell with cloudy days, a mall-like load, a two-window
    tariff with random prices; returns the inputs and the demand-charge groups."""
    month = int(rng.integers(1, 13)) if month is None else month
    start = pd.Timestamp(2025, month, day0, tz="America/Lima")
    idx = pd.date_range(start, periods=int(round(days * 24 / dt)), freq=pd.Timedelta(hours=dt))
    t = len(idx)
    h = np.asarray(idx.hour + idx.minute / 60.0, dtype=float)
    scale = rng.uniform(20.0, 2000.0)
    cloud = np.repeat(rng.uniform(0.2, 1.0, days + 1), int(round(24 / dt)))[:t]
    pv = (np.clip(np.sin(np.pi * (h - 6) / 12), 0, None) * rng.uniform(0.0, 1.5) * scale
          * cloud * rng.uniform(0.7, 1.0, t) * dt)
    load = (scale * (0.3 + 0.7 * np.clip(np.sin(np.pi * (h - 7) / 16), 0, None))
            * rng.uniform(0.8, 1.2, t) * dt)
    hp0 = float(rng.integers(16, 20))
    tariff = Tariff(hp_start_h=hp0, hp_end_h=float(rng.integers(int(hp0) + 2, 25)),
                    energy_hp_pen_per_kwh=rng.uniform(0.3, 0.6),
                    energy_hfp_pen_per_kwh=rng.uniform(0.1, 0.3),
                    demand_hp_pen_per_kw_month=rng.uniform(5.0, 60.0),
                    demand_hfp_pen_per_kw_month=rng.uniform(2.0, 30.0))
    # non-degenerate prices: 10 % noise on the energy price
    buy = np.maximum(tariff.energy_price(idx) * (1.0 + rng.normal(0.0, 0.1, t)), 0.01)
    sell = buy * rng.uniform(0.0, 0.5) if rng.random() < 0.5 else np.zeros(t)
    return {"buy": buy, "sell": sell, "load_kwh": load, "pv_kwh": pv}, idx, tariff, scale


def month_case(seed, *, quarter, days, cap, charge_frac, discharge_frac, eta_c, eta_d, soc_min,
               wear, start_frac, terminal_value, source, batt_export, incumbent_frac=None):
    """A random month and design from explicit draws (so that a found case can be replayed as
    an ``@example``): the month from ``seed``, the battery and options from the rest."""
    rng = np.random.default_rng(seed)
    dt = 0.25 if quarter else 1.0
    inputs, idx, tariff, scale = _month(rng, days=days, dt=dt)
    cap = cap * scale
    battery = Battery(capacity_kwh=cap, power_charge_kw=cap * charge_frac,
                      power_discharge_kw=cap * discharge_frac, eta_charge=eta_c,
                      eta_discharge=eta_d, soc_min=soc_min, soc_initial=0.3,
                      wear_cost_per_kwh=wear)
    e0 = battery.e_min_kwh + start_frac * battery.usable_kwh
    groups = demand_charge_groups(idx, tariff)
    incumbent = None
    if incumbent_frac is not None:  # a mid-month plan: peaks already recorded this month
        net = np.maximum(inputs["load_kwh"] - inputs["pv_kwh"], 0.0) / dt
        incumbent = [float(net[m].max()) * f for (m, _), f in zip(groups, incumbent_frac)]
    opts = {"dt_h": dt, "initial_kwh": e0, "terminal_value": terminal_value,
            "charge_source": source, "allow_battery_export": batt_export,
            "demand_charges": groups, "incumbent_peaks_kw": incumbent}
    return {**inputs, "battery": battery}, opts


@st.composite
def month_draws(draw, max_days=28):
    """The draws of :func:`month_case`."""
    quarter = draw(st.integers(0, 4)) == 0
    unit = st.floats(0.0, 1.0)
    return {"seed": draw(st.integers(0, 2**31 - 1)), "quarter": quarter,
            "days": draw(st.integers(2, min(max_days, 6) if quarter else max_days)),
            "cap": draw(st.floats(0.1, 3.0)), "charge_frac": draw(st.floats(0.05, 1.0)),
            "discharge_frac": draw(st.floats(0.05, 1.0)), "eta_c": draw(st.floats(0.85, 1.0)),
            "eta_d": draw(st.floats(0.85, 1.0)), "soc_min": draw(st.floats(0.0, 0.3)),
            "wear": draw(st.floats(0.0, 0.05)), "start_frac": draw(unit),
            "terminal_value": draw(st.floats(0.0, 0.3)), "source": draw(st.sampled_from(SOURCES)),
            "batt_export": draw(st.booleans()),
            "incumbent_frac": draw(st.one_of(st.none(), st.tuples(unit, unit)))}


def _lp_tolerance(objective: float) -> float:
    """LP <= DP up to the LP's own accuracy: HiGHS stops at a relative optimality tolerance of
    about 1e-7 and its plan is clipped into the bounds, so the DP (a feasible plan of the same
    model) may come out that little below the LP's reported objective."""
    return 1e-6 * abs(objective) + 1e-6


#: found by hypothesis: the cap search bounded each cap by the energy-only plan's peak, but the
#: full bill may raise a peak above it (HP import 0 there, so the HP cap was held at 0 where the
#: LP imports 216-593 kW in HP to keep the battery for a dearer HFP peak): +1.3 % and +6.0 %
_OVER_ENERGY_ONLY_PEAK = {"quarter": False, "days": 16, "cap": 3.0, "charge_frac": 1.0,
                          "discharge_frac": 1.0, "eta_c": 1.0, "eta_d": 0.875, "soc_min": 0.0,
                          "wear": 0.0, "start_frac": 0.0, "terminal_value": 0.0, "source": "any",
                          "batt_export": False, "incumbent_frac": None}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(month_draws())
@example({**_OVER_ENERGY_ONLY_PEAK, "seed": 1916})
@example({**_OVER_ENERGY_ONLY_PEAK, "seed": 2310})
def test_dp_between_lp_and_one_percent_above(draws):
    inputs, opts = month_case(**draws)
    lp = exact_schedule(**inputs, **opts)
    dp = optimize_schedule(**inputs, **opts)
    assert lp.method == "lp"
    assert lp.objective <= dp.objective + _lp_tolerance(lp.objective)
    assert dp.objective <= lp.objective + 0.01 * abs(lp.objective)
    _check_full_bill_plan(dp, inputs, opts)


# ---------------------------------------------------------------- the LP against linprog
@settings(max_examples=25, deadline=None)
@given(month_draws(max_days=4))
def test_lp_matches_independent_linprog_on_random_cases(draws):
    inputs, opts = month_case(**draws)
    lp = exact_schedule(**inputs, **opts)
    b = inputs["battery"]
    groups = opts["demand_charges"]
    incumbent = opts["incumbent_peaks_kw"] or [0.0] * len(groups)
    ref = linprog_full_bill(inputs["buy"], inputs["sell"], inputs["load_kwh"], inputs["pv_kwh"],
                            b, dt=opts["dt_h"], e0=opts["initial_kwh"],
                            tv=opts["terminal_value"], charge_source=opts["charge_source"],
                            batt_export=opts["allow_battery_export"], groups=groups,
                            incumbent=incumbent)
    assert lp.objective == pytest.approx(ref, rel=1e-6, abs=1e-6)
    # its demand cost is price * max(incumbent, peak) of its own plan
    imp = lp.periods["grid_import_kwh"].to_numpy()
    peaks = [max(p0, imp[m].max() / opts["dt_h"]) for (m, _), p0 in zip(groups, incumbent)]
    dem = sum(price * pk for (_, price), pk in zip(groups, peaks))
    assert lp.info["demand_cost"] == pytest.approx(dem, rel=1e-6, abs=1e-4)


@pytest.fixture(scope="module")
def iquitos():
    import pvbess

    site = pvbess.load_iquitos()
    tariff = Tariff()
    idx = site.index
    inputs = {"buy": tariff.energy_price(idx), "sell": np.zeros(len(idx)),
              "load_kwh": (site["ev_kwh"] + site["mall_kwh"]).to_numpy(float),
              "pv_kwh": site["pv_kwh"].to_numpy(float), "battery": Battery()}
    opts = {"dt_h": 1.0, "allow_battery_export": False, "terminal_value": 0.0,
            "demand_charges": demand_charge_groups(idx, tariff)}
    return site, tariff, inputs, opts


def test_lp_matches_independent_linprog_on_an_iquitos_month(iquitos):
    site, tariff, inputs, opts = iquitos
    sl = slice(0, 31 * 24)  # January
    month = {k: (v[sl] if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}
    groups = demand_charge_groups(site.index[sl], tariff)
    rng = np.random.default_rng(5)
    incumbent = [float(x) for x in rng.uniform(1500.0, 2500.0, len(groups))]
    for source in SOURCES:
        kw = {**opts, "demand_charges": groups, "charge_source": source,
              "incumbent_peaks_kw": incumbent}
        lp = exact_schedule(**month, **kw)
        ref = linprog_full_bill(month["buy"], month["sell"], month["load_kwh"], month["pv_kwh"],
                                month["battery"], dt=1.0, e0=month["battery"].e_initial_kwh,
                                tv=0.0, charge_source=source, batt_export=False, groups=groups,
                                incumbent=incumbent)
        assert lp.objective == pytest.approx(ref, rel=1e-7), source


# ---------------------------------------------------------------- the Iquitos year
#: scheduler spec, section 6: an independent LP's numbers for the default design, rounded to
#: the PEN [PEN]: (total, energy, demand)
REFERENCE = {"rules": (4_880_516, 2_784_420, 2_096_096),
             "any": (4_692_270, 2_745_024, 1_947_245), "surplus": (4_788_755, None, None),
             "energy_only": (2_738_163.5, None, None)}


@pytest.mark.slow
def test_iquitos_lp_reproduces_the_reference(iquitos):
    _site, _tariff, inputs, opts = iquitos
    lps = {s: exact_schedule(**inputs, **opts, charge_source=s) for s in SOURCES}
    for source in ("any", "surplus"):
        total, energy, demand = REFERENCE[source]
        lp = lps[source]
        assert lp.objective == pytest.approx(total, abs=1.0), source
        if energy is not None:
            assert lp.objective - lp.info["demand_cost"] == pytest.approx(energy, abs=1.0)
            assert lp.info["demand_cost"] == pytest.approx(demand, abs=1.0)
    # "pv" can only do what "any" can, and the spec finds them identical (to its rounding): the
    # LP puts "pv" 1.2 PEN above "any" (a few kWh that only the grid could have charged in time)
    assert lps["any"].objective <= lps["pv"].objective + _lp_tolerance(lps["any"].objective)
    assert lps["pv"].objective - lps["any"].objective < 2.0
    assert lps["pv"].info["demand_cost"] == pytest.approx(REFERENCE["any"][2], abs=1.0)
    energy_only = exact_schedule(**inputs, dt_h=1.0, allow_battery_export=False)
    assert energy_only.objective == pytest.approx(REFERENCE["energy_only"][0], abs=0.5)


def _rules_bill(site, tariff):
    from pvbess import simulate

    bal = simulate(site, Battery(), strategy="six_phase", tariff=tariff)
    imp = bal["grid_import_kwh"].to_numpy(float)
    energy = float((imp * tariff.energy_price(site.index)).sum())
    return energy, demand_cost(imp, site.index, tariff)


@pytest.mark.slow
def test_iquitos_full_bill_dp_within_half_a_percent_of_lp_and_below_the_rules(iquitos):
    site, tariff, inputs, opts = iquitos
    kw = {**opts, "charge_source": "pv"}
    lp = exact_schedule(**inputs, **kw)
    dp = optimize_schedule(**inputs, **kw)
    energy, demand = _rules_bill(site, tariff)
    assert energy == pytest.approx(REFERENCE["rules"][1], abs=1.0)
    assert demand == pytest.approx(REFERENCE["rules"][2], abs=1.0)
    assert lp.objective <= dp.objective + _lp_tolerance(lp.objective)
    assert dp.objective <= 1.005 * lp.objective
    assert dp.objective < energy + demand
    # the bill is the period costs plus the demand charges of the plan's own peaks
    imp = dp.periods["grid_import_kwh"].to_numpy()
    dem = sum(price * imp[m].max() for m, price in opts["demand_charges"])
    assert dp.summary["demand_cost"] == pytest.approx(dem, rel=1e-12)
    assert dp.summary["energy_cost"] == pytest.approx(dp.periods["optimized_cost"].sum(),
                                                      rel=1e-12)
    assert dp.objective == pytest.approx(dp.summary["energy_cost"] + dem, rel=1e-12)
    _check_full_bill_plan(dp, inputs, kw)


# ---------------------------------------------------------------- re-planning mid-month
def _first_half_with_a_spike(inputs, groups, half, dt):
    """The first half of a month as metered without the battery (out of service: import = net
    load), with one spike per window to 1.2 x the month's highest net load there: incumbent
    peaks well above anything the second half needs. Returns its imports [kWh], its energy
    cost and the incumbent peaks [kW]."""
    net = np.maximum(inputs["load_kwh"] - inputs["pv_kwh"], 0.0)
    imp = net[:half].copy()
    for mask, _ in groups:
        inside = np.flatnonzero(mask[:half])
        imp[inside[np.argmax(imp[inside])]] = 1.2 * net[mask].max()
    incumbent = [float(imp[m[:half]].max()) / dt for m, _ in groups]
    return imp, float((imp * inputs["buy"][:half]).sum()), incumbent


def _replan_bills(inputs, opts, half):
    """The month's true bill (first half metered, second half re-planned from ``half``) for a
    re-plan that knows the first half's peaks and one that ignores them, and the plans. The
    energy left stored at the end counts at the problem's terminal value, as in the plans'
    objective: a plan that need not shave for nothing ends fuller, and that energy is worth
    its value (found by hypothesis: without it, terminal value 0.25, the plan that knows the
    incumbents billed 64 PEN more but kept 537 kWh more, worth 134 PEN)."""
    dt = opts["dt_h"]
    groups = opts["demand_charges"]
    imp_first, energy_first, incumbent = _first_half_with_a_spike(inputs, groups, half, dt)
    second = {k: (v[half:] if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}
    kw = {**opts, "demand_charges": [(m[half:], price) for m, price in groups]}
    bills, plans = {}, {}
    for name, inc in (("knows", incumbent), ("ignores", None)):
        plan = optimize_schedule(**second, **{**kw, "incumbent_peaks_kw": inc})
        imp = np.concatenate([imp_first, plan.periods["grid_import_kwh"].to_numpy()])
        demand = sum(price * imp[m].max() / dt for m, price in groups)
        stored = opts["terminal_value"] * (plan.soe_kwh[-1] - inputs["battery"].e_min_kwh)
        bills[name] = energy_first + plan.summary["energy_cost"] + demand - stored
        plans[name] = plan
    return bills, plans, incumbent


@pytest.mark.parametrize("month", range(1, 13))
def test_replan_with_the_incumbent_peak_never_bills_more(iquitos, month):
    """From the 16th, re-plan the rest of the month after a first half metered without the
    battery and with a spike: its peaks are on the meter, well above what the second half
    needs. A re-plan that knows them does not pay to shave below them; one that ignores them
    shaves its peaks 200-400 kW below them for nothing (at Iquitos 170-610 PEN a half month,
    the energy spent discharging for the HFP peak instead of the HP price)."""
    site, tariff, inputs, opts = iquitos
    in_month = np.flatnonzero(site.index.month == month)
    month_inputs = {k: (v[in_month] if isinstance(v, np.ndarray) else v)
                    for k, v in inputs.items()}
    kw = {**opts, "charge_source": "pv", "initial_kwh": Battery().e_min_kwh,
          "demand_charges": demand_charge_groups(site.index[in_month], tariff)}
    bills, plans, incumbent = _replan_bills(month_inputs, kw, 15 * 24)
    # the plan that knows bills its demand at the incumbents (it never pays to raise them)
    knows = plans["knows"]
    assert (np.asarray(knows.summary["peaks_kw"]) <= np.asarray(incumbent) + 1e-9).all()
    assert knows.summary["demand_cost"] == pytest.approx(
        sum(p * p0 for (_, p), p0 in zip(kw["demand_charges"], incumbent)), rel=1e-12)
    # the one that ignores them shaves below them, which the true bill does not reward
    assert (np.asarray(plans["ignores"].summary["peaks_kw"]) < np.asarray(incumbent) - 100.0).all()
    assert bills["knows"] <= bills["ignores"]
    assert bills["ignores"] - bills["knows"] > 100.0  # PEN: material, not rounding


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(month_draws(max_days=20))
@example({"seed": 0, "quarter": True, "days": 2, "cap": 3.0, "charge_frac": 1.0,
          "discharge_frac": 1.0, "eta_c": 1.0, "eta_d": 1.0, "soc_min": 0.0, "wear": 0.0,
          "start_frac": 0.0, "terminal_value": 0.25, "source": "any", "batt_export": False,
          "incumbent_frac": None})
def test_replan_with_the_incumbent_on_random_months(draws):
    """As above on random months and designs: knowing the incumbents never bills more than
    ignoring them (up to the DP's accuracy, far below the ignoring plan's shaving cost), and a
    plan that knows them keeps its peaks at or below them unless raising them pays."""
    inputs, opts = month_case(**{**draws, "incumbent_frac": None})
    half = len(inputs["buy"]) // 2
    bills, plans, incumbent = _replan_bills(inputs, opts, half)
    assert bills["knows"] <= bills["ignores"] + 1e-4 * abs(bills["ignores"])
    for name, plan in plans.items():
        _check_full_bill_plan(plan, {k: (v[half:] if isinstance(v, np.ndarray) else v)
                                     for k, v in inputs.items()},
                              {**opts, "demand_charges": [(m[half:], p) for m, p in
                                                          opts["demand_charges"]],
                               "incumbent_peaks_kw": incumbent if name == "knows" else None})


# ---------------------------------------------------------------- plan invariants
def _check_full_bill_plan(r, inputs, opts):
    p = r.periods
    b = inputs["battery"]
    tol = 1e-9
    c, d = p["bess_charge_kwh"].to_numpy(), p["bess_discharge_kwh"].to_numpy()
    # energy closes per period
    np.testing.assert_allclose(np.diff(r.soe_kwh), b.eta_charge * c - d / b.eta_discharge,
                               atol=1e-9)
    np.testing.assert_allclose(p["pv_to_load_kwh"] + p["bess_to_load_kwh"]
                               + p["grid_to_load_kwh"], p["load_kwh"], atol=tol)
    np.testing.assert_allclose(p["pv_to_load_kwh"] + p["pv_to_bess_kwh"] + p["pv_export_kwh"]
                               + p["pv_curtailed_kwh"], p["pv_kwh"], atol=tol)
    np.testing.assert_allclose(p["grid_import_kwh"] - p["grid_export_kwh"],
                               p["load_kwh"] + c - d - p["pv_kwh"] + p["pv_curtailed_kwh"],
                               atol=1e-9)
    # stored energy within the window (or at the start below it), power limits
    lo = min(b.e_min_kwh, r.soe_kwh[0])
    assert (r.soe_kwh >= lo - tol).all() and (r.soe_kwh <= b.e_max_kwh + tol).all()
    dt = opts["dt_h"]
    assert (c <= b.power_charge_kw * dt + 1e-9).all()
    assert (d <= b.power_discharge_kw * dt + 1e-9).all()
    # no period both charges and discharges
    assert (np.minimum(c, d) <= tol).all()
    # the charge source
    source = opts.get("charge_source", "any")
    pv, load = p["pv_kwh"].to_numpy(), p["load_kwh"].to_numpy()
    if source == "pv":
        assert (c <= pv + 1e-9).all()
    elif source == "surplus":
        assert (c <= np.maximum(pv - load, 0.0) + 1e-9).all()
    if not opts.get("allow_battery_export", True):
        assert (p["bess_export_kwh"] <= tol).all()
    # the demand cost is price * max(incumbent, peak) of the plan
    groups = opts["demand_charges"]
    if not groups:
        return
    inc = opts.get("incumbent_peaks_kw") or [0.0] * len(groups)
    imp = p["grid_import_kwh"].to_numpy()
    dem = sum(price * max(p0, imp[m].max() / dt) for (m, price), p0 in zip(groups, inc))
    assert r.summary["demand_cost"] == pytest.approx(dem, rel=1e-9, abs=1e-9)


@st.composite
def capped_days(draw):
    """A few noisy days with a hard import cap per period (drawn below the uncapped plan's
    import where the battery can help)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    inputs, _idx, _tariff, scale = _month(rng, days=draw(st.integers(1, 3)))
    cap = draw(st.floats(0.3, 2.0)) * scale
    battery = Battery(capacity_kwh=cap, power_charge_kw=cap * draw(st.floats(0.1, 1.0)),
                      power_discharge_kw=cap * draw(st.floats(0.1, 1.0)),
                      eta_charge=draw(st.floats(0.85, 1.0)),
                      eta_discharge=draw(st.floats(0.85, 1.0)), soc_min=0.1,
                      soc_initial=draw(st.floats(0.1, 1.0)))
    level = draw(st.floats(0.6, 1.0)) * float(np.max(inputs["load_kwh"] - inputs["pv_kwh"]))
    opts = {"dt_h": 1.0, "charge_source": draw(st.sampled_from(SOURCES)),
            "allow_battery_export": draw(st.booleans()), "import_cap_kw": max(level, 0.0)}
    return {**inputs, "battery": battery}, opts


@settings(max_examples=40, deadline=None)
@given(capped_days())
def test_hard_import_cap_forces_the_battery_and_matches_lp(case):
    """A hard cap may force discharging (idle infeasible): the DP respects it wherever the LP
    finds it feasible, lands within the usual tolerance of the LP, and its plan is clean."""
    inputs, opts = case
    try:
        lp = exact_schedule(**inputs, **opts)
    except RuntimeError:  # infeasible caps: the DP must report violations
        dp = optimize_schedule(**inputs, **opts)
        assert dp.info["cap_violations"] > 0
        return
    dp = optimize_schedule(**inputs, **opts)
    assume(dp.info["cap_violations"] == 0)  # feasible only in the continuum, not on the grid
    imp = dp.periods["grid_import_kwh"].to_numpy()
    assert (imp <= opts["import_cap_kw"] * opts["dt_h"] + 1e-9).all()
    assert lp.objective <= dp.objective + _lp_tolerance(lp.objective)
    assert dp.objective <= lp.objective + 1e-3 * abs(lp.objective) + 0.01
    _check_full_bill_plan(dp, inputs, {**opts, "demand_charges": []})


def test_hard_cap_that_idle_cannot_meet_is_met_by_discharging():
    b = Battery(capacity_kwh=10, power_charge_kw=5, power_discharge_kw=5, eta_charge=1.0,
                eta_discharge=1.0, soc_min=0.0, soc_initial=0.5)
    # stored energy is worth more than the grid (terminal value 2 > buy 1) and cannot be
    # replaced (no PV surplus): the battery keeps it unless the cap forces it out
    kw = {"buy": [1.0, 1.0], "sell": [0.0, 0.0], "pv_kwh": [0.0, 0.0], "battery": b,
          "terminal_value": 2.0, "charge_source": "surplus"}
    free = optimize_schedule(load_kwh=[1.0, 4.0], **kw)
    np.testing.assert_allclose(free.periods["grid_import_kwh"], [1.0, 4.0], atol=1e-9)
    r = optimize_schedule(load_kwh=[1.0, 4.0], **kw, import_cap_kw=2.0)
    np.testing.assert_allclose(r.periods["grid_import_kwh"], [1.0, 2.0], atol=1e-9)
    np.testing.assert_allclose(r.soe_kwh, [5.0, 5.0, 3.0], atol=1e-9)
    assert r.info["cap_violations"] == 0
    # a cap the battery cannot meet is reported, not hidden
    r = optimize_schedule(load_kwh=[1.0, 9.0], **kw, import_cap_kw=2.0)
    assert r.info["cap_violations"] == 1


@pytest.mark.parametrize("source, expected", [("any", 2.0), ("pv", 1.0), ("surplus", 0.0)])
def test_charge_source_bounds_the_charge(source, expected):
    # 1 kWh of PV, 2 kWh of load, cheap now and dear later: charge as much as allowed
    b = Battery(capacity_kwh=10, power_charge_kw=2, power_discharge_kw=5, eta_charge=1.0,
                eta_discharge=1.0, soc_min=0.0, soc_initial=0.0)
    kw = {"buy": [1.0, 5.0], "sell": [0.0, 0.0], "load_kwh": [2.0, 3.0], "pv_kwh": [1.0, 0.0],
          "battery": b, "charge_source": source}
    dp = optimize_schedule(**kw)
    lp = exact_schedule(**kw)
    assert dp.periods["bess_charge_kwh"].iloc[0] == pytest.approx(expected, abs=1e-9)
    assert lp.objective == pytest.approx(dp.objective, abs=1e-6)


def test_allow_grid_charge_keeps_its_meaning():
    b = Battery(capacity_kwh=10, power_charge_kw=2, power_discharge_kw=5, eta_charge=1.0,
                eta_discharge=1.0, soc_min=0.0, soc_initial=0.0)
    kw = {"buy": [1.0, 5.0], "sell": [0.0, 0.0], "load_kwh": [2.0, 3.0], "pv_kwh": [1.0, 0.0],
          "battery": b}
    for flag, source in ((True, "any"), (False, "surplus")):
        a = optimize_schedule(**kw, allow_grid_charge=flag)
        c = optimize_schedule(**kw, charge_source=source)
        np.testing.assert_array_equal(a.soe_kwh, c.soe_kwh)
    with pytest.raises(ValueError, match="contradicts"):
        optimize_schedule(**kw, allow_grid_charge=False, charge_source="pv")


# ---------------------------------------------------------------- the extended period model
@st.composite
def capped_periods(draw):
    fin = st.floats(0.0, 4.0)
    lim = st.one_of(st.just(np.inf), st.floats(0.0, 3.0))
    buy = draw(st.floats(0.0, 2.0))
    return {"load": draw(fin), "pv": draw(st.one_of(st.just(0.0), fin)), "buy": buy,
            "sell": draw(st.floats(0.0, 1.0)) * buy, "xlim": draw(lim), "ilim": draw(lim),
            "acap": draw(st.one_of(st.just(np.inf), st.floats(0.1, 3.0))),
            "eta_c": draw(st.floats(0.8, 1.0)), "eta_d": draw(st.floats(0.8, 1.0)),
            "cmax": draw(st.floats(0.1, 3.0)), "dmax": draw(st.floats(0.1, 3.0)),
            "wear": draw(st.floats(0.0, 0.1)), "grid_charge": draw(st.sampled_from([0, 1, 2])),
            "batt_export": draw(st.booleans()), "curtail": draw(st.booleans()),
            "icap": draw(st.floats(0.0, 4.0)),
            "ipen": draw(st.one_of(st.just(np.inf), st.floats(0.0, 50.0)))}


def _cost(p, dl):
    from pvbess.optimize.period import _period

    return _period(dl, p["load"], p["pv"], p["buy"], p["sell"], p["xlim"], p["ilim"], p["acap"],
                   p["eta_c"], p["eta_d"], p["cmax"], p["dmax"], p["wear"], p["grid_charge"],
                   p["batt_export"], p["curtail"], p["icap"], p["ipen"])


@settings(max_examples=300, deadline=None)
@given(capped_periods())
def test_capped_period_cost_is_convex_between_exact_breakpoints(p):
    """With a charge source and a hard or soft import cap, one period's cost (0 <= sell <= buy)
    is convex, its feasible set is one interval (which need not contain idle: a hard cap can
    force a discharge) whose ends are breakpoints, and it is affine between breakpoints."""
    from pvbess.optimize.period import _NBREAK, _breakpoints

    out = np.empty(_NBREAK)
    nb = _breakpoints(p["load"], p["pv"], p["xlim"], p["ilim"], p["acap"], p["eta_c"],
                      p["eta_d"], p["cmax"], p["dmax"], p["grid_charge"], p["batt_export"],
                      p["curtail"], out, p["icap"], p["ipen"])
    knots = np.unique(np.append(out[:nb], 0.0))
    knots = knots[np.append(True, np.diff(knots) > 1e-9)]
    feasible = knots[[np.isfinite(_cost(p, d)[0]) for d in knots]]
    assume(feasible.size)
    lo, hi = feasible[0], feasible[-1]
    step = 1e-6 * (1.0 + max(abs(lo), abs(hi)))
    # the feasible set is [lo, hi]: nothing outside, everything inside
    assert not np.isfinite(_cost(p, lo - step)[0]) or lo == 0.0
    assert not np.isfinite(_cost(p, hi + step)[0]) or hi == 0.0
    inner = knots[(knots >= lo) & (knots <= hi)]
    x = np.linspace(lo, hi, 41)
    y = np.array([_cost(p, d)[0] for d in x])
    assert np.isfinite(y).all()
    # affine between consecutive breakpoints, and convex
    for a, b in zip(inner[:-1], inner[1:]):
        xs = np.linspace(a, b, 7)
        ys = np.array([_cost(p, d)[0] for d in xs])
        line = ys[0] + (ys[-1] - ys[0]) * (xs - a) / (b - a)
        np.testing.assert_allclose(ys, line, atol=1e-9 * (1 + np.abs(ys).max()))
    yk = np.array([_cost(p, d)[0] for d in inner])
    if inner.size > 2:
        gaps = np.diff(inner)
        slopes = np.diff(yk) / gaps
        # a slope over a short gap carries the cost's rounding error divided by the gap
        noise = 8 * np.finfo(float).eps * (1 + np.abs(yk).max()) / gaps.min()
        assert (np.diff(slopes) >= -1e-9 * (1 + np.abs(slopes).max()) - noise).all()
    # the charge source and the hard cap hold at every feasible move
    for d in x:
        _, c, _, imp, _, _ = _cost(p, d)
        if p["grid_charge"] == 2:
            assert c <= p["pv"] + 1e-9
        elif p["grid_charge"] == 0:
            assert c <= max(p["pv"] - p["load"], 0.0) + 1e-9
        if p["ipen"] == np.inf:
            assert imp <= p["icap"] + 1e-9


# ---------------------------------------------------------------- the cap search's move nets
@st.composite
def search_blocks(draw):
    """A few periods of the period model with soft caps on some of them (as a block of the cap
    search prices them), negative prices and curtailment included."""
    t = draw(st.integers(1, 6))
    per = [draw(capped_periods()) for _ in range(t)]
    for p in per:
        p["buy"] -= draw(st.sampled_from([0.0, 0.0, 1.5]))  # sometimes negative: curtailment pays
        p["ipen"] = draw(st.one_of(st.just(np.inf), st.floats(0.0, 50.0)))
        if p["ipen"] == np.inf:
            p["icap"] = np.inf  # a period off the block's groups: no cap
    first = per[0]
    scalars = {q: first[q] for q in ("eta_c", "eta_d", "wear", "grid_charge", "batt_export",
                                     "curtail")}
    arrays = {q: np.array([p[q] for p in per]) for q in ("load", "pv", "buy", "sell", "xlim",
                                                          "ilim", "acap", "cmax", "dmax",
                                                          "icap", "ipen")}
    return arrays, scalars, draw(st.integers(4, 24)), draw(st.floats(0.5, 6.0))


@settings(max_examples=200, deadline=None)
@given(search_blocks(), st.lists(st.floats(0.0, 4.0), min_size=6, max_size=6))
def test_move_nets_price_every_move_as_the_meter_does(block, new_caps):
    """A block DP priced from the stored move nets (computed once, before any cap is set) is
    bit for bit the DP that runs the meter for every move, for any later soft caps."""
    from pvbess.optimize.dp import _backward_into
    from pvbess.optimize.period import _move_nets

    arrays, s, n, h = block
    a = arrays
    args = [a["load"], a["pv"], a["buy"], a["sell"], a["xlim"], a["ilim"], a["acap"],
            s["eta_c"], s["eta_d"], a["cmax"], a["dmax"], s["wear"], s["grid_charge"],
            s["batt_export"], s["curtail"], np.full(len(a["load"]), np.inf),
            np.full(len(a["load"]), np.inf)]
    nets = _move_nets(*args, h, n)
    soft = np.isfinite(a["ipen"])
    args[15] = np.where(soft, np.array(new_caps[:len(soft)]), np.inf)  # the search sets caps
    args[16] = a["ipen"]
    t = len(a["load"])
    terminal = -0.1 * np.arange(n + 1) * h
    with_nets, metered = np.empty((t + 1, n + 1)), np.empty((t + 1, n + 1))
    with_nets[t] = metered[t] = terminal
    _backward_into(with_nets, *args, h, n, 0, *nets)
    _backward_into(metered, *args, h, n, 0, np.empty((0, 0)), np.zeros(0, dtype=np.bool_))
    np.testing.assert_array_equal(with_nets, metered)
