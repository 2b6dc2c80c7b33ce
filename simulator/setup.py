"""The validated description of one simulation: sizes, seed, input signal, knobs.

A `Setup` is immutable. Change it with `setup.replace(...)` / `setup.with_knob(...)`,
which validate the result like any other input: a bad value raises `SetupError`
naming the field, and the old setup is left as it was. `Setup(...)`, `Setup.from_dict(...)`
and the nested models (`Knobs(...)`, `InputSignal(...)`...) all raise `SetupError` (a
ValueError); only pydantic's own `model_validate` raises its ValidationError.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

MAX_HIDDEN = 512
MAX_INPUT = 64
MAX_STEPS = 5000
KNOB_LIMIT = 100.0  # generous bound; the UI sliders use a smaller range

KNOB_NAMES = ("U", "W_hi", "W_hf", "W_hg", "W_ho", "b_i", "b_f", "b_g", "b_o", "input_gain")
WEIGHT_KNOBS = ("U", "W_hi", "W_hf", "W_hg", "W_ho")
BIAS_KNOBS = ("b_i", "b_f", "b_g", "b_o")
SIGNAL_KINDS = ("white_noise", "impulse", "constant", "sine", "zeros")  # the hand-made input signals
# An input can also be one held-out test sequence of a training task (simulator/tasks.py): the
# analysis views then look at a network on the data it was trained for.
INPUT_KINDS = (*SIGNAL_KINDS, "task")
TASK_INPUT_NAMES = ("adding", "copy", "temporal_order")  # simulator.tasks.TASK_NAMES (a test checks)
TASK_SEQUENCES = 500  # input kind "task": sequence i of the task's held-out test set of this size

# Every seeded base matrix, in the order of their seed streams. A setup may override any of them.
BASE_MATRIX_NAMES = (
    "U", "W_hi", "W_hf", "W_hg", "W_ho",  # recurrent, H x H
    "W_x", "W_xi", "W_xf", "W_xg", "W_xo",  # input, H x D (W_x is the RNN's)
    "V",  # output, 1 x H (one output unit: Y_t = V h_t + c)
)

Knob = Annotated[float, Field(ge=-KNOB_LIMIT, le=KNOB_LIMIT)]


class SetupError(ValueError):
    """A setup (or a preset) is invalid. The message names the field(s)."""


class _RaisesSetupError(type(BaseModel)):
    """Direct construction (Setup(...), Knobs(...)) raises SetupError like the rest of the API,
    never pydantic's ValidationError. (A metaclass, not __init__: pydantic calls a custom
    __init__ during nested validation too, which would hide the field names; model_validate,
    used by Setup.from_dict and by preset files, is untouched.)"""

    def __call__(cls, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except ValidationError as exc:
            raise SetupError(describe_validation_error(exc)) from None


class _Strict(BaseModel, metaclass=_RaisesSetupError):
    # strict: "3" is not 3, True is not 1; NaN and inf are rejected everywhere.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class InputSignal(_Strict):
    """The input x_1 ... x_T. kind "task": held-out test sequence `sequence` of the training task
    `task` whose sequences have `steps` steps (simulator.tasks.task_for_sequence_length: the adding
    problem and temporal order have T = steps, copy memory T = steps - 20); the setup's input_size
    must be the task's (2, 10, 8). amplitude and period are then unused."""

    kind: Literal["white_noise", "impulse", "constant", "sine", "zeros", "task"] = "white_noise"
    amplitude: Annotated[float, Field(ge=-100.0, le=100.0)] = 1.0
    period: Annotated[float, Field(gt=0.0, le=1e6)] = 20.0  # steps per cycle (sine only)
    task: Literal["adding", "copy", "temporal_order"] = "adding"  # kind "task" only
    sequence: Annotated[int, Field(ge=0, lt=TASK_SEQUENCES)] = 0  # kind "task" only


class Knobs(_Strict):
    """The knobs of MATH.md. With H = 1 a weight knob *is* the weight; with H > 1 it is the
    gain of a fixed seeded base matrix whose largest singular value is 1, so the knob equals
    sigma_max of the weight (U = 1 is exactly the Pascanu threshold)."""

    U: Knob = 0.9
    W_hi: Knob = 0.5
    W_hf: Knob = 0.5
    W_hg: Knob = 0.5
    W_ho: Knob = 0.5
    b_i: Knob = 0.0
    b_f: Knob = 1.0
    b_g: Knob = 0.0
    b_o: Knob = 0.0
    input_gain: Knob = 1.0


class BiasOffsets(_Strict):
    """Optional per-unit bias vectors. The bias used is knob + offset (the knob shifts every unit),
    e.g. chrono initialisation puts ln(u) in b_f's offset with the b_f knob at 0."""

    b_i: list[float] | None = None
    b_f: list[float] | None = None
    b_g: list[float] | None = None
    b_o: list[float] | None = None


