"""The heatmaps panel: the "heatmaps" plot description drawn by the pyqtgraph renderer, plus a
check box for the gate rows (part of the view state) and a hover read-out of unit, t and value.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel

from plots import style
from plots.spec import Image, Plot
from ui.render.pyqtgraph_renderer import PlotView


class HeatmapsView(PlotView):
    gates_toggled = Signal(bool)  # the user asked for (or hid) the gate rows

    def __init__(self, parent=None):
        super().__init__("heatmaps", parent)
        self.readout = QLabel("Hover a heatmap to read unit, t and value.")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.gates_box = QCheckBox("gates i, f, g, o")
        self.gates_box.setToolTip("Also show the LSTM gates i_t, f_t, g_t, o_t (units × time).")
        self.gates_box.toggled.connect(self.gates_toggled)
        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addStretch(1)  # (the plot's own title says what it is)
        top.addWidget(self.gates_box)
        layout = self.layout()
        layout.insertLayout(0, top)
        layout.addWidget(self.readout)
        self.graphics.scene().sigMouseMoved.connect(self._hovered)
        self.setMinimumSize(240, 240)

    def show_plot(self, plot: Plot) -> None:
        with QSignalBlocker(self.gates_box):
            self.gates_box.setChecked(len(plot.panels) > 3)
        super().show_plot(plot)

    def image_data(self, key: str):
        """The array the heatmap row `key` shows (units × steps)."""
        return self.drawn_item(key, panel=key)[0].image

    def _hovered(self, scene_pos) -> None:
        if self.plot is None:
            return
        for panel in self.plot.panels:
            items = self.panels[panel.key]
            if not items.plot.vb.sceneBoundingRect().contains(scene_pos):
                continue
            image = next(i for i in panel.items if isinstance(i, Image))
            point = items.plot.vb.mapSceneToView(scene_pos)
            t, unit = round(point.x()), round(point.y())
            rows, columns = image.data.shape
            if 0 <= t < columns and 0 <= unit < rows:
                self.readout.setText(f"{style.plain(panel.y.label)}   unit {unit}   t = {t}   "
                                     f"value = {float(image.data[unit, t]):+.4f}")
            return


__all__ = ["HeatmapsView"]
