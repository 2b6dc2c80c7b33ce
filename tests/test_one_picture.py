"""One picture, drawn twice from one description (issue 11): the window's pyqtgraph items, the
slide's matplotlib artists and the CSV all come from the same plots.describe(...) description,
and the window's view state stays consistent through preset switches and the transport."""

from __future__ import annotations

import csv
import io

import matplotlib.colors as mcolors
import numpy as np
import pyqtgraph as pg
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402

import plots  # noqa: E402
from plots import style  # noqa: E402
from plots.spec import Bars, Image, Line, Markers, Rule, Segments, Text  # noqa: E402
from plots.view import ViewState, from_preset  # noqa: E402
from simulator import Setup, compute  # noqa: E402
from simulator.presets import builtin_presets  # noqa: E402
from ui.export import files as figures  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402
from ui.render.matplotlib_renderer import render_figure  # noqa: E402

WAIT_MS = 120_000
# ("paths" is drawn only while its tab shows: test_the_paths_tab_draws_its_description below; the
# training curves draw a training run, not Results: tests/test_training_ui.py checks them the same way)
SINGLE_PLOTS = [name for name in plots.PLOT_NAMES if name not in ("dashboard", "unrolled", "paths", "training")]


@pytest.fixture
def make_window(qtbot):
    def make(setup: Setup, view: ViewState | None = None) -> MainWindow:
        window = MainWindow(setup, backend="reference", view=view)
        qtbot.addWidget(window)
        with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
            window.show()
        window.resize(1600, 1000)
        return window

    return make


def wait_for(qtbot, window, action) -> None:
    with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
        action()
    qtbot.waitUntil(lambda: not window.is_computing(), timeout=WAIT_MS)


def hex6(colour) -> str:
    return mcolors.to_hex(colour, keep_alpha=False)


def _pg_xy(item):
    x = np.zeros(0) if item.xData is None else np.asarray(item.xData)
    y = np.zeros(0) if item.yData is None else np.asarray(item.yData)
    return x, y


def _csv_columns(text: str) -> dict:
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    return {name: [row[i] for row in body] for i, name in enumerate(header)}


# --- 1. every plot: the same series, colours, arrays, labels on screen, on the slide, in the CSV ---
@pytest.mark.parametrize("name", SINGLE_PLOTS)
def test_window_slide_and_csv_draw_the_same_description(qtbot, make_window, name):
    window = make_window(Setup(hidden_size=3, steps=24, seed=5).with_knob("b_f", 2.0),
                         ViewState(selected_step=9, revealed_steps=14))
    # the (L4) term norms come from the worker: wait until they are drawn
    qtbot.waitUntil(lambda: "norms" in window.terms_plot.panels["terms"].items, timeout=WAIT_MS)
    assert_window_slide_and_csv_agree(window, name)


def test_the_paths_tab_draws_its_description(qtbot, make_window):
    window = make_window(Setup(hidden_size=3, steps=24, seed=5).with_knob("b_f", 2.0),
                         ViewState(selected_step=9, revealed_steps=14, paths_k=21, paths_highlight=2))
    window.tabs.setCurrentWidget(window.paths_view)
    # (lag 3: the numbers come from the worker, the tab says "computing" until then)
    qtbot.waitUntil(lambda: window.paths_view.plot_view.plot is not None and not window.paths_view.plot_view.plot.partial,
                    timeout=WAIT_MS)
    assert window.paths_view.plot_view.plot.panels[0].title.startswith("∂L₂₄/∂W_{hf}⁽²¹⁾")
    assert "highlight" in window.views["paths"].panels["tree"].items  # the hovered path, drawn on top
    assert_window_slide_and_csv_agree(window, "paths")


