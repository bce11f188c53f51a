"""Tonks-Girardeau states and OBDM against brute-force exact diagonalization of hard-core bosons.

Reference: ``tests/_ed.py`` builds the many-body Hamiltonian of hard-core bosons in the
occupation-number basis (no Jordan-Wigner, no Bose-Fermi map) and diagonalizes it densely.
tgsweep instead occupies one-particle orbitals with the fermion twist phi = theta + pi (N - 1)
(Girardeau, J. Math. Phys. 1, 516 (1960); Lieb, Schultz & Mattis, Ann. Phys. 16, 407 (1961)) and
evaluates <b+_x b_y> by the Lenard / Rigol-Muramatsu determinant (PRA 70, 031603(R) (2004)).
Agreement to 1e-10 checks the twist convention, the parity rule, and the transpose/conjugation
of the determinant formula at once (complex orbitals at theta = 0.37).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

import tgsweep
from tgsweep import Ring

from _ed import (hcb_basis, hcb_density, hcb_evolve, hcb_ground_state, hcb_hamiltonian,
                 hcb_obdm, hcb_spectrum)

from _tolerances import ROUNDOFF, ROUNDOFF_SOLVE, ROUNDOFF_SUM

TOL = ROUNDOFF_SOLVE  # brute-force ED vs the determinant formula
GAP_MIN = 1e-3


def _eps(L: int, seed: int, width: float = 2.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-width / 2, width / 2, L)


# --------------------------------------------------------------------------- the ED itself
def test_ed_basis_dimension_and_order():
    """C(L, N) states, sorted, each with N set bits."""
    b = hcb_basis(7, 3)
    assert b.size == 35
    assert np.all(np.diff(b) > 0)
    assert all(bin(int(s)).count("1") == 3 for s in b)


@pytest.mark.parametrize("theta", [0.0, 0.37, np.pi])
def test_ed_one_particle_sector_is_the_hopping_matrix(theta):
    """N = 1: the ED matrix must be the single-particle operator with H[L-1, 0] = -t e^{i theta}
    (the convention stated in tgsweep/models/ring.py); written out by hand here."""
    L, t = 6, 1.3
    eps = _eps(L, 3)
    h = np.diag(eps).astype(complex)
    for i in range(L - 1):
        h[i, i + 1] = h[i + 1, i] = -t
    h[L - 1, 0] = -t * np.exp(1j * theta)
    h[0, L - 1] = -t * np.exp(-1j * theta)
    np.testing.assert_allclose(hcb_hamiltonian(eps, 1, t, theta), h, atol=ROUNDOFF / 10)
    np.testing.assert_allclose(Ring.lattice(eps, t).matrix(theta), h, atol=ROUNDOFF / 10)


@pytest.mark.parametrize("L,N", [(6, 2), (7, 3), (8, 4), (9, 4)])
@pytest.mark.parametrize("theta", [0.0, 0.37, -2.0])
def test_ed_clean_ring_spectrum(L, N, theta):
    """Clean ring: the lowest ED level is the free-fermion sum over the N lowest
    -2t cos((2 pi j + phi)/L), phi = theta + pi (N - 1) (Lieb-Schultz-Mattis 1961), and the
    energy is 2 pi-periodic in theta (gauge invariance)."""
    t = 0.7
    E0, _ = hcb_ground_state(np.zeros(L), N, t, theta)
    phi = theta + np.pi * (N - 1)
    e1 = np.sort(-2 * t * np.cos((2 * np.pi * np.arange(L) + phi) / L))
    assert abs(E0 - e1[:N].sum()) < 1e-12
    E0b, _ = hcb_ground_state(np.zeros(L), N, t, theta + 2 * np.pi)
    assert abs(E0 - E0b) < 1e-12


def test_ed_obdm_density_and_evolution_consistency():
    """Basic identities of the reference: OBDM Hermitian with diagonal = density, trace N,
    <n> from H's diagonal derivative (Hellmann-Feynman dE0/deps_x = <n_x>), and hcb_evolve equals
    scipy.linalg.expm and conserves the norm."""
    L, N, theta = 7, 3, 0.37
    eps = _eps(L, 11)
    E0, psi = hcb_ground_state(eps, N, 1.0, theta)
    g = hcb_obdm(psi, L, N)
    np.testing.assert_allclose(g, g.conj().T, atol=ROUNDOFF)
    np.testing.assert_allclose(np.diag(g).real, hcb_density(psi, L, N), atol=ROUNDOFF)
    assert abs(np.trace(g) - N) < 1e-12
    d = 1e-5
    for x in (0, 3, 6):
        ep, em = eps.copy(), eps.copy()
        ep[x] += d
        em[x] -= d
        dE = (hcb_ground_state(ep, N, 1.0, theta)[0] - hcb_ground_state(em, N, 1.0, theta)[0])
        assert abs(dE / (2 * d) - g[x, x].real) < 1e-8
    H = hcb_hamiltonian(eps, N, 1.0, theta)
    rng = np.random.default_rng(5)
    v = rng.normal(size=H.shape[0]) + 1j * rng.normal(size=H.shape[0])
    v /= np.linalg.norm(v)
    out = hcb_evolve(v, H, 1.7)
    np.testing.assert_allclose(out, sla.expm(-1j * 1.7 * H) @ v, atol=ROUNDOFF_SUM)
    assert abs(np.linalg.norm(out) - 1) < 1e-13


# --------------------------------------------------------------------------- tgsweep vs ED
CASES = [  # (L, N, seed, W): odd and even N, up to L = 12, eps uniform in [-W/2, W/2]
    (5, 2, 1, 2.0), (6, 3, 2, 2.0), (7, 4, 3, 1.0), (8, 1, 4, 2.0), (9, 4, 5, 4.0),
    (10, 5, 6, 2.0), (11, 3, 7, 0.5), (12, 6, 8, 2.0), (12, 5, 9, 6.0),
]


@pytest.mark.parametrize("L,N,seed,W", CASES)
@pytest.mark.parametrize("theta", [0.0, 0.37, np.pi, -2.1])
def test_ground_state_energy_and_obdm_match_ed(L, N, seed, W, theta):
    """E0 and the full matrix <b+_x b_y> of tgsweep.ground_state / tgsweep.obdm equal
    brute-force ED (tests/_ed.py) to 1e-10, for random on-site energies (non-degenerate ED
    ground state checked)."""
    eps = _eps(L, seed, W)
    w, v = hcb_spectrum(eps, N, 1.0, theta)
    assert w[1] - w[0] > GAP_MIN, "pick another seed: ED ground state is (nearly) degenerate"
    st = tgsweep.ground_state(Ring.lattice(eps), n_particles=N, twist=theta)
    assert abs(st.energy - w[0]) < TOL
    g_ed = hcb_obdm(v[:, 0], L, N)
    g = tgsweep.obdm(st)
    np.testing.assert_allclose(g, g_ed, rtol=0, atol=TOL)
    np.testing.assert_allclose(st.density(), hcb_density(v[:, 0], L, N), rtol=0, atol=TOL)


@pytest.mark.parametrize("L,N,seed", [(7, 3, 3), (10, 4, 6)])
def test_complex_twist_distinguishes_transpose(L, N, seed):
    """Guard against a weak reference: at theta = 0.37 the ED OBDM is genuinely complex, so
    comparing with conj(gamma) (= the transpose) would fail; the agreement above is therefore
    sensitive to the transpose in Lenard's formula (docs/references.md §1)."""
    eps = _eps(L, seed)
    _, psi = hcb_ground_state(eps, N, 1.0, 0.37)
    g_ed = hcb_obdm(psi, L, N)
    assert np.abs(g_ed - g_ed.conj()).max() > 1e-2
    g = tgsweep.obdm(tgsweep.ground_state(Ring.lattice(eps), n_particles=N, twist=0.37))
    assert np.abs(g - g_ed.conj()).max() > 1e-2


