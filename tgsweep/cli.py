"""Command line: ``tgsweep run|status|info|plot``.  Argument parsing only; the work is done by
tested functions in :mod:`tgsweep.sweep` and :mod:`tgsweep.plots`.

Exit codes: 0 success, 1 run failure, 2 bad input (spec field, missing store, lock held).
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser"]


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
                     help="LocalCluster worker processes, one thread each (default 2)")
    run.add_argument("--scheduler", help="address of a running Dask scheduler")
    run.add_argument("--resume", action="store_true", help="continue an existing store: "
                     "compute only the chunks not marked done")
    run.add_argument("--serial", action="store_true", help="run in this process, without Dask")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--cluster", choices=("slurm", "pbs"),
                     help="start a dask-jobqueue cluster (see cluster/*.yaml)")
    grp = run.add_mutually_exclusive_group()
    grp.add_argument("--jobs", type=int, help="number of batch jobs (with --cluster)")
    grp.add_argument("--adapt", help="MIN:MAX adaptive number of jobs (with --cluster)")
    run.add_argument("--interface", help="network interface of the workers (with --cluster)")
    run.add_argument("--tls", action="store_true", help="TLS between scheduler and workers")
    run.add_argument("--cluster-config", help="jobqueue YAML (default cluster/<kind>.yaml)")

    st = sub.add_parser("status", help="done/total tasks per grid point, failures")
    st.add_argument("store")
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


def _cmd_run(a) -> int:
    from .sweep import SpecError, StoreExists, StoreLocked, load_spec, run_sweep
    from .sweep.workflow import has_series, load_workflow, run_workflow

    series = has_series(a.spec)
    try:
        if series:
            # a workflow with [[series]] tables: one store per member under --out (a directory)
            members = load_workflow(a.spec)
            spec = members[0][1]
        else:
            spec = load_spec(a.spec)
        if a.workers is not None and a.workers < 1:
            raise SpecError("--workers", f"must be a positive integer, got {a.workers}")
        if (a.jobs is not None or a.adapt or a.interface or a.tls or a.cluster_config) and not a.cluster:
            raise SpecError("--cluster", "--jobs/--adapt/--interface/--tls need --cluster")
        if a.serial and (a.scheduler or a.cluster or a.workers):
            raise SpecError("--serial", "cannot be combined with --workers/--scheduler/--cluster")
        if not (a.out or spec.store):
            raise SpecError("output.store", "no output store: set [output] store or pass --out")
        if a.adapt:
            from .sweep.cluster import parse_adapt

            parse_adapt(a.adapt)
    except (SpecError, ValueError) as exc:
        return _fail(str(exc))
    cluster = None
    try:
        if a.cluster:
            from .sweep.cluster import make_cluster

            cluster = make_cluster(a.cluster, jobs=a.jobs, adapt=a.adapt,
                                   config=a.cluster_config, interface=a.interface, tls=a.tls)
        if series:
            stores = run_workflow(a.spec, a.out, serial=a.serial, workers=a.workers,
                                  resume=a.resume, progress=not a.no_progress,
                                  scheduler=a.scheduler, cluster=cluster)
            for st in stores:
                print(f"{st}: done")
            return 0
        rep = run_sweep(spec, a.out, workers=a.workers, scheduler=a.scheduler, cluster=cluster,
                        resume=a.resume, serial=a.serial, progress=not a.no_progress)
    except (StoreExists, StoreLocked, SpecError) as exc:
        return _fail(str(exc))
    finally:
        if cluster is not None:
            cluster.close()
    print(f"{rep.store}: ran {rep.tasks_run}/{rep.tasks_total} tasks, {rep.samples_run} samples "
          f"({rep.samples_failed} failed) in {rep.seconds:.1f} s "
          f"({rep.samples_per_second:.2f} samples/s)")
    return 0


def _open(path):
    from pathlib import Path

    from .sweep import open_dataset

    if not Path(path).exists():
        from .sweep.workflow import missing_store_message

        raise FileNotFoundError(missing_store_message(path))
    if not (Path(path) / "zarr.json").exists():
        raise FileNotFoundError(f"store: {path} is not a tgsweep Zarr store (no zarr.json)")
    return open_dataset(path)


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
    from .sweep.report import status_text

    return _print_report(a, status_text)


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
    a = build_parser().parse_args(argv)
    return {"run": _cmd_run, "status": _cmd_status, "info": _cmd_info, "plot": _cmd_plot}[
        a.command](a)


if __name__ == "__main__":
    sys.exit(main())
