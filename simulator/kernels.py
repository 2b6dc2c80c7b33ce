"""Numba twins of the reference kernels (`reference.py`): same names, signatures and arrays.

`results.compute(setup, backend="numba")` swaps this module in for `reference`. The loops are
the reference's loops, written out so that nothing is allocated per step (matrix-vector products
go through the same BLAS calls as numpy's, in the same order, so they round alike), with
structural savings that change no value beyond round-off:

- (L7) The C-rows of J_h ... J_{k+1} are carried as two H x H blocks [X | Y] (as in the
  reference). With the blocks of J_t (L6): X' = X diag(alpha) W_ho + Z A_t and Y' = Z diag(f_t),
  where Z = X diag(beta) + Y, alpha = tanh(C_t) sigma'(o), beta = o_t tanh'(C_t). That is two
  H x H products per step instead of an (H x 2H)(2H x 2H) one.
- Spectral norms (the costly part, ~4 per step: the (L4) sum and the three long-range chains;
  each (L4) term's own norm is computed on demand, one step at a time, by
  `Results.lstm_term_norms`): exact shortcuts where they exist (diag(d) U with U a multiple of
  an orthogonal matrix: s max|d|; H = 1: |m|); for the long-range products a certified power
  step when the top singular value dominates, else a certified warm-started Lanczos (proved to
  1e-13 by a Cholesky factorisation); otherwise LAPACK (see below).
- sigmoid is computed from exp(-|a|) (accurate everywhere); see `sigmoid`.
- In the log-space products the local derivatives come from their logs, each term keeps its own
  log10 scale until it is added (`_add_scaled`), and the scales are compensated sums: see the
  reference's module docstring.
"""

from __future__ import annotations

import ctypes
import glob
import importlib.util
import os

import numpy as np

from ._numba_env import load_scipy_blas_alone

SCIPY_BLAS_LOADED_ALONE = load_scipy_blas_alone()  # before numba's first compile: start-up time

from numba import njit  # noqa: E402

from .reference import LN_10, LOG_4, LOG10_OF_ZERO, NEGLIGIBLE_DECADES, TERM_NAMES  # noqa: F401  (the reference's constants)

I, F, G, O = 0, 1, 2, 3  # gate rows

# error_model="numpy": a float division by zero gives inf/nan instead of raising (no checks in the
# loops); every division here has a nonzero divisor, or is guarded.
_jit = njit(cache=True, nogil=True, error_model="numpy")


def _single_threaded_blas() -> bool:
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


BLAS_SINGLE_THREADED = _single_threaded_blas()


# ----------------------------------------------------------------------------------------------
# Scalar helpers (the reference's formulas: derivatives from the pre-activation)
# ----------------------------------------------------------------------------------------------


@_jit
def sigmoid(a):
    # From exp(-|a|): accurate to a few ulps for every a. (0.5 (1 + tanh(a / 2)) cancels for a << 0:
    # at a = -30 it is off by 6e-4 relative, and numpy's and libm's tanh differ by an ulp there.)
    e = np.exp(-abs(a))
    return (1.0 if a >= 0.0 else e) / (1.0 + e)


@_jit
def sigmoid_prime(a):
    e = np.exp(-abs(a))
    return e / (1.0 + e) ** 2


@_jit
def tanh_prime(a):
    e = np.exp(-2.0 * abs(a))
    return 4.0 * e / (1.0 + e) ** 2


# Logs of the local derivatives from the pre-activation (see reference.log_tanh_prime): what
# enters the products carried in log space, exact where the derivatives underflow.


@_jit
def log_sigmoid(a):
    return min(a, 0.0) - np.log1p(np.exp(-abs(a)))


@_jit
def log_sigmoid_prime(a):
    return -abs(a) - 2.0 * np.log1p(np.exp(-abs(a)))


@_jit
def log_tanh_prime(a):
    return LOG_4 - 2.0 * abs(a) - 2.0 * np.log1p(np.exp(-2.0 * abs(a)))


@_jit
def log_abs(x):
    return np.log(abs(x)) if x != 0.0 else -np.inf


@_jit
def _pull_largest(log_factor, out):
    """out = exp(log_factor - m), m = max(log_factor); returns m (0.0, out zero, if all -inf).
    See reference.pull_largest."""
    largest = -np.inf
    for i in range(log_factor.shape[0]):
        largest = max(largest, log_factor[i])
    if largest == -np.inf:
        for i in range(log_factor.shape[0]):
            out[i] = 0.0
        return 0.0
    for i in range(log_factor.shape[0]):
        out[i] = np.exp(log_factor[i] - largest)
    return largest


@_jit
def _scale_add(total, compensation, value):
    """Neumaier's compensated sum (reference.scale_add): returns the new (total, compensation)."""
    new_total = total + value
    if abs(total) >= abs(value):
        compensation += (total - new_total) + value
    else:
        compensation += (value - new_total) + total
    return new_total, compensation


@_jit
def _columns_times(M, factor, out):
    """out = M diag(factor) (out may be M)."""
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            out[i, j] = M[i, j] * factor[j]


@_jit
def _any_nonzero(flat):
    for i in range(flat.shape[0]):
        if flat[i] != 0.0:
            return True
    return False


