"""Behaviour baseline: the numbers of pvbess at commit 81e1ce0, equal to 1e-9 relative.

``tests/data/baseline/`` holds what the package produced before the restructure (see the
docstring of ``tests/data/baseline/record.py``: what, from which commit, why). Each test here
recomputes one recorded quantity through the public API (``pvbess.X`` names, via the
``compute_*`` functions of record.py, which call nothing else) with the *same explicit
arguments* that were recorded, and compares every number:

- the three design params files (notebook 01): balance table, summary figures, monthly KPIs;
- ``iquitos_optimal_dispatch``; the sizing sweeps (six_phase grid of notebook 03, optimal);
- ``replay`` (notebook 04 as configured, and 14 days of perfect forecast);
- ``optimize_schedule`` / ``exact_schedule`` on the Iquitos year and the bess-manager corpus;
- ``simulate_many`` and the ``kpis`` of the 5 strategies.

A failure here means behaviour changed. If the change is deliberate, re-record (run
record.py) in a commit that says which numbers moved and why; never loosen the tolerance.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import pvbess

BASELINE = Path(__file__).resolve().parent / "data" / "baseline"

# record.py is a script in a data folder, not a package: load it by path.
_spec = importlib.util.spec_from_file_location("pvbess_baseline_record", BASELINE / "record.py")
rec = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = rec
_spec.loader.exec_module(rec)

RTOL = 1e-9
# Absolute floor: many recorded values are exactly 0 or float round-off around 0 (idle flows,
# setpoint deviations, the DP's gap to the exact bound of -3e-11 PEN), where a relative tolerance
# means nothing (1e-9 of 1e-13 kWh). 1e-9 in the recorded units (kWh, kW, PEN, kg, t, fractions)
# is the package's own energy-closure tolerance and far below any physical significance.
ATOL = 1e-9

# the annual simulations and optimisations of the Iquitos year
pytestmark = pytest.mark.slow

DESIGNS = ("iquitos", "large_battery", "pv_only")


# ------------------------------------------------------------------------------ helpers
def _renamed(value: Any) -> Any:
    """The recorded value with the names renamed since the record (``rec.RENAMED``)."""
    if isinstance(value, dict):
        return {rec.RENAMED.get(k, k): _renamed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v) for v in value]
    return rec.RENAMED.get(value, value) if isinstance(value, str) else value


def _load(name: str) -> dict:
    return _renamed(json.loads((BASELINE / name).read_text(encoding="utf-8")))


def _npz(name: str) -> dict[str, np.ndarray]:
    with np.load(BASELINE / name, allow_pickle=False) as data:
        return {rec.GROUP_SEP.join(_renamed(k.split(rec.GROUP_SEP))): data[k] for k in data.files}


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(
        x, (bool, np.bool_))


def assert_values(actual: Any, expected: Any, where: str) -> None:
    """Recursive comparison of plain values: numbers to RTOL/ATOL (NaN equals NaN, inf equals
    inf), everything else (strings, bools, None, keys, lengths) exactly."""
    actual = rec.plain(actual)
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected a mapping, got {actual!r}"
        # every recorded key is still there; a key added since (a new output, e.g. the exact
        # solver's energy_cost) changes no recorded number
        missing = [k for k in expected if k not in actual]
        assert not missing, f"{where}: keys missing {missing}"
        for k in expected:
            assert_values(actual[k], expected[k], f"{where}/{k}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), \
            f"{where}: expected a list of {len(expected)}, got {actual!r}"
        if expected and all(_is_number(v) for v in expected) \
                and all(_is_number(v) for v in actual):
            np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float),
                                       rtol=RTOL, atol=ATOL, err_msg=where)
        else:
            for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
                assert_values(a, e, f"{where}[{i}]")
    elif _is_number(expected):
        assert _is_number(actual), f"{where}: expected a number {expected!r}, got {actual!r}"
        np.testing.assert_allclose(float(actual), float(expected), rtol=RTOL, atol=ATOL,
                                   err_msg=where)
    else:
        assert actual == expected, f"{where}: {actual!r} != recorded {expected!r}"


def assert_column(actual: np.ndarray, expected: np.ndarray, where: str) -> None:
    """One column against its recorded array: numbers to RTOL/ATOL, anything else exactly."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{where}: shape {actual.shape} != {expected.shape}"
    if expected.dtype.kind in "fiu" and actual.dtype.kind in "fiu":
        np.testing.assert_allclose(actual.astype(float), expected.astype(float), rtol=RTOL,
                                   atol=ATOL, err_msg=where)
    else:
        assert np.array_equal(actual.astype(expected.dtype), expected), f"{where}: values differ"


