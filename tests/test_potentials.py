"""Disorder generators: moments, correlations and reproducibility with fixed seeds.

Statistical checks use tolerances of about 5 standard errors of the estimator (stated per test),
so a correct generator fails with probability < 1e-5 for an arbitrary seed; the seeds are fixed,
so the tests are deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tgsweep.models import potentials as P

from _tolerances import ROUNDOFF, ROUNDOFF_SUM, k_se


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- iid per cell
def test_uniform_cells_moments_and_cell_structure():
    """Uniform box [m - W/2, m + W/2]: mean m, variance W^2/12, constant on each unit cell,
    uncorrelated between cells (iid alloy model)."""
    n_cells, cs, W, m = 40_000, 4, 2.0, 0.3
    v = P.uniform_cells(rng(1), n_cells * cs, cs, W, mean=m)
    assert v.dtype == np.float64 and v.shape == (n_cells * cs,)
    cells = v.reshape(n_cells, cs)
    assert np.all(cells == cells[:, :1])
    c = cells[:, 0]
    assert c.min() >= m - W / 2 and c.max() <= m + W / 2
    var = W**2 / 12
    assert abs(c.mean() - m) < 5 * math.sqrt(var / n_cells)
    # Var of the sample variance of U(-W/2, W/2): (mu4 - var^2)/n, mu4 = W^4/80
    assert abs(c.var() - var) < 5 * math.sqrt((W**4 / 80 - var**2) / n_cells)
    r = np.corrcoef(c[:-1], c[1:])[0, 1]
    assert abs(r) < 5 / math.sqrt(n_cells)


def test_partial_last_cell_gets_its_own_value():
    """n_grid not a multiple of cell_size: cell of point i is i // cell_size (Ring.cell_index)."""
    v = P.uniform_cells(rng(2), 10, 4, 1.0)
    assert np.all(v[:4] == v[0]) and np.all(v[4:8] == v[4]) and np.all(v[8:] == v[8])
    assert len({v[0], v[4], v[8]}) == 3


def test_gaussian_cells_moments():
    """N(m, s^2) per cell: sample mean within 5 s/sqrt(n), sample variance within
    5 s^2 sqrt(2/n)."""
    n, s, m = 40_000, 0.7, -1.0
    c = P.gaussian_cells(rng(3), n * 2, 2, s, mean=m)[::2]
    assert abs(c.mean() - m) < 5 * s / math.sqrt(n)
    assert abs(c.var() - s**2) < 5 * s**2 * math.sqrt(2 / n)


def test_bernoulli_cells_values_and_moments():
    """Binary alloy: values in {a, b}; fraction of a within 5 sqrt(p(1-p)/n) of p; mean
    pa + (1-p)b."""
    n, a, b, p = 40_000, 3.0, -1.0, 0.2
    v = P.bernoulli_cells(rng(4), n, 1, a, b, p)
    assert set(np.unique(v)) <= {a, b}
    frac = np.mean(v == a)
    assert abs(frac - p) < 5 * math.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(v.mean(), frac * a + (1 - frac) * b, rtol=ROUNDOFF_SUM)
    assert np.all(P.bernoulli_cells(rng(4), 50, 1, a, b, 1.0) == a)
    assert np.all(P.bernoulli_cells(rng(4), 50, 1, a, b, 0.0) == b)


def test_anderson_box_and_moments():
    """Anderson model: eps uniform in [-W/2, W/2] (docs/references.md §3, the convention of the
    Thouless formula); same draws as uniform_cells with cell_size 1."""
    n, W = 50_000, 3.0
    e = P.anderson(rng(5), n, W)
    assert e.min() >= -W / 2 and e.max() <= W / 2
    assert abs(e.mean()) < 5 * W / math.sqrt(12 * n)
    assert abs(e.var() - W**2 / 12) < 5 * math.sqrt((W**4 / 80 - W**4 / 144) / n)
    np.testing.assert_array_equal(e, P.uniform_cells(rng(5), n, 1, W))


