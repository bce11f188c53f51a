"""Banded OBDM (tgsweep.obdm_band), whole rows (tgsweep.obdm(state, rows=...)), the band
certificate, and the band kernels against their NumPy twins.

References: the full OBDM kernel (tgsweep.obdm, itself checked against brute-force ED and the
per-pair bordered determinant of Rigol & Muramatsu, PRA 70, 031603(R) (2004)) and, for the
twisted-bond continuation, brute-force ED of hard-core bosons (tests/_ed.py, no Jordan-Wigner).
The certificate is an estimate; every case here checks it against the true discarded row sum
max_x sum_{|d| > w} |gamma(x, x + d)| h of the full matrix (Schur test, docs/references.md
"Banded OBDM").
"""

from __future__ import annotations

import numpy as np
import pytest

import tgsweep
from tgsweep import Ring
from tgsweep.core import _band_kernels as BK
from tgsweep.core.band import band_certificate
from tgsweep.models.potentials import make_potential

from _ed import hcb_ground_state, hcb_obdm

TOL = 1e-10


def _band_of(g, w):
    m = g.shape[0]
    x = np.arange(m)[:, None]
    return g[x, (x + np.arange(w + 1)[None, :]) % m]


def _discarded_row_sum(g, w, weight):
    m = g.shape[0]
    i = np.arange(m)
    dist = np.abs(i[:, None] - i[None, :])
    dist = np.minimum(dist, m - dist)
    return float((np.abs(g) * (dist > w)).sum(axis=1).max() * weight)


def _lattice_state(kind, m, n, twist, seed, **params):
    rng = np.random.default_rng(seed)
    ring = Ring.lattice(make_potential(kind, rng, m, **params))
    return tgsweep.ground_state(ring, n_particles=n, twist=twist)


def _continuum_state(kind, length, ppu, mu, twist, seed, **params):
    rng = np.random.default_rng(seed)
    ring = Ring.continuum(length, ppu, make_potential(kind, rng, length * ppu, ppu, **params))
    return tgsweep.ground_state(ring, mu=mu, twist=twist)


LATTICE_CASES = [
    ("anderson", dict(W=3.0), 90, 22, 0.0),
    ("anderson", dict(W=3.0), 90, 23, 0.0),
    ("anderson", dict(W=1.0), 80, 21, 0.37),
    ("anderson", dict(W=5.0), 91, 30, np.pi),
    ("aubry_andre", dict(lam=3.0), 89, 20, 2.1),
    ("bernoulli", dict(a=0.0, b=2.0, p=0.3), 70, 35, 0.0),
    ("gaussian", dict(sigma=1.5), 75, 18, -1.3),
]


@pytest.mark.parametrize("kind,params,m,n,twist", LATTICE_CASES)
@pytest.mark.parametrize("width", [0, 1, 9, 30, "max"])
def test_band_equals_full_kernel_lattice(kind, params, m, n, twist, width):
    """Every in-band entry equals the full kernel's gamma[x, (x + d) mod M] to 1e-10, including
    the pairs across the twisted bond; real orbitals give a real band.  N odd and even, real
    (theta = 0, pi) and complex twists, five disorder kinds."""
    st = _lattice_state(kind, m, n, twist, seed=m + n, **params)
    w = (m - 1) // 2 if width == "max" else width
    b = tgsweep.obdm_band(st, w)
    g = tgsweep.obdm(st)
    assert b.values.shape == (m, w + 1)
    assert b.values.dtype == g.dtype
    assert np.abs(b.values - _band_of(g, w)).max() < TOL
    assert b.in_band_error < TOL


CONTINUUM_CASES = [
    ("speckle", dict(strength=6.0, corr_length=0.5), 24, 6, 8.0, 0.0),
    ("speckle", dict(strength=6.0, corr_length=0.5), 24, 6, 8.0, 0.9),
    ("uniform", dict(width=8.0), 20, 8, 6.0, np.pi),
    ("white_noise", dict(D=4.0), 22, 6, 10.0, -2.0),
]


@pytest.mark.parametrize("kind,params,length,ppu,mu,twist", CONTINUUM_CASES)
@pytest.mark.parametrize("width", [3, 20, 50])
def test_band_equals_full_kernel_continuum(kind, params, length, ppu, mu, twist, width):
    """Continuum rings (density units, gamma = <b+ b>/h): banded = full kernel to 1e-10
    relative to max |gamma| (the density, O(N/L))."""
    st = _continuum_state(kind, length, ppu, mu, twist, seed=length * ppu, **params)
    b = tgsweep.obdm_band(st, width)
    g = tgsweep.obdm(st)
    assert np.abs(b.values - _band_of(g, width)).max() < TOL * max(1.0, np.abs(g).max())


