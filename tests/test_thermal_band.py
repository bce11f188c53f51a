"""The grouped thermal kernel and the banded thermal OBDM, against the paths they accelerate.

References.  The string traces of the thermal gamma (tgsweep/core/thermal.py, docs/references.md
§8 "Finite temperature"; Rigol, PRA 72, 063607 (2005) for the determinant form) are evaluated
by a grouped sweep after the exact rewriting T e^{-shift} = P * (-det [[0, v(x)^H], [v(y),
Phi - 2 sum_S v v^H]]) (§8 "Grouped thermal kernel").  Its references here: the per-pair
bordered determinant of R = diag(a) - 2 diag(c) Q (NumPy twin ``string_values_reference``, and
the previous per-row Sherman-Morrison kernel ``string_rows``), and the NumPy twin of the
rewritten form.  The band (§8 "Banded thermal OBDM") is checked entry by entry against the full
thermal gamma (itself checked against full-Fock-space ED in tests/test_thermal_ed.py), and its
certificate against the true discarded row sum of that full gamma (Schur test, §10).
"""

from __future__ import annotations

import numpy as np
import pytest

import tgsweep
from tgsweep import Ring, thermal_state
from tgsweep.core import _thermal_kernels as TK
from tgsweep.core.band import obdm_band_thermal
from tgsweep.models.potentials import speckle
from tgsweep.observables import condensate, momentum_distribution
from tgsweep.observables.correlations import band_condensate

TOL = 1e-10


def _orbitals(rng, m, k, complex_):
    h = rng.normal(size=(m, m)) + (1j * rng.normal(size=(m, m)) if complex_ else 0)
    return np.ascontiguousarray(np.linalg.eigh(h + h.conj().T)[1][:, :k])


def _kernel(v, phi, lpref, ppref, stride=8, refresh=5, g=8, pmax=4):
    m = v.shape[0]
    real = v.dtype == np.float64 and phi.dtype == np.float64 and np.imag(ppref) == 0
    dt = np.float64 if real else np.complex128
    mode = 1 if v.dtype == np.float64 else (2 if phi.dtype == np.float64 else 0)
    out = np.zeros((m, m), dtype=dt)
    q = TK.general_prefix(v, stride)
    pp = float(np.real(ppref)) if real else complex(ppref)
    stats = TK.general_rows(v, phi, lpref, pp, q, stride, out, 0, 0, m, g, 1e-3, 1e-2, 1e5,
                            1e-3, refresh, mode, pmax)
    return out, stats


@pytest.mark.parametrize("complex_u", [False, True])
@pytest.mark.parametrize("complex_ac", [False, True])
def test_grouped_kernel_matches_numpy_twins(complex_u, complex_ac):
    """All four modes (u real/complex x a, c real/complex), one decoupled-singular row a_n = 0
    (Phi_n = 0: a pending vector from the start, or with the deferral off exact rebuilds and
    bordered columns), rebuilds every 5 steps and prefix checkpoints every 8 sites: the grouped
    kernel equals the per-pair bordered
    determinant of R (NumPy twin), the old per-row kernel, and the twin of the rewritten form."""
    rng = np.random.default_rng(0)
    m, k = 40, 7
    u = _orbitals(rng, m, k, complex_u)
    a = rng.uniform(-1, 2, k) + (1j * rng.uniform(-1, 1, k) if complex_ac else 0)
    c = rng.uniform(0.2, 1, k) * (np.exp(1j * rng.uniform(0, 6, k)) if complex_ac
                                  else rng.choice([-1.0, 1.0], k))
    a[2] = 0.0
    dt = np.result_type(u.dtype, a.dtype, c.dtype)
    ref = TK.string_values_reference(u, a.astype(dt), c.astype(dt), 0.3)
    old = np.zeros((m, m), dtype=dt)
    TK.string_rows(np.ascontiguousarray(u, dtype=dt), a.astype(dt), c.astype(dt), 0.3, 0, m,
                   old, 1e-3, 1e8, 256)
    v, phi, lpref, ppref = TK.general_form(u, a, c, 0.3)
    twin = TK.general_values_reference(v, phi, lpref, ppref)
    np.testing.assert_allclose(twin, ref, atol=1e-13, rtol=0)
    np.testing.assert_allclose(np.triu(old), ref, atol=1e-12, rtol=0)
    # deferral on (Phi_2 = 0 starts as a pending vector) and off (exact rebuilds, bordered columns)
    out, (rebuilds, bordered, deferred) = _kernel(v, phi, lpref, ppref)
    assert deferred > 0
    np.testing.assert_allclose(np.triu(out), ref, atol=1e-12, rtol=0)
    out, (rebuilds, bordered, _) = _kernel(v, phi, lpref, ppref, pmax=0)
    assert rebuilds > 0 and bordered > 0
    np.testing.assert_allclose(np.triu(out), ref, atol=1e-12, rtol=0)
    # the regular path alone (no singular row): no bordered column at all
    a[2] = 0.7
    v, phi, lpref, ppref = TK.general_form(u, a, c, 0.3)
    out, (_, bordered, _) = _kernel(v, phi, lpref, ppref, stride=1024, refresh=256)
    assert bordered == 0
    np.testing.assert_allclose(np.triu(out), TK.string_values_reference(
        u, a.astype(dt), c.astype(dt), 0.3), atol=1e-12, rtol=0)


