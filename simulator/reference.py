"""Readable pure-numpy reference of every kernel: the oracle for tests and the baseline for bench.

Each function has the same signature and returns the same arrays as its numba twin in
`kernels.py`. Time is the first axis and row t holds step t (row 0 is t = 0; per-step
quantities that do not exist at t = 0 are 0 there). Labels (R1), (L4), ... refer to MATH.md.

Numerical choices, shared with the kernels:
- tanh'(a) = sech^2(a) and sigma'(a) = sigma(a) sigma(-a) are computed from the pre-activation,
  which equals 1 - tanh^2 and sigma (1 - sigma) but does not round to 0 once tanh rounds to +-1.
- Long products (R2, L7, the naive (L4) chain, BPTT) are renormalised every step; their size is
  carried as a log10 scale, a compensated (Neumaier) sum. The local derivatives in them come
  from their logs (log sech^2, log sigma'), with each factor's largest entry moved into the scale,
  so a derivative below float64's range (tanh'(400) = 10^-347) still counts; terms of different
  sizes are each scaled on their own before they are added (`add_scaled`).
  log10(0) (an exactly zero product, e.g. U = 0) is reported as LOG10_OF_ZERO.
- Matrix norms are spectral norms (largest singular value).
"""

from __future__ import annotations

import numpy as np

LOG10_OF_ZERO = -1.0e12  # far below any real value (lag 5000 in deep saturation is ~ -1e7)
TERM_NAMES = ("forget_path", "via_W_hf", "via_W_hi", "via_W_hg", "total")  # (L4), in this order
I, F, G, O = 0, 1, 2, 3  # gate rows


def readonly(array: np.ndarray) -> np.ndarray:
    """A read-only view: inputs a numba kernel only reads are always passed read-only, so each
    kernel is compiled for one signature (numba types read-only and writable arrays apart; arrays a
    reused computation shares are read-only, and each extra signature costs seconds of compile)."""
    view = array.view()
    view.setflags(write=False)
    return view


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


# Logs of the local derivatives, from the pre-activation: exact where the derivatives themselves
# underflow (tanh'(a) is subnormal above |a| ~ 355 and 0 above ~ 373; sigma'(a) above ~ 708 / 745).
# They are what enters the products carried in log space (R2, L7, the naive (L4) chain, BPTT).
LOG_4 = np.log(4.0)
LN_10 = np.log(10.0)


def log_sigmoid(a):
    """log sigma(a) = min(a, 0) - log(1 + e^-|a|)."""
    return np.minimum(a, 0.0) - np.log1p(np.exp(-np.abs(a)))


def log_sigmoid_prime(a):
    """log sigma'(a) = log(sigma(a) sigma(-a)) = -|a| - 2 log(1 + e^-|a|)."""
    return -np.abs(a) - 2.0 * np.log1p(np.exp(-np.abs(a)))


def log_tanh_prime(a):
    """log tanh'(a) = log sech^2(a) = log 4 - 2|a| - 2 log(1 + e^-2|a|)."""
    return LOG_4 - 2.0 * np.abs(a) - 2.0 * np.log1p(np.exp(-2.0 * np.abs(a)))


def log_abs(x):
    """log|x| (-inf at 0), for the factors that are not derivatives (tanh(C_t), g_t, C_{t-1})."""
    with np.errstate(divide="ignore"):
        return np.log(np.abs(x))


def pull_largest(log_factor):
    """A diagonal factor d = exp(log_factor) as (d / max d, ln max d): the largest entry goes into
    the running log scale, so d never underflows as a whole. Entries that then underflow are below
    the largest one's rounding. (Zeros and 0.0 when every entry is 0.)"""
    largest = log_factor.max()
    if largest == -np.inf:
        return np.zeros_like(log_factor), 0.0
    with np.errstate(under="ignore"):
        return np.exp(log_factor - largest), largest


# Running log10 scales are compensated (Neumaier) sums, carried as (total, compensation): a
# plain float sum of 5000 equal steps drifted by 2e-10 to 8e-9 decades; this one stays at ~1 ulp.
NO_SCALE = (0.0, 0.0)


def scale_add(scale, value):
    """(total, compensation) + value, Neumaier's compensated sum."""
    total, compensation = scale
    new_total = total + value
    if abs(total) >= abs(value):
        compensation += (total - new_total) + value
    else:
        compensation += (value - new_total) + total
    return new_total, compensation


