"""simulator/stream.py: a cancellable, progressive compute whose final arrays are compute()'s.

- Bit for bit: a run in chunks of odd sizes, on one or two threads, cancelled and continued,
  gives exactly the arrays of one call per pass (np.array_equal), for both backends.
- Progressive: the first partial results hold the cheap arrays, final already; then partials with
  rising progress whose costly arrays are NaN or final; never an inf; then final results.
- Cancellation: a run at (256, 2000) stops soon after the flag (asserted < 1 s here; the measured
  latency is printed with -s), leaves no thread behind, and a later job gives the right results.
- The new arrays: the norm of the loss gradient reaching each step against central finite
  differences; the lower bounds of the long-range norms below the exact norms (equal for H = 1).
"""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest

from simulator import LOG10_OF_ZERO, Setup, compute
from simulator.results import _LSTM_FIELDS, _RNN_FIELDS
from simulator.setup import InitialState, InputSignal, Knobs
from simulator.stream import Cancelled, ComputeJob
from simulator.weights import lstm_params, rnn_params

from . import fd_models as fd
from .conftest import BACKENDS

FIELDS = _RNN_FIELDS + _LSTM_FIELDS
STREAMED = ("rnn_longrange_log10", "lstm_factor_norm", "lstm_longrange_log10", "lstm_naive_longrange_log10")
SMALL = Setup(hidden_size=5, input_size=2, steps=23, seed=4, knobs=Knobs(U=1.2, W_hf=0.9, W_hg=-0.7),
              bias_offsets={"b_f": [0.5, -0.3, 0.0, 1.0, 2.0]})


def _assert_identical(got, want, label=""):
    for name in FIELDS:
        assert np.array_equal(getattr(got, name), getattr(want, name)), f"{label}: {name}"


def _helper_threads():
    return [t for t in threading.enumerate() if t.name == "simulator helper"]


# --- bit for bit ------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_chunked_runs_equal_one_call_per_pass_bit_for_bit(backend):
    one_shot = ComputeJob(SMALL, backend, chunk_steps=10**9, threads=1).run()
    _assert_identical(compute(SMALL, backend), one_shot, "compute()")
    for chunk in (1, 3, 7):
        for threads in (1, 2):
            got = ComputeJob(SMALL, backend, chunk_steps=chunk, threads=threads).run()
            _assert_identical(got, one_shot, f"chunks of {chunk} on {threads} thread(s)")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_cancelled_job_is_continued_by_the_next_one_bit_for_bit(backend):
    one_shot = ComputeJob(SMALL, backend, chunk_steps=10**9, threads=1).run()
    partials = []

    def cancel_after_a_few():  # checked between chunks: stop after the first partial results
        return len(partials) >= 1

    job = ComputeJob(SMALL, backend, chunk_steps=2, threads=1)
    with pytest.raises(Cancelled):
        job.run(cancelled=cancel_after_a_few, on_partial=partials.append, min_interval=0.0)
    assert 0.0 <= job.progress < 1.0
    # a knob of the other network: the LSTM's half-done chains are taken over, the RNN recomputed
    turned = SMALL.with_knob("U", 0.3)
    later = ComputeJob(turned, backend, previous=partials[-1], chunk_steps=5)
    assert later.reused == {"rnn": False, "lstm": True}
    _assert_identical(later.run(), compute(turned, backend), "continued")
    # and the same job runs on from where it stopped
    _assert_identical(job.run(), one_shot, "run() again")


# --- progressive results ----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_partials_arrive_in_order_cheap_first_then_rising_progress_then_final(backend):
    setup = SMALL.replace(steps=60, weights={"U": np.random.default_rng(1).standard_normal((5, 5)).tolist()})
    partials = []
    final = ComputeJob(setup, backend, chunk_steps=4).run(on_partial=partials.append, min_interval=0.0)
    assert final.final and final.progress == 1.0
    assert len(partials) >= 3 and not any(p.final for p in partials)
    first = partials[0]
    for name in FIELDS:  # (a) every cheap array is final in the first partial results
        if name not in STREAMED + ("rnn_factor_norm",):
            assert np.array_equal(getattr(first, name), getattr(final, name)), name
    # explicit weights: the RNN's per-step norms stream like the other costly arrays
    assert np.isnan(first.rnn_factor_norm[1:]).any()
    progress = [p.progress for p in partials]
    assert progress == sorted(progress) and progress[-1] > progress[0]
    for partial in partials:  # (b) NaN where not computed yet, else the final value; never inf
        for name in FIELDS:
            value, want = getattr(partial, name), getattr(final, name)
            assert not np.isinf(value).any(), name
            done = ~np.isnan(value)
            assert np.array_equal(value[done], want[done]), name
            assert not value.flags.writeable, name
        assert partial.setup == setup and partial.backend == backend


