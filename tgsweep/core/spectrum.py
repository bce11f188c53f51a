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
from ._lyapunov_kernels import log_growth

__all__ = ["count_below", "count_at_most", "eigenvalues", "banded_eigenvalues", "folded_band",
           "eigenpairs", "eigenpairs_in_window", "dense_eigenpairs", "spectral_bounds",
           "DENSE_MAX", "SMALL_COUNT_MAX", "LocalizedOrbitals", "lowest_eigenpairs"]

#: rings with at most this many grid points use LAPACK's dense eigh in ``method="auto"``
DENSE_MAX = 400
#: the sliced solver accepts stored vectors whose pairwise overlaps are at most this (stated
#: per result as ``LocalizedOrbitals.max_overlap``)
MAX_OVERLAP = 1e-8

_EPS = np.finfo(float).eps
_TINY = float(np.finfo(float).tiny)


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
    return _TINY / _EPS + _EPS**2 * max(ring.hopping**2, 1.0)


#: rings with at most this many grid points are Sturm-counted by the kernel's own Python source
#: (``py_func``: the same IEEE operations in the same order, so the same count; the kernel runs
#: no fast math).  Start-up: the first compiled kernel a process calls, even from the on-disk
#: cache, costs numba's CPU-target initialization, about 0.3 s; a small ring's ground state at
#: ``mu`` needs no other kernel (its eigenpairs are LAPACK's, :data:`DENSE_MAX`), so a small run
#: skips it.  Cost: ~20 us per count at M = 12 (kernel ~1 us), ~2 % of the cheapest sweep
#: sample (energy alone).  Chosen by M only, so every process takes the same path.
SMALL_COUNT_MAX = 16


def _count_below_python(diag, t, corner, e, pivmin) -> int:
    """:func:`~tgsweep.core._spectrum_kernels.ring_count_below`, run as plain Python."""
    bt = np.empty(1, dtype=np.int8)
    pv = np.empty(1)
    g = np.zeros(1) * corner
    return K._arrow_factor.py_func(diag, t, corner, e, pivmin, bt, pv, pv, pv, g, g, False)[0]


def count_below(ring: Ring, phi: float, energy: float) -> int:
    """Number of eigenvalues of H_phi strictly below ``energy`` (Sturm count, O(M))."""
    count = _count_below_python if ring.n_grid <= SMALL_COUNT_MAX else K.ring_count_below
    return int(count(ring.diag, ring.hopping, _corner(ring, phi), float(energy), _pivmin(ring)))


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


