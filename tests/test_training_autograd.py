"""Optional second oracle for the training gradients: PyTorch's nn.RNN / nn.LSTM and autograd
(float64). Runs only where torch is installed. Also proves that the parameter layout is
PyTorch's: W_x, W_h and b flattened to (4H, .) are weight_ih_l0, weight_hh_l0 and bias_ih_l0."""

import numpy as np
import pytest

from simulator.tasks import LINEAR, AddingProblem, CopyMemory, TemporalOrder

from .conftest import BACKENDS
from .test_training import _kernels, _random_params, _train_pass

torch = pytest.importorskip("torch")


def _torch_loss(kind, params, task, batch):
    W_x, W_rec, b, V, c = (torch.tensor(p, dtype=torch.float64) for p in params)
    H, D = W_rec.shape[-1], task.input_size
    if kind == "rnn":
        net = torch.nn.RNN(D, H, nonlinearity="tanh").double()
    else:
        net = torch.nn.LSTM(D, H).double()
    with torch.no_grad():
        net.weight_ih_l0.copy_(W_x.reshape(-1, D))
        net.weight_hh_l0.copy_(W_rec.reshape(-1, H))
        net.bias_ih_l0.copy_(b.reshape(-1))
        net.bias_hh_l0.zero_()
    V.requires_grad_(True)
    c.requires_grad_(True)
    states, _ = net(torch.tensor(batch.x[1:]))  # (T, B, H): row t - 1 is step t
    z = states @ V.T + c  # (T, B, O)
    weight = torch.tensor(batch.loss_weight[1:]) / batch.size
    if task.readout == LINEAR:
        per_step = 0.5 * ((z - torch.tensor(batch.target_value[1:])) ** 2).sum(dim=2)
    else:
        log_p = torch.log_softmax(z, dim=2)
        per_step = -log_p.gather(2, torch.tensor(batch.target_class[1:]).unsqueeze(2)).squeeze(2)
    loss = (weight * per_step).sum()
    loss.backward()
    grads = [net.weight_ih_l0.grad, net.weight_hh_l0.grad, net.bias_ih_l0.grad, V.grad, c.grad]
    return loss.item(), [g.numpy() for g in grads]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["rnn", "lstm"])
@pytest.mark.parametrize("task", [AddingProblem(T=9), CopyMemory(T=3), TemporalOrder(61, 66)],
                         ids=["adding", "copy", "temporal_order"])
def test_training_gradient_matches_pytorch_autograd(backend, kind, task):
    rng = np.random.default_rng(21)
    batch = task.make_batch(np.random.default_rng(8), 5)
    params = _random_params(kind, task, 4, rng)
    (loss, *_), grads = _train_pass(_kernels(backend), kind, params, task, batch)
    torch_loss, torch_grads = _torch_loss(kind, params, task, batch)
    assert loss == pytest.approx(torch_loss, rel=1e-13)
    for ours, theirs in zip(grads, torch_grads):
        ours = ours.reshape(theirs.shape)
        assert np.abs(ours - theirs).max() <= 1e-12 * np.abs(theirs).max()
