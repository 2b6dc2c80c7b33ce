"""Responsiveness of the main window (offscreen). Prints a table; not a test.

    QT_QPA_PLATFORM=offscreen python bench/bench_ui.py [--changes 100] [--budget 60]

1. knob change -> repainted latency: move the U slider; median and 95th percentile over N changes,
   at (H, T) = (32, 100) and (128, 1000), of the time to: the first new results drawn (partial or
   final: the first paint of a view once the window holds them); plot ② repainted with the final
   results (the row measured before the one-description rewrite, kept to compare); the whole
   window repainted (its views paint in several passes: the last paint before the window has been
   quiet for QUIET_S). Turning U recomputes only the RNN (the LSTM's arrays are reused), so the
   same is also measured for the W_hf slider (only the LSTM is recomputed, the costlier half). Baseline in the same run: the bare full `simulator.compute`
   of the same setup on this thread. `BENCH_ROOT=<checkout>` runs this bench on another checkout
   of the app (e.g. the commit before a change, for a before/after table).
2. longest UI-thread block while a slider is dragged at 60 Hz (a 2 ms QTimer heartbeat measures
   the largest gap between its ticks), at (128, 1000).
3. process start -> window shown and -> first drawn frame (plot 2 painted with data), from a
   fresh interpreter with a warm numba cache and a warm bytecode cache (run 0 fills both);
   median of several runs.
4. the Paths tab (issue 13): W_hf knob change -> Paths view repainted (the tab showing, W_hf,
   k = T - 1), at H = 1, T = 6 and at the default preset (H = 8, T = 100); baseline: the bare
   compute of the same setup. Also, on this thread: the path numbers of one (weight, k), uncached
   (plots.paths.path_data: what decides UI thread or worker), and the description alone.
   `--only paths` runs just this part.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(os.environ.get("BENCH_ROOT") or Path(__file__).resolve().parents[1])
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as ui/app.py does for the app
os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")  # as ui/app.py does for the app

# The child process for the start-up measurement: what ui.app.run_app does, with time stamps.
STARTUP_CHILD = r"""
import sys, time, json
start = time.time()
sys.path.insert(0, sys.argv[1])
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
from ui.app import attach_export_in_background, initial_setup_and_view
from ui.main_window import MainWindow
from ui.controllers.presets import PresetController
stamps = {"python_start": start}
app = QApplication([])
setup, view = initial_setup_and_view(None)
window = MainWindow(setup, warm_up=True, view=view)
class PaintWatch(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            stamps.setdefault("shown", time.time())  # the window's first painted pixels
            if obj is plot and window.results is not None and "first_frame" not in stamps:
                stamps["first_frame"] = time.time()  # plot 2 painted with data
                QTimer.singleShot(0, app.quit)
        return False
watch = PaintWatch()
plot = window.long_range_plot.graphics.viewport()
plot.installEventFilter(watch)
window.centralWidget().installEventFilter(watch)
window.knobs.installEventFilter(watch)
window.preset_controller = PresetController(window)
window.show()
attach_export_in_background(window)
QTimer.singleShot(60000, app.quit)
app.exec()
window.close()
print(json.dumps(stamps))
"""


QUIET_S = 0.03  # no paint for this long: the window is painted whole


def plot_2_viewport(window):
    """Plot ②'s viewport (before the one-description rewrite the window held the plot widget
    itself, as `long_range_plot`: the bench runs on both, for before/after tables)."""
    views = getattr(window, "views", None)
    return views["long-range"].graphics.viewport() if views else window.long_range_plot.viewport()


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def warm_start_environment() -> dict:
    """The child's environment for a warm start, as on a user's machine: Python's bytecode cache
    is on (some sandboxes and CI images set PYTHONDONTWRITEBYTECODE, which makes every start
    recompile every module of the app and its libraries from source)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def bench_startup(runs: int) -> dict:
    shown, first = [], []
    for run in range(runs + 1):  # run 0 warms numba's cache and the OS file cache
        launched = time.time()
        done = subprocess.run([sys.executable, "-c", STARTUP_CHILD, str(ROOT)], capture_output=True,
                              text=True, timeout=600, env=warm_start_environment())
        stamps = json.loads(done.stdout.strip().splitlines()[-1])
        if run:
            shown.append(stamps["shown"] - launched)
            first.append(stamps.get("first_frame", float("nan")) - launched)
    return {"shown": statistics.median(shown), "first_frame": statistics.median(first), "runs": runs}


