"""Numba twins of the reference kernels (`reference.py`): same names, signatures and arrays.

`results.compute(setup, backend="numba")` swaps this module in for `reference`. The loops are
the reference's loops, written out so that nothing is allocated per step (matrix-vector products
go through the same BLAS calls as numpy's, in the same order, so they round alike), with
structural savings that change no value beyond round-off:

- Every pass over the steps exists as `*_steps(..., first, stop, <carried state>, <outputs>)`: a
  chunk of steps, carrying in place what the next chunk needs (a running product, its log10 scale
  as a compensated sum, a warm start vector), so that a chunked run gives the same bits as one
  call (simulator/stream.py runs them chunk by chunk: cancellable, progressive). The one-shot
  functions (`rnn_longrange_log10`, ...) are plain Python: a start state, one chunk.
- (L7) The C-rows of J_h ... J_{k+1} are carried as two H x H blocks [X | Y] (as in the
  reference). With the blocks of J_t (L6): X' = X diag(alpha) W_ho + Z A_t and Y' = Z diag(f_t),
  where Z = X diag(beta) + Y, alpha = tanh(C_t) sigma'(o), beta = o_t tanh'(C_t). That is two
  H x H products per step instead of an (H x 2H)(2H x 2H) one.
- Spectral norms (the costly part: the (L4) sum at every step and the three long-range chains at
  every k; each (L4) term's own norm is computed on demand, one step at a time, by
  `Results.lstm_term_norms`) are exact: LAPACK's, a Householder and bisection eigen-solve like
  LAPACK's (one matrix at H <= 64), or certified to 1e-13 (simulator/spectral.py),
  with exact shortcuts where they exist (diag(d) U with U a multiple of an orthogonal matrix:
  s max|d|; H = 1: |m|).
- sigmoid is computed from exp(-|a|) (accurate everywhere); see `sigmoid`.
- In the log-space products the local derivatives come from their logs, each term keeps its own
  log10 scale until it is added (`_add_scaled`), and the scales are compensated sums: see the
  reference's module docstring.
"""

from __future__ import annotations

import numpy as np

from .spectral import chain_log10_norm, matrix_norm, norm_workspace, orthogonal_gain  # noqa: I001 (loads the BLAS first)

from numba import njit  # noqa: E402

# the reference's constants, the start states of the chunked passes, and the loss gradients at
# step h (O(H): the output error may cancel, so both backends form it the same way)
from .reference import (  # noqa: E402, F401
    LN_10, LOG_4, LOG10_OF_ZERO, NEGLIGIBLE_DECADES, TERM_NAMES, lstm_bptt_start, lstm_chain_start,
    lstm_loss_gradient, lstm_lower_start, readonly, relative_to_last, rnn_bptt_start, rnn_chain_start,
    rnn_loss_gradient, rnn_lower_start,
)

I, F, G, O = 0, 1, 2, 3  # gate rows

# error_model="numpy": a float division by zero gives inf/nan instead of raising (no checks in the
# loops); every division here has a nonzero divisor, or is guarded.
_jit = njit(cache=True, nogil=True, error_model="numpy")


# ----------------------------------------------------------------------------------------------
# Scalar helpers (the reference's formulas: derivatives from the pre-activation)
# ----------------------------------------------------------------------------------------------


@_jit
def sigmoid(a):
    # From exp(-|a|): accurate to a few ulps for every a. (0.5 (1 + tanh(a / 2)) cancels for a << 0:
    # at a = -30 it is off by 6e-4 relative, and numpy's and libm's tanh differ by an ulp there.)
    e = np.exp(-abs(a))
    return (1.0 if a >= 0.0 else e) / (1.0 + e)


@_jit
def sigmoid_prime(a):
    e = np.exp(-abs(a))
    return e / (1.0 + e) ** 2


@_jit
def tanh_prime(a):
    e = np.exp(-2.0 * abs(a))
    return 4.0 * e / (1.0 + e) ** 2


# Logs of the local derivatives from the pre-activation (see reference.log_tanh_prime): what
# enters the products carried in log space, exact where the derivatives underflow.


@_jit
def log_sigmoid(a):
    return min(a, 0.0) - np.log1p(np.exp(-abs(a)))


@_jit
def log_sigmoid_prime(a):
    return -abs(a) - 2.0 * np.log1p(np.exp(-abs(a)))


@_jit
def log_tanh_prime(a):
    return LOG_4 - 2.0 * abs(a) - 2.0 * np.log1p(np.exp(-2.0 * abs(a)))


@_jit
def log_abs(x):
    return np.log(abs(x)) if x != 0.0 else -np.inf


