"""Bose-Hubbard ground states by DMRG (tgsweep.core.bose_hubbard, TeNPy) against exact references.

References: tgsweep's free-fermion core (n_max = 1 is hard-core bosons, Jordan-Wigner), the
brute-force ED of tests/_bh_ed.py, perturbation theory in t/U and U, the Luttinger-liquid
structure factor (docs/references.md, "Interacting bosons").
"""

import numpy as np
import pytest

import tgsweep
from tgsweep.core.obdm import obdm_lattice
from tgsweep.observables import condensate, interacting_stiffness, luttinger_parameter

from _bh_ed import bh_ground_state

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _eps(seed, m, w):
    return np.random.default_rng(seed).uniform(-w / 2, w / 2, m)


def test_hard_core_chain_equals_free_fermion_core():
    """n_max = 1 IS hard-core bosons: on a disordered open chain of 32 sites the DMRG energy and
    <b+_i b_j> equal the Jordan-Wigner free-fermion result (orbitals of the open chain fed to
    tgsweep's determinant OBDM kernel) to <= 1e-8 in energy; the stated energy error is not
    smaller than the true one."""
    m, n = 32, 11
    eps = _eps(1, m, 4.0)
    st = tgsweep.interacting_ground_state(tgsweep.Ring.lattice(eps), n, model="bose_hubbard",
                                          U=0.0, n_max=1, bc="chain", chi_max=40)
    h = np.diag(eps) - np.eye(m, k=1) - np.eye(m, k=-1)
    w, v = np.linalg.eigh(h)
    e_ff = w[:n].sum()
    g_ff = obdm_lattice(v[:, :n])
    assert abs(st.energy - e_ff) <= 1e-8
    assert st.convergence["energy_error"] >= abs(st.energy - e_ff)
    np.testing.assert_allclose(tgsweep.obdm(st), g_ff, atol=1e-6)
    assert st.convergence["chi"] <= 40 and st.convergence["truncation_error"] < 1e-10


def test_hard_core_twisted_ring_equals_tg_ground_state():
    """n_max = 1 on a disordered periodic ring with boson twist theta: DMRG = the exact TG
    ground_state (energy to 1e-8, gamma to 1e-7, complex twisted gamma included) and the twist
    stiffness L (E(theta) - E(0)) / theta^2 equals the TG one to its stated error."""
    ring = tgsweep.Ring.lattice(_eps(2, 10, 3.0))
    theta = 0.9
    rho = interacting_stiffness(ring, 5, [theta], model="bose_hubbard", U=0.0, n_max=1,
                                chi_max=48)
    st0, (st,) = rho.states
    tg0, tg = tgsweep.ground_state(ring, 5), tgsweep.ground_state(ring, 5, twist=theta)
    for a, b in ((st0, tg0), (st, tg)):
        assert abs(a.energy - b.energy) <= 1e-8
        np.testing.assert_allclose(tgsweep.obdm(a), tgsweep.obdm(b), atol=1e-7)
    exact = 10 * (tg.energy - tg0.energy) / theta**2
    assert abs(rho.rho_s[0] - exact) <= max(rho.error[0], 1e-12)
    assert rho.reliable[0]


@pytest.mark.parametrize("u", [1.5, pytest.param(6.0, marks=pytest.mark.slow)])
def test_dmrg_equals_brute_force_ed_with_twist(u):
    """Soft-core bosons (n_max = N: no cutoff) on a disordered 6-site ring: E_0, <b+_i b_j>,
    <n_i n_j> and E(theta) - E(0) from DMRG equal the brute-force ED of tests/_bh_ed.py to 1e-8."""
    eps = _eps(3, 6, 2.0)
    ring = tgsweep.Ring.lattice(eps)
    n, theta = 4, 0.8
    e0, g0, _, nn0 = bh_ground_state(eps, n, u)
    et, gt, _, _ = bh_ground_state(eps, n, u, theta=theta)
    s0 = tgsweep.interacting_ground_state(ring, n, model="bose_hubbard", U=u, n_max=n)
    st = tgsweep.interacting_ground_state(ring, n, model="bose_hubbard", U=u, n_max=n,
                                          twist=theta)
    assert abs(s0.energy - e0) < 1e-8 and abs(st.energy - et) < 1e-8
    assert abs((st.energy - s0.energy) - (et - e0)) < 1e-8
    np.testing.assert_allclose(tgsweep.obdm(s0), g0, atol=1e-8)
    np.testing.assert_allclose(tgsweep.obdm(st), gt, atol=1e-8)
    np.testing.assert_allclose(s0.extras["nn"], nn0, atol=1e-8)


