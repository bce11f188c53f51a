"""One-particle density matrix gamma(x, y) of a TG state (Lenard's determinant formula)."""

from __future__ import annotations

import numpy as np

from . import _band_kernels as BK
from . import _obdm_kernels as K
from .interacting_state import InteractingState
from .state import State

__all__ = ["obdm", "obdm_lattice", "obdm_reference", "obdm_stride", "rows_lattice",
           "upper_rows_lattice", "row_checkpoints", "fill_upper_rows", "block_shape"]

#: determinant-ratio threshold below which the sweep rebuilds O^T exactly
TOL_DEN = 1e-3
#: smallest |eigenvalue| of O^T for which the inverse is trusted again
TOL_EIG = 1e-3
#: rows sharing one master sweep (grouped kernel); 0 = plain row-by-row sweep
GROUP = 8
#: smallest elimination pivot of the group's small system before exact small determinants
TOL_PIV = 1e-2
#: rows sharing one master sweep in the blocked kernel (``_obdm_kernels.obdm_blocked``) from
#: BLOCK_SMALL_N orbitals on (g = 32 measured best at N = 256; ``benchmarks/bench_obdm.py
#: --case headroom``)
BLOCK_GROUP = 32
#: columns per level-3 block of the blocked kernel's master sweep from BLOCK_SMALL_N orbitals on
BLOCK_COLS = 24
#: below BLOCK_SMALL_N orbitals, on rings of at least BLOCK_LONG_M points, the blocked kernel
#: uses BLOCK_GROUP_SMALL_N rows and BLOCK_COLS_SMALL_N columns per block: the N^2 GEMM work per
#: master-sweep column is small there, so more rows per sweep pay for their O(g^2) small-space
#: pass where the sweeps are long enough for the group heads (O(g^3) each).  Measured
#: (``benchmarks/bench_obdm.py``, one process, interleaved, time / grouped count): N = 64,
#: M = 2048: g = 40 3.4-3.8, g = 48 3.6-4.0, g = 56 4.2, g = 64 4.8, g = 32 3.5; complex g = 40
#: and 48 equal; M = 1024: g = 40 4.1, g = 32 4.2, g = 48 4.7.  (Before the heads were O(g^3),
#: g = 48 was chosen at M = 2048: 0.78x the time of g = 32; M = 512: g = 48 1.4x.)
BLOCK_SMALL_N = 128
BLOCK_LONG_M = 1024
BLOCK_GROUP_SMALL_N = 40
BLOCK_COLS_SMALL_N = 16
#: the blocked kernel is used from this many orbitals on (measured crossover,
#: ``benchmarks/bench_obdm.py --case crossover``); below it the grouped kernel is faster
BLOCKED_MIN_N = 32
#: deferred steps the sweeps may carry before an exact rebuild
PMAX = 4


