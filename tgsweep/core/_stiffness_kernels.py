"""numba kernels for the superfluid stiffness: the discriminant and its band slopes in log scale.

Notation (plain arrays and scalars, as in :mod:`tgsweep.core._spectrum_kernels`)::

    diag (M,) float64   diagonal of H;  t  hopping (H[i, i+1] = -t);  twist on the bond (M-1, 0)

The one-period transfer matrix T(E) = T_{M-1} ... T_0, T_i = [[(d_i - E)/t, -1], [1, 0]],
has det T = 1 and discriminant Delta(E) = tr T(E).  E is an eigenvalue of H_phi iff
Delta(E) = 2 cos phi, and for phi0 in {0, pi}

    Delta(E) - 2 cos phi0 = t^{-M} prod_l (E_l(phi0) - E)                          (1)

(both sides are degree-M polynomials with the same roots and leading coefficient).  Hence

    Delta'(E_j) = -t^{-M} prod_{l != j} (E_l - E_j) = -t^{-M} det(H^(k) - E_j) / |psi_j(k)|^2   (2)

for any site k, where H^(k) is H with row and column k deleted (an open chain of M-1 sites,
independent of the twist) and psi_j the normalized eigenvector: the adjugate of H - E_j is
prod_{l != j}(E_l - E_j) |psi_j><psi_j|, and its (k, k) entry is det(H^(k) - E_j).  With k at the
maximum of |psi_j|, (2) is a product of O(M) well-conditioned Sturm pivots, summed as
logarithms: it stays accurate when |Delta'| ~ e^{gamma L} overflows any float, i.e. when the
band width 4/|Delta'| lies far below the roundoff of E_j.

Contour form (:func:`log_char_poly_line`).  With f_phi(E) = Delta(E) - 2 cos phi and a vertical
line Re E = E* in the gap between bands N-1 and N, the sum of the N lowest levels is the
argument-principle integral of E d ln f_phi; integrating by parts (f_phi/f_phi0 has no winding)
and closing the contour on the left (f ~ E^M)

    sum_{j<N} [E_j(phi) - E_j(phi0)] = -(1/pi) int_0^inf ln|1 - kappa / f_phi0(E* + i y)| dy   (3)

with kappa = 2 (cos phi - cos phi0).  On the line |f_phi0| >= |f_phi0(E*)| ~ e^{gamma L}, so the
integrand has the size of the result: no cancellation between bands.  Only f_phi0 on the line
is needed, O(M) per node.

The plain-NumPy twins (``*_reference``) are used in the tests.
"""

from __future__ import annotations

import numpy as np
from .jit import njit  # numba.njit with explicit fastmath/error_model (see jit.py)

from ._spectrum_kernels import _arrow_solve

_TINY = 1e-290


@njit(cache=True)
def band_centers(diag, t, corner, evals, seed):
    """Site k_j of max |psi_j| and |psi_j(k_j)|^2 (psi_j normalized) for real twist phi0.

    Independent inverse iteration per level (3 solves with the arrow factorization
    :func:`tgsweep.core._spectrum_kernels._arrow_solve`, no re-orthogonalization): O(M) per level.  Only the
    peak of each eigenvector is needed, to ~1e-10 relative, so clusters need no Gram-Schmidt
    unless two levels are closer than ~1e-6 of their spacing to the rest (resonances).
    """
    m = diag.size
    n = evals.size
    pivmin = 1e-300 + 4.930380657631324e-32 * max(t * t, 1.0)
    ws = (np.empty(m, dtype=np.int8), np.empty(m), np.empty(m), np.empty(m), np.zeros(m),
          np.zeros(m))
    x = np.zeros(m)
    b = np.empty(m)
    centers = np.empty(n, dtype=np.int64)
    amp2 = np.empty(n)
    np.random.seed(seed)
    for j in range(n):
        for i in range(m):
            b[i] = np.random.uniform(-1.0, 1.0)
        for it in range(3):
            _arrow_solve(diag, t, corner, evals[j], b, pivmin, ws, x)
            nrm = np.sqrt(np.sum(x * x))
            for i in range(m):
                b[i] = x[i] / nrm
        k = 0
        amax = 0.0
        for i in range(m):
            a = abs(b[i])
            if a > amax:
                amax = a
                k = i
        centers[j] = k
        amp2[j] = amax * amax
    return centers, amp2


