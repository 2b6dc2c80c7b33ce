"""Exact at the extremes, judged where float64 cannot judge itself (issue 10).

- Norms of BPTT mantissas are scaled before squaring (a row of 1e-170 squares to 0).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from simulator import LOG10_OF_ZERO, LSTM_RECURRENT, InitialState, InputSignal, Knobs, Setup, compute

from .conftest import BACKENDS
from .mp_models import ScalarLSTM, ScalarRNN, log10_abs

LOG_ABS = 1e-9  # decades: ~2e-9 relative; the log-derivative path itself is good to ~1e-12 here


def _assert_log10_matches(code_sign, code_log10, exact, what):
    """A value the code carries as (sign, log10|value|) equals the mpmath value `exact`."""
    if exact == 0:
        assert code_log10 == LOG10_OF_ZERO, what
        return
    assert code_log10 != LOG10_OF_ZERO, f"{what}: reported exactly zero, true log10 = {log10_abs(exact):.6f}"
    assert code_sign == (1.0 if exact > 0 else -1.0), what
    assert code_log10 == pytest.approx(log10_abs(exact), abs=LOG_ABS), what


# ----------------------------------------------------------------------------------------------
# Item 1: norms of mantissas


@pytest.mark.parametrize("backend", BACKENDS)
def test_bptt_norm_is_not_zero_when_the_squares_underflow(backend):
    # the issue's setup: dL/dU^(2) = delta_2 S_1 with delta_2 ~ tanh'(200.9) ~ 10^-174
    setup = Setup(hidden_size=1, steps=2, input=InputSignal(kind="constant", amplitude=50.0),
                  knobs=Knobs(input_gain=4.0), target=0.5)
    results = compute(setup, backend)
    exact = ScalarRNN.from_setup(setup).bptt(2)
    assert results.bptt_log10("U")[2] == pytest.approx(-174.198, abs=1e-3)
    assert results.bptt_log10("U")[2] == pytest.approx(log10_abs(exact), abs=LOG_ABS)
    sign, log10_abs_value = results.bptt_knob_contribution("U")
    _assert_log10_matches(sign[2], log10_abs_value[2], exact, "knob contribution")


@pytest.mark.parametrize("backend", BACKENDS)
def test_bptt_norm_and_knob_contribution_of_a_tiny_state(backend):
    # S_0 = 1e-170 and zero input: S_1 ~ 5e-171, the output error ~ 2.5e-171, so
    # dL/dU^(k) = delta_k S_{k-1} ~ 1e-341: ||S_0||^2 underflows, and so does delta_k S_{k-1}
    setup = Setup(hidden_size=1, steps=2, input=InputSignal(kind="zeros"), initial=InitialState(S0=1e-170),
                  knobs=Knobs(U=0.5), target=0.0)
    results = compute(setup, backend)
    model = ScalarRNN.from_setup(setup)
    sign, log10_abs_value = results.bptt_knob_contribution("U")
    for k in (1, 2):
        exact = model.bptt(k)
        assert log10_abs(exact) < -340  # the value itself is below float64's range
        assert results.bptt_log10("U")[k] == pytest.approx(log10_abs(exact), abs=LOG_ABS), k
        _assert_log10_matches(sign[k], log10_abs_value[k], exact, f"knob contribution k = {k}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_bptt_norm_of_tiny_rows(backend):
    # H = 3, every state ~1e-170 (their squares underflow): the norms against the mantissas' exact
    # Frobenius norm, computed in mpmath
    setup = Setup(hidden_size=3, steps=3, input=InputSignal(kind="zeros"), target=0.0,
                  initial=InitialState(S0=1e-170, h0=1e-170, C0=1e-170), knobs=Knobs(U=0.5))
    results = compute(setup, backend)
    for weight in ("U", *LSTM_RECURRENT):
        for k in range(1, 4):
            matrix_log10 = _contribution_log10_frobenius(results, weight, k)
            assert matrix_log10 < -300, (weight, k)
            assert results.bptt_log10(weight)[k] == pytest.approx(matrix_log10, abs=1e-12), (weight, k)


def _contribution_log10_frobenius(results, weight, k):
    """log10 ||delta_k state_{k-1}^T||_F from the mantissas in mpmath (no underflow there)."""
    delta, scale, state = results._delta_and_prev_state(weight)
    with mpmath.workdps(30):
        total = mpmath.fsum(mpmath.mpf(float(d)) ** 2 * mpmath.mpf(float(s)) ** 2
                            for d in delta[k] for s in state[k - 1])
        if total == 0:
            return LOG10_OF_ZERO
        return float(mpmath.log10(total) / 2 + mpmath.mpf(float(scale[k])))
