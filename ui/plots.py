"""The gradient plots: per-step factors, long-range gradients, the four (L4) terms, BPTT bars.

Each plot is a pg.PlotWidget with the same small interface as the other views:
`set_results(results)`, `set_revealed_step(t)`, `set_selected_step(t)` and a signal
`step_clicked(int)`. Plots only read `Results` arrays (no numerics here) and clip the
LOG10_OF_ZERO sentinel ("exactly zero") to a visible floor, so no inf/NaN reaches pyqtgraph.
The theory overlays (sigma_max(U), the threshold 1, the sigma(b_f)^lag floor) live on plots 1 and 2.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont

from simulator import LOG10_OF_ZERO, TERM_NAMES, Results


RNN_COLOUR = "#d9480f"  # orange-red: vanilla RNN everywhere
LSTM_COLOUR = "#1864ab"  # blue: LSTM everywhere
NAIVE_COLOUR = "#7b2cbf"  # purple: the naive product of (L4) factors
THEORY_COLOUR = "#495057"
SELECT_COLOUR = "#2b8a3e"  # green: the selected step in every view
TERM_COLOURS = ("#1864ab", "#e67700", "#c2255c", "#2f9e44", "#212529")
TERM_LABELS = ("forget f_t", "via W_hf", "via W_hi", "via W_hg", "sum")
FADED_ALPHA = 70  # the part of a curve not yet revealed by the transport
# Above this many points a curve has several points per pixel column of a plot: antialiasing a
# zigzag that dense shows no difference but doubles its paint time (measured at T = 1000).
ANTIALIAS_MAX_POINTS = 400


def clip_log10(values: np.ndarray, floor: float) -> np.ndarray:
    """Replace the 'exactly zero' sentinel (and anything non-finite) by `floor` for display."""
    values = np.asarray(values, dtype=np.float64)
    real = np.isfinite(values) & (values > LOG10_OF_ZERO / 2)
    return np.where(real, values, floor)


def display_floor(*arrays: np.ndarray, margin: float = 1.0, default: float = -20.0) -> float:
    """One decade below the smallest real (non-sentinel) value of the arrays."""
    lows = []
    for values in arrays:
        values = np.asarray(values, dtype=np.float64)
        real = values[np.isfinite(values) & (values > LOG10_OF_ZERO / 2)]
        if real.size:
            lows.append(real.min())
    return (math.floor(min(lows)) - margin) if lows else default


def nice_step(span: float) -> float:
    """A 1-2-5 step that cuts `span` into at most ~8 intervals."""
    raw = span / 8.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10.0 * magnitude


def sticky_range(current: tuple[float, float] | None, low: float, high: float) -> tuple[float, float]:
    """A y range holding [low, high], snapped to a 1-2-5 grid, that stays put while the data fits.

    While a knob is dragged the data moves a little on every change: keeping the axis still
    (unless the data leaves the range or shrinks to under a third of it) is calmer to watch and
    spares pyqtgraph an auto-range pass and a re-layout of the axis on every frame.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return current if current is not None else (-1.0, 1.0)
    if current is not None:
        a, b = current
        if a <= low and high <= b and (high - low) >= (b - a) / 3.0:
            return current
    span = max(high - low, 1e-9 * max(1.0, abs(high), abs(low)))
    padded_low, padded_high = low - 0.06 * span, high + 0.06 * span
    step = nice_step(padded_high - padded_low)
    return (math.floor(padded_low / step) * step, math.ceil(padded_high / step) * step)


def faded(colour: str, alpha: int = FADED_ALPHA) -> QColor:
    c = QColor(colour)
    c.setAlpha(alpha)
    return c


