"""The preset controller against a minimal window that implements the MainWindow contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu

from plots.view import ViewState, from_preset, to_preset_view
from simulator import Setup
from simulator.presets import Preset, builtin_presets, default_preset, load_preset, save_preset
from ui.controllers.presets import MAX_RECENT, RECENT_KEY, PresetController

DATA = Path(__file__).resolve().parent / "data"


class FakeWindow(QMainWindow):
    """Just the MainWindow contract (ui/controllers/__init__.py): synchronous, records errors
    instead of showing boxes. `setup` is what the window shows (computed at once)."""

    setup_changed = Signal()
    results_changed = Signal()

    def __init__(self, setup: Setup, view: ViewState | None = None):
        super().__init__()
        self.setup = setup
        self.file_menu: QMenu = self.menuBar().addMenu("&File")
        self.quit_action = self.file_menu.addAction("Quit", self.close)
        self._view = view or ViewState(0, setup.steps, ("factors", "terms"))
        self.errors: list[tuple[str, str]] = []
        self.lesson: tuple[str, str] | None = None
        self.closed = False

    def requested_setup(self) -> Setup:
        return self.setup

    def is_computing(self) -> bool:
        return False

    def apply_setup(self, setup: Setup, view: ViewState | None = None) -> None:
        self.setup = setup
        self._view = view if view is not None else ViewState.full(setup.steps)
        self.results_changed.emit()

    def user_edit(self, **knobs) -> None:
        setup = self.setup
        for name, value in knobs.items():
            setup = setup.with_knob(name, value)
        self.setup = setup
        self.setup_changed.emit()

    def view_state(self) -> ViewState:
        return self._view

    def apply_view_state(self, view: ViewState) -> None:
        self._view = view

    def set_lesson(self, name: str, description: str) -> None:
        self.lesson = (name, description)

    def show_error(self, title: str, message: str) -> None:
        self.errors.append((title, message))

    def closeEvent(self, event) -> None:
        self.closed = True
        super().closeEvent(event)


@pytest.fixture
def settings(tmp_path):
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    yield store
    store.clear()


@pytest.fixture
def window(qtbot):
    preset = default_preset()
    win = FakeWindow(preset.setup, from_preset(preset))
    qtbot.addWidget(win)
    return win


@pytest.fixture
def controller(window, settings):
    ctrl = PresetController(window, settings=settings)
    # Never a modal box in tests (qtbot closes the window at teardown); tests that care replace it.
    ctrl.ask_unsaved_changes = lambda: "discard"
    return ctrl


def _saved_file(tmp_path: Path, name="mine", **knobs) -> Path:
    setup = Setup(hidden_size=3, steps=40)
    for knob, value in knobs.items():
        setup = setup.with_knob(knob, value)
    path = tmp_path / f"{name}.json"
    save_preset(Preset.from_setup(name.title(), setup, view={"selected_step": 7, "visible_panels": ["bptt"]}), path)
    return path


# --- menu and title ----------------------------------------------------------------------------
def test_file_menu_has_actions_shortcuts_and_builtins(controller, window):
    texts = [a.text() for a in window.file_menu.actions()]
    assert texts[:3] == ["&Open preset…", "&Save", "Save &As…"]
    assert texts[-1] == "Quit"  # the window's own actions stay last
    assert controller.open_action.shortcut().toString() == "Ctrl+O"
    assert controller.save_action.shortcut().toString() == "Ctrl+S"
    assert controller.save_as_action.shortcut().toString() == "Ctrl+Shift+S"
    builtin_names = [a.text() for a in controller.builtin_menu.actions()]
    # "&" doubled: Qt shows it as "&" instead of taking it for a mnemonic ("Tallec _Ollivier")
    assert builtin_names == [p.name.replace("&", "&&") for p in builtin_presets().values()]
    assert any("Tallec && Ollivier" in name for name in builtin_names)


def test_title_names_the_default_preset_and_marks_changes(controller, window):
    assert window.windowTitle() == f"{default_preset().name}[*] — RNN Gradient Lab"
    assert not window.isWindowModified()
    window.user_edit(U=1.7)
    assert window.isWindowModified()
    window.user_edit(U=default_preset().setup.knobs.U)  # back to what was opened: clean again
    assert not window.isWindowModified()


def test_origin_names_the_start_preset(qtbot, settings, tmp_path):
    path = _saved_file(tmp_path)
    preset = load_preset(path)
    win = FakeWindow(preset.setup)
    qtbot.addWidget(win)
    ctrl = PresetController(win, origin=str(path), settings=settings)
    assert ctrl.path == path.resolve() and ctrl.name == "Mine"
    assert win.windowTitle().startswith("Mine[*]")


def test_unknown_start_setup_is_untitled(qtbot, settings):
    win = FakeWindow(Setup(hidden_size=2, steps=17))
    qtbot.addWidget(win)
    PresetController(win, settings=settings)
    assert win.windowTitle() == "Untitled[*] — RNN Gradient Lab"


# --- opening ------------------------------------------------------------------------------------
def test_open_builtin_applies_setup_and_view(controller, window):
    target = builtin_presets()["rnn-vanishing"]
    assert controller.open_builtin("rnn-vanishing")
    assert window.setup == target.setup
    assert window.view_state() == from_preset(target)
    assert window.windowTitle().startswith(target.name)
    assert controller.path is None
    assert window.lesson == (target.name, target.description)  # the lesson is shown, whole


def test_open_file_adds_to_recent(controller, window, tmp_path, settings):
    path = _saved_file(tmp_path)
    assert controller.open_path(path)
    assert window.setup == load_preset(path).setup
    assert window.view_state().selected_step == 7
    assert controller.recent_paths() == [path.resolve()]
    recent_actions = [a for a in controller.recent_menu.actions() if a.data()]
    assert [a.data() for a in recent_actions] == [str(path.resolve())]
    recent_actions[0].trigger()  # reopening from the menu works
    assert window.errors == []


def test_open_dialog_uses_the_chosen_path(controller, window, tmp_path, monkeypatch):
    path = _saved_file(tmp_path, U=0.3)
    monkeypatch.setattr(controller, "ask_open_path", lambda: str(path))
    controller.open_action.trigger()
    assert window.setup.knobs.U == 0.3
    monkeypatch.setattr(controller, "ask_open_path", lambda: None)  # cancelled dialog: nothing happens
    controller.open_action.trigger()
    assert window.setup.knobs.U == 0.3


BAD_FILES = {
    "empty.json": ("", "empty"),
    "garbage.json": ("{nope", "not valid JSON"),
    "list.json": ("[]", "JSON object"),
    "newer.json": (json.dumps({"schema_version": 5, "name": "x", "setup": {}}), "newer version"),
    "nan.json": (None, "setup.knobs.U"),
    "shape.json": (None, "weights.U"),
    "step.json": (None, "view.selected_step"),
    "unknown.json": (None, "favourite"),
    "missing.json": (None, "name: missing"),
    "wrongtype.json": (None, "setup.hidden_size"),
    "range.json": (None, "setup.knobs.b_f"),
    "huge.json": (None, "larger than 10 MB"),
    "binary.json": (None, "UTF-8"),
}


def _bad_file(tmp_path: Path, name: str) -> Path:
    text, _ = BAD_FILES[name]
    good = Preset.from_setup("Good", Setup(hidden_size=2, steps=10)).to_dict()
    if name == "nan.json":
        text = json.dumps(good).replace('"U": 0.9', '"U": NaN')
    elif name == "shape.json":
        good["setup"]["weights"] = {"U": [[1.0]]}
        text = json.dumps(good)
    elif name == "step.json":
        good["view"]["selected_step"] = 11
        text = json.dumps(good)
    elif name == "unknown.json":
        good["favourite"] = 1
        text = json.dumps(good)
    elif name == "missing.json":
        del good["name"]
        text = json.dumps(good)
    elif name == "wrongtype.json":
        good["setup"]["hidden_size"] = "two"
        text = json.dumps(good)
    elif name == "range.json":
        good["setup"]["knobs"]["b_f"] = 1e6
        text = json.dumps(good)
    elif name == "huge.json":
        text = json.dumps(good) + " " * (10 * 1024 * 1024)
    path = tmp_path / name
    if name == "binary.json":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_shows_error_and_changes_nothing(controller, window, tmp_path, name):
    path = _bad_file(tmp_path, name)
    window.user_edit(U=1.3)  # unsaved change: must survive the failed open
    setup, view, title = window.setup, window.view_state(), window.windowTitle()
    controller.ask_unsaved_changes = lambda: "discard"
    assert not controller.open_path(path)
    assert len(window.errors) == 1
    title_text, message = window.errors[0]
    assert name in message and BAD_FILES[name][1] in message
    assert window.setup == setup and window.view_state() == view
    assert window.windowTitle() == title and window.isWindowModified()
    assert controller.recent_paths() == []


@pytest.mark.timeout(60)  # the old code blocked here forever, opening the FIFO
@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs on this platform")
def test_opening_a_fifo_shows_an_error_without_blocking(controller, window, tmp_path):
    import os

    fifo = tmp_path / "p.json"
    os.mkfifo(fifo)
    setup_before = window.setup
    assert not controller.open_path(fifo)
    assert "p.json" in window.errors[-1][1] and "FIFO" in window.errors[-1][1]
    assert window.setup == setup_before


def test_missing_file_and_folder_show_error(controller, window, tmp_path):
    assert not controller.open_path(tmp_path / "gone.json")
    assert not controller.open_path(tmp_path)
    assert [m for _, m in window.errors][0].count("gone.json") == 1
    assert "folder" in window.errors[1][1]


# --- unsaved changes ----------------------------------------------------------------------------
@pytest.mark.parametrize("answer, opened", [("cancel", False), ("discard", True)])
def test_opening_asks_before_losing_changes(controller, window, answer, opened):
    window.user_edit(b_f=-2.0)
    edited = window.setup
    asked = []
    controller.ask_unsaved_changes = lambda: asked.append(1) or answer
    assert controller.open_builtin("lstm-carousel") is opened
    assert asked == [1]
    expected = builtin_presets()["lstm-carousel"].setup if opened else edited
    assert window.setup == expected


def test_answer_save_saves_then_opens(controller, window, tmp_path):
    window.user_edit(b_f=-2.0)
    edited = window.setup
    target = tmp_path / "kept.json"
    controller.ask_unsaved_changes = lambda: "save"
    controller.ask_save_path = lambda: str(target)  # default is a built-in: Save becomes Save As
    assert controller.open_builtin("rnn-edge")
    assert load_preset(target).setup == edited
    assert window.setup == builtin_presets()["rnn-edge"].setup


def test_no_question_without_changes(controller, window):
    controller.ask_unsaved_changes = lambda: pytest.fail("asked without changes")
    assert controller.open_builtin("rnn-edge")


@pytest.mark.parametrize("answer, closes", [("cancel", False), ("discard", True)])
def test_closing_asks_before_losing_changes(controller, window, qtbot, answer, closes):
    window.show()
    window.user_edit(U=2.0)
    controller.ask_unsaved_changes = lambda: answer
    window.close()
    assert window.closed is closes
    assert window.isVisible() is not closes


def test_closing_without_changes_does_not_ask(controller, window):
    window.show()
    controller.ask_unsaved_changes = lambda: pytest.fail("asked without changes")
    window.close()
    assert window.closed


# --- saving -------------------------------------------------------------------------------------
def test_save_as_then_save(controller, window, tmp_path):
    controller.ask_save_path = lambda: str(tmp_path / "lesson")  # no suffix: .json is added
    window.user_edit(U=0.77)
    assert controller.save_as()
    path = tmp_path / "lesson.json"
    saved = load_preset(path)
    assert saved.setup == window.setup and saved.name == "lesson"
    assert saved.description == default_preset().description
    assert saved.view.model_dump() == to_preset_view(window.view_state(), window.setup.steps)
    assert not window.isWindowModified() and window.windowTitle().startswith("lesson[*]")

    window.user_edit(U=0.66)
    assert window.isWindowModified()
    controller.ask_save_path = lambda: pytest.fail("Save must not ask once there is a file")
    assert controller.save_action.isEnabled()
    controller.save_action.trigger()
    assert load_preset(path).setup.knobs.U == 0.66
    assert not window.isWindowModified()
    assert controller.recent_paths() == [path.resolve()]


def test_save_as_a_long_or_odd_file_name_saves_under_a_valid_name(controller, window, tmp_path):
    # The preset is named after the file: a 250-character stem (a legal file name) is cut to the
    # 120 characters a name may have; control characters are dropped.
    stem = "lesson-" + "x" * 243
    controller.ask_save_path = lambda: str(tmp_path / f"{stem}.json")
    assert controller.save_as(), window.errors
    saved = load_preset(tmp_path / f"{stem}.json")
    assert saved.name == stem[:120]
    controller.path = None
    controller.ask_save_path = lambda: str(tmp_path / "tab\there.json")  # a tab in the file name
    assert controller.save_as(), window.errors
    assert load_preset(tmp_path / "tab\there.json").name == "tabhere"


def test_a_refused_preset_name_names_the_file(controller, window, tmp_path):
    assert not controller._save_to(tmp_path / "blank.json", "   ")
    title, message = window.errors[-1]
    assert "blank.json" in message and "name" in message, message
    assert not (tmp_path / "blank.json").exists()


def test_saving_onto_a_read_only_file_or_a_symlink_from_the_window(controller, window, tmp_path):
    import os

    path = _saved_file(tmp_path)
    before = path.read_bytes()
    os.chmod(path, 0o444)
    controller.ask_save_path = lambda: str(path)
    window.user_edit(U=1.3)
    assert not controller.save_as()
    assert "mine.json" in window.errors[-1][1] and "read-only" in window.errors[-1][1]
    assert path.read_bytes() == before
    os.chmod(path, 0o644)
    link = tmp_path / "link.json"
    link.symlink_to(path)
    controller.ask_save_path = lambda: str(link)
    assert controller.save_as(), window.errors
    assert link.is_symlink() and load_preset(path).setup.knobs.U == 1.3


def test_save_over_a_built_in_never_writes_resources(controller, window, tmp_path):
    controller.ask_save_path = lambda: None  # user cancels Save As
    before = {p.name: p.read_bytes() for p in (Path(__file__).parents[1] / "resources" / "presets").glob("*.json")}
    window.user_edit(U=3.0)
    assert not controller.save()
    after = {p.name: p.read_bytes() for p in (Path(__file__).parents[1] / "resources" / "presets").glob("*.json")}
    assert before == after
    assert window.isWindowModified()


def test_failed_save_shows_error_keeps_old_file_and_modified_flag(controller, window, tmp_path, monkeypatch):
    path = _saved_file(tmp_path)
    before = path.read_bytes()
    assert controller.open_path(path)
    window.user_edit(U=1.1)

    import simulator.presets as presets_module

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(presets_module.os, "replace", no_space)
    assert not controller.save()
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.json", "settings.ini"]
    assert "mine.json" in window.errors[-1][1] and "No space left" in window.errors[-1][1]
    assert window.isWindowModified()


def test_selected_step_beyond_steps_is_clamped_on_save(controller, window, tmp_path):
    window.apply_view_state(ViewState(selected_step=10_000, revealed_steps=10_000))
    controller.ask_save_path = lambda: str(tmp_path / "clamped.json")
    assert controller.save_as()
    saved = load_preset(tmp_path / "clamped.json").view
    assert saved.selected_step == saved.revealed_steps == window.setup.steps


# --- recent presets -----------------------------------------------------------------------------
def test_recent_list_is_capped_newest_first_and_pruned(controller, window, tmp_path, settings):
    paths = [_saved_file(tmp_path, f"p{i}") for i in range(MAX_RECENT + 3)]
    for path in paths:
        assert controller.open_path(path)
    recent = controller.recent_paths()
    assert recent == [p.resolve() for p in reversed(paths)][:MAX_RECENT]
    recent[0].unlink()
    assert controller.recent_paths() == recent[1:]
    assert settings.value(RECENT_KEY) == [str(p) for p in recent[1:]]  # pruned in the store too
    controller.open_path(recent[2])  # reopening moves it to the front without duplicates
    assert controller.recent_paths()[0] == recent[2] and len(set(controller.recent_paths())) == len(recent) - 1


def test_recent_survives_a_new_controller(qtbot, settings, tmp_path):
    path = _saved_file(tmp_path)
    win1 = FakeWindow(default_preset().setup)
    qtbot.addWidget(win1)
    PresetController(win1, settings=settings).open_path(path)
    win2 = FakeWindow(default_preset().setup)
    qtbot.addWidget(win2)
    assert PresetController(win2, settings=settings).recent_paths() == [path.resolve()]


# --- drag and drop ------------------------------------------------------------------------------
def _drop(window, path: Path) -> QDropEvent:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = QPointF(10, 10)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    return enter, drop


def test_dropping_a_preset_file_opens_it(controller, window, tmp_path):
    path = _saved_file(tmp_path, U=0.25)
    assert window.acceptDrops()
    enter, drop = _drop(window, path)
    assert enter.isAccepted() and drop.isAccepted()
    assert window.setup.knobs.U == 0.25


def test_dropping_other_files_is_refused(controller, window, tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    before = window.setup
    enter, _ = _drop(window, other)
    assert not enter.isAccepted()
    assert window.setup == before


def test_dropping_a_bad_preset_shows_error(controller, window, tmp_path):
    path = _bad_file(tmp_path, "garbage.json")
    before = window.setup
    _drop(window, path)
    assert window.setup == before
    assert "garbage.json" in window.errors[-1][1]


def test_old_format_file_opens_through_the_ui(controller, window):
    assert controller.open_path(DATA / "preset_v0_flat.json")
    assert window.setup.knobs.U == 1.25
    assert window.errors == []


# --- with the real main window ------------------------------------------------------------------
WAIT_MS = 60_000


@pytest.fixture
def real_window(qtbot, settings):
    """The app's MainWindow (reference backend: no compile wait) with a controller attached."""
    main_window = pytest.importorskip("ui.main_window")
    start = builtin_presets()["scalar-notes-example"]
    win = main_window.MainWindow(start.setup, backend="reference", view=from_preset(start))
    qtbot.addWidget(win)
    errors = []
    win.show_error = lambda title, message: errors.append((title, message))
    win.errors = errors
    ctrl = PresetController(win, settings=settings)
    ctrl.ask_unsaved_changes = lambda: "discard"
    win.preset_controller = ctrl
    with qtbot.waitSignal(win.results_changed, timeout=WAIT_MS):
        win.show()
    qtbot.waitUntil(lambda: not win.is_computing(), timeout=WAIT_MS)
    return win


