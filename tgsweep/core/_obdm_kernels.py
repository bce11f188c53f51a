"""numba kernel for the one-particle density matrix of hard-core bosons (lattice units).

For a Slater determinant of lattice-normalized orbitals u (M x N, columns orthonormal) the
Jordan-Wigner string gives, for x < y (Rigol & Muramatsu, PRA 70, 031603(R) (2004); Lenard 1964),

    <b+_x b_y> = det(O) u(x)^H (O^T)^{-1} u(y) = u(x)^H adj(O^T) u(y),
    O^T = I - 2 sum_{x<z<y} u(z) u(z)^H            (N x N, Hermitian, spectrum in [-1, 1]),

with u(z) the row vector (u_alpha(z))_alpha; <b+_y b_x> = conj(<b+_x b_y>).

Row sweep.  For fixed x, y runs from x+1 to M-1 and O^T loses the rank-one term 2 u(y) u(y)^H at
each step.  B = (O^T)^{-1} and a = B u(x) are updated by Sherman-Morrison (O(N^2) per pair) and
log|det|, sign(det) by the matrix determinant lemma.  As y moves past x the eigenvalues of O^T cross
zero, where B does not exist.  Whenever the determinant ratio |1 - 2 u^H B u| falls below
``tol_den``, and every ``refresh`` sites (to stop rounding drift), O^T is rebuilt exactly from
checkpointed prefix sums Q_k = sum_{z<k} u(z) u(z)^H and diagonalized, O^T = V diag(lam) V^H.
If min|lam| > tol_eig the sweep resumes from B = V diag(1/lam) V^H; otherwise it continues
in "adjugate mode", adj(O^T) = V diag(prod_{j != k} lam_j) V^H, which is a polynomial in the
entries and stays exact through the singular point, until the spectrum moves away from zero.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _outer_acc(q, v, c):
    """q += c v v^H."""
    n = v.size
    for i in range(n):
        vi = c * v[i]
        for j in range(n):
            q[i, j] += vi * np.conj(v[j])


@njit(cache=True)
def prefix_checkpoints(u, stride):
    """Q[k // stride] = sum_{z < k} u(z) u(z)^H for k = 0, stride, 2 stride, ... (<= M)."""
    m, n = u.shape
    nck = m // stride + 1
    q = np.zeros((nck, n, n), dtype=u.dtype)
    acc = np.zeros((n, n), dtype=u.dtype)
    for z in range(m):
        if z % stride == 0:
            q[z // stride] = acc
        _outer_acc(acc, u[z], 1.0)
    if m % stride == 0:
        q[m // stride] = acc
    return q


@njit(cache=True)
def _prefix_at(u, q, stride, k):
    """sum_{z < k} u(z) u(z)^H from the nearest checkpoint below k."""
    c = k // stride
    out = q[c].copy()
    for z in range(c * stride, k):
        _outer_acc(out, u[z], 1.0)
    return out


@njit(cache=True)
def _eig_state(ot, ux):
    """Diagonalize O^T; return (lam, V, V^H u(x))."""
    lam, v = np.linalg.eigh(ot)
    px = np.conj(v.T) @ ux
    return lam, v, px


@njit(cache=True)
def obdm_rows(u, q, stride, rows, out, tol_den, tol_eig):
    """Fill out[x, :] and out[:, x] (x in rows) with <b+_x b_y> for y >= x.

    u : (M, N) C-contiguous orbitals (float64 or complex128), lattice-normalized.
    q : prefix checkpoints from :func:`prefix_checkpoints` with the same ``stride``.
    Returns the number of exact (eigendecomposition) restarts, for diagnostics.
    """
    m, n = u.shape
    restarts = 0
    eye = np.eye(n).astype(u.dtype)
    b = np.empty((n, n), dtype=u.dtype)
    w = np.empty(n, dtype=u.dtype)
    for x in rows:
        ux = u[x].copy()
        dd = 0.0
        for al in range(n):
            dd += ux[al].real ** 2 + ux[al].imag ** 2
        out[x, x] = dd
        if x == m - 1:
            continue
        qx = _prefix_at(u, q, stride, x + 1)
        # start: S empty, O^T = I
        b[:, :] = eye
        a = ux.copy()
        logdet = 0.0
        sgn = 1.0
        regular = True
        lam = np.ones(n)
        vv = eye.copy()
        px = ux.copy()
        qcur = qx.copy()
        for y in range(x + 1, m):
            uy = u[y]
            if regular:
                s = 0.0 * ux[0]
                for al in range(n):
                    s += np.conj(a[al]) * uy[al]
                val = sgn * np.exp(logdet) * s
            else:
                py = np.conj(vv.T) @ uy
                val = 0.0 * ux[0]
                for k in range(n):
                    prod = 1.0
                    for j in range(n):
                        if j != k:
                            prod *= lam[j]
                    val += prod * np.conj(px[k]) * py[k]
            out[x, y] = val
            out[y, x] = np.conj(val)
            if y == m - 1:
                break
            # ---- add site y to S
            explicit = (not regular) or ((y + 1) % stride == 0)
            if not explicit:
                for al in range(n):
                    acc = 0.0 * ux[0]
                    for be in range(n):
                        acc += b[al, be] * uy[be]
                    w[al] = acc
                s = 0.0
                for al in range(n):
                    s += (np.conj(uy[al]) * w[al]).real
                den = 1.0 - 2.0 * s
                if abs(den) < tol_den:
                    explicit = True
                else:
                    c = 2.0 / den
                    ua = 0.0 * ux[0]
                    for al in range(n):
                        ua += np.conj(uy[al]) * a[al]
                    for al in range(n):
                        wa = c * w[al]
                        for be in range(n):
                            b[al, be] += wa * np.conj(w[be])
                        a[al] += wa * ua
                    logdet += np.log(abs(den))
                    if den < 0:
                        sgn = -sgn
            if explicit:
                restarts += 1
                if regular:
                    qcur = _prefix_at(u, q, stride, y + 1)
                else:
                    _outer_acc(qcur, uy, 1.0)
                ot = eye - 2.0 * (qcur - qx)
                lam, vv, px = _eig_state(ot, ux)
                amin = np.min(np.abs(lam))
                if amin > tol_eig:
                    regular = True
                    logdet = 0.0
                    sgn = 1.0
                    for k in range(n):
                        logdet += np.log(abs(lam[k]))
                        if lam[k] < 0:
                            sgn = -sgn
                    for al in range(n):
                        for be in range(n):
                            acc = 0.0 * ux[0]
                            for k in range(n):
                                acc += vv[al, k] * np.conj(vv[be, k]) / lam[k]
                            b[al, be] = acc
                    for al in range(n):
                        acc = 0.0 * ux[0]
                        for be in range(n):
                            acc += b[al, be] * ux[be]
                        a[al] = acc
                else:
                    regular = False
    return restarts
