"""Readable pure-numpy twin of the training kernels (`train_kernels.py`): the oracle for tests.

Same function names, signatures and results as the numba kernels (to round-off). The maths and
the labels (T1), ... are in docs/training-maths.md. Shapes: time first (row t = step t, row 0
unused), then batch b, then units. The LSTM's (4, H, .) arrays hold the gates i, f, g, o.

Derivatives come from the pre-activation (tanh'(a) = sech^2(a), sigma'(a) = sigma(a) sigma(-a)),
as in `reference.py`. States at t = 0 are zero.
"""

from __future__ import annotations

import numpy as np

from .reference import sigmoid, sigmoid_prime, tanh_prime
from .tasks import LINEAR

I, F, G, O = 0, 1, 2, 3  # gate rows


def rnn_workspace_size(steps: int, batch: int, hidden: int) -> int:
    return 0  # numpy allocates as it goes; the numba twin needs a workspace


def lstm_workspace_size(steps: int, batch: int, hidden: int) -> int:
    return 0


def readout_step(V, c, s, weight, target_value, target_class, readout):
    """Loss and error of one step for the whole batch, (T5)/(T6).

    s (B, H) states, weight (B,) the w_{t,b} of the step; target_value (B, O) (linear) or
    target_class (B,) (softmax). Returns (sum_b w_b l_b, e (B, O) = dl/dz, predicted class (B,))."""
    z = s @ V.T + c  # (T3)
    sequences = np.arange(s.shape[0])
    if readout == LINEAR:
        error = z - target_value
        loss = 0.5 * np.sum(error ** 2, axis=1)
    else:
        top = z.max(axis=1, keepdims=True)  # log-softmax without overflow
        log_norm = top[:, 0] + np.log(np.sum(np.exp(z - top), axis=1))
        loss = log_norm - z[sequences, target_class]
        error = np.exp(z - log_norm[:, None])
        error[sequences, target_class] -= 1.0
    return weight @ loss, error, np.argmax(z, axis=1)


def _loss_at_step(V, c, s, t, loss_weight, target_value, target_class, readout, grad_V, grad_c):
    """The loss at step t: returns its share of L, (1/B) sum_b w l, and r_t (T7), the gradient it
    sends into the state s_t; adds its (T10) readout gradients to grad_V, grad_c in place."""
    B = s.shape[0]
    weight = loss_weight[t]
    if not np.any(weight != 0.0):
        return 0.0, np.zeros_like(s)
    values = target_value[t] if readout == LINEAR else None
    classes = target_class[t] if readout != LINEAR else None
    loss, error, _ = readout_step(V, c, s, weight, values, classes, readout)
    scaled = (weight / B)[:, None] * error  # (1/B) w e
    grad_V += scaled.T @ s
    grad_c += scaled.sum(axis=0)
    return loss / B, scaled @ V


def _record_probe(probe, probe_step, t, gradient, B):
    """||dl_b/ds_t|| = B ||dL/ds_t|| for the sequences whose probe step is t."""
    hit = probe_step == t
    probe[hit] = B * np.linalg.norm(gradient[hit], axis=1)


# ----------------------------------------------------------------------------------------------
# Vanilla RNN (T1)
# ----------------------------------------------------------------------------------------------


