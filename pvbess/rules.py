"""The six-phase dispatch rules of the Iquitos site (../shared/specs/six_phase_dispatch.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._spec import SpecBase


@dataclass(frozen=True)
class SixPhaseRules(SpecBase):
    """Clock hours and thresholds of the six-phase rules. Defaults are the Iquitos design.

    Hours are local clock times of the step start (06:15 is 6.25); they must be ordered
    ``charge_start_h <= ev_start_h <= peak_start_h <= close_h`` and
    ``ev_start_h <= closure_start_h < close_h``.

    Parameters
    ----------
    charge_start_h : float
        Phase 1 (morning charge from PV) begins. [h]
    ev_start_h : float
        Chargers open; phases 2/3/5 begin. [h]
    peak_start_h : float
        Peak shaving allowed from here. [h]
    closure_start_h : float
        The evening "dual discharge" toward soc_min starts. [h]
    close_h : float
        Chargers close; phase 6 (idle) until charge_start_h. [h]
    hold_soc : float
        At or above this SOC the battery holds (no more charging). [-]
    peak_threshold_kw : float
        Mall grid draw above this is shaved. [kW]
    export_limit_kw : float
        PV export cap; PV above it is curtailed (``inf`` = unlimited). [kW]
    """

    charge_start_h: float = 6.0
    ev_start_h: float = 9.0
    peak_start_h: float = 10.0
    closure_start_h: float = 17.0
    close_h: float = 22.0
    hold_soc: float = 0.99
    peak_threshold_kw: float = 1900.0
    export_limit_kw: float = math.inf

    def __post_init__(self) -> None:
        self._hour("charge_start_h", "ev_start_h", "peak_start_h", "closure_start_h", "close_h")
        self._fraction("hold_soc")
        self._non_negative("peak_threshold_kw", allow_inf=True)
        self._non_negative("export_limit_kw", allow_inf=True)
        order = [("charge_start_h", "ev_start_h"), ("ev_start_h", "peak_start_h"),
                 ("peak_start_h", "close_h"), ("ev_start_h", "closure_start_h")]
        for early, late in order:
            if getattr(self, early) > getattr(self, late):
                self._fail(early, getattr(self, early),
                           f"must not be after {late} = {getattr(self, late)!r}")
        if self.closure_start_h >= self.close_h:
            self._fail("closure_start_h", self.closure_start_h,
                       f"must be before close_h = {self.close_h!r}")
