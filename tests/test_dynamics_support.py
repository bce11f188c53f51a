"""Tests of the support-restricted propagator of tgsweep.core.evolution (method="support"):
each orbital is propagated by the Chebyshev series on its own window of the ring, with a
per-orbital error bound (see Evolution.support_density).

References: the kernels against their NumPy twins (dense ring matrix); the evolution against
the dense eigenbasis (LAPACK eigh, method="eigen") and scipy's Pade expm (Al-Mohy & Higham,
SIAM J. Matrix Anal. Appl. 31, 970 (2009)); the Chebyshev series' tail against the Bessel
bound |J_k(a)| <= (a/2)^k / k! (DLMF 10.14.4) and the truncated series evaluated on a grid;
the Duhamel bound ||e^{-iHt} v - e^{-iEt} v|| <= |t| ||(H - E) v|| (docs/references.md §5,
"Support-restricted propagation").  Each test names its reference in the docstring.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from scipy.special import jv

from tgsweep import Ring
from tgsweep.core import _dynamics_kernels as K
from tgsweep.core.evolution import (DENSE_MAX_DYNAMICS, Evolution, choose_method,
                                    evolve_density)
from tgsweep.core.initial_states import domain_wall, trap_release
from tgsweep.models.params import ParamError
from tgsweep.models.potentials import make_potential
from tgsweep.observables.dynamics import DYNAMICS, dynamics_sample
from tgsweep.sweep import MemoryStore, parse_spec, run_sweep

from _sweep_util import spec_dict

from _tolerances import EIGENVECTOR, ROUNDOFF, ROUNDOFF_SUM

RNG = np.random.default_rng(1414)


def _anderson(m, w, seed):
    return np.random.default_rng(seed).uniform(-w / 2, w / 2, m)


def _ring_matrix(diag, hop, corner):
    """Dense ring matrix built entry by entry (tridiagonal + corners, boundary gauge)."""
    m = diag.size
    h = np.diag(diag).astype(np.complex128)
    for i in range(m - 1):
        h[i, i + 1] -= hop
        h[i + 1, i] -= hop
    h[0, m - 1] += corner
    h[m - 1, 0] += np.conj(corner)
    return h


def _cvec(n):
    return RNG.standard_normal(n) + 1j * RNG.standard_normal(n)


# ---------------------------------------------------------------------------- kernels vs twins
@pytest.mark.parametrize("phi", [0.0, np.pi, 0.9])
@pytest.mark.parametrize("start,n", [(0, 5), (9, 6), (11, 11), (3, 1), (10, 2), (5, 7)])
def test_segment_kernels_match_numpy_twins(phi, start, n):
    """segment_chebyshev, window_residual and window_density_add (numba) against their twins,
    which take the block of the dense ring matrix on the window's sites (so the gauge of the
    twisted bond, when the window crosses site 0, is checked against the plain corner entry)."""
    m = 12
    diag = RNG.standard_normal(m) * 2
    hop = 0.8
    corner = -hop * np.exp(-1j * phi)
    h = _ring_matrix(diag, hop, corner)
    gphase = -np.conj(corner) / hop
    coef = _cvec(8)
    v = _cvec(n)
    out = np.empty_like(v)
    K.segment_chebyshev(diag, hop, gphase, start, 0.3, 5.0, coef, v, out)
    ref = K.segment_chebyshev_reference(h, start, 0.3, 5.0, coef, v)
    np.testing.assert_allclose(out, ref, rtol=0, atol=10 * ROUNDOFF * np.abs(ref).max())
    if n + 2 <= m:
        e, r = K.window_residual(diag, hop, gphase, start, v)
        e_ref, r_ref = K.window_residual_reference(h, start, v)
        assert abs(e - e_ref) < ROUNDOFF * 10 and abs(r - r_ref) < ROUNDOFF * 10 * r_ref
    rho = RNG.random(m)
    got = rho.copy()
    K.window_density_add(got, start, v)
    np.testing.assert_allclose(got, K.window_density_add_reference(rho, start, v),
                               rtol=ROUNDOFF)


def test_trim_window_matches_twin():
    """trim_window (numba) against its cumulative-sum twin on exponentially decaying vectors
    and edge cases (nothing droppable, everything below the budget: one entry is kept)."""
    for budget2 in (1e-30, 1e-12, 1e-3, 10.0):
        for v in (np.exp(-0.5 * np.abs(np.arange(-40, 41))) * _cvec(81), _cvec(3), _cvec(1)):
            got = K.trim_window(v.astype(np.complex128), budget2)
            ref = K.trim_window_reference(v, budget2)
            assert got[:2] == ref[:2]
            assert abs(got[2] - ref[2]) <= ROUNDOFF * max(ref[2], 1e-300)
            assert got[2] <= budget2 and got[0] + got[1] < v.size


@pytest.mark.parametrize("phi", [np.pi, 0.4])
def test_support_interval_matches_twin(phi):
    """support_interval (numba: trim, re-cut, segment series; moving to the whole ring when the
    window would reach M) against its twin built from the dense matrix and the twins, for a
    windowed orbital that stays windowed, one that moves to the whole ring midway, and a
    whole-ring orbital."""
    m = 60
    diag = RNG.uniform(-2, 2, m)
    hop = 1.0
    corner = complex(-hop * np.exp(-1j * phi))
    h = _ring_matrix(diag, hop, corner)
    lo, hi = diag.min() - 2, diag.max() + 2
    center, scale = 0.5 * (lo + hi), 0.5 * (hi - lo)
    coef_sub = K.chebyshev_coefficients(scale * 0.4) * np.exp(-1j * center * 0.4)
    coef_full = K.chebyshev_coefficients(scale * 1.2) * np.exp(-1j * center * 1.2)
    x = np.arange(9) - 4
    for start, v, n_sub in [(55, np.exp(-np.abs(x)) * _cvec(9), 1),
                            (50, np.exp(-np.abs(x)) * _cvec(9), 3),
                            (0, _cvec(m), 3)]:
        got = K.support_interval(diag, hop, corner, center, scale, coef_sub, n_sub, coef_full,
                                 1, 1e-6, start, v.astype(np.complex128))
        ref = K.support_interval_reference(h, center, scale, coef_sub, n_sub, coef_full, 1,
                                           1e-6, start, v)
        assert got[0] == ref[0] and got[3] == ref[3] and got[1].size == ref[1].size
        np.testing.assert_allclose(got[1], ref[1], rtol=0, atol=10 * ROUNDOFF)
        assert abs(got[2] - ref[2]) <= ROUNDOFF


@pytest.mark.parametrize("a", [0.5, 7.0, 60.0, 800.0])
def test_chebyshev_tail_bound(a):
    """chebyshev_tail_bound >= the sup over x in [-1, 1] of |e^{-iax} - truncated series| (the
    truncated series evaluated on 4001 points against exp), and >= the plain Bessel sum
    2 sum_{k >= K} |J_k(a)| over 3K terms; for a cut K of a few terms below the default it is
    within 100x of the true sup error (it is not absurdly loose)."""
    full = K.chebyshev_coefficients(a)
    x = np.cos(np.linspace(0, np.pi, 4001))
    for kk in (full.size, max(full.size - 6, 2)):
        coef = full[:kk]
        tk = np.cos(np.outer(np.arange(kk), np.arccos(x)))
        err = np.abs(np.exp(-1j * a * x) - coef @ tk).max()
        bound = K.chebyshev_tail_bound(a, kk)
        bessel = 2 * np.abs(jv(np.arange(kk, 3 * kk + 50), a)).sum()
        assert bound >= bessel * (1 - 1e-12)
        assert bound + 50 * ROUNDOFF * np.sqrt(kk) >= err
        if kk < full.size:
            assert bound < 100 * err


# ---------------------------------------------------------------------------- propagation
def _compare(ring, ini, times, tol=1e-10):
    """(support run, max over orbitals/times of true error - bound, count error excess)."""
    ev = Evolution.prepare(ring, ini, method="support", tol=tol)
    run = ev.support_density(times)
    us = np.stack(list(ev.iter_orbitals(times)))
    ev_e = Evolution.prepare(ring, ini, method="eigen")
    ue = np.stack(list(ev_e.iter_orbitals(times)))
    orb_err = np.linalg.norm(us - ue, axis=1)
    h = ring.weight
    rho_e = ev_e.density(times) * h
    # the worst particle count over all sets S of grid points: sum over x of |difference|
    count_err = np.abs(run.density * h - rho_e).sum(axis=1)
    return run, orb_err, count_err


@pytest.mark.parametrize("w", [2.0, 4.0, 6.0])
def test_support_matches_eigen_disordered_domain_wall(w):
    """Support vs the dense eigenbasis (LAPACK eigh) on a disordered lattice ring, M = 800,
    domain wall N = M/4 in the eigenbasis of H_K and the filled step in the site basis, twist
    0.3: every orbital within its stated bound (plus the reference's own round-off) and every
    particle count within count_error; at W = 6 the windows stay below M/2."""
    m = 800
    ring = Ring.lattice(_anderson(m, w, 7 + int(w)))
    times = np.array([0.0, 1.0, 5.0, 20.0, 60.0])
    for ini in (domain_wall(ring, m // 4, twist=0.3),
                domain_wall(ring, 150, region=(m - 100, 50), basis="sites")):
        run, orb_err, count_err = _compare(ring, ini, times)
        assert np.all(orb_err <= run.orbital_error + EIGENVECTOR * 1e-2)
        assert np.all(count_err <= run.count_error() + ROUNDOFF_SUM * 10)
        assert w < 6 or run.max_window.max() < m / 2


def test_support_bound_is_not_below_the_true_error():
    """With a loose target (tol = 1e-3, so trimming drops ~1e-5 per sub-step and the error is
    far above round-off), the stated per-orbital bound is never below the true error against
    the eigenbasis, and at most 1000x above it (the sum of dropped norms is what a
    worst-case alignment of the dropped pieces would give).  Lattice W = 3, M = 800, trap
    release with the disorder (whole-ring initial orbitals, trimmed on the ring) and a domain
    wall."""
    m = 800
    ring = Ring.lattice(_anderson(m, 3.0, 21))
    times = np.array([0.0, 3.0, 12.0, 40.0])
    for ini in (trap_release(ring, 12, omega=0.02, with_disorder=True),
                domain_wall(ring, 100, region=(300, 500))):
        run, orb_err, count_err = _compare(ring, ini, times, tol=1e-3)
        e = run.orbital_error[1:]
        assert orb_err[1:].max() > 1e-7                # the truncation error dominates
        assert np.all(orb_err <= run.orbital_error + 1e-12)
        assert np.all(count_err <= run.count_error() + 1e-12)
        assert np.all(e <= 1e3 * np.maximum(orb_err[1:], 1e-12))


def test_support_against_expm_and_clean_ring_fallback():
    """A clean ring (no localization) with a complex twist: the windows grow ballistically and
    move to the whole ring (max_window = M), and the orbitals equal scipy's Pade expm of the
    dense ring matrix applied to the initial orbitals, within the stated bound; the density
    equals the chebyshev method's."""
    m = 160
    ring = Ring.lattice(np.zeros(m))
    ini = domain_wall(ring, 30, twist=0.7)
    times = np.array([0.0, 4.0, 30.0])
    ev = Evolution.prepare(ring, ini, method="support")
    run = ev.support_density(times)
    assert run.max_window[-1] == m
    h = ring.matrix(ini.fermion_twist)
    u0 = ini.lattice_orbitals
    for i, u in enumerate(ev.iter_orbitals(times)):
        ref = sla.expm(-1j * times[i] * h) @ u0
        err = np.linalg.norm(u - ref, axis=0)
        assert np.all(err <= run.orbital_error[i] + EIGENVECTOR * 1e-2)
    np.testing.assert_allclose(run.density, evolve_density(ring, ini, times, method="chebyshev"),
                               rtol=0, atol=EIGENVECTOR * 1e-1)


def test_static_orbitals_and_duhamel_bound():
    """Eigenvectors of the hard-wall operator H_K deep inside K (W = 6, K = 600 sites) have
    residual ||(H - E) v|| ~ e^{-dist/l} and are not propagated: n_static > 0, and their
    error, |t| r by the Duhamel bound, still covers the true error against the eigenbasis at
    t up to 200; the dynamic ones are propagated on windows."""
    m = 1200
    ring = Ring.lattice(_anderson(m, 6.0, 33))
    ini = domain_wall(ring, 150, region=(0, 600))
    times = np.array([0.0, 50.0, 200.0])
    run, orb_err, count_err = _compare(ring, ini, times)
    assert run.n_static > 20
    assert np.all(orb_err <= run.orbital_error + EIGENVECTOR * 1e-2)
    assert np.all(count_err <= run.count_error() + ROUNDOFF_SUM * 10)


def test_dynamics_sample_support_equals_eigen():
    """dynamics_sample with method="support" vs "eigen" (lattice W = 2.5, M = 900, filled
    step in the site basis vs the same step in the eigenbasis of H_K): every output within
    count_error (+ round-off), the infinite-time outputs identical (both from the
    eigenbasis); eigen reports count_error 0."""
    m = 900
    ring = Ring.lattice(_anderson(m, 2.5, 44))
    times = np.linspace(0.0, 40.0, 9)
    a = dynamics_sample(ring, domain_wall(ring, m // 2, basis="sites"), times,
                        method="support")
    b = dynamics_sample(ring, domain_wall(ring, m // 2), times, method="eigen")
    tol = a.count_error.max() + ROUNDOFF_SUM * 10
    assert 0 < a.count_error.max() < 1e-6 and np.all(b.count_error == 0)
    for name in ("cell_counts", "sup_cell_change", "sup_cell_counts", "n_transferred",
                 "sup_outside", "sup_inside", "inside0"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=tol,
                                   err_msg=name)
    assert abs(a.n_transferred_inf - b.n_transferred_inf) < ROUNDOFF_SUM * m


def test_sites_basis_is_the_same_slater_determinant():
    """domain_wall(basis="sites") spans the same space as the eigenbasis of H_K (projector
    1_K either way), so densities agree at every time; energies sum to tr(1_K H); bad input
    gives a one-line error naming the field."""
    m = 100
    ring = Ring.lattice(_anderson(m, 2.0, 5))
    a = domain_wall(ring, 50, basis="sites")
    b = domain_wall(ring, 50)
    assert abs(a.energies.sum() - b.energies.sum()) < ROUNDOFF_SUM
    np.testing.assert_allclose(a.density(), b.density(), atol=ROUNDOFF_SUM)
    t = [0.0, 3.0, 9.0]
    np.testing.assert_allclose(evolve_density(ring, a, t, method="eigen"),
                               evolve_density(ring, b, t, method="eigen"), atol=EIGENVECTOR)
    with pytest.raises(ValueError, match="basis"):
        domain_wall(ring, 40, basis="sites")
    with pytest.raises(ValueError, match="basis"):
        domain_wall(ring, 50, basis="wannier")


def test_method_rules_and_errors_support():
    """choose_method: beyond DENSE_MAX_DYNAMICS a disordered lattice ring gets "support", a
    clean one "chebyshev"; support refuses truncation and a non-positive tol."""
    m = DENSE_MAX_DYNAMICS + 1
    assert choose_method(Ring.lattice(_anderson(m, 1.0, 1)), 10, [0.0, 1.0]) == "support"
    assert choose_method(Ring.lattice(np.zeros(m)), 10, [0.0, 1.0]) == "chebyshev"
    ring = Ring.lattice(_anderson(40, 1.0, 2))
    ini = domain_wall(ring, 10)
    with pytest.raises(ValueError, match="truncation"):
        Evolution.prepare(ring, ini, truncation=0.1, method="support")
    with pytest.raises(ValueError, match="tol"):
        Evolution.prepare(ring, ini, method="support", tol=0.0)


def test_sweep_options_method_and_tol():
    """The dynamics sweep entry: method = "support" declares dyn_count_error, and so does
    "auto" on a lattice (its cost model may choose support at any M), which also declares
    dyn_method; "eigen" declares neither; bad values name their field."""
    geom = {"kind": "lattice", "n_grid": 64, "length": 64.0, "points_per_unit": 1,
            "spacing": 1.0, "twist": 0.0}
    base = {o.name: o.default for o in DYNAMICS.options}
    v_auto, _ = DYNAMICS.layout(geom, base)
    v_sup, _ = DYNAMICS.layout(geom, {**base, "method": "support"})
    v_eig, _ = DYNAMICS.layout(geom, {**base, "method": "eigen"})
    assert "dyn_count_error" in v_auto and "dyn_count_error" in v_sup
    assert "dyn_method" in v_auto and "dyn_method" not in v_sup
    assert "dyn_count_error" not in v_eig and "dyn_method" not in v_eig
    checks = {o.name: o.check for o in DYNAMICS.options}
    for name, bad in (("method", "lanczos"), ("tol", 0.0), ("tol", 2.0)):
        with pytest.raises(ParamError, match=name):
            checks[name](bad)


def test_sweep_support_stored_equals_direct_call():
    """A lattice sweep with method = "support" and the filled step (n_particles = "fill"):
    the stored outputs equal a direct dynamics_sample call on the site basis, the stored
    dyn_count_error is that call's count_error, and both agree with the eigen method within
    it (Anderson disorder keyed by SeedSequence(seed, (grid point, sample)))."""
    times = [1.0, 4.0, 12.0]
    spec = parse_spec(spec_dict(
        model={"kind": "lattice", "sites": 40},
        sampling={"n_samples": 2, "seed": 9, "samples_per_task": 2},
        observables={"dynamics": {"times": times, "n_particles": "fill", "method": "support",
                                  "tol": 1e-8}}))
    store = MemoryStore()
    run_sweep(spec, store, progress=False)
    ds = store.to_dataset()
    assert (ds["status"].values == 1).all()
    assert ds["dyn_count_error"].attrs["long_name"]
    for p, w in enumerate([0.5, 3.0]):          # the grid of tests/_sweep_util.py's BASE
        for s in range(2):
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(9, spawn_key=(p, s))))
            ring = Ring.lattice(make_potential("anderson", rng, 40, W=float(w)))
            d = dynamics_sample(ring, domain_wall(ring, 20, basis="sites"), [0.0] + times,
                                method="support", tol=1e-8)
            e = dynamics_sample(ring, domain_wall(ring, 20), [0.0] + times, method="eigen")
            np.testing.assert_allclose(ds["n_transferred"].values[p, s], d.n_transferred,
                                       rtol=0, atol=ROUNDOFF_SUM)
            assert ds["dyn_count_error"].values[p, s] == pytest.approx(d.count_error.max())
            assert np.all(np.abs(d.n_transferred - e.n_transferred)
                          <= d.count_error + ROUNDOFF_SUM)
