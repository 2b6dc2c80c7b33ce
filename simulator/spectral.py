"""Exact spectral norms (largest singular values) for the numba kernels (`kernels.py`).

Every norm here is exact: LAPACK's answer, the answer of a backward-stable direct eigen-solve
like LAPACK's (dsytrd + dstebz: Householder, then bisection), or a value *proved* to
CERTIFY_MARGIN (1e-13) relative (up to the O(H eps) rounding of the products themselves), never an
estimate. The paths, cheapest first:

- Exact shortcuts: 1 x 1: |m|; a zero matrix; U = s Q with Q orthogonal: ||diag(d) U|| = s max|d|
  (`orthogonal_gain`, used by the kernels for the RNN's per-step factors).
- A running product whose top singular value dominates (long chains): power steps on P P^T with a
  Kato-Temple bound (`_dominant_norm`), O(H^2).
- Otherwise the Gram matrix G (one BLAS product) and its top eigenvalue, certified
  (`_certified_top`): Lanczos on G gives a Ritz vector; a shift s above lambda_max(G), proved by a
  Cholesky factorisation of s I - G; Lanczos on (s I - G)^-1 (shift and invert: fast even when the
  top of the spectrum is clustered, as it is for the (L4) sums and the long products at H = 512,
  where plain Lanczos needs hundreds of steps); theta = ||P^T y||^2 / ||y||^2 for the final Ritz
  vector y is a lower bound of lambda_max (a Rayleigh quotient), and a Cholesky factorisation of
  theta (1 + CERTIFY_MARGIN) I - G, which exists only if every eigenvalue of G is below that,
  proves the upper bound. The Cholesky factorisations are LAPACK's (np.linalg.cholesky): at
  H = 512 one costs about a quarter of an H x H product, LAPACK's eigen-solver about two products.
- A single matrix with H <= DIRECT_UP_TO (a per-step factor): the Gram matrix's top eigenvalue
  by a Householder reduction to tridiagonal form and bisection on Sturm counts
  (`_symmetric_top_eigenvalue`, as LAPACK's dsytrd + dstebz; backward stable, like eigvalsh, in
  less than half its time at these sizes). Not certified, and it needs no certificate.
- Otherwise (no certificate within a few rounds) LAPACK's symmetric eigen-solver on the same Gram
  matrix; at extreme scales, where the Gram matrix could lose bits, the SVD.

A home-made tridiagonal eigen-solve tried before (on the Lanczos tridiagonal, which loses
orthogonality) returned the wrong eigenvalue for nearly degenerate matrices (found by the
random-setup test) and was removed: candidates from the Lanczos tridiagonal problems here are only
ever accepted through the certificate. The direct solve reduces G itself by orthogonal
(Householder) transformations, so its tridiagonal has G's eigenvalues up to O(H eps ||G||). The
hard cases stay in tests/test_kernels_match_reference.py and tests/test_spectral.py.
"""

from __future__ import annotations

import numpy as np

from ._numba_env import load_scipy_blas_alone, single_threaded_scipy_blas

SCIPY_BLAS_LOADED_ALONE = load_scipy_blas_alone()  # before numba's first compile: start-up time

import llvmlite.binding  # noqa: E402
from numba import njit, types  # noqa: E402
from numba.extending import get_cython_function_address  # noqa: E402

from .reference import LOG10_OF_ZERO  # noqa: E402

BLAS_SINGLE_THREADED = single_threaded_scipy_blas()


# Two routines numba's np.linalg does not offer, from SciPy's BLAS/LAPACK (the library numba's own
# np.dot and np.linalg call): dsyrk (a Gram matrix for half the work of a product) and dpotrf (a
# Cholesky factorisation in place; np.linalg.cholesky copies, zeroes a triangle and raises on
# failure: 2x the time at H = 512). Each is registered under a symbol name of its own, so the
# compiled kernels refer to the name and stay cacheable; the address is bound again at every start.
def _scipy_routine(module: str, name: str, arguments: int):
    symbol = f"rnn_gradient_lab_{name}"
    llvmlite.binding.add_symbol(symbol, get_cython_function_address(module, name))
    return types.ExternalFunction(symbol, types.void(*([types.voidptr] * arguments)))