@pytest.mark.parametrize("ensemble,theta,clean", [("grand", 0.0, False), ("grand", 0.37, False),
                                                  ("canonical", 0.0, False),
                                                  ("canonical", 0.37, False),
                                                  ("grand", 0.0, True), ("grand", 0.37, True)])
def test_grouped_kernel_on_thermal_terms_of_a_long_ring(ensemble, theta, clean):
    """Every z <= 0 / complex-z term of a real thermal state (M = 100, k ~ 90 orbitals, 100
    Sherman-Morrison steps per row, no refresh) on rows 0, 1, 8, 9, 50: the kernel equals the
    per-pair bordered determinant to 1e-11.  (Catches rounding drift that the ED rings, L <= 10,
    cannot: a Hermitian update with a complex ratio once drifted by 4e-4 here.)  The clean ring
    at mu = 0 is particle-hole symmetric: K exactly singular at every other column and a level
    at eps = mu (Phi_n = 0), the deferred path."""
    eps = np.zeros(100) if clean else np.random.default_rng(3).uniform(-1, 1, 100)
    ring = Ring.lattice(eps)
    mu = 0.0 if clean else -0.3
    kw = dict(mu=mu) if ensemble == "grand" else dict(n_particles=25, ensemble="canonical")
    st = thermal_state(ring, 0.5, twist=theta, **kw)
    rows = [0, 1, 8, 9, 50]
    terms = [t for t in st.terms if not t.lenard][:2]
    assert terms
    for t in terms:
        got = t.rows(0, ring.n_grid)
        pairs = [(x, y) for x in rows for y in range(x, ring.n_grid, 3)]
        ref = TK.string_values_reference(t.u, t.a, t.c, t.shift, pairs=pairs)
        np.testing.assert_allclose([got[x, y] for x, y in pairs], ref, atol=1e-11, rtol=0)


def _cases():
    rng = np.random.default_rng(8)
    lat = Ring.lattice(np.random.default_rng(2).uniform(-1, 1, 48))
    cont = Ring.continuum(6, 8, speckle(rng, 48, 1 / 8, strength=2.0, corr_length=0.5))
    out = []
    for ring, T, mu, n in ((lat, 0.4, -0.3, 12), (cont, 8.0, 10.0, 5)):
        for theta in (0.0, 0.37):
            out.append((ring, T, dict(mu=mu, twist=theta)))
            out.append((ring, T, dict(n_particles=n, ensemble="canonical", twist=theta)))
    return out


