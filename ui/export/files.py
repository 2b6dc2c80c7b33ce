"""Export files for slides: PNG, SVG, PDF, animated GIF and CSV, from the plot descriptions.

No Qt here: the headless export (`main.py --export`) and the window's Export... both use it.
A figure is the description (plots.describe) of the plot in the given view, drawn by the
matplotlib renderer at the requested size, so a file shows what the window shows for that view;
the CSV is the description's own table. Results must be final (exact, not partial): exports never
write numbers that are still being computed (see `check_final`).

    view = ViewState(selected_step=40, revealed_steps=60)
    export(results, "long-range", "out.svg", view=view)     # .png .svg .pdf .csv .gif
    data = export_bytes(results, "terms", "csv", view=view)
    export(results, "training", "loss.pdf", training=curves)  # curves: plots.training.TrainingCurves

Files are written by simulator/files.py: atomically (temporary file in the same folder, then
os.replace), through symlinks, never over a read-only file, a FIFO or a folder; any OSError is an
ExportError naming the file.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import matplotlib
import numpy as np

import plots
from plots import PLOT_NAMES, style
from plots.view import ViewState
from simulator import Results, files
from ui.render.matplotlib_renderer import RENDER_LOCK, rc_params, render_figure

# --- formats and limits --------------------------------------------------------------------
FIGURE_FORMATS = ("png", "svg", "pdf")
EXPORT_FORMATS = (*FIGURE_FORMATS, "csv", "gif")
DEFAULT_SIZE = (1920, 1080)
MAX_SIZE = (3840, 2160)  # PNG/GIF pixels; vector output keeps the same limit for one simple rule
MIN_SIDE = 200
MAX_ASPECT = 3.0
MAX_GIF_FRAMES = 600
MAX_GIF_FPS = 50  # GIF delays are in 1/100 s; browsers slow down anything faster
THEMES = style.THEMES


class ExportError(ValueError):
    """A bad export request (size, format, step, frames...). The message is one line for the user."""


# --- checks ------------------------------------------------------------------------------------
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
    try:
        return plots.check_plot(plot)
    except plots.PlotError as exc:
        raise ExportError(str(exc)) from None


def check_theme(theme: str) -> str:
    if theme not in THEMES:
        raise ExportError(f"unknown slide style {theme!r}: use one of {', '.join(THEMES)}")
    return theme


def _check_step_value(results: Results, value, what: str) -> int:
    T = results.steps
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= T:
        raise ExportError(f"{what} {value!r} is out of range: the run has steps 0..{T}")
    return int(value)


def make_view(results: Results, step=None, revealed=None, show_gates: bool = False) -> ViewState:
    """The view of an export: `step` selected (default T), `revealed` steps revealed (default T)."""
    T = results.steps
    step = T if step is None else _check_step_value(results, step, "step")
    revealed = T if revealed is None else _check_step_value(results, revealed, "revealed steps")
    return ViewState(selected_step=step, revealed_steps=revealed, show_gates=show_gates)


def check_final(results: Results) -> None:
    """Exports write final numbers only (progressive results are completed first by the caller)."""
    if not results.final:
        raise ExportError("the results are still being computed: export them once they are final")


def check_fps(fps) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 1 <= fps <= MAX_GIF_FPS:
        raise ExportError(f"frame rate must be 1..{MAX_GIF_FPS} frames per second, got {fps!r}")
    return float(fps)


def gif_steps(results: Results, frames: int | None = None) -> np.ndarray:
    """The steps t shown by a GIF of `frames` frames, spread evenly over 0..T (all distinct)."""
    T = results.steps
    if frames is None:
        frames = min(T + 1, 40)
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or not 2 <= frames <= min(T + 1, MAX_GIF_FRAMES):
        raise ExportError(f"frames must be 2..{min(T + 1, MAX_GIF_FRAMES)} (one per step at most), got {frames!r}")
    return np.round(np.linspace(0, T, int(frames))).astype(int)


# --- rendering ---------------------------------------------------------------------------------
def describe(results: Results, plot: str, view: ViewState | None = None, theme: str = style.DEFAULT_THEME,
             training=None):
    """The description an export draws: final numbers, costly ones computed (blocking).
    `training`: the run the "training" plot draws (plots.training.TrainingCurves; None: none yet)."""
    check_plot(plot)
    check_final(results)
    return plots.describe(plot, results, view or ViewState.full(results.steps), theme=theme, blocking=True,
                          training=training)


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


def figure_bytes(results: Results, plot: str, fmt: str = "png", view: ViewState | None = None,
                 size=DEFAULT_SIZE, transparent: bool = False, theme: str = style.DEFAULT_THEME,
                 training=None) -> bytes:
    """The rendered figure as PNG, SVG or PDF bytes (e.g. for the clipboard)."""
    if fmt not in FIGURE_FORMATS:
        raise ExportError(f"unknown figure format {fmt!r}: use one of {', '.join(FIGURE_FORMATS)}")
    described = describe(results, plot, view, check_theme(theme), training=training)
    with RENDER_LOCK:
        fig, _drawn = render_figure(described, check_size(size), theme)
        out = io.BytesIO()
        with matplotlib.rc_context(rc_params(theme)):
            fig.savefig(out, format=fmt, dpi=fig.dpi, transparent=transparent, metadata=_metadata(fmt, plot))
    data = out.getvalue()
    return _fix_svg(data) if fmt == "svg" else data


def render_rgb(results: Results, plot: str, view: ViewState | None = None, size=DEFAULT_SIZE,
               theme: str = style.DEFAULT_THEME) -> np.ndarray:
    """The figure as an (height, width, 3) uint8 array of exactly `size` pixels."""
    described = describe(results, plot, view, check_theme(theme))
    with RENDER_LOCK:
        fig, _drawn = render_figure(described, check_size(size), theme)
        with matplotlib.rc_context(rc_params(theme)):
            fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())
    width, height = size
    if rgba.shape[:2] != (height, width):  # float rounding of inches * dpi: pad/crop to exact
        fixed = np.full((height, width, 4), 255, dtype=np.uint8)
        h, w = min(height, rgba.shape[0]), min(width, rgba.shape[1])
        fixed[:h, :w] = rgba[:h, :w]
        rgba = fixed
    return np.ascontiguousarray(rgba[..., :3])


def csv_text(results: Results, plot: str, view: ViewState | None = None, training=None) -> str:
    """CSV of exactly the numbers the plot draws in this view (the description's table)."""
    return plots.csv_text(describe(results, plot, view, training=training))


def gif_bytes(results: Results, plot: str = "unrolled", fps: float = 8, frames: int | None = None,
              size=(1280, 720), progress=None, theme: str = style.DEFAULT_THEME, show_gates: bool = False) -> bytes:
    """An animated GIF stepping t through 0..T in `frames` evenly spread steps (each frame the
    view with step t selected and revealed), looping. progress(done, total) after each frame."""
    from PIL import Image

    check_plot(plot)
    if plot not in plots.ANIMATED_PLOTS:
        raise ExportError(f"the {plot} plot is not animated (a GIF steps t through 0..T): export it as "
                          f"PNG, SVG, PDF or CSV")
    fps = check_fps(fps)
    size = check_size(size)
    steps = gif_steps(results, frames)
    images = []
    for i, step in enumerate(steps):
        view = ViewState(selected_step=int(step), revealed_steps=int(step), show_gates=show_gates)
        rgb = render_rgb(results, plot, view, size, theme)
        images.append(Image.fromarray(rgb, "RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=255))
        if progress is not None:
            progress(i + 1, len(steps))
    duration = int(round(1000.0 / fps))
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=duration,
                   loop=0, optimize=False, disposal=1)
    return out.getvalue()


def export_bytes(results: Results, plot: str, fmt: str, *, view: ViewState | None = None, size=DEFAULT_SIZE,
                 transparent: bool = False, theme: str = style.DEFAULT_THEME, fps: float = 8,
                 frames: int | None = None, progress=None, training=None) -> bytes:
    """The file `export` would write, as bytes (fmt: png, svg, pdf, csv, gif); nothing is written.
    `training`: the run of the "training" plot (plots.training.TrainingCurves)."""
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    check_plot(plot)
    if fmt == "csv":
        return csv_text(results, plot, view, training=training).encode("utf-8")
    if fmt == "gif":
        return gif_bytes(results, plot, fps=fps, frames=frames, size=size, progress=progress, theme=theme,
                         show_gates=bool(view and view.show_gates))
    return figure_bytes(results, plot, fmt, view, size, transparent, theme, training=training)


def write_bytes(path, data: bytes) -> Path:
    """Write with simulator.files.atomic_write: a failure leaves no partial file and the old file
    (if any) untouched; an OSError is an ExportError naming the file."""
    try:
        files.atomic_write(path, data)
    except files.FileWriteError as exc:
        raise ExportError(str(exc)) from None
    return Path(path)


def export(results: Results, plot: str, path, **options) -> Path:
    """Write `plot` to `path`; the extension picks the format (png, svg, pdf, csv, gif).
    Options as for export_bytes (view, size, transparent, theme, fps, frames, progress, training)."""
    fmt = format_of(path)
    return write_bytes(path, export_bytes(results, plot, fmt, **options))


__all__ = [
    "DEFAULT_SIZE", "EXPORT_FORMATS", "ExportError", "FIGURE_FORMATS", "MAX_SIZE", "PLOT_NAMES", "THEMES",
    "check_final", "check_fps", "check_plot", "check_size", "check_theme", "csv_text", "describe", "export",
    "export_bytes", "figure_bytes", "format_of", "gif_bytes", "gif_steps", "make_view", "parse_size",
    "render_rgb", "write_bytes",
]
