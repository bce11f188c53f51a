"""numba kernels are compiled once per machine, also when which kernels run depends on the sample.

Reference: numba's on-disk cache (``@njit(cache=True)``) writes one ``.nbc`` file per compiled
signature; a process that finds the signature in the cache loads it (a cache hit) instead of
compiling it (a cache miss), and ``Dispatcher.stats`` counts both (numba documentation,
"Cache"; ``numba.core.dispatcher``).  Compiling a signature that is already in the cache is the
waste measured here: the number of compilations reported on a machine must equal the number of
distinct signatures written to a fresh cache.  The OBDM's kernel is chosen by the particle
number (``tgsweep.core.obdm.BLOCKED_MIN_N``; grouped below, blocked from there on), so a
sweep whose grid points straddle it needs, in its workers, kernels that the client's first task
did not compile (:mod:`tgsweep.sweep.kernels`).
"""

from __future__ import annotations

import multiprocessing as mp
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tgsweep.core.obdm import BLOCKED_MIN_N
from tgsweep.sweep import parse_spec
from tgsweep.sweep.kernels import lock_compiles
from tgsweep.threads import pinned_environ

from _sweep_util import spec_dict, write_spec

KERNEL_SOURCE = textwrap.dedent("""
    import numpy as np
    from numba import njit

    @njit(cache=True)
    def tri(x):
        s = 0.0
        for i in range(x.size):
            for j in range(i + 1):
                s += x[i] * x[j]
        return s
    """)


def _compile_in_child(where: str, barrier, locked: bool, out):
    """Import the module ``lockk`` from ``where`` (``$NUMBA_CACHE_DIR`` is a fresh cache), meet
    the others at the barrier, then call its kernel: one compilation or one cache load."""
    sys.path.insert(0, where)
    import numpy as np

    import lockk

    if locked:
        lock_compiles(lockk.tri)
    barrier.wait()
    lockk.tri(np.arange(5.0))
    st = lockk.tri.stats
    out.put((sum(st.cache_misses.values()), sum(st.cache_hits.values())))


@pytest.mark.parametrize("n", [3])
def test_processes_compiling_one_kernel_at_once_compile_it_once(tmp_path, n, monkeypatch):
    """n processes call the same uncached kernel at the same moment (a barrier): under the
    machine lock exactly one compiles it (one cache miss) and the others load it (n - 1 hits),
    whatever the order in which they reach the lock."""
    (tmp_path / "lockk.py").write_text(KERNEL_SOURCE)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))  # read as numba loads
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_compile_in_child,
                         args=(str(tmp_path), barrier, True, out))
             for _ in range(n)]
    for p in procs:
        p.start()
    res = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sorted(res) == [(0, 1)] * (n - 1) + [(1, 0)], res
    assert len(list((tmp_path / "cache").rglob("*.nbc"))) == 1


def _straddling_spec(tmp_path: Path) -> Path:
    """Lattice, L = 80, weak disorder, grid over mu: with the band -2 cos k, about
    80 * arccos(0.9) / pi = 11 particles at mu = -1.8 (grouped OBDM kernel) and
    80 * arccos(-0.25) / pi = 46 at mu = 0.5 (blocked kernel); 2 tasks per point, so the
    workers get both tasks of the second point (the client computes the first point's two)."""
    d = spec_dict(model={"kind": "lattice", "sites": 80},
                  disorder={"kind": "anderson", "W": 0.5},
                  grid={"state.mu": [-1.8, 0.5]},
                  sampling={"n_samples": 4, "seed": 3, "samples_per_task": 2},
                  observables={"condensate": {"n_modes": 2}})
    parse_spec(d)
    return write_spec(tmp_path / "s.toml", d)


@pytest.mark.slow
def test_sample_dependent_kernels_compiled_once_per_machine(tmp_path, monkeypatch):
    """Fresh numba cache, 2 worker processes, grid points on both sides of BLOCKED_MIN_N: the
    client compiles what the first point needs (reported on stderr), the workers compile the
    blocked kernel's family (reported on stdout), and client + workers together compiled
    exactly as many signatures as the cache holds: none twice (before the machine lock, both
    workers compiled the blocked family, 15 signatures each)."""
    assert 12 < BLOCKED_MIN_N <= 44
    cache = tmp_path / "numba-cache"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    res = subprocess.run([sys.executable, "-m", "tgsweep.cli", "run",
                          str(_straddling_spec(tmp_path)), "--out", str(tmp_path / "o.zarr"),
                          "--workers", "2"],
                         capture_output=True, text=True, env=pinned_environ(), timeout=1200)
    assert res.returncode == 0, res.stderr  # (compiling ~30 kernels: minutes on a loaded machine)
    client = re.search(r"compiling kernels, first run only … \d+ s \((\d+) kernels", res.stderr)
    assert client, res.stderr
    workers = re.search(r"workers compiled (\d+) kernels", res.stdout)
    assert workers, res.stdout  # the blocked family is needed by the workers alone
    on_disk = len(list(cache.rglob("*.nbc")))
    assert int(client.group(1)) + int(workers.group(1)) == on_disk, (res.stderr, res.stdout)
    files = [p.name for p in cache.rglob("*.nbi")]
    assert any(f.startswith("_obdm_kernels.obdm_blocked") for f in files), files
    assert any(f.startswith("_obdm_kernels.obdm_grouped") for f in files), files