@pytest.mark.parametrize("hopping", [0.5, 2.0])
def test_hopping_scale_matches_ed(hopping):
    """Ring.lattice(eps, hopping=t) vs ED with the same t (energy and OBDM)."""
    L, N, theta = 8, 3, 0.37
    eps = _eps(L, 21)
    w, v = hcb_spectrum(eps, N, hopping, theta)
    assert w[1] - w[0] > GAP_MIN
    st = tgsweep.ground_state(Ring.lattice(eps, hopping), n_particles=N, twist=theta)
    assert abs(st.energy - w[0]) < TOL
    np.testing.assert_allclose(tgsweep.obdm(st), hcb_obdm(v[:, 0], L, N), rtol=0, atol=TOL)


def test_continuum_grid_is_a_lattice_of_hard_core_bosons():
    """Ring.continuum with M = 12 points is ED with t = 1/h^2 and eps = V + 2/h^2; tgsweep.obdm
    returns density units, i.e. <b+_x b_y>/h (ring.py docstring)."""
    L, ppu, N, theta = 3.0, 4, 3, 0.37
    h = 1.0 / ppu
    V = np.random.default_rng(13).normal(size=12) * 5.0
    ring = Ring.continuum(L, ppu, V)
    w, v = hcb_spectrum(V + 2 / h**2, N, 1 / h**2, theta)
    assert w[1] - w[0] > GAP_MIN
    st = tgsweep.ground_state(ring, n_particles=N, twist=theta)
    assert abs(st.energy - w[0]) < TOL * (1 / h**2)
    g_ed = hcb_obdm(v[:, 0], 12, N)
    np.testing.assert_allclose(tgsweep.obdm(st) * h, g_ed, rtol=0, atol=TOL)


