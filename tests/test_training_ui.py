"""The Train tab (issue 14): the training curves drawn once (window, slide, CSV), the run in one
background thread (start, pause, resume, reset; the UI thread stays free), quitting while it
trains, Look inside (a snapshot in the analysis views), presets with training settings, and
`main.py --train` headless."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QElapsedTimer, QTimer  # noqa: E402

import plots  # noqa: E402
from plots import style  # noqa: E402
from plots.spec import Line, Markers, Rule, Text  # noqa: E402
from plots.training import MAX_BINS, CurveRecorder, curves_of  # noqa: E402
from simulator import Setup  # noqa: E402
from simulator.presets import Preset, builtin_presets, load_preset, save_preset  # noqa: E402
from simulator.setup import TASK_SEQUENCES  # noqa: E402
from simulator.train_settings import TrainingSettings  # noqa: E402
from simulator.training import TrainConfig, Trainer  # noqa: E402
from ui.export import files as figures  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402
from ui.render.matplotlib_renderer import render_figure  # noqa: E402

from .test_headless import _headless_env, _run_driver  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WAIT_MS = 120_000
# small runs: a few seconds at most with the numba kernels (compiled by tests/test_training.py)
SMALL = TrainingSettings(task="adding", T=12, hidden_size=4, batch_size=8, steps=120, seed=1,
                         rnn_start="pytorch", lstm_start="forget_bias_1")


@pytest.fixture(scope="module", autouse=True)
def kernels_ready():
    """Load (or compile) the training kernels once, here, not inside a measured run."""
    from simulator.training import warm_up_training

    warm_up_training()


@pytest.fixture
def make_window(qtbot):
    def make(setup: Setup | None = None, settings: TrainingSettings = SMALL) -> MainWindow:
        window = MainWindow(setup or Setup(hidden_size=2, steps=12), backend="reference")
        qtbot.addWidget(window)
        with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
            window.show()
        window.resize(1400, 900)
        window.apply_training_settings(settings)
        window.tabs.setCurrentWidget(window.train_panel)
        return window

    return make


def train_to_the_end(qtbot, panel) -> None:
    assert panel.start()
    qtbot.waitUntil(lambda: panel.state == "finished", timeout=WAIT_MS)


# --- the curves: one description, drawn twice, and its CSV ---------------------------------------
def _hex6(colour) -> str:
    return mcolors.to_hex(colour, keep_alpha=False)


@pytest.mark.parametrize("task", ["adding", "copy"])
def test_the_training_curves_window_items_equal_the_slide_artists_and_the_csv(qtbot, make_window, task, tmp_path):
    settings = SMALL.replace(task=task, T=12 if task == "adding" else 3)
    window = make_window(settings=settings)
    panel = window.train_panel
    train_to_the_end(qtbot, panel)
    described = window.describe("training")
    assert [p.key for p in described.panels] == (["loss", "accuracy", "marker"] if task == "copy"
                                                  else ["loss", "marker"])
    view = panel.plot_view
    for key in view.panels:  # the whole run is in view (not the empty plot's 0..1 it started from)
        low, high = view.plot_item(key).vb.viewRange()[0]
        assert low <= 0.0 and high >= settings.steps, (key, low, high)
    _, (slide,) = render_figure(figures.describe(window.results, "training", window.view_state(),
                                                 training=window.training_curves()), (1280, 720))
    drawn_lines = 0
    for panel_spec in described.panels:
        items = view.panels[panel_spec.key]
        assert items.plot.getAxis("left").labelText == style.html(panel_spec.y.label)
        if panel_spec.y.ticks is not None:  # decade ticks, the same on both
            assert [v for v, _ in items.plot.getAxis("left")._tickLevels[0]] == [v for v, _ in panel_spec.y.ticks]
            ax = slide.axes[panel_spec.key]
            assert list(ax.get_yticks()) == [v for v, _ in panel_spec.y.ticks]
        for item in panel_spec.items:
            artist = slide.artists[f"{panel_spec.key}/{item.key}"]
            drawn = items.items[item.key]
            if isinstance(item, Line):
                np.testing.assert_array_equal(drawn.xData, item.x)
                np.testing.assert_array_equal(drawn.yData, item.y)
                np.testing.assert_array_equal(artist.get_xdata(), item.x)
                np.testing.assert_array_equal(artist.get_ydata(), item.y)
                assert drawn.opts["pen"].color().name() == _hex6(artist.get_color()) == style.colour(item.colour)[:7]
                drawn_lines += 1
            elif isinstance(item, Rule):
                assert drawn.value() == item.pos
                xy = artist.get_ydata() if item.orientation == "h" else artist.get_xdata()
                assert list(xy) == [item.pos, item.pos]
            elif isinstance(item, Text):
                assert style.plain(item.text) in drawn.textItem.toPlainText()
                assert tuple(artist.get_position()) == (item.x, item.y)
            elif isinstance(item, Markers):
                np.testing.assert_array_equal(drawn.getData()[1], item.y)
                np.testing.assert_array_equal(artist.get_ydata(), item.y)
    assert drawn_lines >= 7
    # the CSV is the description's table: the test curve's log10 values are the drawn ones
    text = figures.csv_text(window.results, "training", training=window.training_curves())
    assert text == plots.csv_text(described)
    test_table = list(csv.reader(io.StringIO(text.split("\n\n")[0])))
    header, rows = test_table[0], test_table[1:]
    lstm = np.array([float(r[header.index("lstm_test_log10")]) for r in rows])
    np.testing.assert_array_equal(lstm, described.panel("loss").find("lstm.test").y)
    assert int(rows[-1][0]) == settings.steps
    # and the window's Export writes that CSV (the dialog's and the right-click's path)
    from ui.controllers.export import ExportController, ExportOptions

    controller = ExportController(window)
    assert controller.actions_for("training")[0].text() == "Export “Training curves” for slides…"
    assert controller.start_export(ExportOptions(plot="training", fmt="csv"), tmp_path / "curves.csv", wait=True)
    assert (tmp_path / "curves.csv").read_text() == text


def test_the_recorder_bins_do_only_the_new_steps_work_and_agree_with_one_pass():
    trainer = Trainer(SMALL.make_task(), TrainConfig(steps=3 * MAX_BINS + 7, hidden_size=3, batch_size=4,
                                                     test_size=8, test_every=97))
    recorder = CurveRecorder()
    while not trainer.finished:
        trainer.step(37)
        live = recorder.update(trainer)
    whole = curves_of(trainer)
    assert live.bin_size == whole.bin_size == 4 and len(live.bin_step) == len(whole.bin_step) <= MAX_BINS
    np.testing.assert_allclose(live.train_log10["lstm"], whole.train_log10["lstm"], rtol=1e-13)
    # each bin is the mean of log10 of its steps' training losses
    losses = trainer.history.lstm.train_loss[1:]  # 1207 steps: 301 bins of 4 and one of 3
    np.testing.assert_allclose(whole.train_log10["lstm"][:-1], np.log10(losses[:1204]).reshape(-1, 4).mean(axis=1),
                               rtol=1e-13)
    assert whole.train_log10["lstm"][-1] == pytest.approx(np.log10(losses[1204:]).mean(), rel=1e-13)
    assert whole.bin_step[-1] == 1206.0
    np.testing.assert_array_equal(whole.test_step, trainer.history.test_steps[:trainer.history.test_count])
    assert not whole.test_loss["rnn"].flags.writeable


# --- the run in the background: start, pause, resume, reset; the UI thread stays free ------------
def test_the_panel_trains_in_the_background_and_the_ui_thread_is_never_blocked_long(qtbot, make_window):
    window = make_window(settings=SMALL.replace(T=30, hidden_size=8, batch_size=16, steps=1_000_000))
    panel = window.train_panel
    gaps = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def beat():
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setInterval(2)
    heartbeat.timeout.connect(beat)
    heartbeat.start()
    assert panel.start()
    qtbot.waitUntil(lambda: panel.state == "running", timeout=WAIT_MS)
    # (the first curves are drawn once: items created; ~40 ms measured) then the steady state
    qtbot.waitUntil(lambda: panel.curves is not None and panel.curves.step_count > 0, timeout=WAIT_MS)
    gaps.clear()
    qtbot.wait(1500)  # absence check: no stall while it trains and the curves are redrawn 5 times a second
    heartbeat.stop()
    steps = panel.trainer.step_count
    assert steps > 50 and panel.is_training()
    assert len(gaps) > 100 and max(gaps) < 250, max(gaps)  # generous: a stall would be seconds
    assert threading_names().count("rnn-gradient-lab training") == 1  # one background thread
    # pause: the thread ends after its step, the run stays
    panel.toggle()
    qtbot.waitUntil(lambda: panel.state == "paused", timeout=WAIT_MS)
    assert not panel.is_training() and "rnn-gradient-lab training" not in threading_names()
    paused_at = panel.trainer.step_count
    qtbot.wait(300)  # absence check: no step while paused
    assert panel.trainer.step_count == paused_at
    assert panel.start_button.text().startswith("Resume")
    # resume: the same run goes on
    trainer = panel.trainer
    panel.toggle()
    qtbot.waitUntil(lambda: panel.trainer.step_count > paused_at + 20, timeout=WAIT_MS)
    assert panel.trainer is trainer and panel.state == "running"
    # reset: the thread is stopped and joined, the run forgotten
    panel.reset()
    assert panel.state == "idle" and panel.trainer is None and not panel.is_training()
    assert "rnn-gradient-lab training" not in threading_names()
    assert panel.describe().panels[0].items == ()  # an empty plot
    assert panel.task_combo.isEnabled() and panel.start_button.text().startswith("Start")


def threading_names() -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.is_alive()]


def test_quitting_the_app_during_a_training_exits_cleanly(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--preset", "adding-lstm-learns",
                           "--start-training", "--quit-after", "8"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Fatal" not in done.stderr
    stopped = re.search(r"training stopped at step (\d+) of 3000", done.stderr)
    assert stopped is not None, done.stderr
    assert 0 < int(stopped.group(1)) < 3000  # it was training when the window closed


# --- look inside: a snapshot in the analysis views --------------------------------------------------
def test_scrubbing_a_snapshot_shows_its_network_in_the_analysis_views(qtbot, make_window):
    window = make_window(settings=SMALL.replace(steps=300))
    panel = window.train_panel
    train_to_the_end(qtbot, panel)
    snapshots = panel.trainer.snapshot_list()
    assert [s.step for s in snapshots] == [0, 100, 200, 300]
    panel.sequence_spin.setValue(17)
    with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
        panel.snapshot_slider.setValue(1)  # the analysis views follow once the scrubber rests
    qtbot.waitUntil(lambda: not window.is_computing(), timeout=WAIT_MS)
    results, snapshot = window.results, snapshots[1]
    np.testing.assert_array_equal(results.rnn_U, snapshot.rnn.U)
    np.testing.assert_array_equal(results.lstm_W_h, snapshot.lstm.W_h)
    from simulator.weights import lstm_params, rnn_params

    for name in ("W_x", "b"):
        np.testing.assert_array_equal(getattr(rnn_params(results.setup), name), getattr(snapshot.rnn, name))
        np.testing.assert_array_equal(getattr(lstm_params(results.setup), name), getattr(snapshot.lstm, name))
    task = SMALL.make_task()
    np.testing.assert_array_equal(results.x, task.test_set(TASK_SEQUENCES).x[:, 17, :])
    assert window.knobs.sliders["U"].value() == 1.0 and "test sequence 17" in window.knobs.signal_combo.currentText()
    assert panel.describe().panels[0].selection == 100.0  # the curves mark the step shown
    # Show in the Gradients tab: the last snapshot, and the tab switches
    panel.snapshot_slider.setValue(3)
    with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
        panel.look_button.click()
    assert window.tabs.currentIndex() == 0
    np.testing.assert_array_equal(window.results.lstm_W_h, snapshots[3].lstm.W_h)
    # a preset saved now holds this trained network and the training settings
    from ui.controllers.presets import PresetController

    preset = PresetController(window).current_preset("trained")
    assert preset.training.trained_steps == 300 and preset.training.replace(trained_steps=None) == SMALL.replace(steps=300)
    assert preset.setup == window.requested_setup()


def test_a_presets_training_settings_reach_the_train_tab_and_start_from_its_knobs(qtbot, make_window, tmp_path):
    lesson = builtin_presets()["adding-lstm-forget-bias-minus-3"]
    window = make_window()
    from ui.controllers.presets import PresetController

    controller = PresetController(window)
    controller.ask_unsaved_changes = lambda: "discard"
    with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
        controller.open_builtin("adding-lstm-forget-bias-minus-3")
    panel = window.train_panel
    assert panel.settings() == lesson.training
    assert not panel.hidden_spin.isEnabled() and panel.hidden_spin.value() == 16  # the knob setup's H
    # save and load again: the same settings
    path = tmp_path / "lesson.json"
    save_preset(controller.current_preset("lesson copy", path), path)
    assert load_preset(path).training == lesson.training
    # a run that starts from the knobs starts from the knob setup's b_f = -3
    panel.set_settings(lesson.training.replace(T=12, steps=5))
    panel.start()
    qtbot.waitUntil(lambda: panel.state == "finished", timeout=WAIT_MS)
    first = panel.trainer.snapshot_list()[0]
    assert np.all(first.lstm.b[1] == -3.0)


# --- headless: main.py --train ------------------------------------------------------------------------
def test_headless_train_prints_the_final_line_and_exports_the_curves(tmp_path):
    out = tmp_path / "curves.csv"
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--preset", "adding-lstm-learns", "--train", "20",
                           "--export", str(out), "--export", str(tmp_path / "lr.png"), "--plot", "training"],
                          cwd=tmp_path, env=_headless_env(), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    match = re.fullmatch(r"final test loss: rnn=(\S+) lstm=(\S+)", lines[0])
    assert match is not None, lines[0]
    rnn, lstm = float(match.group(1)), float(match.group(2))
    assert 0.05 < rnn < 5 and 0.05 < lstm < 5  # 20 steps: near the baseline, a real number
    assert "training adding problem, T = 100" in done.stderr and "step 20/20" in done.stderr
    header = next(csv.reader(io.StringIO(out.read_text())))
    assert header[:3] == ["step", "rnn_test_loss", "lstm_test_loss"]
    rows = list(csv.reader(io.StringIO(out.read_text().split("\n\n")[0])))[1:]
    assert float(rows[-1][1]) == pytest.approx(rnn, rel=1e-5) and int(rows[-1][0]) == 20
    assert (tmp_path / "lr.png").stat().st_size > 10_000
    # --quiet: nothing on stderr; any plot of the trained network works too
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--preset", "adding-lstm-learns", "--train", "3",
                           "--quiet", "--export", str(tmp_path / "lr.csv"), "--plot", "long-range"],
                          cwd=tmp_path, env=_headless_env(), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith("final test loss: rnn=") and done.stdout.count("\n") == 1
    assert (tmp_path / "lr.csv").read_text().startswith("k,lag,")


def test_headless_train_argument_errors_are_one_line(tmp_path):
    cases = {
        "no training settings": (["--preset", "default", "--train", "5"], "has no training settings"),
        "no steps": (["--train", "0"], "at least 1"),
        "quiet alone": (["--quiet"], "--quiet only applies to --export and --train"),
        "plot without export": (["--preset", "adding-lstm-learns", "--train", "5", "--plot", "training"],
                                "only applies to an export"),
        "a GIF of the curves": (["--preset", "adding-lstm-learns", "--train", "5", "--export", "x.gif"],
                                "not animated"),
        "step beyond T": (["--preset", "adding-lstm-learns", "--train", "5", "--plot", "factors", "--step", "101",
                           "--export", "x.png"], "--step 101 is out of range"),
    }
    report = _run_driver([argv for argv, _ in cases.values()], cwd=tmp_path)  # main.main(argv), one interpreter
    for (name, (_argv, needle)), case in zip(cases.items(), report["cases"]):
        lines = case["stderr"].strip().splitlines()
        assert case["code"] == 2 and len(lines) == 1 and needle in lines[0], (name, case)
    assert list(tmp_path.iterdir()) == [] and report["qt"] == []


def test_a_trained_preset_from_the_lesson_round_trips(tmp_path):
    lesson = builtin_presets()["adding-lstm-learns"]
    path = tmp_path / "copy.json"
    save_preset(Preset.from_setup(lesson.name, lesson.setup, lesson.description, training=lesson.training), path)
    assert load_preset(path).training == lesson.training and load_preset(path).setup == lesson.setup


def test_a_preset_saved_without_using_the_train_tab_has_no_training_settings(qtbot):
    window = MainWindow(Setup(hidden_size=2, steps=12), backend="reference")
    qtbot.addWidget(window)
    assert window.training_settings() is None
    window.train_panel.lr_spin.setValue(0.5)  # an edit: the settings now belong in a saved preset
    assert window.training_settings().learning_rate == 0.5
