"""Start-up of a small `tgsweep run`: it imports and initializes only what its spec needs.

* The Sturm count of a small ring (M <= ``SMALL_COUNT_MAX``) runs the compiled kernel's own
  Python source, so a small run loads no numba kernel (numba's CPU-target initialization costs
  ~0.3 s per process).  Its counts must equal the kernel's bit for bit -- at energies on and one
  ulp beside every eigenvalue -- and, away from the eigenvalues, the number of eigenvalues below
  E from LAPACK's dense ``eigvalsh`` of the same matrix (Sylvester's law of inertia: the
  negative pivots of an LDL^H factorization of H - E count the eigenvalues below E; Golub & Van
  Loan, *Matrix Computations*, 4th ed. 2013, sec. 8.4.1).
* A serial run of a spec with only ``energy`` on a 12-site lattice (``benchmarks/bench_sweep.py``,
  start-up section) imports no other observable module, no scipy.optimize / scipy.special /
  scipy.integrate, no dask, distributed or xarray, and loads no numba kernel -- and still
  stores every sample, with the energies of the in-process ground states.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tgsweep.core import _spectrum_kernels as K
from tgsweep.core import spectrum as S
from tgsweep.models.ring import Ring

ROOT = Path(__file__).resolve().parents[1]

TRIVIAL = """\
[model]
kind = "lattice"
sites = 12
[disorder]
kind = "anderson"
W = 1.0
[state]
mu = 0.0
[sampling]
n_samples = 8
seed = 1
samples_per_task = 1
[observables.energy]
"""


def _rings(rng, n):
    for _ in range(n):
        m = int(rng.integers(3, S.SMALL_COUNT_MAX + 1))
        scale = float(rng.choice([0.0, 1e-9, 1.0, 8.0]))  # 0: clean ring, degenerate levels
        ring = Ring.lattice(scale * rng.uniform(-1.0, 1.0, m))
        for phi in (0.0, np.pi, float(rng.uniform(-np.pi, np.pi))):
            yield ring, phi


def test_small_ring_count_is_the_kernel_count_bit_for_bit():
    rng = np.random.default_rng(20261201)
    n = 0
    for ring, phi in _rings(rng, 300):
        w = np.linalg.eigvalsh(ring.matrix(phi))
        energies = np.concatenate([w, np.nextafter(w, np.inf), np.nextafter(w, -np.inf),
                                   rng.uniform(w[0] - 1, w[-1] + 1, 4)])
        args = (ring.diag, ring.hopping, S._corner(ring, phi))
        for e in energies:
            kernel = K.ring_count_below(*args, float(e), S._pivmin(ring))
            python = S._count_below_python(*args, float(e), S._pivmin(ring))
            assert python == kernel, (ring.n_grid, phi, e)
            n += 1
    assert n > 10000


def test_small_ring_count_against_lapack_inertia():
    rng = np.random.default_rng(7)
    for ring, phi in _rings(rng, 200):
        w = np.linalg.eigvalsh(ring.matrix(phi))
        for e in rng.uniform(w[0] - 1, w[-1] + 1, 6):
            if np.min(np.abs(w - e)) < 1e-8:  # within LAPACK's error of an eigenvalue
                continue
            assert S.count_below(ring, phi, e) == int(np.sum(w < e))


def test_count_below_takes_the_python_path_by_size_only(monkeypatch):
    """M <= SMALL_COUNT_MAX never calls the kernel, larger rings always do (same answers)."""
    rng = np.random.default_rng(3)
    small = Ring.lattice(rng.uniform(-1, 1, S.SMALL_COUNT_MAX))
    large = Ring.lattice(rng.uniform(-1, 1, S.SMALL_COUNT_MAX + 1))
    expect = [S.count_below(r, 0.3, 0.1) for r in (small, large)]
    calls = []
    real = K.ring_count_below
    monkeypatch.setattr(K, "ring_count_below", lambda *a: calls.append(a) or real(*a))
    assert [S.count_below(r, 0.3, 0.1) for r in (small, large)] == expect
    assert len(calls) == 1 and calls[0][0].size == S.SMALL_COUNT_MAX + 1


PROBE = textwrap.dedent("""\
    import json, sys
    from tgsweep import cli
    rc = cli.main(["run", sys.argv[1], "--out", sys.argv[2], "--no-progress", "--serial"])
    from tgsweep.sweep.kernels import dispatchers
    loaded = sorted(n for n, d in dispatchers().items() if d.overloads)
    print(json.dumps({"rc": rc, "modules": sorted(sys.modules), "kernels": loaded}))
