"""The numba compilation policy of tgsweep, declared once: no kernel inherits floating-point flags.

Every kernel module of :mod:`tgsweep.core` takes ``njit`` from here instead of from numba.  This
``njit`` is numba's, with :data:`EXPLICIT` filled in for every option the decorator leaves out,
so that every kernel states its ``fastmath`` and ``error_model`` itself.

Why: numba compiles a kernel that leaves ``fastmath`` (or ``error_model``) unset with the flags
of the kernel whose compilation first needed it (``Flags.inherit_if_not_set`` in
``numba.core.cpu.CPUTargetOptions.finalize``).  The shared helper ``_obdm_kernels.det_lu`` (LU
determinant), first reached from the ``fastmath=True`` kernel ``_pending_values_ldl`` of the
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

``fastmath=True`` stays a per-kernel choice written at the kernel; its callees keep their own
flags.  A compiled kernel in numba's cache is not invalidated when :data:`EXPLICIT` changes (only
when its own module's source does): changing these defaults needs a cleared cache.
"""

from __future__ import annotations

from numba import njit as _numba_njit

__all__ = ["njit", "EXPLICIT"]

#: options every kernel gets unless its decorator gives them (numba's own defaults, made explicit)
EXPLICIT = {"fastmath": False, "error_model": "python"}


def njit(*args, **options):
    """``numba.njit`` with :data:`EXPLICIT` for the options not given; used as ``@njit``,
    ``@njit(cache=True)``, ``@njit(cache=True, fastmath=True)`` or ``njit(signature, ...)``."""
    for key, value in EXPLICIT.items():
        options.setdefault(key, value)
    return _numba_njit(*args, **options)