class StepPlot(pg.PlotWidget):
    """A plot whose x axis is a time step (or lag); clicks select a step."""

    step_clicked = Signal(int)

    def __init__(self, title: str, parent=None):
        super().__init__(parent=parent)
        self.results: Results | None = None
        self.revealed = 0
        self.selected = 0
        self.setTitle(title, size="11pt")
        self.plotItem.showGrid(x=False, y=False)  # grid lines double the paint time of a plot
        self.plotItem.setMenuEnabled(True)
        self.selection_line = pg.InfiniteLine(
            angle=90, movable=False, pen=pg.mkPen(SELECT_COLOUR, width=1.5, style=Qt.PenStyle.DashLine)
        )
        self.plotItem.addItem(self.selection_line, ignoreBounds=True)
        self.scene().sigMouseClicked.connect(self._clicked)
        self.setMinimumSize(200, 150)

    def set_y_data_range(self, *arrays: np.ndarray, legend_side: str | None = None) -> None:
        """Set the y range to hold the finite values of `arrays` (see `sticky_range`), with an
        empty band for the legend at `legend_side` ("top" or "bottom") so it covers no data."""
        self._y_data = (arrays, legend_side)
        values = np.concatenate([np.ravel(np.asarray(a, dtype=np.float64)) for a in arrays])
        values = values[np.isfinite(values)]
        if not values.size:
            return
        low, high = float(values.min()), float(values.max())
        legend = getattr(self, "_legend", None)
        if legend_side is not None and legend is not None:
            # the legend's height as a share of the plot's (pixels), and that share of the range
            share = (legend.boundingRect().height() + 10.0) / max(self.plotItem.vb.height(), 1.0)
            share = min(max(share, 0.0), 0.55)
            extra = max(high - low, 1e-9 * max(1.0, abs(high))) * share / (1.0 - share)
            if legend_side == "top":
                high += extra
            else:
                low -= extra
        new = sticky_range(getattr(self, "_y_range", None), low, high)
        if new != getattr(self, "_y_range", None):
            self._y_range = new
            self.plotItem.setYRange(*new, padding=0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # the legend's share of the height changed: redo the range once the layout has settled
        QTimer.singleShot(0, self._refit_y_range)

    def _refit_y_range(self) -> None:
        if getattr(self, "_y_data", None) is not None:
            arrays, legend_side = self._y_data
            self._y_range = None
            self.set_y_data_range(*arrays, legend_side=legend_side)

    @staticmethod
    def set_curve_data(curve, key: tuple, data) -> None:
        """curve.setData(*data()) unless `key` (the source arrays, compared by identity, and the
        parameters of the drawing) equals what the curve shows: turning one network's knob
        leaves the other network's arrays (the same objects) and curves as they were."""
        drawn = getattr(curve, "_drawn_key", None)
        if drawn is not None and len(drawn) == len(key) and all(
                a is b or (not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray) and a == b)
                for a, b in zip(drawn, key)):
            return
        curve._drawn_key = key
        curve.setData(*data())

    def set_curve_antialias(self, points: int) -> None:
        """Antialias the curves unless they are denser than the plot's pixels (see
        ANTIALIAS_MAX_POINTS) or a knob is being dragged (see `set_draft`)."""
        antialias = points <= ANTIALIAS_MAX_POINTS and not getattr(self, "draft", False)
        for item in self.plotItem.listDataItems():
            if item.opts.get("antialias") != antialias:
                item.opts["antialias"] = antialias  # applied at the item's next setData
                item._drawn_key = None

    def set_draft(self, draft: bool) -> None:
        """Draft drawing (no antialiasing) while a knob is dragged: it halves the paint time of
        the curves, so the plots keep up with the knob. Leaving draft mode redraws in full."""
        if draft == getattr(self, "draft", False):
            return
        self.draft = draft
        if not draft and self.results is not None:
            self.set_results(self.results)  # every curve again, antialiased

    def set_title_text(self, text: str) -> None:
        """Set the title only when it changes (its HTML layout costs a few ms)."""
        if getattr(self, "_title_text", None) != text:
            self._title_text = text
            self.setTitle(text, size="11pt")

    def set_left_label(self, text: str) -> None:
        """Set the y label only when it changes (re-laying out its HTML costs a few ms)."""
        if getattr(self, "_left_label", None) != text:
            self._left_label = text
            self.plotItem.setLabel("left", text)

    # x position <-> step; plots with a lag axis override these
    def step_to_x(self, t: int) -> float:
        return float(t)

    def x_to_step(self, x: float) -> int:
        return round(x)

    def _clicked(self, event) -> None:
        if self.results is None or event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        vb = self.plotItem.vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        x = vb.mapSceneToView(event.scenePos()).x()
        t = min(max(self.x_to_step(x), 0), self.results.steps)
        self.step_clicked.emit(t)

    def set_selected_step(self, t: int) -> None:
        if t == self.selected and getattr(self, "_selected_for", None) is self.results:
            return  # already shown (the window repeats it after set_results)
        self._selected_for = self.results
        self.selected = t
        self.selection_line.setPos(self.step_to_x(t))
        self._selected_changed()

    def _selected_changed(self) -> None:
        pass

    def set_revealed_step(self, t: int) -> None:
        if t == self.revealed and getattr(self, "_revealed_for", None) is self.results:
            return
        self._revealed_for = self.results
        self.revealed = t
        self._revealed_changed()

    def set_x_range(self, low: float, high: float, padding: float = 0.02) -> None:
        """setXRange only when the range changes (a knob change keeps T)."""
        if getattr(self, "_x_range", None) != (low, high, padding):
            self._x_range = (low, high, padding)
            self.plotItem.setXRange(low, high, padding=padding)

    def _revealed_changed(self) -> None:
        pass

    def legend(self, offset=(-8, 8), columns: int = 1) -> pg.LegendItem:
        legend = self.plotItem.addLegend(offset=offset, labelTextSize="8pt", verSpacing=-6, colCount=columns)
        legend.setBrush(pg.mkBrush(255, 255, 255, 150))  # curves stay visible beneath (drag it away if needed)
        legend.setPen(pg.mkPen("#ced4da"))
        self._legend = legend
        return legend


