"""A real Home Assistant core on 127.0.0.1 for the live tests.

Home Assistant lives in its own virtual environment ``.ha-venv`` (``make ha-venv``:
``scripts/ha_venv.sh``), never in the project's: it pins its own dependencies. The fixture writes
a small configuration (the inverter's mode, power, import limit and two time-of-use slots as
``input_select``/``input_number``/``input_datetime``/``input_boolean`` helpers, a script that
stands for a Growatt-style inverter's, the meters as ``input_number`` helpers shown through
``template`` sensors with their units; the recorder, history and logbook), starts ``hass`` on a free port, creates the owner user through the onboarding API and an
access token through ``/auth/token``, and stops Home Assistant at the end.

Without ``.ha-venv`` the tests skip, except under ``PVBESS_REQUIRE_HA=1`` where they fail.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from pvbess.config import PROJECT_ROOT

HA_VENV = Path(os.environ.get("PVBESS_HA_VENV", PROJECT_ROOT / ".ha-venv"))
HASS = HA_VENV / "bin" / "hass"
#: First start (it creates .storage and compiles the translations) takes longer than a warm one.
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0

#: The site the tests' Home Assistant stands for: an inverter with a mode and a power setpoint,
#: and meters (input_number helpers the tests write) shown as sensors in mixed units.
CONFIGURATION = """\
homeassistant:
  name: pvbess test site
  latitude: -3.75
  longitude: -73.25
  elevation: 100
  unit_system: metric
  time_zone: America/Lima
  currency: PEN
  country: PE

onboarding:
api:
# the recorder (sqlite in the config dir) keeps the meters' history for the runner's recovery of
# missed periods; commit_interval 0 commits every state at once (the accelerated clock asks
# for states a few seconds old); logbook says when Home Assistant stopped and started
recorder:
  commit_interval: 0
history:
logbook:
http:
  server_host: 127.0.0.1
  server_port: {port}

input_select:
  inverter_mode:
    name: Inverter mode
    options: ["Self use", "Charge", "Discharge"]
    initial: "Self use"
  slot1_mode: &slot_mode
    options: ["Self use", "Charge", "Discharge"]
    initial: "Self use"
  slot2_mode: *slot_mode
  script_mode:
    options: ["idle", "charge", "discharge"]
    initial: "idle"

input_datetime:
  slot1_start: &slot_time
    has_date: false
    has_time: true
  slot1_end: *slot_time
  slot2_start: *slot_time
  slot2_end: *slot_time

input_boolean:
  slot1_enabled:
  slot2_enabled:

input_number:
  inverter_power: &power
    name: Inverter power
    min: 0
    max: 100
    step: 0.001
    mode: box
    unit_of_measurement: kW
    initial: 0
  import_limit:
    <<: *power
    name: Grid import limit
    max: 50
    initial: 50
  slot1_power: *power
  slot2_power: *power
  script_power: *power
  script_import_limit:
    <<: *power
    min: -1
{meters}
# a Growatt-style inverter's script: the setting as variables, written to helpers the tests read
# (import_limit_kw null, no cap, shows as -1)
script:
  pvbess_set_inverter:
    fields: {{mode: {{}}, power_kw: {{}}, import_limit_kw: {{}}}}
    sequence:
      - service: input_select.select_option
        target: {{entity_id: input_select.script_mode}}
        data: {{option: "{{{{ mode }}}}"}}
      - service: input_number.set_value
        target: {{entity_id: input_number.script_power}}
        data: {{value: "{{{{ power_kw }}}}"}}
      - service: input_number.set_value
        target: {{entity_id: input_number.script_import_limit}}
        data: {{value: "{{{{ -1 if import_limit_kw is none else import_limit_kw }}}}"}}

template:
  - sensor:
      - name: Battery SOC
        unit_of_measurement: "%"
        state_class: measurement
        state: "{{{{ states('input_number.meter_soc') }}}}"
        availability: "{{{{ states('input_number.meter_soc') | float(-1) >= 0 }}}}"
      - name: PV power
        unit_of_measurement: W
        device_class: power
        state: "{{{{ states('input_number.meter_pv_w') }}}}"
      - name: Load power
        unit_of_measurement: kW
        device_class: power
        state: "{{{{ (states('input_number.meter_load_w') | float / 1000) | round(6) }}}}"
      - name: PV energy
        unit_of_measurement: kWh
        device_class: energy
        state_class: total_increasing
        state: "{{{{ states('input_number.meter_pv_kwh') }}}}"
      - name: Load energy
        unit_of_measurement: kWh
        device_class: energy
        state_class: total_increasing
        state: "{{{{ states('input_number.meter_load_kwh') }}}}"
      - name: Grid import energy
        unit_of_measurement: kWh
        device_class: energy
        state_class: total_increasing
        state: "{{{{ states('input_number.meter_import_kwh') }}}}"
      - name: Grid export energy
        unit_of_measurement: Wh
        device_class: energy
        state_class: total_increasing
        state: "{{{{ states('input_number.meter_export_kwh') | float * 1000 }}}}"
