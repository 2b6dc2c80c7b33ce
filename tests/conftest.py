import os
import sys
from pathlib import Path

# Tests run from a clean clone without a screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")  # as ui/app.py does for the app
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _backends():
    import importlib.util

    # The numba backend is tested wherever its module exists (an import error then fails loudly).
    found = importlib.util.find_spec("simulator.kernels") is not None
    return ["reference", "numba"] if found else ["reference"]


BACKENDS = _backends()


def _hypothesis_profile():
    """Property tests draw the same examples on every run (derandomize): CI is repeatable and a
    failure is reproduced by running the test again. HYPOTHESIS_PROFILE=explore draws new ones."""
    try:
        from hypothesis import settings
    except ImportError:
        return
    settings.register_profile("repeatable", derandomize=True, print_blob=True)
    settings.register_profile("explore", derandomize=False, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


_hypothesis_profile()