def obdm_stride(m: int, n: int, itemsize: int, budget: float = 2.0**28) -> int:
    """Checkpoint stride of the prefix sums for an (m, n) orbital array (memory <= ``budget``)."""
    stride = 1024
    while (m // stride + 1) * n * n * itemsize > budget and stride < m:
        stride *= 2
    return stride



def block_shape(m: int, n: int) -> tuple[int, int]:
    """(rows per master sweep - 1, columns per block) of the blocked kernel for a ring of m
    points and n orbitals."""
    if n < BLOCK_SMALL_N and m >= BLOCK_LONG_M:
        return BLOCK_GROUP_SMALL_N, BLOCK_COLS_SMALL_N
    return BLOCK_GROUP, BLOCK_COLS


def fill_upper_rows(u: np.ndarray, q: np.ndarray, stride: int, out: np.ndarray, row0: int,
                    xa: int, xb: int, kernel: str = "auto"):
    """out[x - row0, y] = <b+_x b_y> for xa <= x < xb, y >= x (upper triangle), for orbitals
    u (M, N) (any N x N Gram: the formula does not assume orthonormal columns) and their prefix
    checkpoints (q, stride).  ``kernel``: "grouped" (level-2 sweeps, g = GROUP), "blocked"
    (the same sweeps as level-3 BLAS, g and columns per block from :func:`block_shape`) or "auto"
    (blocked from N >= BLOCKED_MIN_N on).  Returns (exact rebuilds, deferred steps)."""
    n = u.shape[1]
    if kernel not in ("auto", "grouped", "blocked"):
        raise ValueError(f"kernel: must be 'auto', 'grouped' or 'blocked', got {kernel!r}")
    if kernel == "blocked" or (kernel == "auto" and n >= BLOCKED_MIN_N):
        g, kb = block_shape(u.shape[0], n)
        return K.obdm_blocked(u, q, stride, out, row0, xa, xb, g, TOL_DEN, TOL_EIG, TOL_PIV, PMAX,
                              kb)
    return K.obdm_grouped(u, q, stride, out, row0, xa, xb, GROUP, TOL_DEN, TOL_EIG, TOL_PIV,
                          PMAX)


def row_checkpoints(u: np.ndarray) -> tuple[np.ndarray, int]:
    """Prefix checkpoints (q, stride) of lattice-normalized orbitals u (M, N), N >= 1, to pass to
    :func:`upper_rows_lattice` when streaming many row blocks of the same state."""
    m, n = u.shape
    stride = obdm_stride(m, n, u.itemsize)
    return K.prefix_checkpoints(u, stride), stride


def upper_rows_lattice(u: np.ndarray, x0: int, x1: int, q=None, stride=None) -> np.ndarray:
    """Rows x0 <= x < x1 of <b+_x b_y> for y >= x (zeros for y < x), shape (x1 - x0, M).

    For streaming observables: O((x1 - x0) M) memory.  ``q``/``stride`` (prefix checkpoints) may
    be passed to reuse them across blocks.
    """
    u = np.ascontiguousarray(u)
    m, n = u.shape
    out = np.zeros((x1 - x0, m), dtype=u.dtype)
    if n == 0:
        return out
    if q is None:
        stride = obdm_stride(m, n, u.itemsize)
        q = K.prefix_checkpoints(u, stride)
    fill_upper_rows(u, q, stride, out, x0, x0, x1)
    return out


def obdm_lattice(u: np.ndarray) -> np.ndarray:
    """Full M x M matrix <b+_x b_y> for lattice-normalized orbitals u (M, N) (numba kernel)."""
    u = np.ascontiguousarray(u)
    if u.dtype not in (np.float64, np.complex128):
        u = u.astype(np.complex128 if np.iscomplexobj(u) else np.float64)
    m, n = u.shape
    out = np.zeros((m, m), dtype=u.dtype)
    if n == 0:
        return out
    stride = obdm_stride(m, n, u.itemsize)
    q = K.prefix_checkpoints(u, stride)
    fill_upper_rows(u, q, stride, out, 0, 0, m)
    K.mirror_lower(out)
    return out


def _as_kernel_array(u: np.ndarray) -> np.ndarray:
    u = np.ascontiguousarray(u)
    if u.dtype not in (np.float64, np.complex128):
        u = u.astype(np.complex128 if np.iscomplexobj(u) else np.float64)
    return u


def rows_lattice(u: np.ndarray, rows, phi: float, theta: float) -> np.ndarray:
    """Whole rows gamma[x, :] (x in ``rows``) of <b+_x b_y> for lattice-normalized orbitals
    u (M, N) with fermion twist ``phi`` and boson twist ``theta``; shape (len(rows), M).

    Each run of consecutive rows x0 .. x0 + k - 1 is computed in the frame rotated to start at
    x0: the orbitals continued across the twisted bond (phi(x + L) = e^{i phi} phi(x)) make
    every pair a short-way string, gamma[x, x + d - M] = e^{-i theta} (that value) for wrapped
    pairs, and the entries left of the run's diagonal follow by Hermiticity from earlier rows
    of the run.  Cost O(len(rows) M N^2 / GROUP), memory O(len(rows) M).
    """
    u = _as_kernel_array(u)
    m, n = u.shape
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    if rows.size and (rows.min() < -m or rows.max() >= m):
        raise ValueError(f"rows: must be site indices in [0, {m}), got {rows.min()}..{rows.max()}")
    rows = rows % m
    out = np.zeros((rows.size, m), dtype=u.dtype)
    if n == 0 or rows.size == 0:
        return out
    real = u.dtype == np.float64
    ph, wrap = np.exp(1j * phi), np.exp(-1j * theta)
    if real:
        ph, wrap = float(np.round(ph.real)), float(np.round(wrap.real))
    uniq = np.unique(rows)
    runs = np.split(uniq, np.flatnonzero(np.diff(uniq) != 1) + 1)
    got = {}
    sub = np.empty((m, n), dtype=u.dtype)
    stride = obdm_stride(m, n, u.itemsize)
    for run in runs:
        x0, k = int(run[0]), run.size
        BK.gather_window(u, x0, m, np.arange(n, dtype=np.int64), ph, sub)
        q = K.prefix_checkpoints(sub, stride)
        buf = np.zeros((k, m), dtype=u.dtype)
        fill_upper_rows(sub, q, stride, buf, 0, 0, k)
        j = np.arange(m)
        for i in range(k):
            # rotated upper entries -> matrix entries gamma[x0 + i, (x0 + j) mod M], j >= i
            buf[i, i:] *= np.where(x0 + j[i:] >= m, wrap, 1.0)
            buf[i, :i] = np.conj(buf[:i, i])
        for i in range(k):
            got[x0 + i] = np.roll(buf[i], x0)
    for r, x in enumerate(rows):
        out[r] = got[int(x)]
    return out


def obdm(state: State, rows=None) -> np.ndarray:
    """The bosonic one-particle density matrix gamma of a TG state, M x M Hermitian.

    Lattice: gamma[x, y] = <b+_x b_y>.  Continuum: gamma(x_i, x_j) in density units,
    i.e. <psi+(x_i) psi(x_j)> with sum_i gamma(x_i, x_i) h = N (the grid field operator is
    psi(x_i) = b_i / sqrt(h)).  Real when the orbitals are real (fermion twist 0 or pi).
    Cost O(M^2 N^2 / GROUP + M^2 N GROUP) time, O(M^2) memory.  A thermal state
    (:func:`tgsweep.thermal_state`) supplies its own exact lattice matrix (``lattice_obdm``).
    An :class:`~tgsweep.core.interacting.InteractingState` (ideal, mean field, Bose-Hubbard)
    carries its gamma in the same conventions; a copy of it is returned.

    ``rows`` (an int or a sequence of grid indices; TG states only): only those rows
    gamma[x, :], shape (len(rows), M) (or (M,) for an int), at cost O(len(rows) M N^2 / GROUP)
    and memory O(len(rows) M) -- for a few rows of a ring too large to hold gamma.
    """
    if rows is not None:
        if not isinstance(state, State):
            raise ValueError("rows: only for a TG State (thermal/interacting states hold gamma)")
        g = rows_lattice(state.lattice_orbitals, rows, state.fermion_twist, state.twist)
        if np.ndim(rows) == 0:
            g = g[0]
    elif isinstance(state, InteractingState):
        return state.obdm()
    elif isinstance(state, State):
        g = obdm_lattice(state.lattice_orbitals)
    else:
        g = state.lattice_obdm()
    if state.ring.kind == "continuum":
        g /= state.ring.weight
    return g


def obdm_reference(u: np.ndarray, pairs=None) -> np.ndarray:
    """Plain NumPy twin: per-pair bordered determinant gamma = -det [[0, u(x)^H], [u(y), O^T]].

    O^T = I - 2 sum_{x<z<y} u(z) u(z)^H is built from prefix sums.  With ``pairs`` (array of
    (x, y)), returns just those values; otherwise the full matrix (O(M^2 N^3): small M only).
    """
    u = np.asarray(u)
    m, n = u.shape
    dt = np.result_type(u.dtype, np.float64)
    outer = u[:, :, None] * u.conj()[:, None, :]
    q = np.concatenate([np.zeros((1, n, n), dtype=dt), np.cumsum(outer, axis=0)])
    eye = np.eye(n)

    def one(x, y):
        if x == y:
            return np.vdot(u[x], u[x])
        if x > y:
            return np.conj(one(y, x))
        ot = eye - 2.0 * (q[y] - q[x + 1])
        big = np.zeros((n + 1, n + 1), dtype=dt)
        big[0, 1:] = u[x].conj()
        big[1:, 0] = u[y]
        big[1:, 1:] = ot
        return -np.linalg.det(big)

    if pairs is not None:
        return np.array([one(int(x), int(y)) for x, y in pairs], dtype=dt)
    g = np.zeros((m, m), dtype=dt)
    for x in range(m):
        for y in range(x, m):
            g[x, y] = one(x, y)
            g[y, x] = np.conj(g[x, y])
    return g
