"""One full recompute of a setup: every number the app draws, for the loss at step T.

`compute(setup, backend)` runs the forward passes, the per-step factors (R1, L4 with its four
terms), the long-range log-norms (R2, L7 and the naive L4 chain), the BPTT backward passes, the
norms of the loss gradient reaching each step and the lower bounds of the long-range norms, with
either the numba kernels or the numpy reference (same functions, same arrays). It is
`stream.ComputeJob(setup, backend, previous).run()`: the same computation run chunk by chunk,
cancellable and progressive (partial `Results` with final=False, NaN where not computed yet).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import chaos, reference
from .chaos import Sensitivity
from .reference import LOG10_OF_ZERO, TERM_NAMES
from .setup import Setup
from .spectral import orthogonal_gain
from .weights import GATES

BACKENDS = ("numba", "reference")
LSTM_RECURRENT = ("W_hi", "W_hf", "W_hg", "W_ho")  # same order as GATES


def default_backend() -> str:
    """The numba kernels when they are installed, else the numpy reference (same results)."""
    return "numba" if importlib.util.find_spec("simulator.kernels") is not None else "reference"


def _backend_module(backend: str):
    if backend == "reference":
        return reference
    if backend == "numba":
        from . import kernels

        return kernels
    raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def _log10_or_floor(value: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        out = np.log10(value)
    return np.where(value > 0.0, out, LOG10_OF_ZERO)


def _unit_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows / largest |entry| of each row, log10 of that largest; 0 for a zero row), so that norms
    and products of mantissas never square or multiply tiny numbers (a row of 1e-170 squares to 0)."""
    largest = np.abs(rows).max(axis=1, initial=0.0)
    divisor = np.where(largest > 0.0, largest, 1.0)
    return rows / divisor[:, None], np.log10(divisor)


