"""Local workers for sweeps, started in the background and only when they pay off.

:func:`tgsweep.sweep.runner.run_sweep` runs tasks on anything that runs tasks: ``None`` (this
process), a :class:`concurrent.futures.Executor`, a ``distributed.Client`` — or a
:class:`LocalWorkers`, which the CLI builds once per ``tgsweep run`` and reuses for every
``[[series]]`` member.  A :class:`LocalWorkers` starts its processes in a background thread:
workers asked for (``auto=False``) while the client computes the first task (which also fills
the numba cache); the others (``auto``) only when, a task timed, the estimated remaining work
is worth more than the workers cost to start (otherwise the run stays serial and says so).
Either way the client computes tasks while the workers start.

Two kinds:

* ``"processes"`` (default): a :class:`concurrent.futures.ProcessPoolExecutor` on a forkserver
  that has imported :mod:`tgsweep.sweep.tasks` and initialized numba once
  (:mod:`tgsweep.sweep.worker_preload`), so each worker starts in milliseconds with tgsweep
  loaded; workers ignore SIGINT (Ctrl-C is handled by the client alone) and leave as soon as
  the client is gone, ``kill -9`` included (a lifeline pipe, :func:`tgsweep.sweep.lifeline.watch`).  ``tgsweep run
  --workers N`` starts that server first thing (:func:`start_forkserver`), forked from the
  still single-threaded client, so that it is ready by the end of the client's first task.
* ``"dask"``: a :class:`~tgsweep.sweep.forkedcluster.ForkedCluster` (a ``SpecCluster``:
  scheduler in this process on 127.0.0.1, no dashboard unless asked, plain workers without
  nannies, one thread each, the worker profiler off, forked from a forkserver that imported
  distributed and tgsweep once; a ``distributed.LocalCluster`` where there is no forkserver)
  and its ``Client``.

Every worker runs one BLAS / OpenMP / numba thread (:data:`PIN_ENV`, and threadpoolctl limits
for libraries already loaded).
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager

__all__ = ["PIN_ENV", "LocalWorkers", "pin_this_process", "DASK_CONFIG", "dask_env",
           "start_forkserver", "preload_modules"]

from ..threads import PIN_ENV  # environment of worker processes: one BLAS/OpenMP/numba thread
from . import forkedcluster  # dask workers' entry point (distributed loaded on first use)
from .lifeline import watch as lifeline_watch
from . import tasks  # noqa: F401 - what workers run; a forkserver forked from here inherits it

#: dask settings for sweep clusters: per-task costs that a sweep does not need are off
#: (the statistical profiler samples every worker thread every 10 ms)
DASK_CONFIG = {"distributed.worker.profile.enabled": False}


def dask_env(config: dict | None = None) -> dict[str, str]:
    """:data:`DASK_CONFIG` as the environment variables dask reads at import
    (``distributed.worker.profile.enabled`` -> ``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED``,
    values parsed with ``ast.literal_eval``): for workers started elsewhere (batch jobs)."""
    return {"DASK_" + key.upper().replace(".", "__").replace("-", "_"): repr(value)
            for key, value in (DASK_CONFIG if config is None else config).items()}

_LIMITS = []  # threadpoolctl limits kept alive in worker processes

#: what the forkserver of local workers imports once (tasks, and numba's target initialized)
PRELOAD = "tgsweep.sweep.worker_preload"


def preload_modules(kind: str = "processes") -> list[str]:
    """Modules the forkserver imports for workers of ``kind``.

    Process-pool workers: :data:`PRELOAD` (tasks, and numba's CPU target initialized once in
    the server).  Dask workers (:mod:`tgsweep.sweep.forkedcluster`): distributed, that module
    and this one (tasks), but *not* numba's target: the workers are forked as soon as the
    scheduler runs, and the server initializing the target first (~0.3 s of CPU, 0.4-0.5 s
    of wall time on 2 busy cores) delayed every worker by that much (measured: the workers'
    fork requests waited for it).  A worker initializes it itself on its first kernel call,
    on its own core while the others do the same; a run that calls no kernel never does.  The
    price, where tasks call kernels: that initialization once per worker instead of once
    (measured, 40 tasks of a 48-site lattice on 2 workers: +0.4 s of CPU, wall time within
    the noise of a loaded machine); the trivial run's start-up gains 0.4-0.5 s of wall time."""
    if kind == "processes":
        return [PRELOAD]
    return ["distributed", f"{__package__}.forkedcluster", __name__]


