"""ui/controllers/export.py against a minimal fake of the MainWindow contract."""

import numpy as np
import pyqtgraph as pg
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QMainWindow, QWidget

from plots import PLOT_NAMES
from plots.view import ViewState
from simulator import Setup, compute
from ui.controllers.export import ExportController, ExportDialog, ExportOptions, path_with_extension
from ui.export import files as figures
from PySide6.QtCore import Signal


class FakeWindow(QMainWindow):  # noqa: D101
    """Just what the export controller uses of MainWindow's contract (ui/controllers/__init__.py)."""

    results_changed = Signal()

    def __init__(self):
        super().__init__()
        setup = Setup(hidden_size=2, steps=10).with_knob("U", 0.9).with_knob("b_f", 3.0)
        self.results = compute(setup, backend="reference")
        self.view = ViewState(selected_step=5, revealed_steps=7)
        self.computing = False
        self.export_menu = self.menuBar().addMenu("&Export")
        self.errors = []
        central = QWidget()
        self.setCentralWidget(central)
        self.plot_widgets = {"dashboard": central}
        for name in ("factors", "long-range", "terms", "bptt"):
            widget = pg.PlotWidget(parent=central)
            widget.plot([0, 1, 2], [1, 0, 1])
            self.plot_widgets[name] = widget
        heat = pg.GraphicsLayoutWidget(parent=central)  # like the heatmaps: ViewBox menus off
        heat.addPlot().setMenuEnabled(False)
        self.plot_widgets["heatmaps"] = heat
        self.plot_widgets["unrolled"] = QWidget(central)  # a plain widget
        self.plot_widgets["paths"] = pg.GraphicsLayoutWidget(parent=central)  # like the Paths tab's view
        self.plot_widgets["training"] = pg.PlotWidget(parent=central)  # the Train tab's curves

    def view_state(self) -> ViewState:
        return self.view

    def is_computing(self) -> bool:
        return self.computing

    def show_error(self, title: str, message: str) -> None:
        self.errors.append((title, message))


@pytest.fixture
def window(qtbot):
    win = FakeWindow()
    qtbot.addWidget(win)
    return win


def test_menu_and_right_click_menus_offer_our_exports(window):
    controller = ExportController(window)
    texts = [a.text() for a in window.export_menu.actions()]
    assert "&Export…" in texts and "&Copy dashboard as image" in texts
    submenu = next(a.menu() for a in window.export_menu.actions() if a.menu() is not None)
    assert len(submenu.actions()) == len(PLOT_NAMES)
    # a right-click on any plot offers that plot's export first (Qt's actions menu, never
    # pyqtgraph's broken Export...); the dashboard's own actions only where nothing else has one
    for name in PLOT_NAMES:
        widget = window.plot_widgets[name]
        assert widget.contextMenuPolicy() == Qt.ContextMenuPolicy.ActionsContextMenu
        actions = [a for a in widget.actions() if not a.isSeparator()]
        assert actions[: len(controller.actions_for(name))] == controller.actions_for(name)
        assert actions[0].text().startswith("Export") and (name == "dashboard" or "dashboard" not in actions[0].text())
    assert controller.actions_for("long-range")[0].text() == "Export “② Long-range gradient” for slides…"
    # and the dialog it opens preselects that plot
    dialog = controller.make_dialog("bptt")
    assert dialog.options().plot == "bptt"


def test_dialog_collects_options_and_validates(window, qtbot):
    dialog = ExportDialog(window, ExportOptions(plot="terms", fmt="gif", fps=12, frames=5), steps=10)
    qtbot.addWidget(dialog)
    options = dialog.options()
    assert (options.plot, options.fmt, options.fps, options.frames) == ("terms", "gif", 12, 5)
    assert dialog.fps_spin.isEnabled() and not dialog.transparent_check.isEnabled()
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("png"))
    dialog.size_combo.setCurrentIndex(dialog.size_combo.findData("3840x2160"))
    dialog.transparent_check.setChecked(True)
    options = dialog.options()
    assert (options.fmt, options.size, options.transparent, options.frames) == ("png", (3840, 2160), True, None)
    assert dialog.width_spin.maximum() == 3840 and dialog.height_spin.maximum() == 2160
    dialog.width_spin.setValue(3000)
    dialog.height_spin.setValue(400)  # 7.5:1: refused with a message, dialog stays open
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted and "aspect" in dialog.error_label.text()


