"""Issue 11, items 6 and 12: numbers and labels sit where they are read, never on the data.

Checked on both renderers: the window (pyqtgraph, at 1280 × 720) and the slides (matplotlib, the
same figures the exports write), by the boxes of what is drawn."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF

import plots
from plots.terms import short_number
from plots.view import ViewState
from simulator import Setup, compute
from simulator.setup import Knobs
from ui.export.files import describe as export_describe
from ui.render.matplotlib_renderer import render_figure

WAIT_MS = 60_000


@pytest.fixture(scope="module")
def results():
    return compute(Setup(hidden_size=8, steps=100, seed=0, knobs=Knobs(U=0.9, W_hf=1.2)))


# --- item 6: plot ③'s numbers are each under its own bar ------------------------------------------
def test_plot_3_prints_each_value_and_each_norm_under_its_own_bar(results):
    """The numbers used to float on the ‖·‖₂ diamonds and print the bar values there (e.g. "−0.0125"
    at height 1.8): now each bar's value and its norm are written under its name, nothing is
    written over the data, and the slide shows the same texts."""
    t = 37
    plot = plots.describe("terms", results, ViewState(selected_step=t, revealed_steps=t))
    panel = plot.panels[0]
    assert not [item for item in panel.items if type(item).__name__ == "Text"]
    values = panel.find("terms").heights
    norms = panel.find("norms").y
    np.testing.assert_array_equal(norms, results.lstm_term_norms(t))
    for (x, text), value, norm in zip(panel.x.ticks, values, norms):
        name, value_text, norm_text = text.split("\n")
        assert value_text == short_number(value) and norm_text == f"‖{short_number(norm)}‖", text
    # the slide: those tick labels, under the bars (below the axes), and no other text in the axes
    fig, (drawn,) = render_figure(plot)
    ax = drawn.axes["terms"]
    fig.canvas.draw()
    labels = [label.get_text() for label in ax.get_xticklabels()]
    assert [label.split("\n")[1:] for label in labels] == [text.split("\n")[1:] for _x, text in panel.x.ticks]
    renderer = fig.canvas.get_renderer()
    plot_box = ax.get_window_extent(renderer)
    for label in ax.get_xticklabels():
        assert label.get_window_extent(renderer).y1 <= plot_box.y0 + 1  # under the plot area
    assert not ax.texts


# --- item 12: legends and labels off the curves ------------------------------------------------------
def test_the_bound_is_named_in_the_legend_not_on_its_line(results):
    """"σ_max(U) = 0.9 (bound on RNN)" was a label on the dotted line, struck through by the curves:
    now the line's name is a legend entry (in both renderers) and no text lies on the plot."""
    panel = plots.describe("factors", results, ViewState.full(100)).panels[0]
    assert not [item for item in panel.items if type(item).__name__ == "Text"]
    bound = panel.find("bound")
    assert bound.label.startswith("σ_{max}(U) = 0.9")
    fig, (drawn,) = render_figure(plots.describe("factors", results, ViewState.full(100)))
    legend = drawn.axes["factors"].get_legend()
    assert any(text.get_text().startswith("σ$_{max}$(U) = 0.9") or "0.9 (bound)" in text.get_text()
               for text in legend.get_texts())


def _points_in(box, points) -> int:
    x, y = points[:, 0], points[:, 1]
    return int(np.count_nonzero((x > box.x0) & (x < box.x1) & (y > box.y0) & (y < box.y1)))


def test_the_exported_dashboard_keeps_its_legends_off_the_curves(results):
    """In the exported dashboard the long-range legend covered the RNN curve (and plot ①'s its
    LSTM curve): every legend of every panel now sits in a band the data leaves free."""
    described = export_describe(results, "dashboard", ViewState.full(100))
    fig, drawn_list = render_figure(described, size=(1920, 1080))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    checked = 0
    for plot, drawn in zip(described, drawn_list):
        for panel in plot.panels:
            ax = drawn.axes[panel.key]
            legend = ax.get_legend()
            if legend is None:
                continue
            box = legend.get_window_extent(renderer)
            for item in panel.items:
                kind = type(item).__name__
                if kind == "Line" and item.drives_range:
                    xy = np.column_stack([item.x, item.y]).astype(float)
                elif kind == "Bars":  # the tops of the bars
                    xy = np.column_stack([item.x, item.heights]).astype(float)
                else:
                    continue  # (rules, theory lines that leave the plot, texts)
                xy = xy[np.isfinite(xy).all(axis=1)]
                inside = _points_in(box, ax.transData.transform(xy))
                assert inside == 0, (plot.name, item.key, inside)
                checked += 1
    assert checked >= 5


def settle_layout(state, rounds: int = 50) -> None:
    """Let the window lay itself out: process the pending events until state() is the same two
    rounds running (the first results may be drawn before the layout gives the plots their size;
    a resize then fits the y range to the legend again, one event-loop turn later)."""
    from PySide6.QtWidgets import QApplication

    last = None
    for _ in range(rounds):
        QApplication.processEvents()
        now = state()
        if now == last:
            return
        last = now


