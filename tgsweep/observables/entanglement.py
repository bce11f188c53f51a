"""Entanglement entropy of a block of the ring, from the fermionic correlation matrix.

For a contiguous block A of the grid starting at x = 0 the Jordan-Wigner string of every
operator inside A stays inside A, so the reduced density matrix of the hard-core bosons on A is
unitarily equivalent to that of the free fermions, a Gaussian state fixed by the restricted
correlation matrix C_A = P_A (sum_alpha |u_alpha><u_alpha|) P_A (Peschel, J. Phys. A 36, L205
(2003)).  With nu_k its eigenvalues (those of the N x N overlap U_A^H U_A, U_A the lattice-
normalized orbitals on A),

    S(A) = - sum_k [nu_k ln nu_k + (1 - nu_k) ln(1 - nu_k)]          (in nats).

On the continuum grid A = [0, l) holds round(l/h) points and S grows like (1/3) ln(l/h) for the
clean gas (Calabrese & Cardy, J. Stat. Mech. P06002 (2004): S = (1/3) ln[(L/(pi h))
sin(pi l/L)] + const on a ring); with localized orbitals it saturates in l (area law; Pastur &
Slavin, PRL 113, 150404 (2014)).
"""

from __future__ import annotations

import numpy as np

from ..core.state import State
from .declaration import Coord, Observable, Option, Variable, real_list

__all__ = ["entanglement_entropy", "ENTANGLEMENT", "OBSERVABLES"]


def _binary_entropy(nu: np.ndarray) -> float:
    nu = np.clip(nu, 0.0, 1.0)
    inner = (nu > 0) & (nu < 1)
    v = nu[inner]
    return float(-np.sum(v * np.log(v) + (1 - v) * np.log1p(-v)))


def entanglement_entropy(state: State, lengths) -> np.ndarray:
    """Von Neumann entropy (nats) of the blocks A = [0, l) of the ring, for each l in ``lengths``
    (length units; lattice: sites), from the TG state's orbitals; O(M_A N^2) per block.

    Returns an array of the shape of ``lengths``.  Each l must give 0 <= round(l/h) <= M points.
    """
    ring = state.ring
    u = np.asarray(state.lattice_orbitals)
    ls = np.atleast_1d(np.asarray(lengths, dtype=np.float64))
    out = np.empty(ls.shape)
    for i, length in enumerate(ls.ravel()):
        n_a = int(round(length / ring.spacing))
        if not 0 <= n_a <= ring.n_grid:
            raise ValueError(f"lengths: block {length!r} holds {n_a} grid points, outside "
                             f"[0, {ring.n_grid}]")
        ua = u[:n_a]
        nu = np.linalg.eigvalsh(ua.conj().T @ ua) if u.shape[1] else np.zeros(0)
        out.flat[i] = _binary_entropy(nu)
    return out.reshape(np.shape(lengths)) if np.ndim(lengths) else out


def _layout(geom, opts):
    ls = np.asarray(opts["lengths"], float)
    return ({"entropy": Variable(("block",), (ls.size,), "1",
                                 "entanglement entropy S(A) of the block A = [0, l), nats")},
            {"block": Coord(ls, "length", "block length l")})


def _compute(ctx, opts):
    return {"entropy": entanglement_entropy(ctx.state, np.asarray(opts["lengths"], float))}


ENTANGLEMENT = Observable(
    "entanglement", _layout, _compute,
    options=(Option("lengths", [1.0], real_list("lengths", 0.0, None), "block lengths l"),),
    description="entanglement entropy of blocks [0, l) of the ring")

OBSERVABLES = (ENTANGLEMENT,)
