"""RNN Gradient Lab: entry point (`python main.py` or the `rnn-gradient-lab` command).

Qt is imported lazily, so `--help` and the headless export work without a display.

Every bad argument is one line on stderr (`rnn-gradient-lab: error: ...`) and exit code 2;
export-only options without --export are refused (the window does not use them); a missing
dependency is one line naming the package and how to install it (exit code 1); Ctrl+C is one
line and exit code 130.
"""

from __future__ import annotations

import argparse
import os
import sys

PROG = "rnn-gradient-lab"
EXIT_BAD_ARGUMENTS = 2
EXIT_MISSING_DEPENDENCY = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl+C

# Options that only mean something for an export (name, default applied by ui.headless).
EXPORT_ONLY_OPTIONS = ("plot", "size", "step", "reveal", "style", "fps", "frames")

# Import name -> the distribution pip installs (the packages main.py's paths import).
DEPENDENCIES = {
    "numpy": "numpy", "numba": "numba", "scipy": "scipy", "pydantic": "pydantic",
    "pydantic_core": "pydantic", "platformdirs": "platformdirs", "PySide6": "PySide6-Essentials",
    "shiboken6": "PySide6-Essentials", "pyqtgraph": "pyqtgraph",
    "matplotlib": "matplotlib", "PIL": "pillow",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse, with its errors as one line (no usage block) and exit code 2."""

    def error(self, message: str):
        self.exit(EXIT_BAD_ARGUMENTS, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description=(
            "See why a vanilla RNN's gradient vanishes or explodes while an LSTM's can survive: "
            "turn the knobs (U, W_hi, W_hf, W_hg, W_ho, gate biases), step the unrolled networks, "
            "watch the gradients."
        ),
    )
    parser.add_argument(
        "--preset", metavar="NAME_OR_PATH",
        help="start on this preset: a built-in preset's name or a preset file (.json)",
    )
    parser.add_argument(
        "--export", metavar="FILE", action="append", default=[],
        help="write a figure (.png, .svg, .pdf, .gif) or data (.csv) without opening a window; "
        "may be given several times",
    )
    parser.add_argument("--plot", default=None,
                        help="which plot to export (see --list-plots; default: dashboard, with --train: training)")
    parser.add_argument("--list-plots", action="store_true", help="list the plot names for --plot and exit")
    parser.add_argument("--size", default=None, help="export size in pixels, WIDTHxHEIGHT (default: 1920x1080)")
    parser.add_argument("--step", type=int, default=None, help="the selected time step t for the export (default: T)")
    parser.add_argument("--reveal", type=int, default=None, metavar="N",
                        help="how many steps the transport has revealed in the export (default: T, all)")
    parser.add_argument("--style", choices=("light", "dark"), default=None,
                        help="slide style of an exported figure: light (default) or dark (light on dark)")
    parser.add_argument("--fps", type=int, default=None, help="frames per second of an exported GIF (default: 8)")
    parser.add_argument("--frames", type=int, default=None, help="number of frames of an exported GIF")
    parser.add_argument("--train", type=int, default=None, metavar="STEPS",
                        help="train the preset's task (its training settings) for STEPS steps without a window, "
                        "print 'final test loss: rnn=<value> lstm=<value>' and export what --export asks "
                        "(e.g. --plot training)")
    parser.add_argument("--quiet", action="store_true",
                        help="with --export or --train: no progress line on stderr")
    parser.add_argument("--quit-after", type=float, default=None, metavar="SECONDS", help=argparse.SUPPRESS)
    parser.add_argument("--start-training", action="store_true", help=argparse.SUPPRESS)  # the window trains at once
    return parser


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """What argparse cannot check: empty values, export-only options without --export.
    Calls parser.error (one line, SystemExit 2)."""
    for name in ("preset", "plot", "size", "style"):
        value = getattr(args, name)
        if value is not None and not value.strip():
            parser.error(f"--{name}: empty value")
    if any(not text.strip() for text in args.export):
        parser.error("--export: empty file name")
    if args.train is not None and args.train < 1:
        parser.error(f"--train {args.train}: the number of steps must be at least 1")
    if args.quiet and args.train is None and not args.export:
        parser.error("--quiet only applies to --export and --train (their progress line on stderr)")
    if args.train is not None and (args.list_plots or args.start_training):
        parser.error("--train runs without a window: it cannot be combined with "
                     + ("--list-plots" if args.list_plots else "--start-training"))
    if not args.export and not args.list_plots:
        given = [f"--{name}" for name in EXPORT_ONLY_OPTIONS if getattr(args, name) is not None]
        if given:
            verb, pronoun = ("applies", "it") if len(given) == 1 else ("apply", "them")
            user = "--train without --export" if args.train is not None else "the window"
            parser.error(f"{', '.join(given)} only {verb} to an export: add --export FILE "
                         f"({user} does not use {pronoun})")


def missing_dependency_message(exc: ModuleNotFoundError) -> str | None:
    """One line naming the missing package and how to install it; None if it is not one of ours."""
    top = (exc.name or "").split(".")[0]
    if top not in DEPENDENCIES:
        return None
    package = DEPENDENCIES[top]
    here = os.path.dirname(os.path.abspath(__file__))
    venv_python = os.path.join(here, ".venv", "bin", "python")
    if os.path.exists(os.path.join(here, "pyproject.toml")):
        if os.path.exists(venv_python) and os.path.realpath(sys.prefix) != os.path.realpath(os.path.join(here, ".venv")):
            how = (f"run the app from its environment: {os.path.join(here, '.venv', 'bin', 'rnn-gradient-lab')}"
                   f" (or install it here: {sys.executable} -m pip install {package})")
        else:
            how = (f"install the app and its dependencies: cd {here} && python3 -m venv .venv && "
                   ".venv/bin/pip install -e . (then run .venv/bin/rnn-gradient-lab)")
    else:
        how = f"install it: {sys.executable} -m pip install {package}"
    return f"{PROG}: error: the Python package {package!r} is not installed for {sys.executable}; {how}"


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except KeyboardInterrupt:
        print(f"{PROG}: error: interrupted (Ctrl+C)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ModuleNotFoundError as exc:
        message = missing_dependency_message(exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return EXIT_MISSING_DEPENDENCY


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        check_arguments(parser, args)
    except SystemExit as exc:  # --help, or a bad argument (already printed on one line)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_BAD_ARGUMENTS)
    if args.export or args.list_plots or args.train is not None:
        from ui.cli.headless import run_headless  # matplotlib only: no window, no display needed

        return run_headless(args)
    from ui.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
