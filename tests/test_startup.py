"""Start-up: numba gets SciPy's BLAS/LAPACK without scipy.linalg's package import (see
simulator/_numba_env.load_scipy_blas_alone), and the kernels still compute the right values."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Kernels that go through LAPACK (eigvalsh, or the SVD at extreme scales), BLAS (@), and SciPy's
# dsyrk and dpotrf called directly (the certified path of matrix_norm).
CHECK_KERNEL = """
import sys
import numpy as np
import simulator.kernels
import simulator.spectral as K
rng = np.random.default_rng(3)
M = rng.standard_normal((12, 12))
for scale in (1.0, 1e-280):  # the second one takes the SVD path
    want = np.linalg.norm(M * scale, 2)
    for got in (K.spectral_norm(M * scale), K.matrix_norm(M * scale, K.norm_workspace(12))):
        assert abs(got - want) <= 1e-13 * want, (scale, got, want)
print("loaded alone:", K.SCIPY_BLAS_LOADED_ALONE)
print("scipy.linalg imported:", "scipy.linalg" in sys.modules)
"""


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_kernels_run_without_importing_the_scipy_linalg_package():
    out = _run(CHECK_KERNEL + """
import scipy.linalg  # still importable afterwards, and it finds the same BLAS module
from scipy.linalg import cython_blas, cython_lapack
assert cython_blas is sys.modules["scipy.linalg.cython_blas"]
assert abs(scipy.linalg.norm(np.eye(3) * 2.0, 2) - 2.0) < 1e-15
""")
    assert "loaded alone: True" in out
    assert "scipy.linalg imported: False" in out


def test_an_unexpected_scipy_layout_falls_back_to_the_usual_import():
    # No file with a known extension suffix: nothing is registered, numba imports scipy.linalg.
    out = _run("import importlib.machinery; importlib.machinery.EXTENSION_SUFFIXES[:] = ['.none']"
               + CHECK_KERNEL)
    assert "loaded alone: False" in out
    assert "scipy.linalg imported: True" in out


def test_nothing_is_done_once_scipy_linalg_is_imported():
    out = _run("import scipy.linalg\n" + CHECK_KERNEL)
    assert "loaded alone: False" in out


def test_the_kernel_cache_folder_changes_with_any_simulator_source(tmp_path):
    """numba checks a cached kernel only against the file that defines it: kernels.py's cached
    kernels kept running spectral.py's old code after spectral.py changed (measured: the (L4)
    factor norms took 3.8 ms from the old cache, 1.9 ms once compiled again). The cache folder is
    <NUMBA_CACHE_DIR or the user's>/<digest of simulator/*.py>, and a child process keeps it."""
    import shutil

    from simulator import _numba_env

    package = Path(_numba_env.__file__).parent
    copy = tmp_path / "copy"
    copy.mkdir()
    for source in package.glob("*.py"):
        shutil.copy(source, copy / source.name)
    digest = _numba_env.sources_digest()
    assert _numba_env.sources_digest(str(copy)) == digest and len(digest) == 16
    spectral = copy / "spectral.py"
    spectral.write_text(spectral.read_text() + "\n# changed\n")
    assert _numba_env.sources_digest(str(copy)) != digest

    base = tmp_path / "cache"
    show = "import os, simulator; print(os.environ['NUMBA_CACHE_DIR'])"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(base))
    folder = subprocess.run([sys.executable, "-c", show], env=env, capture_output=True, text=True,
                            check=True, cwd=ROOT).stdout.strip()
    assert folder == str(base / digest) and Path(folder).is_dir()
    again = subprocess.run([sys.executable, "-c", show], env=dict(env, NUMBA_CACHE_DIR=folder),
                           capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
    assert again == folder  # (not <folder>/<digest>)


def test_an_unwritable_cache_folder_falls_back_to_a_temporary_one(tmp_path):
    """A NUMBA_CACHE_DIR that cannot hold the digest's folder (here a file; a read-only mount
    alike) must not stop the app: the kernels go to <temp>/rnn-gradient-lab-numba/<digest>."""
    import tempfile

    from simulator import _numba_env

    not_a_folder = tmp_path / "not-a-folder"
    not_a_folder.write_text("")
    show = "import os, simulator; print(os.environ['NUMBA_CACHE_DIR'])"
    done = subprocess.run([sys.executable, "-c", show], env=dict(os.environ, NUMBA_CACHE_DIR=str(not_a_folder)),
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == os.path.join(tempfile.gettempdir(), "rnn-gradient-lab-numba",
                                               _numba_env.sources_digest())
