"""A stepping session over one setup: what the app's transport (Step, Play, Reset) drives.

The whole sequence is computed once per setup change (`results`); stepping only moves the
revealed step `t`, so Step and Play cost nothing. Long-range and BPTT arrays are for the loss
at the last step T of the unrolled network.
"""

from __future__ import annotations

from .results import Results, compute
from .setup import Setup


class Simulation:
    def __init__(self, setup: Setup | None = None, backend: str = "numba"):
        self.backend = backend
        self._setup = setup if setup is not None else Setup()
        self._results: Results | None = None
        self.t = 0

    # --- the setup ------------------------------------------------------------------------
    @property
    def setup(self) -> Setup:
        return self._setup

    def set_setup(self, setup: Setup) -> None:
        """Replace the setup (already validated: it is a Setup) and recompute. t is kept in range."""
        # compute first: a failure changes nothing; an unchanged network's arrays are reused
        results = compute(setup, self.backend, previous=self._results)
        self._setup, self._results = setup, results
        self.t = min(self.t, setup.steps)

    def set_knob(self, name: str, value: float) -> None:
        """Validated knob change (SetupError names the knob on a bad value; nothing changes then)."""
        self.set_setup(self._setup.with_knob(name, value))

    def update(self, **changes) -> None:
        """Validated change of top-level setup fields, e.g. update(hidden_size=8, seed=3)."""
        self.set_setup(self._setup.replace(**changes))

    def adopt_results(self, results: Results) -> None:
        """Take results computed elsewhere (the app's worker thread) together with their setup."""
        self._setup, self._results = results.setup, results
        self.t = min(self.t, results.setup.steps)

    @property
    def results(self) -> Results:
        if self._results is None or self._results.setup is not self._setup:
            self._results = compute(self._setup, self.backend)
        return self._results

    # --- transport ------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        return self._setup.steps

    @property
    def at_end(self) -> bool:
        return self.t >= self.steps

    def reset(self) -> None:
        self.t = 0

    def step(self) -> int:
        """Reveal one more time step (no-op at the end). Returns the new t."""
        self.t = min(self.t + 1, self.steps)
        return self.t

    def run_to(self, t: int) -> int:
        if not 0 <= t <= self.steps:
            raise ValueError(f"t must be in 0..{self.steps}, got {t}")
        self.t = t
        return self.t

    def run_to_end(self) -> int:
        return self.run_to(self.steps)
