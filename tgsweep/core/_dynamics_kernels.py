"""Numba kernels for free-fermion (= Tonks-Girardeau) time evolution, with plain-NumPy twins.

All kernels work on plain arrays in the eigenbasis of the one-particle operator H:

* ``vecs`` (M, K): K eigenvectors of H (columns, lattice-normalized, sum_x |v|^2 = 1), real
  (float64) for a fermion twist 0 or pi, complex128 otherwise;
* ``energies`` (K,): the eigenvalues E_j (units hbar^2/2m = 1, hbar = 1, so e^{-i E t} with t in
  units of 2m (length)^2 / hbar);
* ``coef`` (K, N) complex128: c_{j alpha} = <v_j | u_alpha>, the initial orbitals in that basis.

The evolved orbitals are u_alpha(t) = sum_j v_j e^{-i E_j t} c_{j alpha}; the density (lattice
units, per grid point) is rho_t(x) = sum_alpha |u_alpha(t)(x)|^2.  Each time step is one matrix
product (M, K) x (K, N): O(M K N) work done by BLAS; the reduction to the density is O(M N).

The twins (``*_reference``) are written independently with NumPy complex arithmetic and are used
only by the tests.
"""

from __future__ import annotations

import numpy as np
from .jit import njit  # numba.njit with explicit fastmath/error_model (see jit.py)

__all__ = ["density_steps_real", "density_steps_complex", "density_steps_reference",
           "cluster_density_real", "cluster_density_complex", "cluster_density_reference",
           "ring_distance_to_set", "ring_distance_to_set_reference",
           "chebyshev_propagate", "chebyshev_coefficients", "chebyshev_propagate_reference",
           "segment_chebyshev", "segment_chebyshev_reference", "trim_window",
           "trim_window_reference", "window_density_add", "window_density_add_reference",
           "window_residual", "window_residual_reference", "support_interval",
           "support_interval_reference", "chebyshev_tail_bound"]


# ---------------------------------------------------------------------- density on a time grid
@njit(cache=True)
def density_steps_real(vecs, energies, coef_re, coef_im, times, out):
    """Density at each time for real eigenvectors ``vecs`` (M, K), float64.

    ``coef_re``/``coef_im`` (K, N) are the real and imaginary parts of c; ``out`` (T, M) receives
    rho_t(x) = sum_alpha |sum_j vecs[x, j] e^{-i E_j t} c[j, alpha]|^2 for t in ``times``.
    The complex product is done as one real GEMM (M, K) x (K, 2N).
    """
    m, k = vecs.shape
    n = coef_re.shape[1]
    p = np.empty((k, 2 * n))
    for it in range(times.size):
        t = times[it]
        for j in range(k):
            c = np.cos(energies[j] * t)
            s = -np.sin(energies[j] * t)  # e^{-iEt} = c + i s
            for a in range(n):
                re = coef_re[j, a]
                im = coef_im[j, a]
                p[j, a] = c * re - s * im
                p[j, n + a] = c * im + s * re
        u = np.dot(vecs, p)
        for x in range(m):
            acc = 0.0
            for a in range(2 * n):
                acc += u[x, a] * u[x, a]
            out[it, x] = acc


@njit(cache=True)
def density_steps_complex(vecs, energies, coef, times, out):
    """Same as :func:`density_steps_real` for complex eigenvectors ``vecs`` (M, K), complex128."""
    m, k = vecs.shape
    n = coef.shape[1]
    p = np.empty((k, n), dtype=np.complex128)
    for it in range(times.size):
        t = times[it]
        for j in range(k):
            ph = complex(np.cos(energies[j] * t), -np.sin(energies[j] * t))
            for a in range(n):
                p[j, a] = ph * coef[j, a]
        u = np.dot(vecs, p)
        for x in range(m):
            acc = 0.0
            for a in range(n):
                acc += u[x, a].real ** 2 + u[x, a].imag ** 2
            out[it, x] = acc


