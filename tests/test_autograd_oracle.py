"""Optional second oracle: PyTorch autograd (float64). Runs only where torch is installed."""

import numpy as np
import pytest

from simulator import InputSignal, Knobs, Setup, compute
from simulator.weights import initial_states, lstm_params, rnn_params

from .conftest import BACKENDS

torch = pytest.importorskip("torch")

SETUP = Setup(hidden_size=3, input_size=2, steps=6, seed=11,
              input=InputSignal(kind="white_noise", amplitude=0.8),
              knobs=Knobs(U=1.3, W_hi=0.9, W_hf=-1.1, W_hg=1.4, W_ho=0.7, b_i=0.2, b_f=0.8,
                          b_g=-0.1, b_o=0.3, input_gain=0.9))


def _t(array):
    return torch.tensor(np.asarray(array), dtype=torch.float64)


def _lstm_run(p, x, h, C, start, W_h=None):
    W_h = _t(p.W_h) if W_h is None else W_h
    W_x, b = _t(p.W_x), _t(p.b)
    for t in range(start + 1, x.shape[0]):
        xt = _t(x[t])
        i = torch.sigmoid(W_x[0] @ xt + W_h[0] @ h + b[0])
        f = torch.sigmoid(W_x[1] @ xt + W_h[1] @ h + b[1])
        g = torch.tanh(W_x[2] @ xt + W_h[2] @ h + b[2])
        o = torch.sigmoid(W_x[3] @ xt + W_h[3] @ h + b[3])
        C = f * C + i * g
        h = o * torch.tanh(C)
    return h, C


@pytest.mark.parametrize("backend", BACKENDS)
def test_long_range_and_bptt_match_autograd(backend):
    results = compute(SETUP, backend)
    p, x, T = lstm_params(SETUP), results.x, SETUP.steps
    for k in range(T + 1):
        o_k = _t(results.lstm_gates[k, 3])

        def C_T_of_C_k(C_k, k=k, o_k=o_k):
            h_k = o_k * torch.tanh(C_k) if k > 0 else _t(results.lstm_h[0])
            return _lstm_run(p, x, h_k, C_k, k)[1]

        jac = torch.autograd.functional.jacobian(C_T_of_C_k, _t(results.lstm_C[k])).numpy()
        assert 10 ** results.lstm_longrange_log10[k] == pytest.approx(np.linalg.norm(jac, 2), rel=1e-10)

    # dL_T/dW_hf for the shared weight: the sum of the per-step contributions.
    _, h0, C0 = initial_states(SETUP)
    W_h = _t(p.W_h).requires_grad_(True)
    h_T, _ = _lstm_run(p, x, _t(h0), _t(C0), 0, W_h=W_h)
    loss = 0.5 * torch.sum((SETUP.target - (_t(p.V) @ h_T + _t(p.c))) ** 2)
    loss.backward()
    for gate, weight in enumerate(("W_hi", "W_hf", "W_hg", "W_ho")):
        total = sum(results.bptt_contribution_matrix(weight, k) for k in range(1, T + 1))
        np.testing.assert_allclose(total, W_h.grad[gate].numpy(), rtol=1e-10, atol=1e-13)

    # RNN: dS_T/dS_0
    r = rnn_params(SETUP)

    def S_T_of_S_0(S):
        for t in range(1, T + 1):
            S = torch.tanh(_t(r.W_x) @ _t(x[t]) + _t(r.U) @ S + _t(r.b))
        return S

    jac = torch.autograd.functional.jacobian(S_T_of_S_0, _t(results.rnn_S[0])).numpy()
    assert 10 ** results.rnn_longrange_log10[0] == pytest.approx(np.linalg.norm(jac, 2), rel=1e-10)
