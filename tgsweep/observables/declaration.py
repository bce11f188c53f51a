"""What an observable is, for the sweep: its declaration (one per observable, next to its code).

An :class:`Observable` declares, before anything runs,

* ``options``: :class:`Option` (name, default, check) -- the sweep validates a spec's
  ``[observables.NAME]`` table from these;
* ``layout(geometry, options) -> (variables, coords)``: the per-sample :class:`Variable`
  (observable dims after ``(grid..., sample)``, shape, dtype, ``units``, ``long_name``) and the
  :class:`Coord` of those dims;
* ``compute(ctx, options) -> dict[variable name, array of the declared shape]``: the one
  calling convention -- a :class:`SampleContext` (ring, ground state, memoised OBDM, the grid
  point's parameters) and the validated options in, a dict of NumPy arrays out;
* ``requires``: state fields it needs ("mu": a chemical potential);
* ``thermal``: whether it accepts a thermal state (``[state] temperature``); the sweep refuses
  the others at T > 0 with a one-line error.  ``thermal_requires`` (if not None) replaces
  ``requires`` at T > 0.  An observable whose stored variables depend on the ensemble declares
  the option :data:`ENSEMBLE_OPTION` ("ensemble": "ground" at T = 0, "grand" or "canonical"
  at T > 0); the sweep fills it in from ``[state]`` (users leave it out), :meth:`evaluate` from
  the state;
* ``check(options)``: an optional check across options (raises :class:`ParamError`).

``geometry`` is the dict of :meth:`tgsweep.sweep.spec.Spec.geometry` (kind, n_grid, spacing,
length, points_per_unit); a variable declares its physical *dimension* ("energy", "1/length",
...), and the store writes the ``units``/``natural_units`` attributes from it
(:func:`tgsweep.models.units.unit_attrs`).
:meth:`Observable.evaluate` runs one on a :class:`~tgsweep.core.state.State`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..core.band import obdm_band
from ..core.obdm import obdm
from ..core.state import LocalizedState, State
from ..core.thermal import ThermalState
from ..models.params import REQUIRED, ParamError
from ..models.units import DIMENSIONS


def _check_dimension(d: str) -> None:
    if d not in DIMENSIONS:
        raise ValueError(f"dimension: must be one of {', '.join(DIMENSIONS)}, got {d!r}")

__all__ = ["Variable", "Coord", "Option", "Observable", "SampleContext", "DeferredState",
           "n_cells", "integer_at_least", "real_list", "boolean", "one_of", "REQUIRED",
           "ENSEMBLE_OPTION", "ensemble_of"]


@dataclass(frozen=True)
class Variable:
    """One stored per-sample variable: observable dims, shape, physical dimension (one of
    :data:`tgsweep.models.units.DIMENSIONS`; the store writes ``units``/``natural_units`` from
    it), long_name, dtype."""

    dims: tuple[str, ...]
    shape: tuple[int, ...]
    dimension: str
    long_name: str
    dtype: str = "float64"

    def __post_init__(self):
        _check_dimension(self.dimension)

    @property
    def fill(self):
        return np.nan if np.dtype(self.dtype).kind in "fc" else -1


@dataclass(frozen=True)
class Coord:
    """A coordinate of an observable dimension.  ``dim`` names the dimension it runs along
    when the coordinate's own name is not a dimension (e.g. ``window_lo`` along ``window``)."""

    values: np.ndarray
    dimension: str
    long_name: str
    dim: str | None = None

    def __post_init__(self):
        _check_dimension(self.dimension)


@dataclass(frozen=True)
class Option:
    """An option of an observable: ``check(value) -> value`` raises :class:`ParamError` whose
    ``field`` is the option name (or ``name.sub`` for a key inside a table option)."""

    name: str
    default: object
    check: Callable[[object], object] | None = None
    doc: str = ""


