"""The window's renderer: a plot description (plots.spec) drawn with pyqtgraph.

`PlotView` shows one `Plot` (its panels stacked, sharing the x axis) and updates in place when a
new description of the same plot arrives: items are matched by key, and an item whose arrays are
the same objects (derived arrays are cached per result, see plots/cache.py) or equal is not
touched, so a step of the transport moves a cursor and a column, not the whole plot.

What the window adds to a description, and the slide renderer does not: the y range stays put
while the data still fits it (calm axes while a knob is dragged, see style.sticky_range), a band
is kept free of data for the legend (measured in pixels), curves denser than the screen are
decimated (pyqtgraph's peak downsampling, clipped to the view; `xData`/`yData` stay whole) and
drawn without antialiasing while a knob is dragged ("draft").
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QVBoxLayout, QWidget

from plots import style
from plots.spec import Bars, Image, Line, Markers, Panel, Plot, Rule, Segments, Text

PEN_STYLE = {"solid": Qt.PenStyle.SolidLine, "dash": Qt.PenStyle.DashLine, "dot": Qt.PenStyle.DotLine,
             "dashdot": Qt.PenStyle.DashDotLine}
SYMBOL = {"d": "d", "o": "o"}
# Above this many points a curve has several points per pixel column: antialiasing a zigzag that
# dense shows no difference but doubles its paint time (measured at T = 1000).
ANTIALIAS_MAX_POINTS = 400
DECIMATE_MIN_POINTS = 2000  # curves longer than this: decimated and clipped to the view
DYNAMIC_RANGE_LIMIT = 1e6  # pyqtgraph's default: values beyond this many view heights are clipped
LEFT_AXIS_WIDTH = 56  # px: the y label's line and ticks up to "−8888" at the window's font
# A legend's band (the part of a plot's height kept free of data for it) may take up to this share:
# a 4-line legend in a 125 px plot at 1280 x 720 needs 75 %; the curves are squeezed under it
# rather than hidden behind it.
LEGEND_MAX_SHARE = 0.8
TEXT_ANCHOR = {"bottom": (0.5, 1.0), "top": (0.5, 0.0), "left": (0.0, 0.5), "right": (1.0, 0.5),
               "center": (0.5, 0.5)}


def qcolour(role: str, theme: str = style.DEFAULT_THEME, alpha: float | None = None) -> QColor:
    return QColor(*style.rgba(role, theme, alpha))


def make_pen(role: str, width: float, dash: str = "solid", alpha: float | None = None, theme=style.DEFAULT_THEME):
    pen = pg.mkPen(qcolour(role, theme, alpha), width=width)
    pen.setStyle(PEN_STYLE[dash])
    return pen


def colour_map(name: str) -> pg.ColorMap:
    lut = style.lut(name)
    return pg.ColorMap(np.linspace(0.0, 1.0, len(lut)), lut)


def _within_view_scale(y, axis) -> bool:
    """Whether every finite value of `y` lies within DYNAMIC_RANGE_LIMIT spans of the axis (the
    range drawn only widens it): pyqtgraph's clipping of far values could not change the curve."""
    if axis is None or not axis.high > axis.low:
        return False
    y = np.asarray(y, dtype=float)
    extent = float(np.fmax.reduce(np.abs(y), initial=0.0))  # (NaN gaps ignored)
    middle = 0.5 * (axis.low + axis.high)
    return extent + abs(middle) <= 0.5 * DYNAMIC_RANGE_LIMIT * (axis.high - axis.low)


def _range_limit(y, items, item) -> float | None:
    """The dynamicRangeLimit for the PlotDataItem `item` drawing `y` in this panel. pyqtgraph clips
    values far outside the view before Qt strokes them, and for that redoes every curve after
    each y-range change: only a curve that can reach that far needs it. (Worked out again only
    for new values or a new axis.)"""
    if items.user_moved:  # zoomed in by hand, the view may be far narrower than the described axis
        return DYNAMIC_RANGE_LIMIT
    axis = items.panel.y if items.panel is not None else None
    decided = getattr(item, "_range_limit_of", None)
    if decided is not None and decided[0] is y and decided[1] == axis:
        return decided[2]
    limit = None if _within_view_scale(y, axis) else DYNAMIC_RANGE_LIMIT
    item._range_limit_of = (y, axis, limit)
    return limit


