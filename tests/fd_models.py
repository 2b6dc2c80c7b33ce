"""Independent plain-numpy forward models for the finite-difference tests.

Written from MATH.md's forward equations only (no derivative code), with every recurrent
weight untied per step (`U_steps[t-1]` is the copy used at step t), so the tests can perturb
one step's copy or all of them.

Complex-safe: tanh and the sigmoid are analytic and the losses use err @ err (no conjugate), so
a complex step f(x + i h e_j) gives Im(...) / h = df/dx_j to full relative precision (no
difference of nearby numbers): `cs_jacobian`, `cs_gradient_matrix`. They judge the values that
central differences (~1e-10 absolute error) cannot, e.g. a long-range derivative of 1e-12.
"""

from __future__ import annotations

import numpy as np

COMPLEX_STEP = 1e-30


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _array(value):
    """value as a float array, or a complex one if it is complex (a complex step)."""
    return np.array(value, dtype=np.result_type(value, np.float64))


def rnn_states(W_x, U_steps, b, x, S_start, t_start=0):
    """S_t for t = t_start..T given S_{t_start}; U_steps[t-1] is used at step t."""
    T = x.shape[0] - 1
    S = [_array(S_start)]
    for t in range(t_start + 1, T + 1):
        S.append(np.tanh(W_x @ x[t] + U_steps[t - 1] @ S[-1] + b))
    return S


def rnn_loss(W_x, U_steps, b, V, c, target, x, S0):
    S_T = rnn_states(W_x, U_steps, b, x, S0)[-1]
    err = target - (V @ S_T + c)
    return 0.5 * (err @ err)


def lstm_cell_gate_inputs(W_x, W_h_step, b, x_t, h_per_gate, C_prev):
    """One LSTM step where gate i, f, g, o sees h_per_gate[gate] as h_{t-1} (the same vector
    for all four in the network itself; separate copies single out one gate's path). Returns
    (h, C, o)."""
    pre = [W_x[gate] @ x_t + W_h_step[gate] @ h_per_gate[gate] + b[gate] for gate in range(4)]
    i, f, g, o = sigmoid(pre[0]), sigmoid(pre[1]), np.tanh(pre[2]), sigmoid(pre[3])
    C = f * C_prev + i * g
    return o * np.tanh(C), C, o


def lstm_cell(W_x, W_h_step, b, x_t, h_prev, C_prev):
    """One LSTM step; W_h_step is (4, H, H) in gate order i, f, g, o. Returns (h, C, o)."""
    return lstm_cell_gate_inputs(W_x, W_h_step, b, x_t, [h_prev] * 4, C_prev)


def lstm_states(W_x, W_h_steps, b, x, h_start, C_start, t_start=0):
    """(h_t, C_t, o_t) for t = t_start..T; W_h_steps[t-1] (4, H, H) is used at step t. o at
    t_start is None (not computed here)."""
    T = x.shape[0] - 1
    h, C, o = [_array(h_start)], [_array(C_start)], [None]
    for t in range(t_start + 1, T + 1):
        h_t, C_t, o_t = lstm_cell(W_x, W_h_steps[t - 1], b, x[t], h[-1], C[-1])
        h.append(h_t)
        C.append(C_t)
        o.append(o_t)
    return h, C, o


def lstm_loss(W_x, W_h_steps, b, V, c, target, x, h0, C0):
    h, _, _ = lstm_states(W_x, W_h_steps, b, x, h0, C0)
    err = target - (V @ h[-1] + c)
    return 0.5 * (err @ err)


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
        grad[index] = np.real(loss_of_matrix(matrix + step) - loss_of_matrix(matrix - step)) / (2 * eps)
    return grad


def cs_jacobian(func, point, h=COMPLEX_STEP):
    """Complex step: d func / d point = Im func(point + i h e_j) / h, exact to rounding."""
    point = np.asarray(point, dtype=float)
    columns = []
    for j in range(point.size):
        shifted = point.astype(complex)
        shifted.flat[j] += 1j * h
        columns.append(np.imag(np.asarray(func(shifted))) / h)
    return np.stack(columns, axis=-1)


def cs_gradient_matrix(loss_of_matrix, matrix, h=COMPLEX_STEP):
    """d loss / d matrix by complex steps, same shape as matrix."""
    grad = np.zeros_like(matrix, dtype=float)
    for index in np.ndindex(matrix.shape):
        shifted = matrix.astype(complex)
        shifted[index] += 1j * h
        grad[index] = np.imag(loss_of_matrix(shifted)) / h
    return grad


def lstm_gate_values(W_x, W_h_step, b, x_t, h_prev):
    """(i, f, g, o) of one LSTM step."""
    pre = [W_x[gate] @ x_t + W_h_step[gate] @ h_prev + b[gate] for gate in range(4)]
    return sigmoid(pre[0]), sigmoid(pre[1]), np.tanh(pre[2]), sigmoid(pre[3])
