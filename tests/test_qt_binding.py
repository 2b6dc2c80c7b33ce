"""The Qt binding we install must not leak references to None/True/False.

PySide6 6.12.0 on Python 3.11 returns None from void methods and True/False from
Signal.emit without a reference; after a few thousand calls Python aborts ("deallocating
None"). pyproject.toml keeps Python < 3.12 on PySide6 < 6.12; this test catches a regression.
"""

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(bool)


def test_void_methods_and_emit_keep_singleton_refcounts():
    target = QObject()
    emitter = _Emitter()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(200):
        target.setObjectName("probe")
        emitter.fired.emit(True)
    # Python >= 3.12 reports a constant count for these immortal objects; 3.11 counts for real.
    assert sys.getrefcount(None) - none_before > -50
    assert sys.getrefcount(True) - true_before > -50
