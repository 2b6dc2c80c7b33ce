"""Each built-in preset shows the lesson its description claims, on the simulator's own numbers.

Long-range values are log10 norms for the loss at step T; `at_lag(arr, L)` reads lag L = T - k.
The reference backend is used (the numba kernels give the same numbers and are tested elsewhere).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytest

from simulator import compute
from simulator.presets import builtin_presets, chrono_bias_offsets

BACKEND = "reference"


@lru_cache(maxsize=None)
def results_of(key: str):
    return compute(builtin_presets()[key].setup, backend=BACKEND)


def at_lag(log10_by_k: np.ndarray, lag: int) -> float:
    T = len(log10_by_k) - 1
    return float(log10_by_k[T - lag])


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


TERMS = {"forget_path": 0, "via_W_hf": 1, "via_W_hi": 2, "via_W_hg": 3, "total": 4}


def term(results, name: str) -> np.ndarray:
    """Signed per-step value (diagonal mean; the value itself when H = 1) for t = 1..T."""
    return results.lstm_term_diag_mean[1:, TERMS[name]]


# --- the presets ----------------------------------------------------------------------------------
def test_default_contrasts_rnn_and_lstm():
    r = results_of("default")
    rnn, lstm = at_lag(r.rnn_longrange_log10, 50), at_lag(r.lstm_longrange_log10, 50)
    assert rnn < -3.0  # the RNN's gradient 50 steps back is nearly gone
    assert lstm > -1.0  # the LSTM's is kept
    assert lstm - rnn > 3.0
    # At first sight: the LSTM's curve stays flat near 1 at every lag, the RNN's falls all the way.
    assert np.all(np.abs(r.lstm_longrange_log10) < 0.5)
    assert at_lag(r.rnn_longrange_log10, r.steps) < -6.0


def test_scalar_notes_example_is_the_notes_product_and_sum():
    preset = builtin_presets()["scalar-notes-example"]
    s = preset.setup
    assert (s.hidden_size, s.steps) == (1, 20)
    r = results_of("scalar-notes-example")
    U = s.knobs.U
    S = r.rnn_S[:, 0]
    # (R1), scalar: dS_t/dS_{t-1} = (1 - S_t^2) U, never larger than U
    factor = (1.0 - S[1:] ** 2) * U
    np.testing.assert_allclose(r.rnn_factor_diag_mean[1:], factor, rtol=1e-12)
    assert np.all(np.abs(factor) <= U)
    # (R2), scalar: dS_T/dS_k is the product of the factors t = k+1..T
    T = s.steps
    for k in range(T):
        expected = np.sum(np.log10(np.abs(factor[k:])))
        assert r.rnn_longrange_log10[k] == pytest.approx(expected, abs=1e-10)
    assert at_lag(r.rnn_longrange_log10, 19) < 19 * math.log10(U)
    # (L4), scalar: the notes' line f + o_{t-1} tanh'(C_{t-1}) [C σ'(f) W_hf + g σ'(i) W_hi + i tanh'(g) W_hg]
    k = s.knobs
    i, f, g, o = (r.lstm_gates[:, j, 0] for j in range(4))
    C = r.lstm_C[:, 0]
    D = o[:-1] * (1.0 - np.tanh(C[:-1]) ** 2)
    D[0] = 0.0  # h_0 is given
    notes = f[1:] + D * (C[:-1] * f[1:] * (1 - f[1:]) * k.W_hf + g[1:] * i[1:] * (1 - i[1:]) * k.W_hi
                         + i[1:] * (1 - g[1:] ** 2) * k.W_hg)
    np.testing.assert_allclose(term(r, "total"), notes, rtol=1e-12, atol=1e-15)
    parts = sum(term(r, name) for name in ("forget_path", "via_W_hf", "via_W_hi", "via_W_hg"))
    np.testing.assert_allclose(term(r, "total"), parts, rtol=1e-12, atol=1e-15)


def _paths_to_W_hf_2(key: str):
    """The Paths tab's opening view of a lesson: W_hf, k = T - 1 (presets store no paths view)."""
    from plots.view import from_preset
    from simulator.paths import paths_to

    preset = builtin_presets()[key]
    view = from_preset(preset)
    assert (view.paths_weight, view.paths_k_for(preset.setup.steps)) == ("W_hf", 2)
    return paths_to(results_of(key), "W_hf", 2, limit=None)


