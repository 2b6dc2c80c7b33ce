"""How far a forward trajectory can be trusted bit for bit: the reproducibility horizon.

float64 rounds at every step, by about EPSILON relative (2^-53). A perturbation of the state at
step s reaches step t through the forward Jacobians J_t ... J_{s+1} (RNN: (R1) diag(1 - S_t^2) U;
LSTM: the full state Jacobian J_t of (L6)). Where these amplify (a positive finite-time Lyapunov
exponent: chaos), rounding grows until it is visible, and from then on an individual trajectory
depends on the floating-point order of the operations (numba or numpy, another BLAS, another
machine): any two correct codes drift apart. Statistics of the trajectory (its spread, the slope
of a long-range curve) do not depend on it.

Estimate, O(T H^2): one tangent vector is propagated through the J_t and renormalised every step;
its log10 growth g_t at step t (of the order of the top Lyapunov direction once aligned) drives
the model of the accumulated rounding

    r_t = 10^(g_t) r_{t-1} + sqrt(H) EPSILON max|z_t|        (z_t = S_t, or (h_t, C_t); r_0 = 0)

(each state entry comes out of H-term sums, whose roundings add up like a random walk; a state
that is exactly 0, e.g. the zero state under zero input, is computed without rounding). The
horizon is the first t with r_t >= VISIBLE. On the setup of issue 10 (H = 32, T = 1200,
U = -1.39, W_hg = 3.75, impulse 2.57) the measured difference between the numba and the numpy
trajectories stays within a factor 2.3 of r_t at every step before the horizon (RNN: horizon 516,
the trajectories first differ by 1e-6 at t = 552; LSTM: no horizon, differences below 3e-12).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .reference import (
    F, G, I, O, NO_SCALE, scale_add, scale_value, sigmoid, sigmoid_prime, start_vector, tanh_prime,
)

EPSILON = 2.0 ** -53  # float64's unit rounding: the relative error of one operation
# A difference of 1e-6 in a state (the states and gates are O(1)) moves every derivative curve far
# beyond the kernels' 1e-12 agreement and shows as a visible change after a few more decades.
VISIBLE = 1e-6
NETWORKS = {"rnn": "RNN", "lstm": "LSTM"}


@dataclass(frozen=True)
class Sensitivity:
    """How one network's forward trajectory amplifies float64 rounding."""

    horizon: int | None  # first step t with rounding grown to VISIBLE; None if never within T
    growth_log10_per_step: float  # mean log10 growth of a perturbation per step, up to the horizon (or T)
    rounding: np.ndarray  # (T+1,) the modelled size r_t of the accumulated rounding at step t


CANCEL_EVERY = 32  # steps between two looks at the cancel flag (~0.1 s at H = 512)


def _sensitivity(steps: int, step_tangent, state_size: np.ndarray, n: int, terms: int,
                 cancelled=None) -> Sensitivity:
    """Propagate a tangent vector of length n with step_tangent(t, v) -> J_t v for t = 1..steps (see
    the module docstring); state_size[t] = max|z_t|; terms: the length of the sums behind a state.
    cancelled() (if given) is asked every CANCEL_EVERY steps: True raises stream.Cancelled."""
    per_step = np.sqrt(terms) * EPSILON
    rounding = np.zeros(steps + 1)
    growth_total = NO_SCALE  # compensated sum of the per-step log10 growths
    tangent = start_vector(n)
    horizon = None
    r = 0.0
    for t in range(1, steps + 1):
        if cancelled is not None and t % CANCEL_EVERY == 0 and cancelled():
            from .stream import Cancelled  # (stream imports results, which imports this module)

            raise Cancelled()
        tangent = step_tangent(t, tangent)
        size = np.linalg.norm(tangent)
        if size > 0.0:
            growth = np.log10(size)
            tangent /= size
            amplified = r * 10.0 ** min(growth, 300.0)
        else:  # J_t v = 0: the perturbation is gone; start again from a fresh direction
            growth = 0.0
            tangent = start_vector(n)
            amplified = 0.0
        growth_total = scale_add(growth_total, growth)
        # a difference cannot outgrow the states themselves (this also keeps r finite)
        r = min(amplified + per_step * state_size[t], 2.0 * state_size[t])
        rounding[t] = r
        if horizon is None and r >= VISIBLE:
            horizon = t
            rate = scale_value(growth_total) / t
    if horizon is None:
        rate = scale_value(growth_total) / steps if steps else 0.0
    rounding.setflags(write=False)
    return Sensitivity(horizon=horizon, growth_log10_per_step=float(rate), rounding=rounding)


