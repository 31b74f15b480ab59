"""The notebooks' kernels, forked from a process that has already imported what they import.

A kernel started from scratch spends about two seconds of CPU importing ipykernel, pandas,
matplotlib, numba and pvbess (and numba setting up its compiler) before its first cell; a report
runs eight of them. :class:`KernelZygote` is one process per report that imports all that once
(:data:`PRELOAD`) and then forks each kernel on request. Every kernel is still a process of its
own, started clean: its own session and process group, the environment, working directory and
arguments jupyter_client gives it, no IPython shell yet; it only finds the modules imported
(imported as a kernel would: :func:`preload`).

:func:`kernel_manager_class` is the kernel manager papermill uses: it launches a kernel from the
zygote when one is given and the kernel is the one it was made for (this interpreter's
``ipykernel_launcher``, the zygote's environment), and as jupyter_client does otherwise: also
when the zygote is gone. Only where ``os.fork`` is safe after these imports, Linux: the zygote
runs no Python thread when it forks (OpenBLAS stops its own around a fork).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

#: Modules a zygote imports before it forks kernels: those the notebooks import and the heavy
#: ones behind them, and every pvbess module but the learned controllers' (torch) and the live
#: controller's. Only modules whose import does the same with or without an IPython shell:
#: not ipywidgets (it registers its comm target when imported in a shell), tqdm.auto (it
#: picks its bar by the shell) or matplotlib.pyplot (it hooks into the shell).
PRELOAD: tuple[str, ...] = (
    "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell",
    "numpy", "pandas", "pandas.io.formats.style", "scipy.linalg", "scipy.sparse",
    "matplotlib.figure", "matplotlib.backends.backend_agg", "matplotlib.dates",
    "matplotlib.colors", "matplotlib.collections", "matplotlib.patches", "matplotlib.ticker",
    "PIL.PngImagePlugin", "plotly.graph_objects", "plotly.subplots", "plotly.io._html",
    "plotly.io._base_renderers", "sqlite3", "yaml", "highspy", "pvbess",
)
#: pvbess's modules a zygote does not import (see :data:`PRELOAD`).
PRELOAD_EXCLUDED = ("pvbess.learn", "pvbess.plotting.learned", "pvbess.live", "pvbess.warmup")

#: Variables jupyter_client sets or drops per kernel: the rest must be the zygote's own.
PER_KERNEL_ENV = ("JPY_PARENT_PID", "JPY_SESSION_NAME", "PYTHONEXECUTABLE")

#: Longest wait for a zygote's answer (the first one comes after its imports); then it is
#: ended and the kernels start from scratch. [s]
ANSWER_TIMEOUT_S = 120.0

#: The kernel command a zygote runs (after this interpreter's path).
LAUNCHER = ("-m", "ipykernel_launcher")


def fork_supported() -> bool:
    """True where kernels may be forked from a zygote (Linux)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def _zygote_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in PER_KERNEL_ENV}


