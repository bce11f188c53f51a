"""numba kernel for Lyapunov exponents of nearest-neighbour (tridiagonal) chains, + NumPy twin.

For the chain  -t psi_{i+1} - t psi_{i-1} + d_i psi_i = E psi_i  the transfer recursion is

    psi_{i+1} = a_i psi_i - psi_{i-1},      a_i = (d_i - E) / t,

i.e. (psi_{i+1}, psi_i) = T_i (psi_i, psi_{i-1}) with T_i = [[a_i, -1], [1, 0]] (det T_i = 1).
The Lyapunov exponent (per site) is lim (1/n) ln ||T_{n-1} ... T_0 v|| for a generic v.  The
two-component vector is renormalised every step (a 2 x 2 "QR" with one column: the norm is the
R factor) and the logarithms of the norms are summed, so nothing overflows for any length.

Both models map onto this form (see :mod:`tgsweep.models.ring`): lattice d_i = eps_i, t = t;
finite-difference continuum d_i = V_i + 2/h^2, t = 1/h^2, so a_i = 2 + h^2 (V_i - E).
"""

from __future__ import annotations

import numpy as np
from .jit import njit  # numba.njit with explicit fastmath/error_model (see jit.py)


@njit(cache=True)
def log_growth(diag, hopping, energies, v0, v1):
    """ln ||T_{M-1}(E) ... T_0(E) (v0, v1)^T|| - ln ||(v0, v1)|| for each E in ``energies``.

    diag : (M,) float64, the diagonal d_i; hopping : t > 0; energies : (K,) float64.
    Returns a (K,) float64 array (total log growth over the M steps, not per site).
    """
    m = diag.size
    k = energies.size
    out = np.empty(k)
    inv_t = 1.0 / hopping
    n0 = np.sqrt(v0 * v0 + v1 * v1)
    for e in range(k):
        en = energies[e]
        p = v0 / n0  # psi_i
        q = v1 / n0  # psi_{i-1}
        acc = 0.0
        for i in range(m):
            a = (diag[i] - en) * inv_t
            pn = a * p - q
            q = p
            p = pn
            nrm = np.sqrt(p * p + q * q)
            # renormalise every step: exact bookkeeping of the growth, never overflows
            acc += np.log(nrm)
            p /= nrm
            q /= nrm
        out[e] = acc
    return out


def log_growth_reference(diag, hopping, energies, v0, v1):
    """Plain NumPy twin of :func:`log_growth`: multiplies explicit 2 x 2 matrices (vectorized
    over energies), renormalising after each one."""
    diag = np.asarray(diag, dtype=float)
    energies = np.atleast_1d(np.asarray(energies, dtype=float))
    vec = np.tile(np.array([v0, v1], dtype=float), (energies.size, 1))
    acc = -np.log(np.hypot(v0, v1)) * np.ones(energies.size)
    for d in diag:
        a = (d - energies) / hopping
        tm = np.zeros((energies.size, 2, 2))
        tm[:, 0, 0] = a
        tm[:, 0, 1] = -1.0
        tm[:, 1, 0] = 1.0
        vec = np.einsum("kij,kj->ki", tm, vec)
        nrm = np.linalg.norm(vec, axis=1)
        acc += np.log(nrm)
        vec /= nrm[:, None]
    return acc
