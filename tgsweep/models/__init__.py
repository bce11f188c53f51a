"""Models: rings (continuum grid, lattice) with twisted boundary conditions, and disorder."""
from .ring import Ring, fermion_twist

__all__ = ["Ring", "fermion_twist"]