@dataclass
class Results:
    """Arrays are indexed by time step t (row 0 is t = 0). Long-range arrays are indexed by k,
    the step the gradient reaches, for the loss at step T: lag = T - k."""

    setup: Setup
    x: np.ndarray  # (T+1, D) inputs
    # vanilla RNN
    rnn_U: np.ndarray  # (H, H)
    rnn_a: np.ndarray  # (T+1, H) pre-activations
    rnn_S: np.ndarray  # (T+1, H) states
    rnn_factor_norm: np.ndarray  # (T+1,) ||dS_t/dS_{t-1}|| (R1)
    rnn_factor_diag_mean: np.ndarray  # (T+1,) mean of its diagonal (the signed value when H = 1)
    rnn_longrange_log10: np.ndarray  # (T+1,) log10 ||dS_T/dS_k|| (R2)
    rnn_delta: np.ndarray  # (T+1, H) dL/da_k = rnn_delta[k] * 10**rnn_delta_log10_scale[k]
    rnn_delta_log10_scale: np.ndarray
    rnn_lossgrad_log10: np.ndarray  # (T+1,) log10 ||dL_T/dS_k||: the gradient that actually reaches S_k
    rnn_longrange_lower_log10: np.ndarray  # (T+1,) log10 ||v^T dS_T/dS_k|| / ||v|| <= rnn_longrange_log10,
    #   v = dL_T/dS_T (all ones if 0): a lower bound of (R2), exact when H = 1, O(T H^2)
    # LSTM
    lstm_W_h: np.ndarray  # (4, H, H) W_hi, W_hf, W_hg, W_ho
    lstm_pre: np.ndarray  # (T+1, 4, H) gate pre-activations
    lstm_gates: np.ndarray  # (T+1, 4, H) i, f, g, o
    lstm_h: np.ndarray  # (T+1, H)
    lstm_C: np.ndarray  # (T+1, H)
    lstm_factor_norm: np.ndarray  # (T+1,) ||dC_t/dC_{t-1}||, the norm of the (L4) sum
    lstm_term_diag_mean: np.ndarray  # (T+1, 5) diagonal means (signed values when H = 1)
    lstm_longrange_log10: np.ndarray  # (T+1,) log10 ||dC_T/dC_k|| exact (L7)
    lstm_naive_longrange_log10: np.ndarray  # (T+1,) log10 ||prod of (L4) factors||
    lstm_delta: np.ndarray  # (T+1, 4, H) dL/d(gate pre-activation) mantissas, one scale per step and gate:
    lstm_delta_log10_scale: np.ndarray  # (T+1, 4)  dL/d pre[k, gate] = lstm_delta[k, gate] * 10**this[k, gate]
    lstm_lossgrad_log10: np.ndarray  # (T+1,) log10 ||dL_T/dC_k||, the total derivative (h_k = o_k tanh(C_k))
    lstm_longrange_lower_log10: np.ndarray  # (T+1,) log10 ||v^T dC_T/dC_k|| / ||v|| <= lstm_longrange_log10,
    #   v = dL_T/dC_T (all ones if 0): a lower bound of (L7), exact when H = 1, O(T H^2)
    #   (both lower bounds: NaN from a progressive run that ended before its first partial results;
    #   they are drawn only in partial results, see simulator/stream.py)
    bases: dict = field(repr=False, default_factory=dict)
    backend: str = "reference"  # which kernels computed the arrays
    final: bool = True  # False while progressive results still miss exact numbers (NaN entries)
    progress: float = 1.0  # the fraction of the costly exact arrays computed (1.0 when final)

    # --- sizes and theory -----------------------------------------------------------------
    @property
    def steps(self) -> int:
        return self.setup.steps

    @cached_property
    def sigma_max_U(self) -> float:
        """||U||_2, computed once: s itself when U = s Q with Q orthogonal (every knob-built U, H = 1
        included), which `orthogonal_gain` tests at a Gram matrix's cost (its row-sum test bounds
        ||Q^T Q - I||; measured against the SVD: within 1e-15 relative for H = 2..512); else an SVD.
        The worker works it out before handing results over: at H = 512 the SVD took 47 ms of each
        U change's latency, the Gram matrix 13 ms."""
        gain = orthogonal_gain(self.rnn_U)
        return gain if gain >= 0.0 else float(np.linalg.norm(self.rnn_U, 2))

    def forget_bias(self) -> float:
        """The b_f of the theory line sigma(b_f)^lag: the knob, plus the largest per-unit offset if any."""
        offsets = self.setup.bias_offsets.b_f
        return self.setup.knobs.b_f + (max(offsets) if offsets else 0.0)

    def theory_log10(self, lags: np.ndarray) -> dict[str, np.ndarray]:
        """Theory lines vs lag: log10 sigma_max(U)^lag (the bound on R2) under "sigma_max_U" and
        log10 sigma(b_f)^lag (a forget path alone) under "sigma_b_f"."""
        lags = np.asarray(lags, dtype=np.float64)
        log10_sigma_bf = -np.logaddexp(0.0, -self.forget_bias()) / np.log(10.0)  # no overflow
        sigma = self.sigma_max_U
        if sigma > 0.0:
            bound = lags * np.log10(sigma)
        else:  # 0^lag: 1 at lag 0, exactly zero after
            bound = np.where(lags == 0, 0.0, LOG10_OF_ZERO)
        return {"sigma_max_U": bound, "sigma_b_f": lags * log10_sigma_bf}

    def lags(self) -> np.ndarray:
        """Lag T - k for each entry of the long-range arrays."""
        return self.steps - np.arange(self.steps + 1)

    # --- per-step factors on demand (H x H matrices) -------------------------------------
    def rnn_factor_matrix(self, t: int) -> np.ndarray:
        return reference.rnn_factor(self.rnn_U, self.rnn_a, t)

    def lstm_factor_terms(self, t: int) -> dict[str, np.ndarray]:
        """(L4) at step t: the four terms and their sum, as H x H matrices, keyed by TERM_NAMES."""
        terms = reference.lstm_factor_terms(self.lstm_W_h, self.lstm_pre, self.lstm_C, t)
        return dict(zip(TERM_NAMES, (*terms, sum(terms))))

    def lstm_term_norms(self, t: int) -> np.ndarray:
        """Spectral norms of the four (L4) terms and their sum at step t (TERM_NAMES order), (5,).
        On demand: the app shows them for the selected step only (4 SVDs; cached per step)."""
        if not 1 <= t <= self.steps:
            return np.zeros(5)
        cache = self.__dict__.setdefault("_term_norms", {})
        if t not in cache:
            if self.setup.hidden_size == 1:  # 1 x 1: the norm is |value|
                cache[t] = np.abs(self.lstm_term_diag_mean[t])
            else:
                kern = _backend_module(self.backend)  # numba: one call without the GIL
                cache[t] = np.asarray(kern.lstm_term_norms(self.lstm_W_h, self.lstm_pre, self.lstm_C, t))
            cache[t].setflags(write=False)
        return cache[t]

    def term_norms_if_ready(self, t: int) -> np.ndarray | None:
        """`lstm_term_norms(t)` if it is already known (never computes: for the UI thread)."""
        if self.setup.hidden_size == 1 or not 1 <= t <= self.steps:
            return self.lstm_term_norms(t)
        return self.__dict__.get("_term_norms", {}).get(t)

    @cached_property
    def lstm_term_norm(self) -> np.ndarray:
        """(T+1, 5) every step's `lstm_term_norms` (row 0 zero), for tables and exports. Costly for
        large H and T (4 SVDs per step): computed on first use."""
        out = np.zeros((self.steps + 1, 5))
        for t in range(1, self.steps + 1):
            out[t] = self.lstm_term_norms(t)
        out.setflags(write=False)
        return out

    def lstm_term_values(self, t: int) -> dict[str, float]:
        """The signed per-term summary at step t (exact values when H = 1; diagonal means otherwise)."""
        return dict(zip(TERM_NAMES, (float(v) for v in self.lstm_term_diag_mean[t])))

    # --- trust in individual trajectories (simulator/chaos.py) ----------------------------
    def sensitivity(self, network: str, cancelled=None) -> Sensitivity:
        """How the forward trajectory of network ("rnn" or "lstm") amplifies float64 rounding:
        horizon, growth rate per step, modelled rounding per step. O(T H^2), computed on first use
        (cancelled(), if given, is asked along the way: see chaos._sensitivity)."""
        cache = self.__dict__.setdefault("_sensitivity", {})
        if network not in cache:
            if network == "rnn":
                cache[network] = chaos.rnn_sensitivity(self.rnn_U, self.rnn_a, self.rnn_S, cancelled)
            elif network == "lstm":
                cache[network] = chaos.lstm_sensitivity(self.lstm_W_h, self.lstm_pre, self.lstm_C, self.lstm_h,
                                                        cancelled)
            else:
                raise ValueError(f"network must be 'rnn' or 'lstm', got {network!r}")
        return cache[network]

    def reproducibility_horizon(self, network: str) -> int | None:
        """The first step t beyond which network's individual trajectory depends on the
        floating-point order of operations (rounding grown to 1e-6), or None within T."""
        return self.sensitivity(network).horizon

    # --- BPTT contributions per step k ---------------------------------------------------
    def _delta_and_prev_state(self, weight: str):
        """(delta mantissas (T+1, H), their log10 scales (T+1,), states (T+1, H)) for weight."""
        if weight == "U":
            return self.rnn_delta, self.rnn_delta_log10_scale, self.rnn_S
        gate = LSTM_RECURRENT.index(weight)
        return self.lstm_delta[:, gate], self.lstm_delta_log10_scale[:, gate], self.lstm_h

    def bptt_log10(self, weight: str) -> np.ndarray:
        """log10 ||dL_T/dW^(k)|| (Frobenius) for k = 0..T, W one of U, W_hi, W_hf, W_hg, W_ho.
        Entry 0 (no step 0) and exactly-zero contributions are LOG10_OF_ZERO."""
        delta, scale, state = self._delta_and_prev_state(weight)
        # ||delta_k state_{k-1}^T||_F = ||delta_k|| ||state_{k-1}||, each row scaled before squaring
        delta_unit, delta_log10 = _unit_rows(delta[1:])
        state_unit, state_log10 = _unit_rows(state[:-1])
        delta_norm = np.sqrt(np.einsum("ki,ki->k", delta_unit, delta_unit))
        state_norm = np.sqrt(np.einsum("ki,ki->k", state_unit, state_unit))
        nonzero = (delta_norm > 0) & (state_norm > 0)
        with np.errstate(divide="ignore"):
            logs = np.log10(delta_norm) + delta_log10 + np.log10(state_norm) + state_log10 + scale[1:]
        out = np.full(self.steps + 1, LOG10_OF_ZERO)
        out[1:] = np.where(nonzero, logs, LOG10_OF_ZERO)
        return out

    def bptt_knob_contribution(self, weight: str) -> tuple[np.ndarray, np.ndarray]:
        """d L_T / d knob^(k) = <dL/dW^(k), base> for k = 0..T, as (sign, log10 |value|).
        For H = 1 this is the signed contribution to the weight itself."""
        delta, scale, state = self._delta_and_prev_state(weight)
        delta_unit, delta_log10 = _unit_rows(delta[1:])  # rows scaled first: no underflow
        state_unit, state_log10 = _unit_rows(state[:-1])
        mantissa = np.zeros(self.steps + 1)
        mantissa[1:] = np.einsum("ki,ij,kj->k", delta_unit, self.bases[weight], state_unit)
        log10_abs = _log10_or_floor(np.abs(mantissa))
        log10_abs[1:] += delta_log10 + state_log10 + scale[1:]
        log10_abs = np.where(mantissa != 0.0, log10_abs, LOG10_OF_ZERO)
        return np.sign(mantissa), log10_abs

    def bptt_contribution_matrix(self, weight: str, k: int) -> np.ndarray:
        """dL_T/dW^(k) as an H x H matrix (in float64: may overflow for extreme setups)."""
        delta, scale, state = self._delta_and_prev_state(weight)
        return np.outer(delta[k], state[k - 1]) * 10.0 ** scale[k]


