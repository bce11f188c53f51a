"""``tgsweep plot`` (generic figures + the workflow's own figures through
tgsweep.plots.render, guarded) and run provenance (batch allocation, cluster job ids recorded
again after the run so that replacement jobs are kept).

Reference: README "Sweeps: specs, CLI, stores" (CLI ``tgsweep plot STORE``: PNG figures of what the store holds; store
attributes carry provenance); cluster/README.md and tgsweep.sweep.cluster.batch_provenance for
the SLURM fields.
"""

from __future__ import annotations

import json
from concurrent.futures import Executor, Future
from pathlib import Path

import pytest

from tgsweep.plots import plot
from tgsweep.sweep import ZarrStore, parse_spec, run_sweep
from tgsweep.sweep import cluster as cluster_mod

from _sweep_util import cli, spec_dict, write_spec


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plot")
    spec = parse_spec(spec_dict(sampling={"n_samples": 3, "seed": 2, "samples_per_task": 3}))
    run_sweep(spec, tmp / "s.zarr", progress=False)
    return tmp / "s.zarr"


def test_plot_generic_only_for_unknown_workflow(small_store, tmp_path):
    out = tmp_path / "figs"
    files = plot(small_store, out)
    assert sorted(Path(f).name for f in files) == sorted(
        f"{o}.png" for o in ("energy", "particle_numbers", "density", "condensate"))
    assert all(Path(f).parent == out / "observables" for f in files)
    assert all(Path(f).stat().st_size > 1000 for f in files)
    res = cli("plot", small_store, "--outdir", tmp_path / "cli")
    assert res.returncode == 0 and res.stdout.count(".png") == 4


def test_plot_adds_workflow_figures(small_store, tmp_path, monkeypatch):
    import tgsweep.plots as plots

    seen = {}

    def fake_render(ds, outdir):
        seen["vars"] = set(ds.data_vars)
        p = Path(outdir) / "workflow.png"
        p.write_bytes(b"png")
        return [p]

    # render is called for stores of a known workflow (tgsweep.plots.FIGURES) only: declare one
    monkeypatch.setattr(plots, "workflow_name", lambda ds: "test_workflow")
    monkeypatch.setitem(plots.FIGURES, "test_workflow", fake_render)
    monkeypatch.setattr(plots, "render", fake_render)
    files = plot(small_store, tmp_path)
    assert str(tmp_path / "workflow.png") in files and len(files) == 5
    assert "energy" in seen["vars"]  # render got the store's raw dataset

    def unknown(ds, outdir):
        raise KeyError("no workflow figure")

    monkeypatch.setattr(plots, "render", unknown)
    assert len(plot(small_store, tmp_path / "b")) == 4  # a figure that cannot be drawn: generic only
    assert len(plot(small_store, tmp_path / "c", workflow=False)) == 4


class _InlineExecutor(Executor):
    """A concurrent.futures executor that runs each task at once, with a ``cluster`` attribute
    like a distributed Client's (whose cluster provenance the run records)."""

    cluster = object()

    def submit(self, fn, *args, **kwargs):
        fut = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


def test_batch_and_cluster_provenance_recorded_before_and_after(tmp_path, monkeypatch):
    calls = []

    def fake_cluster_provenance(cluster):
        calls.append(1)
        return {"cluster": "slurm", "job_ids": [str(100 + k) for k in range(len(calls))]}

    monkeypatch.setattr(cluster_mod, "cluster_provenance", fake_cluster_provenance)
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_NTASKS", "3")
    spec = parse_spec(spec_dict(sampling={"n_samples": 2, "seed": 2, "samples_per_task": 2}))
    store = ZarrStore(tmp_path / "p.zarr")
    created = {}
    orig_create = store.create

    def create(spec, attrs):
        created.update(attrs)
        orig_create(spec, attrs)

    store.create = create
    run_sweep(spec, store, _InlineExecutor(), progress=False)
    assert json.loads(created["cluster"])["job_ids"] == ["100"]  # start of run
    attrs = store.attrs()
    assert json.loads(attrs["cluster"])["job_ids"] == ["100", "101"]  # after the run
    batch = json.loads(attrs["batch"])
    assert batch["cluster"] == "slurm-batch" and batch["job_ids"] == ["4242"]
    assert batch["ntasks"] == "3"


def test_no_batch_provenance_outside_allocation(tmp_path, monkeypatch):
    for k in ("SLURM_JOB_ID", "PBS_JOBID"):
        monkeypatch.delenv(k, raising=False)
    spec = parse_spec(spec_dict(sampling={"n_samples": 2, "seed": 2, "samples_per_task": 2}))
    store = ZarrStore(tmp_path / "q.zarr")
    run_sweep(spec, store, _InlineExecutor(), progress=False)
    attrs = store.attrs()
    assert "batch" not in attrs and attrs["cluster"] == "object"  # undescribed cluster: class
