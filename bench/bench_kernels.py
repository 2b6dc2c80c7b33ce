"""Speed of a full exact recompute against the machine's floor, the numpy reference and autograd.

    python -m bench.bench_kernels            (from the project root)
      --quick       skip (128, 1000)
      --big         add (512, 5000) (minutes: the floor alone is ~100 s) and its peak memory
      --baseline D  also time compute() from another source tree D (e.g. an export of the
                    branch's base), in a child process, in the same run

Prints, for each size (default knobs, white-noise input), medians of several runs:

- first: time from the start of `ComputeJob(setup).run()` to its first partial results (the
  cheap arrays: forward states, BPTT, loss-gradient norms, lower bounds);
- final: time to the final exact results (that is `compute(setup)`, bit for bit);
- cancel: from setting the cancel flag (from another thread, while the exact norms stream) to
  the end of the cancelled run(), its helper thread joined;
- floor: the dense products every exact recompute must do, alone, with the kernels' BLAS on one
  thread: per step one H x H x H product for (R2), one (H x 2H)(2H x H) for (L7), one H x H x H
  for the naive (L4) chain, no norms, nothing else; "floor/2c": the same split over two cores as
  the job splits it (the (L7) and naive chain products on one, the (R2) ones on the other: the
  larger of the two);
- the numpy reference's compute and the ratio; PyTorch autograd's time for the per-step (L4)
  factors at (64, 200) when torch is importable, and the ratio.
Then where the time goes at the largest size (seconds per pass, summed over both threads), the
peak memory of one compute at (512, 5000) with --big (max RSS of a child process), and the
first-call compile time of the kernels with an empty numba cache and with a warm one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = ((32, 100), (64, 200), (128, 1000))
BIG = (512, 5000)
TORCH_SIZE = (64, 200)
REFERENCE_RATIO_TARGET = 4.0  # at (64, 200)
TORCH_RATIO_TARGET = 40.0
MEMORY_TARGET_MB = 1024.0


def median_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def job_times(setup, repeats: int) -> tuple[float, float, dict]:
    """Median seconds to the first partial results and to the final ones; the last run's seconds per pass."""
    from simulator.stream import ComputeJob

    firsts, finals = [], []
    for _ in range(repeats):
        first = []
        job = ComputeJob(setup, "numba")
        start = time.perf_counter()
        job.run(on_partial=lambda results: first or first.append(time.perf_counter()), min_interval=1e9)
        end = time.perf_counter()
        finals.append(end - start)
        firsts.append((first[0] if first else end) - start)
    return statistics.median(firsts), statistics.median(finals), job.pass_seconds()


def cancel_latency(setup, repeats: int) -> float:
    """Median seconds from setting the cancel flag (from another thread, once the exact norms are
    streaming: progress > 0) to the end of the cancelled run(), helper thread joined."""
    import threading

    from simulator.stream import Cancelled, ComputeJob

    latencies = []
    for _ in range(repeats):
        job, flag, ended = ComputeJob(setup, "numba"), threading.Event(), []

        def run():
            try:
                job.run(cancelled=flag.is_set)
            except Cancelled:
                ended.append(time.perf_counter())

        worker = threading.Thread(target=run)
        worker.start()
        while job.progress <= 0.0 and worker.is_alive():
            time.sleep(0.001)
        flagged = time.perf_counter()
        flag.set()
        worker.join()
        if ended:  # (a run that finished first is not a cancellation)
            latencies.append(ended[0] - flagged)
    return statistics.median(latencies) if latencies else float("nan")