def density_steps_reference(vecs, energies, coef, times):
    """NumPy twin of the ``density_steps_*`` kernels: returns (T, M)."""
    vecs = np.asarray(vecs)
    out = np.empty((len(times), vecs.shape[0]))
    for i, t in enumerate(times):
        u = vecs @ (np.exp(-1j * np.asarray(energies) * t)[:, None] * coef)
        out[i] = np.sum(np.abs(u) ** 2, axis=1)
    return out


# ---------------------------------------------------------------------- diagonal ensemble
@njit(cache=True)
def cluster_density_real(vecs, coef_re, coef_im, starts, out):
    """Infinite-time average of the density, real ``vecs``.

    ``starts`` (C+1,) delimits clusters of (numerically) degenerate energies: cluster c holds the
    columns starts[c] .. starts[c+1]-1.  out[x] = sum_c sum_alpha |(P_c u_alpha)(x)|^2, the diagonal
    of sum_c P_c Gamma P_c (P_c the spectral projection on cluster c).
    """
    m = vecs.shape[0]
    n = coef_re.shape[1]
    for x in range(m):
        out[x] = 0.0
    for c in range(starts.size - 1):
        j0 = starts[c]
        j1 = starts[c + 1]
        if j1 - j0 == 1:
            w = 0.0
            for a in range(n):
                w += coef_re[j0, a] ** 2 + coef_im[j0, a] ** 2
            for x in range(m):
                out[x] += w * vecs[x, j0] * vecs[x, j0]
        else:
            for x in range(m):
                for a in range(n):
                    re = 0.0
                    im = 0.0
                    for j in range(j0, j1):
                        re += vecs[x, j] * coef_re[j, a]
                        im += vecs[x, j] * coef_im[j, a]
                    out[x] += re * re + im * im


@njit(cache=True)
def cluster_density_complex(vecs, coef, starts, out):
    """Same as :func:`cluster_density_real` for complex ``vecs``."""
    m = vecs.shape[0]
    n = coef.shape[1]
    for x in range(m):
        out[x] = 0.0
    for c in range(starts.size - 1):
        j0 = starts[c]
        j1 = starts[c + 1]
        for x in range(m):
            for a in range(n):
                z = 0.0j
                for j in range(j0, j1):
                    z += vecs[x, j] * coef[j, a]
                out[x] += z.real ** 2 + z.imag ** 2


def cluster_density_reference(vecs, coef, starts):
    """NumPy twin of ``cluster_density_*``: diag(sum_c P_c Gamma P_c) with Gamma = U U^H."""
    vecs = np.asarray(vecs)
    gamma_eig = coef @ coef.conj().T  # Gamma in the eigenbasis
    out = np.zeros(vecs.shape[0])
    for c in range(len(starts) - 1):
        sl = slice(starts[c], starts[c + 1])
        v = vecs[:, sl]
        out += np.real(np.einsum("xj,jk,xk->x", v, gamma_eig[sl, sl], v.conj()))
    return out


# ---------------------------------------------------------------------- distances on the ring
@njit(cache=True)
def ring_distance_to_set(mask):
    """Graph distance on the ring (in grid steps) from every point to the nearest point of ``mask``.

    ``mask`` (M,) bool.  Points of the set get 0; if the set is empty every point gets M.
    Two sweeps around the ring in each direction, O(M).
    """
    m = mask.size
    big = m
    d = np.full(m, big, dtype=np.int64)
    # forward: distance to the nearest set point on the left (going around twice)
    last = -1
    for s in range(2 * m):
        i = s % m
        if mask[i]:
            last = s
        if last >= 0:
            v = s - last
            if v < d[i]:
                d[i] = v
    last = -1
    for s in range(2 * m - 1, -1, -1):
        i = s % m
        if mask[i]:
            last = s
        if last >= 0:
            v = last - s
            if v < d[i]:
                d[i] = v
    return d