def assert_window_slide_and_csv_agree(window, name: str) -> None:
    """Every item of the window's description is drawn in the window (matched by key, same data
    and colours) and on the slide, the labels and legends agree, and the CSV is its table."""
    described = window.describe(name)
    view = window.views[name]
    _, drawn_list = render_figure(figures.describe(window.results, name, window.view_state()), (1280, 720))
    (slide,) = drawn_list
    for panel in described.panels:
        items = view.panels[panel.key]
        # axis labels and title: the same text (up to rich-text markup)
        labels = items.plot.getAxis("left").labelText
        assert style.plain(panel.y.label) in style.plain(labels.replace("<sub>", "").replace("</sub>", "")
                                                         .replace("<sup>", "").replace("</sup>", "")) \
            or style.html(panel.y.label) == labels
        ax = slide.axes[panel.key]
        assert ax.get_ylabel().replace("$", "").replace("_{", "").replace("^{", "").replace("}", "") \
            .replace("\\partial ", "∂").replace("\\ ", " ") == style.plain(panel.y.label)
        if panel.title:
            assert style.plain(panel.title) in ax.get_title(loc="left") + ax.get_title() or \
                ax.get_title(loc="left") + ax.get_title() != ""
        legend_labels = []
        for item in panel.items:
            key = f"{panel.key}/{item.key}" if len(described.panels) > 1 else item.key
            artist = slide.artists[key]
            drawn = items.items[item.key]
            if isinstance(item, Line):
                x, y = _pg_xy(drawn)
                np.testing.assert_array_equal(x, item.x)
                np.testing.assert_array_equal(y, item.y)
                np.testing.assert_array_equal(artist.get_xdata(), item.x)
                np.testing.assert_array_equal(artist.get_ydata(), item.y)
                assert hex6(artist.get_color()) == style.colour(item.colour)[:7]
                assert drawn.opts["pen"].color().name() == style.colour(item.colour)[:7]
            elif isinstance(item, Bars) and item.style == "steps":
                x, y = _pg_xy(drawn)
                np.testing.assert_array_equal(y, item.heights)
                values, edges, baseline = artist.get_data()
                np.testing.assert_array_equal(values, item.heights)
                np.testing.assert_array_equal(edges, x)  # the same bar edges on both
                assert baseline == item.base == drawn.opts["fillLevel"]
            elif isinstance(item, Bars):
                np.testing.assert_array_equal(drawn.opts["height"] + drawn.opts["y0"], item.heights)
                np.testing.assert_array_equal([p.get_height() + p.get_y() for p in artist.patches], item.heights)
                for patch, brush, role in zip(artist.patches, drawn.opts["brushes"], item.colours):
                    assert hex6(patch.get_facecolor()) == brush.color().name() == style.colour(role)[:7]
            elif isinstance(item, Markers):
                x, y = drawn.getData()
                np.testing.assert_array_equal(y, item.y)
                np.testing.assert_array_equal(artist.get_ydata(), item.y)
            elif isinstance(item, Image):
                assert np.shares_memory(drawn[0].image, item.data)  # the very array, no copy (the fast path)
                np.testing.assert_array_equal(artist.get_array(), item.data)
                assert drawn[0].levels is not None and tuple(drawn[0].levels) == item.levels
                assert tuple(artist.get_clim()) == item.levels
            elif isinstance(item, Rule):
                assert drawn.value() == item.pos
            elif isinstance(item, Text):
                assert (drawn.pos().x(), drawn.pos().y()) == (item.x, item.y) == artist.get_position()
                assert drawn.textItem.toPlainText() == style.plain(item.text)
                assert hex6(artist.get_color()) == style.colour(item.colour)[:7]
                assert style.colour(item.colour)[:7] in drawn.textItem.toHtml()
                if item.background is not None:
                    assert hex6(artist.get_bbox_patch().get_facecolor()) == style.colour(item.background)[:7]
                    assert drawn.fill.color().name() == style.colour(item.background)[:7]
            elif isinstance(item, Segments):
                for field in ("x0", "y0", "x1", "y1", "widths", "colours"):  # the window paints these segments
                    np.testing.assert_array_equal(getattr(drawn.segments, field), getattr(item, field))
                segments = np.array(artist.get_segments())
                np.testing.assert_array_equal(segments[:, 0, 0], item.x0)
                np.testing.assert_array_equal(segments[:, 1, 1], item.y1)
                np.testing.assert_array_equal(np.round(artist.get_colors() * 255), item.colours)
            if getattr(item, "label", None):
                legend_labels.append(style.plain(item.label))
        # the legend: the same entries in both
        if panel.legend is not None and legend_labels:
            window_legend = [style.plain(label.text.replace("<sub>", "").replace("</sub>", "").replace("<sup>", "")
                                         .replace("</sup>", "")) for _sample, label in items.legend.items]
            assert window_legend == legend_labels
            slide_legend = slide.artists[f"{panel.key}/legend"]
            assert len(slide_legend.get_texts()) == len(legend_labels)
    # the CSV is the description's table
    text = figures.csv_text(window.results, name, window.view_state())
    assert text == plots.csv_text(described)


