"""The main window, driven as a user would (pytest-qt, offscreen). Behaviour, never timing."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPoint, Qt, QTimer  # noqa: E402

from plots.view import ViewState  # noqa: E402
from simulator import TERM_NAMES, Setup  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WAIT_MS = 120_000  # first use may compile or load the numba kernels


def small_setup(**changes) -> Setup:
    return Setup(hidden_size=4, steps=40, seed=1).replace(**changes)


@pytest.fixture
def make_window(qtbot):
    def make(setup: Setup) -> MainWindow:
        window = MainWindow(setup)
        qtbot.addWidget(window)
        with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
            window.show()
        return window

    return make


def change_and_wait(qtbot, window, action) -> None:
    with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
        action()
    qtbot.waitUntil(lambda: not window.is_computing(), timeout=WAIT_MS)


def type_into(qtbot, spin, text: str) -> None:
    """Select the value box's text, type a new value and press Enter, like a user."""
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), text)
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)


def slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(x, y, 1)[0])


def parse_number(text: str) -> float:
    return float(text.replace("−", "-"))


def drawn(window, plot: str, key: str, panel: str | None = None):
    """(x, y) that the window's pyqtgraph item for a description key holds (whole, never decimated)."""
    item = window.views[plot].drawn_item(key, panel)
    empty = np.zeros(0)
    return (empty if item.xData is None else np.asarray(item.xData),
            empty if item.yData is None else np.asarray(item.yData))


def revealed_points(window) -> int:
    """How many steps (t = 1..revealed) the bright curves of plot 1 show."""
    return len(drawn(window, "factors", "rnn")[0])


def veil_start(window, key: str = "rnn_S") -> float:
    """Where the heatmap's veil (steps not revealed yet) begins."""
    return window.heatmaps.drawn_item(key, panel=key)[1].rect().left()


def test_window_builds_and_every_panel_shows_data_after_reset(make_window):
    setup = small_setup()
    window = make_window(setup)
    window.run_to_end()
    window.reset()
    T, H = setup.steps, setup.hidden_size
    assert window.revealed_steps() == 0
    assert window.results.setup == setup
    # heatmaps: the whole sequence, units x time, finite
    for key in ("rnn_S", "lstm_h", "lstm_C"):
        image = window.heatmaps.image_data(key)
        assert image.shape == (H, T + 1) and image.dtype == np.float32
        assert np.isfinite(image).all() and np.abs(image).max() > 0
    # gradient plots: the faded curve draws every step not yet revealed (t = 0: all of them)
    x, y = drawn(window, "factors", "rnn.faded")
    assert len(x) == T and np.isfinite(y).all()
    assert revealed_points(window) == 0
    for name in ("rnn", "lstm", "naive"):
        lags, values = drawn(window, "long-range", name)
        assert len(lags) == T + 1 and np.isfinite(values).all()
    assert np.count_nonzero(window.describe("terms").panels[0].find("terms").heights) >= 2
    assert np.isfinite(drawn(window, "bptt", "rnn")[1]).all()
    assert len(drawn(window, "bptt", "lstm")[1]) == T
    # formulas, status bar, unrolled view
    assert "∂C" in window.formula_panel.text() and "∂S" in window.formula_panel.text()
    assert "lag" in window.reading_label.text() and "σ_max(U)" in window.sigma_label.text()
    assert window.unrolled_view.revealed_step() == 0
    assert set(window.plot_widgets) == {"dashboard", "factors", "long-range", "terms", "bptt",
                                        "heatmaps", "unrolled", "paths", "training"}
    assert window.file_menu is not None and window.export_menu is not None


def test_raising_U_through_the_widget_flips_the_rnn_long_range_slope(qtbot, make_window):
    # Zero input and zero state: S_t = 0, tanh' = 1, so dS_T/dS_k = U^lag exactly (H = 1).
    setup = Setup(hidden_size=1, steps=60, input={"kind": "zeros"}).with_knob("U", 0.5)
    window = make_window(setup)
    lags, values = drawn(window, "long-range", "rnn")
    assert slope(lags, values) == pytest.approx(np.log10(0.5))
    with qtbot.waitSignal(window.setup_changed, timeout=WAIT_MS):
        change_and_wait(qtbot, window, lambda: type_into(qtbot, window.knobs.sliders["U"].spin, "2"))
    assert window.results.setup.knobs.U == 2.0
    assert window.knobs.sliders["U"].slider.value() == 200
    lags, values = drawn(window, "long-range", "rnn")
    assert slope(lags, values) == pytest.approx(np.log10(2.0))
    assert slope(lags, values) > 0


