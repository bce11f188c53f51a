"""OBDM kernel benchmarks: half-filling pathology and dense-kernel headroom.

``--case half``: clean lattice rings at exactly half filling (N = M/2, O^T exactly singular at
every other column, particle-hole symmetry) against one particle away (N = M/2 - 1) and a weakly
disordered half-filled ring (W = 1e-3); prints medians, the ratio half / neighbour and the
kernel's counters (exact O(N^3) rebuilds, deferred rank-2 steps).

Threads are pinned to 1 (BLAS and numba); ratios are within one run.

Run:  python benchmarks/bench_obdm.py --case half [--repeat 5]
"""

from __future__ import annotations

import argparse
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import tgsweep  # noqa: E402
from tgsweep.core import _obdm_kernels as OK  # noqa: E402
from tgsweep.core.obdm import GROUP, TOL_DEN, TOL_EIG, TOL_PIV, obdm_stride  # noqa: E402


def _median_time(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _kernel(u):
    m, n = u.shape
    stride = obdm_stride(m, n, u.itemsize)
    q = OK.prefix_checkpoints(u, stride)
    out = np.zeros((m, m), dtype=u.dtype)
    counts = OK.obdm_grouped(u, q, stride, out, 0, 0, m, GROUP, TOL_DEN, TOL_EIG, TOL_PIV)
    return counts


def half_filling(repeat):
    print("case half: clean lattice ring, N = M/2 vs N = M/2 - 1 (and W = 1e-3 at N = M/2)")
    print(f"{'M':>5} {'N':>5} {'W':>7} {'median s':>10} {'ratio':>7} {'rebuilds':>9} {'deferred':>9}")
    rng = np.random.default_rng(7)
    for m in (200, 300):
        base = None
        for n, w in ((m // 2 - 1, 0.0), (m // 2, 0.0), (m // 2, 1e-3)):
            ring = tgsweep.Ring.lattice(w * rng.uniform(-1, 1, m))
            u = np.ascontiguousarray(tgsweep.ground_state(ring, n_particles=n).lattice_orbitals)
            t, (rebuilds, deferred) = _median_time(lambda: _kernel(u), repeat)
            base = base or t
            print(f"{m:>5} {n:>5} {w:>7.0e} {t:>10.4f} {t / base:>7.2f} {rebuilds:>9} {deferred:>9}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=["half"], default="half")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    _kernel(np.ascontiguousarray(np.linalg.qr(np.random.default_rng(0).normal(size=(12, 3)))[0]))
    if args.case == "half":
        half_filling(args.repeat)


if __name__ == "__main__":
    main()
