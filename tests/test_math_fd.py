"""Every formula of MATH.md against central finite differences in float64 (rel. error <= 1e-6).

The forward models in fd_models.py are independent of the simulator's derivative code.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import InitialState, InputSignal, Knobs, Setup, compute
from simulator import reference
from simulator.weights import initial_states, lstm_params, rnn_params

from .conftest import BACKENDS
from .fd_models import (
    fd_gradient_matrix,
    fd_jacobian,
    lstm_cell,
    lstm_loss,
    lstm_states,
    rnn_loss,
    rnn_states,
    sigmoid,
)

REL = 1e-6
FD_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_matches(value, fd, rel=REL):
    value, fd = np.asarray(value, float), np.asarray(fd, float)
    assert value.shape == fd.shape
    scale = max(np.abs(fd).max(initial=0.0), 1e-3)  # FD's own error is ~1e-10 absolute
    assert np.abs(value - fd).max(initial=0.0) <= rel * scale, (value, fd)


def spectral(matrix):
    return np.linalg.norm(np.atleast_2d(matrix), 2)


knob = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


@st.composite
def small_setups(draw, max_steps=5):
    return Setup(
        hidden_size=draw(st.integers(1, 4)),
        input_size=draw(st.integers(1, 3)),
        steps=draw(st.integers(2, max_steps)),
        seed=draw(st.integers(0, 2**16)),
        input=InputSignal(
            kind=draw(st.sampled_from(["white_noise", "impulse", "constant", "sine", "zeros"])),
            amplitude=draw(st.floats(-1.0, 1.0)),
            period=draw(st.floats(2.0, 10.0)),
        ),
        knobs=Knobs(**{name: draw(knob) for name in ("U", "W_hi", "W_hf", "W_hg", "W_ho",
                                                     "b_i", "b_f", "b_g", "b_o", "input_gain")}),
        initial=InitialState(S0=draw(st.floats(-0.5, 0.5)), h0=draw(st.floats(-0.5, 0.5)),
                             C0=draw(st.floats(-1.0, 1.0))),
        target=draw(st.floats(-1.0, 1.0)),
    )


def _lstm_o(results, t):
    return results.lstm_gates[t, 3]


def _h_from_C(results, k, C_k):
    """h_k as a function of C_k with o_k held fixed (MATH.md's convention); h_0 is given."""
    if k == 0:
        return results.lstm_h[0]
    return _lstm_o(results, k) * np.tanh(C_k)


# --------------------------------------------------------------------------------------------
# Vanilla RNN
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups())
def test_rnn_step_factor_R1(backend, setup):
    results = compute(setup, backend)
    p = rnn_params(setup)
    for t in range(1, setup.steps + 1):
        fd = fd_jacobian(lambda s: np.tanh(p.W_x @ results.x[t] + p.U @ s + p.b), results.rnn_S[t - 1])
        assert_matches(results.rnn_factor_matrix(t), fd)
        assert results.rnn_factor_norm[t] == pytest.approx(spectral(fd), rel=REL, abs=1e-9)
        assert results.rnn_factor_diag_mean[t] == pytest.approx(np.mean(np.diag(fd)), rel=REL, abs=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups())
def test_rnn_long_range_R2(backend, setup):
    results = compute(setup, backend)
    p = rnn_params(setup)
    T = setup.steps
    U_steps = [p.U] * T
    for k in range(T + 1):
        fd = fd_jacobian(lambda s: rnn_states(p.W_x, U_steps, p.b, results.x, s, k)[-1], results.rnn_S[k])
        assert 10.0 ** results.rnn_longrange_log10[k] == pytest.approx(spectral(fd), rel=REL, abs=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups())
def test_rnn_bptt_contributions(backend, setup):
    results = compute(setup, backend)
    p = rnn_params(setup)
    T = setup.steps
    S0 = initial_states(setup)[0]

    def loss(U_steps):
        return rnn_loss(p.W_x, U_steps, p.b, p.V, p.c, setup.target, results.x, S0)

    contributions = [results.bptt_contribution_matrix("U", k) for k in range(1, T + 1)]
    # Their sum is the gradient of the loss with respect to the shared (tied) U ...
    assert_matches(sum(contributions), fd_gradient_matrix(lambda U: loss([U] * T), p.U))
    # ... and each is the gradient with respect to an untied copy U^(k).
    for k in range(1, T + 1):
        def loss_of_copy(U_k, k=k):
            return loss([U_k if step == k else p.U for step in range(1, T + 1)])

        fd = fd_gradient_matrix(loss_of_copy, p.U)
        assert_matches(contributions[k - 1], fd)
        assert 10.0 ** results.bptt_log10("U")[k] == pytest.approx(np.linalg.norm(fd), rel=REL, abs=1e-9)
        sign, log10_abs = results.bptt_knob_contribution("U")
        knob_fd = float(np.sum(fd * results.bases["U"]))
        assert sign[k] * 10.0 ** log10_abs[k] == pytest.approx(knob_fd, rel=REL, abs=1e-9)


