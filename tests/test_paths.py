"""The path engine (simulator/paths.py): every path from L_T to W^(k), checked against the
project's BPTT, central finite differences on an untied copy W^(k), the notes' written-out
products and an independent count of the unrolled graph."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import InitialState, InputSignal, Knobs, Setup, compute
from simulator.paths import (
    CSV_COLUMNS,
    PATH_WEIGHTS,
    count_paths,
    csv_rows,
    format_number,
    path_ledger,
    paths_by_k,
    paths_to,
    rnn_path,
)
from simulator.reference import LOG10_OF_ZERO
from simulator.weights import initial_states, lstm_params, rnn_params

from .fd_models import fd_gradient_matrix, lstm_loss, rnn_loss

LSTM_WEIGHTS = ("W_hi", "W_hf", "W_hg", "W_ho")  # gate rows 0..3
GATE_ROW = {"W_hi": 0, "W_hf": 1, "W_hg": 2, "W_ho": 3}
I, F, G, O = 0, 1, 2, 3
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def value_of(amount) -> np.ndarray:
    return np.ldexp(amount.mantissa, amount.exponent2)


def frob(matrix) -> float:
    return float(np.linalg.norm(matrix))


def paths_sum(item) -> np.ndarray:
    return sum((value_of(path) for path in item.paths), np.zeros((item.hidden_size,) * 2))


def rounded(low, high):
    # six decimals: no 1e-169 knobs whose products underflow inside the project's BPTT (see
    # test_paths_keep_digits_where_the_bptt_product_underflows for that case)
    return st.floats(low, high, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 6))


knob = rounded(-2.0, 2.0)


@st.composite
def small_setups(draw, max_steps=5, max_hidden=3):
    return Setup(
        hidden_size=draw(st.integers(1, max_hidden)),
        input_size=draw(st.integers(1, 2)),
        steps=draw(st.integers(1, max_steps)),
        seed=draw(st.integers(0, 2**16)),
        input=InputSignal(kind=draw(st.sampled_from(["white_noise", "constant", "sine", "zeros"])),
                          amplitude=draw(rounded(-1.0, 1.0))),
        knobs=Knobs(**{name: draw(knob) for name in ("U", "W_hi", "W_hf", "W_hg", "W_ho",
                                                     "b_i", "b_f", "b_g", "b_o", "input_gain")}),
        initial=InitialState(S0=draw(rounded(-0.5, 0.5)), h0=draw(rounded(-0.5, 0.5)),
                             C0=draw(rounded(-1.0, 1.0))),
        target=draw(rounded(-1.0, 1.0)),
    )


def fd_untied_gradient(setup, results, weight, k):
    """Central differences of L_T w.r.t. the copy W^(k) used at step k only (tests/fd_models.py)."""
    T = setup.steps
    if weight == "U":
        p = rnn_params(setup)
        S0 = initial_states(setup)[0]

        def loss(U_k):
            steps = [U_k if step == k else p.U for step in range(1, T + 1)]
            return rnn_loss(p.W_x, steps, p.b, p.V, p.c, setup.target, results.x, S0)

        return fd_gradient_matrix(loss, p.U)
    p = lstm_params(setup)
    _, h0, C0 = initial_states(setup)
    row = GATE_ROW[weight]

    def loss(matrix):
        copy = p.W_h.copy()
        copy[row] = matrix
        steps = [copy if step == k else p.W_h for step in range(1, T + 1)]
        return lstm_loss(p.W_x, steps, p.b, p.V, p.c, setup.target, results.x, h0, C0)

    return fd_gradient_matrix(loss, p.W_h[row])


def assert_close(value, reference, rel, spread=0.0):
    """||value - reference||_F <= rel ||reference||_F, or at most a rounding floor of 1e-15 `spread`
    (the sum of the sizes of the terms added: a float sum of terms that cancel is exact only to a
    few eps times that, whatever rel asks; found by hypothesis: an error of 0.13 eps spread)."""
    error = frob(np.asarray(value) - np.asarray(reference))
    allowed = max(rel * frob(reference), 1e-15 * spread)
    assert error <= allowed, (error, allowed, value, reference)


# ----------------------------------------------------------------------------------------------
# Counting
# ----------------------------------------------------------------------------------------------


def independent_count(weight: str, T: int, k: int) -> int:
    """Paths from L_T to W^(k) by plain recursion over the unrolled graph (no formula)."""
    if weight == "U":
        def successors(node):
            kind, t = node
            if kind == "L":
                return [("O", T)]
            if kind == "O":
                return [("S", T)]
            if kind == "S":
                return ([("S", t - 1)] if t > 1 else []) + ([("U", t)] if t == k else [])
            return []
    else:
        gate_of_weight = weight[-1]

        def successors(node):
            kind, t = node
            if kind == "L":
                return [("y", T)]
            if kind == "y":
                return [("h", T)]
            if kind == "h":
                return [("C", t), ("o", t)]
            if kind == "C":
                return [("f", t), ("i", t), ("g", t)] + ([("C", t - 1)] if t > 1 else [])
            if kind in ("o", "f", "i", "g"):  # h_0 is given: no edge below step 1
                return ([("h", t - 1)] if t > 1 else []) + ([("W", t)] if kind == gate_of_weight and t == k else [])
            return []

    target = ("U" if weight == "U" else "W", k)

    def count(node):
        return 1 if node == target else sum(count(s) for s in successors(node))

    return count(("L", T))


def test_count_paths_notes_numbers():
    assert [count_paths("W_hf", 3, k) for k in (3, 2, 1)] == [1, 5, 24]
    assert [count_paths("U", 3, k) for k in (3, 2, 1)] == [1, 1, 1]
    # about 4.8 per step back, exact integers far beyond float64
    ratio = count_paths("W_hf", 40, 1) / count_paths("W_hf", 40, 2)
    assert 4.7 < ratio < 4.9
    assert isinstance(count_paths("W_hf", 5000, 1), int) and count_paths("W_hf", 5000, 1) > 10**3000


def test_count_paths_equals_independent_recursion_and_listing():
    for T in range(1, 7):
        results = compute(Setup(hidden_size=1, steps=T), backend="reference")
        for weight in PATH_WEIGHTS:
            listed = paths_by_k(results, weight, limit=None) if T <= 5 else {}
            for k in range(1, T + 1):
                expected = independent_count(weight, T, k)
                assert count_paths(weight, T, k) == expected, (weight, T, k)
                if k in listed:
                    item = listed[k]
                    assert item.count == len(item.paths) == expected
                    assert sum(group.count for group in item.groups) == expected
                    # every listed path is a distinct walk from L_T to W^(k) along graph edges
                    walks = {path.edge_indices for path in item.paths}
                    assert len(walks) == expected
                    for path in item.paths[:50]:
                        assert path.nodes[0].symbol == f"L_{T}"
                        assert path.nodes[-1].symbol == f"{weight}^({k})"
                        for above, below in zip(path.edges, path.edges[1:]):
                            assert above.lower == below.upper


# ----------------------------------------------------------------------------------------------
# Sums of paths against BPTT and finite differences
# ----------------------------------------------------------------------------------------------


@SETTINGS
@given(setup=small_setups(), limit=st.sampled_from([None, 3]))
def test_paths_add_up_to_bptt_and_finite_differences(setup, limit):
    results = compute(setup, backend="reference")
    T, H = setup.steps, setup.hidden_size
    for weight in PATH_WEIGHTS:
        by_k = paths_by_k(results, weight, limit=limit)
        ledger = path_ledger(results, weight)
        # the ledger's step-by-step sweep against the node-by-node sums of paths_by_k
        node_sums = [value_of(by_k[k].total) for k in range(1, T + 1)]
        # (two orders of summing terms that may cancel inside each k: 1e-10, as against BPTT)
        assert_close(value_of(ledger.gradient_paths), sum(node_sums), 1e-10,
                     sum(frob(m) for m in node_sums))
        assert_close(value_of(ledger.gradient_paths),
                     sum(results.bptt_contribution_matrix(weight, k) for k in range(1, T + 1)),
                     1e-10, sum(frob(m) for m in node_sums))
        assert ledger.agrees and ledger.line.endswith("✓")
        for k in range(1, T + 1):
            item = by_k[k]
            row = ledger.rows[k - 1]
            assert row.k == k and row.count == item.count and row.agrees
            if item.total_is_zero:
                assert row.log10_abs == LOG10_OF_ZERO
            elif item.total.log10_abs > -290:
                assert row.log10_abs == pytest.approx(item.total.log10_abs, abs=1e-9)
                if H == 1:
                    assert row.sign == item.total.sign
            bptt = results.bptt_contribution_matrix(weight, k)
            spread = sum(frob(value_of(path)) for path in item.paths)
            listed = paths_sum(item) + sum(value_of(group.remainder) for group in item.groups)
            assert item.count == count_paths(weight, T, k)
            assert len(item.paths) == min(item.count, limit or item.count)
            assert item.complete == (limit is None or item.count <= limit)
            # listed paths (plus the grouped remainders) = the project's BPTT contribution
            assert_close(listed, bptt, 1e-10, spread)
            assert_close(value_of(item.listed_plus_remainders), bptt, 1e-10, spread)
            assert_close(value_of(item.total), bptt, 1e-10, spread)
            assert item.agrees and item.ledger_line().endswith("✓")
            if item.complete:
                assert_close(paths_sum(item), bptt, 1e-10, spread)
                assert all(group.remainder_count == 0 for group in item.groups)
            # group totals add up to the total
            group_sum = sum(value_of(group.total) for group in item.groups)
            group_spread = sum(frob(value_of(group.total)) for group in item.groups)
            assert_close(group_sum, value_of(item.total), 1e-12, group_spread)
            # ... and each group's remainder is its total minus its listed paths
            for group in item.groups:
                mine = [value_of(p) for p in item.paths if p.group == group.index]
                assert group.listed_count == len(mine)
                assert_close(value_of(group.remainder) + sum(mine, np.zeros((H, H))),
                             value_of(group.total), 1e-12,
                             frob(value_of(group.total)) + sum(frob(m) for m in mine))
            # the gradient w.r.t. an untied copy W^(k), by central differences
            fd = fd_untied_gradient(setup, results, weight, k)
            error = frob(listed - fd)
            assert error <= 1e-6 * max(np.abs(fd).max(), 1e-3), (weight, k, listed, fd)
            # shares add up to 1 and projections to ||total|| (when the total is not 0)
            if item.complete and not item.total_is_zero:
                ratio = sum(10.0 ** (p.log10_abs - item.total.log10_abs) for p in item.paths)
                shares = sum(path.share for path in item.paths)
                assert shares == pytest.approx(1.0, abs=1e-9 * max(1.0, ratio))
                if item.total.frobenius is not None and item.total.log10_abs > -290:
                    total_norm = item.total.frobenius
                    projections = sum(path.projection for path in item.paths)
                    assert projections == pytest.approx(total_norm, abs=1e-9 * total_norm * max(1.0, ratio))
            if item.total_is_zero:
                assert all(path.share is None and path.projection is None for path in item.paths)


def test_paths_to_and_paths_by_k_give_the_same_paths():
    setup = Setup(hidden_size=2, steps=4, seed=5, initial=InitialState(h0=0.3, C0=-0.4))
    results = compute(setup, backend="reference")
    for weight in PATH_WEIGHTS:
        together = paths_by_k(results, weight, limit=None)
        for k in range(1, 5):
            alone = paths_to(results, weight, k, limit=None)
            assert [p.product for p in alone.paths] == [p.product for p in together[k].paths]
            np.testing.assert_array_equal(alone.paths.mantissas, together[k].paths.mantissas)
            np.testing.assert_array_equal(alone.paths.exponents, together[k].paths.exponents)
            assert len(alone.edges) == len(together[k].edges)


# ----------------------------------------------------------------------------------------------
# The notes' two written-out products for dL_3/dW_hf^(2)
# ----------------------------------------------------------------------------------------------


def test_notes_products_for_W_hf_2_typed_symbol_by_symbol():
    setup = Setup(hidden_size=1, steps=3, seed=7, initial=InitialState(h0=0.4, C0=0.6),
                  knobs=Knobs(W_hi=0.7, W_hf=-0.9, W_hg=1.3, W_ho=1.1, b_f=0.5, b_o=-0.2),
                  target=0.8)
    r = compute(setup, backend="reference")
    item = paths_to(r, "W_hf", 2, limit=None)
    assert item.count == 5
    by_nodes = {path.node_symbols: path for path in item.paths}

    def sigma_prime(gate_value):  # the notes' sigma'(.) = sigma (1 - sigma)
        return gate_value * (1.0 - gate_value)

    def tanh_prime(x):
        return 1.0 - np.tanh(x) ** 2

    i, f, g, o = (r.lstm_gates[:, row, 0] for row in (I, F, G, O))
    C, h = r.lstm_C[:, 0], r.lstm_h[:, 0]
    V = r.bases["V"][0, 0]
    W_ho = setup.knobs.W_ho
    y3 = V * h[3]
    dL3_dY3 = y3 - setup.target  # L_3 = 1/2 (Y*_3 - Y_3)^2
    dY3_dh3 = V
    dC2_df2 = C[1]
    df2_dW2 = sigma_prime(f[2]) * h[1]

    # ∂L_3/∂Y_3 · ∂Y_3/∂h_3 · (∂h_3/∂O_3 · ∂O_3/∂h_2 · ∂h_2/∂C_2) ∂C_2/∂f_2 · ∂f_2/∂W^(2)
    dh3_dO3 = np.tanh(C[3])
    dO3_dh2 = sigma_prime(o[3]) * W_ho
    dh2_dC2 = o[2] * tanh_prime(C[2])
    through_o3 = dL3_dY3 * dY3_dh3 * (dh3_dO3 * dO3_dh2 * dh2_dC2) * dC2_df2 * df2_dW2
    path = by_nodes[("L_3", "y_3", "h_3", "o_3", "h_2", "C_2", "f_2", "W_hf^(2)")]
    assert path.product == ("∂L_3/∂y_3 · ∂y_3/∂h_3 · ∂h_3/∂o_3 · ∂o_3/∂h_2 · ∂h_2/∂C_2 · "
                            "∂C_2/∂f_2 · ∂f_2/∂W_hf^(2)")
    assert path.value == pytest.approx(through_o3, rel=1e-12)
    assert path.h_passes == 1

    # ∂L_3/∂Y_3 · ∂Y_3/∂h_3 · (∂h_3/∂C_3 · ∂C_3/∂C_2) ∂C_2/∂f_2 · ∂f_2/∂W^(2)
    dh3_dC3 = o[3] * tanh_prime(C[3])
    dC3_dC2 = f[3]
    through_cell = dL3_dY3 * dY3_dh3 * (dh3_dC3 * dC3_dC2) * dC2_df2 * df2_dW2
    path = by_nodes[("L_3", "y_3", "h_3", "C_3", "C_2", "f_2", "W_hf^(2)")]
    assert path.product == "∂L_3/∂y_3 · ∂y_3/∂h_3 · ∂h_3/∂C_3 · ∂C_3/∂C_2 · ∂C_2/∂f_2 · ∂f_2/∂W_hf^(2)"
    assert path.value == pytest.approx(through_cell, rel=1e-12)
    assert path.h_passes == 0 and item.group(0).label == "stays in the cell"
    # each edge's number is the factor typed above
    numbers = [edge.value for edge in path.edges]
    np.testing.assert_allclose(numbers, [dL3_dY3, dY3_dh3, dh3_dC3, dC3_dC2, dC2_df2, df2_dW2],
                               rtol=1e-12)
    assert path.numeric.endswith(f"= {format_number(np.sign(through_cell), math.log10(abs(through_cell)))}")
    assert path.formula.startswith("[y_3 − Y*] · [V] · [o_3·tanh'(C_3)] · [f_3] · [C_1]")
    # the five paths are the notes' five and add up to the BPTT bar of k = 2
    assert sum(p.value for p in item.paths) == pytest.approx(r.bptt_contribution_matrix("W_hf", 2)[0, 0],
                                                              rel=1e-12)
    assert item.ledger_line() == (f"sum of 5 paths = {format_number(item.total.sign, item.total.log10_abs)}"
                                  " = ∂L_3/∂W_hf^(2) ✓")


def test_rnn_single_path_is_the_R1_product():
    setup = Setup(hidden_size=1, steps=4, seed=2, knobs=Knobs(U=1.3), initial=InitialState(S0=0.3))
    r = compute(setup, backend="reference")
    S = r.rnn_S[:, 0]
    O_T = r.bases["V"][0, 0] * S[4]
    for k in range(1, 5):
        path = rnn_path(r, k)
        expected = (O_T - setup.target) * r.bases["V"][0, 0]
        for t in range(4, k, -1):
            expected *= (1.0 - S[t] ** 2) * setup.knobs.U  # (R1)
        expected *= (1.0 - S[k] ** 2) * S[k - 1]
        assert path.value == pytest.approx(expected, rel=1e-12)
        assert path.value == pytest.approx(r.bptt_contribution_matrix("U", k)[0, 0], rel=1e-12)
        assert path.nodes[1].symbol == "O_4" and path.nodes[-1].symbol == f"U^({k})"
        steps = " · ".join(f"∂S_{t}/∂S_{t - 1}" for t in range(4, k, -1))
        assert path.product == " · ".join(filter(None, ["∂L_4/∂O_4 · ∂O_4/∂S_4", steps, f"∂S_{k}/∂U^({k})"]))
        assert "[(1 − S_4²)·U]" in path.formula or k == 4
        assert path.numeric.count("·") == len(path.edges) - 1


# ----------------------------------------------------------------------------------------------
# Extremes: log space where float64 underflows
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hidden", [1, 2])
def test_extreme_knobs_stay_finite_and_agree_with_bptt_in_log10(hidden):
    setup = Setup(hidden_size=hidden, steps=5, seed=1, initial=InitialState(h0=0.5, C0=1.0),
                  knobs=Knobs(W_ho=50.0, b_f=40.0, W_hf=3.0, W_hi=-4.0, W_hg=5.0))
    r = compute(setup, backend="reference")
    for weight in PATH_WEIGHTS:
        bptt_log10 = r.bptt_log10(weight)
        for k, item in paths_by_k(r, weight, limit=None).items():
            logs = item.paths.log10_abs
            assert np.all(np.isfinite(logs)) and not np.any(np.isnan(item.paths.mantissas))
            assert np.all(np.isfinite(item.paths.exponents))
            if bptt_log10[k] != LOG10_OF_ZERO:
                assert item.total.log10_abs == pytest.approx(bptt_log10[k], abs=1e-9)
                assert item.agrees


def test_underflowing_local_derivatives_are_taken_from_logs():
    # pre-activations near +1e3: sigma'(pre) and tanh'(pre) are ~e^-1000 and underflow float64
    # (the gates themselves are 1, the states stay normal); every path to W_hf^(1) ends with
    # sigma'(pre_f1) h_0, so a plain product would be 0. Logs give the exact decades.
    setup = Setup(hidden_size=1, steps=3, seed=3, input=InputSignal(kind="constant", amplitude=10.0),
                  initial=InitialState(h0=0.5, C0=1.0), knobs=Knobs(input_gain=100.0))
    r = compute(setup, backend="reference")
    pre = r.lstm_pre[1:, :, 0]
    assert np.all(pre > 900) and r.lstm_gates[1, F, 0] == 1.0
    item = paths_to(r, "W_hf", 1, limit=None)
    for path in item.paths:
        assert np.isfinite(path.log10_abs) and path.log10_abs < -400
        assert all(e.log10_abs > LOG10_OF_ZERO for e in path.edges)
        # the path's decades are the sum of its edges' decades (edges from the pre-activation)
        assert path.log10_abs == pytest.approx(sum(e.log10_abs for e in path.edges), abs=1e-9)
        assert path.value is None
    last = item.paths[0].edges[-1]  # ∂f_1/∂W_hf^(1) = sigma'(pre) h_0
    a = abs(pre[0, F])
    log_sigma_prime = -a - 2.0 * math.log1p(math.exp(-a))
    assert last.log10_abs == pytest.approx((log_sigma_prime + math.log(0.5)) / math.log(10), abs=1e-12)
    assert last.value is None  # not a normal float64
    assert "e-4" in item.paths[0].numeric
    assert np.isfinite(item.total.log10_abs) and item.total.value is None
    # the largest path is the carousel: one sigma' (the last edge), no gate -> h edge
    assert item.paths[0].h_passes == 0 and item.paths[0].log10_abs > item.paths[1].log10_abs + 100


def test_paths_keep_digits_where_the_bptt_product_underflows():
    # b_g = 2.2e-169 makes C_1 ~ 1e-169 and y_2 ~ 1e-169: the BPTT's delta for W_hf at k = 2
    # (dL/dC_2 · C_1 · sigma') is ~1e-339, below float64; the path keeps it, and so does the
    # project's BPTT since it carries each gate's delta with its own log scale (issue 10).
    setup = Setup(hidden_size=1, steps=2, input=InputSignal(kind="zeros"), target=0.0,
                  knobs=Knobs(U=0.0, W_hi=0.0, W_hf=0.0, W_hg=0.0, W_ho=0.0, b_f=0.0,
                              b_g=2.1994460570208455e-169, input_gain=0.0))
    r = compute(setup, backend="reference")
    item = paths_to(r, "W_hf", 2)
    (path,) = item.paths
    i, f, g, o = r.lstm_gates[2, :, 0]
    exact = (Fraction(float(r.lstm_h[2, 0])) - 0  # y_2 - Y* (V = 1, c = 0)
             * 1) * Fraction(float(o)) * Fraction(float(1 - np.tanh(r.lstm_C[2, 0]) ** 2)) \
        * Fraction(float(r.lstm_C[1, 0])) * Fraction(float(f * (1 - f))) * Fraction(float(r.lstm_h[1, 0]))
    assert float(exact) == 0.0  # beyond float64
    log10_exact = math.log10(exact.numerator) - math.log10(exact.denominator)
    assert path.log10_abs == pytest.approx(log10_exact, abs=1e-12) and path.sign == 1.0
    assert item.total.log10_abs == pytest.approx(log10_exact, abs=1e-12)
    # and the ledger agrees with the project's BPTT bar, digit for digit
    assert r.bptt_log10("W_hf")[2] == pytest.approx(log10_exact, abs=1e-12)
    assert item.agrees and item.ledger_line().endswith("= ∂L_2/∂W_hf^(2) ✓")


# ----------------------------------------------------------------------------------------------
# Too many paths: the largest exactly, the rest by group
# ----------------------------------------------------------------------------------------------


def test_truncated_listing_is_the_exact_largest_for_H1():
    setup = Setup(hidden_size=1, steps=8, seed=4, initial=InitialState(h0=0.3, C0=0.7),
                  knobs=Knobs(W_hi=1.4, W_hf=-1.1, W_hg=1.7, W_ho=1.6, b_f=0.3))
    r = compute(setup, backend="reference")
    top = paths_to(r, "W_hf", 1, limit=20)
    every = paths_to(r, "W_hf", 1, limit=None)
    assert top.ranking == "exact" and every.ranking == "all"
    assert len(top.paths) == 20 and every.count == top.count == len(every.paths) > 50_000
    np.testing.assert_allclose(top.paths.log10_abs, every.paths.log10_abs[:20], rtol=0, atol=1e-12)
    assert [p.product for p in top.paths] == [p.product for p in every.paths[:20]]
    # listed + remainders = total = BPTT, exactly
    bptt = r.bptt_contribution_matrix("W_hf", 1)
    listed = paths_sum(top) + sum(value_of(g.remainder) for g in top.groups)
    assert_close(listed, bptt, 1e-10)
    assert_close(value_of(top.listed_plus_remainders), value_of(top.total), 1e-12)
    assert sum(g.remainder_count for g in top.groups) == top.count - 20
    assert "(20 listed, the rest in" in top.ledger_line() and top.ledger_line().endswith("✓")
    # a remainder is exactly the sum of the group's unlisted paths (from the full listing's
    # columns: 60605 Path objects would take seconds to make)
    def walk(row):
        return tuple(int(e) for e in row if e >= 0)

    listed_walks = {walk(row) for row in top.paths.edge_ids}
    unlisted = np.array([walk(row) not in listed_walks for row in every.paths.edge_ids])
    assert unlisted.sum() == every.count - 20
    values = np.ldexp(every.paths.mantissas[:, 0, 0], every.paths.exponents)
    for group in top.groups:
        mine = unlisted & (every.paths.group == group.index)
        assert group.remainder_count == mine.sum()
        assert group.remainder.value == pytest.approx(values[mine].sum(), rel=1e-9, abs=1e-15)


def test_truncated_listing_for_H2_is_exact_by_frobenius():
    setup = Setup(hidden_size=2, steps=6, seed=9, initial=InitialState(h0=0.3, C0=0.7),
                  knobs=Knobs(W_hi=1.2, W_hf=0.9, W_hg=1.5, W_ho=1.3, b_f=0.5))
    r = compute(setup, backend="reference")
    for weight in ("W_hf", "W_ho"):
        top = paths_to(r, weight, 1, limit=15)
        every = paths_to(r, weight, 1, limit=None)
        assert top.ranking == "exact"
        np.testing.assert_allclose(top.paths.log10_abs, every.paths.log10_abs[:15], rtol=0, atol=1e-12)
        assert_close(value_of(top.listed_plus_remainders), r.bptt_contribution_matrix(weight, 1), 1e-10)
    capped = paths_to(r, "W_hf", 1, limit=15, max_expansions=5)
    assert capped.ranking == "capped"
    assert_close(value_of(capped.listed_plus_remainders), r.bptt_contribution_matrix("W_hf", 1), 1e-10)


def test_groups_by_passes_through_h_and_the_cap():
    setup = Setup(hidden_size=1, steps=7, seed=4, initial=InitialState(h0=0.3, C0=0.7))
    r = compute(setup, backend="reference")
    item = paths_to(r, "W_hf", 1, limit=None)
    for group in item.groups:
        assert group.count == sum(1 for p in item.paths if p.h_passes == group.index)
    assert item.group(0).count == 1 and item.group(0).label == "stays in the cell"
    cell = [p for p in item.paths if p.group == 0][0]
    assert [n.kind for n in cell.nodes] == ["L", "y", "h"] + ["C"] * 7 + ["f", "W"]
    cell_group, h_group = paths_to(r, "W_hf", 1, limit=40).coarse_groups()
    assert (cell_group.label, h_group.label) == ("stays in the cell", "passes through h")
    assert cell_group.count + h_group.count == item.count and h_group.listed_count + cell_group.listed_count == 40
    assert_close(value_of(cell_group.total) + value_of(h_group.total), value_of(item.total), 1e-12)
    assert h_group.total.share + cell_group.total.share == pytest.approx(1.0, rel=1e-12)
    through_h = sum(p.value for p in item.paths if p.h_passes > 0)
    assert h_group.total.value == pytest.approx(through_h, rel=1e-9)
    capped = paths_to(r, "W_hf", 1, limit=None, group_cap=2)
    assert [g.index for g in capped.groups] == [0, 1, 2]
    assert capped.groups[-1].label == "through h 2 times or more"
    assert capped.groups[-1].count == sum(g.count for g in item.groups if g.index >= 2)
    assert_close(value_of(capped.groups[-1].total),
                 sum(value_of(g.total) for g in item.groups if g.index >= 2), 1e-12)


# ----------------------------------------------------------------------------------------------
# Ledger and CSV
# ----------------------------------------------------------------------------------------------


def test_ledger_rows_and_full_gradient():
    setup = Setup(hidden_size=1, steps=3, seed=7, initial=InitialState(h0=0.4, C0=0.6))
    r = compute(setup, backend="reference")
    for weight in PATH_WEIGHTS:
        ledger = path_ledger(r, weight)
        assert [row.k for row in ledger.rows] == [1, 2, 3]
        for row in ledger.rows:
            bptt = r.bptt_contribution_matrix(weight, row.k)[0, 0]
            assert row.value == pytest.approx(bptt, rel=1e-12)
            assert row.bptt_value == pytest.approx(bptt, rel=1e-14)
            assert row.agrees and row.line.endswith(f"= ∂L_3/∂{weight}^({row.k}) ✓")
            assert row.line.startswith(f"sum of {row.count} path")
        full = sum(r.bptt_contribution_matrix(weight, k)[0, 0] for k in (1, 2, 3))
        assert ledger.gradient_paths.value == pytest.approx(full, rel=1e-12)
        assert ledger.agrees and ledger.line.endswith(f"= ∂L_3/∂{weight} ✓")
        assert sum(row.share for row in ledger.rows) == pytest.approx(1.0, rel=1e-12)
    assert path_ledger(r, "W_hf").rows[1].line.startswith("sum of 5 paths = ")


def test_ledger_shows_a_disagreement():
    setup = Setup(hidden_size=1, steps=3, seed=7, initial=InitialState(h0=0.4, C0=0.6))
    r = compute(setup, backend="reference")
    delta = r.lstm_delta.copy()
    delta[2, F] *= 1.001  # a wrong BPTT bar for k = 2
    wrong = dataclasses.replace(r, lstm_delta=delta)
    rows = path_ledger(wrong, "W_hf").rows
    assert not rows[1].agrees and "✓" not in rows[1].line and "≠" in rows[1].line
    assert rows[0].agrees and rows[2].agrees
    item = paths_to(wrong, "W_hf", 2)
    assert not item.agrees and item.ledger_line().endswith("✗")


def test_zero_total_is_said_not_divided():
    r = compute(Setup(hidden_size=2, steps=3, seed=1), backend="reference")  # h_0 = 0
    item = paths_to(r, "W_hf", 1, limit=None)
    assert item.total_is_zero and item.total.log10_abs == LOG10_OF_ZERO
    assert all(p.projection is None and p.share is None for p in item.paths)
    rows = item.csv_rows()
    assert all(row["projection"] == "" and row["share"] == "" for row in rows)
    assert item.ledger_line().endswith("✓")


def test_csv_rows_add_up():
    setup = Setup(hidden_size=1, steps=6, seed=4, initial=InitialState(h0=0.3, C0=0.7))
    r = compute(setup, backend="reference")
    item = paths_to(r, "W_hf", 1, limit=10)
    rows = csv_rows([item])
    assert all(tuple(row) == CSV_COLUMNS for row in rows)
    kinds = [row["row"] for row in rows]
    assert kinds.count("path") == 10 and kinds.count("remainder") == sum(
        1 for g in item.groups if g.remainder_count > 0)
    assert sum(int(row["count"]) for row in rows) == item.count
    total = r.bptt_contribution_matrix("W_hf", 1)[0, 0]
    assert sum(float(row["value"]) for row in rows) == pytest.approx(total, rel=1e-10)
    assert sum(float(row["projection"]) for row in rows) == pytest.approx(abs(total), rel=1e-10)
    assert sum(float(row["share"]) for row in rows) == pytest.approx(1.0, rel=1e-10)
    assert rows[0]["path"].startswith("∂L_6/∂y_6 · ∂y_6/∂h_6 · ")
    wide = paths_to(compute(setup.replace(hidden_size=2), backend="reference"), "W_hf", 2).csv_rows()
    assert all(row["value"] == "" and float(row["frobenius"]) >= 0 for row in wide)


def test_format_number_beyond_float64():
    assert format_number(-1.0, -511.5) == "-3.162e-512"
    assert format_number(1.0, math.log10(0.0412)) == "0.0412"
    assert format_number(1.0, LOG10_OF_ZERO) == "0"
    assert format_number(1.0, 2.0 * math.log10(9.9999) + 100, digits=3) == "1.00e102"
