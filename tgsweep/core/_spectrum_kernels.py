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
from .jit import FMA, njit  # numba.njit with explicit fastmath/error_model (see jit.py)


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
    count, s = _arrow_factor(diag, t, corner, sigma, pivmin, bt, pv, qv, dt, g, cv)
    _arrow_apply(t, s, ws, rhs, x)


@njit(cache=True)
def _arrow_apply(t, s, ws, rhs, x):
    """x = (H - sigma)^{-1} rhs from a stored factorization (ws, s) of :func:`_arrow_factor`
    (the solve half of :func:`_arrow_solve`: one factorization serves every iteration)."""
    bt, pv, qv, dt, g, cv = ws
    m = x.size
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
        # one factorization of H - sigma serves the three iterations
        count, s = _arrow_factor(diag, t, corner, sigma, pivmin, ws[0], ws[1], ws[2], ws[3],
                                 ws[4], ws[5])
        for it in range(3):
            _arrow_apply(t, s, ws, b, x)
            _deflate_normalize(x, b, vecs, c0, j, sup_lo, sup_hi)
        _store_vector(b, vecs[j], sup_lo, sup_hi, j)
        r = _ring_residual(diag, t, corner, vecs[j], evals[j])
        if not r <= max_res:
            max_res = r if r == r else np.inf
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


# ------------------------------------------------------------------ small rings, one kernel
@njit(cache=True)
def fold_ring_band(diag, t, corner, ab):
    """Write H_phi in the folded site order 0, M-1, 1, M-2, ... into ``ab`` (3, M), M >= 3, as
    a Hermitian band of half-bandwidth 2 in LAPACK's lower storage ab[k, j] = (P H P^T)[j+k, j]
    (zeros below the end of each diagonal); ab may be C- or Fortran-ordered.  NumPy twin:
    :func:`tgsweep.core.spectrum.folded_band` (equal entry by entry).  Returns the Gershgorin
    interval (min diag - 2t, max diag + 2t) of :func:`tgsweep.core.spectrum.spectral_bounds`."""
    m = diag.size
    zero = corner - corner
    dmin = diag[0]
    dmax = diag[0]
    for j in range(m):
        y = j // 2 if j % 2 == 0 else m - 1 - j // 2
        ab[0, j] = diag[y]
        dmin = min(dmin, diag[y])
        dmax = max(dmax, diag[y])
        for k in (1, 2):
            v = zero
            if j + k < m:
                x = (j + k) // 2 if (j + k) % 2 == 0 else m - 1 - (j + k) // 2
                if abs(x - y) == 1:
                    v = v - t
                if x == 0 and y == m - 1:        # H[0, M-1]
                    v = v + corner
                if x == m - 1 and y == 0:        # H[M-1, 0]
                    v = v + np.conj(corner)
            ab[k, j] = v
    return dmin - 2.0 * t, dmax + 2.0 * t


@njit(cache=True)
def _arrow_multipliers(t, ws, r1, r2, r3, z1):
    """Every division of :func:`_arrow_apply`, done once per factorization ws = (bt, pv, qv, dt,
    g, cv) of :func:`_arrow_factor`: a 1x1 pivot p at k gives r1 = t/p, r2 = 1/p, z1 = g/p; a 2x2
    block (k, k+1) with entries (p, q), determinant D, arrow entries (g, c) gives r1[k] = t^2/D,
    r1[k+1] = t p/D, r2[k] = q/D, r2[k+1] = p/D, r3[k] = t/D, z1[k] = (g q + c t)/D,
    z1[k+1] = (g t + c p)/D."""
    bt, pv, qv, dt, g, cv = ws
    m = bt.size
    k = 1
    while k <= m - 1:
        if bt[k] == 2:
            det = dt[k]
            cur = pv[k]
            q = qv[k]
            r1[k] = t * t / det
            r1[k + 1] = t * cur / det
            r2[k] = q / det
            r2[k + 1] = cur / det
            r3[k] = t / det
            z1[k] = (g[k] * q + cv[k] * t) / det
            z1[k + 1] = (g[k] * t + cv[k] * cur) / det
            k += 2
        else:
            r1[k] = t / pv[k]
            r2[k] = 1.0 / pv[k]
            z1[k] = g[k] / pv[k]
            k += 1