@_jit
def _pull_largest(log_factor, out):
    """out = exp(log_factor - m), m = max(log_factor); returns m (0.0, out zero, if all -inf).
    See reference.pull_largest."""
    largest = -np.inf
    for i in range(log_factor.shape[0]):
        largest = max(largest, log_factor[i])
    if largest == -np.inf:
        for i in range(log_factor.shape[0]):
            out[i] = 0.0
        return 0.0
    for i in range(log_factor.shape[0]):
        out[i] = np.exp(log_factor[i] - largest)
    return largest


@_jit
def _scale_add(total, compensation, value):
    """Neumaier's compensated sum (reference.scale_add): returns the new (total, compensation)."""
    new_total = total + value
    if abs(total) >= abs(value):
        compensation += (total - new_total) + value
    else:
        compensation += (value - new_total) + total
    return new_total, compensation


@_jit
def _columns_times(M, factor, out):
    """out = M diag(factor) (out may be M)."""
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            out[i, j] = M[i, j] * factor[j]


@_jit
def _any_nonzero(flat):
    for i in range(flat.shape[0]):
        if flat[i] != 0.0:
            return True
    return False


@_jit
def _add_scaled(a, a_total, a_compensation, b, b_total, b_compensation, out):
    """out = a 10**a_scale + b 10**b_scale for flat a, b renormalised (out may be a or b); returns
    out's scale (total, compensation), out renormalised. See reference.add_scaled."""
    if not _any_nonzero(b):
        for i in range(a.shape[0]):
            out[i] = a[i]
        return a_total, a_compensation
    if not _any_nonzero(a):
        for i in range(b.shape[0]):
            out[i] = b[i]
        return b_total, b_compensation
    if a_total + a_compensation < b_total + b_compensation:
        a, a_total, a_compensation, b, b_total, b_compensation = (
            b, b_total, b_compensation, a, a_total, a_compensation)
    gap = (b_total - a_total) + (b_compensation - a_compensation)
    if gap > NEGLIGIBLE_DECADES:
        weight = 10.0 ** gap
        for i in range(a.shape[0]):
            out[i] = a[i] + b[i] * weight
    else:
        for i in range(a.shape[0]):
            out[i] = a[i]
    return _scale_add(a_total, a_compensation, renormalise_vector(out))


@_jit
def _scale_down(flat, size):
    """flat /= size: a division, as the reference does, so that both round alike."""
    for i in range(flat.shape[0]):
        flat[i] /= size


_MAGNITUDE_BITS = np.int64(0x7FFFFFFFFFFFFFFF)  # a float64 without its sign bit


@_jit
def _largest_abs(flat):
    """max |flat[i]| (0.0 for zeros; a NaN would win), exact. Found on the bit patterns: without
    the sign bit, float64 values order as integers, and LLVM vectorises an integer maximum (a
    floating-point one it does not): 5x faster at H = 128, where the renormalisations of the
    long-range chains took as long as their matrix products."""
    bits = flat.view(np.int64)
    largest = np.int64(0)
    for i in range(bits.shape[0]):
        largest = max(largest, bits[i] & _MAGNITUDE_BITS)
    return np.array([largest]).view(np.float64)[0]


@_jit
def renormalise(array):
    """Divide array (2-d, C order) in place by its largest |entry|; return log10 of that factor (0 if all zero)."""
    return renormalise_vector(array.ravel())


@_jit
def renormalise_vector(vector):
    size = _largest_abs(vector)
    if size > 0.0:
        _scale_down(vector, size)
        return np.log10(size)
    return 0.0




@_jit
def _log10_vector_norm(vector, log10_scale):
    """log10(||vector|| 10**log10_scale), the entries scaled by the largest before squaring
    (LOG10_OF_ZERO for a zero vector). See reference.log10_vector_norm."""
    largest = 0.0
    for i in range(vector.shape[0]):
        largest = max(largest, abs(vector[i]))
    if largest == 0.0:
        return LOG10_OF_ZERO
    total = 0.0
    for i in range(vector.shape[0]):
        v = vector[i] / largest
        total += v * v
    return 0.5 * np.log10(total) + np.log10(largest) + log10_scale


# ----------------------------------------------------------------------------------------------
# Vanilla RNN
# ----------------------------------------------------------------------------------------------


@_jit
def rnn_forward_steps(W_x, U, b, x, first, stop, a, S):
    """See reference.rnn_forward_steps."""
    H = U.shape[0]
    from_input, recurrent = np.empty(H), np.empty(H)
    for t in range(first, stop):
        # (W_x x_t + U S_{t-1}) + b with BLAS products, in the reference's order: same round-off
        np.dot(W_x, x[t], from_input)
        np.dot(U, S[t - 1], recurrent)
        for i in range(H):
            a[t, i] = (from_input[i] + recurrent[i]) + b[i]
            S[t, i] = np.tanh(a[t, i])


