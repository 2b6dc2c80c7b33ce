"""The unrolled network view: RNN (top) and LSTM (bottom), one column per time step.

Each RNN cell is coloured by its state S_t, each LSTM cell by C_t (upper half) and h_t
(lower half); with H > 1 a cell is a tiny per-unit strip (unit 0 at the top). The recurrent
edges S_{t-1} -> S_t and the LSTM's C highway C_{t-1} -> C_t are drawn with a thickness and
colour that encode the per-step factor (R1: ||dS_t/dS_{t-1}||, L4: ||dC_t/dC_{t-1}||), so a
vanishing chain visibly thins and a carousel stays thick. A backward "gradient pulse" lights
the columns from the last step T down to 0 with log10 ||dS_T/dS_k|| (R2) and
log10 ||dC_T/dC_k|| (L7) on a sequential colour scale.

Only the visible time range is painted. When a step is narrower than a few pixels the view
switches to a strip mode (one image per row, edges as a ribbon), so T = 5000 stays fast.
Mouse: wheel zooms along time, drag pans, click selects a step, double-click fits.
"""

from __future__ import annotations

import functools
import math
import sys

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QPoint, QPointF, QRectF, QSize, Qt, QVariantAnimation, Signal
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPen,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QHBoxLayout,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from plots import style
from plots.spec import Plot, Unrolled
from plots.unrolled import (
    CELL_WIDTH,
    H_CHAIN_WIDTH,
    LSTM_C_ROW,
    LSTM_GRAD_ROW,
    LSTM_H_ROW,
    MIN_COLUMN_PIXELS,
    RNN_GRAD_ROW,
    RNN_ROW,
    ROW_LABELS,
    ROWS,
    STRIP_RIBBON_ALPHA,
    Y_RANGE,
    decade_ticks,
)
from ui.render.pyqtgraph_renderer import qcolour

COMPACT_HEIGHT = 260  # below this widget height the time axis drops its title
RIBBON_BUCKET_PIXELS = 2.0  # the strips' ribbons: one point per this many pixels
RIBBON_COLOUR_STOPS = 128  # at most this many colour stops along a ribbon
PULSE_DURATION_MS = 1500


# The cells of a row as one image: this many pixels per step (CELL_WIDTH = 0.62 = 31/50 of them
# coloured), up to CELL_IMAGE_BYTES per row (above, e.g. 5000 steps of 512 units, cell by cell).
CELL_SUBCOLUMNS = 50
CELL_IMAGE_BYTES = 32 * 2**20


def _rgba_image(rgba: np.ndarray) -> QImage:
    """A QImage (owning its pixels) of a (rows, cols, 4) uint8 array."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    rows, cols, _ = rgba.shape
    # copy(): the image must not point into numpy memory that may be freed before Qt draws it
    return QImage(rgba.data, cols, rows, 4 * cols, QImage.Format.Format_RGBA8888).copy()


def _argb(rgba: np.ndarray) -> list[int]:
    """(n, 4) uint8 RGBA -> n ints 0xAARRGGBB (QColor.fromRgba)."""
    c = np.asarray(rgba, dtype=np.uint32)
    return ((c[:, 3] << 24) | (c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]).tolist()


def _qcolour(rgba) -> QColor:
    r, g, b, a = (int(v) for v in rgba)
    return QColor(r, g, b, a)


class _Palette:
    """The view's neutral colours, from the one palette (plots.style)."""

    def __init__(self, theme: str = style.DEFAULT_THEME):
        self.theme = theme
        self.background = qcolour("background", theme)
        self.text = qcolour("foreground", theme)
        self.muted_text = qcolour("muted", theme)
        self.cell_outline = qcolour("cell.outline", theme)
        self.ghost_fill = qcolour("ghost.fill", theme)
        self.ghost_outline = qcolour("ghost.outline", theme)
        self.track = qcolour("track", theme)
        self.h_chain = qcolour("h.chain", theme)
        self.selection_fill = qcolour("select", theme, 0.16)
        self.selection_edge = qcolour("select", theme)
        self.pulse = qcolour("pulse", theme)


