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

The grouped sweep (:func:`group_sweep`, used by :func:`obdm_grouped`) instead *defers* a step
whose ratio is small: it keeps the last good inverse, takes the values of the next columns from
small exact bordered determinants, and commits the pending steps as one rank-p Woodbury update
once their p x p capacitance matrix is well conditioned.  This matters at half filling of a
clean bipartite ring, where O^T is exactly singular at every other column (previously one
O(N^3) rebuild per two columns, 60-100x slower than N - 1).
"""

from __future__ import annotations

import numpy as np
from .jit import FMA, njit  # numba.njit with explicit fastmath/error_model (see jit.py)


@njit(cache=True)
def outer_acc(q, v, c):
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
        outer_acc(acc, u[z], 1.0)
    if m % stride == 0:
        q[m // stride] = acc
    return q


@njit(cache=True)
def _prefix_at(u, q, stride, k):
    """sum_{z < k} u(z) u(z)^H from the nearest checkpoint below k."""
    c = k // stride
    out = q[c].copy()
    for z in range(c * stride, k):
        outer_acc(out, u[z], 1.0)
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


@njit(cache=True, fastmath=FMA)
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


@njit(cache=True, fastmath=FMA)
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
def _inverse_from_eig(lam, vv, b):
    """b = V diag(1/lam) V^H; returns (log|det|, sign(det)) of V diag(lam) V^H."""
    n = lam.size
    logdet = 0.0
    sgn = 1.0
    for k in range(n):
        logdet += np.log(abs(lam[k]))
        if lam[k] < 0:
            sgn = -sgn
    for al in range(n):
        for be in range(n):
            acc = 0.0 * vv[0, 0]
            for k in range(n):
                acc += vv[al, k] * np.conj(vv[be, k]) / lam[k]
            b[al, be] = acc
    return logdet, sgn


@njit(cache=True, fastmath=FMA)
def _block_pass(b, pk, ck, kk, u, y0, kn, w):
    """b += sum_{j<kk} ck[j] pk[j] pk[j]^H, then w[j] = b u(y0 + j) for j < kn, in one pass.

    One sweep over the rows of the Hermitian b (L1-resident) does a rank-kk update and kn
    matrix-vector products: memory traffic per step is 1/kk of a rank-one Sherman-Morrison.
    The products are accumulated as axpys, w[j] += conj(b[be]) u(y0 + j)[be] over the rows
    (b Hermitian: (b u)[al] = sum_be conj(b[be, al]) u[be]), not as dot-product reductions:
    an axpy vectorizes without reassociation, which the kernels may not use (tgsweep.core.jit.FMA).
    """
    n = b.shape[0]
    for j in range(kn):
        wj = w[j]
        for al in range(n):
            wj[al] = 0.0 * b[0, 0]
    for be in range(n):
        row = b[be]
        for j in range(kk):
            cp = ck[j] * pk[j, be]
            pj = pk[j]
            for al in range(n):
                row[al] += cp * np.conj(pj[al])
        for j in range(kn):
            ub = u[y0 + j, be]
            wj = w[j]
            for al in range(n):
                wj[al] += np.conj(row[al]) * ub


@njit(cache=True)
def obdm_rows(u, q, stride, rows, out, row0, tol_den, tol_eig, kblock=8, y_stop=-1):
    """Fill out[x - row0, y] (x in rows, y >= x) with <b+_x b_y> (upper triangle only;
    the lower one is conj(upper) by Hermiticity, see :func:`mirror_lower`).

    u : (M, N) C-contiguous orbitals (float64 or complex128), lattice-normalized.
    q : prefix checkpoints from :func:`prefix_checkpoints` with the same ``stride``; O^T is
        rebuilt exactly every ``stride`` sites and wherever |1 - 2 u^H B u| < tol_den.
    kblock : Sherman-Morrison steps per pass over B (blocked rank-k update, same arithmetic).
    y_stop : last column swept (default M - 1).
    Returns the number of exact (eigendecomposition) restarts, for diagnostics.
    """
    m0, n = u.shape
    m = m0 if (y_stop < 0 or y_stop >= m0) else y_stop + 1
    restarts = 0
    eye = np.eye(n).astype(u.dtype)
    b = np.empty((n, n), dtype=u.dtype)
    kb = kblock
    w = np.empty((kb, n), dtype=u.dtype)      # w[j] = B_{y0} u(y0 + j)
    pk = np.empty((kb, n), dtype=u.dtype)     # p_j = B_{y0+j} u(y0 + j)
    ck = np.empty(kb)
    for x in rows:
        ux = u[x].copy()
        dd = 0.0
        for al in range(n):
            dd += ux[al].real ** 2 + ux[al].imag ** 2
        xr = x - row0
        out[xr, x] = dd
        if x == m - 1:
            continue
        qx = _prefix_at(u, q, stride, x + 1)
        b[:, :] = eye
        a = ux.copy()
        logdet = 0.0
        sgn = 1.0
        regular = True
        lam = np.ones(n)
        vv = eye.copy()
        px = ux.copy()
        qcur = qx.copy()
        y = x + 1
        kn = min(kb, m - y)
        for j in range(kn):
            w[j] = u[y + j]
        while y < m:
            if not regular:
                # adjugate mode: value from the eigendecomposition, then add y explicitly
                uy = u[y]
                py = _vh_dot(vv, uy)
                val = 0.0 * ux[0]
                for k in range(n):
                    prod = 1.0
                    for j in range(n):
                        if j != k:
                            prod *= lam[j]
                    val += prod * np.conj(px[k]) * py[k]
                out[xr, y] = val
                if y == m - 1:
                    break
                explicit_at = y
            else:
                # a block of Sherman-Morrison steps y .. y + kk - 1
                kk = 0
                explicit_at = -1
                done = False
                nmax = min(kb, m - y)
                for j in range(nmax):
                    yy = y + j
                    uy = u[yy]
                    val = sgn * np.exp(logdet) * cdot(a, uy)
                    out[xr, yy] = val
                    if yy == m - 1:
                        done = True
                        break
                    if (yy + 1) % stride == 0:
                        explicit_at = yy
                        break
                    pj = pk[j]
                    for al in range(n):
                        pj[al] = w[j, al]
                    for i in range(j):
                        f = ck[i] * cdot(pk[i], uy)
                        for al in range(n):
                            pj[al] += f * pk[i, al]
                    sj = cdot(uy, pj).real
                    den = 1.0 - 2.0 * sj
                    if abs(den) < tol_den:
                        explicit_at = yy
                        break
                    cj = 2.0 / den
                    ua = cdot(uy, a)
                    for al in range(n):
                        a[al] += cj * pj[al] * ua
                    ck[j] = cj
                    logdet += np.log(abs(den))
                    if den < 0:
                        sgn = -sgn
                    kk = j + 1
                ynext = y + kk
                if done:
                    break
                kn = 0 if explicit_at >= 0 else min(kb, m - ynext)
                _block_pass(b, pk, ck, kk, u, ynext, kn, w)
                if explicit_at < 0:
                    y = ynext
                    continue
            # ---- exact restart: O^T with S = {x+1, ..., explicit_at}
            restarts += 1
            ye = explicit_at
            if regular:
                qcur = _prefix_at(u, q, stride, ye + 1)
            else:
                outer_acc(qcur, u[ye], 1.0)
            ot = np.empty((n, n), dtype=u.dtype)
            for al in range(n):
                for be in range(n):
                    ot[al, be] = eye[al, be] - 2.0 * (qcur[al, be] - qx[al, be])
            lam, vv, px = _eig_state(ot, ux)
            y = ye + 1
            if np.min(np.abs(lam)) > tol_eig:
                regular = True
                logdet, sgn = _inverse_from_eig(lam, vv, b)
                _matvec_h(b, ux, a)
                kn = min(kb, m - y)
                _block_pass(b, pk, ck, 0, u, y, kn, w)
            else:
                regular = False
    return restarts


@njit(cache=True)
def cdot(x, y):
    """x^H y."""
    acc = 0.0 * x[0] * y[0]
    for i in range(x.size):
        acc += np.conj(x[i]) * y[i]
    return acc


@njit(cache=True)
def mirror_lower(out):
    """out[y, x] = conj(out[x, y]) for y > x, in cache-friendly 64 x 64 tiles."""
    m = out.shape[0]
    tb = 64
    for i0 in range(0, m, tb):
        for j0 in range(i0, m, tb):
            for i in range(i0, min(i0 + tb, m)):
                for j in range(max(j0, i + 1), min(j0 + tb, m)):
                    out[j, i] = np.conj(out[i, j])


# --------------------------------------------------------------------------------------------
# Grouped sweep: one O(N^2) master sweep serves g + 1 consecutive rows
# --------------------------------------------------------------------------------------------
#
# For rows z_r = x0 - r (r = 0..g) and columns y > x0 the string sets are nested:
# S(z_r, y) = {z_0, ..., z_{r-1}} u S(x0, y), so with K = O^T(x0, y), B = K^{-1},
# V = [u(z_0), ..., u(z_{r-1})], T = U^H B U and t = U^H B u(y) (U = [u(z_0), ..., u(z_g)]),
# Woodbury and the matrix determinant lemma give
#     gamma(z_r, y) = det K * det [[I - 2 T_{<r,<r}, t_{<r}], [-2 T_{r,<r}, t_r]],
# the leading (r+1) x (r+1) block of A = I - 2T with its last column replaced by t: Gaussian
# elimination of [A | t] yields all g + 1 values at O(g^3) per column.  Per step the master
# sweep costs 2 N^2 (Sherman-Morrison on B), the g + 1 tracked vectors B u(z_k) and T cost
# O(g N + g^2).  Where an elimination pivot is tiny the affected values are taken from small
# exact determinants; where K itself is (nearly) singular every row of the group falls back to
# the per-pair bordered determinant for that column.


@njit(cache=True)
def _pair_det(ot, ux, uy):
    """-det [[0, ux^H], [uy, ot]] (the per-pair bordered determinant)."""
    n = ux.size
    big = np.zeros((n + 1, n + 1), dtype=ot.dtype)
    for al in range(n):
        big[0, al + 1] = np.conj(ux[al])
        big[al + 1, 0] = uy[al]
        for be in range(n):
            big[al + 1, be + 1] = ot[al, be]
    return -np.linalg.det(big)


@njit(cache=True)
def det_lu(a, k):
    """det of the leading k x k block of a (overwritten): LU with partial pivoting."""
    det = 1.0 + 0.0 * a[0, 0]
    for c in range(k):
        piv = c
        big = abs(a[c, c])
        for i in range(c + 1, k):
            if abs(a[i, c]) > big:
                big = abs(a[i, c])
                piv = i
        if big == 0.0:
            return 0.0 * det
        if piv != c:
            for j in range(np.uint64(c), np.uint64(k)):
                tmp = a[c, j]
                a[c, j] = a[piv, j]
                a[piv, j] = tmp
            det = -det
        d = a[c, c]
        det *= d
        for i in range(c + 1, k):
            f = a[i, c] / d
            if f != 0.0:
                # unsigned indices: no wraparound test, the row operation vectorizes (same bits)
                for j in range(np.uint64(c + 1), np.uint64(k)):
                    a[i, j] -= f * a[c, j]
    return det


@njit(cache=True)
def group_values(tm, tv, gg, pref, out, orow, y, aw, zv, mat, tol_piv):
    """The group-value block: out[orow - r, y] = pref * det [[A[:r, :r], t[:r]], [A[r, :r], t[r]]]
    for r = 0..gg-1, A = I - 2 tm, t = tv (the bordered leading minors of the group's small
    system; Woodbury and the determinant lemma, docs/references.md section 1).  Gaussian
    elimination of [A | t] in natural order gives all gg values (row r's value is the product of
    the first r pivots times the eliminated t[r]); from the first pivot below ``tol_piv`` in
    modulus on, the remaining values are exact small determinants (:func:`det_lu`, LU with
    partial pivoting), so singular leading minors are passed exactly.  aw (gg, gg), zv (gg),
    mat (gg, gg) are work arrays (any larger size).  Returns 1 if that fallback was used, else 0.
    Shared by the grouped T = 0 sweep, the group heads and the general thermal sweep."""
    for k in range(gg):
        for l in range(gg):
            aw[k, l] = -2.0 * tm[k, l]
        aw[k, k] += 1.0
        zv[k] = tv[k]
    deta = 1.0 + 0.0 * tv[0]
    rfail = gg
    for r in range(gg):
        out[orow - r, y] = pref * deta * zv[r]
        if r == gg - 1:
            break
        piv = aw[r, r]
        if abs(piv) < tol_piv:
            rfail = r + 1
            break
        deta *= piv
        for i in range(r + 1, gg):
            lf = aw[i, r] / piv
            # unsigned indices: no wraparound test, the row operation vectorizes (same bits)
            for j in range(np.uint64(r + 1), np.uint64(gg)):
                aw[i, j] -= lf * aw[r, j]
            zv[i] -= lf * zv[r]
    if rfail == gg:
        return 0
    for r in range(rfail, gg):
        for k in range(r + 1):
            for l in range(r):
                mat[k, l] = -2.0 * tm[k, l]
            if k < r:
                mat[k, k] += 1.0
            mat[k, r] = tv[k]
        out[orow - r, y] = pref * det_lu(mat, r + 1)
    return 1


@njit(cache=True)
def bordered_minors(af, tf, npend, gg, pref, out, orow, y, mat):
    """out[orow - r, y] = pref * det [[af[:q, :q], tf[:q]], [af[q, :q], tf[q]]], q = npend + r,
    r = 0..gg-1: the bordered leading minors of the small system while npend deferred steps are
    pending (exact small determinants, :func:`det_lu`).  Shared by the grouped T = 0 sweep and
    the general thermal sweep."""
    for r in range(gg):
        q = npend + r
        for i in range(q + 1):
            for j in range(q):
                mat[i, j] = af[i, j]
            mat[i, q] = tf[i]
        out[orow - r, y] = pref * det_lu(mat, q + 1)


@njit(cache=True)
def _pending_values(bp, pp, bz, tm, uz, uy, npend, gg, pref, out, orow, y, af, tf, mat):
    """Column y of the group while npend deferred steps P = [p_0..p_{npend-1}] are pending:
    out[orow - r, y] = pref * det [[A[:q, :q], t[:q]], [A[q, :q], t[q]]], q = npend + r, with
    X = [P, Z], A = I - 2 X^H B X, t = X^H B u(y) (B the base inverse; bordered identity
    det [[0, a^H], [b, K - 2 D D^H]] via the Schur complement of K).  Small exact determinants
    (LU with partial pivoting): correct where A[:npend, :npend] itself is singular.
    af, tf, mat: work arrays of size >= npend + gg (+1)."""
    for i in range(npend):
        tf[i] = cdot(bp[i], uy)
        for j in range(npend):
            af[i, j] = -2.0 * pp[i, j]
        af[i, i] += 1.0
        for k in range(gg):
            s = cdot(bp[i], uz[k])
            af[i, npend + k] = -2.0 * s
            af[npend + k, i] = -2.0 * np.conj(s)
    for k in range(gg):
        tf[npend + k] = cdot(bz[k], uy)
        for l in range(gg):
            af[npend + k, npend + l] = -2.0 * tm[k, l]
        af[npend + k, npend + k] += 1.0
    bordered_minors(af, tf, npend, gg, pref, out, orow, y, mat)


@njit(cache=True)
def group_sweep(u, q, stride, x0, g, out, row0, tol_den, tol_eig, tol_piv, pmax=4):
    """out[x0 - r - row0, y] = <b+_{x0-r} b_y> for r = 0..g and x0 < y < M.

    A step whose determinant ratio |1 - 2 u(y)^H B u(y)| is below ``tol_den`` is deferred: the
    base inverse B is kept, up to ``pmax`` pending vectors P are carried (column values from small
    exact determinants, :func:`_pending_values`) and committed together by a rank-p Woodbury
    update once min |eig(I - 2 P^H B P)| >= tol_den.  O^T is rebuilt exactly only every
    ``stride`` sites or when pmax deferred steps do not recover.  At half filling of a bipartite
    clean ring O^T is exactly singular at every other column (the restricted correlation matrix
    has the eigenvalue 1/2 whenever |S| is odd): the deferral passes each such point with one
    rank-2 step instead of an O(N^3) rebuild.

    Returns (exact rebuilds, pivot fallbacks, deferred steps)."""
    m, n = u.shape
    if x0 >= m - 1:
        return 0, 0, 0
    gg = g + 1
    eye = np.eye(n).astype(u.dtype)
    uz = np.empty((gg, n), dtype=u.dtype)
    for r in range(gg):
        uz[r] = u[x0 - r]
    b = eye.copy()
    bz = uz.copy()
    tm = np.empty((gg, gg), dtype=u.dtype)
    for k in range(gg):
        for l in range(gg):
            tm[k, l] = cdot(uz[k], bz[l])
    w = np.empty((1, n), dtype=u.dtype)
    w[0] = u[x0 + 1]
    pk = np.empty((max(pmax, 1), n), dtype=u.dtype)
    ck = np.empty(max(pmax, 1))
    bp = np.empty((max(pmax, 1), n), dtype=u.dtype)   # B p_i of the pending vectors
    pp = np.empty((max(pmax, 1), max(pmax, 1)), dtype=u.dtype)  # p_i^H B p_j
    npend = 0
    nx = max(pmax, 1) + gg
    af = np.empty((nx, nx), dtype=u.dtype)
    tf = np.empty(nx, dtype=u.dtype)
    sv = np.empty(nx, dtype=u.dtype)
    fs = np.empty(nx, dtype=u.dtype)
    mat = np.empty((nx + 1, nx + 1), dtype=u.dtype)
    tv = np.empty(gg, dtype=u.dtype)
    aw = np.empty((gg, gg), dtype=u.dtype)
    zv = np.empty(gg, dtype=u.dtype)
    qx = _prefix_at(u, q, stride, x0 + 1)
    qcur = qx.copy()
    ot = eye.copy()
    logdet = 0.0
    sgn = 1.0
    regular = True
    restarts = 0
    fallbacks = 0
    deferred = 0
    orow = x0 - row0
    for y in range(x0 + 1, m):
        uy = u[y]
        if regular and npend > 0:
            _pending_values(bp, pp, bz, tm, uz, uy, npend, gg, sgn * np.exp(logdet), out,
                            orow, y, af, tf, mat)
        elif regular:
            for k in range(gg):
                tv[k] = cdot(bz[k], uy)
            fallbacks += group_values(tm, tv, gg, sgn * np.exp(logdet), out, orow, y, aw, zv,
                                      mat, tol_piv)
        else:
            # K singular: per-pair bordered determinants for every row of the group
            otr = ot.copy()
            for r in range(gg):
                if r > 0:
                    outer_acc(otr, uz[r - 1], -2.0)
                out[orow - r, y] = _pair_det(otr, uz[r], uy)
        if y == m - 1:
            break
        explicit = (not regular) or ((y + 1) % stride == 0)
        if not explicit and npend == 0:
            wy = w[0]
            s = cdot(uy, wy).real
            den = 1.0 - 2.0 * s
            if abs(den) >= tol_den:
                c = 2.0 / den
                for k in range(gg):
                    f = c * np.conj(tv[k])
                    for al in range(n):
                        bz[k, al] += f * wy[al]
                for k in range(gg):
                    for l in range(gg):
                        tm[k, l] += c * tv[k] * np.conj(tv[l])
                pk[0] = wy
                ck[0] = c
                _block_pass(b, pk, ck, 1, u, y + 1, 1, w)
                logdet += np.log(abs(den))
                if den < 0:
                    sgn = -sgn
            elif pmax > 0:
                deferred += 1
                bp[0] = wy
                pp[0, 0] = s
                npend = 1
                _matvec_h(b, u[y + 1], w[0])
            else:
                explicit = True
        elif not explicit and npend >= pmax:
            explicit = True
        elif not explicit:
            # one more pending vector: B unchanged, w[0] = B u(y)
            deferred += 1
            bp[npend] = w[0]
            for i in range(npend):
                v = cdot(bp[i], uy)
                pp[i, npend] = v
                pp[npend, i] = np.conj(v)
            pp[npend, npend] = cdot(uy, w[0]).real
            npend += 1
            app = np.empty((npend, npend), dtype=u.dtype)
            for i in range(npend):
                for j in range(npend):
                    app[i, j] = -2.0 * pp[i, j]
                app[i, i] += 1.0
            lam, qv = np.linalg.eigh(app)
            if np.min(np.abs(lam)) >= tol_den:
                # commit: B <- B + 2 (BP) app^{-1} (BP)^H, rank npend, in eigen-form
                for k in range(gg):
                    # s_i = p_i^H B z_k, then bz_k += 2 sum_ij bp_i F_ij s_j
                    for i in range(npend):
                        sv[i] = cdot(bp[i], uz[k])
                    for i in range(npend):
                        acc = 0.0 * sv[0]
                        for j in range(npend):
                            for kk in range(npend):
                                acc += qv[i, kk] * np.conj(qv[j, kk]) / lam[kk] * sv[j]
                        fs[i] = acc
                    for i in range(npend):
                        for al in range(n):
                            bz[k, al] += 2.0 * fs[i] * bp[i, al]
                for k in range(gg):
                    for l in range(gg):
                        tm[k, l] = cdot(uz[k], bz[l])
                for kk in range(npend):
                    for al in range(n):
                        acc = 0.0 * bp[0, 0]
                        for i in range(npend):
                            acc += bp[i, al] * qv[i, kk]
                        pk[kk, al] = acc
                    ck[kk] = 2.0 / lam[kk]
                    logdet += np.log(abs(lam[kk]))
                    if lam[kk] < 0:
                        sgn = -sgn
                _block_pass(b, pk, ck, npend, u, y + 1, 1, w)
                npend = 0
            else:
                _matvec_h(b, u[y + 1], w[0])
        if explicit:
            restarts += 1
            npend = 0
            if regular:
                qcur = _prefix_at(u, q, stride, y + 1)
            else:
                outer_acc(qcur, uy, 1.0)
            for al in range(n):
                for be in range(n):
                    ot[al, be] = eye[al, be] - 2.0 * (qcur[al, be] - qx[al, be])
            lam, vv = np.linalg.eigh(ot)
            vv = np.ascontiguousarray(vv)
            if np.min(np.abs(lam)) > tol_eig:
                regular = True
                logdet, sgn = _inverse_from_eig(lam, vv, b)
                for k in range(gg):
                    _matvec_h(b, uz[k], bz[k])
                for k in range(gg):
                    for l in range(gg):
                        tm[k, l] = cdot(uz[k], bz[l])
                _matvec_h(b, u[y + 1], w[0])
            else:
                regular = False
    return restarts, fallbacks, deferred


@njit(cache=True, fastmath=FMA)
def _ldl_shift(lt, dd, o, gg, tol_piv):
    """The LDL^H factors of the trailing block A[o+1:, o+1:] from those of A[o:, o:] (held in
    lt[o:, o:], dd[o:], stored as by :func:`_ldl_factor`), in place: with A[o:, o:] = L D L^H,
    A[o+1:, o+1:] = L22 D2 L22^H + d_o l l^H, l = L[o+1:, o] (row o of ``lt``, used as the work
    vector: it is not part of the new factors), one rank-1 update by the recurrence of
    :func:`_ldl_update` (Gill, Golub, Murray & Saunders 1974, method C1).  Returns False if a
    new pivot d_j, j < gg - 1, falls below ``tol_piv`` in modulus (the factors are then
    unusable)."""
    nu = dd[o]
    de = 1.0
    rde = 1.0
    for j in range(o + 1, gg):
        p = lt[o, j]
        d = dd[j]
        pa = p.real * p.real + p.imag * p.imag
        mj = de * d + nu * pa
        dn = mj * rde
        if j == gg - 1:
            dd[j] = dn
            break
        if abs(dn) < tol_piv or dn == 0.0:
            return False
        dd[j] = dn
        rde = 1.0 / mj
        beta = (nu * rde) * np.conj(p)
        nu *= d
        de = mj
        if ((j - o) & 15) == 0:
            nu *= rde
            de = 1.0
            rde = 1.0
        # unsigned indices: no wraparound test, so the loop vectorizes (no reassociation);
        # rows indexed in place, not taken as views (no reference counting per column)
        for r in range(np.uint64(j + 1), np.uint64(gg)):
            wr = lt[o, r] - p * lt[j, r]
            lt[o, r] = wr
            lt[j, r] += beta * wr
    return True


@njit(cache=True, fastmath=FMA)
def _head_row(lt, dd, o, gg, tv, orow, c0):
    """orow[c0 + s] = det A[o:o+s, o:o+s] * conj((L^{-1} t)_s), s = 0 .. gg-1-o, for the factors
    of A[o:, o:] in lt, dd (:func:`_ldl_factor` storage) and t = tv[o:] (overwritten by the
    forward substitution)."""
    deta = 1.0
    for j in range(o, gg):
        p = tv[j]
        orow[c0 + j - o] = deta * np.conj(p)
        if j == gg - 1:
            break
        deta *= dd[j]
        for r in range(np.uint64(j + 1), np.uint64(gg)):
            tv[r] -= p * lt[j, r]


@njit(cache=True)
def _head_columns(gm, gg, zmin, out, row0, tol_piv):
    """The group's triangle column by column (the fallback of :func:`group_head`): for column
    y = zmin + j the rows x = y - 1 - r are the bordered leading minors of I - 2 Z^H Z with
    Z = [u(y-1), u(y-2), ..], from its LDL^H factors where they exist, else by
    :func:`group_values` (exact small determinants past a tiny pivot)."""
    tmh = np.empty((gg, gg), dtype=gm.dtype)
    tvh = np.empty(gg, dtype=gm.dtype)
    aw = np.empty((gg, gg), dtype=gm.dtype)
    zv = np.empty(gg, dtype=gm.dtype)
    mat = np.empty((gg, gg), dtype=gm.dtype)
    lt = np.zeros((gg, gg), dtype=gm.dtype)
    dd = np.zeros(gg)
    wv = np.empty(gg, dtype=gm.dtype)
    for j in range(1, gg):
        for r in range(j):
            for s_ in range(j):
                tmh[r, s_] = gm[j - 1 - r, j - 1 - s_]
            tvh[r] = gm[j - 1 - r, j]
        if _ldl_factor(tmh, j, lt, dd, tol_piv):
            _ldl_values_update(lt, dd, j, tvh, wv, 1.0, out, zmin + j - 1 - row0, zmin + j,
                               0.0, False, tol_piv)
        else:
            group_values(tmh, tvh, j, 1.0, out, zmin + j - 1 - row0, zmin + j, aw, zv, mat,
                         tol_piv)


@njit(cache=True)
def group_head(u, x0, zmin, out, row0, tol_piv=1e-2):
    """The group's own triangle: out[x - row0, y] for zmin <= x <= y <= x0, exactly, from the
    Gram matrix G of the group's orbital rows.  For x < y with S = {x+1..y-1} (Schur complement
    of the identity in the bordered matrix),
        <b+_x b_y> = det [[I - 2 G[S, S], G[S, y]], [-2 G[x, S], G[x, y]]],
    a polynomial in the entries: exact through singular O^T, no restart.

    Row by row: for fixed x the sets S grow at the end, so with A = I - 2 G[T, T] = L D L^H on
    T = {x+1..x0} (natural order), A[S, y] = L_S D_S L[y, S]^H turns the Schur complement into
        <b+_x b_y> = det A_S * conj((L^{-1} G[T, x])_s),   s = y - x - 1,
    one forward substitution per row (:func:`_head_row`).  The factors of the next row's
    T = {x+2..x0} are those of this one less its first index, a rank-1 update
    (:func:`_ldl_shift`): O(g^3) per group instead of one factorization per column.  Where a
    pivot (every one but the last) falls below ``tol_piv`` in modulus, the triangle is redone
    column by column (:func:`_head_columns`, exact small determinants past a tiny pivot).
    Returns 0 if the rows gave the triangle, 1 if it was redone column by column."""
    gg = x0 - zmin + 1
    n = u.shape[1]
    # gm[i, j] = cdot(u(zmin + i), u(zmin + j)), summed over the orbitals in the same order as
    # cdot but as row operations over j (they vectorize; the same bits)
    ut = np.empty((n, gg), dtype=u.dtype)
    for j in range(gg):
        for al in range(n):
            ut[al, j] = u[zmin + j, al]
    gm = np.zeros((gg, gg), dtype=u.dtype)
    for i in range(gg):
        gi = gm[i]
        for al in range(n):
            f = np.conj(u[zmin + i, al])
            ua = ut[al]
            for j in range(gg):
                gi[j] += f * ua[j]
    for j in range(gg):
        out[zmin + j - row0, zmin + j] = gm[j, j].real
    if gg < 2:
        return 0
    k = gg - 1
    tm = np.empty((k, k), dtype=u.dtype)
    for i in range(k):
        for j in range(k):
            tm[i, j] = gm[i + 1, j + 1]
    lk = np.zeros((k, k), dtype=u.dtype)
    dk = np.zeros(k)
    ok = _ldl_factor(tm, k, lk, dk, tol_piv)
    if ok:
        lt = np.zeros((gg, gg), dtype=u.dtype)
        dd = np.zeros(gg)
        for i in range(k):
            dd[i + 1] = dk[i]
            for j in range(k):
                lt[i + 1, j + 1] = lk[i, j]
        tv = np.empty(gg, dtype=u.dtype)
        for xi in range(gg - 1):
            # row x = zmin + xi: T = coordinates xi + 1 .. gg - 1
            if xi > 0 and not _ldl_shift(lt, dd, xi, gg, tol_piv):
                ok = False
                break
            for i in range(xi + 1, gg):
                tv[i] = np.conj(gm[xi, i])
            _head_row(lt, dd, xi + 1, gg, tv, out[zmin + xi - row0], zmin + xi + 1)
    if ok:
        return 0
    _head_columns(gm, gg, zmin, out, row0, tol_piv)
    return 1


@njit(cache=True)
def obdm_grouped(u, q, stride, out, row0, xa, xb, g, tol_den, tol_eig, tol_piv, pmax=4):
    """Upper-triangle rows out[x - row0, y], y >= x, for xa <= x < xb: groups of g + 1
    consecutive rows share one master sweep (columns y > x0, :func:`group_sweep`) after their
    own triangle (x <= y <= x0, :func:`group_head`).

    Returns (exact rebuilds of O^T, deferred steps) summed over the groups."""
    restarts = 0
    deferred = 0
    x0 = xb - 1
    while x0 >= xa:
        zmin = max(xa, x0 - g)
        group_head(u, x0, zmin, out, row0, tol_piv)
        r1, r2, r3 = group_sweep(u, q, stride, x0, x0 - zmin, out, row0, tol_den, tol_eig,
                                 tol_piv, pmax)
        restarts += r1
        deferred += r3
        x0 = zmin - 1
    return restarts, deferred


# --------------------------------------------------------------------------------------------
# Blocked grouped sweep: the master sweep's rank-1 steps as level-3 BLAS (blocked Woodbury)
# --------------------------------------------------------------------------------------------
#
# The grouped sweep spends its time in two level-2 operations per column: the rank-1 update of
# B and the matrix-vector product B u(y + 1).  Over a block of k columns y0 .. y0 + k - 1 with
# base inverse B0 = K(y0)^{-1}, everything the column values need is an inner product in the
# B0 metric of X = [u(y0) .. u(y0 + k - 1), z_0 .. z_g]:
#     W = B0 U_blk (one GEMM),  E0 = X^H W (one GEMM),
# and the sequential Sherman-Morrison steps act on the small (k + g + 1)-dimensional space only
# (E_j = E0 + sum_{i<j} c_i e_i e_i^H, e_i the committed column of E; the same deferral of
# near-singular steps as :func:`group_sweep`).  At the end of the block B is advanced by one
# rank-k update B0 + sum_i c_i p_i p_i^H with p_i = W r_i (two GEMMs; r_i the coefficients of
# p_i in the columns of W, carried in the small space).  B is stored as conj(B) = B^T so that
# W = U_blk conj(B) holds the rows (B0 u)^T of C-contiguous arrays.


@njit(cache=True, fastmath=FMA)
def _ldl_factor(tm, gg, lt, dd, tol_piv):
    """A = I - 2 tm = L D L^H (L unit lower) without pivoting, L stored *transposed*:
    lt[c, i] = L[i, c] for i > c (column c of L is row c of ``lt``, so the column operations of
    the factorization, the update and the forward substitution run over contiguous memory and
    vectorize without reassociation); D in ``dd``.  Returns False (factors
    unusable) if a pivot d_i, i < gg - 1, is below ``tol_piv`` in modulus."""
    for j in range(gg):
        for i in range(j, gg):
            lt[j, i] = -2.0 * tm[i, j]
        lt[j, j] += 1.0
    for c in range(gg):
        d = lt[c, c].real
        dd[c] = d
        if c == gg - 1:
            break
        if abs(d) < tol_piv or d == 0.0:
            return False
        inv = 1.0 / d
        for i in range(np.uint64(c + 1), np.uint64(gg)):
            lt[c, i] *= inv
        for j in range(c + 1, gg):
            f = d * np.conj(lt[c, j])
            # unsigned indices: numba's negative-index wraparound test keeps a loop that
            # starts at a variable offset scalar; without it the loop vectorizes
            for i in range(np.uint64(j), np.uint64(gg)):
                lt[j, i] -= lt[c, i] * f
    return True


@njit(cache=True, fastmath=FMA)
def _ldl_values_update(lt, dd, gg, tv, wv, pref, out, orow, y, alpha, upd, tol_piv):
    """The values and (if ``upd``) the rank-1 update in one pass over the factors.

    Values: out[orow - r, y] = pref * det A[:r, :r] * (L^{-1} t)_r = pref * det [[A[:r, :r],
    t[:r]], [A[r, :r], t[r]]] for A = L D L^H = I - 2 Z^H B Z, t = tv = Z^H B u(y).
    Update: L D L^H <- L D L^H + alpha t t^H (Gill, Golub, Murray & Saunders, Math. Comp. 28,
    505 (1974), method C1, Hermitian form), whose multipliers p_j are the same forward
    substitution L^{-1} t, so both come from one sweep over the columns of L.  C1's scalar
    recurrence a_{j+1} = a_j d_j / d'_j (d'_j = d_j + a_j |p_j|^2) is carried as a fraction
    a_j = nu_j / de_j: nu_{j+1} = nu_j d_j, de_{j+1} = de_j d_j + nu_j |p_j|^2 = de_j d'_j,
    so the chain from column to column has no division and one reciprocal 1 / de_{j+1} per
    column gives both d'_{j+1} = de_{j+2} / de_{j+1} and beta_j (rescaled every 16 columns
    against over/underflow).  As accurate as C1 itself (the
    cancellation in d'_j is the same).  Returns False if ``upd`` and a new pivot d'_j, j < gg - 1,
    falls below ``tol_piv`` in modulus: the factors are then partly updated and unusable, the
    values are complete (they use the old factors only)."""
    for i in range(gg):
        wv[i] = tv[i]
    deta = pref
    ok = upd
    nu = alpha
    de = 1.0
    rde = 1.0
    for j in range(gg):
        p = wv[j]
        out[orow - j, y] = deta * p
        d = dd[j]
        deta *= d
        if ok:
            pa = p.real * p.real + p.imag * p.imag
            mj = de * d + nu * pa
            dn = mj * rde
            dd[j] = dn
            if j == gg - 1:
                break
            if abs(dn) < tol_piv or dn == 0.0:
                ok = False
                for r in range(np.uint64(j + 1), np.uint64(gg)):
                    wv[r] -= p * lt[j, r]
                continue
            rde = 1.0 / mj
            beta = (nu * rde) * np.conj(p)
            nu *= d
            de = mj
            if (j & 15) == 15:
                nu *= rde
                de = 1.0
                rde = 1.0
            for r in range(np.uint64(j + 1), np.uint64(gg)):
                wr = wv[r] - p * lt[j, r]
                wv[r] = wr
                lt[j, r] += beta * wr
        else:
            for r in range(np.uint64(j + 1), np.uint64(gg)):
                wv[r] -= p * lt[j, r]
    return ok or not upd


@njit(cache=True, fastmath=FMA)
def _ldl_values_batch(lt, dd, gg, tb, alb, upb, prefb, colb, nb, out, orow, wb, sc, tol_piv):
    """:func:`_ldl_values_update` for nb columns in order, column of L outermost.

    Entry b (b < nb) is one call of :func:`_ldl_values_update` with t = tb[b], alpha = alb[b],
    upd = upb[b], pref = prefb[b], writing out[orow - r, colb[b]]; the entries act in the order
    b = 0, 1, ... exactly as nb successive calls would.  Entry b at column c of L needs column c
    after the updates of entries < b and its own forward substitution up to c - 1 only, so
    the loops can be exchanged: for each column c of L (row c of ``lt``, L1-resident) all
    entries are applied in turn.  The arithmetic of every entry is that of
    :func:`_ldl_values_update`, operation for operation (the same values and factors, bit
    for bit); what changes is the schedule: the inner loop over the rows r > c has the same
    length for all entries of a column (its exits are predicted) and the scalar recurrences
    of different entries overlap, where a single call runs one chain of divisions and one
    loop length after another.  The values are written after the pass: a cell records the
    pivot d_c it saw (before its own update) and its p_c stays in wb, and out[orow - c, colb[b]]
    = pref * d_0 ... d_{c-1} * p_c is then formed in the same order of multiplications as the
    single pass does.  wb (>= nb, gg) and sc (>= nb, gg + 3), float64, are work arrays.

    Returns the first entry b whose update met a pivot below ``tol_piv`` in modulus (its
    values are complete, the factors are then unusable and the entries after b are not
    applied: their values must be recomputed), or nb if none did."""
    for b in range(nb):
        wbb = wb[b]
        tbb = tb[b]
        for i in range(gg):
            wbb[i] = tbb[i]
        sc[b, 0] = alb[b]           # nu
        sc[b, 1] = 1.0              # de
        sc[b, 2] = 1.0              # 1 / de of the previous column
        #                             sc[b, 3 + c]: the pivot d_c entry b saw
    nbe = nb
    fail = nb
    for j in range(gg):
        d = dd[j]
        row = lt[j]
        for b in range(nbe):
            wv = wb[b]
            p = wv[j]
            sc[b, 3 + j] = d
            if upb[b] and b != fail:
                nu = sc[b, 0]
                de = sc[b, 1]
                rde = sc[b, 2]
                pa = p.real * p.real + p.imag * p.imag
                mj = de * d + nu * pa
                dn = mj * rde
                if j == gg - 1:
                    d = dn
                    continue
                if abs(dn) < tol_piv or dn == 0.0:
                    fail = b
                    nbe = b + 1
                    for r in range(np.uint64(j + 1), np.uint64(gg)):
                        wv[r] -= p * row[r]
                    break
                rde = 1.0 / mj
                beta = (nu * rde) * np.conj(p)
                nu *= d
                de = mj
                if (j & 15) == 15:
                    nu *= rde
                    de = 1.0
                    rde = 1.0
                sc[b, 0] = nu
                sc[b, 1] = de
                sc[b, 2] = rde
                for r in range(np.uint64(j + 1), np.uint64(gg)):
                    wr = wv[r] - p * row[r]
                    wv[r] = wr
                    row[r] += beta * wr
                d = dn
            else:
                for r in range(np.uint64(j + 1), np.uint64(gg)):
                    wv[r] -= p * row[r]
        dd[j] = d
    # the values of the entries the pass completed (those after a failed update are redone)
    for b in range(nb if fail == nb else fail + 1):
        wv = wb[b]
        deta = prefb[b]
        cb = colb[b]
        for j in range(gg):
            out[orow - j, cb] = deta * wv[j]
            deta *= sc[b, 3 + j]
    return fail


@njit(cache=True, fastmath=FMA, inline="always")
def _c1_cell(p, d, sc, b, j, gg, tol_piv):
    """One cell of the factors' pass (:func:`_ldl_values_update`'s recurrence, the same
    operations): entry b, with (nu, de, 1/de of the previous column) in sc[b, :3], meets pivot d
    of column j with its multiplier p.  Returns (0, d', beta) after updating sc[b, :3] when the
    update goes on, (1, d', 0) in the last column (no multipliers there), (2, d, 0) if the new
    pivot falls below ``tol_piv`` in modulus (nothing changed)."""
    nu = sc[b, 0]
    de = sc[b, 1]
    rde = sc[b, 2]
    pa = p.real * p.real + p.imag * p.imag
    mj = de * d + nu * pa
    dn = mj * rde
    zero = 0.0 * p
    if j == gg - 1:
        return 1, dn, zero
    if abs(dn) < tol_piv or dn == 0.0:
        return 2, d, zero
    rde = 1.0 / mj
    beta = (nu * rde) * np.conj(p)
    nu *= d
    de = mj
    if (j & 15) == 15:
        nu *= rde
        de = 1.0
        rde = 1.0
    sc[b, 0] = nu
    sc[b, 1] = de
    sc[b, 2] = rde
    return 0, dn, beta


@njit(cache=True, fastmath=FMA)
def _ldl_values_batch2(lt, dd, gg, tb, alb, upb, prefb, colb, nb, out, orow, wb, sc, tol_piv):
    """:func:`_ldl_values_batch` with the columns of L taken two at a time: for each pair
    (c, c + 1) every entry does its cell of column c, the element c + 1 of that cell, its cell
    of column c + 1, and then one loop over the rows r > c + 1 for both (the forward
    substitution's work vector stays in a register between the two columns: 3 loads and 3
    stores per element where two passes take 4 and 4; rows are indexed in place, not taken as
    views, so that no reference counting runs per cell).  Entry b's cell of column c + 1 needs
    only its own cell of column c and the cells of the entries before b in column c + 1, so
    every element sees the same operations in the same order as in
    :func:`_ldl_values_batch` (bit for bit for real factors: the same values, factors and
    returned index, ``tests/test_obdm_blocked.py``).  Used for real factors (0.8x the time of
    :func:`_ldl_values_batch` at g + 1 = 41, 16 entries); for complex ones it was 1.17x."""
    for b in range(nb):
        for i in range(gg):
            wb[b, i] = tb[b, i]
        sc[b, 0] = alb[b]
        sc[b, 1] = 1.0
        sc[b, 2] = 1.0
    nbe = nb
    fail = nb
    for j in range(0, gg, 2):
        j1 = j + 1
        pair = j1 < gg
        d0 = dd[j]
        d1 = dd[j1] if pair else 0.0
        jb = j1 if pair else j
        for b in range(nbe):
            p = wb[b, j]
            sc[b, 3 + j] = d0
            upd0 = False
            stop = False
            beta = 0.0 * p
            if upb[b] and b != fail:
                st, d0, beta = _c1_cell(p, d0, sc, b, j, gg, tol_piv)
                if st == 2:
                    fail = b
                    nbe = b + 1
                    stop = True
                upd0 = st == 0
            if not pair:
                if stop:
                    break
                continue
            # element j1 of cell (b, j), then cell (b, j1)
            if upd0:
                wr = wb[b, j1] - p * lt[j, j1]
                wb[b, j1] = wr
                lt[j, j1] += beta * wr
            else:
                wb[b, j1] -= p * lt[j, j1]
            p1 = wb[b, j1]
            sc[b, 3 + j1] = d1
            upd1 = False
            beta1 = 0.0 * p1
            if upb[b] and b != fail:
                st, d1, beta1 = _c1_cell(p1, d1, sc, b, j1, gg, tol_piv)
                if st == 2:
                    fail = b
                    nbe = b + 1
                    stop = True
                upd1 = st == 0
            if upd0 and upd1:
                for r in range(np.uint64(j + 2), np.uint64(gg)):
                    wr = wb[b, r] - p * lt[j, r]
                    lt[j, r] += beta * wr
                    wr2 = wr - p1 * lt[jb, r]
                    lt[jb, r] += beta1 * wr2
                    wb[b, r] = wr2
            elif upd0:
                for r in range(np.uint64(j + 2), np.uint64(gg)):
                    wr = wb[b, r] - p * lt[j, r]
                    lt[j, r] += beta * wr
                    wb[b, r] = wr - p1 * lt[jb, r]
            elif upd1:
                for r in range(np.uint64(j + 2), np.uint64(gg)):
                    wr = wb[b, r] - p * lt[j, r]
                    wr2 = wr - p1 * lt[jb, r]
                    lt[jb, r] += beta1 * wr2
                    wb[b, r] = wr2
            else:
                for r in range(np.uint64(j + 2), np.uint64(gg)):
                    wr = wb[b, r] - p * lt[j, r]
                    wb[b, r] = wr - p1 * lt[jb, r]
            if stop:
                break
        dd[j] = d0
        if pair:
            dd[j1] = d1
    for b in range(nb if fail == nb else fail + 1):
        deta = prefb[b]
        cb = colb[b]
        for j in range(gg):
            out[orow - j, cb] = deta * wb[b, j]
            deta *= sc[b, 3 + j]
    return fail


@njit(cache=True, fastmath=FMA)
def _ldl_update(lt, dd, gg, alpha, v, wv, tol_piv):
    """L D L^H <- L D L^H + alpha v v^H in O(gg^2) (:func:`_ldl_values_update` without the
    values, the same recurrence; factors stored as by :func:`_ldl_factor`).  Returns False if a new pivot d_i,
    i < gg - 1, falls below ``tol_piv`` in modulus (then the factors must be rebuilt)."""
    for i in range(gg):
        wv[i] = v[i]
    nu = alpha
    de = 1.0
    rde = 1.0
    for j in range(gg):
        p = wv[j]
        d = dd[j]
        pa = p.real * p.real + p.imag * p.imag
        mj = de * d + nu * pa
        dn = mj * rde
        if j == gg - 1:
            dd[j] = dn
            break
        if abs(dn) < tol_piv or dn == 0.0:
            return False
        dd[j] = dn
        rde = 1.0 / mj
        beta = (nu * rde) * np.conj(p)
        nu *= d
        de = mj
        if (j & 15) == 15:
            nu *= rde
            de = 1.0
            rde = 1.0
        # unsigned indices: no wraparound test, so the loop vectorizes (no reassociation)
        for r in range(np.uint64(j + 1), np.uint64(gg)):
            wr = wv[r] - p * lt[j, r]
            wv[r] = wr
            lt[j, r] += beta * wr
    return True


@njit(cache=True, fastmath=FMA)
def _pending_values_ldl(lt, dd, gg, pp, pz, tp, tz, npend, pref, out, orow, y, gw, cm,
                        mat):
    """Column y while npend deferred steps are pending (pp[i, j] = p_i^H B p_j, pz[i, k] =
    p_i^H B z_k, tp[i] = p_i^H B u(y), tz[k] = z_k^H B u(y); the bordered determinants of
    :func:`_pending_values`) from the LDL^H factors of A = I - 2 Z^H B Z
    (:func:`_ldl_factor`, all pivots usable) in O(gg^2 npend): with G = L^{-1} [F_ZP, t_Z]
    (F_ZP = -2 Z^H B P), eliminating Z_{<r} first leaves the (npend + 1)-dimensional Schur
    complement [[F_PP - G_r^H D_r^{-1} G_r, t_P - G_r^H D_r^{-1} g_r], [G[r, :npend], G[r, npend]]],
    whose determinant times prod_{i<r} d_i is the bordered determinant of row r."""
    npc = npend + 1
    for r in range(gg):
        for b in range(npend):
            gw[r, b] = -2.0 * np.conj(pz[b, r])
        gw[r, npend] = tz[r]
    for i in range(gg):
        row = lt[i]
        for r in range(i + 1, gg):
            f = row[r]
            for b in range(npc):
                gw[r, b] -= f * gw[i, b]
    for a in range(npend):
        for b in range(npend):
            cm[a, b] = -2.0 * pp[a, b]
        cm[a, a] += 1.0
        cm[a, npend] = tp[a]
    deta = pref
    for r in range(gg):
        for a in range(npend):
            for b in range(npc):
                mat[a, b] = cm[a, b]
        for b in range(npc):
            mat[npend, b] = gw[r, b]
        out[orow - r, y] = deta * det_lu(mat, npc)
        if r == gg - 1:
            break
        inv = 1.0 / dd[r]
        for a in range(npend):
            f = np.conj(gw[r, a]) * inv
            for b in range(npc):
                cm[a, b] -= f * gw[r, b]
        deta *= dd[r]


@njit(cache=True)
def _small_det(sm, rows, nr, cols, mat):
    """det of sm[rows[:nr]][:, cols[:nr]] (LU with partial pivoting, in ``mat``)."""
    for i in range(nr):
        for j in range(nr):
            mat[i, j] = sm[rows[i], cols[j]]
    return det_lu(mat, nr)


@njit(cache=True)
def _pivot_system(tm, tz, pp, pz, tp, npend, gg, sm):
    """The bordered system of :func:`_pivoted_values` into sm: [[I - 2 tm, F_ZP, t_Z],
    [F_PZ, I - 2 pp, t_P]] (F_ZP = -2 pz^H)."""
    nt = gg + npend
    for i in range(gg):
        for j in range(gg):
            sm[i, j] = -2.0 * tm[i, j]
        sm[i, i] += 1.0
        sm[i, nt] = tz[i]
        for b in range(npend):
            sm[i, gg + b] = -2.0 * np.conj(pz[b, i])
            sm[gg + b, i] = -2.0 * pz[b, i]
    for a in range(npend):
        for b in range(npend):
            sm[gg + a, gg + b] = -2.0 * pp[a, b]
        sm[gg + a, gg + a] += 1.0
        sm[gg + a, nt] = tp[a]


@njit(cache=True)
def _pivoted_values(tm, tz, pp, pz, tp, npend, gg, pref, out, orow, y, sm, s0, rows, cols,
                    mat, tol_piv):
    """Column y of the group from Z^H B Z (tm) and, if npend > 0, the pending vectors (pp, pz,
    tp as in :func:`_pending_values_ldl`), by Gaussian elimination of the Z block in its natural
    order with 1 x 1 pivots, or 2 x 2 pivots (r, r + 1) where |pivot| < tol_piv.  Before
    eliminating Z_r the value of row r is (det of the eliminated block) times the determinant of
    the (npend + 1)-dimensional Schur complement on rows {P, z_r}, columns {P, t}; inside a 2 x 2
    pivot the value of row r + 1 uses rows {P, z_r, z_{r+1}}, columns {P, z_r, t}.  At half
    filling of a clean ring every other leading minor vanishes (Lieb, Schultz & Mattis 1961),
    which 1 x 1 elimination cannot pass but 2 x 2 pivots do.  Rows after a 2 x 2 pivot with
    |det| < tol_piv come from exact small determinants of the whole bordered matrix.  Returns 1 if
    that fallback was used, else 0.  sm, s0: (gg + npend, gg + npend + 1) work arrays."""
    nt = gg + npend
    _pivot_system(tm, tz, pp, pz, tp, npend, gg, sm)
    for a in range(npend):
        rows[a] = gg + a
        cols[a] = gg + a
    deta = pref
    r = 0
    while r < gg:
        if npend == 0:
            out[orow - r, y] = deta * sm[r, nt]         # the 1 x 1 determinant
        else:
            rows[npend] = r
            cols[npend] = nt
            out[orow - r, y] = deta * _small_det(sm, rows, npend + 1, cols, mat)
        if r == gg - 1:
            return 0
        piv = sm[r, r]
        if abs(piv) >= tol_piv:
            inv = 1.0 / piv
            for i in range(r + 1, nt):
                f = sm[i, r] * inv
                if f != 0.0:
                    for j in range(np.uint64(r + 1), np.uint64(nt + 1)):
                        sm[i, j] -= f * sm[r, j]
            deta *= piv
            r += 1
            continue
        # 2 x 2 pivot on (r, r + 1)
        if npend == 0:
            out[orow - r - 1, y] = deta * (sm[r, r] * sm[r + 1, nt] - sm[r, nt] * sm[r + 1, r])
        else:
            rows[npend] = r
            rows[npend + 1] = r + 1
            cols[npend] = r
            cols[npend + 1] = nt
            out[orow - r - 1, y] = deta * _small_det(sm, rows, npend + 2, cols, mat)
        if r + 1 == gg - 1:
            return 0
        a00 = sm[r, r]
        a01 = sm[r, r + 1]
        a10 = sm[r + 1, r]
        a11 = sm[r + 1, r + 1]
        d2 = a00 * a11 - a01 * a10
        if abs(d2) < tol_piv:
            break
        i00 = a11 / d2
        i01 = -a01 / d2
        i10 = -a10 / d2
        i11 = a00 / d2
        for i in range(r + 2, nt):
            f0 = sm[i, r] * i00 + sm[i, r + 1] * i10
            f1 = sm[i, r] * i01 + sm[i, r + 1] * i11
            for j in range(np.uint64(r + 2), np.uint64(nt + 1)):
                sm[i, j] -= f0 * sm[r, j] + f1 * sm[r + 1, j]
        deta *= d2
        r += 2
    # exact small determinants of the bordered matrix for rows r + 2 .. gg - 1
    _pivot_system(tm, tz, pp, pz, tp, npend, gg, s0)
    for rr in range(r + 2, gg):
        for k in range(rr):
            rows[npend + k] = k
            cols[npend + k] = k
        rows[npend + rr] = rr
        cols[npend + rr] = nt
        out[orow - rr, y] = pref * _small_det(s0, rows, npend + rr + 1, cols, mat)
    return 1


@njit(cache=True)
def _tm_catch_up(tmc, ev, cv, ntm, ncom, ke, gg, abuf, acbuf, tbuf):
    """tmc += sum_{ntm <= i < ncom} cv[i] ev[i, Z] ev[i, Z]^H (Z = ke .. ke + gg - 1): the
    group's Z^H B Z brought up to the committed steps (a small GEMM when there are many;
    abuf, acbuf: work arrays of >= gg * (ncom - ntm) entries, tbuf: (gg, gg))."""
    nc = ncom - ntm
    if nc <= 0:
        return
    if nc < 4:
        for i in range(ntm, ncom):
            for k in range(gg):
                f = cv[i] * ev[i, ke + k]
                for l in range(gg):
                    tmc[k, l] += f * np.conj(ev[i, ke + l])
        return
    a = abuf[:gg * nc].reshape((gg, nc))
    ac = acbuf[:nc * gg].reshape((nc, gg))
    for i in range(nc):
        for k in range(gg):
            v = ev[ntm + i, ke + k]
            a[k, i] = cv[ntm + i] * v
            ac[i, k] = np.conj(v)
    np.dot(a, ac, tbuf)
    for k in range(gg):
        for l in range(gg):
            tmc[k, l] += tbuf[k, l]


@njit(cache=True)
def _inverse_gemm(lam, vv, b):
    """b = V diag(1/lam) V^H by one GEMM; returns (log|det|, sign(det))."""
    n = lam.size
    logdet = 0.0
    sgn = 1.0
    vl = np.empty_like(vv)
    for k in range(n):
        logdet += np.log(abs(lam[k]))
        if lam[k] < 0:
            sgn = -sgn
    for al in range(n):
        for k in range(n):
            vl[al, k] = vv[al, k] / lam[k]
    b[:, :] = np.dot(vl, np.ascontiguousarray(np.conj(vv).T))
    return logdet, sgn


@njit(cache=True)
def _exact_state(u, q, stride, qx, y, uz, uzc, bc, tm, tol_eig):
    """Exact O^T = I - 2 (Q(y + 1) - Q(x0 + 1)) from the checkpoints (columns up to y
    included).  If min |eig O^T| > tol_eig: bc = conj(O^T)^{-1}, tm = Z^H B Z, return
    (True, log|det|, sign, O^T); else (False, 0, 1, O^T).  The inverse and determinant come
    from LU (LAPACK) when ||(O^T)^{-1}||_F < 1/tol_eig (which implies min |eig| > tol_eig);
    otherwise the eigendecomposition decides, as in :func:`group_sweep`."""
    n = u.shape[1]
    qcur = _prefix_at(u, q, stride, y + 1)
    ot = np.empty((n, n), dtype=u.dtype)
    for al in range(n):
        for be in range(n):
            ot[al, be] = -2.0 * (qcur[al, be] - qx[al, be])
        ot[al, al] += 1.0
    sg, logdet = np.linalg.slogdet(ot)
    ok = False
    if abs(sg) > 0.5 and np.isfinite(logdet):
        b = np.linalg.inv(ot)
        fro = 0.0
        for al in range(n):
            for be in range(n):
                v = b[al, be]
                fro += v.real * v.real + v.imag * v.imag
        if fro * tol_eig * tol_eig < 1.0:
            ok = True
            sgn = 1.0 if sg.real > 0 else -1.0
            for al in range(n):
                for be in range(n):
                    bc[al, be] = 0.5 * (np.conj(b[al, be]) + b[be, al])
    if not ok:
        lam, vv = np.linalg.eigh(ot)
        vv = np.ascontiguousarray(vv)
        if np.min(np.abs(lam)) <= tol_eig:
            return False, 0.0, 1.0, ot
        logdet, sgn = _inverse_gemm(lam, vv, bc)
        for al in range(n):
            for be in range(n):
                bc[al, be] = np.conj(bc[al, be])
    wz = np.dot(uz, bc)
    tm[:, :] = np.dot(uzc, np.ascontiguousarray(wz.T))
    return True, logdet, sgn, ot


#: after a failed refactorization (a leading minor of the group's small matrix near zero, which
#: persists over a range of columns) the blocked sweep takes the values from the pivoted
#: elimination for this many columns before it tries the factors again
REFACTOR_WAIT = 8


@njit(cache=True)
def _tm_fresh(uz, uzc, bc, tm, tmc):
    """tm = tmc = Z^H B Z from the block's base inverse (bc = conj(B)): the group's small matrix
    where it was not carried (:func:`group_sweep_blocked` keeps it only while the factors are
    unusable)."""
    wz = np.dot(uz, bc)
    tm[:, :] = np.dot(uzc, np.ascontiguousarray(wz.T))
    tmc[:, :] = tm


@njit(cache=True)
def _flush_values(lt, dd, gg, tq, alq, upq, prq, clq, ncq, nq, vb, wq, sq, wv, tmc, ev, cv, ntm,
                  ke, cabuf, ccbuf, ctbuf, wait, pp, pz, tp, sm, s0, rws, cls, mat, tol_piv,
                  tm_ok, uz, uzc, bc, tm):
    """The values (into vb) and factor updates of the nq queued columns of the blocked sweep,
    as :func:`group_sweep_blocked` would have done them one column at a time: one
    :func:`_ldl_values_batch` pass; if an update there meets a small pivot, the columns after
    it are redone in order with the column-by-column logic (while the factors are unusable:
    bring tmc up to the steps committed before the column and refactor unless waiting; then
    the factors' pass, or the pivoted elimination).  tm_ok: tmc = tm at the block start holds
    Z^H B Z (else it is computed first, :func:`_tm_fresh`).  Returns (clean, wait, ntm, pivot
    fallbacks, tm_ok)."""
    if np.iscomplexobj(lt):
        fail = _ldl_values_batch(lt, dd, gg, tq, alq, upq, prq, clq, nq, vb, gg - 1, wq, sq,
                                 tol_piv)
    else:
        fail = _ldl_values_batch2(lt, dd, gg, tq, alq, upq, prq, clq, nq, vb, gg - 1, wq, sq,
                                  tol_piv)
    clean = True
    fallbacks = 0
    if fail < nq:
        clean = False
        for b in range(fail + 1, nq):
            if not clean:
                if not tm_ok:
                    _tm_fresh(uz, uzc, bc, tm, tmc)
                    tm_ok = True
                _tm_catch_up(tmc, ev, cv, ntm, ncq[b], ke, gg, cabuf, ccbuf, ctbuf)
                ntm = ncq[b]
                if wait <= 0:
                    clean = _ldl_factor(tmc, gg, lt, dd, tol_piv)
                    wait = 0 if clean else REFACTOR_WAIT
                else:
                    wait -= 1
            if clean:
                clean = _ldl_values_update(lt, dd, gg, tq[b], wv, prq[b], vb, gg - 1, clq[b],
                                           alq[b], upq[b], tol_piv)
            else:
                fallbacks += _pivoted_values(tmc, tq[b], pp, pz, tp, 0, gg, prq[b], vb, gg - 1,
                                             clq[b], sm, s0, rws, cls, mat, tol_piv)
    return clean, wait, ntm, fallbacks, tm_ok


@njit(cache=True, fastmath=FMA)
def group_sweep_blocked(u, q, stride, qx, x0, g, out, row0, tol_den, tol_eig, tol_piv, pmax=4,
                        kb=32):
    """:func:`group_sweep` with the master sweep blocked over ``kb`` columns (level-3 BLAS):
    same values, same safeguards (deferred near-singular steps committed as rank-p Woodbury
    updates, exact rebuild every ``stride`` sites or when ``pmax`` deferred steps do not
    recover, per-pair determinants while O^T is singular); qx = sum_{z <= x0} u(z) u(z)^H.

    Per block: W = U_blk conj(B) and E^T = W conj(X)^T (X = [U_blk, Z]) by two GEMMs into
    preallocated buffers; per column one pass over the LDL^H factors of the group's small
    matrix gives the column's values and commits the step (:func:`_ldl_values_update`); the
    values go to a (g + 1, kb) buffer written to ``out`` row by row at the end of the block
    (a column of ``out`` spans g + 1 rows M apart); the determinant ratios of the block are
    multiplied up and their logarithm taken once per block; B advances by P = R W and
    conj(B) += conj(P)^T (c P) (two GEMMs).

    Returns (exact rebuilds, pivot fallbacks, deferred steps)."""
    m, n = u.shape
    if x0 >= m - 1:
        return 0, 0, 0
    gg = g + 1
    pm = max(pmax, 1)
    kmax = max(kb, pm + 2)
    nx = kmax + gg
    uz = np.empty((gg, n), dtype=u.dtype)
    for r in range(gg):
        uz[r] = u[x0 - r]
    uzc = np.conj(uz)
    bc = np.eye(n).astype(u.dtype)                      # conj(B) = B^T
    tm = np.dot(uzc, np.ascontiguousarray(uz.T))       # Z^H B Z with B = I
    ev = np.zeros((kmax, nx), dtype=u.dtype)           # committed columns of E (rows)
    cv = np.zeros(kmax)                                 # their coefficients
    rend = np.zeros(kmax, dtype=np.int64)               # rv[i, l] = 0 for l >= rend[i]
    tmc = np.empty((gg, gg), dtype=u.dtype)            # Z^H B Z after the committed steps
    rv = np.zeros((kmax, kmax), dtype=u.dtype)         # p_i = sum_l rv[i, l] W[l]
    e = np.zeros(nx, dtype=u.dtype)
    tz = np.empty(gg, dtype=u.dtype)                   # Z^H B u(y): e[ke:], copied (no view)
    re = np.zeros(kmax, dtype=u.dtype)
    pidx = np.zeros(pm, dtype=np.int64)
    pe = np.zeros((pm, nx), dtype=u.dtype)
    pr = np.zeros((pm, kmax), dtype=u.dtype)
    pp = np.zeros((pm, pm), dtype=u.dtype)
    pz = np.zeros((pm, gg), dtype=u.dtype)
    tp = np.zeros(pm, dtype=u.dtype)
    app = np.zeros((pm, pm), dtype=u.dtype)
    na = pm + gg
    mat = np.empty((na + 1, na + 1), dtype=u.dtype)
    lt = np.zeros((gg, gg), dtype=u.dtype)             # L^T of A = I - 2 tm = L D L^H
    dd = np.zeros(gg)
    wv = np.empty(gg, dtype=u.dtype)
    gw = np.empty((gg, pm + 1), dtype=u.dtype)
    sm = np.empty((gg + pm, gg + pm + 1), dtype=u.dtype)
    s0 = np.empty((gg + pm, gg + pm + 1), dtype=u.dtype)
    rws = np.empty(gg + pm + 1, dtype=np.int64)
    cls = np.empty(gg + pm + 1, dtype=np.int64)
    cm = np.empty((pm, pm + 1), dtype=u.dtype)
    # the queue of columns whose values (and commit) wait for one pass over the factors
    tqbuf = np.empty((kmax, gg), dtype=u.dtype)        # t = Z^H B u(y) of each
    alq = np.zeros(kmax)                                # alpha of the factors' update
    upq = np.zeros(kmax, dtype=np.bool_)                # update the factors?
    prq = np.zeros(kmax)                                # pref = det O^T
    clq = np.zeros(kmax, dtype=np.int64)                # column in the block
    ncq = np.zeros(kmax, dtype=np.int64)                # committed steps before it
    wq = np.empty((kmax, gg), dtype=u.dtype)
    sq = np.empty((kmax, gg + 3))
    nq = 0
    # level-3 buffers (no allocation inside the sweep)
    xc = np.empty((nx, n), dtype=u.dtype)              # conj(X) = [conj(U_blk); conj(Z)]
    xke = -1                                            # block length conj(Z) is placed for
    wbuf = np.empty(kmax * n, dtype=u.dtype)
    etbuf = np.empty(kmax * nx, dtype=u.dtype)
    pbuf = np.empty(kmax * n, dtype=u.dtype)
    cpbuf = np.empty(kmax * n, dtype=u.dtype)
    rrbuf = np.zeros(kmax * kmax, dtype=u.dtype)
    upd = np.empty((n, n), dtype=u.dtype)
    vb = np.empty((gg, kmax), dtype=u.dtype)           # the block's values, row gg - 1 - r
    cabuf = np.empty(gg * kmax, dtype=u.dtype)
    ccbuf = np.empty(gg * kmax, dtype=u.dtype)
    ctbuf = np.empty((gg, gg), dtype=u.dtype)
    qcur = qx.copy()
    ot = np.eye(n).astype(u.dtype)
    logdet = 0.0
    sgn = 1.0
    regular = True
    clean = False                                       # lt, dd hold the factors of I - 2 tm
    tm_ok = True                                        # tm holds Z^H B Z (kept only while
    #                                                     not clean, else computed when needed)
    # carry tm in every block where computing it from B (O(g N^2)) would cost more than
    # carrying it (O(g^2) per column): many orbitals per row of the group
    eager = n >= 4 * gg
    wait = 0                                            # columns before the next refactor try
    restarts = 0
    fallbacks = 0
    deferred = 0
    orow = x0 - row0
    y = x0 + 1
    while y < m:
        if not regular:
            # O^T singular: per-pair bordered determinants, exact state one column further
            uy = u[y]
            otr = ot.copy()
            for r in range(gg):
                if r > 0:
                    outer_acc(otr, uz[r - 1], -2.0)
                out[orow - r, y] = _pair_det(otr, uz[r], uy)
            if y == m - 1:
                break
            restarts += 1
            outer_acc(qcur, uy, 1.0)
            for al in range(n):
                for be in range(n):
                    ot[al, be] = -2.0 * (qcur[al, be] - qx[al, be])
                ot[al, al] += 1.0
            lam, vv = np.linalg.eigh(ot)
            vv = np.ascontiguousarray(vv)
            if np.min(np.abs(lam)) > tol_eig:
                regular = True
                logdet, sgn = _inverse_gemm(lam, vv, bc)
                for al in range(n):
                    for be in range(n):
                        bc[al, be] = np.conj(bc[al, be])
                wz = np.dot(uz, bc)
                tm[:, :] = np.dot(uzc, np.ascontiguousarray(wz.T))
                tm_ok = True
                clean = False
            y += 1
            continue
        # ---- one block of columns y .. y + ke - 1, never past a checkpoint column
        ke = min(kmax, m - y)
        rem = stride - 1 - (y % stride)
        if rem + 1 < ke:
            ke = rem + 1
        nxe = ke + gg
        ub = u[y:y + ke]
        for l in range(ke):
            for al in range(n):
                xc[l, al] = np.conj(ub[l, al])
        if ke != xke:
            # conj(Z) below the block's rows: rewritten only when the block length changes
            for r in range(gg):
                for al in range(n):
                    xc[ke + r, al] = uzc[r, al]
            xke = ke
        w = wbuf[:ke * n].reshape((ke, n))
        np.dot(ub, bc, w)                               # w[j] = (B0 u(y + j))^T
        et = etbuf[:ke * nxe].reshape((ke, nxe))
        np.dot(w, xc[:nxe].T, et)                       # et[j, l] = x_l^H B0 u_j
        ncom = 0
        npend = 0
        jstop = -1
        last = False
        nv = 0
        lazy = not tm_ok
        if tm_ok:
            tmc[:, :] = tm
        ntm = 0
        if not clean and wait <= 0:
            # the factors are carried from block to block (updated with every committed
            # step); rebuilt from tm after an exact rebuild or where they became unusable
            clean = _ldl_factor(tmc, gg, lt, dd, tol_piv)
            wait = 0 if clean else REFACTOR_WAIT
        pdet = sgn * np.exp(logdet)                     # det O^T at the block start
        dprod = 1.0                                     # det ratios committed in the block
        for j in range(ke):
            yy = y + j
            lo = pidx[0] if npend > 0 else j
            for l in range(np.uint64(lo), np.uint64(nxe)):
                e[l] = et[j, l]
            for i in range(ncom):
                f = cv[i] * np.conj(ev[i, j])
                for l in range(np.uint64(lo), np.uint64(nxe)):
                    e[l] += f * ev[i, l]
            pref = pdet * dprod
            s = e[j].real
            den = 1.0 - 2.0 * s
            # a plain commit of column j (no pending step, ratio large enough, not the end)
            plain = (npend == 0 and abs(den) >= tol_den and yy != m - 1
                     and (yy + 1) % stride != 0 and pmax > 0)
            if npend > 0:
                if nq > 0:
                    clean, wait, ntm, nfb, tm_ok = _flush_values(
                        lt, dd, gg, tqbuf, alq, upq, prq, clq, ncq, nq, vb, wq, sq, wv, tmc, ev,
                        cv, ntm, ke, cabuf, ccbuf, ctbuf, wait, pp, pz, tp, sm, s0, rws, cls,
                        mat, tol_piv, tm_ok, uz, uzc, bc, tm)
                    fallbacks += nfb
                    nq = 0
                for i in range(npend):
                    tp[i] = e[pidx[i]]
                for k in range(gg):
                    tz[k] = e[ke + k]
                if clean:
                    _pending_values_ldl(lt, dd, gg, pp, pz, tp, tz, npend, pref, vb,
                                        gg - 1, j, gw, cm, mat)
                else:
                    if not tm_ok:
                        _tm_fresh(uz, uzc, bc, tm, tmc)
                        tm_ok = True
                    _tm_catch_up(tmc, ev, cv, ntm, ncom, ke, gg, cabuf, ccbuf, ctbuf)
                    ntm = ncom
                    fallbacks += _pivoted_values(tmc, tz, pp, pz, tp, npend, gg, pref, vb,
                                                 gg - 1, j, sm, s0, rws, cls, mat, tol_piv)
            else:
                if not clean:
                    if not tm_ok:
                        _tm_fresh(uz, uzc, bc, tm, tmc)
                        tm_ok = True
                    _tm_catch_up(tmc, ev, cv, ntm, ncom, ke, gg, cabuf, ccbuf, ctbuf)
                    ntm = ncom
                    if wait <= 0:
                        clean = _ldl_factor(tmc, gg, lt, dd, tol_piv)
                        wait = 0 if clean else REFACTOR_WAIT
                    else:
                        wait -= 1
                if clean:
                    # queued: the factors' pass runs for a run of such columns at once
                    # (_flush_values: the same arithmetic, column by column of the factors)
                    c = 2.0 / den if plain else 0.0
                    for k in range(gg):
                        tqbuf[nq, k] = e[ke + k]
                    alq[nq] = -2.0 * c
                    upq[nq] = plain
                    prq[nq] = pref
                    clq[nq] = j
                    ncq[nq] = ncom
                    nq += 1
                else:
                    for k in range(gg):
                        tz[k] = e[ke + k]
                    fallbacks += _pivoted_values(tmc, tz, pp, pz, tp, 0, gg, pref, vb,
                                                 gg - 1, j, sm, s0, rws, cls, mat, tol_piv)
            nv = j + 1
            if yy == m - 1:
                last = True
                break
            if (yy + 1) % stride == 0:
                jstop = j
                break
            if npend >= pmax:
                jstop = j
                break
            if npend == 0 and abs(den) < tol_den and pmax <= 0:
                jstop = j
                break
            # W-space coefficients of B_cur u(yy)
            for l in range(j + 1):
                re[l] = 0.0
            re[j] = 1.0
            for i in range(ncom):
                f = cv[i] * np.conj(ev[i, j])
                for l in range(rend[i]):
                    re[l] += f * rv[i, l]
            if plain:
                for l in range(np.uint64(j), np.uint64(nxe)):
                    ev[ncom, l] = e[l]
                for l in range(j + 1):
                    rv[ncom, l] = re[l]
                cv[ncom] = 2.0 / den
                rend[ncom] = j + 1
                ncom += 1
                dprod *= den
                continue
            # defer column j
            deferred += 1
            pidx[npend] = j
            for l in range(lo, nxe):
                pe[npend, l] = e[l]
            for l in range(j + 1):
                pr[npend, l] = re[l]
            for l in range(j + 1, ke):
                pr[npend, l] = 0.0
            npend += 1
            for i in range(npend):
                for i2 in range(npend):
                    pp[i, i2] = pe[i2, pidx[i]]
                for k in range(gg):
                    pz[i, k] = np.conj(pe[i, ke + k])
            if npend == 1:
                continue
            for i in range(npend):
                for i2 in range(npend):
                    app[i, i2] = -2.0 * pp[i, i2]
                app[i, i] += 1.0
            lam, qv = np.linalg.eigh(app[:npend, :npend])
            if np.min(np.abs(lam)) < tol_den:
                continue
            # commit the pending steps: B += 2 (B P) app^{-1} (B P)^H in eigen-form
            for kk in range(npend):
                for l in range(j + 1, nxe):
                    acc = 0.0 * e[0]
                    for i in range(npend):
                        acc += qv[i, kk] * pe[i, l]
                    ev[ncom, l] = acc
                for l in range(ke):
                    acc = 0.0 * e[0]
                    for i in range(npend):
                        acc += qv[i, kk] * pr[i, l]
                    rv[ncom, l] = acc
                cv[ncom] = 2.0 / lam[kk]
                rend[ncom] = j + 1
                ncom += 1
                if clean:
                    clean = _ldl_update(lt, dd, gg, -2.0 * cv[ncom - 1],
                                        ev[ncom - 1, ke:nxe], wv, tol_piv)
                dprod *= lam[kk]
            npend = 0
        if nq > 0:
            clean, wait, ntm, nfb, tm_ok = _flush_values(
                lt, dd, gg, tqbuf, alq, upq, prq, clq, ncq, nq, vb, wq, sq, wv, tmc, ev, cv, ntm,
                ke, cabuf, ccbuf, ctbuf, wait, pp, pz, tp, sm, s0, rws, cls, mat, tol_piv, tm_ok,
                uz, uzc, bc, tm)
            fallbacks += nfb
            nq = 0
        # the block's values, row by row
        for i in range(gg):
            orw = orow - (gg - 1) + i
            for jj in range(nv):
                out[orw, np.uint64(y + jj)] = vb[i, jj]
        if last:
            break
        if jstop < 0 and npend > 0 and pidx[0] == 0:
            jstop = ke - 1            # no progress possible: rebuild (cannot happen, kb > pmax)
        if jstop >= 0:
            restarts += 1
            yy = y + jstop
            regular, ldet, sg, ot = _exact_state(u, q, stride, qx, yy, uz, uzc, bc, tm, tol_eig)
            clean = False
            tm_ok = True
            if regular:
                logdet = ldet
                sgn = sg
            else:
                qcur = _prefix_at(u, q, stride, yy + 1)
            y = yy + 1
            continue
        logdet += np.log(abs(dprod))
        if dprod < 0:
            sgn = -sgn
        if lazy and (tm_ok or not clean):
            eager = True
        if clean and not eager:
            # the factors carry the group's small matrix to the next block; Z^H B Z itself is
            # needed only where they fail (then computed from B, _tm_fresh, O(g N^2); after
            # the first such failure of the group it is carried again, block by block)
            tm_ok = False
        else:
            if not tm_ok:
                _tm_fresh(uz, uzc, bc, tm, tmc)
            _tm_catch_up(tmc, ev, cv, ntm, ncom, ke, gg, cabuf, ccbuf, ctbuf)
            tm[:, :] = tmc
            tm_ok = True
        if ncom > 0:
            # B <- B0 + sum_i c_i p_i p_i^H, p_i^T = rv[i] W: conj(B) += conj(P)^T (c P)
            rr = rrbuf[:ncom * ke].reshape((ncom, ke))
            for i in range(ncom):
                for l in range(ke):
                    rr[i, l] = rv[i, l] if l < rend[i] else 0.0
            pmt = pbuf[:ncom * n].reshape((ncom, n))
            np.dot(rr, w, pmt)
            cp = cpbuf[:ncom * n].reshape((ncom, n))
            for i in range(ncom):
                for al in range(n):
                    cp[i, al] = cv[i] * pmt[i, al]
                    pmt[i, al] = np.conj(pmt[i, al])
            np.dot(pmt.T, cp, upd)
            for al in range(n):
                for be in range(n):
                    bc[al, be] += upd[al, be]
        if npend > 0:
            deferred -= npend         # carried into the next block, counted again there
            y += pidx[0]
        else:
            y += ke
    return restarts, fallbacks, deferred


@njit(cache=True)
def obdm_blocked(u, q, stride, out, row0, xa, xb, g, tol_den, tol_eig, tol_piv, pmax=4, kb=32):
    """:func:`obdm_grouped` with the blocked master sweep (:func:`group_sweep_blocked`).
    Q(x0 + 1) of successive groups is downdated by the group's g + 1 outer products (reset at
    every checkpoint), not summed up from the checkpoint below (O(stride N^2) per group).

    Returns (exact rebuilds of O^T, deferred steps) summed over the groups."""
    restarts = 0
    deferred = 0
    x0 = xb - 1
    qx = _prefix_at(u, q, stride, x0 + 1)
    while x0 >= xa:
        zmin = max(xa, x0 - g)
        group_head(u, x0, zmin, out, row0, tol_piv)
        r1, r2, r3 = group_sweep_blocked(u, q, stride, qx, x0, x0 - zmin, out, row0, tol_den,
                                         tol_eig, tol_piv, pmax, kb)
        # Q(zmin) for the next group: from the checkpoint when zmin is one, else downdated
        if zmin % stride == 0:
            qx[:, :] = q[zmin // stride]
        else:
            for z in range(zmin, x0 + 1):
                outer_acc(qx, u[z], -1.0)
        restarts += r1
        deferred += r3
        x0 = zmin - 1
    return restarts, deferred
