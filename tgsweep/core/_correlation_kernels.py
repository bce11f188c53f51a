"""numba kernels for block reductions of the OBDM gamma, + plain-NumPy twins (used in tests).

All kernels work on *upper rows*: a buffer ``buf`` of shape (R, M) whose row r holds
gamma(x, y) for x = x0 + r and y >= x (entries y < x are ignored).  By Hermiticity this is all
of gamma, so the reductions can run over a stream of row blocks without ever holding M x M.
"""

from __future__ import annotations

import numpy as np
from .jit import njit  # numba.njit with explicit fastmath/error_model (see jit.py)


@njit(cache=True)
def upper_block_row(buf, x0, cell_of, n_cells, brow):
    """brow[m] += sum |gamma(x, y)|^2 over x in the rows of ``buf``, y in cell m, counting every
    pair (x, y), (y, x) of the full matrix once: y > x in the same cell is counted twice
    (the mirrored entry), y > x in a later cell once (the mirrored entry lands in block (m, n),
    equal to block (n, m)).  Points with cell_of >= n_cells are skipped.
    """
    r_rows, m = buf.shape
    for r in range(r_rows):
        x = x0 + r
        cx = cell_of[x]
        if cx >= n_cells:
            continue
        for y in range(x, m):
            cy = cell_of[y]
            if cy >= n_cells:
                continue
            v = buf[r, y]
            a = v.real * v.real + v.imag * v.imag
            if y > x and cy == cx:
                a *= 2.0
            brow[cy] += a


def upper_block_row_reference(buf, x0, cell_of, n_cells, brow):
    """NumPy twin of :func:`upper_block_row` (same in-place accumulation)."""
    r_rows, m = buf.shape
    for r in range(r_rows):
        x = x0 + r
        if cell_of[x] >= n_cells:
            continue
        ys = np.arange(x, m)
        ok = cell_of[ys] < n_cells
        ys = ys[ok]
        a = np.abs(buf[r, ys]) ** 2
        a[(ys > x) & (cell_of[ys] == cell_of[x])] *= 2.0
        np.add.at(brow, cell_of[ys], a)


@njit(cache=True)
def upper_diag_sums(buf, x0, out):
    """out[d] += sum_x gamma(x, x + d) over the rows x of ``buf``, for 0 <= d < M - x."""
    r_rows, m = buf.shape
    for r in range(r_rows):
        x = x0 + r
        for y in range(x, m):
            out[y - x] += buf[r, y]


def upper_diag_sums_reference(g):
    """NumPy twin of :func:`upper_diag_sums` on a full matrix: U(d) = trace(g, offset=d)."""
    m = g.shape[0]
    return np.array([np.trace(g, offset=d) for d in range(m)])


@njit(cache=True)
def full_diag_sums(g):
    """U(d) = sum_{x < M - d} g[x, x + d] for the full matrix (upper diagonals only)."""
    m = g.shape[0]
    out = np.zeros(m, dtype=g.dtype)
    for x in range(m):
        for y in range(x, m):
            out[y - x] += g[x, y]
    return out