@pytest.mark.parametrize("n,theta", [(3, 0.0), (4, 0.0), (3, 0.37), (4, 2.5)])
def test_band_across_the_twisted_bond_vs_ed(n, theta):
    """The wrapped entries gamma[x, x + d - M] against brute-force ED of hard-core bosons with
    the twist on bond (L-1, 0) (tests/_ed.py; Girardeau's map is not used there)."""
    L = 10
    eps = np.random.default_rng(7 + n).uniform(-1.5, 1.5, L)
    _, psi = hcb_ground_state(eps, n, theta=theta)
    g_ed = hcb_obdm(psi, L, n)
    st = tgsweep.ground_state(Ring.lattice(eps), n_particles=n, twist=theta)
    b = tgsweep.obdm_band(st, 4)
    assert np.abs(b.values - _band_of(g_ed, 4)).max() < TOL


@pytest.mark.parametrize("twist", [0.0, 0.37])
def test_obdm_rows_equal_full_rows(twist):
    """obdm(state, rows=...): whole rows, any order, repeats, a negative index, both kinds."""
    st = _lattice_state("anderson", 50, 13, twist, seed=3, W=2.0)
    g = tgsweep.obdm(st)
    rows = [0, 1, 2, 3, 17, 49, 48, 5, 17, -1]
    assert np.abs(tgsweep.obdm(st, rows=rows) - g[rows]).max() < TOL
    assert np.abs(tgsweep.obdm(st, rows=7) - g[7]).max() < TOL
    sc = _continuum_state("speckle", 12, 6, 8.0, twist, seed=4, strength=3.0, corr_length=0.5)
    gc = tgsweep.obdm(sc)
    assert np.abs(tgsweep.obdm(sc, rows=[0, 40, 71]) - gc[[0, 40, 71]]).max() < TOL * gc.max()
    with pytest.raises(ValueError, match="rows"):
        tgsweep.obdm(st, rows=[50])


def test_bad_width_is_refused():
    st = _lattice_state("anderson", 40, 10, 0.0, seed=1, W=2.0)
    for bad in (-1, 20, 2.5, "wide"):
        with pytest.raises(ValueError, match="width"):
            tgsweep.obdm_band(st, bad)


def test_orbital_cut_error_statement():
    """Leaving out orbitals below a (deliberately coarse) per-site weight cut: the true error of
    the in-band entries stays below the stated in_band_error (the second-order estimate
    n_window * cut) plus the kernels' own roundoff (1e-12 here; both paths round)."""
    st = _lattice_state("anderson", 120, 30, 0.37, seed=11, W=4.0)
    g = tgsweep.obdm(st)
    for cut in (1e-8, 1e-12, 1e-16):
        b = tgsweep.obdm_band(st, 25, orbital_cut=cut)
        err = np.abs(b.values - _band_of(g, 25)).max()
        assert err <= b.in_band_error + 1e-12, (cut, err, b.in_band_error)
        assert cut < 1e-10 or err > 1e-12  # the coarse cuts really leave orbitals out


# ------------------------------------------------------------------------------ certificate
CERT_CASES = [  # (model, kind, params, size, filling, a reliable width expected among WIDTHS)
    ("lattice", "anderson", dict(W=3.0), 400, 100, True),
    ("lattice", "anderson", dict(W=4.0), 360, 120, True),
    ("lattice", "anderson", dict(W=6.0), 300, 150, True),
    ("lattice", "anderson", dict(W=2.0), 400, 100, False),
    ("lattice", "aubry_andre", dict(lam=3.0), 377, 100, True),
    ("lattice", "bernoulli", dict(a=0.0, b=3.0, p=0.5), 300, 100, False),
    ("continuum", "speckle", dict(strength=30.0, corr_length=0.5), (40, 6), 12.0, False),
    ("continuum", "uniform", dict(width=20.0), (40, 6), 8.0, False),
]
WIDTHS = (12, 24, 40, 60, 90, 130)


