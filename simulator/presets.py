"""Presets: a named `Setup` plus what the window showed, saved as versioned JSON.

A preset file is a JSON object::

    {"schema_version": 3, "name": "...", "description": "...",
     "setup": {...Setup.to_dict()...},
     "view": {"selected_step": 100, "revealed_steps": 100, "visible_panels": ["factors", ...],
              "show_gates": false},
     "training": null | {...TrainingSettings...}}

"training" (version 3) holds the training settings of a lesson (the Train panel's, and what
`main.py --train` runs); a setup that holds trained networks has them as explicit matrices with
the knobs at 1 (simulator/trained.py) and says so in training.trained_steps. A preset file may
have up to MAX_PRESET_BYTES (10 MB): about H = 240 for a trained pair of networks (2.7 MB at
H = 128); a larger one is refused when saved (a PresetError naming the size).

Loading never crashes and never changes anything: every problem (unreadable path, too large,
not UTF-8, not JSON, NaN/Infinity, not an object, unknown schema version, missing or unknown
fields, wrong types, values out of range, wrong matrix shapes) raises `PresetError`, whose
message names the file and the field. Older files are brought up to date by `migrate()`, a chain
of one-step functions (version n -> n + 1) registered in `MIGRATIONS`.

Saving is atomic (simulator/files.py): the JSON goes to a temporary file in the same folder, is
flushed and fsync'ed, and replaces the target with `os.replace`; on any failure the old file is
untouched and the temporary file is removed. A symlink is saved through (the link stays), a
read-only file, a FIFO or a folder is refused, and every problem is a PresetError naming the file.
Loading refuses anything that is not a regular file before opening it (a FIFO would block).

No Qt here (simulator/ is the model).
"""

from __future__ import annotations

import json
import math
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import files
from .setup import MAX_STEPS, Setup
from .train_settings import TrainingSettings

CURRENT_SCHEMA_VERSION = 3
MAX_PRESET_BYTES = 10 * 1024 * 1024  # 10 MB: far above any seeded preset (a 512 x 512 matrix alone is ~6 MB)
APP_NAME = "RNN Gradient Lab"

# The window's panel names (ui.PLOT_NAMES without the composite "dashboard"; simulator/ cannot
# import ui, a test checks they agree). A file may list other well-formed names: the window
# ignores panels it does not know, so a file from a newer version with a new panel still loads.
DEFAULT_VISIBLE_PANELS = ("factors", "long-range", "terms", "bptt", "heatmaps", "unrolled")
_PANEL_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")

# Built-in presets in the order the menu shows them (file stems in resources/presets/).
BUILTIN_ORDER = (
    "default",
    "scalar-notes-example",
    "paths-notes-tree",
    "paths-gate-dominates",
    "rnn-vanishing",
    "rnn-edge",
    "rnn-exploding",
    "rnn-saturating",
    "lstm-carousel",
    "lstm-forgetting",
    "lstm-balanced",
    "lstm-output-gate-paths",
    "forget-bias-1",
    "chrono-init",
    "adding-lstm-learns",
    "adding-lstm-forget-bias-minus-3",
)


