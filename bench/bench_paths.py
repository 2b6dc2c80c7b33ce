"""Speed of the path engine (simulator/paths.py). Prints a table; not a test.

    python bench/bench_paths.py [--repeats 15]

For H = 1 and T = 1..6 (issue 13, "Speed": every path for T <= 6 at H = 1 in under 50 ms):
- "one k": `paths_to(results, "W_hf", 1, limit=None)`, the largest single listing (k = 1);
- "every k, every weight": `paths_by_k(results, weight, limit=None)` for W_hf, W_hi, W_hg, W_ho and
  U, i.e. every path to every copy of every weight, with groups, totals and the BPTT check.
Both enumerate and evaluate the paths (values, groups, projections, shares), without making a
Python `Path` object per path (those are made when looked at); the column "+ Path objects" adds
materialising every listed path of "every k" (what a CSV export of all of them costs).
Baseline in the same run: a plain recursive enumeration that multiplies the scalar local
derivatives of each path (from the same factor tables; the obvious way to write it), for every
k and every LSTM weight. Then the largest-N listing (N = 50) at longer lags, for H = 1 and 3, and
`path_ledger` (every k's path sum against BPTT) at long T. Median of `--repeats` runs each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from simulator import InitialState, Knobs, Setup, compute  # noqa: E402
from simulator.paths import (  # noqa: E402
    PATH_WEIGHTS,
    _Graph,
    count_paths,
    path_ledger,
    paths_by_k,
    paths_to,
)

TARGET_MS = 50.0


def median_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def setup_for(hidden: int, steps: int) -> Setup:
    return Setup(hidden_size=hidden, steps=steps, seed=4, initial=InitialState(h0=0.3, C0=0.7),
                 knobs=Knobs(W_hi=1.2, W_hf=0.9, W_hg=1.5, W_ho=1.3, b_f=0.5))


def naive_every_path(results) -> int:
    """Baseline: depth-first over the graph of each (LSTM weight, k), one float product per path."""
    n = 0
    T = results.steps
    for weight in PATH_WEIGHTS[:4]:
        for k in range(1, T + 1):
            graph = _Graph(results, weight, k, [k])
            terminal = graph.terminals[k]
            local = [e.scalar() for e in graph.edges]
            values = [m * 2.0**e for m, e in local]

            def walk(node, product):
                nonlocal n
                if node == terminal:
                    n += 1
                    return product
                return sum(walk(edge.lower, product * values[edge.index]) for edge in graph.out_edges[node])

            walk(0, 1.0)
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    repeats = args.repeats

    print("H = 1, every path listed (limit=None); times in ms, median of", repeats, "runs")
    print(f"{'T':>2} {'paths k=1':>10} {'one k':>8} {'paths all':>10} {'every k, every weight':>22} "
          f"{'+ Path objects':>15} {'baseline':>9} {'ratio':>6}")
    worst = 0.0
    for T in range(1, 7):
        results = compute(setup_for(1, T), backend="reference")
        n_all = sum(count_paths(w, T, k) for w in PATH_WEIGHTS for k in range(1, T + 1))

        def every():
            return [paths_by_k(results, weight, limit=None) for weight in PATH_WEIGHTS]

        def every_with_objects():
            for by_k in every():
                for item in by_k.values():
                    list(item.paths)

        one = median_ms(lambda: paths_to(results, "W_hf", 1, limit=None), repeats)
        all_ms = median_ms(every, repeats)
        objects = median_ms(every_with_objects, max(3, repeats // 3))
        base = median_ms(lambda: naive_every_path(results), max(3, repeats // 3))
        worst = max(worst, all_ms)
        print(f"{T:>2} {count_paths('W_hf', T, 1):>10} {one:>8.2f} {n_all:>10} {all_ms:>22.2f} "
              f"{objects:>15.2f} {base:>9.2f} {all_ms / base:>6.2f}")
    verdict = "met" if worst < TARGET_MS else "NOT met"
    print(f"target: every path for T <= 6 at H = 1 under {TARGET_MS:.0f} ms: {verdict} "
          f"(worst {worst:.1f} ms, every k and every weight)")

    print()
    print("the 50 largest paths to W_hf^(1) (best-first search), ms, median of", repeats, "runs")
    print(f"{'H':>2} {'lag T-k':>8} {'paths':>12} {'ranking':>8} {'time':>8}")
    for hidden, lags in ((1, (6, 10, 20, 30)), (3, (6, 10))):
        for lag in lags:
            results = compute(setup_for(hidden, lag + 1), backend="reference")
            item = paths_to(results, "W_hf", 1, limit=50)
            ms = median_ms(lambda: paths_to(results, "W_hf", 1, limit=50), max(3, repeats // 3))
            count = item.count
            shown = f"{count}" if count < 10**9 else f"{count:.2e}"
            print(f"{hidden:>2} {lag:>8} {shown:>12} {item.ranking:>8} {ms:>8.2f}")

    print()
    print("path_ledger(results, 'W_hf'): every k's path sum against BPTT, ms, median of",
          max(3, repeats // 3), "runs")
    print(f"{'H':>3} {'T':>5} {'time':>8} {'agrees':>7}")
    for hidden, steps in ((1, 6), (1, 100), (1, 1000), (1, 5000), (32, 100), (128, 1000)):
        results = compute(setup_for(hidden, steps), backend="reference")
        ledger = path_ledger(results, "W_hf")
        ms = median_ms(lambda: path_ledger(results, "W_hf"), max(3, repeats // 3))
        print(f"{hidden:>3} {steps:>5} {ms:>8.1f} {str(ledger.agrees):>7}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
