"""A gymnasium environment over the site plant: one step is one period of a site table.

The plant is the rules' ``schedule`` strategy, stepped one period at a time: the kernel
:func:`pvbess.simulate` runs for ``strategy="schedule"`` (:func:`pvbess.dispatch.run`, built on
:func:`pvbess.physics.clip_setpoint` and :func:`pvbess.physics.meter`), so the flows of an
episode are exactly those of ``simulate(strategy="schedule", setpoint_kwh=env.setpoints())``.
A bad action is clipped by that physics (power, storage window, charge source, export), never by
hiding energy.

The reward is minus the period's share of the full bill (:func:`pvbess.bill.site_bill`):

- energy: ``import x buy - export x sell`` (the tariff's prices);
- demand: ``price x (new peak - old peak)`` when the period's mean import power raises its demand
  group's peak (:meth:`pvbess.Tariff.demand_charges`: month x window); the increments of an
  episode add up to :func:`pvbess.bill.demand_cost`;
- CO2: ``co2_price x factor x import``; wear: the battery's cost per kWh stored.

With the default weights (1) the rewards of an episode add up to minus ``total_cost_pen``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import dispatch
from ..balance import site_arrays
from ..battery import Battery
from ..physics import resolve_charge_source, stored_energy, wear_cost
from ..rules import SixPhaseRules
from ..scheduler.forecasts import ForecastProvider, make_forecast
from ..scheduler.replay import site_actuals
from ..site import Site
from ..step_calendar import step_calendar
from ..tariff import HFP, HP, Tariff
from ..timeseries import DataError

try:  # the rl extra: without it the module imports and the environment says what to install
    import gymnasium as gym

    _Env: type = gym.Env
except ImportError:  # pragma: no cover - exercised only without the extra
    gym = None
    _Env = object

__all__ = ["FLOW_NAMES", "OBSERVATION_NAMES", "SiteBatteryEnv"]

#: The fixed part of an observation, in order (then two per forecast period: load, PV).
OBSERVATION_NAMES: tuple[str, ...] = (
    "hour_sin", "hour_cos", "weekday", "month_sin", "month_cos", "is_peak", "stored_frac",
    "pv", "ev", "mall", "peak_hp", "peak_hfp",
)
#: Largest observation value (scaled energies beyond it are clipped: a bounded space). [-]
OBSERVATION_MAX = 100.0


class SiteBatteryEnv(_Env):
    """The site battery as a gymnasium environment (one episode = the whole site table).

    Parameters
    ----------
    site : DataFrame
        ``pv_kwh``, ``ev_kwh``, ``mall_kwh`` per period on a regular tz-aware index. [kWh]
    battery : Battery, optional
        Default ``Battery()``; each episode starts at ``battery.e_initial_kwh``.
    tariff : Tariff, optional
        Prices and demand charges (default ``Tariff()``).
    rules : SixPhaseRules, optional
        Only its ``export_limit_kw`` is used (as by ``simulate``).
    charge_source : {"any", "pv", "surplus"}
        Where the battery may charge from (default ``"pv"``, as the rules).
    allow_battery_export : bool
        Let the battery discharge into the grid.
    co2_kg_per_kwh : float, optional
        Grid emission factor (default ``Site().co2_kg_per_kwh``). [kg/kWh]
    co2_price_per_kg : float
        CO2 price on the site's import. [PEN/kg]
    energy_weight, demand_weight : float
        Weights of the energy and demand parts of the reward (1: the bill). [-]
    reward_scale : float
        The reward is ``-cost x reward_scale`` (a learner's numerical scale). [1/PEN]
    scale_kwh : float, optional
        Energies in the observation are divided by it (default: the table's largest PV or load
        per period; give the training table's value to an evaluation environment). [kWh]
    forecast : str or ForecastProvider, optional
        The scheduler's forecast provider (``"perfect"``, ``"persistence"``, ``"mean7"``,
        ``"noisy"``) for ``forecast_periods`` periods ahead (load and PV, scaled).
    forecast_periods : int
        Periods of forecast in the observation (0: none).
    """

    metadata = {"render_modes": []}

    def __init__(self, site: pd.DataFrame, battery: Battery | None = None, *,
                 tariff: Tariff | None = None, rules: SixPhaseRules | None = None,
                 charge_source: str = "pv", allow_battery_export: bool = False,
                 co2_kg_per_kwh: float | None = None, co2_price_per_kg: float = 0.0,
                 energy_weight: float = 1.0, demand_weight: float = 1.0,
                 reward_scale: float = 1.0, scale_kwh: float | None = None,
                 forecast: str | ForecastProvider | None = None, forecast_periods: int = 0
                 ) -> None:
        if gym is None:
            raise ImportError("SiteBatteryEnv needs gymnasium: pip install -e '.[rl]'")
        self.battery = Battery() if battery is None else battery
        self.tariff = Tariff() if tariff is None else tariff
        rules = SixPhaseRules() if rules is None else rules
        self.charge_source = resolve_charge_source(charge_source, None)
        self.allow_battery_export = bool(allow_battery_export)
        self.co2_kg_per_kwh = Site().co2_kg_per_kwh if co2_kg_per_kwh is None else float(
            co2_kg_per_kwh)
        for name, value in (("co2_kg_per_kwh", self.co2_kg_per_kwh),
                            ("co2_price_per_kg", co2_price_per_kg),
                            ("energy_weight", energy_weight), ("demand_weight", demand_weight),
                            ("reward_scale", reward_scale)):
            if not (np.isfinite(value) and value >= 0):
                raise DataError(f"{name} = {value!r}: must be a finite number >= 0")
        self.co2_price_per_kg = float(co2_price_per_kg)
        self.energy_weight, self.demand_weight = float(energy_weight), float(demand_weight)
        self.reward_scale = float(reward_scale)
        self.site = site
        self.pv, self.ev, self.mall, self.dt_h = site_arrays(site)
        index = site.index
        self.index = index
        self.n = len(index)
        self._hour = np.ascontiguousarray(step_calendar(index).hour_h, dtype=np.float64)
        self._p = dispatch.make_params(self.battery, rules, charge_source=self.charge_source,
                                       allow_battery_export=self.allow_battery_export)
        self.buy = np.asarray(self.tariff.energy_price(index), dtype=float)
        self.sell = self.tariff.export_pen_per_kwh
        self._groups(index)
        self._time = self._time_features(index)
        load = self.ev + self.mall
        self.scale_kwh = float(scale_kwh if scale_kwh is not None else max(
            self.pv.max(), load.max(), 1e-9))
        if not (np.isfinite(self.scale_kwh) and self.scale_kwh > 0):
            raise DataError(f"scale_kwh = {scale_kwh!r} [kWh]: must be a finite number > 0")
        self.forecast_periods = int(forecast_periods)
        if self.forecast_periods < 0 or (self.forecast_periods and forecast is None):
            raise DataError(f"forecast_periods = {forecast_periods!r}: must be >= 0, and > 0 "
                            "only with a forecast")
        self._forecast = (None if not self.forecast_periods else make_forecast(
            forecast, site_actuals(site, tariff=self.tariff)))
        size = len(OBSERVATION_NAMES) + 2 * self.forecast_periods
        self.observation_space = gym.spaces.Box(-1.0, OBSERVATION_MAX, (size,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
        self._e = self.battery.e_initial_kwh
        self._k = 0

    # -- set-up --------------------------------------------------------------------------------
    def _groups(self, index: pd.DatetimeIndex) -> None:
        """Each period's demand group (-1: none) and its month's HP and HFP groups."""
        charges = self.tariff.demand_charges(index)
        self.group_price = np.array([price for _, price, _, _ in charges], dtype=float)
        self.group = np.full(self.n, -1, dtype=np.int64)
        by_name = {}
        for j, (mask, _, _, name) in enumerate(charges):
            self.group[mask] = j
            by_name[name] = j
        month = np.asarray(index.strftime("%Y-%m"), dtype=object)
        self._month_group = np.array(
            [[by_name.get(f"{m} {HP}", -1), by_name.get(f"{m} {HFP}", -1)] for m in month],
            dtype=np.int64).reshape(self.n, 2)

    def _time_features(self, index: pd.DatetimeIndex) -> np.ndarray:
        hour = 2 * np.pi * self._hour / 24.0
        month = 2 * np.pi * (np.asarray(index.month, dtype=float) - 1) / 12.0
        return np.column_stack([np.sin(hour), np.cos(hour),
                                np.asarray(index.day_of_week, dtype=float) / 6.0, np.sin(month),
                                np.cos(month), self.tariff.is_peak(index).astype(float)])

    # -- gymnasium -----------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._k = 0
        self._e = self.battery.e_initial_kwh
        self._peak_kw = np.zeros(len(self.group_price))
        self._setpoints = np.zeros(self.n)
        self._flows = np.zeros((self.n, len(FLOW_NAMES)))
        return self._observation(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._k >= self.n:
            raise RuntimeError("step() after the episode ended: call reset()")
        k = self._k
        a = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
        power = self.battery.power_charge_kw if a > 0 else self.battery.power_discharge_kw
        sp = a * power * self.dt_h
        self._p[..., dispatch.P_E0] = self._e
        out = dispatch.run(dispatch.SCHEDULE, self.pv[k:k + 1], self.ev[k:k + 1],
                           self.mall[k:k + 1], self._hour[k:k + 1], np.array([sp]), self.dt_h,
                           self._p)[:, 0]
        flows = _flows(out)
        costs = self._costs(k, flows)
        self._e = flows[FLOW_NAMES.index("soe_end_kwh")]
        self._setpoints[k] = sp
        self._flows[k] = flows
        self._k += 1
        cost = (self.energy_weight * costs["energy_cost_pen"]
                + self.demand_weight * costs["demand_cost_pen"]
                + costs["co2_cost_pen"] + costs["wear_cost_pen"])
        info = {"setpoint_kwh": sp, **dict(zip(FLOW_NAMES, flows, strict=True)), **costs}
        done = self._k >= self.n
        return self._observation(), -cost * self.reward_scale, done, False, info

    # -- the bill's share of a period ------------------------------------------------------------
    def _costs(self, k: int, flows: np.ndarray) -> dict[str, float]:
        imp = flows[FLOW_NAMES.index("grid_import_kwh")]
        exp = flows[FLOW_NAMES.index("grid_export_kwh")]
        demand = 0.0
        g = self.group[k]
        if g >= 0:
            kw = imp / self.dt_h
            if kw > self._peak_kw[g]:
                demand = self.group_price[g] * (kw - self._peak_kw[g])
                self._peak_kw[g] = kw
        charge = flows[FLOW_NAMES.index("bess_charge_kwh")]
        return {"energy_cost_pen": imp * self.buy[k] - exp * self.sell,
                "demand_cost_pen": demand,
                "co2_cost_pen": imp * self.co2_kg_per_kwh * self.co2_price_per_kg,
                "wear_cost_pen": float(wear_cost(stored_energy(charge, self.battery.eta_charge),
                                                 self.battery.wear_cost_per_kwh))}

    def _observation(self) -> np.ndarray:
        k = min(self._k, self.n - 1)  # after the last period: the last one's features
        b = self.battery
        window = b.e_max_kwh - b.e_min_kwh
        frac = (self._e - b.e_min_kwh) / window if window > 0 else 0.0
        peaks = [self._peak_kw[g] * self.dt_h / self.scale_kwh if g >= 0 else 0.0
                 for g in self._month_group[k]]
        obs = [*self._time[k], frac, self.pv[k] / self.scale_kwh, self.ev[k] / self.scale_kwh,
               self.mall[k] / self.scale_kwh, *peaks]
        if self.forecast_periods:
            stop = min(k + 1 + self.forecast_periods, self.n)
            ahead = np.zeros((2, self.forecast_periods))
            if stop > k + 1:
                f = self._forecast.forecast_arrays(k + 1, stop)
                ahead[0, :stop - k - 1] = f["load_kwh"]
                ahead[1, :stop - k - 1] = f["pv_kwh"]
            obs += list(ahead.ravel() / self.scale_kwh)
        return np.clip(np.asarray(obs, dtype=np.float32), -1.0, OBSERVATION_MAX)

    # -- the episode ---------------------------------------------------------------------------
    def setpoints(self) -> pd.Series:
        """The setpoints applied so far (0 for the periods not yet stepped). [kWh, + charge]"""
        return pd.Series(self._setpoints.copy(), index=self.index, name="setpoint_kwh")

    def episode_flows(self) -> pd.DataFrame:
        """The flows of the periods stepped so far: :data:`FLOW_NAMES`. [kWh]"""
        return pd.DataFrame(self._flows[:self._k], index=self.index[:self._k],
                            columns=list(FLOW_NAMES))


#: The flows of a step, in ``info`` and :meth:`SiteBatteryEnv.episode_flows`. [kWh]
FLOW_NAMES: tuple[str, ...] = (
    "bess_charge_kwh", "bess_discharge_kwh", "grid_import_kwh", "grid_export_kwh",
    "pv_curtailed_kwh", "soe_end_kwh",
)


def _flows(out: np.ndarray) -> np.ndarray:
    """:data:`FLOW_NAMES` from one column of the kernel's output rows (as ``simulate`` sums
    them)."""
    d = dispatch
    imp = out[d.O_GRID_EV] + out[d.O_GRID_MALL]
    imp += out[d.O_GRID_BESS]
    charge = out[d.O_PV_BESS] + out[d.O_GRID_BESS]
    discharge = out[d.O_BESS_EV] + out[d.O_BESS_MALL]
    discharge += out[d.O_BESS_EXPORT]
    return np.array([charge, discharge, imp, out[d.O_PV_EXPORT] + out[d.O_BESS_EXPORT],
                     out[d.O_PV_CURT], out[d.O_SOC]])
