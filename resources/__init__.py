"""Built-in presets, icons and styles (data files; see resources_path)."""

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent
PRESETS_DIR = RESOURCES_DIR / "presets"
