"""A trained network in the analysis views (issue 14): the Setup fields a trained network needs
(explicit biases and readouts, input kind "task"), the Setup built from a training snapshot, and
the knob setup as training's starting point."""

import numpy as np
import pytest

from simulator import SetupError, compute, reference
from simulator.setup import TASK_INPUT_NAMES, TASK_SEQUENCES, Setup
from simulator.tasks import TASK_NAMES, AddingProblem, CopyMemory, TemporalOrder, task_for_sequence_length
from simulator.trained import networks_for_task, setup_for_networks
from simulator.training import Init, TrainConfig, Trainer
from simulator.weights import input_sequence, lstm_params, rnn_params

from .conftest import BACKENDS


def test_task_names_agree():
    assert TASK_INPUT_NAMES == TASK_NAMES


# --- the new Setup fields ------------------------------------------------------------------------
def test_explicit_biases_and_readouts_are_used_and_default_to_the_knobs_network():
    setup = Setup(hidden_size=3, input_size=1, steps=8, seed=2)
    assert setup.explicit.rnn_b is None and setup.explicit.lstm_V is None
    assert np.array_equal(rnn_params(setup).b, np.zeros(3)) and np.array_equal(rnn_params(setup).c, [0.0])
    assert np.array_equal(lstm_params(setup).V, rnn_params(setup).V)  # one base matrix V for both
    changed = setup.replace(explicit={"rnn_b": [0.5, -0.25, 1.0], "rnn_c": 0.75, "lstm_V": [1.0, 2.0, 3.0],
                                      "lstm_c": -0.5})
    rnn, lstm = rnn_params(changed), lstm_params(changed)
    assert np.array_equal(rnn.b, [0.5, -0.25, 1.0]) and np.array_equal(rnn.c, [0.75])
    assert np.array_equal(lstm.V, [[1.0, 2.0, 3.0]]) and np.array_equal(lstm.c, [-0.5])
    # and the numbers follow: a_t has the bias, the BPTT error has the readout
    before, after = compute(setup, "reference"), compute(changed, "reference")
    np.testing.assert_allclose(after.rnn_a[1] - before.rnn_a[1], [0.5, -0.25, 1.0], atol=1e-15)
    assert not np.array_equal(after.lstm_delta, before.lstm_delta)


@pytest.mark.parametrize("field, value, message", [
    ("rnn_b", [1.0, 2.0], "explicit.rnn_b has 2 values but hidden_size is 3"),
    ("lstm_V", [1.0] * 4, "explicit.lstm_V has 4 values but hidden_size is 3"),
    ("rnn_c", float("nan"), "explicit.rnn_c"),
])
def test_bad_explicit_fields_are_refused_naming_the_field(field, value, message):
    with pytest.raises(SetupError, match=message):
        Setup(hidden_size=3, explicit={field: value})


@pytest.mark.parametrize("name, steps, size", [("adding", 12, 2), ("copy", 23, 10), ("temporal_order", 64, 8)])
def test_input_kind_task_is_a_held_out_test_sequence(name, steps, size):
    setup = Setup(hidden_size=2, input_size=size, steps=steps,
                  input={"kind": "task", "task": name, "sequence": 7})
    task = task_for_sequence_length(name, steps)
    assert task.steps == steps and task.input_size == size
    np.testing.assert_array_equal(input_sequence(setup), task.test_set(TASK_SEQUENCES).x[:, 7, :])


@pytest.mark.parametrize("changes, message", [
    (dict(input_size=1), "input_size must be 2 for adding sequences"),
    (dict(input_size=10, steps=20, input={"kind": "task", "task": "copy"}), "input.task: a copy sequence has at least 21"),
    (dict(input={"kind": "task", "sequence": TASK_SEQUENCES}), "input.sequence"),
])
def test_bad_task_inputs_are_refused(changes, message):
    data = dict(hidden_size=2, input_size=2, steps=12, input={"kind": "task", "task": "adding"})
    data.update(changes)
    with pytest.raises(SetupError, match=message):
        Setup(**data)


