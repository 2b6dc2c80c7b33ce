"""RNN Gradient Lab: entry point (`python main.py` or the `rnn-gradient-lab` command).

Qt is imported lazily, so `--help` and the headless export work without a display.
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnn-gradient-lab",
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
    parser.add_argument("--plot", default="dashboard", help="which plot to export (see --list-plots)")
    parser.add_argument("--list-plots", action="store_true", help="list the plot names for --plot and exit")
    parser.add_argument("--size", default="1920x1080", help="export size in pixels, WIDTHxHEIGHT")
    parser.add_argument("--step", type=int, default=None, help="the selected time step t for the export")
    parser.add_argument("--fps", type=int, default=8, help="frames per second of an exported GIF")
    parser.add_argument("--frames", type=int, default=None, help="number of frames of an exported GIF")
    parser.add_argument("--quit-after", type=float, default=None, metavar="SECONDS", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.export or args.list_plots:
        from ui.headless import run_headless  # matplotlib only: no window, no display needed

        return run_headless(args)
    from ui.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
