"""Numba twins of the training passes in `train_reference.py`: same names, signatures, results.

The maths: docs/training-maths.md, labels (T1)... Layout: time first, then batch, then units, so
that every step's states are one C-contiguous (B, H) block and the recurrent products are one
BLAS matrix product per step for the whole batch:

- forward: the input part W_x x_t of every step is one product up front; per step one
  (B, H) x (H, 4H) product (the LSTM's (4, H, .) arrays are read as (4H, .), rows gate*H + unit);
- backward: per step one (B, 4H) x (4H, H) product for dL/dh_{t-1}; the weight gradients
  (T10), sums over steps and sequences of per-step contributions, are one product each at the end.
- The elementwise work is the rest, mostly exponentials. Every activation and its slope come from
  one exp of the pre-activation (sigma: exp(-|a|); tanh: exp(-2|a|)), stored by the forward pass,
  so the backward pass needs none; and the exps of a whole (B, 4H) block are taken at once by
  `_exp_nonpositive`, a branch-free exp that the compiler vectorises (numba's np.exp calls libm one
  value at a time: measured 5.6 ns per value against 1.9 ns).

Float64 throughout (docs/training-maths.md, "Precision"). Every array lives in a workspace the
caller allocates once (`rnn_workspace_size`, `lstm_workspace_size`): a fresh 10 MB of arrays per
call cost ~1.5 ms of page faults per call at (H, T, B) = (16, 100, 32), a third of the pass.
Loops are explicit; no parallel=True.
"""

from __future__ import annotations

import numpy as np

from . import kernels  # noqa: F401  (first: SciPy's BLAS loaded alone and set single-threaded)
from .tasks import LINEAR

from numba import njit  # noqa: E402  (after kernels: numba's cache folder and BLAS set-up)

_jit = njit(cache=True, nogil=True, error_model="numpy")

# exp by Cody and Waite's reduction: x = k ln2 + r, |r| <= ln2 / 2, exp(x) = 2^k p(r), p the Taylor
# polynomial of degree 13 (truncation < 5e-18 relative); ln 2 split so that k * LN2_HI is exact.
LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of ln 2
LN2_LO = 1.90821492927058770002e-10
SHIFTER = 6755399441055744.0  # 1.5 * 2^52: x log2(e) + SHIFTER rounds to an integer k in the low bits
SHIFTER_BITS = int(np.array([SHIFTER]).view(np.int64)[0])
EXP_FLOOR = -708.0  # exp(-708) = 3.3e-308, still a normal number: the 2^k scale stays valid


def rnn_workspace_size(steps: int, batch: int, hidden: int) -> int:
    """Length of the float64 workspace `rnn_train_pass` needs for T = steps."""
    # three (T + 1, B, H) arrays and five (B, H) blocks
    return 3 * (steps + 1) * batch * hidden + 5 * batch * hidden


def lstm_workspace_size(steps: int, batch: int, hidden: int) -> int:
    """Length of the float64 workspace `lstm_train_pass` needs for T = steps."""
    # three (T + 1, B, 4H) and four (T + 1, B, H) arrays, four (B, 4H) and five (B, H) blocks
    return 16 * (steps + 1) * batch * hidden + 21 * batch * hidden


@_jit
def _exp_nonpositive(arg, out):
    """out = exp(arg) for arg <= 0 (1-d arrays, not the same one), within 1 ulp (tested); below
    EXP_FLOOR clamped to exp(EXP_FLOOR). arg is used as scratch (destroyed). Three branch-free
    loops over distinct arrays, so that the compiler vectorises each (with arg and out the same
    array, it does not, and the exp costs 6x more)."""
    n = arg.shape[0]
    for k in range(n):
        x = max(arg[k], EXP_FLOOR)
        shifted = x * LOG2E + SHIFTER
        whole = shifted - SHIFTER  # k = round(x / ln 2)
        r = (x - whole * LN2_HI) - whole * LN2_LO
        p = 1.0 / 6227020800.0  # Horner: sum_{n <= 13} r^n / n!
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        out[k] = p
        arg[k] = shifted
    bits = arg.view(np.int64)
    for k in range(n):  # the bits of 2^k: exponent field k + 1023
        bits[k] = (bits[k] - SHIFTER_BITS + 1023) << 52
    for k in range(n):
        out[k] = out[k] * arg[k]


