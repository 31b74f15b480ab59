"""A site YAML with a demand-charge tariff: the runner plans on the full bill against the real
test Home Assistant, under the month's incumbent peak, and sends the import cap."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

import pvbess
from pvbess.live.cli import build_runner
from pvbess.scheduler.db import Database
from pvbess.scheduler.events import HistoricalDataStore

from .helpers import SECTION, TZ, Clock, client, set_meters

pytestmark = pytest.mark.xdist_group("home_assistant")

#: HP 18-22 h dear with a high demand charge; HFP cheap with a small one. [PEN/kWh, PEN/kW-month]
TARIFF = {"hp_start_h": 18, "hp_end_h": 22, "energy_hp_pen_per_kwh": 0.6,
          "energy_hfp_pen_per_kwh": 0.2, "demand_hp_pen_per_kw_month": 20.0,
          "demand_hfp_pen_per_kw_month": 2.0, "export_pen_per_kwh": 0.05}
#: What the record already holds this month: one hour importing 3 kW (the HFP incumbent).
INCUMBENT_KW = 3.0


def site(tmp_path, url: str, tariff: dict, name: str):
    raw = {"site": {"timezone": TZ, "period_h": 1, "database": f"{name}.sqlite"},
           "battery": {"capacity_kwh": 10, "power_charge_kw": 5, "power_discharge_kw": 5,
                       "soc_min": 0.1, "soc_max": 0.9, "soc_initial": 0.5},
           "tariff": tariff,
           "fallback": {"load_kwh": [0.6] * 18 + [2.0] * 4 + [0.6] * 2, "pv_kwh": 0.0},
           "home_assistant": {**SECTION, "url": url, "token_env": "PVBESS_HA_TOKEN",
                              "inverter": {**SECTION["inverter"],
                                           "import_limit": "input_number.import_limit"}}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def record_incumbent(path) -> None:
    """The month's first hour in the record: 3 kWh imported for the load."""
    ts = pd.Timestamp("2024-03-01 00:00", tz=TZ)
    with Database(path) as db:
        HistoricalDataStore(db).record_event(pvbess.HourlyEvent(
            timestamp=ts, period=0, dt_h=1.0, soe_start_kwh=5.0, soe_end_kwh=5.0, pv_kwh=0.0,
            load_kwh=INCUMBENT_KW, grid_import_kwh=INCUMBENT_KW, grid_export_kwh=0.0,
            bess_charge_kwh=0.0, bess_discharge_kwh=0.0, buy_price=0.2, sell_price=0.05))


def plan_at_one(server, path, monkeypatch):
    """The plan of a runner started at 01:00 on ``path``: (runner, HFP and HP import peaks)."""
    monkeypatch.setenv("PVBESS_HA_TOKEN", server.token)
    runner = build_runner(path, clock=Clock("2024-03-01 01:00:01"))
    runner.tick()
    plan = runner.manager.current_plan
    imported = plan.column("grid_import_kwh")
    peak = pvbess.Tariff(**TARIFF).is_peak(plan.index)
    runner.manager.db.close()
    return runner, float(imported[~peak].max()), float(imported[peak].max())


def test_a_demand_charge_tariff_plans_under_the_months_incumbent_peak(home_assistant,
                                                                      tmp_path, monkeypatch):
    set_meters(home_assistant, meter_soc=50.0, meter_pv_w=0.0, meter_load_w=600.0)
    path = site(tmp_path, home_assistant.url, TARIFF, "full")
    record_incumbent(tmp_path / "full.sqlite")
    runner, hfp_peak, hp_peak = plan_at_one(home_assistant, path, monkeypatch)
    # the manager read the incumbent from its record; the plan charges the battery for the
    # evening but never imports above it: up to it the demand charge is already paid
    assert runner.manager.peaks_kw == {"2024-03 HFP": INCUMBENT_KW}
    assert hfp_peak == pytest.approx(INCUMBENT_KW, abs=1e-6)
    assert hp_peak < 0.1  # the dear evening peak is shaved by the battery
    # energy prices from the tariff (no prices section)
    buy = runner.manager.current_plan.table["buy_price"]
    assert set(buy.round(6)) == {0.2, 0.6}
    # the inverter got the peak guard's cap of the running (HFP) period: the incumbent
    limit = float(client(home_assistant).state("input_number.import_limit")["state"])
    assert limit == pytest.approx(INCUMBENT_KW, abs=1e-6)

    # without the incumbent (a new month) the plan spreads the charging: a lower peak
    fresh = site(tmp_path, home_assistant.url, TARIFF, "fresh")
    _, fresh_peak, _ = plan_at_one(home_assistant, fresh, monkeypatch)
    assert fresh_peak < INCUMBENT_KW - 1.0
    # without demand charges the same site charges at full power through the cap
    energy_only = site(tmp_path, home_assistant.url, {**TARIFF, "demand_hp_pen_per_kw_month": 0,
                                                      "demand_hfp_pen_per_kw_month": 0}, "energy")
    record_incumbent(tmp_path / "energy.sqlite")
    _, energy_peak, _ = plan_at_one(home_assistant, energy_only, monkeypatch)
    assert energy_peak > INCUMBENT_KW + 1.0
    limit = float(client(home_assistant).state("input_number.import_limit")["state"])
    assert limit == 50.0  # no cap: the entity's max