class FactorPlot(StepPlot):
    """Plot 1: the per-step factors (R1) and (L4) vs t, the line y = 1 and sigma_max(U)."""

    def __init__(self, parent=None):
        super().__init__("① Per-step factor vs t", parent)
        self.plotItem.setLabel("bottom", "time step t")
        self.legend()
        self.rnn_faded = self.plot(pen=pg.mkPen(faded(RNN_COLOUR), width=1.5))
        self.lstm_faded = self.plot(pen=pg.mkPen(faded(LSTM_COLOUR), width=1.5))
        self.rnn_curve = self.plot(pen=pg.mkPen(RNN_COLOUR, width=2), name="RNN ∂S_t/∂S_{t-1} (R1)")
        self.lstm_curve = self.plot(pen=pg.mkPen(LSTM_COLOUR, width=2), name="LSTM ∂C_t/∂C_{t-1} (L4)")
        self.one_line = pg.InfiniteLine(
            pos=1.0, angle=0, movable=False, pen=pg.mkPen(THEORY_COLOUR, width=1, style=Qt.PenStyle.DashLine),
            label="y = 1", labelOpts={"position": 0.03, "color": THEORY_COLOUR, "anchors": [(0, 0), (0, 0)]},
        )
        self.plotItem.addItem(self.one_line)
        self.sigma_line = pg.InfiniteLine(
            pos=1.0, angle=0, movable=False, pen=pg.mkPen(RNN_COLOUR, width=1, style=Qt.PenStyle.DotLine),
            label="σ_max(U)", labelOpts={"position": 0.3, "color": RNN_COLOUR, "anchors": [(0, 1), (0, 1)]},
        )
        self.plotItem.addItem(self.sigma_line)
        # Invisible points that make the y range hold the sigma line, y = 1 and the label above them.
        self.range_keeper = pg.PlotDataItem(pen=pg.mkPen((0, 0, 0, 0)))  # transparent, but counted
        self.plotItem.addItem(self.range_keeper)
        self.t = np.zeros(0)
        self.rnn_y = np.zeros(0)
        self.lstm_y = np.zeros(0)

    def set_results(self, results: Results) -> None:
        self.results = results
        H = results.setup.hidden_size
        self.t = np.arange(1, results.steps + 1, dtype=np.float64)
        if H == 1:  # the notes' scalar case: the factors themselves, with their sign
            self._sources = (results.rnn_factor_diag_mean, results.lstm_term_diag_mean)
            self.rnn_y = np.asarray(results.rnn_factor_diag_mean[1:], dtype=np.float64)
            self.lstm_y = np.asarray(results.lstm_term_diag_mean[1:, 4], dtype=np.float64)
            self.set_left_label("factor value (H = 1: signed)")
            sigma = float(results.rnn_U[0, 0])
            sigma_text = f"U = {sigma:.3g} (bound |(1−S²)U| ≤ |U|)"
        else:
            self._sources = (results.rnn_factor_norm, results.lstm_factor_norm)
            self.rnn_y = np.asarray(results.rnn_factor_norm[1:], dtype=np.float64)
            self.lstm_y = np.asarray(results.lstm_factor_norm[1:], dtype=np.float64)
            self.set_left_label(f"spectral norm ‖·‖₂ (H = {H})")
            sigma = results.sigma_max_U
            sigma_text = f"σ_max(U) = {sigma:.3g} (bound on RNN)"
        if sigma_text != self.sigma_line.label.format:
            self.sigma_line.label.setFormat(sigma_text)
        self.rnn_y = np.nan_to_num(self.rnn_y, nan=0.0, posinf=1e300, neginf=-1e300)
        self.lstm_y = np.nan_to_num(self.lstm_y, nan=0.0, posinf=1e300, neginf=-1e300)
        self.sigma_line.setPos(sigma)
        if np.isfinite(sigma) and abs(sigma) < 1e6:
            self.range_keeper.setData([0.0, 0.0], [sigma + 0.08 * max(abs(sigma), 1.0), 1.0])
        else:
            self.range_keeper.setData([0.0], [1.0])
        self.set_curve_antialias(results.steps)
        self.set_x_range(0, max(results.steps, 1))
        self.set_y_data_range(self.rnn_y, self.lstm_y, self.range_keeper.getData()[1], legend_side="top")
        self._revealed_for = results
        self._revealed_changed()

    def revealed_points(self) -> int:
        """How many steps (t = 1..revealed) the bright curves show."""
        x = self.rnn_curve.getData()[0]
        return 0 if x is None else len(x)

    def _revealed_changed(self) -> None:
        n = min(self.revealed, len(self.t))
        rnn_source, lstm_source = getattr(self, "_sources", (None, None))
        self.set_curve_data(self.rnn_curve, (rnn_source, n), lambda: (self.t[:n], self.rnn_y[:n]))
        self.set_curve_data(self.lstm_curve, (lstm_source, n), lambda: (self.t[:n], self.lstm_y[:n]))
        # the faded curves draw only what is not revealed yet (from the last revealed point on)
        start = max(n - 1, 0)
        self.set_curve_data(self.rnn_faded, (rnn_source, start, len(self.t)),
                            lambda: (self.t[start:], self.rnn_y[start:]))
        self.set_curve_data(self.lstm_faded, (lstm_source, start, len(self.t)),
                            lambda: (self.t[start:], self.lstm_y[start:]))


