"""Run a sweep: (grid point, sample chunk) tasks computed anywhere, written by the client alone.

:func:`run_sweep` takes a store and anything that runs tasks (as python-adaptive's runner does):

* ``None`` — every task in this process;
* a :class:`concurrent.futures.Executor` (e.g. a ``ProcessPoolExecutor``);
* a ``distributed.Client`` (a LocalCluster, a dask-jobqueue cluster, a scheduler address);
* a :class:`tgsweep.sweep.executors.LocalWorkers` — local worker processes that are started in
  the background and used only if the estimated work left is worth more than starting them.

Workers only compute :func:`tasks.compute_chunk` ``(spec, p, c) -> ChunkResult`` and return it;
this process alone writes (``store.write_chunk``), so no task does a metadata round trip and the
store has one writer.  The first task is computed here before any worker computes (unless the
caller says otherwise): that compiles exactly the numba kernels the spec needs, once per machine,
into the on-disk cache the workers then load; a compilation is announced while it runs and is
not counted in the progress bar's rate and ETA.

Ctrl-C (or SIGINT) raises :class:`Interrupted` after cancelling what is pending; what was written
stays, and ``--resume`` completes the store bitwise identically to an uninterrupted run.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from . import cluster as batch_clusters
from .errors import SpecError
from .executors import PIN_ENV, LocalWorkers, pin_this_process
from .faults import fault_point
from .kernels import CompileWatch
from .spec import Spec
from .store import MemoryStore, ResultStore, ZarrStore, provenance
from .tasks import STATUS, compute_chunk, compute_chunks

__all__ = ["run_sweep", "execute_task", "RunReport", "StoreExists", "Interrupted", "PIN_ENV",
           "batch_size", "BATCH_SECONDS",
           "Progress"]


class StoreExists(RuntimeError):
    """The output store exists and --resume was not given (or its spec differs)."""


class Interrupted(KeyboardInterrupt):
    """The run was interrupted (Ctrl-C); ``done``/``total`` tasks are in ``store``."""

    def __init__(self, store: str, done: int, total: int):
        super().__init__(f"interrupted after {done}/{total} tasks")
        self.store, self.done, self.total = store, done, total


@dataclass
class RunReport:
    store: str
    tasks_total: int
    tasks_run: int
    samples_run: int
    samples_failed: int
    seconds: float
    mode: str = "serial"  #: where the tasks ran ("serial", "2 worker processes", ...)
    compile_seconds: float = 0.0  #: spent compiling kernels in this process (first run)
    worker_compiled: int = 0  #: kernels compiled by workers (0: the client's cache was used)
    #: after the last task: buffered shards written, attributes, summary merged and written
    close_seconds: float = 0.0
    #: spent during the run taking the moments of shards as they were written (the summary)
    moments_seconds: float = 0.0
    #: CPU time of this process (every thread) while the tasks ran: the client's own share
    #: (dispatch, receipt, buffering, shard writes; plus the tasks it computed itself)
    loop_cpu_seconds: float = 0.0

    @property
    def samples_per_second(self) -> float:
        return self.samples_run / self.seconds if self.seconds > 0 else float("nan")


def execute_task(spec: Spec, store: ResultStore, p: int, c: int) -> tuple[int, int, int, int]:
    """Compute task (p, c) here and write its region; returns (p, c, n samples, n failed)."""
    res = compute_chunk(spec, p, c)
    store.write_chunk(spec, res)
    return p, c, int(res.status.size), int((res.status != STATUS["ok"]).sum())


class Progress:
    """Minimal progress bar with rate and ETA on stderr (``\\r`` on a tty, lines otherwise).
    :meth:`restart` excludes what ran so far (kernel compilation) from the rate."""

    def __init__(self, total: int, enabled: bool = True, stream=None, label: str = "tasks"):
        self.total, self.enabled, self.label = total, enabled and total > 0, label
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.n = 0
        self.t0 = time.perf_counter()
        self._n0 = 0
        self._last = -1.0

    def restart(self) -> None:
        self.t0, self._n0 = time.perf_counter(), self.n

    def update(self, k: int = 1, show: bool = True) -> None:
        self.n += k
        if not (self.enabled and show):
            return
        now = time.perf_counter()
        final = self.n >= self.total
        if not final and now - self._last < (0.2 if self.tty else 10.0):
            return
        self._last = now
        el = now - self.t0
        rate = (self.n - self._n0) / el if el > 0 else 0.0
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


def _is_client(ex) -> bool:
    return type(ex).__module__.startswith("distributed") and hasattr(ex, "scheduler_info")


@contextmanager
def _one_thread():
    """One BLAS/OpenMP thread for the tasks computed in this process (bitwise identical to the
    pinned workers whatever the caller's environment)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


class _Sink:
    """The single writer: every finished task goes through :meth:`accept`."""

    def __init__(self, spec, store, bar):
        self.spec, self.store, self.bar = spec, store, bar
        self.tasks = self.samples = self.failed = self.worker_compiled = 0

    def accept(self, res, remote: bool, show: bool = True) -> None:
        self.store.write_chunk(self.spec, res)
        self.tasks += 1
        self.samples += int(res.status.size)
        self.failed += int((res.status != STATUS["ok"]).sum())
        if remote:
            self.worker_compiled += int(getattr(res, "compiled", 0))
        fault_point("task_written")
        if remote:
            fault_point("worker_task_written")  # (fault tests: workers are surely running)
        self.bar.update(show=show)


def run_sweep(spec: Spec, store: ResultStore | str | None = None, executor=None, *,
              resume: bool = False, progress: bool | None = None, summary: bool = True,
              warm: bool | None = None, log=None) -> RunReport:
    """Run every missing task of ``spec`` into ``store``.

    Parameters
    ----------
    spec : validated :class:`Spec`.
    store : a :class:`ResultStore`, or the path of a Zarr store (default ``spec.store``).
    executor : what runs the tasks (see the module docstring); ``None``: this process.
    resume : continue an existing store (only tasks not marked done run); the stored spec must
        equal ``spec`` (except ``[output]``).
    progress : progress bar on stderr (default on).
    summary : write the summary group when every task is done.
    warm : compute the first task here before dispatching, so that workers load kernels
        compiled once into the on-disk cache.  Default: yes for ``None``, ``LocalWorkers`` and
        ``concurrent.futures`` executors; no for a ``distributed.Client`` (its workers may be
        other machines).
    log : stream for the one-line messages (compilation, serial/parallel choice); default
        stderr when ``progress`` is on, else silent.
    """
    if not isinstance(store, ResultStore):
        path = store or spec.store
        if not path:
            raise SpecError("output.store", "no output store: set [output] store or pass --out")
        store = ZarrStore(path)
    if progress is None:
        progress = True
    if log is None and progress:
        log = sys.stderr
    if warm is None:
        warm = not _is_client(executor)
    locked = isinstance(store, ZarrStore)
    if locked:
        if not resume and store.exists():
            raise StoreExists(f"store {store.path} exists; use --resume to continue it, or "
                              "choose another --out")
        store.acquire_lock()
    name = getattr(store, "path", "<memory>")
    total = len(spec.tasks())
    sink = None
    n_before = 0
    try:
        extra = _batch_provenance()
        extra.update(_executor_provenance(executor))
        _open_store(store, spec, resume, extra)
        done = store.done()
        todo = [(p, c) for (p, c) in spec.tasks() if not done[p, c]]
        n_before = total - len(todo)
        bar = Progress(len(todo), enabled=progress)
        sink = _Sink(spec, store, bar)
        t0, cpu0 = time.perf_counter(), time.process_time()
        fault_point("run_started")
        mode, compile_s = _run(spec, todo, executor, sink, bar, warm, log)
        seconds, loop_cpu = time.perf_counter() - t0, time.process_time() - cpu0
        extra.update(_executor_provenance(executor))  # jobs replaced during the run too
        t1 = time.perf_counter()
        acc = getattr(store, "__dict__", {}).get("_summary_acc")
        moments_s = acc.seconds if acc is not None else 0.0
        _close_store(store, spec, extra, summary)
        return RunReport(name, total, len(todo), sink.samples, sink.failed, seconds, mode,
                         compile_s, sink.worker_compiled, time.perf_counter() - t1, moments_s,
                         loop_cpu)
    except KeyboardInterrupt:
        try:
            store.flush()  # keep what was computed (tasks not yet flushed are recomputed)
        except BaseException:  # noqa: BLE001 - a second interrupt: resume recomputes
            pass
        raise Interrupted(name, n_before + (sink.tasks if sink else 0), total) from None
    finally:
        if locked:
            store.release_lock()


def _open_store(store, spec, resume: bool, extra: dict) -> None:
    """Create the store, or check that the existing one was made from ``spec`` (resume)."""
    if store.exists():
        if not resume:
            raise StoreExists(f"store {getattr(store, 'path', '')} exists; use --resume")
        if not store.spec_matches(spec):
            raise StoreExists("the store was made from a different spec; refusing to resume "
                              "(use a new --out)")
        store.layout = store.layout_of(spec)[0]
        damage = store.verify(spec)  # missing / corrupt shards are recomputed
        if damage:
            store.repair(spec, damage)
    else:
        store.create(spec, provenance(spec, extra))


def _close_store(store, spec, extra: dict, summary: bool) -> None:
    """Every task written: buffered shards flushed, final attributes and (optionally) the
    summary group (streamed shard by shard)."""
    store.flush()
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    store.update_attrs({"updated": now, **extra})
    if summary:
        store.write_summary(store.summary_table(spec))


def _run(spec, todo, executor, sink, bar, warm, log) -> tuple[str, float]:
    """Compute ``todo`` with ``executor``; returns (mode description, compile seconds)."""
    todo = list(todo)
    lazy = isinstance(executor, LocalWorkers)
    timer = None
    if lazy and not executor.started and not executor.auto and len(todo) > 2 * executor.n:
        # workers asked for: start them in the background while the first task runs here.
        # Workers used only if they pay off (auto) start once a task was timed and the work
        # left is worth it; the client goes on computing while they start, so that costs no
        # idle time, and a small run never starts them (nor waits for them at the end)
        timer = threading.Timer(0.0, executor.start)
        timer.daemon = True
        timer.start()
    compile_s = 0.0
    if executor is None:
        with _one_thread():
            while todo:
                p, c = todo.pop(0)
                watch = CompileWatch(log)
                with watch:
                    res = compute_chunk(spec, p, c)
                sink.accept(res, remote=False)
                if watch.compiled:
                    compile_s += watch.seconds
                    bar.restart()
        return "serial", compile_s
    per_task = None
    key = _kernel_key(spec)
    ready = lazy and executor.ready and key in executor.warmed
    if ready:
        # workers already running that computed tasks of this kind: nothing to compile or to
        # time here (the client computing a task would leave both workers idle meanwhile)
        warm = False
    if warm or (lazy and not ready):
        # the first task here: compiles (once, into the cache) what the spec needs; more while
        # a task compiled or loaded kernels, to time a task for the serial/parallel choice
        with _one_thread():
            while todo and per_task is None:
                p, c = todo.pop(0)
                watch = CompileWatch(log)
                with watch:
                    res = compute_chunk(spec, p, c)
                sink.accept(res, remote=False, show=False)  # its rate is no estimate
                if watch.compiled:
                    compile_s += watch.seconds
                elif not watch.loaded:
                    per_task = watch.seconds
                if not (lazy and executor.auto):  # a timed task only decides for auto
                    break
        bar.restart()
    if timer is not None:
        timer.cancel()
    if not todo:
        return ("serial" if lazy else _describe(executor)), compile_s
    if lazy:
        left = (per_task or 0.0) * len(todo)
        cost = 0.0 if executor.ready else executor.start_seconds
        if executor.auto and not ready and left <= cost + left / executor.n:  # would not pay
            if log is not None:
                log.write(f"running serially: about {left:.1f} s of work left, starting "
                          f"{executor!r} (~{cost:.1f} s) would not pay off\n")
            with _one_thread():
                for p, c in todo:
                    sink.accept(compute_chunk(spec, p, c), remote=False)
            return "serial", compile_s
        if log is not None:
            log.write(f"running on {executor!r}" + (f": about {left:.0f} s of work left in one "
                      "process\n" if per_task is not None else "\n"))
        executor.start()
        if len(todo) > 2 * executor.n and not executor.ready:
            with _one_thread():  # tasks here while the workers start, rather than waiting
                # idle (leaving them at least two tasks each); not entered when the workers
                # are ready (threadpoolctl's limits cost ~1 ms before the first dispatch)
                while len(todo) > 2 * executor.n and not executor.ready:
                    p, c = todo.pop(0)
                    sink.accept(compute_chunk(spec, p, c), remote=False)
        mode = repr(executor)
        _run_futures(spec, todo, executor.get(), sink, restart=executor.restart)
        executor.warmed.add(key)
        return mode, compile_s
    if _is_client(executor):
        _run_client(spec, todo, executor, sink)
    else:
        _run_futures(spec, todo, executor, sink)
    return _describe(executor), compile_s


def _kernel_key(spec) -> str:
    """What decides which kernels a spec's tasks call (geometry, state, disorder kind, grid
    keys, observables and their options), not sizes of the ensemble."""
    raw = spec.raw
    grid = raw.get("grid", {})
    return json.dumps({"model": raw.get("model"), "state": raw.get("state"),
                       "disorder": (raw.get("disorder") or {}).get("kind"),
                       "grid": sorted(str(k) for k in grid), "observables": raw.get("observables")},
                      sort_keys=True, default=str)


def _describe(ex) -> str:
    if _is_client(ex):
        return f"dask client ({len(ex.scheduler_info().get('workers', {}))} workers)"
    return type(ex).__name__


def _max_workers(ex) -> int:
    n = getattr(ex, "_max_workers", None)  # ProcessPoolExecutor / ThreadPoolExecutor
    return int(n) if isinstance(n, int) and n > 0 else 8


#: a batch of tasks sent to a worker in one dispatch is cut to about this many seconds of work
#: (estimated from the throughput so far), so that one batch never holds much of the run
BATCH_SECONDS = 0.5


def batch_size(left: int, workers: int, per_task: float | None) -> int:
    """Tasks in the next dispatch to a worker: a third of each worker's share of the ``left``
    tasks not yet sent (guided self-scheduling, Polychronopoulos & Kuck, IEEE Trans. Comput.
    36, 1425 (1987), with a smaller factor), at most :data:`BATCH_SECONDS` of work at
    ``per_task`` seconds per task (one task while there is no estimate yet), at least one.
    Batches shrink towards the end, so the last tasks go out one at a time and the workers
    finish together as with one task per dispatch, while each dispatch before costs the
    client's pool one round trip for several tasks."""
    k = left // (3 * max(1, workers))
    cap = 1 if not per_task or per_task <= 0 else int(BATCH_SECONDS / per_task)
    return max(1, min(k, cap, left))


def _run_futures(spec, todo, ex, sink, restart=None) -> None:
    """concurrent.futures executor (or a LocalWorkers' Client): a window of in-flight batches
    of tasks (:func:`batch_size`) so the client's memory does not grow with the number of
    tasks; results written as they come.  Which worker computes which task, and in which
    batch, changes no stored bit: a task's result depends on (spec, p, c) only."""
    if _is_client(ex):
        return _run_client(spec, todo, ex, sink)
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    queue = list(reversed(todo))
    workers = _max_workers(ex)
    window = 2 * workers + 2
    pending = {}
    restarts = 0
    t_first = None
    n_back = 0  # tasks returned since t_first (the throughput estimate)
    try:
        while queue or pending:
            while queue and len(pending) < window:
                if t_first is None:
                    t_first = time.perf_counter()
                per_task = ((time.perf_counter() - t_first) * workers / n_back
                            if n_back else None)
                batch = [queue.pop() for _ in range(batch_size(len(queue), workers, per_task))]
                fut = (ex.submit(compute_chunk, spec, *batch[0]) if len(batch) == 1 else
                       ex.submit(compute_chunks, spec, batch))
                pending[fut] = batch
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                batch = pending.pop(fut)
                try:
                    res = fut.result()
                except BrokenProcessPool:
                    # a worker died (killed, out of memory): start a fresh pool, resubmit
                    if restart is None or restarts >= 3:
                        raise
                    restarts += 1
                    for b in [batch, *pending.values()]:
                        queue.extend(reversed(b))
                    pending.clear()
                    ex = restart()
                    break
                for r in (res if isinstance(res, list) else [res]):
                    sink.accept(r, remote=True)
                n_back += len(batch)
    except BaseException:
        for fut in pending:
            fut.cancel()
        raise


def _run_client(spec, todo, client, sink) -> None:
    from distributed import as_completed

    client.register_plugin(_pin_threads_plugin())
    futures = client.map(compute_chunk, [spec] * len(todo), [p for p, _ in todo],
                         [c for _, c in todo], pure=False)
    try:
        for batch in as_completed(futures, with_results=True).batches():
            for fut, res in batch:
                fut.release()
                sink.accept(res, remote=True)
    except BaseException:
        client.cancel(futures)
        raise


def _executor_provenance(ex) -> dict:
    """``{"cluster": JSON}`` of :func:`tgsweep.sweep.cluster.cluster_provenance` (job ids ...)
    for an executor with a ``cluster`` (a Client of a jobqueue cluster); the class name for
    clusters it does not describe; ``{}`` otherwise."""
    cluster = getattr(ex, "cluster", None)
    if cluster is None:
        return {}
    try:
        prov = batch_clusters.cluster_provenance(cluster)
    except Exception:  # noqa: BLE001 - provenance must never fail a run
        return {"cluster": type(cluster).__name__}
    return {"cluster": json.dumps(prov, default=str) if isinstance(prov, dict) else str(prov)}


def _batch_provenance() -> dict:
    """``{"batch": JSON}`` when running inside a SLURM/PBS allocation
    (:func:`tgsweep.sweep.cluster.batch_provenance`), else ``{}``."""
    try:
        prov = batch_clusters.batch_provenance()
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
            pin_this_process()

    return PinThreads()
