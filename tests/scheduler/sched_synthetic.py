"""Small deterministic site tables and batteries for the scheduler tests (also imported by the
crash-test child process, so both sides build exactly the same data)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pvbess import Battery

TZ = "America/Lima"


def make_site(days: int = 3, dt_h: float = 1.0, seed: int = 7, start: str = "2024-03-01",
              scale: float = 0.1) -> pd.DataFrame:
    """pv_kwh, ev_kwh, mall_kwh [kWh per period] shaped like Iquitos, ``scale`` x its size."""
    n = int(round(days * 24 / dt_h))
    index = pd.date_range(start, periods=n, freq=pd.Timedelta(hours=dt_h), tz=TZ)
    hour = np.asarray(index.hour + index.minute / 60.0, dtype=float)
    rng = np.random.default_rng(seed)
    day_k = rng.uniform(0.45, 1.0, days).repeat(int(round(24 / dt_h)))
    pv = 3000.0 * np.clip(np.sin((hour - 6.0) / 12.0 * np.pi), 0.0, None) * day_k
    mall = (500.0 + 1700.0 * ((hour >= 10) & (hour < 22))) * rng.uniform(0.85, 1.15, n)
    ev = np.where((hour >= 9) & (hour < 22), 40.0 + 8.0 * (hour - 9), 0.0)
    return pd.DataFrame({"pv_kwh": pv * scale * dt_h, "ev_kwh": ev * scale * dt_h,
                         "mall_kwh": mall * scale * dt_h}, index=index)


def small_battery(**changes: float) -> Battery:
    """The Iquitos battery at a tenth of its size (200 kWh, 40 kW)."""
    fields = dict(capacity_kwh=200.0, power_charge_kw=40.0, power_discharge_kw=40.0,
                  soc_min=0.2, soc_initial=0.5)
    fields.update(changes)
    return Battery.from_round_trip(0.95, **fields)


#: DP grid step for the small battery (160 states): fast and plenty for these tests. [kWh]
STEP_KWH = 1.0
