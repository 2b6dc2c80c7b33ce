"""The main window: knobs, transport, unrolled view, heatmaps, gradient plots, formulas.

Data flow: a user edit in the knob panel gives a new `Setup`; the window sends it to the one
compute worker (latest request wins) and keeps drawing the previous results meanwhile; when
results arrive they are adopted by `self.simulation` and pushed to every view. The transport
(Step, Play, Reset, Run to end) only moves the revealed step `simulation.t`, which costs
nothing: the whole sequence is computed once per setup.
"""

from __future__ import annotations

import gc
import math

import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QGridLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from simulator import LOG10_OF_ZERO, Results, Setup, Simulation, default_backend

from . import PLOT_NAMES
from .formula_panel import FormulaPanel
from .heatmaps import HeatmapPanel
from .knobs import KnobPanel
from .plots import BPTTPlot, FactorPlot, LongRangePlot, TermsPlot
from .worker import ComputeWorker, kernels_available

pg.setConfigOptions(antialias=True, background="w", foreground="#212529")

# Panels the View menu can show or hide (names as in presets' visible_panels).
PANEL_NAMES = ("unrolled", "heatmaps", "factors", "long-range", "terms", "bptt", "formula", "knobs")
PLOT_PANELS = tuple(name for name in PLOT_NAMES if name != "dashboard")
PANEL_TITLES = {
    "unrolled": "Unrolled networks", "heatmaps": "Heatmaps", "factors": "① Per-step factors",
    "long-range": "② Long-range gradient", "terms": "③ Terms of ∂C_t/∂C_{t-1}", "bptt": "④ BPTT",
    "formula": "Formulas", "knobs": "Knobs",
}
READING_LAG = 50  # the status bar's one-line reading looks this many steps back (or T)
MAX_FRAMES_PER_SECOND = 60


def _freeze_long_lived_objects() -> None:
    """Move every object alive now (numba's and Qt's start-up objects: about a million) out of
    the garbage collector's reach. Without this a full collection walks them all and stalls the
    UI thread for 150-200 ms in the middle of a slider drag (measured)."""
    gc.collect()
    gc.freeze()


def is_cheap_for_numpy(setup: Setup) -> bool:
    """Whether the numpy reference computes `setup` in a fraction of a second (~0.15 s at H=8, T=100)."""
    return setup.hidden_size <= 16 and setup.steps <= 300


