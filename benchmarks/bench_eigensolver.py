"""Lowest N eigenpairs of a localized ring: tgsweep vs LAPACK on the open chain.

For Anderson lattices (W = 3, N = M/4) prints medians (one thread) of
  * tgsweep.core.spectrum.lowest_eigenpairs (certified; its path in column "method": "sliced"
    = spatial windows, "rqi" = Sturm-isolated batched Rayleigh quotient iteration in one kernel
    on rings of M <= 256, "banded" = one global solve from the folded band),
  * the previous global path (Sturm bisection + inverse iteration, ``eigenpairs``) where cheap,
  * LAPACK on the open chain of the same size: dstemr (MRRR, scipy allocates M x M, so only
    M <= 10^4) and dstebz + dstein (``eigh_tridiagonal(lapack_driver='stebz')``) -- the
    reference pair, "best" = the faster of them --, and dsterf + dstein (all eigenvalues by
    dqds, then inverse iteration for the lowest N: what the sliced solver runs per window; on
    the whole chain only up to M = 4000, beyond which dstein's Gram-Schmidt over clusters
    |E_j - E_k| < 1e-3 ||T|| grows like N^2 M as for dstebz + dstein),
and the ratios tgsweep / best ("ours/best") and tgsweep / (fastest of all three, "ours/all3").
Times are CPU seconds per call
(time.process_time), medians; for M <= 4000 tgsweep and the LAPACK baselines are timed in
interleaved rounds (each round runs every solver; a call shorter than 20 ms is repeated within
its sample, so that sub-millisecond calls are not lost to the clock and to load drifts); the
ratios come from the same run.

Run:  python benchmarks/bench_eigensolver.py
      [--sizes 20,40,60,100,150,250,500,1000,2000,4000,10000,100000] [--repeat 5]
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
    """Median CPU seconds of this single-threaded process (on a loaded shared machine the time
    on an idle core; wall time would count the other users' load)."""
    ts, out = [], None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        ts.append(time.process_time() - t0)
    return statistics.median(ts), out


def _medians(fns, repeat, min_time=0.02):
    """Median CPU seconds per call of each of ``fns`` (name -> callable), in ``repeat``
    interleaved rounds (every solver once per round, so load drifts hit all alike); a call
    shorter than ``min_time`` is repeated k times within a sample (k from one timed warm call).
    Returns ({name: seconds}, {name: last result})."""
    ks, out = {}, {}
    for name, fn in fns.items():
        t0 = time.process_time()
        out[name] = fn()
        dt = time.process_time() - t0
        ks[name] = max(1, int(min_time / max(dt, 1e-7)))
    ts = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.process_time()
            for _ in range(ks[name]):
                out[name] = fn()
            ts[name].append((time.process_time() - t0) / ks[name])
    return {name: statistics.median(v) for name, v in ts.items()}, out


def _sterf_stein(d, e, n):
    """Lowest n eigenpairs of the open chain: dsterf (all eigenvalues), dstein (n vectors)."""
    w, _ = lapack.dsterf(d, e)
    m = d.size
    isplit = np.zeros(m, dtype=np.int32)
    isplit[0] = m
    z, _ = lapack.dstein(d, e, np.ascontiguousarray(w[:n]), np.ones(m, dtype=np.int32), isplit)
    return w[:n], z


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="20,40,60,100,150,250,500,1000,2000,4000,10000,100000")
    ap.add_argument("--repeat", type=int, default=5, help="medians over this many rounds "
                    "(M <= 4000; one run above)")
    ap.add_argument("--budget", type=float, default=60.0, help="skip a baseline above this (s)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(3)
    warm = tgsweep.Ring.lattice(rng.uniform(-1.5, 1.5, 1200))
    lowest_eigenpairs(warm, 0.0, 300), eigenpairs(warm, 0.0, 0, 30, method="bisect")
    for m_w in (20, 150):                       # the small-ring kernels (both paths)
        lowest_eigenpairs(tgsweep.Ring.lattice(rng.uniform(-1.5, 1.5, m_w)), 0.0, m_w // 4)
        lowest_eigenpairs(tgsweep.Ring.lattice(np.zeros(m_w)), 0.0, m_w // 4 + 1)
    print(f"{'M':>7} {'N':>6} {'tgsweep[s]':>10} {'global[s]':>10} {'stemr[s]':>9} "
          f"{'stebz+stein[s]':>14} {'sterf+stein[s]':>14} {'ours/best':>11} "
          f"{'ours/all3':>11}  method  residual  overlap")
    for m in [int(x) for x in args.sizes.split(",")]:
        n = m // 4
        ring = tgsweep.Ring.lattice(rng.uniform(-1.5, 1.5, m))
        d, e = ring.diag, np.full(m - 1, -ring.hopping)
        t_g = t_mr = t_bz = t_sf = np.nan

        def ours():
            return lowest_eigenpairs(ring, 0.0, n)

        def stemr():
            return lapack.dstemr(d, np.r_[e, 0.0], 2, 0.0, 0.0, 1, n)

        def stebz():
            return eigh_tridiagonal(d, e, select="i", select_range=(0, n - 1),
                                    lapack_driver="stebz")

        if m <= 4000:
            t, res = _medians({"ours": ours, "stemr": stemr, "stebz": stebz,
                               "sterf": lambda: _sterf_stein(d, e, n)}, args.repeat)
            t_s, t_mr, t_bz, t_sf = t["ours"], t["stemr"], t["stebz"], t["sterf"]
            lo = res["ours"]
        else:
            t_s, lo = _median(ours, 1)
            if m <= 10_000:
                t_mr, _ = _median(stemr, 1)
            if m * n <= 3e7:
                t_bz, _ = _median(stebz, 1)
        if m * n <= 3e7:
            t_g, _ = _median(lambda: eigenpairs(ring, 0.0, 0, n, method="bisect"), 1)
        best = np.nanmin([t_mr, t_bz]) if np.isfinite([t_mr, t_bz]).any() else np.nan
        all3 = np.nanmin([t_mr, t_bz, t_sf]) if np.isfinite([t_mr, t_bz, t_sf]).any() else np.nan
        print(f"{m:>7} {n:>6} {t_s:>10.2e} {t_g:>10.2e} {t_mr:>9.2e} {t_bz:>14.2e} "
              f"{t_sf:>14.2e} {t_s / best:>11.2f} {t_s / all3:>11.2f}  {lo.method:7s} "
              f"{lo.max_residual:.1e}  {lo.max_overlap:.1e}", flush=True)


if __name__ == "__main__":
    main()
