"""Slide-quality figures of a simulation, re-rendered from the data with matplotlib (Agg only).

No Qt here: the headless export (`main.py --export`) and the app's Export... both use this
module, so it must work without a display. Every plot in `ui.PLOT_NAMES` is drawn from a
`simulator.Results`, a selected step t (the (L4) terms, the unrolled chain and the dashed
marker are at t) and a revealed step r (default T: like the app's transport, only steps 0..r
are drawn, k <= r for the long-range and BPTT arrays, which are for the loss at the last step
T). Axes always cover the whole run, so a GIF stepping r = t through 0..T does not rescale.

    fig = render_figure(results, "long-range", step=None, size=(1920, 1080), revealed=None)
    export(results, "long-range", "out.svg")          # .png .svg .pdf .csv .gif, written atomically
    write_csv(results, "terms", "terms.csv", step=12)  # exactly the numbers that are plotted
    write_gif(results, "unrolled.gif", plot="unrolled", fps=8, frames=40)

Slide style: a 16:9 figure is laid out as a 13.33 x 7.5 in slide (PowerPoint's size) and
rendered at the dpi that gives the requested pixels, so the type scales with the pixel size:
the smallest type is 20 pt on that slide (40 px at 1080p). The six-panel dashboard is laid out
on a 1.5x larger slide, so its smallest type is 20 pt at 96 dpi on a 1080p screen (27 px).
SVG and PDF have the same layout with the requested size as their aspect ratio; heatmaps are
embedded images there, colour bars included. Colours are Okabe-Ito (colour-blind safe), lines
thick, labels in the notes' symbols. Log arrays may hold LOG10_OF_ZERO ("exactly zero"): it
is drawn on the bottom edge of the axis, the legend says so, and no inf or NaN reaches a plot.

CSV: one plot is one wide table with a header (steps as rows); the dashboard is one long table
`plot,column,row,value`. Numbers round-trip exactly (repr); LOG10_OF_ZERO is written -inf.
Files are written by simulator/files.py: atomically (temporary file in the same folder, then
os.replace), through symlinks, never over a read-only file, a FIFO or a folder; any OSError is an
ExportError naming the file. `export_bytes` renders without writing (the headless export stages
several files with it).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.backends.backend_agg import FigureCanvasAgg  # Figure + Agg canvas: no pyplot, no GUI backend
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from simulator import LOG10_OF_ZERO, TERM_NAMES, Results, files

from . import PLOT_NAMES

# --- formats and limits --------------------------------------------------------------------
FIGURE_FORMATS = ("png", "svg", "pdf")
EXPORT_FORMATS = (*FIGURE_FORMATS, "csv", "gif")
DEFAULT_SIZE = (1920, 1080)
MAX_SIZE = (3840, 2160)  # PNG/GIF pixels; vector output keeps the same limit for one simple rule
MIN_SIDE = 200
MAX_ASPECT = 3.0
MAX_GIF_FRAMES = 600
MAX_GIF_FPS = 50  # GIF delays are in 1/100 s; browsers slow down anything faster

# --- slide style ---------------------------------------------------------------------------
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7",
    "grey": "#6E6E6E",
}
RNN_COLOUR = OKABE_ITO["vermillion"]
LSTM_COLOUR = OKABE_ITO["blue"]
NAIVE_COLOUR = OKABE_ITO["sky_blue"]
THEORY_COLOUR = OKABE_ITO["grey"]
TERM_COLOURS = {
    "forget_path": OKABE_ITO["bluish_green"], "via_W_hf": OKABE_ITO["orange"],
    "via_W_hi": OKABE_ITO["sky_blue"], "via_W_hg": OKABE_ITO["reddish_purple"],
    "total": OKABE_ITO["black"],
}
TERM_LABELS = {
    "forget_path": "$f_t$\n(forget)", "via_W_hf": "via\n$W_{hf}$", "via_W_hi": "via\n$W_{hi}$",
    "via_W_hg": "via\n$W_{hg}$", "total": "sum\n(L4)",
}
STATE_CMAP = "RdBu_r"  # diverging, ColorBrewer's colour-blind-safe red/blue

SLIDE_HEIGHT_IN = 7.5  # a 16:9 slide is 13.33 x 7.5 in
REFERENCE_PIXELS = (1920, 1080)
BASE_PT = 20.0  # the smallest type on a slide

# matplotlib's rcParams are global: one render at a time (the app exports in a worker thread
# while a copy-to-clipboard may render in the GUI thread).
_RENDER_LOCK = threading.RLock()

STYLE = {
    "font.size": BASE_PT,
    "axes.titlesize": BASE_PT + 2,
    "axes.titleweight": "bold",
    "axes.labelsize": BASE_PT,
    "xtick.labelsize": BASE_PT,
    "ytick.labelsize": BASE_PT,
    "legend.fontsize": BASE_PT,
    "figure.titlesize": BASE_PT + 4,
    "lines.linewidth": 4.0,
    "lines.markersize": 10,
    "axes.linewidth": 1.8,
    "xtick.major.width": 1.8,
    "ytick.major.width": 1.8,
    "xtick.major.size": 7,
    "ytick.major.size": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#B0B0B0",
    "grid.alpha": 0.5,
    "grid.linewidth": 1.0,
    "axes.facecolor": "white",
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.edgecolor": "#222222",
    "text.color": "#111111",
    "axes.labelcolor": "#111111",
    "xtick.color": "#222222",
    "ytick.color": "#222222",
    "legend.frameon": True,  # a light box, so a legend over dense data stays readable
    "legend.framealpha": 0.85,
    "legend.facecolor": "white",
    "legend.edgecolor": "none",
    "mathtext.fontset": "dejavusans",
    "axes.unicode_minus": True,
    "pdf.fonttype": 42,  # TrueType: text stays text in the PDF
    "svg.fonttype": "path",  # glyphs as paths: looks the same everywhere
    "image.interpolation": "nearest",
    "figure.constrained_layout.h_pad": 0.08,
    "figure.constrained_layout.w_pad": 0.08,
}

SYM_DS = r"\partial S_t/\partial S_{t-1}"
SYM_DC = r"\partial C_t/\partial C_{t-1}"


class ExportError(ValueError):
    """A bad export request (size, format, step, frames...). The message is one line for the user."""


# --- sizes -----------------------------------------------------------------------------------
def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080); ExportError if malformed or out of limits."""
    match = re.fullmatch(r"([0-9]+)x([0-9]+)", str(text).lower().replace(" ", ""))  # ASCII digits only
    if match is None:
        raise ExportError(f"bad size {text!r}: expected WIDTHxHEIGHT in pixels, e.g. 1920x1080")
    if max(len(match.group(1)), len(match.group(2))) > 9:  # (int() of thousands of digits is refused)
        raise ExportError(f"bad size {_short_text(text)}: at most {MAX_SIZE[0]}x{MAX_SIZE[1]} pixels (PNG export limit)")
    return check_size((int(match.group(1)), int(match.group(2))))


