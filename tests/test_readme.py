"""The README's code runs as written: every Python block in order in one namespace, and the
papermill command with its list parameters."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from pvbess.config import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_the_python_blocks_run():
    blocks = _blocks("python")
    assert blocks, "the README has Python examples"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the README's code
    assert not namespace["result"].comparison.empty
    assert namespace["bound"].cost <= namespace["plan"].cost + 1e-6


def test_the_papermill_command_runs(tmp_path):
    commands = [b for b in _blocks("bash") if "papermill" in b]
    assert len(commands) == 1
    argv = shlex.split(commands[0].replace("\\\n", " "))
    assert argv[0] == ".venv/bin/papermill"
    out = tmp_path / "03_mine.ipynb"
    argv = [sys.executable, "-m", "papermill", argv[1], str(out), *argv[3:],
            "-p", "output_dir", str(tmp_path), "-p", "progress", "False"]
    run = subprocess.run(argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    import pandas as pd

    sweep = pd.read_csv(tmp_path / "sweep.csv.gz")
    assert sorted(set(sweep["capacity_kwh"])) == [1000.0, 2000.0]
    assert sorted(set(sweep["power_kw"])) == [200.0, 400.0]


@pytest.mark.parametrize("target", ["report", "test", "lab", "notebook", "report-learned"])
def test_the_make_targets_exist(target):
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(rf"^{target}:", makefile, flags=re.M)
    assert f"make {target}" in README
