"""The tables and figures of notebook 05 from a hand-made score table (no training): the
seeds' spread, the learning curves as shares, the representative seed, the held-out week, the
headline JSON, the months' split; and the figures drawn with units, the scenario and no
overlapping text."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from test_figure_layout import _draw, _overlap

import pvbess
from pvbess.bill import BILL_COLUMNS
from pvbess.learn.agents import TrainedAgent
from pvbess.learn.scores import (
    BATTERY_COLUMNS,
    SCORE_COLUMNS,
    LearnedScores,
    share_of_optimal_saving,
    split_months,
)
from pvbess.learn.tables import (
    CURVE_TABLE_COLUMNS,
    SPREAD_STATS,
    SUMMARY_COLUMNS,
    learning_curves,
    policy_week,
    representative_rows,
    scores_headline,
    seed_summary,
)
from pvbess.plotting import learned as figures
from pvbess.report import jsonable

SHARE = "optimal_saving_share_frac"
REFS = {"exact": 100.0, "six_phase": 120.0, "no_battery": 200.0, "scheduler_persistence": 110.0}


def _table(bills: dict[str, list[float]]) -> pd.DataFrame:
    """A score table: the reference rows, then ``<algorithm>_s<seed>`` rows with these bills."""
    rows = {name: {"total_cost_pen": cost, "seed": np.nan} for name, cost in REFS.items()}
    for algorithm, costs in bills.items():
        for seed, cost in enumerate(costs):
            rows[f"{algorithm}_s{seed}"] = {"total_cost_pen": cost, "seed": float(seed),
                                            "train_time_s": 10.0 + seed}
    table = pd.DataFrame.from_dict(rows, orient="index")
    for column in (*BILL_COLUMNS, *SCORE_COLUMNS):
        if column not in table:
            table[column] = 0.5 * table["total_cost_pen"]
    table[SHARE] = share_of_optimal_saving(table["total_cost_pen"], 200.0, 100.0)
    return table


def _scores(bills: dict[str, list[float]], hours: int = 24 * 9) -> LearnedScores:
    table = _table(bills)
    index = pd.date_range("2025-04-01 13:00", periods=hours, freq="h", tz="America/Lima")
    rng = np.random.default_rng(0)
    battery = {name: pd.DataFrame(rng.uniform(0, 1000, (hours, 3)), index=index,
                                  columns=list(BATTERY_COLUMNS))
               for name in table.index if not name.startswith("scheduler_")}
    agents = {}
    for name in table.index[table["seed"].notna()]:
        algorithm, seed = name.split("_s")
        curve = pd.DataFrame({"timesteps": [0, 168, 200, 336, 400],
                              "kind": ["evaluation", "training", "evaluation", "training",
                                       "evaluation"],
                              "total_cost_pen": [200.0, 900.0, 150.0, 700.0, 120.0]})
        agents[name] = TrainedAgent(algorithm, None, int(seed), 400, 10.0, 1.0, 1.0, curve)
    references = pd.DataFrame({"exact": [500.0, 100.0], "no_battery": [1000.0, 200.0]},
                              index=pd.Index(["train", "test"], name="months"))
    return LearnedScores(table, agents, battery, references, "a test scenario")


@settings(max_examples=30, deadline=None)
@given(bills=st.dictionaries(st.sampled_from(["SAC", "PPO", "A2C"]),
                             st.lists(st.floats(50.0, 400.0), min_size=1, max_size=5),
                             min_size=1))
def test_seed_summary_is_the_spread_over_seeds(bills):
    table = _table(bills)
    summary = seed_summary(table)
    assert list(summary.index) == [*REFS, *bills]
    assert list(summary.columns) == [("seeds", "n"), *((q, s) for q in SUMMARY_COLUMNS
                                                     for s in SPREAD_STATS)]
    for algorithm, costs in bills.items():
        costs = np.array(costs)
        shares = (200.0 - costs) / 100.0
        assert summary.loc[algorithm, ("seeds", "n")] == len(costs)
        row = summary.loc[algorithm]
        assert row[("total_cost_pen", "mean")] == pytest.approx(costs.mean())
        assert row[(SHARE, "min")] == pytest.approx(shares.min())
        assert row[(SHARE, "max")] == pytest.approx(shares.max())
        if len(costs) > 1:
            assert row[(SHARE, "std")] == pytest.approx(shares.std(ddof=1), abs=1e-12)
            low, mean, high = (row[(SHARE, s)] for s in ("min", "mean", "max"))
            assert low - 1e-12 <= mean <= high + 1e-12
        else:
            assert np.isnan(row[(SHARE, "std")])
    for name in REFS:  # a reference is one value: no spread
        assert summary.loc[name, ("seeds", "n")] == 1
        assert np.isnan(summary.loc[name, ("total_cost_pen", "std")])


@pytest.mark.parametrize("shares,expected", [([0.2], 0), ([0.5, 0.1], 1), ([0.3, 0.9, 0.1], 0),
                                             ([0.4, 0.1, 0.3, 0.2], 3)])
def test_the_representative_seed_is_the_lower_median(shares, expected):
    table = _table({"PPO": [200.0 - 100.0 * s for s in shares]})
    assert representative_rows(table) == {"PPO": f"PPO_s{expected}"}


def test_learning_curves_are_shares_against_their_months():
    scores = _scores({"PPO": [130.0, 150.0], "SAC": [180.0]})
    curves = learning_curves(scores)
    assert list(curves.columns) == list(CURVE_TABLE_COLUMNS)
    assert len(curves) == 3 * 5 and set(curves["algorithm"]) == {"PPO", "SAC"}
    evaluation = curves[curves["kind"] == "evaluation"]
    np.testing.assert_allclose(evaluation[SHARE], (200.0 - evaluation["total_cost_pen"]) / 100.0)
    training = curves[curves["kind"] == "training"]  # against the training months' bound
    np.testing.assert_allclose(training[SHARE], (1000.0 - training["total_cost_pen"]) / 500.0)
    scores.agents.clear()
    assert learning_curves(scores).empty


def test_policy_week_shows_the_bound_the_rules_and_each_median_agent():
    scores = _scores({"PPO": [130.0, 150.0, 110.0], "A2C": [210.0]})
    week = policy_week(scores)
    assert list(week.columns.get_level_values(0).unique()) == ["exact", "six_phase", "PPO_s0",
                                                               "A2C_s0"]
    assert week.index[0] == pd.Timestamp("2025-04-02", tz="America/Lima")  # first midnight
    assert len(week) == 7 * 24
    for name in ("exact", "PPO_s0"):
        source = scores.battery[name].loc[week.index]
        np.testing.assert_array_equal(week[(name, "soe_end_kwh")], source["soe_end_kwh"])
        np.testing.assert_allclose(week[(name, "setpoint_kwh")],
                                   source["bess_charge_kwh"] - source["bess_discharge_kwh"])
    assert len(policy_week(scores, start="2025-04-09")) == 24 + 13  # to the end: 04-10 12:00
    with pytest.raises(pvbess.DataError, match="2025-05-01"):
        policy_week(scores, start="2025-05-01")


def test_the_headline_is_strict_json():
    scores = _scores({"PPO": [130.0, 150.0]})
    headline = scores_headline(scores, seed_summary(scores.table), run_id="x")
    text = json.dumps(jsonable(headline), allow_nan=False)
    back = json.loads(text)
    assert back["run_id"] == "x" and back[SHARE]["exact"] == 1.0
    assert back["summary"]["PPO"]["seeds"] == 2
    assert back["summary"]["PPO"]["mean"] == pytest.approx(0.6)
    assert back["summary"]["exact"]["std"] is None  # NaN: one value, no spread
    assert back["references"]["train"] == {"exact": 500.0, "no_battery": 1000.0}


def test_share_of_the_optimal_saving():
    assert share_of_optimal_saving(150.0, 200.0, 100.0) == 0.5
    assert share_of_optimal_saving(250.0, 200.0, 100.0) == -0.5  # worse than no battery
    assert np.isnan(share_of_optimal_saving(150.0, 100.0, 100.0))  # nothing to save


def test_months_split_into_training_and_held_out():
    site = pvbess.load_iquitos()[["pv_kwh", "ev_kwh", "mall_kwh"]]
    train, test = split_months(site, ("2025-01", "2025-02"), ("2025-03-01", "2025-03-03"))
    assert (train.index[0], train.index[-1]) == (site.index[0], site.loc["2025-02"].index[-1])
    assert len(test) == 3 * 24
    for bad, words in [((("2025-01", "2025-03"), ("2025-03", "2025-04")), "overlap"),
                       ((("2026-01", "2026-02"), ("2025-03", "2025-03")), "no period"),
                       ((("2025-01", "2025-02"), ("March", "2025-03")), "March")]:
        with pytest.raises(pvbess.DataError, match=words):
            split_months(site, *bad)


# -- the figures and the display table ------------------------------------------------------------
LONG = ("[a_run_id] BESS 2,000 kWh / 400 kW, charging from pv · trained 2025-01-01 to "
        "2025-09-30, held out 2025-10-01 to 2025-12-31 · full bill, CO2 at 0.05 PEN/kg")


def _texts_overlap(fig: Figure) -> list[str]:
    """Texts that overlap each other or do not fit inside the figure."""
    _, boxes = _draw(fig)
    frame = fig.bbox
    outside = [f"{t.get_text()[:30]!r} outside" for t, b in boxes
               if b.x0 < frame.x0 - 1 or b.x1 > frame.x1 + 1 or b.y0 < frame.y0 - 1
               or b.y1 > frame.y1 + 1]
    return outside + [f"{a.get_text()[:30]!r} x {b.get_text()[:30]!r}"
                      for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:]
                      if _overlap(ba, bb)]


def _numeric_axes_without_units(fig: Figure) -> list[str]:
    return [f"axes {i}" for i, ax in enumerate(fig.axes) if ax.axison
            and not all("[" in lab for lab in (ax.get_ylabel(), ax.get_xlabel()) if lab)]


@pytest.mark.parametrize("bills", [{"PPO": [130.0]}, {"SAC": [150.0, 170.0, 90.0],
                                                      "A2C": [260.0, 230.0]}])
def test_the_score_figure(bills):
    scores = _scores(bills)
    fig = figures.plot_scores(scores.table, LONG)
    assert fig.get_suptitle().replace("\n", " · ").count("held out 2025-10-01") == 1
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("share of the optimal saving [%]")
    ticks = sorted(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels())))
    words = [w for _, w in ticks][::-1]  # top down: best first
    assert words[0] == "exact optimum (LP)"
    summary = seed_summary(scores.table, (SHARE,))
    ranked = summary[(SHARE, "mean")].sort_values(ascending=False)
    assert words == [figures.strategy_words(n) if n in REFS
                     else figures.strategy_words(n, len(bills[n])) for n in ranked.index]
    assert ax.get_xlim()[0] < min(0.0, scores.table[SHARE].min() * 100.0)  # worse than none: shown
    assert not _texts_overlap(fig)


def test_the_learning_curve_figure_and_its_missing_panel():
    scores = _scores({"PPO": [130.0, 150.0], "SAC": [180.0]})
    curves = learning_curves(scores)
    fig = figures.plot_learning_curves(curves, LONG, scores.table)
    assert "full bill, CO2 at 0.05 PEN/kg" in fig.get_suptitle()
    assert fig.axes[0].get_ylabel() == "share of the optimal saving [%]"
    assert all(ax.get_xlabel() == "training steps [periods]" for ax in fig.axes)
    labels = fig.axes[1].get_legend_handles_labels()[1]
    assert {"PPO, seed 0", "PPO, seed 1", "SAC, seed 0", "six-phase rules",
            "scheduler, persistence forecast"} <= set(labels)
    assert not _texts_overlap(fig) and not _numeric_axes_without_units(fig)
    only_training = figures.plot_learning_curves(curves[curves["kind"] == "training"], "s")
    assert not only_training.axes[1].axison  # says there is nothing, no empty axes
    assert "no evaluation points" in only_training.axes[1].texts[0].get_text()


def test_the_policy_week_figure():
    scores = _scores({"PPO": [130.0, 150.0]})
    fig = figures.plot_policy_week(policy_week(scores), LONG, pvbess.Tariff())
    assert "[a_run_id]" in fig.get_suptitle() and "7 held-out days" in fig.get_suptitle()
    energy, setpoint = fig.axes
    assert energy.get_ylabel() == "stored energy at the end [kWh]"
    assert setpoint.get_ylabel() == "battery setpoint (+ charge) [kWh]"
    labels = energy.get_legend_handles_labels()[1]
    # the median of two seeds is the worse: seed 1 (share 0.5 against 0.7)
    assert labels == ["HP hours", "exact optimum (LP)", "six-phase rules", "PPO, seed 1"]
    assert not _texts_overlap(fig)
    with pytest.raises(pvbess.DataError):
        figures.plot_policy_week(pd.DataFrame(), "s")


def test_the_display_table():
    scores = _scores({"PPO": [130.0, 150.0], "SAC": [180.0]})
    shown = figures.score_display(seed_summary(scores.table))
    assert list(shown.index) == ["exact optimum (LP)", "six-phase rules", "no battery (PV only)",
                                 "scheduler, persistence forecast", "PPO (2 seeds)",
                                 "SAC (1 seed)"]
    column = "share of the optimal saving [%]"
    assert shown.loc["PPO (2 seeds)", column] == "60.0 ± 14.1"
    assert shown.loc["SAC (1 seed)", column] == "20.0"
    assert shown.loc["exact optimum (LP)", "grid bill [PEN]"] == "100"
    assert shown.loc["exact optimum (LP)", "training time [s]"] == "n/a"
