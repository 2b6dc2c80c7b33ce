"""The Paths view (issue 13): ∂L_T/∂W^(k) as the sum over the paths of the unrolled graph.

MATH.md ("Paths", "Back-propagation through time") writes ∂L_T/∂W = Σ_k ∂L_T/∂W^(k) and each
∂L_T/∂W^(k) as a sum over the paths from L_T down to the copy W^(k), each path the product of its
edges' local derivatives. The numbers come from the path engine (simulator/paths.py); this module
only lays them out, in four stacked panels sharing x = 0..1:

    tree    the graph the notes draw, from L_T (right) back to W^(k) (left), one column per step
            (h_t on top, the gates o f i g below it, C_t at the bottom: the carousel
            C_T → C_{T−1} → … is a straight line), and under it the RNN's single chain
            L_T → O_T → S_T → … → S_k → U^(k). Edges are as thick as the largest listed path
            through them (style.path_width: |value| on a log scale), coloured by kind (carousel,
            into h, other) and labelled with their local derivative (the number for H = 1, the
            formula for H > 1) when the tree is small enough to read; the highlighted path
            (ViewState.paths_highlight) is drawn on top in the highlight colour.
    list    the listed paths, largest first or by group, each with its value (H = 1; the Frobenius
            norm for H > 1), its signed share of the total and its product in the notes' notation
            (with the numbers substituted for H = 1); the rest of each group summed exactly, with
            how many paths it holds. Hovering a row highlights the path (Panel.hover_rows).
    ledger  for each k the sum of its paths = ∂L_T/∂W^(k), the BPTT bar, with the check mark, and
            Σ_k = ∂L_T/∂W.
    rnn     the vanilla RNN's one path to U^(k), its product (1 − S_t²)·U written out.

The table (the CSV) is simulator.paths.csv_rows of the listing: one row per listed path and one
per group remainder (CSV_COLUMNS: weight, k, T, ..., path, value, log10_abs, frobenius,
projection, share).

Cost: the path data are cached per network arrays (turning U keeps the LSTM's listing). They take
~10-30 ms for H <= 32, T <= 200 and lags up to 2, ~40-80 ms at lag 5 and ~0.5 s at H = 256
(bench/bench_ui.py): with `blocking=False` (the window) the description is `partial` ("computing
the paths…") unless they are cached or quick (`is_quick`); the window then asks its compute
worker for them (`path_data(..., blocking=True)` there), keeps the picture it shows meanwhile, and
draws again when they are in.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from simulator import LOG10_OF_ZERO, Results
from simulator.paths import (
    CSV_COLUMNS,
    Amount,
    Ledger,
    Path,
    PathsOfK,
    csv_rows,
    format_number,
    path_ledger,
    paths_to,
)

from . import style
from .cache import derived, peek
from .spec import Axis, Markers, Panel, Plot, Segments, Table, Text
from .text import knob_line
from .view import ViewState, paths_k_choices

TITLE = "Paths: ∂L_{T}/∂W^{(k)} as a sum over paths"
LIST_LIMIT = 8  # at most this many paths are listed (the largest); the rest of each group is summed
LIST_LINES = 10  # ... and no more than fit in this many lines (what a slide can hold)
GROUP_CAP = 2  # groups: stays in the cell, through h once, through h 2 times or more
LINE_CHARS = 140  # the written-out products wrap at this many characters
LABEL_ALL_EDGES_UP_TO = 4  # label every edge of a tree of at most this many steps; else the highlighted path's
QUICK_MAX_HIDDEN = 32  # path data for H <= 32, T <= 200 and k >= T - 2 take < ~30 ms (bench/bench_ui.py):
QUICK_MAX_STEPS = 200  # the UI thread computes them; else the window's worker
QUICK_MAX_LAG = 2
SLIDE_SCALE = 1.5  # a dense view: laid out on the dashboard's larger slide
UNLISTED_ALPHA = 0.35  # edges on no listed path
CONTINUATION = "      "  # indent of a wrapped line

# --- the tree's geometry (y up; x in step columns, mapped onto 0..1) ----------------------------------
Y_H, Y_GATE, Y_C, Y_RNN = 3.2, 2.15, 1.1, -0.15
TREE_Y = (-0.45, 3.6)
RNN_TREE_Y = (-0.45, 0.45)  # the tree of the RNN alone (weight U)
GATE_X = {"f": 0.12, "i": 0.32, "g": 0.52, "o": 0.72}  # within a step's column
STATE_X = 0.9  # h_t and C_t (S_t for the RNN) within the column
LEFT_COLUMNS = 0.9  # room for W^(k) left of column k
RIGHT_COLUMNS = 1.0  # room for y_T (O_T) and L_T right of column T
LABEL_GAP = 0.12  # label offset from an edge (y units)
GATE_LABEL_GAP = 0.3  # ... and from a gate's centre
LABEL_BACKGROUND = "label.background"  # labels sitting over edges get a box
TREE_LINES, RNN_TREE_LINES = 12.0, 4.0  # the tree's share of the height, in text lines

_STEP = re.compile(r"_([0-9]+)(?![A-Za-z])")
_SUB = re.compile(r"_(?!\{)([A-Za-z][A-Za-z0-9]*)")
_COPY = re.compile(r"\^\(([0-9]+)\)")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUPERSCRIPT = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")


def step(n: int) -> str:
    """A step as a subscript, in Unicode: 'h' + step(3) = 'h₃'. (Written as characters, not as
    markup: a slide line holds dozens of them, and each markup subscript costs the slide renderer a
    mathtext parse.)"""
    return str(n).translate(_SUBSCRIPT)


def copy_label(k: int) -> str:
    """The copy W^(k) of a weight as a superscript: 'W_{hf}' + copy_label(2) = 'W_{hf}⁽²⁾'."""
    return f"({k})".translate(_SUPERSCRIPT)


def markup(text: str) -> str:
    """The path engine's symbols as the view writes them: steps in Unicode subscripts, copies in
    superscripts, other subscripts in style's markup: 'W_hf^(2)' -> 'W_{hf}⁽²⁾', 'h_3' -> 'h₃'."""
    text = _COPY.sub(lambda m: copy_label(int(m.group(1))), text)
    text = _STEP.sub(lambda m: step(int(m.group(1))), text)
    return _SUB.sub(r"_{\1}", text)