# --------------------------------------------------------------------------- white noise
def test_lloyd_cauchy_quantiles_and_cdf():
    """Lloyd model: eps iid Cauchy of half width W (docs/references.md section 4): median 0,
    quartiles +-W (P(|eps| < W) = 1/2 exactly), and the empirical CDF within the Kolmogorov
    bound of F(x) = 1/2 + arctan(x/W)/pi; sites independent (lag-1 sign correlation ~ 0)."""
    n, W = 50_000, 1.7
    e = P.lloyd(rng(7), n, W)
    assert e.shape == (n,) and e.dtype == np.float64
    # sample quantile p of a density f has standard error sqrt(p(1-p)/n)/f: f(+-W) = 1/(2 pi W)
    se_q = math.sqrt(3 / 16 / n) * 2 * math.pi * W
    q25, q50, q75 = np.quantile(e, [0.25, 0.5, 0.75])
    assert abs(q50) < k_se(math.pi * W / 2, n)  # f(0) = 1/(pi W): se = sqrt(1/4/n) pi W
    assert abs(q75 - W) < 5 * se_q and abs(q25 + W) < 5 * se_q
    x = np.sort(e)
    cdf = 0.5 + np.arctan(x / W) / math.pi
    ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert ks < 1.63 / math.sqrt(n)  # Kolmogorov distribution, 1 % level
    s = np.sign(e)
    assert abs(np.mean(s[1:] * s[:-1])) < 5 / math.sqrt(n)
    np.testing.assert_array_equal(P.make_potential("lloyd", rng(7), n, W=W), e)


def test_white_noise_variance_and_delta_correlation():
    """<V(x)V(y)> = D delta(x-y): per-point variance D/h, no correlation between neighbours,
    and Var(int_0^1 V dx) = D independently of h (the delta-function normalization)."""
    D = 0.8
    for ppu, seed in ((4, 6), (16, 7)):
        h = 1.0 / ppu
        n_units = 20_000
        v = P.white_noise(rng(seed), n_units * ppu, h, D)
        assert abs(v.var() / (D / h) - 1) < 5 * math.sqrt(2 / v.size)
        r = np.corrcoef(v[:-1], v[1:])[0, 1]
        assert abs(r) < 5 / math.sqrt(v.size)
        integrals = v.reshape(n_units, ppu).sum(axis=1) * h
        assert abs(integrals.var() / D - 1) < 5 * math.sqrt(2 / n_units)


# --------------------------------------------------------------------------- speckle
def _autocorr(v: np.ndarray) -> np.ndarray:
    """Circular autocorrelation (1/M) sum_x v(x) v(x + lag), all lags."""
    f = np.fft.fft(v)
    return np.fft.ifft(np.abs(f) ** 2).real / v.size


def test_speckle_correlation_formula_tends_to_sinc2():
    """The exact ring correlation V_R^2 |K^-1 sum_j e^{i k_j x}|^2 -> V_R^2 sinc^2(x/sigma_R)
    (Billy et al. 2008, Sanchez-Palencia et al. 2007) for L >> sigma_R."""
    x = np.linspace(0.0, 10.0, 101)
    sig = 0.8
    exact = P.speckle_correlation(x, 4000 * 8, 1 / 8, 1.5, sig)
    sinc2 = 1.5**2 * np.sinc(x / sig / np.pi) ** 2
    np.testing.assert_allclose(exact, sinc2, atol=2e-3 * 1.5**2)


def test_speckle_spectrum_has_compact_support():
    """Every sample: the power spectrum of V vanishes for |k| > 2/sigma_R (autoconvolution of
    the pupil |k| <= 1/sigma_R), the origin of the effective mobility edge (Billy et al. 2008)."""
    L, ppu, sig = 200, 8, 0.7
    v = P.speckle(rng(8), L * ppu, 1 / ppu, 1.0, sig)
    k = 2 * np.pi * np.fft.fftfreq(v.size, 1 / ppu)
    pw = np.abs(np.fft.fft(v)) ** 2
    assert pw[np.abs(k) > 2 / sig + 1e-9].max() < 1e-20 * pw.max()
    assert pw[(np.abs(k) > 0) & (np.abs(k) < 1 / sig)].min() > 0


