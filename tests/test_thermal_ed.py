"""Thermal states against brute-force full-Fock-space ED of hard-core bosons.

Reference: ``tests/_ed_thermal.py`` diagonalizes every particle-number block of the hard-core
boson Hamiltonian in the occupation-number basis (no Jordan-Wigner, no Bose-Fermi map) and sums
the Gibbs state over all 2^L eigenstates.  tgsweep instead combines determinant traces of the two
fermion parity sectors (grand canonical, four terms) or projects on N by a discrete Fourier
transform over a counting phase (canonical); formulas in tgsweep/core/thermal.py and
docs/references.md, §8 (Finite temperature) (Rigol, PRA 72, 063607 (2005) for the open-chain
determinant form).  Disorder and the twist theta = 0.37 (complex orbitals in both sectors) are
used throughout; agreement to 1e-10 checks the parity rule, the sector signs and the
transposition at once.
"""

from __future__ import annotations

import numpy as np
import pytest

import tgsweep
from tgsweep import Ring, thermal_state
from tgsweep.core import _thermal_kernels as TK

from _ed_thermal import ed_canonical, ed_canonical_quench, ed_grand, ed_grand_quench

TOL = 1e-10


def _eps(L, seed, width=2.0):
    return np.random.default_rng(seed).uniform(-width / 2, width / 2, L)


@pytest.mark.parametrize("theta", [0.0, 0.37, np.pi])
@pytest.mark.parametrize("temperature", [0.04, 0.5, 4.0])
def test_grand_canonical_matches_ed(theta, temperature):
    """gamma, ln Xi, <N> and <H> of the grand-canonical ensemble (both parity sectors) vs ED,
    L = 9, uniform disorder, mu inside the band."""
    L, mu, t = 9, 0.3, 1.1
    eps = _eps(L, 7)
    st = thermal_state(Ring.lattice(eps, t), temperature, mu=mu, twist=theta)
    lxi, n_mean, energy, gamma = ed_grand(eps, mu, temperature, t, theta)
    assert abs(st.log_z - lxi) < TOL * max(1.0, abs(lxi))
    assert abs(st.mean_n - n_mean) < TOL
    assert abs(st.energy - energy) < TOL
    assert abs(st.free_energy - (-temperature * lxi)) < TOL * max(1.0, abs(lxi))
    np.testing.assert_allclose(tgsweep.obdm(st), gamma, atol=TOL, rtol=0)
    np.testing.assert_allclose(st.density(), np.real(np.diag(gamma)), atol=TOL, rtol=0)


@pytest.mark.parametrize("theta", [0.0, 0.37])
@pytest.mark.parametrize("temperature", [0.04, 0.7])
def test_canonical_matches_ed_every_n(theta, temperature):
    """gamma, ln Z_N and E_N of the canonical ensemble vs ED for every N = 0..L (L = 8)."""
    L, t = 8, 1.0
    eps = _eps(L, 11, 3.0)
    ring = Ring.lattice(eps, t)
    for n in range(L + 1):
        st = thermal_state(ring, temperature, n_particles=n, ensemble="canonical", twist=theta)
        lz, energy, gamma = ed_canonical(eps, n, temperature, t, theta)
        assert abs(st.log_z - lz) < TOL * max(1.0, abs(lz)), n
        assert abs(st.energy - energy) < TOL, n
        np.testing.assert_allclose(tgsweep.obdm(st), gamma, atol=TOL, rtol=0, err_msg=f"N={n}")
        assert st.alias_error <= 1e-13 and st.truncation_error <= 1e-13


def test_continuum_grid_ring_matches_ed_of_the_equivalent_lattice():
    """The grid ring is the lattice with t = 1/h^2 and eps = V + 2/h^2 (tgsweep/models/ring.py);
    gamma in density units is the lattice <b+ b> divided by h.  M = 8, both ensembles."""
    ppu, length = 4, 2.0
    h = 1.0 / ppu
    v = np.random.default_rng(3).normal(0, 4.0, int(length * ppu))
    ring = Ring.continuum(length, ppu, v)
    T, mu = 6.0, 20.0
    st = thermal_state(ring, T, mu=mu, twist=0.37)
    _, n_mean, energy, gamma = ed_grand(v + 2 / h**2, mu, T, 1 / h**2, 0.37)
    np.testing.assert_allclose(tgsweep.obdm(st) * h, gamma, atol=TOL, rtol=0)
    assert abs(st.mean_n - n_mean) < TOL and abs(st.energy - energy) < 1e-8
    st = thermal_state(ring, T, n_particles=3, ensemble="canonical")
    _, energy, gamma = ed_canonical(v + 2 / h**2, 3, T, 1 / h**2)
    np.testing.assert_allclose(tgsweep.obdm(st) * h, gamma, atol=TOL, rtol=0)
    assert abs(st.energy - energy) < 1e-8


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_string_kernel_matches_numpy_twin(dtype):
    """numba string-trace kernel vs the per-pair bordered determinant (its NumPy twin), random
    Hermitian orbitals, random a, c with one exactly singular row (a_n = 0, adjugate path)."""
    rng = np.random.default_rng(0)
    m, k = 28, 6
    h = rng.normal(size=(m, m)) + (1j * rng.normal(size=(m, m)) if dtype is np.complex128 else 0)
    u = np.ascontiguousarray(np.linalg.eigh(h + h.conj().T)[1][:, :k]).astype(dtype)
    a = rng.uniform(-1, 2, k).astype(dtype)
    c = rng.uniform(-1, 1, k).astype(dtype)
    a[2] = 0.0
    out = np.zeros((m, m), dtype=dtype)
    n_direct = TK.string_rows(u, a, c, 0.3, 0, m, out, 1e-3, 1e8, 256)
    ref = TK.string_values_reference(u, a, c, 0.3)
    assert n_direct > 0
    np.testing.assert_allclose(np.triu(out), ref, atol=1e-12, rtol=0)


