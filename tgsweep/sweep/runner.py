"""Run a sweep: serial loop or Dask fan-out of (grid point, sample chunk) tasks into a store.

The per-task work (:func:`execute_task`) is a plain function of (spec, store, p, c); the runner
only decides where it runs (STYLE.md pattern 2): a serial loop in this process, a default
``LocalCluster`` (worker processes with one thread each, BLAS/numba pinned to one thread,
scheduler and dashboard on 127.0.0.1), an existing ``distributed.Client`` or cluster object, or a
scheduler address.  Workers write their own regions; the client only receives a few integers
per task, so its memory does not grow with the number of samples.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time
from dataclasses import dataclass

from .spec import Spec, SpecError
from .store import MemoryStore, ResultStore, ZarrStore, provenance, store_layout, summarize
from .tasks import STATUS, compute_chunk

__all__ = ["run_sweep", "execute_task", "RunReport", "StoreExists", "PIN_ENV", "Progress"]

from ..threads import PIN_ENV  # environment of worker processes: one BLAS/OpenMP/numba thread


class StoreExists(RuntimeError):
    """The output store exists and --resume was not given (or its spec differs)."""


@dataclass
class RunReport:
    store: str
    tasks_total: int
    tasks_run: int
    samples_run: int
    samples_failed: int
    seconds: float

    @property
    def samples_per_second(self) -> float:
        return self.samples_run / self.seconds if self.seconds > 0 else float("nan")


def execute_task(spec: Spec, store: ResultStore, p: int, c: int) -> tuple[int, int, int, int]:
    """Compute task (p, c) and write its region; returns (p, c, n samples, n failed)."""
    res = compute_chunk(spec, p, c)
    store.write_chunk(spec, res)
    return p, c, int(res.status.size), int((res.status != STATUS["ok"]).sum())


class Progress:
    """Minimal progress bar with rate and ETA on stderr (``\\r`` on a tty, lines otherwise)."""

    def __init__(self, total: int, enabled: bool = True, stream=None, label: str = "tasks"):
        self.total, self.enabled, self.label = total, enabled and total > 0, label
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.n = 0
        self.t0 = time.perf_counter()
        self._last = -1.0

    def update(self, k: int = 1) -> None:
        self.n += k
        if not self.enabled:
            return
        now = time.perf_counter()
        final = self.n >= self.total
        if not final and now - self._last < (0.2 if self.tty else 10.0):
            return
        self._last = now
        el = now - self.t0
        rate = self.n / el if el > 0 else 0.0
        eta = (self.total - self.n) / rate if rate > 0 else float("nan")
        width = 30
        fill = int(width * self.n / self.total)
        eta_s = "?" if eta != eta else str(_dt.timedelta(seconds=int(eta)))
        line = (f"[{'#' * fill}{'.' * (width - fill)}] {self.n}/{self.total} {self.label} "
                f"{rate:.2f}/s elapsed {_dt.timedelta(seconds=int(el))} ETA {eta_s}")
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        if final and self.tty:
            self.stream.write("\n")
        self.stream.flush()


def _stored_spec_matches(store: ResultStore, spec: Spec) -> bool:
    def strip(d):
        d = dict(d)
        d.pop("output", None)
        return d

    return strip(json.loads(store.spec_json())) == strip(spec.raw)


def run_sweep(spec: Spec, out=None, *, workers: int | None = None, scheduler: str | None = None,
              client=None, cluster=None, resume: bool = False, serial: bool = False,
              progress: bool | None = None, store: ResultStore | None = None,
              summary: bool = True) -> RunReport:
    """Run every missing task of ``spec`` into a store.

    Parameters
    ----------
    spec : validated :class:`Spec`.
    out : store path (default ``spec.store``); ignored when ``store`` is given.
    workers : number of LocalCluster worker processes (one thread each; default 2).
    scheduler : address of a running Dask scheduler (``tcp://host:port``).
    client, cluster : an existing ``distributed.Client`` or cluster object to use.
    resume : continue an existing store (only tasks not marked done run); the stored spec must
        equal ``spec`` (except ``[output]``).
    serial : run in this process, no Dask.
    store : a store object (e.g. :class:`MemoryStore` for tests; implies serial).
    """
    if store is None:
        path = out or spec.store
        if not path:
            raise SpecError("output.store", "no output store: set [output] store or pass --out")
        store = ZarrStore(path)
    if isinstance(store, MemoryStore):
        serial = True
    locked = isinstance(store, ZarrStore)
    if locked:
        if not resume and store.exists():
            raise StoreExists(f"store {store.path} exists; use --resume to continue it, or "
                              "choose another --out")
        store.acquire_lock()
    try:
        extra = _batch_provenance()
        if cluster is not None:
            extra.update(_cluster_provenance(cluster))
        if store.exists():
            if not resume:
                raise StoreExists(f"store {getattr(store, 'path', '')} exists; use --resume")
            if not _stored_spec_matches(store, spec):
                raise StoreExists("the store was made from a different spec; refusing to resume "
                                  "(use a new --out)")
            store.layout = store_layout(spec)[0]
        else:
            store.create(spec, provenance(spec, extra))
        done = store.done()
        todo = [(p, c) for (p, c) in spec.tasks() if not done[p, c]]
        bar = Progress(len(todo), enabled=True if progress is None else progress)
        t0 = time.perf_counter()
        if serial:
            counts = [_tick(bar, execute_task(spec, store, p, c)) for p, c in todo]
        else:
            counts = _run_dask(spec, store, todo, bar, workers=workers, scheduler=scheduler,
                               client=client, cluster=cluster)
        seconds = time.perf_counter() - t0
        if cluster is not None:  # again: jobs replaced during the run get recorded too
            extra.update(_cluster_provenance(cluster))
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        store.update_attrs({"updated": now, **extra})
        if summary:
            store.write_summary(summarize(store.to_dataset()).load())
        return RunReport(getattr(store, "path", "<memory>"), len(spec.tasks()), len(todo),
                         sum(c[2] for c in counts), sum(c[3] for c in counts), seconds)
    finally:
        if locked:
            store.release_lock()


def _task(p, c, spec, store):
    return execute_task(spec, store, p, c)


def _tick(bar, res):
    bar.update()
    return res


def _cluster_provenance(cluster) -> dict:
    """``{"cluster": JSON}`` of :func:`tgsweep.sweep.cluster.cluster_provenance` (job ids ...);
    just the class name for clusters it does not describe (e.g. a LocalCluster)."""
    try:
        from .cluster import cluster_provenance

        prov = cluster_provenance(cluster)
    except Exception:  # noqa: BLE001 - provenance must never fail a run
        return {"cluster": type(cluster).__name__}
    return {"cluster": json.dumps(prov, default=str) if isinstance(prov, dict) else str(prov)}


def _batch_provenance() -> dict:
    """``{"batch": JSON}`` when running inside a SLURM/PBS allocation
    (:func:`tgsweep.sweep.cluster.batch_provenance`), else ``{}``."""
    try:
        from .cluster import batch_provenance

        prov = batch_provenance()
    except Exception:  # noqa: BLE001
        return {}
    return {"batch": json.dumps(prov, default=str)} if prov else {}


def _pin_threads_plugin():
    """A WorkerPlugin pinning numba and BLAS/OpenMP to one thread in every worker, also on
    workers we did not start ourselves (those we start also get the environment)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class PinThreads(WorkerPlugin):
        name = "tgsweep-pin-threads"

        def setup(self, worker):
            os.environ.update(PIN_ENV)
            try:
                import numba

                numba.set_num_threads(1)
            except (ImportError, ValueError):
                pass
            # BLAS libraries already loaded in the worker ignore the environment: limit them
            # at run time (threadpoolctl sets the limit immediately and keeps it)
            from threadpoolctl import threadpool_limits

            worker._tgsweep_blas_limits = threadpool_limits(limits=1)

    return PinThreads()


def _run_dask(spec, store, todo, bar, *, workers, scheduler, client, cluster):
    from distributed import Client, LocalCluster, as_completed

    own_cluster = own_client = None
    try:
        if client is None:
            if cluster is None and scheduler is None:
                own_cluster = cluster = LocalCluster(
                    n_workers=workers or 2, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address="127.0.0.1:0", env=dict(PIN_ENV),
                    silence_logs=40)
            own_client = client = Client(cluster if scheduler is None else scheduler)
        client.register_plugin(_pin_threads_plugin())
        futures = client.map(_task, [p for p, _ in todo], [c for _, c in todo],
                             spec=spec, store=store, pure=False)
        counts = []
        for fut in as_completed(futures):
            counts.append(fut.result())
            fut.release()
            bar.update()
        return counts
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()
