"""Start the desktop app: QApplication, main window, extensions (presets, export)."""

from __future__ import annotations

import os
import sys

# Before numpy loads: one BLAS thread. The matrices are small (<= 512 x 512); on a 2-core laptop
# OpenBLAS's threads only compete with the UI thread and the compute worker (UI stalls measured).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Qt's raster engine splits every fill and image copy taller than ~96 rows across its GUI thread
# pool and waits for it: a step's cursor strips and cached-pixmap copies are small, and handing
# them to other threads (on 2 cores shared with the compute worker) cost more than drawing them
# here (py-spy: a third of a step's UI time was spent waiting on that pool).
os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")

from simulator import Setup  # noqa: E402


def initial_preset(preset_name: str | None):
    """The preset to start on (the default without --preset). Raises ValueError (PresetError)."""
    from simulator import presets

    return presets.resolve_preset(preset_name) if preset_name else presets.default_preset()


def initial_setup_and_view(preset_name: str | None):
    """The setup and view state (plots.view.ViewState) to start on. Raises ValueError
    (PresetError) on a bad --preset."""
    from plots.view import from_preset

    preset = initial_preset(preset_name)
    return preset.setup, from_preset(preset)


def attach_export(window) -> None:
    """The Export menu and right-click export on every plot."""
    from ui.controllers.export import ExportController  # imports matplotlib: about a second

    window.export_controller = ExportController(window)


def attach_export_in_background(window) -> None:
    """The export controller pulls in matplotlib (about a second, holding the GIL): import it on
    a background thread once the window has drawn its first results (so neither the first paint
    nor the first compute waits for it), then attach the controller on the UI thread."""
    import threading

    from PySide6.QtCore import QObject, Signal, Slot

    class ExportLoader(QObject):
        imported = Signal()

        @Slot()
        def attach(self) -> None:  # runs on the UI thread (queued: this object lives there)
            attach_export(window)

    loader = ExportLoader(window)
    loader.imported.connect(loader.attach)

    def load() -> None:
        import ui.controllers.export  # noqa: F401

        loader.imported.emit()

    def start() -> None:
        threading.Thread(target=load, name="load-export", daemon=True).start()

    if window.results is not None:
        start()
        return

    def first_results() -> None:
        window.results_changed.disconnect(first_results)
        start()

    window.results_changed.connect(first_results)


def run_app(args) -> int:
    try:
        preset = initial_preset(getattr(args, "preset", None))
        from plots.view import from_preset

        setup, view = preset.setup, from_preset(preset)
    except Exception as exc:  # PresetError, SetupError, OSError: one line, non-zero exit
        message = " ".join(str(exc).splitlines())
        print(f"rnn-gradient-lab: error: {message}", file=sys.stderr)
        return 2

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("RNN Gradient Lab")
    app.setOrganizationName("rnn-gradient-lab")

    from .main_window import MainWindow

    window = MainWindow(setup, view=view, warm_up=True)
    window.apply_training_settings(preset.training)  # the lesson's training, ready in the Train tab
    app.aboutToQuit.connect(window.train_panel.shutdown)  # however the app ends: no training thread left
    from ui.controllers.presets import PresetController

    window.preset_controller = PresetController(window, origin=getattr(args, "preset", None))
    window.show()
    attach_export_in_background(window)

    # First results drawn: reveal the sequence as an animation (a live demo), unless a test;
    # when it has played, select the step the preset asks for (the selection follows the play).
    def first_results() -> None:
        window.results_changed.disconnect(first_results)
        if getattr(args, "start_training", False):  # (hidden: demos and tests) train right away
            window.tabs.setCurrentWidget(window.train_panel)
            window.train_panel.start()
        if getattr(args, "quit_after", None) is None:
            window.play_action.toggled.connect(intro_finished)
            window.play()

    def intro_finished(playing: bool) -> None:
        if not playing:
            window.play_action.toggled.disconnect(intro_finished)
            if window.at_end():
                window.set_selected_step(view.selected_step)

    window.results_changed.connect(first_results)

    quit_after = getattr(args, "quit_after", None)
    if quit_after is not None:
        QTimer.singleShot(int(quit_after * 1000), window.close)
    code = app.exec()
    window.train_panel.shutdown()  # (closing the window did it already; quitting otherwise might not)
    if getattr(args, "start_training", False):  # (hidden: demos and tests) where the run was stopped
        trainer = window.train_panel.trainer
        if trainer is not None:
            print(f"training stopped at step {trainer.step_count} of {trainer.config.steps}", file=sys.stderr)
    return code
