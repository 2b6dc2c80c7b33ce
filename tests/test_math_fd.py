"""Every formula of MATH.md against central finite differences in float64 (rel. error <= 1e-6).

The oracle is independent of the code under test: the forward models in fd_models.py are written
from MATH.md's forward equations only, and every point the derivatives are taken at (states,
o_{t-1} of the notes' convention) comes from those models' own trajectories, which are
themselves compared with the simulator's. Central differences carry ~1e-10 absolute error, so
they cannot judge a value of 1e-9: values below TINY are compared in log10, to the same relative
REL, against complex-step derivatives of the same models (full relative precision).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simulator import LOG10_OF_ZERO, InitialState, InputSignal, Knobs, Setup, compute
from simulator import reference
from simulator.weights import initial_states, input_sequence, lstm_params, rnn_params

from .conftest import BACKENDS
from .fd_models import (
    cs_gradient_matrix,
    cs_jacobian,
    fd_gradient_matrix,
    fd_jacobian,
    lstm_cell,
    lstm_cell_gate_inputs,
    lstm_gate_values,
    lstm_loss,
    lstm_states,
    rnn_loss,
    rnn_states,
)

REL = 1e-6
TINY = 1e-6  # below this, central differences cannot judge: complex steps, in log10
# An exactly zero derivative comes out of a complex step as rounding noise, of order h eps^2
# (seen: 3e-64, where the loss's error is exactly 0 at the point): below this, "zero".
CS_NOISE = 1e-50
TRAJECTORY = 1e-12  # the simulator's forward pass against the independent model's
FD_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TERMS = ("forget_path", "via_W_hf", "via_W_hi", "via_W_hg")  # (L4), TERM_NAMES without the total
GATE_OF_TERM = {"via_W_hi": 0, "via_W_hf": 1, "via_W_hg": 2}


def assert_matches(value, fd, rel=REL):
    value, fd = np.asarray(value, float), np.asarray(fd, float)
    assert value.shape == fd.shape
    scale = max(np.abs(fd).max(initial=0.0), 1e-3)  # FD's own error is ~1e-10 absolute
    assert np.abs(value - fd).max(initial=0.0) <= rel * scale, (value, fd)


def assert_value(value, fd, cs, size=0.0, what=""):
    """A signed value against its oracles: central differences, or the complex step where it is
    tiny. size: the size of the terms the value is a sum of (a diagonal mean may cancel)."""
    if abs(cs) < TINY:
        assert abs(value - cs) <= REL * abs(cs) + 1e-14 * size, (what, value, cs)
    else:
        assert value == pytest.approx(fd, rel=REL, abs=1e-9), (what, value, fd)


def assert_log10_value(sign, log10_value, fd, cs, what=""):
    """A value the code reports as (sign, log10 |value|) (a norm: sign 1) against its oracles.
    Below CS_NOISE the complex step cannot tell a value from zero: the code's value must then be
    exactly zero (LOG10_OF_ZERO) or below CS_NOISE as well."""
    if abs(cs) < CS_NOISE:
        assert log10_value < np.log10(CS_NOISE), (what, log10_value, cs)
    elif abs(cs) < TINY:
        assert log10_value != LOG10_OF_ZERO and sign == np.sign(cs), (what, sign, log10_value, cs)
        assert log10_value == pytest.approx(np.log10(abs(cs)), abs=REL / np.log(10.0)), (what, log10_value, cs)
    else:
        assert sign * 10.0 ** log10_value == pytest.approx(fd, rel=REL, abs=1e-9), (what, log10_value, fd)


def spectral(matrix):
    return np.linalg.norm(np.atleast_2d(matrix), 2)


def sized(limit):
    """0, or a float of size 1e-6..limit: a complex step of 1e-30 resolves derivatives down to
    ~1e-270 (below, its imaginary part underflows), and a knob, state or target of 1e-280 makes
    some. Those extremes are judged in mpmath instead (tests/test_extremes.py)."""
    return st.one_of(st.just(0.0), st.floats(1e-6, limit), st.floats(-limit, -1e-6))


knob = sized(2.0)


@st.composite
def small_setups(draw, max_steps=5):
    return Setup(
        hidden_size=draw(st.integers(1, 4)),
        input_size=draw(st.integers(1, 3)),
        steps=draw(st.integers(2, max_steps)),
        seed=draw(st.integers(0, 2**16)),
        input=InputSignal(
            kind=draw(st.sampled_from(["white_noise", "impulse", "constant", "sine", "zeros"])),
            amplitude=draw(sized(1.0)),
            period=draw(st.floats(2.0, 10.0)),
        ),
        knobs=Knobs(**{name: draw(knob) for name in ("U", "W_hi", "W_hf", "W_hg", "W_ho",
                                                     "b_i", "b_f", "b_g", "b_o", "input_gain")}),
        initial=InitialState(S0=draw(sized(0.5)), h0=draw(sized(0.5)), C0=draw(sized(1.0))),
        target=draw(sized(1.0)),
    )


# Explicit examples whose long-range derivatives and BPTT contributions are far below TINY, where
# an absolute tolerance would pass any value: the complex-step comparison must judge them.
VANISHING = Setup(hidden_size=2, steps=5, seed=1, input=InputSignal(kind="white_noise", amplitude=0.8),
                  knobs=Knobs(U=0.02, W_hi=0.03, W_hf=0.02, W_hg=-0.03, W_ho=0.02, b_f=-6.0),
                  initial=InitialState(S0=0.3, h0=0.2, C0=0.5), target=0.7)
VANISHING_SCALAR = VANISHING.replace(hidden_size=1, knobs={**VANISHING.knobs.model_dump(), "U": -0.004})


# --------------------------------------------------------------------------------------------
# The independent trajectories (item 15 of issue 10: nothing is taken from the code under test)


class RNNOracle:
    def __init__(self, setup):
        self.p, self.x = rnn_params(setup), input_sequence(setup)
        self.T = setup.steps
        self.S = rnn_states(self.p.W_x, [self.p.U] * self.T, self.p.b, self.x, initial_states(setup)[0])

    def step(self, t):
        """S_t as a function of S_{t-1}."""
        return lambda s: np.tanh(self.p.W_x @ self.x[t] + self.p.U @ s + self.p.b)

    def S_T_of_S_k(self, k):
        return lambda s: rnn_states(self.p.W_x, [self.p.U] * self.T, self.p.b, self.x, s, k)[-1]


class LSTMOracle:
    def __init__(self, setup):
        self.p, self.x = lstm_params(setup), input_sequence(setup)
        self.T = setup.steps
        _, h0, C0 = initial_states(setup)
        self.h, self.C, self.o = lstm_states(self.p.W_x, [self.p.W_h] * self.T, self.p.b, self.x, h0, C0)

    def h_from_C(self, k, C_k):
        """h_k as a function of C_k with o_k held fixed (MATH.md's convention); h_0 is given."""
        return self.h[0] if k == 0 else self.o[k] * np.tanh(C_k)

    def C_t_of_C_prev(self, t, path="total"):
        """C_t as a function of C_{t-1}, with h_{t-1} = o_{t-1} tanh(C_{t-1}). path singles out one
        (L4) term: "forget_path" (h_{t-1} held fixed), or "via_W_h<gate>" (only that gate sees
        h_{t-1} move; C_{t-1} in f_t C_{t-1} held fixed)."""
        h_fixed, C_fixed = self.h[t - 1], self.C[t - 1]

        def func(C_prev):
            h_prev = self.h_from_C(t - 1, C_prev)
            if path == "total":
                return lstm_cell(self.p.W_x, self.p.W_h, self.p.b, self.x[t], h_prev, C_prev)[1]
            h_per_gate = [h_fixed] * 4
            if path in GATE_OF_TERM:
                h_per_gate[GATE_OF_TERM[path]] = h_prev
            C_used = C_prev if path == "forget_path" else C_fixed
            return lstm_cell_gate_inputs(self.p.W_x, self.p.W_h, self.p.b, self.x[t], h_per_gate, C_used)[1]

        return func

    def C_T_of_C_k(self, k):
        def func(C_k):
            h_k = self.h_from_C(k, C_k)
            return lstm_states(self.p.W_x, [self.p.W_h] * self.T, self.p.b, self.x, h_k, C_k, k)[1][-1]

        return func


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups())
@example(setup=VANISHING)
def test_forward_trajectories_equal_the_independent_models(backend, setup):
    results = compute(setup, backend)
    rnn, lstm = RNNOracle(setup), LSTMOracle(setup)
    np.testing.assert_allclose(results.rnn_S, np.array(rnn.S), rtol=TRAJECTORY, atol=TRAJECTORY)
    np.testing.assert_allclose(results.lstm_C, np.array(lstm.C), rtol=TRAJECTORY, atol=TRAJECTORY)
    np.testing.assert_allclose(results.lstm_h, np.array(lstm.h), rtol=TRAJECTORY, atol=TRAJECTORY)
    np.testing.assert_allclose(results.lstm_gates[1:, 3], np.array(lstm.o[1:]), rtol=TRAJECTORY, atol=TRAJECTORY)


