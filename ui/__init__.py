"""Qt widgets of RNN Gradient Lab (thin: they read and write simulator state).

This package file imports nothing from Qt, so the headless export can use `ui.figures`
on a machine without a display.
"""

# Names of the exportable plots, shared by the window (right-click export) and `--plot`.
PLOT_NAMES = ("dashboard", "factors", "long-range", "terms", "bptt", "heatmaps", "unrolled")
