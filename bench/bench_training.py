"""Training benchmark (issue 14): speed against PyTorch, and who learns the long-lag tasks.

    python -m bench.bench_training                 (from the project root; ~25 min in full)
    python -m bench.bench_training --quick         (a few minutes: 2 seeds, 15 s budgets)
    options: --seeds N --budget SECONDS --copy-budget SECONDS --lengths 100 200
             --skip-speed --skip-adding --skip-copy --temporal-order

Three tables, each measured in this run:

1. Speed: one training step of one network (forward, exact BPTT, clipping, Adam) with the numba
   kernels (float64), and with PyTorch's nn.RNN / nn.LSTM + nn.Linear + clip_grad_norm_ + Adam on
   CPU, single-threaded (torch.set_num_threads(1)), same sizes, batch and data, in float32 (its
   default) and float64; median of several runs; ratio = torch time / numba time (>= 1: numba is at
   least as fast). Rows (H, T, batch) = (16, 100, 32) and (128, 100, 32). PyTorch is optional: the
   torch columns are left out when it is not importable (it is never a dependency of the app).
2. Adding problem at T = 100 and T = 200, 5 seeds, the RNN and the LSTM trained side by side on the
   same batches within one wall-time budget per run (default 60 s): Adam lr 1e-2, batch 32,
   clipping 1 (norm), H = 16, PyTorch-style initialisation, LSTM forget bias 1. Per seed: steps,
   time, final test MSE of both, the LSTM's first test step below 0.01, the RNN's lowest test MSE.
   Verdict: the LSTM reaches test MSE < 0.01 in >= 4 seeds while the RNN stays above 0.1 (its
   lowest test MSE over the whole run) in >= 4 seeds.
3. Copy memory at T = 50 (length 70): both networks' final test cross-entropy against the baseline
   10 ln 8 / (T + 20), and the accuracy on the recalled symbols (a measurement, not a claim).
   With --temporal-order, the same for temporal order (baseline ln 4, accuracy of the 4 classes),
   with the LSTM started at forget bias 1 and, in a second run, at chrono (T_max = 110).
4. The built-in lessons' claims in full (their CI-sized versions are tests/test_preset_claims.py):
   "adding-lstm-learns" trained as `main.py --preset adding-lstm-learns --train 3000` trains it (the
   LSTM ends below test MSE 0.01, the RNN above 0.1), and "adding-lstm-forget-bias-minus-3" from its
   knob setup with b_f = -3 against the same setup with b_f = 1, seeds 0-4 (the step each LSTM first
   reaches test MSE < 0.01 within the 3000 steps: later with b_f = -3, or never).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from simulator.tasks import AddingProblem, CopyMemory, TemporalOrder  # noqa: E402
from simulator.training import Init, TrainConfig, Trainer, warm_up_training  # noqa: E402

SPEED_SIZES = ((16, 100, 32), (128, 100, 32))


def median_seconds_per_call(function, seconds_per_run: float = 0.3, runs: int = 7) -> float:
    function()  # warm (compilation, caches)
    start = time.perf_counter()
    function()
    one = max(time.perf_counter() - start, 1e-6)
    calls = max(1, int(seconds_per_run / one))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


# ----------------------------------------------------------------------------------------------
# 1. Speed
# ----------------------------------------------------------------------------------------------


def numba_step(kind: str, hidden: int, steps: int, batch_size: int):
    task = AddingProblem(T=steps)
    config = TrainConfig(steps=1, hidden_size=hidden, batch_size=batch_size, test_size=2)
    trainer = Trainer(task, config)
    network = trainer.rnn if kind == "rnn" else trainer.lstm
    batch = task.train_batch(0, 1, batch_size)

    def step():
        network.train_pass(task, batch)
        network.update(config)

    def train_pass_only():
        network.train_pass(task, batch)

    return step, train_pass_only, batch


def torch_step(kind: str, hidden: int, batch, dtype_name: str):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    dtype = {"float32": torch.float32, "float64": torch.float64}[dtype_name]
    cls = torch.nn.LSTM if kind == "lstm" else torch.nn.RNN
    net = cls(2, hidden).to(dtype)
    readout = torch.nn.Linear(hidden, 1).to(dtype)
    params = list(net.parameters()) + list(readout.parameters())
    optimiser = torch.optim.Adam(params, lr=1e-2)
    x = torch.tensor(batch.x[1:], dtype=dtype)  # (T, B, 2), time first like nn.LSTM's default
    target = torch.tensor(batch.target_value[-1], dtype=dtype)  # (B, 1)

    def step():
        optimiser.zero_grad()
        out, _ = net(x)
        loss = 0.5 * ((readout(out[-1]) - target) ** 2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()

    return step


def speed_table() -> None:
    try:
        import torch

        have_torch = True
        torch_note = f"PyTorch {torch.__version__}, 1 thread"
    except ImportError:
        have_torch = False
        torch_note = "PyTorch not importable: torch columns left out"
    print(f"\n## Speed: one training step of one network (forward, BPTT, clip, Adam); {torch_note}\n")
    header = f"{'net':5} {'H':>4} {'T':>4} {'B':>3} | {'numba ms':>9} {'(pass ms)':>9}"
    if have_torch:
        header += f" | {'torch32 ms':>10} {'ratio':>6} | {'torch64 ms':>10} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for hidden, steps, batch_size in SPEED_SIZES:
        for kind in ("rnn", "lstm"):
            step, train_pass_only, batch = numba_step(kind, hidden, steps, batch_size)
            ours = median_seconds_per_call(step)
            ours_pass = median_seconds_per_call(train_pass_only)
            row = f"{kind:5} {hidden:>4} {steps:>4} {batch_size:>3} | {1e3 * ours:9.3f} {1e3 * ours_pass:9.3f}"
            if have_torch:
                for dtype_name in ("float32", "float64"):
                    theirs = median_seconds_per_call(torch_step(kind, hidden, batch, dtype_name))
                    row += f" | {1e3 * theirs:10.3f} {theirs / ours:6.2f}"
            print(row, flush=True)
    print("\nratio = torch time / numba time (>= 1: the numba kernels are at least as fast). The numba")
    print("step is float64; 'pass' is the forward + BPTT alone (the rest: gradient norm, clip, Adam).")


# ----------------------------------------------------------------------------------------------
# 2. Adding problem: who learns
# ----------------------------------------------------------------------------------------------


def adding_run(T: int, seed: int, budget: float, max_steps: int) -> dict:
    config = TrainConfig(steps=max_steps, hidden_size=16, batch_size=32, optimizer="adam",
                         learning_rate=1e-2, clip=1.0, clip_kind="norm", seed=seed,
                         test_every=100, test_size=500)
    trainer = Trainer(AddingProblem(T=T), config, rnn_init=Init("pytorch"),
                      lstm_init=Init("pytorch", forget_bias=1.0))
    start = time.perf_counter()
    trainer.run(seconds=budget)
    seconds = time.perf_counter() - start
    trainer.record_test()  # the final weights' test loss (the budget ends between scheduled tests)
    h = trainer.history
    last = h.test_count - 1
    return dict(steps=h.step_count, seconds=seconds, rnn_final=h.rnn.test_loss[last],
                lstm_final=h.lstm.test_loss[last],
                lstm_first=h.lstm.first_success_step, rnn_lowest=float(np.nanmin(h.rnn.test_loss[:h.test_count])),
                lstm_first_seconds=None if h.lstm.first_success_step is None else
                float(h.elapsed[h.lstm.first_success_step]))


def adding_table(lengths, seeds: int, budget: float, max_steps: int) -> None:
    print(f"\n## Adding problem: H = 16, Adam 1e-2, batch 32, clip 1, forget bias 1; {budget:g} s per run\n")
    header = (f"{'T':>4} {'seed':>4} | {'steps':>6} {'time s':>7} | {'RNN final':>9} {'RNN lowest':>10} | "
              f"{'LSTM final':>10} {'LSTM < 0.01 at step':>19} {'(s)':>6}")
    print(header)
    print("-" * len(header))
    for T in lengths:
        lstm_learned = rnn_stuck = 0
        for seed in range(seeds):
            r = adding_run(T, seed, budget, max_steps)
            first = "never" if r["lstm_first"] is None else str(r["lstm_first"])
            first_s = "" if r["lstm_first_seconds"] is None else f"{r['lstm_first_seconds']:.1f}"
            print(f"{T:>4} {seed:>4} | {r['steps']:>6} {r['seconds']:7.1f} | {r['rnn_final']:9.4f} "
                  f"{r['rnn_lowest']:10.4f} | {r['lstm_final']:10.4f} {first:>19} {first_s:>6}", flush=True)
            lstm_learned += r["lstm_first"] is not None
            rnn_stuck += r["rnn_lowest"] > 0.1
        need = max(1, seeds - 1) if seeds >= 5 else seeds
        verdict = "PASS" if lstm_learned >= need and rnn_stuck >= need else "FAIL"
        print(f"T = {T}: LSTM reached test MSE < 0.01 in {lstm_learned}/{seeds} seeds; RNN stayed above 0.1 "
              f"in {rnn_stuck}/{seeds}; target >= {need} each: {verdict}\n", flush=True)


# ----------------------------------------------------------------------------------------------
# 3. Copy memory: a measurement
# ----------------------------------------------------------------------------------------------


def softmax_task_table(task, title: str, budget: float, hidden: int, max_steps: int,
                       learning_rate: float, lstm_inits) -> None:
    """One run per LSTM initialisation (the RNN row: from the first run), each `budget` seconds."""
    print(f"\n## {title}, H = {hidden}, Adam {learning_rate:g}, batch 32, clip 1, seed 0; "
          f"{budget:g} s per run\n")
    print(f"baseline {task.baseline:.4f}\n")
    print(f"{'net':26} | {'steps':>6} | {'test CE':>8} {'/ baseline':>10} | {'accuracy':>8}")
    for index, (name, lstm_init) in enumerate(lstm_inits):
        config = TrainConfig(steps=max_steps, hidden_size=hidden, batch_size=32,
                             learning_rate=learning_rate, clip=1.0, test_every=100, test_size=500, seed=0)
        trainer = Trainer(task, config, lstm_init=lstm_init)
        trainer.run(seconds=budget)
        result = trainer.evaluate()
        rows = [("rnn (pytorch init)", result["rnn"])] if index == 0 else []
        rows.append((f"lstm ({name})", result["lstm"]))
        for label, (loss, accuracy) in rows:
            print(f"{label:26} | {trainer.step_count:>6} | {loss:8.4f} {loss / task.baseline:10.3f} | "
                  f"{accuracy:8.3f}", flush=True)


# ----------------------------------------------------------------------------------------------
# 4. The built-in lessons
# ----------------------------------------------------------------------------------------------


def lesson_run(settings, setup=None):
    task = settings.make_task()
    trainer = Trainer(task, settings.config(), *settings.inits(setup, task))
    start = time.perf_counter()
    trainer.run()
    seconds = time.perf_counter() - start
    trainer.record_test()
    h = trainer.history
    last = h.test_count - 1
    return dict(steps=h.step_count, seconds=seconds, rnn=h.rnn.test_loss[last], lstm=h.lstm.test_loss[last],
                lstm_first=h.lstm.first_success_step)


def lessons_table(seeds: int) -> None:
    from simulator.presets import builtin_presets

    presets = builtin_presets()
    learns = presets["adding-lstm-learns"]
    print("\n## Lesson 'adding-lstm-learns' as `main.py --preset adding-lstm-learns --train 3000` trains it\n")
    r = lesson_run(learns.training.replace(steps=3000))
    verdict = "PASS" if r["lstm"] < 0.01 and r["rnn"] > 0.1 else "FAIL"
    print(f"steps {r['steps']}, {r['seconds']:.1f} s: final test MSE RNN {r['rnn']:.4f}, LSTM {r['lstm']:.5f} "
          f"(LSTM < 0.01 from step {r['lstm_first']}); claim LSTM < 0.01 and RNN > 0.1: {verdict}", flush=True)

    lesson = presets["adding-lstm-forget-bias-minus-3"]
    print("\n## Lesson 'adding-lstm-forget-bias-minus-3': the knob setup with b_f = -3 against b_f = 1, 3000 steps\n")
    print(f"{'seed':>4} | {'b_f = -3: LSTM < 0.01 at':>25} {'final':>8} | {'b_f = 1: LSTM < 0.01 at':>24} {'final':>8}")
    slower = 0
    for seed in range(seeds):
        runs = {}
        for b_f in (-3.0, 1.0):
            runs[b_f] = lesson_run(lesson.training.replace(seed=seed), lesson.setup.with_knob("b_f", b_f))
        first = {b_f: runs[b_f]["lstm_first"] for b_f in runs}
        slower += first[-3.0] is None or (first[1.0] is not None and first[-3.0] >= 2 * first[1.0])
        print(f"{seed:>4} | {str(first[-3.0] or 'never'):>25} {runs[-3.0]['lstm']:8.4f} | "
              f"{str(first[1.0] or 'never'):>24} {runs[1.0]['lstm']:8.4f}", flush=True)
    print(f"b_f = -3 at least twice as slow as b_f = 1 (or never) in {slower}/{seeds} seeds\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 15 s budgets")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--budget", type=float, default=None, help="seconds per adding-problem run")
    parser.add_argument("--copy-budget", type=float, default=None)
    parser.add_argument("--max-steps", type=int, default=50_000)
    parser.add_argument("--lengths", type=int, nargs="+", default=[100, 200])
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-adding", action="store_true")
    parser.add_argument("--skip-copy", action="store_true")
    parser.add_argument("--skip-lessons", action="store_true")
    parser.add_argument("--temporal-order", action="store_true",
                        help="also measure temporal order (task 6a of Hochreiter & Schmidhuber 1997)")
    args = parser.parse_args()
    seeds = args.seeds if args.seeds is not None else (2 if args.quick else 5)
    budget = args.budget if args.budget is not None else (15.0 if args.quick else 60.0)
    copy_budget = args.copy_budget if args.copy_budget is not None else (15.0 if args.quick else 60.0)
    start = time.perf_counter()
    warm_up_training()
    print(f"numba training kernels ready in {time.perf_counter() - start:.1f} s "
          f"(NUMBA_CACHE_DIR={os.environ['NUMBA_CACHE_DIR']}); {os.cpu_count()} CPUs")
    if not args.skip_speed:
        speed_table()
    if not args.skip_adding:
        adding_table(args.lengths, seeds, budget, args.max_steps)
    if not args.skip_copy:
        softmax_task_table(CopyMemory(T=50), "Copy memory: T = 50 (length 70), baseline 10 ln 8 / (T + 20)",
                           copy_budget, 16, args.max_steps, 1e-3, [("forget bias 1", Init(forget_bias=1.0))])
    if not args.skip_lessons:
        lessons_table(seeds)
    if args.temporal_order:
        softmax_task_table(TemporalOrder(), "Temporal order: length 100-110, baseline ln 4", copy_budget, 16,
                           args.max_steps, 1e-2, [("forget bias 1", Init(forget_bias=1.0)),
                                                  ("chrono, T_max = 110", Init(chrono=110.0))])


if __name__ == "__main__":
    main()
