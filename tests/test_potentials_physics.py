"""Disorder generators through the spectrum: integrated density of states vs exact results.

These check the *normalization conventions* of the generators (white-noise variance D/h,
Poisson density per unit length, obstacle placement on the ring) against exactly solvable 1-d
models, using the O(M) Sturm count of :mod:`tgsweep.core.spectrum` on long continuum rings:
N(E) = #{E_j < E} / L (per unit length, hbar^2/2m = 1).  Self-averaging: one sample of length
L = 2e4 suffices; tolerances are 5 standard deviations of the sample-to-sample spread.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import airy

import tgsweep
from tgsweep.models import potentials as P
from tgsweep.core.spectrum import count_below

from _tolerances import k_se

L_RING = 20_000
PPU = 10


def halperin_ids(energy: float, D: float) -> float:
    """Integrated density of states of H = -d^2/dx^2 + V, <V(x)V(y)> = D delta(x - y):

        N(E) = (D/2)^{1/3} / (pi^2 [Ai(z)^2 + Bi(z)^2]),  z = -E (2/D)^{2/3}

    (Halperin, Phys. Rev. 139, A104 (1965); Frisch & Lloyd, Phys. Rev. 120, 1175 (1960)),
    written for hbar^2/2m = 1.  Checked in :func:`test_halperin_formula_two_ways` against the
    Riccati/Fokker-Planck integral and the free limit sqrt(E)/pi.
    """
    z = -energy * (2.0 / D) ** (2.0 / 3.0)
    ai, _, bi, _ = airy(z)
    return (D / 2.0) ** (1.0 / 3.0) / (math.pi**2 * (ai**2 + bi**2))


def _riccati_ids(energy: float, D: float) -> float:
    """Same N(E) from the stationary flux of the Riccati variable z = psi'/psi,
    dz/dx = V - E - z^2 (phase formalism): 1/N = (2/D) sqrt(pi D/2)
    int_0^inf t^{-1/2} exp(-(2/D)(E t + t^3/12)) dt  (derived; substitution t = s^2)."""
    val, _ = quad(lambda s: 2.0 * math.exp(-(2.0 / D) * (energy * s * s + s**6 / 12.0)),
                  0.0, np.inf, limit=200)
    return 1.0 / ((2.0 / D) * math.sqrt(math.pi * D / 2.0) * val)


def test_halperin_formula_two_ways():
    """The Airy closed form equals the Riccati-flux integral, and -> sqrt(E)/pi as D -> 0."""
    for D in (0.5, 1.0, 3.0):
        for E in (-2.0, -0.5, 0.0, 0.7, 4.0):
            assert abs(halperin_ids(E, D) / _riccati_ids(E, D) - 1) < 1e-8
    assert abs(halperin_ids(2.0, 1e-4) / (math.sqrt(2.0) / math.pi) - 1) < 1e-3


@pytest.mark.parametrize("D,seed", [(1.0, 1), (0.3, 2)])
def test_white_noise_ids_matches_halperin(D, seed):
    """Continuum ring with white noise of strength D (variance D/h per grid point): N(E) equals
    Halperin's exact IDS.  The sample-to-sample spread is <= 0.25/sqrt(L) (measured over 8 seeds
    at D = 1); a wrong variance by a factor 2 would move N(0) by 26 %."""
    V = P.white_noise(np.random.default_rng(seed), L_RING * PPU, 1.0 / PPU, D)
    ring = tgsweep.Ring.continuum(L_RING, PPU, V)
    scale = D ** (2.0 / 3.0)
    for e in (-1.0, 0.0, 1.0, 3.0):
        E = e * scale
        n = count_below(ring, 0.0, E) / L_RING
        assert abs(n - halperin_ids(E, D)) < 5 * 0.25 * D ** (1 / 3) / math.sqrt(L_RING), (E, n)


@pytest.mark.parametrize("rho,seed", [(1.0, 3), (0.5, 4)])
def test_poisson_hard_walls_ids_matches_luttinger_kac(rho, seed):
    """Poisson obstacles of density rho with a huge height (hard walls, Luttinger & Kac):
    N(E) = rho / (exp(pi rho / sqrt(E)) - 1) (docs/references.md §3; each gap of exponential length l
    holds floor(l sqrt(E)/pi) Dirichlet levels).  Standard deviation of the count per gap is at
    most sqrt(q(1+q))/(1-q), q = exp(-pi rho/sqrt(E)), over ~rho L gaps."""
    V = P.poisson_obstacles(np.random.default_rng(seed), L_RING * PPU, 1.0 / PPU, rho, 1e6)
    ring = tgsweep.Ring.continuum(L_RING, PPU, V)
    for E in (1.0, 4.0, 9.0):
        q = math.exp(-math.pi * rho / math.sqrt(E))
        ref = rho * q / (1 - q)
        sd = math.sqrt(rho * L_RING * q * (1 + q)) / (1 - q) / L_RING
        # finite differences: levels (2/h^2)(1 - cos(k h)) lie below k^2, relative O(h^2 E/12)
        n = count_below(ring, 0.0, E) / L_RING
        assert abs(n - ref) < 5 * sd + 0.01 * ref, (E, n, ref)



# --------------------------------------------------------------------------- Lloyd model
def lloyd_lyapunov(energy, W: float):
    """Exact Lyapunov exponent of the Lloyd model (Cauchy eps of half width W, hopping 1):
    cosh gamma = [sqrt((2 + E)^2 + W^2) + sqrt((2 - E)^2 + W^2)] / 4 (Thouless, J. Phys. C 5, 77
    (1972); Ishii, Prog. Theor. Phys. Suppl. 53, 77 (1973); docs/references.md section 4)."""
    e = np.asarray(energy, dtype=np.float64)
    return np.arccosh((np.sqrt((2 + e) ** 2 + W**2) + np.sqrt((2 - e) ** 2 + W**2)) / 4)


@pytest.mark.parametrize("W", [0.5, 2.0])
def test_lloyd_lyapunov_exponent_is_the_closed_form(W):
    """Transfer-matrix Lyapunov exponent (tgsweep.observables.lyapunov) of lattices with the
    ``lloyd`` generator vs the exact Thouless-Ishii formula, inside and outside the band; the
    tolerance is 5 standard errors of the mean over independent chains plus the norm-estimate
    bias ln(2)/(2L) of the finite-chain estimate."""
    from tgsweep.observables import lyapunov

    e = np.array([-3.0, -1.0, 0.0, 0.7, 1.9, 2.5])
    n_chains, sites = 8, 20_000
    g = np.array([lyapunov(tgsweep.Ring.lattice(P.make_potential(
        "lloyd", np.random.default_rng([11, c]), sites, W=W)), e) for c in range(n_chains)])
    mean = g.mean(axis=0)
    tol = k_se(g.std(axis=0, ddof=1), n_chains) + math.log(2) / (2 * sites)
    exact = lloyd_lyapunov(e, W)
    assert np.all(np.abs(mean - exact) < tol), (mean, exact, tol)
    assert np.all(tol < 0.05 * exact)  # the check is sharp: a few per cent of gamma
    # and distinguishes the Lloyd law from the Gaussian-disorder (Thouless) one of equal width
    assert abs(lloyd_lyapunov(0.0, 0.5) - 0.5**2 / 96) > 0.1