class PresetError(ValueError):
    """A preset could not be loaded or saved. The message names the file and the field.

    `path` is the file, `field` the dotted field name when one is to blame (else None).
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None, field: str | None = None):
        super().__init__(message)
        self.path = None if path is None else Path(path)
        self.field = field


def _is_clean_text(text: str, allowed: str) -> bool:
    """No control characters (except `allowed`) and no lone surrogates (they cannot be saved as UTF-8)."""
    return all(
        (ch in allowed) or (ord(ch) >= 32 and ord(ch) != 127 and not 0xD800 <= ord(ch) <= 0xDFFF)
        for ch in text
    )


# --- the model ----------------------------------------------------------------------------------
class _RaisesPresetError(type(BaseModel)):
    """Direct construction (Preset(...), ViewState(...)) raises PresetError like the rest of this
    module, not pydantic's ValidationError (files go through _validate, which names the file)."""

    def __call__(cls, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except ValidationError as exc:
            problems, field = _describe(exc)
            raise PresetError(f"{_where(None)}: {problems}", None, field) from None


class _Strict(BaseModel, metaclass=_RaisesPresetError):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class ViewState(_Strict):
    """What the window showed: the selected time step, how many steps the transport had revealed,
    the visible panels and whether the heatmaps showed the gates. A step left out (None) means a
    clean view: the last step selected, every step revealed."""

    selected_step: Annotated[int, Field(ge=0, le=MAX_STEPS)] | None = None
    revealed_steps: Annotated[int, Field(ge=0, le=MAX_STEPS)] | None = None
    visible_panels: Annotated[list[str], Field(max_length=32)] = list(DEFAULT_VISIBLE_PANELS)
    show_gates: bool = False

    @field_validator("visible_panels")
    @classmethod
    def _check_panels(cls, panels: list[str]) -> list[str]:
        for name in panels:
            if not _PANEL_NAME.match(name):
                raise ValueError(f"{name!r} is not a panel name (lower-case letters, digits, '-', '_')")
        if len(set(panels)) != len(panels):
            raise ValueError("a panel is listed twice")
        return panels


class Preset(_Strict):
    schema_version: int = CURRENT_SCHEMA_VERSION
    name: Annotated[str, Field(min_length=1, max_length=120)]
    description: Annotated[str, Field(max_length=4000)] = ""
    setup: Setup
    view: ViewState = ViewState()
    training: TrainingSettings | None = None

    @field_validator("schema_version")
    @classmethod
    def _check_version(cls, version: int) -> int:
        if version != CURRENT_SCHEMA_VERSION:
            raise ValueError(f"must be {CURRENT_SCHEMA_VERSION} (migrate() older files first)")
        return version

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("must not be blank")
        if not _is_clean_text(name, allowed=""):
            raise ValueError("must be one line of text (no control characters)")
        return name

    @field_validator("description")
    @classmethod
    def _check_description(cls, text: str) -> str:
        if not _is_clean_text(text, allowed="\n"):
            raise ValueError("must be text (no control characters other than line breaks)")
        return text

    @model_validator(mode="after")
    def _check_training(self) -> "Preset":
        training = self.training
        if training is not None and training.starts_from_knobs() and training.hidden_size != self.setup.hidden_size:
            raise ValueError(f"training.hidden_size: {training.hidden_size} differs from the setup's "
                             f"{self.setup.hidden_size} (a network that starts from the knobs has the setup's H)")
        return self

    @model_validator(mode="after")
    def _check_selected_step(self) -> "Preset":
        steps = self.setup.steps
        for name in ("selected_step", "revealed_steps"):
            value = getattr(self.view, name)
            if value is not None and value > steps:
                raise ValueError(
                    f"view.{name}: {value} is beyond the setup's {steps} steps (must be in 0..{steps})"
                )
        return self

    # --- conveniences ---------------------------------------------------------------------
    @classmethod
    def from_setup(
        cls, name: str, setup: Setup, description: str = "", view: ViewState | dict | None = None,
        source: str | os.PathLike | None = None, training: TrainingSettings | dict | None = None,
    ) -> "Preset":
        """A validated preset (PresetError on a bad name, description, view or training settings).
        `source`, the file it is meant for, is named in the message."""
        data = {
            "schema_version": CURRENT_SCHEMA_VERSION,
            "name": name,
            "description": description,
            "setup": setup.to_dict(),
            "view": (view.model_dump() if isinstance(view, ViewState) else view) or ViewState().model_dump(),
            "training": training.model_dump() if isinstance(training, TrainingSettings) else training,
        }
        return _validate(data, source=source)

    def to_dict(self) -> dict:
        """The JSON-able dict written to a preset file (schema_version first)."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


# --- migration ----------------------------------------------------------------------------------
def _migrate_0_to_1(data: dict) -> dict:
    """Version 0 (the prototype's flat format): sizes, seed, signal, knobs and selected_step at the
    top level. Known keys move into "setup", "setup.input", "setup.knobs" and "view"; anything
    else is left where it is, so validation reports it as an unknown field."""
    flat = dict(data)
    setup: dict[str, Any] = {}
    for key in ("hidden_size", "input_size", "steps", "seed", "target"):
        if key in flat:
            setup[key] = flat.pop(key)
    signal = {}
    if "signal" in flat:
        signal["kind"] = flat.pop("signal")
    for key in ("amplitude", "period"):
        if key in flat:
            signal[key] = flat.pop(key)
    if signal:
        setup["input"] = signal
    knobs = {}
    for key in ("U", "W_hi", "W_hf", "W_hg", "W_ho", "b_i", "b_f", "b_g", "b_o", "input_gain"):
        if key in flat:
            knobs[key] = flat.pop(key)
    if knobs:
        setup["knobs"] = knobs
    view = {}
    if "selected_step" in flat:
        view["selected_step"] = flat.pop("selected_step")
    if "visible_panels" in flat:
        view["visible_panels"] = flat.pop("visible_panels")
    out = {"schema_version": 1}
    for key in ("name", "description"):
        if key in flat:
            out[key] = flat.pop(key)
    flat.pop("schema_version", None)
    out["setup"] = setup
    if view:
        out["view"] = view
    for key, value in flat.items():  # leftovers: unknown fields, reported by validation
        if key in out:
            raise ValueError(f"{key}: a schema_version 0 file keeps these values at the top level")
        out[key] = value
    return out


def _migrate_1_to_2(data: dict) -> dict:
    """Version 1 had no revealed_steps: a version-1 view showed every step (revealed_steps = T)."""
    out = dict(data)
    out["schema_version"] = 2
    view = out.get("view")
    if isinstance(view, dict) and "revealed_steps" not in view:
        setup = out.get("setup")
        steps = setup.get("steps", Setup.model_fields["steps"].default) if isinstance(setup, dict) else None
        out["view"] = {**view, "revealed_steps": steps} if isinstance(steps, int) and not isinstance(steps, bool) \
            else view
    return out


def _migrate_2_to_3(data: dict) -> dict:
    """Version 3 adds optional fields only: the setup's explicit biases and readouts and the input
    kind "task" (defaults: the knobs' network, as version 2 computed it), and "training" (none).
    A version-2 file means exactly what it meant: only the version changes."""
    return {**data, "schema_version": 3}


# version n -> function returning the same data in version n + 1
MIGRATIONS: dict[int, Callable[[dict], dict]] = {0: _migrate_0_to_1, 1: _migrate_1_to_2, 2: _migrate_2_to_3}


def migrate(data: dict, source: str | os.PathLike | None = None) -> dict:
    """Bring a preset dict of any known schema version up to CURRENT_SCHEMA_VERSION.

    The input is not modified. PresetError names the file for a missing, mistyped, unknown or
    newer schema_version.
    """
    where = _where(source)
    if "schema_version" not in data:
        raise PresetError(f"{where}: schema_version: missing (not a preset file?)", source, "schema_version")
    version = data["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise PresetError(
            f"{where}: schema_version: must be a whole number, got {_short(version)}", source, "schema_version"
        )
    if version > CURRENT_SCHEMA_VERSION:
        raise PresetError(
            f"{where}: schema_version {version}: the file was made by a newer version of {APP_NAME} "
            f"(this version reads schema versions up to {CURRENT_SCHEMA_VERSION}); please update the app",
            source, "schema_version",
        )
    if version not in MIGRATIONS and version != CURRENT_SCHEMA_VERSION:
        raise PresetError(
            f"{where}: schema_version {version} is not a known version "
            f"(known: {', '.join(str(v) for v in sorted({*MIGRATIONS, CURRENT_SCHEMA_VERSION}))})",
            source, "schema_version",
        )
    while version < CURRENT_SCHEMA_VERSION:
        try:
            data = MIGRATIONS[version](data)
        except ValueError as exc:  # a migration names the field first: "setup: ..."
            field = str(exc).split(":", 1)[0]
            raise PresetError(f"{where}: {exc}", source, field) from None
        version += 1
        assert data["schema_version"] == version, "a migration must bump schema_version by one"
    return data


# --- loading ------------------------------------------------------------------------------------
def _where(source) -> str:
    return f'Preset file "{Path(source)}"' if source is not None else "Preset"


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    out = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(Exception):
    pass


def _find_non_finite(value: Any, path: str = "") -> str | None:
    """Dotted path of the first NaN/Infinity in parsed JSON (json.loads accepts them), or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path or "(top level)")
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_non_finite(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_non_finite(item, f"{path}[{index}]")
            if found:
                return found
    return None


_LEADING_FIELD = re.compile(r"^([a-z_]+(?:\.[A-Za-z_0-9]+)+):? (.*)$", re.DOTALL)


def _describe(exc: ValidationError) -> tuple[str, str | None]:
    """('field: problem; field: problem', first field) from a pydantic error."""
    lines, first = [], None
    for err in exc.errors():
        parts = []
        for item in err["loc"]:
            if isinstance(item, int) and parts:
                parts[-1] += f"[{item}]"
            else:
                parts.append(str(item))
        field = ".".join(parts)
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
            # A model-level check names its own field first ("weights.U must be 2x2, ..."):
            # move it into the field path ("setup.weights.U: must be 2x2, ...").
            named = _LEADING_FIELD.match(msg)
            if named:
                field = f"{field}.{named.group(1)}" if field else named.group(1)
                msg = named.group(2)
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "missing (required field)"
        elif "input" in err and err["type"] != "value_error" and not isinstance(err["input"], dict):
            msg += f" (got {_short(err['input'])})"
        if first is None:
            first = field or None
        lines.append(f"{field}: {msg}" if field else msg)
    return "; ".join(lines), first


def _validate(data: Any, source) -> Preset:
    where = _where(source)
    if not isinstance(data, dict):
        kind = {list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(type(data), "a number")
        raise PresetError(f"{where}: the file must hold a JSON object {{...}}, but it holds {kind}", source)
    bad = _find_non_finite(data)
    if bad:
        raise PresetError(f"{where}: {bad}: NaN and Infinity are not allowed (must be a finite number)", source, bad)
    data = migrate(data, source)
    try:
        return Preset.model_validate(data)
    except ValidationError as exc:
        problems, field = _describe(exc)
        raise PresetError(f"{where}: {problems}", source, field) from None


def parse_preset(text: str, source: str | os.PathLike | None = None) -> Preset:
    """A preset from JSON text (PresetError naming `source` on any problem)."""
    where = _where(source)
    if not text.strip():
        raise PresetError(f"{where}: the file is empty", source)
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except _DuplicateKey as exc:
        raise PresetError(f"{where}: {exc.args[0]}: field given twice", source, str(exc.args[0])) from None
    except json.JSONDecodeError as exc:
        raise PresetError(
            f"{where}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})", source
        ) from None
    except (ValueError, RecursionError) as exc:  # e.g. a 10 000-digit number, or nesting too deep
        problem = f"{type(exc).__name__}: {_short(str(exc), 80)}"
        raise PresetError(f"{where}: not a usable JSON file ({problem})", source) from None
    return _validate(data, source)


def load_preset(path: str | os.PathLike) -> Preset:
    """Read and validate a preset file. Raises PresetError (naming the file and the field)."""
    path = Path(path)
    where = _where(path)
    try:  # before opening: a FIFO would block, a device never end
        files.check_regular_file(path)
    except files.FileReadError as exc:
        raise PresetError(f"{where}: {exc.reason}", path) from None
    try:
        with open(path, "rb", opener=files.open_regular_nonblocking) as f:
            raw = f.read(MAX_PRESET_BYTES + 1)
    except IsADirectoryError:
        raise PresetError(f"{where}: is a folder, not a file", path) from None
    except FileNotFoundError:
        raise PresetError(f"{where}: no such file", path) from None
    except PermissionError:
        raise PresetError(f"{where}: permission denied (cannot read the file)", path) from None
    except OSError as exc:
        raise PresetError(f"{where}: cannot be read ({exc.strerror or exc})", path) from None
    if len(raw) > MAX_PRESET_BYTES:
        raise PresetError(
            f"{where}: the file is larger than {MAX_PRESET_BYTES // (1024 * 1024)} MB (not a preset?)", path
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PresetError(f"{where}: not UTF-8 text (byte {exc.start})", path) from None
    return parse_preset(text, path)


# --- saving -------------------------------------------------------------------------------------
def save_preset(preset: Preset, path: str | os.PathLike) -> None:
    """Write `preset` to `path` atomically (simulator/files.py: temp file in the same folder,
    fsync, os.replace; through a symlink; a read-only file, a FIFO or a folder refused).

    On any failure the previous file is left byte-for-byte as it was, the temporary file is
    removed, and PresetError names the file.
    """
    path = Path(path)
    where = _where(path)
    if not isinstance(preset, Preset):
        raise PresetError(f"{where}: can only save a Preset, got {type(preset).__name__}", path)
    try:  # before touching the disk: a failure here writes nothing
        data = preset.to_json().encode("utf-8")
    except ValueError as exc:
        raise PresetError(f"{where}: could not be saved ({exc})", path) from None
    if len(data) > MAX_PRESET_BYTES:  # it could never be opened again
        raise PresetError(
            f"{where}: setup.weights: the preset would be {len(data) / 2**20:.0f} MB, more than the "
            f"{MAX_PRESET_BYTES // 2**20} MB a preset file may have (share the seed instead of explicit matrices; "
            f"a trained network fits up to about H = 240)",
            path, "setup.weights",
        )
    try:  # every path check (name length, permissions, what the target is) happens in here
        files.atomic_write(path, data)
    except files.FileWriteError as exc:
        raise PresetError(f"{where}: could not be saved ({exc.reason}); the old file is unchanged", path) from None


def preset_name_for_file(path: str | os.PathLike) -> str:
    """A valid preset name from a file name (its stem, control characters dropped, cut to the
    120 characters a name may have), for a preset first saved under that name."""
    stem = Path(path).stem
    name = "".join(ch for ch in stem if _is_clean_text(ch, allowed="")).strip()[:120].strip()
    return name or "Untitled"


# --- helpers for building presets ---------------------------------------------------------------
def chrono_bias_offsets(hidden_size: int, t_max: int, seed: int) -> dict[str, list[float]]:
    """Chrono initialisation (Tallec & Ollivier 2018): b_f = ln(u), u ~ U[1, t_max - 1] per unit,
    and b_i = -b_f. Returned as Setup.bias_offsets (use with the b_f and b_i knobs at 0).
    Seeded, so a preset can store the values and a test can check they are reproduced."""
    if t_max < 3:
        raise ValueError(f"t_max must be at least 3, got {t_max}")
    rng = np.random.default_rng(seed)
    b_f = np.log(rng.uniform(1.0, t_max - 1.0, hidden_size))
    return {"b_f": [float(v) for v in b_f], "b_i": [float(-v) for v in b_f]}


# --- built-in presets ---------------------------------------------------------------------------
def builtin_dir() -> Path:
    from resources import PRESETS_DIR  # data package: no Qt

    return PRESETS_DIR


@lru_cache(maxsize=1)
def _load_builtins() -> tuple[tuple[str, Preset], ...]:
    files = {p.stem: p for p in builtin_dir().glob("*.json")}
    order = [s for s in BUILTIN_ORDER if s in files] + sorted(s for s in files if s not in BUILTIN_ORDER)
    return tuple((stem, load_preset(files[stem])) for stem in order)


def builtin_presets() -> dict[str, Preset]:
    """Built-in presets keyed by file stem (e.g. "rnn-vanishing"), in menu order."""
    return dict(_load_builtins())


def default_preset() -> Preset:
    """What the app opens on (resources/presets/default.json)."""
    presets = builtin_presets()
    if "default" not in presets:
        raise PresetError(f'{_where(builtin_dir() / "default.json")}: missing from the installation')
    return presets["default"]


def resolve_preset(name_or_path: str | os.PathLike) -> Preset:
    """A built-in preset by key or display name (case-insensitive), else a preset file path."""
    text = str(name_or_path)
    presets = builtin_presets()
    wanted = text.strip().lower()
    for key, preset in presets.items():
        if wanted in (key.lower(), preset.name.lower()):
            return preset
    if not wanted:
        raise PresetError("No preset given (an empty name): give a built-in preset's name or a preset file")
    path = Path(os.path.expanduser(text))  # (Path.expanduser raises for an unknown ~user)
    if text.lower().endswith(".json") or os.sep in text or "/" in text or os.path.lexists(path):
        return load_preset(path)
    raise PresetError(
        f'No built-in preset or preset file called "{text}". Built-in presets: {", ".join(presets)}',
        None,
    )


__all__ = [
    "APP_NAME", "BUILTIN_ORDER", "CURRENT_SCHEMA_VERSION", "DEFAULT_VISIBLE_PANELS", "MAX_PRESET_BYTES",
    "MIGRATIONS", "Preset", "PresetError", "ViewState", "builtin_presets", "chrono_bias_offsets",
    "default_preset", "load_preset", "migrate", "parse_preset", "preset_name_for_file", "resolve_preset",
    "save_preset",
]
