"""No process outlives a killed client: ``kill -9`` of ``tgsweep run --workers 2``.

Reference: the process model of ``multiprocessing.forkserver`` (Python documentation,
"Contexts and start methods": pool workers are children of the forkserver, which exits when the
last holder of its "alive" pipe is gone) and POSIX pipe semantics (a read returns end of file
once every write end is closed; the kernel closes the descriptors of a killed process).  The
workers' lifeline pipe (``tgsweep.sweep.executors``) has its only write end in the client, so
after the client's SIGKILL the workers exit, then the forkserver and multiprocessing's resource
tracker.  The store left behind resumes bitwise identically to an uninterrupted serial run
(README "Store layout and data safety").

The kill comes from the fault hook (``worker_task_written:2``: the client SIGKILLs itself right
after storing the second result returned by a worker, so the workers are running), and the
check is a bounded poll for the event (no process left in the run's session), never a fixed
sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tgsweep.sweep import ZarrStore

from _sweep_util import PIN, arrays, assert_stores_equal, cli, spec_dict, write_spec

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists() or not hasattr(os, "fork"),
                                reason="needs /proc and fork (Linux)")

#: 2 grid points x 20 tasks of 3 samples (lattice L = 48): the workers still have tasks when the
#: client dies after its second worker result
SPEC = dict(model={"kind": "lattice", "sites": 48}, grid={"disorder.W": [1.0, 2.0]},
            sampling={"n_samples": 60, "seed": 5, "samples_per_task": 3},
            observables={"energy": {}, "condensate": {}, "density": {}})


def _session(sid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live process of session ``sid`` (zombies excluded)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{d}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")[:120]
        except OSError:  # gone meanwhile
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append((int(d), cmd))
    return out


def _wait_session_empty(sid: int, limit: float = 30.0) -> list:
    """Poll until no process of session ``sid`` is left or ``limit`` seconds passed; what is
    left (empty on success)."""
    t_end = time.monotonic() + limit
    left = _session(sid)
    while left and time.monotonic() < t_end:
        time.sleep(0.05)
        left = _session(sid)
    return left


def test_kill9_client_leaves_no_worker_and_resumes_bitwise(tmp_path):
    """After SIGKILL of a ``--workers 2`` client no process of its session remains (workers,
    forkserver, resource tracker), within a bounded poll; ``--resume`` then completes the store
    bitwise identical to an uninterrupted serial run."""
    spec = write_spec(tmp_path / "s.toml", spec_dict(**SPEC))
    ref = tmp_path / "ref.zarr"
    cli("run", spec, "--out", ref, "--serial", "--no-progress", check=True)
    out = tmp_path / "out.zarr"
    # shards of one task (~1.5 kB): each result is stored whole at once, so the killed run
    # leaves stored tasks that the resume keeps
    env = {**os.environ, **PIN, "TGSWEEP_FAULT": "worker_task_written:2:SIGKILL",
           "TGSWEEP_SHARD_BYTES": "2048"}
    log = tmp_path / "run.log"  # a file, not a pipe: a leftover process must not hold it
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "tgsweep.cli", "run", str(spec),
                                 "--out", str(out), "--no-progress", "--workers", "2"], env=env,
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        proc.wait(300)
        assert proc.returncode == -signal.SIGKILL, log.read_text()
        left = _wait_session_empty(proc.pid)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # only if the assertion below fails
        except ProcessLookupError:
            pass
    assert not left, f"processes outlived the killed client: {left}"
    n_done = int(ZarrStore(out).done().sum())
    assert 2 <= n_done < 40
    res = cli("run", spec, "--out", out, "--resume", "--workers", "2", "--no-progress",
              check=True)
    assert f"ran {40 - n_done}/40 tasks" in res.stdout
    assert_stores_equal(arrays(ref), arrays(out))
