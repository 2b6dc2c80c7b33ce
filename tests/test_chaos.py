"""The reproducibility horizon (simulator/chaos.py, issue 10 item 4): where the forward dynamics
amplifies float64 rounding, two correct codes (numba and numpy) drift apart; the detector must
say where, and its model of the rounding must match what the backends really do."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import InitialState, InputSignal, Knobs, Setup, chaos_note, compute
from simulator.chaos import VISIBLE

from .conftest import BACKENDS

# issue 10's chaotic setup: the RNN (U = -1.39, H = 32) is chaotic, the LSTM only mildly amplifying
CHAOTIC = Setup(hidden_size=32, steps=1200, input=InputSignal(kind="impulse", amplitude=2.57),
                knobs=Knobs(U=-1.39, W_hg=3.75))


@pytest.fixture(scope="module")
def chaotic():
    return {backend: compute(CHAOTIC, backend) for backend in BACKENDS}


def test_issue_setup_rnn_is_chaotic_and_lstm_is_not(chaotic):
    for results in chaotic.values():
        rnn, lstm = results.sensitivity("rnn"), results.sensitivity("lstm")
        assert rnn.horizon is not None and 300 < rnn.horizon < CHAOTIC.steps
        assert results.reproducibility_horizon("rnn") == rnn.horizon
        assert rnn.rounding[rnn.horizon] >= VISIBLE > rnn.rounding[rnn.horizon - 1]
        assert 0.005 < rnn.growth_log10_per_step < 0.05
        assert lstm.horizon is None and results.reproducibility_horizon("lstm") is None
        assert lstm.rounding.max() < 1e-9


def test_backends_differ_as_the_rounding_model_predicts(chaotic):
    fast, slow = chaotic["numba"], chaotic["reference"]
    rnn, lstm = slow.sensitivity("rnn"), slow.sensitivity("lstm")
    horizon = rnn.horizon
    rnn_gap = np.maximum(np.abs(fast.rnn_S - slow.rnn_S).max(axis=1), np.abs(fast.rnn_a - slow.rnn_a).max(axis=1))
    # before the horizon the measured difference stays within a small factor of the model (seen: 2.3)
    assert np.all(rnn_gap[1:horizon] <= 10.0 * rnn.rounding[1:horizon])
    # ... so the backends agree to 1e-12 well before it, wherever the model puts rounding below 1e-13
    calm = rnn.rounding <= 1e-13
    assert calm[1:60].all()
    assert np.all(rnn_gap[calm] <= 1e-12)
    # where they part visibly (seen: first at t = 552), the horizon does not promise more than holds
    parted = np.flatnonzero(rnn_gap > VISIBLE)
    if parted.size:  # two libms that happen to round alike would not part at all
        assert horizon <= parted[0] + 50
    # the LSTM never reaches a horizon: its trajectories agree to the model's size all along
    lstm_gap = np.maximum(np.abs(fast.lstm_h - slow.lstm_h).max(axis=1), np.abs(fast.lstm_C - slow.lstm_C).max(axis=1))
    assert np.all(lstm_gap[1:] <= 10.0 * lstm.rounding[1:])
    assert lstm_gap.max() < 1e-9


def test_a_rounding_sized_change_becomes_visible_at_the_horizon(chaotic):
    # one change of 1e-16 in S_0 (about one rounding), same code: invisible well before the
    # horizon, visible after it (the difference between backends beyond the horizon depends on the
    # platform; this one does not)
    slow = chaotic["reference"]
    horizon = slow.reproducibility_horizon("rnn")
    perturbed = compute(CHAOTIC.replace(initial=InitialState(S0=1e-16)), "reference")
    gap = np.abs(perturbed.rnn_S - slow.rnn_S).max(axis=1)
    assert gap[: horizon // 2].max() < 1e-9
    assert gap[horizon: horizon + 300].max() > VISIBLE


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("setup", [
    Setup(),  # default knobs: contracting
    Setup(hidden_size=8, steps=400, seed=3),
    # exploding at the zero state with zero input: every value is exactly 0, nothing is rounded
    Setup(hidden_size=4, steps=500, input=InputSignal(kind="zeros"), knobs=Knobs(U=3.0)),
    # saturating: large gains push tanh' and sigma' to ~0, perturbations die
    Setup(hidden_size=6, steps=300, input=InputSignal(kind="sine", amplitude=3.0),
          knobs=Knobs(U=5.0, W_hi=3.0, W_hf=3.0, W_hg=3.0, W_ho=3.0, input_gain=5.0)),
], ids=["default", "H8", "zero-state", "saturated"])
def test_non_chaotic_setups_have_no_horizon(backend, setup):
    results = compute(setup, backend)
    assert results.reproducibility_horizon("rnn") is None
    assert results.reproducibility_horizon("lstm") is None
    assert chaos_note(results) is None


def test_chaos_note_names_the_network_and_the_step(chaotic):
    results = chaotic["reference"]
    note = chaos_note(results)
    horizon = results.reproducibility_horizon("rnn")
    rate = results.sensitivity("rnn").growth_log10_per_step
    assert note == (f"RNN is chaotic here: beyond t ≈ {horizon} individual trajectories depend on the "
                    f"floating-point order of operations (rounding grows ×10^{rate:.2g} per step); "
                    "statistics do not")


def test_sensitivity_is_kept_when_its_network_is_reused(chaotic):
    results = chaotic["reference"]
    rnn = results.sensitivity("rnn")
    changed = compute(CHAOTIC.with_knob("W_hf", 0.7), "reference", previous=results)  # the LSTM only
    assert changed.sensitivity("rnn") is rnn
    with pytest.raises(ValueError):
        results.sensitivity("gru")
