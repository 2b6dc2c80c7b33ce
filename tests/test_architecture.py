"""The layers: simulator/ (the model) and plots/ (the descriptions) never import Qt, pyqtgraph or
ui; plots/ imports no drawing library either; the slide renderer, the export files and the CLI
import no Qt; one palette (plots/style.py) holds every colour."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "superqt", "ui")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "superqt")
LAYERS = {  # folder or file -> the top-level modules it must not import
    "simulator": FORBIDDEN + ("plots", "matplotlib"),
    "plots": FORBIDDEN + ("matplotlib", "PIL"),
    "ui/render/matplotlib_renderer.py": QT,
    "ui/export": QT,
    "ui/cli": QT,
}


def _offenders(where: str, forbidden) -> dict:
    base = ROOT / where
    paths = [base] if base.suffix == ".py" else sorted(base.rglob("*.py"))
    found = {}
    for path in paths:
        bad = _imported_modules(path) & set(forbidden)
        if bad:
            found[str(path.relative_to(ROOT))] = sorted(bad)
    return found


def test_simulator_sources_import_no_gui():
    assert _offenders("simulator", LAYERS["simulator"]) == {}


def test_each_layer_imports_only_what_it_may():
    for where, forbidden in LAYERS.items():
        assert _offenders(where, forbidden) == {}, where


def test_importing_the_qt_free_layers_loads_no_qt():
    code = ("import sys, plots, plots.view, plots.text, ui.export.files, ui.cli.headless, "
            "ui.render.matplotlib_renderer;"
            f"bad = [m for m in sys.modules if m.split('.')[0] in {QT!r}];"
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_one_palette_holds_every_colour():
    """A colour literal outside plots/style.py would be a second palette (issue 11)."""
    import re

    pattern = re.compile(r"#[0-9a-fA-F]{6}\b")
    offenders = []
    for folder in ("simulator", "plots", "ui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "plots" / "style.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.lstrip().startswith("#") and pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == []


def test_importing_simulator_loads_no_gui_module():
    # Also catches indirect imports (a dependency that pulls Qt in).
    code = (
        "import sys, simulator, simulator.results, simulator.simulation;"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_check_would_catch_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from PySide6 import QtCore\nimport pyqtgraph as pg\n")
    assert _imported_modules(bad) & set(FORBIDDEN) == {"PySide6", "pyqtgraph"}


def test_ui_tests_wait_on_conditions_not_on_time():
    """qtbot.wait(ms) as a sleep before an assertion is a guess about timing (issue 10 item 17):
    wait on the condition (qtbot.waitUntil / waitSignal). The only allowed use is an absence check
    (time passes and nothing may happen), marked "# absence check" on the same line."""
    offenders = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "wait"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "qtbot"
                    and "# absence check" not in lines[node.lineno - 1]):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
