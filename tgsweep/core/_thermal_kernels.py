"""numba kernels for the string traces of the thermal OBDM of hard-core bosons (lattice units).

Production path: the grouped sweep for a general diagonal Phi (:func:`general_rows`, second
half of this file).  The per-row kernel :func:`string_rows` below is the previous path, kept as
a reference (tests compare the two) together with the NumPy twins.

Every term of the thermal one-particle density matrix (see :mod:`tgsweep.core.thermal`) has the
form, for x <= y,

    T(x, y) = det R * u(y)^T R^{-1} l(x),     l(x) = c o conj(u(x)),
    R(x, y) = diag(a) - 2 diag(c) Q(x, y),    Q_nm = sum_{x<z<y} conj(u_n(z)) u_m(z),

with u the (M, k) lattice-normalized orbitals and a, c per-orbital scalars (real or complex).  The
value is a polynomial in the entries of R: T = -det [[0, u(y)^T], [l(x), R]] (bordered
determinant), which stays finite where R is singular.

Row sweep.  For fixed x, y runs from x to M-1; R gains the rank-one term p q^T,
p = -2 c o conj(u(z)), q = u(z) (z = y - 1), at every step y >= x + 2.  B = R^{-1} and
b = B l are updated by Sherman-Morrison (3 k^2 per step), log|det R| and its phase by the matrix
determinant lemma.  Where the determinant ratio rho = 1 + q^T B p has |rho| < ``tol_den``, and
every ``refresh`` steps (to stop rounding drift), R (held explicitly, O(k^2) per step) is
inverted afresh; if its 1-norm condition number exceeds ``cond_max`` the sweep switches to the
bordered determinant (O(k^3) per pair, exact through the singular point) until R is well
conditioned again.  Values are returned scaled by exp(-shift) (``shift`` chosen by the caller so
that they are O(1): every term is bounded by a partition function, see the caller).

The plain NumPy twin :func:`string_values_reference` evaluates the bordered determinant per pair.
"""

from __future__ import annotations

import numpy as np
from .jit import FMA, njit  # numba.njit with explicit fastmath/error_model (see jit.py)

from ._obdm_kernels import bordered_minors, cdot, det_lu, group_values, outer_acc


@njit(cache=True)
def _norm1(a):
    k = a.shape[0]
    best = 0.0
    for j in range(k):
        s = 0.0
        for i in range(k):
            s += abs(a[i, j])
        if s > best:
            best = s
    return best


@njit(cache=True)
def _rebuild(r, b, cond_max):
    """B = R^{-1} if cond_1(R) <= cond_max; returns (ok, log|det R|, phase of det R)."""
    sign, lab = np.linalg.slogdet(r)
    if sign == 0 or not np.isfinite(lab):
        return False, 0.0, sign
    inv = np.linalg.inv(r)
    if _norm1(r) * _norm1(inv) > cond_max:
        return False, lab, sign
    b[:, :] = inv
    return True, lab, sign


@njit(cache=True)
def _bordered(r, uy, lx, shift):
    """-det [[0, uy^T], [lx, R]] * exp(-shift)."""
    k = uy.size
    big = np.zeros((k + 1, k + 1), dtype=r.dtype)
    for n in range(k):
        big[0, n + 1] = uy[n]
        big[n + 1, 0] = lx[n]
        for m in range(k):
            big[n + 1, m + 1] = r[n, m]
    sign, lab = np.linalg.slogdet(big)
    if sign == 0:
        return 0.0 * sign
    return -sign * np.exp(lab - shift)


@njit(cache=True, fastmath=FMA)
def _rank1(r, p, q):
    """R += p q^T."""
    k = p.size
    for n in range(k):
        pn = p[n]
        for mm in range(k):
            r[n, mm] += pn * q[mm]


@njit(cache=True, fastmath=FMA)
def _sm_products(b, p, q, bp, qb):
    """bp = B p, qb = q^T B; returns rho = 1 + q^T B p (Sherman-Morrison, O(k^2))."""
    k = p.size
    for n in range(k):
        s = 0.0 * p[0]
        for mm in range(k):
            s += b[n, mm] * p[mm]
        bp[n] = s
    for mm in range(k):
        qb[mm] = 0.0
    for n in range(k):
        qn = q[n]
        for mm in range(k):
            qb[mm] += qn * b[n, mm]
    rho = 1.0 + 0.0 * p[0]
    for n in range(k):
        rho += q[n] * bp[n]
    return rho


