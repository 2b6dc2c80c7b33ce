"""The training engine of issue 14: tasks, exact BPTT training gradients, kernels, optimisers,
the Trainer (reproducibility, snapshots) and the CI-sized claim that the LSTM learns the adding
problem. Maths: docs/training-maths.md."""

import math

import numpy as np
import pytest

from simulator import reference, train_reference
from simulator.setup import Setup
from simulator.tasks import SOFTMAX, AddingProblem, CopyMemory, TemporalOrder, make_task
from simulator.training import Init, TrainConfig, Trainer, init_lstm, init_rnn
from simulator.weights import RNNParams, rnn_params

from .conftest import BACKENDS


def _kernels(backend):
    if backend == "reference":
        return train_reference
    from simulator import train_kernels

    return train_kernels


TASKS = {
    "adding": lambda: AddingProblem(T=6),
    "copy": lambda: CopyMemory(T=2),
    "temporal_order": lambda: TemporalOrder(min_length=61, max_length=64),
}


def _random_params(kind, task, hidden, rng, scale=0.7):
    D, O = task.input_size, task.output_size
    if kind == "rnn":
        shapes = [(hidden, D), (hidden, hidden), (hidden,), (O, hidden), (O,)]
    else:
        shapes = [(4, hidden, D), (4, hidden, hidden), (4, hidden), (O, hidden), (O,)]
    return [rng.normal(0.0, scale, s) for s in shapes]


def _train_pass(module, kind, params, task, batch):
    grads = [np.full(p.shape, np.nan) for p in params]  # NaN: every entry must be written
    size_of = getattr(module, f"{kind}_workspace_size")
    workspace = np.full(size_of(batch.steps, batch.size, params[1].shape[-1]), np.nan)
    out = getattr(module, f"{kind}_train_pass")(
        *params, batch.x, batch.loss_weight, batch.target_value, batch.target_class, task.readout,
        batch.probe_step, *grads, workspace)
    return out, grads


def _loss(module, kind, params, task, batch):
    return _train_pass(module, kind, params, task, batch)[0][0]


# ----------------------------------------------------------------------------------------------
# Exactness
# ----------------------------------------------------------------------------------------------


# every task with the kernels the trainer uses; the numpy twin on the adding problem (it is checked
# against the kernels to round-off on every task below; its finite differences at T = 64 take 10 s)
FD_CASES = [(backend, kind, task_name) for backend in BACKENDS for kind in ("rnn", "lstm")
            for task_name in TASKS if backend == BACKENDS[-1] or task_name == "adding"]


@pytest.mark.parametrize("backend, kind, task_name", FD_CASES)
def test_training_gradient_matches_central_finite_differences(backend, kind, task_name):
    task = TASKS[task_name]()
    module = _kernels(backend)
    rng = np.random.default_rng([7, len(task_name), len(kind)])
    batch = task.make_batch(np.random.default_rng(3), 3)
    params = _random_params(kind, task, 3, rng)
    (loss, *_), grads = _train_pass(module, kind, params, task, batch)
    assert loss > 0.01
    step = 1e-6
    for name, p, g in zip(("W_x", "U/W_h", "b", "V", "c"), params, grads):
        fd = np.zeros_like(p)
        for index in np.ndindex(p.shape):
            old = p[index]
            p[index] = old + step
            plus = _loss(module, kind, params, task, batch)
            p[index] = old - step
            minus = _loss(module, kind, params, task, batch)
            p[index] = old
            fd[index] = (plus - minus) / (2.0 * step)
        assert np.abs(g).max() > 1e-6, name  # a real gradient, not a vanishing one
        assert np.abs(fd - g).max() <= 1e-6 * np.abs(g).max(), (name, np.abs(fd - g).max())


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
@pytest.mark.parametrize("task_name", list(TASKS))
def test_numba_kernels_match_numpy_twin(kind, task_name):
    from simulator import train_kernels

    task = TASKS[task_name]()
    rng = np.random.default_rng([11, len(task_name), len(kind)])
    batch = task.make_batch(np.random.default_rng(5), 7)
    params = _random_params(kind, task, 5, rng, scale=1.5)  # large weights: saturated units too
    out_ref, grads_ref = _train_pass(train_reference, kind, params, task, batch)
    out_nb, grads_nb = _train_pass(train_kernels, kind, params, task, batch)
    assert out_nb[0] == pytest.approx(out_ref[0], rel=1e-13)
    for a, b in zip(grads_nb, grads_ref):
        assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max()
    for a, b in zip(out_nb[1:], out_ref[1:]):  # marker gradient norms
        assert np.all(b > 0.0)
        np.testing.assert_allclose(a, b, rtol=1e-10)
    args = (*params, batch.x, batch.loss_weight, batch.target_value, batch.target_class,
            task.readout, batch.accuracy_mask)
    loss_ref, correct_ref = getattr(train_reference, f"{kind}_evaluate")(*args)
    loss_nb, correct_nb = getattr(train_kernels, f"{kind}_evaluate")(*args)
    assert loss_nb == pytest.approx(loss_ref, rel=1e-13)
    assert loss_ref == pytest.approx(out_ref[0], rel=1e-13)  # evaluation = the training pass's loss
    assert correct_nb == correct_ref


