"""pvbess.report.kernels: a kernel forked from a zygote starts as a kernel started from scratch
does (same state after the same imports), and is stopped, interrupted and shut down as
jupyter_client's own; kernels the zygote was not made for start from scratch."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import papermill
import pytest

from pvbess.config import PROJECT_ROOT
from pvbess.report import kernels
from pvbess.report.render import KERNEL_ARGUMENTS

pytestmark = pytest.mark.skipif(not kernels.fork_supported(), reason="kernels fork on Linux only")

#: What a kernel's state is after it imported what a zygote imports: everything a cell's output
#: may depend on that an import or the kernel's start could set.
STATE_CELL = r'''
import importlib, json, logging, os, random, sys, threading, warnings
from pvbess.report.kernels import PRELOAD, preloaded_pvbess_modules
for name in (*PRELOAD, *preloaded_pvbess_modules()):
    importlib.import_module(name)
import matplotlib, matplotlib.units, numba, numpy as np, pandas as pd
from ipykernel.kernelapp import IPKernelApp
numba.njit(lambda x: x + 1.0)(1.0)
shell = get_ipython()
loggers = [logging.getLogger(),
           *(logging.getLogger(n) for n in sorted(logging.root.manager.loggerDict))]
print(json.dumps({
    "cwd": os.getcwd(), "path": sys.path, "executable": sys.executable,
    "argv": [os.path.basename(sys.argv[0]),
             *(a for a in sys.argv[1:] if not a.endswith(".json"))],
    "env": {k: v for k, v in os.environ.items() if k != "JPY_PARENT_PID"},
    "parent_pid_polled": IPKernelApp.instance().parent_handle == os.getppid(),
    "own_session": os.getsid(0) == os.getpid() == os.getpgid(0),
    "stdin": os.readlink("/proc/self/fd/0").split(":")[0],
    "pandas_options": pd.describe_option(_print_desc=False),
    "rc_params": {k: str(v) for k, v in matplotlib.rcParams.items()},
    "backend": matplotlib.get_backend(), "units": sorted(map(str, matplotlib.units.registry)),
    "numpy_print": str(np.get_printoptions()), "recursion_limit": sys.getrecursionlimit(),
    "warning_filters": sorted(map(str, warnings.filters)),
    "log_handlers": sorted(
        f"{lg.name}:{type(h).__name__}:{getattr(getattr(h, 'stream', None), 'name', '')}"
        for lg in loggers if isinstance(lg, logging.Logger) for h in lg.handlers),
    "formatters": sorted(shell.display_formatter.formatters),
    "execution_count": shell.execution_count,
    "threads": sorted(t.name.split("-")[0] for t in threading.enumerate()),
    "draws": [random.random(), float(np.random.random())],
}))
'''


def _run(notebook, tmp_path, zygote=None, timeout=None) -> nbformat.NotebookNode:
    out = tmp_path / f"out-{time.monotonic_ns()}.ipynb"
    papermill.execute_notebook(
        str(notebook), str(out), progress_bar=False, request_save_on_cell_execute=False,
        extra_arguments=KERNEL_ARGUMENTS, execution_timeout=timeout,
        resources={"metadata": {"path": str(PROJECT_ROOT)}},
        kernel_manager_class=kernels.kernel_manager_class(zygote))
    return nbformat.read(str(out), as_version=4)


def _notebook(tmp_path, *sources: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / f"nb-{time.monotonic_ns()}.ipynb"
    nbformat.write(nb, str(path))
    return path


def _state(nb: nbformat.NotebookNode) -> dict:
    return json.loads("".join(nb.cells[0].outputs[0]["text"]))


@pytest.fixture(scope="module")
def kernel_env():
    """The renderer's kernel environment: this checkout first on the path, no display."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONPATH", os.pathsep.join(
            p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p))
        env.setenv("MPLBACKEND", "Agg")
        yield


def _zygote() -> kernels.KernelZygote:
    """A zygote made in the test's body: pytest names the test and its phase in the
    environment, and a zygote forks only kernels of its own environment."""
    return kernels.KernelZygote(cwd=PROJECT_ROOT)


def _start(manager) -> None:
    asyncio.run(manager.start_kernel(extra_arguments=KERNEL_ARGUMENTS, cwd=str(PROJECT_ROOT)))


def _shut_down(manager, now: bool = False) -> None:
    asyncio.run(manager.shutdown_kernel(now=now))  # also closes its zmq context


