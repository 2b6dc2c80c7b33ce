"""The slide renderer: a plot description (plots.spec) drawn with matplotlib (Agg, no Qt).

It only translates: every array, colour, range, label and note comes from the description, so a
slide shows what the window shows. `draw_plot` draws one description into a figure or subfigure
and returns the artists by item key (tests compare them with the description);
`render_figure` lays out one plot or the dashboard at a pixel size as a slide.

Slide style: a 16:9 figure is laid out as a 13.33 × 7.5 in slide and rendered at the dpi that
gives the requested pixels, so the type scales with the pixel size (20 pt on the slide). The
six-panel dashboard is laid out on a 1.5× larger slide. A dark theme (light text on a dark
background, for dark slide templates) uses the palette's dark variant.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg  # Figure + Agg canvas: no pyplot, no GUI
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from plots import DASHBOARD_ORDER, style
from plots import unrolled as unrolled_geometry
from plots.spec import Bars, Image, Line, Markers, Panel, Plot, Rule, Segments, Text, Unrolled

SLIDE_HEIGHT_IN = 7.5  # a 16:9 slide is 13.33 x 7.5 in
REFERENCE_PIXELS = (1920, 1080)
LINE_SCALE = 2.0  # window line widths (points at window size) -> slide widths
DASH = {"solid": "-", "dash": (0, (5, 3)), "dot": (0, (1.2, 1.6)), "dashdot": (0, (5, 2, 1.2, 2))}
MARKER = {"d": "D", "o": "o", None: None}

# matplotlib's rcParams are global: one render at a time (the app exports in a worker thread
# while a copy-to-clipboard may render in the GUI thread).
RENDER_LOCK = threading.RLock()


def mpl_colour(role, theme: str, alpha: float | None = None):
    """A palette role (or '#hex') as an RGBA tuple 0..1."""
    r, g, b, a = style.rgba(role, theme, alpha)
    return (r / 255, g / 255, b / 255, a / 255)


def rc_params(theme: str = style.DEFAULT_THEME, fonts: style.FontSizes = style.SLIDE_FONTS) -> dict:
    fg, bg = style.colour("foreground", theme), style.colour("background", theme)
    return {
        "font.size": fonts.base, "axes.titlesize": fonts.title, "axes.titleweight": "bold",
        "axes.labelsize": fonts.base, "xtick.labelsize": fonts.base, "ytick.labelsize": fonts.base,
        "legend.fontsize": fonts.small, "figure.titlesize": fonts.title,
        "lines.linewidth": 4.0, "axes.linewidth": 1.8, "xtick.major.width": 1.8, "ytick.major.width": 1.8,
        "xtick.major.size": 7, "ytick.major.size": 7,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": False,
        "axes.facecolor": bg, "figure.facecolor": bg, "savefig.facecolor": bg,
        "axes.edgecolor": fg, "text.color": fg, "axes.labelcolor": fg, "xtick.color": fg, "ytick.color": fg,
        "legend.frameon": True, "legend.framealpha": 0.85, "legend.facecolor": bg, "legend.edgecolor": "none",
        "mathtext.fontset": "dejavusans", "axes.unicode_minus": True,
        "pdf.fonttype": 42,  # TrueType: text stays text in the PDF
        "svg.fonttype": "path",  # glyphs as paths: looks the same everywhere
        "image.interpolation": "nearest",
        "figure.constrained_layout.h_pad": 0.08, "figure.constrained_layout.w_pad": 0.08,
    }


def colour_map(name: str) -> ListedColormap:
    return ListedColormap(style.lut(name) / 255.0, name=name)


@dataclass
class Drawn:
    """What draw_plot made: the axes per panel key and the artists per item key."""

    axes: dict = field(default_factory=dict)
    artists: dict = field(default_factory=dict)
    bands: list = field(default_factory=list)  # (axes, legend, panel): legend bands to keep free of data


def _t(text: str) -> str:
    return style.mathtext(text)


def _anchor(anchor: str) -> tuple[str, str]:
    """Where the point is relative to the text -> (ha, va)."""
    return {"bottom": ("center", "bottom"), "top": ("center", "top"), "left": ("left", "center"),
            "right": ("right", "center"), "center": ("center", "center")}[anchor]


def draw_plot(container, plot: Plot, theme: str = style.DEFAULT_THEME, fonts: style.FontSizes = style.SLIDE_FONTS,
              compact: bool = False) -> Drawn:
    """Draw `plot` into a Figure or SubFigure (inside rc_context(rc_params(...)))."""
    drawn = Drawn()
    panels = plot.panels
    ratios = [p.height for p in panels]
    if len(panels) == 1:
        axes = [container.add_subplot()]
    else:
        axes = list(np.atleast_1d(container.subplots(len(panels), 1, sharex=True,
                                                     gridspec_kw={"height_ratios": ratios})))
    for ax, panel in zip(axes, panels):
        drawn.axes[panel.key] = ax
        _draw_panel(ax, panel, plot, theme, fonts, compact, drawn, container)
    return drawn


def _draw_panel(ax, panel: Panel, plot: Plot, theme: str, fonts, compact: bool, drawn: Drawn, container) -> None:
    scale = LINE_SCALE if fonts is style.SLIDE_FONTS else 1.0
    handles, labels = [], []
    for item in panel.items:
        key = f"{panel.key}/{item.key}" if len(plot.panels) > 1 else item.key
        if isinstance(item, Line):
            (artist,) = ax.plot(item.x, item.y, color=mpl_colour(item.colour, theme), lw=item.width * scale,
                                ls=DASH[item.dash], alpha=item.alpha, marker=MARKER[item.marker],
                                zorder=3 + item.z)
            if item.label:
                handles.append(artist)
                labels.append(_t(item.label))
        elif isinstance(item, Bars):
            artist = _draw_bars(ax, item, theme, scale)
            if item.label:
                handles.append(artist)
                labels.append(_t(item.label))
        elif isinstance(item, Markers):
            (artist,) = ax.plot(item.x, item.y, ls="none", marker=MARKER[item.symbol],
                                markersize=item.size * scale * 0.9, markerfacecolor=mpl_colour(item.fill, theme),
                                markeredgecolor=mpl_colour(item.colour, theme), markeredgewidth=1.5 * scale,
                                zorder=5 + item.z)
            if item.label:
                handles.append(artist)
                labels.append(_t(item.label))
        elif isinstance(item, Image):
            artist = _draw_image(ax, item, theme, fonts, container)
        elif isinstance(item, Rule):
            draw = ax.axhline if item.orientation == "h" else ax.axvline
            artist = draw(item.pos, color=mpl_colour(item.colour, theme), lw=item.width * scale,
                          ls=DASH[item.dash], zorder=2)
            if item.label:
                handles.append(artist)
                labels.append(_t(item.label))
        elif isinstance(item, Text):
            ha, va = _anchor(item.anchor)
            box = None
            if item.background is not None or item.border is not None:
                box = dict(boxstyle="round,pad=0.2" if item.border else "square,pad=0.12",
                           facecolor="none" if item.background is None else mpl_colour(item.background, theme),
                           edgecolor="none" if item.border is None else mpl_colour(item.border, theme),
                           linewidth=1.2 * scale)
            artist = ax.text(item.x, item.y, _t(item.text), ha=ha, va=va, color=mpl_colour(item.colour, theme),
                             fontsize=fonts.small if item.size == "small" else fonts.base, zorder=6, bbox=box)
            if not panel.frame:  # text inside a text panel: the layout need not measure it (much faster)
                artist.set_in_layout(False)
        elif isinstance(item, Segments):
            artist = LineCollection(np.stack([np.c_[item.x0, item.y0], np.c_[item.x1, item.y1]], axis=1),
                                    linewidths=np.asarray(item.widths) * scale,
                                    colors=np.asarray(item.colours) / 255.0, zorder=2 + item.z, capstyle="round")
            ax.add_collection(artist)
        elif isinstance(item, Unrolled):
            artist = _draw_unrolled(ax, item, panel, theme, fonts, compact, container)
        else:
            raise TypeError(f"no matplotlib drawing for {type(item).__name__}")
        drawn.artists[key] = artist
    if panel.selection is not None and not any(isinstance(i, Unrolled) for i in panel.items):
        drawn.artists[f"{panel.key}/selection"] = ax.axvline(
            panel.selection, color=mpl_colour("select", theme), lw=1.5 * scale, ls=DASH["dash"], zorder=1)
    # axes (the unrolled view sets its own: y grows downwards)
    unrolled = any(isinstance(i, Unrolled) for i in panel.items)
    if not unrolled:
        ax.set_xlim(panel.x.low, panel.x.high)
        ax.set_ylim(panel.y.low, panel.y.high)
    if not panel.frame:  # a drawing or text panel: no axes, only its title
        ax.set_axis_off()
        if panel.title:
            ax.set_title(_t(panel.title), loc="left")
        return
    notes = plot.notes if panel is plot.panels[-1] else ()
    if panel.x.visible and (panel.x.label or notes):
        ax.set_xlabel(_t("\n".join([panel.x.label] + [f"({n})" for n in notes])))
    if not panel.x.visible:
        ax.tick_params(axis="x", labelbottom=False)
    if panel.y.label:
        ax.set_ylabel(_t(panel.y.label))
    for axis, spec in ((ax.xaxis, panel.x), (ax.yaxis, panel.y)):
        if spec.ticks is not None and not (unrolled and axis is ax.yaxis):
            positions = [p for p, _ in spec.ticks]
            names = [_t(n) for _, n in spec.ticks]
            if axis is ax.yaxis and len(spec.ticks) > 6:  # many units: label a few
                keep = sorted({0, len(positions) - 1, len(positions) // 2})
                positions, names = [positions[i] for i in keep], [names[i] for i in keep]
            axis.set_ticks(positions, names)
    if panel.title:
        ax.set_title(_t(panel.title), loc="left" if len(plot.panels) > 1 else "center")
    if panel.key in ("terms",):
        ax.tick_params(axis="x", length=0)
    if panel.legend is not None and handles:
        loc = {"top-left": "upper left", "top-right": "upper right", "bottom-left": "lower left",
               "bottom-right": "lower right"}[panel.legend.position]
        columns = 1 if compact else panel.legend.columns
        legend = ax.legend(handles, labels, loc=loc, ncol=columns, handlelength=2.2)
        drawn.artists[f"{panel.key}/legend"] = legend
        if panel.legend.band is not None:
            drawn.bands.append((ax, legend, panel))


def _draw_bars(ax, bars: Bars, theme: str, scale: float):
    colours = bars.colours if isinstance(bars.colours, tuple) else (bars.colours,) * len(bars.x)
    face = [mpl_colour(c, theme, bars.fill_alpha if bars.fill_alpha < 1 else None) for c in colours]
    heights = np.asarray(bars.heights, dtype=float)
    if bars.style == "steps":
        x = np.asarray(bars.x, dtype=float)
        if not len(x):
            return ax.stairs([], [0.0], baseline=bars.base)
        edges = np.append(x - bars.width / 2, x[-1] + bars.width / 2)
        filled = ax.stairs(heights, edges, baseline=bars.base, fill=True, color=face[0], zorder=3 + bars.z)
        if bars.outline:
            ax.stairs(heights, edges, baseline=bars.base, fill=False, color=mpl_colour(bars.outline, theme),
                      lw=1.2 * scale, zorder=3 + bars.z)
        return filled
    return ax.bar(bars.x, heights - bars.base, bottom=bars.base, width=bars.width, color=face,
                  edgecolor=mpl_colour(bars.outline, theme) if bars.outline else "none", zorder=3 + bars.z)


def _draw_image(ax, image: Image, theme: str, fonts, container):
    x0, x1, y0, y1 = image.extent
    artist = ax.imshow(image.data, cmap=colour_map(image.colourmap), vmin=image.levels[0], vmax=image.levels[1],
                       extent=(x0, x1, y0, y1), origin="lower", aspect="auto", interpolation="nearest", zorder=1)
    if image.veil_from is not None and image.veil_from < x1:
        ax.add_patch(Rectangle((image.veil_from, y0), x1 - image.veil_from, y1 - y0,
                               facecolor=mpl_colour("veil", theme), edgecolor="none", zorder=2))
    if image.colourbar is not None:
        bar = container.colorbar(artist, ax=ax, pad=0.01, fraction=0.05, aspect=8)
        lo, hi = image.levels
        ticks = [lo, 0.5 * (lo + hi), hi]
        bar.set_ticks(ticks)
        bar.ax.set_yticklabels([style.number(v, 2) for v in ticks])
        bar.outline.set_linewidth(1.0)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(True)
    return artist


def keep_bands_free(figure, drawn: list[Drawn]) -> None:
    """After the layout: stretch each y range so its legend's band (top or bottom) covers no data."""
    renderer = figure.canvas.get_renderer()
    for one in drawn:
        for ax, legend, panel in one.bands:
            _keep_band_free(ax, legend, panel, renderer)


