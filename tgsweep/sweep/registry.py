"""Observable registry: name -> small entry (layout + compute) used by the sweep.

An entry declares, before anything runs, the variables it writes per sample (dims after
``(grid..., sample)``, shape, dtype, ``units``, ``long_name``) and their coordinates, and
computes them for one sample::

    compute(ctx: SampleContext, options: dict) -> dict[var name, array of the declared shape]

``ctx`` holds the ring, the TG ground state and a memoised OBDM shared by all observables of
the sample.  Energies are in units hbar^2/2m = 1 (continuum: 1/length^2; lattice: units of the
hopping t); lengths in the ring's length unit (lattice: sites).

To add an observable: write ``layout`` and ``compute`` and call :func:`register`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["Variable", "Coord", "Observable", "SampleContext", "register", "available", "get",
           "validate_observables"]


@dataclass(frozen=True)
class Variable:
    """One stored per-sample variable: observable dims, shape, dtype, units, long_name."""

    dims: tuple[str, ...]
    shape: tuple[int, ...]
    units: str
    long_name: str
    dtype: str = "float64"

    @property
    def fill(self):
        return np.nan if np.dtype(self.dtype).kind in "fc" else -1


@dataclass(frozen=True)
class Coord:
    """A coordinate of an observable dimension.  ``dim`` names the dimension it runs along
    when the coordinate's own name is not a dimension (e.g. ``window_lo`` along ``window``)."""

    values: np.ndarray
    units: str
    long_name: str
    dim: str | None = None


@dataclass(frozen=True)
class Observable:
    """Registry entry.

    layout(geometry, options) -> (variables: dict[str, Variable], coords: dict[str, Coord])
    compute(ctx, options) -> dict[str, np.ndarray]
    validate(options, spec) -> options (raise SpecError on bad options); optional
    """

    name: str
    layout: Callable[[dict, dict], tuple[dict, dict]]
    compute: Callable[[Any, dict], dict]
    defaults: dict = field(default_factory=dict)
    validate: Callable | None = None
    description: str = ""


