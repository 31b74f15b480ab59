"""Benchmark of ``pvbess.simulate`` against its compiled kernel and a plain-Python loop.

Prints (numbers, never asserts), for one year of the Iquitos site (8,760 hourly steps) under the
six-phase rules:

- the median time of ``pvbess.simulate`` (input checks, kernel, the balance table; the calendar
  of the index is computed once and reused; target <= 2 ms);
- the median time of the compiled kernel alone (``pvbess.dispatch.run``);
- the median time of the same kernel source run as plain Python: every numba function of
  :mod:`pvbess.dispatch` and :mod:`pvbess.physics` (both its modules) rebound to its
  ``py_func`` (numba's ``run.py_func`` alone would still call the compiled step functions),
  once on the kernel's arrays (NumPy scalars in the loop) and once on Python lists (Python
  floats, the faster of the two); each output is checked to be bit-identical to the kernel's;
- the ratios (target: simulate >= 30x faster than the faster plain-Python loop).

Run: ``.venv/bin/python benchmarks/bench_simulate.py [--repeat 200] [--python-repeat 3]``.
Numbers depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import types

import numpy as np
from numba.core.registry import CPUDispatcher

# submodule imports: run as a script, ``pvbess`` may resolve through the editable install's
# finder as a bare namespace package without the lazy top-level names
from pvbess import dispatch, physics
from pvbess.balance import simulate
from pvbess.battery import Battery
from pvbess.inputs.dataset import load_iquitos
from pvbess.rules import SixPhaseRules
from pvbess.timeseries import local_hours


def plain_python_kernel() -> types.FunctionType:
    """``dispatch.run`` as plain Python: the same source, every numba function it reaches
    (the step functions, the physics helpers) replaced by its pure-Python ``py_func``."""
    # dispatch calls into the physics, whose meter calls into its storage math
    namespace = {**vars(physics.storage), **vars(physics.site_meter), **vars(dispatch)}
    for name, obj in list(namespace.items()):
        if isinstance(obj, CPUDispatcher):
            f = obj.py_func
            namespace[name] = types.FunctionType(f.__code__, namespace, f.__name__,
                                                 f.__defaults__, f.__closure__)
    return namespace["run"]


class _Floats(list):
    """A list of Python floats with the ``shape`` the kernel source reads of its inputs."""

    @property
    def shape(self) -> tuple[int]:
        return (len(self),)


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="repeats of simulate and kernel")
    parser.add_argument("--python-repeat", type=int, default=3, help="repeats of the Python loop")
    args = parser.parse_args()

    site = load_iquitos()[["pv_kwh", "ev_kwh", "mall_kwh"]]
    print(f"site: Iquitos year, {len(site)} steps; {os.cpu_count()} CPUs; load average "
          f"{os.getloadavg()[0]:.2f} (other work on the machine skews these)")
    pv, ev, mall = (site[c].to_numpy(dtype=float) for c in ("pv_kwh", "ev_kwh", "mall_kwh"))
    hour = local_hours(site.index)
    setpoint = np.zeros(len(site))
    p = dispatch.make_params(Battery(), SixPhaseRules())
    code = dispatch.SIX_PHASE

    compiled = dispatch.run(code, pv, ev, mall, hour, setpoint, 1.0, p)  # JIT warm-up / cache
    simulate(site)  # and the calendar of the index
    t_sim = median_ms(lambda: simulate(site), args.repeat)
    t_kernel = median_ms(lambda: dispatch.run(code, pv, ev, mall, hour, setpoint, 1.0, p),
                         args.repeat)

    run_py = plain_python_kernel()
    arrays = (pv, ev, mall, hour, setpoint)
    floats = [_Floats(a.tolist()) for a in arrays]
    same_np = np.array_equal(run_py(code, *arrays, 1.0, p), compiled)
    same_py = np.array_equal(run_py(code, *floats, 1.0, p.tolist()), compiled)
    t_np = median_ms(lambda: run_py(code, *arrays, 1.0, p), args.python_repeat)
    t_py = median_ms(lambda: run_py(code, *floats, 1.0, p.tolist()), args.python_repeat)

    print(f"simulate():                      median {t_sim:8.3f} ms (target <= 2 ms)")
    print(f"kernel (dispatch.run):           median {t_kernel:8.3f} ms")
    print(f"plain Python on NumPy arrays:    median {t_np:8.1f} ms (bit-identical: {same_np})")
    print(f"plain Python on Python floats:   median {t_py:8.1f} ms (bit-identical: {same_py})")
    print(f"plain Python (floats) / simulate(): {t_py / t_sim:6.1f}x (target >= 30x)")
    print(f"plain Python (floats) / kernel:     {t_py / t_kernel:6.1f}x")
    print(f"simulate() / kernel:                {t_sim / t_kernel:6.1f}x (the table around it)")


if __name__ == "__main__":
    main()
