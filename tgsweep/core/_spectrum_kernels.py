"""numba kernels: eigenpairs of the twisted ring operator (tridiagonal + corner elements).

All kernels take plain arrays and scalars:
    diag   (M,) float64   diagonal of H
    t      float          hopping (H[i, i+1] = -t)
    corner complex/float  H[0, M-1] (= -t e^{-i phi}); H[M-1, 0] = conj(corner)

Method (O(M) per Sturm count, no dense M x M matrix):
* Inertia of H - E by an LDL^H factorization in the order (1, 2, ..., M-1, 0): the open chain
  1..M-1 is a tridiagonal Sturm sequence, site 0 is eliminated last through its Schur complement
  (an "arrow" factorization).  By Sylvester's law of inertia the number of negative pivots is the
  number of eigenvalues below E.  Zero pivots are replaced by -pivmin as in LAPACK's dstebz.
* Bisection on that count for the wanted index range (all targets share every count).
* Inverse iteration with the same arrow factorization, Gram-Schmidt inside clusters of close
  eigenvalues (LAPACK dstein's rule: |E_j - E_k| < 1e-3 ||H||).

The plain NumPy twin used in tests is :func:`tgsweep.core.spectrum.dense_eigenpairs`.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def ring_count_below(diag, t, corner, e, pivmin):
    """Number of eigenvalues of the twisted ring operator strictly below e."""
    m = diag.size
    t2 = t * t
    count = 0
    p = diag[1] - e
    if abs(p) < pivmin:
        p = -pivmin
    if p < 0:
        count += 1
    g = -t + 0.0 * corner  # coupling of site 0 to site 1 (same type as corner)
    if m == 2:
        g = g + corner
    s = diag[0] - e - (g.real * g.real + g.imag * g.imag) / p
    for k in range(2, m):
        # g_k = H[0,k] + t g_{k-1} / p_{k-1}
        gn = t * g / p
        if k == m - 1:
            gn = gn + corner
        pn = diag[k] - e - t2 / p
        if abs(pn) < pivmin:
            pn = -pivmin
        if pn < 0:
            count += 1
        s -= (gn.real * gn.real + gn.imag * gn.imag) / pn
        g = gn
        p = pn
    if s < 0:
        count += 1
    return count


@njit(cache=True)
def ring_bisect(diag, t, corner, i0, i1, lo0, hi0, abstol, pivmin):
    """Eigenvalues with indices i0..i1-1 (ascending, 0-based) by shared bisection."""
    n = i1 - i0
    lo = np.full(n, lo0)
    hi = np.full(n, hi0)
    for k in range(n):
        while True:
            a = lo[k]
            b = hi[k]
            tol = abstol + 4.0 * 2.220446049250313e-16 * max(abs(a), abs(b))
            if b - a <= tol:
                break
            mid = 0.5 * (a + b)
            if mid <= a or mid >= b:
                break
            c = ring_count_below(diag, t, corner, mid, pivmin)
            # c eigenvalues lie below mid: targets with index < c are below mid
            for j in range(k, n):
                idx = i0 + j
                if idx < c:
                    if mid < hi[j]:
                        hi[j] = mid
                else:
                    if mid > lo[j]:
                        lo[j] = mid
    out = np.empty(n)
    for k in range(n):
        out[k] = 0.5 * (lo[k] + hi[k])
    return out


@njit(cache=True)
def _arrow_solve(diag, t, corner, sigma, rhs, pivmin, p, g, x):
    """Solve (H - sigma) x = rhs with the arrow LDL^H factorization (order 1..M-1, 0).

    p, g are work arrays of length M (pivots and couplings of site 0); x receives the solution.
    """
    m = diag.size
    t2 = t * t
    # factorization: chain pivots p[k] (k = 1..M-1), couplings g[k] = L[0,k] p[k]
    pk = diag[1] - sigma
    if abs(pk) < pivmin:
        pk = -pivmin
    p[1] = pk
    g[1] = -t + 0.0 * corner
    if m == 2:
        g[1] = g[1] + corner
    s = diag[0] - sigma - (g[1].real * g[1].real + g[1].imag * g[1].imag) / pk
    for k in range(2, m):
        gn = t * g[k - 1] / p[k - 1]
        if k == m - 1:
            gn = gn + corner
        pn = diag[k] - sigma - t2 / p[k - 1]
        if abs(pn) < pivmin:
            pn = -pivmin
        p[k] = pn
        g[k] = gn
        s -= (gn.real * gn.real + gn.imag * gn.imag) / pn
    if abs(s) < pivmin:
        s = -pivmin
    # forward: L z = rhs.  L[k, k-1] = -t / p[k-1] (chain), L[0, k] = g[k] / p[k]
    # chain rows k = 1..M-1: z_k = r_k + t z_{k-1}/p_{k-1}
    x[1] = rhs[1]
    for k in range(2, m):
        x[k] = rhs[k] + t * x[k - 1] / p[k - 1]
    acc = rhs[0]
    for k in range(1, m):
        acc = acc - g[k] / p[k] * x[k]
    # D solve
    x0 = acc / s
    for k in range(1, m):
        x[k] = x[k] / p[k]
    # backward: L^H x = w.  L^H[k, k+1] = -t/p_k, L^H[k, 0] = conj(g_k)/p_k
    x[0] = x0
    x[m - 1] = x[m - 1] - np.conj(g[m - 1]) / p[m - 1] * x0
    for k in range(m - 2, 0, -1):
        x[k] = x[k] - np.conj(g[k]) / p[k] * x0 + t / p[k] * x[k + 1]


@njit(cache=True)
def ring_inverse_iteration(diag, t, corner, evals, hnorm, vecs, seed):
    """Eigenvectors for sorted eigenvalues `evals` by inverse iteration, written into vecs (M, n).

    vecs must have the dtype of corner's type (float64 for a real twist, complex128 otherwise).
    Returns the largest residual ||H v - E v|| found (for the caller's check).
    """
    m = diag.size
    n = evals.size
    eps = 2.220446049250313e-16
    pivmin = 1e-300 + eps * eps * max(t * t, 1.0)
    ortol = 1e-3 * hnorm
    p = np.empty(m)
    g = np.zeros(m, dtype=vecs.dtype)
    x = np.zeros(m, dtype=vecs.dtype)
    b = np.zeros(m, dtype=vecs.dtype)
    np.random.seed(seed)
    cluster_start = 0
    max_res = 0.0
    for j in range(n):
        if j > 0 and evals[j] - evals[j - 1] > ortol:
            cluster_start = j
        # perturb identical shifts slightly so that the factorizations differ (dstein)
        sigma = evals[j]
        if j > cluster_start:
            if sigma <= evals[j - 1] + 10 * eps * abs(sigma):
                sigma = evals[j - 1] + 10 * eps * max(abs(evals[j - 1]), hnorm * 1e-3)
        for i in range(m):
            b[i] = np.random.uniform(-1.0, 1.0)
        nrm = np.sqrt(np.sum(np.abs(b) ** 2))
        for i in range(m):
            b[i] /= nrm
        for it in range(4):
            _arrow_solve(diag, t, corner, sigma, b, pivmin, p, g, x)
            # Gram-Schmidt against the cluster (twice: "twice is enough")
            for rep in range(2):
                for c in range(cluster_start, j):
                    ov = np.sum(np.conj(vecs[:, c]) * x)
                    for i in range(m):
                        x[i] -= ov * vecs[:, c][i]
            nrm = np.sqrt(np.sum(np.abs(x) ** 2))
            for i in range(m):
                b[i] = x[i] / nrm
        # fix the global phase: largest component real positive
        imax = 0
        amax = 0.0
        for i in range(m):
            a = abs(b[i])
            if a > amax:
                amax = a
                imax = i
        ph = np.conj(b[imax]) / abs(b[imax])
        for i in range(m):
            vecs[i, j] = b[i] * ph
        # residual
        r2 = 0.0
        for i in range(m):
            ip = i + 1 if i + 1 < m else 0
            im = i - 1 if i > 0 else m - 1
            hv = diag[i] * vecs[i, j]
            if i == m - 1:
                hv = hv - t * vecs[i - 1, j] + np.conj(corner) * vecs[0, j]
            elif i == 0:
                hv = hv - t * vecs[1, j] + corner * vecs[m - 1, j]
            else:
                hv = hv - t * (vecs[ip, j] + vecs[im, j])
            r = hv - evals[j] * vecs[i, j]
            r2 += r.real * r.real + r.imag * r.imag
        if np.sqrt(r2) > max_res:
            max_res = np.sqrt(r2)
    return max_res
