"""A cancellable, progressive computation of `Results`: what `compute()` runs, chunk by chunk.

    job = ComputeJob(setup, backend="numba", previous=None)
    results = job.run(cancelled=lambda: False, on_partial=None, min_interval=0.1)
    job.progress        # 0..1: the fraction of the costly exact work done so far
    job.cancel()        # from any thread: run() raises Cancelled at its next chunk boundary

`run()` returns the final `Results` (final=True, every array exact). Meanwhile it calls
`on_partial(results)` on the calling thread with `Results` whose `final` is False:

  a. once, as soon as the cheap parts are done and the run has taken `first_partial_after`
     seconds (default 0; none at all when everything is done sooner) (O(T H^2): forward states, BPTT deltas, the norms
     of the loss gradient reaching each step, the lower bounds of the long-range norms, the
     diagonal means, the RNN's per-step norms when U is a multiple of an orthogonal matrix);
  b. then at most every `min_interval` seconds while the costly exact parts stream in (the (L4)
     norm of every step, the long-range norms (R2), (L7) and the naive (L4) chain for every k;
     the RNN's per-step norms for explicit weights), with `progress` rising;
  and returns the final results (c). Entries not computed yet are NaN (never inf).

The lower bounds are drawn only in partial results (in place of exact norms still to come): a run
given `on_partial` starts them once it has taken half of `first_partial_after`, so one that ends
sooner (it hands out no partial results) leaves them NaN. `compute()` (no `on_partial`) has them.

Cancellation: `run()` raises `Cancelled` within one chunk (~CHUNK_SECONDS, at most about two chunk
times) of `cancelled()` returning True or of `cancel()`. Every pass works in chunks of steps whose
size adapts to the measured time per step, and the flag is checked between chunks.

Threads: with the numba kernels (which release the GIL) and enough work, `run()` starts one helper
thread ("simulator helper") that takes chunks beside the calling thread. `run()` returns or raises
only after that thread has been stopped and joined: no thread outlives `run()`, none is left
inside numba code. `on_partial` and `cancelled` are only ever called on the calling thread. One
`run()` at a time per job (a second one raises RuntimeError); `cancel()` and `progress` are
safe from any thread.

Bit for bit: each pass carries its state (running products, their compensated log10 scales, warm
start vectors) from one chunk to the next exactly as one call would, and independent steps do not
depend on who computed them, so the final arrays do not depend on chunk sizes, threads or
cancellations: `compute()` is `ComputeJob(...).run()`.

Reuse: with `previous` (Results of an earlier setup, same backend, final or not), a network whose
inputs did not change takes over `previous`'s work for it, finished or not: a cancelled job's
exact norms are continued, not started again (turning U while the LSTM's chains stream keeps them
streaming).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable

import numpy as np

from . import reference
from .results import BACKENDS, Results, _backend_module, lstm_inputs, rnn_inputs
from .setup import Setup
from .weights import base_matrices, initial_states, input_sequence, lstm_params, rnn_params

# A chunk of steps takes about this long (the cancel flag is checked between chunks).
CHUNK_SECONDS = 0.02
# The first chunk of a pass is sized from a guess of the work per step at this rate (units: the
# multiply-adds of `_Pass.cost`; on the low side: a short first chunk costs little), later chunks
# from the measured time per step.
GUESSED_RATE = 1e9
# The numba kernels release the GIL, so a helper thread can take chunks beside the calling thread:
# above this much work (H^2 T; (32, 100) is 1e5) it pays for its start (~0.1 ms).
PARALLEL_MIN_WORK = 20_000
# ... and with a single costly pass left (a turned U: the (R2) chain) only above this much work,
# where the helper's share of the cheap passes (BPTT, lower bounds) pays for it ((128, 1000) is 1.6e7)
PARALLEL_ALONE_MIN_WORK = 4_000_000
# How often a waiting calling thread looks at the cancel flag and the partial results.
POLL_SECONDS = 0.01


class Cancelled(Exception):
    """A ComputeJob's run() was cancelled (its results are not complete)."""


