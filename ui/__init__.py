"""RNN Gradient Lab's user interface, laid out by role:

    ui/render/       the two renderers of a plot description: pyqtgraph (window), matplotlib (slides)
    ui/widgets/      Qt widgets: knobs, formula panel, heatmaps, unrolled networks
    ui/controllers/  Qt controllers: the compute worker, presets, export
    ui/export/       export files (PNG, SVG, PDF, GIF, CSV) from the descriptions (no Qt)
    ui/cli/          the headless command line (no Qt)
    ui/view_model.py the one view state of the window, with change signals
    ui/main_window.py, ui/app.py

This package file imports nothing, so the headless export works without a display.
"""
