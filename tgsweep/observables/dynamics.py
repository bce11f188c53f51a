"""Free-fermion dynamics of the Tonks-Girardeau gas: release of a prepared state into the ring.

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

Initial states (each returns an :class:`InitialState`)
------------------------------------------------------
(a) :func:`domain_wall`: ground state of N particles confined to an interval K (default: the
    first half of the ring) by hard walls, in the (disordered) ring's own potential; released
    into the whole ring.  On the lattice with N = |K| it is the fully filled step 1_K.
(b) :func:`trap_release`: ground state in a harmonic or box trap, by default *without* the
    disorder (Billy et al., Nature 453, 891 (2008): the gas is prepared in a clean trap and
    released into the disordered guide).
(c) :func:`spectral_window`: the orbitals of H restricted to K (hard walls) with energies in a
    window J, i.e. Gamma = P_J(H_K) (+) 0, a projection localized in K.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ..core import _dynamics_kernels as K
from ..core.obdm import obdm_lattice
from ..core.state import ground_state
from ..models.ring import Ring, _is_real_twist, fermion_twist

__all__ = ["InitialState", "domain_wall", "trap_release", "spectral_window", "region_mask",
           "time_grid", "Evolution", "evolve_orbitals", "evolve_density",
           "diagonal_ensemble_density", "evolved_obdm", "DynamicsSample", "dynamics_sample",
           "front_profile_lattice", "front_profile_continuum", "DENSE_MAX_DYNAMICS",
           "METHODS", "choose_method", "spectral_bounds", "CHEB_MAX_ARG"]

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


# ============================================================================ initial states
@dataclass(frozen=True, eq=False)
class InitialState:
    """A Slater determinant to be released into a ring.

    Attributes
    ----------
    orbitals : (M, N) array, density-normalized (sum_i |u|^2 h = 1), orthonormal.
    twist : boson twist theta.
    fermion_twist : phi = theta + pi (N - 1) reduced to (-pi, pi]; the evolution uses H_phi.
    region : (M,) bool, the region K the particles start in (used for N_tr and distances).
    label : "domain_wall", "trap_release" or "spectral_window".
    energies : (N,) eigenvalues of the preparation Hamiltonian (units hbar^2/2m = 1).
    spacing : h of the ring it was built for (density normalization).
    """

    orbitals: np.ndarray
    twist: float
    fermion_twist: float
    region: np.ndarray
    label: str
    energies: np.ndarray
    spacing: float

    @property
    def n_particles(self) -> int:
        return int(self.orbitals.shape[1])

    @property
    def n_grid(self) -> int:
        return int(self.orbitals.shape[0])

    @property
    def lattice_orbitals(self) -> np.ndarray:
        """Orbitals normalized in the plain inner product, u sqrt(h)."""
        return self.orbitals * np.sqrt(self.spacing)

    def density(self) -> np.ndarray:
        """rho_0(x_i) = sum_alpha |u_alpha(x_i)|^2 (per unit length)."""
        return np.sum(np.abs(self.orbitals) ** 2, axis=1)


def region_mask(ring: Ring, region=None) -> np.ndarray:
    """Boolean mask (M,) of an interval K of the ring.

    Parameters
    ----------
    region : None, (a, b) or bool array (M,)
        None: the first half, grid points with x < L/2.  (a, b): points with a <= x < b in
        length units (x = i h), taken modulo L so that a > b wraps through x = 0.  An array is
        returned as a copy after a shape check.
    """
    m = ring.n_grid
    if region is None:
        return ring.x < ring.length / 2
    arr = np.asarray(region)
    if arr.dtype == bool:
        if arr.shape != (m,):
            raise ValueError(f"region: boolean mask must have shape ({m},), got {arr.shape}")
        return arr.copy()
    if arr.shape != (2,):
        raise ValueError("region: give None, (a, b) in length units, or a boolean mask")
    a, b = (float(v) % ring.length for v in arr)
    x = ring.x
    eps = 1e-9 * ring.spacing
    if a <= b:
        return (x >= a - eps) & (x < b - eps)
    return (x >= a - eps) | (x < b - eps)


def _restricted_matrix(ring: Ring, phi: float, mask: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(mask)
    return ring.matrix(phi)[np.ix_(idx, idx)]


def _embed(ring: Ring, mask: np.ndarray, vecs: np.ndarray) -> np.ndarray:
    out = np.zeros((ring.n_grid, vecs.shape[1]), dtype=vecs.dtype)
    out[mask] = vecs
    return out / np.sqrt(ring.weight)


def domain_wall(ring: Ring, n_particles: int, region=None, twist: float = 0.0) -> InitialState:
    """(a) Ground state of ``n_particles`` confined by hard walls to the interval K.

    The orbitals are the N lowest eigenvectors of H_phi restricted to K (Dirichlet: zero on
    K^c), with the ring's own potential (disorder included) inside K.

    Parameters
    ----------
    ring : Ring, the ring the gas is released into.
    n_particles : N, at most |K| (the number of grid points in K).
    region : see :func:`region_mask`; default the first half of the ring.
    twist : boson twist theta (radians).
    """
    mask = region_mask(ring, region)
    n = int(n_particles)
    if n != n_particles or n < 0 or n > int(mask.sum()):
        raise ValueError(f"n_particles: must be an integer in [0, {int(mask.sum())}] "
                         f"(grid points in the region), got {n_particles!r}")
    phi = fermion_twist(twist, n) if n else float(twist)
    if n == 0:
        return InitialState(np.zeros((ring.n_grid, 0)), float(twist), phi, mask, "domain_wall",
                            np.zeros(0), ring.spacing)
    hk = _restricted_matrix(ring, phi, mask)
    w, v = sla.eigh(hk, subset_by_index=[0, n - 1], driver="evr")
    return InitialState(_embed(ring, mask, v), float(twist), phi, mask, "domain_wall", w,
                        ring.spacing)


def trap_release(ring: Ring, n_particles: int, trap: str = "harmonic", *, omega: float = 1.0,
                 center: float | None = None, region=None, with_disorder: bool = False,
                 twist: float = 0.0, method: str = "auto") -> InitialState:
    """(b) Ground state in a trap, to be released into the (disordered) ring.

    Parameters
    ----------
    ring : Ring, the ring the gas is released into.
    n_particles : N.
    trap : "harmonic" or "box".
        harmonic: V_trap(x) = (omega^2 / 4) d(x, x0)^2 with d the distance on the ring, the
        oscillator of mass m = 1/2 (hbar = 1) with levels omega (n + 1/2).  On a lattice the same
        formula with x the site index.  box: hard walls on ``region`` (this is
        :func:`domain_wall` with or without the disorder).
    omega : trap frequency (units of energy, hbar^2/(2m length^2)).
    center : x0 (length units); default L/2.
    region : the region K reported with the state.  Harmonic default: the Thomas-Fermi extent
        |x - x0| < 2 sqrt(N / omega) (where V_trap = E_F = N omega); box default: see
        :func:`region_mask` (first half).
    with_disorder : keep the ring's potential during preparation (default False, as in the
        expansion experiment of Billy et al. 2008).
    twist : boson twist theta.
    method : eigen-solver method for the harmonic case (see :func:`tgsweep.ground_state`).
    """
    base = ring if with_disorder else ring.with_potential(None)
    if trap == "box":
        st = domain_wall(base, n_particles, region=region, twist=twist)
        return InitialState(st.orbitals, st.twist, st.fermion_twist, st.region, "trap_release",
                            st.energies, st.spacing)
    if trap != "harmonic":
        raise ValueError(f"trap: must be 'harmonic' or 'box', got {trap!r}")
    if not (np.isfinite(omega) and omega > 0):
        raise ValueError(f"omega: must be a positive number, got {omega!r}")
    x0 = ring.length / 2 if center is None else float(center) % ring.length
    d = np.abs(ring.x - x0)
    d = np.minimum(d, ring.length - d)
    prep = base.with_potential(base.potential + 0.25 * omega**2 * d**2)
    st = ground_state(prep, n_particles, twist=twist, method=method)
    if region is None:
        mask = d < 2.0 * np.sqrt(st.n_particles / omega)
    else:
        mask = region_mask(ring, region)
    return InitialState(np.asarray(st.orbitals), st.twist, st.fermion_twist, mask,
                        "trap_release", np.asarray(st.energies), ring.spacing)


def spectral_window(ring: Ring, window, region=None, twist: float = 0.0) -> InitialState:
    """(c) Gamma = P_J(H_K): eigenvectors of H restricted to K with energies in J = [lo, hi].

    H_K is the ring operator (with its disorder) restricted to K with hard walls; N is the
    number of its eigenvalues in J (the setting of the dynamical-localization statement:
    an initial projection localized in K built from energies in J).  1_K P_J(H) 1_K itself is
    not a projection and so not a Slater determinant; P_J(H_K) is its natural stand-in.

    Parameters
    ----------
    window : (lo, hi), energies (units hbar^2/2m = 1); lo may be -inf.
    region : see :func:`region_mask`.
    twist : boson twist theta.  The fermion twist depends on the parity of N; it only changes
        H_K when K is the whole ring, where a consistent parity is required.
    """
    lo, hi = (float(v) for v in window)
    if not lo <= hi:
        raise ValueError(f"window: need lo <= hi, got {window!r}")
    mask = region_mask(ring, region)
    for parity in (1, 2):
        phi = fermion_twist(twist, parity)
        hk = _restricted_matrix(ring, phi, mask)
        w, v = np.linalg.eigh(hk)
        sel = (w >= lo) & (w <= hi)
        n = int(sel.sum())
        if n and (n - parity) % 2 == 0:
            return InitialState(_embed(ring, mask, v[:, sel]), float(twist), phi, mask,
                                "spectral_window", w[sel], ring.spacing)
        if n == 0 and parity == 2:
            return InitialState(np.zeros((ring.n_grid, 0)), float(twist), float(twist), mask,
                                "spectral_window", np.zeros(0), ring.spacing)
    raise ValueError("spectral_window: no particle number of consistent parity in the window "
                     "(K is the whole ring and the twisted spectra disagree); move the window")


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
def spectral_bounds(ring: Ring) -> tuple[float, float]:
    """Gershgorin interval [E_lo, E_hi] containing the spectrum of H_phi for every twist phi.

    Each row of H has diagonal diag_i and two off-diagonal entries of modulus t (the corner
    included), so E_lo = min diag - 2t, E_hi = max diag + 2t (units of energy; continuum
    t = 1/h^2, so the width is ~ 4/h^2 + max V - min V).
    """
    d = ring.diag
    return float(d.min() - 2.0 * ring.hopping), float(d.max() + 2.0 * ring.hopping)


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
                                   complex_twist=not _is_real_twist(phi))
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


# ============================================================================ per-sample output
@dataclass(frozen=True)
class DynamicsSample:
    """Per-sample dynamical observables (particle numbers are dimensionless counts).

    Attributes
    ----------
    times : (T,) the time grid (units 2m length^2/hbar; lattice hbar/t).
    cell_counts : (T, C) int_{I_n} rho_t over the unit cells I_n = [n, n+1) (lattice: sites).
    cell_counts_inf : (C,) the same for the infinite-time average (NaN when not computed, see
        :func:`dynamics_sample`'s ``infinite_time``).
    sup_cell_change : (C,) sup over the grid of |int_{I_n} rho_t - int_{I_n} rho_0|.
    sup_cell_counts : (C,) sup over the grid of int_{I_n} rho_t.
    cell_distance : (C,) signed distance (length units) of I_n to the boundary of K:
        dist(I_n, K^c) > 0 for cells inside K, -dist(I_n, K) < 0 outside, 0 for straddling cells.
        Distances are graph distances between grid points times h (a neighbour is at h).
    n_transferred : (T,) N_tr(t) = int_{K^c} rho_t - int_{K^c} rho_0 (on a ring an arc K has
        two walls: this is the total over both).
    n_transferred_inf : float, the same for the infinite-time average (NaN when not computed).
    depth : (D,) d = 0, 1, ..., D-1 (length units).
    sup_outside : (D,) sup_t int over {x not in K : dist(x, K) > d} of rho_t.
    sup_inside : (D,) sup_t int over {x in K : dist(x, K^c) > d} of rho_t.
    inside0 : (D,) int over {x in K : dist(x, K^c) > d} of rho_0.
    """

    times: np.ndarray
    cell_counts: np.ndarray
    cell_counts_inf: np.ndarray
    sup_cell_change: np.ndarray
    sup_cell_counts: np.ndarray
    cell_distance: np.ndarray
    n_transferred: np.ndarray
    n_transferred_inf: float
    depth: np.ndarray
    sup_outside: np.ndarray
    sup_inside: np.ndarray
    inside0: np.ndarray


def dynamics_sample(ring: Ring, initial: InitialState, times, truncation: float = 0.0,
                    evolution: Evolution | None = None, method: str = "auto",
                    infinite_time: bool | None = None) -> DynamicsSample:
    """All per-sample dynamical outputs of the issue (see :class:`DynamicsSample`).

    ``times`` should contain 0 (sup's are over the given grid, which is then compared with
    t = 0); the initial density is taken from the initial state itself.  Memory O(T M).

    Parameters
    ----------
    truncation : eigen only, see :meth:`Evolution.prepare`.
    evolution : a prepared :class:`Evolution` to reuse (its method is used).
    method : propagator for the time grid, "eigen", "chebyshev" or "auto"
        (:func:`choose_method`, counting the eigendecomposition as free when the infinite-time
        average needs it anyway).
    infinite_time : the infinite-time outputs (``cell_counts_inf``, ``n_transferred_inf``) need
        the eigenbasis: None computes them when M <= DENSE_MAX_DYNAMICS and fills NaN beyond;
        True always (ValueError beyond the dense limit); False never (NaN; no eigh at all with
        the chebyshev method).
    """
    times = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if infinite_time is None:
        infinite_time = ring.n_grid <= DENSE_MAX_DYNAMICS
    elif infinite_time and ring.n_grid > DENSE_MAX_DYNAMICS:
        raise ValueError(f"infinite_time: the diagonal ensemble needs the dense eigenbasis, "
                         f"M = {ring.n_grid} > DENSE_MAX_DYNAMICS = {DENSE_MAX_DYNAMICS}")
    if evolution is None:
        if method == "auto":
            method = choose_method(ring, initial.n_particles, times, truncation=truncation,
                                   complex_twist=not _is_real_twist(initial.fermion_twist),
                                   eigenbasis_needed=bool(infinite_time))
        ev = Evolution.prepare(ring, initial, truncation, method=method)
    else:
        ev = evolution
    if not infinite_time:
        rho_inf = np.full(ring.n_grid, np.nan)
    elif ev.method == "eigen":
        rho_inf = ev.diagonal_density()
    else:
        rho_inf = Evolution.prepare(ring, initial, method="eigen").diagonal_density()
    h = ring.weight
    rho = ev.density(times) * h                       # particles per grid point
    rho0 = initial.density() * h
    rho_inf = rho_inf * h
    cells = ring.cell_index
    n_c = int(cells.max()) + 1

    def by_cell(r):
        return np.stack([np.bincount(cells, weights=row, minlength=n_c) for row in
                         np.atleast_2d(r)])

    cc = by_cell(rho)
    cc0 = by_cell(rho0)[0]
    cc_inf = by_cell(rho_inf)[0]
    mask = initial.region
    d_in = K.ring_distance_to_set(~mask) * ring.spacing     # for points in K: dist to K^c
    d_out = K.ring_distance_to_set(mask) * ring.spacing     # for points outside: dist to K
    cell_dist = np.zeros(n_c)
    for c in range(n_c):
        sel = cells == c
        if np.all(mask[sel]):
            cell_dist[c] = d_in[sel].min()
        elif not np.any(mask[sel]):
            cell_dist[c] = -d_out[sel].min()
    out = ~mask
    n_tr = rho[:, out].sum(axis=1) - rho0[out].sum()
    n_tr_inf = float(rho_inf[out].sum() - rho0[out].sum())
    # tails: integer depth bins; {dist > d} = {ceil(dist) - 1 >= d} for integer d
    dmax = int(np.ceil(max(d_in.max(initial=0.0), d_out.max(initial=0.0)))) + 1
    depth = np.arange(dmax, dtype=np.float64)

    def tail(rows, sel, dist):
        b = np.ceil(dist[sel] - 1e-9).astype(np.int64) - 1     # dist > d  <=>  b >= d
        b = np.clip(b, -1, dmax - 1)
        res = np.zeros((rows.shape[0], dmax))
        for i, r in enumerate(rows):
            hist = np.bincount(b + 1, weights=r[sel], minlength=dmax + 1)[1:]
            res[i] = np.cumsum(hist[::-1])[::-1]
        return res

    sup_out = tail(rho, out, d_out).max(axis=0)
    sup_in = tail(rho, mask, d_in).max(axis=0)
    in0 = tail(rho0[None, :], mask, d_in)[0]
    return DynamicsSample(times, cc, cc_inf, np.abs(cc - cc0).max(axis=0), cc.max(axis=0),
                          cell_dist, n_tr, n_tr_inf, depth, sup_out, sup_in, in0)


# ============================================================================ clean-case fronts
def front_profile_lattice(x, t):
    """Hydrodynamic front of the clean lattice domain wall (hopping 1, left side filled):
    rho(x, t) -> (1/pi) arccos(x / 2t) for |x| < 2t, 1 behind, 0 ahead; x measured from the
    wall (Antal, Racz, Rakos, Schutz, PRE 59, 4912 (1999)).  N_tr(t) -> 2t/pi per wall."""
    u = np.clip(np.asarray(x, dtype=np.float64) / (2.0 * t), -1.0, 1.0)
    return np.arccos(u) / np.pi


def front_profile_continuum(x, t, k_fermi):
    """Hydrodynamic front of the clean continuum domain wall, dispersion E = k^2 (hbar^2/2m = 1).

    Derivation: the Wigner function of the left half-filled Fermi sea, f_0(x, k) =
    theta(-x) theta(k_F - |k|), is transported ballistically with velocity v = dE/dk = 2k, so
    f_t(x, k) = f_0(x - 2kt, k) and rho(x, t) = int dk/(2 pi) f_t = |{|k| < k_F : k > x/2t}|/(2 pi):

        rho(x, t) = (k_F - x/(2t)) / (2 pi)   for |x| < 2 k_F t,
                  = k_F / pi (behind),  0 (ahead),

    a linear ramp from the bulk density n = k_F/pi.  Transferred number per wall
    N_tr(t) = int_0^{2 k_F t} rho dx = k_F^2 t / (2 pi) = pi n^2 t / 2.  (The same calculation
    with v = 2 sin k gives the lattice arccos law.)
    """
    x = np.asarray(x, dtype=np.float64)
    u = np.clip(x / (2.0 * t), -k_fermi, k_fermi)
    return (k_fermi - u) / (2.0 * np.pi)
