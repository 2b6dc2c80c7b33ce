"""`main.py --export`: headless, in a subprocess with no DISPLAY and QT_QPA_PLATFORM unset."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from simulator import Setup, compute

ROOT = Path(__file__).resolve().parents[1]
TINY = Setup(hidden_size=2, steps=3, seed=1).with_knob("U", 0.9).with_knob("b_f", 3.0)


def _headless_env():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(ROOT)
    env["RNN_GRADIENT_LAB_BACKEND"] = "reference"  # same numbers; no numba compile time in this test
    return env


def _write_preset(folder: Path) -> Path:
    path = folder / "tiny.json"
    path.write_text(json.dumps({
        "schema_version": 1, "name": "tiny", "description": "a small test preset",
        "setup": TINY.to_dict(), "view": {"selected_step": 0, "visible_panels": ["factors"]},
    }))
    return path


# Runs main.main() for each argv in one interpreter (no display, no Qt platform) and reports the
# exit code, stderr and whether any Qt module was imported.
DRIVER = r"""
import contextlib, io, json, sys
import main
report = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main.main(argv)
        except SystemExit as exc:
            code = exc.code
    report.append({"code": code, "stderr": err.getvalue()})
qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'))
print(json.dumps({"cases": report, "qt": qt}))
"""


def _run_driver(cases, cwd):
    done = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(cases)], cwd=cwd, env=_headless_env(),
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_headless_export_writes_every_file_without_a_display(tmp_path):
    preset = _write_preset(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    names = ["f.png", "f.svg", "f.pdf", "f.csv", "f.gif"]
    argv = ["--preset", str(preset), "--plot", "factors", "--size", "480x270", "--step", "2"]
    for name in names:
        argv += ["--export", str(out / name)]
    report = _run_driver([argv, ["--export", str(out / "d.csv"), "--preset", str(preset)]], cwd=tmp_path)
    assert report["qt"] == []  # the headless path never imports Qt
    assert [case["code"] for case in report["cases"]] == [0, 0], report
    assert sorted(p.name for p in out.iterdir()) == sorted(names + ["d.csv"])  # nothing else left

    png = np.asarray(Image.open(out / "f.png").convert("RGB"), dtype=float)
    assert png.shape == (270, 480, 3) and png.std() > 10  # the size asked for, not blank
    dashboard_rows = (out / "d.csv").read_text().splitlines()
    assert dashboard_rows[0] == "plot,column,row,value"  # the default plot is the dashboard
    assert (out / "f.svg").read_bytes().lstrip().startswith(b"<?xml")
    assert (out / "f.pdf").read_bytes().startswith(b"%PDF-")
    gif = Image.open(out / "f.gif")
    assert gif.n_frames == TINY.steps + 1 and gif.size == (480, 270)  # default: one frame per step here
    rows = (out / "f.csv").read_text().splitlines()
    assert rows[0].split(",")[0] == "t" and len(rows) == 1 + TINY.steps  # header + steps 1..T (all revealed)
    results = compute(TINY, backend="reference")
    column = rows[0].split(",").index("rnn_dS_t_dS_t-1_norm")
    got = np.array([float(row.split(",")[column]) for row in rows[1:]])
    np.testing.assert_allclose(got, results.rnn_factor_norm[1:], rtol=1e-12)


def test_bad_arguments_exit_non_zero_with_one_line_and_leave_nothing(tmp_path):
    preset = _write_preset(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    existing = out / "keep.png"
    existing.write_bytes(b"old")
    good = ["--preset", str(preset), "--size", "400x300"]
    cases = {
        "unknown plot": (good + ["--export", str(out / "a.png"), "--plot", "pie"], "unknown plot 'pie'"),
        "size too big": (good[:2] + ["--export", str(out / "a.png"), "--size", "5000x3000"], "at most 3840x2160"),
        "size malformed": (good[:2] + ["--export", str(out / "a.png"), "--size", "big"], "WIDTHxHEIGHT"),
        "unknown type": (good + ["--export", str(out / "a.png"), "--export", str(out / "b.tiff")], "unknown file type"),
        "no folder": (good + ["--export", str(out / "a.png"), "--export", str(out / "nope" / "b.png")], "does not exist"),
        "folder, no type": (good + ["--export", str(out)], "unknown file type"),
        "folder named .png": (good + ["--export", str(out / "dir.png")], "is a folder"),
        "unknown preset": (["--preset", "no-such-preset", "--export", str(out / "a.png")], "no-such-preset"),
        "bad preset file": (["--preset", str(out / "keep.png"), "--export", str(out / "a.png")], "keep.png"),
        "step out of range": (good + ["--export", str(out / "a.png"), "--step", "99"], "0..3"),
        "negative step": (good + ["--export", str(out / "a.png"), "--step", "-1"], "out of range"),
        "twice": (good + ["--export", str(out / "a.png"), "--export", str(out / "a.png")], "twice"),
    }
    (out / "dir.png").mkdir()
    report = _run_driver([argv for argv, _ in cases.values()], cwd=tmp_path)
    assert report["qt"] == []
    for (name, (_argv, needle)), case in zip(cases.items(), report["cases"]):
        assert case["code"] not in (0, None), name
        lines = case["stderr"].strip().splitlines()
        assert len(lines) == 1, (name, case["stderr"])
        assert needle in lines[0], (name, lines[0])
    # nothing written, the old file untouched
    assert sorted(p.name for p in out.iterdir()) == ["dir.png", "keep.png"]
    assert existing.read_bytes() == b"old"


def test_the_real_entry_point_exits_non_zero_without_a_display(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--export", str(tmp_path / "x.png"),
                           "--plot", "nope"], cwd=tmp_path, env=_headless_env(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "unknown plot 'nope'" in done.stderr
    assert list(tmp_path.iterdir()) == []
    listed = subprocess.run([sys.executable, str(ROOT / "main.py"), "--list-plots"], cwd=tmp_path,
                            env=_headless_env(), capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0
    from plots import PLOT_NAMES

    assert listed.stdout.split() == list(PLOT_NAMES)


def test_a_later_failure_removes_the_files_already_written(tmp_path, monkeypatch):
    import main
    from ui.export import files as figures
    from ui.cli import headless

    preset = _write_preset(tmp_path)
    existing = tmp_path / "b.csv"
    existing.write_text("old")
    real_export_bytes = figures.export_bytes  # what the headless export renders each file with
    calls = []

    def fail_on_third(results, plot, fmt, **kwargs):
        calls.append(fmt)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", "c.svg")
        return real_export_bytes(results, plot, fmt, **kwargs)

    monkeypatch.setattr(figures, "export_bytes", fail_on_third)
    monkeypatch.setenv("RNN_GRADIENT_LAB_BACKEND", "reference")
    args = main.build_parser().parse_args([
        "--preset", str(preset), "--plot", "terms", "--size", "400x300",
        "--export", str(tmp_path / "a.csv"), "--export", str(existing), "--export", str(tmp_path / "c.svg")])
    code = headless.run_headless(args)
    assert code == headless.EXIT_WRITE_FAILED
    assert len(calls) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.csv", "tiny.json"]
    assert existing.read_text() == "old"  # replaced only when every file was ready


def test_a_failed_rename_never_deletes_a_file_that_existed_before(tmp_path, monkeypatch):
    # Issue 10 item 18: the old clean-up removed every file already renamed into place, including
    # ones that existed before the call. Now those get their old content back.
    import main
    from ui.cli import headless

    preset = _write_preset(tmp_path)
    existing = tmp_path / "a.csv"
    existing.write_text("old")
    real_replace = os.replace

    def fail_for_b(src, dst, *args, **kwargs):
        if Path(dst).name == "b.csv":
            raise OSError(28, "No space left on device", str(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", fail_for_b)
    monkeypatch.setenv("RNN_GRADIENT_LAB_BACKEND", "reference")
    args = main.build_parser().parse_args([
        "--preset", str(preset), "--plot", "terms",
        "--export", str(existing), "--export", str(tmp_path / "b.csv"), "--export", str(tmp_path / "c.csv")])
    code = headless.run_headless(args)
    monkeypatch.undo()
    assert code == headless.EXIT_WRITE_FAILED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "tiny.json"]
    assert existing.read_text() == "old"


class _SignalInFinaliser:
    """Python runs a signal handler at the next bytecode; in a finaliser its exception is printed
    as "Exception ignored" and dropped (matplotlib's weakref callbacks, seen under load)."""

    def __del__(self):
        import signal

        signal.raise_signal(signal.SIGTERM)
        sum(range(10))  # bytecodes: the handler runs here, inside __del__


def _signal_then(swallowed_by: str):
    import signal

    def export_bytes(results, plot, fmt, **kwargs):
        if swallowed_by == "finaliser":
            _SignalInFinaliser()  # dropped at once: its Terminated is ignored, the export goes on
            if kwargs.get("progress") is not None:
                kwargs["progress"](1, 300)  # the next frame
            return b"rendered on regardless"
        try:  # a C++ extension converting an argument reports the handler's exception as a TypeError
            signal.raise_signal(signal.SIGTERM)
            sum(range(10))
        except BaseException:
            raise TypeError("incompatible function arguments") from None
        return b"never"

    return export_bytes


@pytest.mark.parametrize("swallowed_by", ["finaliser", "extension"])
def test_sigterm_stops_the_export_even_when_its_exception_is_swallowed(tmp_path, monkeypatch, capsys, swallowed_by):
    import main
    from ui.cli import headless
    from ui.export import files as figures

    preset = _write_preset(tmp_path)
    monkeypatch.setattr(figures, "export_bytes", _signal_then(swallowed_by))
    monkeypatch.setenv("RNN_GRADIENT_LAB_BACKEND", "reference")
    args = main.build_parser().parse_args(["--preset", str(preset), "--plot", "unrolled",
                                           "--export", str(tmp_path / "a.gif")])
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT), sys.unraisablehook
    code = headless.run_headless(args)
    assert code == headless.EXIT_TERMINATED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.json"]  # nothing written, nothing staged
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["rnn-gradient-lab: error: stopped by SIGTERM; unfinished files were removed"]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT), sys.unraisablehook) == handlers


