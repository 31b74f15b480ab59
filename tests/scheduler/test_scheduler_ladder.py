"""bill_ladder(): one replay per forecast lined up between the exact bound and no battery."""

from __future__ import annotations

import pytest
from sched_synthetic import STEP_KWH, make_site, small_battery

from pvbess.studies.forecast_value import LADDER_COLUMNS, bill_ladder
from pvbess.timeseries import DataError

SITE = make_site(days=2, seed=8)
KW = dict(battery=small_battery(), energy_step_kwh=STEP_KWH, progress=False)


def test_options_of_a_forecast_not_replayed_are_unused_and_a_typo_is_an_error():
    """Notebook 04 passes the noisy forecast's options whatever forecasts a user picks."""
    table, results = bill_ladder(SITE, ["persistence"],
                                 forecast_options={"noisy": {"seed": 1}}, **KW)
    assert list(results) == ["persistence"] and list(table.columns) == list(LADDER_COLUMNS)
    assert list(table.index) == ["exact_bound", "perfect_foresight_dp", "replay_persistence",
                                 "six_phase_rules", "no_battery"]
    assert table.loc["exact_bound", "total_cost_pen"] <= table["total_cost_pen"].min() + 1e-6
    with pytest.raises(DataError, match="nosiy"):
        bill_ladder(SITE, ["noisy"], forecast_options={"nosiy": {"seed": 1}}, **KW)
