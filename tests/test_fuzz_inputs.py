"""Fuzzing the two ways input gets in from outside: preset files and command-line arguments.

Bounded budget (a few hundred examples, a few seconds): hypothesis draws mutated valid presets,
random bytes and truncated files for `load_preset`, and random argument lists for `main.main`.
The contract under test:
- load_preset returns a Preset or raises PresetError naming the file: nothing else, never hangs;
  a preset it returns saves and loads back equal.
- main.main returns an int exit code; an error is exactly one stderr line
  (`rnn-gradient-lab: error: ...`), never a traceback, and writes nothing (no file, no temporary
  file); a success leaves no temporary file; the window is never started with export-only options.
The CLI runs in-process, with the compute and the rendering replaced by instant stand-ins (the
arguments, the preset loading and the file writing are the real ones) and the window by a stub.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import main
import ui.app
from simulator import Setup, files
from simulator.presets import Preset, PresetError, load_preset, save_preset
from plots import PLOT_NAMES
from ui.export import files as figures

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)

# --- preset files --------------------------------------------------------------------------------------
VALID = {
    "schema_version": 1,
    "name": "Fuzz",
    "description": "a valid preset to mutate",
    "setup": Setup(hidden_size=2, input_size=1, steps=6, seed=3,
                   bias_offsets={"b_f": [0.5, -0.5]}, weights={"U": [[0.1, 0.2], [0.3, 0.4]]}).to_dict(),
    "view": {"selected_step": 2, "visible_panels": ["factors", "terms"]},
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from([0, -1, 1, 2**31, 2**63, 10**400, 1e308, -0.0, 5e-324, "", "1", "NaN", [], {}]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _paths(value, prefix=()):
    """Every key path into a nested dict/list (the places a mutation can hit)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


ALL_PATHS = [p for p in _paths(VALID) if p]


@st.composite
def mutated_presets(draw) -> str:
    data = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(ALL_PATHS))
        parent = data
        try:
            for key in where[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[where[-1]] = draw(json_values)
            elif action == "delete" and isinstance(parent, dict):
                parent.pop(where[-1], None)
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=10))] = draw(json_values)
        except (KeyError, IndexError, TypeError):  # an earlier mutation changed the shape: fine
            pass
    return json.dumps(data, allow_nan=True)


@st.composite
def preset_file_bytes(draw) -> bytes:
    kind = draw(st.sampled_from(["mutated", "truncated", "bytes", "text"]))
    if kind == "mutated":
        return draw(mutated_presets()).encode("utf-8")
    if kind == "truncated":
        whole = json.dumps(VALID, indent=2).encode("utf-8")
        return whole[: draw(st.integers(0, len(whole)))]
    if kind == "bytes":
        return draw(st.binary(max_size=400))
    return draw(st.text(alphabet='{}[]":,0123456789.-+eE truefalsnul\\u\n\ufeff', max_size=200)).encode("utf-8")


