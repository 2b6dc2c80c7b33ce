"""Export for slides from the window: the Export menu, right-click on any plot, a small dialog.

Everything is re-rendered from the plot descriptions by ui/export/files.py (matplotlib): pyqtgraph's own
exporters are not used (its SVGExporter raises ValueError under PySide6 6.12 and its
ImageExporter ignores the device pixel ratio), and pyqtgraph's right-click "Export..." entry is
replaced by ours.

The work is done by plain functions given the options (`export_to_file`, and
`ui.export.files.figure_bytes` for the clipboard); the dialog only collects `ExportOptions`. File exports run in one worker thread so the window
never freezes (a GIF renders one figure per frame); the result arrives as `export_finished(path)`
or `export_failed(message)`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction, QGuiApplication, QImage
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
    QSpinBox, QWidget,
)

from plots import ANIMATED_PLOTS, PLOT_NAMES, PLOT_TITLES, style
from plots.view import ViewState
from ui.export import files as figures

FORMAT_TITLES = {
    "png": "PNG image", "svg": "SVG vector", "pdf": "PDF vector", "csv": "CSV data (the numbers plotted)",
    "gif": "Animated GIF (stepping through t)",
}
SIZE_PRESETS = ((1280, 720), (1920, 1080), (2560, 1440), (3840, 2160))


@dataclass(frozen=True)
class ExportOptions:
    plot: str = "dashboard"
    fmt: str = "png"
    width: int = figures.DEFAULT_SIZE[0]
    height: int = figures.DEFAULT_SIZE[1]
    transparent: bool = False  # PNG only
    theme: str = "light"  # slide style: "light", or "dark" (light text on a dark background)
    fps: int = 8  # GIF only
    frames: int | None = None  # GIF only; None: one per step, at most 40

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    def validated(self) -> "ExportOptions":
        """The same options if valid, else figures.ExportError with a one-line message."""
        figures.check_plot(self.plot)
        if self.fmt not in figures.EXPORT_FORMATS:
            raise figures.ExportError(f"unknown format {self.fmt!r}: use one of {', '.join(figures.EXPORT_FORMATS)}")
        figures.check_size(self.size)
        figures.check_theme(self.theme)
        if self.fmt == "gif":
            figures.check_fps(self.fps)
            if self.plot not in ANIMATED_PLOTS:
                raise figures.ExportError(f"the {self.plot} plot is not animated: export it as PNG, SVG, PDF or CSV")
        return self


def path_with_extension(path: str | Path, fmt: str) -> Path:
    """The chosen file name, with the format's extension added when it has another one."""
    path = Path(path)
    return path if path.suffix.lower() == f".{fmt}" else path.with_name(path.name + f".{fmt}")


def export_to_file(results, options: ExportOptions, path, view: ViewState | None = None, progress=None,
                   training=None) -> Path:
    """Write one export of the window's view (the worker runs this). Raises figures.ExportError.
    `training`: the training curves the "training" plot draws (plots.training.TrainingCurves)."""
    options.validated()
    path = path_with_extension(path, options.fmt)
    return figures.export(results, options.plot, path, view=view, size=options.size,
                          transparent=options.transparent and options.fmt == "png", theme=options.theme,
                          fps=options.fps, frames=options.frames, progress=progress, training=training)