# Fortran conventions: every argument by pointer, 32-bit integers (SciPy's LP64 build), column-major.
_dsyrk = _scipy_routine("scipy.linalg.cython_blas", "dsyrk", 10)  # uplo trans n k alpha a lda beta c ldc
_dpotrf = _scipy_routine("scipy.linalg.cython_lapack", "dpotrf", 5)  # uplo n a lda info

# error_model="numpy": a float division by zero gives inf/nan instead of raising (no checks in the
# loops); every division here has a nonzero divisor, or is guarded.
_jit = njit(cache=True, nogil=True, error_model="numpy")
_FAST = {"contract", "reassoc"}  # lets LLVM vectorise the reductions; no change beyond round-off
_jit_fast = njit(cache=True, nogil=True, error_model="numpy", fastmath=_FAST)

CERTIFY_MARGIN = 1e-13
LANCZOS_STEPS = 24  # on G: a start for the shift-and-invert rounds (or the answer, when separated)
SHIFT_INVERT_STEPS = 32  # on (s I - G)^-1, per round (stops early once converged)
CERTIFY_ROUNDS = 3  # shift-and-invert rounds before LAPACK's eigen-solver takes over
SHIFT_ATTEMPTS = 4  # shifts tried per round (each 16 x further above the Ritz value)
# Up to this size a direct eigen-solve of the Gram matrix (`_symmetric_top_eigenvalue`) is faster
# than the certified rounds for one matrix from a cold start (`matrix_norm`, (L4)-like factors:
# 65 against 95 us at H = 64, even at H = 96; LAPACK's eigvalsh, used before up to H = 48, took
# 30 us for the direct solve's 16 at H = 32). A chain's warm start makes the rounds as fast at every H.
DIRECT_UP_TO = 64


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
    """np.linalg.norm(M, 2) for a square matrix by LAPACK (for tests and one-offs)."""
    return _spectral_norm(M)


def orthogonal_gain(U):
    """If U = s Q with Q orthogonal to round-off, return s >= 0, else -1.0 (numpy: called once per
    compute, not per step).

    The test: E = Q^T Q - I with every row sum of |E| at most 1e-13, so ||E||_2 <= 1e-13 (E is
    symmetric: ||E||_2 <= ||E||_inf). Then ||diag(d) U|| = s max|d| to 5e-14 relative: with
    U = s Q0 P (polar decomposition, Q0 orthogonal), every singular value of P lies in
    [sqrt(1 - 1e-13), sqrt(1 + 1e-13)]. (A row sum, not the Frobenius norm: the Frobenius norm of
    the rounding in Q^T Q grows like H and failed the seeded bases at H = 512.)
    """
    largest = np.abs(U).max()
    if largest == 0.0:
        return 0.0
    unit = U / largest  # U's square may underflow (a knob of 1e-200 is legal)
    gram = unit.T @ unit
    scale2 = np.trace(gram) / U.shape[0]
    deviation = gram / scale2 - np.eye(U.shape[0])
    if np.abs(deviation).sum(axis=1).max() <= 1e-13:
        return float(np.sqrt(scale2) * largest)
    return -1.0


@_jit_fast
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
        hopeless = theta <= 0.1 * frobenius2  # (Kato-Temple needs theta > frobenius2 / 2)
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
        if hopeless:
            return -1.0  # one power step taken: u is warmer for the next call
    return -1.0


# ----------------------------------------------------------------------------------------------
# The certified top eigenvalue of a Gram matrix
# ----------------------------------------------------------------------------------------------


@_jit
def norm_workspace(H):
    """Scratch arrays for `chain_log10_norm` and `matrix_norm` at size H (one per thread and chain)."""
    steps = min(H, max(LANCZOS_STEPS, SHIFT_INVERT_STEPS))
    return (np.empty((H, H)), np.empty((H, H)), np.empty((H, H)), np.empty((steps + 1, H)),
            np.empty(H), np.empty(H), np.empty(steps), np.empty(steps), np.empty(steps), np.empty(H))


