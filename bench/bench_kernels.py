"""Speed of a full recompute (results.compute): numba kernels against the numpy reference.

    python -m bench.bench_kernels            (from the project root; add --quick to skip (128, 1000))

Prints one table: the median wall time of `compute(setup, backend)` (forward passes, every per-step
factor and term with its spectral norm, the long-range log-norms and the BPTT passes) for each size,
for both backends in the same run, and their ratio. When PyTorch is importable, also the time to
get the same per-step LSTM factors dC_t/dC_{t-1} (L4) with torch.autograd.functional.jacobian.
Then a lower bound for the targets of (32, 100) and (64, 200): two parts every exact recompute
must do, timed alone with the kernels' own methods (OpenBLAS products, LAPACK eigen-solver): the
matrix products the three long-range chains need (R2: one H x H x H product per step; L7: one
(H x 2H)(2H x H); the naive L4 chain: one H x H x H), with no norm at all, and the exact spectral
norms of the T per-step (L4) sums on the real matrices, by the kernels' general path; their sum,
halved for a perfect split over 2 cores, against the target. Then the first-call compile time of
the kernels with an empty numba cache and with a warm one, each in a fresh interpreter with
NUMBA_CACHE_DIR pointed at a temporary folder.
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

SIZES = ((1, 100), (32, 100), (64, 200), (128, 1000))
TARGETS_MS = {(32, 100): 2.0, (64, 200): 15.0}  # issue 2, "Speed"


def median_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
    """Two parts every exact full recompute must do, each timed alone through the
    single-threaded BLAS/LAPACK the kernels use: (seconds for the long-range chains' matrix
    products, with no norm at all; seconds for the exact spectral norms of the T per-step (L4)
    sums the issue asks for, by the kernels' general path, on the real matrices of the default
    setup). Everything else (forward passes, BPTT, the chains' norms) comes on top."""
    from numba import njit

    import simulator.kernels  # noqa: F401  (sets SciPy's OpenBLAS to one thread, as the app)
    from simulator import Setup, compute
    from simulator.kernels import spectral_norm

    @njit(nogil=True)
    def chain_products(steps, A, B, L, R):
        P1, P2, P3 = np.eye(A.shape[0]), np.empty_like(A), np.eye(A.shape[0])
        X = np.empty_like(A)
        for _ in range(steps):
            np.dot(P1, A, P2)  # (R2) product @ factor
            P1[:, :] = P2
            np.dot(L, R, X)  # (L7) [X diag(alpha) | Z] @ [W_ho ; A_t]
            np.dot(P3, B, P2)  # naive (L4) chain
            P3[:, :] = P2
        return P1[0, 0] + X[0, 0] + P3[0, 0]

    @njit(nogil=True)
    def norms(matrices):
        total = 0.0
        for t in range(matrices.shape[0]):
            total += spectral_norm(matrices[t])  # the kernels' general exact path
        return total

    rng = np.random.default_rng(0)
    A, B = (np.linalg.qr(rng.standard_normal((H, H)))[0] for _ in range(2))
    L, R = rng.standard_normal((H, 2 * H)) / H, rng.standard_normal((2 * H, H)) / H
    results = compute(Setup(hidden_size=H, steps=T), "numba")
    factors = np.array([results.lstm_factor_terms(t)["total"] for t in range(1, T + 1)])
    chain_products(2, A, B, L, R)
    norms(factors[:1])
    products = median_time(lambda: chain_products(T, A, B, L, R), repeats)
    factor_norms = median_time(lambda: norms(factors), repeats)
    return products, factor_norms


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip (H, T) = (128, 1000)")
    parser.add_argument("--repeats", type=int, default=7, help="runs per timing (default 7)")
    args = parser.parse_args(argv)

    import simulator
    from simulator import Setup, compute

    simulator.warm_up()
    sizes = [size for size in SIZES if not (args.quick and size == (128, 1000))]
    print(f"median wall time of results.compute(setup) (default knobs, white-noise input), "
          f"{os.cpu_count()} CPUs")
    header = f"{'H':>4} {'T':>5} | {'numba':>10} {'reference':>11} {'ratio':>7} | {'torch L4 jacobians':>18} | target"
    print(header)
    print("-" * len(header))
    notes = []
    torch_missing = False
    for H, T in sizes:
        setup = Setup(hidden_size=H, steps=T)
        big = (H, T) == (128, 1000)
        numba_s = median_time(lambda: compute(setup, "numba"), 3 if big else args.repeats)
        ref_repeats = 1 if big else (3 if H >= 64 else args.repeats)
        reference_s = median_time(lambda: compute(setup, "reference"), ref_repeats)
        if ref_repeats < args.repeats:
            notes.append(f"reference at ({H}, {T}): {ref_repeats} run(s) only (slow)")
        if big:
            notes.append(f"numba at ({H}, {T}): median of 3 runs")
        torch_s = torch_factor_time(setup, 1 if big else 3)
        torch_missing = torch_missing or torch_s is None
        torch_cell = "n/a" if torch_s is None else f"{torch_s * 1e3:.1f} ms"
        target = TARGETS_MS.get((H, T))
        target_cell = "" if target is None else (
            f"<= {target:g} ms: {'met' if numba_s * 1e3 <= target else 'NOT met'}")
        print(f"{H:>4} {T:>5} | {numba_s * 1e3:>7.2f} ms {reference_s * 1e3:>8.1f} ms "
              f"{reference_s / numba_s:>6.1f}x | {torch_cell:>18} | {target_cell}")
    if torch_missing:
        notes.append("torch column: PyTorch is not installed here, so it is skipped (n/a)")
    else:
        notes.append("torch column: every per-step (L4) factor dC_t/dC_{t-1} as a matrix (the sum of "
                     "the four terms, no norms) by torch.autograd.functional.jacobian in float64, "
                     "checked equal to the simulator's at t = 2")
    for note in notes:
        print(f"  note: {note}")

    print()
    print("lower bound of an exact recompute with the kernels' methods: two parts every exact recompute")
    print("must do, timed alone, then split perfectly over 2 cores (everything else comes on top)")
    for (H, T), target in TARGETS_MS.items():
        products, factor_norms = floor_seconds(H, T, args.repeats)
        work = products + factor_norms
        bound = work / 2  # the targets are for a 2-core machine
        verdict = "reachable" if bound <= target / 1e3 else "out of reach"
        print(f"  ({H:>2}, {T:>3}): chain products {products * 1e3:6.2f} ms + {T} exact (L4) sum norms "
              f"{factor_norms * 1e3:6.2f} ms = {work * 1e3:6.2f} ms of work, >= {bound * 1e3:6.2f} ms "
              f"on 2 cores | target {target:g} ms: {verdict}")

    print()
    print("start-up (fresh interpreter; import simulator | import numba + kernels | warm_up())")
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
