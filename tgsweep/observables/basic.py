"""The state itself as observables: energy, particle numbers at mu, density profile.

At T > 0 (a :class:`~tgsweep.core.thermal.ThermalState`) ``energy`` is the thermal energy
<H> = Tr(rho H) of the Gibbs state, with the fixed N (canonical) or the mean <N> (grand
canonical) -- exact, from the kept levels (tgsweep.core.thermal)."""

from __future__ import annotations

import numpy as np

from ..core.state import particle_numbers
from .declaration import ENSEMBLE_OPTION, Coord, Observable, Variable

__all__ = ["ENERGY", "PARTICLE_NUMBERS", "DENSITY", "OBSERVABLES"]


def _energy_layout(geom, opts):
    ens = opts.get("ensemble", "ground")
    if ens == "ground":
        return ({"energy": Variable((), (), "energy",
                                    "ground-state energy E = sum of occupied orbital energies"),
                 "n_particles": Variable((), (), "1", "number of particles N", "int64")}, {})
    energy = Variable((), (), "energy", f"thermal energy <H> ({ens} canonical ensemble)"
                      if ens == "grand" else "thermal energy <H> (canonical ensemble, N fixed)")
    if ens == "grand":
        return ({"energy": energy,
                 "mean_n": Variable((), (), "1", "mean particle number <N> (grand canonical)")},
                {})
    return ({"energy": energy, "n_particles": Variable((), (), "1", "number of particles N",
                                                       "int64")}, {})


def _energy_compute(ctx, opts):
    st = ctx.state
    ens = opts.get("ensemble", "ground")
    if getattr(st, "ensemble", "ground") != ens:
        raise ValueError(f"ensemble: the state is {getattr(st, 'ensemble', 'ground')!r}, "
                         f"the observable was set up for {ens!r}")
    if ens == "grand":
        return {"energy": np.float64(st.energy), "mean_n": np.float64(st.mean_n)}
    return {"energy": np.float64(st.energy), "n_particles": np.int64(st.n_particles)}


ENERGY = Observable("energy", _energy_layout, _energy_compute, options=(ENSEMBLE_OPTION,),
                    description="ground-state energy and particle number; at T > 0 the thermal "
                    "energy <H> and N (canonical) or <N> (grand)", thermal=True, localized=True)


def _pn_layout(geom, opts):
    return ({"N_mu": Variable((), (), "1", "N_mu = min(N+, N-) (Seiringer-Warzel)", "int64"),
             "N_plus": Variable((), (), "1", "number N+ of eigenvalues <= mu, periodic bc",
                                "int64"),
             "N_minus": Variable((), (), "1", "number N- of eigenvalues <= mu, antiperiodic bc",
                                 "int64")},
            {})


def _pn_compute(ctx, opts):
    n, p, m = particle_numbers(ctx.ring, ctx.mu)
    return {"N_mu": np.int64(n), "N_plus": np.int64(p), "N_minus": np.int64(m)}


PARTICLE_NUMBERS = Observable("particle_numbers", _pn_layout, _pn_compute, requires=("mu",),
                              description="N_mu, N+, N- at chemical potential mu",
                              localized=True)


def _density_layout(geom, opts):
    x = np.arange(geom["n_grid"]) * geom["spacing"]
    return ({"density": Variable(("x",), (geom["n_grid"],), "1/length",
                                 "particle density rho(x) = sum_alpha |phi_alpha(x)|^2")},
            {"x": Coord(x, "length", "position x on the ring")})


def _density_compute(ctx, opts):
    return {"density": ctx.state.density()}


DENSITY = Observable("density", _density_layout, _density_compute,
                     description="density profile rho(x)", thermal=True,
                     localized=True)

OBSERVABLES = (ENERGY, PARTICLE_NUMBERS, DENSITY)