class SampleContext:
    """Everything one sample's observables share: ring, ground state, memoised OBDM."""

    def __init__(self, ring, state, params: dict, point: int = -1, sample: int = -1):
        self.ring = ring
        self.state = state
        self.params = params
        self.point = point  # flat grid point p
        self.sample = sample  # sample index s
        self._obdm = None
        self._bands = {}

    @property
    def has_obdm(self) -> bool:
        return self._obdm is not None

    def obdm(self) -> np.ndarray:
        """gamma (density units, sum_x gamma(x,x) h = N); computed once per sample."""
        if self._obdm is None:
            from ..core.obdm import obdm

            self._obdm = obdm(self.state)
        return self._obdm


    def band(self, tol: float, min_width: int = 0):
        """The band of gamma (:func:`tgsweep.obdm_band`, width="auto" to ``tol``, at least
        ``min_width``) if its certificate is reliable and <= tol, else None (use the full
        :meth:`obdm`); memoised per (tol, min_width).  Checked: Tr(gamma) h = N on the band's
        diagonal."""
        key = (float(tol), int(min_width))
        if key not in self._bands:
            from ..core.band import obdm_band

            m = self.ring.n_grid
            b = obdm_band(self.state, "auto", tol=tol)
            if b.reliable and b.width < min(min_width, (m - 1) // 2):
                b = obdm_band(self.state, min(min_width, (m - 1) // 2))
            n = self.state.n_particles
            tr = float(np.sum(b.values[:, 0].real)) * self.ring.weight
            if not abs(tr - n) <= 1e-8 * max(n, 1):
                raise ValueError(f"self-check: Tr(gamma) h = {tr!r} != N = {n} (band)")
            self._bands[key] = b if (b.reliable and b.certificate <= tol) else None
        return self._bands[key]


_REGISTRY: dict[str, Observable] = {}


def register(entry: Observable, replace: bool = False) -> Observable:
    """Add an entry; ``replace`` to override an existing name."""
    if entry.name in _REGISTRY and not replace:
        raise ValueError(f"observable {entry.name!r} already registered")
    _REGISTRY[entry.name] = entry
    return entry


def available() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> Observable:
    return _REGISTRY[name]


def validate_observables(obs: dict, spec) -> dict[str, dict]:
    """Check names and options; return name -> options with defaults filled in."""
    from .spec import SpecError

    if not isinstance(obs, dict):
        raise SpecError("observables", "must be a table of [observables.NAME] tables")
    out = {}
    for name, opts in obs.items():
        if name not in _REGISTRY:
            raise SpecError(f"observables.{name}", f"unknown observable; allowed: "
                            f"{', '.join(available())}")
        if not isinstance(opts, dict):
            raise SpecError(f"observables.{name}", "must be a table of options")
        entry = _REGISTRY[name]
        for key in opts:
            if key not in entry.defaults:
                allowed = ", ".join(entry.defaults) or "none"
                raise SpecError(f"observables.{name}.{key}", f"unknown option; allowed: {allowed}")
        merged = {**entry.defaults, **opts}
        if entry.validate is not None:
            merged = entry.validate(merged, spec)
        out[name] = merged
    # variable and dimension names must not collide across observables
    seen: dict[str, str] = {}
    geom = spec.geometry()
    for name, opts in out.items():
        variables, _ = _REGISTRY[name].layout(geom, opts)
        for v in variables:
            if v in seen or v in spec.dims or v in ("status", "error", "done", "sample"):
                raise SpecError(f"observables.{name}", f"variable {v!r} clashes with "
                                f"{seen.get(v, 'a reserved or grid name')}")
            seen[v] = name
    return out


# ------------------------------------------------------------------------------ units
def energy_units(geom: dict) -> str:
    return "hbar^2/(2 m a^2), a = unit length" if geom["kind"] == "continuum" else "t (hopping)"


def length_units(geom: dict) -> str:
    return "a (unit length)" if geom["kind"] == "continuum" else "lattice sites"


def _positive_int(name, key):
    def check(opts, spec):
        from .spec import SpecError

        v = opts[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise SpecError(f"observables.{name}.{key}", f"must be a positive integer, got {v!r}")
        return opts
    return check


# ------------------------------------------------------------------------------ built-ins
def _energy_layout(geom, opts):
    return ({"energy": Variable((), (), energy_units(geom),
                                "ground-state energy E = sum of occupied orbital energies"),
             "n_particles": Variable((), (), "1", "number of particles N", "int64")}, {})


def _energy_compute(ctx, opts):
    return {"energy": np.float64(ctx.state.energy), "n_particles": np.int64(ctx.state.n_particles)}


def _pn_validate(opts, spec):
    from .spec import SpecError

    has_mu = "mu" in spec.state or any("state.mu" in ax for ax in spec.axes.values())
    if not has_mu:
        raise SpecError("observables.particle_numbers", "needs state.mu (a chemical potential)")
    return opts


def _pn_layout(geom, opts):
    return ({"N_mu": Variable((), (), "1", "N_mu = min(N+, N-) (Seiringer-Warzel)", "int64"),
             "N_plus": Variable((), (), "1", "N+: eigenvalues <= mu, periodic bc", "int64"),
             "N_minus": Variable((), (), "1", "N-: eigenvalues <= mu, antiperiodic bc", "int64")},
            {})


def _pn_compute(ctx, opts):
    from ..core.state import particle_numbers

    n, p, m = particle_numbers(ctx.ring, float(ctx.params["state"]["mu"]))
    return {"N_mu": np.int64(n), "N_plus": np.int64(p), "N_minus": np.int64(m)}


def _density_layout(geom, opts):
    x = np.arange(geom["n_grid"]) * geom["spacing"]
    dens_units = "1/a" if geom["kind"] == "continuum" else "1 (per site)"
    return ({"density": Variable(("x",), (geom["n_grid"],), dens_units,
                                 "particle density rho(x) = sum_alpha |phi_alpha(x)|^2")},
            {"x": Coord(x, length_units(geom), "position x on the ring")})


def _density_compute(ctx, opts):
    return {"density": ctx.state.density()}


def _band_tol(name):
    def check(opts, spec):
        from .spec import SpecError

        v = opts["band_tol"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 <= v < 1):
            raise SpecError(f"observables.{name}.band_tol", "must be a number in [0, 1) "
                            f"(0 = always the full OBDM kernel), got {v!r}")
        return opts
    return check


def _band_vars(prefix, what):
    return {f"{prefix}_error": Variable((), (), "1", f"stated error of {what}: band certificate "
                                        "(+ Lanczos residual); 0 = full OBDM kernel"),
            f"{prefix}_band_width": Variable((), (), "1", "OBDM band half-width used (grid "
                                             "points); 0 = full OBDM kernel", "int64")}


def _condensate_layout(geom, opts):
    k = opts["n_modes"]
    variables = {"lambda0": Variable((), (), "1", "largest natural occupation lambda_0 of the OBDM"),
                 "occupations": Variable(("mode",), (k,), "1",
                                         "largest natural occupations, descending (NaN beyond M)")}
    if opts["band_tol"] > 0:
        variables.update(_band_vars("lambda0", "lambda_0"))
    return variables, {"mode": Coord(np.arange(k), "1", "natural-orbital index (0 = condensate)")}


def _condensate_validate(opts, spec):
    return _band_tol("condensate")(_positive_int("condensate", "n_modes")(opts, spec), spec)


def _condensate_compute(ctx, opts):
    from ..observables.correlations import band_condensate, condensate

    k = opts["n_modes"]
    band = ctx.band(opts["band_tol"]) if opts["band_tol"] > 0 and not ctx.has_obdm else None
    extra = {}
    if band is not None:
        bc = band_condensate(band, n_occupations=k)
        lam = bc.occupations
        extra = {"lambda0_error": np.float64(bc.error[0]),
                 "lambda0_band_width": np.int64(band.width)}
    else:
        lam = condensate(ctx.state, n_occupations=k, gamma=ctx.obdm())
        if opts["band_tol"] > 0:
            extra = {"lambda0_error": np.float64(0.0), "lambda0_band_width": np.int64(0)}
    occ = np.full(k, np.nan)
    occ[:lam.size] = lam
    return {"lambda0": np.float64(occ[0]), "occupations": occ, **extra}


def _float_list(name, key, lo=None, hi=None):
    def check(opts, spec):
        from .spec import SpecError

        v = opts[key]
        ok = (isinstance(v, list) and v and all(isinstance(x, (int, float))
                                                 and not isinstance(x, bool) for x in v))
        if ok:
            arr = np.asarray(v, dtype=float)
            ok = (np.all(np.isfinite(arr)) and (lo is None or np.all(arr >= lo))
                  and (hi is None or np.all(arr <= hi)))
        if not ok:
            rng = "" if lo is None and hi is None else f" in [{lo}, {hi}]"
            raise SpecError(f"observables.{name}.{key}",
                            f"must be a non-empty list of finite numbers{rng}, got {v!r}")
        return opts
    return check


def _hs_nr(geom, opts):
    m = geom["n_grid"]
    nc = m // (geom["points_per_unit"] if geom["kind"] == "continuum" else 1)
    r_max = opts["r_max"]
    return nc // 2 + 1 if r_max < 0 else min(nc // 2, r_max) + 1


def _hs_validate(opts, spec):
    from .spec import SpecError

    _float_list("hs_profile", "sigmas", 0.0, 2.0)(opts, spec)
    v = opts["r_max"]
    if isinstance(v, bool) or not isinstance(v, int) or v < -1:
        raise SpecError("observables.hs_profile.r_max", "must be an integer >= 0 (cells), or -1 "
                        f"for every distance, got {v!r}")
    return opts


def _hs_layout(geom, opts):
    nr = _hs_nr(geom, opts)
    return ({"hs_profile": Variable(("sigma", "r"), (len(opts["sigmas"]), nr), "1",
                                    "HS profile h_sigma(r) = mean_n ||1_In gamma 1_In+r||_2^sigma")},
            {"sigma": Coord(np.asarray(opts["sigmas"], float), "1", "HS power sigma"),
             "r": Coord(np.arange(nr), length_units(geom), "cell distance r")})


def _hs_compute(ctx, opts):
    from ..core.band import obdm_band
    from ..observables.correlations import hs_profile

    ring = ctx.ring
    nr = _hs_nr({"n_grid": ring.n_grid, "kind": ring.kind,
                 "points_per_unit": ring.points_per_unit}, opts)
    width = nr * ring.cell_size - 1  # every pair of cells at distance <= nr - 1 is in the band
    if opts["r_max"] >= 0 and not ctx.has_obdm and width <= (ring.n_grid - 1) // 2:
        # exact from the band (no truncation involved for these distances)
        _, h = hs_profile(ctx.state, sigmas=opts["sigmas"], band=obdm_band(ctx.state, width))
    else:
        _, h = hs_profile(ctx.state, sigmas=opts["sigmas"], gamma=ctx.obdm())
    return {"hs_profile": h[:, :nr]}


def _nk_layout(geom, opts):
    m = geom["n_grid"]
    inv = "1/a" if geom["kind"] == "continuum" else "1/site"
    variables = {"n_k": Variable(("k_index",), (m,), "1", "momentum distribution n(k), sum = N"),
                 "k": Variable(("k_index",), (m,), inv, "momentum k = (2 pi j + theta)/L")}
    if opts["band_tol"] > 0:
        variables.update(_band_vars("n_k", "every n(k)"))
    return variables, {"k_index": Coord(np.arange(m), "1", "momentum index (ascending k)")}


def _nk_compute(ctx, opts):
    from ..observables.correlations import momentum_distribution

    band = ctx.band(opts["band_tol"]) if opts["band_tol"] > 0 and not ctx.has_obdm else None
    if band is not None:
        md = momentum_distribution(ctx.state, band=band)
        return {"n_k": md.n_k, "k": md.k, "n_k_error": np.float64(band.certificate),
                "n_k_band_width": np.int64(band.width)}
    md = momentum_distribution(ctx.state, gamma=ctx.obdm())
    extra = ({"n_k_error": np.float64(0.0), "n_k_band_width": np.int64(0)}
             if opts["band_tol"] > 0 else {})
    return {"n_k": md.n_k, "k": md.k, **extra}


def _lyap_layout(geom, opts):
    inv = "1/a" if geom["kind"] == "continuum" else "1/site"
    e = np.asarray(opts["energies"], float)
    return ({"lyapunov": Variable(("energy_grid",), (e.size,), inv,
                                  "finite-ring Lyapunov exponent (1/L) ln ||T_L(E)||")},
            {"energy_grid": Coord(e, energy_units(geom), "energy E")})


def _lyap_compute(ctx, opts):
    from ..observables.lyapunov import lyapunov

    return {"lyapunov": lyapunov(ctx.ring, np.asarray(opts["energies"], float))}


def _stiff_validate(opts, spec):
    _pn_validate(opts, spec)
    return _float_list("stiffness", "thetas", -np.pi, np.pi)(opts, spec)


def _stiff_layout(geom, opts):
    inv = "1/a" if geom["kind"] == "continuum" else "1/site"
    th = np.asarray(opts["thetas"], float)
    return ({"rho_s": Variable(("theta",), (th.size,), inv,
                               "stiffness L (E(N_mu, theta) - E(N_mu, 0)) / theta^2"),
             "rho_s0": Variable((), (), inv, "stiffness curvature at theta -> 0"),
             "log10_rho_s": Variable(("theta",), (th.size,), "log10(" + inv + ")",
                                     "log10 of the stiffness (resolved below float underflow)"),
             "log10_rho_s0": Variable((), (), "log10(" + inv + ")",
                                      "log10 of the curvature at theta -> 0"),
             "stiffness_energy0": Variable((), (), energy_units(geom),
                                           "E_L(N_mu, 0), sum of the N_mu lowest levels"),
             "stiffness_reliable": Variable((), (), "1", "1 if the stiffness evaluation passed "
                                            "its cancellation/error checks", "int64"),
             "stiffness_ambiguous": Variable((), (), "1", "1 if a level lies within roundoff "
                                             "of mu (N_mu ambiguous)", "int64")},
            {"theta": Coord(th, "rad", "boson twist theta")})


def _stiff_compute(ctx, opts):
    from ..observables.stiffness import stiffness

    r = stiffness(ctx.ring, float(ctx.params["state"]["mu"]), np.asarray(opts["thetas"], float))
    return {"rho_s": np.asarray(r.rho_s, float), "rho_s0": np.float64(r.rho_s0),
            "log10_rho_s": np.asarray(r.log10_rho_s, float),
            "log10_rho_s0": np.float64(r.log10_rho_s0),
            "stiffness_energy0": np.float64(r.energy0),
            "stiffness_reliable": np.int64(bool(np.all(r.reliable))),
            "stiffness_ambiguous": np.int64(bool(r.ambiguous))}


register(Observable("energy", _energy_layout, _energy_compute,
                    description="ground-state energy and particle number"))
register(Observable("particle_numbers", _pn_layout, _pn_compute, validate=_pn_validate,
                    description="N_mu, N+, N- at chemical potential mu"))
register(Observable("density", _density_layout, _density_compute,
                    description="density profile rho(x)"))
register(Observable("condensate", _condensate_layout, _condensate_compute,
                    defaults={"n_modes": 4, "band_tol": 0.0}, validate=_condensate_validate,
                    description="natural occupations of the OBDM"))
register(Observable("hs_profile", _hs_layout, _hs_compute,
                    defaults={"sigmas": [0.5], "r_max": -1}, validate=_hs_validate,
                    description="Hilbert-Schmidt block profile of the OBDM"))
register(Observable("momentum_distribution", _nk_layout, _nk_compute,
                    defaults={"band_tol": 0.0}, validate=_band_tol("momentum_distribution"),
                    description="momentum distribution n(k) on the ring's momenta"))
register(Observable("lyapunov", _lyap_layout, _lyap_compute, defaults={"energies": [0.0]},
                    validate=_float_list("lyapunov", "energies"),
                    description="transfer-matrix Lyapunov exponents at given energies"))
register(Observable("stiffness", _stiff_layout, _stiff_compute, defaults={"thetas": [0.5]},
                    validate=_stiff_validate,
                    description="superfluid stiffness rho_s(theta) at chemical potential mu"))


# ------------------------------------------------------------------------------ ECL profile
def _ecl_validate(opts, spec):
    from .spec import SpecError

    w = opts["windows"]  # required: no default window makes sense for every model
    ok = isinstance(w, list) and len(w) > 0
    if ok:
        for pair in w:
            if not (isinstance(pair, list) and len(pair) == 2
                    and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                            and np.isfinite(x) for x in pair) and pair[0] <= pair[1]):
                ok = False
                break
    if not ok:
        raise SpecError("observables.ecl_profile.windows", "must be a non-empty list of "
                        f"[E_lo, E_hi] pairs of finite numbers with E_lo <= E_hi, got {w!r}")
    v = opts["r_max"]
    if isinstance(v, bool) or not isinstance(v, int) or v < -1:
        raise SpecError("observables.ecl_profile.r_max", "must be an integer >= 0 (cells), or -1 "
                        f"for every distance, got {v!r}")
    return _float_list("ecl_profile", "twists", -np.pi, np.pi)(opts, spec)


def _n_cells(geom) -> int:
    return geom["n_grid"] // (geom["points_per_unit"] if geom["kind"] == "continuum" else 1)


def _ecl_layout(geom, opts):
    half = _n_cells(geom) // 2
    nr = half + 1 if opts["r_max"] < 0 else min(half, opts["r_max"]) + 1
    nt, nw = len(opts["twists"]), len(opts["windows"])
    w = np.asarray(opts["windows"], float).reshape(-1, 2)
    eu = energy_units(geom)
    return ({"ecl_q": Variable(("twist", "window", "r"), (nt, nw, nr), "1",
                               "ECL profile q(r) = (1/n_cells) sum_n Q(n, n+r; J), "
                               "Q = sum_{E_j in J} Phi_j(n) Phi_j(m), Phi_j(n) = "
                               "(int_{I_n} |phi_j|^2)^{1/2}"),
             "ecl_n_states": Variable(("twist", "window"), (nt, nw), "1",
                                      "number of one-particle eigenvalues in the window J",
                                      "int64")},
            {"twist": Coord(np.asarray(opts["twists"], float), "rad",
                            "fermion twist phi of the one-particle operator (0 periodic, "
                            "pi antiperiodic)"),
             "window": Coord(np.arange(nw), "1", "energy window index"),
             "window_lo": Coord(w[:, 0], eu, "lower edge of the energy window J", "window"),
             "window_hi": Coord(w[:, 1], eu, "upper edge of the energy window J", "window"),
             "r": Coord(np.arange(nr), length_units(geom), "cell distance r")})


def _ecl_compute(ctx, opts):
    from ..observables.correlations import ecl_profile

    _, q, n = ecl_profile(ctx.ring, [tuple(p) for p in opts["windows"]],
                          twists=tuple(float(t) for t in opts["twists"]))
    nr = q.shape[-1] if opts["r_max"] < 0 else min(q.shape[-1] - 1, opts["r_max"]) + 1
    return {"ecl_q": q[..., :nr], "ecl_n_states": np.asarray(n, np.int64)}


register(Observable("ecl_profile", _ecl_layout, _ecl_compute,
                    defaults={"windows": None, "twists": [0.0, float(np.pi)], "r_max": -1},
                    validate=_ecl_validate,
                    description="eigenfunction-correlator (ECL) profile q(r) per energy window "
                                "and fermion twist"))


# ------------------------------------------------------------------------------ dynamics
_DYN_TIME_KEYS = ("t_max", "n_times", "log", "t_min")


def _dyn_times(opts) -> np.ndarray:
    """The time grid of the ``dynamics`` options: always contains t = 0 (sorted, unique)."""
    from ..observables.dynamics import time_grid

    t = opts["times"]
    if isinstance(t, dict):
        n = int(t.get("n_times", 20))
        if t.get("log", False):
            return time_grid(float(t["t_max"]), n_log=n,
                             t_min_log=float(t.get("t_min", float(t["t_max"]) / 100)))
        return time_grid(float(t["t_max"]), n_linear=n)
    return np.unique(np.concatenate([[0.0], np.asarray(t, dtype=np.float64)]))


def _dyn_validate(opts, spec):
    from .spec import SpecError

    pre = "observables.dynamics"
    t = opts["times"]
    if isinstance(t, dict):
        bad = [k for k in t if k not in _DYN_TIME_KEYS]
        if bad:
            raise SpecError(f"{pre}.times.{bad[0]}", "unknown key; allowed: "
                            + ", ".join(_DYN_TIME_KEYS))
        tm = t.get("t_max")
        if not (isinstance(tm, (int, float)) and not isinstance(tm, bool) and np.isfinite(tm)
                and tm > 0):
            raise SpecError(f"{pre}.times.t_max", f"must be a positive number, got {tm!r}")
        n = t.get("n_times", 20)
        if not (isinstance(n, int) and not isinstance(n, bool) and n >= 1):
            raise SpecError(f"{pre}.times.n_times", f"must be a positive integer, got {n!r}")
        if not isinstance(t.get("log", False), bool):
            raise SpecError(f"{pre}.times.log", "must be true or false")
        tmin = t.get("t_min", tm / 100)
        if not (isinstance(tmin, (int, float)) and not isinstance(tmin, bool)
                and 0 < tmin <= tm):
            raise SpecError(f"{pre}.times.t_min", f"must be a number in (0, t_max], got {tmin!r}")
    else:
        _float_list("dynamics", "times", 0.0, None)(opts, spec)
    n = opts["n_particles"]
    if not (n in ("state", "fill") or (isinstance(n, int) and not isinstance(n, bool) and n >= 0)):
        raise SpecError(f"{pre}.n_particles", "must be \"state\" (the sweep state's N), \"fill\" "
                        f"(one particle per grid point of K) or a non-negative integer, got {n!r}")
    r = opts["region"]
    if not (r == "half" or (isinstance(r, list) and len(r) == 2 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x)
            for x in r))):
        raise SpecError(f"{pre}.region", "must be \"half\" (x < L/2) or [a, b] in length units "
                        f"(a > b wraps through x = 0), got {r!r}")
    tr = opts["truncation"]
    if not (isinstance(tr, (int, float)) and not isinstance(tr, bool) and 0 <= tr < 1):
        raise SpecError(f"{pre}.truncation", f"must be a number in [0, 1), got {tr!r}")
    if not isinstance(opts["cell_counts"], bool):
        raise SpecError(f"{pre}.cell_counts", "must be true or false")
    if opts["initial"] != "domain_wall":
        raise SpecError(f"{pre}.initial", f"allowed: domain_wall, got {opts['initial']!r}")
    return opts


def _n_depth(geom) -> int:
    # ring distances are at most L/2; dynamics_sample's tails have ceil(max dist) + 1 <= this
    # many entries, and the tail beyond the largest distance is an empty set (exactly 0)
    return int(np.ceil(geom["length"] / 2)) + 2


def _dyn_layout(geom, opts):
    t = _dyn_times(opts)
    nt, nc, nd = t.size, _n_cells(geom), _n_depth(geom)
    lu = length_units(geom)
    v = {"n_transferred": Variable(("time",), (nt,), "1", "transferred particle number N_tr(t) "
                                   "= int_{K^c} rho_t - int_{K^c} rho_0 (both walls)"),
         "n_transferred_inf": Variable((), (), "1", "N_tr of the infinite-time "
                                       "(diagonal-ensemble) average density"),
         "sup_cell_change": Variable(("cell",), (nc,), "1", "sup_t |int_{I_n} rho_t - "
                                     "int_{I_n} rho_0| over the time grid, per unit cell I_n"),
         "sup_cell_counts": Variable(("cell",), (nc,), "1",
                                     "sup_t int_{I_n} rho_t over the time grid"),
         "cell_counts_inf": Variable(("cell",), (nc,), "1",
                                     "int_{I_n} of the infinite-time average density"),
         "cell_distance": Variable(("cell",), (nc,), lu, "signed distance of I_n to the "
                                   "boundary of K: dist(I_n, K^c) inside, -dist(I_n, K) "
                                   "outside, 0 straddling"),
         "sup_outside": Variable(("depth",), (nd,), "1", "sup_t int over {x not in K: "
                                 "dist(x, K) > d} of rho_t"),
         "sup_inside": Variable(("depth",), (nd,), "1", "sup_t int over {x in K: "
                                "dist(x, K^c) > d} of rho_t"),
         "inside0": Variable(("depth",), (nd,), "1", "int over {x in K: dist(x, K^c) > d} "
                             "of rho_0"),
         "dyn_n_particles": Variable((), (), "1", "particles N of the released initial state",
                                     "int64")}
    if opts["cell_counts"]:
        v["cell_counts"] = Variable(("time", "cell"), (nt, nc), "1",
                                    "int_{I_n} rho_t per unit cell and time")
    tu = "2 m a^2 / hbar" if geom["kind"] == "continuum" else "hbar / t"
    return v, {"time": Coord(t, tu, "time after release"),
               "cell": Coord(np.arange(nc), "1", "unit cell index n, I_n = [n, n+1)"),
               "depth": Coord(np.arange(nd, dtype=np.float64), lu, "depth d")}


def _dyn_compute(ctx, opts):
    from ..observables.dynamics import domain_wall, dynamics_sample, region_mask

    ring = ctx.ring
    region = None if opts["region"] == "half" else tuple(float(x) for x in opts["region"])
    n = opts["n_particles"]
    if n == "state":
        n = ctx.state.n_particles
    elif n == "fill":
        n = int(region_mask(ring, region).sum())
    twist = float(ctx.params["state"].get("twist", 0.0))
    init = domain_wall(ring, int(n), region=region, twist=twist)
    d = dynamics_sample(ring, init, _dyn_times(opts), truncation=float(opts["truncation"]))
    nd = _n_depth({"length": ring.length})
    if d.depth.size > nd:
        raise ValueError(f"dynamics: {d.depth.size} depth bins exceed the declared {nd}")

    def pad(a):
        out = np.zeros(nd)
        out[:a.size] = a
        return out

    out = {"n_transferred": d.n_transferred, "n_transferred_inf": np.float64(d.n_transferred_inf),
           "sup_cell_change": d.sup_cell_change, "sup_cell_counts": d.sup_cell_counts,
           "cell_counts_inf": d.cell_counts_inf, "cell_distance": d.cell_distance,
           "sup_outside": pad(d.sup_outside), "sup_inside": pad(d.sup_inside),
           "inside0": pad(d.inside0), "dyn_n_particles": np.int64(init.n_particles)}
    if opts["cell_counts"]:
        out["cell_counts"] = d.cell_counts
    return out


register(Observable("dynamics", _dyn_layout, _dyn_compute,
                    defaults={"initial": "domain_wall", "times": {"t_max": 4.0, "n_times": 20},
                              "n_particles": "state", "region": "half", "truncation": 0.0,
                              "cell_counts": False},
                    validate=_dyn_validate,
                    description="release of a domain wall (N particles confined to K by hard "
                                "walls) into the ring: N_tr(t), cell-count changes, tails"))