class _Pass:
    """One pass over the steps of one network, run chunk by chunk by `run_chunk(first, stop)`.

    Sequential passes (a recurrence: forward, BPTT, a long-range chain) go through their steps in
    order, one chunk at a time. Independent passes (per-step norms) may run chunks at once on
    several threads. Steps are counted in `done`; `index(n)` maps the n-th step to its index
    (ascending from `start` for forward passes, descending for backward ones)."""

    def __init__(self, name: str, run_chunk: Callable[[int, int], None], start: int, count: int,
                 backward: bool, cost: float, costly: bool, needs: tuple = (), independent: bool = False,
                 on_start: Callable[[], None] | None = None, on_finish: Callable[[], None] | None = None,
                 for_partial: bool = False):
        self.name, self.run_chunk = name, run_chunk
        self.start, self.count, self.backward = start, count, backward
        self.cost, self.costly, self.needs, self.independent = cost, costly, needs, independent
        # only drawn in partial results (the lower bounds: a stand-in for exact norms still to come)
        self.for_partial = for_partial
        self.on_start, self.on_finish = on_start, on_finish
        self.claimed = 0  # steps handed out
        self.done = 0  # steps finished
        self.busy = False  # a sequential pass runs one chunk at a time
        self.started = False
        self.seconds_per_step: float | None = None
        self.seconds = 0.0  # time spent in its chunks so far
        self.last_size = 0

    @property
    def finished(self) -> bool:
        return self.done >= self.count

    def skip(self) -> None:
        """Done without running (a for_partial pass a run ended without: its arrays stay NaN)."""
        self.claimed = self.done = self.count
        self.run_chunk = None

    def index(self, n: int) -> int:
        return self.start - n if self.backward else self.start + n

    def chunk_size(self, fixed: int | None) -> int:
        if fixed is not None:
            size = fixed
        elif self.seconds_per_step is None:
            size = max(1, int(CHUNK_SECONDS * GUESSED_RATE / self.cost))
        else:
            size = int(CHUNK_SECONDS / max(self.seconds_per_step, 1e-12))
            size = min(size, 4 * max(self.last_size, 1))  # grow gradually: the first timings are rough
        return max(1, min(size, self.count - self.claimed))


class _Network:
    """One network's arrays and the passes that fill them. Taken over by a later job when its
    inputs are unchanged (see `ComputeJob`); `owner` is the job running its passes, if any."""

    def __init__(self, key: str, inputs: tuple, backend: str):
        self.key, self.inputs, self.backend = key, inputs, backend
        self.arrays: dict[str, np.ndarray] = {}
        self.passes: list[_Pass] = []
        self.owner: ComputeJob | None = None
        self.broken = False  # a pass raised: its state cannot be trusted
        self.sigma_max_U: float | None = None  # the RNN's, when known without an SVD (U = s Q)

    @property
    def finished(self) -> bool:
        return all(p.finished for p in self.passes)

    def add(self, *args, **kwargs) -> _Pass:
        p = _Pass(*args, **kwargs)
        self.passes.append(p)
        return p


def _nan(*shape) -> np.ndarray:
    return np.full(shape, np.nan)


