"""Readable pure-numpy reference of every kernel: the oracle for tests and the baseline for bench.

Each function has the same signature and returns the same arrays as its numba twin in
`kernels.py`. Time is the first axis and row t holds step t (row 0 is t = 0; per-step
quantities that do not exist at t = 0 are 0 there). Labels (R1), (L4), ... refer to MATH.md.

Numerical choices, shared with the kernels:
- tanh'(a) = sech^2(a) and sigma'(a) = sigma(a) sigma(-a) are computed from the pre-activation,
  which equals 1 - tanh^2 and sigma (1 - sigma) but does not round to 0 once tanh rounds to +-1.
- Long products are renormalised every step; their size is carried as a log10 scale.
  log10(0) (an exactly zero product, e.g. U = 0) is reported as LOG10_OF_ZERO.
- Matrix norms are spectral norms (largest singular value).
"""

from __future__ import annotations

import numpy as np

LOG10_OF_ZERO = -1.0e12  # far below any real value (lag 5000 in deep saturation is ~ -1e7)
TERM_NAMES = ("forget_path", "via_W_hf", "via_W_hi", "via_W_hg", "total")  # (L4), in this order
I, F, G, O = 0, 1, 2, 3  # gate rows


def sigmoid(a):
    # exp(-|a|) never overflows, and for a << 0 this keeps full relative precision
    e = np.exp(-np.abs(a))
    return np.where(a >= 0.0, 1.0, e) / (1.0 + e)


def sigmoid_prime(a):
    e = np.exp(-np.abs(a))
    return e / (1.0 + e) ** 2


def tanh_prime(a):
    e = np.exp(-2.0 * np.abs(a))
    return 4.0 * e / (1.0 + e) ** 2


def renormalise(array):
    """Divide array in place by its largest |entry|; return log10 of that factor (0 if all zero)."""
    size = np.abs(array).max()
    if size > 0.0:
        array /= size
        return np.log10(size)
    return 0.0


def log10_norm(matrix, log10_scale):
    norm = np.linalg.norm(matrix, 2)
    return np.log10(norm) + log10_scale if norm > 0.0 else LOG10_OF_ZERO


# ----------------------------------------------------------------------------------------------
# Vanilla RNN: a_t = W x_t + U S_{t-1} + b,  S_t = tanh(a_t),  O_t = V S_t + c
# ----------------------------------------------------------------------------------------------


def rnn_forward(W_x, U, b, x, S0):
    """Returns (a, S), each (T + 1, H); S[0] = S0, a[0] = 0."""
    T = x.shape[0] - 1
    a = np.zeros((T + 1, U.shape[0]))
    S = np.zeros((T + 1, U.shape[0]))
    S[0] = S0
    for t in range(1, T + 1):
        a[t] = W_x @ x[t] + U @ S[t - 1] + b
        S[t] = np.tanh(a[t])
    return a, S


def rnn_factor(U, a, t):
    """(R1) dS_t/dS_{t-1} = diag(1 - S_t^2) U."""
    return tanh_prime(a[t])[:, None] * U


def rnn_factor_summary(U, a):
    """Per t: spectral norm and mean of the diagonal of (R1). Each (T + 1,), 0 at t = 0."""
    T = a.shape[0] - 1
    norm, diag_mean = np.zeros(T + 1), np.zeros(T + 1)
    for t in range(1, T + 1):
        factor = rnn_factor(U, a, t)
        norm[t] = np.linalg.norm(factor, 2)
        diag_mean[t] = np.mean(np.diag(factor))
    return norm, diag_mean


def rnn_longrange_log10(U, a, horizon):
    """(R2) log10 ||dS_h/dS_k|| for k = 0..h (h = horizon); entry k = h is log10 ||I|| = 0."""
    H = U.shape[0]
    out = np.zeros(horizon + 1)
    product, log10_scale = np.eye(H), 0.0
    for k in range(horizon - 1, -1, -1):
        product = product @ rnn_factor(U, a, k + 1)  # latest step on the left
        log10_scale += renormalise(product)
        out[k] = log10_norm(product, log10_scale)
    return out


def rnn_bptt(U, V, c, target, a, S, horizon):
    """Backward pass of L = 1/2 ||Y* - O_h||^2 at step h = horizon.

    Returns (delta, log10_scale): delta[k] * 10**log10_scale[k] = dL/da_k for k = 1..h, so the
    contribution of step k to dL/dU is  dL/dU^(k) = delta_k S_{k-1}^T  (MATH.md, BPTT).
    """
    H = U.shape[0]
    delta = np.zeros((horizon + 1, H))
    log10_scale = np.zeros(horizon + 1)
    grad_S = V.T @ (V @ S[horizon] + c - target)  # dL/dS_h
    scale_now = 0.0
    for k in range(horizon, 0, -1):
        delta[k] = tanh_prime(a[k]) * grad_S
        log10_scale[k] = scale_now
        grad_S = U.T @ delta[k]  # dL/dS_{k-1}
        scale_now += renormalise(grad_S)
    return delta, log10_scale


