"""Words about a simulation, written once: the captions of plots and slides, the status bar's
reading, the formula panel's formulas with the numbers substituted.

Every judgement ("vanishing", "shrinks the gradient") comes from plots/style's verdict
functions, which judge norms (never the diagonal mean of a random matrix).
"""

from __future__ import annotations

import html as _html

from simulator import TERM_NAMES, Results

from . import style
from .cache import derived
from .view import ViewState

READING_LAG = 50  # the status bar's one-line reading looks this many steps back (or T)
TASK_NAMES_SHOWN = {"adding": "adding problem", "copy": "copy memory", "temporal_order": "temporal order"}


def knob_line(results: Results) -> str:
    """'H = 8 · T = 100 · σ_max(U) = 0.9 · W_hf = 0.5 · W_hi = 0.5 · W_hg = 0.5 · W_ho = 0.5 · b_f = 3'."""
    s = results.setup
    k = s.knobs
    u_name = "U" if s.hidden_size == 1 else "σ_{max}(U)"
    if s.weights and "U" in s.weights:  # explicit matrices (e.g. a trained network): the knob is a gain
        return (f"H = {s.hidden_size} · T = {s.steps} · explicit weights · {u_name} = {results.sigma_max_U:.3g}"
                + (f" · {TASK_NAMES_SHOWN[s.input.task]}, test sequence {s.input.sequence}"
                   if s.input.kind == "task" else ""))
    parts = [f"H = {s.hidden_size}", f"T = {s.steps}", f"{u_name} = {k.U:g}"]
    parts += [f"W_{{h{g}}} = {getattr(k, 'W_h' + g):g}" for g in ("f", "i", "g", "o")]
    parts.append(f"b_{{f}} = {k.b_f:g}" + (" + offsets" if s.bias_offsets.b_f else ""))
    return " · ".join(parts)


def view_line(results: Results, view: ViewState) -> str:
    """'selected step t = 12 · 40 of 100 steps revealed'."""
    T = results.steps
    revealed = "all" if view.revealed_steps >= T else str(view.revealed_steps)
    return f"selected step t = {view.selected_step} · {revealed} of {T} steps revealed"


def caption(results: Results, view: ViewState) -> str:
    """What a slide prints under a plot, one short line each: the setup, the view, the verdict at lag 50."""
    # (every plot's description has it: the results' two lines are written once per results)
    setup_line, verdict_line = derived("caption.results_lines", (results,),
                                       lambda: (knob_line(results), reading(results)))
    return f"{setup_line}\n{view_line(results, view)}\n{verdict_line}"


def reading(results: Results, lag: int = READING_LAG) -> str:
    """'RNN gradient at lag 50: 10^{-7.2} (vanishing) · LSTM: 10^{-0.3} (kept)'."""
    T = results.steps
    lag = min(lag, T)
    k = T - lag
    parts = []
    for name, values in (("RNN", results.rnn_longrange_log10), ("LSTM", results.lstm_longrange_log10)):
        value = float(values[k])
        if value != value:  # NaN: not computed yet
            parts.append(f"{name}: computing…")
            continue
        verdict = style.verdict_log10(value)
        parts.append(f"{name}: {'exactly 0 (vanished)' if verdict == 'exactly 0' else f'{style.decades(value)} ({verdict})'}")
    return f"gradient at lag {lag}: " + " · ".join(parts)


# --- the formula panel -----------------------------------------------------------------------------
def _span(text: str, role: str, theme: str, bold: bool = False) -> str:
    weight = "font-weight:600;" if bold else ""
    return f"<span style='color:{style.colour(role, theme)};{weight}'>{text}</span>"


def formula_values(results: Results, t: int) -> dict[str, float]:
    """The numbers the formula panel writes at step t (exact for H = 1, diagonal means otherwise),
    keyed 'rnn' and TERM_NAMES; empty at t = 0."""
    if t < 1:
        return {}
    terms = results.lstm_term_values(t)
    return {"rnn": float(results.rnn_factor_diag_mean[t]), **{n: float(terms[n]) for n in TERM_NAMES}}


def signed_sum(values) -> str:
    """'0.950 + 0.020 − 0.010 + 0.030' (signs as operators)."""
    parts = []
    for i, value in enumerate(values):
        if i == 0:
            parts.append(style.fixed(value))
        else:
            parts.append(f"{style.MINUS if value < 0 else '+'} {style.fixed(abs(value))}")
    return " ".join(parts)


