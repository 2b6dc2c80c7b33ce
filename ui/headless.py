"""`main.py --export`: write figures and data from a preset without a window or a display.

    python main.py --preset rnn-vanishing --export out.pdf --export out.png --plot long-range \
        --size 1920x1080 --step 40

--plot defaults to the dashboard, --size to 1920x1080, --step (the selected step: (L4) terms,
unrolled chain, marker) to T; every step of the run is drawn. A GIF steps t through 0..T
(frames: one per step, at most 40; 8 frames/s; `args.fps` / `args.frames` are used if main.py
provides them). RNN_GRADIENT_LAB_BACKEND=reference|numba forces the simulator backend.

Every argument is checked before anything is computed or written. Files are first written next
to their targets under temporary names and only renamed into place when all of them succeeded,
so a failure leaves nothing behind (and files that already existed untouched). Errors are one
line on stderr and a non-zero exit code (2: bad arguments, 1: could not write).

No Qt is imported on this path (matplotlib's Agg backend only).
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import PLOT_NAMES

PROG = "rnn-gradient-lab"
EXIT_BAD_ARGUMENTS = 2
EXIT_WRITE_FAILED = 1


class HeadlessError(Exception):
    def __init__(self, message: str, code: int = EXIT_BAD_ARGUMENTS):
        super().__init__(message)
        self.code = code


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
    """The preset's Setup. A missing presets module falls back to the default Setup()."""
    from simulator import Setup

    try:
        from simulator.presets import PresetError, default_preset, resolve_preset
    except ImportError:  # presets not installed yet: keep going with the default setup
        if preset_arg:
            print(f"{PROG}: warning: presets are not available; using the default setup", file=sys.stderr)
        return Setup()
    try:
        preset = resolve_preset(preset_arg) if preset_arg else default_preset()
    except PresetError as exc:
        raise HeadlessError(f"bad --preset: {_one_line(exc)}") from None
    except (OSError, ValueError) as exc:
        raise HeadlessError(f"bad --preset {preset_arg!r}: {_one_line(exc)}") from None
    return preset.setup


def _check_jobs(exports: list[str]) -> list[Job]:
    from . import figures

    jobs, seen = [], set()
    for text in exports:
        path = Path(text).expanduser()
        try:
            fmt = figures.format_of(path)
        except figures.ExportError as exc:
            raise HeadlessError(str(exc)) from None
        resolved = path.resolve()
        if resolved in seen:
            raise HeadlessError(f"--export {text!r} is given twice")
        seen.add(resolved)
        folder = resolved.parent
        if path.is_dir():
            raise HeadlessError(f"cannot write {text!r}: it is a folder")
        if not folder.is_dir():
            raise HeadlessError(f"cannot write {text!r}: folder {str(folder)!r} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise HeadlessError(f"cannot write {text!r}: permission denied")
        jobs.append(Job(path, fmt))
    return jobs


def run_headless(args) -> int:
    """Entry point used by main.py for --export and --list-plots. Returns the exit code."""
    if getattr(args, "list_plots", False):
        print("\n".join(PLOT_NAMES))
        return 0
    try:
        written = export_all(args)
    except HeadlessError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return exc.code
    for path in written:
        print(f"wrote {path}")
    return 0


def export_all(args) -> list[Path]:
    """Validate everything, compute once, write every file (all or nothing)."""
    from . import figures

    # --- 1. arguments (nothing is computed or written yet) ---
    plot = getattr(args, "plot", None) or "dashboard"
    if plot not in PLOT_NAMES:
        raise HeadlessError(f"unknown plot {plot!r} for --plot: choose one of {', '.join(PLOT_NAMES)}")
    try:
        size = figures.parse_size(getattr(args, "size", None) or "1920x1080")
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
    staged: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for job in jobs:
            fd, tmp = tempfile.mkstemp(dir=job.path.resolve().parent, prefix=f".{job.path.name}.",
                                       suffix=f".part.{job.fmt}")
            os.close(fd)
            staged.append((Path(tmp), job.path))
            figures.export(results, plot, tmp, step=step, size=size, fps=fps, frames=frames)
        for tmp, final in staged:
            os.replace(tmp, final)
            placed.append(final)
    except figures.ExportError as exc:
        _clean_up(staged, placed)
        raise HeadlessError(str(exc)) from None
    except OSError as exc:
        _clean_up(staged, placed)
        where = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
        raise HeadlessError(f"cannot write{where}: {exc.strerror or exc}", EXIT_WRITE_FAILED) from None
    except Exception as exc:  # a render failure: still one line, still nothing left behind
        _clean_up(staged, placed)
        raise HeadlessError(f"could not export: {type(exc).__name__}: {exc}", EXIT_WRITE_FAILED) from None
    except BaseException:  # Ctrl+C: clean up, then stop
        _clean_up(staged, placed)
        raise
    return placed


def _clean_up(staged: list[tuple[Path, Path]], placed: list[Path]) -> None:
    for tmp, _final in staged:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
    for final in placed:  # files of this call already renamed into place
        try:
            final.unlink()
        except FileNotFoundError:
            pass


__all__ = ["EXIT_BAD_ARGUMENTS", "EXIT_WRITE_FAILED", "HeadlessError", "export_all", "pick_backend", "run_headless"]
