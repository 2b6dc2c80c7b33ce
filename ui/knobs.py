"""The knob panel: one labelled slider with an editable value per knob, sizes, seed and input.

The panel keeps the setup it shows and emits `setup_edited(Setup)` with a validated copy when
the user changes anything. `set_setup` writes a setup into the widgets inside QSignalBlockers,
so loading a preset does not set off a cascade of recomputations.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from simulator import KNOB_NAMES, SIGNAL_KINDS, Knobs, Setup, SetupError
from simulator.setup import MAX_HIDDEN, MAX_STEPS

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
    "sine": "sine", "zeros": "zeros (no input)",
}


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
        self.spin.setRange(-100.0, 100.0)
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
    """All the knobs and the setup's sizes. Emits `setup_edited(Setup)` on a user change."""

    setup_edited = Signal(object)
    error = Signal(str)

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
            layout.addWidget(box)

        box = QGroupBox("Sizes and input")
        form = QFormLayout(box)
        form.setContentsMargins(6, 4, 6, 4)
        form.setVerticalSpacing(3)
        self.hidden_spin = QSpinBox()
        self.hidden_spin.setRange(1, MAX_HIDDEN)
        self.hidden_spin.setToolTip("H, hidden size: number of units of S_t, h_t and C_t. "
                                    "H = 1 is the notes' scalar case.")
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, MAX_STEPS)
        self.steps_spin.setToolTip("T, sequence length: the loss is at the last step T.")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip("Seed of the random weight matrices and of the white-noise input.")
        self.signal_combo = QComboBox()
        for kind in SIGNAL_KINDS:
            self.signal_combo.addItem(SIGNAL_LABELS[kind], kind)
        self.signal_combo.setToolTip("The input sequence x_1 … x_T fed to both networks.")
        self.amplitude_spin = QDoubleSpinBox()
        self.amplitude_spin.setRange(-100.0, 100.0)
        self.amplitude_spin.setDecimals(2)
        self.amplitude_spin.setSingleStep(0.1)
        self.amplitude_spin.setToolTip("Amplitude of the input signal x_t.")
        for spin in (self.hidden_spin, self.steps_spin, self.seed_spin, self.amplitude_spin):
            spin.setKeyboardTracking(False)
        form.addRow("H (hidden units)", self.hidden_spin)
        form.addRow("T (steps)", self.steps_spin)
        form.addRow("seed", self.seed_spin)
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
        self.seed_spin.valueChanged.connect(lambda v: self._edit(seed=int(v)))
        self.signal_combo.currentIndexChanged.connect(self._signal_edited)
        self.amplitude_spin.valueChanged.connect(self._signal_edited)
        self.set_setup(setup)

    # --- the shown setup ------------------------------------------------------------------
    def setup(self) -> Setup:
        return self._setup

    def set_setup(self, setup: Setup) -> None:
        """Show `setup` in every widget without emitting anything."""
        self._setup = setup
        for name in KNOB_NAMES:
            self.sliders[name].set_value(getattr(setup.knobs, name))
        widgets = (self.hidden_spin, self.steps_spin, self.seed_spin, self.signal_combo,
                   self.amplitude_spin)
        blockers = [QSignalBlocker(w) for w in widgets]
        try:
            self.hidden_spin.setValue(setup.hidden_size)
            self.steps_spin.setValue(setup.steps)
            self.seed_spin.setValue(min(setup.seed, self.seed_spin.maximum()))
            self.signal_combo.setCurrentIndex(SIGNAL_KINDS.index(setup.input.kind))
            self.amplitude_spin.setValue(setup.input.amplitude)
        finally:
            del blockers

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
        self._edit(input=signal)

    def _edit(self, **changes) -> None:
        if "hidden_size" in changes and changes["hidden_size"] != self._setup.hidden_size:
            # Per-unit bias offsets and explicit matrices are sized for the old H: drop them.
            changes.update(bias_offsets={}, weights=None)
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
        self.setup_edited.emit(setup)
