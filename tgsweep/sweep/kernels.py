"""The numba kernels of tgsweep as the sweep sees them: how many were compiled in this process
(compile once per machine, announce the first compilation while it happens).

Every kernel is ``@njit(cache=True)``: the first call with a new argument type compiles it
(seconds) and writes the machine code to numba's cache (``__pycache__`` next to the source, or
``$NUMBA_CACHE_DIR``); later processes on the same machine load it (milliseconds).  A sweep
therefore computes its first task in the client before any worker starts computing
(:func:`tgsweep.sweep.runner.run_sweep`): exactly the kernels that the spec's observables call
get compiled, once, and the workers load them.

Which kernels a task calls can depend on the sample (the OBDM uses
``_obdm_kernels.obdm_blocked`` from N >= 32 particles on and ``obdm_grouped`` below, and N
depends on the disorder drawn), so the client's first task cannot always compile everything
the workers will need.  :func:`install_compile_lock` therefore serializes compilation across
the processes of a machine: a process that finds a kernel missing from the cache takes an
exclusive OS lock (``flock`` on :func:`compile_lock_path`), loads the kernel if another process
compiled it meanwhile, and only otherwise compiles it and writes it to the cache.  Every kernel
signature is thus compiled once per machine; the other workers wait for it and load it.  The
kernel drops the lock of a process that dies, so a killed worker never blocks the others.  A
kernel already in the process's memory never takes the lock; a load from the cache takes it
for milliseconds (and waits while another process compiles).

This module counts compilations and locks them; it never compiles by itself.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
import time

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process lock
    fcntl = None

__all__ = ["dispatchers", "compiled_count", "loaded_count", "CompileWatch",
           "compile_lock_path", "lock_compiles", "install_compile_lock"]

_SCANNED: list = [None, None, {}]  # (len(sys.modules), tgsweep modules and sizes, dispatchers)


def dispatchers() -> dict:
    """``{"module.function": numba dispatcher}`` of every kernel in the tgsweep modules loaded
    so far (kernels not loaded yet cannot have been compiled in this process).  The modules are
    scanned again only when a module was loaded or a tgsweep module changed size since the last
    call (every task asks twice: a full scan cost ~1-3 ms a call)."""
    from numba.core.dispatcher import Dispatcher

    n_mod, known, found = _SCANNED
    if n_mod != len(sys.modules) or known is None:
        # copies, taken atomically: another thread may be importing (a LocalCluster starting
        # in the background imports distributed while the client computes its first task)
        mods = [mod for name, mod in sys.modules.copy().items()
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
        for obj in vars(mod).copy().values():
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


def compile_lock_path() -> str:
    """The file whose ``flock`` serializes kernel compilation on this machine: in the temporary
    directory (local to the machine), one per user and numba cache location
    (``$NUMBA_CACHE_DIR``, or the ``__pycache__`` folders next to tgsweep's sources)."""
    from numba.core import config

    where = config.CACHE_DIR or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tag = hashlib.sha1(os.path.abspath(where).encode()).hexdigest()[:12]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return os.path.join(tempfile.gettempdir(), f"tgsweep-numba-compile-{uid}-{tag}.lock")


class _MachineLock:
    """Re-entrant in this process (a kernel's compilation compiles the kernels it calls),
    exclusive across the processes of the machine (``flock``; none where there is no fcntl or
    the file cannot be locked: then processes may compile the same kernel, as numba does)."""

    def __init__(self):
        self._depth = 0
        self._fd = None

    def __enter__(self):
        self._depth += 1
        if self._depth == 1 and fcntl is not None:
            try:
                fd = os.open(compile_lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                return self
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:
                os.close(fd)
                return self
            self._fd = fd
        return self

    def __exit__(self, *exc):
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        return False


_MACHINE_LOCK = _MachineLock()
_WRAPPED: list = [0]  # number of dispatchers seen by the last install_compile_lock


def lock_compiles(disp) -> bool:
    """Make the numba dispatcher ``disp`` compile under the machine lock (idempotent); returns
    whether it was wrapped now."""
    if getattr(disp.compile, "tgsweep_locked", False):
        return False
    disp.compile = _locked_compile(disp)
    return True


def _locked_compile(disp):
    """``disp.compile`` taking the machine lock unless the signature is already in memory.
    numba's in-process compiler lock is taken first, so the two locks are always taken in the
    same order (no deadlock with another thread compiling)."""
    from numba.core import sigutils
    from numba.core.compiler_lock import global_compiler_lock

    compile_ = disp.compile

    def compile(sig):
        args, _ = sigutils.normalize_signature(sig)
        if tuple(args) in disp.overloads:
            return compile_(sig)
        with global_compiler_lock, _MACHINE_LOCK:
            return compile_(sig)  # loads from the cache if another process wrote it meanwhile

    compile.tgsweep_locked = True
    return compile


def install_compile_lock() -> int:
    """Make every tgsweep kernel loaded so far compile under the machine lock (idempotent,
    cheap when nothing new was loaded: each task calls it); returns how many were wrapped."""
    found = dispatchers()
    if len(found) == _WRAPPED[0]:
        return 0
    n = sum(lock_compiles(disp) for disp in found.values())
    _WRAPPED[0] = len(found)
    return n


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
