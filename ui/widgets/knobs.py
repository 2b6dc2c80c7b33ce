"""The knob panel: one labelled slider with an editable value per knob, sizes, seed and input.

The panel keeps the setup it shows and emits `setup_edited(Setup)` with a validated copy when
the user changes anything. `set_setup` writes a setup into the widgets inside QSignalBlockers,
so loading a preset does not set off a cascade of recomputations.
"""

from __future__ import annotations

from PySide6.QtCore import QRegularExpression, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from plots import style
from simulator import BIAS_KNOBS, KNOB_NAMES, InputSignal, Knobs, Setup, SetupError
from simulator.setup import INPUT_KINDS


def field_range(model, name: str) -> tuple[float, float]:
    """The (ge, le) bounds of a pydantic field: widget ranges come from the setup model."""
    low = high = None
    for constraint in model.model_fields[name].metadata:
        low = getattr(constraint, "ge", low)
        high = getattr(constraint, "le", high)
    return low, high

SLIDER_STEPS_PER_UNIT = 100  # slider resolution 0.01
KNOB_RANGES = {  # slider ranges; the value box accepts anything the setup accepts (|v| <= 100)
    "U": (-4.0, 4.0), "W_hi": (-4.0, 4.0), "W_hf": (-4.0, 4.0), "W_hg": (-4.0, 4.0),
    "W_ho": (-4.0, 4.0), "b_i": (-6.0, 6.0), "b_f": (-6.0, 6.0), "b_g": (-6.0, 6.0),
    "b_o": (-6.0, 6.0), "input_gain": (-4.0, 4.0),
}
KNOB_LABELS = {
    "U": "U", "W_hi": "W_hi", "W_hf": "W_hf", "W_hg": "W_hg", "W_ho": "W_ho",
    "b_i": "b_i", "b_f": "b_f", "b_g": "b_g", "b_o": "b_o", "input_gain": "input gain",
}
_H_NOTE = "With H > 1 the knob is σ_max of the matrix (a fixed seeded matrix times the knob)."
KNOB_TOOLTIPS = {
    "U": "Vanilla RNN recurrent weight: a_t = W x_t + U S_{t-1} + b.\n"
    "It is the only knob of every per-step factor ∂S_t/∂S_{t-1} = diag(1 − S_t²)·U (R1).\n" + _H_NOTE,
    "W_hi": "Input-gate recurrent weight: i_t = σ(W_xi x_t + W_hi h_{t-1} + b_i).\n"
    "Scales the term g_t σ'(i) W_hi · o_{t-1} tanh'(C_{t-1}) of ∂C_t/∂C_{t-1} (L4).\n" + _H_NOTE,
    "W_hf": "Forget-gate recurrent weight: f_t = σ(W_xf x_t + W_hf h_{t-1} + b_f).\n"
    "Scales the term C_{t-1} σ'(f) W_hf · o_{t-1} tanh'(C_{t-1}) of ∂C_t/∂C_{t-1} (L4).\n" + _H_NOTE,
    "W_hg": "Candidate recurrent weight: g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g).\n"
    "Scales the term i_t tanh'(g) W_hg · o_{t-1} tanh'(C_{t-1}) of ∂C_t/∂C_{t-1} (L4).\n" + _H_NOTE,
    "W_ho": "Output-gate recurrent weight: o_t = σ(W_xo x_t + W_ho h_{t-1} + b_o).\n"
    "Not in the per-step (L4) factor; it enters the exact long-range ∂C_T/∂C_k (L6, L7).\n" + _H_NOTE,
    "b_i": "Input-gate bias: i_t = σ(W_xi x_t + W_hi h_{t-1} + b_i).",
    "b_f": "Forget-gate bias: f_t = σ(W_xf x_t + W_hf h_{t-1} + b_f).\n"
    "The forget path of ∂C_t/∂C_{t-1} is f_t ≈ σ(b_f): raise b_f to hold the carousel near 1.",
    "b_g": "Candidate bias: g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g).",
    "b_o": "Output-gate bias: o_t = σ(W_xo x_t + W_ho h_{t-1} + b_o); h_t = o_t ⊙ tanh(C_t).",
    "input_gain": "Multiplies every input weight: W (RNN) and W_xi, W_xf, W_xg, W_xo (LSTM),\n"
    "i.e. how hard the input x_t drives the states.",
}
SIGNAL_LABELS = {
    "white_noise": "white noise", "impulse": "impulse at t = 1", "constant": "constant",
    "sine": "sine", "zeros": "zeros (no input)", "task": "a task's test sequence",
}
TASK_TITLES = {"adding": "adding problem", "copy": "copy memory", "temporal_order": "temporal order"}


