"""Re-plans of a plan's tail: the DP's backward pass reused for a tail of the planned problem.

A scheduler re-plans the rest of the day after every period (:mod:`pvbess.scheduler`). The
backward induction of the DP (:func:`pvbess.optimize.dp._backward`) depends on the periods'
arrays, the energy grid and the terminal value, not on the initial energy. So the plan of
``problem.tail(start, measured_kwh)`` (:meth:`pvbess.SchedulingProblem.tail`: the same arrays
from period ``start``, a problem owns its arrays) needs only the rows of ``problem``'s value
function from ``start`` on, and the forward pass from the measured state.

:class:`BackwardCache` keeps the last backward pass and hands out its rows for a tail of the
problem it was computed for; any other problem gets its own pass. It keeps the last forward pass
too: a plant that ran the plan starts the next re-plan exactly at the energy the plan stored for
that period, and from there the forward pass is the last one's suffix. The plan is the same either
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
        # the last forward pass: (root, its first period, the backward entry it read, soe,
        # block, code, whether its initial energy was at least e_min)
        self._forward: tuple | None = None
        self.hits = 0
        self.misses = 0
        self.forward_hits = 0

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

    def forward(self, problem: SchedulingProblem
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The last forward pass's ``(soe, block, code)`` from ``problem``'s first period on, when
        ``problem`` is a tail of that pass's problem on the same backward pass and starts, bit
        for bit, at the energy that pass stored for that period (a plant that ran the plan);
        else None. A period of the pass sees only the energy it starts from, its own inputs and
        the value rows (and whether the pass began at least at ``e_min``), so from there the
        pass is its own suffix."""
        kept = self._forward
        if kept is None:
            return None
        k_root, k_start, k_backward, soe, block, code, at_least_min = kept
        root, start = problem.tail_of or (problem, 0)
        cut = start - k_start
        e0 = problem.initial_kwh
        if (k_root is not root or k_backward is not self._last or not 0 <= cut < len(code)
                or float(soe[cut]).hex() != float(e0).hex()
                or (e0 >= problem.e_min_kwh) != at_least_min):
            return None
        self.forward_hits += 1
        return soe[cut:], block[:, cut:], code[cut:]

    def keep_forward(self, problem: SchedulingProblem, soe: np.ndarray, block: np.ndarray,
                     code: np.ndarray, violations: int) -> None:
        """Keep ``problem``'s forward pass (made on the last backward pass) for :meth:`forward`
        (not one that broke a hard import cap: its suffixes would need their own count)."""
        if violations:
            self._forward = None
            return
        for a in (soe, block, code):
            a.setflags(write=False)  # handed out again: nobody may change them
        root, start = problem.tail_of or (problem, 0)
        self._forward = (root, start, self._last, soe, block, code,
                         problem.initial_kwh >= problem.e_min_kwh)

    def __repr__(self) -> str:
        return (f"BackwardCache({self.hits} reused, {self.misses} computed, "
                f"{self.forward_hits} forward passes reused)")
