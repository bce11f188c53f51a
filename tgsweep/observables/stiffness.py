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
Band j (0-based) of the twisted operator is the set {E_j(phi)}; with the discriminant
Delta(E) = tr T(E) of the one-period transfer matrix, E_j(phi) solves Delta(E) = 2 cos phi.
For phi0 = theta_N(0) in {0, pi} the shift d_j = E_j(phi) - E_j(phi0) solves exactly

    d * prod_{l != j} (1 - d / (E_l - E_j)) = kappa / Delta'(E_j),
    kappa = 2 (cos phi - cos phi0) = -4 cos(phi0) sin^2(theta / 2),

(``tgsweep.core._stiffness_kernels``, eq. (1)-(2)).  ``Delta'(E_j)`` is computed as a sum of
logarithms of Sturm pivots of the ring cut at the maximum of psi_j, so it is never subject to
overflow or to the cancellation that ruins Delta itself.  Per band and theta one of three
evaluations is used (``method="auto"``), by the a-priori size of the neglected terms,
eta_j = |d| sum_{l != j} 1/|E_l - E_j| (bounded from the computed levels up to E_{N_mu}):

* ``0`` (log-linear): eta_j <= 1e-12, d_j = kappa / Delta'(E_j) in log scale.  This is the
  localized regime, where d_j ~ e^{-L/ell} lies far below the roundoff of E_j.
* ``1`` (Newton): 1e-12 < eta_j <= 0.1, the exact equation above solved with the whole
  spectrum of H_phi0 (computed once, only if needed).
* ``2`` (direct): eta_j > 0.1 (wide bands, e.g. the clean ring): d_j = E_j(phi) - E_j(phi0)
  from bisection, absolute error ~ eps ||H||.

The band shifts carry signs (bands alternate) and are summed in log scale; ``log10_rho_s``
stays finite when ``rho_s`` underflows to 0.

Known limitation: since sum_j 1/Delta'(E_j) = 0 over all bands, deep in a filled Fermi sea
wide bands of opposite signs cancel; on long moderately disordered rings (e.g. W = 4, M = 1000)
the sum is 1e-11 of its largest term and the per-band sum is meaningless.  This is detected
(``log10_cancellation``, ``reliable``).  A cancellation-free route (not implemented): the
residue sum over the occupied bands as a contour integral of 1/(Delta(E) - 2 cos phi0) along
Re E = E* in the gap at the Fermi level, with Delta in log-scaled complex transfer matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ..core import _stiffness_kernels as K
from ..core.spectrum import DENSE_MAX, _bounds, count_at_most, eigenpairs, eigenvalues
from ..models.ring import Ring, fermion_twist

__all__ = ["Stiffness", "stiffness"]