# --------------------------------------------------------------------------------------------
# Vanilla RNN
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups())
@example(setup=VANISHING)
def test_rnn_step_factor_R1(backend, setup):
    results = compute(setup, backend)
    rnn = RNNOracle(setup)
    for t in range(1, setup.steps + 1):
        fd = fd_jacobian(rnn.step(t), rnn.S[t - 1])
        cs = cs_jacobian(rnn.step(t), rnn.S[t - 1])
        assert_matches(results.rnn_factor_matrix(t), fd)
        assert_value(results.rnn_factor_norm[t], spectral(fd), spectral(cs), what=f"norm t = {t}")
        assert_value(results.rnn_factor_diag_mean[t], np.mean(np.diag(fd)), np.mean(np.diag(cs)),
                     size=np.abs(np.diag(cs)).max(), what=f"diagonal mean t = {t}")


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups())
@example(setup=VANISHING)
@example(setup=VANISHING_SCALAR)
def test_rnn_long_range_R2(backend, setup):
    results = compute(setup, backend)
    rnn = RNNOracle(setup)
    for k in range(setup.steps + 1):
        fd = fd_jacobian(rnn.S_T_of_S_k(k), rnn.S[k])
        cs = cs_jacobian(rnn.S_T_of_S_k(k), rnn.S[k])
        assert_log10_value(1.0, results.rnn_longrange_log10[k], spectral(fd), spectral(cs), f"k = {k}")


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups())
@example(setup=VANISHING)
@example(setup=VANISHING_SCALAR)
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
    sign, log10_abs = results.bptt_knob_contribution("U")
    for k in range(1, T + 1):
        def loss_of_copy(U_k, k=k):
            return loss([U_k if step == k else p.U for step in range(1, T + 1)])

        fd, cs = fd_gradient_matrix(loss_of_copy, p.U), cs_gradient_matrix(loss_of_copy, p.U)
        assert_matches(contributions[k - 1], fd)
        assert_log10_value(1.0, results.bptt_log10("U")[k], np.linalg.norm(fd), np.linalg.norm(cs), f"k = {k}")
        knob_fd, knob_cs = (float(np.sum(g * results.bases["U"])) for g in (fd, cs))
        assert_log10_value(sign[k], log10_abs[k], knob_fd, knob_cs, f"knob k = {k}")


