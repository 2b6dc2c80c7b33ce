"""The training curves (issue 14): both networks' loss, accuracy and the gradient reaching the
first marker, over the training steps, described once for the window and the slides.

Its input is not `Results` but a training run: `plots.describe("training", results, view,
training=curves)` with `curves` a `TrainingCurves`, the frozen copy of a run that
`CurveRecorder.update(trainer)` makes. Without `training=` the plot is empty (no run yet).

Panels, stacked over the training step:
- loss: training loss (the mean over bins of steps, thin) and test loss (thick) of both networks,
  log10 on a linear axis with decade ticks 10^{n} (computed here so both renderers agree), the
  baseline of the memoryless strategy, the success threshold (the adding problem: MSE 0.01), and a
  vertical line where each network first met the task's success criterion;
- accuracy (tasks that have one: copy memory, temporal order), with chance and the 0.99 threshold;
- the gradient reaching the first marker: mean_b ||dl_b/dS_k|| (RNN), ||dl_b/dh_k|| and
  ||dl_b/dC_k|| (LSTM) at the marker's step k, log10, per training step (binned like the loss).

The window redraws these curves while a run trains, so nothing here is proportional to the run's
length: `CurveRecorder` takes only the steps trained since its last update, bins per-step values
into at most MAX_BINS bins (the bin doubles when they fill: pairs merge) as means of log10, and
keeps the test points in growing buffers; `TrainingCurves` holds read-only views of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simulator import Results

from . import style
from .spec import Axis, Legend, Line, Markers, Panel, Plot, Rule, Table, Text
from .view import ViewState

TITLE = "Training: the RNN and the LSTM side by side"
MAX_BINS = 400  # per-step curves are drawn as at most this many bins of steps
LOG_FLOOR, LOG_CEILING = -300.0, 300.0  # log10 of a 0 (underflowed) gradient / of an overflowed loss
TASK_TITLES = {"adding": "adding problem", "copy": "copy memory", "temporal_order": "temporal order"}
CHANCE_ACCURACY = {"copy": 1.0 / 8.0, "temporal_order": 1.0 / 4.0}  # guessing: 8 symbols, 4 classes
NETWORKS = ("rnn", "lstm")
NAMES = {"rnn": "RNN", "lstm": "LSTM"}
LABEL_AT = 0.2  # texts naming the reference lines sit at this share of the x axis


# ----------------------------------------------------------------------------------------------
# The frozen curves and the recorder that makes them
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingCurves:
    """A training run's curves as drawn (read-only arrays; log10 where the name says so)."""

    task: str  # "adding", "copy", "temporal_order"
    task_line: str  # 'adding problem, T = 100'
    settings_line: str  # 'H = 16 · batch 32 · Adam, lr 0.01 · clip 1 (norm) · seed 0'
    loss_name: str  # "MSE" or "cross-entropy"
    baseline: float
    success_metric: str  # "loss" or "accuracy"
    success_threshold: float
    has_accuracy: bool
    steps: int  # the step budget
    step_count: int  # steps trained
    batch_size: int
    bin_size: int
    bin_step: np.ndarray  # (bins,) centre of each bin of steps
    train_log10: dict  # network -> (bins,) mean of log10 training loss over the bin
    marker_log10: dict  # "rnn", "lstm" (h), "lstm_C" -> (bins,) mean of log10 gradient at the marker
    test_step: np.ndarray  # (tests,)
    test_loss: dict  # network -> (tests,) reported loss
    test_accuracy: dict  # network -> (tests,) (NaN without accuracy)
    first_success: dict = field(default_factory=dict)  # network -> first test step meeting the criterion

    @property
    def sequences_seen(self) -> int:
        return self.step_count * self.batch_size


