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
    """Clean ring (extended states) and weak disorder: a global path, still exact (LAPACK dense
    eigvalsh of Ring.matrix)."""
    for w in (0.0, 0.5):
        ring = Ring.lattice(np.random.default_rng(1).uniform(-w / 2, w / 2, 1500))
        lo = lowest_eigenpairs(ring, 0.0, 375)
        assert lo.method == "banded"          # M <= 16 n: the folded band's eigenvalues
        assert lo.sturm_count == 375 and lo.max_overlap <= MAX_OVERLAP
        ev = np.linalg.eigvalsh(ring.matrix(0.0))
        np.testing.assert_allclose(lo.energies, ev[:375], rtol=0, atol=1e-12)
        if w == 0.0:                            # (at W = 0.5 the band-edge levels slice)
            lg = lowest_eigenpairs(ring, 0.0, 20)  # M > 16 n: bisection
            assert lg.method == "global"
            np.testing.assert_allclose(lg.energies, ev[:20], rtol=0, atol=1e-12)


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
    """M = 800 lattice (W = 4, N = 200), slicing forced (``method="sliced"``; "auto" solves a
    ring this small globally): windows of at most M sites suffice (the margin comes from the
    Lyapunov exponent); still equal to LAPACK's dense eigenvalues."""
    ring = Ring.lattice(np.random.default_rng(9).uniform(-2.0, 2.0, 800))
    lo = lowest_eigenpairs(ring, 0.0, 200, method="sliced")
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


@pytest.mark.parametrize("m,phi", [(3, 0.0), (4, np.pi), (7, 0.3), (64, 0.0), (65, np.pi),
                                   (301, 1.1)])
def test_folded_band_is_the_ring_matrix(m, phi):
    """The folded order 0, M-1, 1, M-2, ... makes the twisted ring pentadiagonal: the band
    (lower storage) rebuilt as a dense matrix equals P Ring.matrix P^T exactly, and its
    eigenvalues (banded_eigenvalues: LAPACK ?sbevd/?hbevd) equal numpy.linalg.eigvalsh of
    Ring.matrix (LAPACK dense) to 1e-13 ||H||."""
    from tgsweep.core.spectrum import banded_eigenvalues, folded_band

    ring = Ring.lattice(np.random.default_rng(m).uniform(-2.0, 2.0, m))
    ab = folded_band(ring, phi)
    p = np.empty(m, dtype=int)
    p[0::2], p[1::2] = np.arange((m + 1) // 2), m - 1 - np.arange(m // 2)
    h = ring.matrix(phi)[np.ix_(p, p)]
    rebuilt = np.diag(ab[0]).astype(h.dtype)
    for k in (1, 2):
        rebuilt += np.diag(ab[k, :m - k], -k) + np.diag(np.conj(ab[k, :m - k]), k)
    np.testing.assert_array_equal(rebuilt, h)
    hnorm = np.abs(np.linalg.eigvalsh(ring.matrix(phi))).max()
    np.testing.assert_allclose(banded_eigenvalues(ring, phi, 0, m),
                               np.linalg.eigvalsh(ring.matrix(phi)), rtol=0, atol=1e-13 * hnorm)


@pytest.mark.parametrize("m,w,phi,n", [(40, 3.0, 0.9, 10), (100, 3.0, 0.0, 25),
                                       (250, 3.0, 0.0, 62), (500, 3.0, 0.7, 125),
                                       (1000, 3.0, np.pi, 250)])
def test_small_ring_banded_path_matches_dense_lapack(m, w, phi, n):
    """Small Anderson rings (W = 3, N = M/4), where one global solve is cheaper than windows:
    method "rqi" up to SMALL_MAX sites, else "banded" (eigenvalues from the folded band, inverse
    iteration on the ring), equals
    LAPACK's dense eigh of Ring.matrix (energies within the stated residual, each orbital in
    LAPACK's lowest-n eigenspace), is orthonormal to the stated overlap, and n = the global
    Sturm count below the cut (Sylvester's law of inertia; Parlett, The Symmetric Eigenvalue
    Problem, ch. 3)."""
    from tgsweep.core.spectrum import SMALL_MAX

    ring = Ring.lattice(np.random.default_rng(m + 1).uniform(-w / 2, w / 2, m))
    lo = lowest_eigenpairs(ring, phi, n)
    assert lo.method == ("rqi" if m <= SMALL_MAX else "banded")   # tests/test_spectrum_small.py
    h = ring.matrix(phi)
    ev, v = np.linalg.eigh(h)
    ref_err = 10 * np.finfo(float).eps * np.abs(ev).max()   # LAPACK's own O(eps ||H||)
    assert np.all(np.abs(lo.energies - ev[:n]) <= lo.max_residual + ref_err)
    assert lo.max_residual < 1e-11 and lo.max_overlap <= MAX_OVERLAP
    d = lo.dense()
    assert np.abs(d.conj().T @ d - np.eye(n)).max() <= lo.max_overlap * (1 + 1e-6) + 1e-15
    np.testing.assert_allclose(np.linalg.norm(v[:, :n].conj().T @ d, axis=0), 1.0, rtol=0,
                               atol=1e-10)
    assert lo.sturm_count == n == count_below(ring, phi, lo.energy_cut)
    assert np.max(np.linalg.norm(h @ d - d * lo.energies, axis=0)) <= lo.max_residual * (1 + 1e-6)
    # the slicing forced on the same ring gives the same levels (windows of <= M sites)
    ls = lowest_eigenpairs(ring, phi, n, method="sliced")
    assert ls.method in ("sliced", "banded")
    assert np.all(np.abs(ls.energies - ev[:n]) <= ls.max_residual + ref_err)


def test_bad_method_is_named():
    """An unknown path is refused with the field named and the allowed values."""
    ring = Ring.lattice(np.random.default_rng(0).uniform(-1, 1, 40))
    with pytest.raises(ValueError, match="method: must be 'auto', 'sliced' or 'global'"):
        lowest_eigenpairs(ring, 0.0, 5, method="dense")
    from tgsweep.core.spectrum import eigenpairs
    with pytest.raises(ValueError, match="'banded'"):
        eigenpairs(ring, 0.0, 0, 5, method="sliced")


@pytest.mark.parametrize("m,phi", [(3, 0.0), (4, 0.5), (17, np.pi)])
def test_tiny_rings_every_level(m, phi):
    """Rings of 3-17 sites, n = 1 and n = M (no cut above the top level): the small-ring path
    ("rqi", tests/test_spectrum_small.py) equals LAPACK's dense eigvalsh of Ring.matrix,
    residuals and overlaps near rounding."""
    ring = Ring.lattice(np.random.default_rng(m).uniform(-1.5, 1.5, m))
    ev = np.linalg.eigvalsh(ring.matrix(phi))
    for n in (1, m):
        lo = lowest_eigenpairs(ring, phi, n)
        assert lo.method == "rqi" and lo.sturm_count == n
        np.testing.assert_allclose(lo.energies, ev[:n], rtol=0, atol=1e-13)
        assert lo.max_residual < 1e-13 and lo.max_overlap < 1e-13