def test_raising_b_f_brings_the_lstm_factor_closer_to_one(qtbot, make_window):
    window = make_window(small_setup(hidden_size=8, steps=100).with_knob("b_f", 0.0))

    def distance_from_one() -> float:
        return float(np.mean(np.abs(drawn(window, "factors", "lstm")[1] - 1.0)))

    before = distance_from_one()
    change_and_wait(qtbot, window, lambda: window.knobs.sliders["b_f"].slider.setValue(300))
    assert window.results.setup.knobs.b_f == 3.0
    assert distance_from_one() < before / 3


def test_step_adds_exactly_one_step_to_every_view(qtbot, make_window):
    window = make_window(small_setup())
    window.reset()
    for expected in (1, 2, 3):
        qtbot.keyClick(window, Qt.Key.Key_Right)  # the → shortcut
        assert window.revealed_steps() == expected
        assert veil_start(window) == expected + 0.5  # columns 0..expected unveiled
        assert revealed_points(window) == expected
        assert window.unrolled_view.revealed_step() == expected
        assert window.selected_step() == expected


def test_play_advances_pause_stops_reset_returns_to_zero(qtbot, make_window):
    window = make_window(small_setup(steps=400))
    window.reset()
    window.speed_spin.setValue(200)
    qtbot.keyClick(window, Qt.Key.Key_Space)  # play
    assert window.is_playing()
    qtbot.waitUntil(lambda: window.revealed_steps() >= 5, timeout=10_000)
    qtbot.keyClick(window, Qt.Key.Key_Space)  # pause
    assert not window.is_playing()
    paused_at = window.revealed_steps()
    qtbot.wait(100)  # absence check: several play intervals, nothing may move while paused
    assert window.revealed_steps() == paused_at
    qtbot.keyClick(window, Qt.Key.Key_R)
    assert window.revealed_steps() == 0
    assert veil_start(window) == 0.5
    assert revealed_points(window) == 0
    window.run_to_end()
    assert window.revealed_steps() == 400 and veil_start(window) == 400.5


def click_plot_at_step(qtbot, view, t: int, panel: str | None = None) -> None:
    """A left click on a PlotView where its x axis shows step t (lag T - t for plot 2)."""
    plot_item = view.plot_item(panel)
    panel_spec = view.panels[panel or next(iter(view.panels))].panel
    x = (panel_spec.x.high - t) if panel_spec.x_is_lag else t
    vb = plot_item.vb
    y = sum(vb.viewRange()[1]) / 2
    scene_point = vb.mapViewToScene(pg_point(x, y))
    widget_point = view.graphics.mapFromScene(scene_point)
    qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(round(widget_point.x()), round(widget_point.y())))


def pg_point(x: float, y: float):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


def test_clicking_a_step_selects_it_and_the_formula_shows_the_simulator_numbers(qtbot, make_window):
    window = make_window(Setup(hidden_size=1, steps=30, seed=3))
    window.run_to_end()
    with qtbot.waitSignal(window.selected_step_changed, timeout=5000) as blocker:
        click_plot_at_step(qtbot, window.factor_plot, 17)
    t = blocker.args[0]
    assert abs(t - 17) <= 1  # a pixel's rounding
    assert window.selected_step() == t
    assert window.views["heatmaps"].panels["rnn_S"].selection.value() == t
    values = window.results.lstm_term_values(t)
    text = window.formula_panel.text()
    assert f"t = {t}" in text
    # "= f + via_f + via_i + via_g = sum", the signs written as operators
    line = next(line.strip() for line in text.splitlines() if line.strip().startswith("= "))
    _, terms, total = line.split("=")
    tokens = terms.split()
    shown = [parse_number(tokens[0])]
    for operator, magnitude in zip(tokens[1::2], tokens[2::2]):
        shown.append(parse_number(magnitude) * (1 if operator == "+" else -1))
    shown.append(parse_number(total.strip()))
    expected = [values[name] for name in TERM_NAMES]
    np.testing.assert_allclose(shown, expected, rtol=2e-3, atol=6e-4)
    assert window.formula_panel.shown == {"rnn": window.results.rnn_factor_diag_mean[t], **values}
    # the RNN line: (1 - S_t^2) U with the simulator's value
    rnn = window.results.rnn_factor_diag_mean[t]
    assert f"{rnn:.3f}".replace("-", "−") in text