def _rnn_network(setup: Setup, kern, backend: str, x: np.ndarray) -> _Network:
    """The RNN's arrays and passes: forward, then BPTT, the lower bound of (R2), the diagonal
    means and, for a U that is a multiple of an orthogonal matrix, the per-step norms (cheap);
    the (R2) chain and, for other U, the per-step norms (costly)."""
    net = _Network("rnn", rnn_inputs(setup), backend)
    T, H, D = setup.steps, setup.hidden_size, setup.input_size
    params = rnn_params(setup)
    U, target = params.U, np.float64(setup.target)
    a, S = np.zeros((T + 1, H)), np.zeros((T + 1, H))
    S[0] = initial_states(setup)[0]
    delta, delta_scale, lossgrad = np.zeros((T + 1, H)), np.zeros(T + 1), np.zeros(T + 1)
    lower_raw, diag_mean = np.zeros(T + 1), np.zeros(T + 1)
    shortcut = float(kern.rnn_factor_norm_shortcut(U))  # >= 0: every per-step norm is cheap
    if shortcut >= 0.0:
        net.sigma_max_U = shortcut  # s = ||U||_2: the Results need not test U again (13 ms at H = 512)
    factor_norm = np.zeros(T + 1) if shortcut >= 0.0 else _nan(T + 1)
    factor_norm[0] = 0.0
    longrange = _nan(T + 1)
    longrange[T] = 0.0  # dS_T/dS_T = I
    lower = _nan(T + 1)
    net.arrays.update(rnn_U=U, rnn_a=a, rnn_S=S, rnn_factor_norm=factor_norm, rnn_factor_diag_mean=diag_mean,
                      rnn_longrange_log10=longrange, rnn_delta=delta, rnn_delta_log10_scale=delta_scale,
                      rnn_lossgrad_log10=lossgrad, rnn_longrange_lower_log10=lower)
    state: dict = {}

    def loss_gradient():
        return kern.rnn_loss_gradient(params.V, params.c, target, S, T)  # dL/dS_T

    def start_bptt():
        state["bptt"] = kern.rnn_bptt_start(loss_gradient())

    def start_lower():
        state["lower"] = kern.rnn_lower_start(loss_gradient())  # v = dL/dS_T (all ones if it is 0)

    forward = net.add("rnn forward", lambda f, s: kern.rnn_forward_steps(params.W_x, U, params.b, x, f, s, a, S),
                      1, T, False, H * H + H * D + 30 * H, costly=False)
    # backward passes: chunks (first, stop) = range(first, stop, -1), k = T .. 1, and k = 0 with the last
    net.add("rnn bptt", lambda f, s: kern.rnn_bptt_steps(U, a, f, s, *state["bptt"], delta, delta_scale, lossgrad),
            T, T, True, H * H + 30 * H, costly=False, needs=(forward,), on_start=start_bptt)
    net.add("rnn lower bound", lambda f, s: kern.rnn_longrange_lower_steps(U, a, f, s, *state["lower"], lower_raw),
            T, T, True, H * H + 30 * H, costly=False, needs=(forward,), on_start=start_lower,
            on_finish=lambda: lower.__setitem__(slice(None), reference.relative_to_last(lower_raw)), for_partial=True)
    net.add("rnn diagonal means", lambda f, s: diag_mean.__setitem__(slice(None), kern.rnn_factor_diag_mean(U, a)),
            0, 1, False, 30 * H * T, costly=False, needs=(forward,))
    cheap_norms = shortcut >= 0.0
    # read-only views: one compiled signature whether the arrays are fresh, shared from earlier or
    # made read-only for the first partial results (`ComputeJob._make_results`)
    U_read, a_read = reference.readonly(U), reference.readonly(a)
    net.add("rnn factor norms", lambda f, s: kern.rnn_factor_norm_steps(U_read, a_read, shortcut, f, s, factor_norm),
            1, T, False, 30 * H if cheap_norms else 3 * H ** 3, costly=not cheap_norms, needs=(forward,),
            independent=True)
    chain = kern.rnn_chain_start(H)
    net.add("rnn long-range (R2)", lambda f, s: kern.rnn_longrange_steps(U_read, a_read, f, s, *chain, longrange),
            T - 1, T, True, 3 * H ** 3 + 30 * H * H, costly=True, needs=(forward,))
    return net


def _lstm_lower_vector(pre, C, grad_h, T) -> np.ndarray:
    """The direction of dL_T/dC_T = D_T * dL/dh_T, D_T = o_T tanh'(C_T) from its log (no underflow)."""
    factor, _ = reference.pull_largest(reference.lstm_log_dh_dC(pre, C, T))
    return factor * grad_h


