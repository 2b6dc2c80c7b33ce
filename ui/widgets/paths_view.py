"""The Paths tab: ∂L_T/∂W^(k) as a sum over the paths of the unrolled graph (plots/paths.py).

Controls choose the weight (W_hf, W_hi, W_hg, W_ho for the LSTM, U for the RNN), the copy k and
the order of the list; the description is drawn by the window's renderer (`plot_view`, a
PlotView), and under it the unrolled networks (`unrolled`, the same UnrolledView as the
dashboard's) show where the highlighted path runs. Hovering a listed path highlights it in the
tree and along the unrolled networks (it stays highlighted until another one is hovered or the
list changes). The widget keeps no state of its own: it reports choices (`selection_changed`,
`highlight_changed`) and shows what the window's view state says (`set_state`).
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from plots import style
from plots.spec import Plot
from plots.view import PATH_ORDERS, ViewState, paths_k_choices
from simulator.paths import PATH_WEIGHTS
from ui.render.pyqtgraph_renderer import PlotView

from .unrolled_view import UnrolledView

WEIGHT_TITLES = {"W_hf": "W_hf (forget gate)", "W_hi": "W_hi (input gate)", "W_hg": "W_hg (candidate)",
                 "W_ho": "W_ho (output gate)", "U": "U (the RNN)"}
ORDER_TITLES = {"magnitude": "largest first", "group": "by group"}


class PathsView(QWidget):
    selection_changed = Signal(dict)  # {"paths_weight": ...} or {"paths_k": ...} or {"paths_order": ...}
    highlight_changed = Signal(object)  # the rank of the hovered listed path

    def __init__(self, parent: QWidget | None = None, theme: str = style.DEFAULT_THEME):
        super().__init__(parent)
        self.weight_combo = QComboBox()
        for weight in PATH_WEIGHTS:
            self.weight_combo.addItem(WEIGHT_TITLES[weight], weight)
        self.weight_combo.setToolTip("The weight whose copy W^(k) the paths lead to")
        self.k_combo = QComboBox()
        self.k_combo.setToolTip("The copy W^(k) used at step k (the loss is L_T at the last step T)")
        self.order_combo = QComboBox()
        for order in PATH_ORDERS:
            self.order_combo.addItem(ORDER_TITLES[order], order)
        self.weight_combo.currentIndexChanged.connect(
            lambda _i: self.selection_changed.emit({"paths_weight": self.weight_combo.currentData()}))
        self.k_combo.currentIndexChanged.connect(
            lambda _i: self.k_combo.currentData() is not None
            and self.selection_changed.emit({"paths_k": int(self.k_combo.currentData())}))
        self.order_combo.currentIndexChanged.connect(
            lambda _i: self.selection_changed.emit({"paths_order": self.order_combo.currentData()}))
        controls = QHBoxLayout()
        controls.setContentsMargins(6, 4, 6, 0)
        for label, combo in (("weight", self.weight_combo), ("copy", self.k_combo), ("list", self.order_combo)):
            controls.addWidget(QLabel(label))
            controls.addWidget(combo)
            controls.addSpacing(10)
        controls.addStretch(1)
        hint = QLabel("hover a listed path: it is highlighted in the tree and along the unrolled networks")
        hint.setStyleSheet(f"color: {style.colour('muted', theme)};")
        controls.addWidget(hint)

        self.plot_view = PlotView("paths", theme=theme)
        self.plot_view.row_hovered.connect(self._row_hovered)
        self.unrolled = UnrolledView(show_controls=False, theme=theme)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.plot_view)
        self.splitter.addWidget(self.unrolled)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(controls)
        layout.addWidget(self.splitter, 1)
        self._steps: int | None = None

    # --- what the window tells it -----------------------------------------------------------
    def set_state(self, view: ViewState, steps: int) -> None:
        """Show the view state's selection in the controls (no signals)."""
        with QSignalBlocker(self.weight_combo):
            self.weight_combo.setCurrentIndex(max(0, self.weight_combo.findData(view.paths_weight)))
        with QSignalBlocker(self.k_combo):
            if steps != self._steps:
                self._steps = steps
                self.k_combo.clear()
                for k in reversed(paths_k_choices(steps)):
                    self.k_combo.addItem(f"k = {k}" + (" (= T)" if k == steps else ""), k)
            self.k_combo.setCurrentIndex(max(0, self.k_combo.findData(view.paths_k_for(steps))))
        with QSignalBlocker(self.order_combo):
            self.order_combo.setCurrentIndex(max(0, self.order_combo.findData(view.paths_order)))

    def show_plot(self, plot: Plot) -> None:
        self.plot_view.show_plot(plot)

    def show_unrolled(self, plot: Plot, first_step: int) -> None:
        """The unrolled networks, zoomed to the steps the paths run through (first_step .. T)."""
        steps_before = self.unrolled.steps
        self.unrolled.show_plot(plot)
        if self.unrolled.steps != steps_before or getattr(self, "_first_step", None) != first_step:
            self._first_step = first_step
            self.unrolled.set_time_range(max(0, first_step - 1), self.unrolled.steps)

    # --- the mouse ----------------------------------------------------------------------------
    def _row_hovered(self, rank: int) -> None:
        if rank >= 1:  # (leaving the list keeps the highlight: it can be exported, or seen on the dashboard)
            self.highlight_changed.emit(rank)


__all__ = ["PathsView"]
