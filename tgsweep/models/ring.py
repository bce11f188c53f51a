"""Ring models: the one-particle operator of the Tonks-Girardeau gas on a ring.

Conventions (used everywhere in tgsweep)
----------------------------------------
* Units hbar^2/2m = 1: the continuum operator is H = -d^2/dx^2 + V(x) on [0, L).
* The continuum is discretized by nearest-neighbour finite differences on M = L * points_per_unit
  grid points x_i = i h, h = 1/points_per_unit:

      (H psi)_i = (2 psi_i - psi_{i+1} - psi_{i-1}) / h^2 + V_i psi_i.

  This *is* a lattice of hard-core bosons with hopping t = 1/h^2 and on-site energy
  V_i + 2/h^2, so the Jordan-Wigner (Bose-Fermi) map is exact on the grid.  Clean-ring
  eigenvalues are (2/h^2)(1 - cos(k h)), k = (2 pi j + phi)/L, i.e. k^2 - h^2 k^4/12 + O(h^4):
  the O(h^2) continuum error is documented and tested.
* The lattice model (XY chain / hard-core bosons) is H = -t sum_i (b+_i b_{i+1} + h.c.)
  + sum_i eps_i n_i with M sites, unit spacing, cells = sites.
* Twisted boundary conditions psi(x + L) = e^{i phi} psi(x) are put on the bond (M-1, 0):
  H[M-1, 0] = -t e^{i phi}, H[0, M-1] = -t e^{-i phi} ("boundary gauge").  For the bosons a twist
  theta means Psi(..., x_j + L, ...) = e^{i theta} Psi; the fermion orbitals then carry the twist
  phi = theta + pi (N - 1) (periodic for N odd, antiperiodic for N even at theta = 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Ring", "fermion_twist", "is_real_twist", "real_number"]


def fermion_twist(theta: float, n_particles: int) -> float:
    """Fermionic twist phi = theta + pi (N - 1), reduced to (-pi, pi]."""
    phi = float(theta) + np.pi * ((int(n_particles) - 1) % 2)  # parity first: exact 0 or pi
    phi = np.remainder(phi + np.pi, 2 * np.pi) - np.pi
    if phi <= -np.pi + 1e-15:
        phi = np.pi
    return float(phi)


@dataclass(frozen=True, eq=False)
class Ring:
    """A ring of M grid points / sites carrying a nearest-neighbour one-particle operator.

    Do not call the constructor directly: use :meth:`Ring.continuum` or :meth:`Ring.lattice`.

    Attributes
    ----------
    kind : {"continuum", "lattice"}
    potential : (M,) float array, V on the grid (continuum) or eps_i (lattice).
    hopping : float, t > 0; the matrix element between neighbours is -t (continuum: 1/h^2).
    spacing : float, h (lattice: 1).
    length : float, L = M h.
    """

    kind: str
    potential: np.ndarray
    hopping: float
    spacing: float
    points_per_unit: int = 1
    _diag: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pot = np.ascontiguousarray(self.potential, dtype=np.float64)
        pot.setflags(write=False)
        object.__setattr__(self, "potential", pot)
        if self.kind == "continuum":
            diag = pot + 2.0 * self.hopping
        else:
            diag = pot.copy()
        diag.setflags(write=False)
        object.__setattr__(self, "_diag", diag)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def continuum(cls, length: float, points_per_unit: int, potential=None) -> "Ring":
        """Continuum ring [0, L) with H = -d^2/dx^2 + V, V given on the grid x_i = i/points_per_unit.

        Parameters
        ----------
        length : float
            L, a positive number with L * points_per_unit an integer >= 3.
        points_per_unit : int
            grid points per unit length (h = 1/points_per_unit).
        potential : array of shape (M,), scalar or None
            V(x_i); None means the clean ring.
        """
        ppu = int(points_per_unit)
        if ppu != points_per_unit or ppu < 1:
            raise ValueError(f"points_per_unit: must be a positive integer, got {points_per_unit!r}")
        m_float = real_number(length, "length") * ppu
        m = int(round(m_float))
        if not np.isfinite(m_float) or abs(m - m_float) > 1e-9 * max(1.0, m_float) or m < 3:
            raise ValueError(
                f"length: L * points_per_unit must be an integer >= 3, got L={length!r}, "
                f"points_per_unit={points_per_unit!r}"
            )
        pot = _potential_array(potential, m)
        h = 1.0 / ppu
        return cls("continuum", pot, 1.0 / h**2, h, ppu)

    @classmethod
    def lattice(cls, site_potential, hopping: float = 1.0) -> "Ring":
        """Lattice ring (XY chain / hard-core bosons): H = -t sum (b+_i b_{i+1} + h.c.) + sum eps_i n_i.

        Parameters
        ----------
        site_potential : array of shape (M,), M >= 3, the on-site energies eps_i.
        hopping : real number t > 0 (int, float, NumPy scalar, mpmath.mpf, Fraction, ...; a
            complex value only with zero imaginary part), stored as float.
        """
        pot = np.asarray(site_potential, dtype=np.float64)
        if pot.ndim != 1 or pot.size < 3:
            raise ValueError("site_potential: must be a 1-d array with at least 3 sites")
        if not np.all(np.isfinite(pot)):
            raise ValueError("site_potential: must be finite")
        t = real_number(hopping, "hopping")
        if not (np.isfinite(t) and t > 0):
            raise ValueError(f"hopping: must be a positive number, got {hopping!r}")
        return cls("lattice", pot, t, 1.0, 1)

    # ------------------------------------------------------------------ geometry
    @property
    def n_grid(self) -> int:
        """Number of grid points / sites M."""
        return int(self.potential.size)

    @property
    def length(self) -> float:
        """L = M h (lattice: number of sites)."""
        return self.n_grid * self.spacing

    @property
    def x(self) -> np.ndarray:
        """Grid positions x_i = i h."""
        return np.arange(self.n_grid) * self.spacing

    @property
    def diag(self) -> np.ndarray:
        """Diagonal of the matrix H (continuum: V + 2/h^2; lattice: eps)."""
        return self._diag

    @property
    def cell_size(self) -> int:
        """Grid points per unit cell I_n = [n, n+1) (lattice: 1 site)."""
        return self.points_per_unit if self.kind == "continuum" else 1

    @property
    def n_cells(self) -> int:
        """Number of unit cells (continuum: floor(L); lattice: M)."""
        return self.n_grid // self.cell_size

    @property
    def cell_index(self) -> np.ndarray:
        """Cell n of each grid point, n = floor(x_i) (continuum) or i (lattice)."""
        return np.arange(self.n_grid) // self.cell_size

    @property
    def weight(self) -> float:
        """Quadrature weight of one grid point: h (continuum), 1 (lattice)."""
        return self.spacing

    # ------------------------------------------------------------------ operator
    def corner(self, phi: float) -> complex:
        """H[0, M-1] = -t e^{-i phi} for the fermion twist phi."""
        return -self.hopping * np.exp(-1j * phi)

    def matrix(self, phi: float = 0.0) -> np.ndarray:
        """Dense M x M matrix of H with fermion twist phi (real if phi is 0 or pi)."""
        m = self.n_grid
        real = is_real_twist(phi)
        dtype = np.float64 if real else np.complex128
        h = np.zeros((m, m), dtype=dtype)
        idx = np.arange(m)
        h[idx, idx] = self.diag
        h[idx[:-1], idx[1:]] = -self.hopping
        h[idx[1:], idx[:-1]] = -self.hopping
        c = self.corner(phi)
        h[0, m - 1] += c.real if real else c
        h[m - 1, 0] += c.real if real else np.conj(c)
        return h

    def with_potential(self, potential) -> "Ring":
        """Same geometry, another potential."""
        pot = _potential_array(potential, self.n_grid)
        return Ring(self.kind, pot, self.hopping, self.spacing, self.points_per_unit)

    def __repr__(self) -> str:
        return (f"Ring.{self.kind}(M={self.n_grid}, L={self.length:g}, h={self.spacing:g}, "
                f"t={self.hopping:g})")


def real_number(value, name: str) -> float:
    """``value`` as a float if it is a real number (anything with ``float()``: int, float, NumPy
    scalars, ``fractions.Fraction``, ``decimal.Decimal``, ``mpmath.mpf``; complex types only with
    imaginary part 0).  Strings, booleans and non-real numbers raise with a message naming
    ``name``."""
    if isinstance(value, (str, bytes, bool, np.bool_)) or value is None:
        raise TypeError(f"{name}: must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    imag = getattr(value, "imag", 0)
    try:
        if imag != 0:
            raise ValueError(f"{name}: must be a real number, got the complex value {value!r}")
        return float(getattr(value, "real", value))
    except (TypeError, ValueError) as exc:
        if str(exc).startswith(name):
            raise
        raise TypeError(f"{name}: must be a real number, got {value!r} "
                        f"({type(value).__name__})") from None


def is_real_twist(phi: float) -> bool:
    """True when the fermion twist phi is 0 or pi (to 1e-15): H_phi and its orbitals are real."""
    s = np.sin(phi)
    return abs(s) < 1e-15



def _potential_array(potential, m: int) -> np.ndarray:
    if potential is None:
        return np.zeros(m)
    pot = np.asarray(potential, dtype=np.float64)
    if pot.ndim == 0:
        return np.full(m, float(pot))
    if pot.shape != (m,):
        raise ValueError(f"potential: must have shape ({m},) (one value per grid point), got {pot.shape}")
    if not np.all(np.isfinite(pot)):
        raise ValueError("potential: must be finite")
    return pot
