"""Live SLURM: sweeps through ``tgsweep run --cluster slurm`` and ``cluster/sbatch-sweep.sh``.

Needs a running SLURM with an idle node (``bash cluster/ci-slurm-setup.sh`` sets up a
single-node one; CI runs it before pytest).  Without one, every test here is skipped with
a message -- unless ``TGSWEEP_REQUIRE_SLURM`` is set (CI), which makes it an error.

Reference: the same spec run on a ``LocalCluster`` (``--workers 2``).  Every sample's
disorder comes from a SeedSequence keyed by (seed, grid point, sample), so where a task runs
must not change a single bit of the stored data.  Job ids are checked against what SLURM
itself reports: ``squeue`` while jobs run and the jobcomp/filetxt log
(``/var/log/slurm/jobcomp.log``, or ``$TGSWEEP_SLURM_JOBCOMP``) once they end; ``sacct``
is not used because the CI cluster has no accounting database.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.prefix) / "bin"
TGSWEEP = [str(VENV_BIN / "tgsweep")] if (VENV_BIN / "tgsweep").exists() else [
    sys.executable, "-m", "tgsweep.cli"]
JOBCOMP = Path(os.environ.get("TGSWEEP_SLURM_JOBCOMP", "/var/log/slurm/jobcomp.log"))
JOB_NAME = f"tgsweep-test-{os.getpid()}"


def _slurm_ready() -> str | None:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "SLURM not installed (run `bash cluster/ci-slurm-setup.sh` as root)"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True,
                             timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    states = out.stdout.split()
    if out.returncode != 0 or not any(s.startswith(("idle", "mix")) for s in states):
        return f"no idle SLURM node (sinfo: {out.stdout.strip() or out.stderr.strip()})"
    return None


_why = _slurm_ready()
if _why and os.environ.get("TGSWEEP_REQUIRE_SLURM"):
    # CI sets this after cluster/ci-slurm-setup.sh: a missing SLURM there is a failure
    raise RuntimeError(f"TGSWEEP_REQUIRE_SLURM is set but {_why}")
if _why:
    pytest.skip(_why, allow_module_level=True)

pytest.importorskip("dask_jobqueue")
xr = pytest.importorskip("xarray")

from tgsweep.threads import pinned_environ  # noqa: E402

ENV = pinned_environ()  # one BLAS/OpenMP/numba thread in the CLI subprocesses

SPEC = """
[model]
kind = "lattice"
sites = {sites}

[disorder]
kind = "uniform"
width = 1.0

[state]
n_particles = {n_particles}

[grid]
"disorder.width" = [0.5, 2.0]

[sampling]
n_samples = {n_samples}
seed = 7
samples_per_task = 2

[observables.energy]
[observables.density]
[observables.condensate]
"""


# --------------------------------------------------------------------------- helpers


def _run(args, cwd, timeout=300, env=None):
    p = subprocess.run(args, cwd=cwd, env=env or ENV, capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == 0, f"{args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return p


def _squeue(name=JOB_NAME) -> dict[str, str]:
    out = subprocess.run(["squeue", "-h", "-n", name, "-o", "%i %T"], capture_output=True,
                         text=True).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def _drained(name=JOB_NAME, timeout=60.0) -> dict[str, str]:
    """squeue's jobs of ``name`` once none is left or ``timeout`` s have passed.  A job the
    client has just cancelled sits in COMPLETING while SLURM runs its epilog and reaps it (longer
    on a busy controller); that is not a job left behind, but it must leave within the timeout."""
    deadline = time.monotonic() + timeout
    jobs = _squeue(name)
    while jobs and all(s == "COMPLETING" for s in jobs.values()) and time.monotonic() < deadline:
        time.sleep(0.5)
        jobs = _squeue(name)
    return jobs


def _jobcomp(job_id: str) -> dict[str, str]:
    """The jobcomp/filetxt record of a finished job (waits up to 30 s for it)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if JOBCOMP.exists():
            for line in JOBCOMP.read_text().splitlines():
                if re.search(rf"\bJobId={job_id}\b", line):
                    return dict(re.findall(r"(\w+)=(\S*)", line))
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} not in {JOBCOMP}")


class _SqueueWatcher(threading.Thread):
    """Records every (job id, state) that squeue shows for our job name."""

    def __init__(self):
        super().__init__(daemon=True)
        self.seen: dict[str, set[str]] = {}
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            for jid, state in _squeue().items():
                self.seen.setdefault(jid, set()).add(state)
            time.sleep(0.3)

    def stop(self):
        self._stop_event.set()
        self.join()


def _assert_bitwise_equal(a: Path, b: Path):
    da, db = xr.open_zarr(a), xr.open_zarr(b)
    assert set(da.data_vars) == set(db.data_vars)
    assert dict(da.sizes) == dict(db.sizes)
    for v in da.data_vars:
        x, y = da[v].values, db[v].values
        assert x.dtype == y.dtype, v
        if x.dtype.kind in "biufc":
            assert x.tobytes() == y.tobytes(), f"{v} differs"
        else:
            assert np.array_equal(x, y), f"{v} differs"
    assert int(da["done"].values.min()) == 1  # every task written