def rnn_forward(W_x, U, b, x, S0):
    """Returns (a, S), each (T + 1, H); S[0] = S0, a[0] = 0."""
    T, H = x.shape[0] - 1, U.shape[0]
    a, S = np.zeros((T + 1, H)), np.zeros((T + 1, H))
    S[0] = S0
    rnn_forward_steps(W_x, U, b, readonly(x), 1, T + 1, a, S)
    return a, S


def rnn_factor_norm_shortcut(U):
    """s >= 0 when U = s Q with Q orthogonal (then ||diag(d) U|| = s max|d|: `orthogonal_gain`),
    else -1.0. (H = 1: s = |U|.)"""
    return orthogonal_gain(U)


@_jit
def rnn_factor_diag_mean(U, a):
    """Per t: mean of the diagonal of (R1) diag(tanh'(a_t)) U, (T + 1,), 0 at t = 0."""
    T, H = a.shape[0] - 1, U.shape[0]
    diag_mean = np.zeros(T + 1)
    for t in range(1, T + 1):
        trace = 0.0
        for i in range(H):
            trace += tanh_prime(a[t, i]) * U[i, i]
        diag_mean[t] = trace / H
    return diag_mean


@_jit
def rnn_factor_norm_steps(U, a, shortcut, first, stop, norm):
    """See reference.rnn_factor_norm_steps. shortcut: `rnn_factor_norm_shortcut(U)`: with s >= 0
    the norm is s max|d| (no matrix at all); else the matrix's exact norm."""
    H = U.shape[0]
    d = np.empty(H)
    factor = np.empty((H, H))
    workspace = norm_workspace(H)
    for t in range(first, stop):
        largest = 0.0
        for i in range(H):
            d[i] = tanh_prime(a[t, i])
            largest = max(largest, abs(d[i]))
        if shortcut >= 0.0:  # U = s Q, Q orthogonal: ||diag(d) U|| = s max|d|
            norm[t] = shortcut * largest
        else:
            for i in range(H):
                for j in range(H):
                    factor[i, j] = d[i] * U[i, j]
            norm[t] = matrix_norm(factor, workspace)


def rnn_factor_summary(U, a):
    """Per t: spectral norm and mean of the diagonal of (R1) diag(tanh'(a_t)) U. Each (T + 1,)."""
    norm = np.zeros(a.shape[0])
    rnn_factor_norm_steps(U, a, rnn_factor_norm_shortcut(U), 1, a.shape[0], norm)
    return norm, rnn_factor_diag_mean(U, a)


@_jit
def rnn_longrange_steps(U, a, first, stop, product, scale, warm, out):
    """See reference.rnn_longrange_steps (warm: the top left singular vector of the last product,
    where the next norm's certified search starts)."""
    H = U.shape[0]
    scaled = np.empty((H, H))
    log_d, d = np.empty(H), np.empty(H)
    total, compensation = scale[0], scale[1]  # the log10 scale, a compensated sum
    workspace = norm_workspace(H)
    for k in range(first, stop, -1):
        # product @ (R1) diag(tanh'(a_{k+1})) U, latest step on the left; tanh' from its log
        for j in range(H):
            log_d[j] = log_tanh_prime(a[k + 1, j])
        largest = _pull_largest(log_d, d)
        _columns_times(product, d, scaled)
        total, compensation = _scale_add(total, compensation, largest / LN_10)
        np.dot(scaled, U, product)
        total, compensation = _scale_add(total, compensation, renormalise(product))
        out[k] = chain_log10_norm(product, total + compensation, warm, workspace)
    scale[0], scale[1] = total, compensation


def rnn_longrange_log10(U, a, horizon):
    """(R2) log10 ||dS_h/dS_k|| for k = 0..h; the running product carries a log10 scale."""
    out = np.zeros(horizon + 1)
    rnn_longrange_steps(readonly(U), readonly(a), horizon - 1, -1, *rnn_chain_start(U.shape[0]), out)
    return out


@_jit
def _rnn_backward_step(U_T, a, k, grad, total, compensation, log_d, d, delta_k):
    """One step back: delta_k = tanh'(a_k) * dL/dS_k into delta_k, then grad = dL/dS_{k-1} =
    U^T delta_k (renormalised). Returns (scale of delta_k, new scale of grad)."""
    H = grad.shape[0]
    for i in range(H):
        log_d[i] = log_tanh_prime(a[k, i])
    largest = _pull_largest(log_d, d)
    for i in range(H):
        delta_k[i] = grad[i] * d[i]
    total, compensation = _scale_add(total, compensation, largest / LN_10)
    delta_total, delta_compensation = total, compensation
    np.dot(U_T, delta_k, grad)
    total, compensation = _scale_add(total, compensation, renormalise_vector(grad))
    return delta_total + delta_compensation, total, compensation


