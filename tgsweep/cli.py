"""Command line: ``tgsweep run|status|info|plot``.  Argument parsing only; the work is done by
tested functions in :mod:`tgsweep.sweep` and :mod:`tgsweep.plots`.

Exit codes: 0 success, 1 run failure, 2 bad input (spec field, missing store, lock held),
130 interrupted (Ctrl-C: one line saying how to resume).

``TGSWEEP_RUN_REPORT=FILE`` (benchmarks): ``tgsweep run`` appends each member's
:class:`~tgsweep.sweep.runner.RunReport` to FILE as one JSON line.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "entry", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="tgsweep", description="Disordered Tonks-Girardeau gas "
                                 "ensemble sweeps (units hbar^2/2m = 1).")
    from . import __version__

    ap.add_argument("--version", action="version", version=f"tgsweep {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run (or resume) the sweep of a spec into a Zarr store")
    run.add_argument("spec", help="TOML spec (workflows/*.toml)")
    run.add_argument("--out", help="output store (default: [output] store of the spec); for a "
                     "workflow with [[series]] tables, a directory of <label>.zarr stores")
    run.add_argument("--workers", type=int, default=None,
                     help="local worker processes, one thread each (default: 2, used only "
                     "when the run is estimated to take longer than starting them)")
    run.add_argument("--dask", action="store_true", help="local workers as a dask "
                     "LocalCluster instead of a process pool")
    run.add_argument("--scheduler", help="address of a running Dask scheduler")
    run.add_argument("--resume", action="store_true", help="continue an existing store: "
                     "compute only the chunks not marked done")
    run.add_argument("--serial", action="store_true", help="run in this process, without Dask")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--cluster", choices=("slurm", "pbs"),
                     help="start a dask-jobqueue cluster (configuration: "
                     "tgsweep/sweep/cluster.yaml, copies in cluster/*.yaml)")
    grp = run.add_mutually_exclusive_group()
    grp.add_argument("--jobs", type=int, help="number of batch jobs (with --cluster)")
    grp.add_argument("--adapt", help="MIN:MAX adaptive number of jobs (with --cluster)")
    run.add_argument("--interface", help="network interface of the workers (with --cluster)")
    run.add_argument("--tls", action=argparse.BooleanOptionalAction, default=None,
                     help="TLS (encrypted, authenticated) between scheduler and workers; the "
                     "default is the cluster file's tgsweep.tls (true in the shipped files)")
    run.add_argument("--max-store-gb", type=float, default=200.0, help="refuse a spec whose "
                     "store would exceed this size (uncompressed estimate; default 200)")
    run.add_argument("--max-sample-gb", type=float, default=8.0, help="refuse a spec whose "
                     "single sample needs more memory than this (estimate; default 8)")
    run.add_argument("--cluster-config", help="jobqueue YAML (default: the packaged "
                     "configuration merged into dask.config; editable copies in cluster/)")

    st = sub.add_parser("status", help="done/total tasks per grid point, failures")
    st.add_argument("store")
    st.add_argument("--verify", action="store_true", help="read every shard and coordinate; "
                    "report each missing or corrupt one (exit 1 if any; --resume repairs)")
    inf = sub.add_parser("info", help="dimensions, variables and provenance of a store")
    inf.add_argument("store")
    pl = sub.add_parser("plot", help="PNG figures of what a store holds")
    pl.add_argument("store")
    pl.add_argument("--outdir", default=None, help="directory for the PNGs (default: the store "
                    "path without .zarr, plus -figures; generic figures in OUTDIR/observables/)")
    return ap


def _fail(msg: str, code: int = 2) -> int:
    print(f"tgsweep: error: {msg}", file=sys.stderr)
    return code


def _members(a):
    """[(label, spec, store path)] of the spec file: one member, or one per [[series]] table."""
    from .sweep import load_spec
    from .sweep.workflow import has_series, load_workflow, workflow_stores  # [[series]]

    from .sweep.limits import Limits

    limits = Limits(max_store_gb=a.max_store_gb, max_sample_gb=a.max_sample_gb)
    if not has_series(a.spec):
        spec = load_spec(a.spec, limits)
        return [("", spec, a.out or spec.store)]
    members = load_workflow(a.spec, limits=limits)
    return [(label, spec, store) for (label, spec), store in
            zip(members, workflow_stores(a.spec, a.out, limits=limits))]


def _check_run_args(a, members) -> None:
    from .sweep import SpecError

    if a.workers is not None and a.workers < 1:
        raise SpecError("--workers", f"must be a positive integer, got {a.workers}")
    if (a.jobs is not None or a.adapt or a.interface or a.tls is not None or a.cluster_config) \
            and not a.cluster:
        raise SpecError("--cluster", "--jobs/--adapt/--interface/--tls need --cluster")
    if a.serial and (a.scheduler or a.cluster or a.workers or a.dask):
        raise SpecError("--serial", "cannot be combined with --workers/--dask/--scheduler/--cluster")
    if (a.scheduler or a.cluster) and (a.workers or a.dask):
        raise SpecError("--workers", "local workers (--workers/--dask) cannot be combined with "
                        "--scheduler/--cluster")
    if not all(store for _, _, store in members):
        raise SpecError("output.store", "no output store: set [output] store or pass --out")
    if a.adapt:
        from .sweep.cluster import parse_adapt

        parse_adapt(a.adapt)


def _executor(a):
    """(what runs the tasks, close function): None (serial), local workers (started only when
    they pay off unless --workers is given) or a dask Client of a scheduler / batch cluster."""
    if a.serial:
        return None, lambda now=False: None
    if a.scheduler or a.cluster:
        import dask
        from distributed import Client

        from .sweep.executors import DASK_CONFIG

        dask.config.set(DASK_CONFIG)
        cluster = None
        if a.cluster:
            from .sweep.cluster import make_cluster

            cluster = make_cluster(a.cluster, jobs=a.jobs, adapt=a.adapt,
                                   config=a.cluster_config, interface=a.interface, tls=a.tls)
        client = Client(cluster if cluster is not None else a.scheduler)

        def close(now=False):
            client.close(timeout=2 if now else None)
            if cluster is not None:
                cluster.close()

        return client, close
    from .sweep.executors import LocalWorkers

    workers = LocalWorkers(a.workers or 2, kind="dask" if a.dask else "processes",
                           auto=a.workers is None)
    if a.workers is not None:  # asked for: start them now, while the store is being made
        workers.start()
    return workers, workers.close


def _cmd_run(a) -> int:
    if a.workers is not None and not (a.serial or a.scheduler or a.cluster):
        from .sweep.executors import start_forkserver

        # before any thread: the workers' server forks from here and imports on another core
        start_forkserver("dask" if a.dask else "processes")
    from pathlib import Path

    from .sweep.storage import prefetch_provenance

    prefetch_provenance()  # git queries run while the spec is read and the store made
    from .sweep import SpecError, StoreExists, StoreLocked, ZarrStore
    from .sweep.runner import Interrupted, run_sweep
    from .sweep.workflow import has_series

    try:
        members = _members(a)
        _check_run_args(a, members)
    except (SpecError, ValueError) as exc:
        return _fail(str(exc))
    series = has_series(a.spec)
    close = None
    try:
        executor, close = _executor(a)
        warm = None if not (a.scheduler or a.cluster) else False
        for label, spec, store in members:
            if series:
                Path(store).parent.mkdir(parents=True, exist_ok=True)
            rep = run_sweep(spec, store, executor, resume=a.resume, progress=not a.no_progress,
                            warm=warm)
            if series:
                ZarrStore(store).update_attrs({"workflow": Path(a.spec).stem,
                                               "series_label": label})
            _record(rep)
            print(f"{rep.store}: ran {rep.tasks_run}/{rep.tasks_total} tasks, "
                  f"{rep.samples_run} samples ({rep.samples_failed} failed) in "
                  f"{rep.seconds:.1f} s ({rep.samples_per_second:.2f} samples/s, {rep.mode})"
                  + (f"; workers compiled {rep.worker_compiled} kernels" if rep.worker_compiled
                     else ""), flush=True)
    except Interrupted as exc:
        if close is not None:
            close(now=True)
            close = None
        out = f" --out {a.out}" if a.out else ""
        print(f"interrupted after {exc.done}/{exc.total} tasks; resume with "
              f"`tgsweep run {a.spec}{out} --resume`", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        if close is not None:
            close(now=True)
            close = None
        print("interrupted before any task was written", file=sys.stderr)
        return 130
    except (StoreExists, StoreLocked, SpecError) as exc:
        return _fail(str(exc))
    except (OSError, TimeoutError) as exc:
        from .sweep.store import is_disk_full

        if not is_disk_full(exc):
            if a.scheduler:
                return _fail(f"--scheduler: cannot reach {a.scheduler} ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'timed out'})")
            raise
        return _fail(f"disk full ({exc.strerror}) while writing {a.out or 'the store'}; what was "
                     "stored is kept: free space, then rerun with --resume", 1)
    finally:
        if close is not None:
            close()
    return 0


def _record(rep) -> None:
    """Append ``rep`` as a JSON line to ``$TGSWEEP_RUN_REPORT`` (when set)."""
    import os

    path = os.environ.get("TGSWEEP_RUN_REPORT")
    if path:
        import dataclasses
        import json

        with open(path, "a") as fh:
            fh.write(json.dumps(dataclasses.asdict(rep)) + "\n")


def _open(path, lazy=False):
    from pathlib import Path

    from .sweep.storeview import interrupted_creations, missing_store_message

    if not (Path(path) / "zarr.json").exists():
        if interrupted_creations(path):
            raise FileNotFoundError(f"store: {path} does not exist: its creation was interrupted "
                                    "(nothing computed); run the spec again to create it")
        if not Path(path).exists():
            raise FileNotFoundError(missing_store_message(path))
        raise FileNotFoundError(f"store: {path} is not a tgsweep Zarr store (no zarr.json)")
    if lazy:
        return None
    from .sweep.store import open_dataset

    try:
        return open_dataset(path)
    except Exception as exc:  # noqa: BLE001 - a damaged store: one line, not a traceback
        raise FileNotFoundError(f"store: {path} cannot be opened ({type(exc).__name__}); run "
                                "`tgsweep status --verify` on it") from None


def _print_report(a, text_of) -> int:
    from .sweep.workflow import is_series_dir, open_workflow

    if is_series_dir(a.store):  # one store per [[series]] member: report each
        for label, ds in open_workflow(a.store):
            print(f"== {label} ({a.store.rstrip('/')}/{label}.zarr)")
            print(text_of(ds))
        return 0
    try:
        ds = _open(a.store)
    except FileNotFoundError as exc:
        return _fail(str(exc))
    print(text_of(ds))
    return 0


def _cmd_status(a) -> int:
    from pathlib import Path

    # plain status: the light read side only (no physics, spec or registry is imported)
    from .sweep.storeview import StoreView, is_series_dir, status_text

    if is_series_dir(a.store) and not a.verify:  # one store per [[series]] member: each
        for label in sorted(p.stem for p in Path(a.store).glob("*.zarr")):
            print(f"== {label} ({a.store.rstrip('/')}/{label}.zarr)")
            print(status_text(StoreView(str(Path(a.store) / f"{label}.zarr"))))
        return 0
    try:
        _open(a.store, lazy=True)
        if not a.verify:
            print(status_text(StoreView(a.store)))
            return 0
    except FileNotFoundError as exc:
        return _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - a damaged store: one line, not a traceback
        return _fail(f"store: {a.store} cannot be read ({type(exc).__name__}); run `tgsweep "
                     "status --verify` on it")
    from .sweep.report import verify_text

    text, ok = verify_text(a.store)
    print(text)
    return 0 if ok else 1


def _cmd_info(a) -> int:
    from .sweep.report import info_text

    return _print_report(a, info_text)


def _cmd_plot(a) -> int:
    from .plots import plot

    try:
        files = plot(a.store, a.outdir)
    except FileNotFoundError as exc:
        return _fail(str(exc))
    except ModuleNotFoundError as exc:
        if exc.name != "matplotlib":
            raise
        return _fail("plot: needs matplotlib, the 'plot' extra: pip install -e '.[plot]' "
                     "(python3 dev.py installs it)")
    except KeyError as exc:  # a series directory of no known workflow
        return _fail(f"store: {exc.args[0]}")
    for f in files:
        print(f)
    return 0


def main(argv=None) -> int:
    from .threads import pin_env

    # one thread for BLAS/OpenMP/numba in this process too (libraries loaded later), so that a
    # --serial run is bitwise identical to a LocalCluster run; explicit settings win
    pin_env()
    import warnings

    plain = warnings.formatwarning
    warnings.formatwarning = lambda msg, cat, *rest, **kw: (
        f"tgsweep: warning: {msg}\n" if cat.__name__ == "SpecWarning" else plain(msg, cat, *rest,
                                                                                **kw))
    a = build_parser().parse_args(argv)
    return {"run": _cmd_run, "status": _cmd_status, "info": _cmd_info, "plot": _cmd_plot}[
        a.command](a)


def entry(argv=None) -> None:
    """The console command: :func:`main`, then the process ends without Python's teardown.

    Freeing every module and object at interpreter exit costs 0.15–0.25 s (more than a small
    run's own work), and nothing depends on it: the atexit handlers still run (multiprocessing
    children, dask, weakref finalizers), standard output and error are flushed, and the store
    never relies on an orderly exit (every write is a complete file renamed into place, so a
    kill at any moment loses nothing).  Where a non-daemon thread is still alive (nothing of
    tgsweep leaves one) the ordinary exit runs, which would wait for it.  An exception,
    including ``SystemExit`` from bad input, leaves through the ordinary exit as well.
    """
    import atexit
    import os
    import threading

    rc = main(argv)
    if any(t is not threading.main_thread() and t.is_alive() and not t.daemon
           for t in threading.enumerate()):
        sys.exit(rc)
    atexit._run_exitfuncs()  # what the ordinary exit runs after joining non-daemon threads
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # a closed pipe or stream: nothing left to say
        rc = rc or 1
    os._exit(int(rc or 0))


if __name__ == "__main__":
    entry()
