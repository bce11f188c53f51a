"""Largest eigenvalues of a banded OBDM by local windows (tgsweep.core.band.band_top_eigenpairs)
against LAPACK on the whole band operator (numpy.linalg.eigvalsh of band_to_dense), and the
window / |gamma| kernels against their NumPy twins.

The screen is Collatz-type: at the peak x of an eigenvector of G, |lambda|^p <= (|G|^p 1)(x);
lower bounds by Cauchy interlacing on principal submatrices; an eigenvalue within the padded
residual by Weyl's inequality (docs/references.md §10 "Banded OBDM").
"""

from __future__ import annotations

import numpy as np
import pytest

import tgsweep
from tgsweep import Ring
from tgsweep.core import _band_kernels as BK
from tgsweep.core.band import band_top_eigenpairs
from tgsweep.models.potentials import anderson, speckle
from tgsweep.observables.correlations import band_condensate


def test_window_and_abs_kernels_match_twins():
    """band_window (a principal submatrix, wrapping round the ring) and band_abs_matvec
    against the dense NumPy twins, real and complex bands."""
    rng = np.random.default_rng(4)
    for dt in (np.float64, np.complex128):
        vals = rng.normal(size=(50, 6)).astype(dt)
        if dt == np.complex128:
            vals = vals + 1j * rng.normal(size=vals.shape)
        for a, s in ((0, 20), (43, 30), (10, 38)):
            out = np.empty((s, s), dtype=dt)
            BK.band_window(vals, a, out)
            np.testing.assert_array_equal(out, BK.band_window_reference(vals, a, s))
        v = rng.normal(size=50)
        out = np.empty(50)
        BK.band_abs_matvec(vals, v, out)
        np.testing.assert_allclose(out, np.abs(BK.band_to_dense(vals)) @ v, rtol=1e-13)


def _top_ref(band, k):
    g = BK.band_to_dense(band.values) * band.weight
    return np.sort(np.linalg.eigvalsh(g))[::-1][:k]


@pytest.mark.parametrize("kind,twist,k", [("lattice", 0.0, 2), ("lattice", 0.4, 2),
                                          ("continuum", 0.0, 2)])
def test_band_top_matches_lapack(kind, twist, k):
    """Localized rings (Anderson W = 3 lattice M = 3000, N = 750; speckle V0 = 4 continuum
    h = 1/2, M = 3000): the windows give the k largest eigenvalues of the band operator, each
    within its stated residual (+1e-12) of LAPACK's, and band_condensate uses them."""
    rng = np.random.default_rng(17)
    if kind == "lattice":
        ring = Ring.lattice(anderson(rng, 3000, 3.0))
        n = 750
    else:
        ring = Ring.continuum(1500, 2, speckle(rng, 3000, 0.5, strength=4.0, corr_length=0.5))
        n = 375
    st = tgsweep.ground_state(ring, n_particles=n, twist=twist, method="sliced")
    b = tgsweep.obdm_band(st, "auto", tol=1e-8)
    top = band_top_eigenpairs(b.values, b.weight, k)
    assert top is not None and top.sites < 0.25 * ring.n_grid
    ref = _top_ref(b, k)
    assert np.all(np.abs(top.values - ref) <= top.residuals + 1e-12)
    bc = band_condensate(b, k)
    np.testing.assert_array_equal(bc.occupations, top.values)


def test_band_top_refuses_extended_band():
    """A weakly disordered ring (W = 0.3): gamma barely decays, the screen leaves too much
    of the ring, and band_top_eigenpairs returns None (band_condensate falls back to Lanczos,
    still equal to LAPACK within its residual)."""
    ring = Ring.lattice(anderson(np.random.default_rng(3), 1200, 0.3))
    st = tgsweep.ground_state(ring, n_particles=300)
    b = tgsweep.obdm_band(st, 120)
    assert band_top_eigenpairs(b.values, b.weight, 2) is None
    bc = band_condensate(b, 2)
    assert not b.reliable and np.all(np.isinf(bc.error))   # refused band: no error bound
    np.testing.assert_allclose(bc.occupations, _top_ref(b, 2), rtol=0, atol=1e-10)
