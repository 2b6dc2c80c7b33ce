"""The notes' path tree: every back-propagation path from L_T to one copy W^(k) of a weight.

For a weight shared across steps, MATH.md ("Back-propagation through time") writes
dL_T/dW = sum_k dL_T/dW^(k), and ("Paths") each dL_T/dW^(k) as a sum over the paths of the
unrolled graph from L_T down to W^(k), each path the product of its edges' local derivatives.
This module builds that graph from a `Results`, lists its paths with their values and checks that
they add up to the project's BPTT contribution. It never imports Qt: the Paths view and the CSV
export are drawn from what it returns.

The graph (edges point from a quantity to what it is differentiated by; LSTM, no peepholes):

    L_T -> y_T                  dL_T/dy_T   = y_T - Y*
    y_T -> h_T                  dy_T/dh_T   = V
    h_t -> C_t                  dh_t/dC_t   = o_t tanh'(C_t)
    h_t -> o_t                  dh_t/do_t   = tanh(C_t)
    C_t -> C_{t-1}              dC_t/dC_{t-1} = f_t           (the carousel)
    C_t -> f_t, i_t, g_t        dC_t/df_t = C_{t-1}, dC_t/di_t = g_t, dC_t/dg_t = i_t
    o_t, f_t, i_t -> h_{t-1}    d<gate>_t/dh_{t-1} = sigma'(pre) W_h<gate>
    g_t -> h_{t-1}              dg_t/dh_{t-1} = tanh'(pre) W_hg
    <gate>_k -> W_h<gate>^(k)   d<gate>_k/dW^(k) = act'(pre) h_{k-1}^T     (the last edge)

and for the vanilla RNN the single chain L_T -> O_T -> S_T -> S_{T-1} -> ... -> S_k -> U^(k) with
dS_t/dS_{t-1} = (1 - S_t^2) U (R1) and dS_k/dU^(k) = (1 - S_k^2) S_{k-1}^T. For H > 1 every edge is
a Jacobian (diagonal or dense); a path carries the row vector dL_T/d(node) down, and its value is
the H x H matrix it adds to dL_T/dW^(k). For H = 1 the value is a signed scalar.

Public API
----------
count_paths(weight, T, k) -> int
    The number of paths from L_T to W^(k) by MATH.md's recursion (exact integers).
paths_to(results, weight, k, limit=50, group_cap=10, max_expansions=200_000) -> PathsOfK
    Everything the Paths view and the CSV need for one (weight, k): the graph (`nodes`, `edges`),
    the listed paths (all of them when there are at most `limit`, or `limit=None`; else the
    `limit` largest), the groups with their exact totals and remainders, the total, the project's
    BPTT contribution and whether they agree (`ledger_line()`), and `csv_rows()`.
paths_by_k(results, weight, ks=None, limit=50, ...) -> dict[int, PathsOfK]
    The same for several k (default 1..T) from one pass over the graph (faster than one call each).
rnn_path(results, k) -> Path
    The RNN's single path to U^(k).
path_ledger(results, weight) -> Ledger
    For every k = 1..T the sum of its paths against the project's BPTT contribution, and the sum
    over k against the full gradient dL_T/dW, with the lines a view prints (`LedgerRow.line`,
    `Ledger.line`). The sums come from a sweep over the graph's edges step by step (O(T) vector
    operations: ~0.4 s at T = 5000, H = 1), not from listing paths.
csv_rows(items) -> list[dict]; CSV_COLUMNS
    One row per listed path and one per non-empty group remainder.
format_number(sign, log10_abs, digits=4) -> str
    How the lines and the substituted products write numbers (also beyond float64's range).

Dataclasses: `Node` (kind, step, symbol), `Edge` (index, upper, lower, symbol, formula, value,
sign, log10_abs, log10_bound), `Amount` (a value and its size relative to its total), `Path(Amount)`,
`PathList` (the listed paths as columns; indexing gives a `Path`), `PathGroup` (a group's total
and the remainder of its unlisted paths), `PathsOfK`, `LedgerRow` (numbers for one k: sign,
log10_abs, value, the same for BPTT, share, relative_difference, agrees, line), `Ledger`. Symbols follow the
notes: nodes "L_3", "y_3", "h_3", "C_3", "o_3", "f_2", "W_hf^(2)" (RNN: "O_3", "S_2", "U^(2)"),
edges "∂h_3/∂C_3", products joined by " · ".

Values without underflow
------------------------
Every value (edge factors, path values, totals) is carried as a mantissa times a power of two
(`Amount.mantissa`, `Amount.exponent2`; `log10_scale = exponent2 log10 2`), renormalised after
each edge by an exact power of two, so a path through hundreds of saturated gates keeps its
digits. Local derivatives that could underflow are taken from the pre-activation in log space
(log|tanh'(x)| = log 4 - 2|x| - 2 log1p(e^-2|x|), log sigma'(x) = -|x| - 2 log1p(e^-|x|),
log sigma(x) = -log(1 + e^-x)) whenever their direct value is below 2^-960. `log10_abs` is always
given (LOG10_OF_ZERO for an exact zero); `value` and `frobenius` are floats only where float64
holds them (a normal float), else None. `projection` and `share` are fractions of the total: they
are None when the total is exactly 0 and may round to 0.0 for a path far below the total.

Sizes of a path relative to the total of its k (tot = dL_T/dW^(k)):
    projection = <path, tot> / ||tot||_F     (the projections of all paths add up to ||tot||_F)
    share      = <path, tot> / ||tot||_F^2   (the shares add up to 1)

Groups
------
A path's `h_passes` is the number of hidden states h_t with k <= t < T it goes through. Group 0
("stays in the cell") is the path that enters C_T and follows C_T -> C_{T-1} -> ... -> C_k and the
final gate; group j the paths that pass through h j times; the last group (`group_cap`, default
10) holds every path with that many passes or more when T - k exceeds it. Group totals and path
counts are computed by dynamic programming over the unrolled graph (row vectors carried down with
a group index), never by enumerating, so they exist when the paths are far too many to list; the
total is the sum of the group totals. `PathsOfK.coarse_groups()` merges every group but 0 into
one "passes through h". For the RNN there is one group, the single chain.

Listing and "largest"
---------------------
With more than `limit` paths, the `limit` largest are listed, and every group's remainder (group
total minus its listed paths, with how many paths it holds) is given exactly. "Largest" is |value|
for H = 1 and the Frobenius norm of the path's matrix for H > 1. Both are found by best-first
search over path prefixes: a prefix is ranked by ||its row vector||_2 times an upper bound of the
best completion (the largest product, over the remaining edges, of each edge's spectral norm),
and a finished path by its exact size; a finished path that comes out of the queue is at least as
large as anything still in it, so the listing is exact. For H = 1 the bound is the exact best
completion (N-best dynamic programming on log|edge|). For H > 1 the bounds can be loose; if
`max_expansions` prefixes have been expanded before `limit` paths are finished, the finished ones
found so far (and finished ones still queued) are listed and `PathsOfK.ranking` says "capped"
instead of "exact".

Cost: the graph, the groups and the best-first search grow with the lag T - k, not with T;
listing every path grows like 4.8^(T - k) (`MAX_ENUMERATE` paths at most).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .reference import LOG10_OF_ZERO, sigmoid_prime, tanh_prime
from .results import LSTM_RECURRENT, Results
from .weights import GATES

PATH_WEIGHTS = ("W_hf", "W_hi", "W_hg", "W_ho", "U")
AGREE_RELATIVE = 1e-10  # the ledger's check mark: sum of paths and BPTT agree to this
DEFAULT_LIMIT = 50
DEFAULT_GROUP_CAP = 10
DEFAULT_MAX_EXPANSIONS = 200_000
MAX_ENUMERATE = 250_000  # listing every path beyond this is refused (use a limit)

LN2 = math.log(2.0)
LOG10_2 = math.log10(2.0)
_LOG_4 = math.log(4.0)
_SAFE_MIN = 2.0 ** -960  # a direct local derivative below this is recomputed from its logs
_ZERO_EXP = -(1 << 40)  # exponent given to an exactly-zero mantissa when aligning sums
_MIN_SHIFT = -1100  # 2^-1100 times a mantissa <= 1 is 0 in float64
_NORMAL_MIN_LOG2 = -1022.0
_NORMAL_MAX_LOG2 = 1023.0
_DIRECT_BOUND_MAX_H = 64  # exact spectral norms of dense edges up to this H (else a bound)

_GATE_ROW = {gate: row for row, gate in enumerate(GATES)}  # "i": 0, "f": 1, "g": 2, "o": 3
_WEIGHT_GATE = {weight: GATES[row] for row, weight in enumerate(LSTM_RECURRENT)}  # "W_hf": "f"


# ----------------------------------------------------------------------------------------------
# Counting
# ----------------------------------------------------------------------------------------------


def _check_weight_and_k(weight: str, T: int, k: int) -> None:
    if weight not in PATH_WEIGHTS:
        raise ValueError(f"weight must be one of {PATH_WEIGHTS}, got {weight!r}")
    if not 1 <= k <= T:
        raise ValueError(f"k must be in 1..{T}, got {k}")


def count_paths(weight: str, T: int, k: int) -> int:
    """Paths from L_T to W^(k) by MATH.md's recursion: N_C(k) = N_h(k) = 1 (for W_ho, N_C(k) = 0:
    o_k hangs off h_k only), N_C(t) = N_C(t-1) + 3 N_h(t-1), N_h(t) = N_C(t) + N_h(t-1); the answer
    is N_h(T). The RNN has one path. Exact for any T, k (Python integers)."""
    _check_weight_and_k(weight, T, k)
    if weight == "U":
        return 1
    from_C, from_h = (0, 1) if weight == "W_ho" else (1, 1)
    for _ in range(T - k):
        from_C = from_C + 3 * from_h  # C_t -> C_{t-1}, C_t -> {f, i, g}_t -> h_{t-1}
        from_h = from_C + from_h  # h_t -> C_t, h_t -> o_t -> h_{t-1}
    return from_h


# ----------------------------------------------------------------------------------------------
# Public dataclasses
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A node of the unrolled graph: kind "L", "y", "h", "C", "o", "f", "i", "g", "W" (LSTM) or
    "L", "O", "S", "U" (RNN), at time step `step`, with its symbol in the notes' notation."""

    kind: str
    step: int
    symbol: str


