"""The numba kernels of tgsweep as the sweep sees them: how many were compiled in this process
(compile once per machine, announce the first compilation while it happens).

Every kernel is ``@njit(cache=True)``: the first call with a new argument type compiles it
(seconds) and writes the machine code to numba's cache (``__pycache__`` next to the source, or
``$NUMBA_CACHE_DIR``); later processes on the same machine load it (milliseconds).  A sweep
therefore computes its first task in the client before any worker starts computing
(:func:`tgsweep.sweep.runner.run_sweep`): exactly the kernels that the spec's observables call
get compiled, once, and the workers load them.  This module only counts; it never compiles.
"""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["dispatchers", "compiled_count", "loaded_count", "CompileWatch"]

_SCANNED: list = [None, None, {}]  # (len(sys.modules), tgsweep modules and sizes, dispatchers)


def dispatchers() -> dict:
    """``{"module.function": numba dispatcher}`` of every kernel in the tgsweep modules loaded
    so far (kernels not loaded yet cannot have been compiled in this process).  The modules are
    scanned again only when a module was loaded or a tgsweep module changed size since the last
    call (every task asks twice: a full scan cost ~1-3 ms a call)."""
    from numba.core.dispatcher import Dispatcher

    n_mod, known, found = _SCANNED
    if n_mod != len(sys.modules) or known is None:
        mods = [mod for name, mod in list(sys.modules.items())
                if mod is not None and (name == "tgsweep" or name.startswith("tgsweep."))]
    else:
        mods = [mod for mod, _ in known]
    stamp = [(mod, len(vars(mod))) for mod in mods]
    if known is not None and len(stamp) == len(known) and all(
            a is b and x == y for (a, x), (b, y) in zip(stamp, known)):
        _SCANNED[0] = len(sys.modules)
        return dict(found)
    out = {}
    for mod in mods:
        for obj in list(vars(mod).values()):
            if isinstance(obj, Dispatcher):
                fn = obj.py_func
                out.setdefault(f"{fn.__module__}.{fn.__qualname__}", obj)
    _SCANNED[:] = [len(sys.modules), stamp, out]
    return dict(out)


def compiled_count() -> int:
    """Number of kernel compilations (cache misses) in this process so far."""
    return sum(sum(d.stats.cache_misses.values()) for d in dispatchers().values())


def loaded_count() -> int:
    """Number of kernels loaded from the on-disk cache (cache hits) in this process so far."""
    return sum(sum(d.stats.cache_hits.values()) for d in dispatchers().values())


class CompileWatch:
    """Watch this process's kernel compilations while a block runs; print ``message`` (once) as
    soon as the first compilation starts, so a long first compilation is never silent.

    ``with CompileWatch(stream) as w: ...`` then ``w.compiled`` and ``w.loaded`` (kernels
    compiled, and loaded from the cache, in the block) and ``w.seconds``.
    """

    def __init__(self, stream=None, message: str = "compiling kernels, first run only …",
                 poll: float = 0.25):
        self.stream, self.message, self.poll = stream, message, poll
        self.compiled = self.loaded = 0
        self.seconds = 0.0
        self.announced = False
        self._stop = threading.Event()

    def __enter__(self):
        self._n0 = compiled_count()
        self._h0 = loaded_count()
        self._t0 = time.perf_counter()
        if self.stream is not None:
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(self.poll):
            try:
                started = compiled_count() > self._n0
            except RuntimeError:  # a dict changed size while a module was being imported
                continue
            if started:
                self.announced = True
                self.stream.write(self.message)
                self.stream.flush()
                return

    def __exit__(self, *exc):
        self._stop.set()
        if self.stream is not None:
            self._thread.join()
        self.seconds = time.perf_counter() - self._t0
        self.compiled = compiled_count() - self._n0
        self.loaded = loaded_count() - self._h0
        if self.announced:
            self.stream.write(f" {self.seconds:.0f} s ({self.compiled} kernels, cached for "
                              "the next runs)\n")
            self.stream.flush()
        return False
