"""Everything drawn, coloured, clipped or judged, defined once.

Both renderers (pyqtgraph in the window, matplotlib for slides) and every plot description read
this module: one palette (with a light and a dark theme), one set of colour maps (256-entry
lookup tables stored in resources/colormaps), one log-clipping function, one edge-width
encoding, one verdict function, one number format. No Qt and no plotting library here.

Text uses one small markup that both renderers translate: `S_{t-1}` (subscript) and `10^{-3}`
(superscript), everything else plain Unicode (∂, ‖, σ, ∏...). `plain(text)` strips the markup,
`html(text)` gives pyqtgraph's rich text, `mathtext(text)` gives matplotlib's.
"""

from __future__ import annotations

import html as _html
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from simulator import LOG10_OF_ZERO

# --- palette: colour roles -> hex, per theme ---------------------------------------------------
# The data colours are the window's (RNN orange-red, LSTM blue, ...). The dark theme (for
# light-on-dark slide templates) keeps the hues but lightens them to stay readable on black.
PALETTE: dict[str, dict[str, str]] = {
    "light": {
        "rnn": "#d9480f", "lstm": "#1864ab", "naive": "#7b2cbf", "theory": "#495057",
        "select": "#2b8a3e", "one": "#495057", "zero": "#adb5bd",
        "term.forget_path": "#1864ab", "term.via_W_hf": "#e67700", "term.via_W_hi": "#c2255c",
        "term.via_W_hg": "#2f9e44", "term.total": "#212529",
        "background": "#ffffff", "foreground": "#212529", "muted": "#868e96", "grid": "#ced4da",
        "legend.background": "#ffffffcc", "veil": "#ffffffb9",
        "ghost.fill": "#eceff1", "ghost.outline": "#d5d9dd", "track": "#f1f3f4",
        "cell.outline": "#80868b", "h.chain": "#9aa0a6",
        "edge.low": "#bdc1c6", "edge.mid": "#3c4043", "edge.grow": "#e69f00", "edge.high": "#d55e00",
        "pulse": "#56b4e9c8", "marker.fill": "#ffffff", "cell.text.light": "#ffffff", "cell.text.dark": "#202124",
        "error": "#b00020",
        "path.cell": "#1864ab", "path.h": "#d9480f", "path.other": "#868e96", "path.highlight": "#2b8a3e",
        "label.background": "#ffffffe6",
        "train.baseline": "#868e96", "train.success": "#2b8a3e",
    },
    "dark": {
        "rnn": "#ff8a4c", "lstm": "#74c0fc", "naive": "#d0a2ff", "theory": "#ced4da",
        "select": "#69db7c", "one": "#ced4da", "zero": "#868e96",
        "term.forget_path": "#74c0fc", "term.via_W_hf": "#ffc078", "term.via_W_hi": "#faa2c1",
        "term.via_W_hg": "#8ce99a", "term.total": "#f1f3f5",
        "background": "#111418", "foreground": "#f1f3f5", "muted": "#adb5bd", "grid": "#495057",
        "legend.background": "#111418cc", "veil": "#111418b9",
        "ghost.fill": "#2d2f33", "ghost.outline": "#3c4043", "track": "#26282c",
        "cell.outline": "#5f6368", "h.chain": "#9aa0a6",
        "edge.low": "#5f6368", "edge.mid": "#e8eaed", "edge.grow": "#e69f00", "edge.high": "#ff8a4c",
        "pulse": "#56b4e9c8", "marker.fill": "#111418", "cell.text.light": "#ffffff", "cell.text.dark": "#202124",
        "error": "#ff8787",
        "path.cell": "#74c0fc", "path.h": "#ff8a4c", "path.other": "#adb5bd", "path.highlight": "#69db7c",
        "label.background": "#111418e6",
        "train.baseline": "#adb5bd", "train.success": "#69db7c",
    },
}
THEMES = tuple(PALETTE)
DEFAULT_THEME = "light"


def colour(role: str, theme: str = DEFAULT_THEME) -> str:
    """The hex colour (#rrggbb or #rrggbbaa) of a role; a literal '#...' is returned unchanged."""
    if role.startswith("#"):
        return role
    return PALETTE[theme][role]


