"""numba kernels for the banded OBDM (:mod:`tgsweep.core.band`), each with a plain-NumPy twin.

Kernels take arrays and scalars only.  Sites are indexed 0 .. M-1 around the ring; an *arc*
is (start, length) with 0 <= start < M, 0 <= length <= M, covering start, start+1, ... mod M.
"""

from __future__ import annotations

import numpy as np
from .jit import njit  # numba.njit with explicit fastmath/error_model (see jit.py)


@njit(cache=True)
def orbital_arcs(u, cut, start, length):
    """For every column alpha of u (M, N): the shortest arc containing every site z with
    |u[z, alpha]|^2 > cut (start[alpha], length[alpha]); length 0 when there is none.

    Outside its arc an orbital has |u|^2 <= cut at every site.  The arc is the complement of the
    largest cyclic gap between consecutive sites above the threshold.
    """
    m, n = u.shape
    for al in range(n):
        first = -1
        prev = -1
        gap = -1
        gap_end = -1
        for z in range(m):
            v = u[z, al]
            a = v.real * v.real + v.imag * v.imag
            if a > cut:
                if first < 0:
                    first = z
                else:
                    g = z - prev
                    if g > gap:
                        gap = g
                        gap_end = z
                prev = z
        if first < 0:
            start[al] = 0
            length[al] = 0
            continue
        g = first + m - prev  # the wrap-around gap, ends at `first`
        if g >= gap:
            gap = g
            gap_end = first
        start[al] = gap_end
        length[al] = m - gap + 1


def orbital_arcs_reference(u, cut):
    """NumPy twin of :func:`orbital_arcs`: returns (start, length)."""
    m, n = u.shape
    start = np.zeros(n, dtype=np.int64)
    length = np.zeros(n, dtype=np.int64)
    for al in range(n):
        p = np.flatnonzero(np.abs(u[:, al]) ** 2 > cut)
        if p.size == 0:
            continue
        gaps = np.diff(np.concatenate([p, [p[0] + m]]))
        i = int(np.argmax(gaps[::-1]))  # the last maximal gap (the kernel keeps the wrap gap on ties)
        i = gaps.size - 1 - i
        start[al] = p[(i + 1) % p.size]
        length[al] = m - gaps[i] + 1
    return start, length


@njit(cache=True)
def gather_window(u, a, nrows, cols, phase, sub):
    """sub[j, k] = u[(a + j) mod M, cols[k]], times ``phase`` for a + j >= M (the orbitals
    continued across the twisted bond: phi(x + L) = e^{i phi} phi(x))."""
    m = u.shape[0]
    nc = cols.shape[0]
    for j in range(nrows):
        z = a + j
        f = 1.0 + 0.0 * phase
        if z >= m:
            z -= m
            f = phase
        for k in range(nc):
            sub[j, k] = u[z, cols[k]] * f


def gather_window_reference(u, a, nrows, cols, phase):
    """NumPy twin of :func:`gather_window`."""
    m = u.shape[0]
    z = a + np.arange(nrows)
    f = np.where(z >= m, phase, 1.0)
    return u[z % m][:, cols] * f[:, None]


@njit(cache=True)
def extract_band(out, x0, nrows, width, m, wrap_phase, band):
    """band[x0 + i, d] = out[i, i + d] for i < nrows, d <= width, times ``wrap_phase`` where
    x0 + i + d >= M."""
    for i in range(nrows):
        x = x0 + i
        for d in range(width + 1):
            v = out[i, i + d]
            if x + d >= m:
                v = v * wrap_phase
            band[x, d] = v


def extract_band_reference(out, x0, nrows, width, m, wrap_phase, band):
    """NumPy twin of :func:`extract_band`."""
    i = np.arange(nrows)[:, None]
    d = np.arange(width + 1)[None, :]
    v = out[i, i + d]
    band[x0:x0 + nrows] = np.where(x0 + i + d >= m, v * wrap_phase, v)


@njit(cache=True)
def band_row_abs_sums(band):
    """s[x] = sum_{0 < d <= w} |gamma(x, x + d)| + sum_{0 < d <= w} |gamma(x - d, x)|: the
    in-band off-diagonal absolute row sum of the Hermitian matrix (Schur test of the band)."""
    m, wp = band.shape
    s = np.zeros(m)
    for x in range(m):
        for d in range(1, wp):
            a = abs(band[x, d])
            s[x] += a
            y = x + d
            if y >= m:
                y -= m
            s[y] += a
    return s


def band_row_abs_sums_reference(band):
    """NumPy twin of :func:`band_row_abs_sums`."""
    m, wp = band.shape
    a = np.abs(band[:, 1:])
    s = a.sum(axis=1)
    for d in range(1, wp):
        s += np.roll(a[:, d - 1], d)
    return s