def _keep_band_free(ax, legend, panel: Panel, renderer) -> None:
    box = legend.get_window_extent(renderer).transformed(ax.transAxes.inverted())
    low, high = panel.y.low, panel.y.high
    span = high - low
    data = [np.asarray(i.heights if isinstance(i, Bars) else i.y, dtype=float)
            for i in panel.items if isinstance(i, (Line, Bars, Markers)) and getattr(i, "drives_range", True)]
    values = np.concatenate([d[np.isfinite(d)] for d in data]) if data else np.array([])
    if not values.size:
        return
    if panel.legend.band == "top":
        free = min(max(box.y0 - 0.02, 0.3), 1.0)  # the share of the axes below the legend
        top = float(values.max())
        if (top - low) / span > free:
            ax.set_ylim(low, style.band_limit(low, high, low + (top - low) / free, "top"))
    else:
        free = max(min(box.y1 + 0.02, 0.7), 0.0)  # the share above the legend
        bottom = float(values.min())
        if (high - bottom) / span > 1.0 - free:
            ax.set_ylim(style.band_limit(low, high, high - (high - bottom) / (1.0 - free), "bottom"), high)


# --- the unrolled networks ----------------------------------------------------------------------
def _draw_unrolled(ax, u: Unrolled, panel: Panel, theme: str, fonts, compact: bool, container):
    g = unrolled_geometry
    T = u.rnn_cells.shape[1] - 1
    H = u.rnn_cells.shape[0]
    ax.set_xlim(panel.x.low, panel.x.high)
    ax.set_ylim(g.Y_RANGE[1], g.Y_RANGE[0])  # y grows downwards, as in the window
    figure = container.figure if getattr(container, "figure", None) is not None else container
    width_px = container.bbox.width * 0.8
    px_per_step = width_px / max(panel.x.high - panel.x.low, 1e-9)
    detailed = px_per_step >= g.MIN_COLUMN_PIXELS
    revealed = u.revealed
    half = g.CELL_WIDTH / 2
    rows = ((u.rnn_cells, g.RNN_ROW), (u.C_cells, g.LSTM_C_ROW), (u.h_cells, g.LSTM_H_ROW))
    shown = revealed + 1  # columns 0..revealed
    artist = None
    if detailed:
        # one image per row, each step CELL_WIDTH wide with transparent gaps between the cells
        sub = 50
        cell = int(round(g.CELL_WIDTH * sub))
        pad = (sub - cell) // 2
        for cells, (top, bottom) in rows:
            canvas = np.zeros((H, (T + 1) * sub, 4), np.uint8)
            for t in range(shown):
                canvas[:, t * sub + pad: t * sub + pad + cell] = cells[:, t:t + 1]
            artist = ax.imshow(canvas, extent=(-0.5, T + 0.5, bottom, top), aspect="auto", interpolation="nearest",
                               zorder=3)
        outline = mpl_colour("cell.outline", theme)
        for top, bottom in (g.RNN_ROW, (g.LSTM_C_ROW[0], g.LSTM_H_ROW[1])):
            for t in range(shown):
                ax.add_patch(Rectangle((t - half, top), g.CELL_WIDTH, bottom - top, fill=False, edgecolor=outline,
                                       lw=0.8, zorder=4))
            for t in range(shown, T + 1):
                ax.add_patch(Rectangle((t - half, top), g.CELL_WIDTH, bottom - top,
                                       facecolor=mpl_colour("ghost.fill", theme),
                                       edgecolor=mpl_colour("ghost.outline", theme), lw=0.8, zorder=3))
        ax.add_collection(LineCollection([[(t - half, g.LSTM_C_ROW[1]), (t + half, g.LSTM_C_ROW[1])]
                                          for t in range(shown)], colors=[outline], linewidths=0.8, zorder=4))
        # edges in the gaps: thickness = factor (in y units), colour by factor
        min_height = (g.Y_RANGE[1] - g.Y_RANGE[0]) / max(figure.bbox.height * 0.6, 1.0)  # about a pixel
        for (top, bottom), widths, colours in ((g.RNN_ROW, u.rnn_edge_width, u.rnn_edge_rgba),
                                               (g.LSTM_C_ROW, u.lstm_edge_width, u.lstm_edge_rgba)):
            yc = (top + bottom) / 2
            polys, faces = [], []
            for t in range(1, T + 1):
                if t <= revealed:
                    h = max(float(widths[t]), min_height) / 2
                    faces.append(np.asarray(colours[t]) / 255.0)
                else:
                    h = min_height / 2
                    faces.append(mpl_colour("ghost.outline", theme))
                x0, x1 = t - 1 + half, t - half
                polys.append([(x0, yc - h), (x1, yc - h), (x1, yc + h), (x0, yc + h)])
            ax.add_collection(PolyCollection(polys, facecolors=faces, edgecolors="none", zorder=2))
        yc = (g.LSTM_H_ROW[0] + g.LSTM_H_ROW[1]) / 2
        ax.add_collection(LineCollection([[(t - 1 + half, yc), (t - half, yc)] for t in range(1, T + 1)],
                                         colors=[mpl_colour("h.chain", theme) if t <= revealed else
                                                 mpl_colour("ghost.outline", theme) for t in range(1, T + 1)],
                                         linewidths=1.2, zorder=2))
        if H == 1 and px_per_step >= 60:  # zoomed far in: the state values in the cells
            for t in range(shown):
                for (top, bottom), values, limit in ((g.RNN_ROW, u.values_rnn_S, 1.0),
                                                     (g.LSTM_C_ROW, u.values_C, u.C_level),
                                                     (g.LSTM_H_ROW, u.values_h, 1.0)):
                    v = float(values[t, 0])
                    ax.text(t, (top + bottom) / 2, f"{v:+.2f}".replace("-", style.MINUS), ha="center",
                            va="center", fontsize=fonts.small, zorder=5,
                            color=mpl_colour(style.cell_text_role(v, limit), theme))
        if px_per_step >= 60:  # and each edge's factor above its gap
            for t in range(1, shown):
                for (top, bottom), factors, widths in ((g.RNN_ROW, u.rnn_factor, u.rnn_edge_width),
                                                       (g.LSTM_C_ROW, u.lstm_factor, u.lstm_edge_width)):
                    yc = (top + bottom) / 2
                    ax.text(t - 0.5, yc - max(float(widths[t]) / 2, 0.05) - 0.03,
                            f"×{factors[t]:.2f}", ha="center", va="bottom", fontsize=fonts.small,
                            color=mpl_colour("muted", theme), zorder=5)
    else:
        for cells, (top, bottom) in rows:
            if shown:
                artist = ax.imshow(cells[:, :shown], extent=(-0.5, shown - 0.5, bottom, top), aspect="auto",
                                   interpolation="nearest", zorder=3)
        if shown <= T:
            for top, bottom in (g.RNN_ROW, (g.LSTM_C_ROW[0], g.LSTM_H_ROW[1])):
                ax.add_patch(Rectangle((shown - 0.5, top), T + 1 - shown, bottom - top,
                                       facecolor=mpl_colour("ghost.fill", theme), edgecolor="none", zorder=3))
        # the chains as ribbons over the strips: thickness and colour per step
        for (top, bottom), widths, colours in ((g.RNN_ROW, u.rnn_edge_width, u.rnn_edge_rgba),
                                               (g.LSTM_C_ROW, u.lstm_edge_width, u.lstm_edge_rgba)):
            yc = (top + bottom) / 2
            steps = np.arange(1, revealed + 1)
            if len(steps):
                h = np.maximum(widths[steps], 0.01) / 2
                polys = np.stack([np.c_[steps - 1.0, yc - h], np.c_[steps + 0.0, yc - h],
                                  np.c_[steps + 0.0, yc + h], np.c_[steps - 1.0, yc + h]], axis=1)
                faces = colours[steps] / 255.0
                faces[:, 3] *= unrolled_geometry.STRIP_RIBBON_ALPHA
                ax.add_collection(PolyCollection(polys, facecolors=faces, edgecolors="none", zorder=4))
    # the pulse strips: gradient reaching step k
    for colours, (top, bottom) in ((u.rnn_gradient_rgba, g.RNN_GRAD_ROW), (u.lstm_gradient_rgba, g.LSTM_GRAD_ROW)):
        ax.imshow(colours[None, :, :], extent=(-0.5, T + 0.5, bottom, top), aspect="auto", interpolation="nearest",
                  zorder=3)
    # the Paths view's highlighted path, on top of the cells
    if u.highlight_x is not None and len(u.highlight_x):
        scale = LINE_SCALE if fonts is style.SLIDE_FONTS else 1.0
        ax.plot(u.highlight_x, u.highlight_y, color=mpl_colour(u.highlight_colour, theme),
                lw=u.highlight_width * scale, solid_capstyle="round", solid_joinstyle="round", marker="o",
                markersize=u.highlight_width * scale * 1.6, zorder=7)
    # the selected step: a band across every row
    sel_half = 0.5 * (g.CELL_WIDTH + 1.0) / 2 + 0.05
    ax.add_patch(Rectangle((u.selected - sel_half, g.Y_RANGE[0] + 0.02), 2 * sel_half,
                           g.Y_RANGE[1] - g.Y_RANGE[0] - 0.04, facecolor=mpl_colour("select", theme, 0.16),
                           edgecolor=mpl_colour("select", theme), lw=1.5, zorder=1 if detailed else 6,
                           fill=detailed))
    ax.set_yticks([y for y, _ in panel.y.ticks], [_t(n) for _, n in panel.y.ticks])
    ax.tick_params(axis="y", length=0)
    for spine in ("left", "top", "right"):
        ax.spines[spine].set_visible(False)
    if not compact:
        _unrolled_legend(ax, u, theme, fonts, container)
    return artist


