"""One palette: the same colour for each energy source and sink in every figure.

Both the static report (matplotlib, :mod:`pvbess.plotting`) and the interactive views
(plotly, :mod:`pvbess.plotting.interactive`) take their colours from here, so "PV to the mall" or
"grid import" looks the same on all 16 figures and in the notebooks.

Colours are hex strings (matplotlib and plotly both accept them).
"""

from __future__ import annotations

#: Colour per source, sink or quantity (hex). Keys are short names used by the figures.
COLORS: dict[str, str] = {
    # sources
    "pv": "#f2a900",            # PV generation (amber)
    "pv_direct": "#ffc845",     # PV used directly on site (EV + mall)
    "bess": "#2a9d8f",          # battery delivering (teal)
    "grid": "#6c757d",          # grid import (diesel grid, grey)
    # sinks
    "ev": "#7b2cbf",            # EV charging (purple)
    "mall": "#1d4e89",          # mall load (navy)
    "demand": "#111111",        # total demand EV + mall (black line)
    "bess_charge": "#8ecae6",   # battery charging (light blue, drawn negative)
    "export": "#e76f51",        # PV exported to the grid (coral)
    "curtailed": "#9d0208",     # PV curtailed (dark red)
    "losses": "#adb5bd",        # battery conversion losses (light grey)
    "stored": "#457b9d",        # net change of stored energy
    # states and thresholds
    "soc": "#2a9d8f",
    "outside_window": "#e9ecef",  # SOC outside the battery's usable window (light grey band)
    "threshold": "#d62828",     # peak threshold line (red, dashed)
    "co2": "#495057",
    "baseline_no_pv": "#343a40",
    "baseline_pv_only": "#f4a261",
}

#: Background colours of the six dispatch phases (light, used as bands behind a day).
PHASE_COLORS: dict[int, str] = {
    1: "#fff3bf",  # morning charge from PV
    2: "#d3f9d8",  # day: charging / available
    3: "#d0ebff",  # holding
    4: "#ffe3e3",  # peak shaving
    5: "#f3d9fa",  # battery to EV / closure
    6: "#f1f3f5",  # night, idle
}

#: Short names of the phases, for legends.
PHASE_NAMES: dict[int, str] = {
    1: "1 morning charge",
    2: "2 day, charging",
    3: "3 holding",
    4: "4 peak shaving",
    5: "5 EV / closure",
    6: "6 night",
}


def color(name: str) -> str:
    """The colour of a source, sink or quantity; a clear KeyError names the known keys."""
    try:
        return COLORS[name]
    except KeyError:
        raise KeyError(f"no colour for {name!r}; known: {sorted(COLORS)}") from None


#: Colour per strategy where strategies are compared (learned controllers, notebook 05): the
#: optimum black, the references in greys and red, one colour per learning algorithm.
STRATEGY_COLORS: dict[str, str] = {
    "exact": "#111111",         # the LP bound (optimum)
    "scheduler": "#6c757d",     # the forecast-driven scheduler's replay
    "six_phase": "#d62828",     # the six-phase rules
    "no_battery": "#adb5bd",    # no battery (PV only)
    "SAC": "#e76f51",
    "PPO": "#2a9d8f",
    "A2C": "#7b2cbf",
}


def strategy_color(name: str) -> str:
    """The colour of a strategy row: ``scheduler_<forecast>`` is the scheduler's, an agent row
    ``<algorithm>_s<seed>`` its algorithm's; a clear KeyError names the known ones."""
    key = "scheduler" if name.startswith("scheduler_") else name
    if key not in STRATEGY_COLORS and "_s" in key:
        key = key.rsplit("_s", 1)[0]
    try:
        return STRATEGY_COLORS[key]
    except KeyError:
        raise KeyError(f"no colour for strategy {name!r}; known: {sorted(STRATEGY_COLORS)}"
                       ) from None