def start_forkserver(kind: str = "processes") -> str:
    """Start the forkserver that local workers of ``kind`` fork from, now, in the background
    (its imports run on another core while this process goes on); returns how: ``"forked"``,
    ``"spawned"``, ``"running"`` (already) or ``"unavailable"``.

    Called by ``tgsweep run --workers N`` first thing, before the command starts any thread.
    In a process that still has a single thread, this process imports :func:`preload_modules`
    (which it needs for its own first task anyway: tasks, distributed for a LocalCluster) and
    the server is *forked* from it, then only initializes numba's target (``worker_preload``,
    ~0.3 s on the other core; the client's first task may call no kernel at all) instead of a
    fresh interpreter importing everything again (~1.5 s of CPU), and it exits at once (``os._exit``, no interpreter finalization)
    when its clients (this process, the workers) are gone.  Otherwise (other threads: a
    fork could inherit a lock held by one of them), or where the forkserver protocol is not
    the one this was written for (Python 3.11's), multiprocessing spawns it as usual.
    Either way it is multiprocessing's own forkserver (``multiprocessing.forkserver.main``),
    which the process pool and LocalCluster use unchanged."""
    import multiprocessing as mp

    if "forkserver" not in mp.get_all_start_methods():
        return "unavailable"
    from multiprocessing import forkserver

    preload = preload_modules(kind)
    mp.get_context("forkserver").set_forkserver_preload(preload)
    server = getattr(forkserver, "_forkserver", None)
    if server is not None and getattr(server, "_forkserver_pid", None) is not None:
        return "running"
    with _server_environ():
        if _can_fork_server(server):
            # here, not in the server, what this process needs too (tasks: imported with this
            # module; distributed); not numba's target (a small ring's task calls no kernel):
            # the server initializes it (PRELOAD), on the other core
            if kind == "dask":
                try:
                    import distributed  # noqa: F401
                except ImportError:  # as the forkserver does: the cluster will say it
                    pass
            if _can_fork_server(server):  # (an import may have started a thread)
                _fork_server(server, preload)
                return "forked"
        forkserver.ensure_running()
    return "spawned"


#: the signature of multiprocessing.forkserver.main that :func:`_fork_server` calls (3.11)
_SERVER_MAIN = ("listener_fd", "alive_r", "preload", "main_path", "sys_path")


def _can_fork_server(server) -> bool:
    """Whether the forkserver can be forked from this process: a single Python thread, and the
    forkserver state and protocol of Python 3.11 (no authentication key; a version that
    differs gets the spawned server)."""
    import inspect
    from multiprocessing import forkserver

    if server is None or not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    if not all(hasattr(server, a) for a in ("_forkserver_address", "_forkserver_alive_fd",
                                            "_forkserver_pid")):
        return False
    if any("authkey" in a for a in vars(server)):
        return False
    try:
        params = tuple(inspect.signature(forkserver.main).parameters)
    except (TypeError, ValueError):
        return False
    return params == _SERVER_MAIN


def _fork_server(server, preload) -> None:
    """``multiprocessing.forkserver.ForkServer.ensure_running`` with ``os.fork`` in place of
    spawning a fresh interpreter (same socket, alive pipe and resource tracker)."""
    import socket
    import sys
    from multiprocessing import connection, forkserver, resource_tracker, util

    resource_tracker.ensure_running()
    with socket.socket(socket.AF_UNIX) as listener:
        address = connection.arbitrary_address("AF_UNIX")
        listener.bind(address)
        if not util.is_abstract_socket_namespace(address):
            os.chmod(address, 0o600)
        listener.listen()
        # every client owns the write end of the "alive" pipe: EOF on the read end = no client
        alive_r, alive_w = os.pipe()
        for stream in (sys.stdout, sys.stderr):  # nothing buffered here is written twice
            if stream is not None:
                stream.flush()
        try:
            pid = os.fork()
        except BaseException:
            os.close(alive_w)
            os.close(alive_r)
            raise
        if pid == 0:  # the server: never returns into this process's code
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # as forkserver.main does, at once
                os.close(alive_w)
                forkserver.main(listener.fileno(), alive_r, preload)
            except SystemExit:  # the last client is gone
                pass
            except BaseException:  # noqa: BLE001 - report, then leave
                code = 1
                try:
                    sys.excepthook(*sys.exc_info())
                    sys.stderr.flush()
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                os._exit(code)
        os.close(alive_r)
    server._forkserver_address = address
    server._forkserver_alive_fd = alive_w
    server._forkserver_pid = pid


