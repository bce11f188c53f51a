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
"""

from __future__ import annotations

from . import (basic, correlations, dynamics, entanglement, interacting, localization,
               superfluid, thermal)
from .correlations import (EclFit, MomentumDistribution, condensate, ecl_profile, fit_ecl,
                           hs_blocks, hs_bound, hs_profile, momentum_distribution,
                           stream_upper_rows, tail_coefficient, band_condensate,
                           band_hs_profile, BandCondensate)
from .declaration import Coord, Observable, Option, SampleContext, Variable
from .entanglement import entanglement_entropy
from .dynamics import (DynamicsSample, dynamics_sample, front_profile_continuum,
                       front_profile_lattice)
from .localization import (KAPPUS_WEGNER_RATIO, aubry_andre_lyapunov, halperin_lyapunov,
                           kappus_wegner_lyapunov, lyapunov, lyapunov_chain, thouless_lyapunov)
from .superfluid import Stiffness, stiffness
from .thermal import (ThermalStiffness, free_energy, iiks_correlation_length, tg_contact,
                      thermal_stiffness)
from .interacting import (InteractingStiffness, interacting_stiffness, leggett_fraction,
                          leggett_stiffness, luttinger_parameter, mu_for_particles,
                          structure_factor)

#: every declared observable, by name (the sweep registry is built from this)
OBSERVABLES: dict[str, Observable] = {
    o.name: o for mod in (basic, correlations, localization, superfluid, thermal, dynamics,
                          entanglement, interacting)
    for o in mod.OBSERVABLES}


def evaluate(name: str | Observable, state, mu: float | None = None, **options) -> dict:
    """Run the declared observable ``name`` on ``state`` as a sweep sample would:
    ``evaluate("stiffness", state, mu=20.0, thetas=[0.5])`` -> {variable: array}."""
    obs = OBSERVABLES[name] if isinstance(name, str) else name
    return obs.evaluate(state, mu, **options)


__all__ = ["band_condensate", "band_hs_profile", "BandCondensate", "hs_blocks", "hs_profile", "hs_bound", "condensate", "momentum_distribution",
           "tail_coefficient", "ecl_profile", "fit_ecl", "stream_upper_rows", "EclFit",
           "MomentumDistribution", "lyapunov", "lyapunov_chain", "thouless_lyapunov",
           "kappus_wegner_lyapunov", "aubry_andre_lyapunov", "halperin_lyapunov",
           "KAPPUS_WEGNER_RATIO", "stiffness", "Stiffness", "DynamicsSample", "dynamics_sample",
           "front_profile_lattice", "front_profile_continuum", "entanglement_entropy",
           "OBSERVABLES", "Observable",
           "Option", "Variable", "Coord", "SampleContext", "evaluate", "free_energy",
           "thermal_stiffness", "ThermalStiffness", "tg_contact", "iiks_correlation_length",
           "InteractingStiffness",
           "interacting_stiffness", "leggett_fraction", "leggett_stiffness",
           "luttinger_parameter", "mu_for_particles", "structure_factor"]