def scale_value(scale):
    return scale[0] + scale[1]


def renormalise(array):
    """Divide array in place by its largest |entry|; return log10 of that factor (0 if all zero)."""
    size = np.abs(array).max()
    if size > 0.0:
        with np.errstate(under="ignore"):  # entries far below the largest: negligible
            array /= size
        return np.log10(size)
    return 0.0


# A term this many decades below the other cannot change a float64 sum (2^-1074 is 10^-323.3).
NEGLIGIBLE_DECADES = -330.0


def add_scaled(a, a_scale, b, b_scale):
    """a 10**a_scale + b 10**b_scale for a, b renormalised (largest |entry| 1, or all zero), as a
    new renormalised (array, scale). Each term keeps its own scale until here, so one that is
    hundreds of decades below the other (e.g. behind a saturated tanh') is not lost before it is
    added, and a zero term (e.g. a zero weight) does not set the scale."""
    if not b.any():
        return a.copy(), a_scale
    if not a.any():
        return b.copy(), b_scale
    if scale_value(a_scale) < scale_value(b_scale):
        a, a_scale, b, b_scale = b, b_scale, a, a_scale
    gap = (b_scale[0] - a_scale[0]) + (b_scale[1] - a_scale[1])  # <= 0: b's size relative to a's
    total = a.copy()
    if gap > NEGLIGIBLE_DECADES:
        with np.errstate(under="ignore"):  # entries of b below a's rounding: negligible
            total += b * 10.0 ** gap
    return total, scale_add(a_scale, renormalise(total))


def times_factor(array, scale, log_factor, sign=1.0):
    """array * sign * exp(log_factor) as (mantissa, scale), scale being array's own log10 scale:
    a diagonal factor on the right of a matrix (column j times entry j), element-wise for a vector.
    The factor's largest entry goes into the scale (`pull_largest`)."""
    factor, log_largest = pull_largest(log_factor)
    with np.errstate(under="ignore"):  # entries far below the largest: negligible
        return array * (sign * factor), scale_add(scale, log_largest / LN_10)


def renormalised(array, scale):
    """(array, scale) with array divided in place by its largest |entry| and the scale adjusted."""
    return array, scale_add(scale, renormalise(array))


def log10_norm(matrix, log10_scale):
    norm = np.linalg.norm(matrix, 2)
    return np.log10(norm) + log10_scale if norm > 0.0 else LOG10_OF_ZERO


def log10_vector_norm(vector, log10_scale):
    """log10(||vector|| 10**log10_scale), the entries divided by the largest before they are
    squared (a vector of 1e-170 would square to 0); LOG10_OF_ZERO for a zero vector."""
    largest = np.abs(vector).max()
    if largest == 0.0:
        return LOG10_OF_ZERO
    return 0.5 * np.log10(np.sum((vector / largest) ** 2)) + np.log10(largest) + log10_scale


def relative_to_last(log10_norms):
    """log10_norms minus its last entry (k = h, where the product is the identity), LOG10_OF_ZERO
    kept: the lower bound log10(||v^T P_k|| / ||v||) from a lower-bound pass's log10 ||v^T P_k||."""
    last = log10_norms[-1]
    return np.where(log10_norms == LOG10_OF_ZERO, LOG10_OF_ZERO, log10_norms - last)


def start_vector(n):
    """A fixed unit vector with no zero entry: where the kernels' first certified norm of a long
    product starts (the warm vector of `rnn_chain_start` and `lstm_chain_start`)."""
    u = 1.0 + 0.5 * np.sin(1.0 + 7.0 * np.arange(n))
    return u / np.linalg.norm(u)


# ----------------------------------------------------------------------------------------------
# Chunked passes. Every pass over the steps is `*_steps(..., first, stop, <state>, <outputs>)`:
# forward passes for t = first .. stop - 1, backward ones for k = first, first - 1, .., stop + 1
# (range(first, stop, -1)). What the next chunk needs is carried in place in the state arrays
# (a running product, its log10 scale as (total, compensation), a warm start vector), so any
# chunking gives the same arrays as one call. These make each pass's start state.
# ----------------------------------------------------------------------------------------------


def rnn_chain_start(H):
    """(R2) at k = h: (product I (H, H), its log10 scale (2,), the kernels' warm start vector (H,))."""
    return np.eye(H), np.zeros(2), start_vector(H)