# What each network's arrays depend on. A knob change that touches only one network (U for the
# RNN; W_h*, b_* for the LSTM) leaves the other's arrays valid, so `compute(..., previous=...)`
# reuses them instead of recomputing (tests/test_partial_recompute.py checks every field).
_RNN_WEIGHTS = ("U", "W_x", "V")
_LSTM_WEIGHTS = ("W_hi", "W_hf", "W_hg", "W_ho", "W_xi", "W_xf", "W_xg", "W_xo", "V")


def _shared_inputs(setup: Setup) -> tuple:
    return (setup.hidden_size, setup.input_size, setup.steps, setup.seed, setup.input,
            setup.target, setup.knobs.input_gain)


def _explicit_weights(setup: Setup, names: tuple[str, ...]) -> dict:
    return {name: rows for name, rows in (setup.weights or {}).items() if name in names}


def rnn_inputs(setup: Setup) -> tuple:
    """Everything the RNN's arrays depend on (compared with ==)."""
    explicit = setup.explicit
    return (_shared_inputs(setup), setup.knobs.U, setup.initial.S0, _explicit_weights(setup, _RNN_WEIGHTS),
            explicit.rnn_b, explicit.rnn_c)


def lstm_inputs(setup: Setup) -> tuple:
    """Everything the LSTM's arrays depend on (compared with ==)."""
    k = setup.knobs
    return (_shared_inputs(setup), (k.W_hi, k.W_hf, k.W_hg, k.W_ho, k.b_i, k.b_f, k.b_g, k.b_o),
            setup.bias_offsets, setup.initial.h0, setup.initial.C0,
            _explicit_weights(setup, _LSTM_WEIGHTS), setup.explicit.lstm_V, setup.explicit.lstm_c)


