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
from numba import njit

__all__ = ["density_steps_real", "density_steps_complex", "density_steps_reference",
           "cluster_density_real", "cluster_density_complex", "cluster_density_reference",
           "ring_distance_to_set", "ring_distance_to_set_reference"]


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
