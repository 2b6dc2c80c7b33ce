"""Preset files: round trip, every kind of bad input, atomic save, migration, built-ins (no Qt)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import plots as ui  # (the plot names live in plots)
from simulator import Setup
from simulator.presets import (
    BUILTIN_ORDER,
    CURRENT_SCHEMA_VERSION,
    DEFAULT_VISIBLE_PANELS,
    MAX_PRESET_BYTES,
    MIGRATIONS,
    Preset,
    PresetError,
    ViewState,
    builtin_presets,
    default_preset,
    load_preset,
    migrate,
    resolve_preset,
    save_preset,
)
from simulator import presets as presets_module
from simulator.setup import BASE_MATRIX_NAMES, KNOB_LIMIT, SIGNAL_KINDS, base_matrix_shape

DATA = Path(__file__).resolve().parent / "data"


def valid_dict(**overrides) -> dict:
    """A small valid preset as a JSON dict; overrides replace top-level keys."""
    data = {
        "schema_version": CURRENT_SCHEMA_VERSION,
        "name": "Test preset",
        "description": "For tests.",
        "setup": Setup(hidden_size=2, input_size=1, steps=10, seed=3).to_dict(),
        "view": {"selected_step": 4, "revealed_steps": 10, "visible_panels": ["factors", "terms"],
                 "show_gates": False},
    }
    data.update(overrides)
    return data


def write(tmp_path: Path, content: str | bytes, name: str = "preset.json") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def expect_error(path: Path, *fragments: str) -> PresetError:
    """load_preset fails with a message naming the file and each fragment; the file is unchanged."""
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(PresetError) as info:
        load_preset(path)
    message = str(info.value)
    assert path.name in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    if before is not None:
        assert path.read_bytes() == before
    return info.value


# --- round trip -----------------------------------------------------------------------------------
finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def setups(draw) -> Setup:
    H = draw(st.integers(1, 5))
    D = draw(st.integers(1, 3))
    steps = draw(st.integers(1, 300))
    knob = st.floats(-KNOB_LIMIT, KNOB_LIMIT, allow_nan=False)
    data = {
        "hidden_size": H,
        "input_size": D,
        "steps": steps,
        "seed": draw(st.integers(0, 2**32 - 1)),
        "input": {
            "kind": draw(st.sampled_from(SIGNAL_KINDS)),
            "amplitude": draw(st.floats(-100.0, 100.0)),
            "period": draw(st.floats(1e-3, 1e6)),
        },
        "knobs": {name: draw(knob) for name in Setup().knobs.model_dump()},
        "initial": {"S0": draw(st.floats(-1, 1)), "h0": draw(st.floats(-1, 1)), "C0": draw(st.floats(-100, 100))},
        "target": draw(st.floats(-100, 100)),
    }
    offsets = {}
    for name in draw(st.sets(st.sampled_from(("b_i", "b_f", "b_g", "b_o")))):
        offsets[name] = draw(st.lists(finite, min_size=H, max_size=H))
    data["bias_offsets"] = offsets
    weights = {}
    for name in draw(st.sets(st.sampled_from(BASE_MATRIX_NAMES), max_size=3)):
        rows, cols = base_matrix_shape(name, H, D)
        weights[name] = draw(st.lists(st.lists(finite, min_size=cols, max_size=cols), min_size=rows, max_size=rows))
    data["weights"] = weights or None
    return Setup.from_dict(data)


one_line = st.text(st.characters(min_codepoint=32, blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60).filter(
    str.strip
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    setup=setups(),
    name=one_line,
    description=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=200),
    panels=st.lists(st.sampled_from(ui.PLOT_NAMES), unique=True),
    step_fraction=st.floats(0, 1),
)
def test_any_valid_preset_saved_and_loaded_is_equal(setup, name, description, panels, step_fraction):
    view = ViewState(selected_step=int(step_fraction * setup.steps), visible_panels=panels)
    preset = Preset.from_setup(name, setup, description, view)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "round trip.json"
        save_preset(preset, path)
        loaded = load_preset(path)
        assert os.listdir(folder) == ["round trip.json"]  # no temp file left behind
    assert loaded == preset
    assert loaded.setup == setup
    assert loaded.schema_version == CURRENT_SCHEMA_VERSION


def test_saved_file_is_readable_json_with_schema_version_first(tmp_path):
    preset = Preset.from_setup("Readable", Setup(hidden_size=3, steps=20))
    path = tmp_path / "readable.json"
    save_preset(preset, path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith('{\n  "schema_version": %d,' % CURRENT_SCHEMA_VERSION)
    assert json.loads(text)["setup"]["hidden_size"] == 3


def test_save_gives_normal_permissions_and_keeps_existing_ones(tmp_path):
    preset = Preset.from_setup("Perms", Setup())
    path = tmp_path / "perms.json"
    save_preset(preset, path)
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
    os.chmod(path, 0o640)
    save_preset(preset, path)
    assert path.stat().st_mode & 0o777 == 0o640


# --- bad files: message names the file and the field; nothing changes ------------------------------
BAD_JSON_TEXT = [
    ("", ["empty"]),
    ("   \n\t ", ["empty"]),
    ("{not json", ["not valid JSON", "line 1"]),
    ('{"schema_version": 1,}', ["not valid JSON"]),
    ("[1, 2, 3]", ["JSON object", "a list"]),
    ('"a string"', ["JSON object", "a string"]),
    ("42", ["JSON object", "a number"]),
    ("null", ["JSON object", "null"]),
    ("1" * 5000, ["not a usable JSON"]),  # int with too many digits
    ("[" * 100_000 + "]" * 100_000, ["not a usable JSON"]),  # nesting too deep
    ('{"schema_version": 1, "schema_version": 1}', ["schema_version", "given twice"]),
]


@pytest.mark.parametrize("text, fragments", BAD_JSON_TEXT, ids=[f"text{i}" for i in range(len(BAD_JSON_TEXT))])
def test_bad_json_text_is_rejected(tmp_path, text, fragments):
    expect_error(write(tmp_path, text), *fragments)


def _set(path: str, value):
    """A valid dict with the dotted `path` set to value (or removed when value is _DELETE)."""
    data = valid_dict()
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return data


_DELETE = object()

BAD_FIELDS = [
    # (dotted field, value, fragments expected in the message)
    ("schema_version", 99, ["schema_version", "made by a newer version of RNN Gradient Lab"]),
    ("schema_version", -1, ["schema_version", "not a known version"]),
    ("schema_version", "1", ["schema_version", "whole number"]),
    ("schema_version", 1.0, ["schema_version", "whole number"]),
    ("schema_version", True, ["schema_version", "whole number"]),
    ("schema_version", _DELETE, ["schema_version", "missing"]),
    ("setup", _DELETE, ["setup", "missing"]),
    ("name", _DELETE, ["name", "missing"]),
    ("name", "", ["name"]),
    ("name", "   ", ["name", "blank"]),
    ("name", "two\nlines", ["name", "one line"]),
    ("name", 12, ["name", "string"]),
    ("description", "x" * 5000, ["description"]),
    ("colour", "red", ["colour", "unknown field"]),
    ("setup.knobs.Q", 1.0, ["setup.knobs.Q", "unknown field"]),
    ("setup.input.noise", 1.0, ["setup.input.noise", "unknown field"]),
    ("setup.hidden_size", "8", ["setup.hidden_size", "integer"]),
    ("setup.hidden_size", 2.0, ["setup.hidden_size", "integer"]),
    ("setup.knobs.U", True, ["setup.knobs.U"]),
    ("setup.knobs.U", "0.5", ["setup.knobs.U"]),
    ("setup.knobs.U", None, ["setup.knobs.U"]),
    ("setup.knobs", [1, 2], ["setup.knobs"]),
    ("setup.input.kind", "brown_noise", ["setup.input.kind"]),
    ("setup.hidden_size", 0, ["setup.hidden_size", "greater than or equal to 1"]),
    ("setup.hidden_size", 100_000, ["setup.hidden_size", "less than or equal to"]),
    ("setup.steps", 10**7, ["setup.steps", "less than or equal to"]),
    ("setup.knobs.U", 1000.0, ["setup.knobs.U", "less than or equal to 100"]),
    ("setup.knobs.b_f", -101, ["setup.knobs.b_f", "greater than or equal to -100"]),
    ("setup.input.period", 0.0, ["setup.input.period", "greater than 0"]),
    ("setup.seed", -1, ["setup.seed"]),
    ("setup.weights", {"U": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]}, ["weights.U", "2x2", "2x3"]),
    ("setup.weights", {"V": [[1.0]]}, ["weights.V", "1x2"]),
    ("setup.weights", {"W_hf": [[1.0, 0.0], [0.0]]}, ["weights.W_hf", "2x2"]),
    ("setup.weights", {"Z": [[1.0]]}, ["weights.Z", "unknown matrix"]),
    ("setup.weights", {"U": [[1.0, "a"], [0.0, 1.0]]}, ["setup.weights.U[0][1]"]),
    ("setup.bias_offsets", {"b_f": [1.0, 2.0, 3.0]}, ["bias_offsets.b_f", "3 values", "hidden_size is 2"]),
    ("view.selected_step", 11, ["view.selected_step", "0..10"]),
    ("view.selected_step", -1, ["view.selected_step", "greater than or equal to 0"]),
    ("view.selected_step", 2.5, ["view.selected_step", "integer"]),
    ("view.visible_panels", ["factors", "factors"], ["view.visible_panels", "twice"]),
    ("view.visible_panels", ["Not A Panel!"], ["view.visible_panels", "not a panel name"]),
    ("view.visible_panels", "factors", ["view.visible_panels"]),
    ("view.zoom", 2, ["view.zoom", "unknown field"]),
]


@pytest.mark.parametrize("field, value, fragments", BAD_FIELDS,
                         ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(BAD_FIELDS)])
def test_bad_field_is_rejected_naming_file_and_field(tmp_path, field, value, fragments):
    error = expect_error(write(tmp_path, json.dumps(_set(field, value))), *fragments)
    assert error.path is not None and error.path.name == "preset.json"
    assert error.field is not None and error.field.startswith(field), error.field  # the culprit, by name


NON_FINITE = [
    ('"U": NaN', "setup.knobs.U"),
    ('"U": Infinity', "setup.knobs.U"),
    ('"U": -Infinity', "setup.knobs.U"),
    ('"U": 1e400', "setup.knobs.U"),  # json.loads turns this into inf
]


@pytest.mark.parametrize("replacement, field", NON_FINITE)
def test_nan_and_infinity_are_rejected(tmp_path, replacement, field):
    text = json.dumps(valid_dict(), indent=1).replace('"U": 0.9', replacement)
    assert replacement in text
    error = expect_error(write(tmp_path, text), field, "finite")
    assert error.field == field


def test_nan_inside_a_weight_matrix_names_the_entry(tmp_path):
    data = valid_dict()
    data["setup"]["weights"] = {"U": [[1.0, 0.0], [0.0, 12345.0]]}
    text = json.dumps(data).replace("12345.0", "NaN")
    expect_error(write(tmp_path, text), "setup.weights.U[1][1]", "finite")


def test_file_over_10_mb_is_rejected_without_parsing(tmp_path):
    path = write(tmp_path, b" " * (MAX_PRESET_BYTES + 1))
    expect_error(path, "larger than 10 MB")


def test_not_utf8_is_rejected(tmp_path):
    expect_error(write(tmp_path, b'{"name": "\xff\xfe"}'), "UTF-8")


def test_utf8_with_byte_order_mark_is_accepted(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + json.dumps(valid_dict()).encode("utf-8"))
    assert load_preset(path).name == "Test preset"


def test_missing_file_folder_and_unreadable_file(tmp_path, monkeypatch):
    expect_error(tmp_path / "nowhere.json", "no such file")
    folder = tmp_path / "folder.json"
    folder.mkdir()
    expect_error(folder, "is a folder")

    path = write(tmp_path, json.dumps(valid_dict()), "locked.json")

    def no_permission(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # (Tests may run as root, where chmod 000 does not stop reading: simulate the OS refusing.)
    monkeypatch.setattr(presets_module, "open", no_permission, raising=False)
    expect_error(path, "permission denied")


def test_unknown_fields_left_over_by_an_old_format_are_reported(tmp_path):
    data = json.loads((DATA / "preset_v0_flat.json").read_text())
    data["favourite_colour"] = "blue"
    expect_error(write(tmp_path, json.dumps(data)), "favourite_colour", "unknown field")


# --- atomic save --------------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    """An existing preset file and a different preset to save over it."""
    path = tmp_path / "mine.json"
    save_preset(Preset.from_setup("Old", Setup(steps=10)), path)
    return path, path.read_bytes(), Preset.from_setup("New", Setup(steps=99, hidden_size=4))


def _fail(*args, **kwargs):
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("target", ["replace", "fsync", "fdopen"])
def test_failed_save_leaves_old_file_byte_for_byte_and_no_temp_file(saved, monkeypatch, target):
    path, before, new = saved
    monkeypatch.setattr(presets_module.os, target, _fail)
    with pytest.raises(PresetError) as info:
        save_preset(new, path)
    monkeypatch.undo()
    assert "mine.json" in str(info.value) and "No space left" in str(info.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["mine.json"]


def test_failure_in_the_middle_of_writing_leaves_old_file(saved, monkeypatch):
    path, before, new = saved
    real_fdopen = os.fdopen

    class HalfWriter:
        """Writes half of the data, then the disk 'fills up'."""

        def __init__(self, fd, mode):
            self.file = real_fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            self.file.write(data[: len(data) // 2])
            self.file.flush()
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(presets_module.os, "fdopen", HalfWriter)
    with pytest.raises(PresetError, match="mine.json"):
        save_preset(new, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["mine.json"]


def test_save_to_missing_folder_or_onto_a_folder_fails_cleanly(tmp_path):
    preset = Preset.from_setup("X", Setup())
    with pytest.raises(PresetError, match="nope.json"):
        save_preset(preset, tmp_path / "no such folder" / "nope.json")
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(PresetError, match="dir.json.*folder"):
        save_preset(preset, tmp_path / "dir.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.json"]


def test_save_refuses_a_preset_too_large_to_open_again(tmp_path, saved):
    path, before, _ = saved
    H = 512  # three explicit 512 x 512 matrices: about 20 MB of JSON
    big = Setup(hidden_size=H, steps=5).replace(
        weights={name: [[0.123456789012345] * H] * H for name in ("U", "W_hf", "W_hg")}
    )
    with pytest.raises(PresetError, match="mine.json.*setup.weights.*10 MB"):
        save_preset(Preset.from_setup("Big", big), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["mine.json"]


def test_save_rejects_non_presets(tmp_path):
    with pytest.raises(PresetError, match="only save a Preset"):
        save_preset({"name": "dict"}, tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


# --- migration ----------------------------------------------------------------------------------
def test_old_flat_format_is_migrated():
    preset = load_preset(DATA / "preset_v0_flat.json")
    assert preset.schema_version == CURRENT_SCHEMA_VERSION
    assert preset.name == "Old flat preset (schema version 0)"
    s = preset.setup
    assert (s.hidden_size, s.input_size, s.steps, s.seed) == (4, 1, 30, 7)
    assert (s.input.kind, s.input.amplitude, s.input.period) == ("sine", 0.5, 12.0)
    assert s.knobs.model_dump() == {
        "U": 1.25, "W_hi": 0.3, "W_hf": 2.0, "W_hg": -0.7, "W_ho": 0.4,
        "b_i": 0.1, "b_f": 2.0, "b_g": 0.0, "b_o": -0.5, "input_gain": 0.8,
    }
    assert preset.view.selected_step == 12
    assert preset.view.visible_panels == list(DEFAULT_VISIBLE_PANELS)


def test_migrated_preset_saves_as_current_version(tmp_path):
    preset = load_preset(DATA / "preset_v0_flat.json")
    path = tmp_path / "upgraded.json"
    save_preset(preset, path)
    assert json.loads(path.read_text())["schema_version"] == CURRENT_SCHEMA_VERSION
    assert load_preset(path) == preset


def test_migrate_does_not_modify_its_input_and_chain_is_complete():
    data = json.loads((DATA / "preset_v0_flat.json").read_text())
    copy = json.loads(json.dumps(data))
    migrated = migrate(data)
    assert data == copy
    assert migrated["schema_version"] == CURRENT_SCHEMA_VERSION
    assert set(MIGRATIONS) == set(range(CURRENT_SCHEMA_VERSION))  # one step from every old version
    assert migrate(valid_dict()) == valid_dict()  # current version: unchanged


def test_version_1_gains_revealed_steps_equal_to_T_and_a_clean_view_when_left_out(tmp_path):
    """Schema 2 added view.revealed_steps: a version-1 file showed every step, so the migration
    writes revealed_steps = T; a view that leaves the steps out is a clean view (last step
    selected, everything revealed) when the window applies it."""
    from plots.view import from_preset

    data = valid_dict()
    data["schema_version"] = 1
    del data["view"]["revealed_steps"]
    migrated = migrate(data)
    assert migrated["schema_version"] == CURRENT_SCHEMA_VERSION
    assert migrated["view"]["revealed_steps"] == data["setup"]["steps"]
    preset = load_preset(write(tmp_path, json.dumps(data)))
    assert preset.view.revealed_steps == preset.setup.steps and preset.view.selected_step == 4
    bare = Preset.from_setup("Bare", Setup(steps=30), view={"visible_panels": ["factors"]})
    view = from_preset(bare)
    assert (view.selected_step, view.revealed_steps, view.visible_panels) == (30, 30, ("factors",))
    with pytest.raises(PresetError, match="view.revealed_steps"):
        Preset.from_setup("Too far", Setup(steps=5), view={"revealed_steps": 6})


def test_old_format_mixed_with_the_new_layout_is_rejected(tmp_path):
    data = json.loads((DATA / "preset_v0_flat.json").read_text())
    data["setup"] = {"hidden_size": 2}  # both layouts at once: which one did the author mean?
    expect_error(write(tmp_path, json.dumps(data)), "setup", "schema_version 0")


def test_old_format_with_a_bad_value_names_the_new_field(tmp_path):
    data = json.loads((DATA / "preset_v0_flat.json").read_text())
    data["U"] = "big"
    expect_error(write(tmp_path, json.dumps(data)), "setup.knobs.U")


# --- built-ins and resolving ----------------------------------------------------------------------
def test_builtin_presets_load_in_menu_order_with_lessons():
    presets = builtin_presets()
    assert len(presets) >= 11  # default + at least ten lessons
    assert list(presets)[: len(BUILTIN_ORDER)] == list(BUILTIN_ORDER)
    names = [p.name for p in presets.values()]
    assert len(set(names)) == len(names)
    for key, preset in presets.items():
        sentences = [s for s in preset.description.replace("!", ".").split(". ") if s.strip()]
        assert 1 <= len(sentences) <= 3, (key, preset.description)
        assert 40 <= len(preset.description) <= 400, key
        assert set(preset.view.visible_panels) <= set(ui.PLOT_NAMES), key


def test_builtin_files_are_in_canonical_form():
    # The files are exactly what save_preset writes: edits stay reviewable diffs.
    for key, preset in builtin_presets().items():
        text = (presets_module.builtin_dir() / f"{key}.json").read_text(encoding="utf-8")
        assert text == preset.to_json(), key


def test_default_visible_panels_are_the_window_plots():
    # the dashboard's panels (the Paths view and the training curves are tabs of their own, not panels a
    # preset shows or hides)
    assert set(DEFAULT_VISIBLE_PANELS) == set(ui.PANEL_NAMES) == set(ui.PLOT_NAMES) - {"dashboard", "paths", "training"}


def test_default_and_resolve():
    default = default_preset()
    assert default == builtin_presets()["default"]
    assert resolve_preset("default") == default
    assert resolve_preset(default.name.upper()) == default  # display name, any case
    assert resolve_preset("rnn-vanishing") == builtin_presets()["rnn-vanishing"]


def test_resolve_file_path_and_unknown_name(tmp_path):
    path = write(tmp_path, json.dumps(valid_dict()), "mine.json")
    assert resolve_preset(str(path)).name == "Test preset"
    with pytest.raises(PresetError, match="No built-in preset or preset file called \"nonsense\""):
        resolve_preset("nonsense")
    with pytest.raises(PresetError, match="missing.json.*no such file"):
        resolve_preset(str(tmp_path / "missing.json"))


def test_from_setup_validates_view_against_steps():
    with pytest.raises(PresetError, match="view.selected_step"):
        Preset.from_setup("Too far", Setup(steps=5), view={"selected_step": 6, "visible_panels": []})


# --- schema 3: training settings and trained networks (issue 14) ----------------------------------
def test_a_version_2_file_loads_unchanged_as_version_3(tmp_path):
    from simulator.weights import lstm_params, rnn_params

    data = valid_dict(schema_version=2)
    for field in ("explicit",):
        data["setup"].pop(field)
    for field in ("task", "sequence"):
        data["setup"]["input"].pop(field)
    assert MIGRATIONS[2](data) == {**data, "schema_version": 3}
    preset = load_preset(write(tmp_path, json.dumps(data)))
    assert preset.schema_version == CURRENT_SCHEMA_VERSION == 3 and preset.training is None
    old = Setup(hidden_size=2, input_size=1, steps=10, seed=3)
    assert preset.setup == old  # the new fields take the knobs' network: the same numbers as before
    assert rnn_params(preset.setup).b.tolist() == [0.0, 0.0] and lstm_params(preset.setup).c.tolist() == [0.0]


def test_a_trained_network_with_its_training_settings_round_trips_exactly(tmp_path):
    import numpy as np

    from simulator.tasks import AddingProblem
    from simulator.train_settings import TrainingSettings
    from simulator.trained import setup_for_networks
    from simulator.training import Init, init_lstm, init_rnn
    from simulator.weights import lstm_params, rnn_params

    rng = np.random.default_rng(4)
    rnn, lstm = init_rnn(Init(), 5, 2, 1, rng), init_lstm(Init(chrono=30.0), 5, 2, 1, rng)
    setup = setup_for_networks(rnn, lstm, AddingProblem(T=30), sequence=9)
    settings = TrainingSettings(T=30, hidden_size=5, optimizer="sgd", learning_rate=0.5, clip=None, steps=1234,
                                seed=7, rnn_start="identity", lstm_start="chrono", trained_steps=600)
    path = tmp_path / "trained.json"
    save_preset(Preset.from_setup("Trained", setup, "A trained pair.", training=settings), path)
    loaded = load_preset(path)
    assert loaded.training == settings and loaded.setup == setup
    for name in ("W_x", "U", "b", "V", "c"):  # every weight exactly, bit for bit
        assert np.array_equal(getattr(rnn_params(loaded.setup), name), getattr(rnn, name)), name
    for name in ("W_x", "W_h", "b", "V", "c"):
        assert np.array_equal(getattr(lstm_params(loaded.setup), name), getattr(lstm, name)), name


@pytest.mark.parametrize("training, fragments", [
    ({"task": "temporal_order", "T": 20}, ["training", "T = 20 is too short"]),
    ({"optimizer": "rmsprop"}, ["training.optimizer"]),
    ({"clip": 0.0}, ["training.clip"]),
    ({"lstm_start": "identity"}, ["training.lstm_start"]),
    ({"rnn_start": "knobs", "hidden_size": 3}, ["training.hidden_size: 3 differs from the setup's 2"]),
])
def test_bad_training_settings_are_refused_naming_the_field(tmp_path, training, fragments):
    data = valid_dict(training=training)
    expect_error(write(tmp_path, json.dumps(data)), *fragments)


def test_a_preset_too_large_to_save_says_how_large_a_network_fits(tmp_path):
    import numpy as np

    big = np.random.default_rng(0).standard_normal((300, 300)).tolist()
    setup = Setup(hidden_size=300, weights={name: big for name in ("U", "W_hi", "W_hf", "W_hg", "W_ho")})
    with pytest.raises(PresetError, match="up to about H = 240"):
        save_preset(Preset.from_setup("Big", setup), tmp_path / "big.json")
    assert not (tmp_path / "big.json").exists()
