"""Tonks-Girardeau eigenstates on the ring: occupied orbitals of the fermionic twisted operator."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..models.ring import Ring, fermion_twist
from .spectrum import LocalizedOrbitals, count_at_most, eigenpairs, lowest_eigenpairs

__all__ = ["State", "LocalizedState", "ground_state", "excited_state", "particle_numbers"]


@dataclass(frozen=True, eq=False)
class State:
    """A TG eigenstate = Slater determinant of N one-particle orbitals (Bose-Fermi map).

    Attributes
    ----------
    ring : the Ring.
    orbitals : (M, N) array, phi_alpha(x_i); normalized sum_i |phi|^2 h = 1 (density units:
        on the lattice h = 1).  Real when the fermion twist is 0 or pi.
    energies : (N,) one-particle energies E_alpha (units hbar^2/2m = 1).
    indices : (N,) which eigenvalues (0-based, ascending) of H_phi are occupied.
    twist : boson twist theta.
    fermion_twist : phi = theta + pi (N - 1) reduced to (-pi, pi].
    """

    ring: Ring
    orbitals: np.ndarray
    energies: np.ndarray
    indices: np.ndarray
    twist: float
    fermion_twist: float

    @property
    def n_particles(self) -> int:
        return int(self.orbitals.shape[1])

    @property
    def energy(self) -> float:
        """Total energy sum_alpha E_alpha."""
        return float(np.sum(self.energies))

    @property
    def lattice_orbitals(self) -> np.ndarray:
        """Orbitals normalized in the plain inner product, u = phi sqrt(h)."""
        return self.orbitals * np.sqrt(self.ring.weight)

    def density(self) -> np.ndarray:
        """Free-fermion (= TG) density rho(x_i) = sum_alpha |phi_alpha(x_i)|^2 (per unit length)."""
        return np.sum(np.abs(self.orbitals) ** 2, axis=1)


@dataclass(frozen=True, eq=False)
class LocalizedState:
    """A TG ground state whose N orbitals are stored only on their windows (no (M, N) array):
    what ``ground_state(..., method="sliced")`` returns, for large localized rings.

    Attributes as :class:`State`, except ``orbitals``: a
    :class:`~tgsweep.core.spectrum.LocalizedOrbitals` (lattice-normalized, ring gauge; its
    certificate: ``method``, ``max_residual``, ``max_overlap``, ``sturm_count``).
    :func:`tgsweep.obdm_band` takes it directly; :meth:`to_state` makes the dense
    :class:`State` (small rings, tests).
    """

    ring: Ring
    orbitals: LocalizedOrbitals
    energies: np.ndarray
    indices: np.ndarray
    twist: float
    fermion_twist: float

    @property
    def n_particles(self) -> int:
        return int(self.energies.size)

    @property
    def energy(self) -> float:
        """Total energy sum_alpha E_alpha."""
        return float(np.sum(self.energies))

    def density(self) -> np.ndarray:
        """rho(x_i) = sum_alpha |phi_alpha(x_i)|^2 (per unit length), O(sum of window lengths)."""
        lo = self.orbitals
        rho = np.zeros(lo.n_grid)
        sites = np.concatenate([lo.orbital(j)[0] for j in range(lo.energies.size)]) \
            if lo.energies.size else np.zeros(0, dtype=np.int64)
        np.add.at(rho, sites, np.abs(lo.values) ** 2)
        return rho / self.ring.weight

    def to_state(self) -> State:
        """The same state with dense (M, N) orbitals."""
        orb = self.orbitals.dense() / np.sqrt(self.ring.weight)
        return State(self.ring, orb, self.energies, self.indices, self.twist, self.fermion_twist)


def particle_numbers(ring: Ring, mu: float) -> tuple[int, int, int]:
    """(N_mu, N+_mu, N-_mu): N^{+/-} count eigenvalues <= mu for periodic / antiperiodic bc,
    N_mu = min(N+, N-) (Seiringer-Warzel)."""
    n_plus = count_at_most(ring, 0.0, mu)
    n_minus = count_at_most(ring, np.pi, mu)
    return min(n_plus, n_minus), n_plus, n_minus


def _make_state(ring, idx, twist, method):
    n = idx.size
    phi = fermion_twist(twist, n) if n else float(twist)
    if n == 0:
        return State(ring, np.zeros((ring.n_grid, 0)), np.zeros(0), idx, float(twist), phi)
    i0, i1 = int(idx.min()), int(idx.max()) + 1
    w, v = eigenpairs(ring, phi, i0, i1, method=method)
    sel = idx - i0
    orb = np.ascontiguousarray(v[:, sel]) / np.sqrt(ring.weight)
    return State(ring, orb, w[sel], idx, float(twist), phi)


def ground_state(ring: Ring, n_particles: int | None = None, mu: float | None = None,
                 twist: float = 0.0, method: str = "auto"):
    """TG ground state with N particles, or with N_mu = min(N+_mu, N-_mu) particles at chemical
    potential ``mu``; boson twist ``twist`` (theta).  Exactly one of n_particles, mu.

    ``method``: the eigensolver of :func:`~tgsweep.core.spectrum.eigenpairs` ("auto", "dense",
    "bisect"), returning a :class:`State`; or "sliced": the certified spatially sliced solver
    :func:`~tgsweep.core.spectrum.lowest_eigenpairs` (O(M window) on localized rings, its
    global path otherwise), returning a :class:`LocalizedState` (orbitals on their windows;
    use it with :func:`tgsweep.obdm_band`)."""
    if (n_particles is None) == (mu is None):
        raise ValueError("ground_state: give exactly one of n_particles, mu")
    if mu is not None:
        if not np.isfinite(mu):
            raise ValueError(f"mu: must be finite, got {mu!r}")
        n_particles = particle_numbers(ring, mu)[0]
    n = int(n_particles)
    if n != n_particles or n < 0 or n > ring.n_grid:
        raise ValueError(f"n_particles: must be an integer in [0, {ring.n_grid}], got {n_particles!r}")
    if method not in ("auto", "dense", "bisect", "sliced"):
        raise ValueError(f"method: must be 'auto', 'dense', 'bisect' or 'sliced', got {method!r}")
    if method == "sliced" and n > 0:
        phi = fermion_twist(twist, n)
        lo = lowest_eigenpairs(ring, phi, n)
        return LocalizedState(ring, lo, lo.energies, np.arange(n), float(twist), phi)
    return _make_state(ring, np.arange(n), twist, "auto" if method == "sliced" else method)


def excited_state(ring: Ring, indices, twist: float = 0.0, method: str = "auto") -> State:
    """TG eigenstate occupying the one-particle levels ``indices`` (0-based, of H_phi with
    phi = twist + pi (N - 1))."""
    idx = np.unique(np.asarray(indices, dtype=np.int64))
    if idx.size != len(np.asarray(indices)):
        raise ValueError("indices: must be distinct (Pauli principle for the fermions)")
    if idx.size and (idx[0] < 0 or idx[-1] >= ring.n_grid):
        raise ValueError(f"indices: must lie in [0, {ring.n_grid})")
    return _make_state(ring, idx, twist, method)