@_jit
def _sigmoid_from(a, e):
    """sigma(a) and sigma'(a) = sigma(a) sigma(-a) from e = exp(-|a|): accurate for every a."""
    r = 1.0 / (1.0 + e)
    return (1.0 if a >= 0.0 else e) * r, e * r * r


@_jit
def _tanh_from(a, e):
    """tanh(a) and tanh'(a) = sech^2(a) from e = exp(-2|a|).

    sech^2 = 4e / (1 + e)^2 is accurate to a few ulps for every a (also where tanh rounds to +-1);
    tanh = (1 - e) / (1 + e) is accurate to a few ulps for |a| >= 0.1 and to an absolute 2e-16
    below (1 - e cancels there): far below what any state or gradient resolves."""
    r = 1.0 / (1.0 + e)
    t = (1.0 - e) * r
    return (t if a >= 0.0 else -t), 4.0 * e * r * r


@_jit
def _tanh_cells(pre, e, scratch, out, slope):
    """out, slope = tanh, tanh' of the (B, n) block pre (e, scratch: (B, n) scratch)."""
    B, n = pre.shape
    for bb in range(B):
        for k in range(n):
            scratch[bb, k] = -2.0 * abs(pre[bb, k])
    _exp_nonpositive(scratch.reshape(B * n), e.reshape(B * n))
    for bb in range(B):
        for k in range(n):
            out[bb, k], slope[bb, k] = _tanh_from(pre[bb, k], e[bb, k])


@_jit
def _readout_one(V, c, s, bb, z):
    """z = V s_b + c (T3) into z."""
    O, H = V.shape
    for r in range(O):
        acc = 0.0
        for j in range(H):
            acc += V[r, j] * s[bb, j]
        z[r] = acc + c[r]


@_jit
def _loss_of_one(z, t, bb, target_value, target_class, readout):
    """l of (T5)/(T6) for sequence bb at step t; z is overwritten by e = dl/dz. Returns l."""
    O = z.shape[0]
    if readout == LINEAR:
        loss = 0.0
        for r in range(O):
            z[r] = z[r] - target_value[t, bb, r]
            loss += z[r] * z[r]
        return 0.5 * loss
    target = target_class[t, bb]
    top = z[0]
    for r in range(1, O):
        top = max(top, z[r])
    total = 0.0
    for r in range(O):
        total += np.exp(z[r] - top)
    log_norm = top + np.log(total)
    loss = log_norm - z[target]
    for r in range(O):
        z[r] = np.exp(z[r] - log_norm)
    z[target] -= 1.0
    return loss


@_jit
def _argmax(z):
    best = 0
    for r in range(1, z.shape[0]):
        if z[r] > z[best]:
            best = r
    return best


@_jit
def _loss_at_step(V, c, s, t, loss_weight, target_value, target_class, readout, grad_V, grad_c,
                  into_state, z):
    """The loss at step t (s = the states of step t, (B, H)): adds r_t (T7) to into_state and the
    (T10) readout gradients to grad_V, grad_c; returns its share of L, (1/B) sum_b w l."""
    B, H = s.shape
    O = V.shape[0]
    loss = 0.0
    for bb in range(B):
        w = loss_weight[t, bb]
        if w == 0.0:
            continue
        _readout_one(V, c, s, bb, z)
        loss += w * _loss_of_one(z, t, bb, target_value, target_class, readout)
        scale = w / B
        for r in range(O):
            e = scale * z[r]
            grad_c[r] += e
            for j in range(H):
                grad_V[r, j] += e * s[bb, j]
                into_state[bb, j] += e * V[r, j]
    return loss / B


@_jit
def _evaluate_step(V, c, s, t, loss_weight, target_value, target_class, readout, accuracy_mask, z):
    """(share of L at step t, number of accuracy_mask steps predicted right) for states s (B, H)."""
    B = s.shape[0]
    loss = 0.0
    correct = 0
    for bb in range(B):
        w = loss_weight[t, bb]
        counted = accuracy_mask[t, bb]
        if w == 0.0 and not counted:
            continue
        _readout_one(V, c, s, bb, z)
        if counted and readout != LINEAR and _argmax(z) == target_class[t, bb]:
            correct += 1
        if w != 0.0:
            loss += w * _loss_of_one(z, t, bb, target_value, target_class, readout)
    return loss / B, correct