def _engine_text(line: str) -> str:
    """A line the path engine writes ('sum of 5 paths = -0.0412 = ∂L_3/∂W_hf^(2) ✓') in markup,
    with real minus signs (its only hyphens are in numbers)."""
    return markup(line).replace("-", style.MINUS)


def number(sign: float, log10_abs: float, digits: int = 3, plus: bool = False) -> str:
    """A signed number from its sign and log10 (also beyond float64), with a real minus sign."""
    text = format_number(sign, log10_abs, digits).replace("-", style.MINUS)
    return "+" + text if plus and sign > 0 and log10_abs != LOG10_OF_ZERO else text


def percent(share: float | None) -> str:
    """'87 %', '0.34 %', '−12 %'; '' when there is no share (the total is exactly 0)."""
    if share is None:
        return ""
    value = 100.0 * share
    if value == 0.0:
        return "0 %"
    digits = 2 if abs(value) < 10 else 3
    return f"{style.number(value, digits)} %"


def size_text(amount: Amount, hidden_size: int) -> str:
    """A path's (or a sum's) value: signed for H = 1, ‖·‖_F for H > 1; 'exactly 0'."""
    if amount.is_zero:
        return "exactly 0"
    if hidden_size == 1:
        return number(amount.sign, amount.log10_abs, plus=True)
    return f"‖·‖_{{F}} = {number(1.0, amount.log10_abs)}"


# --- the numbers: cached per network arrays, computed here or by the window's worker ---------------------
@dataclass(frozen=True, eq=False)
class PathData:
    """What the view draws for one (weight, k): the listing, the ledger, the RNN's path to U^(k)."""

    paths: PathsOfK  # the listed paths (at most LIST_LIMIT, as many as fit in LIST_LINES)
    ledger: Ledger
    rnn: PathsOfK  # the RNN's single path to U^(k) (the same as `paths` when the weight is U)


def _network_sources(results: Results, weight: str) -> tuple:
    """The arrays a weight's paths are made of (new arrays when its network is recomputed)."""
    if weight == "U":
        return results.rnn_U, results.rnn_a, results.rnn_S, results.rnn_delta, results.rnn_delta_log10_scale
    return (results.lstm_W_h, results.lstm_pre, results.lstm_h, results.lstm_delta,
            results.lstm_delta_log10_scale)