def certificate_ratios(model, kind, params, size, fill, seed):
    """[(w, certificate, true discarded sum, reliable)] for one sample."""
    if model == "lattice":
        st = _lattice_state(kind, size, fill, 0.0, seed=seed, **params)
    else:
        st = _continuum_state(kind, *size, fill, 0.0, seed=seed, **params)
    g = tgsweep.obdm(st)
    m = g.shape[0]
    res = []
    for w in WIDTHS:
        if w <= (m - 1) // 2:
            b = tgsweep.obdm_band(st, w)
            res.append((w, b.certificate, _discarded_row_sum(g, w, st.ring.weight), b.reliable))
    return res


@pytest.mark.parametrize("model,kind,params,size,fill,expect", CERT_CASES)
def test_certificate_is_conservative(model, kind, params, size, fill, expect):
    """Whenever the certificate is reported reliable it is >= the true discarded row sum
    max_x sum_{|d|>w} |gamma(x, x+d)| h of the full matrix, at every width tried; widths whose
    band has not decayed are refused (inf).  On the strongly localized rings some width in
    WIDTHS is accepted."""
    for seed in (1, 2):
        res = certificate_ratios(model, kind, params, size, fill, seed)
        for w, cert, true, ok in res:
            if ok:
                assert cert >= true, (w, cert, true)
            else:
                assert cert == np.inf
        if expect:
            assert any(ok for *_, ok in res)


@pytest.mark.parametrize("kind,params", [("none", {}), ("anderson", dict(W=0.5))])
def test_auto_refuses_weakly_localized(kind, params):
    """Clean ring (power-law gamma, Vaidya & Tracy 1979) and W = 0.5 (ell >> L): width='auto'
    must not claim a small certificate; it returns reliable=False (or a certificate that is still
    >= the true discarded sum)."""
    m = 160
    if kind == "none":
        st = tgsweep.ground_state(Ring.lattice(np.zeros(m)), n_particles=41)
    else:
        st = _lattice_state(kind, m, 40, 0.0, seed=5, **params)
    g = tgsweep.obdm(st)
    b = tgsweep.obdm_band(st, "auto", tol=1e-6)
    assert (not b.reliable) or b.certificate >= _discarded_row_sum(g, b.width, 1.0)
    assert not (b.reliable and b.certificate <= 1e-6)


def test_auto_meets_tolerance_on_localized_ring():
    """W = 4 Anderson lattice: 'auto' reaches tol and the true discarded sum is below it."""
    st = _lattice_state("anderson", 400, 100, 0.0, seed=8, W=4.0)
    b = tgsweep.obdm_band(st, "auto", tol=1e-7)
    assert b.reliable and b.certificate <= 1e-7
    assert _discarded_row_sum(tgsweep.obdm(st), b.width, 1.0) <= b.certificate


