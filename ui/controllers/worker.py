"""One worker thread for every recompute, so the window never freezes.

`ComputeWorker.submit(setup)` replaces whatever request is still waiting: when the user drags
a slider faster than the simulator can follow, only the newest setup is computed
(latest request wins) and the older ones are dropped, never queued. The result comes back to
the UI thread through a queued signal together with the request's id, so the window can tell
a current answer from a stale one.
"""

from __future__ import annotations

import threading
import time
import traceback

from PySide6.QtCore import QObject, Signal

from simulator import Setup, compute, default_backend


def kernels_available() -> bool:
    return default_backend() == "numba"


class ComputeWorker(QObject):
    """Runs `simulator.compute` (and `simulator.warm_up`) on one daemon thread.

    The thread is a Python daemon thread, not a QThread: quitting the app while a long compute
    runs must not wait for it (nor abort on a QThread destroyed while running). Signals are
    emitted from that thread; Qt queues them to the UI thread, where this object lives.
    """

    result_ready = Signal(int, object, float)  # request id, Results, seconds spent computing
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
        self._next_id = 0
        self._stopping = False
        self.busy = False
        self._last_results = None  # worker thread only: lets compute() reuse an unchanged network
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

    def warm_up(self) -> None:
        """Compile (or load from numba's cache) the kernels, after the requests made so far."""
        with self._condition:
            self._warm_after = self._next_id
            self._condition.notify()

    @property
    def latest_id(self) -> int:
        with self._condition:
            return self._next_id

    def stop(self, timeout: float = 0.5) -> None:
        """Drop waiting work and let the thread end; never waits long for a running compute."""
        with self._condition:
            self._stopping = True
            self._pending = None
            self._warm_after = None
            self._condition.notify()
        self._thread.join(timeout)

    # --- the worker thread ----------------------------------------------------------------
    def _next_job(self):
        with self._condition:
            while (not self._stopping and self._pending is None and self._warm_after is None
                   and self._pending_norms is None and self._pending_paths is None):
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
            job, self._pending = self._pending, None
            return ("compute", *job)

    def _emit(self, signal, *args) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the window (and this QObject) is gone: nobody is listening
            pass

    def _run(self) -> None:
        while (job := self._next_job()) is not None:
            if job[0] == "warm":
                self._warm_up()
            elif job[0] == "norms":
                self._term_norms(*job[1:])
            elif job[0] == "paths":
                self._paths(*job[1:])
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

    def _term_norms(self, results, t: int) -> None:
        try:
            results.lstm_term_norms(t)
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

    def _compute(self, request_id: int, setup: Setup, backend: str | None) -> None:
        self.busy = True
        start = time.perf_counter()
        try:
            # previous=: turning U recomputes only the RNN, a gate knob only the LSTM
            results = compute(setup, backend=backend or self.backend, previous=self._last_results)
            # An SVD: do it here, not on the UI thread (where it stalled behind the BLAS threads).
            results.sigma_max_U  # noqa: B018 (fill the cache in the worker, not on the UI thread)
        except Exception as exc:  # reported to the UI, which keeps the previous results
            self._emit(self.failed, request_id, f"{type(exc).__name__}: {exc}")
        else:
            self._last_results = results
            self._emit(self.result_ready, request_id, results, time.perf_counter() - start)
        finally:
            self.busy = False