@_jit
def _add_scaled(a, a_total, a_compensation, b, b_total, b_compensation, out):
    """out = a 10**a_scale + b 10**b_scale for flat a, b renormalised (out may be a or b); returns
    out's scale (total, compensation), out renormalised. See reference.add_scaled."""
    if not _any_nonzero(b):
        for i in range(a.shape[0]):
            out[i] = a[i]
        return a_total, a_compensation
    if not _any_nonzero(a):
        for i in range(b.shape[0]):
            out[i] = b[i]
        return b_total, b_compensation
    if a_total + a_compensation < b_total + b_compensation:
        a, a_total, a_compensation, b, b_total, b_compensation = (
            b, b_total, b_compensation, a, a_total, a_compensation)
    gap = (b_total - a_total) + (b_compensation - a_compensation)
    if gap > NEGLIGIBLE_DECADES:
        weight = 10.0 ** gap
        for i in range(a.shape[0]):
            out[i] = a[i] + b[i] * weight
    else:
        for i in range(a.shape[0]):
            out[i] = a[i]
    return _scale_add(a_total, a_compensation, renormalise_vector(out))


@_jit
def _scale_down(flat, size):
    """flat /= size: a division, as the reference does, so that both round alike."""
    for i in range(flat.shape[0]):
        flat[i] /= size


@_jit
def renormalise(array):
    """Divide array (2-d) in place by its largest |entry|; return log10 of that factor (0 if all zero)."""
    size = 0.0
    for i in range(array.shape[0]):
        for j in range(array.shape[1]):
            v = abs(array[i, j])
            if v > size:
                size = v
    if size > 0.0:
        _scale_down(array.ravel(), size)
        return np.log10(size)
    return 0.0


@_jit
def renormalise_vector(vector):
    size = 0.0
    for i in range(vector.shape[0]):
        v = abs(vector[i])
        if v > size:
            size = v
    if size > 0.0:
        _scale_down(vector, size)
        return np.log10(size)
    return 0.0


# ----------------------------------------------------------------------------------------------
# Spectral norm
#
# General matrices: LAPACK's symmetric eigen-solver on the scaled Gram matrix (~200 us at H = 64,
# the SVD ~330 us). A home-made tridiagonal eigen-solve tried before returned the wrong
# eigenvalue for nearly degenerate matrices (found by the random-setup test) and was removed;
# LAPACK's is backward stable, and the hard cases stay in the tests.
# Exact shortcuts are used where they exist (diag(f): max|f|; gain x orthogonal: s max|d|;
# H = 1: |m|), and for long products whose top singular value dominates there is a cheaper
# certified path, `_dominant_norm` (a few matrix-vector products).
# ----------------------------------------------------------------------------------------------

_FAST = {"contract", "reassoc"}  # lets LLVM vectorise the reductions; no change beyond round-off


@_jit
def _spectral_norm(M):
    """Largest singular value of M (H x H): the reference's np.linalg.norm(M, 2), computed as
    sqrt(lambda_max(A^T A)) m with A = M / m, m = max|M| (LAPACK's symmetric eigen-solver, which
    is backward stable: lambda_max to ~H eps relative, whatever the spectrum), 1.4-1.7x faster
    than the SVD at H = 32-64. Extreme scales, where A^T A could lose bits, take the SVD."""
    if M.shape[0] == 1 and M.shape[1] == 1:
        return abs(M[0, 0])
    largest = np.abs(M).max()
    if largest == 0.0:
        return 0.0
    if not 1e-250 < largest < 1e250:
        return np.linalg.norm(np.ascontiguousarray(M), 2)
    A = M / largest
    top = np.linalg.eigvalsh(A.T @ A)[-1]
    return np.sqrt(max(top, 0.0)) * largest


@_jit
def spectral_norm(M):
    """np.linalg.norm(M, 2) for a square matrix (for tests and one-offs)."""
    return _spectral_norm(M)


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FAST)
def _dominant_norm(P, u, w, Pw):
    """||P||_2 when its top singular value dominates, certified; -1.0 when not certified.

    Power steps on B = P P^T from the warm unit vector u (updated in place). With theta = u^T B u
    (<= lambda_1) and residual r = B u - theta u: every other eigenvalue of B is at most
    mu = ||P||_F^2 - theta, so if theta > mu, Kato-Temple gives lambda_1 <= theta + |r|^2 / (theta - mu).
    Accepted when that interval is below 1e-14 relative.
    """
    n = P.shape[0]
    frobenius2 = 0.0
    for i in range(n):
        for j in range(n):
            frobenius2 += P[i, j] * P[i, j]
    if frobenius2 == 0.0:
        return -1.0
    for iteration in range(3):
        for j in range(n):
            w[j] = 0.0
        for i in range(n):  # w = P^T u
            ui = u[i]
            row = P[i]
            for j in range(n):
                w[j] += ui * row[j]
        theta = 0.0
        for j in range(n):
            theta += w[j] * w[j]
        mu = frobenius2 - theta
        if theta <= 0.25 * frobenius2 and iteration > 0:
            return -1.0  # far from dominant even after a power step: leave it to the general path
        length2 = 0.0
        residual2 = 0.0
        for i in range(n):  # P w and the residual P w - theta u
            row = P[i]
            s = 0.0
            for j in range(n):
                s += row[j] * w[j]
            Pw[i] = s
            length2 += s * s
            r = s - theta * u[i]
            residual2 += r * r
        if theta > mu and residual2 <= 1e-14 * theta * (theta - mu):
            return np.sqrt(theta)
        if length2 == 0.0:
            return -1.0
        inv = 1.0 / np.sqrt(length2)
        for i in range(n):
            u[i] = Pw[i] * inv
    return -1.0