@_jit
def _record_probe(probe, probe_step, t, gradient, B):
    """||dl_b/ds_t|| = B ||dL/ds_t|| for the sequences whose probe step is t."""
    for bb in range(gradient.shape[0]):
        if probe_step[bb] == t:
            total = 0.0
            for j in range(gradient.shape[1]):
                total += gradient[bb, j] * gradient[bb, j]
            probe[bb] = B * np.sqrt(total)


@_jit
def _bias_gradient(delta, grad_b):
    """grad_b = sum over steps and sequences of delta, rows (steps x sequences, units)."""
    for k in range(grad_b.shape[0]):
        grad_b[k] = 0.0
    for row in range(delta.shape[0]):
        for k in range(delta.shape[1]):
            grad_b[k] += delta[row, k]


# ----------------------------------------------------------------------------------------------
# Vanilla RNN (T1)
# ----------------------------------------------------------------------------------------------


@_jit
def _rnn_cells(from_input, recurrent, b, pre, e, scratch, S, slope):
    """S, slope = tanh, tanh' of a = (W_x x_t + U S_{t-1}) + b, for a (B, H) block."""
    B, H = pre.shape
    for bb in range(B):
        for i in range(H):
            pre[bb, i] = (from_input[bb, i] + recurrent[bb, i]) + b[i]
    _tanh_cells(pre, e, scratch, S, slope)


@_jit
def rnn_train_pass(W_x, U, b, V, c, x, loss_weight, target_value, target_class, readout,
                   probe_step, grad_W_x, grad_U, grad_b, grad_V, grad_c, workspace):
    """See train_reference.rnn_train_pass: returns (L, probe (B,)), writes grad_*.
    workspace: float64, at least rnn_workspace_size(T, B, H) long."""
    T, B, D = x.shape[0] - 1, x.shape[1], x.shape[2]
    H = U.shape[0]
    block, steps_block = B * H, (T + 1) * B * H
    from_input = workspace[:steps_block].reshape((T + 1, B, H))  # later: delta = dL/da_t
    S = workspace[steps_block:2 * steps_block].reshape((T + 1, B, H))
    slope = workspace[2 * steps_block:3 * steps_block].reshape((T + 1, B, H))  # tanh'(a_t)
    rest = 3 * steps_block
    recurrent = workspace[rest:rest + block].reshape((B, H))
    pre = workspace[rest + block:rest + 2 * block].reshape((B, H))
    e = workspace[rest + 2 * block:rest + 3 * block].reshape((B, H))
    scratch = workspace[rest + 3 * block:rest + 4 * block].reshape((B, H))
    grad_S = workspace[rest + 4 * block:rest + 5 * block].reshape((B, H))  # dL/dS_t, all paths
    # forward (T1)
    np.dot(x.reshape(((T + 1) * B, D)), W_x.T, from_input.reshape(((T + 1) * B, H)))
    S[0] = 0.0
    U_T = U.T
    for t in range(1, T + 1):
        np.dot(S[t - 1], U_T, recurrent)  # row b: U S_{t-1}
        _rnn_cells(from_input[t], recurrent, b, pre, e, scratch, S[t], slope[t])
    # backward (T8)
    delta = from_input  # dL/da_t; W_x x_t is no longer needed
    grad_V[:, :] = 0.0
    grad_c[:] = 0.0
    grad_S[:, :] = 0.0
    z = np.empty(V.shape[0])
    probe = np.zeros(B)
    loss = 0.0
    for t in range(T, 0, -1):
        loss += _loss_at_step(V, c, S[t], t, loss_weight, target_value, target_class, readout,
                              grad_V, grad_c, grad_S, z)
        _record_probe(probe, probe_step, t, grad_S, B)
        for bb in range(B):
            for i in range(H):
                delta[t, bb, i] = slope[t, bb, i] * grad_S[bb, i]
        np.dot(delta[t], U, grad_S)  # row b: U^T delta_t = dL/dS_{t-1} (before r_{t-1})
    # (T10): sums of the per-step contributions over steps and sequences, one product each
    delta_rows = delta[1:].reshape((T * B, H))
    np.dot(delta_rows.T, S[:T].reshape((T * B, H)), grad_U)
    np.dot(delta_rows.T, x[1:].reshape((T * B, D)), grad_W_x)
    _bias_gradient(delta_rows, grad_b)
    return loss, probe


