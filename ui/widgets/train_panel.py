"""The Train tab: train the RNN and the LSTM side by side on a long-lag task, watch the curves,
and look inside any snapshot of the weights with the analysis views (issue 14).

Threads. One background Python thread (`TrainingRunner`) runs the training in slices of
SLICE_SECONDS (`Trainer.run(seconds=..., should_stop=...)`) and reports after each slice through a
queued Qt signal; the UI thread never trains, never waits for a step and never builds a Trainer
(the first one loads or compiles numba's kernels: seconds). Pause asks the thread to stop after
its current step; Reset and closing the window stop it and JOIN it, so no thread is ever left
inside a numba kernel when the app exits. The UI thread reads the trainer's history lock-free
(simulator/training.py allows one reader) and redraws at most REDRAWS_PER_SECOND times a second;
plots.training.CurveRecorder does only the new steps' work, so an update costs the same at step
100 as at step 100 000.

Starting points are read when the networks are built (the first Start after a Reset): "the knob
setup" is the window's setup at that moment (its H; see simulator/trained.networks_for_task).
The settings can be changed only after a Reset (a run keeps the settings it started with).

Look inside: the scrubber runs over the trainer's snapshots (weights every N steps, thinned to a
bound); the chosen snapshot goes to the analysis views as a Setup whose explicit weights are the
snapshot's (knobs at 1) and whose input is a held-out test sequence of the task
(simulator/trained.setup_for_networks), applied with window.apply_setup.
"""

from __future__ import annotations

import gc
import threading
import traceback

from PySide6.QtCore import QObject, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

import plots
from plots import style
from plots.training import TASK_TITLES, CurveRecorder, TrainingCurves
from simulator import SetupError
from simulator.setup import TASK_SEQUENCES
from simulator.tasks import MIN_T
from simulator.train_settings import LSTM_STARTS, MAX_BATCH, MAX_TRAIN_STEPS, RNN_STARTS, START_TITLES, TrainingSettings

from ..render.pyqtgraph_renderer import PlotView

SLICE_SECONDS = 0.1  # the thread trains this long between two reports
REDRAWS_PER_SECOND = 5  # the curves and the progress line are redrawn at most this often
SNAPSHOT_APPLY_DELAY_MS = 150  # scrubbing: the analysis views follow once the scrubber rests this long

IDLE, PREPARING, RUNNING, PAUSING, PAUSED, FINISHED = "idle", "preparing", "running", "pausing", "paused", "finished"


class TrainingRunner(QObject):
    """Runs one Trainer on one background thread, slice by slice. Signals are emitted from that
    thread; Qt queues them to the UI thread, where this object lives."""

    built = Signal(object)  # the Trainer, once it exists (built on the thread)
    progressed = Signal()  # a slice was trained
    stopped = Signal(bool)  # the thread ended: True if the step budget was spent
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, make_trainer) -> None:
        """Train on a new thread: make_trainer() (called there) gives the Trainer to run."""
        if self.is_running():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(make_trainer,), name="rnn-gradient-lab training",
                                        daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to stop after its current step (does not wait)."""
        self._stop.set()

    def stop_and_join(self, timeout: float | None = None) -> bool:
        """Stop the thread and wait for it to end (one training step at most). True if it ended."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
        self._thread = None
        return True

    def _emit(self, signal, *args) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the window is gone
            pass

    def _run(self, make_trainer) -> None:
        try:
            trainer = make_trainer()
            self._emit(self.built, trainer)
            while not self._stop.is_set() and not trainer.finished:
                trainer.run(seconds=SLICE_SECONDS, should_stop=self._stop.is_set)
                self._emit(self.progressed)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            traceback.print_exc()
            self._emit(self.failed, f"{type(exc).__name__}: {exc}")
            self._emit(self.stopped, False)
            return
        self._emit(self.stopped, trainer.finished)


def _combo(items: dict) -> QComboBox:
    combo = QComboBox()
    for key, title in items.items():
        combo.addItem(title, key)
    return combo


