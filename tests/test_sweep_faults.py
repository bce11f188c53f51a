"""Client kill -9 and --resume, store lock, refusal to overwrite.

Reference: the sweep engine contract (docs/references.md §7) - after kill -9 of the client,
`tgsweep run --resume` computes only the
missing chunks and the final store is bitwise identical to an uninterrupted run; a second run
on the same store while one is active is refused with a clear message.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tgsweep.sweep import ZarrStore

from _sweep_util import PIN, arrays, assert_stores_equal, cli, spec_dict, write_spec

SLOW = dict(model={"kind": "lattice", "sites": 48}, grid={"disorder.W": [1.0, 2.0]},
            sampling={"n_samples": 60, "seed": 5, "samples_per_task": 3},
            observables={"energy": {}, "condensate": {}, "density": {}})


def _start(spec, out, *extra, fault=None):
    env = {**os.environ, **PIN}
    if fault:
        env["TGSWEEP_FAULT"] = fault
    return subprocess.Popen([sys.executable, "-m", "tgsweep.cli", "run", str(spec), "--out",
                             str(out), "--no-progress", *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


@pytest.mark.parametrize("mode", ["--serial",
                                  pytest.param("--workers=2", marks=pytest.mark.slow)])
def test_kill_client_then_resume_bitwise_identical(tmp_path, mode):
    """SIGKILL of the client after its 6th stored task (fault hook ``task_written:6``: the same
    logical moment on a fast or a loaded machine), then --resume."""
    spec = write_spec(tmp_path / "s.toml", spec_dict(**SLOW))
    ref = tmp_path / "ref.zarr"
    cli("run", spec, "--out", ref, "--serial", "--no-progress", check=True)
    out = tmp_path / "out.zarr"
    proc = _start(spec, out, mode, fault="task_written:6:SIGKILL")
    proc.wait(300)
    assert proc.returncode == -signal.SIGKILL
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # what is left of its cluster
    except ProcessLookupError:
        pass
    n_done = int(ZarrStore(out).done().sum())
    assert n_done < 40
    assert (tmp_path / "out.zarr.lock").exists()  # record left by the killed run (not held)
    res = cli("run", spec, "--out", out)  # without --resume: refused
    assert res.returncode == 2 and "--resume" in res.stderr
    res = cli("run", spec, "--out", out, "--resume", "--serial", "--no-progress", check=True)
    assert f"ran {40 - n_done}/40 tasks" in res.stdout
    assert_stores_equal(arrays(ref), arrays(out))
    assert not (tmp_path / "out.zarr.lock").exists()


def test_second_run_refused_while_active(tmp_path):
    """While a run holds the store's lock, a second run is refused in one line naming the holder
    (the holder here is this test process, deterministic: no race with a finishing run)."""
    spec = write_spec(tmp_path / "s.toml", spec_dict())
    out = tmp_path / "out.zarr"
    holder = ZarrStore(out)
    holder.acquire_lock()
    try:
        res = cli("run", spec, "--out", out, "--resume", "--serial")
    finally:
        holder.release_lock()
    assert res.returncode == 2
    msg = res.stderr.strip()
    assert "in use by pid" in msg and str(os.getpid()) in msg and len(msg.splitlines()) == 1
    assert not out.exists()


def test_lock_of_live_process_refused_dead_process_taken_over(tmp_path):
    spec = write_spec(tmp_path / "s.toml", spec_dict())
    out = tmp_path / "o.zarr"
    lock = tmp_path / "o.zarr.lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename, "since": "x"}))
    res = cli("run", spec, "--out", out, "--serial")
    assert res.returncode == 2 and "in use" in res.stderr and not out.exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    lock.write_text(json.dumps({"pid": int(dead), "host": os.uname().nodename, "since": "x"}))
    cli("run", spec, "--out", out, "--serial", "--no-progress", check=True)
    assert not lock.exists()
    res = cli("status", out, check=True)
    assert "4/4 tasks done" in res.stdout and "complete" in res.stdout


def test_resume_with_different_spec_refused(tmp_path):
    spec = write_spec(tmp_path / "s.toml", spec_dict())
    out = tmp_path / "o.zarr"
    cli("run", spec, "--out", out, "--serial", "--no-progress", check=True)
    other = write_spec(tmp_path / "t.toml", spec_dict(sampling={"n_samples": 6, "seed": 12}))
    res = cli("run", other, "--out", out, "--resume", "--serial")
    assert res.returncode == 2 and "different spec" in res.stderr
    res = cli("run", spec, "--out", out, "--resume", "--serial", "--no-progress", check=True)
    assert "ran 0/4 tasks" in res.stdout
