"""Plot ④: back-propagation through time, step by step: log10 ‖∂L_T/∂W^(k)‖_F for W = U (RNN)
and W = W_hf (LSTM), one bar per step k (MATH.md, "Back-propagation through time").

Bars grow from a floor one decade below the smallest real value; an exactly zero contribution
sits on the floor, and a note says so when a whole series is zero.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from simulator import Results

from . import style
from .cache import derived
from .spec import Axis, Bars, Legend, Panel, Plot, Table, Text
from .text import caption
from .view import ViewState

TITLE = "④ BPTT: share of each step k"


def bptt_series(results: Results, weight: str) -> np.ndarray:
    """log10 ‖∂L_T/∂W^(k)‖_F for k = 1..T (cached per network)."""
    if weight == "U":
        sources = (results.rnn_delta, results.rnn_delta_log10_scale, results.rnn_S)
    else:
        sources = (results.lstm_delta, results.lstm_delta_log10_scale, results.lstm_h)
    return derived(f"bptt.{weight}", sources, lambda: np.asarray(results.bptt_log10(weight))[1:].copy())


def describe(results: Results, view: ViewState, **_options) -> Plot:
    # everything but the cursor depends on the results only: worked out once per results
    panel, table, notes = derived("bptt.panel", (results,), lambda: _panel(results))
    return Plot("bptt", TITLE, (replace(panel, selection=float(view.selected_step)),), caption(results, view),
                (table,), notes=notes)


def _panel(results: Results) -> tuple[Panel, Table, tuple[str, ...]]:
    T = results.steps
    k = np.arange(1, T + 1, dtype=np.float64)
    rnn = bptt_series(results, "U")
    lstm = bptt_series(results, "W_hf")
    floor = style.display_floor(rnn, lstm)
    rnn_shown, lstm_shown = style.clip_log10(rnn, floor), style.clip_log10(lstm, floor)
    items = [  # the LSTM first: the (usually shorter) RNN bars are drawn over it
        Bars("lstm", k, lstm_shown, "lstm", label="W = W_{hf} (LSTM)", base=floor, width=1.0,
             fill_alpha=0.35, outline="lstm", style="steps"),
        Bars("rnn", k, rnn_shown, "rnn", label="W = U (RNN)", base=floor, width=1.0, fill_alpha=0.22,
             outline="rnn", style="steps", z=1),
    ]
    zero = [name for name, values in (("∂L_{T}/∂U", rnn), ("∂L_{T}/∂W_{hf}", lstm))
            if style.is_zero_log(values).all()]
    if zero:
        items.append(Text("zero-note", (T + 1) / 2, floor, f"{' and '.join(zero)}: exactly 0 at every k",
                          colour="theory", anchor="bottom"))
    notes = ("bars on the bottom edge: exactly 0",) if (style.is_zero_log(rnn).any() or style.is_zero_log(lstm).any()) else ()
    high = max(float(np.max(rnn_shown, initial=floor)), float(np.max(lstm_shown, initial=floor)))
    y_range = style.nice_range(floor, high, min_span=style.LOG_MIN_SPAN)
    panel = Panel(
        key="bptt", title=TITLE,
        x=Axis("step k", 0.0, float(max(T, 1)) + 0.5),
        y=Axis("log_{10} ‖∂L_{T}/∂W^{(k)}‖_{F}", floor, max(y_range[1], floor + style.LOG_MIN_SPAN)),
        items=tuple(items), legend=Legend("top-right", columns=1, band="top"),
    )
    table = Table("bptt", {"k": np.arange(1, T + 1), "lag": T - np.arange(1, T + 1),
                           "rnn_log10_dL_T_dU_k": rnn, "lstm_log10_dL_T_dW_hf_k": lstm})
    return panel, table, notes