def test_paths_notes_tree_the_cell_path_dominates():
    s = builtin_presets()["paths-notes-tree"].setup
    assert (s.hidden_size, s.steps, s.knobs.b_f) == (1, 3, 3.0)
    r = results_of("paths-notes-tree")
    assert np.all(r.lstm_gates[1:, 1, 0] > 0.9)  # "the forget gate stays open (f > 0.9)"
    paths = _paths_to_W_hf_2("paths-notes-tree")
    assert paths.count == 5 and paths.complete  # "the sum of 5 paths"
    largest = paths.paths[0]
    assert largest.group == 0 and largest.node_symbols == ("L_3", "y_3", "h_3", "C_3", "C_2", "f_2", "W_hf^(2)")
    assert 0.85 < largest.share < 0.9  # "almost 90 %"
    assert paths.agrees  # and the paths add up to the BPTT contribution


def test_paths_gate_dominates():
    s = builtin_presets()["paths-gate-dominates"].setup
    assert (s.hidden_size, s.steps, s.knobs.b_f, s.knobs.W_hg) == (1, 3, -2.0, 3.0)
    assert s.replace(knobs=builtin_presets()["paths-notes-tree"].setup.knobs) == builtin_presets()[
        "paths-notes-tree"].setup  # "the same three steps": only the knobs differ
    r = results_of("paths-gate-dominates")
    assert np.all(r.lstm_gates[1:, 1, 0] < 0.25)  # "the forget gate nearly shut"
    paths = _paths_to_W_hf_2("paths-gate-dominates")
    cell = paths.group(0)
    assert cell.count == 1 and cell.total.share == pytest.approx(0.14, abs=0.005)  # "only 14 %"
    largest = paths.paths[0]
    assert largest.node_symbols == ("L_3", "y_3", "h_3", "C_3", "g_3", "h_2", "C_2", "f_2", "W_hf^(2)")  # "through g_3 into h_2"
    assert largest.share == pytest.approx(0.71, abs=0.005)  # "71 %"
    assert paths.agrees


def test_rnn_vanishing():
    r = results_of("rnn-vanishing")
    assert r.sigma_max_U == pytest.approx(0.5, rel=1e-12)
    assert np.all(r.rnn_factor_norm[1:] <= 0.5 + 1e-12)  # tanh' <= 1: never above sigma_max(U)
    assert at_lag(r.rnn_longrange_log10, 50) < -5.0
    assert at_lag(r.rnn_longrange_log10, 50) <= 50 * math.log10(0.5) + 1e-9


def test_rnn_at_the_edge():
    r = results_of("rnn-edge")
    assert r.sigma_max_U == pytest.approx(1.0, rel=1e-12)
    factors = r.rnn_factor_norm[1:]
    assert np.all(factors <= 1.0 + 1e-12) and np.all(factors > 0.95)  # just below 1
    assert -2.0 < at_lag(r.rnn_longrange_log10, 50) < 0.0  # fades slowly, neither vanishes fast nor explodes


def test_rnn_exploding():
    preset = builtin_presets()["rnn-exploding"]
    assert preset.setup.input.kind == "zeros" and preset.setup.initial.S0 == 0.0
    r = results_of("rnn-exploding")
    assert np.all(r.rnn_S == 0.0)  # the state stays at 0, where tanh' = 1
    np.testing.assert_allclose(r.rnn_factor_norm[1:], 2.5, rtol=1e-12)
    assert at_lag(r.rnn_longrange_log10, 50) > 5.0
    assert at_lag(r.rnn_longrange_log10, 50) == pytest.approx(50 * math.log10(2.5), rel=1e-9)