@njit(cache=True, fastmath=FMA)
def _sm_update(b, bp, qb, lv, inv_rho):
    """B -= bp qb^T / rho; returns (qb . lv) / rho (for b = B l)."""
    k = bp.size
    for n in range(k):
        bpn = bp[n] * inv_rho
        for mm in range(k):
            b[n, mm] -= bpn * qb[mm]
    s = 0.0 * lv[0]
    for mm in range(k):
        s += qb[mm] * lv[mm]
    return s * inv_rho


@njit(cache=True)
def string_rows(u, a, c, shift, x0, x1, out, tol_den, cond_max, refresh):
    """out[x - x0, y] = T(x, y) exp(-shift) for x0 <= x < x1, y >= x (entries y < x untouched).

    u : (M, k) orbitals; a, c : (k,) of the same dtype as u; out : (x1 - x0, M), same dtype.
    Returns the number of pairs evaluated by the bordered determinant (diagnostics).
    """
    m, k = u.shape
    r = np.zeros((k, k), dtype=u.dtype)
    b = np.zeros((k, k), dtype=u.dtype)
    lv = np.zeros(k, dtype=u.dtype)
    bl = np.zeros(k, dtype=u.dtype)
    bp = np.zeros(k, dtype=u.dtype)
    qb = np.zeros(k, dtype=u.dtype)
    p = np.zeros(k, dtype=u.dtype)
    n_direct = 0
    for x in range(x0, x1):
        for n in range(k):
            lv[n] = c[n] * np.conj(u[x, n])
        r[:, :] = 0.0
        for n in range(k):
            r[n, n] = a[n]
        ok, lab, ph = _rebuild(r, b, cond_max)
        if ok:
            for n in range(k):
                s = 0.0 * lv[0]
                for mm in range(k):
                    s += b[n, mm] * lv[mm]
                bl[n] = s
        since = 0
        for y in range(x, m):
            if y >= x + 2:
                z = y - 1
                for n in range(k):
                    p[n] = -2.0 * c[n] * np.conj(u[z, n])
                _rank1(r, p, u[z])
                done = False
                if ok and since < refresh:
                    rho = _sm_products(b, p, u[z], bp, qb)
                    if abs(rho) >= tol_den:
                        inv_rho = 1.0 / rho
                        s = _sm_update(b, bp, qb, lv, inv_rho)
                        for n in range(k):
                            bl[n] -= bp[n] * s
                        lab += np.log(abs(rho))
                        ph *= rho / abs(rho)
                        since += 1
                        done = True
                if not done:
                    ok, lab, ph = _rebuild(r, b, cond_max)
                    since = 0
                    if ok:
                        for n in range(k):
                            s = 0.0 * lv[0]
                            for mm in range(k):
                                s += b[n, mm] * lv[mm]
                            bl[n] = s
            if ok:
                s = 0.0 * lv[0]
                for n in range(k):
                    s += u[y, n] * bl[n]
                out[x - x0, y] = ph * np.exp(lab - shift) * s
            else:
                out[x - x0, y] = _bordered(r, u[y], lv, shift)
                n_direct += 1
    return n_direct


def string_values_reference(u, a, c, shift, pairs=None):
    """Plain NumPy twin of :func:`string_rows`: -det [[0, u(y)^T], [l(x), R(x, y)]] exp(-shift)
    per pair (x <= y), R built from prefix sums.  ``pairs=None``: the full upper triangle
    (O(M^2 k^3), small rings only); returns an (M, M) array with zeros below the diagonal."""
    u = np.asarray(u)
    m, k = u.shape
    dt = np.result_type(u.dtype, np.asarray(a).dtype, np.asarray(c).dtype)
    outer = u.conj()[:, :, None] * u[:, None, :]
    q = np.concatenate([np.zeros((1, k, k), dtype=dt), np.cumsum(outer, axis=0)])
    a = np.asarray(a, dtype=dt)
    c = np.asarray(c, dtype=dt)

    def one(x, y):
        qq = q[y] - q[x + 1] if y > x + 1 else np.zeros((k, k), dtype=dt)
        r = np.diag(a) - 2.0 * c[:, None] * qq
        big = np.zeros((k + 1, k + 1), dtype=dt)
        big[0, 1:] = u[y]
        big[1:, 0] = c * np.conj(u[x])
        big[1:, 1:] = r
        sign, lab = np.linalg.slogdet(big)
        return -sign * np.exp(lab - shift)

    if pairs is not None:
        return np.array([one(int(x), int(y)) for x, y in pairs], dtype=dt)
    out = np.zeros((m, m), dtype=dt)
    for x in range(m):
        for y in range(x, m):
            out[x, y] = one(x, y)
    return out