def lstm_chain_start(H):
    """(L7) at k = h: (blocks (2, H, H): X = 0, Y = I; their log10 scales (2, 2); the kernels'
    warm start vector (H,)). (The naive (L4) chain starts like (R2): `rnn_chain_start`.)"""
    blocks = np.zeros((2, H, H))
    blocks[1] = np.eye(H)
    return blocks, np.zeros((2, 2)), start_vector(H)


def rnn_bptt_start(loss_gradient):
    """BPTT at k = h: (dL/dS_h (H,), its log10 scale (2,))."""
    return np.array(loss_gradient, dtype=np.float64), np.zeros(2)


def lstm_bptt_start(loss_gradient):
    """BPTT at k = h: (grads (2, H): dL/dh_h and dL/dC_h through the carousel (none yet), their
    log10 scales (2, 2))."""
    grads = np.zeros((2, len(loss_gradient)))
    grads[0] = loss_gradient
    return grads, np.zeros((2, 2))


def _unit_or_ones(vector):
    """vector / its largest |entry|, or all ones when it is zero (a lower bound needs some v != 0)."""
    vector = np.array(vector, dtype=np.float64)
    if not vector.any():
        return np.ones_like(vector)
    return vector / np.abs(vector).max()


def rnn_lower_start(vector):
    """The lower-bound pass at k = h for the fixed vector v (or all ones if v = 0):
    (v renormalised (H,), log10 scale (2,))."""
    return _unit_or_ones(vector), np.zeros(2)


def lstm_lower_start(vector):
    """The lower-bound pass at k = h for a fixed v in C-space (or all ones if v = 0): the state
    (h, C) row vector (0, v) as (grads (2, H), log10 scales (2, 2))."""
    grads = np.zeros((2, len(vector)))
    grads[1] = _unit_or_ones(vector)
    return grads, np.zeros((2, 2))


# ----------------------------------------------------------------------------------------------
# Vanilla RNN: a_t = W x_t + U S_{t-1} + b,  S_t = tanh(a_t),  O_t = V S_t + c
# ----------------------------------------------------------------------------------------------


def rnn_forward_steps(W_x, U, b, x, first, stop, a, S):
    """Steps t = first .. stop - 1 of the forward pass into a and S (T + 1, H), in place; S[first - 1]
    must be there."""
    for t in range(first, stop):
        a[t] = W_x @ x[t] + U @ S[t - 1] + b
        S[t] = np.tanh(a[t])


def rnn_forward(W_x, U, b, x, S0):
    """Returns (a, S), each (T + 1, H); S[0] = S0, a[0] = 0."""
    T = x.shape[0] - 1
    a = np.zeros((T + 1, U.shape[0]))
    S = np.zeros((T + 1, U.shape[0]))
    S[0] = S0
    rnn_forward_steps(W_x, U, b, x, 1, T + 1, a, S)
    return a, S


def rnn_factor(U, a, t):
    """(R1) dS_t/dS_{t-1} = diag(1 - S_t^2) U."""
    return tanh_prime(a[t])[:, None] * U


def rnn_factor_norm_shortcut(U):
    """The kernels' shortcut for the norms of (R1) (s when U = s Q, Q orthogonal); the reference
    never takes one (-1.0): its norms are numpy's SVD at every step, which checks the shortcut."""
    return -1.0


def rnn_factor_diag_mean(U, a):
    """Per t: mean of the diagonal of (R1), (T + 1,), 0 at t = 0."""
    diag_mean = np.mean(tanh_prime(a) * np.diag(U), axis=1)
    diag_mean[0] = 0.0
    return diag_mean


def rnn_factor_norm_steps(U, a, shortcut, first, stop, norm):
    """Spectral norm of (R1) at steps first .. stop - 1, into norm (T + 1,). shortcut: see
    `rnn_factor_norm_shortcut` (not used here)."""
    for t in range(first, stop):
        norm[t] = np.linalg.norm(rnn_factor(U, a, t), 2)


def rnn_factor_summary(U, a):
    """Per t: spectral norm and mean of the diagonal of (R1). Each (T + 1,), 0 at t = 0."""
    norm = np.zeros(a.shape[0])
    rnn_factor_norm_steps(U, a, rnn_factor_norm_shortcut(U), 1, a.shape[0], norm)
    return norm, rnn_factor_diag_mean(U, a)