def _provenance(store: Path) -> dict:
    import json

    ds = xr.open_zarr(store)
    return json.loads(ds.attrs["cluster"])


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("slurm")
    cfg = yaml.safe_load((REPO / "cluster" / "slurm.yaml").read_text())
    jq = cfg["jobqueue"]["slurm"]
    jq.update({"name": JOB_NAME, "memory": "1GiB", "walltime": "00:15:00",
               "scheduler-options": {"dashboard_address": ":0"}})
    jq["worker-extra-args"] = ["--lifetime", "12m", "--lifetime-stagger", "1m"]
    jq["log-directory"] = str(d / "logs")
    (d / "slurm-test.yaml").write_text(yaml.safe_dump(cfg))
    # spec24 is heavier (~0.5 s per sample): a worker job that starts late must still find
    # tasks left, so the scancel test always cancels a job that is doing work
    for n, sites, n_particles in ((8, 32, 5), (24, 600, 150)):
        (d / f"spec{n}.toml").write_text(SPEC.format(n_samples=n, sites=sites,
                                                     n_particles=n_particles))
    return d


@pytest.fixture(scope="module")
def local_store(work):
    """Reference: the same specs on a LocalCluster."""
    out = {}
    for n in (8, 24):
        store = work / f"local{n}.zarr"
        _run([*TGSWEEP, "run", f"spec{n}.toml", "--out", store.name, "--workers", "2",
              "--no-progress"], cwd=work)
        out[n] = store
    return out


# --------------------------------------------------------------------------- tests


def test_cluster_slurm_matches_local_cluster(work, local_store):
    """Workers are SLURM jobs (seen RUNNING in squeue, COMPLETED/CANCELLED in the jobcomp
    log), the store's provenance names exactly those jobs, and the data is bitwise equal
    to the LocalCluster run."""
    store = work / "slurm8.zarr"
    watch = _SqueueWatcher()
    watch.start()
    try:
        _run([*TGSWEEP, "run", "spec8.toml", "--out", store.name, "--cluster", "slurm",
              "--jobs", "2", "--cluster-config", "slurm-test.yaml", "--no-progress"],
             cwd=work, timeout=600)
    finally:
        watch.stop()
    prov = _provenance(store)
    assert prov["cluster"] == "slurm"
    assert len(prov["job_ids"]) >= 2
    assert set(prov["job_ids"]) <= set(watch.seen), (prov, watch.seen)
    assert any("RUNNING" in watch.seen[j] for j in prov["job_ids"])
    for jid in prov["job_ids"]:
        rec = _jobcomp(jid)
        assert rec["Name"] == JOB_NAME
        assert rec["JobState"] in ("COMPLETED", "CANCELLED")  # closed by the client
    assert not _drained()  # nothing left behind
    _assert_bitwise_equal(store, local_store[8])


def test_scancel_worker_mid_sweep(work, local_store):
    """``scancel`` one of two worker jobs while tasks are running: the lost tasks are
    recomputed elsewhere and the store is bitwise equal to the LocalCluster run."""
    import zarr

    store = work / "slurm24.zarr"
    proc = subprocess.Popen(
        [*TGSWEEP, "run", "spec24.toml", "--out", store.name, "--cluster", "slurm",
         "--jobs", "2", "--cluster-config", "slurm-test.yaml", "--no-progress"],
        # one task per shard: a finished task is on disk at once (partial shards are written
        # only every few seconds), so the loop below sees work flowing through both workers
        cwd=work, env={**ENV, "TGSWEEP_SHARD_BYTES": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        victim, done_before = None, None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            running = [j for j, s in _squeue().items() if s == "RUNNING"]
            if len(running) == 2 and (store / "done").exists():
                done = np.asarray(zarr.open_array(store / "done", mode="r")[...])
                if done.sum() >= 2:  # work is flowing through both workers
                    victim, done_before = running[0], int(done.sum())
                    subprocess.run(["scancel", victim], check=True)
                    break
            time.sleep(0.2)
        assert victim is not None, "sweep finished or stalled before a job could be cancelled"
        assert done_before < 24 // 2 * 2, "scancel came after the last task"
        assert proc.poll() is None, "sweep had already ended when the job was cancelled"
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert _jobcomp(victim)["JobState"] == "CANCELLED"
    prov = _provenance(store)
    assert victim in prov["job_ids"]
    assert not _drained()
    _assert_bitwise_equal(store, local_store[24])


def test_batch_script_under_sbatch(work, local_store):
    """cluster/sbatch-sweep.sh runs the whole sweep inside one allocation (scheduler in
    the batch step, one srun worker per task) and writes the same data."""
    store = work / "batch8.zarr"
    name = f"{JOB_NAME}-batch"
    p = _run(["sbatch", "--wait", "--parsable", "-J", name, "--ntasks=2", "--cpus-per-task=1",
              "--mem-per-cpu=1G", "-t", "00:15:00", "-o", str(work / "batch-%j.log"),
              str(REPO / "cluster" / "sbatch-sweep.sh"), "spec8.toml", store.name,
              "--no-progress"],
             cwd=work, timeout=600, env={**ENV, "TGSWEEP_VENV": sys.prefix})
    jid = p.stdout.strip().split(";")[0]
    log = (work / f"batch-{jid}.log").read_text()
    rec = _jobcomp(jid)
    assert rec["JobState"] == "COMPLETED", log
    assert rec["Name"] == name
    assert f"tgsweep run exited with 0 (job {jid})" in log
    workers = sorted((work / ".tgsweep-batch" / jid).glob("worker-*.log"))
    assert len(workers) == 2  # one dask worker per SLURM task
    _assert_bitwise_equal(store, local_store[8])