@njit(cache=True)
def chain_logdet(diag, t, start, n, e):
    """log|det(C - e)| and its sign for the open chain C of ``n`` consecutive ring sites.

    The chain runs over sites start, start+1, ..., start+n-1 (indices mod M) with diagonal
    ``diag`` and hopping -t.  Sturm (LDL^T) pivots p_i = (d_i - e) - t^2 / p_{i-1}; an exactly
    zero pivot is replaced by a tiny number (the determinant then is ~0, its log very negative).

    Returns
    -------
    (logabs, sign) : float, float (sign is +1.0 or -1.0).
    """
    m = diag.size
    t2 = t * t
    logabs = 0.0
    sign = 1.0
    p = 1.0
    for i in range(n):
        s = start + i
        if s >= m:
            s -= m
        if i == 0:
            p = diag[s] - e
        else:
            p = diag[s] - e - t2 / p
        if p == 0.0:
            p = _TINY
        if p < 0.0:
            sign = -sign
            logabs += np.log(-p)
        else:
            logabs += np.log(p)
    return logabs, sign


@njit(cache=True)
def band_log_slopes(diag, t, evals, centers, amp2):
    """log|Delta'(E_j)| and sign(Delta'(E_j)) for untwisted eigenvalues E_j, by formula (2).

    Parameters
    ----------
    diag, t : the ring (see module docstring).
    evals : (n,) eigenvalues E_j of H_phi0, phi0 in {0, pi}.
    centers : (n,) int64, the site k used for each j (best: argmax |psi_j|).
    amp2 : (n,) |psi_j(k)|^2 with psi_j normalized in the plain inner product.

    Returns
    -------
    log_abs : (n,) natural log of |Delta'(E_j)| (units: 1 / energy).
    sign : (n,) +1.0 or -1.0.
    """
    m = diag.size
    n = evals.size
    log_abs = np.empty(n)
    sign = np.empty(n)
    lt = np.log(t)
    for j in range(n):
        k = centers[j]
        start = k + 1
        if start >= m:
            start -= m
        la, sg = chain_logdet(diag, t, start, m - 1, evals[j])
        log_abs[j] = la - np.log(amp2[j]) - m * lt
        sign[j] = -sg
    return log_abs, sign


@njit(cache=True)
def band_shift_newton(evals_all, j, log_lin, sgn, max_iter):
    """Solve t^{-M} prod_l (E_l - E_j - d) = kappa for the shift d of band j (exact form of (1)).

    Written as  d * prod_{l != j} (1 - d / (E_l - E_j)) = d_lin,  d_lin = kappa / Delta'(E_j)
    = sgn * exp(log_lin), and solved by Newton in u = log|d| with sign(d) = sgn.  Valid while
    |d| sum_l 1/|E_l - E_j| < 1 (the root then is the one continued from d_lin).

    Returns
    -------
    log|d| (float).  The caller checks convergence through ``band_shift_residual``.
    """
    m = evals_all.size
    ej = evals_all[j]
    u = log_lin
    for it in range(max_iter):
        d = sgn * np.exp(u)
        f = u - log_lin
        fp = 1.0
        for l in range(m):
            if l == j:
                continue
            g = evals_all[l] - ej
            x = d / g
            f += np.log1p(-x)
            fp -= x / (1.0 - x)
        step = f / fp
        u -= step
        if abs(step) < 1e-15:
            break
    return u


@njit(cache=True)
def log_discriminant(diag, t, e):
    """Delta(E) = tr T(E) in log-scaled arithmetic: returns (sign, log|Delta|).

    The 2 x 2 product is renormalized after every step and the logarithm of the scale is
    accumulated, so |Delta| up to e^{700 M} is representable.  Accurate (relative) where Delta
    is not a cancellation of much larger entries of T, i.e. away from the bands.
    """
    m = diag.size
    a = 1.0
    b = 0.0
    c = 0.0
    d = 1.0
    logs = 0.0
    for i in range(m):
        x = (diag[i] - e) / t
        # [[x, -1], [1, 0]] @ [[a, b], [c, d]]
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
        return 0.0, -np.inf
    return (1.0 if tr > 0 else -1.0), logs + np.log(abs(tr))


