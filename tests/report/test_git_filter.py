"""The git filter pvbess-strip: a notebook saved with outputs reads as unchanged in git."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from pvbess.config import NOTEBOOKS_DIR, PROJECT_ROOT
from pvbess.report.strip import FILTER_NAME, install_git_filter, pre_save_hook, strip_text

NOTEBOOK = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))[0]


def _git(repo, *args: str) -> str:
    # the filter imports this checkout's pvbess, whatever the environment has installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env,
                          check=True).stdout


@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "test@example.org")
    _git(tmp_path, "config", "user.name", "test")
    shutil.copy(PROJECT_ROOT / ".gitattributes", tmp_path / ".gitattributes")
    (tmp_path / "notebooks").mkdir()
    shutil.copy(NOTEBOOK, tmp_path / "notebooks" / NOTEBOOK.name)
    assert install_git_filter(tmp_path, python=sys.executable)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "notebooks")
    return tmp_path


def _save_like_jupyterlab(path) -> None:
    """What a run and a save in JupyterLab add: outputs, counts, kernel and widget metadata."""
    nb = nbformat.read(str(path), as_version=4)
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": f"{i}"})]
        cell.execution_count = i + 1
        cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.2",
                                    "mimetype": "text/x-python", "file_extension": ".py"}
    nbformat.write(nb, str(path))


def test_a_saved_notebook_does_not_dirty_git(repo):
    path = repo / "notebooks" / NOTEBOOK.name
    _save_like_jupyterlab(path)
    assert "outputs" in path.read_text() and '"execution_count": 1' in path.read_text()
    assert _git(repo, "diff") == ""  # (git status lists it until `git add`: its size changed)
    _git(repo, "add", ".")  # committing it stores the stripped notebook
    assert _git(repo, "show", f":notebooks/{NOTEBOOK.name}") == NOTEBOOK.read_text()


def test_an_edit_still_shows(repo):
    path = repo / "notebooks" / NOTEBOOK.name
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[0].source += "\nA new sentence."
    nbformat.write(nb, str(path))
    _save_like_jupyterlab(path)
    diff = _git(repo, "diff")
    assert "A new sentence." in diff and "execution_count\": 1" not in diff


def test_the_committed_notebooks_are_fixed_points_of_the_filter():
    for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        assert strip_text(path.read_text()) == path.read_text(), path.name


def test_the_project_puts_notebooks_under_the_filter_and_make_installs_it():
    attributes = (PROJECT_ROOT / ".gitattributes").read_text()
    assert f"*.ipynb filter={FILTER_NAME}" in attributes.splitlines()
    assert "-m pvbess.report.strip --install" in (PROJECT_ROOT / "Makefile").read_text()


def test_jupyter_saves_stripped_through_the_pre_save_hook(tmp_path):
    path = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, path)
    _save_like_jupyterlab(path)
    model = {"type": "notebook", "content": json.loads(path.read_text())}
    pre_save_hook(model=model, path=NOTEBOOK.name, contents_manager=None)
    assert nbformat.writes(nbformat.from_dict(model["content"])) + "\n" == NOTEBOOK.read_text()
    text = {"type": "file", "content": "x"}
    pre_save_hook(model=text, path="a.txt", contents_manager=None)
    assert text == {"type": "file", "content": "x"}
