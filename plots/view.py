"""The view state: what the window shows of a simulation, apart from the setup itself.

One `ViewState` describes the selected step, how many steps the transport has revealed, which
panels are visible, which optional rows are on, and what the Paths view shows (the weight, the
copy k, the order of the list, the highlighted path). The window keeps exactly one (ui/view_model.py
holds it with change signals); an export takes the window's, headless export builds one from
--step and --reveal. Plot descriptions are functions of (Results, ViewState) only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from simulator.paths import PATH_WEIGHTS  # ("W_hf", "W_hi", "W_hg", "W_ho", "U")

# Every panel of the window's dashboard (plots.PLOT_NAMES without the composite "dashboard" and
# without the views in tabs of their own, such as "paths").
PANEL_NAMES = ("factors", "long-range", "terms", "bptt", "heatmaps", "unrolled")

# The Paths view (plots/paths.py): the weight whose copies W^(k) the paths lead to, and the orders
# of its list of paths.
PATH_ORDERS = ("magnitude", "group")  # largest first | by group ("stays in the cell", "through h once", ...)
PATHS_ANY_K_UP_TO = 8  # for T <= 8 every k = 1..T can be chosen; above, k = T - PATHS_LAST_LAGS .. T
PATHS_LAST_LAGS = 5  # (paths to far copies cost ~1 s at H = 32, lag 30: the view offers the last six)


def paths_k_choices(steps: int) -> tuple[int, ...]:
    """The copies k the Paths view offers for a run of `steps` steps (latest last)."""
    first = 1 if steps <= PATHS_ANY_K_UP_TO else steps - PATHS_LAST_LAGS
    return tuple(range(max(1, first), steps + 1))


@dataclass(frozen=True)
class ViewState:
    selected_step: int = 0
    revealed_steps: int = 0
    visible_panels: tuple[str, ...] = PANEL_NAMES
    show_gates: bool = False  # the heatmaps' gate rows i, f, g, o
    # the Paths view
    paths_weight: str = "W_hf"  # one of PATH_WEIGHTS
    paths_k: int | None = None  # the copy W^(k); None (or a k not offered for this T): T - 1
    paths_order: str = "magnitude"  # one of PATH_ORDERS
    paths_highlight: int | None = None  # rank (1 = largest) of the highlighted listed path; None: none

    @classmethod
    def full(cls, steps: int, **changes) -> "ViewState":
        """A clean view of a run of `steps` steps: fully revealed, last step selected."""
        return cls(selected_step=steps, revealed_steps=steps, **changes)

    def clamped(self, steps: int) -> "ViewState":
        """The same view for a run of `steps` steps (selection and reveal kept in 0..steps)."""
        return replace(self, selected_step=max(0, min(self.selected_step, steps)),
                       revealed_steps=max(0, min(self.revealed_steps, steps)))

    def replace(self, **changes) -> "ViewState":
        return replace(self, **changes)

    def paths_k_for(self, steps: int) -> int:
        """The copy k the Paths view shows for a run of `steps` steps: `paths_k` if it is offered
        (paths_k_choices), else T - 1 (T when T = 1)."""
        choices = paths_k_choices(steps)
        if self.paths_k in choices:
            return int(self.paths_k)
        return max(1, steps - 1)


def from_preset(preset) -> ViewState:
    """The view a preset (simulator.presets.Preset) stores; what it leaves out is a clean view
    (last step selected, every step revealed). Unknown panel names are ignored. Presets do not
    store the Paths view's selection (its defaults apply: W_hf, k = T - 1, largest first)."""
    stored, steps = preset.view, preset.setup.steps
    return ViewState(
        selected_step=steps if stored.selected_step is None else stored.selected_step,
        revealed_steps=steps if stored.revealed_steps is None else stored.revealed_steps,
        visible_panels=tuple(p for p in PANEL_NAMES if p in stored.visible_panels),
        show_gates=stored.show_gates,
    )


def to_preset_view(view: ViewState, steps: int) -> dict:
    """The view as a preset stores it (simulator.presets.ViewState fields), kept in 0..steps."""
    view = view.clamped(steps)
    return {"selected_step": view.selected_step, "revealed_steps": view.revealed_steps,
            "visible_panels": list(view.visible_panels), "show_gates": view.show_gates}


__all__ = ["PANEL_NAMES", "PATHS_ANY_K_UP_TO", "PATHS_LAST_LAGS", "PATH_ORDERS", "PATH_WEIGHTS", "ViewState",
           "from_preset", "paths_k_choices", "to_preset_view"]