def heartbeat_gaps(wait_for, seconds: float, while_running=None) -> tuple[int, float, float]:
    """(ticks, median gap, longest gap) in ms of a 2 ms QTimer on the UI thread over `seconds` (or
    while while_running() holds): the longest gap is how long the UI thread was blocked at most."""
    from PySide6.QtCore import QTimer

    gaps, last = [0.0], [time.perf_counter()]

    def beat():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(2)
    timer.timeout.connect(beat)
    timer.start()
    end = time.perf_counter() + seconds
    wait_for(lambda: time.perf_counter() > end or (while_running is not None and not while_running()), seconds + 1)
    timer.stop()
    return len(gaps) - 1, statistics.median(gaps) * 1000, max(gaps) * 1000


def ui_time_of(action, app, settle_s: float = 0.08) -> float:
    """Seconds of UI-thread time spent on `action()` and on everything it sets off within
    settle_s (timers, the worker's answers and the paints they cause): the action itself plus
    every processEvents() call of the settle period that found work (an idle call takes ~10 µs;
    the dispatcher's awake/aboutToBlock signals miss the paints under the glib dispatcher)."""
    start = time.perf_counter()
    action()
    busy = time.perf_counter() - start
    end = time.perf_counter() + settle_s
    while time.perf_counter() < end:
        before = time.perf_counter()
        app.processEvents()
        spent = time.perf_counter() - before
        if spent > 50e-6:
            busy += spent
        time.sleep(0.0005)
    return busy


def bench_large(H: int, T: int, wait_for, app) -> list[tuple]:
    """Issue 12's rows at one large size: knob -> first new frame, -> final exact frame, cancel
    latency, the longest UI block while computing and while playing, a step and a click-select."""
    from simulator import Setup, compute
    from ui.main_window import MainWindow

    rows = []
    setup = Setup(hidden_size=H, steps=T, seed=0)
    repeats = 3 if H * H * T <= 2e7 else 1
    window = MainWindow(setup)
    window.resize(1600, 1000)
    window.show()
    wait_for(lambda: window.results is not None and window.results.final, 3600)
    t0 = time.perf_counter()
    compute(setup.with_knob("W_hf", 0.77))
    one_shot = time.perf_counter() - t0
    first, final, cancels = [], [], []
    for i in range(repeats):
        value = 0.6 + 0.1 * i
        wanted = window.results.setup.with_knob("W_hf", value)
        asked = time.perf_counter()
        window.apply_setup(wanted)
        wait_for(lambda: window.results.setup == wanted, 3600)
        app.processEvents()
        first.append(time.perf_counter() - asked)
        blocked = heartbeat_gaps(wait_for, 3600, while_running=lambda: not window.results.final)[2]
        final.append(time.perf_counter() - asked)
        # cancel: a compute streams; a newer request stops it (the worker starts the new job)
        window.apply_setup(wanted.with_knob("W_hf", value + 0.05))
        wait_for(lambda: window.worker.job is not None and not window.results.final, 60)
        running = window.worker.job
        asked = time.perf_counter()
        window.apply_setup(wanted.with_knob("W_hf", value + 0.07))
        wait_for(lambda: window.worker.job is not running, 60)
        cancels.append(time.perf_counter() - asked)
        wait_for(lambda: window.results.final and not window.is_computing(), 3600)
    name = f"H={H} T={T}"
    rows.append((f"knob→first new frame {name}", len(first), statistics.median(first) * 1000,
                 max(first) * 1000, one_shot * 1000))
    rows.append((f"knob→final exact frame {name}", len(final), statistics.median(final) * 1000,
                 max(final) * 1000, one_shot * 1000))
    rows.append((f"cancel latency {name}", len(cancels), statistics.median(cancels) * 1000,
                 max(cancels) * 1000, one_shot * 1000))
    rows.append((f"longest UI block while computing {name}", 1, blocked, blocked, one_shot * 1000))
    # stepping and selecting: UI time of one step (the → key) and of a click on a step, with
    # everything they set off (plot ③'s norms from the worker, the paints)
    window.reset()
    app.processEvents()
    step_times, select_times = [], []
    for i in range(60):
        step_times.append(ui_time_of(window.step, app))
        select_times.append(ui_time_of(lambda i=i: window.set_selected_step((37 * i) % T), app))
    rows.append((f"→ step, UI time {name}", len(step_times), statistics.median(step_times) * 1000,
                 percentile(step_times, 95) * 1000, one_shot * 1000))
    rows.append((f"click-select, UI time {name}", len(select_times), statistics.median(select_times) * 1000,
                 percentile(select_times, 95) * 1000, one_shot * 1000))
    # playing at 25 steps/s while a compute streams
    window.apply_setup(window.results.setup.with_knob("W_hf", 0.9))
    wait_for(lambda: not window.results.final, 600)
    window.view_model.reveal(0)
    window.speed_spin.setValue(25)
    window.play()
    worst = heartbeat_gaps(wait_for, 8.0)[2]
    window.pause()
    rows.append((f"longest UI block while playing + computing {name}", 1, worst, worst, one_shot * 1000))
    window.close()
    return rows