def test_clicking_plot_2_selects_the_step_at_that_lag(qtbot, make_window):
    window = make_window(Setup(hidden_size=1, steps=30, seed=3))
    with qtbot.waitSignal(window.selected_step_changed, timeout=5000) as blocker:
        click_plot_at_step(qtbot, window.long_range_plot, 10)
    assert abs(blocker.args[0] - 10) <= 1
    assert window.long_range_plot.panels["long-range"].selection.value() == 30 - blocker.args[0]


def test_extreme_knobs_give_finite_plots_and_no_warnings(qtbot, make_window):
    window = make_window(small_setup(steps=50))
    # Zero input and state: the RNN factor is exactly U = 4 at every step, 4^5000 = 10^3010.
    extreme = Setup(hidden_size=4, steps=5000, seed=2, input={"kind": "zeros"}).with_knob("U", 4.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            change_and_wait(qtbot, window, lambda: window.apply_setup(extreme))
            window.run_to_end()
            window.set_selected_step(4999)
    assert window.results.setup == extreme
    for name in ("rnn", "lstm", "naive"):
        _, values = drawn(window, "long-range", name)
        assert len(values) == 5001 and np.isfinite(values).all()
    assert drawn(window, "long-range", "rnn")[1].max() == pytest.approx(5000 * np.log10(4.0))
    for plot, key in (("factors", "rnn"), ("factors", "lstm"), ("bptt", "rnn"), ("bptt", "lstm")):
        assert np.isfinite(drawn(window, plot, key)[1]).all()
    assert np.isfinite(window.describe("terms").panels[0].find("terms").heights).all()
    for key in ("rnn_S", "lstm_h", "lstm_C"):
        assert np.isfinite(window.heatmaps.image_data(key)).all()


def test_apply_setup_and_view_state_do_not_count_as_user_changes(qtbot, make_window):
    window = make_window(small_setup())
    user_changes = []
    window.setup_changed.connect(lambda: user_changes.append(1))
    new = small_setup(steps=25).with_knob("W_hf", -1.5)
    change_and_wait(qtbot, window, lambda: window.apply_setup(new))
    assert user_changes == []
    assert window.results.setup == new
    assert window.knobs.sliders["W_hf"].value() == -1.5 and window.knobs.steps_spin.value() == 25
    # a loaded setup starts from a clean view: fully revealed, last step selected
    assert (window.selected_step(), window.revealed_steps()) == (25, 25)
    window.apply_view_state(ViewState(selected_step=12, revealed_steps=20, visible_panels=("factors", "long-range")))
    assert window.view_state() == ViewState(12, 20, ("factors", "long-range"))
    assert window.heatmaps.isHidden() and not window.factor_plot.isHidden()
    window.apply_view_state(ViewState(selected_step=999, revealed_steps=999, visible_panels=("heatmaps",)))
    assert window.selected_step() == 25 and window.revealed_steps() == 25  # clipped to T


def test_main_starts_and_quits_cleanly():
    done = subprocess.run(
        [sys.executable, "main.py", "--quit-after", "2"], cwd=ROOT, capture_output=True, text=True,
        timeout=300, env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_main_rejects_an_unknown_preset_with_one_line():
    done = subprocess.run(
        [sys.executable, "main.py", "--preset", "no-such-preset"], cwd=ROOT, capture_output=True,
        text=True, timeout=120, env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1 and "no-such-preset" in done.stderr


def test_first_launch_says_preparing_kernels_then_shows_results(qtbot):
    from ui.controllers.worker import kernels_available

    window = MainWindow(small_setup(), warm_up=True)
    qtbot.addWidget(window)
    if kernels_available():
        assert "Preparing kernels" in window.busy_label.text()
        with qtbot.waitSignal(window.worker.warm_up_done, timeout=WAIT_MS):
            window.show()
        assert "Preparing" not in window.busy_label.text()
    else:
        window.show()
    qtbot.waitUntil(lambda: window.results is not None, timeout=WAIT_MS)
    assert window.results.setup == small_setup()


def test_heatmap_gates_on_demand_hover_read_out_and_click_selects(qtbot, make_window):
    window = make_window(small_setup())
    heatmaps = window.heatmaps
    assert list(heatmaps.panels) == ["rnn_S", "lstm_h", "lstm_C"]
    heatmaps.gates_box.setChecked(True)  # part of the view state
    assert window.view_state().show_gates
    assert list(heatmaps.panels)[-4:] == ["gate_i", "gate_f", "gate_g", "gate_o"]
    forget = heatmaps.image_data("gate_f")
    np.testing.assert_array_equal(forget, window.results.lstm_gates[:, 1, :].T.astype(np.float32))
    plot = heatmaps.plot_item("lstm_C")
    scene_point = plot.vb.mapViewToScene(pg_point(12, 2))
    heatmaps._hovered(scene_point)
    value = window.results.lstm_C[12, 2]
    assert "unit 2" in heatmaps.readout.text() and "t = 12" in heatmaps.readout.text()
    assert f"{value:+.4f}" in heatmaps.readout.text()
    view_point = heatmaps.graphics.mapFromScene(scene_point)
    with qtbot.waitSignal(window.selected_step_changed, timeout=5000) as blocker:
        qtbot.mouseClick(heatmaps.graphics.viewport(), Qt.MouseButton.LeftButton,
                         pos=QPoint(round(view_point.x()), round(view_point.y())))
    assert blocker.args == [12]
    assert window.factor_plot.panels["factors"].selection.value() == 12


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_every_panel_gets_room_from_1280x800_up(qtbot, make_window, size):
    window = make_window(small_setup())
    window.resize(*size)
    qtbot.waitUntil(lambda: window.width() == size[0], timeout=5000)
    for name, widget in window.plot_widgets.items():
        if name == "training":
            continue  # in the Train tab: below
        if name == "paths":  # a tab of its own
            window.tabs.setCurrentWidget(widget)
        assert widget.isVisible(), name
        assert widget.width() >= 200 and widget.height() >= 150, (name, widget.size())
        window.tabs.setCurrentWidget(window.dashboard)
    assert window.formula_panel.width() >= 250 and window.knobs_dock.isVisible()
    window.tabs.setCurrentWidget(window.train_panel)
    curves = window.plot_widgets["training"]
    qtbot.waitUntil(curves.isVisible, timeout=5000)
    assert curves.width() >= 400 and curves.height() >= 300, curves.size()


def test_a_failed_compute_keeps_the_shown_results_and_says_why(qtbot, make_window):
    window = make_window(small_setup())
    shown = window.results.setup
    errors = []
    window.show_error = lambda title, message: errors.append((title, message))
    window.worker.backend = "no-such-backend"  # the next compute raises in the worker
    with qtbot.waitSignal(window.worker.failed, timeout=WAIT_MS):
        window.knobs.sliders["U"].slider.setValue(150)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert "backend" in errors[-1][1]
    assert window.results.setup == shown and window.requested_setup() == shown
    assert window.knobs.sliders["U"].value() == shown.knobs.U and not window.is_computing()


def test_export_controller_attaches_in_the_background(qtbot, make_window):
    from ui.app import attach_export_in_background

    window = make_window(small_setup())
    attach_export_in_background(window)
    qtbot.waitUntil(lambda: hasattr(window, "export_controller"), timeout=30000)
    texts = [action.text() for action in window.export_menu.actions()]
    assert any("Export" in text for text in texts)


@pytest.mark.parametrize("knob_value", [0.5, 1.0, 2.0])
def test_legends_cover_no_data(qtbot, make_window, knob_value):
    # Plots 1, 2 and 4 keep an empty band for their legend (vanishing, neutral, exploding RNN).
    window = make_window(small_setup(hidden_size=8, steps=100).with_knob("U", knob_value))
    window.resize(1600, 1000)
    # Each plot refits its y range in a zero-timer queued by its resizeEvent; one queued after
    # them fires once they have all run: wait for that, not for a guessed time.
    refitted = []
    QTimer.singleShot(0, lambda: refitted.append(True))
    qtbot.waitUntil(lambda: bool(refitted), timeout=5000)
    assert window.size().width() == 1600 and window.size().height() == 1000
    for view in (window.factor_plot, window.long_range_plot, window.bptt_plot):
        (items,) = view.panels.values()
        legend = items.legend.sceneBoundingRect()
        vb = items.plot.vb
        for key, description in items.drawn.items():
            if not getattr(description, "drives_range", True) or key.endswith(".faded"):
                continue  # theory overlays may run off the range; the legend may cross them
            item = items.items[key]
            if not isinstance(item, pg.PlotDataItem):
                continue
            x, y = item.xData, item.yData
            if x is None or not len(x):
                continue
            if len(x) == len(y) + 1:  # step-mode bars: the top of bar k spans x[k]..x[k+1]
                x = (x[:-1] + x[1:]) / 2
            for px, py in zip(x, y):
                if not np.isfinite(py):
                    continue
                point = vb.mapViewToScene(pg.Point(float(px), float(py)))
                assert not legend.contains(point), (view.name, key, px, py)


def test_plots_draw_a_draft_while_a_knob_moves_and_in_full_at_rest(qtbot, make_window):
    window = make_window(small_setup(hidden_size=4, steps=50))
    curve = window.long_range_plot.drawn_item("rnn")
    assert curve.opts["antialias"]  # at rest: antialiased (50 points)
    change_and_wait(qtbot, window, lambda: window.knobs.sliders["U"].slider.setValue(150))
    assert window.long_range_plot.draft and not curve.opts["antialias"]
    qtbot.waitUntil(lambda: not window.long_range_plot.draft, timeout=WAIT_MS)
    assert curve.opts["antialias"] and curve.curve.opts["antialias"]
    lags, values = drawn(window, "long-range", "rnn")  # the same data, redrawn
    assert np.array_equal(values, window.results.rnn_longrange_log10[::-1])


def test_entering_draft_mode_redraws_nothing_the_knob_change_s_results_come_as_drafts(qtbot, make_window, monkeypatch):
    """The first knob change after a rest redrew every curve of plots ①, ② and ④ with the old values
    (without antialiasing) before it asked for its compute: ~1.5 ms later to the worker, and a
    repaint of three plots beside the compute (a single change at (32, 100) came ~8 ms later)."""
    import pyqtgraph as pg

    window = make_window(small_setup(hidden_size=4, steps=50))
    calls = []
    original = pg.PlotDataItem.setData
    monkeypatch.setattr(pg.PlotDataItem, "setData", lambda item, *a, **k: (calls.append(item), original(item, *a, **k))[1])
    for plot in (window.factor_plot, window.long_range_plot, window.bptt_plot):
        assert not plot.draft
        plot.set_draft(True)
        assert plot.draft
    assert calls == []  # nothing redrawn with the old values
    change_and_wait(qtbot, window, lambda: window.knobs.sliders["U"].slider.setValue(150))
    curve = window.long_range_plot.drawn_item("rnn")
    assert curve in calls and not curve.opts["antialias"]  # the new values, as a draft


def test_plot_2_is_drawn_first_so_a_knob_change_reaches_it_in_the_first_frame(qtbot, make_window):
    """Qt paints each plot's scene in a frame of its own, in the order the scenes were changed:
    plot ② (the long-range gradient) was drawn second and came a frame after plot ① (~4 ms at
    (32, 100)). Every plot is drawn, plot ② first, and is painted before the others."""
    from PySide6.QtCore import QEvent, QObject

    window = make_window(small_setup())
    painted = []

    class PaintWatch(QObject):
        def __init__(self, name):
            super().__init__()
            self.name = name

        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint:
                painted.append(self.name)
            return False

    watches = [PaintWatch(name) for name in ("long-range", "factors", "bptt", "heatmaps")]
    for watch in watches:
        window.views[watch.name].graphics.viewport().installEventFilter(watch)
    change_and_wait(qtbot, window, lambda: window.knobs.sliders["U"].slider.setValue(150))
    qtbot.waitUntil(lambda: {"long-range", "factors", "bptt", "heatmaps"} <= set(painted), timeout=WAIT_MS)
    assert painted[0] == "long-range", painted