def ring_distance_to_set_reference(mask):
    """NumPy twin (O(M |set|)): min over set points j of min(|i - j|, M - |i - j|)."""
    mask = np.asarray(mask, dtype=bool)
    m = mask.size
    j = np.flatnonzero(mask)
    if j.size == 0:
        return np.full(m, m, dtype=np.int64)
    diff = np.abs(np.arange(m)[:, None] - j[None, :])
    return np.min(np.minimum(diff, m - diff), axis=1).astype(np.int64)


# ---------------------------------------------------------------------- Chebyshev propagator
# e^{-i H dt} u on the ring without the eigenbasis (Tal-Ezer & Kosloff, J. Chem. Phys. 81,
# 3967 (1984)).  With H = b + s Ht (spectrum of Ht inside [-1, 1]) and a = s dt,
#
#     e^{-i H dt} = e^{-i b dt} sum_k c_k J_k(a) (-i)^k T_k(Ht),   c_0 = 1, c_k = 2 (k >= 1),
#
# T_k the Chebyshev polynomials, applied by T_{k+1}(Ht) u = 2 Ht T_k(Ht) u - T_{k-1}(Ht) u.  One
# term costs one ring matvec on all N orbitals at once, O(M N); the number of terms is
# a + O(a^{1/3}) (the Bessel coefficients decay super-exponentially for k > |a|).
# The ring operator is tridiagonal plus the two corners of the twisted bond (boundary gauge):
# H[i, i] = diag[i], H[i, i +- 1] = -hop, H[0, M-1] += corner, H[M-1, 0] += conj(corner), where
# corner = -hop e^{-i phi} (see tgsweep.models.ring); the M <= 2 cases follow the same sums.


@njit(cache=True)
def _cheb_apply(diag, hop, c_re, c_im, center, inv_scale, vr, vi, wr, wi, ar, ai, k_re, k_im,
                two, i0, i1):
    """One term on one orbital, rows i0 <= i < i1, real and imaginary parts in separate
    length-M arrays: w <- 2 Ht v - w (two) or w <- Ht v (not two, w only written), then
    acc += ck w, where Ht = (H - center) inv_scale and ck = k_re + i k_im.  O(M), in place on
    w (rows are independent, so any row range may be done separately)."""
    m = vr.size
    f = 2.0 * inv_scale if two else inv_scale
    for i in range(i0, i1):
        # neighbours i - 1 and i + 1 on the ring; the twisted bond carries the corner phase
        if i == 0:
            lr = c_re * vr[m - 1] - c_im * vi[m - 1]      # corner * v[M-1]
            li = c_re * vi[m - 1] + c_im * vr[m - 1]
        else:
            lr = -hop * vr[i - 1]
            li = -hop * vi[i - 1]
        if i == m - 1:
            rr = c_re * vr[0] + c_im * vi[0]              # conj(corner) * v[0]
            ri = c_re * vi[0] - c_im * vr[0]
        else:
            rr = -hop * vr[i + 1]
            ri = -hop * vi[i + 1]
        if m == 1:  # one site: both corners sit on the diagonal
            rr = c_re * vr[0] + c_im * vi[0]
            ri = c_re * vi[0] - c_im * vr[0]
        elif m == 2:  # two sites: H[0, 1] = -t + corner, H[1, 0] = -t + conj(corner)
            if i == 0:
                rr = -hop * vr[1]
                ri = -hop * vi[1]
            else:
                lr = -hop * vr[0]
                li = -hop * vi[0]
        d = diag[i] - center
        nr = f * (d * vr[i] + lr + rr)
        ni = f * (d * vi[i] + li + ri)
        if two:
            nr -= wr[i]
            ni -= wi[i]
        wr[i] = nr
        wi[i] = ni
        ar[i] += k_re * nr - k_im * ni
        ai[i] += k_re * ni + k_im * nr


