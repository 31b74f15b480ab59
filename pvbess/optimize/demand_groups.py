"""The demand-charge groups of a full-bill problem, as the cap search needs them.

Each group (a billing period x a tariff window, e.g. January x HP) has a mask of periods, a price
per kW of its peak import power and an incumbent peak; groups must be disjoint (the DP takes one
import cap per period). Groups whose spans overlap form a *block* (one calendar month for a
monthly tariff): the cap search (:mod:`pvbess.optimize.cap_search`) searches a block's caps
together; blocks are coupled only through the stored energy at their boundaries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..timeseries import DataError

__all__ = ["DemandGroups"]


class DemandGroups:
    """Validated demand-charge groups: period -> group index, prices, incumbents, blocks."""

    def __init__(self, demand_charges: Sequence[tuple[Any, float]], incumbent: Any, t: int,
                 dt: float) -> None:
        masks, prices = [], []
        for mask, price in demand_charges:
            m = np.asarray(mask, dtype=bool).reshape(-1)
            if m.shape[0] != t:
                raise DataError(f"demand_charges: mask length {m.shape[0]} != periods {t}")
            p = float(price)
            if not (math.isfinite(p) and p >= 0):
                raise DataError(f"demand_charges: price {price!r} [currency/kW] must be >= 0")
            if m.any():
                masks.append(m)
                prices.append(p)
        self.n = len(masks)
        self.masks = masks
        self.price = np.array(prices, dtype=float)
        if incumbent is None:
            inc = np.zeros(len(demand_charges))
        else:
            inc = np.asarray(incumbent, dtype=float).reshape(-1)
            if inc.shape[0] != len(demand_charges):
                raise DataError(f"incumbent_peaks_kw: length {inc.shape[0]} != number of "
                                f"demand-charge groups {len(demand_charges)}")
            if not (np.isfinite(inc).all() and (inc >= 0).all()):
                raise DataError("incumbent_peaks_kw [kW]: must be finite and >= 0")
        keep = [i for i, (mask, _) in enumerate(demand_charges)
                if np.asarray(mask, dtype=bool).any()]
        self.incumbent = inc[keep] if len(keep) else np.zeros(0)
        self.of = np.full(t, -1, dtype=np.int64)
        for g, m in enumerate(masks):
            if (self.of[m] >= 0).any():
                raise DataError("demand_charges: groups overlap (the DP takes one cap per "
                                "period); use disjoint masks, e.g. month x window")
            self.of[m] = g
        self.first = np.array([int(np.flatnonzero(m)[0]) for m in masks], dtype=np.int64)
        self.last = np.array([int(np.flatnonzero(m)[-1]) for m in masks], dtype=np.int64)
        # blocks: groups whose spans overlap, in time order -> [(start, end, [groups])]
        order = np.argsort(self.first, kind="stable")
        blocks: list[tuple[int, int, list[int]]] = []
        for g in order:
            s, e = int(self.first[g]), int(self.last[g]) + 1
            if blocks and s < blocks[-1][1]:
                bs, be, gs = blocks[-1]
                blocks[-1] = (bs, max(be, e), gs + [int(g)])
            else:
                blocks.append((s, e, [int(g)]))
        self.blocks = blocks
        self.dt = dt

    def soft_caps(self, caps: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-period soft cap [kWh] and penalty [currency/kWh] for group caps [kW]."""
        icap = np.full(t, np.inf)
        ipen = np.full(t, np.inf)
        inside = self.of >= 0
        icap[inside] = caps[self.of[inside]] * self.dt
        ipen[inside] = self.price[self.of[inside]] / self.dt
        return icap, ipen

    def peaks(self, grid_import_kwh: np.ndarray) -> np.ndarray:
        """Peak import power per group. [kW]"""
        return np.array([float(grid_import_kwh[m].max()) / self.dt for m in self.masks])

    def demand_cost(self, grid_import_kwh: np.ndarray) -> float:
        """``sum_g price_g * max(P_g0, peak_g)``. [currency]"""
        if self.n == 0:
            return 0.0
        return float(self.price @ np.maximum(self.incumbent, self.peaks(grid_import_kwh)))
