"""The closed-form cases of the issue: the simulator must reproduce them to round-off."""

import numpy as np
import pytest

from simulator import LOG10_OF_ZERO, InputSignal, Knobs, Setup, compute

BACKENDS = ["reference", "numba"]


def _scalar_rnn(U):
    return Setup(hidden_size=1, steps=50, input=InputSignal(kind="zeros"), knobs=Knobs(U=U))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("U, expected", [(0.9, 5.15e-3), (1.1, 117.4)])
def test_scalar_rnn_at_zero_state_is_U_to_the_50(backend, U, expected):
    # S stays 0, so tanh' = 1 at every step and dS_50/dS_0 = U^50.
    results = compute(_scalar_rnn(U), backend)
    assert np.all(results.rnn_S == 0.0)
    value = 10.0 ** results.rnn_longrange_log10[0]
    assert value == pytest.approx(U**50, rel=1e-12)
    assert value == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("b_f, expected", [(3.0, 0.088), (0.0, 8.9e-16)])
def test_lstm_without_recurrent_weights_is_sigma_bf_to_the_50(backend, b_f, expected):
    knobs = Knobs(W_hi=0.0, W_hf=0.0, W_hg=0.0, W_ho=0.0, b_f=b_f)
    setup = Setup(hidden_size=1, steps=50, input=InputSignal(kind="zeros"), knobs=knobs)
    results = compute(setup, backend)
    sigma = 1.0 / (1.0 + np.exp(-b_f))
    for longrange in (results.lstm_longrange_log10, results.lstm_naive_longrange_log10):
        assert 10.0 ** longrange[0] == pytest.approx(sigma**50, rel=1e-12)
        assert 10.0 ** longrange[0] == pytest.approx(expected, rel=1e-2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_lag_5000_at_U_5_is_finite(backend):
    import warnings

    setup = Setup(hidden_size=4, steps=5000, knobs=Knobs(U=5.0, W_hf=5.0, W_hi=-5.0, W_hg=5.0, W_ho=5.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            results = compute(setup, backend)
    for name in ("U", "W_hf", "W_hi", "W_hg", "W_ho"):
        assert np.all(np.isfinite(results.bptt_log10(name)))
    for array in (results.rnn_longrange_log10, results.lstm_longrange_log10,
                  results.lstm_naive_longrange_log10, results.rnn_factor_norm, results.lstm_factor_norm, results.lstm_term_norm):
        assert np.all(np.isfinite(array))


@pytest.mark.parametrize("backend", BACKENDS)
def test_exploding_rnn_at_zero_state_reaches_hundreds_of_decades(backend):
    # U = 3 at the zero state with zero input: dS_T/dS_{T-1000} = 3^1000 ~ 10^477, far past float64.
    setup = Setup(hidden_size=1, steps=1000, input=InputSignal(kind="zeros"), knobs=Knobs(U=3.0))
    results = compute(setup, backend)
    assert results.rnn_longrange_log10[0] == pytest.approx(1000 * np.log10(3.0), rel=1e-12)


@pytest.mark.parametrize("hidden, inputs", [(1, 1), (1, 3), (2, 3), (5, 2)])
def test_kernel_inputs_are_c_contiguous(hidden, inputs):
    # The numba kernels are compiled for C order; another layout would compile again at run time.
    from simulator.weights import lstm_params, rnn_params

    setup = Setup(hidden_size=hidden, input_size=inputs, steps=2)
    arrays = [*vars(rnn_params(setup)).values(), *vars(lstm_params(setup)).values()]
    assert all(array.flags["C_CONTIGUOUS"] for array in arrays)


def test_theory_lines():
    setup = Setup(hidden_size=3, steps=20, knobs=Knobs(U=1.7, b_f=-40.0))
    results = compute(setup, "reference")
    lags = results.lags()
    theory = results.theory_log10(lags)
    np.testing.assert_allclose(theory["sigma_max_U"], lags * np.log10(1.7), rtol=1e-12)
    # log10 sigma(-40) = -40 / ln 10 - log10(1 + e^-40): precise far in the tail
    np.testing.assert_allclose(theory["sigma_b_f"], lags * (-40.0 / np.log(10.0) - np.log10(1 + np.exp(-40.0))),
                               rtol=1e-12)
    # with per-unit offsets the line follows the largest b_f (the slowest-forgetting unit)
    offsets = Setup.from_dict({**setup.to_dict(), "bias_offsets": {"b_f": [0.0, 41.0, 1.0]}})
    results = compute(offsets.replace(knobs={**setup.knobs.model_dump(), "U": 0.0}), "reference")
    sigma_1 = 1.0 / (1.0 + np.exp(-1.0))
    np.testing.assert_allclose(results.theory_log10(lags)["sigma_b_f"], lags * np.log10(sigma_1), rtol=1e-12)
    assert np.all(results.theory_log10(lags)["sigma_max_U"][:-1] == LOG10_OF_ZERO)  # U = 0: exactly zero
