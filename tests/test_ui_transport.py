"""A step of the transport changes a cursor and a column, not the whole window (issue 12: → and a
click cost at most one frame). What each view redraws on a step, and that the picture it leaves
is what a full redraw shows."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject

import plots
from simulator import Setup, compute
from ui.main_window import MainWindow

from .screen import on_screen

WAIT_MS = 60_000


class PaintCount(QObject):
    """Counts the paint events of some widgets (a condition to wait on: "it has been painted")."""

    def __init__(self, *widgets):
        super().__init__()
        self.count = 0
        for widget in widgets:
            widget.installEventFilter(self)

    def eventFilter(self, _watched, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


@pytest.fixture
def window(qtbot):
    window = MainWindow(Setup(hidden_size=6, steps=120, seed=3))
    qtbot.addWidget(window)
    window.resize(1400, 900)
    with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
        window.show()
    qtbot.waitUntil(lambda: window.results.final and not window.is_computing(), timeout=WAIT_MS)
    window.reset()
    for _ in range(3):
        window.step()
    paints = PaintCount(*(view.graphics.viewport() for view in (window.long_range_plot, window.bptt_plot)))
    qtbot.waitUntil(lambda: paints.count >= 2, timeout=WAIT_MS)
    return window


def test_a_step_keeps_the_axes_drawings_of_the_plots_whose_axes_did_not_change(qtbot, window):
    """Showing an axis that already shows threw its drawing away: every axis of the dashboard was
    laid out again on every step (14 per step). Now only what changed is."""
    kept = {name: [(items.plot.getAxis(side), items.plot.getAxis(side).picture)
                   for items in window.views[name].panels.values() for side in ("left", "bottom")
                   if items.plot.getAxis(side).isVisible()]
            for name in ("long-range", "bptt", "factors", "heatmaps")}
    assert sum(len(pairs) for pairs in kept.values()) == 10  # (the upper heatmaps share the lowest's t axis)
    assert all(picture is not None for pairs in kept.values() for _axis, picture in pairs)
    paints = PaintCount(*(window.views[name].graphics.viewport() for name in kept))
    window.step()
    window.set_selected_step(17)
    qtbot.waitUntil(lambda: paints.count >= len(kept), timeout=WAIT_MS)  # each has drawn its new cursor
    for name, pairs in kept.items():
        for axis, picture in pairs:
            assert axis.picture is picture, (name, axis.orientation)


def test_a_step_redescribes_only_the_cursor_of_the_plots_about_the_loss_at_t(window):
    """Plots ② and ④ depend on the view only through their cursor: a new selection gives the same
    items (the same objects), so the renderer does not compare or redraw their curves."""
    results, view = window.results, window.view_state()
    for name in ("long-range", "bptt"):
        before = plots.describe(name, results, view, blocking=False)
        after = plots.describe(name, results, view.replace(selected_step=50, revealed_steps=50), blocking=False)
        assert after.panels[0].items is before.panels[0].items
        assert after.panels[0].selection != before.panels[0].selection
        assert "selected step t = 50" in after.caption
    # heatmaps: the same images, a new veil
    before = plots.describe("heatmaps", results, view, blocking=False)
    after = plots.describe("heatmaps", results, view.replace(revealed_steps=50), blocking=False)
    for old, new in zip(before.panels, after.panels):
        assert new.items[0].data is old.items[0].data and new.items[0].veil_from == 50.5
    assert after.tables[0].columns["revealed"].sum() == 51


def test_plot_3_is_drawn_once_per_step_with_its_norms(qtbot, window):
    """At H ≤ 128 a step's five term norms cost about a millisecond: plot ③ is drawn once, with
    them, in the same frame as the cursors (it was drawn without them, then again)."""
    shown = []
    original = window.terms_plot.show_plot
    window.terms_plot.show_plot = lambda plot: (shown.append(plot), original(plot))
    for t in range(4, 10):
        window.step()
        qtbot.waitUntil(lambda t=t: len(shown) == t - 3, timeout=WAIT_MS)
    qtbot.wait(100)  # absence check: no second drawing follows (the worker's norms)
    assert len(shown) == 6
    assert not any(plot.partial for plot in shown)
    norms = [plot.panels[0].find("norms").y for plot in shown]
    for t, drawn in zip(range(4, 10), norms):
        np.testing.assert_array_equal(drawn, window.results.lstm_term_norms(t))


def test_the_faded_factor_curves_do_not_change_with_the_transport(window):
    """Plot ①: every step faded, the revealed ones bright over them; a step changes only the
    bright curves (the faded ones stay the same arrays, cached as drawn)."""
    results, view = window.results, window.view_state()
    before = plots.describe("factors", results, view.replace(revealed_steps=10), blocking=False).panels[0]
    after = plots.describe("factors", results, view.replace(revealed_steps=11), blocking=False).panels[0]
    assert after.find("rnn.faded").y is before.find("rnn.faded").y
    assert len(after.find("rnn.faded").x) == results.steps
    assert len(after.find("rnn").x) == 11 and len(before.find("rnn").x) == 10


def test_fully_revealed_plot_1_has_no_faded_curves_under_its_bright_ones(window):
    """Every step revealed, the bright curves cover the faded ones: they are left out (a knob change
    at full reveal set and painted two curves nobody could see), on screen and on the slide."""
    results, view = window.results, window.view_state()
    T = results.steps
    full = plots.describe("factors", results, view.replace(revealed_steps=T), blocking=False).panels[0]
    assert [item.key for item in full.items if item.key.endswith(".faded")] == []
    assert len(full.find("rnn").x) == T and len(full.find("lstm").x) == T
    almost = plots.describe("factors", results, view.replace(revealed_steps=T - 1), blocking=False).panels[0]
    assert {item.key for item in almost.items} >= {"rnn.faded", "lstm.faded"}


class Events(QObject):
    """Records the layout requests a widget receives and the widest rectangle of each repaint."""

    def __init__(self, widget):
        super().__init__()
        self.layouts = 0
        self.painted: list = []
        widget.installEventFilter(self)

    def eventFilter(self, _watched, event) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.layouts += 1
        elif event.type() == QEvent.Type.Paint:
            self.painted.append(max(r.width() for r in event.region()))
        return False


def test_a_step_lays_nothing_out_again_and_repaints_strips_of_the_curve_plots(qtbot, window):
    """The status bar's step label changed its width with its text ("t = 9" → "t = 10"): every
    step laid the window out again (and animated the docks). And plot ①'s rules were given a new
    pen on every step, which repainted their whole length: a step now repaints the cursor's strips."""
    main = Events(window)
    curves = {name: Events(window.views[name].graphics.viewport()) for name in ("factors", "long-range", "bptt")}
    for t in (95, 9, 10, 100, 3):
        before = {name: len(events.painted) for name, events in curves.items()}
        window.set_selected_step(t)
        qtbot.waitUntil(lambda: all(len(e.painted) > before[n] for n, e in curves.items()), timeout=WAIT_MS)
    assert main.layouts == 0
    for name, events in curves.items():
        viewport = window.views[name].graphics.viewport()
        assert max(events.painted) < 0.1 * viewport.width(), name  # (a cursor's strip is a few pixels wide)