@_jit
def rnn_evaluate(W_x, U, b, V, c, x, loss_weight, target_value, target_class, readout,
                 accuracy_mask):
    """See train_reference.rnn_evaluate: (L, number predicted right). Keeps only the current state."""
    T, B = x.shape[0] - 1, x.shape[1]
    H = U.shape[0]
    S = np.zeros((B, H))
    from_input, recurrent = np.empty((B, H)), np.empty((B, H))
    pre, e, scratch, slope = np.empty((B, H)), np.empty((B, H)), np.empty((B, H)), np.empty((B, H))
    z = np.empty(V.shape[0])
    W_x_T, U_T = W_x.T, U.T
    loss = 0.0
    correct = 0
    for t in range(1, T + 1):
        np.dot(x[t], W_x_T, from_input)
        np.dot(S, U_T, recurrent)
        _rnn_cells(from_input, recurrent, b, pre, e, scratch, S, slope)
        loss_t, correct_t = _evaluate_step(V, c, S, t, loss_weight, target_value, target_class,
                                           readout, accuracy_mask, z)
        loss += loss_t
        correct += correct_t
    return loss, correct


# ----------------------------------------------------------------------------------------------
# LSTM (T2): gate g's rows of the (4H, .) arrays are g*H .. g*H + H - 1 (i, f, g, o)
# ----------------------------------------------------------------------------------------------


@_jit
def _lstm_cells(from_input, recurrent, b, C_prev, pre, e, scratch, cell_e, cell_scratch,
                gates, slopes, C, tanh_C, tanh_C_slope, h):
    """One step for a batch: pre-activations (W_x x_t + W_h h_{t-1}) + b, (B, 4H), to the gates
    and their slopes (B, 4H), C_t, tanh(C_t), tanh'(C_t) and h_t (B, H)."""
    B, H4 = pre.shape
    H = H4 // 4
    for bb in range(B):
        for k in range(H4):
            pre[bb, k] = (from_input[bb, k] + recurrent[bb, k]) + b[k]
            scratch[bb, k] = -abs(pre[bb, k])
        for k in range(2 * H, 3 * H):  # the candidate g is a tanh: exp(-2|a|)
            scratch[bb, k] *= 2.0
    _exp_nonpositive(scratch.reshape(B * H4), e.reshape(B * H4))
    for bb in range(B):
        for k in range(2 * H):  # i, f
            gates[bb, k], slopes[bb, k] = _sigmoid_from(pre[bb, k], e[bb, k])
        for k in range(2 * H, 3 * H):  # g
            gates[bb, k], slopes[bb, k] = _tanh_from(pre[bb, k], e[bb, k])
        for k in range(3 * H, H4):  # o
            gates[bb, k], slopes[bb, k] = _sigmoid_from(pre[bb, k], e[bb, k])
        for j in range(H):
            C[bb, j] = gates[bb, H + j] * C_prev[bb, j] + gates[bb, j] * gates[bb, 2 * H + j]
    _tanh_cells(C, cell_e, cell_scratch, tanh_C, tanh_C_slope)
    for bb in range(B):
        for j in range(H):
            h[bb, j] = gates[bb, 3 * H + j] * tanh_C[bb, j]


@_jit
def _lstm_cells_backward(grad_h, carried_C, total_C, gates, slopes, C_prev, tanh_C, tanh_C_slope,
                         delta):
    """(T9) at one step for a batch: from dL/dh_t (grad_h) and dL/dC_t through C_{t+1}
    (carried_C), the total dL/dC_t (total_C), the pre-activation gradients delta (B, 4H) and
    carried_C for step t - 1. Short loops over few arrays each, so that they are vectorised."""
    B, H = grad_h.shape
    for bb in range(B):
        for j in range(H):  # C-tilde_t = dL/dC_t, all paths
            total_C[bb, j] = carried_C[bb, j] + grad_h[bb, j] * gates[bb, 3 * H + j] * tanh_C_slope[bb, j]
        for j in range(H):
            delta[bb, 3 * H + j] = grad_h[bb, j] * tanh_C[bb, j] * slopes[bb, 3 * H + j]  # o
        for j in range(H):
            delta[bb, j] = total_C[bb, j] * gates[bb, 2 * H + j] * slopes[bb, j]  # i
        for j in range(H):
            delta[bb, 2 * H + j] = total_C[bb, j] * gates[bb, j] * slopes[bb, 2 * H + j]  # g
        for j in range(H):
            delta[bb, H + j] = total_C[bb, j] * C_prev[bb, j] * slopes[bb, H + j]  # f
        for j in range(H):
            carried_C[bb, j] = total_C[bb, j] * gates[bb, H + j]  # through the carousel