@njit(cache=True, fastmath=FMA)
def _arrow_apply_mul(bt, s, r1, r2, r3, z1, rhs, x):
    """x = (H - sigma)^{-1} rhs as :func:`_arrow_apply` (forward sweep, block-diagonal solve,
    backward sweep; the last two fused here), with the multipliers of
    :func:`_arrow_multipliers` instead of divisions (one division, by s) and fused
    multiply-adds."""
    m = x.size
    for i in range(m):
        x[i] = rhs[i]
    k = 1
    while k <= m - 1:
        if bt[k] == 2:
            a = x[k]
            b = x[k + 1]
            if k + 2 <= m - 1:
                x[k + 2] += r1[k] * a + r1[k + 1] * b
            x[0] -= z1[k] * a + z1[k + 1] * b
            k += 2
        else:
            if k + 1 <= m - 1:
                x[k + 1] += r1[k] * x[k]
            x[0] -= z1[k] * x[k]
            k += 1
    x0 = x[0] / s
    x[0] = x0
    k = m - 1
    while k >= 1:
        nxt = x[k + 1] if k + 1 <= m - 1 else 0.0 * x0
        if bt[k] == 0:                   # second site of the 2x2 block (k-1, k)
            j = k - 1
            a = x[j]
            b = x[k]
            x[j] = r2[j] * a + r3[j] * b + r1[j] * nxt - np.conj(z1[j]) * x0
            x[k] = r3[j] * a + r2[k] * b + r1[k] * nxt - np.conj(z1[k]) * x0
            k -= 2
        else:
            x[k] = r2[k] * x[k] + r1[k] * nxt - np.conj(z1[k]) * x0
            k -= 1


@njit(cache=True)
def _deflate_normalize(x, b, vecs, c0, j, sup_lo, sup_hi):
    """Gram-Schmidt of x, twice, against the finished vectors c0 .. j-1 (each on its support
    [sup_lo[c], sup_hi[c]]), then b = x / ||x||; returns ||x|| (after the projections)."""
    for rep in range(2):
        for c in range(c0, j):
            vc = vecs[c]
            ov = 0.0 * x[0]
            for i in range(sup_lo[c], sup_hi[c] + 1):
                ov += np.conj(vc[i]) * x[i]
            for i in range(sup_lo[c], sup_hi[c] + 1):
                x[i] -= ov * vc[i]
    nrm = 0.0
    for i in range(x.size):
        nrm += x[i].real ** 2 + x[i].imag ** 2
    nrm = np.sqrt(nrm)
    for i in range(x.size):
        b[i] = x[i] / nrm
    return nrm


@njit(cache=True)
def _store_vector(b, v, sup_lo, sup_hi, j):
    """v = b times the phase that makes its largest entry real positive; [sup_lo[j], sup_hi[j]]
    = the sites where |v| > 1e-18 max |v| (what Gram-Schmidt against v needs to visit)."""
    m = b.size
    imax = 0
    amax = 0.0
    for i in range(m):
        a = abs(b[i])
        if a > amax:
            amax = a
            imax = i
    ph = np.conj(b[imax]) / abs(b[imax])
    for i in range(m):
        v[i] = b[i] * ph
    thr = 1e-18 * amax
    lo_i = 0
    while lo_i < m - 1 and abs(v[lo_i]) <= thr:
        lo_i += 1
    hi_i = m - 1
    while hi_i > lo_i and abs(v[hi_i]) <= thr:
        hi_i -= 1
    sup_lo[j] = lo_i
    sup_hi[j] = hi_i


@njit(cache=True)
def _ring_residual(diag, t, corner, v, e):
    """||H v - e v||_2 with the full ring operator (M >= 3); inf on NaN or overflow."""
    m = v.size
    r2 = 0.0
    for i in range(m):
        if i == 0:
            hv = diag[0] * v[0] - t * v[1] + corner * v[m - 1]
        elif i == m - 1:
            hv = diag[i] * v[i] - t * v[i - 1] + np.conj(corner) * v[0]
        else:
            hv = diag[i] * v[i] - t * (v[i + 1] + v[i - 1])
        r = hv - e * v[i]
        r2 += r.real * r.real + r.imag * r.imag
    if not r2 <= 1e300:
        return np.inf
    return np.sqrt(r2)