@pytest.mark.parametrize("quiet", [False, True])
def test_a_long_export_says_how_far_it_is_on_stderr_unless_quiet(tmp_path, monkeypatch, capsys, quiet):
    # Issue 12: a headless export shows a progress line on stderr (here from the first moment and at
    # every update: the delay and the interval are set to 0), --quiet silences it.
    import main
    from ui.cli import headless

    monkeypatch.setattr(headless, "EXPORT_PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(headless, "PROGRESS_EVERY", 0.0)
    monkeypatch.setenv("RNN_GRADIENT_LAB_BACKEND", "reference")
    preset = _write_preset(tmp_path)
    argv = ["--preset", str(preset), "--plot", "unrolled", "--frames", "3", "--size", "320x200",
            "--export", str(tmp_path / "a.gif"), "--export", str(tmp_path / "a.csv")] + (["--quiet"] if quiet else [])
    args = main.build_parser().parse_args(argv)
    main.check_arguments(main.build_parser(), args)
    assert headless.run_headless(args) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"wrote {tmp_path / 'a.gif'}", f"wrote {tmp_path / 'a.csv'}"]
    if quiet:
        assert captured.err == ""
        return
    lines = captured.err.splitlines()
    assert any(line.startswith("computing H = 2, T = 3: exact norms") for line in lines), lines
    assert [line for line in lines if "frame" in line] == [f"writing a.gif: frame {n}/3" for n in (1, 2, 3)]
    assert "writing a.csv…" in lines


def test_a_signal_the_caller_ignores_stays_ignored_during_an_export():
    # a job started in the background (`cmd &`) has Ctrl+C ignored: the export must not stop on it
    from ui.cli import headless

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with headless.sigterm_raises_terminated():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)
            sum(range(10))
            headless.stop_if_asked()  # nothing was asked
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


class _ClosedStream:
    def isatty(self):
        return False

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stderr_silences_the_progress_line_instead_of_failing_the_work():
    from ui.cli import headless

    line = headless.ProgressLine(_ClosedStream(), quiet=False)
    line.show("computing…")  # the reader of stderr left: no exception, the line goes quiet
    assert line.quiet
    line.show("still computing…", force=True)
    line.done()