# Certified Lanczos path for the long-range chains. A running product's top left singular vector
# barely moves from one k to the next (measured: median overlap 0.99 at H = 64), so Lanczos on
# G = P P^T started from the previous one finds the top eigenvalue in ~10-20 steps. The answer is
# then *proved* to 1e-13 relative, not trusted: theta = ||P^T y||^2 / ||y||^2 for the Ritz vector
# y is a lower bound of lambda_max(G) (a Rayleigh quotient), and a Cholesky factorisation of
# theta (1 + 1e-13) I - G exists only if every eigenvalue of G is below theta (1 + 1e-13).
# Any failure (slow convergence, a start vector that missed the top) falls back to `_spectral_norm`.
LANCZOS_MAX_STEPS = 48
CERTIFY_MARGIN = 1e-13


@_jit
def _lanczos_workspace(H):
    k = min(H, LANCZOS_MAX_STEPS)
    return (np.empty((H, H)), np.empty((k + 1, H)), np.empty((H, H)), np.empty(H), np.empty(H),
            np.empty(k), np.empty(k))


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FAST)
def _below_all_eigenvalues(G, shift, L):
    """Whether shift I - G is positive definite (its Cholesky factor exists), for symmetric G.
    Rounding: success proves lambda_max(G) < shift (1 + O(H eps)), far inside CERTIFY_MARGIN."""
    n = G.shape[0]
    for i in range(n):
        for j in range(i + 1):
            acc = (shift if i == j else 0.0) - G[i, j]
            for k in range(j):
                acc -= L[i, k] * L[j, k]
            if i == j:
                if not acc > 0.0:  # also catches NaN
                    return False
                L[i, i] = np.sqrt(acc)
            else:
                L[i, j] = acc / L[j, j]
    return True


@_jit
def _tridiagonal_top(alpha, beta, k, vector):
    """Largest eigenvalue of the k x k symmetric tridiagonal T (diagonal alpha[:k], off-diagonal
    beta[:k-1]) by bisection on Sturm counts, and a unit eigenvector in vector[:k] by inverse
    iteration. (Only a candidate: `_lanczos_norm` proves or rejects what comes of it.)"""
    low, high = np.inf, -np.inf
    for i in range(k):  # Gershgorin discs
        radius = (abs(beta[i - 1]) if i > 0 else 0.0) + (abs(beta[i]) if i < k - 1 else 0.0)
        low = min(low, alpha[i] - radius)
        high = max(high, alpha[i] + radius)
    scale = max(abs(low), abs(high), 1e-300)
    for _ in range(200):  # invariant: no eigenvalue above high, at least one above low
        middle = 0.5 * (low + high)
        if not (low < middle < high) or high - low <= 1e-16 * scale:
            break
        above = 0  # eigenvalues above middle = positive pivots of T - middle I (Sturm)
        pivot = 1.0
        for i in range(k):
            pivot = alpha[i] - middle - (beta[i - 1] * beta[i - 1] / pivot if i > 0 else 0.0)
            if pivot == 0.0:
                pivot = -1e-300
            if pivot > 0.0:
                above += 1
        if above >= 1:
            low = middle
        else:
            high = middle
    # inverse iteration with a shift just above the top: T - shift I is negative definite, so
    # its LDL^T solve needs no pivoting
    shift = high + 1e-13 * scale
    for i in range(k):
        vector[i] = 1.0
    diag = np.empty(k)
    for _ in range(3):
        for i in range(k):  # forward elimination
            diag[i] = alpha[i] - shift
            if i > 0:
                factor = beta[i - 1] / diag[i - 1]
                diag[i] -= factor * beta[i - 1]
                vector[i] -= factor * vector[i - 1]
        vector[k - 1] /= diag[k - 1]
        for i in range(k - 2, -1, -1):  # back substitution
            vector[i] = (vector[i] - beta[i] * vector[i + 1]) / diag[i]
        length = 0.0
        for i in range(k):
            length += vector[i] * vector[i]
        length = np.sqrt(length)
        if not length > 0.0:
            return high
        for i in range(k):
            vector[i] /= length
    return high


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FAST)
def _lanczos_norm(P, u, workspace):
    """||P||_2 proved to CERTIFY_MARGIN relative (see above), or -1.0. u: warm unit vector, updated."""
    G, Q, L, w, z, alpha, beta = workspace
    n = P.shape[0]
    steps = Q.shape[0] - 1
    np.dot(P, P.T, G)  # (symmetric up to round-off; only its lower triangle is certified)
    length = 0.0
    for i in range(n):
        length += u[i] * u[i]
    if not length > 0.0:
        return -1.0
    inv = 1.0 / np.sqrt(length)
    for i in range(n):
        Q[0, i] = u[i] * inv
    used = 0
    converged = False
    top = np.empty(steps)
    for j in range(steps):
        np.dot(G, Q[j], w)
        a = 0.0
        for i in range(n):
            a += Q[j, i] * w[i]
        alpha[j] = a
        for i in range(n):
            w[i] -= a * Q[j, i]
            if j > 0:
                w[i] -= beta[j - 1] * Q[j - 1, i]
        for sweep in range(2):  # full reorthogonalisation, twice ("twice is enough")
            for r in range(j + 1):
                c = 0.0
                for i in range(n):
                    c += Q[r, i] * w[i]
                for i in range(n):
                    w[i] -= c * Q[r, i]
        b = 0.0
        for i in range(n):
            b += w[i] * w[i]
        b = np.sqrt(b)
        beta[j] = b
        used = j + 1
        if used in (4, 6, 8, 11, 14, 18, 22, 27, 32, 40) or used == steps or b <= 1e-14 * abs(a):
            theta = _tridiagonal_top(alpha, beta, used, top)
            # the Ritz pair's residual ||G y - theta y|| is b |last component|
            if theta > 0.0 and (b * abs(top[used - 1]) <= 3e-8 * theta or b <= 1e-14 * theta
                                or used == steps):  # at the last step: try the certificate anyway
                converged = True
                break
        if not b > 0.0 or used == steps:
            break
        for i in range(n):
            Q[j + 1, i] = w[i] / b
    if not converged:
        return -1.0
    # the Ritz vector y and its Rayleigh quotient, from P itself (a lower bound of ||P||^2)
    for i in range(n):
        s = 0.0
        for r in range(used):
            s += top[r] * Q[r, i]
        w[i] = s
    np.dot(P.T, w, z)
    yy, zz = 0.0, 0.0
    for i in range(n):
        yy += w[i] * w[i]
        zz += z[i] * z[i]
    if not (yy > 0.0 and zz > 0.0):
        return -1.0
    theta = zz / yy
    if not _below_all_eigenvalues(G, theta * (1.0 + CERTIFY_MARGIN), L):
        return -1.0
    inv = 1.0 / np.sqrt(yy)
    for i in range(n):
        u[i] = w[i] * inv
    return np.sqrt(theta)


