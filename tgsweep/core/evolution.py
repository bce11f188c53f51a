"""Propagation of free-fermion orbitals in the ring: e^{-i t H_phi} u_alpha (the TG dynamics).

By the Bose-Fermi map, a TG state prepared as a Slater determinant of orthonormal orbitals
u_1..u_N (one-particle density matrix of the fermions Gamma = sum_alpha |u_alpha><u_alpha|)
evolves into the Slater determinant of u_alpha(t) = e^{-i t H} u_alpha.  The bosonic density
equals the fermionic one,

    rho_t(x) = (e^{-i t H} Gamma e^{i t H})(x, x) = sum_alpha |u_alpha(t)(x)|^2,

and the bosonic one-particle density matrix gamma_t is Lenard's determinant of the evolved
orbitals (:func:`tgsweep.core.obdm.obdm_lattice`, valid for any orthonormal set).

Conventions
-----------
* Units hbar = 1 and hbar^2/2m = 1: H = -d^2/dx^2 + V (continuum) so energies are in units of
  hbar^2/(2m (length)^2) and **time t is in units of 2m (length)^2/hbar**.  Lattice: energies in
  the units of the hopping/on-site energies (t = 1 usually), time in units of hbar/energy.
* H is the ring operator with the *fermion* twist phi = theta + pi (N - 1) of the initial state
  (boundary gauge, see :mod:`tgsweep.models.ring`); theta is the boson twist.
* Densities are per unit length (continuum: sum_i rho(x_i) h = N; lattice: site occupations), as
  :meth:`tgsweep.State.density`.  Orbitals are density-normalized (sum_i |u|^2 h = 1).
* Three propagators, chosen by ``method`` ("eigen", "chebyshev", "support" or "auto"; "auto"
  takes the cheapest by an estimate of each path's cost, :func:`choose_method`):

  - **eigen**: the full dense eigendecomposition of H (LAPACK ``eigh``), O(M^3) time and
    O(M^2) memory once per sample, then one (M, K) x (K, N) matrix product per time step
    (K <= M eigenmodes kept, see ``truncation``): O(M K N) per step, run as a real GEMM.
    Dense stops at :data:`DENSE_MAX_DYNAMICS` grid points.  Needed for the infinite-time
    (diagonal-ensemble) average and for ``truncation``.
  - **chebyshev**: the Chebyshev series of e^{-i H dt} (Tal-Ezer & Kosloff, J. Chem. Phys. 81,
    3967 (1984)) applied to the orbitals with the tridiagonal-plus-corner ring matvec, from one
    time of the grid to the next: O(M N K_cheb) per step and O(M N) memory, no
    eigendecomposition, any M.  K_cheb ~ a + 11 a^{1/3} + 6 terms with a = ||H|| dt / 2
    (Gershgorin bounds; continuum ||H|| ~ 4/h^2), so the cost grows with the time *step* and
    a fine time grid is cheap.  Each step is exact to ~1e-15 (Bessel tail below 1e-16); errors
    add up over steps (tests: < 1e-9 after 10^4 steps).

  - **support**: the same Chebyshev series, but each orbital only on its own window of
    consecutive sites (the kept part of the orbital plus K_cheb sites each side, re-cut at
    every sub-step after trimming tails of weight <= eta^2), which is exactly the full-ring
    polynomial applied to the trimmed orbital; orbitals that are eigenvectors to within
    max|t| ||(H - E) u|| <= tol/2 are not propagated at all.  O(window K_cheb) per orbital
    and sub-step instead of O(M K_cheb): on Anderson-localized rings the windows stay a few
    tens of localization lengths (plus 2 K_cheb) wide, independent of M.  Each orbital
    carries a rigorous 2-norm error bound (dropped norms + Bessel tail + round-off allowance,
    see :meth:`Evolution.support_density`), hence a bound on every particle count.  Windows
    that reach M sites move to the whole ring (clean rings: it becomes "chebyshev") and are
    cut back to a window when they fit again.

  Which outputs need which: densities, orbitals, gamma_t, N_tr(t), cell counts and the sup's
  over the time grid come from any of them; the infinite-time average (``diagonal_density``,
  ``n_transferred_inf``, ``cell_counts_inf``) needs the eigenbasis, which
  :func:`dynamics_sample` then builds in addition (or fills with NaN beyond
  DENSE_MAX_DYNAMICS, see its ``infinite_time``).

  benchmarks/bench_dynamics.py (one core, lattice, one step dt = 1, K_cheb = 21): Chebyshev
  1.3-2.6 ns per (M N K_cheb), flat from M = 500 to 8000 (M = 8000: N = 2000 0.84 s/step,
  N = 50 0.014 s/step); eigen 0.06-0.09 ns per M^2 N (M = 4000, N = 1000: 0.99 s/step
  after a 12 s eigh).  For long steps (dt ~ 40 on the lattice) eigen steps are cheaper below
  M ~ 4000: "auto" weighs both.  Support vs Chebyshev per step dt = 1 (N = M/4 site
  orbitals, W = 2): 3.5x at M = 1000, 42x at M = 10^4 (the ratio grows like M); the
  10^5-site ring with N = 10^4 to t = 1000 (W = 4) takes about a minute of CPU time
  (``bench_dynamics.py goal``).  ``bench_dynamics.py auto``: the cost model's choice was the
  fastest measured method in all 18 cases (M = 250-2000, W = 0.5-4, grids to t = 100 and
  1000); support beats chebyshev from M ~ 1000 on disordered lattice rings and eigen from
  M ~ 1000-2000 depending on the grid.  Windows that reached the whole ring are cut back
  when they fit again (``recut``); in the measured cases those orbitals' trimmed parts cover
  >= 70% of the ring (their localization width is the ring's), so this saves little (see
  ``bench_dynamics.py recut``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.linalg as sla

from ..models.ring import Ring, is_real_twist
from . import _dynamics_kernels as K
from .initial_states import InitialState
from .obdm import obdm_lattice
from ._lyapunov_kernels import log_growth
from .spectrum import spectral_bounds

__all__ = ["time_grid", "Evolution", "evolve_orbitals", "evolve_density",
           "diagonal_ensemble_density", "evolved_obdm", "DENSE_MAX_DYNAMICS", "METHODS",
           "choose_method", "method_costs", "support_cost", "CHEB_MAX_ARG", "SUPPORT_TOL",
           "is_disordered"]

#: largest ring (grid points) for which the dense eigendecomposition is attempted
DENSE_MAX_DYNAMICS = 6000

#: propagators of :class:`Evolution` ("auto" picks one by :func:`choose_method`)
METHODS = ("eigen", "chebyshev", "support", "auto")

#: default target of the support propagator: 2-norm error of each evolved orbital over the
#: whole time grid (the reported bound is what was actually accumulated, see
#: :meth:`Evolution.support_density`)
SUPPORT_TOL = 1e-10

# support propagator: smallest 2-norm dropped per trimming step (below it the Chebyshev
# round-off halo, ~1e-16 per site over the window margin, could not be trimmed and windows
# would only grow); round-off allowance per series term added to each orbital's bound; range
# of the sub-step argument a = ||H|| dt / 2 that the window cost model chooses from
_SUPPORT_TRIM_FLOOR = 1e-13
_SUPPORT_ROUNDOFF_TERM = 2.3e-16
_SUPPORT_A_MIN, _SUPPORT_A_MAX = 4.0, 400.0

#: largest Chebyshev argument a = ||H|| dt / 2 per sub-step: longer steps are split into equal
#: sub-steps (bounds the round-off growth of one long series; K_cheb / a is ~1.1 here)
CHEB_MAX_ARG = 1000.0

# single-thread cost constants of the cost model in :func:`choose_method` (seconds; measured
# with benchmarks/bench_dynamics.py, see there): one Chebyshev term per matrix element
# (M N), one eigenbasis step per real multiply-add of the (M, K) x (K, 2N) GEMM, eigh per M^3
_COST_CHEB_TERM = 2.0e-9
_COST_SUPPORT_TERM = 1.5e-9
_COST_GEMM = 0.035e-9
_COST_EIGH = 0.25e-9


# ============================================================================ time grids
def time_grid(t_max: float, n_linear: int = 0, n_log: int = 0, t_min_log: float = 0.1
              ) -> np.ndarray:
    """Sorted unique times in [0, t_max]: 0, n_linear equally spaced up to t_max and n_log
    log-spaced points from ``t_min_log`` to t_max (units 2m length^2/hbar; lattice hbar/t)."""
    if not (np.isfinite(t_max) and t_max >= 0):
        raise ValueError(f"t_max: must be a non-negative number, got {t_max!r}")
    parts = [np.zeros(1)]
    if n_linear > 0:
        parts.append(np.linspace(0.0, t_max, int(n_linear) + 1)[1:])
    if n_log > 0 and t_max > 0:
        if not 0 < t_min_log <= t_max:
            raise ValueError("t_min_log: must lie in (0, t_max]")
        parts.append(np.geomspace(t_min_log, t_max, int(n_log)))
    return np.unique(np.concatenate(parts))


# ============================================================================ evolution
def _cheb_terms(a: float) -> float:
    # fit of len(chebyshev_coefficients(a)) (tol 1e-16): within ~10% for 1 <= a <= 1e4
    a = abs(a)
    return a + 11.0 * a ** (1.0 / 3.0) + 6.0


def _cheb_substeps(dt: float, scale: float) -> tuple[int, float]:
    a = abs(dt) * scale
    n = max(1, int(np.ceil(a / CHEB_MAX_ARG)))
    return n, dt / n


def choose_method(ring: Ring, n_particles: int, times=None, *, complex_twist: bool = False,
                  truncation: float = 0.0, eigenbasis_needed: bool = False,
                  tol: float = SUPPORT_TOL) -> str:
    """The propagator "auto" resolves to: "eigen", "chebyshev" or "support".

    Rules, in order: ``truncation`` > 0 -> "eigen" (an eigenbasis feature; the sweep refuses
    it beyond the dense limit at parse time); M > :data:`DENSE_MAX_DYNAMICS` -> "support" for
    a disordered lattice ring (:func:`is_disordered`), "chebyshev" otherwise (no dense eigh);
    no ``times`` given -> "eigen"; otherwise the cheapest by a single-thread cost model of the
    whole time grid (propagating from one time to the next, starting at t = 0; "support" only
    on disordered lattice rings):

        eigen      ~ [eigh 0.25 ns M^3 + projection] + T x GEMM (M, M) x (M, 2N) (x2 complex)
        chebyshev  ~ 2 ns M N sum_steps K_cheb(||H|| dt / 2),
        support    ~ 1.5 ns N sum_substeps K_sub w(t),  w(t) = min(M, min(2 v t, 2 l_c) + 2 K_sub)

    (:func:`support_cost`: the estimated window w(t) of an orbital grows at the
    Lieb-Robinson speed v = 2 t_hop until it reaches the width 2 l_c at which a state
    localized with the smallest Lyapunov exponent of the band falls below the trimming level;
    the sub-steps are the ones the propagator takes), where the eigh term is dropped when
    ``eigenbasis_needed`` (the infinite-time average is wanted and pays for it anyway).  So
    "support" wins on disordered lattice rings once the windows are narrower than the ring,
    "chebyshev" for fine grids on clean rings, "eigen" for few long steps on small rings or
    when the eigenbasis is built anyway; benchmarks/bench_dynamics.py ``auto`` measures all
    three against this choice.
    """
    m = ring.n_grid
    support_ok = ring.kind == "lattice" and is_disordered(ring)
    if truncation > 0:
        return "eigen"
    if m > DENSE_MAX_DYNAMICS:
        return "support" if support_ok else "chebyshev"
    if times is None:
        return "eigen"
    costs = method_costs(ring, n_particles, times, complex_twist=complex_twist,
                         eigenbasis_needed=eigenbasis_needed, tol=tol)
    if not support_ok:
        costs.pop("support")
    return min(costs, key=costs.get)


def method_costs(ring: Ring, n_particles: int, times, *, complex_twist: bool = False,
                 eigenbasis_needed: bool = False, tol: float = SUPPORT_TOL) -> dict:
    """Estimated single-thread seconds of each propagator for the time grid (the cost model
    of :func:`choose_method`): {"eigen": ..., "chebyshev": ..., "support": ...}."""
    m = ring.n_grid
    t = np.atleast_1d(np.asarray(times, dtype=np.float64))
    n = max(int(n_particles), 1)
    lo, hi = spectral_bounds(ring)
    scale = 0.5 * (hi - lo)
    steps = np.diff(np.concatenate([[0.0], t]))
    steps = steps[steps != 0]
    terms = 0.0
    for dt in steps:
        k, sub = _cheb_substeps(float(dt), scale)
        terms += k * _cheb_terms(sub * scale)
    cost_cheb = _COST_CHEB_TERM * m * n * terms
    gemm = _COST_GEMM * m * m * 2 * n * (2 if complex_twist else 1)
    cost_eig = gemm * t.size
    if not eigenbasis_needed:
        cost_eig += _COST_EIGH * m**3 + gemm
    return {"eigen": cost_eig, "chebyshev": cost_cheb,
            "support": _COST_SUPPORT_TERM * n * support_cost(ring, t, tol)}


def support_cost(ring: Ring, times, tol: float = SUPPORT_TOL) -> float:
    """Estimated sum over the support propagator's sub-steps of K_sub x window for one orbital
    (see :func:`choose_method`); the windows follow the propagator's own sub-step choice."""
    m = ring.n_grid
    t = np.atleast_1d(np.asarray(times, dtype=np.float64))
    lo, hi = spectral_bounds(ring)
    scale = 0.5 * (hi - lo) * (1.0 + 1e-12) + 1e-300
    hop = float(ring.hopping)
    steps = np.diff(np.concatenate([[0.0], t]))
    n_est = int(sum(max(1, int(np.ceil(scale * abs(d) / 30.0))) for d in steps if d)) + 1
    eta = max(tol / (4.0 * n_est), _SUPPORT_TRIM_FLOOR)
    es = np.linspace(lo, hi, 18)[1:-1]
    g = np.minimum(log_growth(ring.diag, hop, es, 1.0, 0.0),
                   log_growth(ring.diag, hop, es, 0.0, 1.0)) / m
    gmin = float(np.min(g))
    loc = 2.0 * np.log(np.sqrt(2.0) / eta) / gmin if gmin > 0 else float(m)
    total = 0.0
    t_now = 0.0
    for dt in steps:
        kept = min(2.0 * 2.0 * hop * abs(t_now), loc, float(m)) + 1.0
        n_sub = max(1, int(np.ceil(scale * abs(dt) / _best_substep_arg(kept))))
        k_sub = _cheb_terms(scale * abs(dt) / n_sub)
        for j in range(n_sub):
            tj = abs(t_now) + abs(dt) * (j + 1) / n_sub
            width = min(float(m), min(2.0 * 2.0 * hop * tj, loc) + 1.0 + 2.0 * k_sub)
            total += k_sub * width
        t_now += dt
    return total


