"""High-precision scalar (H = 1) models for judging the extremes, where float64 cannot.

Written from MATH.md's forward equations only. The forward pass is recomputed in mpmath from the
setup's float64 weights and inputs (converted exactly); derivatives are forward-mode tangents
through the primitives (sigma' = sigma(a) sigma(-a), tanh' = sech^2, never 1 - tanh^2, which
is 0 at default precision already near |a| ~ 19 in float64 and loses every digit in mpmath's
fixed precision once tanh ~ 1). mpmath's exponent range is unbounded: 10^-700 is an ordinary number.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath

from simulator.weights import initial_states, input_sequence, lstm_params, rnn_params

DPS = 40
I, F, G, O = 0, 1, 2, 3


def _mp(value) -> mpmath.mpf:
    return mpmath.mpf(float(value))


def sigmoid(a):
    return 1 / (1 + mpmath.exp(-a))


def sigmoid_prime(a):
    return sigmoid(a) * sigmoid(-a)


def tanh_prime(a):
    return mpmath.sech(a) ** 2


@dataclass
class ScalarRNN:
    W_x: mpmath.mpf
    U: mpmath.mpf
    V: mpmath.mpf
    target: mpmath.mpf
    x: list
    a: list  # a[t], t = 1..T (a[0] unused)
    S: list

    @classmethod
    def from_setup(cls, setup):
        assert setup.hidden_size == 1 and setup.input_size == 1
        with mpmath.workdps(DPS):
            p = rnn_params(setup)
            x = [_mp(v) for v in input_sequence(setup)[:, 0]]
            W_x, U, b = _mp(p.W_x[0, 0]), _mp(p.U[0, 0]), _mp(p.b[0])
            S, a = [_mp(initial_states(setup)[0][0])], [mpmath.mpf(0)]
            for t in range(1, setup.steps + 1):
                a.append(W_x * x[t] + U * S[-1] + b)
                S.append(mpmath.tanh(a[-1]))
            return cls(W_x, U, _mp(p.V[0, 0]), _mp(setup.target), x, a, S)

    @property
    def T(self) -> int:
        return len(self.S) - 1

    def _tangent_to_T(self, k: int, dS: mpmath.mpf, da_k: mpmath.mpf | None = None) -> mpmath.mpf:
        """dS_T for a tangent dS of S_k (or, with da_k, a tangent of a_k's weight copy at step k)."""
        with mpmath.workdps(DPS):
            start = k
            if da_k is not None:
                dS = tanh_prime(self.a[k]) * da_k
            for t in range(start + 1, self.T + 1):
                dS = tanh_prime(self.a[t]) * (self.U * dS)
            return dS

    def long_range(self, k: int) -> mpmath.mpf:
        """(R2) dS_T/dS_k."""
        return self._tangent_to_T(k, mpmath.mpf(1))

    def bptt(self, k: int) -> mpmath.mpf:
        """dL_T/dU^(k), L = 1/2 (Y* - V S_T)^2."""
        with mpmath.workdps(DPS):
            dS_T = self._tangent_to_T(k, mpmath.mpf(0), da_k=self.S[k - 1])
            return (self.V * self.S[-1] - self.target) * self.V * dS_T


@dataclass
class ScalarLSTM:
    W_x: list  # per gate i, f, g, o
    W_h: list
    b: list
    V: mpmath.mpf
    target: mpmath.mpf
    x: list
    pre: list  # pre[t] = [i, f, g, o] pre-activations, t = 1..T
    C: list
    h: list

    @classmethod
    def from_setup(cls, setup):
        assert setup.hidden_size == 1 and setup.input_size == 1
        with mpmath.workdps(DPS):
            p = lstm_params(setup)
            W_x = [_mp(p.W_x[g, 0, 0]) for g in range(4)]
            W_h = [_mp(p.W_h[g, 0, 0]) for g in range(4)]
            b = [_mp(p.b[g, 0]) for g in range(4)]
            x = [_mp(v) for v in input_sequence(setup)[:, 0]]
            _, h0, C0 = initial_states(setup)
            h, C, pre = [_mp(h0[0])], [_mp(C0[0])], [None]
            for t in range(1, setup.steps + 1):
                pre.append([W_x[g] * x[t] + W_h[g] * h[-1] + b[g] for g in range(4)])
                i, f, g, o = (sigmoid(pre[t][I]), sigmoid(pre[t][F]), mpmath.tanh(pre[t][G]),
                              sigmoid(pre[t][O]))
                C.append(f * C[-1] + i * g)
                h.append(o * mpmath.tanh(C[-1]))
            return cls(W_x, W_h, b, _mp(p.V[0, 0]), _mp(setup.target), x, pre, C, h)

    @property
    def T(self) -> int:
        return len(self.C) - 1

    def _step_tangent(self, t: int, dh: mpmath.mpf, dC: mpmath.mpf, dpre_extra=(0, 0, 0, 0)):
        """Tangents (dh_t, dC_t) from (dh_{t-1}, dC_{t-1}) through step t's primitives."""
        pre = self.pre[t]
        dpre = [self.W_h[g] * dh + dpre_extra[g] for g in range(4)]
        i, f, g, o = sigmoid(pre[I]), sigmoid(pre[F]), mpmath.tanh(pre[G]), sigmoid(pre[O])
        di, df = sigmoid_prime(pre[I]) * dpre[I], sigmoid_prime(pre[F]) * dpre[F]
        dg, do = tanh_prime(pre[G]) * dpre[G], sigmoid_prime(pre[O]) * dpre[O]
        dC_t = df * self.C[t - 1] + f * dC + di * g + i * dg
        dh_t = do * mpmath.tanh(self.C[t]) + o * tanh_prime(self.C[t]) * dC_t
        return dh_t, dC_t

    def _dh_dC(self, k: int):
        """dh_k/dC_k with o_k held fixed (MATH.md's convention); 0 at k = 0 (h_0 is given)."""
        return mpmath.mpf(0) if k == 0 else sigmoid(self.pre[k][O]) * tanh_prime(self.C[k])

    def long_range(self, k: int) -> mpmath.mpf:
        """(L7) dC_T/dC_k, h_k = o_k tanh(C_k) with o_k fixed."""
        with mpmath.workdps(DPS):
            dh, dC = self._dh_dC(k), mpmath.mpf(1)
            for t in range(k + 1, self.T + 1):
                dh, dC = self._step_tangent(t, dh, dC)
            return dC

    def step_factor(self, t: int) -> mpmath.mpf:
        """(L4) dC_t/dC_{t-1} with h_{t-1} = o_{t-1} tanh(C_{t-1}), o_{t-1} fixed."""
        with mpmath.workdps(DPS):
            return self._step_tangent(t, self._dh_dC(t - 1), mpmath.mpf(1))[1]

    def naive_long_range(self, k: int) -> mpmath.mpf:
        with mpmath.workdps(DPS):
            product = mpmath.mpf(1)
            for t in range(k + 1, self.T + 1):
                product *= self.step_factor(t)
            return product

    def bptt(self, gate: int, k: int) -> mpmath.mpf:
        """dL_T/dW_h<gate>^(k), L = 1/2 (Y* - V h_T)^2: the copy of the weight used at step k."""
        with mpmath.workdps(DPS):
            extra = [mpmath.mpf(0)] * 4
            extra[gate] = self.h[k - 1]
            dh, dC = self._step_tangent(k, mpmath.mpf(0), mpmath.mpf(0), extra)
            for t in range(k + 1, self.T + 1):
                dh, dC = self._step_tangent(t, dh, dC)
            return (self.V * self.h[-1] - self.target) * self.V * dh


def log10_abs(value: mpmath.mpf) -> float:
    with mpmath.workdps(DPS):
        return float(mpmath.log10(abs(value)))