# --------------------------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------------------------


def _C_t_from_C_prev(setup, results, t):
    """C_t as a function of C_{t-1}, with h_{t-1} = o_{t-1} tanh(C_{t-1}) (o_{t-1} fixed)."""
    p = lstm_params(setup)

    def func(C_prev):
        h_prev = _h_from_C(results, t - 1, C_prev)
        return lstm_cell(p.W_x, p.W_h, p.b, results.x[t], h_prev, C_prev)[1]

    return func


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups())
def test_lstm_step_factor_L4_terms_sum(backend, setup):
    results = compute(setup, backend)
    for t in range(1, setup.steps + 1):
        fd = fd_jacobian(_C_t_from_C_prev(setup, results, t), results.lstm_C[t - 1])
        terms = results.lstm_factor_terms(t)
        assert_matches(terms["forget_path"] + terms["via_W_hf"] + terms["via_W_hi"] + terms["via_W_hg"], fd)
        assert_matches(terms["total"], fd)
        assert results.lstm_factor_norm[t] == pytest.approx(spectral(fd), rel=REL, abs=1e-9)  # the kernel's
        assert results.lstm_term_norms(t)[4] == pytest.approx(spectral(fd), rel=REL, abs=1e-9)  # on demand
        assert results.lstm_term_diag_mean[t, 4] == pytest.approx(np.mean(np.diag(fd)), rel=REL, abs=1e-9)
        for j, name in enumerate(("forget_path", "via_W_hf", "via_W_hi", "via_W_hg")):
            assert results.lstm_term_norms(t)[j] == pytest.approx(spectral(terms[name]), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups())
def test_lstm_state_jacobian_L6(backend, setup):
    results = compute(setup, backend)
    p = lstm_params(setup)
    H = setup.hidden_size
    for t in range(1, setup.steps + 1):
        def step(z, t=t):
            h, C, _ = lstm_cell(p.W_x, p.W_h, p.b, results.x[t], z[:H], z[H:])
            return np.concatenate([h, C])

        fd = fd_jacobian(step, np.concatenate([results.lstm_h[t - 1], results.lstm_C[t - 1]]))
        assert_matches(reference.lstm_state_jacobian(results.lstm_W_h, results.lstm_pre, results.lstm_C, t), fd)


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups())
def test_lstm_long_range_L7_and_naive_chain(backend, setup):
    results = compute(setup, backend)
    p = lstm_params(setup)
    T = setup.steps
    W_h_steps = [p.W_h] * T
    naive = np.eye(setup.hidden_size)  # product of FD per-step (L4) factors
    for k in range(T, -1, -1):
        def C_T_of_C_k(C_k, k=k):
            return lstm_states(p.W_x, W_h_steps, p.b, results.x, _h_from_C(results, k, C_k), C_k, k)[1][-1]

        fd = fd_jacobian(C_T_of_C_k, results.lstm_C[k])
        assert 10.0 ** results.lstm_longrange_log10[k] == pytest.approx(spectral(fd), rel=REL, abs=1e-9)
        assert 10.0 ** results.lstm_naive_longrange_log10[k] == pytest.approx(spectral(naive), rel=REL, abs=1e-9)
        if k > 0:
            naive = naive @ fd_jacobian(_C_t_from_C_prev(setup, results, k), results.lstm_C[k - 1])


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups(max_steps=4))
def test_lstm_bptt_contributions(backend, setup):
    results = compute(setup, backend)
    p = lstm_params(setup)
    T = setup.steps
    _, h0, C0 = initial_states(setup)

    def loss(W_h_steps):
        return lstm_loss(p.W_x, W_h_steps, p.b, p.V, p.c, setup.target, results.x, h0, C0)

    for gate, weight in enumerate(("W_hi", "W_hf", "W_hg", "W_ho")):
        def with_gate(matrix, gate=gate):
            W_h = p.W_h.copy()
            W_h[gate] = matrix
            return W_h

        contributions = [results.bptt_contribution_matrix(weight, k) for k in range(1, T + 1)]
        tied = fd_gradient_matrix(lambda m: loss([with_gate(m)] * T), p.W_h[gate])
        assert_matches(sum(contributions), tied)
        sign, log10_abs = results.bptt_knob_contribution(weight)
        for k in range(1, T + 1):
            def loss_of_copy(m, k=k):
                return loss([with_gate(m) if step == k else p.W_h for step in range(1, T + 1)])

            fd = fd_gradient_matrix(loss_of_copy, p.W_h[gate])
            assert_matches(contributions[k - 1], fd)
            assert 10.0 ** results.bptt_log10(weight)[k] == pytest.approx(np.linalg.norm(fd), rel=REL, abs=1e-9)
            knob_fd = float(np.sum(fd * results.bases[weight]))
            assert sign[k] * 10.0 ** log10_abs[k] == pytest.approx(knob_fd, rel=REL, abs=1e-9)


