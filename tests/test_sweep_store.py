"""Result stores (Zarr and its in-memory twin, one suite for both, as xarray's
tests/test_backends.py does),
seeding, summaries and per-sample failure recording.

References: docs/references.md §7 (store layout, seeds SeedSequence(seed, spawn_key=(p, s))
with PCG64,
summaries over valid samples only); the per-sample physics is recomputed independently with
tgsweep.models.potentials.make_potential + tgsweep.ground_state + numpy.linalg.eigvalsh.
"""

from __future__ import annotations

import numpy as np
import pytest

import tgsweep
from tgsweep.models.potentials import make_potential
from tgsweep.sweep import MemoryStore, ZarrStore, parse_spec, run_sweep, summarize
from tgsweep.sweep import registry
from tgsweep.observables.declaration import Observable, Variable
from tgsweep.sweep.tasks import STATUS

from _sweep_util import spec_dict

from _tolerances import ROUNDOFF, ROUNDOFF_SOLVE, ROUNDOFF_SUM


class StoreSuite:
    """Round-trip tests run against every store (subclasses give ``make``)."""

    def make(self, tmp_path):
        raise NotImplementedError

    def run(self, tmp_path, d=None):
        spec = parse_spec(d or spec_dict())
        store = self.make(tmp_path)
        run_sweep(spec, store, progress=False)
        return spec, store

    def test_layout_dims_units(self, tmp_path):
        spec, store = self.run(tmp_path)
        ds = store.to_dataset()
        assert ds["density"].dims == ("disorder_W", "sample", "x")
        assert ds["density"].shape == (2, 6, 12)
        assert ds["occupations"].dims == ("disorder_W", "sample", "mode")
        assert ds["occupations"].shape == (2, 6, 3)  # chunk (1, 4, 3): not square
        assert list(ds["disorder_W"].values) == [0.5, 3.0]
        for name, v in ds.variables.items():
            assert "units" in v.attrs and "long_name" in v.attrs, name
        assert ds.attrs["seed"] == 11 and "spec" in ds.attrs and "git_commit" in ds.attrs
        assert ds["done"].values.all() and (ds["status"].values == STATUS["ok"]).all()

    def test_values_match_independent_recomputation(self, tmp_path):
        spec, store = self.run(tmp_path)
        ds = store.to_dataset()
        for p, w in enumerate([0.5, 3.0]):
            for s in (0, 5):
                rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(11,
                                                                                 spawn_key=(p, s))))
                v = make_potential("anderson", rng, 12, W=w)
                st = tgsweep.ground_state(tgsweep.Ring.lattice(v), mu=0.0)
                assert ds["energy"].values[p, s] == pytest.approx(st.energy, abs=ROUNDOFF_SUM)
                np.testing.assert_allclose(ds["density"].values[p, s], st.density(),
                                           atol=ROUNDOFF_SUM)
                lam = np.linalg.eigvalsh(tgsweep.obdm(st))[::-1]
                assert ds["lambda0"].values[p, s] == pytest.approx(lam[0], abs=ROUNDOFF_SOLVE)
                n_mu, n_p, n_m = tgsweep.particle_numbers(tgsweep.Ring.lattice(v), 0.0)
                assert ds["N_mu"].values[p, s] == n_mu == st.n_particles

    def test_chunking_does_not_change_values(self, tmp_path):
        _, a = self.run(tmp_path / "a")
        d = spec_dict(sampling={"n_samples": 6, "seed": 11, "samples_per_task": 1})
        _, b = self.run(tmp_path / "b", d)
        for v in ("energy", "density", "lambda0", "status"):
            assert a.read(v).tobytes() == b.read(v).tobytes()
        assert b.read("done").shape == (2, 6)

    def test_summary_over_valid_samples(self, tmp_path):
        spec, store = self.run(tmp_path)
        ds = store.to_dataset().load()
        ds["status"][0, 1] = STATUS["error"]
        summ = summarize(ds)
        e = ds["energy"].values
        ref0 = np.delete(e[0], 1)
        assert summ["n_valid"].values.tolist() == [5, 6]
        assert summ["energy_mean"].values[0] == pytest.approx(ref0.mean(), rel=ROUNDOFF)
        assert summ["energy_stderr"].values[0] == pytest.approx(ref0.std(ddof=1) / np.sqrt(5),
                                                               rel=ROUNDOFF_SUM)
        assert summ["energy_mean"].attrs["units"] == ds["energy"].attrs["units"]


    def test_partial_shards_any_order_same_bytes(self, tmp_path, monkeypatch):
        """The single write path (ResultStore.write_chunk, both back ends): tasks arriving in any
        order, with flushes of partly filled shards in between (read-modify-write merges), give
        the same bytes as a straight run."""
        monkeypatch.setenv("TGSWEEP_SHARD_BYTES", "1000")  # 2 tasks per shard, 3 per point
        from tgsweep.sweep.store import provenance, shard_plan
        from tgsweep.sweep.tasks import compute_chunk

        d = spec_dict(sampling={"n_samples": 12, "seed": 11, "samples_per_task": 2})
        spec, ref = self.run(tmp_path / "ref", d)
        assert shard_plan(spec).counts == (2, 3)
        store = self.make(tmp_path / "x")
        store.create(spec, provenance(spec))
        tasks = spec.tasks()
        np.random.default_rng(3).shuffle(tasks)
        for i, (p, c) in enumerate(tasks):
            store.write_chunk(spec, compute_chunk(spec, p, c))
            if i % 3 == 1:
                store.flush()
        store.flush()
        for v in ("energy", "density", "n_particles", "status", "done"):
            assert store.read(v).tobytes() == ref.read(v).tobytes(), v
        assert store.verify(spec) == []

    def test_summary_streamed_equals_dataset_summary(self, tmp_path):
        """The stored summary (streamed shard by shard, Chan et al. 1983 merges) equals
        summarize() of the whole dataset (one block) to rounding."""
        spec, store = self.run(tmp_path)
        a = store.summary_dataset(spec)
        b = summarize(store.to_dataset())
        for v in ("energy_mean", "energy_stderr", "density_mean", "occupations_stderr",
                  "n_particles_n_valid", "n_valid"):
            np.testing.assert_allclose(a[v].values, b[v].values, rtol=1e-12, atol=0)


