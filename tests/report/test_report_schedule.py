"""The order the renderer runs notebooks in (pvbess.report.render._schedule), with stand-in
notebooks: never before the notebooks it reads, never more at once than asked, the longest chain
first, a report finished once all its notebooks are, nothing new after a failure."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from pvbess.report import render
from pvbess.report.params import STEPS, ReportError

NB1, NB2, NB3, NB4 = (n for n in STEPS if n[:2] in ("01", "02", "03", "04"))


def _runs(tmp_path: Path) -> list[render._Run]:
    """The four reports of ``make report``: a design (01, 02, 03), two what-ifs (01, 02), a
    replay (04); no earlier render, so each notebook's expected time is its step's."""
    plans = {"iquitos": (NB1, NB2, NB3), "large_battery": (NB1, NB2), "pv_only": (NB1, NB2),
             "scheduling_replay": (NB4,)}
    return [render._Run(tmp_path / f"{run_id}.yaml", {"run_id": run_id},
                        tuple(STEPS[n] for n in names), tmp_path / run_id)
            for run_id, names in plans.items()]


class _Recorder:
    """Stand-in notebooks that take ``seconds`` each and record when they ran."""

    def __init__(self, seconds: float = 0.02, fail: str | None = None) -> None:
        self.seconds, self.fail = seconds, fail
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []  # ("start" | "end" | "finish", name)
        self.running = self.most = 0

    def execute(self, run: render._Run, step) -> None:
        name = f"{run.run_id}/{step.notebook[:2]}"
        with self.lock:
            self.events.append(("start", name))
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.0 if name == self.fail else self.seconds)  # a failure comes first
        with self.lock:
            self.running -= 1
            self.events.append(("end", name))
        if name == self.fail:
            raise ReportError(f"{name} failed")

    def finish(self, run: render._Run) -> None:
        with self.lock:
            self.events.append(("finish", run.run_id))

    def at(self, kind: str, name: str) -> int:
        return self.events.index((kind, name))


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_notebooks_wait_for_their_inputs_and_never_exceed_the_jobs(tmp_path, jobs):
    runs, rec = _runs(tmp_path), _Recorder()
    assert render._schedule(runs, jobs, rec.execute, rec.finish) == []
    assert rec.most == jobs  # the cores were kept busy, never oversubscribed
    for run in runs:
        names = [f"{run.run_id}/{s.notebook[:2]}" for s in run.steps]
        for step, name in zip(run.steps, names):
            for need in step.needs:
                assert rec.at("end", f"{run.run_id}/{need[:2]}") < rec.at("start", name)
        # the report is put in place once, after its last notebook
        assert [e for e in rec.events if e == ("finish", run.run_id)] == [("finish", run.run_id)]
        assert rec.at("finish", run.run_id) > max(rec.at("end", n) for n in names)
    starts = [name for kind, name in rec.events if kind == "start"]
    if jobs == 1:  # params file by params file, in order
        assert starts == [f"{r.run_id}/{s.notebook[:2]}" for r in runs for s in r.steps]
    else:  # the longest chains first: the annual simulations, read by their figures
        assert starts[:3] == ["iquitos/01", "large_battery/01", "pv_only/01"]


def test_a_failure_starts_nothing_new_and_finishes_only_complete_reports(tmp_path):
    runs = _runs(tmp_path)
    rec = _Recorder(fail="iquitos/01")
    failures = render._schedule(runs, 1, rec.execute, rec.finish)
    assert [str(f) for f in failures] == ["iquitos/01 failed"]
    assert rec.events == [("start", "iquitos/01"), ("end", "iquitos/01")]
    # at once: those under way finish (and are reported in the order of the reports)
    runs = _runs(tmp_path)
    rec = _Recorder(seconds=0.1, fail="large_battery/01")
    failures = render._schedule(runs, 2, rec.execute, rec.finish)
    assert [str(f) for f in failures] == ["large_battery/01 failed"]
    started = {name for kind, name in rec.events if kind == "start"}
    assert started == {"iquitos/01", "large_battery/01"}
    assert all(kind != "finish" for kind, _ in rec.events)
    assert ("end", "iquitos/01") in rec.events  # under way when the other failed: it finished


def test_a_ctrl_c_stops_the_kernels_and_waits_for_their_notebooks(tmp_path):
    """An interruption in the scheduling thread (here while a report is put in place) calls
    ``stop`` once, and returns only after the notebooks under way have ended, so that none
    writes into a build folder the caller then removes."""
    runs, rec = _runs(tmp_path), _Recorder(seconds=0.3)
    stopped = []

    def finish(run: render._Run) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render._schedule(runs, 3, rec.execute, finish, stop=lambda: stopped.append(True))
    assert stopped == [True]
    started = [name for kind, name in rec.events if kind == "start"]
    ended = [name for kind, name in rec.events if kind == "end"]
    assert len(started) > 1 and sorted(started) == sorted(ended)