def _log10(values: np.ndarray) -> np.ndarray:
    """log10 for curves: 0 -> LOG_FLOOR, inf -> LOG_CEILING, NaN stays NaN (not counted)."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(np.where(values > 0.0, values, np.nan))
    out = np.where(values == 0.0, LOG_FLOOR, out)
    return np.clip(out, LOG_FLOOR, LOG_CEILING)


class _Bins:
    """Means of per-step values over bins of `size` steps (bin k: steps k*size+1 .. (k+1)*size),
    at most MAX_BINS of them: when they fill, neighbours merge and the size doubles."""

    def __init__(self, names):
        self.size = 1
        self.count = 0  # bins in use (the last may be partial)
        self.sums = {name: np.zeros(MAX_BINS) for name in names}
        self.counts = {name: np.zeros(MAX_BINS) for name in names}

    def add(self, first_step: int, values: dict) -> None:
        """Steps first_step, first_step + 1, ... with these values (NaN: not counted)."""
        n = len(next(iter(values.values())))
        if n == 0:
            return
        last_step = first_step + n - 1
        while (last_step - 1) // self.size + 1 > MAX_BINS:
            self._merge()
        index = (np.arange(first_step, last_step + 1) - 1) // self.size
        for name, array in values.items():
            finite = ~np.isnan(array)
            np.add.at(self.sums[name], index[finite], array[finite])
            np.add.at(self.counts[name], index[finite], 1.0)
        self.count = (last_step - 1) // self.size + 1

    def _merge(self) -> None:
        half = MAX_BINS // 2
        for table in (self.sums, self.counts):
            for name, array in table.items():
                merged = array[0::2] + array[1::2]
                array[:half] = merged
                array[half:] = 0.0
        self.size *= 2
        self.count = -(-self.count // 2)

    def means(self) -> dict:
        with np.errstate(invalid="ignore", divide="ignore"):
            return {name: np.where(self.counts[name][:self.count] > 0,
                                   self.sums[name][:self.count] / self.counts[name][:self.count], np.nan)
                    for name in self.sums}

    def centres(self, step_count: int) -> np.ndarray:
        first = np.arange(self.count) * self.size + 1
        last = np.minimum(first + self.size - 1, step_count)
        return (first + last) / 2.0


class _Growing:
    """An append-only float buffer (doubling): views of its filled part stay valid and unchanged."""

    def __init__(self):
        self.data = np.zeros(64)
        self.count = 0

    def extend(self, values: np.ndarray) -> None:
        need = self.count + len(values)
        if need > len(self.data):
            bigger = np.zeros(max(need, 2 * len(self.data)))
            bigger[:self.count] = self.data[:self.count]
            self.data = bigger
        self.data[self.count:need] = values
        self.count = need

    def view(self) -> np.ndarray:
        out = self.data[:self.count]
        out.setflags(write=False)  # a read-only view (the buffer itself stays writable)
        return out


class CurveRecorder:
    """Turns a Trainer's live history into TrainingCurves, doing only the new steps' work.

    `update(trainer)` reads the steps and tests finished since the last call (lock-free, as
    simulator.training.Trainer allows a reader thread to) and returns the curves so far. A new
    run (trainer.reset(), another trainer) starts the curves over."""

    def __init__(self):
        self._history = None

    def _start(self, trainer) -> None:
        self._history = trainer.history
        self._steps_done = 0
        self._tests_done = 0
        self._bins = _Bins(("rnn", "lstm", "rnn_marker", "lstm_marker", "lstm_marker_C"))
        self._test_step = _Growing()
        self._test = {(network, what): _Growing() for network in NETWORKS for what in ("loss", "accuracy")}
        task, config = trainer.task, trainer.config
        from simulator.tasks import task_T

        self._fixed = dict(
            task=task.name, task_line=f"{TASK_TITLES[task.name]}, T = {task_T(task)}",
            settings_line=settings_line(config), loss_name=task.loss_name, baseline=float(task.baseline),
            success_metric=task.success_metric, success_threshold=float(task.success_threshold),
            has_accuracy=bool(task.has_accuracy), steps=int(config.steps), batch_size=int(config.batch_size))

    def update(self, trainer) -> TrainingCurves:
        if trainer.history is not self._history:
            self._start(trainer)
        history = trainer.history
        steps = history.step_count  # entries up to here are complete
        tests = history.test_count
        if steps > self._steps_done:
            new = slice(self._steps_done + 1, steps + 1)
            self._bins.add(self._steps_done + 1, {
                "rnn": _log10(history.rnn.train_loss[new]), "lstm": _log10(history.lstm.train_loss[new]),
                "rnn_marker": _log10(history.rnn.marker_grad[new]),
                "lstm_marker": _log10(history.lstm.marker_grad[new]),
                "lstm_marker_C": _log10(history.lstm.marker_grad_C[new]),
            })
            self._steps_done = steps
        if tests > self._tests_done:
            new = slice(self._tests_done, tests)
            self._test_step.extend(history.test_steps[new].astype(np.float64))
            for network in NETWORKS:
                curves = history.network(network)
                self._test[network, "loss"].extend(curves.test_loss[new])
                self._test[network, "accuracy"].extend(curves.test_accuracy[new])
            self._tests_done = tests
        means = self._bins.means()
        for array in means.values():
            array.setflags(write=False)
        centres = self._bins.centres(steps)
        centres.setflags(write=False)
        # (a success is recorded just before its test is counted: only tests already taken count)
        last_test = self._test_step.data[self._test_step.count - 1] if self._test_step.count else -1
        first = {network: history.network(network).first_success_step for network in NETWORKS}
        first = {network: step for network, step in first.items() if step is not None and step <= last_test}
        return TrainingCurves(
            **self._fixed, step_count=steps, bin_size=self._bins.size, bin_step=centres,
            train_log10={"rnn": means["rnn"], "lstm": means["lstm"]},
            marker_log10={"rnn": means["rnn_marker"], "lstm": means["lstm_marker"],
                          "lstm_C": means["lstm_marker_C"]},
            test_step=self._test_step.view(),
            test_loss={network: self._test[network, "loss"].view() for network in NETWORKS},
            test_accuracy={network: self._test[network, "accuracy"].view() for network in NETWORKS},
            first_success=first)


def curves_of(trainer) -> TrainingCurves:
    """The curves of a whole run at once (headless, tests)."""
    return CurveRecorder().update(trainer)


def settings_line(config) -> str:
    optimiser = "Adam" if config.optimizer == "adam" else "SGD"
    clip = "no clipping" if config.clip is None else f"clip {config.clip:g} ({config.clip_kind})"
    return (f"H = {config.hidden_size} · batch {config.batch_size} · {optimiser}, lr {config.learning_rate:g} · "
            f"{clip} · seed {config.seed}")


# ----------------------------------------------------------------------------------------------
# The description
# ----------------------------------------------------------------------------------------------


def decade_ticks(low: float, high: float) -> tuple[tuple[float, str], ...]:
    """Ticks of a log10 axis in [low, high]: the whole decades written 10^{n} (at most 6 of
    them, evenly spaced); on an axis of less than 2.5 decades also 2 and 5 times each decade, written as numbers."""
    first, last = math.ceil(low - 1e-9), math.floor(high + 1e-9)
    if high - low < 2.5:
        ticks = []
        for n in range(math.floor(low) - 1, math.ceil(high) + 1):
            for m in (1.0, 2.0, 5.0):
                value = n + math.log10(m)
                if low - 1e-9 <= value <= high + 1e-9:
                    ticks.append((value, style.number(m * 10.0 ** n, 3)))
        return tuple(ticks)
    every = max(1, math.ceil((last - first + 1) / 6))
    return tuple((float(n), style.decade_label(n)) for n in range(first, last + 1) if n % every == 0)


def _log_axis(label: str, *arrays, include=()) -> Axis:
    values = [np.asarray(a, dtype=np.float64) for a in arrays]
    finite = [v[np.isfinite(v)] for v in values]
    finite = [v for v in finite if v.size] + [np.asarray(include, dtype=np.float64)]
    data = np.concatenate(finite) if finite else np.zeros(0)
    if data.size == 0:
        low, high = -3.0, 0.0
    else:
        low, high = style.nice_range(float(data.min()), float(data.max()), min_span=style.LOG_MIN_SPAN)
    return Axis(label, low, high, ticks=decade_ticks(low, high))


def _success_text(curves: TrainingCurves) -> str:
    what = (f"test {curves.loss_name} < {curves.success_threshold:g}" if curves.success_metric == "loss"
            else f"test accuracy ≥ {curves.success_threshold:g}")
    parts = [f"{NAMES[n]} {'at step ' + str(curves.first_success[n]) if n in curves.first_success else 'not yet'}"
             for n in NETWORKS]
    return f"{what}: " + ", ".join(parts)


def _caption(curves: TrainingCurves | None) -> str:
    if curves is None:
        return "no training run yet (the Train tab, or main.py --train STEPS)"
    return (f"{curves.task_line} · {curves.settings_line}\n"
            f"step {curves.step_count} of {curves.steps} · {curves.sequences_seen} sequences seen · "
            f"{_success_text(curves)}")


def _empty_plot(has_accuracy: bool) -> Plot:
    """No run yet: the panels a run of such a task will have, empty (so the window lays them out
    once, before the training starts, not during it)."""
    def empty(key: str, title: str, y: Axis, last: bool) -> Panel:
        x = Axis("training step" if last else "", 0.0, 1.0, visible=last)
        return Panel(key=key, title=title, x=x, y=y, items=(), legend=None, clickable=None,
                     height={"loss": 1.6, "accuracy": 0.8}.get(key, 1.0))

    panels = [empty("loss", TITLE, Axis("loss", -3.0, 0.0, ticks=decade_ticks(-3.0, 0.0)), False)]
    if has_accuracy:
        panels.append(empty("accuracy", "Test accuracy", Axis("accuracy", 0.0, 1.05), False))
    panels.append(empty("marker", "Gradient reaching the first marker (step k)",
                        Axis("‖gradient at k‖", -3.0, 0.0, ticks=decade_ticks(-3.0, 0.0)), True))
    table = Table("training", {"step": np.zeros(0)})
    return Plot("training", TITLE, tuple(panels), _caption(None), (table,), notes=("no training run yet",))


def describe(results: Results | None, view: ViewState | None = None, training: TrainingCurves | None = None,
             snapshot_step: int | None = None, empty_with_accuracy: bool = False, **_options) -> Plot:
    """The training curves of `training` (the Results and the view are not used: the curves are
    about the run). `snapshot_step`: the step of the weights shown in the analysis views (a line).
    Without a run: empty panels (with an accuracy panel if `empty_with_accuracy`)."""
    curves = training
    if curves is None:
        return _empty_plot(empty_with_accuracy)
    x_axis_high = float(max(curves.steps, 1))
    selection = None if snapshot_step is None else float(snapshot_step)
    bins, tests = curves.bin_step, curves.test_step
    test_log10 = {n: _log10(curves.test_loss[n]) for n in NETWORKS}
    panels = []

    # 1. the loss, log10, with the baseline and the success line
    baseline = math.log10(curves.baseline)
    reference = [baseline]
    # the reference lines are named by a text on the line (the legend names the networks)
    items = [Rule("baseline", "h", baseline, "train.baseline", width=1.5, dash="dash"),
             Text("baseline.text", LABEL_AT * x_axis_high, baseline, f"baseline {style.number(curves.baseline, 3)}",
                  colour="train.baseline", anchor="top")]
    if curves.success_metric == "loss":
        threshold = math.log10(curves.success_threshold)
        reference.append(threshold)
        items += [Rule("success", "h", threshold, "train.success", width=1.5, dash="dot"),
                  Text("success.text", LABEL_AT * x_axis_high, threshold,
                       f"success: test {curves.loss_name} < {curves.success_threshold:g}", colour="train.success",
                       anchor="bottom")]
    for network in NETWORKS:
        items.append(Line(f"{network}.train", bins, curves.train_log10[network], network, width=1.0, alpha=0.45))
    for network in NETWORKS:
        items.append(Line(f"{network}.test", tests, test_log10[network], network, width=2.5,
                          label=NAMES[network], z=2))
    for network in NETWORKS:  # where each network first met the success criterion
        step = curves.first_success.get(network)
        at = np.flatnonzero(tests == step) if step is not None else ()
        if len(at):
            y = test_log10[network][at[:1]]
            items.append(Rule(f"{network}.first_success", "v", float(step), network, width=1.2, dash="dashdot",
                              label=f"{NAMES[network]} succeeds at {step}"))
            items.append(Markers(f"{network}.first_success_point", np.array([float(step)]), y, network,
                                 symbol="o", size=10.0))
    loss_axis = _log_axis(curves.loss_name, curves.train_log10["rnn"], curves.train_log10["lstm"],
                          test_log10["rnn"], test_log10["lstm"], include=reference)
    panels.append(Panel("loss", f"Loss: {curves.task_line}", Axis("", 0.0, x_axis_high, visible=False), loss_axis,
                        tuple(items), legend=Legend("top-right", columns=3, band="top"), selection=selection,
                        clickable=None, height=1.6))

    # 2. accuracy, where the task has one
    if curves.has_accuracy:
        chance = CHANCE_ACCURACY.get(curves.task, 0.0)
        items = [Rule("chance", "h", chance, "train.baseline", width=1.5, dash="dash"),
                 Text("chance.text", LABEL_AT * x_axis_high, chance, f"chance {style.number(chance, 3)}",
                      colour="train.baseline", anchor="bottom"),
                 Rule("success", "h", curves.success_threshold, "train.success", width=1.5, dash="dot"),
                 Text("success.text", LABEL_AT * x_axis_high, curves.success_threshold,
                      f"success: accuracy ≥ {curves.success_threshold:g}", colour="train.success", anchor="top")]
        items += [Line(f"{network}.accuracy", tests, np.asarray(curves.test_accuracy[network], dtype=np.float64),
                       network, width=2.5) for network in NETWORKS]
        panels.append(Panel("accuracy", "Test accuracy", Axis("", 0.0, x_axis_high, visible=False),
                            Axis("accuracy", 0.0, 1.05, ticks=((0.0, "0"), (0.5, "0.5"), (1.0, "1"))), tuple(items),
                            legend=None, selection=selection, clickable=None, height=0.8))

    # 3. the gradient that reaches the first marker
    marker = curves.marker_log10
    items = [Line("rnn.marker", bins, marker["rnn"], "rnn", width=2.0, label="RNN ‖∂ℓ/∂S_{k}‖"),
             Line("lstm.marker", bins, marker["lstm"], "lstm", width=2.0, label="LSTM ‖∂ℓ/∂h_{k}‖"),
             Line("lstm.marker_C", bins, marker["lstm_C"], "lstm", width=1.5, dash="dash",
                  label="LSTM ‖∂ℓ/∂C_{k}‖")]
    panels.append(Panel("marker", "Gradient reaching the first marker (step k)",
                        Axis("training step", 0.0, x_axis_high),
                        _log_axis("‖gradient at k‖", marker["rnn"], marker["lstm"], marker["lstm_C"]),
                        tuple(items), legend=Legend("bottom-left", columns=3, band="bottom"), selection=selection,
                        clickable=None))

    curves_table = Table("training.binned", {
        "step": bins, "bin_size": np.full(len(bins), float(curves.bin_size)),
        "rnn_train_log10": curves.train_log10["rnn"], "lstm_train_log10": curves.train_log10["lstm"],
        "rnn_marker_dS_log10": marker["rnn"], "lstm_marker_dh_log10": marker["lstm"],
        "lstm_marker_dC_log10": marker["lstm_C"]})
    test_columns = {"step": tests, "rnn_test_loss": curves.test_loss["rnn"], "lstm_test_loss": curves.test_loss["lstm"],
                    "rnn_test_log10": test_log10["rnn"], "lstm_test_log10": test_log10["lstm"]}
    if curves.has_accuracy:
        test_columns.update(rnn_test_accuracy=curves.test_accuracy["rnn"], lstm_test_accuracy=curves.test_accuracy["lstm"])
    tables = (Table("training.test", test_columns), curves_table)
    binned = f", bins of {curves.bin_size} steps" if curves.bin_size > 1 else ""
    notes = (f"thick: test loss · thin: training loss{binned}",)
    return Plot("training", TITLE, tuple(panels), _caption(curves), tables, notes=notes)


__all__ = ["CurveRecorder", "MAX_BINS", "TrainingCurves", "curves_of", "decade_ticks", "describe", "settings_line"]
