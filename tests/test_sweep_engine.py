"""The sweep engine's execution paths give the same bytes as the serial run.

Reference: sample s at grid point p draws its disorder from SeedSequence(seed, spawn_key=(p, s))
with PCG64 and nothing else (README "Sweeps"), and every process computes with one BLAS/numba
thread, so where a task runs (this process, a thread pool, a process pool, a dask worker; the
first task in the client while workers start; several series members on one set of workers)
cannot change a single bit of the store.  The summary group is checked against a plain NumPy
reduction of the raw arrays (mean and std(ddof=1)/sqrt(n) over samples with status 1).
Kernel compilation once per machine is checked on a fresh numba cache: only the kernels a spec
needs are compiled, by the client, and the workers compile none.  Ctrl-C is injected
deterministically (SIGINT at the k-th written task, ``tgsweep.sweep.faults``).
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tgsweep.sweep import MemoryStore, open_dataset, parse_spec, run_sweep
from tgsweep.sweep.executors import LocalWorkers

from _sweep_util import arrays, assert_stores_equal, cli, spec_dict, to_toml, write_spec

SPEC = spec_dict(sampling={"n_samples": 6, "seed": 11, "samples_per_task": 2})  # 2 x 3 tasks


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ref.zarr"
    rep = run_sweep(parse_spec(SPEC), out, progress=False)
    assert rep.mode == "serial" and rep.tasks_run == 6
    return arrays(out)


@pytest.fixture(scope="module")
def pool():
    workers = LocalWorkers(2, auto=False)
    yield workers
    workers.close()


def test_thread_pool_and_memory_store_bitwise(reference, tmp_path):
    """A concurrent.futures ThreadPoolExecutor (tasks in threads of this process) into a Zarr
    store, and a MemoryStore fed by the same executor (one writer, so any store works)."""
    spec = parse_spec(SPEC)
    with ThreadPoolExecutor(2) as ex:
        rep = run_sweep(spec, tmp_path / "t.zarr", ex, progress=False)
        assert rep.tasks_run == 6 and rep.mode == "ThreadPoolExecutor"
        assert_stores_equal(reference, arrays(tmp_path / "t.zarr"))
        mem = MemoryStore()
        run_sweep(spec, mem, ex, progress=False, summary=False)
    for k, v in reference.items():
        assert mem.read(k).tobytes() == v.tobytes() or k == "error", k


def test_process_pool_reused_for_two_runs_bitwise(reference, tmp_path, pool):
    """One LocalWorkers process pool for two stores (as for [[series]] members); the second
    run resumes a half-written store (the done mask decides what runs)."""
    spec = parse_spec(SPEC)
    rep = run_sweep(spec, tmp_path / "a.zarr", pool, progress=False)
    assert rep.mode == "2 worker processes" and rep.worker_compiled == 0
    assert_stores_equal(reference, arrays(tmp_path / "a.zarr"))
    half = parse_spec({**SPEC, "grid": {"disorder.W": [0.5]}})  # only the first grid point
    run_sweep(half, tmp_path / "h.zarr", pool, progress=False)
    assert_stores_equal({k: v[:1] for k, v in reference.items()}, arrays(tmp_path / "h.zarr"))


def test_serial_or_parallel_choice(reference, tmp_path):
    """Local workers still starting, whose start would cost more than the work left, are not
    used (the report says serial); workers that cost nothing to start are; both runs give the
    reference bytes."""
    class NotStartedYet(LocalWorkers):
        def start(self):  # still starting when the choice is made (and must not be used)
            pass

    spec = parse_spec(SPEC)
    slow = NotStartedYet(2)
    slow.start_seconds = 1e9
    fast = LocalWorkers(2)
    fast.start_seconds = 0.0
    try:
        a = run_sweep(spec, tmp_path / "s.zarr", slow, progress=False)
        b = run_sweep(spec, tmp_path / "p.zarr", fast, progress=False)
    finally:
        slow.close()
        fast.close()
    assert a.mode == "serial" and b.mode == "2 worker processes"
    assert_stores_equal(reference, arrays(tmp_path / "s.zarr"))
    assert_stores_equal(reference, arrays(tmp_path / "p.zarr"))


def test_dask_client_with_client_side_first_task(reference, tmp_path):
    """A distributed Client with the first task computed in the client (warm=True)."""
    from distributed import Client, LocalCluster

    from _sweep_util import PIN

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, env=dict(PIN)) as cluster, Client(cluster) as c:
        rep = run_sweep(parse_spec(SPEC), tmp_path / "d.zarr", c, progress=False, warm=True)
    assert rep.tasks_run == 6 and rep.mode.startswith("dask client")
    assert_stores_equal(reference, arrays(tmp_path / "d.zarr"))


def _numpy_summary(x, ok):
    """mean and std(ddof=1)/sqrt(n) over axis 1 (sample) of the samples with ok."""
    m = ok.reshape(ok.shape + (1,) * (x.ndim - 2))
    n = m.sum(axis=1)
    xs = np.where(m, x, 0.0)
    mean = xs.sum(axis=1) / n
    var = np.where(m, (x - np.expand_dims(mean, 1)) ** 2, 0.0).sum(axis=1) / (n - 1)
    return mean, np.sqrt(var) / np.sqrt(n)


def test_summary_equals_numpy_reduction(tmp_path):
    """The run's summary group equals a NumPy reduction of its raw arrays; with samples marked
    failed (status 2) the summary uses only the others."""
    from tgsweep.sweep import summarize

    spec = parse_spec(spec_dict(sampling={"n_samples": 5, "seed": 3, "samples_per_task": 2}))
    run_sweep(spec, tmp_path / "s.zarr", progress=False)
    raw = open_dataset(tmp_path / "s.zarr")
    summ = open_dataset(tmp_path / "s.zarr", group="summary")
    ok = raw["status"].values == 1
    assert ok.all() and (summ["n_valid"].values == 5).all()
    for var in ("energy", "lambda0", "density"):
        mean, se = _numpy_summary(raw[var].values.astype(np.float64), ok)
        np.testing.assert_allclose(summ[f"{var}_mean"].values, mean, rtol=1e-13, atol=0)
        np.testing.assert_allclose(summ[f"{var}_stderr"].values, se, rtol=1e-12, atol=0)
    ds = raw.load()
    ds["status"][0, 1] = 2
    ds["status"][1, 4] = 2
    ok = ds["status"].values == 1
    masked = summarize(ds)
    assert masked["n_valid"].values.tolist() == [4, 4]
    for var in ("energy", "lambda0", "density"):
        mean, se = _numpy_summary(ds[var].values.astype(np.float64), ok)
        np.testing.assert_allclose(masked[f"{var}_mean"].values, mean, rtol=1e-13, atol=0)
        np.testing.assert_allclose(masked[f"{var}_stderr"].values, se, rtol=1e-12, atol=0)


def _series_toml(path: Path) -> Path:
    d = spec_dict(sampling={"n_samples": 4, "seed": 5, "samples_per_task": 2})
    text = to_toml(d) + ('\n[[series]]\nlabel = "small"\nmodel = {kind = "lattice", sites = 8}\n'
                         '\n[[series]]\nlabel = "large"\nmodel = {kind = "lattice", sites = 10}\n')
    path.write_text(text)
    return path


def test_series_one_worker_set_bitwise_and_reported(tmp_path):
    """`tgsweep run` of a [[series]] workflow on local workers (one pool for both members)
    gives the stores of the serial run, and prints samples, failures and time per member."""
    from tgsweep.sweep.workflow import run_workflow

    wf = _series_toml(tmp_path / "wf.toml")
    run_workflow(wf, out=str(tmp_path / "ser"))  # serial, in this process
    par = cli("run", wf, "--out", tmp_path / "par", "--workers", "2", "--no-progress",
              check=True)
    lines = par.stdout.strip().splitlines()
    assert len(lines) == 2, par.stdout
    for line, label in zip(lines, ("small", "large")):
        assert re.fullmatch(rf".*{label}\.zarr: ran 4/4 tasks, 8 samples \(0 failed\) in "
                            r"[0-9.]+ s \([0-9.]+ samples/s, 2 worker processes\)", line), line
    for label in ("small", "large"):
        a, b = arrays(tmp_path / "ser" / f"{label}.zarr"), arrays(tmp_path / "par" / f"{label}.zarr")
        assert_stores_equal(a, b)
        assert open_dataset(tmp_path / "par" / f"{label}.zarr").attrs["series_label"] == label


def test_fresh_cache_compiles_once_only_what_the_spec_needs(tmp_path, monkeypatch):
    """On an empty numba cache, a spec with only spectrum-based observables (energy, particle
    numbers) compiles spectrum kernels in the client (announced while it runs), writes no OBDM
    or dynamics kernel to the cache, and the two workers compile nothing (the run line would
    say "workers compiled N kernels")."""
    from tgsweep.core.spectrum import SMALL_COUNT_MAX  # smaller rings need no kernel at all

    cache = tmp_path / "numba-cache"
    d = spec_dict(model={"kind": "lattice", "sites": SMALL_COUNT_MAX + 8},
                  sampling={"n_samples": 4, "seed": 1, "samples_per_task": 1},
                  observables={"energy": {}, "particle_numbers": {}})
    spec = write_spec(tmp_path / "s.toml", d)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    res = cli("run", spec, "--out", tmp_path / "o.zarr", "--workers", "2", check=True)
    assert "workers compiled" not in res.stdout and "2 worker processes" in res.stdout
    assert "compiling kernels, first run only" in res.stderr
    files = [p.name for p in cache.rglob("*.nbi")]
    assert any(f.startswith("_spectrum_kernels.") for f in files), files
    for family in ("_obdm_kernels.", "_dynamics_kernels.", "_stiffness_kernels.",
                   "_correlation_kernels."):
        assert not any(f.startswith(family) for f in files), (family, files)


@pytest.mark.parametrize("mode", ["--serial", "--workers=2"])
def test_ctrl_c_one_line_exit_130_then_resume_bitwise(tmp_path, mode, reference, monkeypatch):
    """SIGINT right after the 3rd task is written: exit code 130, stderr is exactly the one
    line saying how to resume, and the resumed store has the bytes of the serial run."""
    spec = write_spec(tmp_path / "s.toml", SPEC)
    out = tmp_path / "o.zarr"
    monkeypatch.setenv("TGSWEEP_FAULT", "task_written:3:SIGINT")
    res = cli("run", spec, "--out", out, mode, "--no-progress")
    assert res.returncode == 130, res.stderr
    assert res.stderr.strip() == (f"interrupted after 3/6 tasks; resume with "
                                  f"`tgsweep run {spec} --out {out} --resume`"), res.stderr
    assert res.stdout == ""
    monkeypatch.delenv("TGSWEEP_FAULT")
    rep = run_sweep(parse_spec(SPEC), out, resume=True, progress=False)
    assert rep.tasks_run == 3
    assert_stores_equal(reference, arrays(out))


def _die_once_in_a_worker(spec, p, c):
    """compute_chunk, except that the first call in a pool worker kills that worker process
    (deterministically once: a marker file next to the spec's store)."""
    import multiprocessing

    from tgsweep.sweep.tasks import compute_chunk

    marker = Path(spec.store + ".died")
    if multiprocessing.parent_process() is not None and not marker.exists():
        marker.write_text("x")
        os._exit(1)
    return compute_chunk(spec, p, c)


def test_worker_death_restarts_the_pool_bitwise(reference, tmp_path, monkeypatch):
    """A pool worker that dies mid-run (killed, out of memory) breaks the process pool: the
    runner starts a fresh pool, resubmits what was in flight, and the store is the serial one."""
    from tgsweep.sweep import runner

    monkeypatch.setattr(runner, "compute_chunk", _die_once_in_a_worker)
    out = tmp_path / "o.zarr"
    spec = parse_spec({**SPEC, "output": {"store": str(out)}})
    workers = LocalWorkers(2, auto=False)
    try:
        rep = run_sweep(spec, out, workers, progress=False)
    finally:
        workers.close()
    assert (tmp_path / "o.zarr.died").exists() and rep.tasks_run == 6
    assert_stores_equal(reference, arrays(out))


def test_warmed_ready_workers_get_every_task(pool, reference, tmp_path):
    """Workers that are up and already ran tasks of this kind of spec get every task of the
    next run: the client computes none (it would leave both workers idle while it does), and
    the store is bitwise the serial one.  Counted with the fault hook's step counter: a task
    computed in this process passes ``task_computed`` here."""
    from tgsweep.sweep.faults import fault_steps, reset_counts

    spec = parse_spec(SPEC)
    run_sweep(spec, tmp_path / "first.zarr", pool, progress=False)  # up and warmed
    assert pool.ready
    reset_counts()
    rep = run_sweep(spec, tmp_path / "second.zarr", pool, progress=False)
    assert rep.tasks_run == 6 and rep.mode == "2 worker processes"
    assert fault_steps().get("task_computed", 0) == 0
    assert_stores_equal(reference, arrays(tmp_path / "second.zarr"))


def test_layouts_cached_per_spec():
    """The per-spec layout cache of the tasks (``tasks.layouts_of``) gives, for two specs that
    differ only in an observable's option, the layouts each spec's declarations build afresh
    (reference: ``Observable.layout`` of the registry), never the other spec's."""
    from tgsweep.sweep import registry
    from tgsweep.sweep.tasks import layouts_of

    a = parse_spec({**SPEC, "observables": {"condensate": {"n_modes": 3}}})
    b = parse_spec({**SPEC, "observables": {"condensate": {"n_modes": 5}}})
    for spec in (a, b, a, b):
        fresh = {name: registry.get(name).layout(spec.geometry(), opts)[0]
                 for name, opts in spec.observables.items()}
        got = layouts_of(spec)
        assert {n: {v: m.shape for v, m in vs.items()} for n, vs in got.items()} == \
            {n: {v: m.shape for v, m in vs.items()} for n, vs in fresh.items()}
    assert layouts_of(a)["condensate"]["occupations"].shape == (3,)
    assert layouts_of(b)["condensate"]["occupations"].shape == (5,)
