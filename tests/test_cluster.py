"""Batch job scripts for SLURM and PBS, checked without a batch system.

Reference: dask-jobqueue's own header tests (``dask_jobqueue/tests/test_slurm.py::
test_header``, ``test_pbs.py::test_header``) and the sbatch(1) / qsub(1) directive syntax
(``#SBATCH -p/-A/-t/--mem/--cpus-per-task``, ``#PBS -q/-A/-l select=...,walltime=``).
Threads: one BLAS/numba thread per worker; numba caches node-local (no compile-cache races on
a shared filesystem).  Live SLURM runs are in tests/test_slurm.py.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("dask_jobqueue")

from dask.utils import parse_timedelta  # noqa: E402

from tgsweep.sweep import cluster as tc  # noqa: E402

CLUSTER_DIR = Path(__file__).resolve().parents[1] / "cluster"
KINDS = ("slurm", "pbs")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def _prologue_and_command(script: str) -> tuple[str, str]:
    """Split a job script into (shell lines before the worker command, worker command)."""
    lines = [ln for ln in script.splitlines() if ln.strip() and not ln.startswith("#")]
    assert "distributed.cli.dask_worker" in lines[-1]
    return "\n".join(lines[:-1]), lines[-1]


def _walltime_seconds(w: str) -> float:
    parts = [int(p) for p in w.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts
    return 3600 * h + 60 * m + s


# --------------------------------------------------------------------------- shipped files


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_config_is_valid_dask_jobqueue_config(kind):
    """Every key of ``jobqueue.<kind>`` is a key dask-jobqueue knows for that scheduler
    (reference: dask_jobqueue/jobqueue.yaml), so the file works as ~/.config/dask/jobqueue.yaml."""
    import dask_jobqueue

    ref = yaml.safe_load((Path(dask_jobqueue.__file__).parent / "jobqueue.yaml").read_text())
    ours = yaml.safe_load((CLUSTER_DIR / f"{kind}.yaml").read_text())
    unknown = set(ours["jobqueue"][kind]) - set(ref["jobqueue"][kind])
    assert not unknown, f"keys dask-jobqueue does not know for {kind}: {unknown}"
    assert set(ours) == {"jobqueue", "tgsweep"}


@pytest.mark.parametrize("kind", KINDS)
def test_lifetime_ends_before_walltime(kind):
    """worker --lifetime + --lifetime-stagger must be shorter than the job walltime, or the
    batch system kills workers mid-task (dask-jobqueue docs, 'walltime' how-to)."""
    jq, _ = tc.load_config(kind)
    args = jq["worker_extra_args"]
    lifetime = parse_timedelta(args[args.index("--lifetime") + 1])
    stagger = parse_timedelta(args[args.index("--lifetime-stagger") + 1])
    assert 0 < stagger < lifetime
    assert lifetime + stagger < _walltime_seconds(jq["walltime"])


# --------------------------------------------------------------------------- SLURM header


def test_slurm_header_defaults():
    """Directives from cluster/slurm.yaml: 1 task, cores -> --cpus-per-task, memory
    2 GiB -> --mem=2G (SLURM's G = GiB), walltime -> -t; no partition/account placeholders."""
    script = tc.job_script("slurm")
    header = [ln for ln in script.splitlines() if ln.startswith("#SBATCH")]
    assert header == [
        "#SBATCH -J tgsweep-worker",
        "#SBATCH -n 1",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --mem=2G",
        "#SBATCH -t 01:00:00",
    ]
    assert script.startswith("#!/usr/bin/env bash\n")


def test_slurm_header_overrides():
    script = tc.job_script(
        "slurm", queue="compute", account="proj123", cores=4, memory="7GB",
        walltime="02:30:00", job_extra_directives=["--qos=normal"],
    )
    header = script.splitlines()
    for line in ("#SBATCH -p compute", "#SBATCH -A proj123", "#SBATCH --cpus-per-task=4",
                 "#SBATCH --mem=7G", "#SBATCH -t 02:30:00", "#SBATCH --qos=normal"):
        assert line in header
    _, cmd = _prologue_and_command(script)
    assert "--nthreads 4" in cmd


# --------------------------------------------------------------------------- PBS header


def test_pbs_header_defaults():
    """PBS Pro resource syntax: select=1:ncpus=<cores>:mem=<memory>, walltime separately."""
    script = tc.job_script("pbs")
    header = [ln for ln in script.splitlines() if ln.startswith("#PBS")]
    assert header == [
        "#PBS -N tgsweep-worker",
        "#PBS -l select=1:ncpus=1:mem=2048MB",
        "#PBS -l walltime=01:00:00",
    ]


def test_pbs_header_overrides():
    script = tc.job_script(
        "pbs", queue="workq", account="proj123", resource_spec="nodes=1:ppn=2",
        walltime="00:10:00", cores=2, memory="4GiB",
    )
    header = [ln for ln in script.splitlines() if ln.startswith("#PBS")]
    assert "#PBS -q workq" in header
    assert "#PBS -A proj123" in header
    assert "#PBS -l nodes=1:ppn=2" in header
    assert "#PBS -l walltime=00:10:00" in header
    assert not any("select=" in ln for ln in header)


def test_pbs_activates_venv_and_workdir(tmp_path):
    """PBS does not forward the submitting environment: the script itself must put the
    venv first on PATH and cd to the submission directory."""
    script = tc.job_script("pbs", venv=tmp_path / "venv")
    prologue, cmd = _prologue_and_command(script)
    assert f'PATH="{tmp_path}/venv/bin:$PATH"' in prologue
    assert 'cd "${PBS_O_WORKDIR:-$HOME}"' in prologue
    assert cmd.startswith(f"{tmp_path}/venv/bin/python -m distributed.cli.dask_worker ")


# --------------------------------------------------------------------------- worker side


@pytest.mark.parametrize("kind", KINDS)
def test_prologue_pins_threads_and_sets_node_local_numba_cache(kind, tmp_path):
    """Run the generated prologue in a clean bash: thread variables are 1, NUMBA_CACHE_DIR
    is under the node-local TMPDIR and exists, PATH starts with the venv's bin."""
    venv = tmp_path / "venv"
    script = tc.job_script(kind, venv=venv)
    prologue, _ = _prologue_and_command(script)
    node_tmp = tmp_path / "node-local"
    node_tmp.mkdir()
    show = "; ".join(f'echo "{v}=${v}"' for v in (*THREAD_VARS, "NUMBA_CACHE_DIR", "PATH"))
    out = subprocess.run(
        ["bash", "-c", f"set -e\n{prologue}\n{show}"],
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(node_tmp), "HOME": str(tmp_path)},
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout
    env = dict(line.split("=", 1) for line in out.splitlines())
    for v in THREAD_VARS:
        assert env[v] == "1", v
    cache = Path(env["NUMBA_CACHE_DIR"])
    assert cache.parent == node_tmp and cache.is_dir()
    assert env["PATH"].split(":")[0] == str(venv / "bin")


@pytest.mark.parametrize("kind", KINDS)
def test_prologue_gives_batch_workers_the_local_dask_settings(kind, tmp_path):
    """The job's workers get tgsweep.sweep.executors.DASK_CONFIG (the worker profiler off) as
    DASK_* variables: dask, imported after the prologue in a clean bash, reads every value;
    a value set in the job's environment wins."""
    from tgsweep.sweep.executors import DASK_CONFIG

    prologue, _ = _prologue_and_command(tc.job_script(kind, venv=Path(sys.prefix)))
    keys = list(DASK_CONFIG)
    show = (f"{sys.executable} -c 'import json, dask.config, distributed; "
            f"print(json.dumps([dask.config.get(k) for k in {json.dumps(keys)}]))'")
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path), "HOME": str(tmp_path)}
    run = lambda extra: subprocess.run(  # noqa: E731
        ["bash", "-c", f"set -e\n{prologue}\n{show}"], env={**env, **extra}, cwd=tmp_path,
        capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    assert json.loads(run({})) == list(DASK_CONFIG.values())
    assert json.loads(run({"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "True"}))[0] is True


@pytest.mark.parametrize("kind", KINDS)
def test_worker_command(kind):
    script = tc.job_script(kind, tls=False)
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)  # valid shell
    _, cmd = _prologue_and_command(script)
    assert cmd.startswith(f"{Path(sys.prefix) / 'bin' / 'python'} -m distributed.cli.dask_worker ")
    assert re.search(r"--lifetime \S+ --lifetime-stagger \S+", cmd)
    assert "--nthreads 1" in cmd and "--memory-limit 2.00GiB" in cmd
    assert "tcp://<insert-scheduler-address-here>:8786" in cmd
    assert "--interface" not in cmd and "--tls" not in cmd


@pytest.mark.parametrize("kind", KINDS)
def test_tls_by_default(kind):
    """The shipped files make cluster runs authenticated: without a tls argument the worker
    command connects over tls:// with the CA, certificate and key of the throw-away CA."""
    _, cmd = _prologue_and_command(tc.job_script(kind))
    assert "tls://<insert-scheduler-address-here>:8786" in cmd
    for opt in ("--tls-ca-file", "--tls-cert", "--tls-key"):
        assert opt in cmd


@pytest.mark.parametrize("kind", KINDS)
def test_interface_and_tls(kind):
    _, cmd = _prologue_and_command(tc.job_script(kind, interface="ib0", tls=True))
    assert "--interface ib0" in cmd
    assert "tls://<insert-scheduler-address-here>:8786" in cmd
    assert "--protocol tls://" in cmd
    for opt in ("--tls-ca-file", "--tls-cert", "--tls-key"):
        assert opt in cmd


def test_config_from_mapping_and_env(tmp_path, monkeypatch):
    cfg = yaml.safe_load((CLUSTER_DIR / "slurm.yaml").read_text())
    cfg["jobqueue"]["slurm"]["queue"] = "from-mapping"
    assert "#SBATCH -p from-mapping" in tc.job_script("slurm", cfg)
    cfg["jobqueue"]["slurm"]["queue"] = "from-env"
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(cfg))
    monkeypatch.setenv("TGSWEEP_CLUSTER_CONFIG", str(path))
    assert "#SBATCH -p from-env" in tc.job_script("slurm")
    with pytest.raises(ValueError, match="jobqueue.pbs"):
        tc.load_config("pbs")  # the env file has no pbs section


# --------------------------------------------------------------------------- packaged config
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("kind", KINDS)
def test_user_copies_equal_the_packaged_config(kind):
    """cluster/<kind>.yaml (the copy users edit) is the packaged configuration's half."""
    packaged = yaml.safe_load(tc.PACKAGED_CONFIG.read_text())
    copy = yaml.safe_load((CLUSTER_DIR / f"{kind}.yaml").read_text())
    assert copy["jobqueue"][kind] == packaged["jobqueue"][kind]
    assert copy["tgsweep"] == packaged["tgsweep"]


_PROBE = """
import json, sys
import tgsweep
from tgsweep.sweep import cluster
jq, opts = cluster.load_config("slurm")
print(json.dumps({"file": tgsweep.__file__, "jq": jq, "opts": opts,
                  "script": cluster.job_script("slurm")}))
"""


def _probe(pythonpath, cwd, dask_config_dir):
    env = {k: v for k, v in os.environ.items()
           if k != "TGSWEEP_CLUSTER_CONFIG" and not k.startswith("DASK_")}
    env.update(PYTHONPATH=str(pythonpath), DASK_CONFIG=str(dask_config_dir))
    res = subprocess.run([sys.executable, "-c", _PROBE], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    import json

    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """tgsweep installed non-editable (``pip install --no-deps --target``) from a copy of the
    sources, so that nothing can be found through the source tree."""
    import shutil

    base = tmp_path_factory.mktemp("install")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "tgsweep", src / "tgsweep",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    target = base / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                          "--target", str(target), str(src)], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    assert (target / "tgsweep" / "sweep" / "cluster.yaml").is_file()
    return target


@pytest.mark.slow
def test_cluster_config_found_from_a_non_editable_install(installed, tmp_path):
    """Defect fixed: the configuration was found via the source tree (``parents[2] /
    "cluster"``), so an installed package could not run ``--cluster slurm`` without
    ``--cluster-config``.  From a plain install, run outside any checkout, the configuration
    resolves to the packaged values and a job script is built."""
    empty = tmp_path / "dask-config"
    empty.mkdir()
    out = _probe(installed, tmp_path, empty)
    assert Path(out["file"]).resolve().is_relative_to(installed.resolve())
    ref = yaml.safe_load(tc.PACKAGED_CONFIG.read_text())["jobqueue"]["slurm"]
    assert out["jq"]["name"] == ref["name"] == "tgsweep-worker"
    assert out["jq"]["cores"] == 1 and out["jq"]["memory"] == "2GiB"
    assert out["jq"]["worker_extra_args"] == ref["worker-extra-args"]
    assert out["opts"]["resubmit_interval"] == 5
    assert "#SBATCH -J tgsweep-worker" in out["script"]
    assert "NUMBA_NUM_THREADS=1" in out["script"]


@pytest.mark.slow
def test_user_dask_config_overrides_packaged_defaults(installed, tmp_path):
    """As with dask-jobqueue's own defaults: a value in the user's dask configuration
    (~/.config/dask/jobqueue.yaml, here $DASK_CONFIG) wins; the packaged values fill the rest."""
    conf = tmp_path / "dask-config"
    conf.mkdir()
    (conf / "jobqueue.yaml").write_text(yaml.safe_dump(
        {"jobqueue": {"slurm": {"queue": "from-dask-config", "memory": "3GiB"}}}))
    out = _probe(installed, tmp_path, conf)
    assert out["jq"]["queue"] == "from-dask-config" and out["jq"]["memory"] == "3GiB"
    assert out["jq"]["cores"] == 1 and out["jq"]["name"] == "tgsweep-worker"
    assert "#SBATCH -p from-dask-config" in out["script"]


# --------------------------------------------------------------------------- arguments


def test_parse_adapt():
    assert tc.parse_adapt("2:8") == (2, 8)
    assert tc.parse_adapt((0, 3)) == (0, 3)
    assert tc.parse_adapt(None) is None
    for bad in ("8:2", "3", "1:2:3", "-1:2", "0:0", "a:b"):
        with pytest.raises(ValueError):
            tc.parse_adapt(bad)


def test_make_cluster_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown cluster kind"):
        tc.make_cluster("lsf")
    with pytest.raises(ValueError, match="either jobs or adapt"):
        tc.make_cluster("slurm", jobs=2, adapt="1:2")
    with pytest.raises(ValueError, match="jobs must be"):
        tc.make_cluster("slurm", jobs=0)


# --------------------------------------------------------------------------- provenance


def _fake_batch_system(bin_dir: Path, submit: str, cancel: str, fmt: str) -> Path:
    """Fake submit/cancel commands: submit prints a new job id, both log their calls."""
    bin_dir.mkdir()
    log = bin_dir / "calls.log"
    counter = bin_dir / "next_id"
    counter.write_text("4242")
    (bin_dir / submit).write_text(
        "#!/bin/sh\n"
        f'exec 9>"{counter}.lock"; flock 9\n'  # jobs are submitted concurrently
        f'id=$(cat "{counter}"); echo $((id + 1)) > "{counter}"\n'
        f'echo "{submit} $1 $id" >> "{log}"\n'
        f'printf "{fmt}\\n" "$id"\n'
    )
    (bin_dir / cancel).write_text(f'#!/bin/sh\necho "{cancel} $*" >> "{log}"\n')
    for name in (submit, cancel):
        p = bin_dir / name
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return log


@pytest.mark.parametrize(
    "kind, submit, cancel, fmt",
    [("slurm", "sbatch", "scancel", "Submitted batch job %s"),
     ("pbs", "qsub", "qdel", "%s.pbs-server")],
)
def test_provenance_records_submitted_job_ids(kind, submit, cancel, fmt, tmp_path, monkeypatch):
    """With fake sbatch/qsub on PATH (no worker ever connects), make_cluster submits
    ``jobs`` scripts, cluster_provenance reports exactly the ids the batch system
    returned, and closing the cluster cancels them."""
    log = _fake_batch_system(tmp_path / "bin", submit, cancel, fmt)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    cl = tc.make_cluster(kind, jobs=2, scheduler_options={"dashboard_address": ":0"})
    try:
        import time

        deadline = time.monotonic() + 20
        while len(cl.job_cls.submitted_job_ids) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        prov = tc.cluster_provenance(cl)
        recorded = sorted(cl.job_cls.submitted_job_ids)
    finally:
        cl.close()
    assert prov["cluster"] == kind
    assert recorded == ["4242", "4243"]  # recorded at submission, not read back at the end
    assert sorted(prov["job_ids"]) == ["4242", "4243"]
    assert sorted(prov["active_job_ids"]) == ["4242", "4243"]
    assert prov["job_name"] == "tgsweep-worker" and prov["tls"] is True  # secure default
    assert prov["scheduler_address"].startswith("tls://")
    calls = log.read_text().splitlines()
    assert sum(c.startswith(submit) for c in calls) == 2
    assert sorted(c.split()[-1] for c in calls if c.startswith(cancel)) == ["4242", "4243"]
    import json

    json.dumps(prov)  # storable as-is


def test_dashboard_bound_to_localhost_by_default(tmp_path, monkeypatch):
    """Without scheduler-options the dashboard (plain HTTP) binds to tgsweep.dashboard, localhost
    in the shipped files (reached through an ssh tunnel), never 0.0.0.0; the scheduler speaks
    TLS."""
    log = _fake_batch_system(tmp_path / "bin", "sbatch", "scancel", "Submitted batch job %s")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    cfg = yaml.safe_load((CLUSTER_DIR / "slurm.yaml").read_text())
    assert cfg["tgsweep"]["dashboard"].startswith("127.0.0.1:") and cfg["tgsweep"]["tls"] is True
    cfg["tgsweep"]["dashboard"] = "127.0.0.1:0"  # a free port on a shared test machine
    import socket
    from urllib.parse import urlparse

    cl = tc.make_cluster("slurm", config=cfg, jobs=1)
    try:
        url = urlparse(cl.dashboard_link)
        addr = cl.scheduler_address
        reachable = {}
        for host in ("127.0.0.1", url.hostname):
            with socket.socket() as s:
                s.settimeout(5)
                reachable[host] = s.connect_ex((host, url.port)) == 0
    finally:
        cl.close()
    assert reachable["127.0.0.1"]
    if url.hostname not in ("127.0.0.1", "localhost"):
        assert not reachable[url.hostname]  # not listening on the external address
    assert addr.startswith("tls://")
    assert log.exists()


def test_batch_provenance():
    """Inside an allocation the job id comes from the batch system's environment
    (sbatch(1) OUTPUT ENVIRONMENT VARIABLES: SLURM_JOB_ID; qsub(1): PBS_JOBID)."""
    assert tc.batch_provenance({}) is None
    prov = tc.batch_provenance({"SLURM_JOB_ID": "77", "SLURM_JOB_NODELIST": "n[1-2]",
                                "SLURM_NTASKS": "8"})
    assert prov == {"cluster": "slurm-batch", "job_ids": ["77"], "nodes": "n[1-2]", "ntasks": "8"}
    assert tc.batch_provenance({"PBS_JOBID": "12.srv"})["job_ids"] == ["12.srv"]