def folded_band(ring: Ring, phi: float) -> np.ndarray:
    """H_phi in the folded site order 0, M-1, 1, M-2, 2, ... as a Hermitian band matrix of
    half-bandwidth 2, lower storage ``ab[k, j] = (P H P^T)[j + k, j]`` (shape (3, M), M >= 3).

    In that order ring neighbours are at most two positions apart (the corner bond (M-1, 0)
    included), so the periodic tridiagonal H is pentadiagonal: LAPACK reduces it to tridiagonal
    form in O(M^2) without forming an M x M matrix (dsbtrd / zhbtrd)."""
    m = ring.n_grid
    if m < 3:
        raise ValueError(f"folded band: need M >= 3 grid points, got {m}")
    t = float(ring.hopping)
    c = _corner(ring, phi)
    p = np.empty(m, dtype=np.int64)
    p[0::2] = np.arange((m + 1) // 2)
    p[1::2] = m - 1 - np.arange(m // 2)
    ab = np.zeros((3, m), dtype=np.float64 if is_real_twist(phi) else np.complex128)
    ab[0] = ring.diag[p]
    for k in (1, 2):
        x, y = p[k:], p[:m - k]          # entry H[x, y] sits at ab[k, j], x = p[j + k], y = p[j]
        v = np.where(np.abs(x - y) == 1, -t, 0.0).astype(ab.dtype)
        v[(x == 0) & (y == m - 1)] += c            # H[0, M-1]
        v[(x == m - 1) & (y == 0)] += np.conj(c)   # H[M-1, 0]
        ab[k, :m - k] = v
    return ab


def banded_eigenvalues(ring: Ring, phi: float, i0: int, i1: int) -> np.ndarray:
    """Eigenvalues i0..i1-1 of H_phi from the folded band (:func:`folded_band`): LAPACK's band
    reduction to tridiagonal form plus dqds (?sbevd / ?hbevd without vectors), O(M^2) time and
    O(M) memory; backward stable, so accurate to a few eps ||H|| like :func:`eigenvalues`.
    About 4x faster than bisection for i1 - i0 = M / 4 (bisection costs O(M (i1 - i0)))."""
    m = ring.n_grid
    if not (0 <= i0 <= i1 <= m):
        raise ValueError(f"index range [{i0}, {i1}) outside [0, {m}]")
    if i1 == i0:
        return np.empty(0)
    if m < 3:
        return np.linalg.eigvalsh(ring.matrix(phi))[i0:i1]
    return np.ascontiguousarray(_band_levels(ring, phi, folded_band(ring, phi))[i0:i1])


def _band_levels(ring: Ring, phi: float, ab: np.ndarray) -> np.ndarray:
    """Every eigenvalue of H_phi, ascending, from its folded band ``ab`` (:func:`folded_band`,
    overwritten): the raw ?sbevd / ?hbevd without vectors (what ``scipy.linalg.eig_banded``
    calls, without its wrapper's checks and copies); where dqds does not converge, LAPACK's
    dense eigensolver."""
    real = not np.iscomplexobj(ab)
    w, _, info = (sla.lapack.dsbevd if real else sla.lapack.zhbevd)(ab, compute_v=0, lower=1,
                                                                     overwrite_ab=1)
    if info != 0:
        w = np.linalg.eigvalsh(ring.matrix(phi))
    return w


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
    matrix), "banded" (eigenvalues from the folded band, :func:`banded_eigenvalues`, O(M^2);
    vectors by the same inverse iteration as "bisect"), "auto" (dense for M <= DENSE_MAX, else
    "bisect").  With ``check`` the residuals ||H v - E v|| are verified to be below 1e-8 ||H||.
    """
    if method not in ("auto", "dense", "bisect", "banded"):
        raise ValueError(f"method: must be 'auto', 'dense', 'bisect' or 'banded', got {method!r}")
    if method == "dense" or (method == "auto" and ring.n_grid <= DENSE_MAX) or ring.n_grid < 3:
        return dense_eigenpairs(ring, phi, i0, i1)
    w = (banded_eigenvalues if method == "banded" else eigenvalues)(ring, phi, i0, i1)
    return w, _ring_vectors(ring, phi, w, i0, check)


def _ring_vectors(ring: Ring, phi: float, w: np.ndarray, i0: int, check: bool) -> np.ndarray:
    """(M, n) eigenvectors for the eigenvalues w (levels i0, i0+1, ...) by inverse iteration
    on the ring (:func:`tgsweep.core._spectrum_kernels.ring_inverse_iteration`)."""
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
    return np.ascontiguousarray(rows.T)


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
    method : "sliced" (spatial segments, LAPACK dsterf + dstein per window), "rqi" (one
        window = the ring, M <= SMALL_MAX: Sturm-isolated batched Rayleigh quotient iteration,
        no LAPACK, :func:`_small_ring`), "banded" (one window = the ring: eigenvalues from the
        folded band, :func:`banded_eigenvalues`, vectors by inverse iteration; small rings
        where "rqi" declines, rings too small for windows, and clean / extended rings with
        M <= 16 n) or "global" (the O(M n) bisection + inverse iteration of :func:`eigenpairs`).
    max_residual : max_j ||H phi_j - E_j phi_j||_2, computed with the full ring operator on
        the stored (trimmed) vectors.
    max_overlap : max |<phi_i, phi_j>| over every pair of stored vectors whose windows
        intersect (the same window included), and max | ||phi_j|| - 1 |; NaN on the global paths
        above n = 4000 (the (n, n) Gram matrix is not formed).
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


def _energy_cut(ring: Ring, phi: float, n: int, levels=None) -> float:
    """An energy E_c with exactly n eigenvalues of H_phi below it (Sturm count), midway between
    levels n-1 and n; NaN if they coincide to rounding (no gap to cut in).  Levels n-1, n by
    one numba bisection to ~2 eps ||H||, the midpoint checked by a Sturm count; where that
    check fails, the gap-relative brackets of :func:`_level_brackets`."""
    w = eigenvalues(ring, phi, n - 1, n + 1) if levels is None else levels
    lo, hi = spectral_bounds(ring)
    if w[1] - w[0] > 16 * _EPS * max(abs(lo), abs(hi)):
        e_cut = 0.5 * (w[0] + w[1])
        if count_below(ring, phi, e_cut) == n:
            return float(e_cut)
    a, b = _level_brackets(ring, phi, n - 1, n + 1)
    return float(0.5 * (b[0] + a[1])) if b[0] < a[1] else float("nan")


def _margin_estimate(ring: Ring, e_cut: float, tol: float, hnorm: float) -> float:
    """Sites over which the slowest-decaying level below ``e_cut`` falls by t / (tol ||H||):
    from the smallest Lyapunov exponent (per site, transfer matrices round the whole
    ring, :func:`tgsweep.core._lyapunov_kernels.log_growth`) at 16 energies up to the cut.
    inf on a clean / extended ring (an exponent <= 0)."""
    lo = spectral_bounds(ring)[0]
    es = np.linspace(lo, e_cut, 17)[1:]
    t = float(ring.hopping)
    g = np.minimum(log_growth(ring.diag, t, es, 1.0, 0.0),
                   log_growth(ring.diag, t, es, 0.0, 1.0)) / ring.n_grid
    gmin = float(np.min(g))
    if not gmin > 0:
        return float("inf")
    return np.log(max(t / (tol * hnorm), 2.0)) / gmin


def _window_pairs(d, t, pos, e_cut, pivmin):
    """Eigenpairs of the open chain on unwrapped positions ``pos`` below e_cut: a chain Sturm
    count, all eigenvalues by LAPACK's dqds (dsterf, O(w^2) with a small constant), then the
    lowest ``count`` vectors by LAPACK's inverse iteration (dstein, Gram-Schmidt inside its
    clusters |E_j - E_k| < 1e-3 ||T||).  On these windows (eigenvalues spread over a band of
    localized states) this is ~2.5x faster than MRRR (dstemr) for the same index range, whose
    bisection for the eigenvalues dominates; dstemr, then dense eigh_tridiagonal, if LAPACK
    reports a failure.  Orthogonality and residuals are certified afterwards on the stored
    vectors (:func:`_sliced`)."""
    dd = np.ascontiguousarray(d[pos % d.size])
    cnt = int(K.chain_count_below(dd, t, float(e_cut), pivmin))
    if cnt == 0:
        return np.zeros(0), np.zeros((dd.size, 0))
    off = np.full(dd.size - 1, -t)
    w, info = sla.lapack.dsterf(dd, off)
    if info == 0:
        w = np.ascontiguousarray(w[:cnt])
        iblock = np.ones(dd.size, dtype=np.int32)
        isplit = np.zeros(dd.size, dtype=np.int32)
        isplit[0] = dd.size
        z, info = sla.lapack.dstein(dd, off, w, iblock, isplit)
    if info == 0:
        return w, z[:, :cnt]
    mm, w, z, info = sla.lapack.dstemr(dd, np.r_[off, 0.0], 2, 0.0, 0.0, 1, cnt)
    if info != 0 or mm != cnt:
        w, z = sla.eigh_tridiagonal(dd, off, select="i", select_range=(0, cnt - 1),
                                    lapack_driver="stebz")
    return w[:cnt], z[:, :cnt]


def _sliced(ring: Ring, phi: float, n: int, e_cut: float, n_seg: int, margin: int, tol: float,
            max_window: int):
    """Spatial slicing into ``n_seg`` cores with per-window margins; returns LocalizedOrbitals
    or None (a window that still needs to grow is already ``max_window`` <= M sites, or the
    count fails).  A window of at most M sites is a chain of distinct ring sites."""
    m = ring.n_grid
    t = float(ring.hopping)
    d = ring.diag
    lo, hi = spectral_bounds(ring)
    hnorm = max(abs(lo), abs(hi))
    real = is_real_twist(phi)
    phase = np.cos(phi) if real else np.exp(-1j * phi)
    pivmin = _pivmin(ring)
    bounds = np.round(np.linspace(0, m, n_seg + 1)).astype(np.int64)
    cut_tol = tol * hnorm
    en, st, ln, vals, grp = [], [], [], [], []
    for k in range(n_seg):
        c0, c1 = int(bounds[k]), int(bounds[k + 1])
        ml = mr = int(margin)
        if (c1 - c0) + ml + mr > max_window:
            return None
        while True:
            pos = np.arange(c0 - ml, c1 + mr)
            w, z = _window_pairs(d, t, pos, e_cut, pivmin)
            peak = np.argmax(np.abs(z), axis=0)
            keep = (peak >= ml) & (peak < ml + (c1 - c0))
            w, z = w[keep], z[:, keep]
            # the two cut bonds: t |z(end)| is the ring residual the chain solution misses
            grow_l = bool(np.any(t * np.abs(z[0]) > cut_tol)) if w.size else False
            grow_r = bool(np.any(t * np.abs(z[-1]) > cut_tol)) if w.size else False
            if not (grow_l or grow_r):
                break
            room = max_window - (c1 - c0) - ml - mr
            if room <= 0:
                return None
            add_l = int(np.ceil(0.5 * ml)) if grow_l else 0
            add_r = int(np.ceil(0.5 * mr)) if grow_r else 0
            if add_l + add_r > room:   # grow into what is left of M sites, in proportion
                add_l = (room * add_l) // (add_l + add_r)
                add_r = room - add_l if grow_r else 0
            ml, mr = ml + add_l, mr + add_r
        if w.size == 0:
            continue
        # ring gauge: sites reached across the bond (M-1, 0) carry e^{-i phi} (e^{+i phi} below 0)
        if np.any(pos < 0) or np.any(pos >= m):
            g = np.where(pos >= m, phase, np.where(pos < 0, np.conj(phase), 1.0))
            zg = z * g[:, None]
            if real:
                zg = np.real(zg)
        else:
            zg = z.astype(np.complex128) if not real else z
        # trim each vector to where |phi| > 1e-17 (adds < 1e-16 ||H|| to the residual)
        mask = np.abs(z) > 1e-17
        i0 = np.argmax(mask, axis=0)
        i1 = z.shape[0] - np.argmax(mask[::-1], axis=0)
        lens = i1 - i0
        rows = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens - i0, lens)
        cols = np.repeat(np.arange(w.size), lens)
        en.append(w)
        st.append((pos[i0]) % m)
        ln.append(lens)
        vals.append(zg[rows, cols])
        grp.append(np.full(w.size, k, dtype=np.int64))
    energies = np.concatenate(en) if en else np.zeros(0)
    if energies.size != n:
        return None
    starts, lengths = np.concatenate(st).astype(np.int64), np.concatenate(ln).astype(np.int64)
    values, group = np.concatenate(vals), np.concatenate(grp)
    vals.clear()
    # sort by energy, gathering the packed values in that order
    order = np.argsort(energies, kind="stable")
    off = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    lens = lengths[order]
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    # gathered in chunks of orbitals: the index arrays stay small next to the values
    packed = np.empty_like(values)
    for j0 in range(0, n, 4096):
        j1 = min(n, j0 + 4096)
        ln_c = lens[j0:j1]
        o_c = offsets[j0]
        tot = int(ln_c.sum())
        idx = np.arange(tot) - np.repeat(np.cumsum(ln_c) - ln_c - off[order[j0:j1]], ln_c)
        packed[o_c:o_c + tot] = values[idx]
    values = packed
    energies, starts, lengths, group = energies[order], starts[order], lens, group[order]
    res = np.empty(n)
    K.packed_residuals(d, t, _corner(ring, phi), starts, lengths, offsets, values, energies, res)
    max_ov = float(K.packed_max_overlap(starts, lengths, offsets, values, group, m, True))
    return LocalizedOrbitals(energies, starts, lengths, values, m, "sliced",
                             float(res.max()) + 1e-15 * hnorm, max_ov, n, float(e_cut))


#: core length in margins: a window of w = core + 2 margin sites costs ~w^2 (dsterf + dstein),
#: so (M / core) w^2 is least at core = 2 margins
CORE_MARGINS = 2.0


def _n_segments(m: int, margin: int, core: int | None) -> int | None:
    """Number of cores for rings of m sites and this margin: ``core`` if given, else about
    m / (CORE_MARGINS margin), at least 2 and enough that ceil(m / n) + 2 margin <= m (every
    window a chain of distinct sites); None if no such n (margin >= (m - 1) / 2)."""
    if core:
        return max(2, int(round(m / core)))
    if 2 * margin >= m - 1:
        return None
    k = max(2, int(round(m / (CORE_MARGINS * margin))))
    while -(-m // k) + 2 * margin > m:
        k += 1
    return k


#: ``lowest_eigenpairs(method="auto")`` on rings of 3..SMALL_MAX sites takes :func:`_small_ring`
#: (no windows, no Lyapunov estimate): below M ~ 130 no window plan with >= 16-site margins
#: costs less than one solve of the ring, and up to here the per-window overhead (~0.1 ms of
#: Python per window) exceeds what windows save even at strong disorder
SMALL_MAX = 256


def _small_ring(ring: Ring, phi: float, n: int) -> LocalizedOrbitals:
    """The lowest n eigenpairs of a ring of 3..SMALL_MAX sites, certified, in one or two kernel
    calls.  First (method "rqi") without LAPACK: Sturm-isolated, batched Rayleigh quotient
    iteration with its certificate in one kernel
    (:func:`tgsweep.core._spectrum_kernels.ring_tiny_pairs`; below M ~ 30 a LAPACK call alone
    costs more than that whole solve).  Where that declines (levels that bisection cannot
    isolate, e.g. the degenerate pairs of clean rings, or overlaps above 1e-10 from very close
    levels) or its count is not n, method "banded": the folded band written by a kernel
    (:func:`tgsweep.core._spectrum_kernels.fold_ring_band`), every eigenvalue by LAPACK's band
    reduction + dqds (the raw ?sbevd / ?hbevd, no wrapper checks), the cut midway between
    levels n-1 and n, and vectors (inverse iteration with Gram-Schmidt in clusters), residuals,
    Gram matrix and Sturm count at the cut from one kernel
    (:func:`tgsweep.core._spectrum_kernels.ring_certified_pairs`); where the band's levels n-1
    and n are closer than 16 eps ||H|| or the count at the midpoint is not n, the cut comes from
    Sturm brackets (:func:`_level_brackets`) as on the other paths."""
    m = ring.n_grid
    d = ring.diag
    t = float(ring.hopping)
    real = is_real_twist(phi)
    c = ring.corner(phi)
    c = float(c.real) if real else complex(c)
    dtype = np.float64 if real else np.complex128
    pivmin = _pivmin(ring)
    vecs = np.empty((n, m), dtype=dtype)
    w = np.empty(n)
    ok, e_cut, res, ov, count, hnorm = K.ring_tiny_pairs(d, t, c, pivmin, vecs, w, 12345)
    method = "rqi"
    if not (ok and count == n and res <= 1e-8 * hnorm):
        method = "banded"
        ab = np.empty((3, m), dtype=dtype, order="F")
        lo, hi = K.fold_ring_band(d, t, c, ab)
        hnorm = max(abs(lo), abs(hi))
        w = _band_levels(ring, phi, ab)
        e_cut = hi + 1.0
        if n < m:
            a, b = float(w[n - 1]), float(w[n])
            e_cut = 0.5 * (a + b) if b - a > 16 * _EPS * hnorm else float("nan")
        w = w[:n]
        res, ov, count = K.ring_certified_pairs(d, t, c, w, hnorm, e_cut, pivmin, vecs, 12345)
        if count != n and n < m:        # no gap at the band's midpoint: Sturm brackets
            ab_, bb_ = _level_brackets(ring, phi, n - 1, n + 1)
            e_cut = float(0.5 * (bb_[0] + ab_[1])) if bb_[0] < ab_[1] else float("nan")
            count = count_below(ring, phi, e_cut) if np.isfinite(e_cut) else n
        if not res <= 1e-8 * hnorm:
            raise RuntimeError(f"inverse iteration did not converge: residual {res:.3g} "
                               f"(||H|| = {hnorm:.3g})")
    lengths = np.empty(n, dtype=np.int64)
    lengths.fill(m)
    # + 1e-15 ||H||: rounding in forming H v - E v, as on the other paths
    return LocalizedOrbitals(w, np.zeros(n, dtype=np.int64), lengths, vecs.reshape(-1), m,
                             method, res + 1e-15 * hnorm, ov, count, e_cut)


def lowest_eigenpairs(ring: Ring, phi: float, n: int, *, core: int | None = None,
                      margin: int | None = None, tol: float = 1e-12,
                      max_margin: int | None = None, method: str = "auto") -> LocalizedOrbitals:
    """The n lowest eigenpairs of H_phi, certified, in O(M window) on localized rings.

    Spatial slicing: the ring is cut into >= 2 cores (about 2 margins each, ``core`` overrides);
    each core with a margin on either side is an open chain of at most M distinct sites, solved
    below the energy cut E_c (between levels n-1 and n, Sturm brackets) by a chain Sturm count,
    LAPACK's dqds for its eigenvalues and inverse iteration (dsterf + dstein) for that index
    range.  A chain eigenvector whose peak lies in the core is a ring eigenvector up to the two
    cut bonds, t |phi(ends)| <= tol ||H||; where it is not, that side's margin grows by 1.5x
    (per window, up to M sites).  The first margin comes from the smallest Lyapunov exponent
    gamma below E_c (ln(t / (tol ||H||)) / gamma sites, ``margin`` overrides it; windows where
    fluctuations of the decay need more grow by themselves).

    ``method``: "auto" slices where the windows cost less than one solve of the whole ring,
    sum_k w_k^2 < M^2 (w_k the window lengths; both costs ~ length^2 for a quarter-filled
    band), and otherwise takes the global banded path: every eigenvalue from the folded
    pentadiagonal band (:func:`banded_eigenvalues`, LAPACK band reduction + dqds) and the
    vectors by inverse iteration on the ring (method "banded"; on small rings, M <~ 1000 at
    W = 3 and N = M / 4, this beats MRRR on the open chain, see benchmarks/bench_eigensolver.py).
    Rings of 3..SMALL_MAX = 256 sites (where no window plan can pay) go straight to
    :func:`_small_ring`: no energy cut by bisection, no Lyapunov estimate, one kernel call
    (method "rqi": Sturm-isolated Rayleigh quotient iteration of all n levels at once, no
    LAPACK), or where that declines (degenerate or very close levels) the banded path with the
    raw LAPACK call.  "sliced" always tries the slicing first; "global" skips it.

    Certificate (:class:`LocalizedOrbitals`), on every path: residuals ||H phi_j - E_j phi_j||
    of the stored vectors with the full ring operator, max |<phi_i, phi_j>| over every pair of
    stored vectors whose windows intersect (same window included) and | ||phi_j|| - 1 |, and
    the count: n levels below E_c by the global Sturm count (Sylvester's law of inertia; for
    the sliced path exactly n accepted pairs, none missed or duplicated).  Where slicing fails
    or the margin would exceed ``max_margin`` (default M / 2: clean or extended rings, closed
    gap at level n), a global path is used: "banded" if M <= 16 n (its O(M^2) eigenvalues beat
    bisection's O(M n) there), else "global" (bisection + inverse iteration, :func:`eigenpairs`),
    each with its residual check.  Works the same on lattice and finite-difference continuum
    rings (a continuum ring is the lattice t = 1/h^2).
    """
    m = ring.n_grid
    if not 0 < n <= m:
        raise ValueError(f"n: must be an integer in [1, {m}], got {n!r}")
    if method not in ("auto", "sliced", "global"):
        raise ValueError(f"method: must be 'auto', 'sliced' or 'global', got {method!r}")
    if method == "auto" and 3 <= m <= SMALL_MAX:
        return _small_ring(ring, phi, n)
    lo, hi = spectral_bounds(ring)
    hnorm = max(abs(lo), abs(hi))
    if n < m:
        e_cut = _energy_cut(ring, phi, n)
    else:
        e_cut = hi + 1.0
    max_margin = int(max_margin or max(m // 2 - 1, 1))
    if np.isfinite(e_cut) and n < m and method != "global":
        mar = float(margin) if margin else _margin_estimate(ring, e_cut, tol, hnorm)
        mar = max(16.0, mar) if np.isfinite(mar) else mar
        for attempt in range(3):
            if not mar <= max_margin:
                break
            n_seg = _n_segments(m, int(mar), core)
            if n_seg is None:
                break
            clen = -(-m // n_seg)
            if (attempt == 0 and method == "auto"
                    and n_seg * min(m, clen + 2 * int(mar)) ** 2 >= m * m):
                break                         # one global solve is cheaper than the windows
            # a window is a chain of at most M distinct sites, and at most 3 cores + 2 max margins
            out = _sliced(ring, phi, n, e_cut, n_seg, int(mar), tol,
                          min(m, 3 * clen + 2 * max_margin))
            # overlaps ~ residual / gap between levels of neighbouring windows (Davis-Kahan):
            # 1e-12 ||H|| residuals and gaps ~1e-4 give ~1e-8; accepted and stated
            if (out is not None and out.max_residual <= 1e3 * tol * hnorm
                    and out.max_overlap <= MAX_OVERLAP):
                return out
            mar *= 2
    path = "banded" if m <= 16 * n else "bisect"
    w, v = eigenpairs(ring, phi, 0, n, method=path)
    hv = _apply_ring(ring, phi, v) - v * w[None, :]
    # + 1e-15 ||H||: rounding in forming H v - E v, as on the sliced path
    res = float(np.max(np.linalg.norm(hv, axis=0))) + 1e-15 * hnorm if n else 0.0
    ov = float(np.max(np.abs(v.conj().T @ v - np.eye(n)))) if n <= 4000 else np.nan
    return LocalizedOrbitals(w, np.zeros(n, dtype=np.int64), np.full(n, m, dtype=np.int64),
                             np.ascontiguousarray(v.T).ravel(), m,
                             "banded" if path == "banded" else "global", res, ov,
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
