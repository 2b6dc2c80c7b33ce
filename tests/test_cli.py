"""The command line as a hostile user meets it: every bad argument is ONE line on stderr and a
non-zero exit, nothing is written, no window starts for export-only options, Ctrl+C and SIGTERM
during an export leave nothing behind, a missing dependency is named with the install command.
Real subprocesses without a display (QT_QPA_PLATFORM unset)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulator import Setup
from tests.test_headless import _headless_env, _run_driver

ROOT = Path(__file__).resolve().parents[1]
PROG = "rnn-gradient-lab"


def _write_preset(folder: Path, steps: int = 3, name: str = "tiny.json") -> Path:
    path = folder / name
    setup = Setup(hidden_size=2, steps=steps, seed=1)
    path.write_text(json.dumps({"schema_version": 1, "name": "tiny", "setup": setup.to_dict()}))
    return path


def _assert_one_error_line(stderr: str, needle: str, name: str = "") -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, (name, stderr)
    assert lines[0].startswith(f"{PROG}: error: "), (name, lines[0])
    assert needle in lines[0], (name, needle, lines[0])
    assert "Traceback" not in stderr


def _main_py(*argv: str, cwd: Path, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *argv], cwd=cwd, env=_headless_env(),
                          capture_output=True, text=True, timeout=timeout, **kwargs)


# --- items 7 and 10: one line, non-zero, nothing written --------------------------------------------
def test_every_bad_argument_is_one_line_and_writes_nothing(tmp_path):
    preset = _write_preset(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "loop1.png").symlink_to(out / "loop2.png")
    (out / "loop2.png").symlink_to(out / "loop1.png")
    a_png = str(out / "a.png")
    good = ["--preset", str(preset)]
    cases = {
        "unknown option": (["--bogus"], "unrecognized arguments: --bogus"),
        "not a number": (good + ["--step", "x", "--export", a_png], "invalid int value: 'x'"),
        "missing value": (good + ["--export"], "expected one argument"),
        "huge size": (good + ["--size", "2147483648x480", "--export", a_png], "at most 3840x2160"),
        "odd digits": (good + ["--size", "\u00b2x480", "--export", a_png], "WIDTHxHEIGHT"),
        "thousands of digits": (good + ["--size", "9" * 5000 + "x480", "--export", a_png], "at most 3840x2160"),
        "symlink loop": (good + ["--export", str(out / "loop1.png")], "symlink loop"),
        "name too long": (good + ["--export", str(out / ("n" * 300 + ".png"))], "too long"),
        "empty preset": (["--preset", "", "--export", a_png], "--preset"),
        "blank preset": (["--preset", "  ", "--export", a_png], "--preset"),
        "empty plot": (good + ["--plot", "", "--export", a_png], "--plot"),
        "empty export": (good + ["--export", ""], "--export"),
        "empty size": (good + ["--size", "", "--export", a_png], "--size"),
        "unknown ~user": (good + ["--export", "~no-such-user-rgl/x.png"], "does not exist"),
    }
    report = _run_driver([argv for argv, _ in cases.values()], cwd=tmp_path)
    for (name, (_argv, needle)), case in zip(cases.items(), report["cases"]):
        assert case["code"] not in (0, None), (name, case)
        _assert_one_error_line(case["stderr"], needle, name)
    assert sorted(p.name for p in out.iterdir()) == ["loop1.png", "loop2.png"]  # nothing written


def test_a_long_but_legal_output_name_is_written(tmp_path):
    preset = _write_preset(tmp_path)
    long_name = "a" * 248 + ".csv"  # 252 characters: the case
    report = _run_driver([["--preset", str(preset), "--plot", "factors", "--export", str(tmp_path / long_name)]],
                         cwd=tmp_path)
    assert report["cases"][0]["code"] == 0, report
    assert (tmp_path / long_name).read_text().startswith("t,")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([long_name, "tiny.json"])


@pytest.mark.parametrize("argv, needle", [
    (["--size", "2147483648x480"], "--size"),
    (["--size", "800x600"], "--size"),
    (["--step", "3", "--plot", "terms"], "--plot, --step"),
    (["--fps", "5"], "--fps"),
    (["--frames", "3"], "--frames"),
])
def test_export_only_options_without_export_are_refused_before_any_window(tmp_path, argv, needle):
    # No display here: starting the window would abort (rc -6). It must never get that far.
    done = _main_py(*argv, cwd=tmp_path, timeout=60)
    assert done.returncode == 2, (done.returncode, done.stderr)
    _assert_one_error_line(done.stderr, needle)
    assert "--export" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_as_preset_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "p.json"
    os.mkfifo(fifo)
    done = _main_py("--preset", str(fifo), "--export", str(tmp_path / "x.csv"), cwd=tmp_path, timeout=30)
    assert done.returncode == 2
    _assert_one_error_line(done.stderr, "FIFO")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]


# --- items 7 and 8: Ctrl+C and SIGTERM during an export ----------------------------------------------
def _start_slow_export(tmp_path: Path):
    """A CSV (staged at once) and then a GIF of many frames (slow): returns (process, out folder)
    once the CSV's temporary file is on disk, i.e. in the middle of the export."""
    preset = _write_preset(tmp_path, steps=300)
    out = tmp_path / "out"
    out.mkdir()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "--preset", str(preset), "--plot", "unrolled", "--frames", "300",
         "--size", "1280x720", "--export", str(out / "o.csv"), "--export", str(out / "o.gif")],
        cwd=tmp_path, env=_headless_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".") for p in out.iterdir()):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the export never staged a file: {process.communicate()}")
        time.sleep(0.05)
    return process, out


