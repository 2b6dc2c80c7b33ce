"""One full recompute of a setup: every number the app draws, for the loss at step T.

`compute(setup, backend)` runs the forward passes, the per-step factors (R1, L4 with its four
terms), the long-range log-norms (R2, L7 and the naive L4 chain) and the BPTT backward passes,
with either the numba kernels or the numpy reference (same functions, same arrays).
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import chaos, reference
from .chaos import Sensitivity
from .reference import LOG10_OF_ZERO, TERM_NAMES
from .setup import Setup
from .weights import GATES, base_matrices, initial_states, input_sequence, lstm_params, rnn_params

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
    bases: dict = field(repr=False, default_factory=dict)
    backend: str = "reference"  # which kernels computed the arrays
    final: bool = True  # False while progressive results still miss exact numbers (NaN entries)

    # --- sizes and theory -----------------------------------------------------------------
    @property
    def steps(self) -> int:
        return self.setup.steps

    @cached_property
    def sigma_max_U(self) -> float:  # an SVD: computed once
        return float(np.linalg.norm(self.rnn_U, 2))

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
                cache[t] = reference.lstm_term_norms(self.lstm_W_h, self.lstm_pre, self.lstm_C, t)
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
    def sensitivity(self, network: str) -> Sensitivity:
        """How the forward trajectory of network ("rnn" or "lstm") amplifies float64 rounding:
        horizon, growth rate per step, modelled rounding per step. O(T H^2), computed on first use."""
        cache = self.__dict__.setdefault("_sensitivity", {})
        if network not in cache:
            if network == "rnn":
                cache[network] = chaos.rnn_sensitivity(self.rnn_U, self.rnn_a, self.rnn_S)
            elif network == "lstm":
                cache[network] = chaos.lstm_sensitivity(self.lstm_W_h, self.lstm_pre, self.lstm_C, self.lstm_h)
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
               "rnn_longrange_log10", "rnn_delta", "rnn_delta_log10_scale")
_LSTM_FIELDS = ("lstm_W_h", "lstm_pre", "lstm_gates", "lstm_h", "lstm_C", "lstm_factor_norm",
                "lstm_term_diag_mean", "lstm_longrange_log10", "lstm_naive_longrange_log10",
                "lstm_delta", "lstm_delta_log10_scale")


def _compute_rnn(setup: Setup, kern, x: np.ndarray) -> dict:
    T = setup.steps
    S0 = initial_states(setup)[0]
    target = np.float64(setup.target)
    rnn = rnn_params(setup)
    rnn_a, rnn_S, rnn_norm, rnn_diag, rnn_long, rnn_delta, rnn_scale = kern.rnn_pass(
        rnn.W_x, rnn.U, rnn.b, x, S0, rnn.V, rnn.c, target, T)
    return dict(x=x, rnn_U=rnn.U, rnn_a=rnn_a, rnn_S=rnn_S,
                rnn_factor_norm=rnn_norm, rnn_factor_diag_mean=rnn_diag,
                rnn_longrange_log10=rnn_long, rnn_delta=rnn_delta, rnn_delta_log10_scale=rnn_scale)


def _lstm_forward(setup: Setup, kern, x: np.ndarray) -> tuple:
    _, h0, C0 = initial_states(setup)
    lstm = lstm_params(setup)
    pre, gates, h, C = kern.lstm_forward(lstm.W_x, lstm.W_h, lstm.b, x, h0, C0)
    return lstm, pre, gates, h, C


class _FactorSteps:
    """The per-step (L4) summary (norm of the sum, diagonal means), shared out in chunks of steps
    between the two lanes of `compute`: each lane takes chunks once its own pass is done, so
    neither core idles while there is work (measured at (64, 200): the lanes were 85 and 61 ms
    apart before). Each step stands alone, so the arrays do not depend on who computed what."""

    def __init__(self, kern, forward: tuple, chunk: int):
        lstm, pre, gates, h, C = forward
        steps = pre.shape[0] - 1
        self.total_norm, self.diag_mean = np.zeros(steps + 1), np.zeros((steps + 1, 5))
        self._kern, self._W_h, self._pre, self._C = kern, lstm.W_h, pre, C
        self._next, self._stop, self._chunk = 1, steps + 1, max(1, chunk)
        self._lock = threading.Lock()

    def work(self) -> None:
        while True:
            with self._lock:
                first = self._next
                if first >= self._stop:
                    return
                self._next = stop = min(first + self._chunk, self._stop)
            self._kern.lstm_factor_summary_steps(self._W_h, self._pre, self._C, first, stop,
                                                 self.total_norm, self.diag_mean)

    def arrays(self) -> dict:
        return dict(lstm_factor_norm=self.total_norm, lstm_term_diag_mean=self.diag_mean)


def _lstm_long_range_and_bptt(setup: Setup, kern, forward: tuple) -> dict:
    lstm, pre, gates, h, C = forward
    T = setup.steps
    exact, naive, lstm_delta, lstm_scale = kern.lstm_longrange_and_bptt(
        lstm.W_h, lstm.V, lstm.c, np.float64(setup.target), pre, gates, h, C, T)
    return dict(lstm_W_h=lstm.W_h, lstm_pre=pre, lstm_gates=gates, lstm_h=h, lstm_C=C,
                lstm_longrange_log10=exact, lstm_naive_longrange_log10=naive,
                lstm_delta=lstm_delta, lstm_delta_log10_scale=lstm_scale)


# The numba kernels release the GIL, so independent ones can use a second core: above this much
# work (H^2 T; (32, 100) is 1e5) a helper thread pays for its start (~0.1 ms).
PARALLEL_MIN_WORK = 20_000
# On two lanes the (L4) summary is shared out in this many chunks of steps (a Python call each,
# ~10 us): the lanes then finish at most one chunk apart.
FACTOR_CHUNKS = 32


def _on_two_threads(on_helper, here) -> tuple:
    """(on_helper(), here()), the first run on a helper thread while the second runs here.
    A daemon thread, like the app's worker: quitting the app never waits for it."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = on_helper()
        except BaseException as exc:  # re-raised on the calling thread
            outcome["error"] = exc

    helper = threading.Thread(target=run, name="simulator helper", daemon=True)
    helper.start()
    try:
        mine = here()
    finally:
        helper.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"], mine