def is_disordered(ring: Ring) -> bool:
    """The ring's potential is not constant (a constant only shifts the energies)."""
    pot = np.asarray(ring.potential, dtype=np.float64)
    return bool(pot.size and np.ptp(pot) > 0)


def _dense_orbitals(initial: InitialState) -> np.ndarray:
    u = initial.lattice_orbitals
    return u.toarray() if hasattr(u, "toarray") else np.asarray(u)


@dataclass(frozen=True, eq=False)
class Evolution:
    """A prepared propagator for the initial orbitals in the ring H_phi.

    Build with :meth:`prepare`; then :meth:`orbitals`, :meth:`density`, :meth:`obdm` (both
    methods) and :meth:`diagonal_density` (eigen only) share the preparation.

    Attributes
    ----------
    ring, initial : the release ring and the initial state.
    method : "eigen", "chebyshev" or "support" (resolved; never "auto").
    energies : (K,) eigenvalues of H_phi kept (all M unless ``truncation`` > 0); eigen only,
        None for chebyshev (as are ``vectors`` and ``coef``).
    vectors : (M, K) lattice-normalized eigenvectors (real for phi in {0, pi}).
    coef : (K, N) complex, c_{j alpha} = <v_j | u_alpha> (lattice-normalized u).
    dropped_weight : sum over dropped modes of sum_alpha |c_{j alpha}|^2; every evolved orbital
        is within sqrt(dropped_weight) (plain 2-norm) of the exact one, at all times.
    bounds : (E_lo, E_hi), the Gershgorin interval used to rescale H (chebyshev, support; all
        methods fill it).
    tol : support only: the target 2-norm error of each evolved orbital over the time grid
        (see :meth:`support_density`).
    """

    ring: Ring
    initial: InitialState
    energies: np.ndarray | None
    vectors: np.ndarray | None
    coef: np.ndarray | None
    dropped_weight: float
    method: str = "eigen"
    bounds: tuple[float, float] = (0.0, 0.0)
    tol: float = SUPPORT_TOL

    @classmethod
    def prepare(cls, ring: Ring, initial: InitialState, truncation: float = 0.0,
                method: str = "auto", times=None, tol: float = SUPPORT_TOL) -> "Evolution":
        """Prepare the propagator: diagonalize H_phi (eigen) or just bound its spectrum
        (chebyshev).

        Parameters
        ----------
        truncation : float >= 0, eigen only: drop the eigenmodes of least weight
            sum_alpha |c_j alpha|^2 as long as the dropped total stays <= truncation^2, so each
            evolved orbital is off by at most ``truncation`` in the 2-norm.  0 keeps every mode.
        method : "eigen", "chebyshev", "support" or "auto" (:func:`choose_method` with
            ``times``; without ``times``, "eigen" up to DENSE_MAX_DYNAMICS grid points,
            "support" / "chebyshev" beyond).
        times : optional time grid the evolution will be asked for (only used by "auto").
        tol : support only, the target orbital error (see :meth:`support_density`).
        """
        if initial.n_grid != ring.n_grid:
            raise ValueError(f"initial: built for {initial.n_grid} grid points, ring has "
                             f"{ring.n_grid}")
        if method not in METHODS:
            raise ValueError(f"method: must be one of {METHODS}, got {method!r}")
        if not (np.isfinite(truncation) and truncation >= 0):
            raise ValueError(f"truncation: must be a non-negative number, got {truncation!r}")
        phi = initial.fermion_twist
        if method == "auto":
            method = choose_method(ring, initial.n_particles, times, truncation=truncation,
                                   complex_twist=not is_real_twist(phi), tol=tol)
        bounds = spectral_bounds(ring)
        if method in ("chebyshev", "support"):
            if truncation > 0:
                raise ValueError(f"truncation: only for method='eigen' ({method} has its own "
                                 f"error control)")
            if not (np.isfinite(tol) and tol > 0):
                raise ValueError(f"tol: must be a positive number, got {tol!r}")
            return cls(ring, initial, None, None, None, 0.0, method, bounds, float(tol))
        if ring.n_grid > DENSE_MAX_DYNAMICS:
            if truncation > 0:
                raise ValueError(f"truncation: needs the dense eigenbasis, built only up to "
                                 f"DENSE_MAX_DYNAMICS = {DENSE_MAX_DYNAMICS} grid points "
                                 f"(M = {ring.n_grid}); use truncation = 0")
            raise ValueError(f"ring: M = {ring.n_grid} grid points exceeds the dense limit "
                             f"DENSE_MAX_DYNAMICS = {DENSE_MAX_DYNAMICS}; use "
                             f"method='chebyshev'")
        w, v = sla.eigh(ring.matrix(phi), driver="evd")
        u0 = _dense_orbitals(initial).astype(np.complex128)
        coef = v.conj().T @ u0
        dropped = 0.0
        if truncation > 0 and coef.shape[1]:
            weight = np.sum(np.abs(coef) ** 2, axis=1)
            order = np.argsort(weight)
            csum = np.cumsum(weight[order])
            n_drop = int(np.searchsorted(csum, truncation**2, side="right"))
            if n_drop:
                dropped = float(csum[n_drop - 1])
                keep = np.sort(order[n_drop:])
                w, v, coef = w[keep], v[:, keep], coef[keep]
        return cls(ring, initial, np.ascontiguousarray(w), np.ascontiguousarray(v),
                   np.ascontiguousarray(coef), dropped, "eigen", bounds)

    @property
    def real(self) -> bool:
        """Real eigenvectors (eigen method with phi in {0, pi})."""
        return self.vectors is not None and not np.iscomplexobj(self.vectors)

    def _need_eigen(self, what: str) -> None:
        if self.method != "eigen":
            raise ValueError(f"{what}: needs the eigenbasis; prepare with method='eigen'")

    def _shift(self) -> float:
        # a global energy shift only changes a global phase; it keeps E t small for long times
        return float(np.median(self.energies)) if self.energies.size else 0.0

    # ------------------------------------------------------------------ chebyshev
    def _cheb_step(self, u: np.ndarray, dt: float, cache: dict) -> np.ndarray:
        """e^{-i H dt} u for lattice-normalized u (M, N) complex (Fortran order is fastest);
        returns a new array of the same layout (or u itself for dt = 0)."""
        if dt == 0.0 or u.shape[1] == 0:
            return u
        lo, hi = self.bounds
        center = 0.5 * (hi + lo)
        # a hair wider than Gershgorin so round-off in the bounds cannot leave [-1, 1]
        scale = 0.5 * (hi - lo) * (1.0 + 1e-12) + 1e-300
        n_sub, sub = _cheb_substeps(dt, scale)
        coef = cache.get(sub)
        if coef is None:
            coef = K.chebyshev_coefficients(scale * sub) * np.exp(-1j * center * sub)
            cache[sub] = coef
        ring = self.ring
        corner = complex(ring.corner(self.initial.fermion_twist))
        out = np.empty_like(u)  # keeps u's memory order
        src = u
        for _ in range(n_sub):
            K.chebyshev_propagate(ring.diag, float(ring.hopping), corner, center, scale, coef,
                                  src, out)
            src = out
        return out

    def iter_orbitals(self, times):
        """Yield the evolved lattice-normalized orbitals (M, N) complex at each of ``times``.

        chebyshev propagates from the previous time of the sequence (starting at t = 0), so
        any order works and non-uniform grids cost by their steps; eigen evaluates each time
        directly.  The yielded arrays must not be modified (chebyshev reuses them).
        """
        times = np.atleast_1d(np.asarray(times, dtype=np.float64))
        if self.method == "eigen":
            for t in times:
                ph = np.exp(-1j * self.energies * float(t))
                yield self.vectors @ (ph[:, None] * self.coef)
            return
        if self.method == "support":
            m = self.ring.n_grid
            for fr in self._support_frames(times):
                u = np.zeros((m, self.initial.n_particles), dtype=np.complex128, order="F")
                for a, (st, v) in enumerate(fr.windows):
                    u[(st + np.arange(v.size)) % m, a] = v * fr.phases[a]
                yield u
            return
        # column-major: each orbital is contiguous for the per-orbital Chebyshev recursion
        u = np.asfortranarray(_dense_orbitals(self.initial), dtype=np.complex128)
        t_prev = 0.0
        cache: dict = {}
        for t in times:
            u = self._cheb_step(u, float(t) - t_prev, cache)
            t_prev = float(t)
            yield u

    # ------------------------------------------------------------------ support
    def _initial_windows(self) -> list:
        """Each initial orbital on the shortest arc holding its nonzero entries: a list of
        (start, values (n,) complex) with n < M, or (0, the whole vector) when that arc is the
        ring (lattice-normalized, ring gauge)."""
        u = self.initial.lattice_orbitals
        m = self.ring.n_grid
        out = []
        if hasattr(u, "tocsc"):
            u = u.tocsc()
            cols = ((u.indices[u.indptr[a]:u.indptr[a + 1]], u.data[u.indptr[a]:u.indptr[a + 1]])
                    for a in range(u.shape[1]))
        else:
            u = np.asarray(u)
            cols = ((np.flatnonzero(u[:, a]), u[np.flatnonzero(u[:, a]), a])
                    for a in range(u.shape[1]))
        for rows, vals in cols:
            start, n = _arc(rows, m)
            v = np.zeros(n, dtype=np.complex128)
            v[(rows - start) % m] = vals
            out.append((start, v))
        return out

    def support_density(self, times, recut: bool = True) -> "SupportRun":
        """Density on the time grid by the support-restricted propagator, with its error bound.

        Each orbital lives on a window of consecutive sites.  Per sub-step of length dt:
        (i) trim: drop the outermost entries whose weight sum_j |v_j|^2 is at most eta^2 / 2
        on each side (this changes the orbital by exactly the dropped 2-norm, added to its
        bound); (ii) re-cut the window to the kept part plus K sites on each side, K the number
        of Chebyshev terms of the step; (iii) apply the series on that open segment.  A
        polynomial of degree K - 1 in the tridiagonal H moves weight by at most K - 1 sites, so
        step (iii) equals the full-ring series applied to the trimmed orbital (to round-off),
        and the only errors are the trimming and the series' tail, bounded by
        sum_{k >= K} 2 |J_k(a)| (:func:`~tgsweep.core._dynamics_kernels.chebyshev_tail_bound`),
        plus a round-off allowance of 2.3e-16 per term.  Unitarity makes these errors add
        (||U psi - U phi|| = ||psi - phi||), so each orbital's 2-norm error after n sub-steps
        is at most the sum of its n increments: that sum is ``orbital_error``.  Windows of a
        localized orbital stay a few localization lengths plus 2K wide (cost O(window K) per
        step instead of O(M K)); a window that would reach M sites moves to the whole ring
        (then it is the "chebyshev" method for that orbital; clean rings end up there).  With
        ``recut`` (default) a whole-ring orbital is cut back to a window at the start of a
        time interval when its trimmed part (:func:`_trim_ring`, the same trimming, dropped
        norm added) plus 2K sites fits in fewer than M; ``n_recut`` counts these.

        Static orbitals: an initial orbital with Rayleigh quotient E and residual
        r = ||(H - E) v|| (full ring operator, before trimming) for which max|t| r <= tol / 2
        (e.g. an eigenvector of the hard-wall operator H_K far from the walls of K) is not
        propagated: e^{-iEt} v is within |t| r of
        e^{-iHt} v (Duhamel: the derivative of e^{iHt} e^{-iEt} v has norm r), which is added
        to its bound (with the norm its trimming drops).

        eta = max(tol / (4 n_est), 1e-13), n_est the expected number of sub-steps; the
        sub-step is chosen per time interval to minimize (mean kept width + 2K) K / a, a =
        ||H|| dt / 2 in [4, 400].

        Returns a :class:`SupportRun`: ``density`` (T, M) per unit length, ``orbital_error``
        (T, N) the bound on ||u_alpha(t) - exact|| (plain 2-norm, lattice normalization),
        ``n_static`` and ``max_window`` (T,), the longest window at each time.  Any particle
        count int_S rho_t over any set S of grid points is then within
        sum_alpha eps_alpha (2 + eps_alpha) of the exact one (|(||P u||^2 - ||P w||^2)| <=
        ||u - w|| (||u|| + ||w||) with ||u|| = 1, ||w|| <= 1 + eps).
        """
        times = np.atleast_1d(np.asarray(times, dtype=np.float64))
        m = self.ring.n_grid
        n = self.initial.n_particles
        rho = np.zeros((times.size, m))
        err = np.zeros((times.size, n))
        wmax = np.zeros(times.size, dtype=np.int64)
        n_static = n_recut = 0
        for i, fr in enumerate(self._support_frames(times, recut)):
            rho[i] = fr.static_density
            for a in fr.dynamic:
                st, v = fr.windows[a]
                K.window_density_add(rho[i], st, v)
            err[i] = fr.error
            wmax[i] = max((v.size for _, v in fr.windows), default=0)
            n_static = fr.n_static
            n_recut = fr.n_recut
        return SupportRun(rho / self.ring.weight, err, n_static, wmax, n_recut)

    def _support_frames(self, times, recut: bool = True):
        """Generator behind :meth:`support_density` / :meth:`iter_orbitals` (support): one
        :class:`_SupportFrame` per time, propagating from the previous time (from t = 0)."""
        ring = self.ring
        m = ring.n_grid
        tol = float(self.tol)
        lo, hi = self.bounds
        center = 0.5 * (hi + lo)
        scale = 0.5 * (hi - lo) * (1.0 + 1e-12) + 1e-300
        corner = complex(ring.corner(self.initial.fermion_twist))
        diag = np.ascontiguousarray(ring.diag, dtype=np.float64)
        hop = float(ring.hopping)
        gphase = -np.conj(corner) / hop
        t_all = np.concatenate([[0.0], times])
        steps = np.diff(t_all)
        n_est = int(sum(max(1, int(np.ceil(scale * abs(d) / 30.0))) for d in steps if d)) + 1
        eta = max(tol / (4.0 * n_est), _SUPPORT_TRIM_FLOOR)
        t_abs = float(np.max(np.abs(times))) if times.size else 0.0
        windows = self._initial_windows()
        n = len(windows)
        err = np.zeros(n)
        energy = np.zeros(n)
        resid = np.zeros(n)
        static = np.zeros(n, dtype=bool)
        static_density = np.zeros(m)
        kept = np.zeros(n)
        for a, (st, v) in enumerate(windows):
            # residual of the untrimmed orbital u: e^{-iEt} (trimmed u) is within
            # |t| r + ||u - trimmed u|| of e^{-iHt} u
            if v.size + 2 <= m:
                e, r = K.window_residual(diag, hop, gphase, st, v)
            else:
                e, r = _ring_residual(diag, hop, corner, _embed_window(m, st, v))
            energy[a], resid[a] = e, r
            if v.size < m:
                left, right, drop = K.trim_window(v, eta * eta)
                st = (st + left) % m
                v = v[left:v.size - right].copy()
            else:
                st, ln, drop = _trim_ring(v, eta * eta)
                v = v[(st + np.arange(ln)) % m] if ln < m else v
            err[a] = np.sqrt(drop)
            windows[a] = (st, v)
            kept[a] = v.size
            if t_abs * r <= 0.5 * tol:
                static[a] = True
                K.window_density_add(static_density, st, v)
        dynamic = np.flatnonzero(~static)
        cache: dict = {}

        def coefficients(dt):
            c = cache.get(dt)
            if c is None:
                cf = K.chebyshev_coefficients(scale * dt) * np.exp(-1j * center * dt)
                bound = (K.chebyshev_tail_bound(scale * dt, cf.size)
                         + _SUPPORT_ROUNDOFF_TERM * cf.size)
                c = cache[dt] = (cf, bound)
            return c

        t_prev = 0.0
        n_recut = 0
        for t in times:
            dt = float(t) - t_prev
            t_prev = float(t)
            if dt != 0.0 and dynamic.size:
                windowed = kept[dynamic][kept[dynamic] < m]
                width = float(np.mean(windowed)) if windowed.size else float(m)
                a_int = scale * abs(dt)
                n_sub = max(1, int(np.ceil(a_int / _best_substep_arg(width))))
                coef_sub, b_sub = coefficients(dt / n_sub)
                n_full, full_dt = _cheb_substeps(dt, scale)
                coef_full, b_full = coefficients(full_dt)
                for a in dynamic:
                    st, v = windows[a]
                    whole = v.size == m and st == 0
                    if whole and recut:
                        # back to a window when the trimmed orbital plus the sub-step's
                        # margins fits in fewer than M sites (the same trimming, its dropped
                        # norm added to the bound)
                        s_cut, ln, drop = _trim_ring(v, eta * eta)
                        if ln + 2 * coef_sub.size < m:
                            v = v[(s_cut + np.arange(ln)) % m]
                            st = s_cut
                            err[a] += np.sqrt(drop)
                            whole = False
                            n_recut += 1
                    st, v, dropped, k_len = K.support_interval(
                        diag, hop, corner, center, scale, coef_sub, n_sub, coef_full, n_full,
                        eta * eta, int(st), v)
                    windows[a] = (st, v)
                    kept[a] = k_len
                    err[a] += n_full * b_full if whole else dropped + n_sub * b_sub
            e_t = err.copy()
            e_t[static] += abs(float(t)) * resid[static]
            phases = np.ones(n, dtype=np.complex128)
            phases[static] = np.exp(-1j * energy[static] * float(t))
            yield _SupportFrame(windows, phases, static_density, dynamic, e_t, int(static.sum()),
                                n_recut)

    def orbitals(self, t: float) -> np.ndarray:
        """Evolved orbitals u_alpha(t) = e^{-i t H} u_alpha, (M, N) complex, density-normalized.

        The global phase is physical (no energy shift).  chebyshev: propagates from t = 0."""
        u = next(self.iter_orbitals([float(t)]))
        return u / np.sqrt(self.ring.weight)

    def density(self, times) -> np.ndarray:
        """rho_t(x_i) for t in ``times`` (T,): array (T, M), per unit length.

        eigen: O(M K N) per time; chebyshev: O(M N K_cheb(dt)) per step from the previous time.
        """
        times = np.atleast_1d(np.asarray(times, dtype=np.float64))
        out = np.empty((times.size, self.ring.n_grid))
        if self.initial.n_particles == 0:
            out[:] = 0.0
            return out
        if self.method == "support":
            return self.support_density(times).density
        if self.method == "chebyshev":
            for i, u in enumerate(self.iter_orbitals(times)):
                out[i] = np.sum(u.real**2 + u.imag**2, axis=1)
            return out / self.ring.weight
        e = np.ascontiguousarray(self.energies - self._shift())
        if self.real:
            K.density_steps_real(self.vectors, e, np.ascontiguousarray(self.coef.real),
                                 np.ascontiguousarray(self.coef.imag), times, out)
        else:
            K.density_steps_complex(self.vectors, e, self.coef, times, out)
        return out / self.ring.weight

    def clusters(self, degeneracy_tol: float | None = None) -> np.ndarray:
        """Boundaries (C+1,) of runs of eigenvalues closer than ``degeneracy_tol`` (default
        1e-9 (|E|_max + 1)), treated as one degenerate level in the infinite-time average."""
        self._need_eigen("clusters")
        e = self.energies
        if degeneracy_tol is None:
            degeneracy_tol = 1e-9 * (np.max(np.abs(e)) + 1.0) if e.size else 0.0
        cut = np.flatnonzero(np.diff(e) > degeneracy_tol) + 1
        return np.concatenate([[0], cut, [e.size]]).astype(np.int64)

    def diagonal_density(self, degeneracy_tol: float | None = None) -> np.ndarray:
        """Infinite-time (diagonal-ensemble) average lim_T (1/T) int_0^T rho_t dt, (M,).

        Equals diag(sum_E P_E Gamma P_E) with P_E the spectral projections of H_phi (degenerate
        levels grouped, see :meth:`clusters`).  Needs the eigenbasis (method "eigen").
        """
        self._need_eigen("diagonal_density")
        out = np.empty(self.ring.n_grid)
        starts = self.clusters(degeneracy_tol)
        if self.coef.shape[1] == 0:
            out[:] = 0.0
        elif self.real:
            K.cluster_density_real(self.vectors, np.ascontiguousarray(self.coef.real),
                                   np.ascontiguousarray(self.coef.imag), starts, out)
        else:
            K.cluster_density_complex(self.vectors, self.coef, starts, out)
        return out / self.ring.weight

    def obdm(self, t: float) -> np.ndarray:
        """Bosonic one-particle density matrix gamma_t (M, M), complex, same units as
        :func:`tgsweep.obdm` (lattice <b+_x b_y>; continuum density units).  O(M^2 N^2)."""
        u = self.orbitals(t) * np.sqrt(self.ring.weight)
        g = obdm_lattice(u)
        if self.ring.kind == "continuum":
            g /= self.ring.weight
        return g


