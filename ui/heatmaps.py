"""Units x time heatmaps of the states: RNN S_t, LSTM h_t and C_t, and the gates on demand.

pyqtgraph's ImageItem fast path: C-contiguous float32, row-major (row = unit, column = t),
fixed symmetric levels, a 256-entry lookup table from a diverging colour map, no auto levels.
Steps not yet revealed by the transport are veiled (drawn faint), not hidden, so the whole
sequence stays readable while the revealed part grows one column per step.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QCheckBox, QGraphicsRectItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from simulator import Results

from .plots import SELECT_COLOUR

COLOUR_MAP = "CET-D1A"  # diverging blue-white-red, perceptually uniform
VEIL = QColor(255, 255, 255, 185)
GATE_ROWS = ("i", "f", "g", "o")


def symmetric_level(values: np.ndarray, at_least: float = 1.0) -> float:
    """A fixed symmetric colour range: +-1 for bounded states, rounded up for the cell state."""
    finite = np.abs(values[np.isfinite(values)])
    biggest = float(finite.max()) if finite.size else at_least
    if biggest <= at_least:
        return at_least
    return float(math.ceil(biggest * 2.0) / 2.0)  # half-unit steps: stable while dragging


class HeatmapPanel(QWidget):
    """A column of heatmaps sharing the time axis, with colour bars and a hover read-out."""

    step_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.results: Results | None = None
        self.revealed = 0
        self.selected = 0
        self.colour_map = pg.colormap.get(COLOUR_MAP)
        self.lut = self.colour_map.getLookupTable(nPts=256, alpha=False)

        self.readout = QLabel("Hover a heatmap to read unit, t and value.")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.gates_box = QCheckBox("gates i, f, g, o")
        self.gates_box.setToolTip("Also show the LSTM gates i_t, f_t, g_t, o_t (units × time).")
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.setContentsMargins(2, 2, 2, 2)
        self.graphics.ci.setSpacing(2)
        self.graphics.ci.layout.setVerticalSpacing(12)  # room between one colour bar's -1 and the next one's +1
        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        title = QLabel("<b>States, units × time</b>")
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(self.gates_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.readout)

        # name -> (title, plot, image, veil, selection line, colour bar)
        self.rows: dict[str, dict] = {}
        for key, title in (("rnn_S", "RNN S_t"), ("lstm_h", "LSTM h_t"), ("lstm_C", "LSTM C_t")):
            self.rows[key] = self._make_row(title)  # gate rows are made when first shown (start-up time)
        self.graphics.scene().sigMouseMoved.connect(self._hovered)
        self.graphics.scene().sigMouseClicked.connect(self._clicked)
        self._shown_steps = -1
        self.gates_box.toggled.connect(self._layout_rows)
        self._layout_rows()
        self.setMinimumSize(240, 240)

    def _make_row(self, title: str) -> dict:
        plot = pg.PlotItem(enableMenu=False)
        plot.setLabel("left", title)
        plot.getAxis("left").setWidth(52)
        plot.getAxis("left").enableAutoSIPrefix(False)  # units are integers: never "x0.001"
        plot.hideButtons()
        plot.setMouseEnabled(x=True, y=False)
        image = pg.ImageItem(axisOrder="row-major")
        image.setLookupTable(self.lut)
        image.setAutoDownsample(True)
        plot.addItem(image)
        veil = QGraphicsRectItem()
        veil.setBrush(QBrush(VEIL))
        veil.setPen(QPen(Qt.PenStyle.NoPen))
        veil.setZValue(5)
        plot.addItem(veil)
        line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(SELECT_COLOUR, width=1.5))
        line.setZValue(10)
        plot.addItem(line)
        bar = pg.ColorBarItem(values=(-1, 1), colorMap=self.colour_map, interactive=False, width=10)
        bar.setImageItem(image, insert_in=plot)
        return {"title": title, "plot": plot, "image": image, "veil": veil, "line": line, "bar": bar,
                "data": np.zeros((1, 1), np.float32), "level": 1.0}

    def visible_rows(self) -> list[str]:
        keys = ["rnn_S", "lstm_h", "lstm_C"]
        if self.gates_box.isChecked():
            keys += [f"gate_{g}" for g in GATE_ROWS]
        return keys

    def _layout_rows(self) -> None:
        self.graphics.ci.clear()
        keys = self.visible_rows()
        for key in keys:
            if key not in self.rows:
                self.rows[key] = self._make_row(f"gate {key[-1]}_t")
                self.rows[key]["line"].setPos(self.selected)
        for row, key in enumerate(keys):
            plot = self.rows[key]["plot"]
            self.graphics.ci.addItem(plot, row=row, col=0)
            # Only the last row has a time axis (the rows share it; fewer axes also paint faster).
            if row == len(keys) - 1:
                plot.showAxis("bottom")
                plot.setLabel("bottom", "time step t")
            else:
                plot.hideAxis("bottom")
            if row:
                plot.setXLink(self.rows[keys[0]]["plot"])
        if self.results is not None:
            for row in self.rows.values():
                row["data"] = np.zeros((0, 0), np.float32)  # force axes and bars to be redone
                row["source"] = None
            self._shown_steps = -1
            self.set_results(self.results)

    # --- data -------------------------------------------------------------------------------
    def set_results(self, results: Results) -> None:
        self.results = results
        T, H = results.steps, results.setup.hidden_size
        arrays = {"rnn_S": results.rnn_S, "lstm_h": results.lstm_h, "lstm_C": results.lstm_C}
        for gate_index, g in enumerate(GATE_ROWS):
            arrays[f"gate_{g}"] = results.lstm_gates[:, gate_index, :]
        for key in self.visible_rows():
            row = self.rows[key]
            # Turning U leaves the LSTM's arrays untouched (the same objects): nothing to redraw.
            source = results.lstm_gates if key.startswith("gate_") else arrays[key]
            if row.get("source") is source:
                continue
            row["source"] = source
            data = np.ascontiguousarray(np.nan_to_num(arrays[key]).T, dtype=np.float32)  # (H, T+1)
            level = symmetric_level(data) if key == "lstm_C" else 1.0
            unchanged_shape = row["data"].shape == data.shape and row["level"] == level
            row["data"], row["level"] = data, level
            row["image"].setImage(data, autoLevels=False, levels=(-level, level))
            if unchanged_shape:  # the usual knob drag: only the pixels change, not axes or bars
                continue
            row["bar"].setLevels((-level, level))
            row["image"].setRect(QRectF(-0.5, -0.5, T + 1, H))  # pixel (u, t) centred on (t, u)
            plot = row["plot"]
            axis = plot.getAxis("left")
            if H <= 12:  # one tick per unit (pyqtgraph would otherwise pick fractional units)
                axis.setTicks([[(u, str(u)) for u in range(H)]])
            else:
                axis.setTicks(None)
            plot.setYRange(-0.5, H - 0.5, padding=0)
            plot.setLimits(xMin=-0.5 - 0.02 * T, xMax=T + 0.5 + 0.02 * T, yMin=-0.5, yMax=H - 0.5)
        if self._shown_steps != T:  # keep the user's zoom while only knobs change
            self._shown_steps = T
            self.rows[self.visible_rows()[0]]["plot"].setXRange(-0.5, T + 0.5, padding=0)
        self.set_revealed_step(self.revealed)
        self.set_selected_step(self.selected)

    def set_revealed_step(self, t: int) -> None:
        self.revealed = t
        if self.results is None:
            return
        T, H = self.results.steps, self.results.setup.hidden_size
        for key in self.visible_rows():
            self.rows[key]["veil"].setRect(QRectF(t + 0.5, -0.5, max(T - t, 0), H))

    def set_selected_step(self, t: int) -> None:
        self.selected = t
        for row in self.rows.values():
            row["line"].setPos(t)

    def revealed_columns(self) -> int:
        """How many time columns (t = 0..revealed) are shown unveiled."""
        return self.revealed + 1 if self.results is not None else 0

    def image_data(self, key: str) -> np.ndarray:
        return self.rows[key]["image"].image

    # --- mouse --------------------------------------------------------------------------------
    def _locate(self, scene_pos):
        """(row key, unit, t) under a scene position, or None."""
        if self.results is None:
            return None
        for key in self.visible_rows():
            plot = self.rows[key]["plot"]
            if plot.vb.sceneBoundingRect().contains(scene_pos):
                point = plot.vb.mapSceneToView(scene_pos)
                t, unit = round(point.x()), round(point.y())
                if 0 <= t <= self.results.steps and 0 <= unit < self.results.setup.hidden_size:
                    return key, unit, t
                return key, None, t
        return None

    def _hovered(self, scene_pos) -> None:
        found = self._locate(scene_pos)
        if not found or found[1] is None:
            return
        key, unit, t = found
        value = float(self.rows[key]["data"][unit, t])
        self.readout.setText(f"{self.rows[key]['title']}   unit {unit}   t = {t}   value = {value:+.4f}")

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        found = self._locate(event.scenePos())
        if found and 0 <= found[2] <= self.results.steps:
            self.step_clicked.emit(found[2])