class _TimeAxis(pg.AxisItem):
    """Integer time steps only, thinned by pyqtgraph's tick spacing when zoomed out."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.last_step = 0

    def tickValues(self, minVal, maxVal, size):
        levels = []
        for spacing, values in super().tickValues(minVal, maxVal, size):
            if spacing < 1:
                continue
            ints = [v for v in values if abs(v - round(v)) < 1e-6 and 0 <= round(v) <= self.last_step]
            levels.append((spacing, ints))
        if not levels:  # zoomed in further than one step per major tick
            levels.append((1.0, [float(v) for v in range(max(0, math.ceil(minVal)),
                                                           min(self.last_step, math.floor(maxVal)) + 1)]))
        return levels

    def tickStrings(self, values, scale, spacing):
        return [str(int(round(v))) for v in values]


NUMBERS_MIN_STEP_PIXELS = 60.0  # zoomed in this far, the values are written in the cells and gaps
# The rows of each network, as bands of y: new results of one network (a turn of U, of W_hf)
# repaint its band only.
NETWORK_BANDS = {"rnn": (Y_RANGE[0], (RNN_GRAD_ROW[1] + LSTM_C_ROW[0]) / 2),
                 "lstm": ((RNN_GRAD_ROW[1] + LSTM_C_ROW[0]) / 2, Y_RANGE[1])}


class _UnrolledItem(pg.GraphicsObject):
    """Paints the cells, edges and pulse strips of the visible time range."""

    def __init__(self, view: "UnrolledView"):
        super().__init__()
        self._view = view
        self.last_paint: dict = {}
        self._laid_out: dict[str, tuple] = {}  # row -> (its cells, the laid-out buffer, its QImage)
        self._shapes_made: dict[tuple, list] = {}  # (kind, first, last) -> outlines or lines (_shapes)
        self._ribbon_stops: dict = {}  # row -> (its factors, the bucket grid, the gradient's colour stops)
        self.setZValue(0)
        # paint() gets the exposed rectangle: a step repaints the columns it changed, not all
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def boundingRect(self) -> QRectF:
        # a step more each side: the selection's outline (2 px, antialiased) reaches past the cells,
        # and a repaint is clipped to this rectangle
        T = self._view.steps
        return QRectF(-1.5, Y_RANGE[0], T + 3.0, Y_RANGE[1] - Y_RANGE[0])

    def refresh(self) -> None:
        self.prepareGeometryChange()
        self.update()

    def refresh_networks(self, networks) -> None:
        """Repaint the bands of these networks ("rnn", "lstm"): the other's rows are as they were.
        Zoomed in far enough for the numbers, everything: an LSTM edge's factor is written above
        it, and in a short view the text reaches the RNN's band."""
        if 1.0 / max(self.pixelWidth(), 1e-12) >= NUMBERS_MIN_STEP_PIXELS:
            return self.refresh()
        T = self._view.steps
        for network in networks:
            low, high = NETWORK_BANDS[network]
            self.update(QRectF(-1.5, low, T + 3.0, high - low))

    def refresh_columns(self, *steps: int) -> None:
        """Repaint around these steps only (a step of the transport changes the newly revealed
        column and the selected one): a ribbon bucket spans a few pixels, so do a few columns."""
        vb = self.getViewBox()
        if vb is None:
            return self.refresh()
        px_per_step = 1.0 / max(self.pixelWidth(), 1e-12)
        margin = 1.0 + 2 * self.ribbon_grid(px_per_step)[0]  # the ribbon's last bucket and the next
        for first, last in _runs(sorted(set(steps)), margin):
            self.update(QRectF(first - margin, Y_RANGE[0], last - first + 2 * margin, Y_RANGE[1] - Y_RANGE[0]))

    # -- painting ------------------------------------------------------------------------
    def paint(self, p: QPainter, option=None, *args) -> None:
        # An exception escaping a Qt virtual can take the process down: report it instead
        # (pytest-qt turns a report through sys.excepthook into a test failure).
        try:
            self._paint(p, None if option is None else option.exposedRect)
        except Exception:
            sys.excepthook(*sys.exc_info())

    def _paint(self, p: QPainter, exposed: QRectF | None = None) -> None:
        view = self._view
        data = view._data
        vb = self.getViewBox()
        if data is None or vb is None:
            return
        (x0, x1), _ = vb.viewRange()
        T = view.steps
        t0 = max(0, math.floor(x0 - 0.5))
        t1 = min(T, math.ceil(x1 + 0.5))
        if t1 < t0:
            return
        px_per_step = 1.0 / max(self.pixelWidth(), 1e-12)
        px_per_unit_y = 1.0 / max(self.pixelHeight(), 1e-12)
        revealed = view.revealed_step()
        shown_end = min(t1, revealed)  # last coloured column in range
        detailed = px_per_step >= MIN_COLUMN_PIXELS
        pal = view.palette_
        front = view._pulse_front
        stats = {"mode": "cells" if detailed else "strips", "first": t0, "last": t1,
                 "coloured_columns": max(0, shown_end - t0 + 1),
                 "ghost_columns": max(0, t1 - max(t0, revealed + 1) + 1),
                 "lit_columns": max(0, t1 - max(t0, math.ceil(front)) + 1) if math.isfinite(front) else 0}
        self.ribbon_start = t0  # the ribbons' buckets and colour stops are laid out from here
        self.image_range = (t0, t1)  # the strips' images are drawn whole (clipped): resampled alike
        if exposed is not None and not exposed.isEmpty():  # only what Qt repaints (a step: a few columns)
            lo, hi = math.floor(exposed.left() - 0.5) - 1, math.ceil(exposed.right() + 0.5) + 1
            if not detailed:  # whole blocks of colour stops, and one more each side (outside the clip)
                per_bucket, stride = self.ribbon_grid(px_per_step)
                block = per_bucket * stride
                lo = t0 + block * ((lo - t0) // block) - block
                hi = t0 + block * -(-(hi - t0) // block) + block
            t0, t1 = max(t0, lo), min(t1, hi)
            if t1 < t0:
                self.last_paint = stats
                return
        # the networks whose rows Qt repaints (new results of one network: its band only). Qt widens
        # a repaint by a pixel or two: a band counts when more than 3 px of it are exposed (each
        # network's drawing keeps further than that from the bands' border, in the empty gap; the
        # numbers written when zoomed in do not, and then refresh_networks repaints everything)
        margin = 3.0 / px_per_unit_y
        networks = tuple(name for name, (low, high) in NETWORK_BANDS.items()
                         if exposed is None or exposed.isEmpty()
                         or (exposed.top() < high - margin and exposed.bottom() > low + margin))
        stats["networks"] = networks
        if detailed:
            self._paint_cells(p, data, t0, t1, revealed, px_per_unit_y, pal, networks)
        else:
            self._paint_strips(p, data, t0, t1, revealed, px_per_step, px_per_unit_y, pal, networks)
        self._paint_gradient(p, data, t0, t1, detailed, pal, networks)
        if detailed and px_per_step >= NUMBERS_MIN_STEP_PIXELS:
            self._paint_numbers(p, data, t0, t1, revealed, px_per_step, pal, networks)
        if not detailed and view.selected_step() is not None:
            # the highlight band sits behind the cells; with no gaps left, outline it on top
            pen = QPen(pal.selection_edge, 2.0)
            pen.setCosmetic(True)
            p.setPen(pen)
            p.setBrush(Qt.BrushStyle.NoBrush)
            t = view.selected_step()
            p.drawRect(QRectF(t - 0.5, Y_RANGE[0] + 0.02, 1.0, Y_RANGE[1] - Y_RANGE[0] - 0.04))
        self._paint_pulse_front(p, px_per_step, pal)
        self.last_paint = stats

    def _paint_cells(self, p, data, t0, t1, revealed, px_per_unit_y, pal, networks) -> None:
        half = CELL_WIDTH / 2
        shown_end = min(t1, revealed)
        # edges first, in the gaps between cells: RNN chain, C highway, thin h chain. A horizontal
        # edge is drawn as a filled rectangle (no pen per edge: ~3x cheaper for T = 100).
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        ghost_half_height = 0.5 / px_per_unit_y  # one pixel
        for network, row, widths, argb in (
            ("rnn", RNN_ROW, data["rnn_width_list"], data["rnn_edge_argb"]),
            ("lstm", LSTM_C_ROW, data["lstm_width_list"], data["lstm_edge_argb"]),
        ):
            if network not in networks:
                continue
            yc = (row[0] + row[1]) / 2
            fill, from_rgba, min_height = p.fillRect, QColor.fromRgba, 1.0 / px_per_unit_y  # (a tight loop)
            for t in range(max(1, t0), shown_end + 1):
                half_height = max(min_height, widths[t]) / 2
                # the edge's colour: style.edge_rgba of its factor
                fill(QRectF(t - 1 + half, yc - half_height, 1 - 2 * half, 2 * half_height), from_rgba(argb[t]))
            for t in range(max(1, t0, shown_end + 1), t1 + 1):
                fill(QRectF(t - 1 + half, yc - ghost_half_height, 1 - 2 * half, 2 * ghost_half_height),
                     pal.ghost_outline)
        for colour, first, last in ((pal.h_chain, max(1, t0), min(t1, revealed)),
                                    (pal.ghost_outline, max(1, t0, revealed + 1), t1)):
            if last >= first and "lstm" in networks:
                pen = QPen(colour, max(1.0, H_CHAIN_WIDTH * px_per_unit_y))
                pen.setCosmetic(True)
                pen.setCapStyle(Qt.PenCapStyle.FlatCap)
                p.setPen(pen)
                p.drawLines(self._shapes("h chain", first, last))
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)

        # coloured cells (per-unit strips), then ghosts for steps not revealed yet
        H = data["hidden"]
        rows = (("rnn", data["rnn_img"], "rnn_cells", RNN_ROW), ("lstm", data["C_img"], "C_cells", LSTM_C_ROW),
                ("lstm", data["h_img"], "h_cells", LSTM_H_ROW))
        n = shown_end - t0 + 1
        for network, image, cells_key, row in rows:
            if network not in networks:
                continue
            cells = self._cell_images(cells_key)
            if cells is not None and n > 0:  # one image: each step's column, then a clear gap
                p.drawImage(QRectF(t0 - 0.5, row[0], n, row[1] - row[0]), cells,
                            QRectF(t0 * CELL_SUBCOLUMNS, 0, n * CELL_SUBCOLUMNS, H))
                continue
            for t in range(t0, shown_end + 1):
                p.drawImage(QRectF(t - half, row[0], CELL_WIDTH, row[1] - row[0]), image,
                            QRectF(t, 0, 1, H))
        outline = QPen(pal.cell_outline, 1.0)
        outline.setCosmetic(True)
        p.setPen(outline)
        p.setBrush(Qt.BrushStyle.NoBrush)
        outlines = [kind for network, kind in (("rnn", "rnn cells"), ("lstm", "lstm cells")) if network in networks]
        if shown_end >= t0:
            for kind in outlines:
                p.drawRects(self._shapes(kind, t0, shown_end))
        if t1 >= max(t0, revealed + 1):  # ghosts
            ghost_pen = QPen(pal.ghost_outline, 1.0)
            ghost_pen.setCosmetic(True)
            p.setPen(ghost_pen)
            p.setBrush(pal.ghost_fill)
            for kind in outlines:
                p.drawRects(self._shapes(kind, max(t0, revealed + 1), t1))
        # the C / h divider inside each LSTM cell
        if shown_end >= t0 and "lstm" in networks:
            p.setPen(outline)
            p.drawLines(self._shapes("dividers", t0, shown_end))

    def _shapes(self, kind: str, first: int, last: int) -> list:
        """The outlines (QRectF) or lines (QLineF) of `kind` for steps first..last, in data
        coordinates: the same for every results, made once per range (a knob change repaints the
        same steps)."""
        key = (kind, first, last)
        shapes = self._shapes_made.get(key)
        if shapes is None:
            half = CELL_WIDTH / 2
            steps = range(first, last + 1)
            if kind == "h chain":
                yc = (LSTM_H_ROW[0] + LSTM_H_ROW[1]) / 2
                shapes = [QLineF(t - 1 + half, yc, t - half, yc) for t in steps]
            elif kind == "dividers":
                shapes = [QLineF(t - half, LSTM_C_ROW[1], t + half, LSTM_C_ROW[1]) for t in steps]
            else:
                low, high = RNN_ROW if kind == "rnn cells" else (LSTM_C_ROW[0], LSTM_H_ROW[1])
                shapes = [QRectF(t - half, low, CELL_WIDTH, high - low) for t in steps]
            if len(self._shapes_made) > 64:  # (ranges of a few zooms and steps)
                self._shapes_made.clear()
            self._shapes_made[key] = shapes
        return shapes

    def _cell_images(self, key: str) -> QImage | None:
        """The row's cells laid out as drawn, CELL_SUBCOLUMNS pixels per step (the cell's colours,
        then a transparent gap): a repaint draws a row in one call. None above CELL_IMAGE_BYTES."""
        source = getattr(self._view._element, key)  # (H, T+1, 4) uint8, or (T+1, 4): one row
        cells = source if source.ndim == 3 else source[None]
        H, columns, _ = cells.shape
        if H * columns * CELL_SUBCOLUMNS * 4 > CELL_IMAGE_BYTES:
            return None
        kept = self._laid_out.get(key)
        if kept is not None and kept[0] is source:
            return kept[2]
        if kept is not None and kept[1].shape[:2] == (H, columns):
            buffer, image = kept[1], kept[2]  # the same size: only the cells' sub-columns are written
        else:
            buffer = np.zeros((H, columns, CELL_SUBCOLUMNS, 4), np.uint8)  # the gaps stay transparent
            # the image draws from this buffer (kept alive beside it): no copy per change
            image = QImage(buffer.data, columns * CELL_SUBCOLUMNS, H, columns * CELL_SUBCOLUMNS * 4,
                           QImage.Format.Format_RGBA8888)
        first = round((0.5 - CELL_WIDTH / 2) * CELL_SUBCOLUMNS)
        # one 32-bit pixel per element (4x fewer than by bytes)
        pixels = np.ascontiguousarray(cells).view(np.uint32)  # (H, T+1, 1)
        buffer.view(np.uint32)[:, :, first:first + round(CELL_WIDTH * CELL_SUBCOLUMNS), 0] = pixels
        self._laid_out[key] = (source, buffer, image)
        return image

    def _paint_strips(self, p, data, t0, t1, revealed, px_per_step, px_per_unit_y, pal,
                      networks) -> None:
        H = data["hidden"]
        shown_end = min(t1, revealed)
        first_image = self.image_range[0]
        if shown_end >= first_image:
            n = min(self.image_range[1], revealed) - first_image + 1
            for network, image, row in (("rnn", data["rnn_img"], RNN_ROW), ("lstm", data["C_img"], LSTM_C_ROW),
                                        ("lstm", data["h_img"], LSTM_H_ROW)):
                if network not in networks:
                    continue
                p.drawImage(QRectF(first_image - 0.5, row[0], n, row[1] - row[0]), image,
                            QRectF(first_image, 0, n, H))
        if t1 > revealed:
            g0 = max(t0, revealed + 1) - 0.5
            for network, row in (("rnn", RNN_ROW), ("lstm", (LSTM_C_ROW[0], LSTM_H_ROW[1]))):
                if network not in networks:
                    continue
                p.fillRect(QRectF(g0, row[0], t1 + 0.5 - g0, row[1] - row[0]), pal.ghost_fill)
        # the chains as ribbons over the strips: thickness and colour per (bucketed) step
        first = max(1, t0)
        if shown_end >= first:
            for network, row, widths, factors in (("rnn", RNN_ROW, data["rnn_width"], data["rnn_factor"]),
                                                  ("lstm", LSTM_C_ROW, data["lstm_width"], data["lstm_factor"])):
                if network not in networks:
                    continue
                self._paint_ribbon(p, row, widths, factors, first, shown_end, px_per_step,
                                   px_per_unit_y, pal)

    def ribbon_grid(self, px_per_step: float) -> tuple[int, int]:
        """(steps per ribbon bucket, buckets per colour stop) at this zoom."""
        per_bucket = max(1, math.floor(RIBBON_BUCKET_PIXELS / px_per_step))
        stride = max(1, math.ceil((self._view.steps + 1) / per_bucket / RIBBON_COLOUR_STOPS))
        return per_bucket, stride

    def _paint_ribbon(self, p, row, widths, factors, first, last, px_per_step, px_per_unit_y, pal):
        # Buckets of whole steps (~RIBBON_BUCKET_PIXELS each) on a grid that starts at the first
        # column in view, and one colour gradient over every step in view (revealed or not): a
        # repaint of a few columns (a step) draws them exactly as a repaint of the whole view.
        per_bucket, stride = self.ribbon_grid(px_per_step)
        view_first, view_last = self.image_range
        origin = min(getattr(self, "ribbon_start", first), first)

        def buckets(low: int, high: int):
            """(starts, ends) of the grid's buckets clipped to steps low..high."""
            lowest = origin + per_bucket * ((low - origin) // per_bucket)
            edges = np.unique(np.clip(np.arange(lowest, high + 1 + per_bucket, per_bucket), low, high + 1))
            return edges[:-1], edges[1:]

        def centres(starts, ends):  # the centre of each bucket, in steps (edge t sits between t-1 and t)
            return (starts + ends - 1) / 2.0 - 0.5

        # the shape: the revealed buckets in this paint's range
        starts, ends = buckets(first, last)
        w = np.add.reduceat(widths[first:last + 1], starts - first) / (ends - starts)
        x = centres(starts, ends)
        min_w = 1.0 / px_per_unit_y  # never thinner than one pixel
        half = np.maximum(w, min_w) / 2
        yc = (row[0] + row[1]) / 2
        xs = np.concatenate([x, x[::-1]])
        ys = np.concatenate([yc - half, (yc + half)[::-1]])
        path = pg.arrayToQPath(xs, ys, connect="all")
        path.closeSubpath()
        # the colours: stops at every stride-th bucket of the whole view (its gradient's colour
        # table then does not change with what is revealed or repainted)
        low = max(1, min(origin, view_first))
        high = max(view_last, last)
        grid = (low, high, origin, per_bucket, stride, pal.theme)
        kept = self._ribbon_stops.get(row)
        if kept is not None and kept[0] is factors and kept[1] == grid:
            x_first, span, colour_stops = kept[2]  # (a step repaints a few columns: same stops)
        else:
            all_starts, all_ends = buckets(low, high)
            stops = np.flatnonzero(((all_starts - origin) // per_bucket) % stride == 0)
            stops = np.unique(np.concatenate([[0], stops, [len(all_starts) - 1]]))
            f = (np.add.reduceat(factors[low:high + 1], all_starts - low) / (all_ends - all_starts))[stops]
            x_stops = centres(all_starts[stops], all_ends[stops])
            x_first, span = float(x_stops[0]), float(max(x_stops[-1] - x_stops[0], 1e-9))
            colours = _argb(style.edge_rgba(f, pal.theme))  # (one call for every stop)
            colour_stops = [(float((position - x_first) / span), QColor.fromRgba(argb))
                            for position, argb in zip(x_stops, colours)]
            self._ribbon_stops[row] = (factors, grid, (x_first, span, colour_stops))
        grad = QLinearGradient(QPointF(x_first, 0), QPointF(x_first + span, 0))
        grad.setStops(colour_stops)
        p.setPen(Qt.PenStyle.NoPen)  # stroking thousands of points costs more than the fill
        p.setBrush(QBrush(grad))
        p.setOpacity(STRIP_RIBBON_ALPHA)  # the ribbon lies over the cells: let the states show through
        p.drawPath(path)
        p.setOpacity(1.0)

    def _paint_gradient(self, p, data, t0, t1, detailed, pal, networks) -> int:
        """The pulse strips: lit columns k >= front. Returns how many columns are lit in range."""
        front = self._view._pulse_front
        for network, row in (("rnn", RNN_GRAD_ROW), ("lstm", LSTM_GRAD_ROW)):
            if network not in networks:
                continue
            p.fillRect(QRectF(t0 - 0.5, row[0], t1 - t0 + 1, row[1] - row[0]), pal.track)
        if not math.isfinite(front):  # the pulse has not been played
            return 0
        first = max(t0, math.ceil(front))
        if first > t1:
            return 0
        n = t1 - first + 1
        for network, image, key, row in (("rnn", data["rnn_grad_img"], "rnn_gradient_rgba", RNN_GRAD_ROW),
                                         ("lstm", data["lstm_grad_img"], "lstm_gradient_rgba", LSTM_GRAD_ROW)):
            if network not in networks:
                continue
            if detailed:
                columns = self._cell_images(key)  # each step's colour, then a clear gap: one call
                if columns is not None:
                    p.drawImage(QRectF(first - 0.5, row[0], n, row[1] - row[0]), columns,
                                QRectF(first * CELL_SUBCOLUMNS, 0, n * CELL_SUBCOLUMNS, 1))
                    continue
                for k in range(first, t1 + 1):
                    p.drawImage(QRectF(k - CELL_WIDTH / 2, row[0], CELL_WIDTH, row[1] - row[0]),
                                image, QRectF(k, 0, 1, 1))
            else:
                p.drawImage(QRectF(first - 0.5, row[0], n, row[1] - row[0]), image, QRectF(first, 0, n, 1))
        return n

    def _paint_pulse_front(self, p, px_per_step, pal) -> None:
        view = self._view
        if not view.is_pulse_running():
            return
        front = view._pulse_front
        width = max(CELL_WIDTH, 6.0 / px_per_step)
        glow = QLinearGradient(QPointF(front - width, 0), QPointF(front + width, 0))
        c = QColor(pal.pulse)
        clear = QColor(c)
        clear.setAlpha(0)
        glow.setColorAt(0.0, clear)
        glow.setColorAt(0.5, c)
        glow.setColorAt(1.0, clear)
        p.fillRect(QRectF(front - width, Y_RANGE[0], 2 * width, Y_RANGE[1] - Y_RANGE[0]), QBrush(glow))

    def _paint_numbers(self, p, data, t0, t1, revealed, px_per_step, pal, networks) -> None:
        """When zoomed far in: the state values (H = 1) in the cells and each edge's factor
        above its gap, where the text fits."""
        transform = p.transform()
        p.save()
        p.resetTransform()
        font = QFont(p.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        p.setFont(font)
        metrics = QFontMetrics(font)
        h = metrics.height()
        shown_end = min(t1, revealed)
        cell_px = CELL_WIDTH * px_per_step
        gap_px = (1.0 - CELL_WIDTH) * px_per_step
        if gap_px >= metrics.horizontalAdvance("×0.00") + 4:
            p.setPen(pal.muted_text)
            for t in range(max(1, t0), shown_end + 1):
                for network, row, factors, width in (("rnn", RNN_ROW, data["rnn_factor"], data["rnn_width"]),
                                                     ("lstm", LSTM_C_ROW, data["lstm_factor"], data["lstm_width"])):
                    if network not in networks:
                        continue
                    yc = (row[0] + row[1]) / 2
                    anchor = transform.map(QPointF(t - 0.5, yc - width[t] / 2))
                    rect = QRectF(anchor.x() - gap_px / 2, anchor.y() - h - 1, gap_px, h)
                    p.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), f"×{factors[t]:.2f}")
        if data["hidden"] == 1 and cell_px >= metrics.horizontalAdvance("+0.00") + 6:
            for t in range(t0, shown_end + 1):
                for network, row, values, limit in (("rnn", RNN_ROW, data["rnn_S"], 1.0),
                                                    ("lstm", LSTM_C_ROW, data["lstm_C"], data["limit_C"]),
                                                    ("lstm", LSTM_H_ROW, data["lstm_h"], 1.0)):
                    if network not in networks:
                        continue
                    v = float(values[t, 0])
                    centre = transform.map(QPointF(t, (row[0] + row[1]) / 2))
                    p.setPen(qcolour(style.cell_text_role(v, limit), pal.theme))
                    rect = QRectF(centre.x() - cell_px / 2, centre.y() - h / 2, cell_px, h)
                    p.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), f"{v:+.2f}")
        p.restore()


class _LegendBar(QWidget):
    """State colours, edge thickness per factor, and the decades of the gradient colours.

    Two text lines high: titles are centred, colour bars sit on the lower line with their tick
    labels above them."""

    def __init__(self, view: "UnrolledView"):
        super().__init__(view)
        self._view = view
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(900, 2 * QFontMetrics(self.font()).height() + 6)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, self.sizeHint().height())

    def paintEvent(self, event) -> None:
        view = self._view
        pal = view.palette_
        p = QPainter(self)
        p.fillRect(self.rect(), pal.background)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        font = QFont(self.font())
        fm = QFontMetrics(font)
        small = QFont(font)
        small.setPointSizeF(max(6.5, font.pointSizeF() * 0.82))
        sfm = QFontMetrics(small)
        H = self.height()
        bar_h = 9.0
        bar_top = H - bar_h - 5
        x = 8.0
        # Full titles and bars when they fit; shorter ones in a narrow window (1280 px screens).
        limit_C = view._data["limit_C"] if view._data else 1.0  # the C cells' colour levels are +-limit_C
        note_w = sfm.horizontalAdvance(f"(C: ±{limit_C:g})") + 6 if limit_C != 1.0 else 0.0

        def width_of(titles, state_w, wedge_w, bar_w) -> float:  # the x steps of the layout below
            return (8 + sum(fm.horizontalAdvance(t) + 10 for t in titles) + (state_w + 10) + note_w + 18
                    + (wedge_w + 28) + (bar_w + 10))

        full_titles = ("state", "edge = per-step factor", "gradient reaching step k")
        short_titles = ("state", "edge ∝ factor", "gradient at k")
        layouts = ((full_titles, 96.0, 96.0, 170.0), (full_titles, 64.0, 64.0, 112.0),
                   (short_titles, 64.0, 64.0, 112.0))  # the first that fits
        titles, state_w, wedge_w, bar_w = next(
            (layout for layout in layouts if width_of(*layout) <= self.width()), layouts[-1])

        def title(s: str) -> None:
            nonlocal x
            p.setFont(font)
            p.setPen(pal.text)
            p.drawText(QPointF(x, (H + fm.ascent() - fm.descent()) / 2), s)
            x += fm.horizontalAdvance(s) + 10

        def ticks(left: float, width: float, labels: list[tuple[float, str]]) -> None:
            """Tick labels above a bar; the two ends first, inner ones only where they fit."""
            p.setFont(small)
            p.setPen(pal.muted_text)
            placed: list[tuple[float, float]] = []
            ends_first = labels[:1] + labels[-1:] + labels[1:-1] if len(labels) > 1 else labels
            for frac, label in ends_first:
                w = sfm.horizontalAdvance(label)
                tx = min(max(left + frac * width - w / 2, left - 2), left + width - w + 6)
                if any(tx < b + 4 and a < tx + w + 4 for a, b in placed):
                    continue
                placed.append((tx, tx + w))
                p.drawText(QPointF(tx, bar_top - 3), label)

        def colour_bar(image: QImage, width: float) -> float:
            nonlocal x
            left = x
            p.drawImage(QRectF(x, bar_top, width, bar_h), image)
            outline = QPen(pal.cell_outline, 1.0)
            p.setPen(outline)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(QRectF(x, bar_top, width, bar_h))
            x += width + 10
            return left

        # 1. states: S_t and h_t in [-1, 1]; C_t is unbounded, its own symmetric limit
        title(titles[0])
        left = colour_bar(view._state_bar, state_w)
        ticks(left, state_w, [(0.0, "−1"), (0.5, "0"), (1.0, "+1")])
        if limit_C != 1.0:
            p.setFont(small)
            p.setPen(pal.muted_text)
            note = f"(C: ±{limit_C:g})"
            p.drawText(QPointF(x - 4, bar_top + bar_h), note)
            x += sfm.horizontalAdvance(note) + 6
        x += 18
        # 2. edges: a wedge, thickness linear in the factor, saturating at 2
        title(titles[1])
        full = min(style.edge_width(style.FACTOR_SATURATION) * view.pixels_per_y_unit(), H - fm.height() - 4)
        yc = bar_top + bar_h / 2 - 1
        path = QPainterPath(QPointF(x, yc))
        path.lineTo(QPointF(x + wedge_w, yc - full / 2))
        path.lineTo(QPointF(x + wedge_w, yc + full / 2))
        path.closeSubpath()
        grad = QLinearGradient(QPointF(x, 0), QPointF(x + wedge_w, 0))
        grad.setStops(_wedge_stops(pal.theme))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QBrush(grad))
        p.drawPath(path)
        top_label = yc - full / 2
        p.setFont(small)
        p.setPen(pal.muted_text)
        for f, label in ((0.0, "0"), (1.0, "1"), (2.0, "≥2")):
            w = sfm.horizontalAdvance(label)
            tx = x + f / style.FACTOR_SATURATION * wedge_w - w / 2
            p.drawText(QPointF(min(tx, x + wedge_w - w + 6), min(bar_top - 3, top_label - 2)), label)
        x += wedge_w + 28
        # 3. gradient decades of the pulse strips
        lo, hi = view.gradient_range()
        title(titles[2])
        left = colour_bar(view._gradient_bar, bar_w)
        labels = []
        clipped_low, clipped_high = view._data["gradient_clipped"] if view._data else (False, False)
        for n in decade_ticks(lo, hi):
            label = "1" if n == 0 else "10" + _superscript(n)
            if n == lo and clipped_low:
                label = "≤" + label
            if n == hi and clipped_high:
                label = "≥" + label
            labels.append(((n - lo) / (hi - lo), label))
        ticks(left, bar_w, labels)
        p.end()


