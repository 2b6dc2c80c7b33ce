"""RNN Gradient Lab's simulator: numerics and state. Never imports Qt, pyqtgraph or ui."""

from ._numba_env import configure as _configure_numba_cache

_configure_numba_cache()  # before anything imports numba

from .chaos import Sensitivity, chaos_note  # noqa: E402
from .paths import PATH_WEIGHTS, count_paths, path_ledger, paths_by_k, paths_to, rnn_path  # noqa: E402
from .reference import LOG10_OF_ZERO, TERM_NAMES  # noqa: E402
from .results import BACKENDS, LSTM_RECURRENT, Results, compute, default_backend  # noqa: E402
from .setup import (  # noqa: E402
    BIAS_KNOBS,
    BiasOffsets,
    InitialState,
    KNOB_NAMES,
    SIGNAL_KINDS,
    WEIGHT_KNOBS,
    InputSignal,
    Knobs,
    Setup,
    SetupError,
)
from .simulation import Simulation  # noqa: E402
from .stream import Cancelled, ComputeJob  # noqa: E402
from .tasks import TASK_NAMES, AddingProblem, Batch, CopyMemory, Task, TemporalOrder, make_task  # noqa: E402
from .training import Init, Snapshot, TrainConfig, Trainer  # noqa: E402
from .weights import GATES  # noqa: E402


def warm_up() -> None:
    """Compile (or load from the cache) every numba kernel once, on a tiny setup."""
    compute(Setup(hidden_size=2, input_size=1, steps=3), backend="numba").lstm_term_norms(1)
    compute(Setup(hidden_size=1, input_size=1, steps=3), backend="numba")


__all__ = [
    "BACKENDS", "BIAS_KNOBS", "Cancelled", "ComputeJob", "GATES", "KNOB_NAMES", "LOG10_OF_ZERO", "LSTM_RECURRENT",
    "PATH_WEIGHTS", "SIGNAL_KINDS", "TERM_NAMES", "WEIGHT_KNOBS", "BiasOffsets", "InitialState", "InputSignal",
    "Knobs", "Results", "Setup", "SetupError", "Sensitivity", "Simulation", "chaos_note", "compute", "count_paths",
    "default_backend", "path_ledger", "paths_by_k", "paths_to", "rnn_path", "warm_up",
    "TASK_NAMES", "AddingProblem", "Batch", "CopyMemory", "Task", "TemporalOrder", "make_task",
    "Init", "Snapshot", "TrainConfig", "Trainer",
]