def test_flow_png_svg_pdf_csv_gif_written_from_the_window_state(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtSvg import QSvgRenderer

    controller = ExportController(window)
    results = window.results
    # the interactive flow: dialog -> file name -> export in the worker thread
    monkeypatch.setattr(ExportDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    monkeypatch.setattr(controller, "make_dialog", lambda plot: ExportDialog(
        window, ExportOptions(plot=plot, fmt="png", width=800, height=450, transparent=True), steps=10))
    monkeypatch.setattr(controller, "ask_save_path", lambda options: str(tmp_path / "lr"))
    with qtbot.waitSignal(controller.export_finished, timeout=30000) as finished:
        assert controller.open_export_dialog("long-range")
    png = tmp_path / "lr.png"
    assert finished.args == [str(png)]
    image = Image.open(png)
    assert image.size == (800, 450)
    alpha = np.asarray(image.convert("RGBA"))[..., 3]
    assert alpha[0, 0] == 0 and (alpha == 255).any()

    for fmt in ("svg", "pdf", "csv"):
        assert controller.start_export(ExportOptions(plot="terms", fmt=fmt, width=900, height=600),
                                       tmp_path / f"terms.{fmt}", wait=True)
    assert QSvgRenderer(str(tmp_path / "terms.svg")).isValid()
    assert (tmp_path / "terms.pdf").read_bytes().startswith(b"%PDF-")
    rows = (tmp_path / "terms.csv").read_text().splitlines()
    assert rows[1].split(",")[0] == "5"  # the window's selected step
    assert float(rows[1].split(",")[2]) == results.lstm_term_diag_mean[5, 0]

    with qtbot.waitSignal(controller.export_finished, timeout=30000):
        controller.start_export(ExportOptions(plot="unrolled", fmt="gif", width=400, height=240, fps=4, frames=3),
                                tmp_path / "anim.gif")
    assert Image.open(tmp_path / "anim.gif").n_frames == 3
    assert window.errors == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anim.gif", "lr.png", "terms.csv", "terms.pdf", "terms.svg"]


def test_csv_from_the_window_flags_the_revealed_steps(window, tmp_path):
    controller = ExportController(window)
    controller.start_export(ExportOptions(plot="factors", fmt="csv"), tmp_path / "f.csv", wait=True)
    rows = [row.split(",") for row in (tmp_path / "f.csv").read_text().splitlines()]
    revealed = rows[0].index("revealed")
    # every step as on screen (bright up to the revealed step, faded after), flagged
    assert [int(row[revealed]) for row in rows[1:]] == [1] * 7 + [0] * 3


def test_an_export_waits_for_a_running_compute_and_uses_its_final_results(window, tmp_path, qtbot):
    controller = ExportController(window)
    window.computing = True  # a knob was moved: its results are not in yet
    assert controller.start_export(ExportOptions(plot="terms", fmt="csv"), tmp_path / "t.csv")
    assert not (tmp_path / "t.csv").exists()  # nothing written from the old results
    window.results = compute(window.results.setup.with_knob("W_hf", 2.0), backend="reference")
    window.computing = False
    with qtbot.waitSignal(controller.export_finished, timeout=30000):
        window.results_changed.emit()
    rows = (tmp_path / "t.csv").read_text().splitlines()
    assert float(rows[1].split(",")[2]) == window.results.lstm_term_diag_mean[5, 0]


def test_failures_are_reported_and_leave_nothing(window, tmp_path):
    controller = ExportController(window)
    assert controller.start_export(ExportOptions(plot="factors", fmt="png"), tmp_path / "missing" / "x.png", wait=True)
    assert window.errors and "x.png" in window.errors[-1][1]
    assert not controller.start_export(ExportOptions(plot="factors", fmt="png", width=9999), tmp_path / "y.png")
    assert "at most 3840x2160" in window.errors[-1][1]
    assert list(tmp_path.iterdir()) == []
    assert path_with_extension("a/b.PNG", "png").name == "b.PNG"
    assert path_with_extension("a/b.svg", "png").name == "b.svg.png"


def test_copy_as_image_puts_a_slide_image_on_the_clipboard(window, qtbot):
    controller = ExportController(window)
    image = controller.copy_image("factors", size=(640, 360), wait=True)
    assert image is not None and (image.width(), image.height()) == (640, 360)
    clip = QGuiApplication.clipboard().image()
    assert not clip.isNull() and (clip.width(), clip.height()) == (640, 360)
    # the right-click action renders in the worker, at the default slide size, then copies
    with qtbot.waitSignal(controller.copied, timeout=30000):
        controller.actions_for("factors")[1].trigger()
    clip = QGuiApplication.clipboard().image()
    assert (clip.width(), clip.height()) == figures.DEFAULT_SIZE
    assert np.asarray(Image.frombytes("RGBA", (640, 360), bytes(image.convertToFormat(
        image.Format.Format_RGBA8888).constBits())), dtype=float).std() > 10  # not blank
