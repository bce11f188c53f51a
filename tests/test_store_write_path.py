"""The Zarr store's own write paths -- whole shard chunks encoded in this thread with the
arrays' own codecs, new arrays' metadata and single-chunk arrays (coordinates, the summary
group) written in one pass -- must write exactly the files that zarr writes.

Reference: zarr itself (``arr[region] = values`` and ``zarr.create_array``, the paths every
other block takes), file by file and byte by byte, over a store with several shards, edge
chunks (a partial last sample block), a failed sample's error text (the variable-length
string array) and all-fill arrays (whose chunks zarr does not store).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tgsweep.sweep.zarrstore as zs
from _sweep_util import spec_dict
from tgsweep.sweep import ZarrStore, open_dataset, parse_spec
from tgsweep.sweep.store import provenance
from tgsweep.sweep.tasks import STATUS, compute_chunk


def _fill(path, spec, results, attrs):
    store = ZarrStore(path)
    store.create(spec, attrs)
    for res in results:
        store.write_chunk(spec, res)
    store.flush()
    return store


def _files(root: Path) -> dict:
    """Every chunk and array-metadata file under the store (the root metadata, which holds
    the store id and times, aside)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.parent != root}


@pytest.fixture(scope="module")
def case():
    # 2 grid points x 7 samples in tasks of 2 -> 4 tasks per point; minimal shards (one task
    # each), so that the last sample block of every point is an edge chunk (1 of 2 samples)
    spec = parse_spec(spec_dict(sampling={"n_samples": 7, "seed": 5, "samples_per_task": 2}))
    results = []
    for p, c in spec.tasks():
        res = compute_chunk(spec, p, c)
        if (p, c) == (1, 3):
            res.status[0] = STATUS["error"]
            res.errors[0] = "RuntimeError: injected, ünïcode text"
        results.append(res)
    attrs = {**provenance(spec), "shard_bytes": 1}  # one task's bytes > 1: minimal shards
    return spec, results, attrs


def test_direct_shard_writes_equal_zarr_writes(case, tmp_path, monkeypatch):
    spec, results, attrs = case
    direct = _fill(tmp_path / "direct.zarr", spec, results, attrs)
    calls = []
    real = zs._encode_chunk
    monkeypatch.setattr(zs, "_encode_chunk", lambda *a: calls.append(a) or False)
    monkeypatch.setattr(zs, "_data_array", lambda group, job: calls.append(job) and False)
    _fill(tmp_path / "zarr.zarr", spec, results, attrs)  # coordinates and shards: zarr
    monkeypatch.setattr(zs, "_encode_chunk", real)
    assert any(isinstance(c, dict) for c in calls) and any(isinstance(c, tuple) for c in calls)
    a, b = _files(tmp_path / "direct.zarr"), _files(tmp_path / "zarr.zarr")
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []
    assert not list((tmp_path / "direct.zarr").rglob("*.partial"))
    # and the values read back (by xarray) are the computed ones
    ds = open_dataset(direct.path)
    assert str(ds["error"].values[1, 6]) == "RuntimeError: injected, ünïcode text"
    assert ds["done"].values.all()
    got = np.asarray(ds["energy"].values)
    want = np.full(got.shape, np.nan)
    for res in results:
        want[spec.point_index(res.p) + (slice(res.s0, res.s0 + res.status.size),)] = \
            res.data["energy"]
    assert got.tobytes() == want.tobytes()


