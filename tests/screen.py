"""What the screen shows of a widget (tests of partial repaints)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication, QWidget


def on_screen(widget: QWidget) -> np.ndarray:
    """What the screen shows of `widget` now, as an (h, w, 4) array: the window's backing store,
    partial repaints and all (widget.grab() would paint the whole widget afresh instead)."""
    corner = widget.mapTo(widget.window(), QPoint(0, 0))
    image = QApplication.primaryScreen().grabWindow(widget.window().winId(), corner.x(), corner.y(),
                                                    widget.width(), widget.height()).toImage()
    image = image.convertToFormat(image.Format.Format_RGB32)
    rows = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes()).reshape(image.height(), -1)
    return rows[:, :4 * image.width()].reshape(image.height(), image.width(), 4).copy()
