"""Store integrity: atomic creation, kills at any moment, damaged files, the run lock.

References (the properties are the data-safety rules of the sweep engine, README "Sweeps"):
a run killed at any moment (SIGKILL, SIGTERM, SIGINT, or a full disk) and then resumed with
``--resume`` leaves a store bitwise identical to an uninterrupted run; a missing, truncated or
bit-flipped shard, status chunk, coordinate or whole array is reported by ``status --verify``
(Zarr v3 sharding with CRC32C checksums, zarr-specs "sharding_indexed" and "crc32c" codecs) and
recomputed by ``--resume``; summaries never average fill values.  Faults are injected at named
steps (tgsweep.sweep.faults), never by timing.  The runs execute ``tgsweep.cli.main`` in forked
children of the test process (no interpreter start-up per run).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from tgsweep.sweep import parse_spec
from tgsweep.sweep.store import ZarrStore, open_dataset, shard_plan
from tgsweep.sweep.lock import RunLock, StoreLocked

from _sweep_util import arrays, assert_stores_equal, spec_dict, write_spec

#: 2 grid points x 6 tasks of 2 samples; shards of 2 tasks (3 per point) with this shard size
SPEC = spec_dict(sampling={"n_samples": 12, "seed": 11, "samples_per_task": 2})
SHARD_BYTES = "1000"
CTX = mp.get_context("fork")


def _child(argv, fault, errfile, steps_file):
    os.environ.pop("TGSWEEP_FAULT", None)
    if fault:
        os.environ["TGSWEEP_FAULT"] = fault
    fd = os.open(errfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 2)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    from tgsweep import cli
    from tgsweep.sweep import faults

    faults.reset_counts()
    code = 3
    try:
        code = cli.main(argv)
    finally:
        if steps_file:
            Path(steps_file).write_text(json.dumps(faults.fault_steps()))
        sys.stderr.flush()
        os._exit(code)


def run_cli(tmp, *argv, fault=None, steps=False):
    """``tgsweep ARGV`` in a forked child; returns (exit code, stderr, steps reached or None)."""
    err = Path(tmp) / f"err-{os.getpid()}-{random.random()}.txt"
    sf = str(err) + ".steps" if steps else None
    p = CTX.Process(target=_child, args=([str(a) for a in argv], fault, str(err), sf))
    p.start()
    p.join(300)
    assert p.exitcode is not None, "run hung"
    reached = json.loads(Path(sf).read_text()) if steps and Path(sf).exists() else None
    return p.exitcode, err.read_text(), reached


def summary_arrays(path):
    ds = open_dataset(path, group="summary")
    return {k: np.asarray(v.values) for k, v in ds.data_vars.items()}


_ENV = {"TGSWEEP_SHARD_BYTES": SHARD_BYTES, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def _module_env():
    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update(_ENV)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def reference(_module_env, tmp_path_factory):
    """One uninterrupted run of SPEC (and the fault steps it reached)."""
    tmp = tmp_path_factory.mktemp("ref")
    spec = write_spec(tmp / "s.toml", SPEC)
    ref = tmp / "ref.zarr"
    code, err, steps = run_cli(tmp, "run", spec, "--out", ref, "--serial", "--no-progress",
                               steps=True)
    assert code == 0, err
    return ref, steps


@pytest.fixture
def env(_module_env, tmp_path):
    return tmp_path, write_spec(tmp_path / "s.toml", SPEC)


def _kill_then_resume(tmp, spec, ref, fault, name):
    out = tmp / f"{name}.zarr"
    code, err, _ = run_cli(tmp, "run", spec, "--out", out, "--serial", "--no-progress",
                           fault=fault)
    assert code != 0, f"{fault}: the fault did not fire"
    if fault.endswith("ENOSPC"):
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "disk full" in lines[0] and "--resume" in lines[0], err
    code, err, _ = run_cli(tmp, "run", spec, "--out", out, "--serial", "--no-progress",
                           "--resume")
    assert code == 0, f"{fault}: resume failed: {err}"
    assert_stores_equal(arrays(ref), arrays(out))
    assert_stores_equal(summary_arrays(ref), summary_arrays(out))
    assert not (tmp / f"{name}.zarr.lock").exists()
    return out


def test_plan_of_the_test_spec_has_partial_shards(env):
    """The layout used below really has several shards per grid point (merges are exercised)."""
    plan = shard_plan(parse_spec(SPEC), int(SHARD_BYTES))
    assert plan.tasks == 2 and plan.counts == (2, 3)


# ------------------------------------------------------------------ defect 1: creation window
@pytest.mark.parametrize("fault", ["store_array_created:3:SIGKILL", "store_renaming:1:SIGTERM",
                                   "store_array_created:7:SIGINT", "store_creating:1:ENOSPC"])
def test_interrupted_creation_leaves_no_store_and_rerun_completes(env, reference, fault):
    """A kill while the store is being created leaves no store (it is built aside and renamed):
    status says so in one line, a plain rerun creates it, and the result equals the reference."""
    tmp, spec = env
    ref, _ = reference
    out = tmp / "c.zarr"
    code, err, _ = run_cli(tmp, "run", spec, "--out", out, "--serial", "--no-progress",
                           fault=fault)
    assert code != 0
    assert not out.exists()
    code, err, _ = run_cli(tmp, "status", out)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "tgsweep: error" in err
    code, err, _ = run_cli(tmp, "run", spec, "--out", out, "--serial", "--no-progress")
    assert code == 0, err
    assert_stores_equal(arrays(ref), arrays(out))
    assert not list(tmp.glob(".c.zarr.creating-*"))  # leftovers cleaned


def test_kill_right_after_creation_then_resume(env, reference):
    tmp, spec = env
    ref, _ = reference
    out = _kill_then_resume(tmp, spec, ref, "store_created:1:SIGKILL", "k")
    assert out.exists()


# ------------------------------------------------------------------ defect 4: deterministic kill
def test_kill_after_k_tasks_then_resume_bitwise_identical(env, reference):
    """SIGKILL after the 7th task was handed to the store: stored tasks are kept, the rest (and
    the buffered ones) recomputed; plain rerun refused, --resume bitwise identical."""
    tmp, spec = env
    ref, _ = reference
    out = tmp / "t.zarr"
    code, _, _ = run_cli(tmp, "run", spec, "--out", out, "--serial", "--no-progress",
                         fault="task_written:7")
    assert code == -9
    done = int(ZarrStore(out).done().sum())
    assert 0 < done < 12  # the shards completed before the kill are stored
    code, err, _ = run_cli(tmp, "run", spec, "--out", out, "--serial")
    assert code == 2 and "--resume" in err
    code, err, _ = run_cli(tmp, "run", spec, "--out", out, "--serial", "--no-progress",
                           "--resume")
    assert code == 0, err
    assert_stores_equal(arrays(ref), arrays(out))


@pytest.mark.slow
def test_kill_at_random_moments_property(env, reference):
    """Property: for 24 moments drawn (fixed seed) from every step the uninterrupted run reaches
    -- creation, each task, inside shard writes, the summary write -- and a random action among
    SIGKILL / SIGTERM / SIGINT / ENOSPC, kill-then-resume ends bitwise identical (data and
    summary).  The creation window and the summary write are always among them."""
    tmp, spec = env
    ref, steps = reference
    moments = [(s, k) for s, n in sorted(steps.items()) for k in range(1, n + 1)]
    assert len(moments) >= 40
    rng = random.Random(20240611)
    must = [("store_array_created", 2), ("store_renaming", 1), ("summary_started", 1),
            ("summary_renaming", 1), ("summary_written", 1)]
    chosen = must + rng.sample([m for m in moments if m not in must], 19)
    actions = ["SIGKILL", "SIGTERM", "SIGINT", "ENOSPC"]
    for i, (step, k) in enumerate(chosen):
        _kill_then_resume(tmp, spec, ref, f"{step}:{k}:{rng.choice(actions)}", f"m{i}")


# ------------------------------------------------------------------ defect 3: damaged files
def _flip(path: Path, at: int = 7):
    b = bytearray(path.read_bytes())
    b[at % len(b)] ^= 0x10
    path.write_bytes(bytes(b))


DAMAGE = {
    "missing data shard": lambda p: (p / "density/c/0/1/0").unlink(),
    "truncated data shard": lambda p: os.truncate(p / "energy/c/1/2", 10),
    "flipped byte in data": lambda p: _flip(p / "lambda0/c/0/0"),
    "missing status shard": lambda p: (p / "status/c/1/0").unlink(),
    "missing integer shard": lambda p: (p / "n_particles/c/0/2").unlink(),
    "missing coordinate chunk": lambda p: (p / "disorder_W/c/0").unlink(),
    "flipped coordinate": lambda p: _flip(p / "disorder_W/c/0", 5),
    "whole array deleted": lambda p: shutil.rmtree(p / "occupations"),
    "missing done chunk": lambda p: (p / "done/c/0/1").unlink(),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damage_detected_by_verify_and_repaired_by_resume(env, reference, case):
    tmp, spec = env
    ref, _ = reference
    out = tmp / "d.zarr"
    shutil.copytree(ref, out)
    DAMAGE[case](out)
    code, err, _ = run_cli(tmp, "status", out, "--verify")
    assert code == 1, f"{case}: not detected"
    from tgsweep.sweep.report import verify_text

    text, ok = verify_text(out)
    assert not ok and "damaged" in text
    code, err, _ = run_cli(tmp, "run", spec, "--out", out, "--serial", "--no-progress",
                           "--resume")
    assert code == 0, err
    assert verify_text(out)[1]
    assert_stores_equal(arrays(ref), arrays(out))
    assert_stores_equal(summary_arrays(ref), summary_arrays(out))


def test_summary_never_averages_fill_values(env, reference):
    """With a data shard deleted (before any repair), the summary of that variable uses only the
    samples whose values are present: the mean over the remaining samples, n_valid per variable
    (main averaged the fill value -1 of n_particles into its mean)."""
    tmp, spec = env
    ref, _ = reference
    out = tmp / "f.zarr"
    shutil.copytree(ref, out)
    (out / "n_particles/c/0/1").unlink()  # samples 4..7 of point 0
    (out / "lambda0/c/1/0").unlink()  # samples 0..3 of point 1
    s = parse_spec(SPEC)
    summ = ZarrStore(out).summary_dataset(s)
    full = arrays(ref)
    keep = np.r_[0:4, 8:12]
    assert summ["n_particles_n_valid"].values.tolist() == [8, 12]
    assert summ["n_particles_mean"].values[0] == pytest.approx(full["n_particles"][0, keep].mean(),
                                                               rel=1e-14)
    assert summ["lambda0_n_valid"].values.tolist() == [12, 8]
    assert summ["lambda0_mean"].values[1] == pytest.approx(full["lambda0"][1, 4:].mean(),
                                                           rel=1e-14)
    assert summ["n_valid"].values.tolist() == [12, 12]


# ------------------------------------------------------------------ defect 2: the lock
def _racer(path, barrier, hold, results, i, linked):
    if linked:  # the fallback protocol for file systems without flock
        lock = RunLock(path)
        lock._try_flock = lambda: None  # noqa: SLF001 - force the fallback
    else:  # the store's own lock (STORE.lock)
        store = ZarrStore(str(path)[:-len(".lock")])
        lock = type("L", (), {"acquire": store.acquire_lock, "release": store.release_lock})()
    try:
        barrier.wait()
        try:
            lock.acquire()
            results.put((i, True))
        except StoreLocked:
            results.put((i, False))
        hold.wait()  # every racer has tried while the holder still holds
        lock.release()
    except BaseException as exc:  # noqa: BLE001 - reported, never a hang
        results.put((i, repr(exc)))
    os._exit(0)


@pytest.mark.parametrize("linked", [False, True], ids=["flock", "link-fallback"])
def test_lock_exactly_one_holder_in_200_races(tmp_path, linked):
    """200 races of 2-4 processes for one lock (half of them over a stale lock of a dead pid):
    exactly one holder every time (main: two holders in 43/100 races)."""
    rng = random.Random(7)
    dead = CTX.Process(target=os._exit, args=(0,))
    dead.start()
    dead.join()
    for r in range(200):
        n = rng.choice([2, 3, 4])
        path = tmp_path / f"r{r}.zarr.lock"
        if r % 2:
            path.write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename,
                                        "since": "x"}))
        barrier, hold, results = CTX.Barrier(n), CTX.Barrier(n), CTX.SimpleQueue()
        procs = [CTX.Process(target=_racer, args=(path, barrier, hold, results, i, linked))
                 for i in range(n)]
        for p in procs:
            p.start()
        got = [results.get() for _ in range(n)]
        for p in procs:
            p.join(60)
        assert all(isinstance(ok, bool) for _, ok in got), got
        assert sum(ok for _, ok in got) == 1, f"race {r}: {got}"
        assert not path.exists()


def test_lock_record_names_the_holder_and_dies_with_it(tmp_path):
    """The lock file carries pid/host for humans; the holder's death frees it (no stale lock)."""
    path = tmp_path / "x.zarr.lock"
    a = RunLock(path)
    a.acquire()
    rec = json.loads(path.read_text())
    assert rec["pid"] == os.getpid()
    with pytest.raises(StoreLocked, match=f"in use by pid {os.getpid()}"):
        RunLock(path).acquire()
    a.release()
    assert not path.exists()

    def hold_and_die():
        RunLock(path).acquire()
        os.kill(os.getpid(), 9)

    p = CTX.Process(target=hold_and_die)
    p.start()
    p.join()
    assert path.exists()  # the record stays behind ...
    b = RunLock(path)
    b.acquire()  # ... but the OS lock died with its holder
    b.release()


def test_out_is_a_file_or_lock_is_a_directory(env):
    tmp, spec = env
    f = tmp / "file.zarr"
    f.write_text("x")
    code, err, _ = run_cli(tmp, "run", spec, "--out", f, "--serial")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--out" in err
    (tmp / "o.zarr.lock").mkdir()
    code, err, _ = run_cli(tmp, "run", spec, "--out", tmp / "o.zarr", "--serial")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "lock" in err
    assert not (tmp / "o.zarr").exists()