@pytest.mark.slow
def test_a_forked_kernel_starts_as_a_kernel_started_from_scratch(tmp_path, kernel_env):
    """After the same imports, a forked kernel and a fresh one agree on every piece of state
    above (the warning filters as a set: imports add them in another order, and no two of them
    match the same warning); each forked kernel draws its own random numbers."""
    notebook = _notebook(tmp_path, STATE_CELL)
    fresh = _state(_run(notebook, tmp_path))
    with _zygote() as zygote:
        first, second = (_run(notebook, tmp_path, zygote) for _ in range(2))
    for nb in (first, second):
        assert [o["name"] for o in nb.cells[0].outputs] == ["stdout"]  # nothing on stderr
    forked, other = _state(first), _state(second)
    assert forked["parent_pid_polled"] and forked["own_session"] and forked["stdin"] == "pipe"
    for key in fresh.keys() - {"draws"}:
        assert forked[key] == fresh[key], key
    assert forked["draws"][0] != other["draws"][0] and forked["draws"][1] != other["draws"][1]


@pytest.mark.slow
def test_forked_kernels_are_interrupted_shut_down_and_killed_with_their_zygote(tmp_path,
                                                                             kernel_env):
    """A kernel forked by the zygote is its child, in its own session; a cell that times out
    is interrupted (the notebook fails with the timeout); a kernel shuts down when asked, and
    closing the zygote kills one still running."""
    zygote = _zygote()
    nb = _run(_notebook(tmp_path, "import os\nprint(os.getppid(), os.getpgid(0), os.getpid())"),
              tmp_path, zygote)
    ppid, pgid, pid = map(int, nb.cells[0].outputs[0]["text"].split())
    assert ppid == zygote.pid and pgid == pid
    with pytest.raises(Exception, match="(?i)timeout|timed out"):
        _run(_notebook(tmp_path, "import time\ntime.sleep(60)"), tmp_path, zygote, timeout=1)
    managers = [zygote.kernel_manager_class(kernel_name="python3") for _ in range(2)]
    for manager in managers:
        _start(manager)
    stopped, left = (m.provisioner.process for m in managers)
    assert isinstance(stopped, kernels.ForkedKernel) and stopped.poll() is None
    _shut_down(managers[0])
    assert stopped.returncode == 0 and left.poll() is None
    zygote.close()
    assert left.poll() is not None  # the zygote killed it when it closed
    with pytest.raises(ProcessLookupError):
        os.kill(left.pid, 0)
    _shut_down(managers[1], now=True)


def test_kernels_the_zygote_was_not_made_for_start_from_scratch(tmp_path, kernel_env):
    """Another environment than the zygote's (or another command, or no zygote left): the
    kernel is jupyter_client's own subprocess, and runs."""
    with _zygote() as zygote:
        cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "x.json"]
        assert zygote.accepts(cmd, dict(os.environ, JPY_PARENT_PID="1"))
        assert not zygote.accepts(cmd, dict(os.environ, EXTRA="1"))
        assert not zygote.accepts(["python2", *cmd[1:]], os.environ)
        with pytest.MonkeyPatch.context() as env:
            env.setenv("PVBESS_TEST_OTHER_ENV", "1")
            manager = zygote.kernel_manager_class(kernel_name="python3")
            _start(manager)
            try:
                assert isinstance(manager.provisioner.process, subprocess.Popen)
            finally:
                _shut_down(manager)
    nb = _run(_notebook(tmp_path, "print(6 * 7)"), tmp_path, zygote)  # closed: from scratch
    assert nb.cells[0].outputs[0]["text"] == "42\n"


def test_a_zygote_closed_before_any_kernel_ends_at_once():
    """An early failure (a bad params file) does not wait for the zygote's imports."""
    zygote = kernels.KernelZygote(cwd=PROJECT_ROOT)
    t0 = time.monotonic()
    zygote.close()
    assert time.monotonic() - t0 < 5.0
    assert zygote._process.returncode == -signal.SIGKILL


def test_the_zygote_imports_every_pvbess_module_but_the_learned_and_live_ones():
    names = kernels.preloaded_pvbess_modules()
    assert "pvbess.report.artefacts" in names and "pvbess.plotting.interactive" in names
    assert "pvbess.scheduler.replay" in names and "pvbess.studies.sizing" in names
    assert not [n for n in names if n.startswith(kernels.PRELOAD_EXCLUDED)
                or n.endswith("__main__")]
    # modules whose import depends on the IPython shell it runs in are left to the kernels
    assert not {"ipywidgets", "tqdm", "tqdm.auto", "matplotlib.pyplot"} & set(kernels.PRELOAD)
