"""Independent plain-numpy forward models for the finite-difference tests.

Written from MATH.md's forward equations only (no derivative code), with every recurrent
weight untied per step (`U_steps[t-1]` is the copy used at step t), so the tests can perturb
one step's copy or all of them.
"""

from __future__ import annotations

import numpy as np


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def rnn_states(W_x, U_steps, b, x, S_start, t_start=0):
    """S_t for t = t_start..T given S_{t_start}; U_steps[t-1] is used at step t."""
    T = x.shape[0] - 1
    S = [np.array(S_start, dtype=float)]
    for t in range(t_start + 1, T + 1):
        S.append(np.tanh(W_x @ x[t] + U_steps[t - 1] @ S[-1] + b))
    return S


def rnn_loss(W_x, U_steps, b, V, c, target, x, S0):
    S_T = rnn_states(W_x, U_steps, b, x, S0)[-1]
    err = target - (V @ S_T + c)
    return 0.5 * float(err @ err)


def lstm_cell(W_x, W_h_step, b, x_t, h_prev, C_prev):
    """One LSTM step; W_h_step is (4, H, H) in gate order i, f, g, o. Returns (h, C, o)."""
    pre = [W_x[gate] @ x_t + W_h_step[gate] @ h_prev + b[gate] for gate in range(4)]
    i, f, g, o = sigmoid(pre[0]), sigmoid(pre[1]), np.tanh(pre[2]), sigmoid(pre[3])
    C = f * C_prev + i * g
    return o * np.tanh(C), C, o


def lstm_states(W_x, W_h_steps, b, x, h_start, C_start, t_start=0):
    """(h_t, C_t) for t = t_start..T; W_h_steps[t-1] (4, H, H) is used at step t."""
    T = x.shape[0] - 1
    h, C = [np.array(h_start, dtype=float)], [np.array(C_start, dtype=float)]
    for t in range(t_start + 1, T + 1):
        h_t, C_t, _ = lstm_cell(W_x, W_h_steps[t - 1], b, x[t], h[-1], C[-1])
        h.append(h_t)
        C.append(C_t)
    return h, C


def lstm_loss(W_x, W_h_steps, b, V, c, target, x, h0, C0):
    h, _ = lstm_states(W_x, W_h_steps, b, x, h0, C0)
    err = target - (V @ h[-1] + c)
    return 0.5 * float(err @ err)


def fd_jacobian(func, point, eps=1e-6):
    """Central differences: d func / d point, func: R^n -> R^m (arrays)."""
    point = np.asarray(point, dtype=float)
    columns = []
    for j in range(point.size):
        step = np.zeros_like(point)
        step.flat[j] = eps
        columns.append((np.asarray(func(point + step)) - np.asarray(func(point - step))) / (2 * eps))
    return np.stack(columns, axis=-1)


def fd_gradient_matrix(loss_of_matrix, matrix, eps=1e-6):
    """d loss / d matrix by central differences, same shape as matrix."""
    grad = np.zeros_like(matrix)
    for index in np.ndindex(matrix.shape):
        step = np.zeros_like(matrix)
        step[index] = eps
        grad[index] = (loss_of_matrix(matrix + step) - loss_of_matrix(matrix - step)) / (2 * eps)
    return grad