def is_quick(results: Results, k: int) -> bool:
    """Whether the path data of one (weight, k) take under the UI's budget (~30 ms, measured by
    bench/bench_ui.py): small H, T (the ledger sweeps every step) and lag (the listing)."""
    return (results.setup.hidden_size <= QUICK_MAX_HIDDEN and results.steps <= QUICK_MAX_STEPS
            and results.steps - k <= QUICK_MAX_LAG)


def _listing(results: Results, weight: str, k: int, order: str) -> PathsOfK:
    """The LIST_LIMIT largest paths, or fewer if the list in this order would need more than
    LIST_LINES lines (by group: a heading per group; a line for each group's rest)."""
    found = paths_to(results, weight, k, limit=LIST_LIMIT, group_cap=GROUP_CAP)
    listed = list(found.paths)
    rows = [len(_path_rows(path, found.hidden_size)) for path in listed]
    fit = 1
    for n in range(len(listed), 0, -1):
        if _list_lines(found, listed[:n], sum(rows[:n]), order) <= LIST_LINES:
            fit = n
            break
    return found if fit == len(listed) else paths_to(results, weight, k, limit=fit, group_cap=GROUP_CAP)


def _list_lines(found: PathsOfK, listed: list[Path], path_lines: int, order: str) -> int:
    """Lines of the list in `order` if only `listed` (the first listed paths, `path_lines` lines
    between them) were listed."""
    lines = path_lines
    for group in found.groups:
        shown = sum(1 for path in listed if path.group == group.index)
        if order == "group":
            lines += 1 + (0 < shown < group.count)  # the heading, and the rest if some are listed
        else:
            lines += shown < group.count  # the rest
    return lines + found.total_is_zero


def path_data(results: Results, weight: str, k: int, order: str = "magnitude",
              blocking: bool = True) -> PathData | None:
    """The numbers of one (weight, k) listed in `order`, cached per network; None if they are not
    cached yet, not quick (`is_quick`) and `blocking` is False (the window's worker computes them)."""
    parts = {
        "paths": (f"paths.listing.{weight}.{k}.{order}", _network_sources(results, weight),
                  lambda: _listing(results, weight, k, order)),
        "ledger": (f"paths.ledger.{weight}", _network_sources(results, weight),
                   lambda: path_ledger(results, weight)),
        "rnn": (f"paths.listing.U.{k}.magnitude", _network_sources(results, "U"),
                lambda: _listing(results, "U", k, "magnitude")),
    }
    if not blocking and not is_quick(results, k):
        found = {name: peek(what, sources) for name, (what, sources, _) in parts.items()}
        if any(value is None for value in found.values()):
            return None
        return PathData(**found)
    return PathData(**{name: derived(what, sources, compute) for name, (what, sources, compute) in parts.items()})


def highlighted_path(data: PathData, view: ViewState) -> Path | None:
    """The listed path the view highlights (None: none, or a rank beyond the listing)."""
    rank = view.paths_highlight
    if rank is None or not 1 <= rank <= len(data.paths.paths):
        return None
    return data.paths.paths[rank - 1]


# --- text rows -------------------------------------------------------------------------------------
def wrap(first: str, pieces: list[str], separator: str = " · ", indent: str = CONTINUATION,
         joints: list[str] | None = None) -> list[str]:
    """`first` followed by `pieces` joined by `separator` (or by `joints[j]` before piece j),
    wrapped between pieces into lines of at most LINE_CHARS characters of plain text;
    continuation lines start with `indent`."""
    joints = joints or [separator] * len(pieces)
    lines, line = [], first
    for j, piece in enumerate(pieces):
        joint = joints[j] if j else ""
        if j and len(style.plain(line + joint + piece)) > LINE_CHARS:
            lines.append(line + joint.rstrip())
            line = indent + piece
        else:
            line += joint + piece
    lines.append(line)
    return lines


def _factor_number(edge) -> str:
    return f"({number(edge.sign, edge.log10_abs)})"


def _path_rows(path: Path, hidden_size: int) -> list[str]:
    """A listed path: rank, value, share, then its product in the notes' notation and, for H = 1,
    the same product with the numbers substituted."""
    share = percent(path.share)
    head = f"{path.rank}.  {size_text(path, hidden_size)}{f' ({share})' if share else ''}   "
    rows = wrap(head, [markup(edge.symbol) for edge in path.edges])
    if hidden_size == 1:
        rows += wrap(CONTINUATION + "= ", [_factor_number(edge) for edge in path.edges])
    return rows


