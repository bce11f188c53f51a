"""The interaction axis through the sweep engine: spec validation, stored values = direct
recomputation, and a small DMRG workflow through progress, kill -9 + resume and SLURM.

References: the per-sample seed rule (SeedSequence keyed by (seed, point, sample)) and the
direct API (tgsweep.interacting_ground_state, interacting_stiffness); bitwise identity of a
resumed run with an uninterrupted one (README "Data safety").
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

import tgsweep
from tgsweep.observables import condensate, interacting_stiffness
from tgsweep.sweep import ZarrStore, open_dataset, run_sweep
from tgsweep.sweep.spec import SpecError, parse_spec
from tgsweep.sweep.tasks import draw_potential, sample_rng

from _sweep_util import PIN, arrays, assert_stores_equal, cli, write_spec

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _spec(interaction="ideal", **model):
    d = {"model": {"kind": "lattice", "sites": 10, "interaction": interaction, **model},
         "disorder": {"kind": "anderson", "W": 2.0},
         "state": {"n_particles": 4},
         "grid": {"disorder.W": [1.0, 3.0]},
         "sampling": {"n_samples": 3, "seed": 21, "samples_per_task": 2},
         "observables": {"energy": {}, "condensate": {"n_modes": 2},
                         "twist_stiffness": {"thetas": [0.5, 1.0]}}}
    return d


@pytest.mark.parametrize("change, field", [
    (lambda d: d["model"].update(interaction="soft"), "model.interaction"),
    (lambda d: d["model"].update(interaction="mean_field"), "model.g"),
    (lambda d: d["model"].update(g=-1.0, interaction="mean_field"), "model.g"),
    (lambda d: d["model"].update(U=2.0), "model.U"),
    (lambda d: d["model"].update(interaction="bose_hubbard", U=1.0, n_max=0), "model.n_max"),
    (lambda d: d.update(model={"kind": "continuum", "length": 4, "points_per_unit": 4,
                               "interaction": "bose_hubbard", "U": 1.0}), "model.interaction"),
    (lambda d: d.update(state={"mu": 0.0}), "state.mu"),
    (lambda d: d["observables"].update(stiffness={}), "observables.stiffness"),
    (lambda d: d["observables"].update(luttinger={}), "observables.luttinger"),
    (lambda d: d["grid"].update({"model.interaction": ["ideal", "mean_field"]}),
     "grid.model.interaction"),
])
def test_bad_interaction_specs_name_the_field(change, field):
    """Bad input: one error naming the field (house rule), before anything runs."""
    d = _spec()
    change(d)
    with pytest.raises(SpecError) as exc:
        parse_spec(d)
    assert exc.value.field == field, str(exc.value)


def test_bad_interaction_spec_cli_exit_2_nothing_written(tmp_path):
    """The CLI turns the SpecError into one line on stderr, exit code 2, no store."""
    d = _spec("mean_field")
    spec = write_spec(tmp_path / "s.toml", d)
    res = cli("run", spec, "--out", tmp_path / "o.zarr", "--serial")
    assert res.returncode == 2 and "model.g" in res.stderr
    assert not (tmp_path / "o.zarr").exists()


@pytest.mark.parametrize("interaction, extra", [("ideal", {}), ("mean_field", {"g": 1.5}),
                                                ("hard_core", {})])
def test_stored_samples_equal_direct_computation(tmp_path, interaction, extra):
    """Every stored sample (energy, lambda_0, rho_s(theta)) equals the direct API on the ring
    drawn from SeedSequence(seed, spawn_key=(p, s)); interacting models carry the solver
    record (converged, residual)."""
    d = _spec(interaction, **extra)
    run_sweep(parse_spec(d), tmp_path / "o.zarr", progress=False)
    ds = open_dataset(tmp_path / "o.zarr")
    assert np.all(ds.status.values == 1)
    parsed = parse_spec(d)
    for p, w in enumerate((1.0, 3.0)):
        for s in range(3):
            pot = draw_potential({"kind": "anderson", "W": w}, parsed.geometry(),
                                 sample_rng(21, p, s))
            ring = tgsweep.Ring.lattice(pot)
            st = tgsweep.interacting_ground_state(ring, 4, model=interaction, **extra)
            rho = interacting_stiffness(ring, 4, [0.5, 1.0], model=interaction, **extra)
            assert ds.energy.values[p, s] == pytest.approx(st.energy, rel=1e-12, abs=1e-12)
            assert ds.lambda0.values[p, s] == pytest.approx(condensate(st)[0], rel=1e-10)
            np.testing.assert_allclose(ds.twist_rho_s.values[p, s], rho.rho_s, rtol=1e-7)
    if interaction != "hard_core":
        assert np.all(ds.solver_converged.values == 1)
        assert np.all(ds.solver_residual.values < 1e-10)
    if interaction == "ideal":
        assert np.allclose(ds.lambda0.values, 4.0)


# ------------------------------------------------------------------------------ DMRG workflow
DMRG = {"model": {"kind": "lattice", "sites": 5, "interaction": "bose_hubbard", "U": 3.0,
                  "n_max": 2, "chi_max": 16},
        "disorder": {"kind": "anderson", "W": 1.0},
        "state": {"n_particles": 2},
        "grid": {"model.U": [1.0, 6.0]},
        "sampling": {"n_samples": 3, "seed": 4, "samples_per_task": 1},
        "observables": {"energy": {}, "condensate": {"n_modes": 2}, "luttinger": {}}}


def _start(spec, out, *extra, fault=None):
    env = {**os.environ, **PIN}
    if fault:
        env["TGSWEEP_FAULT"] = fault
        env["TGSWEEP_SHARD_BYTES"] = "1"  # one task per shard: a shard on disk is a task done
    return subprocess.Popen([sys.executable, "-W", "ignore", "-m", "tgsweep.cli", "run",
                             str(spec), "--out", str(out), "--no-progress", *extra],
                            env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.mark.slow
def test_dmrg_workflow_progress_kill_resume_bitwise(tmp_path):
    """A small Bose-Hubbard (DMRG) sweep: the progress bar reports tasks, the solver record
    (bond dimension, truncation error, energy variance) is stored per sample, and after kill -9
    of the client mid-run `--resume` recomputes only the missing tasks and yields a store
    bitwise identical to the uninterrupted run."""
    spec = write_spec(tmp_path / "s.toml", DMRG)
    ref = tmp_path / "ref.zarr"
    res = cli("run", spec, "--out", ref, "--serial", check=True)
    assert "6/6 tasks" in res.stderr  # the progress bar (lines when stderr is not a tty)
    ds = open_dataset(ref)
    assert np.all(ds.status.values == 1)
    assert np.all(ds.solver_chi.values >= 1) and np.all(ds.solver_n_max.values == 2)
    assert np.all(np.abs(ds.solver_residual.values) < 1e-4)  # sqrt(energy variance)
    # direct check of one sample against the API
    pot = draw_potential({"kind": "anderson", "W": 1.0}, {"kind": "lattice", "n_grid": 5,
                                                          "points_per_unit": 1},
                         sample_rng(4, 1, 2))
    st = tgsweep.interacting_ground_state(tgsweep.Ring.lattice(pot), 2, model="bose_hubbard",
                                          U=6.0, n_max=2, chi_max=16)
    assert ds.energy.values[1, 2] == pytest.approx(st.energy, abs=1e-10)

    out = tmp_path / "out.zarr"
    # SIGKILL of the client right after its first shard reached the disk (fault hook: the same
    # logical moment on a fast or a loaded machine)
    proc = _start(spec, out, "--serial", fault="shard_written:1:SIGKILL")
    proc.wait(300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # anything left of its process group
    except ProcessLookupError:
        pass
    n_done = int(ZarrStore(out).done().sum())
    assert 1 <= n_done < 6
    res = cli("run", spec, "--out", out, "--resume", "--serial", "--no-progress", check=True)
    assert f"ran {6 - n_done}/6 tasks" in res.stdout
    assert_stores_equal(arrays(ref), arrays(out))


@pytest.mark.slurm
def test_dmrg_workflow_on_slurm_matches_serial(tmp_path):
    """The same DMRG sweep with SLURM worker jobs (dask-jobqueue) is bitwise equal to the
    serial run (the seed rule makes placement irrelevant)."""
    if shutil.which("sbatch") is None:
        pytest.skip("SLURM not installed")
    import yaml

    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    cfg = yaml.safe_load((repo / "cluster" / "slurm.yaml").read_text())
    jq = cfg["jobqueue"]["slurm"]
    jq.update({"name": f"tgsweep-dmrg-{os.getpid()}", "memory": "2GiB",
               "walltime": "00:15:00", "scheduler-options": {"dashboard_address": ":0"}})
    jq["log-directory"] = str(tmp_path / "logs")
    (tmp_path / "slurm-test.yaml").write_text(yaml.safe_dump(cfg))
    spec = write_spec(tmp_path / "s.toml", DMRG)
    cli("run", spec, "--out", tmp_path / "ref.zarr", "--serial", "--no-progress", check=True)
    env = {**os.environ, **PIN}
    p = subprocess.run([sys.executable, "-m", "tgsweep.cli", "run", "s.toml", "--out",
                        "slurm.zarr", "--cluster", "slurm", "--jobs", "1", "--cluster-config",
                        "slurm-test.yaml", "--no-progress"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    a, b = arrays(tmp_path / "ref.zarr"), arrays(tmp_path / "slurm.zarr")
    assert_stores_equal(a, b)


@pytest.mark.slow
def test_interaction_axis_workflow_shrunken_runs_and_renders(tmp_path):
    """workflows/interaction_axis.toml, shrunken (5-site rings, 1 sample, two U values), runs
    every member through the sweep and renders its figure (3 panels + colour bar)."""
    from pathlib import Path

    from tgsweep.plots import workflows as figures
    from tgsweep.sweep import workflow

    wf = Path(__file__).resolve().parents[1] / "workflows" / "interaction_axis.toml"
    tiny = {"model": {"sites": 5}, "state": {"n_particles": 2},
            "sampling": {"n_samples": 1, "samples_per_task": 1}}
    members = workflow.load_workflow(wf)
    series = []
    for label, spec in members:
        entry = {"label": label}
        raw = spec.raw
        entry["model"] = dict(raw["model"], sites=5)
        entry["observables"] = raw["observables"]
        if "grid" in raw:
            entry["grid"] = {k: v[:2] for k, v in raw["grid"].items()}
        if label.startswith("e_"):
            entry["state"] = {"n_particles": 5}
            entry["model"]["n_max"] = 2
        series.append(entry)
    stores = workflow.run_workflow(wf, out=str(tmp_path / "ia.zarr"),
                                   overrides={**tiny, "series": series})
    ds = workflow.open_workflow(stores)
    for _, d in ds:
        assert np.all(d["status"].values == 1), d["error"].values
    files = figures.render(ds, tmp_path / "fig")
    assert [Path(f).name for f in files] == ["interaction_axis.png"]
    assert Path(files[0]).stat().st_size > 10_000
