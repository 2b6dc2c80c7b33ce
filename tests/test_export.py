"""ui/export/files.py: every exported file is opened again and checked (size, content, format, values)."""

import csv
import io
import re
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from plots import DASHBOARD_ORDER, PLOT_NAMES
from plots.view import ViewState
from simulator import LOG10_OF_ZERO, TERM_NAMES, Setup, compute
from ui.export import files as figures
from ui.render import matplotlib_renderer


@pytest.fixture(scope="module")
def results():
    setup = Setup(hidden_size=3, steps=14, seed=2).with_knob("U", 0.9).with_knob("b_f", 3.0)
    return compute(setup, backend="reference")


@pytest.fixture(scope="module")
def scalar_results():
    setup = Setup(hidden_size=1, steps=10).with_knob("U", 0.9).with_knob("b_f", 3.0)
    return compute(setup, backend="reference")


def _png(path):
    image = Image.open(path)
    image.load()
    return image


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _column(header, rows, name):
    return np.array([float(row[header.index(name)]) for row in rows])


def _expected_log(values):
    """What the CSV must hold for a log10 array: the value, or -inf for LOG10_OF_ZERO."""
    values = np.asarray(values, dtype=float)
    return np.where(values <= LOG10_OF_ZERO / 2, -np.inf, values)


# --- PNG -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("plot", PLOT_NAMES)
def test_png_of_every_plot_has_the_size_and_is_not_blank(results, plot, tmp_path, monkeypatch):
    size = (960, 540) if plot != "dashboard" else (1920, 1080)
    rendered = []
    render = figures.render_figure
    monkeypatch.setattr(figures, "render_figure", lambda *a, **k: rendered.append(render(*a, **k)) or rendered[-1])
    path = figures.export(results, plot, tmp_path / f"{plot}.png", size=size)
    # slide type: every visible text at least 20 pt at 96 dpi when the image fills a 1080p screen
    ((fig, _drawn),) = rendered
    from matplotlib.text import Text

    px_per_pt_at_1080p = 1080 / fig.get_size_inches()[1] / 72
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    assert len(texts) > 5
    smallest = min(t.get_fontsize() * px_per_pt_at_1080p for t in texts)
    assert smallest >= 20 * 96 / 72 - 1e-9, smallest
    image = _png(path)
    assert image.size == size
    rgba = np.asarray(image.convert("RGBA"), dtype=float)
    assert rgba[..., :3].std() > 10.0  # not blank
    assert (rgba[..., 3] == 255).all()  # opaque unless asked
    assert list(tmp_path.iterdir()) == [path]  # no temp file left beside it


def test_png_transparent_background_where_asked(scalar_results, tmp_path):
    path = figures.export(scalar_results, "long-range", tmp_path / "t.png", size=(800, 450), transparent=True)
    alpha = np.asarray(_png(path).convert("RGBA"))[..., 3]
    assert alpha.shape == (450, 800)
    assert alpha[0, 0] == 0 and alpha[-1, -1] == 0  # the corners are background
    assert (alpha == 0).mean() > 0.5  # mostly background...
    assert (alpha == 255).sum() > 1000  # ...but the lines and text are drawn


def test_png_at_4k_and_odd_sizes_is_exact(scalar_results):
    for size in ((3840, 2160), (1001, 777)):
        data = figures.figure_bytes(scalar_results, "factors", "png", size=size)
        assert Image.open(io.BytesIO(data)).size == size


def test_type_scales_with_the_pixel_size():
    (w1, h1), dpi1 = matplotlib_renderer.figure_geometry((1920, 1080))
    (w4, h4), dpi4 = matplotlib_renderer.figure_geometry((3840, 2160))
    assert (w1, h1) == pytest.approx((1920 / 144, 7.5)) and dpi1 == pytest.approx(144)
    assert (w4, h4) == pytest.approx((w1, h1)) and dpi4 == pytest.approx(2 * dpi1)
    style = matplotlib_renderer.rc_params()
    assert style["font.size"] >= 20 and style["xtick.labelsize"] >= 20 and style["legend.fontsize"] >= 20


# --- SVG and PDF -------------------------------------------------------------------------------------
def test_svg_parses_and_qt_finds_it_valid(results, tmp_path, qapp):
    from PySide6.QtSvg import QSvgRenderer

    path = figures.export(results, "heatmaps", tmp_path / "h.svg", size=(1600, 900))
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    images = [el for el in root.iter() if el.tag.endswith("image")]
    assert len(images) >= 3  # the three heatmaps (and colour bars) are embedded raster images
    from PySide6.QtCore import qInstallMessageHandler

    warnings = []
    previous = qInstallMessageHandler(lambda mode, context, message: warnings.append(message))
    try:
        assert QSvgRenderer(str(path)).isValid()
    finally:
        qInstallMessageHandler(previous)
    assert warnings == []  # e.g. no "link #DejaVuSans-3 is undefined" (matplotlib's empty space glyph)
    width, height = (float(re.sub("[a-z]+$", "", root.get(k))) for k in ("width", "height"))
    assert width / height == pytest.approx(16 / 9, rel=1e-3)


