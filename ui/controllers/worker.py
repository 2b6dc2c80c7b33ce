"""One worker thread for every recompute, so the window never freezes.

`ComputeWorker.submit(setup)` replaces whatever request is still waiting, and CANCELS the compute
that is running (simulator.ComputeJob, which stops within one chunk of steps, ~20 ms): when the
user drags a slider or opens a preset, only the newest setup is computed (latest request wins).
A compute streams its results: `partial_ready` as soon as the cheap exact parts are in (forward
states, BPTT, the loss gradient at each step, lower bounds of the long-range norms), then again
while the exact norms come in, with the fraction done; `result_ready` with the final results.
Every signal carries the request's id, so the window can tell a current answer from a stale one.

Between two chunks of a long compute the worker also answers the quick questions of the UI (the
(L4) term norms at the selected step, the Paths view's numbers), so they never wait for a long
compute. After final results it works out, when idle, whether the trajectories are chaotic
(`chaos_ready`). `stop()` cancels, and joins the thread: nothing runs inside numba when the
interpreter finalises (quitting during a compute segfaulted before).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import traceback
import weakref

import numpy as np

from PySide6.QtCore import QObject, Signal

from simulator import Cancelled, ComputeJob, Setup, chaos_note, default_backend

# No partial results in the first 50 ms of a compute: one that ends sooner (every knob change at
# (32, 100): ~13 ms) is drawn once, final, not twice (a partial frame and then the final one cost
# 67 ms instead of ~20 ms there); larger ones reach their cheap parts later than this anyway.
FIRST_PARTIAL_AFTER = 0.05


def kernels_available() -> bool:
    return default_backend() == "numba"


# The worker's threads (and the compute's helper thread, which inherits it) run this much nicer
# than the window: when they and the window want the same core, the window goes first (on a 2-core machine
# a streaming compute keeps both cores busy, and a repaint waited behind it: 85 ms UI blocks).
WORKER_NICENESS = 10


def _yield_to_the_window() -> None:
    """Lower this thread's scheduling priority (Linux: a thread's nice value is its own, and new
    threads inherit it). Elsewhere, or when not allowed, nothing changes."""
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + WORKER_NICENESS))
    except (AttributeError, OSError):
        pass


# Term norms worked out ahead per turn of the worker's loop: at H = 128 ~18 ms, so a newer request
# waits at most that long for a prefetch in progress.
PREFETCH_BATCH = 16


# A compute quicker than this hands its results over at once (describing them here first would
# only add to a small setup's knob latency; a long one's first partial results come after
# FIRST_PARTIAL_AFTER and are always prepared here).
PREPARE_DRAWING_AFTER = 0.1


def _prepare_drawing(results, stop=lambda: False) -> bool:
    """Describe the dashboard's plots of these results here, on the worker: what the descriptions
    derive from the results alone (colour-mapped cells, float32 images, log-clipped curves, the
    plots' items) is cached per result array (plots/cache.py), so the window's own describe then
    mostly finds it and the UI thread only draws (the first partial results of a knob change at
    (128, 1000) cost the UI thread ~40 ms of numpy before). `stop()` is asked before each derived
    array (a newer request: at (512, 5000) describing the dashboard takes half a second, one array
    at most 70 ms); False: it stopped."""
    import plots
    from plots import cache
    from plots.view import ViewState

    view = ViewState.full(results.steps)
    with cache.stop_when(stop):
        for name in (name for row in plots.DASHBOARD_ORDER for name in row):
            try:
                plots.describe(name, results, view, blocking=False)
            except cache.Stopped:
                return False
            except Exception:  # noqa: BLE001 - the window describes them itself (and reports any error)
                traceback.print_exc()
    return True


class ComputeWorker(QObject):
    """Runs `simulator.ComputeJob`s (and `simulator.warm_up`) on one thread.

    A Python thread, not a QThread; `stop()` cancels and joins it. Signals are emitted from that
    thread; Qt queues them to the UI thread, where this object lives.
    """

    result_ready = Signal(int, object, float)  # request id, final Results, seconds spent computing
    partial_ready = Signal(int, object, float)  # request id, Results not final yet (NaN: coming), fraction done
    chaos_ready = Signal(object, object)  # final Results, chaos note (str) or None
    term_norms_ready = Signal(object, int)  # Results, step t: results.lstm_term_norms(t) is now known
    paths_ready = Signal(object)  # Results: the path data asked for (plots.paths.path_data) are cached now
    failed = Signal(int, str)  # request id, message
    warm_up_done = Signal(float)  # seconds

    def __init__(self, backend: str | None = None):
        super().__init__()
        self.backend = backend or default_backend()
        self._condition = threading.Condition()
        self._pending: tuple[int, Setup, str | None] | None = None
        self._pending_norms: tuple | None = None  # (results, t): the (L4) term norms the window wants
        self._pending_paths: tuple | None = None  # (results, weight, k, order): the Paths view's numbers
        self._warm_after: int | None = None  # warm up once requests up to this id are taken
        self._pending_chaos = None  # final Results whose chaos note is still to be worked out
        self._pending_prefetch = None  # (final Results, step): term norms to work out when idle
        self._norms_cache: dict = {}  # (id of the LSTM's pre-activations, t) -> (weakref, term norms)
        self._next_id = 0
        self._stopping = False
        self.busy = False
        self._last_results = None  # worker thread only: lets a compute reuse an unchanged network
        self.job: ComputeJob | None = None  # the running compute (its progress is read by benchmarks)
        self._thread = threading.Thread(target=self._run, name="rnn-gradient-lab compute", daemon=True)
        self._thread.start()

    # --- called from the UI thread --------------------------------------------------------
    def submit(self, setup: Setup, backend: str | None = None) -> int:
        """Ask for `setup` to be computed (with `backend`, default the worker's); returns the
        request id. Replaces a request that is still waiting."""
        with self._condition:
            self._next_id += 1
            request_id = self._next_id
            self._pending = (request_id, setup, backend)
            self._pending_prefetch = None  # (for results about to be replaced)
            self._condition.notify()
        return request_id

    def request_term_norms(self, results, t: int) -> None:
        """Compute the (L4) term norms of `results` at step t (4 SVDs: too slow for the UI thread at
        large H); term_norms_ready follows. A newer request replaces one still waiting."""
        with self._condition:
            self._pending_norms = (results, int(t))
            self._condition.notify()

    def request_paths(self, results, weight: str, k: int, order: str) -> None:
        """Compute the Paths view's numbers for (weight, k, order) (plots.paths.path_data: too slow
        for the UI thread at large H or T); paths_ready follows. A newer request replaces one
        still waiting."""
        with self._condition:
            self._pending_paths = (results, weight, int(k), order)
            self._condition.notify()

    def prefetch_term_norms(self, results, t: int) -> None:
        """When idle, compute the (L4) term norms of `results` at every step, from step t on (then
        the steps before it), PREFETCH_BATCH steps at a time behind any other work: stepping and
        playing then find each step's norms ready instead of computing them as they draw. A newer
        call replaces the target (a click elsewhere starts there)."""
        with self._condition:
            self._pending_prefetch = (results, int(t))
            self._condition.notify()

    def request_chaos(self, results) -> None:
        """Work out, when nothing else waits, whether the trajectories of these final results are
        chaotic (`chaos_ready` follows). The window asks only once it has drawn them: the note is
        a Python loop over T steps that holds the GIL, and run as the results were handed over it
        took turns with the window's drawing of them (a knob change at (32, 100) repainted ~5 ms
        later)."""
        with self._condition:
            self._pending_chaos = results
            self._condition.notify()

    def warm_up(self) -> None:
        """Compile (or load from numba's cache) the kernels, after the requests made so far."""
        with self._condition:
            self._warm_after = self._next_id
            self._condition.notify()

    @property
    def latest_id(self) -> int:
        with self._condition:
            return self._next_id

    def stop(self, timeout: float = 5.0) -> bool:
        """Drop waiting work, cancel the running compute and join the thread (a compute stops
        within one chunk, ~20 ms; a numba warm-up that is loading kernels is waited for).
        Returns whether the thread has ended."""
        with self._condition:
            self._stopping = True
            self._pending = None
            self._pending_norms = self._pending_paths = self._pending_chaos = self._pending_prefetch = None
            self._warm_after = None
            self._condition.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # --- the worker thread ----------------------------------------------------------------
    def _next_job(self):
        with self._condition:
            while (not self._stopping and self._pending is None and self._warm_after is None
                   and self._pending_norms is None and self._pending_paths is None and self._pending_chaos is None
                   and self._pending_prefetch is None):
                self._condition.wait()
            if self._stopping:
                return None
            if self._pending_norms is not None:  # quick, and what the user is looking at
                job, self._pending_norms = self._pending_norms, None
                return ("norms", *job)
            if self._pending_paths is not None and self._pending is None:  # (a new setup first)
                job, self._pending_paths = self._pending_paths, None
                return ("paths", *job)
            if self._warm_after is not None and (self._pending is None or self._pending[0] > self._warm_after):
                self._warm_after = None
                return ("warm",)
            if self._pending is not None:
                job, self._pending = self._pending, None
                return ("compute", *job)
            if self._pending_chaos is not None:  # when idle: nothing newer waits
                job, self._pending_chaos = self._pending_chaos, None
                return ("chaos", job)
            job, self._pending_prefetch = self._pending_prefetch, None  # last: when nothing else waits
            return ("prefetch", *job)

    def _emit(self, signal, *args) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the window (and this QObject) is gone: nobody is listening
            pass

    def _run(self) -> None:
        _yield_to_the_window()
        while (job := self._next_job()) is not None:
            if job[0] == "warm":
                self._warm_up()
            elif job[0] == "norms":
                self._term_norms(*job[1:])
            elif job[0] == "paths":
                self._paths(*job[1:])
            elif job[0] == "chaos":
                self._chaos(job[1])
            elif job[0] == "prefetch":
                self._prefetch(*job[1:])
            else:
                self._compute(*job[1:])

    def _warm_up(self) -> None:
        start = time.perf_counter()
        if self.backend == "numba":
            try:
                import simulator

                simulator.warm_up()
            except Exception:  # a broken kernel must not kill the app: fall back to numpy
                traceback.print_exc()
                self.backend = "reference"
        self._emit(self.warm_up_done, time.perf_counter() - start)

    def _newer_work(self) -> bool:
        """Whether a compute must stop: a newer request waits, or the app quits."""
        with self._condition:
            return self._stopping or self._pending is not None

    def _between_chunks(self) -> bool:
        """Called by a running compute between two chunks: answer the UI's quick questions now (so
        they never wait for a long compute), then say whether the compute must stop."""
        with self._condition:
            norms, self._pending_norms = self._pending_norms, None
            paths = None
            if self._pending_paths is not None and self._pending is None:
                paths, self._pending_paths = self._pending_paths, None
        if norms is not None:
            self._term_norms(*norms)
        if paths is not None:
            self._paths(*paths)
        return self._newer_work()

    def _term_norms(self, results, t: int) -> None:
        # Partial and final results of one LSTM are views of the same finished pre-activations:
        # the norms are keyed by that array (held weakly), so each is computed once.
        pre = results.lstm_pre
        while isinstance(pre.base, np.ndarray):
            pre = pre.base
        key = (id(pre), t)
        try:
            known = self._norms_cache.get(key)
            if known is not None and known[0]() is pre:  # computed for another Results of this LSTM
                results.__dict__.setdefault("_term_norms", {})[t] = known[1]
            else:
                if len(self._norms_cache) > 256:
                    self._norms_cache.clear()
                self._norms_cache[key] = (weakref.ref(pre), results.lstm_term_norms(t))
        except Exception:  # noqa: BLE001 - the bars stay without norms; the compute path reports errors
            traceback.print_exc()
            return
        self._emit(self.term_norms_ready, results, t)

    def _paths(self, results, weight: str, k: int, order: str) -> None:
        from plots.paths import path_data

        try:
            path_data(results, weight, k, order, blocking=True)
        except Exception:  # noqa: BLE001 - the view keeps saying "computing"; the error is printed
            traceback.print_exc()
            return
        self._emit(self.paths_ready, results)

    def _prefetch(self, results, t: int) -> None:
        """PREFETCH_BATCH steps' term norms (the first not known yet from step t on, wrapping
        round), then back in the queue behind whatever came meanwhile."""
        start = min(max(t, 1), results.steps)
        wrapped = itertools.chain(range(start, results.steps + 1), range(1, start))
        # (looked up lazily: a batch reads past the steps known already, not all T of them)
        unknown = list(itertools.islice((s for s in wrapped if results.term_norms_if_ready(s) is None),
                                        PREFETCH_BATCH + 1))
        for s in unknown[:PREFETCH_BATCH]:
            results.lstm_term_norms(s)  # (one numba call without the GIL: the window draws meanwhile)
        if len(unknown) > PREFETCH_BATCH:
            with self._condition:
                if self._pending_prefetch is None:  # (else the window asked for a newer target)
                    self._pending_prefetch = (results, unknown[PREFETCH_BATCH])

    def _carry_sigma(self, results) -> None:
        """σ_max(U) (a Gram matrix or an SVD) is the previous results' when the RNN is unchanged (a
        partial result's next one, or a knob of the LSTM turned)."""
        from simulator.results import rnn_inputs

        previous = self._last_results
        if (previous is not None and "sigma_max_U" in previous.__dict__
                and rnn_inputs(previous.setup) == rnn_inputs(results.setup)):
            results.__dict__["sigma_max_U"] = previous.sigma_max_U

    def _chaos(self, results) -> None:
        try:
            note = chaos_note(results, cancelled=self._newer_work)  # O(T H^2): stops for newer work
        except Cancelled:
            return
        except Exception:  # noqa: BLE001 - a missing note must not stop the worker
            traceback.print_exc()
            return
        self._emit(self.chaos_ready, results, note)

    def _compute(self, request_id: int, setup: Setup, backend: str | None) -> None:
        self.busy = True
        start = time.perf_counter()
        # previous=: turning U recomputes only the RNN, a gate knob only the LSTM, and a compute
        # that was cancelled half way is continued where it stopped (partial results count)
        job = None

        def partial(results) -> None:
            self._carry_sigma(results)
            self._last_results = results
            results.sigma_max_U  # noqa: B018 (a Gram matrix or an SVD: in the worker, not on the UI thread)
            if _prepare_drawing(results, stop=self._newer_work):
                self._emit(self.partial_ready, request_id, results, job.progress)
            # (else a newer request waits: the compute stops at its next chunk)

        try:
            job = self.job = ComputeJob(setup, backend=backend or self.backend, previous=self._last_results)
            results = job.run(cancelled=self._between_chunks, on_partial=partial,
                              first_partial_after=FIRST_PARTIAL_AFTER)
            self._carry_sigma(results)
            results.sigma_max_U  # noqa: B018 (fill the cache in the worker, not on the UI thread)
            if time.perf_counter() - start > PREPARE_DRAWING_AFTER and not _prepare_drawing(results, self._newer_work):
                self._last_results = results  # a newer request came meanwhile: it starts from these
                return
        except Cancelled:  # a newer request (or quitting): the loop takes it
            return
        except Exception as exc:  # reported to the UI, which keeps the previous results
            self._emit(self.failed, request_id, f"{type(exc).__name__}: {exc}")
        else:
            self._last_results = results
            self._emit(self.result_ready, request_id, results, time.perf_counter() - start)
        finally:
            self.job = None
            self.busy = False