# -- the renderer's side --------------------------------------------------------------------------
class KernelZygote:
    """A process that imports :data:`PRELOAD` and forks kernels on request (see the module).

    Start it with the environment and working directory of the kernels to come; it imports
    while the caller goes on. :meth:`spawn` returns a :class:`ForkedKernel` (it waits for the
    imports the first time). :meth:`close` ends it and any kernel still running; so does the
    end of this process (the zygote reads the end of its socket and stops).
    """

    def __init__(self, env: Mapping[str, str] | None = None, cwd: str | Path | None = None):
        self.env = _zygote_env(os.environ if env is None else env)
        ours, theirs = socket.socketpair()
        code = f"from pvbess.report.kernels import serve; serve({theirs.fileno()})"
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", code], pass_fds=[theirs.fileno()], env=self.env,
                cwd=cwd, stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            theirs.close()
        ours.settimeout(ANSWER_TIMEOUT_S)
        self._socket = ours
        self._reader = ours.makefile("rb")
        self._lock = threading.Lock()
        self._closed = False
        self._spawned = 0

    @property
    def pid(self) -> int:
        return self._process.pid

    @functools.cached_property
    def kernel_manager_class(self) -> type:
        """The kernel manager (:func:`kernel_manager_class`) whose kernels this zygote forks."""
        return type("KernelManager", (_manager_class(),), {"zygote": self})

    def accepts(self, cmd: list[str], env: Mapping[str, str] | None) -> bool:
        """True if this zygote can start the kernel ``cmd`` with ``env`` as Popen would."""
        return (not self._closed and self._process.poll() is None
                and list(cmd[:3]) == [sys.executable, *LAUNCHER]
                and _zygote_env(os.environ if env is None else env) == self.env)

    def _ask(self, request: dict) -> dict:
        with self._lock:
            if self._closed:
                raise OSError("the kernel zygote is closed")
            try:
                self._socket.sendall(json.dumps(request).encode() + b"\n")
                line = self._reader.readline()
            except TimeoutError:  # a zygote stuck importing: no more kernels from it
                self._closed = True
                self._process.kill()
                raise OSError(f"the kernel zygote (pid {self.pid}) did not answer in "
                              f"{ANSWER_TIMEOUT_S:.0f} s") from None
        if not line:
            raise OSError(f"the kernel zygote (pid {self.pid}) has exited")
        reply = json.loads(line)
        if "error" in reply:
            raise OSError(reply["error"])
        return reply

    def spawn(self, cmd: list[str], env: Mapping[str, str], cwd: str | Path | None
              ) -> ForkedKernel:
        """Fork a kernel that runs as ``cmd`` would (``python -m ipykernel_launcher ...``)."""
        reply = self._ask({"op": "spawn", "argv": list(cmd[3:]), "env": dict(env),
                           "cwd": None if cwd is None else str(cwd)})
        self._spawned += 1
        return ForkedKernel(self, int(reply["pid"]))

    def returncode(self, pid: int) -> int | None:
        """The exit status of a kernel it forked (as Popen's), None while it runs."""
        try:
            return self._ask({"op": "poll", "pid": pid})["returncode"]
        except OSError:  # no zygote to ask: its kernels stop with it (their parent poller)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return -signal.SIGKILL
            return None

    def close(self, timeout: float = 10.0) -> None:
        """End the zygote (it kills any kernel of it still running); at once if it forked none
        (it may still be importing)."""
        if self._closed:
            return
        with self._lock:
            self._closed = True
            self._reader.close()
            self._socket.close()
        if not self._spawned:
            self._process.kill()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> KernelZygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def preloaded_kernels(enabled: bool = True, cwd: str | Path | None = None
                      ) -> Iterator[KernelZygote | None]:
    """A :class:`KernelZygote` for the kernels of this block, with the environment of this
    process (closed at its end); None where kernels cannot be forked or when not ``enabled``."""
    if not (enabled and fork_supported()):
        yield None
        return
    zygote = KernelZygote(cwd=cwd)
    try:
        yield zygote
    finally:
        zygote.close()