def rnn_train_pass(W_x, U, b, V, c, x, loss_weight, target_value, target_class, readout,
                   probe_step, grad_W_x, grad_U, grad_b, grad_V, grad_c, workspace=None):
    """Forward, loss L (T4) and exact BPTT (T8), (T10) for a batch. The gradients are written into
    grad_* (overwritten). workspace: unused here (the numba twin's preallocated arrays).
    Returns (L, probe (B,)) with probe[b] = ||dl_b/dS_k|| at k = probe_step[b]."""
    T, B = x.shape[0] - 1, x.shape[1]
    H = U.shape[0]
    a = np.zeros((T + 1, B, H))
    S = np.zeros((T + 1, B, H))
    for t in range(1, T + 1):
        a[t] = x[t] @ W_x.T + S[t - 1] @ U.T + b
        S[t] = np.tanh(a[t])
    for grad in (grad_W_x, grad_U, grad_b, grad_V, grad_c):
        grad[...] = 0.0
    loss = 0.0
    probe = np.zeros(B)
    grad_S = np.zeros((B, H))  # dL/dS_t, all paths
    for t in range(T, 0, -1):
        loss_t, into_state = _loss_at_step(V, c, S[t], t, loss_weight, target_value, target_class,
                                           readout, grad_V, grad_c)
        loss += loss_t
        grad_S = grad_S + into_state  # (T8): S-bar_t = U^T delta_{t+1} + r_t
        _record_probe(probe, probe_step, t, grad_S, B)
        delta = tanh_prime(a[t]) * grad_S  # dL/da_t
        grad_U += delta.T @ S[t - 1]  # (T10): the contributions of step t, summed over the batch
        grad_W_x += delta.T @ x[t]
        grad_b += delta.sum(axis=0)
        grad_S = delta @ U  # U^T delta_t, one row per sequence
    return loss, probe


def rnn_evaluate(W_x, U, b, V, c, x, loss_weight, target_value, target_class, readout,
                 accuracy_mask):
    """Forward only: returns (L, number of accuracy_mask steps whose argmax is the target class)."""
    T, B = x.shape[0] - 1, x.shape[1]
    S = np.zeros((B, U.shape[0]))
    loss, correct = 0.0, 0
    for t in range(1, T + 1):
        S = np.tanh(x[t] @ W_x.T + S @ U.T + b)
        loss_t, correct_t = _evaluate_step(V, c, S, t, loss_weight, target_value, target_class,
                                           readout, accuracy_mask)
        loss += loss_t
        correct += correct_t
    return loss, correct


def _evaluate_step(V, c, s, t, loss_weight, target_value, target_class, readout, accuracy_mask):
    weight = loss_weight[t]
    if not np.any(weight != 0.0):
        return 0.0, 0
    values = target_value[t] if readout == LINEAR else None
    classes = target_class[t] if readout != LINEAR else None
    loss, _, predicted = readout_step(V, c, s, weight, values, classes, readout)
    correct = 0
    if readout != LINEAR:
        correct = int(np.sum(accuracy_mask[t] & (predicted == classes)))
    return loss / s.shape[0], correct


# ----------------------------------------------------------------------------------------------
# LSTM (T2), no peepholes
# ----------------------------------------------------------------------------------------------


def _lstm_step(W_x, W_h, b, x_t, h_prev, C_prev):
    pre = np.stack([x_t @ W_x[gate].T + h_prev @ W_h[gate].T + b[gate] for gate in (I, F, G, O)])
    i, f, o = sigmoid(pre[I]), sigmoid(pre[F]), sigmoid(pre[O])
    g = np.tanh(pre[G])
    C = f * C_prev + i * g
    return pre, C, o * np.tanh(C)


