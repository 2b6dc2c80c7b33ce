"""The training settings a user chooses (the Train panel, a preset, `main.py --train`), validated.

`TrainingSettings` is what a preset stores (schema version 3) and the Train panel edits: the task
and its T, the sizes, the optimiser, clipping, the step budget, the seed and where each network
starts. It turns into the training engine's objects with `task()`, `config()` and `inits(setup)`
(simulator/training.py). Construction raises SetupError naming the field, like Setup.

Starting points: "knobs" takes the network of the current knob setup (simulator/trained.py:
networks_for_task; its H is the setup's), the others are the standard initialisations of
simulator/training.Init: "pytorch" (uniform +-1/sqrt(H)), "orthogonal", "identity" (IRNN, RNN
only), "forget_bias_1" (pytorch with every b_f = 1) and "chrono" (pytorch with chrono forget and
input biases for T_max = the task's sequence length), the last two for the LSTM only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .setup import MAX_HIDDEN, MAX_STEPS, Setup, SetupError, describe_validation_error
from .tasks import MIN_T, Task, sequence_length, task_for_T
from .training import Init, TrainConfig

RNN_STARTS = ("knobs", "pytorch", "orthogonal", "identity")
LSTM_STARTS = ("knobs", "pytorch", "orthogonal", "forget_bias_1", "chrono")
START_TITLES = {"knobs": "the knob setup", "pytorch": "PyTorch-style uniform", "orthogonal": "orthogonal",
                "identity": "identity (IRNN)", "forget_bias_1": "PyTorch, forget bias 1",
                "chrono": "PyTorch, chrono biases"}
MAX_TRAIN_STEPS = 10_000_000
MAX_BATCH = 4096


class _RaisesSetupError(type(BaseModel)):
    """TrainingSettings(...) raises SetupError naming the field, like Setup(...)."""

    def __call__(cls, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except ValidationError as exc:
            raise SetupError(describe_validation_error(exc).replace("setup: ", "training: ")) from None


class TrainingSettings(BaseModel, metaclass=_RaisesSetupError):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    task: Literal["adding", "copy", "temporal_order"] = "adding"
    T: Annotated[int, Field(ge=1, le=MAX_STEPS - 20)] = 100  # the task's T (temporal order: longest length)
    hidden_size: Annotated[int, Field(ge=1, le=MAX_HIDDEN)] = 16
    batch_size: Annotated[int, Field(ge=1, le=MAX_BATCH)] = 32
    optimizer: Literal["adam", "sgd"] = "adam"
    learning_rate: Annotated[float, Field(gt=0.0, le=100.0)] = 1e-2
    clip: Annotated[float, Field(gt=0.0, le=1e6)] | None = 1.0  # None: no clipping
    clip_kind: Literal["norm", "value"] = "norm"
    steps: Annotated[int, Field(ge=1, le=MAX_TRAIN_STEPS)] = 3000  # the step budget
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    rnn_start: Literal["knobs", "pytorch", "orthogonal", "identity"] = "pytorch"
    lstm_start: Literal["knobs", "pytorch", "orthogonal", "forget_bias_1", "chrono"] = "forget_bias_1"
    # A preset whose setup holds trained networks says after how many steps (None: not trained).
    trained_steps: Annotated[int, Field(ge=0, le=MAX_TRAIN_STEPS)] | None = None

    @model_validator(mode="after")
    def _check_T(self) -> "TrainingSettings":
        if self.T < MIN_T[self.task]:
            raise ValueError(f"T = {self.T} is too short: the {self.task} task needs T >= {MIN_T[self.task]}")
        return self

    @property
    def sequence_steps(self) -> int:
        """How many steps the task's sequences have (copy memory: T + 20)."""
        return sequence_length(self.task, self.T)

    def starts_from_knobs(self) -> bool:
        return "knobs" in (self.rnn_start, self.lstm_start)

    def make_task(self) -> Task:
        return task_for_T(self.task, self.T)

    def config(self, **changes) -> TrainConfig:
        """The engine's TrainConfig (its defaults for what is not set here: tests every 50 steps on
        500 held-out sequences, snapshots every 100 steps thinned to at most 200)."""
        values = dict(steps=self.steps, hidden_size=self.hidden_size, batch_size=self.batch_size,
                      optimizer=self.optimizer, learning_rate=self.learning_rate, clip=self.clip,
                      clip_kind=self.clip_kind, seed=self.seed)
        values.update(changes)
        return TrainConfig(**values)

    def inits(self, setup: Setup | None = None, task: Task | None = None) -> tuple:
        """(rnn_init, lstm_init) for Trainer: an Init, or the knob setup's network ("knobs")."""
        task = task or self.make_task()
        knob_networks = None
        if self.starts_from_knobs():
            if setup is None:
                raise ValueError("starting from the knobs needs the knob setup")
            if setup.hidden_size != self.hidden_size:
                raise ValueError(f"hidden_size: starting from the knobs trains the setup's H = "
                                 f"{setup.hidden_size}, got {self.hidden_size}")
            from .trained import networks_for_task

            knob_networks = networks_for_task(setup, task)
        standard = {"pytorch": Init("pytorch"), "orthogonal": Init("orthogonal"), "identity": Init("identity"),
                    "forget_bias_1": Init("pytorch", forget_bias=1.0),
                    "chrono": Init("pytorch", chrono=float(max(3, task.steps)))}
        rnn = knob_networks[0] if self.rnn_start == "knobs" else standard[self.rnn_start]
        lstm = knob_networks[1] if self.lstm_start == "knobs" else standard[self.lstm_start]
        return rnn, lstm

    def replace(self, **changes) -> "TrainingSettings":
        return TrainingSettings(**{**self.model_dump(), **changes})


__all__ = ["LSTM_STARTS", "MAX_TRAIN_STEPS", "RNN_STARTS", "START_TITLES", "TrainingSettings"]