def _rest_row(group, hidden_size: int, prefix: str) -> str:
    rest = group.remainder
    share = percent(rest.share)
    n = group.remainder_count
    return (f"{prefix}{n} more path{'s' if n != 1 else ''} {_group_phrase(group)}: "
            f"{size_text(rest, hidden_size)}{f' ({share})' if share else ''}")


def _group_phrase(group) -> str:
    return f"that {group.label}" if group.label == "stays in the cell" else f"({group.label})"


@dataclass
class _Row:
    text: str
    colour: str = "foreground"
    rank: int | None = None  # the listed path this row belongs to
    group: int | None = None  # a marker in the group's colour at the row's start


def _group_role(weight: str, group: int) -> str:
    if weight == "U":
        return "rnn"
    return "path.cell" if group == 0 and weight != "W_ho" else "path.h"


def _list_rows(data: PathData, view: ViewState) -> list[_Row]:
    paths = data.paths
    H = paths.hidden_size
    highlight = view.paths_highlight
    rows: list[_Row] = []

    def add_path(path: Path) -> None:
        colour = "path.highlight" if path.rank == highlight else "foreground"
        for j, text in enumerate(_path_rows(path, H)):
            rows.append(_Row(text, colour, path.rank, path.group if j == 0 else None))

    if view.paths_order == "group":
        for group in paths.groups:
            share = percent(group.total.share)
            rows.append(_Row(f"{group.label}: {_count(group.count)}, sum {size_text(group.total, H)}"
                             f"{f' ({share})' if share else ''}", _group_role(paths.weight, group.index)))
            shown = [path for path in paths.paths if path.group == group.index]
            for path in shown:
                add_path(path)
            if shown and group.remainder_count:  # (with none listed, the heading says it all)
                rows.append(_Row(_rest_row(group, H, CONTINUATION + "+ "), "muted"))
    else:
        for path in paths.paths:
            add_path(path)
        for group in paths.groups:
            if group.remainder_count:
                rows.append(_Row(_rest_row(group, H, "+ "), "muted"))
    if paths.total_is_zero:
        rows.append(_Row(f"the total {markup(paths.target_symbol)} is exactly 0: no shares", "theory"))
    return rows


def _count(n: int) -> str:
    return f"{n} path{'s' if n != 1 else ''}" if n < 10**7 else f"{number(1.0, math.log10(n))} paths"


def _ledger_rows(data: PathData, k: int) -> list[list[tuple[str, str]]]:
    """The ledger's lines, each a list of (text, colour) cells: the k offered (the selected one
    marked), two to a line when there are more than two, then Σ_k over every k."""
    ledger = data.ledger
    T = ledger.steps
    cells = []
    for row in reversed(ledger.rows):
        if row.k in paths_k_choices(T):
            cells.append((f"{'▸ ' if row.k == k else '   '}{_engine_text(row.line)}",
                          "foreground" if row.agrees else "error"))
    per_line = 1 if len(cells) <= 2 else 2
    lines = [cells[j:j + per_line] for j in range(0, len(cells), per_line)]
    total = _engine_text(ledger.line).replace("Σ_{k}:", f"Σ_{{k}} over k = 1 … {T}:", 1)
    lines.append([(total, "foreground" if ledger.agrees else "error")])
    return lines


def _rnn_rows(data: PathData, results: Results) -> list[str]:
    """The RNN's one path to U^(k): its product in the notes' notation and in the forward
    variables, then (H = 1) the numbers, and the one knob that bounds every factor."""
    path = data.rnn.paths[0]
    H = data.rnn.hidden_size
    head = f"one path to {markup(path.edges[-1].lower.symbol)}, {size_text(path, H)}:   "
    n = len(path.edges)
    pieces = [markup(edge.symbol) for edge in path.edges] + [f"[{markup(edge.formula)}]" for edge in path.edges]
    rows = wrap(head, pieces, joints=[" · "] * n + [" = "] + [" · "] * (n - 1))
    if H == 1:
        bound = f"at most |U| = {style.number(abs(float(results.rnn_U[0, 0])))}"
    else:
        bound = f"with ‖·‖₂ at most σ_{{max}}(U) = {style.number(results.sigma_max_U)}"
    road = f"one road: each step back multiplies it by (1 − S_{{t}}²)·U, {bound}"
    if H == 1:
        rows += wrap(CONTINUATION + "= ", [_factor_number(edge) for edge in path.edges] + [road],
                     joints=[" · "] * n + [":   "])
    else:
        rows.append(CONTINUATION + road)
    return rows


