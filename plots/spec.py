"""The plot description: small frozen dataclasses, no Qt and no plotting library.

A `Plot` is what one panel of the dashboard shows: one or more `Panel`s (axes) holding items
(`Line`, `Bars`, `Markers`, `Image`, `Rule`, `Text`, `Segments`, and the unrolled view's
`Unrolled`), a caption, and the `Table` of the numbers drawn (the CSV). The two renderers
(ui/render/pyqtgraph_renderer.py for the window, ui/render/matplotlib_renderer.py for slides)
only translate these; every choice of data, colour, clipping, label and range is made here, in
the describing functions (plots/<name>.py), from `Results` and the `ViewState`.

Conventions:
- Colours are palette roles (plots/style.PALETTE) or literal '#rrggbb[aa]'; per-element colours
  may be an (n, 4) uint8 RGBA array already mapped by plots/style.
- Text uses style's markup (S_{t-1}, 10^{-3}).
- Every array is float64 (images float32, RGBA uint8) and holds no inf; NaN means "not computed
  yet" (a gap), never a value.
- `key`s are stable names: tests match a renderer's drawn items to the description by key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Line:
    key: str
    x: np.ndarray
    y: np.ndarray
    colour: str
    label: str | None = None  # None: not in the legend
    width: float = 2.0  # points at window size (the slide renderer scales it)
    dash: str = "solid"  # solid | dash | dot | dashdot
    alpha: float = 1.0
    marker: str | None = None  # None | "o" | "d"
    drives_range: bool = True  # theory lines may run far off: they do not set the y range
    z: int = 0


@dataclass(frozen=True)
class Bars:
    key: str
    x: np.ndarray  # bar centres
    heights: np.ndarray  # bar tops (absolute y)
    colours: tuple[str, ...] | str  # one per bar, or one for all
    label: str | None = None
    base: float = 0.0  # bars grow from here (a log plot's floor)
    width: float = 0.62
    fill_alpha: float = 1.0
    outline: str | None = None
    style: str = "bars"  # "bars" (separate) or "steps" (a filled step curve: many bars)
    z: int = 0


@dataclass(frozen=True)
class Markers:
    key: str
    x: np.ndarray
    y: np.ndarray
    colour: str
    label: str | None = None
    symbol: str = "d"  # "d" diamond, "o" circle
    size: float = 9.0  # points at window size
    fill: str = "marker.fill"
    z: int = 5


@dataclass(frozen=True)
class Image:
    key: str
    data: np.ndarray  # (rows, columns) float32, row-major: row = unit, column = step
    extent: tuple[float, float, float, float]  # x0, x1, y0, y1 of the pixel edges
    colourmap: str  # plots/style.COLOURMAPS
    levels: tuple[float, float]
    colourbar: str | None = None  # the colour bar's label (None: no colour bar)
    veil_from: float | None = None  # columns at x >= veil_from are not revealed yet (veiled)


@dataclass(frozen=True)
class Rule:
    """A horizontal ("h") or vertical ("v") line across the panel, optionally labelled."""

    key: str
    orientation: str
    pos: float
    colour: str
    width: float = 1.0
    dash: str = "dash"
    label: str | None = None  # written next to the line, at `label_at` (0..1 along it)
    label_at: float = 0.03
    in_range: bool = True  # the panel's y range holds it


@dataclass(frozen=True)
class Text:
    key: str
    x: float
    y: float
    text: str
    colour: str = "foreground"
    anchor: str = "bottom"  # where the point is relative to the text: bottom | top | left | right | center
    size: str = "small"  # small | base
    background: str | None = None  # a palette role filling the text's box (a label over lines), or none
    border: str | None = None  # a palette role outlining the box (a node of a graph), or none


@dataclass(frozen=True)
class Segments:
    """Straight segments (x0, y0) -> (x1, y1), each with its own width (points) and colour."""

    key: str
    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    widths: np.ndarray
    colours: np.ndarray  # (n, 4) uint8
    z: int = 0


@dataclass(frozen=True)
class Unrolled:
    """The unrolled RNN (top) and LSTM (bottom): one column per step. Cells are coloured by the
    state (per unit, unit 0 on top), the recurrent edges S_{t-1} -> S_t and C_{t-1} -> C_t are as
    thick as their per-step factor (style.edge_width, in y units) and coloured by it
    (style.edge_rgba); the pulse strips hold log10 of the long-range gradient (R2, L7)."""

    rnn_cells: np.ndarray  # (H, T+1, 4) uint8 RGBA of S_t
    C_cells: np.ndarray  # (H, T+1, 4) of C_t
    h_cells: np.ndarray  # (H, T+1, 4) of h_t
    rnn_factor: np.ndarray  # (T+1,) factor of the edge into step t (0 at t = 0)
    lstm_factor: np.ndarray
    rnn_edge_width: np.ndarray  # (T+1,) y units
    lstm_edge_width: np.ndarray
    rnn_edge_rgba: np.ndarray  # (T+1, 4)
    lstm_edge_rgba: np.ndarray
    rnn_gradient_rgba: np.ndarray  # (T+1, 4): log10 ||dS_T/dS_k|| on the gradient map
    lstm_gradient_rgba: np.ndarray
    rnn_gradient_log10: np.ndarray  # (T+1,) clipped to the colour scale (always finite)
    lstm_gradient_log10: np.ndarray
    gradient_range: tuple[int, int]  # decades of the gradient colour scale
    gradient_clipped: tuple[bool, bool]  # values below / above the scale exist (labels say <= / >=)
    C_level: float  # the C cells' colour levels are +-C_level
    revealed: int
    selected: int
    values_rnn_S: np.ndarray  # (T+1, H) for read-outs (H = 1 numbers in the cells)
    values_C: np.ndarray
    values_h: np.ndarray
    key: str = "unrolled"
    # The Paths view's highlighted path along the network (None: none): a polyline through the
    # cells it passes, x = step, y = the row's centre (plots/unrolled.py ROWS), drawn on top.
    highlight_x: np.ndarray | None = None
    highlight_y: np.ndarray | None = None
    highlight_colour: str = "path.highlight"
    highlight_width: float = 3.0  # points at window size (the slide renderer scales it)


@dataclass(frozen=True)
class Axis:
    label: str
    low: float
    high: float
    ticks: tuple[tuple[float, str], ...] | None = None  # None: the renderer picks
    visible: bool = True


@dataclass(frozen=True)
class Legend:
    position: str = "top-right"  # top-left | top-right | bottom-left | bottom-right
    columns: int = 1
    band: str | None = "top"  # keep a band of the panel free of data for the legend: top | bottom | None


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    x: Axis
    y: Axis
    items: tuple = ()
    legend: Legend | None = None
    selection: float | None = None  # x of the selected step's marker (a dashed vertical line)
    clickable: str | None = "step"  # what a click selects: "step" (x -> step via `x_to_step`) or None
    x_is_lag: bool = False  # x = T - k: a click at x selects step T - x
    height: float = 1.0  # share of the plot's height (stacked panels)
    # False: a drawing or text panel (the Paths view): no axes, ticks or frame, a fixed view (no
    # pan or zoom, the y range exactly `y.low .. y.high`, never kept from a previous description).
    frame: bool = True
    # Rows the mouse can point at: (y_low, y_high, id). The window reports the id under the mouse
    # (PlotView.row_hovered); the Paths view highlights that listed path.
    hover_rows: tuple[tuple[float, float, int], ...] = ()

    def find(self, key: str):
        for item in self.items:
            if getattr(item, "key", None) == key:
                return item
        raise KeyError(key)


@dataclass(frozen=True)
class Table:
    """The numbers a plot draws, column by column (the CSV). Columns have equal lengths."""

    name: str
    columns: dict = field(default_factory=dict)

    def rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


@dataclass(frozen=True)
class Plot:
    name: str  # one of plots.PLOT_NAMES
    title: str
    panels: tuple[Panel, ...]
    caption: str  # setup, selected step, revealed steps (slides print it; the window's status bar)
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = ()  # short remarks a renderer shows under the plot (e.g. 'bottom edge = exactly 0')
    partial: bool = False  # drawn from results that are not final yet (never exported)
    # The slide renderer lays this plot out on a slide this many times larger than 13.33 x 7.5 in,
    # type still 20 pt on it (the dashboard's six panels use 1.5): for views dense with text.
    slide_scale: float = 1.0

    def panel(self, key: str) -> Panel:
        for panel in self.panels:
            if panel.key == key:
                return panel
        raise KeyError(key)


__all__ = ["Axis", "Bars", "Image", "Legend", "Line", "Markers", "Panel", "Plot", "Rule", "Segments",
           "Table", "Text", "Unrolled"]