@dataclass(frozen=True)
class Edge:
    """d upper / d lower, one edge of the graph of one (weight, k). `formula` is the local
    derivative in the forward variables (e.g. "o_3·tanh'(C_3)"; for H > 1 a diagonal or dense
    Jacobian). For H = 1, `value` is the local derivative (None if float64 cannot hold it), `sign`
    its sign and `log10_abs` its log10|.|; all three are None for H > 1. `log10_bound` is log10 of
    its spectral norm (exact for H = 1 and for diagonal edges; for dense edges exact up to H = 64,
    above that max|diag| · ||W||_F)."""

    index: int
    upper: Node
    lower: Node
    symbol: str
    formula: str
    value: float | None
    sign: float | None
    log10_abs: float | None
    log10_bound: float


@dataclass(frozen=True, eq=False)
class Amount:
    """A value shaped like dL_T/dW^(k) (H x H; 1 x 1 when H = 1) carried as mantissa · 2^exponent2,
    with its size relative to the total it belongs to (see the module docstring)."""

    mantissa: np.ndarray  # (H, H), max |entry| in [0.5, 1) unless all zero
    exponent2: int
    log10_abs: float  # log10 |value| (H = 1) or log10 ||value||_F; LOG10_OF_ZERO if exactly 0
    frobenius: float | None  # ||value||_F (= |value| for H = 1) if a normal float
    projection: float | None  # <value, total> / ||total||_F; None if the total is 0
    share: float | None  # <value, total> / ||total||_F^2; None if the total is 0

    @property
    def log10_scale(self) -> float:
        """value = mantissa · 10^log10_scale (the simulator's usual convention)."""
        return self.exponent2 * LOG10_2

    @property
    def is_zero(self) -> bool:
        return not np.any(self.mantissa)

    @property
    def sign(self) -> float:
        """H = 1: the sign of the value (+1, -1 or 0); NaN for H > 1."""
        return float(np.sign(self.mantissa.flat[0])) if self.mantissa.size == 1 else float("nan")

    @property
    def value(self) -> float | np.ndarray | None:
        """The value as a float (H = 1) or an H x H array (H > 1), None if float64 cannot hold it."""
        if self.is_zero:
            return 0.0 if self.mantissa.size == 1 else np.zeros_like(self.mantissa)
        if not _NORMAL_MIN_LOG2 < self.log10_abs / LOG10_2 < _NORMAL_MAX_LOG2:
            return None
        scaled = np.ldexp(self.mantissa, self.exponent2)
        return float(scaled.flat[0]) if scaled.size == 1 else scaled


@dataclass(frozen=True, eq=False)
class Path(Amount):
    """One path from L_T to W^(k): its edges, its rank (1 = largest), its group and value."""

    weight: str
    k: int
    steps: int  # T
    rank: int
    h_passes: int  # hidden states h_t, k <= t < T, on the path
    group: int  # min(h_passes, the last group's index)
    edges: tuple[Edge, ...]

    @property
    def edge_indices(self) -> tuple[int, ...]:
        """Indices into PathsOfK.edges."""
        return tuple(edge.index for edge in self.edges)

    @property
    def nodes(self) -> tuple[Node, ...]:
        return (self.edges[0].upper, *(edge.lower for edge in self.edges))

    @property
    def node_symbols(self) -> tuple[str, ...]:
        return tuple(node.symbol for node in self.nodes)

    @property
    def product(self) -> str:
        """The product in the notes' notation: '∂L_3/∂y_3 · ∂y_3/∂h_3 · … · ∂f_2/∂W_hf^(2)'."""
        return " · ".join(edge.symbol for edge in self.edges)

    @property
    def formula(self) -> str:
        """The product in forward variables: '[y_3 − Y*] · [V] · [o_3·tanh'(C_3)] · …'."""
        return " · ".join(f"[{edge.formula}]" for edge in self.edges)

    @property
    def numeric(self) -> str | None:
        """H = 1: the product with the numbers substituted, '(0.52) · (1) · … = 0.0123'; else None."""
        if self.mantissa.size != 1:
            return None
        factors = " · ".join(f"({format_number(e.sign, e.log10_abs)})" for e in self.edges)
        return f"{factors} = {format_number(self.sign, self.log10_abs)}"


class PathList(Sequence):
    """The listed paths of one (weight, k), largest first. Held as columns (one array entry per
    path: thousands of paths cost no Python objects until they are looked at); indexing or
    iterating gives `Path` objects. The columns are public for drawing and sorting: `log10_abs`,
    `frobenius`, `projection`, `share` (NaN where the Path field is None), `h_passes`, `group`,
    `edge_ids` (n, longest) indices into PathsOfK.edges padded with -1, `mantissas` (n, H, H),
    `exponents`."""

    def __init__(self, weight: str, k: int, steps: int, edges: tuple[Edge, ...], columns: dict):
        self.weight, self.k, self.steps, self._edges = weight, k, steps, edges
        self.mantissas = columns["mantissas"]
        self.exponents = columns["exponents"]
        self.edge_ids = columns["edge_ids"]
        self.h_passes = columns["h_passes"]
        self.group = columns["group"]
        self.log10_abs = columns["log10_abs"]
        self.frobenius = columns["frobenius"]
        self.projection = columns["projection"]
        self.share = columns["share"]

    def __len__(self) -> int:
        return self.exponents.shape[0]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[j] for j in range(*index.indices(len(self)))]
        j = range(len(self))[index]
        return Path(mantissa=self.mantissas[j], exponent2=int(self.exponents[j]),
                    log10_abs=float(self.log10_abs[j]), frobenius=_none_if_nan(self.frobenius[j]),
                    projection=_none_if_nan(self.projection[j]), share=_none_if_nan(self.share[j]),
                    weight=self.weight, k=self.k, steps=self.steps, rank=j + 1,
                    h_passes=int(self.h_passes[j]), group=int(self.group[j]),
                    edges=tuple(self._edges[e] for e in self.edge_ids[j] if e >= 0))


@dataclass(frozen=True, eq=False)
class PathGroup:
    """The paths of one group: how many, their exact total, and the part not listed."""

    index: int  # number of passes through h (the last group may be "that many or more")
    label: str  # "stays in the cell", "through h once", "through h 3 times or more", …
    count: int  # paths in the group
    listed_count: int  # of them listed in PathsOfK.paths
    total: Amount  # sum of all its paths (dynamic programming)
    remainder: Amount  # total minus its listed paths

    @property
    def remainder_count(self) -> int:
        return self.count - self.listed_count


@dataclass(frozen=True, eq=False)
class PathsOfK:
    """Every path from L_T to W^(k) for one weight and one k, as `paths_to` returns it."""

    weight: str
    k: int
    steps: int  # T
    hidden_size: int
    count: int  # all paths from L_T to W^(k)
    paths: PathList  # listed, largest first
    ranking: str  # "all" (every path listed), "exact" (the largest, exactly) or "capped"
    groups: tuple[PathGroup, ...]  # non-empty groups, by index
    total: Amount  # dL_T/dW^(k) as the sum of every path (= sum of the group totals)
    listed_plus_remainders: Amount  # sum of the listed paths and of every group's remainder
    bptt: Amount  # the project's BPTT contribution (Results' delta_k h_{k-1}^T)
    relative_difference: float  # ||total - bptt||_F / max(||total||_F, ||bptt||_F, ||largest path||_F), 0 if all 0
    nodes: tuple[Node, ...]  # the graph between L_T and W^(k), in topological order
    edges: tuple[Edge, ...]

    @property
    def complete(self) -> bool:
        return len(self.paths) == self.count

    @property
    def total_is_zero(self) -> bool:
        return self.total.is_zero

    @property
    def agrees(self) -> bool:
        return self.relative_difference <= AGREE_RELATIVE

    @property
    def target_symbol(self) -> str:
        """'∂L_3/∂W_hf^(2)'."""
        return f"∂L_{self.steps}/∂{_weight_symbol(self.weight, self.k)}"

    def group(self, index: int) -> PathGroup | None:
        return next((group for group in self.groups if group.index == index), None)

    def coarse_groups(self) -> tuple[PathGroup, ...]:
        """The two-way split: group 0 ("stays in the cell") and every other group merged into
        one "passes through h" (index 1, totals and remainders summed exactly). Groups that
        would be empty are left out; the RNN's single group is returned as it is."""
        if self.weight == "U":
            return self.groups
        cell = [group for group in self.groups if group.index == 0]
        through_h = [group for group in self.groups if group.index > 0]
        if not through_h:
            return tuple(cell)
        total = (self.total.mantissa, self.total.exponent2)  # projections and shares against it
        sums = []
        for part in ("total", "remainder"):
            amounts = [getattr(group, part) for group in through_h]
            rows, exps = _segment_sum(np.stack([a.mantissa for a in amounts]),
                                      np.array([a.exponent2 for a in amounts], dtype=np.int64),
                                      np.zeros(len(amounts), dtype=np.int64), 1)
            sums.append(_amount(rows[0], int(exps[0]), total))
        merged = PathGroup(index=1, label="passes through h",
                           count=sum(group.count for group in through_h),
                           listed_count=sum(group.listed_count for group in through_h),
                           total=sums[0], remainder=sums[1])
        return (*cell, merged)

    def ledger_line(self) -> str:
        """'sum of 5 paths = 0.0412 = ∂L_3/∂W_hf^(2) ✓' (✓ only if they agree to 1e-10 relative)."""
        if self.complete:
            what = f"sum of {_paths_text(self.count)}"
        else:
            remainders = sum(1 for group in self.groups if group.remainder_count > 0)
            what = (f"sum of {_paths_text(self.count)} ({len(self.paths)} listed, the rest in "
                    f"{remainders} group remainder{'s' if remainders != 1 else ''})")
        return _ledger_text(what, self.total, self.bptt, self.target_symbol, self.hidden_size,
                            self.agrees)

    def csv_rows(self) -> list[dict]:
        return csv_rows([self])


