"""Initial states of the release dynamics: Slater determinants of orthonormal orbitals.

By the Bose-Fermi map a TG state prepared as a Slater determinant of orbitals u_1..u_N is fully
described by them (fermionic one-particle density matrix Gamma = sum_alpha |u_alpha><u_alpha|);
:mod:`tgsweep.core.evolution` propagates them and :mod:`tgsweep.observables.dynamics` measures.
Orbitals are density-normalized (sum_i |u|^2 h = 1); energies in units hbar^2/2m = 1.

Initial states (each returns an :class:`InitialState`)
------------------------------------------------------
(a) :func:`domain_wall`: ground state of N particles confined to an interval K (default: the
    first half of the ring) by hard walls, in the (disordered) ring's own potential; released
    into the whole ring.  On the lattice with N = |K| it is the fully filled step 1_K.
(b) :func:`trap_release`: ground state in a harmonic or box trap, by default *without* the
    disorder (Billy et al., Nature 453, 891 (2008): the gas is prepared in a clean trap and
    released into the disordered guide).
(c) :func:`spectral_window`: the orbitals of H restricted to K (hard walls) with energies in a
    window J, i.e. Gamma = P_J(H_K) (+) 0, a projection localized in K.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from ..models.ring import Ring, fermion_twist, is_real_twist
from . import _dynamics_kernels as K
from ._lyapunov_kernels import log_growth
from ._spectrum_kernels import chain_count_below
from .spectrum import spectral_bounds
from .state import ground_state

__all__ = ["InitialState", "domain_wall", "trap_release", "spectral_window", "region_mask",
           "ring_distance_to_set"]


@dataclass(frozen=True, eq=False)
class InitialState:
    """A Slater determinant to be released into a ring.

    Attributes
    ----------
    orbitals : (M, N) array, density-normalized (sum_i |u|^2 h = 1), orthonormal; or a
        ``scipy.sparse.csc_array`` of the same shape (``domain_wall(..., basis="sites")``: no
        (M, N) array on large rings).
    twist : boson twist theta.
    fermion_twist : phi = theta + pi (N - 1) reduced to (-pi, pi]; the evolution uses H_phi.
    region : (M,) bool, the region K the particles start in (used for N_tr and distances).
    label : "domain_wall", "trap_release" or "spectral_window".
    energies : (N,) eigenvalues of the preparation Hamiltonian (units hbar^2/2m = 1).
    spacing : h of the ring it was built for (density normalization).
    count_error : bound on |int_S rho - int_S rho_exact| for every set S of grid points and,
        by unitarity, at every time of the evolution: how far the stored orbitals' Slater
        determinant is from the exact state (the sliced eigensolver of :func:`domain_wall`,
        see there); 0 for LAPACK's dense eigenvectors and the site basis (round-off only).
    """

    orbitals: np.ndarray
    twist: float
    fermion_twist: float
    region: np.ndarray
    label: str
    energies: np.ndarray
    spacing: float
    count_error: float = 0.0

    @property
    def n_particles(self) -> int:
        return int(self.orbitals.shape[1])

    @property
    def n_grid(self) -> int:
        return int(self.orbitals.shape[0])

    @property
    def lattice_orbitals(self) -> np.ndarray:
        """Orbitals normalized in the plain inner product, u sqrt(h)."""
        return self.orbitals * np.sqrt(self.spacing)

    def density(self) -> np.ndarray:
        """rho_0(x_i) = sum_alpha |u_alpha(x_i)|^2 (per unit length)."""
        u = self.orbitals
        if sp.issparse(u):
            return np.asarray(abs(u).power(2).sum(axis=1)).ravel()
        return np.sum(np.abs(u) ** 2, axis=1)


def region_mask(ring: Ring, region=None) -> np.ndarray:
    """Boolean mask (M,) of an interval K of the ring.

    Parameters
    ----------
    region : None, (a, b) or bool array (M,)
        None: the first half, grid points with x < L/2.  (a, b): points with a <= x < b in
        length units (x = i h), taken modulo L so that a > b wraps through x = 0.  An array is
        returned as a copy after a shape check.
    """
    m = ring.n_grid
    if region is None:
        return ring.x < ring.length / 2
    arr = np.asarray(region)
    if arr.dtype == bool:
        if arr.shape != (m,):
            raise ValueError(f"region: boolean mask must have shape ({m},), got {arr.shape}")
        return arr.copy()
    if arr.shape != (2,):
        raise ValueError("region: give None, (a, b) in length units, or a boolean mask")
    a, b = (float(v) % ring.length for v in arr)
    x = ring.x
    eps = 1e-9 * ring.spacing
    if a <= b:
        return (x >= a - eps) & (x < b - eps)
    return (x >= a - eps) | (x < b - eps)


def ring_distance_to_set(mask: np.ndarray) -> np.ndarray:
    """Graph distance (grid steps) of every grid point of the ring to the set ``mask``: 0 on the
    set, M everywhere if it is empty (O(M), NumPy twin in the kernels module)."""
    return K.ring_distance_to_set(mask)


def _restricted_matrix(ring: Ring, phi: float, mask: np.ndarray) -> np.ndarray:
    """The block of :meth:`Ring.matrix` on the sites of ``mask`` (built directly, without the
    M x M matrix: the same entries)."""
    idx = np.flatnonzero(mask)
    m = ring.n_grid
    real = is_real_twist(phi)
    h = np.zeros((idx.size, idx.size), dtype=np.float64 if real else np.complex128)
    a = np.arange(idx.size)
    h[a, a] = ring.diag[idx]
    nb = np.flatnonzero(np.diff(idx) == 1)
    h[nb, nb + 1] = -ring.hopping
    h[nb + 1, nb] = -ring.hopping
    if m > 2 and mask[0] and mask[m - 1]:
        c = ring.corner(phi)
        h[0, idx.size - 1] += c.real if real else c
        h[idx.size - 1, 0] += c.real if real else np.conj(c)
    return h


def _embed(ring: Ring, mask: np.ndarray, vecs: np.ndarray) -> np.ndarray:
    out = np.zeros((ring.n_grid, vecs.shape[1]), dtype=vecs.dtype)
    out[mask] = vecs
    return out / np.sqrt(ring.weight)


def domain_wall(ring: Ring, n_particles: int, region=None, twist: float = 0.0,
                basis: str = "eigen", method: str = "auto") -> InitialState:
    """(a) Ground state of ``n_particles`` confined by hard walls to the interval K.

    The orbitals are the N lowest eigenvectors of H_phi restricted to K (Dirichlet: zero on
    K^c), with the ring's own potential (disorder included) inside K.

    ``basis="sites"`` (lattice, N = |K| only): the filled step Gamma = 1_K in the basis of
    the site orbitals delta_y, y in K (the same Slater determinant up to a phase, and the most
    localized basis of it), stored as a sparse (M, N) matrix, without any eigensolve; its
    ``energies`` are then the Rayleigh quotients <delta_y|H|delta_y> = eps_y, whose sum is the
    state's energy tr(1_K H) as for the eigenbasis.

    ``method`` (basis "eigen"): "dense" (LAPACK ``eigh`` of the |K| x |K| block, O(|K|^2 N)
    time, O(|K|^2) memory), "sliced" or "auto" (sliced when K is one arc of more than
    :data:`SLICED_MIN` grid points, N < |K|, and the slicing certifies; dense otherwise).
    Sliced: H_K is an open chain; it is cut into cores with margins, each window solved below
    the energy cut E_c between levels N-1 and N (Sturm brackets) by LAPACK's MRRR (dstemr);
    a window's vector whose peak lies in its core is kept when t |v| at the window's cut ends
    is below 1e-14 ||H|| (the chain's own ends are hard walls: no cut there), margins grow
    by 1.5x where not; exactly N vectors must be accepted (the global Sturm count below E_c).
    O(|K| window) time, the orbitals stored sparse on their windows (the support propagator's
    input).  Its error is stated as ``count_error``: with U the stored (M, N) orbitals,
    G = U^H U, r_alpha = ||H_K u_alpha - E_alpha u_alpha|| (residuals with the full chain
    operator, plus a round-off allowance 8 eps ||H||) and lambda_N the first level above the
    cut (from below by a Sturm bracket),

        || U U^H - P ||_1 <= ||G - I||_1 + 2 sum_alpha [r_alpha / (lambda_N - E_alpha)]
                                          / sqrt(1 - ||G - I||_2)

    (trace norms; P the exact projector onto the lowest N eigenvectors of H_K).  The first
    term is U U^H against the orthogonal projector Q onto span U (their difference has the
    eigenvalues of G - I), bounded by min(sum |G - I|_ij, sqrt(N) ||G - I||_F); the second is
    ||Q - P||_1 = 2 ||P_perp U G^{-1/2}||_* (the sines of the principal angles), where column
    by column (H - E_alpha) P_perp u_alpha = P_perp r_alpha on the range of P_perp, whose
    spectrum lies at or above lambda_N (the one-vector Davis-Kahan bound: Davis & Kahan, SIAM
    J. Numer. Anal. 7, 1 (1970)), and ||G^{-1/2}|| <= (1 - ||G - I||_2)^{-1/2} with ||G - I||_2
    below the largest row sum of |G - I| (Schur test).  Every particle count
    int_S rho = tr(1_S U U^H) of the state, and of its unitary evolution, is then within that
    bound of the exact one (docs/references.md §5).

    Parameters
    ----------
    ring : Ring, the ring the gas is released into.
    n_particles : N, at most |K| (the number of grid points in K).
    region : see :func:`region_mask`; default the first half of the ring.
    twist : boson twist theta (radians).
    basis : "eigen" or "sites" (see above).
    method : "auto", "dense" or "sliced" (basis "eigen"; "sliced" raises ValueError where
        the slicing does not certify, e.g. clean rings).
    """
    mask = region_mask(ring, region)
    n = int(n_particles)
    if n != n_particles or n < 0 or n > int(mask.sum()):
        raise ValueError(f"n_particles: must be an integer in [0, {int(mask.sum())}] "
                         f"(grid points in the region), got {n_particles!r}")
    phi = fermion_twist(twist, n) if n else float(twist)
    if basis not in ("eigen", "sites"):
        raise ValueError(f"basis: must be 'eigen' or 'sites', got {basis!r}")
    if method not in ("auto", "dense", "sliced"):
        raise ValueError(f"method: must be 'auto', 'dense' or 'sliced', got {method!r}")
    if basis == "sites":
        if ring.kind != "lattice" or n != int(mask.sum()):
            raise ValueError(f"basis: 'sites' needs a lattice ring and n_particles = |K| = "
                             f"{int(mask.sum())} (the filled step), got {ring.kind} and "
                             f"{n_particles!r}")
        idx = np.flatnonzero(mask)
        u = sp.csc_array((np.ones(n), (idx, np.arange(n))), shape=(ring.n_grid, n))
        return InitialState(u, float(twist), phi, mask, "domain_wall",
                            np.asarray(ring.diag[idx], dtype=np.float64), ring.spacing)
    if n == 0:
        return InitialState(np.zeros((ring.n_grid, 0)), float(twist), phi, mask, "domain_wall",
                            np.zeros(0), ring.spacing)
    if method != "dense":
        arc = _single_arc(mask)
        sliced = None
        if arc is not None and n < arc[1] and (method == "sliced" or arc[1] > SLICED_MIN):
            sliced = _sliced_domain_wall(ring, phi, arc, n)
        if sliced is not None:
            u, w, err = sliced
            return InitialState(u, float(twist), phi, mask, "domain_wall", w, ring.spacing,
                                err)
        if method == "sliced":
            raise ValueError("method: 'sliced' needs K to be one arc with N < |K| on which the "
                             "orbitals are localized (no certified slicing here); use 'dense'")
    hk = _restricted_matrix(ring, phi, mask)
    w, v = sla.eigh(hk, subset_by_index=[0, n - 1], driver="evr")
    return InitialState(_embed(ring, mask, v), float(twist), phi, mask, "domain_wall", w,
                        ring.spacing)


#: domain_wall(method="auto") slices H_K when K has more grid points than this
SLICED_MIN = 1500

# sliced domain wall: accepted ratio t |v(cut end)| / ||H|| at a window's cut ends, stored
# entries (|v| above this; the residuals and overlaps are those of the stored vectors)
_CUT_TOL = 1e-14
_STORE_MIN = 1e-17


def _single_arc(mask: np.ndarray):
    """(start, length) if ``mask`` is one arc of consecutive ring sites (not the whole
    ring), else None."""
    m = mask.size
    k = int(mask.sum())
    if k == 0 or k == m:
        return None
    up = np.flatnonzero(mask & ~np.roll(mask, 1))      # first sites of runs
    if up.size != 1:
        return None
    return int(up[0]), k


def _chain_bracket(dd, t, j, lo, hi, abstol, pivmin):
    """[a, b] with count(a) <= j < count(b) (so a <= lambda_j < b), b - a <= abstol."""
    a, b = lo, hi
    while b - a > abstol:
        mid = 0.5 * (a + b)
        if mid <= a or mid >= b:
            break
        if chain_count_below(dd, t, mid, pivmin) <= j:
            a = mid
        else:
            b = mid
    return a, b


def _sliced_domain_wall(ring: Ring, phi: float, arc, n: int):
    """(orbitals (M, N) csc density-normalized, energies, count_error) of the N lowest
    eigenvectors of the open chain H_K on the arc, by spatial slicing; None where it does not
    certify (see :func:`domain_wall`)."""
    m = ring.n_grid
    s0, k = arc
    t = float(ring.hopping)
    pos = s0 + np.arange(k)                           # unwrapped ring positions of K
    dd = np.ascontiguousarray(ring.diag[pos % m], dtype=np.float64)
    lo, hi = spectral_bounds(ring)
    hnorm = max(abs(lo), abs(hi))
    eps = np.finfo(float).eps
    abstol = 4 * eps * hnorm
    pivmin = float(np.finfo(float).tiny / eps + eps**2 * max(t * t, 1.0))
    a1, b1 = _chain_bracket(dd, t, n - 1, lo - abstol, hi + abstol, abstol, pivmin)
    a2, b2 = _chain_bracket(dd, t, n, b1, hi + abstol, abstol, pivmin)
    if not b1 < a2:
        return None
    e_cut = 0.5 * (b1 + a2)
    es = np.linspace(lo, e_cut, 17)[1:]
    g = np.minimum(log_growth(dd, t, es, 1.0, 0.0), log_growth(dd, t, es, 0.0, 1.0)) / k
    gmin = float(np.min(g))
    if not gmin > 0:
        return None
    margin = max(16, int(np.ceil(np.log(1.0 / _CUT_TOL) / gmin)))
    if margin > k // 4:
        return None
    core = 3 * margin
    n_seg = max(2, int(round(k / core)))
    bounds = np.round(np.linspace(0, k, n_seg + 1)).astype(np.int64)
    cut = _CUT_TOL * hnorm
    max_window = min(k, 3 * core + 2 * (k // 4))
    energies, starts, values, group = [], [], [], []
    windows = []
    for seg in range(n_seg):
        c0, c1 = int(bounds[seg]), int(bounds[seg + 1])
        ml = mr = margin
        while True:
            w0, w1 = max(0, c0 - ml), min(k, c1 + mr)
            if w1 - w0 > max_window:
                return None
            w, z = _chain_window_pairs(dd[w0:w1], t, e_cut, pivmin)
            peak = np.argmax(np.abs(z), axis=0) + w0 if w.size else np.zeros(0, int)
            keep = (peak >= c0) & (peak < c1)
            w, z = w[keep], z[:, keep]
            grow_l = w0 > 0 and w.size and bool(np.any(t * np.abs(z[0]) > cut))
            grow_r = w1 < k and w.size and bool(np.any(t * np.abs(z[-1]) > cut))
            if not (grow_l or grow_r):
                break
            ml = int(np.ceil(1.5 * ml)) if grow_l else ml
            mr = int(np.ceil(1.5 * mr)) if grow_r else mr
        if w.size == 0:
            continue
        z = np.where(np.abs(z) > _STORE_MIN, z, 0.0)
        windows.append((w0, z, len(energies)))
        for j in range(w.size):
            energies.append(w[j])
            group.append(seg)
    if len(energies) != n:
        return None
    energies = np.asarray(energies)
    # residuals with the full chain operator, ||G - I||_F and the largest row sum of |G - I|
    r2 = np.zeros(n)
    gram_f2 = 0.0
    rowsum = np.zeros(n)
    for i, (w0, z, o) in enumerate(windows):
        hz = dd[w0:w0 + z.shape[0], None] * z
        hz[:-1] -= t * z[1:]
        hz[1:] -= t * z[:-1]
        hz -= z * energies[o:o + z.shape[1]][None, :]
        r2[o:o + z.shape[1]] = np.sum(hz * hz, axis=0)
        if w0 > 0:
            r2[o:o + z.shape[1]] += (t * z[0]) ** 2
        if w0 + z.shape[0] < k:
            r2[o:o + z.shape[1]] += (t * z[-1]) ** 2
        for (v0, y, p) in windows[i:]:
            a, b = max(w0, v0), min(w0 + z.shape[0], v0 + y.shape[0])
            if a >= b:
                continue
            gij = z[a - w0:b - w0].T @ y[a - v0:b - v0]
            if p == o:
                gij = gij - np.eye(gij.shape[0])
                gram_f2 += float(np.sum(gij * gij))
                rowsum[o:o + z.shape[1]] += np.abs(gij).sum(axis=1)
            else:
                gram_f2 += 2.0 * float(np.sum(gij * gij))
                rowsum[o:o + z.shape[1]] += np.abs(gij).sum(axis=1)
                rowsum[p:p + y.shape[1]] += np.abs(gij).sum(axis=0)
    # round-off allowance of the computed residual: a few eps ||H|| per vector
    r = np.sqrt(r2) + 8 * eps * hnorm
    g_norm = float(rowsum.max())                      # >= ||G - I||_2 (Schur test)
    gap = (a2 - 2 * abstol) - energies                # lambda_N - E_alpha, lambda_N >= a2
    if not (g_norm < 0.5 and np.all(gap > 0)):
        return None
    g_trace = min(float(rowsum.sum()), float(np.sqrt(n * gram_f2)))   # >= ||G - I||_1
    err = g_trace + 2.0 * float(np.sum(r / gap)) / np.sqrt(1.0 - g_norm)
    # the sparse (M, N) matrix in the ring gauge: sites reached across the bond (M-1, 0) carry
    # e^{-i phi} (the chain's hopping -t there is the ring's corner H[M-1, 0] = conj(corner))
    real = is_real_twist(phi)
    phase = np.cos(phi) if real else np.exp(-1j * phi)
    rows, cols, vals = [], [], []
    for w0, z, o in windows:
        nz_r, nz_c = np.nonzero(z)
        p = pos[w0 + nz_r]
        v = z[nz_r, nz_c]
        if np.any(p >= m):
            v = v * np.where(p >= m, phase, 1.0)
        rows.append(p % m)
        cols.append(o + nz_c)
        vals.append(v)
    rows, cols, vals = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    order = np.argsort(energies, kind="stable")
    inv = np.empty(n, dtype=np.int64)
    inv[order] = np.arange(n)
    u = sp.csc_array((vals / np.sqrt(ring.weight), (rows, inv[cols])), shape=(m, n))
    return u, energies[order], float(err)


def _chain_window_pairs(dw, t, e_cut, pivmin):
    """Eigenpairs below e_cut of the open chain with diagonal ``dw`` and hopping -t: a Sturm
    count, then LAPACK's MRRR (dstemr) for that index range (stebz + stein if it fails)."""
    cnt = int(chain_count_below(dw, t, float(e_cut), pivmin))
    if cnt == 0:
        return np.zeros(0), np.zeros((dw.size, 0))
    mm, w, z, info = sla.lapack.dstemr(dw, np.full(dw.size, -t), 2, 0.0, 0.0, 1, cnt)
    if info != 0 or mm != cnt:
        w, z = sla.eigh_tridiagonal(dw, np.full(dw.size - 1, -t), select="i",
                                    select_range=(0, cnt - 1), lapack_driver="stebz")
    return np.asarray(w[:cnt]), np.asarray(z[:, :cnt])


def trap_release(ring: Ring, n_particles: int, trap: str = "harmonic", *, omega: float = 1.0,
                 center: float | None = None, region=None, with_disorder: bool = False,
                 twist: float = 0.0, method: str = "auto") -> InitialState:
    """(b) Ground state in a trap, to be released into the (disordered) ring.

    Parameters
    ----------
    ring : Ring, the ring the gas is released into.
    n_particles : N.
    trap : "harmonic" or "box".
        harmonic: V_trap(x) = (omega^2 / 4) d(x, x0)^2 with d the distance on the ring, the
        oscillator of mass m = 1/2 (hbar = 1) with levels omega (n + 1/2).  On a lattice the same
        formula with x the site index.  box: hard walls on ``region`` (this is
        :func:`domain_wall` with or without the disorder).
    omega : trap frequency (units of energy, hbar^2/(2m length^2)).
    center : x0 (length units); default L/2.
    region : the region K reported with the state.  Harmonic default: the Thomas-Fermi extent
        |x - x0| < 2 sqrt(N / omega) (where V_trap = E_F = N omega); box default: see
        :func:`region_mask` (first half).
    with_disorder : keep the ring's potential during preparation (default False, as in the
        expansion experiment of Billy et al. 2008).
    twist : boson twist theta.
    method : eigen-solver method for the harmonic case (see :func:`tgsweep.ground_state`).
    """
    base = ring if with_disorder else ring.with_potential(None)
    if trap == "box":
        st = domain_wall(base, n_particles, region=region, twist=twist)
        return InitialState(st.orbitals, st.twist, st.fermion_twist, st.region, "trap_release",
                            st.energies, st.spacing, st.count_error)
    if trap != "harmonic":
        raise ValueError(f"trap: must be 'harmonic' or 'box', got {trap!r}")
    if not (np.isfinite(omega) and omega > 0):
        raise ValueError(f"omega: must be a positive number, got {omega!r}")
    x0 = ring.length / 2 if center is None else float(center) % ring.length
    d = np.abs(ring.x - x0)
    d = np.minimum(d, ring.length - d)
    prep = base.with_potential(base.potential + 0.25 * omega**2 * d**2)
    st = ground_state(prep, n_particles, twist=twist, method=method)
    if region is None:
        mask = d < 2.0 * np.sqrt(st.n_particles / omega)
    else:
        mask = region_mask(ring, region)
    return InitialState(np.asarray(st.orbitals), st.twist, st.fermion_twist, mask,
                        "trap_release", np.asarray(st.energies), ring.spacing)


def spectral_window(ring: Ring, window, region=None, twist: float = 0.0) -> InitialState:
    """(c) Gamma = P_J(H_K): eigenvectors of H restricted to K with energies in J = [lo, hi].

    H_K is the ring operator (with its disorder) restricted to K with hard walls; N is the
    number of its eigenvalues in J (the setting of the dynamical-localization statement:
    an initial projection localized in K built from energies in J).  1_K P_J(H) 1_K itself is
    not a projection and so not a Slater determinant; P_J(H_K) is its natural stand-in.

    Parameters
    ----------
    window : (lo, hi), energies (units hbar^2/2m = 1); lo may be -inf.
    region : see :func:`region_mask`.
    twist : boson twist theta.  The fermion twist depends on the parity of N; it only changes
        H_K when K is the whole ring, where a consistent parity is required.
    """
    lo, hi = (float(v) for v in window)
    if not lo <= hi:
        raise ValueError(f"window: need lo <= hi, got {window!r}")
    mask = region_mask(ring, region)
    for parity in (1, 2):
        phi = fermion_twist(twist, parity)
        hk = _restricted_matrix(ring, phi, mask)
        w, v = np.linalg.eigh(hk)
        sel = (w >= lo) & (w <= hi)
        n = int(sel.sum())
        if n and (n - parity) % 2 == 0:
            return InitialState(_embed(ring, mask, v[:, sel]), float(twist), phi, mask,
                                "spectral_window", w[sel], ring.spacing)
        if n == 0 and parity == 2:
            return InitialState(np.zeros((ring.n_grid, 0)), float(twist), float(twist), mask,
                                "spectral_window", np.zeros(0), ring.spacing)
    raise ValueError("spectral_window: no particle number of consistent parity in the window "
                     "(K is the whole ring and the twisted spectra disagree); move the window")
