"""The numba kernels (simulator/kernels.py) equal the numpy reference (simulator/reference.py).

Two levels. (1) Each kernel against its reference twin on the *same* input arrays (hypothesis,
random small setups): the arrays it returns agree to 1e-12 relative, element by element, and the
log10 arrays (log-norms, log10 scales) to 1e-10 absolute, LOG10_OF_ZERO ("exactly zero") exactly.
(2) `compute(setup, "numba")` against `compute(setup, "reference")` end to end, every array of
Results and the derived BPTT arrays, on chosen setups. End to end, the one-ulp differences of the
two backends' tanh/exp travel through the recurrence; on chaotic or strongly amplifying setups any
two correct codes drift apart, so (2) uses setups that are well conditioned, and (1) carries the
random search.
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simulator import (
    KNOB_NAMES, LOG10_OF_ZERO, LSTM_RECURRENT, SIGNAL_KINDS, InputSignal, Knobs, Setup, compute,
)
from simulator import kernels, reference, spectral
from simulator.setup import BiasOffsets, InitialState

REL = 1e-12
LOG_ABS = 1e-10
# Sums with cancellation (pre-activations, BPTT deltas) can land near zero, where a relative
# comparison says nothing about the kernel: such an element also passes when it is within REL of
# ROW_FLOOR times the largest |value| at the same time step (the size of what it was summed from).
# The setups are kept away from chaos, where any two correct codes drift apart from round-off.
ROW_FLOOR = 1e-2
# BPTT deltas (names ending in "delta") come out of a backward recursion (W^T delta, step after
# step) whose entries cancel: they are compared per step (per step and gate for the LSTM, which has
# one log10 scale per step and gate) in the max-norm, still to REL.
# Diagonal means are sums that can cancel (a 2 x 2 orthogonal U has diagonal entries of opposite
# signs): they are compared to REL of the size of the terms summed, `size`.


def _assert_same(name, numba_value, reference_value, size=None):
    got, want = np.asarray(numba_value), np.asarray(reference_value)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} != {want.dtype}"
    assert np.all(np.isfinite(got)), f"{name}: not finite"
    if "log10" in name:  # log-norms and the log10 scales of the BPTT mantissas
        # "exactly zero" must be recognised by both
        assert np.array_equal(got == LOG10_OF_ZERO, want == LOG10_OF_ZERO), name
        error = np.abs(got - want)
        assert error.max(initial=0.0) <= LOG_ABS, f"{name}: max abs error {error.max():.3g}"
        return
    rows = want.reshape(len(want), -1) if want.ndim > 1 else want[:, None]
    if name.endswith("delta") and want.ndim == 3:  # LSTM: (step, gate) rows
        rows = want.reshape(-1, want.shape[-1])
    row_floor = 1.0 if name.endswith("delta") else ROW_FLOOR
    floor = row_floor * np.abs(rows).max(axis=1, keepdims=True, initial=0.0)
    if size is not None:
        floor = np.maximum(floor, np.asarray(size).reshape(rows.shape))
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.abs(got.reshape(rows.shape) - rows) / np.maximum(np.abs(rows), floor)
    error[got.reshape(rows.shape) == rows] = 0.0  # covers 0 == 0
    if error.size:
        worst = np.unravel_index(np.argmax(error), error.shape)
        assert error[worst] <= REL, (
            f"{name}: max rel error {error[worst]:.3g} at step {worst[0]}: "
            f"{got.reshape(rows.shape)[worst]!r} vs {rows[worst]!r}"
        )


def assert_backends_agree(setup: Setup) -> None:
    fast, slow = compute(setup, "numba"), compute(setup, "reference")
    compared = 0
    for field in dataclasses.fields(slow):
        value = getattr(slow, field.name)
        if isinstance(value, np.ndarray):
            if field.name in ("rnn_delta", "lstm_delta"):
                _assert_same_deltas(field.name, fast, slow)
            else:
                _assert_same(field.name, getattr(fast, field.name), value)
            compared += 1
    assert compared >= 20  # every array of Results, not a silent subset
    # derived quantities the app draws
    for weight in ("U", *LSTM_RECURRENT):
        _assert_same(f"bptt_log10({weight})", fast.bptt_log10(weight), slow.bptt_log10(weight))
        _assert_same_knob_contribution(weight, fast, slow)


def _output_error(results, name):
    """(Y_T - Y*_T, size of its terms): the factor every BPTT delta is proportional to."""
    state = results.rnn_S[-1] if name == "rnn_delta" else results.lstm_h[-1]
    V, target = results.bases["V"], results.setup.target
    return float((V @ state)[0] - target), float((np.abs(V) @ np.abs(state))[0] + abs(target))


def _assert_same_deltas(name, fast, slow):
    """The backward pass is linear in the output error Y_T - Y*, a sum that may cancel: the error is
    compared to REL of the size of its terms, and the deltas per unit of error as any other array."""
    error_fast, size = _output_error(fast, name)
    error_slow, _ = _output_error(slow, name)
    assert abs(error_fast - error_slow) <= REL * size, name
    if error_slow == 0.0 or error_fast == 0.0:
        assert not np.any(getattr(fast, name)) and not np.any(getattr(slow, name)), name
        return
    _assert_same(name, getattr(fast, name) / error_fast, getattr(slow, name) / error_slow)


def _assert_same_knob_contribution(weight, fast, slow):
    """d L_T / d knob^(k) = sum_ij delta_i base_ij state_j is a sum that can cancel: compare the
    signed values to REL of the size of the terms summed, sum_ij |delta_i base_ij state_j|."""
    if weight == "U":
        delta, scale, state = slow.rnn_delta, slow.rnn_delta_log10_scale, slow.rnn_S
    else:
        gate = LSTM_RECURRENT.index(weight)
        delta, scale, state = slow.lstm_delta[:, gate], slow.lstm_delta_log10_scale[:, gate], slow.lstm_h
    size = np.einsum("ki,ij,kj->k", np.abs(delta[1:]), np.abs(slow.bases[weight]), np.abs(state[:-1]))
    nonzero = size > 0.0
    log10_size = np.log10(size[nonzero]) + scale[1:][nonzero]
    for results, name in ((fast, "numba"), (slow, "reference")):
        sign, log10_abs = results.bptt_knob_contribution(weight)
        assert np.all(sign[1:][~nonzero] == 0.0), (weight, name)  # nothing to sum: exactly zero
    sign_fast, log_fast = fast.bptt_knob_contribution(weight)
    sign_slow, log_slow = slow.bptt_knob_contribution(weight)
    with np.errstate(under="ignore"):
        relative_fast = sign_fast[1:][nonzero] * 10.0 ** (log_fast[1:][nonzero] - log10_size)
        relative_slow = sign_slow[1:][nonzero] * 10.0 ** (log_slow[1:][nonzero] - log10_size)
    error = np.abs(relative_fast - relative_slow)
    assert error.max(initial=0.0) <= REL, f"bptt_knob_contribution({weight}): {error.max():.3g}"


# ----------------------------------------------------------------------------------------------


TWINS = (
    # what simulator/stream.py runs, chunk by chunk
    "rnn_forward_steps", "rnn_factor_norm_shortcut", "rnn_factor_diag_mean", "rnn_factor_norm_steps",
    "rnn_longrange_steps", "rnn_bptt_steps", "rnn_longrange_lower_steps",
    "lstm_forward_steps", "lstm_factor_diag_mean", "lstm_factor_norm_steps", "lstm_longrange_steps",
    "lstm_naive_longrange_steps", "lstm_bptt_steps", "lstm_longrange_lower_steps",
    # the same passes in one call
    "rnn_forward", "rnn_factor_summary", "rnn_longrange_log10", "rnn_bptt", "rnn_longrange_lower_log10",
    "lstm_forward", "lstm_factor_summary", "lstm_longrange_log10", "lstm_bptt", "lstm_longrange_lower_log10",
    # on demand, one step at a time (plot ③)
    "lstm_term_norms",
)


def test_kernels_twin_every_function_compute_uses():
    for name in TWINS:
        assert callable(getattr(kernels, name)), name
        fast, slow = getattr(kernels, name), getattr(reference, name)
        fast = getattr(fast, "py_func", fast)  # numba's dispatcher, or a plain function that calls one
        assert inspect.signature(fast) == inspect.signature(slow), name
    # and the start states of the chunked passes and the loss gradients are the reference's own
    for name in ("rnn_chain_start", "lstm_chain_start", "rnn_bptt_start", "lstm_bptt_start", "rnn_lower_start",
                 "lstm_lower_start", "rnn_loss_gradient", "lstm_loss_gradient"):
        assert getattr(kernels, name) is getattr(reference, name), name


# No subnormal knobs in the random draws: below 2.2e-308 float64 keeps only a few significant
# digits, so two correct codes differ there by more than REL (seen: 2e-4 at U = 2.5e-320). The
# tiny-weight path is still exercised by the explicit U = 5e-324 example below.
knob_value = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)
bias_value = st.floats(-5.0, 5.0, allow_nan=False, allow_infinity=False)


@st.composite
def setups(draw):
    H = draw(st.sampled_from([1, 1, 2, 3, 4, 6, 9]))
    knobs = {name: draw(knob_value) for name in ("U", "W_hi", "W_hf", "W_hg", "W_ho", "input_gain")}
    knobs.update({name: draw(bias_value) for name in ("b_i", "b_f", "b_g", "b_o")})
    for name in draw(st.sets(st.sampled_from(KNOB_NAMES), max_size=2)):
        knobs[name] = 0.0  # exact zeros: zero factors and "exactly zero" logs
    offsets = {}
    if draw(st.booleans()):
        offsets["b_f"] = draw(st.lists(bias_value, min_size=H, max_size=H))
    return Setup(
        hidden_size=H,
        input_size=draw(st.integers(1, 3)),
        steps=draw(st.integers(1, 24)),
        seed=draw(st.integers(0, 2**20)),
        input=InputSignal(
            kind=draw(st.sampled_from(SIGNAL_KINDS)),
            amplitude=draw(st.floats(-3.0, 3.0)),
            period=draw(st.floats(2.0, 30.0)),
        ),
        knobs=Knobs(**knobs),
        bias_offsets=BiasOffsets(**offsets),
        initial=InitialState(
            S0=draw(st.floats(-1.0, 1.0)), h0=draw(st.floats(-1.0, 1.0)), C0=draw(st.floats(-3.0, 3.0))
        ),
        target=draw(st.floats(-2.0, 2.0)),
    )


def _same_outputs(function, args, names, sizes=None):
    fast = getattr(kernels, function)(*args)
    slow = getattr(reference, function)(*args)
    fast, slow = (fast, slow) if isinstance(slow, tuple) else ((fast,), (slow,))
    assert len(fast) == len(slow) == len(names)
    for name, got, want in zip(names, fast, slow):
        _assert_same(f"{function}: {name}", got, want, (sizes or {}).get(name))


def _rnn_diag_mean_size(U, a):
    """Per t, mean |tanh'(a_t,i) U_ii|: the size of the terms of (R1)'s diagonal mean."""
    size = np.abs(reference.tanh_prime(a)) @ np.abs(np.diag(U)) / U.shape[0]
    size[0] = 0.0
    return size


def _lstm_diag_mean_size(W_h, pre, C):
    """Per t, the mean |diagonal entry| of each (L4) term, and their sum for the total, (T + 1, 5)."""
    size = np.zeros((pre.shape[0], 5))
    for t in range(1, pre.shape[0]):
        terms = reference.lstm_factor_terms(W_h, pre, C, t)
        size[t, :4] = [np.mean(np.abs(np.diag(term))) for term in terms]
        size[t, 4] = size[t, :4].sum()
    return size


# The forward passes are recurrences: with a large gain (U = 3) they are chaotic, and the one-ulp
# difference between numpy's tanh and libm's grows step after step. So each step of the numba
# trajectory is checked against the reference's formula applied to numba's own previous state.


def _assert_rnn_forward_steps(rnn, x, S0):
    a, S = kernels.rnn_forward(rnn.W_x, rnn.U, rnn.b, x, S0)
    assert np.array_equal(S[0], S0) and not np.any(a[0])
    a_step = (x[1:] @ rnn.W_x.T + S[:-1] @ rnn.U.T) + rnn.b
    _assert_same("rnn_forward: a (one step)", a[1:], a_step)
    _assert_same("rnn_forward: S (one step)", S[1:], np.tanh(a[1:]))


def _assert_lstm_forward_steps(lstm, x, h0, C0):
    pre, gates, h, C = kernels.lstm_forward(lstm.W_x, lstm.W_h, lstm.b, x, h0, C0)
    assert np.array_equal(h[0], h0) and np.array_equal(C[0], C0)
    assert not np.any(pre[0]) and not np.any(gates[0])
    pre_step = (np.einsum("gid,td->tgi", lstm.W_x, x[1:]) + np.einsum("gij,tj->tgi", lstm.W_h, h[:-1])) + lstm.b
    _assert_same("lstm_forward: pre (one step)", pre[1:], pre_step)
    sig, p = reference.sigmoid, pre[1:]
    gates_step = np.stack([sig(p[:, 0]), sig(p[:, 1]), np.tanh(p[:, 2]), sig(p[:, 3])], axis=1)
    _assert_same("lstm_forward: gates (one step)", gates[1:], gates_step)
    i, f, g, o = (gates[1:, k] for k in range(4))
    _assert_same("lstm_forward: C (one step)", C[1:], f * C[:-1] + i * g)
    _assert_same("lstm_forward: h (one step)", h[1:], o * np.tanh(C[1:]))


def assert_kernels_agree_on_same_inputs(setup: Setup) -> None:
    """Every kernel compute() calls, fed the reference's own arrays, returns the reference's result."""
    from simulator.weights import initial_states, input_sequence, lstm_params, rnn_params

    T = setup.steps
    x = input_sequence(setup)
    S0, h0, C0 = initial_states(setup)
    target = np.float64(setup.target)
    rnn, lstm = rnn_params(setup), lstm_params(setup)

    _assert_rnn_forward_steps(rnn, x, S0)
    a, S = reference.rnn_forward(rnn.W_x, rnn.U, rnn.b, x, S0)
    _same_outputs("rnn_factor_summary", (rnn.U, a), ("norm", "diag_mean"),
                  {"diag_mean": _rnn_diag_mean_size(rnn.U, a)})
    _same_outputs("rnn_longrange_log10", (rnn.U, a, T), ("log10",))
    _same_outputs("rnn_bptt", (rnn.U, rnn.V, rnn.c, target, a, S, T), ("delta", "log10_scale", "lossgrad_log10"))
    _same_outputs("rnn_longrange_lower_log10", (rnn.U, a, reference.rnn_loss_gradient(rnn.V, rnn.c, target, S, T), T),
                  ("lower_log10",))
    _same_outputs("rnn_longrange_lower_log10", (rnn.U, a, np.zeros(setup.hidden_size), T), ("lower_log10 (ones)",))

    _assert_lstm_forward_steps(lstm, x, h0, C0)
    pre, gates, h, C = reference.lstm_forward(lstm.W_x, lstm.W_h, lstm.b, x, h0, C0)
    diag_mean_size = _lstm_diag_mean_size(lstm.W_h, pre, C)
    _same_outputs("lstm_factor_summary", (lstm.W_h, pre, C), ("norm", "diag_mean"), {"diag_mean": diag_mean_size})
    _assert_factor_norm_steps_agree(lstm.W_h, pre, C)
    _same_outputs("lstm_longrange_log10", (lstm.W_h, pre, C, T), ("exact_log10", "naive_log10"))
    _same_outputs("lstm_bptt", (lstm.W_h, lstm.V, lstm.c, target, pre, h, C, T),
                  ("delta", "log10_scale", "lossgrad_log10"))
    vector = reference.lstm_loss_gradient(lstm.V, lstm.c, target, h, T) * reference.lstm_dh_dC(pre, C, T)
    _same_outputs("lstm_longrange_lower_log10", (lstm.W_h, pre, C, vector, T), ("lower_log10",))


def _assert_factor_norm_steps_agree(W_h, pre, C):
    """lstm_factor_norm_steps (what simulator/stream.py runs, a chunk of steps at a time, on two
    threads): every chunk written by numba equals the reference's, and the rows outside the chunk
    are left alone."""
    T = pre.shape[0] - 1
    cuts = sorted({1, T + 1, 1 + T // 3, 1 + (2 * T) // 3})
    for first, stop in zip(cuts[:-1], cuts[1:]):
        arrays = {}
        for name, module in (("numba", kernels), ("reference", reference)):
            total_norm = np.full(T + 1, -7.0)  # a sentinel
            module.lstm_factor_norm_steps(W_h, pre, C, first, stop, total_norm)
            outside = np.ones(T + 1, bool)
            outside[first:stop] = False
            assert np.all(total_norm[outside] == -7.0), (name, first, stop)
            arrays[name] = total_norm[first:stop]
        _assert_same(f"lstm_factor_norm_steps {first}..{stop - 1}: norm", arrays["numba"], arrays["reference"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(setups())
@example(Setup(hidden_size=1, steps=30))
@example(Setup(hidden_size=5, steps=20, knobs=Knobs(U=-2.5, W_hf=-3.0, W_hi=2.0, W_hg=-1.0, W_ho=3.0)))
@example(Setup(hidden_size=4, steps=10, knobs=Knobs(U=0.0, W_hi=0.0, W_hf=0.0, W_hg=0.0, W_ho=0.0)))
@example(Setup(hidden_size=3, steps=12, input=InputSignal(kind="zeros")))
@example(Setup(hidden_size=2, steps=1, knobs=Knobs(U=5e-324, W_hi=0.0, W_hf=0.0, W_hg=0.0, W_ho=0.0)))
@example(Setup(hidden_size=3, steps=2, input=InputSignal(amplitude=0.0), target=0.0,  # (L4) total = diag(f) + tiny
               bias_offsets=BiasOffsets(b_f=[-1.0, 0.0, 0.0]),
               knobs=Knobs(U=0.0, W_hi=0.0, W_hf=0.0, W_hg=1e-159, W_ho=0.0, b_f=0.0, input_gain=0.0)))
def test_each_kernel_equals_its_reference_on_random_setups(setup):
    assert_kernels_agree_on_same_inputs(setup)


@pytest.mark.parametrize(
    "setup",
    [
        Setup(hidden_size=24, steps=60, seed=3),  # larger: the non-trivial norm paths
        Setup(hidden_size=17, input_size=4, steps=40, input=InputSignal(kind="sine", amplitude=2.0),
              knobs=Knobs(U=1.1, W_hi=-1.2, W_hf=2.5, W_hg=0.8, W_ho=-1.5, b_f=-2.0)),
        # deep saturation: tiny derivatives, norms near underflow of their squares
        Setup(hidden_size=8, steps=40, input=InputSignal(kind="constant", amplitude=30.0),
              knobs=Knobs(U=20.0, W_hi=20.0, W_hf=-20.0, W_hg=20.0, W_ho=20.0, input_gain=20.0)),
        # long lags: hundreds of decades, carried as log10 scales
        # (zero input: the RNN sits at S = 0 and the LSTM settles, so nothing is chaotic)
        Setup(hidden_size=6, steps=600, input=InputSignal(kind="zeros"), initial=InitialState(C0=1.0),
              knobs=Knobs(U=4.0, W_hf=1.5, W_hi=-1.5, W_hg=1.5, W_ho=1.5, b_f=3.0)),
        Setup(hidden_size=1, steps=400, input=InputSignal(kind="zeros"), knobs=Knobs(U=3.0)),
        Setup(hidden_size=1, steps=60, input=InputSignal(kind="impulse"),
              knobs=Knobs(U=-0.8, W_hf=-1.0, W_hi=0.7, b_f=2.0)),
        Setup(hidden_size=3, steps=5, knobs=Knobs(U=0.0, W_hi=0.0, W_hf=0.0, W_hg=0.0, W_ho=0.0)),
    ],
    ids=["H24", "H17-sine", "saturated", "long-lags", "scalar-exploding", "scalar-impulse", "zero-weights"],
)
def test_compute_numba_equals_reference_on_chosen_setups(setup):
    assert_backends_agree(setup)


def test_explicit_non_orthogonal_weights_take_the_general_path():
    # Explicit base matrices that are not orthogonal: the RNN factor norm cannot use max|d| * s.
    rng = np.random.default_rng(7)
    H = 5
    weights = {name: rng.standard_normal((H, H)).tolist() for name in ("U", "W_hi", "W_hf", "W_hg", "W_ho")}
    setup = Setup(hidden_size=H, steps=30, weights=weights, knobs=Knobs(U=0.7))
    assert_backends_agree(setup)
    # and the orthogonal shortcut is really not taken: the norm differs from max|d| * sigma_max(U)
    results = compute(setup, "numba")
    d = reference.tanh_prime(results.rnn_a[1:])
    shortcut = np.abs(d).max(axis=1) * np.linalg.norm(results.rnn_U, 2)
    assert np.all(results.rnn_factor_norm[1:] < shortcut * (1 - 1e-6))


def test_long_products_take_the_certified_path_and_agree():
    # An expanding RNN: the product's top singular value soon dominates, so _dominant_norm answers.
    setup = Setup(hidden_size=8, steps=150, seed=2, knobs=Knobs(U=1.6, W_hf=2.0, W_hi=-1.5, W_ho=1.2))
    results = compute(setup, "reference")
    a, U = results.rnn_a, results.rnn_U
    product = np.eye(8)
    for t in range(150, 100, -1):
        product = product @ (reference.tanh_prime(a[t])[:, None] * U)
        product /= np.abs(product).max()
    u = reference.start_vector(8)
    for _ in range(3):
        certified = spectral._dominant_norm(product, u, np.empty(8), np.empty(8))
    assert certified > 0.0
    # U = 1.6 is chaotic (the forward passes drift apart by round-off): same inputs for both
    _same_outputs("rnn_longrange_log10", (U, a, setup.steps), ("log10",))
    _same_outputs("lstm_longrange_log10", (results.lstm_W_h, results.lstm_pre, results.lstm_C, setup.steps),
                  ("exact_log10", "naive_log10"))


@pytest.mark.parametrize("H, knobs", [
    (1, Knobs()), (2, Knobs(W_hf=-3.0, W_hi=2.0)), (7, Knobs(W_hf=1.3, W_hg=-0.8, W_ho=3.0)),
    (64, Knobs(W_hf=1.3)),  # the direct eigen-solve at its largest size (spectral.DIRECT_UP_TO)
    (80, Knobs(W_hf=1.3)),  # the certified Gram path (above spectral.DIRECT_UP_TO)
    (8, Knobs(U=0.0, W_hi=0.0, W_hf=0.0, W_hg=0.0, W_ho=0.0)),  # zero terms
])
def test_term_norms_kernel_equals_its_reference_and_its_sum_is_the_factor_plot_s(H, knobs):
    """Plot ③'s five norms at a step (the window computes them on demand, without the GIL): the
    reference's SVD norms to REL, and the sum's norm is bit for bit the one plot ① draws at that
    step (the same (L4) sum and the same norm routine as lstm_factor_norm_steps)."""
    results = compute(Setup(hidden_size=H, steps=12, seed=5, knobs=knobs), backend="numba")
    for t in (1, 6, 12):
        fast = kernels.lstm_term_norms(results.lstm_W_h, results.lstm_pre, results.lstm_C, t)
        slow = reference.lstm_term_norms(results.lstm_W_h, results.lstm_pre, results.lstm_C, t)
        assert fast.shape == (5,) and np.all(np.isfinite(fast))
        np.testing.assert_allclose(fast, slow, rtol=REL, atol=0.0)
        assert fast[4] == results.lstm_factor_norm[t]
        np.testing.assert_array_equal(results.lstm_term_norms(t), fast)  # what the window shows