def _short_text(text, limit: int = 40) -> str:
    shown = repr(str(text))
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


def check_size(size) -> tuple[int, int]:
    width, height = int(size[0]), int(size[1])
    if width > MAX_SIZE[0] or height > MAX_SIZE[1]:
        raise ExportError(
            f"bad size {width}x{height}: at most {MAX_SIZE[0]}x{MAX_SIZE[1]} pixels (PNG export limit)"
        )
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ExportError(f"bad size {width}x{height}: each side must be at least {MIN_SIDE} pixels")
    if max(width / height, height / width) > MAX_ASPECT:
        raise ExportError(f"bad size {width}x{height}: aspect ratio must be at most {MAX_ASPECT:g}:1")
    return width, height


def figure_geometry(size) -> tuple[tuple[float, float], float]:
    """(inches, dpi) so that inches * dpi == size and 1920x1080 is a 13.33 x 7.5 in slide."""
    width, height = size
    scale = min(width / REFERENCE_PIXELS[0], height / REFERENCE_PIXELS[1])
    dpi = REFERENCE_PIXELS[1] / SLIDE_HEIGHT_IN * scale
    return (width / dpi, height / dpi), dpi


def format_of(path) -> str:
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in EXPORT_FORMATS:
        shown = ext and f".{ext}" or "none"
        raise ExportError(
            f"unknown file type {shown!r} for {str(path)!r}: use one of "
            + ", ".join(f".{e}" for e in EXPORT_FORMATS)
        )
    return ext


def check_plot(plot: str) -> str:
    if plot not in PLOT_NAMES:
        raise ExportError(f"unknown plot {plot!r}: choose one of {', '.join(PLOT_NAMES)}")
    return plot


def check_step(results: Results, step) -> int:
    T = results.steps
    if step is None:
        return T
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or not 0 <= step <= T:
        raise ExportError(f"step {step!r} is out of range: the run has steps 0..{T}")
    return int(step)


# --- the numbers behind each plot ---------------------------------------------------------------
def _is_zero_log(values: np.ndarray) -> np.ndarray:
    return np.asarray(values) <= LOG10_OF_ZERO / 2


@dataclass
class Table:
    """One table of plotted numbers: columns in order, each a 1-D array or list of the same length."""

    name: str
    columns: dict = field(default_factory=dict)

    def rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


def _sigma(x):
    return float(np.exp(-np.logaddexp(0.0, -x)))


def forget_bias(results: Results) -> tuple[float, str]:
    """The forget-gate bias of the theory line sigma(b_f)^lag (Results.forget_bias) and its symbol."""
    return results.forget_bias(), (r"\max\, b_f" if results.setup.bias_offsets.b_f else "b_f")


