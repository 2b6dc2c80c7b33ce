"""The window's one view state, with change signals.

`ViewModel` holds what every view shows: the `Results` being drawn and the `ViewState` (selected
step, revealed steps, visible panels, gate rows). Views do not keep their own copies: they
subscribe to `changed` and redraw from (results, view) through the plot descriptions. Every
change goes through here, so the selected step can never disagree between two views, and a new
setup's results start from a consistent view (clamped to the new T).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from plots.view import PANEL_NAMES, ViewState
from simulator import Results

# What a change touched (the `changed` signal's argument): views redraw only what depends on it.
RESULTS, SELECTION, REVEAL, PANELS, GATES = "results", "selection", "reveal", "panels", "gates"


class ViewModel(QObject):
    changed = Signal(frozenset)  # the parts that changed: RESULTS, SELECTION, REVEAL, PANELS, GATES

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.results: Results | None = None
        self.view = ViewState(visible_panels=PANEL_NAMES)

    @property
    def steps(self) -> int | None:
        return None if self.results is None else self.results.steps

    # --- changes ----------------------------------------------------------------------------
    def set_results(self, results: Results, view: ViewState | None = None) -> None:
        """New results (optionally with a new view, e.g. a loaded preset's); the view is kept in
        0..T of the new run."""
        old_steps = self.steps
        self.results = results
        new = (view or self.view).clamped(results.steps)
        changed = {RESULTS} | self._diff(self.view, new)
        if old_steps != results.steps:
            changed |= {SELECTION, REVEAL}
        self.view = new
        self.changed.emit(frozenset(changed))

    def set_view(self, view: ViewState) -> None:
        """Replace the whole view (e.g. a preset's); kept in 0..T when results are shown."""
        if self.results is not None:
            view = view.clamped(self.results.steps)
        changed = self._diff(self.view, view)
        self.view = view
        if changed:
            self.changed.emit(frozenset(changed))

    def select(self, t: int) -> None:
        self.set_view(self.view.replace(selected_step=max(0, int(t))))

    def reveal(self, t: int, select: bool = True) -> None:
        """Reveal steps 0..t; the selection follows the transport (no factor at t = 0)."""
        view = self.view.replace(revealed_steps=max(0, int(t)))
        if select:
            view = view.replace(selected_step=max(int(t), 1) if (self.steps or 0) >= 1 else 0)
        self.set_view(view)

    def set_panels(self, panels) -> None:
        self.set_view(self.view.replace(visible_panels=tuple(p for p in PANEL_NAMES if p in set(panels))))

    def set_show_gates(self, shown: bool) -> None:
        self.set_view(self.view.replace(show_gates=bool(shown)))

    @staticmethod
    def _diff(old: ViewState, new: ViewState) -> set[str]:
        changed = set()
        if old.selected_step != new.selected_step:
            changed.add(SELECTION)
        if old.revealed_steps != new.revealed_steps:
            changed.add(REVEAL)
        if old.visible_panels != new.visible_panels:
            changed.add(PANELS)
        if old.show_gates != new.show_gates:
            changed.add(GATES)
        return changed


# Which view-state parts each plot depends on (besides the results).
DEPENDS_ON = {
    "factors": {SELECTION, REVEAL}, "long-range": {SELECTION}, "terms": {SELECTION}, "bptt": {SELECTION},
    "heatmaps": {SELECTION, REVEAL, GATES}, "unrolled": {SELECTION, REVEAL},
}

__all__ = ["DEPENDS_ON", "GATES", "PANELS", "RESULTS", "REVEAL", "SELECTION", "ViewModel"]
