"""Compile every numba kernel once and fill the on-disk cache: ``python -m pvbess.warmup``.

The set-up (``make test``, ``make report``) runs this after installing, so that a user's first
call in a fresh process loads the compiled kernels from the cache (numba ``cache=True``, files
``*.nbi``/``*.nbc`` in each module's ``__pycache__``) instead of compiling them for tens of
seconds. It calls the public entry points on tiny inputs with every argument type they pass to
the kernels in practice (each strategy, the energy-only and the full-bill DP, the general
non-convex DP path, the exact LP's plan evaluation, the batch kernel, a replay, the EV queue).

numba notices an edit to a kernel's own file, but not an edit to a kernel it calls from another
module (its cache entry then keeps the old code). So the warm-up keeps a fingerprint of every
kernel module's source beside the cache and, when any of them changed, deletes pvbess's numba
cache files before compiling: after an edit, ``make`` recompiles everything once.

Only the flat public API (``import pvbess``) is used, so this module sits at the root of the
package without reaching up the layers.
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import pvbess

PACKAGE = Path(pvbess.__file__).resolve().parent
#: A module that imports numba (at the start of a line: this module only names it).
_IMPORTS_NUMBA = re.compile(r"^(from numba[ .]|import numba)", re.MULTILINE)
#: Fingerprint of the kernel modules' sources the cache was built from.
FINGERPRINT = PACKAGE / "__pycache__" / "numba-kernels.sha256"


def kernel_modules() -> list[Path]:
    """The package's modules that define or inline numba kernels, sorted."""
    return sorted(p for p in PACKAGE.rglob("*.py") if _IMPORTS_NUMBA.search(p.read_text("utf-8")))


def sources_fingerprint() -> str:
    """SHA-256 over the paths and contents of :func:`kernel_modules`."""
    digest = hashlib.sha256()
    for path in kernel_modules():
        digest.update(str(path.relative_to(PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def clear_stale_cache() -> bool:
    """Delete pvbess's numba cache files if a kernel module changed since the last warm-up.

    Returns True when files were deleted (or there was no fingerprint yet).
    """
    current = sources_fingerprint()
    if FINGERPRINT.is_file() and FINGERPRINT.read_text().strip() == current:
        return False
    for path in PACKAGE.rglob("__pycache__/*.nb[ic]"):
        path.unlink(missing_ok=True)
    return True


def _site(days: int = 3) -> pd.DataFrame:
    """A tiny hourly site (whole local days): PV at noon, EV and mall load."""
    index = pd.date_range("2025-01-01", periods=24 * days, freq="h", tz="America/Lima")
    hour = index.hour.to_numpy()
    pv = np.clip(np.sin((hour - 6) / 12 * np.pi), 0.0, None) * 1500.0
    return pd.DataFrame({"pv_kwh": pv, "ev_kwh": 50.0 + 10.0 * (hour % 3),
                         "mall_kwh": 900.0 + 400.0 * ((hour >= 10) & (hour < 22))}, index=index)


def _day_problem(battery, sell_shift: float = 0.0, **options):
    """One day of the SchedulingProblem from plain arrays (a peer-corpus style call);
    ``sell_shift`` < 0 makes midday export prices negative (the DP's general, non-convex path)."""
    hours = np.arange(24)
    buy = np.where((hours >= 18) & (hours < 23), 0.9, 0.4)
    sell = np.where(hours < 12, 0.05, 0.1) + np.where((hours >= 10) & (hours < 15), sell_shift, 0)
    pv = np.clip(np.sin((hours - 6) / 12 * np.pi), 0.0, None) * 8.0
    load = np.full(24, 2.0)
    return pvbess.SchedulingProblem.build(buy, sell, load, pv, battery, **options)


def warm() -> list[tuple[str, float]]:
    """Call every entry point once; return ``(what, seconds)`` per call."""
    timings: list[tuple[str, float]] = []

    def timed(what: str, call, *args, **kwargs):
        t0 = time.perf_counter()
        out = call(*args, **kwargs)
        timings.append((what, time.perf_counter() - t0))
        return out

    site = _site()
    battery = pvbess.Battery()
    for strategy in sorted(s for s in pvbess.STRATEGIES if s != "schedule"):
        balance = timed(f"simulate {strategy}", pvbess.simulate, site, strategy=strategy)
    setpoint = np.zeros(len(site))
    for source in pvbess.CHARGE_SOURCES:
        timed(f"simulate schedule ({source})", pvbess.simulate, site, strategy="schedule",
              setpoint_kwh=setpoint, charge_source=source)
    timed("kpis", pvbess.kpis, balance)
    timed("plot_bess_operation", pvbess.plot_bess_operation, balance)  # figures' kernel calls
    timed("check_balance", pvbess.check_balance, balance)
    timed("simulate_many", pvbess.simulate_many, site, pd.DataFrame({"capacity_kwh": [0.0, 1e3]}))

    small = pvbess.Battery(capacity_kwh=13.5, power_charge_kw=5.0, power_discharge_kw=5.0)
    timed("optimize_schedule (energy)", pvbess.optimize_schedule, _day_problem(small))
    timed("optimize_schedule (step)", pvbess.optimize_schedule, _day_problem(small),
          energy_step_kwh=0.5)
    timed("optimize_schedule (non-convex)", pvbess.optimize_schedule,
          _day_problem(small, sell_shift=-0.3, allow_curtailment=False))
    timed("optimize_schedule (import cap)", pvbess.optimize_schedule,
          _day_problem(small, import_cap_kw=4.0))
    timed("exact_schedule", pvbess.exact_schedule, _day_problem(small))
    full = pvbess.SchedulingProblem.from_site(site, battery, pvbess.Tariff(), charge_source="pv",
                                               demand_charges=True, allow_battery_export=False)
    timed("optimize_schedule (full bill)", pvbess.optimize_schedule, full)
    timed("sweep six_phase", pvbess.sweep, site, {"capacity_kwh": [0.0, 1e3]}, progress=False)
    timed("sweep optimal", pvbess.sweep, site.iloc[:48], {"capacity_kwh": [1e3]},
          strategy="optimal", progress=False)
    timed("replay", pvbess.replay, site, forecast="persistence", days=1, compare=True,
          progress=False)
    timed("simulate_ev", pvbess.simulate_ev, site.index[:48], seed=0)
    return timings


def main(argv: list[str] | None = None) -> int:
    t0 = time.perf_counter()
    cleared = clear_stale_cache()
    timings = warm()
    FINGERPRINT.parent.mkdir(exist_ok=True)
    FINGERPRINT.write_text(sources_fingerprint() + "\n")
    quiet = "-q" in (argv if argv is not None else sys.argv[1:])
    if not quiet:
        for what, seconds in timings:
            print(f"  {what:<34} {seconds:7.2f} s")
    print(f"pvbess.warmup: numba kernels {'compiled' if cleared else 'checked'} and cached in "
          f"{time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