@_jit
def rnn_bptt_steps(U, a, first, stop, grad, scale, delta, log10_scale, lossgrad_log10):
    """See reference.rnn_bptt_steps."""
    H = U.shape[0]
    total, compensation = scale[0], scale[1]  # log10 scale of grad, a compensated sum
    log_d, d = np.empty(H), np.empty(H)
    U_T = U.T
    for k in range(first, stop, -1):
        lossgrad_log10[k] = _log10_vector_norm(grad, total + compensation)
        log10_scale[k], total, compensation = _rnn_backward_step(U_T, a, k, grad, total, compensation,
                                                                 log_d, d, delta[k])
    if stop == 0:
        lossgrad_log10[0] = _log10_vector_norm(grad, total + compensation)
    scale[0], scale[1] = total, compensation


def rnn_bptt(U, V, c, target, a, S, horizon):
    """Backward pass of L = 1/2 ||Y* - O_h||^2 at step h; see reference.rnn_bptt."""
    H = U.shape[0]
    delta, log10_scale, lossgrad = np.zeros((horizon + 1, H)), np.zeros(horizon + 1), np.zeros(horizon + 1)
    rnn_bptt_steps(U, a, horizon, 0, *rnn_bptt_start(rnn_loss_gradient(V, c, target, S, horizon)),
                   delta, log10_scale, lossgrad)
    return delta, log10_scale, lossgrad


@_jit
def rnn_longrange_lower_steps(U, a, first, stop, vector, scale, out):
    """See reference.rnn_longrange_lower_steps."""
    H = U.shape[0]
    total, compensation = scale[0], scale[1]
    log_d, d, scratch = np.empty(H), np.empty(H), np.empty(H)
    U_T = U.T
    for k in range(first, stop, -1):
        out[k] = _log10_vector_norm(vector, total + compensation)
        _, total, compensation = _rnn_backward_step(U_T, a, k, vector, total, compensation, log_d, d, scratch)
    if stop == 0:
        out[0] = _log10_vector_norm(vector, total + compensation)
    scale[0], scale[1] = total, compensation


def rnn_longrange_lower_log10(U, a, vector, horizon):
    """See reference.rnn_longrange_lower_log10."""
    out = np.zeros(horizon + 1)
    rnn_longrange_lower_steps(U, a, horizon, 0, *rnn_lower_start(vector), out)
    return relative_to_last(out)


# ----------------------------------------------------------------------------------------------
# LSTM
# ----------------------------------------------------------------------------------------------


@_jit
def lstm_forward_steps(W_x, W_h, b, x, first, stop, pre, gates, h, C):
    """See reference.lstm_forward_steps."""
    H = W_h.shape[1]
    from_input, recurrent = np.empty(H), np.empty(H)
    for t in range(first, stop):
        for gate in range(4):  # as in rnn_forward_steps
            np.dot(W_x[gate], x[t], from_input)
            np.dot(W_h[gate], h[t - 1], recurrent)
            for i in range(H):
                pre[t, gate, i] = (from_input[i] + recurrent[i]) + b[gate, i]
        for i in range(H):
            gates[t, I, i] = sigmoid(pre[t, I, i])
            gates[t, F, i] = sigmoid(pre[t, F, i])
            gates[t, G, i] = np.tanh(pre[t, G, i])
            gates[t, O, i] = sigmoid(pre[t, O, i])
            C[t, i] = gates[t, F, i] * C[t - 1, i] + gates[t, I, i] * gates[t, G, i]
            h[t, i] = gates[t, O, i] * np.tanh(C[t, i])


def lstm_forward(W_x, W_h, b, x, h0, C0):
    """Returns (pre, gates, h, C): pre and gates (T + 1, 4, H) (row 0 zero), h and C (T + 1, H)."""
    T, H = x.shape[0] - 1, W_h.shape[1]
    pre, gates = np.zeros((T + 1, 4, H)), np.zeros((T + 1, 4, H))
    h, C = np.zeros((T + 1, H)), np.zeros((T + 1, H))
    h[0], C[0] = h0, C0
    lstm_forward_steps(W_x, W_h, b, readonly(x), 1, T + 1, pre, gates, h, C)
    return pre, gates, h, C


@_jit
def _dh_dC(pre, C, t, out):
    """D_t = o_t tanh'(C_t) into out; D_0 = 0 (h_0 is given)."""
    for i in range(C.shape[1]):
        out[i] = 0.0 if t == 0 else sigmoid(pre[t, O, i]) * tanh_prime(C[t, i])


@_jit
def _gate_path_scales(pre, C, t, via_f, via_i, via_g):
    """Row scales of A_t's three gate paths: A_t = diag(via_f) W_hf + diag(via_i) W_hi + diag(via_g) W_hg."""
    for i in range(C.shape[1]):
        via_f[i] = C[t - 1, i] * sigmoid_prime(pre[t, F, i])
        via_i[i] = np.tanh(pre[t, G, i]) * sigmoid_prime(pre[t, I, i])
        via_g[i] = sigmoid(pre[t, I, i]) * tanh_prime(pre[t, G, i])