def torch_factor_time(setup, repeats: int) -> float | None:
    """Seconds to get every per-step (L4) factor dC_t/dC_{t-1} by autograd, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    from simulator import compute

    results = compute(setup, "numba")
    W_h = torch.tensor(results.lstm_W_h)  # float64 throughout, like the kernels
    pre, C = results.lstm_pre, results.lstm_C
    # The per-step map of MATH.md (L4): C_{t-1} -> C_t through h_{t-1} = o_{t-1} tanh(C_{t-1}),
    # with o_{t-1} and the input part of every gate's pre-activation held fixed.
    o_prev = torch.tensor(results.lstm_gates[:, 3])
    input_part = torch.tensor(pre) - torch.einsum("gij,tj->tgi", W_h, torch.tensor(results.lstm_h)).roll(1, 0)

    def one_step(t):
        def cell(C_prev):
            h_prev = o_prev[t - 1] * torch.tanh(C_prev) if t > 1 else torch.zeros_like(C_prev)
            z = input_part[t] + torch.einsum("gij,j->gi", W_h, h_prev)
            i, f, g = torch.sigmoid(z[0]), torch.sigmoid(z[1]), torch.tanh(z[2])
            return f * C_prev + i * g

        return cell

    def run():
        for t in range(1, setup.steps + 1):
            torch.autograd.functional.jacobian(one_step(t), torch.tensor(C[t - 1]))

    # the column is only worth printing if torch computes the same factors
    t_check = min(2, setup.steps)
    factor = torch.autograd.functional.jacobian(one_step(t_check), torch.tensor(C[t_check - 1])).numpy()
    expected = results.lstm_factor_terms(t_check)["total"]
    if not np.allclose(factor, expected, rtol=1e-10, atol=1e-14):
        raise AssertionError("torch's per-step LSTM factor differs from the simulator's (L4)")
    return median_time(run, repeats)


def floor_seconds(H: int, T: int, repeats: int) -> tuple[float, float]:
    """(seconds for the (R2) chain's products, seconds for the (L7) and naive chains' products):
    the dense products every exact recompute must do for T steps, alone (no norms, nothing
    else), through the single-threaded BLAS the kernels use."""
    from numba import njit

    import simulator.kernels  # noqa: F401  (sets SciPy's OpenBLAS to one thread, as the app)

    @njit(nogil=True)
    def rnn_products(steps, A, P, Q):
        for _ in range(steps):
            np.dot(P, A, Q)  # (R2) product @ factor
            P[:, :] = Q
        return P[0, 0]

    @njit(nogil=True)
    def lstm_products(steps, B, L, R, P, Q, X):
        for _ in range(steps):
            np.dot(L, R, X)  # (L7) [X diag(alpha) | Z] @ [W_ho ; A_t]
            np.dot(P, B, Q)  # naive (L4) chain
            P[:, :] = Q
        return P[0, 0] + X[0, 0]

    rng = np.random.default_rng(0)
    A, B = (np.linalg.qr(rng.standard_normal((H, H)))[0] for _ in range(2))
    L, R = rng.standard_normal((H, 2 * H)) / H, rng.standard_normal((2 * H, H)) / H
    P, Q, X = np.eye(H), np.empty((H, H)), np.empty((H, H))
    rnn_products(2, A, P, Q)
    lstm_products(2, B, L, R, P, Q, X)
    rnn = median_time(lambda: rnn_products(T, A, np.eye(H), Q), repeats)
    lstm = median_time(lambda: lstm_products(T, B, L, R, np.eye(H), Q, X), repeats)
    return rnn, lstm


BASELINE_CHILD = r"""
import statistics, sys, time
sys.path.insert(0, sys.argv[1])
import simulator
from simulator import Setup, compute
simulator.warm_up()
H, T, repeats = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
setup = Setup(hidden_size=H, steps=T)
times = []
for _ in range(repeats):
    start = time.perf_counter()
    compute(setup, "numba")
    times.append(time.perf_counter() - start)
