"""Regenerate the committed reference stores in data/reference/ (shrunken workflows).

    .venv/bin/python data/make_reference.py [--render-only] [NAME ...]   # default: all
    .venv/bin/python data/make_reference.py --gallery [NAME ...]

With ``--gallery`` the *full* workflows are run instead (serially, into their default stores
under data/, which git ignores; existing stores are resumed) and their figures rendered into
docs/figures/ -- the README gallery.

Each workflow of workflows/ is run serially with the overrides below (fewer samples, smaller
rings; the physics parameters are the workflow's own) into data/reference/<name>.zarr (series
workflows: data/reference/<name>/<label>.zarr), then its figure is rendered into
data/reference/figures/ (not committed; the tests render them).
The stores are the inputs of tests/test_workflows.py (query and plotting path); keep them
< 20 MB in all.  Runtime on a 2-core machine: a few minutes.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_k, "1")

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "data" / "reference"
FIGS = REF / "figures"
GALLERY = ROOT / "docs" / "figures"


def _ls(n):
    return [{"label": f"L{x}", "model": {"length": x}} for x in n]


#: workflow -> overrides (see tgsweep.sweep.workflow.load_workflow)
REFERENCE = {
    "decay_of_correlations": {"model": {"length": 32}, "sampling": {"n_samples": 8}},
    "absence_of_bec": {"sampling": {"n_samples": 4}, "series": [
        {"label": f"L{x}", "model": {"length": x}, "state": {"n_particles": x // 4}}
        for x in (16, 32, 64, 128)]},
    "superfluid_stiffness": {"sampling": {"n_samples": 6}, "series": _ls((32, 64, 128, 256))},
    "dynamical_localization": {"sampling": {"n_samples": 4},
                               "series": [{"label": f"L{x}", "model": {"sites": x}}
                                          for x in (16, 32, 64)]},
    "momentum_distribution": {"model": {"length": 16}, "state": {"n_particles": 8},
                              "sampling": {"n_samples": 6}},
    "localization_length": {"sampling": {"n_samples": 4}, "series": [
                                {"label": "anderson", "model": {"sites": 2048}},
                                {"label": "aubry_andre", "model": {"sites": 2048},
                                 "disorder": {"kind": "aubry_andre", "lam": 3.0},
                                 "grid": {"disorder.lam": [2.5, 4.0]},
                                 "observables": {"lyapunov": {"energies": [
                                     -3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0]}}},
                                {"label": "white_noise",
                                 "model": {"kind": "continuum", "length": 1024,
                                           "points_per_unit": 8},
                                 "disorder": {"kind": "white_noise", "D": 1.0},
                                 "grid": {"disorder.D": [1.0, 4.0]},
                                 "observables": {"lyapunov": {"energies": [
                                     -1.0, 0.0, 1.0, 2.0, 4.0, 6.0]}}}]},
    # the full workflow (O(M) per sample: ~30 s serial in all; the committed stores are the
    # gallery's data)
    "superfluid_stiffness_large": {"sampling": {"n_samples": 8}},
    # series members carry their own grid and observables (workflows/finite_temperature.toml)
    "finite_temperature": {"sampling": {"n_samples": 2}, "series": [
        *[{"label": f"L{x}", "model": {"sites": x},
           "grid": {"disorder.W": [0.0, 3.0], "state.temperature": [0.05, 0.15, 0.5]},
           "observables": {"condensate": {"n_modes": 2}, "energy": {}}} for x in (16, 32)],
        {"label": "xi", "model": {"sites": 120}, "sampling": {"n_samples": 1},
         "grid": {"state.temperature": [0.25, 0.5, 1.0]},
         "observables": {"hs_profile": {"sigmas": [1.0]}}},
        {"label": "stiffness", "model": {"sites": 40},
         "grid": {"disorder.W": [0.0, 3.0], "state.temperature": [0.05, 0.2, 1.0, 3.0]},
         "observables": {"stiffness": {"thetas": [1.0]}, "energy": {}, "free_energy": {}}}]},
}


def _one_chunk(over: dict) -> dict:
    """One sample chunk per grid point: fewer, larger files in the committed stores."""
    over = dict(over)
    samp = dict(over.get("sampling", {}))
    samp["samples_per_task"] = samp["n_samples"]
    over["sampling"] = samp
    return over


REFERENCE = {k: _one_chunk(v) for k, v in REFERENCE.items()}

#: per-workflow size limits (default: tgsweep.sweep.limits.Limits()).  The guard assumes N = M
#: dense orbitals; superfluid_stiffness_large's observables never make the orbitals
#: (workflows/superfluid_stiffness_large.toml: run with --max-sample-gb 128)
LIMITS = {"superfluid_stiffness_large": {"max_sample_gb": 128.0}}


def _limits(name: str):
    from tgsweep.sweep.limits import Limits

    return Limits(**LIMITS.get(name, {}))


def make(name: str, render_only: bool = False) -> list[str]:
    from tgsweep.plots.workflows import render
    from tgsweep.sweep.workflow import open_workflow, run_workflow, workflow_stores

    base = REF / f"{name}.zarr"
    os.chdir(ROOT)  # spec_source is then stored relative to the repository ("workflows/...")
    wf = Path("workflows") / f"{name}.toml"
    t0 = time.perf_counter()
    if render_only:
        stores = workflow_stores(wf, out=str(base), overrides=REFERENCE[name],
                                 limits=_limits(name))
    else:
        for p in (base, REF / name):
            if p.exists():
                shutil.rmtree(p)
        stores = run_workflow(wf, out=str(base), overrides=REFERENCE[name],
                              limits=_limits(name))
    dt = time.perf_counter() - t0
    ds = open_workflow(stores[0] if len(stores) == 1 and "series" not in REFERENCE[name]
                       else stores)
    files = render(ds, FIGS)
    print(f"{name}: {len(stores)} store(s) in {dt:.1f} s -> {', '.join(files)}", flush=True)
    return files


def gallery(name: str) -> list[str]:
    from tgsweep.plots.workflows import render
    from tgsweep.sweep.workflow import open_workflow, run_workflow

    wf = ROOT / "workflows" / f"{name}.toml"
    t0 = time.perf_counter()
    import tomllib

    is_series = "series" in tomllib.loads(wf.read_text())
    os.chdir(ROOT)  # the workflows' stores are relative to the repository root
    stores = run_workflow(wf, resume=True, limits=_limits(name))
    dt = time.perf_counter() - t0
    files = render(open_workflow(stores if is_series else stores[0]), GALLERY)
    print(f"{name}: full workflow, {len(stores)} store(s) in {dt:.1f} s -> {', '.join(files)}",
          flush=True)
    return files


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    args = sys.argv[1:]
    render_only = "--render-only" in args
    names = [a for a in args if not a.startswith("--")] or list(REFERENCE)
    for n in names:
        if "--gallery" in args:
            gallery(n)
        else:
            make(n, render_only)
