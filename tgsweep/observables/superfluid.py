"""Superfluid stiffness of the TG gas from twisted boundary conditions, resolved in log scale.

Definitions (Seiringer & Warzel, NJP 18, 035002 (2016); units hbar^2/2m = 1)
-----------------------------------------------------------------------------
* N^+_mu, N^-_mu: numbers of one-particle eigenvalues <= mu of H with periodic (phi = 0) and
  antiperiodic (phi = pi) boundary conditions; N_mu = min(N^+_mu, N^-_mu).
* E_L(N, theta) = sum_{j < N} E_j(theta_N), the N lowest eigenvalues of H with the *fermion*
  twist theta_N = theta + (pi/2)(1 + (-1)^N) = theta + pi (N - 1) (mod 2 pi): the TG ground-state
  energy with boson twist theta (Bose-Fermi map).  By the diamagnetic inequality it is minimal
  at theta = 0.
* rho_s(L, theta) = L (E_L(N_mu, theta) - E_L(N_mu, 0)) / theta^2   (units: 1 / length, i.e. a
  density; lattice: per site), and its theta -> 0 limit rho_s0 (the curvature).
* Clean continuum ring: rho_s = N_mu / L for |theta| <= pi (-> sqrt(mu)/pi).  On the
  finite-difference grid (M points, E = (2/h^2)(1 - cos kh)) the exact value is

      rho_s = (2 L / (h^2 theta^2)) (sin(pi N / M) / sin(pi / M)) (1 - cos(theta / M)),

  i.e. N/L (1 - ((N^2 - 1) pi^2 + theta^2 / 2) h^2 / (6 L^2) + O(h^4)): an O(h^2) grid correction.

Method
------
With the discriminant Delta(E) = tr T(E) of the one-period transfer matrix, the levels of the
ring with fermion twist phi solve Delta(E) = 2 cos phi; band j is {E_j(phi)}, with edges at
phi in {0, pi}.  Let phi0 = theta_N(0) in {0, pi}, c0 = cos phi0 and
kappa = 2 (cos phi - cos phi0) = -4 c0 sin^2(theta / 2).

**Contour path** (default whenever bands N-1 and N are separated by a gap).  With
f0(E) = Delta(E) - 2 c0 = t^{-M} det(H_phi0 - E) and E* the middle of that gap,

    E_L(N, theta) - E_L(N, 0) = -(1/pi) int_0^inf ln|1 - kappa / f0(E* + i y)| dy      (C)

(argument principle for the N enclosed levels of H_phi and H_phi0, integration by parts, the
contour closed on the left where f0 ~ E^M; ``tgsweep.core._stiffness_kernels`` eq. (3)).  It is
exact for any theta and any disorder.  On the line |f0| grows monotonically with y from
|f0(E*)| ~ e^{gamma(E*) L}, so the integrand is of the size of the result: no cancellation
between bands.  The curvature is the linear term, rho_s0 = -(c0 L / pi) int_0^inf Re(1/f0) dy.
f0 comes from complex transfer matrices with running rescaling (O(M) per node, any magnitude).
Quadrature: y = d sinh(u), d = half the gap, trapezoidal rule in u with step 0.1, truncated
when the integrand bound |1/f0| dy/du has dropped by e^-46 (|f0| increases monotonically along
the line); typically ~50-100 nodes.  The integrand is analytic in |Im u| < pi/2, but its relative
size grows inside the strip (the continued path runs into the spectrum, where |f0| is smaller),
so the error is larger than e^{-pi^2/h}: measured ~1e-9 at h = 0.25, ~1e-12 (roundoff) at
h <= 0.15 on W = 4, M = 1000.  Error estimate (``log10_error``): the relative error of each f0,
~ 4 eps (M + 2) ||T(E)|| / |f0(E)|, propagated through the integral, + 4e-15 of the absolute
integral + |S_h - S_2h| (a pessimistic bound on the quadrature error of S_h); tested to bound
the true error on clean rings (closed form) and disordered rings (mpmath roots).

When bands N-1 and N touch (clean rings) the line is placed theta by theta between levels N-1
and N of both H_phi0 and H_phi (the bands are monotone in phi, so this interval shrinks with
|theta| and closes only at the touching twist); the band path takes over where it closes.
Before this, small twists on clean rings went to direct eigenvalue differences whose roundoff
(~eps ||H|| per level) the old estimate did not count (up to 700x too optimistic).

**E_L(N, 0)** (``energy0``) comes from the same line, as the integral of ln|f0| (see
``_contour_energy``): O(M) instead of N bisections, with an estimated error
(``log10_energy0_error``); bisection is used if that estimate exceeds 1e-12 max(|E_L|, N ||H||).
(rho_s does not use E_L(N, 0): (C) gives the difference directly.)

**Band path** (``method="bands"``, ``"log"``, ``"direct"``, or the fallback of ``"auto"``).
The shift d_j = E_j(phi) - E_j(phi0) of each occupied band solves exactly

    d * prod_{l != j} (1 - d / (E_l - E_j)) = kappa / Delta'(E_j),

(``tgsweep.core._stiffness_kernels``, eq. (1)-(2)).  ``Delta'(E_j)`` is computed as a sum of
logarithms of Sturm pivots of the ring cut at the maximum of psi_j.  Per band and theta one of
three evaluations is used (``"bands"``; ``"log"`` / ``"direct"`` force one), by the a-priori
size of the neglected terms, eta_j = |d| sum_{l != j} 1/|E_l - E_j| (bounded from the computed
levels up to E_{N_mu}):

* ``0`` (log-linear): eta_j <= 1e-12, d_j = kappa / Delta'(E_j) in log scale.
* ``1`` (Newton): 1e-12 < eta_j <= 0.1, the exact equation above solved with the whole
  spectrum of H_phi0 (computed once, only if needed).
* ``2`` (direct): eta_j > 0.1 (wide bands, e.g. the clean ring): d_j = E_j(phi) - E_j(phi0)
  from bisection, absolute error ~ eps ||H||.

The band shifts carry alternating signs, and sum_j 1/Delta'(E_j) = 0 over all bands: resonant
pairs of nearly degenerate levels give huge opposite shifts.  On long, moderately disordered
rings (W = 4, M = 1000) the sum is 1e-11 of its largest term, so the band path is only used
where the gap at the Fermi level is closed (clean rings, exact degeneracies), or where it has
the smaller error estimate.  Its estimate is 1e-11 times the cancellation ratio.

``method="auto"`` takes the contour path if the gap is open (> 1e3 eps ||H||), and per theta
the band path instead if the contour's estimate exceeds 1e-7 and the band path's is smaller.
``log10_rho_s`` stays finite when ``rho_s`` underflows to 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ..core import kernels as K
from ..core.spectrum import (DENSE_MAX, count_at_most, count_below, eigenpairs, eigenvalues,
                             spectral_bounds)
from ..models.ring import Ring, fermion_twist
from ..models.params import ParamError
from .declaration import ENSEMBLE_OPTION, Coord, Observable, Option, Variable, real_list
from .thermal import thermal_stiffness

__all__ = ["Stiffness", "stiffness", "STIFFNESS", "OBSERVABLES"]

_EPS = np.finfo(float).eps
_LN10 = np.log(10.0)
#: eta threshold below which the log-linear band formula is used (its relative error ~ eta)
ETA_LINEAR = 1e-12
#: eta threshold above which the direct eigenvalue difference is used
ETA_DIRECT = 0.1
REGIME_LOG, REGIME_NEWTON, REGIME_DIRECT, REGIME_CONTOUR = 0, 1, 2, 3
#: largest tolerated log10(max band shift / |sum|) for a band-path result flagged ``reliable``
CANCELLATION_MAX = 4.0
#: per-band relative accuracy assumed for the band path's error estimate
BAND_REL_ERROR = 1e-11
#: largest estimated relative error (log10) of a result flagged ``reliable``
LOG10_ERROR_MAX = -7.0
#: trapezoidal step in u (y = d sinh u) of the contour quadrature
CONTOUR_STEP = 0.1
#: contour path requires a gap wider than this many eps ||H|| between bands N-1 and N
GAP_MIN_EPS = 1e3
_MAX_NODES = 4096
#: per-level absolute error of a computed eigenvalue, in units of eps ||H|| (bisection with
#: abstol 2 eps ||H||, or LAPACK): used for the error of direct eigenvalue differences
LEVEL_ERROR_EPS = 8.0
#: largest estimated error of E_L(N, 0) from the contour, relative to max(|E_L|, N ||H||) (the
#: scale of a sum of N levels each known to ~ eps ||H||), before bisection (O(M N)) is used.
#: Relative to |E_L| alone it could not be met on fine continuum grids: the contour's bound has
#: a floor ~ eps M ||H|| (||H|| ~ 4/h^2), i.e. ~ 1e-12 |E_L| at h = 1/4, mu = 0.5 with white
#: noise D = 8, and the O(M N) bisection then made stiffness cost ~ L^2 there.
ENERGY0_REL_ERROR_MAX = 1e-12
#: the line integral for E_L switches to the moment series (ratio <= 1/144 per order) beyond
#: y = SERIES_FACTOR * R, R >= max |E_l - E*|
SERIES_FACTOR = 12.0
#: highest moment tr((H - E*)^{2k}) of the large-y series
SERIES_ORDER = 6


@dataclass(frozen=True, eq=False)
class Stiffness:
    """Superfluid stiffness of one sample at chemical potential mu.

    Attributes
    ----------
    n_mu, n_plus, n_minus : int
        N_mu = min(N^+_mu, N^-_mu); N^{+/-}_mu count the levels <= mu with periodic /
        antiperiodic bc.
    energy0 : float
        E_L(N_mu, 0), TG ground-state energy at boson twist 0 (units hbar^2/2m = 1).
    thetas : (n,) float
        boson twists theta (radians).
    rho_s : (n,) float
        L (E_L(N_mu, theta) - E_L(N_mu, 0)) / theta^2 (1/length; lattice: 1/site).  Underflows
        to 0 below ~1e-308: use ``log10_rho_s``.  At theta = 0 the curvature ``rho_s0``.
    log10_rho_s : (n,) float
        log10 of rho_s, finite far below the double-precision range; -inf if rho_s = 0
        exactly (N_mu = 0 or N_mu = M), nan if the computed difference is negative (roundoff
        of the direct difference in wide bands).
    rho_s0, log10_rho_s0 : float
        theta -> 0 limit (curvature): L/2 d^2 E_L / d theta^2 at theta = 0.
    ambiguous : bool
        a level of H_0 or H_pi lies within ``mu_tol`` of mu, so N_mu depends on roundoff.
    mu_gap : float
        distance from mu to the nearest level of H_0 or H_pi (units of energy).
    length : float
        L.
    fermion_twist0 : float
        phi0 = theta_N(0) in {0, pi}.
    band_gap : float
        gap between bands N_mu - 1 and N_mu (lowest level of band N_mu minus highest of band
        N_mu - 1 over all twists; energy units); <= 0 when they touch (clean ring).
    contour_center : float
        E*, where the contour crosses the real axis (nan if the contour path was not used).
    log10_band_slope : (N_mu,) float
        log10 |Delta'(E_j(phi0))| per occupied band (band width ~ 4 / |Delta'|); computed only
        when the band path is used, else empty.
    regime : (n, N_mu) int8
        evaluation used per theta and band: 0 log-linear, 1 Newton, 2 direct (band path, see
        module doc), 3 contour (the whole row).
    log10_cancellation : (n,) float
        band path: log10(max_j |d_j| / |sum_j d_j|) (the band shifts alternate in sign);
        contour path: log10(int |integrand| / |int integrand|).  Diagnostic only.
    log10_error : (n,) float
        estimated log10 of the relative error of rho_s (see module doc).
    reliable : (n,) bool
        log10_error <= LOG10_ERROR_MAX (-7).
    log10_energy0_error : float
        estimated log10 of the relative error of ``energy0`` (contour: see
        ``_contour_energy``; bisection: N LEVEL_ERROR_EPS eps ||H||).
    """

    n_mu: int
    n_plus: int
    n_minus: int
    energy0: float
    thetas: np.ndarray
    rho_s: np.ndarray
    log10_rho_s: np.ndarray
    rho_s0: float
    log10_rho_s0: float
    ambiguous: bool
    mu_gap: float
    length: float
    fermion_twist0: float
    band_gap: float
    contour_center: float
    log10_band_slope: np.ndarray
    regime: np.ndarray
    log10_cancellation: np.ndarray
    log10_error: np.ndarray
    reliable: np.ndarray
    log10_energy0_error: float


def _signed_logsumexp(logs: np.ndarray, signs: np.ndarray) -> tuple[float, float]:
    """(sign, log|sum|) of sum_i signs_i exp(logs_i)."""
    logs = np.asarray(logs, dtype=float)
    if logs.size == 0 or np.all(np.isneginf(logs)):
        return 0.0, -np.inf
    mx = np.max(logs)
    s = float(np.sum(signs * np.exp(logs - mx)))
    if s == 0.0:
        return 0.0, -np.inf
    return float(np.sign(s)), float(mx + np.log(abs(s)))


#: relative precision (of the neighbouring gap) to which levels near the Fermi level are
#: bracketed by Sturm counts on rings above DENSE_MAX (E* placement, band_gap, mu_gap)
BRACKET_RTOL = 1e-3


def _fermi_levels(ring: Ring, phi: float, i0: int, i1: int) -> np.ndarray:
    """Levels i0..i1-1 of H_phi near the Fermi level: LAPACK for M <= DENSE_MAX; above, Sturm
    brackets [a_j, b_j] (count(a_j) <= j < count(b_j)) refined until each width is below
    BRACKET_RTOL times the gap to its neighbours in the set (or 2 eps ||H||), midpoints returned.
    A line between the brackets of levels N-1 and N is therefore guaranteed to lie in the gap.
    Returns (midpoints, lower bounds, upper bounds)."""
    if ring.n_grid <= DENSE_MAX or i1 <= i0:
        lev = _levels(ring, phi, i0, i1)
        return lev, lev, lev
    lo, hi = spectral_bounds(ring)
    abstol = 2 * _EPS * max(abs(lo), abs(hi))
    k = i1 - i0
    a = np.full(k, lo - abstol)
    b = np.full(k, hi + abstol)
    for _ in range(400):
        width = b - a
        gap = np.full(k, hi - lo)
        if k > 1:
            sep = a[1:] - b[:-1]
            gap[:-1] = np.minimum(gap[:-1], sep)
            gap[1:] = np.minimum(gap[1:], sep)
        tol = np.maximum(abstol, BRACKET_RTOL * np.maximum(gap, 0.0))
        todo = np.flatnonzero(width > tol)
        if todo.size == 0:
            break
        j = todo[np.argmax(width[todo])]
        mid = 0.5 * (a[j] + b[j])
        c = count_below(ring, phi, mid)
        idx = i0 + np.arange(k)
        a = np.where(c <= idx, np.maximum(a, mid), a)
        b = np.where(c > idx, np.minimum(b, mid), b)
    return 0.5 * (a + b), a, b


def _levels(ring: Ring, phi: float, i0: int, i1: int) -> np.ndarray:
    """Eigenvalues i0..i1-1 of H_phi: LAPACK for M <= DENSE_MAX, else Sturm bisection.

    (The bisection count of :mod:`tgsweep.core.spectrum` was seen to misplace degenerate clean
    levels by ~1e-10, so LAPACK is preferred wherever it is affordable.)
    """
    if i1 <= i0:
        return np.empty(0)
    if ring.n_grid <= DENSE_MAX:
        return sla.eigvalsh(ring.matrix(phi), subset_by_index=[i0, i1 - 1], driver="evr")
    return eigenvalues(ring, phi, i0, i1)


def _full_spectrum(ring: Ring, phi0: float) -> np.ndarray:
    return _levels(ring, phi0, 0, ring.n_grid)


def _log_sin2_half(theta: float) -> float:
    """log(4 sin^2(theta/2)) = log|kappa| without cancellation at small theta."""
    return float(np.log(4.0) + 2.0 * np.log(abs(np.sin(0.5 * theta))))


# ------------------------------------------------------------------------------ contour path
def _contour_nodes(ring: Ring, c0: float, e_star: float, half: float,
                   step: float = CONTOUR_STEP):
    """Nodes u_k = k step, y_k = half sinh(u_k), with log f0(E* + i y_k) and the log product
    norm, evaluated in chunks until the integrand bound |1/f0| dy/du has dropped by e^-46.

    Returns (log_w, log_f, log_norm): log trapezoidal weights (incl. the Jacobian), complex
    log f0 and ln ||T|| per node.
    """
    logf, lnorm, logw = [], [], []
    k0, chunk = 0, 48
    best = -np.inf
    while k0 < _MAX_NODES:
        u = step * np.arange(k0, k0 + chunk)
        y = half * np.sinh(u)
        lf, ln = K.log_char_poly_line(ring.diag, float(ring.hopping), float(c0), float(e_star),
                                      np.ascontiguousarray(y))
        lw = np.log(step * half * np.cosh(u))
        if k0 == 0:
            lw[0] += np.log(0.5)
        logf.append(lf)
        lnorm.append(ln)
        logw.append(lw)
        g = lw - lf.real  # log of the linear integrand bound per node
        best = max(best, float(np.max(g)))
        # |f0| increases with y; stop once two successive nodes beyond y = half are negligible
        if (y[-1] > half and g[-1] < best - 46.0 and g[-2] < best - 46.0 and g[-1] <= g[-2]):
            break
        k0 += chunk
        chunk *= 2
    return np.concatenate(logw), np.concatenate(logf), np.concatenate(lnorm)


def _contour_sum(log_w, log_z, log_norm, log_f, m_grid):
    """-(1/pi) sum_k w_k ln|1 - z_k| in log scale, z_k = exp(log_z_k); with error estimate.

    Returns (sign, log|S|, log10 relative error estimate, log10 cancellation).
    """
    lzr = log_z.real
    top = float(np.max(lzr))
    if top > -40.0:  # z not negligible somewhere: exact ln|1 - z| in double
        scale = 0.0
        with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
            z = np.exp(np.minimum(lzr, 600.0) + 1j * log_z.imag)
            big = lzr > 30.0
            one_minus = np.where(big, -z, 1.0 - z)
            f = np.where(big, lzr + np.log(np.abs(1.0 - np.exp(-log_z))),
                         0.5 * np.log1p(np.abs(z) ** 2 - 2.0 * z.real))
            ratio = np.where(big, 1.0, np.abs(z) / np.maximum(np.abs(one_minus), 1e-300))
    else:  # ln|1 - z| = -Re z to relative 1e-17: everything relative to e^top
        scale = top
        zs = np.exp(log_z - top)
        f = -zs.real
        ratio = np.abs(zs)
    w = np.exp(log_w)
    s = -float(np.sum(w * f)) / np.pi
    s_coarse = -2.0 * float(np.sum(w[::2] * f[::2])) / np.pi  # trapezoid with step 2 h
    abs_int = float(np.sum(w * np.abs(f))) / np.pi
    with np.errstate(over="ignore"):
        rel_f = 4.0 * _EPS * (m_grid + 2) * np.exp(np.minimum(log_norm - log_f.real, 700.0))
    # roundoff of f0 propagated, summation, and |S_h - S_2h| (an upper bound on the
    # quadrature error of S_h, whose error is ~ the square of S_2h's)
    err = float(np.sum(w * ratio * rel_f)) / np.pi + 4e-15 * abs_int + abs(s - s_coarse)
    if not (np.isfinite(s) and np.isfinite(err)):
        # a node hit a zero of f_phi or f_phi0 in floating point (band gap ~ sqrt(eps)):
        # ill-conditioned, left to the band path
        return np.nan, np.nan, np.inf, np.inf
    if s == 0.0:
        return 0.0, -np.inf, np.inf, np.inf
    return (float(np.sign(s)), scale + float(np.log(abs(s))),
            float(np.log10(err / abs(s))) if err > 0 else -16.0,
            float(np.log10(abs_int / abs(s))))


def _contour_path(ring: Ring, c0: float, e_star: float, half: float, thetas: np.ndarray,
                  step: float = CONTOUR_STEP, nodes=None):
    """Formula (C) of the module docstring for each theta, and the curvature.

    ``nodes``: optional (log f0, log norm) at u_k = k step (k = 0, 1, ...) on the same line,
    e.g. from :func:`_contour_energy`; used if the integrand bound has decayed by e^-46 on them.

    Returns per theta (sign, log dE, log10 error, log10 cancellation) as arrays, and the same
    four numbers for the curvature sum_{j<N} 1 / Delta'(E_j) times -c0 (so that
    rho_s0 = L * sign * exp(log)).
    """
    m = ring.n_grid
    log_w = None
    if nodes is not None:
        log_f, log_norm = nodes
        u = step * np.arange(log_f.size)
        log_w = np.log(step * half * np.cosh(u))
        log_w[0] += np.log(0.5)
        bound = log_w - log_f.real
        if not (bound[-1] < np.max(bound) - 46.0 and bound[-2] < np.max(bound) - 46.0):
            log_w = None
    if log_w is None:
        log_w, log_f, log_norm = _contour_nodes(ring, c0, e_star, half, step)
    nt = thetas.size
    out = np.zeros((4, nt))
    for it, theta in enumerate(thetas):
        if np.sin(0.5 * theta) == 0.0:
            out[:, it] = (0.0, -np.inf, -16.0, 0.0)
            continue
        arg_k = 0.0 if -c0 > 0 else np.pi  # kappa = -4 c0 sin^2(theta/2)
        log_z = _log_sin2_half(theta) + 1j * arg_k - log_f
        out[:, it] = _contour_sum(log_w, log_z, log_norm, log_f, m)
    # curvature: (1/pi) int Re(-c0 / f0) dy = -(1/pi) int ln|1 - z| dy to first order in z
    arg_c = 0.0 if -c0 > 0 else np.pi
    log_z0 = 1j * arg_c - log_f - 1000.0  # tiny z: the linear branch, then undo the shift
    s0, l0, e0, k0 = _contour_sum(log_w, log_z0, log_norm, log_f, m)
    return out, (s0, l0 + 1000.0, e0, k0)


# ------------------------------------------------------------------------------ E_L(N, 0)
def _even_moments(ring: Ring, phi0: float, e_star: float, kmax: int) -> np.ndarray:
    """S_{2k} = tr((H_phi0 - E*)^{2k}) = ||(H_phi0 - E*)^k||_F^2 for k = 1..kmax, O(M k^2)
    (numba band powers; dense powers below M = 2 kmax + 2), phi0 in {0, pi}."""
    c = float(np.real(ring.corner(phi0)))
    if ring.n_grid > 2 * kmax + 1:
        return K.even_moments(ring.diag, float(ring.hopping), c, float(e_star), kmax)
    return K.even_moments_reference(ring.diag, float(ring.hopping), c, float(e_star), kmax)


def _contour_energy(ring: Ring, phi0: float, n: int, e_star: float, half: float,
                    step: float = CONTOUR_STEP):
    """E_L(N, phi0) = sum of the N lowest levels of H_phi0 from the line Re E = E* (a point of
    the gap between levels N-1 and N of H_phi0, half = distance to the nearest level or less).

    For real a, int_0^inf (1/2) ln((a^2 + y^2)/(A^2 + y^2)) dy = (pi/2)(|a| - A), so with
    a_l = E* - E_l, t^M |f0(E* + i y)| = prod_l |a_l + i y| (eq. (1) of the kernels) and
    A^2 = S_2 / M (S_2k = tr (H - E*)^{2k}):

        sum_l |a_l| = M A + (2/pi) int_0^inf [ln|t^M f0(E* + i y)| - (M/2) ln(A^2 + y^2)] dy,
        E_L(N, phi0) = (tr H + (2N - M) E* - sum_l |a_l|) / 2.

    The integrand is O(y^-4); beyond y = SERIES_FACTOR R (R >= max|a_l|) it is taken from its
    convergent expansion sum_{k>=2} (-1)^{k+1} (S_2k - M A^2k) / (2k y^2k), so no transfer
    product is formed where it would only add roundoff.  Trapezoidal rule in u, y = half sinh u.

    Returns (E_L, estimated absolute error, (log f0, log norm) at the transfer-product nodes
    u_k = k step).
    """
    m = ring.n_grid
    c0 = float(np.cos(phi0))
    t = float(ring.hopping)
    mom = _even_moments(ring, phi0, e_star, SERIES_ORDER)
    a2 = mom[0] / m
    r_max = float(np.max(np.abs(ring.diag - e_star)) + 2.0 * t)
    y_switch = SERIES_FACTOR * r_max
    u_switch = float(np.arcsinh(y_switch / half))
    k_sw = int(np.ceil(u_switch / step))
    u = step * np.arange(k_sw + 1)
    y = half * np.sinh(u)
    y = np.ascontiguousarray(y)
    # the nodes of (C) (returned for reuse): ln f0 itself
    lf, ln = K.log_char_poly_line(ring.diag, t, c0, float(e_star), y)
    # the integrand g = ln|t^M f0| - M ln rho, rho = sqrt(A^2 + y^2), from the product of the
    # transfer matrices divided by rho/t (kernel log_scaled_char_poly_line): no cancellation
    # of two ~ M ln y terms, so its roundoff is ~ eps M per node, not eps M ln(y t)
    rho = np.sqrt(a2 + y * y)
    lg, lnu, labs, nterm = K.log_scaled_char_poly_line(ring.diag, t, c0, float(e_star), y, rho)
    g = lg.real
    # per-node roundoff: the product (4 eps (M + 2) ||prod U|| / |tr|), the accumulated log of
    # the rescalings, and the rounding of rho (M |ln rho~ - ln rho| <= 2 eps M)
    with np.errstate(over="ignore"):
        g_err = 4.0 * _EPS * (m + 2) * np.exp(np.minimum(lnu - g, 700.0)) + _EPS * (
            (nterm + 1.0) * labs + np.abs(g) + 2.0 * m)
    # series nodes beyond the switch, until the integrand is below 1e-18 of M R per unit u
    ks = np.arange(2, SERIES_ORDER + 1)
    coef = (-1.0) ** (ks + 1) * (mom[ks - 1] - m * a2 ** ks) / (2.0 * ks)
    u_tail = []
    k = k_sw + 1
    while True:
        uu = step * k
        yy = half * np.sinh(uu)
        val = float(np.sum(coef / yy ** (2 * ks))) * half * np.cosh(uu)
        u_tail.append((uu, yy, val))
        if abs(val) < 1e-18 * m * r_max and k > k_sw + 4:
            break
        k += 1
    wj = step * half * np.cosh(u)
    wj[0] *= 0.5
    fvals = np.concatenate([g * wj, [v * step for (_, _, v) in u_tail]])
    ferr = np.concatenate([g_err * wj, np.zeros(len(u_tail))])
    integral = float(np.sum(fvals))
    coarse = 2.0 * float(np.sum(fvals[::2]))  # step 2h (the u = 0 node keeps weight 1/2)
    # first neglected series term at the switch, integrated to infinity
    kn = SERIES_ORDER + 1
    trunc = m * r_max ** (2 * kn) / (2 * kn * (2 * kn - 1) * y_switch ** (2 * kn - 1))
    sum_abs = m * np.sqrt(a2) + 2.0 / np.pi * integral
    err_sum = 2.0 / np.pi * (float(np.sum(ferr)) + abs(integral - coarse) + trunc)
    tr_h = float(np.sum(ring.diag))
    e_l = 0.5 * (tr_h + (2 * n - m) * e_star - sum_abs)
    err = 0.5 * err_sum + 4.0 * _EPS * (abs(tr_h) + m * abs(e_star) + abs(sum_abs)) \
        + LEVEL_ERROR_EPS * _EPS * r_max * m
    return e_l, err, (lf, ln)


# ------------------------------------------------------------------------------ band path
def _band_path(ring: Ring, n: int, phi0: float, thetas: np.ndarray, method: str, hnorm: float):
    """Per-band evaluation (module docstring, band path).

    Returns (sgn_dE, log_dE, canc, regime, log_slope, (s0, lc0, canc0), log_err): per theta
    the sign and log of E_L(N, theta) - E_L(N, 0), the cancellation ratio (log10) and the
    regimes, the band slopes, the curvature sign/log of sum_j -c0 / Delta'(E_j) with its
    cancellation, and per theta the log of an absolute error bound of E_L(N, theta) -
    E_L(N, 0): sum over bands of |d_j| (BAND_REL_ERROR + ETA_LINEAR) (log-linear),
    |d_j| BAND_REL_ERROR + 2.6 |d_j|^2 delta sum_l 1/(E_l - E_j)^2 (Newton: the sensitivity of
    the product equation to level errors delta), and 2 delta (direct differences), with
    delta = LEVEL_ERROR_EPS eps ||H|| the error of one computed level.
    """
    m = ring.n_grid
    c0 = float(np.cos(phi0))
    n_eval = min(n + 1, m)
    if m <= DENSE_MAX:
        ev, vec = eigenpairs(ring, phi0, 0, n_eval, method="dense")
        absv = np.abs(vec[:, :n])
        centers = np.argmax(absv, axis=0).astype(np.int64)
        amp2 = absv[centers, np.arange(n)] ** 2
    else:  # levels by bisection, eigenvector peaks by O(M) inverse iteration per level
        ev = eigenvalues(ring, phi0, 0, n_eval)
        centers, amp2 = K.band_centers(ring.diag, ring.hopping, float(np.real(ring.corner(phi0))),
                                       ev[:n], 12345)
    e0 = ev[:n]
    log_slope, sign_slope = K.band_log_slopes(ring.diag, ring.hopping, e0, centers, amp2)

    # a-priori bound on sum_{l != j} 1 / |E_l - E_j| (computed levels + tail beyond E_{n_eval-1})
    with np.errstate(divide="ignore"):
        inv = 1.0 / np.abs(ev[None, :] - e0[:, None])
        inv[np.arange(n), np.arange(n)] = 0.0
        a_sum = inv.sum(axis=1)
        if n_eval < m:
            a_sum = a_sum + (m - n_eval) / np.abs(ev[n_eval - 1] - e0)

    # relative error of Delta'(E_j): the per-band accuracy plus its sensitivity to the error
    # delta of the computed level, |d ln Delta' / dE| = |sum_{l != j} 1/(E_j - E_l)|
    delta = LEVEL_ERROR_EPS * _EPS * max(hnorm, 1e-300)
    rel_slope = BAND_REL_ERROR + 2.0 * delta * a_sum

    nt = thetas.size
    full = None  # whole spectrum of H_phi0, computed only for the Newton regime
    direct0 = None
    log_dE = np.empty(nt)
    sgn_dE = np.empty(nt)
    log_err = np.full(nt, -np.inf)
    regime = np.zeros((nt, n), dtype=np.int8)
    canc = np.zeros(nt)
    for it, theta in enumerate(thetas):
        if np.sin(0.5 * theta) == 0.0:  # theta = 0 mod 2 pi: no shift, rho_s -> curvature
            log_dE[it], sgn_dE[it] = -np.inf, 0.0
            regime[it] = REGIME_LOG
            continue
        log_k = _log_sin2_half(theta)
        sgn_k = -c0
        log_lin = log_k - log_slope
        sgn_lin = sgn_k * sign_slope
        if method == "log":
            reg = np.full(n, REGIME_LOG, dtype=np.int8)
        elif method == "direct":
            reg = np.full(n, REGIME_DIRECT, dtype=np.int8)
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                eta = np.exp(log_lin) * a_sum
            eta = np.where(np.isfinite(eta), eta, np.inf)
            reg = np.where(eta <= ETA_LINEAR, REGIME_LOG,
                           np.where(eta <= ETA_DIRECT, REGIME_NEWTON, REGIME_DIRECT))
            reg = reg.astype(np.int8)
        regime[it] = reg
        logs = log_lin.copy()
        sgns = sgn_lin.copy()
        idx_newton = np.flatnonzero(reg == REGIME_NEWTON)
        if idx_newton.size:
            if full is None:
                full = _full_spectrum(ring, phi0)
            for j in idx_newton:
                logs[j] = K.band_shift_newton(full, int(j), float(log_lin[j]), float(sgn_lin[j]),
                                              50)
        idx_direct = np.flatnonzero(reg == REGIME_DIRECT)
        if idx_direct.size:
            j0 = int(idx_direct.min())
            if direct0 is None or direct0[0] > j0:
                direct0 = (j0, _levels(ring, phi0, j0, n))
            e_phi = _levels(ring, fermion_twist(theta, n), j0, n)
            d = e_phi - direct0[1][j0 - direct0[0]:]
            dd = d[idx_direct - j0]
            with np.errstate(divide="ignore"):
                logs[idx_direct] = np.log(np.abs(dd))
            sgns[idx_direct] = np.sign(dd)
        sgn_dE[it], log_dE[it] = _signed_logsumexp(logs, sgns)
        # absolute error bound, in log scale (terms may be far below the double range)
        log_terms = np.where(reg == REGIME_LOG, logs + np.log(rel_slope + ETA_LINEAR),
                             logs + np.log(rel_slope))
        if idx_newton.size:
            for j in idx_newton:
                g2 = float(np.sum(1.0 / np.delete(full - full[j], j) ** 2))
                log_terms[j] = np.logaddexp(log_terms[j], 2.0 * logs[j] + np.log(2.6 * delta * g2))
        # direct differences: two level errors, plus the rounding of the twist theta + phi0
        # (|d phi| <= 2 pi eps) through d_j ~ theta^1..2: |d_j| 2 |d phi| / |theta|
        log_terms[idx_direct] = np.logaddexp(
            np.log(2.0 * delta), logs[idx_direct] + np.log(4.0 * np.pi * _EPS / abs(theta)))
        log_err[it] = float(np.logaddexp.reduce(log_terms)) if log_terms.size else -np.inf
        canc[it] = (np.max(logs) - log_dE[it]) / _LN10 if np.isfinite(log_dE[it]) else np.inf

    # curvature theta -> 0: per band -cos(phi0) / Delta'(E_j); degenerate pairs (clean ring)
    # by the cluster formula -cos(phi0) S_C / Q_C (module docstring of the kernels, eq. (1)).
    log_c = -log_slope.copy()
    sgn_c = -c0 * sign_slope
    split_tol = np.sqrt(_EPS) * max(hnorm, 1.0)
    close = np.flatnonzero(np.diff(ev) <= split_tol)
    if close.size:
        if full is None:
            full = _full_spectrum(ring, phi0)
        for j in close:
            if j + 1 >= n:
                continue  # pair cut by the Fermi level: mu between degenerate levels
            ec = 0.5 * (full[j] + full[j + 1])
            rest = np.delete(full, [j, j + 1]) - ec
            s_c = float(np.sum(1.0 / rest))
            log_q = float(np.sum(np.log(np.abs(rest)))) - m * np.log(ring.hopping)
            sgn_q = float(np.prod(np.sign(rest)))
            log_c[j] = np.log(abs(s_c)) - log_q if s_c != 0 else -np.inf
            sgn_c[j] = -c0 * np.sign(s_c) * sgn_q
            log_c[j + 1], sgn_c[j + 1] = -np.inf, 0.0
    s0, lc0 = _signed_logsumexp(log_c, sgn_c)
    canc0 = (np.max(log_c) - lc0) / _LN10 if np.isfinite(lc0) else np.inf
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        terms0 = np.where(np.isneginf(log_c), -np.inf,
                          log_c + np.log(np.maximum(rel_slope, _EPS)))
        lerr0 = float(np.logaddexp.reduce(terms0)) if terms0.size else -np.inf
    err0 = (lerr0 - lc0) / _LN10 if np.isfinite(lc0) else np.inf
    return sgn_dE, log_dE, canc, regime, log_slope, (s0, lc0, canc0, err0), log_err


# ------------------------------------------------------------------------------ public
def _fermi_pair(ring: Ring, phi: float, n: int) -> tuple[float, float]:
    """(upper bound of E_{N-1}(phi), lower bound of E_N(phi)) of H_phi (0 < N < M)."""
    _, a, b = _fermi_levels(ring, phi, n - 1, n + 1)
    return float(b[0]), float(a[1])


def stiffness(ring: Ring, mu: float | None = None, thetas=None, *,
              n_particles: int | None = None, method: str = "auto",
              mu_tol: float | None = None) -> Stiffness:
    """Superfluid stiffness rho_s(L, theta) of the TG ground state with N_mu (or N) particles.

    Parameters
    ----------
    ring : Ring
        continuum or lattice ring (units hbar^2/2m = 1).
    mu : float, optional
        chemical potential (energy units); N_mu = min(N^+_mu, N^-_mu).
    thetas : float or sequence of float
        boson twists theta in radians (|theta| <= pi for the ground-state band; theta = 0 gives
        the curvature).
    n_particles : int, optional
        a fixed particle number N instead of ``mu`` (exactly one of the two); then
        ``n_plus = n_minus = -1``, ``ambiguous = False`` and ``mu_gap = nan``.
    method : {"auto", "contour", "bands", "log", "direct"}
        "auto" (see module docstring): the contour integral (C) wherever levels N-1 and N of
        H_phi0 and H_phi are separated (for all theta when the band gap is open; per theta
        otherwise, e.g. clean rings at |theta| < pi), with the band path as a fallback;
        "contour" forces (C) (a theta where the levels touch gets log10_error = inf);
        "bands" forces the band path with its per-band choice of evaluation; "log" forces the
        log-linear band formula; "direct" forces eigenvalue differences (accurate only while
        the shift exceeds ~eps ||H||).
    mu_tol : float, optional
        levels within mu_tol of mu flag the sample as ``ambiguous``; default 64 eps ||H||.

    Returns
    -------
    Stiffness
    """
    if method not in ("auto", "contour", "bands", "log", "direct"):
        raise ValueError("method: must be 'auto', 'contour', 'bands', 'log' or 'direct', "
                         f"got {method!r}")
    if (mu is None) == (n_particles is None):
        raise ValueError("stiffness: give exactly one of mu, n_particles")
    if thetas is None:
        raise ValueError("thetas: required (a finite scalar or 1-d sequence)")
    thetas = np.atleast_1d(np.asarray(thetas, dtype=float))
    if thetas.ndim != 1 or not np.all(np.isfinite(thetas)):
        raise ValueError("thetas: must be a finite scalar or 1-d sequence")
    m = ring.n_grid
    length = float(ring.length)
    lo, hi = spectral_bounds(ring)
    hnorm = max(abs(lo), abs(hi))
    if mu_tol is None:
        mu_tol = 64 * _EPS * hnorm

    if mu is not None:
        if not np.isfinite(mu):
            raise ValueError(f"mu: must be finite, got {mu!r}")
        # particle numbers and ambiguity (Sturm counts, O(M))
        n_plus = count_at_most(ring, 0.0, mu)
        n_minus = count_at_most(ring, np.pi, mu)
        n = min(n_plus, n_minus)
        ambiguous = any(count_at_most(ring, ph, mu - mu_tol)
                        != count_at_most(ring, ph, mu + mu_tol) for ph in (0.0, np.pi))
        gaps = []
        known = {}  # levels around the Fermi level, reused for the pairs below
        for ph, cnt in ((0.0, n_plus), (np.pi, n_minus)):
            i0, i1 = max(min(cnt, n) - 1, 0), min(max(cnt, n) + 1, m)
            lev, la, lb = _fermi_levels(ring, ph, i0, i1)
            known[ph] = dict(zip(range(i0, i1), zip(la, lb)))
            gaps.extend(np.abs(lev[max(cnt - 1, 0) - i0:min(cnt + 1, m) - i0] - mu))
        mu_gap = float(min(gaps)) if gaps else np.inf
    else:
        n = int(n_particles) if float(n_particles) == int(n_particles) else -1
        if not 0 <= n <= m:
            raise ValueError(f"n_particles: must be an integer in [0, {m}], got {n_particles!r}")
        n_plus = n_minus = -1
        known = {}
        ambiguous = False
        mu_gap = float("nan")

    nt = thetas.size
    if n == 0 or n == m:  # empty, or all levels filled: E_L(M, theta) = tr H, no theta dependence
        e_all = 0.0 if n == 0 else float(np.sum(ring.diag))
        return Stiffness(n, n_plus, n_minus, e_all, thetas, np.zeros(nt), np.full(nt, -np.inf),
                         0.0, -np.inf, ambiguous, mu_gap, length, fermion_twist(0.0, max(n, 1)),
                         np.inf, np.nan, np.zeros(0), np.zeros((nt, n), dtype=np.int8),
                         np.zeros(nt), np.full(nt, -16.0), np.ones(nt, bool), -16.0)

    phi0 = fermion_twist(0.0, n)
    c0 = float(np.cos(phi0))  # +1 (N odd) or -1 (N even)
    gap_min = GAP_MIN_EPS * _EPS * max(hnorm, 1.0)
    pairs = {}
    for ph in (0.0, np.pi):
        lv = known.get(ph, {})
        pairs[ph] = ((float(lv[n - 1][1]), float(lv[n][0])) if n - 1 in lv and n in lv
                     else _fermi_pair(ring, ph, n))
    pair0 = pairs[0.0 if c0 > 0 else np.pi]
    pair_pi = pairs[np.pi if c0 > 0 else 0.0]
    top = max(pair0[0], pair_pi[0])  # highest level of band N-1
    bottom = min(pair0[1], pair_pi[1])  # lowest level of band N
    band_gap = float(bottom - top)
    gap_open = band_gap > gap_min
    gap0_open = pair0[1] - pair0[0] > gap_min

    # E_L(N, 0): contour (O(M)) when levels N-1, N of H_phi0 are split, else bisection (O(M N))
    # (with the band gap open, on the line of (C), so that (C) reuses its nodes)
    energy0, energy0_err, nodes = np.nan, np.inf, None
    if gap0_open:
        line = ((0.5 * (top + bottom), 0.5 * band_gap) if gap_open else
                (0.5 * (pair0[0] + pair0[1]), 0.5 * (pair0[1] - pair0[0])))
        with np.errstate(over="ignore", invalid="ignore"):
            energy0, energy0_err, nodes = _contour_energy(ring, phi0, n, *line)
    if not (np.isfinite(energy0) and energy0_err <= ENERGY0_REL_ERROR_MAX * max(
            abs(energy0), n * hnorm)):
        energy0 = float(np.sum(_levels(ring, phi0, 0, n)))
        energy0_err = n * LEVEL_ERROR_EPS * _EPS * hnorm

    sgn_dE = np.zeros(nt)
    log_dE = np.full(nt, -np.inf)
    canc = np.zeros(nt)
    err = np.full(nt, np.inf)
    regime = np.zeros((nt, n), dtype=np.int8)
    curv = (0.0, -np.inf, np.inf, np.inf)  # sign, log, log10 err, log10 canc
    e_star = np.nan
    log_slope = np.zeros(0)
    if method in ("auto", "contour") and gap_open:
        e_star = 0.5 * (top + bottom)
        out, curv = _contour_path(ring, c0, e_star, 0.5 * band_gap, thetas, nodes=nodes)
        sgn_dE, log_dE, err, canc = out[0].copy(), out[1].copy(), out[2].copy(), out[3].copy()
        err = np.where(np.isnan(err), np.inf, err)
        regime[:] = REGIME_CONTOUR
    elif method in ("auto", "contour"):
        # bands N-1 and N touch somewhere in phi (clean ring): the line only has to separate
        # levels N-1 and N of H_phi0 and H_phi, theta by theta (bands are monotone in phi)
        for it, theta in enumerate(thetas):
            if np.sin(0.5 * theta) == 0.0:
                continue
            pth = _fermi_pair(ring, fermion_twist(theta, n), n)
            lo_t, hi_t = max(pair0[0], pth[0]), min(pair0[1], pth[1])
            if hi_t - lo_t <= gap_min:
                continue
            out, _ = _contour_path(ring, c0, 0.5 * (lo_t + hi_t), 0.5 * (hi_t - lo_t),
                                   thetas[it:it + 1])
            sgn_dE[it], log_dE[it], err[it], canc[it] = out[:, 0]
            err[it] = np.inf if np.isnan(err[it]) else err[it]
            regime[it] = REGIME_CONTOUR
        if gap0_open:
            _, curv = _contour_path(ring, c0, 0.5 * (pair0[0] + pair0[1]),
                                    0.5 * (pair0[1] - pair0[0]), thetas[:0], nodes=nodes)
    need_bands = method in ("bands", "log", "direct") or (
        method == "auto" and (np.any(err > LOG10_ERROR_MAX) or curv[2] > LOG10_ERROR_MAX))
    if need_bands:
        b_sgn, b_log, b_canc, b_reg, log_slope, (s0, lc0, canc0, b_err0), b_lerr = _band_path(
            ring, n, phi0, thetas, method, hnorm)
        with np.errstate(invalid="ignore"):
            b_err = np.where(np.isfinite(b_log), (b_lerr - b_log) / _LN10, np.inf)
        b_err = np.where(np.sin(0.5 * thetas) == 0.0, -16.0, np.where(np.isnan(b_err), np.inf,
                                                                      b_err))
        use = b_err < err
        sgn_dE[use], log_dE[use], canc[use], err[use] = b_sgn[use], b_log[use], b_canc[use], \
            b_err[use]
        regime[use] = b_reg[use]
        if b_err0 < curv[2]:
            curv = (s0, lc0, float(b_err0), canc0)
    s0, lc0, err0, canc0 = curv
    log10_rho_s0 = (np.log(length) + lc0) / _LN10 if s0 > 0 else (-np.inf if s0 == 0 else np.nan)
    rho_s0 = s0 * 10.0 ** ((np.log(length) + lc0) / _LN10) if s0 != 0 else 0.0

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_rho = np.log(length) + log_dE - 2.0 * np.log(np.abs(thetas))
        log10_rho = np.where(sgn_dE > 0, log_rho / _LN10, np.where(sgn_dE == 0, -np.inf, np.nan))
        rho = sgn_dE * np.exp(log_rho)
    zero_theta = np.sin(0.5 * thetas) == 0.0
    rho = np.where(zero_theta, rho_s0, np.nan_to_num(rho, nan=0.0))
    log10_rho = np.where(zero_theta, log10_rho_s0, log10_rho)
    canc = np.where(zero_theta, canc0, canc)
    err = np.where(zero_theta, err0, err)
    log10_e0_err = float(np.log10(energy0_err / abs(energy0))) if energy0 != 0 else np.inf
    return Stiffness(n, n_plus, n_minus, energy0, thetas, rho, log10_rho, float(rho_s0),
                     float(log10_rho_s0), bool(ambiguous), mu_gap, length, float(phi0),
                     band_gap, float(e_star), log_slope / _LN10, regime, canc, err,
                     err <= LOG10_ERROR_MAX, log10_e0_err)


# ------------------------------------------------------------------------------ declaration
# One observable, "stiffness", at every temperature: rho_s(theta) = L (F(theta) - F(0)) / theta^2
# with F the ground-state energy E_L(N_mu, theta) at T = 0 (:func:`stiffness`, needs mu), the free
# energy -T ln Z_N at fixed N (canonical) or the grand potential -T ln Xi at fixed mu (grand) at
# T > 0 (:func:`tgsweep.observables.thermal.thermal_stiffness`, in the ensemble of [state]).
# The stored variables depend on the ensemble (option "ensemble", set by the sweep):
#   T = 0: rho_s, rho_s0, log10_rho_s, log10_rho_s0, stiffness_energy0, stiffness_reliable,
#          stiffness_ambiguous;
#   T > 0: rho_s, rho_s_error (stated absolute error), rho_s_direct (the plain difference of
#          free energies, floored by roundoff), stiffness_free_energy0, stiffness_reliable
#          (every theta resolved: series converged and |rho_s| > 100 rho_s_error).  There is no
#          theta -> 0 curvature at T > 0 (thetas must be nonzero) and no N_mu ambiguity.
def _stiff_layout(geom, opts):
    inv = "1/length"
    log_inv = "log10(1/length)"
    th = np.asarray(opts["thetas"], float)
    coords = {"theta": Coord(th, "rad", "boson twist theta")}
    ens = opts.get("ensemble", "ground")
    if ens != "ground":
        f = "Omega" if ens == "grand" else "F"
        fixed = "fixed mu, grand canonical" if ens == "grand" else "fixed N, canonical"
        return ({"rho_s": Variable(("theta",), (th.size,), inv,
                                   f"thermal stiffness L ({f}(theta) - {f}(0)) / theta^2 "
                                   f"({fixed})"),
                 "rho_s_error": Variable(("theta",), (th.size,), inv,
                                         "stated absolute error of rho_s (Matsubara series)"),
                 "rho_s_direct": Variable(("theta",), (th.size,), inv,
                                          f"plain difference L ({f}(theta) - {f}(0)) / theta^2 "
                                          "(floored by roundoff; for comparison)"),
                 "stiffness_free_energy0": Variable((), (), "energy",
                                                    f"{f}(0) = -T ln "
                                                    + ("Xi" if ens == "grand" else "Z_N")
                                                    + " at theta = 0"),
                 "stiffness_reliable": Variable((), (), "1", "1 if rho_s is resolved at every "
                                                "theta (|rho_s| > 100 rho_s_error)", "int64")},
                coords)
    return ({"rho_s": Variable(("theta",), (th.size,), inv,
                               "superfluid stiffness rho_s(theta) = "
                               "L (E(N_mu, theta) - E(N_mu, 0)) / theta^2"),
             "rho_s0": Variable((), (), inv, "superfluid stiffness rho_s0, the curvature at "
                                "theta -> 0"),
             "log10_rho_s": Variable(("theta",), (th.size,), log_inv,
                                     "log10 rho_s(theta), the stiffness resolved below "
                                     "float underflow"),
             "log10_rho_s0": Variable((), (), log_inv,
                                      "log10 rho_s0, the curvature at theta -> 0 resolved "
                                      "below float underflow"),
             "stiffness_energy0": Variable((), (), "energy",
                                           "E_L(N_mu, 0), sum of the N_mu lowest levels"),
             "stiffness_reliable": Variable((), (), "1", "1 if the stiffness evaluation passed "
                                            "its cancellation/error checks", "int64"),
             "stiffness_ambiguous": Variable((), (), "1", "1 if a level lies within roundoff "
                                             "of mu (N_mu ambiguous)", "int64")},
            coords)


def _stiff_compute(ctx, opts):
    ens = opts.get("ensemble", "ground")
    thetas = np.asarray(opts["thetas"], float)
    if ens != "ground":
        st = ctx.state
        if getattr(st, "ensemble", "ground") != ens:
            raise ValueError(f"ensemble: the state is {getattr(st, 'ensemble', 'ground')!r}, "
                             f"the observable was set up for {ens!r}")
        kw = {"mu": float(st.mu)} if ens == "grand" else {"n_particles": int(st.n_particles)}
        r = thermal_stiffness(ctx.ring, float(st.temperature), thetas, ensemble=ens, **kw)
        return {"rho_s": np.asarray(r.rho_s, float), "rho_s_error": np.asarray(r.error, float),
                "rho_s_direct": np.asarray(r.direct, float),
                "stiffness_free_energy0": np.float64(r.f0),
                "stiffness_reliable": np.int64(bool(np.all(r.resolved)))}
    r = stiffness(ctx.ring, ctx.mu, thetas)
    return {"rho_s": np.asarray(r.rho_s, float), "rho_s0": np.float64(r.rho_s0),
            "log10_rho_s": np.asarray(r.log10_rho_s, float),
            "log10_rho_s0": np.float64(r.log10_rho_s0),
            "stiffness_energy0": np.float64(r.energy0),
            "stiffness_reliable": np.int64(bool(np.all(r.reliable))),
            "stiffness_ambiguous": np.int64(bool(r.ambiguous))}


def _stiff_check(opts):
    if opts.get("ensemble", "ground") != "ground" and np.any(
            np.sin(0.5 * np.asarray(opts["thetas"], float)) == 0.0):
        raise ParamError("thetas", "must be nonzero at T > 0 (the theta -> 0 curvature is "
                         "computed at T = 0 only)")


STIFFNESS = Observable(
    "stiffness", _stiff_layout, _stiff_compute,
    options=(Option("thetas", [0.5], real_list("thetas", -np.pi, np.pi), "boson twists theta"),
             ENSEMBLE_OPTION),
    requires=("mu",), thermal=True, thermal_requires=(), check=_stiff_check,
    description="superfluid stiffness rho_s(theta) at chemical potential mu; at T > 0 from the "
    "free energy (canonical, fixed N) or the grand potential (grand, fixed mu)",
    localized=True)

OBSERVABLES = (STIFFNESS,)