@functools.cache
def _wedge_stops(theme: str) -> list[tuple[float, QColor]]:
    """The legend wedge's colour stops: style.edge_rgba at a few factors (the same for every paint)."""
    factors = np.array([0.0, 0.5, 1.0, 1.01, 1.5, 2.0])
    return [(float(f / style.FACTOR_SATURATION), _qcolour(rgba))
            for f, rgba in zip(factors, style.edge_rgba(factors, theme))]


def _superscript(n: int) -> str:
    return str(n).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


class UnrolledView(QWidget):
    """RNN (top) and LSTM (bottom) unrolled over time, drawn from the `Unrolled` element of the
    "unrolled" plot description (plots/unrolled.py), with edges encoding the per-step factor.

    API for the main window: show_plot(plot), play_gradient_pulse, render_to_image, and the
    step_clicked signal.
    """

    step_clicked = Signal(int)
    pulse_finished = Signal()

    def __init__(self, parent: QWidget | None = None, show_controls: bool = True,
                 theme: str = style.DEFAULT_THEME):
        super().__init__(parent)
        self.plot: Plot | None = None
        self._element: Unrolled | None = None
        self._data: dict | None = None
        self._made: dict[str, tuple] = {}  # (source array, what was made of it): see _made_of
        self._legend_key: tuple | None = None
        self._pulse_front = 0.0  # columns k >= front are lit (all of them until a pulse is played)
        self._theme = theme
        self._state_bar = _rgba_image(np.concatenate([style.lut("states"), np.full((256, 1), 255, np.uint8)],
                                                     axis=1)[None, :, :])  # legend colour bars
        self._gradient_bar = _rgba_image(np.concatenate([style.lut("gradient"), np.full((256, 1), 255, np.uint8)],
                                                        axis=1)[None, :, :])
        self.palette_ = _Palette(theme)
        background = self.palette_.background

        self.plot_widget = pg.PlotWidget(background=background, axisItems={"bottom": _TimeAxis("bottom")})
        self.plot_item: pg.PlotItem = self.plot_widget.getPlotItem()
        self.view_box: pg.ViewBox = self.plot_item.getViewBox()
        self._setup_plot()

        self._item = _UnrolledItem(self)
        self.view_box.addItem(self._item)
        self._selection = QGraphicsRectItem()
        self._selection.setZValue(-10)
        sel_pen = QPen(self.palette_.selection_edge, 2.0)
        sel_pen.setCosmetic(True)
        self._selection.setPen(sel_pen)
        self._selection.setBrush(self.palette_.selection_fill)
        self._selection.setVisible(False)
        self.view_box.addItem(self._selection, ignoreBounds=True)
        # the Paths view's highlighted path (Unrolled.highlight_x/y), over the cells
        self._highlight = pg.PlotDataItem(symbol="o", symbolSize=8)
        self._highlight.setZValue(10)
        self._highlight.setVisible(False)
        self.view_box.addItem(self._highlight, ignoreBounds=True)

        self._animation = QVariantAnimation(self)
        self._animation.setDuration(PULSE_DURATION_MS)
        self._animation.valueChanged.connect(self._on_pulse_value)
        self._animation.finished.connect(self._on_pulse_finished)

        self.legend = _LegendBar(self)
        self.fit_button = QToolButton(self)
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Show every time step (double-click the view)")
        self.fit_button.clicked.connect(self.fit)
        self.pulse_button = QToolButton(self)
        self.pulse_button.setText("Gradient pulse")
        self.pulse_button.setToolTip("Send the gradient of the loss at step T backwards to step 0")
        self.pulse_button.clicked.connect(self.play_gradient_pulse)
        self.fit_action = QAction("Fit all steps", self)
        self.fit_action.triggered.connect(self.fit)
        self.pulse_action = QAction("Play gradient pulse", self)
        self.pulse_action.triggered.connect(self.play_gradient_pulse)
        self.plot_widget.addAction(self.fit_action)
        self.plot_widget.addAction(self.pulse_action)
        self.plot_widget.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.setSpacing(4)
        top.addWidget(self.legend, 1)
        top.addWidget(self.pulse_button)
        top.addWidget(self.fit_button)
        self.fit_button.setVisible(show_controls)
        self.pulse_button.setVisible(show_controls)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.plot_widget, 1)
        self.setMinimumSize(320, 160)
        qt_palette = self.palette()
        qt_palette.setColor(self.backgroundRole(), background)
        self.setPalette(qt_palette)
        self.setAutoFillBackground(True)

        self.plot_widget.scene().sigMouseClicked.connect(self._on_scene_click)
        self.plot_widget.scene().sigMouseMoved.connect(self._on_scene_hover)
        self.view_box.sigResized.connect(lambda *_: self.legend.update())

    def _setup_plot(self) -> None:
        plot, vb = self.plot_item, self.view_box
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.showGrid(False, False)
        vb.invertY(True)
        vb.setMouseEnabled(x=True, y=False)
        vb.setDefaultPadding(0.0)
        vb.setYRange(*Y_RANGE, padding=0.0)
        left = plot.getAxis("left")
        left.setTicks([[(y, style.unicode(label)) for y, label in ROW_LABELS], []])
        left.setStyle(tickLength=0)
        left.setWidth(118)
        bottom = plot.getAxis("bottom")
        bottom.setLabel("time step t")
        for axis in (left, bottom):
            axis.setPen(self.palette_.muted_text)
            axis.setTextPen(self.palette_.text)

    # --- public API ---------------------------------------------------------------------
    @property
    def steps(self) -> int:
        return 0 if self._element is None else self._element.rnn_cells.shape[1] - 1

    def show_plot(self, plot: Plot) -> None:
        """Draw the "unrolled" description. The view range is kept (a new T fits all steps);
        the newest revealed step is followed while playing."""
        element = plot.panels[0].items[0]
        old = self._element
        old_steps = self.steps
        old_revealed = self.revealed_step()
        self.plot = plot
        self._element = element
        changed = () if old is None else tuple(name for name, same in (("rnn", _same_rnn), ("lstm", _same_lstm))
                                               if not same(old, element))
        same_data = old is not None and not changed
        if not same_data:
            self._data = self._prepare(element)
        T = self.steps
        self.plot_item.getAxis("bottom").last_step = T
        pad = 0.5 + max(0.02 * (T + 1), 0.6)
        self.view_box.setLimits(xMin=-pad, xMax=T + pad, minXRange=2.5, maxXRange=T + 2 * pad,
                                yMin=Y_RANGE[0], yMax=Y_RANGE[1])
        if T != old_steps:
            self.fit()
        elif old is not None and element.revealed != old_revealed:
            self._follow(old_revealed, element.revealed)
        half = 0.5 * (CELL_WIDTH + 1.0) / 2 + 0.05
        self._selection.setRect(QRectF(element.selected - half, Y_RANGE[0] + 0.02, 2 * half,
                                       Y_RANGE[1] - Y_RANGE[0] - 0.04))
        self._selection.setVisible(True)
        self._show_highlight(element)
        if self.is_pulse_running() and T != old_steps:
            self._animation.stop()
            self._animation.setStartValue(float(T + 1))
            self._animation.start()
        if same_data and T == old_steps and not self.is_pulse_running():
            # a step of the transport: the columns newly revealed (or hidden) and the selection
            low, high = sorted((old_revealed, element.revealed))
            steps = list(range(low, high + 1)) if high - low <= 64 else None
            if steps is None:
                self._item.refresh()
            else:
                self._item.refresh_columns(*steps, old.selected, element.selected)
        elif old is not None and T == old_steps and not self.is_pulse_running() \
                and (element.revealed, element.selected) == (old.revealed, old.selected):
            # new results of one network (a turn of U or of W_hf): the other's rows stay as painted
            self._item.refresh_networks(changed)
        else:
            self._item.refresh()
        if not same_data:
            # the legend shows the C cells' limit and the gradient's decades: repainted when they change
            legend_key = (element.C_level, element.gradient_range, element.gradient_clipped)
            if legend_key != self._legend_key:
                self._legend_key = legend_key
                self.legend.update()

    def _show_highlight(self, element: Unrolled) -> None:
        if element.highlight_x is None or not len(element.highlight_x):
            self._highlight.setVisible(False)
            return
        colour = qcolour(element.highlight_colour, self._theme)
        pen = pg.mkPen(colour, width=element.highlight_width)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        self._highlight.setData(element.highlight_x, element.highlight_y, pen=pen, symbolBrush=colour,
                                symbolPen=None)
        self._highlight.setVisible(True)

    def highlight(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The highlighted path drawn now (x = steps, y = row centres), or None."""
        if not self._highlight.isVisible():
            return None
        return np.asarray(self._highlight.xData), np.asarray(self._highlight.yData)

    def _follow(self, old: int, new: int) -> None:
        """Follow the newest step while playing, if it was on screen and walks off the right edge."""
        (x0, x1), _ = self.view_box.viewRange()
        if x0 <= old + 0.5 <= x1 and new + 0.5 > x1:
            shift = new + 0.5 - x1 + 0.1 * (x1 - x0)
            self.view_box.setXRange(x0 + shift, x1 + shift, padding=0.0)

    def revealed_step(self) -> int:
        return 0 if self._element is None else self._element.revealed

    def selected_step(self) -> int | None:
        return None if self._element is None else self._element.selected

    def selection_rect(self) -> QRectF:
        """The highlight band in data coordinates (x = step)."""
        return self._selection.rect() if self._selection.isVisible() else QRectF()

    def play_gradient_pulse(self) -> None:
        """Animate the gradient of the loss at T travelling back to step 0 (~1.5 s)."""
        if self._element is None:
            return
        self._animation.stop()
        self._animation.setStartValue(float(self.steps) + 1.0)
        self._animation.setEndValue(0.0)
        self._animation.start()

    def is_pulse_running(self) -> bool:
        return self._animation.state() == QVariantAnimation.State.Running

    def lit_columns(self) -> int:
        """How many columns of the pulse strips are lit (k >= front)."""
        if self._element is None or not math.isfinite(self._pulse_front):
            return 0
        return max(0, self.steps + 1 - math.ceil(self._pulse_front))

    def fit(self) -> None:
        """Show every time step."""
        T = self.steps
        self.view_box.setXRange(-0.6, T + 0.6, padding=0.0)
        self.view_box.setYRange(*Y_RANGE, padding=0.0)

    def set_time_range(self, first: float, last: float) -> None:
        """Show steps first..last (zoom along time)."""
        self.view_box.setXRange(first - 0.6, last + 0.6, padding=0.0)

    def time_range(self) -> tuple[float, float]:
        (x0, x1), _ = self.view_box.viewRange()
        return x0, x1

    # --- inspectable values -------------------------------------------------------------
    def rnn_edge_width(self, t: int) -> float:
        """Thickness (data units) of the edge S_{t-1} -> S_t."""
        return float(self._data["rnn_width"][t])

    def lstm_edge_width(self, t: int) -> float:
        """Thickness (data units) of the C highway edge C_{t-1} -> C_t."""
        return float(self._data["lstm_width"][t])

    def gradient_range(self) -> tuple[int, int]:
        """(lo, hi) decades of the pulse colour scale."""
        return self._element.gradient_range if self._element is not None else (-10, 0)

    def gradient_display_log10(self, network: str) -> np.ndarray:
        """The clipped log10 values the pulse strip of 'rnn' or 'lstm' shows (always finite)."""
        return np.array(getattr(self._element, f"{network}_gradient_log10"))

    def gradient_colors(self, network: str) -> np.ndarray:
        """(T+1, 4) uint8 RGBA colours of the pulse strip of 'rnn' or 'lstm'."""
        return np.array(getattr(self._element, f"{network}_gradient_rgba"))

    def pixels_per_y_unit(self) -> float:
        height = self.view_box.height()
        return height / (Y_RANGE[1] - Y_RANGE[0]) if height > 0 else 80.0

    def column_center(self, t: int, row: str = "rnn") -> QPoint:
        """Centre of column t in `row` (see ROWS), in `self.plot_widget` viewport coordinates."""
        y0, y1 = ROWS[row]
        return self.map_to_viewport(t, (y0 + y1) / 2)

    def map_to_viewport(self, x: float, y: float) -> QPoint:
        """Data point (step x, row height y) -> `self.plot_widget` viewport coordinates."""
        scene = self.view_box.mapViewToScene(QPointF(x, y))
        return self.plot_widget.mapFromScene(scene)

    def last_paint_stats(self) -> dict:
        """What the last paint drew: mode, visible range, coloured/ghost/lit column counts."""
        return dict(self._item.last_paint)

    # --- export -------------------------------------------------------------------------
    def render_to_image(self, width: int, height: int) -> QImage:
        """The view drawn into a width x height image (same time range, no buttons)."""
        clone = UnrolledView(show_controls=False, theme=self._theme)
        clone.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        if self.plot is not None:
            clone.show_plot(self.plot)
            clone._pulse_front = self._pulse_front
            x0, x1 = self.time_range()
            clone.view_box.setXRange(x0, x1, padding=0.0)
        clone.resize(width, height)
        clone.show()
        clone.layout().activate()
        clone.plot_widget.resizeEvent(None)
        image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(self.palette_.background)
        clone.render(image)
        clone.close()
        clone.deleteLater()
        return image

    # --- internals ----------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        # Short embeddings (e.g. a splitter pane ~160 px high): give the axis title's rows to the cells.
        self.plot_item.getAxis("bottom").showLabel(self.height() >= COMPACT_HEIGHT)
        super().resizeEvent(event)

    def _prepare(self, u: Unrolled) -> dict:
        """QImages and QColors of the description, made once per description's arrays (an array
        that comes again, e.g. the LSTM's cells while U turns, keeps what was made of it)."""
        made = self._made_of

        def image(name, rgba):
            return made(name, rgba, lambda: _rgba_image(rgba))

        def as_list(name, values):
            return made(name, values, lambda: np.asarray(values, dtype=np.float64).tolist())

        return {
            "hidden": u.rnn_cells.shape[0], "limit_C": u.C_level,
            "rnn_S": u.values_rnn_S, "lstm_C": u.values_C, "lstm_h": u.values_h,
            "rnn_img": image("rnn_img", u.rnn_cells), "C_img": image("C_img", u.C_cells),
            "h_img": image("h_img", u.h_cells),
            "rnn_factor": u.rnn_factor, "lstm_factor": u.lstm_factor,
            "rnn_width": u.rnn_edge_width, "lstm_width": u.lstm_edge_width,
            # the edges' colours as 0xAARRGGBB and their widths as Python numbers (a QColor made for
            # the visible edges only, when painted: one call each)
            "rnn_edge_argb": made("rnn_edge_argb", u.rnn_edge_rgba, lambda: _argb(u.rnn_edge_rgba)),
            "lstm_edge_argb": made("lstm_edge_argb", u.lstm_edge_rgba, lambda: _argb(u.lstm_edge_rgba)),
            "rnn_width_list": as_list("rnn_width_list", u.rnn_edge_width),
            "lstm_width_list": as_list("lstm_width_list", u.lstm_edge_width),
            "rnn_grad_img": _rgba_image(u.rnn_gradient_rgba[None, :, :]),
            "lstm_grad_img": _rgba_image(u.lstm_gradient_rgba[None, :, :]),
            "gradient_clipped": u.gradient_clipped,
        }

    def _made_of(self, name: str, source, make):
        """make(), or what it made last time for this very `source` object."""
        kept = self._made.get(name)
        if kept is not None and kept[0] is source:
            return kept[1]
        value = make()
        self._made[name] = (source, value)
        return value

    def _on_pulse_value(self, value) -> None:
        self._pulse_front = float(value)
        self._item.update()

    def _on_pulse_finished(self) -> None:
        self._pulse_front = 0.0
        self._item.update()
        self.pulse_finished.emit()

    def hover_text(self, t: int) -> str:
        """The read-out shown when the mouse rests on column t (means over units when H > 1)."""
        u = self._element
        if u is None or not 0 <= t <= self.steps:
            return ""
        if t > u.revealed:
            return f"t = {t} (not reached yet)"
        mean = "" if u.values_rnn_S.shape[1] == 1 else " (mean over units)"
        table = self.plot.tables[0].columns

        def decades(value: float) -> str:
            return style.plain(style.decades(value)).replace("10", "10^", 1) if style.decades(value) != "0" else "0"

        lines = [f"t = {t}{mean}",
                 f"RNN   S = {u.values_rnn_S[t].mean():+.3f}"
                 + (f"   ‖∂S_t/∂S_t−1‖ = {u.rnn_factor[t]:.3f}" if t > 0 else "")
                 + f"   ‖∂S_T/∂S_t‖ = {decades(table['rnn_log10_dS_T_dS_k'][t])}",
                 f"LSTM  h = {u.values_h[t].mean():+.3f}   C = {u.values_C[t].mean():+.3f}"
                 + (f"   ‖∂C_t/∂C_t−1‖ = {u.lstm_factor[t]:.3f}" if t > 0 else "")
                 + f"   ‖∂C_T/∂C_t‖ = {decades(table['lstm_log10_dC_T_dC_k'][t])}"]
        return "\n".join(lines)

    def _on_scene_hover(self, scene_pos) -> None:
        if self._element is None or not self.view_box.sceneBoundingRect().contains(scene_pos):
            self.plot_widget.setToolTip("")
            return
        t = int(round(self.view_box.mapSceneToView(scene_pos).x()))
        self.plot_widget.setToolTip(self.hover_text(t))

    def _on_scene_click(self, event) -> None:
        if self._element is None or event.button() != Qt.MouseButton.LeftButton:
            return
        if not self.view_box.sceneBoundingRect().contains(event.scenePos()):
            return
        if event.double():
            self.fit()
            return
        t = int(round(self.view_box.mapSceneToView(event.scenePos()).x()))
        if 0 <= t <= self.steps:
            self.step_clicked.emit(t)


def _runs(steps: list[int], gap: float) -> list[tuple[int, int]]:
    """Sorted steps grouped into (first, last) runs, steps closer than `gap` in one run."""
    runs: list[tuple[int, int]] = []
    for t in steps:
        if runs and t - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], t)
        else:
            runs.append((t, t))
    return runs


def _same_rnn(a: Unrolled, b: Unrolled) -> bool:
    """Whether two descriptions draw the same RNN cells, edges and strip (only the revealed and
    selected steps may differ)."""
    return a.rnn_cells is b.rnn_cells and a.values_rnn_S is b.values_rnn_S \
        and np.array_equal(a.rnn_factor, b.rnn_factor) and np.array_equal(a.rnn_gradient_rgba, b.rnn_gradient_rgba)


def _same_lstm(a: Unrolled, b: Unrolled) -> bool:
    """The same for the LSTM's cells (C_t over h_t), highway and strip."""
    return a.C_cells is b.C_cells and a.h_cells is b.h_cells \
        and np.array_equal(a.lstm_factor, b.lstm_factor) and np.array_equal(a.lstm_gradient_rgba, b.lstm_gradient_rgba)


__all__ = ["UnrolledView"]
