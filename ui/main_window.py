"""The main window: knobs, transport, unrolled view, heatmaps, gradient plots, formulas.

Data flow, one way: a user edit in the knob panel gives a new `Setup`; the window sends it to the
one compute worker (latest request wins) and keeps drawing the previous results meanwhile; when
results arrive they go into the `ViewModel` together with the view state (selected step,
revealed steps, panels, gate rows). Every view redraws from (results, view) through its plot
description (plots.describe) when a part it depends on changed. The transport (Step, Play,
Reset, Run to end) only changes the view state: the whole sequence is computed once per setup.

The controllers (presets, export) use the window through the small interface documented in
ui/controllers/__init__.py.
"""

from __future__ import annotations

import gc

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
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

import plots
from plots import style
from plots import text as plot_text
from plots import terms as plot_terms
from plots.view import PANEL_NAMES, ViewState
from simulator import Results, Setup, default_backend
from simulator.results import lstm_inputs

from .controllers.worker import ComputeWorker, kernels_available
from .render.pyqtgraph_renderer import PlotView
from .view_model import DEPENDS_ON, GATES, PANELS, RESULTS, REVEAL, SELECTION, ViewModel
from .widgets.formula_panel import FormulaPanel
from .widgets.heatmaps import HeatmapsView
from .widgets.knobs import KnobPanel
from .widgets.paths_view import PathsView
from .widgets.train_panel import TrainPanel
from .widgets.unrolled_view import UnrolledView

pg.setConfigOptions(antialias=True, background=style.colour("background"), foreground=style.colour("foreground"))

# Panels the View menu can show or hide: the plots, then the formula panel and the knobs.
MENU_PANELS = (*PANEL_NAMES, "formula", "knobs")
PANEL_TITLES = {**plots.PLOT_TITLES, "formula": "Formulas and lesson", "knobs": "Knobs"}
# The order the dashboard's views are drawn in: plot ② (the long-range gradient, what the app is
# about) first. Qt paints each plot's scene in a frame of its own, in the order the scenes were
# changed, so the first one drawn is on screen a frame or more before the others.
DRAW_ORDER = ("long-range", "factors", "terms", "bptt", "heatmaps", "unrolled")
assert sorted(DRAW_ORDER) == sorted(PANEL_NAMES)
MAX_FRAMES_PER_SECOND = 60
PARTIAL_REDRAW_MS = 300  # progressive results are drawn at most this often
# Plot ③ waits this long for the selected step's term norms (the worker's: 40 ms at H = 512)
# before it is drawn without them: a step of the transport draws it once, not twice.
TERMS_WAIT_MS = 100
# ... and asks for them this long after the step is drawn (a frame): the worker's four SVDs beside
# the window's paints made those paints a third slower at H = 512 (two cores, shared caches)
TERMS_ASK_AFTER_MS = 16
# Final results this large (H * T) are drawn one view per turn of the event loop too, like partial
# ones (at (512, 5000) the dashboard at once blocked the window for ~60 ms: the heatmaps alone take
# three 512 x 5001 images); results_changed follows the last view.
STAGED_FINAL_MIN_CELLS = 100_000
TEXTS = "texts"  # a stage of a staged redraw: the formula panel and the status bar's readings
# The chaos note is asked for this long after final results were drawn, if nothing newer came: it
# waits for the window's paints (and for a dragged knob to rest).
CHAOS_NOTE_AFTER_MS = 120


def _set_label_text(label: QLabel, text: str, room: int | None = None) -> None:
    """A status bar label's new text, in a label of fixed size. A label whose size is not fixed
    asks its parent to lay out again on every new text (Qt posts a LayoutRequest), and the status
    bar answers by repainting itself whole, one frame after the rest of the window: every knob
    change ended with that frame (~2 ms later). The width only grows (to the widest text so far),
    or, with `room`, is `room` for every text that fits in it (a longer one widens the label until
    the next text that fits)."""
    if text == label.text():
        return
    label.setText(text)
    hint = label.sizeHint()  # (a QLabel's size hint is at least its minimum size)
    fixed = label.minimumSize() == label.maximumSize()
    if room is None:
        width = max(hint.width(), label.maximumWidth() if fixed else 0)
    else:  # the text's own width (a plain text), which the hint of a wider label does not give
        margins = label.contentsMargins()
        width = max(room, label.fontMetrics().horizontalAdvance(text) + margins.left() + margins.right()
                    + 2 * label.margin())
    height = max(hint.height(), label.maximumHeight()) if fixed else hint.height()
    if not fixed or (width, height) != (label.maximumWidth(), label.maximumHeight()):
        label.setFixedSize(width, height)


