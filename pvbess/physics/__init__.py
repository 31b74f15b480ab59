"""The one battery physics and the one site meter (numba; plain floats, most also arrays).

Every model in pvbess that moves energy through the battery calls these functions: the six-phase
rules and the other strategies (:mod:`pvbess.dispatch`), the batch runs, the DP and its plan
evaluator (:mod:`pvbess.optimize`), the scheduler's simulated plant and the reports. No other
module writes a battery or meter formula.

- :mod:`pvbess.physics.storage`: the battery (storage update, power and window limits, losses,
  wear, equivalent full cycles, the round-trip split);
- :mod:`pvbess.physics.site_meter`: the site meter (setpoint -> charge, discharge, import,
  export, curtailment, with export, import and hybrid-inverter limits), built on the battery.

Import the names from here (``pvbess.physics.X``); the two modules are how the code is filed.

The ``@njit(cache=True)`` functions are also callable from Python (those marked "floats or
arrays" also with NumPy arrays). numba's on-disk cache does not notice edits to a function
called from another module: after editing these modules, delete every ``__pycache__/*.nbi`` and
``*.nbc`` under ``pvbess/`` so that the kernels calling these helpers are recompiled.
"""

from __future__ import annotations

from .site_meter import (
    CHARGE_ANY,
    CHARGE_CODES,
    CHARGE_PV,
    CHARGE_SOURCES,
    CHARGE_SURPLUS,
    charge_bound,
    clip_setpoint,
    discharge_bound,
    import_cap,
    import_caps,
    meter,
    meter_cost,
    resolve_charge_source,
    site_step,
    source_bound,
    surplus_deficit,
    within_limits,
)
from .storage import (
    TOL_KWH,
    ac_flows,
    apply_step,
    charge_limit,
    clamp_energy,
    deliverable,
    discharge_limit,
    energy_change,
    equivalent_full_cycles,
    move_range,
    removed_energy,
    split_round_trip,
    step_loss,
    stored_energy,
    trajectory,
    wear_cost,
)

__all__ = [
    "CHARGE_ANY",
    "CHARGE_CODES",
    "CHARGE_PV",
    "CHARGE_SOURCES",
    "CHARGE_SURPLUS",
    "TOL_KWH",
    "ac_flows",
    "apply_step",
    "charge_bound",
    "charge_limit",
    "clamp_energy",
    "clip_setpoint",
    "deliverable",
    "discharge_bound",
    "discharge_limit",
    "energy_change",
    "equivalent_full_cycles",
    "import_cap",
    "import_caps",
    "meter",
    "meter_cost",
    "move_range",
    "removed_energy",
    "resolve_charge_source",
    "site_step",
    "source_bound",
    "split_round_trip",
    "step_loss",
    "stored_energy",
    "surplus_deficit",
    "trajectory",
    "wear_cost",
    "within_limits",
]
