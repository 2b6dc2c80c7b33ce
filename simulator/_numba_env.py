"""Point numba's on-disk cache at a per-user folder. Imported before numba, by simulator/__init__."""

import os

import platformdirs

CACHE_DIR = os.path.join(platformdirs.user_cache_dir("rnn-gradient-lab", appauthor=False), "numba")


def configure() -> str:
    # An explicit NUMBA_CACHE_DIR (tests, CI, a user) wins.
    os.environ.setdefault("NUMBA_CACHE_DIR", CACHE_DIR)
    os.makedirs(os.environ["NUMBA_CACHE_DIR"], exist_ok=True)
    return os.environ["NUMBA_CACHE_DIR"]