@pytest.mark.parametrize("strength", [1.3, -0.6])
def test_speckle_moments_and_sinc2_autocorrelation(strength):
    """V = V_R (I/<I> - 1), I exponential (fully developed speckle, Goodman, Speckle Phenomena
    in Optics, 2007): ensemble mean 0, P(I > q) = e^{-q}, one-sided (V_R (I - 1) >= -V_R);
    autocorrelation V_R^2 sinc^2(x/sigma_R).  Estimates from 200 samples of L = 400, i.e. about
    200 L / (pi sigma_R) = 2.5e4 independent correlation volumes: tolerances 0.05 V_R^2 for the
    correlation (max over 25 lags) and 0.025 for the tail probabilities; on 20 other seeds the
    largest deviations were 0.033 and 0.007."""
    L, ppu, sig, ns = 400, 4, 1.0, 200
    M, h = L * ppu, 1.0 / ppu
    r = rng(9)
    acc = np.zeros(M)
    m1 = 0.0
    tails = np.zeros(3)
    for _ in range(ns):
        v = P.speckle(r, M, h, strength, sig)
        if strength > 0:
            assert v.min() >= -strength - 1e-12
        else:
            assert v.max() <= -strength + 1e-12
        acc += _autocorr(v) / ns
        m1 += v.mean() / ns
        intensity = v / strength + 1.0
        tails += np.array([np.mean(intensity > q) for q in (1, 2, 3)]) / ns
    assert abs(m1) < 0.05 * abs(strength)
    np.testing.assert_allclose(tails, np.exp(-np.array([1.0, 2.0, 3.0])), atol=0.025)
    lags = np.arange(0, 6 * ppu + 1)
    x = lags * h
    target = strength**2 * np.sinc(x / sig / np.pi) ** 2
    np.testing.assert_allclose(acc[lags], target, atol=0.05 * strength**2)
    # first zero of sinc^2 at x = pi sigma_R
    z = int(round(np.pi * sig / h))
    assert abs(acc[z]) < 0.05 * strength**2


# --------------------------------------------------------------------------- Poisson
def test_poisson_points_density_and_gaps():
    """Poisson process of intensity rho on [0, L): count within 5 sqrt(rho L) of rho L,
    mean gap 1/rho, gaps exponential (P(gap > 2/rho) = e^-2)."""
    L, rho = 50_000.0, 0.4
    pts = P.poisson_points(rng(10), L, rho)
    n = pts.size
    assert abs(n - rho * L) < 5 * math.sqrt(rho * L)
    assert np.all(np.diff(pts) >= 0) and pts.min() >= 0 and pts.max() < L
    gaps = np.diff(pts)
    assert abs(gaps.mean() * rho - 1) < 5 / math.sqrt(n)
    q = np.mean(gaps > 2 / rho)
    assert abs(q - math.exp(-2)) < 5 * math.sqrt(math.exp(-2) * (1 - math.exp(-2)) / n)


def test_poisson_obstacles_profile_and_count():
    """Each obstacle adds U on n_w = max(1, round(w/h)) grid points around the nearest point
    (periodic); so sum(V) = K n_w U with K the number of points drawn from the same seed, and
    the mean of V over the ring is about rho U n_w h (Luttinger-Kac model with U >= 0)."""
    M, h, rho, U = 40_000, 0.25, 0.2, 5.0
    pts = P.poisson_points(rng(11), M * h, rho)
    for w, n_w in ((0.0, 1), (0.1, 1), (0.75, 3), (1.0, 4)):
        v = P.poisson_obstacles(rng(11), M, h, rho, U, profile_width=w)
        assert v.min() >= 0
        np.testing.assert_allclose(v.sum(), pts.size * n_w * U, rtol=ROUNDOFF_SUM)
    v = P.poisson_obstacles(rng(11), M, h, rho, U)
    assert set(np.unique(v)) <= {0.0, U, 2 * U, 3 * U}
    nearest = np.rint(pts / h).astype(int) % M
    np.testing.assert_array_equal(np.nonzero(v)[0], np.unique(nearest))


def test_poisson_obstacle_wraps_around_the_ring():
    """An obstacle with a wide profile near x = L covers points at both ends (periodic)."""
    found = False
    for seed in range(200):
        pts = P.poisson_points(rng(seed), 10.0, 0.1)
        if pts.size == 1 and pts[0] > 9.6:
            v = P.poisson_obstacles(rng(seed), 40, 0.25, 0.1, 1.0, profile_width=1.75)
            assert v.sum() == 7 and v[0] == 1.0 and v[-1] == 1.0
            found = True
            break
    assert found


# --------------------------------------------------------------------------- Aubry-Andre
def test_aubry_andre_formula_and_phase():
    """eps_n = lam cos(2 pi beta n + phase), beta default (sqrt 5 - 1)/2; phase drawn uniformly
    from rng when not given (and then reproducible from the seed)."""
    n, lam = 21, 2.5
    e = P.aubry_andre(rng(0), n, lam, phase=0.3)
    np.testing.assert_allclose(e, lam * np.cos(2 * np.pi * (np.sqrt(5) - 1) / 2 * np.arange(n)
                                                 + 0.3), atol=10 * ROUNDOFF)
    e1 = P.aubry_andre(rng(12), n, lam)
    e2 = P.aubry_andre(rng(12), n, lam)
    phase = np.random.default_rng(12).uniform(0, 2 * np.pi)
    np.testing.assert_array_equal(e1, e2)
    np.testing.assert_allclose(e1, lam * np.cos(2 * np.pi * P.GOLDEN_MEAN * np.arange(n) + phase),
                               atol=10 * ROUNDOFF)
    phases = np.array([np.arccos(P.aubry_andre(rng(s), 1, 1.0)[0]) for s in range(2000)])
    # cos(phase) for phase uniform: arccos is uniform on [0, pi] -> mean pi/2, sd pi/sqrt(12)
    assert abs(phases.mean() - np.pi / 2) < 5 * np.pi / math.sqrt(12 * 2000)