def _unrolled_legend(ax, u: Unrolled, theme: str, fonts, container) -> None:
    """Colour bars for the states and the gradient decades, and the edge encoding, under the axes."""
    import matplotlib.cm as cm
    from matplotlib.colors import Normalize

    bar = container.colorbar(cm.ScalarMappable(norm=Normalize(-1, 1), cmap=colour_map("states")), ax=ax,
                             location="bottom", shrink=0.3, aspect=30, pad=0.18, anchor=(0.05, 1.0))
    bar.set_ticks([-1, 0, 1], labels=["−1", "0", f"+1 (C: ±{style.number(u.C_level)})" if u.C_level != 1 else "+1"])
    bar.set_label("state S, h, C", fontsize=fonts.small)
    lo, hi = u.gradient_range
    gbar = container.colorbar(cm.ScalarMappable(norm=Normalize(lo, hi), cmap=colour_map("gradient")), ax=ax,
                              location="bottom", shrink=0.3, aspect=30, pad=0.02, anchor=(0.95, 1.0))
    ticks = unrolled_geometry.decade_ticks(lo, hi)
    names = []
    for n in ticks:
        name = _t(style.decade_label(n))
        if n == lo and u.gradient_clipped[0]:
            name = "≤" + name
        if n == hi and u.gradient_clipped[1]:
            name = "≥" + name
        names.append(name)
    gbar.set_ticks(ticks, labels=names)
    gbar.set_label("gradient reaching step k", fontsize=fonts.small)
    ax.text(0.5, -0.02, "edge thickness ∝ per-step factor (1 = half, ≥ 2 = full); grey → orange: growing",
            transform=ax.transAxes, ha="center", va="top", fontsize=fonts.small, color=mpl_colour("muted", theme))


