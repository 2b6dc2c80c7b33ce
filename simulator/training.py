"""Train the vanilla RNN and the LSTM side by side on a task, step by step (issue 14).

`Trainer(task, TrainConfig(...), rnn_init=..., lstm_init=...)` holds both networks, their
optimisers, the live history and a bounded list of weight snapshots. `trainer.step(n)` trains
both networks n steps on the same batches (a worker thread calls it in slices: pause = stop
calling, resume = call again, `reset()` starts over). The same seed gives the same run, bit for
bit, whether it is trained in one go or in slices: the batch of step n is drawn from its own
generator seeded by (seed, n).

Maths: docs/training-maths.md. Parameters are in `simulator/weights.py`'s layout (`RNNParams`,
`LSTMParams`, with V (O, H) and c (O,)), so a trained network goes to the analysis code as it is.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from . import train_reference
from .tasks import Task
from .weights import LSTMParams, RNNParams, _semi_orthogonal

TRAIN_BACKENDS = ("numba", "reference")
OPTIMISERS = ("adam", "sgd")
CLIP_KINDS = ("norm", "value")
INIT_SCHEMES = ("pytorch", "orthogonal", "identity")  # "identity" (IRNN) is for the RNN only
NETWORKS = ("rnn", "lstm")
PARAMETER_NAMES = {"rnn": ("W_x", "U", "b", "V", "c"), "lstm": ("W_x", "W_h", "b", "V", "c")}
INIT_STREAM = 2  # seed stream of the initial weights (tasks use 0 and 1)
F_GATE, I_GATE = 1, 0  # rows of the LSTM's (4, H, .) arrays


def _kernels(backend: str):
    if backend == "reference":
        return train_reference
    if backend == "numba":
        from . import train_kernels

        return train_kernels
    raise ValueError(f"backend must be one of {TRAIN_BACKENDS}, got {backend!r}")


def warm_up_training() -> None:
    """Compile (or load from the cache) every numba training kernel once, on a tiny problem: both
    networks, both readouts, Adam and SGD, evaluation. ~10-20 s the first time, then cached."""
    from .tasks import AddingProblem, CopyMemory

    for task in (AddingProblem(T=4), CopyMemory(T=1)):
        for optimizer in OPTIMISERS:
            config = TrainConfig(steps=1, hidden_size=2, batch_size=2, test_size=2, optimizer=optimizer)
            Trainer(task, config).step()


# ----------------------------------------------------------------------------------------------
# Initialisation
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Init:
    """A standard initialisation.

    scheme: "pytorch" (every weight and bias uniform on [-1/sqrt(H), 1/sqrt(H)], as nn.RNN /
    nn.LSTM / nn.Linear; the recurrent bias is the sum of PyTorch's two, b_ih + b_hh),
    "orthogonal" (recurrent matrices Haar-orthogonal, per gate for the LSTM; biases 0; input and
    readout as pytorch), "identity" (RNN only, IRNN of Le et al. 2015: U = I, b = 0).
    forget_bias: LSTM, set every b_f to this value afterwards (1.0: Gers et al. 2000).
    chrono: LSTM, chrono initialisation (Tallec & Ollivier 2018) with this T_max: b_f = ln u,
    u uniform on [1, T_max - 1], b_i = -b_f.
    """

    scheme: str = "pytorch"
    forget_bias: float | None = None
    chrono: float | None = None

    def __post_init__(self):
        if self.scheme not in INIT_SCHEMES:
            raise ValueError(f"scheme must be one of {INIT_SCHEMES}, got {self.scheme!r}")
        if self.forget_bias is not None and self.chrono is not None:
            raise ValueError("forget_bias and chrono both set the forget bias: choose one")
        if self.chrono is not None and not self.chrono > 2.0:
            raise ValueError(f"chrono needs T_max > 2, got {self.chrono}")


def _uniform(rng, bound, shape):
    return rng.uniform(-bound, bound, shape)


def init_rnn(init: Init, hidden: int, inputs: int, outputs: int, rng: np.random.Generator) -> RNNParams:
    if init.forget_bias is not None or init.chrono is not None:
        raise ValueError("forget_bias and chrono are LSTM initialisations")
    bound = 1.0 / math.sqrt(hidden)
    W_x = _uniform(rng, bound, (hidden, inputs))
    if init.scheme == "pytorch":
        U = _uniform(rng, bound, (hidden, hidden))
        b = _uniform(rng, bound, hidden) + _uniform(rng, bound, hidden)
    elif init.scheme == "orthogonal":
        U = _semi_orthogonal(rng, hidden, hidden)
        b = np.zeros(hidden)
    else:  # identity
        U = np.eye(hidden)
        b = np.zeros(hidden)
    V = _uniform(rng, bound, (outputs, hidden))
    c = _uniform(rng, bound, outputs)
    return RNNParams(W_x=W_x, U=U, b=b, V=V, c=c)


def init_lstm(init: Init, hidden: int, inputs: int, outputs: int, rng: np.random.Generator) -> LSTMParams:
    if init.scheme == "identity":
        raise ValueError("the identity initialisation is for the RNN")
    bound = 1.0 / math.sqrt(hidden)
    W_x = _uniform(rng, bound, (4, hidden, inputs))
    if init.scheme == "pytorch":
        W_h = _uniform(rng, bound, (4, hidden, hidden))
        b = _uniform(rng, bound, (4, hidden)) + _uniform(rng, bound, (4, hidden))
    else:  # orthogonal, one matrix per gate
        W_h = np.stack([_semi_orthogonal(rng, hidden, hidden) for _ in range(4)])
        b = np.zeros((4, hidden))
    V = _uniform(rng, bound, (outputs, hidden))
    c = _uniform(rng, bound, outputs)
    if init.forget_bias is not None:
        b[F_GATE] = init.forget_bias
    if init.chrono is not None:
        b[F_GATE] = np.log(rng.uniform(1.0, init.chrono - 1.0, hidden))
        b[I_GATE] = -b[F_GATE]
    return LSTMParams(W_x=W_x, W_h=W_h, b=b, V=V, c=c)


# ----------------------------------------------------------------------------------------------
# Settings, history, snapshots
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 3000  # the step budget
    hidden_size: int = 16  # H of both networks
    batch_size: int = 32
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    momentum: float = 0.0  # SGD only
    betas: tuple[float, float] = (0.9, 0.999)  # Adam only
    eps: float = 1e-8  # Adam only
    clip: float | None = 1.0  # gradient clipping threshold; None = off
    clip_kind: str = "norm"  # "norm": scale g to norm <= clip; "value": clip each entry to [-clip, clip]
    seed: int = 0
    test_every: int = 50  # test loss every this many steps (and at step 0 and at the end)
    test_size: int = 500
    snapshot_every: int = 100  # first interval; doubles whenever the bound is reached
    max_snapshots: int = 200
    max_snapshot_bytes: int = 64 * 2**20
    backend: str = "numba"

    def __post_init__(self):
        for name in ("steps", "hidden_size", "batch_size", "test_every", "test_size", "snapshot_every"):
            if not getattr(self, name) >= 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_snapshots < 2:
            raise ValueError("max_snapshots must be >= 2")
        if self.optimizer not in OPTIMISERS:
            raise ValueError(f"optimizer must be one of {OPTIMISERS}, got {self.optimizer!r}")
        if self.clip_kind not in CLIP_KINDS:
            raise ValueError(f"clip_kind must be one of {CLIP_KINDS}, got {self.clip_kind!r}")
        if self.clip is not None and not self.clip > 0.0:
            raise ValueError(f"clip must be > 0 or None, got {self.clip}")
        if not self.learning_rate > 0.0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if len(self.betas) != 2 or not all(0.0 <= beta < 1.0 for beta in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")
        if not self.eps > 0.0:
            raise ValueError(f"eps must be > 0, got {self.eps}")
        if self.backend not in TRAIN_BACKENDS:
            raise ValueError(f"backend must be one of {TRAIN_BACKENDS}, got {self.backend!r}")


@dataclass
class NetworkHistory:
    """One network's live curves. Per-step arrays have length steps + 1 and are indexed by the
    training step n = 1..steps (entry 0 and steps not yet trained are NaN); test arrays follow
    `History.test_steps`."""

    train_loss: np.ndarray  # reported loss (plain MSE or cross-entropy) on step n's batch, before its update
    grad_norm: np.ndarray  # ||dL/dtheta||_2 over all parameters, before clipping
    marker_grad: np.ndarray  # RNN: mean_b ||dl_b/dS_k||; LSTM: mean_b ||dl_b/dh_k||, k = the first marker
    marker_grad_C: np.ndarray  # LSTM: mean_b ||dl_b/dC_k|| (NaN for the RNN)
    test_loss: np.ndarray  # reported loss on the held-out test set
    test_accuracy: np.ndarray  # NaN if the task has no accuracy
    first_success_step: int | None = None  # first test step meeting the task's success criterion
    seconds: float = 0.0  # time spent training this network (kernels + optimiser)

    @classmethod
    def empty(cls, steps: int, tests: int) -> NetworkHistory:
        def nan(n):
            return np.full(n, np.nan)

        return cls(nan(steps + 1), nan(steps + 1), nan(steps + 1), nan(steps + 1), nan(tests), nan(tests))


@dataclass
class History:
    step_count: int  # steps trained so far
    test_count: int  # test evaluations so far
    test_steps: np.ndarray  # (capacity,) int: the training step of each test evaluation
    elapsed: np.ndarray  # (steps + 1,) seconds inside step() (pauses excluded) at the end of step n
    rnn: NetworkHistory
    lstm: NetworkHistory

    def steps_per_second(self, window: int = 50) -> float:
        """Training speed over the last `window` steps (both networks and the test evaluations)."""
        n = self.step_count
        if n == 0:
            return 0.0
        first = max(0, n - window)
        seconds = self.elapsed[n] - self.elapsed[first]
        return (n - first) / seconds if seconds > 0.0 else 0.0

    def network(self, name: str) -> NetworkHistory:
        return {"rnn": self.rnn, "lstm": self.lstm}[name]


@dataclass(frozen=True)
class Snapshot:
    """Both networks' weights after training step `step` (0: the initial weights). Arrays are
    read-only copies."""

    step: int
    rnn: RNNParams
    lstm: LSTMParams


# ----------------------------------------------------------------------------------------------
# One network: parameters in one flat vector, its gradient and optimiser state
# ----------------------------------------------------------------------------------------------


class _Network:
    def __init__(self, kind: str, params, config: TrainConfig, task: Task):
        self.kind = kind
        self.names = PARAMETER_NAMES[kind]
        arrays = [np.asarray(getattr(params, name), dtype=np.float64) for name in self.names]
        self.shapes = [a.shape for a in arrays]
        sizes = [a.size for a in arrays]
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.theta = np.concatenate([a.ravel() for a in arrays])
        self.grad = np.zeros_like(self.theta)
        self.views = [self.theta[offsets[k]:offsets[k + 1]].reshape(s) for k, s in enumerate(self.shapes)]
        self.grad_views = [self.grad[offsets[k]:offsets[k + 1]].reshape(s) for k, s in enumerate(self.shapes)]
        self.moment1 = np.zeros_like(self.theta)  # Adam m, or the SGD momentum buffer
        self.moment2 = np.zeros_like(self.theta)  # Adam v
        self.updates = 0
        self.kernels = _kernels(config.backend)
        size_of = getattr(self.kernels, f"{kind}_workspace_size")
        self.workspace = np.empty(size_of(task.steps, config.batch_size, config.hidden_size))

    def params(self):
        copies = {}
        for name, view in zip(self.names, self.views):
            copies[name] = view.copy()
            copies[name].setflags(write=False)
        return (RNNParams if self.kind == "rnn" else LSTMParams)(**copies)

    def train_pass(self, task: Task, batch):
        run = getattr(self.kernels, f"{self.kind}_train_pass")
        return run(*self.views, batch.x, batch.loss_weight, batch.target_value, batch.target_class,
                   task.readout, batch.probe_step, *self.grad_views, self.workspace)

    def evaluate(self, task: Task, batch) -> tuple[float, int]:
        run = getattr(self.kernels, f"{self.kind}_evaluate")
        loss, correct = run(*self.views, batch.x, batch.loss_weight, batch.target_value,
                            batch.target_class, task.readout, batch.accuracy_mask)
        return float(loss), int(correct)

    def update(self, config: TrainConfig) -> float:
        """Clip the gradient and take one optimiser step; returns ||g|| before clipping. A
        non-finite gradient is not applied (the weights stay as they were)."""
        norm = float(self.kernels.gradient_norm(self.grad))
        if not math.isfinite(norm):
            return norm
        if config.clip is not None:
            if config.clip_kind == "norm":  # PyTorch's clip_grad_norm_
                self.grad *= min(1.0, config.clip / (norm + 1e-6))
            else:
                np.clip(self.grad, -config.clip, config.clip, out=self.grad)
        self.updates += 1
        if config.optimizer == "adam":
            beta1, beta2 = config.betas
            self.kernels.adam_step(self.theta, self.grad, self.moment1, self.moment2,
                                   config.learning_rate, beta1, beta2, config.eps, self.updates)
        else:
            self.kernels.sgd_step(self.theta, self.grad, self.moment1, config.learning_rate,
                                  config.momentum)
        return norm


# ----------------------------------------------------------------------------------------------
# The trainer
# ----------------------------------------------------------------------------------------------


class Trainer:
    """Trains an RNN and an LSTM side by side on `task`, on the same batches.

    rnn_init / lstm_init: an `Init`, or explicit parameters (`RNNParams` / `LSTMParams`, e.g. the
    knob setup's, from `weights.rnn_params(setup)`); explicit parameters are used as they are, except
    a readout (V, c) whose number of outputs is not the task's, which is drawn as pytorch's.

    Threads: a worker thread trains (`step`, `run`) while another reads. `step`, `run`, `reset`,
    `evaluate` and `record_test` take `lock` (one training step or one test evaluation at a time),
    so they never interleave. The readers do not wait for a step: `rnn_params` / `lstm_params`
    wait only for an optimiser update in progress (microseconds; the weights are never read half
    updated), `snapshot_list` and `progress` take no lock. The history's arrays are written in
    place: the entries of step n are complete once `history.step_count` is n (the test entries
    once `history.test_count` counts them).
    """

    def __init__(self, task: Task, config: TrainConfig = TrainConfig(),
                 rnn_init: Init | RNNParams = Init(), lstm_init: Init | LSTMParams = Init(forget_bias=1.0)):
        self.task = task
        self.config = config
        self.rnn_init = rnn_init
        self.lstm_init = lstm_init
        self.lock = threading.RLock()
        self._weights_lock = threading.Lock()  # held while the weights change (update, reset)
        self.test_set = task.test_set(config.test_size)
        self.reset()

    # --- set-up -------------------------------------------------------------------------------
    def _initial_params(self, kind: str):
        init = self.rnn_init if kind == "rnn" else self.lstm_init
        H, D, O = self.config.hidden_size, self.task.input_size, self.task.output_size
        rng = np.random.default_rng([self.config.seed, INIT_STREAM, NETWORKS.index(kind)])
        if isinstance(init, Init):
            return (init_rnn if kind == "rnn" else init_lstm)(init, H, D, O, rng)
        expected = RNNParams if kind == "rnn" else LSTMParams
        if not isinstance(init, expected):
            raise TypeError(f"{kind}_init must be an Init or {expected.__name__}, got {type(init).__name__}")
        shapes = {"W_x": ((H, D) if kind == "rnn" else (4, H, D)),
                  "U": (H, H), "W_h": (4, H, H), "b": ((H,) if kind == "rnn" else (4, H))}
        for name in PARAMETER_NAMES[kind][:3]:
            if np.shape(getattr(init, name)) != shapes[name]:
                raise ValueError(f"{kind}_init.{name} has shape {np.shape(getattr(init, name))}, "
                                 f"the task and hidden size need {shapes[name]}")
        if np.shape(init.V) != (O, H) or np.shape(init.c) != (O,):
            bound = 1.0 / math.sqrt(H)
            readout = {"V": _uniform(rng, bound, (O, H)), "c": _uniform(rng, bound, O)}
            init = type(init)(**{**vars(init), **readout})
        return init

    def reset(self) -> None:
        """Back to the initial weights, optimiser state and an empty history (same seed: the same
        run again)."""
        with self.lock:
            config = self.config
            rnn = _Network("rnn", self._initial_params("rnn"), config, self.task)
            lstm = _Network("lstm", self._initial_params("lstm"), config, self.task)
            with self._weights_lock:
                self.rnn, self.lstm = rnn, lstm
            tests = config.steps // config.test_every + 2
            self.history = History(0, 0, np.zeros(tests, dtype=np.int64), np.full(config.steps + 1, np.nan),
                                   NetworkHistory.empty(config.steps, tests),
                                   NetworkHistory.empty(config.steps, tests))
            self.history.elapsed[0] = 0.0
            self.snapshots: list[Snapshot] = []
            self.snapshot_interval = config.snapshot_every
            per_snapshot = 8 * (self.rnn.theta.size + self.lstm.theta.size)
            self.max_snapshots = max(2, min(config.max_snapshots, config.max_snapshot_bytes // per_snapshot))
            self._evaluate_and_record()  # test loss of the initial networks
            self._take_snapshot()

    # --- state ----------------------------------------------------------------------------------
    @property
    def step_count(self) -> int:
        return self.history.step_count

    @property
    def finished(self) -> bool:
        return self.history.step_count >= self.config.steps

    def rnn_params(self) -> RNNParams:
        """The RNN's current weights (read-only copies), `simulator/weights.py` layout."""
        with self._weights_lock:
            return self.rnn.params()

    def lstm_params(self) -> LSTMParams:
        with self._weights_lock:
            return self.lstm.params()

    def progress(self) -> dict:
        """step, steps, sequences_seen, steps_per_second, seconds_left (estimate). Lock-free: a
        UI thread may call it while a worker trains."""
        n, total = self.history.step_count, self.config.steps
        speed = self.history.steps_per_second()
        return dict(step=n, steps=total, sequences_seen=n * self.config.batch_size,
                    steps_per_second=speed,
                    seconds_left=(total - n) / speed if speed > 0.0 else math.inf)

    # --- training -------------------------------------------------------------------------------
    def step(self, n: int = 1) -> int:
        """Train both networks n more steps (fewer at the end of the budget); returns how many."""
        done = 0
        while done < n and not self.finished:
            with self.lock:
                self._one_step()
            done += 1
        return done

    def run(self, seconds: float | None = None, should_stop=None) -> int:
        """Train until the budget is spent, `seconds` have passed, or should_stop() is true
        (checked between steps). Returns the number of steps trained."""
        start = time.perf_counter()
        done = 0
        while not self.finished:
            if seconds is not None and time.perf_counter() - start >= seconds:
                break
            if should_stop is not None and should_stop():
                break
            done += self.step(1)
        return done

    def _one_step(self) -> None:
        started = time.perf_counter()
        history, config = self.history, self.config
        n = history.step_count + 1
        batch = self.task.train_batch(config.seed, n, config.batch_size)
        for kind, network in (("rnn", self.rnn), ("lstm", self.lstm)):
            curves = history.network(kind)
            t0 = time.perf_counter()
            result = network.train_pass(self.task, batch)
            curves.train_loss[n] = self.task.reported_loss(result[0])
            curves.marker_grad[n] = np.mean(result[1])
            if kind == "lstm":
                curves.marker_grad_C[n] = np.mean(result[2])
            with self._weights_lock:
                curves.grad_norm[n] = network.update(config)
            curves.seconds += time.perf_counter() - t0
        history.step_count = n
        if n % config.test_every == 0 or n == config.steps:
            self._evaluate_and_record()
        if n % self.snapshot_interval == 0 or n == config.steps:
            self._take_snapshot()
        history.elapsed[n] = history.elapsed[n - 1] + (time.perf_counter() - started)

    def evaluate(self) -> dict:
        """Test loss and accuracy of both networks at their current weights (not recorded):
        {"rnn": (loss, accuracy), "lstm": (loss, accuracy)}; accuracy NaN if the task has none."""
        with self.lock:
            return {kind: self._test(network) for kind, network in (("rnn", self.rnn), ("lstm", self.lstm))}

    def _test(self, network: _Network) -> tuple[float, float]:
        loss, correct = network.evaluate(self.task, self.test_set)
        counted = int(self.test_set.accuracy_mask.sum())
        accuracy = correct / counted if self.task.has_accuracy and counted else math.nan
        return self.task.reported_loss(loss), accuracy

    def record_test(self) -> None:
        """Evaluate the test set now and add it to the history (e.g. when a run is paused or
        stopped between two scheduled tests); nothing if the current step is already tested."""
        with self.lock:
            history = self.history
            if history.test_count and history.test_steps[history.test_count - 1] == history.step_count:
                return
            self._evaluate_and_record()

    def _evaluate_and_record(self) -> None:
        history = self.history
        index = history.test_count
        if index == history.test_steps.size:  # extra tests (record_test): grow the arrays
            more = history.test_steps.size
            history.test_steps = np.concatenate([history.test_steps, np.zeros(more, dtype=np.int64)])
            for curves in (history.rnn, history.lstm):
                curves.test_loss = np.concatenate([curves.test_loss, np.full(more, np.nan)])
                curves.test_accuracy = np.concatenate([curves.test_accuracy, np.full(more, np.nan)])
        history.test_steps[index] = history.step_count
        for kind, network in (("rnn", self.rnn), ("lstm", self.lstm)):
            loss, accuracy = self._test(network)
            curves = history.network(kind)
            curves.test_loss[index] = loss
            curves.test_accuracy[index] = accuracy
            if curves.first_success_step is None and self.task.succeeded(loss, accuracy):
                curves.first_success_step = history.step_count
        history.test_count = index + 1

    def _take_snapshot(self) -> None:
        step = self.history.step_count
        self.snapshots.append(Snapshot(step, self.rnn.params(), self.lstm.params()))
        while len(self.snapshots) > self.max_snapshots:  # thin out: keep every other, double the interval
            self.snapshot_interval *= 2
            self.snapshots = [s for s in self.snapshots
                              if s.step % self.snapshot_interval == 0 or s.step == self.config.steps]

    def snapshot_list(self) -> list[Snapshot]:
        """The snapshots so far, oldest first (a new list; the list is replaced, never changed in
        place beyond an append, so no lock is needed)."""
        return list(self.snapshots)
