"""The window's parts on their own: knob panel, worker, formula panel, plots' display clipping."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402

from plots.style import clip_log10, display_floor, fixed, symmetric_level  # noqa: E402
from plots.text import signed_sum  # noqa: E402
from simulator import KNOB_NAMES, LOG10_OF_ZERO, Knobs, Setup, compute  # noqa: E402
from ui.controllers.worker import ComputeWorker  # noqa: E402
from ui.widgets.formula_panel import FormulaPanel  # noqa: E402
from ui.widgets.knobs import KnobPanel  # noqa: E402


@pytest.fixture
def panel(qtbot):
    panel = KnobPanel(Setup(hidden_size=2, steps=10))
    qtbot.addWidget(panel)
    return panel


def test_every_knob_has_a_slider_with_a_tooltip_in_the_notes_notation(panel):
    assert set(panel.sliders) == set(KNOB_NAMES)
    assert "(1 − S_t²)·U" in panel.sliders["U"].slider.toolTip()
    for name in ("W_hi", "W_hf", "W_hg"):
        assert name in panel.sliders[name].spin.toolTip() and "(L4)" in panel.sliders[name].spin.toolTip()
    assert "σ(b_f)" in panel.sliders["b_f"].label.toolTip()


def test_moving_a_slider_emits_a_validated_setup_and_updates_its_value_box(qtbot, panel):
    with qtbot.waitSignal(panel.setup_edited) as blocker:
        panel.sliders["W_hg"].slider.setValue(-125)
    setup = blocker.args[0]
    assert setup.knobs.W_hg == -1.25 and panel.sliders["W_hg"].spin.value() == -1.25
    assert panel.setup() == setup


def test_reset_button_and_double_click_restore_the_default(qtbot, panel):
    panel.sliders["U"].slider.setValue(300)
    with qtbot.waitSignal(panel.setup_edited) as blocker:
        qtbot.mouseClick(panel.sliders["U"].reset_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].knobs.U == Knobs().U
    panel.sliders["b_f"].slider.setValue(-300)
    with qtbot.waitSignal(panel.setup_edited) as blocker:
        qtbot.mouseDClick(panel.sliders["b_f"].slider, Qt.MouseButton.LeftButton)
    assert blocker.args[0].knobs.b_f == Knobs().b_f


def test_spin_boxes_and_signal_choice_change_the_setup(qtbot, panel):
    edited = []
    panel.setup_edited.connect(edited.append)
    panel.hidden_spin.setValue(5)
    panel.steps_spin.setValue(77)
    panel.seed_edit.setText("9")
    panel.seed_edit.editingFinished.emit()
    panel.signal_combo.setCurrentIndex(panel.signal_combo.findData("sine"))
    panel.amplitude_spin.setValue(0.25)
    last = edited[-1]
    assert (last.hidden_size, last.steps, last.seed) == (5, 77, 9)
    assert last.input.kind == "sine" and last.input.amplitude == 0.25
    assert len(edited) == 5


def test_changing_H_drops_per_unit_offsets_sized_for_the_old_H(qtbot, panel):
    panel.set_setup(Setup(hidden_size=2, bias_offsets={"b_f": [1.0, 2.0]}))
    with qtbot.waitSignal(panel.setup_edited) as blocker:
        panel.hidden_spin.setValue(3)
    assert blocker.args[0].hidden_size == 3 and blocker.args[0].bias_offsets.b_f is None


def test_set_setup_writes_the_widgets_without_emitting(qtbot, panel):
    edited = []
    panel.setup_edited.connect(edited.append)
    setup = Setup(hidden_size=6, steps=33, seed=4, input={"kind": "impulse", "amplitude": 2.0}).with_knob("W_ho", 1.5)
    panel.set_setup(setup)
    assert edited == []
    assert panel.sliders["W_ho"].value() == 1.5 and panel.sliders["W_ho"].slider.value() == 150
    assert panel.hidden_spin.value() == 6 and panel.steps_spin.value() == 33
    assert panel.signal_combo.currentData() == "impulse" and panel.amplitude_spin.value() == 2.0


def test_a_newer_request_cancels_the_running_compute_and_only_the_latest_is_delivered(qtbot):
    worker = ComputeWorker(backend="reference")
    delivered = []
    worker.result_ready.connect(lambda rid, results, seconds: delivered.append((rid, results.setup)))
    try:
        slow = Setup(hidden_size=24, steps=120)  # keeps the worker busy while we submit more
        worker.submit(slow)
        qtbot.waitUntil(lambda: worker.busy, timeout=10_000)
        later = [Setup(hidden_size=1, steps=5 + i) for i in range(4)]
        for setup in later:
            last_id = worker.submit(setup)
        qtbot.waitUntil(lambda: bool(delivered) and delivered[-1][0] == last_id, timeout=60_000)
        assert [setup for _, setup in delivered] == [later[-1]]  # the slow one was cancelled, the others skipped
    finally:
        worker.stop()


def test_worker_reports_a_failure_instead_of_dying(qtbot):
    worker = ComputeWorker(backend="no-such-backend")
    try:
        with qtbot.waitSignal(worker.failed, timeout=10_000) as blocker:
            worker.submit(Setup())
        assert "backend" in blocker.args[1]
    finally:
        worker.stop()


def test_formula_numbers_format():
    assert fixed(0.98765) == "0.988" and fixed(-0.5) == "−0.500" and fixed(0.0) == "0.000"
    assert fixed(1.5e-7) == "1.500e−07"
    assert float(fixed(-1.5e-7).replace("−", "-")) == -1.5e-7
    assert signed_sum([0.95, 0.02, -0.01, 0.03]) == "0.950 + 0.020 − 0.010 + 0.030"


def test_formula_panel_for_H_above_one_says_it_shows_diagonal_means(qtbot):
    panel = FormulaPanel()
    qtbot.addWidget(panel)
    results = compute(Setup(hidden_size=3, steps=8), backend="reference")
    panel.show_step(results, 5)
    assert "diagonal" in panel.text() and "t = 5" in panel.text()
    assert panel.shown["total"] == results.lstm_term_diag_mean[5, 4]
    panel.show_step(results, 0)
    assert "initial" in panel.text()


def test_display_clipping_keeps_real_values_and_floors_exact_zeros():
    values = np.array([0.0, -3.0, LOG10_OF_ZERO, -7.5])
    floor = display_floor(values)
    assert floor == -9.0
    np.testing.assert_array_equal(clip_log10(values, floor), [0.0, -3.0, -9.0, -7.5])
    assert display_floor(np.full(3, LOG10_OF_ZERO)) == -20.0
    # NaN is "not computed yet": a gap, never a value (progressive results)
    assert np.isnan(clip_log10(np.array([np.nan, -1.0]), floor)[0])


def test_heatmap_levels_are_symmetric_and_at_least_one():
    assert symmetric_level(np.array([0.2, -0.9])) == 1.0
    assert symmetric_level(np.array([0.2, -2.3])) == 2.5


# --- what a knob change costs the plots: one paint, curves not redone for a new y range ----------
def _shown_factors(qtbot, knobs: dict):
    import plots
    from plots.view import ViewState
    from ui.render.pyqtgraph_renderer import PlotView

    view = PlotView("factors")
    qtbot.addWidget(view)
    view.resize(600, 300)
    view.show()
    qtbot.waitExposed(view)
    results = compute(Setup(hidden_size=8, steps=60, seed=0, knobs=knobs))
    view.show_plot(plots.describe("factors", results, ViewState.full(60)))
    view.graphics.viewport().repaint()
    return view, results


def test_a_new_y_range_is_applied_when_the_plot_is_shown_not_inside_its_paint(qtbot):
    """pyqtgraph applies a pending range in prepareForPaint, inside the paint; the new transform
    then marked the scene dirty again and plot ① was painted twice per knob change, the second
    time a frame later. The view applies it as it shows the new description."""
    import plots
    from plots.view import ViewState

    view, _results = _shown_factors(qtbot, {"W_hf": 0.5})
    items = view.panels["factors"]
    before = items.y_range
    view.show_plot(plots.describe("factors", compute(Setup(hidden_size=8, steps=60, seed=0, knobs={"W_hf": 3.0})),
                                  ViewState.full(60)))
    assert items.y_range != before  # (a new range to apply)
    assert not items.plot.vb._matrixNeedsUpdate
    assert items.plot.vb.viewRange()[1] == pytest.approx(list(items.y_range))


def test_curves_well_inside_the_view_s_scale_are_not_redone_for_a_new_y_range(qtbot, monkeypatch):
    """pyqtgraph's dynamic range limit (clipping values a million view heights away before Qt
    strokes them) redid every curve after each y-range change: it is kept only for a curve whose
    values reach that far (an exploding product), and such a curve is still clipped."""
    import pyqtgraph as pg

    import plots
    from plots.spec import Line
    from plots.view import ViewState

    view, results = _shown_factors(qtbot, {"W_hf": 0.5})
    items = view.panels["factors"]
    curves = [item for item in items.items.values() if isinstance(item, pg.PlotDataItem)]
    assert len(curves) == 2 and all(c.opts["dynamicRangeLimit"] is None for c in curves)
    redone = []
    monkeypatch.setattr(pg.PlotDataItem, "updateItems", lambda self, *a, **k: redone.append(self))
    items.plot.setYRange(-5.0, 50.0, padding=0)
    assert redone == []
    monkeypatch.undo()
    # a curve that reaches 1e300 keeps the limit
    plot = plots.describe("factors", results, ViewState.full(60))
    panel = plot.panels[0]
    wild = Line("wild", panel.items[0].x, np.where(np.arange(60) % 7 == 0, 1e300, 1.0), "rnn")
    view.show_plot(type(plot)(plot.name, plot.title, (type(panel)(**{**panel.__dict__, "items": panel.items + (wild,)}),),
                              plot.caption, plot.tables))
    assert items.items["wild"].opts["dynamicRangeLimit"] == 1e6
    assert all(items.items[key].opts["dynamicRangeLimit"] is None for key in ("rnn", "lstm"))
    # zoomed in by hand (mouse wheel), the view may be far narrower than the described axis: the
    # curves keep pyqtgraph's limit from then on, new results too
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    viewport = view.graphics.viewport()
    at = QPointF(viewport.width() / 2, viewport.height() / 2)
    before = items.plot.vb.viewRange()[1]
    QApplication.sendEvent(viewport, QWheelEvent(at, QPointF(viewport.mapToGlobal(at.toPoint())), QPoint(0, 0),
                                                 QPoint(0, 480), Qt.MouseButton.NoButton,
                                                 Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False))
    assert items.plot.vb.viewRange()[1][1] - items.plot.vb.viewRange()[1][0] < before[1] - before[0]  # zoomed in
    assert all(items.items[key].opts["dynamicRangeLimit"] == 1e6 for key in ("rnn", "lstm"))
    view.show_plot(plots.describe("factors", compute(Setup(hidden_size=8, steps=60, seed=0, knobs={"W_hf": 2.0})),
                                  ViewState.full(60)))
    assert all(items.items[key].opts["dynamicRangeLimit"] == 1e6 for key in ("rnn", "lstm"))


def test_the_formula_panel_lays_its_text_out_again_only_when_the_text_changes(qtbot):
    """Turning a knob of the other network (or new results with the same numbers at this step)
    leaves the formulas' text as it is: the panel keeps its laid-out document."""
    panel = FormulaPanel()
    qtbot.addWidget(panel)
    setup = Setup(hidden_size=4, steps=20, seed=0)
    first, again = compute(setup), compute(setup)
    panel.show_step(first, 12)
    html_sets = []
    panel.browser.setHtml = lambda html, original=panel.browser.setHtml: (html_sets.append(html), original(html))
    panel.show_step(again, 12)  # new results, the same numbers
    assert html_sets == [] and panel.results is again
    panel.show_step(compute(setup.with_knob("U", 1.3)), 12)
    assert len(html_sets) == 1 and "1.3" in panel.text()