@_jit
def _log10(norm, log10_scale):
    return np.log10(norm) + log10_scale if norm > 0.0 else LOG10_OF_ZERO


@_jit
def _chain_log10_norm(M, log10_scale, u, w, Pw, workspace):
    """log10 of ||M|| 10**log10_scale for a running product M (certified fast paths first:
    a dominated product, then Lanczos; else `_spectral_norm`)."""
    norm = -1.0
    largest = np.abs(M).max()
    # the fast paths square M's entries: only where that can neither underflow nor overflow
    if M.shape[0] > 1 and 1e-100 < largest < 1e100:
        norm = _dominant_norm(M, u, w, Pw)
        if norm < 0.0:
            norm = _lanczos_norm(M, u, workspace)
    if norm < 0.0:
        norm = _spectral_norm(M)
    return _log10(norm, log10_scale)


@_jit
def _start_vector(H):
    """A fixed unit vector with no zero entry, so no singular direction is missed at the start."""
    u = np.empty(H)
    for i in range(H):
        u[i] = 1.0 + 0.5 * np.sin(1.0 + 7.0 * i)
    return u / np.sqrt(np.sum(u * u))


@_jit
def _orthogonal_gain(U):
    """If U = s Q with Q orthogonal to round-off (||Q^T Q - I||_F <= 1e-13), return s >= 0, else -1.

    Then ||diag(d) U|| = s max|d| to relative 1e-13: with U = s Q0 P (polar decomposition, Q0
    orthogonal), every singular value of P lies in [sqrt(1 - eps), sqrt(1 + eps)].
    """
    H = U.shape[0]
    largest = np.abs(U).max()
    if largest == 0.0:
        return 0.0
    unit = U / largest  # U's square may underflow (a knob of 1e-200 is legal)
    gram = unit.T @ unit
    scale2 = 0.0
    for i in range(H):
        scale2 += gram[i, i]
    scale2 /= H
    deviation2 = 0.0
    for i in range(H):
        for j in range(H):
            e = gram[i, j] / scale2 - (1.0 if i == j else 0.0)
            deviation2 += e * e
    if deviation2 <= 1e-26:
        return np.sqrt(scale2) * largest
    return -1.0


# ----------------------------------------------------------------------------------------------
# Vanilla RNN
# ----------------------------------------------------------------------------------------------


@_jit
def rnn_forward(W_x, U, b, x, S0):
    """Returns (a, S), each (T + 1, H); S[0] = S0, a[0] = 0."""
    T = x.shape[0] - 1
    H, D = U.shape[0], W_x.shape[1]
    a = np.zeros((T + 1, H))
    S = np.zeros((T + 1, H))
    S[0] = S0
    from_input, recurrent = np.empty(H), np.empty(H)
    for t in range(1, T + 1):
        # (W_x x_t + U S_{t-1}) + b with BLAS products, in the reference's order: same round-off
        np.dot(W_x, x[t], from_input)
        np.dot(U, S[t - 1], recurrent)
        for i in range(H):
            a[t, i] = (from_input[i] + recurrent[i]) + b[i]
            S[t, i] = np.tanh(a[t, i])
    return a, S