def test_the_unrolled_view_and_its_slide_draw_the_same_cells_and_edges(make_window):
    window = make_window(Setup(hidden_size=3, steps=24, seed=5), ViewState(selected_step=9, revealed_steps=14))
    described = window.describe("unrolled")
    element = described.panels[0].items[0]
    shown = window.unrolled_view._element
    assert shown is not None and shown.revealed == 14 and shown.selected == 9
    for name in ("rnn_cells", "C_cells", "h_cells", "rnn_edge_width", "lstm_edge_width", "rnn_edge_rgba",
                 "rnn_gradient_rgba", "lstm_gradient_rgba"):
        np.testing.assert_array_equal(getattr(shown, name), getattr(element, name))
    _, (slide,) = render_figure(figures.describe(window.results, "unrolled", window.view_state()), (1280, 720))
    assert "unrolled" in slide.artists
    text = figures.csv_text(window.results, "unrolled", window.view_state())
    columns = _csv_columns(text)
    assert [int(v) for v in columns["revealed"]] == [1] * 15 + [0] * 10


# --- 2. preset switches keep every view consistent ------------------------------------------------
def test_a_preset_switch_sequence_leaves_every_view_consistent(qtbot, make_window):
    presets = builtin_presets()
    window = make_window(presets["scalar-notes-example"].setup, from_preset(presets["scalar-notes-example"]))
    controller_order = ["scalar-notes-example", "lstm-carousel", "chrono-init", "default"]
    from ui.controllers.presets import PresetController

    controller = PresetController(window)
    controller.ask_unsaved_changes = lambda: "discard"
    window.step()  # some play position that must not leak into the next preset
    for key in controller_order[1:]:
        preset = presets[key]
        wait_for(qtbot, window, lambda key=key: controller.open_builtin(key))
        H, T = preset.setup.hidden_size, preset.setup.steps
        view = window.view_state()
        assert (view.selected_step, view.revealed_steps) == (from_preset(preset).selected_step, T), key
        for row in ("rnn_S", "lstm_h", "lstm_C"):  # every heatmap has H unit rows (no stale 1-row image)
            assert window.heatmaps.image_data(row).shape == (H, T + 1), (key, row)
        assert window.unrolled_view.revealed_step() == T and window.unrolled_view.steps == T
        x, _ = _pg_xy(window.factor_plot.drawn_item("rnn"))
        assert len(x) == T  # fully revealed
        assert window.factor_plot.panels["factors"].selection.value() == view.selected_step
        # moving one knob redraws every heatmap with the same H rows
        wait_for(qtbot, window, lambda: window.knobs.sliders["b_f"].slider.setValue(250))
        for row in ("rnn_S", "lstm_h", "lstm_C"):
            assert window.heatmaps.image_data(row).shape == (H, T + 1), (key, row)


def test_changing_T_by_hand_starts_a_clean_view(qtbot, make_window):
    window = make_window(Setup(hidden_size=2, steps=20))
    window.reset()
    wait_for(qtbot, window, lambda: window.knobs.steps_spin.setValue(60))
    assert (window.selected_step(), window.revealed_steps()) == (60, 60)


