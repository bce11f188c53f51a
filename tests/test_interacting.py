"""Ideal Bose gas and Gross-Pitaevskii mean field on the disordered ring (tgsweep.core.interacting).

References are named per test; formulas in docs/references.md, section "Interacting bosons".
"""

import mpmath as mp
import numpy as np
import pytest

import tgsweep
from tgsweep.core.interacting import gross_pitaevskii
from tgsweep.observables import (condensate, interacting_stiffness, leggett_fraction,
                                 leggett_stiffness, momentum_distribution)


def _anderson(seed, m, w):
    return tgsweep.Ring.lattice(np.random.default_rng(seed).uniform(-w / 2, w / 2, m))


# ------------------------------------------------------------------------------ ideal gas
def test_ideal_gamma_is_n_times_one_particle_tg():
    """Ideal gas gamma = N |phi_0><phi_0|: N times the TG one-particle OBDM (the N = 1 TG state
    is the single lowest orbital at boson twist theta), complex twisted orbitals included;
    lambda_0 = N exactly and sum_k n(k) = N (Penrose-Onsager: BEC for any disorder)."""
    ring = _anderson(1, 30, 3.0)
    for theta in (0.0, 0.7):
        st = tgsweep.interacting_ground_state(ring, 6, model="ideal", twist=theta)
        one = tgsweep.ground_state(ring, 1, twist=theta)
        np.testing.assert_allclose(tgsweep.obdm(st), 6 * tgsweep.obdm(one), atol=1e-13)
        assert st.energy == pytest.approx(6 * one.energy, rel=1e-14)
        lam = condensate(st)
        assert lam[0] == pytest.approx(6.0, rel=1e-12) and abs(lam[1]) < 1e-10
        mk = momentum_distribution(st)
        assert mk.n_k.sum() == pytest.approx(6.0, rel=1e-12)


def test_ideal_gamma_continuum_density_units():
    """Continuum ideal gas: gamma in density units, sum_i gamma(x_i, x_i) h = N, lambda_0 = N."""
    rng = np.random.default_rng(2)
    ring = tgsweep.Ring.continuum(8, 6, rng.uniform(0, 4, 48))
    st = tgsweep.interacting_ground_state(ring, 5, model="ideal", twist=0.4)
    g = tgsweep.obdm(st)
    assert np.real(np.trace(g)) * ring.weight == pytest.approx(5.0, rel=1e-13)
    assert condensate(st)[0] == pytest.approx(5.0, rel=1e-12)


def _mp_band_bottom_stiffness(eps, n, thetas, dps=150):
    """Independent reference: lowest root of Delta(E) = 2 cos(theta), Delta = tr of the lattice
    transfer-matrix product (hopping t = 1), by secant iteration in mpmath at ``dps`` digits."""
    mp.mp.dps = dps
    e_list = [mp.mpf(float(x)) for x in eps]

    def delta(e):
        a, b, c, d = mp.mpf(1), mp.mpf(0), mp.mpf(0), mp.mpf(1)
        for x in e_list:
            p = x - e
            a, b, c, d = p * a - c, p * b - d, a, b
        return a + d

    def root(f, x0, x1):
        f0, f1 = f(x0), f(x1)
        for _ in range(300):
            x2 = x1 - f1 * (x1 - x0) / (f1 - f0)
            x0, f0, x1, f1 = x1, f1, x2, f(x2)
            if abs(x1 - x0) < mp.mpf(10) ** (-(dps - 10)):
                break
        return x1

    ring = tgsweep.Ring.lattice(eps)
    e0f = tgsweep.ground_state(ring, 1).energy
    e0 = root(lambda e: delta(e) - 2, mp.mpf(e0f), mp.mpf(e0f) + mp.mpf(1e-10))
    out = []
    for t in thetas:
        et = root(lambda e: delta(e) - 2 * mp.cos(t), e0, e0 + mp.mpf(10) ** (-60))
        out.append(float(mp.log10(n * len(eps) * (et - e0) / mp.mpf(t) ** 2)))
    return np.array(out)


