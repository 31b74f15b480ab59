"""``python -m pvbess.live --config site.yaml`` against the real test Home Assistant."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from pvbess.config import PROJECT_ROOT
from pvbess.scheduler.db import Database

from .helpers import SECTION, set_meters

pytestmark = pytest.mark.xdist_group("home_assistant")


def site_yaml(tmp_path, url: str):
    site = {"site": {"timezone": "America/Lima", "period_h": 1, "database": "live.sqlite"},
            "battery": {"capacity_kwh": 10, "power_charge_kw": 5, "power_discharge_kw": 5,
                        "soc_min": 0.1, "soc_max": 0.9, "soc_initial": 0.5},
            "prices": {"buy": [0.3] * 6 + [0.6] * 12 + [1.0] * 4 + [0.6] * 2, "sell": 0.1},
            "fallback": {"load_kwh": 0.8, "pv_kwh": [0] * 7 + [1.5] * 10 + [0] * 7},
            "home_assistant": {**SECTION, "url": url, "token_env": "PVBESS_HA_TOKEN"}}
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    return path


def run(path, token: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PVBESS_HA_TOKEN": token,
           "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "pvbess.live", "--config", str(path), "--once"],
                          capture_output=True, text=True, env=env, timeout=300)


def test_one_tick_plans_the_rest_of_today_and_writes_it(home_assistant, tmp_path):
    set_meters(home_assistant, meter_soc=50.0, meter_pv_w=0.0, meter_load_w=500.0)
    done = run(site_yaml(tmp_path, home_assistant.url), home_assistant.token)
    assert done.returncode == 0, done.stderr
    assert "started at" in done.stderr and "wrote" in done.stderr
    with Database(tmp_path / "live.sqlite", read_only=True) as db:
        scenarios = [r[0] for r in db.conn.execute("SELECT scenario FROM schedules")]
    assert scenarios == ["restart"]


def test_an_invalid_token_stops_it_with_a_clear_error(home_assistant, tmp_path):
    done = run(site_yaml(tmp_path, home_assistant.url), "not-a-token")
    assert done.returncode == 2
    assert done.stderr.startswith("pvbess.live: Home Assistant at") and \
        "refused the access token" in done.stderr and "Traceback" not in done.stderr