def rnn_sensitivity(U: np.ndarray, a: np.ndarray, S: np.ndarray, cancelled=None) -> Sensitivity:
    """Rounding along the RNN's forward trajectory: tangents through (R1) diag(tanh'(a_t)) U."""
    d = tanh_prime(a)

    def step(t, v):
        return d[t] * (U @ v)  # (R1)

    return _sensitivity(a.shape[0] - 1, step, np.abs(S).max(axis=1), U.shape[0], U.shape[0], cancelled)


def lstm_sensitivity(W_h: np.ndarray, pre: np.ndarray, C: np.ndarray, h: np.ndarray, cancelled=None) -> Sensitivity:
    """Rounding along the LSTM's forward trajectory: tangents (dh, dC) through J_t (L6)."""
    H = C.shape[1]
    i, f, o = sigmoid(pre[:, I]), sigmoid(pre[:, F]), sigmoid(pre[:, O])
    g = np.tanh(pre[:, G])
    C_prev = np.vstack([np.zeros((1, H)), C[:-1]])
    # A_t v_h = via_f (W_hf v_h) + via_i (W_hi v_h) + via_g (W_hg v_h)   (L6)
    via_f, via_i, via_g = C_prev * sigmoid_prime(pre[:, F]), g * sigmoid_prime(pre[:, I]), i * tanh_prime(pre[:, G])
    alpha = np.tanh(C) * sigmoid_prime(pre[:, O])  # dh_t/do-path: tanh(C_t) sigma'(o_t) W_ho
    beta = o * tanh_prime(C)  # dh_t/dC_t with o_t fixed
    stacked = np.ascontiguousarray(W_h.reshape(4 * H, H))  # one matrix-vector product per step

    def step(t, v):
        v_h, v_C = v[:H], v[H:]
        w = (stacked @ v_h).reshape(4, H)
        dC = via_f[t] * w[F] + via_i[t] * w[I] + via_g[t] * w[G] + f[t] * v_C  # C-rows of J_t
        dh = alpha[t] * w[O] + beta[t] * dC  # h-rows: diag(alpha) W_ho + diag(beta) [A_t | diag(f)]
        return np.concatenate([dh, dC])

    state_size = np.maximum(np.abs(h).max(axis=1), np.abs(C).max(axis=1))
    return _sensitivity(C.shape[0] - 1, step, state_size, 2 * H, H, cancelled)


def chaos_note(results, cancelled=None) -> str | None:
    """One line for the status bar when a network's trajectory is not reproducible across
    floating-point orders within T, else None. E.g. "RNN is chaotic here: beyond t ≈ 549
    individual trajectories depend on the floating-point order of operations (rounding grows
    ×10^0.016 per step); statistics do not"."""
    chaotic = [(label, results.sensitivity(key, cancelled)) for key, label in NETWORKS.items()
               if results.sensitivity(key, cancelled).horizon is not None]
    if not chaotic:
        return None
    if len(chaotic) == 1:
        label, sens = chaotic[0]
        return (f"{label} is chaotic here: beyond t ≈ {sens.horizon} individual trajectories depend on "
                f"the floating-point order of operations (rounding grows ×10^{sens.growth_log10_per_step:.2g} "
                "per step); statistics do not")
    beyond = " and ".join(f"t ≈ {sens.horizon} ({label})" for label, sens in chaotic)
    rates = " and ".join(f"×10^{sens.growth_log10_per_step:.2g}" for _, sens in chaotic)
    return (f"RNN and LSTM are chaotic here: beyond {beyond} individual trajectories depend on the "
            f"floating-point order of operations (rounding grows {rates} per step); statistics do not")
