"""Imported once by the forkserver that local workers fork from (never by the client; a server
forked from the client inherits its imports: :func:`tgsweep.sweep.executors.start_forkserver`).

It imports what a task needs (:mod:`tgsweep.sweep.tasks`) and initializes numba's CPU target
(its registries of implementations: ~0.3 s, paid by the first call of any numba kernel in a
process), so that every worker forked from the server starts with both and loads the cached
kernels of its first task in milliseconds.  Nothing is compiled here.
"""

from __future__ import annotations

from numba.core.registry import cpu_target

from . import tasks  # noqa: F401 - imported for the workers forked from this process

cpu_target.target_context.refresh()