def test_chunk_index_only_for_whole_chunks(case, tmp_path):
    spec, results, attrs = case
    store = _fill(tmp_path / "s.zarr", spec, results[:1], attrs)
    arr = store._array("energy")  # shape (2, 7), chunks (1, 2)
    assert arr.shape == (2, 7) and tuple(arr.metadata.chunk_grid.chunk_shape) == (1, 2)
    assert zs._chunk_index(arr, (slice(1, 2), slice(6, 7))) == (1, 3)  # edge chunk
    assert zs._chunk_index(arr, (slice(0, 1), slice(2, 4))) == (0, 1)
    assert zs._chunk_index(arr, (slice(0, 1), slice(0, 1))) is None  # part of a chunk
    assert zs._chunk_index(arr, (slice(0, 2), slice(0, 2))) is None  # two chunks
    assert zs._chunk_index(arr, (slice(0, 1), slice(1, 3))) is None  # not aligned
    assert zs._chunk_index(store._array("density"), (slice(0, 1), slice(2, 4))) == (0, 1, 0)


def test_new_store_metadata_equals_zarr_create_array(case, tmp_path):
    """The metadata documents a new store writes for its arrays are byte for byte those of
    ``zarr.create_array`` with the same arguments (every dtype of a store: float, int, int8
    flags, variable-length error text)."""
    import zarr

    spec, _, attrs = case
    store = ZarrStore(tmp_path / "new.zarr")
    store.create(spec, attrs)
    ref = zarr.open_group(str(tmp_path / "ref.zarr"), mode="w-", zarr_format=3)
    kinds = set()
    for name, a in store.layout.items():
        zarr.create_array(ref.store, compressors=zs._codecs(), zarr_format=3,
                          **zs._array_job(name, a))
        mine = (tmp_path / "new.zarr" / name / "zarr.json").read_bytes()
        assert mine == (tmp_path / "ref.zarr" / name / "zarr.json").read_bytes(), name
        kinds.add(np.dtype(a.dtype).kind + str(np.dtype(a.dtype).itemsize))
    assert {"f8", "i8", "i1"} <= kinds and any(k.startswith("U") for k in kinds)
    # the store's handles (kept from creation) hold what zarr opens from the files
    from zarr.core.buffer import default_buffer_prototype

    def doc(arr):
        return arr.metadata.to_buffer_dict(default_buffer_prototype())["zarr.json"].to_bytes()

    for name in store.layout:
        assert doc(store._handles[name]) == doc(zarr.open_array(
            str(tmp_path / "new.zarr"), path=name, mode="r")), name


def test_summary_group_files_equal_zarr_create_array(case, tmp_path, monkeypatch):
    """The summary group written array by array in this thread is file for file the group
    that ``zarr.create_array(data=...)`` writes (including which all-fill chunks zarr leaves
    out), and xarray reads it back as the summary."""
    spec, results, attrs = case
    import dataclasses

    store = _fill(tmp_path / "s.zarr", spec, results, attrs)
    table = store.summary_table(spec)
    # all-fill arrays too (an all-NaN mean, an all-zero count): zarr stores no chunk for them
    dims, v, at = table.variables["energy_stderr"]
    dims2, v2, at2 = table.variables["energy_n_valid"]
    table = dataclasses.replace(table, variables={
        **table.variables, "energy_stderr": (dims, np.full_like(v, np.nan), at),
        "energy_n_valid": (dims2, np.zeros_like(v2), at2)})
    zs._write_table(tmp_path / "direct", table)
    calls = []
    monkeypatch.setattr(zs, "_data_array", lambda group, job: calls.append(job) and False)
    zs._write_table(tmp_path / "zarr", table)
    assert len(calls) == len(table.variables) + len(table.coords)
    a = {str(p.relative_to(tmp_path / "direct")): p.read_bytes()
         for p in sorted((tmp_path / "direct").rglob("*")) if p.is_file()}
    b = {str(p.relative_to(tmp_path / "zarr")): p.read_bytes()
         for p in sorted((tmp_path / "zarr").rglob("*")) if p.is_file()}
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []
    assert any(k.startswith("energy_mean/c") for k in a)  # chunks really written
    assert not any(k.startswith(("energy_stderr/c", "energy_n_valid/c")) for k in a)
    got = open_dataset(tmp_path / "direct")
    want = table.to_dataset()
    for name in want.data_vars:
        x, y = np.asarray(got[name].values), np.asarray(want[name].values)
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), name
