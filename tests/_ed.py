"""Brute-force exact diagonalization of hard-core bosons on a small lattice ring (test reference).

Written from scratch in the occupation-number basis of the N-particle sector, with no
Jordan-Wigner transformation and no import from :mod:`tgsweep`, so that it is an independent
check of the Bose-Fermi-map code.

Model (L <= 12 sites, unit spacing)::

    H = -t sum_{i=0}^{L-2} (b+_i b_{i+1} + h.c.) - t (e^{i theta} b+_{L-1} b_0 + h.c.)
        + sum_i eps_i n_i

with hard-core bosons ([b_i, b+_j] = 0 for i != j, b_i^2 = 0).  For one particle the matrix
element <L-1|H|0> = -t e^{i theta}, the ``Ring.matrix`` boundary-gauge convention
H[M-1, 0] = -t e^{i phi}.

Basis states are bitstrings s (site i occupied <=> bit i of s set), ordered by increasing
integer value.  Hopping between hard-core bosons carries no sign.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import numpy as np

__all__ = ["hcb_basis", "hop_table", "hcb_hamiltonian", "hcb_ground_state", "hcb_obdm",
           "hcb_density", "hcb_evolve", "hcb_spectrum"]

L_MAX = 12


def hcb_basis(L: int, N: int) -> np.ndarray:
    """Bitstrings (int64, ascending) of all configurations of N hard-core bosons on L sites."""
    if not (1 <= L <= L_MAX):
        raise ValueError(f"L: must be in [1, {L_MAX}], got {L}")
    if not (0 <= N <= L):
        raise ValueError(f"N: must be in [0, {L}], got {N}")
    states = [sum(1 << i for i in occ) for occ in combinations(range(L), N)]
    return np.array(sorted(states), dtype=np.int64)


def _index(basis: np.ndarray, L: int) -> np.ndarray:
    lookup = np.full(1 << L, -1, dtype=np.int64)
    lookup[basis] = np.arange(basis.size)
    return lookup


def _hop(s: int, x: int, y: int) -> int | None:
    """b+_x b_y |s> as a bitstring (amplitude 1), or None if it vanishes."""
    if not (s >> y) & 1:
        return None
    s2 = s & ~(1 << y)
    if (s2 >> x) & 1:
        return None
    return s2 | (1 << x)


def hcb_hamiltonian(eps, N: int, t: float = 1.0, theta: float = 0.0) -> np.ndarray:
    """Dense complex Hamiltonian of N hard-core bosons on the ring with on-site energies ``eps``.

    Parameters
    ----------
    eps : (L,) array, on-site energies eps_i (units of energy, same as t).
    N : particle number.
    t : hopping amplitude; each bond contributes -t (b+_i b_{i+1} + h.c.).
    theta : boson twist on the bond (L-1, 0): -t (e^{i theta} b+_{L-1} b_0 + h.c.).
    """
    eps = np.asarray(eps, dtype=np.float64)
    L = eps.size
    basis = hcb_basis(L, N)
    idx = _index(basis, L)
    dim = basis.size
    H = np.zeros((dim, dim), dtype=np.complex128)
    # bonds (x, y, amplitude of b+_x b_y); the h.c. term is added separately
    bonds = [(i, i + 1, -t) for i in range(L - 1)]
    if L >= 2:
        bonds.append((L - 1, 0, -t * np.exp(1j * theta)))
    for a, s in enumerate(basis):
        s = int(s)
        H[a, a] += sum(eps[i] for i in range(L) if (s >> i) & 1)
        for x, y, amp in bonds:
            for (p, q, c) in ((x, y, amp), (y, x, np.conj(amp))):
                s2 = _hop(s, p, q)
                if s2 is not None:
                    H[idx[s2], a] += c  # <s2| c b+_p b_q |s>
    return H


def hcb_spectrum(eps, N: int, t: float = 1.0, theta: float = 0.0):
    """All eigenvalues (ascending) and eigenvectors (columns) of :func:`hcb_hamiltonian`."""
    return np.linalg.eigh(hcb_hamiltonian(eps, N, t, theta))


def hcb_ground_state(eps, N: int, t: float = 1.0, theta: float = 0.0):
    """(E0, psi): ground energy and normalized ground-state vector in the :func:`hcb_basis` order.

    If the ground state is degenerate, psi is an arbitrary vector of the ground space; check
    the gap with :func:`hcb_spectrum` when that matters.
    """
    w, v = hcb_spectrum(eps, N, t, theta)
    return float(w[0]), v[:, 0]


@lru_cache(maxsize=64)
def hop_table(L: int, N: int):
    """All nonvanishing b+_x b_y |s> = |s'> (x != y) as flat arrays (x, y, index of s, of s')."""
    basis = hcb_basis(L, N)
    idx = _index(basis, L)
    xs, ys, src, dst = [], [], [], []
    for a, s in enumerate(basis):
        s = int(s)
        for y in range(L):
            if not (s >> y) & 1:
                continue
            for x in range(L):
                if x == y:
                    continue
                s2 = _hop(s, x, y)
                if s2 is not None:
                    xs.append(x)
                    ys.append(y)
                    src.append(a)
                    dst.append(idx[s2])
    arrs = tuple(np.array(v, dtype=np.int64) for v in (xs, ys, src, dst))
    for arr in arrs:
        arr.setflags(write=False)
    return arrs


def hcb_obdm(psi, L: int, N: int) -> np.ndarray:
    """One-particle density matrix gamma[x, y] = <psi| b+_x b_y |psi> (L x L, Hermitian).

    gamma[x, y] = sum_s conj(psi[s']) psi[s] over configurations s with y occupied and x empty
    (x != y), s' = s with the particle moved from y to x; gamma[x, x] = <n_x>.
    """
    psi = np.asarray(psi)
    xs, ys, src, dst = hop_table(L, N)
    g = np.zeros((L, L), dtype=np.complex128)
    np.add.at(g, (xs, ys), np.conj(psi[dst]) * psi[src])
    g[np.arange(L), np.arange(L)] = hcb_density(psi, L, N)
    return g


def hcb_density(psi, L: int, N: int) -> np.ndarray:
    """Site occupations <n_x> = sum_s |psi_s|^2 [bit x of s] (real, length L)."""
    psi = np.asarray(psi)
    basis = hcb_basis(L, N)
    occ = (basis[:, None] >> np.arange(L)[None, :]) & 1
    return np.abs(psi) ** 2 @ occ


def hcb_evolve(psi, H, t: float) -> np.ndarray:
    """exp(-i H t) psi, exactly, via the eigendecomposition of the Hermitian matrix H."""
    w, v = np.linalg.eigh(H)
    return v @ (np.exp(-1j * w * t) * (v.conj().T @ np.asarray(psi)))
