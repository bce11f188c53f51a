"""Lyapunov exponents from transfer matrices against closed forms from the literature."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from tgsweep import Ring
from tgsweep.core import _lyapunov_kernels as K
from tgsweep.observables import lyapunov
from tgsweep.observables.localization import (KAPPUS_WEGNER_RATIO, aubry_andre_lyapunov,
                                          halperin_lyapunov, kappus_wegner_lyapunov,
                                          lyapunov_chain, thouless_lyapunov)

from _tolerances import ROUNDOFF_SOLVE, ROUNDOFF_SUM, quoted

GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


def test_kernel_matches_numpy_twin():
    """numba kernel == explicit 2x2 matrix products (plain NumPy twin)."""
    rng = np.random.default_rng(0)
    d = rng.uniform(-3, 3, 300)
    e = np.array([-2.5, -0.1, 0.0, 1.7, 4.0])
    for v in [(1.0, 0.0), (0.3, -2.0)]:
        np.testing.assert_allclose(K.log_growth(d, 1.3, e, *v),
                                   K.log_growth_reference(d, 1.3, e, *v), rtol=ROUNDOFF_SUM,
                                   atol=ROUNDOFF_SOLVE)


def test_clean_chain_outside_band_and_units():
    """Clean lattice, |E| > 2t: gamma = arccosh(|E|/2t) (psi ~ e^{-gamma n} solves the recursion).
    The continuum ring returns the same per unit length: 2 + h^2(V-E) = 2cosh(gamma h)."""
    e = np.array([-3.0, 2.5, 5.0])
    g = lyapunov(Ring.lattice(np.zeros(20000)), e)
    np.testing.assert_allclose(g, np.arccosh(np.abs(e) / 2), rtol=1e-3)
    ppu = 10
    g_c = lyapunov(Ring.continuum(5000, ppu, 3.0), [1.0, 2.0])  # V = 3, E < V
    h = 1.0 / ppu
    np.testing.assert_allclose(g_c, np.arccosh(1 + h**2 * (3.0 - np.array([1.0, 2.0])) / 2) / h,
                               rtol=2e-3)
    # inside the band the clean exponent vanishes like 1/L
    assert lyapunov(Ring.lattice(np.zeros(20000)), [0.3])[0] < 1e-3


def test_thouless_weak_disorder():
    """Anderson lattice, eps uniform in [-W/2, W/2], t = 1: gamma = W^2/(96(1 - E^2/4)) away from
    E = 0 (Thouless, J. Phys. C 5, 77 (1972)).  W = 1, 10^7 sites: statistical error < 1 %,
    O(W^4) corrections ~ 2 %."""
    rng = np.random.default_rng(11)
    w = 1.0
    eps = rng.uniform(-w / 2, w / 2, 10**7)
    e = np.array([0.5, 1.0, 1.5])
    g = lyapunov_chain(eps, 1.0, e)
    np.testing.assert_allclose(g, thouless_lyapunov(e, w), rtol=0.04)


def test_kappus_wegner_band_centre():
    """E = 0 anomaly: gamma(0) = <eps^2> Gamma(3/4)^2/Gamma(1/4)^2 = W^2/105.045 (Kappus & Wegner,
    Z. Phys. B 45, 15 (1981); Derrida & Gardner, J. Physique 45, 1283 (1984)), 8.6 % below the
    Thouless value; the transfer matrices must tell them apart."""
    assert np.isclose(12.0 / KAPPUS_WEGNER_RATIO * 8, 105.045, atol=quoted(3))
    assert np.isclose(KAPPUS_WEGNER_RATIO,
                      8 * special.gamma(0.75) ** 2 / special.gamma(0.25) ** 2)
    rng = np.random.default_rng(12)
    w = 0.7
    eps = rng.uniform(-w / 2, w / 2, 2 * 10**7)
    g = lyapunov_chain(eps, 1.0, 0.0)[0]
    assert abs(g / kappus_wegner_lyapunov(w) - 1) < 0.025
    assert g / thouless_lyapunov(0.0, w) < 0.95


def test_aubry_andre_exact():
    """Aubry-Andre eps_n = lam cos(2 pi beta n + phase), beta golden mean, lam > 2:
    gamma(E) = ln(lam/2) for E in the spectrum (Aubry & Andre, Ann. Isr. Phys. Soc. 3, 133
    (1980)); outside the spectrum gamma is larger (Herman's lower bound)."""
    for lam in (2.5, 4.0):
        n = np.arange(400)
        spec = np.linalg.eigvalsh(Ring.lattice(lam * np.cos(2 * np.pi * GOLDEN * n + 0.3))
                                  .matrix(0.0))
        e = spec[[5, 150, 260, 390]]
        chain = lam * np.cos(2 * np.pi * GOLDEN * np.arange(10**6) + 1.1)
        g = lyapunov_chain(chain, 1.0, e)
        np.testing.assert_allclose(g, aubry_andre_lyapunov(lam), rtol=2e-3)
        outside = lyapunov_chain(chain, 1.0, [spec[-1] + 1.0])[0]
        assert outside > aubry_andre_lyapunov(lam) + 0.05


def test_halperin_closed_form():
    """Closed form vs the numbers of docs/references.md §3 (gamma(0) = 0.2893 D^{1/3},
    gamma(1) = 0.1102, gamma(3) = 0.0413 at D = 1), the Born limit D/(8E) (Thouless /
    Lifshits-Gredeskul-Pastur) and the deep-tail limit sqrt(-E)."""
    assert np.isclose(halperin_lyapunov(0.0, 1.0), 0.2893, atol=quoted(4))
    assert np.isclose(halperin_lyapunov(0.0, 8.0), 2 * 0.2893, atol=2 * quoted(4))  # x 8^{1/3}
    np.testing.assert_allclose(halperin_lyapunov(np.array([1.0, 3.0]), 1.0), [0.1102, 0.0413],
                               atol=quoted(4))
    e = np.array([50.0, 200.0, 1000.0])
    born = 1.0 / (8 * e)
    ratio = halperin_lyapunov(e, 1.0) / born
    assert np.all(np.abs(ratio - 1) < 0.02) and np.all(np.diff(np.abs(ratio - 1)) < 0)
    assert np.isclose(halperin_lyapunov(-400.0, 1.0), 20.0, rtol=1e-3)


@pytest.mark.slow
def test_white_noise_transfer_matrix_vs_halperin():
    """Continuum ring, V_i Gaussian with variance D/h per grid point (white noise of strength D):
    the finite-difference transfer matrices reproduce Halperin's exact gamma(E) (Phys. Rev. 139,
    A104 (1965)) to the statistical/discretization accuracy (~2 %)."""
    rng = np.random.default_rng(3)
    ppu, length, d = 20, 200_000, 1.0
    v = rng.normal(size=length * ppu) * np.sqrt(d * ppu)
    e = np.array([0.0, 1.0, 3.0])
    g = lyapunov(Ring.continuum(length, ppu, v), e)
    np.testing.assert_allclose(g, halperin_lyapunov(e, d), rtol=0.04)


def test_input_validation():
    with pytest.raises(TypeError):
        lyapunov(np.zeros(5), [0.0])
    with pytest.raises(ValueError):
        lyapunov_chain(np.zeros(5), -1.0, [0.0])
    with pytest.raises(ValueError):
        halperin_lyapunov(1.0, 0.0)
