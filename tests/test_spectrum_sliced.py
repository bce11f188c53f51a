"""Large-ring eigensolver by spatial slicing (tgsweep.core.spectrum.lowest_eigenpairs).

References: LAPACK's dense Hermitian eigensolver (numpy.linalg.eigh of Ring.matrix) on M <= 4000,
and the package's global Sturm counts (Sylvester's law of inertia) on M = 10^5.  For a normal
matrix an approximate eigenpair with residual r lies within r of an eigenvalue (Bauer-Fike /
Weyl), which the tests check against the stated ``max_residual``.
"""

from __future__ import annotations

import numpy as np
import pytest

from tgsweep import Ring
from tgsweep.core.spectrum import count_below, lowest_eigenpairs


@pytest.mark.parametrize("m,w,phi,n", [(3000, 3.0, 0.0, 750), (3000, 3.0, np.pi, 751),
                                       (2400, 4.0, 0.7, 600), (4000, 6.0, 0.0, 2001)])
def test_sliced_matches_dense_lapack(m, w, phi, n):
    """Anderson rings (W = 3..6), real and complex twists: energies within the stated residual
    of LAPACK's, the spanned space equal to LAPACK's lowest-n eigenspace (projector), the
    orbitals orthonormal, the count equal to the global Sturm count below the cut."""
    ring = Ring.lattice(np.random.default_rng(m + n).uniform(-w / 2, w / 2, m))
    lo = lowest_eigenpairs(ring, phi, n)
    assert lo.method == "sliced"
    ev, v = np.linalg.eigh(ring.matrix(phi))
    assert np.all(np.abs(lo.energies - ev[:n]) <= lo.max_residual)
    assert lo.max_residual < 1e-11 and lo.max_overlap < 1e-10
    d = lo.dense()
    np.testing.assert_allclose(d.conj().T @ d, np.eye(n), rtol=0, atol=1e-11)
    proj = np.linalg.norm(v[:, :n].conj().T @ d, axis=0)  # each orbital inside the eigenspace
    np.testing.assert_allclose(proj, 1.0, rtol=0, atol=1e-10)
    assert lo.sturm_count == n == count_below(ring, phi, lo.energy_cut)
    hd = ring.matrix(phi) @ d - d * lo.energies
    assert np.max(np.linalg.norm(hd, axis=0)) <= lo.max_residual * (1 + 1e-6)


def test_clean_and_extended_rings_fall_back():
    """Clean ring (extended states) and weak disorder: the global path, still exact."""
    for w in (0.0, 0.5):
        ring = Ring.lattice(np.random.default_rng(1).uniform(-w / 2, w / 2, 1500))
        lo = lowest_eigenpairs(ring, 0.0, 375)
        assert lo.method == "global"
        ev = np.linalg.eigvalsh(ring.matrix(0.0))
        np.testing.assert_allclose(lo.energies, ev[:375], rtol=0, atol=1e-12)


@pytest.mark.slow
def test_sliced_large_ring_vs_sturm_counts():
    """M = 10^5, W = 3, N = 25 000: count = global Sturm count below the cut, residuals and
    cross-window overlaps certified, and Sturm counts at 64 random points between consecutive
    computed levels equal their index (no level missed or duplicated in between)."""
    m, n = 10**5, 25_000
    rng = np.random.default_rng(7)
    ring = Ring.lattice(rng.uniform(-1.5, 1.5, m))
    lo = lowest_eigenpairs(ring, 0.0, n)
    assert lo.method == "sliced"
    assert lo.sturm_count == n == count_below(ring, 0.0, lo.energy_cut)
    assert lo.max_residual < 1e-11 and lo.max_overlap < 1e-10
    e = lo.energies
    gaps = np.flatnonzero(np.diff(e) > 4 * lo.max_residual)
    for j in rng.choice(gaps, 64, replace=False):
        assert count_below(ring, 0.0, 0.5 * (e[j] + e[j + 1])) == j + 1
