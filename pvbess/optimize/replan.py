"""Re-plans of a plan's tail: the DP's backward pass reused for a tail of the planned problem.

A scheduler re-plans the rest of the day after every period (:mod:`pvbess.scheduler`). The
backward induction of the DP (:func:`pvbess.optimize.dp._backward`) depends on the periods'
arrays, the energy grid and the terminal value, not on the initial energy. So the plan of
``problem.tail(start, measured_kwh)`` (:meth:`pvbess.SchedulingProblem.tail`: the same arrays
from period ``start``, a problem owns its arrays) needs only the rows of ``problem``'s value
function from ``start`` on, and the forward pass from the measured state.

:class:`BackwardCache` keeps the last backward pass and hands out its rows for a tail of the
problem it was computed for; any other problem gets its own pass. The plan is the same either
way (tests/scheduler/test_replan.py holds it so). Whether a re-plan's forecasts are unchanged is
the caller's question (the scheduler's engine compares them and then plans a tail).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .dp import _backward_pass
from .problem import SchedulingProblem

__all__ = ["BackwardCache"]


class BackwardCache:
    """The last backward pass of the DP, reused for a re-plan of a tail of its problem.

    Pass one to :func:`pvbess.optimize.dp.dp_schedule` (``tails=``) for a sequence of plans of
    :meth:`~pvbess.SchedulingProblem.tail` s of one problem (the scheduler's engine keeps one).
    ``hits`` and ``misses`` count the reuses and the backward passes run.
    """

    def __init__(self) -> None:
        # (root problem, its first period the pass starts at, grid scalars, v, fast, block_min)
        self._last: tuple[SchedulingProblem, int, tuple, np.ndarray, np.ndarray,
                          np.ndarray] | None = None
        self.hits = 0
        self.misses = 0

    def backward(self, problem: SchedulingProblem, args: tuple, *grid: Any
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``_backward_pass(args, grid)`` for ``problem`` (``args`` its kernel arguments,
        ``grid`` ``e_lo, h, n, terminal value, e_min, i_min``): the value function, the fast-path
        flags and the forward pass's block minima; the last pass's rows when ``problem`` is a tail
        of the problem that pass was made for, on the same grid."""
        root, start = problem.tail_of or (problem, 0)
        last = self._last
        if last is not None and last[0] is root and start >= last[1] and grid == last[2]:
            self.hits += 1
            cut = start - last[1]
            return last[3][cut:], last[4][cut:], last[5][cut:]
        v, fast, block_min = _backward_pass(args, grid)
        self.misses += 1
        self._last = (root, start, grid, v, fast, block_min)
        return v, fast, block_min

    def __repr__(self) -> str:
        return f"BackwardCache({self.hits} reused, {self.misses} computed)"