@pytest.mark.timeout(120)
@FUZZ
@given(content=preset_file_bytes())
def test_any_preset_file_loads_or_is_refused_with_a_preset_error(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.json"
        path.write_bytes(content)
        try:
            preset = load_preset(path)
        except PresetError as exc:
            assert "fuzz.json" in str(exc) and str(exc).strip(), str(exc)
            return
        assert isinstance(preset, Preset)
        again = Path(folder) / "again.json"
        save_preset(preset, again)
        assert load_preset(again) == preset


# --- command-line arguments ----------------------------------------------------------------------------
OPTIONS = ["--preset", "--export", "--plot", "--size", "--step", "--fps", "--frames", "--list-plots",
           "--quit-after", "--pre", "--exp", "--bogus", "-x", "--", "--export="]
OUTPUT_NAMES = ["a.csv", "b.png", "c.svg", "d.pdf", "e.gif", "f.tiff", "noext", "sub/g.csv", "missing/h.csv",
                "folder.png", "loop.png", "readonly.csv", "x" * 251 + ".csv", "y" * 300 + ".png", ".hidden.csv",
                "fifo.csv"]
SPECIAL_VALUES = ["", " ", "400x300", "2147483648x480", "0x0", "200x200", "²x480", "9" * 50 + "x480", "1920X1080",
                  "3", "-1", "0", "99999999999999999999", "2.5", "1e3", "default", "rnn-vanishing", "tiny.json",
                  "broken.json", "fifo.json", "missing.json", "~no-such-user/x.json", *PLOT_NAMES, "Dashboard"]


def _setup_folder(folder: Path) -> None:
    out = folder / "out"
    out.mkdir()
    (out / "sub").mkdir()
    (out / "folder.png").mkdir()
    (out / "loop.png").symlink_to(out / "loop.png")
    (out / "readonly.csv").write_text("old")
    os.chmod(out / "readonly.csv", 0o444)
    if hasattr(os, "mkfifo"):
        os.mkfifo(out / "fifo.csv")
        os.mkfifo(folder / "fifo.json")
    tiny = {"schema_version": 1, "name": "tiny", "setup": Setup(hidden_size=1, steps=3).to_dict()}
    (folder / "tiny.json").write_text(json.dumps(tiny))
    (folder / "broken.json").write_text('{"schema_version": 1, "name": ')


GOOD_OUTPUTS = ["a.csv", "b.png", "c.svg", "d.pdf", "e.gif", "sub/g.csv", "x" * 251 + ".csv", ".hidden.csv"]
GOOD_VALUES = {
    "--preset": ["tiny.json", "default", "rnn-vanishing", "LSTM carousel"],
    "--plot": list(PLOT_NAMES),
    "--size": ["400x300", "1920x1080", " 800 x 600 "],
    "--step": ["0", "1", "3"],
    "--fps": ["1", "8"],
    "--frames": ["2", "3"],
}


@st.composite
def random_arguments(draw) -> list[str]:
    argv = []
    for _ in range(draw(st.integers(0, 6))):
        option = draw(st.sampled_from(OPTIONS))
        argv.append(option)
        if draw(st.integers(0, 9)) == 0:
            continue  # an option without its value
        if option in ("--export", "--exp"):
            argv.append("out/" + draw(st.sampled_from(OUTPUT_NAMES)))
        elif option == "--export=":
            argv[-1] = "--export=out/" + draw(st.sampled_from(OUTPUT_NAMES))
        else:
            argv.append(draw(st.sampled_from(SPECIAL_VALUES) | st.text(max_size=12)))
    return argv


@st.composite
def nearly_valid_arguments(draw) -> list[str]:
    """A valid export command, then perhaps one token replaced or one option added: most succeed,
    so the writing path (and its clean-up) is exercised too."""
    argv = []
    for option, values in GOOD_VALUES.items():
        if draw(st.booleans()):
            argv += [option, draw(st.sampled_from(values))]
    for name in draw(st.lists(st.sampled_from(GOOD_OUTPUTS), min_size=1, max_size=3, unique=True)):
        argv += ["--export", f"out/{name}"]
    change = draw(st.sampled_from(["none", "none", "replace", "add"]))
    if change == "replace":
        argv[draw(st.integers(0, len(argv) - 1))] = draw(st.sampled_from(SPECIAL_VALUES + OPTIONS) | st.text(max_size=12))
    elif change == "add":
        argv += draw(random_arguments())
    return argv


ARGUMENT_LISTS = st.one_of(random_arguments(), nearly_valid_arguments())


def _listing(folder: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() and not p.is_fifo() and not p.is_symlink()
                                        else None)
            for p in sorted(folder.rglob("*"))}


@pytest.mark.timeout(120)
@FUZZ
@given(argv=ARGUMENT_LISTS)
def test_any_command_line_gives_an_exit_code_and_at_most_one_error_line(argv, capsys, monkeypatch):
    window_calls = []
    monkeypatch.setenv("RNN_GRADIENT_LAB_BACKEND", "reference")
    monkeypatch.setattr("simulator.compute", lambda setup, backend=None: setup)  # instant: no numerics here
    monkeypatch.setattr(figures, "export_bytes", lambda results, plot, fmt, **kwargs: f"{plot} {fmt}".encode())
    monkeypatch.setattr(ui.app, "run_app", lambda args: window_calls.append(args) or 0)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        _setup_folder(folder)
        before = _listing(folder)
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            code = main.main(argv)
        finally:
            os.chdir(cwd)
        after = _listing(folder)
        os.chmod(folder / "out" / "readonly.csv", 0o644)  # so the folder can be removed
    captured = capsys.readouterr()
    assert isinstance(code, int) and not isinstance(code, bool), (argv, code)
    assert "Traceback" not in captured.err, (argv, captured.err)
    lines = captured.err.strip().splitlines()
    if code != 0:
        assert len(lines) == 1 and lines[0].startswith("rnn-gradient-lab: error: "), (argv, captured.err)
        assert after == before, (argv, set(after) ^ set(before))  # nothing written, nothing left
    else:
        assert lines == [], (argv, captured.err)
        assert not any(files.TEMP_NAME.match(Path(p).name) for p in after), (argv, after)
    for args in window_calls:  # the window never gets export-only options or an empty preset
        assert not args.export and all(getattr(args, name) is None for name in main.EXPORT_ONLY_OPTIONS), argv
        assert args.preset is None or args.preset.strip(), argv