_TERM_WEIGHTS = (F, I, G)  # the weight of each gate path, in TERM_NAMES order (via W_hf, W_hi, W_hg)


@_jit
def lstm_factor_diag_mean(W_h, pre, C):
    """Per t: the diagonal mean of each (L4) term and of their sum, TERM_NAMES order, (T + 1, 5).
    Only the diagonal is formed: O(T H)."""
    T, H = pre.shape[0] - 1, C.shape[1]
    diag_mean = np.zeros((T + 1, 5))
    D_prev, total = np.empty(H), np.empty(H)
    scales = np.empty((3, H))  # rows: via W_hf, W_hi, W_hg
    for t in range(1, T + 1):
        _dh_dC(pre, C, t - 1, D_prev)
        _gate_path_scales(pre, C, t, scales[0], scales[1], scales[2])
        trace_f = 0.0
        for i in range(H):
            total[i] = sigmoid(pre[t, F, i])
            trace_f += total[i]
        diag_mean[t, 0] = trace_f / H
        for p in range(3):
            W = W_h[_TERM_WEIGHTS[p]]
            trace = 0.0
            for i in range(H):
                v = scales[p, i] * W[i, i] * D_prev[i]  # (L4) diag(scale) W D_{t-1}, its diagonal
                total[i] += v
                trace += v
            diag_mean[t, 1 + p] = trace / H
        trace = 0.0
        for i in range(H):
            trace += total[i]
        diag_mean[t, 4] = trace / H
    return diag_mean


@_jit
def lstm_factor_norm_steps(W_h, pre, C, first, stop, total_norm):
    """See reference.lstm_factor_norm_steps: steps first..stop-1, written in place."""
    H = C.shape[1]
    D_prev = np.empty(H)
    scales = np.empty((3, H))  # rows: via W_hf, W_hi, W_hg
    total = np.empty((H, H))
    workspace = norm_workspace(H)
    for t in range(first, stop):
        _dh_dC(pre, C, t - 1, D_prev)
        _gate_path_scales(pre, C, t, scales[0], scales[1], scales[2])
        for i in range(H):
            for j in range(H):
                total[i, j] = 0.0
            total[i, i] = sigmoid(pre[t, F, i])
        for p in range(3):
            W = W_h[_TERM_WEIGHTS[p]]
            for i in range(H):
                s = scales[p, i]
                for j in range(H):
                    total[i, j] += s * W[i, j] * D_prev[j]  # (L4) diag(scale) W D_{t-1}
        total_norm[t] = matrix_norm(total, workspace)


@_jit
def lstm_term_norms(W_h, pre, C, t):
    """See reference.lstm_term_norms: the spectral norms of the four (L4) terms and of their sum
    at step t >= 1, (5,). One call without the GIL (the window asks for the selected step's
    norms on its worker thread while the transport steps)."""
    H = C.shape[1]
    D_prev = np.empty(H)
    scales = np.empty((3, H))  # rows: via W_hf, W_hi, W_hg
    term = np.empty((H, H))
    total = np.zeros((H, H))
    workspace = norm_workspace(H)
    norms = np.zeros(5)
    _dh_dC(pre, C, t - 1, D_prev)
    _gate_path_scales(pre, C, t, scales[0], scales[1], scales[2])
    forget_norm = 0.0
    for i in range(H):
        forget = sigmoid(pre[t, F, i])  # (L4) the forget path diag(f_t): its norm is max f
        total[i, i] = forget
        forget_norm = max(forget_norm, abs(forget))
    norms[0] = forget_norm
    for p in range(3):
        W = W_h[_TERM_WEIGHTS[p]]
        for i in range(H):
            s = scales[p, i]
            for j in range(H):
                term[i, j] = s * W[i, j] * D_prev[j]  # (L4) diag(scale) W D_{t-1}
                total[i, j] += term[i, j]
        norms[1 + p] = matrix_norm(term, workspace)
    norms[4] = matrix_norm(total, workspace)
    return norms


def lstm_factor_summary(W_h, pre, C):
    """Per t: spectral norm of the (L4) sum, (T + 1,), and diagonal means of the terms and the sum, (T + 1, 5)."""
    total_norm = np.zeros(pre.shape[0])
    lstm_factor_norm_steps(W_h, pre, C, 1, pre.shape[0], total_norm)
    return total_norm, lstm_factor_diag_mean(W_h, pre, C)


@_jit
def _log_dh_dC(pre, C, t, out):
    """log D_t = log(o_t tanh'(C_t)) into out; -inf at t = 0 (D_0 = 0: h_0 is given)."""
    for i in range(C.shape[1]):
        out[i] = -np.inf if t == 0 else log_sigmoid(pre[t, O, i]) + log_tanh_prime(C[t, i])


