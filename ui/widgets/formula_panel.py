"""The formula panel: the open lesson (the preset's description, read whole, collapsible) and the
notes' formulas (R1) and (L4) with the numbers at the selected step (plots/text.py writes them,
with the verdicts judged from the norms).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QTextBrowser, QToolButton, QVBoxLayout, QWidget

from plots import style
from plots import text as plot_text
from simulator import Results


class FormulaPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.results: Results | None = None
        self.step = 0
        self.lesson_button = QToolButton()
        self.lesson_button.setCheckable(True)
        self.lesson_button.setChecked(True)
        self.lesson_button.setAutoRaise(True)
        self.lesson_button.setStyleSheet("QToolButton { font-weight: 600; text-align: left; }")
        self.lesson_button.toggled.connect(self._lesson_toggled)
        self.lesson_text = QLabel()
        self.lesson_text.setTextFormat(Qt.TextFormat.RichText)
        self.lesson_text.setWordWrap(True)
        self.lesson_text.setFrameShape(QFrame.Shape.StyledPanel)
        self.lesson_text.setStyleSheet("QLabel { padding: 4px; }")
        self.browser = QTextBrowser()
        self.browser.setFrameShape(QFrame.Shape.NoFrame)
        self.browser.setOpenLinks(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        layout.addWidget(self.lesson_button)
        layout.addWidget(self.lesson_text)
        layout.addWidget(self.browser, 1)
        self.setMinimumWidth(260)
        self.set_lesson("", "")
        # What the panel shows, as numbers (the same ones as in the text), for tests.
        self.shown: dict[str, float] = {}
        self._html = ""  # the formulas' HTML shown

    # --- the lesson -----------------------------------------------------------------------------
    def set_lesson(self, name: str, description: str) -> None:
        """The open preset's name and description (hidden when there is no description)."""
        self.lesson_name, self.lesson_description = name, description
        self.lesson_button.setText(("▾ " if self.lesson_button.isChecked() else "▸ ") + f"Lesson: {name}")
        self.lesson_text.setText(style.html(description))  # (markup such as 10^{-9.9} is allowed)
        self.lesson_button.setVisible(bool(description))
        self.lesson_text.setVisible(bool(description) and self.lesson_button.isChecked())

    def _lesson_toggled(self, shown: bool) -> None:
        self.set_lesson(self.lesson_name, self.lesson_description)

    # --- the formulas ---------------------------------------------------------------------------
    def text(self) -> str:
        return self.browser.toPlainText()

    def show_step(self, results: Results, t: int) -> None:
        if results is self.results and t == self.step and self.shown is not None and self.browser.toPlainText():
            return  # already shown
        self.results, self.step = results, t
        self.shown = plot_text.formula_values(results, t)
        html = plot_text.formula_html(results, t)
        # new results with the same numbers here (e.g. the final ones after the last partial ones,
        # or a step's own results again) keep the laid-out text
        if html != self._html:
            self._html = html
            self.browser.setHtml(html)

    def show_waiting(self) -> None:
        self._html = "<p>Waiting for the first results…</p>"
        self.browser.setHtml(self._html)


__all__ = ["FormulaPanel"]
