"""Interacting bosons on the same rings: ideal gas, Gross-Pitaevskii mean field, Bose-Hubbard.

The hard-core (Tonks-Girardeau) ground state of :mod:`tgsweep.core.state` is the g = infinity
end of the interaction axis.  This module supplies the other models behind one call,
:func:`interacting_ground_state`, returning an :class:`InteractingState` that carries its energy,
its one-particle density matrix gamma (same conventions as :func:`tgsweep.obdm`: lattice
gamma[x, y] = <b+_x b_y>, continuum density units with sum_i gamma(x_i, x_i) h = N) and the
convergence information of its solver.  :func:`tgsweep.obdm` and the dense-gamma observables
(condensate, hs_blocks, hs_profile, momentum_distribution) accept it unchanged.

Models (units hbar^2/2m = 1; H the ring's one-particle operator, see :mod:`tgsweep.models.ring`;
a boson twist theta sits on the bond (M-1, 0) as H[M-1, 0] = -t e^{i theta}, boundary gauge)
------------------------------------------------------------------------------------------------
* ``"ideal"`` (g = 0): every boson in the lowest orbital phi_0 of H_theta.  E = N E_0(theta),
  gamma(x, y) = N conj(phi_0(x)) phi_0(y), lambda_0 = N (exactly: BEC for any disorder).
* ``"mean_field"``: the Gross-Pitaevskii ground state, the minimizer of

      E[phi] = <phi, H_theta phi> + (g/2) sum_i |phi_i|^4 w,   sum_i |phi_i|^2 w = N,

  (w = h continuum, 1 lattice: the discrete NLS with g playing the role of U), i.e.
  H_theta phi + g |phi|^2 phi = mu phi.  gamma = conj(phi(x)) phi(y) (lambda_0 = N).
  Solver: normalized gradient flow discretized by backward Euler (Bao & Du, SIAM J. Sci.
  Comput. 25, 1674 (2004)) down to a residual 1e-3, then Newton on (phi, mu) with the gauge
  mode i phi bordered out (the real 2M x 2M Jacobian is symmetric, its kernel at the solution
  is i phi); the stated ``residual`` is ||H phi + g|phi|^2 phi - mu phi||_w / ||phi||_w (energy
  units).  The energy is stationary, so its error is O(residual^2 / gap) + roundoff.
* ``"bose_hubbard"``: H = -t sum (b+_i b_{i+1} + h.c.) + (U/2) sum n_i (n_i - 1) + sum eps_i n_i
  on a lattice ring, by DMRG (:mod:`tgsweep.core.bose_hubbard`, TeNPy).
* ``"hard_core"``: the exact TG ground state :func:`tgsweep.ground_state` (a :class:`State`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..models.ring import Ring
from .spectrum import eigenpairs
from . import bose_hubbard
from .interacting_state import InteractingState
from .state import ground_state

__all__ = ["InteractingState", "interacting_ground_state", "ideal_ground_state",
           "gross_pitaevskii", "ring_sparse", "MODELS", "GP_TOL"]

MODELS = ("hard_core", "ideal", "mean_field", "bose_hubbard")
#: default Newton tolerance of the GP residual, relative to the energy scale ||H||
GP_TOL = 1e-13
_EPS = np.finfo(float).eps


# ------------------------------------------------------------------------------------ helpers
def ring_sparse(ring: Ring, theta: float) -> sp.csr_matrix:
    """Sparse M x M matrix of the ring operator with twist theta (same entries as Ring.matrix)."""
    m = ring.n_grid
    t = ring.hopping
    real = abs(np.sin(theta)) < 1e-15
    dt = np.float64 if real else np.complex128
    i = np.arange(m - 1)
    c = -t * np.exp(1j * theta)  # H[M-1, 0]
    cval = c.real if real else c
    rows = np.concatenate([np.arange(m), i, i + 1, [m - 1, 0]])
    cols = np.concatenate([np.arange(m), i + 1, i, [0, m - 1]])
    vals = np.concatenate([ring.diag.astype(dt), np.full(m - 1, -t, dt), np.full(m - 1, -t, dt),
                           np.array([cval, np.conj(cval)], dtype=dt)])
    return sp.csr_matrix((vals, (rows, cols)), shape=(m, m))


def _gamma_pure(ring: Ring, phi: np.ndarray) -> np.ndarray:
    """gamma(x, y) = conj(phi(x)) phi(y) for a condensate wavefunction in density units."""
    g = np.outer(np.conj(phi), phi)
    return g.real.copy() if not np.iscomplexobj(g) or np.all(g.imag == 0) else g


def _check_common(ring, n_particles, twist):
    if not isinstance(ring, Ring):
        raise TypeError("ring: must be a tgsweep.Ring")
    n = int(n_particles)
    if n != n_particles or n < 0:
        raise ValueError(f"n_particles: must be a non-negative integer, got {n_particles!r}")
    if not np.isfinite(twist):
        raise ValueError(f"twist: must be finite, got {twist!r}")
    return n, float(twist)


def _phase_fix(phi: np.ndarray) -> np.ndarray:
    """Global phase making the largest component real positive (gamma does not depend on it)."""
    k = int(np.argmax(np.abs(phi)))
    a = phi[k]
    return phi * (np.conj(a) / abs(a)) if abs(a) > 0 else phi


# ------------------------------------------------------------------------------------ ideal
def ideal_ground_state(ring: Ring, n_particles: int, twist: float = 0.0,
                       method: str = "auto") -> InteractingState:
    """Ideal Bose gas: all N bosons in the lowest orbital of H_theta (E = N E_0(theta))."""
    n, theta = _check_common(ring, n_particles, twist)
    w, v = eigenpairs(ring, theta, 0, 1, method=method)
    phi0 = _phase_fix(v[:, 0] / np.sqrt(ring.weight))  # sum |phi0|^2 h = 1
    phi = np.sqrt(n) * phi0
    gamma = _gamma_pure(ring, phi)
    # eigensolver residual ~ eps ||H||; energy error N times that
    hn = float(np.max(np.abs(ring.diag)) + 2 * ring.hopping)
    conv = {"converged": True, "residual": float(64 * _EPS * hn), "method": "eigensolver",
            "e0_single": float(w[0]), "energy_error": float(64 * _EPS * hn * max(n, 1))}
    return InteractingState(ring, "ideal", n, theta, float(n * w[0]), gamma,
                            np.abs(phi) ** 2, phi, {"g": 0.0}, conv)


# ------------------------------------------------------------------------------------ GP
def _gp_energy(h, phi, g, w):
    kin = np.real(np.vdot(phi, h @ phi)) * w
    return kin + 0.5 * g * np.sum(np.abs(phi) ** 4) * w


def _gp_residual(h, phi, g, w):
    hp = h @ phi + g * np.abs(phi) ** 2 * phi
    nrm = np.real(np.vdot(phi, phi)) * w
    mu = np.real(np.vdot(phi, hp)) * w / nrm
    r = hp - mu * phi
    return mu, float(np.sqrt(np.real(np.vdot(r, r)) * w / nrm)), r


def _newton_step(h, phi, mu, g, w, n):
    """One Newton step on F(phi, mu) = H phi + g|phi|^2 phi - mu phi, |phi|^2_w = N, bordered
    by the gauge mode i phi (real representation phi = a + i b)."""
    m = phi.size
    a, b = phi.real, phi.imag
    hr = sp.csr_matrix(h.real) if np.iscomplexobj(h.data) else sp.csr_matrix(h)
    hi = sp.csr_matrix(h.imag) if np.iscomplexobj(h.data) else sp.csr_matrix((m, m))
    f = h @ phi + g * np.abs(phi) ** 2 * phi - mu * phi
    d_aa = sp.diags(g * (3 * a * a + b * b) - mu)
    d_bb = sp.diags(g * (a * a + 3 * b * b) - mu)
    d_ab = sp.diags(2 * g * a * b)
    jac = sp.bmat([[hr + d_aa, -hi + d_ab], [hi + d_ab, hr + d_bb]])
    ph = np.concatenate([a, b])
    gauge = np.concatenate([-b, a])  # i phi in the real representation
    big = sp.bmat([[jac, -ph[:, None], gauge[:, None]],
                   [2 * w * ph[None, :], None, None],
                   [gauge[None, :], None, None]], format="csc")
    rhs = np.concatenate([-f.real, -f.imag, [n - np.real(np.vdot(phi, phi)) * w], [0.0]])
    sol = spla.spsolve(big, rhs)
    dphi = sol[:m] + 1j * sol[m:2 * m]
    return dphi, sol[2 * m]


def gross_pitaevskii(ring: Ring, n_particles: int, g: float, twist: float = 0.0, *,
                     tol: float | None = None, max_flow: int = 5000, max_newton: int = 60,
                     initial: np.ndarray | None = None) -> InteractingState:
    """Gross-Pitaevskii (lattice: discrete NLS) ground state with N particles and coupling g >= 0.

    ``tol``: Newton stops when the residual ||H phi + g|phi|^2 phi - mu phi||_w / ||phi||_w is
    below tol (default GP_TOL * ||H||, ||H|| = max|diag| + 2t) or stops decreasing (then
    ``converged`` is False if it is still above 100 tol).  ``initial``: starting wavefunction
    (e.g. the solution at a neighbouring twist, for continuation).
    """
    n, theta = _check_common(ring, n_particles, twist)
    g = float(g)
    if not (np.isfinite(g) and g >= 0):
        raise ValueError(f"g: must be a finite number >= 0, got {g!r}")
    w = ring.weight
    h = ring_sparse(ring, theta)
    hnorm = float(np.max(np.abs(ring.diag)) + 2 * ring.hopping)
    if tol is None:
        tol = GP_TOL * hnorm
    if n == 0:
        z = np.zeros(ring.n_grid)
        return InteractingState(ring, "mean_field", 0, theta, 0.0, np.zeros((z.size, z.size)), z,
                                z, {"g": g}, {"converged": True, "residual": 0.0})
    w0, v0 = eigenpairs(ring, theta, 0, 1)
    real_twist = abs(np.sin(theta)) < 1e-15
    if initial is None and not real_twist and g > 0:
        # the twisted flow relaxes the phase only at a rate ~ 1/L^2: start from the theta = 0
        # solution dressed with the first-order (uniform-current) phase instead
        initial = gross_pitaevskii(ring, n, g, 0.0, tol=tol, max_flow=max_flow,
                                   max_newton=max_newton).condensate_wavefunction
    if initial is None:
        phi = v0[:, 0].astype(np.complex128) * np.sqrt(n / w)
    else:
        phi = np.asarray(initial, dtype=np.complex128).copy()
        if not real_twist and np.max(np.abs(phi.imag)) == 0.0:
            phi = phi * np.exp(1j * _uniform_current_phase(ring, np.abs(phi) ** 2, theta))
        phi *= np.sqrt(n / (np.real(np.vdot(phi, phi)) * w))
    e_min = float(w0[0])  # lowest eigenvalue of H <= that of H + g n (g >= 0)
    m = ring.n_grid
    mu, res, _ = _gp_residual(h, phi, g, w)
    flow_it = newton_it = 0
    history = [res]
    # normalized gradient flow, backward Euler with the nonlinearity at the old density
    # (Bao & Du 2004): (1/tau + H - e_min + g|phi_k|^2) phi_{k+1} = phi_k / tau, renormalized.
    # H - e_min >= 0 keeps the system positive definite; tau adapts (x1.2 while the energy
    # decreases; a step raising it is rejected and tau halved; large tau is the undamped
    # self-consistent iteration).  Then Newton; if Newton stalls (a basin too small, e.g.
    # nearly degenerate wells), flow further with a 100x tighter threshold and retry.
    tau = 2.0 / max(g * n / ring.length, 1e-3 * hnorm)
    energy_k = _gp_energy(h, phi, g, w)
    threshold = 1e-3 * hnorm
    while True:
        while res > threshold and flow_it < max_flow and g > 0:
            a = (h + sp.diags(g * np.abs(phi) ** 2 + 1.0 / tau - e_min)).tocsc()
            new = spla.spsolve(a, phi / tau)
            new *= np.sqrt(n / (np.real(np.vdot(new, new)) * w))
            e_new = _gp_energy(h, new, g, w)
            flow_it += 1
            if e_new > energy_k + 64 * _EPS * abs(energy_k):
                tau *= 0.5
                continue
            tau *= 1.2
            phi, energy_k = new, e_new
            mu, res, _ = _gp_residual(h, phi, g, w)
        stalled = False
        tries = 0
        while res > tol and newton_it < max_newton:
            dphi, _ = _newton_step(h, phi, mu, g, w, n)
            step = 1.0
            for _ in range(30):  # damping: accept when the residual decreases
                trial = phi + step * dphi
                trial *= np.sqrt(n / (np.real(np.vdot(trial, trial)) * w))
                mu_t, res_t, _ = _gp_residual(h, trial, g, w)
                if res_t < res or step < 1e-6:
                    break
                step *= 0.5
            newton_it += 1
            tries += 1
            if res_t >= res or (tries >= 8 and res_t > 0.5 * res):  # stagnation
                stalled = True
                break
            phi, mu, res = trial, mu_t, res_t
            history.append(res)
        if not stalled or res <= 100 * tol or flow_it >= max_flow or g == 0 \
                or newton_it >= max_newton:
            break
        threshold = min(threshold, res) * 1e-2
        energy_k = _gp_energy(h, phi, g, w)
    phi = _phase_fix(phi)
    if abs(np.sin(theta)) < 1e-15:
        phi = phi.real.copy() if np.max(np.abs(phi.imag)) < 1e-12 * np.max(np.abs(phi)) else phi
    energy = _gp_energy(h, phi, g, w)
    conv = {"converged": bool(res <= max(tol, 100 * _EPS * hnorm)), "residual": float(res),
            "tol": float(tol), "mu": float(mu), "flow_iterations": flow_it,
            "newton_iterations": newton_it, "residual_history": np.array(history),
            "energy_error": _gp_energy_error(h, phi, g, w, res, ring, theta)}
    return InteractingState(ring, "mean_field", n, theta, float(energy), _gamma_pure(ring, phi),
                            np.abs(phi) ** 2, phi, {"g": g}, conv)


def _uniform_current_phase(ring: Ring, density: np.ndarray, theta: float) -> np.ndarray:
    """Phase S_j = sum_{i<j} theta r_i / R, r_i = 1/(t w sqrt(n_i n_{i+1})) over the M bonds
    (R their sum): the first-order twist response of a real condensate in the boundary gauge
    (uniform current; clean ring: S_j = theta j / M)."""
    r = 1.0 / (ring.hopping * ring.weight * np.sqrt(density * np.roll(density, -1)) + 1e-300)
    return theta * np.concatenate([[0.0], np.cumsum(r[:-1])]) / np.sum(r)


def _gp_energy_error(h, phi, g, w, res, ring, theta):
    """Estimated |E - E_exact|: roundoff of the sums (64 eps times the sum of |terms|) plus the
    second-order residual term N res^2 / delta, delta the one-particle gap E_1 - E_0 of H_theta
    (a proxy for the gap of the linearized GP operator)."""
    terms = np.abs(np.vdot(np.abs(phi), abs(h) @ np.abs(phi))) * w + 0.5 * g * np.sum(
        np.abs(phi) ** 4) * w
    n = np.real(np.vdot(phi, phi)) * w
    e01 = eigenpairs(ring, theta, 0, 2)[0] if ring.n_grid > 2 else np.array([0.0, 1.0])
    delta = max(float(e01[1] - e01[0]), 1e-300)
    return float(64 * _EPS * terms + n * res**2 / delta)


# ------------------------------------------------------------------------------------ dispatch
def interacting_ground_state(ring: Ring, n_particles: int, *, model: str = "ideal",
                             g: float | None = None, U: float | None = None,
                             n_max: int | None = None, twist: float = 0.0, **solver_options):
    """Ground state of N bosons on ``ring`` for one interaction model.

    Parameters
    ----------
    model : "ideal" | "mean_field" | "bose_hubbard" | "hard_core"
    g : mean-field coupling (``mean_field``; required, >= 0).
    U : on-site interaction (``bose_hubbard``; required, >= 0, units of t).
    n_max : local cutoff of the boson occupation (``bose_hubbard``; default min(N, 4)).
    twist : boson twist theta.
    solver_options : passed to the solver (:func:`gross_pitaevskii`: tol, initial;
        :func:`tgsweep.core.bose_hubbard.dmrg_ground_state`: chi_max, bc, ...).

    Returns an :class:`InteractingState` (``hard_core``: the exact TG :class:`State`).
    """
    if model not in MODELS:
        raise ValueError(f"model: must be one of {', '.join(MODELS)}, got {model!r}")
    if model == "hard_core":
        return ground_state(ring, n_particles=n_particles, twist=twist, **solver_options)
    if model == "ideal":
        return ideal_ground_state(ring, n_particles, twist, **solver_options)
    if model == "mean_field":
        if g is None:
            raise ValueError("g: required for model='mean_field'")
        return gross_pitaevskii(ring, n_particles, g, twist, **solver_options)
    if U is None:
        raise ValueError("U: required for model='bose_hubbard'")
    # TeNPy (the optional 'dmrg' extra) is imported by bose_hubbard only when a DMRG state is
    # requested, so the rest of tgsweep works without it.
    return bose_hubbard.dmrg_ground_state(ring, n_particles, U=U, n_max=n_max, twist=twist,
                                          **solver_options)

