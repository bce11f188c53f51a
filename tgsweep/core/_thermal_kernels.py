"""numba kernel for the string traces of the thermal OBDM of hard-core bosons (lattice units).

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
from numba import njit


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
    """B = R^{-1} if R is well conditioned; returns (ok, log|det R|, phase of det R)."""
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


@njit(cache=True, fastmath=True)
def _rank1(r, p, q):
    """R += p q^T."""
    k = p.size
    for n in range(k):
        pn = p[n]
        for mm in range(k):
            r[n, mm] += pn * q[mm]


@njit(cache=True, fastmath=True)
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


@njit(cache=True, fastmath=True)
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
