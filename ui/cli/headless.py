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
143: SIGTERM). An export that takes longer than EXPORT_PROGRESS_AFTER seconds (a large setup, a
long GIF) says how far it is on stderr, as a training does (--quiet: nothing). Ctrl+C and SIGTERM
(turned into an exception while the export runs) remove the temporary files before the process
ends.

`main.py --preset <p> --train STEPS` trains the preset's task with its training settings (the
preset's "training"; STEPS replaces its step budget) without a window, with a progress line on
stderr (updated in place on a terminal, else one line every PROGRESS_EVERY seconds; --quiet: none),
then writes the --export files of --plot ("training": the curves; any other plot: the trained
networks on the task's test sequence, as the window's Look inside shows them) and ends by printing
exactly one line on stdout: `final test loss: rnn=<value> lstm=<value>` (the reported test loss of
the final weights: plain MSE, or cross-entropy). The "wrote <file>" lines go to stderr then.

No Qt is imported on this path (matplotlib's Agg backend only).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from plots import ANIMATED_PLOTS, PLOT_NAMES

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


_stop_requested: list[type[BaseException]] = []  # what a signal asked for, kept until the block ends


@contextmanager
def sigterm_raises_terminated():
    """While the block runs, SIGTERM raises Terminated (the default action would end the process
    at once and leave its temporary files) and Ctrl+C raises KeyboardInterrupt. Only the main
    thread can set signal handlers.

    The signal is also remembered and `stop_if_asked()` raises it again: Python runs a handler at
    the next bytecode, which may be inside a finaliser (a matplotlib or PIL object being garbage
    collected), where an exception is printed as "Exception ignored" and dropped; the export then
    went on rendering its 300 frames (seen in 2 of 25 tries under load)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum, frame):
        stop = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        _stop_requested.append(stop)
        raise stop()

    def unraisable(info):  # the dropped exception is ours: stop_if_asked() raises it again; no traceback
        if not (_stop_requested and isinstance(info.exc_value, (Terminated, KeyboardInterrupt))):
            previous_hook(info)

    # a signal the caller ignores (Ctrl+C for a job started with `&`) stays ignored
    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGTERM, signal.SIGINT)
                if signal.getsignal(number) is not signal.SIG_IGN}
    previous_hook, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        sys.unraisablehook = previous_hook
        _stop_requested.clear()


def stop_if_asked(*_progress) -> None:
    """Raise the stop a signal asked for (see sigterm_raises_terminated); a progress callback."""
    if _stop_requested:
        raise _stop_requested[0]()


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
    """Entry point used by main.py for --export, --list-plots and --train. Returns the exit code."""
    if getattr(args, "list_plots", False):
        print("\n".join(PLOT_NAMES))
        return 0
    training = getattr(args, "train", None) is not None
    try:
        with sigterm_raises_terminated():
            if training:
                written, final_line = train_and_export(args)
            else:
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
    if training:
        if not getattr(args, "quiet", False):
            for path in written:
                print(f"wrote {path}", file=sys.stderr)
        print(final_line, flush=True)  # the one line on stdout that scripts read
        return 0
    for path in written:
        print(f"wrote {path}")
    return 0


@dataclass(frozen=True)
class ExportRequest:
    """Checked export arguments (nothing computed or written yet)."""

    plot: str
    size: tuple[int, int]
    jobs: list
    step: int | None
    reveal: int | None
    theme: str
    fps: float
    frames: int | None


def check_export_arguments(args, run_steps, need_exports: bool = True,
                           default_plot: str = "dashboard") -> ExportRequest:
    """Every export argument checked (HeadlessError, one line), in the order the user reads them;
    run_steps() (the preset loaded only now) gives the number of steps --step and --reveal refer to."""
    from ui.export import files as figures

    plot = getattr(args, "plot", None)
    plot = default_plot if plot is None else plot
    if plot not in PLOT_NAMES:
        raise HeadlessError(f"unknown plot {plot!r} for --plot: choose one of {', '.join(PLOT_NAMES)}")
    try:
        size = getattr(args, "size", None)
        size = figures.parse_size("1920x1080" if size is None else size)
    except figures.ExportError as exc:
        raise HeadlessError(f"--size: {exc}") from None
    exports = list(getattr(args, "export", None) or [])
    if not exports and need_exports:
        raise HeadlessError("nothing to do: give at least one --export FILE")
    jobs = _check_jobs(exports)
    steps = run_steps()
    step = getattr(args, "step", None)
    if step is not None and not 0 <= step <= steps:
        raise HeadlessError(f"--step {step} is out of range: this preset has steps 0..{steps}")
    reveal = getattr(args, "reveal", None)
    if reveal is not None and not 0 <= reveal <= steps:
        raise HeadlessError(f"--reveal {reveal} is out of range: this preset has steps 0..{steps}")
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
            if plot not in ANIMATED_PLOTS:
                raise figures.ExportError(f"--plot {plot} is not animated: export it as .png, .svg, .pdf or .csv")
            if frames is not None and not 2 <= frames <= min(steps + 1, figures.MAX_GIF_FRAMES):
                raise figures.ExportError(
                    f"--frames {frames}: must be 2..{min(steps + 1, figures.MAX_GIF_FRAMES)}")
    except figures.ExportError as exc:
        raise HeadlessError(str(exc)) from None
    return ExportRequest(plot, size, jobs, step, reveal, theme, fps, frames)


def export_all(args) -> list[Path]:
    """Validate everything, compute once, write every file (all or nothing)."""
    # --- 1. arguments (nothing is computed or written yet) ---
    loaded = []
    request = check_export_arguments(args, lambda: loaded.append(_load_setup(getattr(args, "preset", None)))
                                     or loaded[0].steps)
    setup = loaded[0]
    backend = pick_backend()

    progress = ProgressLine(sys.stderr, quiet=getattr(args, "quiet", False), first_after=EXPORT_PROGRESS_AFTER)
    try:
        # --- 2. compute once (a signal cancels it between two chunks) ---
        from simulator import Cancelled, ComputeJob

        job = ComputeJob(setup, backend)
        size = f"H = {setup.hidden_size}, T = {setup.steps}"

        def between_chunks() -> bool:  # (asked between two chunks: cheaper than building partial results)
            progress.show(f"computing {size}: exact norms {int(100 * job.progress)} %")
            return bool(_stop_requested)

        try:
            results = job.run(cancelled=between_chunks)
        except Cancelled:
            stop_if_asked()
            raise

        # --- 3. write every file under a temporary name, then rename all into place ---
        return write_exports(results, request, progress=progress)
    finally:
        progress.done()


def write_exports(results, request: ExportRequest, training=None, progress: ProgressLine | None = None) -> list[Path]:
    """Write every job of `request` (all or nothing). `training`: the curves of --plot training.
    `progress`: the line on stderr (a GIF says which frame it is at)."""
    from simulator import files
    from ui.export import files as figures

    def frame_done(job: Job):
        def done(frame: int, frames: int) -> None:
            stop_if_asked()
            if progress is not None:
                progress.show(f"writing {job.path.name}: frame {frame}/{frames}")
        return done

    try:
        try:
            with files.StagedWrites() as staged:  # removes what is not committed, Ctrl+C/SIGTERM included
                view = figures.make_view(results, request.step, request.reveal)
                for job in request.jobs:
                    if progress is not None:
                        progress.show(f"writing {job.path.name}…")
                    data = figures.export_bytes(results, request.plot, job.fmt, view=view, size=request.size,
                                                theme=request.theme, fps=request.fps, frames=request.frames,
                                                training=training, progress=frame_done(job))
                    stop_if_asked()
                    staged.add(job.path, data)
                stop_if_asked()
                return staged.commit()
        except Exception:
            # a signal's exception can come out as another one: raised while a C++ extension
            # converted an argument, pybind11 reports a TypeError (seen under load)
            stop_if_asked()
            raise
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


# --- --train: a training without a window ---------------------------------------------------------
PROGRESS_EVERY = 5.0  # seconds between two progress lines when stderr is not a terminal
PROGRESS_REFRESH = 0.5  # seconds between two updates of the line in place on a terminal
EXPORT_PROGRESS_AFTER = 3.0  # an export shows its progress line once it has taken this long


def _load_preset(preset_arg: str | None):
    from simulator.presets import PresetError, default_preset, resolve_preset

    try:
        return resolve_preset(preset_arg) if preset_arg else default_preset()
    except PresetError as exc:
        raise HeadlessError(f"bad --preset: {_one_line(exc)}") from None
    except (OSError, ValueError) as exc:
        raise HeadlessError(f"bad --preset {preset_arg!r}: {_one_line(exc)}") from None


class ProgressLine:
    """Progress on stderr (a training, a long export): one line rewritten in place on a terminal,
    else a new line every PROGRESS_EVERY seconds (logs stay readable). Nothing when quiet, and
    nothing before `first_after` seconds (a quick export prints only its result)."""

    def __init__(self, stream, quiet: bool, first_after: float = 0.0):
        self.stream = stream
        self.quiet = quiet
        self.in_place = bool(getattr(stream, "isatty", lambda: False)())
        self.every = PROGRESS_REFRESH if self.in_place else PROGRESS_EVERY
        self.last = -float("inf")
        self.width = 0
        self.silent_until = time.perf_counter() + first_after

    def show(self, text: str, force: bool = False) -> None:
        if self.quiet:
            return
        now = time.perf_counter()
        if now < self.silent_until or (not force and now - self.last < self.every):
            return
        self.last = now
        try:
            if self.in_place:
                padding = " " * max(0, self.width - len(text))
                self.stream.write("\r" + text + padding)
                self.width = len(text)
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed (a pipe whose reader left): the work goes on
            self.quiet = True

    def done(self) -> None:
        if not self.quiet and self.in_place and self.width:
            try:
                self.stream.write("\n")
                self.stream.flush()
            except (OSError, ValueError):
                self.quiet = True


def _progress_text(trainer, label: str) -> str:
    progress = trainer.progress()
    history = trainer.history
    text = f"training {label}: step {progress['step']}/{progress['steps']}"
    if progress["steps_per_second"] > 0:
        text += f" · {progress['steps_per_second']:.0f} steps/s"
        if progress["seconds_left"] != float("inf") and progress["step"] < progress["steps"]:
            text += f" · {progress['seconds_left']:.0f} s left"
    if history.test_count:
        last = history.test_count - 1
        text += (f" · test {trainer.task.loss_name} rnn={history.rnn.test_loss[last]:.4g} "
                 f"lstm={history.lstm.test_loss[last]:.4g}")
    return text


def train_and_export(args) -> tuple[list[Path], str]:
    """--train: check everything, train the preset's task, write the exports (all or nothing);
    returns (the files written, the final line)."""
    from simulator import SetupError

    steps = getattr(args, "train")
    loaded = {}

    def load() -> int:  # the preset, checked after the arguments that do not need it
        preset = _load_preset(getattr(args, "preset", None))
        if preset.training is None:
            from simulator.presets import builtin_presets

            lessons = [key for key, p in builtin_presets().items() if p.training is not None]
            raise HeadlessError(f"--train: the preset {preset.name!r} has no training settings (a task to train "
                                f"on); try one of: {', '.join(lessons)}")
        try:
            settings = preset.training.replace(steps=steps)
            task = settings.make_task()
            inits = settings.inits(preset.setup, task)
        except (SetupError, ValueError) as exc:
            raise HeadlessError(f"--train: {_one_line(exc)}") from None
        loaded.update(preset=preset, settings=settings, task=task, inits=inits)
        return task.steps

    request = check_export_arguments(args, load, need_exports=False, default_plot="training")
    preset, settings, task, inits = (loaded[key] for key in ("preset", "settings", "task", "inits"))
    backend = pick_backend()

    from plots.training import TASK_TITLES, curves_of
    from simulator import compute
    from simulator.trained import setup_for_networks
    from simulator.training import Trainer

    progress = ProgressLine(sys.stderr, quiet=getattr(args, "quiet", False))
    label = f"{TASK_TITLES[settings.task]}, T = {settings.T}"
    progress.show(f"training {label}: preparing…", force=True)
    trainer = Trainer(task, settings.config(backend=backend), *inits)
    while not trainer.finished:
        stop_if_asked()
        trainer.run(seconds=progress.every / 2)
        progress.show(_progress_text(trainer, label))
    trainer.record_test()  # (the last step is tested anyway; a no-op then)
    progress.show(_progress_text(trainer, label), force=True)
    progress.done()
    history = trainer.history
    last = history.test_count - 1
    final_line = f"final test loss: rnn={history.rnn.test_loss[last]:.6g} lstm={history.lstm.test_loss[last]:.6g}"

    written = []
    if request.jobs:
        sequence = preset.setup.input.sequence if preset.setup.input.kind == "task" else 0
        trained = setup_for_networks(trainer.rnn_params(), trainer.lstm_params(), task, sequence)
        results = compute(trained, backend=backend)
        written = write_exports(results, request, training=curves_of(trainer))
    return written, final_line


__all__ = [
    "EXIT_BAD_ARGUMENTS", "EXIT_INTERRUPTED", "EXIT_TERMINATED", "EXIT_WRITE_FAILED", "HeadlessError", "Terminated",
    "export_all", "pick_backend", "run_headless", "sigterm_raises_terminated", "stop_if_asked", "train_and_export",
]
