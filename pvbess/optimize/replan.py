"""Re-plans of a plan's tail: the DP's backward pass reused when the tail's inputs are unchanged.

A scheduler re-plans the rest of the day after every period (:mod:`pvbess.scheduler`). The
backward induction of the DP (:func:`pvbess.optimize.dp._backward`) depends on the periods'
arrays, the energy grid and the terminal value, not on the initial energy. So when every input
of the remaining periods is what the previous plan had for them (a persistence or perfect
forecast within a day, the same prices and limits), the new value function is the previous one
without its first rows, and only the forward pass from the true state has to run.

:class:`BackwardCache` keeps the last backward pass and hands out its tail when the new inputs
equal the tail of the old ones bit for bit; otherwise the DP runs it again. The plan is the same
either way (tests/scheduler/test_replan.py holds it so).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .dp import _backward

__all__ = ["BackwardCache"]


class BackwardCache:
    """The last backward pass of the DP, reused for a re-plan of its tail.

    Pass one to :func:`pvbess.optimize.dp.dp_schedule` (``tails=``) for a sequence of plans
    over shrinking tails of one horizon (the scheduler's engine keeps one). ``hits`` and
    ``misses`` count the reuses and the backward passes run.
    """

    def __init__(self) -> None:
        self._last: tuple[np.ndarray, tuple, np.ndarray, np.ndarray] | None = None
        self.hits = 0
        self.misses = 0

    def backward(self, *args: Any) -> tuple[np.ndarray, np.ndarray]:
        """``_backward(*args)`` (the kernel arguments, then ``e_lo, h, n, tv, e_min, i_min``),
        from the last pass when ``args`` are a tail of its arguments."""
        arrays, scalars = _split(args)
        last = self._last
        if last is not None:
            offset = last[0].shape[1] - arrays.shape[1]
            if offset >= 0 and scalars == last[1] and arrays.shape[0] == last[0].shape[0] \
                    and arrays.tobytes() == last[0][:, offset:].tobytes():  # bit for bit
                self.hits += 1
                return last[2][offset:], last[3][offset:]
        v, fast = _backward(*args)
        self.misses += 1
        self._last = (arrays, scalars, v, fast)
        return v, fast

    def __repr__(self) -> str:
        return f"BackwardCache({self.hits} reused, {self.misses} computed)"


def _split(args: tuple) -> tuple[np.ndarray, tuple]:
    """The per-period arrays of a ``_backward`` call stacked into one (a copy: the cache must
    not see a caller's later writes), and its scalars."""
    arrays = np.stack([a for a in args if isinstance(a, np.ndarray)]).astype(np.float64,
                                                                            copy=False)
    scalars = tuple(a for a in args if not isinstance(a, np.ndarray))
    return arrays, scalars
