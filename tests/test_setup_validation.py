"""Bad setups are rejected with a message naming the field; nothing is half-applied."""

import math

import pytest

from simulator import BiasOffsets, InitialState, InputSignal, Knobs, Setup, SetupError, Simulation


def rejected(data) -> str:
    with pytest.raises(SetupError) as info:
        Setup.from_dict(data)
    return str(info.value)


@pytest.mark.parametrize(
    "data, field",
    [
        ({"hidden_size": 0}, "hidden_size"),
        ({"hidden_size": 513}, "hidden_size"),
        ({"input_size": 0}, "input_size"),
        ({"input_size": 65}, "input_size"),
        ({"steps": 0}, "steps"),
        ({"steps": 5001}, "steps"),
        ({"seed": -1}, "seed"),
        ({"hidden_size": "8"}, "hidden_size"),
        ({"hidden_size": 8.0}, "hidden_size"),
        ({"steps": True}, "steps"),
        ({"knobs": {"U": math.nan}}, "knobs.U"),
        ({"knobs": {"W_hf": math.inf}}, "knobs.W_hf"),
        ({"knobs": {"b_f": -math.inf}}, "knobs.b_f"),
        ({"knobs": {"U": "0.9"}}, "knobs.U"),
        ({"knobs": {"U": 1e9}}, "knobs.U"),
        ({"knobs": {"V": 1.0}}, "knobs.V"),
        ({"input": {"kind": "square"}}, "input.kind"),
        ({"input": {"amplitude": math.nan}}, "input.amplitude"),
        ({"input": {"period": 0.0}}, "input.period"),
        ({"initial": {"S0": 2.0}}, "initial.S0"),
        ({"target": math.inf}, "target"),
        ({"colour": "red"}, "colour"),
        ({"hidden_size": 3, "bias_offsets": {"b_f": [0.0, 1.0]}}, "bias_offsets.b_f"),
        ({"hidden_size": 2, "weights": {"U": [[1.0, 0.0]]}}, "weights.U"),
        ({"hidden_size": 2, "weights": {"W_hq": [[1.0]]}}, "weights.W_hq"),
        ({"hidden_size": 1, "weights": {"U": [[math.nan]]}}, "weights.U"),
        ([1, 2, 3], "setup"),
    ],
)
def test_bad_values_name_the_field(data, field):
    assert field in rejected(data)


def test_good_values_are_accepted_and_round_trip():
    setup = Setup.from_dict({
        "hidden_size": 2, "steps": 7, "knobs": {"U": -1.5, "b_f": 2},
        "bias_offsets": {"b_f": [0.1, 0.2]}, "weights": {"U": [[0.0, 1.0], [1.0, 0.0]]},
    })
    assert setup.knobs.U == -1.5 and setup.knobs.b_f == 2.0
    assert Setup.from_dict(setup.to_dict()) == setup


def test_with_knob_validates_and_leaves_the_original_alone():
    setup = Setup()
    with pytest.raises(SetupError, match="knobs.U"):
        setup.with_knob("U", math.nan)
    with pytest.raises(SetupError, match="knobs.Q"):
        setup.with_knob("Q", 1.0)
    assert setup.with_knob("U", 2.0).knobs.U == 2.0
    assert setup.knobs.U == Setup().knobs.U


def test_simulation_is_untouched_by_a_rejected_change():
    sim = Simulation(Setup(hidden_size=2, steps=10), backend="reference")
    sim.run_to(6)
    before_setup, before_results = sim.setup, sim.results
    for bad in (lambda: sim.set_knob("U", math.inf), lambda: sim.update(steps=0),
                lambda: sim.update(hidden_size="big")):
        with pytest.raises(SetupError):
            bad()
        assert sim.setup is before_setup and sim.results is before_results and sim.t == 6