@_jit
def _eigenvalues_below(diagonal, off_diagonal, n, shift):
    """How many eigenvalues of the symmetric tridiagonal T (its first n diagonal and n - 1
    off-diagonal entries) lie below shift: the negative pivots of T - shift I (Sturm's count).
    A zero pivot counts as negative (it is replaced by -1e-300)."""
    below = 0
    pivot = 1.0
    for i in range(n):
        pivot = diagonal[i] - shift - (off_diagonal[i - 1] * off_diagonal[i - 1] / pivot if i > 0 else 0.0)
        if pivot == 0.0:
            pivot = -1e-300
        if pivot < 0.0:
            below += 1
    return below


@_jit
def _tridiagonal_top(alpha, beta, k, vector):
    """Largest eigenvalue of the k x k symmetric tridiagonal T (diagonal alpha[:k], off-diagonal
    beta[:k-1]) by bisection on Sturm counts, and a unit eigenvector in vector[:k] by inverse
    iteration. (Only a candidate: `_certified_top` proves or rejects what comes of it.)"""
    low, high = np.inf, -np.inf
    for i in range(k):  # Gershgorin discs
        radius = (abs(beta[i - 1]) if i > 0 else 0.0) + (abs(beta[i]) if i < k - 1 else 0.0)
        low = min(low, alpha[i] - radius)
        high = max(high, alpha[i] + radius)
    scale = max(abs(low), abs(high), 1e-300)
    for _ in range(200):  # invariant: no eigenvalue above high, at least one above low
        middle = 0.5 * (low + high)
        if not (low < middle < high) or high - low <= 1e-14 * scale:  # a candidate: proved later
            break
        if _eigenvalues_below(alpha, beta, k, middle) < k:  # one at least above middle
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


@_jit
def _gram(P, of_rows, G):
    """G = P P^T (of_rows) or P^T P, by dsyrk (one triangle: half a product), then mirrored."""
    n = np.array([P.shape[0]], np.int32)
    # A C-order array is its transpose in Fortran's order: P P^T = (P^T)^T (P^T) is trans "T" on it
    trans = np.array([ord("T") if of_rows else ord("N")], np.uint8)
    upper = np.array([ord("U")], np.uint8)  # Fortran's upper triangle = the C-order lower one
    one, zero = np.array([1.0]), np.array([0.0])
    _dsyrk(upper.ctypes, trans.ctypes, n.ctypes, n.ctypes, one.ctypes, P.ctypes, n.ctypes,
           zero.ctypes, G.ctypes, n.ctypes)
    for i in range(P.shape[0]):
        for j in range(i):
            G[j, i] = G[i, j]


@_jit
def _shifted_factor(G, shift, shifted):
    """Whether shift I - G is positive definite: its Cholesky factor L (LAPACK's dpotrf) then lies
    in the lower triangle of `shifted` (C order; the upper one is not used). Success proves
    lambda_max(G) < shift (1 + O(H eps)): the factorisation is backward stable."""
    n = G.shape[0]
    for i in range(n):
        for j in range(i + 1):
            shifted[i, j] = (shift if i == j else 0.0) - G[i, j]
    size, info = np.array([n], np.int32), np.zeros(1, np.int32)
    upper = np.array([ord("U")], np.uint8)  # Fortran's upper triangle = the C-order lower one
    _dpotrf(upper.ctypes, size.ctypes, shifted.ctypes, size.ctypes, info.ctypes)
    if info[0] != 0:
        return False
    for i in range(n):
        if not 0.0 < shifted[i, i] < np.inf:  # a NaN pivot is not reported by every LAPACK
            return False
    return True


@_jit_fast
def _cholesky_solve(L, b, x):
    """x = (L L^T)^-1 b for L in the lower triangle of L (C order; the rest is not read), both
    substitutions along rows of L."""
    n = L.shape[0]
    for i in range(n):  # L y = b
        s = b[i]
        row = L[i]
        for j in range(i):
            s -= row[j] * x[j]
        x[i] = s / row[i]
    for i in range(n - 1, -1, -1):  # L^T x = y: x_i final once the later rows are subtracted
        x[i] /= L[i, i]
        xi = x[i]
        row = L[i]
        for j in range(i):
            x[j] -= row[j] * xi