def lstm_train_pass(W_x, W_h, b, V, c, x, loss_weight, target_value, target_class, readout,
                    probe_step, grad_W_x, grad_W_h, grad_b, grad_V, grad_c, workspace=None):
    """Forward, loss L (T4) and exact BPTT (T9), (T10) for a batch; gradients written into grad_*.
    Returns (L, probe_h (B,), probe_C (B,)): ||dl_b/dh_k|| and ||dl_b/dC_k|| (total derivatives)
    at k = probe_step[b]."""
    T, B = x.shape[0] - 1, x.shape[1]
    H = W_h.shape[1]
    pre = np.zeros((T + 1, 4, B, H))
    h = np.zeros((T + 1, B, H))
    C = np.zeros((T + 1, B, H))
    for t in range(1, T + 1):
        pre[t], C[t], h[t] = _lstm_step(W_x, W_h, b, x[t], h[t - 1], C[t - 1])
    for grad in (grad_W_x, grad_W_h, grad_b, grad_V, grad_c):
        grad[...] = 0.0
    loss = 0.0
    probe_h, probe_C = np.zeros(B), np.zeros(B)
    grad_h = np.zeros((B, H))  # dL/dh_t, all paths
    grad_C = np.zeros((B, H))  # dL/dC_t through C_{t+1} only (the carousel), before adding h_t's path
    for t in range(T, 0, -1):
        loss_t, into_state = _loss_at_step(V, c, h[t], t, loss_weight, target_value, target_class,
                                           readout, grad_V, grad_c)
        loss += loss_t
        grad_h = grad_h + into_state
        i, f, o = sigmoid(pre[t, I]), sigmoid(pre[t, F]), sigmoid(pre[t, O])
        g = np.tanh(pre[t, G])
        grad_C = grad_C + grad_h * o * tanh_prime(C[t])  # (T9) C-tilde_t = dL/dC_t, all paths
        _record_probe(probe_h, probe_step, t, grad_h, B)
        _record_probe(probe_C, probe_step, t, grad_C, B)
        delta = np.empty((4, B, H))
        delta[O] = grad_h * np.tanh(C[t]) * sigmoid_prime(pre[t, O])
        delta[I] = grad_C * g * sigmoid_prime(pre[t, I])
        delta[G] = grad_C * i * tanh_prime(pre[t, G])
        delta[F] = grad_C * C[t - 1] * sigmoid_prime(pre[t, F])
        for gate in (I, F, G, O):  # (T10): the contributions of step t, summed over the batch
            grad_W_h[gate] += delta[gate].T @ h[t - 1]
            grad_W_x[gate] += delta[gate].T @ x[t]
            grad_b[gate] += delta[gate].sum(axis=0)
        grad_h = sum(delta[gate] @ W_h[gate] for gate in (I, F, G, O))  # sum_gate W_h<gate>^T delta
        grad_C = grad_C * f  # through the carousel
    return loss, probe_h, probe_C


def lstm_evaluate(W_x, W_h, b, V, c, x, loss_weight, target_value, target_class, readout,
                  accuracy_mask):
    """Forward only: returns (L, number of accuracy_mask steps whose argmax is the target class)."""
    T, B = x.shape[0] - 1, x.shape[1]
    H = W_h.shape[1]
    h, C = np.zeros((B, H)), np.zeros((B, H))
    loss, correct = 0.0, 0
    for t in range(1, T + 1):
        _, C, h = _lstm_step(W_x, W_h, b, x[t], h, C)
        loss_t, correct_t = _evaluate_step(V, c, h, t, loss_weight, target_value, target_class,
                                           readout, accuracy_mask)
        loss += loss_t
        correct += correct_t
    return loss, correct


# ----------------------------------------------------------------------------------------------
# Optimisers on one flat parameter vector (docs/training-maths.md, "Optimisers and clipping")
# ----------------------------------------------------------------------------------------------


def gradient_norm(grad):
    """||grad||_2."""
    return float(np.sqrt(np.sum(grad * grad)))


def adam_step(theta, grad, m, v, learning_rate, beta1, beta2, eps, step):
    """One Adam update in place (PyTorch's formula); step = 1, 2, ... (bias correction)."""
    m += (1.0 - beta1) * (grad - m)
    v *= beta2
    v += (1.0 - beta2) * grad * grad
    step_size = learning_rate / (1.0 - beta1 ** step)
    root_correction = np.sqrt(1.0 - beta2 ** step)
    theta -= step_size * (m / (np.sqrt(v) / root_correction + eps))


def sgd_step(theta, grad, buffer, learning_rate, momentum):
    """One SGD update in place, PyTorch's momentum convention (buffer = momentum buffer)."""
    buffer *= momentum
    buffer += grad
    theta -= learning_rate * buffer