# --- figures ----------------------------------------------------------------------------------------
def figure_geometry(size) -> tuple[tuple[float, float], float]:
    """(inches, dpi) so that inches * dpi == size and 1920x1080 is a 13.33 x 7.5 in slide."""
    width, height = size
    scale = min(width / REFERENCE_PIXELS[0], height / REFERENCE_PIXELS[1])
    dpi = REFERENCE_PIXELS[1] / SLIDE_HEIGHT_IN * scale
    return (width / dpi, height / dpi), dpi


def render_figure(described: Plot | tuple[Plot, ...], size=REFERENCE_PIXELS, theme: str = style.DEFAULT_THEME,
                  caption: bool = True) -> tuple[Figure, list[Drawn]]:
    """A matplotlib Figure (Agg canvas) of one description (or the dashboard's six), laid out
    as a slide of `size` pixels; with the caption (setup, selected step, revealed steps) under it."""
    inches, dpi = figure_geometry(size)
    dashboard = isinstance(described, tuple)
    with RENDER_LOCK, matplotlib.rc_context(rc_params(theme)):
        fig = Figure(figsize=inches, dpi=dpi, layout="constrained")
        FigureCanvasAgg(fig)
        drawn = []
        scale = 1.5 if dashboard else described.slide_scale  # dense views: a bigger virtual slide
        if scale != 1.0:
            fig.set_size_inches(inches[0] * scale, inches[1] * scale)
            fig.set_dpi(dpi / scale)
        if dashboard:
            grid = fig.subfigures(2, 3, wspace=0.02, hspace=0.02)
            by_name = {plot.name: plot for plot in described}
            for r, row in enumerate(DASHBOARD_ORDER):
                for c, name in enumerate(row):
                    drawn.append(draw_plot(grid[r][c], by_name[name], theme, compact=True))
            text = described[0].caption
        else:
            drawn.append(draw_plot(fig, described, theme))
            text = described.caption
        if caption:
            fig.supxlabel(_t(text), fontsize=style.SLIDE_FONTS.small, color=mpl_colour("muted", theme),
                          ha="center", x=0.5)
        fig.draw_without_rendering()  # run the constrained layout once
        keep_bands_free(fig, drawn)
        fig.draw_without_rendering()  # again with the final y ranges (tick labels may widen), then freeze it
        fig.set_layout_engine("none")
    return fig, drawn


__all__ = ["Drawn", "RENDER_LOCK", "draw_plot", "figure_geometry", "mpl_colour", "rc_params", "render_figure"]
