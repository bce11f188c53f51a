"""Sweep registry entries ``ecl_profile`` and ``dynamics``: stored values equal a direct call of
the observable function on the same sample's ring, recomputed with the seed rule of
docs/references.md §7 (``SeedSequence(seed, spawn_key=(p, s))`` with PCG64,
tgsweep.models.potentials.make_potential), the declared dims/units reach the Zarr store, and bad options give one-line field errors.

References: ECL profile definition (Seiringer & Warzel, NJP 18, 035002 (2016): Q(n, m; J) for
periodic and antiperiodic twists) as implemented by tgsweep.observables.ecl_profile; dynamics
outputs as defined by tgsweep.observables.dynamics.dynamics_sample, domain wall
initial state (a).  The check that the hydrodynamic law N_tr(t) -> 2t/pi per wall reaches the
store is against Antal, Racz, Rakos, Schutz, PRE 59, 4912 (1999) (docs/references.md §5).
"""

from __future__ import annotations

import numpy as np
import pytest

import tgsweep
from tgsweep.models.potentials import make_potential
from tgsweep.observables import ecl_profile
from tgsweep.core.initial_states import domain_wall
from tgsweep.observables.dynamics import dynamics_sample
from tgsweep.sweep import MemoryStore, SpecError, ZarrStore, parse_spec, run_sweep

from _sweep_util import spec_dict

from _tolerances import ROUNDOFF, ROUNDOFF_SOLVE, ROUNDOFF_SUM

WINDOWS = [[-2.5, -0.5], [-0.5, 0.5]]
TIMES = [0.5, 1.0, 2.5]


def _spec(**obs):
    return parse_spec(spec_dict(model={"kind": "lattice", "sites": 14},
                                sampling={"n_samples": 3, "seed": 5, "samples_per_task": 2},
                                observables=obs))


def _ring(p, s, w, sites=14, seed=5):
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(p, s))))
    return tgsweep.Ring.lattice(make_potential("anderson", rng, sites, W=w))


