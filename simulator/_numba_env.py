"""Set numba up before it is imported: its on-disk cache folder (imported by simulator/__init__),
and SciPy's BLAS/LAPACK modules loaded on their own, on one thread (called by simulator/spectral,
the first module that imports numba)."""

import ctypes
import glob
import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import tempfile

import platformdirs

CACHE_DIR = os.path.join(platformdirs.user_cache_dir("rnn-gradient-lab", appauthor=False), "numba")

SCIPY_BLAS_MODULES = ("scipy.linalg.cython_blas", "scipy.linalg.cython_lapack")


def sources_digest(folder: str = os.path.dirname(os.path.abspath(__file__))) -> str:
    """16 hex digits of a digest of the source files in folder (this package's: names and contents)."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            digest.update(name.encode())
            with open(os.path.join(folder, name), "rb") as source:
                digest.update(source.read())
    return digest.hexdigest()[:16]


def configure() -> str:
    """The cache folder: <base>/<sources_digest()>, base an explicit NUMBA_CACHE_DIR (tests, CI, a
    user) or CACHE_DIR. Why the digest: numba checks a cached kernel only against the file that
    defines it, not against the files whose functions were compiled into it (spectral.py's into
    kernels.py's), so after an upgrade that changed only spectral.py every kernel would go on
    running the old code from the cache. Any change to the simulator's sources gives a new folder
    (one compile, under a minute, on the first start; the window opens at once meanwhile)."""
    digest = sources_digest()
    base = os.environ.get("NUMBA_CACHE_DIR") or CACHE_DIR
    folder = base if os.path.basename(os.path.normpath(base)) == digest else os.path.join(base, digest)
    for candidate in (folder, os.path.join(tempfile.gettempdir(), "rnn-gradient-lab-numba", digest)):
        try:
            os.makedirs(candidate, exist_ok=True)
        except OSError:  # a base that cannot be written (read-only, not a folder): the next one
            continue
        os.environ["NUMBA_CACHE_DIR"] = candidate  # (a child process finds it so and keeps it)
        return candidate
    return base  # (numba then finds a place of its own, or compiles without a cache)


def load_scipy_blas_alone() -> bool:
    """Load SciPy's cython_blas and cython_lapack without running scipy.linalg's __init__.

    Why: the first time numba compiles or loads a kernel it imports these two modules, the only
    part of SciPy it uses (the BLAS/LAPACK function pointers behind np.dot and np.linalg). A plain
    import first runs scipy/linalg/__init__, which imports all of scipy.linalg and SciPy's
    array-API layer, and that layer imports numpy.f2py, numpy.testing and more: measured 0.2-0.35 s
    of a ~1.2 s warm start-up, for nothing the kernels call. Registered in sys.modules under their
    own names, the two extension modules are what numba's import finds, and scipy.linalg is never
    imported. A later `import scipy.linalg` still works (it finds them there).

    Returns whether both are registered. On any surprise (scipy.linalg already imported, another
    file layout, a failed load) nothing more is done and numba imports them the usual way.
    """
    if "scipy.linalg" in sys.modules:
        return False
    try:
        import scipy  # its __init__ sets up the shared-library search path on some platforms
    except ImportError:
        return False
    linalg_dir = os.path.join(os.path.dirname(scipy.__file__), "linalg")
    for name in SCIPY_BLAS_MODULES:
        if name in sys.modules:
            continue
        paths = [os.path.join(linalg_dir, name.rsplit(".", 1)[1] + suffix)
                 for suffix in importlib.machinery.EXTENSION_SUFFIXES]
        path = next((p for p in paths if os.path.isfile(p)), None)
        if path is None:
            return False
        try:  # what importlib does for an import, minus the parent package
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        except Exception:  # noqa: BLE001 (any failure: leave it to the usual import)
            sys.modules.pop(name, None)
            return False
    return True


def single_threaded_scipy_blas() -> bool:
    """Ask the OpenBLAS inside SciPy (the BLAS numba's np.dot calls) to use one thread.

    The products here are at most 512 x 1024: threads cannot win at that size, and on a 2-core
    machine that also runs the GUI they lose badly (measured: the L7 chain at H = 64, T = 200 took
    0.5 s with two BLAS threads on a busy machine, 0.06 s with one). NumPy's own BLAS is untouched.
    Returns whether a SciPy OpenBLAS was found (other builds: nothing to do).
    """
    spec = importlib.util.find_spec("scipy")  # located, not imported (import time matters here)
    if spec is None or spec.origin is None:
        return False
    libs_dir = os.path.join(os.path.dirname(os.path.dirname(spec.origin)), "scipy.libs")
    for path in sorted(glob.glob(os.path.join(libs_dir, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                     "openblas_set_num_threads"):
            setter = getattr(lib, name, None)
            if setter is not None:
                setter.argtypes = [ctypes.c_int]
                setter(1)
                return True
    return False