@_jit
def _dC_dh_rows(W_h, pre, C, t, A_unit, log_rows):
    """A_t = diag(exp(log_rows)) A_unit (L6), the gate paths' row factors from their logs
    (see reference.lstm_dC_dh_rows)."""
    H = C.shape[1]
    for i in range(H):
        log_via_f = log_abs(C[t - 1, i]) + log_sigmoid_prime(pre[t, F, i])
        log_via_i = log_abs(np.tanh(pre[t, G, i])) + log_sigmoid_prime(pre[t, I, i])
        log_via_g = log_sigmoid(pre[t, I, i]) + log_tanh_prime(pre[t, G, i])
        largest = max(max(log_via_f, log_via_i), log_via_g)
        log_rows[i] = largest
        if largest == -np.inf:
            for j in range(H):
                A_unit[i, j] = 0.0
            continue
        via_f = np.sign(C[t - 1, i]) * np.exp(log_via_f - largest)
        via_i = np.sign(pre[t, G, i]) * np.exp(log_via_i - largest)
        via_g = 1.0 * np.exp(log_via_g - largest)
        for j in range(H):
            A_unit[i, j] = via_f * W_h[F, i, j] + via_i * W_h[I, i, j] + via_g * W_h[G, i, j]


@_jit
def lstm_longrange_steps(W_h, pre, C, first, stop, blocks, scales, warm, exact):
    """See reference.lstm_longrange_steps: for k = first, ..., stop + 1, (L7), carrying [X | Y]
    (blocks, (2, H, H)), their log10 scales (scales, (2, 2): total, compensation) and the warm
    start vector of the norms (warm, (H,)) in place."""
    H = C.shape[1]
    X, Y = blocks[0], blocks[1]  # C-rows of J_h ... J_{k+1} = [X | Y]
    Xt, Xc, Yt, Yc = scales[0, 0], scales[0, 1], scales[1, 0], scales[1, 1]
    Z, scaled = np.empty((H, H)), np.empty((H, H))
    first_part, second = np.empty((H, H)), np.empty((H, H))
    A_unit, log_rows = np.empty((H, H)), np.empty(H)
    log_v, factor = np.empty(H), np.empty(H)
    workspace = norm_workspace(H)
    for k in range(first, stop, -1):
        t = k + 1
        _dC_dh_rows(W_h, pre, C, t, A_unit, log_rows)
        # (L7) [X | Y] @ J_t in blocks. Z = X diag(beta) + Y, beta = D_t = o_t tanh'(C_t)
        _log_dh_dC(pre, C, t, log_v)
        largest = _pull_largest(log_v, factor)
        _columns_times(X, factor, scaled)
        st, sc = _scale_add(Xt, Xc, largest / LN_10)
        st, sc = _scale_add(st, sc, renormalise(scaled))
        Zt, Zc = _add_scaled(scaled.ravel(), st, sc, Y.ravel(), Yt, Yc, Z.ravel())
        # X' = X diag(alpha) W_ho + Z A_t, alpha = tanh(C_t) sigma'(o_t)
        for j in range(H):
            log_v[j] = log_abs(np.tanh(C[t, j])) + log_sigmoid_prime(pre[t, O, j])
        largest = _pull_largest(log_v, factor)
        for j in range(H):
            factor[j] = np.sign(C[t, j]) * factor[j]
        _columns_times(X, factor, scaled)
        first_t, first_c = _scale_add(Xt, Xc, largest / LN_10)
        np.dot(scaled, W_h[O], first_part)
        first_t, first_c = _scale_add(first_t, first_c, renormalise(first_part))
        largest = _pull_largest(log_rows, factor)
        _columns_times(Z, factor, scaled)
        second_t, second_c = _scale_add(Zt, Zc, largest / LN_10)
        np.dot(scaled, A_unit, second)
        second_t, second_c = _scale_add(second_t, second_c, renormalise(second))
        Xt, Xc = _add_scaled(first_part.ravel(), first_t, first_c, second.ravel(), second_t, second_c, X.ravel())
        # Y' = Z diag(f_t)
        for j in range(H):
            log_v[j] = log_sigmoid(pre[t, F, j])
        largest = _pull_largest(log_v, factor)
        _columns_times(Z, factor, Y)
        Yt, Yc = _scale_add(Zt, Zc, largest / LN_10)
        Yt, Yc = _scale_add(Yt, Yc, renormalise(Y))
        # (L7): dC_h/dC_k = X diag(D_k) + Y
        _log_dh_dC(pre, C, k, log_v)
        largest = _pull_largest(log_v, factor)
        _columns_times(X, factor, scaled)
        st, sc = _scale_add(Xt, Xc, largest / LN_10)
        st, sc = _scale_add(st, sc, renormalise(scaled))
        st, sc = _add_scaled(scaled.ravel(), st, sc, Y.ravel(), Yt, Yc, Z.ravel())  # Z: free here
        exact[k] = chain_log10_norm(Z, st + sc, warm, workspace)
    scales[0, 0], scales[0, 1], scales[1, 0], scales[1, 1] = Xt, Xc, Yt, Yc