""")

NOT_NEEDED = ("scipy.optimize", "scipy.special", "scipy.integrate",
              "dask", "distributed", "xarray", "matplotlib",
              *(f"tgsweep.observables.{m}" for m in ("correlations", "localization",
                                                     "superfluid", "thermal", "dynamics",
                                                     "entanglement", "interacting")),
              "tgsweep.plots")


def test_trivial_serial_run_imports_only_what_it_needs(tmp_path):
    spec = tmp_path / "trivial.toml"
    spec.write_text(TRIVIAL)
    store = tmp_path / "t.zarr"
    out = subprocess.run([sys.executable, "-c", PROBE, str(spec), str(store)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["rc"] == 0
    modules = set(res["modules"])
    assert "tgsweep.observables.basic" in modules  # the probe sees what was imported
    imported = sorted(m for m in modules if m.split(".")[0] in ("scipy", "dask", "distributed",
                                                               "xarray", "matplotlib", "tgsweep")
                      and any(m == n or m.startswith(n + ".") for n in NOT_NEEDED))
    assert not imported, f"the trivial run imported {imported}"
    assert res["kernels"] == [], f"the trivial run loaded numba kernels {res['kernels']}"

    # and it stored the right thing: every sample ok, with the TG ground state at mu = 0 from
    # LAPACK's dense spectra (N_mu = min(N+, N-) of Seiringer & Warzel, New J. Phys. 18, 035002
    # (2016); orbitals of the fermion twist pi (N - 1); README "Physics and conventions")
    import zarr

    from tgsweep.models.ring import fermion_twist
    from tgsweep.sweep import load_spec
    from tgsweep.sweep.tasks import draw_potential, make_ring, sample_rng

    g = zarr.open_group(str(store), mode="r")
    assert (g["status"][...] == 1).all()
    parsed = load_spec(spec)
    params = parsed.point_params(0)
    for s in range(parsed.n_samples):
        pot = draw_potential(params["disorder"], parsed.geometry(), sample_rng(parsed.seed, 0, s))
        ring = make_ring(params["model"], pot)
        n = min(int(np.sum(np.linalg.eigvalsh(ring.matrix(phi)) <= 0.0)) for phi in (0, np.pi))
        w = np.linalg.eigvalsh(ring.matrix(fermion_twist(0.0, n)))
        assert g["n_particles"][s] == n
        assert g["energy"][s] == pytest.approx(np.sum(w[:n]), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("pkg", ["tgsweep.observables", "tgsweep.sweep"])
def test_lazy_names_resolve(pkg):
    """Every public name of a lazily loaded package resolves (``from pkg import *``)."""
    out = subprocess.run([sys.executable, "-c", f"from {pkg} import *"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr


def test_observable_index_matches_the_declarations():
    """``DECLARING_MODULES`` (what the registry loads by name) lists every module of
    tgsweep/observables that declares observables, with exactly its declarations in order."""
    import importlib

    import tgsweep.observables as O

    pkg = ROOT / "tgsweep" / "observables"
    declaring = sorted(p.stem for p in pkg.glob("*.py") if "\nOBSERVABLES = " in p.read_text())
    assert sorted(O.DECLARING_MODULES) == declaring
    for mod, names in O.DECLARING_MODULES.items():
        m = importlib.import_module(f"tgsweep.observables.{mod}")
        assert names == tuple(o.name for o in m.OBSERVABLES)
        assert all(O.declared(n) is o for n, o in zip(names, m.OBSERVABLES))
    assert list(O.OBSERVABLES) == O.names()
    with pytest.raises(KeyError):
        O.declared("no_such_observable")


_ENTRY = """\
import atexit, sys, threading
from pathlib import Path
from tgsweep.cli import entry
flag = Path(sys.argv[1])
atexit.register(lambda: flag.write_text("atexit ran"))
if sys.argv[2] == "thread":  # a non-daemon thread alive when the command returns: it waits
    # for the main thread to finish, which only the ordinary exit does (threading._shutdown)
    def wait_for_main():
        threading.main_thread().join()
        flag.with_suffix(".joined").write_text("joined")
    threading.Thread(target=wait_for_main, daemon=False).start()
print("before the command", flush=False)
entry(sys.argv[3:])
"""


@pytest.mark.parametrize("case", ["plain", "thread"])
def test_entry_exit(tmp_path, case):
    """The console command ends the process without Python's teardown (os._exit) only after
    the atexit handlers ran and standard output was flushed; with a live non-daemon thread it
    takes the ordinary exit, which waits for that thread.  The exit code is the command's, and
    bad input still exits 2 with one line (SystemExit leaves through the ordinary exit)."""
    store = tmp_path / "s.zarr"
    spec = tmp_path / "t.toml"
    spec.write_text(TRIVIAL)
    flag = tmp_path / "flag.txt"
    script = tmp_path / "entry.py"
    script.write_text(_ENTRY)

    def call(*argv):
        return subprocess.run([sys.executable, str(script), str(flag), case, *argv],
                              capture_output=True, text=True, cwd=ROOT, timeout=300)

    r = call("run", str(spec), "--out", str(store), "--no-progress", "--serial")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("before the command")  # the unflushed line was flushed
    assert "8/8 tasks" in r.stdout
    assert flag.read_text() == "atexit ran"
    if case == "thread":
        assert flag.with_suffix(".joined").read_text() == "joined"
    flag.unlink()
    r = call("status", str(store))
    assert r.returncode == 0 and "8/8" in r.stdout, r.stdout + r.stderr
    assert flag.read_text() == "atexit ran"
    r = call("status", str(tmp_path / "missing.zarr"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
