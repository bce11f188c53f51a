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

from ..core import _band_kernels as BK
from ..core import _correlation_kernels as CK
from ..core import _obdm_kernels as OK
from ..core.band import Band
from ..core.obdm import _stride, obdm, upper_rows_lattice
from ..core.spectrum import count_at_most, count_below, eigenpairs
from ..core.state import State
from ..models.ring import Ring

__all__ = ["hs_blocks", "hs_profile", "hs_bound", "condensate", "momentum_distribution",
           "tail_coefficient", "ecl_profile", "fit_ecl", "MomentumDistribution", "EclFit",
           "stream_upper_rows", "band_hs_profile", "band_condensate", "BandCondensate",
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
    u = np.ascontiguousarray(state.lattice_orbitals)
    if u.dtype not in (np.float64, np.complex128):
        u = u.astype(np.complex128 if np.iscomplexobj(u) else np.float64)
    n = u.shape[1]
    r = int(rows_per_block or ring.cell_size)
    scale = 1.0 / ring.weight if ring.kind == "continuum" else 1.0
    if n:
        stride = _stride(m, n, u.itemsize)
        q = OK.prefix_checkpoints(u, stride)
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
    """Largest natural occupations from the band of gamma by Lanczos (scipy eigsh on the banded
    operator, O(M width) per product, :func:`tgsweep.core._band_kernels.band_matvec`)."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    vals = np.ascontiguousarray(band.values)
    m = vals.shape[0]
    k = int(min(n_occupations, m))
    if k < 1:
        raise ValueError("n_occupations: must be >= 1")
    if m <= 400 or k >= m - 1:
        a = BK.band_to_dense(vals) * band.weight
        lam, vec = sla.eigh(a, subset_by_index=[m - k, m - 1], driver="evr")
    else:
        def mv(v):
            v = np.ascontiguousarray(np.asarray(v).reshape(-1), dtype=vals.dtype)
            out = np.zeros(m, dtype=vals.dtype)
            BK.band_matvec(vals, v, out)
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
        BK.band_matvec(vals, v, out)
        res[j] = np.linalg.norm(out * band.weight - lam[j] * v) / np.linalg.norm(v)
    trunc = band.certificate if band.reliable else np.inf
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


def _nk_from_diag_sums(ring: Ring, u_d: np.ndarray, theta: float):
    m = ring.n_grid
    h, big_l = ring.weight, ring.length
    c = np.array(u_d, dtype=np.complex128)
    d = np.arange(1, m)
    c[1:] = u_d[1:] + np.exp(1j * theta) * np.conj(u_d[m - d])  # wrapped pairs y = x + d - M
    nk = np.fft.fft(c * np.exp(-1j * theta * np.arange(m) / m)) * h**2 / big_l
    j = np.fft.fftfreq(m, 1.0 / m)
    k = (2 * np.pi * j + theta) / big_l
    order = np.argsort(k)
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