class SupportRun(NamedTuple):
    """What :meth:`Evolution.support_density` returns (see there)."""

    density: np.ndarray
    orbital_error: np.ndarray
    n_static: int
    max_window: np.ndarray
    n_recut: int = 0

    def count_error(self) -> np.ndarray:
        """(T,) bound on the error of any particle count int_S rho_t: sum_alpha eps (2 + eps)."""
        e = self.orbital_error
        return np.sum(e * (2.0 + e), axis=1)


class _SupportFrame(NamedTuple):
    windows: list            # (start, values) per orbital (static ones: the t = 0 values)
    phases: np.ndarray       # (N,) e^{-iEt} for static orbitals, 1 for the others
    static_density: np.ndarray
    dynamic: np.ndarray      # indices of the propagated orbitals
    error: np.ndarray        # (N,) 2-norm bounds at this time
    n_static: int
    n_recut: int             # whole-ring orbitals re-cut to a window so far


def _arc(rows: np.ndarray, m: int) -> tuple[int, int]:
    """(start, n): the shortest arc (start + j) mod m, j < n, holding every site of ``rows``;
    (0, m) when it is the whole ring."""
    rows = np.unique(np.asarray(rows, dtype=np.int64))
    if rows.size == 0:
        return 0, 1
    gaps = np.diff(np.concatenate([rows, [rows[0] + m]]))
    g = int(np.argmax(gaps))
    n = m - int(gaps[g]) + 1
    if n >= m:
        return 0, m
    return int(rows[(g + 1) % rows.size]), n


