"""The 16 report figures as a reader sees them, checked from matplotlib's own layout.

Every figure of :data:`pvbess.FIGURES` is drawn for the default Iquitos year, the PV-only
design (params/pv_only.yaml: no battery) and the large battery (params/large_battery.yaml) on
the Agg canvas, and the drawn layout is checked:

- no two drawn text elements overlap (tick labels, axis labels, titles, legend entries, value
  labels; across axes too);
- no legend covers plotted data of its axes (a line vertex, a bar or a filled area under the box);
- the title names the scenario (:func:`pvbess.scenario_label`);
- every axis whose tick labels are numbers has a label with a unit in brackets; axes whose ticks
  are words (months, days, loads, steps) are category axes and need none;
- no panel draws only zeros: a design without a battery says "no battery in this design" in the
  battery panels instead of drawing empty axes;
- a number printed in a bar fits in it, and no number on a plot sits on a data line;
- the Sankey labels every link and no band crosses a node it does not start or end at.

"Drawn" means drawn by ``fig.canvas.draw()``: the test records the texts matplotlib actually
renders, so tick labels outside the view and empty strings do not count.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.container import BarContainer
from matplotlib.image import AxesImage
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.text import Text
from matplotlib.transforms import Bbox

import pvbess
from pvbess import FIGURES

NO_BATTERY = "no battery in this design"
UNIT_IN_BRACKETS = re.compile(r"\[[^\]]+\]")
NUMBER = re.compile(r"^[\s\u2212+-]*[\d.,]+\s*%?\s*$")
#: Overlap below this many pixels in either direction is anti-aliasing, not a collision.
TOLERANCE_PX = 1.0


@pytest.fixture(scope="module")
def runs() -> dict:
    """One simulation per design of params/*.yaml that draws the 16 figures: the default Iquitos
    run, the PV-only baseline and the large battery (4,000 kWh / 800 kW)."""
    site = pvbess.load_iquitos()
    default = pvbess.simulate(site)
    default.attrs.update(run_id="iquitos", pv_kwp=4050.0)
    pv_only = pvbess.simulate(site, pvbess.Battery(capacity_kwh=0.0, power_charge_kw=0.0,
                                                   power_discharge_kw=0.0), strategy="pv_only")
    pv_only.attrs.update(run_id="pv_only", pv_kwp=4050.0)
    large = pvbess.simulate(site, pvbess.Battery(capacity_kwh=4000.0, power_charge_kw=800.0,
                                                 power_discharge_kw=800.0))
    large.attrs.update(run_id="large_battery", pv_kwp=4050.0)
    return {"default": default, "pv_only": pv_only, "large_battery": large}


@contextmanager
def _record_drawn_texts():
    """Collect every Text that matplotlib renders (visible, non-empty) while drawing."""
    drawn: list[Text] = []
    original = Text.draw

    def draw(self, renderer):
        original(self, renderer)
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)

    Text.draw = draw
    try:
        yield drawn
    finally:
        Text.draw = original


def _draw(fig):
    canvas = FigureCanvasAgg(fig)
    with _record_drawn_texts() as drawn:
        canvas.draw()
    renderer = canvas.get_renderer()
    frame = fig.bbox
    boxes = []
    for t in dict.fromkeys(drawn):  # unique, in drawing order
        box = t.get_window_extent(renderer)
        if box.width <= 0 or box.height <= 0 or not box.overlaps(frame):
            continue
        boxes.append((t, box))
    return renderer, boxes


@pytest.fixture(scope="module")
def drawn(runs) -> dict:
    """(design, figure number) -> (figure, renderer, [(text, bbox)])."""
    matplotlib.use("Agg")
    out = {}
    for design, balance in runs.items():
        for spec in FIGURES:
            fig = spec.function(balance)
            out[design, spec.number] = (fig, *_draw(fig))
    return out


CASES = [(d, s.number) for d in ("default", "pv_only", "large_battery") for s in FIGURES]


def _overlap(a: Bbox, b: Bbox) -> bool:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w > TOLERANCE_PX and h > TOLERANCE_PX


def _text_name(t: Text) -> str:
    return repr(t.get_text()[:40])


@pytest.mark.parametrize("design,number", CASES)
def test_no_two_texts_overlap(drawn, design, number):
    fig, renderer, boxes = drawn[design, number]
    clashes = [f"{_text_name(a)} x {_text_name(b)}"
               for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:]
               if _overlap(ba, bb)]
    assert not clashes, f"figure {number} ({design}): texts overlap: {clashes[:6]}"


def _data_points(ax) -> np.ndarray:
    """Display coordinates of the plotted data of an axes: line vertices, polygon vertices."""
    pts = []
    for line in ax.get_lines():
        if line.get_transform() != ax.transData:  # axhline / axvline: references, not data
            continue
        xy = line.get_xydata()
        if len(xy):
            pts.append(ax.transData.transform(np.asarray(xy, dtype=float)))
    for coll in ax.collections:
        if isinstance(coll, PolyCollection):
            for path in coll.get_paths():
                pts.append(coll.get_transform().transform(path.vertices))
    if not pts:
        return np.empty((0, 2))
    pts = np.concatenate(pts)
    pts = pts[np.isfinite(pts).all(axis=1)]
    inside = ax.bbox
    keep = ((pts[:, 0] >= inside.x0) & (pts[:, 0] <= inside.x1)
            & (pts[:, 1] >= inside.y0) & (pts[:, 1] <= inside.y1))
    return pts[keep]


def _bars(ax) -> list[Bbox]:
    boxes = []
    for container in ax.containers:
        if isinstance(container, BarContainer):
            for patch in container.patches:
                box = patch.get_window_extent()
                if box.width > 0.5 and box.height > 0.5:
                    boxes.append(Bbox.intersection(box, ax.bbox) or Bbox.null())
    return [b for b in boxes if b.width > 0 and b.height > 0]


@pytest.mark.parametrize("design,number", CASES)
def test_no_legend_covers_data(drawn, design, number):
    fig, renderer, _ = drawn[design, number]
    covered = []
    for i, ax in enumerate(fig.axes):
        legend = ax.get_legend()
        if legend is None or not legend.get_visible():
            continue
        box = legend.get_window_extent(renderer)
        pts = _data_points(ax)
        # a twin axes shares the box: its data counts too
        for other in fig.axes:
            if other is not ax and other.bbox.bounds == ax.bbox.bounds:
                pts = np.concatenate([pts, _data_points(other)])
        n_pts = int(((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1)
                     & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1)).sum())
        n_bars = sum(_overlap(box, bar) for bar in _bars(ax))
        if n_pts or n_bars:
            covered.append(f"axes {i} ({ax.get_title()!r}): {n_pts} points, {n_bars} bars")
    assert not covered, f"figure {number} ({design}): legend covers data: {covered}"


@pytest.mark.parametrize("design,number", CASES)
def test_title_names_the_scenario(drawn, runs, design, number):
    fig = drawn[design, number][0]
    assert fig.get_suptitle().startswith(f"Fig. {number} ")
    assert pvbess.scenario_label(runs[design]) in fig.get_suptitle()


def _has_data(ax) -> bool:
    return bool(ax.get_lines() or ax.containers or ax.collections or ax.images)


@pytest.mark.parametrize("design,number", CASES)
def test_numeric_axes_carry_units(drawn, design, number):
    fig, renderer, boxes = drawn[design, number]
    texts = {id(t) for t, _ in boxes}
    missing = []
    for i, ax in enumerate(fig.axes):
        if not ax.axison or not (_has_data(ax) or ax.get_label() == "<colorbar>"):
            continue
        for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            ticks = [t.get_text() for t in axis.get_ticklabels(which="both")
                     if id(t) in texts]
            if not ticks or not all(NUMBER.match(t) for t in ticks):
                continue  # no tick labels drawn, or a category / date axis
            lab = axis.get_label_text()
            if not UNIT_IN_BRACKETS.search(lab):
                missing.append(f"axes {i} {name}: label {lab!r} for ticks {ticks[:3]}")
    assert not missing, f"figure {number} ({design}): numeric axes without a unit: {missing}"


def _only_zeros(ax) -> bool:
    """True when an axes with data draws nothing but zeros (or NaN)."""
    values = []
    for line in ax.get_lines():
        if line.get_transform() == ax.transData:
            values.append(np.asarray(line.get_ydata(), dtype=float))
    for container in ax.containers:
        if isinstance(container, BarContainer):
            values.append(np.array([p.get_height() for p in container.patches], dtype=float))
    for coll in ax.collections:
        if isinstance(coll, PolyCollection):
            values.append(np.array([abs(np.ptp(p.vertices[:, 1])) for p in coll.get_paths()]))
    for im in ax.images:
        if isinstance(im, AxesImage):
            values.append(np.asarray(im.get_array(), dtype=float).ravel())
    if not values:
        return False
    v = np.concatenate([x.ravel() for x in values])
    v = v[np.isfinite(v)]
    return not np.any(v != 0)


@pytest.mark.parametrize("design,number", CASES)
def test_no_panel_draws_only_zeros(drawn, design, number):
    fig = drawn[design, number][0]
    empty = [f"axes {i} ({ax.get_ylabel()!r})" for i, ax in enumerate(fig.axes)
             if ax.axison and _only_zeros(ax)]
    assert not empty, f"figure {number} ({design}): panels with nothing to show: {empty}"


@pytest.mark.parametrize("number", [1, 2, 5, 6, 12, 13])
def test_battery_panels_say_there_is_no_battery(drawn, number):
    _, _, boxes = drawn["pv_only", number]
    assert any(NO_BATTERY in t.get_text() for t, _ in boxes), \
        f"figure {number} (pv_only) does not say {NO_BATTERY!r}"


def _line_samples(ax) -> np.ndarray:
    """Points along the drawn data lines of an axes (display coords), 24 per segment."""
    pts = []
    for line in ax.get_lines():
        if line.get_transform() != ax.transData or line.get_linestyle() in ("None", ""):
            continue
        xy = ax.transData.transform(np.asarray(line.get_xydata(), dtype=float))
        if len(xy) < 2 or len(xy) > 2000:  # a year of steps is checked by its vertices
            continue
        s = np.linspace(0, 1, 24)[:, None, None]
        pts.append((xy[:-1] * (1 - s) + xy[1:] * s).reshape(-1, 2))
    if not pts:
        return np.empty((0, 2))
    pts = np.concatenate(pts)
    return pts[np.isfinite(pts).all(axis=1)]


@pytest.mark.parametrize("design,number", CASES)
def test_value_labels_fit_their_bar_and_cross_no_line(drawn, design, number):
    """A number printed in a bar stays inside it; a number on the plot crosses no data line."""
    fig, renderer, boxes = drawn[design, number]
    drawn_texts = {id(t): b for t, b in boxes}
    bad = []
    for ax in fig.axes:
        bars, line_pts = _bars(ax), _line_samples(ax)
        for t in ax.texts:
            box = drawn_texts.get(id(t))
            if box is None:
                continue
            cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
            for bar in bars:
                if bar.contains(cx, cy) and not (
                        bar.x0 - TOLERANCE_PX <= box.x0 and box.x1 <= bar.x1 + TOLERANCE_PX
                        and bar.y0 - TOLERANCE_PX <= box.y0 and box.y1 <= bar.y1 + TOLERANCE_PX):
                    bad.append(f"{_text_name(t)} spills out of its bar")
            inside = ((line_pts[:, 0] > box.x0) & (line_pts[:, 0] < box.x1)
                      & (line_pts[:, 1] > box.y0) & (line_pts[:, 1] < box.y1))
            if inside.any():
                bad.append(f"{_text_name(t)} crosses a data line")
    assert not bad, f"figure {number} ({design}): {bad[:6]}"


@pytest.mark.parametrize("design", ["default", "pv_only", "large_battery"])
def test_sankey_labels_every_link_and_no_band_crosses_a_node(drawn, runs, design):
    fig = drawn[design, 7][0]
    ax = fig.axes[0]
    flows = pvbess.plotting.energy_flows(runs[design])
    nodes = [p for p in ax.patches if isinstance(p, Rectangle)]
    bands = [p for p in ax.patches if isinstance(p, PathPatch)]
    assert len(bands) == len(flows)
    for band in bands:
        xs = band.get_path().vertices[:, 0]
        for node in nodes:
            box = node.get_bbox()
            if not (xs.min() < box.x0 and box.x1 < xs.max()):
                continue  # the band starts or ends at this node's column
            inner = Bbox.from_extents(box.x0, box.y0 + 1e-6 * box.height,
                                      box.x1, box.y1 - 1e-6 * box.height)
            assert not band.get_path().intersects_bbox(inner, filled=True), \
                f"a band crosses the node at x={box.x0:.2f}, y={box.y0:,.0f}..{box.y1:,.0f}"
    texts = [t.get_text() for t in ax.texts]
    for src, tgt, kwh in flows[["source", "target", "kwh"]].itertuples(index=False):
        assert f"{kwh / 1000:,.1f} to {tgt}" in texts, f"link {src} -> {tgt} unlabelled"