def test_certificate_refuses_flat_envelope():
    """A synthetic band that does not decay is refused; an exactly geometric one is accepted and
    its tail sum is bounded by the certificate."""
    m, w = 400, 40
    flat = np.full((m, w + 1), 0.1)
    assert band_certificate(flat)[:2] == (np.inf, False)
    d = np.arange(w + 1)
    geo = np.tile(np.exp(-0.5 * d), (m, 1))
    cert, ok, kappa = band_certificate(geo)
    tail = 2 * sum(np.exp(-0.5 * k) for k in range(w + 1, (m - 1) // 2 + 1))
    assert ok and cert >= tail and abs(kappa - 0.5) < 1e-12


# ------------------------------------------------------------------------------ kernel twins
def test_orbital_arcs_twin():
    """numba orbital_arcs = NumPy twin, including arcs across site 0 and empty columns."""
    rng = np.random.default_rng(0)
    m, n = 50, 12
    u = np.zeros((m, n))
    for al in range(n - 1):
        c, s = rng.integers(0, m), rng.integers(1, 30)
        u[(c + np.arange(s)) % m, al] = rng.normal(size=s)
    u[[3, 30, 31], 0] = 1.0
    s1 = np.zeros(n, dtype=np.int64)
    l1 = np.zeros(n, dtype=np.int64)
    BK.orbital_arcs(u, 1e-20, s1, l1)
    s2, l2 = BK.orbital_arcs_reference(u, 1e-20)
    assert np.array_equal(l1, l2) and np.array_equal(s1[l1 > 0], s2[l2 > 0])
    for al in range(n):  # everything outside the arc is below the cut
        inside = (np.arange(m) - s1[al]) % m < l1[al]
        assert np.all(u[~inside, al] ** 2 <= 1e-20)


def test_gather_extract_sums_matvec_twins():
    rng = np.random.default_rng(1)
    m = 30
    u = rng.normal(size=(m, 5)) + 1j * rng.normal(size=(m, 5))
    cols = np.array([0, 2, 4], dtype=np.int64)
    ph = np.exp(0.7j)
    sub = np.empty((20, 3), dtype=complex)
    BK.gather_window(u, 17, 20, cols, ph, sub)
    assert np.allclose(sub, BK.gather_window_reference(u, 17, 20, cols, ph))
    out = rng.normal(size=(6, 14)) + 1j * rng.normal(size=(6, 14))
    b1 = np.zeros((m, 9), dtype=complex)
    b2 = np.zeros((m, 9), dtype=complex)
    BK.extract_band(out, 24, 6, 8, m, np.exp(-0.3j), b1)
    BK.extract_band_reference(out, 24, 6, 8, m, np.exp(-0.3j), b2)
    assert np.allclose(b1, b2)
    band = rng.normal(size=(m, 6)) + 1j * rng.normal(size=(m, 6))
    band[:, 0] = band[:, 0].real
    assert np.allclose(BK.band_row_abs_sums(band), BK.band_row_abs_sums_reference(band))
    dense = BK.band_to_dense(band)
    off = np.abs(dense).sum(axis=1) - np.abs(np.diag(dense))
    assert np.allclose(off, BK.band_row_abs_sums(band))
    v = rng.normal(size=m) + 1j * rng.normal(size=m)
    o = np.zeros(m, dtype=complex)
    BK.band_matvec(band, v, o)
    assert np.allclose(o, dense @ v)


# ------------------------------------------------------------------------------ downstream
from tgsweep.observables import correlations as C  # noqa: E402


@pytest.mark.parametrize("m,n,twist", [(450, 112, 0.4), (300, 75, 0.0)])
def test_band_condensate_within_stated_error(m, n, twist):
    """Largest natural occupations from the band (Lanczos, M > 400; dense below) against full
    LAPACK on the full kernel's gamma: within the stated error (certificate + residual) for
    each of the 4, and the stated error is small (1e-9) on this W = 4 ring."""
    st = _lattice_state("anderson", m, n, twist, seed=3, W=4.0)
    b = tgsweep.obdm_band(st, "auto", tol=1e-9)
    bc = C.band_condensate(b, 4)
    ref = C.condensate(st, 4, gamma=tgsweep.obdm(st))
    assert b.reliable and np.all(bc.error < 1e-9)
    assert np.all(np.abs(bc.occupations - ref) <= bc.error)
    assert np.allclose(C.condensate(st, 4, band=b), bc.occupations, rtol=0, atol=1e-14)


def test_band_condensate_refused_band_has_infinite_error():
    """A band whose certificate is refused (W = 0.5) reports an infinite error, never a small one."""
    st = _lattice_state("anderson", 200, 50, 0.0, seed=4, W=0.5)
    bc = C.band_condensate(tgsweep.obdm_band(st, 30), 2)
    assert np.all(np.isinf(bc.error))


def test_band_hs_profile_and_nk():
    """hs_profile from the band = full for r <= r_band (lattice and continuum cells); n(k) from
    the band is within the certificate of the full n(k) for every k (|dn(k)| <= (h^2/L)
    sum_x sum_{|d|>w}|gamma| <= certificate), and exact when the band covers every pair."""
    st = _lattice_state("anderson", 400, 100, 0.4, seed=3, W=4.0)
    g = tgsweep.obdm(st)
    b = tgsweep.obdm_band(st, "auto", tol=1e-9)
    r, h = C.hs_profile(st, [2.0, 0.5], band=b)
    _, h_full = C.hs_profile(st, [2.0, 0.5], gamma=g)
    h_full = h_full[:, :r.size]
    assert r.size == b.width + 1 and np.abs(h[0] - h_full[0]).max() < 1e-12
    big = h_full[1] > 1e-3  # sigma < 1 amplifies the roundoff of entries ~ 1e-20
    assert np.allclose(h[1][big], h_full[1][big], rtol=1e-8, atol=0)
    nk, nk_full = C.momentum_distribution(st, band=b), C.momentum_distribution(st, gamma=g)
    assert b.reliable and np.abs(nk.n_k - nk_full.n_k).max() <= b.certificate
    assert np.array_equal(nk.k, nk_full.k)
    sc = _continuum_state("speckle", 21, 6, 15.0, 0.7, seed=5, strength=20.0, corr_length=0.5)
    gc = tgsweep.obdm(sc)
    bw = tgsweep.obdm_band(sc, (126 - 1) // 2)
    r, h = C.hs_profile(sc, [0.5], band=bw)
    _, h_full = C.hs_profile(sc, [0.5], gamma=gc)
    assert r.size == 10 and np.abs(h - h_full[:, :r.size]).max() < 1e-12
    sc_odd = _continuum_state("speckle", 21, 5, 15.0, 0.7, seed=5, strength=20.0, corr_length=0.5)
    full = tgsweep.obdm_band(sc_odd, (105 - 1) // 2)  # M = 105 odd: the band holds every pair
    nk = C.momentum_distribution(sc_odd, band=full)
    assert np.abs(nk.n_k - C.momentum_distribution(sc_odd).n_k).max() < 1e-12


def test_auto_probe_then_whole_ring(monkeypatch):
    """width='auto' on a ring with many row blocks probes a subset first: the band it returns
    is nevertheless the whole-ring band (= full kernel everywhere) and its certificate, computed
    on all rows, meets tol and bounds the true discarded sum."""
    from tgsweep.core import band as band_mod

    monkeypatch.setattr(band_mod, "_PROBE_BLOCKS", 2)  # 400 rows = 11 blocks -> every 5th
    st = _lattice_state("anderson", 400, 100, 0.0, seed=9, W=4.0)
    g = tgsweep.obdm(st)
    b = tgsweep.obdm_band(st, "auto", tol=1e-8)
    assert b.reliable and b.certificate <= 1e-8
    assert np.abs(b.values - _band_of(g, b.width)).max() < TOL
    assert _discarded_row_sum(g, b.width, 1.0) <= b.certificate


def test_packed_orbitals_path():
    """Orbitals stored on their arcs (PackedOrbitals): the packed gather = its NumPy twin, the
    packing keeps everything above the cut, and obdm_band_packed = obdm_band = full kernel."""
    from tgsweep.core.band import obdm_band_packed, pack_orbitals

    st = _lattice_state("anderson", 120, 31, 0.37, seed=12, W=4.0)
    u = st.lattice_orbitals
    po = pack_orbitals(u, 1e-20)
    assert po.values.size < u.size  # localized: the arcs are shorter than the ring
    dense = np.zeros_like(u)
    for a in range(u.shape[1]):
        dense[(po.start[a] + np.arange(po.length[a])) % 120, a] = \
            po.values[po.offset[a]:po.offset[a] + po.length[a]]
    assert np.all(np.abs(dense - u) ** 2 <= po.pack_cut)
    inside = (np.arange(120)[:, None] - po.active_start[None, :]) % 120 < po.active_length
    assert np.all(np.abs(u[~inside]) ** 2 <= 1e-20)
    cols = np.arange(0, 31, 3, dtype=np.int64)
    sub = np.empty((70, cols.size), dtype=complex)
    BK.gather_window_packed(po.start, po.length, po.offset, po.values, 120, 90, 70, cols,
                            np.exp(0.5j), sub)
    ref = BK.gather_window_packed_reference(po.start, po.length, po.offset, po.values, 120, 90,
                                            70, cols, np.exp(0.5j))
    assert np.allclose(sub, ref, rtol=1e-14, atol=1e-300)
    b1 = obdm_band_packed(po, st.fermion_twist, st.twist, 20)
    assert np.abs(b1.values - _band_of(tgsweep.obdm(st), 20)).max() < TOL
    assert np.array_equal(b1.values, tgsweep.obdm_band(st, 20).values)


def test_certificate_accepts_band_at_roundoff_floor():
    """A band that decays to the roundoff floor and then stays flat there (noise) is accepted
    with the floor certificate 2 n_out ROUNDOFF max gamma(x,x) h, not refused (which made
    width='auto' grow to M/2 and the sweep fall back to the full kernel)."""
    from tgsweep.core.band import ROUNDOFF

    m, w = 2000, 400
    d = np.arange(w + 1)
    rng = np.random.default_rng(0)
    vals = np.maximum(np.exp(-0.12 * d)[None, :], 1e-17 * rng.random((m, w + 1)))
    cert, ok, _ = band_certificate(vals, weight=0.5)
    assert ok and cert == pytest.approx(2 * ((m - 1) // 2 - w) * ROUNDOFF * 0.5)
    assert cert < 1e-10