@_jit_fast
def _lanczos_ritz(G, L, shift_inverted, start, steps, tolerance, workspace):
    """Lanczos with full reorthogonalisation from `start`, on G or, when shift_inverted, on
    (L L^T)^-1 = (s I - G)^-1; the top Ritz vector (unit) goes into workspace[9]. Stops early when
    the Ritz pair's residual is below `tolerance` times its value (or on an invariant subspace)."""
    Q, w, alpha, beta, top, ritz = workspace[3], workspace[4], workspace[6], workspace[7], workspace[8], workspace[9]
    n = G.shape[0]
    steps = min(steps, Q.shape[0] - 1)
    length = 0.0
    for i in range(n):
        length += start[i] * start[i]
    inv = 1.0 / np.sqrt(length)
    for i in range(n):
        Q[0, i] = start[i] * inv
    used = 0
    for j in range(steps):
        if shift_inverted:
            _cholesky_solve(L, Q[j], w)
        else:
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
        if not b > 1e-14 * abs(a) or used == steps:
            break
        if used % 4 == 0 and used >= 8:  # (the check costs ~50 k Sturm steps: not every step)
            theta = _tridiagonal_top(alpha, beta, used, top)
            if b * abs(top[used - 1]) <= tolerance * abs(theta):  # the Ritz pair's residual
                break
        for i in range(n):
            Q[j + 1, i] = w[i] / b
    _tridiagonal_top(alpha, beta, used, top)
    length = 0.0
    for i in range(n):
        s = 0.0
        for r in range(used):
            s += top[r] * Q[r, i]
        ritz[i] = s
        length += s * s
    inv = 1.0 / np.sqrt(length) if length > 0.0 else 0.0
    for i in range(n):
        ritz[i] *= inv


@_jit_fast
def _rayleigh_and_residual(P, of_rows, G, y, workspace):
    """(theta, rho) for the unit vector y: theta = ||P^T y||^2 (of_rows: G = P P^T) or ||P y||^2
    (G = P^T P), a lower bound of lambda_max(G) computed from P itself; rho = ||G y - theta y||."""
    w, z = workspace[4], workspace[5]
    if of_rows:
        np.dot(P.T, y, z)
    else:
        np.dot(P, y, z)
    theta = 0.0
    for i in range(z.shape[0]):
        theta += z[i] * z[i]
    np.dot(G, y, w)
    rho = 0.0
    for i in range(w.shape[0]):
        r = w[i] - theta * y[i]
        rho += r * r
    return theta, np.sqrt(rho)


@_jit
def _certified_top(P, of_rows, G, u, workspace):
    """lambda_max(G) for G = P P^T (of_rows) or P^T P, proved to CERTIFY_MARGIN: a value theta with
    theta <= lambda_max(G) <= theta (1 + CERTIFY_MARGIN), or -1.0 when no proof was found (then
    the caller asks LAPACK). u: a start vector (unit); it ends as the best Ritz vector found."""
    shifted, ritz = workspace[2], workspace[9]
    # on G: far enough for a proof at once when the top is separated (a warm chain vector)
    _lanczos_ritz(G, shifted, False, u, LANCZOS_STEPS, 1e-11, workspace)
    for round in range(CERTIFY_ROUNDS + 1):
        theta, rho = _rayleigh_and_residual(P, of_rows, G, ritz, workspace)
        u[:] = ritz
        if not theta > 0.0:
            return -1.0
        # worth a proof once the eigenvalue error (~ rho^2 / gap) is surely below the margin
        if rho <= 1e-9 * theta or (round == CERTIFY_ROUNDS and rho <= 1e-7 * theta):
            if _shifted_factor(G, theta * (1.0 + CERTIFY_MARGIN), shifted):
                return theta
        if round == CERTIFY_ROUNDS:
            break
        # a shift proved to lie above lambda_max(G) (some eigenvalue lies within rho of theta)
        gap = max(1.01 * rho, 1e-12 * theta)
        found = _shifted_factor(G, theta + gap, shifted)
        for attempt in range(1, SHIFT_ATTEMPTS):
            if found:
                break
            gap *= 16.0
            found = _shifted_factor(G, theta + gap, shifted)
        if not found:
            return -1.0
        # close above it, the top eigenvalue of G is by far the largest of (s I - G)^-1
        _lanczos_ritz(G, shifted, True, u, SHIFT_INVERT_STEPS, 3e-8, workspace)
    return -1.0


