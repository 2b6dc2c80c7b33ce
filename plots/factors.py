"""Plot ①: the per-step factors (R1) ‖∂S_t/∂S_{t-1}‖ and (L4) ‖∂C_t/∂C_{t-1}‖ against t.

For H = 1 the factors are drawn with their sign (the notes' scalar case). The revealed steps are
bright, drawn over every step faded (no faded curves once every step is revealed). The line y = 1
and the bound σ_max(U) (|U| for H = 1) are in the legend.
"""

from __future__ import annotations

import math

import numpy as np

from simulator import Results

from . import style
from .cache import derived
from .spec import Axis, Legend, Line, Panel, Plot, Rule, Table
from .text import caption
from .view import ViewState

TITLE = "① Per-step factor vs t"


def factor_series(results: Results) -> tuple[np.ndarray, np.ndarray, bool]:
    """(rnn, lstm) per step t = 1..T as drawn, and whether they are signed values (H = 1)."""
    if results.setup.hidden_size == 1:
        rnn = derived("factors.rnn.signed", (results.rnn_factor_diag_mean,),
                      lambda: style.finite_or(results.rnn_factor_diag_mean[1:]))
        lstm = derived("factors.lstm.signed", (results.lstm_term_diag_mean,),
                       lambda: style.finite_or(results.lstm_term_diag_mean[1:, 4]))
        return rnn, lstm, True
    rnn = derived("factors.rnn.norm", (results.rnn_factor_norm,),
                  lambda: np.asarray(results.rnn_factor_norm[1:], dtype=np.float64).copy())
    lstm = derived("factors.lstm.norm", (results.lstm_factor_norm,),
                   lambda: np.asarray(results.lstm_factor_norm[1:], dtype=np.float64).copy())
    return rnn, lstm, False


def _y_range(rnn_shown, lstm_shown, bound, signed: bool) -> tuple[float, float]:
    """Plot ①'s y range (the results' alone: worked out once, not per step)."""
    values = np.concatenate([rnn_shown, lstm_shown, [1.0], [] if bound is None else [bound]])
    values = values[np.abs(values) < 1e300]
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if not signed:
        low = min(low, 0.0)
    return style.nice_range(low, high)


def describe(results: Results, view: ViewState, **_options) -> Plot:
    T = results.steps
    t = derived("steps.1..T", (results.rnn_S,), lambda: np.arange(1, T + 1, dtype=np.float64))
    rnn, lstm, signed = factor_series(results)
    rnn_shown = derived("factors.rnn.shown", (rnn,), lambda: style.finite_or(rnn))
    lstm_shown = derived("factors.lstm.shown", (lstm,), lambda: style.finite_or(lstm))
    n = max(0, min(view.revealed_steps, T))
    if signed:
        bound = float(results.rnn_U[0, 0])
        bound_label = f"U = {style.number(bound)} (bound)"
        y_label = "factor (H = 1: signed)"
    else:
        bound = results.sigma_max_U
        bound_label = f"σ_{{max}}(U) = {style.number(bound)} (bound)"
        y_label = f"‖factor‖₂ (H = {results.setup.hidden_size})"
    # every step faded, the revealed ones drawn bright over them: the faded curves do not change
    # with the transport (a step redraws only the bright ones). Fully revealed, the bright curves
    # hide them: none then (a knob change at full reveal sets and paints two curves fewer).
    faded = [Line("rnn.faded", t, rnn_shown, "rnn", alpha=style.FADED_ALPHA, width=1.5),
             Line("lstm.faded", t, lstm_shown, "lstm", alpha=style.FADED_ALPHA, width=1.5)] if n < T else []
    items = [
        *faded,
        Line("rnn", t[:n], rnn_shown[:n], "rnn", label="RNN (R1)"),
        Line("lstm", t[:n], lstm_shown[:n], "lstm", label="LSTM (L4)"),
        Rule("one", "h", 1.0, "one", dash="dash", label="y = 1"),
    ]
    finite_bound = math.isfinite(bound) and abs(bound) < 1e6
    if finite_bound:
        items.append(Rule("bound", "h", bound, "rnn", dash="dot", label=bound_label))
    y_range = derived(f"factors.y_range.{bound!r}.{finite_bound}.{signed}", (rnn_shown, lstm_shown),
                      lambda: _y_range(rnn_shown, lstm_shown, bound if finite_bound else None, signed))
    panel = Panel(
        key="factors", title=TITLE,
        x=Axis("time step t", 0.0, float(max(T, 1))),
        y=Axis(y_label, *y_range),
        items=tuple(items), legend=Legend("top-right", columns=1, band="top"),
        selection=float(view.selected_step),
    )
    revealed = (t <= n).astype(int)
    table = Table("factors", {
        "t": derived("steps.1..T.int", (results.rnn_S,), lambda: np.arange(1, T + 1)),
        "revealed": revealed,
        "rnn_dS_t_dS_t-1" + ("_value" if signed else "_norm"): rnn,
        "lstm_dC_t_dC_t-1" + ("_value" if signed else "_norm"): lstm,
    })
    return Plot("factors", TITLE, (panel,), caption(results, view), (table,))