@njit(cache=True)
def log_char_poly_line(diag, t, c0, e_re, ys):
    """f0(E) = Delta(E) - 2 c0 = t^{-M} det(H_phi0 - E) on the line E = e_re + i y, in log scale.

    For each y in ``ys`` the complex transfer-matrix product T(E) = T_{M-1} ... T_0 is formed
    with a running rescaling (log of the scale accumulated), so |Delta| up to e^{700 M} is
    representable.  c0 = cos(phi0) = +1 or -1 (eq. (1) of the module docstring).

    Returns
    -------
    log_f : (K,) complex128, the complex logarithm log f0(E) (real part ln|f0|, imaginary part
        arg f0 in (-pi, pi]).
    log_norm : (K,) float64, ln of the largest entry modulus of T(E).  The computed f0 carries a
        relative error ~ eps M exp(log_norm - Re log_f) (the trace of a product whose entries are
        larger than the trace).
    """
    m = diag.size
    k = ys.size
    log_f = np.empty(k, dtype=np.complex128)
    log_norm = np.empty(k)
    dmax = 0.0
    for i in range(m):
        dmax = max(dmax, abs(diag[i] - e_re))
    for q in range(k):
        e = complex(e_re, ys[q])
        # entries grow by at most g = |x|max + 1 per step: test the scale every nchk steps so
        # that g^nchk stays below 1e90 (no overflow between two tests)
        g = (dmax + abs(ys[q])) / t + 2.0
        nchk = max(1, min(16, int(90.0 / np.log10(g))))
        a = 1.0 + 0.0j
        b = 0.0j
        c = 0.0j
        d = 1.0 + 0.0j
        logs = 0.0
        for i in range(m):
            x = (diag[i] - e) / t
            a, b, c, d = x * a - c, x * b - d, a, b
            if (i + 1) % nchk != 0 and i != m - 1:
                continue
            s = max(max(abs(a.real), abs(a.imag)), max(abs(c.real), abs(c.imag)))
            s = max(s, max(max(abs(b.real), abs(b.imag)), max(abs(d.real), abs(d.imag))))
            if s > 1e100 or s < 1e-100:
                a /= s
                b /= s
                c /= s
                d /= s
                logs += np.log(s)
        tr = a + d
        s = max(max(abs(a), abs(b)), max(abs(c), abs(d)))
        log_norm[q] = logs + np.log(s)
        if tr == 0.0:
            log_f[q] = complex(-np.inf, 0.0)
            continue
        ld = np.log(tr) + logs  # complex log of Delta
        if ld.real > 45.0:  # |2 c0 / Delta| < 1e-19: below roundoff
            log_f[q] = ld
        else:
            log_f[q] = np.log(np.exp(ld) - 2.0 * c0)
    return log_f, log_norm


@njit(cache=True)
def log_scaled_char_poly_line(diag, t, c0, e_re, ys, rhos):
    """g = ln|t^M f0(E) / rho^M| on the line E = e_re + i y, per node (y, rho) = (ys[q], rhos[q]).

    With U_i = [[(d_i - E)/rho, -t/rho], [t/rho, 0]] the transfer matrix is
    T_i = (rho/t) U_i, so t^M f0(E) = rho^M (tr(U_{M-1} ... U_0) - 2 c0 (t/rho)^M): the product
    of the U_i is formed (running rescaling as in :func:`log_char_poly_line`), and g comes out
    directly, without the cancellation of ln|t^M f0| against M ln rho (both ~ M ln y at large
    y, while their difference -> 0).  rho = t reproduces :func:`log_char_poly_line` plus
    M ln t.

    Returns
    -------
    log_g : (K,) complex128, log(tr(prod U) - 2 c0 (t/rho)^M) (real part g, imaginary part
        arg f0).
    log_norm : (K,) float64, ln of the largest entry modulus of prod U (the computed trace
        carries a relative error ~ eps M exp(log_norm - Re log_g)).
    abs_logs : (K,) float64, sum of |ln s| over the rescalings s plus |ln tr| (the rounding of
        the accumulated logarithm is <= (number of terms) eps abs_logs).
    n_terms : (K,) float64, number of terms in that sum.
    """
    m = diag.size
    k = ys.size
    log_g = np.empty(k, dtype=np.complex128)
    log_norm = np.empty(k)
    abs_logs = np.empty(k)
    n_terms = np.empty(k)
    dmax = 0.0
    for i in range(m):
        dmax = max(dmax, abs(diag[i] - e_re))
    for q in range(k):
        e = complex(e_re, ys[q])
        rho = rhos[q]
        tau = t / rho
        grow = (dmax + abs(ys[q])) / rho + 2.0 * tau + 1.0  # > 1: bound on the growth per step
        nchk = max(1, min(16, int(90.0 / np.log10(grow))))
        a = 1.0 + 0.0j
        b = 0.0j
        c = 0.0j
        d = 1.0 + 0.0j
        logs = 0.0
        labs = 0.0
        nt = 1.0
        for i in range(m):
            x = (diag[i] - e) / rho
            a, b, c, d = x * a - tau * c, x * b - tau * d, tau * a, tau * b
            if (i + 1) % nchk != 0 and i != m - 1:
                continue
            s = max(max(abs(a.real), abs(a.imag)), max(abs(c.real), abs(c.imag)))
            s = max(s, max(max(abs(b.real), abs(b.imag)), max(abs(d.real), abs(d.imag))))
            if s > 1e100 or s < 1e-100:
                a /= s
                b /= s
                c /= s
                d /= s
                ls = np.log(s)
                logs += ls
                labs += abs(ls)
                nt += 1.0
        tr = a + d
        s = max(max(abs(a), abs(b)), max(abs(c), abs(d)))
        log_norm[q] = logs + np.log(s)
        if tr == 0.0:
            log_g[q] = complex(-np.inf, 0.0)
            abs_logs[q] = np.inf
            n_terms[q] = nt
            continue
        ltr = np.log(tr)
        ld = ltr + logs  # complex log of tr(prod U)
        lt = m * np.log(tau)  # ln (t/rho)^M
        if ld.real - lt > 45.0:  # |2 c0 (t/rho)^M / tr| < 1e-19: below roundoff
            log_g[q] = ld
        else:
            log_g[q] = lt + np.log(np.exp(ld - lt) - 2.0 * c0)
        abs_logs[q] = labs + abs(ltr.real)
        n_terms[q] = nt
    return log_g, log_norm, abs_logs, n_terms