def _trim_ring(v: np.ndarray, budget2: float) -> tuple[int, int, float]:
    """(start, n, dropped) for a whole-ring vector: :func:`trim_window` on the ring cut
    opposite its largest entry (the tails are summed from the outside in, so weights far
    below |v|^2 ~ 1 are resolved); (0, M, 0) if nothing can be dropped."""
    m = v.size
    shift = (int(np.argmax(np.abs(v))) - m // 2) % m
    rot = np.ascontiguousarray(v[(shift + np.arange(m)) % m], dtype=np.complex128)
    left, right, drop = K.trim_window(rot, budget2)
    if left + right == 0:
        return 0, m, 0.0
    return (shift + left) % m, m - left - right, float(drop)


def _embed_window(m: int, start: int, v: np.ndarray) -> np.ndarray:
    u = np.zeros(m, dtype=np.complex128)
    u[(start + np.arange(v.size)) % m] = v
    return u


def _ring_residual(diag, hop, corner, u) -> tuple[float, float]:
    """(E, ||(H - E) u||) for a whole-ring vector u, H u by the ring stencil (T_1 of the
    Chebyshev kernel with center 0, scale 1)."""
    hu = np.empty((u.size, 1), dtype=np.complex128)
    K.chebyshev_propagate(diag, hop, corner, 0.0, 1.0, np.array([0.0, 1.0], dtype=np.complex128),
                          u[:, None].copy(), hu)
    hu = hu[:, 0]
    e = float(np.real(np.vdot(u, hu)) / np.real(np.vdot(u, u)))
    return e, float(np.linalg.norm(hu - e * u))


def _best_substep_arg(width: float) -> float:
    """Sub-step argument a = ||H|| dt / 2 minimizing the windowed cost per unit time,
    (width + 2 K(a)) K(a) / a with K(a) the number of series terms."""
    a = np.geomspace(_SUPPORT_A_MIN, _SUPPORT_A_MAX, 64)
    k = a + 11.0 * a ** (1.0 / 3.0) + 6.0
    return float(a[np.argmin((width + 2.0 * k) * k / a)])


def evolve_orbitals(ring: Ring, initial: InitialState, times, method: str = "auto"
                    ) -> np.ndarray:
    """Evolved orbitals e^{-i t H_phi} u_alpha at each time: array (T, M, N) complex,
    density-normalized.  ``method``: see :meth:`Evolution.prepare` ("auto" decides with the
    time grid); see :class:`Evolution` to reuse the preparation."""
    ev = Evolution.prepare(ring, initial, method=method, times=times)
    h = np.sqrt(ring.weight)
    return np.stack([u / h for u in ev.iter_orbitals(times)])


def evolve_density(ring: Ring, initial: InitialState, times, truncation: float = 0.0,
                   method: str = "auto") -> np.ndarray:
    """Density rho_t(x_i) of the released TG gas = free-fermion density, array (T, M).

    Parameters
    ----------
    ring : the ring the gas evolves in (its potential is the disorder after release).
    initial : an :class:`InitialState` (``domain_wall``, ``trap_release``, ``spectral_window``).
    times : (T,) times, units 2m (length)^2/hbar (lattice: hbar/energy); negative allowed.
    truncation : see :meth:`Evolution.prepare` (eigen only).
    method : "eigen", "chebyshev" or "auto" (:func:`choose_method`).

    Returns
    -------
    (T, M) float array, per unit length (continuum sum_i rho h = N; lattice occupations).
    """
    return Evolution.prepare(ring, initial, truncation, method=method, times=times
                             ).density(times)


def diagonal_ensemble_density(ring: Ring, initial: InitialState,
                              degeneracy_tol: float | None = None) -> np.ndarray:
    """Infinite-time average of rho_t, (M,), per unit length (see
    :meth:`Evolution.diagonal_density`; always the eigen method)."""
    return Evolution.prepare(ring, initial, method="eigen").diagonal_density(degeneracy_tol)


def evolved_obdm(ring: Ring, initial: InitialState, times, method: str = "auto") -> np.ndarray:
    """Bosonic gamma_t at each time, (T, M, M) complex (see :meth:`Evolution.obdm`)."""
    ev = Evolution.prepare(ring, initial, method=method, times=times)
    h = ring.weight
    out = []
    for u in ev.iter_orbitals(times):
        g = obdm_lattice(u)
        out.append(g / h if ring.kind == "continuum" else g)
    return np.stack(out)
