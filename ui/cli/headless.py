"""`main.py --export`: write figures and data from a preset without a window or a display.

    python main.py --preset rnn-vanishing --export out.pdf --export out.png --plot long-range \
        --size 1920x1080 --step 40

--plot defaults to the dashboard, --size to 1920x1080; the view is the window's: --step selects a
step ((L4) terms, markers; default T) and --reveal N sets how many steps the transport has
revealed (default T). --style dark draws light on dark (for dark slide templates). A GIF steps
t through 0..T (frames: one per step, at most 40; 8 frames/s).
RNN_GRADIENT_LAB_BACKEND=reference|numba forces the simulator backend.

Every argument is checked before anything is computed or written (including each output path:
simulator.files.check_target refuses a folder, a FIFO, a read-only file, a symlink loop, a name
over the limit, a missing folder). Files are first written next to their targets under short
temporary names (`.rgl-<pid>-<hex>.tmp`) and only renamed into place when all of them succeeded
(simulator.files.StagedWrites): a failure leaves nothing behind, a file this call created is
removed and a file that existed before keeps (or gets back) its old content. Errors are one line
on stderr and a non-zero exit code (2: bad arguments, 1: could not write, 130: Ctrl+C,
143: SIGTERM). Ctrl+C and SIGTERM (turned into an exception while the export runs) remove the
temporary files before the process ends.

No Qt is imported on this path (matplotlib's Agg backend only).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from plots import PLOT_NAMES

PROG = "rnn-gradient-lab"
EXIT_BAD_ARGUMENTS = 2
EXIT_WRITE_FAILED = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM


class HeadlessError(Exception):
    def __init__(self, message: str, code: int = EXIT_BAD_ARGUMENTS):
        super().__init__(message)
        self.code = code


class Terminated(BaseException):
    """SIGTERM arrived during an export. A BaseException like KeyboardInterrupt: it unwinds
    through every `except Exception`, and the staged files are removed on the way out."""


@contextmanager
def sigterm_raises_terminated():
    """While the block runs, SIGTERM raises Terminated (the default action would end the process
    at once and leave its temporary files). Only the main thread can set signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


@dataclass(frozen=True)
class Job:
    path: Path
    fmt: str


BACKEND_VARIABLE = "RNN_GRADIENT_LAB_BACKEND"  # "numba" or "reference": overrides the choice below


def pick_backend() -> str:
    """numba when the kernels exist, else the numpy reference; the environment variable
    RNN_GRADIENT_LAB_BACKEND can force one (tests use the reference: no compile time)."""
    from simulator import BACKENDS, default_backend

    forced = os.environ.get(BACKEND_VARIABLE, "").strip().lower()
    if forced:
        if forced not in BACKENDS:
            raise HeadlessError(f"{BACKEND_VARIABLE}={forced!r}: use one of {', '.join(BACKENDS)}")
        return forced
    return default_backend()


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _load_setup(preset_arg: str | None):
    """The preset's Setup (the default preset without --preset)."""
    from simulator.presets import PresetError, default_preset, resolve_preset

    try:
        preset = resolve_preset(preset_arg) if preset_arg else default_preset()
    except PresetError as exc:
        raise HeadlessError(f"bad --preset: {_one_line(exc)}") from None
    except (OSError, ValueError) as exc:
        raise HeadlessError(f"bad --preset {preset_arg!r}: {_one_line(exc)}") from None
    return preset.setup


def _check_jobs(exports: list[str]) -> list[Job]:
    from simulator import files
    from ui.export import files as figures

    jobs, seen = [], set()
    for text in exports:
        if not str(text).strip():
            raise HeadlessError("--export: empty file name")
        path = Path(os.path.expanduser(text))  # (Path.expanduser raises for an unknown ~user)
        try:
            fmt = figures.format_of(path)
        except figures.ExportError as exc:
            raise HeadlessError(str(exc)) from None
        try:
            target = files.check_target(path)
        except files.FileWriteError as exc:
            raise HeadlessError(str(exc)) from None
        if target.real in seen:
            raise HeadlessError(f"--export {text!r} is given twice")
        seen.add(target.real)
        jobs.append(Job(path, fmt))
    return jobs