def plot_tables(results: Results, plot: str, step=None, revealed=None) -> list[Table]:
    """The numbers each plot draws, as tables: steps 0..revealed (default T) of the run, the
    (L4) terms and the unrolled chain at the selected step.  Log columns hold the
    simulator's values, LOG10_OF_ZERO included (write_csv writes it as -inf)."""
    check_plot(plot)
    t = check_step(results, step)
    r = check_step(results, revealed)
    if plot == "dashboard":
        return [tab for name in PLOT_NAMES if name != "dashboard" for tab in plot_tables(results, name, t, r)]
    T = results.steps
    if plot == "factors":
        steps = np.arange(1, r + 1)
        return [Table("factors", {
            "t": steps,
            "rnn_dS_t_dS_t-1_norm": results.rnn_factor_norm[1: r + 1],
            "lstm_dC_t_dC_t-1_norm": results.lstm_factor_norm[1: r + 1],
        })]
    if plot == "long-range":
        k = np.arange(0, r + 1)
        lags = T - k
        theory = results.theory_log10(lags)
        return [Table("long-range", {
            "k": k,
            "lag": lags,
            "rnn_log10_dS_T_dS_k": results.rnn_longrange_log10[: r + 1],
            "lstm_exact_log10_dC_T_dC_k": results.lstm_longrange_log10[: r + 1],
            "lstm_naive_L4_product_log10": results.lstm_naive_longrange_log10[: r + 1],
            "theory_log10_sigma_max_U_pow_lag": theory["sigma_max_U"],
            "theory_log10_sigma_b_f_pow_lag": theory["sigma_b_f"],
        })]
    if plot == "terms":
        names = list(TERM_NAMES) + ["rnn_factor"]
        signed = list(results.lstm_term_diag_mean[t]) + [float(results.rnn_factor_diag_mean[t])]
        norms = list(results.lstm_term_norms(t)) + [float(results.rnn_factor_norm[t])]
        return [Table("terms", {
            "step": [t] * len(names),
            "term": names,
            "diag_mean" if results.setup.hidden_size > 1 else "value": np.array(signed),
            "norm": np.array(norms),
        })]
    if plot == "bptt":
        k = np.arange(1, r + 1)
        return [Table("bptt", {
            "k": k,
            "lag": T - k,
            "rnn_log10_dL_T_dU_k": results.bptt_log10("U")[1: r + 1],
            "lstm_log10_dL_T_dW_hf_k": results.bptt_log10("W_hf")[1: r + 1],
        })]
    if plot == "heatmaps":
        H = results.setup.hidden_size
        columns = {"t": np.arange(0, r + 1)}
        for label, array in (("rnn_S", results.rnn_S), ("lstm_h", results.lstm_h), ("lstm_C", results.lstm_C)):
            for unit in range(H):
                columns[f"{label}_{unit}"] = array[: r + 1, unit]
        return [Table("heatmaps", columns)]
    if plot == "unrolled":
        cells = unrolled_window(results, t, UNROLLED_CELLS)
        return [Table("unrolled", {
            "t": cells,
            "revealed": (cells <= r).astype(int),
            "rnn_S_mean": results.rnn_S[cells].mean(axis=1),
            "rnn_factor_norm": results.rnn_factor_norm[cells],
            "lstm_C_mean": results.lstm_C[cells].mean(axis=1),
            "lstm_h_mean": results.lstm_h[cells].mean(axis=1),
            "lstm_factor_norm": results.lstm_factor_norm[cells],
        })]
    raise AssertionError(plot)


def _csv_value(value) -> str:
    if isinstance(value, str):
        return value
    value = float(value)
    if value <= LOG10_OF_ZERO / 2:
        return "-inf"  # LOG10_OF_ZERO: the quantity is exactly zero
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)  # shortest string that round-trips the float64 exactly