"""

#: The meters the tests write: (entity, min, max); SOC -1 makes its sensor unavailable, above
#: 100 a reading outside physical limits.
METERS = {"meter_soc": (-1, 200), "meter_pv_w": (0, 1e6), "meter_load_w": (0, 1e6),
          "meter_import_kwh": (0, 1e9), "meter_export_kwh": (0, 1e9),
          "meter_pv_kwh": (0, 1e9), "meter_load_kwh": (0, 1e9)}


def configuration(port: int) -> str:
    """The configuration.yaml of the test site on ``port``."""
    meters = "".join(f"  {name}:\n    min: {lo}\n    max: {hi}\n    step: 0.000001\n"
                     f"    mode: box\n    initial: 0\n" for name, (lo, hi) in METERS.items())
    return CONFIGURATION.format(port=port, meters=meters)


@dataclass
class HomeAssistantServer:
    """A running test Home Assistant: its URL, an owner's access token, its first start [s];
    :meth:`stop` and :meth:`start` restart it on the same port and configuration (the helpers
    come back at their ``initial`` values)."""

    url: str
    token: str
    config_dir: Path
    start_s: float
    proc: subprocess.Popen
    port: int

    def stop(self) -> None:
        stop_hass(self.proc)

    def start(self) -> float:
        """Start it again; returns the seconds until it runs (every entity set up)."""
        t0 = time.monotonic()
        self.proc = start_hass(self.config_dir, self.port)
        wait_until_up(self.url, self.proc, self.config_dir)
        wait_until_running(self.url, self.token)
        return time.monotonic() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, data: dict | None = None, *, form: bool = False,
             token: str | None = None, timeout: float = 10.0) -> tuple[int, object]:
    body, headers = None, {}
    if data is not None:
        if form:
            body = urllib.parse.urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def start_hass(config_dir: Path, port: int) -> subprocess.Popen:
    """Start ``hass`` on ``config_dir`` (already configured); its log is ``hass.out``."""
    # --skip-pip: scripts/ha_venv.sh installed every requirement of the test configuration;
    # nothing is fetched at start-up
    with open(config_dir / "hass.out", "ab") as log:
        return subprocess.Popen([str(HASS), "-c", str(config_dir), "--skip-pip"], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def wait_until_up(url: str, proc: subprocess.Popen, config_dir: Path,
                  timeout: float = START_TIMEOUT_S) -> None:
    """Poll ``/api/onboarding`` (no auth needed) until Home Assistant answers."""
    deadline = time.monotonic() + timeout
    out = config_dir / "hass.out"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hass exited with {proc.returncode}:\n" + out.read_text()[-3000:])
        text = out.read_text(errors="replace")
        if "Setup failed for" in text:  # it keeps running without the integration: fail now
            at = max(text.index("Setup failed for") - 200, 0)
            raise RuntimeError("Home Assistant could not set up an integration of the test "
                               "configuration:\n" + text[at:at + 3000])
        try:
            status, _ = _request(f"{url}/api/onboarding", timeout=2.0)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"Home Assistant did not answer on {url} within {timeout:.0f} s:\n"
                       + (config_dir / "hass.out").read_text()[-3000:])


def wait_until_running(url: str, token: str, timeout: float = START_TIMEOUT_S) -> None:
    """Poll ``/api/config`` until Home Assistant reports ``RUNNING``: it answers its API
    while it is still setting up the integrations (their entities do not exist yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, config = _request(f"{url}/api/config", token=token, timeout=2.0)
        if status == 200 and config.get("state") == "RUNNING":
            return
        time.sleep(0.2)
    raise RuntimeError(f"Home Assistant on {url} did not reach RUNNING in {timeout:.0f} s")


def stop_hass(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def onboard(url: str) -> str:
    """Create the owner through onboarding, trade its auth code for an access token."""
    client_id = f"{url}/"
    status, body = _request(f"{url}/api/onboarding/users", {
        "client_id": client_id, "name": "pvbess", "username": "pvbess",
        "password": "pvbess-test-password", "language": "en"})
    if status != 200:
        raise RuntimeError(f"onboarding refused the owner: {status} {body}")
    status, token = _request(f"{url}/auth/token", {
        "grant_type": "authorization_code", "code": body["auth_code"],
        "client_id": client_id}, form=True)
    if status != 200:
        raise RuntimeError(f"/auth/token refused the auth code: {status} {token}")
    return token["access_token"]


@pytest.fixture(scope="session")
def home_assistant(tmp_path_factory: pytest.TempPathFactory):
    """A running Home Assistant (session-wide): yields a :class:`HomeAssistantServer`."""
    if not HASS.exists():
        why = (f"Home Assistant is not installed in {HA_VENV} (make ha-venv installs it; "
               "PVBESS_HA_VENV=... points elsewhere)")
        if os.environ.get("PVBESS_REQUIRE_HA") == "1":
            pytest.fail(f"PVBESS_REQUIRE_HA=1 but {why}")
        pytest.skip(why)
    config_dir = tmp_path_factory.mktemp("ha-config")
    port = free_port()
    (config_dir / "configuration.yaml").write_text(configuration(port))
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    proc = start_hass(config_dir, port)
    try:
        wait_until_up(url, proc, config_dir)
        start_s = time.monotonic() - t0
        token = onboard(url)
        wait_until_running(url, token)
        start_s = time.monotonic() - t0
        print(f"\nHome Assistant up on {url} in {start_s:.1f} s")
        server = HomeAssistantServer(url=url, token=token, config_dir=config_dir,
                                     start_s=start_s, proc=proc, port=port)
        yield server
    finally:
        stop_hass(server.proc if "server" in locals() else proc)
