"""Tests of the Chebyshev propagator of tgsweep.core.evolution (method="chebyshev"), O(M N) per
term.

References: the Chebyshev series of e^{-i a x} (Tal-Ezer & Kosloff, J. Chem. Phys. 81, 3967
(1984)) against scipy's Pade expm; the dense eigenbasis evolution (method="eigen", LAPACK eigh);
the exact Bessel propagator of the clean chain (Antal, Racz, Rakos, Schutz, PRE 59, 4912 (1999)).
Each test names its reference in the docstring.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from scipy.special import jv

from tgsweep import Ring
from tgsweep.core import _dynamics_kernels as K
from tgsweep.core.evolution import (DENSE_MAX_DYNAMICS, Evolution, choose_method, evolve_density,
                                    evolve_orbitals, evolved_obdm, time_grid)
from tgsweep.core.spectrum import spectral_bounds
from tgsweep.core.initial_states import domain_wall, trap_release
from tgsweep.observables.dynamics import dynamics_sample, front_profile_lattice

from _tolerances import EIGENVECTOR, ROUNDOFF, ROUNDOFF_SOLVE, ROUNDOFF_SUM

RNG = np.random.default_rng(515)


def _anderson(m, w, seed):
    return np.random.default_rng(seed).uniform(-w / 2, w / 2, m)


def _ring_matrix(diag, hop, corner):
    """Dense ring matrix built entry by entry (tridiagonal + corners, boundary gauge), any M."""
    m = diag.size
    h = np.diag(diag).astype(np.complex128)
    for i in range(m - 1):
        h[i, i + 1] -= hop
        h[i + 1, i] -= hop
    h[0, m - 1] += corner
    h[m - 1, 0] += np.conj(corner)
    return h


# ---------------------------------------------------------------------------- kernel vs twin
@pytest.mark.parametrize("m", [1, 2, 3, 4, 17])
@pytest.mark.parametrize("phi", [0.0, np.pi, 0.9])
def test_chebyshev_kernel_matches_numpy_twin(m, phi):
    """chebyshev_propagate (numba, per-orbital stencil) against its twin, the same recursion
    with the dense matrix (NumPy complex arithmetic), random diagonal/coefficients, to 1e-13."""
    diag = RNG.standard_normal(m) * 2
    hop = 0.7
    corner = -hop * np.exp(-1j * phi)
    coef = RNG.standard_normal(9) + 1j * RNG.standard_normal(9)
    u = RNG.standard_normal((m, 3)) + 1j * RNG.standard_normal((m, 3))
    out = np.empty_like(u)
    K.chebyshev_propagate(diag, hop, complex(corner), 0.3, 4.0, coef, u, out)
    ref = K.chebyshev_propagate_reference(_ring_matrix(diag, hop, corner), 0.3, 4.0, coef, u)
    np.testing.assert_allclose(out, ref, rtol=0, atol=10 * ROUNDOFF * np.abs(ref).max())
    # in place (out is u) and a single term
    v = u.copy()
    K.chebyshev_propagate(diag, hop, complex(corner), 0.3, 4.0, coef, v, v)
    np.testing.assert_allclose(v, out, rtol=0, atol=ROUNDOFF / 10 * np.abs(ref).max())
    K.chebyshev_propagate(diag, hop, complex(corner), 0.3, 4.0, coef[:1], u, out)
    np.testing.assert_allclose(out, coef[0] * u, rtol=0, atol=ROUNDOFF / 10)


@pytest.mark.parametrize("a", [-7.5, 0.0, 0.3, 40.0, 250.0])
def test_chebyshev_series_is_exponential(a):
    """sum_k c_k (-i)^k J_k(a) T_k(X) = e^{-i a X} for a Hermitian X with spectrum in [-1, 1]
    (Tal-Ezer & Kosloff 1984), against scipy.linalg.expm (Pade), to 1e-12; the dropped Bessel
    tail is below the tolerance."""
    x = RNG.standard_normal((12, 12)) + 1j * RNG.standard_normal((12, 12))
    x = x + x.conj().T
    x /= np.abs(np.linalg.eigvalsh(x)).max() * 1.001
    c = K.chebyshev_coefficients(a)
    assert np.all(np.abs(jv(np.arange(c.size, c.size + 30), a)) < 1e-16)
    series = K.chebyshev_propagate_reference(x, 0.0, 1.0, c, np.eye(12))
    np.testing.assert_allclose(series, sla.expm(-1j * a * x), rtol=0, atol=ROUNDOFF_SUM)


def test_spectral_bounds_contain_spectrum():
    """Gershgorin bounds contain every eigenvalue of H_phi for several twists (dense eigvalsh)."""
    for ring in (Ring.lattice(_anderson(30, 4.0, 1)),
                 Ring.continuum(5, 6, 3 * RNG.standard_normal(30))):
        lo, hi = spectral_bounds(ring)
        for phi in (0.0, np.pi, 1.1):
            w = np.linalg.eigvalsh(ring.matrix(phi))
            assert lo <= w[0] and w[-1] <= hi


# ---------------------------------------------------------------------------- vs eigenbasis
def _cases():
    lat = Ring.lattice(_anderson(40, 2.0, 3))
    con = Ring.continuum(8, 6, 2.0 * np.random.default_rng(4).standard_normal(48))
    return [(lat, 0.0), (lat, 0.7), (lat, np.pi), (con, 0.0), (con, -1.2)]


@pytest.mark.parametrize("ring,twist", _cases(),
                         ids=["lat-0", "lat-0.7", "lat-pi", "cont-0", "cont-1.2"])
def test_chebyshev_matches_eigen(ring, twist):
    """Densities, orbitals (with their physical phase) and gamma_t of method="chebyshev"
    against the dense eigenbasis evolution (method="eigen"), on a non-uniform grid with
    negative times and a repeated time, to 1e-10 (orbitals lattice-normalized)."""
    for n in (5, 6):  # fermion twist theta and theta + pi
        ini = domain_wall(ring, n, twist=twist)
        times = np.array([0.0, 0.01, 0.5, 0.5, 3.0, -2.0, 17.0, 16.0])
        r_e = evolve_density(ring, ini, times, method="eigen")
        r_c = evolve_density(ring, ini, times, method="chebyshev")
        np.testing.assert_allclose(r_c * ring.weight, r_e * ring.weight,
                                   rtol=0, atol=ROUNDOFF_SOLVE)
        h = np.sqrt(ring.weight)
        o_e = evolve_orbitals(ring, ini, times, method="eigen") * h
        o_c = evolve_orbitals(ring, ini, times, method="chebyshev") * h
        np.testing.assert_allclose(o_c, o_e, rtol=0, atol=ROUNDOFF_SOLVE)
    ev = Evolution.prepare(ring, ini, method="chebyshev")
    np.testing.assert_allclose(ev.orbitals(3.0) * h, o_e[4], rtol=0, atol=ROUNDOFF_SOLVE)
    g_e = evolved_obdm(ring, ini, [2.5], method="eigen")
    g_c = evolved_obdm(ring, ini, [2.5], method="chebyshev")
    np.testing.assert_allclose(g_c, g_e, rtol=0, atol=ROUNDOFF_SOLVE * np.abs(g_e).max())


def test_chebyshev_long_times_error_accumulation():
    """10^4 steps (dt = 0.1) and one long jump to t = 5000 on a disordered, twisted lattice: the
    Chebyshev orbitals stay within 1e-9 of the eigenbasis evolution and orthonormal to 1e-9
    (unitarity of e^{-iHt}); error accumulation is linear in the number of terms."""
    ring = Ring.lattice(_anderson(64, 3.0, 5))
    ini = domain_wall(ring, 16, twist=0.4)
    times = np.arange(1, 10001) * 0.1
    ev = Evolution.prepare(ring, ini, method="chebyshev")
    for u in ev.iter_orbitals(times):
        pass
    ref = evolve_orbitals(ring, ini, times[-1:], method="eigen")[0]
    assert np.abs(u - ref).max() < 1e-9
    np.testing.assert_allclose(u.conj().T @ u, np.eye(16), rtol=0, atol=EIGENVECTOR)
    far = evolve_orbitals(ring, ini, [5000.0], method="chebyshev")[0]
    ref = evolve_orbitals(ring, ini, [5000.0], method="eigen")[0]
    assert np.abs(far - ref).max() < 1e-9


@pytest.mark.parametrize("twist", [0.0, 0.9])
def test_chebyshev_unitarity_continuum(twist):
    """Continuum (||H|| ~ 4/h^2 = 400): Tr Gamma_t = N and U_t^H U_t h = 1 to 1e-10 up to
    t = 20 (a = ||H|| t / 2 ~ 4000, split into sub-steps), trap release with disorder on."""
    ring = Ring.continuum(12, 10, np.random.default_rng(6).standard_normal(120))
    ini = trap_release(ring, 4, omega=2.0, twist=twist)
    times = [0.0, 0.3, 20.0]
    rho = evolve_density(ring, ini, times, method="chebyshev")
    np.testing.assert_allclose(rho.sum(axis=1) * ring.weight, 4.0, rtol=ROUNDOFF_SOLVE)
    for u in evolve_orbitals(ring, ini, times, method="chebyshev"):
        np.testing.assert_allclose(u.conj().T @ u * ring.weight, np.eye(4), atol=ROUNDOFF_SOLVE)


# ---------------------------------------------------------------------------- clean fronts
def test_chebyshev_filled_block_beyond_dense_limit():
    """Clean lattice of M = DENSE_MAX_DYNAMICS + 1 sites (no eigendecomposition possible), a
    filled block K of 200 sites: rho_j(t) = sum_{k in K} J_{j-k}(2t)^2 exactly on the chain
    (Antal, Racz, Rakos, Schutz, PRE 59, 4912 (1999); images negligible on this ring), to
    1e-10, from method="auto" (which must pick chebyshev); near each wall the hydrodynamic
    arccos(x/2t)/pi profile holds to 0.02 and N_tr(t) = 4t/pi (two walls) to 1%, t = 40 < 50
    when the inner fronts meet.  The infinite-time outputs are NaN (no eigenbasis)."""
    m, t = DENSE_MAX_DYNAMICS + 1, 40.0
    ring = Ring.lattice(np.zeros(m))
    ini = domain_wall(ring, 200, region=(1000, 1200))
    assert Evolution.prepare(ring, ini).method == "chebyshev"
    s = dynamics_sample(ring, ini, [0.0, 10.0, t])
    j = np.arange(m)
    ref = np.sum(jv(j[:, None] - np.arange(1000, 1200)[None, :], 2 * t) ** 2, axis=1)
    np.testing.assert_allclose(s.cell_counts[2], ref, rtol=0, atol=ROUNDOFF_SOLVE)
    x = j - 1199.5  # distance from the right wall
    sel = np.abs(x) < 0.8 * 2 * t
    np.testing.assert_allclose(s.cell_counts[2][sel], front_profile_lattice(x[sel], t),
                               atol=0.02)
    assert abs(s.n_transferred[2] - 4 * t / np.pi) < 0.01 * 4 * t / np.pi
    assert np.isnan(s.n_transferred_inf) and np.all(np.isnan(s.cell_counts_inf))
    with pytest.raises(ValueError, match="dense"):
        dynamics_sample(ring, ini, [0.0, 1.0], infinite_time=True)


# ---------------------------------------------------------------------------- API
def test_dynamics_sample_methods_agree():
    """dynamics_sample with method="chebyshev" equals method="eigen" field by field (1e-10);
    the infinite-time outputs come from the eigenbasis in both."""
    ring = Ring.continuum(10, 4, np.random.default_rng(7).standard_normal(40))
    ini = domain_wall(ring, 6, region=(2, 6), twist=0.5)
    ts = time_grid(8.0, n_linear=6, n_log=5)
    a = dynamics_sample(ring, ini, ts, method="eigen")
    b = dynamics_sample(ring, ini, ts, method="chebyshev")
    for f in ("cell_counts", "cell_counts_inf", "sup_cell_change", "sup_cell_counts",
              "n_transferred", "n_transferred_inf", "sup_outside", "sup_inside", "inside0"):
        np.testing.assert_allclose(getattr(b, f), getattr(a, f),
                                   rtol=0, atol=ROUNDOFF_SOLVE, err_msg=f)
    c = dynamics_sample(ring, ini, ts, method="chebyshev", infinite_time=False)
    assert np.isnan(c.n_transferred_inf)
    np.testing.assert_allclose(c.n_transferred, a.n_transferred, rtol=0, atol=ROUNDOFF_SOLVE)


def test_method_rules_and_errors():
    """choose_method follows its documented rules; eigen-only features refuse chebyshev."""
    small = Ring.lattice(_anderson(50, 1.0, 8))
    ini = domain_wall(small, 10)
    assert choose_method(small, 10, None) == "eigen"
    assert choose_method(small, 10, [0.0, 1.0], truncation=1e-3) == "eigen"
    assert choose_method(small, 10, [0.0, 1000.0]) == "eigen"  # one long step, small M
    big = Ring.lattice(np.zeros(3000))
    fine = np.linspace(0, 10, 201)
    assert choose_method(big, 750, fine) == "chebyshev"       # many short steps, large M
    assert choose_method(big, 750, fine, eigenbasis_needed=True) == "chebyshev"
    assert choose_method(Ring.lattice(np.zeros(DENSE_MAX_DYNAMICS + 1)), 1, None) == "chebyshev"
    ev = Evolution.prepare(small, ini, method="chebyshev")
    with pytest.raises(ValueError, match="eigenbasis"):
        ev.diagonal_density()
    with pytest.raises(ValueError, match="truncation"):
        Evolution.prepare(small, ini, truncation=1e-3, method="chebyshev")
    with pytest.raises(ValueError, match="method"):
        Evolution.prepare(small, ini, method="lanczos")
    with pytest.raises(ValueError, match="dense limit"):
        Evolution.prepare(Ring.lattice(np.zeros(DENSE_MAX_DYNAMICS + 1)),
                          domain_wall(Ring.lattice(np.zeros(DENSE_MAX_DYNAMICS + 1)), 1,
                                      region=(0, 3)), method="eigen")