def test_plot_3_keeps_its_three_tick_lines_while_its_norms_are_computed(window, monkeypatch):
    """Above H = 128 plot ③'s norms come from the worker: the bars are drawn first with "‖…‖"
    where each norm will be. The axis keeps its three lines of ticks (a note line under the axis,
    added then removed, laid the plot out twice per step at H = 512)."""
    from plots import terms

    monkeypatch.setattr(terms, "is_quick", lambda _results: False)
    # fresh results: the window's worker works out the window's results' norms ahead (when idle)
    results, view = compute(window.results.setup), window.view_state().replace(selected_step=40)
    pending = plots.describe("terms", results, view, blocking=False)
    final = plots.describe("terms", results, view, blocking=True)
    assert pending.partial and not final.partial and not pending.notes and not final.notes
    assert pending.panels[0].x.label == final.panels[0].x.label
    for (_x, waiting), (_x2, done) in zip(pending.panels[0].x.ticks, final.panels[0].x.ticks):
        assert waiting.split("\n")[:2] == done.split("\n")[:2]
        assert waiting.split("\n")[2] == terms.NORM_PENDING and done.split("\n")[2].startswith("‖")


def test_the_moved_cursors_leave_what_a_full_repaint_draws(qtbot, window):
    """The cursors keep their bounding box while they move along x (pyqtgraph worked it out again
    after every move) and the rules keep their pen: after a run of steps and clicks the screen
    shows, pixel for pixel, what a full repaint of each plot draws."""
    names = ("factors", "long-range", "bptt", "heatmaps")
    viewports = {name: window.views[name].graphics.viewport() for name in names}
    for t in (7, 8, 9, 60, 61, 119, 2, 3):
        paints = PaintCount(*viewports.values())
        window.set_selected_step(t) if t % 2 else window.step()
        qtbot.waitUntil(lambda: paints.count >= len(names), timeout=WAIT_MS)
    stepped = {name: on_screen(viewport) for name, viewport in viewports.items()}
    for name, viewport in viewports.items():
        paints = PaintCount(viewport)
        viewport.update()
        qtbot.waitUntil(lambda: paints.count >= 1, timeout=WAIT_MS)
        assert np.array_equal(on_screen(viewport), stepped[name]), name
    assert window.factor_plot.panels["factors"].selection.value() == window.view_state().selected_step