def test_rnn_saturating_turns_explosion_into_vanishing():
    presets = builtin_presets()
    saturating, exploding = presets["rnn-saturating"], presets["rnn-exploding"]
    # The same network; only the input differs (a tiny pulse instead of nothing).
    assert saturating.setup.replace(input=exploding.setup.input) == exploding.setup
    assert 0 < abs(saturating.setup.input.amplitude) <= 0.1
    r = results_of("rnn-saturating")
    assert r.rnn_factor_norm[1] > 2.0  # it starts out exploding ...
    assert np.all(np.abs(r.rnn_S[10:]) > 0.95)  # ... until the state sits in tanh's flat tails
    assert np.all(r.rnn_factor_norm[10:] < 0.1)  # where tanh' -> 0
    assert at_lag(r.rnn_longrange_log10, 50) < -5.0


def test_lstm_carousel_keeps_every_factor_near_one():
    r = results_of("lstm-carousel")
    assert np.all(np.abs(term(r, "total") - 1.0) < 0.05)
    assert np.all(np.abs(r.lstm_term_norm[1:, TERMS["total"]] - 1.0) < 0.05)
    for name in ("via_W_hf", "via_W_hi", "via_W_hg"):
        assert np.all(r.lstm_term_norm[1:, TERMS[name]] < 0.05)  # the gate paths are tiny
    assert np.all(np.abs(r.lstm_longrange_log10) < 0.1)  # within ~25 % of 1 at every lag up to 100
    assert at_lag(r.rnn_longrange_log10, 50) < -3.0  # while the RNN beside it vanishes


def test_lstm_forgetting():
    r = results_of("lstm-forgetting")
    assert np.all(term(r, "forget_path") < 0.1)
    assert at_lag(r.lstm_longrange_log10, 50) < -20.0
    assert at_lag(r.lstm_longrange_log10, 50) < at_lag(r.rnn_longrange_log10, 50)


def test_lstm_balanced_terms_sum_to_one():
    preset = builtin_presets()["lstm-balanced"]
    assert preset.setup.knobs.W_hf >= 5.0  # a large W_hf ...
    r = results_of("lstm-balanced")
    via_f, via_i, via_g = term(r, "via_W_hf")[1:], term(r, "via_W_hi")[1:], term(r, "via_W_hg")[1:]  # t >= 2
    assert np.all(np.abs(via_f) > 0.3)  # ... whose term is large,
    assert np.all(np.sign(via_i) == -np.sign(via_f)) and np.all(np.abs(via_i) > 0.2)  # offset by W_hi
    assert np.all(np.sign(via_g) == -np.sign(via_f)) and np.all(np.abs(via_g) > 0.1)  # and by W_hg,
    assert np.all(np.abs(term(r, "total") - 1.0) < 0.1)  # so the sum sits near 1 at every step.
    forget = term(r, "forget_path")
    assert np.all(forget[1:] < 0.85)  # f alone is not near 1 (t = 1 has only the forget path: h_0 is given)
    assert 50 * math.log10(forget[1:].mean()) < -3.0  # by itself it would lose the gradient,
    assert at_lag(r.lstm_longrange_log10, 50) > -1.0  # but the exact (L7) gradient survives 50 steps.
    # The numbers the description quotes (means over t >= 2).
    quoted = {"forget_path": 0.65, "via_W_hf": -0.56, "via_W_hi": 0.29, "via_W_hg": 0.61}
    for name, value in quoted.items():
        assert term(r, name)[1:].mean() == pytest.approx(value, abs=0.015), name
    assert np.all((term(r, "total") > 0.96) & (term(r, "total") < 0.995))  # "0.96 to 0.99"


