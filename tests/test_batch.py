"""simulate_many: one row per configuration, equal to kpis(simulate(...)) of that configuration."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvbess import Battery, SixPhaseRules, Tariff, kpis, simulate, simulate_many
from pvbess.indicators import KPI_NAMES
from pvbess.timeseries import local_hours

TZ = "America/Lima"


def random_site(seed: int, days: int = 40, freq: str = "h") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    per_day = {"h": 24, "15min": 96}[freq]
    dt = 24 / per_day
    idx = pd.date_range("2024-01-20", periods=days * per_day, freq=freq, tz=TZ)
    h = local_hours(idx)
    sun = np.clip(np.sin((h - 6) / 12 * np.pi), 0, None)
    return pd.DataFrame({
        "pv_kwh": sun * rng.uniform(0, 3500, len(idx)) * dt,
        "ev_kwh": np.where((h >= 9) & (h < 22), rng.uniform(0, 200, len(idx)), 0.0) * dt,
        "mall_kwh": (1200 + 900 * np.clip(np.sin((h - 7) / 15 * np.pi), 0, None)
                     + rng.normal(0, 200, len(idx)).clip(-1000, 1000)) * dt,
    }, index=idx)


def random_configs(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    soc_min = rng.uniform(0, 0.4, n)
    closure = rng.choice([15.0, 16.5, 17.0, 19.25], n)
    return pd.DataFrame({
        "capacity_kwh": np.where(rng.random(n) < 0.1, 0.0, rng.uniform(50, 5000, n)),
        "power_kw": rng.uniform(0, 1500, n),
        "round_trip_efficiency": rng.uniform(0.7, 1.0, n),
        "soc_min": soc_min,
        "soc_initial": soc_min + rng.uniform(0, 0.5, n),
        "hold_soc": rng.uniform(0.5, 1.0, n),
        "peak_threshold_kw": rng.choice([math.inf, 1500.0, 1900.0, 2100.0], n),
        "export_limit_kw": rng.choice([math.inf, 0.0, 500.0], n),
        "closure_start_h": closure,
        "pv_scale": rng.uniform(0, 2, n),
    }, index=pd.RangeIndex(100, 100 + n, name="config"))


def reference(site, configs, strategy="six_phase", tariff=Tariff(), co2=0.4521,
              battery=Battery(), rules=SixPhaseRules()):
    rows = []
    for _, c in configs.iterrows():
        c = c.to_dict()
        eta = math.sqrt(c.pop("round_trip_efficiency")) if "round_trip_efficiency" in c else None
        power = c.pop("power_kw", None)
        scale = c.pop("pv_scale", 1.0)
        bfields = {k: v for k, v in c.items() if k in Battery.__dataclass_fields__}
        if eta is not None:
            bfields.update(eta_charge=eta, eta_discharge=eta)
        if power is not None:
            bfields.update(power_charge_kw=power, power_discharge_kw=power)
        rfields = {k: v for k, v in c.items() if k in SixPhaseRules.__dataclass_fields__}
        s = site.assign(pv_kwh=site.pv_kwh * scale)
        b = simulate(s, battery.replace(**bfields), rules.replace(**rfields), strategy,
                     tariff=tariff, co2_kg_per_kwh=co2)
        rows.append(kpis(b))
    return pd.DataFrame(rows, index=configs.index)


def assert_same(got: pd.DataFrame, want: pd.DataFrame):
    assert list(got.columns) == list(KPI_NAMES)
    assert got.index.equals(want.index)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-12, atol=1e-9,
                               equal_nan=True)


def test_random_configs_equal_kpis_of_simulate():
    site = random_site(1)
    configs = random_configs(2, 40)
    tariff = Tariff(export_pen_per_kwh=0.05)
    got = simulate_many(site, configs, tariff=tariff, co2_kg_per_kwh=0.5)
    assert_same(got, reference(site, configs, tariff=tariff, co2=0.5))
    # the sweep is not trivial: the configurations differ in cycles and closure misses
    assert got["equivalent_full_cycles"].nunique() > 30
    assert got["closure_miss_days"].max() > 0


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31), freq=st.sampled_from(["h", "15min"]),
       strategy=st.sampled_from(["six_phase", "self_consumption", "pv_only", "grid_only"]),
       head=st.integers(0, 60), tail=st.integers(0, 60))
def test_equality_across_strategies_and_steps(seed, freq, strategy, head, tail):
    site = random_site(seed, days=6, freq=freq)
    site = site.iloc[head:len(site) - tail]  # days cut at both ends
    configs = random_configs(seed + 1, 5)
    assert_same(simulate_many(site, configs, strategy=strategy),
                reference(site, configs, strategy=strategy))


def assert_bits_equal(got: pd.DataFrame, want: pd.DataFrame):
    """The same table bit for bit (NaN where NaN): what the batch kernel promises."""
    assert list(got.columns) == list(want.columns)
    assert got.index.equals(want.index)
    a, b = got.to_numpy(dtype=float), want.to_numpy(dtype=float)
    differ = np.flatnonzero((a.view(np.int64) != b.view(np.int64)).any(axis=0))
    assert differ.size == 0, f"columns differ: {[got.columns[j] for j in differ]}"


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), freq=st.sampled_from(["h", "15min"]),
       strategy=st.sampled_from(["six_phase", "six_phase", "self_consumption", "pv_only",
                                 "grid_only"]),
       n=st.integers(1, 40), shared=st.booleans(), head=st.integers(0, 30))
def test_blocks_of_designs_equal_one_design_at_a_time_bit_for_bit(seed, freq, strategy, n,
                                                                   shared, head):
    """The batch kernel runs designs in SIMD blocks (16 lanes, the last block padded) and adds
    the sums that do not depend on the battery once per (PV scale, threshold): every row still
    equals kpis(simulate(...)) of its design, bit for bit."""
    site = random_site(seed, days=3, freq=freq).iloc[head:]
    configs = random_configs(seed + 1, n)
    if shared:  # many designs share a (scale, threshold) pair; -0.0 and 0.0 are one pair
        rng = np.random.default_rng(seed + 2)
        configs["pv_scale"] = rng.choice([0.0, -0.0, 0.5, 1.25], n)
        configs["peak_threshold_kw"] = rng.choice([1500.0, math.inf], n)
    assert_bits_equal(simulate_many(site, configs, strategy=strategy),
                      reference(site, configs, strategy=strategy))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(2, 45))
def test_a_row_does_not_depend_on_its_neighbours(seed, n):
    """Shuffled or alone, a design gets the same row: no lane sees another lane's design."""
    site = random_site(seed, days=2)
    configs = random_configs(seed + 1, n)
    whole = simulate_many(site, configs)
    order = np.random.default_rng(seed).permutation(n)
    assert_bits_equal(simulate_many(site, configs.iloc[order]), whole.iloc[order])
    k = int(order[0])
    assert_bits_equal(simulate_many(site, configs.iloc[[k]]), whole.iloc[[k]])