def rnn_longrange_steps(U, a, first, stop, product, scale, warm, out):
    """(R2) log10 ||dS_h/dS_k|| into out[k] for k = first, .., stop + 1. Carried in place: the
    running product dS_h/dS_{k+1} (renormalised) `product` (H, H), its log10 scale (2,), and the
    kernels' warm start vector (H,) (not used here: numpy's norm is the SVD)."""
    product_scale = (scale[0], scale[1])
    for k in range(first, stop, -1):
        # product @ (R1) diag(tanh'(a_{k+1})) U, latest step on the left; tanh' from its log
        scaled, product_scale = times_factor(product, product_scale, log_tanh_prime(a[k + 1]))
        product[...] = scaled @ U
        product_scale = scale_add(product_scale, renormalise(product))
        out[k] = log10_norm(product, scale_value(product_scale))
    scale[0], scale[1] = product_scale


def rnn_longrange_log10(U, a, horizon):
    """(R2) log10 ||dS_h/dS_k|| for k = 0..h (h = horizon); entry k = h is log10 ||I|| = 0."""
    out = np.zeros(horizon + 1)
    rnn_longrange_steps(U, a, horizon - 1, -1, *rnn_chain_start(U.shape[0]), out)
    return out


def rnn_loss_gradient(V, c, target, S, horizon):
    """dL/dS_h = V^T (V S_h + c - Y*) for L = 1/2 ||Y* - O_h||^2."""
    return V.T @ (V @ S[horizon] + c - target)


def rnn_backward_step(U, a, k, grad, grad_scale):
    """One step back: (delta_k = tanh'(a_k) * dL/dS_k with its scale, dL/dS_{k-1} = U^T delta_k
    renormalised with its scale), tanh' from its log."""
    delta, delta_scale = times_factor(grad, grad_scale, log_tanh_prime(a[k]))
    return delta, delta_scale, *renormalised(U.T @ delta, delta_scale)


def rnn_bptt_steps(U, a, first, stop, grad, scale, delta, log10_scale, lossgrad_log10):
    """BPTT for k = first, .., stop + 1: delta[k] * 10**log10_scale[k] = dL/da_k, and
    lossgrad_log10[k] = log10 ||dL/dS_k|| (and k = 0 when stop = 0). Carried in place: dL/dS_first
    (renormalised) `grad` (H,) and its log10 scale (2,)."""
    grad_scale = (scale[0], scale[1])
    for k in range(first, stop, -1):
        lossgrad_log10[k] = log10_vector_norm(grad, scale_value(grad_scale))
        delta[k], delta_scale, grad[...], grad_scale = rnn_backward_step(U, a, k, grad, grad_scale)
        log10_scale[k] = scale_value(delta_scale)
    if stop == 0:
        lossgrad_log10[0] = log10_vector_norm(grad, scale_value(grad_scale))
    scale[0], scale[1] = grad_scale


def rnn_bptt(U, V, c, target, a, S, horizon):
    """Backward pass of L = 1/2 ||Y* - O_h||^2 at step h = horizon.

    Returns (delta, log10_scale, lossgrad_log10): delta[k] * 10**log10_scale[k] = dL/da_k for
    k = 1..h, so the contribution of step k to dL/dU is  dL/dU^(k) = delta_k S_{k-1}^T  (MATH.md,
    BPTT); lossgrad_log10[k] = log10 ||dL/dS_k||, the gradient that reaches the state S_k, k = 0..h.
    """
    H = U.shape[0]
    delta, log10_scale, lossgrad = np.zeros((horizon + 1, H)), np.zeros(horizon + 1), np.zeros(horizon + 1)
    rnn_bptt_steps(U, a, horizon, 0, *rnn_bptt_start(rnn_loss_gradient(V, c, target, S, horizon)),
                   delta, log10_scale, lossgrad)
    return delta, log10_scale, lossgrad


def rnn_longrange_lower_steps(U, a, first, stop, vector, scale, out):
    """log10 ||v^T dS_h/dS_k|| into out[k] for k = first, .., stop + 1 (and k = 0 when stop = 0):
    the row vector v^T (R2) carried back step by step (a vector-Jacobian product, O(H^2) a step).
    Carried in place: v^T dS_h/dS_first (renormalised) `vector` (H,) and its log10 scale (2,)."""
    vector_scale = (scale[0], scale[1])
    for k in range(first, stop, -1):
        out[k] = log10_vector_norm(vector, scale_value(vector_scale))
        _, _, vector[...], vector_scale = rnn_backward_step(U, a, k, vector, vector_scale)
    if stop == 0:
        out[0] = log10_vector_norm(vector, scale_value(vector_scale))
    scale[0], scale[1] = vector_scale


