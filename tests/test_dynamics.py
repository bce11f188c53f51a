"""Tests of the TG dynamics (tgsweep.core.initial_states, tgsweep.core.evolution,
tgsweep.observables.dynamics): free-fermion (= TG) evolution of released states on the ring.

Each test names its independent reference in the docstring.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.special import jv

from tgsweep import Ring
from tgsweep.core import _dynamics_kernels as K
from tgsweep.core.evolution import (Evolution, diagonal_ensemble_density, evolve_density,
                                    evolve_orbitals, evolved_obdm, time_grid)
from tgsweep.core.initial_states import (InitialState, domain_wall, region_mask, spectral_window,
                                         trap_release)
from tgsweep.observables.dynamics import (DynamicsSample, dynamics_sample,
                                          front_profile_continuum, front_profile_lattice)

from _tolerances import ROUNDOFF_SOLVE, ROUNDOFF_SUM

RNG = np.random.default_rng(20240605)


def _anderson(m, w, seed):
    return np.random.default_rng(seed).uniform(-w / 2, w / 2, m)


def _rings():
    return [
        Ring.lattice(_anderson(24, 2.0, 1)),
        Ring.continuum(6, 5, 3.0 * np.random.default_rng(2).standard_normal(30)),
    ]


# ---------------------------------------------------------------------------- kernels vs twins
@pytest.mark.parametrize("cplx", [False, True])
def test_density_kernel_matches_numpy_twin(cplx):
    """density_steps_* against the plain-NumPy twin (complex arithmetic, e^{-iEt} c)."""
    m, k, n = 17, 13, 4
    a = RNG.standard_normal((m, m)) + (1j * RNG.standard_normal((m, m)) if cplx else 0)
    vecs = np.linalg.qr(a)[0][:, :k]
    e = np.sort(RNG.standard_normal(k)) * 3
    coef = RNG.standard_normal((k, n)) + 1j * RNG.standard_normal((k, n))
    times = np.array([0.0, 0.3, -1.7, 12.5])
    out = np.empty((times.size, m))
    if cplx:
        K.density_steps_complex(np.ascontiguousarray(vecs), e, coef, times, out)
    else:
        K.density_steps_real(np.ascontiguousarray(vecs), e, np.ascontiguousarray(coef.real),
                             np.ascontiguousarray(coef.imag), times, out)
    np.testing.assert_allclose(out, K.density_steps_reference(vecs, e, coef, times),
                               rtol=0, atol=ROUNDOFF_SUM)


@pytest.mark.parametrize("cplx", [False, True])
def test_cluster_kernel_matches_numpy_twin(cplx):
    """cluster_density_* against the twin diag(sum_c P_c Gamma P_c) built from Gamma = c c^H."""
    m, n = 15, 3
    a = RNG.standard_normal((m, m)) + (1j * RNG.standard_normal((m, m)) if cplx else 0)
    vecs = np.linalg.qr(a)[0]
    coef = RNG.standard_normal((m, n)) + 1j * RNG.standard_normal((m, n))
    starts = np.array([0, 1, 3, 4, 7, 8, 12, 15], dtype=np.int64)
    out = np.empty(m)
    if cplx:
        K.cluster_density_complex(vecs, coef, starts, out)
    else:
        K.cluster_density_real(np.ascontiguousarray(vecs.real), np.ascontiguousarray(coef.real),
                               np.ascontiguousarray(coef.imag), starts, out)
    np.testing.assert_allclose(out, K.cluster_density_reference(vecs, coef, starts),
                               atol=ROUNDOFF_SUM)


@pytest.mark.parametrize("m", [1, 2, 7, 30])
def test_ring_distance_matches_brute_force(m):
    """ring_distance_to_set against the O(M |S|) brute-force minimum of the ring distance."""
    for _ in range(20):
        mask = RNG.random(m) < RNG.random()
        np.testing.assert_array_equal(K.ring_distance_to_set(mask),
                                      K.ring_distance_to_set_reference(mask))


# ---------------------------------------------------------------------------- initial states
def test_region_mask_and_time_grid():
    """Interval masks by definition a <= x < b (mod L); time grids contain 0, t_max, sorted."""
    r = Ring.continuum(10, 2)
    np.testing.assert_array_equal(region_mask(r), r.x < 5)
    np.testing.assert_array_equal(region_mask(r, (8, 2)), (r.x >= 8) | (r.x < 2))
    np.testing.assert_array_equal(region_mask(r, (2.5, 4)), (r.x >= 2.5) & (r.x < 4))
    with pytest.raises(ValueError):
        region_mask(r, np.ones(3, dtype=bool))
    g = time_grid(100.0, n_linear=10, n_log=5, t_min_log=0.01)
    assert g[0] == 0 and g[-1] == 100 and np.all(np.diff(g) > 0)
    assert np.isclose(g, 0.01).any() and np.isclose(g, 50).any()


def test_domain_wall_is_confined_ground_state():
    """Domain wall: orthonormal orbitals supported in K, eigenvectors of H restricted to K
    (residual of the Dirichlet problem), and the N lowest ones (count of eigenvalues of H_K)."""
    r = Ring.lattice(_anderson(40, 3.0, 3))
    ini = domain_wall(r, 7, region=(30, 10), twist=0.4)
    mask = ini.region
    assert mask.sum() == 20 and np.all(ini.orbitals[~mask] == 0)
    u = ini.lattice_orbitals
    np.testing.assert_allclose(u.conj().T @ u, np.eye(7), atol=ROUNDOFF_SUM)
    hk = r.matrix(ini.fermion_twist)[np.ix_(mask, mask)]
    np.testing.assert_allclose(hk @ u[mask], u[mask] * ini.energies, atol=ROUNDOFF_SOLVE)
    assert np.sum(np.linalg.eigvalsh(hk) < ini.energies[-1] - 1e-9) == 6
    with pytest.raises(ValueError):
        domain_wall(r, 21, region=(30, 10))


def test_harmonic_trap_levels_are_oscillator():
    """Clean continuum harmonic trap V = (omega^2/4) x^2: levels omega (n + 1/2) (oscillator with
    hbar = 1, m = 1/2), up to the O(h^2) grid error; trap far from the ring's circumference."""
    r = Ring.continuum(40, 20, 5.0 * RNG.standard_normal(800))
    ini = trap_release(r, 5, omega=2.0)
    np.testing.assert_allclose(ini.energies, 2.0 * (np.arange(5) + 0.5), rtol=2e-3)
    # disorder is off during preparation (Billy et al. 2008) unless asked for
    ini_d = trap_release(r, 5, omega=2.0, with_disorder=True)
    assert not np.allclose(ini_d.energies, ini.energies, rtol=2e-3)
    # region: Thomas-Fermi extent |x - L/2| < 2 sqrt(N/omega)
    np.testing.assert_array_equal(ini.region, np.abs(r.x - 20) < 2 * np.sqrt(2.5))


