"""The summary group computed as results arrive: per-shard moments merged in shard order.

References: the pairwise merge of Chan, Golub & LeVeque, Am. Stat. 37, 242 (1983), eq. 2.1
(docs/references.md §7); the reference reduction is a plain two-pass NumPy mean and
std(ddof=1)/sqrt(n) over the valid samples, written here, and xarray's own ``Dataset.to_zarr``
for the on-disk layout of the group.
"""

from __future__ import annotations

import numpy as np
import pytest

from tgsweep.sweep import MemoryStore, ZarrStore, open_dataset, parse_spec, run_sweep
from tgsweep.sweep.faults import ENV as FAULT_ENV, reset_counts
from tgsweep.sweep.storage import SummaryAccumulator, shard_moments, shard_plan
from tgsweep.sweep.store import provenance
from tgsweep.sweep.tasks import compute_chunk

from _sweep_util import spec_dict
from _tolerances import ROUNDOFF

#: a shard of 2 tasks (4 samples): 3 shards along `sample` per grid point, the last partial
SMALL_SHARDS = "800"


def _spec():
    return parse_spec(spec_dict(sampling={"n_samples": 10, "seed": 7, "samples_per_task": 2},
                                grid={"disorder.W": [0.5, 2.0, 4.0]}))


def _numpy_summary(x, ok):
    """Two-pass mean and std(ddof=1)/sqrt(n) over axis 1 (sample) of the samples with ok."""
    m = ok.reshape(ok.shape + (1,) * (x.ndim - 2))
    n = m.sum(axis=1)
    mean = np.where(m, x, 0.0).sum(axis=1) / n
    var = np.where(m, (x - np.expand_dims(mean, 1)) ** 2, 0.0).sum(axis=1) / (n - 1)
    return mean, np.sqrt(var) / np.sqrt(n)


def _table_bytes(t):
    return {k: v.tobytes() for k, (_, v, _) in t.variables.items()}


def test_shuffled_arrival_summary_equals_full_read_bitwise_and_numpy(tmp_path, monkeypatch):
    """Tasks arriving in random order (partial shards flushed in between): the summary merged
    from the moments taken as shards were written equals, bit for bit, the summary read back
    shard by shard from the finished store; and equals the two-pass NumPy reduction to roundoff
    (the merge order differs from one pass: ROUNDOFF relative; measured <= 6e-16)."""
    monkeypatch.setenv("TGSWEEP_SHARD_BYTES", SMALL_SHARDS)
    spec = _spec()
    plan = shard_plan(spec)
    assert plan.counts == (3, 3) and plan.tasks == 2
    store = ZarrStore(tmp_path / "s.zarr")
    store.create(spec, provenance(spec))
    tasks = spec.tasks()
    np.random.default_rng(5).shuffle(tasks)
    for i, (p, c) in enumerate(tasks):
        store.write_chunk(spec, compute_chunk(spec, p, c))
        if i % 4 == 2:
            store.flush()  # partial shards, read-modify-write
    store.flush()
    acc = store._summary_acc
    assert not acc.stale and not acc.pending
    live = store.summary_table(spec)
    assert not acc.before  # every shard was counted from memory: no read at the end
    fresh = ZarrStore(store.path).summary_table(spec)  # reads every shard
    assert _table_bytes(live) == _table_bytes(fresh)
    ok = store.read("status") == 1
    for var in ("energy", "lambda0", "density", "occupations", "n_particles"):
        x = store.read(var).astype(np.float64)
        mean, se = _numpy_summary(x, ok)
        np.testing.assert_allclose(live.variables[f"{var}_mean"][1], mean, rtol=ROUNDOFF, atol=0)
        np.testing.assert_allclose(live.variables[f"{var}_stderr"][1], se, rtol=ROUNDOFF,
                                   atol=0)
        assert live.variables[f"{var}_n_valid"][1].tolist() == ok.sum(axis=1).tolist()