# ---------------------------------------------------------------------------- NumPy twins
def chain_logdet_reference(diag, t, start, n, e):
    """Plain NumPy twin of :func:`chain_logdet`: ``numpy.linalg.slogdet`` of the dense chain."""
    m = diag.size
    idx = (start + np.arange(n)) % m
    a = np.diag(diag[idx] - e) - t * (np.eye(n, k=1) + np.eye(n, k=-1))
    sign, logabs = np.linalg.slogdet(a)
    return float(logabs), float(sign)


def band_log_slopes_reference(diag, t, evals, centers, amp2):
    """Plain NumPy twin of :func:`band_log_slopes` (dense slogdet of each cut chain)."""
    m = diag.size
    out = np.empty(len(evals))
    sg = np.empty(len(evals))
    for j, (e, k, a2) in enumerate(zip(evals, centers, amp2)):
        la, s = chain_logdet_reference(diag, t, (int(k) + 1) % m, m - 1, e)
        out[j] = la - np.log(a2) - m * np.log(t)
        sg[j] = -s
    return out, sg


def band_shift_reference(evals_all, j, log_lin, sgn):
    """Plain NumPy/SciPy twin of :func:`band_shift_newton` (bracketing root finder in log|d|)."""
    from scipy.optimize import brentq

    g = np.delete(evals_all - evals_all[j], j)

    def f(u):
        d = sgn * np.exp(u)
        return u - log_lin + np.sum(np.log1p(-d / g))

    # the root continued from d_lin lies where |d| sum 1/|g| < 1: bracket inside that range
    u_max = min(log_lin + 5.0, -np.log(np.sum(1.0 / np.abs(g))))
    return brentq(f, log_lin - 5.0, u_max, xtol=1e-14, rtol=1e-15)


def log_discriminant_reference(diag, t, e):
    """Plain NumPy twin of :func:`log_discriminant` (frexp-scaled products, one step at a time)."""
    mat = np.eye(2)
    logs = 0.0
    for di in diag:
        mat = np.array([[(di - e) / t, -1.0], [1.0, 0.0]]) @ mat
        s = np.max(np.abs(mat))
        mat = mat / s
        logs += np.log(s)
    tr = np.trace(mat)
    return float(np.sign(tr)), float(logs + np.log(abs(tr)))