def pin_this_process() -> None:
    """One BLAS/OpenMP/numba thread in this process from now on (environment for libraries
    loaded later, threadpoolctl for those already loaded)."""
    os.environ.update(PIN_ENV)
    try:
        import numba
        from numba.core import config

        # numba read NUMBA_NUM_THREADS when it was imported, possibly before the pin (a
        # forkserver forked from the client inherits its numba): it must adopt the pinned value
        # before its thread pool is launched, or every later compilation, which re-reads the
        # environment, refuses ("Cannot set NUMBA_NUM_THREADS ... once the threads have been
        # launched") and the sample fails
        try:
            config.reload_config()
        except RuntimeError:  # the pool was launched already, with more threads: limit it
            pass
        numba.set_num_threads(1)
    except (ImportError, ValueError):
        pass
    from threadpoolctl import threadpool_limits

    _LIMITS.append(threadpool_limits(limits=1))


def _init_pool_worker(lifeline=None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the client shuts workers down
    if lifeline is not None:
        lifeline_watch(lifeline)
    pin_this_process()


def dask_setup(worker) -> None:
    """Dask worker preload hook (``preload=["tgsweep.sweep.executors"]``, run in the worker
    process's main thread): ignore SIGINT, so that Ctrl-C in a terminal (sent to every process
    of the foreground group) is handled by the client alone, and pin threads."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread (a worker started in-process)
        pass
    pin_this_process()


def _init_dask_worker() -> None:
    """Set-up of a :class:`~tgsweep.sweep.forkedcluster.ForkedCluster` worker process, before
    its worker starts: as :func:`dask_setup`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pin_this_process()


def _ready() -> int:
    return os.getpid()


@contextmanager
def _server_environ():
    """This process's environment while it starts the forkserver (and pool processes) that
    workers come from: BLAS loads with one thread there; multiprocessing's resource tracker
    (started with them) is told not to warn about a pool's semaphores, which the pool unlinks
    itself when close(now=True) terminated the workers after Ctrl-C."""
    quiet = {**PIN_ENV, "PYTHONWARNINGS": ",".join(filter(None, [
        os.environ.get("PYTHONWARNINGS"),
        "ignore:resource_tracker:UserWarning:multiprocessing.resource_tracker"]))}
    saved = {k: os.environ.get(k) for k in quiet}
    os.environ.update(quiet)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class LocalWorkers:
    """``n`` worker processes on this machine, started on :meth:`start` (background) or
    :meth:`get` (waits), reusable across runs, shut down by :meth:`close`.

    With ``auto``, the runner may decide not to use them (the work left is too small).
    ``start_seconds`` is the estimate the runner compares with the work left when deciding
    between serial and parallel (measured on 2 cores: about 0.5 s for processes, 1 s for dask:
    the trivial run's start-up and tear-down over ``import tgsweep``, +0.3 s and +0.7 s).
    """

    def __init__(self, n: int = 2, kind: str = "processes", auto: bool = True,
                 dashboard: bool = False):
        if kind not in ("processes", "dask"):
            raise ValueError(f"workers kind must be 'processes' or 'dask', got {kind!r}")
        self.n, self.kind, self.auto, self.dashboard = int(n), kind, auto, dashboard
        self.start_seconds = 0.5 if kind == "processes" else 1.0
        self._thread = None
        self._executor = None
        self._cluster = None
        self._error = None
        self._lock = threading.Lock()
        self._lifeline = None  # (read end, write end) of the workers' lifeline pipe
        #: kinds of spec (runner's kernel key) whose tasks these workers ran: their kernels are
        #: loaded, so a later run of the same kind needs no first task in the client
        self.warmed: set = set()

    def __repr__(self):
        return f"{self.n} {'worker processes' if self.kind == 'processes' else 'dask workers'}"

    @property
    def cluster(self):
        """The dask cluster of ``kind="dask"`` workers once started (a
        :class:`~tgsweep.sweep.forkedcluster.ForkedCluster` where the forkserver exists, else a
        ``LocalCluster``); None otherwise."""
        return self._cluster

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def ready(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def start(self) -> None:
        """Begin starting the workers in a background thread (idempotent)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._start, name="tgsweep-workers",
                                                daemon=True)
                self._thread.start()

    def _start(self):
        try:
            if self.kind == "processes":
                self._executor = self._make_pool()
            else:
                self._executor = self._make_dask()
        except BaseException as exc:  # noqa: BLE001 - re-raised in get()
            self._error = exc

    def _make_pool(self):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("forkserver")
        start_forkserver("processes")  # unless already running (forked at the command's start)
        if self._lifeline is None:
            # read end to every worker (passed to it as a descriptor by the forkserver), write
            # end kept here only: its end of file tells the workers that this process is gone
            self._lifeline = ctx.Pipe(duplex=False)
        with _server_environ():
            pool = ProcessPoolExecutor(self.n, mp_context=ctx, initializer=_init_pool_worker,
                                       initargs=(self._lifeline[0],))
            for f in [pool.submit(_ready) for _ in range(self.n)]:  # start every process now
                f.result()
        return pool

    def _make_dask(self):
        import multiprocessing as mp

        cfg = dict(DASK_CONFIG)
        forked = "forkserver" in mp.get_all_start_methods()
        if forked:
            # plain workers forked from one server that imported distributed and tgsweep once
            # (forked itself from this process at the command's start), no nannies: see
            # tgsweep.sweep.forkedcluster
            cfg["distributed.worker.multiprocessing-method"] = "forkserver"
            start_forkserver("dask")

        import dask
        from distributed import Client

        with dask.config.set(cfg):
            if forked:
                self._cluster = forkedcluster.ForkedCluster(
                    n_workers=self.n, threads_per_worker=1, host="127.0.0.1",
                    dashboard_address="127.0.0.1:0" if self.dashboard else None,
                    env={**PIN_ENV, **dask_env()}, config=cfg, setup=_init_dask_worker,
                    silence_logs=50)
            else:
                from distributed import LocalCluster

                self._cluster = LocalCluster(
                    n_workers=self.n, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address="127.0.0.1:0" if self.dashboard else None,
                    env={**PIN_ENV, **dask_env()}, silence_logs=50, preload=[__name__])
            return Client(self._cluster)

    def _cut_lifeline(self) -> None:
        """Close both ends of the lifeline (after the pool is shut down: a worker still alive,
        e.g. one that ignored termination, exits when it sees the end of file)."""
        line, self._lifeline = self._lifeline, None
        for conn in line or ():
            conn.close()

    def get(self):
        """The executor (a ProcessPoolExecutor or a distributed Client), started if needed."""
        self.start()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._executor

    def restart(self):
        """Replace a broken process pool (a worker died) by a fresh one; returns it."""
        if self.kind != "processes":
            return self.get()
        old = self._executor
        self._executor = None
        self.warmed = set()
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)
        self._executor = self._make_pool()
        return self._executor

    def close(self, now: bool = False) -> None:
        """Shut the workers down quietly; pending tasks are cancelled, and with ``now`` (after
        Ctrl-C) running ones are not waited for."""
        if self._thread is None:
            return
        self._thread.join()
        ex, self._executor = self._executor, None
        cluster, self._cluster = self._cluster, None
        self._thread = None
        self.warmed = set()
        if self.kind == "processes" and ex is None:
            self._cut_lifeline()  # the pool did not start (its error was raised by get())
        if ex is not None and self.kind == "processes":
            procs = list((getattr(ex, "_processes", None) or {}).values())
            if now:  # running tasks are not waited for (their results would be discarded)
                ex.shutdown(wait=False, cancel_futures=True)
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.join(5)
            ex.shutdown(wait=True, cancel_futures=True)
            self._cut_lifeline()
            return
        try:
            if ex is not None:
                ex.close(timeout=5 if now else None)
            if cluster is not None:
                cluster.close(timeout=10 if now else None)
        except Exception:  # noqa: BLE001 - after Ctrl-C: workers are going away anyway
            if not now:
                raise
