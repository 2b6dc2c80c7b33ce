"""The Paths view (issue 13): the description (plots/paths.py), its exports, and the window's
Paths tab (hover highlights, controls, the worker for slow numbers).

The path engine's numbers are tested in tests/test_paths.py; here: that the view shows them, that
the CSV adds up to the project's BPTT contribution, that every built-in preset renders and its
files open again, and that hovering a listed path highlights it in the tree and along the
unrolled networks."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image as PILImage

import plots
from plots import paths as path_view
from plots import style
from plots.spec import Segments, Text
from plots.view import ViewState, from_preset, paths_k_choices
from simulator import InitialState, Knobs, Setup, compute
from simulator.paths import CSV_COLUMNS, PATH_WEIGHTS, paths_to
from simulator.presets import builtin_presets
from ui.export import files as figures

WAIT_MS = 120_000
REQUIRED_COLUMNS = ("weight", "k", "path", "value", "projection", "frobenius")
GATE = {"W_hi": 0, "W_hf": 1, "W_hg": 2, "W_ho": 3}


def scalar_results(T: int = 3, h0: float = 0.3):
    setup = Setup(hidden_size=1, steps=T, seed=4, initial=InitialState(h0=h0, C0=0.7),
                  knobs=Knobs(W_hi=1.2, W_hf=0.9, W_hg=1.5, W_ho=1.3, b_f=0.5))
    return compute(setup, backend="reference")


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def bptt_contribution(results, weight: str, k: int) -> float:
    """∂L_T/∂W^(k) for H = 1 from the project's BPTT arrays (delta_k h_{k-1}, its scale)."""
    if weight == "U":
        return float(results.rnn_delta[k, 0] * 10.0 ** results.rnn_delta_log10_scale[k] * results.rnn_S[k - 1, 0])
    gate = GATE[weight]
    return float(results.lstm_delta[k, gate, 0] * 10.0 ** results.lstm_delta_log10_scale[k, gate]
                 * results.lstm_h[k - 1, 0])


# --- the description ------------------------------------------------------------------------------
def test_the_csv_values_of_one_k_add_up_to_the_bptt_contribution():
    results = scalar_results(T=4)
    for weight in PATH_WEIGHTS:
        for k in paths_k_choices(4):
            view = ViewState.full(4, paths_weight=weight, paths_k=k)
            rows = csv_rows(figures.csv_text(results, "paths", view))
            assert set(REQUIRED_COLUMNS) <= set(rows[0]) and list(rows[0]) == list(CSV_COLUMNS)
            assert {row["weight"] for row in rows} == {weight} and {row["k"] for row in rows} == {str(k)}
            total = bptt_contribution(results, weight, k)
            values = [float(row["value"]) for row in rows]
            assert sum(values) == pytest.approx(total, rel=1e-10, abs=1e-300), (weight, k)
            # the projections add up to |total| (H = 1: ||total||_F); none when the total is exactly 0
            if total == 0.0:
                assert {row["projection"] for row in rows} == {""}
            else:
                assert sum(float(row["projection"]) for row in rows) == pytest.approx(abs(total), rel=1e-10)
            assert [row["row"] for row in rows].count("path") == len(
                path_view.path_data(results, weight, k).paths.paths)


def test_the_csv_of_a_big_tree_lists_the_largest_and_sums_the_rest_by_group():
    results = scalar_results(T=6)
    view = ViewState.full(6, paths_k=1)
    rows = csv_rows(figures.csv_text(results, "paths", view))
    paths = paths_to(results, "W_hf", 1, limit=None)
    assert paths.count == 2640
    listed = [row for row in rows if row["row"] == "path"]
    rests = [row for row in rows if row["row"] == "remainder"]
    assert 1 <= len(listed) <= path_view.LIST_LIMIT and rests
    assert len(listed) + sum(int(row["count"]) for row in rests) == 2640  # every path, listed or summed
    by_size = sorted(paths.paths, key=lambda path: -path.log10_abs)
    np.testing.assert_allclose([float(row["value"]) for row in listed], [p.value for p in by_size[:len(listed)]],
                               rtol=1e-12)  # the largest ones, exactly
    assert sum(float(row["value"]) for row in rows) == pytest.approx(bptt_contribution(results, "W_hf", 1),
                                                                     rel=1e-10)


