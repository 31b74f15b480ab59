"""Notebooks as git keeps them: no outputs, execution counts or run metadata.

``python -m pvbess.report.strip`` reads a notebook on stdin and writes it stripped to stdout: the
``clean`` command of the git filter ``pvbess-strip`` that ``make`` installs with
``python -m pvbess.report.strip --install`` (``.gitattributes`` puts every ``*.ipynb`` under it).
A notebook saved with its outputs (from any editor) then shows no difference in ``git diff``
and commits stripped; ``git status`` still lists it until ``git add`` (git trusts a changed file
size over the filter). JupyterLab started by ``make lab`` goes
further: its :func:`pre_save_hook` saves notebooks stripped, so the files on disk never change
by running them. The module imports nothing heavy, as git runs it for every changed notebook.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: Notebook metadata written by a run or by the frontend, not by the author.
_RUN_METADATA = ("papermill", "widgets")
#: Cell metadata of a run or of the view (collapsed or scrolled outputs).
_CELL_RUN_METADATA = ("papermill", "execution", "collapsed", "scrolled")

FILTER_NAME = "pvbess-strip"


def strip(nb: dict) -> dict:
    """Strip a notebook (its JSON as a dict, nbformat 4) in place; returns it."""
    metadata = nb.setdefault("metadata", {})
    for key in _RUN_METADATA:
        metadata.pop(key, None)
    if "language_info" in metadata:  # the kernel's version details: keep the language only
        metadata["language_info"] = {"name": metadata["language_info"].get("name", "python")}
    for cell in nb.get("cells", []):
        for key in _CELL_RUN_METADATA:
            cell.get("metadata", {}).pop(key, None)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def strip_text(text: str) -> str:
    """The stripped form of a notebook's JSON text (nbformat 4, as ``nbformat.write`` writes
    it: with a final newline)."""
    import nbformat

    return nbformat.writes(strip(nbformat.reads(text, as_version=4))) + "\n"


def pre_save_hook(model: dict, **kwargs) -> None:
    """Jupyter's ``ContentsManager.pre_save_hook`` (``make lab`` sets it): notebooks are saved
    stripped, so the files on disk stay as git keeps them; the open notebook keeps its
    outputs until it is closed."""
    if model.get("type") == "notebook" and isinstance(model.get("content"), dict):
        strip(model["content"])


def strip_notebook(path: str | Path) -> bool:
    """Strip a notebook in place (what git keeps; a test enforces it). True if it changed."""
    path = Path(path)
    before = path.read_text(encoding="utf-8")
    after = strip_text(before)
    if after != before:
        from .artefacts import write_text

        write_text(path, after)
    return after != before


def git_filter_commands(python: str = ".venv/bin/python") -> dict[str, str]:
    """``git config`` settings of the filter; ``python`` is relative to the working tree's top,
    where git runs filters, so each checkout uses its own environment."""
    return {f"filter.{FILTER_NAME}.clean": f"{python} -m pvbess.report.strip",
            f"filter.{FILTER_NAME}.smudge": "cat"}


def install_git_filter(repository: str | Path = ".", python: str = ".venv/bin/python") -> bool:
    """Configure the filter in the git repository at ``repository`` (``make`` calls this).

    Returns False, changing nothing, outside a git repository (e.g. an unpacked source archive).
    """
    import subprocess

    inside = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=repository,
                            capture_output=True, check=False)
    if inside.returncode != 0:
        return False
    for key, value in git_filter_commands(python).items():
        subprocess.run(["git", "config", key, value], cwd=repository, check=True)
    return True


if __name__ == "__main__":
    if sys.argv[1:] == ["--install"]:
        print("git filter pvbess-strip: " + ("installed (notebooks commit without outputs)"
                                             if install_git_filter() else "not a git checkout"))
    else:
        sys.stdout.write(strip_text(sys.stdin.read()))