def test_large_u_approaches_hard_core_as_one_over_u():
    """U -> infinity: E(U) - E_hc = -C/U + O(U^-2), C > 0 (second-order virtual double occupancy,
    t^2/U; e.g. Cazalilla et al., RMP 83, 1405 (2011), sec. V): U (E - E_hc) converges; ED on a
    disordered 8-site ring, and DMRG at U = 60 on the same ring to 1e-8."""
    eps = _eps(4, 8, 2.0)
    e_hc = bh_ground_state(eps, 3, 0.0, n_max=1)[0]
    c = [u * (bh_ground_state(eps, 3, u)[0] - e_hc) for u in (60.0, 120.0, 240.0)]
    assert all(x < 0 for x in c)
    # U (E - E_hc) = -C + D/U + O(U^-2): successive differences halve when U doubles
    assert (c[2] - c[1]) / (c[1] - c[0]) == pytest.approx(0.5, rel=0.05)
    assert abs(c[2] - c[1]) / abs(c[2]) < 0.01
    st = tgsweep.interacting_ground_state(tgsweep.Ring.lattice(eps), 3, model="bose_hubbard",
                                          U=60.0, n_max=3)
    assert abs(60.0 * (st.energy - e_hc) - c[0]) < 60 * 1e-8


def test_small_u_approaches_ideal_gas():
    """U -> 0: E(U) = N e_0 + (U/2) N (N - 1) sum |phi_0|^4 + O(U^2) (first-order perturbation
    theory around the ideal condensate); at U = 0 (DMRG, n_max = N) lambda_0 = N (the ideal gas)."""
    eps = _eps(5, 7, 2.0)
    ring = tgsweep.Ring.lattice(eps)
    n = 3
    ideal = tgsweep.interacting_ground_state(ring, n, model="ideal")
    phi0 = ideal.condensate_wavefunction / np.sqrt(n)
    e1 = 0.5 * n * (n - 1) * np.sum(np.abs(phi0) ** 4)
    rem = [bh_ground_state(eps, n, u)[0] - ideal.energy - u * e1 for u in (0.02, 0.01)]
    assert rem[0] / rem[1] == pytest.approx(4.0, rel=0.03)
    st = tgsweep.interacting_ground_state(ring, n, model="bose_hubbard", U=0.0, n_max=n)
    assert st.energy == pytest.approx(ideal.energy, abs=1e-9)
    assert condensate(st)[0] == pytest.approx(n, abs=1e-7)


def test_luttinger_parameter_free_fermions_exact():
    """K_L = L S(2 pi / L) on a periodic ring is exactly 1 for hard-core bosons (free fermions:
    S(q_1) = 1/L for a filled Fermi sea), at any filling; DMRG with n_max = 1 on clean rings."""
    for m, n in ((10, 3), (8, 4)):
        st = tgsweep.interacting_ground_state(tgsweep.Ring.lattice(np.zeros(m)), n,
                                              model="bose_hubbard", U=0.0, n_max=1, chi_max=64)
        assert luttinger_parameter(st) == pytest.approx(1.0, abs=1e-7)


@pytest.mark.slow
def test_luttinger_parameter_large_u_incommensurate():
    """Incommensurate filling n = 1/2 on a clean 8-site ring: K_L -> 1 as U -> infinity with an
    O(t/U) approach (K - 1 > 0 halves when U doubles within 25 %; Cazalilla et al., RMP 83,
    1405 (2011), sec. V.B); cross-checked against ED's <n_i n_j>."""
    m, n = 8, 4
    ks = []
    for u in (20.0, 40.0):
        st = tgsweep.interacting_ground_state(tgsweep.Ring.lattice(np.zeros(m)), n,
                                              model="bose_hubbard", U=u, n_max=2, chi_max=64)
        _, _, _, nn = bh_ground_state(np.zeros(m), n, u, n_max=2)
        np.testing.assert_allclose(st.extras["nn"], nn, atol=1e-6)
        ks.append(luttinger_parameter(st))
    assert ks[0] > ks[1] > 1.0
    assert (ks[0] - 1) / (ks[1] - 1) == pytest.approx(2.0, rel=0.25)


@pytest.mark.slow
def test_luttinger_parameter_unit_filling_near_mott_transition():
    """Clean unit filling: K = 2 at the superfluid-Mott (KT) transition U_c ~ 3.3 t (Kuehner,
    White & Monien, PRB 61, 12474 (2000)).  On a 10-site ring K_L(U) decreases through 2 and the
    crossing lies within [2.5, 4.5] t (measured K_L = 2.53, 2.11, 1.47 at U = 2.5, 3.3, 4.5;
    2.12 at U = 3.3 on 16 sites): the finite-size drift of U_c is not resolved at these sizes."""
    ring = tgsweep.Ring.lattice(np.zeros(10))
    ks = {}
    for u in (2.5, 4.5):
        st = tgsweep.interacting_ground_state(ring, 10, model="bose_hubbard", U=u, n_max=3,
                                              chi_max=64)
        ks[u] = luttinger_parameter(st)
    assert ks[2.5] > 2.0 > ks[4.5]