def test_forget_bias_one():
    preset = builtin_presets()["forget-bias-1"]
    assert preset.setup.knobs.b_f == 1.0
    r = results_of("forget-bias-1")
    assert term(r, "forget_path").mean() == pytest.approx(sigmoid(1.0), abs=0.03)
    zero = compute(preset.setup.with_knob("b_f", 0.0), backend=BACKEND)
    assert term(zero, "forget_path").mean() == pytest.approx(0.5, abs=0.03)
    assert at_lag(r.lstm_longrange_log10, 50) - at_lag(zero.lstm_longrange_log10, 50) > 5.0


def test_chrono_initialisation():
    preset = builtin_presets()["chrono-init"]
    s = preset.setup
    T_max = s.steps
    # The stored offsets are exactly the seeded draw named in the description.
    assert "seed 2018" in preset.description
    expected = chrono_bias_offsets(s.hidden_size, T_max, seed=2018)
    assert s.bias_offsets.b_f == expected["b_f"] and s.bias_offsets.b_i == expected["b_i"]
    b_f = np.array(s.bias_offsets.b_f)
    assert np.array_equal(np.array(s.bias_offsets.b_i), -b_f)
    u = np.exp(b_f)
    assert np.all((u >= 1.0) & (u <= T_max - 1))
    assert s.knobs.b_f == 0.0 and s.knobs.b_i == 0.0
    r = results_of("chrono-init")
    # Unit j's forget gate sits at sigma(ln u_j) = u_j / (1 + u_j): a memory of about u_j steps.
    mean_f = r.lstm_gates[1:, 1, :].mean(axis=0)
    np.testing.assert_allclose(mean_f, u / (1.0 + u), atol=0.02)
    assert at_lag(r.lstm_longrange_log10, 50) > -1.0
    plain = compute(s.replace(bias_offsets={}), backend=BACKEND)
    assert at_lag(plain.lstm_longrange_log10, 50) < -8.0



def test_output_gate_paths_separate_the_naive_product_from_the_exact_derivative():
    """Claim (d) of MATH.md made a lesson: the product of the per-step (L4) factors is not (L7)."""
    r = results_of("lstm-output-gate-paths")
    exact, naive = at_lag(r.lstm_longrange_log10, 50), at_lag(r.lstm_naive_longrange_log10, 50)
    assert exact == pytest.approx(-17.5, abs=0.1) and naive == pytest.approx(-9.9, abs=0.1)  # as described
    gap = (r.lstm_naive_longrange_log10 - r.lstm_longrange_log10)[::-1]  # by lag
    assert 0.5 < gap[10] < gap[25] < gap[50] < gap[75] and gap[100] > 10  # and it widens with the lag
    # W_ho = 0: no path through the output gates, the two coincide
    without = compute(r.setup.with_knob("W_ho", 0.0), backend=BACKEND)
    np.testing.assert_allclose(without.lstm_naive_longrange_log10, without.lstm_longrange_log10, atol=1e-9)


# --- training lessons (issue 14): CI-sized versions of the claims; in full in bench/bench_training.py ---
def _train(settings, setup=None, **config):
    """Train with the numba kernels (fast) on a 200-sequence test set, testing every 25 steps."""
    from simulator.training import Trainer

    task = settings.make_task()
    trainer = Trainer(task, settings.config(test_size=200, test_every=25, **config), *settings.inits(setup, task))
    trainer.run()
    return trainer


