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
from tgsweep.core.spectrum import MAX_OVERLAP, count_below, lowest_eigenpairs


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
    assert lo.max_residual < 1e-11 and lo.max_overlap <= MAX_OVERLAP
    d = lo.dense()
    gram = np.abs(d.conj().T @ d - np.eye(n)).max()   # the stated overlap is never smaller
    assert gram <= lo.max_overlap * (1 + 1e-6) + 1e-15
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
    assert lo.max_residual < 1e-11 and lo.max_overlap <= MAX_OVERLAP
    e = lo.energies
    gaps = np.flatnonzero(np.diff(e) > 4 * lo.max_residual)
    for j in rng.choice(gaps, 64, replace=False):
        assert count_below(ring, 0.0, 0.5 * (e[j] + e[j + 1])) == j + 1


def _continuum(kind, length, ppu, seed, **kw):
    from tgsweep.models.potentials import speckle, white_noise

    rng = np.random.default_rng(seed)
    m = length * ppu
    pot = (speckle(rng, m, 1.0 / ppu, **kw) if kind == "speckle"
           else white_noise(rng, m, 1.0 / ppu, **kw))
    return Ring.continuum(length, ppu, pot)


@pytest.mark.parametrize("kind,length,ppu,kw,phi", [
    ("speckle", 1000, 2, {"strength": 2.0, "corr_length": 0.5}, np.pi),
    ("speckle", 500, 4, {"strength": 4.0, "corr_length": 0.5}, 0.6),
    ("white_noise", 1000, 2, {"D": 8.0}, 0.0),
    ("white_noise", 500, 4, {"D": 8.0}, np.pi)])
def test_sliced_continuum_matches_dense_lapack(kind, length, ppu, kw, phi):
    """Finite-difference continuum rings (t = 1/h^2, h = 1/2 and 1/4; speckle and Gaussian
    white noise, density N/L = 1/4, real and complex fermion twists) are sliced and certified
    like lattice rings: energies within the stated residual of LAPACK's dense eigh of
    Ring.matrix, each orbital inside LAPACK's lowest-N eigenspace (projector), orthonormal,
    count = global Sturm count below the cut."""
    ring = _continuum(kind, length, ppu, 5 + length, **kw)
    n = length // 4
    lo = lowest_eigenpairs(ring, phi, n)
    assert lo.method == "sliced"
    h = ring.matrix(phi)
    ev, v = np.linalg.eigh(h)
    assert np.all(np.abs(lo.energies - ev[:n]) <= lo.max_residual)
    assert lo.max_residual < 1e-9 and lo.max_overlap <= MAX_OVERLAP
    d = lo.dense()
    gram = np.abs(d.conj().T @ d - np.eye(n)).max()   # the stated overlap is never smaller
    assert gram <= lo.max_overlap * (1 + 1e-6) + 1e-15
    proj = np.linalg.norm(v[:, :n].conj().T @ d, axis=0)
    np.testing.assert_allclose(proj, 1.0, rtol=0, atol=1e-10)
    assert lo.sturm_count == n == count_below(ring, phi, lo.energy_cut)
    assert np.max(np.linalg.norm(h @ d - d * lo.energies, axis=0)) <= lo.max_residual * (1 + 1e-6)


def test_small_localized_ring_slices():
    """M = 800 lattice (W = 4, N = 200): two windows suffice (the margin comes from the
    Lyapunov exponent); still equal to LAPACK."""
    ring = Ring.lattice(np.random.default_rng(9).uniform(-2.0, 2.0, 800))
    lo = lowest_eigenpairs(ring, 0.0, 200)
    assert lo.method == "sliced"
    ev = np.linalg.eigvalsh(ring.matrix(0.0))
    assert np.all(np.abs(lo.energies - ev[:200]) <= lo.max_residual)


def test_packed_kernels_match_numpy_twins():
    """The certificate's kernels against plain NumPy: the chain Sturm count against dense
    eigenvalues, packed residuals against Ring.matrix @ dense vectors, the packed overlap
    against the dense Gram matrix (arcs that wrap round the ring included)."""
    from tgsweep.core import _spectrum_kernels as K

    rng = np.random.default_rng(2)
    d = rng.uniform(-2, 2, 200)
    for e in (-1.5, 0.1, 2.5):
        assert K.chain_count_below(d, 1.0, e, 1e-300) == K.chain_count_below_reference(d, 1.0, e)
    m = 60
    for phi in (0.0, 0.9):
        ring = Ring.lattice(rng.uniform(-1, 1, m))
        real = phi == 0.0
        dt = np.float64 if real else np.complex128
        starts = np.array([55, 0, 10, 30, 58], dtype=np.int64)
        lengths = np.array([12, 20, 5, 30, 62 - 3], dtype=np.int64)
        lengths[-1] = m
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        values = rng.normal(size=int(lengths.sum())).astype(dt)
        if not real:
            values = values + 1j * rng.normal(size=values.size)
        dense = np.zeros((m, 5), dtype=dt)
        for j in range(5):
            o, ln = offsets[j], lengths[j]
            dense[(starts[j] + np.arange(ln)) % m, j] = values[o:o + ln]
        en = rng.normal(size=5)
        out = np.empty(5)
        corner = ring.corner(phi)
        corner = corner.real if real else complex(corner)
        K.packed_residuals(ring.diag, ring.hopping, corner, starts, lengths, offsets, values, en,
                           out)
        ref = np.linalg.norm(ring.matrix(phi) @ dense - dense * en, axis=0)
        np.testing.assert_allclose(out, ref, rtol=1e-12)
        g = dense.conj().T @ dense
        best = max(np.abs(g - np.diag(np.diag(g))).max(),
                   np.abs(np.sqrt(np.diag(g).real) - 1).max())
        got = K.packed_max_overlap(starts, lengths, offsets, values, np.arange(5), m, True)
        assert got == pytest.approx(best, rel=1e-12)