def test_vectorised_exp_is_within_one_ulp():
    from simulator.train_kernels import EXP_FLOOR, _exp_nonpositive

    x = np.concatenate([-np.linspace(0.0, 708.0, 200001), -np.logspace(-300, 0, 2000)])
    out = np.empty_like(x)
    _exp_nonpositive(x.copy(), out)
    exact = np.exp(x)
    assert np.max(np.abs(out - exact) / exact) <= 2.3e-16
    far = np.array([-709.0, -1e4, -np.inf])
    _exp_nonpositive(far.copy(), out[:3])
    np.testing.assert_allclose(out[:3], np.exp(EXP_FLOOR), rtol=3e-16)  # clamped, finite, > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_adding_gradient_is_the_sum_of_the_analysis_bptt_contributions(backend):
    """Batch size 1, one loss at step T: dL/dW = sum_k dL/dW^(k), with the per-step contributions
    from reference.rnn_bptt / lstm_bptt (what the BPTT bars show) on the same weights and input."""
    module = _kernels(backend)
    task = AddingProblem(T=12)
    batch = task.make_batch(np.random.default_rng(2), 1)
    x = batch.x[:, 0, :]
    target = batch.target_value[task.T, 0]
    k = int(batch.probe_step[0])
    rng = np.random.default_rng(4)
    H, T = 4, task.T
    # RNN
    W_x, U, b, V, c = _random_params("rnn", task, H, rng)
    (loss, probe), grads = _train_pass(module, "rnn", [W_x, U, b, V, c], task, batch)
    a, S = reference.rnn_forward(W_x, U, b, x, np.zeros(H))
    delta, scale, _lossgrad = reference.rnn_bptt(U, V, c, target, a, S, T)
    delta = delta * 10.0 ** scale[:, None]  # dL/da_k
    assert loss == pytest.approx(0.5 * float(((V @ S[T] + c - target) ** 2)[0]), rel=1e-14)
    per_step_U = [np.outer(delta[j], S[j - 1]) for j in range(1, T + 1)]
    np.testing.assert_allclose(grads[1], sum(per_step_U), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads[0], sum(np.outer(delta[j], x[j]) for j in range(1, T + 1)),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads[2], delta[1:].sum(axis=0), rtol=1e-12, atol=1e-15)
    assert probe[0] == pytest.approx(np.linalg.norm(U.T @ delta[k + 1]), rel=1e-12)  # ||dL/dS_k||
    # LSTM
    W_x, W_h, b, V, c = _random_params("lstm", task, H, rng)
    (loss, probe_h, _), grads = _train_pass(module, "lstm", [W_x, W_h, b, V, c], task, batch)
    pre, gates, h, C = reference.lstm_forward(W_x, W_h, b, x, np.zeros(H), np.zeros(H))
    delta, scale, _lossgrad = reference.lstm_bptt(W_h, V, c, target, pre, h, C, T)
    delta = delta * 10.0 ** scale[:, :, None]  # one log scale per step and gate
    assert loss == pytest.approx(0.5 * float(((V @ h[T] + c - target) ** 2)[0]), rel=1e-14)
    for gate in range(4):
        contributions = [np.outer(delta[j, gate], h[j - 1]) for j in range(1, T + 1)]
        np.testing.assert_allclose(grads[1][gate], sum(contributions), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(grads[0][gate], sum(np.outer(delta[j, gate], x[j]) for j in range(1, T + 1)),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(grads[2][gate], delta[1:, gate].sum(axis=0), rtol=1e-12, atol=1e-15)
    grad_h_k = sum(W_h[gate].T @ delta[k + 1, gate] for gate in range(4))
    assert probe_h[0] == pytest.approx(np.linalg.norm(grad_h_k), rel=1e-12)  # ||dL/dh_k||


@pytest.mark.parametrize("backend", BACKENDS)
def test_optimiser_steps(backend):
    module = _kernels(backend)
    rng = np.random.default_rng(0)
    theta0, grad = rng.normal(size=50), rng.normal(size=50)
    theta, m, v = theta0.copy(), np.zeros(50), np.zeros(50)
    for step in (1, 2):
        module.adam_step(theta, grad, m, v, 0.01, 0.9, 0.999, 1e-8, step)
    # Adam by hand (Kingma & Ba), two steps of the same gradient
    m_hat = grad  # (1 - 0.9^n) g / (1 - 0.9^n)
    v_hat = grad ** 2
    np.testing.assert_allclose(theta, theta0 - 2 * 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8), rtol=1e-12)
    theta, buffer = theta0.copy(), np.zeros(50)
    module.sgd_step(theta, grad, buffer, 0.1, 0.9)
    module.sgd_step(theta, grad, buffer, 0.1, 0.9)
    np.testing.assert_allclose(theta, theta0 - 0.1 * grad - 0.1 * 1.9 * grad, rtol=1e-14)


def test_gradient_clipping_by_norm_and_by_value():
    task = AddingProblem(T=10)
    for kind, limit in (("norm", 0.05), ("value", 0.01)):
        config = TrainConfig(steps=1, hidden_size=4, batch_size=4, optimizer="sgd", learning_rate=1.0,
                             clip=limit, clip_kind=kind, test_size=4, backend="reference")
        trainer = Trainer(task, config)
        before = trainer.rnn.theta.copy()
        trainer.step()
        change = before - trainer.rnn.theta  # = the clipped gradient (SGD, lr 1)
        unclipped = trainer.history.rnn.grad_norm[1]
        assert unclipped > limit
        if kind == "norm":
            assert np.linalg.norm(change) == pytest.approx(limit * unclipped / (unclipped + 1e-6), rel=1e-12)
        else:
            assert np.abs(change).max() == pytest.approx(limit, rel=1e-12)


# ----------------------------------------------------------------------------------------------
# Tasks
# ----------------------------------------------------------------------------------------------


def test_adding_problem_sequences_and_baseline():
    task = AddingProblem(T=11)
    batch = task.make_batch(np.random.default_rng(0), 100_000)
    T, half = 11, 5
    values, marker = batch.x[1:, :, 0], batch.x[1:, :, 1]
    assert np.all((values >= 0.0) & (values < 1.0)) and np.all(batch.x[0] == 0.0)
    assert np.all(marker.sum(axis=0) == 2.0)
    assert np.all(marker[:half].sum(axis=0) == 1.0) and np.all(marker[half:].sum(axis=0) == 1.0)
    assert set(np.unique(np.argmax(marker[:half], axis=0) + 1)) == set(range(1, half + 1))
    target = batch.target_value[T, :, 0]
    np.testing.assert_allclose(target, (values * marker).sum(axis=0), rtol=1e-15)
    np.testing.assert_array_equal(batch.probe_step, np.argmax(marker, axis=0) + 1)  # the first marker
    assert np.all(batch.loss_weight[T] == 1.0) and batch.loss_weight.sum() == 100_000
    mse_of_answering_one = np.mean((target - 1.0) ** 2)
    assert mse_of_answering_one == pytest.approx(task.baseline, abs=3e-3)  # 1/6, std of the mean 6e-4
    assert task.baseline == 1.0 / 6.0
    assert task.reported_loss(0.5 * mse_of_answering_one) == pytest.approx(mse_of_answering_one)


def test_copy_memory_sequences_and_baseline():
    T = 7
    task = CopyMemory(T=T)
    batch = task.make_batch(np.random.default_rng(1), 20_000)
    assert batch.steps == T + 20
    tokens = np.argmax(batch.x[1:], axis=2)  # (T + 20, B)
    assert np.all(batch.x[1:].sum(axis=2) == 1.0)  # one-hot
    symbols = tokens[:10]
    assert symbols.min() == 1 and symbols.max() == 8
    assert np.all(tokens[10:T + 9] == 0) and np.all(tokens[T + 9] == 9) and np.all(tokens[T + 10:] == 0)
    target = batch.target_class[1:]
    assert np.all(target[:T + 10] == 0)
    np.testing.assert_array_equal(target[T + 10:], symbols)
    assert np.all(batch.loss_weight[1:] == 1.0 / (T + 20)) and np.all(batch.loss_weight[0] == 0.0)
    assert batch.accuracy_mask.sum(axis=0).tolist() == [10] * 20_000
    # the memoryless strategy: blank until the delimiter, then uniform over the 8 symbols; as the
    # bias c of a softmax readout whose states are 1 and V = 0 (the readout's own code)
    loss = 0.0
    for t in range(1, T + 21):
        c = np.zeros(9)
        c[0] = 60.0 if t <= T + 10 else -60.0  # p(blank) = 1 - 8e-27, then e^-60 / 8
        loss += train_reference.readout_step(np.zeros((9, 1)), c, np.ones((batch.size, 1)),
                                             batch.loss_weight[t], None, batch.target_class[t],
                                             SOFTMAX)[0]
    assert loss / batch.size == pytest.approx(task.baseline, rel=1e-12)
    assert task.baseline == pytest.approx(10 * math.log(8) / (T + 20), rel=1e-15)


def test_temporal_order_sequences_and_baseline():
    task = TemporalOrder()
    batch = task.make_batch(np.random.default_rng(2), 5_000)
    tokens = np.argmax(batch.x[1:], axis=2)
    live = batch.x[1:].sum(axis=2)
    lengths = live.sum(axis=0).astype(int)
    assert lengths.min() == 100 and lengths.max() == 110
    sequences = np.arange(batch.size)
    assert np.all(tokens[0] == task.E) and np.all(tokens[lengths - 1, sequences] == task.B)
    is_xy = (tokens == task.X) | (tokens == task.Y)
    assert np.all(is_xy.sum(axis=0) == 2)
    first = np.argmax(is_xy, axis=0) + 1
    second = 110 - np.argmax(is_xy[::-1], axis=0)
    assert first.min() == 10 and first.max() == 20 and second.min() == 50 and second.max() == 60
    np.testing.assert_array_equal(batch.probe_step, first)
    label = 2 * (tokens[first - 1, sequences] == task.Y) + (tokens[second - 1, sequences] == task.Y)
    np.testing.assert_array_equal(batch.target_class[lengths, sequences], label)
    assert np.all(np.bincount(label) > 1100)  # the 4 classes, about 1250 each
    assert np.array_equal(batch.loss_weight > 0, batch.accuracy_mask)
    assert batch.loss_weight.sum() == batch.size
    # guessing (equal logits) scores ln 4
    loss = sum(train_reference.readout_step(np.zeros((4, 1)), np.zeros(4), np.ones((batch.size, 1)),
                                            batch.loss_weight[t], None, batch.target_class[t], SOFTMAX)[0]
               for t in range(1, 111))
    assert loss / batch.size == pytest.approx(task.baseline, rel=1e-14)


def test_batches_are_seeded_and_the_test_set_is_held_out():
    task = make_task("adding", T=30)
    one, again = task.train_batch(5, 17, 8), task.train_batch(5, 17, 8)
    np.testing.assert_array_equal(one.x, again.x)
    assert not np.array_equal(one.x, task.train_batch(5, 18, 8).x)
    assert not np.array_equal(one.x, task.train_batch(6, 17, 8).x)
    test = task.test_set(64)
    assert test is AddingProblem(T=30).test_set(64)  # one fixed test set per task and size
    assert not np.any([np.array_equal(test.x[:, :8], task.train_batch(s, n, 8).x)
                       for s in range(3) for n in range(1, 4)])
    with pytest.raises(ValueError):
        make_task("parity")


# ----------------------------------------------------------------------------------------------
# Initialisation
# ----------------------------------------------------------------------------------------------


def test_standard_initialisations():
    rng = np.random.default_rng(0)
    H, D, O = 16, 3, 2
    bound = 1.0 / 4.0
    p = init_rnn(Init("pytorch"), H, D, O, rng)
    assert p.U.shape == (H, H) and p.V.shape == (O, H) and p.c.shape == (O,)
    for array in (p.W_x, p.U, p.V, p.c):
        assert np.abs(array).max() <= bound and np.abs(array).max() > 0.8 * bound
    assert np.abs(p.b).max() <= 2 * bound  # PyTorch's b_ih + b_hh
    p = init_rnn(Init("orthogonal"), H, D, O, rng)
    np.testing.assert_allclose(p.U.T @ p.U, np.eye(H), atol=1e-14)
    assert np.all(p.b == 0.0)
    p = init_rnn(Init("identity"), H, D, O, rng)
    assert np.array_equal(p.U, np.eye(H)) and np.all(p.b == 0.0)
    q = init_lstm(Init("orthogonal", forget_bias=1.0), H, D, O, rng)
    for gate in range(4):
        np.testing.assert_allclose(q.W_h[gate].T @ q.W_h[gate], np.eye(H), atol=1e-14)
    assert np.all(q.b[1] == 1.0) and np.all(q.b[[0, 2, 3]] == 0.0)
    q = init_lstm(Init(chrono=100.0), H, D, O, rng)
    assert np.all((q.b[1] >= 0.0) & (q.b[1] <= math.log(99.0))) and np.array_equal(q.b[0], -q.b[1])
    with pytest.raises(ValueError):
        init_lstm(Init("identity"), H, D, O, rng)
    with pytest.raises(ValueError):
        Init(forget_bias=1.0, chrono=50.0)


def test_explicit_parameters_are_used_as_given():
    """The knob setup's networks (weights.rnn_params / lstm_params) start training as they are."""
    from simulator.weights import lstm_params

    setup = Setup(hidden_size=4, input_size=2, steps=10)
    rnn, lstm = rnn_params(setup), lstm_params(setup)
    trainer = Trainer(AddingProblem(T=10), TrainConfig(steps=5, hidden_size=4, test_size=8),
                      rnn_init=rnn, lstm_init=lstm)
    snapshot = trainer.snapshots[0]
    assert snapshot.step == 0
    for name in ("W_x", "U", "b", "V", "c"):
        np.testing.assert_array_equal(getattr(snapshot.rnn, name), getattr(rnn, name))
    for name in ("W_x", "W_h", "b", "V", "c"):
        np.testing.assert_array_equal(getattr(snapshot.lstm, name), getattr(lstm, name))
    # a readout with the wrong number of outputs is drawn anew; the rest stays
    copy = Trainer(CopyMemory(T=3), TrainConfig(steps=5, hidden_size=4, test_size=8),
                   rnn_init=RNNParams(np.zeros((4, 10)), rnn.U, rnn.b, rnn.V, rnn.c))
    assert copy.rnn_params().V.shape == (9, 4) and np.array_equal(copy.rnn_params().U, rnn.U)
    with pytest.raises(ValueError):
        Trainer(AddingProblem(T=10), TrainConfig(steps=5, hidden_size=8), rnn_init=rnn)


# ----------------------------------------------------------------------------------------------
# The trainer
# ----------------------------------------------------------------------------------------------


def _state(trainer):
    h = trainer.history
    arrays = [trainer.rnn.theta, trainer.lstm.theta, trainer.rnn.moment1, trainer.lstm.moment2,
              h.test_steps, h.rnn.train_loss, h.lstm.train_loss, h.rnn.marker_grad, h.lstm.marker_grad_C,
              h.rnn.grad_norm, h.lstm.test_loss, h.lstm.test_accuracy]
    arrays += [s.lstm.W_h for s in trainer.snapshots]
    return arrays


@pytest.mark.parametrize("task_name", ["adding", "copy"])
def test_same_seed_same_run_in_one_go_or_in_slices(task_name):
    task = AddingProblem(T=15) if task_name == "adding" else CopyMemory(T=4)
    config = TrainConfig(steps=23, hidden_size=5, batch_size=4, test_every=5, test_size=16,
                         snapshot_every=3, max_snapshots=4)
    one_go = Trainer(task, config)
    assert one_go.step(100) == 23 and one_go.finished and one_go.step() == 0
    sliced = Trainer(task, config)
    for n in (1, 4, 7, 2, 9):
        sliced.step(n)
    assert sliced.finished
    for a, b in zip(_state(one_go), _state(sliced), strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    assert [s.step for s in one_go.snapshots] == [s.step for s in sliced.snapshots]
    sliced.reset()  # the same run again
    sliced.run()
    for a, b in zip(_state(one_go), _state(sliced), strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    other = Trainer(task, TrainConfig(**{**vars(config), "seed": 1}))
    other.step(23)
    assert not np.array_equal(other.lstm.theta, one_go.lstm.theta)
    if task_name == "copy":
        assert np.all((one_go.history.lstm.test_accuracy[:6] >= 0.0) & (one_go.history.lstm.test_accuracy[:6] <= 1.0))


def test_history_fields_and_snapshots():
    task = AddingProblem(T=12)
    config = TrainConfig(steps=40, hidden_size=4, batch_size=8, test_every=10, test_size=32,
                         snapshot_every=5, max_snapshots=5)
    trainer = Trainer(task, config)
    assert trainer.history.test_count == 1 and trainer.history.test_steps[0] == 0
    trainer.step(40)
    h = trainer.history
    assert h.step_count == 40 and h.test_count == 5
    assert h.test_steps[:5].tolist() == [0, 10, 20, 30, 40]
    for curves in (h.rnn, h.lstm):
        assert np.isnan(curves.train_loss[0]) and np.all(np.isfinite(curves.train_loss[1:]))
        assert np.all(curves.marker_grad[1:] > 0.0) and np.all(curves.grad_norm[1:] > 0.0)
        assert np.all(np.isnan(curves.test_accuracy[:5]))  # the adding problem has no accuracy
        assert curves.seconds > 0.0
    assert np.all(np.isnan(h.rnn.marker_grad_C)) and np.all(h.lstm.marker_grad_C[1:] > 0.0)
    assert np.all(np.diff(h.elapsed) > 0.0) and h.steps_per_second() > 0.0
    # the test loss recorded is the test loss of the networks' weights at that step
    assert h.lstm.test_loss[4] == trainer.evaluate()["lstm"][0]
    # snapshots: at most 5, spread over the whole run, the last one the final weights
    steps = [s.step for s in trainer.snapshots]
    assert len(steps) <= 5 and steps[0] == 0 and steps[-1] == 40 and steps == sorted(steps)
    assert trainer.snapshot_interval == 10 and steps == [0, 10, 20, 30, 40]  # thinned at 25: 0, 10, 20
    final = trainer.snapshots[-1]
    assert np.array_equal(final.lstm.W_h, trainer.lstm_params().W_h)
    assert np.array_equal(final.rnn.U, trainer.rnn_params().U)
    with pytest.raises(ValueError):
        final.rnn.U[0, 0] = 1.0  # read-only copies
    trainer.record_test()  # already tested at step 40: nothing added
    assert h.test_count == 5
    progress = trainer.progress()
    assert progress["step"] == 40 and progress["sequences_seen"] == 320 and progress["seconds_left"] == 0.0


@pytest.mark.parametrize("bad", [dict(steps=0), dict(optimizer="rmsprop"), dict(clip=0.0),
                                 dict(clip_kind="global"), dict(learning_rate=-1e-3), dict(momentum=1.0),
                                 dict(betas=(0.9, 1.0)), dict(backend="torch"), dict(max_snapshots=1)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


def test_training_in_a_worker_thread_while_another_reads():
    import threading

    task = AddingProblem(T=15)
    config = TrainConfig(steps=60, hidden_size=6, batch_size=8, test_every=20, test_size=32, snapshot_every=7)
    alone = Trainer(task, config)
    alone.step(60)
    trainer = Trainer(task, config)
    worker = threading.Thread(target=lambda: [trainer.step(5) for _ in range(12)])
    worker.start()
    seen = []
    while worker.is_alive():  # read while it trains: weights, snapshots, progress
        seen.append(trainer.progress()["step"])
        params = trainer.lstm_params()
        assert np.all(np.isfinite(params.W_h))
        assert all(s.step <= config.steps for s in trainer.snapshot_list())
    worker.join()
    assert seen == sorted(seen)
    for a, b in zip(_state(alone), _state(trainer), strict=True):
        assert np.array_equal(a, b, equal_nan=True)


def test_tests_off_the_schedule_are_recorded():
    trainer = Trainer(AddingProblem(T=8), TrainConfig(steps=6, hidden_size=3, batch_size=4, test_every=6,
                                                      test_size=16))
    assert trainer.history.test_steps.size == 3  # steps // test_every + 2
    for _ in range(6):
        trainer.step()
        trainer.record_test()  # after the step-6 scheduled test: nothing more
    h = trainer.history
    assert h.test_count == 7 and h.test_steps[:7].tolist() == list(range(7))
    assert np.all(np.isfinite(h.lstm.test_loss[:7])) and h.lstm.test_loss[6] == trainer.evaluate()["lstm"][0]


def test_ci_claim_the_lstm_learns_the_adding_problem():
    """Adding problem, T = 20, H = 8, Adam lr 1e-2, batch 32, clipping 1, forget bias 1, seed 0:
    the LSTM starts near the 1/6 baseline and reaches test MSE < 0.01 within 800 steps, and its
    training loss really goes down."""
    config = TrainConfig(steps=800, hidden_size=8, batch_size=32, test_every=50, test_size=500, seed=0)
    trainer = Trainer(AddingProblem(T=20), config)
    trainer.step(800)
    lstm = trainer.history.lstm
    assert lstm.test_loss[0] >= 0.1  # the initial network is far from the success line
    assert lstm.first_success_step is not None and lstm.first_success_step <= 800
    assert lstm.test_loss[trainer.history.test_count - 1] < 0.01
    first, last = lstm.train_loss[1:81], lstm.train_loss[-80:]
    assert last.mean() < 0.5 * first.mean()
    assert last.mean() < 0.02