def test_box_trap_and_spectral_window_agree_with_domain_wall():
    """Box trap of the clean ring = domain wall of the clean ring; spectral window (-inf, E_N]
    = domain wall with N particles (same projection Gamma, compared as U U^H)."""
    r = Ring.lattice(_anderson(30, 2.0, 4))
    dw = domain_wall(r, 5, region=(3, 18))
    sw = spectral_window(r, (-np.inf, dw.energies[-1] + 1e-9), region=(3, 18))
    assert sw.n_particles == 5
    gam = lambda s: s.orbitals @ s.orbitals.conj().T  # noqa: E731
    np.testing.assert_allclose(gam(sw), gam(dw), atol=ROUNDOFF_SOLVE)
    box = trap_release(r, 5, "box", region=(3, 18))
    clean = domain_wall(r.with_potential(None), 5, region=(3, 18))
    np.testing.assert_allclose(gam(box), gam(clean), atol=ROUNDOFF_SOLVE)
    # a window in the middle of the spectrum of H_K
    hk = r.matrix(0.0)[3:18, 3:18]
    w = np.linalg.eigvalsh(hk)
    win = spectral_window(r, (w[4] - 1e-9, w[9] + 1e-9), region=(3, 18))
    np.testing.assert_allclose(win.energies, w[4:10], atol=ROUNDOFF_SOLVE)


