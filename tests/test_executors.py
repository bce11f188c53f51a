"""Local workers' forkserver: forked from a single-threaded client, bitwise the serial run.

Reference: the serial run of the same spec in this process (sample s at grid point p draws
its disorder from SeedSequence(seed, spawn_key=(p, s)) and nothing else, every process
computes with one BLAS/numba thread: README "Sweeps"), and the process model of
``multiprocessing.forkserver`` (Python documentation, "Contexts and start methods": the server
exits when its last client is gone; workers are its children).  Each case runs in a fresh
interpreter, as ``tgsweep run --workers N`` does, because the choice between forking and
spawning the server depends on the threads of the process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tgsweep.sweep import parse_spec, run_sweep

from _sweep_util import PIN, arrays, assert_stores_equal, cli, spec_dict, write_spec

SPEC = spec_dict(sampling={"n_samples": 6, "seed": 11, "samples_per_task": 2})  # 2 x 3 tasks

CLIENT = """
import json, os, sys, threading
from tgsweep.sweep.executors import LocalWorkers, start_forkserver
if sys.argv[3] == "thread":  # a second thread: the server must be spawned, not forked
    stop = threading.Event()
    threading.Thread(target=stop.wait, daemon=True).start()
how = start_forkserver("processes")
from multiprocessing import forkserver
server = forkserver._forkserver._forkserver_pid
from tgsweep.sweep import load_spec, run_sweep
w = LocalWorkers(2, auto=False)
rep = run_sweep(load_spec(sys.argv[1]), sys.argv[2], w, progress=False)
parents = set()
for pid in w.get()._processes:
    with open(f"/proc/{pid}/stat") as fh:
        parents.add(int(fh.read().rsplit(")", 1)[1].split()[1]))
w.close()
print(json.dumps({"how": how, "server": server, "client": os.getpid(), "mode": rep.mode,
                  "parents": sorted(parents)}))
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ref.zarr"
    run_sweep(parse_spec(SPEC), out, progress=False)
    return arrays(out)


def _state(pid: int) -> str:
    """Process state letter from /proc ("" when the process no longer exists)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def _client(tmp_path, threads: str) -> dict:
    spec = write_spec(tmp_path / "s.toml", SPEC)
    res = subprocess.run([sys.executable, "-c", CLIENT, str(spec), str(tmp_path / "o.zarr"),
                          threads], capture_output=True, text=True, timeout=300,
                         env={**os.environ, **PIN})
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not hasattr(os, "fork") or not Path("/proc/self/stat").exists(),
                    reason="needs fork and /proc (Linux)")
@pytest.mark.parametrize("threads", ["single", "thread"])
def test_forkserver_forked_or_spawned_bitwise_and_gone(reference, tmp_path, threads):
    """A single-threaded client forks the workers' server (where multiprocessing's forkserver
    protocol is Python 3.11's; otherwise it spawns it), one with a second thread spawns it; either way the two workers are children of
    that server, the store is bitwise the serial one, and once the client has exited (its
    output pipes closed: the server held them too) the server is gone, not left running."""
    out = _client(tmp_path, threads)
    import inspect
    from multiprocessing import forkserver

    forkable = tuple(inspect.signature(forkserver.main).parameters) == (
        "listener_fd", "alive_r", "preload", "main_path", "sys_path")  # 3.11's protocol
    if sys.version_info[:2] == (3, 11):
        assert forkable
    expected = "forked" if threads == "single" and forkable else "spawned"
    assert out["how"] == expected, out
    assert out["mode"] == "2 worker processes"
    assert out["parents"] == [out["server"]], out
    assert_stores_equal(reference, arrays(tmp_path / "o.zarr"))
    assert _state(out["server"]) in ("", "Z", "X"), _state(out["server"])


def test_cli_workers_bitwise_with_forked_server(reference, tmp_path):
    """``tgsweep run --workers 2`` (which starts the server before anything else) and
    ``--dask --workers 2`` store the serial run's bytes and say where the tasks ran."""
    spec = write_spec(tmp_path / "s.toml", SPEC)
    for flags, mode in ((["--workers", "2"], "2 worker processes"),
                        (["--dask", "--workers", "2"], "2 dask workers")):
        out = tmp_path / f"{flags[0].strip('-')}.zarr"
        res = cli("run", spec, "--out", out, "--no-progress", *flags, check=True)
        assert mode in res.stdout, res.stdout
        assert_stores_equal(reference, arrays(out))


def test_pin_after_numba_import_allows_compiling():
    """A worker process whose numba was imported before the thread pin (a forkserver forked
    from the client inherits the client's numba, imported with NUMBA_NUM_THREADS unset, i.e.
    the CPU count) is pinned by ``pin_this_process`` and then compiles a new kernel: numba
    re-reads its environment at every compilation and refused with "Cannot set
    NUMBA_NUM_THREADS to a different value once the threads have been launched" when the pin
    had launched its pool under the old value (3 failed samples of a cold-cache quickstart)."""
    code = (
        "import os, numba\n"
        "from tgsweep.sweep.executors import pin_this_process\n"
        "pin_this_process()\n"
        "@numba.njit(cache=False)\n"
        "def f(x):\n"
        "    return x + 1\n"
        "print(f(1), numba.config.NUMBA_NUM_THREADS, numba.get_num_threads())\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    env["NUMBA_NUM_THREADS"] = "2"  # what numba reads at its import; the pin then sets 1
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["2", "1", "1"]
