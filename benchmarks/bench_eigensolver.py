"""Lowest N eigenpairs of a localized ring: sliced solver vs LAPACK on the open chain.

For Anderson lattices (W = 3, N = M/4) prints medians (one thread) of
  * tgsweep.core.spectrum.lowest_eigenpairs (spatial slicing, certified),
  * the previous global path (Sturm bisection + inverse iteration, ``eigenpairs``) where cheap,
  * LAPACK on the open chain of the same size: dstemr (MRRR, scipy allocates M x M, so only
    M <= 10^4) and dstebz + dstein (``eigh_tridiagonal(lapack_driver='stebz')``),
and the ratios sliced / best LAPACK.  Absolute times are noisy on a shared machine.

Run:  python benchmarks/bench_eigensolver.py [--sizes 2000,10000,100000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.linalg import eigh_tridiagonal, lapack  # noqa: E402

import tgsweep  # noqa: E402
from tgsweep.core.spectrum import eigenpairs, lowest_eigenpairs  # noqa: E402


def _median(fn, repeat):
    ts, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2000,10000,100000")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--budget", type=float, default=60.0, help="skip a baseline above this (s)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(3)
    warm = tgsweep.Ring.lattice(rng.uniform(-1.5, 1.5, 1200))
    lowest_eigenpairs(warm, 0.0, 300), eigenpairs(warm, 0.0, 0, 30, method="bisect")
    print(f"{'M':>7} {'N':>6} {'sliced[s]':>10} {'global[s]':>10} {'stemr[s]':>9} "
          f"{'stebz+stein[s]':>14} {'sliced/best':>11}  method  residual  overlap")
    for m in [int(x) for x in args.sizes.split(",")]:
        n = m // 4
        ring = tgsweep.Ring.lattice(rng.uniform(-1.5, 1.5, m))
        t_s, lo = _median(lambda: lowest_eigenpairs(ring, 0.0, n), args.repeat)
        d, e = ring.diag, np.full(m - 1, -ring.hopping)
        t_g = t_mr = t_bz = np.nan
        if m * n <= 3e7:
            t_g, _ = _median(lambda: eigenpairs(ring, 0.0, 0, n, method="bisect"), 1)
        if m <= 10_000:
            t_mr, _ = _median(lambda: lapack.dstemr(d, np.r_[e, 0.0], 2, 0.0, 0.0, 1, n), 1)
        if m * n <= 3e7:
            t_bz, _ = _median(lambda: eigh_tridiagonal(d, e, select="i",
                                                       select_range=(0, n - 1),
                                                       lapack_driver="stebz"), 1)
        best = np.nanmin([t_mr, t_bz]) if np.isfinite([t_mr, t_bz]).any() else np.nan
        print(f"{m:>7} {n:>6} {t_s:>10.2f} {t_g:>10.2f} {t_mr:>9.2f} {t_bz:>14.2f} "
              f"{t_s / best:>11.2f}  {lo.method:7s} {lo.max_residual:.1e}  {lo.max_overlap:.1e}")


if __name__ == "__main__":
    main()