@_jit
def lstm_naive_longrange_steps(W_h, pre, C, first, stop, chain, scale, warm, naive):
    """See reference.lstm_naive_longrange_steps."""
    H = C.shape[1]
    chain_t, chain_c = scale[0], scale[1]
    scaled, first_part, second = np.empty((H, H)), np.empty((H, H)), np.empty((H, H))
    A_unit, log_rows = np.empty((H, H)), np.empty(H)
    log_v, factor = np.empty(H), np.empty(H)
    workspace = norm_workspace(H)
    for k in range(first, stop, -1):
        t = k + 1
        _dC_dh_rows(W_h, pre, C, t, A_unit, log_rows)
        # chain @ (L4) factor_t = chain diag(f_t) + chain A_t diag(D_{t-1})
        for j in range(H):
            log_v[j] = log_sigmoid(pre[t, F, j])
        largest = _pull_largest(log_v, factor)
        _columns_times(chain, factor, first_part)
        first_t, first_c = _scale_add(chain_t, chain_c, largest / LN_10)
        first_t, first_c = _scale_add(first_t, first_c, renormalise(first_part))
        largest = _pull_largest(log_rows, factor)
        _columns_times(chain, factor, scaled)
        second_t, second_c = _scale_add(chain_t, chain_c, largest / LN_10)
        np.dot(scaled, A_unit, second)
        _log_dh_dC(pre, C, t - 1, log_v)
        largest = _pull_largest(log_v, factor)
        _columns_times(second, factor, second)
        second_t, second_c = _scale_add(second_t, second_c, largest / LN_10)
        second_t, second_c = _scale_add(second_t, second_c, renormalise(second))
        chain_t, chain_c = _add_scaled(first_part.ravel(), first_t, first_c, second.ravel(), second_t, second_c,
                                       chain.ravel())
        naive[k] = chain_log10_norm(chain, chain_t + chain_c, warm, workspace)
    scale[0], scale[1] = chain_t, chain_c


def lstm_longrange_log10(W_h, pre, C, horizon):
    """For k = 0..h: log10 ||dC_h/dC_k|| exact (L7), and of the naive product of (L4) factors.
    See reference.lstm_longrange_log10 (the same blocks, each with its own log10 scale)."""
    exact, naive = np.zeros(horizon + 1), np.zeros(horizon + 1)
    W_h, pre, C = readonly(W_h), readonly(pre), readonly(C)
    lstm_longrange_steps(W_h, pre, C, horizon - 1, -1, *lstm_chain_start(C.shape[1]), exact)
    lstm_naive_longrange_steps(W_h, pre, C, horizon - 1, -1, *rnn_chain_start(C.shape[1]), naive)
    return exact, naive


@_jit
def _gate_local_factors(pre, C, k, signs, logs):
    """Each gate's local factor at step k as signs * exp(logs), (4, H); see
    reference.lstm_gate_local_factors."""
    for i in range(C.shape[1]):
        signs[I, i] = np.sign(pre[k, G, i])
        logs[I, i] = log_abs(np.tanh(pre[k, G, i])) + log_sigmoid_prime(pre[k, I, i])
        signs[F, i] = np.sign(C[k - 1, i])
        logs[F, i] = log_abs(C[k - 1, i]) + log_sigmoid_prime(pre[k, F, i])
        signs[G, i] = 1.0
        logs[G, i] = log_sigmoid(pre[k, I, i]) + log_tanh_prime(pre[k, G, i])
        signs[O, i] = np.sign(C[k, i])
        logs[O, i] = log_abs(np.tanh(C[k, i])) + log_sigmoid_prime(pre[k, O, i])


@_jit
def _backward_workspace(H):
    return (np.empty(H), np.empty(H), np.empty(H), np.empty(H), np.empty((4, 2)),
            np.empty((4, H)), np.empty((4, H)))


