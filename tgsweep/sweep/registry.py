"""Observable registry of the sweep: name -> declaration, collected from the observables.

Each observable is declared once, next to its code (:data:`tgsweep.observables.OBSERVABLES`,
see :mod:`tgsweep.observables.declaration`: options, layout of the stored variables with
dims/units/long_name, ``compute(ctx, options) -> dict of arrays``).  This module only collects
them, lets tests or plugins :func:`register` more, and validates a spec's
``[observables.NAME]`` tables against the declarations (errors as :class:`SpecError`).

A declaration is loaded when first asked for (:func:`tgsweep.observables.declared`, which
imports only its module): a spec with only ``energy`` does not import the modules of the other
observables (start-up of ``tgsweep run``); the names come from the index
:data:`tgsweep.observables.DECLARING_MODULES`.
"""

from __future__ import annotations

from .. import observables
from ..models.params import ParamError
from ..observables.declaration import ENSEMBLE_OPTION, Observable
from .errors import SpecError

__all__ = ["register", "available", "get", "validate_observables", "spec_ensemble"]

#: the entries loaded so far (declarations, as first asked for) and those registered here
_REGISTRY: dict[str, Observable] = {}


def register(entry: Observable, replace: bool = False) -> Observable:
    """Add an entry; ``replace`` to override an existing name."""
    if entry.name in available() and not replace:
        raise ValueError(f"observable {entry.name!r} already registered")
    _REGISTRY[entry.name] = entry
    return entry


def available() -> list[str]:
    return sorted(set(observables.names()) | set(_REGISTRY))


def get(name: str) -> Observable:
    """The entry ``name`` (a declaration is loaded on first use); KeyError if unknown."""
    entry = _REGISTRY.get(name)
    if entry is None:
        entry = _REGISTRY[name] = observables.declared(name)
    return entry


def _has_state_field(spec, key: str) -> bool:
    return key in spec.state or any(f"state.{key}" in ax for ax in spec.axes.values())


def spec_ensemble(spec) -> str:
    """The ensemble of the spec's states: 'ground' (T = 0), else state.ensemble, whose default
    is 'grand' with state.mu and 'canonical' with state.n_particles (as
    :func:`tgsweep.sweep.interaction.make_state`)."""
    if not _has_state_field(spec, "temperature"):
        return "ground"
    return spec.state.get("ensemble", "grand" if _has_state_field(spec, "mu") else "canonical")


def validate_observables(obs: dict, spec) -> dict[str, dict]:
    """Check names and options; return name -> options with defaults filled in."""
    if not isinstance(obs, dict):
        raise SpecError("observables", "must be a table of [observables.NAME] tables")
    out = {}
    ensemble = spec_ensemble(spec)
    thermal = ensemble != "ground"
    known = set(available())
    for name, opts in obs.items():
        if name not in known:
            raise SpecError(f"observables.{name}", f"unknown observable; allowed: "
                            f"{', '.join(available())}")
        if not isinstance(opts, dict):
            raise SpecError(f"observables.{name}", "must be a table of options")
        entry = get(name)
        if thermal and not entry.thermal:
            raise SpecError(f"observables.{name}", "does not support state.temperature (T > 0); "
                            "thermal observables: " + ", ".join(
                                n for n in available() if get(n).thermal))
        for key in entry.requires_at(thermal):
            if not _has_state_field(spec, key):
                raise SpecError(f"observables.{name}", f"needs state.{key}" + {
                    "mu": " (a chemical potential)",
                    "temperature": " (T > 0: a thermal observable)"}.get(key, ""))
        if entry.ensemble_aware:
            if ENSEMBLE_OPTION.name in opts:
                raise SpecError(f"observables.{name}.{ENSEMBLE_OPTION.name}", "is set from "
                                "[state] (temperature, ensemble); leave it out")
            opts = {**opts, ENSEMBLE_OPTION.name: ensemble}
        try:
            out[name] = entry.resolve(opts)
        except ParamError as exc:
            raise SpecError(f"observables.{name}.{exc.field}", exc.reason) from None
    # variable and dimension names must not collide across observables
    seen: dict[str, str] = {}
    geom = spec.geometry()
    for name, opts in out.items():
        try:
            variables, _ = get(name).layout(geom, opts)
        except ParamError as exc:  # an option the grid geometry does not allow
            raise SpecError(f"observables.{name}.{exc.field}", exc.reason) from None
        for v in variables:
            if v in seen or v in spec.dims or v in ("status", "error", "done", "sample"):
                raise SpecError(f"observables.{name}", f"variable {v!r} clashes with "
                                f"{seen.get(v, 'a reserved or grid name')}")
            seen[v] = name
    return out