def task_input_label(signal: InputSignal) -> str:
    return f"{TASK_TITLES[signal.task]}, test sequence {signal.sequence}"


def _without_input_matrices(setup: Setup) -> dict | None:
    """The setup's explicit matrices without the input ones (sized for the old input size)."""
    kept = {name: rows for name, rows in (setup.weights or {}).items()
            if name not in ("W_x", "W_xi", "W_xf", "W_xg", "W_xo")}
    return kept or None


class KnobSlider(QWidget):
    """Name, slider, editable value and a reset button for one knob. Double-click resets too."""

    value_edited = Signal(str, float)

    def __init__(self, name: str, default: float, parent: QWidget | None = None):
        super().__init__(parent)
        self.name, self.default = name, default
        low, high = KNOB_RANGES[name]
        self.label = QLabel(KNOB_LABELS[name])
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance("input gain") + 6)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(low * SLIDER_STEPS_PER_UNIT), round(high * SLIDER_STEPS_PER_UNIT))
        self.slider.setPageStep(SLIDER_STEPS_PER_UNIT // 10)
        self.spin = QDoubleSpinBox()
        self.spin.setRange(*field_range(Knobs, name))
        self.spin.setDecimals(2)
        self.spin.setSingleStep(0.05)
        self.spin.setKeyboardTracking(False)  # recompute on Enter / focus out, not on every digit
        self.spin.setAccelerated(True)
        self.spin.setFixedWidth(self.spin.fontMetrics().horizontalAdvance("−100.00") + 30)
        self.slider.setMinimumWidth(60)
        self.reset_button = QToolButton()
        self.reset_button.setText("↺")
        self.reset_button.setAutoRaise(True)
        self.reset_button.setToolTip(f"Reset {KNOB_LABELS[name]} to {default:g}")
        tip = KNOB_TOOLTIPS[name] + "\nDouble-click the slider or press ↺ to reset."
        for widget in (self.label, self.slider, self.spin):
            widget.setToolTip(tip)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setHorizontalSpacing(6)
        layout.addWidget(self.label, 0, 0)
        layout.addWidget(self.slider, 0, 1)
        layout.addWidget(self.spin, 0, 2)
        layout.addWidget(self.reset_button, 0, 3)
        layout.setColumnStretch(1, 1)
        self.set_value(default)
        self.slider.valueChanged.connect(self._slider_moved)
        self.spin.valueChanged.connect(self._spin_edited)
        self.reset_button.clicked.connect(self.reset)
        self.slider.mouseDoubleClickEvent = lambda event: self.reset()

    def value(self) -> float:
        return float(self.spin.value())

    def set_value(self, value: float) -> None:
        """Show `value` without emitting value_edited."""
        with QSignalBlocker(self.slider), QSignalBlocker(self.spin):
            self.spin.setValue(value)
            self.slider.setValue(round(value * SLIDER_STEPS_PER_UNIT))

    def reset(self) -> None:
        self.set_value(self.default)
        self.value_edited.emit(self.name, self.default)

    def _slider_moved(self, position: int) -> None:
        value = position / SLIDER_STEPS_PER_UNIT
        with QSignalBlocker(self.spin):
            self.spin.setValue(value)
        self.value_edited.emit(self.name, value)

    def _spin_edited(self, value: float) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue(round(value * SLIDER_STEPS_PER_UNIT))
        self.value_edited.emit(self.name, float(value))


class KnobPanel(QWidget):
    """All the knobs and the setup's sizes. Emits `setup_edited(Setup)` on a user change and
    `value_committed` when Enter commits a value field (the window then takes the keyboard back,
    so Space, R and → act again)."""

    setup_edited = Signal(object)
    error = Signal(str)
    value_committed = Signal()

    def __init__(self, setup: Setup, parent: QWidget | None = None):
        super().__init__(parent)
        self._setup = setup
        defaults = Knobs()
        self.sliders: dict[str, KnobSlider] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)

        groups = (
            ("Vanilla RNN", ("U",)),
            ("LSTM recurrent weights", ("W_hi", "W_hf", "W_hg", "W_ho")),
            ("LSTM gate biases", ("b_i", "b_f", "b_g", "b_o")),
        )
        for title, names in groups:
            box = QGroupBox(title)
            box_layout = QVBoxLayout(box)
            box_layout.setContentsMargins(6, 4, 6, 4)
            box_layout.setSpacing(2)
            for name in names:
                slider = KnobSlider(name, getattr(defaults, name))
                slider.value_edited.connect(self._knob_edited)
                self.sliders[name] = slider
                box_layout.addWidget(slider)
            if title == "LSTM gate biases":
                self._build_offsets_row(box_layout)
            layout.addWidget(box)

        box = QGroupBox("Sizes and input")
        form = QFormLayout(box)
        form.setContentsMargins(6, 4, 6, 4)
        form.setVerticalSpacing(3)
        self.hidden_spin = QSpinBox()
        self.hidden_spin.setRange(*field_range(Setup, "hidden_size"))
        self.hidden_spin.setToolTip("H, hidden size: number of units of S_t, h_t and C_t. "
                                    "H = 1 is the notes' scalar case.")
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(*field_range(Setup, "steps"))
        self.steps_spin.setToolTip("T, sequence length: the loss is at the last step T.")
        # The seed goes up to 2^32 - 1: a QSpinBox is 32-bit signed, so a validated line edit.
        self.seed_edit = QLineEdit()
        seed_max = field_range(Setup, "seed")[1]
        self.seed_edit.setValidator(QRegularExpressionValidator(QRegularExpression(r"[0-9]{1,%d}" % len(str(seed_max)))))
        self.seed_edit.setToolTip(f"Seed of the random weight matrices and of the white-noise input (0 … {seed_max}).")
        self.signal_combo = QComboBox()
        for kind in INPUT_KINDS:
            self.signal_combo.addItem(SIGNAL_LABELS[kind], kind)
        self.signal_combo.setToolTip("The input sequence x_1 … x_T fed to both networks.")
        self.amplitude_spin = QDoubleSpinBox()
        self.amplitude_spin.setRange(*field_range(InputSignal, "amplitude"))
        self.amplitude_spin.setDecimals(2)
        self.amplitude_spin.setSingleStep(0.1)
        self.amplitude_spin.setToolTip("Amplitude of the input signal x_t.")
        for spin in (self.hidden_spin, self.steps_spin, self.amplitude_spin):
            spin.setKeyboardTracking(False)
        form.addRow("H (hidden units)", self.hidden_spin)
        form.addRow("T (steps)", self.steps_spin)
        form.addRow("seed", self.seed_edit)
        form.addRow("input x_t", self.signal_combo)
        form.addRow("amplitude", self.amplitude_spin)
        gain = KnobSlider("input_gain", defaults.input_gain)
        gain.value_edited.connect(self._knob_edited)
        self.sliders["input_gain"] = gain
        form.addRow(gain)
        layout.addWidget(box)
        layout.addStretch(1)

        self.hidden_spin.valueChanged.connect(lambda v: self._edit(hidden_size=int(v)))
        self.steps_spin.valueChanged.connect(lambda v: self._edit(steps=int(v)))
        self.seed_edit.editingFinished.connect(self._seed_edited)
        self.signal_combo.currentIndexChanged.connect(self._signal_edited)
        self.amplitude_spin.valueChanged.connect(self._signal_edited)
        self.set_setup(setup)
        # Enter in any value field commits it and gives the keyboard back to the window.
        for editor in self.findChildren(QAbstractSpinBox) + [self.seed_edit]:
            editor.editingFinished.connect(self._committed)

    def _committed(self) -> None:
        editor = self.sender()
        if editor is not None and editor.hasFocus():
            self.value_committed.emit()

    def _build_offsets_row(self, box_layout) -> None:
        """Per-unit bias offsets (e.g. chrono's ln u) are shown where the bias knobs are, with a
        way to clear them: the knob then is the whole bias."""
        row = QHBoxLayout()
        row.setContentsMargins(0, 2, 0, 0)
        self.offsets_label = QLabel()
        self.offsets_label.setWordWrap(True)
        self.offsets_label.setStyleSheet(f"color: {style.colour('muted')};")
        self.clear_offsets_button = QPushButton("Clear offsets")
        self.clear_offsets_button.setToolTip("Remove the per-unit bias offsets: every unit's bias is then its knob")
        self.clear_offsets_button.clicked.connect(lambda: self._edit(bias_offsets={}))
        row.addWidget(self.offsets_label, 1)
        row.addWidget(self.clear_offsets_button)
        box_layout.addLayout(row)

    def _show_offsets(self, setup: Setup) -> None:
        offsets = {name: getattr(setup.bias_offsets, name) for name in BIAS_KNOBS}
        offsets = {name: values for name, values in offsets.items() if values}
        if not offsets:
            self.offsets_label.setText("")
            self.offsets_label.setVisible(False)
            self.clear_offsets_button.setVisible(False)
            return
        parts = [f"{name} + offset ∈ [{min(v):.2f}, {max(v):.2f}]" for name, v in offsets.items()]
        self.offsets_label.setText("Per-unit offsets: " + "; ".join(parts) + f" ({setup.hidden_size} units)")
        self.offsets_label.setVisible(True)
        self.clear_offsets_button.setVisible(True)

    def _seed_edited(self) -> None:
        text = self.seed_edit.text().strip()
        if not text:
            self.seed_edit.setText(str(self._setup.seed))
            return
        self._edit(seed=int(text))

    # --- the shown setup ------------------------------------------------------------------
    def setup(self) -> Setup:
        return self._setup

    def set_setup(self, setup: Setup) -> None:
        """Show `setup` in every widget without emitting anything."""
        self._setup = setup
        for name in KNOB_NAMES:
            self.sliders[name].set_value(getattr(setup.knobs, name))
        widgets = (self.hidden_spin, self.steps_spin, self.seed_edit, self.signal_combo,
                   self.amplitude_spin)
        blockers = [QSignalBlocker(w) for w in widgets]
        try:
            self.hidden_spin.setValue(setup.hidden_size)
            self.steps_spin.setValue(setup.steps)
            self.seed_edit.setText(str(setup.seed))
            self.signal_combo.setCurrentIndex(INPUT_KINDS.index(setup.input.kind))
            self.signal_combo.setItemText(INPUT_KINDS.index("task"), task_input_label(setup.input)
                                          if setup.input.kind == "task" else SIGNAL_LABELS["task"])
            self.amplitude_spin.setValue(setup.input.amplitude)
        finally:
            del blockers
        self._show_offsets(setup)

    # --- user edits -----------------------------------------------------------------------
    def _knob_edited(self, name: str, value: float) -> None:
        try:
            setup = self._setup.with_knob(name, value)
        except SetupError as exc:
            self.error.emit(str(exc))
            self.sliders[name].set_value(getattr(self._setup.knobs, name))
            return
        self._accept(setup)

    def _signal_edited(self, *_args) -> None:
        signal = self._setup.input.model_dump()
        signal["kind"] = self.signal_combo.currentData()
        signal["amplitude"] = float(self.amplitude_spin.value())
        if signal["kind"] == "task" and self._setup.input.kind != "task":
            # the task's input size (the analysis views show the networks on its sequences)
            from simulator.tasks import task_for_sequence_length

            try:
                size = task_for_sequence_length(signal["task"], self._setup.steps).input_size
            except ValueError as exc:
                self.error.emit(f"input.task: {exc}")
                self.set_setup(self._setup)
                return
            if size != self._setup.input_size:
                self._edit(input=signal, input_size=size, weights=_without_input_matrices(self._setup))
                return
        self._edit(input=signal)

    def _edit(self, **changes) -> None:
        if "hidden_size" in changes and changes["hidden_size"] != self._setup.hidden_size:
            # Per-unit bias offsets and explicit matrices are sized for the old H: drop them.
            changes.update(bias_offsets={}, weights=None, explicit={})
        try:
            setup = self._setup.replace(**changes)
        except SetupError as exc:
            self.error.emit(str(exc))
            self.set_setup(self._setup)
            return
        self._accept(setup)

    def _accept(self, setup: Setup) -> None:
        if setup == self._setup:
            return
        self._setup = setup
        self._show_offsets(setup)
        self.setup_edited.emit(setup)
