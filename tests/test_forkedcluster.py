"""Dask local workers without nannies (tgsweep.sweep.forkedcluster): pinned, replaced when
killed, gone with the client.

References: the serial run of the same spec (sample s at grid point p draws its disorder from
SeedSequence(seed, spawn_key=(p, s)) and nothing else, every worker computes with one
BLAS/numba thread: README "Sweeps", docs/references.md section 7); the process model of
``multiprocessing.forkserver`` (Python documentation, "Contexts and start methods": children
of the server, not of the client); ``distributed``'s scheduler reschedules the tasks of a
worker whose connection is lost (distributed documentation, "Resilience").  Faults are injected
deterministically (tgsweep/sweep/faults.py), and every wait below waits for an event (a process
gone), bounded, never for a guessed delay.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tgsweep.sweep import parse_spec, run_sweep
from tgsweep.sweep.executors import LocalWorkers, start_forkserver

from _sweep_util import PIN, arrays, assert_stores_equal, spec_dict, write_spec

SPEC = spec_dict(sampling={"n_samples": 12, "seed": 3, "samples_per_task": 1})  # 2 x 12 tasks


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ref.zarr"
    run_sweep(parse_spec(SPEC), out, progress=False)
    return arrays(out)


@pytest.fixture(scope="module")
def workers():
    start_forkserver("dask")  # spawned here (pytest may run threads), forked in the CLI
    w = LocalWorkers(2, kind="dask", auto=False)
    w.get()
    yield w
    w.close()


def _probe():
    import numba
    import numpy  # noqa: F401  (loads BLAS)
    from threadpoolctl import threadpool_info

    with open(f"/proc/{os.getpid()}/stat") as fh:
        ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
    return {"pools": [p["num_threads"] for p in threadpool_info()],
            "numba": numba.get_num_threads(), "omp": os.environ.get("OMP_NUM_THREADS"),
            "sigint": signal.getsignal(signal.SIGINT) == signal.SIG_IGN, "ppid": ppid}


def test_workers_pinned_plain_and_forked_from_the_server(workers):
    """N plain workers (no nanny) with one BLAS/OpenMP/numba thread each, SIGINT ignored
    (Ctrl-C is the client's), children of the forkserver rather than of this process."""
    from multiprocessing import forkserver

    client = workers.get()
    assert type(workers.cluster).__name__ == "ForkedCluster"
    info = client.scheduler_info()["workers"]
    assert len(info) == 2 and all(ws.get("nanny") is None for ws in info.values())
    probes = client.run(_probe)
    server = forkserver._forkserver._forkserver_pid
    assert len(probes) == 2
    for p in probes.values():
        assert p["pools"] and all(n == 1 for n in p["pools"]), p
        assert p["numba"] == 1 and p["omp"] == "1" and p["sigint"], p
        assert p["ppid"] == server != os.getpid(), p


def _arm_worker_fault(fault: str) -> None:
    """Runs inside one worker process: fail there at the named step (tgsweep/sweep/faults.py)."""
    from tgsweep.sweep import faults

    faults.reset_counts()
    os.environ[faults.ENV] = fault


def test_killed_worker_replaced_store_complete_and_bitwise(workers, reference, tmp_path):
    """kill -9 of one worker when it has computed its 3rd task (before returning it): the
    scheduler reschedules what it held, its slot forks a fresh worker under the same name, and
    the store is complete and bitwise the serial run's."""
    client = workers.get()
    before = client.run(os.getpid)
    victim = sorted(before)[0]
    client.run(_arm_worker_fault, "task_computed:3:SIGKILL", workers=[victim])
    out = tmp_path / "killed.zarr"
    rep = run_sweep(parse_spec(SPEC), out, client, progress=False)
    assert rep.tasks_run == 24 and rep.samples_failed == 0
    assert_stores_equal(reference, arrays(out))
    deadline = time.monotonic() + 30
    while len(client.scheduler_info()["workers"]) < 2 and time.monotonic() < deadline:
        client.wait_for_workers(2, timeout=30)
    pids = set(client.run(os.getpid).values())
    assert before[victim] not in pids, "the armed worker was never killed"
    assert len(pids) == 2, "the killed worker's slot was not refilled"
    assert sorted(workers.cluster.worker_pids()) == sorted(pids)


def _marked(token: str) -> list[int]:
    """Processes whose environment carries ``token`` (the CLI run and everything it started)."""
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/environ", "rb") as fh:
                    if token.encode() in fh.read():
                        found.append(int(d))
            except OSError:
                pass
    return found


def _none_left(token: str, limit: float = 20.0) -> list[int]:
    """Wait (bounded) until no process carries ``token``; what is left then."""
    deadline = time.monotonic() + limit
    while (left := _marked(token)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.parametrize("fault, rc", [(None, 0), ("task_written:6:SIGINT", 130),
                                       ("task_written:6:SIGKILL", -signal.SIGKILL)])
def test_cli_dask_run_leaves_no_process(tmp_path, reference, fault, rc):
    """``tgsweep run --dask --workers 2``: bitwise the serial run when undisturbed; after it
    ends -- normally, by Ctrl-C (SIGINT after the 6th stored task, exit 130) or by kill -9 of
    the client at that point -- no process it started (forkserver, workers, resource tracker)
    remains: the workers see the client's end of a pipe close and exit.  Closed rather than
    killed, every worker has removed its scratch directory (it closes on SIGTERM)."""
    token = f"TGSWEEP_TEST_TOKEN={uuid.uuid4().hex}"
    spec = write_spec(tmp_path / "s.toml", SPEC)
    out = tmp_path / "o.zarr"
    scratch = tmp_path / "scratch"  # the workers' local directories (dask-scratch-space)
    env = {**os.environ, **PIN, "TGSWEEP_TEST_TOKEN": token.split("=", 1)[1],
           "DASK_TEMPORARY_DIRECTORY": str(scratch)}
    if fault:
        env["TGSWEEP_FAULT"] = fault
    proc = subprocess.Popen([sys.executable, "-m", "tgsweep.cli", "run", str(spec), "--out",
                             str(out), "--no-progress", "--dask", "--workers", "2"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == rc, stderr
        if fault is None:
            assert "2 dask workers" in stdout and stderr == "", stderr
            assert_stores_equal(reference, arrays(out))
        elif rc == 130:
            assert "interrupted after" in stderr, stderr
        left = _none_left(token.split("=", 1)[1])
        assert not left, f"left running: {left}"
        if rc != -signal.SIGKILL:  # closed, not killed: each worker removed its directory
            assert scratch.is_dir()
            assert not list(scratch.glob("dask-scratch-space/worker-*")), \
                list(scratch.rglob("*"))
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # only if the test failed: what is left
        except (ProcessLookupError, PermissionError):
            pass