class ForkedKernel:
    """A kernel forked by a :class:`KernelZygote`, with the part of ``subprocess.Popen``'s
    interface jupyter_client's provisioner uses."""

    stdin = stdout = stderr = None

    def __init__(self, zygote: KernelZygote, pid: int) -> None:
        self._zygote, self.pid = zygote, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._zygote.returncode(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:  # as Popen: never a signal to a pid that may be reused
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


@functools.cache
def _provisioner_class() -> type:
    from jupyter_client.provisioning import LocalProvisioner

    class ZygoteProvisioner(LocalProvisioner):
        """jupyter_client's local provisioner, the kernel forked from the manager's zygote."""

        async def launch_kernel(self, cmd: list[str], **kwargs: Any):
            zygote = getattr(self.parent, "zygote", None)
            env, cwd = kwargs.get("env"), kwargs.get("cwd")
            if (zygote is None or set(kwargs) - {"env", "cwd"}
                    or not zygote.accepts([os.path.expanduser(s) for s in cmd], env)):
                return await super().launch_kernel(cmd, **kwargs)
            try:
                self.process = zygote.spawn(cmd, env if env is not None else dict(os.environ),
                                            cwd)
            except OSError:  # the zygote is gone: a kernel started from scratch
                return await super().launch_kernel(cmd, **kwargs)
            self.pid = self.pgid = self.process.pid  # the kernel leads its own process group
            self.cwd = cwd or Path.cwd()
            return self.connection_info

    return ZygoteProvisioner


def kernel_manager_class(zygote: KernelZygote | None = None) -> type:
    """The kernel manager papermill uses: jupyter_client's, less the interrupt it sends a kernel
    it shuts down, its kernels forked from ``zygote`` when one is given and made for them.

    The kernel has finished (papermill has its last reply), but its handler of that reply may not
    have: a SIGINT landing there is logged by the kernel as ``KeyboardInterrupt caught in
    kernel`` on the report's output. A cell that times out is still interrupted (nbclient calls
    ``interrupt_kernel``), and a kernel that ignores the shutdown request is still killed.
    """
    return _manager_class() if zygote is None else zygote.kernel_manager_class


@functools.cache
def _manager_class() -> type:
    from jupyter_client.manager import AsyncKernelManager

    class KernelManager(AsyncKernelManager):
        zygote: KernelZygote | None = None

        async def _async_interrupt_kernel(self) -> None:
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

        async def _async_pre_start_kernel(self, **kw: Any):
            if (self.zygote is not None and self.provisioner is None
                    and not self.kernel_spec.metadata.get("kernel_provisioner")):
                self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
                self.provisioner = _provisioner_class()(
                    kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
            return await super()._async_pre_start_kernel(**kw)

    return KernelManager


# -- the zygote's side ----------------------------------------------------------------------------
def serve(fd: int) -> None:
    """The zygote's program: import :data:`PRELOAD`, then fork a kernel per request read from
    the socket ``fd`` until it closes. In a forked child this runs the kernel instead."""
    request = _serve_until_forked(fd)
    if request is not None:
        _run_kernel(request)


def preload() -> dict[str, str | None]:
    """Import :data:`PRELOAD` and :func:`preloaded_pvbess_modules`, and set up numba's compiler
    (which each kernel would do on its first numba call). A module that fails to import is
    left for the kernel, whose cell then shows the error. Returns the environment variables the
    imports set (None: removed), for the kernels, whose environment jupyter_client gives."""

    before = dict(os.environ)
    with _as_in_a_kernel():  # pandas reads its display defaults from where it is imported
        _try_import("pandas")
    for name in (*PRELOAD, *preloaded_pvbess_modules()):
        _try_import(name)
    try:
        import numba

        numba.njit(lambda x: x + 1.0)(1.0)  # loads numba's typing and LLVM once, for all
    except Exception:  # noqa: BLE001, S110 - the kernels set it up themselves then
        pass
    changed: dict[str, str | None] = {k: v for k, v in os.environ.items() if before.get(k) != v}
    return changed | {k: None for k in before if k not in os.environ}


def _try_import(name: str) -> None:
    import importlib

    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001, S110 - the notebook's own import reports it
        pass


class _KernelShell:
    """What ``get_ipython()`` returns in a Jupyter kernel, as far as pandas asks (``.kernel``)."""

    kernel = None


@contextlib.contextmanager
def _as_in_a_kernel() -> Iterator[None]:
    """What pandas asks at import, answered as in a kernel: ``get_ipython()`` has a kernel (so
    ``display.max_columns`` is 20, not 0: fit the terminal) and the output stream is UTF-8
    (ipykernel's; ``display.encoding``)."""
    import builtins
    import io

    stdout = sys.stdout
    builtins.get_ipython = _KernelShell
    sys.stdout = io.TextIOWrapper(io.BytesIO(), encoding="UTF-8")
    try:
        yield
    finally:
        sys.stdout = stdout
        del builtins.get_ipython


def preloaded_pvbess_modules() -> list[str]:
    """pvbess's modules a zygote imports: all but :data:`PRELOAD_EXCLUDED` and ``__main__``
    modules (found on disk: an excluded package is never imported to list its modules)."""
    import pkgutil

    import pvbess

    found: list[str] = []
    todo = [(pvbess.__path__, "pvbess.")]
    while todo:
        path, prefix = todo.pop()
        for info in pkgutil.iter_modules(path, prefix):
            if info.name.startswith(PRELOAD_EXCLUDED) or info.name.endswith(".__main__"):
                continue
            found.append(info.name)
            if info.ispkg:
                todo.append(([str(Path(info.module_finder.path) / info.name.rsplit(".", 1)[1])],
                             info.name + "."))
    return sorted(found)


def _serve_until_forked(fd: int) -> dict | None:
    """Serve requests; return the spawn request in a forked child, None in the zygote at the
    end (after killing any kernel still running)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the renderer ends it by closing the socket
    if sys.path and sys.path[0] == "":  # as ipykernel_launcher: the cwd is not on the path
        del sys.path[0]
    env_changes = preload()
    import gc

    gc.collect()
    gc.freeze()  # the kernels' garbage collector never walks the imported modules again
    sock = socket.socket(fileno=fd)
    reader, writer = sock.makefile("rb"), sock.makefile("wb")
    running: set[int] = set()
    done: dict[int, int] = {}
    for line in reader:
        request = json.loads(line)
        try:
            if request["op"] == "spawn":
                if threading.active_count() > 1:  # a fork would copy a lock some thread holds
                    raise RuntimeError("the zygote runs threads: it cannot fork safely")
                pid = os.fork()
                if pid == 0:
                    reader.close()
                    writer.close()
                    sock.close()
                    return {**request, "env_changes": env_changes}
                running.add(pid)
                reply: dict[str, Any] = {"pid": pid}
            else:
                reply = {"returncode": _reap(int(request["pid"]), running, done)}
        except Exception as exc:  # noqa: BLE001 - the renderer falls back to a fresh kernel
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        writer.write(json.dumps(reply).encode() + b"\n")
        writer.flush()
    for pid in running:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
    return None


def _reap(pid: int, running: set[int], done: dict[int, int]) -> int | None:
    if pid in running:
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            running.discard(pid)
            done[pid] = os.waitstatus_to_exitcode(status)
    if pid not in done and pid not in running:
        raise ValueError(f"pid {pid} is not a kernel of this zygote")
    return done.get(pid)


def _run_kernel(request: dict) -> None:
    """In the forked child: become ``python -m ipykernel_launcher <argv>`` in ``env``/``cwd``."""
    import importlib.util

    os.setsid()  # its own session and process group, as jupyter_client starts kernels
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    read, write = os.pipe()  # stdin a pipe closed at the other end, as jupyter_client's
    os.dup2(read, 0)
    os.close(read)
    os.close(write)
    if request["cwd"] is not None:
        os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for name, value in request["env_changes"].items():  # as the kernel's own imports do
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    os.environ["JPY_PARENT_PID"] = str(os.getppid())
    if "numpy" in sys.modules:  # numpy's global generator, seeded anew as in a new process
        sys.modules["numpy"].random.seed()
    sys.argv = [importlib.util.find_spec("ipykernel_launcher").origin, *request["argv"]]
    from ipykernel import kernelapp

    # the kernel stops when the zygote does (its parent poller); ipykernel read JPY_PARENT_PID
    # when the zygote imported it, so the value is given here
    kernelapp.launch_new_instance(parent_handle=os.getppid())
