"""Qt controllers: the compute worker, presets (File menu), export (Export menu, right-click).

The controllers use the main window only through this interface (ui/main_window.MainWindow):

    file_menu, export_menu                     QMenus the controllers add their actions to
    plot_widgets: dict[str, QWidget]           the widget of each plot name ("dashboard": all; "paths": its tab)
    setup_changed, results_changed             signals: a user edit was computed; new results drawn
    requested_setup() -> Setup                 the newest setup asked for (even while computing)
    results -> Results | None                  the results drawn now
    is_computing() -> bool
    view_state() -> plots.view.ViewState       selected step, revealed steps, panels, gate rows, Paths selection
    apply_setup(setup, view=None)              show a setup (a loaded preset) with its view
    set_lesson(name, description)              the open lesson, shown whole
    show_error(title, message), statusBar()
    training_curves() -> TrainingCurves | None the Train tab's curves (frozen), for the "training" plot
                                               (optional: a window without a Train tab has none)
    training_settings() -> TrainingSettings | None, apply_training_settings(settings)
                                               the Train panel's settings, for presets (optional)
"""
