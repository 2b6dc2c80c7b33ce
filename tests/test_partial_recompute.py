"""compute(setup, previous=...) reuses one network's arrays when only the other's inputs changed.

The reuse must never serve stale numbers: for a change of *every* field of the setup (found by
walking the pydantic models, so a field added later is covered automatically), the result with
`previous` equals a fresh compute exactly, array by array. And it must actually happen: turning
U keeps the LSTM's arrays (the same objects), turning a gate knob keeps the RNN's.
"""

import numpy as np
import pytest

from simulator import Setup, compute
from simulator.results import _LSTM_FIELDS, _RNN_FIELDS
from simulator.setup import BASE_MATRIX_NAMES, BIAS_KNOBS, KNOB_NAMES, Knobs, base_matrix_shape

from .conftest import BACKENDS

BASE = Setup(hidden_size=3, input_size=2, steps=6, seed=1,
             input={"kind": "sine", "amplitude": 0.7, "period": 5.0},
             bias_offsets={"b_f": [0.1, -0.2, 0.3]})


def _changes(setup: Setup) -> list[tuple[str, Setup]]:
    """One changed copy of `setup` per leaf field of the model."""
    data = setup.model_dump()
    changed = []
    H, D = setup.hidden_size, setup.input_size
    for name in Setup.model_fields:
        if name in ("knobs", "input", "initial", "bias_offsets", "weights", "explicit"):
            continue
        value = data[name]
        extra = {"bias_offsets": {}} if name == "hidden_size" else {}  # offsets are per unit
        changed.append((name, setup.replace(**{name: value + 1 if name != "target" else value - 0.5}, **extra)))
    for name in Knobs.model_fields:
        changed.append((f"knobs.{name}", setup.with_knob(name, getattr(setup.knobs, name) + 0.25)))
    for name, value in data["input"].items():
        if name in ("task", "sequence"):  # a task's test sequence: input_size and steps are the task's
            task_input = {**data["input"], "kind": "task", "task": "adding", "sequence": 0}
            task_setup = setup.replace(input=task_input)
            changed.append((f"input.{name}", task_setup))
            new = "copy" if name == "task" else 3
            changed.append((f"input.{name}", task_setup.replace(input={**task_input, name: new},
                                                                 input_size=10 if name == "task" else 2,
                                                                 steps=setup.steps + 20 if name == "task" else setup.steps)))
            continue
        new = "white_noise" if name == "kind" else value * 1.5
        changed.append((f"input.{name}", setup.replace(input={**data["input"], name: new})))
    for name, value in data["explicit"].items():
        new = [0.1 * (i - 1) for i in range(H)] if value is None else value + 0.375
        changed.append((f"explicit.{name}", setup.replace(explicit={**data["explicit"], name: new})))
    for name, value in data["initial"].items():
        changed.append((f"initial.{name}", setup.replace(initial={**data["initial"], name: value + 0.25})))
    for name in BIAS_KNOBS:
        offsets = {**data["bias_offsets"], name: [0.05 * (i + 1) for i in range(H)]}
        changed.append((f"bias_offsets.{name}", setup.replace(bias_offsets=offsets)))
    for name in BASE_MATRIX_NAMES:
        rows, cols = base_matrix_shape(name, H, D)
        matrix = np.random.default_rng(len(name)).standard_normal((rows, cols)) * 0.5
        changed.append((f"weights.{name}", setup.replace(weights={name: matrix.tolist()})))
    return changed


def test_every_leaf_field_is_covered():
    # the walk above must see every field of the nested models
    names = {name for name, _ in _changes(BASE)}
    assert {f"knobs.{k}" for k in KNOB_NAMES} <= names
    assert {"hidden_size", "input_size", "steps", "seed", "target"} <= names
    assert {"input.kind", "input.amplitude", "input.period", "initial.S0", "initial.h0", "initial.C0"} <= names
    assert {"input.task", "input.sequence", "explicit.rnn_b", "explicit.rnn_c", "explicit.lstm_V",
            "explicit.lstm_c"} <= names


@pytest.mark.parametrize("backend", BACKENDS)
def test_reuse_never_serves_stale_arrays(backend):
    previous = compute(BASE, backend)
    for label, setup in _changes(BASE):
        fresh = compute(setup, backend)
        reused = compute(setup, backend, previous=previous)
        for name in _RNN_FIELDS + _LSTM_FIELDS:
            assert np.array_equal(getattr(reused, name), getattr(fresh, name)), f"{label}: {name} is stale"


@pytest.mark.parametrize("backend", BACKENDS)
def test_turning_U_recomputes_only_the_rnn(backend):
    previous = compute(BASE, backend)
    after = compute(BASE.with_knob("U", 1.7), backend, previous=previous)
    assert all(getattr(after, name) is getattr(previous, name) for name in _LSTM_FIELDS)
    assert not np.array_equal(after.rnn_S, previous.rnn_S)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("knob", ["W_hf", "W_hi", "W_hg", "W_ho", "b_i", "b_f", "b_g", "b_o"])
def test_turning_a_gate_knob_recomputes_only_the_lstm(backend, knob):
    previous = compute(BASE, backend)
    after = compute(BASE.with_knob(knob, 2.5), backend, previous=previous)
    assert all(getattr(after, name) is getattr(previous, name) for name in _RNN_FIELDS)
    assert not np.array_equal(after.lstm_C, previous.lstm_C)


NEEDS_NUMBA = pytest.mark.skipif("numba" not in BACKENDS, reason="numba kernels not installed")


@NEEDS_NUMBA
def test_no_reuse_across_backends():
    previous = compute(BASE, "reference")
    after = compute(BASE.with_knob("U", 1.7), "numba", previous=previous)
    assert after.lstm_C is not previous.lstm_C


def test_shared_arrays_are_read_only():
    results = compute(BASE, BACKENDS[-1])
    with pytest.raises(ValueError):
        results.lstm_C[0, 0] = 1.0


@NEEDS_NUMBA
def test_two_threads_give_the_same_arrays_as_one():
    # with the numba kernels, a job runs chunks on two threads: same numbers, bit for bit
    from simulator.stream import ComputeJob

    setup = BASE.replace(hidden_size=4, bias_offsets={}, steps=30)
    one = ComputeJob(setup, "numba", threads=1).run()
    two = ComputeJob(setup, "numba", threads=2, chunk_steps=2).run()
    for name in _RNN_FIELDS + _LSTM_FIELDS:
        assert np.array_equal(getattr(one, name), getattr(two, name)), name


@NEEDS_NUMBA
def test_an_error_on_the_helper_thread_reaches_the_caller(monkeypatch):
    import threading
    import time

    from simulator import kernels
    from simulator.stream import ComputeJob

    def on_the_helper_it_fails(kernel):
        def run(*args):
            if threading.current_thread().name == "simulator helper":
                raise FloatingPointError("from the helper thread")
            time.sleep(0.002)  # the calling thread leaves work to the helper
            return kernel(*args)
        return run

    for name in ("rnn_forward_steps", "lstm_forward_steps", "rnn_bptt_steps", "lstm_bptt_steps"):
        monkeypatch.setattr(kernels, name, on_the_helper_it_fails(getattr(kernels, name)))
    job = ComputeJob(BASE.replace(steps=30), "numba", threads=2, chunk_steps=1)
    with pytest.raises(FloatingPointError, match="helper thread"):
        job.run()
    assert not any(t.name == "simulator helper" for t in threading.enumerate())
    # the half-done work is never taken over by a later job
    assert all(network.broken for network in job._networks.values())
