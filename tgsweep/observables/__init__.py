"""Per-sample physics observables.

Two levels, one convention each:

* the physics functions (``hs_profile(state, ...)``, ``lyapunov(ring, energies)``,
  ``stiffness(ring, mu, thetas)``, ...): a :class:`~tgsweep.core.state.State` or a
  :class:`~tgsweep.models.ring.Ring` plus options in, arrays or a small named result out, units
  in their docstrings;
* the declared observables (:data:`OBSERVABLES`, one :class:`Observable` next to the code of
  each, see :mod:`tgsweep.observables.declaration`): ``compute(ctx, options) -> dict of arrays``
  with the variables, units and options declared; the sweep registry collects these, and
  :func:`evaluate` runs one on a state.

Loaded on first use (PEP 562 module ``__getattr__``, as :mod:`tgsweep.sweep`): importing this
package imports none of its modules; a name is taken from its module when first asked for
(``from tgsweep.observables import condensate`` works as usual), and
:func:`declared` imports only the module that declares the observable asked for.  So a
``tgsweep run`` of a spec with only ``energy`` loads :mod:`~tgsweep.observables.basic` and not
``thermal`` (scipy.integrate), ``correlations`` or ``dynamics``: start-up time
(``benchmarks/bench_sweep.py``, start-up section).
"""

from __future__ import annotations

import importlib as _importlib

#: the modules that declare observables, each with the names of its declarations in order (its
#: ``OBSERVABLES`` tuple): an index, so that one observable is loaded without the others.  A new
#: observable module is added here; ``tests/test_imports.py`` checks this index against
#: every module's declarations.
DECLARING_MODULES: dict[str, tuple[str, ...]] = {
    "basic": ("energy", "particle_numbers", "density"),
    "correlations": ("condensate", "hs_profile", "momentum_distribution", "ecl_profile"),
    "localization": ("lyapunov",),
    "superfluid": ("stiffness",),
    "thermal": ("free_energy",),
    "dynamics": ("dynamics",),
    "entanglement": ("entanglement",),
    "interacting": ("twist_stiffness", "luttinger", "solver"),
}

#: public name -> submodule that defines it (loaded on first use)
_PUBLIC = {
    **dict.fromkeys(("EclFit", "MomentumDistribution", "condensate", "ecl_profile", "fit_ecl",
                     "hs_blocks", "hs_bound", "hs_profile", "momentum_distribution",
                     "stream_upper_rows", "tail_coefficient", "band_condensate",
                     "band_hs_profile", "BandCondensate"), "correlations"),
    **dict.fromkeys(("Coord", "Observable", "Option", "SampleContext", "Variable"), "declaration"),
    "entanglement_entropy": "entanglement",
    **dict.fromkeys(("DynamicsSample", "dynamics_sample", "front_profile_continuum",
                     "front_profile_lattice"), "dynamics"),
    **dict.fromkeys(("KAPPUS_WEGNER_RATIO", "aubry_andre_lyapunov", "halperin_lyapunov",
                     "kappus_wegner_lyapunov", "lyapunov", "lyapunov_chain",
                     "thouless_lyapunov"), "localization"),
    **dict.fromkeys(("Stiffness", "stiffness"), "superfluid"),
    **dict.fromkeys(("ThermalStiffness", "free_energy", "iiks_correlation_length", "tg_contact",
                     "thermal_stiffness"), "thermal"),
    **dict.fromkeys(("InteractingStiffness", "interacting_stiffness", "leggett_fraction",
                     "leggett_stiffness", "luttinger_parameter", "mu_for_particles",
                     "structure_factor"), "interacting"),
}

_MODULE_OF = {name: mod for mod, names in DECLARING_MODULES.items() for name in names}


def names() -> list[str]:
    """Every declared observable's name, in :data:`DECLARING_MODULES` order (nothing imported)."""
    return list(_MODULE_OF)


def declared(name: str):
    """The declared :class:`Observable` ``name``, importing only the module that declares it;
    KeyError for an unknown name."""
    mod = _importlib.import_module(f"{__name__}.{_MODULE_OF[name]}")
    for obs in mod.OBSERVABLES:
        if obs.name == name:
            return obs
    raise KeyError(f"{mod.__name__} does not declare {name!r} (DECLARING_MODULES is stale)")


def evaluate(name, state, mu: float | None = None, **options) -> dict:
    """Run the declared observable ``name`` on ``state`` as a sweep sample would:
    ``evaluate("stiffness", state, mu=20.0, thetas=[0.5])`` -> {variable: array}."""
    obs = declared(name) if isinstance(name, str) else name
    return obs.evaluate(state, mu, **options)


def __getattr__(name):
    if name == "OBSERVABLES":  # every declared observable, by name (imports every module)
        value = {n: declared(n) for n in _MODULE_OF}
    elif name in _PUBLIC:
        value = getattr(_importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    else:  # a submodule not imported yet (``tgsweep.observables.correlations``)
        try:
            return _importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC) | {"OBSERVABLES"})


__all__ = ["band_condensate", "band_hs_profile", "BandCondensate", "hs_blocks", "hs_profile", "hs_bound", "condensate", "momentum_distribution",
           "tail_coefficient", "ecl_profile", "fit_ecl", "stream_upper_rows", "EclFit",
           "MomentumDistribution", "lyapunov", "lyapunov_chain", "thouless_lyapunov",
           "kappus_wegner_lyapunov", "aubry_andre_lyapunov", "halperin_lyapunov",
           "KAPPUS_WEGNER_RATIO", "stiffness", "Stiffness", "DynamicsSample", "dynamics_sample",
           "front_profile_lattice", "front_profile_continuum", "entanglement_entropy",
           "OBSERVABLES", "DECLARING_MODULES", "declared", "names", "Observable",
           "Option", "Variable", "Coord", "SampleContext", "evaluate", "free_energy",
           "thermal_stiffness", "ThermalStiffness", "tg_contact", "iiks_correlation_length",
           "InteractingStiffness",
           "interacting_stiffness", "leggett_fraction", "leggett_stiffness",
           "luttinger_parameter", "mu_for_particles", "structure_factor"]