def _user_sets_knob(qtbot, win, name: str, value: float) -> None:
    with qtbot.waitSignal(win.setup_changed, timeout=WAIT_MS):
        win.knobs.sliders[name].spin.setValue(value)  # as if typed into the value box


def test_real_window_title_open_builtin_and_selected_step(qtbot, real_window):
    win, ctrl = real_window, real_window.preset_controller
    assert win.windowTitle().startswith("The notes' scalar example")
    target = builtin_presets()["default"]  # 100 steps, selected step 100 (the window had 20)
    with qtbot.waitSignal(win.results_changed, timeout=WAIT_MS):
        assert ctrl.open_builtin("default")
    qtbot.waitUntil(lambda: not win.is_computing(), timeout=WAIT_MS)
    assert win.results.setup == target.setup
    assert win.knobs.setup() == target.setup
    assert win.view_state() == from_preset(target)  # fully revealed (100), not the 20 steps of before
    assert not win.isWindowModified()


def test_real_window_user_edit_marks_modified_and_save_clears_it(qtbot, real_window, tmp_path):
    win, ctrl = real_window, real_window.preset_controller
    _user_sets_knob(qtbot, win, "U", 1.7)
    assert win.isWindowModified()
    ctrl.ask_save_path = lambda: str(tmp_path / "edited.json")
    ctrl.save_action.trigger()
    assert not win.isWindowModified()
    saved = load_preset(tmp_path / "edited.json")
    assert saved.setup == win.results.setup and saved.setup.knobs.U == 1.7