def rnn_pass(W_x, U, b, x, S0, V, c, target, horizon):
    """The whole RNN as `results.compute` needs it: forward, (R1) summary, (R2), BPTT.
    Returns (a, S, factor_norm, factor_diag_mean, longrange_log10, delta, delta_log10_scale)."""
    a, S = rnn_forward(W_x, U, b, x, S0)
    factor_norm, factor_diag_mean = rnn_factor_summary(U, a)
    longrange = rnn_longrange_log10(U, a, horizon)
    delta, delta_log10_scale = rnn_bptt(U, V, c, target, a, S, horizon)
    return a, S, factor_norm, factor_diag_mean, longrange, delta, delta_log10_scale


# ----------------------------------------------------------------------------------------------
# LSTM (no peepholes). Gates i, f, g, o are rows 0..3 of W_x (4, H, D), W_h (4, H, H), b (4, H).
# ----------------------------------------------------------------------------------------------


def lstm_forward(W_x, W_h, b, x, h0, C0):
    """Returns (pre, gates, h, C): pre and gates (T + 1, 4, H) (row 0 zero), h and C (T + 1, H)."""
    T, H = x.shape[0] - 1, W_h.shape[1]
    pre = np.zeros((T + 1, 4, H))
    gates = np.zeros((T + 1, 4, H))
    h = np.zeros((T + 1, H))
    C = np.zeros((T + 1, H))
    h[0], C[0] = h0, C0
    for t in range(1, T + 1):
        for gate in (I, F, G, O):
            pre[t, gate] = W_x[gate] @ x[t] + W_h[gate] @ h[t - 1] + b[gate]
        gates[t, I] = sigmoid(pre[t, I])
        gates[t, F] = sigmoid(pre[t, F])
        gates[t, G] = np.tanh(pre[t, G])
        gates[t, O] = sigmoid(pre[t, O])
        C[t] = gates[t, F] * C[t - 1] + gates[t, I] * gates[t, G]
        h[t] = gates[t, O] * np.tanh(C[t])
    return pre, gates, h, C


def lstm_dh_dC(pre, C, t):
    """D_t = o_t * tanh'(C_t) = dh_t/dC_t with o_t held fixed; D_0 = 0 (h_0 is given)."""
    if t == 0:
        return np.zeros(C.shape[1])
    return sigmoid(pre[t, O]) * tanh_prime(C[t])


def lstm_dC_dh(W_h, pre, C, t):
    """A_t = dC_t/dh_{t-1}, returned as its three gate paths (via W_hf, via W_hi, via W_hg)."""
    i, g = sigmoid(pre[t, I]), np.tanh(pre[t, G])
    via_f = (C[t - 1] * sigmoid_prime(pre[t, F]))[:, None] * W_h[F]
    via_i = (g * sigmoid_prime(pre[t, I]))[:, None] * W_h[I]
    via_g = (i * tanh_prime(pre[t, G]))[:, None] * W_h[G]
    return via_f, via_i, via_g


def lstm_factor_terms(W_h, pre, C, t):
    """(L4) the four terms of dC_t/dC_{t-1} as H x H matrices: forget path, via W_hf, W_hi, W_hg."""
    D_prev = lstm_dh_dC(pre, C, t - 1)
    via_f, via_i, via_g = lstm_dC_dh(W_h, pre, C, t)
    forget_path = np.diag(sigmoid(pre[t, F]))
    return forget_path, via_f * D_prev, via_i * D_prev, via_g * D_prev


def lstm_factor_summary(W_h, pre, C):
    """Per t: the spectral norm of the (L4) sum, (T + 1,), and the diagonal mean of each term and
    of the sum in TERM_NAMES order, (T + 1, 5). (Each term's own norm: `lstm_term_norms`, on demand.)"""
    T = pre.shape[0] - 1
    total_norm, diag_mean = np.zeros(T + 1), np.zeros((T + 1, 5))
    lstm_factor_summary_steps(W_h, pre, C, 1, T + 1, total_norm, diag_mean)
    return total_norm, diag_mean


def lstm_factor_summary_steps(W_h, pre, C, first, stop, total_norm, diag_mean):
    """`lstm_factor_summary` for the steps first..stop-1 only, written into its two arrays. Each
    step stands alone, so the steps can be shared out between threads (see results.compute)."""
    for t in range(first, stop):
        terms = lstm_factor_terms(W_h, pre, C, t)
        terms = (*terms, sum(terms))
        for j, term in enumerate(terms):
            diag_mean[t, j] = np.mean(np.diag(term))
        total_norm[t] = np.linalg.norm(terms[-1], 2)