def rnn_longrange_lower_log10(U, a, vector, horizon):
    """A lower bound of (R2) for k = 0..h: log10 (||v^T dS_h/dS_k|| / ||v||) <= log10 ||dS_h/dS_k||
    for the fixed vector v (all ones if v = 0); equal when H = 1. O(h H^2)."""
    out = np.zeros(horizon + 1)
    rnn_longrange_lower_steps(U, a, horizon, 0, *rnn_lower_start(vector), out)
    return relative_to_last(out)


# ----------------------------------------------------------------------------------------------
# LSTM (no peepholes). Gates i, f, g, o are rows 0..3 of W_x (4, H, D), W_h (4, H, H), b (4, H).
# ----------------------------------------------------------------------------------------------


def lstm_forward_steps(W_x, W_h, b, x, first, stop, pre, gates, h, C):
    """Steps t = first .. stop - 1 of the forward pass into pre, gates (T + 1, 4, H) and h, C
    (T + 1, H), in place; h[first - 1] and C[first - 1] must be there."""
    for t in range(first, stop):
        for gate in (I, F, G, O):
            pre[t, gate] = W_x[gate] @ x[t] + W_h[gate] @ h[t - 1] + b[gate]
        gates[t, I] = sigmoid(pre[t, I])
        gates[t, F] = sigmoid(pre[t, F])
        gates[t, G] = np.tanh(pre[t, G])
        gates[t, O] = sigmoid(pre[t, O])
        C[t] = gates[t, F] * C[t - 1] + gates[t, I] * gates[t, G]
        h[t] = gates[t, O] * np.tanh(C[t])


def lstm_forward(W_x, W_h, b, x, h0, C0):
    """Returns (pre, gates, h, C): pre and gates (T + 1, 4, H) (row 0 zero), h and C (T + 1, H)."""
    T, H = x.shape[0] - 1, W_h.shape[1]
    pre = np.zeros((T + 1, 4, H))
    gates = np.zeros((T + 1, 4, H))
    h = np.zeros((T + 1, H))
    C = np.zeros((T + 1, H))
    h[0], C[0] = h0, C0
    lstm_forward_steps(W_x, W_h, b, x, 1, T + 1, pre, gates, h, C)
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


def lstm_factor_diag_mean(W_h, pre, C):
    """Per t: the diagonal mean of each (L4) term and of their sum, TERM_NAMES order, (T + 1, 5)."""
    T = pre.shape[0] - 1
    diag_mean = np.zeros((T + 1, 5))
    for t in range(1, T + 1):
        terms = lstm_factor_terms(W_h, pre, C, t)
        for j, term in enumerate((*terms, sum(terms))):
            diag_mean[t, j] = np.mean(np.diag(term))
    return diag_mean


def lstm_factor_norm_steps(W_h, pre, C, first, stop, total_norm):
    """The spectral norm of the (L4) sum at steps first .. stop - 1, into total_norm (T + 1,).
    Each step stands alone, so steps can be shared out between threads (see simulator/stream.py)."""
    for t in range(first, stop):
        total_norm[t] = np.linalg.norm(sum(lstm_factor_terms(W_h, pre, C, t)), 2)


def lstm_factor_summary(W_h, pre, C):
    """Per t: the spectral norm of the (L4) sum, (T + 1,), and the diagonal mean of each term and
    of the sum in TERM_NAMES order, (T + 1, 5). (Each term's own norm: `lstm_term_norms`, on demand.)"""
    total_norm = np.zeros(pre.shape[0])
    lstm_factor_norm_steps(W_h, pre, C, 1, pre.shape[0], total_norm)
    return total_norm, lstm_factor_diag_mean(W_h, pre, C)


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


def lstm_log_dh_dC(pre, C, t):
    """log D_t = log(o_t tanh'(C_t)), from the pre-activations; -inf at t = 0 (D_0 = 0)."""
    if t == 0:
        return np.full(C.shape[1], -np.inf)
    return log_sigmoid(pre[t, O]) + log_tanh_prime(C[t])