def _user_moved(items) -> None:
    """The user zoomed or panned a panel: its curves keep pyqtgraph's dynamic range limit from now
    on (the axis of the description no longer bounds what the view shows)."""
    if items.user_moved:
        return
    items.user_moved = True
    for item in items.items.values():
        if isinstance(item, pg.PlotDataItem) and item.opts["dynamicRangeLimit"] != DYNAMIC_RANGE_LIMIT:
            item.setDynamicRangeLimit(DYNAMIC_RANGE_LIMIT)


def _same(a, b) -> bool:
    """Whether two drawn values are the same (arrays: the same object, or equal)."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.size and a.dtype.kind == "f":  # new values mostly differ at once: three looks first
            picks = [0, a.size // 2, a.size - 1]
            x, y = a.flat[picks], b.flat[picks]
            if not ((x == y) | ((x != x) & (y != y))).all():
                return False
        return np.array_equal(a, b, equal_nan=True)
    return a == b


def _relabel(label: pg.LabelItem, html: str, centred: bool) -> bool:
    """Put a new text in a label (a plot's title, a legend entry) without laying its plot or legend
    out again when it fits the room the old one took: pyqtgraph's setText re-lays out the whole
    plot, and throws its axes' drawings away (plot ③'s title names the selected step), or the
    legend (σ_max(U) in plot ①'s, at every change of U). False: it does not fit, and the caller
    sets it the usual way (setText/setTitle, which lays the label out around the new text). A
    legend entry keeps its room (its legend its size)."""
    opts = label.opts
    colour = pg.mkColor(opts.get("color") or pg.getConfigOption("foreground")).name(QColor.NameFormat.HexArgb)
    label.item.setHtml(f"<span style='color: {colour}; font-size: {opts.get('size', '11pt')}'>{html}</span>")
    room = label.itemRect()
    if room.width() > label.minimumWidth() + 0.5 or abs(room.height() - label.minimumHeight()) > 0.5:
        return False
    label.text = html
    if centred:
        label.resizeEvent(None)  # centred again
    return True


def _cache_drawing(item) -> None:
    """Keep the item's drawing as a pixmap until its data or the view changes: a step of the
    transport moves a cursor across a 1000-point curve or a 128 x 1000 image, and the strip the
    cursor leaves is then copied, not drawn again."""
    item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


class _SegmentsItem(pg.GraphicsObject):
    """Straight segments, each with its own width (points, cosmetic) and colour."""

    def __init__(self):
        super().__init__()
        self.segments: Segments | None = None
        self._bounds = QRectF()

    def set_segments(self, segments: Segments) -> None:
        self.prepareGeometryChange()
        self.segments = segments
        xs = np.concatenate([segments.x0, segments.x1]) if len(segments.x0) else np.zeros(1)
        ys = np.concatenate([segments.y0, segments.y1]) if len(segments.y0) else np.zeros(1)
        self._bounds = QRectF(float(xs.min()), float(ys.min()), float(np.ptp(xs)) or 1.0, float(np.ptp(ys)) or 1.0)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, p: QPainter, *args) -> None:
        s = self.segments
        if s is None:
            return
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for x0, y0, x1, y1, width, (r, g, b, a) in zip(s.x0, s.y0, s.x1, s.y1, s.widths, s.colours):
            pen = QPen(QColor(int(r), int(g), int(b), int(a)), float(width))
            pen.setCosmetic(True)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            p.setPen(pen)
            p.drawLine(pg.QtCore.QPointF(float(x0), float(y0)), pg.QtCore.QPointF(float(x1), float(y1)))


class _Cursor(pg.InfiniteLine):
    """The selected step's vertical line. Moving it along x keeps its bounding box: in its own
    coordinates the box spans the view's height and a few pixels across, wherever the line is
    (pyqtgraph works it out again from the view after every move: a fifth of a step's UI time
    went to the six cursors' boxes)."""

    _moving = False

    def __init__(self, **options):
        super().__init__(**options)
        # no geometry-change callbacks: each move went through pyqtgraph's Python itemChange and
        # told the view its bounds changed (a cursor is outside the bounds)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges, False)

    def setPos(self, pos) -> None:
        self._moving = True
        try:
            super().setPos(pos)
        finally:
            self._moving = False

    def viewTransformChanged(self) -> None:
        if not self._moving:  # (the view's range or size changed: the box does)
            super().viewTransformChanged()


class _PanelItems:
    """The pyqtgraph items of one panel, by description key."""

    def __init__(self, plot_item: pg.PlotItem):
        self.plot = plot_item
        self.items: dict[str, object] = {}
        self.drawn: dict[str, object] = {}  # key -> the description item last drawn
        self.legend: pg.LegendItem | None = None
        self.legend_entries: list[str] = []
        self.selection: pg.InfiniteLine | None = None
        self.y_range: tuple[float, float] | None = None
        self.x_range: tuple[float, float] | None = None
        self.panel: Panel | None = None
        self.labels: dict[str, str] = {}
        self.user_moved = False  # the user zoomed or panned this panel (mouse wheel, drag)


class PlotView(QWidget):
    """One plot of the window, drawn from its description. Clicks on a step emit step_clicked;
    the mouse over a panel's hover rows (Panel.hover_rows) emits row_hovered(id), and -1 when it
    leaves them."""

    step_clicked = Signal(int)
    row_hovered = Signal(int)

    def __init__(self, name: str, parent: QWidget | None = None, theme: str = style.DEFAULT_THEME):
        super().__init__(parent)
        self.name = name
        self.theme = theme
        self.plot: Plot | None = None
        self.draft = False
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(qcolour("background", theme))
        self.graphics.ci.setContentsMargins(2, 2, 2, 2)
        self.graphics.ci.setSpacing(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.graphics, 1)
        self.panels: dict[str, _PanelItems] = {}
        self._layout_keys: tuple[str, ...] = ()
        self.graphics.scene().sigMouseClicked.connect(self._clicked)
        # hover rows: every mouse move of the viewport (the scene's sigMouseMoved is rate-limited and
        # may drop the last move, the one where the mouse comes to rest)
        self.graphics.viewport().installEventFilter(self)
        self.hovered_row = -1
        self.setMinimumSize(200, 150)

    # --- the one entry point -----------------------------------------------------------------
    def show_plot(self, plot: Plot) -> None:
        """Draw `plot` (a description of this view's plot), changing only what changed."""
        self.plot = plot
        keys = tuple(panel.key for panel in plot.panels)
        if keys != self._layout_keys:
            self._rebuild_layout(plot)
        if len(plot.panels) > 1:  # each panel's share of the height (it may change with the content)
            for row, panel in enumerate(plot.panels):
                self.graphics.ci.layout.setRowStretchFactor(row, max(1, int(round(panel.height * 10))))
        for panel in plot.panels:
            self._update_panel(self.panels[panel.key], panel, plot)
        # the view's new range applied now, not in the paint: pyqtgraph applies a pending range in
        # prepareForPaint, inside the paint, and the new transform then marks the scene dirty again
        # (plot ① painted twice per knob change, the second time a frame later)
        for items in self.panels.values():
            items.plot.vb.prepareForPaint()

    def set_draft(self, draft: bool) -> None:
        """Draft drawing (no antialiasing) while a knob is dragged: half the paint time of the
        curves. Entering it draws nothing now: the new results of the knob change are drawn as
        drafts (redrawing every curve with the old values first cost the first change after a rest
        ~1.5 ms before its compute was asked for, and a repaint of the plots beside the compute).
        Leaving draft mode redraws in full."""
        if draft == self.draft:
            return
        self.draft = draft
        if draft:
            return
        for items in self.panels.values():
            for item in items.items.values():
                if not isinstance(item, pg.PlotDataItem):
                    continue
                antialias = self._antialias(item.xData)
                if item.opts.get("antialias") == antialias:
                    continue
                if item.xData is None:  # an empty curve: applied at its next setData
                    item.opts["antialias"] = antialias
                else:
                    item.setData(item.xData, item.yData, antialias=antialias)

    # --- layout ----------------------------------------------------------------------------
    def _rebuild_layout(self, plot: Plot) -> None:
        self.graphics.ci.clear()
        self.panels.clear()
        first = None
        for row, panel in enumerate(plot.panels):
            plot_item = pg.PlotItem(enableMenu=False)  # right-click: the export controller's actions menu
            plot_item.hideButtons()
            plot_item.showGrid(x=False, y=False)  # grid lines double the paint time of a plot
            for name in ("left", "bottom"):
                axis = plot_item.getAxis(name)
                axis.setPen(qcolour("muted", self.theme))
                axis.setTextPen(qcolour("foreground", self.theme))
                axis.enableAutoSIPrefix(False)
                _cache_drawing(axis)  # a cursor strip crossing it copies its pixels, not its texts
            # a fixed width: sized to its tick texts, the axis laid the plot out again (and
            # repainted it whole) whenever new results changed their width
            plot_item.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
            if len(plot.panels) > 1:
                plot_item.setMouseEnabled(x=True, y=False)
            self.graphics.ci.addItem(plot_item, row=row, col=0)
            if first is not None:
                plot_item.setXLink(first)
            first = first or plot_item
            if any(p.height != 1.0 for p in plot.panels):  # shares of the height: every row gets its own
                self.graphics.ci.layout.setRowStretchFactor(row, max(1, int(round(panel.height * 10))))
            items = _PanelItems(plot_item)
            plot_item.vb.sigResized.connect(lambda *_args, items=items: QTimer.singleShot(0, lambda: self._refit(items)))
            plot_item.vb.sigRangeChangedManually.connect(lambda *_args, items=items: _user_moved(items))
            self.panels[panel.key] = items
        self._layout_keys = tuple(p.key for p in plot.panels)
        if len(plot.panels) > 1:
            self.graphics.ci.layout.setVerticalSpacing(12)

    def _set_label(self, items: _PanelItems, where: str, text: str) -> None:
        if items.labels.get(where) == text:
            return  # re-laying out an HTML label costs a few ms
        shown = items.labels.get(where)
        items.labels[where] = text
        if where == "title":
            if shown and text and _relabel(items.plot.titleLabel, style.html(text), centred=True):
                return
            items.plot.setTitle(style.html(text) if text else None, size="11pt",
                                color=style.colour("foreground", self.theme))
        else:
            items.plot.setLabel(where, style.html(text) if text else None)
            if not text:
                items.plot.getAxis(where).showLabel(False)

    def _update_panel(self, items: _PanelItems, panel: Panel, plot: Plot) -> None:
        # the same items (a description that moved only its cursor): nothing to compare or redraw
        previous = items.panel
        same_items = previous is not None and previous.items is panel.items
        items.panel = panel
        plot_item = items.plot
        self._set_label(items, "title", panel.title)
        notes = plot.notes if panel is plot.panels[-1] else ()
        x_label = "\n".join([panel.x.label] + [f"({n})" for n in notes]) if panel.x.visible else ""
        self._set_label(items, "bottom", x_label)
        self._set_label(items, "left", panel.y.label)
        # (showing an axis that shows already throws its drawing away: 14 axes redrawn per step)
        if panel.x.visible != items.plot.getAxis("bottom").isVisible():
            plot_item.showAxis("bottom", panel.x.visible)
        if not panel.frame and items.plot.getAxis("left").isVisible():  # a drawing or text panel: no axes
            plot_item.hideAxis("left")
            plot_item.setMouseEnabled(x=False, y=False)
        for axis_name, spec in (("bottom", panel.x), ("left", panel.y)):
            axis = plot_item.getAxis(axis_name)
            ticks = [list(spec.ticks)] if spec.ticks is not None else None
            if getattr(axis, "_drawn_ticks", "unset") != ticks:
                axis._drawn_ticks = ticks
                axis.setTicks(None if ticks is None else [[(v, style.unicode(t)) for v, t in ticks[0]]])
                if axis_name == "bottom" and ticks and any("\n" in t for _, t in ticks[0]):
                    lines = max(t.count("\n") for _, t in ticks[0]) + 1
                    label = 20 if panel.x.label else 0  # the axis label's own line, under the ticks
                    axis.setHeight(15 * lines + 8 + label)
        # items
        if not same_items:
            wanted = []
            for item in panel.items:
                wanted.append(item.key)
                self._draw_item(items, item)
            for key in [k for k in items.items if k not in wanted]:
                self._remove(items, key)
            self._update_legend(items, panel)
        # the selected step
        if panel.selection is not None:
            if items.selection is None:
                items.selection = _Cursor(angle=90, movable=False,
                                          pen=make_pen("select", 1.5, "dash", theme=self.theme))
                items.selection.setZValue(20)
                plot_item.addItem(items.selection, ignoreBounds=True)
            items.selection.setPos(panel.selection)
            items.selection.show()
        elif items.selection is not None:
            items.selection.hide()
        # ranges
        x_range = (panel.x.low, panel.x.high)
        if items.x_range != x_range:
            items.x_range = x_range
            if len(self.panels) > 1 or any(isinstance(i, Image) for i in panel.items):
                # the new limits first: the old ones would clamp a wider range (a run of 3000 steps
                # after an empty plot of 0..1)
                plot_item.setLimits(xMin=x_range[0] - 0.02 * (x_range[1] - x_range[0]),
                                    xMax=x_range[1] + 0.02 * (x_range[1] - x_range[0]))
            plot_item.setXRange(*x_range, padding=0)
        if not (same_items and previous.y == panel.y and previous.legend == panel.legend):
            self._fit_y(items)

    # --- y range with a band free for the legend -------------------------------------------------
    def _refit(self, items: _PanelItems) -> None:
        if items.panel is not None:
            items.y_range = None
            self._fit_y(items)

    def _fit_y(self, items: _PanelItems) -> None:
        panel = items.panel
        low, high = panel.y.low, panel.y.high
        legend = items.legend
        if panel.legend is not None and panel.legend.band is not None and legend is not None and legend.isVisible():
            data = [np.asarray(i.heights if isinstance(i, Bars) else i.y, dtype=float) for i in panel.items
                    if isinstance(i, (Line, Bars, Markers)) and getattr(i, "drives_range", True)]
            values = np.concatenate([d[np.isfinite(d)] for d in data]) if data else np.array([])
            if values.size:
                share = (legend.boundingRect().height() + 10.0) / max(items.plot.vb.height(), 1.0)
                share = min(max(share, 0.0), LEGEND_MAX_SHARE)
                if panel.legend.band == "top":
                    top = float(values.max())
                    high = style.band_limit(low, high, low + (top - low) / (1.0 - share), "top")
                else:
                    bottom = float(values.min())
                    low = style.band_limit(low, high, high - (high - bottom) / (1.0 - share), "bottom")
        sticky = items.y_range is not None and panel.frame  # text and drawings: exactly their range
        new = style.sticky_range(items.y_range, (low, high)) if sticky else (low, high)
        if new != items.y_range:
            items.y_range = new
            items.plot.setYRange(*new, padding=0)

    # --- items ------------------------------------------------------------------------------
    def _antialias(self, x) -> bool:
        return (x is None or len(x) <= ANTIALIAS_MAX_POINTS) and not self.draft

    def _remove(self, items: _PanelItems, key: str) -> None:
        item = items.items.pop(key)
        items.drawn.pop(key, None)
        for part in (item if isinstance(item, tuple) else (item,)):
            items.plot.removeItem(part)

    def _draw_item(self, items: _PanelItems, item) -> None:
        key = item.key
        previous = items.drawn.get(key)
        if previous is not None and type(previous) is not type(item):
            self._remove(items, key)
            previous = None
        if isinstance(item, Line):
            self._draw_line(items, item, previous)
        elif isinstance(item, Bars):
            self._draw_bars(items, item, previous)
        elif isinstance(item, Markers):
            self._draw_markers(items, item, previous)
        elif isinstance(item, Image):
            self._draw_image(items, item, previous)
        elif isinstance(item, Rule):
            self._draw_rule(items, item, previous)
        elif isinstance(item, Text):
            self._draw_text(items, item, previous)
        elif isinstance(item, Segments):
            self._draw_segments(items, item, previous)
        else:
            raise TypeError(f"no pyqtgraph drawing for {type(item).__name__}")
        items.drawn[key] = item

    def _draw_line(self, items: _PanelItems, line: Line, previous: Line | None) -> None:
        curve = items.items.get(line.key)
        if curve is None:
            curve = pg.PlotDataItem(connect="finite")
            _cache_drawing(curve.curve)
            curve.setZValue(3 + line.z)
            items.plot.addItem(curve, ignoreBounds=not line.drives_range)
            items.items[line.key] = curve
            previous = None
        style_changed = previous is None or any(
            getattr(previous, f) != getattr(line, f) for f in ("colour", "width", "dash", "alpha", "marker"))
        if style_changed:
            curve.setPen(make_pen(line.colour, line.width, line.dash, line.alpha, self.theme))
            if line.marker:
                curve.setSymbol(SYMBOL[line.marker])
                curve.setSymbolBrush(qcolour(line.colour, self.theme, line.alpha))
                curve.setSymbolPen(None)
                curve.setSymbolSize(6)
        limit = _range_limit(line.y, items, curve)
        if previous is None or style_changed or not (_same(previous.x, line.x) and _same(previous.y, line.y)):
            # long curves are decimated to what the screen shows (peaks kept) and clipped to the
            # view; short ones are drawn whole (deciding that again after every range change
            # cost a knob change at (32, 100) more than drawing them)
            decimate = len(line.x) > DECIMATE_MIN_POINTS
            if curve.opts["clipToView"] != decimate:
                curve.setDownsampling(auto=decimate, method="peak")
                curve.setClipToView(decimate)
            curve.opts["dynamicRangeLimit"] = limit  # (applied by setData)
            curve.setData(line.x, line.y, antialias=self._antialias(line.x))
        elif curve.opts["dynamicRangeLimit"] != limit:  # the same values, a new axis
            curve.setDynamicRangeLimit(limit)

    def _draw_bars(self, items: _PanelItems, bars: Bars, previous: Bars | None) -> None:
        item = items.items.get(bars.key)
        colours = bars.colours if isinstance(bars.colours, tuple) else (bars.colours,) * len(bars.x)
        if bars.style == "steps":
            if item is None:
                item = pg.PlotDataItem(stepMode="center")
                _cache_drawing(item.curve)
                item.setZValue(3 + bars.z)
                items.plot.addItem(item)
                items.items[bars.key] = item
                previous = None
            limit = _range_limit(bars.heights, items, item)
            if previous is not None and _same(previous.x, bars.x) and _same(previous.heights, bars.heights) \
                    and previous.base == bars.base:
                if item.opts["dynamicRangeLimit"] != limit:  # the same values, a new axis
                    item.setDynamicRangeLimit(limit)
                return
            item.opts["dynamicRangeLimit"] = limit  # (applied by setData)
            x = np.asarray(bars.x, dtype=float)
            edges = np.append(x - bars.width / 2, x[-1] + bars.width / 2) if len(x) else np.zeros(1)
            item.setData(edges, np.asarray(bars.heights, dtype=float), stepMode="center", fillLevel=bars.base,
                         brush=qcolour(colours[0] if colours else "foreground", self.theme, bars.fill_alpha),
                         pen=make_pen(bars.outline or colours[0], 1.2, theme=self.theme),
                         antialias=self._antialias(x))
            return
        if item is None:
            item = pg.BarGraphItem(x=np.zeros(0), height=np.zeros(0), width=bars.width)
            item.setZValue(3 + bars.z)
            items.plot.addItem(item)
            items.items[bars.key] = item
            previous = None
        if previous is not None and _same(previous.x, bars.x) and _same(previous.heights, bars.heights) \
                and previous.colours == bars.colours and previous.base == bars.base and previous.width == bars.width:
            return
        geometry = dict(x=np.asarray(bars.x, dtype=float), height=np.asarray(bars.heights, dtype=float) - bars.base,
                        y0=bars.base, width=bars.width)
        if previous is not None and (previous.colours, previous.fill_alpha, previous.outline, len(previous.x)) == (
                bars.colours, bars.fill_alpha, bars.outline, len(bars.x)):
            item.setOpts(**geometry)  # the same brushes and pens (a step moves plot ③'s bars only)
            return
        item.setOpts(**geometry,
                     brushes=[pg.mkBrush(qcolour(c, self.theme, bars.fill_alpha if bars.fill_alpha < 1 else None))
                              for c in colours],
                     pens=[pg.mkPen(qcolour(bars.outline, self.theme)) if bars.outline else pg.mkPen(None)] * len(colours))

    def _draw_markers(self, items: _PanelItems, markers: Markers, previous: Markers | None) -> None:
        item = items.items.get(markers.key)
        if item is None:
            item = pg.ScatterPlotItem()
            item.setZValue(5 + markers.z)
            items.plot.addItem(item)
            items.items[markers.key] = item
            previous = None
        if previous is None or (previous.symbol, previous.size, previous.fill, previous.colour) != (
                markers.symbol, markers.size, markers.fill, markers.colour):
            # the style as the item's defaults, set when it changes: data given with a style
            # renders the symbol again (a quarter of a millisecond for plot ③'s five diamonds)
            item.setSymbol(SYMBOL[markers.symbol])
            item.setSize(markers.size)
            item.setBrush(pg.mkBrush(qcolour(markers.fill, self.theme)))
            item.setPen(pg.mkPen(qcolour(markers.colour, self.theme), width=1.5))
        elif _same(previous.x, markers.x) and _same(previous.y, markers.y):
            return
        item.setData(np.asarray(markers.x, dtype=float), np.asarray(markers.y, dtype=float))

    def _draw_image(self, items: _PanelItems, image: Image, previous: Image | None) -> None:
        parts = items.items.get(image.key)
        if parts is None:
            item = pg.ImageItem(axisOrder="row-major")
            item.setAutoDownsample(True)  # levels of detail: 5000 columns on a 1600 px screen
            _cache_drawing(item)  # a step moves the veil and the cursor over it, not the image
            items.plot.addItem(item)
            veil = QGraphicsRectItem()
            veil.setBrush(QBrush(qcolour("veil", self.theme)))
            veil.setPen(QPen(Qt.PenStyle.NoPen))
            veil.setZValue(5)
            items.plot.addItem(veil)
            bar = pg.ColorBarItem(values=image.levels, colorMap=colour_map(image.colourmap), interactive=False,
                                  width=10)
            bar.setImageItem(item, insert_in=items.plot)
            parts = (item, veil, bar)
            items.items[image.key] = parts
            previous = None
        item, veil, bar = parts
        x0, x1, y0, y1 = image.extent
        if previous is None or previous.data is not image.data or previous.levels != image.levels \
                or previous.colourmap != image.colourmap:
            # the fast path: float32, row-major, fixed levels, a 256-entry lookup table, no auto levels
            item.setLookupTable(style.lut(image.colourmap))
            item.setImage(image.data, autoLevels=False, levels=image.levels)
        if previous is None or previous.extent != image.extent:
            item.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        if previous is None or previous.levels != image.levels or previous.colourmap != image.colourmap:
            bar.setColorMap(colour_map(image.colourmap))
            bar.setLevels(image.levels)
        if previous is None or previous.veil_from != image.veil_from or previous.extent != image.extent:
            start = x1 if image.veil_from is None else min(max(image.veil_from, x0), x1)
            veil.setRect(QRectF(start, y0, x1 - start, y1 - y0))

    def _draw_rule(self, items: _PanelItems, rule: Rule, previous: Rule | None) -> None:
        line = items.items.get(rule.key)
        if line is None:
            line = pg.InfiniteLine(angle=0 if rule.orientation == "h" else 90, movable=False)
            line.setZValue(2)
            items.plot.addItem(line, ignoreBounds=not rule.in_range)
            items.items[rule.key] = line
            previous = None
        if previous == rule:
            return  # (a new pen repaints the line's whole length: a full-width strip per step)
        if previous is None or (previous.colour, previous.width, previous.dash) != (rule.colour, rule.width, rule.dash):
            line.setPen(make_pen(rule.colour, rule.width, rule.dash, theme=self.theme))
        line.setPos(rule.pos)

    def _draw_text(self, items: _PanelItems, text: Text, previous: Text | None) -> None:
        label = items.items.get(text.key)
        if label is not None and previous is not None and (previous.background, previous.border) != (
                text.background, text.border):
            self._remove(items, text.key)  # (a TextItem's fill and border are set when it is made)
            label = None
        if label is None:
            fill = None if text.background is None else pg.mkBrush(qcolour(text.background, self.theme))
            border = None if text.border is None else pg.mkPen(qcolour(text.border, self.theme), width=1.2)
            label = pg.TextItem(anchor=TEXT_ANCHOR[text.anchor], fill=fill, border=border)
            font = QFont()
            font.setPointSizeF(style.WINDOW_FONTS.small if text.size == "small" else style.WINDOW_FONTS.base)
            label.setFont(font)
            label.setZValue(6)
            items.plot.addItem(label, ignoreBounds=True)
            items.items[text.key] = label
            previous = None
        if previous is None or previous.text != text.text or previous.colour != text.colour:
            label.setHtml(f"<span style='color:{style.colour(text.colour, self.theme)[:7]}; white-space:pre'>"
                          f"{style.html(text.text)}</span>")  # (spaces as written: indents align)
        label.setPos(text.x, text.y)

    def _draw_segments(self, items: _PanelItems, segments: Segments, previous) -> None:
        item = items.items.get(segments.key)
        if item is None:
            item = _SegmentsItem()
            item.setZValue(2 + segments.z)
            items.plot.addItem(item)
            items.items[segments.key] = item
        item.set_segments(segments)

    # --- legend ---------------------------------------------------------------------------------
    def _update_legend(self, items: _PanelItems, panel: Panel) -> None:
        entries = [(i.key, i.label) for i in panel.items if getattr(i, "label", None) and
                   isinstance(i, (Line, Bars, Markers, Rule))]
        if panel.legend is None or not entries:
            if items.legend is not None:
                items.legend.hide()
            return
        signature = [(key, label) for key, label in entries]
        if items.legend is None:
            offset = {"top-left": (8, 8), "top-right": (-8, 8), "bottom-left": (8, -8),
                      "bottom-right": (-8, -8)}[panel.legend.position]
            items.legend = items.plot.addLegend(offset=offset, labelTextSize="8pt", verSpacing=-6,
                                                colCount=panel.legend.columns)
            items.legend.setBrush(pg.mkBrush(qcolour("legend.background", self.theme)))
            items.legend.setPen(pg.mkPen(qcolour("grid", self.theme)))
            items.legend.setLabelTextColor(qcolour("foreground", self.theme))
        items.legend.show()
        if items.legend_entries == signature:
            return
        if [key for key, _ in items.legend_entries] == [key for key, _ in signature]:
            # the same entries, new texts (e.g. "σ_max(U) = 0.9" while U is dragged): relabel in place
            for (_sample, label), (_key, text), (_, shown) in zip(items.legend.items, signature,
                                                                   items.legend_entries):
                if text != shown and not _relabel(label, style.html(text), centred=False):
                    label.setText(style.html(text))  # (laying out the legend again: ~0.4 ms)
            items.legend_entries = signature
            return
        items.legend.clear()
        for item in panel.items:
            label = getattr(item, "label", None)
            if not label:
                continue
            if isinstance(item, Rule):  # a sample of the rule's pen
                sample = pg.PlotDataItem(pen=make_pen(item.colour, max(item.width, 1.5), item.dash, theme=self.theme))
            else:
                sample = items.items.get(item.key)
                if isinstance(sample, pg.BarGraphItem):
                    sample = pg.PlotDataItem(pen=None, symbol="s", symbolBrush=qcolour(
                        item.colours if isinstance(item.colours, str) else item.colours[0], self.theme))
            if sample is not None:
                items.legend.addItem(sample, style.html(label))
        items.legend_entries = signature

    # --- mouse ------------------------------------------------------------------------------
    def _clicked(self, event) -> None:
        if self.plot is None or event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        for items in self.panels.values():
            panel = items.panel
            if panel is None or panel.clickable != "step":
                continue
            vb = items.plot.vb
            if not vb.sceneBoundingRect().contains(event.scenePos()):
                continue
            x = vb.mapSceneToView(event.scenePos()).x()
            steps = round(panel.x.high) if panel.x_is_lag else None
            t = (steps - round(x)) if panel.x_is_lag else round(x)
            high = steps if panel.x_is_lag else math.floor(panel.x.high + 0.5)
            self.step_clicked.emit(int(min(max(t, 0), max(high, 0))))
            return

    def eventFilter(self, watched, event) -> bool:
        if watched is self.graphics.viewport():
            if event.type() == QEvent.Type.MouseMove:
                self._moved(self.graphics.mapToScene(event.position().toPoint()))
            elif event.type() == QEvent.Type.Leave and self.hovered_row != -1:
                self.hovered_row = -1
                self.row_hovered.emit(-1)
        return super().eventFilter(watched, event)

    def _moved(self, scene_pos) -> None:
        """The mouse moved: which hover row (Panel.hover_rows) is under it, if any."""
        row = -1
        for items in self.panels.values():
            panel = items.panel
            if panel is None or not panel.hover_rows or not items.plot.vb.sceneBoundingRect().contains(scene_pos):
                continue
            y = items.plot.vb.mapSceneToView(scene_pos).y()
            row = next((ident for low, high, ident in panel.hover_rows if low <= y < high), -1)
            break
        if row != self.hovered_row:
            self.hovered_row = row
            self.row_hovered.emit(row)

    # --- for tests: what is drawn -------------------------------------------------------------
    def drawn_item(self, key: str, panel: str | None = None):
        """The pyqtgraph item drawn for a description key (in `panel`, default the first)."""
        items = self.panels[panel] if panel is not None else next(iter(self.panels.values()))
        return items.items[key]

    def plot_item(self, panel: str | None = None) -> pg.PlotItem:
        return (self.panels[panel] if panel is not None else next(iter(self.panels.values()))).plot


__all__ = ["PlotView", "colour_map", "make_pen", "qcolour"]
