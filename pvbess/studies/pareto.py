"""The Pareto front (non-dominated set) of two objectives, both minimised, in O(n log n)."""

from __future__ import annotations

import numpy as np

__all__ = ["pareto_front"]


def pareto_front(x, y) -> np.ndarray:
    """Which points are not dominated when both ``x`` and ``y`` are minimised.

    A point ``a`` dominates ``b`` if ``a`` is no worse in both objectives and strictly better
    in at least one. Identical points do not dominate each other, so duplicates on the front
    are all kept. Points with a NaN objective are never on the front (and dominate nothing).
    To maximise an objective, pass its negative.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        The two objectives, e.g. equivalent annual cost [PEN/yr] and annual CO2 [t/yr].

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
        True for the points on the front.

    Notes
    -----
    Sort by ``(x, y)``; walk the groups of equal ``x`` in increasing order while keeping the
    smallest ``y`` seen in earlier groups. A point is on the front iff its ``y`` equals its
    group's minimum and is strictly below every earlier group's ``y``. Sorting dominates the
    cost: O(n log n).

    Examples
    --------
    >>> pareto_front([1, 2, 3, 2], [3, 1, 2, 2]).tolist()
    [True, True, False, False]
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"pareto_front: x and y must be 1-D of equal length, got shapes "
                         f"{x.shape} and {y.shape}")
    on_front = np.zeros(x.size, dtype=bool)
    valid = np.flatnonzero(~(np.isnan(x) | np.isnan(y)))
    if valid.size == 0:
        return on_front
    xv, yv = x[valid], y[valid]
    order = np.lexsort((yv, xv))  # by x, then y
    xs, ys = xv[order], yv[order]
    # start of each group of equal x, and that group's minimum y (first after the sort)
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    group = np.cumsum(np.r_[True, xs[1:] != xs[:-1]]) - 1
    group_min = ys[starts]
    # best y over all strictly earlier groups
    best_before = np.r_[np.inf, np.minimum.accumulate(group_min)[:-1]]
    keep = (ys == group_min[group]) & (ys < best_before[group])
    on_front[valid[order[keep]]] = True
    return on_front