@njit(cache=True)
def _cheb_apply_bulk(diag, hop, c_re, c_im, center, inv_scale, vr, vi, wr, wi, ar, ai, k_re,
                     k_im, two):
    """Same as :func:`_cheb_apply` for M >= 3, with the interior loop free of branches."""
    m = vr.size
    _cheb_apply(diag, hop, c_re, c_im, center, inv_scale, vr, vi, wr, wi, ar, ai, k_re, k_im,
                two, 0, 1)
    f = 2.0 * inv_scale if two else inv_scale
    if two:
        for i in range(1, m - 1):
            d = diag[i] - center
            nr = f * (d * vr[i] - hop * (vr[i - 1] + vr[i + 1])) - wr[i]
            ni = f * (d * vi[i] - hop * (vi[i - 1] + vi[i + 1])) - wi[i]
            wr[i] = nr
            wi[i] = ni
            ar[i] += k_re * nr - k_im * ni
            ai[i] += k_re * ni + k_im * nr
    else:
        for i in range(1, m - 1):
            d = diag[i] - center
            nr = f * (d * vr[i] - hop * (vr[i - 1] + vr[i + 1]))
            ni = f * (d * vi[i] - hop * (vi[i - 1] + vi[i + 1]))
            wr[i] = nr
            wi[i] = ni
            ar[i] += k_re * nr - k_im * ni
            ai[i] += k_re * ni + k_im * nr
    _cheb_apply(diag, hop, c_re, c_im, center, inv_scale, vr, vi, wr, wi, ar, ai, k_re, k_im,
                two, m - 1, m)


@njit(cache=True)
def chebyshev_propagate(diag, hop, corner, center, scale, coef, u, out):
    """out <- sum_k coef[k] T_k((H - center)/scale) u for the ring operator H.

    Parameters
    ----------
    diag : (M,) float64, diagonal of H (units of energy).
    hop : float, hopping t > 0 (H[i, i+1] = -t).
    corner : complex, H[0, M-1] = -t e^{-i phi} (fermion twist phi, boundary gauge).
    center, scale : floats with the spectrum of H inside [center - scale, center + scale].
    coef : (K,) complex128, K >= 1, e.g. :func:`chebyshev_coefficients` times e^{-i center dt}.
    u : (M, N) complex128, the orbitals as columns (any normalization); not modified.  Any
        memory order; column-major (Fortran) keeps each orbital contiguous and is fastest.
    out : (M, N) complex128 output (may be ``u`` itself).

    Work O(M N K): one matvec per term.  The orbitals are independent, so each column runs all
    K terms in six length-M real buffers (real and imaginary parts) that stay in cache.
    """
    m, n = u.shape
    inv = 1.0 / scale
    kk = coef.size
    c_re = corner.real
    c_im = corner.imag
    pr = np.empty(m)
    pi_ = np.empty(m)
    cr = np.empty(m)
    ci = np.empty(m)
    ar = np.empty(m)
    ai = np.empty(m)
    k0r = coef[0].real
    k0i = coef[0].imag
    for a in range(n):
        for i in range(m):
            z = u[i, a]
            pr[i] = z.real
            pi_[i] = z.imag
            ar[i] = k0r * z.real - k0i * z.imag
            ai[i] = k0r * z.imag + k0i * z.real
        xr, xi, yr, yi = pr, pi_, cr, ci   # x = T_{k-1} u, y = T_k u
        for k in range(1, kk):
            two = k >= 2
            # new T_k u goes into the buffer of T_{k-2} u (first term: the empty buffer)
            if m >= 3:
                _cheb_apply_bulk(diag, hop, c_re, c_im, center, inv, xr, xi, yr, yi, ar, ai,
                                 coef[k].real, coef[k].imag, two)
            else:
                _cheb_apply(diag, hop, c_re, c_im, center, inv, xr, xi, yr, yi, ar, ai,
                            coef[k].real, coef[k].imag, two, 0, m)
            xr, xi, yr, yi = yr, yi, xr, xi
        for i in range(m):
            out[i, a] = complex(ar[i], ai[i])