@njit(cache=True)
def _gram_deviation(vecs):
    """max |V V^H - I| over all entries of the rows' Gram matrix (one matrix product), plus
    the rounding bound (M + 4) eps max_j ||v_j||^2 of a computed inner product of length M
    (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. 3.5): never below
    the exact value; inf on NaN."""
    n, m = vecs.shape
    if n == 0:
        return 0.0
    gram = np.dot(np.conj(vecs), vecs.T)
    best = 0.0
    nmax = 0.0
    for i in range(n):
        nmax = max(nmax, gram[i, i].real)
        for k in range(n):
            dev = abs(gram[i, k] - 1.0) if i == k else abs(gram[i, k])
            if not dev <= best:
                best = dev if dev == dev else np.inf
    return best + (m + 4) * 2.220446049250313e-16 * nmax


@njit(cache=True)
def ring_certified_pairs(diag, t, corner, evals, hnorm, e_cut, pivmin, vecs, seed, window=64):
    """Eigenvectors of the ring for the sorted eigenvalues ``evals`` (rows of ``vecs`` (n, M),
    float64 for a real twist, complex128 otherwise) with their certificate, in one pass.

    Inverse iteration as :func:`ring_inverse_iteration` (Gram-Schmidt twice against the earlier
    members of a cluster |E_j - E_k| < 1e-3 ||H||, at most ``window`` of them; a shifted sigma
    inside a cluster), with one block LDL^H factorization of H - sigma per vector
    (:func:`_arrow_factor`, its divisions done once, :func:`_arrow_multipliers`) serving every
    iteration, a uniform(-1, 1) start from a xorshift64 stream seeded by ``seed``, and a
    stopping rule on the growth G = ||(H - sigma)^{-1} b|| of the unit start b (the residual
    of the new iterate with respect to sigma is 1/G): once 1/G <= 1e-10 ||H||, one more
    iteration (LAPACK dstein's extra step; from a converged start it brings the residual to
    rounding), at most 5 solves.

    Returns (max_res, max_ov, count):
      max_res = max_j ||H v_j - E_j v_j||_2 with the full ring operator, as computed in
        floating point (NaN or overflow anywhere gives inf);
      max_ov = max |V V^H - I| over all entries (pairs and | ||v_j||^2 - 1 |) from one
        matrix product, plus the rounding bound (M + 4) eps max_j ||v_j||^2 of a computed
        inner product (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. 3.5),
        so that it is never below the exact value;
      count = number of eigenvalues of H below ``e_cut`` (Sturm count of :func:`ring_count_below`
        with ``pivmin``), -1 if e_cut is not finite.
    NumPy twin: :func:`certified_pairs_reference`."""
    m = diag.size
    n = evals.size
    eps = 2.220446049250313e-16
    piv = 1e-300 + eps * eps * max(t * t, 1.0)
    ortol = 1e-3 * hnorm
    grown = 1.0 / (1e-10 * hnorm)
    bt = np.empty(m, dtype=np.int8)
    pv = np.empty(m)
    qv = np.empty(m)
    dt = np.empty(m)
    g = np.zeros(m, dtype=vecs.dtype)
    cv = np.zeros(m, dtype=vecs.dtype)
    r1 = np.zeros(m)
    r2 = np.zeros(m)
    r3 = np.zeros(m)
    z1 = np.zeros(m, dtype=vecs.dtype)
    ws = (bt, pv, qv, dt, g, cv)
    x = np.zeros(m, dtype=vecs.dtype)
    b = np.zeros(m, dtype=vecs.dtype)
    sup_lo = np.zeros(n, dtype=np.int64)
    sup_hi = np.zeros(n, dtype=np.int64)
    st = np.uint64(seed) + np.uint64(88172645463325252)
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
        cnt, s = _arrow_factor(diag, t, corner, sigma, piv, bt, pv, qv, dt, g, cv, True)
        _arrow_multipliers(t, ws, r1, r2, r3, z1)
        nrm = 0.0
        for i in range(m):
            st ^= st << np.uint64(13)
            st ^= st >> np.uint64(7)
            st ^= st << np.uint64(17)
            u = np.float64(st >> np.uint64(11)) * (2.0 / 9007199254740992.0) - 1.0
            b[i] = u
            nrm += u * u
        nrm = np.sqrt(nrm)
        for i in range(m):
            b[i] /= nrm
        extra = False
        for it in range(5):
            _arrow_apply_mul(bt, s, r1, r2, r3, z1, b, x)
            nrm = _deflate_normalize(x, b, vecs, c0, j, sup_lo, sup_hi)
            if extra:
                break
            if nrm >= grown:
                extra = True
        _store_vector(b, vecs[j], sup_lo, sup_hi, j)
        r = _ring_residual(diag, t, corner, vecs[j], evals[j])
        if not r <= max_res:
            max_res = r if r == r else np.inf
    max_ov = _gram_deviation(vecs)
    count = -1
    if np.isfinite(e_cut):
        count = ring_count_below(diag, t, corner, e_cut, pivmin)
    return max_res, max_ov, count


