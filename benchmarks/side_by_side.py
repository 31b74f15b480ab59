"""Every speed target of the README, measured side by side in one run.

Runs the benchmark scripts one after another, each in a fresh process (so first calls load the
numba cache as a user's would), prints their output as it comes, then repeats the lines that
state a target (``target``, ``OK``, ``MISSED``) in one list, with the load average before and
after and the run's wall time. Run it on quiet cores: anything else running makes every number
slower (this VM's speed also drifts by 30-40 % on its own; compare runs, not single numbers).

Usage: ``.venv/bin/python benchmarks/side_by_side.py [--skip NAME ...] [--only NAME ...]``
(NAME: a script's name without ``bench_`` and ``.py``, e.g. ``replay``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: (name, arguments): the scripts whose numbers the README's speed targets are.
SCRIPTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("first_call", ()),
    ("replay", ()),
    ("dp_corpus", ()),
    ("sweep", ()),
    ("sweep_optimal", ()),
    ("report", ()),
)

_MARKS = ("target", " OK", "MISSED")


def run(name: str, args: tuple[str, ...]) -> tuple[float, list[str]]:
    """Run ``bench_<name>.py``; returns its wall time and its lines that state a target."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(HERE / f"bench_{name}.py"), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=HERE.parent)
    marked = []
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        if any(mark in line for mark in _MARKS):
            marked.append(line.rstrip())
    if proc.wait() != 0:
        marked.append(f"bench_{name}.py FAILED (exit {proc.returncode})")
    return time.perf_counter() - t0, marked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", nargs="*", default=[], help="scripts to leave out")
    parser.add_argument("--only", nargs="*", default=None, help="run only these scripts")
    args = parser.parse_args()
    names = [n for n, _ in SCRIPTS]
    for name in (args.only or []) + args.skip:
        if name not in names:
            parser.error(f"unknown script {name!r}; one of {names}")
    chosen = [(n, a) for n, a in SCRIPTS
              if n not in args.skip and (args.only is None or n in args.only)]
    load0, t0 = os.getloadavg()[0], time.perf_counter()
    summary = []
    for name, script_args in chosen:
        print(f"\n===== bench_{name}.py =====", flush=True)
        wall, marked = run(name, script_args)
        summary.append((name, wall, marked))
    print(f"\n===== side by side: {len(chosen)} scripts in {time.perf_counter() - t0:.0f} s, "
          f"load average {load0:.2f} before, {os.getloadavg()[0]:.2f} after =====")
    failed = False
    for name, wall, marked in summary:
        print(f"bench_{name}.py ({wall:.0f} s)")
        for line in marked:
            print(f"    {line.strip()}")
            failed |= "FAILED" in line
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
