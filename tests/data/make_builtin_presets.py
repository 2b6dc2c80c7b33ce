"""How resources/presets/*.json were written (not a test; run by hand after changing a lesson).

    python tests/data/make_builtin_presets.py

The JSON files are what the app and the tests read; this script only records where their numbers
come from. tests/test_preset_claims.py checks each preset's lesson on the simulator's numbers, and
tests/test_presets.py checks the files are in the canonical form save_preset writes.
The lstm-balanced knobs come from tests/data/search_lstm_balanced.py.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from simulator import Setup  # noqa: E402
from simulator.presets import (  # noqa: E402
    DEFAULT_VISIBLE_PANELS,
    Preset,
    ViewState,
    chrono_bias_offsets,
    save_preset,
)

OUT = ROOT / "resources" / "presets"


def knobs(**changes) -> dict:
    values = dict(U=0.9, W_hi=0.5, W_hf=0.5, W_hg=0.5, W_ho=0.5, b_i=0.0, b_f=1.0, b_g=0.0, b_o=0.0,
                  input_gain=1.0)
    values.update(changes)
    return values


def make(key: str, name: str, description: str, step: int | None = None, training=None, **setup) -> None:
    s = Setup.from_dict(setup)
    view = ViewState(selected_step=s.steps if step is None else step, revealed_steps=s.steps,
                     visible_panels=list(DEFAULT_VISIBLE_PANELS))
    save_preset(Preset.from_setup(name, s, description, view, training=training), OUT / f"{key}.json")


noise = {"kind": "white_noise", "amplitude": 1.0, "period": 20.0}
zeros = {"kind": "zeros", "amplitude": 0.0, "period": 20.0}

make("default", "RNN vs LSTM",
     "Both networks read the same noisy input for 100 steps. The RNN's gradient shrinks a little at every step "
     "and is almost gone 50 steps back, while the LSTM's memory cell carries it with hardly any loss. "
     "Turn U and the gate knobs to see why.",
     hidden_size=8, steps=100, seed=0, input=noise, knobs=knobs(U=0.9, W_hi=0.3, W_hf=0.3, W_hg=0.3, W_ho=0.3, b_f=3.0))
make("scalar-notes-example", "The notes' scalar example (H = 1, t = 20)",
     "One unit, 20 steps, as in the notes. The RNN's ∂S_20/∂S_k is a product of factors (1 − S_t²)·U, each at most U = 0.9, "
     "so it can only shrink; the LSTM's ∂C_t/∂C_{t−1} is a sum of four terms you can read at every step.",
     step=20, hidden_size=1, steps=20, seed=0, input={"kind": "white_noise", "amplitude": 0.5, "period": 20.0},
     knobs=knobs(U=0.9))
# The Paths tab's lessons (issue 13): H = 1, T = 3 as in the notes' tree; h_0 = C_0 = 0.5 so that the
# paths to W^(1) are not all zero. The tab opens on W_hf and k = T - 1 = 2 (presets store no paths view).
make("paths-notes-tree", "The notes' three-step tree (H = 1, T = 3)",
     "The notes' tree: one unit, three steps, the loss at step 3. In the Paths tab ∂L_3/∂W_hf^(2) is the sum "
     "of 5 paths, and with b_f = 3 the forget gate stays open (f > 0.9): the path that stays in the cell "
     "carries almost 90 % of it.",
     hidden_size=1, steps=3, seed=0, input=noise, knobs=knobs(b_f=3.0),
     initial={"S0": 0.0, "h0": 0.5, "C0": 0.5})
make("paths-gate-dominates", "A gate path dominates (H = 1, T = 3)",
     "The same three steps with the forget gate nearly shut (b_f = −2) and a strong candidate weight W_hg = 3. "
     "In the Paths tab the path through the cell carries only 14 % of ∂L_3/∂W_hf^(2): the largest path, 71 %, "
     "leaves the cell through g_3 into h_2.",
     hidden_size=1, steps=3, seed=0, input=noise, knobs=knobs(b_f=-2.0, W_hg=3.0, W_hi=1.0),
     initial={"S0": 0.0, "h0": 0.5, "C0": 0.5})
make("rnn-vanishing", "RNN vanishing (U = 0.5)",
     "With U = 0.5 every step multiplies the RNN's gradient by at most 0.5 (tanh' is never above 1). "
     "After 50 steps less than 10⁻¹⁵ of it is left: the network cannot learn from that far back.",
     hidden_size=8, steps=100, seed=0, input=noise, knobs=knobs(U=0.5))
make("rnn-edge", "RNN at the edge (U = 1)",
     "U = 1 is the edge between vanishing and exploding: with zero input every factor would be exactly 1. "
     "A small input moves the state off zero, tanh' drops just below 1, and the gradient fades slowly.",
     hidden_size=8, steps=100, seed=0, input={"kind": "white_noise", "amplitude": 0.1, "period": 20.0}, knobs=knobs(U=1.0))
make("rnn-exploding", "RNN exploding (U = 2.5, zero input)",
     "With zero input the state stays at 0, where tanh' = 1, so every step multiplies the gradient by U = 2.5. "
     "After 50 steps it is about 10²⁰ times larger: it explodes.",
     hidden_size=1, steps=100, seed=0, input=zeros, knobs=knobs(U=2.5))
make("rnn-saturating", "RNN saturating (U = 2.5, small input)",
     "The same U = 2.5 with one tiny input pulse: the gradient grows for a few steps, then the state runs into tanh's flat tails "
     "(S ≈ 0.99, tanh' ≈ 0.03) and the explosion turns into vanishing. A tanh RNN limits its own explosion.",
     step=10, hidden_size=1, steps=100, seed=0, input={"kind": "impulse", "amplitude": 0.01, "period": 20.0}, knobs=knobs(U=2.5))
make("lstm-carousel", "LSTM carousel (b_f = 4, small W_h)",
     "A large forget bias (b_f = 4) keeps f ≈ 0.98 and small recurrent weights keep the other three terms tiny, "
     "so ∂C_t/∂C_{t−1} ≈ 1 at every step. The cell carries the gradient across 100 steps almost unchanged: "
     "the constant error carousel.",
     hidden_size=8, steps=100, seed=0, input=noise, knobs=knobs(W_hi=0.1, W_hf=0.1, W_hg=0.1, W_ho=0.1, b_f=4.0))
make("lstm-forgetting", "LSTM forgetting (b_f = −3)",
     "With b_f = −3 the forget gate is almost shut (f ≈ 0.05), so the cell forgets its past at every step. "
     "The gradient through the cell dies even faster than the RNN's.",
     hidden_size=8, steps=100, seed=0, input=noise, knobs=knobs(b_f=-3.0))
make("lstm-balanced", "LSTM balanced (large W_hf, offset by W_hi and W_hg)",
     "The forget gate alone gives only f ≈ 0.65 per step (0.65⁵⁰ ≈ 10⁻⁹), and the large W_hf = 8 pulls the sum "
     "down by another 0.56. The input and candidate paths (W_hi, W_hg and the biases) add 0.29 and 0.61 back, "
     "so the four terms still sum to nearly 1 (0.96 to 0.99) at every step: the notes' argument that many weights can balance "
     "where the RNN's one U cannot.",
     hidden_size=1, steps=100, seed=0, input=zeros,
     # found by tests/data/search_lstm_balanced.py (seed 1)
     knobs=knobs(U=0.8, W_hi=-4.25, W_hf=8.0, W_hg=2.1, W_ho=-2.9, b_i=-1.95, b_f=3.25, b_g=0.35, b_o=6.0),
     initial={"S0": 0.0, "h0": 0.0, "C0": -0.4})
make("lstm-output-gate-paths", "Output-gate paths: ∏(L4) is not (L7)",
     "With W_ho = 3 the product of the per-step (L4) factors says 10^{−9.9} of the gradient reaches 50 steps back; the "
     "exact (L7) says 10^{−17.5}. (L4) holds o_t fixed and misses the paths C → h → o → h → C. Set W_ho to 0 and the two "
     "coincide.",
     hidden_size=1, steps=100, seed=0, input=zeros, knobs=knobs(W_ho=3.0, W_hg=-1.0, b_f=1.0, b_g=1.0))
make("forget-bias-1", "Forget bias 1 (Jozefowicz et al. 2015)",
     "Jozefowicz et al. (2015) found that starting the forget bias at 1 instead of 0 helps LSTMs learn long dependencies. "
     "It keeps f ≈ σ(1) ≈ 0.73 instead of 0.5: set b_f to 0 and watch the gradient 50 steps back drop by about 7 decades.",
     hidden_size=8, steps=100, seed=0, input=noise, knobs=knobs(b_f=1.0))
chrono = chrono_bias_offsets(16, 100, seed=2018)
make("chrono-init", "Chrono initialisation (Tallec & Ollivier 2018)",
     "Each unit's forget bias is ln u with u drawn between 1 and T_max − 1 = 99 (seed 2018), and b_i = −b_f. "
     "Unit j then remembers for about u_j steps, so the cells cover every time scale up to T_max and the gradient survives "
     "50 steps; press Clear offsets (beside the bias knobs) and it vanishes.",
     hidden_size=16, steps=100, seed=0, input=noise, knobs=knobs(b_f=0.0, b_i=0.0),
     bias_offsets=chrono)

# --- training lessons (issue 14): claims in tests/test_preset_claims.py, in full in bench/bench_training.py ---
from simulator.train_settings import TrainingSettings  # noqa: E402
from simulator.trained import setup_for_networks  # noqa: E402
from simulator.training import Trainer  # noqa: E402

# The adding problem from the standard starts (PyTorch-style uniform; the LSTM with forget bias 1):
# the setup holds exactly the two networks training starts from (trained_steps = 0), on test sequence 0.
adding = TrainingSettings(task="adding", T=100, hidden_size=16, batch_size=32, optimizer="adam", learning_rate=1e-2,
                          clip=1.0, clip_kind="norm", steps=3000, seed=0, rnn_start="pytorch",
                          lstm_start="forget_bias_1", trained_steps=0)
task = adding.make_task()
start = Trainer(task, adding.config(backend="reference", test_size=2), *adding.inits(None, task)).snapshot_list()[0]
make("adding-lstm-learns", "Adding problem: the LSTM learns, the RNN cannot",
     "The RNN and the LSTM learn to add the two marked numbers of a 100-step sequence, side by side on the same data. "
     "Press Start in the Train tab: the LSTM's test MSE drops below 0.01 after about 1300 steps, while the RNN's stays "
     "at the baseline 1/6, because almost no gradient reaches the first marker.",
     training=adding, **setup_for_networks(start.rnn, start.lstm, task, sequence=0).to_dict())
# The same task from the knob setup with b_f = -3 (the other knobs at their defaults), both networks.
forgetting = adding.replace(rnn_start="knobs", lstm_start="knobs", trained_steps=None)
target = float(task.test_set(500).target_value[100, 0, 0])
make("adding-lstm-forget-bias-minus-3", "LSTM with b_f = −3 learns slowly or not at all",
     "Both networks start from the knobs with b_f = −3: the forget gate is almost shut, so little gradient reaches the "
     "first marker and the LSTM needs 2500 steps or more to learn the adding problem, if it learns at all. Set b_f "
     "to 1 and train again: about 1000 steps.",
     training=forgetting, hidden_size=16, input_size=2, steps=100, seed=0,
     input={"kind": "task", "task": "adding", "sequence": 0}, knobs=knobs(b_f=-3.0), target=target)
print("written:", ", ".join(sorted(p.name for p in OUT.glob("*.json"))))
