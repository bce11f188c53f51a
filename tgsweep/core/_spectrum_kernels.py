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
from .jit import njit  # numba.njit with explicit fastmath/error_model (see jit.py)


@njit(cache=True)
def _arrow_factor(diag, t, corner, e, pivmin, bt, pv, qv, dt, g, cv, store=True):
    """Block LDL^H of (H - e) in the order (1, ..., M-1, 0) with 1x1 / 2x2 chain pivots.

    A 2x2 pivot on chain sites (k, k+1) is used when |p_k (d_{k+1} - e)| < t^2 / 2 (p_k the
    current Schur diagonal): then det < -t^2/2, the block has exactly one negative eigenvalue,
    and the cancellation that a tiny 1x1 pivot would cause in the Schur complement of site 0
    is avoided (Bunch's pivoting for symmetric tridiagonals).  Arrays (length M, index = chain
    site) receive the factor: bt (1: 1x1 pivot, 2: first site of a 2x2 block, 0: its second),
    pv (pivot / block top-left), qv (block bottom-right), dt (block determinant), g (arrow entry
    at the pivot), cv (arrow entry at the block's second site).
    Returns (number of negative eigenvalues of H - e, last pivot s of site 0).
    """
    m = diag.size
    t2 = t * t
    count = 0
    zero = 0.0 * corner
    cur = diag[1] - e
    gk = -t + zero
    if m == 2:
        gk = gk + corner
    s = diag[0] - e + 0.0
    k = 1
    while k <= m - 1:
        if k < m - 1:
            q = diag[k + 1] - e
            if abs(cur * q) < 0.5 * t2:
                c = corner if k + 1 == m - 1 else zero
                det = cur * q - t2
                count += 1
                s -= (q * (gk.real * gk.real + gk.imag * gk.imag)
                      + cur * (c.real * c.real + c.imag * c.imag)
                      + 2.0 * t * (np.conj(gk) * c).real) / det
                if store:
                    bt[k] = 2
                    bt[k + 1] = 0
                    pv[k] = cur
                    qv[k] = q
                    dt[k] = det
                    g[k] = gk
                    cv[k] = c
                if k + 2 <= m - 1:
                    nxt = corner if k + 2 == m - 1 else zero
                    gk = nxt + t * (gk * t + c * cur) / det
                    cur = diag[k + 2] - e - t2 * cur / det
                k += 2
                continue
        if abs(cur) < pivmin:
            cur = -pivmin
        if cur < 0:
            count += 1
        s -= (gk.real * gk.real + gk.imag * gk.imag) / cur
        if store:
            bt[k] = 1
            pv[k] = cur
            g[k] = gk
        if k + 1 <= m - 1:
            nxt = corner if k + 1 == m - 1 else zero
            gk = nxt + t * gk / cur
            cur = diag[k + 1] - e - t2 / cur
        k += 1
    if abs(s) < pivmin:
        s = -pivmin
    if s < 0:
        count += 1
    return count, s


@njit(cache=True)
def ring_count_below(diag, t, corner, e, pivmin):
    """Number of eigenvalues of the twisted ring operator strictly below e (Sylvester inertia)."""
    bt = np.empty(1, dtype=np.int8)
    pv = np.empty(1)
    g = np.zeros(1) * corner
    count, s = _arrow_factor(diag, t, corner, e, pivmin, bt, pv, pv, pv, g, g, False)
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
def _arrow_solve(diag, t, corner, sigma, rhs, pivmin, ws, x):
    """Solve (H - sigma) x = rhs with the block arrow factorization of :func:`_arrow_factor`.

    ws is a tuple of work arrays (bt, pv, qv, dt, g, cv) of length M.
    """
    bt, pv, qv, dt, g, cv = ws
    m = diag.size
    count, s = _arrow_factor(diag, t, corner, sigma, pivmin, bt, pv, qv, dt, g, cv)
    for i in range(m):
        x[i] = rhs[i]
    # forward  L z = r  (z overwrites x; x[0] accumulates the arrow row)
    k = 1
    while k <= m - 1:
        if bt[k] == 2:
            z1 = x[k]
            z2 = x[k + 1]
            cur = pv[k]
            q = qv[k]
            det = dt[k]
            if k + 2 <= m - 1:
                x[k + 2] += t * (t * z1 + cur * z2) / det
            x[0] -= ((g[k] * q + cv[k] * t) * z1 + (g[k] * t + cv[k] * cur) * z2) / det
            k += 2
        else:
            if k + 1 <= m - 1:
                x[k + 1] += t / pv[k] * x[k]
            x[0] -= g[k] / pv[k] * x[k]
            k += 1
    # block-diagonal solve
    x[0] = x[0] / s
    k = 1
    while k <= m - 1:
        if bt[k] == 2:
            z1 = x[k]
            z2 = x[k + 1]
            det = dt[k]
            x[k] = (qv[k] * z1 + t * z2) / det
            x[k + 1] = (t * z1 + pv[k] * z2) / det
            k += 2
        else:
            x[k] = x[k] / pv[k]
            k += 1
    # backward  L^H x = w, chain blocks in reverse order
    x0 = x[0]
    k = m - 1
    while k >= 1:
        if bt[k] == 0:  # second site of a 2x2 block starting at k-1
            j = k - 1
            nxt = x[k + 1] if k + 1 <= m - 1 else 0.0 * x0
            cur = pv[j]
            det = dt[j]
            x[j] = x[j] + t * t / det * nxt - np.conj(g[j] * qv[j] + cv[j] * t) / det * x0
            x[k] = x[k] + t * cur / det * nxt - np.conj(g[j] * t + cv[j] * cur) / det * x0
            k -= 2
        else:
            nxt = x[k + 1] if k + 1 <= m - 1 else 0.0 * x0
            x[k] = x[k] + t / pv[k] * nxt - np.conj(g[k]) / pv[k] * x0
            k -= 1