class TestMemoryStore(StoreSuite):
    def make(self, tmp_path):
        return MemoryStore()


class TestZarrStore(StoreSuite):
    def make(self, tmp_path):
        return ZarrStore(tmp_path / "s.zarr")

    def test_store_files_and_summary_group(self, tmp_path):
        from tgsweep.sweep import open_dataset

        spec, store = self.run(tmp_path)
        summ = open_dataset(store.path, group="summary")
        assert "lambda0_mean" in summ and summ["n_valid"].values.tolist() == [6, 6]
        assert not store.lock_path.exists()  # released
        # one chunk (file) per shard of whole tasks: here both points and all 2 tasks
        import zarr

        g = zarr.open_group(store.path, mode="r")
        assert g["density"].chunks == (2, 8, 12) and g["done"].chunks == (2, 2)


def test_stored_spec_is_effective_and_summary_has_provenance(tmp_path):
    """The base scalar that the grid overrides ([disorder] W = 1 with a disorder.W axis) is not
    stored as if it applied; resume still matches; the summary group names the store, spec,
    versions and tasks it was computed from."""
    import json

    from tgsweep.sweep import open_dataset

    spec = parse_spec(spec_dict())
    assert spec.raw["disorder"]["W"] == 1.0
    store = ZarrStore(tmp_path / "e.zarr")
    run_sweep(spec, store, progress=False)
    stored = json.loads(store.attrs()["spec"])
    assert "W" not in stored["disorder"] and stored["grid"] == spec.raw["grid"]
    assert parse_spec(stored).point_params(1) == spec.point_params(1)
    rep = run_sweep(spec, store, progress=False, resume=True)
    assert rep.tasks_run == 0
    summ = open_dataset(store.path, group="summary")
    assert summ.attrs["store_id"] == store.attrs()["store_id"]
    assert summ.attrs["tasks_done"] == "4/4" and json.loads(summ.attrs["spec"]) == stored
    assert "git_commit" in summ.attrs and "zarr" in json.loads(summ.attrs["versions"])


