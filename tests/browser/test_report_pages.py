"""Every rendered report page opens offline in a real browser: no request leaves the machine, no
console error, every plotly figure drawn (issue 14's acceptance)."""

from __future__ import annotations

import pytest

import pvbess
from pvbess import report

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

LOCAL = ("file:", "data:", "blob:", "about:")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """A 7-day report of notebooks 01-03 (a 2-design sweep) and a 2-day replay (04)."""
    site = pvbess.load_iquitos().iloc[:7 * 24][["pv_kwh", "ev_kwh", "mall_kwh"]]
    root = tmp_path_factory.mktemp("pages")
    csv = root / "site.csv"
    site.to_csv(csv, index_label="time")
    design = root / "week.yaml"
    design.write_text(f"data_path: {csv}\nrun_optimal: false\n"
                      "capacity_kwh_values: [0.0, 2000.0]\npower_kw_values: [400.0]\n")
    replay = root / "replay.yaml"
    replay.write_text("run_id: replay\nnotebooks: [04_scheduling_replay.ipynb]\ndays: 2\n"
                      "forecast: persistence\nview_hour: 10\n")
    out = root / "reports"
    report.render_report([design, replay], out, progress=False, log=lambda *a: None)
    return out


def _blocking(external: list[str]):
    """A route handler that lets local files through and blocks (and records) the rest."""
    def route(r, *_):
        if r.request.url.startswith(LOCAL):
            r.continue_()
        else:  # the network is blocked: any request out is a failure
            external.append(r.request.url)
            r.abort()
    return route


def test_every_page_opens_offline_with_its_plots_drawn(reports, browser):
    pages = sorted(reports.rglob("*.html"))
    names = {p.relative_to(reports).as_posix() for p in pages}
    assert {"index.html", "week/01_annual_simulation.html", "week/02_energy_balance_report.html",
            "week/03_sizing_sweep.html", "replay/04_scheduling_replay.html"} <= names
    drawn = 0
    for page in pages:
        context = browser.new_context()
        tab = context.new_page()
        external: list[str] = []
        errors: list[str] = []

        tab.route("**/*", _blocking(external))
        tab.on("console", lambda m, errors=errors: errors.append(m.text)
               if m.type == "error" else None)
        tab.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        tab.goto(page.as_uri(), wait_until="load")
        figures = tab.locator(".plotly-graph-div").count()
        if figures:
            tab.wait_for_function(
                "n => document.querySelectorAll('.plotly-graph-div .main-svg').length >= n",
                arg=figures, timeout=60_000)
            drawn += figures
        assert "Loading widget" not in tab.inner_text("body"), page.name
        context.close()
        assert external == [], (page.name, external)
        assert errors == [], (page.name, errors)
    assert drawn >= 2  # notebook 01's plotly views rendered