@njit(cache=True)
def ring_inverse_iteration(diag, t, corner, evals, hnorm, vecs, seed, window=64):
    """Eigenvectors for sorted eigenvalues ``evals`` by inverse iteration, written as the ROWS of
    ``vecs`` (n, M) (dtype float64 for a real twist, complex128 otherwise).

    Gram-Schmidt (twice) against earlier vectors of the same cluster, LAPACK dstein's rule
    |E_j - E_k| < 1e-3 ||H||, limited to the ``window`` previous levels: levels further apart in
    index are separated by at least ``window`` level spacings, so inverse iteration alone makes
    them orthogonal to ~eps ||H|| / gap.  Cost O(M n window) at worst instead of O(M n^2).
    Returns the largest residual ||H v - E v|| found (for the caller's check).
    """
    m = diag.size
    n = evals.size
    eps = 2.220446049250313e-16
    pivmin = 1e-300 + eps * eps * max(t * t, 1.0)
    ortol = 1e-3 * hnorm
    ws = (np.empty(m, dtype=np.int8), np.empty(m), np.empty(m), np.empty(m),
          np.zeros(m, dtype=vecs.dtype), np.zeros(m, dtype=vecs.dtype))
    x = np.zeros(m, dtype=vecs.dtype)
    b = np.zeros(m, dtype=vecs.dtype)
    sup_lo = np.zeros(n, dtype=np.int64)  # support [lo, hi] of each finished vector
    sup_hi = np.zeros(n, dtype=np.int64)
    np.random.seed(seed)
    cluster_start = 0
    max_res = 0.0
    for j in range(n):
        if j > 0 and evals[j] - evals[j - 1] > ortol:
            cluster_start = j
        c0 = max(cluster_start, j - window)
        sigma = evals[j]
        if j > cluster_start:
            if sigma <= evals[j - 1] + 10 * eps * abs(sigma):
                sigma = evals[j - 1] + 10 * eps * max(abs(evals[j - 1]), hnorm * 1e-3)
        for i in range(m):
            b[i] = np.random.uniform(-1.0, 1.0)
        nrm = np.sqrt(np.sum(np.abs(b) ** 2))
        for i in range(m):
            b[i] /= nrm
        for it in range(3):
            _arrow_solve(diag, t, corner, sigma, b, pivmin, ws, x)
            for rep in range(2):
                for c in range(c0, j):
                    vc = vecs[c]
                    ov = 0.0 * x[0]
                    for i in range(sup_lo[c], sup_hi[c] + 1):
                        ov += np.conj(vc[i]) * x[i]
                    for i in range(sup_lo[c], sup_hi[c] + 1):
                        x[i] -= ov * vc[i]
            nrm = 0.0
            for i in range(m):
                nrm += x[i].real ** 2 + x[i].imag ** 2
            nrm = np.sqrt(nrm)
            for i in range(m):
                b[i] = x[i] / nrm
        imax = 0
        amax = 0.0
        for i in range(m):
            a = abs(b[i])
            if a > amax:
                amax = a
                imax = i
        ph = np.conj(b[imax]) / abs(b[imax])
        v = vecs[j]
        for i in range(m):
            v[i] = b[i] * ph
        # support: entries below 1e-18 max|v| do not matter for Gram-Schmidt (localized states)
        thr = 1e-18 * amax
        lo_i = 0
        while lo_i < m - 1 and abs(v[lo_i]) <= thr:
            lo_i += 1
        hi_i = m - 1
        while hi_i > lo_i and abs(v[hi_i]) <= thr:
            hi_i -= 1
        sup_lo[j] = lo_i
        sup_hi[j] = hi_i
        r2 = 0.0
        for i in range(m):
            ip = i + 1 if i + 1 < m else 0
            im = i - 1 if i > 0 else m - 1
            hv = diag[i] * v[i]
            if i == m - 1:
                hv = hv - t * v[i - 1] + np.conj(corner) * v[0]
            elif i == 0:
                hv = hv - t * v[1] + corner * v[m - 1]
            else:
                hv = hv - t * (v[ip] + v[im])
            r = hv - evals[j] * v[i]
            r2 += r.real * r.real + r.imag * r.imag
        if np.sqrt(r2) > max_res:
            max_res = np.sqrt(r2)
    return max_res


