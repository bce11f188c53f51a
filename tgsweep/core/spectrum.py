"""Eigenpairs of the twisted ring operator: O(M) Sturm bisection + inverse iteration, or dense.

Public functions take a :class:`~tgsweep.models.ring.Ring` and a *fermion* twist ``phi``; the
numba kernels in :mod:`tgsweep.core._spectrum_kernels` work on plain arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ..models.ring import Ring, is_real_twist
from . import _spectrum_kernels as K

__all__ = ["count_below", "count_at_most", "eigenvalues", "eigenpairs", "eigenpairs_in_window",
           "dense_eigenpairs", "spectral_bounds", "DENSE_MAX", "LocalizedOrbitals",
           "lowest_eigenpairs"]

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
    lo, hi = spectral_bounds(ring)
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
        lo, hi = spectral_bounds(ring)
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


# ------------------------------------------------------------------------ large localized rings
@dataclass(frozen=True, eq=False)
class LocalizedOrbitals:
    """The lowest n eigenpairs of a ring, each orbital stored on its own window of sites.

    Attributes
    ----------
    energies : (n,) ascending eigenvalues of H_phi.
    starts : (n,) int64, first site of each orbital's window (sites start, start+1, ... mod M).
    lengths : (n,) int64, window lengths.
    values : concatenated window values (lattice-normalized, ring gauge of ``Ring.matrix``);
        orbital j is ``values[offsets[j]:offsets[j] + lengths[j]]``.
    n_grid : M.
    method : "sliced" (spatial segments, LAPACK dstemr per window) or "global" (the O(M n)
        bisection + inverse iteration of :func:`eigenpairs`, for clean / extended rings).
    max_residual : max_j ||H phi_j - E_j phi_j||_2, computed with the full ring operator on
        the stored (trimmed) vectors.
    max_overlap : max |<phi_i, phi_j>| over pairs stored in different, overlapping windows
        (within one window LAPACK's MRRR orthogonality, measured ~1e-14, is relied on), and
        max | ||phi_j|| - 1 |.
    sturm_count : number of eigenvalues of H_phi below the energy cut (global Sturm count);
        equals n: none missed, none duplicated.
    energy_cut : the cut between levels n-1 and n (Sturm brackets).
    """

    energies: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    values: np.ndarray
    n_grid: int
    method: str
    max_residual: float
    max_overlap: float
    sturm_count: int
    energy_cut: float

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    def orbital(self, j: int):
        """(sites, values) of orbital j."""
        o = int(self.offsets[j])
        ln = int(self.lengths[j])
        return (int(self.starts[j]) + np.arange(ln)) % self.n_grid, self.values[o:o + ln]

    def dense(self) -> np.ndarray:
        """(M, n) matrix of the orbitals (small rings / tests)."""
        out = np.zeros((self.n_grid, self.energies.size), dtype=self.values.dtype)
        for j in range(self.energies.size):
            sites, vals = self.orbital(j)
            out[sites, j] = vals
        return out


def _level_brackets(ring: Ring, phi: float, i0: int, i1: int, rtol: float = 1e-3):
    """Sturm brackets [a_j, b_j] (count(a_j) <= j < count(b_j)) of levels i0..i1-1, refined
    until each width is below rtol times the gap to its neighbours in the set (or 2 eps ||H||)."""
    lo, hi = spectral_bounds(ring)
    abstol = 2 * _EPS * max(abs(lo), abs(hi))
    k = i1 - i0
    a = np.full(k, lo - abstol)
    b = np.full(k, hi + abstol)
    idx = i0 + np.arange(k)
    for _ in range(60 * k + 10):
        gap = np.full(k, hi - lo)
        if k > 1:
            sep = a[1:] - b[:-1]
            gap[:-1] = np.minimum(gap[:-1], sep)
            gap[1:] = np.minimum(gap[1:], sep)
        todo = np.flatnonzero(b - a > np.maximum(abstol, rtol * np.maximum(gap, 0.0)))
        if todo.size == 0:
            break
        j = todo[np.argmax((b - a)[todo])]
        mid = 0.5 * (a[j] + b[j])
        c = count_below(ring, phi, mid)
        a = np.where(c <= idx, np.maximum(a, mid), a)
        b = np.where(c > idx, np.minimum(b, mid), b)
    return a, b


def _sliced(ring: Ring, phi: float, n: int, e_cut: float, core: int, margin: int, tol: float):
    """Spatial slicing; returns LocalizedOrbitals or None if a window is too small."""
    m = ring.n_grid
    t = float(ring.hopping)
    d = ring.diag
    lo, hi = spectral_bounds(ring)
    hnorm = max(abs(lo), abs(hi))
    real = is_real_twist(phi)
    phase = np.cos(phi) if real else np.exp(-1j * phi)
    n_seg = -(-m // core)
    en, st, ln, vals, windows = [], [], [], [], []
    max_res = 0.0
    for k in range(n_seg):
        c0, c1 = k * core, min((k + 1) * core, m)
        pos = np.arange(c0 - margin, c1 + margin)
        sites = pos % m
        big = pos.size
        mm, w, z, info = sla.lapack.dstemr(np.ascontiguousarray(d[sites]), np.full(big, -t), 1,
                                           lo - 1.0, e_cut, 0, 0)
        if info != 0:
            return None
        w, z = w[:mm], z[:, :mm]
        if mm == 0:
            windows.append((sites, np.zeros((big, 0)), pos))
            continue
        peak = np.argmax(np.abs(z), axis=0)
        keep = (peak >= margin) & (peak < margin + (c1 - c0))
        w, z = w[keep], z[:, keep]
        # residual of the chain solution as a ring vector: the two cut bonds (exact), plus
        # the chain residual itself
        cut = t * np.sqrt(z[0] ** 2 + z[-1] ** 2)
        if np.any(cut > tol * hnorm):
            return None
        chain = (d[sites][:, None] - w[None, :]) * z
        chain[:-1] -= t * z[1:]
        chain[1:] -= t * z[:-1]
        res = np.sqrt(np.sum(chain ** 2, axis=0) + cut ** 2)
        max_res = max(max_res, float(np.max(res)) if res.size else 0.0)
        # ring gauge: sites reached across the bond (M-1, 0) carry e^{-i phi}
        g = np.where(pos >= m, phase, np.where(pos < 0, np.conj(phase) if not real else phase,
                                               1.0))
        zg = z * g[:, None] if not (real and np.all(g == 1.0)) else z
        if real:
            zg = np.real(zg)
        windows.append((sites, zg, pos))
        # trim each vector to where |phi| > 1e-17 (adds < 1e-16 ||H|| to the residual)
        for j in range(w.size):
            nz = np.flatnonzero(np.abs(z[:, j]) > 1e-17)
            i0, i1 = int(nz[0]), int(nz[-1]) + 1
            en.append(w[j])
            st.append(sites[i0])
            ln.append(i1 - i0)
            vals.append(zg[i0:i1, j])
    if len(en) != n:
        return None
    # cross-window orthogonality (neighbouring windows overlap on 2 margin sites)
    max_ov = 0.0
    for k in range(len(windows)):
        s1, z1, p1 = windows[k]
        s2, z2, p2 = windows[(k + 1) % len(windows)]
        if z1.shape[1] == 0 or z2.shape[1] == 0 or len(windows) < 2:
            continue
        common, i1_, i2_ = np.intersect1d(s1, s2, return_indices=True)
        if common.size:
            ov = np.abs(z1[i1_].conj().T @ z2[i2_])
            max_ov = max(max_ov, float(np.max(ov)))
    order = np.argsort(en, kind="stable")
    values = np.concatenate([vals[i] for i in order]) if vals else np.zeros(0)
    norms = np.array([np.linalg.norm(vals[i]) for i in order])
    max_ov = max(max_ov, float(np.max(np.abs(norms - 1.0))) if norms.size else 0.0)
    return LocalizedOrbitals(np.asarray(en)[order], np.asarray(st, dtype=np.int64)[order],
                             np.asarray(ln, dtype=np.int64)[order], values, m, "sliced",
                             max_res + 1e-15 * hnorm, max_ov, n, float(e_cut))


def lowest_eigenpairs(ring: Ring, phi: float, n: int, *, core: int | None = None,
                      margin: int | None = None, tol: float = 1e-12,
                      max_margin: int | None = None) -> LocalizedOrbitals:
    """The n lowest eigenpairs of H_phi, certified, in O(M window) on localized rings.

    Spatial slicing: the ring is cut into cores of ``core`` sites; each core with ``margin``
    sites on either side is an open chain, solved below the energy cut E_c (between levels
    n-1 and n, Sturm brackets) by LAPACK's MRRR (dstemr).  A chain eigenvector whose peak lies
    in the core is a ring eigenvector up to the two cut bonds, t |phi(ends)| <= tol ||H|| (else
    the margin is doubled, up to ``max_margin``).  Certificate: residuals with the full ring
    operator, cross-window orthogonality, and the count: exactly n accepted pairs = the global
    Sturm count below E_c (none missed or duplicated).  Where this fails (clean or extended
    rings, closed gap at level n) the global path of :func:`eigenpairs` is used (method
    "global"), with its own residual check.
    """
    m = ring.n_grid
    if not 0 < n <= m:
        raise ValueError(f"n: must be an integer in [1, {m}], got {n!r}")
    lo, hi = spectral_bounds(ring)
    hnorm = max(abs(lo), abs(hi))
    if n < m:
        a, b = _level_brackets(ring, phi, n - 1, n + 1)
        e_cut = 0.5 * (b[0] + a[1]) if b[0] < a[1] else np.nan
    else:
        e_cut = hi + 1.0
    margin = int(margin or 128)
    fixed_core = core is not None
    core = int(core or 3 * margin)
    max_margin = int(max_margin or max(m // 8, margin))
    while (np.isfinite(e_cut) and core > 2 * margin and m >= 3 * core
           and margin <= max_margin):
        out = _sliced(ring, phi, n, e_cut, core, margin, tol)
        if out is not None and out.max_residual <= 1e3 * tol * hnorm and out.max_overlap <= 1e-10:
            return out
        margin *= 2
        core = core if fixed_core else 3 * margin
    w, v = eigenpairs(ring, phi, 0, n, method="auto")
    hv = _apply_ring(ring, phi, v) - v * w[None, :]
    res = float(np.max(np.linalg.norm(hv, axis=0))) if n else 0.0
    ov = float(np.max(np.abs(v.conj().T @ v - np.eye(n)))) if n <= 4000 else np.nan
    return LocalizedOrbitals(w, np.zeros(n, dtype=np.int64), np.full(n, m, dtype=np.int64),
                             np.ascontiguousarray(v.T).ravel(), m, "global", res, ov,
                             count_below(ring, phi, e_cut) if np.isfinite(e_cut) else n,
                             float(e_cut))


def _apply_ring(ring: Ring, phi: float, v: np.ndarray) -> np.ndarray:
    """H_phi v for an (M, k) array, O(M k)."""
    t = ring.hopping
    c = ring.corner(phi)  # H[0, M-1]
    if is_real_twist(phi):
        c = c.real
    out = ring.diag[:, None] * v
    out[:-1] -= t * v[1:]
    out[1:] -= t * v[:-1]
    out[0] += c * v[-1]
    out[-1] += np.conj(c) * v[0]
    return out
