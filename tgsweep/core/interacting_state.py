"""The state object of interacting bosons (ideal gas, mean field, Bose-Hubbard DMRG).

Its own module so that the solvers (:mod:`tgsweep.core.interacting`,
:mod:`tgsweep.core.bose_hubbard`) and :func:`tgsweep.obdm` share it without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..models.ring import Ring

__all__ = ["InteractingState"]


@dataclass(frozen=True, eq=False)
class InteractingState:
    """Ground state of N interacting bosons on a ring (ideal, mean field or Bose-Hubbard).

    Attributes
    ----------
    ring : the Ring.
    model : "ideal" | "mean_field" | "bose_hubbard".
    n_particles : N.
    twist : boson twist theta (boundary gauge).
    energy : ground-state energy (units hbar^2/2m = 1; lattice: units of t).
    gamma : (M, M) one-particle density matrix, conventions of :func:`tgsweep.obdm`.
    density_profile : (M,) density gamma(x, x) (per unit length; lattice: per site).
    condensate_wavefunction : (M,) phi with sum |phi|^2 w = N (ideal, mean field), else None.
    params : model parameters (g, U, n_max, hopping ...).
    convergence : solver diagnostics (residual, iterations, bond dimension, truncation error,
        energy variance, ...); ``convergence["converged"]`` is a bool.
    extras : further per-state arrays (Bose-Hubbard: ``nn`` = <n_i n_j>).
    """

    ring: Ring
    model: str
    n_particles: int
    twist: float
    energy: float
    gamma: np.ndarray
    density_profile: np.ndarray
    condensate_wavefunction: np.ndarray | None = None
    params: dict = field(default_factory=dict)
    convergence: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)

    def density(self) -> np.ndarray:
        """Density rho(x_i) = gamma(x_i, x_i) (per unit length; lattice: per site)."""
        return self.density_profile.copy()

    def obdm(self) -> np.ndarray:
        """A copy of gamma (what :func:`tgsweep.obdm` returns for this state)."""
        return self.gamma.copy()

    @property
    def converged(self) -> bool:
        return bool(self.convergence.get("converged", False))
