"""Lyapunov exponents (inverse localization lengths) of the one-particle operator.

Convention: gamma(E) is the *amplitude* exponent, psi ~ e^{-gamma |x|}, in inverse length units
(continuum: per unit length, hbar^2/2m = 1; lattice: per site).

* :func:`lyapunov` -- finite-sample estimate (1/L) ln ||T_L(E)|| from the transfer matrices of
  a :class:`~tgsweep.models.ring.Ring` (one traversal of the ring, the monodromy matrix) or of a
  bare potential array; converges to gamma(E) almost surely as L -> infinity, with O(1/L) bias
  and O((gamma/L)^{1/2}) sample-to-sample spread.
* Closed forms used as references: :func:`thouless_lyapunov` (Anderson lattice, weak disorder),
  :func:`kappus_wegner_lyapunov` (its band-centre anomaly), :func:`aubry_andre_lyapunov`,
  :func:`halperin_lyapunov` (continuum Gaussian white noise, exact).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ..core import kernels as K
from ..models.ring import Ring
from .declaration import Coord, Observable, Option, Variable, real_list

__all__ = ["lyapunov", "lyapunov_chain", "thouless_lyapunov", "kappus_wegner_lyapunov",
           "aubry_andre_lyapunov", "halperin_lyapunov", "KAPPUS_WEGNER_RATIO", "LYAPUNOV",
           "OBSERVABLES"]

#: gamma_KW(0) / gamma_Thouless(0) = 8 Gamma(3/4)^2 / Gamma(1/4)^2 = 0.913893...
KAPPUS_WEGNER_RATIO = float(8.0 * special.gamma(0.75) ** 2 / special.gamma(0.25) ** 2)


def lyapunov_chain(diag, hopping: float, energies, spacing: float = 1.0) -> np.ndarray:
    """Lyapunov exponent estimate of the chain -t psi_{i+1} - t psi_{i-1} + d_i psi_i = E psi_i.

    Parameters
    ----------
    diag : (M,) array, the diagonal d_i (lattice: eps_i; finite-difference continuum:
        V_i + 2/h^2).
    hopping : t > 0 (continuum: 1/h^2).
    energies : scalar or (K,) array, E in the units of ``diag``.
    spacing : grid spacing h; the result is per unit length, (1/(M h)) ln ||T_M(E)||.

    Returns
    -------
    (K,) float array (0-d input gives shape (1,)).  The operator norm of the product is
    estimated by the larger of its two column norms, which is within a factor sqrt(2) of it
    (bias at most ln(2)/(2 M h)).
    """
    d = np.ascontiguousarray(diag, dtype=np.float64)
    if d.ndim != 1 or d.size < 1:
        raise ValueError("diag: must be a non-empty 1-d array")
    if not (np.isfinite(hopping) and hopping > 0):
        raise ValueError(f"hopping: must be a positive number, got {hopping!r}")
    e = np.ascontiguousarray(np.atleast_1d(energies), dtype=np.float64)
    if e.ndim != 1:
        raise ValueError("energies: must be a scalar or a 1-d array")
    g1 = K.log_growth(d, float(hopping), e, 1.0, 0.0)
    g2 = K.log_growth(d, float(hopping), e, 0.0, 1.0)
    return np.maximum(g1, g2) / (d.size * float(spacing))


def lyapunov(ring: Ring, energies, repeat: int = 1) -> np.ndarray:
    """Lyapunov exponent gamma(E) of ``ring``'s one-particle operator from its transfer matrices.

    Parameters
    ----------
    ring : Ring.continuum (finite differences: psi_{i+1} = (2 + h^2 (V_i - E)) psi_i - psi_{i-1},
        result per unit length) or Ring.lattice (psi_{i+1} = ((eps_i - E)/t) psi_i - psi_{i-1},
        result per site).
    energies : scalar or (K,) array of energies (units of H: hbar^2/2m = 1, or the lattice's).
    repeat : go round the ring this many times (the monodromy to the power ``repeat``); for a
        disordered ring ``repeat=1`` is the finite-ring estimate (1/L) ln ||T_L(E)||.  For
        E inside the clean band the estimate vanishes like O(1/L).

    Returns
    -------
    (K,) float array, inverse length units (continuum: 1/unit length, lattice: 1/site).
    """
    if not isinstance(ring, Ring):
        raise TypeError("ring: must be a tgsweep.Ring (use lyapunov_chain for bare arrays)")
    reps = int(repeat)
    if reps < 1:
        raise ValueError(f"repeat: must be a positive integer, got {repeat!r}")
    diag = np.tile(ring.diag, reps) if reps > 1 else ring.diag
    return lyapunov_chain(diag, ring.hopping, energies, ring.spacing)


def thouless_lyapunov(energy, width: float, hopping: float = 1.0):
    """Weak-disorder (second-order) gamma(E) = W^2 / (96 t^2 (1 - E^2/(4 t^2))) per site.

    Anderson lattice, eps_i uniform in [-W/2, W/2] (variance W^2/12); Thouless, J. Phys. C 5,
    77 (1972).  Valid for |E| < 2t away from E = 0 and the band edges (see
    :func:`kappus_wegner_lyapunov` for E = 0).
    """
    e = np.asarray(energy, dtype=float) / hopping
    return (width / hopping) ** 2 / (96.0 * (1.0 - e**2 / 4.0))


def kappus_wegner_lyapunov(width: float, hopping: float = 1.0) -> float:
    """Band-centre (E = 0) weak-disorder gamma = <eps^2> Gamma(3/4)^2 / (t^2 Gamma(1/4)^2).

    With <eps^2> = W^2/12: gamma(0) = W^2 / (105.045... t^2) = 0.91389 x Thouless.  Kappus &
    Wegner, Z. Phys. B 45, 15 (1981); Derrida & Gardner, J. Physique 45, 1283 (1984).  The
    coefficient is checked in tests/test_lyapunov.py against the transfer-matrix result.
    """
    return float((width / hopping) ** 2 / 12.0 * special.gamma(0.75) ** 2
                 / special.gamma(0.25) ** 2)


def aubry_andre_lyapunov(lam: float, hopping: float = 1.0) -> float:
    """Aubry-Andre eps_n = lam cos(2 pi beta n + phase), beta irrational: gamma = max(0, ln(lam/2t))
    for every E in the spectrum (exact; Aubry & Andre 1980, Avila's global theory)."""
    return float(max(0.0, np.log(lam / (2.0 * hopping))))


def halperin_lyapunov(energy, strength: float):
    """Exact gamma(E) for H = -d^2/dx^2 + V, V Gaussian white noise <V(x) V(y)> = D delta(x - y).

    gamma(E) = (D/2)^{1/3} (Ai Ai' + Bi Bi') / (Ai^2 + Bi^2) at xi = -E (2/D)^{2/3}
    (Halperin, Phys. Rev. 139, A104 (1965); Lifshits, Gredeskul & Pastur, "Introduction to the
    theory of disordered systems" (1988), ch. on white noise); the companion integrated density
    of states is N(E) = (D/2)^{1/3} / (pi^2 (Ai^2 + Bi^2)).  Limits: gamma -> D/(8E) for
    E -> +inf (Born), gamma -> sqrt(-E) for E -> -inf; gamma(0) = 0.28931 D^{1/3}.
    Units hbar^2/2m = 1; gamma per unit length.
    """
    d = float(strength)
    if not d > 0:
        raise ValueError(f"strength: must be positive, got {strength!r}")
    e = np.asarray(energy, dtype=float)
    s = (d / 2.0) ** (1.0 / 3.0)
    xi = np.atleast_1d(-e / s**2)
    out = np.empty(xi.shape)
    neg = xi <= 0
    ai, aip, bi, bip = special.airy(xi[neg])
    out[neg] = (ai * aip + bi * bip) / (ai**2 + bi**2)
    # xi > 0: exponentially scaled Airy functions, eAi = Ai e^{z}, eBi = Bi e^{-z}, z = 2/3 xi^1.5
    xp = xi[~neg]
    eai, eaip, ebi, ebip = special.airye(xp)
    w = np.exp(-(4.0 / 3.0) * xp**1.5)
    out[~neg] = (eai * eaip * w + ebi * ebip) / (eai**2 * w + ebi**2)
    out = s * out
    return out.reshape(e.shape) if e.ndim else float(out[0])


# ------------------------------------------------------------------------------ declaration
def _lyap_layout(geom, opts):
    e = np.asarray(opts["energies"], float)
    return ({"lyapunov": Variable(("energy_grid",), (e.size,), "1/length",
                                  "Lyapunov exponent gamma(E) = (1/L) ln ||T_L(E)|| of "
                                  "the finite ring")},
            {"energy_grid": Coord(e, "energy", "energy E")})


def _lyap_compute(ctx, opts):
    return {"lyapunov": lyapunov(ctx.ring, np.asarray(opts["energies"], float))}


LYAPUNOV = Observable(
    "lyapunov", _lyap_layout, _lyap_compute,
    options=(Option("energies", [0.0], real_list("energies"), "energies E"),),
    description="transfer-matrix Lyapunov exponents at given energies",
    localized=True)

OBSERVABLES = (LYAPUNOV,)