def test_ideal_stiffness_below_roundoff_vs_mpmath():
    """Ideal gas on a localized Anderson ring (L = 200, W = 4): rho_s = L N (e_0(theta) -
    e_0(0))/theta^2 ~ 1e-80 although lambda_0 = N (BEC without superfluidity).  Reference: the
    lowest root of the discriminant Delta(E) = 2 cos theta (Floquet-Bloch theory of the periodic
    chain), 150-digit mpmath transfer-matrix products; log10 rho_s to 1e-9."""
    eps = np.random.default_rng(3).uniform(-2, 2, 200)
    thetas = np.array([0.5, 1.0])
    s = interacting_stiffness(tgsweep.Ring.lattice(eps), 7, thetas, model="ideal")
    ref = _mp_band_bottom_stiffness(eps, 7, thetas)
    assert np.all(ref < -60)
    np.testing.assert_allclose(s.log10_rho_s, ref, atol=1e-9)
    assert np.all(s.reliable)
    assert np.all(np.abs(s.error / s.rho_s) <= 1e-2)


def test_ideal_stiffness_clean_ring():
    """Clean lattice ring: e_0(theta) = -2t cos(theta / L), so rho_s = 2 t L N (1 - cos(theta/L))
    / theta^2 exactly (-> N t / L: f_s = 1 in the ideal gas without disorder)."""
    m, n = 40, 9
    ring = tgsweep.Ring.lattice(np.zeros(m))
    th = np.array([0.3, 1.0, 2.5])
    s = interacting_stiffness(ring, n, th, model="ideal")
    np.testing.assert_allclose(s.rho_s, 2 * m * n * (1 - np.cos(th / m)) / th**2, rtol=1e-8)


# ------------------------------------------------------------------------------ mean field
def _richardson_rho(ring, n, g, th):
    """rho_s0 from E(theta) - E(0) at theta and theta/2 (Richardson, O(theta^4) remainder) and its
    error: the propagated solver energy errors + |difference of two extrapolations|."""
    s = interacting_stiffness(ring, n, [th, th / 2, th / 4], model="mean_field", g=g)
    r = s.rho_s
    ext = (4 * r[1:] - r[:-1]) / 3
    err = (4 * s.error[1:] + s.error[:-1]) / 3
    return ext[1], err[1] + abs(ext[1] - ext[0]), s


@pytest.mark.parametrize("kind", ["lattice", "continuum"])
def test_gp_saturates_leggett_bound_every_sample(kind):
    """1D GP ground state saturates Leggett's bound: rho_s0 = L / sum_bonds 1/(t w sqrt(n_i
    n_{i+1})) (Leggett, PRL 25, 1543 (1970); J. Stat. Phys. 93, 927 (1998); exact on the grid,
    f_s -> 1/(<n><1/n>) as h -> 0) for every disorder sample, to the stated error of the
    twist-energy stiffness."""
    rng = np.random.default_rng(11)
    for _ in range(3):
        if kind == "lattice":
            ring = tgsweep.Ring.lattice(rng.uniform(-2, 2, 24))
            n, g = 8, 2.0
        else:
            ring = tgsweep.Ring.continuum(10, 8, rng.uniform(0, 6, 80))
            n, g = 6, 4.0
        rho0, err, s = _richardson_rho(ring, n, g, 0.08)
        assert err < 1e-5 * rho0
        assert abs(rho0 - s.leggett) <= err, (rho0, s.leggett, err)
        assert rho0 / (n / ring.length) < 1.0  # disorder depletes the superfluid


def test_gp_leggett_continuum_form_converges_with_h():
    """Continuum Leggett fraction 1/(<n><1/n>) is the h -> 0 limit of the grid form (smooth V):
    the difference shrinks like h^2."""
    diffs = []
    for ppu in (4, 8):
        x = np.arange(8 * ppu) / ppu
        ring = tgsweep.Ring.continuum(8, ppu, 3 * np.cos(2 * np.pi * x / 8) + np.sin(4 * np.pi * x / 8))
        st = gross_pitaevskii(ring, 5, 3.0)
        fs = leggett_stiffness(ring, st.density_profile) / (5 / 8)
        diffs.append(abs(fs - leggett_fraction(ring, st.density_profile)))
    assert diffs[1] < 0.35 * diffs[0]