# --------------------------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups())
@example(setup=VANISHING)
def test_lstm_step_factor_L4_each_term(backend, setup):
    """Each of the four (L4) terms, not only their sum, against the model's own path derivative:
    the forget path with h_{t-1} held fixed, each gate path with only that gate seeing h_{t-1} move."""
    results = compute(setup, backend)
    lstm = LSTMOracle(setup)
    for t in range(1, setup.steps + 1):
        terms = results.lstm_factor_terms(t)
        norms = results.lstm_term_norms(t)  # on demand (H > 1: SVDs of the terms)
        for j, name in enumerate((*TERMS, "total")):
            fd = fd_jacobian(lstm.C_t_of_C_prev(t, name), lstm.C[t - 1])
            cs = cs_jacobian(lstm.C_t_of_C_prev(t, name), lstm.C[t - 1])
            assert_matches(terms[name], fd)
            what = f"{name} t = {t}"
            assert_value(norms[j], spectral(fd), spectral(cs), what=what)
            assert_value(results.lstm_term_diag_mean[t, j], np.mean(np.diag(fd)), np.mean(np.diag(cs)),
                         size=np.abs(np.diag(cs)).max(), what=what)
            if name == "total":  # the kernel's norm of the sum, besides the on-demand one
                assert_value(results.lstm_factor_norm[t], spectral(fd), spectral(cs), what=what)


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups())
def test_lstm_state_jacobian_L6(backend, setup):
    results = compute(setup, backend)
    lstm = LSTMOracle(setup)
    p, H = lstm.p, setup.hidden_size
    for t in range(1, setup.steps + 1):
        def step(z, t=t):
            h, C, _ = lstm_cell(p.W_x, p.W_h, p.b, lstm.x[t], z[:H], z[H:])
            return np.concatenate([h, C])

        fd = fd_jacobian(step, np.concatenate([lstm.h[t - 1], lstm.C[t - 1]]))
        assert_matches(reference.lstm_state_jacobian(results.lstm_W_h, results.lstm_pre, results.lstm_C, t), fd)


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups())
@example(setup=VANISHING)
@example(setup=VANISHING_SCALAR)
def test_lstm_long_range_L7_and_naive_chain(backend, setup):
    results = compute(setup, backend)
    lstm = LSTMOracle(setup)
    naive_fd = naive_cs = np.eye(setup.hidden_size)  # products of the per-step (L4) factors
    for k in range(setup.steps, -1, -1):
        fd = fd_jacobian(lstm.C_T_of_C_k(k), lstm.C[k])
        cs = cs_jacobian(lstm.C_T_of_C_k(k), lstm.C[k])
        assert_log10_value(1.0, results.lstm_longrange_log10[k], spectral(fd), spectral(cs), f"(L7) k = {k}")
        assert_log10_value(1.0, results.lstm_naive_longrange_log10[k], spectral(naive_fd), spectral(naive_cs),
                           f"naive k = {k}")
        if k > 0:
            naive_fd = naive_fd @ fd_jacobian(lstm.C_t_of_C_prev(k), lstm.C[k - 1])
            naive_cs = naive_cs @ cs_jacobian(lstm.C_t_of_C_prev(k), lstm.C[k - 1])


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups(max_steps=4))
@example(setup=VANISHING.replace(steps=4))
def test_lstm_bptt_contributions(backend, setup):
    results = compute(setup, backend)
    p = lstm_params(setup)
    T = setup.steps
    _, h0, C0 = initial_states(setup)

    def loss(W_h_steps):
        return lstm_loss(p.W_x, W_h_steps, p.b, p.V, p.c, setup.target, results.x, h0, C0)

    for gate, weight in enumerate(("W_hi", "W_hf", "W_hg", "W_ho")):
        def with_gate(matrix, gate=gate):
            W_h = p.W_h.astype(np.result_type(p.W_h, matrix))  # complex for a complex step
            W_h[gate] = matrix
            return W_h

        contributions = [results.bptt_contribution_matrix(weight, k) for k in range(1, T + 1)]
        tied = fd_gradient_matrix(lambda m: loss([with_gate(m)] * T), p.W_h[gate])
        assert_matches(sum(contributions), tied)
        sign, log10_abs = results.bptt_knob_contribution(weight)
        for k in range(1, T + 1):
            def loss_of_copy(m, k=k):
                return loss([with_gate(m) if step == k else p.W_h for step in range(1, T + 1)])

            fd, cs = fd_gradient_matrix(loss_of_copy, p.W_h[gate]), cs_gradient_matrix(loss_of_copy, p.W_h[gate])
            assert_matches(contributions[k - 1], fd)
            what = f"{weight} k = {k}"
            assert_log10_value(1.0, results.bptt_log10(weight)[k], np.linalg.norm(fd), np.linalg.norm(cs), what)
            knob_fd, knob_cs = (float(np.sum(g * results.bases[weight])) for g in (fd, cs))
            assert_log10_value(sign[k], log10_abs[k], knob_fd, knob_cs, f"knob {what}")


