"""Notebooks 01 and 03 in JupyterLab and in the classic notebook interface (Notebook 7), driven
through headless Chromium.

Each test runs once per front end (conftest's ``server`` fixture: Lab, then Notebook 7). Each
notebook is run in the browser (small parameters, see conftest.SMOKE); then its widgets are
moved as a user would (a typed date; the day slider dragged with the mouse and, in Lab, stepped
with an arrow key; the explorer's menu, and its sliders dragged) and every view must redraw:
the day figure's title names the new day, the explorer's PNG changes and loads. No "Loading
widget", no error output, no console errors; saving leaves the file on disk stripped (the
pre-save hook of make lab / make notebook). ``PVBESS_SCREENSHOTS=<folder>`` keeps screenshots.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

RUN_TIMEOUT_MS = 900_000  # a cold numba cache on a loaded 2-core machine compiles for minutes
REDRAW_TIMEOUT_MS = 60_000
#: Errors a front end throws by itself (never pvbess's), each with its upstream issue. Notebook
#: 7.6 throws this once when the first cell of any notebook runs (a race in its keyboard
#: shortcuts' settings: https://github.com/jupyter/notebook/issues/7862; reproduced here on a
#: Markdown cell with empty user settings). Any other console error fails the test.
FRONT_END_ERRORS = {"notebook": ("Cannot read properties of undefined (reading 'schema')",)}

_DONE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session?.kernel;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  for (const c of cells) {
    for (const o of c.model.outputs.toJSON()) {
      if (o.output_type === 'error') return 'error: ' + o.ename + ': ' + o.evalue;
    }
  }
  const ran = cells.every(c => c.model.executionCount !== null);
  return ran && kernel && kernel.status === 'idle' ? 'done' : false;
}"""

_KERNEL_IDLE = """() => {
  const panel = window.jupyterapp?.shell.currentWidget;
  return panel?.sessionContext?.session?.kernel?.status === 'idle';
}"""


