"""Plot descriptions: Results + ViewState -> one Qt-free description per plot.

    plot = plots.describe("long-range", results, view)     # a plots.spec.Plot
    text = plots.csv_text(plots.describe("terms", results, view))

Both renderers draw these descriptions (ui/render/pyqtgraph_renderer.py in the window,
ui/render/matplotlib_renderer.py for slides) and the CSV is the description's own table, so
window, slide and CSV agree by construction. This package never imports Qt or a plotting
library (tests/test_architecture.py checks it, as for simulator/).
"""

from __future__ import annotations

import csv
import io

from simulator import Results

from . import bptt, factors, heatmaps, long_range, paths, terms, training, unrolled
from .spec import Plot
from .view import PANEL_NAMES, ViewState

# The exportable plots, in dashboard order. "dashboard" is all six panels on one page; "paths" is a
# view of its own (the window's Paths tab), not part of the dashboard; nor is "training" (the
# training curves, plots/training.py), which draws a training run given as the option
# training=<plots.training.TrainingCurves>.
PLOT_NAMES = ("dashboard", "factors", "long-range", "terms", "bptt", "heatmaps", "unrolled", "paths", "training")
DESCRIBERS = {
    "factors": factors.describe, "long-range": long_range.describe, "terms": terms.describe,
    "bptt": bptt.describe, "heatmaps": heatmaps.describe, "unrolled": unrolled.describe,
    "paths": paths.describe, "training": training.describe,
}
ANIMATED_PLOTS = ("dashboard", "factors", "long-range", "terms", "bptt", "heatmaps", "unrolled")  # GIF: t = 0..T
DASHBOARD_ORDER = (("factors", "long-range", "terms"), ("bptt", "heatmaps", "unrolled"))
PLOT_TITLES = {
    "dashboard": "Dashboard (all plots)", "factors": "① Per-step factors", "long-range": "② Long-range gradient",
    "terms": "③ (L4) terms", "bptt": "④ BPTT contributions", "heatmaps": "Heatmaps", "unrolled": "Unrolled networks",
    "paths": "Paths to W^(k)",
    "training": "Training curves",
}


class PlotError(ValueError):
    """An unknown plot name or a view outside the run. The message is one line for the user."""


def check_plot(name: str) -> str:
    if name not in PLOT_NAMES:
        raise PlotError(f"unknown plot {name!r}: choose one of {', '.join(PLOT_NAMES)}")
    return name


def describe(name: str, results: Results, view: ViewState | None = None, **options) -> Plot | tuple[Plot, ...]:
    """The description of plot `name` (a tuple of the six descriptions for "dashboard").
    `view` defaults to the whole run revealed with the last step selected. Options:
    theme ("light" | "dark"), blocking (False: never wait for costly numbers; see plots.terms),
    training (the run "training" draws: plots.training.TrainingCurves; other plots ignore it)."""
    check_plot(name)
    view = (view or ViewState.full(results.steps)).clamped(results.steps)
    if name == "dashboard":
        return tuple(DESCRIBERS[n](results, view, **options) for row in DASHBOARD_ORDER for n in row)
    return DESCRIBERS[name](results, view, **options)


def _csv_value(value) -> str:
    from simulator import LOG10_OF_ZERO

    if isinstance(value, str):
        return value
    value = float(value)
    if value != value:
        return ""  # not computed
    if value <= LOG10_OF_ZERO / 2:
        return "-inf"  # LOG10_OF_ZERO: the quantity is exactly zero
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)  # shortest string that round-trips the float64 exactly


def csv_text(described: Plot | tuple[Plot, ...]) -> str:
    """CSV of exactly the numbers a description draws. One plot: one wide table with a header.
    Dashboard (a tuple): one long table `plot,column,row,value`. LOG10_OF_ZERO is written -inf."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if isinstance(described, tuple):
        writer.writerow(["plot", "column", "row", "value"])
        for plot in described:
            for table in plot.tables:
                for name, values in table.columns.items():
                    for row, value in enumerate(values):
                        writer.writerow([table.name, name, row, _csv_value(value)])
        return out.getvalue()
    for index, table in enumerate(described.tables):
        if index:
            writer.writerow([])
        writer.writerow(list(table.columns))
        for row in range(table.rows()):
            writer.writerow([_csv_value(values[row]) for values in table.columns.values()])
    return out.getvalue()


__all__ = ["ANIMATED_PLOTS", "DASHBOARD_ORDER", "DESCRIBERS", "PANEL_NAMES", "PLOT_NAMES", "PLOT_TITLES", "PlotError", "ViewState",
           "check_plot", "csv_text", "describe"]