EXCITED = [  # (L, N, seed, indices of occupied one-particle levels)
    (7, 3, 31, [0, 1, 3]),
    (8, 4, 32, [0, 2, 3, 5]),
    (9, 2, 33, [1, 4]),
    (10, 5, 34, [0, 1, 2, 3, 9]),
]


@pytest.mark.parametrize("L,N,seed,indices", EXCITED)
@pytest.mark.parametrize("theta", [0.0, 0.37])
def test_excited_states_match_ed(L, N, seed, indices, theta):
    """tgsweep.excited_state(indices) is the ED eigenstate at the same energy (isolated level
    required) and has the same OBDM to 1e-10."""
    eps = _eps(L, seed)
    w, v = hcb_spectrum(eps, N, 1.0, theta)
    st = tgsweep.excited_state(Ring.lattice(eps), indices, twist=theta)
    k = int(np.argmin(np.abs(w - st.energy)))
    assert abs(w[k] - st.energy) < TOL
    others = np.delete(w, k)
    assert np.min(np.abs(others - w[k])) > GAP_MIN, "pick another seed: ED level degenerate"
    np.testing.assert_allclose(tgsweep.obdm(st), hcb_obdm(v[:, k], L, N), rtol=0, atol=TOL)


@pytest.mark.parametrize("theta", [0.0, 0.37])
def test_full_many_body_spectrum_is_slater_sums(theta):
    """All C(L, N) ED levels equal the sums of N distinct eigenvalues of H_phi (the whole sector,
    not only the ground state, follows the Bose-Fermi map with phi = theta + pi (N - 1))."""
    from itertools import combinations

    L, N = 8, 3
    eps = _eps(L, 41)
    w = np.linalg.eigvalsh(hcb_hamiltonian(eps, N, 1.0, theta))
    phi = tgsweep.models.ring.fermion_twist(theta, N)
    e1 = np.linalg.eigvalsh(Ring.lattice(eps).matrix(phi))
    sums = np.sort([e1[list(c)].sum() for c in combinations(range(L), N)])
    np.testing.assert_allclose(w, sums, rtol=0, atol=10 * ROUNDOFF_SUM)


@pytest.mark.parametrize("L,N,seed,W", CASES)
def test_ground_state_bisect_vs_ed(L, N, seed, W):
    """As above through the O(M) Sturm-bisection + inverse-iteration path (method="bisect")."""
    theta = 0.37
    eps = _eps(L, seed, W)
    w, v = hcb_spectrum(eps, N, theta=theta)
    assert w[1] - w[0] > GAP_MIN
    st = tgsweep.ground_state(tgsweep.Ring.lattice(eps), n_particles=N, twist=theta,
                              method="bisect")
    assert abs(st.energy - w[0]) < TOL
    np.testing.assert_allclose(tgsweep.obdm(st), hcb_obdm(v[:, 0], L, N), atol=TOL, rtol=0)


@pytest.mark.parametrize("method", ["dense", "bisect"])
@pytest.mark.parametrize("L,N,theta", [(9, 3, 0.0), (10, 5, 0.0), (12, 4, 0.0), (11, 3, 0.0),
                                       (8, 2, 0.0)])
def test_clean_closed_shell_vs_ed(L, N, theta, method):
    """Clean ring, closed shell (phi = theta + pi (N-1) = 0 with N odd, = pi with N even): the
    one-particle levels +-k are degenerate pairs but the N-boson ground state is not, and any
    basis of a filled degenerate pair gives the same OBDM (ED, tests/_ed.py)."""
    eps = np.zeros(L)
    w, v = hcb_spectrum(eps, N, theta=theta)
    assert w[1] - w[0] > GAP_MIN
    st = tgsweep.ground_state(tgsweep.Ring.lattice(eps), n_particles=N, twist=theta,
                              method=method)
    assert abs(st.energy - w[0]) < TOL
    np.testing.assert_allclose(tgsweep.obdm(st), hcb_obdm(v[:, 0], L, N), atol=TOL, rtol=0)
