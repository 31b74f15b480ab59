"""The live site's YAML: the README's example parses, and bad sections are refused with a
DataError naming the field. (No Home Assistant needed.)"""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

import pvbess
from pvbess.config import PROJECT_ROOT
from pvbess.live.cli import SECTIONS, hourly_prices
from pvbess.live.config import home_assistant_config
from pvbess.live.inverter import SCRIPT_VARIABLES

from .helpers import SECTION

ENV = {"TEST_HA_TOKEN": "t", "PVBESS_HA_TOKEN": "t"}


def readme_site() -> dict:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    return yaml.safe_load(next(b for b in blocks if "home_assistant:" in b))


def test_the_readme_example_is_a_valid_site():
    site = readme_site()
    assert set(site) <= SECTIONS
    cfg = home_assistant_config(site["home_assistant"], environ=ENV)
    # a Growatt-style time-of-use inverter: three slots and the grid import limit
    assert len(cfg.inverter.slots) == 3 and cfg.inverter.slots[2].enabled.startswith("switch.")
    assert cfg.inverter.import_limit == "number.growatt_grid_import_limit"
    assert cfg.inverter.options["charge"] == "Battery first"
    assert cfg.stale_after_s == {"load": 900.0} and cfg.history
    tariff = pvbess.Tariff.from_yaml(site["tariff"])
    assert len(tariff.demand_charges(pd.date_range("2024-06-01", periods=24, freq="h"))) == 2
    pvbess.Battery(**site["battery"])
    index = pd.date_range("2024-06-01", periods=24, freq="h", tz="UTC")
    buy, sell = hourly_prices(site["prices"]["buy"], site["prices"]["sell"], "Europe/Madrid")(
        index)
    assert len(buy) == 24 and (sell == 0.05).all()


def test_staleness_is_opt_in_and_the_history_on_by_default():
    cfg = home_assistant_config({**SECTION, "url": "http://x"}, environ=ENV)
    assert cfg.stale_after_s == {} and cfg.history
    assert cfg.inverter.slots == () and cfg.inverter.import_limit is None


def test_the_readme_script_takes_the_variables_the_runner_sends():
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    script = yaml.safe_load(next(b for b in blocks if "pvbess_set_growatt:" in b))
    assert set(script["pvbess_set_growatt"]["fields"]) == set(SCRIPT_VARIABLES)


@pytest.mark.parametrize("change, message", [
    ({"sensors": {"soc": "sensor.soc"}}, "sensors must name exactly"),
    ({"colour": "red"}, r"unknown field\(s\) \['colour'\]"),
    ({"token_env": "NOT_SET_ANYWHERE"}, r"\$NOT_SET_ANYWHERE is not set"),
    ({"inverter": {"mode": "sensor.mode", "power": "input_number.p"}}, "must be one of the"),
    ({"inverter": {"mode": "select.m"}}, "give both 'mode' and 'power' entities"),
    ({"inverter": {"power_unit": "kW"}}, "give 'mode' and 'power' entities, a 'script' or"),
    ({"inverter": {"script": "script.s", "import_limit": "sensor.x"}}, "must be one of the"),
    ({"inverter": {"slots": [{"start": "input_datetime.a", "end": "input_datetime.b",
                              "mode": "input_select.m"}]}}, "a slot takes the entities"),
    ({"inverter": {"slots": [{"start": "sensor.a", "end": "input_datetime.b",
                              "mode": "input_select.m", "power": "number.p"}]}},
     r"slots\[0\]: start: entity 'sensor.a' must be one of"),
    ({"history": "yes"}, "history: expected true or false"),
    ({"inverter": {"script": "script.s", "power_unit": "hp"}}, "power_unit 'hp'"),
    ({"inverter": {"script": "script.s", "safe_mode": "export"}}, "safe_mode"),
    ({"stale_after_s": {"soc": 0}}, "stale_after_s"),
])
def test_a_bad_section_is_refused(change, message):
    with pytest.raises(pvbess.DataError, match=message):
        home_assistant_config({**SECTION, "url": "http://x", **change}, environ=ENV)