def test_the_tree_the_list_the_ledger_and_the_rnn():
    results = scalar_results(T=3)
    plot = plots.describe("paths", results, ViewState.full(3))  # W_hf, k = T - 1 = 2
    assert [panel.key for panel in plot.panels] == ["tree", "list", "ledger", "rnn"]
    tree = plot.panel("tree")
    assert tree.title.startswith("∂L₃/∂W_{hf}⁽²⁾: 5 paths")
    nodes = {item.text for item in tree.items if isinstance(item, Text) and item.key.startswith("node-")}
    assert nodes == {"L₃", "y₃", "h₃", "C₃", "o₃", "f₃", "i₃", "g₃", "h₂", "C₂", "f₂", "W_{hf}⁽²⁾"}
    edges = tree.find("edges")
    paths = paths_to(results, "W_hf", 2)
    assert len(edges.x0) == len(paths.edges) == 15
    # every edge is labelled with its local derivative (H = 1: the number)
    labels = [item for item in tree.items if isinstance(item, Text) and item.key.startswith("label-")]
    assert len(labels) == 15
    carousel = next(j for j, edge in enumerate(paths.edges) if edge.upper.symbol == "C_3" and edge.lower.symbol == "C_2")
    assert tree.find(f"label-{carousel}").text == path_view.number(1.0, paths.edges[carousel].log10_abs, 2)
    # widths: |value| on a log scale, the largest path's edges the thickest (style.path_width)
    largest = paths.paths[0]
    assert edges.widths[list(largest.edge_indices)].min() == pytest.approx(style.PATH_WIDTH_MAX)
    # the list: each path's product in the notes' notation, then the numbers substituted
    text = [item.text for item in plot.panel("list").items if isinstance(item, Text)]
    assert text[0].startswith("1.  ") and "∂L₃/∂y₃ · ∂y₃/∂h₃ · ∂h₃/∂C₃ · ∂C₃/∂C₂ · ∂C₂/∂f₂ · ∂f₂/∂W_{hf}⁽²⁾" in text[0]
    assert text[1].strip().startswith("= (") and text[1].count("·") == 5
    assert f"({path_view.percent(largest.share)})" in text[0]
    # the ledger: each k's sum = the BPTT bar, with the check mark, and the sum over k
    ledger = [item.text for item in plot.panel("ledger").items if isinstance(item, Text)]
    assert sum("✓" in line for line in ledger) == 4 and any(line.startswith("Σ_{k} over k = 1 … 3") for line in ledger)
    assert any("▸ sum of 5 paths" in line for line in ledger)
    # the RNN: one path, the product (1 − S_t²)·U written out
    rnn = " ".join(item.text for item in plot.panel("rnn").items if isinstance(item, Text))
    assert "one path to U⁽²⁾" in rnn and "[(1 − S₃²)·U]" in rnn and "(1 − S_{t}²)·U" in rnn


def test_the_highlighted_path_is_drawn_in_the_tree_the_list_and_the_unrolled_view():
    results = scalar_results(T=3)
    view = ViewState.full(3, paths_highlight=2)
    plot = plots.describe("paths", results, view)
    second = paths_to(results, "W_hf", 2).paths[1]
    edges, highlight = plot.panel("tree").find("edges"), plot.panel("tree").find("highlight")
    ids = sorted(second.edge_indices)
    np.testing.assert_array_equal(highlight.x0, edges.x0[ids])
    np.testing.assert_array_equal(highlight.y1, edges.y1[ids])
    assert (highlight.colours == style.rgba("path.highlight")).all()
    borders = {item.key: item.border for item in plot.panel("tree").items
               if isinstance(item, Text) and item.key.startswith("node-")}
    on_path = {f"node-{node.kind}{node.step}" for node in second.nodes}
    assert {key for key, border in borders.items() if border == "path.highlight"} == on_path
    rows = plot.panel("list")
    colours = {item.colour for item in rows.items if isinstance(item, Text) and item.text.startswith("2.")}
    assert colours == {"path.highlight"}
    # hover rows: one span per listed path, in order, covering its lines
    assert [rank for _low, _high, rank in rows.hover_rows] == [1, 2, 3, 4, 5]
    low, high, _ = rows.hover_rows[1]
    inside = [item for item in rows.items if isinstance(item, Text) and low < item.y < high]
    assert inside[0].text.startswith("2.") and len(inside) == 2
    # along the unrolled networks: h_3, C_3, then (through g_3) h_2, C_2, and W^(2) in cell 2
    from plots.unrolled import LSTM_C_ROW, LSTM_H_ROW

    element = plots.describe("unrolled", results, view).panels[0].items[0]
    h, C = sum(LSTM_H_ROW) / 2, sum(LSTM_C_ROW) / 2
    assert second.node_symbols == ("L_3", "y_3", "h_3", "C_3", "g_3", "h_2", "C_2", "f_2", "W_hf^(2)")
    np.testing.assert_array_equal(element.highlight_x, [3, 3, 2, 2, 2])
    np.testing.assert_array_equal(element.highlight_y, [h, C, h, C, LSTM_C_ROW[1]])
    assert plots.describe("unrolled", results, ViewState.full(3)).panels[0].items[0].highlight_x is None


