"""The view state: what the window shows of a simulation, apart from the setup itself.

One `ViewState` describes the selected step, how many steps the transport has revealed, which
panels are visible and which optional rows are on. The window keeps exactly one (ui/view_model.py
holds it with change signals); an export takes the window's, headless export builds one from
--step and --reveal. Plot descriptions are functions of (Results, ViewState) only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# Every panel of the window (plots.PLOT_NAMES without the composite "dashboard").
PANEL_NAMES = ("factors", "long-range", "terms", "bptt", "heatmaps", "unrolled")


@dataclass(frozen=True)
class ViewState:
    selected_step: int = 0
    revealed_steps: int = 0
    visible_panels: tuple[str, ...] = PANEL_NAMES
    show_gates: bool = False  # the heatmaps' gate rows i, f, g, o

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


def from_preset(preset) -> ViewState:
    """The view a preset (simulator.presets.Preset) stores; what it leaves out is a clean view
    (last step selected, every step revealed). Unknown panel names are ignored."""
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


__all__ = ["PANEL_NAMES", "ViewState", "from_preset", "to_preset_view"]