@_jit
def rnn_factor_summary(U, a):
    """Per t: spectral norm and mean of the diagonal of (R1) diag(tanh'(a_t)) U. Each (T + 1,)."""
    T, H = a.shape[0] - 1, U.shape[0]
    norm, diag_mean = np.zeros(T + 1), np.zeros(T + 1)
    gain = _orthogonal_gain(U) if H > 1 else -1.0
    factor = np.empty((H, H))
    d = np.empty(H)
    for t in range(1, T + 1):
        trace = 0.0
        largest = 0.0
        for i in range(H):
            d[i] = tanh_prime(a[t, i])
            trace += d[i] * U[i, i]
            largest = max(largest, abs(d[i]))
        diag_mean[t] = trace / H
        if gain >= 0.0:  # U = s Q, Q orthogonal: ||diag(d) U|| = s max|d|
            norm[t] = gain * largest
        else:
            for i in range(H):
                for j in range(H):
                    factor[i, j] = d[i] * U[i, j]
            norm[t] = _spectral_norm(factor)
    return norm, diag_mean


@_jit
def rnn_longrange_log10(U, a, horizon):
    """(R2) log10 ||dS_h/dS_k|| for k = 0..h; the running product carries a log10 scale."""
    H = U.shape[0]
    out = np.zeros(horizon + 1)
    product = np.eye(H)
    scaled = np.empty((H, H))
    log_d, d = np.empty(H), np.empty(H)
    total, compensation = 0.0, 0.0  # the log10 scale, a compensated sum
    u, w, Pw = _start_vector(H), np.empty(H), np.empty(H)
    workspace = _lanczos_workspace(H)
    for k in range(horizon - 1, -1, -1):
        # product @ (R1) diag(tanh'(a_{k+1})) U, latest step on the left; tanh' from its log
        for j in range(H):
            log_d[j] = log_tanh_prime(a[k + 1, j])
        largest = _pull_largest(log_d, d)
        _columns_times(product, d, scaled)
        total, compensation = _scale_add(total, compensation, largest / LN_10)
        np.dot(scaled, U, product)
        total, compensation = _scale_add(total, compensation, renormalise(product))
        out[k] = _chain_log10_norm(product, total + compensation, u, w, Pw, workspace)
    return out


@_jit
def rnn_bptt(U, V, c, target, a, S, horizon):
    """Backward pass of L = 1/2 ||Y* - O_h||^2 at step h; see reference.rnn_bptt."""
    H = U.shape[0]
    delta = np.zeros((horizon + 1, H))
    log10_scale = np.zeros(horizon + 1)
    # dL/dS_h = V^T (V S_h + c - Y*): the output error may cancel, so it is formed exactly as the
    # reference forms it (BLAS product, then + c, then - Y*)
    error = np.dot(V, np.ascontiguousarray(S[horizon])) + c - target
    grad_S = np.zeros(H)
    for r in range(V.shape[0]):
        for j in range(H):
            grad_S[j] += V[r, j] * error[r]
    total, compensation = 0.0, 0.0  # log10 scale of grad_S, a compensated sum
    log_d, d = np.empty(H), np.empty(H)
    U_T = U.T
    for k in range(horizon, 0, -1):
        # delta_k = tanh'(a_k) * dL/dS_k, tanh' from its log
        for i in range(H):
            log_d[i] = log_tanh_prime(a[k, i])
        largest = _pull_largest(log_d, d)
        for i in range(H):
            delta[k, i] = grad_S[i] * d[i]
        total, compensation = _scale_add(total, compensation, largest / LN_10)
        log10_scale[k] = total + compensation
        np.dot(U_T, delta[k], grad_S)  # dL/dS_{k-1} = U^T delta_k
        total, compensation = _scale_add(total, compensation, renormalise_vector(grad_S))
    return delta, log10_scale


# Whole passes (see reference.rnn_pass): results.compute calls these, not the parts. numba caches
# each entry point as one library with its callees inside; loading 4 such libraries at start-up
# takes ~0.1 s less than loading the 8 parts one by one (~0.25 s, measured with a warm cache).
@_jit
def rnn_pass(W_x, U, b, x, S0, V, c, target, horizon):
    """See reference.rnn_pass."""
    a, S = rnn_forward(W_x, U, b, x, S0)
    factor_norm, factor_diag_mean = rnn_factor_summary(U, a)
    longrange = rnn_longrange_log10(U, a, horizon)
    delta, delta_log10_scale = rnn_bptt(U, V, c, target, a, S, horizon)
    return a, S, factor_norm, factor_diag_mean, longrange, delta, delta_log10_scale


# ----------------------------------------------------------------------------------------------
# LSTM
# ----------------------------------------------------------------------------------------------