def _lstm_network(setup: Setup, kern, backend: str, x: np.ndarray) -> _Network:
    """The LSTM's arrays and passes: forward, then BPTT, the lower bound of (L7) and the diagonal
    means (cheap); the (L7) and naive chains and the (L4) norm of every step (costly)."""
    net = _Network("lstm", lstm_inputs(setup), backend)
    T, H, D = setup.steps, setup.hidden_size, setup.input_size
    params = lstm_params(setup)
    W_h, target = params.W_h, np.float64(setup.target)
    pre, gates = np.zeros((T + 1, 4, H)), np.zeros((T + 1, 4, H))
    h, C = np.zeros((T + 1, H)), np.zeros((T + 1, H))
    _, h[0], C[0] = initial_states(setup)
    delta, delta_scale, lossgrad = np.zeros((T + 1, 4, H)), np.zeros((T + 1, 4)), np.zeros(T + 1)
    lower_raw, diag_mean = np.zeros(T + 1), np.zeros((T + 1, 5))
    factor_norm = _nan(T + 1)
    factor_norm[0] = 0.0
    exact, naive = _nan(T + 1), _nan(T + 1)
    exact[T] = naive[T] = 0.0  # dC_T/dC_T = I
    lower = _nan(T + 1)
    net.arrays.update(lstm_W_h=W_h, lstm_pre=pre, lstm_gates=gates, lstm_h=h, lstm_C=C,
                      lstm_factor_norm=factor_norm, lstm_term_diag_mean=diag_mean, lstm_longrange_log10=exact,
                      lstm_naive_longrange_log10=naive, lstm_delta=delta, lstm_delta_log10_scale=delta_scale,
                      lstm_lossgrad_log10=lossgrad, lstm_longrange_lower_log10=lower)
    state: dict = {}

    def loss_gradient():
        return kern.lstm_loss_gradient(params.V, params.c, target, h, T)  # dL/dh_T

    def start_bptt():
        state["bptt"] = kern.lstm_bptt_start(loss_gradient())

    def start_lower():  # v = dL/dC_T (all ones if it is 0)
        state["lower"] = kern.lstm_lower_start(_lstm_lower_vector(pre, C, loss_gradient(), T))

    forward = net.add("lstm forward",
                      lambda f, s: kern.lstm_forward_steps(params.W_x, W_h, params.b, x, f, s, pre, gates, h, C),
                      1, T, False, 4 * H * H + 4 * H * D + 60 * H, costly=False)
    net.add("lstm bptt", lambda f, s: kern.lstm_bptt_steps(W_h, pre, C, f, s, *state["bptt"], delta, delta_scale,
                                                           lossgrad),
            T, T, True, 4 * H * H + 100 * H, costly=False, needs=(forward,), on_start=start_bptt)
    net.add("lstm lower bound", lambda f, s: kern.lstm_longrange_lower_steps(W_h, pre, C, f, s, *state["lower"],
                                                                             lower_raw),
            T, T, True, 4 * H * H + 100 * H, costly=False, needs=(forward,), on_start=start_lower,
            on_finish=lambda: lower.__setitem__(slice(None), reference.relative_to_last(lower_raw)), for_partial=True)
    net.add("lstm diagonal means",
            lambda f, s: diag_mean.__setitem__(slice(None), kern.lstm_factor_diag_mean(W_h, pre, C)),
            0, 1, False, 60 * H * T, costly=False, needs=(forward,))
    # (L7) and the naive chain are two passes: the two threads can run them at once
    chain = kern.lstm_chain_start(H)
    # read-only views: one compiled signature whether the arrays are fresh, shared from earlier or
    # made read-only for the first partial results (`ComputeJob._make_results`)
    W_h_read, pre_read, C_read = (reference.readonly(array) for array in (W_h, pre, C))
    net.add("lstm long-range (L7)",
            lambda f, s: kern.lstm_longrange_steps(W_h_read, pre_read, C_read, f, s, *chain, exact),
            T - 1, T, True, 5 * H ** 3 + 100 * H * H, costly=True, needs=(forward,))
    naive_chain = kern.rnn_chain_start(H)
    net.add("lstm naive chain (L4 product)",
            lambda f, s: kern.lstm_naive_longrange_steps(W_h_read, pre_read, C_read, f, s, *naive_chain, naive),
            T - 1, T, True, 3 * H ** 3 + 60 * H * H, costly=True, needs=(forward,))
    net.add("lstm factor norms (L4)",
            lambda f, s: kern.lstm_factor_norm_steps(W_h_read, pre_read, C_read, f, s, factor_norm),
            1, T, False, 3 * H ** 3 + 10 * H * H, costly=True, needs=(forward,), independent=True)
    return net