def chebyshev_coefficients(a, tol=1e-16):
    """c_k (-i)^k J_k(a), c_0 = 1, c_k = 2: the Chebyshev series of e^{-i a x} on [-1, 1].

    Truncated after the last k with |J_k(a)| >= tol (the Bessel functions decay faster than
    (e|a|/2k)^k beyond k ~ |a|, so the dropped tail is below ~ tol in sup norm).  Returns (K,)
    complex128 with K >= 1.  ``a`` may be negative (J_k(-a) = (-1)^k J_k(a)).
    """
    from scipy.special import jv

    a = float(a)
    kmax = int(abs(a) + 12.0 * abs(a) ** (1.0 / 3.0) + 40)
    while True:
        k = np.arange(kmax + 1)
        j = jv(k, a)
        big = np.flatnonzero(np.abs(j) >= tol)
        last = int(big[-1]) if big.size else 0
        if last < kmax - 10:
            break
        kmax *= 2
    k = np.arange(last + 1)
    c = 2.0 * (-1j) ** (k % 4) * jv(k, a)
    c[0] *= 0.5
    return c.astype(np.complex128)


def chebyshev_propagate_reference(hmat, center, scale, coef, u):
    """NumPy twin of :func:`chebyshev_propagate` using the dense matrix ``hmat`` (M, M)."""
    ht = (np.asarray(hmat) - center * np.eye(hmat.shape[0])) / scale
    t_prev = np.asarray(u, dtype=np.complex128)
    out = coef[0] * t_prev
    if len(coef) == 1:
        return out
    t_cur = ht @ t_prev
    out = out + coef[1] * t_cur
    for k in range(2, len(coef)):
        t_prev, t_cur = t_cur, 2.0 * (ht @ t_cur) - t_prev
        out = out + coef[k] * t_cur
    return out


# ---------------------------------------------------------------------- support-restricted steps
# The "support" propagator (tgsweep.core.evolution, method="support") keeps each orbital on a
# window of consecutive ring sites (start + j) mod M, 0 <= j < n < M, and applies the Chebyshev
# series on that open segment.  A degree-(K-1) polynomial p(H) moves weight at most K-1 sites, so
# for a vector vanishing outside the inner part of a window that has K spare sites on each side,
# p(H_W) v = p(H) v exactly (H_W = the segment's block of the ring operator).  The error is
# then only what the trimming step drops (its 2-norm is returned) plus the series' own tail.
# A segment that contains the twisted bond (sites M-1, 0) carries H[M-1, 0] = conj(corner); the
# kernels gauge it to -hop by multiplying the values at ring sites 0.. of the segment (those with
# start + j >= M) by gphase = -conj(corner) / hop = e^{i phi} (and back afterwards).


@njit(cache=True)
def _segment_term(d, hop, f, xr, xi, yr, yi, ar, ai, kr, ki, two):
    """One Chebyshev term on an open segment: y <- f Ht x - y (two) or f Ht x, acc += ck y,
    with (Ht x)_j = d_j x_j - hop (x_{j-1} + x_{j+1}) and x_{-1} = x_n = 0."""
    n = xr.size
    for jj in range(2 if n > 1 else 1):
        j = 0 if jj == 0 else n - 1
        if True:
            lr = xr[j - 1] if j > 0 else 0.0
            li = xi[j - 1] if j > 0 else 0.0
            rr = xr[j + 1] if j < n - 1 else 0.0
            ri = xi[j + 1] if j < n - 1 else 0.0
            nr = f * (d[j] * xr[j] - hop * (lr + rr))
            ni = f * (d[j] * xi[j] - hop * (li + ri))
            if two:
                nr -= yr[j]
                ni -= yi[j]
            yr[j] = nr
            yi[j] = ni
            ar[j] += kr * nr - ki * ni
            ai[j] += kr * ni + ki * nr
    if two:
        for j in range(1, n - 1):
            nr = f * (d[j] * xr[j] - hop * (xr[j - 1] + xr[j + 1])) - yr[j]
            ni = f * (d[j] * xi[j] - hop * (xi[j - 1] + xi[j + 1])) - yi[j]
            yr[j] = nr
            yi[j] = ni
            ar[j] += kr * nr - ki * ni
            ai[j] += kr * ni + ki * nr
    else:
        for j in range(1, n - 1):
            nr = f * (d[j] * xr[j] - hop * (xr[j - 1] + xr[j + 1]))
            ni = f * (d[j] * xi[j] - hop * (xi[j - 1] + xi[j + 1]))
            yr[j] = nr
            yi[j] = ni
            ar[j] += kr * nr - ki * ni
            ai[j] += kr * ni + ki * nr