def ring_matrix_reference(diag, t, corner):
    """Plain NumPy: the dense M x M ring operator (H[i, i +- 1] = -t, H[0, M-1] = corner,
    H[M-1, 0] = conj(corner)); real when corner is real."""
    m = len(diag)
    dt = np.complex128 if isinstance(corner, complex) else np.float64
    h = np.diag(np.asarray(diag, dtype=float)).astype(dt)
    i = np.arange(m - 1)
    h[i, i + 1] -= t
    h[i + 1, i] -= t
    h[0, m - 1] += corner
    h[m - 1, 0] += np.conj(corner)
    return h


def certified_pairs_reference(diag, t, corner, evals, e_cut, vecs=None):
    """Plain NumPy/LAPACK twin of :func:`ring_certified_pairs`: (vecs, max_res, max_ov,
    count) with the vectors (rows) from dense eigh unless given, the residual of each row with
    the dense matrix, max |V V^H - I| (no rounding term), and the number of dense eigenvalues
    below e_cut (-1 if e_cut is not finite)."""
    h = ring_matrix_reference(diag, t, corner)
    n = len(evals)
    if vecs is None:
        vecs = np.ascontiguousarray(np.linalg.eigh(h)[1][:, :n].T)
    res = np.linalg.norm(vecs @ h.T - vecs * np.asarray(evals)[:, None], axis=1)
    ov = np.abs(vecs.conj() @ vecs.T - np.eye(n)).max() if n else 0.0
    count = int(np.sum(np.linalg.eigvalsh(h) < e_cut)) if np.isfinite(e_cut) else -1
    return vecs, float(res.max()) if n else 0.0, float(ov), count


@njit(cache=True)
def _rayleigh(diag, t, corner, v, hv):
    """(rho, r): the Rayleigh quotient rho = Re v^H H v of a unit vector v and its residual
    ||H v - rho v||_2 (two passes, H v kept in hv, so r is not lost to cancellation)."""
    m = v.size
    rho = 0.0
    for i in range(m):
        if i == 0:
            h = diag[0] * v[0] - t * v[1] + corner * v[m - 1]
        elif i == m - 1:
            h = diag[i] * v[i] - t * v[i - 1] + np.conj(corner) * v[0]
        else:
            h = diag[i] * v[i] - t * (v[i + 1] + v[i - 1])
        hv[i] = h
        rho += (np.conj(v[i]) * h).real
    r2 = 0.0
    for i in range(m):
        d = hv[i] - rho * v[i]
        r2 += d.real * d.real + d.imag * d.imag
    return rho, np.sqrt(r2)