def rgba(role: str, theme: str = DEFAULT_THEME, alpha: float | None = None) -> tuple[int, int, int, int]:
    """(r, g, b, a) 0..255 of a role; `alpha` (0..1) replaces the colour's own alpha."""
    text = colour(role, theme).lstrip("#")
    r, g, b = (int(text[i:i + 2], 16) for i in (0, 2, 4))
    a = int(text[6:8], 16) if len(text) == 8 else 255
    if alpha is not None:
        a = int(round(255 * alpha))
    return r, g, b, a


FADED_ALPHA = 0.3  # the part of a curve not yet revealed by the transport

# --- line styles ---------------------------------------------------------------------------
DASHES = ("solid", "dash", "dot", "dashdot")

# --- colour maps -----------------------------------------------------------------------------
COLOURMAPS = ("states", "gates", "gradient")  # files in resources/colormaps/<name>.csv


@lru_cache(maxsize=None)
def lut(name: str) -> np.ndarray:
    """The colour map as a (256, 3) uint8 lookup table (read-only)."""
    from resources import RESOURCES_DIR

    if name not in COLOURMAPS:
        raise ValueError(f"unknown colour map {name!r}: one of {', '.join(COLOURMAPS)}")
    table = np.loadtxt(RESOURCES_DIR / "colormaps" / f"{name}.csv", delimiter=",", comments="#",
                       dtype=np.uint8)
    table.setflags(write=False)
    return table


@lru_cache(maxsize=None)
def _rgba_lut(name: str) -> np.ndarray:
    """lut(name) with an opaque alpha column, (256, 4) uint8 (read-only)."""
    table = np.concatenate([lut(name), np.full((256, 1), 255, np.uint8)], axis=1)
    table.setflags(write=False)
    return table


def _finite(values: np.ndarray) -> bool:
    return bool(np.isfinite(values).all())


