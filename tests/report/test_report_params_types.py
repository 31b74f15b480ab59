"""A params file's values have the types their notebooks declare; a run id is a plain folder
name. Each case is refused before any notebook runs, naming the file and the parameter."""

from __future__ import annotations

import pytest

import pvbess
from pvbess.report.params import MAX_RUN_ID, ReportError, load_params


@pytest.mark.parametrize("text, words", [
    ("run_optimal: 'false'\n", ["run_optimal", "'false'", "bool", "without quotes"]),
    ("run_optimal: 1\n", ["run_optimal", "bool"]),
    ("capacity_kwh: '2000'\n", ["capacity_kwh", "'2000'", "float"]),
    ("capacity_kwh: true\n", ["capacity_kwh", "float"]),
    ("capacity_kwh: .inf\n", ["capacity_kwh", "finite"]),
    ("capacity_kwh: .nan\n", ["capacity_kwh", "finite"]),
    ("scenario_label: 42\n", ["scenario_label", "str"]),
    ("run_id: \"abc\\n\"\n", ["run_id", "white space"]),
    ("tariff: [1, 2]\n", ["tariff", "dict"]),
    (f"run_id: {'a' * (MAX_RUN_ID + 1)}\n", ["run_id", str(MAX_RUN_ID)]),
])
def test_wrong_types_are_refused_naming_file_and_parameter(tmp_path, text, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ReportError) as err:
        load_params(path)
    assert isinstance(err.value, pvbess.DataError)
    for word in [str(path), *words]:
        assert word in str(err.value), (word, str(err.value))


def test_right_types_pass(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text("run_optimal: false\ncapacity_kwh: 2000\nrun_id: my-run.v2\n"
                    "tariff: {export_pen_per_kwh: 0.1}\n")
    params = load_params(path)
    assert params["capacity_kwh"] == 2000 and params["run_optimal"] is False
    assert params["run_id"] == "my-run.v2"


def test_every_shipped_params_file_passes():
    from pvbess.config import PROJECT_ROOT

    for path in sorted((PROJECT_ROOT / "params").glob("*.yaml")):
        load_params(path)


def test_a_params_file_can_swap_in_a_meter_column(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("meter_paths: {mall_kwh: data/my_mall_2024.csv}\nnotebooks: [01_annual_simulation]\n")
    assert load_params(path)["meter_paths"] == {"mall_kwh": "data/my_mall_2024.csv"}