def _shot(page, name: str) -> None:
    folder = os.environ.get("PVBESS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def page(browser, server, request):
    """A fresh page; console errors and page errors collected in ``page.errors``; afterwards
    the kernel the test started is stopped (the next notebook gets the CPU and the memory)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    _shot(page, f"{request.node.name}-last")
    context.close()
    server.shutdown_kernels()


def _run_notebook(page, server, name: str):
    page.goto(server.notebook_url(name))
    page.wait_for_function(_KERNEL_IDLE, timeout=120_000, polling=500)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    status = page.wait_for_function(_DONE, timeout=RUN_TIMEOUT_MS, polling=1000).json_value()
    assert status == "done", f"{name}: {status}"
    return page


def _cell(page, source_snippet: str):
    return page.locator(".jp-CodeCell").filter(has_text=source_snippet).last


def _check_page(page, server, name: str) -> None:
    assert page.get_by_text("Loading widget").count() == 0, f"{name}: a widget never loaded"
    assert page.get_by_text("Traceback").count() == 0
    errors = [e for e in page.errors if e not in FRONT_END_ERRORS.get(server.kind, ())]
    assert errors == [], f"{name} ({server.kind}): console errors {errors}"


def _save_and_check_stripped(page, server, name: str) -> None:
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    path = server.folder / name
    page.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)
    nb = nbformat.read(str(path), as_version=4)
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells
               if c.cell_type == "code"), f"{name} saved with outputs"


def test_day_picker_redraws_for_a_typed_date_and_the_slider(page, server):
    from playwright.sync_api import expect  # (the browser fixture skips without playwright)

    name = "01_annual_simulation.ipynb"
    _run_notebook(page, server, name)
    cell = _cell(page, "interactive.day_picker(")
    title = cell.locator(".widget-output .gtitle")
    title.wait_for(timeout=REDRAW_TIMEOUT_MS)
    first = title.text_content()
    assert first.startswith("Energy balance of 2025-")
    assert page.locator(".jp-CodeCell .gtitle").filter(has_text=first[:25]).count() == 1, \
        "the day figure is shown more than once"
    cell.scroll_into_view_if_needed()
    _shot(page, f"{server.kind}_01_day_picker_first")

    date = cell.locator(".widget-datepicker input[type=date]")
    date.fill("2025-03-15")
    date.press("Tab")
    expect(title).to_contain_text("2025-03-15", timeout=REDRAW_TIMEOUT_MS)  # (a new element)
    _shot(page, f"{server.kind}_01_day_picker_typed")

    _drag_slider(page, cell.locator(".widget-slider").first, 200 / 364)  # day 201 of 365
    expect(title).to_contain_text("2025-07-20", timeout=REDRAW_TIMEOUT_MS)
    assert date.input_value() == "2025-07-20"  # the date box follows the slider
    if server.kind == "lab":  # Notebook 7 takes the arrow keys for its cell selection
        cell.locator(".widget-slider .noUi-handle").first.press("ArrowRight")
        expect(title).to_contain_text("2025-07-21", timeout=REDRAW_TIMEOUT_MS)
        assert date.input_value() == "2025-07-21"
    assert cell.locator(".widget-output .main-svg").count() > 0  # the plot itself is drawn
    _shot(page, f"{server.kind}_01_day_picker_slider")
    _check_page(page, server, name)
    _save_and_check_stripped(page, server, name)


def _drag_slider(page, slider, position: float) -> None:
    """Drag a slider's handle with the mouse to ``position`` of its track (0 left, 1 right)."""
    slider.scroll_into_view_if_needed()
    handle = slider.locator(".noUi-handle").first.bounding_box()
    track = slider.locator(".noUi-base").first.bounding_box()
    y = handle["y"] + handle["height"] / 2
    page.mouse.move(handle["x"] + handle["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] * position, y, steps=8)
    page.mouse.up()


def _image_state(image) -> dict:
    return image.evaluate("i => ({src: i.src, width: i.naturalWidth, done: i.complete})")


def _wait_new_image(page, image, old_src: str) -> dict:
    page.wait_for_function("([i, old]) => i.src !== old && i.complete && i.naturalWidth > 0",
                           arg=[image.element_handle(), old_src], timeout=REDRAW_TIMEOUT_MS)
    return _image_state(image)


def test_sweep_explorer_shows_and_redraws_its_image(page, server):
    name = "03_sizing_sweep.ipynb"
    _run_notebook(page, server, name)
    cell = _cell(page, "pvbess.sweep_explorer(")
    image = cell.locator("img.widget-image")
    image.wait_for(timeout=REDRAW_TIMEOUT_MS)
    state = _image_state(image)
    assert state["done"] and state["width"] > 300, "the explorer shows no image"
    assert cell.get_by_text("<Figure size").count() == 0
    labels = cell.locator(".widget-slider .widget-label")
    assert labels.all_text_contents() == ["battery capacity", "battery power", "PV scale"]
    cut = labels.evaluate_all("ls => ls.filter(l => l.scrollWidth > l.clientWidth).length")
    assert cut == 0, "a slider label is cut off"
    cell.scroll_into_view_if_needed()
    _shot(page, f"{server.kind}_03_explorer_first")
    progress = _cell(page, "pvbess.sweep(site, grid")
    assert progress.get_by_text("first design (compiles once)").count() == 1
    assert progress.get_by_text("12/12").count() == 1  # the bar finished on every design

    cell.locator(".widget-dropdown select").select_option(label="NPV of the battery against "
                                                                "PV only [PEN]")
    state = _wait_new_image(page, image, state["src"])
    _shot(page, f"{server.kind}_03_explorer_menu")
    for i, end in [(2, 0.0), (0, 1.0)]:  # the smallest PV scale, then the largest capacity
        _drag_slider(page, cell.locator(".widget-slider").nth(i), end)
        state = _wait_new_image(page, image, state["src"])
    _shot(page, f"{server.kind}_03_explorer_sliders")
    _check_page(page, server, name)
    _save_and_check_stripped(page, server, name)
