"""The unrolled networks: RNN on top, LSTM below, one column per time step.

Cells are coloured by the state, unit by unit (S_t; C_t over h_t), the recurrent edges
S_{t-1} → S_t and the cell highway C_{t-1} → C_t are as thick as the per-step factor (R1, L4)
and coloured by it (style.edge_width, style.edge_rgba), and the "gradient pulse" strips hold
log10 ‖∂S_T/∂S_k‖ (R2) and ‖∂C_T/∂C_k‖ (L7) on a sequential colour scale. The Paths view's
highlighted path (ViewState.paths_highlight, plots/paths.py) is drawn along the cells it passes.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from simulator import Results

from . import paths as path_view
from . import style
from .cache import derived
from .spec import Axis, Panel, Plot, Table, Unrolled
from .text import caption
from .view import ViewState

TITLE = "Unrolled networks"

# Geometry, in data units: x = time step, y grows downwards. Both renderers use it.
CELL_WIDTH = 0.62  # of one step; the gap left over is where the recurrent edge is drawn
RNN_ROW = (0.0, 0.8)  # S_t cells
RNN_GRAD_ROW = (0.9, 1.1)  # pulse strip: log10 ||dS_T/dS_k||
LSTM_C_ROW = (1.42, 1.92)  # C_t, upper half of an LSTM cell (the highway runs on top)
LSTM_H_ROW = (1.92, 2.42)  # h_t, lower half
LSTM_GRAD_ROW = (2.52, 2.72)  # pulse strip: log10 ||dC_T/dC_k||
Y_RANGE = (-0.1, 2.8)
ROWS = {"rnn": RNN_ROW, "lstm_C": LSTM_C_ROW, "lstm_h": LSTM_H_ROW,
        "rnn_grad": RNN_GRAD_ROW, "lstm_grad": LSTM_GRAD_ROW}
ROW_LABELS = (((RNN_ROW[0] + RNN_ROW[1]) / 2, "RNN  S_{t}"),
              ((RNN_GRAD_ROW[0] + RNN_GRAD_ROW[1]) / 2, "‖∂S_{T}/∂S_{k}‖"),
              ((LSTM_C_ROW[0] + LSTM_H_ROW[1]) / 2, "LSTM  h_{t} / C_{t}"),
              ((LSTM_GRAD_ROW[0] + LSTM_GRAD_ROW[1]) / 2, "‖∂C_{T}/∂C_{k}‖"))
H_CHAIN_WIDTH = 0.05  # the h chain is context only: thin and constant
MIN_COLUMN_PIXELS = 7.0  # below this many pixels per step, cells become strips
STRIP_RIBBON_ALPHA = 0.55  # in strips the edge ribbon lies over the cells: let the states show through

DECADE_LIMIT = 30  # the gradient colour scale never spans beyond 10^-30 .. 10^+30


def decade_ticks(lo: int, hi: int) -> list[int]:
    """A few decades to label on the gradient colour scale, the two ends always included."""
    span = hi - lo
    step = next(s for s in (1, 2, 3, 5, 10, 15, 20, 30) if span / s <= 5)
    ticks = sorted({n for n in range(lo, hi + 1) if n % step == 0} | {lo, hi})
    # drop inner ticks that would crowd an end label
    return [n for n in ticks if n in (lo, hi) or (n - lo >= step * 0.6 and hi - n >= step * 0.6)]


def gradient_range(*log10_arrays: np.ndarray) -> tuple[int, int]:
    """(lo, hi) decades of the pulse colour scale: the data's range, within ±DECADE_LIMIT."""
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in log10_arrays])
    real = values[~style.is_zero_log(values)]
    vmax = float(real.max()) if real.size else 0.0
    vmin = float(real.min()) if real.size else -1.0
    hi = int(np.clip(math.ceil(vmax), 0, DECADE_LIMIT))
    lo = int(np.clip(math.floor(vmin), -DECADE_LIMIT, -1))
    return min(lo, hi - 2), hi


def _cells(values: np.ndarray, levels: tuple[float, float], what: str) -> np.ndarray:
    return derived(f"unrolled.cells.{what}.{levels}", (values,),
                   lambda: np.ascontiguousarray(style.map_colours(values.T, "states", levels)))


def _mean(values: np.ndarray) -> np.ndarray:
    """The mean over units per step (what a cell shows as one number when H > 1)."""
    return derived("unrolled.mean", (values,), lambda: values.mean(axis=1))


def _centre(row: tuple[float, float]) -> float:
    return (row[0] + row[1]) / 2


def highlight_points(results: Results, view: ViewState, blocking: bool = True) -> tuple[np.ndarray, np.ndarray] | None:
    """The Paths view's highlighted path as a polyline through the cells it passes (x = step,
    y = row centre): h_t and C_t (S_t for the RNN) in their rows, L_T and y_T (O_T) in cell T, the
    gates between cells (a gate of step t connects cell t to h_{t-1}), and the copy W^(k) on the
    C/h divider of cell k. None when no path is highlighted (or its numbers are not known yet)."""
    if view.paths_highlight is None:
        return None
    k = view.paths_k_for(results.steps)
    data = path_view.path_data(results, view.paths_weight, k, view.paths_order, blocking)
    path = None if data is None else path_view.highlighted_path(data, view)
    if path is None:
        return None
    rows = {"h": _centre(LSTM_H_ROW), "y": _centre(LSTM_H_ROW), "L": _centre(LSTM_H_ROW), "C": _centre(LSTM_C_ROW),
            "W": LSTM_C_ROW[1], "S": _centre(RNN_ROW), "O": _centre(RNN_ROW)}
    if view.paths_weight == "U":
        rows["L"] = _centre(RNN_ROW)
    points = []
    for node in path.nodes:
        if node.kind not in rows:  # a gate (or U^(k), at S_k): between the cells it joins
            continue
        point = (float(node.step), rows[node.kind])
        if not points or points[-1] != point:
            points.append(point)
    x, y = (np.array(values, dtype=np.float64) for values in zip(*points))
    return x, y