# --- a snapshot in the analysis views --------------------------------------------------------------
@pytest.fixture(scope="module")
def trained():
    """Two networks after 30 steps on the adding problem (reference backend: no compile time)."""
    task = AddingProblem(T=12)
    trainer = Trainer(task, TrainConfig(steps=30, hidden_size=4, batch_size=8, test_size=16, backend="reference"))
    trainer.step(30)
    return task, trainer.snapshot_list()[-1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_trained_networks_results_equal_those_of_the_same_weights_given_by_hand(trained, backend):
    task, snapshot = trained
    setup = setup_for_networks(snapshot.rnn, snapshot.lstm, task, sequence=5)
    assert setup.knobs.U == 1.0 and setup.knobs.b_f == 0.0  # the knobs are neutral: the matrices are the weights
    results = compute(setup, backend)
    x = task.test_set(TASK_SEQUENCES).x[:, 5, :]
    target = task.test_set(TASK_SEQUENCES).target_value[task.T, 5, 0]
    assert setup.target == target
    rnn, lstm = snapshot.rnn, snapshot.lstm
    H = setup.hidden_size
    a, S = reference.rnn_forward(rnn.W_x, rnn.U, rnn.b, x, np.zeros(H))
    longrange = reference.rnn_longrange_log10(rnn.U, a, task.T)
    delta, scale, _lossgrad = reference.rnn_bptt(rnn.U, rnn.V, rnn.c, target, a, S, task.T)
    tolerance = dict(rtol=1e-12, atol=1e-14) if backend == "numba" else dict(rtol=0, atol=0)
    for mine, by_hand in ((results.rnn_a, a), (results.rnn_S, S), (results.rnn_longrange_log10, longrange),
                          (results.rnn_delta * 10.0 ** results.rnn_delta_log10_scale[:, None],
                           delta * 10.0 ** scale[:, None])):
        np.testing.assert_allclose(mine, by_hand, **tolerance)
    pre, gates, h, C = reference.lstm_forward(lstm.W_x, lstm.W_h, lstm.b, x, np.zeros(H), np.zeros(H))
    np.testing.assert_allclose(results.lstm_C, C, **tolerance)
    exact, naive = reference.lstm_longrange_log10(lstm.W_h, pre, C, task.T)
    lstm_delta, lstm_scale, _lossgrad = reference.lstm_bptt(lstm.W_h, lstm.V, lstm.c, target, pre, h, C, task.T)
    np.testing.assert_allclose(results.lstm_longrange_log10, exact, **tolerance)
    np.testing.assert_allclose(results.lstm_delta * 10.0 ** results.lstm_delta_log10_scale[..., None],
                               lstm_delta * 10.0 ** lstm_scale[..., None], **tolerance)


def test_the_analysis_bptt_of_a_trained_network_is_its_training_gradient(trained):
    # The adding problem's analysis loss is the training loss of the sequence: the sum over k of
    # the per-step contributions dL_T/dU^(k) is the training gradient of U on that one sequence.
    from simulator import train_reference

    task, snapshot = trained
    results = compute(setup_for_networks(snapshot.rnn, snapshot.lstm, task, sequence=2), "reference")
    summed = sum(results.bptt_contribution_matrix("U", k) for k in range(1, task.T + 1))
    test = task.test_set(TASK_SEQUENCES)
    one = [np.ascontiguousarray(a[:, 2:3]) for a in (test.x, test.loss_weight, test.target_value)]
    rnn = snapshot.rnn
    grads = [np.zeros(np.shape(getattr(rnn, n))) for n in ("W_x", "U", "b", "V", "c")]
    workspace = np.zeros(train_reference.rnn_workspace_size(task.T, 1, 4))
    train_reference.rnn_train_pass(rnn.W_x, rnn.U, rnn.b, rnn.V, rnn.c, *one, test.target_class, task.readout,
                                   test.probe_step[2:3], *grads, workspace)
    np.testing.assert_allclose(summed, grads[1], rtol=1e-10, atol=1e-15)


def test_softmax_tasks_read_out_the_expected_class_row(trained):
    task = CopyMemory(T=3)
    trainer = Trainer(task, TrainConfig(steps=2, hidden_size=3, batch_size=4, test_size=8, backend="reference"))
    snapshot = trainer.snapshot_list()[0]
    setup = setup_for_networks(snapshot.rnn, snapshot.lstm, task, sequence=4)
    expected = task.test_set(TASK_SEQUENCES).target_class[task.steps, 4]
    np.testing.assert_array_equal(rnn_params(setup).V, snapshot.rnn.V[expected:expected + 1])
    np.testing.assert_array_equal(lstm_params(setup).V, snapshot.lstm.V[expected:expected + 1])
    assert setup.target == 1.0 and setup.input.task == "copy" and setup.steps == 23


# --- the knob setup as a starting point ------------------------------------------------------------
def test_the_knob_setup_starts_training_with_its_recurrent_weights_and_biases():
    setup = Setup(hidden_size=4, input_size=1, steps=30, seed=3, knobs={"U": 0.5, "b_f": -3.0},
                  bias_offsets={"b_i": [0.1, 0.2, 0.3, 0.4]})
    task = TemporalOrder(min_length=61, max_length=64)
    rnn, lstm = networks_for_task(setup, task)
    np.testing.assert_array_equal(rnn.U, rnn_params(setup).U)  # the same seeded U, times the knob
    np.testing.assert_array_equal(lstm.W_h, lstm_params(setup).W_h)
    np.testing.assert_array_equal(lstm.b, lstm_params(setup).b)
    assert lstm.b[1, 0] == -3.0 and rnn.W_x.shape == (4, 8) and lstm.W_x.shape == (4, 4, 8)
    trainer = Trainer(task, TrainConfig(steps=1, hidden_size=4, test_size=4, backend="reference"),
                      rnn_init=rnn, lstm_init=lstm)
    assert np.array_equal(trainer.rnn_params().U, rnn.U) and trainer.lstm_params().V.shape == (4, 4)
    assert Init()  # the standard initialisations stay available beside it
