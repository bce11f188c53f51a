"""Batch-system clusters (SLURM, PBS) for sweeps, through dask-jobqueue.

The sweep builds one task graph and runs it on whatever ``distributed`` cluster it is
given; this module only builds that cluster.  Its configuration ships inside the package,
``tgsweep/sweep/cluster.yaml`` (dask-jobqueue's own layout, ``jobqueue.slurm`` and
``jobqueue.pbs``, plus a small ``tgsweep`` section), and is merged into ``dask.config`` with
``dask.config.update_defaults`` the way dask-jobqueue merges its ``jobqueue.yaml``: the user's
dask configuration (``~/.config/dask/*.yaml``, ``DASK_*`` variables) overrides it key by key.
``cluster/slurm.yaml`` and ``cluster/pbs.yaml`` in the source tree are copies for users to edit
and pass with ``--cluster-config`` (or ``$TGSWEEP_CLUSTER_CONFIG``), which replaces the whole
configuration; they work as a ``~/.config/dask/jobqueue.yaml`` too.

Every keyword is resolved once, here, from the file and passed explicitly to
dask-jobqueue, so jobs submitted later (adaptive scaling, resubmission after a job
vanished) get exactly the script that :func:`job_script` shows.

dask-jobqueue is an optional dependency (extra ``cluster``); it is imported lazily.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .executors import dask_env

__all__ = [
    "KINDS",
    "load_config",
    "default_config",
    "merge_packaged_config",
    "PACKAGED_CONFIG",
    "cluster_kwargs",
    "make_cluster",
    "job_script",
    "cluster_provenance",
    "batch_provenance",
    "parse_adapt",
]

#: Batch systems supported by :func:`make_cluster`.
KINDS = ("slurm", "pbs")

#: Placeholder in ``job-script-prologue`` lines replaced by the workers' virtualenv.
VENV_TOKEN = "@VENV@"

#: the configuration shipped with the package (merged into dask.config on first use)
PACKAGED_CONFIG = Path(__file__).with_name("cluster.yaml")

# yaml keys (dask-jobqueue spelling) that are keywords of the cluster, not of the job
_CLUSTER_KEYS = {"interface", "scheduler_options", "shared_temp_directory"}


def _jobqueue(kind: str):
    try:
        import dask_jobqueue
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "cluster runs need dask-jobqueue: pip install 'tgsweep[cluster]'"
        ) from exc
    return {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[kind]


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown cluster kind {kind!r}; expected one of {KINDS}")
    return kind


_MERGED = False


def merge_packaged_config() -> None:
    """Merge :data:`PACKAGED_CONFIG` into dask's defaults (once per process).

    dask-jobqueue is imported first when installed, so that its own defaults for
    ``jobqueue.<kind>`` are registered before ours and ours take precedence over them; values
    the user set in the dask configuration keep precedence over both
    (``dask.config.update_defaults`` replaces only values still equal to an earlier default).
    """
    global _MERGED
    if _MERGED:
        return
    import dask.config
    import yaml

    try:
        import dask_jobqueue  # noqa: F401 - registers dask-jobqueue's defaults first
    except ImportError:  # the extra is optional; the configuration is still readable
        pass
    dask.config.update_defaults(yaml.safe_load(PACKAGED_CONFIG.read_text()))
    _MERGED = True


def default_config(kind: str) -> dict[str, Any] | Path:
    """The configuration used when none is given: the file ``$TGSWEEP_CLUSTER_CONFIG`` if set,
    else the ``jobqueue.<kind>`` and ``tgsweep`` sections of ``dask.config`` (the packaged
    defaults merged with the user's dask configuration)."""
    env = os.environ.get("TGSWEEP_CLUSTER_CONFIG")
    if env:
        return Path(env)
    import dask.config

    merge_packaged_config()
    return {"jobqueue": {kind: dask.config.get(f"jobqueue.{_check_kind(kind)}", None)},
            "tgsweep": dask.config.get("tgsweep", {})}


def load_config(
    kind: str, config: str | os.PathLike | Mapping | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read the ``jobqueue.<kind>`` and ``tgsweep`` sections of a configuration.

    Parameters
    ----------
    kind : {"slurm", "pbs"}
    config : path, mapping or None
        A YAML file or an already parsed mapping with the layout of
        ``cluster/slurm.yaml``; None: :func:`default_config`.

    Returns
    -------
    jobqueue : dict
        The ``jobqueue.<kind>`` section, keys with ``-`` turned into ``_``.
    options : dict
        The ``tgsweep`` section (``venv``, ``resubmit_interval``), same key spelling.
    """
    _check_kind(kind)
    if config is None:
        config = default_config(kind)
    if isinstance(config, Mapping):
        data = dict(config)
    else:
        import yaml

        with open(config) as f:
            data = yaml.safe_load(f) or {}
    jq = (data.get("jobqueue") or {}).get(kind)
    if jq is None:
        raise ValueError(f"configuration has no 'jobqueue.{kind}' section")

    def norm(d):
        return {str(k).replace("-", "_"): v for k, v in (d or {}).items()}

    return norm(jq), norm(data.get("tgsweep"))


def parse_adapt(adapt: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """Parse ``"MIN:MAX"`` (or a pair) into ``(minimum_jobs, maximum_jobs)``."""
    if adapt is None:
        return None
    if isinstance(adapt, str):
        parts = adapt.split(":")
        if len(parts) != 2:
            raise ValueError(f"--adapt expects MIN:MAX, got {adapt!r}")
        lo, hi = (int(p) for p in parts)
    else:
        lo, hi = (int(v) for v in adapt)
    if not 0 <= lo <= hi or hi < 1:
        raise ValueError(f"--adapt needs 0 <= MIN <= MAX and MAX >= 1, got {lo}:{hi}")
    return lo, hi


def cluster_kwargs(
    kind: str,
    config: str | os.PathLike | Mapping | None = None,
    *,
    interface: str | None = None,
    venv: str | os.PathLike | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Keyword arguments for ``SLURMCluster``/``PBSCluster``, fully resolved.

    Parameters
    ----------
    kind : {"slurm", "pbs"}
    config : path, mapping or None
        See :func:`load_config`.
    interface : str, optional
        Network interface (e.g. ``"ib0"``) for the scheduler *and* the workers;
        overrides the file.
    venv : path, optional
        Virtual environment the workers run in; overrides ``tgsweep.venv`` of the file,
        whose default (null) is the submitting interpreter's ``sys.prefix``.
    **overrides
        Any dask-jobqueue keyword (``cores=2``, ``walltime="02:00:00"``, ...), applied last.

    Returns
    -------
    dict
        ``job_name``, ``python`` and the prologue (``@VENV@`` replaced) included; null
        entries dropped so that dask-jobqueue's own defaults apply.
    """
    jq, opts = load_config(kind, config)
    venv = Path(venv or opts.get("venv") or sys.prefix).expanduser()
    kw: dict[str, Any] = {}
    for key, value in jq.items():
        if value is None:
            continue
        if key == "name":
            key = "job_name"
        kw[key] = value
    kw.setdefault("python", str(venv / "bin" / "python"))
    kw["job_script_prologue"] = [
        str(line).replace(VENV_TOKEN, str(venv)) for line in kw.get("job_script_prologue", [])
    ] + [_dask_config_line()]
    kw["worker_extra_args"] = [str(a) for a in kw.get("worker_extra_args", [])]
    for key in ("log_directory", "shared_temp_directory"):
        if key in kw:
            kw[key] = os.path.expanduser(os.path.expandvars(str(kw[key])))
    if interface is not None:
        kw["interface"] = interface
    kw.update(overrides)
    return kw


def _dask_config_line() -> str:
    """The prologue line giving batch-job workers the dask settings of local sweep workers
    (:data:`tgsweep.sweep.executors.DASK_CONFIG`: the worker profiler off), as ``DASK_*``
    variables; a value already set in the job's environment wins."""
    return "export " + " ".join(f'{k}="${{{k}:-{v}}}"' for k, v in dask_env().items())


def _recording_job_cls(base):
    """A subclass of ``base`` (a dask-jobqueue Job) that records every submitted job id."""

    class _Recording(base):
        submitted_job_ids: list[str] = []

        async def start(self):
            await super().start()
            type(self).submitted_job_ids.append(str(self.job_id))

    _Recording.__name__ = _Recording.__qualname__ = base.__name__
    _Recording.submitted_job_ids = []  # one list per cluster
    return _Recording


def _security(tls: bool):
    if not tls:
        return None
    from distributed.security import Security

    return Security.temporary()  # needs `cryptography`


def _dashboard_options(kw: dict, opts: Mapping) -> None:
    """Bind the dashboard to ``tgsweep.dashboard`` (default 127.0.0.1:8787: reachable only through
    an ssh tunnel) unless ``scheduler-options`` sets ``dashboard_address`` itself; "interface"
    binds it to the configured interface's address."""
    so = dict(kw.get("scheduler_options") or {})
    if "dashboard_address" not in so:
        dash = str(opts.get("dashboard") or "127.0.0.1:8787")
        if dash.split(":")[0] == "interface":
            port = dash.split(":")[1] if ":" in dash else "8787"
            iface = kw.get("interface")
            if not iface:
                raise ValueError("tgsweep.dashboard = 'interface' needs an interface")
            from distributed.utils import get_ip_interface

            dash = f"{get_ip_interface(iface)}:{port}"
        so["dashboard_address"] = dash
    kw["scheduler_options"] = so


def resolve_tls(tls: bool | None, opts: Mapping) -> bool:
    """``tls`` if given, else ``tgsweep.tls`` of the configuration (default true)."""
    if tls is not None:
        return bool(tls)
    value = opts.get("tls", True)
    return True if value is None else bool(value)


def make_cluster(
    kind: str,
    jobs: int | None = None,
    adapt: str | tuple[int, int] | None = None,
    config: str | os.PathLike | Mapping | None = None,
    interface: str | None = None,
    tls: bool | None = None,
    **overrides: Any,
):
    """Start a dask-jobqueue cluster whose workers are batch jobs.

    Parameters
    ----------
    kind : {"slurm", "pbs"}
    jobs : int, optional
        Fixed number of jobs (one dask worker each with the file's defaults).
        Jobs that disappear (walltime, worker ``--lifetime``, ``scancel``, node
        failure) are resubmitted every ``tgsweep.resubmit-interval`` seconds.
    adapt : "MIN:MAX" or (int, int), optional
        Adaptive scaling between MIN and MAX jobs instead of a fixed number.
        Neither ``jobs`` nor ``adapt``: one job.
    config : path, mapping or None
        See :func:`load_config`.
    interface : str, optional
        Network interface for scheduler and workers (e.g. ``"ib0"``).
    tls : bool or None
        Encrypt and authenticate scheduler-worker traffic with a throw-away CA
        (``distributed.Security.temporary()``); worker certificates are written to the
        file's ``shared-temp-directory``, which the compute nodes must see.  None (default):
        ``tgsweep.tls`` of the file, true in the shipped files.  The dashboard binds to
        ``tgsweep.dashboard`` (default 127.0.0.1:8787, see :func:`_dashboard_options`).
    **overrides
        dask-jobqueue keywords, applied after the file (see :func:`cluster_kwargs`).

    Returns
    -------
    dask_jobqueue.SLURMCluster or dask_jobqueue.PBSCluster
        Running; connect with ``distributed.Client(cluster)`` and pass it to
        :func:`cluster_provenance` when the sweep is done.
    """
    cls = _jobqueue(_check_kind(kind))
    if jobs is not None and adapt is not None:
        raise ValueError("give either jobs or adapt, not both")
    bounds = parse_adapt(adapt)
    if jobs is not None and int(jobs) < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    _, opts = load_config(kind, config)
    kw = cluster_kwargs(kind, config, interface=interface, **overrides)
    tls = resolve_tls(tls, opts)
    _dashboard_options(kw, opts)
    if tls:
        kw["security"] = _security(True)
        shared = kw.get("shared_temp_directory")
        if shared:
            os.makedirs(shared, mode=0o700, exist_ok=True)
    job_cls = _recording_job_cls(cls.job_cls)
    cluster = cls(job_cls=job_cls, **kw)
    cluster.tgsweep_kind = kind
    try:
        if bounds is not None:
            cluster.adapt(minimum_jobs=bounds[0], maximum_jobs=bounds[1])
            initial = bounds[0]
        else:
            initial = int(jobs or 1)
            cluster.scale(jobs=initial)
        _wait_submitted(job_cls, initial, float(opts.get("submit_timeout") or 60))
        interval = float(opts.get("resubmit_interval") or 0)
        if interval > 0:
            _start_resubmission(cluster, interval)
    except BaseException:
        cluster.close()
        raise
    return cluster


def _wait_submitted(job_cls, n: int, timeout: float) -> None:
    """Block until ``n`` jobs were accepted by the batch system (not until they run), so
    that provenance written at the start of a sweep already has their ids."""
    import time

    deadline = time.monotonic() + timeout
    while len(job_cls.submitted_job_ids) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"batch system accepted {len(job_cls.submitted_job_ids)} of "
                               f"{n} jobs within {timeout:g} s")
        time.sleep(0.05)


def _start_resubmission(cluster, interval: float) -> None:
    """Periodically re-assert the requested jobs, so vanished ones are resubmitted.

    ``distributed`` drops a worker whose job disappeared from ``cluster.workers`` after
    ``distributed.deploy.lost-worker-timeout``; re-applying the current size then
    submits a replacement under the same name.  (Adaptive scaling alone does not:
    its plan still counts the vanished job.)
    """
    from distributed.core import Status
    from tornado.ioloop import PeriodicCallback

    def check():
        if cluster.status == Status.running and len(cluster.workers) < len(cluster.worker_spec):
            cluster.scale(jobs=len(cluster.worker_spec))

    pc = PeriodicCallback(check, interval * 1000)
    cluster.periodic_callbacks["tgsweep-resubmit"] = pc
    cluster.loop.add_callback(pc.start)


def job_script(
    kind: str,
    config: str | os.PathLike | Mapping | None = None,
    *,
    interface: str | None = None,
    tls: bool | None = None,
    **overrides: Any,
) -> str:
    """Text of the batch script one worker job would be submitted with.

    Built from the same keywords as :func:`make_cluster` but without starting a
    scheduler or submitting anything; the scheduler address is a placeholder
    (``tls://<insert-scheduler-address-here>:8786``, or ``tcp://`` with ``tls=False``).
    """
    cls = _jobqueue(_check_kind(kind))
    kw = cluster_kwargs(kind, config, interface=interface, **overrides)
    tls = resolve_tls(tls, load_config(kind, config)[1])
    for key in _CLUSTER_KEYS:
        kw.pop(key, None)
    protocol = None
    security = None
    if tls:
        protocol = "tls://"
        # certificates are file paths in a real cluster; placeholders keep the text small
        from distributed.security import Security

        security = Security(
            tls_ca_file="<shared-temp-directory>/ca.pem",
            tls_worker_cert="<shared-temp-directory>/worker.pem",
            tls_worker_key="<shared-temp-directory>/worker.key",
            require_encryption=True,
        )
    job = cls.job_cls(
        f"{protocol or 'tcp://'}<insert-scheduler-address-here>:8786",
        name="dummy-name",
        interface=interface,
        protocol=protocol,
        security=security,
        **kw,
    )
    return job.job_script()


def cluster_provenance(cluster) -> dict[str, Any]:
    """What the store records about a cluster run.

    Parameters
    ----------
    cluster : cluster returned by :func:`make_cluster`

    Returns
    -------
    dict
        ``cluster`` (kind), ``job_ids`` (every job submitted, in order, including
        replacements), ``active_job_ids`` (jobs alive now), ``job_name``,
        ``scheduler_address``, ``tls`` (bool), ``dask_jobqueue`` (version).
        Plain JSON-serialisable values.
    """
    import dask_jobqueue

    job_cls = getattr(cluster, "job_cls", None)
    submitted = list(getattr(job_cls, "submitted_job_ids", []))
    active = sorted(
        str(w.job_id) for w in cluster.workers.values() if getattr(w, "job_id", None)
    )
    for jid in active:  # clusters not built by make_cluster
        if jid not in submitted:
            submitted.append(jid)
    address = cluster.scheduler_address
    return {
        "cluster": getattr(cluster, "tgsweep_kind", job_cls.config_name if job_cls else None),
        "job_ids": submitted,
        "active_job_ids": active,
        "job_name": cluster.job_name,
        "scheduler_address": address,
        "tls": str(address).startswith("tls://"),
        "dask_jobqueue": dask_jobqueue.__version__,
    }


def batch_provenance(environ: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """Provenance of a run inside one batch allocation (``cluster/sbatch-sweep.sh``).

    Parameters
    ----------
    environ : mapping, optional
        Environment to read (default ``os.environ``).

    Returns
    -------
    dict or None
        ``{"cluster": "slurm-batch", "job_ids": [SLURM_JOB_ID], "nodes": SLURM_JOB_NODELIST,
        "ntasks": SLURM_NTASKS}`` (or ``"pbs-batch"`` with ``PBS_JOBID``); None outside an
        allocation.
    """
    env = os.environ if environ is None else environ
    if env.get("SLURM_JOB_ID"):
        return {
            "cluster": "slurm-batch",
            "job_ids": [str(env["SLURM_JOB_ID"])],
            "nodes": env.get("SLURM_JOB_NODELIST"),
            "ntasks": env.get("SLURM_NTASKS"),
        }
    if env.get("PBS_JOBID"):
        return {"cluster": "pbs-batch", "job_ids": [str(env["PBS_JOBID"])],
                "nodes": env.get("PBS_NODEFILE"), "ntasks": env.get("PBS_NP")}
    return None