def test_the_kernel_refuses_the_schedule_strategy():
    from pvbess import dispatch
    from pvbess.balance import site_arrays
    from pvbess.batch_kernel import kpi_sums
    from pvbess.indicators import kpi_calendar

    site = random_site(5, days=1)
    pv, ev, mall, dt = site_arrays(site)
    hour, day, month, labels, peak, price = kpi_calendar(site.index, Tariff())
    params = dispatch.make_params(Battery(), SixPhaseRules())[None, :]
    with pytest.raises(ValueError, match="other than schedule"):
        kpi_sums(dispatch.SCHEDULE, pv, ev, mall, hour, day, month, peak, price, dt, params,
                 len(labels))


def test_base_battery_and_rules_fill_missing_fields():
    site = random_site(5, days=10)
    base_b = Battery(capacity_kwh=800.0, power_charge_kw=200.0, power_discharge_kw=300.0)
    base_r = SixPhaseRules(peak_threshold_kw=1700.0)
    configs = pd.DataFrame({"close_h": [21.0, 22.0, 23.5]})
    got = simulate_many(site, configs, battery=base_b, rules=base_r)
    assert_same(got, reference(site, configs, battery=base_b, rules=base_r))
    # an empty configuration table gives an empty result with the KPI columns
    empty = simulate_many(site, configs.iloc[:0])
    assert empty.shape == (0, len(KPI_NAMES))


