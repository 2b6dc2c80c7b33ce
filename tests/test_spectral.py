"""simulator/spectral.py: every spectral norm is LAPACK's or certified, never an estimate.

The certified paths must be impossible to fool: a wrong start vector, a clustered or repeated top
of the spectrum, extreme scales. Each path is checked against numpy's SVD on matrices chosen to
be hard, and the certificate itself is checked to reject a value below the top.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator import Setup, reference
from simulator.weights import _seeded_bases, input_sequence, initial_states, lstm_params

spectral = pytest.importorskip("simulator.spectral", reason="numba kernels not installed")

REL = 1e-12


def _hard_matrices(rng, count):
    """Matrices on which an iterative top-singular-value solver is easily wrong: clustered and
    nearly repeated top values, all values equal, nearly rank one, random."""
    for trial in range(count):
        H = int(rng.integers(2, 24))
        kind = trial % 5
        Q1, Q2 = (np.linalg.qr(rng.standard_normal((H, H)))[0] for _ in range(2))
        if kind == 0:
            M = rng.standard_normal((H, H))
        elif kind == 1:  # repeated diagonal values, a tiny perturbation
            M = np.diag(rng.choice([0.2, 0.5, 0.5, 1.0], H)) + 1e-160 * rng.standard_normal((H, H))
        elif kind == 2:  # top two singular values 1e-16 .. 1e-6 apart
            values = np.sort(rng.uniform(0.9, 1.0, H))[::-1]
            values[1] = values[0] * (1.0 - 10.0 ** rng.uniform(-16, -6))
            M = Q1 @ np.diag(values) @ Q2
        elif kind == 3:  # every singular value equal
            M = 0.7 * Q1
        else:  # nearly rank one, like a long product
            M = np.outer(rng.standard_normal(H), rng.standard_normal(H)) + 1e-3 * rng.standard_normal((H, H))
        yield kind, np.ascontiguousarray(M / np.abs(M).max())


def _every_path(M):
    """||M|| by LAPACK (`spectral_norm`), by the per-step path (`matrix_norm`) and by the chain
    path (`chain_log10_norm`, which expects a renormalised product)."""
    H = M.shape[0]
    workspace = spectral.norm_workspace(H)
    largest = np.abs(M).max()
    chain = 10.0 ** spectral.chain_log10_norm(M / largest, 0.0, reference.start_vector(H), workspace) * largest \
        if largest > 0 else 0.0
    return {"LAPACK": spectral.spectral_norm(M), "per step": spectral.matrix_norm(M, workspace), "chain": chain}


def test_every_path_matches_the_svd_on_hard_matrices():
    rng = np.random.default_rng(11)
    cases = [
        np.zeros((3, 3)),
        np.array([[-2.5]]),
        np.eye(4) * 1e-300,  # squares underflow
        rng.standard_normal((6, 6)) * 1e-160,
        rng.standard_normal((6, 6)) * 1e150,
        rng.standard_normal((6, 6)) * 1e-96,  # Gram fine, its squares not: the scaled path
        rng.standard_normal((6, 6)) * 1e-55,
        rng.standard_normal((6, 6)) * 1e80,
        np.diag([1.0, 1.0, 1.0 - 1e-15, 0.5]),  # clustered top
        # repeated top value plus a tiny perturbation: a Gram/tridiagonal solver once returned 0.27
        np.diag([0.26894, 0.5, 0.5]) + np.array([[0.0, 2.1e-160, 1.6e-160], [1.1e-160, 0.0, -1.8e-160],
                                                 [-2.4e-160, 3.0e-161, 0.0]]),
        *(np.diag(rng.choice([0.1, 0.3, 0.5], 8)) + rng.standard_normal((8, 8)) * 10.0 ** -exponent
          for exponent in (3, 40, 120, 200)),
        np.outer(rng.standard_normal(7), rng.standard_normal(7)),  # rank one
        np.diag(rng.uniform(0.5, 1.0, 9)) @ np.linalg.qr(rng.standard_normal((9, 9)))[0],
        # like an (L4) term at H = 40: orthogonal between diagonals, clustered top singular values
        np.diag(rng.uniform(0.0, 0.25, 40)) @ np.linalg.qr(rng.standard_normal((40, 40)))[0]
        @ np.diag(rng.uniform(0.0, 1.0, 40)),
        # like a product at H = 96: orthogonal times a diagonal close to 1, a tightly clustered top
        np.linalg.qr(rng.standard_normal((96, 96)))[0] @ np.diag(1.0 - rng.uniform(0.0, 1e-3, 96)),
    ]
    for M in cases:
        M = np.ascontiguousarray(M)
        want = np.linalg.norm(M, 2)
        for path, got in _every_path(M).items():
            assert got == pytest.approx(want, rel=REL, abs=0.0), (path, M)


def test_every_path_on_many_hard_matrices():
    # the certified paths from a fixed start, and LAPACK on clustered / repeated spectra
    rng = np.random.default_rng(23)
    for kind, M in _hard_matrices(rng, 300):
        want = np.linalg.norm(M, 2)
        for path, got in _every_path(M).items():
            assert got == pytest.approx(want, rel=2e-13, abs=0.0), (path, kind, M)
        for scale in (1e-200, 1e200):  # the SVD path for extreme scales
            assert spectral.matrix_norm(M * scale, spectral.norm_workspace(M.shape[0])) == pytest.approx(
                np.linalg.norm(M * scale, 2), rel=1e-13)


def test_the_certified_top_is_exact_or_declines_even_from_a_blind_start():
    # The certificate (a Rayleigh quotient below, a Cholesky factorisation above) must make a wrong
    # answer impossible: here the start vector is often orthogonal to the top singular vector,
    # where plain Lanczos converges to the second singular value.
    rng = np.random.default_rng(17)
    accepted = 0
    for kind, M in _hard_matrices(rng, 600):
        H = M.shape[0]
        top_left = np.linalg.svd(M)[0][:, 0]
        u = rng.standard_normal(H)
        if rng.random() < 0.5:
            u -= (u @ top_left) * top_left
        u /= np.linalg.norm(u)
        G = np.ascontiguousarray(M @ M.T)
        got = spectral.certified_top_of_rows(M, G, u, spectral.norm_workspace(H))
        if got == -1.0:
            continue
        accepted += 1
        assert np.sqrt(got) == pytest.approx(np.linalg.norm(M, 2), rel=2e-13, abs=0.0), (kind, M)
    assert accepted > 400  # and it does answer most of the time


def test_the_certificate_rejects_a_value_below_the_top():
    # theta (1 + margin) I - G is not positive definite when theta is below the top eigenvalue
    G = np.diag([1.0, 0.64, 0.09])
    work = np.empty((3, 3))
    assert spectral._shifted_factor(G, 1.0 * (1 + 1e-13), work)
    assert not spectral._shifted_factor(G, 0.64 * (1 + 1e-13), work)
    assert not spectral._shifted_factor(G, 1.0 * (1 - 1e-12), work)
    assert not spectral._shifted_factor(G * np.nan, 2.0, work)


def test_the_gram_matrix_by_syrk_equals_the_product():
    rng = np.random.default_rng(3)
    P = rng.standard_normal((7, 7))
    G = np.empty((7, 7))
    spectral.gram_of_rows(P, G)
    np.testing.assert_allclose(G, P @ P.T, rtol=1e-14, atol=1e-14)
    assert np.array_equal(G, G.T)
    spectral.gram_of_columns(P, G)
    np.testing.assert_allclose(G, P.T @ P, rtol=1e-14, atol=1e-14)


def test_the_certified_path_answers_for_the_clustered_L4_sums_of_a_real_setup():
    # At large H every (L4) sum has a clustered top (its singular values sit near the forget gates'
    # values): the shift-and-invert rounds must still prove the value, not leave it to LAPACK.
    setup = Setup(hidden_size=96, steps=12)
    params, x = lstm_params(setup), input_sequence(setup)
    _, h0, C0 = initial_states(setup)
    pre, _, _, C = reference.lstm_forward(params.W_x, params.W_h, params.b, x, h0, C0)
    workspace = spectral.norm_workspace(96)
    for t in range(2, 13):
        M = sum(reference.lstm_factor_terms(params.W_h, pre, C, t))
        A = np.ascontiguousarray(M / np.abs(M).max())
        G = np.ascontiguousarray(A.T @ A)
        top = spectral.certified_top_of_columns(A, G, reference.start_vector(96), workspace)
        assert top > 0.0, t
        assert np.sqrt(top) * np.abs(M).max() == pytest.approx(np.linalg.norm(M, 2), rel=2e-13, abs=0.0)


def test_dominant_norm_is_certified_only_when_the_top_singular_value_dominates():
    rng = np.random.default_rng(5)
    H = 10
    Q1, Q2 = (np.linalg.qr(rng.standard_normal((H, H)))[0] for _ in range(2))
    dominated = Q1 @ np.diag([1.0] + [0.05] * (H - 1)) @ Q2  # like a long product
    flat = Q1 @ np.diag(np.linspace(1.0, 0.9, H)) @ Q2  # like one step's factor
    w, Pw = np.empty(H), np.empty(H)
    u = reference.start_vector(H)
    answers = [spectral._dominant_norm(dominated, u, w, Pw) for _ in range(3)]  # u is warm after the first
    assert answers[0] == -1.0 or answers[0] == pytest.approx(np.linalg.norm(dominated, 2), rel=REL)
    for got in answers[1:]:
        assert got == pytest.approx(np.linalg.norm(dominated, 2), rel=REL, abs=0.0)
    assert spectral._dominant_norm(flat, reference.start_vector(H), w, Pw) == -1.0  # not certifiable
    assert spectral._dominant_norm(np.zeros((H, H)), reference.start_vector(H), w, Pw) == -1.0


@pytest.mark.parametrize("H", [2, 64, 512])
def test_the_orthogonal_shortcut_is_found_for_the_seeded_bases_at_every_size(H):
    # (its test once used the Frobenius norm of Q^T Q - I, whose rounding grows like H: at H = 512
    # the seeded bases failed it and every RNN factor took the general path, 19 ms a step)
    U = 0.9 * _seeded_bases(0, H, 1)["U"]
    assert spectral.orthogonal_gain(U) == pytest.approx(0.9, rel=1e-14)
    assert spectral.orthogonal_gain(np.ascontiguousarray(U * np.linspace(1.0, 1.01, H))) == -1.0


def test_the_direct_top_eigenvalue_equals_lapack_s_on_hard_symmetric_matrices():
    """`_symmetric_top_eigenvalue` (Householder to tridiagonal, then bisection: every per-step
    factor norm at H <= DIRECT_UP_TO) against LAPACK's eigvalsh: Gram matrices of the hard
    matrices, indefinite and diagonal ones, a zero column, clustered and repeated tops, all sizes
    up to DIRECT_UP_TO + 2, to O(n eps) of the largest eigenvalue's magnitude."""
    rng = np.random.default_rng(29)
    cases = []
    for _kind, M in _hard_matrices(rng, 200):
        cases.append(M.T @ M)
    for n in (2, 3, 5, 8, 17, 32, spectral.DIRECT_UP_TO, spectral.DIRECT_UP_TO + 2):
        S = rng.standard_normal((n, n))
        cases.append(S + S.T)  # indefinite: the largest, not the largest in magnitude
        cases.append(-(S @ S.T))  # negative definite
        cases.append(np.diag(rng.uniform(-1.0, 1.0, n)))  # already tridiagonal (zero reflectors)
        cases.append(np.diag(np.full(n, 0.5)) + 1e-17 * (S + S.T))  # repeated top, a tiny perturbation
        Z = S @ S.T
        Z[:, 0] = Z[0, :] = 0.0  # a zero column
        cases.append(Z)
        Q = np.linalg.qr(S)[0]
        values = np.sort(rng.uniform(0.0, 1.0, n))
        values[-2] = values[-1] * (1.0 - 1e-12)  # the top two 1e-12 apart
        cases.append(Q @ np.diag(values) @ Q.T)
    for G in cases:
        G = np.ascontiguousarray((G + G.T) / 2.0)
        want = np.linalg.eigvalsh(G)
        got = spectral._symmetric_top_eigenvalue(G.copy())
        assert abs(got - want[-1]) <= 8 * G.shape[0] * np.finfo(float).eps * np.abs(want).max(), (got, want[-1], G)
