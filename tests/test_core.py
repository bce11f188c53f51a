"""Core validation: spectrum, TG ground state and the one-particle density matrix.

References are named in each test's docstring.  Brute-force ED comparisons live in
tests/test_core_ed.py.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import tgsweep
from tgsweep import Ring, ground_state, obdm
from tgsweep.core import spectrum
from tgsweep.core import _obdm_kernels as OK
from tgsweep.core.obdm import obdm_lattice, obdm_reference
from tgsweep.models.potentials import make_potential

from _tolerances import EIGENVECTOR, ROUNDOFF, ROUNDOFF_SOLVE, ROUNDOFF_SUM

# ------------------------------------------------------------------------------------ spectrum


def test_continuum_clean_energies_h2():
    """Clean continuum ring: grid eigenvalues (2/h^2)(1 - cos kh) = k^2 - h^2 k^4/12 + O(h^4),
    k = (2 pi j + phi)/L (finite-difference dispersion), so the error is O(h^2) with the stated
    coefficient.  Exact free-particle spectrum of -d^2/dx^2 with twisted bc."""
    L = 7.0
    for phi in (0.0, np.pi, 0.9):
        ks = np.sort(np.abs((2 * np.pi * np.arange(-6, 7) + phi) / L))[:8]
        errs = []
        for ppu in (16, 32):
            ring = Ring.continuum(L, ppu, None)
            w = spectrum.eigenvalues(ring, phi, 0, 8)
            h = 1.0 / ppu
            np.testing.assert_allclose(w, np.sort((2 / h**2) * (1 - np.cos(ks * h))),
                                       rtol=10 * ROUNDOFF_SUM, atol=ROUNDOFF_SOLVE)
            np.testing.assert_allclose(w - np.sort(ks**2), -(h**2) * np.sort(ks) ** 4 / 12,
                                       rtol=0.02, atol=EIGENVECTOR)
            errs.append(np.max(np.abs(w - np.sort(ks**2))))
        assert 3.8 < errs[0] / errs[1] < 4.2  # O(h^2)


@pytest.mark.parametrize("phi", [0.0, np.pi, 0.37, -2.0])
@pytest.mark.parametrize("kind", ["lattice", "continuum"])
def test_bisect_matches_dense(kind, phi):
    """O(M) Sturm bisection + inverse iteration against LAPACK dsyevr/zheevr on the dense
    matrix: eigenvalues to ~eps ||H||, eigenvectors to phase, residuals ||Hv - Ev|| tiny."""
    rng = np.random.default_rng(7)
    ring = (Ring.lattice(rng.uniform(-3, 3, 300)) if kind == "lattice"
            else Ring.continuum(20, 16, rng.uniform(0, 40, 320)))
    w, v = spectrum.eigenpairs(ring, phi, 0, 25, method="bisect")
    wd, vd = spectrum.dense_eigenpairs(ring, phi, 0, 25)
    hn = 4 * ring.hopping + np.abs(ring.potential).max()
    np.testing.assert_allclose(w, wd, rtol=0, atol=ROUNDOFF_SUM * hn)
    np.testing.assert_allclose(np.abs(v.conj().T @ vd), np.eye(25), atol=EIGENVECTOR)
    res = ring.matrix(phi) @ v - v * w
    assert np.abs(res).max() < 1e-11 * hn
    assert (v.dtype == np.float64) == (np.sin(phi) == 0 or abs(np.sin(phi)) < 1e-15)


def test_eigenpairs_in_window():
    """Levels in a window J = (a, b] and below mu: the same set as LAPACK's full spectrum
    restricted to the window (dense eigvalsh)."""
    rng = np.random.default_rng(4)
    ring = Ring.continuum(16, 8, rng.uniform(0, 30, 128))
    for phi in (0.0, np.pi, 0.5):
        full = np.linalg.eigvalsh(ring.matrix(phi))
        for a, b in [(-np.inf, 40.0), (10.0, 60.0), (61.0, 61.5)]:
            w, v, i0 = spectrum.eigenpairs_in_window(ring, phi, a, b, method="bisect")
            sel = full[(full > a) & (full <= b)]
            np.testing.assert_allclose(w, sel, atol=EIGENVECTOR)
            assert v.shape == (128, sel.size) and i0 == np.sum(full <= a)
    with pytest.raises(ValueError, match="window"):
        spectrum.eigenpairs_in_window(ring, 0.0, 5.0, 1.0)


def test_sturm_counts_match_dense():
    """Sylvester inertia of the block arrow LDL^H = number of eigenvalues below E (dense
    eigvalsh), including E at exact eigenvalues of the open chain (clean ring) where 1x1 pivots
    would vanish."""
    rng = np.random.default_rng(3)
    rings = [Ring.lattice(np.zeros(40)), Ring.lattice(rng.uniform(-2, 2, 61)),
             Ring.continuum(5, 10, rng.normal(0, 5, 50))]
    for ring in rings:
        for phi in (0.0, np.pi, 1.1):
            w = np.linalg.eigvalsh(ring.matrix(phi))
            es = np.concatenate([rng.uniform(w[0] - 1, w[-1] + 1, 40),
                                 2 * np.cos(np.pi * np.arange(1, 8) / 40)])
            for e in es:
                tol = 1e-9 * (1 + abs(e))
                c = spectrum.count_below(ring, phi, e)
                assert np.sum(w < e - tol) <= c <= np.sum(w < e + tol)
                if np.min(np.abs(w - e)) > tol:
                    assert c == np.sum(w < e)


def test_particle_numbers_clean_lattice():
    """N^{+/-}_mu on the clean lattice ring: count of j with -2 cos((2 pi j + phi)/M) <= mu,
    phi = 0 / pi (closed form of the free spectrum); N_mu = min(N+, N-) (Seiringer-Warzel)."""
    M = 30
    ring = Ring.lattice(np.zeros(M))
    j = np.arange(M)
    for mu in (-1.9, -1.0, -0.3, 0.45, 1.2):
        n_plus = np.sum(-2 * np.cos(2 * np.pi * j / M) <= mu)
        n_minus = np.sum(-2 * np.cos((2 * np.pi * j + np.pi) / M) <= mu)
        assert tgsweep.particle_numbers(ring, mu) == (min(n_plus, n_minus), n_plus, n_minus)
        st_ = ground_state(ring, mu=mu)
        assert st_.n_particles == min(n_plus, n_minus)


def test_ground_state_arguments():
    ring = Ring.lattice(np.zeros(10))
    with pytest.raises(ValueError, match="exactly one"):
        ground_state(ring)
    with pytest.raises(ValueError, match="n_particles"):
        ground_state(ring, n_particles=11)
    with pytest.raises(ValueError, match="indices"):
        tgsweep.excited_state(ring, [1, 1])
    with pytest.raises(ValueError, match="length"):
        Ring.continuum(2.5, 3, None)
    with pytest.raises(ValueError, match="potential"):
        Ring.continuum(2, 3, np.zeros(5))
    st0 = ground_state(ring, n_particles=0)
    assert obdm(st0).shape == (10, 10) and not obdm(st0).any()


# ------------------------------------------------------------------------------------ OBDM


@pytest.mark.parametrize("N,ref", [(2, 16 / np.pi**2), (3, 2.106454), (5, 2.880686),
                                   (10, 4.307661)])
def test_clean_ring_condensate(N, ref):
    """Largest eigenvalue of gamma on the clean continuum ring against Lenard's Toeplitz
    determinant values (Forrester, Frankel, Garoni, Witte, PRA 67, 043607 (2003); N = 2 exactly
    16/pi^2), after Richardson extrapolation h -> 0 in h^2, h^4 (finite-difference grid)."""
    hs, vals = [], []
    for ppu in (12, 16, 24):
        ring = Ring.continuum(N, ppu, None)
        g = obdm(ground_state(ring, n_particles=N)) * ring.spacing
        vals.append(np.linalg.eigvalsh(g)[-1])
        hs.append(1.0 / ppu)
    hs = np.array(hs)
    coef = np.linalg.solve(np.vstack([np.ones(3), hs**2, hs**4]).T, np.array(vals))
    assert abs(coef[0] - ref) < 1e-4


def _disorder_cases():
    cases = []
    for kind, params in [("uniform", dict(width=6.0)), ("gaussian", dict(sigma=2.0)),
                         ("bernoulli", dict(a=0.0, b=5.0, p=0.5)),
                         ("poisson", dict(density=0.7, height=30.0)),
                         ("speckle", dict(strength=4.0, corr_length=0.3)),
                         ("white_noise", dict(D=2.0))]:
        cases.append(("continuum", kind, params))
    for kind, params in [("uniform", dict(width=3.0)), ("anderson", dict(W=4.0)),
                         ("aubry_andre", dict(lam=3.0)), ("bernoulli", dict(a=-1.0, b=1.0, p=0.3))]:
        cases.append(("lattice", kind, params))
    return cases


@pytest.mark.parametrize("model,kind,params", _disorder_cases())
@pytest.mark.parametrize("theta", [0.0, 0.8])
def test_obdm_invariants(model, kind, params, theta):
    """Invariants of any one-particle density matrix of a TG state, over every disorder model and
    both model kinds, real and complex orbitals: Hermitian, positive semidefinite, Tr = N,
    diagonal = free-fermion density (Bose-Fermi map), |gamma(x,y)|^2 <= gamma(x,x) gamma(y,y)
    (Cauchy-Schwarz for <b+_x b_y>), and agreement with the per-pair NumPy twin."""
    rng = np.random.default_rng(11)
    if model == "continuum":
        ppu, L, N = 8, 12, 7
        ring = Ring.continuum(L, ppu, make_potential(kind, rng, L * ppu, ppu, **params))
    else:
        ring = Ring.lattice(make_potential(kind, rng, 48, 1, **params))
        N = 13
    stt = ground_state(ring, n_particles=N, twist=theta)
    g = obdm(stt)
    h = ring.weight
    assert np.iscomplexobj(g) == (abs(np.sin(stt.fermion_twist)) > 1e-15)
    np.testing.assert_allclose(g, g.conj().T, atol=10 * ROUNDOFF / h)
    lam = np.linalg.eigvalsh(g * h)
    assert lam.min() > -1e-10
    assert abs(np.trace(g).real * h - N) < 1e-10
    np.testing.assert_allclose(np.diag(g).real, stt.density(), atol=10 * ROUNDOFF_SUM / h)
    d = np.diag(g).real
    assert np.all(np.abs(g) ** 2 <= np.outer(d, d) * (1 + 1e-9) + 1e-20)
    u = stt.lattice_orbitals
    pairs = rng.integers(0, ring.n_grid, (60, 2))
    np.testing.assert_allclose(g[pairs[:, 0], pairs[:, 1]] * h, obdm_reference(u, pairs),
                               atol=ROUNDOFF_SUM)


@pytest.mark.parametrize("complex_", [False, True])
def test_obdm_kernel_singular_paths(complex_):
    """Kernel vs per-pair bordered determinant (NumPy twin) for random orthonormal orbitals (not
    eigenvectors) where O^T becomes singular along the sweep; forcing the exact
    eigendecomposition / adjugate branches with tol_den = 0.9 must give the same matrix."""
    rng = np.random.default_rng(5)
    M, N = 70, 9
    a = rng.normal(size=(M, N)) + (1j * rng.normal(size=(M, N)) if complex_ else 0)
    u, _ = np.linalg.qr(a)
    u = np.ascontiguousarray(u)
    ref = obdm_reference(u)
    np.testing.assert_allclose(obdm_lattice(u), ref, atol=ROUNDOFF_SUM)
    for stride, tol_den, tol_eig in [(16, 0.9, 0.5), (7, 1e-3, 1e-3), (1024, 0.999, 0.9)]:
        q = OK.prefix_checkpoints(u, stride)
        out = np.zeros((M, M), dtype=u.dtype)
        restarts = OK.obdm_rows(u, q, stride, np.arange(M), out, 0, tol_den, tol_eig)
        OK.mirror_lower(out)
        assert restarts > 0
        np.testing.assert_allclose(out, ref, atol=ROUNDOFF_SUM)


@pytest.mark.parametrize("complex_", [False, True])
def test_grouped_kernel_branches(complex_):
    """Grouped sweep (g + 1 rows per master sweep, Woodbury + nested bordered determinants)
    against the per-pair bordered determinant for random orthonormal orbitals, with group sizes
    0..12 and thresholds that force the small-determinant fallback (tol_piv = 2), the master's
    adjugate mode (tol_den = 0.999, tol_eig = 0.95) and frequent refreshes (stride 7)."""
    rng = np.random.default_rng(15)
    M, N = 60, 7
    a = rng.normal(size=(M, N)) + (1j * rng.normal(size=(M, N)) if complex_ else 0)
    u, _ = np.linalg.qr(a)
    u = np.ascontiguousarray(u)
    ref = obdm_reference(u)
    for g, tol_den, tol_eig, tol_piv, stride in [(0, 1e-3, 1e-3, 1e-2, 1024),
                                                 (5, 0.9, 0.5, 2.0, 16),
                                                 (5, 0.999, 0.95, 1e-12, 1024),
                                                 (12, 1e-3, 1e-3, 0.9, 7), (3, 1e-3, 1e-3, 1e-2, 64)]:
        q = OK.prefix_checkpoints(u, stride)
        out = np.zeros((M, M), dtype=u.dtype)
        OK.obdm_grouped(u, q, stride, out, 0, 0, M, g, tol_den, tol_eig, tol_piv)
        OK.mirror_lower(out)
        np.testing.assert_allclose(out, ref, atol=ROUNDOFF_SUM)


def test_obdm_exact_singularity():
    """A Slater determinant whose O^T is exactly singular at a pair (two orbitals that are
    sign-symmetric copies: u_2 = D u_1 pattern) -- the adjugate branch must be exact there
    (reference: per-pair bordered determinant, which needs no inverse)."""
    M = 16
    e = np.zeros((M, 2))
    # orbitals supported on sites 2..5; for S = {3, 4} sum_z u u^T = I/2 -> O^T = 0 at (x, y) = (2, 5)
    e[3, 0] = e[4, 0] = np.sqrt(0.25)
    e[3, 1] = np.sqrt(0.25)
    e[4, 1] = -np.sqrt(0.25)
    e[2, 0] = e[5, 0] = np.sqrt(0.25)
    e[2, 1] = np.sqrt(0.25)
    e[5, 1] = -np.sqrt(0.25)
    u = np.ascontiguousarray(e)
    assert np.allclose(u.T @ u, np.eye(2))
    ot = np.eye(2) - 2 * (u[3:5].T @ u[3:5])
    assert np.allclose(ot, 0)
    np.testing.assert_allclose(obdm_lattice(u), obdm_reference(u), atol=ROUNDOFF)


# ------------------------------------------------------------------------------------ Hadamard


def _bordered(rng, p, q, unitary):
    n = p + q
    k = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    if unitary:
        k, _ = np.linalg.qr(k)
    else:
        k /= np.linalg.norm(k, 2) * rng.uniform(1.0, 3.0)
    alpha = complex(rng.normal(), rng.normal()) * rng.uniform(0, 2)
    v, u = (rng.normal(size=p) + 1j * rng.normal(size=p)), rng.normal(size=q) + 1j * rng.normal(size=q)
    uh, vh = rng.normal(size=p) + 1j * rng.normal(size=p), rng.normal(size=q) + 1j * rng.normal(size=q)
    big = np.zeros((n + 1, n + 1), dtype=complex)
    big[0, 0] = alpha
    big[0, 1:p + 1], big[0, p + 1:] = v, u
    big[1:p + 1, 0], big[p + 1:, 0] = uh, vh
    big[1:, 1:] = k
    B = k[:p, p:]
    nrm = np.linalg.norm
    bound = (np.sqrt(np.e) * nrm(v) * nrm(vh) * (nrm(B, 2) if B.size else 0.0) + abs(alpha)
             + nrm(u) * nrm(uh) + nrm(v) * nrm(uh) + nrm(vh) * nrm(u))
    return abs(np.linalg.det(big)), bound


@settings(max_examples=300, deadline=None)
@given(p=st.integers(0, 5), q=st.integers(0, 5), seed=st.integers(0, 2**32 - 1),
       unitary=st.booleans())
def test_improved_hadamard_bound(p, q, seed, unitary):
    """Improved Hadamard bound (Sims & Warzel, CMP 2016, arXiv:1509.00450, Lemma on bordered
    determinants): for ||K|| <= 1, |det [[a, v^T, u^T], [u^, A, B], [v^, C, D]]| <=
    sqrt(e)||v|| ||v^|| ||B|| + |a| + ||u|| ||u^|| + ||v|| ||u^|| + ||v^|| ||u||."""
    assume(p + q > 0)
    d, bound = _bordered(np.random.default_rng(seed), p, q, unitary)
    assert d <= bound * (1 + 1e-10) + 1e-12


def test_hadamard_bound_on_obdm():
    """The OBDM value is -det [[0, u(x)^H], [u(y), O^T]] with ||O^T|| <= 1 (q = 0 partition of
    the Sims-Warzel bound): |gamma(x,y)| <= ||u(x)|| ||u(y)||, checked on a disordered sample."""
    rng = np.random.default_rng(2)
    ring = Ring.lattice(rng.uniform(-2, 2, 80))
    stt = ground_state(ring, n_particles=17, twist=0.6)
    g = obdm(stt)
    nr = np.linalg.norm(stt.lattice_orbitals, axis=1)
    assert np.all(np.abs(g) <= np.outer(nr, nr) * (1 + 1e-10))


def test_upper_rows_streaming_matches_full():
    """Streamed row blocks (kernel writing into an (R, M) buffer) equal the upper triangle of
    the full matrix, for every block size, real and complex orbitals."""
    from tgsweep.core.obdm import upper_rows_lattice

    rng = np.random.default_rng(8)
    for theta in (0.0, 0.4):
        stt = ground_state(Ring.lattice(rng.uniform(-2, 2, 45)), n_particles=11, twist=theta)
        u = stt.lattice_orbitals
        full = obdm_lattice(u)
        for r in (1, 7, 45):
            for x0 in range(0, 45, r):
                x1 = min(45, x0 + r)
                blk = upper_rows_lattice(u, x0, x1)
                np.testing.assert_allclose(np.triu(blk, x0), np.triu(full[x0:x1], x0),
                                           atol=ROUNDOFF)
                assert not np.tril(blk, x0 - 1).any()