@_jit
def lstm_forward(W_x, W_h, b, x, h0, C0):
    """Returns (pre, gates, h, C): pre and gates (T + 1, 4, H) (row 0 zero), h and C (T + 1, H)."""
    T, H, D = x.shape[0] - 1, W_h.shape[1], W_x.shape[2]
    pre = np.zeros((T + 1, 4, H))
    gates = np.zeros((T + 1, 4, H))
    h = np.zeros((T + 1, H))
    C = np.zeros((T + 1, H))
    h[0], C[0] = h0, C0
    from_input, recurrent = np.empty(H), np.empty(H)
    for t in range(1, T + 1):
        for gate in range(4):  # as in rnn_forward
            np.dot(W_x[gate], x[t], from_input)
            np.dot(W_h[gate], h[t - 1], recurrent)
            for i in range(H):
                pre[t, gate, i] = (from_input[i] + recurrent[i]) + b[gate, i]
        for i in range(H):
            gates[t, I, i] = sigmoid(pre[t, I, i])
            gates[t, F, i] = sigmoid(pre[t, F, i])
            gates[t, G, i] = np.tanh(pre[t, G, i])
            gates[t, O, i] = sigmoid(pre[t, O, i])
            C[t, i] = gates[t, F, i] * C[t - 1, i] + gates[t, I, i] * gates[t, G, i]
            h[t, i] = gates[t, O, i] * np.tanh(C[t, i])
    return pre, gates, h, C


@_jit
def _dh_dC(pre, C, t, out):
    """D_t = o_t tanh'(C_t) into out; D_0 = 0 (h_0 is given)."""
    for i in range(C.shape[1]):
        out[i] = 0.0 if t == 0 else sigmoid(pre[t, O, i]) * tanh_prime(C[t, i])


@_jit
def _gate_path_scales(pre, C, t, via_f, via_i, via_g):
    """Row scales of A_t's three gate paths: A_t = diag(via_f) W_hf + diag(via_i) W_hi + diag(via_g) W_hg."""
    for i in range(C.shape[1]):
        via_f[i] = C[t - 1, i] * sigmoid_prime(pre[t, F, i])
        via_i[i] = np.tanh(pre[t, G, i]) * sigmoid_prime(pre[t, I, i])
        via_g[i] = sigmoid(pre[t, I, i]) * tanh_prime(pre[t, G, i])


@_jit
def lstm_factor_summary(W_h, pre, C):
    """Per t: spectral norm of the (L4) sum, (T + 1,), and diagonal means of the terms and the sum, (T + 1, 5)."""
    T = pre.shape[0] - 1
    total_norm, diag_mean = np.zeros(T + 1), np.zeros((T + 1, 5))
    lstm_factor_summary_steps(W_h, pre, C, 1, T + 1, total_norm, diag_mean)
    return total_norm, diag_mean


@_jit
def lstm_factor_summary_steps(W_h, pre, C, first, stop, total_norm, diag_mean):
    """See reference.lstm_factor_summary_steps: steps first..stop-1, written in place."""
    H = C.shape[1]
    D_prev = np.empty(H)
    f = np.empty(H)
    scales = np.empty((3, H))  # rows: via W_hf, W_hi, W_hg
    weight_of = (F, I, G)
    total = np.empty((H, H))
    for t in range(first, stop):
        _dh_dC(pre, C, t - 1, D_prev)
        _gate_path_scales(pre, C, t, scales[0], scales[1], scales[2])
        trace_f = 0.0
        for i in range(H):
            f[i] = sigmoid(pre[t, F, i])
            trace_f += f[i]
        diag_mean[t, 0] = trace_f / H
        for i in range(H):
            for j in range(H):
                total[i, j] = 0.0
            total[i, i] = f[i]
        for p in range(3):
            W = W_h[weight_of[p]]
            trace = 0.0
            for i in range(H):
                s = scales[p, i]
                for j in range(H):
                    v = s * W[i, j] * D_prev[j]  # (L4) diag(scale) W D_{t-1}
                    total[i, j] += v
                    if i == j:
                        trace += v
            diag_mean[t, 1 + p] = trace / H
        trace = 0.0
        for i in range(H):
            trace += total[i, i]
        diag_mean[t, 4] = trace / H
        total_norm[t] = _spectral_norm(total)


@_jit
def _log_dh_dC(pre, C, t, out):
    """log D_t = log(o_t tanh'(C_t)) into out; -inf at t = 0 (D_0 = 0: h_0 is given)."""
    for i in range(C.shape[1]):
        out[i] = -np.inf if t == 0 else log_sigmoid(pre[t, O, i]) + log_tanh_prime(C[t, i])


@_jit
def _dC_dh_rows(W_h, pre, C, t, A_unit, log_rows):
    """A_t = diag(exp(log_rows)) A_unit (L6), the gate paths' row factors from their logs
    (see reference.lstm_dC_dh_rows)."""
    H = C.shape[1]
    for i in range(H):
        log_via_f = log_abs(C[t - 1, i]) + log_sigmoid_prime(pre[t, F, i])
        log_via_i = log_abs(np.tanh(pre[t, G, i])) + log_sigmoid_prime(pre[t, I, i])
        log_via_g = log_sigmoid(pre[t, I, i]) + log_tanh_prime(pre[t, G, i])
        largest = max(max(log_via_f, log_via_i), log_via_g)
        log_rows[i] = largest
        if largest == -np.inf:
            for j in range(H):
                A_unit[i, j] = 0.0
            continue
        via_f = np.sign(C[t - 1, i]) * np.exp(log_via_f - largest)
        via_i = np.sign(pre[t, G, i]) * np.exp(log_via_i - largest)
        via_g = 1.0 * np.exp(log_via_g - largest)
        for j in range(H):
            A_unit[i, j] = via_f * W_h[F, i, j] + via_i * W_h[I, i, j] + via_g * W_h[G, i, j]