# For tests: a call from Python passes a plain bool, which numba would compile as a third
# signature of the routines above; these pass the literal, as the kernels do (one compile each).
@_jit
def certified_top_of_rows(P, G, u, workspace):
    """_certified_top(P, True, ...): lambda_max of G = P P^T, or -1.0."""
    return _certified_top(P, True, G, u, workspace)


@_jit
def certified_top_of_columns(P, G, u, workspace):
    """_certified_top(P, False, ...): lambda_max of G = P^T P, or -1.0."""
    return _certified_top(P, False, G, u, workspace)


@_jit
def gram_of_rows(P, G):
    _gram(P, True, G)


@_jit
def gram_of_columns(P, G):
    _gram(P, False, G)


@_jit
def _log10(norm, log10_scale):
    return np.log10(norm) + log10_scale if norm > 0.0 else LOG10_OF_ZERO


@_jit
def chain_log10_norm(M, log10_scale, u, workspace):
    """log10 of ||M|| 10**log10_scale for a running product M, renormalised (largest |entry| 1).
    u: the chain's warm unit vector (the previous step's top left singular vector), updated.
    Paths: a dominated product; the certified Gram path; LAPACK on the same Gram matrix."""
    norm = -1.0
    largest = np.abs(M).max()
    if M.shape[0] == 1:
        norm = abs(M[0, 0])
    elif largest == 0.0:
        norm = 0.0
    elif not 1e-100 < largest < 1e100:  # squares could leave float64's range: the SVD
        norm = _spectral_norm(M)
    else:
        norm = _dominant_norm(M, u, workspace[4], workspace[5])
        if norm < 0.0:
            A = M
            if largest != 1.0:
                A = workspace[1]
                A[:, :] = M / largest
            G = workspace[0]
            _gram(A, True, G)
            top = _certified_top(A, True, G, u, workspace)
            if top < 0.0:
                top = np.linalg.eigvalsh(G)[-1]
            norm = np.sqrt(max(top, 0.0)) * largest
    return _log10(norm, log10_scale)


@_jit_fast
def _tridiagonalize(A, diagonal, off_diagonal):
    """Householder reduction of the symmetric A (overwritten) to a tridiagonal matrix with the same
    eigenvalues (the first half of LAPACK's eigvalsh, dsytrd, without its call overhead): backward
    stable, the eigenvalues of A + E with ||E|| = O(H eps ||A||). off_diagonal[k] couples k, k + 1."""
    n = A.shape[0]
    v = np.empty(n)  # the reflector of column k, unit length, in v[:m]
    w = np.empty(n)
    for k in range(n - 2):
        m = n - k - 1  # the column's part below the diagonal: rows k + 1 .. n - 1
        diagonal[k] = A[k, k]
        scale = 0.0
        for i in range(m):
            scale = max(scale, abs(A[k + 1 + i, k]))
        if scale == 0.0:  # already tridiagonal in this column
            off_diagonal[k] = 0.0
            continue
        length2 = 0.0
        for i in range(m):
            v[i] = A[k + 1 + i, k] / scale  # scaled first: its square cannot under- or overflow
            length2 += v[i] * v[i]
        alpha = -np.sqrt(length2) if v[0] >= 0.0 else np.sqrt(length2)  # (no cancellation in v[0])
        off_diagonal[k] = alpha * scale
        v[0] -= alpha
        reflector2 = 0.0
        for i in range(m):
            reflector2 += v[i] * v[i]
        inverse = 1.0 / np.sqrt(reflector2)
        for i in range(m):
            v[i] *= inverse
        # (I - 2 v v^T) A22 (I - 2 v v^T) = A22 - v w^T - w v^T, w = 2 A22 v - 2 (v^T A22 v) v
        for i in range(m):
            total = 0.0
            for j in range(m):
                total += A[k + 1 + i, k + 1 + j] * v[j]
            w[i] = 2.0 * total
        along = 0.0
        for i in range(m):
            along += v[i] * w[i]
        for i in range(m):
            w[i] -= along * v[i]
        for i in range(m):
            for j in range(m):
                A[k + 1 + i, k + 1 + j] -= v[i] * w[j] + w[i] * v[j]
    diagonal[n - 2] = A[n - 2, n - 2]
    off_diagonal[n - 2] = A[n - 1, n - 2]
    diagonal[n - 1] = A[n - 1, n - 1]