def test_the_window_s_plot_1_legend_leaves_the_curves_free_at_1280_by_720(qtbot, results):
    """At 1280 × 720 the legend of plot ① covered the LSTM curve. Checked once the window is laid
    out: the plot is then 125 px high and its 4-line legend needs more than half of it."""
    from ui.main_window import MainWindow

    window = MainWindow(results.setup)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
        window.show()
    qtbot.waitUntil(lambda: window.results.final and not window.is_computing(), timeout=WAIT_MS)
    view = window.factor_plot
    qtbot.waitUntil(lambda: view.panels["factors"].legend is not None and view.panels["factors"].legend.isVisible(),
                    timeout=WAIT_MS)
    items = view.panels["factors"]
    qtbot.waitUntil(lambda: items.y_range is not None, timeout=WAIT_MS)
    settle_layout(lambda: (items.plot.vb.height(), items.y_range, items.legend.sceneBoundingRect()))
    legend_box = items.legend.sceneBoundingRect()
    for key in ("rnn", "lstm"):
        curve = view.drawn_item(key)
        x, y = curve.xData, curve.yData
        for xi, yi in zip(x, y):
            point = items.plot.vb.mapViewToScene(QPointF(xi, yi))
            assert not legend_box.contains(point), (key, xi, yi)


def test_a_one_unit_heatmap_s_label_is_clear_of_its_tick(results):
    """In the H = 1 heatmap export the "unit" label was overprinted by the "0" tick."""
    scalar = compute(Setup(hidden_size=1, steps=20, seed=0))
    fig, (drawn,) = render_figure(plots.describe("heatmaps", scalar, ViewState.full(20)))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in drawn.axes.values():
        label = ax.yaxis.label.get_window_extent(renderer)
        for tick in ax.get_yticklabels():
            if tick.get_text():
                assert not label.overlaps(tick.get_window_extent(renderer)), (ax.get_ylabel(), tick.get_text())


def test_the_gif_caption_keeps_off_the_frame_s_edges(results):
    """The GIF caption touched the left edge: each frame's caption is centred with room to spare."""
    width = 1280
    fig, _drawn = render_figure(export_describe(results, "unrolled", ViewState(selected_step=40, revealed_steps=40)),
                                size=(width, 720))
    fig.canvas.draw()
    caption = fig._supxlabel
    box = caption.get_window_extent(fig.canvas.get_renderer())
    assert caption.get_text() and box.x0 >= 8 and box.x1 <= fig.bbox.width - 8
    assert abs((box.x0 + box.x1) / 2 - fig.bbox.width / 2) < 2



# --- plot ③'s scale and the plots' left margins stay put ----------------------------------------
def test_plot_3_s_y_range_sits_on_a_1_2_5_grid_and_stays_put_from_step_to_step(results):
    """Plot ③'s y range is snapped outwards to a 1-2-5 grid around the bars, the norms, 0 and 1:
    stepping moves the bars, not the axis (the scale changes only where a value crosses a grid
    line). The slide gets the same range, from the same description."""
    ranges = []
    for t in range(20, 60):
        panel = plots.describe("terms", results, ViewState(selected_step=t, revealed_steps=t)).panels[0]
        low, high = panel.y.low, panel.y.high
        drawn = list(panel.find("terms").heights) + list(panel.find("norms").y) + [0.0, 1.0]
        assert low <= min(drawn) and max(drawn) <= high, t
        step = min(s for s in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0) if (high - low) / s <= 8.0 + 1e-9)
        for end in (low, high):  # both ends are multiples of the grid's step
            assert abs(end / step - round(end / step)) < 1e-9, (t, low, high, step)
        ranges.append((low, high))
    assert len(set(ranges)) <= 4, set(ranges)  # 40 steps, a handful of scales
    plot = plots.describe("terms", results, ViewState(selected_step=37, revealed_steps=37))
    figure, _drawn = render_figure(export_describe(results, "terms", ViewState(selected_step=37, revealed_steps=37)))
    assert tuple(figure.axes[0].get_ylim()) == pytest.approx((plot.panels[0].y.low, plot.panels[0].y.high))


def test_every_plot_s_left_axis_keeps_its_width_when_new_results_widen_the_ticks(qtbot):
    """Sized to its tick texts, a left axis laid its plot out again (and repainted it whole) when
    new results changed the texts' width: every plot's left axis has one fixed width, wide enough
    for its label and ticks up to "−8888", and keeps it (U = 0.5 and U = 2.5 give ticks from "−1"
    to "−300"-wide labels in plot ②)."""
    from ui.main_window import MainWindow
    from ui.render.pyqtgraph_renderer import LEFT_AXIS_WIDTH, PlotView

    window = MainWindow(Setup(hidden_size=4, steps=300, seed=0, knobs=Knobs(U=2.5)))
    qtbot.addWidget(window)
    window.resize(1600, 1000)
    with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
        window.show()
    qtbot.waitUntil(lambda: window.results.final and not window.is_computing(), timeout=WAIT_MS)

    def widths():
        return {(name, key): items.plot.getAxis("left").width()
                for name, view in window.views.items() if isinstance(view, PlotView)
                for key, items in view.panels.items() if items.plot.getAxis("left").isVisible()}

    before = widths()
    ranges_before = {key: tuple(items.y_range) for key, items in window.views["long-range"].panels.items()}
    assert len(before) >= 5 and set(before.values()) == {LEFT_AXIS_WIDTH}
    window.apply_setup(window.results.setup.with_knob("U", 0.5))
    qtbot.waitUntil(lambda: window.results.setup.knobs.U == 0.5 and window.results.final
                    and not window.is_computing(), timeout=WAIT_MS)
    ranges_after = {key: tuple(items.y_range) for key, items in window.views["long-range"].panels.items()}
    assert ranges_after != ranges_before  # (new, wider tick texts: U = 0.5 vanishes where 2.5 exploded)
    assert widths() == before