print(statistics.median(times))
"""


def baseline_seconds(tree: str, H: int, T: int, repeats: int) -> float:
    """Median seconds of compute() from another source tree, in a child process (its own numba cache)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(tempfile.gettempdir(), "numba-bench-baseline"))
    done = subprocess.run([sys.executable, "-c", BASELINE_CHILD, tree, str(H), str(T), str(repeats)],
                          cwd=tree, env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


MEMORY_CHILD = r"""
import resource, sys
sys.path.insert(0, sys.argv[1])
import simulator
from simulator import Setup, compute
simulator.warm_up()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open("/proc/self/status") as status:
    current = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
results = compute(Setup(hidden_size=int(sys.argv[2]), steps=int(sys.argv[3])))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
arrays = sum(v.nbytes for v in vars(results).values() if hasattr(v, "nbytes"))
print(before, current, peak, arrays)
"""


def memory_mb(H: int, T: int) -> tuple[float, float, float]:
    """(peak RSS of a child process that computes (H, T) once, its RSS just before, the bytes of
    the Results arrays), in MB."""
    done = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(ROOT), str(H), str(T)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    before, current, peak, arrays = map(int, done.stdout.strip().splitlines()[-1].split())
    return peak / 1024, current / 1024, arrays / 2**20


def startup_seconds(cache_dir: str) -> tuple[float, float, float]:
    """In a fresh interpreter with the given numba cache: seconds for (import simulator: numpy,
    pydantic, the setup model; import numba + simulator.kernels; simulator.warm_up(): load or
    compile every kernel, import SciPy's BLAS)."""
    code = (
        "import time; t0 = time.perf_counter();"
        "import simulator; t1 = time.perf_counter();"
        "import simulator.kernels; t2 = time.perf_counter();"
        "simulator.warm_up(); t3 = time.perf_counter();"
        "print(t1 - t0, t2 - t1, t3 - t2)"
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's Python caches bytecode (see bench_ui)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=True)
    simulator_s, kernels_s, warm_up_s = map(float, done.stdout.strip().splitlines()[-1].split())
    return simulator_s, kernels_s, warm_up_s


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip (H, T) = (128, 1000)")
    parser.add_argument("--big", action="store_true", help="add (512, 5000) and its peak memory (minutes)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per timing at small sizes (default 5)")
    parser.add_argument("--baseline", metavar="TREE", help="also time compute() from this source tree")
    parser.add_argument("--no-startup", action="store_true", help="skip the compile-time measurement")
    args = parser.parse_args(argv)

    import simulator
    from simulator import Setup, compute

    simulator.warm_up()
    sizes = [size for size in SIZES if not (args.quick and size == (128, 1000))] + ([BIG] if args.big else [])
    print(f"full exact recompute (default knobs, white-noise input), {os.cpu_count()} CPUs; medians")
    header = (f"{'H':>4} {'T':>5} | {'first':>9} {'final':>9} {'cancel':>8} | {'floor':>9} {'ratio':>6} {'floor/2c':>9} {'ratio':>6} "
              f"| {'reference':>10} {'ratio':>6} | {'torch L4':>9} {'ratio':>6}" + (" | baseline" if args.baseline else ""))
    print(header)
    print("-" * len(header))
    notes, passes = [], {}
    for H, T in sizes:
        setup = Setup(hidden_size=H, steps=T)
        work = H ** 3 * T
        repeats = args.repeats if work < 1e9 else (3 if work < 1e10 else 1)
        first, final, passes[(H, T)] = job_times(setup, repeats)
        cancel = cancel_latency(setup, max(repeats, 3))
        rnn_floor, lstm_floor = floor_seconds(H, T, repeats)
        floor, floor2 = rnn_floor + lstm_floor, max(rnn_floor, lstm_floor)
        if (H, T) == BIG:
            reference_cell = f"{'n/a':>10} {'':>6}"
            notes.append(f"reference at {BIG}: not run (hours)")
        else:
            ref_repeats = 1 if H >= 128 else 3
            reference_s = median_time(lambda: compute(setup, "reference"), ref_repeats)
            reference_cell = f"{_ms(reference_s):>10} {reference_s / final:5.1f}x"
            if (H, T) == (64, 200):
                verdict = "met" if reference_s / final >= REFERENCE_RATIO_TARGET else "NOT met"
                notes.append(f"reference ratio at (64, 200): >= {REFERENCE_RATIO_TARGET:g}x {verdict}")
        torch_cell = f"{'':>9} {'':>6}"
        if (H, T) == TORCH_SIZE:
            torch_s = torch_factor_time(setup, 3)
            if torch_s is None:
                torch_cell = f"{'n/a':>9} {'':>6}"
                notes.append("torch: PyTorch is not importable here, so the autograd column is n/a")
            else:
                torch_cell = f"{_ms(torch_s):>9} {torch_s / final:5.0f}x"
                verdict = "met" if torch_s / final >= TORCH_RATIO_TARGET else "NOT met"
                notes.append(f"torch ratio at {TORCH_SIZE}: >= {TORCH_RATIO_TARGET:g}x {verdict} (every per-step (L4) "
                             "factor by torch.autograd.functional.jacobian in float64, checked equal at t = 2)")
        baseline_cell = ""
        if args.baseline:
            baseline_s = baseline_seconds(args.baseline, H, T, repeats)
            baseline_cell = f" | {_ms(baseline_s)} ({baseline_s / final:.2f}x of final)"
        print(f"{H:>4} {T:>5} | {_ms(first):>9} {_ms(final):>9} {_ms(cancel):>8} | {_ms(floor):>9} {final / floor:5.2f}x "
              f"{_ms(floor2):>9} {final / floor2:5.2f}x | {reference_cell} | {torch_cell}{baseline_cell}")
        if repeats == 1:
            notes.append(f"({H}, {T}): one run")
    for note in notes:
        print(f"  note: {note}")

    H, T = sizes[-1]
    total = sum(passes[(H, T)].values())
    print(f"\nwhere the time goes at ({H}, {T}): seconds in each pass's chunks (both threads), {total:.2f} s in all")
    for name, seconds in sorted(passes[(H, T)].items(), key=lambda item: -item[1]):
        print(f"  {name:32s} {seconds:8.3f} s  {100 * seconds / total:5.1f} %")

    if args.big:
        peak, before, arrays = memory_mb(*BIG)
        verdict = "met" if peak <= MEMORY_TARGET_MB else "NOT met"
        print(f"\npeak memory of one compute at {BIG} (child process): max RSS {peak:.0f} MB "
              f"({before:.0f} MB before the compute; the Results arrays {arrays:.0f} MB); "
              f"target < {MEMORY_TARGET_MB:.0f} MB: {verdict}")

    if not args.no_startup:
        print("\nstart-up (fresh interpreter; import simulator | import numba + kernels | warm_up())")
        with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache_dir:
            cold = startup_seconds(cache_dir)
            warm = [startup_seconds(cache_dir) for _ in range(3)]
        warm_median = [statistics.median(parts) for parts in zip(*warm)]
        for label, parts in (("empty numba cache (compiles everything)", cold),
                             ("warm numba cache (median of 3)", warm_median)):
            print(f"  {label:40s} {sum(parts):6.2f} s = {parts[0]:.2f} + {parts[1]:.2f} + {parts[2]:.2f}")
        print(f"  target for the warm start-up: <= 1 s: {'met' if sum(warm_median) <= 1.0 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
