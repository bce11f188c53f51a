"""Sweeps at T > 0: ``[state] temperature`` (scalar or grid axis) and ``ensemble``.

Stored samples are recomputed independently with :func:`tgsweep.thermal_state` (whose own
references are in tests/test_thermal_ed.py); observables that do not declare ``thermal``
are refused with a one-line error naming the field.
"""

from __future__ import annotations

import numpy as np
import pytest

import tgsweep
from tgsweep.models.potentials import make_potential
from tgsweep.observables import condensate, momentum_distribution
from tgsweep.sweep import MemoryStore, SpecError, parse_spec, run_sweep

from _sweep_util import spec_dict


def _ring(p, s, w, sites=10, seed=5):
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(p, s))))
    return tgsweep.Ring.lattice(make_potential("anderson", rng, sites, W=w))


@pytest.mark.parametrize("ensemble,state", [("grand", {"mu": -0.5}),
                                            ("canonical", {"n_particles": 3})])
def test_temperature_grid_axis_stored_equals_direct_call(ensemble, state):
    spec = parse_spec(spec_dict(
        model={"kind": "lattice", "sites": 10}, disorder={"kind": "anderson", "W": 2.0},
        state={**state, "temperature": 0.3, "ensemble": ensemble, "twist": 0.2},
        grid={"state.temperature": [0.1, 1.0]},
        sampling={"n_samples": 2, "seed": 5, "samples_per_task": 2},
        observables={"density": {}, "condensate": {"n_modes": 2}, "momentum_distribution": {},
                     "hs_profile": {"sigmas": [0.5]}}))
    store = MemoryStore()
    run_sweep(spec, store, progress=False)
    ds = store.to_dataset()
    assert (ds["status"].values == 1).all()
    assert ds["state_temperature"].attrs["units"]
    for p, T in enumerate([0.1, 1.0]):
        for s in range(2):
            st = tgsweep.thermal_state(_ring(p, s, 2.0), T, ensemble=ensemble, twist=0.2,
                                       **state)
            np.testing.assert_allclose(ds["density"].values[p, s], st.density(), atol=1e-12)
            g = tgsweep.obdm(st)
            lam = condensate(st, 2, gamma=g)
            np.testing.assert_allclose(ds["occupations"].values[p, s], lam, atol=1e-12)
            assert abs(ds["lambda0"].values[p, s] - lam[0]) < 1e-12
            md = momentum_distribution(st, gamma=g)
            np.testing.assert_allclose(ds["n_k"].values[p, s], md.n_k, atol=1e-12)


@pytest.mark.parametrize("state,obs,field", [
    ({"mu": 0.0, "temperature": 0.5}, {"particle_numbers": {}}, "observables.particle_numbers"),
    ({"mu": 0.0, "temperature": -1.0}, {"density": {}}, "state.temperature"),
    ({"mu": 0.0, "temperature": 0.5, "ensemble": "micro"}, {"density": {}}, "state.ensemble"),
    ({"mu": 0.0, "temperature": 0.5, "ensemble": "canonical"}, {"density": {}}, "state.ensemble"),
    ({"mu": 0.0, "ensemble": "grand"}, {"density": {}}, "state.ensemble"),
])
def test_bad_thermal_specs_name_the_field(state, obs, field):
    with pytest.raises(SpecError) as exc:
        parse_spec(spec_dict(state=state, grid=None, observables=obs))
    assert field in str(exc.value) and "\n" not in str(exc.value)


def test_finite_temperature_workflow_parses_and_a_shrunken_member_runs(tmp_path):
    """workflows/finite_temperature.toml: every [[series]] member parses; the L = 16 member with
    2 samples runs through the sweep with every sample valid and lambda_0 falling with T."""
    from pathlib import Path

    from tgsweep.sweep.workflow import load_workflow

    wf = Path(__file__).resolve().parents[1] / "workflows" / "finite_temperature.toml"
    members = load_workflow(wf)
    assert [m[0] for m in members] == ["L16", "L32", "L64", "L128", "xi", "stiffness"]
    raw = members[0][1].raw
    raw = {**raw, "sampling": {**raw["sampling"], "n_samples": 2}}
    raw.pop("output", None)
    store = MemoryStore()
    run_sweep(parse_spec(raw), store, progress=False)
    ds = store.to_dataset()
    assert (ds["status"].values == 1).all()
    lam = ds["lambda0"].values.mean(axis=-1)  # (W, T)
    assert np.all(np.diff(lam, axis=1) < 0)