def csv_text(results: Results, plot: str, step=None, revealed=None) -> str:
    """CSV of exactly the data plotted. One plot: one wide table with a header. Dashboard: a
    long table `plot,column,row,value` holding every panel's table."""
    tables = plot_tables(results, plot, step, revealed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if plot == "dashboard":
        writer.writerow(["plot", "column", "row", "value"])
        for table in tables:
            for name, values in table.columns.items():
                for row, value in enumerate(values):
                    writer.writerow([table.name, name, row, _csv_value(value)])
    else:
        (table,) = tables
        writer.writerow(list(table.columns))
        for row in range(table.rows()):
            writer.writerow([_csv_value(values[row]) for values in table.columns.values()])
    return out.getvalue()


# --- drawing helpers -----------------------------------------------------------------------------
def _clip_logs(values: np.ndarray, floor: float) -> np.ndarray:
    """Exactly-zero markers and anything below the floor go to the floor; never inf/NaN."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values) & ~_is_zero_log(values)
    return np.where(finite, np.maximum(values, floor), floor)


def _log_floor(*arrays: np.ndarray, margin: float = 0.5) -> tuple[float, bool]:
    """A floor below every real value, and whether any value is exactly zero."""
    real, any_zero = [], False
    for array in arrays:
        array = np.asarray(array, dtype=float)
        zero = _is_zero_log(array) | ~np.isfinite(array)
        any_zero |= bool(zero.any())
        real.append(array[~zero])
    real = np.concatenate(real) if real else np.array([])
    if real.size == 0:
        return -1.0, any_zero
    low, high = float(real.min()), float(real.max())
    return low - max(margin, 0.05 * (high - low)), any_zero


def _note(ax, text: str, loc: str = "lower left"):
    x, ha = (0.02, "left") if "left" in loc else (0.98, "right")
    y, va = (0.03, "bottom") if "lower" in loc else (0.97, "top")
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=BASE_PT, color=THEORY_COLOUR,
            bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.8))


def _number(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}g}".replace("-", "\u2212")  # a real minus sign, as on the axes


def _step_marker(ax, x: float):
    ax.axvline(x, color="#444444", lw=2.0, ls=(0, (2, 2)), zorder=1)


def _knobs_line(results: Results, t: int) -> str:
    s = results.setup
    k = s.knobs
    weights = "U" if s.hidden_size == 1 else r"\sigma_{max}(U)"
    return (
        f"$H = {s.hidden_size}$   $T = {s.steps}$   ${weights} = {k.U:g}$   "
        f"$W_{{hf}} = {k.W_hf:g}$   $W_{{hi}} = {k.W_hi:g}$   $W_{{hg}} = {k.W_hg:g}$   "
        f"$b_f = {k.b_f:g}$   $t = {t}$"
    )


# --- the plots: each draws into a (sub)figure ------------------------------------------------------
def draw_factors(fig, results: Results, t: int, r: int, compact: bool = False):
    (table,) = plot_tables(results, "factors", t, r)
    ax = fig.add_subplot()
    T = results.steps
    steps = table.columns["t"]
    rnn = table.columns["rnn_dS_t_dS_t-1_norm"]
    lstm = table.columns["lstm_dC_t_dC_t-1_norm"]
    ax.axhline(1.0, color="#222222", lw=2.0, zorder=1)
    marker = "o" if T <= 60 else None
    ax.plot(steps, rnn, color=RNN_COLOUR, marker=marker, label=f"RNN $\\|{SYM_DS}\\|$", zorder=3)
    ax.plot(steps, lstm, color=LSTM_COLOUR, marker=marker, label=f"LSTM $\\|{SYM_DC}\\|$", zorder=3)
    if t < T:
        _step_marker(ax, t)
    ax.set_xlim(0, max(T, 1) + 0.5)
    top = max(1.2, float(np.max(results.rnn_factor_norm)) * 1.08,
              float(np.max(results.lstm_factor_norm)) * 1.08)
    ax.set_ylim(0, top)
    ax.set_xlabel("step $t$")
    ax.set_ylabel("per-step factor" if compact else "per-step factor (norm)")
    ax.set_title("Per-step factors (R1, L4)")
    ax.legend(loc="best")
    if r == 0:
        _note(ax, "t = 0: no step yet", "upper left")
    return ax


def draw_long_range(fig, results: Results, t: int, r: int, compact: bool = False):
    (table,) = plot_tables(results, "long-range", t, r)
    c = table.columns
    T = results.steps
    all_lags = results.lags().astype(float)
    full_theory = results.theory_log10(all_lags)
    floor, _ = _log_floor(results.rnn_longrange_log10, results.lstm_longrange_log10,
                          results.lstm_naive_longrange_log10, *full_theory.values())
    any_zero = any(bool(_is_zero_log(c[name]).any()) for name in list(c)[2:])
    ax = fig.add_subplot()
    lags = c["lag"]
    sym = "\\sigma_{max}(U)" if results.setup.hidden_size > 1 else "|U|"
    bf_value, bf_sym = forget_bias(results)
    ax.plot(lags, _clip_logs(c["theory_log10_sigma_max_U_pow_lag"], floor), color=THEORY_COLOUR, lw=3,
            ls=(0, (1, 1.5)), label=f"${sym}^{{\\,lag}}$ = {results.sigma_max_U:.3g}$^{{\\,lag}}$", zorder=2)
    ax.plot(lags, _clip_logs(c["theory_log10_sigma_b_f_pow_lag"], floor), color=THEORY_COLOUR, lw=3,
            ls=(0, (6, 3)), label=f"$\\sigma({bf_sym})^{{\\,lag}}$ = {float(_sigma(bf_value)):.3g}$^{{\\,lag}}$",
            zorder=2)
    ax.plot(lags, _clip_logs(c["rnn_log10_dS_T_dS_k"], floor), color=RNN_COLOUR,
            label="RNN $\\|\\partial S_T/\\partial S_k\\|$ (R2)", zorder=4)
    ax.plot(lags, _clip_logs(c["lstm_naive_L4_product_log10"], floor), color=NAIVE_COLOUR, lw=3.5,
            ls=(0, (4, 2)), label="LSTM product of (L4)", zorder=5)
    ax.plot(lags, _clip_logs(c["lstm_exact_log10_dC_T_dC_k"], floor), color=LSTM_COLOUR,
            label="LSTM $\\|\\partial C_T/\\partial C_k\\|$ (L7)", zorder=4)
    ax.set_xlim(-0.5, max(T, 1) + 0.5)
    ceiling = max(0.0, *[float(np.max(_clip_logs(v, floor))) for v in
                         (results.rnn_longrange_log10, results.lstm_longrange_log10,
                          results.lstm_naive_longrange_log10, *full_theory.values())])
    span = ceiling - floor
    ax.set_ylim(floor - 0.015 * span, ceiling + 0.08 * span + 0.1)  # a line on the floor stays visible
    ax.set_xlabel("lag $T-k$")
    ax.set_ylabel("$\\log_{10}$ norm")
    ax.set_title("Gradient reaching step $k$ (R2, L7)")
    handles, labels = ax.get_legend_handles_labels()
    if any_zero:
        handles.append(Line2D([], [], color="none"))
        labels.append("(on the bottom edge: exactly 0)")
    ax.legend(handles, labels, loc="best", handlelength=2.2)
    if t < T:
        _step_marker(ax, T - t)
    return ax


def draw_terms(fig, results: Results, t: int, r: int, compact: bool = False):
    (table,) = plot_tables(results, "terms", t, r)
    c = table.columns
    scalar = results.setup.hidden_size == 1
    values = c["value" if scalar else "diag_mean"]
    norms = c["norm"]
    ax = fig.add_subplot()
    x = np.arange(len(TERM_NAMES))
    colours = [TERM_COLOURS[name] for name in TERM_NAMES]
    if compact:
        labels = ["$f_t$", "$W_{hf}$", "$W_{hi}$", "$W_{hg}$", "sum", "RNN"]
    else:
        labels = [TERM_LABELS[name] for name in TERM_NAMES] + ["RNN\n$(1-S_t^2)U$" if scalar else "RNN\nfactor"]
    x_rnn = len(TERM_NAMES) + 0.4
    if scalar:
        bars = ax.bar(x, values[:5], color=colours, width=0.7, zorder=3)
        ax.bar([x_rnn], [values[5]], color=RNN_COLOUR, width=0.7, zorder=3)
        shown = list(values)
    else:
        bars = ax.bar(x - 0.18, values[:5], color=colours, width=0.36, zorder=3, label="diagonal mean")
        ax.bar(x + 0.18, norms[:5], color="white", edgecolor=colours, linewidth=3, hatch="//", width=0.36,
               zorder=3, label="norm")
        ax.bar([x_rnn - 0.18], [values[5]], color=RNN_COLOUR, width=0.36, zorder=3)
        ax.bar([x_rnn + 0.18], [norms[5]], color="white", edgecolor=RNN_COLOUR, linewidth=3, hatch="//",
               width=0.36, zorder=3)
        shown = list(values) + list(norms)
    ax.axhline(0.0, color="#222222", lw=1.8, zorder=2)
    ax.axhline(1.0, color="#222222", lw=2.0, ls=(0, (4, 3)), zorder=2)
    ax.axvline(len(TERM_NAMES) - 0.4 + 0.0, color="#999999", lw=1.5, zorder=1)
    low = min(0.0, min(shown))
    high = max(1.15, max(shown))
    pad = (0.18 if scalar else 0.4) * (high - low)  # room for the labels (and the legend)
    ax.set_ylim(low - 0.2 * (high - low) if min(shown) < 0 else 0.0, high + pad)
    decimals = 2 if compact else 3
    span = high - low

    def label(xpos, value, top=None):
        above = value >= 0
        text = f"{value:.{decimals}f}".replace("-", "\u2212")
        y = value if top is None or not above else max(value, top)
        ax.text(xpos, y + (0.02 if above else -0.02) * span, text, ha="center",
                va="bottom" if above else "top", fontsize=BASE_PT, zorder=4)

    if scalar:
        for xpos, value in zip(list(x) + [x_rnn], values):
            label(xpos, value)
    else:  # grouped bars: label only the sum and the RNN factor, or the numbers collide
        label(x[-1], values[4], norms[4])
        label(x_rnn, values[5], norms[5])
    ax.set_xticks(list(x) + [x_rnn], labels)
    ax.tick_params(axis="x", length=0)
    ax.grid(axis="x", visible=False)
    ax.set_ylabel(f"${SYM_DC}$" if scalar else "value")
    ax.set_title(f"The four terms of ${SYM_DC}$ at $t = {t}$ (L4)" if not compact else f"(L4) terms at $t = {t}$")
    if not scalar:
        ax.legend(loc="upper right", ncol=2)
    if t == 0:
        _note(ax, "t = 0: no step yet", "upper left")
    return ax


def draw_bptt(fig, results: Results, t: int, r: int, compact: bool = False):
    (table,) = plot_tables(results, "bptt", t, r)
    c = table.columns
    T = results.steps
    full_u, full_hf = results.bptt_log10("U")[1:], results.bptt_log10("W_hf")[1:]
    floor, _ = _log_floor(full_u, full_hf)
    any_zero = bool(_is_zero_log(c["rnn_log10_dL_T_dU_k"]).any() | _is_zero_log(c["lstm_log10_dL_T_dW_hf_k"]).any())
    ceiling = max(float(np.max(_clip_logs(full_u, floor))), float(np.max(_clip_logs(full_hf, floor))))
    ax = fig.add_subplot()
    k = c["k"]
    rnn = _clip_logs(c["rnn_log10_dL_T_dU_k"], floor)
    lstm = _clip_logs(c["lstm_log10_dL_T_dW_hf_k"], floor)
    rnn_label = "RNN $\\|\\partial L_T/\\partial U^{(k)}\\|$"
    lstm_label = "LSTM $\\|\\partial L_T/\\partial W_{hf}^{(k)}\\|$"
    if T <= 60:  # separate bars while they are wide enough to see
        ax.bar(k - 0.2, rnn - floor, bottom=floor, width=0.4, color=RNN_COLOUR, label=rnn_label, zorder=3)
        ax.bar(k + 0.2, lstm - floor, bottom=floor, width=0.4, color=LSTM_COLOUR, label=lstm_label, zorder=3)
    elif len(k):  # too many bars to see: filled steps, one per k
        edges = np.append(k - 0.5, k[-1] + 0.5)
        ax.stairs(rnn, edges, baseline=floor, fill=True, color=RNN_COLOUR, alpha=0.55, label=rnn_label, zorder=3)
        ax.step(k, lstm, where="mid", color=LSTM_COLOUR, lw=3, label=lstm_label, zorder=4)
    span = ceiling - floor
    # headroom for the legend (upper left), so it never covers a bar
    ax.set_ylim(floor, ceiling + (0.45 if compact else 0.3) * span + 0.1)
    ax.set_xlim(0.4, T + 0.6)
    zero_note = "; bottom edge = exactly 0" if any_zero else ""
    ax.set_xlabel(f"step $k$ (loss at $T = {T}${zero_note})" if not compact or not any_zero
                  else "step $k$ (bottom = exactly 0)")
    ax.set_ylabel("$\\log_{10}$ |contribution|")
    ax.set_title("BPTT: contribution of each step $k$")
    ax.legend(loc="upper left", ncol=1 if compact else 2)
    return ax


def draw_heatmaps(fig, results: Results, t: int, r: int, compact: bool = False):
    T, H = results.steps, results.setup.hidden_size
    axes = fig.subplots(3, 1, sharex=True)
    c_max = float(np.max(np.abs(results.lstm_C))) or 1.0
    rows = (
        ("RNN $S_t$", results.rnn_S, 1.0),
        ("LSTM $h_t$", results.lstm_h, 1.0),
        ("LSTM $C_t$", results.lstm_C, c_max),
    )
    for ax, (label, array, limit) in zip(axes, rows):
        data = np.ascontiguousarray(array[: r + 1].T)  # units x revealed steps
        image = ax.imshow(data, cmap=STATE_CMAP, vmin=-limit, vmax=limit, aspect="auto",
                          interpolation="nearest", origin="lower",
                          extent=(-0.5, r + 0.5, -0.5, H - 0.5))
        ax.set_xlim(-0.5, T + 0.5)
        ax.set_ylim(-0.5, H - 0.5)
        ax.grid(False)
        ax.set_ylabel(label if compact else f"{label}\nunit", rotation=0 if compact else 90,
                      ha="right" if compact else "center", va="center")
        ax.set_yticks([0] if H == 1 else [0, H - 1])
        bar = fig.colorbar(image, ax=ax, pad=0.01, fraction=0.05, aspect=8)
        bar.set_ticks([-limit, 0, limit])
        bar.ax.set_yticklabels([_number(-limit), "0", _number(limit)])
        bar.outline.set_linewidth(1.0)
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(True)
    axes[-1].set_xlabel("step $t$")
    axes[0].set_title("States over time (unit × step)")
    if t < T:
        for ax in axes:
            _step_marker(ax, t)
    return axes


UNROLLED_CELLS = 10
_SUBSCRIPT_DIGITS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _subscript(n: int) -> str:
    # Unicode subscripts, not mathtext: a GIF labels hundreds of cells and mathtext parsing is slow.
    return str(n).translate(_SUBSCRIPT_DIGITS)


def unrolled_window(results: Results, t: int, cells: int) -> np.ndarray:
    """The steps drawn in the unrolled chain: `cells` consecutive steps ending at t (or the
    first steps, the later ones not yet revealed)."""
    T = results.steps
    cells = min(cells, T + 1)
    start = min(max(0, t - cells + 1), T + 1 - cells)
    return np.arange(start, start + cells)


def _edge_width(factor: float) -> float:
    # 1 is a solid 8 pt edge; growing factors thicken, vanishing ones thin out (capped both ways).
    return float(np.clip(8.0 * factor, 0.8, 20.0))


def draw_unrolled(fig, results: Results, t: int, r: int, compact: bool = False):
    (table,) = plot_tables(results, "unrolled", t, r)
    c = table.columns
    cells = c["t"]
    if compact:  # fewer, larger cells in a dashboard panel
        cells = cells[-min(len(cells), 5):]
        c = {name: np.asarray(v)[-len(cells):] for name, v in c.items()}
    n = len(cells)
    ax = fig.add_subplot()
    xlim, ylim = (-1.25, n - 0.35), (-0.6, 1.75)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.axis("off")
    c_max = float(np.max(np.abs(results.lstm_C))) or 1.0
    cmap = matplotlib.colormaps[STATE_CMAP]
    norm_s = mcolors.Normalize(-1.0, 1.0)
    norm_c = mcolors.Normalize(-c_max, c_max)
    scalar = results.setup.hidden_size == 1
    rows = (
        (1.0, "S", c["rnn_S_mean"], norm_s, c["rnn_factor_norm"], RNN_COLOUR, "RNN"),
        (0.0, "C", c["lstm_C_mean"], norm_c, c["lstm_factor_norm"], LSTM_COLOUR, "LSTM"),
    )
    # Square cells on screen: the axes will be about the panel's size (before the colour bars),
    # so convert the cell width into y units with the panel's pixel aspect.
    panel_w, panel_h = fig.bbox.width * (0.78 if not compact else 0.95), fig.bbox.height * 0.75
    px_per_x, px_per_y = panel_w / (xlim[1] - xlim[0]), panel_h / (ylim[1] - ylim[0])
    box = 0.62
    box_h = min(0.7, box * px_per_x / px_per_y)
    for y, sym, state, norm, factor, colour, name in rows:
        ax.text(-0.55, y, name, ha="right", va="center", fontsize=BASE_PT + 2, fontweight="bold", color=colour)
        for j, step in enumerate(cells):
            revealed = step <= r
            face = cmap(norm(state[j])) if revealed else "white"
            ax.add_patch(FancyBboxPatch(
                (j - box / 2, y - box_h / 2), box, box_h, boxstyle="round,pad=0.0,rounding_size=0.08",
                facecolor=face, edgecolor=colour if revealed else "#BBBBBB",
                linewidth=5 if step == t else 2.5, linestyle="-" if revealed else (0, (3, 2)), zorder=3))
            text_colour = "white" if revealed and abs(norm(state[j]) - 0.5) > 0.33 else "#111111"
            ax.text(j, y, f"{sym}{_subscript(step)}" if n <= 12 else "", ha="center", va="center", fontsize=BASE_PT,
                    color=text_colour if revealed else "#999999", zorder=4)
            if j == 0:
                continue
            if revealed:
                width = _edge_width(float(factor[j]))
                ax.add_patch(FancyArrowPatch((j - 1 + box / 2, y), (j - box / 2, y), arrowstyle="-",
                                             linewidth=width, color="#333333", zorder=2,
                                             capstyle="butt"))
                if not compact or n <= 6:
                    ax.text(j - 0.5, y + box_h / 2 + 0.04, f"{factor[j]:.2f}", ha="center", va="bottom",
                            fontsize=BASE_PT, color="#111111")
            else:
                ax.plot([j - 1 + box / 2, j - box / 2], [y, y], color="#CCCCCC", lw=2, ls=(0, (2, 2)))
    what = "" if scalar else " (mean over units)"
    if not compact:
        for norm, sym in ((norm_c, "C_t"), (norm_s, "S_t")):  # the last added sits nearest
            bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.5,
                               aspect=12, pad=0.01, fraction=0.04)
            bar.set_label(f"${sym}$")
            bar.set_ticks([norm.vmin, 0, norm.vmax])
            bar.ax.set_yticklabels([_number(norm.vmin), "0", _number(norm.vmax)])
    ax.set_title("Unrolled networks: edge width = per-step factor" if not compact else "Unrolled (edge = factor)")
    if not compact:
        ax.text(0.5, -0.02, f"RNN edges ${SYM_DS}$, LSTM edges ${SYM_DC}$ (norms);  cell colour = "
                f"$S_t$ / $C_t${what}", transform=ax.transAxes, ha="center", va="top", fontsize=BASE_PT)
    return ax


DRAWERS = {
    "factors": draw_factors, "long-range": draw_long_range, "terms": draw_terms, "bptt": draw_bptt,
    "heatmaps": draw_heatmaps, "unrolled": draw_unrolled,
}
DASHBOARD_ORDER = (("factors", "long-range", "terms"), ("bptt", "heatmaps", "unrolled"))


def _draw(fig: Figure, results: Results, plot: str, t: int, r: int):
    if plot == "dashboard":
        fig.suptitle(f"RNN vs LSTM gradients    {_knobs_line(results, t)}", fontsize=BASE_PT + 2)
        grid = fig.subfigures(2, 3, wspace=0.02, hspace=0.02)
        for row_index, row in enumerate(DASHBOARD_ORDER):
            for col, name in enumerate(row):
                DRAWERS[name](grid[row_index][col], results, t, r, compact=True)
    else:
        DRAWERS[plot](fig, results, t, r)
        fig.suptitle(_knobs_line(results, t), fontsize=BASE_PT, color="#333333")


def render_figure(results: Results, plot: str, step=None, size=DEFAULT_SIZE, revealed=None) -> Figure:
    """A matplotlib Figure (Agg canvas) of one plot at a step; size in pixels sets the aspect and
    the dpi. Use it inside `matplotlib.rc_context(STYLE)` when saving (export does)."""
    check_plot(plot)
    t = check_step(results, step)
    r = check_step(results, revealed)
    inches, dpi = figure_geometry(check_size(size))
    with _RENDER_LOCK, matplotlib.rc_context(STYLE):
        fig = Figure(figsize=inches, dpi=dpi, layout="constrained")
        FigureCanvasAgg(fig)
        if plot == "dashboard":
            # a dashboard of six panels: a bigger virtual slide, so 20 pt type still fits
            fig.set_size_inches(inches[0] * 1.5, inches[1] * 1.5)
            fig.set_dpi(dpi / 1.5)
        _draw(fig, results, plot, t, r)
        # Run the constrained layout once, then freeze it: savefig would otherwise lay out twice.
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
    return fig


# --- writing files -----------------------------------------------------------------------------------
def _atomic_write(path, write) -> Path:
    """Write bytes (or call write(fileobj)) to `path` with simulator.files.atomic_write: a failure
    leaves no partial file and the old file (if any) untouched; an OSError is an ExportError
    naming the file."""
    try:
        files.atomic_write(path, write)
    except files.FileWriteError as exc:
        raise ExportError(str(exc)) from None
    return Path(path)


def figure_bytes(results: Results, plot: str, fmt: str = "png", step=None, size=DEFAULT_SIZE,
                 transparent: bool = False, revealed=None) -> bytes:
    """The rendered figure as PNG, SVG or PDF bytes (e.g. for the clipboard)."""
    if fmt not in FIGURE_FORMATS:
        raise ExportError(f"unknown figure format {fmt!r}: use one of {', '.join(FIGURE_FORMATS)}")
    with _RENDER_LOCK:
        fig = render_figure(results, plot, step, size, revealed)
        out = io.BytesIO()
        with matplotlib.rc_context(STYLE):
            fig.savefig(out, format=fmt, dpi=fig.dpi, transparent=transparent,
                        metadata=_metadata(fmt, plot))
    data = out.getvalue()
    return _fix_svg(data) if fmt == "svg" else data


_EMPTY_GLYPH = re.compile(rb"<path ((?:(?!\bd=)[^>])*?)/>")


def _fix_svg(data: bytes) -> bytes:
    """matplotlib writes the space glyph as a <path> with no d attribute; Qt's SVG renderer then
    warns and drops every <use> of it. An explicit empty move keeps every reader happy."""
    return _EMPTY_GLYPH.sub(rb'<path d="M 0 0" \1/>', data)


def _metadata(fmt: str, plot: str) -> dict | None:
    title = f"RNN Gradient Lab: {plot}"
    if fmt == "png":
        return {"Title": title, "Software": "RNN Gradient Lab"}
    if fmt in ("svg", "pdf"):
        return {"Title": title, "Creator": "RNN Gradient Lab"}
    return None


def write_figure(results: Results, plot: str, path, step=None, size=DEFAULT_SIZE, transparent=False,
                 revealed=None) -> Path:
    fmt = format_of(path)
    if fmt not in FIGURE_FORMATS:
        raise ExportError(f"{path}: not a figure format ({', '.join(FIGURE_FORMATS)})")
    data = figure_bytes(results, plot, fmt, step, size, transparent, revealed)
    return _atomic_write(path, lambda handle: handle.write(data))


def write_csv(results: Results, plot: str, path, step=None, revealed=None) -> Path:
    """CSV (with a header) of exactly the data the plot draws; LOG10_OF_ZERO is written -inf."""
    text = csv_text(results, plot, step, revealed)
    return _atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def gif_steps(results: Results, frames: int | None = None) -> np.ndarray:
    """The steps t shown by a GIF of `frames` frames, spread evenly over 0..T (all distinct)."""
    T = results.steps
    if frames is None:
        frames = min(T + 1, 40)
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or not 2 <= frames <= min(T + 1, MAX_GIF_FRAMES):
        raise ExportError(f"frames must be 2..{min(T + 1, MAX_GIF_FRAMES)} (one per step at most), got {frames!r}")
    return np.round(np.linspace(0, T, int(frames))).astype(int)


def check_fps(fps) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 1 <= fps <= MAX_GIF_FPS:
        raise ExportError(f"frame rate must be 1..{MAX_GIF_FPS} frames per second, got {fps!r}")
    return float(fps)


def render_rgb(results: Results, plot: str, step=None, size=DEFAULT_SIZE, revealed=None) -> np.ndarray:
    """The figure as an (height, width, 3) uint8 array of exactly `size` pixels."""
    with _RENDER_LOCK:
        fig = render_figure(results, plot, step, size, revealed)
        with matplotlib.rc_context(STYLE):
            fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    width, height = size
    if rgba.shape[:2] != (height, width):  # float rounding of inches * dpi: pad/crop to exact
        fixed = np.full((height, width, 4), 255, dtype=np.uint8)
        h, w = min(height, rgba.shape[0]), min(width, rgba.shape[1])
        fixed[:h, :w] = rgba[:h, :w]
        rgba = fixed
    return np.ascontiguousarray(rgba[..., :3])


def write_gif(results: Results, path, plot: str = "unrolled", fps: float = 8, frames: int | None = None,
              size=(1280, 720), progress=None) -> Path:
    """Animated GIF stepping t through 0..T in `frames` evenly spread steps, looping.
    progress(done, total), if given, is called after each frame."""
    return _atomic_write(path, gif_bytes(results, plot, fps=fps, frames=frames, size=size, progress=progress))


def gif_bytes(results: Results, plot: str = "unrolled", fps: float = 8, frames: int | None = None,
              size=(1280, 720), progress=None) -> bytes:
    """The animated GIF of `write_gif` as bytes."""
    from PIL import Image

    check_plot(plot)
    fps = check_fps(fps)
    size = check_size(size)
    steps = gif_steps(results, frames)
    images = []
    for i, step in enumerate(steps):
        rgb = render_rgb(results, plot, int(step), size, revealed=int(step))  # reveal up to the frame's t
        images.append(Image.fromarray(rgb, "RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=255))
        if progress is not None:
            progress(i + 1, len(steps))
    duration = int(round(1000.0 / fps))
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=duration,
                   loop=0, optimize=False, disposal=1)
    return out.getvalue()


def export_bytes(results: Results, plot: str, fmt: str, *, step=None, size=DEFAULT_SIZE, transparent: bool = False,
                 fps: float = 8, frames: int | None = None, progress=None, revealed=None) -> bytes:
    """The file `export` would write, as bytes (fmt: png, svg, pdf, csv, gif); nothing is written."""
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    check_plot(plot)
    if fmt == "csv":
        return csv_text(results, plot, step, revealed).encode("utf-8")
    if fmt == "gif":
        return gif_bytes(results, plot, fps=fps, frames=frames, size=size, progress=progress)
    return figure_bytes(results, plot, fmt, step, size, transparent, revealed)


def export(results: Results, plot: str, path, *, step=None, size=DEFAULT_SIZE, transparent: bool = False,
           fps: float = 8, frames: int | None = None, progress=None, revealed=None) -> Path:
    """Write `plot` to `path`; the extension picks the format (png, svg, pdf, csv, gif)."""
    fmt = format_of(path)
    check_plot(plot)
    data = export_bytes(results, plot, fmt, step=step, size=size, transparent=transparent, fps=fps,
                        frames=frames, progress=progress, revealed=revealed)
    return _atomic_write(path, data)


__all__ = [
    "DEFAULT_SIZE", "EXPORT_FORMATS", "ExportError", "FIGURE_FORMATS", "MAX_SIZE", "PLOT_NAMES", "STYLE",
    "check_fps", "check_plot", "check_size", "check_step", "csv_text", "export", "export_bytes", "figure_bytes",
    "figure_geometry", "format_of", "gif_bytes", "gif_steps", "parse_size", "plot_tables", "render_figure", "render_rgb",
    "write_csv", "write_figure", "write_gif",
]