@_jit
def lstm_longrange_log10(W_h, pre, C, horizon):
    """For k = 0..h: log10 ||dC_h/dC_k|| exact (L7), and of the naive product of (L4) factors.
    See reference.lstm_longrange_log10 (the same blocks, each with its own log10 scale)."""
    H = C.shape[1]
    exact, naive = np.zeros(horizon + 1), np.zeros(horizon + 1)
    X = np.zeros((H, H))  # C-rows of J_h ... J_{k+1} = [X | Y]; start [0 | I]
    Y = np.eye(H)
    chain = np.eye(H)  # product of (L4) factors, latest on the left
    Xt, Xc, Yt, Yc, chain_t, chain_c = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0  # log10 scales (compensated)
    Z, scaled = np.empty((H, H)), np.empty((H, H))
    first, second = np.empty((H, H)), np.empty((H, H))
    A_unit, log_rows = np.empty((H, H)), np.empty(H)
    log_v, factor = np.empty(H), np.empty(H)
    u_exact, u_naive, w, Pw = _start_vector(H), _start_vector(H), np.empty(H), np.empty(H)
    workspace = _lanczos_workspace(H)
    for k in range(horizon - 1, -1, -1):
        t = k + 1
        _dC_dh_rows(W_h, pre, C, t, A_unit, log_rows)
        # (L7) [X | Y] @ J_t in blocks. Z = X diag(beta) + Y, beta = D_t = o_t tanh'(C_t)
        _log_dh_dC(pre, C, t, log_v)
        largest = _pull_largest(log_v, factor)
        _columns_times(X, factor, scaled)
        st, sc = _scale_add(Xt, Xc, largest / LN_10)
        st, sc = _scale_add(st, sc, renormalise(scaled))
        Zt, Zc = _add_scaled(scaled.ravel(), st, sc, Y.ravel(), Yt, Yc, Z.ravel())
        # X' = X diag(alpha) W_ho + Z A_t, alpha = tanh(C_t) sigma'(o_t)
        for j in range(H):
            log_v[j] = log_abs(np.tanh(C[t, j])) + log_sigmoid_prime(pre[t, O, j])
        largest = _pull_largest(log_v, factor)
        for j in range(H):
            factor[j] = np.sign(C[t, j]) * factor[j]
        _columns_times(X, factor, scaled)
        first_t, first_c = _scale_add(Xt, Xc, largest / LN_10)
        np.dot(scaled, W_h[O], first)
        first_t, first_c = _scale_add(first_t, first_c, renormalise(first))
        largest = _pull_largest(log_rows, factor)
        _columns_times(Z, factor, scaled)
        second_t, second_c = _scale_add(Zt, Zc, largest / LN_10)
        np.dot(scaled, A_unit, second)
        second_t, second_c = _scale_add(second_t, second_c, renormalise(second))
        Xt, Xc = _add_scaled(first.ravel(), first_t, first_c, second.ravel(), second_t, second_c, X.ravel())
        # Y' = Z diag(f_t)
        for j in range(H):
            log_v[j] = log_sigmoid(pre[t, F, j])
        largest = _pull_largest(log_v, factor)
        _columns_times(Z, factor, Y)
        Yt, Yc = _scale_add(Zt, Zc, largest / LN_10)
        Yt, Yc = _scale_add(Yt, Yc, renormalise(Y))
        # (L7): dC_h/dC_k = X diag(D_k) + Y
        _log_dh_dC(pre, C, k, log_v)
        largest = _pull_largest(log_v, factor)
        _columns_times(X, factor, scaled)
        st, sc = _scale_add(Xt, Xc, largest / LN_10)
        st, sc = _scale_add(st, sc, renormalise(scaled))
        st, sc = _add_scaled(scaled.ravel(), st, sc, Y.ravel(), Yt, Yc, Z.ravel())  # Z: free here
        exact[k] = _chain_log10_norm(Z, st + sc, u_exact, w, Pw, workspace)
        # naive chain: chain @ (L4) factor_t = chain diag(f_t) + chain A_t diag(D_{t-1})
        for j in range(H):
            log_v[j] = log_sigmoid(pre[t, F, j])
        largest = _pull_largest(log_v, factor)
        _columns_times(chain, factor, first)
        first_t, first_c = _scale_add(chain_t, chain_c, largest / LN_10)
        first_t, first_c = _scale_add(first_t, first_c, renormalise(first))
        largest = _pull_largest(log_rows, factor)
        _columns_times(chain, factor, scaled)
        second_t, second_c = _scale_add(chain_t, chain_c, largest / LN_10)
        np.dot(scaled, A_unit, second)
        _log_dh_dC(pre, C, t - 1, log_v)
        largest = _pull_largest(log_v, factor)
        _columns_times(second, factor, second)
        second_t, second_c = _scale_add(second_t, second_c, largest / LN_10)
        second_t, second_c = _scale_add(second_t, second_c, renormalise(second))
        chain_t, chain_c = _add_scaled(first.ravel(), first_t, first_c, second.ravel(), second_t, second_c,
                                       chain.ravel())
        naive[k] = _chain_log10_norm(chain, chain_t + chain_c, u_naive, w, Pw, workspace)
    return exact, naive


