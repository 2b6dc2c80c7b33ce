"""Plot ③: the four terms of ∂C_t/∂C_{t-1} (L4) and their sum at the selected step.

Bars are the signed values (H = 1) or the diagonal means (H > 1) and carry their value at their
end; for H > 1 the diamonds are each term's spectral norm, labelled with it. The norms of large
H × H terms are costly: above QUICK_NORMS_UP_TO the window asks the compute worker for them
(`blocking=False` draws the bars and writes "‖…‖" under them until they are there); exports
wait for them.
"""

from __future__ import annotations

import numpy as np

from simulator import TERM_NAMES, Results

from . import style
from .spec import Axis, Bars, Markers, Panel, Plot, Rule, Table
from .text import caption
from .view import ViewState

TERM_LABELS = ("f_{t}", "W_{hf}", "W_{hi}", "W_{hg}", "sum")  # short: five fit a dashboard panel
X_LABEL = "forget f_{t} · via W_{hf}, W_{hi}, W_{hg} · sum"
TERM_COLOURS = tuple(f"term.{name}" for name in TERM_NAMES)
NORM_OFFSET = 0.33  # the norm diamonds sit at the right edge of their bar


NORM_PENDING = "‖…‖"  # a term's norm while it is computed


def short_number(value: float) -> str:
    """A bar's number in five characters: '0.95', '−0.02', '−0.00' (the CSV has every digit)."""
    return f"{float(value):.2f}".replace("-", style.MINUS)


# Up to this H the five norms of a step cost about a millisecond (the numba kernel: 1.1 ms at
# H = 128; the numpy reference: 1.4 ms at H = 64): the window computes them as it draws, in the
# same frame as the other views. Above, they come from the window's worker (40 ms at H = 512).
QUICK_NORMS_UP_TO = {"numba": 128, "reference": 64}


def is_quick(results: Results) -> bool:
    """Whether a step's term norms are cheap enough to compute while drawing."""
    return results.setup.hidden_size <= QUICK_NORMS_UP_TO.get(getattr(results, "backend", "reference"), 64)


def worth_prefetching(results: Results) -> bool:
    """Whether the window's worker should work out every step's norms ahead, when idle: where the
    window computes them as it draws (is_quick) and they cost it a noticeable part of a step
    (from H = 64: 0.3 ms; at H = 32 0.15 ms, less than asking for them). Larger H ask per step."""
    return PREFETCH_FROM_H <= results.setup.hidden_size and is_quick(results)


PREFETCH_FROM_H = 64


def term_norms(results: Results, t: int, blocking: bool) -> np.ndarray | None:
    if results.setup.hidden_size == 1 or t < 1:
        return None
    if blocking or is_quick(results):
        return np.asarray(results.lstm_term_norms(t), dtype=np.float64)
    ready = getattr(results, "term_norms_if_ready", None)
    return None if ready is None else ready(t)


def norms_pending(results: Results, view: ViewState) -> bool:
    """Whether describe(blocking=False) would draw plot ③ without its norms: a large H's norms at
    the selected step are not known yet (the window asks its worker for them, and need not
    describe the plot until they come)."""
    t = max(0, min(view.selected_step, results.steps))
    return _norms_pending(results.setup.hidden_size, t, term_norms(results, t, blocking=False))


def _norms_pending(H: int, t: int, norms) -> bool:
    return H > 1 and norms is None and t >= 1


def describe(results: Results, view: ViewState, blocking: bool = True, **_options) -> Plot:
    T = results.steps
    t = max(0, min(view.selected_step, T))
    H = results.setup.hidden_size
    values = (np.array([results.lstm_term_values(t)[n] for n in TERM_NAMES]) if t >= 1 else np.zeros(5))
    values = style.finite_or(values)
    norms = term_norms(results, t, blocking)
    x = np.arange(5, dtype=np.float64)
    bar_width = 0.62 if H == 1 else 0.5
    items = [
        Rule("zero", "h", 0.0, "zero", dash="solid"),
        Rule("one", "h", 1.0, "one", dash="dash"),
        Bars("terms", x, values, TERM_COLOURS, width=bar_width),
    ]
    span_values = list(values) + [0.0, 1.0]
    if norms is not None:
        norms = style.finite_or(norms)
        items.append(Markers("norms", x + NORM_OFFSET, norms, "foreground", label="‖·‖₂", symbol="d"))
        span_values += list(norms)
    # snapped to a 1-2-5 grid: the scale stays put from step to step (the bars move, not the
    # axis) and changes only when a value crosses a grid line
    y_range = style.nice_range(min(span_values), max(span_values), pad=0.08)
    # Each bar's numbers under its name (never floating over the data): the value, and its norm.
    # While a large H's norms are computed (by the window's worker), their row says so: the axis
    # keeps its three lines, so the plot is not laid out again when they arrive.
    pending = _norms_pending(H, t, norms)
    ticks = []
    for i, label in enumerate(TERM_LABELS):
        text = f"{label}\n{short_number(values[i])}"
        if norms is not None:
            text += f"\n‖{short_number(norms[i])}‖"
        elif pending:
            text += f"\n{NORM_PENDING}"
        ticks.append((float(x[i]), text))
    title = f"③ ∂C_{{t}}/∂C_{{t−1}} terms (L4) at t = {t}"
    y_label = "value (H = 1: signed)" if H == 1 else "bars: diag mean · ◆: ‖·‖₂"
    panel = Panel(
        key="terms", title=title,
        x=Axis(X_LABEL, -0.6, 4.6, ticks=tuple(ticks)),
        y=Axis(y_label, *y_range),
        items=tuple(items), legend=None, clickable=None,
    )
    columns = {"step": [t] * 5, "term": list(TERM_NAMES),
               ("value" if H == 1 else "diag_mean"): values}
    columns["norm"] = np.abs(values) if H == 1 else (norms if norms is not None else np.full(5, np.nan))
    table = Table("terms", columns)
    return Plot("terms", title, (panel,), caption(results, view), (table,), partial=pending)