def test_a_total_of_exactly_zero_is_said_not_divided():
    results = scalar_results(T=3, h0=0.0)  # h_0 = 0: every path to W^(1) ends in σ'·h_0 = 0
    plot = plots.describe("paths", results, ViewState.full(3, paths_k=1))
    text = [item.text for item in plot.panel("list").items if isinstance(item, Text)]
    assert any("is exactly 0: no shares" in line for line in text)
    assert not any("%" in line for line in text)
    rows = csv_rows(plots.csv_text(plot))
    assert {row["projection"] for row in rows} == {""} and {row["share"] for row in rows} == {""}


def test_the_rnn_alone_and_the_order_by_group():
    results = scalar_results(T=5)
    rnn = plots.describe("paths", results, ViewState.full(5, paths_weight="U", paths_k=2))
    assert [panel.key for panel in rnn.panels] == ["tree", "list", "ledger"]
    assert rnn.panel("tree").find("rnn-edges").x0.size == 6  # L → O → S_5 → … → S_2 → U^(2)
    grouped = plots.describe("paths", results, ViewState.full(5, paths_k=2, paths_order="group"))
    text = [item.text for item in grouped.panel("list").items if isinstance(item, Text)]
    headings = [line for line in text if line.split(":")[0] in ("stays in the cell", "through h once",
                                                                 "through h 2 times or more")]
    assert [line.split(":")[0] for line in headings] == ["stays in the cell", "through h once",
                                                          "through h 2 times or more"]
    assert "115 paths" in grouped.panel("list").title


def test_k_is_chosen_among_the_last_steps():
    assert paths_k_choices(3) == (1, 2, 3) and paths_k_choices(8) == tuple(range(1, 9))
    assert paths_k_choices(100) == (95, 96, 97, 98, 99, 100)
    view = ViewState.full(100)
    assert view.paths_k_for(100) == 99 and view.replace(paths_k=90).paths_k_for(100) == 99
    assert view.replace(paths_k=95).paths_k_for(100) == 95 and ViewState.full(1).paths_k_for(1) == 1
    assert from_preset(builtin_presets()["paths-notes-tree"]).paths_k_for(3) == 2


def test_slow_numbers_are_left_to_the_worker(monkeypatch):
    results = scalar_results(T=4)
    monkeypatch.setattr(path_view, "QUICK_MAX_HIDDEN", 0)  # as if H were large
    view = ViewState.full(4, paths_k=3)
    assert path_view.is_quick(results, 3) is False
    partial = plots.describe("paths", results, view, blocking=False)
    assert partial.partial and "computing the paths" in partial.panels[0].items[0].text
    assert path_view.path_data(results, "W_hf", 3, "magnitude", blocking=True) is not None  # (the worker)
    assert not plots.describe("paths", results, view, blocking=False).partial