# --- the tree -----------------------------------------------------------------------------------
class _Layout:
    """Positions of the nodes of one (weight, k): x in 0..1, y in tree units."""

    def __init__(self, T: int, k: int):
        self.T, self.k = T, k
        self.columns = LEFT_COLUMNS + (T - k + 1) + RIGHT_COLUMNS

    def x(self, columns: float) -> float:
        return columns / self.columns

    def column(self, t: int) -> float:
        return LEFT_COLUMNS + (t - self.k)

    def of(self, node) -> tuple[float, float]:
        kind, t = node.kind, node.step
        if kind in ("W", "U"):
            return self.x(LEFT_COLUMNS / 2), Y_RNN if kind == "U" else Y_GATE
        if kind in ("y", "O"):
            return self.x(self.column(t) + STATE_X + 0.42), Y_RNN if kind == "O" else Y_H
        if kind == "L":
            return self.x(self.column(t) + STATE_X + 0.8), Y_H
        if kind in GATE_X:
            return self.x(self.column(t) + GATE_X[kind]), Y_GATE
        y = {"h": Y_H, "C": Y_C, "S": Y_RNN}[kind]
        return self.x(self.column(t) + STATE_X), y


def _edge_role(edge) -> str:
    if edge.upper.kind == "C" and edge.lower.kind == "C":
        return "path.cell"  # the carousel
    if edge.lower.kind in ("h", "S") and edge.upper.kind != "y":
        return "path.h"  # into an earlier hidden state
    return "path.other"


def _edge_label(edge, layout: _Layout, hidden_size: int, rnn: bool, key: str) -> Text:
    """The local derivative next to its edge: above horizontal edges, right of h_t -> C_t, and at a
    gate: above it the edge out of it (to h_{t-1}), below it the edge into it (from C_t or h_t); the
    carousel's below it."""
    if hidden_size == 1:
        text = number(edge.sign, edge.log10_abs, 2)
    else:  # a Jacobian: its spectral norm (the formulas are in the list and the CSV)
        text = f"‖{number(1.0, edge.log10_bound, 2)}‖"
    (x0, y0), (x1, y1) = _edge_points(edge, layout, rnn)
    if y0 == y1 == Y_C and not rnn:  # the carousel: below it (the gates' labels are above)
        return Text(key, (x0 + x1) / 2, y0 - LABEL_GAP, text, "muted", anchor="top", background=LABEL_BACKGROUND)
    if y0 == y1:  # horizontal
        return Text(key, (x0 + x1) / 2, y0 + LABEL_GAP, text, "muted", anchor="bottom",
                    background=LABEL_BACKGROUND)
    if x0 == x1:  # h_t -> C_t: right of it, above C_t
        return Text(key, x0 + 0.004, Y_C + 0.3 * (Y_GATE - Y_C), text, "muted", anchor="left",
                    background=LABEL_BACKGROUND)
    if edge.lower.kind == "h":  # a gate -> h_{t-1}: above the gate
        return Text(key, x0, y0 + GATE_LABEL_GAP, text, "muted", anchor="bottom", background=LABEL_BACKGROUND)
    # into a gate: below it
    return Text(key, x1, y1 - GATE_LABEL_GAP, text, "muted", anchor="top", background=LABEL_BACKGROUND)


def _edge_points(edge, layout: _Layout, rnn: bool):
    upper, lower = layout.of(edge.upper), layout.of(edge.lower)
    if rnn:  # the RNN's chain sits on its own row, whatever the node
        upper, lower = (upper[0], Y_RNN), (lower[0], Y_RNN)
    return upper, lower


def _max_through_edges(paths: PathsOfK) -> np.ndarray:
    """For each edge, log10 of the largest listed path through it (-inf: on no listed path)."""
    best = np.full(len(paths.edges), -np.inf)
    listed = paths.paths
    for row in range(len(listed)):
        ids = listed.edge_ids[row]
        ids = ids[ids >= 0]
        np.maximum.at(best, ids, listed.log10_abs[row])
    return best