def lstm_term_norms(W_h, pre, C, t):
    """Spectral norms of the four (L4) terms and of their sum at step t >= 1, (5,), TERM_NAMES order."""
    terms = lstm_factor_terms(W_h, pre, C, t)
    return np.array([np.linalg.norm(term, 2) for term in (*terms, sum(terms))])


def lstm_state_jacobian(W_h, pre, C, t):
    """(L6) J_t = d(h_t, C_t)/d(h_{t-1}, C_{t-1}), a 2H x 2H block matrix."""
    H = C.shape[1]
    f, o = sigmoid(pre[t, F]), sigmoid(pre[t, O])
    A = sum(lstm_dC_dh(W_h, pre, C, t))
    dh_dC_t = o * tanh_prime(C[t])
    J = np.zeros((2 * H, 2 * H))
    J[:H, :H] = (np.tanh(C[t]) * sigmoid_prime(pre[t, O]))[:, None] * W_h[O] + dh_dC_t[:, None] * A
    J[:H, H:] = np.diag(dh_dC_t * f)
    J[H:, :H] = A
    J[H:, H:] = np.diag(f)
    return J


def lstm_longrange_log10(W_h, pre, C, horizon):
    """For k = 0..h (h = horizon): log10 ||dC_h/dC_k|| exact (L7), and of the naive product of
    per-step (L4) factors. Returns (exact, naive), each (h + 1,), 0 at k = h."""
    H = C.shape[1]
    exact, naive = np.zeros(horizon + 1), np.zeros(horizon + 1)
    rows = np.hstack([np.zeros((H, H)), np.eye(H)])  # C-rows of J_h ... J_{k+1}
    rows_scale = 0.0
    chain = np.eye(H)  # product of (L4) factors, latest on the left
    chain_scale = 0.0
    for k in range(horizon - 1, -1, -1):
        rows = rows @ lstm_state_jacobian(W_h, pre, C, k + 1)
        chain = chain @ sum(lstm_factor_terms(W_h, pre, C, k + 1))
        rows_scale += renormalise(rows)
        chain_scale += renormalise(chain)
        # (L7): dC_h/dC_k = rows . [D_k ; I]
        dC_dC = rows[:, :H] * lstm_dh_dC(pre, C, k) + rows[:, H:]
        exact[k] = log10_norm(dC_dC, rows_scale)
        naive[k] = log10_norm(chain, chain_scale)
    return exact, naive


def lstm_bptt(W_h, V, c, target, pre, gates, h, C, horizon):
    """Backward pass of L = 1/2 ||Y* - Y_h||^2 at step h = horizon.

    Returns (delta, log10_scale): delta[k, gate] * 10**log10_scale[k] = dL/d(pre-activation of
    gate at step k), so the contribution of step k to dL/dW_h<gate> is delta_k,gate h_{k-1}^T.
    """
    H = C.shape[1]
    delta = np.zeros((horizon + 1, 4, H))
    log10_scale = np.zeros(horizon + 1)
    grad_h = V.T @ (V @ h[horizon] + c - target)  # dL/dh_h
    grad_C = np.zeros(H)
    scale_now = 0.0
    for k in range(horizon, 0, -1):
        i, f, g, o = gates[k]
        grad_C = grad_C + grad_h * o * tanh_prime(C[k])
        delta[k, O] = grad_h * np.tanh(C[k]) * sigmoid_prime(pre[k, O])
        delta[k, I] = grad_C * g * sigmoid_prime(pre[k, I])
        delta[k, G] = grad_C * i * tanh_prime(pre[k, G])
        delta[k, F] = grad_C * C[k - 1] * sigmoid_prime(pre[k, F])
        log10_scale[k] = scale_now
        grad_h = sum(W_h[gate].T @ delta[k, gate] for gate in (I, F, G, O))  # dL/dh_{k-1}
        grad_C = grad_C * f  # dL/dC_{k-1} through the carousel
        carried = np.concatenate([grad_h, grad_C])  # one scale for both
        scale_now += renormalise(carried)
        grad_h, grad_C = carried[:H], carried[H:]
    return delta, log10_scale


def lstm_longrange_and_bptt(W_h, V, c, target, pre, gates, h, C, horizon):
    """The LSTM's backward half as `results.compute` needs it: (L7) and the naive (L4) chain,
    then BPTT. Returns (exact_log10, naive_log10, delta, delta_log10_scale)."""
    exact, naive = lstm_longrange_log10(W_h, pre, C, horizon)
    delta, delta_log10_scale = lstm_bptt(W_h, V, c, target, pre, gates, h, C, horizon)
    return exact, naive, delta, delta_log10_scale