@dataclass(frozen=True, eq=False)
class LedgerRow:
    """One k of the ledger: the sum of all paths to W^(k) against the project's BPTT contribution.
    Both are rank-one matrices delta_k h_{k-1}^T, so a row holds numbers, not H x H matrices
    (a ledger of T rows must fit for large H and T): sign and value for H = 1, log10 of |.| or
    of the Frobenius norm for any H."""

    weight: str
    k: int
    steps: int  # T
    hidden_size: int
    count: int  # paths to W^(k)
    sign: float  # H = 1: sign of the path sum (NaN for H > 1)
    log10_abs: float  # log10 |path sum| (H = 1) or ||path sum||_F; LOG10_OF_ZERO if 0
    value: float | None  # H = 1: the path sum if it is a normal float64
    bptt_sign: float
    bptt_log10_abs: float
    bptt_value: float | None
    share: float | None  # <path sum, dL_T/dW> / ||dL_T/dW||_F^2 (they add to 1 over k)
    relative_difference: float  # ||paths - bptt||_F / max of the two norms (0 if both are 0)

    @property
    def agrees(self) -> bool:
        return self.relative_difference <= AGREE_RELATIVE

    @property
    def line(self) -> str:
        """'sum of 5 paths = 0.0412 = ∂L_3/∂W_hf^(2) ✓' (✓ only if they agree to 1e-10 relative)."""
        return _ledger_line(f"sum of {_paths_text(self.count)}", self.sign, self.log10_abs,
                            self.bptt_sign, self.bptt_log10_abs,
                            f"∂L_{self.steps}/∂{_weight_symbol(self.weight, self.k)}",
                            self.hidden_size, self.agrees)


@dataclass(frozen=True, eq=False)
class Ledger:
    weight: str
    steps: int
    hidden_size: int
    rows: tuple[LedgerRow, ...]  # k = 1..T
    gradient_paths: Amount  # sum over k of the path sums (projection and share against itself)
    gradient_bptt: Amount  # sum over k of the BPTT contributions: the project's dL_T/dW
    relative_difference: float

    @property
    def count(self) -> int:
        return sum(row.count for row in self.rows)

    @property
    def agrees(self) -> bool:
        return self.relative_difference <= AGREE_RELATIVE

    @property
    def line(self) -> str:
        """'Σ_k: sum of 30 paths = 0.1234 = ∂L_3/∂W_hf ✓'."""
        paths, bptt = self.gradient_paths, self.gradient_bptt
        return _ledger_line(f"Σ_k: sum of {_paths_text(self.count)}", paths.sign, paths.log10_abs,
                            bptt.sign, bptt.log10_abs, f"∂L_{self.steps}/∂{self.weight}",
                            self.hidden_size, self.agrees)


# ----------------------------------------------------------------------------------------------
# Numbers: mantissa and power-of-two exponent, logs of local derivatives
# ----------------------------------------------------------------------------------------------