@_jit
def _symmetric_top_eigenvalue(G):
    """Largest eigenvalue of the symmetric G (overwritten): a Householder reduction to tridiagonal
    form, then bisection on Sturm counts to adjacent floats (LAPACK's dsytrd + dstebz). Exact to
    O(n eps ||G||), like eigvalsh, in less than half its time at n = 32: every (L4) per-step factor
    norm at H <= DIRECT_UP_TO. (Not the Lanczos tridiagonal of the certified path, which loses
    orthogonality and is only a candidate there.)
    G's entries must be of moderate size (no scaling here: the Sturm count squares the
    off-diagonal): `matrix_norm` passes the Gram matrix of M / max|M|, entries at most n and top
    eigenvalue at least 1."""
    n = G.shape[0]
    if n == 1:
        return G[0, 0]
    diagonal = np.empty(n)
    off_diagonal = np.empty(n)
    _tridiagonalize(G, diagonal, off_diagonal)
    low, high = -np.inf, -np.inf  # the top lies in [max diagonal, the Gershgorin bound]
    for i in range(n):
        radius = (abs(off_diagonal[i - 1]) if i > 0 else 0.0) + (abs(off_diagonal[i]) if i < n - 1 else 0.0)
        low = max(low, diagonal[i])
        high = max(high, diagonal[i] + radius)
    for _ in range(2100):  # (each halves the interval: adjacent floats long before)
        middle = 0.5 * (low + high)
        if not low < middle < high:
            break
        if _eigenvalues_below(diagonal, off_diagonal, n, middle) == n:
            high = middle
        else:
            low = middle
    return high


@_jit
def matrix_norm(M, workspace):
    """||M||_2 of one matrix (a per-step factor), exact: at H <= DIRECT_UP_TO the direct
    eigen-solve of the Gram matrix of M / max|M|; above, the certified Gram path started from the
    Gram matrix's largest column, else LAPACK on the same Gram matrix (deterministic either way: the
    value does not depend on what was computed before); the SVD at extreme scales."""
    if M.shape[0] == 1 and M.shape[1] == 1:
        return abs(M[0, 0])
    largest = np.abs(M).max()
    if largest == 0.0:
        return 0.0
    if not 1e-100 < largest < 1e100:
        return _spectral_norm(M)
    A = workspace[1]
    A[:, :] = M / largest
    G = workspace[0]
    _gram(A, False, G)
    H = G.shape[0]
    if H <= DIRECT_UP_TO:
        return np.sqrt(max(_symmetric_top_eigenvalue(G), 0.0)) * largest
    best = 0
    for i in range(H):
        if G[i, i] > G[best, best]:
            best = i
    u = np.empty(H)
    length = 0.0
    for i in range(H):
        u[i] = G[i, best]
        length += u[i] * u[i]
    for i in range(H):
        u[i] /= np.sqrt(length)
    top = _certified_top(A, False, G, u, workspace)
    if top < 0.0:
        top = np.linalg.eigvalsh(G)[-1]
    return np.sqrt(max(top, 0.0)) * largest
