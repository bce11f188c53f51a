"""Sweep specification: TOML parsing, validation and the parameter grid.

A spec is a TOML file (``workflows/*.toml``) with the sections::

    [model]       kind = "continuum" | "lattice"
                  continuum: length (L, units of length), points_per_unit (grid points per unit)
                  lattice:   sites (M), hopping (t, default 1)
                  interaction = "hard_core" (default) | "ideal" | "mean_field" (g) |
                  "bose_hubbard" (U, n_max, chi_max): see tgsweep.sweep.interaction
    [disorder]    kind = "none" | "uniform" | "gaussian" | ... ; other keys are passed to the
                  disorder generator (tgsweep.models.potentials.make_potential)
    [state]       exactly one of mu (chemical potential, units hbar^2/2m = 1) or n_particles;
                  twist (boson twist theta, radians, default 0); temperature (T > 0, energy
                  units, k_B = 1: the exact Gibbs state, tgsweep.thermal_state) with ensemble =
                  "grand" (needs mu) | "canonical" (needs n_particles), default from which is given
    [grid]        "section.key" = [values...]        product axis, one dimension per key
                  [grid.zip.NAME] "section.key" = [...], ...   zipped group: one dimension NAME
    [sampling]    n_samples, seed, samples_per_task (default 4), self_check (default true)
    [observables.NAME]   options of observable NAME (see tgsweep.sweep.registry)
    [output]      store = "data/x.zarr"

Validation (:func:`parse_spec`) raises :class:`SpecError` whose message starts with the dotted
name of the offending field and says what is allowed; nothing is computed or written before it.
Grid point ``p`` is the C-order flat index over the grid dimensions in spec order.
"""

from __future__ import annotations

import copy
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..models.params import ParamError
from ..models.potentials import DISORDER_KINDS as _DECLARED
from . import interaction as _interaction
from . import limits as _limits
from .errors import SpecError
from .registry import available, validate_observables

__all__ = ["Spec", "load_spec", "parse_spec", "DISORDER_KINDS", "grid_dimension"]

#: disorder kinds a spec accepts: "none" (no potential) and every declared model
DISORDER_KINDS = ("none", *_DECLARED)
_SECTIONS = ("model", "disorder", "state", "grid", "sampling", "observables", "output")
#: parameters that change array shapes cannot be grid axes
_SHAPE_KEYS = ("model.kind", "model.length", "model.points_per_unit", "model.sites",
               "model.interaction")
_GRIDDABLE = ("model", "disorder", "state")


def _is_scalar(v) -> bool:
    return isinstance(v, (bool, int, float, str))


def _number(field_name, v, *, integer=False, positive=False, nonneg=False):
    ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    if ok and integer and not (isinstance(v, int) or (float(v).is_integer())):
        ok = False
    if ok and not math.isfinite(float(v)):
        ok = False
    what = "an integer" if integer else "a finite number"
    if ok and positive and not v > 0:
        ok, what = False, "a positive " + ("integer" if integer else "number")
    if ok and nonneg and not v >= 0:
        ok, what = False, "a non-negative " + ("integer" if integer else "number")
    if not ok:
        if positive:
            what = "a positive " + ("integer" if integer else "number")
        elif nonneg:
            what = "a non-negative " + ("integer" if integer else "number")
        raise SpecError(field_name, f"must be {what}, got {v!r}")
    return int(v) if integer else float(v)


