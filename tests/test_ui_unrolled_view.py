"""The unrolled network view (issue 3): what it draws, how it reacts, and that extremes stay finite."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QWheelEvent
from PySide6.QtWidgets import QApplication

import plots
from plots import style
from plots.style import MAX_EDGE_WIDTH
from plots.style import edge_width as factor_to_width
from plots.unrolled import DECADE_LIMIT, LSTM_C_ROW, RNN_ROW, gradient_range
from plots.view import ViewState
from simulator import LOG10_OF_ZERO, InputSignal, Setup, compute
from ui.widgets.unrolled_view import UnrolledView

from .screen import on_screen

SIZE = (1200, 320)


@pytest.fixture(scope="module")
def short_results():
    return compute(Setup(steps=30, seed=1), backend="reference")


def show(view: UnrolledView, results, revealed=None, selected=None) -> None:
    """Draw the "unrolled" description of `results` with this many steps revealed / selected."""
    T = results.steps
    view.results = results
    view.show_plot(plots.describe("unrolled", results, ViewState(
        selected_step=T if selected is None else selected, revealed_steps=T if revealed is None else revealed)))


def make_view(qtbot, results, size=SIZE) -> UnrolledView:
    view = UnrolledView()
    qtbot.addWidget(view)
    view.resize(*size)
    show(view, results)
    view.show()
    qtbot.waitExposed(view)
    return view


def pixel(view: UnrolledView, image, x: float, y: float) -> QColor:
    """Colour of data point (step x, height y) in a grab of the whole view."""
    at: QPoint = view.plot_widget.viewport().mapTo(view, view.map_to_viewport(x, y))
    return image.pixelColor(at)


def grab(view: UnrolledView):
    return view.grab().toImage()


def test_every_column_is_drawn_as_a_cell(qtbot, short_results):
    view = make_view(qtbot, short_results)
    grab(view)
    stats = view.last_paint_stats()
    assert stats["mode"] == "cells"
    assert stats["coloured_columns"] == 31
    assert stats["ghost_columns"] == 0
    assert view.time_range()[0] < 0 < 30 < view.time_range()[1]


def test_revealed_step_limits_the_coloured_columns(qtbot, short_results):
    view = make_view(qtbot, short_results)
    ghost = view.palette_.ghost_fill
    y_mid = sum(RNN_ROW) / 2
    show(view, short_results, revealed=10)
    image = grab(view)
    stats = view.last_paint_stats()
    assert (stats["coloured_columns"], stats["ghost_columns"]) == (11, 20)
    assert pixel(view, image, 20, y_mid) == ghost
    assert pixel(view, image, 5, y_mid + 0.25) != ghost  # inside the cell, off the edge line

    show(view, short_results, revealed=30)
    image = grab(view)
    assert view.last_paint_stats()["ghost_columns"] == 0
    assert pixel(view, image, 20, y_mid + 0.25) != ghost


def test_selected_step_highlight_moves(qtbot, short_results):
    view = make_view(qtbot, short_results)
    above_cells = -0.05  # inside the highlight band, above the RNN cells
    show(view, short_results, selected=4)
    image = grab(view)
    assert view.selection_rect().center().x() == pytest.approx(4.0)
    band, plain = pixel(view, image, 4, above_cells), pixel(view, image, 9, above_cells)
    assert band.green() > band.red() and band.green() > band.blue()  # the green selection tint
    assert plain == view.palette_.background

    show(view, short_results, selected=9)
    image = grab(view)
    assert view.selection_rect().center().x() == pytest.approx(9.0)
    assert pixel(view, image, 4, above_cells) == view.palette_.background
    assert pixel(view, image, 9, above_cells) == band


@pytest.mark.parametrize(("step", "row"), [(7, "rnn"), (0, "lstm_C"), (30, "lstm_h"), (12, "lstm_grad")])
def test_clicking_a_column_emits_its_step(qtbot, short_results, step, row):
    view = make_view(qtbot, short_results)
    with qtbot.waitSignal(view.step_clicked, timeout=1000) as blocker:
        qtbot.mouseClick(view.plot_widget.viewport(), Qt.MouseButton.LeftButton,
                         pos=view.column_center(step, row))
    assert blocker.args == [step]


def test_factor_to_width_is_monotonic_and_saturates():
    widths = factor_to_width(np.array([0.0, 0.5, 1.0, 1.5, 2.0, 5.0, np.inf, np.nan]))
    assert widths[0] == 0.0
    assert np.all(np.diff(widths[:5]) > 0)
    assert widths[2] == pytest.approx(MAX_EDGE_WIDTH / 2)  # factor 1 is the medium thickness
    assert widths[4] == widths[5] == widths[6] == pytest.approx(MAX_EDGE_WIDTH)
    assert widths[7] == 0.0


def _wire_thickness_pixels(view: UnrolledView, image, t: int) -> int:
    """Non-background pixels on the vertical line through the gap before column t, RNN row."""
    x = view.plot_widget.viewport().mapTo(view, view.map_to_viewport(t - 0.5, 0)).x()
    top = view.plot_widget.viewport().mapTo(view, view.map_to_viewport(t - 0.5, RNN_ROW[0])).y()
    bottom = view.plot_widget.viewport().mapTo(view, view.map_to_viewport(t - 0.5, RNN_ROW[1])).y()
    background = view.palette_.background
    return sum(image.pixelColor(x, y) != background for y in range(top + 1, bottom))


def test_rnn_edge_is_thinner_for_small_U_at_the_zero_state(qtbot):
    zero_input = Setup(steps=20, input=InputSignal(kind="zeros"))
    thickness = {}
    for u in (0.5, 1.5):
        results = compute(zero_input.with_knob("U", u), backend="reference")
        assert np.allclose(results.rnn_S, 0.0)  # at the zero state the factor is U itself (R1)
        view = make_view(qtbot, results)
        image = grab(view)
        thickness[u] = (view.rnn_edge_width(10), _wire_thickness_pixels(view, image, 10))
    assert thickness[0.5][0] == pytest.approx(factor_to_width(0.5))
    assert thickness[0.5][0] < thickness[1.5][0]
    assert 0 < thickness[0.5][1] < thickness[1.5][1]  # and it shows in the drawing


def test_gradient_pulse_runs_to_completion_with_finite_colours(qtbot, short_results):
    view = make_view(qtbot, short_results)
    T = short_results.steps
    assert view.lit_columns() == T + 1  # the strips show the gradient; the pulse replays it from T
    with qtbot.waitSignal(view.pulse_finished, timeout=5000):
        view.play_gradient_pulse()
        assert view.is_pulse_running()
        qtbot.waitUntil(lambda: 0 < view.lit_columns() < T + 1, timeout=3000)  # part way back
    assert not view.is_pulse_running()
    assert view.lit_columns() == T + 1
    grab(view)
    assert view.last_paint_stats()["lit_columns"] == T + 1
    lo, hi = view.gradient_range()
    for network in ("rnn", "lstm"):
        shown = view.gradient_display_log10(network)
        assert shown.shape == (T + 1,)
        assert np.all(np.isfinite(shown)) and shown.min() >= lo and shown.max() <= hi
        colours = view.gradient_colors(network)
        assert colours.shape == (T + 1, 4) and colours.dtype == np.uint8
    # U = 0.9: the RNN gradient fades with lag, so step 0 and step T get different colours
    rnn = view.gradient_colors("rnn")
    assert not np.array_equal(rnn[0], rnn[T])


def test_log_values_are_clipped_for_display():
    raw = np.array([0.0, -3.0, LOG10_OF_ZERO, -np.inf, np.nan, 600.0, -700.0])
    lo, hi = gradient_range(raw)
    assert (lo, hi) == (-DECADE_LIMIT, DECADE_LIMIT)
    shown = style.clip_log10(raw, lo, hi)
    assert shown[2] == shown[3] == lo  # exactly zero and -inf read as the floor
    assert np.isnan(shown[4])  # NaN: not computed yet (a gap in curves; the strips draw it as the floor)
    assert shown[1] == -3.0 and shown[5] == hi and shown[6] == lo
    assert gradient_range(np.array([0.0, -4.2])) == (-5, 0)


def test_long_extreme_sequence_builds_without_warnings(qtbot):
    results = compute(Setup(steps=5000).with_knob("U", 5.0), backend="numba")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        view = make_view(qtbot, results, size=(1500, 300))
        show(view, results, revealed=4000, selected=2500)
        grab(view)
        stats = view.last_paint_stats()
        assert stats["mode"] == "strips"  # zoomed out: one image per row, not 5001 cells
        assert (stats["coloured_columns"], stats["lit_columns"]) == (4001, 5001)
        view.set_time_range(2000, 2030)
        grab(view)
        stats = view.last_paint_stats()
        assert stats["mode"] == "cells" and stats["first"] >= 1990 and stats["last"] <= 2040
        image = view.render_to_image(1500, 300)
    assert (image.width(), image.height()) == (1500, 300)
    lo, hi = view.gradient_range()
    assert -DECADE_LIMIT <= lo < hi <= DECADE_LIMIT
    for network in ("rnn", "lstm"):
        assert np.all(np.isfinite(view.gradient_display_log10(network)))
    assert np.all(np.isfinite([view.rnn_edge_width(t) for t in range(5001)]))


def test_render_to_image_draws_the_cells(qtbot, short_results):
    view = make_view(qtbot, short_results)
    show(view, short_results, revealed=30)
    image = view.render_to_image(1500, 300)
    assert (image.width(), image.height()) == (1500, 300)
    colours = {image.pixelColor(x, y).rgb() for x in range(0, 1500, 7) for y in range(0, 300, 5)}
    assert len(colours) > 30  # cells in many state colours, not a blank canvas


def test_fit_shows_every_step_after_zooming(qtbot, short_results):
    view = make_view(qtbot, short_results)
    view.set_time_range(3, 8)
    x0, x1 = view.time_range()
    assert 2 < x0 and x1 < 9
    view.fit()
    x0, x1 = view.time_range()
    assert x0 < 0 and x1 > 30


def test_playing_follows_the_newest_step(qtbot, short_results):
    view = make_view(qtbot, short_results)
    show(view, short_results, revealed=0)
    view.set_time_range(0, 9)
    for t in range(1, 21):
        show(view, short_results, revealed=t)
    x0, x1 = view.time_range()
    assert x0 < 20 < x1


def test_mouse_wheel_zooms_along_time_only(qtbot, short_results):
    view = make_view(qtbot, short_results)
    viewport = view.plot_widget.viewport()
    y_range = view.view_box.viewRange()[1]
    at = QPointF(view.column_center(15))
    wheel = QWheelEvent(at, QPointF(viewport.mapToGlobal(at.toPoint())), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, wheel)
    x0, x1 = view.time_range()
    assert 0 < x0 < 15 < x1 < 30  # zoomed in around the step under the mouse
    assert view.view_box.viewRange()[1] == pytest.approx(y_range)  # rows never move


def test_empty_view_paints_and_renders(qtbot, short_results):
    view = UnrolledView()
    qtbot.addWidget(view)
    view.resize(600, 200)
    view.show()
    qtbot.waitExposed(view)
    view.play_gradient_pulse()  # nothing to animate without a description
    assert not view.is_pulse_running() and view.lit_columns() == 0
    assert not view.render_to_image(600, 200).isNull()
    show(view, short_results, revealed=3, selected=2)
    assert (view.revealed_step(), view.selected_step()) == (3, 2)
    assert view.selection_rect().center().x() == pytest.approx(2.0)


def test_hover_text_reads_the_simulator_numbers(qtbot, short_results):
    view = make_view(qtbot, short_results)
    text = view.hover_text(5)
    assert text.startswith("t = 5")
    assert f"S = {short_results.rnn_S[5, 0]:+.3f}" in text
    assert f"‖∂S_t/∂S_t−1‖ = {short_results.rnn_factor_norm[5]:.3f}" in text
    assert f"‖∂C_t/∂C_t−1‖ = {short_results.lstm_factor_norm[5]:.3f}" in text
    show(view, short_results, revealed=3)
    assert view.hover_text(5) == "t = 5 (not reached yet)"
    assert view.hover_text(31) == ""


def test_state_colours_are_the_lookup_table_entries(short_results):
    lut = style.lut("states")
    values = np.random.default_rng(0).uniform(-1.2, 1.2, size=(7, 5))
    values[0, 0], values[1, 1] = np.nan, np.inf
    rgba = style.map_colours(values, "states", (-1.0, 1.0))
    v = np.nan_to_num(values, nan=-1.0, posinf=1.0, neginf=-1.0)
    expected = lut[np.clip((v + 1.0) / 2.0 * 255.0 + 0.5, 0, 255).astype(np.uint8)]
    assert rgba.shape == (7, 5, 4) and (rgba[..., 3] == 255).all()
    np.testing.assert_array_equal(rgba[..., :3], expected)
    # and the view's cells are exactly those colours of the states (unit rows, step columns)
    element = plots.describe("unrolled", short_results).panels[0].items[0]
    np.testing.assert_array_equal(element.rnn_cells, style.map_colours(short_results.rnn_S.T, "states", (-1.0, 1.0)))


def _on_screen(view: UnrolledView) -> np.ndarray:
    """What the screen shows of the view's plot now (partial repaints and all)."""
    return on_screen(view.plot_widget.viewport())