def test_partials_come_at_most_every_min_interval():
    times = []
    ComputeJob(SMALL.replace(steps=200), "reference", chunk_steps=1).run(
        on_partial=lambda results: times.append(time.perf_counter()), min_interval=0.05)
    gaps = np.diff(times)
    assert len(times) >= 2 and np.all(gaps >= 0.05 - 1e-3)


def test_no_partial_results_before_first_partial_after_and_none_for_a_quick_compute():
    # the window's rule: a compute that ends within the delay is drawn once, final
    quick = []
    final = ComputeJob(SMALL, "reference").run(on_partial=quick.append, first_partial_after=60.0)
    assert quick == [] and final.final
    # a longer one: the first partial comes once the delay has passed, and is still a partial
    times, partials = [], []
    started = time.perf_counter()

    def on_partial(results):
        times.append(time.perf_counter() - started)
        partials.append(results)

    ComputeJob(SMALL.replace(steps=600), "reference", chunk_steps=1).run(on_partial=on_partial,  # ~0.6 s
                                                                         first_partial_after=0.1)
    assert partials and times[0] >= 0.1 and not partials[0].final
    # ... with the lower bounds, drawn in place of the exact norms still to come
    for name in ("rnn_longrange_lower_log10", "lstm_longrange_lower_log10"):
        assert np.all(np.isfinite(getattr(partials[0], name))), name


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_run_without_partial_results_leaves_the_lower_bounds_out_and_so_do_the_jobs_after_it(backend):
    """The lower bounds are drawn only in partial results: a run that hands out none (it ends
    within half of first_partial_after) never computes them; everything else is compute()'s.
    compute() (no on_partial) and a run with partial results compute them."""
    lower = ("rnn_longrange_lower_log10", "lstm_longrange_lower_log10")
    quick = []
    job = ComputeJob(SMALL, backend)
    final = job.run(on_partial=quick.append, first_partial_after=60.0)
    whole = compute(SMALL, backend)
    assert quick == [] and final.final
    for name in FIELDS:
        if name in lower:
            assert np.all(np.isnan(getattr(final, name))), name
            assert np.all(np.isfinite(getattr(whole, name))), name
        else:
            assert np.array_equal(getattr(final, name), getattr(whole, name)), name
    assert job.pass_seconds()["lstm lower bound"] == job.pass_seconds()["rnn lower bound"] == 0.0
    # a knob of the RNN turned: the LSTM's network is taken over, its lower bound not started now
    turned = SMALL.replace(knobs=SMALL.knobs.model_copy(update={"U": 0.7}))
    later = ComputeJob(turned, backend, previous=final)
    assert later.reused == {"rnn": False, "lstm": True}
    again = later.run(on_partial=quick.append, first_partial_after=60.0)
    assert later.pass_seconds()["lstm lower bound"] == 0.0 and np.all(np.isnan(again.lstm_longrange_lower_log10))
    np.testing.assert_array_equal(again.lstm_longrange_log10, whole.lstm_longrange_log10)
    # a run that starts them at once (first_partial_after=0: partial results as soon as they exist)
    started = ComputeJob(SMALL, backend).run(on_partial=lambda results: None, first_partial_after=0.0)
    for name in lower:
        assert np.array_equal(getattr(started, name), getattr(whole, name)), name


# --- cancellation -----------------------------------------------------------------------------


def _cancel_while_running(setup, backend, when):
    """Run `setup` on a thread, set the flag once when(job, partials) holds, and return (seconds
    from the flag to the end of run(), the exception run() raised, the job)."""
    flag = threading.Event()
    partials = []
    outcome = {}
    job = ComputeJob(setup, backend)

    def run():
        try:
            job.run(cancelled=flag.is_set, on_partial=partials.append)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            outcome["error"] = exc
        outcome["end"] = time.perf_counter()

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.perf_counter() + 60.0
    while not when(job, partials) and worker.is_alive() and time.perf_counter() < deadline:
        time.sleep(0.002)
    flagged = time.perf_counter()
    flag.set()
    worker.join(30.0)
    assert not worker.is_alive()
    return outcome["end"] - flagged, outcome.get("error"), job