_EPS = np.finfo(float).eps
_LN10 = np.log(10.0)
#: eta threshold below which the log-linear band formula is used (its relative error ~ eta)
ETA_LINEAR = 1e-12
#: eta threshold above which the direct eigenvalue difference is used
ETA_DIRECT = 0.1
REGIME_LOG, REGIME_NEWTON, REGIME_DIRECT = 0, 1, 2
#: largest tolerated log10(max band shift / |sum|) for a result flagged ``reliable``
CANCELLATION_MAX = 4.0


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
        exactly (N_mu = 0), nan if the computed difference is negative (roundoff of the direct
        difference in wide bands).
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
    log10_band_slope : (N_mu,) float
        log10 |Delta'(E_j(phi0))| per occupied band (band width ~ 4 / |Delta'|).
    regime : (n, N_mu) int8
        evaluation used per theta and band: 0 log-linear, 1 Newton, 2 direct (see module doc).
    log10_cancellation : (n,) float
        log10(max_j |d_j| / |sum_j d_j|): the band shifts alternate in sign and can cancel
        (sum_j 1/Delta'(E_j) over *all* bands is 0).  Each d_j is accurate to ~1e-11 relative,
        so values above ~4 mean the result has lost its accuracy; see ``reliable``.
    reliable : (n,) bool
        log10_cancellation <= CANCELLATION_MAX (default 4): rho_s good to ~1e-6 or better.
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
    log10_band_slope: np.ndarray
    regime: np.ndarray
    log10_cancellation: np.ndarray
    reliable: np.ndarray


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


def stiffness(ring: Ring, mu: float, thetas, *, method: str = "auto",
              mu_tol: float | None = None) -> Stiffness:
    """Superfluid stiffness rho_s(L, theta) of the TG ground state with N_mu particles.

    Parameters
    ----------
    ring : Ring
        continuum or lattice ring (units hbar^2/2m = 1).
    mu : float
        chemical potential (energy units); N_mu = min(N^+_mu, N^-_mu).
    thetas : float or sequence of float
        boson twists theta in radians (|theta| <= pi for the ground-state band; theta = 0 gives
        the curvature).
    method : {"auto", "log", "direct"}
        "auto" picks per band (see module docstring); "log" forces the log-linear band formula
        (exact as theta -> 0 or deep in the localized regime); "direct" forces eigenvalue
        differences (accurate only while the shift exceeds ~eps ||H||).
    mu_tol : float, optional
        levels within mu_tol of mu flag the sample as ``ambiguous``; default 64 eps ||H||.

    Returns
    -------
    Stiffness
    """
    if method not in ("auto", "log", "direct"):
        raise ValueError(f"method: must be 'auto', 'log' or 'direct', got {method!r}")
    if not np.isfinite(mu):
        raise ValueError(f"mu: must be finite, got {mu!r}")
    thetas = np.atleast_1d(np.asarray(thetas, dtype=float))
    if thetas.ndim != 1 or not np.all(np.isfinite(thetas)):
        raise ValueError("thetas: must be a finite scalar or 1-d sequence")
    m = ring.n_grid
    length = float(ring.length)
    lo, hi = _bounds(ring)
    hnorm = max(abs(lo), abs(hi))
    if mu_tol is None:
        mu_tol = 64 * _EPS * hnorm

    # particle numbers and ambiguity (Sturm counts, O(M))
    n_plus = count_at_most(ring, 0.0, mu)
    n_minus = count_at_most(ring, np.pi, mu)
    n = min(n_plus, n_minus)
    ambiguous = any(count_at_most(ring, ph, mu - mu_tol) != count_at_most(ring, ph, mu + mu_tol)
                    for ph in (0.0, np.pi))
    gaps = []
    for ph, cnt in ((0.0, n_plus), (np.pi, n_minus)):
        i0, i1 = max(cnt - 1, 0), min(cnt + 1, m)
        gaps.extend(np.abs(_levels(ring, ph, i0, i1) - mu))
    mu_gap = float(min(gaps)) if gaps else np.inf

    nt = thetas.size
    if n == 0:
        return Stiffness(0, n_plus, n_minus, 0.0, thetas, np.zeros(nt), np.full(nt, -np.inf),
                         0.0, -np.inf, ambiguous, mu_gap, length, 0.0, np.zeros(0),
                         np.zeros((nt, 0), dtype=np.int8), np.zeros(nt), np.ones(nt, bool))

    phi0 = fermion_twist(0.0, n)
    c0 = float(np.cos(phi0))  # +1 (N odd) or -1 (N even)
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
    energy0 = float(np.sum(e0))
    log_slope, sign_slope = K.band_log_slopes(ring.diag, ring.hopping, e0, centers, amp2)

    # a-priori bound on sum_{l != j} 1 / |E_l - E_j| (computed levels + tail beyond E_{n_eval-1})
    with np.errstate(divide="ignore"):
        inv = 1.0 / np.abs(ev[None, :] - e0[:, None])
        inv[np.arange(n), np.arange(n)] = 0.0
        a_sum = inv.sum(axis=1)
        if n_eval < m:
            a_sum = a_sum + (m - n_eval) / np.abs(ev[n_eval - 1] - e0)

    full = None  # whole spectrum of H_phi0, computed only for the Newton regime
    direct0 = None
    log_dE = np.empty(nt)
    sgn_dE = np.empty(nt)
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
                           np.where(eta <= ETA_DIRECT, REGIME_NEWTON, REGIME_DIRECT)).astype(np.int8)
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
    return Stiffness(n, n_plus, n_minus, energy0, thetas, rho, log10_rho, float(rho_s0),
                     float(log10_rho_s0), bool(ambiguous), mu_gap, length, float(phi0),
                     log_slope / _LN10, regime, canc, canc <= CANCELLATION_MAX)
