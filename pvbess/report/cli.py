"""The command line: ``python -m pvbess.report params/a.yaml [b.yaml ...]`` (``make report``).

``--strip notebooks/*.ipynb`` strips outputs from notebooks instead of rendering.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ..config import REPORTS_DIR
from . import __doc__ as _PACKAGE_DOC
from .params import ReportError
from .render import render_report
from .strip import strip_notebook


def _skip_iri_grammar() -> None:
    """This process validates no IRI: jsonschema (which nbformat loads, for papermill and
    nbconvert) then leaves out its optional IRI format checker, whose package compiles 35 Earley
    parsers when imported (about 2 s of CPU before the first kernel could start; jsonschema issue
    1428). Notebooks are validated against nbformat's schema, which has no IRI field."""
    sys.modules.setdefault("rfc3987_syntax", None)  # None: its import fails, as if not installed


def _cpu_times() -> str:
    """The CPU time of this process and of the kernels it started, for the last line (empty
    where the platform does not count a process's children: Windows)."""
    try:
        import resource
    except ImportError:  # Windows
        return ""
    kernels = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (f" (CPU: this process {time.process_time():.1f} s, its kernels "
            f"{kernels.ru_utime + kernels.ru_stime:.1f} s)")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m pvbess.report params/a.yaml [b.yaml ...]``."""
    parser = argparse.ArgumentParser(prog="python -m pvbess.report",
                                     description=_PACKAGE_DOC.split("\n\n")[0])
    parser.add_argument("params", nargs="+",
                        help="params YAML files (one report each); notebooks with --strip")
    parser.add_argument("--reports-dir", default=None, help=f"default: {REPORTS_DIR}")
    parser.add_argument("--no-progress", action="store_true", help="hide the cell progress bars")
    parser.add_argument("--jobs", "-j", type=int, default=0,
                        help="notebooks rendered at once, of any params files (default: one more "
                             "than the CPU cores, so that the cores stay busy to the end)")
    parser.add_argument("--fresh-kernels", action="store_true",
                        help="start every kernel from scratch instead of forking it from a "
                             "process that has imported what the notebooks import (the same "
                             "reports, slower)")
    parser.add_argument("--strip", action="store_true",
                        help="strip outputs from the given notebooks instead of rendering")
    args = parser.parse_args(argv)
    if args.strip:
        for path in args.params:
            print(f"{path}: {'stripped' if strip_notebook(path) else 'already clean'}")
        return 0
    t0 = time.perf_counter()
    _skip_iri_grammar()
    try:
        jobs = args.jobs or (os.cpu_count() or 1) + 1
        folders = render_report(args.params, args.reports_dir, progress=not args.no_progress,
                                jobs=jobs, preload_kernels=not args.fresh_kernels)
    except ReportError as exc:
        print(f"report FAILED after {time.perf_counter() - t0:.1f} s:\n{exc}", file=sys.stderr)
        return 1
    for folder in folders:
        pages = sorted(p.name for p in folder.glob("*.html"))
        print(f"report: {folder}/ ({', '.join(pages)})")
    print(f"index: {Path(args.reports_dir or REPORTS_DIR) / 'index.html'}")
    print(f"total wall time: {time.perf_counter() - t0:.1f} s{_cpu_times()}")
    return 0