@dataclass(frozen=True)
class Observable:
    """Declaration of an observable (see the module docstring)."""

    name: str
    layout: Callable[[dict, dict], tuple[dict, dict]]
    compute: Callable[[Any, dict], dict]
    options: tuple[Option, ...] = ()
    requires: tuple[str, ...] = ()
    description: str = ""
    #: accepts a thermal state (``[state] temperature``, :func:`tgsweep.thermal_state`)
    thermal: bool = False
    #: state fields needed at T > 0 (None: the same as ``requires``)
    thermal_requires: tuple[str, ...] | None = None
    #: check(resolved options) across options; raises ParamError naming the option
    check: Callable[[dict], None] | None = None
    #: accepts a :class:`~tgsweep.core.state.LocalizedState` (orbitals stored on their windows,
    #: ``ground_state(..., method="sliced")``): the sweep then builds one on large rings
    localized: bool = False

    @property
    def defaults(self) -> dict:
        return {o.name: (None if o.default is REQUIRED else o.default) for o in self.options}

    @property
    def ensemble_aware(self) -> bool:
        """Its variables depend on the ensemble (it declares :data:`ENSEMBLE_OPTION`)."""
        return any(o.name == ENSEMBLE_OPTION.name for o in self.options)

    def requires_at(self, thermal: bool) -> tuple[str, ...]:
        """State fields needed at T = 0 (``thermal`` False) or at T > 0."""
        return self.requires if not thermal or self.thermal_requires is None \
            else self.thermal_requires

    def resolve(self, options: dict) -> dict:
        """Options with defaults filled in, each checked; :class:`ParamError` names the bad one."""
        known = {o.name: o for o in self.options}
        for key in options:
            if key not in known:
                shown = [k for k in known if k != ENSEMBLE_OPTION.name]  # set by the sweep
                raise ParamError(key, "unknown option; allowed: " + (", ".join(shown) or "none"))
        out = {}
        for o in self.options:
            if o.name not in options and o.default is REQUIRED:
                raise ParamError(o.name, "required option is missing" + (f" ({o.doc})"
                                                                         if o.doc else ""))
            v = options.get(o.name, o.default)
            out[o.name] = o.check(v) if o.check is not None else v
        if self.check is not None:
            self.check(out)
        return out

    def evaluate(self, state: State, mu: float | None = None, **options) -> dict:
        """Run on one state as a sweep sample does: options validated, then ``compute`` ->
        {variable: array}.  ``mu`` is needed by observables that require it."""
        thermal = isinstance(state, ThermalState)
        if self.ensemble_aware and ENSEMBLE_OPTION.name not in options:
            options = {**options, ENSEMBLE_OPTION.name: ensemble_of(state)}
        opts = self.resolve(options)
        st = {"twist": float(state.twist)}
        if thermal:
            st["temperature"] = float(state.temperature)
            st["ensemble"] = state.ensemble
            if state.ensemble == "grand":
                st["mu"] = float(state.mu)
            else:
                st["n_particles"] = int(state.n_particles)
        if mu is not None:
            st["mu"] = float(mu)
        elif "mu" in self.requires_at(thermal) and "mu" not in st:
            raise ParamError("mu", f"observable {self.name!r} needs a chemical potential")
        if "temperature" in self.requires_at(thermal) and not thermal:
            raise ParamError("temperature", f"observable {self.name!r} needs a thermal state "
                             "(tgsweep.thermal_state, T > 0)")
        ctx = SampleContext(state.ring, state, {"model": {}, "disorder": {}, "state": st})
        return self.compute(ctx, opts)


class DeferredState:
    """A sample's state made on first use: ``make()`` is called when an observable first reads
    :attr:`SampleContext.state`, so a sample whose observables need only the ring and mu
    (Sturm counts, the stiffness, Lyapunov exponents) never pays for the eigensolve."""

    def __init__(self, make):
        self.make = make


