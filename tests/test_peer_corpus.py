"""The bess-manager corpus (shared/reference/bess-manager, 39 scenarios).

Skipped with a clear reason when ../shared is absent (the ``shared`` fixture); CI runs it.
"""

from __future__ import annotations

import numpy as np
import pytest

from pvbess import evaluate_plan, exact_schedule, optimize_schedule, peer_scenarios
from pvbess.peer import read_peer_scenario

# Golden costs that section 1's plant does not reproduce to 1e-6, with the measured gap: the
# peer's reported cost is lower than its own trajectory costs under the meter rules (its
# curtailed-period and sub-resolution reporting adjustments). Everything else matches exactly.
KNOWN_GOLDEN_GAPS = {
    "regression_2026_08_08_143843": 0.00095,  # curtailment floor day
    "regression_2026_08_17_624": 0.00775,
}


@pytest.fixture(scope="module")
def corpus(shared):
    scenarios = peer_scenarios(shared / "reference" / "bess-manager")
    assert len(scenarios) == 39
    return scenarios


def test_reader_maps_fields(shared):
    s = read_peer_scenario(shared / "reference" / "bess-manager" / "scenarios"
                           / "synthetic_clear_sky_ac_clipping.json")
    assert s.dt_h == 0.25 and s.periods == 96
    assert s.battery.e_min_kwh == pytest.approx(1.0) and s.battery.e_max_kwh == pytest.approx(10.0)
    assert s.options["inverter_ac_limit_kw"] == pytest.approx(5.0)
    assert s.options["allow_curtailment"] is False
    # price formula: (p*1 + 0.5)*1 + 0 = p + 0.5 ; sell = p + 0
    assert np.allclose(s.buy - s.sell, 0.5)
    assert s.golden is not None and len(s.golden["soe_trajectory"]) == 97


def test_golden_trajectories_reproduce_golden_costs(corpus):
    for s in corpus:
        kw = s.kwargs()
        kw.pop("initial_kwh")
        r = evaluate_plan(soe_kwh=s.golden["soe_trajectory"], **kw)
        gap = r.cost - s.golden["battery_solar_cost"]
        allowed = KNOWN_GOLDEN_GAPS.get(s.name, 0.0)
        assert abs(gap) <= allowed + 1e-6, (s.name, gap)


def test_dp_at_most_golden_and_at_least_exact(corpus):
    for s in corpus:
        dp = optimize_schedule(**s.kwargs())
        ex = exact_schedule(**s.kwargs())
        golden = s.golden_objective()
        assert dp.objective <= golden + 0.01, (s.name, dp.objective, golden)
        assert dp.objective >= ex.objective - 1e-6, (s.name, dp.objective, ex.objective)
        assert ex.objective <= golden + 1e-6, s.name
        plan = evaluate_plan(soe_kwh=dp.soe_kwh, **{k: v for k, v in s.kwargs().items()
                                                    if k != "initial_kwh"})
        assert plan.cost == pytest.approx(dp.cost, abs=1e-9), s.name
