"""The classic long-lag tasks of issue 14: adding problem, copy memory, temporal order.

Exact definitions, readouts, losses and baselines: docs/training-maths.md. A task makes batches:
time-first arrays like the rest of the simulator (row t = step t, row 0 unused), then batch, then
units. Training batches come from a generator seeded by (seed, step), so a run is the same
whether it is trained in one go or in slices, and a held-out test set of a fixed seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

LINEAR, SOFTMAX = 0, 1  # readout kinds, as the kernels take them (docs/training-maths.md (T5), (T6))
READOUT_NAMES = {LINEAR: "linear", SOFTMAX: "softmax"}
TASK_NAMES = ("adding", "copy", "temporal_order")

TRAIN_STREAM, TEST_STREAM = 0, 1  # seed streams: a training batch never equals a test set
TEST_SEED = 20240614  # the fixed seed of every held-out test set


@dataclass(frozen=True)
class Batch:
    """B sequences of one task, in the arrays the training kernels take (C-contiguous, read-only)."""

    x: np.ndarray  # (T_seq + 1, B, D) float64 inputs; row 0 unused (zero)
    loss_weight: np.ndarray  # (T_seq + 1, B) float64 w_{t,b} of (T4): sequence b's loss is sum_t w l_t
    target_value: np.ndarray  # (T_seq + 1, B, O) float64 targets of a linear readout; (0, 0, 0) if softmax
    target_class: np.ndarray  # (T_seq + 1, B) int64 target classes of a softmax readout; (0, 0) if linear
    accuracy_mask: np.ndarray  # (T_seq + 1, B) bool: the steps that count for accuracy (none: no accuracy)
    probe_step: np.ndarray  # (B,) int64: the step k_b where the gradient reaching the first marker is read

    @property
    def size(self) -> int:
        return self.x.shape[1]

    @property
    def steps(self) -> int:
        return self.x.shape[0] - 1


def _batch(x, loss_weight, target_value=None, target_class=None, accuracy_mask=None, probe_step=None):
    steps_plus_1, size = x.shape[:2]
    if target_value is None:
        target_value = np.zeros((0, 0, 0))
    if target_class is None:
        target_class = np.zeros((0, 0), dtype=np.int64)
    if accuracy_mask is None:
        accuracy_mask = np.zeros((steps_plus_1, size), dtype=bool)
    arrays = dict(
        x=np.ascontiguousarray(x, dtype=np.float64),
        loss_weight=np.ascontiguousarray(loss_weight, dtype=np.float64),
        target_value=np.ascontiguousarray(target_value, dtype=np.float64),
        target_class=np.ascontiguousarray(target_class, dtype=np.int64),
        accuracy_mask=np.ascontiguousarray(accuracy_mask, dtype=bool),
        probe_step=np.ascontiguousarray(probe_step, dtype=np.int64),
    )
    for array in arrays.values():  # a test set is cached and shared: nobody may change it
        array.setflags(write=False)
    return Batch(**arrays)


class Task:
    """A task: sizes, readout, baseline, success criterion, and its sequence generator."""

    name: str
    steps: int  # T_seq, the length of every (padded) sequence
    input_size: int  # D
    output_size: int  # O
    readout: int  # LINEAR or SOFTMAX
    baseline: float  # the reported loss of the memoryless strategy (a reference line)
    success_metric: str  # "loss" (test loss below the threshold) or "accuracy" (at or above it)
    success_threshold: float
    has_accuracy: bool
    loss_name: str  # what the reported loss is: "MSE" or "cross-entropy"

    def make_batch(self, rng: np.random.Generator, size: int) -> Batch:
        raise NotImplementedError

    def train_batch(self, seed: int, step: int, size: int) -> Batch:
        """The batch of training step `step` (1, 2, ...) of the run with this seed: drawn fresh,
        from its own generator, so any step can be made again without the ones before it."""
        return self.make_batch(np.random.default_rng([seed, TRAIN_STREAM, step]), size)

    def test_set(self, size: int = 500, seed: int = TEST_SEED) -> Batch:
        """The held-out test set: fixed seed, own stream (cached: the same arrays every call)."""
        return _test_set(self, size, seed)

    def reported_loss(self, objective: float) -> float:
        """The loss as reported and compared with the baseline and thresholds: plain MSE (twice
        the 1/2 MSE objective) for the linear readout, the cross-entropy itself for softmax."""
        return 2.0 * objective if self.readout == LINEAR else objective

    def succeeded(self, test_loss: float, test_accuracy: float) -> bool:
        if self.success_metric == "loss":
            return test_loss < self.success_threshold
        return test_accuracy >= self.success_threshold

    # a Task is a value: equal parameters, equal task (and one cached test set)
    def _key(self):
        return (type(self).__name__, tuple(sorted(vars(self).items())))

    def __eq__(self, other):
        return isinstance(other, Task) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in sorted(vars(self).items()))
        return f"{type(self).__name__}({fields})"


@lru_cache(maxsize=8)
def _test_set(task: Task, size: int, seed: int) -> Batch:
    return task.make_batch(np.random.default_rng([seed, TEST_STREAM]), size)


class AddingProblem(Task):
    """Le et al. 2015 / Arjovsky et al. 2016. Two input channels: a value drawn uniformly from
    [0, 1] and a marker that is 1 at exactly two steps, one in the first half (1..T//2) and one in
    the second (T//2+1..T). Target: the sum of the two marked values, read at step T (linear
    readout, 1/2 squared error). Always answering 1 scores MSE 1/6: the baseline."""

    name = "adding"
    input_size, output_size = 2, 1
    readout = LINEAR
    baseline = 1.0 / 6.0
    success_metric, success_threshold = "loss", 0.01
    has_accuracy = False
    loss_name = "MSE"

    def __init__(self, T: int = 100):
        if T < 2:
            raise ValueError(f"the adding problem needs T >= 2, got {T}")
        self.T = int(T)

    @property
    def steps(self) -> int:
        return self.T

    def make_batch(self, rng, size):
        T, half = self.T, self.T // 2
        values = rng.random((size, T))
        first = rng.integers(1, half + 1, size)  # steps 1..T//2
        second = rng.integers(half + 1, T + 1, size)  # steps T//2+1..T
        x = np.zeros((T + 1, size, 2))
        x[1:, :, 0] = values.T
        sequences = np.arange(size)
        x[first, sequences, 1] = 1.0
        x[second, sequences, 1] = 1.0
        loss_weight = np.zeros((T + 1, size))
        loss_weight[T] = 1.0
        target = np.zeros((T + 1, size, 1))
        target[T, :, 0] = values[sequences, first - 1] + values[sequences, second - 1]
        return _batch(x, loss_weight, target_value=target, probe_step=first)


class CopyMemory(Task):
    """Arjovsky et al. 2016. Length T + 20: 10 symbols from an alphabet of 8 (steps 1..10), T - 1
    blanks, a delimiter (step T + 10), 10 blanks during which the 10 symbols must be reproduced
    (steps T + 11..T + 20). Inputs one-hot over 10 (0 blank, 1..8 symbols, 9 delimiter); outputs
    9 classes (0 blank, 1..8 symbols), softmax cross-entropy at every step, averaged over the
    T + 20 steps. The memoryless strategy scores 10 ln 8 / (T + 20): the baseline."""

    name = "copy"
    input_size, output_size = 10, 9
    readout = SOFTMAX
    success_metric, success_threshold = "accuracy", 0.99
    has_accuracy = True
    loss_name = "cross-entropy"
    symbols, alphabet = 10, 8
    BLANK, DELIMITER = 0, 9

    def __init__(self, T: int = 50):
        if T < 1:
            raise ValueError(f"copy memory needs T >= 1, got {T}")
        self.T = int(T)

    @property
    def steps(self) -> int:
        return self.T + 20

    @property
    def baseline(self) -> float:
        return self.symbols * np.log(self.alphabet) / (self.T + 20)

    def make_batch(self, rng, size):
        T, n = self.T, self.symbols
        length = T + 2 * n
        symbols = rng.integers(1, self.alphabet + 1, (size, n))
        tokens = np.full((length + 1, size), self.BLANK, dtype=np.int64)  # row 0 unused
        tokens[1:n + 1] = symbols.T
        tokens[T + n] = self.DELIMITER
        x = np.zeros((length + 1, size, self.input_size))
        steps, sequences = np.meshgrid(np.arange(1, length + 1), np.arange(size), indexing="ij")
        x[steps, sequences, tokens[1:]] = 1.0
        target = np.full((length + 1, size), self.BLANK, dtype=np.int64)
        target[T + n + 1:] = symbols.T
        loss_weight = np.full((length + 1, size), 1.0 / length)
        loss_weight[0] = 0.0
        accuracy_mask = np.zeros((length + 1, size), dtype=bool)
        accuracy_mask[T + n + 1:] = True
        return _batch(x, loss_weight, target_class=target, accuracy_mask=accuracy_mask,
                      probe_step=np.ones(size, dtype=np.int64))


class TemporalOrder(Task):
    """Hochreiter & Schmidhuber 1997, task 6a. Length L uniform in [min_length, max_length]:
    E at step 1, B at step L, X or Y at a step t1 in [10, 20] and at a step t2 in [50, 60], one of
    the distractors a, b, c, d everywhere else. Class (4): XX, XY, YX, YY, read at step L (softmax,
    cross-entropy). Inputs one-hot over 8 (a, b, c, d, X, Y, E, B); steps after L are zero and
    carry no loss. Guessing scores ln 4: the baseline."""

    name = "temporal_order"
    input_size, output_size = 8, 4
    readout = SOFTMAX
    baseline = float(np.log(4.0))
    success_metric, success_threshold = "accuracy", 0.99
    has_accuracy = True
    loss_name = "cross-entropy"
    X, Y, E, B = 4, 5, 6, 7  # input symbols; 0..3 are the distractors a, b, c, d
    FIRST_RANGE, SECOND_RANGE = (10, 20), (50, 60)

    def __init__(self, min_length: int = 100, max_length: int = 110):
        if not 61 <= min_length <= max_length:
            raise ValueError(f"temporal order needs 61 <= min_length <= max_length, got "
                             f"{min_length}, {max_length}")
        self.min_length, self.max_length = int(min_length), int(max_length)

    @property
    def steps(self) -> int:
        return self.max_length

    def make_batch(self, rng, size):
        steps = self.max_length
        lengths = rng.integers(self.min_length, self.max_length + 1, size)
        tokens = rng.integers(0, 4, (steps + 1, size))  # distractors everywhere first
        first = rng.integers(self.FIRST_RANGE[0], self.FIRST_RANGE[1] + 1, size)
        second = rng.integers(self.SECOND_RANGE[0], self.SECOND_RANGE[1] + 1, size)
        first_is_y = rng.integers(0, 2, size)
        second_is_y = rng.integers(0, 2, size)
        sequences = np.arange(size)
        tokens[first, sequences] = self.X + first_is_y
        tokens[second, sequences] = self.X + second_is_y
        tokens[1] = self.E
        tokens[lengths, sequences] = self.B
        x = np.zeros((steps + 1, size, self.input_size))
        for t in range(1, steps + 1):
            live = lengths >= t  # steps after the sequence's end stay zero
            x[t, sequences[live], tokens[t, live]] = 1.0
        loss_weight = np.zeros((steps + 1, size))
        loss_weight[lengths, sequences] = 1.0
        target = np.zeros((steps + 1, size), dtype=np.int64)
        target[lengths, sequences] = 2 * first_is_y + second_is_y  # XX 0, XY 1, YX 2, YY 3
        return _batch(x, loss_weight, target_class=target, accuracy_mask=loss_weight > 0,
                      probe_step=first)


def make_task(name: str, **parameters) -> Task:
    """A task by name (TASK_NAMES): make_task("adding", T=100), make_task("copy", T=50), ..."""
    tasks = {"adding": AddingProblem, "copy": CopyMemory, "temporal_order": TemporalOrder}
    if name not in tasks:
        raise ValueError(f"task must be one of {TASK_NAMES}, got {name!r}")
    return tasks[name](**parameters)


# --- one number T per task (the Train panel's T, a preset's training settings) -------------------
TEMPORAL_ORDER_SPREAD = 10  # temporal order of "length T": lengths T - 10 .. T (100-110 in the paper)
MIN_T = {"adding": 2, "copy": 1, "temporal_order": 61}


def task_for_T(name: str, T: int) -> Task:
    """The task of one size T: AddingProblem(T), CopyMemory(T) (sequences of T + 20 steps), or
    TemporalOrder with lengths max(61, T - 10) .. T."""
    if name == "temporal_order":
        return TemporalOrder(min_length=max(61, T - TEMPORAL_ORDER_SPREAD), max_length=T)
    return make_task(name, T=T)


def task_T(task: Task) -> int:
    """The T of task_for_T (temporal order: its longest length)."""
    return task.max_length if isinstance(task, TemporalOrder) else task.T


def sequence_length(name: str, T: int) -> int:
    """The number of steps of the sequences of task_for_T(name, T)."""
    return T + 20 if name == "copy" else T


def task_for_sequence_length(name: str, steps: int) -> Task:
    """The task whose sequences have `steps` steps (the inverse of sequence_length): what an
    analysis setup with input kind "task" shows. ValueError if no task of `name` has that length."""
    if name not in TASK_NAMES:
        raise ValueError(f"task must be one of {TASK_NAMES}, got {name!r}")
    T = steps - 20 if name == "copy" else steps
    if T < MIN_T[name]:
        raise ValueError(f"a {name} sequence has at least {sequence_length(name, MIN_T[name])} steps, "
                         f"the setup has {steps}")
    return task_for_T(name, T)


@dataclass(frozen=True)
class HeldOutSequence:
    """One held-out test sequence (read-only arrays, time first like a Batch's)."""

    x: np.ndarray  # (T_seq + 1, D)
    loss_weight: np.ndarray  # (T_seq + 1,)
    target_value: np.ndarray  # (T_seq + 1, O) of a linear readout; empty for softmax
    target_class: np.ndarray  # (T_seq + 1,) of a softmax readout; empty for linear


@lru_cache(maxsize=16)
def held_out_sequence(task: Task, index: int, size: int = 500) -> HeldOutSequence:
    """Held-out test sequence `index` of the test set of `size` sequences (the same numbers as
    task.test_set(size)), kept alone: the whole set is made and dropped, not cached (at T = 5000 a
    copy-memory test set is 200 MB), so an analysis setup costs one sequence of memory."""
    if not 0 <= index < size:
        raise ValueError(f"test sequence {index} is not in 0..{size - 1}")
    batch = task.make_batch(np.random.default_rng([TEST_SEED, TEST_STREAM]), size)
    arrays = dict(x=batch.x[:, index, :], loss_weight=batch.loss_weight[:, index],
                  target_value=batch.target_value[:, index, :] if batch.target_value.size else np.zeros((0, 0)),
                  target_class=batch.target_class[:, index] if batch.target_class.size else np.zeros(0, np.int64))
    arrays = {name: np.array(array) for name, array in arrays.items()}  # copies: the set is dropped
    for array in arrays.values():
        array.setflags(write=False)
    return HeldOutSequence(**arrays)


def held_out_target(task: Task, index: int, size: int = 500) -> tuple[int, float | int]:
    """(the last loss step of test sequence `index`, its target there): the target value of a
    linear readout (the adding problem's sum) or the target class of a softmax readout."""
    sequence = held_out_sequence(task, index, size)
    last = int(np.flatnonzero(sequence.loss_weight)[-1])
    if task.readout == LINEAR:
        return last, float(sequence.target_value[last, 0])
    return last, int(sequence.target_class[last])
