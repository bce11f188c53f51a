"""Eigenpairs of the twisted ring operator: O(M) Sturm bisection + inverse iteration, or dense.

Public functions take a :class:`~tgsweep.models.ring.Ring` and a *fermion* twist ``phi``; the
numba kernels in :mod:`tgsweep.core._spectrum_kernels` work on plain arrays.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from ..models.ring import Ring, is_real_twist
from . import _spectrum_kernels as K

__all__ = ["count_below", "count_at_most", "eigenvalues", "eigenpairs", "eigenpairs_in_window",
           "dense_eigenpairs", "spectral_bounds", "DENSE_MAX"]

#: rings with at most this many grid points use LAPACK's dense eigh in ``method="auto"``
DENSE_MAX = 400

_EPS = np.finfo(float).eps


def _corner(ring: Ring, phi: float):
    c = ring.corner(phi)
    return float(c.real) if is_real_twist(phi) else complex(c)


def spectral_bounds(ring: Ring) -> tuple[float, float]:
    """Gershgorin interval [E_lo, E_hi] containing the spectrum of H_phi for every twist phi.

    Each row of H has diagonal diag_i and two off-diagonal entries of modulus t (the corner
    included), so E_lo = min diag - 2t, E_hi = max diag + 2t (units of energy; continuum
    t = 1/h^2, so the width is ~ 4/h^2 + max V - min V).
    """
    d = ring.diag
    t = ring.hopping
    return float(d.min() - 2 * t), float(d.max() + 2 * t)


_bounds = spectral_bounds


def _pivmin(ring: Ring) -> float:
    return float(np.finfo(float).tiny / _EPS + _EPS**2 * max(ring.hopping**2, 1.0))


def count_below(ring: Ring, phi: float, energy: float) -> int:
    """Number of eigenvalues of H_phi strictly below ``energy`` (Sturm count, O(M))."""
    return int(K.ring_count_below(ring.diag, ring.hopping, _corner(ring, phi), float(energy),
                                  _pivmin(ring)))


def count_at_most(ring: Ring, phi: float, energy: float) -> int:
    """Number of eigenvalues E_j <= ``energy`` of H_phi (N^{+/-}_mu of Seiringer-Warzel)."""
    return count_below(ring, phi, np.nextafter(float(energy), np.inf))


def eigenvalues(ring: Ring, phi: float, i0: int, i1: int) -> np.ndarray:
    """Eigenvalues with (0-based, ascending) indices i0..i1-1 by bisection, accurate to ~eps ||H||."""
    m = ring.n_grid
    if not (0 <= i0 <= i1 <= m):
        raise ValueError(f"index range [{i0}, {i1}) outside [0, {m}]")
    if i1 == i0:
        return np.empty(0)
    lo, hi = _bounds(ring)
    hnorm = max(abs(lo), abs(hi))
    abstol = 2 * _EPS * hnorm
    return K.ring_bisect(ring.diag, ring.hopping, _corner(ring, phi), i0, i1, lo, hi, abstol,
                         _pivmin(ring))


def dense_eigenpairs(ring: Ring, phi: float, i0: int, i1: int):
    """Plain NumPy/LAPACK twin: eigenpairs i0..i1-1 of the dense matrix (lattice-normalized)."""
    if i1 == i0:
        dt = np.float64 if is_real_twist(phi) else np.complex128
        return np.empty(0), np.empty((ring.n_grid, 0), dtype=dt)
    w, v = sla.eigh(ring.matrix(phi), subset_by_index=[i0, i1 - 1], driver="evr")
    return w, np.ascontiguousarray(v)


def eigenpairs(ring: Ring, phi: float, i0: int, i1: int, method: str = "auto",
               check: bool = True):
    """Eigenpairs with indices i0..i1-1 of the ring operator with fermion twist phi.

    Returns
    -------
    energies : (n,) float array, ascending.
    vectors : (M, n) array, columns orthonormal in the plain (lattice) inner product; real
        (float64) when phi is 0 or pi, complex128 otherwise.

    ``method``: "dense" (LAPACK, O(M^3)), "bisect" (O(M n) per bisection step, no M x M
    matrix), "auto" (dense for M <= DENSE_MAX).  With ``check`` the residuals
    ||H v - E v|| are verified to be below 1e-8 ||H||.
    """
    if method not in ("auto", "dense", "bisect"):
        raise ValueError(f"method: must be 'auto', 'dense' or 'bisect', got {method!r}")
    if method == "dense" or (method == "auto" and ring.n_grid <= DENSE_MAX):
        return dense_eigenpairs(ring, phi, i0, i1)
    w = eigenvalues(ring, phi, i0, i1)
    real = is_real_twist(phi)
    rows = np.zeros((w.size, ring.n_grid), dtype=np.float64 if real else np.complex128)
    res = 0.0
    if w.size:
        lo, hi = _bounds(ring)
        hnorm = max(abs(lo), abs(hi))
        res = K.ring_inverse_iteration(ring.diag, ring.hopping, _corner(ring, phi), w, hnorm,
                                       rows, 12345 + i0)
        if check and res > 1e-8 * hnorm:
            raise RuntimeError(f"inverse iteration did not converge: residual {res:.3g} "
                               f"(||H|| = {hnorm:.3g})")
    return w, np.ascontiguousarray(rows.T)


def eigenpairs_in_window(ring: Ring, phi: float, e_lo: float = -np.inf, e_hi: float = np.inf,
                         method: str = "auto", check: bool = True):
    """All eigenpairs with e_lo < E_j <= e_hi (e.g. e_lo = -inf, e_hi = mu: all levels below the
    chemical potential; a finite window J for ECL).  Index range from two Sturm counts, then
    :func:`eigenpairs`.  Returns (energies, vectors, first index)."""
    if not e_lo < e_hi:
        raise ValueError(f"window: need e_lo < e_hi, got ({e_lo!r}, {e_hi!r})")
    i0 = 0 if not np.isfinite(e_lo) else count_at_most(ring, phi, e_lo)
    i1 = ring.n_grid if not np.isfinite(e_hi) else count_at_most(ring, phi, e_hi)
    w, v = eigenpairs(ring, phi, i0, i1, method=method, check=check)
    return w, v, i0
