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

from tgsweep.sweep import ZarrStore, faults

from _sweep_util import PIN, arrays, assert_stores_equal, cli, spec_dict, write_spec

SLOW = dict(model={"kind": "lattice", "sites": 48}, grid={"disorder.W": [1.0, 2.0]},
            sampling={"n_samples": 60, "seed": 5, "samples_per_task": 3},
            observables={"energy": {}, "condensate": {}, "density": {}})


def _start(spec, out, *extra, fault=None, fault_dir=None):
    env = {**os.environ, **PIN}
    if fault:
        env["TGSWEEP_FAULT"] = fault
    if fault_dir:
        env["TGSWEEP_FAULT_DIR"] = str(fault_dir)
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


def _wait_paused(fault_dir, step, proc):
    """Block until ``proc`` announces it is held at ``step`` (fault action PAUSE); its pid."""
    marker = fault_dir / f"{step}.paused"
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"run ended (rc {proc.returncode}) before pausing at {step}: "
                                 + proc.stderr.read())
        try:
            proc.wait(0.02)  # the only wait: for the announced event, not for a guessed delay
        except subprocess.TimeoutExpired:
            pass
    return int(marker.read_text())


def test_second_run_refused_while_active(tmp_path):
    """A second run on a store that a live run is writing is refused in one line naming the
    first run's pid; the first run is unaffected and completes.  The first run is held after its
    first stored task by the fault hook (``task_written:1:PAUSE``), so the second run always
    meets an active run, on a fast or a loaded machine (so the small spec suffices)."""
    spec = write_spec(tmp_path / "s.toml", spec_dict())
    out = tmp_path / "out.zarr"
    fault_dir = tmp_path / "faults"
    fault_dir.mkdir()
    proc = _start(spec, out, "--serial", fault="task_written:1:PAUSE", fault_dir=fault_dir)
    try:
        assert _wait_paused(fault_dir, "task_written", proc) == proc.pid
        res = cli("run", spec, "--out", out, "--resume", "--serial")
        (fault_dir / "task_written.resume").touch()
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert res.returncode == 2
    msg = res.stderr.strip()
    assert "in use by pid" in msg and str(proc.pid) in msg and len(msg.splitlines()) == 1
    assert proc.returncode == 0, err
    assert ZarrStore(out).done().all()
    assert not (tmp_path / "out.zarr.lock").exists()


def test_second_run_refused_while_lock_held(tmp_path):
    """While a run holds the store's lock, a second run is refused in one line naming the holder
    (the holder here is this test process) and creates nothing."""
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


def test_fault_hook_pause_needs_its_folder_and_unknown_actions_refused(monkeypatch):
    """The hook itself: PAUSE without TGSWEEP_FAULT_DIR and an unknown action are refused with a
    message naming the variable (never a silent no-op that would let a fault test pass)."""
    faults.reset_counts()
    monkeypatch.delenv("TGSWEEP_FAULT_DIR", raising=False)
    monkeypatch.setenv("TGSWEEP_FAULT", "hook_probe:1:PAUSE")
    with pytest.raises(ValueError, match="TGSWEEP_FAULT_DIR"):
        faults.fault_point("hook_probe")
    monkeypatch.setenv("TGSWEEP_FAULT", "hook_probe:1:SLEEP")
    with pytest.raises(ValueError, match="TGSWEEP_FAULT: action must be one of"):
        faults.fault_point("hook_probe")
    faults.reset_counts()