def log_char_poly_line_reference(diag, t, c0, e_re, ys):
    """Plain NumPy twin of :func:`log_char_poly_line`: explicit complex 2 x 2 products,
    rescaled after each step."""
    log_f = np.empty(len(ys), dtype=complex)
    log_norm = np.empty(len(ys))
    for q, y in enumerate(ys):
        e = complex(e_re, y)
        mat = np.eye(2, dtype=complex)
        logs = 0.0
        for di in diag:
            mat = np.array([[(di - e) / t, -1.0], [1.0, 0.0]]) @ mat
            s = np.max(np.abs(mat))
            mat = mat / s
            logs += np.log(s)
        log_norm[q] = logs + np.log(np.max(np.abs(mat)))
        ld = np.log(np.trace(mat)) + logs
        log_f[q] = ld if ld.real > 45.0 else np.log(np.exp(ld) - 2.0 * c0)
    return log_f, log_norm


def log_scaled_char_poly_line_reference(diag, t, c0, e_re, ys, rhos):
    """Plain NumPy twin of :func:`log_scaled_char_poly_line`: explicit complex 2 x 2 products
    of U_i = [[(d_i - E)/rho, -t/rho], [t/rho, 0]], rescaled after each step (returns log_g and
    log_norm)."""
    m = len(diag)
    log_g = np.empty(len(ys), dtype=complex)
    log_norm = np.empty(len(ys))
    for q, (y, rho) in enumerate(zip(ys, rhos)):
        e = complex(e_re, y)
        tau = t / rho
        mat = np.eye(2, dtype=complex)
        logs = 0.0
        for di in diag:
            mat = np.array([[(di - e) / rho, -tau], [tau, 0.0]]) @ mat
            s = np.max(np.abs(mat))
            mat = mat / s
            logs += np.log(s)
        log_norm[q] = logs + np.log(np.max(np.abs(mat)))
        ld = np.log(np.trace(mat)) + logs
        lt = m * np.log(tau)
        log_g[q] = ld if ld.real - lt > 45.0 else lt + np.log(np.exp(ld - lt) - 2.0 * c0)
    return log_g, log_norm


@njit(cache=True)
def even_moments(diag, t, corner, e, kmax):
    """S_2k = tr((H - e)^{2k}) = ||(H - e)^k||_F^2 for k = 1..kmax, for the real symmetric ring
    matrix (diagonal ``diag``, hopping -t, corner entries H[0, M-1] = H[M-1, 0] = ``corner``).

    P = (H - e)^k is kept as a periodic band P[i, w + d] = P_{i, i+d mod M}, |d| <= w = kmax,
    which needs M > 2 kmax + 1 (no wrap-around overlap); O(M kmax^2).
    """
    m = diag.size
    w = kmax
    nb = 2 * w + 1
    # X[j, j + s], s = -1, 0, 1, on a periodically padded index range j = -w-1 .. m+w
    pad = w + 1
    xl = np.empty(m + 2 * pad)
    xd = np.empty(m + 2 * pad)
    xr = np.empty(m + 2 * pad)
    for jj in range(m + 2 * pad):
        j = (jj - pad) % m
        xl[jj] = corner if j == 0 else -t
        xd[jj] = diag[j] - e
        xr[jj] = corner if j == m - 1 else -t
    p = np.zeros((m, nb))
    q = np.zeros((m, nb))
    for i in range(m):
        p[i, w] = 1.0
    out = np.empty(kmax)
    for k in range(kmax):
        # q = p X: q[i, dd] = sum_s p[i, dd - s] X[i + dd - s, s], |dd - s| <= k
        tot = 0.0
        for i in range(m):
            pi_ = p[i]
            qi = q[i]
            for dd in range(-(k + 1), k + 2):
                acc = 0.0
                if -k <= dd + 1 <= k:  # s = -1
                    acc += pi_[w + dd + 1] * xl[pad + i + dd + 1]
                if -k <= dd <= k:  # s = 0
                    acc += pi_[w + dd] * xd[pad + i + dd]
                if -k <= dd - 1 <= k:  # s = 1
                    acc += pi_[w + dd - 1] * xr[pad + i + dd - 1]
                qi[w + dd] = acc
                tot += acc * acc
        out[k] = tot
        p, q = q, p
    return out


def even_moments_reference(diag, t, corner, e, kmax):
    """Plain NumPy twin of :func:`even_moments`: Frobenius norms of dense matrix powers."""
    m = diag.size
    x = np.diag(diag - e) - t * (np.eye(m, k=1) + np.eye(m, k=-1))
    x[0, m - 1] += corner
    x[m - 1, 0] += corner
    out = np.empty(kmax)
    p = np.eye(m)
    for k in range(kmax):
        p = p @ x
        out[k] = float(np.sum(p * p))
    return out