def assert_frame(actual: pd.DataFrame, expected: dict, where: str) -> None:
    """A table against its ``frame_record``: index, column order, dtypes and every value."""
    assert list(map(str, actual.columns)) == expected["columns"], f"{where}: columns differ"
    assert actual.index.name == expected["index_name"], f"{where}: index name differs"
    assert [rec.plain(v) for v in actual.index] == expected["index"], f"{where}: index differs"
    assert {str(c): str(t) for c, t in actual.dtypes.items()} == expected["dtypes"], \
        f"{where}: dtypes differ"
    for c in expected["columns"]:
        values = actual[c].tolist()
        exp = expected["data"][c]
        if actual[c].dtype.kind in "fiu":
            np.testing.assert_allclose(np.asarray(values, float), np.asarray(exp, float),
                                       rtol=RTOL, atol=ATOL, err_msg=f"{where}: column {c}")
        else:
            assert_values(values, exp, f"{where}: column {c}")


def assert_table_arrays(actual: pd.DataFrame, meta: dict, arrays: dict[str, np.ndarray],
                        group: str, where: str) -> None:
    """A per-step table against its recorded npz columns and index."""
    assert list(actual.columns) == meta["columns"], f"{where}: columns differ"
    assert {c: str(t) for c, t in actual.dtypes.items()} == meta["dtypes"], \
        f"{where}: dtypes differ"
    index_meta, ns = rec.index_record(actual.index)
    assert index_meta == meta["index"], f"{where}: index metadata differs"
    assert np.array_equal(ns, arrays[f"{group}{rec.GROUP_SEP}index_utc_ns"]), \
        f"{where}: index instants differ"
    for c in meta["columns"]:
        assert_column(rec.column_array(actual[c]), arrays[f"{group}{rec.GROUP_SEP}{c}"],
                      f"{where}: column {c}")


def assert_schedule(res, expected: dict, arrays: dict[str, np.ndarray], group: str,
                    where: str) -> None:
    """A ScheduleResult: objective and cost first, then method, summary and trajectories."""
    scal, arr = rec.schedule_record(res)
    for key in ("objective", "cost", "method", "summary"):
        assert_values(scal[key], expected[key], f"{where}: {key}")
    for key, values in arr.items():
        # an LP optimum can be non-unique: an equal objective with another trajectory means the
        # model was built or solved differently (e.g. constraint order), which also fails here
        assert_column(values, arrays[f"{group}{rec.GROUP_SEP}{key}"], f"{where}: {key}")


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def site() -> pd.DataFrame:
    return rec.site_table()


@pytest.fixture(scope="module")
def designs() -> tuple[dict, dict]:
    return _load("designs.json"), _npz("designs.npz")


# ------------------------------------------------------------------------------ 1. designs
@pytest.mark.parametrize("run_id", DESIGNS)
def test_design_balance_and_summary(site, designs, run_id):
    """Notebook 01 for params/<run_id>.yaml: balance table, summary.json figures, monthly KPIs."""
    recorded, arrays = designs
    r = recorded[run_id]
    out = rec.compute_design(site, r["params"], r["optimal_energy_step_kwh"])
    assert_table_arrays(out["balance"], r["balance"], arrays, run_id, f"{run_id} balance")
    assert_values(out["summary"], r["summary"], f"{run_id} summary")
    assert_frame(out["monthly"], r["monthly_kpis"], f"{run_id} monthly kpis")


