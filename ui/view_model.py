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
PATHS, PATH_HIGHLIGHT = "paths", "path-highlight"  # the Paths view: what it lists / the highlighted path


class ViewModel(QObject):
    # the parts that changed: RESULTS, SELECTION, REVEAL, PANELS, GATES, PATHS, PATH_HIGHLIGHT
    changed = Signal(frozenset)

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

    def set_paths(self, **changes) -> None:
        """Change the Paths view's selection (paths_weight, paths_k, paths_order,
        paths_highlight). A new weight, k or order lists other paths: the highlight is cleared
        unless given."""
        listing = {name: changes[name] for name in ("paths_weight", "paths_k", "paths_order") if name in changes}
        view = self.view.replace(**changes)
        if any(getattr(self.view, name) != value for name, value in listing.items()) \
                and "paths_highlight" not in changes:
            view = view.replace(paths_highlight=None)
        self.set_view(view)

    def highlight_path(self, rank: int | None) -> None:
        """Highlight the listed path of this rank (None: none)."""
        self.set_view(self.view.replace(paths_highlight=rank))

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
        if (old.paths_weight, old.paths_k, old.paths_order) != (new.paths_weight, new.paths_k, new.paths_order):
            changed.add(PATHS)
        if old.paths_highlight != new.paths_highlight:
            changed.add(PATH_HIGHLIGHT)
        return changed


# Which view-state parts each plot depends on (besides the results).
# (the unrolled view draws the Paths view's highlighted path; "paths" is drawn when its tab shows)
DEPENDS_ON = {
    "factors": {SELECTION, REVEAL}, "long-range": {SELECTION}, "terms": {SELECTION}, "bptt": {SELECTION},
    "heatmaps": {SELECTION, REVEAL, GATES}, "unrolled": {SELECTION, REVEAL, PATHS, PATH_HIGHLIGHT},
    "paths": {PATHS, PATH_HIGHLIGHT},
}

__all__ = ["DEPENDS_ON", "GATES", "PANELS", "PATHS", "PATH_HIGHLIGHT", "RESULTS", "REVEAL", "SELECTION",
           "ViewModel"]
