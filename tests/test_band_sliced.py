"""The large-L path without an (M, N) orbital array: ground_state(..., method="sliced")
(certified spatially sliced eigensolver) -> obdm_band (packed windows) -> band_condensate.

References: the dense path it accelerates — ground_state with the global eigensolver, the
full OBDM kernel tgsweep.obdm (itself checked against brute-force ED and the per-pair bordered
determinant of Rigol & Muramatsu, PRA 70, 031603(R) (2004)), and LAPACK's dense eigenvalues of
gamma h for lambda_0 (docs/references.md "Banded OBDM").  Rings: Anderson lattice, box W = 3,
large enough (M >= 3 cores) that the solver actually slices (checked: method == "sliced").
"""

from __future__ import annotations

import numpy as np
import pytest

import tgsweep
from tgsweep import Ring
from tgsweep.core.state import LocalizedState
from tgsweep.models.potentials import anderson
from tgsweep.observables.correlations import band_condensate

TOL = 1e-10


def _band_of(g, w):
    m = g.shape[0]
    x = np.arange(m)[:, None]
    return g[x, (x + np.arange(w + 1)[None, :]) % m]


def _ring(m, seed):
    return Ring.lattice(anderson(np.random.default_rng(seed), m, 3.0))


@pytest.mark.parametrize("n, twist", [(80, 0.0), (81, 0.7)])
def test_sliced_band_equals_full_kernel(n, twist):
    """In-band entries = full kernel to 1e-10; lambda_0 from the band within its stated error
    of LAPACK's largest eigenvalue of the full gamma (real twist: N = 80, phi = pi; complex:
    N = 81, theta = 0.7)."""
    ring = _ring(1200, 11)
    ls = tgsweep.ground_state(ring, n_particles=n, twist=twist, method="sliced")
    assert isinstance(ls, LocalizedState)
    lo = ls.orbitals
    assert lo.method == "sliced" and lo.sturm_count == n
    assert lo.values.size < 0.5 * ring.n_grid * n      # really stored on windows
    ds = tgsweep.ground_state(ring, n_particles=n, twist=twist)
    np.testing.assert_allclose(ls.energies, ds.energies, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ls.density(), ds.density(), rtol=0, atol=1e-12)
    b = tgsweep.obdm_band(ls, "auto", tol=1e-8)
    assert b.reliable and b.certificate <= 1e-8
    assert np.iscomplexobj(b.values) == (twist != 0.0)
    g = tgsweep.obdm(ds)
    assert np.abs(_band_of(g, b.width) - b.values).max() <= max(TOL, b.in_band_error)
    bc = band_condensate(b, 2)
    lam = np.linalg.eigvalsh(g)[-1] * ring.weight
    assert abs(bc.occupations[0] - lam) <= bc.error[0]


@pytest.mark.parametrize("twist", [0.0, 0.3])
def test_sliced_band_equals_dense_band_quarter_filling(twist):
    """Filling 1/4 (N = 600, M = 2400): the band from the sliced windows equals the band of the
    dense-orbital state entry by entry (1e-10), and their lambda_0 agree within the stated error;
    real (theta = 0, N even: phi = pi) and complex twist."""
    ring = _ring(2400, 3)
    ls = tgsweep.ground_state(ring, n_particles=600, twist=twist, method="sliced")
    assert ls.orbitals.method == "sliced" and ls.orbitals.sturm_count == 600
    ds = ls.to_state()
    ref = tgsweep.ground_state(ring, n_particles=600, twist=twist, method="bisect")
    np.testing.assert_allclose(ds.energies, ref.energies, rtol=0, atol=1e-12)
    b = tgsweep.obdm_band(ls, 40)
    b_ref = tgsweep.obdm_band(ref, 40)
    assert np.abs(b.values - b_ref.values).max() <= TOL
    c, c_ref = band_condensate(b, 1), band_condensate(b_ref, 1)
    assert abs(c.occupations[0] - c_ref.occupations[0]) <= c.error[0] + 1e-10


def test_sliced_ground_state_at_mu_and_bad_method():
    """At a chemical potential the sliced state has N_mu = min(N+, N-) particles (Sturm counts,
    Seiringer-Warzel) and the dense state's energies; an unknown method is refused by name."""
    ring = _ring(2400, 5)
    ls = tgsweep.ground_state(ring, mu=-1.4, method="sliced")
    n_mu = tgsweep.particle_numbers(ring, -1.4)[0]
    assert ls.n_particles == n_mu and ls.orbitals.method == "sliced"
    ds = tgsweep.ground_state(ring, mu=-1.4)
    assert abs(ls.energy - ds.energy) <= 1e-10 * n_mu
    with pytest.raises(ValueError, match="method"):
        tgsweep.ground_state(ring, n_particles=3, method="slice")