@dataclass
class Spec:
    """A validated sweep specification (see module docstring).

    Attributes
    ----------
    raw : the spec as a plain dict (TOML document), stored verbatim in the store's attributes.
    model, disorder, state : base parameters (grid values override them per point).
    dims : grid dimension names in order; ``axes[dim]`` maps each parameter key
        ("section.key") of that dimension to its list of values.
    n_samples, seed, samples_per_task, self_check : sampling options.
    observables : observable name -> validated options (defaults filled in).
    store : output store path (may be overridden by the CLI).
    """

    raw: dict
    model: dict
    disorder: dict
    state: dict
    dims: list[str]
    axes: dict[str, dict[str, list]]
    n_samples: int
    seed: int
    samples_per_task: int
    self_check: bool
    observables: dict[str, dict]
    store: str | None
    source: str | None = None
    _geometry: dict = field(default_factory=dict, repr=False)

    # ---------------------------------------------------------------- grid
    @property
    def grid_shape(self) -> tuple[int, ...]:
        return tuple(len(next(iter(self.axes[d].values()))) for d in self.dims)

    @property
    def n_points(self) -> int:
        return int(np.prod(self.grid_shape, dtype=np.int64))

    @property
    def n_chunks(self) -> int:
        """Sample chunks (= tasks) per grid point."""
        return -(-self.n_samples // self.samples_per_task)

    def point_index(self, p: int) -> tuple[int, ...]:
        return tuple(int(i) for i in np.unravel_index(p, self.grid_shape)) if self.dims else ()

    def point_params(self, p: int) -> dict[str, dict]:
        """Resolved {"model": ..., "disorder": ..., "state": ...} at flat grid point ``p``."""
        out = {"model": dict(self.model), "disorder": dict(self.disorder),
               "state": dict(self.state)}
        for d, i in zip(self.dims, self.point_index(p)):
            for key, values in self.axes[d].items():
                sec, name = key.split(".", 1)
                out[sec][name] = values[i]
        return out

    def geometry(self) -> dict:
        """Grid geometry shared by all points: kind, n_grid M, spacing h, length L,
        points_per_unit, and twist (the boson twist if it is the same at every grid point,
        else None)."""
        return dict(self._geometry)

    def to_json(self) -> str:
        return json.dumps(self.raw, sort_keys=True)

    def tasks(self) -> list[tuple[int, int]]:
        """All (grid point, sample chunk) pairs."""
        return [(p, c) for p in range(self.n_points) for c in range(self.n_chunks)]

    def chunk_samples(self, c: int) -> tuple[int, int]:
        s0 = c * self.samples_per_task
        return s0, min(s0 + self.samples_per_task, self.n_samples)


def load_spec(path, limits: "_limits.Limits | None" = None) -> Spec:
    """Read and validate a TOML spec file (size ``limits``: :mod:`tgsweep.sweep.limits`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError("spec", f"cannot read {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise SpecError("spec", f"{str(path)!r} is not UTF-8 text (byte "
                        f"0x{exc.object[exc.start]:02x} at offset {exc.start}); a spec is a TOML "
                        "file") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError("spec", f"not valid TOML ({exc})") from None
    spec = parse_spec(raw, limits)
    spec.source = str(path)
    return spec


def parse_spec(raw: dict, limits: "_limits.Limits | None" = None) -> Spec:
    """Validate a spec given as a dict (a parsed TOML document); see the module docstring."""
    raw = copy.deepcopy(raw)
    for key in raw:
        if key not in _SECTIONS:
            raise SpecError(key, f"unknown section; allowed: {', '.join(_SECTIONS)}")
    for sec in _SECTIONS:
        if sec in raw and not isinstance(raw[sec], dict):
            raise SpecError(sec, "must be a table")

    model = _check_model(dict(raw.get("model", {})))
    disorder = dict(raw.get("disorder", {"kind": "none"}))
    state = dict(raw.get("state", {}))
    axes, dims = _check_grid(raw.get("grid", {}), model, disorder, state)
    # validate every grid point's model/disorder/state values (the grid may override them)
    geom = None
    sampling = dict(raw.get("sampling", {}))
    for key in sampling:
        if key not in ("n_samples", "seed", "samples_per_task", "self_check"):
            raise SpecError(f"sampling.{key}", "unknown key; allowed: n_samples, seed, "
                            "samples_per_task, self_check")
    if "n_samples" not in sampling:
        raise SpecError("sampling.n_samples", "required (a positive integer)")
    if "seed" not in sampling:
        raise SpecError("sampling.seed", "required (a non-negative integer)")
    n_samples = _number("sampling.n_samples", sampling["n_samples"], integer=True, positive=True)
    seed = _number("sampling.seed", sampling["seed"], integer=True, nonneg=True)
    spt = _number("sampling.samples_per_task", sampling.get("samples_per_task", min(4, n_samples)),
                  integer=True, positive=True)
    self_check = sampling.get("self_check", True)
    if not isinstance(self_check, bool):
        raise SpecError("sampling.self_check", f"must be true or false, got {self_check!r}")

    output = dict(raw.get("output", {}))
    for key in output:
        if key != "store":
            raise SpecError(f"output.{key}", "unknown key; allowed: store")
    store = output.get("store")
    if store is not None and (not isinstance(store, str) or not store):
        raise SpecError("output.store", f"must be a non-empty path string, got {store!r}")

    spec = Spec(raw=raw, model=model, disorder=disorder, state=state, dims=dims, axes=axes,
                n_samples=n_samples, seed=seed, samples_per_task=spt, self_check=self_check,
                observables={}, store=store)
    problem = _limits.check_early(spec, limits)  # sizes and grid names, before any trial draw
    if problem:
        raise SpecError(*problem)
    for p in _corner_points(spec):
        params = spec.point_params(p)
        g = _check_model(params["model"], prefix=_prefix_for(spec, "model"))
        _check_state(params["state"], spec)
        _check_disorder(params["disorder"], g, spec)
        geom = g
    # the boson twist, when one value serves the whole grid (fixed momentum grid of n(k))
    twist_gridded = any("state.twist" in ax for ax in spec.axes.values())
    spec._geometry = {**_geometry_of(geom),
                      "twist": None if twist_gridded else float(state.get("twist", 0.0))}

    obs = raw.get("observables")
    if not obs:
        raise SpecError("observables", f"at least one observable required; allowed: "
                        f"{', '.join(available())}")
    obs = _interaction.check_observables_for(spec.model.get("interaction", "hard_core"), obs,
                                            spec.state)
    spec.observables = validate_observables(obs, spec)
    problem = _limits.check_late(spec, limits)
    if problem:
        raise SpecError(*problem)
    return spec


# ------------------------------------------------------------------------------- sections
def _prefix_for(spec, sec):
    return sec


def _check_model(model: dict, prefix: str = "model") -> dict:
    model, inter = _interaction.check_interaction(model, prefix)
    out = _check_geometry(model, prefix)
    if inter["interaction"] != "hard_core":
        out.update(inter)
    return out


def _check_geometry(model: dict, prefix: str = "model") -> dict:
    kind = model.get("kind")
    if kind not in ("continuum", "lattice"):
        raise SpecError(f"{prefix}.kind", f"must be 'continuum' or 'lattice', got {kind!r}")
    allowed = {"continuum": ("kind", "length", "points_per_unit"),
               "lattice": ("kind", "sites", "hopping")}[kind]
    for key in model:
        if key not in allowed:
            raise SpecError(f"{prefix}.{key}", f"unknown key for a {kind} model; allowed: "
                            f"{', '.join(allowed)}")
    out = {"kind": kind}
    if kind == "continuum":
        for key in ("length", "points_per_unit"):
            if key not in model:
                raise SpecError(f"{prefix}.{key}", "required for a continuum model")
        out["length"] = _number(f"{prefix}.length", model["length"], positive=True)
        out["points_per_unit"] = _number(f"{prefix}.points_per_unit", model["points_per_unit"],
                                         integer=True, positive=True)
        m = out["length"] * out["points_per_unit"]
        if abs(m - round(m)) > 1e-9 * max(1, m) or round(m) < 3:
            raise SpecError(f"{prefix}.length", "length * points_per_unit must be an integer >= 3,"
                            f" got {out['length']!r} * {out['points_per_unit']!r}")
    else:
        if "sites" not in model:
            raise SpecError(f"{prefix}.sites", "required for a lattice model (an integer >= 3)")
        out["sites"] = _number(f"{prefix}.sites", model["sites"], integer=True, positive=True)
        if out["sites"] < 3:
            raise SpecError(f"{prefix}.sites", f"must be an integer >= 3, got {model['sites']!r}")
        out["hopping"] = _number(f"{prefix}.hopping", model.get("hopping", 1.0), positive=True)
    return out


def _geometry_of(model: dict) -> dict:
    if model["kind"] == "continuum":
        m = int(round(model["length"] * model["points_per_unit"]))
        h = 1.0 / model["points_per_unit"]
    else:
        m, h = model["sites"], 1.0
    return {"kind": model["kind"], "n_grid": m, "spacing": h, "length": m * h,
            "points_per_unit": model.get("points_per_unit", 1)}


def _check_state(state: dict, spec: Spec) -> None:
    for key in state:
        if key not in ("mu", "n_particles", "twist", "temperature", "ensemble"):
            raise SpecError(f"state.{key}", "unknown key; allowed: mu, n_particles, twist, "
                            "temperature, ensemble")
    if "ensemble" in state:
        if "temperature" not in state:
            raise SpecError("state.ensemble", "only with state.temperature (T > 0)")
        want = {"grand": "mu", "canonical": "n_particles"}.get(state["ensemble"])
        if want is None:
            raise SpecError("state.ensemble", f"must be 'grand' or 'canonical', got "
                            f"{state['ensemble']!r}")
        if want not in state:
            raise SpecError("state.ensemble", f"{state['ensemble']!r} needs state.{want}")
    if "temperature" in state:
        _number("state.temperature", state["temperature"], positive=True)
        if spec.model.get("interaction", "hard_core") != "hard_core":
            raise SpecError("state.temperature", "only for model.interaction = 'hard_core'")
    _interaction.check_state_for(spec.model.get("interaction", "hard_core"), state)
    if ("mu" in state) == ("n_particles" in state):
        raise SpecError("state", "give exactly one of mu (chemical potential) or n_particles")
    if "mu" in state:
        _number("state.mu", state["mu"])
    else:
        n = _number("state.n_particles", state["n_particles"], integer=True, nonneg=True)
        m = _geometry_of(spec.model)["n_grid"]
        if n > m:
            raise SpecError("state.n_particles", f"must be at most the {m} grid points")
    _number("state.twist", state.get("twist", 0.0))


def _check_disorder(disorder: dict, model: dict, spec: Spec) -> None:
    """Validate [disorder] against the kind's declaration (tgsweep.models.potentials)."""
    kind = disorder.get("kind", "none")
    if kind not in DISORDER_KINDS:
        raise SpecError("disorder.kind", f"must be one of {', '.join(DISORDER_KINDS)}; "
                        f"got {kind!r}")
    for key, v in disorder.items():
        if not _is_scalar(v):
            raise SpecError(f"disorder.{key}", f"must be a scalar, got {v!r}")
    params = {k: v for k, v in disorder.items() if k != "kind"}
    if kind == "none":
        if params:
            raise SpecError(f"disorder.{sorted(params)[0]}", "disorder kind 'none' takes no "
                            "parameters")
        return
    ppu = _geometry_of(model)["points_per_unit"]
    try:
        _DECLARED[kind].resolve(params, ppu)
    except ParamError as exc:
        if exc.field == "points_per_unit":
            raise SpecError("disorder.kind", f"{kind!r} is a lattice model: needs "
                            "model.kind = 'lattice'") from None
        raise SpecError(f"disorder.{exc.field}", exc.reason) from None


#: physical dimension of the griddable model and state fields (disorder: from declarations)
_FIELD_DIMENSIONS = {"model.hopping": "energy", "state.mu": "energy", "state.twist": "rad",
                     "state.temperature": "energy",
                     "state.n_particles": "1"}


def grid_dimension(key: str) -> str:
    """Physical dimension of the grid parameter ``key`` ("section.name"): disorder parameters
    from their declarations (a name has one dimension in every kind), model/state fields from
    the table above."""
    sec, name = key.split(".", 1)
    if sec == "disorder" and name != "kind":
        dims = {p.name: p.dimension for d in _DECLARED.values() for p in d.params}
        return dims.get(name, "1")
    return _FIELD_DIMENSIONS.get(key, "1")


def _check_grid(grid: Any, model: dict, disorder: dict, state: dict):
    if not isinstance(grid, dict):
        raise SpecError("grid", "must be a table")
    axes: dict[str, dict[str, list]] = {}
    dims: list[str] = []

    def check_key(key, values, where):
        parts = key.split(".")
        if len(parts) != 2 or parts[0] not in _GRIDDABLE:
            raise SpecError(where, "grid keys are 'section.key' with section one of "
                            f"{', '.join(_GRIDDABLE)}")
        if key in _SHAPE_KEYS:
            raise SpecError(where, f"{key} changes array shapes and cannot be a grid axis; "
                            "run one spec per value")
        if not isinstance(values, list) or not values:
            raise SpecError(where, "must be a non-empty list of scalars")
        if not all(_is_scalar(v) for v in values):
            raise SpecError(where, "must be a non-empty list of scalars")
        if len({json.dumps(v) for v in values}) != len(values):
            raise SpecError(where, "values must be distinct")
        if any(key in ax for ax in axes.values()):
            raise SpecError(where, "parameter appears twice in the grid")

    for key, values in grid.items():
        if key == "zip":
            continue
        check_key(key, values, f"grid.{key}")
        name = key.replace(".", "_")
        axes[name] = {key: list(values)}
        dims.append(name)
    zips = grid.get("zip", {})
    if not isinstance(zips, dict):
        raise SpecError("grid.zip", "must be a table of named groups [grid.zip.NAME]")
    for name, group in zips.items():
        where = f"grid.zip.{name}"
        if not isinstance(group, dict) or not group:
            raise SpecError(where, "must be a table of 'section.key' = [values] lists")
        if not name.isidentifier() or name in axes:
            raise SpecError(where, "group name must be an identifier distinct from other dims")
        lengths = set()
        axes[name] = {}
        for key, values in group.items():
            check_key(key, values, f"{where}.{key}")
            lengths.add(len(values))
            axes[name][key] = list(values)
        if len(lengths) != 1:
            raise SpecError(where, "all lists of a zipped group must have the same length")
        dims.append(name)
    return axes, dims


def _corner_points(spec: Spec) -> list[int]:
    """Grid points to validate: every value of every axis appears at least once."""
    shape = spec.grid_shape
    if not shape:
        return [0]
    n = max(shape)
    pts = {int(np.ravel_multi_index(tuple(min(i, s - 1) for s in shape), shape))
           for i in range(n)}
    return sorted(pts)