def test_simulation_transport():
    sim = Simulation(Setup(hidden_size=1, steps=3), backend="reference")
    assert sim.t == 0
    assert [sim.step() for _ in range(5)] == [1, 2, 3, 3, 3]
    assert sim.at_end
    sim.reset()
    assert sim.t == 0
    with pytest.raises(ValueError):
        sim.run_to(4)
    sim.run_to(3)
    sim.update(steps=2)  # a shorter run keeps t in range
    assert sim.t == 2 and sim.results.rnn_S.shape == (3, 1)


def test_knob_is_sigma_max_of_the_weight():
    import numpy as np

    from simulator import compute

    results = compute(Setup(hidden_size=16, steps=2).with_knob("U", -1.7), "reference")
    assert results.sigma_max_U == pytest.approx(1.7, rel=1e-12)
    W_hf = results.lstm_W_h[1]
    assert np.linalg.norm(W_hf, 2) == pytest.approx(Setup().knobs.W_hf, rel=1e-12)


@pytest.mark.parametrize("backend", ["reference", "numba"])
@pytest.mark.parametrize("H, U", [(1, -0.7), (8, 1e-200), (32, 0.0), (32, 0.9), (128, 1.7)])
def test_sigma_max_U_takes_the_knob_of_a_multiple_of_an_orthogonal_matrix_and_equals_the_svd(H, U, backend):
    """sigma_max(U) without an SVD when U = s Q (every knob-built U): s, certified by
    orthogonal_gain; the SVD's value to round-off. A U that is not such a multiple takes the SVD.
    The numba compute knows s already (its per-step norms use it): its results carry it."""
    import numpy as np

    from simulator import compute
    from simulator.spectral import orthogonal_gain

    results = compute(Setup(hidden_size=H, steps=2).with_knob("U", U), backend)
    assert orthogonal_gain(results.rnn_U) >= 0.0
    if backend == "numba":
        assert results.__dict__["sigma_max_U"] == orthogonal_gain(results.rnn_U)  # set by the compute
    assert results.sigma_max_U == pytest.approx(np.linalg.norm(results.rnn_U, 2), rel=1e-13, abs=1e-300)
    assert results.sigma_max_U == pytest.approx(abs(U), rel=1e-13, abs=1e-300)
    skewed = np.diag(np.linspace(0.5, 2.0, 4)).tolist()  # a base U that is no multiple of an orthogonal matrix
    explicit = compute(Setup(hidden_size=4, steps=2, weights={"U": skewed}), backend)
    assert orthogonal_gain(explicit.rnn_U) == -1.0
    assert explicit.sigma_max_U == float(np.linalg.norm(explicit.rnn_U, 2))
    assert explicit.sigma_max_U == pytest.approx(2.0 * Setup().knobs.U, rel=1e-14)  # (the knob scales the base)


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: Setup(hidden_size=0), "hidden_size"),
        (lambda: Setup(steps="50"), "steps"),
        (lambda: Setup(colour="red"), "colour"),
        (lambda: Setup(hidden_size=2, weights={"U": [[1.0]]}), "weights.U"),
        (lambda: Setup(knobs={"U": math.nan}), "knobs.U"),
        (lambda: InputSignal(kind="square"), "kind"),
        (lambda: Knobs(U=1e9), "U"),
        (lambda: BiasOffsets(b_f=["x"]), "b_f"),
        (lambda: InitialState(S0=2.0), "S0"),
    ],
)
def test_direct_construction_raises_setup_error_like_the_rest_of_the_api(make, field):
    # One error type for callers (issue 10 item 11): never pydantic's ValidationError.
    with pytest.raises(SetupError) as info:
        make()
    assert type(info.value).__name__ == "SetupError" and isinstance(info.value, ValueError)
    assert field in str(info.value)


def test_direct_construction_of_preset_models_raises_preset_error():
    from simulator.presets import Preset, PresetError, ViewState

    with pytest.raises(PresetError, match="selected_step"):
        ViewState(selected_step=-1)
    with pytest.raises(PresetError, match="name"):
        Preset(name="", setup=Setup())
    assert Preset(name="ok", setup=Setup()).setup == Setup()
