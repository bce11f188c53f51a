"""``tgsweep status`` through the light read side (:mod:`tgsweep.sweep.storeview`).

The reference is the store opened by xarray (``xr.open_zarr``, a reader nobody here wrote):
the status report and every array it reads must be the same from both; and the command must
not load the sweep machinery (spec validation, observable registry, store writer, xarray,
dask), which is what makes it quick.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from _sweep_util import PIN, spec_dict
from tgsweep.sweep import ZarrStore, open_dataset, parse_spec
from tgsweep.sweep.store import provenance
from tgsweep.sweep.storeview import StoreView, array_dims, status_text
from tgsweep.sweep.tasks import STATUS, compute_chunk


@pytest.fixture(scope="module")
def partial_store(tmp_path_factory):
    """A 2-point grid store with some tasks missing and one failed sample (error text)."""
    spec = parse_spec(spec_dict(sampling={"n_samples": 6, "seed": 3, "samples_per_task": 2}))
    path = tmp_path_factory.mktemp("status") / "s.zarr"
    store = ZarrStore(path)
    store.create(spec, provenance(spec))
    for p, c in spec.tasks()[:-2]:  # the last two tasks stay pending
        res = compute_chunk(spec, p, c)
        if (p, c) == (1, 0):
            res.status[1] = STATUS["error"]
            res.errors[1] = "ValueError: injected for the status report"
        store.write_chunk(spec, res)
    store.flush()
    return path


def test_status_view_reads_what_xarray_reads(partial_store):
    """Every array the report reads (done, status, error, grid coordinates) is the same through
    StoreView and through xr.open_zarr, and so is the report."""
    ds = open_dataset(partial_store)
    view = StoreView(partial_store)
    assert view.coords == {n for n in ds.coords if ds[n].dims == (n,)}
    dims = array_dims(partial_store)
    for name in ("done", "status", "error", *view.coords):
        assert view[name].dims == ds[name].dims == dims[name], name
        a, b = np.asarray(view[name].values), np.asarray(ds[name].values)
        assert a.shape == b.shape, name
        assert [str(x) for x in a.ravel()] == [str(x) for x in b.ravel()], name
    text = status_text(view)
    assert text == status_text(ds)
    assert "injected for the status report" in text and "1 failed" in text
    assert "total: 4/6 tasks done" in text


def test_status_command_loads_no_sweep_machinery(partial_store):
    """`tgsweep status` prints the report without importing the spec, the registry, the
    store writer, the observables, xarray or dask."""
    code = ("import sys; from tgsweep.cli import main; rc = main(['status', sys.argv[1]]); "
            "print('MODULES', ' '.join(sorted(sys.modules))); sys.exit(rc)")
    res = subprocess.run([sys.executable, "-c", code, str(partial_store)], capture_output=True,
                         text=True, env={**os.environ, **PIN}, timeout=300)
    assert res.returncode == 0, res.stderr
    report, mods = res.stdout.rsplit("MODULES ", 1)
    assert report.strip() == status_text(open_dataset(partial_store))
    loaded = set(mods.split())
    heavy = {"tgsweep.sweep.spec", "tgsweep.sweep.registry", "tgsweep.sweep.storage",
             "tgsweep.sweep.zarrstore", "tgsweep.sweep.tasks", "tgsweep.sweep.runner",
             "tgsweep.observables", "xarray", "dask", "distributed"}
    assert not heavy & loaded, sorted(heavy & loaded)
    assert "tgsweep.sweep.storeview" in loaded


def test_sweep_package_names_resolve_lazily():
    """Each public name of tgsweep.sweep is the object its declaring submodule defines;
    submodules are reachable as attributes; an unknown name is an AttributeError."""
    import importlib

    import tgsweep.sweep as sw

    for name, mod in sw._PUBLIC.items():
        assert getattr(sw, name) is getattr(importlib.import_module(f"tgsweep.sweep.{mod}"),
                                            name), name
    assert set(sw.__all__) == set(sw._PUBLIC)
    assert sw.tasks.compute_chunk is compute_chunk
    with pytest.raises(AttributeError):
        sw.no_such_name