class TrainPanel(QWidget):
    """Settings, Start / Pause / Resume / Reset, progress, live curves and the snapshot scrubber.

    `window` is the MainWindow (requested_setup(), apply_setup(), tabs, statusBar()); None in
    tests of the panel alone (then the knob start uses `knob_setup`)."""

    state_changed = Signal(str)
    curves_drawn = Signal()  # after each redraw of the curves (tests wait for it)
    snapshot_applied = Signal(object)  # the Setup sent to the analysis views

    def __init__(self, window=None, settings: TrainingSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.window = window
        self.knob_setup = None  # used when there is no window
        self.trainer = None
        self.recorder = CurveRecorder()
        self.curves: TrainingCurves | None = None
        self.state = IDLE
        self._run_settings: TrainingSettings | None = None
        self._dirty = False
        self._shown_snapshot_step: int | None = None  # the snapshot the analysis views show
        self._scrub_step: int | None = None  # the snapshot chosen on the scrubber (None: the newest)
        self._applied_snapshot = None  # (setup, step): the last snapshot sent to the analysis views
        self.pending_settings: TrainingSettings | None = None  # a preset's, shown at the next Reset
        self.runner = TrainingRunner(self)
        self.runner.built.connect(self._on_built)
        self.runner.progressed.connect(self._on_progress)
        self.runner.stopped.connect(self._on_stopped)
        self.runner.failed.connect(self._on_failed)

        self._build(settings or TrainingSettings())
        self.settings_in_use = settings is not None  # a preset gave them, the user edited them or trained
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(1000 // REDRAWS_PER_SECOND)
        self._redraw_timer.timeout.connect(self._redraw_if_dirty)
        self._apply_timer = QTimer(self)
        self._apply_timer.setSingleShot(True)
        self._apply_timer.setInterval(SNAPSHOT_APPLY_DELAY_MS)
        self._apply_timer.timeout.connect(self.apply_snapshot)
        self._set_state(IDLE)
        self.redraw()

    # --- construction ---------------------------------------------------------------------
    def _build(self, settings: TrainingSettings) -> None:
        form_box = QGroupBox("Training")
        form = QFormLayout(form_box)
        form.setVerticalSpacing(3)
        self.task_combo = _combo(TASK_TITLES)
        self.task_combo.setToolTip("The long-lag task both networks learn, on the same batches")
        self.T_spin = QSpinBox()
        self.T_spin.setRange(1, 5000 - 20)
        self.T_spin.setToolTip("T: the adding problem's length, copy memory's gap (sequences of T + 20 steps), "
                               "temporal order's longest length (lengths T − 10 … T)")
        self.hidden_spin = QSpinBox()
        self.hidden_spin.setRange(1, 512)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, MAX_BATCH)
        self.optimizer_combo = _combo({"adam": "Adam", "sgd": "SGD"})
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(1e-5, 100.0)
        self.lr_spin.setSingleStep(1e-3)
        self.clip_combo = _combo({"off": "off", "norm": "by norm", "value": "by value"})
        self.clip_spin = QDoubleSpinBox()
        self.clip_spin.setDecimals(3)
        self.clip_spin.setRange(0.001, 1e6)
        self.clip_spin.setToolTip("Clipping threshold: the gradient's norm (by norm) or each entry (by value)")
        clip_row = QHBoxLayout()
        clip_row.addWidget(self.clip_combo)
        clip_row.addWidget(self.clip_spin)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, MAX_TRAIN_STEPS)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.rnn_start_combo = _combo({key: START_TITLES[key] for key in RNN_STARTS})
        self.lstm_start_combo = _combo({key: START_TITLES[key] for key in LSTM_STARTS})
        for combo in (self.rnn_start_combo, self.lstm_start_combo):
            combo.setToolTip("Where the network starts: the knob setup's network (its H), or a standard "
                             "initialisation")
        form.addRow("task", self.task_combo)
        form.addRow("T", self.T_spin)
        form.addRow("H (hidden units)", self.hidden_spin)
        form.addRow("batch size", self.batch_spin)
        form.addRow("optimiser", self.optimizer_combo)
        form.addRow("learning rate", self.lr_spin)
        form.addRow("clipping", clip_row)
        form.addRow("steps", self.steps_spin)
        form.addRow("seed", self.seed_spin)
        form.addRow("RNN starts from", self.rnn_start_combo)
        form.addRow("LSTM starts from", self.lstm_start_combo)
        self.settings_widgets = (self.task_combo, self.T_spin, self.hidden_spin, self.batch_spin,
                                 self.optimizer_combo, self.lr_spin, self.clip_combo, self.clip_spin,
                                 self.steps_spin, self.seed_spin, self.rnn_start_combo, self.lstm_start_combo)
        for widget in self.settings_widgets:  # the user's edits: the settings belong in a saved preset
            signal = widget.currentIndexChanged if isinstance(widget, QComboBox) else widget.valueChanged
            signal.connect(self._settings_edited)
        self.task_combo.currentIndexChanged.connect(self._task_changed)
        self.clip_combo.currentIndexChanged.connect(self._clip_changed)
        for combo in (self.rnn_start_combo, self.lstm_start_combo):
            combo.currentIndexChanged.connect(self.sync_hidden_size)

        self.start_button = QPushButton("Start ▶")
        self.start_button.setToolTip("Start, pause or resume the training (both networks, in the background)")
        self.start_button.clicked.connect(self.toggle)
        self.reset_button = QPushButton("Reset ⟲")
        self.reset_button.setToolTip("Stop and forget this run (the same settings and seed give the same run again)")
        self.reset_button.clicked.connect(self.reset)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.reset_button)
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumHeight(8)
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.RichText)

        look_box = QGroupBox("Look inside")
        look = QFormLayout(look_box)
        self.snapshot_slider = QSlider(Qt.Orientation.Horizontal)
        self.snapshot_slider.setRange(0, 0)
        self.snapshot_slider.setToolTip("The weights after a training step: drag to choose a snapshot")
        self.snapshot_slider.valueChanged.connect(self._scrubbed)
        self.snapshot_label = QLabel("no snapshot yet")
        self.sequence_spin = QSpinBox()
        self.sequence_spin.setRange(0, TASK_SEQUENCES - 1)
        self.sequence_spin.setToolTip("Which held-out test sequence of the task the analysis views show")
        self.sequence_spin.valueChanged.connect(lambda _value: self._apply_timer.start())
        self.look_button = QPushButton("Show in the Gradients tab ▸")
        self.look_button.setToolTip("Send this snapshot's networks to the analysis views and switch to them")
        self.look_button.clicked.connect(self.look_inside)
        look.addRow("snapshot", self.snapshot_slider)
        look.addRow("", self.snapshot_label)
        look.addRow("test sequence", self.sequence_spin)
        look.addRow(self.look_button)
        note = QLabel("The analysis views then show the networks of this snapshot on a test sequence "
                      "(their knobs at 1: the weights are explicit).")
        note.setWordWrap(True)
        note.setStyleSheet(f"color: {style.colour('muted')};")
        look.addRow(note)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(4, 4, 4, 4)
        side_layout.addWidget(form_box)
        side_layout.addLayout(buttons)
        side_layout.addWidget(self.progress_bar)
        side_layout.addWidget(self.progress_label)
        side_layout.addWidget(self.result_label)
        side_layout.addWidget(look_box)
        side_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(side.minimumSizeHint().width() + 24)
        scroll.setMaximumWidth(side.minimumSizeHint().width() + 80)

        self.plot_view = PlotView("training")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(scroll)
        layout.addWidget(self.plot_view, 1)
        self.set_settings(settings)

    # --- settings -------------------------------------------------------------------------
    def _settings_edited(self, *_args) -> None:
        self.settings_in_use = True

    def set_settings(self, settings: TrainingSettings) -> None:
        """Show `settings` in the widgets (a preset's); refused while a run exists (Reset first)."""
        self.settings_in_use = True
        blockers = [QSignalBlocker(w) for w in self.settings_widgets]
        try:
            self.task_combo.setCurrentIndex(self.task_combo.findData(settings.task))
            self.T_spin.setMinimum(MIN_T[settings.task])
            self.T_spin.setValue(settings.T)
            self.hidden_spin.setValue(settings.hidden_size)
            self.batch_spin.setValue(settings.batch_size)
            self.optimizer_combo.setCurrentIndex(self.optimizer_combo.findData(settings.optimizer))
            self.lr_spin.setValue(settings.learning_rate)
            self.clip_combo.setCurrentIndex(self.clip_combo.findData("off" if settings.clip is None else settings.clip_kind))
            self.clip_spin.setValue(settings.clip if settings.clip is not None else 1.0)
            self.steps_spin.setValue(settings.steps)
            self.seed_spin.setValue(settings.seed)
            self.rnn_start_combo.setCurrentIndex(self.rnn_start_combo.findData(settings.rnn_start))
            self.lstm_start_combo.setCurrentIndex(self.lstm_start_combo.findData(settings.lstm_start))
        finally:
            del blockers
        self._clip_changed()
        self.sync_hidden_size()
        if self.trainer is None:  # the empty panels of this task
            self.plot_view.show_plot(self.describe())

    def settings(self) -> TrainingSettings:
        """The settings shown (validated: SetupError names a bad field)."""
        clip = self.clip_combo.currentData()
        return TrainingSettings(
            task=self.task_combo.currentData(), T=self.T_spin.value(), hidden_size=self.hidden_spin.value(),
            batch_size=self.batch_spin.value(), optimizer=self.optimizer_combo.currentData(),
            learning_rate=float(self.lr_spin.value()), clip=None if clip == "off" else float(self.clip_spin.value()),
            clip_kind="norm" if clip == "off" else clip, steps=self.steps_spin.value(), seed=self.seed_spin.value(),
            rnn_start=self.rnn_start_combo.currentData(), lstm_start=self.lstm_start_combo.currentData())

    def _current_knob_setup(self):
        return self.window.requested_setup() if self.window is not None else self.knob_setup

    def sync_hidden_size(self, *_args) -> None:
        """A network that starts from the knob setup has its H: the H box shows it, fixed."""
        from_knobs = "knobs" in (self.rnn_start_combo.currentData(), self.lstm_start_combo.currentData())
        setup = self._current_knob_setup()
        if from_knobs and setup is not None and self.state == IDLE:
            with QSignalBlocker(self.hidden_spin):
                self.hidden_spin.setValue(setup.hidden_size)
        self.hidden_spin.setEnabled(self.state == IDLE and not from_knobs)
        self.hidden_spin.setToolTip("H of both networks" + (" (the knob setup's, as a network starts from it)"
                                                            if from_knobs else ""))

    def _task_changed(self) -> None:
        self.T_spin.setMinimum(MIN_T[self.task_combo.currentData()])
        if self.trainer is None:
            self.redraw()  # the empty panels of this task (laid out now, not when training starts)

    def _clip_changed(self) -> None:
        self.clip_spin.setEnabled(self.state == IDLE and self.clip_combo.currentData() != "off")

    # --- start, pause, resume, reset -------------------------------------------------------------
    def toggle(self) -> None:
        if self.state in (IDLE, PAUSED):
            self.start()
        elif self.state in (RUNNING, PREPARING):
            self.pause()

    def start(self) -> bool:
        """Start (a new run from the settings) or resume (the paused run). False if refused."""
        if self.runner.is_running() or self.state in (FINISHED, PAUSING):
            return False
        if self.trainer is None:
            try:
                settings = self.settings()
                setup = self._current_knob_setup()
                if settings.starts_from_knobs() and setup is None:
                    raise ValueError("no knob setup to start from")
                task = settings.make_task()
                inits = settings.inits(setup, task)  # the knob setup now (cheap: no kernels)
            except (SetupError, ValueError) as exc:
                self._message(f"Cannot train: {exc}")
                return False
            self._run_settings = settings
            self.settings_in_use = True
            config = settings.config()

            def make_trainer():
                from simulator.training import Trainer

                return Trainer(task, config, *inits)

            self._set_state(PREPARING)
            gc.freeze()  # what lives now stays: a collection while the kernels load walks only new objects
            self.runner.start(make_trainer)
        else:
            trainer = self.trainer
            self._set_state(RUNNING)
            self.runner.start(lambda: trainer)
        self._redraw_timer.start()
        return True

    def pause(self) -> None:
        if self.state in (RUNNING, PREPARING):
            self._set_state(PAUSING)
            self.runner.request_stop()

    def reset(self) -> None:
        """Stop and join the thread, forget the run (the settings stay)."""
        self._redraw_timer.stop()
        self.runner.stop_and_join()
        self.trainer = None
        self._run_settings = None
        self.recorder = CurveRecorder()
        self.curves = None
        self._shown_snapshot_step = None
        self._scrub_step = None
        with QSignalBlocker(self.snapshot_slider):
            self.snapshot_slider.setRange(0, 0)
        self.snapshot_label.setText("no snapshot yet")
        self._set_state(IDLE)
        if self.pending_settings is not None:
            self.set_settings(self.pending_settings)
            self.pending_settings = None
        self.redraw()

    def shutdown(self) -> None:
        """The window closes: stop and join the training thread (never left inside numba)."""
        self._redraw_timer.stop()
        self._apply_timer.stop()
        self.runner.stop_and_join()

    def is_training(self) -> bool:
        return self.runner.is_running()

    # --- from the thread (queued) ---------------------------------------------------------------
    def _on_built(self, trainer) -> None:
        # Building it loaded numba's kernels: many long-lived objects. Out of the garbage collector's
        # reach (no walk, unlike gc.collect), so a full collection never stalls this thread on them.
        gc.freeze()
        self.trainer = trainer
        if self.state == PREPARING:
            self._set_state(RUNNING)
        self._dirty = True

    def _on_progress(self) -> None:
        self._dirty = True

    def _on_stopped(self, finished: bool) -> None:
        self._redraw_timer.stop()
        if self.trainer is None:  # failed before the trainer existed
            self._set_state(IDLE)
        elif finished:
            self._set_state(FINISHED)
        else:
            self._set_state(PAUSED)
        self.redraw()

    def _on_failed(self, message: str) -> None:
        self._message(f"Training failed: {message}")

    # --- drawing --------------------------------------------------------------------------------
    def _redraw_if_dirty(self) -> None:
        if self._dirty:
            self.redraw()

    def redraw(self) -> None:
        """Curves, progress and the scrubber's range from the trainer now (bounded work)."""
        self._dirty = False
        trainer = self.trainer
        self.curves = self.recorder.update(trainer) if trainer is not None else None
        self.plot_view.show_plot(self.describe())
        self._show_progress()
        self._update_scrubber()
        self.curves_drawn.emit()

    def describe(self):
        """The training plot as drawn now."""
        results = self.window.results if self.window is not None else None
        task = self._run_settings.task if self._run_settings is not None else self.task_combo.currentData()
        return plots.training.describe(results, None, training=self.curves, snapshot_step=self._shown_snapshot_step,
                                       empty_with_accuracy=task != "adding")

    def _show_progress(self) -> None:
        trainer = self.trainer
        if trainer is None:
            self.progress_bar.setValue(0)
            self.progress_label.setText("Preparing the kernels and the test set…" if self.state == PREPARING
                                        else "Choose the settings and press Start.")
            self.result_label.setText("")
            return
        progress = trainer.progress()
        self.progress_bar.setMaximum(max(progress["steps"], 1))
        self.progress_bar.setValue(progress["step"])
        speed = progress["steps_per_second"]
        left = progress["seconds_left"]
        parts = [f"step {progress['step']:,} / {progress['steps']:,}", f"{progress['sequences_seen']:,} sequences",
                 f"{speed:,.0f} steps/s" if speed > 0 else "— steps/s"]
        if self.state == RUNNING and left != float("inf"):
            parts.append(f"{_duration(left)} left")
        self.progress_label.setText(" · ".join(parts).replace(",", " "))
        curves = self.curves
        if curves is not None and len(curves.test_step):
            rows = []
            for network in ("rnn", "lstm"):
                loss = curves.test_loss[network][-1]
                colour = style.colour(network)
                text = f"<span style='color:{colour}; font-weight:600'>{network.upper()}</span> test {curves.loss_name} " \
                       f"{style.number(loss, 3)}"
                if curves.has_accuracy:
                    text += f", accuracy {style.number(curves.test_accuracy[network][-1], 3)}"
                step = curves.first_success.get(network)
                text += f" · success at step {step}" if step is not None else ""
                rows.append(text)
            self.result_label.setText("<br>".join(rows))

    # --- look inside --------------------------------------------------------------------------------
    def _update_scrubber(self) -> None:
        trainer = self.trainer
        snapshots = trainer.snapshot_list() if trainer is not None else []
        if not snapshots:
            return
        wanted = self._scrub_step
        with QSignalBlocker(self.snapshot_slider):
            self.snapshot_slider.setRange(0, len(snapshots) - 1)
            if wanted is None:
                index = len(snapshots) - 1  # the newest, until a snapshot is chosen
            else:  # the list thins out as it grows: keep the chosen step (or the nearest before it)
                index = max((i for i, s in enumerate(snapshots) if s.step <= wanted), default=0)
            self.snapshot_slider.setValue(index)
        self._label_snapshot(snapshots[self.snapshot_slider.value()], len(snapshots))

    def _label_snapshot(self, snapshot, count: int) -> None:
        text = f"weights after step {snapshot.step:,} ({count} snapshots)".replace(",", " ")
        if self._shown_snapshot_step is not None:
            text += f"; the Gradients tab shows step {self._shown_snapshot_step:,}".replace(",", " ")
        self.snapshot_label.setText(text)

    def selected_snapshot(self):
        trainer = self.trainer
        snapshots = trainer.snapshot_list() if trainer is not None else []
        if not snapshots:
            return None
        return snapshots[min(self.snapshot_slider.value(), len(snapshots) - 1)]

    def _scrubbed(self, index: int) -> None:
        snapshots = self.trainer.snapshot_list() if self.trainer is not None else []
        if not snapshots:
            return
        snapshot = snapshots[min(index, len(snapshots) - 1)]
        # at the right end the scrubber follows the newest snapshot; elsewhere it stays on its step
        self._scrub_step = None if index >= len(snapshots) - 1 else snapshot.step
        self._label_snapshot(snapshot, len(snapshots))
        self._apply_timer.start()

    def apply_snapshot(self):
        """Send the chosen snapshot to the analysis views (window.apply_setup); returns its Setup."""
        snapshot = self.selected_snapshot()
        if snapshot is None or self._run_settings is None:
            return None
        from simulator.trained import setup_for_networks

        setup = setup_for_networks(snapshot.rnn, snapshot.lstm, self.trainer.task, self.sequence_spin.value())
        self._shown_snapshot_step = snapshot.step
        self._applied_snapshot = (setup, snapshot.step)
        if self.window is not None:
            self.window.apply_setup(setup)
        self.plot_view.show_plot(self.describe())
        self._label_snapshot(snapshot, len(self.trainer.snapshot_list()))
        self.snapshot_applied.emit(setup)
        return setup

    def look_inside(self) -> None:
        if self.apply_snapshot() is not None and self.window is not None:
            self.window.tabs.setCurrentIndex(0)

    def training_settings(self) -> TrainingSettings | None:
        """The settings to store in a preset: the run's (or the panel's), with trained_steps when
        the window shows a snapshot of this run; None while the Train tab was never used (no preset
        gave settings, no edit, no run)."""
        if not self.settings_in_use:
            return None
        try:
            settings = self._run_settings or self.settings()
        except SetupError:
            return None
        setup = self._current_knob_setup()
        if self._applied_snapshot is not None and setup is not None and setup == self._applied_snapshot[0]:
            return settings.replace(trained_steps=self._applied_snapshot[1])
        if settings.starts_from_knobs() and setup is not None and setup.hidden_size != settings.hidden_size:
            settings = settings.replace(hidden_size=setup.hidden_size)
        return settings

    # --- state -------------------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        self.state = state
        text = {IDLE: "Start ▶", PREPARING: "Pause ❚❚", RUNNING: "Pause ❚❚", PAUSING: "Pausing…",
                PAUSED: "Resume ▶", FINISHED: "Finished"}[state]
        self.start_button.setText(text)
        self.start_button.setEnabled(state not in (PAUSING, FINISHED))
        idle = state == IDLE
        for widget in self.settings_widgets:
            widget.setEnabled(idle)
        self._clip_changed()
        self.sync_hidden_size()
        self.look_button.setEnabled(self.trainer is not None)
        self.state_changed.emit(state)

    def _message(self, text: str) -> None:
        self.progress_label.setText(text)
        if self.window is not None:
            self.window.statusBar().showMessage(text, 8000)


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


__all__ = ["REDRAWS_PER_SECOND", "SLICE_SECONDS", "TrainPanel", "TrainingRunner"]
