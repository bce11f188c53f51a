"""Correlation observables of one TG sample: HS block norms, condensate, n(k), ECL profile.

Conventions (Seiringer & Warzel, NJP 18, 035002 (2016)): cells are the unit intervals
I_n = [n, n+1) of the ring (lattice: single sites), n = 0 .. n_cells - 1, taken from
``ring.cell_index``; distances between cells are torus distances r = min(|n - m|, n_cells - |n - m|).
gamma is in density units (see :func:`tgsweep.obdm`): ||1_I gamma 1_J||_2^2 =
sum_{x in I, y in J} |gamma(x, y)|^2 h^2, dimensionless.  Units hbar^2/2m = 1.

Every function takes a :class:`~tgsweep.State` and optionally the precomputed ``gamma``; with
``stream=True`` (HS quantities and n(k)) gamma is generated one cell row at a time from the
orbitals and never held as an M x M matrix (memory O(cell_size M + n_cells^2) for
:func:`hs_blocks`, O(cell_size M + n_cells) for :func:`hs_profile` and O(M) for
:func:`momentum_distribution`).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import scipy.linalg as sla

from ..core import kernels as CK
from ..core.band import Band, band_top_eigenpairs, obdm_band
from ..core.obdm import obdm, row_checkpoints, upper_rows_lattice
from ..core.spectrum import count_at_most, count_below, eigenpairs
from ..core.state import State
from ..models.params import ParamError
from ..models.ring import Ring
from .declaration import (REQUIRED, Coord, Observable, Option, Variable, integer_at_least,
                          n_cells, real_list)

__all__ = ["hs_blocks", "hs_profile", "hs_bound", "condensate", "momentum_distribution",
           "tail_coefficient", "ecl_profile", "fit_ecl", "MomentumDistribution", "EclFit",
           "stream_upper_rows", "ring_momenta", "CONDENSATE", "HS_PROFILE", "MOMENTUM_DISTRIBUTION",
           "ECL_PROFILE", "OBSERVABLES", "band_hs_profile", "band_condensate", "BandCondensate",
           "band_diag_sums"]


# ------------------------------------------------------------------------------------ streaming
#: rows per streamed block (several 9-row groups of the OBDM kernel; memory O(rows M))
_STREAM_ROWS = 36


def stream_upper_rows(state: State, rows_per_block: int | None = None):
    """Yield (x0, x1, buf): gamma(x, y) for x0 <= x < x1 and y >= x, density units.

    ``buf`` has shape (x1 - x0, M); entries y < x are zero (by Hermiticity they equal
    conj(gamma(y, x)) from an earlier block).  Blocks default to one cell (``ring.cell_size``
    rows).  Cost: the same O(M^2 N^2) as :func:`tgsweep.obdm`, memory O(rows_per_block M).

    Uses :func:`tgsweep.core.obdm.upper_rows_lattice` (the OBDM kernel writing rows x0..x1 into an
    (R, M) buffer), with the prefix checkpoints computed once.
    """
    ring = state.ring
    m = ring.n_grid
    if not isinstance(state, State):  # a thermal state computes its own rows (tgsweep.core.thermal)
        r = int(rows_per_block or ring.cell_size)
        scale = 1.0 / ring.weight if ring.kind == "continuum" else 1.0
        for x0 in range(0, m, r):
            x1 = min(m, x0 + r)
            yield x0, x1, state.upper_rows(x0, x1) * scale
        return
    u = np.ascontiguousarray(state.lattice_orbitals)
    if u.dtype not in (np.float64, np.complex128):
        u = u.astype(np.complex128 if np.iscomplexobj(u) else np.float64)
    n = u.shape[1]
    r = int(rows_per_block or ring.cell_size)
    scale = 1.0 / ring.weight if ring.kind == "continuum" else 1.0
    if n:
        q, stride = row_checkpoints(u)
    for x0 in range(0, m, r):
        x1 = min(m, x0 + r)
        if n:
            buf = upper_rows_lattice(u, x0, x1, q, stride)
        else:
            buf = np.zeros((x1 - x0, m), dtype=u.dtype)
        buf *= scale
        yield x0, x1, buf


def _gamma(state: State, gamma):
    return obdm(state) if gamma is None else np.asarray(gamma)


# ------------------------------------------------------------------------------------ HS blocks
def _blocks_sq_full(ring: Ring, g: np.ndarray) -> np.ndarray:
    nc, cs = ring.n_cells, ring.cell_size
    a = np.abs(g[: nc * cs, : nc * cs]) ** 2
    return a.reshape(nc, cs, nc, cs).sum(axis=(1, 3)) * ring.weight**2


def _stream_blocks(state: State, on_row):
    """Run the stream; call on_row(n, brow) with brow[m] = ||1_n gamma 1_m||^2 for m >= n."""
    ring = state.ring
    nc, cs, w2 = ring.n_cells, ring.cell_size, ring.weight**2
    cell_of = np.ascontiguousarray(ring.cell_index, dtype=np.int64)
    # blocks of whole cells, at least ~4 groups of the OBDM kernel (9 rows each) per block
    per = max(1, -(-_STREAM_ROWS // cs))
    for x0, x1, buf in stream_upper_rows(state, cs * per):
        for c0 in range(x0, x1, cs):
            n = c0 // cs
            if n >= nc or c0 + cs > x1:
                break
            brow = np.zeros(nc)
            CK.upper_block_row(np.ascontiguousarray(buf[c0 - x0:c0 - x0 + cs]), c0, cell_of, nc,
                               brow)
            on_row(n, brow * w2)


def hs_blocks(state: State, gamma: np.ndarray | None = None, stream: bool = False) -> np.ndarray:
    """Hilbert-Schmidt norms of the cell blocks of gamma.

    Returns
    -------
    (n_cells, n_cells) float array, B[n, m] = ||1_{I_n} gamma 1_{I_m}||_2 (dimensionless),
    symmetric; sum_{n,m} B^2 = Tr gamma^2 when the cells cover the ring.
    """
    ring = state.ring
    if not stream:
        return np.sqrt(_blocks_sq_full(ring, _gamma(state, gamma)))
    nc = ring.n_cells
    b = np.zeros((nc, nc))

    def on_row(n, brow):
        b[n, n:] = brow[n:]
        b[n:, n] = brow[n:]

    _stream_blocks(state, on_row)
    return np.sqrt(b)


def _profile_from_blocks(bsq: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    nc = bsq.shape[0]
    idx = (np.arange(nc)[:, None] + np.arange(nc)[None, :]) % nc
    rolled = bsq[np.arange(nc)[:, None], idx]  # rolled[n, r] = B^2[n, n + r]
    return np.stack([np.mean(rolled ** (s / 2.0), axis=0) for s in sigmas])[:, : nc // 2 + 1]


def _band_entries(band: Band, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """gamma[x, y] (x, y arrays of one shape) from the band; nan beyond torus distance width."""
    vals = band.values
    m, w = vals.shape[0], band.width
    d = (y - x) % m
    up, dn = d <= w, (m - d) <= w
    out = np.full(x.shape, np.nan, dtype=vals.dtype)
    out[up] = vals[x[up], d[up]]
    sel = dn & ~up
    out[sel] = np.conj(vals[y[sel], m - d[sel]])
    return out


def band_hs_profile(state: State, band: Band, sigmas: Sequence[float] = (0.5,)):
    """:func:`hs_profile` from the band of gamma (:func:`tgsweep.obdm_band`): exact for the cell
    distances r whose blocks lie inside the band, (r + 1) cell_size - 1 <= width.

    Returns (r, h) as :func:`hs_profile` but for r = 0 .. r_band only (r_band <= n_cells // 2).
    """
    ring = state.ring
    nc, cs, w2 = ring.n_cells, ring.cell_size, ring.weight**2
    sig = np.atleast_1d(np.asarray(sigmas, dtype=float))
    r_band = min(nc // 2, (band.width + 1) // cs - 1)
    if r_band < 0:
        raise ValueError(f"band: width {band.width} is smaller than one cell ({cs} points)")
    i = np.arange(cs)
    out = np.zeros((sig.size, r_band + 1))
    for r in range(r_band + 1):
        n = np.arange(nc)
        x = np.broadcast_to(n[:, None, None] * cs + i[None, :, None], (nc, cs, cs))
        y = np.broadcast_to(((n + r) % nc)[:, None, None] * cs + i[None, None, :], (nc, cs, cs))
        bsq = (np.abs(_band_entries(band, x, y)) ** 2).sum(axis=(1, 2)) * w2
        out[:, r] = np.mean(bsq[None, :] ** (sig[:, None] / 2.0), axis=1)
    return np.arange(r_band + 1), out


def hs_profile(state: State, sigmas: Sequence[float] = (0.5,), gamma: np.ndarray | None = None,
               stream: bool = False, band: Band | None = None):
    """Per-sample HS profile h_sigma(r) = (1/n_cells) sum_n ||1_{I_n} gamma 1_{I_{n+r}}||_2^sigma.

    The sigma-th power is taken per sample, before any disorder average (the quantity bounded
    by Seiringer-Warzel, E[||.||^sigma] <= A exp(-(2/3)(1 - sigma) r^xi / (2 ell)^xi)).

    Returns
    -------
    r : (n_cells // 2 + 1,) int array, torus distance in cells (unit lengths / sites).
    h : (len(sigmas), n_cells // 2 + 1) float array (dimensionless); h(r) = h(n_cells - r)
        exactly, so only r <= n_cells / 2 is returned.

    With ``band`` (a :class:`~tgsweep.core.band.Band`): :func:`band_hs_profile`, r <= r_band only.
    """
    if band is not None:
        return band_hs_profile(state, band, sigmas)
    sig = np.atleast_1d(np.asarray(sigmas, dtype=float))
    ring = state.ring
    nc = ring.n_cells
    r = np.arange(nc // 2 + 1)
    if not stream:
        return r, _profile_from_blocks(_blocks_sq_full(ring, _gamma(state, gamma)), sig)
    acc = np.zeros((sig.size, nc))

    def on_row(n, brow):
        d = np.arange(nc - n)  # m = n + d, m >= n
        vals = brow[n:][None, :] ** (sig[:, None] / 2.0)
        acc[:, d] += vals
        acc[:, (nc - d[1:]) % nc] += vals[:, 1:]

    _stream_blocks(state, on_row)
    return r, (acc / nc)[:, : nc // 2 + 1]


def hs_bound(r, sigma: float, amplitude: float, ell: float, xi: float = 1.0):
    """Seiringer-Warzel bound A exp(-(2/3)(1 - sigma) r^xi / (2 ell)^xi) on E||1_n gamma 1_m||^sigma
    (NJP 18, 035002 (2016)); r, ell in cell units."""
    r = np.asarray(r, dtype=float)
    return amplitude * np.exp(-(2.0 / 3.0) * (1.0 - sigma) * r**xi / (2.0 * ell) ** xi)


# ------------------------------------------------------------------------------------ condensate
class BandCondensate(NamedTuple):
    """occupations : (k,) largest natural occupations of gamma h from its band, descending;
    error : (k,) bound on |occupation - exact| for each: the band certificate (Schur bound on
    the operator norm of the discarded part, Weyl's inequality) plus the Lanczos residual
    ||gamma_band h v - lambda v|| (an exact eigenvalue of the banded operator lies that close);
    inf when the certificate was refused;
    truncation : the certificate part of ``error``."""

    occupations: np.ndarray
    error: np.ndarray
    truncation: float


def band_condensate(band: Band, n_occupations: int = 4, tol: float = 1e-12) -> BandCondensate:
    """Largest natural occupations from the band of gamma: on localized bands by local windows
    (:func:`tgsweep.core.band.band_top_eigenpairs`: a rigorous screen for where the top
    eigenvectors can peak, then small dense problems; error = window residual + certificate),
    else by Lanczos (scipy eigsh on the banded operator, O(M width) per product,
    :func:`tgsweep.core._band_kernels.band_matvec`); dense LAPACK for M <= 400."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    vals = np.ascontiguousarray(band.values)
    m = vals.shape[0]
    k = int(min(n_occupations, m))
    if k < 1:
        raise ValueError("n_occupations: must be >= 1")
    trunc = band.certificate if band.reliable else np.inf
    top = None if (m <= 400 or k >= m - 1) else band_top_eigenpairs(vals, band.weight, k)
    if top is not None and top.values.size == k:
        return BandCondensate(top.values, top.residuals + trunc, float(trunc))
    if m <= 400 or k >= m - 1:
        a = CK.band_to_dense(vals) * band.weight
        lam, vec = sla.eigh(a, subset_by_index=[m - k, m - 1], driver="evr")
    else:
        def mv(v):
            v = np.ascontiguousarray(np.asarray(v).reshape(-1), dtype=vals.dtype)
            out = np.zeros(m, dtype=vals.dtype)
            CK.band_matvec(vals, v, out)
            return out * band.weight

        op = LinearOperator((m, m), matvec=mv, dtype=vals.dtype)
        lam, vec = eigsh(op, k=k, which="LA", tol=tol, ncv=max(2 * k + 1, 20),
                         v0=np.ones(m, dtype=vals.dtype))
    order = np.argsort(lam)[::-1]
    lam, vec = np.real(lam[order]), vec[:, order]
    res = np.zeros(k)
    for j in range(k):
        out = np.zeros(m, dtype=vals.dtype)
        v = np.ascontiguousarray(vec[:, j], dtype=vals.dtype)
        CK.band_matvec(vals, v, out)
        res[j] = np.linalg.norm(out * band.weight - lam[j] * v) / np.linalg.norm(v)
    return BandCondensate(lam, res + trunc, float(trunc))


def condensate(state: State, n_occupations: int = 4, gamma: np.ndarray | None = None,
               band: Band | None = None) -> np.ndarray:
    """Largest natural occupations lambda_0 >= lambda_1 >= ... of gamma (eigenvalues of the
    operator (gamma f)(x) = int gamma(x, y) f(y) dy, i.e. of the matrix gamma h); dimensionless,
    sum over all of them = N.  lambda_0 = ||gamma||_inf; BEC <=> lambda_0 / N stays finite.

    Returns (min(n_occupations, M),) float array, descending.  Dense LAPACK (top eigenvalues
    only) for M <= 3000, Lanczos (scipy eigsh, O(M^2) per iteration) above.

    With ``band`` (from :func:`tgsweep.obdm_band`): :func:`band_condensate`'s occupations (O(M
    width) per Lanczos step); use :func:`band_condensate` itself for their error bounds.
    """
    if band is not None:
        return band_condensate(band, n_occupations).occupations
    g = _gamma(state, gamma)
    m = g.shape[0]
    k = int(min(n_occupations, m))
    if k < 1:
        raise ValueError("n_occupations: must be >= 1")
    if m <= 3000 or k >= m - 1:
        w = sla.eigh(g, eigvals_only=True, subset_by_index=[m - k, m - 1], driver="evr")
    else:
        from scipy.sparse.linalg import eigsh

        w = eigsh(g, k=k, which="LA", return_eigenvectors=False, tol=1e-10)
    return np.sort(np.real(w))[::-1] * state.ring.weight


# ------------------------------------------------------------------------------------ n(k)
class MomentumDistribution(NamedTuple):
    """k : (M,) momenta (2 pi j + theta)/L, ascending, inverse length units (lattice: 1/site);
    n_k : (M,) occupations n(k), dimensionless, sum_k n(k) = N;
    tail : fitted C in n(k) ~ C / k^4 (units length^-4), nan when not fitted."""

    k: np.ndarray
    n_k: np.ndarray
    tail: float


def tail_coefficient(k, n_k, k_min: float, k_max: float) -> float:
    """Least-squares C, D in n(k) k^4 = C + D / k^2 over k_min <= |k| <= k_max; returns C.

    The D / k^2 term absorbs the next order of the short-distance expansion of gamma (and the
    O((k h)^2) grid correction) so that C converges to the k^-4 tail coefficient.
    """
    k = np.asarray(k)
    sel = (np.abs(k) >= k_min) & (np.abs(k) <= k_max)
    if np.count_nonzero(sel) < 3:
        return float("nan")
    y = np.asarray(n_k)[sel] * k[sel] ** 4
    a = np.stack([np.ones(y.size), k[sel] ** -2.0], axis=1)
    return float(np.linalg.lstsq(a, y, rcond=None)[0][0])


def _momenta(m: int, length: float, theta: float):
    j = np.fft.fftfreq(m, 1.0 / m)
    k = (2 * np.pi * j + theta) / length
    order = np.argsort(k)
    return k, order


def ring_momenta(n_grid: int, length: float, theta: float = 0.0) -> np.ndarray:
    """The M momenta k = (2 pi j + theta)/L of a ring with boson twist theta, ascending (the
    k of :func:`momentum_distribution`; units 1/length)."""
    k, order = _momenta(int(n_grid), float(length), float(theta))
    return k[order]


def _nk_from_diag_sums(ring: Ring, u_d: np.ndarray, theta: float):
    m = ring.n_grid
    h, big_l = ring.weight, ring.length
    c = np.array(u_d, dtype=np.complex128)
    d = np.arange(1, m)
    c[1:] = u_d[1:] + np.exp(1j * theta) * np.conj(u_d[m - d])  # wrapped pairs y = x + d - M
    nk = np.fft.fft(c * np.exp(-1j * theta * np.arange(m) / m)) * h**2 / big_l
    k, order = _momenta(m, big_l, theta)
    return k[order], nk.real[order]


def band_diag_sums(band: Band) -> np.ndarray:
    """Upper diagonal sums U(d) = sum_{x < M - d} gamma[x, x + d] of the matrix, from its band:
    exact for d <= w and d >= M - w (the latter are mirrored wrapped band entries), 0 between."""
    vals = band.values
    m, w = vals.shape[0], band.width
    u_d = np.zeros(m, dtype=np.complex128)
    x = np.arange(m)
    for d in range(w + 1):
        u_d[d] += vals[: m - d, d].sum()
        if d >= 1:  # U(M - d) = sum_{x < d} gamma[x, x + M - d] = sum conj(gamma[x + M - d, x + M])
            u_d[m - d] += np.conj(vals[x[m - d:], d]).sum()
    return u_d


def momentum_distribution(state: State, gamma: np.ndarray | None = None, stream: bool = False,
                          tail_window: tuple[float, float] | None = None,
                          band: Band | None = None) -> MomentumDistribution:
    """n(k) = (1/L) int int e^{ik(x-y)} gamma(x, y) dx dy on the ring's momenta k = (2 pi j + theta)/L.

    theta is the state's boson twist (gamma(x, y + L) = e^{i theta} gamma(x, y) in the boundary
    gauge).  Computed from the diagonal sums c(d) = sum_x gamma(x, x + d) (O(M^2), streamable)
    and one FFT; (1/L) sum_k n(k) = int n(k) dk/2pi = N/L.  ``tail_window`` = (k_min, k_max):
    fit the k^-4 tail with :func:`tail_coefficient` (clean TG: C = (4 pi^2/3) n^4,
    Olshanii & Dunjko, PRL 91, 090401 (2003)).  On the grid keep k_max well below pi/h.

    With ``band`` (from :func:`tgsweep.obdm_band`): n(k) from the band's diagonal sums; for
    every k, |n(k) - n_band(k)| <= (h^2/L) sum_x sum_{|d|>w} |gamma(x, x + d)| <= band.certificate
    (M h = L), so the certificate is the truncation error of each n(k).
    """
    ring = state.ring
    if band is not None:
        u_d = band_diag_sums(band)
    elif stream:
        u_d = np.zeros(ring.n_grid, dtype=np.complex128)
        for x0, _, buf in stream_upper_rows(state, _STREAM_ROWS):
            CK.upper_diag_sums(buf, x0, u_d)
    else:
        g = np.ascontiguousarray(_gamma(state, gamma))
        u_d = CK.full_diag_sums(g).astype(np.complex128)
    k, nk = _nk_from_diag_sums(ring, u_d, state.twist)
    tail = float("nan") if tail_window is None else tail_coefficient(k, nk, *tail_window)
    return MomentumDistribution(k, nk, tail)


# ------------------------------------------------------------------------------------ ECL
def ecl_profile(ring: Ring, windows, twists: Sequence[float] = (0.0, np.pi), method: str = "auto"):
    """Per-sample eigenfunction-correlator profile q(r) = (1/n_cells) sum_n Q(n, n + r; J).

    Phi_j(n) = (int_{I_n} |phi_j|^2)^{1/2}, Q(n, m; J) = sum_{E_j in J} Phi_j(n) Phi_j(m) for the
    one-particle eigenfunctions of H with fermion twist phi in ``twists`` (default periodic and
    antiperiodic: Q^+ and Q^- of Seiringer-Warzel).  Computed by FFT autocorrelation per state.

    Parameters
    ----------
    windows : sequence of (E_lo, E_hi), closed energy windows J (units of H).

    Returns
    -------
    r : (n_cells // 2 + 1,) torus distances (cells).
    q : (len(twists), len(windows), n_cells // 2 + 1) float array (dimensionless).
    n_states : (len(twists), len(windows)) int array, number of eigenvalues in each J.
    """
    win = np.asarray(windows, dtype=float).reshape(-1, 2)
    nc, cs = ring.n_cells, ring.cell_size
    nr = nc // 2 + 1
    q = np.zeros((len(twists), len(win), nr))
    counts = np.zeros((len(twists), len(win)), dtype=np.int64)
    for a, phi in enumerate(twists):
        lo = [count_below(ring, phi, e0) for e0, _ in win]
        hi = [count_at_most(ring, phi, e1) for _, e1 in win]
        i0, i1 = min(lo), max(hi)
        if i1 <= i0:
            continue
        _, v = eigenpairs(ring, phi, i0, i1, method=method)
        p = (np.abs(v[: nc * cs]) ** 2).reshape(nc, cs, -1).sum(axis=1)  # (nc, n_states)
        phi_cells = np.sqrt(p)
        f = np.fft.rfft(phi_cells, axis=0)
        auto = np.fft.irfft(np.abs(f) ** 2, n=nc, axis=0) / nc  # (nc, n_states), auto[r, j]
        for b in range(len(win)):
            s0, s1 = lo[b] - i0, hi[b] - i0
            counts[a, b] = max(0, s1 - s0)
            if s1 > s0:
                q[a, b] = auto[:nr, s0:s1].sum(axis=1)
    return np.arange(nr), q, counts


class EclFit(NamedTuple):
    """C exp(-(r/ell)^xi): amplitude C, ell (cells), xi."""

    amplitude: float
    ell: float
    xi: float


def fit_ecl(r, q, r_min: float = 1.0, r_max: float | None = None,
            xi: float | None = None) -> EclFit:
    """Fit C exp(-(r/ell)^xi) to an (ensemble-averaged) ECL profile by least squares on ln q.

    ``xi=None`` fits xi too (bounded to (0.05, 3)); a number fixes it (xi = 1: straight line).
    Only r_min <= r <= r_max with q > 0 is used.  The result feeds :func:`hs_bound`.
    """
    from scipy.optimize import curve_fit

    r = np.asarray(r, dtype=float)
    q = np.asarray(q, dtype=float)
    sel = (r >= r_min) & (q > 0) & np.isfinite(q)
    if r_max is not None:
        sel &= r <= r_max
    rr, lq = r[sel], np.log(q[sel])
    if rr.size < 3:
        raise ValueError("fit_ecl: need at least 3 points with q > 0 in the range")
    slope, icpt = np.polyfit(rr, lq, 1)
    ell0 = 1.0 / max(-slope, 1e-12)
    if xi is not None:
        x = rr**xi
        s, c0 = np.polyfit(x, lq, 1)
        return EclFit(float(np.exp(c0)), float(max(-s, 1e-300) ** (-1.0 / xi)), float(xi))

    def model(x, lc, ell, x_i):
        return lc - (x / ell) ** x_i

    popt, _ = curve_fit(model, rr, lq, p0=(icpt, ell0, 1.0),
                        bounds=([-np.inf, 1e-6, 0.05], [np.inf, np.inf, 3.0]), maxfev=20000)
    return EclFit(float(np.exp(popt[0])), float(popt[1]), float(popt[2]))


# ------------------------------------------------------------------------------ declarations
def _band_tol(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 <= v < 1):
        raise ParamError("band_tol", "must be a number in [0, 1) (0 = always the full OBDM "
                         f"kernel), got {v!r}")
    return float(v)


def _r_max(v):
    if isinstance(v, bool) or not isinstance(v, int) or v < -1:
        raise ParamError("r_max", f"must be an integer >= 0 (cells), or -1 for every distance, "
                         f"got {v!r}")
    return v


_BAND_TOL = Option("band_tol", 0.0, _band_tol, "use the banded OBDM when its certificate is "
                   "<= band_tol (0: always the full kernel)")
_R_MAX = Option("r_max", -1, _r_max, "largest cell distance stored (-1: all)")


def _band_vars(prefix, what):
    return {f"{prefix}_error": Variable((), (), "1", f"stated error of {what}: band certificate "
                                        "(+ Lanczos residual); 0 = full OBDM kernel"),
            f"{prefix}_band_width": Variable((), (), "1", "OBDM band half-width used (grid "
                                             "points); 0 = full OBDM kernel", "int64")}


def _nr(geom, opts):
    half = n_cells(geom) // 2
    return half + 1 if opts["r_max"] < 0 else min(half, opts["r_max"]) + 1


def _condensate_layout(geom, opts):
    k = opts["n_modes"]
    variables = {"lambda0": Variable((), (), "1", "largest natural occupation lambda_0 of the OBDM"),
                 "occupations": Variable(("mode",), (k,), "1",
                                         "largest natural occupations, descending (NaN beyond M)")}
    if opts["band_tol"] > 0:
        variables.update(_band_vars("lambda0", "lambda_0"))
    return variables, {"mode": Coord(np.arange(k), "1", "natural-orbital index (0 = condensate)")}


def _condensate_compute(ctx, opts):
    k = opts["n_modes"]
    band = ctx.band(opts["band_tol"]) if opts["band_tol"] > 0 and not ctx.has_obdm else None
    extra = {}
    if band is not None:
        bc = band_condensate(band, n_occupations=k)
        lam = bc.occupations
        extra = {"lambda0_error": np.float64(bc.error[0]),
                 "lambda0_band_width": np.int64(band.width)}
    else:
        lam = condensate(ctx.state, n_occupations=k, gamma=ctx.obdm())
        if opts["band_tol"] > 0:
            extra = {"lambda0_error": np.float64(0.0), "lambda0_band_width": np.int64(0)}
    occ = np.full(k, np.nan)
    occ[:lam.size] = lam
    return {"lambda0": np.float64(occ[0]), "occupations": occ, **extra}


CONDENSATE = Observable(
    "condensate", _condensate_layout, _condensate_compute,
    options=(Option("n_modes", 4, integer_at_least("n_modes", 1), "occupations kept"),
             _BAND_TOL),
    description="natural occupations of the OBDM", thermal=True, localized=True)


def _hs_layout(geom, opts):
    nr = _nr(geom, opts)
    return ({"hs_profile": Variable(("sigma", "r"), (len(opts["sigmas"]), nr), "1",
                                    "HS profile h_sigma(r) = mean_n ||1_In gamma 1_In+r||_2^sigma")},
            {"sigma": Coord(np.asarray(opts["sigmas"], float), "1", "HS power sigma"),
             "r": Coord(np.arange(nr), "length", "cell distance r")})


def _hs_compute(ctx, opts):
    ring = ctx.ring
    nr = _nr({"n_grid": ring.n_grid, "kind": ring.kind, "points_per_unit": ring.cell_size}, opts)
    width = nr * ring.cell_size - 1  # every pair of cells at distance <= nr - 1 is in the band
    if opts["r_max"] >= 0 and not ctx.has_obdm and width <= (ring.n_grid - 1) // 2:
        # exact from the band (no truncation involved at these distances)
        _, h = hs_profile(ctx.state, sigmas=opts["sigmas"], band=obdm_band(ctx.state, width))
    else:
        _, h = hs_profile(ctx.state, sigmas=opts["sigmas"], gamma=ctx.obdm())
    return {"hs_profile": h[:, :nr]}


HS_PROFILE = Observable(
    "hs_profile", _hs_layout, _hs_compute,
    options=(Option("sigmas", [0.5], real_list("sigmas", 0.0, 2.0), "HS powers sigma"),
             _R_MAX),
    description="Hilbert-Schmidt block profile of the OBDM", thermal=True)


def _nk_layout(geom, opts):
    m = geom["n_grid"]
    variables = {"n_k": Variable(("k_index",), (m,), "1", "momentum distribution n(k), sum = N")}
    coords = {"k_index": Coord(np.arange(m), "1", "momentum index (ascending k)")}
    k_name = "momentum k = (2 pi j + theta)/L"
    if geom.get("twist") is None:  # the twist varies over the grid: k is stored per sample
        variables["k"] = Variable(("k_index",), (m,), "1/length", k_name)
    else:  # one momentum grid for the whole store: a coordinate
        coords["k"] = Coord(ring_momenta(m, geom["length"], geom["twist"]), "1/length", k_name,
                            "k_index")
    if opts["band_tol"] > 0:
        variables.update(_band_vars("n_k", "every n(k)"))
    return variables, coords


def _nk_compute(ctx, opts):
    band = ctx.band(opts["band_tol"]) if opts["band_tol"] > 0 and not ctx.has_obdm else None
    if band is not None:
        md = momentum_distribution(ctx.state, band=band)
        extra = {"n_k_error": np.float64(band.certificate), "n_k_band_width": np.int64(band.width)}
    else:
        md = momentum_distribution(ctx.state, gamma=ctx.obdm())
        extra = ({"n_k_error": np.float64(0.0), "n_k_band_width": np.int64(0)}
                 if opts["band_tol"] > 0 else {})
    return {"n_k": md.n_k, "k": md.k, **extra}


MOMENTUM_DISTRIBUTION = Observable("momentum_distribution", _nk_layout, _nk_compute,
                                   options=(_BAND_TOL,),
                                   description="momentum distribution n(k) on the ring's momenta",
                                   thermal=True)


def _check_windows(w):
    ok = isinstance(w, list) and len(w) > 0
    if ok:
        for pair in w:
            if not (isinstance(pair, list) and len(pair) == 2
                    and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                            and np.isfinite(x) for x in pair) and pair[0] <= pair[1]):
                ok = False
                break
    if not ok:
        raise ParamError("windows", "must be a non-empty list of [E_lo, E_hi] pairs of finite "
                         f"numbers with E_lo <= E_hi, got {w!r}")
    return w


def _ecl_layout(geom, opts):
    nr = _nr(geom, opts)
    nt, nw = len(opts["twists"]), len(opts["windows"])
    w = np.asarray(opts["windows"], float).reshape(-1, 2)
    eu = "energy"
    return ({"ecl_q": Variable(("twist", "window", "r"), (nt, nw, nr), "1",
                               "ECL profile q(r) = (1/n_cells) sum_n Q(n, n+r; J), "
                               "Q = sum_{E_j in J} Phi_j(n) Phi_j(m), Phi_j(n) = "
                               "(int_{I_n} |phi_j|^2)^{1/2}"),
             "ecl_n_states": Variable(("twist", "window"), (nt, nw), "1",
                                      "number of one-particle eigenvalues in the window J",
                                      "int64")},
            {"twist": Coord(np.asarray(opts["twists"], float), "rad",
                            "fermion twist phi of the one-particle operator (0 periodic, "
                            "pi antiperiodic)"),
             "window": Coord(np.arange(nw), "1", "energy window index"),
             "window_lo": Coord(w[:, 0], eu, "lower edge of the energy window J", "window"),
             "window_hi": Coord(w[:, 1], eu, "upper edge of the energy window J", "window"),
             "r": Coord(np.arange(nr), "length", "cell distance r")})


def _ecl_compute(ctx, opts):
    _, q, n = ecl_profile(ctx.ring, [tuple(p) for p in opts["windows"]],
                          twists=tuple(float(t) for t in opts["twists"]))
    nr = q.shape[-1] if opts["r_max"] < 0 else min(q.shape[-1] - 1, opts["r_max"]) + 1
    return {"ecl_q": q[..., :nr], "ecl_n_states": np.asarray(n, np.int64)}


ECL_PROFILE = Observable(
    "ecl_profile", _ecl_layout, _ecl_compute,
    # windows are required: no default window makes sense for every model
    options=(Option("windows", REQUIRED, _check_windows, "[[E_lo, E_hi], ...] energy windows"),
             Option("twists", [0.0, float(np.pi)], real_list("twists", -np.pi, np.pi),
                    "fermion twists phi"), _R_MAX),
    description="eigenfunction-correlator (ECL) profile q(r) per energy window and fermion twist")

OBSERVABLES = (CONDENSATE, HS_PROFILE, MOMENTUM_DISTRIBUTION, ECL_PROFILE)