@njit(cache=True)
def chain_count_below(diag, t, e, pivmin):
    """Number of eigenvalues below e of the open chain H[i, i] = diag[i], H[i, i+1] = -t
    (Sturm sequence of the LDL^T pivots, zero pivots replaced by -pivmin as in LAPACK dstebz)."""
    m = diag.size
    t2 = t * t
    count = 0
    cur = diag[0] - e
    for i in range(m):
        if i > 0:
            cur = diag[i] - e - t2 / cur
        if abs(cur) < pivmin:
            cur = -pivmin
        if cur < 0:
            count += 1
    return count


def chain_count_below_reference(diag, t, e):
    """Plain NumPy twin of :func:`chain_count_below`: eigenvalues of the dense open chain."""
    m = len(diag)
    a = np.diag(np.asarray(diag, dtype=float)) - t * (np.eye(m, k=1) + np.eye(m, k=-1))
    return int(np.sum(np.linalg.eigvalsh(a) < e))


@njit(cache=True)
def packed_residuals(diag, t, corner, starts, lengths, offsets, values, energies, out):
    """out[j] = ||H phi_j - E_j phi_j||_2 with the full twisted ring operator, for vectors stored
    on arcs: phi_j(site (starts[j] + p) mod M) = values[offsets[j] + p], 0 <= p < lengths[j],
    zero elsewhere (ring gauge: H[0, M-1] = corner, H[M-1, 0] = conj(corner)).  The residual is
    evaluated on the arc and the two sites next to it (where H phi_j is non-zero)."""
    m = diag.size
    for j in range(starts.size):
        s = starts[j]
        ln = lengths[j]
        o = offsets[j]
        e = energies[j]
        r2 = 0.0
        lo = -1 if ln < m else 0          # every site where H phi_j can be non-zero, once
        hi = ln + 1 if ln + 2 <= m else ln
        for p in range(lo, hi):
            site = (s + p) % m
            if site < 0:
                site += m
            v = values[o + p] if 0 <= p < ln else 0.0 * values[o]
            hv = (diag[site] - e) * v
            # neighbour site + 1 and site - 1, by their position on the arc
            for step in (1, -1):
                nb = site + step
                amp = -t + 0.0 * corner
                if nb == m:
                    nb = 0
                    amp = np.conj(corner)
                elif nb == -1:
                    nb = m - 1
                    amp = corner
                q = (nb - s) % m
                if q < ln:
                    hv += amp * values[o + q]
            r2 += hv.real * hv.real + hv.imag * hv.imag
        out[j] = np.sqrt(r2)


@njit(cache=True)
def _arc_dot(starts, lengths, offsets, values, i, j, m):
    """<phi_i, phi_j> over the sites common to the two arcs (both taken mod M)."""
    si, li, oi = starts[i], lengths[i], offsets[i]
    sj, lj, oj = starts[j], lengths[j], offsets[j]
    acc = 0.0 * values[oi]
    for shift in (-m, 0, m):
        a = max(si, sj + shift)
        b = min(si + li, sj + shift + lj)
        for x in range(a, b):
            acc += np.conj(values[oi + x - si]) * values[oj + x - sj - shift]
    return acc


@njit(cache=True)
def packed_max_overlap(starts, lengths, offsets, values, group, m, all_pairs):
    """max |<phi_i, phi_j>| over pairs i != j whose arcs intersect (mod M), restricted to pairs
    from different ``group`` (window) unless ``all_pairs``; and max | ||phi_j|| - 1 |.
    Arcs are sorted by start; each arc is paired with the later-starting arcs that begin inside
    it, and (for an arc running past site M - 1) with those that begin before its wrapped end."""
    n = starts.size
    order = np.argsort(starts)
    best = 0.0
    for ii in range(n):
        i = order[ii]
        nrm = _arc_dot(starts, lengths, offsets, values, i, i, m).real
        best = max(best, abs(np.sqrt(nrm) - 1.0))
        ei = starts[i] + lengths[i]
        jj = ii + 1
        while jj < n and starts[order[jj]] < ei:
            j = order[jj]
            if all_pairs or group[j] != group[i]:
                best = max(best, abs(_arc_dot(starts, lengths, offsets, values, i, j, m)))
            jj += 1
        if ei > m:
            jj = 0
            while jj < ii and starts[order[jj]] < ei - m:
                j = order[jj]
                if all_pairs or group[j] != group[i]:
                    best = max(best, abs(_arc_dot(starts, lengths, offsets, values, i, j, m)))
                jj += 1
    return best