_RNN_FIELDS = ("x", "rnn_U", "rnn_a", "rnn_S", "rnn_factor_norm", "rnn_factor_diag_mean",
               "rnn_longrange_log10", "rnn_delta", "rnn_delta_log10_scale", "rnn_lossgrad_log10",
               "rnn_longrange_lower_log10")
_LSTM_FIELDS = ("lstm_W_h", "lstm_pre", "lstm_gates", "lstm_h", "lstm_C", "lstm_factor_norm",
                "lstm_term_diag_mean", "lstm_longrange_log10", "lstm_naive_longrange_log10",
                "lstm_delta", "lstm_delta_log10_scale", "lstm_lossgrad_log10", "lstm_longrange_lower_log10")


def compute(setup: Setup, backend: str = "numba", previous: Results | None = None) -> Results:
    """Every array for `setup`, final. With `previous` (results of an earlier setup, same backend),
    the arrays of a network whose inputs did not change are taken over from it instead of
    recomputed: turning U recomputes only the RNN, turning a gate knob only the LSTM (identical
    values). The same as `stream.ComputeJob(setup, backend, previous).run()`, bit for bit."""
    from .stream import ComputeJob

    return ComputeJob(setup, backend, previous).run()


__all__ = ["BACKENDS", "default_backend", "GATES", "LOG10_OF_ZERO", "LSTM_RECURRENT", "Results", "TERM_NAMES", "compute"]
