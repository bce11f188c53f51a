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
def _vh_dot(v, x):
    """V^H x with explicit loops (V square)."""
    n = v.shape[0]
    out = np.zeros(n, dtype=x.dtype)
    for k in range(n):
        acc = 0.0 * x[0]
        for i in range(n):
            acc += np.conj(v[i, k]) * x[i]
        out[k] = acc
    return out


@njit(cache=True)
def _eig_state(ot, ux):
    """Diagonalize O^T; return (lam, V, V^H u(x))."""
    lam, v = np.linalg.eigh(ot)
    v = np.ascontiguousarray(v)
    return lam, v, _vh_dot(v, ux)


@njit(cache=True, fastmath=True)
def _fused_update(b, w, c, unext, wnext):
    """b += c w w^H and wnext = b_new unext in one pass over b (b Hermitian, rows contiguous)."""
    n = w.size
    for k in range(n):
        wnext[k] = 0.0 * w[0]
    for be in range(n):
        cw = c * w[be]
        ub = unext[be]
        row = b[be]
        for al in range(n):
            v = row[al] + cw * np.conj(w[al])
            row[al] = v
            wnext[al] += np.conj(v) * ub


@njit(cache=True, fastmath=True)
def _matvec_h(b, v, out):
    """out = b v for Hermitian b, by rows (out = sum_be conj(b[be, :]) v[be])."""
    n = v.size
    for k in range(n):
        out[k] = 0.0 * v[0]
    for be in range(n):
        vb = v[be]
        row = b[be]
        for al in range(n):
            out[al] += np.conj(row[al]) * vb


@njit(cache=True)
def obdm_rows(u, q, stride, rows, out, tol_den, tol_eig):
    """Fill out[x, y] and out[y, x] (x in rows, y >= x) with <b+_x b_y>.

    u : (M, N) C-contiguous orbitals (float64 or complex128), lattice-normalized.
    q : prefix checkpoints from :func:`prefix_checkpoints` with the same ``stride``; O^T is
        rebuilt exactly every ``stride`` sites and wherever |1 - 2 u^H B u| < tol_den.
    Returns the number of exact (eigendecomposition) restarts, for diagnostics.
    """
    m, n = u.shape
    restarts = 0
    eye = np.eye(n).astype(u.dtype)
    b = np.empty((n, n), dtype=u.dtype)
    w = np.empty(n, dtype=u.dtype)
    wn = np.empty(n, dtype=u.dtype)
    for x in rows:
        ux = u[x].copy()
        dd = 0.0
        for al in range(n):
            dd += ux[al].real ** 2 + ux[al].imag ** 2
        out[x, x] = dd
        if x == m - 1:
            continue
        qx = _prefix_at(u, q, stride, x + 1)
        # start: S empty, O^T = I, B = I
        b[:, :] = eye
        a = ux.copy()
        w[:] = u[x + 1]
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
                val = sgn * np.exp(logdet) * _cdot(a, uy)
            else:
                py = _vh_dot(vv, uy)
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
            # ---- add site y to S (w = B u(y) on entry in regular mode)
            explicit = (not regular) or ((y + 1) % stride == 0)
            if not explicit:
                s = _cdot(uy, w).real
                den = 1.0 - 2.0 * s
                if abs(den) < tol_den:
                    explicit = True
                else:
                    c = 2.0 / den
                    ua = _cdot(uy, a)
                    for al in range(n):
                        a[al] += c * w[al] * ua
                    _fused_update(b, w, c, u[y + 1], wn)
                    w[:] = wn
                    logdet += np.log(abs(den))
                    if den < 0:
                        sgn = -sgn
            if explicit:
                restarts += 1
                if regular:
                    qcur = _prefix_at(u, q, stride, y + 1)
                else:
                    _outer_acc(qcur, uy, 1.0)
                ot = np.empty((n, n), dtype=u.dtype)
                for al in range(n):
                    for be in range(n):
                        ot[al, be] = eye[al, be] - 2.0 * (qcur[al, be] - qx[al, be])
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
                    _matvec_h(b, ux, a)
                    _matvec_h(b, u[y + 1], w)
                else:
                    regular = False
    return restarts


@njit(cache=True)
def _cdot(x, y):
    """x^H y."""
    acc = 0.0 * x[0] * y[0]
    for i in range(x.size):
        acc += np.conj(x[i]) * y[i]
    return acc