# Scheduling order: the cheap passes first (they make the first partial results), then the long
# sequential chains (the critical path: the (L7) chain is the longest), then the independent steps.
_ORDER = ("lstm forward", "rnn forward", "lstm bptt", "lstm lower bound", "rnn bptt", "rnn lower bound",
          "lstm diagonal means", "rnn diagonal means", "rnn factor norms", "lstm long-range (L7)",
          "rnn long-range (R2)", "lstm naive chain (L4 product)", "lstm factor norms (L4)")

_network_lock = threading.Lock()  # guards _Network.owner


class ComputeJob:
    """Everything `compute(setup, backend, previous)` computes, run in chunks: cancellable and
    progressive. See the module docstring for the protocol; `chunk_steps` fixes the chunk size
    of every pass (tests), `threads` the number of threads (1: the calling thread only; default:
    a helper thread too when the numba kernels have enough work)."""

    def __init__(self, setup: Setup, backend: str = "numba", previous: Results | None = None,
                 chunk_steps: int | None = None, threads: int | None = None):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.setup, self.backend = setup, backend
        self._kern = _backend_module(backend)
        self._chunk_steps = chunk_steps
        self._cancel_event = threading.Event()
        self._lock = threading.Condition()
        self._results: Results | None = None
        previous = previous if previous is not None and previous.backend == backend else None
        self._previous = previous
        earlier = previous.__dict__.get("_networks", {}) if previous is not None else {}
        self._networks: dict[str, _Network] = {}
        for key, inputs in (("rnn", rnn_inputs(setup)), ("lstm", lstm_inputs(setup))):
            candidate = earlier.get(key)
            if candidate is not None and candidate.inputs == inputs and not candidate.broken:
                with _network_lock:
                    if candidate.owner is None:  # (not while another job runs it)
                        self._networks[key] = candidate
        self.reused = {key: key in self._networks for key in ("rnn", "lstm")}
        # the inputs x are part of both networks' inputs: unchanged whenever one is reused
        self._x = previous.x if any(self.reused.values()) else input_sequence(setup)
        self._x.setflags(write=False)
        for key, build in (("rnn", _rnn_network), ("lstm", _lstm_network)):
            if key not in self._networks:
                self._networks[key] = build(setup, self._kern, backend, self._x)
        self._passes = sorted((p for net in self._networks.values() for p in net.passes),
                              key=lambda p: _ORDER.index(p.name))
        work = setup.hidden_size ** 2 * setup.steps
        # a helper thread helps beside another costly pass, or with the cheap passes of a large
        # setup; at small sizes the (R2) chain of a turned U alone is one recurrence (a helper
        # cost it ~0.7 ms of 4.6 at (32, 100))
        costly_left = sum(1 for p in self._passes if p.costly and not p.finished)
        parallel = backend == "numba" and work >= PARALLEL_MIN_WORK and (
            costly_left >= 2 or work >= PARALLEL_ALONE_MIN_WORK)
        wanted = threads if threads is not None else (2 if parallel else 1)
        self._threads = max(1, min(2, wanted))
        self._bases = base_matrices(setup)
        # when the passes only drawn in partial results (the lower bounds) may start (see run())
        self._for_partial_from: float | None = None

    # --- progress ---------------------------------------------------------------------------
    @property
    def progress(self) -> float:
        """The fraction (0..1) of the costly exact work (per-step (L4) norms, long-range chains) done."""
        total = done = 0.0
        for p in self._passes:
            if p.costly:
                total += p.count * p.cost
                done += p.done * p.cost
        return 1.0 if total == 0.0 else done / total

    @property
    def finished(self) -> bool:
        return all(p.finished for p in self._passes)

    def pass_seconds(self) -> dict[str, float]:
        """Seconds spent so far in each pass's chunks (on any thread), by pass name: where the time goes."""
        return {p.name: p.seconds for p in self._passes}

    def cancel(self) -> None:
        """Ask a running `run()` to stop (thread-safe); it raises Cancelled at its next chunk boundary."""
        self._cancel_event.set()

    # --- scheduling ---------------------------------------------------------------------------
    def _ready(self, p: _Pass) -> bool:
        return all(n.finished for n in p.needs)

    def _claim(self, cheap_only: bool = False):
        """(pass, first, stop) of the next chunk to run, or None. Call with self._lock held."""
        for p in self._passes:
            if p.claimed >= p.count or (p.busy and not p.independent) or not self._ready(p):
                continue
            if cheap_only and p.costly:
                break  # (the costly passes come last)
            if p.for_partial and self._holding_partial_passes():
                continue
            size = p.chunk_size(self._chunk_steps)
            if p.independent and self._threads > 1:  # leave some for the other thread at the end
                size = min(size, max(1, math.ceil((p.count - p.claimed) / 2)))
            first = p.index(p.claimed)
            p.claimed += size
            p.last_size = size
            p.busy = True
            return p, first, p.index(p.claimed)
        return None

    def _run_chunk(self, p: _Pass, first: int, stop: int) -> None:
        if not p.started:
            with self._lock:
                start = not p.started
                p.started = True
            if start and p.on_start is not None:
                p.on_start()
        began = time.perf_counter()
        p.run_chunk(first, stop)
        elapsed = time.perf_counter() - began
        with self._lock:
            steps = abs(stop - first)
            p.done += steps
            p.busy = False
            per_step = elapsed / steps
            p.seconds += elapsed
            p.seconds_per_step = per_step if p.seconds_per_step is None else 0.5 * (p.seconds_per_step + per_step)
            finished_now = p.finished
        if finished_now:
            if p.on_finish is not None:
                p.on_finish()
            p.run_chunk = None  # frees what the pass carried (a chain's running products)
        with self._lock:
            self._lock.notify_all()

    def _work(self, stop: threading.Event, errors: list) -> None:
        """The helper thread: chunks until everything is done or `stop` is set."""
        try:
            while not stop.is_set():
                with self._lock:
                    claim = self._claim()
                    if claim is None:
                        if self.finished:
                            return
                        self._lock.wait(timeout=0.05)
                        continue
                self._run_chunk(*claim)
        except BaseException as exc:  # re-raised on the calling thread
            errors.append(exc)
            stop.set()
            with self._lock:
                self._lock.notify_all()

    def _holding_partial_passes(self) -> bool:
        """Whether the passes only drawn in partial results may not start yet (see run())."""
        return self._for_partial_from is not None and time.perf_counter() < self._for_partial_from

    def _ended_without_partial_passes(self) -> bool:
        """Whether every pass is done but passes only drawn in partial results that this run has
        not started (see run()): those are skipped, their arrays left NaN."""
        if self._for_partial_from is None:
            return False
        with self._lock:
            left = [p for p in self._passes if not p.finished]
            if not left or not all(p.for_partial and p.claimed == 0 for p in left):
                return False
            for p in left:
                p.skip()
            self._lock.notify_all()
            return True

    # --- results -----------------------------------------------------------------------------
    def _make_results(self, final: bool) -> Results:
        arrays = {}
        for net in self._networks.values():
            for name, value in net.arrays.items():
                if final:
                    arrays[name] = value
                elif name in _STREAMED:  # still being written: a copy
                    arrays[name] = value.copy()
                    arrays[name].setflags(write=False)
                else:
                    # final already (partial results come once the cheap passes are done): the array
                    # itself, read-only from now on, so every partial and the final results share
                    # one object. (A new view per partial was a new object, and at (512, 5000) the
                    # window coloured and copied the LSTM's 512 x 5001 cells again for each one.)
                    value.setflags(write=False)
                    arrays[name] = value
        results = Results(setup=self.setup, x=self._x, **arrays, bases=self._bases, backend=self.backend,
                          final=final, progress=1.0 if final else self.progress)
        results.__dict__["_networks"] = self._networks  # what a later job may take over
        rnn = self._networks.get("rnn")
        if rnn is not None and rnn.sigma_max_U is not None:
            results.sigma_max_U = rnn.sigma_max_U
        previous = self._previous
        if previous is not None:
            if self.reused["rnn"] and "sigma_max_U" in previous.__dict__:  # same U: keep its sigma_max(U)
                results.sigma_max_U = previous.sigma_max_U
            for network in ("rnn", "lstm"):  # same trajectory: same sensitivity
                if self.reused[network] and network in previous.__dict__.get("_sensitivity", {}):
                    results.__dict__.setdefault("_sensitivity", {})[network] = previous.__dict__["_sensitivity"][network]
        return results

    # --- the run -----------------------------------------------------------------------------
    def run(self, cancelled: Callable[[], bool] | None = None, on_partial: Callable[[Results], None] | None = None,
            min_interval: float = 0.1, first_partial_after: float = 0.0) -> Results:
        """Compute everything; see the module docstring. Returns the final Results; raises
        Cancelled when `cancelled()` returns True or `cancel()` was called (a later job, or
        run() again, continues from where this one stopped). `first_partial_after`: no partial
        results before the run has taken this long (a window: a compute that ends sooner is drawn
        once, final, instead of twice)."""
        if self._results is not None:
            return self._results
        with _network_lock:
            if any(net.owner is not None for net in self._networks.values()):
                raise RuntimeError("this job, or another that took over its work, is running already")
            for net in self._networks.values():
                net.owner = self
        stop, errors = threading.Event(), []
        helper = None
        # The lower bounds are drawn only in partial results, in place of exact norms still to come.
        # A run that hands out partial results starts them once it has taken half of
        # first_partial_after; one that ends sooner (no partial results: a knob change at (32, 100),
        # ~12 ms) has no use for them and leaves them NaN (1 ms of its 12 ms of work there).
        if on_partial is not None:
            self._for_partial_from = time.perf_counter() + first_partial_after / 2
        try:
            if self._threads > 1 and not self.finished:
                helper = threading.Thread(target=self._work, args=(stop, errors), name="simulator helper",
                                          daemon=True)
                helper.start()
            self._coordinate(errors, cancelled, on_partial, min_interval, first_partial_after)
        except Cancelled:
            raise
        except BaseException:
            for net in self._networks.values():  # a pass may have stopped half-way: never reuse them
                net.broken = True
            raise
        finally:
            stop.set()
            with self._lock:
                self._lock.notify_all()
            if helper is not None:
                helper.join()
            with _network_lock:
                for net in self._networks.values():
                    net.owner = None
        if errors:  # the helper failed after the calling thread had finished its last chunk
            for net in self._networks.values():
                net.broken = True
            raise errors[0]
        for net in self._networks.values():
            for value in net.arrays.values():
                value.setflags(write=False)  # shared between Results objects when reused
        self._results = self._make_results(final=True)
        return self._results

    def _coordinate(self, errors, cancelled, on_partial, min_interval, first_partial_after) -> None:
        started = time.perf_counter()
        emitted_cheap = False
        last_emit = 0.0
        emitted_progress = -1.0
        while True:
            if errors:
                raise errors[0]
            if self._cancel_event.is_set() or (cancelled is not None and cancelled()):
                self._cancel_event.clear()
                raise Cancelled()
            if self.finished or self._ended_without_partial_passes():
                return
            # (passes only drawn in partial results do not hold the others back before they may start)
            waiting = self._holding_partial_passes()
            cheap_done = all(p.finished for p in self._passes if not p.costly and not (p.for_partial and waiting))
            if on_partial is not None and cheap_done:
                now = time.perf_counter()
                progress = self.progress
                if ((not emitted_cheap and now - started >= first_partial_after)
                        or (emitted_cheap and now - last_emit >= min_interval and progress > emitted_progress)):
                    emitted_cheap, last_emit, emitted_progress = True, now, progress
                    on_partial(self._make_results(final=False))
                    continue  # look at the flag again: on_partial may have taken a while
            with self._lock:
                # until the cheap parts are done, this thread takes no costly chunk: it would hold
                # the first results back while the helper finishes the cheap part (once they are
                # done, waiting out first_partial_after, it may take one: <= one chunk of delay)
                claim = self._claim(cheap_only=on_partial is not None and not emitted_cheap and not cheap_done)
                if claim is None:
                    self._lock.wait(timeout=POLL_SECONDS)
                    continue
            self._run_chunk(*claim)


# The arrays that stream in behind the first partial results (NaN until computed).
_STREAMED = frozenset(("rnn_factor_norm", "rnn_longrange_log10", "lstm_factor_norm", "lstm_longrange_log10",
                       "lstm_naive_longrange_log10"))