def _pdf_pages_and_boxes(data: bytes):
    pages = re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data)
    boxes = [tuple(float(v) for v in m) for m in re.findall(
        rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", data)]
    return len(pages), boxes


@pytest.mark.parametrize("size", [(1280, 720), (1000, 1000)])
def test_pdf_is_one_page_with_the_aspect_ratio(results, tmp_path, size):
    path = figures.export(results, "heatmaps" if size[0] == 1280 else "long-range", tmp_path / "f.pdf", size=size)
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    pages, boxes = _pdf_pages_and_boxes(data)
    assert pages == 1
    assert len(boxes) == 1
    x0, y0, x1, y1 = boxes[0]
    assert (x1 - x0) / (y1 - y0) == pytest.approx(size[0] / size[1], rel=1e-3)
    if size[0] == 1280:
        assert b"/Subtype /Image" in data  # the heatmaps are images inside the PDF


# --- CSV: exactly the simulator's numbers ------------------------------------------------------------
def write_csv(results, plot, path, step=None, revealed=None):
    return figures.export(results, plot, path, view=figures.make_view(results, step, revealed))


def test_csv_long_range_equals_the_simulator(results, tmp_path):
    path = write_csv(results, "long-range", tmp_path / "l.csv")
    header, rows = _read_csv(path)
    assert header[:2] == ["k", "lag"]
    T = results.steps
    assert len(rows) == T + 1
    np.testing.assert_array_equal(_column(header, rows, "k"), np.arange(T, -1, -1))  # by lag, as drawn
    np.testing.assert_array_equal(_column(header, rows, "lag"), np.arange(T + 1))
    for name, array in (("rnn_log10_dS_T_dS_k", results.rnn_longrange_log10),
                        ("lstm_exact_log10_dC_T_dC_k", results.lstm_longrange_log10),
                        ("lstm_naive_L4_product_log10", results.lstm_naive_longrange_log10)):
        np.testing.assert_array_equal(_column(header, rows, name), _expected_log(array)[::-1])
    np.testing.assert_allclose(_column(header, rows, "theory_log10_sigma_max_U_pow_lag"),
                               np.arange(T + 1) * np.log10(results.sigma_max_U), rtol=1e-12, atol=1e-12)


def test_csv_factors_terms_bptt_heatmaps_equal_the_simulator(results, tmp_path):
    t = 9
    T = results.steps
    header, rows = _read_csv(write_csv(results, "factors", tmp_path / "f.csv", revealed=t))
    assert len(rows) == T  # every step drawn (faded beyond the revealed ones), flagged
    np.testing.assert_array_equal(_column(header, rows, "revealed"), (np.arange(1, T + 1) <= t).astype(float))
    np.testing.assert_array_equal(_column(header, rows, "rnn_dS_t_dS_t-1_norm"), results.rnn_factor_norm[1:])
    np.testing.assert_array_equal(_column(header, rows, "lstm_dC_t_dC_t-1_norm"), results.lstm_factor_norm[1:])

    header, rows = _read_csv(write_csv(results, "terms", tmp_path / "t.csv", step=t))
    assert [row[header.index("term")] for row in rows] == list(TERM_NAMES)
    np.testing.assert_array_equal(_column(header, rows, "diag_mean"), results.lstm_term_diag_mean[t])
    np.testing.assert_array_equal(_column(header, rows, "norm"), results.lstm_term_norms(t))

    header, rows = _read_csv(write_csv(results, "bptt", tmp_path / "b.csv", revealed=t))
    np.testing.assert_array_equal(_column(header, rows, "rnn_log10_dL_T_dU_k"), _expected_log(results.bptt_log10("U")[1:]))
    np.testing.assert_array_equal(_column(header, rows, "lstm_log10_dL_T_dW_hf_k"),
                                  _expected_log(results.bptt_log10("W_hf")[1:]))

    header, rows = _read_csv(write_csv(results, "heatmaps", tmp_path / "h.csv", revealed=t))
    H = results.setup.hidden_size
    assert header[:2] == ["t", "revealed"] and len(header) == 2 + 3 * H and len(rows) == T + 1
    got = np.array([[float(v) for v in row] for row in rows])
    np.testing.assert_array_equal(got[:, 1], (np.arange(T + 1) <= t).astype(float))
    np.testing.assert_array_equal(got[:, 2: 2 + H], results.rnn_S)
    np.testing.assert_array_equal(got[:, 2 + 2 * H:], results.lstm_C)


def test_csv_scalar_terms_are_the_signed_values(scalar_results, tmp_path):
    header, rows = _read_csv(write_csv(scalar_results, "terms", tmp_path / "t.csv", step=5))
    values = _column(header, rows, "value")
    expected = scalar_results.lstm_term_values(5)
    np.testing.assert_array_equal(values, [expected[name] for name in TERM_NAMES])
    assert values[:4].sum() == pytest.approx(values[4], abs=1e-15)  # the four terms sum to (L4)


def test_csv_writes_exact_zeros_as_minus_inf_and_the_dashboard_as_a_long_table(tmp_path):
    zero_u = compute(Setup(hidden_size=1, steps=6).with_knob("U", 0.0), backend="reference")
    header, rows = _read_csv(write_csv(zero_u, "long-range", tmp_path / "z.csv"))
    rnn = _column(header, rows, "rnn_log10_dS_T_dS_k")
    assert rnn[0] == 0.0 and np.isneginf(rnn[1:]).all()  # U = 0: exactly zero except lag 0
    header, rows = _read_csv(write_csv(zero_u, "dashboard", tmp_path / "d.csv"))
    assert header == ["plot", "column", "row", "value"]
    assert {row[0] for row in rows} == {name for row in DASHBOARD_ORDER for name in row}  # (not "paths" nor "training": tabs)


# --- GIF ---------------------------------------------------------------------------------------------
def test_gif_has_the_requested_frames_size_and_rate(scalar_results, tmp_path):
    path = figures.export(scalar_results, "unrolled", tmp_path / "u.gif", fps=5, frames=4, size=(480, 270))
    image = Image.open(path)
    assert image.format == "GIF"
    assert image.n_frames == 4
    assert image.size == (480, 270)
    assert image.info["duration"] == 200
    assert image.info.get("loop") == 0
    with pytest.raises(figures.ExportError, match="frames"):
        figures.export(scalar_results, "unrolled", tmp_path / "bad.gif", frames=scalar_results.steps + 2)
    with pytest.raises(figures.ExportError, match="frame rate"):
        figures.export(scalar_results, "unrolled", tmp_path / "bad.gif", fps=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u.gif"]


# --- no inf/NaN reaches a plot, even in extreme setups -----------------------------------------------
def _all_plotted_y(fig):
    for ax in fig.axes:
        for line in ax.get_lines():
            yield np.asarray(line.get_ydata(), dtype=float)
        for patch in ax.patches:
            yield np.asarray(patch.get_path().vertices, dtype=float).ravel()


def test_extreme_setups_plot_only_finite_numbers():
    for setup, plot in ((Setup(hidden_size=1, steps=500).with_knob("U", 5.0), "long-range"),  # far beyond float64
                        (Setup(hidden_size=2, steps=30).with_knob("U", 0.0).with_knob("W_hf", 0.0), "bptt")):  # zeros
        results = compute(setup, backend="reference")
        if plot == "long-range":
            assert np.abs(results.rnn_longrange_log10).max() > 308  # beyond float64 (saturated: 10^-1500)
        else:
            assert (results.bptt_log10("U")[1:-1] == LOG10_OF_ZERO).all()  # U = 0: zero before k = T
        fig, _drawn = figures.render_figure(figures.describe(results, plot), (800, 450))
        for values in _all_plotted_y(fig):
            assert np.isfinite(values).all(), plot
        fig.canvas.draw()  # and it renders


# --- atomic writes and validation ---------------------------------------------------------------------
def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(results, tmp_path, monkeypatch):
    target = tmp_path / "keep.svg"
    target.write_text("old")

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(figures, "figure_bytes", explode)
    with pytest.raises(RuntimeError):
        figures.export(results, "factors", target)
    monkeypatch.undo()

    def half_then_fail(handle):
        handle.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(figures.ExportError, match="keep.svg.*disk full"):  # an OSError, named for the user
        figures.write_bytes(target, half_then_fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.svg"]


def test_bad_requests_are_refused_with_a_clear_message(results, tmp_path):
    with pytest.raises(figures.ExportError, match="at most 3840x2160"):
        figures.parse_size("4000x2000")
    with pytest.raises(figures.ExportError, match="WIDTHxHEIGHT"):
        figures.parse_size("big")
    assert figures.parse_size("1280x720") == (1280, 720)
    with pytest.raises(figures.ExportError, match="unknown plot"):
        figures.export(results, "pie", tmp_path / "x.png")
    with pytest.raises(figures.ExportError, match="unknown file type"):
        figures.export(results, "factors", tmp_path / "x.jpg")
    with pytest.raises(figures.ExportError, match="out of range"):
        figures.export(results, "factors", tmp_path / "x.png", view=figures.make_view(results, results.steps + 1))
    assert list(tmp_path.iterdir()) == []


def test_figures_import_no_qt():
    import subprocess

    code = ("import sys, plots, ui.export.files, ui.cli.headless, ui.render.matplotlib_renderer;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph')];"
            "print(bad); sys.exit(1 if bad else 0)")
    from pathlib import Path

    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
