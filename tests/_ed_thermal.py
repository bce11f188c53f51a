"""Brute-force thermal states of hard-core bosons in the full Fock space (test reference).

Thermal twin of ``tests/_ed.py``: every particle-number block of the Hamiltonian is built by
``hcb_hamiltonian`` (occupation-number basis, no Jordan-Wigner, no import from tgsweep) and
diagonalized densely; the Gibbs state is summed over all eigenstates.  L <= 10 (2^L states).

    Z_N = sum_a e^{-beta E_a(N)},  Xi = sum_N e^{beta mu N} Z_N,
    gamma[x, y] = Tr(rho b+_x b_y) = sum_{s: b+_x b_y |s> = |s'>} rho[s, s'].
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from _ed import hcb_basis, hcb_hamiltonian
from _ed import hop_table as hop_pairs  # one table of b+_x b_y matrix elements

__all__ = ["ed_canonical", "ed_canonical_quench", "ed_grand", "ed_grand_quench", "hop_pairs"]


def _block(eps, N, t, theta, beta):
    """(ln Z_N, <H>_N, gamma_N) of the canonical ensemble at N (gamma unnormalized by Z: no)."""
    L = len(eps)
    w, v = np.linalg.eigh(hcb_hamiltonian(eps, N, t, theta))
    lw = -beta * w
    lz = logsumexp(lw)
    p = np.exp(lw - lz)
    rho = (v * p) @ v.conj().T
    g = np.zeros((L, L), dtype=complex)
    if 0 < N < L:
        xs, ys, src, dst = hop_pairs(L, N)
        np.add.at(g, (xs, ys), rho[src, dst])
    basis = hcb_basis(L, N)
    occ = (basis[:, None] >> np.arange(L)[None, :]) & 1
    g[np.arange(L), np.arange(L)] = np.real(np.diag(rho)) @ occ
    return lz, float(np.sum(p * w)), g


def ed_canonical(eps, N: int, temperature: float, t: float = 1.0, theta: float = 0.0):
    """(ln Z_N, E, gamma) of N hard-core bosons at temperature T (boson twist theta)."""
    return _block(np.asarray(eps, float), N, t, theta, 1.0 / temperature)


def ed_grand(eps, mu: float, temperature: float, t: float = 1.0, theta: float = 0.0):
    """(ln Xi, <N>, <H>, gamma) of the grand-canonical ensemble, Xi = Tr e^{-beta (H - mu N)}."""
    eps = np.asarray(eps, float)
    L, beta = eps.size, 1.0 / temperature
    blocks = [_block(eps, N, t, theta, beta) for N in range(L + 1)]
    lw = np.array([b[0] + beta * mu * N for N, b in enumerate(blocks)])
    lxi = logsumexp(lw)
    p = np.exp(lw - lxi)
    n_mean = float(np.sum(p * np.arange(L + 1)))
    energy = float(sum(pn * b[1] for pn, b in zip(p, blocks)))
    gamma = sum(pn * b[2] for pn, b in zip(p, blocks))
    return float(lxi), n_mean, energy, gamma


def _gamma_of(rho, L, N):
    g = np.zeros((L, L), dtype=complex)
    if 0 < N < L:
        xs, ys, src, dst = hop_pairs(L, N)
        np.add.at(g, (xs, ys), rho[src, dst])
    basis = hcb_basis(L, N)
    occ = (basis[:, None] >> np.arange(L)[None, :]) & 1
    g[np.arange(L), np.arange(L)] = np.real(np.diag(rho)) @ occ
    return g


def ed_grand_quench(eps0, eps1, mu: float, temperature: float, time: float, t: float = 1.0,
                    theta: float = 0.0):
    """gamma at ``time`` of the grand-canonical Gibbs state of H(eps0) evolved under H(eps1):
    rho_t = e^{-i H1 t} rho e^{i H1 t} in every N block (exact eigendecompositions)."""
    eps0, eps1 = np.asarray(eps0, float), np.asarray(eps1, float)
    L, beta = eps0.size, 1.0 / temperature
    lzs, gs = [], []
    for N in range(L + 1):
        w, v = np.linalg.eigh(hcb_hamiltonian(eps0, N, t, theta))
        lw = -beta * (w - mu * N)
        lz = logsumexp(lw)
        rho = (v * np.exp(lw - lz)) @ v.conj().T
        e1, v1 = np.linalg.eigh(hcb_hamiltonian(eps1, N, t, theta))
        u = (v1 * np.exp(-1j * e1 * time)) @ v1.conj().T
        lzs.append(lz)
        gs.append(_gamma_of(u @ rho @ u.conj().T, L, N))
    p = np.exp(np.array(lzs) - logsumexp(lzs))
    return sum(pn * g for pn, g in zip(p, gs))


def ed_canonical_quench(eps0, eps1, N: int, temperature: float, time: float, t: float = 1.0,
                        theta: float = 0.0):
    """gamma at ``time`` of the canonical Gibbs state (N particles) of H(eps0) evolved under
    H(eps1)."""
    eps0, eps1 = np.asarray(eps0, float), np.asarray(eps1, float)
    w, v = np.linalg.eigh(hcb_hamiltonian(eps0, N, t, theta))
    lw = -w / temperature
    rho = (v * np.exp(lw - logsumexp(lw))) @ v.conj().T
    e1, v1 = np.linalg.eigh(hcb_hamiltonian(eps1, N, t, theta))
    u = (v1 * np.exp(-1j * e1 * time)) @ v1.conj().T
    return _gamma_of(u @ rho @ u.conj().T, eps0.size, N)