class SampleContext:
    """Everything one sample's observables share: ring, ground state, memoised OBDM, and the
    grid point's resolved parameters ``params`` ({"model", "disorder", "state"}).  ``state``
    may be a :class:`DeferredState` (made on first read of :attr:`state`)."""

    def __init__(self, ring, state, params: dict, point: int = -1, sample: int = -1):
        self.ring = ring
        self._state = state
        self.params = params
        self.point = point  # flat grid point p
        self.sample = sample  # sample index s
        self._obdm = None
        self._bands = {}

    @property
    def state(self):
        if isinstance(self._state, DeferredState):
            self._state = self._state.make()
        return self._state

    @property
    def has_obdm(self) -> bool:
        return self._obdm is not None

    @property
    def mu(self) -> float:
        """The chemical potential of the state section (observables that ``require`` it)."""
        return float(self.params["state"]["mu"])

    @property
    def twist(self) -> float:
        return float(self.params["state"].get("twist", 0.0))

    def obdm(self) -> np.ndarray:
        """gamma (density units, sum_x gamma(x,x) h = N); computed once per sample."""
        if self._obdm is None:
            st = self.state
            self._obdm = obdm(st.to_state() if isinstance(st, LocalizedState) else st)
        return self._obdm

    def band(self, tol: float):
        """The band of gamma (:func:`tgsweep.obdm_band`, width="auto" to ``tol``) if its
        certificate is reliable and <= tol, else None (use the full :meth:`obdm`); memoised per
        tol.  Self-check: Tr(gamma) h = N (thermal grand canonical: <N>) on the band's diagonal
        (raises otherwise).  Zero-temperature Slater states (also localized ones) and thermal
        (Gibbs) states have a band; interacting states use the full gamma (None)."""
        if not isinstance(self.state, (State, LocalizedState, ThermalState)):
            return None
        key = float(tol)
        if key not in self._bands:
            b = obdm_band(self.state, "auto", tol=key)
            n = self.state.n_particles
            tr = float(np.sum(b.values[:, 0].real)) * self.ring.weight
            if not abs(tr - n) <= 1e-8 * max(n, 1):
                raise ValueError(f"self-check: Tr(gamma) h = {tr!r} != N = {n} (band)")
            self._bands[key] = b if (b.reliable and b.certificate <= key) else None
        return self._bands[key]


def n_cells(geom: dict) -> int:
    """Number of unit cells I_n of the geometry (lattice: sites)."""
    return geom["n_grid"] // (geom["points_per_unit"] if geom["kind"] == "continuum" else 1)


# ------------------------------------------------------------------------------ option checks
def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def integer_at_least(name: str, minimum: int) -> Callable:
    def check(v):
        if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
            what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise ParamError(name, f"must be {what}, got {v!r}")
        return v
    return check


def real_list(name: str, lo: float | None = None, hi: float | None = None) -> Callable:
    """A non-empty list of finite numbers in [lo, hi]."""
    def check(v):
        ok = isinstance(v, list) and v and all(_is_number(x) for x in v)
        if ok:
            arr = np.asarray(v, dtype=float)
            ok = (np.all(np.isfinite(arr)) and (lo is None or np.all(arr >= lo))
                  and (hi is None or np.all(arr <= hi)))
        if not ok:
            rng = "" if lo is None and hi is None else f" in [{lo}, {hi}]"
            raise ParamError(name, f"must be a non-empty list of finite numbers{rng}, got {v!r}")
        return v
    return check


def boolean(name: str) -> Callable:
    def check(v):
        if not isinstance(v, bool):
            raise ParamError(name, "must be true or false")
        return v
    return check


def one_of(name: str, *allowed) -> Callable:
    def check(v):
        if v not in allowed:
            raise ParamError(name, f"allowed: {', '.join(map(str, allowed))}, got {v!r}")
        return v
    return check


#: the ensemble of the sample's state, as an option of ensemble-aware observables: set by the
#: sweep from ``[state]`` (temperature, ensemble) and by :meth:`Observable.evaluate` from the
#: state; "ground" = the T = 0 ground state
ENSEMBLE_OPTION = Option("ensemble", "ground",
                         one_of("ensemble", "ground", "grand", "canonical"),
                         "set from [state]: 'ground' (T = 0), 'grand' or 'canonical' (T > 0)")


def ensemble_of(state) -> str:
    """'grand' / 'canonical' for a :class:`~tgsweep.core.thermal.ThermalState`, else 'ground'."""
    return state.ensemble if isinstance(state, ThermalState) else "ground"