# --------------------------------------------------------------------------- dispatcher
SPECS = [
    ("uniform", 4, dict(width=1.0)),
    ("gaussian", 4, dict(sigma=1.0, mean=0.5)),
    ("bernoulli", 4, dict(a=1.0, b=0.0, p=0.3)),
    ("anderson", 1, dict(W=2.0)),
    ("poisson", 4, dict(density=1.0, height=3.0)),
    ("speckle", 4, dict(strength=1.0, corr_length=0.5)),
    ("white_noise", 4, dict(D=1.0)),
    ("aubry_andre", 1, dict(lam=3.0)),
    ("lloyd", 1, dict(W=1.0)),
]


def test_specs_cover_every_kind():
    assert sorted(k for k, _, _ in SPECS) == sorted(P.POTENTIAL_KINDS)


@pytest.mark.parametrize("kind,ppu,params", SPECS)
def test_make_potential_reproducible_and_seed_dependent(kind, ppu, params):
    """Same seed -> identical array; another seed -> a different one; float64 of shape (M,)."""
    M = 64 * ppu
    a = P.make_potential(kind, rng(13), M, ppu, **params)
    b = P.make_potential(kind, rng(13), M, ppu, **params)
    c = P.make_potential(kind, rng(14), M, ppu, **params)
    assert a.dtype == np.float64 and a.shape == (M,) and a.flags.c_contiguous
    assert np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_make_potential_equals_direct_calls():
    """The dispatcher passes cell_size = points_per_unit and h = 1/points_per_unit."""
    M, ppu = 96, 8
    np.testing.assert_array_equal(P.make_potential("uniform", rng(1), M, ppu, width=2.0),
                                  P.uniform_cells(rng(1), M, ppu, 2.0))
    np.testing.assert_array_equal(
        P.make_potential("speckle", rng(1), M, ppu, strength=-1.0, corr_length=0.4),
        P.speckle(rng(1), M, 1 / ppu, -1.0, 0.4))
    np.testing.assert_array_equal(P.make_potential("white_noise", rng(1), M, ppu, D=2.0),
                                  P.white_noise(rng(1), M, 1 / ppu, 2.0))
    np.testing.assert_array_equal(
        P.make_potential("poisson", rng(1), M, ppu, density=0.5, height=1.0, profile_width=0.5),
        P.poisson_obstacles(rng(1), M, 1 / ppu, 0.5, 1.0, 0.5))
    np.testing.assert_array_equal(P.make_potential("aubry_andre", rng(1), 30, lam=1.0, phase=0.2),
                                  P.aubry_andre(rng(0), 30, 1.0, phase=0.2))


@pytest.mark.parametrize("kind,ppu,params,field", [
    ("nope", 1, {}, "kind"),
    ("uniform", 1, {}, "width"),
    ("uniform", 1, dict(width=1.0, wdith=2.0), "wdith"),
    ("uniform", 1, dict(width=-1.0), "width"),
    ("gaussian", 1, dict(sigma=float("nan")), "sigma"),
    ("bernoulli", 1, dict(a=1.0, b=0.0, p=1.5), "p"),
    ("anderson", 2, dict(W=1.0), "points_per_unit"),
    ("aubry_andre", 4, dict(lam=1.0), "points_per_unit"),
    ("poisson", 1, dict(density=-0.1, height=1.0), "density"),
    ("poisson", 1, dict(density=0.1, height=-1.0), "height"),
    ("speckle", 4, dict(strength=1.0, corr_length=0.1), "corr_length"),
    ("white_noise", 1, dict(D=-1.0), "D"),
    ("uniform", 0, dict(width=1.0), "points_per_unit"),
])
def test_make_potential_errors_name_the_field(kind, ppu, params, field):
    with pytest.raises(ValueError, match=rf"^{field}:"):
        P.make_potential(kind, rng(), 32, ppu, **params)


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError, match="rng"):
        P.anderson(np.random.RandomState(0), 10, 1.0)
    with pytest.raises(TypeError, match="rng"):
        P.make_potential("uniform", 0, 10, width=1.0)