def test_real_window_bad_file_changes_nothing(qtbot, real_window, tmp_path):
    win, ctrl = real_window, real_window.preset_controller
    _user_sets_knob(qtbot, win, "b_f", 2.5)
    before = (win.results.setup, win.requested_setup(), win.view_state(), win.windowTitle())
    for name in ("nan.json", "shape.json", "newer.json", "empty.json"):
        assert not ctrl.open_path(_bad_file(tmp_path, name))
        assert name in win.errors[-1][1]
    assert (win.results.setup, win.requested_setup(), win.view_state(), win.windowTitle()) == before
    assert win.isWindowModified() and not win.is_computing()


def test_real_window_close_asks_when_modified(qtbot, real_window):
    win, ctrl = real_window, real_window.preset_controller
    _user_sets_knob(qtbot, win, "U", 0.3)
    asked = []
    ctrl.ask_unsaved_changes = lambda: asked.append(1) or "cancel"
    win.close()
    assert asked == [1] and win.isVisible()
    ctrl.ask_unsaved_changes = lambda: "discard"
    win.close()
    assert not win.isVisible()


# --- the command line -----------------------------------------------------------------------------
def test_main_with_a_bad_preset_file_says_which_file_and_field(tmp_path):
    import subprocess
    import sys

    path = _bad_file(tmp_path, "nan.json")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(root / "main.py"), "--preset", str(path)], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "nan.json" in done.stderr and "setup.knobs.U" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1  # one line, no traceback