def test_mean_se_merge_matches_numpy_two_pass():
    """tgsweep.sweep.stats: blocks merged pairwise (Chan, Golub & LeVeque, Am. Stat. 37, 242
    (1983), eq. 2.1) give numpy's two-pass mean and std(ddof=1)/sqrt(n) over the valid entries,
    for random block splits and masks; mean_se (figures) agrees as well."""
    import xarray as xr

    from tgsweep.sweep import stats

    rng = np.random.default_rng(5)
    x = rng.normal(3.0, 2.0, size=(4, 57)) + 1e6  # offset: a naive sum-of-squares would lose digits
    valid = rng.random((4, 57)) > 0.2
    cuts = np.sort(rng.choice(np.arange(1, 57), size=5, replace=False))
    acc = None
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, 57]):
        m = stats.moments(x[:, a:b], valid[:, a:b], axis=1)
        acc = m if acc is None else stats.merge(acc, m)
    mean, se = stats.finish(*acc)
    for i in range(4):
        ref = x[i][valid[i]]
        assert mean[i] == pytest.approx(ref.mean(), rel=1e-14)
        assert se[i] == pytest.approx(ref.std(ddof=1) / np.sqrt(ref.size), rel=1e-9)
    m2, se2 = stats.mean_se(xr.DataArray(np.where(valid, x, np.nan), dims=("p", "sample")))
    np.testing.assert_allclose(m2.values, mean, rtol=1e-14)
    np.testing.assert_allclose(se2.values, se, rtol=1e-9)
    one = stats.finish(*stats.moments(np.array([[1.0, 2.0]]), np.array([[True, False]]), axis=1))
    assert one[0][0] == 1.0 and np.isnan(one[1][0])  # n = 1: no standard error


# --------------------------------------------------------------------- failing samples
def _bad_compute(ctx, opts):
    s = ctx.sample
    if s == 1:
        raise RuntimeError("deliberate failure")
    if s == 2:
        return {"probe": np.float64(np.nan)}
    if s == 3:  # corrupt the OBDM: the self-check (Hermiticity) must catch it
        g = ctx.obdm().copy()
        g[0, 1] += 1e-3
        ctx._obdm = g
    return {"probe": np.float64(s)}


@pytest.fixture
def probe_observable():
    registry.register(Observable("probe", lambda geom, o: ({"probe": Variable((), (), "1",
                                                                               "test probe")}, {}),
                                 _bad_compute))
    yield
    registry._REGISTRY.pop("probe")


@pytest.mark.parametrize("store_kind", ["memory", "zarr"])
def test_failing_samples_recorded_and_excluded(tmp_path, probe_observable, store_kind):
    d = spec_dict(observables={"energy": {}, "condensate": {}, "probe": {}})
    spec = parse_spec(d)
    store = MemoryStore() if store_kind == "memory" else ZarrStore(tmp_path / "f.zarr")
    rep = run_sweep(spec, store, progress=False)
    st = store.read("status")
    err = store.read("error")
    assert rep.samples_failed == 6 and rep.tasks_run == 4
    for p in range(2):
        assert st[p].tolist() == [1, STATUS["error"], STATUS["nonfinite"], STATUS["selfcheck"], 1, 1]
        assert "RuntimeError: deliberate failure" in str(err[p, 1])
        assert "non-finite" in str(err[p, 2]) and "Hermitian" in str(err[p, 3])
        assert str(err[p, 0]) == ""
    assert np.isnan(store.read("energy")[:, 1]).all()  # nothing recorded for the raising sample
    summ = summarize(store.to_dataset())
    assert summ["n_valid"].values.tolist() == [3, 3]
    assert summ["probe_mean"].values.tolist() == [np.mean([0, 4, 5])] * 2