# ------------------------------------------------------------------------------------------
# Characteristic polynomial at complex energies (Matsubara sums of the thermal stiffness)
# ------------------------------------------------------------------------------------------
@njit(cache=True)
def log_char_poly(diag, t, c0, es):
    """log f0(E) for complex E, f0(E) = Delta(E) - 2 c0 = t^{-M} det(H_phi0 - E), phi0 in {0, pi}
    (c0 = cos phi0), Delta = tr T(E) the one-period transfer matrix T = T_{M-1} ... T_0,
    T_i = [[(d_i - E)/t, -1], [1, 0]], with running rescaling (any magnitude).  Accurate
    (relative) where the trace is not a cancellation of larger entries, i.e. off the real axis
    by more than the level spacing."""
    m = diag.size
    out = np.empty(es.size, dtype=np.complex128)
    for q in range(es.size):
        e = es[q]
        a = 1.0 + 0.0j
        b = 0.0j
        c = 0.0j
        d = 1.0 + 0.0j
        logs = 0.0
        for i in range(m):
            x = (diag[i] - e) / t
            a, b, c, d = x * a - c, x * b - d, a, b
            s = max(max(abs(a), abs(b)), max(abs(c), abs(d)))
            if s > 1e100 or s < 1e-100:
                a /= s
                b /= s
                c /= s
                d /= s
                logs += np.log(s)
        tr = a + d
        if tr == 0.0:
            out[q] = np.log(-2.0 * c0 + 0.0j)
            continue
        ld = np.log(tr) + logs
        if ld.real > 45.0:
            out[q] = ld
        else:
            out[q] = np.log(np.exp(ld) - 2.0 * c0)
    return out


def log_char_poly_reference(h_phi0, t, es):
    """NumPy twin: log[t^{-M} det(H_phi0 - E)] from the dense matrix (slogdet), per E."""
    m = h_phi0.shape[0]
    out = []
    for e in np.atleast_1d(es):
        sign, lab = np.linalg.slogdet(h_phi0 - e * np.eye(m))
        out.append(np.log(sign) + lab - m * np.log(t))
    return np.array(out)


# ------------------------------------------------------------------------------------------
# Grouped sweep for a general diagonal: O = Phi - 2 sum_{x<z<y} v(z) v(z)^H (any complex Phi)
# ------------------------------------------------------------------------------------------
#
# Every string trace (2) of thermal.py is, after an exact rescaling (:func:`general_form`),
#     T(x, y) exp(-shift) = P * g(x, y),   g(x, y) = -det [[0, v(x)^H], [v(y), O(x, y)]],
#     O(x, y) = Phi - 2 sum_{x<z<y} v(z) v(z)^H,
# with v = u sqrt(|c| / max(|a|, |c|)) (columns scaled, |v| <= |u|), Phi_n = (a_n / c_n) |c_n| /
# max(|a_n|, |c_n|) (|Phi_n| <= 1) and P = exp(-shift) prod_n (c_n / |c_n|) max(|a_n|, |c_n|):
# factor diag(c) out of the rows of R, transpose, and conjugate by diag(sqrt(|c|/max)).  Phi = I
# is the T = 0 Lenard kernel.  For rows z_r = x0 - r (r = 0..g) and columns y > x0 the string
# sets are nested, and with K = O(x0, y), B = K^{-1} (not Hermitian in general),
# T_kl = v(z_k)^H B v(z_l), t_k = v(z_k)^H B v(y), Woodbury and the determinant lemma give
#     g(z_r, y) = det K * det [[I - 2 T_{<r,<r}, t_{<r}], [-2 T_{r,<r}, t_r]]
# (the identity of the T = 0 grouped kernel; Hermiticity is not used).  The master sweep keeps
# B, log|det K| and its phase, bz_k = B^H v(z_k) and T; per column it costs one pass over B
# (rank-one update + the next products B v, B^H v), O(g k) for t and O(g^3) for the values.
# mode: 0 general; 1 v real (O complex symmetric: B^H v = conj(B v)); 2 Phi real (O Hermitian:
# B^H v = B v) -- one product per pass instead of two.  A step with |1 - 2 v^H B v| < tol_den is
# deferred as in the T = 0 grouped kernel (up to pmax pending vectors, values from small exact
# determinants, one rank-p Woodbury commit): on a clean ring at mu = 0 particle-hole symmetry
# makes K exactly singular at every other column, and a level with z w = -1 makes Phi singular
# (its entry starts as a pending vector, Phi = Phi' - 2 P P^H).  Every ``refresh`` steps, or when
# the deferral does not recover, K is rebuilt exactly from prefix sums; if cond_1(K) > cond_max
# the values are per-pair bordered determinants (exact, O(g k^3) per column) until K is regular.
# The group's own triangle uses the Gram matrix of [P, V] in the metric Phi'^{-1} (Schur
# complement of Phi').  Values are P * g with log|P| = lpref and phase ppref passed in (the
# product is O(1); det K alone may over- or underflow).