# --- the dialog: collects options, does no work --------------------------------------------------------
class ExportDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, options: ExportOptions = ExportOptions(), steps: int = 50):
        super().__init__(parent)
        self.setWindowTitle("Export for slides")
        self._steps = steps
        form = QFormLayout(self)

        self.plot_combo = QComboBox()
        for name in PLOT_NAMES:
            self.plot_combo.addItem(PLOT_TITLES.get(name, name), name)
        form.addRow("Plot", self.plot_combo)

        self.format_combo = QComboBox()
        for fmt in figures.EXPORT_FORMATS:
            self.format_combo.addItem(FORMAT_TITLES[fmt], fmt)
        form.addRow("Format", self.format_combo)

        self.size_combo = QComboBox()
        for w, h in SIZE_PRESETS:
            self.size_combo.addItem(f"{w} × {h}", f"{w}x{h}")  # str data: findData compares it
        self.size_combo.addItem("Custom", "")
        self.width_spin = QSpinBox(minimum=figures.MIN_SIDE, maximum=figures.MAX_SIZE[0], suffix=" px")
        self.height_spin = QSpinBox(minimum=figures.MIN_SIDE, maximum=figures.MAX_SIZE[1], suffix=" px")
        size_row = QHBoxLayout()
        size_row.addWidget(self.size_combo)
        size_row.addWidget(self.width_spin)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_spin)
        form.addRow("Size", size_row)
        self.size_note = QLabel(f"up to {figures.MAX_SIZE[0]} × {figures.MAX_SIZE[1]}; "
                                "for SVG/PDF the size sets the shape and the type size")
        self.size_note.setWordWrap(True)
        form.addRow("", self.size_note)

        self.transparent_check = QCheckBox("Transparent background")
        form.addRow("", self.transparent_check)
        self.theme_combo = QComboBox()
        self.theme_combo.addItem("Light (dark text on white)", "light")
        self.theme_combo.addItem("Dark (light text on a dark background)", "dark")
        self.theme_combo.setToolTip("For slide templates with a dark background, choose Dark")
        form.addRow("Slide style", self.theme_combo)
        self.fps_spin = QSpinBox(minimum=1, maximum=figures.MAX_GIF_FPS, suffix=" frames/s")
        form.addRow("Frame rate", self.fps_spin)
        self.frames_spin = QSpinBox(minimum=2, maximum=max(2, min(steps + 1, figures.MAX_GIF_FRAMES)))
        form.addRow("Frames", self.frames_spin)

        self.error_label = QLabel()
        self.error_label.setStyleSheet(f"color: {style.colour('error')}")
        form.addRow(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export…")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

        self.size_combo.currentIndexChanged.connect(self._size_preset_chosen)
        self.width_spin.valueChanged.connect(self._size_edited)
        self.height_spin.valueChanged.connect(self._size_edited)
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self.set_options(options)

    def set_options(self, options: ExportOptions) -> None:
        self.plot_combo.setCurrentIndex(max(0, self.plot_combo.findData(options.plot)))
        self.format_combo.setCurrentIndex(max(0, self.format_combo.findData(options.fmt)))
        self.width_spin.setValue(options.width)
        self.height_spin.setValue(options.height)
        self.transparent_check.setChecked(options.transparent)
        self.theme_combo.setCurrentIndex(max(0, self.theme_combo.findData(options.theme)))
        self.fps_spin.setValue(int(options.fps))
        self.frames_spin.setValue(options.frames if options.frames else min(self._steps + 1, 40))
        self._size_edited()
        self._format_changed()

    def options(self) -> ExportOptions:
        fmt = self.format_combo.currentData()
        return ExportOptions(
            plot=self.plot_combo.currentData(), fmt=fmt, width=self.width_spin.value(),
            height=self.height_spin.value(), transparent=self.transparent_check.isChecked() and fmt == "png",
            theme=self.theme_combo.currentData(),
            fps=self.fps_spin.value(), frames=self.frames_spin.value() if fmt == "gif" else None,
        )

    def accept(self) -> None:
        try:
            self.options().validated()
        except figures.ExportError as exc:  # e.g. an aspect ratio beyond 3:1
            self.error_label.setText(str(exc))
            return
        super().accept()

    def _size_preset_chosen(self) -> None:
        size = self.size_combo.currentData()
        if size:
            width, height = figures.parse_size(size)
            self.width_spin.setValue(width)
            self.height_spin.setValue(height)

    def _size_edited(self) -> None:
        index = self.size_combo.findData(f"{self.width_spin.value()}x{self.height_spin.value()}")
        blocked = self.size_combo.blockSignals(True)
        self.size_combo.setCurrentIndex(index if index >= 0 else self.size_combo.count() - 1)
        self.size_combo.blockSignals(blocked)
        self.error_label.clear()

    def _format_changed(self) -> None:
        fmt = self.format_combo.currentData()
        self.transparent_check.setEnabled(fmt == "png")
        self.fps_spin.setEnabled(fmt == "gif")
        self.frames_spin.setEnabled(fmt == "gif")
        raster_or_vector = fmt != "csv"
        for widget in (self.size_combo, self.width_spin, self.height_spin, self.theme_combo):
            widget.setEnabled(raster_or_vector)


# --- the controller -----------------------------------------------------------------------------------
class ExportController(QObject):
    """Adds export actions to window.export_menu and to every plot's right-click menu."""

    export_started = Signal(str)  # path
    export_finished = Signal(str)  # path written
    export_failed = Signal(str)  # one-line message
    export_progress = Signal(int, int)  # frames done, frames in all (GIF)
    copied = Signal(QImage)  # the image now on the clipboard
    _png_ready = Signal(bytes, str)  # worker -> GUI thread: rendered PNG, "plot|WxH"

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.options = ExportOptions()
        self.last_folder = Path.home()
        self._thread: threading.Thread | None = None
        self.last_path: Path | None = None
        self.last_error: str | None = None
        self._plot_actions: dict[str, list[QAction]] = {}
        self.export_progress.connect(self._show_progress)
        self.export_finished.connect(self._finished)
        self.export_failed.connect(self._failed)
        self._png_ready.connect(self._set_clipboard)
        self._copy_thread: threading.Thread | None = None
        self._build_menu()
        self.attach_context_menus()

    # --- what is exported ---
    def snapshot(self) -> tuple:
        """(results, view) of the window right now: what an export draws, no more and no less."""
        results = self.window.results
        return results, self.window.view_state().clamped(results.steps)

    def training_curves(self):
        """The training curves the window shows now (frozen), or None (no run, or a window
        without a Train tab)."""
        curves = getattr(self.window, "training_curves", None)
        return curves() if callable(curves) else None

    def when_final(self, work) -> None:
        """Run work() with the window's newest results once they are final: if a compute is
        running, when its results arrive (an export never writes partial numbers)."""
        if not self.window.is_computing() and self.window.results.final:
            work()
            return

        def arrived() -> None:
            if self.window.is_computing() or not self.window.results.final:
                return
            self.window.results_changed.disconnect(arrived)
            work()

        self._status("Waiting for the computation to finish before exporting…")
        self.window.results_changed.connect(arrived)

    # --- menus ---
    def _build_menu(self) -> None:
        menu = self.window.export_menu
        self.export_action = QAction("&Export…", self)
        self.export_action.setShortcut("Ctrl+E")
        self.export_action.triggered.connect(lambda: self.open_export_dialog("dashboard"))
        menu.addAction(self.export_action)
        plots_menu = menu.addMenu("Export &plot")
        for name in PLOT_NAMES:
            action = QAction(PLOT_TITLES.get(name, name) + "…", self)
            action.triggered.connect(lambda _=False, name=name: self.open_export_dialog(name))
            plots_menu.addAction(action)
        menu.addSeparator()
        self.copy_action = QAction("&Copy dashboard as image", self)
        self.copy_action.setShortcut("Ctrl+Shift+C")
        self.copy_action.triggered.connect(lambda: self.copy_image("dashboard"))
        menu.addAction(self.copy_action)

    def actions_for(self, plot: str) -> list[QAction]:
        """Right-click actions for one plot (created once, owned by the controller)."""
        if plot not in self._plot_actions:
            actions = []
            title = PLOT_TITLES.get(plot, plot)
            what = "dashboard" if plot == "dashboard" else f"“{title}”"
            export_this = QAction(f"Export {what} for slides…", self)
            export_this.triggered.connect(lambda _=False: self.open_export_dialog(plot))
            actions.append(export_this)
            copy_this = QAction("Copy as image", self)
            copy_this.triggered.connect(lambda _=False: self.copy_image(plot))
            actions.append(copy_this)
            if plot != "dashboard":
                export_all = QAction("Export whole dashboard…", self)
                export_all.triggered.connect(lambda _=False: self.open_export_dialog("dashboard"))
                actions.append(export_all)
            self._plot_actions[plot] = actions
        return self._plot_actions[plot]

    def attach_context_menus(self) -> None:
        """Right-click on each plot widget offers our export actions.

        pyqtgraph views whose ViewBox menu is on: the scene's context actions (appended to every
        ViewBox menu of that scene) become ours, replacing pyqtgraph's Export... entry. Views
        without a ViewBox menu, and widgets that are not pyqtgraph views: Qt's actions context
        menu. The dashboard (the window's central widget) gets the dashboard actions, offered on
        a right-click anywhere that has no menu of its own."""
        widgets = dict(self.window.plot_widgets)
        for plot, widget in widgets.items():
            if plot == "dashboard" or widget is None:
                continue
            self._attach(widget, plot)
        if widgets.get("dashboard") is not None:
            self._attach_actions_menu(widgets["dashboard"], "dashboard")

    def _attach(self, widget: QWidget, plot: str) -> None:
        """Qt's actions menu on every pyqtgraph view of the plot: this plot's export first, then
        the view's own actions (the unrolled view's Fit / Pulse)."""
        import pyqtgraph as pg

        views = [widget] if isinstance(widget, pg.GraphicsView) else []
        views += [v for v in widget.findChildren(pg.GraphicsView) if v not in views]
        for view in views or [widget]:
            self._attach_actions_menu(view, plot)

    def _attach_actions_menu(self, widget: QWidget, plot: str) -> None:
        widget.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        existing = widget.actions()
        new = [a for a in self.actions_for(plot) if a not in existing]
        first = existing[0] if existing else None
        widget.insertActions(first, new)
        if existing and new:
            separator = QAction(widget)
            separator.setSeparator(True)
            widget.insertAction(first, separator)

    # --- dialog and file name (kept apart so tests can drive them) ---
    def make_dialog(self, plot: str) -> ExportDialog:
        results, _view = self.snapshot()
        return ExportDialog(self.window, replace(self.options, plot=plot), steps=results.steps)

    def ask_save_path(self, options: ExportOptions) -> str | None:
        suggested = self.last_folder / f"{options.plot}.{options.fmt}"
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Export for slides", str(suggested),
            f"{FORMAT_TITLES[options.fmt]} (*.{options.fmt})")
        return path or None

    def open_export_dialog(self, plot: str = "dashboard") -> bool:
        """The whole interactive flow: options, file name, export. False if cancelled."""
        dialog = self.make_dialog(plot)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        options = dialog.options()
        self.options = options
        path = self.ask_save_path(options)
        if not path:
            return False
        return self.start_export(options, path)

    # --- the work ---
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start_export(self, options: ExportOptions, path, wait: bool = False) -> bool:
        """Export in the worker thread (or in this thread with wait=True). False if refused."""
        if self.busy():
            self._report_error("Export", "Another export is still running; try again when it has finished.")
            return False
        try:
            options.validated()
        except figures.ExportError as exc:
            self._report_error("Export", str(exc))
            return False
        path = path_with_extension(path, options.fmt)
        self.last_folder = path.parent
        if wait:
            self._export_now(options, path, wait=True)
        else:
            self.when_final(lambda: self._export_now(options, path, wait=False))
        return True

    def _export_now(self, options: ExportOptions, path: Path, wait: bool) -> None:
        results, view = self.snapshot()  # taken now: later knob changes don't leak in
        training = self.training_curves() if options.plot == "training" else None
        self.export_started.emit(str(path))

        def work():
            try:
                written = export_to_file(results, options, path, view,
                                         progress=lambda done, total: self.export_progress.emit(done, total),
                                         training=training)
            except (figures.ExportError, OSError) as exc:
                self.export_failed.emit(f"Could not export {path.name}: {exc}")
            except Exception as exc:  # noqa: BLE001 - a render failure must reach the user, not vanish
                self.export_failed.emit(f"Could not export {path.name}: {type(exc).__name__}: {exc}")
            else:
                self.export_finished.emit(str(written))

        if wait:
            work()
        else:
            self._thread = threading.Thread(target=work, name="export", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        for thread in (self._thread, self._copy_thread):
            if thread is not None:
                thread.join(timeout)

    def copy_image(self, plot: str = "dashboard", size=figures.DEFAULT_SIZE, wait: bool = False) -> QImage | None:
        """Render in the worker (a dashboard takes a few seconds), then put the image on the
        clipboard in the GUI thread (`copied` is emitted). With wait=True: here, returning it."""
        results, view = self.snapshot()
        training = self.training_curves() if plot == "training" else None
        try:
            figures.check_plot(plot)
            size = figures.check_size(size)
        except figures.ExportError as exc:
            self._report_error("Copy as image", str(exc))
            return None
        if wait:
            return self._set_clipboard(figures.figure_bytes(results, plot, "png", view, size, theme=self.options.theme,
                                                            training=training),
                                       f"{plot}|{size[0]}x{size[1]}")

        def work():
            try:
                data = figures.figure_bytes(results, plot, "png", view, size, theme=self.options.theme,
                                            training=training)
            except Exception as exc:  # noqa: BLE001 - reported to the user
                self.export_failed.emit(f"Could not copy the image: {type(exc).__name__}: {exc}")
            else:
                self._png_ready.emit(data, f"{plot}|{size[0]}x{size[1]}")

        self._copy_thread = threading.Thread(target=work, name="copy-image", daemon=True)
        self._copy_thread.start()
        return None

    @Slot(bytes, str)
    def _set_clipboard(self, data: bytes, what: str) -> QImage | None:
        image = QImage.fromData(data, "PNG")
        if image.isNull():
            self._report_error("Copy as image", "could not render the image")
            return None
        QGuiApplication.clipboard().setImage(image)
        plot, size = what.split("|")
        self._status(f"Copied {PLOT_TITLES.get(plot, plot)} to the clipboard ({size.replace('x', ' × ')})")
        self.copied.emit(image)
        return image

    # --- feedback (GUI thread) ---
    @Slot(int, int)
    def _show_progress(self, done: int, total: int) -> None:
        self._status(f"Exporting GIF: frame {done} of {total}…")

    @Slot(str)
    def _finished(self, path: str) -> None:
        self.last_path, self.last_error = Path(path), None
        self._status(f"Exported {path}")

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.last_error = message
        self._report_error("Export failed", message)

    def _report_error(self, title: str, message: str) -> None:
        self.last_error = message
        self.window.show_error(title, message)

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)


__all__ = [
    "ExportController", "ExportDialog", "ExportOptions", "export_to_file", "path_with_extension",
]
