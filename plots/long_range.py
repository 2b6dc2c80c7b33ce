"""Plot ②: how much gradient reaches step k from the loss at T, against the lag T − k.

RNN ‖∂S_T/∂S_k‖ (R2), LSTM exact ‖∂C_T/∂C_k‖ (L7) and the naive product of (L4) factors, in
log10, with the theory lines σ_max(U)^lag (the RNN's bound) and σ(b_f)^lag (a forget path alone).
While the exact matrix norms are still being computed (progressive results), the lower bounds
‖vᵀ ∂S_T/∂S_k‖/‖v‖ (v the loss gradient at T) are drawn dashed where the exact values are missing.
Every lag is drawn whatever the transport has revealed (the curves are about the loss at T).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from simulator import Results

from . import style
from .cache import derived
from .spec import Axis, Legend, Line, Panel, Plot, Table
from .text import caption
from .view import ViewState

TITLE = "② Long-range gradient vs lag"
THEORY_MARGIN = 3.0  # theory lines are drawn down to this many decades below the data's floor


def _sorted_by_lag(results: Results, values: np.ndarray, what: str) -> np.ndarray:
    """Entry k of a long-range array -> position lag = T - k (ascending lag)."""
    return derived(f"long-range.{what}", (values,), lambda: np.asarray(values, dtype=np.float64)[::-1].copy())


def describe(results: Results, view: ViewState, **_options) -> Plot:
    # everything but the cursor depends on the results only: worked out once per results
    panel, table, notes, partial = derived("long-range.panel", (results,), lambda: _panel(results))
    panel = replace(panel, selection=float(results.steps - view.selected_step))
    return Plot("long-range", TITLE, (panel,), caption(results, view), (table,), notes=notes, partial=partial)


def _panel(results: Results) -> tuple[Panel, Table, tuple[str, ...], bool]:
    T = results.steps
    lags = derived("lags.0..T", (results.rnn_S,), lambda: np.arange(0, T + 1, dtype=np.float64))
    rnn = _sorted_by_lag(results, results.rnn_longrange_log10, "rnn")
    exact = _sorted_by_lag(results, results.lstm_longrange_log10, "lstm")
    naive = _sorted_by_lag(results, results.lstm_naive_longrange_log10, "naive")
    lower_rnn = getattr(results, "rnn_longrange_lower_log10", None)
    lower_lstm = getattr(results, "lstm_longrange_lower_log10", None)
    series = [rnn, exact, naive]
    lowers = {}
    for name, lower, exact_values in (("rnn", lower_rnn, rnn), ("lstm", lower_lstm, exact)):
        if lower is not None and np.isnan(exact_values).any():
            lowers[name] = np.where(np.isnan(exact_values), _sorted_by_lag(results, lower, f"{name}.lower"), np.nan)
            series.append(lowers[name])
    floor = style.display_floor(*series)
    shown = [style.clip_log10(v, floor) for v in series]
    ceiling = max([0.0] + [float(np.nanmax(v)) for v in shown if np.isfinite(v).any()])
    theory = results.theory_log10(lags)
    sigma_label = "|U|^{lag}" if results.setup.hidden_size == 1 else "σ_{max}(U)^{lag}"

    def theory_line(values: np.ndarray) -> np.ndarray:
        # leaves the plot below the floor (a gap) rather than lying on it like data
        values = np.asarray(values, dtype=np.float64)
        return np.where(style.is_zero_log(values) | (values < floor - THEORY_MARGIN), np.nan,
                        np.minimum(values, ceiling + THEORY_MARGIN))

    items = []
    if results.sigma_max_U > 0:
        items.append(Line("theory.sigma_max_U", lags, theory_line(theory["sigma_max_U"]), "rnn", width=1.0,
                          dash="dot", label=sigma_label, drives_range=False))
    items.append(Line("theory.sigma_b_f", lags, theory_line(theory["sigma_b_f"]), "lstm", width=1.0,
                      dash="dot", label="σ(b_{f})^{lag}", drives_range=False))
    items += [
        Line("rnn", lags, shown[0], "rnn", label="RNN (R2)"),
        Line("lstm", lags, shown[1], "lstm", label="LSTM exact (L7)"),
        Line("naive", lags, shown[2], "naive", width=1.5, dash="dash", label="LSTM naive ∏ (L4)"),
    ]
    for (name, values), drawn in zip(lowers.items(), shown[3:]):
        label = ("RNN" if name == "rnn" else "LSTM") + " ≥ (lower bound, exact norms computing)"
        items.append(Line(f"{name}.lower", lags, drawn, name, width=1.5, dash="dash", label=label))
    notes = ()
    if any(style.is_zero_log(v[~np.isnan(v)]).any() for v in series):
        notes = ("on the bottom edge: exactly 0",)
    y_low, y_high = style.nice_range(floor, ceiling, min_span=style.LOG_MIN_SPAN)
    panel = Panel(
        key="long-range", title=TITLE,
        x=Axis("lag T − k (steps back from the loss at T)", 0.0, float(max(T, 1))),
        y=Axis("log_{10} ‖gradient at step k‖₂", y_low, y_high),
        items=tuple(items), legend=Legend("bottom-left", columns=2, band="bottom"), x_is_lag=True,
    )
    k = np.arange(T, -1, -1)
    columns = {"k": k, "lag": lags.astype(int), "rnn_log10_dS_T_dS_k": rnn, "lstm_exact_log10_dC_T_dC_k": exact,
               "lstm_naive_L4_product_log10": naive,
               "theory_log10_sigma_max_U_pow_lag": theory["sigma_max_U"],
               "theory_log10_sigma_b_f_pow_lag": theory["sigma_b_f"]}
    table = Table("long-range", columns)
    partial = bool(lowers) or not results.final
    return panel, table, notes, partial