def lstm_dC_dh_rows(W_h, pre, C, t):
    """A_t = dC_t/dh_{t-1} (L6) as diag(exp(log_rows)) A_unit: each row's three gate-path factors
    (C_{t-1} sigma'(f), g sigma'(i), i tanh'(g)) from their logs, divided by the row's largest."""
    paths = (
        (np.sign(C[t - 1]), log_abs(C[t - 1]) + log_sigmoid_prime(pre[t, F]), W_h[F]),
        (np.sign(pre[t, G]), log_abs(np.tanh(pre[t, G])) + log_sigmoid_prime(pre[t, I]), W_h[I]),
        (1.0, log_sigmoid(pre[t, I]) + log_tanh_prime(pre[t, G]), W_h[G]),
    )
    log_rows = np.maximum(np.maximum(paths[0][1], paths[1][1]), paths[2][1])
    present = log_rows > -np.inf  # rows with a nonzero path
    A_unit = np.zeros_like(W_h[F])
    for sign, log_path, W in paths:
        with np.errstate(under="ignore", invalid="ignore"):
            relative = np.where(present, sign * np.exp(log_path - log_rows), 0.0)
        A_unit += relative[:, None] * W
    return A_unit, log_rows


def lstm_longrange_steps(W_h, pre, C, first, stop, blocks, scales, warm, exact):
    """For k = first, .., stop + 1: exact[k] = log10 ||dC_h/dC_k|| (L7). Carried in place (see
    `lstm_chain_start`): blocks (2, H, H) = X, Y, the C-rows of J_h ... J_{k+1} = [X | Y]; their
    log10 scales (2, 2); the kernels' warm start vector (H,) (not used here).

    With the blocks of J_t (L6): X' = X diag(alpha) W_ho + Z A_t and Y' = Z diag(f_t), where
    Z = X diag(beta) + Y, alpha = tanh(C_t) sigma'(o_t), beta = o_t tanh'(C_t). Every derivative
    comes from its log, and every term is scaled on its own before terms are added.
    """
    X, Y = blocks
    X_scale, Y_scale = (tuple(row) for row in scales)
    for k in range(first, stop, -1):
        t = k + 1
        A_unit, log_rows = lstm_dC_dh_rows(W_h, pre, C, t)
        # (L7) [X | Y] @ J_t in blocks
        Z, Z_scale = add_scaled(*renormalised(*times_factor(X, X_scale, lstm_log_dh_dC(pre, C, t))), Y, Y_scale)
        log_alpha = log_abs(np.tanh(C[t])) + log_sigmoid_prime(pre[t, O])
        through_o, through_o_scale = times_factor(X, X_scale, log_alpha, np.sign(C[t]))
        through_o = through_o @ W_h[O]
        through_gates, through_gates_scale = times_factor(Z, Z_scale, log_rows)
        through_gates = through_gates @ A_unit
        X[...], X_scale = add_scaled(*renormalised(through_o, through_o_scale),
                                     *renormalised(through_gates, through_gates_scale))
        Y[...], Y_scale = renormalised(*times_factor(Z, Z_scale, log_sigmoid(pre[t, F])))
        # (L7): dC_h/dC_k = X diag(D_k) + Y
        dC_dC, dC_dC_scale = add_scaled(*renormalised(*times_factor(X, X_scale, lstm_log_dh_dC(pre, C, k))),
                                        Y, Y_scale)
        exact[k] = log10_norm(dC_dC, scale_value(dC_dC_scale))
    scales[:] = (X_scale, Y_scale)


def lstm_naive_longrange_steps(W_h, pre, C, first, stop, chain, scale, warm, naive):
    """For k = first, .., stop + 1: naive[k] = log10 of the norm of the product of the per-step
    (L4) factors t = h .. k + 1 (not (L7): it misses the paths through the output gates). Carried
    in place (see `rnn_chain_start`): the product (H, H), its log10 scale (2,), the kernels' warm
    start vector (H,) (not used here)."""
    chain_scale = (scale[0], scale[1])
    for k in range(first, stop, -1):
        t = k + 1
        A_unit, log_rows = lstm_dC_dh_rows(W_h, pre, C, t)
        # chain @ (L4) factor_t = chain diag(f_t) + chain A_t diag(D_{t-1})
        forget_path = renormalised(*times_factor(chain, chain_scale, log_sigmoid(pre[t, F])))
        gate_paths, gate_paths_scale = times_factor(chain, chain_scale, log_rows)
        gate_paths = gate_paths @ A_unit
        gate_paths = renormalised(*times_factor(gate_paths, gate_paths_scale, lstm_log_dh_dC(pre, C, t - 1)))
        chain[...], chain_scale = add_scaled(*forget_path, *gate_paths)
        naive[k] = log10_norm(chain, scale_value(chain_scale))
    scale[0], scale[1] = chain_scale