def test_stated_truncation_and_aliasing_errors_bound_the_true_ones():
    """With a loose tol (orbitals dropped, few DFT points) the change of every gamma entry
    against a tol = 1e-15 run never exceeds the reported truncation + aliasing bound."""
    L = 40
    ring = Ring.lattice(_eps(L, 5, 2.0))
    for loose in (1e-3, 1e-6):
        a = thermal_state(ring, 0.15, mu=-0.8, tol=loose)
        b = thermal_state(ring, 0.15, mu=-0.8, tol=1e-15)
        err = np.abs(tgsweep.obdm(a) - tgsweep.obdm(b)).max()
        assert a.n_orbitals < b.n_orbitals
        assert err <= a.truncation_error + 1e-13, (loose, err, a.truncation_error)
        a = thermal_state(ring, 0.15, n_particles=12, ensemble="canonical", tol=loose)
        b = thermal_state(ring, 0.15, n_particles=12, ensemble="canonical", tol=1e-15)
        err = np.abs(tgsweep.obdm(a) - tgsweep.obdm(b)).max()
        assert a.n_projection < b.n_projection
        assert err <= a.truncation_error + a.alias_error + 1e-13, (loose, err, a.alias_error)


def test_bad_input_names_the_field():
    ring = Ring.lattice(np.zeros(6))
    for kw, field in ((dict(temperature=0.0, mu=0.0), "temperature"),
                      (dict(temperature=1.0), "mu"),
                      (dict(temperature=1.0, mu=0.0, ensemble="micro"), "ensemble"),
                      (dict(temperature=1.0, ensemble="canonical"), "n_particles"),
                      (dict(temperature=1.0, ensemble="canonical", n_particles=7), "n_particles")):
        with pytest.raises(ValueError, match=field):
            thermal_state(ring, **kw)


@pytest.mark.parametrize("theta", [0.0, 0.37])
def test_thermal_trap_release_matches_ed(theta):
    """Trap release at T (Billy et al., Nature 453, 891 (2008) set-up in miniature): the grand-
    canonical Gibbs state in a harmonic trap evolved under the clean ring, gamma_t vs ED time
    evolution in every N block (L = 8, t = 0.7, 2.3) to 1e-10, <N> conserved; canonical N = 3, 4
    likewise."""
    L = 8
    x = np.arange(L) - (L - 1) / 2
    trap = 0.3 * x**2
    clean = np.zeros(L)
    st = thermal_state(Ring.lattice(trap), 0.4, mu=0.5, twist=theta)
    for time in (0.7, 2.3):
        ev = tgsweep.thermal_evolve(st, Ring.lattice(clean), time)
        np.testing.assert_allclose(tgsweep.obdm(ev), ed_grand_quench(trap, clean, 0.5, 0.4, time,
                                                                      theta=theta),
                                   atol=TOL, rtol=0)
        assert abs(ev.density().sum() - st.mean_n) < TOL
    for n in (3, 4):
        st = thermal_state(Ring.lattice(trap), 0.4, n_particles=n, ensemble="canonical",
                           twist=theta)
        ev = tgsweep.thermal_evolve(st, Ring.lattice(clean), 1.3)
        np.testing.assert_allclose(tgsweep.obdm(ev), ed_canonical_quench(trap, clean, n, 0.4, 1.3,
                                                                          theta=theta),
                                   atol=TOL, rtol=0)


@pytest.mark.parametrize("phi0", [0.0, np.pi])
def test_log_char_poly_matches_numpy_twin(phi0):
    """Log-scaled transfer-matrix characteristic polynomial vs slogdet of the dense matrix
    (its NumPy twin), off the real axis (Matsubara lines) and far out (|f0| ~ e^{200})."""
    ring = Ring.lattice(_eps(40, 9, 3.0), 1.3)
    es = np.array([0.2 + 0.3j, -1.0 + 2.0j, 0.5 - 1.5j, 3.0 + 40.0j])
    got = tgsweep.core.thermal.log_char_poly(ring, phi0, es)
    ref = TK.log_char_poly_reference(ring.matrix(phi0), ring.hopping, es)
    np.testing.assert_allclose(got.real, ref.real, rtol=1e-12)
    np.testing.assert_allclose(np.exp(1j * (got.imag - ref.imag)), 1.0, atol=1e-10)