@njit(cache=True)
def general_prefix(v, stride):
    """P[k // stride] = sum_{z < k} v(z) v(z)^H for k = 0, stride, 2 stride, ... (<= M)."""
    m, n = v.shape
    q = np.zeros((m // stride + 1, n, n), dtype=v.dtype)
    acc = np.zeros((n, n), dtype=v.dtype)
    for z in range(m):
        if z % stride == 0:
            q[z // stride] = acc
        outer_acc(acc, v[z], 1.0)
    if m % stride == 0:
        q[m // stride] = acc
    return q


@njit(cache=True)
def _kmat(v, phi, q, stride, x0, y, kmat):
    """kmat = Phi - 2 sum_{x0 < z < y} v(z) v(z)^H from the checkpoints."""
    n = v.shape[1]
    c0 = (x0 + 1) // stride
    c1 = y // stride
    for i in range(n):
        for j in range(n):
            kmat[i, j] = -2.0 * (q[c1, i, j] - q[c0, i, j])
        kmat[i, i] += phi[i]
    for z in range(c1 * stride, y):
        outer_acc(kmat, v[z], -2.0)
    for z in range(c0 * stride, x0 + 1):
        outer_acc(kmat, v[z], 2.0)


@njit(cache=True)
def _bordered_log(o, vx, vy, lpref):
    """-det [[0, vx^H], [vy, O]] * exp(lpref), via slogdet."""
    k = vx.size
    big = np.zeros((k + 1, k + 1), dtype=o.dtype)
    for n in range(k):
        big[0, n + 1] = np.conj(vx[n])
        big[n + 1, 0] = vy[n]
        for mm in range(k):
            big[n + 1, mm + 1] = o[n, mm]
    sign, lab = np.linalg.slogdet(big)
    if sign == 0:
        return 0.0 * sign
    return -sign * np.exp(lab + lpref)


@njit(cache=True, fastmath=FMA)
def _gpass(b, p, qv, cc, w, pn, qn, mode):
    """B += cc p qv^H, then pn = B w and qn = B^H w (mode 0) in one pass over B; mode 1:
    qn = conj(pn) (B complex symmetric, w real); mode 2: qn = pn (B Hermitian)."""
    n = p.size
    if mode == 0:
        for j in range(n):
            qn[j] = 0.0
    for i in range(n):
        cpi = cc * p[i]
        row = b[i]
        acc = 0.0 * row[0]
        wi = w[i]
        for j in range(n):
            val = row[j] + cpi * np.conj(qv[j])
            row[j] = val
            acc += val * w[j]
        pn[i] = acc
        if mode == 0:
            for j in range(n):
                qn[j] += np.conj(row[j]) * wi
    if mode == 1:
        for j in range(n):
            qn[j] = np.conj(pn[j])
    elif mode == 2:
        for j in range(n):
            qn[j] = pn[j]


@njit(cache=True)
def _gproducts(b, w, pn, qn):
    """pn = B w, qn = B^H w (plain)."""
    n = w.size
    for i in range(n):
        acc = 0.0 * b[0, 0]
        for j in range(n):
            acc += b[i, j] * w[j]
        pn[i] = acc
    for j in range(n):
        acc = 0.0 * b[0, 0]
        for i in range(n):
            acc += np.conj(b[i, j]) * w[i]
        qn[j] = acc


@njit(cache=True)
def _split_phi(phi, phi_min, dt):
    """Phi = Phi' - 2 P P^H with Phi'_n = Phi_n + 1 where |Phi_n| < phi_min (else Phi_n) and
    P = [e_n / sqrt 2 for those n]: a well-conditioned diagonal base plus pending vectors, so
    an exactly singular Phi (a level at z w = -1) needs no rebuild.  Returns (Phi', P)."""
    k = phi.size
    nz = 0
    for n in range(k):
        if abs(phi[n]) < phi_min:
            nz += 1
    base = np.empty(k, dtype=dt)
    pz = np.zeros((nz, k), dtype=dt)
    j = 0
    for n in range(k):
        base[n] = phi[n]
        if abs(phi[n]) < phi_min:
            base[n] += 1.0
            pz[j, n] = np.sqrt(0.5)
            j += 1
    return base, pz


@njit(cache=True)
def general_head(v, phi, lpref, ppref, x0, zmin, out, row0, phi_min):
    """The group's own triangle out[x - row0, y], zmin <= x <= y <= x0.  With Phi = Phi' - 2 P P^H
    (:func:`_split_phi`), X = [P, V] over the group's rows and G = X^H Phi'^{-1} X, for
    S = P + {x+1..y-1} (Schur complement of Phi'):
        g(x, y) = det Phi' * det [[I - 2 G[S, S], G[S, y]], [-2 G[x, S], G[x, y]]]."""
    k = v.shape[1]
    gg = x0 - zmin + 1
    dt = out.dtype
    base, pz = _split_phi(phi, phi_min, dt)
    nz = pz.shape[0]
    ldet = lpref
    ph = ppref
    for n in range(k):
        ldet += np.log(abs(base[n]))
        ph *= base[n] / abs(base[n])
    scale = ph * np.exp(ldet)
    nx = nz + gg
    xm = np.zeros((nx, k), dtype=dt)
    for i in range(nz):
        xm[i] = pz[i]
    for i in range(gg):
        for n in range(k):
            xm[nz + i, n] = v[zmin + i, n]
    gm = np.empty((nx, nx), dtype=dt)
    for i in range(nx):
        for j in range(nx):
            acc = 0.0 * base[0]
            for n in range(k):
                acc += np.conj(xm[i, n]) * xm[j, n] / base[n]
            gm[i, j] = acc
    idx = np.empty(nx, dtype=np.int64)
    mat = np.empty((nx + 1, nx + 1), dtype=dt)
    for i in range(gg):
        for j in range(i, gg):
            q = 0
            for a in range(nz):
                idx[q] = a
                q += 1
            for a in range(i + 1, j):
                idx[q] = nz + a
                q += 1
            xi = nz + i
            yj = nz + j
            for a in range(q):
                for c in range(q):
                    mat[a, c] = -2.0 * gm[idx[a], idx[c]]
                mat[a, a] += 1.0
                mat[a, q] = gm[idx[a], yj]
                mat[q, a] = -2.0 * gm[xi, idx[a]]
            mat[q, q] = gm[xi, yj]
            out[zmin + i - row0, zmin + j] = scale * det_lu(mat, q + 1)


@njit(cache=True)
def _pend_add(b, vec, pv, bp, rp, pp, npend):
    """Append ``vec`` to the pending vectors: rp = B vec, bp = B^H vec, pp_ij = pv_i^H B pv_j."""
    pv[npend] = vec
    _gproducts(b, pv[npend], rp[npend], bp[npend])
    for i in range(npend + 1):
        pp[i, npend] = cdot(bp[i], pv[npend])
        pp[npend, i] = cdot(pv[npend], rp[i])
    return npend + 1


@njit(cache=True)
def _pend_values(pv, bp, pp, bz, tm, uz, vy, npend, gg, pref, out, orow, y, af, tf, mat):
    """Column y while npend deferred vectors P are pending (base inverse B): with X = [P, Z],
    A = I - 2 X^H B X, t = X^H B v(y), out[orow - r, y] = pref * det [[A[:q, :q], t[:q]],
    [A[q, :q], t[q]]], q = npend + r (small exact determinants, LU with partial pivoting)."""
    for i in range(npend):
        tf[i] = cdot(bp[i], vy)
        for j in range(npend):
            af[i, j] = -2.0 * pp[i, j]
        af[i, i] += 1.0
        for kk in range(gg):
            af[i, npend + kk] = -2.0 * cdot(bp[i], uz[kk])
            af[npend + kk, i] = -2.0 * cdot(bz[kk], pv[i])
    for kk in range(gg):
        tf[npend + kk] = cdot(bz[kk], vy)
        for l in range(gg):
            af[npend + kk, npend + l] = -2.0 * tm[kk, l]
        af[npend + kk, npend + kk] += 1.0
    bordered_minors(af, tf, npend, gg, pref, out, orow, y, mat)


@njit(cache=True)
def _pend_commit(b, bp, rp, pp, npend, bz, tm, uz, gg, tol_den):
    """Commit the pending vectors if C = I - 2 P^H B P has ||C^{-1}||_1 <= 1 / tol_den:
    B += R (2 C^{-1}) L^H (R = B P, L = B^H P; Woodbury), bz and T alike.  Returns
    (ok, log|det C|, phase of det C)."""
    dt = b.dtype
    c = np.zeros((npend, npend), dtype=dt)
    for i in range(npend):
        for j in range(npend):
            c[i, j] = -2.0 * pp[i, j]
        c[i, i] += 1.0
    sign, lab = np.linalg.slogdet(c)
    if sign == 0 or not np.isfinite(lab):
        return False, 0.0, sign
    ci = np.linalg.inv(c)
    if _norm1(ci) * tol_den > 1.0:
        return False, 0.0, sign
    k = b.shape[0]
    mm = 2.0 * ci
    wl = np.zeros((npend, k), dtype=dt)       # W = M L^H
    for a in range(npend):
        for bb in range(npend):
            f = mm[a, bb]
            for j in range(k):
                wl[a, j] += f * np.conj(bp[bb, j])
    for i in range(k):
        for a in range(npend):
            f = rp[a, i]
            for j in range(k):
                b[i, j] += f * wl[a, j]
    e = np.zeros((gg, npend), dtype=dt)       # e_ka = z_k^H R_a
    f2 = np.zeros((npend, gg), dtype=dt)      # f_bl = L_b^H z_l
    for kk in range(gg):
        for a in range(npend):
            e[kk, a] = cdot(uz[kk], rp[a])
            f2[a, kk] = cdot(bp[a], uz[kk])
    for kk in range(gg):
        # bz_k += L M^H R^H z_k
        for bb in range(npend):
            acc = 0.0 * e[0, 0]
            for a in range(npend):
                acc += np.conj(mm[a, bb]) * np.conj(e[kk, a])
            for j in range(k):
                bz[kk, j] += bp[bb, j] * acc
    for kk in range(gg):
        for l in range(gg):
            acc = 0.0 * e[0, 0]
            for a in range(npend):
                for bb in range(npend):
                    acc += e[kk, a] * mm[a, bb] * f2[bb, l]
            tm[kk, l] += acc
    return True, lab, sign


@njit(cache=True)
def general_sweep(v, phi, lpref, ppref, q, stride, x0, g, out, row0, tol_den, tol_piv,
                  cond_max, phi_min, refresh, mode, pmax=4):
    """out[x0 - r - row0, y] = P g(x0 - r, y) for r = 0..g, x0 < y < M (master sweep of one
    group).  A step whose ratio |1 - 2 v^H B v| is below tol_den is deferred (as in the T = 0
    grouped kernel): the base inverse is kept, up to ``pmax`` pending vectors are carried (column
    values from small exact determinants) and committed as one rank-p Woodbury update once
    their capacitance matrix is well conditioned; tiny entries of Phi start as pending vectors
    (:func:`_split_phi`).  Returns (exact rebuilds, columns by bordered determinants, pivot
    fallbacks + deferred steps)."""
    m, k = v.shape
    if x0 >= m - 1:
        return 0, 0, 0
    dt = out.dtype
    gg = g + 1
    pm = max(pmax, 1)
    uz = np.empty((gg, k), dtype=v.dtype)
    for r in range(gg):
        uz[r] = v[x0 - r]
    b = np.zeros((k, k), dtype=dt)
    kmat = np.zeros((k, k), dtype=dt)
    bz = np.zeros((gg, k), dtype=dt)
    tm = np.zeros((gg, gg), dtype=dt)
    p = np.zeros(k, dtype=dt)
    qv = np.zeros(k, dtype=dt)
    pn = np.zeros(k, dtype=dt)
    qn = np.zeros(k, dtype=dt)
    tv = np.zeros(gg, dtype=dt)
    sl = np.zeros(gg, dtype=dt)
    aw = np.zeros((gg, gg), dtype=dt)
    zv = np.zeros(gg, dtype=dt)
    nx = pm + gg
    mat = np.zeros((nx + 1, nx + 1), dtype=dt)
    af = np.zeros((nx, nx), dtype=dt)
    tf = np.zeros(nx, dtype=dt)
    otr = np.zeros((k, k), dtype=dt)
    pv = np.zeros((pm, k), dtype=dt)
    bp = np.zeros((pm, k), dtype=dt)
    rp = np.zeros((pm, k), dtype=dt)
    pp = np.zeros((pm, pm), dtype=dt)
    npend = 0
    rebuilds = 0
    n_bord = 0
    fallbacks = 0
    logdet = 0.0
    ph = 1.0 + 0.0 * ppref
    y = x0 + 1
    base, pz = _split_phi(phi, phi_min, dt)
    if pz.shape[0] <= pmax:
        regular = True
        for n in range(k):
            b[n, n] = 1.0 / base[n]
            logdet += np.log(abs(base[n]))
            ph *= base[n] / abs(base[n])
    else:
        rebuilds += 1
        _kmat(v, phi, q, stride, x0, y, kmat)
        regular, logdet, ph = _rebuild(kmat, b, cond_max)
    if regular and pz.shape[0] <= pmax:
        # B = diag(1 / Phi'): the products are O(k) each
        for r in range(gg):
            for n in range(k):
                bz[r, n] = np.conj(b[n, n]) * uz[r, n]
        for r in range(gg):
            for l in range(gg):
                tm[r, l] = cdot(bz[r], uz[l])
        for i in range(pz.shape[0]):
            npend = _pend_add(b, pz[i], pv, bp, rp, pp, npend)
        for n in range(k):
            p[n] = b[n, n] * v[y, n]
            qv[n] = np.conj(b[n, n]) * v[y, n]
    elif regular:
        for r in range(gg):
            _gproducts(b, uz[r], pn, bz[r])
        for r in range(gg):
            for l in range(gg):
                tm[r, l] = cdot(bz[r], uz[l])
        _gproducts(b, v[y], p, qv)
    since = 0
    orow = x0 - row0
    while True:
        vy = v[y]
        if regular and npend > 0:
            _pend_values(pv, bp, pp, bz, tm, uz, vy, npend, gg,
                         ppref * ph * np.exp(lpref + logdet), out, orow, y, af, tf, mat)
        elif regular:
            for r in range(gg):
                tv[r] = cdot(bz[r], vy)
            fallbacks += group_values(tm, tv, gg, ppref * ph * np.exp(lpref + logdet), out, orow,
                                      y, aw, zv, mat, tol_piv)
        else:
            n_bord += 1
            otr[:, :] = kmat
            for r in range(gg):
                if r > 0:
                    outer_acc(otr, uz[r - 1], -2.0)
                out[orow - r, y] = ppref * _bordered_log(otr, uz[r], vy, lpref)
        if y == m - 1:
            break
        # advance the master: K(y + 1) = K(y) - 2 v(y) v(y)^H
        explicit = (not regular) or since >= refresh
        if not explicit and npend == 0:
            den = 1.0 - 2.0 * cdot(vy, p)
            if mode == 2:
                # O Hermitian: den is real; dropping its rounding-level imaginary part keeps the
                # update Hermitian (else the assumption B^H v = B v feeds back and grows)
                den = den.real + 0.0 * den
            if abs(den) >= tol_den:
                cc = 2.0 / den
                for l in range(gg):
                    sl[l] = cdot(qv, uz[l])
                for r in range(gg):
                    f = np.conj(cc * tv[r])
                    for n in range(k):
                        bz[r, n] += f * qv[n]
                for r in range(gg):
                    for l in range(gg):
                        tm[r, l] += cc * tv[r] * sl[l]
                logdet += np.log(abs(den))
                ph *= den / abs(den)
                _gpass(b, p, qv, cc, v[y + 1], pn, qn, mode)
                p[:] = pn
                qv[:] = qn
                since += 1
            elif pmax > 0:
                fallbacks += 1
                npend = _pend_add(b, vy, pv, bp, rp, pp, npend)
                _gproducts(b, v[y + 1], p, qv)
            else:
                explicit = True
        elif not explicit and npend >= pmax:
            explicit = True
        elif not explicit:
            fallbacks += 1
            npend = _pend_add(b, vy, pv, bp, rp, pp, npend)
            ok, lab, sg = _pend_commit(b, bp, rp, pp, npend, bz, tm, uz, gg, tol_den)
            if ok:
                npend = 0
                logdet += lab
                ph *= sg
                since += 1
            _gproducts(b, v[y + 1], p, qv)
        y += 1
        if explicit:
            rebuilds += 1
            since = 0
            npend = 0
            if regular:
                _kmat(v, phi, q, stride, x0, y, kmat)
            else:
                outer_acc(kmat, vy, -2.0)
            regular, logdet, ph = _rebuild(kmat, b, cond_max)
            if regular:
                for r in range(gg):
                    _gproducts(b, uz[r], pn, bz[r])
                for r in range(gg):
                    for l in range(gg):
                        tm[r, l] = cdot(bz[r], uz[l])
                _gproducts(b, v[y], p, qv)
    return rebuilds, n_bord, fallbacks


@njit(cache=True)
def general_rows(v, phi, lpref, ppref, q, stride, out, row0, xa, xb, g, tol_den, tol_piv,
                 cond_max, phi_min, refresh, mode, pmax=4):
    """Upper-triangle rows out[x - row0, y] = P g(x, y), y >= x, for xa <= x < xb: groups of
    g + 1 consecutive rows share one master sweep (:func:`general_sweep`) after their own
    triangle (:func:`general_head`).  ``pmax`` = 0 disables the deferral (every small ratio
    rebuilds; tests).  Returns (rebuilds, bordered columns, pivot fallbacks + deferred steps)."""
    r1 = 0
    r2 = 0
    r3 = 0
    x0 = xb - 1
    while x0 >= xa:
        zmin = max(xa, x0 - g)
        general_head(v, phi, lpref, ppref, x0, zmin, out, row0, phi_min)
        a1, a2, a3 = general_sweep(v, phi, lpref, ppref, q, stride, x0, x0 - zmin, out, row0,
                                   tol_den, tol_piv, cond_max, phi_min, refresh, mode, pmax)
        r1 += a1
        r2 += a2
        r3 += a3
        x0 = zmin - 1
    return r1, r2, r3


def general_form(u, a, c, shift):
    """(v, phi, lpref, ppref) of the exact rewriting T(x, y) e^{-shift} = P g(x, y) above.

    Orbitals with c_n = 0 decouple (row n of R is a_n e_n): they are removed and a_n enters P.
    v keeps the dtype of u (real orbitals stay real); phi is real when a / c is."""
    u = np.asarray(u)
    a = np.asarray(a)
    c = np.asarray(c)
    keep = c != 0
    lpref = -float(shift)
    ppref = 1.0 + 0.0j
    for an in a[~keep]:
        if an == 0:
            return None
        lpref += float(np.log(abs(an)))
        ppref *= an / abs(an)
    a, c, u = a[keep], c[keep], u[:, keep]
    ac, cc = np.abs(a), np.abs(c)
    top = np.maximum(ac, cc)
    s = np.sqrt(cc / top)
    v = np.ascontiguousarray(u * s[None, :])
    phi = (a / c) * (cc / top)
    if np.isrealobj(phi) or np.all(np.imag(phi) == 0):
        phi = np.ascontiguousarray(np.real(phi), dtype=np.float64)
    else:
        phi = np.ascontiguousarray(phi, dtype=np.complex128)
    lpref += float(np.sum(np.log(top)))
    ppref *= complex(np.prod(c / cc))
    return v, phi, lpref, ppref


def general_values_reference(v, phi, lpref, ppref, pairs=None):
    """Plain NumPy twin of :func:`general_rows`: P * (-det [[0, v(x)^H], [v(y), O(x, y)]]) per
    pair (x <= y), O from prefix sums.  ``pairs=None``: the full upper triangle (small rings);
    returns an (M, M) array with zeros below the diagonal."""
    v = np.asarray(v)
    m, k = v.shape
    dt = np.result_type(v.dtype, np.asarray(phi).dtype, np.asarray(ppref).dtype)
    outer = v[:, :, None] * v.conj()[:, None, :]
    q = np.concatenate([np.zeros((1, k, k), dtype=dt), np.cumsum(outer, axis=0)])

    def one(x, y):
        o = np.diag(np.asarray(phi, dtype=dt))
        if y > x + 1:
            o = o - 2.0 * (q[y] - q[x + 1])
        big = np.zeros((k + 1, k + 1), dtype=dt)
        big[0, 1:] = v[x].conj()
        big[1:, 0] = v[y]
        big[1:, 1:] = o
        sign, lab = np.linalg.slogdet(big)
        return -ppref * sign * np.exp(lab + lpref)

    if pairs is not None:
        return np.array([one(int(x), int(y)) for x, y in pairs], dtype=dt)
    out = np.zeros((m, m), dtype=dt)
    for x in range(m):
        for y in range(x, m):
            out[x, y] = one(x, y)
    return out