@pytest.mark.parametrize("key", list(builtin_presets()))
def test_every_builtin_preset_renders_and_its_export_opens_again(key, tmp_path):
    preset = builtin_presets()[key]
    results = compute(preset.setup, backend="reference")
    view = from_preset(preset).replace(paths_highlight=1)
    png = figures.export(results, "paths", tmp_path / "p.png", view=view, size=(640, 360))
    image = PILImage.open(png)
    assert image.size == (640, 360) and np.asarray(image.convert("L")).std() > 10
    rows = csv_rows((figures.export(results, "paths", tmp_path / "p.csv", view=view)).read_text(encoding="utf-8"))
    assert rows and set(REQUIRED_COLUMNS) <= set(rows[0])
    assert {row["k"] for row in rows} == {str(view.paths_k_for(results.steps))}
    if key == "paths-notes-tree":  # the vector formats too (a few seconds each)
        svg = figures.export(results, "paths", tmp_path / "p.svg", view=view, size=(1280, 720))
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg") and len(list(root.iter())) > 100
        data = figures.export(results, "paths", tmp_path / "p.pdf", view=view, size=(1280, 720)).read_bytes()
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF") and data.count(b"/Type /Page\n") \
            + data.count(b"/Type /Page ") + data.count(b"/Type /Page>") >= 1


def test_headless_export_of_the_paths_view(tmp_path):
    from types import SimpleNamespace

    from ui.cli.headless import export_all

    out = [tmp_path / "tree.png", tmp_path / "tree.csv"]
    written = export_all(SimpleNamespace(plot="paths", export=[str(p) for p in out], preset="paths-notes-tree",
                                         size="960x540", step=None, reveal=None, style=None))
    assert sorted(written) == sorted(out)
    assert PILImage.open(out[0]).size == (960, 540)
    rows = csv_rows(out[1].read_text(encoding="utf-8"))
    assert [row["k"] for row in rows] == ["2"] * 5 and rows[0]["group_label"] == "stays in the cell"


# --- the window's Paths tab ---------------------------------------------------------------------
@pytest.fixture
def window(qtbot):
    pytest.importorskip("pytestqt")
    from ui.main_window import MainWindow

    window = MainWindow(builtin_presets()["paths-notes-tree"].setup, backend="reference")
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
        window.show()
    window.resize(1600, 1000)
    window.tabs.setCurrentWidget(window.paths_view)
    qtbot.waitUntil(lambda: window.paths_view.plot_view.plot is not None, timeout=WAIT_MS)
    return window