# --------------------------------------------------------------------------------------------
# The notes' scalar formulas and the teaching point about the naive chain
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups(max_steps=6))
def test_notes_scalar_formula_equals_kernel(backend, setup):
    setup = setup.replace(hidden_size=1, weights=None, bias_offsets={})
    results = compute(setup, backend)
    k = setup.knobs
    W_hf, W_hi, W_hg = k.W_hf, k.W_hi, k.W_hg  # H = 1: the knob is the weight
    for t in range(1, setup.steps + 1):
        i, f, g, o = results.lstm_gates[t]
        o_prev = results.lstm_gates[t - 1, 3] if t > 1 else 0.0  # D_0 = 0: h_0 is given
        C_prev = results.lstm_C[t - 1]
        tanh_prime_C_prev = 1 - np.tanh(C_prev) ** 2
        # dC_t/dC_{t-1} = f_t + o_{t-1} tanh'(C_{t-1}) [C_{t-1} s'(f) W_hf + g_t s'(i) W_hi + i_t tanh'(g) W_hg]
        forget_path = f
        via_W_hf = o_prev * tanh_prime_C_prev * C_prev * f * (1 - f) * W_hf
        via_W_hi = o_prev * tanh_prime_C_prev * g * i * (1 - i) * W_hi
        via_W_hg = o_prev * tanh_prime_C_prev * i * (1 - g**2) * W_hg
        notes = [forget_path, via_W_hf, via_W_hi, via_W_hg, forget_path + via_W_hf + via_W_hi + via_W_hg]
        np.testing.assert_allclose(results.lstm_term_diag_mean[t], np.ravel(notes), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(results.lstm_term_norms(t), np.abs(np.ravel(notes)), rtol=1e-12, atol=1e-14)
        assert results.lstm_factor_norm[t] == pytest.approx(abs(notes[-1]), rel=1e-12, abs=1e-14)
        # RNN: dS_t/dS_{t-1} = (1 - S_t^2) U
        rnn = (1 - results.rnn_S[t, 0] ** 2) * k.U
        assert results.rnn_factor_diag_mean[t] == pytest.approx(rnn, rel=1e-9, abs=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_naive_chain_differs_from_exact_on_random_weights(backend):
    setup = Setup(hidden_size=4, steps=30, seed=3,
                  knobs=Knobs(W_hi=1.2, W_hf=1.0, W_hg=1.1, W_ho=1.5, b_f=1.0, b_o=0.5))
    results = compute(setup, backend)
    gap = np.abs(results.lstm_longrange_log10 - results.lstm_naive_longrange_log10)
    assert gap[:-1].max() > 0.01  # several percent: the paths through o_{k+1}..o_{T-1} are missing
    assert gap[-1] == 0.0 and gap[-2] < 1e-12  # lags 0 and 1: one factor, nothing missing yet


@pytest.mark.parametrize("backend", BACKENDS)
def test_naive_chain_equals_exact_when_output_gate_is_constant(backend):
    # W_ho = 0 and zero input: o_t = sigma(b_o) for every t, so no path runs through o.
    setup = Setup(hidden_size=4, steps=30, seed=3, input=InputSignal(kind="zeros"),
                  initial=InitialState(h0=0.3, C0=0.5),
                  knobs=Knobs(W_hi=1.2, W_hf=1.0, W_hg=1.1, W_ho=0.0, b_f=1.0, b_o=0.5))
    results = compute(setup, backend)
    assert np.ptp(results.lstm_gates[1:, 3]) == 0.0
    np.testing.assert_allclose(results.lstm_naive_longrange_log10, results.lstm_longrange_log10,
                               rtol=0, atol=1e-12)
    # a non-trivial chain was compared: the gate paths of (L4) are present, and it decays
    assert results.lstm_term_norm[2:, 1:4].max() > 0.05
    assert results.lstm_longrange_log10[0] < -0.2
