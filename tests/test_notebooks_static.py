"""Static rules for every notebook in notebooks/ (no kernel needed).

- stripped: no outputs, no execution counts, no papermill/run metadata (git keeps clean diffs);
- thin: no function, class or lambda definitions (logic belongs in the package);
- the first code cell is the only one tagged ``parameters`` and holds annotated literals with a
  comment each, all of which papermill can parse;
- the last cell is a sanity cell that asserts;
- no network access from a notebook (no URLs in code cells).
Also: what pvbess.report passes to each notebook is what it declares, the params files name only
parameters their notebooks know, and together they render every notebook.
"""

from __future__ import annotations

import ast

import nbformat
import pytest

from pvbess.config import NOTEBOOKS_DIR, PARAMS_DIR
from pvbess.report.params import NOTEBOOKS, STEPS, load_params, notebook_parameters

ALL = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_the_report_notebooks_exist():
    names = {p.name for p in ALL}
    assert set(NOTEBOOKS) <= names


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_stripped(path):
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i}: has outputs (strip it: "\
                                       "python -m pvbess.report --strip notebooks/*.ipynb)"
            assert cell.execution_count is None, f"{path.name} cell {i}: execution count"
        assert "papermill" not in cell.metadata and "execution" not in cell.metadata, \
            f"{path.name} cell {i}: run metadata"
    assert "papermill" not in nb.metadata and "widgets" not in nb.metadata


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_no_definitions_and_no_network(path):
    nb = nbformat.read(str(path), as_version=4)
    for i, cell in enumerate(_code(nb)):
        tree = ast.parse(cell.source)  # also: every cell is valid Python
        for node in ast.walk(tree):
            assert not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                         ast.Lambda)), \
                f"{path.name} code cell {i}: defines {type(node).__name__} (move it to pvbess)"
        assert "http://" not in cell.source and "https://" not in cell.source, \
            f"{path.name} code cell {i}: network access"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_parameters_cell_first_and_annotated(path):
    nb = nbformat.read(str(path), as_version=4)
    code = _code(nb)
    tagged = [i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [0], f"{path.name}: the first code cell (only) must be tagged 'parameters'"
    cell = code[0]
    tree = ast.parse(cell.source)
    assert tree.body, "empty parameters cell"
    for stmt in tree.body:
        assert isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name), \
            f"{path.name}: parameters must be annotated assignments: {ast.unparse(stmt)}"
        try:
            ast.literal_eval(stmt.value)  # numbers, strings, bools, lists of them, ...
        except ValueError:
            pytest.fail(f"{path.name}: {stmt.target.id} is not a literal")
    lines = [ln for ln in cell.source.splitlines() if ln.strip() and not ln.startswith("#")]
    for ln in lines:
        assert "#" in ln, f"{path.name}: parameter without a comment (unit/meaning): {ln}"
    # papermill reads every one of them (a second '=' in a comment breaks its parser)
    names = {stmt.target.id for stmt in tree.body}
    assert set(notebook_parameters(path)) == names


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_ends_with_a_sanity_cell(path):
    nb = nbformat.read(str(path), as_version=4)
    last = nb.cells[-1]
    assert last.cell_type == "code", f"{path.name}: the last cell must be the sanity cell"
    asserts = [n for n in ast.walk(ast.parse(last.source)) if isinstance(n, ast.Assert)]
    assert len(asserts) >= 3, f"{path.name}: the sanity cell asserts too little"


def test_report_notebook_contracts():
    """What pvbess.report passes to the notebooks is what they declare."""
    p1 = notebook_parameters(NOTEBOOKS_DIR / NOTEBOOKS[0])
    p2 = notebook_parameters(NOTEBOOKS_DIR / NOTEBOOKS[1])
    assert {"run_id", "output_dir", "data_path", "run_optimal", "day"} <= set(p1)
    assert p1["run_optimal"] in ("True", "False")  # the optimal dispatch hangs on a parameter
    assert p1["output_dir"] == '""' and p2["output_dir"] == '""'  # nbval: a temporary folder
    assert {"run_id", "input_dir", "output_dir", "day"} <= set(p2)
    nb2 = nbformat.read(str(NOTEBOOKS_DIR / NOTEBOOKS[1]), as_version=4)
    source = "\n".join(c.source for c in _code(nb2))
    from pvbess.plotting import FIGURES

    for spec in FIGURES:  # every figure is drawn and saved under its report name
        assert f"pvbess.plot_{spec.name}(" in source
        assert f'"{spec.filename}"' in source


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_report_steps_match_their_notebooks(name):
    """Every step writes into output_dir (empty by default: nbval runs in a temporary folder),
    its report defaults are parameters it declares, and its notebook names the files the
    report expects from it (the figures of 02 are checked above)."""
    step = STEPS[name]
    params = notebook_parameters(NOTEBOOKS_DIR / name)
    assert params.get("output_dir") == '""' and "run_id" in params
    assert set(step.defaults) <= set(params)
    assert ("input_dir" in params) == bool(step.needs)
    nb = nbformat.read(str(NOTEBOOKS_DIR / name), as_version=4)
    source = "\n".join(c.source for c in _code(nb))
    # written by package functions under their own constants (tests/report checks the names)
    by_the_package = {"summary.json": "report.write_summary(", "balance.csv.gz":
                      "report.write_balance(", "balance_meta.json": "report.write_balance(",
                      "sweep.csv.gz": "write_sweep(", "sweep_summary.json": "write_sweep("}
    for output in step.outputs:
        if output.startswith("figures/"):
            continue
        literal = by_the_package.get(output, f'"{output}"')
        assert literal in source, f"{name} does not write {output} ({literal})"


#: Every params file: params/*.yaml (make report) and params/learned/*.yaml (make report-learned,
#: the learned controllers' full training budget, kept out of make report for its time).
PARAMS_FILES = sorted([*PARAMS_DIR.glob("*.yaml"), *PARAMS_DIR.glob("learned/*.yaml")])


def test_the_params_files_render_every_notebook():
    rendered = {n for path in PARAMS_FILES for n in load_params(path)["notebooks"]}
    assert rendered == set(NOTEBOOKS)
    learned = {n for path in PARAMS_DIR.glob("learned/*.yaml") for n in load_params(path)["notebooks"]}
    assert learned == {"05_learned_controllers.ipynb"}  # make report stays fast without it
    fast = {n for path in PARAMS_DIR.glob("*.yaml") for n in load_params(path)["notebooks"]}
    assert "05_learned_controllers.ipynb" not in fast


@pytest.mark.parametrize("path", PARAMS_FILES, ids=lambda p: p.name)
def test_params_files_name_known_parameters(path):
    params = load_params(path)
    assert params["run_id"]
    assert "output_dir" not in params  # the renderer decides where a report goes


def test_the_three_designs_exist():
    names = {p.stem for p in PARAMS_DIR.glob("*.yaml")}
    assert {"iquitos", "large_battery", "pv_only", "scheduling_replay"} <= names
