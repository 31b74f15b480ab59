"""JupyterLab on 127.0.0.1 and headless Chromium for the browser tests.

Lab starts with the options ``make lab`` uses (read from the Makefile), a random free port and a
token, on a folder of copies of notebooks with small parameters (so the 2-core CI runs them in
a few minutes); playwright drives Debian's chromium (``/usr/bin/chromium``, installed by the
Makefile's ``chromium`` target), never a downloaded browser. Without chromium or playwright the
tests skip, except under ``PVBESS_REQUIRE_BROWSER=1`` (``.ci/run``), where they fail.
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


def lab_options() -> list[str]:
    """The JupyterLab options of ``make lab`` (its ``LAB_OPTIONS``), one per item."""
    text = (PROJECT_ROOT / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(r"^LAB_OPTIONS\s*:?=(.*)$", text, re.MULTILINE)
    assert match, "the Makefile defines no LAB_OPTIONS"
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
            raise RuntimeError(f"JupyterLab exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer in {timeout_s} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL, token, notebook folder) of a running JupyterLab; stopped afterwards."""
    if shutil.which("jupyter", path=os.path.dirname(sys.executable)) is None:
        _require("jupyter is not installed beside this Python")
    root = tmp_path_factory.mktemp("lab")
    folder = root / "notebooks"
    folder.mkdir()
    for name in SMOKE:
        smoke_copy(name, folder)
    settings = root / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)  # every cell in the DOM (no windowing), for the assertions
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    notices = root / "settings" / "@jupyterlab" / "apputils-extension"
    notices.mkdir(parents=True)  # no network, no prompt about news
    (notices / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port, token = _free_port(), secrets.token_hex(16)
    options = [o for o in lab_options() if not o.startswith("--ServerApp.root_dir")]
    command = [sys.executable, "-m", "jupyter", "lab", *options, f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={folder}", "--no-browser",
               f"--LabApp.user_settings_dir={root / 'settings'}",
               f"--LabApp.workspaces_dir={root / 'workspaces'}",
               "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run all cells
               "--LabApp.news_url=None",  # no network: no news feed, no update check
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    env = {**os.environ, "MPLBACKEND": "Agg", "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
           "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_ROOT),
                                                     os.environ.get("PYTHONPATH", "")) if p)}
    log = root / "lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/api/status?token={token}", proc, log)
        yield base, token, folder
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
