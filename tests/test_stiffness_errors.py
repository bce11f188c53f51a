"""Honest error estimates of the stiffness, the contour E_L(N, 0), and the n_particles entry.

References:
* Clean grid, closed form (plane waves E = -2t cos k, k = (2 pi j + phi)/M summed as a
  geometric series): rho_s = (2 t L / theta^2) (sin(pi N / M) / sin(pi / M)) (1 - cos(theta / M))
  (lattice: L = M; continuum: t = 1/h^2, L = M h).
* Disordered rings: sums of mpmath roots of tr T(E) = 2 cos phi (Floquet-Bloch; Teschl,
  "Jacobi Operators and Completely Integrable Nonlinear Lattices", AMS 2000, ch. 7), with the
  twist formed in mpmath.
* E_L(N, 0): LAPACK eigenvalues of the dense ring matrix (``numpy.linalg.eigvalsh``) and the
  package's own Sturm bisection.
A result flagged ``reliable`` must lie within its stated error: |rho_s / ref - 1| <=
10**log10_error.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from tgsweep import Ring
from tgsweep.core import _stiffness_kernels as K
from tgsweep.core.spectrum import eigenvalues
from tgsweep.models.ring import fermion_twist
from tgsweep.observables import stiffness

from test_stiffness import _mp_delta

THETAS = np.array([1e-5, 1e-4, 1e-3, 1e-2, 0.1, 0.5, 1.0, 2.0, 3.0, np.pi])


def _mp_rho(ring, n, theta, dps=60):
    """rho_s from mpmath roots of tr T(E) = 2 cos(phi0 + theta), with phi0 + theta formed in
    mpmath (a double-precision twist pi + theta would carry a rounding error ~eps/theta)."""
    phi0 = fermion_twist(0.0, n)
    with mp.workdps(dps):
        diag = [mp.mpf(float(x)) for x in ring.diag]
        th = mp.mpf(float(theta))
        sums = []
        for target, phi in ((2 * mp.cos(phi0), phi0), (2 * mp.cos(phi0) * mp.cos(th),
                                                      phi0 + float(theta))):
            ev = np.linalg.eigvalsh(ring.matrix(phi))[:n]
            assert np.min(np.diff(ev)) > 1e-8
            roots = []
            for e0 in ev:
                e = mp.mpf(float(e0))
                for _ in range(60):
                    f, fp = _mp_delta(diag, ring.hopping, e)
                    step = (f - target) / fp
                    e -= step
                    if abs(step) < mp.mpf(10) ** (5 - dps):
                        break
                assert abs(e - mp.mpf(float(e0))) < 1e-8
                roots.append(e)
            sums.append(mp.fsum(roots))
        return float(mp.mpf(ring.length) * (sums[1] - sums[0]) / th**2)


def _clean_rho(m, n, length, t, thetas):
    c = np.sin(np.pi * n / m) / np.sin(np.pi / m)
    return 2 * t * length / thetas**2 * c * 2 * np.sin(thetas / (2 * m)) ** 2


def _check_within(res, ref, context):
    true = np.abs(res.rho_s / ref - 1)
    stated = 10.0 ** res.log10_error
    bad = res.reliable & ~(true <= stated * (1 + 1e-9) + 1e-16)
    assert not np.any(bad), (context, res.thetas[bad], true[bad], stated[bad])


@pytest.mark.parametrize("m", [16, 64, 256, 1000])
def test_clean_lattice_within_stated_error(m):
    """Clean lattice rings, several fillings and 10 twists from 1e-5 to pi: every reliable
    result is within its stated error of the closed form (the old estimate was up to 700x too
    small at L = 1000, theta = 1e-3), and small twists are reliable (contour per theta)."""
    ring = Ring.lattice(np.zeros(m))
    ns = {1, 2, 3, m // 8 + 1, m // 4, m // 2 - 1, m // 2, m - 2}
    thetas = THETAS
    if m > 256:  # keep it cheap: the contour range (the band path at theta ~ pi is O(M N))
        ns, thetas = {1, m // 4 + 1, m // 2}, THETAS[THETAS <= 2.0]
    for n in sorted(ns):
        res = stiffness(ring, thetas=thetas, n_particles=n)
        ref = _clean_rho(m, n, m, 1.0, thetas)
        _check_within(res, ref, (m, n))
        assert np.all(res.reliable[thetas <= 1.0]), (m, n, res.log10_error)
        for method in ("bands", "direct") if m <= 256 else ():  # the band path's too
            _check_within(stiffness(ring, thetas=thetas, n_particles=n, method=method), ref,
                          (m, n, method))


@pytest.mark.parametrize("length,ppu", [(20, 8), (10, 16), (40, 4)])
def test_clean_continuum_within_stated_error(length, ppu):
    """Clean continuum grids (t = 1/h^2): reliable results within their stated error of the
    closed form, for several N and 10 twists."""
    ring = Ring.continuum(length, ppu)
    m = ring.n_grid
    for n in (1, 4, 9, 24):
        res = stiffness(ring, thetas=THETAS, n_particles=n)
        ref = _clean_rho(m, n, length, ring.hopping, THETAS)
        _check_within(res, ref, (length, ppu, n))
        assert np.all(res.reliable[THETAS <= 1.0])


@pytest.mark.parametrize("w,m,seed", [(0.5, 40, 1), (2.0, 48, 2), (6.0, 40, 3)])
def test_disordered_within_stated_error_vs_mpmath(w, m, seed):
    """Anderson rings (weak to strong disorder): auto and band path are within their stated
    errors of mpmath roots (60 digits) at twists 1e-4 .. pi."""
    ring = Ring.lattice(np.random.default_rng(seed).uniform(-w / 2, w / 2, m))
    thetas = np.array([1e-4, 1e-2, 0.5, np.pi])
    for method in ("auto", "bands"):
        res = stiffness(ring, 0.0, thetas, method=method)
        ref = np.array([_mp_rho(ring, res.n_mu, th) for th in thetas])
        _check_within(res, ref, (w, m, method))
        if method == "auto":
            assert np.all(res.reliable)


@pytest.mark.parametrize("kind", ["lattice", "continuum"])
def test_contour_energy0_vs_bisection(kind):
    """E_L(N, 0) from the line integral of ln|f0| equals the sum of the N lowest LAPACK
    eigenvalues and the package's Sturm bisection to 1e-12 relative, within its stated error,
    for clean and disordered rings at several fillings."""
    rng = np.random.default_rng(11)
    rings = ([Ring.lattice(rng.uniform(-2, 2, 1200)), Ring.lattice(np.zeros(600)),
              Ring.lattice(rng.uniform(-0.25, 0.25, 900))] if kind == "lattice" else
             [Ring.continuum(40, 16, rng.uniform(0, 4, 640)), Ring.continuum(30, 8)])
    for ring in rings:
        m = ring.n_grid
        for n in (m // 10 + 1, m // 4, m // 2 - 1):
            res = stiffness(ring, thetas=[0.5], n_particles=n)
            phi0 = fermion_twist(0.0, n)
            lapack = float(np.sum(np.linalg.eigvalsh(ring.matrix(phi0))[:n]))
            bisect = float(np.sum(eigenvalues(ring, phi0, 0, n)))
            true = abs(res.energy0 / lapack - 1)
            assert true <= 1e-12 and abs(res.energy0 / bisect - 1) <= 1e-12
            assert true <= 10.0 ** res.log10_energy0_error
            if kind == "lattice":  # the contour (not the bisection fallback) was used
                assert res.log10_energy0_error <= -12


def test_n_particles_equals_mu():
    """stiffness(ring, n_particles=N_mu) = stiffness(ring, mu) for a disordered ring."""
    ring = Ring.lattice(np.random.default_rng(4).uniform(-2, 2, 120))
    a = stiffness(ring, -0.3, [0.2, 1.0])
    b = stiffness(ring, thetas=[0.2, 1.0], n_particles=a.n_mu)
    np.testing.assert_allclose(b.log10_rho_s, a.log10_rho_s, rtol=0, atol=1e-12)
    assert b.energy0 == pytest.approx(a.energy0, rel=1e-14)
    assert (b.n_plus, b.n_minus, b.ambiguous) == (-1, -1, False) and np.isnan(b.mu_gap)


def test_even_moments_twin():
    """Band powers of the ring matrix (numba) vs dense matrix powers (NumPy twin), both
    corner signs; S_2 = sum (d_i - e)^2 + 2 M t^2 exactly."""
    d = np.random.default_rng(0).uniform(-2, 2, 23)
    for c in (-1.3, 1.3):
        got = K.even_moments(d, 1.3, c, 0.2, 6)
        np.testing.assert_allclose(got, K.even_moments_reference(d, 1.3, c, 0.2, 6), rtol=1e-13)
        assert got[0] == pytest.approx(np.sum((d - 0.2) ** 2) + 2 * 23 * 1.3**2, rel=1e-14)
