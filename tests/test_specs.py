"""Tests of the spec dataclasses: Battery, PVPlant, Site, Tariff, SixPhaseRules."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pvbess import Battery, DataError, PVPlant, Site, SixPhaseRules, Tariff

SPECS = [Battery, PVPlant, Site, Tariff, SixPhaseRules]


# -------------------------------------------------------------------------------------------
# defaults are the Iquitos design
# -------------------------------------------------------------------------------------------
def test_battery_defaults_are_the_iquitos_design():
    b = Battery()
    assert (b.capacity_kwh, b.power_charge_kw, b.power_discharge_kw) == (2000.0, 400.0, 400.0)
    assert b.eta_charge == math.sqrt(0.95) and b.eta_discharge == math.sqrt(0.95)
    assert (b.soc_min, b.soc_max, b.soc_initial, b.wear_cost_per_kwh) == (0.2, 1.0, 0.2, 0.0)
    assert b.e_min_kwh == pytest.approx(400.0) and b.e_max_kwh == 2000.0
    assert b.e_initial_kwh == pytest.approx(400.0) and b.usable_kwh == pytest.approx(1600.0)
    assert b.round_trip_efficiency == pytest.approx(0.95, abs=1e-15)


def test_other_defaults_are_the_iquitos_design():
    pv = PVPlant()
    assert (pv.dc_kwp, pv.ac_kw, pv.tilt_deg, pv.azimuth_deg, pv.losses_pct) == \
        (4050.0, 3342.0, 10.0, 0.0, 13.6)
    assert pv.dc_ac_ratio == pytest.approx(1.21, abs=0.005)
    site = Site()
    assert (site.latitude, site.longitude, site.altitude_m, site.tz) == \
        (-3.75, -73.25, 104.0, "America/Lima")
    assert site.co2_kg_per_kwh == 0.4521 and site.pen_per_usd == 3.75
    t = Tariff()
    assert (t.hp_start_h, t.hp_end_h, t.energy_hp_pen_per_kwh, t.energy_hfp_pen_per_kwh) == \
        (18.0, 23.0, 0.45, 0.28)
    assert (t.demand_hp_pen_per_kw_month, t.demand_hfp_pen_per_kw_month) == (48.50, 22.80)
    r = SixPhaseRules()
    assert (r.charge_start_h, r.ev_start_h, r.peak_start_h, r.closure_start_h, r.close_h) == \
        (6.0, 9.0, 10.0, 17.0, 22.0)
    assert r.peak_threshold_kw == 1900.0 and r.export_limit_kw == math.inf


@pytest.mark.parametrize("cls", SPECS)
def test_specs_are_frozen(cls):
    spec = cls()
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(spec, name, getattr(spec, name))


# -------------------------------------------------------------------------------------------
# invalid values name the field and the value
# -------------------------------------------------------------------------------------------
INVALID = [
    (Battery, {"soc_min": 0.5, "soc_max": 0.5, "soc_initial": 0.5}, "soc_min", "0.5"),
    (Battery, {"soc_min": 0.8, "soc_max": 0.6, "soc_initial": 0.7}, "soc_min", "0.8"),
    (Battery, {"soc_initial": 0.1}, "soc_initial", "0.1"),
    (Battery, {"soc_max": 1.2}, "soc_max", "1.2"),
    (Battery, {"eta_charge": 1.01}, "eta_charge", "1.01"),
    (Battery, {"eta_discharge": 0.0}, "eta_discharge", "0.0"),
    (Battery, {"eta_charge": -0.5}, "eta_charge", "-0.5"),
    (Battery, {"power_charge_kw": -1.0}, "power_charge_kw", "-1.0"),
    (Battery, {"power_discharge_kw": float("nan")}, "power_discharge_kw", "nan"),
    (Battery, {"capacity_kwh": math.inf}, "capacity_kwh", "inf"),
    (Battery, {"capacity_kwh": "2000"}, "capacity_kwh", "'2000'"),
    (Battery, {"capacity_kwh": None}, "capacity_kwh", "None"),
    (Battery, {"wear_cost_per_kwh": True}, "wear_cost_per_kwh", "True"),
    (Battery, {"soc_min": float("nan")}, "soc_min", "nan"),
    (PVPlant, {"dc_kwp": 0.0}, "dc_kwp", "0.0"),
    (PVPlant, {"tilt_deg": 91.0}, "tilt_deg", "91.0"),
    (PVPlant, {"azimuth_deg": 360.0}, "azimuth_deg", "360.0"),
    (PVPlant, {"losses_pct": 100.0}, "losses_pct", "100.0"),
    (PVPlant, {"gamma_pdc_per_c": 0.004}, "gamma_pdc_per_c", "0.004"),
    (PVPlant, {"inverter_eta_nom": 1.5}, "inverter_eta_nom", "1.5"),
    (PVPlant, {"albedo": float("nan")}, "albedo", "nan"),
    (Site, {"latitude": 91.0}, "latitude", "91.0"),
    (Site, {"longitude": -181.0}, "longitude", "-181.0"),
    (Site, {"tz": "Mars/Olympus_Mons"}, "tz", "'Mars/Olympus_Mons'"),
    (Site, {"co2_kg_per_kwh": -0.1}, "co2_kg_per_kwh", "-0.1"),
    (Site, {"pen_per_usd": 0}, "pen_per_usd", "0"),
    (Tariff, {"hp_start_h": 23.0, "hp_end_h": 18.0}, "hp_start_h", "23.0"),
    (Tariff, {"hp_start_h": 18.0, "hp_end_h": 18.0}, "hp_start_h", "18.0"),
    (Tariff, {"hp_end_h": 25.0}, "hp_end_h", "25.0"),
    (Tariff, {"hp_start_h": -1.0}, "hp_start_h", "-1.0"),
    (Tariff, {"energy_hp_pen_per_kwh": -0.45}, "energy_hp_pen_per_kwh", "-0.45"),
    (Tariff, {"demand_hfp_pen_per_kw_month": "22.8"}, "demand_hfp_pen_per_kw_month", "'22.8'"),
    (SixPhaseRules, {"charge_start_h": 10.0}, "charge_start_h", "10.0"),
    (SixPhaseRules, {"ev_start_h": 11.0}, "ev_start_h", "11.0"),
    (SixPhaseRules, {"peak_start_h": 23.0}, "peak_start_h", "23.0"),
    (SixPhaseRules, {"closure_start_h": 22.0}, "closure_start_h", "22.0"),
    (SixPhaseRules, {"closure_start_h": 8.0}, "ev_start_h", "9.0"),
    (SixPhaseRules, {"close_h": 24.5}, "close_h", "24.5"),
    (SixPhaseRules, {"hold_soc": 1.01}, "hold_soc", "1.01"),
    (SixPhaseRules, {"peak_threshold_kw": -5.0}, "peak_threshold_kw", "-5.0"),
    (SixPhaseRules, {"export_limit_kw": float("nan")}, "export_limit_kw", "nan"),
]


@pytest.mark.parametrize("cls, fields, name, shown", INVALID,
                         ids=[f"{c.__name__}-{'-'.join(f)}" for c, f, _, _ in INVALID])
def test_invalid_values_name_field_and_value(cls, fields, name, shown):
    with pytest.raises(ValueError) as err:
        cls(**fields)
    assert str(err.value).startswith(f"{cls.__name__}.{name} = {shown}:"), str(err.value)


def test_valid_edge_values_are_accepted():
    assert Battery(soc_min=0.0, soc_max=1.0, soc_initial=1.0).usable_kwh == 2000.0
    assert Battery(eta_charge=1.0, eta_discharge=1.0, capacity_kwh=0.0).round_trip_efficiency == 1
    assert SixPhaseRules(export_limit_kw=0.0, peak_threshold_kw=math.inf).export_limit_kw == 0.0
    assert Tariff(hp_start_h=0.0, hp_end_h=24.0).hp_end_h == 24.0
    assert PVPlant(azimuth_deg=359.9, tilt_deg=90.0, albedo=0.0).tilt_deg == 90.0


def test_numpy_numbers_are_numbers():
    # a sweep over np.arange/np.linspace values builds specs from numpy scalars
    assert Battery(capacity_kwh=np.int64(1000), soc_min=np.float64(0.1),
                   soc_initial=np.float32(0.5)).capacity_kwh == 1000
    assert Battery.from_round_trip(np.float64(0.9)).round_trip_efficiency == pytest.approx(0.9)
    with pytest.raises(ValueError, match=r"Battery.capacity_kwh = np.True_: must be a number"):
        Battery(capacity_kwh=np.True_)


@pytest.mark.parametrize("cls", SPECS)
def test_unknown_from_dict_keys(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: unknown field\(s\) \['bogus', 'zz'\]"):
        cls.from_dict({"zz": 1, "bogus": 2})
    with pytest.raises(ValueError, match="unknown field"):
        cls.from_dict(None, bogus=1)
    assert cls.from_dict() == cls() and cls.from_dict(None) == cls()


def test_replace_validates_again():
    b = Battery().replace(capacity_kwh=500.0)
    assert b.capacity_kwh == 500.0 and b.power_charge_kw == 400.0
    with pytest.raises(ValueError, match=r"Battery.soc_initial = 0.2: must lie in \[soc_min"):
        Battery().replace(soc_min=0.3)


# -------------------------------------------------------------------------------------------
# from_dict / asdict round trips (also through YAML, as papermill parameters do)
# -------------------------------------------------------------------------------------------
finite = st.floats(0.0, 1e6, allow_nan=False, allow_infinity=False)
fraction = st.floats(0.0, 1.0)
efficiency = st.floats(1e-6, 1.0)


@st.composite
def batteries(draw):
    lo, hi = sorted(draw(st.lists(fraction, min_size=2, max_size=2, unique=True)))
    return Battery(capacity_kwh=draw(finite), power_charge_kw=draw(finite),
                   power_discharge_kw=draw(finite), eta_charge=draw(efficiency),
                   eta_discharge=draw(efficiency), soc_min=lo, soc_max=hi,
                   soc_initial=draw(st.floats(lo, hi)), wear_cost_per_kwh=draw(finite))


@st.composite
def plants(draw):
    return PVPlant(dc_kwp=draw(st.floats(1e-3, 1e6)), ac_kw=draw(st.floats(1e-3, 1e6)),
                   tilt_deg=draw(st.floats(0, 90)),
                   azimuth_deg=draw(st.floats(0, 359.99)),
                   losses_pct=draw(st.floats(0, 99.9)), gamma_pdc_per_c=draw(st.floats(-0.01, 0)),
                   inverter_eta_nom=draw(efficiency), albedo=draw(fraction))


@st.composite
def sites(draw):
    return Site(name=draw(st.text(max_size=20)), latitude=draw(st.floats(-90, 90)),
                longitude=draw(st.floats(-180, 180)), altitude_m=draw(st.floats(-400, 9000)),
                tz=draw(st.sampled_from(["America/Lima", "UTC", "Europe/Madrid", "Asia/Kolkata"])),
                co2_kg_per_kwh=draw(st.floats(0, 2)), pen_per_usd=draw(st.floats(0.01, 100)))


@st.composite
def tariffs(draw):
    start, end = sorted(draw(st.lists(st.floats(0, 24), min_size=2, max_size=2, unique=True)))
    return Tariff(start, end, *(draw(finite) for _ in range(5)))


@st.composite
def rules(draw):
    a, b, c, d = sorted(draw(st.lists(st.floats(0, 23), min_size=4, max_size=4)))
    close = draw(st.floats(d, 24).filter(lambda x: x > d))
    closure = draw(st.floats(b, close).filter(lambda x: x < close))
    return SixPhaseRules(charge_start_h=a, ev_start_h=b, peak_start_h=c, closure_start_h=closure,
                         close_h=close, hold_soc=draw(fraction),
                         peak_threshold_kw=draw(finite | st.just(math.inf)),
                         export_limit_kw=draw(finite | st.just(math.inf)))


@settings(max_examples=60, deadline=None)
@given(spec=st.one_of(batteries(), plants(), sites(), tariffs(), rules()))
def test_round_trip_through_dict_and_yaml(spec):
    cls = type(spec)
    values = spec.asdict()
    assert set(values) == {f.name for f in dataclasses.fields(cls)}
    assert cls.from_dict(values) == spec
    assert cls.from_dict(yaml.safe_load(yaml.safe_dump(values))) == spec
    assert cls.from_dict({}, **values) == spec


# -------------------------------------------------------------------------------------------
# Battery.from_round_trip
# -------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(rte=st.floats(1e-6, 1.0), capacity=finite)
def test_from_round_trip_splits_evenly(rte, capacity):
    b = Battery.from_round_trip(rte, capacity_kwh=capacity)
    assert b.eta_charge == b.eta_discharge == math.sqrt(rte)
    assert b.round_trip_efficiency == pytest.approx(rte, rel=1e-12)
    assert b.capacity_kwh == capacity and b.power_charge_kw == 400.0


@pytest.mark.parametrize("rte", [0.0, -0.1, 1.0001, float("nan"), "0.9", None, True])
def test_from_round_trip_rejects(rte):
    with pytest.raises(ValueError, match=re.escape(f"Battery.round_trip_efficiency = {rte!r}: "
                                                   f"must lie in (0, 1]")):
        Battery.from_round_trip(rte)


def test_from_round_trip_default_is_the_iquitos_battery():
    assert Battery.from_round_trip() == Battery()
    with pytest.raises(ValueError, match=r"Battery.soc_min = 0.9: must be below soc_max"):
        Battery.from_round_trip(0.9, soc_min=0.9, soc_max=0.9)


# -------------------------------------------------------------------------------------------
# Tariff periods on a day of hourly and 15-min steps
# -------------------------------------------------------------------------------------------
def test_tariff_period_hourly_day():
    t = Tariff()
    index = pd.date_range("2024-03-05", periods=24, freq="h", tz="America/Lima")
    period = t.period(index)
    assert [h for h in range(24) if period[h] == "HP"] == [18, 19, 20, 21, 22]
    assert set(period) == {"HP", "HFP"}
    price = t.energy_price(index)
    assert price[18] == 0.45 and price[23] == 0.28 and price[17] == 0.28
    assert price.sum() == pytest.approx(5 * 0.45 + 19 * 0.28)


def test_tariff_period_15_min_day():
    t = Tariff(hp_start_h=18.25, hp_end_h=23.0)
    index = pd.date_range("2024-03-05", periods=96, freq="15min", tz="America/Lima")
    peak = t.is_peak(index)
    hours = index.hour + index.minute / 60
    assert peak.sum() == 19  # 18:15 .. 22:45
    assert hours[peak].min() == 18.25 and hours[peak].max() == 22.75
    assert (t.period(index)[peak] == "HP").all() and (t.period(index)[~peak] == "HFP").all()
    default = Tariff().is_peak(index)
    assert default.sum() == 20 and hours[default].min() == 18.0


def test_tariff_period_uses_the_local_clock_of_the_index():
    t = Tariff()
    utc = pd.date_range("2024-03-05", periods=24, freq="h", tz="UTC")
    # 18:00 in Lima is 23:00 UTC: the same instants give different periods on different clocks
    assert [h for h in range(24) if t.is_peak(utc)[h]] == [18, 19, 20, 21, 22]
    lima = utc.tz_convert("America/Lima")
    assert sorted(lima[h].hour for h in range(24) if t.is_peak(lima)[h]) == [18, 19, 20, 21, 22]
    assert t.is_peak(lima)[23] and not t.is_peak(utc)[23]


def test_tariff_from_params_file_then_mapping(tmp_path):
    """A notebook's tariff: the YAML file's fields, the mapping's over them, MT3 for the rest;
    bad input is a DataError naming the field or the file."""
    path = tmp_path / "t.yaml"
    path.write_text("hp_start_h: 17.0\nenergy_hp_pen_per_kwh: 0.6\n")
    t = Tariff.from_params({"energy_hp_pen_per_kwh": 0.7, "export_pen_per_kwh": 0.1}, path)
    assert (t.hp_start_h, t.energy_hp_pen_per_kwh, t.export_pen_per_kwh) == (17.0, 0.7, 0.1)
    assert t.demand_hp_pen_per_kw_month == Tariff().demand_hp_pen_per_kw_month
    assert Tariff.from_params({}, "") == Tariff() == Tariff.from_params()
    assert Tariff.from_params(None, path) == Tariff.from_yaml(path)
    with pytest.raises(DataError, match="demand_hp_pen_per_kw"):
        Tariff.from_params({"demand_hp_pen_per_kw": 1.0})
    with pytest.raises(DataError, match="tariff: expected a mapping"):
        Tariff.from_params([1.0])
    with pytest.raises(DataError, match="hp_start_h"):
        Tariff.from_params({"hp_start_h": 23.5})