def test_bad_configs_are_named():
    site = random_site(5, days=2)
    with pytest.raises(ValueError, match="unknown column"):
        simulate_many(site, pd.DataFrame({"capacity": [1.0]}))
    with pytest.raises(ValueError, match=r"row 'b'.*soc_min"):
        simulate_many(site, pd.DataFrame({"soc_min": [0.1, 0.9], "soc_max": [0.5, 0.5]},
                                         index=["a", "b"]))
    with pytest.raises(ValueError, match="power_kw"):
        simulate_many(site, pd.DataFrame({"power_kw": [1.0], "power_charge_kw": [1.0]}))
    with pytest.raises(ValueError, match="round_trip_efficiency"):
        simulate_many(site, pd.DataFrame({"round_trip_efficiency": [1.5]}))
    with pytest.raises(ValueError, match="pv_scale"):
        simulate_many(site, pd.DataFrame({"pv_scale": [np.nan]}))
    with pytest.raises(ValueError, match="schedule"):
        simulate_many(site, pd.DataFrame({"capacity_kwh": [1.0]}), strategy="schedule")
    with pytest.raises(ValueError, match="no rows"):
        simulate_many(site.iloc[:0], pd.DataFrame({"capacity_kwh": [1.0]}))


# -- the design checks run on arrays: same parameters and same first error as row by row -------
def _row_by_row(configs, battery=Battery(), rules=SixPhaseRules()):
    """config_params the slow way: one Battery and SixPhaseRules per row (the specs' checks)."""
    from pvbess import dispatch

    out = []
    for label, c in zip(configs.index, configs.to_dict("records"), strict=True):
        bfields = {k: v for k, v in c.items() if k in Battery.__dataclass_fields__}
        if "power_kw" in c:
            bfields.update(power_charge_kw=c["power_kw"], power_discharge_kw=c["power_kw"])
        try:
            if "round_trip_efficiency" in c:
                rte = c["round_trip_efficiency"]
                if not 0 < rte <= 1:
                    raise ValueError("round_trip_efficiency")
                bfields.update(eta_charge=math.sqrt(rte), eta_discharge=math.sqrt(rte))
            b = battery.replace(**bfields)
            r = rules.replace(**{k: v for k, v in c.items()
                                 if k in SixPhaseRules.__dataclass_fields__})
            if not (math.isfinite(c.get("pv_scale", 1.0)) and c.get("pv_scale", 1.0) >= 0):
                raise ValueError("pv_scale")
        except ValueError:
            return label
        out.append(dispatch.make_params(b, r, pv_scale=c.get("pv_scale", 1.0)))
    return np.array(out).reshape(len(configs), -1)


_maybe_bad = st.fixed_dictionaries({
    "capacity_kwh": st.sampled_from([0.0, 500.0, 2000.0, -1.0]),
    "power_kw": st.sampled_from([0.0, 400.0, math.inf]),
    "round_trip_efficiency": st.sampled_from([0.81, 0.95, 1.0, 1.2, 0.0]),
    "soc_min": st.sampled_from([0.0, 0.1, 0.2, 0.95]),
    "soc_initial": st.sampled_from([0.2, 0.5, 0.05]),
    "ev_start_h": st.sampled_from([9.0, 11.0, 25.0]),
    "pv_scale": st.sampled_from([0.0, 1.0, 1.5, -0.5, math.nan]),
})


@settings(max_examples=60, deadline=None)
@given(st.lists(_maybe_bad, min_size=1, max_size=6))
def test_array_checks_equal_the_specs_row_by_row(rows):
    """config_params checks every design as arrays: the parameter matrix equals the row-by-row
    make_params bit for bit, and a bad design raises DataError naming the first bad row."""
    from pvbess import DataError
    from pvbess.batch import config_params

    configs = pd.DataFrame(rows, index=[f"d{i}" for i in range(len(rows))])
    expected = _row_by_row(configs)
    if isinstance(expected, str):
        with pytest.raises(DataError, match=rf"configs row '{expected}': "):
            config_params(configs)
    else:
        np.testing.assert_array_equal(config_params(configs), expected)


def test_a_value_that_is_no_number_names_its_design():
    from pvbess import DataError
    from pvbess.batch import config_params

    with pytest.raises(DataError, match=r"row 'b': capacity_kwh = True: must be a number"):
        config_params(pd.DataFrame({"capacity_kwh": [1.0, True]}, index=["a", "b"],
                                   dtype=object))