# --- 3. an export at a partial reveal is what the window shows -------------------------------------
def test_export_at_a_partial_reveal_equals_the_window(qtbot, make_window, tmp_path):
    window = make_window(Setup(hidden_size=2, steps=100, seed=1))
    window.reset()
    for _ in range(5):
        qtbot.keyClick(window, Qt.Key.Key_Right)
    assert (window.selected_step(), window.revealed_steps()) == (5, 5)
    # plot 2 shows every lag on screen, and so does the export (not only lags 95-100)
    x, _ = _pg_xy(window.long_range_plot.drawn_item("rnn"))
    assert len(x) == 101
    from ui.controllers.export import ExportController, ExportOptions

    controller = ExportController(window)
    assert controller.start_export(ExportOptions(plot="long-range", fmt="csv"), tmp_path / "lr.csv", wait=True)
    columns = _csv_columns((tmp_path / "lr.csv").read_text())
    assert len(columns["lag"]) == 101
    np.testing.assert_array_equal(np.array(columns["rnn_log10_dS_T_dS_k"], dtype=float),
                                  _pg_xy(window.long_range_plot.drawn_item("rnn"))[1])
    # the factors: bright up to step 5, faded after, on screen and in the file
    assert controller.start_export(ExportOptions(plot="factors", fmt="csv"), tmp_path / "f.csv", wait=True)
    columns = _csv_columns((tmp_path / "f.csv").read_text())
    assert sum(int(v) for v in columns["revealed"]) == 5 == len(_pg_xy(window.factor_plot.drawn_item("rnn"))[0])
    # the caption says which step is selected and how many are revealed
    caption = window.describe("long-range").caption
    assert "selected step t = 5" in caption and "5 of 100 steps revealed" in caption
    # and the SVG carries the same picture: every lag drawn
    assert controller.start_export(ExportOptions(plot="long-range", fmt="svg"), tmp_path / "lr.svg", wait=True)
    assert (tmp_path / "lr.svg").stat().st_size > 1000


# --- 4. the keyboard works again after Enter in a value field ----------------------------------------
def test_shortcuts_act_after_typing_a_value_and_pressing_enter(qtbot, make_window):
    window = make_window(Setup(hidden_size=2, steps=40))
    window.activateWindow()
    spin = window.knobs.sliders["U"].spin
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "1.2")
    with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
        qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    assert not spin.hasFocus()
    qtbot.keyClick(window.focusWidget() or window, Qt.Key.Key_R)
    assert window.revealed_steps() == 0
    qtbot.keyClick(window.focusWidget() or window, Qt.Key.Key_Right)
    assert window.revealed_steps() == 1
    qtbot.keyClick(window.focusWidget() or window, Qt.Key.Key_Space)
    assert window.is_playing()
    window.pause()
    # the seed box too (a validated line edit: the seed reaches 2^32 - 1)
    window.knobs.seed_edit.setFocus()
    window.knobs.seed_edit.selectAll()
    qtbot.keyClicks(window.knobs.seed_edit, str(2**32 - 1))
    with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
        qtbot.keyClick(window.knobs.seed_edit, Qt.Key.Key_Return)
    assert window.results.setup.seed == 2**32 - 1 and not window.knobs.seed_edit.hasFocus()


# --- 5. the listed faults, each gone ------------------------------------------------------------------
def test_the_verdict_comes_from_the_norm_not_the_diagonal_mean(make_window):
    # default preset with U = 1.1: the RNN factor's norm is 1.1 (it grows the gradient), whatever
    # the diagonal mean of a random orthogonal matrix says
    window = make_window(builtin_presets()["default"].setup.with_knob("U", 1.1).replace(input={"kind": "zeros"}))
    text = window.formula_panel.text()
    assert "RNN factor grows the gradient" in text and "‖·‖₂ = 1.100" in text
    from plots.text import factor_sentence

    assert factor_sentence(window.results, 50) in text.replace("\n", " ") or "grows" in factor_sentence(window.results, 50)


