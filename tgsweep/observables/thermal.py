"""Thermodynamics of the thermal TG gas on one ring: free energy F(theta) and stiffness rho_s(T).

Units hbar^2/2m = 1, k_B = 1.  From the one-particle levels only (no eigenvectors):

* canonical, N fixed: Z_N(theta) = e_N(e^{-beta eps_j(phi_N)}), phi_N = theta + pi (N - 1), by the
  exact positive Poisson-binomial recursion at the saddle-point fugacity
  (:func:`tgsweep.core.thermal.poisson_binomial`); F = -T ln Z_N.
* grand canonical at mu: Xi(theta) = (1/2)[det(1 + W_A) + det(1 - W_A) + det(1 + W_P) - det(1 - W_P)]
  (sectors A: fermion twist theta + pi, P: theta), signed log-determinants; Omega = -T ln Xi.
* thermal superfluid stiffness rho_s(T, theta) = L (F(theta) - F(0)) / theta^2 (canonical) or
  L (Omega(theta) - Omega(0)) / theta^2 (grand), units 1/length (lattice: per site).

Below roundoff.  rho_s(T) ~ e^{-L/xi_T} already for clean rings at T > 0 (and smaller with
disorder), far below the rounding error eps |F| of a difference of free energies (kept as
``direct`` for comparison).  :func:`thermal_stiffness` uses instead the Matsubara products

    det(1 + z W_theta) / det(1 + z W_0) = prod_n (1 - kappa / f0(mu_z + i omega_n)),

f0 the characteristic polynomial of H_phi0 (log-scaled transfer matrices), kappa =
2 (cos phi_theta - cos phi_0), omega_n = (2n+1) pi T (fermionic; the bosonic set 2 pi n T for
det(1 - W)), mu_z = mu (grand) or mu* + i kappa_j T (the K = k + 1 number-projection points,
canonical): every factor is within its own size of 1 and nothing cancels
(docs/references.md, §8).  Checked against 50-80-digit mpmath down to 1e-22.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.integrate import quad
from scipy.special import expit

from ..core.spectrum import count_at_most, eigenvalues
from ..core.thermal import ENSEMBLES, log_char_poly, poisson_binomial, saddle_mu
from ..models.ring import Ring, fermion_twist
from .declaration import ENSEMBLE_OPTION, Observable, Variable

__all__ = ["free_energy", "thermal_stiffness", "ThermalStiffness", "tg_contact",
           "iiks_correlation_length", "FREE_ENERGY", "OBSERVABLES"]

_EPS = np.finfo(float).eps


def _levels(ring: Ring, phi: float, e_cut: float, k_min: int = 0) -> np.ndarray:
    k = min(ring.n_grid, max(count_at_most(ring, phi, e_cut), k_min))
    return eigenvalues(ring, phi, 0, k)


def _log_xi(levels_a, levels_p, beta, mu):
    logs, signs = [], []
    for lev, sgn in ((levels_a, 1.0), (levels_p, -1.0)):
        x = beta * (lev - mu)
        lp = float(np.sum(np.logaddexp(0.0, -x)))
        # det(1 - W) = det(1 + W) prod tanh(x / 2)
        th = np.tanh(x / 2)
        if np.any(th == 0):
            lm, sm = -np.inf, 0.0
        else:
            lm = lp + float(np.sum(np.log(np.abs(th))))
            sm = float(np.prod(np.sign(th)))
        logs += [lp, lm]
        signs += [1.0, sgn * sm]
    logs = np.array(logs)
    top = np.max(logs)
    s = float(np.sum(np.array(signs) * np.exp(logs - top)))
    return top + np.log(s / 2)


def free_energy(ring: Ring, temperature: float, *, mu: float | None = None,
                n_particles: int | None = None, ensemble: str = "grand", twist: float = 0.0,
                tol: float = 1e-15) -> float:
    """F = -T ln Z_N (canonical) or Omega = -T ln Xi (grand) at boson twist theta, exact from the
    levels E <= mu + T ln(M / tol) (the rest changes ln Z by less than tol)."""
    t = float(temperature)
    if not (np.isfinite(t) and t > 0):
        raise ValueError(f"temperature: must be a finite number > 0, got {temperature!r}")
    if ensemble not in ENSEMBLES:
        raise ValueError(f"ensemble: must be one of {ENSEMBLES}, got {ensemble!r}")
    beta, m = 1.0 / t, ring.n_grid
    if ensemble == "grand":
        if mu is None:
            raise ValueError("mu: the grand-canonical ensemble needs mu")
        cut = mu + t * np.log(m / tol)
        la = _levels(ring, fermion_twist(twist, 2), cut)
        lp = _levels(ring, fermion_twist(twist, 1), cut)
        return -t * _log_xi(la, lp, beta, mu)
    if n_particles is None:
        raise ValueError("n_particles: the canonical ensemble needs n_particles")
    n = int(n_particles)
    if n != n_particles or not 0 <= n <= m:
        raise ValueError(f"n_particles: must be an integer in [0, {m}], got {n_particles!r}")
    if n == 0:
        return 0.0
    phi = fermion_twist(twist, n)
    lev = eigenvalues(ring, phi, 0, min(m, n + 16))
    mu_s = saddle_mu(lev, beta, n) if n < lev.size else lev[-1] + 40 * t
    lev = _levels(ring, phi, mu_s + t * (np.log(m / tol) + 2.0), k_min=n)
    mu_s = saddle_mu(lev, beta, n) if n < lev.size else lev[-1] + 40 * t
    rho = -beta * (lev - mu_s)
    prob = poisson_binomial(expit(rho))
    return -t * float(np.log(prob[n]) - n * beta * mu_s + np.sum(np.logaddexp(0.0, rho)))


class ThermalStiffness(NamedTuple):
    """thetas : (n,) boson twists; rho_s : (n,) L (F(theta) - F(0)) / theta^2 (1/length), from the
    Matsubara series (log scale, any magnitude); error : (n,) estimated absolute error;
    resolved : (n,) bool (series converged and |rho_s| > 100 error); direct : (n,) the plain difference of free
    energies (floored by roundoff ~ eps |F| L / theta^2); f0 : F(0)."""

    thetas: np.ndarray
    rho_s: np.ndarray
    error: np.ndarray
    resolved: np.ndarray
    direct: np.ndarray
    f0: float


#: relative size of the last Matsubara term at which the series is truncated
_SERIES_TOL = 1e-18
_MAX_TERMS = 200000


def _clog1p(z):
    """log(1 + z) for complex z, accurate for tiny |z| (numpy's complex log1p is not)."""
    z = np.asarray(z, dtype=complex)
    return 0.5 * np.log1p(2 * z.real + np.abs(z) ** 2) + 1j * np.arctan2(z.imag, 1 + z.real)


def _cexpm1(z):
    """exp(z) - 1 for complex z, accurate for tiny |z|."""
    z = np.asarray(z, dtype=complex)
    x, y = z.real, z.imag
    return np.expm1(x) * np.cos(y) - 2 * np.sin(y / 2) ** 2 + 1j * np.exp(x) * np.sin(y)


def _matsubara_sum(ring, phi0, kappa, e_re, y0, dy, width):
    """sum_{n >= 0} log(1 - kappa / f0(e_re + i (y0 + n dy))), complex; f0 from
    :func:`tgsweep.core.thermal.log_char_poly`.  |f0| grows monotonically along the line,
    so the terms decrease; stop once |term| < _SERIES_TOL |sum| beyond the spectral width."""
    total = 0.0 + 0.0j
    n0 = 0
    batch = 16
    while n0 < _MAX_TERMS:
        ys = y0 + dy * np.arange(n0, n0 + batch)
        lf = log_char_poly(ring, phi0, e_re + 1j * ys)
        ratio = -kappa * np.exp(-lf)
        terms = _clog1p(ratio)
        total += terms.sum()
        n0 += batch
        last = abs(terms[-1])
        if abs(ys[-1]) > width and last <= _SERIES_TOL * max(abs(total), 1e-300):
            return total, True
        batch = min(2 * batch, 4096)
    return total, False


def _spectral_width(ring):
    d = ring.diag
    return float(max(abs(d.min() - 2 * ring.hopping), abs(d.max() + 2 * ring.hopping)) + 1.0)


def _grand_delta(ring, T, mu, theta, tol):
    """(Omega(theta) - Omega(0), converged) from the Matsubara products of the four terms."""
    beta, m = 1.0 / T, ring.n_grid
    width = _spectral_width(ring) + abs(mu)
    logs, signs, ratios = [], [], []
    conv = True
    for phi0, phi_t, sgn in ((np.pi, theta + np.pi, 1.0), (0.0, theta, -1.0)):
        c0 = float(np.cos(phi0))
        kappa = 2.0 * (np.cos(phi_t) - c0)
        lev = eigenvalues(ring, phi0, 0, m) if m <= 4000 else _levels(
            ring, phi0, mu + T * np.log(m / tol))
        x = beta * (lev - mu)
        lp = float(np.sum(np.logaddexp(0.0, -x)))
        th = np.tanh(x / 2)
        lm = lp + float(np.sum(np.log(np.abs(th))))
        sm = float(np.prod(np.sign(th)))
        sf, ok1 = _matsubara_sum(ring, phi0, kappa, mu, np.pi * T, 2 * np.pi * T, width)
        sb, ok2 = _matsubara_sum(ring, phi0, kappa, mu, 2 * np.pi * T, 2 * np.pi * T, width)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            r0 = 1.0 - kappa * np.exp(-log_char_poly(ring, phi0, mu)[0])
        conv &= ok1 and ok2
        logs += [lp, lm]
        signs += [1.0, sgn * sm]
        if np.isfinite(lm) and np.isfinite(r0) and abs(r0) < 1e8:
            bos = (float(np.sign(r0.real)), np.log(abs(r0.real)) + 2 * sb.real)
        else:
            # a level (nearly) at mu: det(1 - W_0) ~ 0 and its ratio is 0/0-like; then
            # det(1 - W_theta) >> det(1 - W_0) and the term is taken directly from the
            # levels at twist theta (no cancellation: it dominates the difference)
            lev_t = eigenvalues(ring, phi_t, 0, m) if m <= 4000 else _levels(
                ring, phi_t, mu + T * np.log(m / tol))
            x_t = beta * (lev_t - mu)
            th_t = np.tanh(x_t / 2)
            lm_t = float(np.sum(np.logaddexp(0.0, -x_t))) + float(np.sum(np.log(np.abs(th_t))))
            bos = ("direct", sgn * float(np.prod(np.sign(th_t))), lm_t)
        ratios += [(1.0, 2 * sf.real), bos]
    logs = np.array(logs)
    top = logs.max()
    mag = np.exp(logs - top)
    xi0 = float(np.sum(np.array(signs) * mag)) / 2
    dxi, direct_err = 0.0, 0.0
    for s0, mg, rat in zip(signs, mag, ratios):
        if rat[0] == "direct":
            v = rat[1] * np.exp(rat[2] - top)
            dxi += (v - s0 * mg) / 2
            direct_err += 8 * _EPS * m * (abs(v) + mg) / 2
            continue
        sr, dl = rat
        dxi += s0 * mg * (np.expm1(dl) if sr > 0 else -(np.exp(dl) + 1.0)) / 2
    return -T * np.log1p(dxi / xi0), conv, T * direct_err / abs(xi0)


def _canonical_delta(ring, T, n, theta, tol):
    """(F(theta) - F(0), converged): Z_N(theta) - Z_N(0) by the exact (K = k + 1) number
    projection of det(1 + z W_theta) - det(1 + z W_0), each ratio a Matsubara product at the
    complex chemical potential mu* + i kappa_j T."""
    beta, m = 1.0 / T, ring.n_grid
    phi0 = fermion_twist(0.0, n)
    c0 = float(np.cos(phi0))
    kappa = 2.0 * (np.cos(fermion_twist(theta, n)) - c0)
    lev = eigenvalues(ring, phi0, 0, min(m, n + 16))
    mu_s = saddle_mu(lev, beta, n) if n < lev.size else lev[-1] + 40 * T
    lev = _levels(ring, phi0, mu_s + T * (np.log(m / tol) + 2.0), k_min=n)
    mu_s = saddle_mu(lev, beta, n) if n < lev.size else lev[-1] + 40 * T
    rho = -beta * (lev - mu_s)
    kk = lev.size + 1
    width = _spectral_width(ring) + abs(mu_s)
    lds, dls = [], []
    conv = True
    for j in range(kk):
        kap = 2 * np.pi * j / kk
        zr = rho + 1j * kap
        ld = np.where(rho > 0, zr + np.log1p(np.exp(-zr)), np.log1p(np.exp(zr)))
        up, ok1 = _matsubara_sum(ring, phi0, kappa, mu_s, T * (kap + np.pi), 2 * np.pi * T, width)
        dn, ok2 = _matsubara_sum(ring, phi0, kappa, mu_s, T * (kap - np.pi), -2 * np.pi * T,
                                 width)
        conv &= ok1 and ok2
        lds.append(np.sum(ld) - 1j * kap * n)
        dls.append(up + dn)
    lds = np.array(lds)
    top = lds.real.max()
    w = np.exp(lds - top)
    z0 = np.sum(w)
    terms = w * _cexpm1(np.array(dls))
    dz = np.sum(terms)
    # the projection cancels terms of size |w_j (e^{dl_j} - 1)| (fugacity phases near pi, where
    # the twist changes the levels' weights at O(1)): rounding error of dz / z0
    # (the truncated levels enter only the weights D(z_j, 0), each to relative tol)
    err = (8 * _EPS * kk + tol) * float(np.sum(np.abs(terms)) + np.abs(dz)) / abs(z0)
    return -T * float(_clog1p(dz / z0).real), conv, T * err


def thermal_stiffness(ring: Ring, temperature: float, thetas, *, mu: float | None = None,
                      n_particles: int | None = None, ensemble: str = "canonical",
                      tol: float = 1e-15) -> ThermalStiffness:
    """Thermal superfluid stiffness rho_s(T, theta) = L (F(theta) - F(0)) / theta^2 at fixed N
    (canonical, default) or from Omega(theta) at fixed mu (grand); see the module docstring.

    Resolved at any magnitude (rho_s(T) ~ e^{-L/xi_T} for clean rings at T > 0, smaller still
    with disorder) by the Matsubara representation
    ln det(1 + W_theta) / det(1 + W_0) = sum_n 2 Re ln(1 - kappa / f0(mu + i omega_n)),
    kappa = 2 (cos phi_theta - cos phi_0), f0 the characteristic polynomial (docs/references.md,
    §8): every term has the size of its contribution, nothing cancels.
    """
    th = np.atleast_1d(np.asarray(thetas, dtype=float))
    if np.any(th == 0) or not np.all(np.isfinite(th)):
        raise ValueError("thetas: must be finite and nonzero")
    kw = dict(mu=mu, n_particles=n_particles, ensemble=ensemble)
    f0 = free_energy(ring, temperature, twist=0.0, **kw)
    f = np.array([free_energy(ring, temperature, twist=x, **kw) for x in th])
    big_l = ring.length
    direct = big_l * (f - f0) / th**2
    rho, ok, perr = [], [], []
    for x in th:
        if ensemble == "grand":
            d, c, e = _grand_delta(ring, float(temperature), float(mu), float(x), tol)
        else:
            d, c, e = _canonical_delta(ring, float(temperature), int(n_particles), float(x), tol)
        rho.append(big_l * d / x**2)
        ok.append(c)
        perr.append(big_l * e / x**2)
    rho = np.array(rho)
    trunc = 0.0 if ensemble == "canonical" or ring.n_grid <= 4000 else big_l * tol * temperature
    err = np.abs(rho) * 1e3 * ring.n_grid * _EPS + np.array(perr) + trunc / th**2
    return ThermalStiffness(th, rho, err, np.array(ok) & (np.abs(rho) > 100 * err), direct,
                            float(f0))


def tg_contact(n_mean: float, kinetic_energy: float, length: float) -> float:
    """k^-4 tail coefficient C = lim k^4 n(k) of a homogeneous TG gas in any state with an
    even momentum distribution: C = 4 n e_kin, n = <N>/L, e_kin = <H_kin>/L (derived in
    docs/references.md, §8: Tan's relation in the 1/c -> 0 limit; T = 0 gives
    (4 pi^2/3) n^4 of Olshanii & Dunjko, PRL 91, 090401 (2003))."""
    return 4.0 * (n_mean / length) * (kinetic_energy / length)


def iiks_correlation_length(temperature: float, mu: float, *, hopping: float = 1.0,
                            spacing: float | None = None) -> float:
    """Exact thermal correlation length xi of the impenetrable Bose gas / XX chain, grand
    canonical, clean, L = infinity: |gamma(0, x)| ~ e^{-x / xi} with

        1 / xi = -(1 / 2 pi) int dk ln|tanh((eps(k) - mu) / (2 T))|

    (Its, Izergin, Korepin & Slavnov, Nucl. Phys. B 340, 752 (1990); Its, Izergin, Korepin &
    Varzugin, Physica D 54, 351 (1992); docs/references.md, §8).  ``spacing=None``: the lattice,
    eps(k) = -2 t cos k, xi in sites; ``spacing=h``: the continuum grid, eps(k) =
    (2/h^2)(1 - cos kh) (``hopping`` ignored), xi in units of length.  Low T: 1/xi ->
    pi T / (2 v_F) (the Luttinger liquid with K = 1)."""
    t = float(temperature)
    if not (np.isfinite(t) and t > 0):
        raise ValueError(f"temperature: must be a finite number > 0, got {temperature!r}")
    if spacing is None:
        hop, shift, h = float(hopping), 0.0, 1.0
    else:
        h = float(spacing)
        hop = 1.0 / h**2
        shift = 2.0 * hop
    c = (shift - mu) / (2 * hop)  # eps(q) = mu at cos q = c (q = k h per site)
    cuts = {0.0, np.pi}
    if abs(c) < 1:
        # the log singularity at the Fermi point q_F has width ~ T / v_F: break there and at
        # q_F +- (1, 10, 100) widths, so the adaptive rule sees it at any T
        qf = float(np.arccos(c))
        width = 2 * t / max(2 * hop * np.sin(qf), 1e-300)
        cuts |= {qf} | {qf + s * w * width for s in (-1, 1) for w in (1.0, 10.0, 100.0)}
    cuts = sorted(x for x in cuts if 0.0 <= x <= np.pi)

    def f(q):
        x = (shift - 2 * hop * np.cos(q) - mu) / (2 * t)
        return -np.log(np.abs(np.tanh(x))) if x != 0 else 0.0

    # eps(q) is even: twice the integral over [0, pi]
    rate = sum(quad(f, a, b, limit=200)[0] for a, b in zip(cuts[:-1], cuts[1:])) / np.pi
    return h / rate


# ------------------------------------------------------------------------------ declaration
# The thermal stiffness is the T > 0 branch of the observable "stiffness"
# (tgsweep.observables.superfluid); the thermal energy <H> that of "energy" (basic).
def _free_energy_layout(geom, opts):
    ens = opts.get("ensemble", "ground")
    name = ("grand potential Omega = -T ln Xi (grand canonical, fixed mu)" if ens == "grand"
            else "free energy F = -T ln Z_N (canonical, fixed N)")
    return ({"free_energy": Variable((), (), "energy", name + " at the state's twist")}, {})


def _free_energy_compute(ctx, opts):
    st = ctx.state
    ens = opts.get("ensemble", "ground")
    if getattr(st, "ensemble", "ground") != ens or ens == "ground":
        raise ValueError(f"ensemble: the state is {getattr(st, 'ensemble', 'ground')!r}, "
                         f"the observable was set up for {ens!r} (needs T > 0)")
    kw = {"mu": float(st.mu)} if ens == "grand" else {"n_particles": int(st.n_particles)}
    return {"free_energy": np.float64(free_energy(ctx.ring, float(st.temperature),
                                                  ensemble=ens, twist=float(st.twist), **kw))}


FREE_ENERGY = Observable(
    "free_energy", _free_energy_layout, _free_energy_compute, options=(ENSEMBLE_OPTION,),
    requires=("temperature",), thermal=True,
    description="F = -T ln Z_N (canonical) or Omega = -T ln Xi (grand) at T > 0")

OBSERVABLES = (FREE_ENERGY,)
