"""Dynamical observables of the released TG gas: what :func:`dynamics_sample` measures.

The initial states are in :mod:`tgsweep.core.initial_states` (domain wall, trap release,
spectral window), the propagator (:class:`~tgsweep.core.evolution.Evolution`, eigenbasis or
Chebyshev, chosen by :func:`~tgsweep.core.evolution.choose_method`) in
:mod:`tgsweep.core.evolution`; both state their units and conventions.  Here: the per-sample
outputs (transferred particle number N_tr(t), cell counts and their sup over the time grid,
tails, the infinite-time average), the clean-case hydrodynamic fronts used as references, and
the sweep declaration :data:`DYNAMICS`.  Time in units 2 m a^2/hbar (lattice hbar/t).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.evolution import (DENSE_MAX_DYNAMICS, METHODS, SUPPORT_TOL, Evolution,
                              choose_method, time_grid)
from ..core.initial_states import InitialState, domain_wall, region_mask, ring_distance_to_set
from ..models.params import ParamError
from ..models.ring import Ring, fermion_twist, is_real_twist
from .declaration import Coord, Observable, Option, Variable, boolean, n_cells, one_of, real_list

__all__ = ["DynamicsSample", "dynamics_sample", "front_profile_lattice",
           "front_profile_continuum", "cell_distance", "sweep_times", "DYNAMICS",
           "OBSERVABLES"]


@dataclass(frozen=True)
class DynamicsSample:
    """Per-sample dynamical observables (particle numbers are dimensionless counts).

    Attributes
    ----------
    times : (T,) the time grid (units 2m length^2/hbar; lattice hbar/t).
    cell_counts : (T, C) int_{I_n} rho_t over the unit cells I_n = [n, n+1) (lattice: sites).
    cell_counts_inf : (C,) the same for the infinite-time average (NaN when not computed, see
        :func:`dynamics_sample`'s ``infinite_time``).
    sup_cell_change : (C,) sup over the grid of |int_{I_n} rho_t - int_{I_n} rho_0|.
    sup_cell_counts : (C,) sup over the grid of int_{I_n} rho_t.
    cell_distance : (C,) signed distance (length units) of I_n to the boundary of K:
        dist(I_n, K^c) > 0 for cells inside K, -dist(I_n, K) < 0 outside, 0 for straddling cells.
        Distances are graph distances between grid points times h (a neighbour is at h).
    n_transferred : (T,) N_tr(t) = int_{K^c} rho_t - int_{K^c} rho_0 (on a ring an arc K has
        two walls: this is the total over both).
    n_transferred_inf : float, the same for the infinite-time average (NaN when not computed).
    depth : (D,) d = 0, 1, ..., D-1 (length units).
    sup_outside : (D,) sup_t int over {x not in K : dist(x, K) > d} of rho_t.
    sup_inside : (D,) sup_t int over {x in K : dist(x, K^c) > d} of rho_t.
    inside0 : (D,) int over {x in K : dist(x, K^c) > d} of rho_0.
    count_error : (T,) bound on the absolute error of every particle count above (cell counts,
        N_tr, tails, and so their sup's up to that time) from the propagator's truncation,
        plus the initial state's own ``count_error`` (sliced domain wall, see
        :func:`~tgsweep.core.initial_states.domain_wall`): the support method's
        sum_alpha eps_alpha (2 + eps_alpha)
        (:meth:`~tgsweep.core.evolution.Evolution.support_density`); for eigen the same with
        eps = sqrt(dropped_weight) (0 without truncation); 0 for chebyshev (both exact up to
        round-off, ~1e-12 here).  Not included: the infinite-time outputs (eigenbasis).
    """

    times: np.ndarray
    cell_counts: np.ndarray
    cell_counts_inf: np.ndarray
    sup_cell_change: np.ndarray
    sup_cell_counts: np.ndarray
    cell_distance: np.ndarray
    n_transferred: np.ndarray
    n_transferred_inf: float
    depth: np.ndarray
    sup_outside: np.ndarray
    sup_inside: np.ndarray
    inside0: np.ndarray
    count_error: np.ndarray | None = None


def _distances(ring: Ring, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d_in = ring_distance_to_set(~mask) * ring.spacing     # for points in K: dist to K^c
    d_out = ring_distance_to_set(mask) * ring.spacing     # for points outside: dist to K
    return d_in, d_out


def _cell_distance(ring: Ring, mask: np.ndarray, d_in: np.ndarray, d_out: np.ndarray):
    cells = ring.cell_index
    n_c = int(cells.max()) + 1
    cell_dist = np.zeros(n_c)
    for c in range(n_c):
        sel = cells == c
        if np.all(mask[sel]):
            cell_dist[c] = d_in[sel].min()
        elif not np.any(mask[sel]):
            cell_dist[c] = -d_out[sel].min()
    return cell_dist


def cell_distance(ring: Ring, region=None) -> np.ndarray:
    """Signed distance (length units) of each unit cell I_n to the boundary of the region K
    (:func:`~tgsweep.core.initial_states.region_mask`): dist(I_n, K^c) inside K, -dist(I_n, K)
    outside, 0 for cells straddling the boundary (as :attr:`DynamicsSample.cell_distance`)."""
    mask = region_mask(ring, region)
    return _cell_distance(ring, mask, *_distances(ring, mask))


def dynamics_sample(ring: Ring, initial: InitialState, times, truncation: float = 0.0,
                    evolution: Evolution | None = None, method: str = "auto",
                    infinite_time: bool | None = None, tol: float = SUPPORT_TOL
                    ) -> DynamicsSample:
    """All per-sample dynamical outputs (see :class:`DynamicsSample`).

    ``times`` should contain 0 (sup's are over the given grid, which is then compared with
    t = 0); the initial density is taken from the initial state itself.  Memory O(T M).

    Parameters
    ----------
    truncation : eigen only, see :meth:`Evolution.prepare`.
    evolution : a prepared :class:`Evolution` to reuse (its method is used).
    method : propagator for the time grid, "eigen", "chebyshev", "support" or "auto"
        (:func:`choose_method`, counting the eigendecomposition as free when the infinite-time
        average needs it anyway; beyond DENSE_MAX_DYNAMICS "support" on disordered lattice
        rings).  "support" propagates each orbital on its own window (O(window) per orbital
        and term instead of O(M)) and reports ``count_error``.
    tol : support only: target 2-norm error per orbital over the grid (see
        :meth:`Evolution.support_density`).
    infinite_time : the infinite-time outputs (``cell_counts_inf``, ``n_transferred_inf``) need
        the eigenbasis: None computes them when M <= DENSE_MAX_DYNAMICS and fills NaN beyond;
        True always (ValueError beyond the dense limit); False never (NaN; no eigh at all with
        the chebyshev method).
    """
    times = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if infinite_time is None:
        infinite_time = ring.n_grid <= DENSE_MAX_DYNAMICS
    elif infinite_time and ring.n_grid > DENSE_MAX_DYNAMICS:
        raise ValueError(f"infinite_time: the diagonal ensemble needs the dense eigenbasis, "
                         f"M = {ring.n_grid} > DENSE_MAX_DYNAMICS = {DENSE_MAX_DYNAMICS}")
    if evolution is None:
        if method == "auto":
            method = choose_method(ring, initial.n_particles, times, truncation=truncation,
                                   complex_twist=not is_real_twist(initial.fermion_twist),
                                   eigenbasis_needed=bool(infinite_time), tol=tol)
        ev = Evolution.prepare(ring, initial, truncation, method=method, tol=tol)
    else:
        ev = evolution
    if not infinite_time:
        rho_inf = np.full(ring.n_grid, np.nan)
    elif ev.method == "eigen":
        rho_inf = ev.diagonal_density()
    else:
        rho_inf = Evolution.prepare(ring, initial, method="eigen").diagonal_density()
    h = ring.weight
    if ev.method == "support":
        run = ev.support_density(times)
        rho = run.density * h                         # particles per grid point
        count_err = run.count_error()
    else:
        rho = ev.density(times) * h
        eps = np.sqrt(ev.dropped_weight)
        count_err = np.full(times.size, initial.n_particles * eps * (2.0 + eps))
    # the initial orbitals' own distance to the exact state (sliced domain wall), preserved by
    # the unitary evolution (trace norm)
    count_err = count_err + initial.count_error
    rho0 = initial.density() * h
    rho_inf = rho_inf * h
    cells = ring.cell_index
    n_c = int(cells.max()) + 1

    def by_cell(r):
        return np.stack([np.bincount(cells, weights=row, minlength=n_c) for row in
                         np.atleast_2d(r)])

    cc = by_cell(rho)
    cc0 = by_cell(rho0)[0]
    cc_inf = by_cell(rho_inf)[0]
    mask = initial.region
    d_in, d_out = _distances(ring, mask)
    cell_dist = _cell_distance(ring, mask, d_in, d_out)
    out = ~mask
    n_tr = rho[:, out].sum(axis=1) - rho0[out].sum()
    n_tr_inf = float(rho_inf[out].sum() - rho0[out].sum())
    # tails: integer depth bins; {dist > d} = {ceil(dist) - 1 >= d} for integer d
    dmax = int(np.ceil(max(d_in.max(initial=0.0), d_out.max(initial=0.0)))) + 1
    depth = np.arange(dmax, dtype=np.float64)

    def tail(rows, sel, dist):
        b = np.ceil(dist[sel] - 1e-9).astype(np.int64) - 1     # dist > d  <=>  b >= d
        b = np.clip(b, -1, dmax - 1)
        res = np.zeros((rows.shape[0], dmax))
        for i, r in enumerate(rows):
            hist = np.bincount(b + 1, weights=r[sel], minlength=dmax + 1)[1:]
            res[i] = np.cumsum(hist[::-1])[::-1]
        return res

    sup_out = tail(rho, out, d_out).max(axis=0)
    sup_in = tail(rho, mask, d_in).max(axis=0)
    in0 = tail(rho0[None, :], mask, d_in)[0]
    return DynamicsSample(times, cc, cc_inf, np.abs(cc - cc0).max(axis=0), cc.max(axis=0),
                          cell_dist, n_tr, n_tr_inf, depth, sup_out, sup_in, in0, count_err)


# ============================================================================ clean-case fronts
def front_profile_lattice(x, t):
    """Hydrodynamic front of the clean lattice domain wall (hopping 1, left side filled):
    rho(x, t) -> (1/pi) arccos(x / 2t) for |x| < 2t, 1 behind, 0 ahead; x measured from the
    wall (Antal, Racz, Rakos, Schutz, PRE 59, 4912 (1999)).  N_tr(t) -> 2t/pi per wall."""
    u = np.clip(np.asarray(x, dtype=np.float64) / (2.0 * t), -1.0, 1.0)
    return np.arccos(u) / np.pi


def front_profile_continuum(x, t, k_fermi):
    """Hydrodynamic front of the clean continuum domain wall, dispersion E = k^2 (hbar^2/2m = 1).

    Derivation: the Wigner function of the left half-filled Fermi sea, f_0(x, k) =
    theta(-x) theta(k_F - |k|), is transported ballistically with velocity v = dE/dk = 2k, so
    f_t(x, k) = f_0(x - 2kt, k) and rho(x, t) = int dk/(2 pi) f_t = |{|k| < k_F : k > x/2t}|/(2 pi):

        rho(x, t) = (k_F - x/(2t)) / (2 pi)   for |x| < 2 k_F t,
                  = k_F / pi (behind),  0 (ahead),

    a linear ramp from the bulk density n = k_F/pi.  Transferred number per wall
    N_tr(t) = int_0^{2 k_F t} rho dx = k_F^2 t / (2 pi) = pi n^2 t / 2.  (The same calculation
    with v = 2 sin k gives the lattice arccos law.)
    """
    x = np.asarray(x, dtype=np.float64)
    u = np.clip(x / (2.0 * t), -k_fermi, k_fermi)
    return (k_fermi - u) / (2.0 * np.pi)


# ============================================================================ declaration
_TIME_KEYS = ("t_max", "n_times", "log", "t_min")


def sweep_times(times) -> np.ndarray:
    """The time grid of the ``dynamics`` option ``times`` (a table {t_max, n_times=20, log=false,
    t_min=t_max/100} or a list): always contains t = 0 (sorted, unique)."""
    t = times
    if isinstance(t, dict):
        n = int(t.get("n_times", 20))
        if t.get("log", False):
            return time_grid(float(t["t_max"]), n_log=n,
                             t_min_log=float(t.get("t_min", float(t["t_max"]) / 100)))
        return time_grid(float(t["t_max"]), n_linear=n)
    return np.unique(np.concatenate([[0.0], np.asarray(t, dtype=np.float64)]))


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and bool(np.isfinite(x))


def _check_times(t):
    if not isinstance(t, dict):
        return real_list("times", 0.0, None)(t)
    bad = [k for k in t if k not in _TIME_KEYS]
    if bad:
        raise ParamError(f"times.{bad[0]}", "unknown key; allowed: " + ", ".join(_TIME_KEYS))
    tm = t.get("t_max")
    if not (_number(tm) and tm > 0):
        raise ParamError("times.t_max", f"must be a positive number, got {tm!r}")
    n = t.get("n_times", 20)
    if not (isinstance(n, int) and not isinstance(n, bool) and n >= 1):
        raise ParamError("times.n_times", f"must be a positive integer, got {n!r}")
    if not isinstance(t.get("log", False), bool):
        raise ParamError("times.log", "must be true or false")
    tmin = t.get("t_min", tm / 100)
    if not (_number(tmin) and 0 < tmin <= tm):
        raise ParamError("times.t_min", f"must be a number in (0, t_max], got {tmin!r}")
    return t


def _check_n_particles(n):
    if not (n in ("state", "fill") or (isinstance(n, int) and not isinstance(n, bool) and n >= 0)):
        raise ParamError("n_particles", "must be \"state\" (the sweep state's N), \"fill\" (one "
                         f"particle per grid point of K) or a non-negative integer, got {n!r}")
    return n


def _check_region(r):
    if not (r == "half" or (isinstance(r, list) and len(r) == 2 and all(_number(x) for x in r))):
        raise ParamError("region", "must be \"half\" (x < L/2) or [a, b] in length units "
                         f"(a > b wraps through x = 0), got {r!r}")
    return r


def _check_truncation(tr):
    if not (_number(tr) and 0 <= tr < 1):
        raise ParamError("truncation", f"must be a number in [0, 1), got {tr!r}")
    return tr


def _check_tol(tol):
    if not (_number(tol) and 0 < tol < 1):
        raise ParamError("tol", f"must be a number in (0, 1), got {tol!r}")
    return tol


def _dyn_check(opts):
    # truncation drops eigenmodes: only the eigenbasis propagator has it (chebyshev and
    # support have their own error control, see tgsweep.core.evolution)
    if opts["truncation"] > 0 and opts["method"] in ("chebyshev", "support"):
        raise ParamError("truncation", f"must be 0 with method = {opts['method']!r} (its error "
                         "is controlled by tol); truncation > 0 needs method = 'eigen' or "
                         "'auto'")


def _n_depth(geom) -> int:
    # ring distances are at most L/2; dynamics_sample's tails have ceil(max dist) + 1 <= this
    # many entries, and the tail beyond the largest distance is an empty set (exactly 0)
    return int(np.ceil(geom["length"] / 2)) + 2


def _dyn_layout(geom, opts):
    if (opts["truncation"] > 0 and opts["method"] in ("eigen", "auto")
            and geom["n_grid"] > DENSE_MAX_DYNAMICS):
        raise ParamError("truncation", f"must be 0 beyond the dense limit ({geom['n_grid']} "
                         f"grid points > DENSE_MAX_DYNAMICS = {DENSE_MAX_DYNAMICS}: the "
                         "eigenbasis it truncates is not built)")
    if opts["method"] == "eigen" and geom["n_grid"] > DENSE_MAX_DYNAMICS:
        raise ParamError("method", f"'eigen' needs M <= DENSE_MAX_DYNAMICS = "
                         f"{DENSE_MAX_DYNAMICS} grid points (got {geom['n_grid']}); allowed "
                         "here: auto, chebyshev, support")
    t = sweep_times(opts["times"])
    nt, nc, nd = t.size, n_cells(geom), _n_depth(geom)
    lu = "length"
    v = {"n_transferred": Variable(("time",), (nt,), "1", "transferred particle number N_tr(t) "
                                   "= int_{K^c} rho_t - int_{K^c} rho_0 (both walls)"),
         "n_transferred_inf": Variable((), (), "1", "transferred particle number "
                                       "N_tr(t -> inf); the infinite-time (diagonal-ensemble) "
                                       "average density"),
         "sup_cell_change": Variable(("cell",), (nc,), "1", "change of the cell particle "
                                     "number sup_t |N_n(t) - N_n(0)|; N_n(t) = int_{I_n} rho_t, "
                                     "sup over the time grid"),
         "sup_cell_counts": Variable(("cell",), (nc,), "1",
                                     "largest cell particle number sup_t N_n(t); "
                                     "N_n(t) = int_{I_n} rho_t, sup over the time grid"),
         "cell_counts_inf": Variable(("cell",), (nc,), "1",
                                     "cell particle number N_n(t -> inf); "
                                     "int_{I_n} of the infinite-time average density"),
         "sup_outside": Variable(("depth",), (nd,), "1", "particles farther than d outside K "
                                 "(largest over t); sup_t int over {x not in K: dist(x, K) > d} "
                                 "of rho_t"),
         "sup_inside": Variable(("depth",), (nd,), "1", "particles deeper than d inside K "
                                "(largest over t); sup_t int over {x in K: dist(x, K^c) > d} "
                                "of rho_t"),
         "inside0": Variable(("depth",), (nd,), "1", "initial particles deeper than d inside "
                             "K; int over {x in K: dist(x, K^c) > d} of rho_0"),
         "dyn_n_particles": Variable((), (), "1", "particles N of the released initial state",
                                     "int64")}
    if opts["cell_counts"]:
        v["cell_counts"] = Variable(("time", "cell"), (nt, nc), "1",
                                    "cell particle number N_n(t); "
                                    "int_{I_n} rho_t per unit cell and time")
    if _may_use_support(geom, opts):
        v["dyn_count_error"] = Variable((), (), "1", "bound on the truncation error of every "
                                        "particle count of the sample at every time (support "
                                        "propagator; 0 for the exact ones)")
    if opts["method"] == "auto":
        v["dyn_method"] = Variable((), (), "1", "propagator chosen by the cost model: "
                                   + ", ".join(f"{c} = {k}" for k, c in METHOD_CODES.items()),
                                   "int64")
    return v, {"time": Coord(t, "time", "time after release"),
               "cell_distance": Coord(cell_distance(_geometry_ring(geom), _region(opts)), lu,
                                      "signed distance of I_n to the boundary of K: "
                                      "dist(I_n, K^c) inside, -dist(I_n, K) outside, "
                                      "0 straddling", "cell"),
               "cell": Coord(np.arange(nc), "1", "unit cell index n, I_n = [n, n+1)"),
               "depth": Coord(np.arange(nd, dtype=np.float64), lu, "depth d")}


def _may_use_support(geom, opts) -> bool:
    # the layout must not depend on the disorder realization: declared whenever "auto" could
    # resolve to "support" (any disordered lattice ring, by the cost model of choose_method)
    return opts["method"] == "support" or (opts["method"] == "auto"
                                           and geom["kind"] == "lattice")


#: codes of the stored ``dyn_method`` (the propagator "auto" chose for the sample)
METHOD_CODES = {"eigen": 0, "chebyshev": 1, "support": 2}


def _region(opts):
    return None if opts["region"] == "half" else tuple(float(x) for x in opts["region"])


def _geometry_ring(geom) -> Ring:
    """A clean ring of the sweep's geometry (the cell distances do not depend on V)."""
    if geom["kind"] == "continuum":
        return Ring.continuum(geom["n_grid"] / geom["points_per_unit"], geom["points_per_unit"])
    return Ring.lattice(np.zeros(geom["n_grid"]))


def _dyn_compute(ctx, opts):
    ring = ctx.ring
    region = _region(opts)
    n = opts["n_particles"]
    if n == "state":
        n = ctx.state.n_particles
    elif n == "fill":
        n = int(region_mask(ring, region).sum())
    times = sweep_times(opts["times"])
    method = chosen = opts["method"]
    if method == "auto":
        phi = fermion_twist(ctx.twist, int(n)) if n else float(ctx.twist)  # as domain_wall
        method = choose_method(ring, int(n), times, truncation=float(opts["truncation"]),
                               complex_twist=not is_real_twist(phi),
                               eigenbasis_needed=ring.n_grid <= DENSE_MAX_DYNAMICS,
                               tol=float(opts["tol"]))
    # the filled step 1_K in its site basis: no eigensolve of H_K, the most localized orbitals
    sites = (method == "support" and ring.kind == "lattice"
             and int(n) == int(region_mask(ring, region).sum()))
    # the sliced eigensolver of H_K (O(|K| window), sparse orbitals with a stated count error)
    # where the support propagator runs; LAPACK's dense block otherwise
    init = domain_wall(ring, int(n), region=region, twist=ctx.twist,
                       basis="sites" if sites else "eigen",
                       method="auto" if method == "support" else "dense")
    d = dynamics_sample(ring, init, times, truncation=float(opts["truncation"]),
                        method=method, tol=float(opts["tol"]))
    nd = _n_depth({"length": ring.length})
    if d.depth.size > nd:
        raise ValueError(f"dynamics: {d.depth.size} depth bins exceed the declared {nd}")

    def pad(a):
        out = np.zeros(nd)
        out[:a.size] = a
        return out

    out = {"n_transferred": d.n_transferred, "n_transferred_inf": np.float64(d.n_transferred_inf),
           "sup_cell_change": d.sup_cell_change, "sup_cell_counts": d.sup_cell_counts,
           "cell_counts_inf": d.cell_counts_inf,
           "sup_outside": pad(d.sup_outside), "sup_inside": pad(d.sup_inside),
           "inside0": pad(d.inside0), "dyn_n_particles": np.int64(init.n_particles)}
    if opts["cell_counts"]:
        out["cell_counts"] = d.cell_counts
    if chosen == "auto":
        out["dyn_method"] = np.int64(METHOD_CODES[method])
    if _may_use_support({"kind": ring.kind, "n_grid": ring.n_grid}, opts):
        out["dyn_count_error"] = np.float64(d.count_error.max(initial=0.0))
    return out


DYNAMICS = Observable(
    "dynamics", _dyn_layout, _dyn_compute,
    options=(Option("initial", "domain_wall", one_of("initial", "domain_wall"), "initial state"),
             Option("times", {"t_max": 4.0, "n_times": 20}, _check_times, "time grid"),
             Option("n_particles", "state", _check_n_particles, "particles released"),
             Option("region", "half", _check_region, "the interval K"),
             Option("truncation", 0.0, _check_truncation, "eigen truncation"),
             Option("method", "auto", one_of("method", *METHODS), "propagator"),
             Option("tol", SUPPORT_TOL, _check_tol, "support: orbital error target"),
             Option("cell_counts", False, boolean("cell_counts"), "store cell counts per time")),
    check=_dyn_check,
    description="release of a domain wall (N particles confined to K by hard walls) into the "
                "ring: N_tr(t), cell-count changes, tails")

OBSERVABLES = (DYNAMICS,)
