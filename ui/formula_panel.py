"""The notes' scalar formulas for dS_t/dS_{t-1} (R1) and dC_t/dC_{t-1} (L4), with the
simulator's numbers substituted at the selected step.

For H = 1 the numbers are the exact scalar values. For H > 1 the factors are H x H matrices:
the panel shows their diagonal means (and says so), plus the spectral norms.
Every number comes from `Results`; nothing is recomputed here.
"""

from __future__ import annotations

import html

from PySide6.QtWidgets import QFrame, QTextBrowser, QVBoxLayout, QWidget

from simulator import TERM_NAMES, Results


MINUS = "−"


def fmt(value: float) -> str:
    """Three decimals for everyday sizes, scientific notation for tiny or huge ones."""
    value = float(value)
    if value == 0.0:
        return "0.000"
    if 1e-3 <= abs(value) < 1e5:
        text = f"{value:.3f}"
    else:
        text = f"{value:.3e}"
    return text.replace("-", MINUS)


def signed_sum(values) -> str:
    """'0.950 + 0.020 − 0.010 + 0.030' (signs as operators)."""
    parts = []
    for i, value in enumerate(values):
        magnitude = fmt(abs(value))
        if i == 0:
            parts.append(fmt(value))
        else:
            parts.append(f"{MINUS if value < 0 else '+'} {magnitude}")
    return " ".join(parts)


def parse_number(text: str) -> float:
    return float(text.replace(MINUS, "-"))


class FormulaPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.results: Results | None = None
        self.step = 0
        self.browser = QTextBrowser()
        self.browser.setFrameShape(QFrame.Shape.NoFrame)
        self.browser.setOpenLinks(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.browser)
        self.setMinimumWidth(260)
        # What the panel shows, as numbers (the same ones as in the text), for tests and export.
        self.shown: dict[str, float] = {}

    def text(self) -> str:
        return self.browser.toPlainText()

    def set_results(self, results: Results) -> None:
        self.results = results
        self.set_selected_step(min(self.step, results.steps))

    def set_selected_step(self, t: int) -> None:
        if t == self.step and self.results is not None and getattr(self, "_shown_for", None) is self.results:
            return  # already shown (the window repeats it after set_results)
        self._shown_for = self.results
        self.step = t
        if self.results is None:
            self.browser.setHtml("<p>Waiting for the first results…</p>")
            return
        self.browser.setHtml(self._html(self.results, t))

    def _html(self, r: Results, t: int) -> str:
        H = r.setup.hidden_size
        head = f"<b>Selected step t = {t}</b> of T = {r.steps}"
        if H > 1:
            head += f"<br><i>H = {H}: numbers are diagonal means of the {H}×{H} factors</i>"
        if t < 1:
            self.shown = {}
            return (f"<p>{head}</p><p>t = 0 holds the initial states S_0, h_0, C_0; the per-step "
                    "factors start at t = 1. Step forward or click a step in any view.</p>")
        terms = r.lstm_term_values(t)
        values = [terms[name] for name in TERM_NAMES]
        rnn_value = float(r.rnn_factor_diag_mean[t])
        self.shown = {"rnn": rnn_value, **{name: float(v) for name, v in zip(TERM_NAMES, values)}}
        rnn_norm, lstm_norm = float(r.rnn_factor_norm[t]), float(r.lstm_factor_norm[t])
        rows = [f"<p style='margin-bottom:2px'>{head}</p>"]

        rows.append("<p style='margin:4px 0 0 0'><b style='color:#d9480f'>Vanilla RNN</b> (R1)</p>")
        if H == 1:
            S_t, U = float(r.rnn_S[t, 0]), float(r.rnn_U[0, 0])
            rows.append(
                "<p style='margin:0 0 0 10px'>∂S<sub>t</sub>/∂S<sub>t−1</sub> = (1 − S<sub>t</sub>²)·U"
                f" = (1 − {fmt(S_t)}²) × {fmt(U)} = <b>{fmt(rnn_value)}</b></p>"
            )
        else:
            rows.append(
                "<p style='margin:0 0 0 10px'>∂S<sub>t</sub>/∂S<sub>t−1</sub> = diag(1 − S<sub>t</sub>²)·U"
                f" &nbsp;→&nbsp; diagonal mean = <b>{fmt(rnn_value)}</b>, "
                f"‖·‖₂ = {fmt(rnn_norm)} ≤ σ_max(U) = {fmt(r.sigma_max_U)}</p>"
            )

        rows.append("<p style='margin:6px 0 0 0'><b style='color:#1864ab'>LSTM</b> (L4)</p>")
        rows.append(
            "<p style='margin:0 0 0 10px'>∂C<sub>t</sub>/∂C<sub>t−1</sub> = f<sub>t</sub> + "
            "o<sub>t−1</sub> tanh′(C<sub>t−1</sub>)·[ C<sub>t−1</sub> σ′(f) W<sub>hf</sub> + "
            "g<sub>t</sub> σ′(i) W<sub>hi</sub> + i<sub>t</sub> tanh′(g) W<sub>hg</sub> ]</p>"
        )
        if H == 1:
            i, f, g, _o = (float(v) for v in r.lstm_gates[t, :, 0])
            o_prev = float(r.lstm_gates[t - 1, 3, 0]) if t > 1 else 0.0
            C_prev = float(r.lstm_C[t - 1, 0])
            rows.append(
                "<p style='margin:0 0 0 10px; color:#495057'>with f<sub>t</sub> = "
                f"{fmt(f)}, i<sub>t</sub> = {fmt(i)}, g<sub>t</sub> = {fmt(g)}, "
                f"o<sub>t−1</sub> = {fmt(o_prev)}{' (h_0 is given: no path)' if t == 1 else ''}, "
                f"C<sub>t−1</sub> = {fmt(C_prev)}</p>"
            )
        rows.append(
            f"<p style='margin:0 0 0 10px'>= {html.escape(signed_sum(values[:4]))} = <b>{fmt(values[4])}</b></p>"
            "<p style='margin:0 0 0 10px; color:#495057'>&nbsp;&nbsp;forget path + via W_hf + via W_hi + "
            "via W_hg = sum" + ("" if H == 1 else f" &nbsp;(‖sum‖₂ = {fmt(lstm_norm)})") + "</p>"
        )
        verdict = _closeness(rnn_value, values[4])
        rows.append(f"<p style='margin:6px 0 0 0; color:#495057'>{verdict}</p>")
        return "".join(rows)


def _closeness(rnn: float, lstm: float) -> str:
    def word(v: float) -> str:
        if abs(v) < 0.9:
            return "shrinks"
        if abs(v) > 1.1:
            return "grows"
        return "keeps (≈ 1)"

    return (f"At this step the RNN factor {word(rnn)} the gradient; "
            f"the LSTM factor {word(lstm)} it.")