def map_colours(values: np.ndarray, name: str, levels: tuple[float, float]) -> np.ndarray:
    """values -> (..., 4) uint8 RGBA through the colour map `name` with fixed levels (lo, hi).
    NaN maps to the low end; values beyond the levels saturate."""
    lo, hi = levels
    v = np.asarray(values, dtype=np.float64)
    if not _finite(v):  # (np.nan_to_num copies and checks at every call: a third of the time)
        v = np.nan_to_num(v, nan=lo, posinf=hi, neginf=lo)
    index = np.clip((v - lo) / (hi - lo) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return _rgba_lut(name)[index]


# --- levels of the state colour maps: one definition -----------------------------------------------
def symmetric_level(values: np.ndarray, at_least: float = 1.0) -> float:
    """A fixed symmetric colour range: +-1 for bounded states, rounded up in half units for the
    cell state (stable while a knob is dragged). NaN/inf are ignored."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.abs(values[np.isfinite(values)])
    biggest = float(finite.max()) if finite.size else at_least
    if biggest <= at_least:
        return at_least
    return float(math.ceil(biggest * 2.0) / 2.0)


STATE_LEVELS = {"rnn_S": (-1.0, 1.0), "lstm_h": (-1.0, 1.0), "gate_i": (0.0, 1.0), "gate_f": (0.0, 1.0),
                "gate_g": (-1.0, 1.0), "gate_o": (0.0, 1.0)}
STATE_COLOURMAP = {"rnn_S": "states", "lstm_h": "states", "lstm_C": "states", "gate_i": "gates",
                   "gate_f": "gates", "gate_g": "states", "gate_o": "gates"}


def state_levels(key: str, values: np.ndarray) -> tuple[float, float]:
    """Colour levels of a state/gate heatmap: sigmoid gates (0, 1) on a sequential map, tanh
    states (-1, 1) and the cell state (symmetric, see symmetric_level) on the diverging map."""
    if key == "lstm_C":
        level = symmetric_level(values)
        return (-level, level)
    return STATE_LEVELS[key]


# --- log values: clipping and floors ---------------------------------------------------------------
def is_zero_log(values) -> np.ndarray:
    """Where a log10 array holds the 'exactly zero' marker (or anything non-finite)."""
    values = np.asarray(values, dtype=np.float64)
    return ~np.isfinite(values) | (values <= LOG10_OF_ZERO / 2)


def display_floor(*arrays, margin: float = 1.0, default: float = -20.0) -> float:
    """One decade (margin) below the smallest real value of the arrays: where 'exactly zero' is
    drawn. NaN (not computed yet) and the zero marker are ignored."""
    lows = []
    for values in arrays:
        values = np.asarray(values, dtype=np.float64)
        real = values[~is_zero_log(values)]
        if real.size:
            lows.append(float(real.min()))
    return float(math.floor(min(lows)) - margin) if lows else default


def clip_log10(values, floor: float, ceiling: float | None = None) -> np.ndarray:
    """Display values of a log10 array: the 'exactly zero' marker and -inf go to `floor`, NaN (not
    computed yet) stays NaN (a gap), anything beyond [floor, ceiling] is clipped."""
    values = np.asarray(values, dtype=np.float64)
    out = np.where(np.isnan(values), np.nan, np.where(is_zero_log(values), floor, values))
    out = np.maximum(out, floor, where=~np.isnan(out), out=out)
    if ceiling is not None:
        out = np.minimum(out, ceiling, where=~np.isnan(out), out=out)
    return out


def finite_or(values, fill: float = 0.0) -> np.ndarray:
    """A linear-scale array safe to draw: NaN -> fill, +-inf -> +-1e300 (a new array)."""
    values = np.asarray(values, dtype=np.float64)
    if _finite(values):
        return values.copy()
    return np.nan_to_num(values, nan=fill, posinf=1e300, neginf=-1e300)


# --- axis ranges ----------------------------------------------------------------------------
def nice_step(span: float) -> float:
    """A 1-2-5 step that cuts `span` into at most ~8 intervals."""
    raw = max(span, 1e-12) / 8.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10.0 * magnitude


def nice_range(low: float, high: float, pad: float = 0.06, min_span: float = 1e-9) -> tuple[float, float]:
    """[low, high] padded and snapped outwards to a 1-2-5 grid. `min_span` keeps a flat line
    (e.g. an all-zero BPTT: every bar on the floor) from zooming into rounding noise."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return (-1.0, 1.0)
    if high - low < min_span:
        middle = 0.5 * (low + high)
        low, high = middle - 0.5 * min_span, middle + 0.5 * min_span
    span = high - low
    low, high = low - pad * span, high + pad * span
    step = nice_step(high - low)
    return (math.floor(low / step) * step, math.ceil(high / step) * step)


def band_limit(low: float, high: float, needed: float, side: str) -> float:
    """The y limit on the legend's `side` ("top" or "bottom") of the range [low, high] that leaves
    its band free: `needed` (the renderer's measure of the legend) snapped outwards to the range's
    1-2-5 step (nice_step), so a knob that moves the data a little moves no limit (a new range
    relays out and repaints the whole plot, axes and ticks included)."""
    step = nice_step(high - low)
    if side == "top":
        return max(high, math.ceil(needed / step - 1e-9) * step)
    return min(low, math.floor(needed / step + 1e-9) * step)


LOG_MIN_SPAN = 1.0  # a log10 axis always spans at least one decade


def sticky_range(current: tuple[float, float] | None, wanted: tuple[float, float]) -> tuple[float, float]:
    """The window keeps its y range while the wanted one still fits in it and fills at least a
    third of it (calm axes while a knob is dragged); otherwise it takes the wanted range."""
    if current is not None:
        a, b = current
        low, high = wanted
        if a <= low and high <= b and (high - low) >= (b - a) / 3.0:
            return current
    return wanted


# --- the unrolled view's edges: factor -> thickness and colour, one encoding ------------------------
FACTOR_SATURATION = 2.0
MAX_EDGE_WIDTH = 0.34  # thickness (in y data units of the unrolled view) at factor >= 2; 1 -> half


def edge_width(factor) -> np.ndarray | float:
    """Edge thickness for a per-step factor: 0 -> 0, 1 -> half, >= 2 -> full (linear between)."""
    f = np.clip(np.nan_to_num(np.asarray(factor, dtype=float), nan=0.0, posinf=FACTOR_SATURATION),
                0.0, FACTOR_SATURATION)
    width = f / FACTOR_SATURATION * MAX_EDGE_WIDTH
    return float(width) if width.ndim == 0 else width


def edge_rgba(factor, theme: str = DEFAULT_THEME) -> np.ndarray:
    """Edge colour per factor, (..., 4) uint8: faint grey (0) -> strong neutral (1) -> orange just
    above 1 -> vermillion (>= 2): growth is flagged in colour as well as thickness."""
    f = np.clip(np.nan_to_num(np.asarray(factor, dtype=float), nan=0.0, posinf=FACTOR_SATURATION),
                0.0, FACTOR_SATURATION)
    low, mid, grow, high = (np.array(rgba(r, theme), dtype=float)
                            for r in ("edge.low", "edge.mid", "edge.grow", "edge.high"))
    s = np.minimum(f, 1.0)[..., None]
    below = low + (mid - low) * s
    s2 = np.clip(f - 1.0, 0.0, 1.0)[..., None]
    above = grow + (high - grow) * s2
    out = np.where((f <= 1.0)[..., None], below, above)
    return np.round(out).astype(np.uint8)


# --- the Paths view's edges: |path value| -> thickness on a log scale, one encoding ---------------
PATH_WIDTH_MAX = 8.0  # points at window size (the slide renderer scales it): the largest path
PATH_WIDTH_MIN = 0.8  # PATH_DECADES or more below the largest, and exactly 0
PATH_DECADES = 3.0  # the log scale spans three decades below the largest path (a tenth: 2/3 as thick)


def path_width(log10_abs, log10_largest: float) -> np.ndarray | float:
    """Line width (points) of a path, or of an edge carrying it, from log10 |value| (H = 1) or
    log10 ||value||_F: linear in the decades below the largest path shown, `log10_largest`
    (PATH_WIDTH_MAX) down to PATH_DECADES below it (PATH_WIDTH_MIN). The 'exactly zero' marker
    (and NaN) is the thinnest."""
    values = np.asarray(log10_abs, dtype=float)
    below = np.where(is_zero_log(values), PATH_DECADES, float(log10_largest) - values)
    below = np.clip(np.nan_to_num(below, nan=PATH_DECADES), 0.0, PATH_DECADES)
    width = PATH_WIDTH_MAX - (PATH_WIDTH_MAX - PATH_WIDTH_MIN) * below / PATH_DECADES
    return float(width) if width.ndim == 0 else width


def cell_text_role(value: float, limit: float) -> str:
    """A number written on a state-coloured cell: light on the dark ends of the map, else dark."""
    return "cell.text.light" if abs(value) > 0.55 * limit else "cell.text.dark"


# --- verdicts: one judgement, used by the formula panel, the status bar and the captions -----------
VANISHING_DECADES = -2.0  # a long-range gradient below 10^-2 has vanished, above 10^2 exploded
STEP_BAND = 0.05  # a per-step factor (norm) within 1 +- 0.05 keeps the gradient (1.1^50 = 117: it grows)


def verdict_log10(log10_value: float) -> str:
    """'vanishing', 'exploding', 'kept' or 'exactly 0' for a log10 gradient norm."""
    if not math.isfinite(log10_value) or log10_value <= LOG10_OF_ZERO / 2:
        return "exactly 0"
    if log10_value < VANISHING_DECADES:
        return "vanishing"
    if log10_value > -VANISHING_DECADES:
        return "exploding"
    return "kept"


def verdict_factor(norm: float) -> str:
    """What one step's factor does to the gradient, judged from its NORM (never from a
    diagonal mean): 'shrinks', 'grows' or 'keeps (≈ 1)'."""
    norm = abs(float(norm))
    if norm < 1.0 - STEP_BAND:
        return "shrinks"
    if norm > 1.0 + STEP_BAND:
        return "grows"
    return "keeps (≈ 1)"


# --- numbers ----------------------------------------------------------------------------------
MINUS = "−"


def number(value: float, digits: int = 3) -> str:
    """`digits` significant digits, a real minus sign."""
    value = float(value)
    if not math.isfinite(value):
        return "∞" if value > 0 else ("−∞" if value < 0 else "NaN")
    return f"{value:.{digits}g}".replace("-", MINUS)


def fixed(value: float) -> str:
    """Three decimals for everyday sizes, scientific notation for tiny or huge ones."""
    value = float(value)
    if value == 0.0:
        return "0.000"
    if 1e-3 <= abs(value) < 1e5:
        text = f"{value:.3f}"
    else:
        text = f"{value:.3e}"
    return text.replace("-", MINUS)


def decades(log10_value: float) -> str:
    """'10^{-7.2}' (markup) for a log10 value; '0' for exactly zero."""
    if not math.isfinite(log10_value) or log10_value <= LOG10_OF_ZERO / 2:
        return "0"
    return "10^{" + f"{log10_value:.1f}".replace("-", MINUS) + "}"


def decade_label(n: int) -> str:
    return "1" if n == 0 else "10^{" + str(n).replace("-", MINUS) + "}"


# --- text markup ---------------------------------------------------------------------------------
_MARK = re.compile(r"([_^])\{([^{}]*)\}")


def plain(text: str) -> str:
    """The text without markup: 'S_{t-1}' -> 'St-1' (for comparisons and CSV headers)."""
    return _MARK.sub(lambda m: m.group(2), text)


_SUB = dict(zip("0123456789+-−=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))
_SUP = dict(zip("0123456789+-−=()in", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁱⁿ"))


def unicode(text: str) -> str:
    """Plain Unicode for places without rich text (axis tick labels): sub- and superscripts as
    Unicode characters where every character has one ('f_{t}' -> 'fₜ'), else '_'/'^' ('W_hf')."""
    def one(m) -> str:
        table = _SUB if m.group(1) == "_" else _SUP
        inner = m.group(2)
        if all(ch in table for ch in inner):
            return "".join(table[ch] for ch in inner)
        return m.group(1) + inner
    return _MARK.sub(one, text)


def html(text: str) -> str:
    """pyqtgraph rich text: subscripts and superscripts as <sub>/<sup>."""
    out, last = [], 0
    for m in _MARK.finditer(text):
        out.append(_html.escape(text[last:m.start()]))
        tag = "sub" if m.group(1) == "_" else "sup"
        out.append(f"<{tag}>{_html.escape(m.group(2))}</{tag}>")
        last = m.end()
    out.append(_html.escape(text[last:]))
    return "".join(out).replace("\n", "<br>")


def mathtext(text: str) -> str:
    """matplotlib text: subscripts and superscripts as mathtext, the rest as it is ('$' escaped)."""
    out, last = [], 0
    for m in _MARK.finditer(text):
        out.append(text[last:m.start()].replace("$", r"\$"))
        inner = m.group(2).replace(MINUS, "-").replace(" ", r"\ ")
        inner = inner.replace("(", "(").replace("∂", r"\partial ")
        out.append(f"$_{{{inner}}}$" if m.group(1) == "_" else f"$^{{{inner}}}$")
        last = m.end()
    out.append(text[last:].replace("$", r"\$"))
    return "".join(out)


@dataclass(frozen=True)
class FontSizes:
    """Type sizes in points: `base` for labels and ticks; titles a little larger."""

    base: float
    small: float
    title: float


WINDOW_FONTS = FontSizes(base=8.5, small=8.0, title=11.0)
SLIDE_FONTS = FontSizes(base=20.0, small=20.0, title=22.0)  # on a 13.33 x 7.5 in slide: nothing under 20 pt


__all__ = [
    "COLOURMAPS", "DASHES", "DEFAULT_THEME", "FACTOR_SATURATION", "FADED_ALPHA", "LOG_MIN_SPAN",
    "MAX_EDGE_WIDTH", "MINUS", "PALETTE", "PATH_DECADES", "PATH_WIDTH_MAX", "PATH_WIDTH_MIN", "SLIDE_FONTS",
    "STATE_COLOURMAP", "THEMES", "WINDOW_FONTS",
    "clip_log10", "colour", "unicode", "decade_label", "decades", "display_floor", "edge_rgba", "edge_width",
    "finite_or", "fixed", "html", "is_zero_log", "lut", "map_colours", "mathtext", "nice_range",
    "nice_step", "number", "path_width", "plain", "rgba", "state_levels", "sticky_range",
    "symmetric_level",
    "verdict_factor", "verdict_log10",
]