@pytest.mark.parametrize("steps, mode", [(30, "cells"), (1000, "strips")])
def test_a_step_repaints_a_few_columns_and_the_picture_is_a_full_repaint_s(qtbot, steps, mode):
    """A step of the transport repaints only the columns it changed (the newly revealed one and the
    selection), and what the screen then shows is pixel for pixel what a full repaint draws, in the
    cells mode and in the strips mode (whose ribbons are laid out on a grid of whole buckets)."""
    results = compute(Setup(hidden_size=4, steps=steps, seed=2, knobs={"W_hf": 1.4, "U": 1.2}))
    view = make_view(qtbot, results)
    exposed = []  # the width (in steps) of each repaint of the cells
    original = view._item._paint
    view._item._paint = lambda p, rect=None: (exposed.append(steps + 1 if rect is None else rect.width()),
                                              original(p, rect))

    def repainted(action) -> list[float]:
        exposed.clear()
        action()
        qtbot.waitUntil(lambda: len(exposed) > 0, timeout=10_000)
        return list(exposed)

    repainted(lambda: show(view, results, revealed=0, selected=0))
    revealed, selected = 0, 0
    for i in range(14):
        single = i % 5 and i % 3 and selected == revealed  # the cursor was on the newest step
        revealed += 1 if i % 5 else 3  # single steps, and a jump
        selected = revealed if i % 3 else (revealed * 7) % steps  # the selection follows, or is clicked away
        widths = repainted(lambda: show(view, results, revealed=revealed, selected=selected))
        if single:  # → : the new column and the cursor next to it, a few steps wide
            assert max(widths) < 16, widths
    assert view.last_paint_stats()["mode"] == mode
    stepped = _on_screen(view)
    assert max(repainted(view._item.refresh)) > 0.9 * steps  # everything in view, from scratch
    assert np.array_equal(_on_screen(view), stepped)
    # (and the comparison sees a stale column: a reveal that is not repainted differs)
    view._item.refresh_columns = lambda *steps: None
    show(view, results, revealed=revealed + 4, selected=selected)
    qtbot.wait(50)  # absence check: nothing is repainted
    stale = _on_screen(view)
    repainted(view._item.refresh)
    assert not np.array_equal(_on_screen(view), stale)


