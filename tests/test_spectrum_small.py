"""Small rings (M <= SMALL_MAX) in lowest_eigenpairs: the LAPACK-free "rqi" path (Sturm-isolated,
batched Rayleigh quotient iteration) and its fallback, the "banded" path (folded band + LAPACK
?sbevd, fused inverse iteration and certificate).

References, none of them written here: LAPACK's dense Hermitian eigensolver (numpy.linalg.eigh /
eigvalsh of Ring.matrix), the closed-form spectrum of the clean twisted ring
E_k = -2t cos((2 pi k + phi) / M) (Bloch's theorem), exact rational arithmetic
(fractions.Fraction) for the certificate's inner products and residuals, and Weyl's bound: an
approximate eigenpair with residual r of a Hermitian matrix lies within r of an eigenvalue.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tgsweep import Ring
from tgsweep.core import _spectrum_kernels as K
from tgsweep.core.spectrum import (SMALL_MAX, count_below, folded_band, lowest_eigenpairs,
                                   spectral_bounds)


def _corner(ring, phi):
    c = ring.corner(phi)
    return float(c.real) if abs(np.sin(phi)) < 1e-15 else complex(c)


def _anderson(m, w, seed):
    return Ring.lattice(np.random.default_rng(seed).uniform(-w / 2, w / 2, m))


def _projector_error(d, v):
    """|| D D^H - V V^H ||_2 for orthonormal column blocks (the spanned spaces' distance)."""
    return float(np.linalg.norm(d @ d.conj().T - v @ v.conj().T, 2))


def _exact_overlap(vals):
    """max |<v_i, v_j> - delta_ij| over rows, in exact rational arithmetic (complex entries as
    pairs of Fractions)."""
    re = [[Fraction(float(x)) for x in row.real] for row in vals]
    im = [[Fraction(float(x)) for x in row.imag] for row in vals] if np.iscomplexobj(vals) else None
    best = 0.0
    for i in range(len(re)):
        for j in range(i, len(re)):
            sr = sum(a * b for a, b in zip(re[i], re[j]))
            si = Fraction(0)
            if im is not None:
                sr += sum(a * b for a, b in zip(im[i], im[j]))
                si = sum(a * b for a, b in zip(re[i], im[j])) - sum(
                    a * b for a, b in zip(im[i], re[j]))
            if i == j:
                sr -= 1
            best = max(best, float(abs(sr)) if si == 0 else abs(complex(float(sr), float(si))))
    return best


def _exact_residual2(ring, phi, vec, e):
    """||H v - e v||^2 in exact rational arithmetic (H with the float entries tgsweep uses)."""
    m = ring.n_grid
    c = complex(ring.corner(phi))
    if abs(np.sin(phi)) < 1e-15:
        c = complex(c.real, 0.0)
    t = Fraction(float(ring.hopping))
    d = [Fraction(float(x)) for x in ring.diag]
    vr = [Fraction(float(x)) for x in np.real(vec)]
    vi = [Fraction(float(x)) for x in np.imag(vec)]
    cr, ci = Fraction(c.real), Fraction(c.imag)
    er = Fraction(float(e))
    tot = Fraction(0)
    for i in range(m):
        hr = (d[i] - er) * vr[i]
        hi = (d[i] - er) * vi[i]
        for nb in (i - 1, i + 1):
            if (i, nb) == (0, -1):         # H[0, M-1] = c
                hr += cr * vr[m - 1] - ci * vi[m - 1]
                hi += cr * vi[m - 1] + ci * vr[m - 1]
            elif (i, nb) == (m - 1, m):    # H[M-1, 0] = conj(c)
                hr += cr * vr[0] + ci * vi[0]
                hi += cr * vi[0] - ci * vr[0]
            else:
                hr -= t * vr[nb]
                hi -= t * vi[nb]
        tot += hr * hr + hi * hi
    return tot


@pytest.mark.parametrize("m,phi", [(3, 0.0), (4, np.pi), (7, 0.4), (20, 0.0), (21, 2.3),
                                   (64, np.pi)])
def test_fold_kernel_is_the_numpy_fold(m, phi):
    """fold_ring_band writes exactly folded_band (its NumPy twin, itself checked against
    P Ring.matrix P^T in test_spectrum_sliced.py) and returns spectral_bounds."""
    ring = _anderson(m, 3.0, m)
    ref = folded_band(ring, phi)
    ab = np.full((3, m), 7.0, dtype=ref.dtype, order="F")
    lo, hi = K.fold_ring_band(ring.diag, float(ring.hopping), _corner(ring, phi), ab)
    np.testing.assert_array_equal(ab, ref)
    assert (lo, hi) == spectral_bounds(ring)


@pytest.mark.parametrize("m,w,phi,n", [
    (3, 3.0, 0.0, 1), (3, 3.0, 0.0, 3), (5, 2.0, 0.7, 2), (17, 3.0, np.pi, 4),
    (20, 3.0, 0.0, 5), (20, 3.0, 0.0, 6), (21, 3.0, 1.3, 5), (40, 3.0, 0.9, 10),
    (60, 3.0, np.pi, 15), (64, 6.0, 0.0, 16), (100, 3.0, 0.0, 25), (150, 3.0, 2.1, 37),
    (150, 3.0, np.pi, 38), (256, 3.0, 0.0, 64), (256, 3.0, 0.5, 1), (40, 3.0, 0.0, 40)])
def test_small_rings_match_dense_lapack(m, w, phi, n):
    """Anderson rings of 3..256 sites, real and complex twists, N odd and even (incl. N = 1 and
    N = M): energies equal LAPACK's dense eigh to 1e-12 ||H|| and lie within the stated
    residual (Weyl); the orbitals span LAPACK's lowest-N eigenspace (projectors); the stated
    residual and overlap are not below the dense ones; N = the global Sturm count below the cut
    and numpy's count of dense eigenvalues below it."""
    ring = _anderson(m, w, 1000 + m + n)
    lo = lowest_eigenpairs(ring, phi, n)
    assert lo.method == ("rqi" if m <= SMALL_MAX else "banded")
    h = ring.matrix(phi)
    ev, v = np.linalg.eigh(h)
    hnorm = np.abs(ev).max()
    ref_err = 10 * np.finfo(float).eps * hnorm          # LAPACK's own O(eps ||H||)
    np.testing.assert_allclose(lo.energies, ev[:n], rtol=0, atol=1e-12 * hnorm)
    assert np.all(np.abs(lo.energies - ev[:n]) <= lo.max_residual + ref_err)
    assert lo.max_residual < 1e-13 * hnorm and lo.max_overlap < 1e-12
    d = lo.dense()
    assert _projector_error(d, v[:, :n]) < 1e-11
    assert np.max(np.linalg.norm(h @ d - d * lo.energies, axis=0)) <= lo.max_residual
    assert np.abs(d.conj().T @ d - np.eye(n)).max() <= lo.max_overlap
    assert lo.sturm_count == n == count_below(ring, phi, lo.energy_cut)
    assert int(np.sum(ev < lo.energy_cut)) == n
    if n < m:
        assert ev[n - 1] < lo.energy_cut < ev[n]


@pytest.mark.parametrize("m,phi,n", [(20, 0.0, 5), (21, 0.0, 7), (40, np.pi, 10),
                                     (64, 0.0, 17), (128, np.pi, 32), (40, 0.3, 9)])
def test_clean_rings_degenerate_levels(m, phi, n):
    """Clean rings: the levels come in exactly degenerate pairs (+k, -k; at phi = pi the pairs
    k, -k-1), which Sturm bisection cannot isolate, so the "banded" fallback (Gram-Schmidt
    inside clusters) is taken at phi = 0, pi; energies equal the closed form
    E_k = -2t cos((2 pi k + phi) / M) (Bloch) to 1e-13, the span equals LAPACK's lowest-N
    eigenspace (the cut lies in a gap for these N), orthonormal, and the count is N."""
    ring = Ring.lattice(np.zeros(m))
    lo = lowest_eigenpairs(ring, phi, n)
    k = np.arange(m)
    exact = np.sort(-2.0 * np.cos((2 * np.pi * k + phi) / m))
    np.testing.assert_allclose(lo.energies, exact[:n], rtol=0, atol=1e-13)
    if abs(np.sin(phi)) < 1e-15:
        assert lo.method == "banded"
    ev, v = np.linalg.eigh(ring.matrix(phi))
    d = lo.dense()
    assert _projector_error(d, v[:, :n]) < 1e-10
    assert np.abs(d.conj().T @ d - np.eye(n)).max() <= lo.max_overlap < 1e-12
    assert lo.max_residual < 1e-12
    assert lo.sturm_count == n == count_below(ring, phi, lo.energy_cut)


def test_near_degenerate_levels_fall_back():
    """Disorder 1e-9 on a clean ring splits the pairs by ~1e-9: bisection isolates them, but
    vectors from separate Rayleigh quotient iterations overlap ~ eps / gap > 1e-10, so the
    banded path (Gram-Schmidt inside clusters) is taken; still LAPACK's eigenspace and
    orthonormal to 1e-12."""
    ring = _anderson(40, 1e-9, 3)
    lo = lowest_eigenpairs(ring, 0.0, 9)
    assert lo.method == "banded"
    ev, v = np.linalg.eigh(ring.matrix(0.0))
    np.testing.assert_allclose(lo.energies, ev[:9], rtol=0, atol=1e-13)
    d = lo.dense()
    assert _projector_error(d, v[:, :9]) < 1e-10
    assert np.abs(d.conj().T @ d - np.eye(9)).max() <= lo.max_overlap < 1e-12


@pytest.mark.parametrize("m,phi,n", [(12, 0.0, 3), (20, 0.8, 5), (33, np.pi, 8)])
def test_certificate_is_never_below_the_exact_values(m, phi, n):
    """The stated overlap and residual against exact rational arithmetic on the stored vectors
    (rounding of the certificate's own sums included), for both small-ring kernels."""
    ring = _anderson(m, 3.0, 40 + m)
    lo = lowest_eigenpairs(ring, phi, n)
    assert lo.method == "rqi"
    vals = lo.values.reshape(n, m)
    assert _exact_overlap(vals) <= lo.max_overlap
    for j in range(n):
        assert float(_exact_residual2(ring, phi, vals[j], lo.energies[j])) <= lo.max_residual ** 2
    # the banded kernel on the same ring (its eigenvalues from LAPACK's band solver)
    d, t, c = ring.diag, float(ring.hopping), _corner(ring, phi)
    real = isinstance(c, float)
    ab = np.empty((3, m), dtype=np.float64 if real else np.complex128, order="F")
    lo_b, hi_b = K.fold_ring_band(d, t, c, ab)
    hnorm = max(abs(lo_b), abs(hi_b))
    w = np.sort(np.linalg.eigvalsh(ring.matrix(phi)))[:n]
    vecs = np.empty((n, m), dtype=ab.dtype)
    res, ov, cnt = K.ring_certified_pairs(d, t, c, np.ascontiguousarray(w), hnorm,
                                          lo.energy_cut, 1e-290, vecs, 7)
    assert cnt == n and _exact_overlap(vecs) <= ov
    stated = res + 1e-15 * hnorm            # what lowest_eigenpairs states (rounding of H v - E v)
    for j in range(n):
        assert float(_exact_residual2(ring, phi, vecs[j], w[j])) <= stated ** 2


@pytest.mark.parametrize("phi", [0.0, np.pi, 1.1])
def test_kernels_match_numpy_twins(phi):
    """Each small-ring kernel against its plain NumPy twin: batched Sturm counts against dense
    eigenvalue counts, the batched inverse step against dense solves, ring_tiny_pairs and
    ring_certified_pairs against certified_pairs_reference (dense eigh: the same span, the
    same certificate quantities recomputed, the same count)."""
    rng = np.random.default_rng(11)
    m, n = 30, 7
    ring = _anderson(m, 3.0, 12)
    d, t, c = ring.diag, float(ring.hopping), _corner(ring, phi)
    dtype = np.float64 if isinstance(c, float) else np.complex128
    ev = np.linalg.eigvalsh(ring.matrix(phi))
    es = np.concatenate([rng.uniform(ev[0] - 1, ev[-1] + 1, 12), 0.5 * (ev[:5] + ev[1:6])])
    out = np.zeros(es.size, dtype=np.int64)
    K.batched_counts(d, t, c, es, es.size, 1e-290, out,
                     (np.empty(es.size), np.empty(es.size), np.zeros(es.size, dtype=dtype)))
    np.testing.assert_array_equal(out, K.batched_counts_reference(d, t, c, es))
    sig = rng.uniform(ev[0], ev[-1], 4)
    bv = rng.normal(size=(m, 4)).astype(dtype)
    x = np.empty_like(bv)
    work = (np.empty(4), np.empty(4), np.empty(4, dtype=dtype), np.empty((m, 4)),
            np.empty((m, 4)), np.empty((m, 4), dtype=dtype))
    K.batched_inverse_step(d, t, c, sig, 1e-290, bv, x, work)
    ref = K.batched_inverse_step_reference(d, t, c, sig, bv)
    np.testing.assert_allclose(x, ref, rtol=1e-9 * np.abs(ref).max() / np.abs(ref).min(),
                               atol=1e-11 * np.abs(ref).max())
    vecs = np.empty((n, m), dtype=dtype)
    w = np.empty(n)
    ok, e_cut, res, ov, cnt, hnorm = K.ring_tiny_pairs(d, t, c, 1e-290, vecs, w, 5)
    assert ok
    v_ref, res_ref, ov_ref, cnt_ref = K.certified_pairs_reference(d, t, c, w, e_cut)
    assert _projector_error(vecs.T, v_ref.T) < 1e-12
    _, res_mine, ov_mine, cnt_mine = K.certified_pairs_reference(d, t, c, w, e_cut, vecs)
    assert res_mine <= res * (1 + 1e-6) + 1e-15 and ov_mine <= ov
    assert cnt == cnt_ref == cnt_mine == n
    np.testing.assert_allclose(w, ev[:n], rtol=0, atol=1e-13 * hnorm)
    vb = np.empty((n, m), dtype=dtype)
    res_b, ov_b, cnt_b = K.ring_certified_pairs(d, t, c, np.ascontiguousarray(ev[:n]), hnorm,
                                                e_cut, 1e-290, vb, 5)
    assert _projector_error(vb.T, v_ref.T) < 1e-12 and cnt_b == n
    _, res_bm, ov_bm, _ = K.certified_pairs_reference(d, t, c, ev[:n], e_cut, vb)
    assert res_bm <= res_b * (1 + 1e-6) + 1e-15 and ov_bm <= ov_b


def test_tiny_kernel_declines_degenerate_rings():
    """A clean ring's exactly degenerate pair cannot be isolated by bisection: the kernel says
    so (ok False) instead of returning pairs, and lowest_eigenpairs takes the banded path."""
    ring = Ring.lattice(np.zeros(16))
    vecs, w = np.empty((4, 16)), np.empty(4)
    assert not K.ring_tiny_pairs(ring.diag, 1.0, -1.0, 1e-290, vecs, w, 1)[0]
    assert lowest_eigenpairs(ring, 0.0, 3).method == "banded"


@pytest.mark.parametrize("kind,length,ppu,phi", [("speckle", 16, 4, np.pi),
                                                 ("white_noise", 40, 2, 0.6),
                                                 ("white_noise", 60, 4, 0.0)])
def test_small_continuum_rings_match_dense_lapack(kind, length, ppu, phi):
    """Finite-difference continuum rings (t = 1/h^2 = 4 and 16, so ||H|| ~ 4t + V): the
    small-ring path scales with ||H||; energies equal LAPACK's dense eigh to 1e-12 ||H||, the
    span equals LAPACK's lowest-N eigenspace, the stated certificate is not below the dense
    one, N = the global Sturm count below the cut."""
    from tgsweep.models.potentials import speckle, white_noise

    rng = np.random.default_rng(length + ppu)
    m = length * ppu
    pot = (speckle(rng, m, 1.0 / ppu, strength=2.0, corr_length=0.5) if kind == "speckle"
           else white_noise(rng, m, 1.0 / ppu, D=8.0))
    ring = Ring.continuum(length, ppu, pot)
    n = max(1, length // 4)
    lo = lowest_eigenpairs(ring, phi, n)
    h = ring.matrix(phi)
    ev, v = np.linalg.eigh(h)
    hnorm = np.abs(ev).max()
    assert lo.method in ("rqi", "banded")
    np.testing.assert_allclose(lo.energies, ev[:n], rtol=0, atol=1e-12 * hnorm)
    d = lo.dense()
    assert _projector_error(d, v[:, :n]) < 1e-10
    assert np.max(np.linalg.norm(h @ d - d * lo.energies, axis=0)) <= lo.max_residual
    assert lo.max_residual < 1e-13 * hnorm
    assert np.abs(d.conj().T @ d - np.eye(n)).max() <= lo.max_overlap < 1e-12
    assert lo.sturm_count == n == count_below(ring, phi, lo.energy_cut)