def lstm_longrange_log10(W_h, pre, C, horizon):
    """For k = 0..h (h = horizon): log10 ||dC_h/dC_k|| exact (L7), and of the naive product of
    per-step (L4) factors. Returns (exact, naive), each (h + 1,), 0 at k = h."""
    exact, naive = np.zeros(horizon + 1), np.zeros(horizon + 1)
    lstm_longrange_steps(W_h, pre, C, horizon - 1, -1, *lstm_chain_start(C.shape[1]), exact)
    lstm_naive_longrange_steps(W_h, pre, C, horizon - 1, -1, *rnn_chain_start(C.shape[1]), naive)
    return exact, naive


def lstm_gate_local_factors(pre, C, k):
    """(signs, logs), each (4, H): the local factor of each gate's delta at step k as
    sign * exp(log), rows in gate order i, f, g, o:
    i: g_k sigma'(i), f: C_{k-1} sigma'(f), g: i_k tanh'(g) (times dL/dC_k), o: tanh(C_k) sigma'(o) (times dL/dh_k)."""
    H = C.shape[1]
    signs, logs = np.ones((4, H)), np.zeros((4, H))
    signs[I], logs[I] = np.sign(pre[k, G]), log_abs(np.tanh(pre[k, G])) + log_sigmoid_prime(pre[k, I])
    signs[F], logs[F] = np.sign(C[k - 1]), log_abs(C[k - 1]) + log_sigmoid_prime(pre[k, F])
    logs[G] = log_sigmoid(pre[k, I]) + log_tanh_prime(pre[k, G])
    signs[O], logs[O] = np.sign(C[k]), log_abs(np.tanh(C[k])) + log_sigmoid_prime(pre[k, O])
    return signs, logs



def lstm_loss_gradient(V, c, target, h, horizon):
    """dL/dh_h = V^T (V h_h + c - Y*) for L = 1/2 ||Y* - Y_h||^2."""
    return V.T @ (V @ h[horizon] + c - target)


def lstm_backward_step(W_h, pre, C, k, grads, scales, delta_k, delta_scale_k):
    """One step of the LSTM's backward recursion (a vector-Jacobian product through J_k, L6).
    grads (2, H) = (dL/dh_k, dL/dC_k through the carousel), renormalised, with their log10 scales
    (2, 2): the gate deltas of step k go into delta_k (4, H) with their scales delta_scale_k (4,),
    then grads and scales move to step k - 1, in place. Returns log10 ||dL/dC_k||, the total
    derivative (h_k = o_k tanh(C_k) with o_k fixed: dL/dC_k = carousel + D_k dL/dh_k)."""
    grad_h, h_scale = grads[0], tuple(scales[0])
    grad_C, C_scale = grads[1], tuple(scales[1])
    # dL/dC_k += dL/dh_k * D_k, D_k = o_k tanh'(C_k)
    grad_C, C_scale = add_scaled(grad_C, C_scale,
                                 *renormalised(*times_factor(grad_h, h_scale, lstm_log_dh_dC(pre, C, k))))
    total_dC = log10_vector_norm(grad_C, scale_value(C_scale))
    # delta_k,gate = dL/d(pre-activation) = (dL/dh_k or dL/dC_k) * local factor, from its log
    signs, log_factors = lstm_gate_local_factors(pre, C, k)
    gate_scales = []
    for gate in (I, F, G, O):
        grad, scale = (grad_h, h_scale) if gate == O else (grad_C, C_scale)
        delta_k[gate], gate_scale = times_factor(grad, scale, log_factors[gate], signs[gate])
        gate_scales.append(gate_scale)
        delta_scale_k[gate] = scale_value(gate_scale)
    # dL/dh_{k-1} = sum_gate W_h<gate>^T delta_k,gate, each term scaled on its own
    new_h, new_h_scale = np.zeros(len(grad_h)), NO_SCALE
    for gate in (I, F, G, O):
        new_h, new_h_scale = add_scaled(new_h, new_h_scale,
                                        *renormalised(W_h[gate].T @ delta_k[gate], gate_scales[gate]))
    # dL/dC_{k-1} through the carousel: times f_k
    grads[1], C_scale = renormalised(*times_factor(grad_C, C_scale, log_sigmoid(pre[k, F])))
    grads[0] = new_h
    scales[:] = (new_h_scale, C_scale)
    return total_dC


