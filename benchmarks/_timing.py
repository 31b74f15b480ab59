"""The timing every benchmark script shares (run as scripts, they import it from their folder)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """The fastest of ``repeat`` calls of ``fn``: its wall time [s] and its result (so that the
    times a result reports match the time printed beside it)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        elapsed = time.perf_counter() - t0
        if elapsed < best:
            best, out = elapsed, res
    return best, out
