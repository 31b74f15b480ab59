"""pvbess: exact, fast PV + battery sizing and operation.

The public API is flat: ``pvbess.Battery``, ``pvbess.simulate``, ``pvbess.optimize_schedule``, ...
Names are imported lazily (PEP 562) so ``import pvbess`` stays fast and a notebook pays for numba,
pvlib or HiGHS only when it uses them.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    # specs and input checks
    "Battery": "battery",
    "PVPlant": "pv",
    "Site": "site",
    "Tariff": "tariff",
    "SixPhaseRules": "rules",
    "DataError": "timeseries",
    "step_hours": "timeseries",
    # --- dataset (issue 2) ---
    # --- loaders (issue 2) ---
    # --- dispatch, balance, kpis (issue 3) ---
    # --- optimal scheduling (issue 4) ---
    # --- figures and reports (issue 5) ---
    # --- sizing sweeps (issue 6) ---
    # --- event-sourced scheduler (issue 7) ---
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pvbess' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # cache: the next access skips __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