# --------------------------------------------------------------------------------------------
# The notes' scalar formulas and the teaching point about the naive chain
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@FD_SETTINGS
@given(setup=small_setups(max_steps=6))
def test_notes_scalar_formula_equals_kernel(backend, setup):
    setup = setup.replace(hidden_size=1, weights=None, bias_offsets={})
    results = compute(setup, backend)
    lstm, rnn = LSTMOracle(setup), RNNOracle(setup)
    k = setup.knobs
    W_hf, W_hi, W_hg = k.W_hf, k.W_hi, k.W_hg  # H = 1: the knob is the weight
    for t in range(1, setup.steps + 1):
        # the notes' formula on the independent model's trajectory
        i, f, g, _ = (v[0] for v in lstm_gate_values(lstm.p.W_x, lstm.p.W_h, lstm.p.b, lstm.x[t], lstm.h[t - 1]))
        o_prev = lstm.o[t - 1][0] if t > 1 else 0.0  # D_0 = 0: h_0 is given
        C_prev = lstm.C[t - 1][0]
        tanh_prime_C_prev = 1 - np.tanh(C_prev) ** 2
        # dC_t/dC_{t-1} = f_t + o_{t-1} tanh'(C_{t-1}) [C_{t-1} s'(f) W_hf + g_t s'(i) W_hi + i_t tanh'(g) W_hg]
        forget_path = f
        via_W_hf = o_prev * tanh_prime_C_prev * C_prev * f * (1 - f) * W_hf
        via_W_hi = o_prev * tanh_prime_C_prev * g * i * (1 - i) * W_hi
        via_W_hg = o_prev * tanh_prime_C_prev * i * (1 - g**2) * W_hg
        notes = [forget_path, via_W_hf, via_W_hi, via_W_hg, forget_path + via_W_hf + via_W_hi + via_W_hg]
        np.testing.assert_allclose(results.lstm_term_diag_mean[t], notes, rtol=1e-12, atol=1e-14)
        # ... and the notes' formula is the derivative: each term against the model's own path
        for name, value in zip((*TERMS, "total"), notes):
            exact = cs_jacobian(lstm.C_t_of_C_prev(t, name), lstm.C[t - 1])[0, 0]
            assert value == pytest.approx(exact, rel=1e-10, abs=1e-15), (name, t)
        assert results.lstm_factor_norm[t] == pytest.approx(abs(notes[-1]), rel=1e-12, abs=1e-14)
        # RNN: dS_t/dS_{t-1} = (1 - S_t^2) U
        assert results.rnn_factor_diag_mean[t] == pytest.approx((1 - rnn.S[t][0] ** 2) * k.U, rel=1e-9, abs=1e-14)


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


def test_vanishing_examples_reach_below_what_central_differences_can_judge():
    # the explicit examples must really exercise the complex-step branch
    for setup in (VANISHING, VANISHING_SCALAR):
        results = compute(setup, "reference")
        below = np.log10(TINY)
        assert results.rnn_longrange_log10[0] < below and results.lstm_longrange_log10[0] < below
        assert results.bptt_log10("U")[1] < below
        assert np.min(results.bptt_log10("W_hf")[2:]) < below