def _hover(qtbot, window, panel: str, y: float) -> None:
    """Move the mouse over the Paths view to (x = 0.3, y) in `panel`'s data coordinates (a mouse
    move event sent to the view's viewport, as the platform sends it)."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    view = window.paths_view.plot_view
    viewport = view.graphics.viewport()
    local = QPointF(view.graphics.mapFromScene(view.panels[panel].plot.vb.mapViewToScene(QPointF(0.3, y))))
    event = QMouseEvent(QEvent.Type.MouseMove, local, QPointF(viewport.mapToGlobal(local.toPoint())),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, event)


def test_hovering_a_listed_path_highlights_it_in_the_tree_and_the_unrolled_views(qtbot, window):
    plot_view = window.paths_view.plot_view
    low, high, rank = plot_view.plot.panel("list").hover_rows[1]
    assert rank == 2 and window.view_state().paths_highlight is None
    _hover(qtbot, window, "list", (low + high) / 2)
    qtbot.waitUntil(lambda: window.view_state().paths_highlight == 2, timeout=WAIT_MS)
    # the tree: the description's highlight, drawn
    described = window.describe("paths")
    drawn = plot_view.drawn_item("highlight", "tree")
    assert isinstance(drawn.segments, Segments)
    np.testing.assert_array_equal(drawn.segments.x0, described.panel("tree").find("highlight").x0)
    second = paths_to(window.results, "W_hf", 2).paths[1]
    assert len(drawn.segments.x0) == len(second.edges)
    # along the unrolled networks: the one under the tree, and the dashboard's when its tab shows
    element = window.describe("unrolled").panels[0].items[0]
    assert window.unrolled_view.highlight() is None  # (hidden: redrawn when its tab shows again)
    for unrolled in (window.paths_view.unrolled, window.unrolled_view):
        window.tabs.setCurrentWidget(window.dashboard if unrolled is window.unrolled_view else window.paths_view)
        x, y = unrolled.highlight()
        np.testing.assert_array_equal(x, element.highlight_x)
        np.testing.assert_array_equal(y, element.highlight_y)
    window.tabs.setCurrentWidget(window.paths_view)
    # leaving the list keeps it; another row moves it
    _hover(qtbot, window, "ledger", 0.5)
    qtbot.waitUntil(lambda: plot_view.hovered_row == -1, timeout=WAIT_MS)  # off the list ...
    assert window.view_state().paths_highlight == 2  # ... the highlight stays
    low, high, _ = plot_view.plot.panel("list").hover_rows[0]
    _hover(qtbot, window, "list", (low + high) / 2)
    qtbot.waitUntil(lambda: window.view_state().paths_highlight == 1, timeout=WAIT_MS)
    assert window.paths_view.unrolled.highlight()[0].tolist() == [3, 3, 2, 2]  # h_3, C_3, C_2, W^(2)


def test_the_controls_change_the_view_and_an_export_draws_what_the_tab_shows(qtbot, window, tmp_path):
    paths_view = window.paths_view
    window.view_model.highlight_path(1)
    assert paths_view.k_combo.count() == 3 and paths_view.k_combo.currentData() == 2
    paths_view.k_combo.setCurrentIndex(paths_view.k_combo.findData(1))
    assert window.view_state().paths_k == 1 and window.view_state().paths_highlight is None  # a new list
    assert paths_view.plot_view.plot.panel("tree").title.startswith("∂L₃/∂W_{hf}⁽¹⁾: 24 paths")
    paths_view.weight_combo.setCurrentIndex(paths_view.weight_combo.findData("W_hg"))
    paths_view.order_combo.setCurrentIndex(paths_view.order_combo.findData("group"))
    view = window.view_state()
    assert (view.paths_weight, view.paths_k, view.paths_order) == ("W_hg", 1, "group")
    assert "∂W_{hg}⁽¹⁾" in paths_view.plot_view.plot.panel("tree").title
    # right-click on the tab offers its export, which writes the tab's view
    from ui.controllers.export import ExportController, ExportOptions

    controller = ExportController(window)
    actions = [action.text() for action in paths_view.plot_view.graphics.actions()]
    assert any("Paths to W^(k)" in text for text in actions)
    assert controller.start_export(ExportOptions(plot="paths", fmt="csv"), tmp_path / "p.csv", wait=True)
    rows = csv_rows((tmp_path / "p.csv").read_text(encoding="utf-8"))
    assert {(row["weight"], row["k"]) for row in rows} == {("W_hg", "1")}
    assert plots.csv_text(window.describe("paths")) == (tmp_path / "p.csv").read_text(encoding="utf-8")
    # a new T keeps the choice where it can (k = 1 is offered while T <= 8) ...
    with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
        window.knobs.steps_spin.setValue(5)
    assert window.view_state().paths_k_for(5) == 1 and paths_view.k_combo.count() == 5


def test_numbers_too_slow_for_the_ui_thread_come_from_the_worker(qtbot, monkeypatch):
    pytest.importorskip("pytestqt")
    from ui.main_window import MainWindow

    monkeypatch.setattr(path_view, "QUICK_MAX_HIDDEN", 0)  # every setup is "slow"
    window = MainWindow(Setup(hidden_size=2, steps=6, seed=1), backend="reference")
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.results_changed, timeout=WAIT_MS):
        window.show()
    shown = []
    original = window.paths_view.show_plot
    window.paths_view.show_plot = lambda plot: shown.append(plot.partial) or original(plot)
    with qtbot.waitSignal(window.worker.paths_ready, timeout=WAIT_MS):
        window.tabs.setCurrentWidget(window.paths_view)
    qtbot.waitUntil(lambda: shown and not shown[-1], timeout=WAIT_MS)
    assert shown[0] is True  # "computing the paths…" first, then the numbers from the worker
    assert window.paths_view.plot_view.plot.panel("tree").title.startswith("∂L₆/∂W_{hf}⁽⁵⁾: 5 paths")
    # a knob turned: the picture stays until the new numbers are in (no "computing" flash)
    before = window.paths_view.plot_view.plot
    shown.clear()
    with qtbot.waitSignal(window.worker.paths_ready, timeout=WAIT_MS):
        window.knobs.sliders["W_hf"].slider.setValue(150)
    qtbot.waitUntil(lambda: window.paths_view.plot_view.plot is not before, timeout=WAIT_MS)
    assert shown == [False] and window.results.setup.knobs.W_hf == pytest.approx(1.5)