@pytest.mark.skipif("numba" not in BACKENDS, reason="numba kernels not installed")
@pytest.mark.parametrize("phase", ["cheap", "costly"])
def test_cancelling_at_256_by_2000_stops_soon_and_leaves_no_thread(phase):
    setup = Setup(hidden_size=256, steps=2000)
    if phase == "cheap":  # during the forward passes and BPTT
        when = lambda job, partials: job._passes[0].done > 0  # noqa: E731
    else:  # while the exact norms stream in
        when = lambda job, partials: job.progress > 0.0  # noqa: E731
    latency, error, job = _cancel_while_running(setup, "numba", when)
    print(f"\ncancel latency at (256, 2000), {phase} phase: {latency * 1e3:.1f} ms")
    assert isinstance(error, Cancelled)
    assert latency < 1.0
    assert _helper_threads() == []
    assert job.progress < 1.0
    # a new request afterwards gives the right results
    small = Setup(hidden_size=8, steps=40)
    _assert_identical(ComputeJob(small, "numba").run(), ComputeJob(small, "numba", chunk_steps=10**9, threads=1).run())


def test_one_run_at_a_time():
    job = ComputeJob(SMALL, BACKENDS[-1], chunk_steps=1)
    inside = []

    def on_partial(results):
        if not inside:
            inside.append(True)
            with pytest.raises(RuntimeError, match="running already"):
                job.run()  # the same job, from inside its own run()
    assert job.run(on_partial=on_partial, min_interval=0.0).final and inside


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancel_from_another_thread_and_no_thread_after_a_normal_run(backend):
    job = ComputeJob(SMALL.replace(steps=400), backend, chunk_steps=1)
    job.cancel()  # before run(): it stops at the first chunk boundary
    with pytest.raises(Cancelled):
        job.run()
    assert job.run().final  # run() again: the flag was consumed, it completes
    assert _helper_threads() == []


# --- the loss gradient reaching each step, against finite differences ---------------------------


