"""Notebooks 01 and 03 in a real JupyterLab, driven through headless Chromium.

Each notebook is run in the browser (small parameters, see conftest.SMOKE); then its widgets are
moved as a user would (a typed date, the day slider; the explorer's menu and sliders) and every
view must redraw: the day figure's title names the new day, the explorer's PNG changes and
loads. No "Loading widget", no error output, no console errors; saving leaves the file on disk
stripped (make lab's pre-save hook). ``PVBESS_SCREENSHOTS=<folder>`` keeps screenshots.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

RUN_TIMEOUT_MS = 900_000  # a cold numba cache on a loaded 2-core machine compiles for minutes
REDRAW_TIMEOUT_MS = 60_000

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
def page(browser, lab, request):
    """A fresh page; console errors and page errors collected in ``page.errors``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    _shot(page, f"{request.node.name}-last")
    context.close()


def _run_notebook(page, lab, name: str):
    base, token, folder = lab
    # a workspace of its own: the notebook alone, not the tabs an earlier test left open
    page.goto(f"{base}/lab/workspaces/{Path(name).stem}/tree/{name}?token={token}")
    page.wait_for_function(_KERNEL_IDLE, timeout=120_000, polling=500)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    status = page.wait_for_function(_DONE, timeout=RUN_TIMEOUT_MS, polling=1000).json_value()
    assert status == "done", f"{name}: {status}"
    return page


def _cell(page, source_snippet: str):
    return page.locator(".jp-CodeCell").filter(has_text=source_snippet).last


def _check_page(page, name: str) -> None:
    assert page.get_by_text("Loading widget").count() == 0, f"{name}: a widget never loaded"
    assert page.get_by_text("Traceback").count() == 0
    assert page.errors == [], f"{name}: console errors {page.errors}"


def _save_and_check_stripped(page, lab, name: str) -> None:
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    path = lab[2] / name
    page.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)
    nb = nbformat.read(str(path), as_version=4)
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells
               if c.cell_type == "code"), f"{name} saved with outputs"


def test_day_picker_redraws_for_a_typed_date_and_the_slider(page, lab):
    from playwright.sync_api import expect  # (the browser fixture skips without playwright)

    name = "01_annual_simulation.ipynb"
    _run_notebook(page, lab, name)
    cell = _cell(page, "interactive.day_picker(")
    title = cell.locator(".widget-output .gtitle")
    title.wait_for(timeout=REDRAW_TIMEOUT_MS)
    first = title.text_content()
    assert first.startswith("Energy balance of 2025-")
    assert page.locator(".jp-CodeCell .gtitle").filter(has_text=first[:25]).count() == 1, \
        "the day figure is shown more than once"
    cell.scroll_into_view_if_needed()
    _shot(page, "01_day_picker_first")

    date = cell.locator(".widget-datepicker input[type=date]")
    date.fill("2025-03-15")
    date.press("Tab")
    expect(title).to_contain_text("2025-03-15", timeout=REDRAW_TIMEOUT_MS)  # (a new element)
    _shot(page, "01_day_picker_typed")

    cell.locator(".widget-slider .noUi-handle").first.press("ArrowRight")
    expect(title).to_contain_text("2025-03-16", timeout=REDRAW_TIMEOUT_MS)
    assert date.input_value() == "2025-03-16"  # the date box follows the slider
    assert cell.locator(".widget-output .main-svg").count() > 0  # the plot itself is drawn
    _shot(page, "01_day_picker_slider")
    _check_page(page, name)
    _save_and_check_stripped(page, lab, name)


def _image_state(image) -> dict:
    return image.evaluate("i => ({src: i.src, width: i.naturalWidth, done: i.complete})")


def _wait_new_image(page, image, old_src: str) -> dict:
    page.wait_for_function("([i, old]) => i.src !== old && i.complete && i.naturalWidth > 0",
                           arg=[image.element_handle(), old_src], timeout=REDRAW_TIMEOUT_MS)
    return _image_state(image)


def test_sweep_explorer_shows_and_redraws_its_image(page, lab):
    name = "03_sizing_sweep.ipynb"
    _run_notebook(page, lab, name)
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
    _shot(page, "03_explorer_first")
    progress = _cell(page, "pvbess.sweep(site, grid")
    assert progress.get_by_text("first design (compiles once)").count() == 1
    assert progress.get_by_text("12/12").count() == 1  # the bar finished on every design

    cell.locator(".widget-dropdown select").select_option(label="NPV of the battery against "
                                                                "PV only [PEN]")
    state = _wait_new_image(page, image, state["src"])
    _shot(page, "03_explorer_menu")
    for i, key in [(2, "ArrowLeft"), (0, "ArrowRight")]:  # PV scale, then the marked capacity
        cell.locator(".widget-slider .noUi-handle").nth(i).press(key)
        state = _wait_new_image(page, image, state["src"])
    _shot(page, "03_explorer_sliders")
    _check_page(page, name)
    _save_and_check_stripped(page, lab, name)