def test_accumulator_merges_in_shard_order_whatever_the_arrival():
    """SummaryAccumulator: moments offered in any order give the same bits as offered in
    order; a shard offered again after its turn makes it stale (then everything is re-read)."""
    spec = _spec()
    plan = shard_plan(spec, 800)
    rng = np.random.default_rng(1)
    blocks = {}
    for key in plan.keys():
        ss = plan.sample_slice(key)
        n = ss.stop - ss.start
        st = np.where(rng.random((1, n)) < 0.8, 1, 2).astype(np.int8)
        blocks[key] = shard_moments({"status": st, "x": rng.normal(size=(1, n, 3))}, ["x"], 1)
    keys = list(plan.keys())

    def run(order):
        acc = SummaryAccumulator(plan, ["x"], 1, set())
        for k in order:
            acc.offer(k, blocks[k])
        out = acc.finish(lambda key: pytest.fail("nothing to read"))
        return {gk: (m[""].tobytes(), *(a.tobytes() for a in m["x"])) for gk, m in out.items()}

    ref = run(keys)
    for seed in range(5):
        order = list(keys)
        np.random.default_rng(seed).shuffle(order)
        assert run(order) == ref
    acc = SummaryAccumulator(plan, ["x"], 1, set())
    acc.offer(keys[0], blocks[keys[0]])
    acc.offer(keys[0], blocks[keys[0]])
    assert acc.stale


def test_kill_then_resume_gives_a_bitwise_identical_summary(tmp_path, monkeypatch):
    """A run failing after 5 tasks (an injected error at the 5th ``task_written``; buffered
    shards lost as in a kill), then ``resume``: the shards of the first run are read back in
    their turn, the others counted as written; the summary group is bitwise identical to that of
    an uninterrupted run (and the store too)."""
    monkeypatch.setenv("TGSWEEP_SHARD_BYTES", SMALL_SHARDS)
    spec = _spec()
    ref = ZarrStore(tmp_path / "ref.zarr")
    run_sweep(spec, ref, progress=False)
    out = ZarrStore(tmp_path / "out.zarr")
    monkeypatch.setenv(FAULT_ENV, "task_written:5:ENOSPC")
    reset_counts()
    with pytest.raises(OSError):
        run_sweep(spec, out, progress=False)
    monkeypatch.delenv(FAULT_ENV)
    assert 0 < int(ZarrStore(out.path).read("done").sum()) < len(spec.tasks())
    resumed = ZarrStore(out.path)
    rep = run_sweep(spec, resumed, progress=False, resume=True)
    assert 0 < rep.tasks_run < len(spec.tasks())
    a = open_dataset(ref.path, group="summary")
    b = open_dataset(out.path, group="summary")
    assert set(a.data_vars) == set(b.data_vars)
    for v in a.data_vars:
        assert a[v].values.tobytes() == b[v].values.tobytes(), v
    for v in ("energy", "density", "status", "done"):
        assert ref.read(v).tobytes() == resumed.read(v).tobytes(), v


def test_summary_group_reads_back_as_xarray_would_write_it(tmp_path):
    """The summary group written with zarr directly opens (``xr.open_zarr``) as a Dataset
    identical -- values, dims, coordinates, attributes -- to the same summary written by
    xarray's ``Dataset.to_zarr``; with a zipped grid axis (two coordinates on one dimension,
    one of them not an index)."""
    import xarray as xr

    d = spec_dict(sampling={"n_samples": 4, "seed": 3, "samples_per_task": 2})
    d.pop("grid")
    d["grid"] = {"zip": {"pt": {"disorder.W": [0.5, 2.0], "state.mu": [0.0, 0.5]}}}
    spec = parse_spec(d)
    mem = MemoryStore()
    run_sweep(spec, mem, progress=False)
    table = mem.summary
    ours = ZarrStore(tmp_path / "a.zarr")
    ours.create(spec, provenance(spec))
    ours.write_summary(table)
    ds = table.to_dataset()
    assert ds.coords and any(n not in ds.dims for n in ds.coords)  # a non-index coordinate
    ds.to_zarr(tmp_path / "b.zarr", group="summary", mode="w", zarr_format=3,
               consolidated=False)
    a = open_dataset(ours.path, group="summary").load()
    b = xr.open_zarr(tmp_path / "b.zarr", group="summary", consolidated=False).load()
    xr.testing.assert_identical(a, b)