FD_SETUPS = [
    Setup(hidden_size=3, input_size=2, steps=7, seed=5, knobs=Knobs(U=1.3, W_hf=1.1, W_hi=-0.8, W_hg=1.4, W_ho=0.9),
          initial=InitialState(S0=0.2, h0=0.1, C0=0.4)),
    Setup(hidden_size=1, steps=6, input=InputSignal(kind="sine", amplitude=1.5, period=4.0),
          knobs=Knobs(U=-0.9, W_hf=0.7, b_f=0.5)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("setup", FD_SETUPS, ids=["H3", "H1"])
def test_loss_gradient_norms_match_finite_differences(backend, setup):
    r = compute(setup, backend)
    T = setup.steps
    V, target = r.bases["V"], setup.target
    W_x_rnn, lstm = rnn_params(setup).W_x, lstm_params(setup)
    lstm_W_x, lstm_b = lstm.W_x, lstm.b
    U_steps = [r.rnn_U] * T
    W_h_steps = [r.lstm_W_h] * T
    for k in range(T + 1):
        def rnn_loss_from(S_k, k=k):  # L_T as a function of the state S_k (later steps recomputed)
            S_T = fd.rnn_states(W_x_rnn, U_steps, np.zeros(setup.hidden_size), r.x, S_k, t_start=k)[-1]
            err = target - V @ S_T
            return 0.5 * (err @ err)

        def lstm_loss_from(C_k, k=k):  # h_k = o_k tanh(C_k), o_k held fixed (MATH.md's convention)
            h_k = r.lstm_gates[k, 3] * np.tanh(C_k) if k > 0 else r.lstm_h[0]
            h_T = fd.lstm_states(lstm_W_x, W_h_steps, lstm_b, r.x, h_k, C_k, t_start=k)[0][-1]
            err = target - V @ h_T
            return 0.5 * (err @ err)

        for loss_from, state, got in ((rnn_loss_from, r.rnn_S[k], r.rnn_lossgrad_log10[k]),
                                      (lstm_loss_from, r.lstm_C[k], r.lstm_lossgrad_log10[k])):
            gradient = fd.fd_jacobian(lambda s: np.array([loss_from(s)]), state)[0]
            assert 10.0 ** got == pytest.approx(np.linalg.norm(gradient), rel=1e-6, abs=1e-9), (k, loss_from.__name__)


# --- lower bounds of the long-range norms -------------------------------------------------------


LOWER_SETUPS = [
    Setup(hidden_size=6, steps=80, seed=1),
    Setup(hidden_size=9, steps=50, seed=2, knobs=Knobs(U=2.5, W_hf=-1.5, W_hi=2.0, W_hg=1.5, W_ho=-2.0, b_f=-1.0)),
    Setup(hidden_size=4, steps=300, input=InputSignal(kind="zeros"), initial=InitialState(C0=1.0, S0=0.5),
          knobs=Knobs(U=3.0, b_f=3.0)),
    # the loss gradient is exactly zero (zero input, zero state, zero target): v falls back to ones
    Setup(hidden_size=3, steps=20, input=InputSignal(kind="zeros"), target=0.0),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("setup", LOWER_SETUPS, ids=["default", "strong", "long", "zero-gradient"])
def test_the_lower_bounds_stay_below_the_exact_norms(backend, setup):
    r = compute(setup, backend)
    for lower, exact in ((r.rnn_longrange_lower_log10, r.rnn_longrange_log10),
                         (r.lstm_longrange_lower_log10, r.lstm_longrange_log10)):
        assert lower[-1] == 0.0 and exact[-1] == 0.0  # k = T: the identity
        assert np.all(lower <= exact + 1e-10), np.max(lower - exact)
        assert np.all(np.isfinite(lower))
        if setup is LOWER_SETUPS[0]:
            assert np.any(lower[:-1] < exact[:-1] - 1e-3)  # a bound, not a copy of the exact norm
    if setup.target != 0.0:  # v = dL/dS_T: the RNN's bound is the loss gradient, relative to step T
        expected = np.where(r.rnn_lossgrad_log10 == LOG10_OF_ZERO, LOG10_OF_ZERO,
                            r.rnn_lossgrad_log10 - r.rnn_lossgrad_log10[-1])
        np.testing.assert_allclose(r.rnn_longrange_lower_log10, expected, rtol=0, atol=1e-10)
    else:
        assert np.all(r.rnn_lossgrad_log10 == LOG10_OF_ZERO)  # nothing reaches any step


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_lower_bounds_are_exact_for_one_unit(backend):
    setup = Setup(hidden_size=1, steps=200, knobs=Knobs(U=1.7, W_hf=0.8, W_hi=-0.5, W_ho=1.1))
    r = compute(setup, backend)
    np.testing.assert_allclose(r.rnn_longrange_lower_log10, r.rnn_longrange_log10, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r.lstm_longrange_lower_log10, r.lstm_longrange_log10, rtol=0, atol=1e-10)


def test_results_carry_every_new_field():
    names = {f.name for f in dataclasses.fields(compute(SMALL, BACKENDS[-1]))}
    assert {"rnn_lossgrad_log10", "lstm_lossgrad_log10", "rnn_longrange_lower_log10",
            "lstm_longrange_lower_log10", "progress", "final"} <= names


def test_a_helper_thread_is_taken_only_beside_another_costly_pass_or_for_a_large_setup():
    """Turning U at a small size leaves one costly pass, the (R2) chain: a recurrence the helper
    cannot share (it cost ~0.7 ms of 4.6 at (32, 100)). A gate knob leaves three, a fresh setup
    four, and a large setup takes the helper for the cheap passes too. The arrays are the same."""
    from simulator.stream import PARALLEL_ALONE_MIN_WORK

    small = Setup(hidden_size=32, steps=100, seed=0)
    first = ComputeJob(small, "numba")
    assert first._threads == 2
    before = first.run()
    turned_U = ComputeJob(small.with_knob("U", 1.3), "numba", previous=before)
    assert turned_U.reused == {"rnn": False, "lstm": True} and turned_U._threads == 1
    turned_gate = ComputeJob(small.with_knob("W_hf", 1.3), "numba", previous=before)
    assert turned_gate.reused == {"rnn": True, "lstm": False} and turned_gate._threads == 2
    _assert_identical(turned_U.run(), compute(small.with_knob("U", 1.3), "numba"), "U on one thread")
    large = Setup(hidden_size=128, steps=300, seed=0)
    assert large.hidden_size ** 2 * large.steps >= PARALLEL_ALONE_MIN_WORK
    large_results = ComputeJob(large, "numba").run()
    assert ComputeJob(large.with_knob("U", 1.3), "numba", previous=large_results)._threads == 2