def _graph_items(paths: PathsOfK, layout: _Layout, theme: str, prefix: str, rnn: bool, highlight: Path | None,
                 label_all: bool) -> list:
    """Edges (Segments), nodes and labels (Text) of one network's graph. Widths
    are relative to this network's largest listed path (the LSTM's paths to W^(k) and the RNN's to
    U^(k) are derivatives by different weights: each graph has its own scale)."""
    edges = paths.edges
    best = _max_through_edges(paths)
    real = paths.paths.log10_abs[~style.is_zero_log(paths.paths.log10_abs)]
    largest = float(real.max()) if real.size else 0.0
    points = [_edge_points(edge, layout, rnn) for edge in edges]
    x0 = np.array([p[0][0] for p in points])
    y0 = np.array([p[0][1] for p in points])
    x1 = np.array([p[1][0] for p in points])
    y1 = np.array([p[1][1] for p in points])
    on_listed = np.isfinite(best)
    widths = np.where(on_listed, style.path_width(np.where(on_listed, best, LOG10_OF_ZERO), largest),
                      style.PATH_WIDTH_MIN)
    colours = np.array([style.rgba(_edge_role(edge) if not rnn else "rnn", theme,
                                   None if on_listed[j] else UNLISTED_ALPHA) for j, edge in enumerate(edges)],
                       dtype=np.uint8).reshape(len(edges), 4)
    items: list = [Segments(f"{prefix}edges", x0, y0, x1, y1, np.asarray(widths, dtype=float), colours)]
    highlighted = set(highlight.edge_indices) if highlight is not None else set()
    if highlighted:
        ids = np.array(sorted(highlighted))
        width = float(style.path_width(highlight.log10_abs, largest)) + 3.0
        items.append(Segments(f"{prefix}highlight", x0[ids], y0[ids], x1[ids], y1[ids], np.full(len(ids), width),
                              np.array([style.rgba("path.highlight", theme)] * len(ids), dtype=np.uint8), z=1))
    nodes = paths.nodes
    xy = np.array([layout.of(node) for node in nodes], dtype=float)
    if rnn:
        xy[:, 1] = Y_RNN
    on_path = set(highlight.nodes) if highlight is not None else set()
    for j, node in enumerate(nodes):  # a node: its symbol in a box (above the edges, Text at z 6)
        symbol = f"{node.kind}" if node.kind in GATE_X and not label_all else markup(node.symbol)
        items.append(Text(f"{prefix}node-{node.kind}{node.step}", float(xy[j, 0]), float(xy[j, 1]), symbol,
                          anchor="center", background="background",
                          border="path.highlight" if node in on_path else "cell.outline"))
    for j, edge in enumerate(edges):
        if label_all or j in highlighted:
            items.append(_edge_label(edge, layout, paths.hidden_size, rnn, f"{prefix}label-{j}"))
    return items


def _tree_panel(data: PathData, view: ViewState, k: int, theme: str, height: float) -> Panel:
    paths, rnn = data.paths, data.rnn
    T = paths.steps
    layout = _Layout(T, k)
    highlight = highlighted_path(data, view)
    label_all = T - k + 1 <= LABEL_ALL_EDGES_UP_TO
    items: list = []
    target = markup(paths.target_symbol)
    if paths.weight == "U":
        items += _graph_items(rnn, layout, theme, "rnn-", True, highlight, label_all)
        title = f"{target}: the RNN's one path"
        y = RNN_TREE_Y
    else:
        items += _graph_items(paths, layout, theme, "", False, highlight, label_all)
        items += _graph_items(rnn, layout, theme, "rnn-", True, None, label_all)
        title = (f"{target}: {_count(paths.count)} through the LSTM (top);  "
                 f"the RNN's one path to U{copy_label(k)} (bottom)")
        y = TREE_Y
    return Panel("tree", title, Axis("", 0.0, 1.0, visible=False), Axis("", *y, visible=False),
                 tuple(items), legend=None, clickable=None, frame=False, height=height)