# ---------------------------------------------------------------------------- conservation laws
@pytest.mark.parametrize("ring", _rings(), ids=["lattice", "continuum"])
@pytest.mark.parametrize("twist", [0.0, 0.7])
def test_trace_and_orthonormality_conserved(ring, twist):
    """Unitarity: Tr Gamma_t = int rho_t = N and U_t^H U_t h = 1 at all times (and for the
    infinite-time average), for real and complex (twisted) evolutions."""
    ini = domain_wall(ring, 4, twist=twist)
    times = np.array([0.0, 0.5, 3.0, 200.0])
    rho = evolve_density(ring, ini, times)
    np.testing.assert_allclose(rho.sum(axis=1) * ring.weight, 4.0, rtol=ROUNDOFF_SUM)
    np.testing.assert_allclose(rho[0], ini.density(), atol=ROUNDOFF_SOLVE * rho.max())
    for u in evolve_orbitals(ring, ini, times):
        np.testing.assert_allclose(u.conj().T @ u * ring.weight, np.eye(4), atol=10 * ROUNDOFF_SUM)
    rho_inf = diagonal_ensemble_density(ring, ini)
    assert abs(rho_inf.sum() * ring.weight - 4.0) < 1e-10 and rho_inf.min() > -1e-12


@pytest.mark.parametrize("ring", _rings(), ids=["lattice", "continuum"])
def test_time_reversal(ring):
    """Evolving U_t back by -t returns U_0 (e^{iHt} e^{-iHt} = 1); for a real H (twist 0 or pi)
    and real initial orbitals, complex conjugation gives rho(-t) = rho(t)."""
    ini = trap_release(ring, 3, omega=1.0, with_disorder=True, twist=0.3)
    ev = Evolution.prepare(ring, ini)
    ut = ev.orbitals(2.7)
    back = Evolution.prepare(ring, dataclasses.replace(ini, orbitals=ut)).orbitals(-2.7)
    np.testing.assert_allclose(back, ini.orbitals, atol=ROUNDOFF_SOLVE * np.abs(ini.orbitals).max())
    real = domain_wall(ring, 3)
    assert not np.iscomplexobj(real.orbitals)
    rho = evolve_density(ring, real, [1.3, -1.3, 40.0, -40.0])
    np.testing.assert_allclose(rho[0], rho[1], atol=10 * ROUNDOFF_SUM * rho.max())
    np.testing.assert_allclose(rho[2], rho[3], atol=10 * ROUNDOFF_SUM * rho.max())
    assert np.abs(rho[0] - real.density()).max() > 1e-3  # it did move


def test_truncation_bound():
    """Dropping modes of total weight <= tau^2 moves each (lattice-normalized) orbital by <= tau
    in the 2-norm at every time (unitarity), hence the density per grid point by
    <= N tau (2 max|u| + tau)."""
    r = Ring.continuum(20, 10, 0.5 * RNG.standard_normal(200))
    ini = trap_release(r, 4, omega=3.0)
    times = [0.0, 0.4, 1.1]
    ev_exact = Evolution.prepare(r, ini)
    tau = 1e-3
    ev = Evolution.prepare(r, ini, truncation=tau)
    assert ev.energies.size < r.n_grid and 0 < ev.dropped_weight <= tau**2
    for t, row, row_exact in zip(times, ev.density(times), ev_exact.density(times)):
        u = ev_exact.orbitals(t) * np.sqrt(r.weight)
        ut = ev.orbitals(t) * np.sqrt(r.weight)
        assert np.linalg.norm(u - ut, axis=0).max() <= tau
        bound = 4 * tau * (2 * np.abs(u).max() + tau)
        assert np.abs(row - row_exact).max() * r.weight <= bound