def run_headless(args) -> int:
    """Entry point used by main.py for --export and --list-plots. Returns the exit code."""
    if getattr(args, "list_plots", False):
        print("\n".join(PLOT_NAMES))
        return 0
    try:
        with sigterm_raises_terminated():
            written = export_all(args)
    except HeadlessError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"{PROG}: error: interrupted (Ctrl+C); unfinished files were removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print(f"{PROG}: error: stopped by SIGTERM; unfinished files were removed", file=sys.stderr)
        return EXIT_TERMINATED
    for path in written:
        print(f"wrote {path}")
    return 0


def export_all(args) -> list[Path]:
    """Validate everything, compute once, write every file (all or nothing)."""
    from ui.export import files as figures

    # --- 1. arguments (nothing is computed or written yet) ---
    plot = getattr(args, "plot", None)
    plot = "dashboard" if plot is None else plot
    if plot not in PLOT_NAMES:
        raise HeadlessError(f"unknown plot {plot!r} for --plot: choose one of {', '.join(PLOT_NAMES)}")
    try:
        size = getattr(args, "size", None)
        size = figures.parse_size("1920x1080" if size is None else size)
    except figures.ExportError as exc:
        raise HeadlessError(f"--size: {exc}") from None
    exports = list(getattr(args, "export", None) or [])
    if not exports:
        raise HeadlessError("nothing to do: give at least one --export FILE")
    jobs = _check_jobs(exports)
    setup = _load_setup(getattr(args, "preset", None))
    step = getattr(args, "step", None)
    if step is not None and not 0 <= step <= setup.steps:
        raise HeadlessError(f"--step {step} is out of range: this preset has steps 0..{setup.steps}")
    reveal = getattr(args, "reveal", None)
    if reveal is not None and not 0 <= reveal <= setup.steps:
        raise HeadlessError(f"--reveal {reveal} is out of range: this preset has steps 0..{setup.steps}")
    theme = getattr(args, "style", None) or "light"
    try:
        figures.check_theme(theme)
    except figures.ExportError as exc:
        raise HeadlessError(f"--style: {exc}") from None
    fps = getattr(args, "fps", None)  # main.py may grow --fps/--frames; defaults otherwise
    frames = getattr(args, "frames", None)
    try:
        fps = figures.check_fps(fps if fps is not None else 8)
        if any(job.fmt == "gif" for job in jobs):
            if frames is not None and not 2 <= frames <= min(setup.steps + 1, figures.MAX_GIF_FRAMES):
                raise figures.ExportError(
                    f"--frames {frames}: must be 2..{min(setup.steps + 1, figures.MAX_GIF_FRAMES)}")
    except figures.ExportError as exc:
        raise HeadlessError(str(exc)) from None

    backend = pick_backend()

    # --- 2. compute once ---
    from simulator import compute

    results = compute(setup, backend=backend)

    # --- 3. write every file under a temporary name, then rename all into place ---
    from simulator import files

    try:
        with files.StagedWrites() as staged:  # removes what is not committed, Ctrl+C/SIGTERM included
            view = figures.make_view(results, step, reveal)
            for job in jobs:
                data = figures.export_bytes(results, plot, job.fmt, view=view, size=size, theme=theme, fps=fps,
                                            frames=frames)
                staged.add(job.path, data)
            return staged.commit()
    except figures.ExportError as exc:
        raise HeadlessError(str(exc)) from None
    except files.FileWriteError as exc:
        raise HeadlessError(str(exc), EXIT_WRITE_FAILED) from None
    except OSError as exc:
        where = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
        raise HeadlessError(f"cannot write{where}: {exc.strerror or exc}", EXIT_WRITE_FAILED) from None
    except ModuleNotFoundError:  # a missing dependency (e.g. pillow for a GIF): main.py names it
        raise
    except Exception as exc:  # a render failure: still one line, still nothing left behind
        raise HeadlessError(f"could not export: {type(exc).__name__}: {exc}", EXIT_WRITE_FAILED) from None


__all__ = [
    "EXIT_BAD_ARGUMENTS", "EXIT_INTERRUPTED", "EXIT_TERMINATED", "EXIT_WRITE_FAILED", "HeadlessError", "Terminated",
    "export_all", "pick_backend", "run_headless", "sigterm_raises_terminated",
]