@njit(cache=True)
def segment_chebyshev(diag, hop, gphase, start, center, scale, coef, v, out):
    """out <- sum_k coef[k] T_k((H_W - center)/scale) v on the open segment W of ring sites
    (start + j) mod M, j < n = v.size < M (M = diag.size), H_W the segment's block of the ring
    operator (its twisted bond, if inside, gauged by ``gphase``).  v, out (n,) complex128 in the
    ring gauge (out may be v).  O(n K)."""
    m = diag.size
    n = v.size
    inv = 1.0 / scale
    d = np.empty(n)
    pr = np.empty(n)
    pi_ = np.empty(n)
    cr = np.zeros(n)
    ci = np.zeros(n)
    ar = np.empty(n)
    ai = np.empty(n)
    k0r = coef[0].real
    k0i = coef[0].imag
    for j in range(n):
        s = start + j
        z = v[j]
        if s >= m:
            z = z * gphase
            s -= m
        d[j] = diag[s] - center
        pr[j] = z.real
        pi_[j] = z.imag
        ar[j] = k0r * z.real - k0i * z.imag
        ai[j] = k0r * z.imag + k0i * z.real
    xr, xi, yr, yi = pr, pi_, cr, ci   # x = T_{k-1} v, y = T_{k-2} v (overwritten by T_k v)
    for k in range(1, coef.size):
        _segment_term(d, hop, 2.0 * inv if k >= 2 else inv, xr, xi, yr, yi, ar, ai,
                      coef[k].real, coef[k].imag, k >= 2)
        xr, xi, yr, yi = yr, yi, xr, xi
    gc = gphase.conjugate()
    for j in range(n):
        z = complex(ar[j], ai[j])
        if start + j >= m:
            z = z * gc
        out[j] = z


def segment_chebyshev_reference(hmat, start, center, scale, coef, v):
    """NumPy twin of :func:`segment_chebyshev`: the block of the dense ring matrix ``hmat``
    on the segment's sites, then the plain Chebyshev recursion."""
    m = hmat.shape[0]
    idx = (start + np.arange(len(v))) % m
    return chebyshev_propagate_reference(hmat[np.ix_(idx, idx)], center, scale, coef,
                                         np.asarray(v, dtype=np.complex128)[:, None])[:, 0]


@njit(cache=True)
def trim_window(v, budget2):
    """(left, right, dropped): the most leading and trailing entries of v whose weights
    sum_j |v_j|^2 are each <= budget2 / 2 (at least one entry is kept), and the weight they
    carry (the squared 2-norm of what trimming drops)."""
    n = v.size
    half = 0.5 * budget2
    acc = 0.0
    left = 0
    while left < n - 1:
        w = v[left].real ** 2 + v[left].imag ** 2
        if acc + w > half:
            break
        acc += w
        left += 1
    acc_r = 0.0
    right = 0
    while n - 1 - right > left:
        j = n - 1 - right
        w = v[j].real ** 2 + v[j].imag ** 2
        if acc_r + w > half:
            break
        acc_r += w
        right += 1
    return left, right, acc + acc_r