def test_the_lesson_is_read_whole_in_the_formula_panel_not_the_status_bar(qtbot, make_window):
    from ui.controllers.presets import PresetController

    window = make_window(Setup(hidden_size=2, steps=20))
    controller = PresetController(window)
    controller.ask_unsaved_changes = lambda: "discard"
    preset = builtin_presets()["lstm-forgetting"]
    wait_for(qtbot, window, lambda: controller.open_builtin("lstm-forgetting"))
    assert window.formula_panel.lesson_description == preset.description
    assert preset.description.split("'")[0] in window.formula_panel.lesson_text.text()
    assert window.formula_panel.lesson_text.isVisibleTo(window)
    assert preset.description not in window.statusBar().currentMessage()
    assert "gradient at lag" in window.reading_label.text()
    # the reading as plain text (a rich-text label lays out a document at every knob change)
    from plots import text as plot_text

    assert window.reading_label.text() == style.unicode(plot_text.reading(window.results))
    assert window.reading_label.textFormat() == Qt.TextFormat.PlainText and "<" not in window.reading_label.text()


def test_an_all_zero_bptt_has_a_readable_axis():
    results = compute(Setup(hidden_size=1, steps=12, input={"kind": "zeros"}).with_knob("U", 2.5),
                      backend="reference")
    panel = plots.describe("bptt", results).panels[0]
    assert panel.y.high - panel.y.low >= 1.0  # at least a decade: no ticks like -19.999999991


def test_gates_use_a_sequential_map_and_states_a_diverging_one():
    results = compute(Setup(hidden_size=2, steps=10), backend="reference")
    heatmaps = plots.describe("heatmaps", results, ViewState(10, 10, show_gates=True))
    maps = {p.key: (p.items[0].colourmap, p.items[0].levels) for p in heatmaps.panels}
    assert maps["gate_i"] == maps["gate_f"] == maps["gate_o"] == ("gates", (0.0, 1.0))
    assert maps["rnn_S"] == ("states", (-1.0, 1.0)) and maps["gate_g"] == ("states", (-1.0, 1.0))
    assert maps["lstm_C"][0] == "states" and maps["lstm_C"][1][0] == -maps["lstm_C"][1][1]


def test_one_cell_state_colour_scale(make_window):
    """The C_t colour levels: one definition for the heatmap, the unrolled cells and the export."""
    results = compute(Setup(hidden_size=2, steps=30).with_knob("b_f", 6.0).replace(input={"kind": "constant"}),
                      backend="reference")
    level = style.state_levels("lstm_C", results.lstm_C)
    heat = plots.describe("heatmaps", results).panel("lstm_C").items[0]
    unrolled = plots.describe("unrolled", results).panels[0].items[0]
    assert heat.levels == level and unrolled.C_level == level[1] and level[1] > 1


def test_chrono_offsets_are_shown_at_the_bias_knobs_and_can_be_cleared(qtbot, make_window):
    chrono = builtin_presets()["chrono-init"]
    window = make_window(chrono.setup, from_preset(chrono))
    knobs = window.knobs
    assert knobs.offsets_label.isVisibleTo(window) and "b_f" in knobs.offsets_label.text()
    wait_for(qtbot, window, lambda: knobs.clear_offsets_button.click())
    assert window.results.setup.bias_offsets.b_f is None and not knobs.offsets_label.isVisibleTo(window)


def test_the_dark_slide_style_draws_light_on_dark(tmp_path):
    from PIL import Image as PILImage

    results = compute(Setup(hidden_size=2, steps=20), backend="reference")
    light = np.asarray(PILImage.open(io.BytesIO(figures.figure_bytes(results, "long-range", "png", size=(800, 450)))))
    dark = np.asarray(PILImage.open(io.BytesIO(figures.figure_bytes(results, "long-range", "png", size=(800, 450),
                                                                      theme="dark"))))
    assert light[2, 2, :3].mean() > 240 and dark[2, 2, :3].mean() < 40  # the background
    path = figures.export(results, "terms", tmp_path / "t.svg", theme="dark")
    assert path.read_text().count(style.PALETTE["dark"]["foreground"][1:].lower()) + \
        path.read_text().lower().count(style.PALETTE["dark"]["foreground"].lower()) > 0
