"""A local Dask cluster without nannies: plain workers forked from a running forkserver.

``distributed.LocalCluster`` starts, in the client process, a scheduler and one *nanny* per
worker; each nanny is a server of its own that starts its worker process, waits for it to
connect and restarts it when it dies.  For ``tgsweep run --dask --workers N`` on one machine
that costs more than the work of a small run (measured, trivial 8-task run on 2 cores: the
nannies' first ``multiprocessing`` context imports pandas in the client, 0.25-0.35 s, before
the first worker is forked; two nanny servers, their queues and watch threads).

:class:`ForkedCluster` is a ``distributed.deploy.SpecCluster`` with the same in-process
scheduler and, as worker spec, :class:`ForkedWorker`: a ``ProcessInterface`` that forks one
process from multiprocessing's forkserver (the one ``tgsweep.sweep.executors`` starts, which
has distributed and tgsweep imported), runs a plain ``distributed.Worker`` there with the given
number of threads, and keeps what the nanny did that a sweep relies on:

* the worker's environment (``env``, e.g. one BLAS/numba thread) and dask settings
  (``config``) are set in the child before the worker starts, and ``setup`` (a picklable
  function, e.g. pinning the thread pools and ignoring SIGINT) runs there;
* the worker exits at once when the client process dies (a pipe whose write end only the
  client holds; end of file = the client is gone), so no worker outlives a ``kill -9``;
* a worker process that dies while the cluster runs (killed, out of memory) is replaced by a
  fresh one under the same name; the scheduler reschedules the tasks the dead one held (its
  ``allowed-failures`` limit still marks a task that kills every worker it runs on);
* ``start`` returns once the worker has registered with the scheduler.

Closing sends each worker SIGTERM, on which it closes as a worker does (its scratch directory
removed, a running task not waited for), SIGKILL after 2 s, and reaps it: the trivial run's
whole tear-down (client, workers, scheduler) took 27 ms.  Nothing is lost by not waiting for
more: in a sweep the client alone writes, and every store write is a complete file renamed
into place.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import weakref

from . import lifeline

__all__ = ["ForkedCluster", "ForkedWorker", "worker_main"]

_SILENCED = []  # a worker process's silenced log handlers (kept until it exits)

#: how often one worker slot is restarted after its process died, at most
MAX_RESTARTS = 10


def worker_main(scheduler: str, name, nthreads: int, worker_kwargs: dict, env: dict,
                config: dict, setup, silence_logs, alive, ready) -> None:
    """Entry point of a forked worker process: environment, settings, ``setup()``, then a
    ``distributed.Worker`` in this process's main thread until it is closed; sends
    ``("ok", address)`` or ``("error", text)`` on ``ready`` once it has registered (or
    failed to)."""
    lifeline.watch(alive)  # ends this process when the client is gone
    import dask
    from distributed import Worker
    from distributed.utils import silence_logging_cmgr

    os.environ.update(env)
    dask.config.set(config)
    if setup is not None:
        setup()

    async def run():
        try:
            worker = Worker(scheduler, nthreads=nthreads, name=name, **worker_kwargs)
            await worker
        except BaseException as exc:  # noqa: BLE001 - reported to the client, then raised
            ready.send(("error", f"{type(exc).__name__}: {exc}"))
            ready.close()
            raise
        # SIGTERM (how the cluster ends this process): close as a worker does, so that its
        # scratch directory is removed; a running task is not waited for
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGTERM, lambda: asyncio.ensure_future(
                worker.close(reason="worker-sigterm", executor_wait=False, timeout=2)))
        ready.send(("ok", worker.address))
        ready.close()
        await worker.finished()

    if silence_logs:  # for the whole life of this process (it logs while it closes too)
        _SILENCED.append(silence_logging_cmgr(level=silence_logs))
        _SILENCED[-1].__enter__()
    asyncio.run(run())


def __getattr__(name):
    """``ForkedCluster`` and ``ForkedWorker``, built on first use (PEP 562): their bases come
    from distributed, which a serial run never imports (this module is imported with
    :mod:`tgsweep.sweep.executors`, which the runner imports)."""
    if name in ("ForkedCluster", "ForkedWorker"):
        return _classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _classes() -> dict:
    from distributed.core import Status
    from distributed.deploy.spec import ProcessInterface, SpecCluster
    from distributed.scheduler import Scheduler
    from distributed.utils import silence_logging_cmgr

    class ForkedWorker(ProcessInterface):
        """One worker slot of a :class:`ForkedCluster`: a process forked from the forkserver
        running a plain ``distributed.Worker``; restarted when it dies while the slot is open."""

        def __init__(self, scheduler: str, name=None, nthreads: int = 1, env: dict | None = None,
                     config: dict | None = None, setup=None, silence_logs=None, context=None,
                     connect_timeout: float = 60.0, **worker_kwargs):
            super().__init__(scheduler=scheduler, name=name)
            import multiprocessing as mp

            self.scheduler, self.name, self.nthreads = scheduler, name, int(nthreads)
            self.env, self.config, self.setup = dict(env or {}), dict(config or {}), setup
            self.silence_logs = silence_logs
            self.worker_kwargs = worker_kwargs
            self.connect_timeout = float(connect_timeout)
            self._ctx = context if context is not None else mp.get_context("forkserver")
            self.process = None
            self._alive_w = None
            self.restarts = 0
            self._closing = False

        def __repr__(self):
            pid = self.process.pid if self.process is not None else None
            return f"<ForkedWorker {self.name!r}: status={self.status.name}, pid={pid}>"

        def _launch(self):
            """Fork the process (blocking: the forkserver may still be importing); returns the
            client's ends (alive write end, ready read end)."""
            alive_r, alive_w = self._ctx.Pipe(duplex=False)
            ready_r, ready_w = self._ctx.Pipe(duplex=False)
            proc = self._ctx.Process(
                target=worker_main, name=f"tgsweep dask worker {self.name}", daemon=False,
                args=(self.scheduler, self.name, self.nthreads, self.worker_kwargs, self.env,
                      self.config, self.setup, self.silence_logs, alive_r, ready_w))
            try:
                proc.start()
            finally:  # the child's ends: only the child holds them from now on
                alive_r.close()
                ready_w.close()
            self.process = proc
            return alive_w, ready_r

        def _await_ready(self, ready_r):
            try:
                if not ready_r.poll(self.connect_timeout):
                    return ("error", f"no connection to the scheduler within "
                                     f"{self.connect_timeout:g} s")
                return ready_r.recv()
            except (EOFError, OSError):
                return ("error", "the worker process exited before it connected")
            finally:
                ready_r.close()

        async def start(self):
            loop = asyncio.get_running_loop()
            alive_w, ready_r = await loop.run_in_executor(None, self._launch)
            old, self._alive_w = self._alive_w, alive_w
            if old is not None:
                old.close()
            status, info = await loop.run_in_executor(None, self._await_ready, ready_r)
            if status != "ok":
                await self._stop_process()
                raise RuntimeError(f"dask worker {self.name!r} failed to start: {info}")
            self.address = info
            loop.add_reader(self.process.sentinel, self._on_exit, weakref.ref(self.process))
            await super().start()

        def _on_exit(self, proc_ref) -> None:
            """Event loop callback: the process ended; replace it unless the slot is closing."""
            proc = proc_ref()
            if proc is None or proc is not self.process:
                return
            loop = asyncio.get_running_loop()
            loop.remove_reader(proc.sentinel)
            proc.join(0)
            # exit code 0: the worker closed itself (retired by the scheduler, or the scheduler
            # is gone); only a process killed or failed is replaced
            if (self._closing or self.status != Status.running or proc.exitcode == 0
                    or self.restarts >= MAX_RESTARTS):
                return
            self.restarts += 1
            self.status = Status.created  # start() sets it running again
            loop.create_task(self._restart())

        async def _restart(self, attempts: int = 3, pause: float = 0.5):
            """Start a fresh process in this slot; a few attempts (the scheduler refuses the
            name until it has removed the dead worker), then the slot stays failed."""
            async with self.lock:
                for attempt in range(attempts):
                    if self._closing or self.status != Status.created:
                        return
                    try:
                        await self.start()
                        return
                    except Exception:  # noqa: BLE001 - tried again, then given up
                        if attempt + 1 < attempts:
                            await asyncio.sleep(pause)
                self.status = Status.failed
                self._event_finished.set()

        async def _stop_process(self, grace: float = 2.0):
            """End the process: SIGTERM (the worker closes, see :func:`worker_main`), up to
            ``grace`` seconds, then SIGKILL; reaped."""
            proc = self.process
            if proc is None:
                return
            loop = asyncio.get_running_loop()
            try:
                loop.remove_reader(proc.sentinel)
            except (ValueError, OSError):
                pass

            def stop():
                if proc.exitcode is None:
                    proc.terminate()
                    proc.join(grace)
                if proc.exitcode is None:
                    proc.kill()
                    proc.join()

            await loop.run_in_executor(None, stop)
            if self._alive_w is not None:
                self._alive_w.close()
                self._alive_w = None

        async def close(self):
            self._closing = True
            await self._stop_process()
            await super().close()


    class ForkedCluster(SpecCluster):
        """``n_workers`` :class:`ForkedWorker` s and an in-process scheduler on ``host``
        (no dashboard unless ``dashboard_address`` is given), like a ``LocalCluster`` with
        ``processes=True`` but without nannies.

        ``env``, ``config``, ``setup`` and ``silence_logs`` are passed to every worker;
        ``memory_limit`` per worker defaults to the machine's memory over ``n_workers`` (what a
        LocalCluster gives), ``worker_kwargs`` go to ``distributed.Worker``."""

        def __init__(self, n_workers: int = 2, threads_per_worker: int = 1,
                     host: str = "127.0.0.1", dashboard_address: str | None = None,
                     env: dict | None = None, config: dict | None = None, setup=None,
                     silence_logs=None, memory_limit=None, worker_kwargs: dict | None = None,
                     asynchronous: bool = False, **kwargs):
            from distributed.system import MEMORY_LIMIT

            n = int(n_workers)
            scheduler = {"cls": Scheduler, "options": {
                "host": host, "port": 0, "dashboard": dashboard_address is not None,
                # no dashboard: its HTTP server (health and metrics routes) on a free port, not
                # on 8787, which another cluster may hold
                "dashboard_address": (f"{host}:0" if dashboard_address is None
                                      else dashboard_address), "validate": False}}
            options = {"nthreads": int(threads_per_worker), "env": env, "config": config,
                       "setup": setup, "silence_logs": silence_logs, "host": host,
                       "memory_limit": (int(MEMORY_LIMIT // max(n, 1)) if memory_limit is None
                                        else memory_limit),
                       **(worker_kwargs or {})}
            worker = {"cls": ForkedWorker, "options": options}
            # silenced here until the event loop has stopped (SpecCluster would restore the levels
            # at the end of its close, while the scheduler may still log the workers' closed
            # connections from the loop thread)
            self._silence = contextlib.ExitStack()
            if silence_logs:
                self._silence.enter_context(silence_logging_cmgr(level=silence_logs))
            try:
                super().__init__(scheduler=scheduler, workers={i: worker for i in range(n)},
                                 worker=worker, asynchronous=asynchronous, **kwargs)
            except BaseException:
                self._silence.close()
                raise

        def close(self, timeout: float | None = None):
            try:
                return super().close(timeout)
            finally:
                if not self.asynchronous:
                    self._silence.close()

        def worker_pids(self) -> list[int]:
            """Process ids of the worker processes now running."""
            return [w.process.pid for w in self.workers.values()
                    if getattr(w, "process", None) is not None and w.process.exitcode is None]

    for cls in (ForkedWorker, ForkedCluster):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
    return {"ForkedWorker": ForkedWorker, "ForkedCluster": ForkedCluster}