def trim_window_reference(v, budget2):
    """NumPy twin of :func:`trim_window` by cumulative sums."""
    w = np.abs(np.asarray(v)) ** 2
    n = w.size
    left = min(int(np.searchsorted(np.cumsum(w), 0.5 * budget2, side="right")), n - 1)
    cr = np.cumsum(w[::-1])
    right = min(int(np.searchsorted(cr, 0.5 * budget2, side="right")), n - 1 - left)
    return left, right, float(w[:left].sum() + w[n - right:].sum())


@njit(cache=True)
def window_density_add(rho, start, v):
    """rho[(start + j) mod M] += |v_j|^2 (M = rho.size, v.size <= M)."""
    m = rho.size
    for j in range(v.size):
        s = start + j
        if s >= m:
            s -= m
        rho[s] += v[j].real ** 2 + v[j].imag ** 2


def window_density_add_reference(rho, start, v):
    """NumPy twin of :func:`window_density_add` (returns the updated copy)."""
    out = np.array(rho, dtype=np.float64)
    np.add.at(out, (start + np.arange(len(v))) % out.size, np.abs(np.asarray(v)) ** 2)
    return out


@njit(cache=True)
def window_residual(diag, hop, gphase, start, v):
    """(E, r) for the ring vector u equal to v on the sites (start + j) mod M, j < n, and zero
    elsewhere (needs n + 2 <= M): E = <u|H|u> / <u|u> and r = ||(H - E) u||_2, with the full ring
    operator H (u's neighbours outside the window included)."""
    m = diag.size
    n = v.size
    nn = n + 2
    w = np.zeros(nn, dtype=np.complex128)     # gauged u on the segment start-1 .. start+n
    s0 = start - 1
    if s0 < 0:
        s0 += m
    for j in range(n):
        z = v[j]
        if s0 + 1 + j >= m:
            z = z * gphase
        w[j + 1] = z
    hw = np.empty(nn, dtype=np.complex128)
    for j in range(nn):
        s = s0 + j
        if s >= m:
            s -= m
        acc = diag[s] * w[j]
        if j > 0:
            acc -= hop * w[j - 1]
        if j < nn - 1:
            acc -= hop * w[j + 1]
        hw[j] = acc
    num = 0.0
    den = 0.0
    for j in range(nn):
        num += (w[j].conjugate() * hw[j]).real
        den += w[j].real ** 2 + w[j].imag ** 2
    e = num / den
    r2 = 0.0
    for j in range(nn):
        z = hw[j] - e * w[j]
        r2 += z.real ** 2 + z.imag ** 2
    return e, np.sqrt(r2)


def window_residual_reference(hmat, start, v):
    """NumPy twin of :func:`window_residual` with the dense ring matrix."""
    m = hmat.shape[0]
    u = np.zeros(m, dtype=np.complex128)
    u[(start + np.arange(len(v))) % m] = v
    hu = hmat @ u
    e = float(np.real(np.vdot(u, hu)) / np.real(np.vdot(u, u)))
    return e, float(np.linalg.norm(hu - e * u))


