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
    values: np.ndarray
    units: str
    long_name: str


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

    @property
    def has_obdm(self) -> bool:
        return self._obdm is not None

    def obdm(self) -> np.ndarray:
        """gamma (density units, sum_x gamma(x,x) h = N); computed once per sample."""
        if self._obdm is None:
            from ..core.obdm import obdm

            self._obdm = obdm(self.state)
        return self._obdm


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


def _condensate_layout(geom, opts):
    k = opts["n_modes"]
    return ({"lambda0": Variable((), (), "1", "largest natural occupation lambda_0 of the OBDM"),
             "occupations": Variable(("mode",), (k,), "1",
                                     "largest natural occupations, descending (NaN beyond M)")},
            {"mode": Coord(np.arange(k), "1", "natural-orbital index (0 = condensate)")})


def _condensate_compute(ctx, opts):
    from ..observables.correlations import condensate

    k = opts["n_modes"]
    lam = condensate(ctx.state, n_occupations=k, gamma=ctx.obdm())
    occ = np.full(k, np.nan)
    occ[:lam.size] = lam
    return {"lambda0": np.float64(occ[0]), "occupations": occ}


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


def _hs_layout(geom, opts):
    m = geom["n_grid"]
    nc = m // (geom["points_per_unit"] if geom["kind"] == "continuum" else 1)
    nr = nc // 2 + 1
    return ({"hs_profile": Variable(("sigma", "r"), (len(opts["sigmas"]), nr), "1",
                                    "HS profile h_sigma(r) = mean_n ||1_In gamma 1_In+r||_2^sigma")},
            {"sigma": Coord(np.asarray(opts["sigmas"], float), "1", "HS power sigma"),
             "r": Coord(np.arange(nr), length_units(geom), "cell distance r")})


def _hs_compute(ctx, opts):
    from ..observables.correlations import hs_profile

    _, h = hs_profile(ctx.state, sigmas=opts["sigmas"], gamma=ctx.obdm())
    return {"hs_profile": h}


def _nk_layout(geom, opts):
    m = geom["n_grid"]
    inv = "1/a" if geom["kind"] == "continuum" else "1/site"
    return ({"n_k": Variable(("k_index",), (m,), "1", "momentum distribution n(k), sum = N"),
             "k": Variable(("k_index",), (m,), inv, "momentum k = (2 pi j + theta)/L")},
            {"k_index": Coord(np.arange(m), "1", "momentum index (ascending k)")})


def _nk_compute(ctx, opts):
    from ..observables.correlations import momentum_distribution

    md = momentum_distribution(ctx.state, gamma=ctx.obdm())
    return {"n_k": md.n_k, "k": md.k}


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
             "stiffness_ambiguous": Variable((), (), "1", "1 if a level lies within roundoff "
                                             "of mu (N_mu ambiguous)", "int64")},
            {"theta": Coord(th, "rad", "boson twist theta")})


def _stiff_compute(ctx, opts):
    from ..observables.stiffness import stiffness

    r = stiffness(ctx.ring, float(ctx.params["state"]["mu"]), np.asarray(opts["thetas"], float))
    return {"rho_s": np.asarray(r.rho_s, float), "rho_s0": np.float64(r.rho_s0),
            "stiffness_ambiguous": np.int64(bool(r.ambiguous))}


register(Observable("energy", _energy_layout, _energy_compute,
                    description="ground-state energy and particle number"))
register(Observable("particle_numbers", _pn_layout, _pn_compute, validate=_pn_validate,
                    description="N_mu, N+, N- at chemical potential mu"))
register(Observable("density", _density_layout, _density_compute,
                    description="density profile rho(x)"))
register(Observable("condensate", _condensate_layout, _condensate_compute,
                    defaults={"n_modes": 4}, validate=_positive_int("condensate", "n_modes"),
                    description="natural occupations of the OBDM"))
register(Observable("hs_profile", _hs_layout, _hs_compute, defaults={"sigmas": [0.5]},
                    validate=_float_list("hs_profile", "sigmas", 0.0, 2.0),
                    description="Hilbert-Schmidt block profile of the OBDM"))
register(Observable("momentum_distribution", _nk_layout, _nk_compute,
                    description="momentum distribution n(k) on the ring's momenta"))
register(Observable("lyapunov", _lyap_layout, _lyap_compute, defaults={"energies": [0.0]},
                    validate=_float_list("lyapunov", "energies"),
                    description="transfer-matrix Lyapunov exponents at given energies"))
register(Observable("stiffness", _stiff_layout, _stiff_compute, defaults={"thetas": [0.5]},
                    validate=_stiff_validate,
                    description="superfluid stiffness rho_s(theta) at chemical potential mu"))
