"""The heatmaps: units × time of the RNN's S_t, the LSTM's h_t and C_t, and on demand the gates.

tanh states and the candidate g use the diverging map (fixed levels ±1; C_t symmetric, see
style.state_levels), the sigmoid gates i, f, o the sequential map on (0, 1). Steps not revealed
yet are veiled, not hidden. Rows share the time axis; only the last shows it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from simulator import Results

from . import style
from .cache import derived
from .spec import Axis, Image, Panel, Plot, Table
from .text import caption
from .view import ViewState

TITLE = "States, units × time"
ROWS = {"rnn_S": "RNN S_{t}", "lstm_h": "LSTM h_{t}", "lstm_C": "LSTM C_{t}",
        "gate_i": "gate i_{t}", "gate_f": "gate f_{t}", "gate_g": "gate g_{t}", "gate_o": "gate o_{t}"}
GATE_INDEX = {"gate_i": 0, "gate_f": 1, "gate_g": 2, "gate_o": 3}


def row_keys(view: ViewState) -> tuple[str, ...]:
    keys = ("rnn_S", "lstm_h", "lstm_C")
    return keys + (("gate_i", "gate_f", "gate_g", "gate_o") if view.show_gates else ())


def source_array(results: Results, key: str) -> np.ndarray:
    """(T+1, H) values of a row."""
    if key in GATE_INDEX:
        return results.lstm_gates[:, GATE_INDEX[key], :]
    return getattr(results, key)


def image_data(results: Results, key: str) -> np.ndarray:
    """(H, T+1) float32, row-major (row = unit), NaN-free: pyqtgraph's ImageItem fast path."""
    source = results.lstm_gates if key in GATE_INDEX else getattr(results, key)
    return derived(f"heatmap.{key}", (source,),
                   lambda: np.ascontiguousarray(np.nan_to_num(source_array(results, key)).T, dtype=np.float32))


def describe(results: Results, view: ViewState, **_options) -> Plot:
    keys = row_keys(view)
    # the images, axes and table depend on the results only (worked out once per results and rows);
    # the transport moves the veil over the steps not revealed yet and the cursor
    panels, columns = derived(f"heatmaps.panels.{','.join(keys)}", (results,), lambda: _panels(results, keys))
    veil_from = view.revealed_steps + 0.5
    panels = tuple(replace(panel, items=(replace(panel.items[0], veil_from=veil_from),),
                           selection=float(view.selected_step)) for panel in panels)
    revealed = (columns["t"] <= view.revealed_steps).astype(int)  # (the steps 0..T made once, above)
    # (the units' columns, H per row, without "t": made once per results, not per step)
    units = derived(f"heatmaps.unit_columns.{','.join(keys)}", (results,),
                    lambda: {name: values for name, values in columns.items() if name != "t"})
    columns = {"t": columns["t"], "revealed": revealed, **units}
    return Plot("heatmaps", TITLE, panels, caption(results, view), (Table("heatmaps", columns),))


def _panels(results: Results, keys: tuple[str, ...]) -> tuple[tuple[Panel, ...], dict]:
    T, H = results.steps, results.setup.hidden_size
    unit_ticks = tuple((float(u), str(u)) for u in range(H)) if H <= 12 else None
    panels = []
    for index, key in enumerate(keys):
        data = image_data(results, key)
        levels = derived(f"heatmap.levels.{key}", (data,), lambda data=data, key=key: style.state_levels(key, data))
        image = Image(key, data, (-0.5, T + 0.5, -0.5, H - 0.5), style.STATE_COLOURMAP[key], levels,
                      colourbar=style.number(levels[1]), veil_from=None)
        last = index == len(keys) - 1
        panels.append(Panel(
            key=key, title=TITLE if index == 0 else "",
            x=Axis("time step t" if last else "", -0.5, T + 0.5, visible=last),
            y=Axis(ROWS[key], -0.5, H - 0.5, ticks=unit_ticks),
            items=(image,), legend=None,
        ))
    columns = {"t": np.arange(0, T + 1)}
    for key in keys:
        values = source_array(results, key)
        for unit in range(H):
            columns[f"{key}_{unit}"] = values[:, unit]
    return tuple(panels), columns
