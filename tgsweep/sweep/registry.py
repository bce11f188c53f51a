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
                                     "largest natural occupations, descending (NaN if < N modes)")},
            {"mode": Coord(np.arange(k), "1", "natural-orbital index (0 = condensate)")})


def _condensate_compute(ctx, opts):
    # provisional: eigenvalues of gamma h (natural occupations) by dense eigvalsh
    g = ctx.obdm() * ctx.ring.weight
    lam = np.linalg.eigvalsh(g)[::-1]
    k = opts["n_modes"]
    occ = np.full(k, np.nan)
    occ[:min(k, lam.size)] = lam[:k]
    return {"lambda0": np.float64(lam[0]) if lam.size else np.float64(0.0), "occupations": occ}


register(Observable("energy", _energy_layout, _energy_compute,
                    description="ground-state energy and particle number"))
register(Observable("particle_numbers", _pn_layout, _pn_compute, validate=_pn_validate,
                    description="N_mu, N+, N- at chemical potential mu"))
register(Observable("density", _density_layout, _density_compute,
                    description="density profile rho(x)"))
register(Observable("condensate", _condensate_layout, _condensate_compute,
                    defaults={"n_modes": 4}, validate=_positive_int("condensate", "n_modes"),
                    description="natural occupations of the OBDM (eigvalsh of gamma h)"))