# ---------------------------------------------------------------------------- clean fronts
def test_lattice_step_matches_bessel_propagator():
    """Clean lattice (t = 1), filled half K: on the infinite chain <j|e^{-iHt}|k> = i^{j-k}
    J_{j-k}(2t), so rho_j(t) = sum_{k in K} J_{j-k}(2t)^2 (Antal, Racz, Rakos, Schutz, PRE 59,
    4912 (1999), eq. for the step initial condition).  On a ring of 120 sites the images are
    negligible for t <= 8 (J_n(16) < 1e-15 for n >= 60).  Tolerance 1e-10."""
    m = 120
    r = Ring.lattice(np.zeros(m))
    ini = domain_wall(r, 60)  # fully filled first half: Gamma = 1_K
    np.testing.assert_allclose(ini.density(), (np.arange(m) < 60).astype(float), atol=ROUNDOFF_SUM)
    times = np.array([0.5, 3.0, 8.0])
    rho = evolve_density(r, ini, times)
    j = np.arange(m)
    for t, row in zip(times, rho):
        d = (j[:, None] - np.arange(60)[None, :] + m // 2) % m - m // 2  # nearest image
        ref = np.sum(jv(d, 2 * t) ** 2, axis=1)
        np.testing.assert_allclose(row, ref, atol=ROUNDOFF_SOLVE)


def test_lattice_front_arccos_and_transfer():
    """Clean lattice domain wall: rho(x, t) -> (1/pi) arccos(x/2t) and N_tr(t) -> 2t/pi per wall
    (Antal, Racz, Rakos, Schutz, PRE 59, 4912 (1999)).  A ring of 400 sites, half filled, has
    two walls and the fronts meet at t = 50; checked at t = 30 to 1% (N_tr) and 0.02 (profile,
    away from the front edges where the Airy-scale corrections t^{-1/3} live)."""
    m, t = 400, 30.0
    r = Ring.lattice(np.zeros(m))
    ini = domain_wall(r, m // 2)
    s = dynamics_sample(r, ini, np.array([0.0, t]))
    assert abs(s.n_transferred[1] / 2 - 2 * t / np.pi) < 0.01 * 2 * t / np.pi
    rho = s.cell_counts[1]
    x = np.arange(m) - (m // 2 - 0.5)  # distance from the wall between sites 199 and 200
    inside = np.abs(x) < 0.8 * 2 * t
    np.testing.assert_allclose(rho[inside], front_profile_lattice(x[inside], t), atol=0.02)
    # the other wall (between sites 399 and 0) is the mirror image
    x2 = (np.arange(m) + 0.5 + m // 2) % m - m // 2  # signed distance from the wall at -1/2
    sel = np.abs(x2) < 0.8 * 2 * t
    np.testing.assert_allclose(rho[sel], front_profile_lattice(-x2[sel], t), atol=0.02)


def test_continuum_front_linear_ramp():
    """Clean continuum domain wall, dispersion k^2: Wigner transport with v = 2k gives the
    linear ramp rho = (k_F - x/2t)/(2 pi) for |x| < 2 k_F t and N_tr = t (E(k_F) - E(0))/(2 pi)
    per wall (= k_F^2 t/(2 pi) in the continuum); derived in
    :func:`tgsweep.observables.dynamics.front_profile_continuum`, the continuum analogue of
    Antal et al.
    With N = 30 in a box of 30, k_F lies between the box momenta pi N/l and pi (N+1)/l; the
    transfer rate is bracketed by those (grid dispersion E = (2/h^2)(1 - cos kh)), the profile
    (averaged over one length unit) matches the ramp to 0.06 n at t = 2 (fronts meet at 2.35)."""
    length, ppu, n = 60, 10, 30
    r = Ring.continuum(length, ppu)
    ini = domain_wall(r, n)
    ell = length / 2
    ts = np.array([0.0, 1.0, 2.0])
    s = dynamics_sample(r, ini, ts)
    rate = np.diff(s.n_transferred[1:])[0] / 2  # per wall, between t = 1 and t = 2
    h = r.spacing
    e_grid = lambda k: (2 / h**2) * (1 - np.cos(k * h))  # noqa: E731
    lo, hi = (e_grid(np.pi * nn / ell) / (2 * np.pi) for nn in (n, n + 1))
    assert lo < rate < hi
    kf = np.pi * (n + 0.5) / ell
    assert abs(rate - kf**2 / (2 * np.pi)) < 0.03 * kf**2 / (2 * np.pi)  # continuum formula
    rho = evolve_density(r, ini, [2.0])[0]
    x = r.x - (ell - h / 2)
    avg = np.convolve(rho - front_profile_continuum(x, 2.0, kf), np.ones(ppu) / ppu, "same")
    sel = np.abs(x) < 0.8 * 2 * kf * 2.0
    assert np.abs(avg[sel]).max() < 0.06 * kf / np.pi


def test_diagonal_ensemble_is_long_time_average():
    """Infinite-time average (degenerate levels of the clean ring grouped) against a direct
    trapezoid time average of rho_t over [0, T], T = 4000 (error O(1/(T gap)) with the smallest
    gap between distinct levels ~ 0.27 for 12 sites).  The naive non-degenerate formula
    sum_j |v_j(x)|^2 <j|Gamma|j> is visibly different here, so grouping is tested."""
    m = 12
    r = Ring.lattice(np.zeros(m))
    ini = domain_wall(r, 3, region=(0, 5))
    ev = Evolution.prepare(r, ini)
    rho_inf = ev.diagonal_density()
    T = 4000.0
    ts = np.linspace(0, T, 80001)
    rho = ev.density(ts)
    avg = (rho[1:] + rho[:-1]).sum(axis=0) * (ts[1] - ts[0]) / 2 / T
    np.testing.assert_allclose(rho_inf, avg, atol=3e-3)
    naive = np.abs(ev.vectors) ** 2 @ np.sum(np.abs(ev.coef) ** 2, axis=1)
    assert np.abs(naive - avg).max() > 0.01


# ---------------------------------------------------------------------------- ED
def _ed():
    return pytest.importorskip("_ed", reason="tests/_ed.py (brute-force ED) not present")


@pytest.mark.parametrize("with_disorder", [False, True])
def test_trap_release_against_brute_force_ed(with_disorder):
    """Trap release on a disordered 9-site ring, 3 bosons, boson twist 0.4: density and the
    bosonic gamma_t (Lenard determinant of the evolved complex orbitals) against brute-force
    hard-core boson ED (tests/_ed.py: ground state of H_ring + V_trap, then exp(-iHt) psi),
    to 1e-10."""
    ed = _ed()
    m, n, theta, omega = 9, 3, 0.4, 0.9
    eps = _anderson(m, 2.5, 7)
    r = Ring.lattice(eps)
    ini = trap_release(r, n, omega=omega, with_disorder=with_disorder, twist=theta)
    d = np.abs(np.arange(m) - m / 2)
    d = np.minimum(d, m - d)
    eps_prep = (eps if with_disorder else 0.0) + 0.25 * omega**2 * d**2
    w, v = ed.hcb_spectrum(eps_prep, n, 1.0, theta)
    assert w[1] - w[0] > 1e-6
    h_rel = ed.hcb_hamiltonian(eps, n, 1.0, theta)
    times = [0.0, 0.7, 5.0]
    rho = evolve_density(r, ini, times)
    gam = evolved_obdm(r, ini, times)
    for i, t in enumerate(times):
        psi = ed.hcb_evolve(v[:, 0], h_rel, t)
        np.testing.assert_allclose(rho[i], ed.hcb_density(psi, m, n), atol=ROUNDOFF_SOLVE)
        np.testing.assert_allclose(gam[i], ed.hcb_obdm(psi, m, n), atol=ROUNDOFF_SOLVE)


def test_filled_step_against_brute_force_ed():
    """Lattice domain wall with N = |K| is the Fock state with K filled; its evolution under a
    disordered twisted ring (boson twist -1.1, N = 4 even, so fermion twist theta + pi) against
    brute-force ED of hard-core bosons (tests/_ed.py), density and gamma_t to 1e-10."""
    ed = _ed()
    m, theta = 10, -1.1
    eps = _anderson(m, 2.0, 8)
    r = Ring.lattice(eps)
    region = (7, 1)  # sites 7, 8, 9, 0: wraps the twisted bond
    ini = domain_wall(r, 4, region=region, twist=theta)
    basis = ed.hcb_basis(m, 4)
    s = sum(1 << i for i in (7, 8, 9, 0))
    psi0 = (basis == s).astype(np.complex128)
    h_rel = ed.hcb_hamiltonian(eps, 4, 1.0, theta)
    times = [0.0, 1.3, 9.0]
    rho = evolve_density(r, ini, times)
    gam = evolved_obdm(r, ini, times)
    for i, t in enumerate(times):
        psi = ed.hcb_evolve(psi0, h_rel, t)
        np.testing.assert_allclose(rho[i], ed.hcb_density(psi, m, 4), atol=ROUNDOFF_SOLVE)
        np.testing.assert_allclose(gam[i], ed.hcb_obdm(psi, m, 4), atol=ROUNDOFF_SOLVE)


# ---------------------------------------------------------------------------- per-sample output
def test_dynamics_sample_consistency():
    """Per-sample outputs against their definitions computed directly from evolve_density:
    cell sums, sup over the grid, N_tr, tails at depth d (brute-force distance masks)."""
    r = Ring.continuum(12, 4, RNG.standard_normal(48))
    ini = domain_wall(r, 5, region=(2, 7))
    ts = time_grid(5.0, n_linear=4, n_log=3)
    s = dynamics_sample(r, ini, ts)
    assert isinstance(s, DynamicsSample)
    rho = evolve_density(r, ini, ts) * r.weight
    cc = np.stack([np.bincount(r.cell_index, weights=row) for row in rho])
    np.testing.assert_allclose(s.cell_counts, cc, atol=ROUNDOFF_SUM)
    np.testing.assert_allclose(s.sup_cell_change, np.abs(cc - cc[0]).max(axis=0), atol=ROUNDOFF_SUM)
    out = ~ini.region
    np.testing.assert_allclose(s.n_transferred, rho[:, out].sum(1) - rho[0, out].sum(),
                               atol=ROUNDOFF_SUM)
    dist_out = K.ring_distance_to_set_reference(ini.region) * r.spacing
    dist_in = K.ring_distance_to_set_reference(~ini.region) * r.spacing
    for d in range(4):
        sel_o = out & (dist_out > d + 1e-12)
        sel_i = ini.region & (dist_in > d + 1e-12)
        assert np.isclose(s.sup_outside[d], rho[:, sel_o].sum(1).max(), atol=ROUNDOFF_SUM)
        assert np.isclose(s.sup_inside[d], rho[:, sel_i].sum(1).max(), atol=ROUNDOFF_SUM)
        assert np.isclose(s.inside0[d], rho[0, sel_i].sum(), atol=ROUNDOFF_SUM)
    # cells [2, 7) inside K: cell 2 touches K^c at distance h, cell 4 at 2 + h ... ; cell 0 out
    np.testing.assert_allclose(s.cell_distance[[2, 3, 4, 6, 7, 0]],
                               [0.25, 1.25, 2.25, 0.25, -0.25, -1.25])


@pytest.mark.parametrize("size", [64, 128, 256])
def test_disordered_transfer_bounded(size):
    """Dynamical localization (Seiringer-Warzel / Sims-Warzel ECL setting,
    docs/references.md §6): for the
    Anderson lattice at W = 6 (localization length ~ 1) the transferred number across the two
    walls of a half-filled ring stays O(1), sup_t |N_tr| < 6 up to t = 1000, independent of
    size, while the clean ring would transfer 4t/pi (> 6 after t = 5).  (Single samples show
    resonances carrying ~0.3 particles 15 sites out, so no per-sample tail bound is asserted.)"""
    r = Ring.lattice(_anderson(size, 6.0, 100 + size))
    ini = domain_wall(r, size // 2)
    ts = time_grid(1000.0, n_linear=20, n_log=40, t_min_log=0.1)
    s = dynamics_sample(r, ini, ts)
    assert np.abs(s.n_transferred).max() < 6.0
    assert abs(s.n_transferred_inf) < 6.0
    clean = dynamics_sample(r.with_potential(None), ini, [0.0, 10.0])
    assert clean.n_transferred[1] > 10.0


def test_dynamical_fermionization_clean_lattice():
    """Dynamical fermionization: after release from a harmonic trap into the clean (dilute)
    lattice, the bosonic momentum distribution n_B(k, t) = (1/M) sum_xy e^{ik(x-y)} gamma_t(x, y)
    approaches the fermionic one of the initial state, n_F(k) = (1/M) sum_alpha |u~_alpha(k)|^2
    (conserved in the clean ring) (Rigol & Muramatsu, PRL 94, 240403 (2005); Minguzzi &
    Gangardt, PRL 94, 240404 (2005)).  gamma_t is Lenard's determinant of the evolved orbitals;
    the L1 distance falls below 15% of its t = 0 value by t = 40 (fronts wrap at t ~ 80)."""
    m, n = 300, 6
    r = Ring.lattice(np.zeros(m))
    ini = trap_release(r, n, omega=0.06)
    ev = Evolution.prepare(r, ini)
    k = 2 * np.pi * np.arange(m) / m  # boson momenta (theta = 0)
    e = np.exp(1j * np.outer(k, np.arange(m)))
    n_f = np.sum(np.abs(e.conj() @ ini.lattice_orbitals) ** 2, axis=1) / m

    def n_b(g):
        return np.real(np.einsum("kx,xy,ky->k", e, g, e.conj())) / m

    d0 = np.abs(n_b(ev.obdm(0.0)) - n_f).sum()
    nb_t = n_b(ev.obdm(40.0))
    assert np.isclose(nb_t.sum(), n, atol=ROUNDOFF_SOLVE)
    assert d0 > 2.0  # quasi-condensate at t = 0: very different from the fermions
    assert np.abs(nb_t - n_f).sum() < 0.15 * d0
