"""A report folder is replaced whole: a kill at any point leaves the old or the new report, and the
next run cleans what a killed run left."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pvbess.report import artefacts
from pvbess.report.artefacts import clean_leftovers, replace_dir, work_dir


def _report(folder, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text(text)
    (folder / "figures").mkdir(exist_ok=True)
    (folder / "figures" / "a.png").write_text(text)
    return folder


def _content(folder):
    return {p.relative_to(folder).as_posix(): p.read_text()
            for p in folder.rglob("*") if p.is_file()}


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_replace_dir_puts_the_new_report_in_place(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(artefacts, "_exchange", lambda a, b: False)
    final = _report(tmp_path / "run", "old")
    new = _report(work_dir(tmp_path, "run"), "new")
    replace_dir(new, final)
    assert _content(final) == {"index.html": "new", "figures/a.png": "new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_replace_dir_without_a_previous_report(tmp_path):
    new = _report(work_dir(tmp_path, "run"), "new")
    replace_dir(new, tmp_path / "run")
    assert _content(tmp_path / "run")["index.html"] == "new"


def test_the_swap_is_one_step_where_the_file_system_has_it(tmp_path, monkeypatch):
    """With renameat2's exchange no moment exists without a whole report: a kill right after the
    swap (before the old copy is removed) leaves the new report, and the next run removes the
    old copy."""
    final = _report(tmp_path / "run", "old")
    new = _report(work_dir(tmp_path, "run"), "new")
    if not artefacts._exchange(new, final):  # noqa: SLF001 - the platform capability itself
        pytest.skip("this file system cannot swap two folders in one step")
    artefacts._exchange(new, final)  # noqa: SLF001 - swap back: the test runs replace_dir

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(artefacts.shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        replace_dir(new, final)
    monkeypatch.undo()
    assert _content(final)["index.html"] == "new"
    assert new.exists()  # the old report, in the build folder of a (now) dead run
    dead = new.with_name(new.name.replace(f".{os.getpid()}.", f".{_dead_pid()}."))
    new.rename(dead)
    clean_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_kill_between_two_renames_is_undone_by_the_next_run(tmp_path, monkeypatch):
    monkeypatch.setattr(artefacts, "_exchange", lambda a, b: False)
    final = _report(tmp_path / "run", "old")
    new = _report(work_dir(tmp_path, "run"), "new")
    real_replace = os.replace
    calls = []

    def kill_on_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(artefacts.os, "replace", kill_on_second)
    with pytest.raises(KeyboardInterrupt):
        replace_dir(new, final)
    monkeypatch.undo()
    assert not final.exists()  # the old report sits in a .old folder of this process
    for path in tmp_path.iterdir():  # pretend this process died
        path.rename(path.with_name(path.name.replace(f".{os.getpid()}.", f".{_dead_pid()}.")))
    done = clean_leftovers(tmp_path)
    assert any(line.startswith("restored") for line in done)
    assert _content(final) == {"index.html": "old", "figures/a.png": "old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_clean_leftovers_spares_live_runs_and_other_folders(tmp_path):
    live = work_dir(tmp_path, "run")  # this process is alive
    dead = tmp_path / f".run.{_dead_pid()}.abc123.partial"
    dead.mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / ".notes.1.x.txt").write_text("")  # a file, not a leftover folder
    done = clean_leftovers(tmp_path)
    assert done == [f"removed {dead.name} (left by a killed run)"]
    assert live.exists() and (tmp_path / ".git").exists() and (tmp_path / "run").exists()
    assert clean_leftovers(tmp_path / "missing") == []