def test_drawn_values_compare_equal_exactly_as_before_with_a_quick_look_first():
    """The renderer's `_same` (skip a redraw of equal values) looks at three elements before it
    compares whole arrays: new values of a knob change differ at once. Equal means what it meant."""
    from ui.render.pyqtgraph_renderer import _same

    a = np.array([1.0, np.nan, 3.0, 4.0, np.nan])
    assert _same(a, a.copy()) and _same(a, a)
    b = a.copy()
    b[1] = 2.0  # not one of the three looks: the whole comparison finds it
    assert not _same(a, b)
    c = a.copy()
    c[2] = 3.5  # the middle one
    assert not _same(a, c)
    assert not _same(a, a[:4]) and not _same(a, a.astype(np.float32))
    assert _same(np.arange(5), np.arange(5)) and not _same(np.arange(5), np.arange(1, 6))
    assert _same(np.zeros(0), np.zeros(0)) and _same((1, 2), (1, 2)) and not _same("a", "b")


def test_the_caption_s_results_lines_are_written_once_per_results():
    """Every plot's description has the caption: its setup and verdict lines are written once per
    results, its view line per view, and the text is the one written afresh."""
    from unittest import mock

    import plots
    from plots import text as plot_text
    from plots.view import ViewState

    results = compute(Setup(hidden_size=4, steps=30, seed=2))
    with mock.patch.object(plot_text, "knob_line", wraps=plot_text.knob_line) as knob_line:
        captions = {name: plots.describe(name, results, ViewState(selected_step=12, revealed_steps=20)).caption
                    for name in ("factors", "long-range", "bptt", "heatmaps")}
        assert knob_line.call_count == 1
    expected = (f"{plot_text.knob_line(results)}\n"
                f"{plot_text.view_line(results, ViewState(selected_step=12, revealed_steps=20))}\n"
                f"{plot_text.reading(results)}")
    assert set(captions.values()) == {expected}
    assert "selected step t = 12 · 20 of 30 steps revealed" in expected


