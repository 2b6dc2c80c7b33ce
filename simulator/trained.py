"""Trained networks and knob setups, both ways (issue 14).

- `setup_for_networks(rnn, lstm, task, sequence)`: a `Setup` that holds two networks' weights
  exactly (explicit matrices with every knob at 1 and every bias knob at 0, the LSTM's biases as
  per-unit offsets, the RNN's bias and the readouts in `setup.explicit`) and shows them on held-out
  test sequence `sequence` of `task` (input kind "task"). `compute(setup)` then runs the same
  kernels on them as on any knob setup: one code path for a network's numbers, whether its weights
  came from knobs, a preset or training.
- `networks_for_task(setup, task)`: the knob setup's two networks as starting weights for training
  on `task` (its recurrent weights and biases as they are; input weights for the task's input size).

The analysis views have one output and the loss L_T = 1/2 (Y* - Y_T)^2 at the last step (MATH.md).
For the adding problem that is exactly the training loss of the sequence (linear readout, one
output, loss at T; Y* = the sum of the two marked values). A softmax task (copy memory, temporal
order) has one readout row per class: the analysis reads out the row of the class expected at the
sequence's last loss step, with Y* = 1 (the one-hot target of that class), a squared-error stand-in
for the cross-entropy. The per-step factors and the long-range gradients do not depend on the
readout at all. Temporal order's sequences shorter than T end with zero inputs; the analysis loss
stays at step T.
"""

from __future__ import annotations

import numpy as np

from .setup import BIAS_KNOBS, TASK_SEQUENCES, Setup
from .tasks import LINEAR, Task, task_for_sequence_length, held_out_target
from .weights import GATES, LSTMParams, RNNParams, lstm_params, rnn_params

INPUT_MATRICES = ("W_x", "W_xi", "W_xf", "W_xg", "W_xo")
# Every knob that multiplies a matrix is 1 and every bias knob 0: the setup's matrices and offsets
# are then the weights and biases exactly (1.0 * w == w and 0.0 + b == b in float64).
NEUTRAL_KNOBS = {"U": 1.0, "W_hi": 1.0, "W_hf": 1.0, "W_hg": 1.0, "W_ho": 1.0,
                 "b_i": 0.0, "b_f": 0.0, "b_g": 0.0, "b_o": 0.0, "input_gain": 1.0}


def _rows(matrix) -> list[list[float]]:
    return np.asarray(matrix, dtype=np.float64).tolist()


def _vector(values) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def readout_row(task: Task, sequence: int) -> tuple[int, float]:
    """(the readout row the analysis shows, its target Y*) for test sequence `sequence`."""
    _, target = held_out_target(task, sequence, TASK_SEQUENCES)
    if task.readout == LINEAR:
        return 0, float(target)
    return int(target), 1.0


def setup_for_networks(rnn: RNNParams, lstm: LSTMParams, task: Task, sequence: int = 0) -> Setup:
    """The analysis setup of two (trained) networks on held-out test sequence `sequence` of `task`
    (a task as simulator.tasks.task_for_T makes it: its sequence length names it in the setup)."""
    if task_for_sequence_length(task.name, task.steps) != task:
        raise ValueError(f"{task!r} is not the {task.name} task of its sequence length (make it with task_for_T)")
    H = np.shape(rnn.U)[0]
    row, target = readout_row(task, sequence)
    weights = {"U": _rows(rnn.U), "W_x": _rows(rnn.W_x), "V": _rows(np.asarray(rnn.V)[row:row + 1])}
    for index, gate in enumerate(GATES):
        weights[f"W_h{gate}"] = _rows(lstm.W_h[index])
        weights[f"W_x{gate}"] = _rows(lstm.W_x[index])
    offsets = {name: _vector(lstm.b[index]) for index, name in enumerate(BIAS_KNOBS)}
    explicit = {"rnn_b": _vector(rnn.b), "rnn_c": float(np.asarray(rnn.c)[row]),
                "lstm_V": _vector(np.asarray(lstm.V)[row]), "lstm_c": float(np.asarray(lstm.c)[row])}
    return Setup.from_dict({
        "hidden_size": int(H), "input_size": task.input_size, "steps": task.steps, "seed": 0,
        "input": {"kind": "task", "task": task.name, "sequence": int(sequence)},
        "knobs": NEUTRAL_KNOBS, "bias_offsets": offsets, "explicit": explicit, "target": target,
        "weights": weights,
    })


def networks_for_task(setup: Setup, task: Task) -> tuple[RNNParams, LSTMParams]:
    """The knob setup's networks, to start training on `task`: H and every recurrent weight, bias
    and readout as the setup has them; the input weights are the setup's seeded (or explicit)
    ones for the task's input size D (a setup of another D draws its input matrices for D, from
    the same seed streams). A readout of the wrong size is drawn by the Trainer."""
    changes = {}
    if setup.input_size != task.input_size:
        kept = {name: rows for name, rows in (setup.weights or {}).items() if name not in INPUT_MATRICES}
        changes = {"input_size": task.input_size, "weights": kept or None}
    if setup.input.kind == "task" or changes:  # the input signal plays no part in training
        changes["input"] = {"kind": "white_noise"}
    if changes:
        setup = setup.replace(**changes)
    return rnn_params(setup), lstm_params(setup)


__all__ = ["NEUTRAL_KNOBS", "networks_for_task", "readout_row", "setup_for_networks"]
