"""simulator/ is the model: it must never import Qt, pyqtgraph or ui."""

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


def test_simulator_sources_import_no_gui():
    offenders = {}
    for path in sorted((ROOT / "simulator").rglob("*.py")):
        bad = _imported_modules(path) & set(FORBIDDEN)
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


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
