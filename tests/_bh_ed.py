"""Brute-force exact diagonalization of the Bose-Hubbard ring (test reference, no tgsweep import).

    H = -t sum_{i=0}^{L-2} (b+_i b_{i+1} + h.c.) - t (e^{i theta} b+_{L-1} b_0 + h.c.)
        + (U/2) sum_i n_i (n_i - 1) + sum_i eps_i n_i

in the occupation-number basis of the N-boson sector with n_i <= n_max (n_max >= N: no cutoff,
the exact model), b+ |n> = sqrt(n + 1) |n + 1>.  ``open_chain=True`` drops the bond (L-1, 0).
Written from the definitions, independent of TeNPy and of the free-fermion core.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["bh_basis", "bh_hamiltonian", "bh_ground_state"]


def bh_basis(L: int, N: int, n_max: int) -> list[tuple[int, ...]]:
    """All occupation tuples (n_0..n_{L-1}) with sum N and 0 <= n_i <= n_max."""
    out = []

    def rec(prefix, left, sites):
        if sites == 0:
            if left == 0:
                out.append(tuple(prefix))
            return
        for k in range(min(left, n_max), -1, -1):
            rec(prefix + [k], left - k, sites - 1)

    rec([], N, L)
    return out


def bh_hamiltonian(eps, N: int, U: float, n_max: int, t: float = 1.0, theta: float = 0.0,
                   open_chain: bool = False):
    """Sparse complex Hamiltonian and its basis."""
    eps = np.asarray(eps, dtype=float)
    L = eps.size
    basis = bh_basis(L, N, n_max)
    index = {s: k for k, s in enumerate(basis)}
    rows, cols, vals = [], [], []
    bonds = [(i, i + 1, -t) for i in range(L - 1)]
    if not open_chain:
        bonds.append((L - 1, 0, -t * np.exp(1j * theta)))  # coefficient of b+_{L-1} b_0
    for k, s in enumerate(basis):
        n = np.array(s)
        rows.append(k)
        cols.append(k)
        vals.append(np.dot(eps, n) + 0.5 * U * np.sum(n * (n - 1)))
        for x, y, c in bonds:
            for a, b, amp in ((x, y, c), (y, x, np.conj(c))):  # amp b+_a b_b
                if n[b] == 0 or n[a] == n_max:
                    continue
                m = n.copy()
                val = np.sqrt(m[b])
                m[b] -= 1
                val *= np.sqrt(m[a] + 1)
                m[a] += 1
                rows.append(index[tuple(m)])
                cols.append(k)
                vals.append(amp * val)
    dim = len(basis)
    h = sp.csr_matrix((np.array(vals, dtype=complex), (rows, cols)), shape=(dim, dim))
    return h, basis


def bh_ground_state(eps, N: int, U: float, n_max: int | None = None, t: float = 1.0,
                    theta: float = 0.0, open_chain: bool = False):
    """(E_0, gamma[x, y] = <b+_x b_y>, density, <n_x n_y>) of the ground state."""
    n_max = N if n_max is None else n_max
    h, basis = bh_hamiltonian(eps, N, U, n_max, t, theta, open_chain)
    if h.shape[0] <= 400:
        w, v = np.linalg.eigh(h.toarray())
        e0, psi = w[0], v[:, 0]
    else:
        w, v = spla.eigsh(h, k=1, which="SA", tol=1e-14, ncv=40)
        e0, psi = w[0], v[:, 0]
    occ = np.array(basis, dtype=float)
    L = occ.shape[1]
    p = np.abs(psi) ** 2
    dens = p @ occ
    nn = (occ * p[:, None]).T @ occ
    index = {s: k for k, s in enumerate(basis)}
    gamma = np.zeros((L, L), dtype=complex)
    for k, s in enumerate(basis):
        n = list(s)
        for x, y in itertools.product(range(L), range(L)):
            # <psi| b+_x b_y |psi>: b+_x b_y acts on basis state k
            if x == y:
                continue
            if n[y] == 0 or n[x] == n_max:
                continue
            m = n.copy()
            val = np.sqrt(m[y])
            m[y] -= 1
            val *= np.sqrt(m[x] + 1)
            m[x] += 1
            gamma[x, y] += np.conj(psi[index[tuple(m)]]) * val * psi[k]
    gamma[np.arange(L), np.arange(L)] = dens
    return float(e0), gamma, dens, nn
