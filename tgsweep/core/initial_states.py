"""Initial states of the release dynamics: Slater determinants of orthonormal orbitals.

By the Bose-Fermi map a TG state prepared as a Slater determinant of orbitals u_1..u_N is fully
described by them (fermionic one-particle density matrix Gamma = sum_alpha |u_alpha><u_alpha|);
:mod:`tgsweep.core.evolution` propagates them and :mod:`tgsweep.observables.dynamics` measures.
Orbitals are density-normalized (sum_i |u|^2 h = 1); energies in units hbar^2/2m = 1.

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
import scipy.sparse as sp

from ..models.ring import Ring, fermion_twist
from . import _dynamics_kernels as K
from .state import ground_state

__all__ = ["InitialState", "domain_wall", "trap_release", "spectral_window", "region_mask",
           "ring_distance_to_set"]


@dataclass(frozen=True, eq=False)
class InitialState:
    """A Slater determinant to be released into a ring.

    Attributes
    ----------
    orbitals : (M, N) array, density-normalized (sum_i |u|^2 h = 1), orthonormal; or a
        ``scipy.sparse.csc_array`` of the same shape (``domain_wall(..., basis="sites")``: no
        (M, N) array on large rings).
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
        u = self.orbitals
        if sp.issparse(u):
            return np.asarray(abs(u).power(2).sum(axis=1)).ravel()
        return np.sum(np.abs(u) ** 2, axis=1)


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


def ring_distance_to_set(mask: np.ndarray) -> np.ndarray:
    """Graph distance (grid steps) of every grid point of the ring to the set ``mask``: 0 on the
    set, M everywhere if it is empty (O(M), NumPy twin in the kernels module)."""
    return K.ring_distance_to_set(mask)


def _restricted_matrix(ring: Ring, phi: float, mask: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(mask)
    return ring.matrix(phi)[np.ix_(idx, idx)]


def _embed(ring: Ring, mask: np.ndarray, vecs: np.ndarray) -> np.ndarray:
    out = np.zeros((ring.n_grid, vecs.shape[1]), dtype=vecs.dtype)
    out[mask] = vecs
    return out / np.sqrt(ring.weight)


def domain_wall(ring: Ring, n_particles: int, region=None, twist: float = 0.0,
                basis: str = "eigen") -> InitialState:
    """(a) Ground state of ``n_particles`` confined by hard walls to the interval K.

    The orbitals are the N lowest eigenvectors of H_phi restricted to K (Dirichlet: zero on
    K^c), with the ring's own potential (disorder included) inside K.

    ``basis="sites"`` (lattice, N = |K| only): the filled step Gamma = 1_K in the basis of
    the site orbitals delta_y, y in K (the same Slater determinant up to a phase, and the most
    localized basis of it), stored as a sparse (M, N) matrix, without any eigensolve; its
    ``energies`` are then the Rayleigh quotients <delta_y|H|delta_y> = eps_y, whose sum is the
    state's energy tr(1_K H) as for the eigenbasis.

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
    if basis not in ("eigen", "sites"):
        raise ValueError(f"basis: must be 'eigen' or 'sites', got {basis!r}")
    if basis == "sites":
        if ring.kind != "lattice" or n != int(mask.sum()):
            raise ValueError(f"basis: 'sites' needs a lattice ring and n_particles = |K| = "
                             f"{int(mask.sum())} (the filled step), got {ring.kind} and "
                             f"{n_particles!r}")
        idx = np.flatnonzero(mask)
        u = sp.csc_array((np.ones(n), (idx, np.arange(n))), shape=(ring.n_grid, n))
        return InitialState(u, float(twist), phi, mask, "domain_wall",
                            np.asarray(ring.diag[idx], dtype=np.float64), ring.spacing)
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