def print_rows(rows) -> None:
    print(f"{'measurement':<52} {'n':>5} {'median':>9} {'p95/max':>9} {'baseline':>9} {'ratio':>7}")
    for name, n, median, p95, base in rows:
        print(f"{name:<52} {n:>5} {median:>9.1f} {p95:>9.1f} {base:>9.1f} {median / base:>7.2f}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--budget", type=float, default=90.0, help="seconds per latency measurement")
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument("--sizes", default="32x100,128x1000", help="H x T list (default 32x100,128x1000)")
    parser.add_argument("--only", choices=("knobs", "paths", "large"),
                        help="run only the knob rows at --sizes, the Paths tab's rows, or the large sizes'")
    parser.add_argument("--large", default="128x1000,512x5000",
                        help="H x T list for the progressive-results rows (default 128x1000,512x5000; '' skips)")
    args = parser.parse_args()

    from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QGraphicsView

    from simulator import Setup, compute, warm_up
    from ui.main_window import MainWindow
    from simulator import default_backend

    app = QApplication.instance() or QApplication([])
    backend = default_backend()
    if backend == "numba":
        warm_up()
    rows = []

    def wait_for(predicate, timeout_s: float) -> bool:
        """Run the Qt event loop (idle, not a busy loop: that would steal the GIL and a core from
        the worker) until predicate() holds, polling it every 2 ms."""
        deadline = time.perf_counter() + timeout_s
        loop = QEventLoop()
        poll = QTimer()
        poll.setInterval(2)

        def check():
            if predicate() or time.perf_counter() > deadline:
                loop.quit()

        poll.timeout.connect(check)
        poll.start()
        if not predicate():
            loop.exec()
        poll.stop()
        return bool(predicate())

    class PaintWatch(QObject):
        painted_at = 0.0

        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint:
                self.painted_at = time.perf_counter()
            return False

    class Plot2Watch(QObject):
        painted_at = 0.0  # plot ②'s first paint once the window holds the new final results
        before = None  # the results before the change

        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint and not self.painted_at:
                # (not "after results_changed": views drawn one per turn announce after the last)
                results = window.results
                if results is not self.before and getattr(results, "final", True):
                    self.painted_at = time.perf_counter()
            return False

    class FirstFrameWatch(QObject):
        """The first paint of any view (a QGraphicsView's viewport: a plot, a heatmap, the unrolled
        networks) once the window holds new results, partial or final: the first frame a user sees
        them in. (It was the first 2 ms poll that found them, which Qt runs only once the chain of
        paints after new results has ended: near the whole-window time, not the first frame.)"""
        painted_at = 0.0
        before = None  # the results before the change

        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint and not self.painted_at and window.results is not self.before \
                    and isinstance(obj.parent(), QGraphicsView):
                self.painted_at = time.perf_counter()
            return False

    sizes = [tuple(int(n) for n in size.split("x")) for size in args.sizes.split(",")]
    if args.only in ("paths", "large"):
        sizes = []
    for H, T in sizes:
        setup = Setup(hidden_size=H, steps=T, seed=0)
        t0 = time.perf_counter()
        compute(setup, backend=backend)
        baseline = time.perf_counter() - t0
        window = MainWindow(setup)
        window.resize(1600, 1000)
        window.show()
        wait_for(lambda: window.results is not None, 3600)
        watch = PaintWatch()
        app.installEventFilter(watch)  # a paint anywhere in the window (a final result may repaint only some plots)
        first_frame = FirstFrameWatch()
        app.installEventFilter(first_frame)
        plot_2 = Plot2Watch()  # the row measured before the one-description rewrite: plot ② repainted
        plot_2_viewport(window).installEventFilter(plot_2)
        drawn = []
        window.results_changed.connect(lambda: drawn.append(time.perf_counter()))  # final results drawn
        for knob in ("U", "W_hf"):
            slider = window.knobs.sliders[knob].slider
            firsts, plot_2_latencies, latencies = [], [], []
            started = time.perf_counter()
            for i in range(args.changes):
                if time.perf_counter() - started > args.budget:
                    break
                drawn.clear()
                plot_2.painted_at = first_frame.painted_at = 0.0
                value = 50 + (i * 7) % 150  # knob in 0.50 .. 1.99
                if value == slider.value():
                    value += 1
                before = window.results
                plot_2.before = first_frame.before = before

                def final_painted():
                    return bool(drawn) and watch.painted_at > drawn[0]

                t_change = time.perf_counter()
                slider.setValue(value)
                if not wait_for(final_painted, 600):
                    break
                # the whole window: until nothing has been painted for QUIET_S (the views paint in
                # several passes) and nothing is computed
                wait_for(lambda: not window.is_computing() and time.perf_counter() - watch.painted_at > QUIET_S, 600)
                if first_frame.painted_at:  # (no view painted: no sample, rather than another measure)
                    firsts.append(first_frame.painted_at - t_change)
                plot_2_latencies.append(plot_2.painted_at - t_change)
                latencies.append(watch.painted_at - t_change)
            n_firsts, firsts = len(firsts), firsts or [float("nan")]  # (n = 0 then says why)
            rows.append((f"{knob} change→first new frame H={H} T={T}", n_firsts,
                         statistics.median(firsts) * 1000, percentile(firsts, 95) * 1000, baseline * 1000))
            rows.append((f"{knob} change→plot ② repainted H={H} T={T}", len(plot_2_latencies),
                         statistics.median(plot_2_latencies) * 1000, percentile(plot_2_latencies, 95) * 1000,
                         baseline * 1000))
            rows.append((f"{knob} change→whole window repainted H={H} T={T}", len(latencies),
                         statistics.median(latencies) * 1000, percentile(latencies, 95) * 1000,
                         baseline * 1000))
        slider = window.knobs.sliders["U"].slider

        if (H, T) == (128, 1000):  # the UI thread while a slider is dragged at 60 Hz
            drag = QTimer()
            drag.setInterval(16)
            position = [100]

            def move():
                position[0] = 100 + (position[0] - 99) % 100
                slider.setValue(position[0])

            drag.timeout.connect(move)
            drag_seconds = min(10.0, args.budget)
            drag.start()
            QTimer.singleShot(int(drag_seconds * 1000), drag.stop)  # then until the last change is computed
            ticks, median, longest = heartbeat_gaps(
                wait_for, 3600, while_running=lambda: drag.isActive() or window.is_computing())
            rows.append((f"longest UI block, 60 Hz drag {drag_seconds:.0f} s, H={H} T={T}", ticks,
                         median, longest, baseline * 1000))
        app.removeEventFilter(watch)
        app.removeEventFilter(first_frame)
        window.close()

    if args.only == "knobs":  # (runs on a checkout from before the Paths tab too: BENCH_ROOT)
        print_rows(rows)
        return 0
    # 4. the Paths tab: a knob change redraws the tree, the list, the ledger and the unrolled view
    import plots
    from plots import paths as path_view
    from plots.view import ViewState
    from simulator.presets import builtin_presets

    for name, setup in (("H=1 T=6", Setup(hidden_size=1, steps=6, seed=0)),
                        ("default preset H=8 T=100", builtin_presets()["default"].setup)):
        t0 = time.perf_counter()
        results = compute(setup, backend=backend)
        baseline = time.perf_counter() - t0
        k = setup.steps - 1
        numbers, describing = [], []
        for i in range(min(args.changes, 30)):  # uncached: fresh results each time
            fresh = compute(setup.with_knob("W_hf", 0.3 + 0.01 * i), backend=backend)
            t0 = time.perf_counter()
            path_view.path_data(fresh, "W_hf", k, "magnitude", blocking=True)
            numbers.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            plots.describe("paths", fresh, ViewState.full(setup.steps), blocking=False)
            describing.append(time.perf_counter() - t0)
        rows.append((f"path numbers, uncached, {name}", len(numbers), statistics.median(numbers) * 1000,
                     percentile(numbers, 95) * 1000, baseline * 1000))
        rows.append((f"paths description (numbers cached), {name}", len(describing),
                     statistics.median(describing) * 1000, percentile(describing, 95) * 1000, baseline * 1000))
        window = MainWindow(setup)
        window.resize(1600, 1000)
        window.show()
        wait_for(lambda: window.results is not None, 3600)
        window.tabs.setCurrentWidget(window.paths_view)
        wait_for(lambda: window.paths_view.plot_view.plot is not None, 3600)
        watch = PaintWatch()
        window.paths_view.plot_view.graphics.viewport().installEventFilter(watch)
        drawn = []
        window.results_changed.connect(lambda: drawn.append(time.perf_counter()))
        slider = window.knobs.sliders["W_hf"].slider
        latencies = []
        started = time.perf_counter()
        for i in range(args.changes):
            if time.perf_counter() - started > args.budget:
                break
            drawn.clear()
            value = 50 + (i * 7) % 150
            if value == slider.value():
                value += 1
            t_change = time.perf_counter()
            slider.setValue(value)
            if not wait_for(lambda: drawn and watch.painted_at > drawn[0]
                            and not window.paths_view.plot_view.plot.partial, 3600):
                break
            latencies.append(watch.painted_at - t_change)
        rows.append((f"W_hf change→Paths repainted {name}", len(latencies), statistics.median(latencies) * 1000,
                     percentile(latencies, 95) * 1000, baseline * 1000))
        window.close()
    if args.only == "paths":
        print(f"backend: {backend}   (times in ms; baseline = bare simulator.compute of the same setup)")
        print(f"{'measurement':<58} {'n':>5} {'median':>9} {'p95/max':>9} {'baseline':>9} {'ratio':>7}")
        for name, n, median, p95, base in rows:
            print(f"{name:<58} {n:>5} {median:>9.1f} {p95:>9.1f} {base:>9.1f} {median / base:>7.2f}")
        print("targets: path numbers < ~30 ms on the UI thread (plots.paths.is_quick), else the worker; "
              "Paths repainted within the dashboard's latency (median <= 33 ms at (32, 100))")
        return 0

    if args.only in (None, "large") and args.large:
        for H, T in (tuple(int(n) for n in size.split("x")) for size in args.large.split(",")):
            rows.extend(bench_large(H, T, wait_for, app))
    if args.only == "large":
        print_rows(rows)
        return 0
    startup = bench_startup(args.startup_runs)
    print(f"backend: {backend}   (times in ms; baseline = bare simulator.compute of the same setup)")
    print(f"{'measurement':<58} {'n':>5} {'median':>9} {'p95/max':>9} {'baseline':>9} {'ratio':>7}")
    for name, n, median, p95, base in rows:
        print(f"{name:<58} {n:>5} {median:>9.1f} {p95:>9.1f} {base:>9.1f} {median / base:>7.2f}")
    print(f"{'process start → window shown (warm cache)':<48} {startup['runs']:>5} "
          f"{startup['shown'] * 1000:>9.0f}")
    print(f"{'process start → first drawn frame (warm cache)':<48} {startup['runs']:>5} "
          f"{startup['first_frame'] * 1000:>9.0f}")
    print("targets: median ≤ 33 ms at (32, 100); UI block ≤ 100 ms at (128, 1000); "
          "shown ≤ 1500 ms; first frame ≤ 2500 ms")
    return 0


if __name__ == "__main__":
    code = main()
    # The windows made here are closed but not deleted; deleting them (or leaving them to the
    # interpreter's shutdown) ends in a segmentation fault inside QGraphicsScene's destructor, after
    # the table is printed (a known pyqtgraph/PySide6 teardown crash; the app's own exit deletes
    # one window and is checked by tests/test_ui_window.py). The bench leaves without tearing down.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