def lstm_bptt_steps(W_h, pre, C, first, stop, grads, scales, delta, log10_scale, lossgrad_log10):
    """BPTT for k = first, .., stop + 1: delta[k, gate] * 10**log10_scale[k, gate] = dL/d(pre-
    activation of gate at step k), lossgrad_log10[k] = log10 ||dL/dC_k|| (and k = 0 when stop = 0).
    Carried in place: grads (2, H) and their log10 scales (2, 2) (see `lstm_bptt_start`)."""
    for k in range(first, stop, -1):
        lossgrad_log10[k] = lstm_backward_step(W_h, pre, C, k, grads, scales, delta[k], log10_scale[k])
    if stop == 0:  # dL/dC_0 = what reached it through the carousel (D_0 = 0: h_0 is given)
        lossgrad_log10[0] = log10_vector_norm(grads[1], scale_value(scales[1]))


def lstm_bptt(W_h, V, c, target, pre, h, C, horizon):
    """Backward pass of L = 1/2 ||Y* - Y_h||^2 at step h = horizon.

    Returns (delta, log10_scale, lossgrad_log10), delta (h + 1, 4, H) and log10_scale (h + 1, 4):
    one scale per step and gate, delta[k, gate] * 10**log10_scale[k, gate] = dL/d(pre-activation
    of gate at step k), so the contribution of step k to dL/dW_h<gate> is delta_k,gate h_{k-1}^T.
    (The gates of one step can be hundreds of decades apart: behind a saturated cell, dL/dC_k is
    ~ tanh'(C_k).) dL/dh and dL/dC are carried with a log10 scale each, for the same reason.
    lossgrad_log10[k] = log10 ||dL/dC_k|| for k = 0..h, the total derivative: how much gradient
    reaches the cell state at step k.
    """
    H = C.shape[1]
    delta, log10_scale = np.zeros((horizon + 1, 4, H)), np.zeros((horizon + 1, 4))
    lossgrad = np.zeros(horizon + 1)
    lstm_bptt_steps(W_h, pre, C, horizon, 0, *lstm_bptt_start(lstm_loss_gradient(V, c, target, h, horizon)),
                    delta, log10_scale, lossgrad)
    return delta, log10_scale, lossgrad


def lstm_longrange_lower_steps(W_h, pre, C, first, stop, grads, scales, out):
    """log10 ||v^T dC_h/dC_k|| into out[k] for k = first, .., stop + 1 (and k = 0 when stop = 0),
    v a fixed vector in C-space: the row vector (0, v^T) carried back through J_t (L6) by the BPTT
    recursion (O(H^2) a step), read off as v^T (C-rows of J_h ... J_{k+1}) [D_k ; I] (L7).
    Carried in place: grads (2, H) and their log10 scales (2, 2) (see `lstm_lower_start`)."""
    H = C.shape[1]
    delta_k, delta_scale_k = np.zeros((4, H)), np.zeros(4)  # scratch: not kept
    for k in range(first, stop, -1):
        out[k] = lstm_backward_step(W_h, pre, C, k, grads, scales, delta_k, delta_scale_k)
    if stop == 0:
        out[0] = log10_vector_norm(grads[1], scale_value(scales[1]))


def lstm_longrange_lower_log10(W_h, pre, C, vector, horizon):
    """A lower bound of (L7) for k = 0..h: log10 (||v^T dC_h/dC_k|| / ||v||) <= log10 ||dC_h/dC_k||
    for the fixed vector v in C-space (all ones if v = 0); equal when H = 1. O(h H^2)."""
    out = np.zeros(horizon + 1)
    lstm_longrange_lower_steps(W_h, pre, C, horizon, 0, *lstm_lower_start(vector), out)
    return relative_to_last(out)
