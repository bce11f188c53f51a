"""Physics of the thermal TG gas: limits, the exact finite-T correlation length, ensembles.

References: the T -> 0 limit is the Lenard/Rigol-Muramatsu ground state (tgsweep.ground_state);
the correlation length of the impenetrable Bose gas / XX0 chain at T > 0 is exact
(Its, Izergin, Korepin & Slavnov, Nucl. Phys. B 340, 752 (1990); Its, Izergin, Korepin &
Varzugin, Physica D 54, 351 (1992); docs/references.md, §8 (Finite temperature)):

    1/xi = -(1/2 pi) int dk ln|tanh(beta (eps(k) - mu)/2)|,

eps(k) = -2t cos k (lattice, k in [-pi, pi]) or (2/h^2)(1 - cos kh) (grid, k in [-pi/h, pi/h]).
Grand vs canonical: Rigol, PRA 72, 063607 (2005) (10 bosons on 50 sites).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq

import tgsweep
from tgsweep import Ring, thermal_state
from tgsweep.models.potentials import speckle
from tgsweep.observables import condensate, momentum_distribution

TOL = 1e-10


def iiks_rate(eps, mu, temperature, k_max, k_fermi):
    f = lambda k: -np.log(abs(np.tanh((eps(k) - mu) / (2 * temperature))))  # noqa: E731
    pts = [-k_fermi, k_fermi] if k_fermi is not None else None
    return quad(f, -k_max, k_max, points=pts, limit=400)[0] / (2 * np.pi)


def _fitted_rate(x, row, lo, hi):
    sel = (x > lo) & (x < hi)
    return -np.polyfit(x[sel], np.log(np.abs(row[sel])), 1)[0]


@pytest.mark.parametrize("n", [7, 8])
def test_zero_temperature_limit_is_the_ground_state(n):
    """Canonical, N fixed (both parities), complex twist, T = gap/60: gamma and E equal the
    ground state's to 1e-10 (corrections ~ e^{-60})."""
    ring = Ring.lattice(np.random.default_rng(2).uniform(-1, 1, 40))
    gs = tgsweep.ground_state(ring, n_particles=n, twist=0.3)
    w = np.linalg.eigvalsh(ring.matrix(gs.fermion_twist))
    st = thermal_state(ring, (w[n] - w[n - 1]) / 60, n_particles=n, ensemble="canonical",
                       twist=0.3)
    np.testing.assert_allclose(tgsweep.obdm(st), tgsweep.obdm(gs), atol=TOL, rtol=0)
    assert abs(st.energy - gs.energy) < TOL


def test_zero_temperature_limit_continuum():
    """Same on a speckle grid ring (density units)."""
    rng = np.random.default_rng(8)
    ring = Ring.continuum(12, 4, speckle(rng, 48, 0.25, strength=2.0,
                                           corr_length=0.5))
    gs = tgsweep.ground_state(ring, n_particles=5)
    w = np.linalg.eigvalsh(ring.matrix(gs.fermion_twist))
    st = thermal_state(ring, (w[5] - w[4]) / 60, n_particles=5, ensemble="canonical")
    np.testing.assert_allclose(tgsweep.obdm(st), tgsweep.obdm(gs), atol=TOL * 4, rtol=0)


@pytest.mark.parametrize("temperature", [2.0, 8.0])
def test_high_temperature_density_is_fermi_dirac_and_correlations_die_on_xi(temperature):
    """At high T the boson density is the Fermi-Dirac density of the one-particle levels (the two
    sector densities coincide up to e^{-L/xi}), and |gamma(x, x + r)| <= e^{-(r - 2)/xi}, xi the
    IIKS length of the clean chain with the same mu (disorder W = 2 only shortens it here)."""
    eps = np.random.default_rng(4).uniform(-1, 1, 60)
    ring = Ring.lattice(eps)
    mu = -0.3
    st = thermal_state(ring, temperature, mu=mu)
    w, v = np.linalg.eigh(ring.matrix(0.0))
    fd = (np.abs(v) ** 2) @ (1 / (1 + np.exp((w - mu) / temperature)))
    np.testing.assert_allclose(st.density(), fd, atol=TOL, rtol=0)
    g = tgsweep.obdm(st)
    xi = 1 / iiks_rate(lambda k: -2 * np.cos(k), mu, temperature, np.pi, np.arccos(-mu / 2))
    r = np.arange(2, 30)
    for x in (0, 17, 40):
        assert np.all(np.abs(g[x, (x + r) % 60]) <= np.exp(-(r - 2) / xi))


@pytest.mark.parametrize("temperature,mu", [(0.5, -0.6), (1.0, 0.3)])
def test_iiks_correlation_length_lattice(temperature, mu):
    """Clean XX0 chain, grand canonical, L = 200 >> xi: the fitted decay rate of |gamma(0, x)|
    over 3 xi < x < 25 xi equals the IIKS rate within 1 %."""
    L = 200
    st = thermal_state(Ring.lattice(np.zeros(L)), temperature, mu=mu)
    rate = iiks_rate(lambda k: -2 * np.cos(k), mu, temperature, np.pi, np.arccos(-mu / 2))
    fit = _fitted_rate(np.arange(L), st.upper_rows(0, 1)[0], 3 / rate, min(L / 2 - 5, 25 / rate))
    assert abs(fit / rate - 1) < 0.01, (fit, rate)


def test_iiks_correlation_length_grid():
    """Clean continuum grid ring (h = 1/4, L = 40), T = 4, mu = 2: grid dispersion
    (2/h^2)(1 - cos kh); fitted rate per unit length within 1 % of IIKS."""
    h, L, T, mu = 0.25, 40, 4.0, 2.0
    ring = Ring.continuum(L, 4)
    st = thermal_state(ring, T, mu=mu)
    kf = np.arccos(1 - mu * h**2 / 2) / h
    rate = iiks_rate(lambda k: (2 / h**2) * (1 - np.cos(k * h)), mu, T, np.pi / h, kf)
    fit = _fitted_rate(ring.x, st.upper_rows(0, 1)[0], 3 / rate, min(L / 2 - 2, 20 / rate))
    assert abs(fit / rate - 1) < 0.01, (fit, rate)


def _mu_for(ring, temperature, n):
    return brentq(lambda m: thermal_state(ring, temperature, mu=m).mean_n - n, -2.5, 2.5,
                  xtol=1e-13)


@pytest.mark.slow
def test_grand_vs_canonical_converge_as_one_over_l():
    """Clean ring at density 1/5 and T = 0.5 (Rigol 2005: 10 bosons on 50 sites): the grand
    ensemble with <N> = N and the canonical one differ in gamma(0, x) by O(1/L); measured
    max_x |delta gamma(0, x)| * L is constant to 10 % from L = 25 to 200, and at L = 50 the
    difference is 1.2e-3 (about 0.3 % of the largest entry after the diagonal)."""
    T = 0.5
    diffs = {}
    for L in (25, 50, 100, 200):
        ring = Ring.lattice(np.zeros(L))
        mu = _mu_for(ring, T, L // 5)
        g = thermal_state(ring, T, mu=mu).upper_rows(0, 1)[0]
        c = thermal_state(ring, T, n_particles=L // 5, ensemble="canonical",
                          tol=1e-12).upper_rows(0, 1)[0]
        diffs[L] = np.abs(g - c).max()
    scaled = np.array([diffs[L] * L for L in diffs])
    assert np.all(np.abs(scaled / scaled[-1] - 1) < 0.1), diffs
    assert 1e-3 < diffs[50] < 1.5e-3
