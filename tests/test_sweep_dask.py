"""Dask execution: bitwise reproducibility over worker counts and chunking, worker kill -9.

Reference: docs/references.md §7 - sample s at grid point p draws from SeedSequence(seed, spawn_key=(p, s))
with PCG64, never from worker, chunk or call order; 1, 2 and 3 workers and samples-per-task 1
and 4 must give bitwise identical arrays, identical to a serial run in one process.
"""

from __future__ import annotations

import os

import pytest

from tgsweep.sweep import parse_spec, run_sweep

from _sweep_util import PIN, arrays, assert_stores_equal, cli, spec_dict, write_spec

SKIP = ("done",)  # done has one element per task: its shape depends on samples_per_task


@pytest.fixture(scope="module")
def serial_reference(tmp_path_factory):
    """Uninterrupted serial run in a subprocess with one BLAS/numba thread (the CLI pins them)."""
    tmp = tmp_path_factory.mktemp("ref")
    spec = write_spec(tmp / "s.toml", spec_dict())
    cli("run", spec, "--out", tmp / "ref.zarr", "--serial", "--no-progress", check=True)
    return arrays(tmp / "ref.zarr")


@pytest.fixture(scope="module")
def cluster_factory():
    from distributed import LocalCluster

    made = []

    def make(n):
        c = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address="127.0.0.1:0", env=dict(PIN), silence_logs=40)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.mark.parametrize("n_workers", [pytest.param(1, marks=pytest.mark.slow), 2,
                                       pytest.param(3, marks=pytest.mark.slow)])
def test_workers_and_chunking_bitwise_identical(tmp_path, serial_reference, cluster_factory,
                                                n_workers):
    from distributed import Client

    cluster = cluster_factory(n_workers)
    with Client(cluster) as client:
        for spt in (1, 4):
            d = spec_dict(sampling={"n_samples": 6, "seed": 11, "samples_per_task": spt})
            out = tmp_path / f"w{n_workers}-s{spt}.zarr"
            rep = run_sweep(parse_spec(d), out, client, progress=False)
            assert rep.tasks_run == 2 * (6 // spt if spt == 1 else 2)
            assert_stores_equal(serial_reference, arrays(out), skip=SKIP)


def test_default_localcluster_via_cli(tmp_path, serial_reference):
    spec = write_spec(tmp_path / "s.toml", spec_dict())
    res = cli("run", spec, "--out", tmp_path / "o.zarr", "--workers", "2", check=True)
    assert "ran 4/4 tasks" in res.stdout
    assert "ETA" in res.stderr  # progress bar
    assert_stores_equal(serial_reference, arrays(tmp_path / "o.zarr"))


SLOW = dict(model={"kind": "lattice", "sites": 48}, grid={"disorder.W": [1.0, 2.0]},
            sampling={"n_samples": 60, "seed": 5, "samples_per_task": 3},
            observables={"energy": {}, "condensate": {}, "density": {}})


@pytest.mark.slow
def _arm_worker_fault(fault: str) -> None:
    """Runs inside one worker process: fail there at the named step (tgsweep/sweep/faults.py)."""
    from tgsweep.sweep import faults

    faults.reset_counts()
    os.environ[faults.ENV] = fault


def test_kill_worker_mid_run(tmp_path, cluster_factory):
    """kill -9 of one worker process mid-run (deterministically: the worker SIGKILLs itself when
    it has computed its 3rd task of the run, before returning it): the nanny restarts it, the lost
    task is recomputed, and the store is bitwise identical to an undisturbed run."""
    from distributed import Client

    spec = parse_spec(spec_dict(**SLOW))
    cluster = cluster_factory(2)
    with Client(cluster) as client:
        ref = tmp_path / "ref.zarr"
        run_sweep(spec, ref, client, progress=False)
        out = tmp_path / "killed.zarr"
        before = client.run(os.getpid)
        victim = sorted(before)[0]
        client.run(_arm_worker_fault, "task_computed:3:SIGKILL", workers=[victim])
        rep = run_sweep(spec, out, client, progress=False)
        after = set(client.run(os.getpid).values())
        assert before[victim] not in after, "the armed worker was never killed"
        assert rep.tasks_run == spec.n_points * spec.n_chunks
        assert_stores_equal(arrays(ref), arrays(out))


def test_worker_plugin_pins_blas_and_numba_threads():
    """Workers the sweep did not start (no pinned environment) are pinned by the worker plugin:
    every BLAS/OpenMP pool reports one thread (threadpoolctl) and numba uses one thread.  The
    45x OpenBLAS oversubscription slowdown on 2 cores is why (docs/references.md §7)."""
    from distributed import Client, LocalCluster

    from tgsweep.sweep.runner import _pin_threads_plugin

    def probe():
        import numba
        import numpy  # noqa: F401  (loads BLAS)
        from threadpoolctl import threadpool_info

        return [p["num_threads"] for p in threadpool_info()], numba.get_num_threads()

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        client.register_plugin(_pin_threads_plugin())
        for pools, nb in client.run(probe).values():
            assert pools and all(n == 1 for n in pools)
            assert nb == 1