@_jit
def lstm_train_pass(W_x, W_h, b, V, c, x, loss_weight, target_value, target_class, readout,
                    probe_step, grad_W_x, grad_W_h, grad_b, grad_V, grad_c, workspace):
    """See train_reference.lstm_train_pass: returns (L, probe_h (B,), probe_C (B,)), writes grad_*.
    workspace: float64, at least lstm_workspace_size(T, B, H) long."""
    T, B, D = x.shape[0] - 1, x.shape[1], x.shape[2]
    H = W_h.shape[1]
    H4 = 4 * H
    W_h_rows = W_h.reshape((H4, H))
    b_rows = b.reshape(H4)
    wide, narrow = (T + 1) * B * H4, (T + 1) * B * H
    from_input = workspace[:wide].reshape((T + 1, B, H4))  # later: delta
    gates = workspace[wide:2 * wide].reshape((T + 1, B, H4))
    slopes = workspace[2 * wide:3 * wide].reshape((T + 1, B, H4))  # sigma' or tanh' of each gate
    at = 3 * wide
    C = workspace[at:at + narrow].reshape((T + 1, B, H))
    tanh_C = workspace[at + narrow:at + 2 * narrow].reshape((T + 1, B, H))
    tanh_C_slope = workspace[at + 2 * narrow:at + 3 * narrow].reshape((T + 1, B, H))
    h = workspace[at + 3 * narrow:at + 4 * narrow].reshape((T + 1, B, H))
    at += 4 * narrow
    recurrent = workspace[at:at + B * H4].reshape((B, H4))
    pre = workspace[at + B * H4:at + 2 * B * H4].reshape((B, H4))
    e = workspace[at + 2 * B * H4:at + 3 * B * H4].reshape((B, H4))
    scratch = workspace[at + 3 * B * H4:at + 4 * B * H4].reshape((B, H4))
    at += 4 * B * H4
    grad_h = workspace[at:at + B * H].reshape((B, H))  # dL/dh_t, all paths
    carried_C = workspace[at + B * H:at + 2 * B * H].reshape((B, H))  # dL/dC_t via C_{t+1}
    total_C = workspace[at + 2 * B * H:at + 3 * B * H].reshape((B, H))  # dL/dC_t, all paths
    cell_e = workspace[at + 3 * B * H:at + 4 * B * H].reshape((B, H))
    cell_scratch = workspace[at + 4 * B * H:at + 5 * B * H].reshape((B, H))
    # forward (T2)
    np.dot(x.reshape(((T + 1) * B, D)), W_x.reshape((H4, D)).T, from_input.reshape(((T + 1) * B, H4)))
    C[0] = 0.0
    h[0] = 0.0
    W_h_T = W_h_rows.T
    for t in range(1, T + 1):
        np.dot(h[t - 1], W_h_T, recurrent)  # row b: W_h h_{t-1} for all four gates
        _lstm_cells(from_input[t], recurrent, b_rows, C[t - 1], pre, e, scratch, cell_e,
                    cell_scratch, gates[t], slopes[t], C[t], tanh_C[t], tanh_C_slope[t], h[t])
    # backward (T9)
    delta = from_input  # dL/d(pre-activations); W_x x_t is no longer needed
    grad_V[:, :] = 0.0
    grad_c[:] = 0.0
    grad_h[:, :] = 0.0
    carried_C[:, :] = 0.0
    z = np.empty(V.shape[0])
    probe_h, probe_C = np.zeros(B), np.zeros(B)
    loss = 0.0
    for t in range(T, 0, -1):
        loss += _loss_at_step(V, c, h[t], t, loss_weight, target_value, target_class, readout,
                              grad_V, grad_c, grad_h, z)
        _lstm_cells_backward(grad_h, carried_C, total_C, gates[t], slopes[t], C[t - 1], tanh_C[t],
                             tanh_C_slope[t], delta[t])
        _record_probe(probe_h, probe_step, t, grad_h, B)
        _record_probe(probe_C, probe_step, t, total_C, B)
        np.dot(delta[t], W_h_rows, grad_h)  # row b: sum_gate W_h<gate>^T delta<gate>_t
    # (T10), one product each over all steps and sequences
    delta_rows = delta[1:].reshape((T * B, H4))
    np.dot(delta_rows.T, h[:T].reshape((T * B, H)), grad_W_h.reshape((H4, H)))
    np.dot(delta_rows.T, x[1:].reshape((T * B, D)), grad_W_x.reshape((H4, D)))
    _bias_gradient(delta_rows, grad_b.reshape(H4))
    return loss, probe_h, probe_C


