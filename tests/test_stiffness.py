"""Superfluid stiffness from twisted boundary conditions.

References used below:
* Clean ring: E(N, theta) - E(N, 0) = N theta^2 / L^2 for |theta| <= pi (docs/references.md §2,
  "Stiffness"); on the grid the exact plane-wave dispersion (2/h^2)(1 - cos kh),
  k = (2 pi n + phi)/L, summed in closed form (geometric sum).
* Floquet-Bloch: the eigenvalues of the twisted periodic Jacobi operator solve
  tr T(E) = 2 cos phi (e.g. Teschl, "Jacobi Operators and Completely Integrable Nonlinear
  Lattices", AMS 2000, ch. 7), evaluated independently in mpmath at 330 digits.
* mpmath ``eigsy`` of the dense ring matrix at 80 digits (no transfer matrices).
* Seiringer & Warzel, NJP 18, 035002 (2016): N_mu = min(N^+, N^-), theta_mu.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from tgsweep import Ring
from tgsweep.core import _stiffness_kernels as K
from tgsweep.models.ring import fermion_twist
from tgsweep.observables import stiffness


# ----------------------------------------------------------------------------- helpers
def _transfer_delta(diag, t, e):
    """Double-precision tr T(E) (plain product; fine for small, weakly disordered rings)."""
    mat = np.eye(2)
    for d in diag:
        mat = np.array([[(d - e) / t, -1.0], [1.0, 0.0]]) @ mat
    return np.trace(mat)


def _mp_delta(diag, t, e):
    """(Delta(E), Delta'(E)) in mpmath from the transfer matrices and their E-derivative."""
    a, b, c, d = mp.mpf(1), mp.mpf(0), mp.mpf(0), mp.mpf(1)
    da = db = dc = dd = mp.mpf(0)
    t = mp.mpf(t)
    for di in diag:
        x = (mp.mpf(di) - e) / t
        # T_i' = [[-1/t, 0], [0, 0]]
        da, db, dc, dd = x * da - dc - a / t, x * db - dd - b / t, da, db
        a, b, c, d = x * a - c, x * b - d, a, b
    return a + d, da + dd


def _mp_root(diag, t, target, e_start, dps):
    e = mp.mpf(e_start)
    for _ in range(60):
        f, fp = _mp_delta(diag, t, e)
        step = (f - target) / fp
        e -= step
        if step == 0 or abs(step) < mp.mpf(10) ** (-dps + 10) * (1 + abs(e)):
            break
    return e


def _mp_rho_s(ring, n, thetas, dps=330):
    """Reference rho_s from mpmath roots of tr T(E) = 2 cos(phi) (Floquet-Bloch)."""
    with mp.workdps(dps):
        diag = [mp.mpf(float(x)) for x in ring.diag]
        t = ring.hopping
        phi0 = fermion_twist(0.0, n)
        c0 = int(round(np.cos(phi0)))
        ev = np.linalg.eigvalsh(ring.matrix(phi0))[:n]
        roots0 = [_mp_root(diag, t, 2 * c0, e, dps) for e in ev]
        out = []
        for th in thetas:
            target = 2 * c0 * mp.cos(mp.mpf(th))  # 2 cos(theta + phi0)
            de = mp.fsum(_mp_root(diag, t, target, r0, dps) - r0 for r0 in roots0)
            out.append(mp.mpf(ring.length) * de / mp.mpf(th) ** 2)
        return out


def _mp_levels(ring, phi, n, dps):
    """The n lowest roots of tr T(E) = 2 cos(phi) in mpmath (Floquet-Bloch), by Newton from the
    LAPACK eigenvalues of the dense twisted ring matrix (checked to be well separated)."""
    ev = np.linalg.eigvalsh(ring.matrix(phi))[:n]
    assert np.min(np.diff(ev)) > 1e-10  # Newton from each start converges to its own root
    diag = [mp.mpf(float(x)) for x in ring.diag]
    target = 2 * mp.cos(mp.mpf(phi))
    roots = []
    for e0 in ev:
        e = mp.mpf(float(e0))
        for _ in range(40):
            f, fp = _mp_delta(diag, ring.hopping, e)
            step = (f - target) / fp
            e -= step
            if abs(step) < mp.mpf(10) ** (5 - dps):
                break
        assert abs(e - mp.mpf(float(e0))) < 1e-10
        roots.append(e)
    return roots


def _mp_log10_rho(ring, n, theta, dps):
    """log10 rho_s from sums of mpmath roots (no transfer-matrix trace, no contour)."""
    phi0 = fermion_twist(0.0, n)
    with mp.workdps(dps):
        de = mp.fsum(_mp_levels(ring, phi0 + theta, n, dps)) - mp.fsum(
            _mp_levels(ring, phi0, n, dps))
        return float(mp.log10(mp.mpf(ring.length) * de / mp.mpf(theta) ** 2))


def _grid_clean_rho(m, n, length, t, thetas):
    """Exact clean-grid stiffness: sum_n 2t (cos k0_n - cos k_n), k = (2 pi n + phi)/M."""
    thetas = np.asarray(thetas, dtype=float)
    c = np.sin(np.pi * n / m) / np.sin(np.pi / m)
    return length * 2 * t * c * 2 * np.sin(thetas / (2 * m)) ** 2 / thetas**2


def _anderson(m, w, seed, t=1.0):
    rng = np.random.default_rng(seed)
    return Ring.lattice(rng.uniform(-w / 2, w / 2, m), hopping=t)


# ----------------------------------------------------------------------------- kernels vs twins
def test_chain_logdet_matches_slogdet():
    """Sturm log-determinant vs numpy.linalg.slogdet of the dense open chain (NumPy twin)."""
    ring = _anderson(17, 3.0, 1)
    for start, n, e in [(0, 17, 0.3), (5, 16, -1.1), (16, 10, 2.5), (3, 1, 0.0)]:
        la, s = K.chain_logdet(ring.diag, 1.0, start, n, e)
        lr, sr = K.chain_logdet_reference(ring.diag, 1.0, start, n, e)
        assert s == sr
        assert la == pytest.approx(lr, rel=1e-12, abs=1e-12)


def test_log_discriminant_twin_and_identity():
    """log-scaled tr T(E) vs its NumPy twin and vs eq. (1):
    Delta - 2cos(phi0) = t^-M prod(E_l - E)."""
    ring = _anderson(14, 2.0, 2, t=1.3)
    for e in (-3.0, 0.17, 2.2):
        s, la = K.log_discriminant(ring.diag, ring.hopping, e)
        sr, lr = K.log_discriminant_reference(ring.diag, ring.hopping, e)
        assert s == sr and la == pytest.approx(lr, rel=1e-12)
        assert s * np.exp(la) == pytest.approx(_transfer_delta(ring.diag, ring.hopping, e),
                                               rel=1e-10)
        for phi0 in (0.0, np.pi):
            ev = np.linalg.eigvalsh(ring.matrix(phi0))
            rhs = ring.hopping ** (-ring.n_grid) * np.prod(ev - e)
            assert s * np.exp(la) - 2 * np.cos(phi0) == pytest.approx(rhs, rel=1e-9)


def test_band_slopes_cofactor_formula():
    """Eq. (2): Delta'(E_j) from the cut chain equals the finite-difference derivative of
    tr T(E) (double precision, weak disorder) and -t^-M prod_{l!=j}(E_l - E_j); numba = twin."""
    ring = _anderson(12, 1.5, 3, t=0.8)
    for phi0 in (0.0, np.pi):
        w, v = np.linalg.eigh(ring.matrix(phi0))
        centers = np.argmax(np.abs(v), axis=0).astype(np.int64)
        amp2 = v[centers, np.arange(12)] ** 2
        la, sg = K.band_log_slopes(ring.diag, ring.hopping, w, centers, amp2)
        lr, sr = K.band_log_slopes_reference(ring.diag, ring.hopping, w, centers, amp2)
        np.testing.assert_allclose(la, lr, rtol=1e-12)
        np.testing.assert_array_equal(sg, sr)
        # alternating signs: Delta decreases through band 0 from +infinity
        np.testing.assert_array_equal(sg, -(-1.0) ** np.arange(12))
        for j in range(12):
            prod = -ring.hopping ** (-12) * np.prod(np.delete(w - w[j], j))
            assert sg[j] * np.exp(la[j]) == pytest.approx(prod, rel=1e-9)
            hstep = 1e-6
            fd = (_transfer_delta(ring.diag, ring.hopping, w[j] + hstep)
                  - _transfer_delta(ring.diag, ring.hopping, w[j] - hstep)) / (2 * hstep)
            assert sg[j] * np.exp(la[j]) == pytest.approx(fd, rel=1e-6)


def test_log_char_poly_line_twin_and_determinant():
    """Complex log-scaled f0(E) = Delta(E) - 2 c0 on E = E* + i y vs its NumPy twin and vs
    eq. (1): t^-M prod_l (E_l(phi0) - E) from LAPACK eigenvalues (both c0 = +1, -1)."""
    ring = _anderson(50, 4.0, 12, t=1.2)
    ys = np.array([0.0, 1e-3, 0.3, 2.0, 50.0])
    for c0 in (1.0, -1.0):
        lf, ln = K.log_char_poly_line(ring.diag, 1.2, c0, 0.13, ys)
        lr, lnr = K.log_char_poly_line_reference(ring.diag, 1.2, c0, 0.13, ys)
        np.testing.assert_allclose(lf, lr, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ln, lnr, rtol=0, atol=1e-12)
        # |tr T - 2 c0| <= 2 max|T_ab| + 2
        assert np.all(np.exp(lf.real) <= 2 * np.exp(ln) + 2 + 1e-9)
        ev = np.linalg.eigvalsh(ring.matrix(0.0 if c0 > 0 else np.pi))
        for y, val in zip(ys, lf):
            ref = np.sum(np.log((ev - (0.13 + 1j * y)) / 1.2))
            assert val.real == pytest.approx(ref.real, abs=1e-9)
            assert np.exp(1j * (val.imag - ref.imag)) == pytest.approx(1.0, abs=1e-9)


def test_band_shift_newton_matches_brentq_twin():
    """Newton solution of the product equation vs the SciPy brentq twin."""
    ring = _anderson(30, 2.0, 4)
    full = np.linalg.eigvalsh(ring.matrix(0.0))
    for j, log_lin, sgn in [(0, np.log(1e-4), 1.0), (5, np.log(3e-3), -1.0), (9, -30.0, 1.0)]:
        u = K.band_shift_newton(full, j, log_lin, sgn, 50)
        ur = K.band_shift_reference(full, j, log_lin, sgn)
        assert u == pytest.approx(ur, abs=1e-12)


# ----------------------------------------------------------------------------- clean ring
@pytest.mark.parametrize("n_target", [7, 8])
def test_clean_lattice_exact(n_target):
    """Clean lattice ring, both parities: rho_s equals the exact grid sum (plane waves)."""
    m = 40
    ring = Ring.lattice(np.zeros(m))
    mu = -2 * np.cos(np.pi * n_target / m) + 1e-3  # inside the gap above the filled shell
    thetas = np.array([0.05, 0.5, 1.0, 2.0, np.pi])
    res = stiffness(ring, mu, thetas)
    assert res.n_mu == n_target  # min(N+, N-): N+ = 7, N- = 8 (n=7); N+ = 9, N- = 8 (n=8)
    assert not res.ambiguous
    ref = _grid_clean_rho(m, res.n_mu, m, 1.0, thetas)
    np.testing.assert_allclose(res.rho_s, ref, rtol=1e-9)
    assert res.rho_s0 == pytest.approx(_grid_clean_rho(m, res.n_mu, m, 1.0, 1e-8), rel=1e-9)


def test_clean_continuum_n_over_l_with_grid_correction():
    """Continuum clean ring: rho_s -> N/L (docs/references.md §2) with the documented O(h^2) grid error
    -N/L ((N^2-1) pi^2 + theta^2/2) h^2 / (6 L^2); exact grid sum to 1e-9."""
    length, mu = 10.0, 20.0
    thetas = np.array([0.3, 1.0, np.pi])
    errs = []
    for ppu in (8, 16):
        ring = Ring.continuum(length, ppu)
        res = stiffness(ring, mu, thetas)
        n = res.n_mu
        assert (res.n_plus, res.n_minus, n) == (15, 14, 14)  # k = 2 pi j / L <= sqrt(mu)
        assert n == min(res.n_plus, res.n_minus)
        h = 1.0 / ppu
        ref = _grid_clean_rho(ring.n_grid, n, length, ring.hopping, thetas)
        np.testing.assert_allclose(res.rho_s, ref, rtol=1e-9)
        corr = -(n / length) * ((n**2 - 1) * np.pi**2 + thetas**2 / 2) * h**2 / (6 * length**2)
        err = res.rho_s - n / length
        np.testing.assert_allclose(err, corr, rtol=0.05)
        errs.append(np.abs(err))
    np.testing.assert_allclose(errs[0] / errs[1], 4.0, rtol=0.05)  # O(h^2)
    assert res.n_mu / length == pytest.approx(np.sqrt(mu) / np.pi, rel=0.05)


# ----------------------------------------------------------------------------- disorder
def test_high_precision_reference_below_1e200():
    """Strong disorder (W = 1e7, M = 40): rho_s ~ 1e-240 vs mpmath roots of tr T = 2 cos phi at
    330 digits, to 1e-6 relative (compared in log10), for the contour and the band path."""
    ring = _anderson(40, 1e7, 7)
    thetas = np.array([0.3, np.pi / 2, np.pi])
    results = [stiffness(ring, 0.0, thetas), stiffness(ring, 0.0, thetas, method="bands")]
    assert np.all(results[0].regime == 3) and np.all(results[1].regime == 0)
    n = results[0].n_mu
    ref = _mp_rho_s(ring, n, thetas)
    ref_log10 = np.array([float(mp.log10(x)) for x in ref])
    # curvature: the theta -> 0 limit of the same reference
    ref0 = float(mp.log10(_mp_rho_s(ring, n, [1e-30])[0]))
    for res in results:
        assert res.n_mu == n == min(res.n_plus, res.n_minus) and n > 10
        assert np.all(res.log10_rho_s < -200) and np.all(res.reliable)
        np.testing.assert_allclose(res.rho_s, 10.0 ** res.log10_rho_s, rtol=1e-12)
        np.testing.assert_allclose(res.log10_rho_s * np.log(10), ref_log10 * np.log(10),
                                   rtol=0, atol=1e-6)
        assert res.log10_rho_s0 == pytest.approx(ref0, abs=1e-6 / np.log(10))


def test_mpmath_eigsy_reference():
    """Dense ring matrix diagonalized by mpmath.eigsy at 80 digits (theta = pi keeps it real):
    rho_s ~ 1e-40, far below double roundoff, to 1e-6 relative."""
    m = 12
    ring = _anderson(m, 1e4, 11)
    res = stiffness(ring, 0.0, [np.pi])
    n = res.n_mu
    phi0 = fermion_twist(0.0, n)
    with mp.workdps(80):
        energies = []
        for phi in (phi0, phi0 + np.pi):
            c = int(round(np.cos(phi)))
            a = mp.matrix(m, m)
            for i in range(m):
                a[i, i] = mp.mpf(float(ring.diag[i]))
                a[i, (i + 1) % m] = a[(i + 1) % m, i] = -1
            a[0, m - 1] = a[m - 1, 0] = -c
            e = mp.eigsy(a, eigvals_only=True)
            energies.append(sorted(e[i] for i in range(m))[:n])
        de = mp.fsum(e1 - e0 for e0, e1 in zip(*energies))
        ref = float(mp.log10(mp.mpf(m) * de / mp.pi**2))
    assert ref < -30
    assert res.log10_rho_s[0] == pytest.approx(ref, abs=1e-6 / np.log(10))


@pytest.mark.parametrize("method", ["auto", "bands"])
def test_overlap_with_direct_differences(method):
    """Where plain eigenvalue differences resolve the shift, the log-scaled result (contour or
    band path) agrees (within the direct method's roundoff N eps ||H|| plus 1e-6 relative)."""
    thetas = np.array([0.2, 1.0, np.pi])
    seen = set()
    for m, seed in [(40, 0), (60, 1), (80, 0)]:
        ring = _anderson(m, 2.0, seed)
        auto = stiffness(ring, -0.5, thetas, method=method)
        direct = stiffness(ring, -0.5, thetas, method="direct")
        seen |= set(np.unique(auto.regime).tolist())
        d_auto = auto.rho_s * thetas**2 / m
        d_dir = direct.rho_s * thetas**2 / m
        tol = 1e-6 * np.abs(d_auto) + 50 * auto.n_mu * np.finfo(float).eps * 4.0
        assert np.all(np.abs(d_auto - d_dir) <= tol)
        assert np.all(auto.rho_s > 0)  # diamagnetic inequality
        assert np.all(auto.reliable)
    if method == "bands":
        assert {0, 1} <= seen  # both the log-linear and the Newton evaluations were exercised
    else:
        assert seen == {3}  # the contour path


def test_contour_where_the_band_sum_cancels_vs_mpmath_roots():
    """Anderson W = 4, M = 200, sample where the per-band shifts cancel to 1e-8 of the largest:
    the contour result agrees with the sum of 80-digit mpmath roots of tr T = 2 cos phi to 1e-6
    relative; the band path does not and says so (reliable False)."""
    rng = np.random.default_rng(200025)
    ring = Ring.lattice(rng.uniform(-2, 2, 200))
    res = stiffness(ring, -0.5, [np.pi])
    bands = stiffness(ring, -0.5, [np.pi], method="bands")
    assert bands.log10_cancellation[0] > 7 and not bands.reliable[0]
    assert res.regime[0, 0] == 3 and res.reliable[0] and res.log10_rho_s[0] < -12
    ref = _mp_log10_rho(ring, res.n_mu, np.pi, 80)
    assert res.log10_rho_s[0] == pytest.approx(ref, abs=1e-6 / np.log(10))
    assert abs(bands.log10_rho_s[0] - ref) > 1e-6  # lost to cancellation


@pytest.mark.slow
@pytest.mark.parametrize("m, seed, thetas", [(300, 300005, (1.0, np.pi)),
                                             (1000, None, (np.pi,))])
def test_contour_long_rings_vs_mpmath_roots(m, seed, thetas):
    """W = 4 rings flagged unreliable on the band path (cancellation 1e-9 at M = 300, 1e-11 at
    M = 1000, rho_s ~ 1e-28 and 1e-83): contour vs the sum of mpmath roots (80 / 100 digits) to
    1e-6 relative."""
    if seed is None:  # the ring of test_cancellation_is_flagged_on_the_band_path_only
        rng = np.random.default_rng(0)
        rng.uniform(-2, 2, 500)
    else:
        rng = np.random.default_rng(seed)
    ring = Ring.lattice(rng.uniform(-2, 2, m))
    thetas = np.asarray(thetas)
    res = stiffness(ring, -0.5, thetas)
    assert np.all(res.regime == 3) and np.all(res.reliable)
    assert not np.any(stiffness(ring, -0.5, thetas[:1], method="bands").reliable)
    dps = 80 if m <= 300 else 100  # rho_s ~ 1e-83 on sums ~ 400: 100 digits keep 1e-9
    for th, val in zip(thetas, res.log10_rho_s):
        assert val == pytest.approx(_mp_log10_rho(ring, res.n_mu, th, dps),
                                    abs=1e-6 / np.log(10))


def test_contour_independence():
    """Formula (C) must not depend on where the line crosses the gap (E*) nor on the quadrature
    step (W = 4, M = 1000, rho_s ~ 1e-83); relative agreement 1e-10."""
    from tgsweep.observables.superfluid import _contour_path

    rng = np.random.default_rng(0)
    rng.uniform(-2, 2, 500)
    ring = Ring.lattice(rng.uniform(-2, 2, 1000))
    thetas = np.array([0.5, np.pi])
    res = stiffness(ring, -0.5, thetas)
    c0 = np.cos(res.fermion_twist0)
    bottom = res.contour_center - 0.5 * res.band_gap
    ref = np.r_[res.log10_rho_s, res.log10_rho_s0]
    for frac, step in [(0.25, 0.1), (0.8, 0.15), (0.5, 0.07)]:
        e_star = bottom + frac * res.band_gap
        half = min(frac, 1 - frac) * res.band_gap
        out, curv = _contour_path(ring, c0, e_star, half, thetas, step)
        got = (np.r_[out[1] - 2 * np.log(thetas), curv[1]] + np.log(1000)) / np.log(10)
        np.testing.assert_allclose(got * np.log(10), ref * np.log(10), rtol=0, atol=1e-10)


def test_contour_wide_bands_vs_direct():
    """Weak disorder (W = 0.5, 1; |kappa / f0| ~ 1 on the contour: the full logarithm of (C),
    no linearization) vs direct eigenvalue differences of dense matrices, 1e-9 relative."""
    for w, m, seed in [(0.5, 24, 2), (1.0, 30, 0)]:
        ring = _anderson(m, w, seed)
        mu = 0.0
        res = stiffness(ring, mu, [0.3, 1.0, np.pi], method="contour")
        n = res.n_mu
        phi0 = fermion_twist(0.0, n)
        e0 = np.sum(np.linalg.eigvalsh(ring.matrix(phi0))[:n])
        assert res.energy0 == pytest.approx(e0, rel=1e-12)
        for th, rho in zip(res.thetas, res.rho_s):
            de = np.sum(np.linalg.eigvalsh(ring.matrix(phi0 + th))[:n]) - e0
            assert rho == pytest.approx(m * de / th**2, rel=1e-9)
        assert np.all(res.reliable)


def test_nearly_clean_ring_tiny_gap():
    """Clean lattice + disorder 1e-12 ... 1e-2: the gap at the Fermi level is tiny, f_phi(E*)
    ~ gap^2 is not resolved by the transfer-matrix trace at theta = pi; auto must still agree
    with direct eigenvalue differences (LAPACK) to 1e-9, by falling back to the band path where
    the contour's error estimate says so; forced 'contour' reports it as unreliable."""
    m = 40
    mu = -2 * np.cos(np.pi * 7 / m) + 1e-3
    thetas = np.array([0.5, np.pi])
    fell_back = False
    for amp in (1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2):
        ring = Ring.lattice(amp * np.random.default_rng(1).uniform(-1, 1, m))
        res = stiffness(ring, mu, thetas)
        n = res.n_mu
        phi0 = fermion_twist(0.0, n)
        e0 = np.sum(np.linalg.eigvalsh(ring.matrix(phi0))[:n])
        ref = [m * (np.sum(np.linalg.eigvalsh(ring.matrix(phi0 + th))[:n]) - e0) / th**2
               for th in thetas]
        np.testing.assert_allclose(res.rho_s, ref, rtol=1e-9)
        fell_back |= bool(np.any(res.regime[:, 0] != 3) and np.any(res.regime[:, 0] == 3))
        if res.band_gap > 1e-9 and res.regime[1, 0] != 3:
            forced = stiffness(ring, mu, thetas, method="contour")
            assert not forced.reliable[1] and forced.log10_error[1] > -7
    assert fell_back


def test_log_method_is_the_small_theta_limit():
    """method='log' (linear band formula) equals the band path and the contour path as
    theta -> 0 and in the localized regime, and rho_s(theta) -> rho_s0 like the law
    4 sin^2(theta/2)/theta^2 (kappa = -4 cos(phi0) sin^2(theta/2), linear in kappa)."""
    ring = _anderson(300, 4.0, 5)
    thetas = np.array([1e-4, 0.5, 2.0])
    bands = stiffness(ring, -0.5, thetas, method="bands")
    log = stiffness(ring, -0.5, thetas, method="log")
    auto = stiffness(ring, -0.5, thetas)
    assert np.all(bands.regime == 0) and np.all(auto.regime == 3)
    np.testing.assert_allclose(bands.log10_rho_s, log.log10_rho_s, rtol=0, atol=1e-12)
    np.testing.assert_allclose(auto.log10_rho_s, log.log10_rho_s, rtol=0, atol=1e-9)
    shape = np.log10(4 * np.sin(thetas / 2) ** 2 / thetas**2)
    for res in (bands, auto):
        np.testing.assert_allclose(res.log10_rho_s - res.log10_rho_s0, shape, atol=1e-10)


def test_continuum_disorder_overlap_and_deep():
    """Continuum ring with a random step potential: auto vs direct in the overlap region, and a
    finite log10 rho_s deep in the localized regime."""
    rng = np.random.default_rng(3)
    ppu = 8
    for length, deep in [(12.0, False), (120.0, True)]:
        cells = rng.uniform(0.0, 8.0, int(length))
        ring = Ring.continuum(length, ppu, np.repeat(cells, ppu))
        res = stiffness(ring, 3.0, [1.0])
        if deep:
            assert res.log10_rho_s[0] < -20 and np.isfinite(res.log10_rho_s[0])
        else:
            direct = stiffness(ring, 3.0, [1.0], method="direct")
            assert res.rho_s[0] == pytest.approx(direct.rho_s[0], rel=1e-6)


# ----------------------------------------------------------------------------- bookkeeping
def test_particle_numbers_and_ambiguity():
    """N_mu = min(N^+, N^-) (Seiringer-Warzel); a level at mu flags the sample as ambiguous."""
    ring = _anderson(30, 2.0, 8)
    ev0 = np.linalg.eigvalsh(ring.matrix(0.0))
    evpi = np.linalg.eigvalsh(ring.matrix(np.pi))
    mu = 0.5 * (ev0[10] + ev0[11])
    res = stiffness(ring, mu, [0.5])
    assert res.n_plus == np.sum(ev0 <= mu) and res.n_minus == np.sum(evpi <= mu)
    assert res.n_mu == min(res.n_plus, res.n_minus)
    assert res.energy0 == pytest.approx(
        np.sum(np.linalg.eigvalsh(ring.matrix(fermion_twist(0.0, res.n_mu)))[:res.n_mu]))
    assert not res.ambiguous
    assert res.mu_gap == pytest.approx(np.min(np.abs(np.r_[ev0, evpi] - mu)))
    at = stiffness(ring, float(evpi[7]), [0.5])
    assert at.ambiguous and at.mu_gap < 1e-12
    empty = stiffness(ring, -10.0, [0.5, 1.0])
    assert empty.n_mu == 0 and np.all(empty.rho_s == 0) and np.all(np.isneginf(empty.log10_rho_s))


def test_input_validation():
    ring = _anderson(10, 1.0, 0)
    with pytest.raises(ValueError, match="method"):
        stiffness(ring, 0.0, [1.0], method="nope")
    # clean ring: bands N-1, N touch at theta = pi, where the forced contour has no line
    clean = stiffness(Ring.lattice(np.zeros(20)), -2 * np.cos(np.pi * 7 / 20) + 1e-3,
                      [1.0, np.pi], method="contour")
    assert clean.reliable[0] and not clean.reliable[1] and clean.log10_error[1] == np.inf
    with pytest.raises(ValueError, match="exactly one of mu, n_particles"):
        stiffness(ring, 0.0, [1.0], n_particles=3)
    with pytest.raises(ValueError, match="exactly one of mu, n_particles"):
        stiffness(ring, thetas=[1.0])
    with pytest.raises(ValueError, match="n_particles"):
        stiffness(ring, thetas=[1.0], n_particles=11)
    with pytest.raises(ValueError, match="n_particles"):
        stiffness(ring, thetas=[1.0], n_particles=2.5)
    with pytest.raises(ValueError, match="thetas"):
        stiffness(ring, 0.0)
    with pytest.raises(ValueError, match="thetas"):
        stiffness(ring, 0.0, [np.nan])
    with pytest.raises(ValueError, match="mu"):
        stiffness(ring, np.inf, [1.0])


def test_band_centers_match_dense_eigenvectors():
    """O(M) per-level inverse iteration (used for M > DENSE_MAX) vs LAPACK eigh: peak site and
    peak weight |psi_j(k)|^2."""
    ring = _anderson(80, 3.0, 9)
    w, v = np.linalg.eigh(ring.matrix(np.pi))
    c, a2 = K.band_centers(ring.diag, 1.0, float(np.real(ring.corner(np.pi))), w[:30], 1)
    np.testing.assert_array_equal(c, np.argmax(np.abs(v[:, :30]), axis=0))
    np.testing.assert_allclose(a2, np.max(np.abs(v[:, :30]), axis=0) ** 2, rtol=1e-10)


def test_cancellation_is_flagged_on_the_band_path_only():
    """Band shifts alternate in sign; when their sum cancels beyond what the per-band accuracy
    supports (here 11 decades), the band path is flagged; the contour path has no cancellation
    (its integrand keeps one sign) and is reliable on the same ring."""
    rng = np.random.default_rng(0)
    rng.uniform(-2, 2, 500)
    ring = Ring.lattice(rng.uniform(-2, 2, 1000))
    res = stiffness(ring, -0.5, [0.5], method="bands")
    assert res.log10_cancellation[0] > 8 and not res.reliable[0]
    auto = stiffness(ring, -0.5, [0.5])
    assert auto.regime[0, 0] == 3 and auto.reliable[0] and auto.log10_error[0] < -10
    assert auto.log10_cancellation[0] < 1e-6
    ok = stiffness(_anderson(40, 1e7, 7), 0.0, [0.5], method="bands")
    assert ok.log10_cancellation[0] < 1 and ok.reliable[0]