@pytest.mark.parametrize("store_kind", ["memory", "zarr"])
def test_ecl_profile_stored_equals_direct_call(tmp_path, store_kind):
    spec = _spec(ecl_profile={"windows": WINDOWS})
    store = MemoryStore() if store_kind == "memory" else ZarrStore(tmp_path / "e.zarr")
    run_sweep(spec, store, progress=False)
    ds = store.to_dataset()
    assert ds["ecl_q"].dims == ("disorder_W", "sample", "twist", "window", "r")
    assert ds["ecl_q"].shape == (2, 3, 2, 2, 14 // 2 + 1)
    assert ds["window_lo"].dims == ("window",) and ds["window_lo"].values.tolist() == [-2.5, -0.5]
    assert ds["window_hi"].values.tolist() == [-0.5, 0.5]
    assert ds["twist"].values.tolist() == [0.0, np.pi]
    for name in ("ecl_q", "ecl_n_states", "twist", "window_lo", "r"):
        assert ds[name].attrs["units"] and ds[name].attrs["long_name"]
    assert (ds["status"].values == 1).all()
    for p, w in enumerate([0.5, 3.0]):
        for s in range(3):
            r, q, n = ecl_profile(_ring(p, s, w), WINDOWS, twists=(0.0, np.pi))
            np.testing.assert_allclose(ds["ecl_q"].values[p, s], q, rtol=ROUNDOFF_SUM,
                                       atol=ROUNDOFF)
            assert ds["ecl_n_states"].values[p, s].tolist() == n.tolist()
            assert n.sum() > 0  # the windows hold states: the comparison is not of zeros


@pytest.mark.parametrize("store_kind", ["memory", "zarr"])
def test_dynamics_stored_equals_direct_call(tmp_path, store_kind):
    spec = _spec(dynamics={"times": TIMES, "cell_counts": True})
    store = MemoryStore() if store_kind == "memory" else ZarrStore(tmp_path / "d.zarr")
    run_sweep(spec, store, progress=False)
    ds = store.to_dataset()
    assert ds["time"].values.tolist() == [0.0] + TIMES  # t = 0 always on the grid
    assert ds["n_transferred"].dims == ("disorder_W", "sample", "time")
    assert ds["sup_cell_change"].dims == ("disorder_W", "sample", "cell")
    assert ds["cell_counts"].dims == ("disorder_W", "sample", "time", "cell")
    for v in ds.data_vars.values():
        assert v.attrs["units"] and v.attrs["long_name"], v.name
    assert ds["time"].attrs["units"] == "1" and ds["time"].attrs["natural_units"] == "hbar/t"
    assert (ds["status"].values == 1).all()
    for p, w in enumerate([0.5, 3.0]):
        for s in range(3):
            ring = _ring(p, s, w)
            n = tgsweep.ground_state(ring, mu=0.0).n_particles  # n_particles = "state"
            d = dynamics_sample(ring, domain_wall(ring, n), [0.0] + TIMES)
            assert ds["dyn_n_particles"].values[p, s] == n
            # cell_distance is fixed by the geometry: a coordinate, the same for every sample
            np.testing.assert_array_equal(ds["cell_distance"].values, d.cell_distance)
            for name in ("n_transferred", "sup_cell_change", "sup_cell_counts",
                         "cell_counts_inf", "cell_counts"):
                np.testing.assert_allclose(ds[name].values[p, s], getattr(d, name),
                                           rtol=ROUNDOFF_SUM, atol=10 * ROUNDOFF, err_msg=name)
            assert ds["n_transferred_inf"].values[p, s] == pytest.approx(d.n_transferred_inf,
                                                                         abs=ROUNDOFF_SUM)
            k = d.depth.size
            for name in ("sup_outside", "sup_inside", "inside0"):
                stored = ds[name].values[p, s]
                np.testing.assert_allclose(stored[:k], getattr(d, name), atol=10 * ROUNDOFF)
                assert not stored[k:].any()  # beyond the largest distance: empty set
            assert d.sup_cell_change.max() > 0.05  # particles actually moved


def test_dynamics_clean_lattice_wall_reaches_hydrodynamic_law():
    """Clean lattice, K = first half filled (two walls on the ring): N_tr(t) ~ 2 * 2t/pi
    (Antal et al. 1999) before the fronts meet; stored through the sweep's options
    (n_particles = "fill", a {t_max, n_times} grid)."""
    spec = parse_spec({"model": {"kind": "lattice", "sites": 200},
                       "disorder": {"kind": "none"}, "state": {"n_particles": 3},
                       "sampling": {"n_samples": 1, "seed": 1, "samples_per_task": 1},
                       "observables": {"dynamics": {"n_particles": "fill",
                                                    "times": {"t_max": 20.0, "n_times": 4}}}})
    store = MemoryStore()
    run_sweep(spec, store, progress=False)
    ds = store.to_dataset()
    t = ds["time"].values
    assert t.tolist() == [0.0, 5.0, 10.0, 15.0, 20.0]
    assert ds["dyn_n_particles"].values[0] == 100
    ntr = ds["n_transferred"].values[0]
    np.testing.assert_allclose(ntr[1:], 4 * t[1:] / np.pi, rtol=0.05)


def test_dynamics_log_times_and_region():
    spec = _spec(dynamics={"times": {"t_max": 8.0, "n_times": 5, "log": True, "t_min": 0.5},
                           "region": [3, 9], "n_particles": 2})
    store = MemoryStore()
    run_sweep(spec, store, progress=False)
    ds = store.to_dataset()
    np.testing.assert_allclose(ds["time"].values, np.r_[0.0, np.geomspace(0.5, 8.0, 5)])
    assert (ds["dyn_n_particles"].values == 2).all()
    assert ds["cell_distance"].dims == ("cell",)
    dist = ds["cell_distance"].values
    assert (dist[3:9] > 0).all() and (dist[:3] < 0).all() and (dist[9:] < 0).all()


@pytest.mark.parametrize("obs, field", [
    ({"ecl_profile": {}}, "observables.ecl_profile.windows"),
    ({"ecl_profile": {"windows": [[1.0, 0.0]]}}, "observables.ecl_profile.windows"),
    ({"ecl_profile": {"windows": [[0.0, 1.0]], "twists": [4.0]}}, "observables.ecl_profile.twists"),
    ({"dynamics": {"times": {"t_max": -1}}}, "observables.dynamics.times.t_max"),
    ({"dynamics": {"times": {"t_max": 1, "steps": 3}}}, "observables.dynamics.times.steps"),
    ({"dynamics": {"times": [-1.0]}}, "observables.dynamics.times"),
    ({"dynamics": {"n_particles": "many"}}, "observables.dynamics.n_particles"),
    ({"dynamics": {"region": [0, 1, 2]}}, "observables.dynamics.region"),
    ({"dynamics": {"initial": "quench"}}, "observables.dynamics.initial"),
])
def test_bad_options_name_the_field(obs, field):
    with pytest.raises(SpecError) as exc:
        _spec(**obs)
    assert exc.value.field == field
    assert "\n" not in str(exc.value)


def test_zarr_handles_not_reused_across_recreated_store(tmp_path):
    """A store object keeps its open Zarr arrays between writes; if the store is deleted and
    re-created with another layout at the same path, its next write must notice (store_id
    attribute) and use the new arrays."""
    import shutil

    from tgsweep.sweep.store import provenance
    from tgsweep.sweep.tasks import compute_chunk

    path = tmp_path / "r.zarr"
    a = _spec(energy={})  # 2 points x 3 samples, 2 per task
    st = ZarrStore(path)
    st.create(a, provenance(a))
    st.write_chunk(a, compute_chunk(a, 0, 0))
    st.flush()
    shutil.rmtree(path)
    b = parse_spec(spec_dict(model={"kind": "lattice", "sites": 14}, observables={"energy": {}},
                             sampling={"n_samples": 5, "seed": 5, "samples_per_task": 5}))
    ZarrStore(path).create(b, provenance(b))
    st.write_chunk(b, compute_chunk(b, 1, 0))
    st.flush()
    e = ZarrStore(path).read("energy")
    assert e.shape == (2, 5) and np.isfinite(e[1]).all() and np.isnan(e[0]).all()
    assert ZarrStore(path).read("done").tolist() == [[0], [1]]


def test_stiffness_log10_reaches_store(tmp_path):
    """The stored stiffness carries log10_rho_s (resolved below float underflow), the curvature,
    E_L(N_mu, 0) and the reliability flag, equal to a direct call of
    tgsweep.observables.stiffness on the same sample (seed rule of docs/references.md §7); the
    strongly disordered 40-site lattice puts rho_s near 1e-8..1e-11, and log10_rho_s must agree with
    log10(rho_s) there."""
    from tgsweep.observables import stiffness

    thetas = [0.5, 1.5]
    spec = parse_spec(spec_dict(model={"kind": "lattice", "sites": 40},
                                disorder={"kind": "anderson", "W": 8.0},
                                grid=None, state={"mu": 0.0},
                                sampling={"n_samples": 2, "seed": 9, "samples_per_task": 2},
                                observables={"stiffness": {"thetas": thetas}}))
    store = ZarrStore(tmp_path / "s.zarr")
    run_sweep(spec, store, progress=False)
    ds = store.to_dataset()
    for name in ("log10_rho_s", "log10_rho_s0", "stiffness_energy0", "stiffness_reliable"):
        assert ds[name].attrs["units"] and ds[name].attrs["long_name"]
    for s in range(2):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(9, spawn_key=(0, s))))
        ring = tgsweep.Ring.lattice(make_potential("anderson", rng, 40, W=8.0))
        r = stiffness(ring, 0.0, np.asarray(thetas))
        np.testing.assert_allclose(ds["log10_rho_s"].values[s], r.log10_rho_s, rtol=ROUNDOFF_SUM)
        assert ds["stiffness_energy0"].values[s] == pytest.approx(r.energy0, rel=10 * ROUNDOFF)
        assert ds["stiffness_reliable"].values[s] == int(np.all(r.reliable))
        assert np.all(ds["log10_rho_s"].values[s] < -5)
        np.testing.assert_allclose(ds["log10_rho_s"].values[s], np.log10(ds["rho_s"].values[s]),
                                   rtol=ROUNDOFF_SOLVE)
