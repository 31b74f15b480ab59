"""The test Home Assistant itself: it runs, the token works, the entities exist with units."""

from __future__ import annotations

import pytest

from .conftest import _request

# one worker starts the session's Home Assistant (xdist --dist loadgroup)
pytestmark = pytest.mark.xdist_group("home_assistant")


def test_onboarding_token_reads_the_configured_entities(home_assistant):
    status, states = _request(f"{home_assistant.url}/api/states", token=home_assistant.token)
    assert status == 200
    units = {s["entity_id"]: s["attributes"].get("unit_of_measurement") for s in states}
    assert units["sensor.battery_soc"] == "%"
    assert units["sensor.pv_power"] == "W"
    assert units["sensor.load_power"] == "kW"
    assert units["sensor.grid_export_energy"] == "Wh"
    assert "input_select.inverter_mode" in units


def test_a_wrong_token_is_refused(home_assistant):
    status, _ = _request(f"{home_assistant.url}/api/states", token="not-a-token")
    assert status == 401