@pytest.mark.parametrize("stop, code, needle", [
    (signal.SIGINT, 130, "interrupted"),
    (signal.SIGTERM, 128 + signal.SIGTERM, "SIGTERM"),
])
def test_stopping_an_export_leaves_nothing_and_prints_one_line(tmp_path, stop, code, needle):
    process, out = _start_slow_export(tmp_path)
    process.send_signal(stop)
    try:
        _stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == code, (process.returncode, stderr)
    _assert_one_error_line(stderr, needle)
    assert list(out.iterdir()) == []  # no temporary file, no partial target


# --- item 12: a missing dependency is one line naming it and the install command --------------------
BLOCKED_IMPORT = r"""
import runpy, sys
sys.modules[sys.argv[1]] = None  # as if the package were not installed
sys.argv = ["main.py"] + sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize("package, argv, shown", [
    ("matplotlib", ["--export", "x.png"], "matplotlib"),
    ("PIL", ["--export", "x.gif"], "pillow"),
    ("pydantic", ["--export", "x.csv"], "pydantic"),
    ("PySide6", [], "PySide6"),
])
def test_a_missing_dependency_is_one_line_with_the_install_command(tmp_path, package, argv, shown):
    env = _headless_env()
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", BLOCKED_IMPORT, package, *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, (done.returncode, done.stderr)
    _assert_one_error_line(done.stderr, shown)
    assert "pip install" in done.stderr
    assert not (ROOT / "x.png").exists() and not (ROOT / "x.gif").exists() and not (ROOT / "x.csv").exists()


# --- item 12: the README's headless examples work after the README's first command --------------------
def _readme_export_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Export for slides", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ") and line.strip()]


def test_readme_export_examples_use_the_venv_and_a_scratch_folder():
    commands = _readme_export_commands()
    assert len(commands) >= 3
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    for command in commands:
        for part in command.split("&&"):
            part = part.strip()
            assert part.startswith((".venv/bin/rnn-gradient-lab ", "mkdir ")), command
        for target in re.findall(r"--export\s+(\S+)", command):
            assert not target.startswith("docs/") and target not in tracked, command


def test_readme_export_examples_run(tmp_path):
    """Each README command run in a copy of the files it reads (`mkdir -p` done here, each
    `.venv/bin/rnn-gradient-lab ARGS` as main.main(ARGS) in one interpreter, to save start-up
    time): exit 0 and its files written. (The GIF is made with 3 frames instead of 40: the same
    path, a sixth of the time.)"""
    import shlex

    (tmp_path / "docs").mkdir()
    for path in (ROOT / "docs").glob("*.json"):
        (tmp_path / "docs" / path.name).write_bytes(path.read_bytes())
    runs, targets = [], []
    for command in _readme_export_commands():
        words = shlex.split(re.sub(r"--frames \d+", "--frames 3", command))
        if words[:2] == ["mkdir", "-p"]:
            for folder in words[2:]:
                (tmp_path / folder).mkdir(parents=True, exist_ok=True)
            continue
        assert words[0] == ".venv/bin/rnn-gradient-lab", command
        runs.append(words[1:])
        targets += re.findall(r"--export\s+(\S+)", command)
    report = _run_driver(runs, cwd=tmp_path)
    assert [case["code"] for case in report["cases"]] == [0] * len(runs), report
    for target in targets:
        assert (tmp_path / target).stat().st_size > 0, target