@njit(cache=True)
def band_matvec(band, v, out):
    """out = gamma v for the Hermitian matrix whose band (entries |x - y| <= w, torus) is
    ``band`` (band[x, d] = gamma[x, x + d mod M]) and whose other entries are zero."""
    m, wp = band.shape
    for x in range(m):
        out[x] = band[x, 0].real * v[x]
    for x in range(m):
        for d in range(1, wp):
            y = x + d
            if y >= m:
                y -= m
            g = band[x, d]
            out[x] += g * v[y]
            out[y] += np.conj(g) * v[x]


def band_to_dense(band):
    """Plain NumPy twin / reference: the M x M Hermitian matrix with this band, zeros outside."""
    m, wp = band.shape
    g = np.zeros((m, m), dtype=band.dtype)
    x = np.arange(m)
    g[x, x] = band[:, 0].real
    for d in range(1, wp):
        y = (x + d) % m
        g[x, y] = band[:, d]
        g[y, x] = np.conj(band[:, d])
    return g


@njit(cache=True)
def gather_window_packed(start, length, offset, values, m, a, nrows, cols, phase, sub):
    """:func:`gather_window` for orbitals stored on their arcs: orbital c has the value
    values[offset[c] + p] at site (start[c] + p) mod M for 0 <= p < length[c], zero elsewhere."""
    nc = cols.shape[0]
    for k in range(nc):
        c = cols[k]
        s, ln, off = start[c], length[c], offset[c]
        for j in range(nrows):
            z = a + j
            f = 1.0 + 0.0 * phase
            if z >= m:
                z -= m
                f = phase
            p = z - s
            if p < 0:
                p += m
            if p < ln:
                sub[j, k] = values[off + p] * f
            else:
                sub[j, k] = 0.0 * f


def gather_window_packed_reference(start, length, offset, values, m, a, nrows, cols, phase):
    """NumPy twin of :func:`gather_window_packed`: unpack to dense, then gather."""
    n = start.size
    u = np.zeros((m, n), dtype=values.dtype)
    for c in range(n):
        u[(start[c] + np.arange(length[c])) % m, c] = values[offset[c]:offset[c] + length[c]]
    return gather_window_reference(u, a, nrows, cols, phase)


@njit(cache=True)
def band_matvec_block(band, v, out):
    """out = gamma V for an (M, k) block V (``band_matvec`` for k vectors at once; each band
    entry is read once for all k columns).  The NumPy twin is ``band_to_dense(band) @ v``."""
    m, wp = band.shape
    k = v.shape[1]
    for x in range(m):
        g0 = band[x, 0].real
        for c in range(k):
            out[x, c] = g0 * v[x, c]
    for x in range(m):
        for d in range(1, wp):
            y = x + d
            if y >= m:
                y -= m
            g = band[x, d]
            gc = np.conj(g)
            for c in range(k):
                out[x, c] += g * v[y, c]
                out[y, c] += gc * v[x, c]


@njit(cache=True)
def band_window(band, a, out):
    """out (s x s) = the principal submatrix of the Hermitian band matrix (band[x, d] =
    gamma[x, x + d mod M], zero beyond the band) on the sites a, a + 1, ..., a + s - 1 (mod M),
    s <= M - 2w so that no entry is reached both ways round the ring."""
    m, wp = band.shape
    s = out.shape[0]
    for i in range(s):
        for j in range(s):
            out[i, j] = 0.0 * band[0, 0]
    for i in range(s):
        x = (a + i) % m
        out[i, i] = band[x, 0].real
        for d in range(1, wp):
            j = i + d
            if j >= s:
                break
            g = band[x, d]
            out[i, j] = g
            out[j, i] = np.conj(g)


def band_window_reference(band, a, s):
    """NumPy twin of :func:`band_window`: slice of :func:`band_to_dense`."""
    idx = (a + np.arange(s)) % band.shape[0]
    return band_to_dense(band)[np.ix_(idx, idx)]


@njit(cache=True)
def band_abs_matvec(band, v, out):
    """out = |gamma| v (entrywise modulus of the Hermitian band matrix, real v), without an
    |band| copy.  NumPy twin: ``np.abs(band_to_dense(band)) @ v``."""
    m, wp = band.shape
    for x in range(m):
        out[x] = abs(band[x, 0].real) * v[x]
    for x in range(m):
        for d in range(1, wp):
            y = x + d
            if y >= m:
                y -= m
            a = abs(band[x, d])
            out[x] += a * v[y]
            out[y] += a * v[x]
