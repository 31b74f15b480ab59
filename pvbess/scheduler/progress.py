"""Progress of a replay: tqdm bars that move per local day, the one-time compile apart.

A year replayed hour by hour runs for tens of seconds; :func:`pvbess.replay` (``progress=True``)
shows where it is with :class:`ReplayProgress`, the same way :func:`pvbess.sweep` does (tqdm, a
widget in Jupyter, text on a console): the first period alone, since it pays the one-time compile
of the kernels (or their load from the cache), so the days' rate is the replay's own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def day_ends(horizon: pd.DatetimeIndex, first: int = 0) -> np.ndarray:
    """Positions just after the last period of each local day of ``horizon`` (which starts at
    position ``first`` of the data): where a progress bar of days moves."""
    days = horizon.tz_localize(None).normalize()
    return first + np.append(1 + np.flatnonzero(days[1:] != days[:-1]), len(horizon))


class ReplayProgress:
    """The replay's progress bars (tqdm; nothing at all when ``enabled`` is False).

    Honest progress: the first period on a bar of its own (it pays the one-time compile, or the
    load of the cached kernels), then one step per completed local day, so the rate is the
    replay's own; then one step per strategy of the comparison, named as it runs and without a
    rate (its strategies differ in work, and on a cold cache the rules compile there).
    """

    def __init__(self, enabled: bool, label: str, day_ends: np.ndarray) -> None:
        self.enabled, self.label, self.day_ends = enabled, label, day_ends
        self._ends = set(day_ends.tolist())

    def bar(self, what: str, total: int, unit: str, initial: int = 0, rate: bool = True):
        """A tqdm bar; ``rate=False`` for steps of unequal work (no rate, the elapsed time and
        the step's name, set with ``set_postfix_str``)."""
        from tqdm.auto import tqdm

        desc = f"{self.label}: {what}" if what else self.label
        fmt = None if rate else "{desc}: {n_fmt}/{total_fmt} |{bar}| [{elapsed}{postfix}]"
        return tqdm(total=total, initial=initial, unit=unit, desc=desc, bar_format=fmt,
                    disable=not self.enabled)

    def days_done(self, pos: int) -> int:
        """Local days completed once the periods before ``pos`` are recorded."""
        return int(np.searchsorted(self.day_ends, pos, side="right"))

    def ends_a_day(self, pos: int) -> bool:
        """True when the period just before position ``pos`` is the last of a local day."""
        return pos in self._ends