def test_the_ribbons_colour_stops_are_made_once_per_results_and_zoom(qtbot):
    """The strips mode's ribbons take their colour stops from every step in view: worked out once
    per factors and bucket grid and kept, a step's repaint of a few columns reuses them (at
    (512, 2000) making them again cost ~1.5 ms of each step). Drawn with the kept stops, the view is
    pixel for pixel what it is with stops worked out afresh, and new results make new stops."""
    results = compute(Setup(hidden_size=4, steps=1000, seed=2, knobs={"W_hf": 1.4, "U": 1.2}))
    view = make_view(qtbot, results)
    show(view, results, revealed=500, selected=500)
    qtbot.waitUntil(lambda: len(view._item._ribbon_stops) == 2, timeout=10_000)
    kept = {row: entry[2] for row, entry in view._item._ribbon_stops.items()}
    painted = []
    original = view._item._paint
    view._item._paint = lambda p, rect=None: (painted.append(1001 if rect is None else rect.width()),
                                              original(p, rect))
    for t in range(501, 506):
        show(view, results, revealed=t, selected=t)
        qtbot.waitUntil(lambda: len(painted) > 0, timeout=10_000)
        painted.clear()
    assert view.last_paint_stats()["mode"] == "strips"
    assert all(view._item._ribbon_stops[row][2] is stops for row, stops in kept.items())  # reused
    # a full repaint with the stops kept since step 500, then one with them worked out afresh
    pictures = []
    for forget in (False, True):
        if forget:
            view._item._ribbon_stops.clear()
        painted.clear()
        view._item.refresh()
        qtbot.waitUntil(lambda: any(width > 900 for width in painted), timeout=10_000)
        pictures.append(_on_screen(view))
    assert np.array_equal(*pictures)
    kept = {row: entry[2] for row, entry in view._item._ribbon_stops.items()}
    other = compute(Setup(hidden_size=4, steps=1000, seed=2, knobs={"W_hf": 0.6, "U": 1.2}))
    show(view, other, revealed=505, selected=505)
    qtbot.waitUntil(lambda: view._item._ribbon_stops[LSTM_C_ROW][2] is not kept[LSTM_C_ROW], timeout=10_000)
    assert view._item._ribbon_stops[LSTM_C_ROW][0] is view._data["lstm_factor"]


