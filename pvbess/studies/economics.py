"""Life-cycle economics of a PV + battery design: NPV, payback, LCOS and the cost of CO2 avoided.

Every function is vectorised: sizes and annual results may be scalars or arrays (one entry per
design of a sweep). Money is in PEN (Peruvian soles); capital costs are stated in USD, as the
sources quote them, and converted with the site's exchange rate (:attr:`pvbess.Site.pen_per_usd`).

Cash-flow model (real terms, end-of-year flows, no inflation or tax)
-------------------------------------------------------------------
Year 0 pays the capital cost; years 1..N each bring the bill saving against a baseline minus
the fixed O&M; a battery is replaced (at a fraction of its first energy cost) every time it
reaches the end of its life, ``min(calendar life, cycle life / cycles per year)``, strictly
before the end of the appraisal period. Replacements are discounted at their (fractional) year.
There is no salvage value at the end of the period.

Two baselines, stated separately (as the CO2 accounting does):

* ``grid``: no PV and no battery; the design's whole investment (PV + battery) is appraised.
* ``pv``: the same PV plant without a battery; only the battery is appraised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._spec import SpecBase

__all__ = [
    "Economics",
    "annuity_factor",
    "appraise",
    "battery_life_years",
    "capex_pen",
    "cost_per_tonne_co2",
    "lcos",
    "npv",
    "replacement_present_value",
    "simple_payback",
]


@dataclass(frozen=True)
class Economics(SpecBase):
    """Cost assumptions of a PV + battery appraisal. Defaults are documented assumptions.

    Parameters
    ----------
    pv_capex_usd_per_kwp : float
        Installed PV cost per kWp DC. [USD/kWp] Default 800: IRENA, *Renewable Power Generation
        Costs in 2023*, puts the global weighted-average utility-scale PV installed cost near
        USD 760/kW; rounded up for an isolated Amazon site (freight to Iquitos is by river or air).
    battery_capex_usd_per_kwh : float
        Battery cost per kWh of nameplate energy (cells, racks, BMS, installation). [USD/kWh]
        Default 300: assumption within the range of NREL's Annual Technology Baseline (2024) for
        utility/commercial lithium-ion (LFP) systems.
    battery_capex_usd_per_kw : float
        Battery cost per kW of converter power (PCS, transformer, grid connection). [USD/kW]
        Default 250: assumption, same source range as above.
    pv_om_frac_per_year : float
        Fixed PV O&M per year as a fraction of the PV capital cost. [1/yr] Default 0.01.
    battery_om_frac_per_year : float
        Fixed battery O&M per year as a fraction of the battery capital cost. [1/yr] Default
        0.025 (the NREL ATB convention for battery fixed O&M).
    battery_cycle_life : float
        Equivalent full cycles to end of life (LFP to 80 % state of health). [cycles] Default 6000.
    battery_calendar_life_years : float
        Calendar life whatever the cycling. [yr] Default 15.
    battery_replacement_frac : float
        Cost of a replacement as a fraction of the first battery's energy cost (the per-kWh part;
        the converter is assumed to last the whole period). [-] Default 0.6 (expected fall in
        cell prices by the replacement date; assumption).
    discount_rate : float
        Real discount rate per year. [1/yr] Default 0.08, Peru's social discount rate
        (Ministerio de Economia y Finanzas, Invierte.pe).
    lifetime_years : int
        Appraisal period (the PV plant's life). [yr] Default 25.
    pen_per_usd : float or None
        Exchange rate; None takes the site's (:attr:`pvbess.Site.pen_per_usd`). [PEN/USD]

    Examples
    --------
    >>> e = Economics(discount_rate=0.0, lifetime_years=10)
    >>> float(annuity_factor(e.discount_rate, e.lifetime_years))
    10.0
    """

    pv_capex_usd_per_kwp: float = 800.0
    battery_capex_usd_per_kwh: float = 300.0
    battery_capex_usd_per_kw: float = 250.0
    pv_om_frac_per_year: float = 0.01
    battery_om_frac_per_year: float = 0.025
    battery_cycle_life: float = 6000.0
    battery_calendar_life_years: float = 15.0
    battery_replacement_frac: float = 0.6
    discount_rate: float = 0.08
    lifetime_years: int = 25
    pen_per_usd: float | None = None

    def __post_init__(self) -> None:
        self._non_negative("pv_capex_usd_per_kwp", "battery_capex_usd_per_kwh",
                           "battery_capex_usd_per_kw", "pv_om_frac_per_year",
                           "battery_om_frac_per_year", "battery_replacement_frac")
        self._positive("battery_cycle_life", "battery_calendar_life_years")
        self._finite("discount_rate")
        if not 0 <= self.discount_rate < 1:
            self._fail("discount_rate", self.discount_rate, "must lie in [0, 1) per year")
        if isinstance(self.lifetime_years, bool) or not isinstance(self.lifetime_years,
                                                                   (int, np.integer)):
            self._fail("lifetime_years", self.lifetime_years, "must be a whole number of years")
        if self.lifetime_years < 1:
            self._fail("lifetime_years", self.lifetime_years, "must be >= 1 year")
        if self.pen_per_usd is not None:
            self._positive("pen_per_usd")

    def fx(self, site_pen_per_usd: float | None = None) -> float:
        """The exchange rate to use: this spec's, else the site's, else the Site default. [PEN/USD]"""
        if self.pen_per_usd is not None:
            return float(self.pen_per_usd)
        if site_pen_per_usd is not None:
            return float(site_pen_per_usd)
        from ..site import Site

        return float(Site().pen_per_usd)


def annuity_factor(rate: float, years: int) -> float:
    """Present value of 1 paid at the end of each of ``years`` years. [yr]

    Notes
    -----
    ``AF = sum_{t=1..N} (1 + r)^-t = (1 - (1 + r)^-N) / r``, and ``N`` when ``r = 0``.
    """
    if rate == 0:
        return float(years)
    return float((1.0 - (1.0 + rate) ** -years) / rate)


def capex_pen(economics: Economics, *, pv_kwp, capacity_kwh, power_kw,
              pen_per_usd: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Capital cost of the PV plant and of the battery. [PEN]

    Parameters
    ----------
    pv_kwp : float or array
        PV DC nameplate. [kWp]
    capacity_kwh : float or array
        Battery nameplate energy. [kWh]
    power_kw : float or array
        Battery converter power (the larger of charge and discharge). [kW]

    Returns
    -------
    (pv_pen, battery_pen) : tuple of arrays

    Notes
    -----
    ``PV = pv_kwp * c_pv * fx``; ``battery = (C * c_kwh + P * c_kw) * fx``, and 0 when ``C = 0``
    (no battery, so no converter either, whatever ``power_kw`` says).
    """
    fx = economics.fx(pen_per_usd)
    pv = np.asarray(pv_kwp, dtype=float) * economics.pv_capex_usd_per_kwp * fx
    cap = np.asarray(capacity_kwh, dtype=float)
    power = np.where(cap > 0, np.asarray(power_kw, dtype=float), 0.0)
    bess = (cap * economics.battery_capex_usd_per_kwh
            + power * economics.battery_capex_usd_per_kw) * fx
    return pv, bess


def battery_life_years(economics: Economics, cycles_per_year) -> np.ndarray:
    """Years until the battery is replaced: ``min(calendar life, cycle life / cycles per year)``. [yr]

    Parameters
    ----------
    cycles_per_year : float or array
        Equivalent full cycles per year. [cycles/yr]
    """
    cycles = np.asarray(cycles_per_year, dtype=float)
    cycle_years = np.full(cycles.shape, np.inf)
    with np.errstate(over="ignore"):  # a vanishing cycle count: an infinite cycle life
        np.divide(economics.battery_cycle_life, cycles, out=cycle_years, where=cycles > 0)
    return np.minimum(economics.battery_calendar_life_years, cycle_years)


def replacement_present_value(economics: Economics, *, capacity_kwh, cycles_per_year,
                              pen_per_usd: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Present value of the battery replacements within the appraisal period. [PEN]

    Notes
    -----
    With battery life ``L`` the replacements fall at ``k L`` for ``k = 1, 2, ...`` while
    ``k L < N``; each costs ``battery_replacement_frac * battery_capex_usd_per_kwh * C * fx`` and
    is discounted by ``(1 + r)^-(k L)``.

    Returns
    -------
    (present_value_pen, n_replacements) : tuple of arrays
    """
    cap = np.asarray(capacity_kwh, dtype=float)
    life = battery_life_years(economics, cycles_per_year)
    cap, life = np.broadcast_arrays(cap, life)
    n_years = economics.lifetime_years
    # number of k >= 1 with k*L < N
    n_rep = np.where(cap > 0, np.ceil(n_years / life) - 1, 0).astype(np.int64)
    n_rep = np.maximum(n_rep, 0)
    unit = economics.battery_replacement_frac * economics.battery_capex_usd_per_kwh * \
        economics.fx(pen_per_usd) * cap
    disc = np.zeros(cap.shape)
    for k in range(1, int(n_rep.max(initial=0)) + 1):
        disc += np.where(k <= n_rep, (1.0 + economics.discount_rate) ** -(k * life), 0.0)
    return unit * disc, n_rep


def npv(economics: Economics, *, investment_pen, annual_saving_pen, annual_om_pen,
        replacement_pv_pen=0.0) -> np.ndarray:
    """Net present value against a baseline. [PEN]

    Notes
    -----
    ``NPV = -I + AF (S - OM) - R`` with ``AF`` the :func:`annuity_factor`, ``S`` the annual bill
    saving against the baseline, ``OM`` the fixed O&M and ``R`` the replacements' present value.
    """
    af = annuity_factor(economics.discount_rate, economics.lifetime_years)
    return (-np.asarray(investment_pen, dtype=float)
            + af * (np.asarray(annual_saving_pen, dtype=float) - np.asarray(annual_om_pen, float))
            - np.asarray(replacement_pv_pen, dtype=float))


def simple_payback(investment_pen, annual_net_saving_pen) -> np.ndarray:
    """Undiscounted years to recover the investment: ``I / (S - OM)``; inf if never. [yr]"""
    inv = np.asarray(investment_pen, dtype=float)
    net = np.asarray(annual_net_saving_pen, dtype=float)
    inv, net = np.broadcast_arrays(inv, net)
    out = np.full(inv.shape, np.inf)
    ok = net > 0
    with np.errstate(over="ignore"):  # a vanishing saving: an infinite payback
        out[ok] = inv[ok] / net[ok]
    out[(inv <= 0) & ok] = 0.0
    return out


def lcos(economics: Economics, *, battery_capex_pen, replacement_pv_pen, discharge_kwh_per_year,
         charge_cost_pen_per_year=0.0) -> np.ndarray:
    """Levelized cost of storage: cost per kWh the battery delivers. [PEN/kWh]

    Notes
    -----
    ``LCOS = (C_bess + R + AF (OM_bess + K)) / (AF E_dis)``: capital, replacements, fixed O&M
    and the cost ``K`` of the charging energy (PV valued at its export price, its opportunity
    cost) over the discounted energy delivered. NaN when the battery delivers nothing.
    """
    af = annuity_factor(economics.discount_rate, economics.lifetime_years)
    capex = np.asarray(battery_capex_pen, dtype=float)
    om = economics.battery_om_frac_per_year * capex
    cost = capex + np.asarray(replacement_pv_pen, dtype=float) + af * (
        om + np.asarray(charge_cost_pen_per_year, dtype=float))
    energy = af * np.asarray(discharge_kwh_per_year, dtype=float)
    cost, energy = np.broadcast_arrays(cost, energy)
    out = np.full(cost.shape, np.nan)
    ok = energy > 0
    with np.errstate(over="ignore"):
        out[ok] = cost[ok] / energy[ok]
    return out


def cost_per_tonne_co2(economics: Economics, npv_pen, co2_avoided_t_per_year) -> np.ndarray:
    """Net cost per tonne of CO2 avoided (abatement cost); negative = saves money. [PEN/t]

    Notes
    -----
    ``-NPV / (AF * avoided)``: the equivalent annual net cost over the tonnes avoided per year.
    NaN when nothing is avoided (``avoided <= 0``).
    """
    af = annuity_factor(economics.discount_rate, economics.lifetime_years)
    cost = -np.asarray(npv_pen, dtype=float) / af
    avoided = np.asarray(co2_avoided_t_per_year, dtype=float)
    cost, avoided = np.broadcast_arrays(cost, avoided)
    out = np.full(cost.shape, np.nan)
    ok = avoided > 0
    with np.errstate(over="ignore"):
        out[ok] = cost[ok] / avoided[ok]
    return out


#: Columns :func:`appraise` returns: name -> (unit, meaning).
APPRAISAL_COLUMNS: dict[str, tuple[str, str]] = {
    "capex_pv_pen": ("PEN", "PV capital cost"),
    "capex_bess_pen": ("PEN", "battery capital cost"),
    "om_pen_per_year": ("PEN/yr", "fixed O&M of PV and battery"),
    "bess_life_years": ("yr", "battery life: min(calendar, cycle life / cycles per year)"),
    "bess_replacements": ("-", "battery replacements within the appraisal period"),
    "replacement_pv_pen": ("PEN", "present value of the replacements"),
    "eac_pen_per_year": ("PEN/yr", ("equivalent annual cost: annualized capex + replacements, "
                                    "O&M and the grid bill")),
    "npv_vs_grid_pen": ("PEN", "NPV of PV + battery against grid only"),
    "npv_vs_pv_pen": ("PEN", "NPV of the battery against PV only"),
    "payback_vs_grid_years": ("yr", "simple payback of PV + battery against grid only"),
    "payback_vs_pv_years": ("yr", "simple payback of the battery against PV only"),
    "lcos_pen_per_kwh": ("PEN/kWh", "levelized cost of storage"),
    "cost_per_tco2_vs_grid_pen": ("PEN/t", "net cost per tonne CO2 avoided against grid only"),
    "cost_per_tco2_vs_pv_pen": ("PEN/t", "net cost per tonne CO2 avoided against PV only"),
}


def appraise(economics: Economics, *, pv_kwp, capacity_kwh, power_kw, cycles_per_year,
             discharge_kwh_per_year, bill_pen_per_year, bill_grid_only_pen_per_year,
             bill_pv_only_pen_per_year, co2_t_per_year, co2_grid_only_t_per_year,
             co2_pv_only_t_per_year, charge_cost_pen_per_year=0.0,
             pen_per_usd: float | None = None, index=None) -> pd.DataFrame:
    """All economics of one or many designs, against both baselines.

    Parameters
    ----------
    pv_kwp : float or array
        PV DC nameplate. [kWp]
    capacity_kwh, power_kw : float or array
        Battery energy and converter power. [kWh], [kW]
    cycles_per_year : float or array
        Equivalent full cycles. [cycles/yr]
    discharge_kwh_per_year : float or array
        AC energy the battery delivers. [kWh/yr]
    bill_pen_per_year, bill_grid_only_pen_per_year, bill_pv_only_pen_per_year : float or array
        Annual electricity bill (energy + demand charges - export income) of the design and of
        the two baselines. [PEN/yr]
    co2_t_per_year, co2_grid_only_t_per_year, co2_pv_only_t_per_year : float or array
        Annual CO2 of grid imports of the design and the baselines. [t/yr]
    charge_cost_pen_per_year : float or array
        Cost of the energy used to charge the battery (for LCOS). [PEN/yr]
    index : pandas.Index, optional
        Index of the returned table.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`APPRAISAL_COLUMNS`.
    """
    pv_pen, bess_pen = capex_pen(economics, pv_kwp=pv_kwp, capacity_kwh=capacity_kwh,
                                 power_kw=power_kw, pen_per_usd=pen_per_usd)
    rep_pv, n_rep = replacement_present_value(economics, capacity_kwh=capacity_kwh,
                                              cycles_per_year=cycles_per_year,
                                              pen_per_usd=pen_per_usd)
    om_pv = economics.pv_om_frac_per_year * pv_pen
    om_bess = economics.battery_om_frac_per_year * bess_pen
    bill = np.asarray(bill_pen_per_year, dtype=float)
    save_grid = np.asarray(bill_grid_only_pen_per_year, dtype=float) - bill
    save_pv = np.asarray(bill_pv_only_pen_per_year, dtype=float) - bill
    af = annuity_factor(economics.discount_rate, economics.lifetime_years)
    npv_grid = npv(economics, investment_pen=pv_pen + bess_pen, annual_saving_pen=save_grid,
                   annual_om_pen=om_pv + om_bess, replacement_pv_pen=rep_pv)
    npv_pv = npv(economics, investment_pen=bess_pen, annual_saving_pen=save_pv,
                 annual_om_pen=om_bess, replacement_pv_pen=rep_pv)
    co2 = np.asarray(co2_t_per_year, dtype=float)
    columns = {
        "capex_pv_pen": pv_pen,
        "capex_bess_pen": bess_pen,
        "om_pen_per_year": om_pv + om_bess,
        "bess_life_years": battery_life_years(economics, cycles_per_year),
        "bess_replacements": n_rep,
        "replacement_pv_pen": rep_pv,
        "eac_pen_per_year": (pv_pen + bess_pen + rep_pv) / af + om_pv + om_bess + bill,
        "npv_vs_grid_pen": npv_grid,
        "npv_vs_pv_pen": npv_pv,
        "payback_vs_grid_years": simple_payback(pv_pen + bess_pen, save_grid - om_pv - om_bess),
        "payback_vs_pv_years": simple_payback(bess_pen, save_pv - om_bess),
        "lcos_pen_per_kwh": lcos(economics, battery_capex_pen=bess_pen, replacement_pv_pen=rep_pv,
                                 discharge_kwh_per_year=discharge_kwh_per_year,
                                 charge_cost_pen_per_year=charge_cost_pen_per_year),
        "cost_per_tco2_vs_grid_pen": cost_per_tonne_co2(
            economics, npv_grid, np.asarray(co2_grid_only_t_per_year, dtype=float) - co2),
        "cost_per_tco2_vs_pv_pen": cost_per_tonne_co2(
            economics, npv_pv, np.asarray(co2_pv_only_t_per_year, dtype=float) - co2),
    }
    arrays = np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in columns.values()])
    n = arrays[0].size
    frame = pd.DataFrame({k: a.reshape(-1) for k, a in zip(columns, arrays)},
                         index=index if index is not None else pd.RangeIndex(n))
    frame["bess_replacements"] = frame["bess_replacements"].astype(np.int64)
    return frame