@njit(cache=True, fastmath=FMA)
def batched_inverse_step(diag, t, corner, sig, piv, bv, x, work):
    """One inverse-iteration step for L shifts at once: x[:, l] = (H - sig[l])^{-1} bv[:, l]
    (arrays (M, L), the L chains interleaved site by site so that their divisions overlap).
    Block LDL^H of (H - sig[l]) in the order (1, ..., M-1, 0) as :func:`_arrow_factor` but with
    1x1 pivots only (a pivot below ``piv`` in modulus becomes -piv): a poor vector from a tiny
    pivot shows in the residual the caller checks.  ``work`` = (cur, s, g, r1, r2, z1): arrays
    of shapes (L,), (L,), (L,), (M, L), (M, L), (M, L), g and z1 of bv's dtype (allocated once
    by the caller).  Returns nothing; M >= 3.  NumPy twin:
    :func:`batched_inverse_step_reference`."""
    m, nl = bv.shape
    zero = corner - corner
    cur, s, g, r1, r2, z1 = work
    for l in range(nl):
        cur[l] = diag[1] - sig[l]
        g[l] = zero - t
        s[l] = diag[0] - sig[l]
        x[0, l] = bv[0, l]
    for k in range(1, m):
        nxt = corner if k + 1 == m - 1 else zero
        dnext = diag[k + 1] if k + 1 <= m - 1 else 0.0
        for l in range(nl):
            c = cur[l]
            if abs(c) < piv:
                c = -piv
            inv = 1.0 / c
            gl = g[l]
            z = gl * inv
            r1[k, l] = t * inv
            r2[k, l] = inv
            z1[k, l] = z
            s[l] -= (gl.real * gl.real + gl.imag * gl.imag) * inv
            g[l] = nxt + t * z
            cur[l] = dnext - sig[l] - t * t * inv
            x[k, l] = bv[k, l]
    for k in range(1, m):                  # forward sweep
        for l in range(nl):
            xk = x[k, l]
            if k + 1 <= m - 1:
                x[k + 1, l] += r1[k, l] * xk
            x[0, l] -= z1[k, l] * xk
    for l in range(nl):
        sl = s[l]
        if abs(sl) < piv:
            sl = -piv
        x[0, l] = x[0, l] / sl
    for l in range(nl):                    # block-diagonal solve + backward sweep
        x[m - 1, l] = r2[m - 1, l] * x[m - 1, l] - np.conj(z1[m - 1, l]) * x[0, l]
    for k in range(m - 2, 0, -1):
        for l in range(nl):
            x[k, l] = (r2[k, l] * x[k, l] + r1[k, l] * x[k + 1, l]
                       - np.conj(z1[k, l]) * x[0, l])


@njit(cache=True)
def batched_counts(diag, t, corner, es, ne, pivmin, out, work):
    """out[q] = number of eigenvalues of the ring below es[q], q < ne, for all shifts in one pass
    over the sites (the ne division chains interleaved): the LDL^H of (H - e) in the order
    (1, ..., M-1, 0) with 1x1 pivots, a pivot below ``pivmin`` in modulus replaced by -pivmin
    (LAPACK dstebz's rule), Sylvester's law of inertia.  Used to place brackets only; the
    certificate's count is the 2x2-pivoted :func:`ring_count_below`.  ``work`` = (cur, s, g),
    arrays of at least ne entries, g of corner's type.  M >= 3.  NumPy twin:
    :func:`batched_counts_reference`."""
    m = diag.size
    zero = corner - corner
    cur, s, g = work
    for q in range(ne):
        cur[q] = diag[1] - es[q]
        g[q] = zero - t
        s[q] = diag[0] - es[q]
        out[q] = 0
    for k in range(1, m):
        nxt = corner if k + 1 == m - 1 else zero
        dnext = diag[k + 1] if k + 1 <= m - 1 else 0.0
        for q in range(ne):
            c = cur[q]
            if abs(c) < pivmin:
                c = -pivmin
            if c < 0.0:
                out[q] += 1
            inv = 1.0 / c
            gl = g[q]
            s[q] -= (gl.real * gl.real + gl.imag * gl.imag) * inv
            g[q] = nxt + t * gl * inv
            cur[q] = dnext - es[q] - t * t * inv
    for q in range(ne):
        sq = s[q]
        if abs(sq) < pivmin:
            sq = -pivmin
        if sq < 0.0:
            out[q] += 1


