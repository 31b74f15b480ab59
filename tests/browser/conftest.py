"""Jupyter servers on 127.0.0.1 and headless Chromium for the browser tests.

The two front ends people explore in, JupyterLab (``make lab``) and the classic notebook
interface (Notebook 7, ``make notebook``), start with the options those targets use (read from
the Makefile), a random free port and a token, on a folder of copies of notebooks with small
parameters (so the 2-core CI runs them in a few minutes); playwright drives Debian's chromium
(``/usr/bin/chromium``, installed by the Makefile's ``chromium`` target), never a downloaded
browser. Without chromium or playwright the tests skip, except under
``PVBESS_REQUIRE_BROWSER=1`` (``.ci/run``), where they fail.
"""

from __future__ import annotations

import ast
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from pvbess.config import NOTEBOOKS_DIR, PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
#: Small runs of the notebooks: no optimal dispatch; a 3 x 2 x 2 sweep (PV scale swept too, so
#: the explorer has a slider beyond its axes).
SMOKE = {
    "01_annual_simulation.ipynb": {"run_optimal": False},
    "03_sizing_sweep.ipynb": {"capacity_kwh_values": [0.0, 1000.0, 2000.0],
                              "power_kw_values": [200.0, 400.0], "pv_scale_values": [0.8, 1.0]},
}


def _require(reason: str) -> None:
    if os.environ.get("PVBESS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"PVBESS_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def jupyter_options() -> list[str]:
    """The options of ``make lab`` and ``make notebook`` (``JUPYTER_OPTIONS``), one per item."""
    text = (PROJECT_ROOT / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(r"^JUPYTER_OPTIONS\s*:?=(.*)$", text, re.MULTILINE)
    assert match, "the Makefile defines no JUPYTER_OPTIONS"
    return match.group(1).split()


def smoke_copy(name: str, folder: Path) -> Path:
    """A copy of a notebook whose parameters cell holds the SMOKE values."""
    nb = nbformat.read(str(NOTEBOOKS_DIR / name), as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    lines = cell.source.splitlines()
    for key, value in SMOKE[name].items():
        i = next(i for i, ln in enumerate(lines) if ln.startswith(f"{key}:"))
        annotation = lines[i].split("=", 1)[0]
        lines[i] = f"{annotation}= {value!r}  # smoke run"
    cell.source = "\n".join(lines)
    ast.parse(cell.source)
    path = folder / name
    nbformat.write(nb, str(path))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 180) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the Jupyter server exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the Jupyter server did not answer in {timeout_s} s:\n{log.read_text()}")


@dataclass(frozen=True)
class FrontEnd:
    """A Jupyter front end: its ``jupyter`` subcommand, the config class of its options and the
    page of one notebook (``{stem}``, ``{name}``)."""

    command: str
    app: str
    notebook_page: str


#: JupyterLab (``make lab``) and the classic notebook interface, Notebook 7 (``make notebook``).
FRONT_ENDS = {
    # a workspace per notebook: the notebook alone, not the tabs an earlier test left open
    "lab": FrontEnd("lab", "LabApp", "/lab/workspaces/{stem}/tree/{name}"),
    "notebook": FrontEnd("notebook", "JupyterNotebookApp", "/notebooks/{name}"),
}


@dataclass(frozen=True)
class Server:
    """A running Jupyter server: its front end, base URL, token and notebook folder."""

    kind: str
    base: str
    token: str
    folder: Path

    def notebook_url(self, name: str) -> str:
        page = FRONT_ENDS[self.kind].notebook_page.format(stem=Path(name).stem, name=name)
        return f"{self.base}{page}?token={self.token}"

    def api(self, path: str, method: str = "GET"):
        """A call of the server's REST API; the decoded JSON (None when empty)."""
        request = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Stop the kernels of every session (each run notebook holds one)."""
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")


def _settings(root: Path) -> Path:
    """User settings for either front end: every cell in the DOM (no windowing, for the
    assertions), no news and no update check (no network)."""
    settings = root / "settings"
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    notices = settings / "@jupyterlab" / "apputils-extension"
    notices.mkdir(parents=True)
    (notices / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return settings


def _command(kind: str, root: Path, folder: Path, port: int, token: str) -> list[str]:
    front = FRONT_ENDS[kind]
    options = [o for o in jupyter_options() if not o.startswith("--ServerApp.root_dir")]
    command = [sys.executable, "-m", "jupyter", front.command, *options, f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={folder}", "--no-browser",
               f"--{front.app}.user_settings_dir={_settings(root)}",
               f"--{front.app}.workspaces_dir={root / 'workspaces'}",
               f"--{front.app}.expose_app_in_browser=True"]  # window.jupyterapp: run all cells
    if kind == "lab":  # no network: no news feed, no update check
        command += ["--LabApp.news_url=None",
                    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    return command


@pytest.fixture(scope="module", params=list(FRONT_ENDS))
def server(request, tmp_path_factory):
    """A running Jupyter server, JupyterLab then Notebook 7 (one at a time), on a folder of the
    SMOKE notebooks; stopped afterwards with the kernels it started."""
    if shutil.which("jupyter", path=os.path.dirname(sys.executable)) is None:
        _require("jupyter is not installed beside this Python")
    kind = request.param
    root = tmp_path_factory.mktemp(kind)
    folder = root / "notebooks"
    folder.mkdir()
    for name in SMOKE:
        smoke_copy(name, folder)
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "MPLBACKEND": "Agg", "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
           "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_ROOT),
                                                     os.environ.get("PYTHONPATH", "")) if p)}
    log = root / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(_command(kind, root, folder, port, token), cwd=root, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/api/status?token={token}", proc, log)
        yield Server(kind, base, token, folder)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and the kernels it started
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium under playwright."""
    if not CHROMIUM.exists():
        _require(f"{CHROMIUM} is missing (as root: apt-get install -y chromium; make chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