class LongRangePlot(StepPlot):
    """Plot 2: log10 of the gradient reaching step k from the loss at T, vs lag T - k:
    RNN (R2), LSTM exact (L7), naive product of (L4) factors; theory lines
    lag·log10 σ_max(U) (RNN upper bound) and lag·log10 σ(b_f) (the forget-path floor)."""

    def __init__(self, parent=None):
        super().__init__("② Long-range gradient vs lag", parent)
        self.plotItem.setLabel("bottom", "lag T − k (steps back from the loss at T)")
        self.plotItem.setLabel("left", "log10 ‖gradient at step k‖₂")
        # bottom left, in two columns, in a band kept free of data (the y label says what is drawn)
        self.legend(offset=(8, -8), columns=2)
        self.rnn_curve = self.plot(pen=pg.mkPen(RNN_COLOUR, width=2), name="RNN (R2)")
        self.lstm_curve = self.plot(pen=pg.mkPen(LSTM_COLOUR, width=2), name="LSTM exact (L7)")
        self.naive_curve = self.plot(
            pen=pg.mkPen(NAIVE_COLOUR, width=1.5, style=Qt.PenStyle.DashLine),
            name="LSTM naive ∏ (L4)",
        )
        self.rnn_bound = pg.PlotDataItem(
            pen=pg.mkPen(RNN_COLOUR, width=1, style=Qt.PenStyle.DotLine), name="σ_max(U)^lag"
        )
        self.forget_floor = pg.PlotDataItem(
            pen=pg.mkPen(LSTM_COLOUR, width=1, style=Qt.PenStyle.DotLine), name="σ(b_f)^lag"
        )
        # Theory lines do not drive the y range: they may run off to -inf-like values.
        self.plotItem.addItem(self.rnn_bound, ignoreBounds=True)
        self.plotItem.addItem(self.forget_floor, ignoreBounds=True)
        self.floor = -20.0

    def step_to_x(self, t: int) -> float:
        return float(self.results.steps - t) if self.results is not None else 0.0

    def x_to_step(self, x: float) -> int:
        return self.results.steps - round(x)

    def set_results(self, results: Results) -> None:
        self.results = results
        T = results.steps
        lags = np.asarray(results.lags(), dtype=np.float64)  # entry k has lag T - k
        rnn, exact, naive = (results.rnn_longrange_log10, results.lstm_longrange_log10,
                             results.lstm_naive_longrange_log10)
        self.floor = display_floor(rnn, exact, naive)
        order = np.argsort(lags)
        lags = lags[order]
        self.set_curve_antialias(T)
        floor = self.floor
        for curve, values in ((self.rnn_curve, rnn), (self.lstm_curve, exact), (self.naive_curve, naive)):
            self.set_curve_data(curve, (values, floor, T), lambda v=values: (lags, clip_log10(v, floor)[order]))
        theory = results.theory_log10(lags)  # the same lines the exports draw
        if results.sigma_max_U > 0:
            self.rnn_bound.setData(lags, theory["sigma_max_U"])
        else:
            self.rnn_bound.setData([], [])
        self.forget_floor.setData(lags, theory["sigma_b_f"])
        self.set_x_range(0, max(T, 1))
        # the theory lines do not set the range: they may run off far below the data
        self.set_y_data_range(self.rnn_curve.getData()[1], self.lstm_curve.getData()[1],
                              self.naive_curve.getData()[1], legend_side="bottom")
        self.selection_line.setPos(self.step_to_x(self.selected))

    def curve_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(lag, log10 norm) as drawn, for name in 'rnn', 'lstm', 'naive'."""
        curve = {"rnn": self.rnn_curve, "lstm": self.lstm_curve, "naive": self.naive_curve}[name]
        x, y = curve.getData()
        return np.asarray(x), np.asarray(y)


class TermsPlot(StepPlot):
    """Plot 3: the four terms of dC_t/dC_{t-1} (L4) and their sum at the selected step."""

    def __init__(self, parent=None):
        super().__init__("③ Terms of ∂C_t/∂C_{t-1}", parent)
        self.plotItem.setMouseEnabled(x=False, y=True)
        self.bars = pg.BarGraphItem(x=np.arange(5), height=np.zeros(5), width=0.62,
                                    brushes=[pg.mkBrush(c) for c in TERM_COLOURS], pens=[pg.mkPen(None)] * 5)
        self.plotItem.addItem(self.bars)
        self.norm_dots = pg.ScatterPlotItem(size=9, symbol="d", brush=pg.mkBrush("#ffffff"),
                                            pen=pg.mkPen("#212529", width=1.5))
        self.plotItem.addItem(self.norm_dots)
        self.one_line = pg.InfiniteLine(
            pos=1.0, angle=0, movable=False, pen=pg.mkPen(THEORY_COLOUR, width=1, style=Qt.PenStyle.DashLine),
        )
        self.zero_line = pg.InfiniteLine(pos=0.0, angle=0, movable=False, pen=pg.mkPen("#adb5bd", width=1))
        self.plotItem.addItem(self.one_line)
        self.plotItem.addItem(self.zero_line)
        self.selection_line.hide()  # x is the term here, not the time
        self.value_labels = []
        font = QFont()
        font.setPointSizeF(8.5)
        for _ in range(5):
            label = pg.TextItem(color="#212529", anchor=(0.5, 1.0))
            label.setFont(font)
            self.plotItem.addItem(label)
            self.value_labels.append(label)
        axis = self.plotItem.getAxis("bottom")
        axis.setTicks([list(enumerate(TERM_LABELS))])
        self.plotItem.setXRange(-0.6, 4.6, padding=0)
        self.values = np.zeros(5)
        self.norms = np.zeros(5)

    def _clicked(self, event) -> None:  # x is not a time step here
        return

    def set_results(self, results: Results) -> None:
        unchanged = self.results is not None and self.results.lstm_pre is results.lstm_pre
        self.results = results
        if unchanged:  # only the RNN changed (e.g. U turned): these bars are as they were
            self._selected_for = results  # bars depend on the LSTM and t only
            return
        H = results.setup.hidden_size
        if H == 1:
            self.set_left_label("value (H = 1: signed)")
        else:
            self.set_left_label(f"diag mean (bars), ‖·‖₂ (◆), H = {H}")
        self._selected_for = results
        self._selected_changed()

    def _selected_changed(self) -> None:
        if self.results is None:
            return
        t = min(max(self.selected, 0), self.results.steps)
        values = np.array([self.results.lstm_term_values(t)[n] for n in TERM_NAMES]) if t >= 1 else np.zeros(5)
        self.values = np.nan_to_num(values, nan=0.0, posinf=1e300, neginf=-1e300)
        self.bars.setOpts(height=self.values)
        if self.results.setup.hidden_size > 1 and t >= 1:
            self.norms = np.nan_to_num(np.asarray(self.results.lstm_term_norms(t), dtype=np.float64))
            self.norm_dots.setData(np.arange(5), self.norms)
        else:
            self.norms = np.abs(self.values)
            self.norm_dots.setData([], [])
        has_dots = self.results.setup.hidden_size > 1 and t >= 1
        for i, (label, value) in enumerate(zip(self.value_labels, self.values)):
            if label.toPlainText() != f"{value:.3g}":  # a text layout costs ~0.2 ms
                label.setText(f"{value:.3g}")
            # above the bar, its norm marker and the zero line: never on a marker or the axis labels
            label.setPos(i, max(value, self.norms[i] if has_dots else 0.0, 0.0))
        self.set_title_text(f"③ ∂C_t/∂C_{{t-1}} terms (L4) at t = {t}")
        top = max(1.1, float(np.max(np.r_[self.values, self.norms])) * 1.2)
        bottom = min(0.0, float(np.min(self.values)) * 1.2)
        self.plotItem.setYRange(bottom - 0.05, top, padding=0)


class BPTTPlot(StepPlot):
    """Plot 4: BPTT contributions of each step k to dL_T/dU (RNN) and dL_T/dW_hf (LSTM), as
    log bars: log10 ‖∂L_T/∂W^(k)‖_F (MATH.md, 'Back-propagation through time')."""

    def __init__(self, parent=None):
        super().__init__("④ BPTT: share of each step k", parent)
        self.plotItem.setLabel("bottom", "step k")
        self.plotItem.setLabel("left", "log10 ‖∂L_T/∂W^(k)‖_F")
        self.legend()
        # LSTM first so the (usually shorter) RNN bars are drawn on top of it
        self.lstm_bars = self.plot(stepMode="center", fillLevel=0.0, pen=pg.mkPen(LSTM_COLOUR, width=1),
                                   brush=faded(LSTM_COLOUR, 90), name="W = W_hf (LSTM)")
        self.rnn_bars = self.plot(stepMode="center", fillLevel=0.0, pen=pg.mkPen(RNN_COLOUR, width=1.5),
                                  brush=faded(RNN_COLOUR, 55), name="W = U (RNN)")
        self.floor = -20.0
        self.zero_note = pg.TextItem(color=THEORY_COLOUR, anchor=(0.5, 1.0))
        self.plotItem.addItem(self.zero_note, ignoreBounds=True)

    def set_results(self, results: Results) -> None:
        self.results = results
        T = results.steps
        rnn = self._bptt_log10(results, "U", results.rnn_delta)
        lstm = self._bptt_log10(results, "W_hf", results.lstm_delta)
        self.floor = display_floor(rnn, lstm)
        edges = np.arange(T + 1, dtype=np.float64) + 0.5  # bar k spans k +- 1/2, k = 1..T
        self.set_curve_antialias(T)
        floor = self.floor
        for item, values in ((self.rnn_bars, rnn), (self.lstm_bars, lstm)):
            if getattr(item, "_fill_level", None) != floor:
                item._fill_level = floor
                item._drawn_key = None  # the fill level is part of the drawing
                item.setFillLevel(floor)
            self.set_curve_data(item, (values, floor, T), lambda v=values: (edges, clip_log10(v, floor)))
        self.set_x_range(0, max(T, 1) + 0.5)
        self.set_y_data_range(self.rnn_bars.getData()[1], self.lstm_bars.getData()[1], [floor],
                              legend_side="top")
        # An exactly-zero gradient has no logarithm: say so instead of letting the floor look like data.
        zero = [name for name, values in (("∂L_T/∂U", rnn), ("∂L_T/∂W_hf", lstm))
                if not np.any(values > LOG10_OF_ZERO / 2)]
        self.zero_note.setText(f"{' and '.join(zero)}: exactly 0 at every k" if zero else "")
        self.zero_note.setPos((T + 1) / 2, self.floor)

    def _bptt_log10(self, results: Results, weight: str, source: np.ndarray) -> np.ndarray:
        """results.bptt_log10(weight)[1:], recomputed only when its network changed."""
        cache = self.__dict__.setdefault("_bptt_cache", {})
        cached = cache.get(weight)
        if cached is None or cached[0] is not source:
            cached = (source, np.asarray(results.bptt_log10(weight))[1:])
            cache[weight] = cached
        return cached[1]

    def bar_heights(self, weight: str) -> np.ndarray:
        item = self.rnn_bars if weight == "U" else self.lstm_bars
        return np.asarray(item.getData()[1])