def _element_of_results(r: Results, theme: str) -> Unrolled:
    """The unrolled networks of these results, at no particular step (revealed = selected = 0)."""
    C_levels = style.state_levels("lstm_C", r.lstm_C)
    rnn_factor = derived("unrolled.rnn_factor", (r.rnn_factor_norm,), lambda: style.finite_or(r.rnn_factor_norm))
    lstm_factor = derived("unrolled.lstm_factor", (r.lstm_factor_norm,), lambda: style.finite_or(r.lstm_factor_norm))
    # each part from its own arrays: turning U leaves the LSTM's cells and edges the same objects
    # (the window keeps what it made of them)
    rnn_edge_width, lstm_edge_width = (derived("unrolled.edge_width", (f,), lambda f=f: style.edge_width(f))
                                       for f in (rnn_factor, lstm_factor))
    rnn_edge_rgba, lstm_edge_rgba = (derived(f"unrolled.edge_rgba.{theme}", (f,), lambda f=f: style.edge_rgba(f, theme))
                                     for f in (rnn_factor, lstm_factor))
    lo, hi = gradient_range(r.rnn_longrange_log10, r.lstm_longrange_log10)
    both = np.concatenate([r.rnn_longrange_log10, r.lstm_longrange_log10])
    both = both[~np.isnan(both)]
    real = both[~style.is_zero_log(both)]
    clipped = (bool(style.is_zero_log(both).any() or (real < lo).any()), bool((real > hi).any()))
    rnn_grad = style.clip_log10(r.rnn_longrange_log10, lo, hi)
    lstm_grad = style.clip_log10(r.lstm_longrange_log10, lo, hi)
    rnn_grad = np.where(np.isnan(rnn_grad), lo, rnn_grad)  # not computed yet: drawn as "little"
    lstm_grad = np.where(np.isnan(lstm_grad), lo, lstm_grad)
    element = Unrolled(
        rnn_cells=_cells(r.rnn_S, (-1.0, 1.0), "rnn"),
        C_cells=_cells(r.lstm_C, C_levels, "C"),
        h_cells=_cells(r.lstm_h, (-1.0, 1.0), "h"),
        rnn_factor=rnn_factor, lstm_factor=lstm_factor,
        rnn_edge_width=rnn_edge_width, lstm_edge_width=lstm_edge_width,
        rnn_edge_rgba=rnn_edge_rgba, lstm_edge_rgba=lstm_edge_rgba,
        rnn_gradient_rgba=style.map_colours(rnn_grad, "gradient", (lo, hi)),
        lstm_gradient_rgba=style.map_colours(lstm_grad, "gradient", (lo, hi)),
        rnn_gradient_log10=rnn_grad, lstm_gradient_log10=lstm_grad,
        gradient_range=(lo, hi), gradient_clipped=clipped, C_level=C_levels[1],
        revealed=0, selected=0,
        values_rnn_S=r.rnn_S, values_C=r.lstm_C, values_h=r.lstm_h,
    )
    return element


def describe(results: Results, view: ViewState, theme: str = style.DEFAULT_THEME, blocking: bool = True,
             **_options) -> Plot:
    r = results
    T = r.steps
    # what depends on the results only, worked out once per result arrays (a step of the
    # transport changes only `revealed` and `selected`)
    sources = (r.rnn_S, r.lstm_C, r.lstm_h, r.rnn_factor_norm, r.lstm_factor_norm, r.rnn_longrange_log10,
               r.lstm_longrange_log10)
    drawn = derived(f"unrolled.element.{theme}", sources, lambda: _element_of_results(r, theme))
    element = replace(drawn, revealed=max(0, min(view.revealed_steps, T)), selected=max(0, min(view.selected_step, T)))
    rnn_factor, lstm_factor = drawn.rnn_factor, drawn.lstm_factor
    highlight = highlight_points(results, view, blocking)
    if highlight is not None:
        element = replace(element, highlight_x=highlight[0], highlight_y=highlight[1])
    panel = Panel(key="unrolled", title=TITLE, x=Axis("time step t", -0.6, T + 0.6),
                  y=Axis("", *Y_RANGE, ticks=ROW_LABELS), items=(element,), legend=None,
                  selection=float(view.selected_step))
    # the table's columns but "revealed": once per result arrays too
    t, columns = derived("unrolled.table", sources, lambda: (np.arange(0, T + 1), {
        "rnn_S_mean": _mean(r.rnn_S), "rnn_factor_norm": rnn_factor,
        "lstm_C_mean": _mean(r.lstm_C), "lstm_h_mean": _mean(r.lstm_h),
        "lstm_factor_norm": lstm_factor,
        "rnn_log10_dS_T_dS_k": r.rnn_longrange_log10, "lstm_log10_dC_T_dC_k": r.lstm_longrange_log10,
    }))
    table = Table("unrolled", {"t": t, "revealed": (t <= view.revealed_steps).astype(int), **columns})
    return Plot("unrolled", TITLE, (panel,), caption(results, view), (table,))
