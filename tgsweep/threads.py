"""Thread policy of tgsweep, declared once: one BLAS/OpenMP/numba thread per process.

tgsweep's kernels are single-threaded by design; parallelism comes from running samples in
separate processes (Dask workers).  A multi-threaded BLAS does not help them: the OBDM and
spectrum kernels make many small LAPACK/BLAS calls, where the thread hand-off costs more than
the work, and on a machine with few cores the BLAS pool competes with the other processes.
The README's Python example ran 3-5x slower with OpenBLAS's default pool than with one thread
on a 2-core machine (``benchmarks/bench_readme_example.py`` measures the ratio).

So ``import tgsweep`` applies :func:`apply_default`: the BLAS/OpenMP pools already loaded in
the process are limited to ``TGSWEEP_BLAS_THREADS`` threads (default ``1``) at run time through
``threadpoolctl``.  This is a process-wide setting and also applies to your own NumPy/SciPy
calls in that process; to opt out, set ``TGSWEEP_BLAS_THREADS=keep`` before the import, or call
:func:`limit_blas` with another number (``limit_blas(None)`` restores the libraries' own
defaults).  LocalCluster workers start with :data:`PIN_ENV` in their environment (read by every
library as it loads) and get the run-time limit again in a worker plugin; the ``tgsweep``
command adds :data:`PIN_ENV` to its own environment (explicit settings win) for libraries it
loads later and for its child processes.  numba's own thread pool only serves
``parallel=True`` kernels, which tgsweep does not use; ``NUMBA_NUM_THREADS`` is pinned anyway.
"""

from __future__ import annotations

import os

__all__ = ["PIN_ENV", "ENV_SWITCH", "pin_env", "pinned_environ", "limit_blas", "apply_default",
           "blas_threads"]

#: environment variables giving one thread to BLAS (OpenBLAS, MKL, Accelerate), OpenMP and numba
PIN_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "NUMBA_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1"}

#: environment switch read by :func:`apply_default`: a positive integer, or ``keep``
ENV_SWITCH = "TGSWEEP_BLAS_THREADS"

_LIMITER = None  # the threadpoolctl limiter currently applied by limit_blas (kept referenced)


def pin_env(env=None, override: bool = False):
    """Put :data:`PIN_ENV` into ``env`` (default ``os.environ``); existing values win unless
    ``override``.  Returns ``env``.  Only effective for libraries not yet loaded."""
    env = os.environ if env is None else env
    for k, v in PIN_ENV.items():
        if override:
            env[k] = v
        else:
            env.setdefault(k, v)
    return env


def pinned_environ(base=None) -> dict:
    """A copy of ``base`` (default ``os.environ``) with :data:`PIN_ENV` forced: the
    environment for a child process (worker, test subprocess) that must run one thread."""
    return pin_env(dict(os.environ if base is None else base), override=True)


def limit_blas(n: int | None = 1):
    """Limit the BLAS/OpenMP thread pools loaded in this process to ``n`` threads now
    (``None``: undo a previous limit, back to the libraries' own settings).  Returns the
    threadpoolctl limiter (or None when undoing)."""
    global _LIMITER
    from threadpoolctl import threadpool_limits

    if _LIMITER is not None:
        _LIMITER.restore_original_limits()
        _LIMITER = None
    if n is None:
        return None
    if int(n) < 1:
        raise ValueError(f"limit_blas: n must be a positive integer or None, got {n!r}")
    _LIMITER = threadpool_limits(limits=int(n))
    return _LIMITER


def _switch_value(raw: str | None):
    """Parse ``TGSWEEP_BLAS_THREADS``: '' / unset -> 1, 'keep' -> None, 'N' -> N >= 1."""
    if raw is None or raw.strip() == "":
        return 1
    raw = raw.strip().lower()
    if raw == "keep":
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{ENV_SWITCH}: must be a positive integer or 'keep', got {raw!r}")
    return n


def apply_default() -> int | None:
    """The import-time policy: limit loaded BLAS pools to ``TGSWEEP_BLAS_THREADS`` (default 1)
    threads, or leave them alone with ``keep``.  Returns the limit applied (None: none)."""
    n = _switch_value(os.environ.get(ENV_SWITCH))
    if n is not None:
        limit_blas(n)
    return n


def blas_threads() -> dict[str, int]:
    """Current number of threads of every loaded BLAS/OpenMP library, by file name."""
    from threadpoolctl import threadpool_info

    return {os.path.basename(i["filepath"]): int(i["num_threads"]) for i in threadpool_info()}