@_jit
def lstm_evaluate(W_x, W_h, b, V, c, x, loss_weight, target_value, target_class, readout,
                  accuracy_mask):
    """See train_reference.lstm_evaluate: (L, number predicted right). Keeps only the current state."""
    T, B = x.shape[0] - 1, x.shape[1]
    H = W_h.shape[1]
    H4 = 4 * H
    W_x_T = W_x.reshape((H4, W_x.shape[2])).T
    W_h_T = W_h.reshape((H4, H)).T
    b_rows = b.reshape(H4)
    h = np.zeros((B, H))
    C = np.zeros((B, H))
    C_prev = np.empty((B, H))
    from_input, recurrent = np.empty((B, H4)), np.empty((B, H4))
    pre, e, scratch = np.empty((B, H4)), np.empty((B, H4)), np.empty((B, H4))
    gates, slopes = np.empty((B, H4)), np.empty((B, H4))
    cell_e, cell_scratch = np.empty((B, H)), np.empty((B, H))
    tanh_C, tanh_C_slope = np.empty((B, H)), np.empty((B, H))
    z = np.empty(V.shape[0])
    loss = 0.0
    correct = 0
    for t in range(1, T + 1):
        np.dot(x[t], W_x_T, from_input)
        np.dot(h, W_h_T, recurrent)
        C_prev[:, :] = C
        _lstm_cells(from_input, recurrent, b_rows, C_prev, pre, e, scratch, cell_e, cell_scratch,
                    gates, slopes, C, tanh_C, tanh_C_slope, h)
        loss_t, correct_t = _evaluate_step(V, c, h, t, loss_weight, target_value, target_class,
                                           readout, accuracy_mask, z)
        loss += loss_t
        correct += correct_t
    return loss, correct


# ----------------------------------------------------------------------------------------------
# Optimisers on one flat parameter vector (see train_reference)
# ----------------------------------------------------------------------------------------------


@_jit
def gradient_norm(grad):
    """||grad||_2 (a loop: NumPy's threaded BLAS dot took 8 ms for 17k entries on a busy 2-core
    machine, against 0.01 ms here)."""
    total = 0.0
    for k in range(grad.shape[0]):
        total += grad[k] * grad[k]
    return np.sqrt(total)


@_jit
def adam_step(theta, grad, m, v, learning_rate, beta1, beta2, eps, step):
    """One Adam update in place (PyTorch's formula); step = 1, 2, ..."""
    step_size = learning_rate / (1.0 - beta1 ** step)
    root_correction = np.sqrt(1.0 - beta2 ** step)
    for k in range(theta.shape[0]):
        g = grad[k]
        m[k] += (1.0 - beta1) * (g - m[k])
        v[k] = v[k] * beta2 + (1.0 - beta2) * g * g
        theta[k] -= step_size * (m[k] / (np.sqrt(v[k]) / root_correction + eps))


@_jit
def sgd_step(theta, grad, buffer, learning_rate, momentum):
    """One SGD update in place, PyTorch's momentum convention."""
    for k in range(theta.shape[0]):
        buffer[k] = buffer[k] * momentum + grad[k]
        theta[k] -= learning_rate * buffer[k]