def formula_html(results: Results, t: int, theme: str = style.DEFAULT_THEME) -> str:
    """The notes' scalar formulas (R1) and (L4) with the simulator's numbers at step t, and the
    verdict of each factor judged from its norm."""
    fx = style.fixed
    H = results.setup.hidden_size
    head = f"<b>Selected step t = {t}</b> of T = {results.steps}"
    if H > 1:
        head += f"<br><i>H = {H}: the signed numbers are diagonal means of the {H}×{H} factors; ‖·‖₂ are their norms</i>"
    if t < 1:
        return (f"<p>{head}</p><p>t = 0 holds the initial states S_0, h_0, C_0; the per-step "
                "factors start at t = 1. Step forward or click a step in any view.</p>")
    v = formula_values(results, t)
    values = [v[name] for name in TERM_NAMES]
    rnn_norm, lstm_norm = float(results.rnn_factor_norm[t]), float(results.lstm_factor_norm[t])
    rows = [f"<p style='margin-bottom:2px'>{head}</p>",
            f"<p style='margin:4px 0 0 0'>{_span('Vanilla RNN', 'rnn', theme, True)} (R1)</p>"]
    if H == 1:
        S_t, U = float(results.rnn_S[t, 0]), float(results.rnn_U[0, 0])
        rows.append("<p style='margin:0 0 0 10px'>∂S<sub>t</sub>/∂S<sub>t−1</sub> = (1 − S<sub>t</sub>²)·U"
                    f" = (1 − {fx(S_t)}²) × {fx(U)} = <b>{fx(v['rnn'])}</b></p>")
    else:
        rows.append("<p style='margin:0 0 0 10px'>∂S<sub>t</sub>/∂S<sub>t−1</sub> = diag(1 − S<sub>t</sub>²)·U"
                    f" &nbsp;→&nbsp; ‖·‖₂ = <b>{fx(rnn_norm)}</b> ≤ σ_max(U) = {fx(results.sigma_max_U)}"
                    f" &nbsp;(diagonal mean {fx(v['rnn'])})</p>")
    rows.append(f"<p style='margin:6px 0 0 0'>{_span('LSTM', 'lstm', theme, True)} (L4)</p>")
    rows.append("<p style='margin:0 0 0 10px'>∂C<sub>t</sub>/∂C<sub>t−1</sub> = f<sub>t</sub> + "
                "o<sub>t−1</sub> tanh′(C<sub>t−1</sub>)·[ C<sub>t−1</sub> σ′(f) W<sub>hf</sub> + "
                "g<sub>t</sub> σ′(i) W<sub>hi</sub> + i<sub>t</sub> tanh′(g) W<sub>hg</sub> ]</p>")
    if H == 1:
        i, f, g, _o = (float(x) for x in results.lstm_gates[t, :, 0])
        o_prev = float(results.lstm_gates[t - 1, 3, 0]) if t > 1 else 0.0
        C_prev = float(results.lstm_C[t - 1, 0])
        muted = style.colour("theory", theme)
        rows.append(f"<p style='margin:0 0 0 10px; color:{muted}'>with f<sub>t</sub> = "
                    f"{fx(f)}, i<sub>t</sub> = {fx(i)}, g<sub>t</sub> = {fx(g)}, "
                    f"o<sub>t−1</sub> = {fx(o_prev)}{' (h_0 is given: no path)' if t == 1 else ''}, "
                    f"C<sub>t−1</sub> = {fx(C_prev)}</p>")
    norm_note = "" if H == 1 else f" &nbsp;(‖sum‖₂ = <b>{fx(lstm_norm)}</b>)"
    rows.append(f"<p style='margin:0 0 0 10px'>= {_html.escape(signed_sum(values[:4]))} = <b>{fx(values[4])}</b>{norm_note}</p>"
                f"<p style='margin:0 0 0 10px; color:{style.colour('theory', theme)}'>&nbsp;&nbsp;forget path + via W_hf + "
                "via W_hi + via W_hg = sum</p>")
    rows.append(f"<p style='margin:6px 0 0 0; color:{style.colour('theory', theme)}'>{factor_sentence(results, t)}</p>")
    return "".join(rows)


def factor_sentence(results: Results, t: int) -> str:
    """'At this step the RNN factor shrinks the gradient (‖·‖₂ = 0.81); the LSTM factor keeps (≈ 1)
    it (‖·‖₂ = 1.00).' Judged from the norms (for H = 1 the norm is |value|)."""
    rnn = float(results.rnn_factor_norm[t])
    lstm = float(results.lstm_factor_norm[t])
    return (f"At this step the RNN factor {style.verdict_factor(rnn)} the gradient (‖·‖₂ = {style.fixed(rnn)}); "
            f"the LSTM factor {style.verdict_factor(lstm)} it (‖·‖₂ = {style.fixed(lstm)}).")


__all__ = ["READING_LAG", "caption", "factor_sentence", "formula_html", "formula_values", "knob_line",
           "reading", "signed_sum", "view_line"]