# ------------------------------------------------------------------------------ 2. studies
def test_iquitos_optimal_dispatch():
    r = _load("optimal_dispatch.json")
    assert_frame(rec.compute_optimal_dispatch(r), r["table"], "iquitos_optimal_dispatch")


def test_sweep_six_phase(site):
    r = _load("sweeps.json")
    table, summary = rec.compute_sweep_six_phase(site, r)
    assert_frame(table, r["six_phase"], "sweep six_phase")
    assert_values(summary, r["six_phase_summary"], "sweep_summary six_phase")


def test_sweep_optimal(site):
    r = _load("sweeps.json")
    assert_frame(rec.compute_sweep_optimal(site, r), r["optimal"], "sweep optimal")


@pytest.mark.parametrize("run", sorted(rec.REPLAY_RUNS))
def test_replay(site, run):
    r = _load("replay.json")[run]
    result = rec.compute_replay(site, r)
    assert result.complete, f"replay {run}: unfinished"
    comp = result.comparison
    assert_frame(comp, r["comparison"], f"replay {run} comparison")
    exact = comp.loc["exact_bound", "cost"]
    assert_values({"periods": len(result.balance), "plans": result.info["plans"],
                   "scenarios": result.info["scenarios"],
                   "replay_gap_vs_exact_pct": 100 * comp.loc["replay", "gap_vs_exact"] / exact},
                  r["headline"], f"replay {run} headline")
    assert_table_arrays(result.balance, r["balance"], _npz("replay.npz"), run,
                        f"replay {run} balance")


@pytest.mark.parametrize("kind", ["dp", "exact"])
def test_iquitos_schedule(site, kind):
    r = _load("schedules.json")
    run = r["runs"][f"iquitos_{kind}"]
    inputs = rec.iquitos_schedule_inputs(site, r["tariff"])
    res = rec.compute_schedule(kind, inputs, r["battery"], run["kwargs"])
    assert_schedule(res, run, _npz("schedules.npz"), f"iquitos_{kind}", f"iquitos {kind}")


@pytest.mark.corpus
def test_peer_corpus_schedules(shared):
    r = _load("peer.json")["scenarios"]
    arrays = _npz("peer.npz")
    scenarios = pvbess.peer_scenarios(shared / "reference" / "bess-manager")
    assert sorted(s.name for s in scenarios) == sorted(r)
    for s in scenarios:
        expected = r[s.name]
        # the reader still gives the recorded battery and options
        assert_values(s.battery.asdict(), expected["battery"], f"{s.name}: battery")
        own = {k: v for k, v in expected["exact"]["kwargs"].items()
               if k not in rec.EXACT_EXTRA}
        assert_values(rec.peer_scalar_kwargs(s), own, f"{s.name}: kwargs")
        # the DP runs at the 81e1ce0 default step (the default follows the problem since
        # issue 12: record.peer_step_81e1ce0)
        assert expected["dp"]["kwargs"]["energy_step_kwh"] == rec.peer_step_81e1ce0(s), s.name
        for kind in ("dp", "exact"):
            res = rec.compute_schedule(kind, rec.peer_inputs(s), expected["battery"],
                                       expected[kind]["kwargs"])
            assert_schedule(res, expected[kind], arrays, f"{s.name}{rec.GROUP_SEP}{kind}",
                            f"{s.name} {kind}")


def test_simulate_many(site):
    r = _load("batch.json")
    tables = rec.compute_simulate_many(site, r)
    assert list(tables) == list(r["simulate_many"])
    for strategy, table in tables.items():
        assert_frame(table, r["simulate_many"][strategy], f"simulate_many {strategy}")


def test_strategy_kpis(site):
    r = _load("batch.json")
    assert r["strategies"] == sorted(pvbess.STRATEGIES)
    setpoint = _npz("schedules.npz")[f"iquitos_dp{rec.GROUP_SEP}setpoint_kwh"]
    assert_frame(rec.compute_strategy_kpis(site, r, setpoint), r["strategy_kpis"],
                 "kpis of the strategies")
