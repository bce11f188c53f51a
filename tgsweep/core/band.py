"""Banded one-particle density matrix of a TG state: gamma(x, x + d) for 0 <= d <= width only.

The band is computed *exactly* (not approximated) by the same bordered-determinant kernel as
:func:`tgsweep.obdm`, run on windows of the ring: for the rows x0 <= x < x0 + B the entries
gamma(x, x + d), d <= width, involve only the sites z in [x0, x0 + B + width) (Lenard's formula:
the string runs strictly between x and y), so the kernel runs on that window with the orbitals
that *overlap* it.  An orbital beta whose weight |u_beta(z)|^2 is <= ``orbital_cut`` at every
site of the window is left out: its row and column of the bordered matrix differ from a unit
vector by at most sqrt(n_window orbital_cut) (n_window sites), and the determinant depends on
the row *and* the column only through their product, so the change of gamma is second order,
O(n_window orbital_cut) (docs/references.md §10 "Banded OBDM").  Orbitals entirely inside the
window are kept (their contribution changes from +1 to -1 as y sweeps past them).

Windows that cross the twisted bond (M-1, 0) use the orbitals continued across it,
phi(x + L) = e^{i phi} phi(x) (fermion twist phi); the short-way string then gives the boson
correlation gamma(x, y + L) = e^{i theta} gamma(x, y) (boson twist theta), so the matrix entry
gamma[x, x + d - M] is that value times e^{-i theta}.

Cost O(M (width + B/2) n_A^2 / 9) for n_A orbitals per window (the grouped kernel), memory
O(M width + (B + width) n_A).  Conventions as :func:`tgsweep.obdm` (density units).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.linalg as sla

from . import _band_kernels as BK
from . import _obdm_kernels as K
from .obdm import GROUP, TOL_DEN, TOL_EIG, TOL_PIV, obdm_stride
from .spectrum import LocalizedOrbitals
from .state import LocalizedState, State
from .thermal import ThermalState

__all__ = ["obdm_band", "obdm_band_packed", "obdm_band_thermal", "Band", "PackedOrbitals",
           "pack_orbitals",
           "pack_localized",
           "band_certificate", "orbital_arcs", "ORBITAL_CUT", "BandTop", "band_top_eigenpairs"]

#: per-site weight |u(z)|^2 (lattice normalization) below which an orbital counts as absent
ORBITAL_CUT = 1e-20
#: per-site weight below which stored (packed) orbital values are dropped (first-order effect)
PACK_CUT = 1e-32

#: relative roundoff of an OBDM entry (both kernels), the floor of the certificate per entry
ROUNDOFF = 10 * np.finfo(float).eps

#: width='auto' first probes this many row blocks spread over the ring (when there are more)
_PROBE_BLOCKS = 16

#: rows per window (4 groups of the grouped kernel)
_BLOCK = 4 * (GROUP + 1)


class Band(NamedTuple):
    """The band of gamma and what is known about the rest.

    values : (M, width + 1) array, values[x, d] = gamma[x, (x + d) mod M] in density units
        (the entries of :func:`tgsweep.obdm`'s matrix); real when the orbitals are real.
    width : the band half-width w (grid points).
    certificate : estimated max_x sum_{|d| > w} |gamma(x, x + d)| h (the Schur bound on the
        operator norm of the discarded part of gamma h; dimensionless); inf when refused.
    reliable : the certificate passed its self-checks (see :func:`band_certificate`).
    decay_rate : fitted decay rate kappa of the band envelope (per grid point), nan if none.
    weight : quadrature weight h (continuum) or 1 (lattice): the operator is values * weight.
    in_band_error : estimate n_window orbital_cut + sqrt(n_window pack_cut) of the error of
        the in-band entries from left-out orbitals (second order) and from the values dropped
        in packing (first order), density units; on top of the kernel's roundoff (~1e-14
        relative, as :func:`tgsweep.obdm`).
    """

    values: np.ndarray
    width: int
    certificate: float
    reliable: bool
    decay_rate: float
    weight: float
    in_band_error: float


class PackedOrbitals(NamedTuple):
    """Lattice-normalized orbitals stored on their arcs (memory O(sum of arc lengths)).

    Orbital a has the value values[offset[a] + p] at site (start[a] + p) mod M, 0 <= p <
    length[a], and is taken as zero elsewhere, where |u|^2 <= ``pack_cut`` at every site (this
    truncation changes gamma at first order, by O(sqrt(n_window pack_cut)): keep it at the
    roundoff level).  (active_start, active_length) is the shorter arc outside which
    |u|^2 <= ``cut``: a window that this arc misses leaves the orbital out (second order,
    O(n_window cut)).  :func:`pack_orbitals` makes one from a dense (M, N) array; a localized
    eigensolver can produce one directly.
    """

    n_sites: int
    start: np.ndarray
    length: np.ndarray
    offset: np.ndarray
    values: np.ndarray
    active_start: np.ndarray
    active_length: np.ndarray
    cut: float
    pack_cut: float


def pack_orbitals(u: np.ndarray, cut: float = ORBITAL_CUT,
                  pack_cut: float = PACK_CUT) -> PackedOrbitals:
    """Pack dense lattice-normalized orbitals u (M, N) onto their arcs (:func:`orbital_arcs`)."""
    u = np.asarray(u)
    m, n = u.shape
    start, length = orbital_arcs(u, min(pack_cut, cut))
    a_start, a_length = orbital_arcs(u, cut)
    offset = np.zeros(n, dtype=np.int64)
    if n:
        offset[1:] = np.cumsum(length)[:-1]
    dt = np.complex128 if np.iscomplexobj(u) else np.float64
    values = np.empty(int(length.sum()), dtype=dt)
    for a in range(n):
        values[offset[a]:offset[a] + length[a]] = u[(start[a] + np.arange(length[a])) % m, a]
    return PackedOrbitals(m, start, length, offset, values, a_start, a_length, float(cut),
                          float(min(pack_cut, cut)))


def pack_localized(lo: LocalizedOrbitals, cut: float = ORBITAL_CUT,
                   pack_cut: float = PACK_CUT) -> PackedOrbitals:
    """:class:`PackedOrbitals` from a :class:`~tgsweep.core.spectrum.LocalizedOrbitals` (the
    sliced eigensolver's windows; same lattice normalization and ring gauge), without an (M, N)
    array.  The stored windows end where |u| <= 1e-17; beyond them the solver's vectors are
    zero, and they differ from the exact eigenvectors by O(residual / gap), a first-order change
    of gamma like packing: ``pack_cut`` becomes max(pack_cut, max_residual^2, max_overlap^2)
    so that
    ``Band.in_band_error`` carries it.  A "global" result (one window = the ring) is packed
    from its dense matrix."""
    pc = float(max(min(pack_cut, cut), lo.max_residual ** 2,
                   lo.max_overlap ** 2 if np.isfinite(lo.max_overlap) else 0.0))
    if lo.method != "sliced":
        po = pack_orbitals(lo.dense(), cut, pack_cut)
        return po._replace(pack_cut=max(po.pack_cut, pc))
    n, m = lo.energies.size, lo.n_grid
    offset = lo.offsets
    a_start = np.zeros(n, dtype=np.int64)
    a_length = np.zeros(n, dtype=np.int64)
    w2 = np.abs(lo.values) ** 2
    for a in range(n):
        nz = np.flatnonzero(w2[offset[a]:offset[a] + lo.lengths[a]] > cut)
        if nz.size:
            a_start[a] = (lo.starts[a] + nz[0]) % m
            a_length[a] = nz[-1] - nz[0] + 1
    return PackedOrbitals(m, np.asarray(lo.starts, dtype=np.int64),
                          np.asarray(lo.lengths, dtype=np.int64), offset,
                          np.ascontiguousarray(lo.values), a_start, a_length, float(cut), pc)


def _band_lattice(po: PackedOrbitals, width: int, phi: float, theta: float, step: int = 1):
    """Band of <b+_x b_y> for packed orbitals; returns (band, err).

    ``step`` > 1: only every step-th block of rows (the others stay zero), for a cheap probe.
    """
    m, n = po.n_sites, po.start.size
    dt = po.values.dtype
    band = np.zeros((m, width + 1), dtype=dt)
    if n == 0:
        return band, 0.0
    real = dt == np.float64
    ph = np.exp(1j * phi)
    wrap = np.exp(-1j * theta)
    if real:
        ph, wrap = float(np.round(ph.real)), float(np.round(wrap.real))
    start, length = po.active_start, po.active_length
    blk = max(1, min(_BLOCK, m - width))
    err = 0.0
    for x0 in range(0, m, blk * step):
        nrows = min(blk, m - x0)
        nwin = nrows + width
        # orbitals whose arc meets the window arc [x0, x0 + nwin)
        cols = np.flatnonzero((length > 0) & ((((start - x0) % m) < nwin)
                                              | (((x0 - start) % m) < length)))
        err = max(err, nwin * po.cut + np.sqrt(nwin * po.pack_cut))
        out = np.zeros((nrows, nwin), dtype=dt)
        if cols.size:
            sub = np.empty((nwin, cols.size), dtype=dt)
            BK.gather_window_packed(po.start, po.length, po.offset, po.values, m, x0, nwin,
                                    cols.astype(np.int64), ph, sub)
            stride = obdm_stride(nwin, cols.size, sub.itemsize)
            q = K.prefix_checkpoints(sub, stride)
            K.obdm_grouped(sub, q, stride, out, 0, 0, nrows, GROUP, TOL_DEN, TOL_EIG, TOL_PIV)
        BK.extract_band(out, x0, nrows, width, m, wrap, band)
    return band, err


def orbital_arcs(u: np.ndarray, cut: float = ORBITAL_CUT):
    """(start, length): per orbital the shortest arc outside which |u|^2 <= cut at every site."""
    n = u.shape[1]
    start = np.zeros(n, dtype=np.int64)
    length = np.zeros(n, dtype=np.int64)
    BK.orbital_arcs(u, cut, start, length)
    return start, length


def band_certificate(values: np.ndarray, weight: float = 1.0, decades: float = 3.0,
                     safety: float = 10.0):  # defaults = _DECADES, _SAFETY used by obdm_band
    """Estimate max_x sum_{|d| > w} |gamma(x, x + d)| h from the band itself.

    E(d) = max_x |gamma(x, x + d)|, d <= w, and its non-increasing envelope F(d) = max_{d' >= d} E(d').
    The envelope's decay rate over the outer half of the band, kappa = ln(F(w/2)/F(w)) / (w/2),
    extrapolates it: |gamma(x, x + d)| <= F(w) e^{-kappa (d - w)}, summed over d > w on both sides
    of the diagonal (out to the antipode) and multiplied by ``safety``, plus a roundoff floor of
    ``ROUNDOFF`` max_x gamma(x, x) per discarded entry (no kernel resolves entries below it).
    A band whose envelope has fallen to that floor (F(w) <= ROUNDOFF max gamma(x, x)) is
    accepted with the floor alone: nothing beyond it is resolvable by either kernel.  Refused (inf, not
    reliable) unless the envelope falls by at least ``decades`` powers of ten over the outer half
    (an exponentially localized gamma; a power law d^-p would need p >= 10, while clean TG rings
    decay as d^-1/2) and the decay rate is consistent over the two outer quarters (within a factor 3).

    This is an *estimate*, not a bound: its conservativeness is demonstrated in
    tests/test_band.py against the full kernel (lattice and continuum, several disorder kinds).
    Returns (certificate, reliable, kappa).
    """
    cert, ok, kappa = _envelope(values, weight, decades, safety)[:3]
    return cert, ok, kappa


def _envelope(values, weight, decades, safety):
    """(certificate, reliable, kappa, decades over the outer half, unchecked certificate,
    decay rate of the outermost quarter)."""
    a = np.abs(values)
    m, wp = a.shape
    w = wp - 1
    if w < 8:
        return float("inf"), False, float("nan"), 0.0, float("inf"), float("nan")
    e = a.max(axis=0)
    f = np.maximum.accumulate(e[::-1])[::-1]
    h2, h3 = w // 2, (3 * w) // 4
    tiny = 1e-300
    fw, fh, fq = max(f[w], tiny), max(f[h2], tiny), max(f[h3], tiny)
    kappa = np.log(fh / fw) / (w - h2)
    k_in, k_out = np.log(fh / fq) / (h3 - h2), np.log(fq / fw) / (w - h3)
    dec = float(np.log10(fh / fw))
    # distances w < d <= M/2 on each side (for even M the antipode d = M/2 is discarded too:
    # counted on both sides, conservative by one entry)
    n_out = max(0, (m - 2 * w) // 2)
    noise = ROUNDOFF * a[:, 0].max()          # no computed entry is exact below this
    if f[w] <= noise:
        # the envelope has reached the roundoff floor inside the band: nothing beyond it is
        # resolvable; the discarded entries are counted at the floor
        cert = float(2.0 * n_out * noise * weight)
        return cert, True, float(kappa), dec, cert, float(k_out)
    ok = bool(dec >= decades and k_out > 0 and k_in > 0
              and max(k_in, k_out) <= 3.0 * min(k_in, k_out))
    k_use = min(kappa, k_out) if k_out > 0 else kappa
    if not k_use > 0:
        return float("inf"), False, float(kappa), dec, float("inf"), float(k_out)
    q = np.exp(-k_use)
    tail = fw * q * (1.0 - q**n_out) / (1.0 - q)
    floor = n_out * noise
    raw = float(2.0 * (safety * tail + floor) * weight)
    return (raw if ok else float("inf")), ok, float(kappa), dec, raw, float(k_out)


_DECADES, _SAFETY = 3.0, 10.0


def obdm_band(state: State | LocalizedState | ThermalState, width="auto", tol: float = 1e-8,
              orbital_cut: float = ORBITAL_CUT,
              max_width: int | None = None) -> Band:
    """The exact entries gamma(x_i, x_{(i + d) mod M}), 0 <= d <= width, of the OBDM of ``state``.

    ``values[x, d]`` equals ``tgsweep.obdm(state)[x, (x + d) % M]`` (density units, boundary
    gauge; the rest of the band follows by Hermiticity).  ``width``: an int with
    0 <= width <= (M - 1) // 2 (grid points), or "auto": start at max(24, 8 cells) and
    grow the width until the certificate (see :func:`band_certificate`) is <= ``tol`` (by the
    width the fitted envelope says is missing, + 10 %; first on a probe of ~16 row blocks spread
    over the ring, then on the whole ring, whose certificate decides); if that
    does not happen below ``max_width`` (default (M - 1) // 2) the widest band is returned with
    ``reliable=False`` (weakly localized or extended rings: use the full :func:`tgsweep.obdm`).

    Returns a :class:`Band`.  :func:`obdm_band_packed` does the same from orbitals stored on
    their arcs; a :class:`~tgsweep.core.state.LocalizedState` (``ground_state(...,
    method="sliced")``) goes that way (:func:`pack_localized`), with no dense (M, N) array.
    A :class:`~tgsweep.core.thermal.ThermalState` (grand or canonical) goes to
    :func:`obdm_band_thermal` (same :class:`Band`, same width rule and certificate).
    """
    ring = state.ring
    if isinstance(state, ThermalState):
        return obdm_band_thermal(state, width, tol, max_width)
    if isinstance(state, LocalizedState):
        po = pack_localized(state.orbitals, orbital_cut)
    else:
        po = pack_orbitals(state.lattice_orbitals, orbital_cut)
    return obdm_band_packed(po, state.fermion_twist, state.twist, width, tol, max_width,
                            weight=ring.weight, density_units=ring.kind == "continuum",
                            cell_size=ring.cell_size)


def obdm_band_packed(po: PackedOrbitals, fermion_twist: float, twist: float, width="auto",
                     tol: float = 1e-8, max_width: int | None = None, weight: float = 1.0,
                     density_units: bool = False, cell_size: int = 1) -> Band:
    """:func:`obdm_band` from :class:`PackedOrbitals` (lattice-normalized).  ``weight`` = h;
    ``density_units``: divide by h (continuum); ``cell_size``: grid points per unit cell
    (sets the smallest automatic width)."""
    m = po.n_sites
    wmax = (m - 1) // 2 if max_width is None else int(min(max_width, (m - 1) // 2))
    scale = 1.0 / weight if density_units else 1.0

    def one(w, step=1):
        vals, err = _band_lattice(po, w, fermion_twist, twist, step)
        vals *= scale
        cert, ok, kappa, dec, raw, k_out = _envelope(vals, weight, _DECADES, _SAFETY)
        return Band(vals, w, cert, ok, kappa, weight, err * scale), dec, raw, k_out

    return _choose_width(one, m, wmax, width, tol, cell_size)


def _choose_width(one, m, wmax, width, tol, cell_size):
    """Fixed ``width`` (validated) or the "auto" search of :func:`obdm_band`; ``one(w, step)``
    returns (Band, decades, raw certificate, outer decay rate) on every step-th row block."""
    if isinstance(width, str):
        if width != "auto":
            raise ValueError(f"width: must be a non-negative integer or 'auto', got {width!r}")
        if not (np.isfinite(tol) and tol > 0):
            raise ValueError(f"tol: must be a positive number, got {tol!r}")
        w = min(wmax, max(24, 8 * cell_size))
        # probe on every step-th block of rows (>= 16 blocks), then the whole ring at the width
        # the probe found; the whole-ring certificate decides (and grows further if needed)
        step = max(1, (m // _BLOCK) // _PROBE_BLOCKS)
        while True:
            b, dec, raw, k_out = one(w, step)
            if (b.reliable and b.certificate <= tol) or w >= wmax:
                if step == 1:
                    return b
                step = 1
                continue
            w = _grow(w, wmax, tol, b, dec, raw, k_out)
    w = int(width)
    if w != width or not 0 <= w <= (m - 1) // 2:
        raise ValueError(f"width: must be an integer in [0, {(m - 1) // 2}] or 'auto', got {width!r}")
    return one(w)[0]


def _grow(w, wmax, tol, b, dec, raw, k_out):
    """Next trial width: where the fitted envelope would pass both tests (+ 10 %), at least
    w + 8 and 1.1 w, at most 3 w; 1.5 w when no decay is seen."""
    w_new = 1.5 * w
    rate = max(b.decay_rate, k_out) if np.isfinite(k_out) else b.decay_rate
    if rate > 0 and np.isfinite(raw):
        w_tol = w + 1.1 * np.log(max(raw, tol) / tol) / rate
        w_dec = w * 1.1 * _DECADES / max(dec, 0.25)
        w_new = max(w + 8, w * 1.1, w_tol, w_dec if not b.reliable else 0.0)
    return int(min(wmax, 3 * w, np.ceil(w_new)))


def _band_thermal(state: ThermalState, width: int, step: int = 1) -> np.ndarray:
    """values[x, d] = <b+_x b_{(x+d) mod M}> (lattice units) of a thermal state, d <= width,
    from windows of B + width sites (:meth:`ThermalState.window_rows`); ``step`` > 1: only every
    step-th block of rows (the others zero)."""
    m = state.ring.n_grid
    dt = np.float64 if state.real else np.complex128
    band = np.zeros((m, width + 1), dtype=dt)
    wrap = np.exp(-1j * state.twist)
    if state.real:
        wrap = float(np.round(wrap.real))
    blk = max(1, min(_BLOCK, m - width))
    for x0 in range(0, m, blk * step):
        nrows = min(blk, m - x0)
        out = np.ascontiguousarray(state.window_rows(x0, nrows, nrows + width), dtype=dt)
        BK.extract_band(out, x0, nrows, width, m, wrap, band)
    return band


def obdm_band_thermal(state: ThermalState, width="auto", tol: float = 1e-8,
                      max_width: int | None = None) -> Band:
    """:func:`obdm_band` of a thermal (Gibbs) state, grand canonical or canonical.

    The in-band entries are the exact thermal gamma (every trace of the thermal formula depends
    on the sites x .. y only, docs/references.md §8 "Banded thermal OBDM"), at cost
    O(M (width + B) k^2 / 9) per term instead of O(M^2 k^2 / 9); their error is the state's own
    (``in_band_error`` = truncation_error + alias_error, density units).  At T > 0 gamma decays
    exponentially (on the IIKS length on clean rings), and the certificate is the envelope
    estimate of :func:`band_certificate` plus the stated per-entry error of the state for every
    discarded entry; its conservativeness is tested against the full thermal gamma in
    tests/test_thermal_band.py.  Same ``width`` / ``tol`` / ``max_width`` rules as
    :func:`obdm_band`."""
    if not isinstance(state, ThermalState):
        raise TypeError("state: must be a ThermalState")
    ring = state.ring
    m = ring.n_grid
    wmax = (m - 1) // 2 if max_width is None else int(min(max_width, (m - 1) // 2))
    scale = 1.0 / ring.weight if ring.kind == "continuum" else 1.0
    err = float(state.truncation_error + state.alias_error)

    def one(w, step=1):
        vals = _band_thermal(state, w, step) * scale
        cert, ok, kappa, dec, raw, k_out = _envelope(vals, ring.weight, _DECADES, _SAFETY)
        extra = 2.0 * max(0, (m - 2 * w) // 2) * err * scale * ring.weight
        b = Band(vals, w, cert + extra, ok, kappa, ring.weight, err * scale)
        return b, dec, raw + extra, k_out

    return _choose_width(one, m, wmax, width, tol, ring.cell_size)


# ----------------------------------------------------------- largest eigenvalues of the band
class BandTop(NamedTuple):
    """The k largest eigenvalues of the band operator G = values * weight (Hermitian, zero
    beyond the band), from local windows (see :func:`band_top_eigenpairs`).

    values : (k,) descending.
    residuals : (k,) ||G u_j - values_j u_j|| of the zero-padded window eigenvectors u_j with
        the whole band operator: an eigenvalue of G lies within it (Weyl / Bauer-Fike).
    windows : number of windows solved; sites : their total length (grid points).
    """

    values: np.ndarray
    residuals: np.ndarray
    windows: int
    sites: int


def _window_top(values, weight, a, s, k):
    sub = np.empty((s, s), dtype=values.dtype)
    BK.band_window(values, int(a), sub)
    kk = min(k, s)
    lam, vec = sla.eigh(sub * weight, subset_by_index=[s - kk, s - 1], driver="evr")
    return lam, vec


def band_top_eigenpairs(values: np.ndarray, weight: float = 1.0, k: int = 1,
                        pad: int | None = None, max_fraction: float = 0.25,
                        powers: int = 8) -> BandTop | None:
    """The k largest eigenvalues of the Hermitian band operator G = values * weight by local
    windows, O(M width) + a few small dense eigenproblems, instead of Lanczos on the whole ring.

    Screen (rigorous): if G v = lambda v and x is where |v| is largest, then |lambda|^p |v(x)|
    = |(G^p v)(x)| <= (|G|^p 1)(x) |v(x)| for every p, so with R(x) = min_{p <= powers}
    ((|G|^p 1)(x))^(1/p) (p = 1: the absolute row sum; |G| the entrywise modulus) every
    eigenvalue >= tau has its eigenvector's peak at a site with R(x) >= tau.  Pass 1 solves windows (site +-
    ``pad``, default the band width) around up to 2k + 2 separated sites of largest R; by
    Cauchy interlacing (the windows are separated by more than the band width, so their
    principal submatrix is a direct sum) the k-th largest window eigenvalue tau is a lower bound
    of lambda_{k-1}(G).  Pass 2 solves windows (+- pad, merged where closer than 2 pad + width)
    around every site with R >= tau, and returns the k largest eigenvalues over them: each is
    <= the corresponding eigenvalue of G (interlacing), and an eigenvalue of G lies within its
    ``residual`` (the padded window vector with the whole operator).  What is *not* proved is
    that a window of +- pad around a peak captures its eigenvector (it decays like gamma, over
    the band width); tests compare with LAPACK on the whole operator.

    Returns None (use Lanczos) when the windows would cover more than ``max_fraction`` of the
    ring or one window would reach round it (weakly localized / extended gamma).
    """
    vals = np.ascontiguousarray(values)
    m, wp = vals.shape
    w = wp - 1
    pad = int(max(8, w if pad is None else pad))
    kk = int(k)
    sep = 2 * pad + w + 1
    if m < 2 * sep + 2 * w or kk < 1:
        return None
    # b(x) = min_p ((|G|^p 1)(x))^(1/p), p <= powers: lambda^p |v(x)| = |(G^p v)(x)| <=
    # (|G|^p 1)(x) |v(x)| at the peak x of v, for every p (p = 1: the row sum)
    u = np.ones(m)
    r = np.full(m, np.inf)
    for p in range(1, int(powers) + 1):
        nxt = np.empty(m)
        BK.band_abs_matvec(vals, u, nxt)
        u = nxt * weight
        with np.errstate(divide="ignore"):
            r = np.minimum(r, np.exp(np.log(u) / p))
    order = np.argsort(r)[::-1]
    seeds = []
    for x in order[: min(m, 64 * sep)]:
        if all(min(abs(x - s), m - abs(x - s)) > sep for s in seeds):
            seeds.append(int(x))
            if len(seeds) >= 2 * kk + 2:
                break
    lam1 = np.concatenate([_window_top(vals, weight, (x - pad) % m, 2 * pad + 1, kk)[0]
                           for x in seeds])
    if lam1.size < kk:
        return None
    tau = float(np.sort(lam1)[::-1][kk - 1])
    cand = np.flatnonzero(r >= tau)
    # clusters on the ring: break where consecutive candidates are more than sep apart
    gaps = np.diff(np.concatenate([cand, [cand[0] + m]]))
    breaks = np.flatnonzero(gaps > sep)
    if breaks.size == 0:
        return None
    wins = []
    for i in range(breaks.size):
        first = cand[(breaks[i - 1] + 1) % cand.size]
        last = cand[breaks[i]]
        length = (last - first) % m + 1 + 2 * pad
        wins.append(((first - pad) % m, int(length)))
    total = sum(s for _, s in wins)
    if total > max_fraction * m or max(s for _, s in wins) > m - 2 * w - 2:
        return None
    found = []
    for a, s in wins:
        lam, vec = _window_top(vals, weight, a, s, kk)
        for j in range(lam.size):
            found.append((float(lam[j]), a, s, vec[:, j]))
    found.sort(key=lambda f: -f[0])
    top = found[:kk]
    res = np.empty(len(top))
    for j, (lam, a, s, u) in enumerate(top):
        ext = np.empty((s + 2 * w, s + 2 * w), dtype=vals.dtype)
        BK.band_window(vals, int((a - w) % m), ext)
        ue = np.zeros(s + 2 * w, dtype=np.result_type(vals.dtype, u.dtype))
        ue[w:w + s] = u
        res[j] = np.linalg.norm(ext @ ue * weight - lam * ue)
    return BandTop(np.array([f[0] for f in top]), res, len(wins), int(total))
