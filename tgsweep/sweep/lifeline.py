"""The workers' lifeline: a local worker process leaves as soon as the client is gone.

One concept for both kinds of local workers (the process pool of
:mod:`tgsweep.sweep.executors` and the dask workers of :mod:`tgsweep.sweep.forkedcluster`):
the client makes a one-way pipe, keeps its write end and never writes; each worker gets the
read end and calls :func:`watch`.
"""

from __future__ import annotations

import os
import threading

__all__ = ["watch"]


def watch(conn) -> None:
    """Leave this worker process as soon as the client that started it is gone.

    ``conn`` is the read end of a pipe whose write end only the client holds (made by
    :class:`tgsweep.sweep.executors.LocalWorkers` for its process pool and by
    :class:`tgsweep.sweep.forkedcluster.ForkedWorker` for each dask worker): a daemon thread
    blocks reading it (no CPU, no polling), and the read ends -- end of file -- exactly when the client has exited or been killed
    (``kill -9`` included: the kernel closes a dead process's descriptors), or at once if the
    client died before this worker got here (no race).  Then this process exits without
    finalization: nobody is left to receive its results, and workers never write the store.
    Without it a worker outlived a killed client, blocked forever on the pool's call queue,
    whose pipe it holds both ends of itself, and with it the forkserver, which stays while any
    worker holds its "alive" descriptor; with the workers gone the forkserver sees the end of
    that pipe and exits too (``multiprocessing.forkserver``).  Unlike ``PR_SET_PDEATHSIG``,
    this does not depend on which process or thread forked the worker (workers are children of
    the forkserver, not of the client, and the forkserver may be forked or spawned by a
    thread that ends before the client does) and works on every POSIX system."""

    def wait():
        try:
            while True:
                conn.recv_bytes()  # the client never sends: this returns only by raising
        except BaseException:  # noqa: BLE001 - EOF (client gone) or the descriptor closed
            pass
        os._exit(70)  # EX_SOFTWARE-like status; only the forkserver reaps it

    threading.Thread(target=wait, name="tgsweep-lifeline", daemon=True).start()