def test_adding_lesson_the_lstm_learns_the_rnn_cannot():
    from simulator.trained import setup_for_networks
    from simulator.training import Trainer

    preset = builtin_presets()["adding-lstm-learns"]
    settings = preset.training
    assert (settings.task, settings.T, settings.steps, settings.trained_steps) == ("adding", 100, 3000, 0)
    assert (settings.rnn_start, settings.lstm_start) == ("pytorch", "forget_bias_1")
    # the setup holds exactly the networks this training starts from, on an adding sequence
    task = settings.make_task()
    start = Trainer(task, settings.config(backend="reference", test_size=2), *settings.inits(None, task))
    assert preset.setup == setup_for_networks(start.rnn_params(), start.lstm_params(), task, sequence=0)
    # the claim at CI size (T = 30, H = 8, 700 steps; `--train 3000` at T = 100 in the benchmark)
    trainer = _train(settings.replace(T=30, hidden_size=8, steps=700, trained_steps=None))
    h = trainer.history
    first, last = 0, h.test_count - 1
    assert h.lstm.test_loss[first] > 0.1 and h.lstm.test_loss[last] < 0.01  # a real fall, not a start below 0.01
    assert h.rnn.test_loss[last] > 0.1
    # why: the gradient reaching the first marker is decades smaller for the RNN
    late = slice(h.step_count - 100, h.step_count + 1)
    rnn_marker = np.log10(np.nanmean(h.rnn.marker_grad[late]))
    lstm_marker = np.log10(np.nanmean(h.lstm.marker_grad[late]))
    assert lstm_marker - rnn_marker > 2.0


def test_lstm_with_forget_bias_minus_3_learns_slowly_or_not_at_all():
    preset = builtin_presets()["adding-lstm-forget-bias-minus-3"]
    settings, setup = preset.training, preset.setup
    assert setup.knobs.b_f == -3.0 and (settings.rnn_start, settings.lstm_start) == ("knobs", "knobs")
    assert setup.input.kind == "task" and setup.hidden_size == settings.hidden_size == 16
    # the gate is almost shut, and the gradient through the cell 50 steps back is nearly gone
    r = results_of("adding-lstm-forget-bias-minus-3")
    assert r.lstm_gates[1:, 1, :].mean() < 0.1
    assert at_lag(r.lstm_longrange_log10, 50) < -20.0
    # the claim at CI size (T = 50, H = 8, 1000 steps): with b_f = 1 the same start learns, with -3 not yet
    small = settings.replace(T=50, hidden_size=8, steps=1000)
    runs = {}
    for b_f in (-3.0, 1.0):
        knob_setup = setup.replace(hidden_size=8, steps=50, input={"kind": "task", "task": "adding"},
                                   target=1.0).with_knob("b_f", b_f)
        runs[b_f] = _train(small, knob_setup).history
    assert runs[1.0].lstm.first_success_step is not None and runs[1.0].lstm.first_success_step <= 800
    assert runs[-3.0].lstm.first_success_step is None
    assert np.nanmin(runs[-3.0].lstm.test_loss[:runs[-3.0].test_count]) > 0.01


CLAIM_TESTS = {
    "default": test_default_contrasts_rnn_and_lstm,
    "scalar-notes-example": test_scalar_notes_example_is_the_notes_product_and_sum,
    "paths-notes-tree": test_paths_notes_tree_the_cell_path_dominates,
    "paths-gate-dominates": test_paths_gate_dominates,
    "rnn-vanishing": test_rnn_vanishing,
    "rnn-edge": test_rnn_at_the_edge,
    "rnn-exploding": test_rnn_exploding,
    "rnn-saturating": test_rnn_saturating_turns_explosion_into_vanishing,
    "lstm-carousel": test_lstm_carousel_keeps_every_factor_near_one,
    "lstm-forgetting": test_lstm_forgetting,
    "lstm-balanced": test_lstm_balanced_terms_sum_to_one,
    "forget-bias-1": test_forget_bias_one,
    "chrono-init": test_chrono_initialisation,
    "lstm-output-gate-paths": test_output_gate_paths_separate_the_naive_product_from_the_exact_derivative,
    "adding-lstm-learns": test_adding_lesson_the_lstm_learns_the_rnn_cannot,
    "adding-lstm-forget-bias-minus-3": test_lstm_with_forget_bias_minus_3_learns_slowly_or_not_at_all,
}


def test_every_builtin_preset_has_a_claim_test():
    assert set(builtin_presets()) == set(CLAIM_TESTS)