def _placeholder(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet("color: #868e96;")
    return label


def reading(results: Results, lag: int = READING_LAG) -> str:
    """'RNN gradient at lag 50: 10^-7.2 (vanishing) · LSTM: 10^-0.3 (kept)'."""
    T = results.steps
    lag = min(lag, T)
    k = T - lag

    def describe(log10_value: float) -> str:
        if not math.isfinite(log10_value) or log10_value <= LOG10_OF_ZERO / 2:
            return "exactly 0 (vanished)"
        verdict = "vanishing" if log10_value < -2 else "exploding" if log10_value > 2 else "kept"
        return f"10^{log10_value:.1f} ({verdict})"

    rnn = float(results.rnn_longrange_log10[k])
    lstm = float(results.lstm_longrange_log10[k])
    return f"RNN gradient at lag {lag}: {describe(rnn)} · LSTM: {describe(lstm)}"


class MainWindow(QMainWindow):
    setup_changed = Signal()  # after any *user* change of the setup (knob, size, signal...)
    results_changed = Signal()  # after simulation results were recomputed and drawn
    selected_step_changed = Signal(int)

    def __init__(self, setup: Setup | None = None, backend: str | None = None, warm_up: bool = False,
                 parent: QWidget | None = None):
        super().__init__(parent)
        setup = setup if setup is not None else Setup()
        self.setWindowTitle("RNN Gradient Lab")
        self.simulation = Simulation(setup, backend=backend or default_backend())
        self.results: Results | None = None  # what the views show (never computed on this thread)
        self._requested_setup = setup
        self._shown_request = 0
        self._user_edit_pending = False
        self._selected = 0
        self._panels: dict[str, QWidget] = {}
        self._panel_actions: dict[str, QAction] = {}
        self._sized_splitters = False
        self._warming_up = False
        self._froze_after_first_results = False

        self.worker = ComputeWorker(self.simulation.backend)
        self.worker.result_ready.connect(self._on_results)
        self.worker.failed.connect(self._on_failed)
        self.worker.warm_up_done.connect(self._on_warm_up_done)

        self._build_views()
        self._build_knobs(setup)
        self._build_transport()
        self._build_menus()
        self._build_status_bar()
        self._fit_to_screen()

        # "computing…" appears when a compute has run this long: quick ones (a knob drag at
        # small sizes) would only make the status bar flicker and repaint on every change
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.setInterval(150)
        self._busy_timer.timeout.connect(lambda: self.is_computing() and self._set_busy("computing…"))

        self._draft_timer = QTimer(self)
        self._draft_timer.setSingleShot(True)
        self._draft_timer.setInterval(300)
        self._draft_timer.timeout.connect(self._end_draft)

        self._play_timer = QTimer(self)
        self._play_timer.timeout.connect(self._play_tick)
        self._set_speed(self.speed_spin.value())

        if warm_up and kernels_available():
            self._warming_up = True
            self._set_busy("Preparing kernels… (numba compiles them once; later launches are quick)")
        # The first compute (and numba's warm-up, which holds the GIL while it loads the kernels)
        # starts from the event loop, so the window's first paint does not wait for either.
        QTimer.singleShot(0, lambda: self._start_work(setup))

    def _start_work(self, setup: Setup) -> None:
        already_requested = self.worker.latest_id > 0  # a setup was applied before the loop ran
        if self._warming_up:
            if already_requested:
                self.worker.warm_up()
            elif is_cheap_for_numpy(setup):  # draw the first frame with numpy while numba loads
                self._request(setup, user=False, backend="reference")
                self.worker.warm_up()
            else:
                self.worker.warm_up()
                self._request(setup, user=False)
        elif not already_requested:
            self._request(setup, user=False)

    # --- construction ---------------------------------------------------------------------
    def _build_views(self) -> None:
        try:
            from .unrolled_view import UnrolledView
        except ImportError:  # the view is written separately; the window works without it
            self.unrolled_view = None
            unrolled = _placeholder("Unrolled network view not available")
        else:
            self.unrolled_view = UnrolledView()
            self.unrolled_view.step_clicked.connect(self.set_selected_step)
            unrolled = self.unrolled_view
        self.heatmaps = HeatmapPanel()
        self.factor_plot = FactorPlot()
        self.long_range_plot = LongRangePlot()
        self.terms_plot = TermsPlot()
        self.bptt_plot = BPTTPlot()
        self.formula_panel = FormulaPanel()
        for view in (self.heatmaps, self.factor_plot, self.long_range_plot, self.bptt_plot):
            view.step_clicked.connect(self.set_selected_step)

        plots = QWidget()
        grid = QGridLayout(plots)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)
        grid.addWidget(self.factor_plot, 0, 0)
        grid.addWidget(self.long_range_plot, 0, 1)
        grid.addWidget(self.terms_plot, 1, 0)
        grid.addWidget(self.bptt_plot, 1, 1)
        self.plots_area = plots

        self.top_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.top_splitter.addWidget(unrolled)
        self.top_splitter.addWidget(self.formula_panel)
        self.top_splitter.setStretchFactor(0, 3)
        self.top_splitter.setStretchFactor(1, 1)
        self.bottom_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.bottom_splitter.addWidget(self.heatmaps)
        self.bottom_splitter.addWidget(plots)
        self.bottom_splitter.setStretchFactor(0, 2)
        self.bottom_splitter.setStretchFactor(1, 3)
        self.main_splitter = QSplitter(Qt.Orientation.Vertical)
        self.main_splitter.addWidget(self.top_splitter)
        self.main_splitter.addWidget(self.bottom_splitter)
        self.main_splitter.setStretchFactor(0, 2)
        self.main_splitter.setStretchFactor(1, 5)
        for splitter in (self.top_splitter, self.bottom_splitter, self.main_splitter):
            splitter.setChildrenCollapsible(False)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.main_splitter)
        self.setCentralWidget(central)

        self.plot_widgets: dict[str, QWidget] = {
            "dashboard": central,
            "factors": self.factor_plot,
            "long-range": self.long_range_plot,
            "terms": self.terms_plot,
            "bptt": self.bptt_plot,
            "heatmaps": self.heatmaps,
            "unrolled": unrolled,
        }
        self._panels.update({
            "unrolled": unrolled, "heatmaps": self.heatmaps, "factors": self.factor_plot,
            "long-range": self.long_range_plot, "terms": self.terms_plot, "bptt": self.bptt_plot,
            "formula": self.formula_panel,
        })

    def _views(self) -> list:
        views = [self.heatmaps, self.factor_plot, self.long_range_plot, self.terms_plot, self.bptt_plot]
        if self.unrolled_view is not None:
            views.append(self.unrolled_view)
        return views

    def _build_knobs(self, setup: Setup) -> None:
        self.knobs = KnobPanel(setup)
        self.knobs.setup_edited.connect(self._on_user_setup)
        self.knobs.error.connect(lambda message: self.statusBar().showMessage(message, 6000))
        scroll = QScrollArea()
        scroll.setWidget(self.knobs)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(self.knobs.minimumSizeHint().width() + 24)
        self.knobs_dock = QDockWidget("Knobs", self)
        self.knobs_dock.setObjectName("knobs")
        self.knobs_dock.setWidget(scroll)
        self.knobs_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                    | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.knobs_dock)
        self._panels["knobs"] = self.knobs_dock

    def _build_transport(self) -> None:
        bar = QToolBar("Transport")
        bar.setObjectName("transport")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.transport_bar = bar

        self.step_action = QAction("Step ▸", self)
        self.step_action.setShortcut(QKeySequence(Qt.Key.Key_Right))
        self.step_action.setToolTip("Reveal one more time step (→)")
        self.step_action.triggered.connect(self.step)
        self.play_action = QAction("Play ▶", self)
        self.play_action.setCheckable(True)
        self.play_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.play_action.setToolTip("Play / pause (Space)")
        self.play_action.toggled.connect(self._play_toggled)
        self.reset_action = QAction("Reset ⟲", self)
        self.reset_action.setShortcut(QKeySequence(Qt.Key.Key_R))
        self.reset_action.setToolTip("Back to t = 0 (R)")
        self.reset_action.triggered.connect(self.reset)
        self.end_action = QAction("Run to end ⇥", self)
        self.end_action.setShortcut(QKeySequence(Qt.Key.Key_End))
        self.end_action.setToolTip("Reveal every step (End)")
        self.end_action.triggered.connect(self.run_to_end)
        self.pulse_action = QAction("Gradient pulse ◂", self)
        self.pulse_action.setToolTip("Send the gradient of the loss at T backwards through the unrolled networks")
        self.pulse_action.triggered.connect(self.play_gradient_pulse)
        for action in (self.step_action, self.play_action, self.reset_action, self.end_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            bar.addAction(action)
            self.addAction(action)
        bar.addSeparator()
        bar.addWidget(QLabel(" speed "))
        self.speed_spin = QSpinBox()
        self.speed_spin.setRange(1, 2000)
        self.speed_spin.setValue(25)
        self.speed_spin.setSuffix(" steps/s")
        self.speed_spin.setToolTip("Play speed in time steps per second")
        self.speed_spin.valueChanged.connect(self._set_speed)
        bar.addWidget(self.speed_spin)
        if self.unrolled_view is None:  # the unrolled view has its own pulse button
            bar.addSeparator()
            bar.addAction(self.pulse_action)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        hint = QLabel("Space play/pause · → step · R reset · click any view to select a step  ")
        hint.setStyleSheet("color: #868e96;")
        bar.addWidget(hint)

    def _build_menus(self) -> None:
        menu_bar = self.menuBar()
        self.file_menu: QMenu = menu_bar.addMenu("&File")
        self.export_menu: QMenu = menu_bar.addMenu("&Export")
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)
        self.file_menu.addAction(self.quit_action)
        self.view_menu: QMenu = menu_bar.addMenu("&View")
        for name in PANEL_NAMES:
            action = QAction(PANEL_TITLES[name], self, checkable=True, checked=True)
            action.toggled.connect(lambda shown, name=name: self._set_panel_visible(name, shown))
            self.view_menu.addAction(action)
            self._panel_actions[name] = action
        self.knobs_dock.visibilityChanged.connect(self._knobs_visibility_changed)
        self.transport_menu: QMenu = menu_bar.addMenu("&Transport")
        for action in (self.step_action, self.play_action, self.reset_action, self.end_action,
                       self.pulse_action):
            self.transport_menu.addAction(action)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.step_label = QLabel()
        self.step_label.setStyleSheet("font-weight: 600; padding: 0 12px 0 4px;")
        status.addWidget(self.step_label)
        self.busy_label = QLabel()
        # wide enough for "computed in 1234 ms": a new time does not re-lay out the status bar
        self.busy_label.setMinimumWidth(self.busy_label.fontMetrics().horizontalAdvance("computed in 00000 ms   "))
        self.sigma_label = QLabel()
        self.reading_label = QLabel()
        self.reading_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        status.addWidget(self.reading_label, 1)
        status.addPermanentWidget(self.sigma_label)
        status.addPermanentWidget(self.busy_label)
        self._update_step_labels()

    def _fit_to_screen(self) -> None:
        self.setMinimumSize(1024, 680)
        screen = self.screen().availableGeometry() if self.screen() else None
        width, height = 1600, 1000
        if screen is not None:
            width, height = min(width, screen.width()), min(height, screen.height())
            if screen.width() >= 2560:  # a 4K-class screen without DPI scaling: use the room
                width, height = int(screen.width() * 0.8), int(screen.height() * 0.85)
        self.resize(width, height)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._sized_splitters:  # first show: share the room (stretch factors only share extra)
            self._sized_splitters = True
            width, height = self.main_splitter.width(), self.main_splitter.height()
            self.main_splitter.setSizes([round(height * 0.34), round(height * 0.66)])
            self.top_splitter.setSizes([round(width * 0.70), round(width * 0.30)])
            self.bottom_splitter.setSizes([round(width * 0.27), round(width * 0.73)])
            knobs_width = self.knobs_dock.widget().minimumWidth()
            self.resizeDocks([self.knobs_dock], [knobs_width], Qt.Orientation.Horizontal)

    # --- setup and results ----------------------------------------------------------------
    def apply_setup(self, setup: Setup) -> None:
        """Show `setup` in the widgets (signals blocked) and recompute in the worker.
        `simulation` and the views follow when the results arrive (results_changed);
        setup_changed is not emitted."""
        with QSignalBlocker(self.knobs):
            self.knobs.set_setup(setup)
        self._user_edit_pending = False  # a loaded setup is not a user edit
        self._request(setup, user=False)

    def requested_setup(self) -> Setup:
        """The newest setup asked for (equal to simulation.setup once its results are in)."""
        return self._requested_setup

    def is_computing(self) -> bool:
        return self._shown_request != self.worker.latest_id

    def _on_user_setup(self, setup: Setup) -> None:
        # While knobs move, the plots draw without antialiasing (half the paint time); 300 ms
        # after the last change they are drawn in full again.
        for plot in self._draft_plots():
            plot.set_draft(True)
        self._draft_timer.start()
        self._request(setup, user=True)

    def _end_draft(self) -> None:
        if self.is_computing():  # the last change is still being computed: wait for it
            self._draft_timer.start()
            return
        for plot in self._draft_plots():
            plot.set_draft(False)

    def _draft_plots(self) -> tuple:
        """The plots with curves, which draw a draft while knobs move."""
        return self.factor_plot, self.long_range_plot, self.bptt_plot

    def _request(self, setup: Setup, user: bool, backend: str | None = None) -> None:
        self._requested_setup = setup
        self._user_edit_pending = self._user_edit_pending or user
        self.worker.submit(setup, backend)
        if not self._warming_up and not self._busy_timer.isActive():
            self._busy_timer.start()  # say "computing…" only if it takes a while (no flicker)

    def _on_results(self, request_id: int, results: Results, seconds: float) -> None:
        if request_id <= self._shown_request:  # an older answer overtaken by a newer one
            return
        self._shown_request = request_id
        self.simulation.adopt_results(results)
        self.results = results
        T = results.steps
        self._selected = min(self._selected, T)
        for view in self._views():
            view.set_results(results)
            view.set_revealed_step(self.simulation.t)
            view.set_selected_step(self._selected)
        self.formula_panel.set_results(results)
        self.formula_panel.set_selected_step(self._selected)
        self._update_step_labels()
        self.sigma_label.setText(f"σ_max(U) = {results.sigma_max_U:.3g}  ")
        self.reading_label.setText(reading(results))
        latest = request_id == self.worker.latest_id
        if latest and not self._warming_up:
            self._busy_timer.stop()
            self._set_busy(f"computed in {seconds * 1000:.0f} ms")
        if not self._froze_after_first_results:
            self._froze_after_first_results = True
            QTimer.singleShot(0, _freeze_long_lived_objects)  # after this first frame is painted
        if self._user_edit_pending and latest:
            self._user_edit_pending = False
            self.setup_changed.emit()
        self.results_changed.emit()

    def _on_failed(self, request_id: int, message: str) -> None:
        if request_id != self.worker.latest_id:
            return
        # Keep what is shown: the widgets go back to the setup of the drawn results.
        self._shown_request = request_id
        self._user_edit_pending = False
        if self.results is not None:
            self._requested_setup = self.results.setup
            self.knobs.set_setup(self.results.setup)
        self._set_busy("")
        self.show_error("Could not compute this setup", message)

    def _on_warm_up_done(self, seconds: float) -> None:
        self._warming_up = False
        _freeze_long_lived_objects()
        self._set_busy("computing…" if self.is_computing() else f"kernels ready in {seconds:.1f} s")

    def _set_busy(self, text: str) -> None:
        self.busy_label.setText(text + "  ")

    # --- selection ------------------------------------------------------------------------
    def selected_step(self) -> int:
        return self._selected

    def set_selected_step(self, t: int) -> None:
        # Bounded by the newest requested setup: a preset's step may come before its results.
        t = max(0, min(int(t), self._requested_setup.steps))
        changed = t != self._selected
        self._selected = t
        shown = t if self.results is None else min(t, self.results.steps)
        for view in self._views():
            view.set_selected_step(shown)
        self.formula_panel.set_selected_step(shown)
        self._update_step_labels()
        if changed:
            self.selected_step_changed.emit(t)

    # --- transport ------------------------------------------------------------------------
    def step(self) -> None:
        if self.simulation.at_end:
            self.play_action.setChecked(False)
            return
        self._reveal(self.simulation.step())

    def reset(self) -> None:
        self.play_action.setChecked(False)
        self.simulation.reset()
        self._reveal(0)

    def run_to_end(self) -> None:
        self.play_action.setChecked(False)
        self._reveal(self.simulation.run_to_end())

    def play(self) -> None:
        self.play_action.setChecked(True)

    def pause(self) -> None:
        self.play_action.setChecked(False)

    def is_playing(self) -> bool:
        return self._play_timer.isActive()

    def play_gradient_pulse(self) -> None:
        if self.unrolled_view is not None and self.results is not None:
            self.unrolled_view.play_gradient_pulse()

    def _reveal(self, t: int) -> None:
        if self.results is None:  # nothing drawn yet: the views have nothing to reveal
            return
        for view in self._views():
            view.set_revealed_step(t)
        self.set_selected_step(max(t, 1))  # the selection follows the transport (no factor at t = 0)
        self._update_step_labels()

    def _play_toggled(self, playing: bool) -> None:
        if playing:
            if self.simulation.at_end:  # Play at the end starts over
                self.simulation.reset()
                self._reveal(0)
            self._play_timer.start()
            self.play_action.setText("Pause ❚❚")
        else:
            self._play_timer.stop()
            self.play_action.setText("Play ▶")

    def _set_speed(self, steps_per_second: int) -> None:
        # Above 60 steps/s reveal several steps per frame instead of timing faster than the screen.
        frames = min(steps_per_second, MAX_FRAMES_PER_SECOND)
        self._steps_per_tick = max(1, round(steps_per_second / frames))
        self._play_timer.setInterval(round(1000 / frames))

    def _play_tick(self) -> None:
        if self.results is None:
            return
        t = min(self.simulation.t + self._steps_per_tick, self.simulation.steps)
        self._reveal(self.simulation.run_to(t))
        if self.simulation.at_end:
            self.play_action.setChecked(False)
            self.play_gradient_pulse()

    def _update_step_labels(self) -> None:
        T = self._requested_setup.steps if self.results is None else self.results.steps
        self.step_label.setText(f"t = {self.simulation.t} / {T}   ·   selected step {self._selected}")

    # --- view state -----------------------------------------------------------------------
    def visible_panels(self) -> list[str]:
        """The shown plot panels (PLOT_NAMES except the dashboard); knobs and formulas are not
        part of a preset's view and stay as the user left them."""
        return [name for name in PLOT_PANELS if self._panel_actions[name].isChecked()]

    def view_state(self) -> dict:
        return {"selected_step": self._selected, "visible_panels": self.visible_panels()}

    def apply_view_state(self, state: dict) -> None:
        panels = state.get("visible_panels")
        if panels is not None:
            for name in PLOT_PANELS:
                with QSignalBlocker(self._panel_actions[name]):
                    self._panel_actions[name].setChecked(name in panels)
                self._set_panel_visible(name, name in panels)
        if "selected_step" in state:
            self.set_selected_step(int(state["selected_step"]))

    def _set_panel_visible(self, name: str, shown: bool) -> None:
        self._panels[name].setVisible(shown)
        with QSignalBlocker(self._panel_actions[name]):
            self._panel_actions[name].setChecked(shown)
        # Hide a splitter side whose panels are all hidden, so the others take the room.
        self.plots_area.setVisible(any(self._panel_actions[n].isChecked()
                                       for n in ("factors", "long-range", "terms", "bptt")))
        self.top_splitter.setVisible(any(self._panel_actions[n].isChecked() for n in ("unrolled", "formula")))
        self.bottom_splitter.setVisible(self.plots_area.isVisibleTo(self) or
                                        self._panel_actions["heatmaps"].isChecked())

    def _knobs_visibility_changed(self, visible: bool) -> None:
        if not self.isVisible():
            return
        with QSignalBlocker(self._panel_actions["knobs"]):
            self._panel_actions["knobs"].setChecked(visible)

    # --- messages and lifetime ------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        QMessageBox.warning(self, title, message)

    def closeEvent(self, event) -> None:
        self._play_timer.stop()
        self.worker.stop()
        super().closeEvent(event)
