"""Figure 7 energy_flows: the annual flows of :func:`~pvbess.plotting.flows.energy_flows` as a
Sankey diagram.

Sources (PV, grid) on the left, the battery in the middle, sinks on the right. The battery sits
below every band that runs from a source straight to a sink, so no band crosses a node, and
every link carries its number (labels pushed apart where bands are thin).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path

from .palette import COLORS
from .common import title
from .flows import energy_flows

_NODE_COLORS = {"PV": COLORS["pv"], "grid": COLORS["grid"], "battery": COLORS["bess"],
                "initial store": COLORS["stored"], "EV": COLORS["ev"], "mall": COLORS["mall"],
                "export": COLORS["export"], "curtailed": COLORS["curtailed"],
                "losses": COLORS["losses"], "stored": COLORS["stored"]}
_COLUMNS = {"PV": 0, "grid": 0, "initial store": 0, "battery": 1, "EV": 2, "mall": 2,
            "export": 2, "curtailed": 2, "losses": 2, "stored": 2}
_X = {0: 0.0, 1: 1.0, 2: 2.0}
_W = 0.06  # node width [x units]


def _links(flows: pd.DataFrame, top: dict[str, float]) -> list[tuple]:
    """Per link: (source, target, kwh, y0 top, y0 bottom, y1 top, y1 bottom), stacked in order."""
    out_cursor, in_cursor, links = dict(top), dict(top), []
    for src, tgt, v in flows[["source", "target", "kwh"]].itertuples(index=False):
        y0t, y1t = out_cursor[src], in_cursor[tgt]
        out_cursor[src], in_cursor[tgt] = y0t - v, y1t - v
        links.append((src, tgt, v, y0t, y0t - v, y1t, y1t - v))
    return links


def _layout(flows: pd.DataFrame) -> tuple[list[str], dict, dict, float, float]:
    """Nodes, their sizes and tops, the total and the gap between nodes [kWh on the y axis].

    Sources and sinks are stacked from a common top; the battery's top goes a gap below the
    lowest band that passes its column (a cubic band is at the mean of its two ends there).
    """
    node_in = flows.groupby("target")["kwh"].sum()
    node_out = flows.groupby("source")["kwh"].sum()
    nodes = [n for n in _COLUMNS if n in set(flows["source"]) | set(flows["target"])]
    size = {n: max(node_in.get(n, 0.0), node_out.get(n, 0.0)) for n in nodes}
    cols = {c: [n for n in nodes if _COLUMNS[n] == c] for c in (0, 1, 2)}
    total = max(sum(size[n] for n in cols[c]) for c in (0, 2))
    gap = 0.04 * total
    height = {c: sum(size[n] for n in cols[c]) + gap * max(len(cols[c]) - 1, 0) for c in (0, 2)}
    full = max(height.values())
    top: dict[str, float] = {}
    for c in (0, 2):
        y = full / 2 + height[c] / 2
        for n in cols[c]:
            top[n] = y
            y -= size[n] + gap
    if "battery" in size:
        top["battery"] = 0.0
        through = [(y0b + y1b) / 2 for s, t, _, _, y0b, _, y1b in _links(flows, top)
                   if _COLUMNS[s] == 0 and _COLUMNS[t] == 2]
        top["battery"] = (min(through) if through else full / 2) - gap
    return nodes, size, top, total, gap


def _push_apart(ys: list[float], sep: float) -> list[float]:
    """Label heights in the same order, moved down where two are closer than ``sep``."""
    order = np.argsort(ys)[::-1]
    out, last = list(ys), np.inf
    for i in order:
        out[i] = min(ys[i], last - sep)
        last = out[i]
    return out


def plot_energy_flows(balance: pd.DataFrame, *, scenario: str | None = None) -> Figure:
    """Figure 7: annual energy flows as a Sankey diagram, every node and link in MWh.

    Sources (PV, grid) on the left, the battery in the middle (below the bands that pass it),
    sinks (EV, mall, export, curtailment, battery losses, net stored energy) on the right; band
    widths are to scale, each link is labelled with its energy and each node's label is the sum
    of its links (see :func:`pvbess.plotting.energy_flows`).
    """
    flows = energy_flows(balance)
    nodes, size, top, total, gap = _layout(flows)
    fig = Figure(figsize=(12, 7.5), layout="constrained")
    ax = fig.subplots()
    link_labels: dict[float, list[tuple[float, str]]] = {}
    for src, tgt, v, y0t, y0b, y1t, y1b in _links(flows, top):
        x0, x1 = _X[_COLUMNS[src]] + _W / 2, _X[_COLUMNS[tgt]] - _W / 2
        xm = (x0 + x1) / 2
        verts = [(x0, y0t), (xm, y0t), (xm, y1t), (x1, y1t), (x1, y1b), (xm, y1b), (xm, y0b),
                 (x0, y0b), (x0, y0t)]
        codes = [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.LINETO,
                 Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.CLOSEPOLY]
        ax.add_patch(PathPatch(Path(verts, codes), facecolor=_NODE_COLORS[src], alpha=0.35,
                               lw=0))
        link_labels.setdefault(x0, []).append(((y0t + y0b) / 2, f"{v / 1000:,.1f} to {tgt}"))
    lowest = min(top[n] - size[n] for n in nodes)
    for x0, labels in link_labels.items():
        ys = _push_apart([y for y, _ in labels], 0.035 * total)
        for y, (_, text) in zip(ys, labels):
            ax.text(x0 + 0.015, y, text, fontsize=7, va="center", ha="left")
        lowest = min(lowest, min(ys) - 0.02 * total)
    for c in (0, 2):  # node labels beside their node, pushed apart so small nodes stay readable
        names = [n for n in nodes if _COLUMNS[n] == c]
        ys = _push_apart([top[n] - size[n] / 2 for n in names], 0.09 * total)
        for n, y in zip(names, ys):
            x, ha = (_X[c] - _W, "right") if c == 0 else (_X[c] + _W, "left")
            ax.text(x, y, f"{n}\n{size[n] / 1000:,.1f} MWh", ha=ha, va="center", fontsize=9)
            lowest = min(lowest, y - 0.05 * total)
    for n in nodes:
        c = _COLUMNS[n]
        ax.add_patch(Rectangle((_X[c] - _W / 2, top[n] - size[n]), _W,
                               max(size[n], 0.002 * total), color=_NODE_COLORS[n]))
    if "battery" in top:  # left of its node: its out-link numbers are on the right
        ax.text(_X[1] - _W, top["battery"] - size["battery"] / 2,
                f"battery\n{size['battery'] / 1000:,.1f} MWh", ha="right", va="center",
                fontsize=9)
    ax.set_xlim(-0.55, 2.55)
    ax.set_ylim(lowest - gap, max(top.values()) + gap)
    ax.axis("off")
    src_total = sum(size[n] for n in nodes if _COLUMNS[n] == 0)
    sink_total = sum(size[n] for n in nodes if _COLUMNS[n] == 2)
    ax.set_title(f"sources {src_total / 1000:,.1f} MWh = sinks {sink_total / 1000:,.1f} MWh "
                 f"(every number in MWh)", fontsize=9)
    title(fig, "Fig. 7  Annual energy flows [MWh]", balance, scenario)
    return fig


__all__ = ["plot_energy_flows"]
