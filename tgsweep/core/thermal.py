"""Thermal (Gibbs) states of the Tonks-Girardeau gas on a ring, exactly (no Monte Carlo).

Units hbar^2/2m = 1, k_B = 1: the temperature T is in the energy unit of the model, beta = 1/T.

Formulas (derived in docs/references.md, §8 (Finite temperature); checked against full-Fock-
space ED in tests/test_thermal_ed.py)
--------------------------------------------------------------------------------------------
Jordan-Wigner: b+_x b_y = c+_x S_xy c_y for x < y, S_xy = prod_{x<l<y} (-1)^{n_l}; in the
N-particle sector the boson twist theta becomes the fermion twist theta + pi (N - 1).  Let
h_s (s = A: fermion twist theta + pi, s = P: theta) be the one-particle operators, W_s their
Boltzmann factors e^{-beta (eps - mu)}, and Gamma(G) the Fock-space lift of a one-body matrix G,
Tr Gamma(G) = det(1 + G).  With D = 1 - 2 P_S:

    Tr[Gamma(G) c+_x c_y] = det(1 + G) [G (1 + G)^{-1}]_yx                            (1)
                          = det(1 + G) - det(1 + G (1 - E_xy))          (Rigol, PRA 72, 063607 (2005))

and in the (truncated) eigenbasis U of h_s, for G = z U W U+ D (fugacity factor z; z = +-1 in
the grand canonical ensemble, z = r e^{i kappa} for the number projection):

    T_z(x, y) = det R * u(y)^T R^{-1} (z W conj(u(x))),   R = 1 + z W (1 - 2 Q),          (2)
    Q_nm = sum_{x<l<y} conj(u_n(l)) u_m(l).

Rows of R are rescaled by 1/max(1, |z w_n|) (exact, log-scaled), and every T_z is divided by
det(1 + |z| W) (|T_z| <= Tr[|z|^N e^{-beta H}] = det(1 + |z| W) since c+_x S c_y has norm 1),
so the kernel values o_z are O(1) at any temperature.  For z > 0 the combination is the T = 0
Lenard/Rigol-Muramatsu determinant with orbitals sqrt(f) u, f = z w / (1 + z w) (Pezer-Buljan
form).  Every term (z > 0, z = -1, complex z) is evaluated by the grouped kernel for a general
diagonal Phi of :mod:`tgsweep.core._thermal_kernels` after the exact rewriting
T e^{-shift} = P * (-det [[0, v(x)^H], [v(y), Phi - 2 sum_S v v^H]]) (Phi = I for z > 0;
docs/references.md §8 "Grouped thermal kernel"): the O(M^2 k^2 / g) cost of the T = 0 kernel,
with g + 1 = GROUP_THERMAL + 1 rows per master sweep (``LENARD_BY_GENERAL = False`` sends the
z > 0 terms to the T = 0 kernel instead, :func:`tgsweep.core.obdm.upper_rows_lattice`).
:meth:`ThermalState.window_rows` evaluates the same terms on a window of the ring (the banded
thermal OBDM, :func:`tgsweep.core.band.obdm_band_thermal`).

* Grand canonical (mu): parity projections (1 +- (-1)^N)/2 on both sectors,

    Xi = (1/2) [det(1 + W_A) + det(1 - W_A) + det(1 + W_P) - det(1 - W_P)],          (3)

  and every expectation value is the same four-term combination of the traces (1) with
  z = +1, -1 per sector.  Signed log-determinants: det(1 - W) = det(1 + W) prod tanh(beta xi/2).
* Canonical (N fixed, fermion twist theta + pi (N - 1)): Z_N = [z^N] det(1 + z W), and likewise
  for (2); the coefficient is taken by a K-point discrete Fourier transform on the circle
  |z| = r, r = e^{beta mu*} with mu* the saddle point (grand-canonical <N> = N at mu*).  The
  aliasing error is bounded by eps_K = sum_{l != 0} P_r(N + l K) / P_r(N), P_r the (Poisson-
  binomial) free-fermion number distribution at fugacity r (because |T_{N'}| <= Z_{N'}); K is the
  smallest value with eps_K <= ``tol`` (K = k + 1 is exact).  Thermodynamics (Z_N, E) from the
  exact, positive recursion for P_r.

Truncation: orbitals with Boltzmann weight below ``tol`` / M are dropped.  Replacing the dropped
levels by empty ones changes the (unnormalized) Gibbs operator by a positive operator of trace
<= Tr e^{-beta K} sum_dropped p_n, so every |<A>| with ||A|| <= 1 (every entry of the lattice
gamma) moves by at most 2 sum_dropped p_n times the cancellation factor: ``truncation_error``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..models.ring import Ring, fermion_twist, is_real_twist
from . import _thermal_kernels as TK
from .obdm import obdm_stride, upper_rows_lattice
from .spectrum import count_at_most, eigenpairs, eigenvalues

# scipy.special and scipy.optimize are imported inside the two functions that use them
# (saddle_mu, _canonical), not here: together they cost about half of `import tgsweep`
# (~0.2 s each on the benchmark machine; scipy.optimize parses its docstrings at import), and
# only canonical thermal states need them

__all__ = ["ThermalState", "thermal_state", "thermal_evolve", "ENSEMBLES", "poisson_binomial",
           "saddle_mu", "log_char_poly"]

ENSEMBLES = ("grand", "canonical")
#: default bound on the truncation and aliasing errors of every lattice gamma entry
TOL = 1e-14
#: determinant-ratio threshold for a fresh inverse in the grouped thermal kernel
TOL_DEN = 1e-3
#: Sherman-Morrison steps between fresh inverses (rounding drift)
REFRESH = 256
#: smallest elimination pivot of a group's small system before exact small determinants
TOL_PIV = 1e-2
#: condition number above which the grouped kernel uses bordered determinants for a column
COND_GROUP = 1e5
#: |Phi_n| below which an entry of Phi starts as a pending vector in the grouped kernel
PHI_MIN = 1e-3
#: rings (windows) up to this many sites skip the prefix checkpoints of the grouped kernel
PREFIX_MIN = 1024
#: rows per master sweep of the general-Phi grouped kernel, minus one (its per-column cost is
#: O(k^2 + g k + g^3): g = 24 halves the time of g = 8 at k ~ 120)
GROUP_THERMAL = 24
#: z > 0 terms (Phi = I, the Lenard form) by the general-Phi kernel too (its larger group)
LENARD_BY_GENERAL = True


@dataclass(frozen=True, eq=False)
class _Term:
    """One trace (2): orbitals u (M, k), row-scaled scalars a, c, scale shift; weight w_t;
    ``lenard``: z > 0 (a, c real, f = c/a in (0, 1]), evaluated by the T = 0 kernel."""

    u: np.ndarray
    energies: np.ndarray
    phi: float
    a: np.ndarray
    c: np.ndarray
    shift: float
    weight: complex
    lenard: bool

    def q(self) -> np.ndarray:
        """q_n = Tr[Gamma(G) n_n] / det(1 + |z| W) = c_n prod_{m != n} a_m e^{-shift} (safe)."""
        zero = self.a == 0
        la = np.log(np.where(zero, 1.0, np.abs(self.a))) if self.a.size else np.zeros(0)
        ph = self.a / np.where(zero, 1.0, np.abs(self.a))
        if np.count_nonzero(zero) > 1:
            return np.zeros(self.a.size, dtype=self.a.dtype)
        tot = np.sum(la[~zero])
        phase = np.prod(ph[~zero])
        if np.any(zero):
            out = np.zeros(self.a.size, dtype=np.result_type(self.a, self.c, complex))
            n0 = int(np.flatnonzero(zero)[0])
            out[n0] = self.c[n0] * phase * np.exp(tot - self.shift)
            return out
        return self.c / self.a * phase * np.exp(tot - self.shift)

    def zeta(self) -> complex:
        """det(1 + z W) / det(1 + |z| W) (truncated)."""
        if np.any(self.a == 0):
            return 0.0
        return complex(np.prod(self.a / np.abs(self.a)) * np.exp(np.sum(np.log(np.abs(self.a)))
                                                              - self.shift))

    def rows(self, x0: int, x1: int) -> np.ndarray:
        """o_t(x, y) for x0 <= x < x1, y >= x (zeros below), shape (x1 - x0, M)."""
        m, k = self.u.shape
        if k == 0:
            return np.zeros((x1 - x0, m))
        if self.lenard and not LENARD_BY_GENERAL:
            v = np.ascontiguousarray(self.u * np.sqrt(self.c / self.a)[None, :])
            return upper_rows_lattice(v, x0, x1)
        return _term_rows(self.u, self.a, self.c, self.shift, x0, x1)


def _term_rows(u, a, c, shift, x0, x1):
    """Rows x0 <= x < x1 (y >= x, zeros below) of T(x, y) e^{-shift} for the trace (2) with
    per-orbital scalars a, c: the exact rewriting T e^{-shift} = P g(x, y) with a diagonal Phi
    (:func:`tgsweep.core._thermal_kernels.general_form`), evaluated by the grouped sweep
    :func:`tgsweep.core._thermal_kernels.general_rows` (groups of GROUP_THERMAL + 1 rows per
    master sweep).  Shape (x1 - x0, M)."""
    m = u.shape[0]
    form = TK.general_form(u, a, c, shift)
    dt0 = np.result_type(u.dtype, np.asarray(a).dtype, np.asarray(c).dtype)
    if form is None or form[0].shape[1] == 0:
        # no coupled orbital (or two decoupled rows with a_n = 0): every value is 0
        return np.zeros((x1 - x0, m), dtype=dt0)
    v, phi, lpref, ppref = form
    real = v.dtype == np.float64 and phi.dtype == np.float64 and np.imag(ppref) == 0
    dt = np.float64 if real else np.complex128
    pp = float(np.real(ppref)) if real else complex(ppref)
    mode = 1 if v.dtype == np.float64 else (2 if phi.dtype == np.float64 else 0)
    k = v.shape[1]
    if m <= PREFIX_MIN:
        # one checkpoint (zeros): a rebuild sums its string afresh, O(M k^2) like its inverse
        stride = m + 1
        q = np.zeros((1, k, k), dtype=v.dtype)
    else:
        stride = obdm_stride(m, k, np.dtype(dt).itemsize)
        q = TK.general_prefix(v, stride)
    out = np.zeros((x1 - x0, m), dtype=dt)
    TK.general_rows(v, phi, lpref, pp, q, stride, out, x0, x0, x1, GROUP_THERMAL, TOL_DEN,
                    TOL_PIV, COND_GROUP, PHI_MIN, max(REFRESH, 4 * k), mode)
    return out


def _scalars(rho: np.ndarray, kappa: float):
    """Row-scaled a, c for z w_n = e^{rho_n + i kappa}; shift = ln det Lambda + ln det(1 + |zW|)."""
    top = np.maximum(rho, 0.0)
    if kappa == 0.0:
        ph = 1.0
    elif kappa == np.pi:
        ph = -1.0
    else:
        ph = np.exp(1j * kappa)
    c = np.exp(rho - top) * ph
    a = np.exp(-top) + c
    shift = float(-np.sum(top) + np.sum(np.logaddexp(0.0, rho)))
    return np.asarray(a), np.asarray(c), shift


def log_char_poly(ring: Ring, phi0: float, energies) -> np.ndarray:
    """log f0(E) at complex energies E, f0 = Delta(E) - 2 cos phi0 = t^{-M} det(H_phi0 - E) for
    phi0 in {0, pi}: log-scaled transfer matrices (numba kernel
    :func:`tgsweep.core._thermal_kernels.log_char_poly`, NumPy twin alongside)."""
    es = np.ascontiguousarray(np.atleast_1d(energies), dtype=np.complex128)
    return TK.log_char_poly(np.ascontiguousarray(ring.diag), float(ring.hopping),
                            float(np.cos(phi0)), es)


def poisson_binomial(p: np.ndarray, energies: np.ndarray | None = None):
    """P(n) = Prob(n of the independent modes occupied), n = 0..k, for occupation probabilities
    p (free fermions at fixed fugacity); with ``energies`` also A(n) = E[sum eps 1_occ; n]
    (so that the canonical energy is A(N)/P(N)).  Exact positive recursion (energies shifted to be
    >= 0), O(k^2)."""
    k = p.size
    prob = np.zeros(k + 1)
    prob[0] = 1.0
    acc = np.zeros(k + 1) if energies is not None else None
    e0 = float(np.min(energies)) if energies is not None and k else 0.0
    for j in range(k):
        pj = p[j]
        if acc is not None:
            ej = energies[j] - e0
            new = (1 - pj) * acc
            new[1:] += pj * (acc[:-1] + ej * prob[:-1])
            acc = new
        nxt = (1 - pj) * prob
        nxt[1:] += pj * prob[:-1]
        prob = nxt
    if acc is None:
        return prob
    return prob, acc + e0 * np.arange(k + 1) * prob


@dataclass(frozen=True, eq=False)
class ThermalState:
    """Gibbs state of hard-core bosons on a ring (grand canonical at mu, or canonical at N).

    Attributes
    ----------
    ring, temperature (T > 0, energy units), ensemble ("grand" | "canonical"), mu (grand; the
    saddle-point fugacity mu* for canonical), twist (boson theta).
    log_z : ln Xi (grand: Tr e^{-beta (H - mu N)}) or ln Z_N (canonical).
    mean_n : <N> (canonical: N).
    energy : <H> (units of H).
    truncation_error : bound on the change of any lattice gamma entry from dropped orbitals.
    alias_error : bound on the number-projection aliasing error (canonical; 0 for grand).
    cancellation : sum of the sector magnitudes / |Xi| or the DFT loss factor 1 / P_r(N) (>= 1):
        the amplification of rounding errors in the combination of terms.
    n_projection : K, the number of DFT points (canonical; 0 for grand).
    """

    ring: Ring
    temperature: float
    ensemble: str
    mu: float
    twist: float
    log_z: float
    mean_n: float
    energy: float
    truncation_error: float
    alias_error: float
    cancellation: float
    n_projection: int
    n_fixed: int | None
    terms: tuple = field(repr=False)
    real: bool = field(repr=False)
    tol: float = field(default=TOL, repr=False)

    @property
    def n_particles(self):
        """Fixed N (canonical) or <N> (grand canonical)."""
        return self.n_fixed if self.n_fixed is not None else self.mean_n

    @property
    def free_energy(self) -> float:
        """F = -T ln Z_N (canonical) or the grand potential Omega = -T ln Xi (grand)."""
        return -self.temperature * self.log_z

    @property
    def n_orbitals(self) -> int:
        """Largest number of orbitals kept in one term (N_eff of the cost O(M^2 N_eff^2))."""
        return max((t.u.shape[1] for t in self.terms), default=0)

    def _combine(self, vals):
        s = sum(t.weight * v for t, v in zip(self.terms, vals))
        return np.real(s) if self.real else s

    def density(self) -> np.ndarray:
        """<n(x_i)> per unit length (lattice: per site), exact, O(M k)."""
        m = self.ring.n_grid
        vals = [(np.abs(t.u) ** 2) @ t.q() if t.u.shape[1] else np.zeros(m) for t in self.terms]
        rho = np.real(self._combine(vals)) if self.terms else np.zeros(m)
        return rho / self.ring.weight

    def upper_rows(self, x0: int, x1: int) -> np.ndarray:
        """Rows x0 <= x < x1 of the lattice <b+_x b_y>, y >= x (zeros below), O((x1-x0) M)."""
        m = self.ring.n_grid
        if not self.terms:
            return np.zeros((x1 - x0, m))
        return self._combine([t.rows(x0, x1) for t in self.terms])

    def window_rows(self, x0: int, nrows: int, nwin: int) -> np.ndarray:
        """The short-string values of the lattice <b+_x b_y> on the window of sites
        x0 .. x0 + nwin - 1 (mod M): out[i, j] for x = x0 + i (i < nrows), y = x0 + j, j >= i
        (zeros below), shape (nrows, nwin), nwin <= M.

        Each trace (2) depends on the orbitals at the sites x .. y only (the string runs strictly
        between x and y), so every term is evaluated on the window with its orbitals continued
        across the twisted bond, u(z + M) = e^{i phi_s} u(z) (phi_s the term's fermion twist).
        The gauge transformation that moves the boson twist theta onto the bond (x0 - 1, x0)
        conserves N and commutes with every Gibbs weight, so the terms combine with the same
        weights; a value with y >= M is the boson correlation continued, whose matrix entry is
        e^{-i theta} times it (as for T = 0, docs/references.md §10).  Cost O(nrows nwin k^2 /
        GROUP_THERMAL) per term."""
        m = self.ring.n_grid
        if not 0 < nwin <= m:
            raise ValueError(f"nwin: must lie in [1, {m}], got {nwin!r}")
        if not self.terms:
            return np.zeros((nrows, nwin))
        idx = x0 + np.arange(nwin)
        wrapped = idx >= m
        vals = []
        for t in self.terms:
            if t.u.shape[1] == 0:
                vals.append(np.zeros((nrows, nwin)))
                continue
            if t.u.dtype == np.float64:
                ph = float(np.round(np.cos(t.phi)))
            else:
                ph = np.exp(1j * t.phi)
            sub = t.u[idx % m] * np.where(wrapped, ph, 1.0)[:, None]
            vals.append(_Term(np.ascontiguousarray(sub), t.energies, t.phi, t.a, t.c, t.shift,
                              t.weight, t.lenard).rows(0, nrows))
        return self._combine(vals)

    def lattice_obdm(self) -> np.ndarray:
        """Full M x M lattice <b+_x b_y> (Hermitian)."""
        g = self.upper_rows(0, self.ring.n_grid)
        return np.triu(g) + np.triu(g, 1).conj().T


def _sector(ring: Ring, phi: float, e_cut: float, method: str, k_min: int = 0):
    k = min(ring.n_grid, max(count_at_most(ring, phi, e_cut), k_min))
    w, v = eigenpairs(ring, phi, 0, k, method=method) if k else (np.zeros(0),
                                                                 np.zeros((ring.n_grid, 0)))
    nxt = float(eigenvalues(ring, phi, k, k + 1)[0]) if k < ring.n_grid else np.inf
    return np.asarray(w), np.ascontiguousarray(v), nxt


def _check_common(ring, temperature, twist):
    if not isinstance(ring, Ring):
        raise TypeError("ring: must be a tgsweep.Ring")
    t = float(temperature)
    if not (np.isfinite(t) and t > 0):
        raise ValueError(f"temperature: must be a finite number > 0, got {temperature!r}")
    if not np.isfinite(twist):
        raise ValueError(f"twist: must be finite, got {twist!r}")
    return t


def thermal_state(ring: Ring, temperature: float, *, mu: float | None = None,
                  n_particles: int | None = None, ensemble: str = "grand", twist: float = 0.0,
                  tol: float = TOL, method: str = "auto") -> ThermalState:
    """The Gibbs state of hard-core bosons on ``ring`` at temperature T (k_B = 1).

    ensemble="grand": needs ``mu`` (e^{-beta (H - mu N)} over all N, both fermion parity
    sectors); ensemble="canonical": needs ``n_particles`` (e^{-beta H} at fixed N).  ``twist`` is
    the boson twist theta.  ``tol`` bounds the truncation and aliasing errors of each lattice
    gamma entry (both reported on the state).  Cost: eigenpairs of the kept levels (E <= mu +
    T ln(M / tol)), then O(M^2 k^2) per term for gamma (4 terms grand, about K/2 canonical).
    """
    t = _check_common(ring, temperature, twist)
    if ensemble not in ENSEMBLES:
        raise ValueError(f"ensemble: must be one of {ENSEMBLES}, got {ensemble!r}")
    if not (0 < tol < 1):
        raise ValueError(f"tol: must lie in (0, 1), got {tol!r}")
    if ensemble == "grand":
        if mu is None or n_particles is not None:
            raise ValueError("mu: the grand-canonical ensemble needs mu (and no n_particles)")
        if not np.isfinite(mu):
            raise ValueError(f"mu: must be finite, got {mu!r}")
        return _grand(ring, t, float(mu), float(twist), tol, method)
    if n_particles is None or mu is not None:
        raise ValueError("n_particles: the canonical ensemble needs n_particles (and no mu)")
    n = int(n_particles)
    if n != n_particles or not 0 <= n <= ring.n_grid:
        raise ValueError(f"n_particles: must be an integer in [0, {ring.n_grid}], "
                         f"got {n_particles!r}")
    return _canonical(ring, t, n, float(twist), tol, method)


def _grand(ring, t, mu, twist, tol, method):
    beta = 1.0 / t
    m = ring.n_grid
    e_cut = mu + t * np.log(m / tol)
    sectors = []
    for phi in (fermion_twist(twist, 2), fermion_twist(twist, 1)):  # A: theta + pi, P: theta
        w, v, nxt = _sector(ring, phi, e_cut, method)
        rho = -beta * (w - mu)
        sectors.append((phi, w, v, rho, nxt, float(np.sum(np.logaddexp(0.0, rho)))))
    l0 = max(s[5] for s in sectors)
    raw = []
    for (phi, w, v, rho, nxt, ld), sgn_p in zip(sectors, (1.0, -1.0)):
        for kappa, coef in ((0.0, 0.5), (np.pi, 0.5 * sgn_p)):
            a, c, shift = _scalars(rho, kappa)
            raw.append((v, w, phi, a, c, shift, coef * np.exp(ld - l0), kappa == 0.0))
    proto = [_Term(v, w, ph, a, c, sh, 1.0, len_) for v, w, ph, a, c, sh, _, len_ in raw]
    ztil = sum(r[6] * p.zeta() for r, p in zip(raw, proto)).real
    if not ztil > 0:
        raise FloatingPointError("grand partition function not positive: cancellation")
    terms = tuple(_Term(p.u, p.energies, p.phi, p.a, p.c, p.shift, r[6] / ztil, p.lenard)
                  for r, p in zip(raw, proto))
    real = all(is_real_twist(s[0]) for s in sectors)
    mean_n = float(np.real(sum(tt.weight * np.sum(tt.q()) for tt in terms)))
    energy = float(np.real(sum(tt.weight * np.sum(tt.energies * tt.q()) for tt in terms)))
    canc = sum(np.exp(s[5] - l0) for s in sectors) / ztil
    drop = max((m - s[1].size) * np.exp(-beta * (s[4] - mu)) if np.isfinite(s[4]) else 0.0
               for s in sectors)
    return ThermalState(ring, t, "grand", mu, twist, float(l0 + np.log(ztil)), mean_n, energy,
                        float(2 * drop * canc), 0.0, float(canc), 0, None, terms, real, tol)


def saddle_mu(w, beta, n):
    """mu* with sum_n fermi(beta (w_n - mu*)) = n (0 < n < k)."""
    from scipy.optimize import brentq  # lazily: see the note at the imports
    from scipy.special import expit

    def g(mu):
        return float(np.sum(expit(-beta * (w - mu)))) - n
    lo, hi = w[0] - 1.0, w[-1] + 1.0
    while g(lo) > 0:
        lo -= 2 * (hi - lo)
    while g(hi) < 0:
        hi += 2 * (hi - lo)
    return brentq(g, lo, hi, xtol=1e-14 * max(1.0, abs(lo), abs(hi)), maxiter=500)


def _canonical(ring, t, n, twist, tol, method, pair=True):
    from scipy.special import expit  # lazily: see the note at the imports

    beta = 1.0 / t
    m = ring.n_grid
    phi = fermion_twist(twist, n) if n else float(twist)
    real_u = is_real_twist(phi)
    pair = pair and real_u  # o(conj z) = conj o(z) for real orbitals: half the DFT points
    if n == 0:
        return ThermalState(ring, t, "canonical", -np.inf, twist, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0,
                            0, 0, (), True)
    # first guess of the saddle point from the N + 16 lowest levels, then cut at
    # mu* + T ln(M / tol) + margin and re-check the truncation bound
    k0 = min(m, n + 16)
    w0 = eigenvalues(ring, phi, 0, k0)
    mu_s = saddle_mu(w0, beta, n) if n < k0 else w0[-1] + 40 * t
    margin = 2.0
    while True:
        w, v, nxt = _sector(ring, phi, mu_s + t * (np.log(m / tol) + margin), method, k_min=n)
        k = w.size
        mu_s = saddle_mu(w, beta, n) if n < k else w[-1] + 40 * t
        rho = -beta * (w - mu_s)
        p = expit(rho)
        prob, acc = poisson_binomial(p, w)
        ratio = prob[n - 1] / prob[n] if n >= 1 else 0.0
        drop = (m - k) * np.exp(-beta * (nxt - mu_s)) * ratio if np.isfinite(nxt) else 0.0
        if 2 * drop <= tol or k == m:
            break
        margin += 5.0
    # number projection: smallest K with the aliasing bound <= tol
    kk = k + 1
    alias = 0.0
    for kdft in range(1, k + 2):
        ls = [n + l * kdft for l in range(-(n // kdft), (k - n) // kdft + 1) if l != 0]
        eps = float(np.sum(prob[ls]) / prob[n]) if ls else 0.0
        if eps <= tol:
            kk, alias = kdft, eps
            break
    js = range(kk // 2 + 1) if pair else range(kk)
    proto = []
    for j in js:
        kappa = 2 * np.pi * j / kk
        mult = 1.0 if (not pair or j == 0 or 2 * j == kk) else 2.0
        a, c, shift = _scalars(rho, kappa if j else 0.0)
        proto.append((_Term(v, w, phi, a, c, shift, 1.0, j == 0),
                      mult * np.exp(-1j * kappa * n)))
    den = sum(cf * tt.zeta() for tt, cf in proto)
    den = den.real if pair else den
    terms = tuple(_Term(tt.u, tt.energies, tt.phi, tt.a, tt.c, tt.shift, cf / den, tt.lenard)
                  for tt, cf in proto)
    log_z = float(np.log(prob[n]) - n * beta * mu_s + np.sum(np.logaddexp(0.0, rho)))
    energy = float(acc[n] / prob[n])
    canc = 1.0 / prob[n]
    return ThermalState(ring, t, "canonical", float(mu_s), twist, log_z, float(n), energy,
                        float(2 * drop), float(2 * alias / max(1e-300, 1 - alias)), float(canc),
                        kk, n, terms, pair, tol)


def thermal_evolve(state: ThermalState, ring: Ring, time: float) -> ThermalState:
    """The Gibbs state ``state`` evolved for ``time`` under the Hamiltonian of ``ring`` (a quench,
    e.g. trap release: same grid, another potential), exactly.

    rho_t = e^{-iH't} rho e^{iH't}.  H' conserves N and maps, in each parity sector, to the
    one-particle h'_s with the sector's fermion twist, so Gamma(G) -> Gamma(U_t G U_t^+),
    U_t = e^{-i h'_s t}: every term keeps its weights and its orbitals evolve, u -> U_t u (the
    fermionic one-body density matrix evolves unitarily and the bosonic gamma_t follows from the
    same formulas).  The returned state's gamma / density / upper_rows are at time t; its
    thermodynamic attributes (log_z, energy, ...) are those of the initial Gibbs state.
    Dense eigendecomposition of h'_s (M up to a few thousand).
    """
    if not isinstance(state, ThermalState):
        raise TypeError("state: must be a ThermalState")
    if ring.n_grid != state.ring.n_grid or ring.kind != state.ring.kind:
        raise ValueError("ring: the quench must keep the grid (same kind and number of points)")
    if not np.isfinite(time):
        raise ValueError(f"time: must be finite, got {time!r}")
    if state.ensemble == "canonical" and state.real:
        # the conjugate-pair shortcut needs real orbitals: rebuild with every DFT point
        state = _canonical(state.ring, state.temperature, state.n_fixed, state.twist, state.tol,
                           "auto", pair=False)
    props = {}
    terms = []
    for tt in state.terms:
        key = round(float(tt.phi), 15)
        if key not in props:
            e, vec = np.linalg.eigh(ring.matrix(tt.phi))
            props[key] = (vec * np.exp(-1j * e * time)) @ vec.conj().T
        u = np.ascontiguousarray(props[key] @ tt.u)
        terms.append(_Term(u, tt.energies, tt.phi, tt.a, tt.c, tt.shift, tt.weight, tt.lenard))
    return ThermalState(state.ring, state.temperature, state.ensemble, state.mu, state.twist,
                        state.log_z, state.mean_n, state.energy, state.truncation_error,
                        state.alias_error, state.cancellation, state.n_projection,
                        state.n_fixed, tuple(terms), False, state.tol)