def _text_panel(key: str, title: str, rows: list[_Row], weight: str, extra: tuple = ()) -> Panel:
    """Rows of text, one per line from the top (line i at y = n - i - 0.5), a marker in the group's
    colour before the first line of each listed path, and the hover rows of the listed paths."""
    n = max(len(rows), 1)
    items: list = list(extra)
    spans: dict[int, list[float]] = {}
    markers: dict[str, tuple[list, list]] = {}
    for i, row in enumerate(rows):
        y = n - i - 0.5
        items.append(Text(f"{key}-{i}", 0.018, y, row.text, row.colour, anchor="left"))
        if row.rank is not None:
            low, high = spans.setdefault(row.rank, [y - 0.5, y + 0.5])
            spans[row.rank] = [min(low, y - 0.5), max(high, y + 0.5)]
        if row.group is not None:
            xs, ys = markers.setdefault(_group_role(weight, row.group), ([], []))
            xs.append(0.007)
            ys.append(y)
    for role, (xs, ys) in markers.items():
        items.append(Markers(f"{key}-marker-{role}", np.array(xs), np.array(ys), role, symbol="o", size=7.0,
                             fill=role))
    hover = tuple((low, high, rank) for rank, (low, high) in sorted(spans.items()))
    return Panel(key, title, Axis("", 0.0, 1.0, visible=False), Axis("", 0.0, float(n), visible=False),
                 tuple(items), legend=None, clickable=None, frame=False, height=n + 1.5, hover_rows=hover)


def _caption(results: Results, weight: str, k: int, data: PathData | None) -> str:
    what = f"paths from L{step(results.steps)} to {markup(weight)}{copy_label(k)}"
    if data is not None:
        what += f": {_count(data.paths.count)}, {len(data.paths.paths)} listed"
    return f"{knob_line(results)}\n{what}"


def describe(results: Results, view: ViewState, theme: str = style.DEFAULT_THEME, blocking: bool = True,
             **_options) -> Plot:
    T = results.steps
    weight = view.paths_weight
    k = view.paths_k_for(T)
    data = path_data(results, weight, k, view.paths_order, blocking)
    if data is None:  # the window's worker computes them: say so
        H = results.setup.hidden_size
        note = Text("computing", 0.5, 0.5, f"computing the paths to {markup(weight)}{copy_label(k)} "
                    f"(H = {H}, T = {T}: in the background)…", "muted", anchor="center", size="base")
        panel = Panel("tree", f"∂L{step(T)}/∂{markup(weight)}{copy_label(k)}", Axis("", 0.0, 1.0, visible=False),
                      Axis("", 0.0, 1.0, visible=False), (note,), legend=None, clickable=None, frame=False)
        return Plot("paths", TITLE, (panel,), _caption(results, weight, k, None),
                    (Table("paths", {name: [] for name in CSV_COLUMNS}),), partial=True, slide_scale=SLIDE_SCALE)
    paths = data.paths
    tree_height = RNN_TREE_LINES if weight == "U" else TREE_LINES
    panels = [_tree_panel(data, view, k, theme, tree_height)]
    order = "by group" if view.paths_order == "group" else "largest first"
    listed = len(paths.paths)
    list_title = (f"The {'' if paths.complete else f'{listed} largest of the '}{_count(paths.count)}, {order}"
                  + ("" if paths.hidden_size == 1 else f" (H = {paths.hidden_size}: each path is a matrix)"))
    panels.append(_text_panel("list", list_title, _list_rows(data, view), weight))
    ledger_lines = _ledger_rows(data, k)
    ledger_rows = [_Row(cells[0][0], cells[0][1]) for cells in ledger_lines]
    second = [(i, cells[1]) for i, cells in enumerate(ledger_lines) if len(cells) > 1]
    n = len(ledger_lines)
    right = tuple(Text(f"ledger-{i}-right", 0.5, n - i - 0.5, text, colour, anchor="left")
                  for i, (text, colour) in second)
    panels.append(_text_panel("ledger", f"Ledger: the paths of each k add up to its BPTT bar, "
                              f"and Σ_{{k}} to ∂L{step(T)}/∂{markup(weight)}", ledger_rows, weight, right))
    if weight != "U":
        panels.append(_text_panel("rnn", "The RNN beside it: one path per k",
                                  [_Row(text) for text in _rnn_rows(data, results)], "U"))
    rows = csv_rows([paths])
    table = Table("paths", {name: [row[name] for row in rows] for name in CSV_COLUMNS})
    return Plot("paths", TITLE, tuple(panels), _caption(results, weight, k, data), (table,),
                slide_scale=SLIDE_SCALE)


__all__ = ["PathData", "describe", "highlighted_path", "is_quick", "markup", "path_data", "wrap"]