def _freeze_long_lived_objects() -> None:
    """Move every object alive now (numba's and Qt's start-up objects: about a million) out of
    the garbage collector's reach. Without this a full collection walks them all and stalls the
    UI thread for 150-200 ms in the middle of a slider drag (measured)."""
    gc.collect()
    gc.freeze()


def is_cheap_for_numpy(setup: Setup) -> bool:
    """Whether the numpy reference computes `setup` in a fraction of a second (~0.15 s at H=8, T=100)."""
    return setup.hidden_size <= 16 and setup.steps <= 300


class MainWindow(QMainWindow):
    setup_changed = Signal()  # after any *user* change of the setup (knob, size, signal...)
    results_changed = Signal()  # after new results were drawn
    selected_step_changed = Signal(int)

    def __init__(self, setup: Setup | None = None, backend: str | None = None, warm_up: bool = False,
                 parent: QWidget | None = None, view: ViewState | None = None):
        super().__init__(parent)
        setup = setup if setup is not None else Setup()
        self.setWindowTitle("RNN Gradient Lab")
        self.view_model = ViewModel(self)
        self.view_model.changed.connect(self._on_view_changed)
        self.backend = backend or default_backend()
        self._requested_setup = setup
        # the view applied with the next results (a clean view unless one is given)
        self._pending_view: ViewState | None = view if view is not None else ViewState.full(setup.steps)
        self._shown_request = 0
        self._user_edit_pending = False
        self._panel_actions: dict[str, QAction] = {}
        self._sized_splitters = False
        self._warming_up = False
        self._froze_after_first_results = False
        self._stages: tuple | None = None  # (results, the batches of views still to draw) of a staged redraw
        self._stage_chain = 0  # which staged redraw the posted _next_stage calls belong to
        self._announce_when_drawn = None  # final Results whose results_changed waits for their last view
        self._stale_dashboard: set[str] = set()  # dashboard views to redraw when their tab shows again
        self._paths_shown_for: tuple | None = None  # (weight, k, order, T) the Paths tab shows

        self.worker = ComputeWorker(self.backend)
        self.worker.result_ready.connect(self._on_results)
        self.worker.partial_ready.connect(self._on_partial)
        self.worker.chaos_ready.connect(self._on_chaos)
        self.worker.failed.connect(self._on_failed)
        self.worker.warm_up_done.connect(self._on_warm_up_done)
        self.worker.term_norms_ready.connect(self._on_term_norms)
        self.worker.paths_ready.connect(self._on_paths_ready)

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

        self._partial: tuple | None = None  # the newest progressive results not drawn yet
        self._partial_timer = QTimer(self)
        self._partial_timer.setSingleShot(True)
        self._partial_timer.setInterval(PARTIAL_REDRAW_MS)
        self._partial_timer.timeout.connect(self._draw_partial)

        # the chaos note (a GIL-holding loop on the worker) is asked for once final results have
        # been drawn and nothing new came for this long: it never takes turns with a redraw
        self._chaos_timer = QTimer(self)
        self._chaos_timer.setSingleShot(True)
        self._chaos_timer.setInterval(CHAOS_NOTE_AFTER_MS)
        self._chaos_timer.timeout.connect(self._ask_for_chaos_note)

        self._terms_timer = QTimer(self)
        self._terms_timer.setSingleShot(True)
        self._terms_timer.setInterval(TERMS_WAIT_MS)
        self._terms_timer.timeout.connect(self._terms_waited)
        self._terms_wanted: tuple | None = None  # (results, t) whose norms the worker is asked for next
        self._terms_ask_timer = QTimer(self)
        self._terms_ask_timer.setSingleShot(True)
        self._terms_ask_timer.setInterval(TERMS_ASK_AFTER_MS)
        self._terms_ask_timer.timeout.connect(self._ask_for_term_norms)

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
        self.unrolled_view = UnrolledView()
        self.heatmaps = HeatmapsView()
        self.heatmaps.gates_toggled.connect(self.view_model.set_show_gates)
        self.factor_plot = PlotView("factors")
        self.long_range_plot = PlotView("long-range")
        self.terms_plot = PlotView("terms")
        self.bptt_plot = PlotView("bptt")
        self.formula_panel = FormulaPanel()
        self.formula_panel.show_waiting()
        self.views: dict[str, QWidget] = {
            "factors": self.factor_plot, "long-range": self.long_range_plot, "terms": self.terms_plot,
            "bptt": self.bptt_plot, "heatmaps": self.heatmaps, "unrolled": self.unrolled_view,
        }
        for view in self.views.values():
            view.step_clicked.connect(self.set_selected_step)

        plots_area = QWidget()
        grid = QGridLayout(plots_area)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)
        grid.addWidget(self.factor_plot, 0, 0)
        grid.addWidget(self.long_range_plot, 0, 1)
        grid.addWidget(self.terms_plot, 1, 0)
        grid.addWidget(self.bptt_plot, 1, 1)
        self.plots_area = plots_area

        self.top_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.top_splitter.addWidget(self.unrolled_view)
        self.top_splitter.addWidget(self.formula_panel)
        self.top_splitter.setStretchFactor(0, 3)
        self.top_splitter.setStretchFactor(1, 1)
        self.bottom_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.bottom_splitter.addWidget(self.heatmaps)
        self.bottom_splitter.addWidget(plots_area)
        self.bottom_splitter.setStretchFactor(0, 2)
        self.bottom_splitter.setStretchFactor(1, 3)
        self.main_splitter = QSplitter(Qt.Orientation.Vertical)
        self.main_splitter.addWidget(self.top_splitter)
        self.main_splitter.addWidget(self.bottom_splitter)
        self.main_splitter.setStretchFactor(0, 2)
        self.main_splitter.setStretchFactor(1, 5)
        for splitter in (self.top_splitter, self.bottom_splitter, self.main_splitter):
            splitter.setChildrenCollapsible(False)

        dashboard = QWidget()
        layout = QVBoxLayout(dashboard)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.main_splitter)
        self.dashboard = dashboard
        # The central area: the dashboard of gradients, and further views in tabs beside it.
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(dashboard, "Gradients")
        # The Paths tab: ∂L_T/∂W^(k) as a sum over paths (drawn only while its tab shows).
        self.paths_view = PathsView()
        self.paths_view.selection_changed.connect(lambda changes: self.view_model.set_paths(**changes))
        self.paths_view.highlight_changed.connect(self.view_model.highlight_path)
        self.paths_view.unrolled.step_clicked.connect(self.set_selected_step)
        self.tabs.addTab(self.paths_view, "Paths")
        # Training (issue 14): the RNN and the LSTM trained side by side; its snapshots come back
        # to the Gradients tab through apply_setup.
        self.train_panel = TrainPanel(self)
        self.tabs.addTab(self.train_panel, "Train")
        self.tabs.currentChanged.connect(self._tab_changed)
        self.setCentralWidget(self.tabs)
        self.tabs.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # where Enter in a value field sends the focus
        # The widgets the export controller attaches its right-click menus to, by plot name.
        self.plot_widgets: dict[str, QWidget] = {"dashboard": dashboard, **self.views, "paths": self.paths_view,
                                                 "training": self.train_panel.plot_view}
        self._panels: dict[str, QWidget] = {**self.views, "formula": self.formula_panel}
        self.views["paths"] = self.paths_view.plot_view  # (after the step_clicked loop: no steps to click)

    def _build_knobs(self, setup: Setup) -> None:
        self.knobs = KnobPanel(setup)
        self.knobs.setup_edited.connect(self._on_user_setup)
        self.knobs.error.connect(lambda message: self.statusBar().showMessage(message, 6000))
        self.knobs.value_committed.connect(self.give_focus_back)
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

    def give_focus_back(self) -> None:
        """After Enter in a value field: the window has the keyboard again (Space, R, → act)."""
        self.centralWidget().setFocus(Qt.FocusReason.OtherFocusReason)

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
        self.speed_spin.editingFinished.connect(self.give_focus_back)
        bar.addWidget(self.speed_spin)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        hint = QLabel("Space play/pause · → step · R reset · click any view to select a step  ")
        hint.setStyleSheet(f"color: {style.colour('muted')};")
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
        for name in MENU_PANELS:
            action = QAction(PANEL_TITLES[name], self, checkable=True, checked=True)
            action.toggled.connect(lambda shown, name=name: self._panel_toggled(name, shown))
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
        self._step_label_sized_for: int | None = None
        self.step_label.setStyleSheet("font-weight: 600; padding: 0 12px 0 4px;")
        status.addWidget(self.step_label)
        self.busy_label = QLabel()
        # wide enough for "exact and final · 1234 ms": a new time does not re-lay out the status bar
        self._busy_room = self.busy_label.fontMetrics().horizontalAdvance("exact and final · 00000 ms   ")
        self.busy_label.setMinimumWidth(self._busy_room)
        self.sigma_label = QLabel()
        self.reading_label = QLabel()
        self.reading_label.setTextFormat(Qt.TextFormat.PlainText)
        self.reading_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        status.addWidget(self.reading_label, 1)
        # chaos: beyond a step, a trajectory depends on the floating-point order (simulator/chaos.py)
        self.chaos_label = QLabel()
        self.chaos_label.setStyleSheet(f"color: {style.colour('error')};")
        self.chaos_label.setMaximumWidth(520)
        status.addWidget(self.chaos_label)
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
    @property
    def results(self) -> Results | None:
        """The results the views show (never computed on this thread)."""
        return self.view_model.results

    def apply_setup(self, setup: Setup, view: ViewState | None = None) -> None:
        """Show `setup` in the widgets (signals blocked) and recompute in the worker. The views
        follow when the results arrive (results_changed), with `view` (default: a clean view,
        fully revealed with the last step selected); setup_changed is not emitted."""
        with QSignalBlocker(self.knobs):
            self.knobs.set_setup(setup)
        self._user_edit_pending = False  # a loaded setup is not a user edit
        self.pause()
        current = self.view_model.view
        self._pending_view = view if view is not None else ViewState.full(
            setup.steps, visible_panels=current.visible_panels, show_gates=current.show_gates)
        self._request(setup, user=False)

    def requested_setup(self) -> Setup:
        """The newest setup asked for (equal to results.setup once its results are in)."""
        return self._requested_setup

    def is_computing(self) -> bool:
        return self._shown_request != self.worker.latest_id

    def _on_user_setup(self, setup: Setup) -> None:
        # While knobs move, the plots draw without antialiasing (half the paint time); 300 ms
        # after the last change they are drawn in full again.
        for plot in self._draft_plots():
            plot.set_draft(True)
        self._draft_timer.start()
        if setup.steps != self._requested_setup.steps:  # a new T starts from a clean view
            self._pending_view = self.view_model.view.replace(selected_step=setup.steps,
                                                              revealed_steps=setup.steps)
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

    def _show(self, results: Results) -> None:
        """Draw `results` (partial or final) with the pending view, if a new setup brought one."""
        previous = self.results
        if previous is not None and lstm_inputs(previous.setup) == lstm_inputs(results.setup):
            # the same LSTM: the (L4) term norms already known hold for these results too
            known = previous.__dict__.get("_term_norms")
            if known:
                results.__dict__.setdefault("_term_norms", {}).update(known)
        view, self._pending_view = self._pending_view, None
        self._chaos_timer.stop()  # (started again once these results are drawn in every view)
        self.view_model.set_results(results, view)
        if (previous is None or previous.setup != results.setup) and self.chaos_label.text():
            self.chaos_label.clear()  # a new trajectory: its note comes with its final results

    def _on_partial(self, request_id: int, results: Results, progress: float) -> None:
        """Progressive results: the cheap exact parts (states, BPTT, the loss gradient at each step,
        lower bounds of the long-range norms, drawn dashed) at once, the exact norms as they come
        (the next ones drawn at most every PARTIAL_REDRAW_MS, so streaming never hogs the UI)."""
        if request_id <= self._shown_request or request_id != self.worker.latest_id:
            return  # overtaken, or the final results of this request are already shown
        if not self._warming_up:
            self._busy_timer.stop()
            self._set_busy(f"exact norms: {100 * progress:.0f} %")
        first = self.results is None or self.results.setup != results.setup
        self._partial = (request_id, results)
        if first:
            self._draw_partial()
        elif not self._partial_timer.isActive():
            self._partial_timer.start()

    def _draw_partial(self) -> None:
        if self._partial is None:
            return
        (request_id, results), self._partial = self._partial, None
        if request_id > self._shown_request and request_id == self.worker.latest_id \
                and not self._compute_finished():
            self._show(results)

    def _compute_finished(self) -> bool:
        """Whether the running compute has done all its passes (its final results are being
        prepared: ~1 s at (512, 5000)). A partial result still waiting then is not drawn: the
        final results come next, and drawing it would be a redraw of every view thrown away."""
        job = self.worker.job
        return job is not None and job.finished

    def _ask_for_chaos_note(self) -> None:
        if self.results is not None and self.results.final and not self.is_computing():
            self.worker.request_chaos(self.results)

    def _on_chaos(self, results: Results, note) -> None:
        if results is self.results:
            self.chaos_label.setText(f"⚠ {note}" if note else "")
            self.chaos_label.setToolTip(note or "")

    def _on_results(self, request_id: int, results: Results, seconds: float) -> None:
        if request_id <= self._shown_request:  # an older answer overtaken by a newer one
            return
        self._shown_request = request_id
        self._partial = None
        latest = request_id == self.worker.latest_id
        self._show(results)
        if latest and not self._warming_up:
            self._busy_timer.stop()
            self._set_busy(f"exact and final · {seconds * 1000:.0f} ms")
        if not self._froze_after_first_results:
            self._froze_after_first_results = True
            QTimer.singleShot(0, _freeze_long_lived_objects)  # after this first frame is painted
        if self._user_edit_pending and latest:
            self._user_edit_pending = False
            self.setup_changed.emit()
        self.train_panel.sync_hidden_size()  # a network that starts from the knobs has their H
        if self._stages is not None and self._stages[0] is results:
            self._announce_when_drawn = results  # (by _next_stage, once every view is drawn)
        else:
            self._announce()

    def _announce(self) -> None:
        """The results are drawn in every view: say so, and ask for the chaos note once the knobs
        rest (_ask_for_chaos_note: only for final results with nothing computing)."""
        self._chaos_timer.start()
        self.results_changed.emit()

    def _on_failed(self, request_id: int, message: str) -> None:
        if request_id != self.worker.latest_id:
            return
        # Keep what is shown: the widgets go back to the setup of the drawn results.
        self._shown_request = request_id
        self._user_edit_pending = False
        self._pending_view = None
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
        _set_label_text(self.busy_label, text + "  ", room=self._busy_room)

    def _on_term_norms(self, results: Results, t: int) -> None:
        """The worker computed the (L4) term norms at step t: draw them if still relevant."""
        if results is self.results and t == self.view_model.view.selected_step \
                and "terms" in self.view_model.view.visible_panels:
            self._redraw_dashboard({"terms"})

    def _on_paths_ready(self, results: Results) -> None:
        """The worker computed the Paths view's numbers: draw them if still relevant."""
        if results is self.results:
            self._redraw_dashboard({"unrolled"} & set(self.view_model.view.visible_panels))
            if self.paths_visible():
                self._redraw_paths()

    # --- drawing: every view from (results, view) ---------------------------------------------
    def _on_view_changed(self, what: frozenset) -> None:
        if self.results is None:
            return
        visible = set(self.view_model.view.visible_panels)
        names = {name for name, depends in DEPENDS_ON.items()
                 if name in visible and (RESULTS in what or PANELS in what or depends & what)}
        texts_later = False
        if RESULTS in what:
            # new results: the first view of DRAW_ORDER (plot ②) now, in a frame of its own, the
            # other views and the texts next.
            # Partial results and large ones: one view per turn of the event loop (a redraw of every
            # view at once blocked the window for longer than a frame while the exact norms streamed in)
            large = self.results.setup.hidden_size * self.results.steps >= STAGED_FINAL_MIN_CELLS
            texts_later = self._redraw_dashboard(names, staged=True, one_per_turn=large or not self.results.final)
        else:
            self._redraw_dashboard(names)
        if self.paths_visible() and (RESULTS in what or (DEPENDS_ON["paths"] | DEPENDS_ON["unrolled"]) & what):
            self._redraw_paths()
        if RESULTS in what or SELECTION in what:
            if not texts_later:
                self._show_texts(status=RESULTS in what)
            self.selected_step_changed.emit(self.view_model.view.selected_step)
            if self.results.final and plot_terms.worth_prefetching(self.results):
                # every step's term norms, worked out ahead while idle: a step then finds them
                # (at H = 128 they were a tenth of a step's UI time)
                self.worker.prefetch_term_norms(self.results, self.view_model.view.selected_step)
        if PANELS in what:
            self._show_panels()
        self._update_step_labels()

    def _redraw(self, names, wait_for_norms: bool = True) -> None:
        results, view = self.results, self.view_model.view
        t = view.selected_step
        for name in names:
            if name == "terms" and wait_for_norms and plot_terms.norms_pending(results, view):
                # the norms come from the worker (term_norms_ready), asked for once this step is
                # painted (steps in quick succession ask once, for the last): no plot until then
                self._terms_wanted = (results, t)
                self._terms_ask_timer.start()
                if not self._terms_timer.isActive():
                    self._terms_timer.start()
                continue
            plot = plots.describe(name, results, view, blocking=False)
            if name == "terms":
                if plot.partial:  # drawn without its norms for now (TERMS_WAIT_MS passed): they still come
                    self.worker.request_term_norms(results, t)
                self._terms_timer.stop()
            self.views[name].show_plot(plot)

    def _ask_for_term_norms(self) -> None:
        wanted, self._terms_wanted = self._terms_wanted, None
        if wanted is not None and wanted[0] is self.results and wanted[1] == self.view_model.view.selected_step:
            self.worker.request_term_norms(*wanted)

    def _terms_waited(self) -> None:
        """The term norms did not come within TERMS_WAIT_MS: draw plot ③ without them for now."""
        if self.results is not None and "terms" in self.view_model.view.visible_panels \
                and self.tabs.currentWidget() is self.dashboard:
            self._redraw({"terms"}, wait_for_norms=False)

    def paths_visible(self) -> bool:
        return self.tabs.currentWidget() is self.paths_view

    def _redraw_dashboard(self, names, staged: bool = False, one_per_turn: bool = False) -> bool:
        """Redraw these dashboard views now, or, while another tab shows, when it shows again
        (a knob turned in the Paths tab does not redraw six hidden plots). `staged`: the first view
        now, then, in the next turn of the event loop, the others and the texts (the formula panel,
        the status bar's readings); `one_per_turn`: one view per turn. The next turn is asked for
        after the first view is drawn: Qt paints its plot first, in a frame of its own. Returns
        whether the texts are left to a later turn."""
        if self.tabs.currentWidget() is not self.dashboard:
            self._stale_dashboard |= set(names)
            return False
        order = [name for name in DRAW_ORDER if name in names]
        if not staged:
            self._redraw(order)
            return False
        first, rest = order[:1], order[1:]
        batches = ([[name] for name in rest] if one_per_turn else [rest]) or [[]]  # (none left: the texts)
        batches[0] = batches[0] + [TEXTS]
        self._stages = (self.results, batches)
        self._stage_chain += 1  # a staged redraw still running for older results stops at its next call
        self._redraw(first)
        chain = self._stage_chain
        QTimer.singleShot(0, lambda: self._next_stage(chain))  # (posted after the first view's scene update)
        return True

    def _show_texts(self, status: bool = True) -> None:
        """The formula panel at the selected step and, with `status`, the status bar's readings."""
        results = self.results
        if status:
            _set_label_text(self.sigma_label, f"σ_max(U) = {results.sigma_max_U:.3g}  ")
            # plain text ("10^−7.2"): a rich-text label lays out a document for its size and paint
            _set_label_text(self.reading_label, style.unicode(plot_text.reading(results)))
        self.formula_panel.show_step(results, self.view_model.view.selected_step)

    def _next_stage(self, chain: int) -> None:
        if self._stages is None or chain != self._stage_chain:
            return  # (a newer staged redraw runs its own chain)
        results, waiting = self._stages
        if results is not self.results or (not results.final and self._compute_finished()):
            # newer results (or the final ones, next: their redraw covers every view). The final
            # results may not come (a newer request overtakes them, a failure): the texts of the
            # partial ones shown are not left out
            self._stages = None
            if results is self.results and any(TEXTS in batch for batch in waiting):
                self._show_texts()
            return
        self._stages = (results, waiting[1:]) if len(waiting) > 1 else None
        batch = waiting[0]
        self._redraw_dashboard({name for name in batch if name != TEXTS})
        if TEXTS in batch:
            self._show_texts()
        if self._stages is not None:
            QTimer.singleShot(0, lambda: self._next_stage(chain))
        elif self._announce_when_drawn is results:
            self._announce_when_drawn = None
            self._announce()

    def _tab_changed(self, _index: int) -> None:
        if self.results is None:
            return
        if self.paths_visible():
            self._redraw_paths()
        elif self.tabs.currentWidget() is self.dashboard and self._stale_dashboard:
            stale, self._stale_dashboard = self._stale_dashboard, set()
            visible = set(self.view_model.view.visible_panels)
            self._redraw([name for name in DRAW_ORDER if name in stale and name in visible])

    def _redraw_paths(self) -> None:
        """The Paths tab from (results, view): its description, and the unrolled networks under it.
        Numbers too slow for this thread (plots.paths.is_quick) come from the worker: until then
        the description says "computing" (plot.partial) and paths_ready draws again."""
        results, view = self.results, self.view_model.view
        self.paths_view.set_state(view, results.steps)
        plot = plots.describe("paths", results, view, blocking=False)
        k = view.paths_k_for(results.steps)
        if plot.partial:
            self.worker.request_paths(results, view.paths_weight, k, view.paths_order)
        shown = self.paths_view.plot_view.plot
        # while a knob moves, the previous picture of the same paths stays until the new numbers are in
        same = (shown is not None and not shown.partial and self._paths_shown_for == (
            view.paths_weight, k, view.paths_order, results.steps))
        if not (plot.partial and same):
            self.paths_view.show_plot(plot)
            self._paths_shown_for = (view.paths_weight, k, view.paths_order, results.steps)
        self.paths_view.show_unrolled(plots.describe("unrolled", results, view, blocking=False), k)

    def describe(self, name: str):
        """The description of plot `name` as the window shows it now (for tests and exports)."""
        if name == "training":
            return self.train_panel.describe()
        return plots.describe(name, self.results, self.view_model.view, blocking=False)

    # --- training (the Train tab) ----------------------------------------------------------
    def training_curves(self):
        """The training curves the Train tab shows (plots.training.TrainingCurves, frozen), or None."""
        return self.train_panel.curves

    def training_settings(self):
        """The Train tab's settings (simulator.train_settings.TrainingSettings), for a preset."""
        return self.train_panel.training_settings()

    def apply_training_settings(self, settings) -> None:
        """Show a preset's training settings in the Train tab (kept while a run exists: the run
        keeps its settings until Reset; the status bar says so)."""
        if settings is None:
            return
        if self.train_panel.state != "idle":
            self.statusBar().showMessage("The preset's training settings apply after Reset in the Train tab", 8000)
            self.train_panel.pending_settings = settings
            return
        self.train_panel.set_settings(settings)

    # --- selection ------------------------------------------------------------------------
    def selected_step(self) -> int:
        return self.view_model.view.selected_step

    def revealed_steps(self) -> int:
        return self.view_model.view.revealed_steps

    def set_selected_step(self, t: int) -> None:
        # Bounded by the newest requested setup: a preset's step may come before its results.
        self.view_model.select(max(0, min(int(t), self._requested_setup.steps)))

    # --- transport ------------------------------------------------------------------------
    def at_end(self) -> bool:
        return self.results is not None and self.revealed_steps() >= self.results.steps

    def step(self) -> None:
        if self.results is None:
            return
        if self.at_end():
            self.play_action.setChecked(False)
            return
        self.view_model.reveal(self.revealed_steps() + 1)

    def reset(self) -> None:
        self.play_action.setChecked(False)
        if self.results is not None:
            self.view_model.reveal(0)

    def run_to_end(self) -> None:
        self.play_action.setChecked(False)
        if self.results is not None:
            self.view_model.reveal(self.results.steps)

    def play(self) -> None:
        self.play_action.setChecked(True)

    def pause(self) -> None:
        self.play_action.setChecked(False)

    def is_playing(self) -> bool:
        return self._play_timer.isActive()

    def play_gradient_pulse(self) -> None:
        if self.results is not None:
            self.unrolled_view.play_gradient_pulse()

    def _play_toggled(self, playing: bool) -> None:
        if playing:
            if self.at_end():  # Play at the end starts over
                self.view_model.reveal(0)
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
        self.view_model.reveal(min(self.revealed_steps() + self._steps_per_tick, self.results.steps))
        if self.at_end():
            self.play_action.setChecked(False)
            self.play_gradient_pulse()

    def _update_step_labels(self) -> None:
        T = self._requested_setup.steps if self.results is None else self.results.steps
        view = self.view_model.view
        if self._step_label_sized_for != T:
            # sized once for the widest text of this T: a label of fixed size changes its text
            # without laying the status bar and the window out again (and animating the docks)
            self._step_label_sized_for = T
            self.step_label.setMinimumSize(0, 0)
            self.step_label.setMaximumSize(16777215, 16777215)
            self.step_label.setText(self._step_text(T, T, T))  # (digits share one width)
            self.step_label.setFixedSize(self.step_label.sizeHint())
        self.step_label.setText(self._step_text(view.revealed_steps, T, view.selected_step))

    @staticmethod
    def _step_text(revealed: int, T: int, selected: int) -> str:
        return f"t = {revealed} / {T}   ·   selected step {selected}"

    # --- view state -----------------------------------------------------------------------
    def visible_panels(self) -> list[str]:
        return list(self.view_model.view.visible_panels)

    def view_state(self) -> ViewState:
        return self.view_model.view

    def apply_view_state(self, view: ViewState) -> None:
        """Show `view` (e.g. a preset's): applied now, and again with the pending results."""
        if self._pending_view is not None:
            self._pending_view = view
        self.view_model.set_view(view)
        self._show_panels()

    def _panel_toggled(self, name: str, shown: bool) -> None:
        if name in PANEL_NAMES:
            panels = [p for p in PANEL_NAMES if (p == name and shown) or (p != name and p in self.visible_panels())]
            self.view_model.set_panels(panels)
        else:
            self._panels[name].setVisible(shown)
        self._show_panels()

    def _show_panels(self) -> None:
        visible = set(self.visible_panels())
        for name in PANEL_NAMES:
            self._panels[name].setVisible(name in visible)
            with QSignalBlocker(self._panel_actions[name]):
                self._panel_actions[name].setChecked(name in visible)
        # Hide a splitter side whose panels are all hidden, so the others take the room.
        self.plots_area.setVisible(bool(visible & {"factors", "long-range", "terms", "bptt"}))
        self.top_splitter.setVisible("unrolled" in visible or self._panel_actions["formula"].isChecked())
        self.bottom_splitter.setVisible(self.plots_area.isVisibleTo(self) or "heatmaps" in visible)

    def _knobs_visibility_changed(self, visible: bool) -> None:
        if not self.isVisible():
            return
        with QSignalBlocker(self._panel_actions["knobs"]):
            self._panel_actions["knobs"].setChecked(visible)

    # --- messages and lifetime ------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        QMessageBox.warning(self, title, message)

    def set_lesson(self, name: str, description: str) -> None:
        """The open preset's description, where it is read whole (the formula panel's head)."""
        self.formula_panel.set_lesson(name, description)

    def closeEvent(self, event) -> None:
        self._play_timer.stop()
        self.train_panel.shutdown()  # stops and joins the training thread
        # cancel the compute and join the worker (a compute stops within a chunk; the first
        # compile of the kernels cannot be interrupted and is waited for)
        self.worker.stop(timeout=120.0)
        super().closeEvent(event)
