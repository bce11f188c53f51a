"""Stores as xarray users expect them: CF/UDUNITS ``units`` that pint and cf_xarray parse
(``ds.pint.quantify()`` works), the natural unit of each number in ``natural_units``, the unit
system stated once in the global attribute ``unit_system``, and fixed axes as coordinates.

References: CF conventions 1.11 section 3.1 (``units`` is a UDUNITS string; "1" for a pure
number); pint-xarray's ``quantify`` (units attributes parsed by the registry); cf_xarray's
UDUNITS-flavoured pint registry.  Unit system: README "Physics and conventions" (hbar^2/2m = 1,
lengths in the unit length a, energies in hbar^2/(2 m a^2), times in 2 m a^2/hbar; lattice:
sites, hopping t, hbar/t).
"""

from __future__ import annotations

import numpy as np
import pytest

import tgsweep
from tgsweep.models.potentials import make_potential
from tgsweep.observables import momentum_distribution
from tgsweep.sweep import MemoryStore, parse_spec, run_sweep, summarize
from tgsweep.sweep.tasks import sample_rng

from _tolerances import ROUNDOFF, ROUNDOFF_SOLVE, ROUNDOFF_SUM

pint = pytest.importorskip("pint")
pytest.importorskip("pint_xarray")
cf_units = pytest.importorskip("cf_xarray.units")

ALL_OBS = {"energy": {}, "particle_numbers": {}, "density": {}, "condensate": {"n_modes": 2},
           "hs_profile": {"sigmas": [0.5]}, "momentum_distribution": {},
           "lyapunov": {"energies": [0.0, 1.0]}, "stiffness": {"thetas": [0.5]},
           "ecl_profile": {"windows": [[-1.0, 2.0]]},
           "dynamics": {"times": {"t_max": 1.0, "n_times": 2}}}
INTERNAL = ("status", "error", "done", "sample", "chunk")


def _spec(kind):
    if kind == "continuum":
        model = {"kind": "continuum", "length": 6, "points_per_unit": 4}
        disorder = {"kind": "speckle", "strength": 1.0, "corr_length": 0.5}
        state = {"mu": 8.0, "twist": 0.3}
        grid = {"disorder.corr_length": [0.5, 1.0]}
    else:
        model = {"kind": "lattice", "sites": 10}
        disorder = {"kind": "anderson", "W": 1.0}
        state = {"mu": 0.0, "twist": 0.3}
        grid = {"disorder.W": [0.5, 1.0]}
    return parse_spec({"model": model, "disorder": disorder, "state": state, "grid": grid,
                       "sampling": {"n_samples": 2, "seed": 5, "samples_per_task": 2},
                       "observables": ALL_OBS})


@pytest.fixture(scope="module", params=["continuum", "lattice"])
def store(request):
    spec = _spec(request.param)
    st = MemoryStore()
    run_sweep(spec, st, progress=False)
    return request.param, spec, st.to_dataset()


def _numeric(ds):
    return {n: v for n, v in ds.variables.items() if n not in INTERNAL}


def test_units_parse_with_pint_and_cf_xarray(store):
    _, _, ds = store
    for registry in (pint.UnitRegistry(), cf_units.units):
        for name, v in _numeric(ds).items():
            u = registry.parse_units(v.attrs["units"])
            rad = v.attrs["natural_units"] == "rad"
            expect = registry.radian if rad else registry.dimensionless
            assert u == expect, name


def test_pint_quantify_works(store):
    _, _, ds = store
    q = ds[[n for n in ds.data_vars if n not in INTERNAL]].pint.quantify()
    assert str(q["energy"].data.units) == "dimensionless"
    q = ds.drop_vars(["error"]).pint.quantify(unit_registry=cf_units.units)
    assert "twist" in q.coords or "k" in q.coords


def test_natural_units_and_unit_system(store):
    kind, _, ds = store
    assert ds.attrs["unit_system"].startswith("hbar^2/(2m) = 1" if kind == "continuum"
                                              else "hbar = 1")
    nat = {n: v.attrs["natural_units"] for n, v in _numeric(ds).items()}
    if kind == "continuum":
        assert nat["energy"] == nat["stiffness_energy0"] == "hbar^2/(2 m a^2)"
        assert nat["x"] == nat["r"] == nat["cell_distance"] == nat["disorder_corr_length"] == "a"
        assert nat["k"] == nat["lyapunov"] == nat["rho_s"] == nat["density"] == "a^-1"
        assert nat["time"] == "2 m a^2/hbar" and nat["log10_rho_s"] == "log10(a^-1)"
    else:
        assert nat["energy"] == nat["disorder_W"] == nat["energy_grid"] == "t"
        assert nat["x"] == "site" and nat["k"] == "site^-1" and nat["time"] == "hbar/t"
    assert nat["twist"] == nat["theta"] == "rad" and nat["lambda0"] == nat["n_k"] == "1"
    summ = summarize(ds)
    assert summ["energy_mean"].attrs["natural_units"] == nat["energy"]


def test_fixed_axes_are_coordinates(store):
    """k and cell_distance do not vary over samples or grid points: stored once as
    coordinates (defect fixed: they were per-sample variables, and cell_distance_mean appeared
    in the summary).  k equals the momenta of a directly computed sample."""
    kind, spec, ds = store
    assert "k" in ds.coords and ds["k"].dims == ("k_index",)
    assert "cell_distance" in ds.coords and ds["cell_distance"].dims == ("cell",)
    assert "k" not in ds.data_vars and "cell_distance" not in ds.data_vars
    summ = summarize(ds)
    assert "k_mean" not in summ and "cell_distance_mean" not in summ
    geom = spec.geometry()
    pot = make_potential(spec.disorder["kind"], sample_rng(spec.seed, 1, 1), geom["n_grid"],
                         geom["points_per_unit"], **{k: v for k, v in spec.point_params(1)[
                             "disorder"].items() if k != "kind"})
    ring = (tgsweep.Ring.continuum(6, 4, pot) if kind == "continuum"
            else tgsweep.Ring.lattice(pot))
    md = momentum_distribution(tgsweep.ground_state(ring, mu=spec.state["mu"], twist=0.3))
    np.testing.assert_allclose(ds["k"].values, md.k, rtol=ROUNDOFF / 10, atol=0)
    np.testing.assert_allclose(ds["n_k"].values[1, 1], md.n_k,
                               rtol=ROUNDOFF_SOLVE, atol=10 * ROUNDOFF)


def test_k_stays_per_sample_when_the_twist_is_a_grid_axis():
    spec = parse_spec({"model": {"kind": "lattice", "sites": 8}, "disorder": {"kind": "none"},
                       "state": {"n_particles": 3}, "grid": {"state.twist": [0.0, 0.4]},
                       "sampling": {"n_samples": 1, "seed": 1},
                       "observables": {"momentum_distribution": {}}})
    st = MemoryStore()
    run_sweep(spec, st, progress=False)
    ds = st.to_dataset()
    assert ds["k"].dims == ("state_twist", "sample", "k_index")
    np.testing.assert_allclose(ds["k"].values[1, 0] - ds["k"].values[0, 0], 0.4 / 8,
                               rtol=ROUNDOFF_SUM)
