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
* Two propagators, chosen by ``method`` ("eigen", "chebyshev" or "auto"; see
  :func:`choose_method`):

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

  Which outputs need which: densities, orbitals, gamma_t, N_tr(t), cell counts and the sup's
  over the time grid come from either; the infinite-time average (``diagonal_density``,
  ``n_transferred_inf``, ``cell_counts_inf``) needs the eigenbasis, which
  :func:`dynamics_sample` then builds in addition (or fills with NaN beyond
  DENSE_MAX_DYNAMICS, see its ``infinite_time``).

  benchmarks/bench_dynamics.py (one core, lattice, one step dt = 1, K_cheb = 21): Chebyshev
  1.3-2.6 ns per (M N K_cheb), flat from M = 500 to 8000 (M = 8000: N = 2000 0.84 s/step,
  N = 50 0.014 s/step); eigen 0.06-0.09 ns per M^2 N (M = 4000, N = 1000: 0.99 s/step
  after a 12 s eigh).  For long steps (dt ~ 40 on the lattice) eigen steps are cheaper below
  M ~ 4000: "auto" weighs both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ..models.ring import Ring, is_real_twist
from . import _dynamics_kernels as K
from .initial_states import InitialState
from .obdm import obdm_lattice
from .spectrum import spectral_bounds

__all__ = ["time_grid", "Evolution", "evolve_orbitals", "evolve_density",
           "diagonal_ensemble_density", "evolved_obdm", "DENSE_MAX_DYNAMICS", "METHODS",
           "choose_method", "CHEB_MAX_ARG"]

#: largest ring (grid points) for which the dense eigendecomposition is attempted
DENSE_MAX_DYNAMICS = 6000

#: propagators of :class:`Evolution` ("auto" picks one by :func:`choose_method`)
METHODS = ("eigen", "chebyshev", "auto")

#: largest Chebyshev argument a = ||H|| dt / 2 per sub-step: longer steps are split into equal
#: sub-steps (bounds the round-off growth of one long series; K_cheb / a is ~1.1 here)
CHEB_MAX_ARG = 1000.0

# single-thread cost constants of the cost model in :func:`choose_method` (seconds; measured
# with benchmarks/bench_dynamics.py, see there): one Chebyshev term per matrix element
# (M N), one eigenbasis step per real multiply-add of the (M, K) x (K, 2N) GEMM, eigh per M^3
_COST_CHEB_TERM = 2.0e-9
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
                  truncation: float = 0.0, eigenbasis_needed: bool = False) -> str:
    """The propagator "auto" resolves to: "eigen" or "chebyshev".

    Rules, in order: M > :data:`DENSE_MAX_DYNAMICS` -> "chebyshev" (no dense eigh);
    ``truncation`` > 0 -> "eigen" (truncation is an eigenbasis feature); no ``times`` given ->
    "eigen"; otherwise the cheaper by a single-thread cost model of the whole time grid
    (propagating from one time to the next, starting at t = 0):

        eigen      ~ [eigh 0.25 ns M^3 + projection] + T x GEMM (M, M) x (M, 2N) (x2 complex)
        chebyshev  ~ 2 ns M N sum_steps K_cheb(||H|| dt / 2),

    where the eigh term is dropped when ``eigenbasis_needed`` (the infinite-time average is
    wanted and pays for it anyway).  So "chebyshev" wins for many time points relative to M
    (fine grids) and for large M; "eigen" for few, long steps on small rings.
    """
    m = ring.n_grid
    if m > DENSE_MAX_DYNAMICS:
        return "chebyshev"
    if truncation > 0 or times is None:
        return "eigen"
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
    return "chebyshev" if cost_cheb < cost_eig else "eigen"


@dataclass(frozen=True, eq=False)
class Evolution:
    """A prepared propagator for the initial orbitals in the ring H_phi.

    Build with :meth:`prepare`; then :meth:`orbitals`, :meth:`density`, :meth:`obdm` (both
    methods) and :meth:`diagonal_density` (eigen only) share the preparation.

    Attributes
    ----------
    ring, initial : the release ring and the initial state.
    method : "eigen" or "chebyshev" (resolved; never "auto").
    energies : (K,) eigenvalues of H_phi kept (all M unless ``truncation`` > 0); eigen only,
        None for chebyshev (as are ``vectors`` and ``coef``).
    vectors : (M, K) lattice-normalized eigenvectors (real for phi in {0, pi}).
    coef : (K, N) complex, c_{j alpha} = <v_j | u_alpha> (lattice-normalized u).
    dropped_weight : sum over dropped modes of sum_alpha |c_{j alpha}|^2; every evolved orbital
        is within sqrt(dropped_weight) (plain 2-norm) of the exact one, at all times.
    bounds : (E_lo, E_hi), the Gershgorin interval used to rescale H (chebyshev; both methods
        fill it).
    """

    ring: Ring
    initial: InitialState
    energies: np.ndarray | None
    vectors: np.ndarray | None
    coef: np.ndarray | None
    dropped_weight: float
    method: str = "eigen"
    bounds: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def prepare(cls, ring: Ring, initial: InitialState, truncation: float = 0.0,
                method: str = "auto", times=None) -> "Evolution":
        """Prepare the propagator: diagonalize H_phi (eigen) or just bound its spectrum
        (chebyshev).

        Parameters
        ----------
        truncation : float >= 0, eigen only: drop the eigenmodes of least weight
            sum_alpha |c_j alpha|^2 as long as the dropped total stays <= truncation^2, so each
            evolved orbital is off by at most ``truncation`` in the 2-norm.  0 keeps every mode.
        method : "eigen", "chebyshev" or "auto" (:func:`choose_method` with ``times``; without
            ``times``, "eigen" up to DENSE_MAX_DYNAMICS grid points, "chebyshev" beyond).
        times : optional time grid the evolution will be asked for (only used by "auto").
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
                                   complex_twist=not is_real_twist(phi))
        bounds = spectral_bounds(ring)
        if method == "chebyshev":
            if truncation > 0:
                raise ValueError("truncation: only for method='eigen' (chebyshev is exact)")
            return cls(ring, initial, None, None, None, 0.0, "chebyshev", bounds)
        if ring.n_grid > DENSE_MAX_DYNAMICS:
            raise ValueError(f"ring: M = {ring.n_grid} grid points exceeds the dense limit "
                             f"DENSE_MAX_DYNAMICS = {DENSE_MAX_DYNAMICS}; use "
                             f"method='chebyshev'")
        w, v = sla.eigh(ring.matrix(phi), driver="evd")
        u0 = initial.lattice_orbitals.astype(np.complex128)
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
        # column-major: each orbital is contiguous for the per-orbital Chebyshev recursion
        u = np.asfortranarray(self.initial.lattice_orbitals, dtype=np.complex128)
        t_prev = 0.0
        cache: dict = {}
        for t in times:
            u = self._cheb_step(u, float(t) - t_prev, cache)
            t_prev = float(t)
            yield u

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