@_jit
def _lstm_backward_step(W_h, pre, C, k, grads, scales, delta_k, delta_scale_k, work):
    """One step of the LSTM's backward recursion (see reference.lstm_backward_step): from
    grads = (dL/dh_k, dL/dC_k through the carousel) with their log10 scales (compensated), the
    gate deltas of step k into delta_k (4, H) with their scales delta_scale_k (4,), then grads
    moved to step k - 1. Returns log10 ||dL/dC_k|| (the total derivative, h_k = o_k tanh(C_k))."""
    H = C.shape[1]
    through, part, log_v, factor, gate_scale, signs, log_factors = work
    grad_h, grad_C = grads[0], grads[1]
    ht, hc, Ct, Cc = scales[0, 0], scales[0, 1], scales[1, 0], scales[1, 1]
    # dL/dC_k += dL/dh_k * D_k, D_k = o_k tanh'(C_k)
    _log_dh_dC(pre, C, k, log_v)
    largest = _pull_largest(log_v, factor)
    for i in range(H):
        through[i] = grad_h[i] * factor[i]
    st, sc = _scale_add(ht, hc, largest / LN_10)
    st, sc = _scale_add(st, sc, renormalise_vector(through))
    Ct, Cc = _add_scaled(grad_C, Ct, Cc, through, st, sc, grad_C)
    total_dC = _log10_vector_norm(grad_C, Ct + Cc)
    # delta_k,gate = dL/d(pre-activation) = (dL/dh_k or dL/dC_k) * local factor, from its log
    _gate_local_factors(pre, C, k, signs, log_factors)
    for gate in range(4):
        largest = _pull_largest(log_factors[gate], factor)
        grad = grad_h if gate == O else grad_C
        for i in range(H):
            delta_k[gate, i] = grad[i] * (signs[gate, i] * factor[i])
        source_t, source_c = (ht, hc) if gate == O else (Ct, Cc)
        gate_scale[gate, 0], gate_scale[gate, 1] = _scale_add(source_t, source_c, largest / LN_10)
        delta_scale_k[gate] = gate_scale[gate, 0] + gate_scale[gate, 1]
    # dL/dh_{k-1} = sum_gate W_h<gate>^T delta_k,gate, each term scaled on its own
    for j in range(H):
        grad_h[j] = 0.0
    ht, hc = 0.0, 0.0
    for gate in range(4):
        np.dot(W_h[gate].T, delta_k[gate], part)
        st, sc = _scale_add(gate_scale[gate, 0], gate_scale[gate, 1], renormalise_vector(part))
        ht, hc = _add_scaled(grad_h, ht, hc, part, st, sc, grad_h)
    # dL/dC_{k-1} through the carousel: times f_k
    for i in range(H):
        log_v[i] = log_sigmoid(pre[k, F, i])
    largest = _pull_largest(log_v, factor)
    for i in range(H):
        grad_C[i] = grad_C[i] * factor[i]
    Ct, Cc = _scale_add(Ct, Cc, largest / LN_10)
    Ct, Cc = _scale_add(Ct, Cc, renormalise_vector(grad_C))
    scales[0, 0], scales[0, 1], scales[1, 0], scales[1, 1] = ht, hc, Ct, Cc
    return total_dC


@_jit
def lstm_bptt_steps(W_h, pre, C, first, stop, grads, scales, delta, log10_scale, lossgrad_log10):
    """See reference.lstm_bptt_steps."""
    work = _backward_workspace(C.shape[1])
    for k in range(first, stop, -1):
        lossgrad_log10[k] = _lstm_backward_step(W_h, pre, C, k, grads, scales, delta[k], log10_scale[k], work)
    if stop == 0:  # dL/dC_0 = what reached it through the carousel (D_0 = 0: h_0 is given)
        lossgrad_log10[0] = _log10_vector_norm(grads[1], scales[1, 0] + scales[1, 1])


def lstm_bptt(W_h, V, c, target, pre, h, C, horizon):
    """Backward pass of L = 1/2 ||Y* - Y_h||^2 at step h; see reference.lstm_bptt."""
    H = C.shape[1]
    delta, log10_scale = np.zeros((horizon + 1, 4, H)), np.zeros((horizon + 1, 4))
    lossgrad = np.zeros(horizon + 1)
    lstm_bptt_steps(W_h, pre, C, horizon, 0, *lstm_bptt_start(lstm_loss_gradient(V, c, target, h, horizon)),
                    delta, log10_scale, lossgrad)
    return delta, log10_scale, lossgrad


@_jit
def lstm_longrange_lower_steps(W_h, pre, C, first, stop, grads, scales, out):
    """See reference.lstm_longrange_lower_steps."""
    H = C.shape[1]
    work = _backward_workspace(H)
    delta_k, delta_scale_k = np.empty((4, H)), np.empty(4)  # scratch: not kept
    for k in range(first, stop, -1):
        out[k] = _lstm_backward_step(W_h, pre, C, k, grads, scales, delta_k, delta_scale_k, work)
    if stop == 0:
        out[0] = _log10_vector_norm(grads[1], scales[1, 0] + scales[1, 1])


def lstm_longrange_lower_log10(W_h, pre, C, vector, horizon):
    """See reference.lstm_longrange_lower_log10."""
    out = np.zeros(horizon + 1)
    lstm_longrange_lower_steps(W_h, pre, C, horizon, 0, *lstm_lower_start(vector), out)
    return relative_to_last(out)