@njit(cache=True)
def ring_tiny_pairs(diag, t, corner, pivmin, vecs, evals, seed):
    """The lowest n = vecs.shape[0] eigenpairs of a small ring, with their certificate, without
    LAPACK: Sturm bisection (all open brackets' midpoints per pass, :func:`batched_counts`,
    ``pivmin``) until each of the levels
    0..n (0..n-1 if n = M) has a bracket [a_j, b_j] that holds it alone (count(a_j) = j,
    count(b_j) = j + 1) and is at most 0.05 ||H|| wide; then safeguarded Rayleigh quotient
    iteration for all n levels at once (:func:`batched_inverse_step`), each from its bracket's
    midpoint and a uniform(-1, 1) start (xorshift64 stream seeded by ``seed``): a Rayleigh
    quotient rho outside its bracket is replaced by a bisection step of the bracket.  When the
    residual r = ||H v - rho v|| <= 1e-9 ||H||, one more step with shift rho; the pair is
    accepted if then a_j <= rho - r and rho + r <= b_j (Weyl: rho is within r of an eigenvalue,
    and the bracket holds only level j).  Energies rho go to ``evals``, vectors to the rows of
    ``vecs`` (float64 for a real twist, complex128 otherwise), largest entry real positive.

    Returns (ok, e_cut, max_res, max_ov, count, hnorm): ok False where a bracket cannot be
    isolated above 1e-7 ||H|| (degenerate levels, e.g. clean rings), an iteration does not
    converge in 20 steps, or the vectors' overlaps exceed 1e-10 (levels so close that each
    vector's error residual / gap shows; no Gram-Schmidt here: the caller takes the banded
    path); e_cut = (b_{n-1} + a_n) / 2 (max diag + 2t + 1 if n = M);
    max_res, max_ov as in :func:`ring_certified_pairs`; count = the Sturm count below e_cut;
    hnorm = max(|min diag - 2t|, |max diag + 2t|).
    NumPy twin: :func:`certified_pairs_reference`."""
    n, m = vecs.shape
    eps = 2.220446049250313e-16
    dmin = diag[0]
    dmax = diag[0]
    for i in range(m):
        dmin = min(dmin, diag[i])
        dmax = max(dmax, diag[i])
    lo = dmin - 2.0 * t
    hi = dmax + 2.0 * t
    hnorm = max(abs(lo), abs(hi))
    fail = (False, np.nan, np.inf, np.inf, -1, hnorm)
    piv = 1e-300 + eps * eps * max(t * t, 1.0)
    k = n + 1 if n < m else n
    pad = 4.0 * eps * hnorm
    a = np.full(k, lo - pad)
    b = np.full(k, hi + pad)
    ca = np.zeros(k, dtype=np.int64)
    cb = np.full(k, m, dtype=np.int64)
    wtol = 0.05 * hnorm
    wmin = 1e-12 * hnorm
    # a bracket this narrow that still holds two levels: their vectors from separate Rayleigh
    # quotient iterations would overlap ~ eps ||H|| / gap > 1e-10 and be declined anyway
    wiso = 1e-7 * hnorm
    mids = np.empty(k)
    cnts = np.zeros(k, dtype=np.int64)
    cwork = (np.empty(k), np.empty(k), np.zeros(k, dtype=vecs.dtype))
    for sweep in range(200):
        ne = 0
        last_a = np.nan
        last_b = np.nan
        for j in range(k):
            if ca[j] == j and cb[j] == j + 1 and b[j] - a[j] <= wtol:
                continue
            if b[j] - a[j] <= wiso:
                return fail                     # levels closer than 1e-7 ||H|| (see above)
            if a[j] == last_a and b[j] == last_b:
                continue                        # the same bracket: one midpoint serves both
            last_a = a[j]
            last_b = b[j]
            mids[ne] = 0.5 * (a[j] + b[j])
            ne += 1
        if ne == 0:
            break
        batched_counts(diag, t, corner, mids, ne, pivmin, cnts, cwork)
        for q in range(ne):
            mid = mids[q]
            c = cnts[q]
            for i in range(k):
                if c <= i:
                    if mid > a[i]:
                        a[i] = mid
                        ca[i] = c
                elif mid < b[i]:
                    b[i] = mid
                    cb[i] = c
    sig = np.empty(n)
    bv = np.empty((m, n), dtype=vecs.dtype)
    x = np.empty((m, n), dtype=vecs.dtype)
    swork = (np.empty(n), np.empty(n), np.empty(n, dtype=vecs.dtype), np.empty((m, n)),
             np.empty((m, n)), np.empty((m, n), dtype=vecs.dtype))
    st = np.uint64(seed) + np.uint64(88172645463325252)
    for l in range(n):
        sig[l] = 0.5 * (a[l] + b[l])
        nrm = 0.0
        for i in range(m):
            st ^= st << np.uint64(13)
            st ^= st >> np.uint64(7)
            st ^= st << np.uint64(17)
            u = np.float64(st >> np.uint64(11)) * (2.0 / 9007199254740992.0) - 1.0
            bv[i, l] = u
            nrm += u * u
        nrm = 1.0 / np.sqrt(nrm)
        for i in range(m):
            bv[i, l] *= nrm
    extra = np.zeros(n, dtype=np.bool_)
    done = np.zeros(n, dtype=np.bool_)
    hv = np.empty(m, dtype=vecs.dtype)
    v = np.empty(m, dtype=vecs.dtype)
    left = n
    for it in range(20):
        if left == 0:
            break
        batched_inverse_step(diag, t, corner, sig, piv, bv, x, swork)
        for l in range(n):
            if done[l]:
                continue
            nrm = 0.0
            for i in range(m):
                nrm += x[i, l].real ** 2 + x[i, l].imag ** 2
            nrm = np.sqrt(nrm)
            if not (nrm > 0.0 and nrm < np.inf):
                return fail
            for i in range(m):
                v[i] = x[i, l] / nrm
                bv[i, l] = v[i]
            rho, r = _rayleigh(diag, t, corner, v, hv)
            if extra[l]:
                if not (a[l] <= rho - r and rho + r <= b[l]):
                    return fail
                done[l] = True
                left -= 1
                evals[l] = rho
                imax = 0
                amax = 0.0
                for i in range(m):
                    if abs(v[i]) > amax:
                        amax = abs(v[i])
                        imax = i
                ph = np.conj(v[imax]) / amax
                for i in range(m):
                    vecs[l, i] = v[i] * ph
            elif a[l] < rho < b[l]:
                extra[l] = r <= 1e-9 * hnorm
                sig[l] = rho
            else:                             # safeguard: bisect the bracket instead
                mid = 0.5 * (a[l] + b[l])
                if ring_count_below(diag, t, corner, mid, pivmin) <= l:
                    a[l] = mid
                else:
                    b[l] = mid
                if b[l] - a[l] <= wmin:
                    return fail
                sig[l] = 0.5 * (a[l] + b[l])
    if left > 0:
        return fail
    max_res = 0.0
    for l in range(n):
        r = _ring_residual(diag, t, corner, vecs[l], evals[l])
        if not r <= max_res:
            max_res = r if r == r else np.inf
    max_ov = _gram_deviation(vecs)
    if not max_ov <= 1e-10:                  # close levels: the banded path orthogonalizes
        return fail
    e_cut = hi + 1.0 if n == m else 0.5 * (b[n - 1] + a[n])
    if not evals[n - 1] + max_res < e_cut:
        return fail
    count = ring_count_below(diag, t, corner, e_cut, pivmin)
    return True, e_cut, max_res, max_ov, count, hnorm


def batched_counts_reference(diag, t, corner, es):
    """Plain NumPy twin of :func:`batched_counts`: dense eigenvalues below each shift."""
    ev = np.linalg.eigvalsh(ring_matrix_reference(diag, t, corner))
    return np.array([int(np.sum(ev < e)) for e in es], dtype=np.int64)


def batched_inverse_step_reference(diag, t, corner, sig, bv):
    """Plain NumPy twin of :func:`batched_inverse_step`: dense solves (H - sig[l]) x = bv[:, l]."""
    h = ring_matrix_reference(diag, t, corner)
    return np.stack([np.linalg.solve(h - s * np.eye(len(diag)), bv[:, l])
                     for l, s in enumerate(sig)], axis=1)