def _none_if_nan(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def _log_sigmoid_prime(x):
    a = np.abs(x)
    return -a - 2.0 * np.log1p(np.exp(-a))


def _log_tanh_prime(x):
    a = np.abs(x)
    return _LOG_4 - 2.0 * a - 2.0 * np.log1p(np.exp(-2.0 * a))


def _scaled_rows(direct, log_abs=None) -> tuple[np.ndarray, np.ndarray]:
    """Rows of vector factors as (mantissas (n, m), exponents2 (n,)). `direct` holds the float
    values; `log_abs` (for factors positive by construction) the natural log of each entry, used
    wherever the direct value is below _SAFE_MIN (it may have underflowed)."""
    direct = np.asarray(direct, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log2_abs = np.log2(np.abs(direct))
    small = np.zeros(direct.shape, dtype=bool)
    if log_abs is not None:
        small = np.abs(direct) < _SAFE_MIN
        log2_abs = np.where(small, log_abs / LN2, log2_abs)
    top = log2_abs.max(axis=1)
    finite = np.isfinite(top)
    exps = np.where(finite, np.floor(np.where(finite, top, 0.0)) + 1, 0).astype(np.int64)
    mantissas = np.where(small, np.exp2(log2_abs - exps[:, None]), np.ldexp(direct, -exps[:, None]))
    return np.where(finite[:, None], mantissas, 0.0), exps


def _renormalise(rows: np.ndarray, exps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale each row of a batch (axis 0) by an exact power of two: max |entry| in [0.5, 1)."""
    if rows.ndim == 2:
        _, shift = np.frexp(np.abs(rows).max(axis=1))
        return np.ldexp(rows, -shift[:, None]), exps + shift
    n = rows.shape[0]
    _, shift = np.frexp(np.abs(rows).reshape(n, -1).max(axis=1))
    return np.ldexp(rows, (-shift).reshape((n,) + (1,) * (rows.ndim - 1))), exps + shift


def _segment_sum(rows: np.ndarray, exps: np.ndarray, segments: np.ndarray,
                 n_segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum scaled values (rows (n, ...), exps (n,)) into `n_segments` sums by segment index."""
    n = rows.shape[0]
    nonzero = np.abs(rows).reshape(n, -1).max(axis=1) > 0.0
    exps = np.where(nonzero, exps, _ZERO_EXP)
    top = np.full(n_segments, _ZERO_EXP, dtype=np.int64)
    np.maximum.at(top, segments, exps)
    shift = np.maximum(exps - top[segments], _MIN_SHIFT)
    out = np.zeros((n_segments,) + rows.shape[1:])
    np.add.at(out, segments, np.ldexp(rows, shift.reshape((n,) + (1,) * (rows.ndim - 1))))
    return _renormalise(out, np.where(top == _ZERO_EXP, 0, top))


def _sum_scaled(rows: np.ndarray, exps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum scaled values over axis 0: rows (c, n, ...), exps (c, n) -> (n, ...), (n,)."""
    count, n = exps.shape
    nonzero = np.abs(rows).reshape(count, n, -1).max(axis=2) > 0.0
    exps = np.where(nonzero, exps, _ZERO_EXP)
    top = exps.max(axis=0)
    shift = np.maximum(exps - top, _MIN_SHIFT)
    total = np.ldexp(rows, shift.reshape((count, n) + (1,) * (rows.ndim - 2))).sum(axis=0)
    return _renormalise(total, np.where(top == _ZERO_EXP, 0, top))


def _combine(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Sum batches of scaled rows (each (rows (n, ...), exps (n,))), row by row."""
    if len(parts) == 1:
        return parts[0]
    return _sum_scaled(np.stack([part[0] for part in parts]),
                       np.stack([np.asarray(part[1], dtype=np.int64) for part in parts]))


def _clip_exponents(exps: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(exps, -1200), 1200)  # (np.clip is slow on small arrays)


def _ldexp_column(mantissas: np.ndarray, exps: np.ndarray) -> np.ndarray:
    """mantissa · 2^exp, rounding to 0 below float64's range, NaN above it."""
    with np.errstate(over="ignore"):
        out = np.ldexp(mantissas, _clip_exponents(exps))
    return np.where(np.isfinite(out), out, np.nan)


def _amount_columns(mantissas: np.ndarray, exps: np.ndarray, total: tuple[np.ndarray, int]) -> dict:
    """Amount fields for a batch of (n, H, H) values against a total (mantissa, exponent2);
    NaN where the field is None."""
    norms = np.sqrt(np.einsum("nij,nij->n", mantissas, mantissas))
    nonzero = norms > 0.0
    with np.errstate(divide="ignore"):
        log2_abs = np.log2(norms) + exps
    representable = ~nonzero | ((log2_abs > _NORMAL_MIN_LOG2) & (log2_abs < _NORMAL_MAX_LOG2))
    with np.errstate(over="ignore"):
        frobenius = np.where(representable, np.ldexp(norms, _clip_exponents(exps)), np.nan)
    total_mantissa, total_exp = total
    total_norm = math.sqrt(float(np.vdot(total_mantissa, total_mantissa)))
    if total_norm > 0.0:
        dots = np.einsum("nij,ij->n", mantissas, total_mantissa)
        projection = _ldexp_column(dots / total_norm, exps)
        share = _ldexp_column(dots / total_norm**2, exps - total_exp)
    else:
        projection = share = np.full(exps.shape, np.nan)
    return dict(mantissas=mantissas, exponents=exps,
                log10_abs=np.where(nonzero, log2_abs * LOG10_2, LOG10_OF_ZERO),
                frobenius=frobenius, projection=projection, share=share)


def _ldexp_or_none(mantissa: float, exponent2: int) -> float | None:
    """mantissa · 2^exponent2, rounding to 0 below float64's range; None above it."""
    if mantissa == 0.0:
        return 0.0
    if math.log2(abs(mantissa)) + exponent2 >= _NORMAL_MAX_LOG2:
        return None
    return math.ldexp(mantissa, max(exponent2, -1200))


def _amount(mantissa: np.ndarray, exponent2: int, total: tuple[np.ndarray, int]) -> Amount:
    """One Amount (the scalar twin of _amount_columns)."""
    exponent2 = int(exponent2)
    norm = math.sqrt(float(np.vdot(mantissa, mantissa)))
    if norm == 0.0:
        log10_abs, frobenius = LOG10_OF_ZERO, 0.0
    else:
        log2_abs = math.log2(norm) + exponent2
        log10_abs = log2_abs * LOG10_2
        frobenius = (math.ldexp(norm, exponent2)
                     if _NORMAL_MIN_LOG2 < log2_abs < _NORMAL_MAX_LOG2 else None)
    total_mantissa, total_exp = total
    total_norm = math.sqrt(float(np.vdot(total_mantissa, total_mantissa)))
    projection = share = None
    if total_norm > 0.0:
        dot = float(np.vdot(mantissa, total_mantissa))
        projection = _ldexp_or_none(dot / total_norm, exponent2)
        share = _ldexp_or_none(dot / total_norm**2, exponent2 - int(total_exp))
    return Amount(mantissa=mantissa, exponent2=exponent2, log10_abs=log10_abs,
                  frobenius=frobenius, projection=projection, share=share)


def _amount_list(mantissas: np.ndarray, exps: np.ndarray, total: tuple[np.ndarray, int]) -> list:
    """Amounts of a batch of (n, H, H) values (vectorised: see _amount_columns)."""
    columns = _amount_columns(mantissas, exps, total)
    return [Amount(mantissa=mantissas[j], exponent2=int(exps[j]),
                   log10_abs=float(columns["log10_abs"][j]),
                   frobenius=_none_if_nan(columns["frobenius"][j]),
                   projection=_none_if_nan(columns["projection"][j]),
                   share=_none_if_nan(columns["share"][j])) for j in range(mantissas.shape[0])]


def _relative_difference(a: Amount, b: Amount, scale_log10: float = LOG10_OF_ZERO) -> float:
    """||a - b||_F / max(||a||_F, ||b||_F, 10^scale_log10), computed on the mantissas (0 when
    both are 0). scale_log10: the largest term of a sum that may cancel (its largest path): the
    sum cannot be checked more finely than its terms' rounding allows."""
    largest = max(a.log10_abs, b.log10_abs, scale_log10)
    if largest == LOG10_OF_ZERO:
        return 0.0
    diff_rows, diff_exp = _combine([(a.mantissa[None], np.array([a.exponent2])),
                                    (-b.mantissa[None], np.array([b.exponent2]))])
    diff_norm = float(np.linalg.norm(diff_rows[0]))
    if diff_norm == 0.0:
        return 0.0
    return 10.0 ** (math.log10(diff_norm) + int(diff_exp[0]) * LOG10_2 - largest)


def format_number(sign: float, log10_abs: float, digits: int = 4) -> str:
    """A signed number given by its sign and log10|.|, in plain or e-notation with `digits`
    significant digits; works beyond float64's range ('-3.142e-512')."""
    if log10_abs == LOG10_OF_ZERO or sign == 0:
        return "0"
    minus = "-" if sign < 0 else ""
    if -4.0 <= log10_abs < 6.0:
        return f"{minus}{10.0 ** log10_abs:.{digits}g}"
    exponent = math.floor(log10_abs)
    mantissa = round(10.0 ** (log10_abs - exponent), digits - 1)
    if mantissa >= 10.0:
        mantissa, exponent = mantissa / 10.0, exponent + 1
    return f"{minus}{mantissa:.{digits - 1}f}e{exponent}"


def _paths_text(count: int) -> str:
    if count < 10**7:
        return f"{count} path{'s' if count != 1 else ''}"
    return f"{format_number(1.0, math.log10(count), 3)} paths"


def _ledger_line(what: str, sign: float, log10_abs: float, bptt_sign: float,
                 bptt_log10_abs: float, symbol: str, hidden_size: int, agrees: bool) -> str:
    if hidden_size == 1:
        left, right = format_number(sign, log10_abs), format_number(bptt_sign, bptt_log10_abs)
        if agrees:
            return f"{what} = {left} = {symbol} ✓"
        return f"{what} = {left} ≠ {right} = {symbol} ✗"
    left, right = format_number(1.0, log10_abs), format_number(1.0, bptt_log10_abs)
    if agrees:
        return f"{what}: ‖·‖_F = {left} = ‖{symbol}‖_F ✓"
    return f"{what}: ‖·‖_F = {left}, ‖{symbol}‖_F = {right}, they differ ✗"


def _ledger_text(what: str, paths: Amount, bptt: Amount, symbol: str, hidden_size: int,
                 agrees: bool) -> str:
    return _ledger_line(what, paths.sign, paths.log10_abs, bptt.sign, bptt.log10_abs, symbol,
                        hidden_size, agrees)


# ----------------------------------------------------------------------------------------------
# The local derivatives, a table per kind of edge (vectorised over steps)
# ----------------------------------------------------------------------------------------------


def _lstm_factor_tables(results: Results, first: int) -> dict:
    """For steps t = first..T (row t - first): every diagonal factor of the LSTM graph as
    (mantissas (n, H), exponents (n,)); logs from the pre-activation where it could underflow."""
    pre, gates, C = results.lstm_pre[first:], results.lstm_gates[first:], results.lstm_C
    I, F, G, O = (_GATE_ROW[g] for g in "ifgo")
    C_now, C_prev = C[first:], C[first - 1:-1]
    return {
        "dh_dC": _scaled_rows(gates[:, O] * tanh_prime(C_now),
                              _log_sigmoid(pre[:, O]) + _log_tanh_prime(C_now)),  # o_t tanh'(C_t)
        "tanh_C": _scaled_rows(np.tanh(C_now)),
        "f": _scaled_rows(gates[:, F], _log_sigmoid(pre[:, F])),
        "C_prev": _scaled_rows(C_prev),
        "g": _scaled_rows(gates[:, G]),
        "i": _scaled_rows(gates[:, I], _log_sigmoid(pre[:, I])),
        "act_i": _scaled_rows(sigmoid_prime(pre[:, I]), _log_sigmoid_prime(pre[:, I])),
        "act_f": _scaled_rows(sigmoid_prime(pre[:, F]), _log_sigmoid_prime(pre[:, F])),
        "act_g": _scaled_rows(tanh_prime(pre[:, G]), _log_tanh_prime(pre[:, G])),
        "act_o": _scaled_rows(sigmoid_prime(pre[:, O]), _log_sigmoid_prime(pre[:, O])),
    }


def _rnn_factor_tables(results: Results, first: int) -> dict:
    a = results.rnn_a[first:]
    return {"act": _scaled_rows(tanh_prime(a), _log_tanh_prime(a))}  # 1 - S_t^2


# ----------------------------------------------------------------------------------------------
# The unrolled graph
# ----------------------------------------------------------------------------------------------


def _weight_symbol(weight: str, k: int) -> str:
    return f"{weight}^({k})"


def _node_symbol(kind: str, step: int, weight: str) -> str:
    return _weight_symbol(weight, step) if kind in ("W", "U") else f"{kind}_{step}"


class _GraphEdge:
    """An edge and its local derivative, as it acts on a batch of row vectors:
    kind "diag": r ⊙ d;  "dense": (r ⊙ d) @ matrix;  "outer": (r ⊙ d)ᵀ ⊗ vector (the last edge).
    d = d_mantissa · 2^d_exponent."""

    __slots__ = ("index", "upper", "lower", "kind", "d_mantissa", "d_exponent", "matrix",
                 "vector", "formula", "enters_h", "_public")

    def __init__(self, kind, factor, formula, matrix=None, vector=None):
        self.kind, self.formula = kind, formula
        self.d_mantissa, self.d_exponent = factor
        self.d_exponent = int(self.d_exponent)
        self.matrix, self.vector = matrix, vector
        self.index = self.upper = self.lower = -1
        self.enters_h = False
        self._public = None

    def apply(self, rows: np.ndarray, exps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = rows * self.d_mantissa
        if self.kind == "dense":
            out = out @ self.matrix
        elif self.kind == "outer":
            out = out[:, :, None] * self.vector[None, None, :]
        return _renormalise(out, exps + self.d_exponent)

    def scalar(self) -> tuple[float, int]:
        """H = 1: the local derivative as (mantissa, exponent2)."""
        value = float(self.d_mantissa[0])
        if self.kind == "dense":
            value *= float(self.matrix[0, 0])
        elif self.kind == "outer":
            value *= float(self.vector[0])
        mantissa, shift = math.frexp(value)
        return mantissa, shift + self.d_exponent

    def numbers(self) -> tuple:
        """(value, sign, log10_abs, log2_bound): the first three for H = 1 only (else None).
        log2_bound is log2 of the Jacobian's spectral norm (a bound for large dense ones)."""
        if self._public is None:
            if self.d_mantissa.shape[0] == 1 and (self.vector is None or self.vector.shape[0] == 1) \
                    and (self.matrix is None or self.matrix.shape[1] == 1):
                mantissa, exponent = self.scalar()
                if mantissa == 0.0:
                    self._public = (0.0, 0.0, LOG10_OF_ZERO, -math.inf)
                else:
                    log2_abs = math.log2(abs(mantissa)) + exponent
                    value = (math.ldexp(mantissa, exponent)
                             if _NORMAL_MIN_LOG2 < log2_abs < _NORMAL_MAX_LOG2 else None)
                    self._public = (value, math.copysign(1.0, mantissa), log2_abs * LOG10_2, log2_abs)
            else:
                self._public = (None, None, None, self._log2_norm())
        return self._public

    def _log2_norm(self) -> float:
        size = float(np.abs(self.d_mantissa).max())
        if size > 0.0 and self.kind == "dense":
            if self.matrix.shape[1] <= _DIRECT_BOUND_MAX_H or self.matrix.shape[0] == 1:
                size = float(np.linalg.norm(self.d_mantissa[:, None] * self.matrix, 2))
            else:
                size *= float(np.linalg.norm(self.matrix))
        elif self.kind == "outer":
            size *= float(np.linalg.norm(self.vector))
        return math.log2(size) + self.d_exponent if size > 0.0 else -math.inf

    def log2_bound(self) -> float:
        return self.numbers()[3]


class _Graph:
    """The unrolled graph between L_T and the copies W^(t), t in `terminal_steps`, pruned to the
    nodes that reach one of them; nodes in topological order (node 0 is L_T), edges numbered in
    the order of their upper node."""

    def __init__(self, results: Results, weight: str, k_min: int, terminal_steps: Iterable[int]):
        self.results, self.weight = results, weight
        self.T = T = results.steps
        self.H = results.setup.hidden_size
        self.k_min = k_min
        terminal_steps = sorted(set(terminal_steps), reverse=True)
        if weight == "U":
            kinds = [("L", T), ("O", T)] + [("S", t) for t in range(T, k_min - 1, -1)]
            candidate = [(("L", T), ("O", T)), (("O", T), ("S", T))]
            candidate += [(("S", t), ("S", t - 1)) for t in range(T, k_min, -1)]
            terminal_kind, terminal_from = "U", "S"
            self._tables = _rnn_factor_tables(results, k_min)
        else:
            kinds = [("L", T), ("y", T)]
            for t in range(T, k_min - 1, -1):
                kinds += [("h", t), ("C", t), ("o", t), ("f", t), ("i", t), ("g", t)]
            candidate = [(("L", T), ("y", T)), (("y", T), ("h", T))]
            for t in range(T, k_min - 1, -1):
                candidate += [(("h", t), ("C", t)), (("h", t), ("o", t))]
                if t > k_min:
                    candidate.append((("C", t), ("C", t - 1)))
                candidate += [(("C", t), (gate, t)) for gate in ("f", "i", "g")]
                if t > k_min:
                    candidate += [((gate, t), ("h", t - 1)) for gate in ("o", "f", "i", "g")]
            terminal_kind, terminal_from = "W", _WEIGHT_GATE[weight]
            self._tables = _lstm_factor_tables(results, k_min)
        kinds += [(terminal_kind, t) for t in terminal_steps]
        candidate += [((terminal_from, t), (terminal_kind, t)) for t in terminal_steps]
        # keep the nodes that reach a terminal: edges point down the node order, so one sweep
        # over the edges by decreasing upper node settles every node
        order = {key: j for j, key in enumerate(kinds)}
        reaches = {(terminal_kind, t) for t in terminal_steps}
        for upper, lower in sorted(candidate, key=lambda e: -order[e[0]]):
            if lower in reaches:
                reaches.add(upper)
        kept = [key for key in kinds if key in reaches]
        self.keys = kept
        self.index = {key: j for j, key in enumerate(kept)}
        self.nodes = [Node(kind, step, _node_symbol(kind, step, weight)) for kind, step in kept]
        self.terminals = {t: self.index[(terminal_kind, t)] for t in terminal_steps}
        self.out_edges: list[list[_GraphEdge]] = [[] for _ in kept]
        for upper, lower in candidate:
            if upper in reaches and lower in reaches:
                edge = self._make_edge(upper, lower)
                edge.upper, edge.lower = self.index[upper], self.index[lower]
                edge.enters_h = weight != "U" and lower[0] == "h" and lower[1] < T
                self.out_edges[edge.upper].append(edge)
        self.edges: list[_GraphEdge] = []
        for out in self.out_edges:
            for edge in out:
                edge.index = len(self.edges)
                self.edges.append(edge)
        # enters_h by edge id, with a last False entry for the padding id -1
        self.enters_h = np.array([edge.enters_h for edge in self.edges] + [False])

    # --- local derivatives -----------------------------------------------------------------
    def _factor(self, name: str, t: int):
        mantissas, exps = self._tables[name]
        return mantissas[t - self.k_min], exps[t - self.k_min]

    def _make_edge(self, upper, lower) -> _GraphEdge:
        r = self.results
        (up_kind, t), (low_kind, _) = upper, lower
        transpose = "" if self.H == 1 else "ᵀ"
        if self.weight == "U":
            S, V = r.rnn_S, r.bases["V"]
            if up_kind == "L":  # dL_T/dO_T = O_T - Y*  (c = 0, weights.py)
                factor = _scaled_rows([V @ S[t] - r.setup.target])
                return _GraphEdge("diag", (factor[0][0], factor[1][0]), f"O_{t} − Y*")
            if up_kind == "O":
                return _GraphEdge("dense", (np.ones(1), 0), "V", matrix=V)
            if low_kind == "S":  # (R1)
                return _GraphEdge("dense", self._factor("act", t), f"(1 − S_{t}²)·U", matrix=r.rnn_U)
            return _GraphEdge("outer", self._factor("act", t), f"(1 − S_{t}²)·S_{t - 1}{transpose}",
                              vector=S[t - 1])
        h = r.lstm_h
        if up_kind == "L":  # dL_T/dy_T = y_T - Y*  (c = 0, weights.py)
            factor = _scaled_rows([r.bases["V"] @ h[t] - r.setup.target])
            return _GraphEdge("diag", (factor[0][0], factor[1][0]), f"y_{t} − Y*")
        if up_kind == "y":
            return _GraphEdge("dense", (np.ones(1), 0), "V", matrix=r.bases["V"])
        if up_kind == "h" and low_kind == "C":
            return _GraphEdge("diag", self._factor("dh_dC", t), f"o_{t}·tanh'(C_{t})")
        if up_kind == "h":  # -> o_t
            return _GraphEdge("diag", self._factor("tanh_C", t), f"tanh(C_{t})")
        if up_kind == "C":
            if low_kind == "C":  # the carousel
                return _GraphEdge("diag", self._factor("f", t), f"f_{t}")
            if low_kind == "f":
                return _GraphEdge("diag", self._factor("C_prev", t), f"C_{t - 1}")
            if low_kind == "i":
                return _GraphEdge("diag", self._factor("g", t), f"g_{t}")
            return _GraphEdge("diag", self._factor("i", t), f"i_{t}")  # -> g_t
        # a gate: -> h_{t-1} (dense, through W_h<gate>) or -> W^(t) (the last edge)
        factor = self._factor(f"act_{up_kind}", t)
        local = f"(1 − g_{t}²)" if up_kind == "g" else f"{up_kind}_{t}(1 − {up_kind}_{t})"
        if low_kind == "h":
            return _GraphEdge("dense", factor, f"{local}·W_h{up_kind}",
                              matrix=r.lstm_W_h[_GATE_ROW[up_kind]])
        return _GraphEdge("outer", factor, f"{local}·h_{t - 1}{transpose}", vector=h[t - 1])

    # --- the part of the graph above one terminal --------------------------------------------
    def subgraph(self, k: int) -> tuple[tuple[Node, ...], tuple[Edge, ...], np.ndarray]:
        """Nodes and public edges of the paths to W^(k), renumbered, and the map from this
        graph's edge ids to theirs (-1 for edges not on such a path; entry -1 maps -1 to -1)."""
        terminal = self.terminals[k]
        reaches = [False] * len(self.nodes)
        reaches[terminal] = True
        for node in range(terminal - 1, -1, -1):
            reaches[node] = any(reaches[edge.lower] for edge in self.out_edges[node])
        nodes = tuple(node for node, keep in zip(self.nodes, reaches) if keep)
        edge_map = np.full(len(self.edges) + 1, -1, dtype=np.int64)
        edges = []
        for edge, fields in zip(self.edges, self._public_fields()):
            if reaches[edge.upper] and reaches[edge.lower]:
                edge_map[edge.index] = len(edges)
                edges.append(Edge(len(edges), *fields))
        return nodes, tuple(edges), edge_map

    def _public_fields(self) -> list[tuple]:
        """Per edge, every field of its public `Edge` but the index (made once per graph)."""
        if getattr(self, "_fields", None) is None:
            self._fields = []
            for edge in self.edges:
                upper, lower = self.nodes[edge.upper], self.nodes[edge.lower]
                value, sign, log10_abs, log2_bound = edge.numbers()
                if self.H != 1:  # (the first edge, dL_T/dy_T, is a scalar for any H)
                    value = sign = log10_abs = None
                log10_bound = log2_bound * LOG10_2 if log2_bound > -math.inf else LOG10_OF_ZERO
                self._fields.append((upper, lower, f"∂{upper.symbol}/∂{lower.symbol}",
                                     edge.formula, value, sign, log10_abs, log10_bound))
        return self._fields


# ----------------------------------------------------------------------------------------------
# Dynamic programming over the graph
# ----------------------------------------------------------------------------------------------


def _start_rows(n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.zeros((n_groups, 1))
    rows[0, 0] = 1.0  # dL_T/dL_T; every path starts in group 0
    return rows, np.zeros(n_groups, dtype=np.int64)


def _shift_groups(rows, exps) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row vectors by group after entering an h node: group j -> j + 1; the last group keeps
    its own (it holds 'that many passes or more')."""
    if rows.shape[0] == 1:
        return [(rows, exps)]
    moved, moved_exps = np.zeros_like(rows), np.zeros_like(exps)
    moved[1:], moved_exps[1:] = rows[:-1], exps[:-1]
    stay, stay_exps = np.zeros_like(rows), np.zeros_like(exps)
    stay[-1], stay_exps[-1] = rows[-1], exps[-1]
    return [(moved, moved_exps), (stay, stay_exps)]


def _group_totals(graph: _Graph, n_groups: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """One top-down sweep: at each node, the sum over the paths from L_T to it of their row
    vectors, split by group. Returns, for each terminal step t, the (n_groups, H, H) group totals
    of dL_T/dW^(t) and their exponents."""
    incoming: list = [[] for _ in graph.nodes]
    incoming[0].append(_start_rows(n_groups))
    terminal_of = {node: t for t, node in graph.terminals.items()}
    found = {}
    for node, out in enumerate(graph.out_edges):
        if not incoming[node]:
            continue
        rows, exps = _combine(incoming[node])
        incoming[node] = None
        if node in terminal_of:
            found[terminal_of[node]] = (rows, exps)
        for edge in out:
            moved = edge.apply(rows, exps)
            incoming[edge.lower] += _shift_groups(*moved) if edge.enters_h else [moved]
    return found


def _group_counts(graph: _Graph, n_groups: int) -> dict[int, list[int]]:
    """Exact number of paths from L_T to each terminal W^(t) in each group."""
    counts: list = [None] * len(graph.nodes)
    counts[0] = [1] + [0] * (n_groups - 1)
    for node, out in enumerate(graph.out_edges):
        here = counts[node]
        if here is None:
            continue
        for edge in out:
            moved = here
            if edge.enters_h and n_groups > 1:
                moved = [0] + here[:-1]
                moved[-1] += here[-1]
            below = counts[edge.lower]
            counts[edge.lower] = list(moved) if below is None else [a + b for a, b in zip(below, moved)]
    return {t: counts[node] for t, node in graph.terminals.items()}


# ----------------------------------------------------------------------------------------------
# Listing paths: all of them, or the largest by best-first search
# ----------------------------------------------------------------------------------------------


def _enumerate_all(graph: _Graph, wanted: set[int]) -> dict[int, tuple]:
    """Every path from L_T to the terminals W^(t), t in `wanted`, vectorised over the paths
    arriving at each node. Returns for each t (matrices (n, H, H), exps (n,), edge ids (n, width)
    padded with -1)."""
    longest = [0] * len(graph.nodes)
    for node, out in enumerate(graph.out_edges):
        for edge in out:
            longest[edge.lower] = max(longest[edge.lower], longest[node] + 1)
    wanted_nodes = {graph.terminals[t]: t for t in wanted}
    # a prefix is only worth carrying if it can still reach a wanted terminal
    useful = np.zeros(len(graph.nodes), dtype=bool)
    useful[list(wanted_nodes)] = True
    for node in range(len(graph.nodes) - 1, -1, -1):
        useful[node] |= any(useful[edge.lower] for edge in graph.out_edges[node])
    width = max(longest[node] for node in wanted_nodes)
    incoming: list = [[] for _ in graph.nodes]
    rows, exps = _start_rows(1)
    incoming[0].append((rows, exps, np.full((1, width), -1, dtype=np.int64), np.zeros(1, dtype=np.int64)))
    found = {}
    for node, out in enumerate(graph.out_edges):
        if not incoming[node]:
            continue
        parts = incoming[node]
        incoming[node] = None
        if len(parts) == 1:
            rows, exps, ids, lengths = parts[0]
        else:
            rows, exps, ids, lengths = (np.concatenate([p[j] for p in parts]) for j in range(4))
        if node in wanted_nodes:
            found[wanted_nodes[node]] = (rows, exps, ids)
        where = np.arange(rows.shape[0])
        for edge in out:
            if not useful[edge.lower]:
                continue
            new_rows, new_exps = edge.apply(rows, exps)
            new_ids = ids.copy()
            new_ids[where, lengths] = edge.index
            incoming[edge.lower].append((new_rows, new_exps, new_ids, lengths + 1))
    return found


def _best_first(graph: _Graph, k: int, n_best: int, max_expansions: int):
    """The n_best largest paths to W^(k) (|value| for H = 1, Frobenius norm for H > 1), exactly,
    by best-first search with an upper bound of each prefix's best completion.
    Returns (matrices (n, H, H), exps (n,), edge ids (n, width) padded with -1, exact: bool)."""
    terminal = graph.terminals[k]
    # which nodes reach W^(k), and the best completion bound from each: the max over their paths
    # to W^(k) of sum log2 ||J_e|| (-inf when every such path has a zero factor)
    reaches = [False] * len(graph.nodes)
    best_after = [-math.inf] * len(graph.nodes)
    reaches[terminal], best_after[terminal] = True, 0.0
    for node in range(terminal - 1, -1, -1):
        for edge in graph.out_edges[node]:
            if reaches[edge.lower]:
                reaches[node] = True
                best_after[node] = max(best_after[node], edge.log2_bound() + best_after[edge.lower])
    # queue entries (-priority, -counter, node, row, exp, link): among equal priorities the
    # newest first, so that zero-valued prefixes (priority -inf) finish depth-first
    counter = 0
    rows, exps = _start_rows(1)
    queue = [(-best_after[0], counter, 0, rows, exps, None)]
    finished: list = []
    expansions = 0
    exact = True
    while queue and len(finished) < n_best:
        entry = heapq.heappop(queue)
        _, _, node, rows, exps, link = entry
        if node == terminal:
            finished.append((rows[0], int(exps[0]), link))
            continue
        if expansions >= max_expansions:
            exact = False
            heapq.heappush(queue, entry)  # back, unexpanded
            break
        expansions += 1
        for edge in graph.out_edges[node]:
            if not reaches[edge.lower]:
                continue  # towards another copy W^(t) only
            new_rows, new_exps = edge.apply(rows, exps)
            size = float(np.linalg.norm(new_rows))
            if size > 0.0 and best_after[edge.lower] > -math.inf:
                priority = math.log2(size) + int(new_exps[0]) + best_after[edge.lower]
            else:
                priority = -math.inf  # a zero path (or a zero factor ahead): listed last
            counter -= 1
            heapq.heappush(queue, (-priority, counter, edge.lower, new_rows, new_exps,
                                   (edge.index, link)))
    if not exact:  # fill up with finished paths still queued, by their exact size
        waiting = sorted((entry for entry in queue if entry[2] == terminal), key=lambda e: e[:2])
        for entry in waiting[: n_best - len(finished)]:
            finished.append((entry[3][0], int(entry[4][0]), entry[5]))
    chains = []
    for _, _, link in finished:
        ids = []
        while link is not None:
            ids.append(link[0])
            link = link[1]
        chains.append(ids[::-1])
    width = max((len(ids) for ids in chains), default=0)
    edge_ids = np.full((len(chains), width), -1, dtype=np.int64)
    for j, ids in enumerate(chains):
        edge_ids[j, :len(ids)] = ids
    H = graph.H
    matrices = np.array([m for m, _, _ in finished]).reshape(len(finished), H, H)
    return matrices, np.array([e for _, e, _ in finished], dtype=np.int64), edge_ids, exact


# ----------------------------------------------------------------------------------------------
# The project's BPTT contribution, in the same representation
# ----------------------------------------------------------------------------------------------


def _bptt_scaled(results: Results, weight: str, k: int) -> tuple[np.ndarray, int]:
    """Results' dL_T/dW^(k) = delta_k state_{k-1}^T · 10^scale_k as (mantissa, exponent2); the
    two vectors are scaled to [0.5, 1) first, so a tiny state does not lose digits."""
    if weight == "U":
        delta, scale, state = results.rnn_delta[k], results.rnn_delta_log10_scale[k], results.rnn_S
    else:
        gate = _GATE_ROW[_WEIGHT_GATE[weight]]
        delta = results.lstm_delta[k, gate]
        scale, state = results.lstm_delta_log10_scale[k, gate], results.lstm_h  # one scale per step and gate
    log2_scale = float(scale) / LOG10_2
    exponent = math.floor(log2_scale)
    vectors, exps = _renormalise(np.stack([delta, state[k - 1]]), np.zeros(2, dtype=np.int64))
    matrix = np.outer(vectors[0], vectors[1]) * 2.0 ** (log2_scale - exponent)
    rows, out = _renormalise(matrix[None], np.array([exponent + exps.sum()], dtype=np.int64))
    return rows[0], int(out[0])


# ----------------------------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------------------------


def _group_label(weight: str, index: int, open_ended: bool) -> str:
    if weight == "U":
        return "the single chain"
    if index == 0:
        return "direct through o_T" if weight == "W_ho" else "stays in the cell"
    times = "once" if index == 1 else f"{index} times"
    return f"through h {times}{' or more' if open_ended else ''}"


def paths_to(results: Results, weight: str, k: int, limit: int | None = DEFAULT_LIMIT,
             group_cap: int = DEFAULT_GROUP_CAP,
             max_expansions: int = DEFAULT_MAX_EXPANSIONS) -> PathsOfK:
    """The paths from L_T to W^(k) (weight one of W_hf, W_hi, W_hg, W_ho, U), their values, groups
    and total: every path when there are at most `limit` (or `limit` is None), else the `limit`
    largest and the exact remainder of each group. See the module docstring."""
    return paths_by_k(results, weight, [k], limit, group_cap, max_expansions)[k]


def paths_by_k(results: Results, weight: str, ks: Iterable[int] | None = None,
               limit: int | None = DEFAULT_LIMIT, group_cap: int = DEFAULT_GROUP_CAP,
               max_expansions: int = DEFAULT_MAX_EXPANSIONS) -> dict[int, PathsOfK]:
    """`paths_to` for each k in `ks` (default 1..T), sharing one graph, one dynamic-programming
    sweep and one enumeration between them."""
    T = results.steps
    ks = sorted(set(range(1, T + 1) if ks is None else ks))
    for k in ks:
        _check_weight_and_k(weight, T, k)
    counts = {k: count_paths(weight, T, k) for k in ks}
    if limit is None and max(counts.values()) > MAX_ENUMERATE:
        raise ValueError(f"{max(counts.values())} paths to one copy of {weight}: too many to list "
                         "(give a limit)")
    graph = _Graph(results, weight, ks[0], ks)
    n_groups = 1 if weight == "U" else min(T - ks[0], max(1, group_cap)) + 1
    group_totals = _group_totals(graph, n_groups)
    group_counts = _group_counts(graph, n_groups)
    listed_all = [k for k in ks if limit is None or counts[k] <= limit]
    enumerated = _enumerate_all(graph, set(listed_all)) if listed_all else {}
    out = {}
    for k in ks:
        assert sum(group_counts[k]) == counts[k], (group_counts[k], counts[k])
        if k in enumerated:
            listed, ranking = enumerated[k], "all"
        else:
            *listed, exact = _best_first(graph, k, limit, max_expansions)
            ranking = "exact" if exact else "capped"
        out[k] = _paths_of_k(graph, k, counts[k], group_totals[k], group_counts[k], listed, ranking)
    return out


def _paths_of_k(graph: _Graph, k: int, count: int, group_totals, group_counts, listed,
                ranking: str) -> PathsOfK:
    results, weight, T, H = graph.results, graph.weight, graph.T, graph.H
    n_groups = len(group_counts)
    group_rows, group_exps = group_totals
    total_rows, total_exps = _segment_sum(group_rows, group_exps, np.zeros(n_groups, dtype=np.int64), 1)
    total = (total_rows[0], int(total_exps[0]))

    # the listed paths, largest first, as columns
    matrices, exps, ids = listed
    h_passes = graph.enters_h[ids].sum(axis=1)
    columns = _amount_columns(matrices, exps, total)
    order = np.argsort(-columns["log10_abs"], kind="stable")
    columns = {name: column[order] for name, column in columns.items()}
    nodes, edges, edge_map = graph.subgraph(k)
    columns["edge_ids"] = edge_map[ids[order]]
    columns["h_passes"] = h_passes[order]
    columns["group"] = np.minimum(columns["h_passes"], n_groups - 1)
    paths = PathList(weight, k, T, edges, columns)

    # each group's total and the remainder of its unlisted paths (group total minus the
    # group's listed paths), all groups at once
    n_listed = len(paths)
    rest_rows, rest_exps = _segment_sum(
        np.concatenate([group_rows, -columns["mantissas"]]),
        np.concatenate([group_exps, columns["exponents"]]),
        np.concatenate([np.arange(n_groups), columns["group"]]), n_groups)
    listed_count = np.bincount(columns["group"], minlength=n_groups)
    group_amounts = _amount_list(group_rows, group_exps, total)
    rest_amounts = _amount_list(rest_rows, rest_exps, total)
    groups = tuple(
        PathGroup(index=j, label=_group_label(weight, j, 0 < j == n_groups - 1 < T - k),
                  count=group_counts[j], listed_count=int(listed_count[j]),
                  total=group_amounts[j], remainder=rest_amounts[j])
        for j in range(n_groups) if group_counts[j] > 0)
    everything = _segment_sum(np.concatenate([columns["mantissas"], rest_rows]),
                              np.concatenate([columns["exponents"], rest_exps]),
                              np.zeros(n_listed + n_groups, dtype=np.int64), 1)

    total_amount = _amount(*total, total)
    bptt = _amount(*_bptt_scaled(results, weight, k), total)
    return PathsOfK(
        weight=weight, k=k, steps=T, hidden_size=H, count=count, paths=paths, ranking=ranking,
        groups=groups, total=total_amount,
        listed_plus_remainders=_amount(everything[0][0], int(everything[1][0]), total), bptt=bptt,
        relative_difference=_relative_difference(
            total_amount, bptt, float(np.max(columns["log10_abs"])) if len(columns["log10_abs"]) else LOG10_OF_ZERO),
        nodes=nodes, edges=edges)


def rnn_path(results: Results, k: int) -> Path:
    """The vanilla RNN's single path L_T -> O_T -> S_T -> … -> S_k -> U^(k)."""
    return paths_to(results, "U", k).paths[0]


def _counts_by_lag(weight: str, max_lag: int) -> list[int]:
    """count_paths(weight, T, T - lag) for lag = 0..max_lag, in one pass of the recursion."""
    if weight == "U":
        return [1] * (max_lag + 1)
    from_C, from_h = (0, 1) if weight == "W_ho" else (1, 1)
    counts = [from_h]
    for _ in range(max_lag):
        from_C = from_C + 3 * from_h
        from_h = from_C + from_h
        counts.append(from_h)
    return counts


def _scaled(vector: np.ndarray, exponent: int) -> tuple[np.ndarray, int]:
    """(vector, exponent2) rescaled by an exact power of two; a zero vector gets _ZERO_EXP."""
    size = float(np.abs(vector).max())
    if size == 0.0:
        return vector, _ZERO_EXP
    shift = math.frexp(size)[1]
    return np.ldexp(vector, -shift), exponent + shift


def _plus(*terms: tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    """Sum of scaled vectors, aligned to the largest exponent, rescaled. An exponent below
    _ZERO_EXP / 2 marks a zero vector (a zero vector times factors keeps a hopeless exponent)."""
    top = max(exponent for _, exponent in terms)
    if top < _ZERO_EXP // 2:
        return terms[0][0] * 0.0, _ZERO_EXP
    total = sum(np.ldexp(vector, max(exponent - top, _MIN_SHIFT)) for vector, exponent in terms
                if exponent >= _ZERO_EXP // 2)
    return _scaled(total, top)


def _product_table(first: tuple, second: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Entry-wise product of two factor tables (rows of mantissas, exponents2), rescaled."""
    return _renormalise(first[0] * second[0], first[1] + second[1])


def _deltas_by_sweep(results: Results, weight: str) -> tuple[np.ndarray, np.ndarray]:
    """For k = 1..T, the sum over all paths from L_T to the pre-activation of W's gate at step k
    (so that the sum of the paths to W^(k) is delta_k h_{k-1}^T): the same edges as the graph,
    swept step by step (one row vector for h_t and one for C_t) instead of node by node.
    Vectors are rescaled after every matrix product and every sum; between them, a product with
    a diagonal factor (mantissas in [0.5, 1)) only adds exponents.
    Returns mantissas (T + 1, H) (row 0 zero) and exponents2 (T + 1,) (_ZERO_EXP for zero rows)."""
    T, H = results.steps, results.setup.hidden_size
    deltas = np.zeros((T + 1, H))
    exps = np.zeros(T + 1, dtype=np.int64)
    V = results.bases["V"]
    if weight == "U":
        act_m, act_e = _rnn_factor_tables(results, 1)["act"]
        loss_m, loss_e = _scaled_rows([V @ results.rnn_S[T] - results.setup.target])  # dL/dO_T
        row, row_e = _scaled(V[0] * loss_m[0], int(loss_e[0]))  # dL_T/dS_T (c = 0)
        for t in range(T, 0, -1):
            deltas[t], exps[t] = row * act_m[t - 1], row_e + act_e[t - 1]  # dL_T/da_t
            row, row_e = _scaled(deltas[t] @ results.rnn_U, int(exps[t]))
    else:
        tables = _lstm_factor_tables(results, 1)
        # from C_t (i, f, g) or h_t (o) to each gate's pre-activation: two diagonal factors
        to_pre = (_product_table(tables["g"], tables["act_i"]),  # dC/di = g_t, then sigma'
                  _product_table(tables["C_prev"], tables["act_f"]),  # dC/df = C_{t-1}
                  _product_table(tables["i"], tables["act_g"]),  # dC/dg = i_t, then tanh'
                  _product_table(tables["tanh_C"], tables["act_o"]))  # dh/do = tanh(C_t)
        dh_dC_m, dh_dC_e = tables["dh_dC"]
        f_m, f_e = tables["f"]
        W_h, gate_row = results.lstm_W_h, _GATE_ROW[_WEIGHT_GATE[weight]]
        loss_m, loss_e = _scaled_rows([V @ results.lstm_h[T] - results.setup.target])  # dL/dy_T
        row_h = _scaled(V[0] * loss_m[0], int(loss_e[0]))  # dL_T/dh_T (c = 0)
        carry = (np.zeros(H), _ZERO_EXP)  # from C_{t+1} through the carousel
        for t in range(T, 0, -1):
            j = t - 1
            row_C = _plus((row_h[0] * dh_dC_m[j], row_h[1] + dh_dC_e[j]), carry)
            pre = [(row_C[0] * to_pre[g][0][j], row_C[1] + to_pre[g][1][j]) for g in range(3)]
            pre.append((row_h[0] * to_pre[3][0][j], row_h[1] + to_pre[3][1][j]))
            deltas[t], exps[t] = pre[gate_row]
            if t > 1:
                row_h = _plus(*(_scaled(m @ W_h[g], e) for g, (m, e) in enumerate(pre)))
                carry = (row_C[0] * f_m[j], row_C[1] + f_e[j])
    deltas, exps = _renormalise(deltas, exps)
    nonzero = np.abs(deltas).max(axis=1) > 0.0
    return deltas, np.where(nonzero, exps, _ZERO_EXP)


def _log10_rank_one(a: np.ndarray, a_exps: np.ndarray, b: np.ndarray, b_exps: np.ndarray):
    """Rows k of the rank-one matrices a_k b_k^T 2^(ea + eb): (sign (H = 1), log10 of |.| or
    the Frobenius norm, value for H = 1 if a normal float, else None)."""
    norms = np.sqrt(np.einsum("ki,ki->k", a, a) * np.einsum("ki,ki->k", b, b))
    zero = (norms == 0.0) | (a_exps == _ZERO_EXP) | (b_exps == _ZERO_EXP)
    with np.errstate(divide="ignore"):
        log2_abs = np.log2(np.where(zero, 1.0, norms)) + np.where(zero, 0, a_exps + b_exps)
    log10_abs = np.where(zero, LOG10_OF_ZERO, log2_abs * LOG10_2)
    scalar = a[:, 0] * b[:, 0] if a.shape[1] == 1 else np.full(a.shape[0], np.nan)
    sign = np.where(zero, 0.0, np.sign(scalar))
    values = []
    for j in range(a.shape[0]):
        if a.shape[1] != 1:
            values.append(None)
        elif zero[j]:
            values.append(0.0)
        elif _NORMAL_MIN_LOG2 < log2_abs[j] < _NORMAL_MAX_LOG2:
            values.append(math.ldexp(float(scalar[j]), int(a_exps[j] + b_exps[j])))
        else:
            values.append(None)
    return sign, log10_abs, values


def _gradient(a: np.ndarray, a_exps: np.ndarray, b: np.ndarray, b_exps: np.ndarray):
    """sum_k a_k b_k^T 2^(ea_k + eb_k) as (mantissa (H, H), exponent2), one aligned product."""
    exps = np.where((a_exps == _ZERO_EXP) | (b_exps == _ZERO_EXP), _ZERO_EXP, a_exps + b_exps)
    top = int(exps.max())
    if top == _ZERO_EXP:
        return np.zeros((a.shape[1], a.shape[1])), 0
    weights = np.ldexp(1.0, np.maximum(exps - top, _MIN_SHIFT))
    weights[exps == _ZERO_EXP] = 0.0
    total = (a * weights[:, None]).T @ b
    rows, out = _renormalise(total[None], np.array([top], dtype=np.int64))
    return rows[0], int(out[0])


def path_ledger(results: Results, weight: str) -> Ledger:
    """For each k = 1..T the sum of all its paths (a sweep over the graph's edges, step by step)
    against the project's BPTT contribution, and their sum over k against the full gradient."""
    T = results.steps
    _check_weight_and_k(weight, T, 1)
    H = results.setup.hidden_size
    paths_delta, paths_exps = _deltas_by_sweep(results, weight)
    # the project's BPTT: delta_k 10^scale_k as mantissa and power of two
    if weight == "U":
        delta, scale, state = results.rnn_delta, results.rnn_delta_log10_scale, results.rnn_S
    else:
        gate = _GATE_ROW[_WEIGHT_GATE[weight]]
        delta = results.lstm_delta[:, gate]
        scale, state = results.lstm_delta_log10_scale[:, gate], results.lstm_h  # one scale per step and gate
    log2_scale = np.asarray(scale, dtype=np.float64) / LOG10_2
    whole = np.floor(log2_scale)
    bptt_delta, bptt_exps = _renormalise(delta * np.exp2(log2_scale - whole)[:, None],
                                         whole.astype(np.int64))
    nonzero = np.abs(bptt_delta).max(axis=1) > 0.0
    bptt_exps = np.where(nonzero, bptt_exps, _ZERO_EXP)
    # h_{k-1} (S_{k-1}) for k = 1..T, scaled by powers of two too (a tiny state keeps its digits)
    prev = np.zeros((T + 1, H))
    prev[1:] = state[:-1]
    prev, prev_exps = _renormalise(prev, np.zeros(T + 1, dtype=np.int64))
    prev_exps = np.where(np.abs(prev).max(axis=1) > 0.0, prev_exps, _ZERO_EXP)
    # rows: both sides are delta_k h_{k-1}^T with the same h_{k-1}, so their difference is
    # (paths delta - bptt delta) h_{k-1}^T and the relative difference is that of the deltas
    sign, log10_abs, value = _log10_rank_one(paths_delta, paths_exps, prev, prev_exps)
    bptt_sign, bptt_log10, bptt_value = _log10_rank_one(bptt_delta, bptt_exps, prev, prev_exps)
    gradient_paths = _gradient(paths_delta[1:], paths_exps[1:], prev[1:], prev_exps[1:])
    gradient_bptt = _gradient(bptt_delta[1:], bptt_exps[1:], prev[1:], prev_exps[1:])
    # share of k in the gradient: <a_k b_k^T, G> / ||G||^2 = a_k . (G b_k) / ||G||^2
    G, G_exp = gradient_paths
    G_norm2 = float(np.sum(G * G))
    if G_norm2 > 0.0:
        dots = np.einsum("ki,ki->k", paths_delta, prev @ G.T)
        share_exps = np.where((paths_exps == _ZERO_EXP) | (prev_exps == _ZERO_EXP), -1200,
                              paths_exps + prev_exps - G_exp)
        shares = _ldexp_column(dots / G_norm2, share_exps)
    else:
        shares = np.full(T + 1, np.nan)
    counts = _counts_by_lag(weight, T - 1)
    rows = []
    for k in range(1, T + 1):
        difference = _relative_difference_of_vectors(
            paths_delta[k], int(paths_exps[k]), bptt_delta[k], int(bptt_exps[k]))
        if prev_exps[k] == _ZERO_EXP:
            difference = 0.0  # h_{k-1} = 0: both contributions are exactly 0
        rows.append(LedgerRow(
            weight=weight, k=k, steps=T, hidden_size=H, count=counts[T - k],
            sign=float(sign[k]) if H == 1 else math.nan, log10_abs=float(log10_abs[k]), value=value[k],
            bptt_sign=float(bptt_sign[k]) if H == 1 else math.nan,
            bptt_log10_abs=float(bptt_log10[k]), bptt_value=bptt_value[k],
            share=_none_if_nan(shares[k]), relative_difference=difference))
    gradient_paths_amount = _amount(*gradient_paths, gradient_paths)
    gradient_bptt_amount = _amount(*gradient_bptt, gradient_paths)
    return Ledger(weight=weight, steps=T, hidden_size=H, rows=tuple(rows),
                  gradient_paths=gradient_paths_amount, gradient_bptt=gradient_bptt_amount,
                  relative_difference=_relative_difference(gradient_paths_amount, gradient_bptt_amount))


def _relative_difference_of_vectors(a: np.ndarray, a_exp: int, b: np.ndarray, b_exp: int) -> float:
    """||a 2^ea - b 2^eb|| / max(||a 2^ea||, ||b 2^eb||), 0 when both are 0."""
    if a_exp == _ZERO_EXP and b_exp == _ZERO_EXP:
        return 0.0
    top = max(a_exp, b_exp)
    a_aligned = np.ldexp(a, max(a_exp - top, _MIN_SHIFT)) if a_exp != _ZERO_EXP else a * 0.0
    b_aligned = np.ldexp(b, max(b_exp - top, _MIN_SHIFT)) if b_exp != _ZERO_EXP else b * 0.0
    largest = max(float(np.linalg.norm(a_aligned)), float(np.linalg.norm(b_aligned)))
    return float(np.linalg.norm(a_aligned - b_aligned)) / largest


# ----------------------------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------------------------

CSV_COLUMNS = ("weight", "k", "T", "row", "rank", "group", "group_label", "h_passes", "count",
               "path", "value", "log10_abs", "frobenius", "projection", "share")


def _csv_number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _csv_value(amount: Amount, hidden_size: int) -> str:
    """H = 1: the signed value (full precision; e-notation from log10 beyond float64); else ''."""
    if hidden_size != 1:
        return ""
    value = amount.value
    if value is not None:
        return repr(float(value))
    return format_number(amount.sign, amount.log10_abs, digits=17)


def csv_rows(items: Iterable[PathsOfK]) -> list[dict]:
    """One row per listed path and one per non-empty group remainder, columns CSV_COLUMNS:
    `value` the signed value for H = 1 (empty for H > 1; the values of one k add up to
    dL_T/dW^(k)), `projection` <., total>/||total||_F (empty when the total is 0; they add up to
    ||total||_F), `frobenius` ||.||_F (empty beyond float64), `log10_abs` always, `share`."""
    rows = []
    for item in items:
        labels = {group.index: group.label for group in item.groups}
        for path in item.paths:
            rows.append(dict(
                weight=item.weight, k=item.k, T=item.steps, row="path", rank=path.rank,
                group=path.group, group_label=labels[path.group], h_passes=path.h_passes, count=1,
                path=path.product, value=_csv_value(path, item.hidden_size),
                log10_abs=repr(path.log10_abs), frobenius=_csv_number(path.frobenius),
                projection=_csv_number(path.projection), share=_csv_number(path.share)))
        for group in item.groups:
            if group.remainder_count == 0:
                continue
            rest = group.remainder
            rows.append(dict(
                weight=item.weight, k=item.k, T=item.steps, row="remainder", rank="",
                group=group.index, group_label=group.label, h_passes="", count=group.remainder_count,
                path=f"rest of '{group.label}' ({_paths_text(group.remainder_count)})",
                value=_csv_value(rest, item.hidden_size), log10_abs=repr(rest.log10_abs),
                frobenius=_csv_number(rest.frobenius), projection=_csv_number(rest.projection),
                share=_csv_number(rest.share)))
    return rows


__all__ = [
    "AGREE_RELATIVE", "CSV_COLUMNS", "DEFAULT_LIMIT", "MAX_ENUMERATE", "PATH_WEIGHTS", "Amount",
    "Edge", "Ledger", "LedgerRow", "Node", "Path", "PathGroup", "PathList", "PathsOfK",
    "count_paths", "csv_rows", "format_number", "path_ledger", "paths_by_k", "paths_to", "rnn_path",
]