class ExplicitParams(_Strict):
    """Parameters the knobs leave fixed, set explicitly (e.g. by a trained network): the RNN's bias
    b (zero by default), each network's readout bias c (zero) and the LSTM's own readout row (by
    default both networks read out with the one base matrix V). None / 0.0 is the knobs' network."""

    rnn_b: list[float] | None = None  # (H,) the RNN's b in a_t = W x_t + U S_{t-1} + b
    rnn_c: float = 0.0  # the RNN's c in O_t = V S_t + c
    lstm_V: list[float] | None = None  # (H,) the LSTM's readout row (None: the base matrix V)
    lstm_c: float = 0.0  # the LSTM's c in Y_t = V h_t + c


class InitialState(_Strict):
    """States at t = 0, broadcast over units: S_0 (RNN), h_0 and C_0 (LSTM)."""

    S0: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.0
    h0: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.0
    C0: Annotated[float, Field(ge=-100.0, le=100.0)] = 0.0


class Setup(_Strict):
    hidden_size: Annotated[int, Field(ge=1, le=MAX_HIDDEN)] = 1
    input_size: Annotated[int, Field(ge=1, le=MAX_INPUT)] = 1
    steps: Annotated[int, Field(ge=1, le=MAX_STEPS)] = 50
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    input: InputSignal = InputSignal()
    knobs: Knobs = Knobs()
    bias_offsets: BiasOffsets = BiasOffsets()
    explicit: ExplicitParams = ExplicitParams()
    initial: InitialState = InitialState()
    target: Annotated[float, Field(ge=-100.0, le=100.0)] = 1.0  # Y*_T of the loss at the last step
    # Explicit base matrices (row lists) that replace the seeded ones, for sharing an exact network.
    weights: dict[str, list[list[float]]] | None = None

    @model_validator(mode="after")
    def _check_shapes(self) -> "Setup":
        H, D = self.hidden_size, self.input_size
        for name in BIAS_KNOBS:
            offset = getattr(self.bias_offsets, name)
            if offset is not None and len(offset) != H:
                raise ValueError(
                    f"bias_offsets.{name} has {len(offset)} values but hidden_size is {H}"
                )
        for name in ("rnn_b", "lstm_V"):
            values = getattr(self.explicit, name)
            if values is not None and len(values) != H:
                raise ValueError(f"explicit.{name} has {len(values)} values but hidden_size is {H}")
        if self.input.kind == "task":
            from .tasks import task_for_sequence_length

            try:
                task = task_for_sequence_length(self.input.task, self.steps)
            except ValueError as exc:
                raise ValueError(f"input.task: {exc}") from None
            if D != task.input_size:
                raise ValueError(f"input_size must be {task.input_size} for {self.input.task} sequences, got {D}")
        if self.weights:
            for name, rows in self.weights.items():
                if name not in BASE_MATRIX_NAMES:
                    raise ValueError(
                        f"weights.{name}: unknown matrix (expected one of {', '.join(BASE_MATRIX_NAMES)})"
                    )
                want = base_matrix_shape(name, H, D)
                got = (len(rows), len(rows[0]) if rows else 0)
                if got != want or any(len(r) != want[1] for r in rows):
                    raise ValueError(f"weights.{name} must be {want[0]}x{want[1]}, got {got[0]}x{got[1]}")
        return self

    # --- construction and change, always validated ---------------------------------------
    @classmethod
    def from_dict(cls, data: object) -> "Setup":
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SetupError(describe_validation_error(exc)) from None

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")

    def replace(self, **changes) -> "Setup":
        """A validated copy with top-level fields changed (nested models may be given as dicts)."""
        data = self.model_dump()
        for key, value in changes.items():
            data[key] = value.model_dump() if isinstance(value, BaseModel) else value
        return Setup.from_dict(data)

    def with_knob(self, name: str, value: float) -> "Setup":
        if name not in KNOB_NAMES:
            raise SetupError(f"knobs.{name}: unknown knob (expected one of {', '.join(KNOB_NAMES)})")
        knobs = self.knobs.model_dump()
        knobs[name] = value
        return self.replace(knobs=knobs)


def base_matrix_shape(name: str, hidden: int, inputs: int) -> tuple[int, int]:
    if name in WEIGHT_KNOBS:
        return (hidden, hidden)
    if name == "V":
        return (1, hidden)
    return (hidden, inputs)


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, each naming the field: 'knobs.U: Input should be a finite number'."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "setup"
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        lines.append(f"{where}: {msg}")
    return "; ".join(lines)

