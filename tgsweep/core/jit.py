"""The numba compilation policy of tgsweep, declared once: no kernel inherits floating-point flags.

Every kernel module of :mod:`tgsweep.core` takes ``njit`` from here instead of from numba.  This
``njit`` is numba's, with :data:`EXPLICIT` filled in for every option the decorator leaves out,
so that every kernel states its ``fastmath`` and ``error_model`` itself.

Why: numba compiles a kernel that leaves ``fastmath`` (or ``error_model``) unset with the flags
of the kernel whose compilation first needed it (``Flags.inherit_if_not_set`` in
``numba.core.cpu.CPUTargetOptions.finalize``).  The shared helper ``_obdm_kernels.det_lu`` (LU
determinant), first reached from a ``fastmath=True`` kernel ``_pending_values_ldl`` of the
blocked OBDM sweep, was compiled with a reciprocal multiply and fused multiply-adds; first
reached from the grouped sweep, or called directly, it divided and rounded every product.  The
on-disk cache keys a compiled kernel by its argument types only, and every kernel that calls the
helper carries its own copy of the helper's machine code.  So whichever compilation happened
first in the process that filled a cache decided the last bits of the OBDM, and of the natural
occupations computed from it, in every process that later loaded that cache: a LocalCluster
run on a cache filled by the test suite and SLURM workers on their node-local cache disagreed
in the last bits of ``lambda0``.  With every flag explicit, a kernel's machine code is a function
of its own source and its callees' sources only, whatever the order of compilation and whichever
process compiled it (``tests/test_reproducibility.py``).

Fast math is a per-kernel choice written at the kernel, and limited to :data:`FMA` (FMA
contraction): with reassociation allowed, the code a process compiles and the code it loads
from the cache differ in the last bits.  Callees keep their own flags.

The cache stamp (declared here too).  numba stamps a cached kernel with a hash of its *own*
module's source only, yet a kernel carries its callees' machine code: ``_thermal_kernels``
calls ``_obdm_kernels.det_lu``, and an edit of ``_obdm_kernels.py`` alone would leave the
thermal kernels' cached copy of the old helper in use (a cache-history dependence across code
versions, e.g. after a ``git pull`` that touches one kernel file).  So every kernel of
:mod:`tgsweep.core` is stamped with one hash over all kernel sources (:func:`kernel_sources`:
the ``_*_kernels.py`` modules and this file, so :data:`EXPLICIT` counts too): an edit of any
of them invalidates every tgsweep kernel in the cache, and a cached kernel is always the
compilation of the sources on disk.  This is done by two cache locators (numba's own, with
:meth:`get_source_stamp` replaced) put in front of numba's list; they accept only files of
this folder, so other packages' numba caches are untouched.
"""

from __future__ import annotations

import functools
import hashlib
import os

from numba import njit as _numba_njit
from numba.core import caching as _caching

__all__ = ["njit", "EXPLICIT", "FMA", "kernel_sources", "kernel_sources_stamp"]

_HERE = os.path.dirname(os.path.abspath(__file__))

#: options every kernel gets unless its decorator gives them (numba's own defaults, made explicit)
EXPLICIT = {"fastmath": False, "error_model": "python"}

#: the only fast-math flag a kernel may ask for: fused multiply-add contraction.  The other
#: flags (``fastmath=True`` sets them all) let LLVM reassociate, and then the machine code
#: compiled in a process and the code numba writes to and loads from its cache gave different
#: last bits: a complex blocked OBDM (M = 128, N = 40) hashed differently in the process that
#: compiled it and in every process that loaded the cache, while with ``{"contract"}`` alone
#: (or no flag) both agree (``tests/test_reproducibility.py``).
FMA = frozenset({"contract"})


def njit(*args, **options):
    """``numba.njit`` with :data:`EXPLICIT` for the options not given; used as ``@njit``,
    ``@njit(cache=True)``, ``@njit(cache=True, fastmath=FMA)`` or ``njit(signature, ...)``."""
    for key, value in EXPLICIT.items():
        options.setdefault(key, value)
    fast = options["fastmath"]
    if fast is not False:
        if fast is True or not set(fast) <= FMA:
            raise ValueError(f"tgsweep kernels may use fastmath=False or fastmath=FMA "
                             f"({sorted(FMA)}), got fastmath={fast!r}: reassociating flags make "
                             "the cached machine code differ from the in-process compilation")
        options["fastmath"] = set(fast)
    return _numba_njit(*args, **options)


def kernel_sources() -> list[str]:
    """The files whose content stamps every cached tgsweep kernel: this module and every
    ``_*_kernels.py`` of :mod:`tgsweep.core`, sorted."""
    names = [n for n in os.listdir(_HERE)
             if n == "jit.py" or (n.startswith("_") and n.endswith("_kernels.py"))]
    return sorted(os.path.join(_HERE, n) for n in names)


@functools.lru_cache(maxsize=8)
def _stamp_of(files: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for path, _, _ in files:
        digest.update(os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def kernel_sources_stamp() -> str:
    """SHA-256 over the names and contents of :func:`kernel_sources` (re-read when a file's
    mtime or size changes): the source stamp of every cached tgsweep kernel."""
    files = tuple((p, (st := os.stat(p)).st_mtime_ns, st.st_size) for p in kernel_sources())
    return _stamp_of(files)


class _AllKernelSourcesStamp:
    """Cache-locator mixin: the stamp is :func:`kernel_sources_stamp`, for files of this
    folder only (``from_function`` declines any other file, so numba's next locator takes it)."""

    def get_source_stamp(self):
        return kernel_sources_stamp()

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.path.dirname(os.path.abspath(py_file)) != _HERE:
            return None
        return super().from_function(py_func, py_file)


# numba >= 0.61 names these without the leading underscore
_CACHE_IMPL = getattr(_caching, "CacheImpl", None) or getattr(_caching, "_CacheImpl")
_USER_DIR = (getattr(_caching, "UserProvidedCacheLocator", None)
             or getattr(_caching, "_UserProvidedCacheLocator"))
_IN_TREE = getattr(_caching, "InTreeCacheLocator", None) or getattr(_caching, "_InTreeCacheLocator")


class _UserDirLocator(_AllKernelSourcesStamp, _USER_DIR):
    """``$NUMBA_CACHE_DIR`` (numba's own layout), stamped by all kernel sources."""


class _InTreeLocator(_AllKernelSourcesStamp, _IN_TREE):
    """``__pycache__`` next to the sources (numba's own layout), stamped by all kernel sources."""


def _install_locators() -> None:
    classes = _CACHE_IMPL._locator_classes
    for cls in (_InTreeLocator, _UserDirLocator):   # user dir first, as numba's own order
        if cls not in classes:
            classes.insert(0, cls)


_install_locators()