def test_gp_clean_ring_superfluid_fraction_one():
    """Clean continuum ring: the plane wave sqrt(N/L) e^{i theta x/L} solves GP at every twist,
    E(theta) - E(0) = N (2/h^2)(1 - cos(theta/M)) exactly on the grid, f_s -> 1 (Leggett)."""
    ring = tgsweep.Ring.continuum(12, 6, None)
    n, g, m, h = 7, 5.0, 72, 1 / 6
    th = np.array([0.2, 1.0])
    s = interacting_stiffness(ring, n, th, model="mean_field", g=g)
    exact = 12 * n * (2 / h**2) * (1 - np.cos(th / m)) / th**2
    np.testing.assert_allclose(s.rho_s, exact, rtol=1e-9)
    assert s.leggett / (n / 12) == pytest.approx(1.0, rel=1e-13)


def test_gp_thomas_fermi_limit():
    """Strong g: the GP chemical potential approaches the Thomas-Fermi value mu_TF defined by
    sum_i max(mu - V_i, 0)/g h = N (kinetic energy neglected; Dalfovo, Giorgini, Pitaevskii &
    Stringari, RMP 71, 463 (1999), sec. III.B); the relative error decreases ~1/g."""
    x = np.arange(8 * 8) / 8
    ring = tgsweep.Ring.continuum(8, 8, 4 * np.cos(2 * np.pi * x / 8) + 4)
    errs = []
    for g in (50.0, 500.0):
        st = gross_pitaevskii(ring, 20, g)
        from scipy.optimize import brentq

        mu_tf = brentq(lambda mu: np.sum(np.maximum(mu - ring.potential, 0)) / g * ring.weight
                       - 20, 0, 1e5)
        errs.append(abs(st.convergence["mu"] / mu_tf - 1))
        n_tf = np.maximum(mu_tf - ring.potential, 0) / g
        assert np.sum(np.abs(st.density_profile - n_tf)) * ring.weight < 3 * errs[-1] * 20 + 0.1
    assert errs[1] < 0.2 * errs[0] and errs[1] < 1e-2


def test_gp_ideal_limit_small_g():
    """g -> 0: E(g) = N e_0 + (g/2) N^2 sum |phi_0|^4 w + O(g^2) (first-order perturbation
    theory around the ideal condensate); the remainder scales as g^2."""
    ring = _anderson(5, 20, 2.0)
    ideal = tgsweep.interacting_ground_state(ring, 4, model="ideal")
    phi0 = ideal.condensate_wavefunction / 2.0
    e1 = 0.5 * 16 * np.sum(np.abs(phi0) ** 4)
    rem = []
    for g in (1e-2, 5e-3):
        st = tgsweep.interacting_ground_state(ring, 4, model="mean_field", g=g)
        rem.append(st.energy - ideal.energy - g * e1)
    assert rem[0] < 0 and rem[1] < 0  # second order lowers the energy
    assert rem[0] / rem[1] == pytest.approx(4.0, rel=0.02)


def test_gp_state_feeds_observables_and_converges():
    """GP state: gamma = |phi><phi| is Hermitian with Tr = N and lambda_0 = N; the Newton
    residual reaches the stated tolerance and the energy is the GP functional's value."""
    ring = _anderson(7, 30, 3.0)
    st = tgsweep.interacting_ground_state(ring, 10, model="mean_field", g=1.5, twist=0.6)
    assert st.converged and st.convergence["residual"] <= st.convergence["tol"]
    g = tgsweep.obdm(st)
    np.testing.assert_allclose(g, g.conj().T, atol=1e-14)
    assert np.real(np.trace(g)) == pytest.approx(10.0, rel=1e-13)
    assert condensate(st)[0] == pytest.approx(10.0, rel=1e-12)
    phi = st.condensate_wavefunction
    h = ring.matrix(0.6)
    e = np.real(np.vdot(phi, h @ phi)) + 0.75 * np.sum(np.abs(phi) ** 4)
    assert st.energy == pytest.approx(e, rel=1e-13)


def test_interacting_ground_state_dispatch_and_errors():
    """model='hard_core' is the exact TG ground state; missing couplings are clear errors."""
    ring = _anderson(8, 12, 1.0)
    tg = tgsweep.interacting_ground_state(ring, 3, model="hard_core", twist=0.2)
    assert isinstance(tg, tgsweep.State)
    assert tg.energy == tgsweep.ground_state(ring, 3, twist=0.2).energy
    with pytest.raises(ValueError, match="g: required"):
        tgsweep.interacting_ground_state(ring, 3, model="mean_field")
    with pytest.raises(ValueError, match="model: must be one of"):
        tgsweep.interacting_ground_state(ring, 3, model="soft")