@pytest.mark.parametrize("steps, size", [(30, (700, 250)), (100, (1900, 400))])
def test_a_row_of_cells_drawn_as_one_image_is_the_cell_by_cell_picture(qtbot, monkeypatch, steps, size):
    """A repaint draws each row's cells in one call, from an image with a transparent gap after each
    step's colours (one call per cell cost 500 Python calls at T = 100). Above CELL_IMAGE_BYTES the
    cells are drawn one by one: both give the same pixels."""
    from ui.widgets import unrolled_view

    results = compute(Setup(hidden_size=5, steps=steps, seed=1, knobs={"W_hf": 1.3}))
    view = make_view(qtbot, results, size)
    show(view, results, revealed=steps - 3, selected=steps // 2)
    grab(view)
    assert view.last_paint_stats()["mode"] == "cells"
    assert view._item._cell_images("rnn_cells") is not None
    one_image = view.render_to_image(*size)
    # room for one row of steps: the gradient strips (one unit high) stay one image, the cells do not
    monkeypatch.setattr(unrolled_view, "CELL_IMAGE_BYTES", (steps + 1) * unrolled_view.CELL_SUBCOLUMNS * 4)
    show(view, compute(Setup(hidden_size=5, steps=steps, seed=1, knobs={"W_hf": 1.3})),
         revealed=steps - 3, selected=steps // 2)  # new arrays: the images are laid out again
    grab(view)
    assert view._item._cell_images("rnn_cells") is None
    assert view._item._cell_images("rnn_gradient_rgba") is not None
    cell_by_cell = view.render_to_image(*size)
    assert one_image == cell_by_cell


def as_array(image) -> np.ndarray:
    image = image.convertToFormat(image.Format.Format_RGB32)
    rows = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes()).reshape(image.height(), -1)
    return rows[:, :4 * image.width()].reshape(image.height(), image.width(), 4).copy()


def _runs(row) -> list[tuple[tuple, int]]:
    """A row of pixels as (colour, length) runs."""
    runs = []
    for colour in map(tuple, row):
        if runs and runs[-1][0] == colour:
            runs[-1][1] += 1
        else:
            runs.append([colour, 1])
    return [(colour, length) for colour, length in runs]


@pytest.mark.parametrize("steps", [30, 100])
def test_the_gradient_strips_drawn_as_one_image_are_the_column_by_column_picture(qtbot, monkeypatch, steps):
    """The pulse strips (lit after a knob change) are drawn in one call per strip, like the cells
    (two hundred calls per repaint at T = 100): the same colours in the same order as column by
    column, each column's edges within one pixel (the image's gaps are whole sub-columns)."""
    from ui.widgets import unrolled_view

    size = (700, 250) if steps == 30 else (1900, 400)
    results = compute(Setup(hidden_size=5, steps=steps, seed=1, knobs={"W_hf": 1.3}))
    view = make_view(qtbot, results, size)
    show(view, results)
    grab(view)
    assert view._item._cell_images("lstm_gradient_rgba") is not None
    one_image = as_array(grab(view))
    monkeypatch.setattr(unrolled_view, "CELL_IMAGE_BYTES", 0)
    show(view, compute(Setup(hidden_size=5, steps=steps, seed=1, knobs={"W_hf": 1.3})))
    grab(view)
    assert view._item._cell_images("lstm_gradient_rgba") is None
    column_by_column = as_array(grab(view))
    differ = np.flatnonzero((one_image != column_by_column).any(axis=(1, 2)))
    assert differ.size
    strips = [view.plot_widget.viewport().mapTo(view, view.map_to_viewport(0, (row[0] + row[1]) / 2)).y()
              for row in (unrolled_view.RNN_GRAD_ROW, unrolled_view.LSTM_GRAD_ROW)]
    assert all(min(abs(y - s) for s in strips) < 15 for y in differ)  # only in the strips
    for y in differ:
        a, b = _runs(one_image[y]), _runs(column_by_column[y])
        assert [colour for colour, _ in a] == [colour for colour, _ in b]
        assert max(abs(la - lb) for (_, la), (_, lb) in zip(a, b)) <= 2


def test_turning_U_lays_the_rnn_cells_out_again_in_place_and_keeps_the_lstm_ones(qtbot):
    """A knob change writes the new cells into the laid-out image it already has (no new image, no
    copy), and the LSTM's rows, unchanged when U turns, are not laid out again: the picture is the
    one a fresh view draws of the new results."""
    setup = Setup(hidden_size=5, steps=30, seed=1, knobs={"W_hf": 1.3})
    size = (700, 250)
    first = compute(setup)
    view = make_view(qtbot, first, size)
    show(view, first, revealed=30, selected=12)
    grab(view)
    laid_out = dict(view._item._laid_out)
    assert set(laid_out) == {"rnn_cells", "C_cells", "h_cells", "rnn_gradient_rgba", "lstm_gradient_rgba"}
    turned = compute(setup.with_knob("U", 1.4), previous=first)
    assert turned.lstm_C is first.lstm_C  # (the LSTM is reused: its cells are the same array)
    show(view, turned, revealed=30, selected=12)
    grab(view)
    now = view._item._laid_out
    assert now["C_cells"] is laid_out["C_cells"] and now["h_cells"] is laid_out["h_cells"]
    assert now["rnn_cells"][0] is not laid_out["rnn_cells"][0]  # new cells ...
    assert now["rnn_cells"][2] is laid_out["rnn_cells"][2]  # ... written into the same image
    fresh = make_view(qtbot, turned, size)
    show(fresh, turned, revealed=30, selected=12)
    grab(fresh)
    assert view.render_to_image(*size) == fresh.render_to_image(*size)
    show(fresh, first, revealed=30, selected=12)
    grab(fresh)
    assert view.render_to_image(*size) != fresh.render_to_image(*size)  # (the comparison sees U)


def test_the_cells_outlines_and_lines_are_made_once_per_range_of_steps(qtbot):
    """The outlines, the C / h dividers and the h chain do not depend on the results: a knob change
    repaints them from the lists the last paint made (only the edges and cells are new)."""
    setup = Setup(hidden_size=5, steps=30, seed=1)
    first = compute(setup)
    view = make_view(qtbot, first, (700, 250))
    show(view, first, revealed=20, selected=12)
    grab(view)
    made = dict(view._item._shapes_made)
    assert {kind for kind, _, _ in made} == {"rnn cells", "lstm cells", "dividers", "h chain"}
    assert all(len(shapes) == last - first + 1 for (_, first, last), shapes in made.items())
    show(view, compute(setup.with_knob("U", 1.4)), revealed=20, selected=12)
    grab(view)
    assert all(view._item._shapes_made[key] is shapes for key, shapes in made.items())


def test_the_legend_wedge_s_colours_are_the_edges_colours_made_once():
    """The legend's wedge shows the edge colour of each factor (style.edge_rgba, the one encoding);
    its stops are made once per theme, not on every paint of the legend (six calls a paint)."""
    from ui.widgets.unrolled_view import _wedge_stops

    stops = _wedge_stops(style.DEFAULT_THEME)
    assert _wedge_stops(style.DEFAULT_THEME) is stops
    assert [position for position, _ in stops] == pytest.approx([0.0, 0.25, 0.5, 0.505, 0.75, 1.0])
    for (position, colour), factor in zip(stops, (0.0, 0.5, 1.0, 1.01, 1.5, 2.0)):
        assert colour.getRgb() == tuple(int(v) for v in style.edge_rgba(factor, style.DEFAULT_THEME))


@pytest.mark.parametrize("steps, mode", [(30, "cells"), (1000, "strips")])
def test_turning_one_network_s_knob_repaints_its_rows_only_and_the_picture_is_a_full_repaint_s(qtbot, steps, mode):
    """New results of one network (U turns the RNN, W_hf the LSTM) repaint that network's band of
    rows only: the other's cells, edges and strip stay as painted. What the screen then shows is
    pixel for pixel what a full repaint of the new results draws."""
    from ui.widgets.unrolled_view import NETWORK_BANDS

    setup = Setup(hidden_size=4, steps=steps, seed=2, knobs={"W_hf": 1.4, "U": 1.2})
    results = compute(setup)
    view = make_view(qtbot, results)
    painted = []  # (the networks painted, the exposed rectangle) of each repaint of the cells
    original = view._item._paint

    def paint(p, rect=None):
        original(p, rect)
        painted.append((view.last_paint_stats()["networks"], None if rect is None else QRectF(rect)))

    view._item._paint = paint

    def repainted(action) -> list:
        painted.clear()
        action()
        qtbot.waitUntil(lambda: len(painted) > 0, timeout=10_000)
        return list(painted)

    # (the window's first paints after it shows are whole, two knob changes here: until one is not)
    for value in (1.15, 1.18, 1.16, 1.19):
        results = compute(results.setup.with_knob("U", value), previous=results)
        if repainted(lambda: show(view, results))[-1][0] == ("rnn",):
            break
    for knob, value, network in (("U", 1.1, "rnn"), ("W_hf", 0.6, "lstm"), ("U", 1.25, "rnn")):
        previous = results
        results = compute(results.setup.with_knob(knob, value), previous=results)
        # (the same decades on the strips' colour scale: a new scale recolours both networks)
        assert gradient_range(results.rnn_longrange_log10, results.lstm_longrange_log10) == \
            gradient_range(previous.rnn_longrange_log10, previous.lstm_longrange_log10)
        for networks, rect in repainted(lambda: show(view, results)):
            assert networks == (network,), (knob, value, rect, painted)
            low, high = NETWORK_BANDS[network]
            slack = 3.0 / view.pixels_per_y_unit()  # (Qt widens a repaint by a pixel or two)
            assert low - slack <= rect.top() and rect.bottom() <= high + slack, rect
        assert view.last_paint_stats()["mode"] == mode
        turned = _on_screen(view)
        repainted(view._item.refresh)  # everything in view, from scratch
        assert np.array_equal(_on_screen(view), turned)
    # (and the comparison sees a network left as it was: its band not repainted differs)
    view._item.refresh_networks = lambda networks: None
    show(view, compute(results.setup.with_knob("W_hf", 2.5), previous=results))
    qtbot.wait(50)  # absence check: nothing is repainted
    stale = _on_screen(view)
    repainted(view._item.refresh)
    assert not np.array_equal(_on_screen(view), stale)


@pytest.mark.parametrize("hidden, steps, x_range", [(1, 20, (2.0, 12.0)), (4, 30, (3.0, 9.0))])
def test_zoomed_in_to_the_numbers_a_turn_of_u_leaves_no_label_of_the_lstm_half_drawn(qtbot, hidden, steps, x_range):
    """Zoomed in far enough, each LSTM edge's factor ("×1.05") is written above it, and in a short
    view (the Paths tab's is ~160 px high) the text reaches the RNN's band: a repaint of the RNN's rows
    cleared the top of those labels and left it blank (found in review). Zoomed in this far, a turn
    of one network's knob repaints both: the screen then shows what a full repaint draws."""
    from ui.widgets.unrolled_view import NUMBERS_MIN_STEP_PIXELS

    results = compute(Setup(hidden_size=hidden, steps=steps, seed=2, knobs={"W_hf": 1.4, "U": 1.2}))
    view = make_view(qtbot, results, size=(1200, 140))
    view.view_box.setXRange(*x_range, padding=0)
    painted = []
    original = view._item._paint
    view._item._paint = lambda p, rect=None: (original(p, rect), painted.append(view.last_paint_stats()))

    def repainted(action) -> None:
        painted.clear()
        action()
        qtbot.waitUntil(lambda: len(painted) > 0, timeout=10_000)

    repainted(lambda: view._item.refresh())
    assert 1.0 / view._item.pixelWidth() >= NUMBERS_MIN_STEP_PIXELS  # (the numbers are written)
    for value in (1.21, 1.19, 1.22):
        results = compute(results.setup.with_knob("U", value), previous=results)
        repainted(lambda: show(view, results))
        turned = _on_screen(view)
        repainted(view._item.refresh)
        assert np.array_equal(_on_screen(view), turned)