@njit(cache=True)
def support_interval(diag, hop, corner, center, scale, coef_sub, n_sub, coef_full, n_full,
                     budget2, start, v):
    """Propagate one orbital over one time interval, on its window.

    The orbital is v on the ring sites (start + j) mod M (v.size == M and start == 0: the whole
    ring).  A windowed orbital takes ``n_sub`` sub-steps with the Chebyshev coefficients
    ``coef_sub`` (K terms): before each, :func:`trim_window` with ``budget2`` drops its outer
    tails, the window is re-cut to the kept part plus K sites each side, and
    :func:`segment_chebyshev` applies the series (exactly the full-ring polynomial, see above).
    When the re-cut window would reach M sites the orbital moves to the whole ring and the
    remaining sub-steps run there (:func:`chebyshev_propagate`).  A whole-ring orbital takes
    ``n_full`` steps with ``coef_full`` instead.

    Returns (start, v, dropped_norm, kept): the new window and values, the sum over sub-steps
    of the 2-norms dropped by trimming (sqrt of each step's dropped weight), and the length of
    the last kept (trimmed) part (M for a whole-ring orbital).
    """
    m = diag.size
    gphase = -corner.conjugate() / hop
    margin = coef_sub.size
    dropped = 0.0
    kept = v.size
    if v.size == m and start == 0:
        u = np.empty((m, 1), dtype=np.complex128)
        u[:, 0] = v
        for _ in range(n_full):
            chebyshev_propagate(diag, hop, corner, center, scale, coef_full, u, u)
        return 0, u[:, 0].copy(), 0.0, m
    for step in range(n_sub):
        left, right, drop = trim_window(v, budget2)
        dropped += np.sqrt(drop)
        kept = v.size - left - right
        s = start + left
        if s >= m:
            s -= m
        n_new = kept + 2 * margin
        if n_new >= m:
            u = np.zeros((m, 1), dtype=np.complex128)
            for j in range(kept):
                p = s + j
                if p >= m:
                    p -= m
                u[p, 0] = v[left + j]
            for _ in range(n_sub - step):
                chebyshev_propagate(diag, hop, corner, center, scale, coef_sub, u, u)
            return 0, u[:, 0].copy(), dropped, m
        w = np.zeros(n_new, dtype=np.complex128)
        for j in range(kept):
            w[margin + j] = v[left + j]
        start = s - margin
        if start < 0:
            start += m
        segment_chebyshev(diag, hop, gphase, start, center, scale, coef_sub, w, w)
        v = w
    return start, v, dropped, kept


def support_interval_reference(hmat, center, scale, coef_sub, n_sub, coef_full, n_full,
                               budget2, start, v):
    """NumPy twin of :func:`support_interval` built from the dense ring matrix ``hmat`` and the
    twins :func:`trim_window_reference`, :func:`segment_chebyshev_reference` and
    :func:`chebyshev_propagate_reference`."""
    m = hmat.shape[0]
    v = np.asarray(v, dtype=np.complex128)
    margin = len(coef_sub)

    def full(u, coef, n_steps):
        for _ in range(n_steps):
            u = chebyshev_propagate_reference(hmat, center, scale, coef, u[:, None])[:, 0]
        return u

    if v.size == m and start == 0:
        return 0, full(v, coef_full, n_full), 0.0, m
    dropped = 0.0
    kept = v.size
    for step in range(n_sub):
        left, right, drop = trim_window_reference(v, budget2)
        dropped += np.sqrt(drop)
        kept = v.size - left - right
        s = (start + left) % m
        if kept + 2 * margin >= m:
            u = np.zeros(m, dtype=np.complex128)
            u[(s + np.arange(kept)) % m] = v[left:left + kept]
            return 0, full(u, coef_sub, n_sub - step), dropped, m
        w = np.concatenate([np.zeros(margin), v[left:left + kept], np.zeros(margin)])
        start = (s - margin) % m
        v = segment_chebyshev_reference(hmat, start, center, scale, coef_sub, w)
    return start, v, dropped, kept


def chebyshev_tail_bound(a, n_terms):
    """Rigorous bound on sup_{|x| <= 1} of the series' dropped tail, sum_{k >= K} 2 |J_k(a)|
    (|T_k| <= 1 on [-1, 1]), for the first K = ``n_terms`` terms kept: the terms K .. 2K + 99
    summed from scipy's J_k, the rest bounded by |J_k(a)| <= (|a|/2)^k / k! (DLMF 10.14.4)
    and a geometric series (ratio |a| / 2(k+1) <= 1/2 there since 2K + 100 > |a|)."""
    from scipy.special import gammaln, jv

    a = abs(float(a))
    k = np.arange(n_terms, 2 * n_terms + 100)
    head = 2.0 * float(np.sum(np.abs(jv(k, a))))
    k1 = 2 * n_terms + 100
    if a == 0.0:
        return head
    log_term = k1 * np.log(a / 2.0) - gammaln(k1 + 1.0)
    q = a / (2.0 * (k1 + 1.0))
    return head + 2.0 * float(np.exp(log_term)) / (1.0 - q)