@_jit
def _gate_local_factors(pre, C, k, signs, logs):
    """Each gate's local factor at step k as signs * exp(logs), (4, H); see
    reference.lstm_gate_local_factors."""
    for i in range(C.shape[1]):
        signs[I, i] = np.sign(pre[k, G, i])
        logs[I, i] = log_abs(np.tanh(pre[k, G, i])) + log_sigmoid_prime(pre[k, I, i])
        signs[F, i] = np.sign(C[k - 1, i])
        logs[F, i] = log_abs(C[k - 1, i]) + log_sigmoid_prime(pre[k, F, i])
        signs[G, i] = 1.0
        logs[G, i] = log_sigmoid(pre[k, I, i]) + log_tanh_prime(pre[k, G, i])
        signs[O, i] = np.sign(C[k, i])
        logs[O, i] = log_abs(np.tanh(C[k, i])) + log_sigmoid_prime(pre[k, O, i])


@_jit
def lstm_bptt(W_h, V, c, target, pre, gates, h, C, horizon):
    """Backward pass of L = 1/2 ||Y* - Y_h||^2 at step h; see reference.lstm_bptt (one log10 scale
    per step and gate; dL/dh and dL/dC carried with a scale each)."""
    H = C.shape[1]
    delta = np.zeros((horizon + 1, 4, H))
    log10_scale = np.zeros((horizon + 1, 4))
    grad_h, grad_C = np.zeros(H), np.zeros(H)
    error = np.dot(V, np.ascontiguousarray(h[horizon])) + c - target  # as in rnn_bptt
    for r in range(V.shape[0]):  # dL/dh_h = V^T error
        for j in range(H):
            grad_h[j] += V[r, j] * error[r]
    ht, hc, Ct, Cc = 0.0, 0.0, 0.0, 0.0  # log10 scales of grad_h and grad_C (compensated)
    through, part = np.empty(H), np.empty(H)
    log_v, factor = np.empty(H), np.empty(H)
    gate_scale = np.empty((4, 2))  # (total, compensation) per gate
    signs, log_factors = np.empty((4, H)), np.empty((4, H))
    for k in range(horizon, 0, -1):
        # dL/dC_k += dL/dh_k * D_k, D_k = o_k tanh'(C_k)
        _log_dh_dC(pre, C, k, log_v)
        largest = _pull_largest(log_v, factor)
        for i in range(H):
            through[i] = grad_h[i] * factor[i]
        st, sc = _scale_add(ht, hc, largest / LN_10)
        st, sc = _scale_add(st, sc, renormalise_vector(through))
        Ct, Cc = _add_scaled(grad_C, Ct, Cc, through, st, sc, grad_C)
        # delta_k,gate = dL/d(pre-activation) = (dL/dh_k or dL/dC_k) * local factor, from its log
        _gate_local_factors(pre, C, k, signs, log_factors)
        for gate in range(4):
            largest = _pull_largest(log_factors[gate], factor)
            grad = grad_h if gate == O else grad_C
            for i in range(H):
                delta[k, gate, i] = grad[i] * (signs[gate, i] * factor[i])
            source_t, source_c = (ht, hc) if gate == O else (Ct, Cc)
            gate_scale[gate, 0], gate_scale[gate, 1] = _scale_add(source_t, source_c, largest / LN_10)
            log10_scale[k, gate] = gate_scale[gate, 0] + gate_scale[gate, 1]
        # dL/dh_{k-1} = sum_gate W_h<gate>^T delta_k,gate, each term scaled on its own
        for j in range(H):
            grad_h[j] = 0.0
        ht, hc = 0.0, 0.0
        for gate in range(4):
            np.dot(W_h[gate].T, delta[k, gate], part)
            st, sc = _scale_add(gate_scale[gate, 0], gate_scale[gate, 1], renormalise_vector(part))
            ht, hc = _add_scaled(grad_h, ht, hc, part, st, sc, grad_h)
        # dL/dC_{k-1} through the carousel: times f_k
        for i in range(H):
            log_v[i] = log_sigmoid(pre[k, F, i])
        largest = _pull_largest(log_v, factor)
        for i in range(H):
            grad_C[i] = grad_C[i] * factor[i]
        Ct, Cc = _scale_add(Ct, Cc, largest / LN_10)
        Ct, Cc = _scale_add(Ct, Cc, renormalise_vector(grad_C))
    return delta, log10_scale


@_jit
def lstm_longrange_and_bptt(W_h, V, c, target, pre, gates, h, C, horizon):
    """See reference.lstm_longrange_and_bptt (and rnn_pass for why it exists)."""
    exact, naive = lstm_longrange_log10(W_h, pre, C, horizon)
    delta, delta_log10_scale = lstm_bptt(W_h, V, c, target, pre, gates, h, C, horizon)
    return exact, naive, delta, delta_log10_scale