def _in_sequence(first, second) -> tuple:
    return first(), second()


def _read_only(arrays: dict) -> dict:
    for value in arrays.values():
        value.setflags(write=False)  # shared between Results objects when reused
    return arrays


def compute(setup: Setup, backend: str = "numba", previous: Results | None = None) -> Results:
    """Every array for `setup`. With `previous` (results of an earlier setup, same backend), the
    arrays of a network whose inputs did not change are taken over from it instead of recomputed:
    turning U recomputes only the RNN, turning a gate knob only the LSTM (identical values)."""
    kern = _backend_module(backend)
    previous = previous if previous is not None and previous.backend == backend else None
    reuse_rnn = previous is not None and rnn_inputs(previous.setup) == rnn_inputs(setup)
    reuse_lstm = previous is not None and lstm_inputs(previous.setup) == lstm_inputs(setup)
    x = previous.x if (reuse_rnn or reuse_lstm) else input_sequence(setup)
    x.setflags(write=False)
    rnn = {name: getattr(previous, name) for name in _RNN_FIELDS} if reuse_rnn else {}
    lstm = {name: getattr(previous, name) for name in _LSTM_FIELDS} if reuse_lstm else {}
    forward = None if reuse_lstm else _lstm_forward(setup, kern, x)
    parallel = (backend == "numba" and not reuse_lstm
                and setup.hidden_size ** 2 * setup.steps >= PARALLEL_MIN_WORK)
    chunk = -(-setup.steps // FACTOR_CHUNKS) if parallel else setup.steps
    factor_steps = None if reuse_lstm else _FactorSteps(kern, forward, chunk)

    def one_lane() -> dict:  # the RNN, then a share of the (L4) summary
        out = {} if reuse_rnn else _compute_rnn(setup, kern, x)
        if factor_steps is not None:
            factor_steps.work()
        return out

    def other_lane() -> dict:  # the LSTM's long-range chains (L7, naive) and BPTT, then a share
        out = {} if reuse_lstm else _lstm_long_range_and_bptt(setup, kern, forward)
        if factor_steps is not None:
            factor_steps.work()
        return out

    lanes = (_on_two_threads if parallel else _in_sequence)(one_lane, other_lane)
    if factor_steps is not None:
        lanes = (*lanes, factor_steps.arrays())
    for computed in lanes:
        _read_only(computed)
        for name, value in computed.items():
            (rnn if name in _RNN_FIELDS else lstm)[name] = value
    results = Results(setup=setup, **rnn, **lstm, bases=base_matrices(setup), backend=backend)
    if reuse_rnn and "sigma_max_U" in previous.__dict__:  # same U: keep the cached SVD
        results.sigma_max_U = previous.sigma_max_U
    for network, reused in (("rnn", reuse_rnn), ("lstm", reuse_lstm)):  # same trajectory: same sensitivity
        if reused and network in previous.__dict__.get("_sensitivity", {}):
            results.__dict__.setdefault("_sensitivity", {})[network] = previous.__dict__["_sensitivity"][network]
    return results


__all__ = ["BACKENDS", "default_backend", "GATES", "LOG10_OF_ZERO", "LSTM_RECURRENT", "Results", "TERM_NAMES", "compute"]
