"""Turn a `Setup` into the arrays the kernels use: weights, biases, inputs, initial states.

Every base matrix has largest singular value exactly 1 (a Haar-random orthogonal matrix for
H x H, orthonormal rows or columns for H x D and 1 x H), and is [[1.0]] when it is 1 x 1, so a
weight knob is the weight when H = 1 and sigma_max of the weight when H > 1.
Each matrix has its own seed stream, so changing H does not reshuffle unrelated streams'
order, and the same (seed, H, D) always gives the same network.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .setup import BASE_MATRIX_NAMES, BIAS_KNOBS, TASK_SEQUENCES, Setup, base_matrix_shape

GATES = ("i", "f", "g", "o")  # gate order in every (4, H, ...) array
_INPUT_STREAM = len(BASE_MATRIX_NAMES)  # seed stream of the white-noise input


def _semi_orthogonal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A rows x cols matrix with orthonormal rows or columns: every singular value is 1."""
    if rows == 1 and cols == 1:
        return np.ones((1, 1))
    tall = max(rows, cols)
    q, r = np.linalg.qr(rng.standard_normal((tall, min(rows, cols))))
    q = q * np.sign(np.diag(r))  # sign fix: Haar-distributed
    # C order always: the numba kernels are compiled for C-contiguous arrays
    return np.ascontiguousarray(q if rows >= cols else q.T)


@lru_cache(maxsize=32)
def _seeded_bases(seed: int, hidden: int, inputs: int) -> dict[str, np.ndarray]:
    bases = {}
    for stream, name in enumerate(BASE_MATRIX_NAMES):
        rng = np.random.default_rng([seed, stream])
        bases[name] = _semi_orthogonal(rng, *base_matrix_shape(name, hidden, inputs))
        bases[name].setflags(write=False)
    return bases


def base_matrices(setup: Setup) -> dict[str, np.ndarray]:
    """The unit-gain matrices the knobs multiply (explicit `setup.weights` override seeded ones)."""
    bases = dict(_seeded_bases(setup.seed, setup.hidden_size, setup.input_size))
    for name, rows in (setup.weights or {}).items():
        bases[name] = np.array(rows, dtype=np.float64)
    return bases


@dataclass(frozen=True)
class RNNParams:
    W_x: np.ndarray  # (H, D)  input weight, input_gain * base
    U: np.ndarray  # (H, H)  recurrent weight, knob U * base
    b: np.ndarray  # (H,)    bias (zero, or setup.explicit.rnn_b)
    V: np.ndarray  # (1, H)  the base matrix V
    c: np.ndarray  # (1,)    setup.explicit.rnn_c (0)


@dataclass(frozen=True)
class LSTMParams:
    W_x: np.ndarray  # (4, H, D) input weights of gates i, f, g, o
    W_h: np.ndarray  # (4, H, H) recurrent weights W_hi, W_hf, W_hg, W_ho
    b: np.ndarray  # (4, H)    biases b_i, b_f, b_g, b_o (knob + per-unit offset)
    V: np.ndarray  # (1, H)    the base matrix V, or setup.explicit.lstm_V
    c: np.ndarray  # (1,)      setup.explicit.lstm_c (0)


def rnn_params(setup: Setup) -> RNNParams:
    bases = base_matrices(setup)
    k = setup.knobs
    H = setup.hidden_size
    explicit = setup.explicit
    return RNNParams(
        W_x=k.input_gain * bases["W_x"],
        U=k.U * bases["U"],
        b=np.zeros(H) if explicit.rnn_b is None else np.array(explicit.rnn_b, dtype=np.float64),
        V=bases["V"].copy(),
        c=np.array([explicit.rnn_c]),
    )


def lstm_params(setup: Setup) -> LSTMParams:
    bases = base_matrices(setup)
    k = setup.knobs
    H = setup.hidden_size
    W_x = np.stack([k.input_gain * bases[f"W_x{gate}"] for gate in GATES])
    W_h = np.stack([getattr(k, f"W_h{gate}") * bases[f"W_h{gate}"] for gate in GATES])
    b = np.empty((4, H))
    for row, name in enumerate(BIAS_KNOBS):
        offset = getattr(setup.bias_offsets, name)
        b[row] = getattr(k, name) + (np.array(offset) if offset is not None else 0.0)
    explicit = setup.explicit
    V = bases["V"].copy() if explicit.lstm_V is None else np.array([explicit.lstm_V], dtype=np.float64)
    return LSTMParams(W_x=W_x, W_h=W_h, b=b, V=V, c=np.array([explicit.lstm_c]))


def input_sequence(setup: Setup) -> np.ndarray:
    """x with shape (T + 1, D); row t is x_t, row 0 is unused (zero)."""
    T, D = setup.steps, setup.input_size
    sig = setup.input
    t = np.arange(T + 1, dtype=np.float64)
    x = np.zeros((T + 1, D))
    if sig.kind == "white_noise":
        # Drawn for the largest T so that a longer run extends, not reshuffles, a shorter one.
        rng = np.random.default_rng([setup.seed, _INPUT_STREAM, D])
        x[1:] = sig.amplitude * rng.standard_normal((T, D))
    elif sig.kind == "impulse":
        x[1] = sig.amplitude
    elif sig.kind == "constant":
        x[1:] = sig.amplitude
    elif sig.kind == "sine":
        x[1:] = sig.amplitude * np.sin(2.0 * np.pi * t[1:] / sig.period)[:, None]
    elif sig.kind == "task":  # a held-out test sequence of the task (its input_size is the task's)
        from .tasks import held_out_sequence, task_for_sequence_length

        task = task_for_sequence_length(sig.task, T)
        x[:] = held_out_sequence(task, sig.sequence, TASK_SEQUENCES).x
    x[0] = 0.0
    return x


def initial_states(setup: Setup) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(S_0, h_0, C_0), each of shape (H,)."""
    H = setup.hidden_size
    init = setup.initial
    return np.full(H, init.S0), np.full(H, init.h0), np.full(H, init.C0)
