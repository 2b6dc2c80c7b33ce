"""File menu for presets: Open, Save, Save As, Recent presets, Built-in presets; drop to open.

The controller owns "which preset is open" and whether the setup has unsaved changes. It talks
to the window only through the MainWindow contract (file_menu, apply_setup, setup_changed,
view_state / apply_view_state, show_error). The title shows the preset's name and a `*` (Qt's
"[*]" placeholder) when the setup differs from the one last opened or saved; opening another
preset or closing the window asks first. A bad file shows an error and changes nothing.

The dialogs are methods (`ask_unsaved_changes`, `ask_open_path`, `ask_save_path`) so tests can
replace them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

from plots import style
from plots.view import from_preset, to_preset_view
from simulator import Setup
from simulator.presets import (
    APP_NAME,
    Preset,
    PresetError,
    builtin_presets,
    load_preset,
    resolve_preset,
    preset_name_for_file,
    save_preset,
)

SETTINGS_ORGANIZATION = "RNN Gradient Lab"
SETTINGS_APPLICATION = "RNN Gradient Lab"
RECENT_KEY = "presets/recent"
LAST_FOLDER_KEY = "presets/last_folder"
MAX_RECENT = 8
FILE_FILTER = "RNN Gradient Lab presets (*.json);;All files (*)"
UNTITLED = "Untitled"


def _local_json_paths(mime) -> list[Path]:
    if mime is None or not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls()
            if url.isLocalFile() and url.toLocalFile().lower().endswith(".json")]


class PresetController(QObject):
    """Attach with `PresetController(window)`; keep a reference (the window also parents it)."""

    preset_opened = Signal(object)  # the Preset now shown (after open / built-in / drop)
    preset_saved = Signal(str)  # the path written

    def __init__(self, window: QMainWindow, origin: str | None = None, settings: QSettings | None = None):
        super().__init__(window)
        self.window = window
        self.settings = settings if settings is not None else QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION)
        self.path: Path | None = None  # the file Save writes to (None: built-in or untitled)
        self.name = UNTITLED
        self.description = ""
        self._clean_setup: Setup | None = None

        self._identify_start(origin)
        self._build_menu()
        window.setup_changed.connect(self._on_setup_changed)
        window.setAcceptDrops(True)
        window.installEventFilter(self)
        self._update_title()

    # --- what the window shows ------------------------------------------------------------
    def current_setup(self) -> Setup:
        return self.window.requested_setup()  # the newest, even while it is being computed

    def is_modified(self) -> bool:
        return self._clean_setup is not None and self.current_setup() != self._clean_setup

    def current_preset(self, name: str | None = None, path: Path | None = None) -> Preset:
        """The window's setup and view as a Preset (raises PresetError, naming `path`, if it
        cannot be one)."""
        setup = self.current_setup()
        view = to_preset_view(self.window.view_state(), setup.steps)
        training = getattr(self.window, "training_settings", None)  # the Train tab's (optional)
        return Preset.from_setup(name or self.name, setup, self.description, view, source=path,
                                 training=training() if callable(training) else None)

    def _identify_start(self, origin: str | None) -> None:
        """Name the preset the window started on: `origin` (--preset), else the built-in whose
        setup it shows, else Untitled."""
        setup = self.current_setup()
        self._clean_setup = setup
        if origin:
            try:
                preset = resolve_preset(origin)
            except PresetError:
                preset = None
            if preset is not None and preset.setup == setup:
                self._set_current(preset, self._path_of(origin))
                return
        try:
            builtins = builtin_presets()
        except PresetError:
            builtins = {}
        for preset in builtins.values():
            if preset.setup == setup:
                self._set_current(preset, None)
                return

    @staticmethod
    def _path_of(origin: str) -> Path | None:
        try:
            if any(origin.strip().lower() in (key, p.name.lower()) for key, p in builtin_presets().items()):
                return None
        except PresetError:
            pass
        return Path(origin).expanduser().resolve()

    def _set_current(self, preset: Preset, path: Path | None) -> None:
        self.path = path
        self.name = preset.name
        self.description = preset.description
        self._clean_setup = preset.setup
        self.window.set_lesson(preset.name, preset.description)  # read whole, in the formula panel

    # --- menu -----------------------------------------------------------------------------
    def _build_menu(self) -> None:
        menu: QMenu = self.window.file_menu
        first = menu.actions()[0] if menu.actions() else None
        self.open_action = QAction("&Open preset…", self.window)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.setStatusTip("Open a preset file (.json)")
        self.open_action.triggered.connect(self.open_dialog)
        self.save_action = QAction("&Save", self.window)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.setStatusTip("Save the setup to the open preset file")
        self.save_action.triggered.connect(self.save)
        self.save_as_action = QAction("Save &As…", self.window)
        self.save_as_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.save_as_action.setStatusTip("Save the setup to a new preset file")
        self.save_as_action.triggered.connect(self.save_as)
        self.recent_menu = QMenu("&Recent presets", menu)
        self.recent_menu.aboutToShow.connect(self._rebuild_recent_menu)
        self.builtin_menu = QMenu("&Built-in presets", menu)
        self._fill_builtin_menu()

        for action in (self.open_action, self.save_action, self.save_as_action):
            menu.insertAction(first, action)
        menu.insertSeparator(first)
        menu.insertMenu(first, self.recent_menu)
        menu.insertMenu(first, self.builtin_menu)
        if first is not None:
            menu.insertSeparator(first)
        self._rebuild_recent_menu()

    def _fill_builtin_menu(self) -> None:
        try:
            presets = builtin_presets()
        except PresetError as exc:
            self.builtin_menu.addAction("(built-in presets could not be read)").setEnabled(False)
            self.builtin_menu.setToolTip(str(exc))
            return
        for key, preset in presets.items():
            action = self.builtin_menu.addAction(preset.name.replace("&", "&&"))  # "&" is not a mnemonic
            action.setToolTip(style.html(preset.description))
            action.setStatusTip(style.plain(preset.description))
            action.setData(key)
            action.triggered.connect(lambda checked=False, key=key: self.open_builtin(key))
        self.builtin_menu.setToolTipsVisible(True)

    # --- recent files (QSettings) ---------------------------------------------------------
    def recent_paths(self) -> list[Path]:
        """Recent preset files, newest first, missing files pruned (and forgotten)."""
        stored = self.settings.value(RECENT_KEY, [])
        if isinstance(stored, str):  # QSettings returns a lone string for a one-item list
            stored = [stored]
        paths = [Path(p) for p in (stored or []) if isinstance(p, str) and p]
        kept = [p for p in paths if p.is_file()][:MAX_RECENT]
        if kept != paths:
            self._store_recent(kept)
        return kept

    def _store_recent(self, paths: list[Path]) -> None:
        self.settings.setValue(RECENT_KEY, [str(p) for p in paths])
        self.settings.sync()

    def _remember(self, path: Path) -> None:
        path = path.resolve()
        paths = [p for p in self.recent_paths() if p.resolve() != path]
        self._store_recent([path, *paths][:MAX_RECENT])
        self.settings.setValue(LAST_FOLDER_KEY, str(path.parent))
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = self.recent_paths()
        for index, path in enumerate(paths, start=1):
            action = self.recent_menu.addAction(f"&{index} {path.name}")
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.setData(str(path))
            action.triggered.connect(lambda checked=False, path=path: self.open_path(path))
        if not paths:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear recent presets", self._clear_recent)
        self.recent_menu.setToolTipsVisible(True)

    def _clear_recent(self) -> None:
        self._store_recent([])
        self._rebuild_recent_menu()

    # --- opening --------------------------------------------------------------------------
    def open_dialog(self) -> bool:
        if not self.confirm_discard():
            return False
        path = self.ask_open_path()
        return self.open_path(path, confirmed=True) if path else False

    def open_path(self, path: str | Path, confirmed: bool = False) -> bool:
        """Open a preset file. On a bad file: error shown, nothing changes, returns False."""
        if not confirmed and not self.confirm_discard():
            return False
        path = Path(path)
        try:
            preset = load_preset(path)
        except PresetError as exc:
            self.window.show_error("Could not open the preset", str(exc))
            return False
        self._show(preset, path.resolve())
        self._remember(path)
        return True

    def open_builtin(self, key: str) -> bool:
        if not self.confirm_discard():
            return False
        try:
            preset = builtin_presets()[key]
        except (PresetError, KeyError) as exc:
            self.window.show_error("Could not open the built-in preset", str(exc))
            return False
        self._show(preset, None)
        return True

    def _show(self, preset: Preset, path: Path | None) -> None:
        self._set_current(preset, path)
        # A clean view (fully revealed, last step selected) unless the preset stores one; the
        # window applies it together with the new setup's results.
        self.window.apply_setup(preset.setup, from_preset(preset))
        apply_training = getattr(self.window, "apply_training_settings", None)
        if preset.training is not None and callable(apply_training):
            apply_training(preset.training)
        self._update_title()
        self.preset_opened.emit(preset)

    # --- saving ---------------------------------------------------------------------------
    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self._save_to(self.path, self.name)

    def save_as(self) -> bool:
        path = self.ask_save_path()
        if not path:
            return False
        path = Path(path)
        if path.suffix.lower() != ".json":
            path = path.with_name(path.name + ".json")
        # A copy of a built-in (or an untitled setup) is named after its file; a user's own
        # preset keeps its name.
        name = self.name if (self.path is not None and self.name != UNTITLED) else preset_name_for_file(path)
        return self._save_to(path, name)

    def _save_to(self, path: Path, name: str) -> bool:
        try:
            preset = self.current_preset(name, path)
            save_preset(preset, path)
        except PresetError as exc:
            self.window.show_error("Could not save the preset", str(exc))
            return False
        self._set_current(preset, path.resolve())
        self._remember(path)
        self._update_title()
        self.preset_saved.emit(str(path))
        return True

    # --- unsaved changes ------------------------------------------------------------------
    def _on_setup_changed(self) -> None:
        self._update_title()

    def _update_title(self) -> None:
        self.window.setWindowTitle(f"{self.name}[*] — {APP_NAME}")
        self.window.setWindowModified(self.is_modified())

    def confirm_discard(self) -> bool:
        """True if it is fine to replace the current setup (no changes, saved, or discarded)."""
        if not self.is_modified():
            return True
        answer = self.ask_unsaved_changes()
        if answer == "save":
            return self.save()
        return answer == "discard"

    # --- dialogs (replaced in tests) ------------------------------------------------------
    def ask_unsaved_changes(self) -> str:
        """'save', 'discard' or 'cancel'."""
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(APP_NAME)
        box.setText(f"The setup of “{self.name}” has unsaved changes.")
        box.setInformativeText("Save them before going on?")
        box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                               | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(QMessageBox.StandardButton(answer), "cancel")

    def _start_folder(self) -> str:
        if self.path is not None:
            return str(self.path.parent)
        folder = self.settings.value(LAST_FOLDER_KEY, "")
        return folder if isinstance(folder, str) and Path(folder).is_dir() else str(Path.home())

    def ask_open_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open preset", self._start_folder(), FILE_FILTER)
        return path or None

    def ask_save_path(self) -> str | None:
        suggested = self.path if self.path is not None else Path(self._start_folder()) / "preset.json"
        path, _ = QFileDialog.getSaveFileName(self.window, "Save preset as", str(suggested), FILE_FILTER)
        return path or None

    # --- window events: close asks, drop opens --------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window:
            kind = event.type()
            if kind == QEvent.Type.Close:
                # A hidden window is closed by code (a test, the app quitting), not by the user:
                # there is nobody to ask.
                if self.window.isVisible() and not self.confirm_discard():
                    event.ignore()
                    return True  # the window stays open (its closeEvent never runs)
            elif kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
                if _local_json_paths(event.mimeData()):
                    event.acceptProposedAction()
                    return True
            elif kind == QEvent.Type.Drop:
                paths = _local_json_paths(event.mimeData())
                if paths:
                    event.acceptProposedAction()
                    self.open_path(paths[0])
                    return True
        return super().eventFilter(watched, event)