def test_a_status_label_s_width_only_grows_so_a_new_text_does_not_lay_the_bar_out_again(qtbot):
    """σ_max(U), the lag-50 reading and the compute time change with every knob. A label whose size
    is not fixed posts its status bar a LayoutRequest for every new text, and the status bar
    repaints itself whole for it, a frame after the rest of the window: the last paint of every
    knob change. A label of fixed size that only grows posts none for a text that fits."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication, QLabel, QStatusBar

    from ui.main_window import _set_label_text

    bar = QStatusBar()
    qtbot.addWidget(bar)
    label, busy = QLabel(), QLabel()
    bar.addWidget(label)
    bar.addPermanentWidget(busy)
    bar.show()
    qtbot.waitExposed(bar)

    class LayoutRequests(QObject):
        count = 0

        def eventFilter(self, obj, event):
            self.count += event.type() == QEvent.Type.LayoutRequest
            return False

    requests = LayoutRequests()
    bar.installEventFilter(requests)
    _set_label_text(label, "σ_max(U) = 1.37  ")
    wide = label.minimumWidth()
    assert wide == label.maximumWidth() >= label.sizeHint().width() > 0
    assert label.minimumHeight() == label.maximumHeight() > 0
    QApplication.sendPostedEvents()
    requests.count = 0
    _set_label_text(label, "σ_max(U) = 1  ")  # narrower: the size stays, no layout
    _set_label_text(label, "σ_max(U) = 0.9  ")
    QApplication.sendPostedEvents()
    assert requests.count == 0 and label.text() == "σ_max(U) = 0.9  "
    assert label.minimumWidth() == label.maximumWidth() == wide
    _set_label_text(label, "σ_max(U) = 1.37e+03  ")  # wider: it grows (laid out once)
    assert label.minimumWidth() == label.maximumWidth() > wide
    # with room: every text that fits keeps that width; a longer one widens it until the next
    room = busy.fontMetrics().horizontalAdvance("exact and final · 00000 ms   ")
    _set_label_text(busy, "exact and final · 12 ms  ", room=room)
    assert busy.minimumWidth() == busy.maximumWidth() == room
    _set_label_text(busy, "Preparing kernels… (numba compiles them once; later launches are quick)  ", room=room)
    assert busy.maximumWidth() > room
    _set_label_text(busy, "exact and final · 9 ms  ", room=room)
    assert busy.minimumWidth() == busy.maximumWidth() == room
    QApplication.sendPostedEvents()
    requests.count = 0
    _set_label_text(busy, "exact and final · 13 ms  ", room=room)
    QApplication.sendPostedEvents()
    assert requests.count == 0


def test_a_legend_band_s_limit_is_snapped_to_the_range_s_step_so_a_small_knob_move_keeps_it():
    """The band kept free for a legend used to end exactly where the legend's measure put it: plot
    ① took a new y range at nearly every change of W_hf (a new range lays out and repaints the
    whole plot, axes and ticks included). The band's limit is snapped outwards to the range's step,
    in both renderers."""
    from plots.style import band_limit, nice_step

    assert nice_step(1.6) == 0.2
    assert band_limit(0.0, 1.6, 1.7541, "top") == pytest.approx(1.8)
    assert band_limit(0.0, 1.6, 1.7593, "top") == pytest.approx(1.8)  # (the same limit)
    assert band_limit(0.0, 1.6, 1.2, "top") == 1.6  # the band fits: the range stays
    assert band_limit(0.0, 1.6, 1.8, "top") == pytest.approx(1.8)  # on the step's grid already: no step more
    assert band_limit(-16.0, 2.0, -17.3, "bottom") == -20.0  # step 5 for a span of 18
    assert band_limit(-16.0, 2.0, -10.0, "bottom") == -16.0


def test_plot_1_keeps_its_y_range_while_w_hf_moves_a_little_and_its_legend_still_covers_no_data(qtbot):
    import plots
    from plots.style import nice_step
    from plots.view import ViewState

    view, _results = _shown_factors(qtbot, {"W_hf": 0.5, "U": 0.9})
    view.resize(600, 220)  # (a legend tall enough for the band to be needed)
    qtbot.waitUntil(lambda: view.panels["factors"].y_range is not None)
    items = view.panels["factors"]
    view._refit(items)
    ranges = []
    for w in (0.50, 0.51, 0.52, 0.53, 0.54):
        plot = plots.describe("factors", compute(Setup(hidden_size=8, steps=60, seed=0, knobs={"W_hf": w, "U": 0.9})),
                              ViewState.full(60))
        view.show_plot(plot)
        ranges.append(tuple(items.y_range))
        panel = plot.panels[0]
        top = max(float(np.max(panel.find(key).y)) for key in ("rnn", "lstm"))
        legend_bottom = items.plot.vb.mapSceneToView(items.legend.sceneBoundingRect().bottomLeft()).y()
        assert top < legend_bottom  # the band is free
    assert ranges[0][1] > panel.y.high  # the band was needed
    assert len(set(ranges)) == 1, ranges
    step = nice_step(panel.y.high - panel.y.low)
    assert ranges[0][1] / step == pytest.approx(round(ranges[0][1] / step))  # (on the range's 1-2-5 grid)


def test_a_new_legend_text_that_fits_its_room_is_set_in_place_without_laying_the_legend_out(qtbot):
    """σ_max(U) in plot ①'s legend changes with every change of U: pyqtgraph's setText shrank the
    label to the new text and laid the legend out again (~0.4 ms, and the legend repainted whole).
    A text that fits the room is set in place; a longer one grows the label as before."""
    import plots
    from plots.view import ViewState

    view, _results = _shown_factors(qtbot, {"U": 0.95})
    legend = view.panels["factors"].legend
    label = next(label for _sample, label in legend.items if "bound" in label.item.toPlainText())
    assert "0.95" in label.item.toPlainText()
    room = (label.minimumWidth(), label.minimumHeight())
    size = legend.boundingRect()
    view.show_plot(plots.describe("factors", compute(Setup(hidden_size=8, steps=60, seed=0, knobs={"U": 0.9})),
                                  ViewState.full(60)))
    assert label.item.toPlainText() == "σmax(U) = 0.9 (bound)"
    assert "0.9 (bound)" in label.text
    assert (label.minimumWidth(), label.minimumHeight()) == room and legend.boundingRect() == size
    view.show_plot(plots.describe("factors", compute(Setup(hidden_size=8, steps=60, seed=0, knobs={"U": 0.875})),
                                  ViewState.full(60)))
    assert label.item.toPlainText() == "σmax(U) = 0.875 (bound)"
    assert label.minimumWidth() > room[0]  # wider: the label grew