@pytest.mark.parametrize("case", range(8))
def test_thermal_band_equals_full_gamma(case):
    """Lattice and continuum (speckle), twist 0 and 0.37 (complex), grand and canonical: every
    band entry values[x, d] equals tgsweep.obdm(state)[x, (x + d) % M] to 1e-10, for a narrow
    band (windows cross the twisted bond) and the widest one."""
    ring, T, kw = _cases()[case]
    st = thermal_state(ring, T, **kw)
    g = tgsweep.obdm(st)
    m = ring.n_grid
    for w in (6, (m - 1) // 2):
        b = tgsweep.obdm_band(st, w)
        assert b.width == w and b.weight == ring.weight
        ref = g[np.arange(m)[:, None], (np.arange(m)[:, None] + np.arange(w + 1)) % m]
        np.testing.assert_allclose(b.values, ref, atol=TOL, rtol=0)
        assert np.iscomplexobj(b.values) == (kw.get("twist", 0.0) != 0.0)


def _true_tail(g, w, h):
    """max_x sum_{torus distance > w} |gamma(x, y)| h from the full matrix."""
    m = g.shape[0]
    x = np.arange(m)[:, None]
    y = np.arange(m)[None, :]
    d = np.minimum((y - x) % m, (x - y) % m)
    return float(np.max(np.sum(np.abs(g) * (d > w), axis=1)) * h)


def test_thermal_band_certificate_is_conservative():
    """Certificate >= the true discarded row sum of the full thermal gamma in every accepted
    case (clean and disordered lattice rings, a speckle grid ring; grand and canonical; widths
    12 .. 59, the last the widest band of an even ring, whose antipode is discarded), and
    width="auto" meets tol (or stops at the widest band) with a true tail below its
    certificate."""
    rng = np.random.default_rng(5)
    cases = [(Ring.lattice(np.zeros(120)), 1.0, dict(mu=-0.5)),
             (Ring.lattice(np.zeros(120)), 0.3, dict(mu=-0.5, twist=0.37)),
             (Ring.lattice(np.random.default_rng(1).uniform(-1, 1, 100)), 1.0,
              dict(n_particles=25, ensemble="canonical")),
             (Ring.continuum(15, 8, speckle(rng, 120, 1 / 8, strength=2.0, corr_length=0.5)),
              20.0, dict(mu=15.0))]
    accepted = 0
    ratios = []
    for ring, T, kw in cases:
        st = thermal_state(ring, T, **kw)
        g = tgsweep.obdm(st)
        h = ring.weight
        for w in (12, 16, 24, 32, 48, (ring.n_grid - 1) // 2):
            b = tgsweep.obdm_band(st, w)
            true = _true_tail(g, w, h)
            if b.reliable:
                accepted += 1
                assert b.certificate >= true, (kw, T, w, b.certificate, true)
                if true > 0:
                    ratios.append(b.certificate / true)
            else:
                assert b.certificate == np.inf
        b = tgsweep.obdm_band(st, "auto", tol=1e-8)
        # met tol, or (the ring is only ~14 xi long at T = 0.3) grew to the widest band
        assert (b.reliable and b.certificate <= 1e-8) or b.width == (ring.n_grid - 1) // 2
        assert not b.reliable or _true_tail(g, b.width, h) <= b.certificate
    assert accepted >= 12 and min(ratios) >= 2.0


def test_thermal_band_refuses_without_established_decay():
    """Clean ring at low T (IIKS length xi ~ 25 sites, docs/references.md §8): a band of 16
    sites has not seen three decades of decay and is refused (certificate inf), and an "auto"
    search capped below the needed width returns reliable=False; allowed to grow it widens
    until it is accepted."""
    ring = Ring.lattice(np.zeros(150))
    st = thermal_state(ring, 0.08, mu=-0.5)
    b = tgsweep.obdm_band(st, 16)
    assert not b.reliable and b.certificate == np.inf
    b = obdm_band_thermal(st, "auto", tol=1e-8, max_width=30)
    assert not b.reliable and b.width == 30
    b = tgsweep.obdm_band(st, "auto", tol=1e-6)
    assert b.width > 30 and (b.reliable or b.width == 74)


@pytest.mark.parametrize("ensemble", ["grand", "canonical"])
def test_band_consumers_take_a_thermal_band(ensemble):
    """band_condensate and momentum_distribution(band=...) on a thermal band agree with the full
    thermal gamma within the certificate (Weyl's inequality and the n(k) bound of §10)."""
    ring = Ring.lattice(np.random.default_rng(4).uniform(-1, 1, 90))
    kw = dict(mu=-0.5) if ensemble == "grand" else dict(n_particles=20, ensemble="canonical")
    st = thermal_state(ring, 1.0, twist=0.37, **kw)
    b = tgsweep.obdm_band(st, "auto", tol=1e-9)
    assert b.reliable and b.certificate <= 1e-9
    g = tgsweep.obdm(st)
    lam = condensate(st, 3, gamma=g)
    bc = band_condensate(b, 3)
    assert np.all(np.abs(bc.occupations - lam) <= bc.error + 1e-12)
    full = momentum_distribution(st, gamma=g)
    banded = momentum_distribution(st, band=b)
    assert np.max(np.abs(full.n_k - banded.n_k)) <= b.certificate + 1e-12
